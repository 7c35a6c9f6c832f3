//! What wristband's stages keep in managed state, fetched together.

use rocket::{Orbit, Rocket};

use crate::clock::Clock;
use crate::db::DbPool;
use crate::error::Error;
use crate::settings::Settings;
use crate::store::UserStore;

/// The database, the settings and the clock of a running app.
pub(crate) struct Managed<'r> {
    pub db: &'r DbPool,
    pub settings: &'r Settings,
    pub clock: &'r Clock,
}

impl<'r> Managed<'r> {
    /// All three, or an error: only an app without the wristband fairing
    /// (or whose ignite failed) lacks them.
    pub fn of(rocket: &'r Rocket<Orbit>) -> Result<Managed<'r>, Error> {
        match (
            rocket.state::<DbPool>(),
            rocket.state::<Settings>(),
            rocket.state::<Clock>(),
        ) {
            (Some(db), Some(settings), Some(clock)) => Ok(Managed {
                db,
                settings,
                clock,
            }),
            _ => {
                log::error!("the wristband fairing is not attached");
                Err(Error::Corrupt("wristband is not fully attached".into()))
            }
        }
    }
}

/// The host's user store, in managed state (one per store type).
pub(crate) struct Users<S>(pub S);

/// The store of type `S` the fairing was given.
pub(crate) fn store<S: UserStore>(rocket: &Rocket<Orbit>) -> Result<&S, Error> {
    match rocket.state::<Users<S>>() {
        Some(users) => Ok(&users.0),
        None => {
            log::error!(
                "no wristband fairing for the user store {}",
                std::any::type_name::<S>()
            );
            Err(Error::Corrupt(
                "wristband is not attached for this user store".into(),
            ))
        }
    }
}
