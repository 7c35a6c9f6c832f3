//! Login history older than `history_days` is pruned: by
//! `retention::prune` (in batches), and by the background task that starts
//! at launch. The manual clock stands in for the months in between.

use std::time::{Duration, Instant};

use crate::common::{Backend, TestApp, PASSWORD};
use rocket::local::asynchronous::Client;
use sqlx::{AnyPool, Row};
use wristband::attempts::{self, Attempt, Outcome};
use wristband::retention::{self, Pruned, BATCH_ROWS};
use wristband::Settings;

backend_tests!(
    history_older_than_history_days_is_pruned,
    pruning_goes_in_batches_and_keeps_recent_rows,
    history_days_is_configurable,
    the_background_task_prunes_at_launch,
);

const DAY: i64 = 86_400;

fn settings(app: &TestApp) -> &Settings {
    app.client.rocket().state::<Settings>().expect("settings")
}

/// The `at` of every stored attempt, oldest first.
async fn stored_times(pool: &AnyPool) -> Vec<i64> {
    sqlx::query("SELECT at FROM wristband_login_attempts ORDER BY at, id")
        .fetch_all(pool)
        .await
        .expect("select")
        .iter()
        .map(|row| row.try_get("at").expect("at"))
        .collect()
}

async fn insert_attempts(pool: &AnyPool, at: i64, count: usize) {
    for _ in 0..count {
        let attempt = Attempt {
            user_id: None,
            login_key: "mallory",
            client_ip: Some("192.0.2.1"),
            client_key: Some("192.0.2.1"),
            user_agent: None,
            device: None,
            outcome: Outcome::UnknownUser,
            at,
        };
        attempts::record(pool, &attempt).await.expect("insert");
    }
}

async fn history_older_than_history_days_is_pruned(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let t0 = app.clock.now();
    assert_eq!(app.login("ada", "wrong password!").await.status().code, 401);
    app.clock.advance(89 * DAY);
    assert_eq!(app.login("ada", "wrong password!").await.status().code, 401);
    app.clock.advance(DAY);
    // Exactly 90 days old: kept.
    let now = app.clock.now();
    let pruned = retention::prune(app.pool(), settings(&app), now)
        .await
        .expect("prune");
    // The wristband from signing up expired long ago: its row goes.
    assert_eq!(
        pruned,
        Pruned {
            login_attempts: 0,
            sessions: 1,
            tokens: 0
        }
    );
    assert_eq!(stored_times(app.pool()).await, [t0, t0, t0 + 89 * DAY]);

    app.clock.advance(1);
    let now = app.clock.now();
    let pruned = retention::prune(app.pool(), settings(&app), now)
        .await
        .expect("prune");
    assert_eq!(
        pruned.login_attempts, 2,
        "the sign-up and the first failure"
    );
    assert_eq!(pruned.total(), 2);
    assert_eq!(stored_times(app.pool()).await, [t0 + 89 * DAY]);

    // The account and the rest of its history are untouched.
    let kept: String = sqlx::query("SELECT outcome FROM wristband_login_attempts")
        .fetch_one(app.pool())
        .await
        .expect("select")
        .try_get("outcome")
        .expect("outcome");
    assert_eq!(kept, "wrong_password");
    app.logout().await;
    assert_eq!(app.login("ada", PASSWORD).await.status().code, 303);
}

async fn pruning_goes_in_batches_and_keeps_recent_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t0 = app.clock.now();
    let old = BATCH_ROWS as usize * 2 + 17;
    insert_attempts(app.pool(), t0, old).await;
    insert_attempts(app.pool(), t0 + 10 * DAY, 3).await;
    let now = t0 + 91 * DAY;
    let pruned = retention::prune(app.pool(), settings(&app), now)
        .await
        .expect("prune");
    assert_eq!(pruned.login_attempts, old as u64);
    assert_eq!(stored_times(app.pool()).await, [t0 + 10 * DAY; 3]);
    let again = retention::prune(app.pool(), settings(&app), now)
        .await
        .expect("prune");
    assert_eq!(again, Pruned::default());
}

async fn history_days_is_configurable(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("history_days", 7))).await;
    assert_eq!(settings(&app).history_days, 7);
    let t0 = app.clock.now();
    insert_attempts(app.pool(), t0, 2).await;
    insert_attempts(app.pool(), t0 + 2 * DAY, 1).await;
    let pruned = retention::prune(app.pool(), settings(&app), t0 + 8 * DAY)
        .await
        .expect("prune");
    assert_eq!(pruned.login_attempts, 2);
    assert_eq!(stored_times(app.pool()).await, [t0 + 2 * DAY]);
}

async fn the_background_task_prunes_at_launch(backend: Backend) {
    let app = TestApp::signed_up(backend, "ada").await;
    let t0 = app.clock.now();
    app.clock.advance(30 * DAY);
    assert_eq!(app.login("ada", "wrong password!").await.status().code, 401);
    assert_eq!(stored_times(app.pool()).await, [t0, t0 + 30 * DAY]);
    app.clock.advance(61 * DAY);

    // A second instance on the same database and clock: its task prunes
    // right after launch, without anyone asking.
    let second = Client::untracked(wristband_app::build(
        crate::common::figment(app.db.url()),
        app.clock.clone(),
    ))
    .await
    .expect("the second instance launches");
    let start = Instant::now();
    while stored_times(app.pool()).await.len() > 1 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the background task did not prune"
        );
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stored_times(app.pool()).await, [t0 + 30 * DAY]);
    drop(second);
}
