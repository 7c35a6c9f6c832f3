//! Changing the password, deleting the account, deactivation.

use crate::common::{assert_redirect_to, attr, set_cookie, Backend, TestApp, PASSWORD, T0};
use wristband_app::users::{self, Username};

backend_tests!(
    changing_the_password_replaces_it_at_once,
    a_wrong_current_password_gets_401,
    an_invalid_new_password_gets_422_with_field_errors,
    the_password_form_is_on_settings,
    deleting_the_account_needs_the_password,
    deleting_the_account_removes_it_and_its_history,
    deactivation_ends_an_existing_session,
    deactivated_accounts_cannot_log_in,
    reactivated_accounts_can,
    csrf_guards_the_settings_forms,
);

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn change(app: &TestApp, current: &str, new: &str, confirm: &str) -> u16 {
    app.post_with_token(
        "/settings/password",
        &[
            ("current_password", current),
            ("new_password", new),
            ("new_password_confirm", confirm),
        ],
    )
    .await
    .status()
    .code
}

async fn changing_the_password_replaces_it_at_once(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = app
        .post_with_token(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_redirect_to(&response, "/settings");
    drop(response);
    assert!(app
        .page("/settings")
        .await
        .contains("Your password has been changed."));

    app.logout().await;
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 401);
    assert_redirect_to(&app.login("ada", NEW_PASSWORD).await, "/");
}

async fn a_wrong_current_password_gets_401(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = app
        .post_with_token(
            "/settings/password",
            &[
                ("current_password", "not it at all"),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status().code, 401);
    let body = response.into_string().await.unwrap_or_default();
    assert!(
        body.contains(r#"id="current_password-error">That is not your current password.</p>"#),
        "{body}"
    );
    app.logout().await;
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn an_invalid_new_password_gets_422_with_field_errors(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = app
        .post_with_token(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("new_password_confirm", "shorter"),
            ],
        )
        .await;
    assert_eq!(response.status().code, 422);
    let body = response.into_string().await.unwrap_or_default();
    assert!(
        body.contains(r#"id="new_password-error">Use at least 8 characters.</p>"#),
        "{body}"
    );
    assert!(
        body.contains(r#"id="new_password_confirm-error">The new passwords do not match.</p>"#),
        "{body}"
    );
    assert_eq!(
        change(&app, PASSWORD, &"x".repeat(73), &"x".repeat(73)).await,
        422
    );
    app.logout().await;
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn the_password_form_is_on_settings(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let page = app.page("/settings").await;
    for field in [
        "current_password",
        "new_password",
        "new_password_confirm",
        "csrf_token",
    ] {
        assert!(page.contains(&format!(r#"name="{field}""#)), "{field}");
    }
    assert!(page.contains(r#"action="/settings/password""#));
}

async fn deleting_the_account_needs_the_password(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = app
        .post_with_token("/settings/delete", &[("password", "not it at all")])
        .await;
    assert_eq!(response.status().code, 401);
    let body = response.into_string().await.unwrap_or_default();
    assert!(body.contains("That is not your password."), "{body}");
    assert_eq!(app.get("/profile").await.status().code, 200);
}

async fn deleting_the_account_removes_it_and_its_history(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = app
        .post_with_token("/settings/delete", &[("password", PASSWORD)])
        .await;
    assert_redirect_to(&response, "/");
    let removal = set_cookie(&response, "user_id").expect("logged out");
    assert_eq!(attr(removal, "Max-Age"), Some("0"));
    drop(response);
    assert!(app
        .page("/")
        .await
        .contains("Your account has been deleted."));

    let counts: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM wristband_login_attempts WHERE user_id IS NOT NULL)",
    )
    .fetch_one(app.pool())
    .await
    .expect("counts");
    assert_eq!(counts, (0, 0));
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 401);
    // The name is free again.
    assert_redirect_to(&app.register("ada", PASSWORD).await, "/");
}

async fn deactivation_ends_an_existing_session(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    assert_eq!(app.get("/profile").await.status().code, 200);
    let ada = Username::parse("ada").expect("valid");
    assert!(users::set_active(app.pool(), &ada, false, T0)
        .await
        .expect("deactivate"));

    let response = app.get("/profile").await;
    assert_redirect_to(&response, "/login?next=%2Fprofile");
    let removal = set_cookie(&response, "user_id").expect("the wristband is removed");
    assert_eq!(attr(removal, "Max-Age"), Some("0"));
    drop(response);
    assert_eq!(app.get("/api/me").await.status().code, 401);
}

async fn deactivated_accounts_cannot_log_in(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    let ada = Username::parse("ada").expect("valid");
    users::set_active(app.pool(), &ada, false, T0)
        .await
        .expect("deactivate");

    let response = app.login("ada", PASSWORD).await;
    assert_eq!(response.status().code, 403);
    assert_eq!(set_cookie(&response, "user_id"), None);
    let body = response.into_string().await.unwrap_or_default();
    assert!(body.contains("This account is deactivated."), "{body}");

    // Without the password, nothing is revealed.
    let response = app.login("ada", "wrong password!").await;
    assert_eq!(response.status().code, 401);
    let body = response.into_string().await.unwrap_or_default();
    assert!(body.contains("Invalid username or password."), "{body}");
}

async fn reactivated_accounts_can(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    let ada = Username::parse("ADA").expect("valid");
    users::set_active(app.pool(), &ada, false, T0)
        .await
        .expect("deactivate");
    assert!(users::set_active(app.pool(), &ada, true, T0)
        .await
        .expect("activate"));
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
    let nobody = Username::parse("nobody").expect("valid");
    assert!(!users::set_active(app.pool(), &nobody, false, T0)
        .await
        .expect("no such user"));
}

async fn csrf_guards_the_settings_forms(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = app
        .post_form(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status().code, 403);
    assert_eq!(
        app.post_form("/settings/delete", &[("password", PASSWORD)])
            .await
            .status()
            .code,
        403
    );
    assert_eq!(
        app.post_form("/reauth", &[("password", PASSWORD)])
            .await
            .status()
            .code,
        403
    );
    app.logout().await;
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}
