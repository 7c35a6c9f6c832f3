//! The fairing that attaches wristband to a Rocket app, and its builder.

use std::sync::{Mutex, PoisonError};

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::tokio::task;
use rocket::{Build, Orbit, Request, Response, Rocket};
use rocket_db_pools::Database;

use rocket::http::Header;

use crate::band;
use crate::clock::Clock;
use crate::db::DbPool;
use crate::error::Error;
use crate::guard::Presence;
use crate::guard::UserLoads;
use crate::managed::Users;
use crate::migrate::migrate;
use crate::password::Hasher;
use crate::retention;
use crate::settings::{CookieNames, JsonRule, Settings};
use crate::store::UserStore;
use crate::unauthorized;

/// wristband for one Rocket app: attach it after your database's fairing.
///
/// At ignite it reads the settings from Rocket's figment (`bcrypt_cost`,
/// `remember_days`, `fresh_minutes`, the throttling keys, ...; a bad value
/// stops the launch with one line), starts the password threads, brings its
/// own tables up to date on your database and registers the 401 catcher.
/// At liftoff it starts pruning old history; on every response it registers
/// the wristbands issued.
///
/// ```ignore
/// rocket::build()
///     .attach(Db::init())
///     .attach(Wristband::new::<Db>(Table::<Member>::new()).login_path("/sign-in"))
/// ```
pub struct Wristband<S: UserStore> {
    store: Mutex<Option<S>>,
    pool: fn(&Rocket<Build>) -> Option<DbPool>,
    login_path: Option<String>,
    reauth_path: Option<String>,
    cookies: Option<CookieNames>,
    json_when: Option<JsonRule>,
}

fn pool_of<D: Database<Pool = DbPool>>(rocket: &Rocket<Build>) -> Option<DbPool> {
    // `state`, not `D::fetch`, which would log its own misleading error.
    rocket.state::<D>().map(|db| (**db).clone())
}

impl<S: UserStore> Wristband<S> {
    /// wristband over your user store, on the database `D` (declared with
    /// [`DbPool`] as its pool; its tables go there too).
    pub fn new<D: Database<Pool = DbPool>>(store: S) -> Wristband<S> {
        Wristband {
            store: Mutex::new(Some(store)),
            pool: pool_of::<D>,
            login_path: None,
            reauth_path: None,
            cookies: None,
            json_when: None,
        }
    }

    /// Where anonymous visitors are sent, with `?next=` (default `/login`).
    pub fn login_path(mut self, path: impl Into<String>) -> Self {
        self.login_path = Some(path.into());
        self
    }

    /// Where signed-in visitors who are not fresh are sent (default
    /// `/reauth`).
    pub fn reauth_path(mut self, path: impl Into<String>) -> Self {
        self.reauth_path = Some(path.into());
        self
    }

    /// Which requests get JSON 401s rather than redirects (default: paths
    /// under `/api`, and requests preferring JSON).
    pub fn json_when(mut self, rule: JsonRule) -> Self {
        self.json_when = Some(rule);
        self
    }

    /// The cookies' names (default `user_id`, `fresh`, `csrf`, `device`;
    /// each gets `__Host-` in front wherever cookies are `Secure`).
    /// [`crate::CookieName::named`] makes one from a string.
    pub fn cookie_names(mut self, names: CookieNames) -> Self {
        self.cookies = Some(names);
        self
    }

    fn settings(&self, rocket: &Rocket<Build>) -> Result<Settings, String> {
        let mut settings = Settings::from_figment(rocket.figment())?;
        for path in [&self.login_path, &self.reauth_path].into_iter().flatten() {
            if !path.starts_with('/') || path.starts_with("//") {
                return Err(format!(
                    "wristband paths must be local, like /login, not {path:?}"
                ));
            }
        }
        if let Some(path) = &self.login_path {
            settings.login_path.clone_from(path);
        }
        if let Some(path) = &self.reauth_path {
            settings.reauth_path.clone_from(path);
        }
        if let Some(names) = self.cookies {
            settings.cookies = names;
        }
        if let Some(rule) = self.json_when {
            settings.json_when = rule;
        }
        Ok(settings)
    }

    async fn ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let settings = match self.settings(&rocket) {
            Ok(settings) => settings,
            Err(message) => {
                log::error!("{message}");
                return Err(rocket);
            }
        };
        let Some(pool) = (self.pool)(&rocket) else {
            log::error!(
                "wristband has no database: its fairing failed (see above), or is not \
                 attached before wristband's"
            );
            return Err(rocket);
        };
        if let Err(e) = migrate(&pool).await {
            log::error!("wristband's migrations failed: {e}");
            return Err(rocket);
        }
        let (cost, queue) = (settings.bcrypt_cost, settings.password_queue);
        let hasher = match task::spawn_blocking(move || Hasher::with_queue(cost, queue)).await {
            Ok(Ok(hasher)) => hasher,
            Ok(Err(e)) => {
                log::error!("{e}");
                return Err(rocket);
            }
            Err(e) => {
                log::error!("password hasher setup panicked: {e}");
                return Err(rocket);
            }
        };
        let Some(store) = self
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            log::error!("a wristband fairing was ignited twice");
            return Err(rocket);
        };
        let rocket = match rocket.state::<Clock>() {
            Some(_) => rocket,
            None => rocket.manage(Clock::system()),
        };
        Ok(rocket
            .manage(pool)
            .manage(settings)
            .manage(hasher)
            .manage(UserLoads::default())
            .manage(Users(store))
            .register("/", rocket::catchers![unauthorized::unauthorized]))
    }
}

/// A request whose user lookup failed must not be answered as if the
/// visitor were anonymous: Rocket's `Option<T>` guard turns the guard's 503
/// into `None`, so a route taking `Option<CurrentUser<S>>` would render its
/// anonymous page. Such a response becomes a 503; the cookie changes it
/// made (a logout's removals) are kept.
fn unavailable_is_503<'r>(req: &'r Request<'_>, res: &mut Response<'r>) {
    if res.status().code >= 400 || Presence::of(req) != Presence::Unavailable {
        return;
    }
    let cookies: Vec<String> = res
        .headers()
        .get("Set-Cookie")
        .map(str::to_string)
        .collect();
    // The lookup logged the cause.
    let failed = Error::Database(sqlx::Error::PoolTimedOut).respond_quietly(req);
    match failed {
        Ok(failed) => *res = failed,
        Err(status) => {
            res.set_status(status);
            return;
        }
    }
    for cookie in cookies {
        res.adjoin_header(Header::new("Set-Cookie", cookie));
    }
}

#[rocket::async_trait]
impl<S: UserStore> Fairing for Wristband<S> {
    fn info(&self) -> Info {
        Info {
            name: "wristband",
            kind: Kind::Ignite | Kind::Liftoff | Kind::Response,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        self.ignite(rocket).await
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        retention::start(rocket);
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        unavailable_is_503(req, res);
        band::register_issued(req, res).await;
    }
}
