//! Keeping stored history bounded: what is older than `history_days` goes.
//!
//! [`prune`] is the one place that decides what expires; the background task
//! (started by the fairing at liftoff) and the host's tools call it. Whatever else comes
//! to need expiring (sessions, tokens) adds a line there and a count to
//! [`Pruned`].

use std::future::Future;
use std::time::Duration;

use rocket::tokio::{self, time};
use rocket::{Orbit, Rocket};
use sqlx::AnyPool;

use crate::attempts;
use crate::clock::Clock;
use crate::db::DbPool;
use crate::error::Error;
use crate::sessions;
use crate::settings::Settings;

/// Rows deleted per statement: small enough that no statement holds the
/// table (SQLite's write lock above all) for more than a moment.
pub const BATCH_ROWS: u32 = 1_000;

/// How often the background task prunes, after once at launch.
pub const EVERY: Duration = Duration::from_secs(60 * 60);

/// What one pruning removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Rows of the login history (`wristband_login_attempts`).
    pub login_attempts: u64,
    /// Registry rows of sessions that expired (`wristband_sessions`).
    pub sessions: u64,
    /// API tokens that expired (`wristband_tokens`).
    pub tokens: u64,
}

impl Pruned {
    /// Every row removed.
    pub fn total(&self) -> u64 {
        self.login_attempts + self.sessions + self.tokens
    }
}

/// Deletes everything older than `history_days` before `now`, in batches of
/// [`BATCH_ROWS`], yielding between them so other requests get the
/// database in between.
///
/// ```no_run
/// # async fn demo(db: &sqlx::AnyPool, settings: &wristband::Settings) -> Result<(), wristband::Error> {
/// let pruned = wristband::retention::prune(db, settings, wristband::Clock::system().now()).await?;
/// println!("{} login attempts removed", pruned.login_attempts);
/// # Ok(()) }
/// ```
pub async fn prune(db: &AnyPool, settings: &Settings, now: i64) -> Result<Pruned, Error> {
    let cutoff = now.saturating_sub(settings.history_secs());
    Ok(Pruned {
        login_attempts: in_batches(|| attempts::prune_before(db, cutoff, BATCH_ROWS)).await?,
        // Expired wristbands and tokens are refused already; their rows
        // only take room.
        sessions: in_batches(|| sessions::prune_expired(db, now, BATCH_ROWS)).await?,
        tokens: in_batches(|| crate::tokens::prune_expired(db, now, BATCH_ROWS)).await?,
    })
}

/// Runs `batch` (a delete of up to [`BATCH_ROWS`] rows) until it deletes
/// fewer, yielding in between; how many rows went in all.
async fn in_batches<F, Fut>(batch: F) -> Result<u64, Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<u64, Error>>,
{
    let mut total = 0;
    loop {
        let done = batch().await?;
        total += done;
        if done < u64::from(BATCH_ROWS) {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// At liftoff, starts a task that prunes at once and then every [`EVERY`],
/// and ends at shutdown (also in the middle of a pruning: each batch is one
/// statement, so stopping between two loses nothing). Several instances on
/// one database each prune; deleting what another deleted is a no-op.
pub(crate) fn start(rocket: &Rocket<Orbit>) {
    let (Some(db), Some(settings), Some(clock)) = (
        rocket.state::<DbPool>(),
        rocket.state::<Settings>(),
        rocket.state::<Clock>(),
    ) else {
        log::error!("retention: the database, settings or clock is not attached");
        return;
    };
    let db: AnyPool = (**db).clone();
    let settings = settings.clone();
    let clock = clock.clone();
    let mut shutdown = rocket.shutdown();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                pruned = prune(&db, &settings, clock.now()) => match pruned {
                    Ok(p) if p.total() > 0 => {
                        log::info!(
                            "pruned {} login attempts older than {} days, {} expired sessions \
                             and {} expired API tokens",
                            p.login_attempts,
                            settings.history_days,
                            p.sessions,
                            p.tokens
                        );
                    }
                    Ok(_) => {}
                    // The next round tries again; nothing is lost.
                    Err(e) => log::warn!("pruning old history failed: {e}"),
                },
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = time::sleep(EVERY) => {}
            }
        }
    });
}
