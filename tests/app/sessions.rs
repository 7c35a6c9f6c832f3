//! The registry of wristbands: every `user_id` cookie the server issued is
//! known to it, so logging out, ending a session, changing the password,
//! deactivation and expiry refuse that cookie on its next request, however
//! often a client replays it.

use crate::common::{assert_redirect_to, Backend, Jar, TestApp, PASSWORD, T0};
use rocket::http::{Cookie, Header, Method};
use sqlx::Row;
use wristband::sessions::{self, TokenHash};

backend_tests!(
    a_login_registers_its_wristband_by_hash,
    an_unregistered_wristband_is_anonymous_and_removed,
    last_seen_is_written_at_most_every_five_minutes,
    a_replayed_cookie_is_anonymous_after_logout,
    logging_in_again_ends_the_wristband_it_replaces,
    a_remembered_wristband_ends_after_remember_days,
    a_browser_session_ends_after_idle_hours_unused,
    a_used_browser_session_stays_alive,
    settings_lists_live_sessions_and_marks_this_browser,
    ending_another_browsers_session_signs_it_out,
    ending_this_browsers_session_logs_it_out,
    end_others_keeps_only_this_session,
    nobody_can_end_another_users_session,
    a_malformed_session_id_changes_nothing,
    ending_sessions_needs_a_csrf_token,
    a_password_change_ends_every_other_session,
    deactivation_ends_sessions_for_good,
    deleting_the_account_removes_its_sessions,
    expired_sessions_are_pruned,
);

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

/// Logs in as `username` from a browser that says it is `agent`.
async fn login_as(app: &TestApp, username: &str, agent: &str, remember: bool) {
    let token = app.csrf_token().await;
    let mut fields = vec![
        ("username", username),
        ("password", PASSWORD),
        ("csrf_token", token.as_str()),
    ];
    if remember {
        fields.push(("remember", "on"));
    }
    let request = app
        .form_request("/login", &fields)
        .header(Header::new("User-Agent", agent.to_string()));
    let response = app.send(request).await;
    assert_redirect_to(&response, "/");
}

async fn status_of(app: &TestApp, path: &str) -> u16 {
    app.get_json(path).await.status().code
}

async fn session_count(app: &TestApp, username: &str) -> i64 {
    sqlx::query(
        "SELECT COUNT(*) AS n FROM wristband_sessions s \
         JOIN users u ON CAST(u.id AS TEXT) = s.user_id \
         WHERE u.username = $1",
    )
    .bind(username)
    .fetch_one(app.pool())
    .await
    .expect("count sessions")
    .get("n")
}

/// The public session ids offered by the settings page's "end" buttons.
fn session_ids_in(html: &str) -> Vec<String> {
    html.match_indices(r#"name="session" value=""#)
        .map(|(at, m)| {
            let start = at + m.len();
            let end = html[start..].find('"').expect("closing quote");
            html[start..start + end].to_string()
        })
        .collect()
}

/// Registers alice (signed in here) and signs her in from a second browser;
/// returns the second browser's cookies with this browser's in place.
async fn alice_on_two_browsers(backend: Backend) -> (TestApp, Jar) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.register("alice", PASSWORD).await.status().code, 303);
    let first = app.switch_browser(Jar::new());
    login_as(&app, "alice", SAFARI, false).await;
    let second = app.switch_browser(first);
    (app, second)
}

async fn a_login_registers_its_wristband_by_hash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.register("ada", PASSWORD).await.status().code, 303);
    app.logout().await;
    login_as(&app, "ada", FIREFOX, true).await;

    let value = app.cookie("user_id").expect("a wristband");
    let row = sqlx::query(
        "SELECT user_id, token_hash, remembered, created_at, last_seen, expires_at, client_ip, \
                user_agent FROM wristband_sessions",
    )
    .fetch_one(app.pool())
    .await
    .expect("exactly one live session");
    assert_eq!(
        row.get::<String, _>("token_hash"),
        TokenHash::of(&value).as_str()
    );
    assert!(!row.get::<String, _>("token_hash").contains(&value));
    assert_eq!(row.get::<i64, _>("remembered"), 1);
    assert_eq!(row.get::<i64, _>("created_at"), T0);
    assert_eq!(row.get::<i64, _>("last_seen"), T0);
    assert_eq!(row.get::<i64, _>("expires_at"), T0 + 30 * 86_400);
    assert_eq!(row.get::<String, _>("client_ip"), "127.0.0.1");
    assert_eq!(row.get::<String, _>("user_agent"), FIREFOX);
    assert_eq!(status_of(&app, "/api/me").await, 200);
}

