//! Brute-force throttling and the login audit trail.

use crate::common::{assert_redirect_to, Backend, TestApp, PASSWORD};
use rocket::futures::future::join_all;
use rocket::http::Header;
use rocket::local::asynchronous::LocalRequest;
use rocket_db_pools::Database;
use wristband::attempts::{self, Attempt, FailureScope, Outcome};
use wristband::DbPool;
use wristband::Hasher;
use wristband_app::db::Db;

/// The device cookie's name in the debug profile tests run in.
const DEVICE: &str = "device";

backend_tests!(
    five_failures_lock_the_username,
    throttled_attempts_cost_no_bcrypt,
    the_lock_lifts_when_the_window_passes,
    a_success_clears_the_count,
    names_are_counted_without_regard_to_case,
    unknown_names_are_throttled_too,
    one_address_cannot_spray_many_names,
    wrong_reauth_passwords_count_too,
    limits_follow_config,
    every_attempt_is_recorded,
    settings_shows_recent_sign_ins_and_the_last_failure,
    simultaneous_wrong_passwords_get_exactly_the_limit,
    simultaneous_guesses_from_one_address_get_exactly_its_limit,
    simultaneous_logins_below_the_limit_all_go_through,
    ipv6_clients_are_counted_by_their_64,
    a_stranger_cannot_lock_out_a_known_browser,
    the_address_lock_never_blocks_a_known_browser,
    a_known_browser_that_spends_its_budget_locks_only_itself,
    a_device_cookie_is_long_lived_and_outlives_logout,
    a_flood_of_refusals_adds_one_row_per_minute,
    refusals_are_recorded_once_a_minute_per_key,
);

fn verifications(app: &TestApp) -> u64 {
    app.client
        .rocket()
        .state::<Hasher>()
        .expect("hasher")
        .verifications()
}

async fn fail(app: &TestApp, username: &str, times: usize) {
    for _ in 0..times {
        assert_eq!(
            app.login(username, "wrong password!").await.status().code,
            401
        );
    }
}

async fn five_failures_lock_the_username(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clear_cookies(); // a browser that never signed in here
    fail(&app, "ada", 5).await;

    // Even the right password is refused now.
    let response = app.login("ada", PASSWORD).await;
    assert_eq!(response.status().code, 429);
    assert_eq!(response.headers().get_one("Retry-After"), Some("900"));
    assert_eq!(crate::common::set_cookie(&response, "user_id"), None);
    let body = response.into_string().await.unwrap_or_default();
    assert!(
        body.contains("Too many failed attempts. For your security, try again in 15 minutes."),
        "{body}"
    );
    assert_redirect_to(&app.get("/profile").await, "/login?next=%2Fprofile");

    // The wait shrinks as time passes.
    app.clock.advance(600);
    let response = app.login("ada", PASSWORD).await;
    assert_eq!(response.status().code, 429);
    assert_eq!(response.headers().get_one("Retry-After"), Some("300"));
}

async fn throttled_attempts_cost_no_bcrypt(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clear_cookies(); // a browser that never signed in here
    let before = verifications(&app);
    fail(&app, "ada", 5).await;
    assert_eq!(
        verifications(&app),
        before + 5,
        "one bcrypt check per attempt"
    );
    for _ in 0..3 {
        assert_eq!(app.login("ada", PASSWORD).await.status().code, 429);
    }
    assert_eq!(
        verifications(&app),
        before + 5,
        "none for throttled attempts"
    );
}

async fn the_lock_lifts_when_the_window_passes(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clear_cookies(); // a browser that never signed in here
    fail(&app, "ada", 5).await;
    app.clock.advance(15 * 60 - 1);
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 429);
    app.clock.advance(1);
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn a_success_clears_the_count(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clear_cookies(); // a browser that never signed in here
    fail(&app, "ada", 4).await;
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
    app.clear_cookies(); // a browser that never signed in here
    fail(&app, "ada", 4).await;
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn names_are_counted_without_regard_to_case(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clear_cookies(); // a browser that never signed in here
    for name in ["ADA", "Ada", "aDa", "adA", "ada"] {
        fail(&app, name, 1).await;
    }
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 429);
}

