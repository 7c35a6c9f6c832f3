//! The login-attempt store: the audit trail and the counts throttling
//! reads. The only module that speaks SQL about attempts.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row};

use crate::db::DbPool;
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
    /// The password check was under way. Left so only when it never
    /// finished (the process stopped, the client left).
    Pending,
    /// An API request with a token that is wrong, expired or revoked.
    BadToken,
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
            Outcome::Pending => "pending",
            Outcome::BadToken => "bad_token",
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
            Outcome::Pending => "Attempt interrupted",
            Outcome::BadToken => "Refused: wrong API token",
        }
    }
}

/// Outcomes that count toward throttling: guesses that failed, and
/// attempts whose password check is still running (or never finished).
const COUNTED: &str = "('pending', 'wrong_password', 'unknown_user', 'bad_token')";

/// One attempt to record.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// The account's id as text, if the login named one.
    pub user_id: Option<&'a str>,
    /// The login as typed, lower-cased ([`crate::throttle::login_key`]).
    pub login_key: &'a str,
    /// The full address, for the audit trail.
    pub client_ip: Option<&'a str>,
    /// What per-address limits count by ([`crate::ClientKey`]).
    pub client_key: Option<&'a str>,
    /// The browser's user agent, sanitized.
    pub user_agent: Option<&'a str>,
    /// The device id of a browser holding this account's device cookie:
    /// its attempts are charged to the device alone.
    pub device: Option<&'a str>,
    /// What came of it.
    pub outcome: Outcome,
    /// When.
    pub at: i64,
}

/// One recorded attempt, for history listings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recorded {
    /// What came of it.
    #[serde(skip)]
    pub outcome: Outcome,
    /// The outcome in words ([`Outcome::describe`]).
    pub outcome_text: &'static str,
    /// The full client address, if known.
    pub client_ip: Option<String>,
    /// The browser's user agent, if it sent one.
    pub user_agent: Option<String>,
    /// When.
    pub at: i64,
}

// No NULL is ever bound: sqlx's Any driver sends a NULL to PostgreSQL typed
// as INT4, and a statement prepared that way then rejects the text or
// BIGINT bound on its next use. '' stands for "none" and NULLIF turns it
// back into NULL where the column allows one. The values are $1..$8, in
// this order.
const COLUMNS: &str = "user_id, login_key, client_ip, client_key, user_agent, device, outcome, at";
const VALUES: &str = "NULLIF($1, ''), $2, NULLIF($3, ''), $4, NULLIF($5, ''), $6, $7, $8";

fn bind_values<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    attempt: &Attempt<'q>,
) -> Query<'q, Any, AnyArguments<'q>> {
    query
        .bind(attempt.user_id.unwrap_or(""))
        .bind(attempt.login_key)
        .bind(attempt.client_ip.unwrap_or(""))
        .bind(attempt.client_key.unwrap_or(""))
        .bind(attempt.user_agent.unwrap_or(""))
        .bind(attempt.device.unwrap_or(""))
        .bind(attempt.outcome.as_str())
        .bind(attempt.at)
}

/// Records a finished attempt (a logout, a registration's sign-in).
pub async fn record(db: &AnyPool, attempt: &Attempt<'_>) -> Result<(), Error> {
    let sql = format!("INSERT INTO wristband_login_attempts ({COLUMNS}) VALUES ({VALUES})");
    bind_values(sqlx::query(&sql), attempt).execute(db).await?;
    Ok(())
}

