//! When the database is missing: at launch the app stops with one clear
//! line; while running, requests that need the database get a 503 (HTML or
//! JSON) within `connect_timeout`, and the app recovers by itself when the
//! database is back.

use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{postgres_url, Backend, TestApp, PASSWORD};
use rocket::figment::Figment;
use rocket::tokio::io::copy_bidirectional;
use rocket::tokio::net::{TcpListener, TcpStream};
use rocket::tokio::sync::watch;
use rocket::tokio::task::{JoinHandle, JoinSet};

postgres_tests!(
    a_database_outage_is_a_503_until_the_database_returns,
    an_unanswering_database_is_a_503_after_connect_timeout,
);

/// Runs the real binary with `ROCKET_DATABASES` set to `databases` and
/// returns what it printed; a binary still running after a minute fails.
fn launch_binary(databases: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wristband"))
        // Rocket.toml and the templates are found from the crate's root.
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ROCKET_DATABASES", databases)
        .env("ROCKET_PORT", "0")
        .env("ROCKET_CLI_COLORS", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("wristband kept running without its database");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// Checks a failed launch: exit status 1, exactly one log line naming the
/// database (as `shown`) with `cause`, no panic, no password anywhere.
fn assert_stopped_clearly(output: &Output, shown: &str, cause: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for stream in [&stdout, &stderr] {
        assert!(!stream.contains("secret"), "the password leaked:\n{stream}");
        assert!(
            !stream.contains("panicked"),
            "a panic, not a clear stop:\n{stream}"
        );
    }
    let naming: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains(shown))
        .collect();
    assert_eq!(
        naming.len(),
        1,
        "one line names the database:\n{stdout}\n{stderr}"
    );
    assert!(
        naming[0].starts_with(&format!(
            "Error: cannot connect to the database at {shown}: "
        )),
        "{}",
        naming[0]
    );
    assert!(naming[0].contains(cause), "{}", naming[0]);
    // Rocket logs to stdout; stderr gets the one-line verdict from main.
    assert_eq!(
        stderr,
        "wristband did not start: launch fairing(s) failed\n"
    );
    // No misleading follow-up from the migrations fairing.
    assert!(!stdout.contains("unattached database"), "{stdout}");
}

#[test]
fn an_unreachable_postgres_stops_the_launch_with_one_clear_line() {
    let output = launch_binary(
        r#"{wristband={url="postgres://root:secret@127.0.0.1:1/nope",connect_timeout=1}}"#,
    );
    assert_stopped_clearly(
        &output,
        "postgres://root:***@127.0.0.1:1/nope",
        "Connection refused",
    );
}

#[test]
fn an_unopenable_sqlite_file_stops_the_launch_with_one_clear_line() {
    let output = launch_binary(r#"{wristband={url="sqlite:///nonexistent-dir/wristband.sqlite"}}"#);
    assert_stopped_clearly(
        &output,
        "sqlite:///nonexistent-dir/wristband.sqlite",
        "unable to open database file",
    );
}

/// A TCP proxy in front of the PostgreSQL server, standing in for the
/// network between the app and its database: it can be stopped (every live
/// connection drops, new ones are refused), restarted on the same port, or
/// frozen (connections stay open but nothing gets through, like a server
/// that has stopped answering).
struct Proxy {
    port: u16,
    freeze: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on `port` (0: any free port) and forwards to the server.
    async fn start(port: u16) -> Proxy {
        let server = postgres_url().expect("WRISTBAND_TEST_POSTGRES is set");
        let server = url::Url::parse(&server).expect("a URL");
        let host = server.host_str().unwrap_or("127.0.0.1").to_string();
        let upstream = (host, server.port().unwrap_or(5432));
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .expect("the proxy port is free");
        let port = listener.local_addr().expect("bound").port();
        let (freeze, frozen) = watch::channel(false);
        let task = rocket::tokio::spawn(async move {
            // Owned here, so aborting this task closes every connection.
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let mut frozen = frozen.clone();
                connections.spawn(async move {
                    // Held here so that a frozen connection stays open at
                    // both ends until the task is aborted.
                    let mut _server = None;
                    if !*frozen.borrow() {
                        let Ok(mut server) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        rocket::tokio::select! {
                            _ = copy_bidirectional(&mut client, &mut server) => return,
                            _ = frozen.wait_for(|frozen| *frozen) => {}
                        }
                        _server = Some(server);
                    }
                    // Frozen: nothing passes any more.
                    std::future::pending::<()>().await;
                });
            }
        });
        Proxy { port, freeze, task }
    }

    /// The database stops answering, on live and new connections alike.
    fn freeze(&self) {
        self.freeze.send_replace(true);
    }

    /// The database goes away: live connections drop, new ones are refused.
    /// Returns the port, to start again on.
    async fn stop(self) -> u16 {
        self.task.abort();
        let _ = self.task.await;
        self.port
    }
}

/// The test settings with the database reached through `proxy` and a
/// one-second `connect_timeout`.
fn through(proxy: &Proxy, figment: Figment) -> Figment {
    let url: String = figment
        .extract_inner("databases.wristband.url")
        .expect("a database URL");
    let mut url = url::Url::parse(&url).expect("a URL");
    url.set_port(Some(proxy.port)).expect("a URL with a port");
    figment
        .merge(("databases.wristband.url", url.to_string()))
        .merge(("databases.wristband.connect_timeout", 1))
}

async fn assert_unavailable_page(app: &TestApp, path: &str) {
    let response = app.get(path).await;
    assert_eq!(response.status().code, 503, "{path}");
    let body = response.into_string().await.unwrap_or_default();
    assert!(
        body.contains("The service is temporarily unavailable. Please try again in a moment."),
        "{path}: {body}"
    );
    // Who is signed in could not be read: the page shows the anonymous
    // navigation rather than failing itself.
    assert!(
        body.contains("<h1>Temporarily unavailable</h1>"),
        "{path}: {body}"
    );
    assert!(
        body.contains(r#"<a href="/login">Log in</a>"#),
        "{path}: {body}"
    );
}

async fn assert_unavailable_json(app: &TestApp, path: &str) {
    let response = app.get_json(path).await;
    assert_eq!(response.status().code, 503, "{path}");
    assert_eq!(
        response.into_string().await.as_deref(),
        Some(r#"{"error":"service unavailable"}"#),
        "{path}"
    );
}

async fn a_database_outage_is_a_503_until_the_database_returns() {
    let proxy = Proxy::start(0).await;
    let app = TestApp::spawn_with(Backend::Postgres, |f| through(&proxy, f)).await;
    assert_eq!(app.register("ada", PASSWORD).await.status().code, 303);
    // Taken while the database is up; logging out needs no database.
    let token = app.csrf_token().await;

    let port = proxy.stop().await;
    for path in ["/", "/profile", "/settings"] {
        assert_unavailable_page(&app, path).await;
    }
    assert_unavailable_json(&app, "/api/me").await;
    // The browser forgets its wristband even so, and is told the server
    // could not end the session (its registry row is out of reach).
    let logout = app.post_form("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(logout.status().code, 503);
    let removal = crate::common::set_cookie(&logout, "user_id").expect("the wristband comes off");
    assert_eq!(crate::common::attr(removal, "Max-Age"), Some("0"));
    drop(logout);
    assert_eq!(app.cookie("user_id"), None);
    let login = app.login("ada", PASSWORD).await;
    assert_eq!(login.status().code, 503);
    assert!(login
        .headers()
        .get_one("Set-Cookie")
        .is_none_or(|c| !c.starts_with("user_id=")));
    drop(login);
    assert_eq!(app.register("grace", PASSWORD).await.status().code, 503);

    // Back on the same address: the app reconnects with no restart.
    let proxy = Proxy::start(port).await;
    let login = app.login("ada", PASSWORD).await;
    assert_eq!(login.status().code, 303);
    assert_eq!(login.headers().get_one("Location"), Some("/"));
    drop(login);
    let profile = app.get("/profile").await;
    assert_eq!(profile.status().code, 200);
    assert!(profile
        .into_string()
        .await
        .unwrap_or_default()
        .contains("ada"));
    let me = app.get_json("/api/me").await;
    assert_eq!(me.status().code, 200);
    assert_eq!(
        me.into_string().await.as_deref(),
        Some(r#"{"id":1,"username":"ada"}"#)
    );
    proxy.stop().await;
}

async fn an_unanswering_database_is_a_503_after_connect_timeout() {
    let proxy = Proxy::start(0).await;
    let app = TestApp::spawn_with(Backend::Postgres, |f| through(&proxy, f)).await;
    assert_eq!(app.register("ada", PASSWORD).await.status().code, 303);

    proxy.freeze();
    for json in [false, true] {
        let started = Instant::now();
        let response = if json {
            app.get_json("/api/me").await
        } else {
            app.get("/profile").await
        };
        let waited = started.elapsed();
        assert_eq!(response.status().code, 503, "json: {json}");
        // It waited for the configured second (not Rocket.toml's five),
        // then gave up.
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
            "json: {json}, waited {waited:?}"
        );
    }

    // The server answers again: the stuck connections are dropped and new
    // ones work.
    let port = proxy.stop().await;
    let proxy = Proxy::start(port).await;
    let profile = app.get("/profile").await;
    assert_eq!(profile.status().code, 200);
    assert!(profile
        .into_string()
        .await
        .unwrap_or_default()
        .contains("ada"));
    proxy.stop().await;
}