async fn an_unregistered_wristband_is_anonymous_and_removed(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    sqlx::query("DELETE FROM wristband_sessions")
        .execute(app.pool())
        .await
        .expect("forget the registry");
    let response = app.get("/").await;
    assert_eq!(response.status().code, 200);
    let removal = crate::common::set_cookie(&response, "user_id").expect("the cookie comes off");
    assert_eq!(crate::common::attr(removal, "Max-Age"), Some("0"));
    let body = response.into_string().await.unwrap_or_default();
    assert!(body.contains(r#"href="/login""#), "{body}");
    assert_eq!(app.cookie("user_id"), None);
}

async fn last_seen_of_the_only_session(app: &TestApp) -> i64 {
    sqlx::query("SELECT last_seen FROM wristband_sessions")
        .fetch_one(app.pool())
        .await
        .expect("one session")
        .get("last_seen")
}

async fn last_seen_is_written_at_most_every_five_minutes(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clock.advance(299);
    assert_eq!(status_of(&app, "/api/me").await, 200);
    assert_eq!(last_seen_of_the_only_session(&app).await, T0);
    app.clock.advance(1);
    assert_eq!(status_of(&app, "/api/me").await, 200);
    assert_eq!(last_seen_of_the_only_session(&app).await, T0 + 300);
    app.clock.advance(60);
    assert_eq!(status_of(&app, "/api/me").await, 200);
    assert_eq!(last_seen_of_the_only_session(&app).await, T0 + 300);
}

async fn a_replayed_cookie_is_anonymous_after_logout(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let copied = app.cookie("user_id").expect("a wristband");
    assert_redirect_to(&app.logout().await, "/");
    assert_eq!(session_count(&app, "ada").await, 0);

    // Another client (curl with the copied value) gets nothing.
    let replay = app
        .client
        .req(Method::Get, "/api/me")
        .cookie(Cookie::new("user_id", copied.clone()))
        .dispatch()
        .await;
    assert_eq!(replay.status().code, 401);
    // Nor does the same browser putting it back, and it is told to drop it.
    app.set_cookie("user_id", &copied);
    let me = app.get_json("/api/me").await;
    assert_eq!(me.status().code, 401);
    let removal = crate::common::set_cookie(&me, "user_id").expect("the cookie comes off");
    assert_eq!(crate::common::attr(removal, "Max-Age"), Some("0"));
    drop(me);
    app.set_cookie("user_id", &copied);
    assert_redirect_to(&app.get("/profile").await, "/login?next=%2Fprofile");
}

async fn logging_in_again_ends_the_wristband_it_replaces(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let old = app.cookie("user_id").expect("a wristband");
    login_as(&app, "ada", FIREFOX, false).await;
    assert_ne!(app.cookie("user_id").as_deref(), Some(old.as_str()));
    assert_eq!(session_count(&app, "ada").await, 1);
    app.set_cookie("user_id", &old);
    assert_eq!(status_of(&app, "/api/me").await, 401);
}

async fn a_remembered_wristband_ends_after_remember_days(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    login_as(&app, "ada", FIREFOX, true).await;
    // Used every day, so idleness never ends it; only its lifetime does.
    for _ in 0..29 {
        app.clock.advance(86_400);
        assert_eq!(status_of(&app, "/api/me").await, 200);
    }
    app.clock.advance(86_399);
    assert_eq!(status_of(&app, "/api/me").await, 200);
    app.clock.advance(1);
    // The browser still sends it (its Max-Age was not reached on this clock).
    assert!(app.cookie("user_id").is_some());
    assert_eq!(status_of(&app, "/api/me").await, 401);
}

async fn a_browser_session_ends_after_idle_hours_unused(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.clock.advance(24 * 3_600 - 1);
    assert_eq!(status_of(&app, "/api/me").await, 200);
    // That use moved the idle expiry on; a full day of silence ends it.
    app.clock.advance(24 * 3_600);
    assert_eq!(status_of(&app, "/api/me").await, 401);
}

async fn a_used_browser_session_stays_alive(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("session_idle_hours", 2))).await;
    assert_eq!(app.register("ada", PASSWORD).await.status().code, 303);
    for _ in 0..10 {
        app.clock.advance(3_600);
        assert_eq!(status_of(&app, "/api/me").await, 200);
    }
    app.clock.advance(2 * 3_600);
    assert_eq!(status_of(&app, "/api/me").await, 401);
}