/// Deletes up to `limit` of the oldest attempts recorded before `cutoff`
/// and says how many went. One short statement on the `at` index, so it
/// never holds a lock for long; callers loop until it returns less than
/// `limit`.
pub async fn prune_before(db: &AnyPool, cutoff: i64, limit: u32) -> Result<u64, Error> {
    let done = sqlx::query(
        "DELETE FROM wristband_login_attempts WHERE id IN \
         (SELECT id FROM wristband_login_attempts WHERE at < $1 ORDER BY at LIMIT $2)",
    )
    .bind(cutoff)
    .bind(i64::from(limit))
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Whose attempts to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureScope<'a> {
    /// A login name (lower-cased), tried from browsers without its device
    /// cookie, counted since the last such successful login.
    Login(&'a str),
    /// A client key, from browsers without a device cookie. Successes do
    /// not clear these: one valid account must not let a client keep
    /// guessing at others.
    Client(&'a str),
    /// One browser holding an account's device cookie.
    Device(&'a str),
}

impl FailureScope<'_> {
    fn key(&self) -> &str {
        match self {
            FailureScope::Login(key) | FailureScope::Client(key) | FailureScope::Device(key) => key,
        }
    }

    /// The column the key is in, and the name its lock goes by.
    fn column(&self) -> &'static str {
        match self {
            FailureScope::Login(_) => "login_key",
            FailureScope::Client(_) => "client_key",
            FailureScope::Device(_) => "device",
        }
    }

    fn lock_name(&self) -> String {
        format!("wristband login {}: {}", self.column(), self.key())
    }

    /// The rows this scope counts, with its key in `$key` and the window's
    /// start in `$since`. Each runs on an index (`login_key, at`,
    /// `client_key, at` or `device, at`).
    fn counted(&self, key: &str, since: &str) -> String {
        match self {
            FailureScope::Login(_) => format!(
                "login_key = {key} AND device = '' AND at > {since} AND outcome IN {COUNTED} \
                 AND id > (SELECT COALESCE(MAX(id), 0) FROM wristband_login_attempts \
                           WHERE login_key = {key} AND device = '' AND at > {since} \
                             AND outcome = 'success')"
            ),
            FailureScope::Client(_) => format!(
                "client_key = {key} AND device = '' AND at > {since} AND outcome IN {COUNTED}"
            ),
            FailureScope::Device(_) => {
                format!("device = {key} AND at > {since} AND outcome IN {COUNTED}")
            }
        }
    }
}

/// A place in the throttling budgets, held while the password is checked:
/// a `pending` row that [`resolve`] turns into the real outcome. One left
/// pending (the process died, the request was dropped) counts as a failure
/// until it leaves the window, and no longer.
#[derive(Debug)]
#[must_use = "a reservation counts as a failure until it is resolved"]
pub struct Reservation {
    id: i64,
}

/// Records `attempt` as `pending` if every scope in `budgets` has fewer than
/// its limit of counted attempts since `since`, as one atomic step (see
/// [`DbPool::fetch_optional_locked`]): of any number of simultaneous
/// attempts, exactly as many as the budgets allow get a place. `None` when
/// a budget is spent.
pub async fn reserve(
    db: &DbPool,
    attempt: &Attempt<'_>,
    since: i64,
    budgets: &[(FailureScope<'_>, u32)],
) -> Result<Option<Reservation>, Error> {
    // $9 is the window's start; each budget then has a key and a limit.
    let conditions: Vec<String> = budgets
        .iter()
        .enumerate()
        .map(|(i, (scope, _))| {
            let (key, limit) = (format!("${}", 10 + 2 * i), format!("${}", 11 + 2 * i));
            format!(
                "(SELECT COUNT(*) FROM (SELECT 1 FROM wristband_login_attempts WHERE {} LIMIT {limit}) AS counted) < {limit}",
                scope.counted(&key, "$9")
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO wristband_login_attempts ({COLUMNS}) SELECT {VALUES} WHERE {} RETURNING id",
        if conditions.is_empty() {
            "1 = 1".to_string()
        } else {
            conditions.join(" AND ")
        }
    );
    let pending = Attempt {
        outcome: Outcome::Pending,
        ..attempt.clone()
    };
    let mut query = bind_values(sqlx::query(&sql), &pending).bind(since);
    for (scope, limit) in budgets {
        query = query.bind(scope.key()).bind(i64::from(*limit));
    }
    let locks = budgets.iter().map(|(scope, _)| scope.lock_name()).collect();
    let row = db.fetch_optional_locked(locks, query).await?;
    row.map(|row| {
        Ok(Reservation {
            id: row.try_get("id")?,
        })
    })
    .transpose()
}

/// Turns a reservation into the attempt's real outcome.
pub async fn resolve(
    db: &AnyPool,
    reservation: Reservation,
    outcome: Outcome,
) -> Result<(), Error> {
    sqlx::query("UPDATE wristband_login_attempts SET outcome = $1 WHERE id = $2")
        .bind(outcome.as_str())
        .bind(reservation.id)
        .execute(db)
        .await?;
    Ok(())
}

/// Gives a place back unused: the password was never checked (say, the
/// password threads were busy), so the attempt must not count.
pub async fn cancel(db: &AnyPool, reservation: Reservation) -> Result<(), Error> {
    sqlx::query("DELETE FROM wristband_login_attempts WHERE id = $1 AND outcome = 'pending'")
        .bind(reservation.id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a refused attempt, unless one was recorded for the same key of
/// `scope` in the last minute: a flood of refusals adds at most one row per
/// key per minute, however many arrive at once.
pub async fn record_throttled(
    db: &DbPool,
    attempt: &Attempt<'_>,
    scope: FailureScope<'_>,
) -> Result<(), Error> {
    let recorded = format!(
        "SELECT 1 FROM wristband_login_attempts WHERE {} = $9 AND at > $8 - 60 AND outcome = 'throttled'",
        scope.column()
    );
    // The common case in a flood: recorded already. One plain read, no
    // write and no lock.
    let (seen,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM ({} LIMIT 1) AS seen",
        recorded.replace("$9", "$1").replace("$8", "$2")
    ))
    .bind(scope.key())
    .bind(attempt.at)
    .fetch_one(&**db)
    .await?;
    if seen > 0 {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO wristband_login_attempts ({COLUMNS}) SELECT {VALUES} WHERE NOT EXISTS ({recorded})"
    );
    let throttled = Attempt {
        outcome: Outcome::Throttled,
        ..attempt.clone()
    };
    let query = bind_values(sqlx::query(&sql), &throttled).bind(scope.key());
    let lock = format!("{} throttled", scope.lock_name());
    db.fetch_optional_locked(vec![lock], query).await?;
    Ok(())
}

/// The times of the latest `limit` counted attempts in `scope` after
/// `since`, newest first; reads at most `limit` rows.
pub async fn recent_failures(
    db: &AnyPool,
    scope: FailureScope<'_>,
    since: i64,
    limit: u32,
) -> Result<Vec<i64>, Error> {
    let sql = format!(
        "SELECT at FROM wristband_login_attempts WHERE {} ORDER BY at DESC LIMIT $3",
        scope.counted("$1", "$2")
    );
    let rows = sqlx::query(&sql)
        .bind(scope.key())
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
    user_id: &str,
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
                COALESCE(user_agent, '') AS user_agent, at FROM wristband_login_attempts \
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
pub const ALL: [Outcome; 10] = [
    Outcome::Success,
    Outcome::WrongPassword,
    Outcome::UnknownUser,
    Outcome::Throttled,
    Outcome::Deactivated,
    Outcome::Reauthenticated,
    Outcome::PasswordChanged,
    Outcome::Logout,
    Outcome::Pending,
    Outcome::BadToken,
];

/// Deletes `user_id`'s login history, sessions and API tokens: for a host deleting the
/// account (the library's tables have no foreign key to it). Takes any
/// connection, so it can run in the host's transaction.
pub async fn forget_user(db: &mut sqlx::AnyConnection, user_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM wristband_login_attempts WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    crate::sessions::end_all(&mut *db, user_id).await?;
    crate::tokens::revoke_all(&mut *db, user_id).await?;
    Ok(())
}
