//! `wristband users ...` on a temporary database, and its effect on the
//! running app.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::{assert_redirect_to, Backend, TestApp, PASSWORD};

backend_tests!(
    create_then_log_in_through_the_app,
    passwords_come_from_stdin_never_arguments,
    list_shows_every_account_and_its_status,
    deactivate_ends_a_live_session_and_activate_restores_login,
    delete_removes_the_account,
    history_lists_attempts,
    sessions_lists_the_live_wristbands,
    logout_ends_every_session,
    tokens_lists_and_revokes_api_tokens,
    unknown_users_are_an_error,
    prune_removes_history_older_than_history_days,
);

/// Runs the real binary against the app's database, feeding `stdin`.
fn wristband(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    wristband_with(app, args, stdin, &[])
}

/// As [`wristband`], with extra environment variables.
fn wristband_with(app: &TestApp, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wristband"))
        .args(args)
        .envs(env.iter().copied())
        .env(
            "ROCKET_DATABASES",
            format!(r#"{{wristband={{url="{}"}}}}"#, app.db.url()),
        )
        .env("ROCKET_BCRYPT_COST", "4")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("the binary finishes")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn create_then_log_in_through_the_app(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let output = wristband(
        &app,
        &["users", "create", "Grace"],
        &format!("{PASSWORD}\n"),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("created Grace (id "),
        "{}",
        stdout(&output)
    );
    assert_redirect_to(&app.login("grace", PASSWORD).await, "/");

    let again = wristband(
        &app,
        &["users", "create", "GRACE"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        stderr(&again).trim_end(),
        "error: the username GRACE is taken"
    );
}

async fn passwords_come_from_stdin_never_arguments(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let refused = wristband(&app, &["users", "create", "grace", PASSWORD], "");
    assert_eq!(
        refused.status.code(),
        Some(2),
        "clap refuses an extra argument"
    );
    let short = wristband(&app, &["users", "create", "grace"], "short\n");
    assert_eq!(short.status.code(), Some(1));
    assert_eq!(
        stderr(&short).trim_end(),
        "error: password refused: Use at least 8 characters."
    );
    let listed = wristband(&app, &["users", "list"], "");
    assert!(!stdout(&listed).contains("grace"), "nothing was created");
}

async fn list_shows_every_account_and_its_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ada", PASSWORD).await;
    app.register("bob", PASSWORD).await;
    wristband(&app, &["users", "deactivate", "bob"], "");
    let output = wristband(&app, &["users", "list"], "");
    assert!(output.status.success());
    let lines: Vec<String> = stdout(&output)
        .lines()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], "id username status");
    assert!(lines[1].ends_with("ada active"), "{lines:?}");
    assert!(lines[2].ends_with("bob deactivated"), "{lines:?}");
}

async fn deactivate_ends_a_live_session_and_activate_restores_login(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    assert_eq!(app.get("/profile").await.status().code, 200);

    let output = wristband(&app, &["users", "deactivate", "ADA"], "");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim_end(),
        "deactivated ADA: its sessions have ended"
    );
    assert_redirect_to(&app.get("/profile").await, "/login?next=%2Fprofile");
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 403);

    let output = wristband(&app, &["users", "activate", "ada"], "");
    assert!(output.status.success());
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn sessions_lists_the_live_wristbands(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let other = app.switch_browser(crate::common::Jar::new());
    app.login_remembered("ada", PASSWORD).await;
    app.switch_browser(other);
    let output = wristband(&app, &["users", "sessions", "ada"], "");
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("session "), "{out}");
    let ids: Vec<String> = sqlx::query("SELECT public_id FROM wristband_sessions ORDER BY id")
        .fetch_all(app.pool())
        .await
        .expect("sessions")
        .iter()
        .map(|row| sqlx::Row::get(row, "public_id"))
        .collect();
    for id in &ids {
        assert!(out.contains(id.as_str()), "{out}");
    }
    assert!(out.contains("127.0.0.1"), "{out}");
    assert_eq!(out.matches("(remembered)").count(), 1, "{out}");
}

async fn logout_ends_every_session(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let other = app.switch_browser(crate::common::Jar::new());
    app.login("ada", PASSWORD).await;
    let output = wristband(&app, &["users", "logout", "ada"], "");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim_end(), "ended 2 sessions of ada");
    assert_redirect_to(&app.get("/profile").await, "/login?next=%2Fprofile");
    app.switch_browser(other);
    assert_redirect_to(&app.get("/profile").await, "/login?next=%2Fprofile");
    // Ending them does not lock the account: a new login works.
    assert_redirect_to(&app.login("ada", PASSWORD).await, "/");
}

