//! The app's side of wristband: its users table as the library's store,
//! and short names for the library's guards over it.

use crate::users::Account;

/// The `users` table, as wristband loads it.
pub type Users = wristband::Table<Account>;
/// A signed-in user (a request guard; derefs to [`Account`]).
pub type User = wristband::CurrentUser<Users>;
/// A signed-in user who typed their password within `fresh_minutes`.
pub type FreshUser = wristband::Fresh<Users>;
/// Signing in and out, for the app's routes.
pub type Authenticator<'r> = wristband::Authenticator<'r, Users>;

pub use wristband::{
    current_user, known_user, CsrfForm, CsrfToken, Ended, LoginOutcome, SafeRedirect,
    StoreUnavailable, TokenOnly, UserLoads,
};

/// The library's fairing for this app: attached by [`crate::build`].
pub fn fairing() -> wristband::Wristband<Users> {
    wristband::Wristband::new::<crate::db::Db>(Users::new())
}
