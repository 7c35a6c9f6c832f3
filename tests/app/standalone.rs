//! The binary alone. Copied into an empty directory and given nothing but
//! `ROCKET_SECRET_KEY`, it serves the whole app (pages, CSS, favicon) on a
//! SQLite file there, does not trust `X-Real-IP`, and its CLI works there
//! too: every default lives in the code, the templates are compiled in.
//! Settings out of range stop the launch with one clear line.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Backend, TestApp, PASSWORD};

const SECRET_KEY: &str = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// An address a client might claim; it must never be believed here.
const CLAIMED_IP: &str = "203.0.113.77";

backend_tests!(out_of_range_settings_stop_the_launch);

/// A directory holding nothing but a copy of the binary.
fn empty_dir_with_binary() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("wristband-alone-")
        .tempdir()
        .expect("temporary directory");
    let binary = dir.path().join("wristband");
    fs::copy(env!("CARGO_BIN_EXE_wristband"), &binary).expect("copy the binary");
    (dir, binary)
}

/// The binary in `dir`, with an empty environment but for `env`. The test
/// build of the binary is a debug build, so `ROCKET_PROFILE=release` makes it
/// behave as the release binary does by default.
fn command(binary: &Path, dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary);
    command
        .current_dir(dir)
        .env_clear()
        .env("ROCKET_PROFILE", "release")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command
}

struct Server {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl Server {
    /// Starts the binary with only a secret key, plus what the test itself
    /// needs: loopback and a free port (instead of the release default
    /// 0.0.0.0:8000), the launch line to learn the port from, and bcrypt
    /// cost 10, the lowest the release profile accepts (the test build's
    /// bcrypt is unoptimised).
    fn start(binary: &Path, dir: &Path) -> Server {
        let log = dir.join("server.log");
        let log_file = File::create(&log).expect("server log");
        let mut child = command(
            binary,
            dir,
            &[
                ("ROCKET_SECRET_KEY", SECRET_KEY),
                ("ROCKET_ADDRESS", "127.0.0.1"),
                ("ROCKET_PORT", "0"),
                ("ROCKET_LOG_LEVEL", "normal"),
                ("ROCKET_CLI_COLORS", "false"),
                ("ROCKET_BCRYPT_COST", "10"),
            ],
        )
        .stdout(log_file.try_clone().expect("server log"))
        .stderr(log_file)
        .spawn()
        .expect("start the binary");
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let marker = "Rocket has launched from http://127.0.0.1:";
        let port = loop {
            let text = fs::read_to_string(&log).unwrap_or_default();
            if let Some(port) = text.lines().find_map(|l| {
                let (_, rest) = l.split_once(marker)?;
                rest.trim().parse::<u16>().ok()
            }) {
                break port;
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the binary did not launch ({exited:?}):\n{text}");
            }
            std::thread::sleep(Duration::from_millis(25));
        };
        Server { child, log, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- server log ---\n{log}");
        }
    }
}

/// One HTTP/1.1 answer.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A browser in miniature: plain HTTP/1.1 over TCP, and a cookie jar.
struct Browser {
    port: u16,
    jar: BTreeMap<String, String>,
}

impl Browser {
    fn request(&mut self, method: &str, path: &str, extra: &[(&str, &str)], body: &str) -> Answer {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nUser-Agent: standalone-test\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        for (name, value) in extra {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("send");
        stream.write_all(body.as_bytes()).expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read");
        let raw = String::from_utf8(raw).expect("a text answer");
        let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        for (_, set) in headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Set-Cookie"))
        {
            let pair = set.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if set.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_string(), value.to_string());
            }
        }
        Answer {
            status,
            headers,
            body: body.to_string(),
        }
    }

    fn get(&mut self, path: &str) -> Answer {
        self.request("GET", path, &[], "")
    }

