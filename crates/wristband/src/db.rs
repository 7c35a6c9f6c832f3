//! The database pool and its migrations. One binary serves SQLite and
//! PostgreSQL: sqlx's `Any` driver picks the backend from the URL, and the
//! migrations for that dialect run at launch.
//!
//! Queries must mean the same on both through `Any`, which has two traps:
//! - Never bind a NULL (`None`). `Any` sends it to PostgreSQL as an INT4
//!   parameter, and the connection caches the statement with that type, so
//!   a later text or BIGINT value in the same slot fails with "incorrect
//!   binary data format". Bind a sentinel and write `NULLIF($1, '')`.
//! - Never read a NULL column: `Any` cannot type it. Select
//!   `COALESCE(col, 0)` (or `''`) and map the sentinel back.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rocket::figment::Figment;
use rocket::tokio::sync::{Semaphore, SemaphorePermit};
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Executor};

/// Which SQL dialect a URL speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:` URLs.
    Sqlite,
    /// `postgres:` and `postgresql:` URLs.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if it is one wristband speaks.
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// An `AnyPool` that knows its backend: the pool type of the database
/// wristband is attached to. Declare your database with it:
///
/// ```
/// use rocket_db_pools::Database;
///
/// #[derive(Database)]
/// #[database("notes")]
/// struct Db(wristband::DbPool);
/// ```
///
/// rocket_db_pools' own sqlx support only tunes SQLite when the pool type is
/// `SqlitePool`, so this wrapper does it for `Any`: create the file on first
/// run, WAL, a busy timeout. Cloning it is cheap and shares the pool.
#[derive(Clone)]
pub struct DbPool {
    pool: AnyPool,
    backend: Backend,
    quick: Arc<QuickConnections>,
    /// `connect_timeout`: how long a request may wait on the database.
    timeout: Duration,
}

impl DbPool {
    /// Which dialect the database speaks.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How long a request may wait on the database before it gets a 503.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs one statement (a conditional insert that reads counts and
    /// writes in one go) so that it sees every statement run before it
    /// under any of the same `keys`, on every instance sharing the database.
    ///
    /// SQLite needs nothing more: a writing statement takes the database's
    /// write lock before it reads anything, waiting (busy timeout) rather
    /// than failing, so it is atomic as it stands. PostgreSQL's READ
    /// COMMITTED lets two such statements read the same counts at once, so
    /// it runs in a transaction after taking a transaction-scoped advisory
    /// lock per key (in sorted order, so two never wait on each other).
    pub async fn fetch_optional_locked<'q>(
        &self,
        mut keys: Vec<String>,
        statement: Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<Option<AnyRow>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => statement.fetch_optional(&self.pool).await,
            Backend::Postgres => {
                keys.sort();
                keys.dedup();
                let mut tx = self.pool.begin().await?;
                for key in &keys {
                    // Cast to text: the Any driver cannot read a `void`.
                    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))::text")
                        .bind(key.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                }
                let row = statement.fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                Ok(row)
            }
        }
    }

    /// A connection for one short query on the hot path (the user lookup
    /// every signed-in request makes), taken from a few kept aside for it.
    ///
    /// Why not the pool: sqlx 0.7's pool pings a connection when it is
    /// handed back, and (unless turned off) again when it is handed out, so
    /// one query costs three round trips to the database (for SQLite, to the
    /// connection's worker thread). These connections skip the pings and
    /// answer in one. The pings guard against a connection that went bad,
    /// so instead a connection goes back only after a query on it succeeded
    /// ([`QuickConnection::keep`]); one dropped unkept (an error, a request
    /// cancelled mid-query) is closed. Callers retry a failed query on the
    /// pool, so a connection gone stale (say, the database restarted) costs
    /// one retry, never an error page.
    pub async fn quick(&self) -> Result<QuickConnection<'_>, sqlx::Error> {
        let permit = self
            .quick
            .permits
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self
            .quick
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            // Opened through the pool so it gets the same setup (SQLite's
            // pragmas), then taken out of the pool's books for good.
            None => self.pool.acquire().await?.detach(),
        };
        Ok(QuickConnection {
            conn,
            home: &self.quick,
            _permit: permit,
        })
    }
}

/// How many connections are kept aside for [`DbPool::quick`]: one per core
/// is enough to keep the cores busy, since each query is a few microseconds
/// of database work; requests beyond that wait their turn for a moment.
fn quick_connection_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

struct QuickConnections {
    idle: Mutex<Vec<AnyConnection>>,
    permits: Semaphore,
}

impl QuickConnections {
    fn new() -> QuickConnections {
        let count = quick_connection_count();
        QuickConnections {
            idle: Mutex::new(Vec::with_capacity(count)),
            permits: Semaphore::new(count),
        }
    }
}

/// A connection lent by [`DbPool::quick`]. Call [`keep`](Self::keep) once a
/// query on it succeeded; dropped otherwise, the connection is closed.
pub struct QuickConnection<'a> {
    conn: AnyConnection,
    home: &'a QuickConnections,
    _permit: SemaphorePermit<'a>,
}