async fn settings_lists_live_sessions_and_marks_this_browser(backend: Backend) {
    let (app, _second) = alice_on_two_browsers(backend).await;
    let page = app.page("/settings").await;
    assert!(page.contains("Where you're signed in"), "{page}");
    assert!(page.contains("Safari on iPhone"), "{page}");
    assert!(page.contains("127.0.0.1"), "{page}");
    assert_eq!(page.matches("this browser").count(), 1, "{page}");
    let ids = session_ids_in(&page);
    assert_eq!(ids.len(), 2, "{page}");
    // Public ids, never the hashes.
    let hashes: Vec<String> = sqlx::query("SELECT token_hash FROM wristband_sessions")
        .fetch_all(app.pool())
        .await
        .expect("hashes")
        .iter()
        .map(|row| row.get("token_hash"))
        .collect();
    for hash in hashes {
        assert!(!page.contains(&hash), "the page shows a token hash");
    }
}

/// The public id of the session whose browser says it is Safari.
async fn safari_session(app: &TestApp) -> String {
    sqlx::query("SELECT public_id FROM wristband_sessions WHERE user_agent = $1")
        .bind(SAFARI)
        .fetch_one(app.pool())
        .await
        .expect("the Safari session")
        .get("public_id")
}

async fn ending_another_browsers_session_signs_it_out(backend: Backend) {
    let (app, second) = alice_on_two_browsers(backend).await;
    let safari = safari_session(&app).await;
    assert!(session_ids_in(&app.page("/settings").await).contains(&safari));
    let ended = app
        .post_with_token("/settings/sessions/end", &[("session", &safari)])
        .await;
    assert_redirect_to(&ended, "/settings");
    let page = app.page("/settings").await;
    assert!(page.contains("That session has ended"), "{page}");
    // Gone from the list (the sign-in history still names it).
    assert_eq!(session_ids_in(&page).len(), 1, "{page}");
    assert!(!session_ids_in(&page).contains(&safari), "{page}");

    app.switch_browser(second);
    assert_redirect_to(&app.get("/settings").await, "/login?next=%2Fsettings");
}

async fn ending_this_browsers_session_logs_it_out(backend: Backend) {
    let (app, second) = alice_on_two_browsers(backend).await;
    let this: String =
        sqlx::query("SELECT public_id FROM wristband_sessions WHERE user_agent = ''")
            .fetch_one(app.pool())
            .await
            .expect("this browser's session")
            .get("public_id");
    let ended = app
        .post_with_token("/settings/sessions/end", &[("session", &this)])
        .await;
    assert_redirect_to(&ended, "/settings");
    let removal = crate::common::set_cookie(&ended, "user_id").expect("the wristband comes off");
    assert_eq!(crate::common::attr(removal, "Max-Age"), Some("0"));
    drop(ended);
    assert_redirect_to(&app.get("/settings").await, "/login?next=%2Fsettings");
    // The other browser is still signed in.
    app.switch_browser(second);
    assert_eq!(status_of(&app, "/api/me").await, 200);
}

async fn end_others_keeps_only_this_session(backend: Backend) {
    let (app, second) = alice_on_two_browsers(backend).await;
    let first = app.switch_browser(Jar::new());
    login_as(&app, "alice", FIREFOX, true).await;
    let third = app.switch_browser(first);
    assert_eq!(session_count(&app, "alice").await, 3);

    let ended = app
        .post_with_token("/settings/sessions/end-others", &[])
        .await;
    assert_redirect_to(&ended, "/settings");
    drop(ended);
    assert!(app
        .page("/settings")
        .await
        .contains("Your 2 other sessions have ended."));
    assert_eq!(session_count(&app, "alice").await, 1);
    assert_eq!(status_of(&app, "/api/me").await, 200);
    for other in [second, third] {
        let mine = app.switch_browser(other);
        assert_eq!(status_of(&app, "/api/me").await, 401);
        app.switch_browser(mine);
    }
}

