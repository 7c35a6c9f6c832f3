//! wristband's own tables (`wristband_sessions`, `wristband_login_attempts`,
//! `wristband_registrations`, `wristband_tokens`), created and upgraded by [`migrate`]. They
//! keep their own ledger, `wristband_migrations`, rather than sqlx's
//! `_sqlx_migrations`: the host's migrator would otherwise find versions it
//! does not know and refuse to run.

use sqlx::{Connection, Executor, Row};

use crate::db::{Backend, DbPool};
use crate::error::Error;

/// One migration: its version, its name and its SQL for each dialect.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "sessions",
        sqlite: include_str!("../migrations/sqlite/0001_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0001_sessions.sql"),
    },
    Migration {
        version: 2,
        name: "login_attempts",
        sqlite: include_str!("../migrations/sqlite/0002_login_attempts.sql"),
        postgres: include_str!("../migrations/postgres/0002_login_attempts.sql"),
    },
    Migration {
        version: 3,
        name: "tokens",
        sqlite: include_str!("../migrations/sqlite/0003_tokens.sql"),
        postgres: include_str!("../migrations/postgres/0003_tokens.sql"),
    },
];

/// Brings wristband's tables up to date; safe to call at every launch, and
/// from several instances at once (one migrates, the others wait and find
/// nothing left to do). The fairing calls it at ignite; call it yourself
/// only for tools that use the tables without launching Rocket.
pub async fn migrate(db: &DbPool) -> Result<(), Error> {
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin().await?;
    // One migrator at a time, the ledger included (PostgreSQL's CREATE TABLE
    // IF NOT EXISTS is not safe against a simultaneous one): PostgreSQL by a
    // transaction-scoped advisory lock, SQLite by taking the write lock with
    // a write that changes nothing.
    if db.backend() == Backend::Postgres {
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended('wristband migrations', 0))::text",
        )
        .fetch_one(&mut *tx)
        .await?;
    }
    (&mut *tx)
        .execute(
            "CREATE TABLE IF NOT EXISTS wristband_migrations (\
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL)",
        )
        .await?;
    if db.backend() == Backend::Sqlite {
        sqlx::query("DELETE FROM wristband_migrations WHERE version < 0")
            .execute(&mut *tx)
            .await?;
    }
    let applied: Vec<i64> = sqlx::query("SELECT version FROM wristband_migrations")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get("version"))
        .collect::<Result<_, _>>()?;
    for migration in MIGRATIONS {
        if applied.contains(&migration.version) {
            continue;
        }
        let sql = match db.backend() {
            Backend::Sqlite => migration.sqlite,
            Backend::Postgres => migration.postgres,
        };
        (&mut *tx).execute(sql).await?;
        sqlx::query("INSERT INTO wristband_migrations (version, name) VALUES ($1, $2)")
            .bind(migration.version)
            .bind(migration.name)
            .execute(&mut *tx)
            .await?;
        // Debug, not info: the CLI's output must stay its own on a first run.
        log::debug!(
            "wristband: applied migration {} ({})",
            migration.version,
            migration.name
        );
    }
    tx.commit().await?;
    Ok(())
}
