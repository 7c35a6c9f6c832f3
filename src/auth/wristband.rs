//! Putting the wristband on and taking it off, together with its entry in
//! the server's registry (`crate::sessions`).
//!
//! The registry is keyed by a hash of the cookie's value as the browser
//! will send it back, and that value is Rocket's ciphertext. Rocket encrypts
//! a private cookie only after the handler has returned, when it turns the
//! jar's changes into `Set-Cookie` headers, so no handler ever sees it.
//! Rocket does that before the response fairings run, though: so
//! [`Wristband::put_on`] only notes in the request that a wristband is being
//! issued, and the [`Registrar`] response fairing reads the finished
//! `Set-Cookie`, hashes its value and registers it before the response
//! leaves. Should that write fail, the response becomes a 503 without the
//! cookie, so a browser never holds a wristband the server does not know.

use std::sync::{Mutex, PoisonError};

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{Cookie, CookieJar, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::response::Responder;
use rocket::Response;
use sqlx::AnyPool;

use crate::auth::client::ClientInfo;
use crate::auth::cookie::{self, USER_COOKIE};
use crate::auth::guard::signed_in;
use crate::auth::managed::Managed;
use crate::clock::Clock;
use crate::config::Settings;
use crate::error::Error;
use crate::sessions::{self, CurrentSession, NewSession, TokenHash};
use crate::users::User;

/// A wristband this request is issuing, waiting for its ciphertext.
#[derive(Debug)]
struct Issue {
    user_id: i64,
    remembered: bool,
    /// The registered wristband the browser came with, which the new one
    /// replaces (logging in again must not leave the old one live).
    replaces: Option<TokenHash>,
}

/// The request's slot for an [`Issue`] (request-local state).
#[derive(Debug, Default)]
struct Pending(Mutex<Option<Issue>>);

impl Pending {
    fn of<'r>(req: &'r Request<'_>) -> &'r Pending {
        req.local_cache(Pending::default)
    }

    fn set(&self, issue: Issue) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(issue);
    }

    fn take(&self) -> Option<Issue> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The hash of the `user_id` cookie this request came with, if any.
pub(crate) fn presented_token(jar: &CookieJar<'_>, settings: &Settings) -> Option<TokenHash> {
    jar.get(settings.cookie_name(USER_COOKIE))
        .map(|c| TokenHash::of(c.value()))
}

/// This browser's wristband: put it on after a successful sign-in, take it
/// off at logout. A request guard; it never fails.
///
/// ```no_run
/// # use rocket::post;
/// use wristband::auth::{User, Wristband};
/// use wristband::error::Error;
///
/// #[post("/bye")]
/// async fn bye(wristband: Wristband<'_>) -> Result<&'static str, Error> {
///     wristband.take_off().await?;
///     Ok("logged out")
/// }
/// ```
pub struct Wristband<'r> {
    jar: &'r CookieJar<'r>,
    db: &'r AnyPool,
    settings: &'r Settings,
    clock: &'r Clock,
    pending: &'r Pending,
    current: Option<CurrentSession>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Wristband<'r> {
    type Error = Error;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let Managed {
            db,
            settings,
            clock,
        } = match Managed::of(req.rocket()) {
            Ok(managed) => managed,
            Err(e) => return Outcome::Error((Status::InternalServerError, e)),
        };
        // A database that cannot say who this is must not stop a logout
        // from taking the cookies off; `take_off` reports the failure.
        let current = signed_in(req)
            .await
            .ok()
            .flatten()
            .map(|s| s.session.clone());
        Outcome::Success(Wristband {
            jar: req.cookies(),
            db,
            settings,
            clock,
            pending: Pending::of(req),
            current,
        })
    }
}

