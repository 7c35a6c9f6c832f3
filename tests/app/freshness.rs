//! Fresh logins ("sudo mode"): sensitive actions need a password typed in
//! this browser within `fresh_minutes`; remembered sessions must confirm it.

use crate::common::{assert_redirect_to, Backend, TestApp, PASSWORD};
use rocket::http::{ContentType, Header, Method};

backend_tests!(
    a_password_login_is_fresh,
    a_remembered_session_is_not_fresh_until_reauth,
    freshness_expires_after_fresh_minutes,
    fresh_minutes_follows_config,
    a_wrong_reauth_password_is_refused,
    reauth_needs_a_login,
    json_clients_get_401_when_not_fresh,
    reauth_ignores_a_hostile_next,
    a_stale_post_without_referer_comes_back_to_its_page,
    the_reauth_form_always_carries_next,
);

const NEW_PASSWORD: &str = "a brand new passphrase";

fn change_fields<'a>(current: &'a str, new: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("current_password", current),
        ("new_password", new),
        ("new_password_confirm", new),
    ]
}

/// POST /settings/password from the settings page, as a browser sends it
/// (with the Referer the redirect back uses).
async fn change_from_settings<'a>(
    app: &'a TestApp,
    current: &str,
    new: &str,
) -> rocket::local::asynchronous::LocalResponse<'a> {
    let token = app.csrf_token().await;
    let mut fields = change_fields(current, new).to_vec();
    fields.push(("csrf_token", &token));
    app.send(
        app.request(Method::Post, "/settings/password")
            .header(ContentType::Form)
            .header(Header::new("Host", "localhost"))
            .header(Header::new("Referer", "http://localhost/settings"))
            .body(crate::common::encode_form(&fields)),
    )
    .await
}

async fn a_password_login_is_fresh(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = change_from_settings(&app, PASSWORD, NEW_PASSWORD).await;
    assert_redirect_to(&response, "/settings");
}

async fn a_remembered_session_is_not_fresh_until_reauth(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    app.login_remembered("ada", PASSWORD).await;
    app.restart_browser();

    // Still signed in: the remembered wristband outlived the browser.
    assert_eq!(app.get("/settings").await.status().code, 200);
    let response = change_from_settings(&app, PASSWORD, NEW_PASSWORD).await;
    assert_redirect_to(&response, "/reauth?next=%2Fsettings");
    drop(response);

    let reauth_page = app.page("/reauth?next=%2Fsettings").await;
    assert!(
        reauth_page.contains("Please reauthenticate to access this page."),
        "{reauth_page}"
    );
    assert!(reauth_page.contains(r#"name="password""#));
    // Nothing changed: the old password still works.
    let response = app
        .post_with_token("/reauth", &[("password", PASSWORD), ("next", "/settings")])
        .await;
    assert_redirect_to(&response, "/settings");
    drop(response);

    let response = change_from_settings(&app, PASSWORD, NEW_PASSWORD).await;
    assert_redirect_to(&response, "/settings");
}

async fn freshness_expires_after_fresh_minutes(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clock.advance(9 * 60 + 59);
    assert_redirect_to(
        &change_from_settings(&app, PASSWORD, NEW_PASSWORD).await,
        "/settings",
    );
    app.clock.advance(1);
    assert_redirect_to(
        &change_from_settings(&app, NEW_PASSWORD, PASSWORD).await,
        "/reauth?next=%2Fsettings",
    );
}

async fn fresh_minutes_follows_config(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("fresh_minutes", 1))).await;
    app.register("ada", PASSWORD).await;
    app.clock.advance(60);
    assert_redirect_to(
        &change_from_settings(&app, PASSWORD, NEW_PASSWORD).await,
        "/reauth?next=%2Fsettings",
    );
}

async fn a_wrong_reauth_password_is_refused(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clock.advance(3600);
    let response = app
        .post_with_token(
            "/reauth",
            &[("password", "not my password"), ("next", "/settings")],
        )
        .await;
    assert_eq!(response.status().code, 401);
    let body = response.into_string().await.unwrap_or_default();
    assert!(body.contains("That password is not right."), "{body}");
    assert!(
        body.contains(r#"name="next" value="&#x2F;settings""#),
        "{body}"
    );
    // Still not fresh.
    assert_redirect_to(
        &change_from_settings(&app, PASSWORD, NEW_PASSWORD).await,
        "/reauth?next=%2Fsettings",
    );
}

async fn reauth_needs_a_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_redirect_to(&app.get("/reauth").await, "/login?next=%2Freauth");
    let response = app
        .post_with_token("/reauth", &[("password", PASSWORD)])
        .await;
    assert_eq!(response.status().code, 303);
    assert!(response
        .headers()
        .get_one("Location")
        .is_some_and(|l| l.starts_with("/login")));
}

async fn json_clients_get_401_when_not_fresh(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clock.advance(3600);
    let token = app.csrf_token().await;
    let mut fields = change_fields(PASSWORD, NEW_PASSWORD).to_vec();
    fields.push(("csrf_token", &token));
    let response = app
        .send(
            app.form_request("/settings/password", &fields)
                .header(Header::new("Accept", "application/json")),
        )
        .await;
    assert_eq!(response.status().code, 401);
    assert_eq!(
        response.into_string().await.as_deref(),
        Some(r#"{"error":"unauthorized"}"#)
    );
}

async fn reauth_ignores_a_hostile_next(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = app
        .post_with_token(
            "/reauth",
            &[("password", PASSWORD), ("next", "//evil.example")],
        )
        .await;
    assert_redirect_to(&response, "/");
}

/// No Referer (a browser or proxy that strips it): the redirect still names
/// the page the form is on, and a foreign Referer is not followed.
async fn a_stale_post_without_referer_comes_back_to_its_page(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clock.advance(3600);
    let response = app
        .post_with_token("/settings/password", &change_fields(PASSWORD, NEW_PASSWORD))
        .await;
    assert_redirect_to(&response, "/reauth?next=%2Fsettings");
    drop(response);
    let response = app
        .post_with_token("/settings/delete", &[("password", PASSWORD)])
        .await;
    assert_redirect_to(&response, "/reauth?next=%2Fsettings");
    drop(response);

    let token = app.csrf_token().await;
    let mut fields = change_fields(PASSWORD, NEW_PASSWORD).to_vec();
    fields.push(("csrf_token", &token));
    let response = app
        .send(
            app.request(Method::Post, "/settings/password")
                .header(ContentType::Form)
                .header(Header::new("Host", "localhost"))
                .header(Header::new("Referer", "http://evil.example/phish"))
                .body(crate::common::encode_form(&fields)),
        )
        .await;
    assert_redirect_to(&response, "/reauth?next=%2Fsettings");
    drop(response);
    // Nothing changed on the way.
    app.logout().await;
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn the_reauth_form_always_carries_next(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let page = app.page("/reauth").await;
    assert!(
        page.contains(r#"<input type="hidden" name="next" value="">"#),
        "{page}"
    );
    let page = app.page("/reauth?next=%2F%2Fevil.example").await;
    assert!(
        page.contains(r#"<input type="hidden" name="next" value="">"#),
        "{page}"
    );
    let page = app.page("/reauth?next=%2Fsettings").await;
    assert!(
        page.contains(r#"<input type="hidden" name="next" value="&#x2F;settings">"#),
        "{page}"
    );
}
