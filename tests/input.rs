//! Bad input gets a clear 4xx and changes nothing.

mod common;

use common::{set_cookie, Backend, TestApp, PASSWORD};
use rocket::http::{ContentType, Method};

backend_tests!(
    missing_fields_get_422,
    oversized_bodies_get_413,
    invalid_utf8_gets_400,
    wrong_content_types_get_415,
    wrong_types_get_422,
    odd_query_strings_do_not_break_the_login_page,
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
    assert!(
        matches!(response.status().code, 400 | 422),
        "{}",
        response.status()
    );
    assert_eq!(user_count(&app).await, 0);
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
