//! Who is asking: the `User` and `FreshUser` request guards, backed by one
//! database read per request however many guards ask.

use std::sync::atomic::{AtomicU64, Ordering};

use rocket::http::Status;
use rocket::outcome::{try_outcome, Outcome};
use rocket::request::{self, FromRequest, Request};
use rocket_db_pools::Database;
use sqlx::AnyPool;

use crate::auth::cookie;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::users::{self, User};

/// How many times the user row has been read from the database, over the
/// app's life. Managed state; it shows that guards share one read per request.
#[derive(Debug, Default)]
pub struct UserLoads(AtomicU64);

impl UserLoads {
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The database could not tell who this is.
#[derive(Debug, Clone, Copy)]
pub struct StoreUnavailable;

/// This request's user, read once and cached in the request.
struct Identity(Result<Option<User>, StoreUnavailable>);

/// The signed-in user for this request: `Ok(None)` for anonymous visitors
/// (no cookie, a cookie that does not decrypt, or a user who is gone or
/// deactivated), `Err` when the database could not answer.
pub async fn current_user<'r>(req: &'r Request<'_>) -> Result<Option<&'r User>, StoreUnavailable> {
    let identity = req
        .local_cache_async(async { Identity(load(req).await) })
        .await;
    match &identity.0 {
        Ok(user) => Ok(user.as_ref()),
        Err(e) => Err(*e),
    }
}

async fn load(req: &Request<'_>) -> Result<Option<User>, StoreUnavailable> {
    let jar = req.cookies();
    let Some(settings) = req.rocket().state::<Settings>() else {
        log::error!("wristband's settings are not attached");
        return Err(StoreUnavailable);
    };
    let Some(id) = cookie::session_user_id(jar, settings) else {
        return Ok(None);
    };
    let Some(db) = Db::fetch(req.rocket()) else {
        log::error!("the database is not attached");
        return Err(StoreUnavailable);
    };
    if let Some(loads) = req.rocket().state::<UserLoads>() {
        loads.0.fetch_add(1, Ordering::Relaxed);
    }
    match find_active(db, id).await {
        Ok(Some(user)) => Ok(Some(user)),
        Ok(None) => {
            // Deleted or deactivated: take the stale wristband off.
            cookie::logout_user(jar, settings);
            Ok(None)
        }
        Err(e) => {
            log::error!("loading user {id} failed: {e}");
            Err(StoreUnavailable)
        }
    }
}

/// One primary-key read on a quick connection (one round trip instead of
/// three). If the query fails there, the connection is dropped and the pool,
/// which checks its connections, gets a second try: a kept connection may
/// have gone stale since its last use.
///
/// The quick query is bounded by `connect_timeout` like a pool acquire is:
/// a kept connection to a database that froze must not hang the request.
async fn find_active(db: &Db, id: i64) -> Result<Option<User>, crate::error::Error> {
    let mut conn = rocket::tokio::time::timeout(db.timeout(), db.quick())
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    let quick =
        rocket::tokio::time::timeout(db.timeout(), users::find_active(&mut *conn, id)).await;
    match quick {
        Ok(Ok(found)) => {
            conn.keep();
            Ok(found)
        }
        failed => {
            drop(conn);
            let why = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => "timed out".to_string(),
            };
            log::info!("user lookup failed on a kept connection, retrying on the pool: {why}");
            let pool: &AnyPool = db;
            users::find_active(pool, id).await
        }
    }
}

/// The signed-in user. Anonymous requests are forwarded with 401, which the
/// app's 401 catcher turns into a redirect to the login page (or JSON 401
/// for the API); a database failure is a 503.
///
/// ```no_run
/// # use rocket::get;
/// use wristband::auth::User;
/// #[get("/dashboard")]
/// fn dashboard(user: User) -> String {
///     format!("Hello, {}!", user.username)
/// }
/// ```
#[rocket::async_trait]
impl<'r> FromRequest<'r> for User {
    type Error = StoreUnavailable;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        match current_user(req).await {
            Ok(Some(user)) => Outcome::Success(user.clone()),
            Ok(None) => Outcome::Forward(Status::Unauthorized),
            Err(e) => Outcome::Error((Status::ServiceUnavailable, e)),
        }
    }
}

/// A signed-in user who typed their password in this browser within the
/// last `fresh_minutes`: for sensitive actions ("sudo mode"). A session
/// restored from a remembered cookie is never fresh. Not fresh: forwarded
/// with 401, and the catcher sends the browser to `/reauth`.
///
/// ```no_run
/// # use rocket::post;
/// use wristband::auth::FreshUser;
/// #[post("/transfer")]
/// fn transfer(user: FreshUser) -> String {
///     format!("{} may move money", user.0.username)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct FreshUser(pub User);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for FreshUser {
    type Error = StoreUnavailable;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let user = try_outcome!(req.guard::<User>().await);
        let (Some(settings), Some(clock)) = (
            req.rocket().state::<Settings>(),
            req.rocket().state::<Clock>(),
        ) else {
            return Outcome::Forward(Status::Unauthorized);
        };
        let now = clock.now();
        match cookie::fresh_since(req.cookies(), settings, user.id) {
            Some(at) if at <= now && now - at < settings.fresh_secs() => {
                Outcome::Success(FreshUser(user))
            }
            _ => Outcome::Forward(Status::Unauthorized),
        }
    }
}
