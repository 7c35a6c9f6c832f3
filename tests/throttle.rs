//! Brute-force throttling and the login audit trail.

mod common;

use common::{assert_redirect_to, Backend, TestApp, PASSWORD};
use rocket::http::Header;
use wristband::auth::Hasher;

backend_tests!(
    five_failures_lock_the_username,
    throttled_attempts_cost_no_bcrypt,
    the_lock_lifts_when_the_window_passes,
    a_success_clears_the_count,
    names_are_counted_without_regard_to_case,
    unknown_names_are_throttled_too,
    one_address_cannot_spray_many_names,
    wrong_reauth_passwords_count_too,
    limits_follow_config,
    every_attempt_is_recorded,
    settings_shows_recent_sign_ins_and_the_last_failure,
);

fn verifications(app: &TestApp) -> u64 {
    app.client
        .rocket()
        .state::<Hasher>()
        .expect("hasher")
        .verifications()
}

async fn fail(app: &TestApp, username: &str, times: usize) {
    for _ in 0..times {
        assert_eq!(
            app.login(username, "wrong password!").await.status().code,
            401
        );
    }
}

async fn five_failures_lock_the_username(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    fail(&app, "ada", 5).await;

    // Even the right password is refused now.
    let response = app.login("ada", PASSWORD).await;
    assert_eq!(response.status().code, 429);
    assert_eq!(response.headers().get_one("Retry-After"), Some("900"));
    assert_eq!(common::set_cookie(&response, "user_id"), None);
    let body = response.into_string().await.unwrap_or_default();
    assert!(
        body.contains("Too many failed attempts. For your security, try again in 15 minutes."),
        "{body}"
    );
    assert_redirect_to(&app.get("/profile").await, "/login?next=%2Fprofile");

    // The wait shrinks as time passes.
    app.clock.advance(600);
    let response = app.login("ada", PASSWORD).await;
    assert_eq!(response.status().code, 429);
    assert_eq!(response.headers().get_one("Retry-After"), Some("300"));
}

async fn throttled_attempts_cost_no_bcrypt(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    let before = verifications(&app);
    fail(&app, "ada", 5).await;
    assert_eq!(
        verifications(&app),
        before + 5,
        "one bcrypt check per attempt"
    );
    for _ in 0..3 {
        assert_eq!(app.login("ada", PASSWORD).await.status().code, 429);
    }
    assert_eq!(
        verifications(&app),
        before + 5,
        "none for throttled attempts"
    );
}

async fn the_lock_lifts_when_the_window_passes(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    fail(&app, "ada", 5).await;
    app.clock.advance(15 * 60 - 1);
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 429);
    app.clock.advance(1);
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn a_success_clears_the_count(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    fail(&app, "ada", 4).await;
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
    app.logout().await;
    fail(&app, "ada", 4).await;
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn names_are_counted_without_regard_to_case(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    for name in ["ADA", "Ada", "aDa", "adA", "ada"] {
        fail(&app, name, 1).await;
    }
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 429);
}

async fn unknown_names_are_throttled_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    fail(&app, "ghost", 5).await;
    let response = app.login("ghost", "wrong password!").await;
    assert_eq!(
        response.status().code,
        429,
        "the same answer as for a real account"
    );
}

async fn one_address_cannot_spray_many_names(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("max_failed_logins_per_ip", 6))).await;
    app.register("ada", PASSWORD).await;
    app.logout().await;
    for name in ["amy", "bob", "cat", "dan", "eve", "fay"] {
        fail(&app, name, 1).await;
    }
    // A name never tried before, from the same address, is refused.
    let response = app.login("ada", PASSWORD).await;
    assert_eq!(response.status().code, 429);
    assert!(response.headers().get_one("Retry-After").is_some());
}

async fn wrong_reauth_passwords_count_too(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    for _ in 0..5 {
        let response = app
            .post_with_token("/reauth", &[("password", "wrong password!")])
            .await;
        assert_eq!(response.status().code, 401);
    }
    let response = app
        .post_with_token("/reauth", &[("password", PASSWORD)])
        .await;
    assert_eq!(response.status().code, 429);
}

async fn limits_follow_config(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("max_failed_logins", 2))
            .merge(("throttle_window_minutes", 1))
    })
    .await;
    app.register("ada", PASSWORD).await;
    app.logout().await;
    fail(&app, "ada", 2).await;
    let response = app.login("ada", PASSWORD).await;
    assert_eq!(response.status().code, 429);
    assert_eq!(response.headers().get_one("Retry-After"), Some("60"));
    drop(response);
    app.clock.advance(60);
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn every_attempt_is_recorded(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await; // a sign-in
    app.logout().await;
    fail(&app, "ada", 1).await;
    fail(&app, "nobody", 1).await;
    let token = app.csrf_token().await;
    let response = app
        .send(
            app.form_request(
                "/login",
                &[
                    ("username", "ada"),
                    ("password", PASSWORD),
                    ("csrf_token", &token),
                ],
            )
            .header(Header::new("User-Agent", "TestBrowser/1.0")),
        )
        .await;
    assert_redirect_to(&response, "/");
    drop(response);

    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT username_key, outcome, COALESCE(client_ip, ''), COALESCE(user_agent, '') \
         FROM login_attempts ORDER BY id",
    )
    .fetch_all(app.pool())
    .await
    .expect("history");
    let outcomes: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(
        outcomes,
        [
            ("ada", "success"),
            ("ada", "logout"),
            ("ada", "wrong_password"),
            ("nobody", "unknown_user"),
            ("ada", "success")
        ]
    );
    assert!(rows.iter().all(|r| r.2 == "127.0.0.1"), "{rows:?}");
    assert_eq!(rows[4].3, "TestBrowser/1.0");

    // The unknown name is recorded without a user; the rest belong to ada.
    let owned: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM login_attempts WHERE user_id IS NOT NULL")
            .fetch_one(app.pool())
            .await
            .expect("count");
    assert_eq!(owned.0, 4);
}

async fn settings_shows_recent_sign_ins_and_the_last_failure(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let page = app.page("/settings").await;
    assert!(page.contains("No failed attempts on record."), "{page}");
    assert_eq!(
        page.matches(
            r#"<tr><td data-label="When">2023-11-14 22:13 UTC</td><td data-label="Address">127.0.0.1</td>"#
        )
        .count(),
        1,
        "{page}"
    );

    app.logout().await;
    for _ in 0..12 {
        app.clock.advance(60);
        fail(&app, "ada", 1).await;
        app.login("ada", PASSWORD).await;
        app.logout().await;
    }
    app.clock.advance(60);
    fail(&app, "ada", 1).await;
    app.login("ada", PASSWORD).await;
    let page = app.page("/settings").await;
    assert_eq!(
        page.matches(r#"<tr><td data-label="When">"#).count(),
        10,
        "the last ten sign-ins: {page}"
    );
    assert!(
        page.contains("Last failed attempt: 2023-11-14 22:26 UTC from 127.0.0.1 (Wrong password)."),
        "{page}"
    );
}
