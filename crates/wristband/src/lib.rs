//! # wristband
//!
//! Flask-Login-style authentication for [Rocket](https://rocket.rs), on your
//! own user table. Log in once, get a wristband (an encrypted private cookie
//! holding only your user id, known to a server-side registry), show it on
//! every page, toss it when you leave. Protected pages send visitors without
//! one to the login page and bring them back afterwards.
//!
//! What comes with it, so your app does not write it: CSRF tokens for every
//! form ([`CsrfForm`]), brute-force throttling that holds under concurrency
//! and across instances (with device cookies, so strangers cannot lock you
//! out), safe `next` redirects ([`SafeRedirect`]), fresh-login "sudo mode"
//! ([`Fresh`]), bcrypt off the async workers with equal work for unknown
//! users, a registry that ends a session on every instance at the next
//! request, "where you're signed in" lists, and personal access tokens for
//! API clients ([`tokens`]: `Authorization: Bearer wb_...`, through the same
//! guards, Flask-Login's `request_loader` done once,
//! [`UserStore::presented`]).
//!
//! ## Quickstart
//!
//! Describe your table, attach the fairing after your database, and use the
//! guards:
//!
//! ```no_run
//! use rocket::{get, launch, routes};
//! use rocket_db_pools::Database;
//! use wristband::{AuthUser, CurrentUser, Table, UserTable, Wristband};
//!
//! #[derive(Database)]
//! #[database("notes")]
//! struct Db(wristband::DbPool);
//!
//! #[derive(Clone, sqlx::FromRow)]
//! struct Member {
//!     id: i64,
//!     email: String,
//! }
//!
//! impl AuthUser for Member {
//!     type Id = i64;
//!     fn id(&self) -> i64 {
//!         self.id
//!     }
//!     fn login(&self) -> &str {
//!         &self.email
//!     }
//! }
//!
//! impl UserTable for Member {
//!     const TABLE: &'static str = "members";
//!     const LOGIN: &'static str = "email";
//! }
//!
//! type Members = Table<Member>;
//! type User = CurrentUser<Members>;
//!
//! #[get("/private")]
//! fn private(user: User) -> String {
//!     format!("only {} sees this", user.email)
//! }
//!
//! #[get("/")]
//! fn public(user: Option<User>) -> &'static str {
//!     if user.is_some() { "welcome back" } else { "hello, stranger" }
//! }
//!
//! #[launch]
//! fn rocket() -> _ {
//!     rocket::build()
//!         .attach(Db::init())
//!         .attach(Wristband::new::<Db>(Members::new()))
//!         .mount("/", routes![private, public])
//! }
//! ```
//!
//! Log people in and out with the [`Authenticator`] guard, in your own
//! routes (`examples/notes` in the repository has a whole app):
//!
//! ```no_run
//! # use rocket::{post, FromForm, response::Redirect};
//! # use wristband::{Authenticator, CsrfForm, LoginOutcome, TokenOnly, Error};
//! # #[derive(Clone, sqlx::FromRow)] struct Member { id: i64, email: String }
//! # impl wristband::AuthUser for Member { type Id = i64; fn id(&self) -> i64 { self.id } fn login(&self) -> &str { &self.email } }
//! # impl wristband::UserTable for Member { const TABLE: &'static str = "members"; const LOGIN: &'static str = "email"; }
//! # type Members = wristband::Table<Member>;
//! #[derive(FromForm)]
//! struct Login { email: String, password: String, remember: bool }
//!
//! #[post("/login", data = "<form>")]
//! async fn login(form: CsrfForm<Login>, auth: Authenticator<'_, Members>) -> Result<Redirect, Error> {
//!     let form = form.into_inner();
//!     Ok(match auth.login(&form.email, &form.password, form.remember).await? {
//!         LoginOutcome::LoggedIn(_) => Redirect::to("/"),
//!         LoginOutcome::Invalid | LoginOutcome::Deactivated => Redirect::to("/login"),
//!     })
//! }
//!
//! #[post("/logout", data = "<_form>")]
//! async fn logout(_form: CsrfForm<TokenOnly>, auth: Authenticator<'_, Members>) -> Result<Redirect, Error> {
//!     auth.logout(None).await?;
//!     Ok(Redirect::to("/"))
//! }
//! ```
//!
//! ## Configuration
//!
//! Read from Rocket's figment (`Rocket.toml`, `ROCKET_*` variables):
//! `bcrypt_cost` (12), `remember_days` (30), `fresh_minutes` (10),
//! `max_failed_logins` (5), `max_failed_logins_per_ip` (50),
//! `throttle_window_minutes` (15), `max_failed_logins_per_device` (5),
//! `device_days` (365), `max_registrations_per_ip` (10),
//! `session_idle_hours` (24), `history_days` (90), `secure_cookies` (all
//! profiles but `debug`), `password_queue`, `token_days` (90),
//! `allow_tokens_without_expiry` (false). Paths, cookie names and which
//! requests get JSON are set on the [`Wristband`] builder.
//!
//! ## Databases
//!
//! SQLite and PostgreSQL, through sqlx's `Any` driver: one binary serves
//! both, picked by the URL. wristband's own tables (`wristband_sessions`,
//! `wristband_login_attempts`, `wristband_registrations`,
//! `wristband_tokens`) are created at ignite by [`migrate`].

#![deny(missing_docs)]

pub mod attempts;
mod authenticator;
mod band;
pub mod client;
mod clock;
pub mod cookie;
pub mod csrf;
mod db;
pub mod device;
mod error;
mod fairing;
mod guard;
mod hex;
mod managed;
mod migrate;
pub mod password;
mod redirect;
pub mod registrations;
pub mod retention;
mod rules;
pub mod sessions;
mod settings;
mod store;
pub mod throttle;
pub mod tokens;
pub mod unauthorized;
pub mod user_agent;

pub use authenticator::{Authenticator, Ended};
pub use client::{ClientInfo, ClientKey};
pub use clock::{format_utc, Clock};
pub use csrf::{CsrfForm, CsrfSecret, CsrfToken, TokenOnly};
pub use db::{redacted, Backend, DbPool, QuickConnection};
pub use error::{json_code, Error};
pub use fairing::Wristband;
pub use guard::{current_user, known_user, CurrentUser, Fresh, StoreUnavailable, UserLoads, Via};
pub use migrate::migrate;
pub use password::{Admitted, Hasher, Password, PasswordHash};
pub use redirect::SafeRedirect;
pub use rules::{Asker, Confirmed, LoginOutcome, Rules};
pub use settings::{
    api_or_accepts_json, CookieName, CookieNames, JsonRule, Settings, MAX_REMEMBER_DAYS,
    MAX_TOKEN_DAYS, MIN_SERVING_BCRYPT_COST,
};
pub use store::{
    bearer_token, AuthUser, Credentials, Presentation, StoreError, Table, UserId, UserStore,
    UserTable,
};

/// Whether this request gets JSON answers, by the rule the fairing was
/// built with (the default rule when wristband is not attached).
pub fn wants_json(req: &rocket::Request<'_>) -> bool {
    match req.rocket().state::<Settings>() {
        Some(settings) => settings.wants_json(req),
        None => api_or_accepts_json(req),
    }
}
