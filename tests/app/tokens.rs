//! API tokens: made from `/settings` (fresh login, CSRF), shown once,
//! stored as hashes, sent as `Authorization: Bearer wb_...` to `/api/...`,
//! and ended by revocation, expiry, deactivation and deletion (not by a
//! password change).

use rocket::http::{Header, Method};
use rocket::local::asynchronous::LocalResponse;
use sqlx::Row;

use crate::common::{assert_redirect_to, Backend, TestApp, DEFAULT_REMOTE, PASSWORD, T0};
use wristband::sessions::TokenHash;

backend_tests!(
    a_token_is_shown_once_and_only_its_hash_is_kept,
    a_bearer_token_signs_in_api_requests_without_cookies,
    wrong_expired_and_revoked_tokens_get_the_same_answer,
    tokens_never_reach_pages_or_forms,
    making_a_token_needs_a_fresh_login_and_a_csrf_token,
    the_token_form_checks_its_fields,
    tokens_that_never_expire_only_where_allowed,
    nobody_can_revoke_another_users_token,
    wrong_tokens_count_toward_the_address_throttle,
    deactivation_and_deletion_end_tokens,
    a_password_change_keeps_tokens,
    last_used_is_written_at_most_every_five_minutes,
);

/// The token a page shows, if it shows one.
fn token_in(page: &str) -> Option<String> {
    let at = page.find("wb_")?;
    let token: String = page[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (token.len() == 67).then_some(token)
}

/// Makes a token from the settings page; the page that answers.
async fn make_token<'a>(app: &'a TestApp, name: &str, days: &str) -> LocalResponse<'a> {
    app.post_with_token(
        "/settings/tokens",
        &[("name", name), ("expires_days", days)],
    )
    .await
}

/// Makes a token and returns it.
async fn new_token(app: &TestApp, name: &str) -> String {
    let response = make_token(app, name, "").await;
    assert_eq!(response.status().code, 200);
    let page = response.into_string().await.unwrap_or_default();
    token_in(&page).unwrap_or_else(|| panic!("a token on the page: {page}"))
}

/// `GET path` with only this bearer token: no cookies at all.
async fn with_token<'a>(app: &'a TestApp, path: &str, token: &str) -> LocalResponse<'a> {
    app.client
        .req(Method::Get, path.to_string())
        .header(Header::new("Authorization", format!("Bearer {token}")))
        .remote(DEFAULT_REMOTE.into())
        .dispatch()
        .await
}

