//! Logging in and out: cookies, messages, redirects.

use crate::common::{assert_redirect_to, attr, has_attr, set_cookie, Backend, TestApp, PASSWORD};

backend_tests!(
    login_sets_a_browser_session_wristband,
    remember_me_lasts_remember_days,
    remember_days_follows_config,
    wrong_password_and_unknown_user_look_the_same,
    failed_login_keeps_the_typed_username,
    login_follows_a_safe_next,
    login_ignores_hostile_next,
    login_page_carries_only_a_safe_next,
    usernames_match_in_any_case,
    logout_removes_the_wristband,
    logout_when_anonymous_still_goes_home,
    release_profile_marks_cookies_secure,
    cookie_names_follow_secure,
);

async fn login_sets_a_browser_session_wristband(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;

    let response = app.login("ada", PASSWORD).await;
    assert_redirect_to(&response, "/");
    let cookie = set_cookie(&response, "user_id").expect("user_id is set");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(has_attr(cookie, flag), "{flag} missing: {cookie}");
    }
    assert_eq!(attr(cookie, "Expires"), None, "a session cookie: {cookie}");
    assert_eq!(attr(cookie, "Max-Age"), None, "a session cookie: {cookie}");
    assert!(
        !has_attr(cookie, "Secure"),
        "debug profile is plain HTTP: {cookie}"
    );
    // The value is encrypted: the id is not readable in it.
    let value = cookie.split(';').next().unwrap_or_default();
    assert!(value.len() > "user_id=1".len() + 20, "{value}");

    let home = app.page("/").await;
    assert!(
        home.contains(r#"<strong id="current-user">ada</strong>"#),
        "{home}"
    );
}

async fn remember_me_lasts_remember_days(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;

    let response = app.login_remembered("ada", PASSWORD).await;
    assert_redirect_to(&response, "/");
    let cookie = set_cookie(&response, "user_id").expect("user_id is set");
    assert_eq!(
        attr(cookie, "Max-Age"),
        Some("2592000"),
        "30 days: {cookie}"
    );
    assert!(attr(cookie, "Expires").is_some(), "{cookie}");
    assert!(
        has_attr(cookie, "HttpOnly")
            && has_attr(cookie, "SameSite=Lax")
            && has_attr(cookie, "Path=/")
    );
}

async fn remember_days_follows_config(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("remember_days", 7))).await;
    app.register("ada", PASSWORD).await;
    app.logout().await;
    let response = app.login_remembered("ada", PASSWORD).await;
    let cookie = set_cookie(&response, "user_id").expect("user_id is set");
    assert_eq!(attr(cookie, "Max-Age"), Some("604800"), "{cookie}");
}