async fn unknown_names_are_throttled_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    fail(&app, "ghost", 5).await;
    let response = app.login("ghost", "wrong password!").await;
    assert_eq!(
        response.status().code,
        429,
        "the same answer as for a real account"
    );
}

async fn one_address_cannot_spray_many_names(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("max_failed_logins_per_ip", 6))).await;
    app.register("ada", PASSWORD).await;
    app.clear_cookies(); // a browser that never signed in here
    for name in ["amy", "bob", "cat", "dan", "eve", "fay"] {
        fail(&app, name, 1).await;
    }
    // A name never tried before, from the same address, is refused.
    let response = app.login("ada", PASSWORD).await;
    assert_eq!(response.status().code, 429);
    assert!(response.headers().get_one("Retry-After").is_some());
}

async fn wrong_reauth_passwords_count_too(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    for _ in 0..5 {
        let response = app
            .post_with_token("/reauth", &[("password", "wrong password!")])
            .await;
        assert_eq!(response.status().code, 401);
    }
    let response = app
        .post_with_token("/reauth", &[("password", PASSWORD)])
        .await;
    assert_eq!(response.status().code, 429);
}

async fn limits_follow_config(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("max_failed_logins", 2))
            .merge(("throttle_window_minutes", 1))
    })
    .await;
    app.register("ada", PASSWORD).await;
    app.clear_cookies(); // a browser that never signed in here
    fail(&app, "ada", 2).await;
    let response = app.login("ada", PASSWORD).await;
    assert_eq!(response.status().code, 429);
    assert_eq!(response.headers().get_one("Retry-After"), Some("60"));
    drop(response);
    app.clock.advance(60);
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn every_attempt_is_recorded(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await; // a sign-in
    app.logout().await;
    fail(&app, "ada", 1).await;
    fail(&app, "nobody", 1).await;
    let token = app.csrf_token().await;
    let response = app
        .send(
            app.form_request(
                "/login",
                &[
                    ("username", "ada"),
                    ("password", PASSWORD),
                    ("csrf_token", &token),
                ],
            )
            .header(Header::new("User-Agent", "TestBrowser/1.0")),
        )
        .await;
    assert_redirect_to(&response, "/");
    drop(response);

    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT login_key, outcome, COALESCE(client_ip, ''), COALESCE(user_agent, '') \
         FROM wristband_login_attempts ORDER BY id",
    )
    .fetch_all(app.pool())
    .await
    .expect("history");
    let outcomes: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(
        outcomes,
        [
            ("ada", "success"),
            ("ada", "logout"),
            ("ada", "wrong_password"),
            ("nobody", "unknown_user"),
            ("ada", "success")
        ]
    );
    assert!(rows.iter().all(|r| r.2 == "127.0.0.1"), "{rows:?}");
    assert_eq!(rows[4].3, "TestBrowser/1.0");

    // The unknown name is recorded without a user; the rest belong to ada.
    let owned: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM wristband_login_attempts WHERE user_id IS NOT NULL")
            .fetch_one(app.pool())
            .await
            .expect("count");
    assert_eq!(owned.0, 4);
}