impl QuickConnection<'_> {
    /// Hands the connection back for the next request. (No `Drop` impl:
    /// a connection dropped without `keep` is simply closed.)
    pub fn keep(self) {
        self.home
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.conn);
    }
}

impl Deref for QuickConnection<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl DerefMut for QuickConnection<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Deref for DbPool {
    type Target = AnyPool;

    fn deref(&self) -> &AnyPool {
        &self.pool
    }
}

/// A database URL with any password replaced, fit for a log line.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // set_password only fails for URLs that cannot have one.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => "<unparseable database URL>".to_string(),
    }
}

/// SQLite URLs without an open mode get `mode=rwc`, so that `cargo run` on a
/// fresh clone creates its database file instead of failing.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        return url.to_string();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}mode=rwc")
}

#[rocket::async_trait]
impl rocket_db_pools::Pool for DbPool {
    type Connection = PoolConnection<Any>;
    type Error = rocket_db_pools::Error<sqlx::Error>;

    async fn init(figment: &Figment) -> Result<Self, Self::Error> {
        sqlx::any::install_default_drivers();
        let config: rocket_db_pools::Config = figment.extract()?;
        let backend = Backend::from_url(&config.url).ok_or_else(|| {
            log::error!(
                "database URL {} is neither sqlite: nor postgres:",
                redacted(&config.url)
            );
            rocket_db_pools::Error::Init(sqlx::Error::Configuration(
                "unsupported database URL scheme".into(),
            ))
        })?;
        let url = match backend {
            Backend::Sqlite => with_create_mode(&config.url),
            Backend::Postgres => config.url.clone(),
        };
        let options: AnyConnectOptions = url.parse().map_err(rocket_db_pools::Error::Init)?;

        let timeout = Duration::from_secs(config.connect_timeout);
        let pool = AnyPoolOptions::new()
            .max_connections(u32::try_from(config.max_connections).unwrap_or(u32::MAX))
            .min_connections(config.min_connections.unwrap_or_default())
            // Bounds every wait for a connection, at launch and per request
            // (including the liveness check of an idle one): a database that
            // is down or not answering costs a request this long, then a 503.
            .acquire_timeout(timeout)
            .idle_timeout(config.idle_timeout.map(Duration::from_secs))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    match backend {
                        // WAL lets readers proceed during a write; the busy
                        // timeout makes concurrent writers queue, not fail.
                        Backend::Sqlite => conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                        ),
                        // Server NOTICEs (e.g. "relation already exists,
                        // skipping" from migrations) would reach the log as
                        // noise; warnings and errors still do.
                        Backend::Postgres => conn.execute("SET client_min_messages = warning"),
                    }
                    .await?;
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await;
        match pool {
            Ok(pool) => Ok(DbPool {
                pool,
                backend,
                quick: Arc::new(QuickConnections::new()),
                timeout,
            }),
            Err(e) => {
                let e = why_unreachable(e, &options, timeout).await;
                log::error!(
                    "cannot connect to the database at {}: {e}",
                    redacted(&config.url)
                );
                Err(rocket_db_pools::Error::Init(e))
            }
        }
    }

    async fn get(&self) -> Result<Self::Connection, Self::Error> {
        self.pool
            .acquire()
            .await
            .map_err(rocket_db_pools::Error::Get)
    }

    async fn close(&self) {
        self.quick.permits.close();
        self.quick
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.pool.close().await;
    }
}

/// The cause behind a failed first connection. The pool retries a refused
/// connection until its timeout and then says only "pool timed out", which
/// hides whether the server refused, rejected the login or never answered;
/// one direct attempt brings the real reason back for the launch log.
async fn why_unreachable(
    error: sqlx::Error,
    options: &AnyConnectOptions,
    timeout: Duration,
) -> sqlx::Error {
    if !matches!(error, sqlx::Error::PoolTimedOut) {
        return error;
    }
    match rocket::tokio::time::timeout(timeout, options.connect()).await {
        Ok(Err(cause)) => cause,
        // Connected now, or still no answer: the timeout is the story.
        Ok(Ok(_)) | Err(_) => sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "no connection within connect_timeout ({} s)",
                timeout.as_secs()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(Backend::from_url("sqlite://w.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgres://root@127.0.0.1/test"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://x"), None);
    }

    #[test]
    fn sqlite_urls_get_a_create_mode() {
        assert_eq!(with_create_mode("sqlite://w.db"), "sqlite://w.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://w.db?mode=ro"),
            "sqlite://w.db?mode=ro"
        );
        assert_eq!(
            with_create_mode("sqlite://w.db?cache=shared"),
            "sqlite://w.db?cache=shared&mode=rwc"
        );
    }

    #[test]
    fn passwords_never_reach_the_log() {
        let shown = redacted("postgres://app:hunter2@db.internal:5432/wristband");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db.internal"), "{shown}");
    }
}
