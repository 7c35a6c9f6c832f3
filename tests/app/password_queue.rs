//! The bounded password queue: when the password threads are full, logins,
//! registrations and password confirmations are refused at once with 503
//! and `Retry-After`, cost no bcrypt and change nothing; checks whose
//! request was given up are never run; and the queue drains.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::common::{Backend, TestApp, PASSWORD};
use rocket::futures::future::join_all;
use rocket::futures::FutureExt;
use rocket::local::asynchronous::LocalResponse;
use sqlx::Row;
use wristband::Hasher;
use wristband::{Password, PasswordHash};

backend_tests!(
    a_full_queue_refuses_at_once_and_then_drains,
    a_check_whose_request_was_given_up_is_never_run,
);

fn hasher(app: &TestApp) -> &Hasher {
    app.client.rocket().state::<Hasher>().expect("hasher")
}

/// A real hash with its cost raised from 4 to 13: checking against it keeps
/// a password thread busy for half a second or more, where the app's own checks
/// (cost 4) take a millisecond.
async fn slow_hash(hasher: &Hasher) -> PasswordHash {
    let fast = hasher
        .hash(&Password::parse(PASSWORD).expect("valid"))
        .await
        .expect("hash");
    assert!(fast.as_str().starts_with("$2b$04$"), "{fast:?}");
    PasswordHash::new(fast.as_str().replacen("$04$", "$13$", 1))
}

/// `count` slow checks, already queued when this returns.
fn occupy<'h>(
    hasher: &'h Hasher,
    slow: &'h PasswordHash,
    count: usize,
) -> impl Future<Output = Vec<Result<bool, wristband::Error>>> + 'h {
    let mut checks = Box::pin(join_all(
        (0..count).map(move |_| hasher.verify(PASSWORD, Some(slow))),
    ));
    // Polling once hands every check to the pool.
    assert!((&mut checks).now_or_never().is_none());
    checks
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "{what}");
        rocket::tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(app.pool())
        .await
        .expect("count")
        .try_get(0)
        .expect("a count")
}

async fn assert_busy(response: LocalResponse<'_>) {
    assert_eq!(response.status().code, 503);
    let retry_after: u64 = response
        .headers()
        .get_one("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let page = response.into_string().await.unwrap_or_default();
    assert!(
        page.contains("Too many sign-ins are being checked right now."),
        "{page}"
    );
}

async fn a_full_queue_refuses_at_once_and_then_drains(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("password_queue", 0))).await;
    assert_eq!(app.register("ada", PASSWORD).await.status().code, 303);
    let hasher = hasher(&app);
    assert_eq!(hasher.capacity(), hasher.threads());
    let slow = slow_hash(hasher).await;
    let token = app.csrf_token().await;
    let attempts = count(&app, "SELECT COUNT(*) FROM wristband_login_attempts").await;
    let before = hasher.verifications();

    let occupied = occupy(hasher, &slow, hasher.capacity());
    assert_eq!(hasher.in_flight(), hasher.capacity());
    let login = [
        ("username", "ada"),
        ("password", PASSWORD),
        ("csrf_token", &token),
    ];
    assert_busy(app.post_form("/login", &login).await).await;
    let register = [
        ("username", "bob"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
        ("csrf_token", &token),
    ];
    assert_busy(app.post_form("/register", &register).await).await;
    let reauth = [("password", PASSWORD), ("csrf_token", &token)];
    assert_busy(app.post_form("/reauth", &reauth).await).await;
    assert_eq!(hasher.in_flight(), hasher.capacity());

    // Nothing was checked, hashed or recorded for the refused requests.
    let checked = occupied.await;
    assert!(
        checked.iter().all(|c| matches!(c, Ok(false))),
        "{checked:?}"
    );
    assert_eq!(
        hasher.verifications(),
        before + hasher.capacity() as u64,
        "only the slow checks ran"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM users WHERE username = 'bob'").await,
        0
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM wristband_login_attempts").await,
        attempts
    );

    // The queue drains, and the same requests then go through.
    wait_until("the queue drains", || hasher.in_flight() == 0).await;
    let response = app.post_form("/login", &login).await;
    assert_eq!(response.status().code, 303);
    drop(response);
    // Logging in gave the browser a new CSRF secret: fresh tokens from here.
    let reauth = [("password", PASSWORD)];
    assert_eq!(
        app.post_with_token("/reauth", &reauth).await.status().code,
        303
    );
    let register = [
        ("username", "bob"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    assert_eq!(
        app.post_with_token("/register", &register)
            .await
            .status()
            .code,
        303
    );
    assert_eq!(
        hasher.verifications(),
        before + hasher.capacity() as u64 + 2
    );
}

async fn a_check_whose_request_was_given_up_is_never_run(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("password_queue", 2))).await;
    assert_eq!(app.register("ada", PASSWORD).await.status().code, 303);
    let hasher = hasher(&app);
    let slow = slow_hash(hasher).await;
    let token = app.csrf_token().await;
    let before = hasher.verifications();

    // Every idle thread busy, and one more slow check for the guard, which
    // takes it once it has waited: the login below then waits behind them.
    let slow_checks = hasher.threads() + 1;
    let occupied = occupy(hasher, &slow, slow_checks);
    wait_until("every slow check has a thread", || hasher.queued() == 0).await;
    let login = [
        ("username", "ada"),
        ("password", PASSWORD),
        ("csrf_token", &token),
    ];
    {
        let mut waiting = Box::pin(app.post_form("/login", &login));
        let queued = wait_until("the login is queued", || hasher.queued() == 1);
        rocket::tokio::select! {
            _ = &mut waiting => panic!("the login was answered while the pool was full"),
            _ = queued => {}
        }
        // Given up here, as a client that hangs up.
    }
    assert_eq!(hasher.in_flight(), hasher.capacity());

    let checked = occupied.await;
    assert!(
        checked.iter().all(|c| matches!(c, Ok(false))),
        "{checked:?}"
    );
    wait_until("the queue drains", || hasher.in_flight() == 0).await;
    assert_eq!(
        hasher.verifications(),
        before + slow_checks as u64,
        "the given-up login was never checked"
    );
    assert_eq!(app.post_form("/login", &login).await.status().code, 303);
    assert_eq!(hasher.verifications(), before + slow_checks as u64 + 1);
}
