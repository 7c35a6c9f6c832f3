//! wristband: Flask-Login-style authentication for Rocket.
//!
//! Log in once, get a wristband (an encrypted private cookie holding only
//! your user id), show it on every page, toss it when you leave. [`rocket`]
//! builds the whole app; [`auth`] is the reusable core.

pub mod attempts;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
mod headers;
mod hex;
pub mod registrations;
pub mod retention;
mod routes;
pub mod sessions;
pub mod templates;
pub mod user_agent;
pub mod users;

use rocket::figment::Figment;
use rocket::shield::{Frame, Referrer, Shield};
use rocket::{Build, Rocket};

pub use clock::Clock;

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
        .attach(config::stage())
        .attach(db::stage())
        .attach(auth::stage())
        .attach(retention::stage())
        .attach(templates::stage())
        .attach(shield)
        .attach(headers::SecurityHeaders)
        .mount("/", routes::routes())
        .register("/", error::catchers())
}
