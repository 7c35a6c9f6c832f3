//! Wall-clock time as the app sees it. Freshness and throttling windows read
//! the time from here so tests can move it instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, from the system or set by hand.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands still at `now` until [`Clock::advance`] moves it.
    ///
    /// ```
    /// let clock = wristband::Clock::manual(1_000);
    /// clock.advance(60);
    /// assert_eq!(clock.now(), 1_060);
    /// ```
    pub fn manual(now: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(now))),
        }
    }

    /// The current time in seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        match &self.manual {
            Some(now) => now.load(Ordering::SeqCst),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }

    /// Moves a manual clock forward; the system clock cannot be moved.
    pub fn advance(&self, secs: i64) {
        if let Some(now) = &self.manual {
            now.fetch_add(secs, Ordering::SeqCst);
        }
    }
}

/// A Unix time as people read it, in UTC: `2026-11-25 19:14 UTC`.
pub fn format_utc(unix: i64) -> String {
    match rocket::time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => "unknown time".to_string(),
    }
}
