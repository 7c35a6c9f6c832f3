//! Who is asking: the [`CurrentUser`] and [`Fresh`] request guards, backed
//! by one database read per request however many guards ask.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

use rocket::http::Status;
use rocket::outcome::{try_outcome, Outcome};
use rocket::request::{self, FromRequest, Request};

use sqlx::AnyConnection;

use crate::attempts::{self, Attempt, FailureScope, Outcome as Recorded};
use crate::client::{ClientInfo, ClientKey};
use crate::cookie;
use crate::db::DbPool;
use crate::error::Error;
use crate::managed::{self, Managed};
use crate::sessions::{self, CurrentSession};
use crate::settings::Settings;
use crate::store::{AuthUser, Presentation, StoreError, UserStore};
use crate::tokens::{self, CurrentToken};

/// How many times a user has been looked up in the database, over the
/// app's life. Managed state; it shows that guards share one read per request.
#[derive(Debug, Default)]
pub struct UserLoads(AtomicU64);

impl UserLoads {
    /// The lookups so far.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The database could not tell who this is.
#[derive(Debug, Clone, Copy)]
pub struct StoreUnavailable;

/// The signed-in user of a request: your user type (it derefs to it) and
/// the session behind the wristband.
///
/// As a request guard: anonymous requests are forwarded with 401, which
/// wristband's 401 catcher turns into a redirect to the login page (or JSON
/// 401 for API requests); a store that cannot answer gives 503. Use
/// `Option<CurrentUser<S>>` for pages anyone may see. Give it a short name:
///
/// ```ignore
/// type User = wristband::CurrentUser<wristband::Table<Member>>;
///
/// #[get("/notes")]
/// fn notes(user: User) -> String { format!("{}'s notes", user.email) }
/// ```
pub struct CurrentUser<S: UserStore> {
    user: S::User,
    via: Via,
}

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Its wristband cookie, live in the registry.
    Wristband(CurrentSession),
    /// Its own credentials ([`UserStore::presented`]): one of
    /// wristband's API tokens, or `None` for a scheme of the host's.
    Request(Option<CurrentToken>),
}

impl<S: UserStore> CurrentUser<S> {
    /// Your user.
    pub fn user(&self) -> &S::User {
        &self.user
    }

    /// Your user, owned.
    pub fn into_user(self) -> S::User {
        self.user
    }

    /// The registry session this request's wristband belongs to; `None`
    /// for a request signed in by a token.
    pub fn session(&self) -> Option<&CurrentSession> {
        match &self.via {
            Via::Wristband(session) => Some(session),
            Via::Request(_) => None,
        }
    }

    /// The API token this request was signed in by, if it was.
    pub fn token(&self) -> Option<&CurrentToken> {
        match &self.via {
            Via::Request(token) => token.as_ref(),
            Via::Wristband(_) => None,
        }
    }

    /// How this request proved who it is.
    pub fn via(&self) -> &Via {
        &self.via
    }
}

impl<S: UserStore> Deref for CurrentUser<S> {
    type Target = S::User;

    fn deref(&self) -> &S::User {
        &self.user
    }
}

impl<S: UserStore> Clone for CurrentUser<S> {
    fn clone(&self) -> Self {
        CurrentUser {
            user: self.user.clone(),
            via: self.via.clone(),
        }
    }
}

impl<S: UserStore> fmt::Debug for CurrentUser<S>
where
    S::User: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentUser")
            .field("user", &self.user)
            .field("via", &self.via)
            .finish()
    }
}

/// This request's user, read once and cached in the request.
struct Identity<S: UserStore>(Result<Option<CurrentUser<S>>, StoreUnavailable>);

/// What this request's lookup came to, without the user's type: for the
/// 401 catcher and the response hook, which serve every store alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    /// No lookup ran, or it found nobody.
    Anonymous,
    /// Signed in by a wristband.
    SignedIn,
    /// Signed in by the request's own credentials (an API token).
    ByRequest,
    /// Credentials presented that are wrong, expired or revoked.
    Refused,
    /// The store could not answer.
    Unavailable,
}

impl Presence {
    pub(crate) fn of(req: &Request<'_>) -> Presence {
        *req.local_cache(|| Presence::Anonymous)
    }
}

/// The signed-in user for this request: `Ok(None)` for anonymous visitors
/// (no cookie, a cookie that does not decrypt, a wristband the registry
/// does not hold or that has expired, or a user the store no longer loads),
/// `Err` when the database could not answer.
pub async fn current_user<'r, S: UserStore>(
    req: &'r Request<'_>,
) -> Result<Option<&'r CurrentUser<S>>, StoreUnavailable> {
    let identity = req
        .local_cache_async(async {
            let found = load::<S>(req).await;
            req.local_cache(|| match &found {
                Ok(Found::User(signed)) => match &signed.via {
                    Via::Wristband(_) => Presence::SignedIn,
                    Via::Request(_) => Presence::ByRequest,
                },
                Ok(Found::Nobody) => Presence::Anonymous,
                Ok(Found::Refused) => Presence::Refused,
                Err(_) => Presence::Unavailable,
            });
            Identity(found.map(Found::into_user))
        })
        .await;
    match &identity.0 {
        Ok(signed) => Ok(signed.as_ref()),
        Err(e) => Err(*e),
    }
}