    /// Posts `fields` with the token of the page at `form_page`, claiming
    /// to come from [`CLAIMED_IP`].
    fn submit(&mut self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Answer {
        let page = self.get(form_page);
        assert_eq!(page.status, 200, "{form_page}");
        let token = crate::common::csrf_token_in(&page.body).expect("a csrf_token field");
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        let body = crate::common::encode_form(&fields);
        self.request("POST", action, &[("X-Real-IP", CLAIMED_IP)], &body)
    }
}

fn run_cli(binary: &Path, dir: &Path, args: &[&str]) -> Output {
    command(binary, dir, &[])
        .args(args)
        .output()
        .expect("run the CLI")
}

#[test]
fn the_binary_alone_serves_the_whole_app() {
    let (dir, binary) = empty_dir_with_binary();
    let server = Server::start(&binary, dir.path());
    let mut browser = Browser {
        port: server.port,
        jar: BTreeMap::new(),
    };

    let home = browser.get("/");
    assert_eq!(home.status, 200);
    assert_eq!(
        home.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert!(home.body.contains(r#"href="/login""#), "{}", home.body);
    let css = browser.get("/static/style.css");
    assert_eq!(css.status, 200);
    assert!(css
        .header("Content-Type")
        .is_some_and(|ct| ct.starts_with("text/css")));
    assert!(css.body.contains('{'), "a stylesheet");
    let icon = browser.get("/static/favicon.svg");
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("Content-Type"), Some("image/svg+xml"));
    assert!(icon.body.contains("<svg"));
    for page in ["/login", "/register"] {
        let answer = browser.get(page);
        assert_eq!(answer.status, 200, "{page}");
        assert!(answer.body.contains(r#"name="csrf_token""#), "{page}");
    }

    let registered = browser.submit(
        "/register",
        "/register",
        &[
            ("username", "ada"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ],
    );
    assert_eq!(registered.status, 303, "{}", registered.body);
    assert_eq!(registered.header("Location"), Some("/"));
    // Release defaults: Secure, so `__Host-` names.
    let wristband = registered
        .headers
        .iter()
        .find(|(n, v)| n.eq_ignore_ascii_case("Set-Cookie") && v.starts_with("__Host-user_id="))
        .map(|(_, v)| v.clone())
        .expect("a __Host-user_id cookie");
    assert!(wristband.contains("; Secure"), "{wristband}");
    assert!(browser.get("/profile").body.contains("ada"));

    let out = browser.submit("/", "/logout", &[]);
    assert_eq!(out.status, 303);
    assert_eq!(browser.get("/profile").status, 303, "logged out");
    let wrong = browser.submit(
        "/login",
        "/login",
        &[("username", "ada"), ("password", "not it at all")],
    );
    assert_eq!(wrong.status, 401);
    let back = browser.submit(
        "/login",
        "/login",
        &[("username", "ada"), ("password", PASSWORD)],
    );
    assert_eq!(back.status, 303, "{}", back.body);
    let settings = browser.get("/settings");
    assert_eq!(settings.status, 200);
    // The sign-ins were recorded from the peer address, not the claimed one.
    assert!(settings.body.contains("127.0.0.1"), "{}", settings.body);
    assert!(!settings.body.contains(CLAIMED_IP), "{}", settings.body);

    // The database is a SQLite file in the working directory.
    assert!(dir.path().join("wristband.sqlite").is_file());

    // The CLI works there too, on the same database, without a key.
    let list = run_cli(&binary, dir.path(), &["users", "list"]);
    let stdout = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert!(
        stdout.contains("ada") && stdout.contains("active"),
        "{stdout}"
    );
    let history = run_cli(&binary, dir.path(), &["users", "history", "ada"]);
    let stdout = String::from_utf8_lossy(&history.stdout);
    assert!(history.status.success(), "{stdout}");
    assert!(stdout.contains("127.0.0.1"), "{stdout}");
    assert!(!stdout.contains(CLAIMED_IP), "{stdout}");
    drop(server);
}

#[test]
fn bad_settings_stop_the_binary_with_one_line() {
    let (dir, binary) = empty_dir_with_binary();
    for (key, value, says) in [
        ("ROCKET_BCRYPT_COST", "4", "bcrypt_cost must be at least 10"),
        (
            "ROCKET_BCRYPT_COST",
            "32",
            "bcrypt_cost must be between 4 and 31",
        ),
        (
            "ROCKET_FRESH_MINUTES",
            "0",
            "fresh_minutes must be at least 1",
        ),
        (
            "ROCKET_REMEMBER_DAYS",
            "3651",
            "remember_days must be between 1 and 3650",
        ),
        (
            "ROCKET_REMEMBER_DAYS",
            "99999999999999999999",
            "remember_days",
        ),
        ("ROCKET_BCRYPT_COST", "18446744073709551616", "bcrypt_cost"),
    ] {
        let output = command(
            &binary,
            dir.path(),
            &[
                ("ROCKET_SECRET_KEY", SECRET_KEY),
                ("ROCKET_PORT", "0"),
                (key, value),
            ],
        )
        .output()
        .expect("run the binary");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.status.success(), "{key}={value} launched");
        // Rocket's log line (shown even in release's "critical" level), then
        // the binary's own "did not start"; nothing else.
        let lines: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 2, "{key}={value}: {said}");
        assert!(lines[1].starts_with("wristband did not start"), "{said}");
        let line = lines[0];
        assert!(line.starts_with("Error: "), "{key}={value}: {said}");
        assert!(line.to_lowercase().contains(says), "{key}={value}: {line}");
        assert!(!said.contains("panicked"), "{said}");
    }
}

/// The same checks in process, on each backend: the app does not ignite.
async fn out_of_range_settings_stop_the_launch(backend: Backend) {
    let db = crate::common::TestDb::create(backend).await;
    for (key, value) in [
        ("bcrypt_cost", 3_i64),
        ("bcrypt_cost", 32),
        ("bcrypt_cost", 1 << 40),
        ("fresh_minutes", 0),
        ("remember_days", 0),
        ("remember_days", 3651),
        ("remember_days", i64::MAX),
    ] {
        let figment = crate::common::figment(db.url()).merge((key, value));
        let ignited = wristband_app::build(figment, wristband::Clock::manual(crate::common::T0))
            .ignite()
            .await;
        match ignited {
            Ok(_) => panic!("{key}={value} ignited"),
            // Looking at the error marks it handled (Rocket panics otherwise).
            Err(e) => assert!(
                matches!(e.kind(), rocket::error::ErrorKind::FailedFairings(_)),
                "{key}={value}: {e}"
            ),
        }
    }
    // In range, it does; a huge fresh_minutes is no overflow.
    let app = TestApp::spawn_with(backend, |f| f.merge(("fresh_minutes", u32::MAX))).await;
    assert_eq!(app.register("ada", PASSWORD).await.status().code, 303);
}
