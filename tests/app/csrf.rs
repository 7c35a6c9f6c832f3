//! Every POST needs this browser's CSRF token; without it, 403 and nothing
//! changes.

use crate::common::{assert_redirect_to, csrf_token_in, set_cookie, Backend, TestApp, PASSWORD};
use rocket::http::Method;

backend_tests!(
    forged_registrations_are_refused,
    forged_logins_are_refused,
    forged_logouts_are_refused,
    a_token_from_another_browser_is_refused,
    a_token_without_its_cookie_is_refused,
    tokens_differ_per_render_and_all_work,
    the_403_page_says_what_to_do,
    a_bare_logout_gets_403,
    login_rotates_the_secret,
    logout_rotates_the_secret,
    registration_rotates_the_secret,
    a_failed_login_keeps_the_secret,
);

/// Token values that must never pass.
fn forged_tokens(real: &str) -> Vec<Option<String>> {
    let mut flipped = real.to_string().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    vec![
        None,
        Some(String::new()),
        Some("0".repeat(128)),
        Some("not hex at all".into()),
        Some(real[..64].to_string()),
        Some(String::from_utf8(flipped).expect("ascii")),
    ]
}

fn with_token<'a>(
    fields: &[(&'a str, &'a str)],
    token: &'a Option<String>,
) -> Vec<(&'a str, &'a str)> {
    let mut fields = fields.to_vec();
    if let Some(token) = token {
        fields.push(("csrf_token", token));
    }
    fields
}

async fn forged_registrations_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let real = app.csrf_token().await;
    let form = [
        ("username", "mallory"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    for token in forged_tokens(&real) {
        let response = app.post_form("/register", &with_token(&form, &token)).await;
        assert_eq!(response.status().code, 403, "{token:?}");
        assert_eq!(set_cookie(&response, "user_id"), None);
    }
    let users: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(app.pool())
        .await
        .expect("count");
    assert_eq!(users.0, 0);
}

async fn forged_logins_are_refused(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    let real = app.csrf_token().await;
    let form = [("username", "ada"), ("password", PASSWORD)];
    for token in forged_tokens(&real) {
        let response = app.post_form("/login", &with_token(&form, &token)).await;
        assert_eq!(response.status().code, 403, "{token:?}");
        assert_eq!(set_cookie(&response, "user_id"), None);
    }
    assert!(
        app.page("/").await.contains(r#"href="/login""#),
        "still anonymous"
    );
}

async fn forged_logouts_are_refused(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let real = app.csrf_token().await;
    for token in forged_tokens(&real) {
        let response = app.post_form("/logout", &with_token(&[], &token)).await;
        assert_eq!(response.status().code, 403, "{token:?}");
        assert_eq!(set_cookie(&response, "user_id"), None);
    }
    assert_eq!(
        app.get("/profile").await.status().code,
        200,
        "still logged in"
    );
}

async fn a_token_from_another_browser_is_refused(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let attacker = TestApp::spawn(backend).await;
    let foreign = attacker.csrf_token().await;
    let response = app.post_form("/logout", &[("csrf_token", &foreign)]).await;
    assert_eq!(response.status().code, 403);
    assert_eq!(app.get("/profile").await.status().code, 200);
}

async fn a_token_without_its_cookie_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ada", PASSWORD).await;
    let token = app.csrf_token().await;
    app.set_cookie("csrf", "forged");
    let response = app.post_form("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(response.status().code, 403);
}

async fn tokens_differ_per_render_and_all_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.csrf_token().await;
    let second = app.csrf_token().await;
    assert_ne!(first, second, "masked afresh on every render");
    // A failed login changes no one's identity, so it keeps the secret.
    let response = app
        .post_form(
            "/login",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("csrf_token", &first),
            ],
        )
        .await;
    assert_eq!(response.status().code, 401);
    drop(response);
    assert_eq!(
        app.post_form(
            "/register",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &second),
            ],
        )
        .await
        .status()
        .code,
        303
    );
}

async fn the_403_page_says_what_to_do(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .post_form("/login", &[("username", "ada"), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status().code, 403);
    let body = response.into_string().await.unwrap_or_default();
    assert!(
        body.contains("This form has expired or did not come from this site."),
        "{body}"
    );
}

/// `POST /logout` with no body and no Content-Type is a missing token.
async fn a_bare_logout_gets_403(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = app.send(app.request(Method::Post, "/logout")).await;
    assert_eq!(response.status().code, 403);
    assert_eq!(set_cookie(&response, "user_id"), None);
    drop(response);
    assert_eq!(app.get("/profile").await.status().code, 200, "still in");
}

/// A token of this browser's current secret, from a page it renders.
async fn token_now(app: &TestApp) -> String {
    csrf_token_in(&app.page("/login").await).expect("a token on the page")
}

/// After `change`, the browser holds a new secret: a token rendered before
/// is refused, a token rendered after works.
async fn assert_rotated(app: &TestApp, before: &str, csrf_before: Option<String>) {
    assert_ne!(app.cookie("csrf"), csrf_before, "a new csrf cookie");
    let response = app.post_form("/logout", &[("csrf_token", before)]).await;
    assert_eq!(response.status().code, 403, "the old token is dead");
    drop(response);
    let after = token_now(app).await;
    let response = app.post_form("/logout", &[("csrf_token", &after)]).await;
    assert_redirect_to(&response, "/");
}

async fn login_rotates_the_secret(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    let before = token_now(&app).await;
    let csrf_before = app.cookie("csrf");
    let response = app
        .post_form(
            "/login",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("csrf_token", &before),
            ],
        )
        .await;
    assert_redirect_to(&response, "/");
    assert!(
        set_cookie(&response, "csrf").is_some(),
        "a new secret is set"
    );
    drop(response);
    assert_rotated(&app, &before, csrf_before).await;
}

async fn logout_rotates_the_secret(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let before = token_now(&app).await;
    let csrf_before = app.cookie("csrf");
    let response = app.post_form("/logout", &[("csrf_token", &before)]).await;
    assert_redirect_to(&response, "/");
    assert!(
        set_cookie(&response, "csrf").is_some(),
        "a new secret is set"
    );
    drop(response);
    // The logged-out browser's old token cannot log it in again.
    let response = app
        .post_form(
            "/login",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("csrf_token", &before),
            ],
        )
        .await;
    assert_eq!(response.status().code, 403);
    drop(response);
    assert_ne!(app.cookie("csrf"), csrf_before);
}

async fn registration_rotates_the_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = token_now(&app).await;
    let csrf_before = app.cookie("csrf");
    let response = app
        .post_form(
            "/register",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &before),
            ],
        )
        .await;
    assert_redirect_to(&response, "/");
    drop(response);
    assert_rotated(&app, &before, csrf_before).await;
}

async fn a_failed_login_keeps_the_secret(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    let before = token_now(&app).await;
    let response = app
        .post_form(
            "/login",
            &[
                ("username", "ada"),
                ("password", "wrong password"),
                ("csrf_token", &before),
            ],
        )
        .await;
    assert_eq!(response.status().code, 401);
    assert_eq!(set_cookie(&response, "csrf"), None);
    drop(response);
    // The re-rendered form's token and the earlier one both still work.
    let response = app
        .post_form(
            "/login",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("csrf_token", &before),
            ],
        )
        .await;
    assert_redirect_to(&response, "/");
}
