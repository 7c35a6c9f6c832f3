//! The test harness: a fresh app on a fresh database per test, driven with
//! Rocket's local client, on SQLite and (when `WRISTBAND_TEST_POSTGRES` is
//! set) PostgreSQL.
#![allow(dead_code)] // each test binary uses a different part of it

use std::collections::BTreeMap;
use std::sync::Mutex;

use rocket::figment::Figment;
use rocket::http::{ContentType, Cookie, Header, Method};
use rocket::local::asynchronous::{Client, LocalRequest, LocalResponse};
use rocket::time::OffsetDateTime;
use rocket_db_pools::Database;
use sqlx::{AnyPool, Connection, Executor, PgConnection};
use wristband::Clock;
use wristband_app::db::Db;

/// A 256-bit key, fixed so tests are repeatable.
pub const SECRET_KEY: &str = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";
/// Another key: cookies made with it must mean nothing to the app.
pub const OTHER_SECRET_KEY: &str = "OQPqAjXYaRHpBmZ3c2OwN4gByRd2HaVxqKJ6r8iCefU=";
pub const PASSWORD: &str = "correct horse battery";
/// Where requests come from unless a test says otherwise.
pub const DEFAULT_REMOTE: ([u8; 4], u16) = ([127, 0, 0, 1], 50_000);
/// The moment tests start at, on a manual clock.
pub const T0: i64 = 1_700_000_000;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` as two tests, `sqlite::name` and
/// `postgres::name`. The PostgreSQL one runs when `WRISTBAND_TEST_POSTGRES`
/// names a server and otherwise prints one line saying it was skipped.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[rocket::async_test]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[rocket::async_test]
                async fn $name() {
                    if $crate::common::postgres_url().is_some() {
                        super::$name($crate::common::Backend::Postgres).await
                    } else {
                        $crate::common::skip_postgres(concat!(module_path!(), "::", stringify!($name)));
                    }
                }
            )*
        }
    };
}

/// Says, past libtest's output capture, that a PostgreSQL test did not run.
/// `eprintln!` would be captured and shown only for failures, so a skipped
/// run would look exactly like a passing one; writing to the stderr handle
/// itself prints one line per skipped test in every run.
pub fn skip_postgres(test: &str) {
    use std::io::Write;
    let line = format!("skipped {test}: WRISTBAND_TEST_POSTGRES is not set\n");
    // Nothing useful to do if stderr is gone.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The PostgreSQL server to make test databases on, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("WRISTBAND_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A database that exists for one test and is gone after it.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        server: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    pub async fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("wristband.sqlite").display());
                TestDb::Sqlite { _dir: dir, url }
            }
            Backend::Postgres => {
                let server = postgres_url().expect("WRISTBAND_TEST_POSTGRES is set");
                let name = format!("wristband_test_{}", rand::random::<u64>());
                let mut admin = PgConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server}: {e}"));
                admin
                    .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                    .await
                    .expect("create test database");
                let url = database_url(&server, &name);
                TestDb::Postgres { server, name, url }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }
}

/// `server` with its database name replaced by `name`.
fn database_url(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).expect("WRISTBAND_TEST_POSTGRES is a URL");
    url.set_path(name);
    url.to_string()
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { server, name, .. } = self {
            let (server, db_name) = (server.clone(), name.clone());
            // Drop runs inside the test's runtime, which cannot be blocked
            // on; a thread with its own small runtime does the cleanup.
            let dropped = std::thread::spawn(move || {
                let runtime = rocket::tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    let mut admin = PgConnection::connect(&server).await?;
                    admin
                        .execute(
                            format!(r#"DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)"#).as_str(),
                        )
                        .await
                        .map(|_| ())
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("could not drop test database {name}: {dropped:?}");
            }
        }
    }
}

/// The settings every test app starts from (the app's own, code defaults
/// included): a low bcrypt cost, a known key, quiet logs, and the given
/// database.
pub fn figment(url: &str) -> Figment {
    wristband_app::config::figment()
        .merge(("databases.wristband.url", url))
        .merge(("databases.wristband.max_connections", 8))
        .merge(("bcrypt_cost", 4))
        .merge(("secret_key", SECRET_KEY))
        // WRISTBAND_TEST_LOG=1 shows the app's log when a test needs explaining.
        .merge((
            "log_level",
            if std::env::var_os("WRISTBAND_TEST_LOG").is_some() {
                "normal"
            } else {
                "off"
            },
        ))
}

/// A browser's cookies, by name.
pub type Jar = BTreeMap<String, Cookie<'static>>;

/// One browser's view of one running app. The browser's cookie jar is kept
/// here, not by Rocket's tracked client, so that tests can do what browsers
/// and attackers do: edit a cookie, or close the browser and drop its
/// session cookies.
pub struct TestApp {
    pub client: Client,
    jar: Mutex<BTreeMap<String, Cookie<'static>>>,
    /// The address requests come from (see [`TestApp::set_remote`]).
    remote: Mutex<std::net::SocketAddr>,
    pub clock: Clock,
    pub backend: Backend,
    // Declared last so the app is gone before its database is dropped.
    pub db: TestDb,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |figment| figment).await
    }

    /// An app whose configuration `configure` may change.
    pub async fn spawn_with(
        backend: Backend,
        configure: impl FnOnce(Figment) -> Figment,
    ) -> TestApp {
        TestApp::spawn_custom(backend, configure, Vec::new()).await
    }

    /// An app with extra routes mounted at `/test` (probes for tests).
    pub async fn spawn_custom(
        backend: Backend,
        configure: impl FnOnce(Figment) -> Figment,
        extra_routes: Vec<rocket::Route>,
    ) -> TestApp {
        let db = TestDb::create(backend).await;
        let clock = Clock::manual(T0);
        let rocket = wristband_app::build(configure(figment(db.url())), clock.clone())
            .mount("/test", extra_routes);
        let client = Client::untracked(rocket).await.expect("the app launches");
        TestApp {
            client,
            jar: Mutex::default(),
            remote: Mutex::new(DEFAULT_REMOTE.into()),
            clock,
            backend,
            db,
        }
    }

    /// The app's database pool.
    pub fn pool(&self) -> &AnyPool {
        Db::fetch(self.client.rocket()).expect("database attached")
    }

    /// A request carrying this browser's cookies.
    pub fn request(&self, method: Method, path: &str) -> LocalRequest<'_> {
        let cookies: Vec<Cookie<'static>> = self.jar().values().cloned().collect();
        let remote = *self
            .remote
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.client
            .req(method, path.to_string())
            .cookies(cookies)
            .remote(remote)
    }

    /// Sends a request and keeps the cookies the response sets, as a
    /// browser would.
    pub async fn send<'c>(&'c self, request: LocalRequest<'c>) -> LocalResponse<'c> {
        let response = request.dispatch().await;
        let now = OffsetDateTime::now_utc();
        let mut jar = self.jar();
        for header in response.headers().get("Set-Cookie") {
            let Ok(cookie) = Cookie::parse_encoded(header.to_string()) else {
                continue;
            };
            let expired = cookie
                .max_age()
                .is_some_and(|age| age.is_zero() || age.is_negative())
                || cookie.expires_datetime().is_some_and(|at| at <= now);
            if expired {
                jar.remove(cookie.name());
            } else {
                jar.insert(cookie.name().to_string(), cookie);
            }
        }
        response
    }

    fn jar(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Cookie<'static>>> {
        self.jar
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Puts `jar` in this browser's place and hands back the one it had: a
    /// second browser on the same app, as in `let alice = app.switch_browser(Jar::new())`.
    pub fn switch_browser(&self, jar: Jar) -> Jar {
        std::mem::replace(&mut *self.jar(), jar)
    }

    /// The value of a cookie this browser holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar().get(name).map(|c| c.value().to_string())
    }

    /// Overwrites (or plants) a cookie in this browser, as an attacker could.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar().insert(
            name.to_string(),
            Cookie::new(name.to_string(), value.to_string()),
        );
    }

    /// Sends this browser's requests from `ip` from now on (IPv4 or IPv6);
    /// until then they come from 127.0.0.1.
    pub fn set_remote(&self, ip: &str) {
        let ip: std::net::IpAddr = ip.parse().expect("an IP address");
        *self
            .remote
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = (ip, 50_000).into();
    }

    /// Forgets every cookie, as a new browser (or a private window) would
    /// start out.
    pub fn clear_cookies(&self) {
        self.jar().clear();
    }

    /// Forgets every browser-session cookie, as a browser does when it is
    /// closed; persistent cookies (with Expires/Max-Age) stay.
    pub fn restart_browser(&self) {
        self.jar()
            .retain(|_, c| c.max_age().is_some() || c.expires_datetime().is_some());
    }

    pub async fn get(&self, path: &str) -> LocalResponse<'_> {
        self.send(self.request(Method::Get, path)).await
    }

    pub async fn get_json(&self, path: &str) -> LocalResponse<'_> {
        self.send(
            self.request(Method::Get, path)
                .header(Header::new("Accept", "application/json")),
        )
        .await
    }

    /// A form POST exactly as given (no token added), not yet sent.
    pub fn form_request(&self, path: &str, fields: &[(&str, &str)]) -> LocalRequest<'_> {
        self.request(Method::Post, path)
            .header(ContentType::Form)
            .body(encode_form(fields))
    }

    /// Posts a URL-encoded form exactly as given (no token added).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        self.send(self.form_request(path, fields)).await
    }

    /// A valid CSRF token for this browser, from a page's hidden field.
    pub async fn csrf_token(&self) -> String {
        let page = self
            .get("/login")
            .await
            .into_string()
            .await
            .expect("login page");
        csrf_token_in(&page).expect("the login page has a csrf_token field")
    }

    /// Posts a form with this browser's CSRF token added.
    pub async fn post_with_token(&self, path: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        let token = self.csrf_token().await;
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        self.post_form(path, &fields).await
    }

    pub async fn register(&self, username: &str, password: &str) -> LocalResponse<'_> {
        self.post_with_token(
            "/register",
            &[
                ("username", username),
                ("password", password),
                ("password_confirm", password),
            ],
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> LocalResponse<'_> {
        self.post_with_token("/login", &[("username", username), ("password", password)])
            .await
    }

    pub async fn login_remembered(&self, username: &str, password: &str) -> LocalResponse<'_> {
        self.post_with_token(
            "/login",
            &[
                ("username", username),
                ("password", password),
                ("remember", "on"),
            ],
        )
        .await
    }

    pub async fn logout(&self) -> LocalResponse<'_> {
        self.post_with_token("/logout", &[]).await
    }

    /// Registers `username` (with [`PASSWORD`]) and stays logged in.
    pub async fn signed_up(backend: Backend, username: &str) -> TestApp {
        let app = TestApp::spawn(backend).await;
        assert_eq!(app.register(username, PASSWORD).await.status().code, 303);
        app
    }

    /// The HTML body of `path`.
    pub async fn page(&self, path: &str) -> String {
        self.get(path).await.into_string().await.unwrap_or_default()
    }
}

pub fn encode_form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// The value of the first hidden `csrf_token` field in a page.
pub fn csrf_token_in(html: &str) -> Option<String> {
    let at = html.find(r#"name="csrf_token" value=""#)? + r#"name="csrf_token" value=""#.len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_string())
}

/// The `Set-Cookie` header that sets `name`, if the response has one.
pub fn set_cookie<'a>(response: &'a LocalResponse<'_>, name: &str) -> Option<&'a str> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get("Set-Cookie")
        .find(|h| h.starts_with(&prefix))
}

/// Whether a `Set-Cookie` header has an attribute (case-insensitive),
/// e.g. `HttpOnly` or `SameSite=Lax`.
pub fn has_attr(set_cookie: &str, attr: &str) -> bool {
    set_cookie
        .split(';')
        .skip(1)
        .any(|a| a.trim().eq_ignore_ascii_case(attr))
}

/// The value of an attribute such as `Max-Age`, if present.
pub fn attr<'a>(set_cookie: &'a str, name: &str) -> Option<&'a str> {
    set_cookie.split(';').skip(1).find_map(|a| {
        let (key, value) = a.trim().split_once('=')?;
        key.eq_ignore_ascii_case(name).then_some(value)
    })
}

/// Asserts a 303 to exactly `location`.
pub fn assert_redirect_to(response: &LocalResponse<'_>, location: &str) {
    assert_eq!(response.status().code, 303, "expected a 303 to {location}");
    assert_eq!(response.headers().get_one("Location"), Some(location));
}

/// Runs each named `async fn()` as a test that needs PostgreSQL itself (two
/// instances on one database, a proxy in front of the server): it runs when
/// `WRISTBAND_TEST_POSTGRES` names a server and otherwise prints one line
/// saying it was skipped. They are named `postgres_only::name`; attributes
/// such as `#[ignore = "..."]` written before a name are passed on.
#[macro_export]
macro_rules! postgres_tests {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        mod postgres_only {
            $(
                #[rocket::async_test]
                $(#[$attr])*
                async fn $name() {
                    if $crate::common::postgres_url().is_some() {
                        super::$name().await
                    } else {
                        $crate::common::skip_postgres(concat!(module_path!(), "::", stringify!($name)));
                    }
                }
            )*
        }
    };
}