/// The public ids of the revoke buttons on the settings page.
async fn token_ids(app: &TestApp) -> Vec<String> {
    let page = app.page("/settings").await;
    page.match_indices(r#"name="token" value=""#)
        .map(|(at, marker)| {
            let rest = &page[at + marker.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
        .collect()
}

async fn assert_refused(response: LocalResponse<'_>) {
    assert_eq!(response.status().code, 401);
    assert_eq!(
        response.headers().get_one("WWW-Authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    assert_eq!(
        response.into_string().await.as_deref(),
        Some(r#"{"error":"unauthorized"}"#)
    );
}

async fn a_token_is_shown_once_and_only_its_hash_is_kept(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = make_token(&app, "deploy script", "").await;
    assert_eq!(response.status().code, 200);
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("no-store")
    );
    let page = response.into_string().await.unwrap_or_default();
    let token = token_in(&page).expect("the new token");
    assert!(page.contains("it will not be shown again"), "{page}");
    assert!(token[3..].bytes().all(|b| b.is_ascii_hexdigit()), "{token}");

    // Listed by name from now on, never shown again.
    let settings = app.page("/settings").await;
    assert!(token_in(&settings).is_none(), "shown twice");
    assert!(settings.contains("deploy script"), "{settings}");
    assert!(settings.contains("Revoke"), "{settings}");
    let ninety_days = wristband::format_utc(T0 + 90 * 86_400);
    assert!(
        settings.contains(&ninety_days),
        "expires in 90 days: {settings}"
    );

    let rows = sqlx::query("SELECT token_hash, public_id, name FROM wristband_tokens")
        .fetch_all(app.pool())
        .await
        .expect("tokens");
    assert_eq!(rows.len(), 1);
    let hash: String = rows[0].get("token_hash");
    assert_eq!(hash, TokenHash::of(&token).as_str());
    let public_id: String = rows[0].get("public_id");
    assert!(!token.contains(&public_id) && !public_id.contains(&token[3..]));
    assert_eq!(token_ids(&app).await, [public_id]);
}

async fn a_bearer_token_signs_in_api_requests_without_cookies(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let token = new_token(&app, "cli").await;
    let response = with_token(&app, "/api/me", &token).await;
    assert_eq!(response.status().code, 200);
    assert!(response.headers().get("Set-Cookie").next().is_none());
    let me: serde_json::Value =
        serde_json::from_str(&response.into_string().await.unwrap_or_default()).expect("JSON");
    assert_eq!(me["username"], "ada");
    assert!(me["id"].as_i64().is_some(), "{me}");
    // The scheme's name is case-insensitive (RFC 7235).
    let lower = app
        .client
        .get("/api/me")
        .header(Header::new("Authorization", format!("bearer {token}")))
        .dispatch()
        .await;
    assert_eq!(lower.status().code, 200);
}

async fn wrong_expired_and_revoked_tokens_get_the_same_answer(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let wrong = format!("wb_{}", "0f".repeat(32));
    assert_refused(with_token(&app, "/api/me", &wrong).await).await;
    assert_refused(with_token(&app, "/api/me", "not-even-a-token").await).await;

    let short = app
        .post_with_token(
            "/settings/tokens",
            &[("name", "short"), ("expires_days", "1")],
        )
        .await;
    let short = token_in(&short.into_string().await.unwrap_or_default()).expect("a token");
    let kept = new_token(&app, "kept").await;
    assert_eq!(with_token(&app, "/api/me", &short).await.status().code, 200);
    app.clock.advance(86_400);
    assert_refused(with_token(&app, "/api/me", &short).await).await;
    assert_eq!(with_token(&app, "/api/me", &kept).await.status().code, 200);
    // A day unused ended the browser's session too.
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");

    let ids = token_ids(&app).await;
    assert_eq!(ids.len(), 1, "the expired one is not listed");
    let revoked = app
        .post_with_token("/settings/tokens/revoke", &[("token", &ids[0])])
        .await;
    assert_redirect_to(&revoked, "/settings");
    drop(revoked);
    assert!(app.page("/settings").await.contains("no longer works"));
    assert_refused(with_token(&app, "/api/me", &kept).await).await;
}

async fn tokens_never_reach_pages_or_forms(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let token = new_token(&app, "cli").await;
    for page in ["/profile", "/settings"] {
        let response = with_token(&app, page, &token).await;
        assert_eq!(response.status().code, 303, "{page}");
        assert!(response
            .headers()
            .get_one("Location")
            .is_some_and(|l| l.starts_with("/login")));
    }
    // A form posted with only a token: no cookie, so no CSRF secret: 403,
    // and nothing changes.
    for (path, fields) in [
        (
            "/settings/password",
            "current_password=correct+horse+battery&new_password=another+horse+1&new_password_confirm=another+horse+1",
        ),
        ("/settings/tokens", "name=sneaky"),
        ("/settings/sessions/end-others", ""),
    ] {
        let response = app
            .client
            .post(path)
            .header(rocket::http::ContentType::Form)
            .header(Header::new("Authorization", format!("Bearer {token}")))
            .body(fields)
            .dispatch()
            .await;
        // Refused before anything is read: by the CSRF check (403), or as
        // anonymous by the fresh-login guard (to the login page).
        let refused = match response.status().code {
            403 => true,
            303 => response
                .headers()
                .get_one("Location")
                .is_some_and(|l| l.starts_with("/login")),
            _ => false,
        };
        assert!(refused, "{path}: {}", response.status());
    }
    let tokens: i64 = sqlx::query("SELECT COUNT(*) AS n FROM wristband_tokens")
        .fetch_one(app.pool())
        .await
        .expect("count")
        .get("n");
    assert_eq!(tokens, 1);
    app.logout().await;
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn making_a_token_needs_a_fresh_login_and_a_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ada", PASSWORD).await;
    app.logout().await;
    app.login_remembered("ada", PASSWORD).await;
    app.restart_browser();
    let response = make_token(&app, "stale", "").await;
    assert_redirect_to(&response, "/reauth?next=%2Fsettings");
    drop(response);
    let reauth = app
        .post_with_token("/reauth", &[("password", PASSWORD), ("next", "/settings")])
        .await;
    assert_redirect_to(&reauth, "/settings");
    drop(reauth);
    let forged = app
        .post_form(
            "/settings/tokens",
            &[("name", "forged"), ("csrf_token", "00")],
        )
        .await;
    assert_eq!(forged.status().code, 403);
    drop(forged);
    let tokens: i64 = sqlx::query("SELECT COUNT(*) AS n FROM wristband_tokens")
        .fetch_one(app.pool())
        .await
        .expect("count")
        .get("n");
    assert_eq!(tokens, 0);
}

async fn the_token_form_checks_its_fields(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    for (name, days, says) in [
        ("", "", "Give the token a name"),
        ("x", "0", "from 1 to 3650"),
        ("x", "3651", "from 1 to 3650"),
        ("x", "soon", "from 1 to 3650"),
        ("x", "never", "Tokens must expire here"),
    ] {
        let response = make_token(&app, name, days).await;
        assert_eq!(response.status().code, 422, "{name:?} {days:?}");
        let page = response.into_string().await.unwrap_or_default();
        assert!(page.contains(says), "{says}: {page}");
        assert!(page.contains("aria-invalid=\"true\""), "{page}");
        assert!(token_in(&page).is_none());
    }
    let made = make_token(&app, "a week", "7").await;
    let page = made.into_string().await.unwrap_or_default();
    assert!(token_in(&page).is_some());
    assert!(
        page.contains(&wristband::format_utc(T0 + 7 * 86_400)),
        "{page}"
    );
}

async fn tokens_that_never_expire_only_where_allowed(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, |f| f.merge(("allow_tokens_without_expiry", true))).await;
    app.register("ada", PASSWORD).await;
    let response = make_token(&app, "forever", "never").await;
    assert_eq!(response.status().code, 200);
    let token = token_in(&response.into_string().await.unwrap_or_default()).expect("a token");
    app.clock.advance(20 * 365 * 86_400);
    assert_eq!(with_token(&app, "/api/me", &token).await.status().code, 200);
}

async fn nobody_can_revoke_another_users_token(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let token = new_token(&app, "ada's").await;
    let ada_id = token_ids(&app).await.remove(0);
    app.logout().await;
    app.register("bob", PASSWORD).await;
    let response = app
        .post_with_token("/settings/tokens/revoke", &[("token", &ada_id)])
        .await;
    assert_redirect_to(&response, "/settings");
    drop(response);
    assert!(app.page("/settings").await.contains("already been revoked"));
    for junk in ["", "' OR 1=1 --", &"z".repeat(32)] {
        let response = app
            .post_with_token("/settings/tokens/revoke", &[("token", junk)])
            .await;
        assert_redirect_to(&response, "/settings");
    }
    assert_eq!(with_token(&app, "/api/me", &token).await.status().code, 200);
}

async fn wrong_tokens_count_toward_the_address_throttle(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("max_failed_logins_per_ip", 3))).await;
    app.register("ada", PASSWORD).await;
    app.logout().await;
    let wrong = format!("wb_{}", "ab".repeat(32));
    // Many at once: each is counted while the budget lasts, and no more.
    let sends = (0..8).map(|_| with_token(&app, "/api/me", &wrong));
    for response in rocket::futures::future::join_all(sends).await {
        assert_eq!(response.status().code, 401);
    }
    let counted: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM wristband_login_attempts WHERE outcome = 'bad_token'",
    )
    .fetch_one(app.pool())
    .await
    .expect("count")
    .get("n");
    assert_eq!(counted, 3);
    // The address's budget is spent: its password logins wait too (from a
    // browser without ada's device cookie, which has a budget of its own).
    app.clear_cookies();
    let response = app.login("ada", PASSWORD).await;
    assert_eq!(response.status().code, 429);
    assert!(response.headers().get_one("Retry-After").is_some());
}

async fn deactivation_and_deletion_end_tokens(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let token = new_token(&app, "cli").await;
    let ada = wristband_app::users::Username::parse("ada").expect("valid");
    assert!(
        wristband_app::users::set_active(app.pool(), &ada, false, T0)
            .await
            .expect("deactivate")
    );
    assert_refused(with_token(&app, "/api/me", &token).await).await;
    assert!(wristband_app::users::set_active(app.pool(), &ada, true, T0)
        .await
        .expect("activate"));
    assert_refused(with_token(&app, "/api/me", &token).await).await;

    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
    let second = new_token(&app, "second").await;
    assert_eq!(
        with_token(&app, "/api/me", &second).await.status().code,
        200
    );
    let deleted = app
        .post_with_token("/settings/delete", &[("password", PASSWORD)])
        .await;
    assert_redirect_to(&deleted, "/");
    drop(deleted);
    assert_refused(with_token(&app, "/api/me", &second).await).await;
    let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM wristband_tokens")
        .fetch_one(app.pool())
        .await
        .expect("count")
        .get("n");
    assert_eq!(left, 0);
}

async fn a_password_change_keeps_tokens(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let token = new_token(&app, "cli").await;
    assert!(app
        .page("/settings")
        .await
        .contains("Changing your password does not end your tokens"));
    let changed = app
        .post_with_token(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another horse 1"),
                ("new_password_confirm", "another horse 1"),
            ],
        )
        .await;
    assert_redirect_to(&changed, "/settings");
    drop(changed);
    assert_eq!(with_token(&app, "/api/me", &token).await.status().code, 200);
}

async fn last_used_is_written_at_most_every_five_minutes(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let token = new_token(&app, "cli").await;
    let last_used = || async {
        sqlx::query("SELECT last_used FROM wristband_tokens")
            .fetch_one(app.pool())
            .await
            .expect("row")
            .get::<i64, _>("last_used")
    };
    assert_eq!(last_used().await, 0);
    assert!(app.page("/settings").await.contains("never"));
    with_token(&app, "/api/me", &token).await;
    assert_eq!(last_used().await, T0);
    app.clock.advance(299);
    with_token(&app, "/api/me", &token).await;
    assert_eq!(last_used().await, T0);
    app.clock.advance(1);
    with_token(&app, "/api/me", &token).await;
    assert_eq!(last_used().await, T0 + 300);
    assert!(app
        .page("/settings")
        .await
        .contains(&wristband::format_utc(T0 + 300)));
}
