//! The notes app, driven through Rocket's local client: each test launches
//! the real app on a fresh database of its own, with a low bcrypt cost.
//!
//! Every test runs twice, as `sqlite::name` and `postgres::name`. The
//! PostgreSQL one needs `WRISTBAND_TEST_POSTGRES` to name a server it may
//! create databases on (`postgres://root@127.0.0.1:5432/test`); without it,
//! it prints one line saying it was skipped.

use std::io::Write;

use rocket::futures::future::join_all;
use rocket::http::{ContentType, Cookie, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::serde::json::Value;
use sqlx::Connection;
use tempfile::TempDir;
use wristband::Clock;

/// A fixed key for tests only, so every client of one test decrypts the
/// others' cookies (a real deployment sets its own `ROCKET_SECRET_KEY`).
const TEST_KEY: &str = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";

const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Each test, once per database.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[rocket::async_test]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[rocket::async_test]
                async fn $name() {
                    if super::postgres_server().is_some() {
                        super::$name(super::Backend::Postgres).await
                    } else {
                        super::skipped(concat!("postgres::", stringify!($name)));
                    }
                }
            )*
        }
    };
}

on_both_databases!(
    a_protected_page_sends_visitors_to_log_in_and_back,
    wrong_credentials_get_the_form_again_with_one_message,
    next_may_only_point_back_into_the_site,
    logging_out_ends_the_session_for_good,
    failed_logins_are_throttled_even_when_they_come_at_once,
    the_api_answers_json_and_only_with_the_members_notes,
    a_post_without_the_right_token_is_refused_and_changes_nothing,
    the_home_page_shows_visitors_and_members_apart,
    what_members_type_is_escaped,
    signing_up_checks_the_form_and_refuses_a_taken_email,
    a_database_that_fails_gives_503_not_a_visitor,
    a_token_made_on_the_page_reads_the_api_without_cookies,
    wrong_and_revoked_tokens_get_401_with_the_bearer_challenge,
    a_token_is_no_sign_in_for_pages,
    a_token_stops_working_when_it_expires,
    the_token_form_checks_its_fields_and_escapes_names,
);

fn postgres_server() -> Option<String> {
    std::env::var("WRISTBAND_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Written to stderr itself, past libtest's capture: a skipped test must
/// not look like a passing one.
fn skipped(test: &str) {
    let line = format!("skipped {test}: WRISTBAND_TEST_POSTGRES is not set\n");
    // Nowhere better to say it if stderr is gone.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// A database for one test, gone after it.
enum TestDb {
    Sqlite(TempDir),
    Postgres { server: String, name: String },
}

impl TestDb {
    async fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::Sqlite(tempfile::tempdir().expect("a temporary directory")),
            Backend::Postgres => {
                let server = postgres_server().expect("WRISTBAND_TEST_POSTGRES is set");
                let name = format!("notes_test_{:016x}", rand::random::<u64>());
                let mut admin = sqlx::PgConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server}: {e}"));
                sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
                    .execute(&mut admin)
                    .await
                    .expect("the test database is created");
                TestDb::Postgres { server, name }
            }
        }
    }

    fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => {
                format!("sqlite://{}", dir.path().join("notes.sqlite").display())
            }
            TestDb::Postgres { server, name } => with_database(server, name),
        }
    }
}

/// The server URL with its database name replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (server, String::new()),
    };
    let authority_at = base.find("://").map_or(0, |i| i + 3);
    let host = match base[authority_at..].find('/') {
        Some(slash) => &base[..authority_at + slash],
        None => base,
    };
    format!("{host}/{name}{query}")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let TestDb::Postgres { server, name } = self else {
            return;
        };
        let (server, name) = (server.clone(), name.clone());
        // Drop runs on the test's runtime, which must not be blocked: a
        // thread of its own, with a small runtime, drops the database.
        let dropped = std::thread::spawn(move || {
            let runtime = rocket::tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server).await?;
                let drop = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                sqlx::query(&drop).execute(&mut admin).await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test database: {dropped:?}");
        }
    }
}

