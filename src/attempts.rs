//! The login-attempt store: the audit trail and the counts throttling
//! reads. The only module that speaks SQL about attempts.

use sqlx::{AnyPool, Row};

use crate::error::Error;

/// What happened at one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Logged in with the right password.
    Success,
    /// A known user, a wrong password (at login, `/reauth`, or a settings
    /// form that asks for the password).
    WrongPassword,
    /// No such user.
    UnknownUser,
    /// Refused before checking the password: too many recent failures.
    Throttled,
    /// The right password for a deactivated account.
    Deactivated,
    /// Confirmed the password on `/reauth`.
    Reauthenticated,
    /// Changed the password.
    PasswordChanged,
    /// Logged out.
    Logout,
}

impl Outcome {
    /// The value stored in the `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::WrongPassword => "wrong_password",
            Outcome::UnknownUser => "unknown_user",
            Outcome::Throttled => "throttled",
            Outcome::Deactivated => "deactivated",
            Outcome::Reauthenticated => "reauthenticated",
            Outcome::PasswordChanged => "password_changed",
            Outcome::Logout => "logout",
        }
    }

    fn parse(stored: &str) -> Option<Outcome> {
        ALL.into_iter().find(|o| o.as_str() == stored)
    }

    /// How the outcome reads in history listings.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Success => "Signed in",
            Outcome::WrongPassword => "Wrong password",
            Outcome::UnknownUser => "Unknown username",
            Outcome::Throttled => "Refused: too many attempts",
            Outcome::Deactivated => "Refused: account deactivated",
            Outcome::Reauthenticated => "Confirmed password",
            Outcome::PasswordChanged => "Changed password",
            Outcome::Logout => "Logged out",
        }
    }
}

/// Outcomes that count toward throttling: guesses that failed.
const FAILURES: &str = "('wrong_password', 'unknown_user')";

/// One attempt to record.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub user_id: Option<i64>,
    pub username_key: &'a str,
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub outcome: Outcome,
    pub at: i64,
}

/// One recorded attempt, for history listings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recorded {
    #[serde(skip)]
    pub outcome: Outcome,
    pub outcome_text: &'static str,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: i64,
}

pub async fn record(db: &AnyPool, attempt: &Attempt<'_>) -> Result<(), Error> {
    // No NULL is ever bound: sqlx's Any driver sends a NULL to PostgreSQL
    // typed as INT4, and a statement prepared that way then rejects the
    // text or BIGINT bound on its next use. 0 and '' stand for "none" and
    // NULLIF turns them back into NULL.
    sqlx::query(
        "INSERT INTO login_attempts (user_id, username_key, client_ip, user_agent, outcome, at) \
         VALUES (NULLIF($1, 0), $2, NULLIF($3, ''), NULLIF($4, ''), $5, $6)",
    )
    .bind(attempt.user_id.unwrap_or(0))
    .bind(attempt.username_key)
    .bind(attempt.client_ip.unwrap_or(""))
    .bind(attempt.user_agent.unwrap_or(""))
    .bind(attempt.outcome.as_str())
    .bind(attempt.at)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes up to `limit` of the oldest attempts recorded before `cutoff`
/// and says how many went. One short statement on the `at` index, so it
/// never holds a lock for long; callers loop until it returns less than
/// `limit`.
pub async fn prune_before(db: &AnyPool, cutoff: i64, limit: u32) -> Result<u64, Error> {
    let done = sqlx::query(
        "DELETE FROM login_attempts WHERE id IN \
         (SELECT id FROM login_attempts WHERE at < $1 ORDER BY at LIMIT $2)",
    )
    .bind(cutoff)
    .bind(i64::from(limit))
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Whose failed attempts to count.
#[derive(Debug, Clone, Copy)]
pub enum FailureScope<'a> {
    /// A username (lower-cased), counted since its last successful login.
    Username(&'a str),
    /// A client address. Successes do not clear these: one valid account
    /// must not let a client keep guessing at others.
    ClientIp(&'a str),
}

/// The times of the latest `limit` failures in `scope` after `since`,
/// newest first. Both queries run on an index (`username_key, at` or
/// `client_ip, at`) and read at most `limit` rows.
pub async fn recent_failures(
    db: &AnyPool,
    scope: FailureScope<'_>,
    since: i64,
    limit: u32,
) -> Result<Vec<i64>, Error> {
    let (sql, key) = match scope {
        FailureScope::Username(key) => (
            format!(
                "SELECT at FROM login_attempts \
                 WHERE username_key = $1 AND at > $2 AND outcome IN {FAILURES} \
                   AND id > (SELECT COALESCE(MAX(id), 0) FROM login_attempts \
                             WHERE username_key = $1 AND at > $2 AND outcome = 'success') \
                 ORDER BY at DESC LIMIT $3"
            ),
            key,
        ),
        FailureScope::ClientIp(ip) => (
            format!(
                "SELECT at FROM login_attempts \
                 WHERE client_ip = $1 AND at > $2 AND outcome IN {FAILURES} \
                 ORDER BY at DESC LIMIT $3"
            ),
            ip,
        ),
    };
    let rows = sqlx::query(&sql)
        .bind(key)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|row| row.try_get("at").map_err(Error::from))
        .collect()
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

fn recorded_from_row(row: &sqlx::any::AnyRow) -> Result<Recorded, Error> {
    let stored: String = row.try_get("outcome")?;
    let outcome = Outcome::parse(&stored)
        .ok_or_else(|| Error::Corrupt(format!("unknown login outcome {stored:?}")))?;
    Ok(Recorded {
        outcome,
        outcome_text: outcome.describe(),
        client_ip: non_empty(row.try_get("client_ip")?),
        user_agent: non_empty(row.try_get("user_agent")?),
        at: row.try_get("at")?,
    })
}

/// A user's most recent attempts of the given outcomes, newest first.
pub async fn history(
    db: &AnyPool,
    user_id: i64,
    outcomes: &[Outcome],
    limit: u32,
) -> Result<Vec<Recorded>, Error> {
    // The outcome names are our own constants, never user input.
    let wanted: Vec<String> = outcomes
        .iter()
        .map(|o| format!("'{}'", o.as_str()))
        .collect();
    let rows = sqlx::query(&format!(
        // COALESCE, because the Any driver cannot type a NULL column.
        "SELECT outcome, COALESCE(client_ip, '') AS client_ip, \
                COALESCE(user_agent, '') AS user_agent, at FROM login_attempts \
         WHERE user_id = $1 AND outcome IN ({}) ORDER BY at DESC, id DESC LIMIT $2",
        wanted.join(", ")
    ))
    .bind(user_id)
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?;
    rows.iter().map(recorded_from_row).collect()
}

/// Every outcome, for listings that show everything.
pub const ALL: [Outcome; 8] = [
    Outcome::Success,
    Outcome::WrongPassword,
    Outcome::UnknownUser,
    Outcome::Throttled,
    Outcome::Deactivated,
    Outcome::Reauthenticated,
    Outcome::PasswordChanged,
    Outcome::Logout,
];