async fn delete_removes_the_account(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let output = wristband(&app, &["users", "delete", "ada"], "");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim_end(),
        "deleted ada and its login history"
    );
    assert_redirect_to(&app.get("/profile").await, "/login?next=%2Fprofile");
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 401);
}

async fn history_lists_attempts(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    app.logout().await;
    app.login("ada", "wrong password!").await;
    let output = wristband(&app, &["users", "history", "ada"], "");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let whats: Vec<&str> = ["Wrong password", "Logged out", "Signed in"]
        .into_iter()
        .filter(|what| text.contains(what))
        .collect();
    assert_eq!(whats.len(), 3, "{text}");
    assert_eq!(
        text.lines().count(),
        4,
        "a header and three entries: {text}"
    );
    assert!(text.contains("127.0.0.1"), "{text}");
}

async fn unknown_users_are_an_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for command in ["deactivate", "activate", "delete", "history"] {
        let output = wristband(&app, &["users", command, "nobody"], "");
        assert_eq!(output.status.code(), Some(1), "{command}");
        assert_eq!(
            stderr(&output).trim_end(),
            "error: no user named nobody",
            "{command}"
        );
    }
    let output = wristband(&app, &["users", "delete", "not a name"], "");
    assert_eq!(output.status.code(), Some(1));
}

async fn prune_removes_history_older_than_history_days(backend: Backend) {
    // The command reads the system clock; the app's manual clock starts in
    // 2023, so its first rows are long past 90 days.
    let app = TestApp::signed_up(backend, "ada").await;
    let system_now = wristband::Clock::system().now();
    app.clock
        .advance(system_now - app.clock.now() - 10 * 86_400);
    assert_eq!(app.login("ada", "wrong password!").await.status().code, 401);

    let output = wristband(&app, &["users", "prune"], "");
    assert!(output.status.success(), "{}", stderr(&output));
    // The wristband from signing up was registered on the test's clock,
    // long before the real now the CLI runs at: expired, so pruned too.
    assert_eq!(
        stdout(&output).trim_end(),
        "pruned 1 login attempt older than 90 days\npruned 1 expired session\npruned 0 expired API tokens"
    );
    let history = stdout(&wristband(&app, &["users", "history", "ada"], ""));
    assert_eq!(history.lines().count(), 2, "{history}");
    assert!(history.contains("Wrong password"), "{history}");

    let again = wristband(&app, &["users", "prune"], "");
    assert_eq!(
        stdout(&again).trim_end(),
        "pruned 0 login attempts older than 90 days\npruned 0 expired sessions\npruned 0 expired API tokens"
    );
    let shorter = wristband_with(
        &app,
        &["users", "prune"],
        "",
        &[("ROCKET_HISTORY_DAYS", "7")],
    );
    assert_eq!(
        stdout(&shorter).trim_end(),
        "pruned 1 login attempt older than 7 days\npruned 0 expired sessions\npruned 0 expired API tokens"
    );
}

async fn tokens_lists_and_revokes_api_tokens(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let made = app
        .post_with_token("/settings/tokens", &[("name", "deploy script")])
        .await;
    let page = made.into_string().await.unwrap_or_default();
    let at = page.find("wb_").expect("a token");
    let token = page[at..at + 67].to_string();

    let output = wristband(&app, &["users", "tokens", "ada"], "");
    assert!(output.status.success(), "{}", stderr(&output));
    let listed = stdout(&output);
    let line = listed
        .lines()
        .find(|l| l.ends_with("deploy script"))
        .unwrap_or_else(|| panic!("the token is listed: {listed}"));
    assert!(line.contains("  never  "), "not used yet: {line}");
    assert!(!listed.contains(&token[3..]), "the secret is never printed");
    let id = line.split_whitespace().next().expect("an id").to_string();

    let output = wristband(&app, &["users", "tokens", "ada", "--revoke", &id], "");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim_end(),
        format!("revoked token {id} of ada")
    );
    let api = app
        .client
        .get("/api/me")
        .header(rocket::http::Header::new(
            "Authorization",
            format!("Bearer {token}"),
        ))
        .dispatch()
        .await;
    assert_eq!(api.status().code, 401);
    // Again: nothing left by that id.
    let output = wristband(&app, &["users", "tokens", "ada", "--revoke", &id], "");
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output).trim_end(),
        format!("error: ada has no token {id}")
    );
}
