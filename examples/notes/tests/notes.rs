//! The notes app, driven through Rocket's local client: each test launches
//! the real app on a fresh SQLite file of its own, with a low bcrypt cost.

use rocket::futures::future::join_all;
use rocket::http::{ContentType, Cookie, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::serde::json::Value;
use tempfile::TempDir;

/// A fixed key for tests only, so every client of one test decrypts the
/// others' cookies (a real deployment sets its own `ROCKET_SECRET_KEY`).
const TEST_KEY: &str = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";

const PASSWORD: &str = "correct horse battery";

/// One test's database, and the first browser on it.
struct App {
    dir: TempDir,
    client: Client,
}

impl App {
    async fn new() -> App {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let client = browser(&dir).await;
        App { dir, client }
    }

    /// Another browser, with no cookies, on the same database (a second
    /// instance of the app, as behind a load balancer).
    async fn stranger(&self) -> Client {
        browser(&self.dir).await
    }

    fn database_url(&self) -> String {
        database_url(&self.dir)
    }
}

fn database_url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("notes.sqlite").display())
}

async fn browser(dir: &TempDir) -> Client {
    let figment = notes::figment()
        .merge(("databases.notes.url", database_url(dir)))
        .merge(("bcrypt_cost", 4))
        .merge(("secret_key", TEST_KEY));
    Client::tracked(notes::rocket(figment))
        .await
        .expect("the app launches")
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

#[rocket::async_test]
async fn a_protected_page_sends_visitors_to_log_in_and_back() {
    let app = App::new().await;
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

#[rocket::async_test]
async fn wrong_credentials_get_the_form_again_with_one_message() {
    let app = App::new().await;
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

#[rocket::async_test]
async fn next_may_only_point_back_into_the_site() {
    let app = App::new().await;
    sign_up(&app.client, "ada@example.com").await;
    let visitor = app.stranger().await;

    let (_, page) = get(&visitor, "/login?next=%2F%2Fevil.example").await;
    assert!(page.contains(r#"name="next" value="""#), "dropped: {page}");

    let response = log_in(&visitor, "ada@example.com", PASSWORD, "//evil.example").await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response).as_deref(), Some("/"));
}

#[rocket::async_test]
async fn logging_out_ends_the_session_for_good() {
    let app = App::new().await;
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

#[rocket::async_test]
async fn failed_logins_are_throttled_even_when_they_come_at_once() {
    let app = App::new().await;
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

#[rocket::async_test]
async fn the_api_answers_json_and_only_with_the_members_notes() {
    let app = App::new().await;
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

#[rocket::async_test]
async fn a_post_without_the_right_token_is_refused_and_changes_nothing() {
    let app = App::new().await;
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

#[rocket::async_test]
async fn the_home_page_shows_visitors_and_members_apart() {
    let app = App::new().await;
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

#[rocket::async_test]
async fn what_members_type_is_escaped() {
    let app = App::new().await;
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

#[rocket::async_test]
async fn signing_up_checks_the_form_and_refuses_a_taken_email() {
    let app = App::new().await;
    sign_up(&app.client, "ada@example.com").await;
    let visitor = app.stranger().await;

    let long = format!("{}@example.com", "a".repeat(60));
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

#[rocket::async_test]
async fn a_database_that_fails_gives_503_not_a_visitor() {
    let app = App::new().await;
    let client = &app.client;
    sign_up(client, "ada@example.com").await;

    // Break the members table under the running app.
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&app.database_url())
        .await
        .expect("the test opens the database");
    sqlx::query("ALTER TABLE members RENAME TO members_gone")
        .execute(&mut db)
        .await
        .expect("rename");

    let (status, _) = get(client, "/notes").await;
    assert_eq!(status, Status::ServiceUnavailable);
    let response = client.get("/api/notes").dispatch().await;
    assert_eq!(response.status(), Status::ServiceUnavailable);
    let response = log_in(client, "ada@example.com", PASSWORD, "/").await;
    assert_eq!(response.status(), Status::ServiceUnavailable);
}
