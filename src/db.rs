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

use std::ops::Deref;
use std::time::Duration;

use rocket::fairing::{self, AdHoc};
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, ConnectOptions, Executor};

/// The `wristband` database, configured as `databases.wristband`.
#[derive(Database)]
#[database("wristband")]
pub struct Db(DbPool);

/// Which SQL dialect a URL speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
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

/// An `AnyPool` that knows its backend. rocket_db_pools' own sqlx support
/// only tunes SQLite when the pool type is `SqlitePool`, so this wrapper
/// does it for `Any`: create the file on first run, WAL, a busy timeout.
pub struct DbPool {
    pool: AnyPool,
    backend: Backend,
}

impl DbPool {
    pub fn backend(&self) -> Backend {
        self.backend
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
            Ok(pool) => Ok(DbPool { pool, backend }),
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

async fn run_migrations(rocket: Rocket<Build>) -> fairing::Result {
    // Without a pool, its own fairing has already said why; `Db::fetch`
    // would add a misleading "fairing must be attached" error.
    if rocket.state::<Db>().is_none() {
        return Err(rocket);
    }
    let Some(db) = Db::fetch(&rocket) else {
        return Err(rocket);
    };
    let migrator = match db.backend() {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("migrations/postgres"),
    };
    let pool: &AnyPool = db;
    match migrator.run(pool).await {
        Ok(()) => Ok(rocket),
        Err(e) => {
            log::error!("database migrations failed: {e}");
            Err(rocket)
        }
    }
}

/// Attaches the pool and, right after it, the migrations for its dialect.
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("database", |rocket| async {
        rocket
            .attach(Db::init())
            .attach(AdHoc::try_on_ignite("database migrations", run_migrations))
    })
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
