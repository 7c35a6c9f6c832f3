//! Creating accounts.

use crate::common::{assert_redirect_to, has_attr, set_cookie, Backend, TestApp, PASSWORD};
use rocket::futures::future::join_all;

backend_tests!(
    registering_logs_the_new_user_in,
    invalid_input_is_shown_next_to_each_field,
    mismatched_confirmation_is_refused,
    taken_usernames_are_refused_in_any_case,
    passwords_of_72_bytes_work_and_73_are_refused,
    simultaneous_registrations_make_one_account,
    the_register_page_has_the_contract_fields,
    registrations_are_throttled_per_address,
    simultaneous_registrations_get_exactly_the_limit,
);

async fn count_users(app: &TestApp) -> i64 {
    let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(app.pool())
        .await
        .expect("count");
    row.0
}

async fn registering_logs_the_new_user_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.register("grace", PASSWORD).await;
    assert_redirect_to(&response, "/");
    let cookie = set_cookie(&response, "user_id").expect("logged in");
    assert!(has_attr(cookie, "HttpOnly") && has_attr(cookie, "SameSite=Lax"));
    drop(response);

    let home = app.page("/").await;
    assert!(
        home.contains("Welcome, grace! Your account is ready."),
        "{home}"
    );
    assert!(home.contains(r#"<strong id="current-user">grace</strong>"#));
    let me = app.get("/api/me").await;
    assert_eq!(me.status().code, 200);
    let body = me.into_string().await.unwrap_or_default();
    assert!(body.contains(r#""username":"grace""#), "{body}");
}

async fn invalid_input_is_shown_next_to_each_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .post_with_token(
            "/register",
            &[
                ("username", "a b"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(response.status().code, 422);
    assert_eq!(set_cookie(&response, "user_id"), None);
    let body = response.into_string().await.unwrap_or_default();
    assert!(body.contains(r#"<p class="field-error" id="username-error">Use only letters, digits, &#x27;_&#x27;, &#x27;.&#x27; and &#x27;-&#x27;.</p>"#), "{body}");
    assert!(
        body.contains(
            r#"<p class="field-error" id="password-error">Use at least 8 characters.</p>"#
        ),
        "{body}"
    );
    assert!(
        body.contains(r#"name="username" type="text" value="a b""#),
        "the typed username is kept: {body}"
    );
    assert_eq!(count_users(&app).await, 0);

    let response = app.register("ab", PASSWORD).await;
    assert_eq!(response.status().code, 422);
    let body = response.into_string().await.unwrap_or_default();
    assert!(body.contains("Use 3 to 32 characters."), "{body}");
}

async fn mismatched_confirmation_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .post_with_token(
            "/register",
            &[
                ("username", "grace"),
                ("password", PASSWORD),
                ("password_confirm", "something else"),
            ],
        )
        .await;
    assert_eq!(response.status().code, 422);
    let body = response.into_string().await.unwrap_or_default();
    assert!(
        body.contains(r#"id="password_confirm-error">The passwords do not match.</p>"#),
        "{body}"
    );
    assert_eq!(count_users(&app).await, 0);
}

async fn taken_usernames_are_refused_in_any_case(backend: Backend) {
    let app = TestApp::signed_up(backend, "Grace").await;
    app.logout().await;
    for name in ["Grace", "grace", "GRACE"] {
        let response = app.register(name, PASSWORD).await;
        assert_eq!(response.status().code, 409, "{name}");
        assert_eq!(set_cookie(&response, "user_id"), None);
        let body = response.into_string().await.unwrap_or_default();
        assert!(body.contains("That username is taken."), "{body}");
        assert!(
            body.contains(&format!(r#"type="text" value="{name}""#)),
            "{body}"
        );
    }
    assert_eq!(count_users(&app).await, 1);
}

async fn passwords_of_72_bytes_work_and_73_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let too_long = "p".repeat(73);
    let response = app.register("grace", &too_long).await;
    assert_eq!(response.status().code, 422);
    let body = response.into_string().await.unwrap_or_default();
    assert!(
        body.contains("That is too long: use at most 72 characters (accented letters and emoji count as two or more)."),
        "{body}"
    );
    assert_eq!(count_users(&app).await, 0);

    // 72 bytes of two-byte characters: 36 characters, still 72 bytes.
    let exact = "é".repeat(36);
    assert_redirect_to(&app.register("grace", &exact).await, "/");
    app.logout().await;
    assert_redirect_to(&app.login("grace", &exact).await, "/");
    app.logout().await;
    // bcrypt would truncate; wristband must not accept a longer variant.
    let longer = format!("{exact}x");
    assert_eq!(app.login("grace", &longer).await.status().code, 401);
}

async fn simultaneous_registrations_make_one_account(backend: Backend) {
    // Room for all twenty in the address's budget: this is about the name.
    let app = TestApp::spawn_with(backend, |f| f.merge(("max_registrations_per_ip", 20))).await;
    let token = app.csrf_token().await;
    let attempts = (0..20).map(|i| {
        // Differently cased, all the same name.
        let name = if i % 2 == 0 { "racer" } else { "RACER" };
        app.form_request(
            "/register",
            &[
                ("username", name),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .dispatch()
    });
    let mut codes: Vec<u16> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().code)
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, [[303].as_slice(), &[409; 19]].concat());
    assert_eq!(count_users(&app).await, 1);
}

async fn the_register_page_has_the_contract_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/register").await;
    assert_eq!(response.status().code, 200);
    let body = response.into_string().await.unwrap_or_default();
    for field in ["username", "password", "password_confirm", "csrf_token"] {
        assert!(body.contains(&format!(r#"name="{field}""#)), "{field}");
    }
}

async fn registrations_are_throttled_per_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("max_registrations_per_ip", 3))).await;
    assert_redirect_to(&app.register("amy", PASSWORD).await, "/");
    app.clock.advance(60);
    assert_redirect_to(&app.register("bob", PASSWORD).await, "/");
    // Taken names still get 409, and cost no place.
    assert_eq!(app.register("amy", PASSWORD).await.status().code, 409);
    app.clock.advance(540);
    assert_redirect_to(&app.register("cat", PASSWORD).await, "/");

    let response = app.register("dan", PASSWORD).await;
    assert_eq!(response.status().code, 429);
    // The first of the three leaves the hour in 50 minutes.
    assert_eq!(response.headers().get_one("Retry-After"), Some("3000"));
    assert_eq!(set_cookie(&response, "user_id"), None);
    let body = response.into_string().await.unwrap_or_default();
    assert!(
        body.contains(
            "Too many accounts have been created from your network. Try again in 50 minutes."
        ),
        "{body}"
    );
    // Over the limit, a taken name is refused the same way: nothing is looked up.
    assert_eq!(app.register("amy", PASSWORD).await.status().code, 429);
    assert_eq!(count_users(&app).await, 3);

    // Another address, or an IPv6 client, has its own budget.
    app.set_remote("2001:db8:5:6::1");
    assert_redirect_to(&app.register("dan", PASSWORD).await, "/");
    app.set_remote("127.0.0.1");
    // When the first place leaves the hour, one more account may be made.
    app.clock.advance(3000);
    assert_redirect_to(&app.register("eve", PASSWORD).await, "/");
    assert_eq!(app.register("fay", PASSWORD).await.status().code, 429);
}

async fn simultaneous_registrations_get_exactly_the_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("max_registrations_per_ip", 5))).await;
    let token = app.csrf_token().await;
    let names: Vec<String> = (0..50).map(|i| format!("user{i}")).collect();
    let attempts = names.iter().map(|name| {
        app.form_request(
            "/register",
            &[
                ("username", name.as_str()),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .dispatch()
    });
    let responses = join_all(attempts).await;
    let mut codes: Vec<u16> = responses.iter().map(|r| r.status().code).collect();
    assert!(responses
        .iter()
        .filter(|r| r.status().code == 429)
        .all(|r| r.headers().get_one("Retry-After") == Some("3600")));
    codes.sort_unstable();
    assert_eq!(codes, [[303; 5].as_slice(), &[429; 45]].concat());
    assert_eq!(count_users(&app).await, 5);
}