/// One test's first browser, and its database.
struct App {
    client: Client,
    /// The clock every browser of this test shares, when the test moves
    /// time itself; the system clock otherwise.
    clock: Option<Clock>,
    // Last, so the app is gone before its database is.
    db: TestDb,
}

impl App {
    async fn new(backend: Backend) -> App {
        App::on(backend, None).await
    }

    /// An app whose time stands still until the test moves `clock`.
    async fn with_clock(backend: Backend, clock: Clock) -> App {
        App::on(backend, Some(clock)).await
    }

    async fn on(backend: Backend, clock: Option<Clock>) -> App {
        let db = TestDb::create(backend).await;
        let client = browser(&db.url(), clock.as_ref()).await;
        App { client, clock, db }
    }

    /// Another browser, with no cookies, on the same database (a second
    /// instance of the app, as behind a load balancer).
    async fn stranger(&self) -> Client {
        browser(&self.db.url(), self.clock.as_ref()).await
    }
}

async fn browser(url: &str, clock: Option<&Clock>) -> Client {
    let figment = notes::figment()
        .merge(("databases.notes.url", url))
        .merge(("bcrypt_cost", 4))
        .merge(("secret_key", TEST_KEY));
    let mut rocket = notes::rocket(figment);
    if let Some(clock) = clock {
        // wristband keeps a clock it finds managed already.
        rocket = rocket.manage(clock.clone());
    }
    Client::tracked(rocket).await.expect("the app launches")
}

/// Percent-encodes a form value (everything but RFC 3986's unreserved
/// characters).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The token in a page's hidden `csrf_token` field.
fn csrf_in(html: &str) -> String {
    const FIELD: &str = r#"name="csrf_token" value=""#;
    let start = html.find(FIELD).expect("the page has a csrf_token field") + FIELD.len();
    let len = html[start..].find('"').expect("the value is quoted");
    html[start..start + len].to_string()
}

async fn get(client: &Client, path: &str) -> (Status, String) {
    let response = client.get(path.to_string()).dispatch().await;
    let status = response.status();
    (status, response.into_string().await.unwrap_or_default())
}

/// A fresh token for this browser, from a page with a form.
async fn token(client: &Client, page: &str) -> String {
    let (status, html) = get(client, page).await;
    assert_eq!(status, Status::Ok, "{page}");
    csrf_in(&html)
}

async fn post<'c>(client: &'c Client, path: &str, fields: &[(&str, &str)]) -> LocalResponse<'c> {
    client
        .post(path.to_string())
        .header(ContentType::Form)
        .body(form(fields))
        .dispatch()
        .await
}

fn location(response: &LocalResponse<'_>) -> Option<String> {
    response.headers().get_one("Location").map(str::to_string)
}

async fn sign_up(client: &Client, email: &str) {
    let csrf = token(client, "/signup").await;
    let response = post(
        client,
        "/signup",
        &[
            ("csrf_token", &csrf),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), Status::SeeOther, "signing up {email}");
    assert_eq!(location(&response).as_deref(), Some("/notes"));
}

async fn log_in<'c>(
    client: &'c Client,
    email: &str,
    password: &str,
    next: &str,
) -> LocalResponse<'c> {
    let csrf = token(client, "/login").await;
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("email", email),
        ("password", password),
        ("next", next),
    ];
    post(client, "/login", &fields).await
}