async fn settings_shows_recent_sign_ins_and_the_last_failure(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let page = app.page("/settings").await;
    assert!(page.contains("No failed attempts on record."), "{page}");
    assert_eq!(
        page.matches(
            r#"<tr><td data-label="When">2023-11-14 22:13 UTC</td><td data-label="Address">127.0.0.1</td>"#
        )
        .count(),
        1,
        "{page}"
    );

    app.logout().await;
    for _ in 0..12 {
        app.clock.advance(60);
        fail(&app, "ada", 1).await;
        app.login("ada", PASSWORD).await;
        app.logout().await;
    }
    app.clock.advance(60);
    fail(&app, "ada", 1).await;
    app.login("ada", PASSWORD).await;
    let page = app.page("/settings").await;
    assert_eq!(
        page.matches(r#"<tr><td data-label="When">"#).count(),
        10,
        "the last ten sign-ins: {page}"
    );
    assert!(
        page.contains("Last failed attempt: 2023-11-14 22:26 UTC from 127.0.0.1 (Wrong password)."),
        "{page}"
    );
}

/// The statuses of `requests`, all sent at once.
async fn send_all(requests: Vec<LocalRequest<'_>>) -> Vec<u16> {
    join_all(requests.into_iter().map(|r| async move {
        let response = r.dispatch().await;
        if response.status().code == 429 {
            assert!(response.headers().get_one("Retry-After").is_some());
        }
        response.status().code
    }))
    .await
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

/// `n` login forms for `username(i)`, all with this browser's token.
async fn logins<'a>(
    app: &'a TestApp,
    n: usize,
    username: impl Fn(usize) -> String,
    password: &str,
) -> Vec<LocalRequest<'a>> {
    let token = app.csrf_token().await;
    (0..n)
        .map(|i| {
            let username = username(i);
            app.form_request(
                "/login",
                &[
                    ("username", &username),
                    ("password", password),
                    ("csrf_token", &token),
                ],
            )
        })
        .collect()
}

async fn rows_with_outcome(app: &TestApp, outcome: &str) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM wristband_login_attempts WHERE outcome = $1")
            .bind(outcome)
            .fetch_one(app.pool())
            .await
            .expect("count");
    n
}

async fn simultaneous_wrong_passwords_get_exactly_the_limit(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clear_cookies(); // the attacker's browser
    let before = verifications(&app);
    let requests = logins(&app, 200, |_| "ada".into(), "wrong password!").await;
    let statuses = send_all(requests).await;
    assert_eq!(verifications(&app) - before, 5, "bcrypt checks");
    assert_eq!((count(&statuses, 401), count(&statuses, 429)), (5, 195));
    // Every place taken became its outcome.
    assert_eq!(rows_with_outcome(&app, "pending").await, 0);
    assert_eq!(rows_with_outcome(&app, "wrong_password").await, 5);
    // And the lock holds for the right password too.
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 429);
}

async fn simultaneous_guesses_from_one_address_get_exactly_its_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("max_failed_logins_per_ip", 10))).await;
    let before = verifications(&app);
    let requests = logins(&app, 200, |i| format!("user{i}"), "wrong password!").await;
    let statuses = send_all(requests).await;
    assert_eq!(verifications(&app) - before, 10, "bcrypt checks");
    assert_eq!((count(&statuses, 401), count(&statuses, 429)), (10, 190));
    // Another address still gets its own budget.
    app.set_remote("192.0.2.1");
    fail(&app, "user0", 1).await;
}

async fn simultaneous_logins_below_the_limit_all_go_through(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clear_cookies();
    let before = verifications(&app);
    let mut requests = logins(&app, 4, |_| "ada".into(), "wrong password!").await;
    requests.extend(logins(&app, 1, |_| "ada".into(), PASSWORD).await);
    let statuses = send_all(requests).await;
    assert_eq!(statuses, [401, 401, 401, 401, 303]);
    assert_eq!(verifications(&app) - before, 5);

    // Many accounts signing in at once from one address (an office).
    let app = TestApp::spawn_with(backend, |f| f.merge(("max_registrations_per_ip", 20))).await;
    for i in 0..12 {
        assert_eq!(
            app.register(&format!("user{i}"), PASSWORD)
                .await
                .status()
                .code,
            303
        );
    }
    app.clear_cookies();
    let statuses = send_all(logins(&app, 12, |i| format!("user{i}"), PASSWORD).await).await;
    assert_eq!(statuses, [303; 12]);
    assert_eq!(rows_with_outcome(&app, "pending").await, 0);
}

