//! The login audit trail on one database connection, in the order that
//! once broke PostgreSQL: an attempt with no user id and no user agent
//! first, then one with both.

use crate::common::{assert_redirect_to, Backend, TestApp, PASSWORD};
use rocket::http::Header;

backend_tests!(a_first_attempt_without_a_user_does_not_break_later_logins);

async fn a_first_attempt_without_a_user_does_not_break_later_logins(backend: Backend) {
    // One connection, so every attempt reuses the statement the first one
    // prepared.
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("databases.wristband.max_connections", 1))
    })
    .await;
    assert_eq!(app.login("nobody", PASSWORD).await.status().code, 401);
    app.register("ada", PASSWORD).await;
    app.logout().await;

    let token = app.csrf_token().await;
    let fields = [
        ("username", "ada"),
        ("password", PASSWORD),
        ("csrf_token", token.as_str()),
    ];
    let response = app
        .send(
            app.form_request("/login", &fields)
                .header(Header::new("User-Agent", "TestBrowser/1.0")),
        )
        .await;
    assert_redirect_to(&response, "/");
}
