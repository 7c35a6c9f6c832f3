//! The app's database: the pool wristband runs on, and the app's own
//! migrations (the `users` table; wristband migrates its own tables).

use rocket::fairing::{self, AdHoc};
use rocket::{Build, Rocket};
use rocket_db_pools::Database;
use sqlx::AnyPool;
use wristband::{Backend, DbPool};

/// The `wristband` database, configured as `databases.wristband`.
#[derive(Database)]
#[database("wristband")]
pub struct Db(DbPool);

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

/// The app's migrations: attach right after `Db::init()`.
pub fn migrations() -> AdHoc {
    AdHoc::try_on_ignite("database migrations", run_migrations)
}
