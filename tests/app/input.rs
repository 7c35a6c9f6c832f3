//! Bad input gets a clear 4xx and changes nothing.

use crate::common::{set_cookie, Backend, TestApp, PASSWORD};
use rocket::http::{ContentType, Method};

backend_tests!(
    missing_fields_get_422,
    oversized_bodies_get_413,
    invalid_utf8_gets_400,
    wrong_content_types_get_415,
    wrong_types_get_422,
    odd_query_strings_do_not_break_the_login_page,
    fields_must_be_text_without_nul,
    a_user_agent_with_nul_is_stored_clean,
);

async fn user_count(app: &TestApp) -> i64 {
    let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(app.pool())
        .await
        .expect("count");
    row.0
}

async fn body_of(response: rocket::local::asynchronous::LocalResponse<'_>) -> String {
    response.into_string().await.unwrap_or_default()
}

async fn missing_fields_get_422(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .post_with_token("/register", &[("username", "ada")])
        .await;
    assert_eq!(response.status().code, 422);
    let body = body_of(response).await;
    assert!(
        body.contains("The form was incomplete or had values of the wrong kind."),
        "{body}"
    );
    let response = app
        .post_with_token("/login", &[("password", PASSWORD)])
        .await;
    assert_eq!(response.status().code, 422);
    assert_eq!(user_count(&app).await, 0);
}

async fn oversized_bodies_get_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.csrf_token().await;
    let huge = "a".repeat(64 * 1024);
    let response = app
        .post_form(
            "/register",
            &[
                ("username", &huge),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(response.status().code, 413);
    assert_eq!(set_cookie(&response, "user_id"), None);
    let body = body_of(response).await;
    assert!(
        body.contains("That was more data than this form accepts."),
        "{body}"
    );
    assert_eq!(user_count(&app).await, 0);
}

async fn invalid_utf8_gets_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.csrf_token().await;
    let mut body =
        format!("csrf_token={token}&password={PASSWORD}&password_confirm={PASSWORD}&username=")
            .into_bytes();
    body.extend_from_slice(&[0xff, 0xfe, b'a']);
    let response = app
        .send(
            app.request(Method::Post, "/register")
                .header(ContentType::Form)
                .body(body),
        )
        .await;
    assert_eq!(response.status().code, 400);
    assert_eq!(user_count(&app).await, 0);

    // Percent-encoded invalid UTF-8 is refused as a malformed field.
    let response = app.post_form("/register", &[("csrf_token", &token)]).await;
    assert_eq!(response.status().code, 422);
    let raw = format!(
        "csrf_token={token}&username=%FF%FE&password={PASSWORD}&password_confirm={PASSWORD}"
    );
    let response = app
        .send(
            app.request(Method::Post, "/register")
                .header(ContentType::Form)
                .body(raw),
        )
        .await;
    assert_eq!(response.status().code, 400);
    assert_eq!(user_count(&app).await, 0);
}

async fn attempt_count(app: &TestApp) -> i64 {
    let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM wristband_login_attempts")
        .fetch_one(app.pool())
        .await
        .expect("count");
    row.0
}

/// Posts `raw` (already URL-encoded, with this browser's token) to `path`.
async fn post_raw(app: &TestApp, path: &str, raw: &str) -> u16 {
    let token = app.csrf_token().await;
    app.send(
        app.request(Method::Post, path)
            .header(ContentType::Form)
            .body(format!("csrf_token={token}&{raw}")),
    )
    .await
    .status()
    .code
}

/// Percent-encoded bytes that are not UTF-8, and NUL (which PostgreSQL
/// refuses in text), are refused with 400 in every field of every form, on
/// both backends alike, before anything is checked or stored.
async fn fields_must_be_text_without_nul(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let p = PASSWORD.replace(' ', "+");
    for bad in ["%FF%FE%FD", "a%00b", "%C3"] {
        let register = [
            format!("username={bad}&password={p}&password_confirm={p}"),
            format!("username=bob&password={bad}{p}&password_confirm={bad}{p}"),
            format!("username=bob&password={p}&password_confirm={p}&{bad}=1"),
        ];
        let login = [
            format!("username={bad}&password={p}"),
            format!("username=ada&password={bad}"),
            format!("username=ada&password={p}&next=/{bad}"),
        ];
        let settings = [
            format!("current_password={bad}&new_password=brand+new+pass&new_password_confirm=brand+new+pass"),
            format!("current_password={p}&new_password={bad}{p}&new_password_confirm={bad}{p}"),
        ];
        let attempts = attempt_count(&app).await;
        for raw in &register {
            assert_eq!(post_raw(&app, "/register", raw).await, 400, "{raw}");
        }
        for raw in &settings {
            assert_eq!(
                post_raw(&app, "/settings/password", raw).await,
                400,
                "{raw}"
            );
        }
        assert_eq!(
            post_raw(&app, "/reauth", &format!("password={bad}")).await,
            400
        );
        assert_eq!(
            post_raw(&app, "/settings/delete", &format!("password={bad}")).await,
            400
        );
        assert_eq!(post_raw(&app, "/logout", &format!("x={bad}")).await, 400);
        app.logout().await;
        for raw in &login {
            assert_eq!(post_raw(&app, "/login", raw).await, 400, "{raw}");
        }
        // Nothing was created, recorded or changed.
        assert_eq!(user_count(&app).await, 1);
        assert_eq!(attempt_count(&app).await, attempts + 1, "only the logout");
        assert_eq!(app.login("ada", PASSWORD).await.status().code, 303);
    }
}

/// The one header we store, the user agent, is cleaned of NUL and other
/// control characters first, so it is stored the same on both backends.
async fn a_user_agent_with_nul_is_stored_clean(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    let token = app.csrf_token().await;
    let response = app
        .send(
            app.request(Method::Post, "/login")
                .header(ContentType::Form)
                .header(rocket::http::Header::new("User-Agent", "curl/8.5\0\u{1}x"))
                .body(crate::common::encode_form(&[
                    ("username", "ada"),
                    ("password", PASSWORD),
                    ("csrf_token", &token),
                ])),
        )
        .await;
    assert_eq!(response.status().code, 303);
    drop(response);
    let stored: Vec<(String,)> = sqlx::query_as(
        "SELECT COALESCE(user_agent, '') FROM wristband_login_attempts WHERE user_agent LIKE 'curl%'",
    )
    .fetch_all(app.pool())
    .await
    .expect("attempts");
    assert_eq!(stored, [("curl/8.5x".to_string(),)]);
}

async fn wrong_content_types_get_415(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .send(
            app.request(Method::Post, "/login")
                .header(ContentType::JSON)
                .body(r#"{"username":"ada","password":"x"}"#),
        )
        .await;
    assert_eq!(response.status().code, 415);
}

async fn wrong_types_get_422(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    let response = app
        .post_with_token(
            "/login",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("remember", "maybe"),
            ],
        )
        .await;
    assert_eq!(response.status().code, 422);
    assert_eq!(set_cookie(&response, "user_id"), None);
}

async fn odd_query_strings_do_not_break_the_login_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for query in [
        "next=%FF",
        "next=%",
        "next=/a&next=/b",
        "next",
        "next=%0d%0aX:y",
    ] {
        let response = app.get(&format!("/login?{query}")).await;
        assert_eq!(response.status().code, 200, "{query}");
    }
}