async fn ipv6_clients_are_counted_by_their_64(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("max_failed_logins_per_ip", 3))).await;
    app.set_remote("2001:db8:1:2::1");
    fail(&app, "amy", 1).await;
    app.set_remote("2001:db8:1:2::ffff");
    fail(&app, "bob", 1).await;
    app.set_remote("2001:db8:1:2:abcd:ef01:2345:6789");
    fail(&app, "cat", 1).await;
    // Anywhere in that /64: locked.
    app.set_remote("2001:db8:1:2:9::9");
    assert_eq!(app.login("dan", "wrong password!").await.status().code, 429);
    // The next /64 over is somebody else.
    app.set_remote("2001:db8:1:3::1");
    fail(&app, "dan", 1).await;

    // The audit trail keeps the whole address.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT COALESCE(client_ip, ''), client_key FROM wristband_login_attempts \
         WHERE outcome = 'unknown_user' ORDER BY id",
    )
    .fetch_all(app.pool())
    .await
    .expect("rows");
    assert_eq!(
        rows[0],
        (
            "2001:db8:1:2::1".to_string(),
            "2001:db8:1:2::/64".to_string()
        )
    );
    assert_eq!(
        rows[3],
        (
            "2001:db8:1:3::1".to_string(),
            "2001:db8:1:3::/64".to_string()
        )
    );
}

async fn a_stranger_cannot_lock_out_a_known_browser(backend: Backend) {
    // alice signs up in her own browser, which keeps a device cookie.
    let app = TestApp::signed_up(backend, "alice").await;
    app.logout().await;
    let alices_device = app.cookie(DEVICE).expect("a device cookie");
    // bob does too, elsewhere.
    app.clear_cookies();
    app.set_remote("198.51.100.2");
    assert_eq!(app.register("bob", PASSWORD).await.status().code, 303);
    let bobs_device = app.cookie(DEVICE).expect("a device cookie");

    // A stranger locks alice.
    app.clear_cookies();
    app.set_remote("203.0.113.66");
    fail(&app, "alice", 5).await;
    assert_eq!(
        app.login("alice", "wrong password!").await.status().code,
        429
    );

    // A new browser: locked out, even with the right password.
    app.clear_cookies();
    app.set_remote("192.0.2.10");
    assert_eq!(app.login("alice", PASSWORD).await.status().code, 429);

    // alice's own browser, wherever it is, gets in.
    app.clear_cookies();
    app.set_cookie(DEVICE, &alices_device);
    app.set_remote("192.0.2.20");
    assert_redirect_to(&app.login("alice", PASSWORD).await, "/");
    // ... and can confirm its password while the lock lasts.
    let response = app
        .post_with_token("/reauth", &[("password", PASSWORD)])
        .await;
    assert_redirect_to(&response, "/");

    // The stranger with bob's stolen device cookie gets nothing extra for
    // alice: no password check at all.
    app.clear_cookies();
    app.set_cookie(DEVICE, &bobs_device);
    app.set_remote("203.0.113.66");
    let before = verifications(&app);
    for _ in 0..3 {
        assert_eq!(
            app.login("alice", "wrong password!").await.status().code,
            429
        );
    }
    assert_eq!(verifications(&app), before);
    // A planted cookie that does not decrypt counts for nothing either.
    app.set_cookie(DEVICE, "1:0123456789abcdef0123456789abcdef");
    assert_eq!(app.login("alice", PASSWORD).await.status().code, 429);
    assert_eq!(verifications(&app), before);
}