async fn log_out(client: &Client) {
    let csrf = token(client, "/").await;
    let response = post(client, "/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response).as_deref(), Some("/"));
}

async fn add_note(client: &Client, body: &str) {
    let csrf = token(client, "/notes").await;
    let response = post(client, "/notes", &[("csrf_token", &csrf), ("body", body)]).await;
    assert_eq!(response.status(), Status::SeeOther, "adding {body:?}");
    assert_eq!(location(&response).as_deref(), Some("/notes"));
}

async fn api_notes(client: &Client) -> (Status, Value) {
    let response = client.get("/api/notes").dispatch().await;
    let status = response.status();
    assert_eq!(response.content_type(), Some(ContentType::JSON));
    (status, response.into_json().await.expect("a JSON body"))
}

fn bodies(notes: &Value) -> Vec<String> {
    let mut bodies: Vec<String> = notes
        .as_array()
        .expect("a JSON list")
        .iter()
        .map(|note| note["body"].as_str().expect("a body").to_string())
        .collect();
    bodies.sort();
    bodies
}

/// The user_id cookie: its raw (encrypted) value, as a browser holds it.
fn wristband_cookie(client: &Client) -> Option<Cookie<'static>> {
    client
        .cookies()
        .get("user_id")
        .map(|c| c.clone().into_owned())
}

async fn a_protected_page_sends_visitors_to_log_in_and_back(backend: Backend) {
    let app = App::new(backend).await;
    sign_up(&app.client, "ada@example.com").await;
    let visitor = app.stranger().await;

    let response = visitor.get("/notes").dispatch().await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response).as_deref(), Some("/login?next=%2Fnotes"));

    let (status, page) = get(&visitor, "/login?next=%2Fnotes").await;
    assert_eq!(status, Status::Ok);
    assert!(
        page.contains("Please log in to access this page."),
        "{page}"
    );
    assert!(
        page.contains(r#"name="next" value="/notes""#),
        "the form carries next: {page}"
    );

    // Email as typed in another case: members are found case-insensitively.
    let fields = [
        ("csrf_token", csrf_in(&page)),
        ("email", "Ada@Example.com".into()),
        ("password", PASSWORD.into()),
        ("remember", "on".into()),
        ("next", "/notes".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = post(&visitor, "/login", &fields).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response).as_deref(), Some("/notes"));

    let (status, page) = get(&visitor, "/notes").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("ada@example.com"), "{page}");
}

