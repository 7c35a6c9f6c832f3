//! The wristband app: accounts, pages and a CLI, built on the `wristband`
//! library (in `crates/wristband`), which it uses as any other Rocket app
//! would: its `users` table is the library's user store ([`auth`]).

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
mod headers;
mod routes;
pub mod templates;
pub mod users;

use rocket::figment::Figment;
use rocket::shield::{Frame, Referrer, Shield};
use rocket::{Build, Rocket};
use rocket_db_pools::Database;

pub use wristband::Clock;

/// The app as configured by `Rocket.toml` and `ROCKET_*` variables, over
/// the defaults in [`config::figment`].
pub fn rocket() -> Rocket<Build> {
    build(config::figment(), Clock::system())
}

/// The app on a given configuration and clock (tests pass a manual clock).
pub fn build(figment: Figment, clock: Clock) -> Rocket<Build> {
    let shield = Shield::default()
        .enable(Frame::Deny)
        .enable(Referrer::SameOrigin);
    rocket::custom(figment)
        .manage(clock)
        .attach(db::Db::init())
        .attach(db::migrations())
        .attach(auth::fairing())
        .attach(templates::stage())
        .attach(shield)
        .attach(headers::SecurityHeaders)
        .mount("/", routes::routes())
        .register("/", error::catchers())
}