/// The login page without its per-render parts (the masked CSRF token).
fn without_tokens(html: &str) -> String {
    html.lines()
        .filter(|l| !l.contains("csrf_token"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn wrong_password_and_unknown_user_look_the_same(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;

    let wrong = app.login("ada", "not the password").await;
    assert_eq!(wrong.status().code, 401);
    assert_eq!(set_cookie(&wrong, "user_id"), None);
    let wrong_body = wrong.into_string().await.unwrap_or_default();
    assert!(
        wrong_body.contains("Invalid username or password."),
        "{wrong_body}"
    );

    let unknown = app.login("nobody", "not the password").await;
    assert_eq!(unknown.status().code, 401);
    let unknown_body = unknown.into_string().await.unwrap_or_default();
    // Same message, same page: only the username typed differs.
    assert_eq!(
        without_tokens(&wrong_body).replace("value=\"ada\"", "value=\"nobody\""),
        without_tokens(&unknown_body)
    );
    // Still anonymous.
    assert!(app.page("/").await.contains(r#"href="/login""#));
}

async fn failed_login_keeps_the_typed_username(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.login("someone", "whatever-it-is").await;
    assert_eq!(response.status().code, 401);
    let body = response.into_string().await.unwrap_or_default();
    assert!(
        body.contains(r#"name="username" type="text" value="someone""#),
        "{body}"
    );
    assert_eq!(body.matches("Invalid username or password.").count(), 1);
}

async fn login_follows_a_safe_next(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    let response = app
        .post_with_token(
            "/login",
            &[
                ("username", "ada"),
                ("password", PASSWORD),
                ("next", "/profile?tab=1"),
            ],
        )
        .await;
    assert_redirect_to(&response, "/profile?tab=1");
}

async fn login_ignores_hostile_next(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    for next in [
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
        "/%2F%2Fevil.example",
        "/\t/evil.example",
        "/profile\r\nSet-Cookie: x=1",
    ] {
        app.logout().await;
        let response = app
            .post_with_token(
                "/login",
                &[("username", "ada"), ("password", PASSWORD), ("next", next)],
            )
            .await;
        assert_redirect_to(&response, "/");
    }
}

async fn login_page_carries_only_a_safe_next(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = app.page("/login?next=%2Fprofile").await;
    // Tera's HTML escaping writes '/' as "&#x2F;"; browsers read it back as '/'.
    assert!(
        page.contains(r#"<input type="hidden" name="next" value="&#x2F;profile">"#),
        "{page}"
    );
    // The field is always there, empty when there is no (safe) next.
    for path in ["/login?next=%2F%2Fevil.example", "/login"] {
        let page = app.page(path).await;
        assert!(
            page.contains(r#"<input type="hidden" name="next" value="">"#),
            "{path}: {page}"
        );
        assert!(!page.contains("evil.example"), "{page}");
    }
}

async fn usernames_match_in_any_case(backend: Backend) {
    let app = TestApp::signed_up(backend, "Ada.Lovelace").await;
    app.logout().await;
    assert_redirect_to(&app.login("ada.LOVELACE", PASSWORD).await, "/");
    // The name is shown as it was registered.
    assert!(app.page("/profile").await.contains("Ada.Lovelace"));
}

async fn logout_removes_the_wristband(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let response = app.logout().await;
    assert_redirect_to(&response, "/");
    let removal = set_cookie(&response, "user_id").expect("a removal cookie");
    assert!(removal.starts_with("user_id=;"), "{removal}");
    assert_eq!(attr(removal, "Max-Age"), Some("0"), "{removal}");
    // Browsers only delete a cookie whose Path (and flags) match.
    assert!(
        has_attr(removal, "Path=/") && has_attr(removal, "SameSite=Lax"),
        "{removal}"
    );
    drop(response);

    let home = app.page("/").await;
    assert!(home.contains("You have been logged out."), "{home}");
    assert!(home.contains(r#"href="/login""#));
    assert_redirect_to(&app.get("/profile").await, "/login?next=%2Fprofile");
}

async fn logout_when_anonymous_still_goes_home(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_redirect_to(&app.logout().await, "/");
}

/// The names of the cookies of ours a response sets (Rocket's own `_flash`
/// is Rocket's business).
fn names_set(response: &rocket::local::asynchronous::LocalResponse<'_>) -> Vec<String> {
    response
        .headers()
        .get("Set-Cookie")
        .filter_map(|h| h.split('=').next().map(str::to_string))
        .filter(|name| name != "_flash")
        .collect()
}

async fn release_profile_marks_cookies_secure(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("bcrypt_cost", 10))
            .select(rocket::Config::RELEASE_PROFILE)
    })
    .await;
    let response = app.register("ada", PASSWORD).await;
    assert_redirect_to(&response, "/");
    let mut names = names_set(&response);
    names.sort();
    // Registration rotates the CSRF secret and leaves a device cookie, so
    // all four are set.
    assert_eq!(
        names,
        [
            "__Host-csrf",
            "__Host-device",
            "__Host-fresh",
            "__Host-user_id"
        ]
    );
    for name in &names {
        let cookie = set_cookie(&response, name).expect("set");
        for flag in ["Secure", "HttpOnly", "Path=/", "SameSite=Lax"] {
            assert!(has_attr(cookie, flag), "{flag}: {cookie}");
        }
        // `__Host-` cookies must have no Domain.
        assert_eq!(attr(cookie, "Domain"), None, "{cookie}");
    }
    drop(response);
    assert_eq!(app.get("/profile").await.status().code, 200);
    let removal = app.logout().await;
    let cookie = set_cookie(&removal, "__Host-user_id").expect("removal");
    assert!(
        has_attr(cookie, "Secure"),
        "the removal matches the original: {cookie}"
    );
    assert_eq!(attr(cookie, "Max-Age"), Some("0"), "{cookie}");
}

/// `Secure` (and `__Host-` names) in every profile but `debug`, unless
/// `secure_cookies` says otherwise; without `Secure`, the plain names.
async fn cookie_names_follow_secure(backend: Backend) {
    for (profile, secure_cookies, secure) in [
        ("staging", None, true),
        ("release", Some(false), false),
        ("debug", Some(true), true),
        ("debug", None, false),
    ] {
        let app = TestApp::spawn_with(backend, |f| {
            let f = f.merge(("bcrypt_cost", 10));
            let f = match secure_cookies {
                Some(on) => f.merge(("secure_cookies", on)),
                None => f,
            };
            f.select(profile)
        })
        .await;
        let response = app.register("ada", PASSWORD).await;
        assert_redirect_to(&response, "/");
        let mut names = names_set(&response);
        names.sort();
        let expected = if secure {
            [
                "__Host-csrf",
                "__Host-device",
                "__Host-fresh",
                "__Host-user_id",
            ]
        } else {
            ["csrf", "device", "fresh", "user_id"]
        };
        assert_eq!(names, expected, "{profile} {secure_cookies:?}");
        for name in &names {
            let cookie = set_cookie(&response, name).expect("set");
            assert_eq!(has_attr(cookie, "Secure"), secure, "{cookie}");
        }
        drop(response);
        // The app reads back the names it writes.
        assert_eq!(app.get("/profile").await.status().code, 200, "{profile}");
        // The other name means nothing here.
        let value = app.cookie(expected[3]).expect("wristband");
        let other = if secure { "user_id" } else { "__Host-user_id" };
        app.set_cookie(other, &value);
        app.set_cookie(expected[3], "gone");
        assert_eq!(app.get("/api/me").await.status().code, 401, "{profile}");
    }
}
