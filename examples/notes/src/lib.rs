//! notes: a small app on the wristband library, to show what an app of its
//! own needs. Members sign in with their email; their ids are random hex
//! strings (TEXT), where the wristband app's are integers. Each member keeps
//! short notes, as pages and as a JSON API, which scripts reach with the
//! API tokens members make on `/tokens`.
//!
//! The wristband-specific code is marked `// wristband:` so it can be
//! counted: the user type in `member.rs`, attaching and mounting below, and
//! the login and logout routes in `session.rs`.

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use rocket_db_pools::Database;

mod html;
mod member;
mod notes;
mod session;
mod tokens;

pub use member::{Member, Members, User};
pub use notes::Note;

/// The app's database: members, notes, and wristband's own tables.
#[derive(Database)]
#[database("notes")]
pub struct Db(wristband::DbPool);

/// Rocket's configuration with the app's defaults underneath: `join` keeps
/// whatever `Rocket.toml` or `ROCKET_*` variables already say.
pub fn figment() -> Figment {
    rocket::Config::figment().join(("databases.notes.url", "sqlite://notes.sqlite"))
}

/// The app, on this configuration (tests pass their own).
pub fn rocket(figment: Figment) -> Rocket<Build> {
    rocket::custom(figment)
        .attach(Db::init())
        .attach(create_tables())
        // wristband: integration, attaching and mounting (2 of 15 lines)
        .attach(wristband::Wristband::new::<Db>(Members::new()))
        .mount("/", session::routes())
        // wristband: end
        .mount("/", notes::routes())
        .mount("/", tokens::routes())
}

/// The app's tables. Plain SQL that SQLite and PostgreSQL both accept, so
/// one list serves either database; `IF NOT EXISTS` makes it safe to run
/// at every launch.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS members (
        id            TEXT   PRIMARY KEY,
        email         TEXT   NOT NULL UNIQUE,
        password_hash TEXT   NOT NULL,
        created_at    BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS notes (
        id         TEXT   PRIMARY KEY,
        member_id  TEXT   NOT NULL REFERENCES members (id) ON DELETE CASCADE,
        body       TEXT   NOT NULL,
        created_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS notes_member_created ON notes (member_id, created_at)",
];

/// Creates the app's tables at ignite (wristband's fairing creates its
/// own). One statement at a time: PostgreSQL refuses several in one
/// prepared statement.
fn create_tables() -> AdHoc {
    AdHoc::try_on_ignite("notes tables", |rocket| async move {
        // `state`, not `Db::fetch`: when Db::init failed it has said why,
        // and fetch would add that it was never attached.
        let Some(db) = rocket.state::<Db>() else {
            return Err(rocket);
        };
        let pool: &sqlx::AnyPool = db;
        for statement in SCHEMA {
            if let Err(e) = sqlx::query(statement).execute(pool).await {
                log::error!("creating the notes tables failed: {e}");
                return Err(rocket);
            }
        }
        Ok(rocket)
    })
}

/// 128 random bits as lower-case hex: ids nobody can guess or count.
fn random_id() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