/// The user this request has already looked up, without asking the
/// database: for responders, which cannot wait. When nothing looked the
/// user up yet, or the lookup failed, this settles the request as anonymous.
pub fn known_user<'r, S: UserStore>(req: &'r Request<'_>) -> Option<&'r CurrentUser<S>> {
    match &req.local_cache(|| Identity::<S>(Ok(None))).0 {
        Ok(signed) => signed.as_ref(),
        Err(_) => None,
    }
}

/// Runs one read (`$query`, on the connection `$conn`) on a quick
/// connection: one round trip instead of three. If it fails there, the
/// connection is dropped and the pool, which checks its connections, gets a
/// second try: a kept connection may have gone stale since its last use.
/// (A macro: a closure handing out its connection to a borrowing future
/// cannot be typed without boxing every request's lookup.)
///
/// The quick query is bounded by `connect_timeout` like a pool acquire is:
/// a kept connection to a database that froze must not hang the request.
macro_rules! on_a_quick_connection {
    ($db:expr, |$conn:ident| $query:expr) => {
        async {
            let db: &DbPool = $db;
            let mut quick = rocket::tokio::time::timeout(db.timeout(), db.quick())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
            let answer = {
                let $conn: &mut AnyConnection = &mut quick;
                rocket::tokio::time::timeout(db.timeout(), $query).await
            };
            match answer {
                Ok(Ok(found)) => {
                    quick.keep();
                    Ok(found)
                }
                Ok(Err(StoreError::Corrupt(what))) => Err(Error::Corrupt(what)),
                failed => {
                    drop(quick);
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".to_string(),
                    };
                    log::info!(
                        "user lookup failed on a kept connection, retrying on the pool: {why}"
                    );
                    let mut pooled = db.acquire().await?;
                    let $conn: &mut AnyConnection = &mut pooled;
                    Ok::<_, Error>($query.await?)
                }
            }
        }
    };
}

/// A session's `last_seen` (and a token's `last_used`) is written at most
/// this often, not on every request: a write per page view would cost more
/// than the page.
const TOUCH_EVERY_SECS: i64 = 5 * 60;

/// What a request's own credentials came to.
enum Presented<U> {
    User(U, Option<CurrentToken>),
    Refused,
}

/// What a lookup found.
enum Found<S: UserStore> {
    User(CurrentUser<S>),
    Nobody,
    Refused,
}

impl<S: UserStore> Found<S> {
    fn into_user(self) -> Option<CurrentUser<S>> {
        match self {
            Found::User(user) => Some(user),
            Found::Nobody | Found::Refused => None,
        }
    }
}

async fn load<S: UserStore>(req: &Request<'_>) -> Result<Found<S>, StoreUnavailable> {
    let jar = req.cookies();
    let rocket = req.rocket();
    let (
        Ok(Managed {
            db,
            settings,
            clock,
        }),
        Ok(store),
    ) = (Managed::of(rocket), managed::store::<S>(rocket))
    else {
        return Err(StoreUnavailable);
    };
    let now = clock.now();
    let Some(raw_id) = cookie::session_user_id(jar, settings) else {
        // No wristband: the request may carry credentials of its own.
        return from_request(req, db, settings, store, now).await;
    };
    let Some(token) = cookie::presented_token(jar, settings) else {
        return Ok(Found::Nobody);
    };
    // A cookie only wristband could have encrypted, naming an id this store
    // cannot read: another app's under the same key, or an id type changed.
    let Ok(id) = raw_id.parse::<<S::User as AuthUser>::Id>() else {
        cookie::logout_user(jar, settings);
        return Ok(Found::Nobody);
    };
    if let Some(loads) = rocket.state::<UserLoads>() {
        loads.0.fetch_add(1, Ordering::Relaxed);
    }
    let found =
        on_a_quick_connection!(db, |conn| store.load_signed_in(conn, &id, &token, now)).await;
    match found {
        Ok(Some((user, session))) => {
            if now - session.last_seen >= TOUCH_EVERY_SECS {
                let idle = settings.session_idle_secs();
                // Losing one "last seen" is harmless; failing the page is not.
                if let Err(e) = sessions::touch(db, session.id, now, idle).await {
                    log::warn!("could not record session {} as seen: {e}", session.id);
                }
            }
            Ok(Found::User(CurrentUser {
                user,
                via: Via::Wristband(session),
            }))
        }
        Ok(None) => {
            // Ended, expired, never issued, or its user gone or
            // deactivated: take the stale wristband off.
            cookie::logout_user(jar, settings);
            Ok(Found::Nobody)
        }
        Err(e) => {
            log::error!("loading user {raw_id} failed: {e}");
            Err(StoreUnavailable)
        }
    }
}

