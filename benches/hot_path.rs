//! Micro-benchmarks of what every request pays for: the wristband cookie
//! and the user behind it, the `next` check, the CSRF check and the page
//! template. `cargo bench --bench hot_path`; the end-to-end figures come
//! from `benches/run.sh`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::Client;
use rocket::tokio::runtime::Runtime;
use rocket_db_pools::Database;
use wristband::sessions::TokenHash;
use wristband::{Clock, CookieNames, CsrfSecret, Hasher, Password, SafeRedirect, UserStore};
use wristband_app::auth::Users;
use wristband_app::db::Db;
use wristband_app::templates::{context, Template};
use wristband_app::users::{self, Username};

/// The app on a scratch SQLite file, with one user in it, signed in: the
/// tracked client keeps the registered wristband and sends it back.
struct App {
    runtime: Runtime,
    client: Client,
    user_id: i64,
    /// The registry's key for the client's wristband.
    token: TokenHash,
    _dir: tempfile::TempDir,
}

/// Logs the tracked client in through the login form, as a browser does, so
/// that its wristband is in the registry.
async fn log_in(client: &Client, username: &str, password: &str) {
    let page = client
        .get("/login")
        .dispatch()
        .await
        .into_string()
        .await
        .expect("the login page");
    let marker = r#"name="csrf_token" value=""#;
    let at = page.find(marker).expect("a csrf_token field") + marker.len();
    let token = &page[at..at + page[at..].find('"').expect("a closing quote")];
    let body = format!(
        "username={username}&password={}&csrf_token={token}",
        password.replace(' ', "+")
    );
    let response = client
        .post("/login")
        .header(ContentType::Form)
        .body(body)
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::SeeOther, "the login works");
}

fn app() -> App {
    let runtime = Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("a scratch directory");
    let url = format!("sqlite://{}", dir.path().join("bench.sqlite").display());
    let figment = wristband_app::config::figment()
        .merge(("databases.wristband.url", url))
        // The lowest cost the release profile accepts; only the login the
        // setup makes pays it.
        .merge(("bcrypt_cost", 10))
        // Benches build with optimisations, which selects Rocket's release
        // profile: it wants a key. This one is not a secret.
        .merge(("secret_key", "d3Jpc3RiYW5kLWJlbmNoLW5vdC1hLXNlY3JldC0zMmI="))
        .merge(("log_level", "off"));
    let (client, user_id) = runtime.block_on(async {
        let client = Client::tracked(wristband_app::build(figment, Clock::system()))
            .await
            .expect("the app launches");
        let db = Db::fetch(client.rocket()).expect("the database is attached");
        let hash = Hasher::new(4)
            .expect("a hasher")
            .hash(&Password::parse("bench password 1").expect("valid"))
            .await
            .expect("a hash");
        let username = Username::parse("bench-user").expect("valid");
        let user = users::create(db, &username, &hash, 0)
            .await
            .expect("created");
        log_in(&client, "bench-user", "bench password 1").await;
        (client, user.id)
    });
    // The wristband's name in the release profile (benches build with
    // optimisations, which select it): `Secure`, so `__Host-`.
    let wristband = CookieNames::default().user.prefixed();
    let token = TokenHash::of(
        client
            .cookies()
            .get(wristband)
            .expect("a wristband after logging in")
            .value(),
    );
    App {
        runtime,
        client,
        user_id,
        token,
        _dir: dir,
    }
}

fn cookie_and_user(c: &mut Criterion, app: &App) {
    let db = Db::fetch(app.client.rocket()).expect("the database is attached");
    let store = Users::new();
    // The guards' one read (the user joined with the registry) two ways:
    // through sqlx's pool (a health ping before and after each use) and on a
    // kept "quick" connection, as the guards do it.
    let now = Clock::system().now();
    c.bench_function("user/load_signed_in on the pool (SQLite)", |b| {
        b.iter(|| {
            app.runtime.block_on(async {
                let mut conn = db.acquire().await.expect("a connection");
                store
                    .load_signed_in(&mut conn, black_box(&app.user_id), &app.token, now)
                    .await
            })
        })
    });
    c.bench_function("user/load_signed_in on a quick connection (SQLite)", |b| {
        b.iter(|| {
            app.runtime.block_on(async {
                let mut conn = db.quick().await.expect("a connection");
                let found = store
                    .load_signed_in(&mut conn, black_box(&app.user_id), &app.token, now)
                    .await;
                conn.keep();
                found
            })
        })
    });
    // A whole request through Rocket (no network): the private cookie is
    // decrypted, the user loaded, and a small JSON body written.
    c.bench_function("request/GET /api/me (cookie decode + user load)", |b| {
        b.iter(|| {
            app.runtime.block_on(async {
                let response = app.client.get("/api/me").dispatch().await;
                assert_eq!(response.status(), Status::Ok);
            })
        })
    });
    c.bench_function("request/GET /profile (+ CSRF token + template)", |b| {
        b.iter(|| {
            app.runtime.block_on(async {
                let response = app.client.get("/profile").dispatch().await;
                assert_eq!(response.status(), Status::Ok);
            })
        })
    });
}

fn safe_next(c: &mut Criterion) {
    c.bench_function("SafeRedirect::parse (local path)", |b| {
        b.iter(|| SafeRedirect::parse(black_box("/settings?tab=password")))
    });
    c.bench_function("SafeRedirect::parse (hostile, double-encoded)", |b| {
        b.iter(|| SafeRedirect::parse(black_box("/%252F%252Fevil.example")))
    });
}

fn csrf(c: &mut Criterion) {
    let secret = CsrfSecret::random();
    let token = secret.token();
    c.bench_function("CsrfSecret::token (mask for a form)", |b| {
        b.iter(|| black_box(&secret).token())
    });
    c.bench_function("CsrfSecret::accepts (check a submitted token)", |b| {
        b.iter(|| black_box(&secret).accepts(black_box(token.as_str())))
    });
}

fn template(c: &mut Criterion, app: &App) {
    let token = CsrfSecret::random().token();
    c.bench_function("template/profile render", |b| {
        b.iter(|| {
            Template::show(
                app.client.rocket(),
                "profile",
                context! {
                    user: context! { id: app.user_id, username: "bench-user" },
                    csrf_token: token.as_str(),
                    flash: Option::<()>::None,
                },
            )
        })
    });
}

fn benches(c: &mut Criterion) {
    let app = app();
    cookie_and_user(c, &app);
    safe_next(c);
    csrf(c);
    template(c, &app);
}

criterion_group!(hot_path, benches);
criterion_main!(hot_path);
