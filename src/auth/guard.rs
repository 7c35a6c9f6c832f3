//! Who is asking: the `User` and `FreshUser` request guards, backed by one
//! database read per request however many guards ask.

use std::sync::atomic::{AtomicU64, Ordering};

use rocket::http::Status;
use rocket::outcome::{try_outcome, Outcome};
use rocket::request::{self, FromRequest, Request};
use sqlx::AnyPool;

use crate::auth::cookie;
use crate::auth::managed::Managed;
use crate::auth::wristband::presented_token;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::sessions::{self, SignedIn, TokenHash};
use crate::users::User;

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

/// This request's user and session, read once and cached in the request.
struct Identity(Result<Option<SignedIn>, StoreUnavailable>);

/// The signed-in user for this request: `Ok(None)` for anonymous visitors
/// (no cookie, a cookie that does not decrypt, a wristband the registry
/// does not hold or that has expired, or a user who is gone or
/// deactivated), `Err` when the database could not answer.
pub async fn current_user<'r>(req: &'r Request<'_>) -> Result<Option<&'r User>, StoreUnavailable> {
    Ok(signed_in(req).await?.map(|signed| &signed.user))
}

/// The signed-in user and the session behind this request's wristband, as
/// [`current_user`] (the same single read).
pub async fn signed_in<'r>(req: &'r Request<'_>) -> Result<Option<&'r SignedIn>, StoreUnavailable> {
    let identity = req
        .local_cache_async(async { Identity(load(req).await) })
        .await;
    match &identity.0 {
        Ok(signed) => Ok(signed.as_ref()),
        Err(e) => Err(*e),
    }
}

/// The user this request has already looked up, without asking the
/// database: for responders, which cannot wait. When nothing looked the
/// user up yet, or the lookup failed, this settles the request as anonymous.
pub fn known_user<'r>(req: &'r Request<'_>) -> Option<&'r User> {
    match &req.local_cache(|| Identity(Ok(None))).0 {
        Ok(signed) => signed.as_ref().map(|s| &s.user),
        Err(_) => None,
    }
}

/// A session's `last_seen` is written at most this often, not on every
/// request: a write per page view would cost more than the page.
const TOUCH_EVERY_SECS: i64 = 5 * 60;

async fn load(req: &Request<'_>) -> Result<Option<SignedIn>, StoreUnavailable> {
    let jar = req.cookies();
    let rocket = req.rocket();
    let Ok(Managed {
        db,
        settings,
        clock,
    }) = Managed::of(rocket)
    else {
        return Err(StoreUnavailable);
    };
    let Some(id) = cookie::session_user_id(jar, settings) else {
        return Ok(None);
    };
    let Some(token) = presented_token(jar, settings) else {
        return Ok(None);
    };
    if let Some(loads) = rocket.state::<UserLoads>() {
        loads.0.fetch_add(1, Ordering::Relaxed);
    }
    let now = clock.now();
    match find_signed_in(db, id, &token, now).await {
        Ok(Some(signed)) => {
            if now - signed.session.last_seen >= TOUCH_EVERY_SECS {
                let idle = settings.session_idle_secs();
                // Losing one "last seen" is harmless; failing the page is not.
                if let Err(e) = sessions::touch(db, signed.session.id, now, idle).await {
                    log::warn!(
                        "could not record session {} as seen: {e}",
                        signed.session.id
                    );
                }
            }
            Ok(Some(signed))
        }
        Ok(None) => {
            // Ended, expired, never issued, or its user gone or
            // deactivated: take the stale wristband off.
            cookie::logout_user(jar, settings);
            Ok(None)
        }
        Err(e) => {
            log::error!("loading user {id} failed: {e}");
            Err(StoreUnavailable)
        }
    }
}

/// One read on a quick connection (one round trip instead of three). If the
/// query fails there, the connection is dropped and the pool, which checks
/// its connections, gets a second try: a kept connection may have gone
/// stale since its last use.
///
/// The quick query is bounded by `connect_timeout` like a pool acquire is:
/// a kept connection to a database that froze must not hang the request.
async fn find_signed_in(
    db: &Db,
    id: i64,
    token: &TokenHash,
    now: i64,
) -> Result<Option<SignedIn>, crate::error::Error> {
    let mut conn = rocket::tokio::time::timeout(db.timeout(), db.quick())
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    let quick = rocket::tokio::time::timeout(
        db.timeout(),
        sessions::find_signed_in(&mut *conn, id, token, now),
    )
    .await;
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
            sessions::find_signed_in(pool, id, token, now).await
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