/// The user of a request without a wristband, by the store's request
/// loader (API tokens by default). A refusal counts toward the address's
/// throttle like a wrong password.
async fn from_request<S: UserStore>(
    req: &Request<'_>,
    db: &DbPool,
    settings: &Settings,
    store: &S,
    now: i64,
) -> Result<Found<S>, StoreUnavailable> {
    // Headers first: a request that presents nothing costs no query.
    let loaded = match store.presented(req) {
        Presentation::Nothing => return Ok(Found::Nobody),
        Presentation::Malformed => Ok(None),
        Presentation::Token(token) => on_a_quick_connection!(db, |conn| store
            .load_by_token(conn, &token, now))
        .await
        .map(|found| found.map(|(user, token)| (user, Some(token)))),
        Presentation::Custom(credential) => on_a_quick_connection!(db, |conn| store
            .load_presented(conn, &credential, now))
        .await
        .map(|found| found.map(|user| (user, None))),
    };
    let presented = loaded.map(|found| match found {
        Some((user, token)) => Presented::User(user, token),
        None => Presented::Refused,
    });
    match presented {
        Ok(Presented::User(user, token)) => {
            if let Some(token) = &token {
                if now - token.last_used >= TOUCH_EVERY_SECS {
                    if let Err(e) = tokens::touch(db, token.id, now).await {
                        log::warn!("could not record token {} as used: {e}", token.public_id);
                    }
                }
            }
            if let Some(loads) = req.rocket().state::<UserLoads>() {
                loads.0.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Found::User(CurrentUser {
                user,
                via: Via::Request(token),
            }))
        }
        Ok(Presented::Refused) => {
            // Losing the count of one refusal is better than a 503 for it.
            if let Err(e) = count_refusal(req, db, settings, now).await {
                log::warn!("could not record a refused token: {e}");
            }
            Ok(Found::Refused)
        }
        Err(e) => {
            log::error!("loading the user of a request's credentials failed: {e}");
            Err(StoreUnavailable)
        }
    }
}

/// Charges a refused credential to the address's failure budget, while the
/// budget lasts: once it is spent, further refusals cost a read and no write.
async fn count_refusal(
    req: &Request<'_>,
    db: &DbPool,
    settings: &Settings,
    now: i64,
) -> Result<(), Error> {
    let client = match req.guard::<ClientInfo>().await {
        Outcome::Success(client) => client,
        Outcome::Error((_, never)) => match never {},
        Outcome::Forward(_) => return Ok(()),
    };
    let Some(key) = client.key.as_ref().map(ClientKey::as_str) else {
        return Ok(());
    };
    let attempt = Attempt {
        user_id: None,
        login_key: "",
        client_ip: client.ip.as_deref(),
        client_key: Some(key),
        user_agent: client.user_agent.as_deref(),
        device: None,
        outcome: Recorded::Pending,
        at: now,
    };
    let since = now - settings.throttle_window_secs();
    let budget = [(FailureScope::Client(key), settings.max_failed_logins_per_ip)];
    if let Some(reservation) = attempts::reserve(db, &attempt, since, &budget).await? {
        attempts::resolve(db, reservation, Recorded::BadToken).await?;
    }
    Ok(())
}

#[rocket::async_trait]
impl<'r, S: UserStore> FromRequest<'r> for CurrentUser<S> {
    type Error = StoreUnavailable;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        match current_user::<S>(req).await {
            Ok(Some(user)) => Outcome::Success(user.clone()),
            Ok(None) => Outcome::Forward(Status::Unauthorized),
            Err(e) => Outcome::Error((Status::ServiceUnavailable, e)),
        }
    }
}

/// A signed-in user who typed their password in this browser within the
/// last `fresh_minutes`: for sensitive actions ("sudo mode"). A session
/// restored from a remembered cookie is never fresh. Not fresh: forwarded
/// with 401, and the catcher sends the browser to the reauth page.
pub struct Fresh<S: UserStore>(pub CurrentUser<S>);

impl<S: UserStore> Deref for Fresh<S> {
    type Target = S::User;

    fn deref(&self) -> &S::User {
        &self.0.user
    }
}

impl<S: UserStore> Clone for Fresh<S> {
    fn clone(&self) -> Self {
        Fresh(self.0.clone())
    }
}

impl<S: UserStore> fmt::Debug for Fresh<S>
where
    S::User: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Fresh").field(&self.0).finish()
    }
}

#[rocket::async_trait]
impl<'r, S: UserStore> FromRequest<'r> for Fresh<S> {
    type Error = StoreUnavailable;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let user = try_outcome!(req.guard::<CurrentUser<S>>().await);
        let Ok(Managed {
            settings, clock, ..
        }) = Managed::of(req.rocket())
        else {
            return Outcome::Forward(Status::Unauthorized);
        };
        let now = clock.now();
        let id = user.user.id().to_string();
        match cookie::fresh_since(req.cookies(), settings, &id) {
            Some(at) if at <= now && now - at < settings.fresh_secs() => {
                Outcome::Success(Fresh(user))
            }
            _ => Outcome::Forward(Status::Unauthorized),
        }
    }
}
