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
pub mod retention;
mod routes;
pub mod user_agent;
pub mod users;

use rocket::figment::Figment;
use rocket::shield::{Frame, Referrer, Shield};
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;

pub use clock::Clock;

/// The app as configured by `Rocket.toml` and `ROCKET_*` variables.
pub fn rocket() -> Rocket<Build> {
    build(rocket::Config::figment(), Clock::system())
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
        .attach(Template::fairing())
        .attach(shield)
        .attach(headers::SecurityHeaders)
        .mount("/", routes::routes())
        .register("/", error::catchers())
}