impl Wristband<'_> {
    /// Logs the browser in as `user` from the next request on, and records
    /// that the password was just typed (fresh). `remember` makes the
    /// wristband outlast the browser for `remember_days`; otherwise it ends
    /// with the browser, or after `session_idle_hours` unused.
    pub fn put_on(&self, user: &User, remember: bool) {
        // Read before the new cookie is added: the jar then answers with it.
        let replaces = self
            .current
            .is_some()
            .then(|| presented_token(self.jar, self.settings))
            .flatten();
        cookie::login_user(self.jar, user, remember, self.settings, self.clock.now());
        self.pending.set(Issue {
            user_id: user.id,
            remembered: remember,
            replaces,
        });
    }

    /// Records a fresh password check in this browser (for `/reauth`).
    pub fn mark_fresh(&self, user: &User) {
        cookie::mark_fresh(self.jar, user, self.settings, self.clock.now());
    }

    /// Logs the browser out: its registry entry ends, so the same cookie
    /// replayed from anywhere is anonymous, and the cookies come off.
    ///
    /// The cookies come off first: if the database cannot be reached, the
    /// browser has still forgotten its wristband, and the error says the
    /// server could not end it.
    pub async fn take_off(&self) -> Result<(), Error> {
        let presented = presented_token(self.jar, self.settings);
        cookie::logout_user(self.jar, self.settings);
        match presented {
            Some(token) => sessions::end_by_token(self.db, &token).await,
            None => Ok(()),
        }
    }

    /// The session this request's wristband belongs to, if it is live.
    pub fn current(&self) -> Option<&CurrentSession> {
        self.current.as_ref()
    }
}

/// The response fairing that registers the wristbands [`Wristband::put_on`]
/// issued (see the module's documentation for why it has to be here).
pub struct Registrar;

#[rocket::async_trait]
impl Fairing for Registrar {
    fn info(&self) -> Info {
        Info {
            name: "wristband registry",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let Some(settings) = req.rocket().state::<Settings>() else {
            return;
        };
        let name = settings.cookie_name(USER_COOKIE);
        // Most responses issue no wristband; only look further if one does.
        let Some(value) = issued_value(res, name) else {
            return;
        };
        let Some(issue) = Pending::of(req).take() else {
            // Set without `put_on`: never registered, so never honoured.
            log::warn!("a {name} cookie was set outside Wristband::put_on");
            return;
        };
        if let Err(e) = register(req, &value, &issue).await {
            log::error!(
                "{} {}: registering a wristband failed: {e}",
                req.method(),
                req.uri()
            );
            match e.respond_to(req) {
                Ok(failed) => *res = failed,
                Err(status) => {
                    res.set_status(status);
                    res.remove_header("Set-Cookie");
                }
            }
        }
    }
}

/// The value of the wristband cookie (named `name`) a response sets, not a
/// removal.
fn issued_value(res: &Response<'_>, name: &str) -> Option<String> {
    res.headers()
        .get("Set-Cookie")
        .filter(|header| {
            header
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('='))
        })
        .filter_map(|header| Cookie::parse_encoded(header.to_string()).ok())
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_string())
}

async fn register(req: &Request<'_>, value: &str, issue: &Issue) -> Result<(), Error> {
    let Managed {
        db,
        settings,
        clock,
    } = Managed::of(req.rocket())?;
    let client = match req.guard::<ClientInfo>().await {
        Outcome::Success(client) => client,
        Outcome::Error((_, never)) => match never {},
        Outcome::Forward(_) => ClientInfo::default(),
    };
    let now = clock.now();
    let lifetime = if issue.remembered {
        settings.remember_secs()
    } else {
        settings.session_idle_secs()
    };
    let token = TokenHash::of(value);
    sessions::create(
        db,
        &NewSession {
            user_id: issue.user_id,
            token: &token,
            remembered: issue.remembered,
            now,
            expires_at: now.saturating_add(lifetime),
            client_ip: client.ip.as_deref().unwrap_or(""),
            user_agent: client.user_agent.as_deref().unwrap_or(""),
        },
    )
    .await?;
    if let Some(old) = &issue.replaces {
        sessions::end_by_token(db, old).await?;
    }
    Ok(())
}