async fn nobody_can_end_another_users_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.register("alice", PASSWORD).await.status().code, 303);
    let alice_session: String = sqlx::query("SELECT public_id FROM wristband_sessions")
        .fetch_one(app.pool())
        .await
        .expect("alice's session")
        .get("public_id");
    let alice = app.switch_browser(Jar::new());
    assert_eq!(app.register("bob", PASSWORD).await.status().code, 303);

    let tried = app
        .post_with_token("/settings/sessions/end", &[("session", &alice_session)])
        .await;
    assert_redirect_to(&tried, "/settings");
    drop(tried);
    assert!(app
        .page("/settings")
        .await
        .contains("That session had already ended."));
    assert_eq!(
        app.post_with_token("/settings/sessions/end-others", &[])
            .await
            .status()
            .code,
        303
    );
    assert_eq!(session_count(&app, "alice").await, 1);
    app.switch_browser(alice);
    assert_eq!(status_of(&app, "/api/me").await, 200);
}

async fn a_malformed_session_id_changes_nothing(backend: Backend) {
    let (app, _second) = alice_on_two_browsers(backend).await;
    for junk in [
        "",
        "' OR 1=1 --",
        &"a".repeat(5_000),
        "0123456789ABCDEF0123456789ABCDEF",
    ] {
        let tried = app
            .post_with_token("/settings/sessions/end", &[("session", junk)])
            .await;
        assert_redirect_to(&tried, "/settings");
    }
    assert_eq!(session_count(&app, "alice").await, 2);
}

async fn ending_sessions_needs_a_csrf_token(backend: Backend) {
    let (app, _second) = alice_on_two_browsers(backend).await;
    let safari = safari_session(&app).await;
    let forged = app
        .post_form("/settings/sessions/end", &[("session", &safari)])
        .await;
    assert_eq!(forged.status().code, 403);
    let forged = app.post_form("/settings/sessions/end-others", &[]).await;
    assert_eq!(forged.status().code, 403);
    assert_eq!(session_count(&app, "alice").await, 2);
}

async fn a_password_change_ends_every_other_session(backend: Backend) {
    let (app, second) = alice_on_two_browsers(backend).await;
    let changed = app
        .post_with_token(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new password"),
                ("new_password_confirm", "a brand new password"),
            ],
        )
        .await;
    assert_redirect_to(&changed, "/settings");
    drop(changed);
    assert_eq!(status_of(&app, "/api/me").await, 200);
    assert_eq!(session_count(&app, "alice").await, 1);
    app.switch_browser(second);
    assert_eq!(status_of(&app, "/api/me").await, 401);
}

async fn deactivation_ends_sessions_for_good(backend: Backend) {
    let (app, second) = alice_on_two_browsers(backend).await;
    let alice = wristband_app::users::Username::parse("alice").expect("valid");
    assert!(
        wristband_app::users::set_active(app.pool(), &alice, false, T0)
            .await
            .expect("deactivate")
    );
    assert_eq!(session_count(&app, "alice").await, 0);
    assert_eq!(status_of(&app, "/api/me").await, 401);

    assert!(
        wristband_app::users::set_active(app.pool(), &alice, true, T0)
            .await
            .expect("reactivate")
    );
    // Neither wristband comes back with the account.
    assert_eq!(status_of(&app, "/api/me").await, 401);
    app.switch_browser(second);
    assert!(app.cookie("user_id").is_some());
    assert_eq!(status_of(&app, "/api/me").await, 401);
}

async fn deleting_the_account_removes_its_sessions(backend: Backend) {
    let (app, _second) = alice_on_two_browsers(backend).await;
    let deleted = app
        .post_with_token("/settings/delete", &[("password", PASSWORD)])
        .await;
    assert_redirect_to(&deleted, "/");
    drop(deleted);
    let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM wristband_sessions")
        .fetch_one(app.pool())
        .await
        .expect("count")
        .get("n");
    assert_eq!(left, 0);
}

async fn expired_sessions_are_pruned(backend: Backend) {
    let (app, _second) = alice_on_two_browsers(backend).await;
    let none = sessions::prune_expired(app.pool(), T0, 100).await;
    assert_eq!(none.expect("prune"), 0);
    let idle = 24 * 3_600;
    // In batches: one at a time here.
    let one = sessions::prune_expired(app.pool(), T0 + idle, 1).await;
    assert_eq!(one.expect("prune"), 1);
    assert_eq!(session_count(&app, "alice").await, 1);
    // The retention task's pass prunes them too.
    let settings = app
        .client
        .rocket()
        .state::<wristband::Settings>()
        .expect("settings");
    let pruned = wristband::retention::prune(app.pool(), settings, T0 + idle)
        .await
        .expect("prune");
    assert_eq!(pruned.sessions, 1);
    assert_eq!(session_count(&app, "alice").await, 0);
}
