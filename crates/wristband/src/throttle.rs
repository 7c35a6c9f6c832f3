//! Brute-force throttling: too many failed logins for one username, from
//! one client address, or from one known device within the window, and
//! further attempts are refused before any bcrypt work is spent on them;
//! too many registrations from one address in an hour, likewise.
//!
//! Limits are exact however many attempts arrive at once, on however many
//! instances: each attempt takes a place in its budgets (a `pending` row)
//! before its password is checked, and the place becomes the outcome after.

use crate::attempts::{self, Attempt, FailureScope, Reservation};
use crate::db::DbPool;
use crate::error::Error;
use crate::registrations::{self, Place};
use crate::settings::Settings;
use crate::ClientKey;

/// The window `max_registrations_per_ip` counts over.
pub const REGISTRATION_WINDOW_SECS: i64 = 3600;

/// The key failures are counted under: the username as typed, lower-cased
/// (usernames are unique without regard to case), and cut short so junk
/// input cannot bloat the table.
pub fn login_key(typed: &str) -> String {
    typed.chars().take(64).collect::<String>().to_lowercase()
}

/// Seconds until the attempts in `recent` (newest first) fall below `limit`
/// within the window, or `None` if they already are.
fn retry_after(recent: &[i64], limit: u32, window: i64, now: i64) -> Option<i64> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if recent.len() < limit {
        return None;
    }
    // The limit-th newest attempt is the one whose expiry lifts the lock.
    let pivot = recent.get(limit.saturating_sub(1))?;
    Some((pivot + window - now).max(1))
}

/// The budgets an attempt is charged to. A browser holding the account's
/// device cookie has its own, and only that: the username's and the
/// address's locks, which strangers can trip, do not reach it. Every other
/// attempt shares the username's budget and its address's.
fn budgets<'a>(settings: &Settings, attempt: &Attempt<'a>) -> Vec<(FailureScope<'a>, u32)> {
    if let Some(device) = attempt.device {
        return vec![(
            FailureScope::Device(device),
            settings.max_failed_logins_per_device,
        )];
    }
    let mut budgets = vec![(
        FailureScope::Login(attempt.login_key),
        settings.max_failed_logins,
    )];
    if let Some(client) = attempt.client_key {
        budgets.push((
            FailureScope::Client(client),
            settings.max_failed_logins_per_ip,
        ));
    }
    budgets
}

/// Takes a place for `attempt` (its outcome is ignored: the place is
/// `pending`) before its password is checked, or refuses it with
/// `Err(Error::Throttled)` and the seconds to wait. A refusal is recorded,
/// at most once a minute for the key that refused it.
pub async fn reserve(
    db: &DbPool,
    settings: &Settings,
    attempt: &Attempt<'_>,
) -> Result<Reservation, Error> {
    let window = settings.throttle_window_secs();
    let since = attempt.at - window;
    let budgets = budgets(settings, attempt);
    // A plain read first: in a flood against a spent budget, refusals cost
    // reads only, and hold no write lock or advisory lock.
    let refused_by = match spent(db, &budgets, since, window, attempt.at).await? {
        Some(refused_by) => refused_by,
        None => match attempts::reserve(db, attempt, since, &budgets).await? {
            Some(reservation) => return Ok(reservation),
            // The last place went to a simultaneous attempt. (Or the window
            // moved on in between: then the answer is "try again now".)
            None => spent(db, &budgets, since, window, attempt.at)
                .await?
                .unwrap_or((1, budgets[0].0)),
        },
    };
    attempts::record_throttled(db, attempt, refused_by.1).await?;
    Err(Error::Throttled {
        retry_after: refused_by.0,
    })
}

/// The longest wait among the spent budgets, and the scope it is for.
async fn spent<'a>(
    db: &DbPool,
    budgets: &[(FailureScope<'a>, u32)],
    since: i64,
    window: i64,
    now: i64,
) -> Result<Option<(i64, FailureScope<'a>)>, Error> {
    let mut longest: Option<(i64, FailureScope<'a>)> = None;
    for &(scope, limit) in budgets {
        let recent = attempts::recent_failures(db, scope, since, limit).await?;
        if let Some(wait) = retry_after(&recent, limit, window, now) {
            if longest.is_none_or(|(w, _)| wait > w) {
                longest = Some((wait, scope));
            }
        }
    }
    Ok(longest)
}

/// Takes a place in the client's hourly registration budget, before any
/// bcrypt work, or refuses with `Err(Error::RegistrationThrottled)`. A
/// client whose address is unknown is not counted (`Ok(None)`).
pub async fn reserve_registration(
    db: &DbPool,
    settings: &Settings,
    client: Option<&ClientKey>,
    now: i64,
) -> Result<Option<Place>, Error> {
    let Some(client) = client else {
        return Ok(None);
    };
    let since = now - REGISTRATION_WINDOW_SECS;
    let limit = settings.max_registrations_per_ip;
    if let Some(place) = registrations::reserve(db, client.as_str(), now, since, limit).await? {
        return Ok(Some(place));
    }
    let recent = registrations::recent(db, client.as_str(), since, limit).await?;
    let retry_after = retry_after(&recent, limit, REGISTRATION_WINDOW_SECS, now).unwrap_or(1);
    Err(Error::RegistrationThrottled { retry_after })
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

    fn attempt<'a>(device: Option<&'a str>, client_key: Option<&'a str>) -> Attempt<'a> {
        Attempt {
            user_id: Some("1"),
            login_key: "ada",
            client_ip: client_key,
            client_key,
            user_agent: None,
            device,
            outcome: crate::attempts::Outcome::Pending,
            at: 0,
        }
    }

    #[test]
    fn strangers_share_the_name_and_address_budgets() {
        let settings = Settings::default();
        assert_eq!(
            budgets(&settings, &attempt(None, Some("203.0.113.7"))),
            [
                (FailureScope::Login("ada"), 5),
                (FailureScope::Client("203.0.113.7"), 50)
            ]
        );
        assert_eq!(
            budgets(&settings, &attempt(None, None)),
            [(FailureScope::Login("ada"), 5)]
        );
    }

    #[test]
    fn a_known_device_has_only_its_own_budget() {
        let settings = Settings {
            max_failed_logins_per_device: 3,
            ..Settings::default()
        };
        assert_eq!(
            budgets(&settings, &attempt(Some("d"), Some("203.0.113.7"))),
            [(FailureScope::Device("d"), 3)]
        );
    }

    #[test]
    fn keys_ignore_case_and_are_bounded() {
        assert_eq!(login_key("Ada.Lovelace"), "ada.lovelace");
        assert_eq!(login_key(&"X".repeat(500)).len(), 64);
    }
}
