//! Brute-force throttling: too many failed logins for one username, or from
//! one client address, within the window, and further attempts are refused
//! before any bcrypt work is spent on them.

use sqlx::AnyPool;

use crate::attempts::{self, FailureScope};
use crate::config::Settings;
use crate::error::Error;

/// The key failures are counted under: the username as typed, lower-cased
/// (usernames are unique without regard to case), and cut short so junk
/// input cannot bloat the table.
pub fn username_key(typed: &str) -> String {
    typed.chars().take(64).collect::<String>().to_lowercase()
}

/// Seconds until the failures in `recent` (newest first) fall below `limit`
/// within the window, or `None` if they already are.
fn retry_after(recent: &[i64], limit: u32, window: i64, now: i64) -> Option<i64> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if recent.len() < limit {
        return None;
    }
    // The limit-th newest failure is the one whose expiry lifts the lock.
    let pivot = recent.get(limit.saturating_sub(1))?;
    Some((pivot + window - now).max(1))
}

/// `Ok(())` if this attempt may go ahead, `Err(Error::Throttled)` with the
/// seconds to wait if the username or the client address is locked.
///
/// Two simultaneous attempts may both pass a check at the limit's edge: the
/// count is read, not reserved. That lets a handful of extra guesses through
/// at most, a price worth not serialising every login through one lock.
pub async fn check(
    db: &AnyPool,
    settings: &Settings,
    username_key: &str,
    client_ip: Option<&str>,
    now: i64,
) -> Result<(), Error> {
    let window = settings.throttle_window_secs();
    let since = now - window;
    let by_name = attempts::recent_failures(
        db,
        FailureScope::Username(username_key),
        since,
        settings.max_failed_logins,
    )
    .await?;
    let mut wait = retry_after(&by_name, settings.max_failed_logins, window, now);
    if let Some(ip) = client_ip {
        let by_ip = attempts::recent_failures(
            db,
            FailureScope::ClientIp(ip),
            since,
            settings.max_failed_logins_per_ip,
        )
        .await?;
        wait = wait.max(retry_after(
            &by_ip,
            settings.max_failed_logins_per_ip,
            window,
            now,
        ));
    }
    match wait {
        Some(retry_after) => Err(Error::Throttled { retry_after }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_the_limit_nothing_waits() {
        assert_eq!(retry_after(&[100, 90], 3, 60, 110), None);
    }

    #[test]
    fn at_the_limit_the_oldest_counted_failure_sets_the_wait() {
        // Failures at 100, 90, 80; limit 3; window 60: at 110 the one at 80
        // leaves the window at 140.
        assert_eq!(retry_after(&[100, 90, 80], 3, 60, 110), Some(30));
    }

    #[test]
    fn the_wait_is_never_zero() {
        assert_eq!(retry_after(&[100, 90, 50], 3, 60, 110), Some(1));
    }

    #[test]
    fn keys_ignore_case_and_are_bounded() {
        assert_eq!(username_key("Ada.Lovelace"), "ada.lovelace");
        assert_eq!(username_key(&"X".repeat(500)).len(), 64);
    }
}
