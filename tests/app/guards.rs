//! Who is asking: protected pages, the API, and cookies that are not what
//! they claim.

use crate::common::{
    assert_redirect_to, attr, set_cookie, Backend, TestApp, OTHER_SECRET_KEY, PASSWORD,
};
use rocket::State;
use wristband_app::auth::{FreshUser, User, UserLoads};

backend_tests!(
    anonymous_visitors_are_sent_to_login_and_back,
    the_next_keeps_the_query,
    settings_is_protected_too,
    the_api_answers_anonymous_callers_with_json,
    json_clients_never_get_a_redirect,
    the_api_knows_the_signed_in_user,
    tampered_cookies_mean_anonymous,
    truncated_cookies_mean_anonymous,
    cookies_from_another_key_mean_anonymous,
    a_deleted_users_cookie_is_removed,
    the_user_is_loaded_once_per_request,
    anonymous_requests_never_touch_the_database,
    unknown_pages_get_a_404_page,
    error_pages_keep_the_signed_in_navigation,
);

async fn anonymous_visitors_are_sent_to_login_and_back(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;

    let response = app.get("/profile").await;
    assert_redirect_to(&response, "/login?next=%2Fprofile");
    drop(response);

    let login_page = app.page("/login?next=%2Fprofile").await;
    assert!(
        login_page.contains("Please log in to access this page."),
        "{login_page}"
    );
    let again = app.page("/login").await;
    assert!(
        !again.contains("Please log in to access this page."),
        "the flash is shown once"
    );

    let response = app
        .post_with_token(
            "/login",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("next", "/profile"),
            ],
        )
        .await;
    assert_redirect_to(&response, "/profile");
    drop(response);
    let profile = app.get("/profile").await;
    assert_eq!(profile.status().code, 200);
    let body = profile.into_string().await.unwrap_or_default();
    assert!(body.contains(r#"<dd class="username">ada</dd>"#), "{body}");
}

async fn the_next_keeps_the_query(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/profile?tab=security&x=1").await;
    assert_redirect_to(&response, "/login?next=%2Fprofile%3Ftab%3Dsecurity%26x%3D1");
}

async fn settings_is_protected_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_redirect_to(&app.get("/settings").await, "/login?next=%2Fsettings");
    app.register("ada", PASSWORD).await;
    assert_eq!(app.get("/settings").await.status().code, 200);
}

async fn the_api_answers_anonymous_callers_with_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/api/me").await;
    assert_eq!(response.status().code, 401);
    assert_eq!(response.headers().get_one("Location"), None);
    assert_eq!(
        response.content_type(),
        Some(rocket::http::ContentType::JSON)
    );
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("no-store")
    );
    assert_eq!(
        response.into_string().await.as_deref(),
        Some(r#"{"error":"unauthorized"}"#)
    );
}

async fn json_clients_never_get_a_redirect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/profile", "/settings"] {
        let response = app.get_json(path).await;
        assert_eq!(response.status().code, 401, "{path}");
        assert_eq!(response.headers().get_one("Location"), None);
        assert_eq!(
            response.headers().get_one("Cache-Control"),
            Some("no-store")
        );
        assert_eq!(
            response.into_string().await.as_deref(),
            Some(r#"{"error":"unauthorized"}"#)
        );
    }
}

async fn the_api_knows_the_signed_in_user(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = app.get("/api/me").await;
    assert_eq!(response.status().code, 200);
    // Who is signed in must not outlive a logout in any cache.
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("no-store")
    );
    let body = response.into_string().await.unwrap_or_default();
    let me: rocket::serde::json::Value = rocket::serde::json::from_str(&body).expect("JSON");
    assert_eq!(me["username"], "ada");
    assert!(me["id"].as_i64().is_some_and(|id| id > 0), "{body}");
}

/// The encrypted value of this browser's `user_id` cookie.
fn wristband_value(app: &TestApp) -> String {
    app.cookie("user_id").expect("a wristband")
}

