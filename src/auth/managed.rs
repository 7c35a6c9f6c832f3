//! What wristband's stages keep in managed state, fetched together.

use rocket::{Orbit, Rocket};
use rocket_db_pools::Database;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::Error;

/// The database, the settings and the clock of a running app.
pub(crate) struct Managed<'r> {
    pub db: &'r Db,
    pub settings: &'r Settings,
    pub clock: &'r Clock,
}

impl<'r> Managed<'r> {
    /// All three, or an error naming the missing stage: only an app built
    /// without `config::stage()` or `db::stage()` lacks them.
    pub fn of(rocket: &'r Rocket<Orbit>) -> Result<Managed<'r>, Error> {
        match (
            Db::fetch(rocket),
            rocket.state::<Settings>(),
            rocket.state::<Clock>(),
        ) {
            (Some(db), Some(settings), Some(clock)) => Ok(Managed {
                db,
                settings,
                clock,
            }),
            _ => {
                log::error!("wristband's stages are not all attached");
                Err(Error::Corrupt("wristband is not fully attached".into()))
            }
        }
    }
}
