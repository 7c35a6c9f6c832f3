//! wristband's reusable core: who is signed in, how they sign in and out,
//! and the checks every form and redirect goes through. It knows cookies
//! and guards, not pages.
//!
//! Attach [`stage`] (after [`crate::config::stage`] and the database) and
//! use the guards in your own routes:
//!
//! ```no_run
//! # use rocket::get;
//! use wristband::auth::{FreshUser, User};
//!
//! #[get("/private")]
//! fn private(user: User) -> String {
//!     format!("only {} sees this", user.username)
//! }
//!
//! #[get("/public")]
//! fn public(user: Option<User>) -> &'static str {
//!     if user.is_some() { "welcome back" } else { "hello, stranger" }
//! }
//! ```

pub mod authenticator;
pub mod client;
pub mod cookie;
pub mod csrf;
pub mod device;
pub mod guard;
mod managed;
pub mod password;
pub mod redirect;
pub mod throttle;
pub mod unauthorized;
pub mod wristband;

use rocket::fairing::AdHoc;
use rocket::tokio::task;

pub use crate::users::User;
pub use authenticator::{Authenticator, Ended, LoginOutcome};
pub use client::{ClientInfo, ClientKey};
pub use csrf::{CsrfForm, CsrfSecret, CsrfToken, TokenOnly};
pub use guard::{current_user, signed_in, FreshUser, StoreUnavailable, UserLoads};
pub use password::{Admitted, Hasher};
pub use redirect::SafeRedirect;
pub use wristband::Wristband;

use crate::config::{Settings, SettingsRefused};

/// Manages the password hasher (whose dummy hash is made here, once, at the
/// configured cost, and timed to size its queue) and the load counter, and registers the 401 catcher.
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("wristband auth", |rocket| async {
        rocket
            .manage(UserLoads::default())
            .attach(wristband::Registrar)
            .register("/", rocket::catchers![unauthorized::unauthorized])
            .attach(AdHoc::try_on_ignite("password hasher", |rocket| async {
                let Some((cost, queue)) = rocket
                    .state::<Settings>()
                    .map(|s| (s.bcrypt_cost, s.password_queue))
                else {
                    if rocket.state::<SettingsRefused>().is_none() {
                        log::error!(
                            "attach wristband::config::stage() before wristband::auth::stage()"
                        );
                    }
                    return Err(rocket);
                };
                match task::spawn_blocking(move || Hasher::with_queue(cost, queue)).await {
                    Ok(Ok(hasher)) => Ok(rocket.manage(hasher)),
                    Ok(Err(e)) => {
                        log::error!("{e}");
                        Err(rocket)
                    }
                    Err(e) => {
                        log::error!("password hasher setup panicked: {e}");
                        Err(rocket)
                    }
                }
            }))
    })
}