/// Replaces the browser's `user_id` cookie with `value` and checks that the
/// app treats the browser as anonymous, without an error.
async fn assert_anonymous_with(app: &TestApp, value: String) {
    app.set_cookie("user_id", &value);
    let home = app.get("/").await;
    assert_eq!(home.status().code, 200);
    let body = home.into_string().await.unwrap_or_default();
    assert!(body.contains(r#"href="/login""#), "{body}");
    assert!(!body.contains("current-user"));
    assert_redirect_to(&app.get("/profile").await, "/login?next=%2Fprofile");
    assert_eq!(app.get("/api/me").await.status().code, 401);
}

async fn tampered_cookies_mean_anonymous(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let value = wristband_value(&app);
    let mut bytes = value.into_bytes();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    assert_anonymous_with(&app, String::from_utf8(bytes).expect("ascii")).await;
    // A plain, unencrypted id is not a wristband either.
    assert_anonymous_with(&app, "1".to_string()).await;
}

async fn truncated_cookies_mean_anonymous(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let value = wristband_value(&app);
    assert_anonymous_with(&app, value[..value.len() / 2].to_string()).await;
    assert_anonymous_with(&app, String::new()).await;
}

async fn cookies_from_another_key_mean_anonymous(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let other = TestApp::spawn_with(backend, |f| f.merge(("secret_key", OTHER_SECRET_KEY))).await;
    other.register("ada", PASSWORD).await;
    assert_anonymous_with(&app, wristband_value(&other)).await;
}

async fn a_deleted_users_cookie_is_removed(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let id: (i64,) = sqlx::query_as("SELECT id FROM users")
        .fetch_one(app.pool())
        .await
        .expect("id");
    assert!(wristband_app::users::delete(app.pool(), id.0)
        .await
        .expect("delete"));

    let response = app.get("/").await;
    assert_eq!(response.status().code, 200);
    let removal = set_cookie(&response, "user_id").expect("the stale wristband is removed");
    assert_eq!(attr(removal, "Max-Age"), Some("0"), "{removal}");
    let body = response.into_string().await.unwrap_or_default();
    assert!(body.contains(r#"href="/login""#));
    assert!(app.cookie("user_id").is_none());
}

#[rocket::get("/probe")]
fn probe(
    first: User,
    again: User,
    maybe: Option<User>,
    fresh: Option<FreshUser>,
    loads: &State<UserLoads>,
) -> String {
    assert_eq!(Some(first.user()), maybe.as_ref().map(|m| m.user()));
    assert_eq!(first.user(), again.user());
    assert!(fresh.is_some());
    loads.count().to_string()
}

#[rocket::get("/loads")]
fn loads(loads: &State<UserLoads>) -> String {
    loads.count().to_string()
}

async fn loads_so_far(app: &TestApp) -> u64 {
    app.page("/test/loads").await.parse().expect("a count")
}

async fn the_user_is_loaded_once_per_request(backend: Backend) {
    let app = TestApp::spawn_custom(backend, |f| f, rocket::routes![probe, loads]).await;
    app.register("ada", PASSWORD).await;

    let before = loads_so_far(&app).await;
    let during: u64 = app.page("/test/probe").await.parse().expect("a count");
    assert_eq!(during, before + 1, "four guards, one read");
    // The page itself (layout guard plus the User guard) reads once too.
    app.page("/profile").await;
    assert_eq!(
        loads_so_far(&app).await,
        before + 2,
        "one for the probe, one for the profile"
    );
}

async fn anonymous_requests_never_touch_the_database(backend: Backend) {
    let app = TestApp::spawn_custom(backend, |f| f, rocket::routes![loads]).await;
    app.page("/").await;
    app.get("/profile").await;
    app.get("/api/me").await;
    assert_eq!(loads_so_far(&app).await, 0);
}

async fn unknown_pages_get_a_404_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/no-such-page").await;
    assert_eq!(response.status().code, 404);
    let body = response.into_string().await.unwrap_or_default();
    assert!(body.contains("There is no page at this address."), "{body}");
    let response = app.get_json("/api/nothing").await;
    assert_eq!(response.status().code, 404);
    assert_eq!(
        response.into_string().await.as_deref(),
        Some(r#"{"error":"not found"}"#)
    );
}

async fn error_pages_keep_the_signed_in_navigation(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;

    let response = app.get("/no-such-page").await;
    assert_eq!(response.status().code, 404);
    let body = response.into_string().await.unwrap_or_default();
    assert!(
        body.contains("<title>Error: Page not found · wristband</title>"),
        "{body}"
    );
    assert!(body.contains("<h1>Page not found</h1>"), "{body}");
    assert!(
        body.contains(r#"<strong id="current-user">ada</strong>"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<form class="inline" method="post" action="/logout">"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<a class="button" id="next-step" href="&#x2F;">Go to the home page</a>"#),
        "{body}"
    );

    // (Tera escapes the slashes.) A refused form: still signed in, and the way back is the form's page.
    let response = app
        .send(
            app.form_request(
                "/settings/delete",
                &[("csrf_token", "stale"), ("password", PASSWORD)],
            )
            .header(rocket::http::Header::new(
                "Referer",
                "http://localhost/settings",
            )),
        )
        .await;
    assert_eq!(response.status().code, 403);
    let body = response.into_string().await.unwrap_or_default();
    assert!(body.contains("<h1>This form has expired</h1>"), "{body}");
    assert!(
        body.contains(r#"<strong id="current-user">ada</strong>"#),
        "{body}"
    );
    assert!(
        body.contains(
            r#"<a class="button" id="next-step" href="&#x2F;settings">Back to the form</a>"#
        ),
        "{body}"
    );

    // The API's answers are unchanged.
    let response = app.get_json("/api/nothing").await;
    assert_eq!(response.status().code, 404);
    assert_eq!(
        response.into_string().await.as_deref(),
        Some(r#"{"error":"not found"}"#)
    );
}