async fn the_address_lock_never_blocks_a_known_browser(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("max_failed_logins_per_ip", 3))).await;
    assert_eq!(app.register("alice", PASSWORD).await.status().code, 303);
    app.logout().await;
    let alices_device = app.cookie(DEVICE).expect("a device cookie");
    // Someone behind the same NAT sprays names until the address is locked.
    app.clear_cookies();
    for name in ["amy", "bob", "cat"] {
        fail(&app, name, 1).await;
    }
    assert_eq!(app.login("alice", PASSWORD).await.status().code, 429);
    // alice's browser behind that NAT still gets in.
    app.set_cookie(DEVICE, &alices_device);
    assert_redirect_to(&app.login("alice", PASSWORD).await, "/");
}

async fn a_known_browser_that_spends_its_budget_locks_only_itself(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("max_failed_logins_per_device", 2))).await;
    assert_eq!(app.register("alice", PASSWORD).await.status().code, 303);
    app.logout().await;
    fail(&app, "alice", 2).await;
    let response = app.login("alice", PASSWORD).await;
    assert_eq!(response.status().code, 429);
    assert_eq!(response.headers().get_one("Retry-After"), Some("900"));
    drop(response);
    // The username is not locked: another browser signs in.
    app.clear_cookies();
    app.set_remote("192.0.2.30");
    assert_redirect_to(&app.login("alice", PASSWORD).await, "/");
}

async fn a_device_cookie_is_long_lived_and_outlives_logout(backend: Backend) {
    let app = TestApp::signed_up(backend, "alice").await;
    app.logout().await;
    let response = app.login("alice", PASSWORD).await;
    let device = crate::common::set_cookie(&response, DEVICE).expect("a device cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(crate::common::has_attr(device, attr), "{attr}: {device}");
    }
    assert_eq!(
        crate::common::attr(device, "Max-Age"),
        Some("31536000"),
        "{device}"
    );
    drop(response);
    let issued = app.cookie(DEVICE).expect("kept");
    let response = app.logout().await;
    assert_eq!(crate::common::set_cookie(&response, DEVICE), None);
    drop(response);
    assert_eq!(app.cookie(DEVICE), Some(issued.clone()));
    // Each login issues a new one.
    app.login("alice", PASSWORD).await;
    assert_ne!(app.cookie(DEVICE), Some(issued));
}

async fn a_flood_of_refusals_adds_one_row_per_minute(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clear_cookies();
    fail(&app, "ada", 5).await;
    let statuses = send_all(logins(&app, 200, |_| "ada".into(), "wrong password!").await).await;
    assert_eq!(count(&statuses, 429), 200);
    assert_eq!(rows_with_outcome(&app, "throttled").await, 1);
    app.clock.advance(59);
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 429);
    assert_eq!(rows_with_outcome(&app, "throttled").await, 1);
    app.clock.advance(1);
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 429);
    assert_eq!(rows_with_outcome(&app, "throttled").await, 2);
}

async fn refusals_are_recorded_once_a_minute_per_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let db: &DbPool = Db::fetch(app.client.rocket()).expect("database");
    // 10,000 refusals over five minutes, fifty at a time: half are guesses
    // at one name from many addresses (refused for the name), half at many
    // names from one address (refused for the address). Two keys, each
    // recorded at 0, 60, 120, 180 and 240 seconds in: ten rows.
    for batch in 0..200i64 {
        let at = crate::common::T0 + batch * 300 / 200;
        join_all((0..50).map(|i| async move {
            let (name, ip) = if i % 2 == 0 {
                ("ada".to_string(), format!("198.51.100.{i}"))
            } else {
                (format!("user{i}"), "203.0.113.9".to_string())
            };
            let attempt = Attempt {
                user_id: None,
                login_key: &name,
                client_ip: Some(&ip),
                client_key: Some(&ip),
                user_agent: None,
                device: None,
                outcome: Outcome::Throttled,
                at,
            };
            let scope = if i % 2 == 0 {
                FailureScope::Login(&name)
            } else {
                FailureScope::Client(&ip)
            };
            attempts::record_throttled(db, &attempt, scope)
                .await
                .expect("recorded");
        }))
        .await;
    }
    assert_eq!(rows_with_outcome(&app, "throttled").await, 10);
}