async fn wrong_credentials_get_the_form_again_with_one_message(backend: Backend) {
    let app = App::new(backend).await;
    sign_up(&app.client, "ada@example.com").await;
    let visitor = app.stranger().await;

    for email in ["ada@example.com", "nobody@example.com"] {
        let response = log_in(&visitor, email, "not the password", "/notes").await;
        assert_eq!(response.status(), Status::Unauthorized, "{email}");
        let page = response.into_string().await.expect("a page");
        assert_eq!(page.matches(r#"role="alert""#).count(), 1, "{page}");
        assert!(page.contains("Wrong email or password."), "{page}");
        assert!(page.contains(r#"name="next" value="/notes""#), "{page}");
        assert!(page.contains(&format!(r#"value="{email}""#)), "{page}");
    }
    let (status, _) = get(&visitor, "/notes").await;
    assert_eq!(status, Status::SeeOther, "still anonymous");
}

async fn next_may_only_point_back_into_the_site(backend: Backend) {
    let app = App::new(backend).await;
    sign_up(&app.client, "ada@example.com").await;
    let visitor = app.stranger().await;

    let (_, page) = get(&visitor, "/login?next=%2F%2Fevil.example").await;
    assert!(page.contains(r#"name="next" value="""#), "dropped: {page}");

    let response = log_in(&visitor, "ada@example.com", PASSWORD, "//evil.example").await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response).as_deref(), Some("/"));
}

async fn logging_out_ends_the_session_for_good(backend: Backend) {
    let app = App::new(backend).await;
    let client = &app.client;
    sign_up(client, "ada@example.com").await;
    let (status, _) = get(client, "/notes").await;
    assert_eq!(status, Status::Ok);
    let old = wristband_cookie(client).expect("a wristband after signing up");

    log_out(client).await;
    assert!(
        wristband_cookie(client).is_none(),
        "the cookie is taken off"
    );
    let (status, _) = get(client, "/notes").await;
    assert_eq!(status, Status::SeeOther, "anonymous again");
    let (_, home) = get(client, "/").await;
    assert!(home.contains(r#"href="/login""#), "{home}");

    // A copy of the old wristband, replayed: the registry no longer holds
    // it, so it is refused (and taken off again).
    let response = client.get("/notes").cookie(old.clone()).dispatch().await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response).as_deref(), Some("/login?next=%2Fnotes"));
    let response = client.get("/api/notes").cookie(old).dispatch().await;
    assert_eq!(response.status(), Status::Unauthorized);
}

async fn failed_logins_are_throttled_even_when_they_come_at_once(backend: Backend) {
    let app = App::new(backend).await;
    let owner = &app.client;
    sign_up(owner, "ada@example.com").await;
    log_out(owner).await;
    let attacker = app.stranger().await;

    // Five wrong passwords (max_failed_logins), then even the right one is
    // refused, before any password check.
    for attempt in 1..=5 {
        let response = log_in(&attacker, "ada@example.com", "guess guess", "/").await;
        assert_eq!(response.status(), Status::Unauthorized, "attempt {attempt}");
    }
    let response = log_in(&attacker, "ada@example.com", PASSWORD, "/").await;
    assert_eq!(response.status(), Status::TooManyRequests);
    let wait: u64 = response
        .headers()
        .get_one("Retry-After")
        .expect("a Retry-After header")
        .parse()
        .expect("seconds");
    assert!((1..=15 * 60).contains(&wait), "{wait}");
    let page = response.into_string().await.expect("a page");
    assert!(page.contains(r#"role="alert""#), "{page}");

    // The owner's browser holds the account's device cookie from signing
    // up: a stranger's failures do not lock it out.
    let response = log_in(owner, "ada@example.com", PASSWORD, "/").await;
    assert_eq!(
        response.status(),
        Status::SeeOther,
        "the owner still gets in"
    );

    // Ten wrong passwords at once for another member: exactly five are
    // checked, however they interleave.
    sign_up(&app.stranger().await, "grace@example.com").await;
    let flood = app.stranger().await;
    let csrf = token(&flood, "/login").await;
    let body = form(&[
        ("csrf_token", &csrf),
        ("email", "grace@example.com"),
        ("password", "guess guess"),
    ]);
    let attempts = (0..10).map(|_| {
        flood
            .post("/login")
            .header(ContentType::Form)
            .body(body.clone())
            .dispatch()
    });
    let responses = join_all(attempts).await;
    let count = |status| responses.iter().filter(|r| r.status() == status).count();
    assert_eq!(count(Status::Unauthorized), 5);
    assert_eq!(count(Status::TooManyRequests), 5);
    assert!(responses
        .iter()
        .filter(|r| r.status() == Status::TooManyRequests)
        .all(|r| r.headers().get_one("Retry-After").is_some()));
}

async fn the_api_answers_json_and_only_with_the_members_notes(backend: Backend) {
    let app = App::new(backend).await;
    let client = &app.client;

    let (status, body) = api_notes(client).await;
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(
        body,
        rocket::serde::json::json!({ "error": "unauthorized" })
    );

    sign_up(client, "ada@example.com").await;
    let (status, body) = api_notes(client).await;
    assert_eq!((status, bodies(&body).len()), (Status::Ok, 0));
    add_note(client, "buy milk").await;
    add_note(client, "call Grace").await;
    let (status, body) = api_notes(client).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(bodies(&body), ["buy milk", "call Grace"]);
    for note in body.as_array().expect("a list") {
        assert_eq!(note["id"].as_str().map(str::len), Some(32), "{note}");
        assert!(note["created_at"].as_i64().is_some(), "{note}");
    }

    let other = app.stranger().await;
    sign_up(&other, "grace@example.com").await;
    let (status, body) = api_notes(&other).await;
    assert_eq!((status, bodies(&body).len()), (Status::Ok, 0), "{body}");
}

async fn a_post_without_the_right_token_is_refused_and_changes_nothing(backend: Backend) {
    let app = App::new(backend).await;
    let client = &app.client;
    sign_up(client, "ada@example.com").await;
    let (_, page) = get(client, "/notes").await;
    let csrf = csrf_in(&page);

    // Another browser's perfectly good token is still not this one's.
    let other = app.stranger().await;
    let foreign = token(&other, "/login").await;
    let forged: [&[(&str, &str)]; 4] = [
        &[("body", "forged")],
        &[("csrf_token", ""), ("body", "forged")],
        &[("csrf_token", "00ff"), ("body", "forged")],
        &[("csrf_token", &foreign), ("body", "forged")],
    ];
    for fields in forged {
        let response = post(client, "/notes", fields).await;
        assert_eq!(response.status(), Status::Forbidden, "{fields:?}");
    }
    let response = client.post("/notes").dispatch().await;
    assert_eq!(response.status(), Status::Forbidden, "no body at all");
    let (_, body) = api_notes(client).await;
    assert_eq!(bodies(&body).len(), 0, "no note was added: {body}");

    let response = post(client, "/logout", &[("csrf_token", "nope")]).await;
    assert_eq!(response.status(), Status::Forbidden);
    let (status, _) = get(client, "/notes").await;
    assert_eq!(status, Status::Ok, "still signed in");

    // The page's own token works.
    let response = post(client, "/notes", &[("csrf_token", &csrf), ("body", "mine")]).await;
    assert_eq!(response.status(), Status::SeeOther);
}

async fn the_home_page_shows_visitors_and_members_apart(backend: Backend) {
    let app = App::new(backend).await;
    let client = &app.client;

    let (status, page) = get(client, "/").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains(r#"<a href="/login">Log in</a>"#), "{page}");
    assert!(!page.contains("Log out"), "{page}");
    assert!(page.contains(r#"<html lang="en">"#), "{page}");
    assert!(page.contains(r#"name="viewport""#), "{page}");

    sign_up(client, "ada@example.com").await;
    let (status, page) = get(client, "/").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("ada@example.com"), "{page}");
    assert!(page.contains(r#"action="/logout""#), "{page}");
    assert!(!page.contains(r#"href="/login""#), "{page}");
}

async fn what_members_type_is_escaped(backend: Backend) {
    let app = App::new(backend).await;
    let client = &app.client;
    sign_up(client, "ada@example.com").await;
    add_note(client, "<script>alert('hi')</script> & \"more\"").await;
    let (_, page) = get(client, "/notes").await;
    assert!(!page.contains("<script>"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&#39;hi&#39;)&lt;/script&gt; &amp; &quot;more&quot;"),
        "{page}"
    );
}

async fn signing_up_checks_the_form_and_refuses_a_taken_email(backend: Backend) {
    let app = App::new(backend).await;
    sign_up(&app.client, "ada@example.com").await;
    let visitor = app.stranger().await;

    let long = format!("{}@example.com", "a".repeat(250));
    for (email, password, status) in [
        ("ADA@example.com ", PASSWORD, Status::Conflict),
        ("not an email", PASSWORD, Status::UnprocessableEntity),
        (long.as_str(), PASSWORD, Status::UnprocessableEntity),
        ("grace@example.com", "short", Status::UnprocessableEntity),
    ] {
        let csrf = token(&visitor, "/signup").await;
        let fields = [
            ("csrf_token", csrf.as_str()),
            ("email", email),
            ("password", password),
        ];
        let response = post(&visitor, "/signup", &fields).await;
        assert_eq!(response.status(), status, "{email:?}");
        let page = response.into_string().await.expect("a page");
        assert_eq!(page.matches(r#"role="alert""#).count(), 1, "{page}");
        assert!(page.contains(r#"<label for="email">"#), "{page}");
    }
    let (status, _) = get(&visitor, "/notes").await;
    assert_eq!(status, Status::SeeOther, "no account was made");
}

async fn a_database_that_fails_gives_503_not_a_visitor(backend: Backend) {
    let app = App::new(backend).await;
    let client = &app.client;
    sign_up(client, "ada@example.com").await;

    // Break the members table under the running app.
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.db.url())
        .await
        .expect("the test opens the database");
    sqlx::query("ALTER TABLE members RENAME TO members_gone")
        .execute(&mut db)
        .await
        .expect("rename");

    let (status, _) = get(client, "/notes").await;
    assert_eq!(status, Status::ServiceUnavailable);
    // `Option<User>` on its own would say "a visitor"; wristband makes it 503.
    let (status, page) = get(client, "/").await;
    assert_eq!(status, Status::ServiceUnavailable, "{page}");
    assert!(!page.contains("Log in"), "{page}");
    let response = client.get("/api/notes").dispatch().await;
    assert_eq!(response.status(), Status::ServiceUnavailable);
    let response = log_in(client, "ada@example.com", PASSWORD, "/").await;
    assert_eq!(response.status(), Status::ServiceUnavailable);
}

/// The secret on the page shown right after making a token: `wb_` and 64
/// hex digits.
fn secret_in(html: &str) -> String {
    let start = html
        .find(r#"value="wb_"#)
        .expect("the page shows the new token")
        + 7;
    let secret = &html[start..start + 67];
    assert!(
        secret[3..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{secret}"
    );
    secret.to_string()
}

/// Makes a token on `/tokens`, as a member would; returns its secret.
async fn make_token(client: &Client, name: &str, expires_days: &str) -> String {
    let csrf = token(client, "/tokens").await;
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("name", name),
        ("expires_days", expires_days),
    ];
    let response = post(client, "/tokens", &fields).await;
    assert_eq!(response.status(), Status::Ok, "making {name:?}");
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("no-store")
    );
    let page = response.into_string().await.expect("a page");
    assert!(
        page.contains("Copy it now; it will not be shown again"),
        "{page}"
    );
    secret_in(&page)
}

/// The public ids in the revoke forms of `/tokens`, newest first.
fn revoke_ids(html: &str) -> Vec<String> {
    const FIELD: &str = r#"name="token" value=""#;
    html.match_indices(FIELD)
        .map(|(at, _)| html[at + FIELD.len()..at + FIELD.len() + 32].to_string())
        .collect()
}

async fn revoke(client: &Client, public_id: &str) {
    let csrf = token(client, "/tokens").await;
    let fields = [("csrf_token", csrf.as_str()), ("token", public_id)];
    let response = post(client, "/tokens/revoke", &fields).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response).as_deref(), Some("/tokens"));
}

/// `GET path` with `Authorization: Bearer <secret>` from a browser that
/// holds no cookies at all.
async fn with_bearer<'c>(client: &'c Client, path: &str, secret: &str) -> LocalResponse<'c> {
    assert_eq!(
        client.cookies().iter().count(),
        0,
        "a client without cookies"
    );
    client
        .get(path.to_string())
        .header(Header::new("Authorization", format!("Bearer {secret}")))
        .dispatch()
        .await
}

/// A 401 for a bad token: JSON, and RFC 6750's challenge.
async fn assert_invalid_token(response: LocalResponse<'_>, why: &str) {
    assert_eq!(response.status(), Status::Unauthorized, "{why}");
    assert_eq!(
        response.headers().get_one("WWW-Authenticate"),
        Some(r#"Bearer error="invalid_token""#),
        "{why}"
    );
    assert_eq!(response.content_type(), Some(ContentType::JSON), "{why}");
    let body: Value = response.into_json().await.expect("a JSON body");
    assert_eq!(
        body,
        rocket::serde::json::json!({ "error": "unauthorized" }),
        "{why}"
    );
}

async fn a_token_made_on_the_page_reads_the_api_without_cookies(backend: Backend) {
    let app = App::new(backend).await;
    let client = &app.client;
    sign_up(client, "ada@example.com").await;
    add_note(client, "buy milk").await;
    add_note(client, "call Grace").await;
    let other = app.stranger().await;
    sign_up(&other, "grace@example.com").await;
    add_note(&other, "Grace's own").await;

    let (_, notes) = get(client, "/notes").await;
    assert!(notes.contains(r#"<a href="/tokens">"#), "{notes}");
    let (status, page) = get(client, "/tokens").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("No tokens yet."), "{page}");
    assert!(page.contains(r#"<html lang="en">"#), "{page}");
    assert!(page.contains(r#"name="viewport""#), "{page}");
    assert!(page.contains(r#"<label for="name">"#), "{page}");
    assert!(page.contains(r#"<label for="expires_days">"#), "{page}");

    let secret = make_token(client, "backup script", "").await;
    assert!(secret.starts_with("wb_"), "{secret}");

    // The list names it, never used, and no longer shows the secret.
    let (_, page) = get(client, "/tokens").await;
    assert!(page.contains("backup script"), "{page}");
    assert!(page.contains("Last used never"), "{page}");
    assert!(!page.contains(&secret), "shown once: {page}");
    assert!(!page.contains("Copy it now"), "{page}");
    assert_eq!(revoke_ids(&page).len(), 1, "{page}");

    let script = app.stranger().await;
    let response = with_bearer(&script, "/api/notes", &secret).await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = response.into_json().await.expect("a JSON body");
    assert_eq!(bodies(&body), ["buy milk", "call Grace"]);
    assert_eq!(
        script.cookies().iter().count(),
        0,
        "a token request is given no cookies"
    );

    // Its use is recorded; another member sees none of it.
    let (_, page) = get(client, "/tokens").await;
    assert!(!page.contains("Last used never"), "{page}");
    let (_, theirs) = get(&other, "/tokens").await;
    assert!(theirs.contains("No tokens yet."), "{theirs}");
    assert!(!theirs.contains("backup script"), "{theirs}");
}

async fn wrong_and_revoked_tokens_get_401_with_the_bearer_challenge(backend: Backend) {
    let app = App::new(backend).await;
    let client = &app.client;
    sign_up(client, "ada@example.com").await;
    let script = app.stranger().await;

    // The right shape, but no token of ours; and not even the shape.
    let random: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let response = with_bearer(&script, "/api/notes", &format!("wb_{random}")).await;
    assert_invalid_token(response, "a random token").await;
    let response = with_bearer(&script, "/api/notes", "wb_short").await;
    assert_invalid_token(response, "a malformed token").await;

    let secret = make_token(client, "deploy", "30").await;
    let response = with_bearer(&script, "/api/notes", &secret).await;
    assert_eq!(response.status(), Status::Ok);

    // Another member cannot revoke it by its id: nothing changes.
    let (_, page) = get(client, "/tokens").await;
    let ids = revoke_ids(&page);
    assert_eq!(ids.len(), 1, "{page}");
    let other = app.stranger().await;
    sign_up(&other, "grace@example.com").await;
    revoke(&other, &ids[0]).await;
    revoke(client, "not an id").await;
    let response = with_bearer(&script, "/api/notes", &secret).await;
    assert_eq!(response.status(), Status::Ok, "still live");

    // Without the form's CSRF token, revoking is refused.
    let response = post(client, "/tokens/revoke", &[("token", &ids[0])]).await;
    assert_eq!(response.status(), Status::Forbidden);
    let response = with_bearer(&script, "/api/notes", &secret).await;
    assert_eq!(response.status(), Status::Ok, "still live");

    revoke(client, &ids[0]).await;
    let response = with_bearer(&script, "/api/notes", &secret).await;
    assert_invalid_token(response, "a revoked token").await;
    let (_, page) = get(client, "/tokens").await;
    assert!(page.contains("No tokens yet."), "{page}");
}

async fn a_token_is_no_sign_in_for_pages(backend: Backend) {
    let app = App::new(backend).await;
    let client = &app.client;
    sign_up(client, "ada@example.com").await;
    add_note(client, "private").await;
    let secret = make_token(client, "pages?", "").await;

    for page in ["/notes", "/tokens"] {
        let browser = app.stranger().await;
        let response = with_bearer(&browser, page, &secret).await;
        assert_eq!(response.status(), Status::SeeOther, "{page}");
        let expected = format!("/login?next={}", encode(page));
        assert_eq!(location(&response), Some(expected), "{page}");
    }
    let browser = app.stranger().await;
    let response = with_bearer(&browser, "/", &secret).await;
    let page = response.into_string().await.expect("a page");
    assert!(page.contains(r#"href="/login""#), "anonymous: {page}");
    assert!(!page.contains("ada@example.com"), "{page}");

    // Nor does it make tokens: the form's post is a visitor's.
    let browser = app.stranger().await;
    let response = browser
        .post("/tokens")
        .header(ContentType::Form)
        .header(Header::new("Authorization", format!("Bearer {secret}")))
        .body(form(&[("name", "more")]))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    let to = location(&response).unwrap_or_default();
    assert!(to.starts_with("/login"), "{to}");
    let (_, page) = get(client, "/tokens").await;
    assert_eq!(revoke_ids(&page).len(), 1, "{page}");
}

async fn a_token_stops_working_when_it_expires(backend: Backend) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let clock = Clock::manual(i64::try_from(now).expect("a 64-bit time"));
    let app = App::with_clock(backend, clock.clone()).await;
    let client = &app.client;
    sign_up(client, "ada@example.com").await;
    let secret = make_token(client, "one day", "1").await;
    let (_, page) = get(client, "/tokens").await;
    assert!(!page.contains("Expires never"), "{page}");

    let script = app.stranger().await;
    clock.advance(86_400 - 1);
    let response = with_bearer(&script, "/api/notes", &secret).await;
    assert_eq!(response.status(), Status::Ok, "its last second");
    clock.advance(1);
    let response = with_bearer(&script, "/api/notes", &secret).await;
    assert_invalid_token(response, "an expired token").await;

    // The browser session has lapsed by now too (a day idle): log in again
    // to see the token is gone from the list.
    let (status, _) = get(client, "/tokens").await;
    assert_eq!(status, Status::SeeOther, "the session lapsed");
    let response = log_in(client, "ada@example.com", PASSWORD, "/tokens").await;
    assert_eq!(response.status(), Status::SeeOther);
    let (status, page) = get(client, "/tokens").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("No tokens yet."), "{page}");
}

async fn the_token_form_checks_its_fields_and_escapes_names(backend: Backend) {
    let app = App::new(backend).await;
    let client = &app.client;
    sign_up(client, "ada@example.com").await;

    let long = "x".repeat(65);
    for (name, days, message) in [
        ("  ", "", "Give the token a name"),
        (long.as_str(), "", "Use at most 64 characters"),
        ("ok", "0", "Choose a number of days from 1 to 3650."),
        ("ok", "3651", "Choose a number of days from 1 to 3650."),
        ("ok", "never", "Tokens must expire here"),
    ] {
        let csrf = token(client, "/tokens").await;
        let fields = [
            ("csrf_token", csrf.as_str()),
            ("name", name),
            ("expires_days", days),
        ];
        let response = post(client, "/tokens", &fields).await;
        assert_eq!(
            response.status(),
            Status::UnprocessableEntity,
            "{name:?} {days:?}"
        );
        let page = response.into_string().await.expect("a page");
        assert_eq!(page.matches(r#"role="alert""#).count(), 1, "{page}");
        assert!(page.contains(message), "{page}");
        assert!(page.contains(r#"aria-invalid="true""#), "{page}");
        assert!(!page.contains("Copy it now"), "{page}");
        assert!(
            page.contains(&format!(r#"value="{}""#, name)),
            "typed again: {page}"
        );
    }

    // A form without the page's CSRF token makes nothing.
    let response = post(client, "/tokens", &[("name", "forged")]).await;
    assert_eq!(response.status(), Status::Forbidden);
    let (_, page) = get(client, "/tokens").await;
    assert!(page.contains("No tokens yet."), "{page}");

    let name = "<script>alert('x')</script> & \"co\"";
    let csrf = token(client, "/tokens").await;
    let response = post(client, "/tokens", &[("csrf_token", &csrf), ("name", name)]).await;
    assert_eq!(response.status(), Status::Ok);
    let made = response.into_string().await.expect("a page");
    let escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;";
    let (_, list) = get(client, "/tokens").await;
    for page in [&made, &list] {
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains(escaped), "{page}");
    }
}
