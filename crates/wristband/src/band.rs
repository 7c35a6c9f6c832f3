//! Putting the wristband on and taking it off, together with its entry in
//! the server's registry ([`crate::sessions`]).
//!
//! The registry is keyed by a hash of the cookie's value as the browser
//! will send it back, and that value is Rocket's ciphertext. Rocket encrypts
//! a private cookie only after the handler has returned, when it turns the
//! jar's changes into `Set-Cookie` headers, so no handler ever sees it.
//! Rocket does that before the response fairings run, though: so
//! [`Band::put_on`] only notes in the request that a wristband is being
//! issued, and the fairing's response hook ([`register_issued`]) reads the finished
//! `Set-Cookie`, hashes its value and registers it before the response
//! leaves. Should that write fail, the response becomes a 503 without the
//! cookie, so a browser never holds a wristband the server does not know.

use std::sync::{Mutex, PoisonError};

use rocket::http::{Cookie, CookieJar};
use rocket::outcome::Outcome;
use rocket::request::Request;
use rocket::response::Responder;
use rocket::Response;

use crate::client::ClientInfo;
use crate::cookie::{self, presented_token};
use crate::db::DbPool;
use crate::error::Error;
use crate::managed::Managed;
use crate::sessions::{self, CurrentSession, NewSession, TokenHash};
use crate::settings::Settings;

/// A wristband this request is issuing, waiting for its ciphertext.
#[derive(Debug)]
struct Issue {
    user_id: String,
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

/// This browser's wristband: put on after a successful sign-in, taken off
/// at logout. The [`crate::Authenticator`] holds one and applies the rules'
/// outcomes through it: the only place cookies of a session change.
pub struct Band<'r> {
    jar: &'r CookieJar<'r>,
    db: &'r DbPool,
    settings: &'r Settings,
    now: i64,
    pending: &'r Pending,
    current: Option<CurrentSession>,
}

impl<'r> Band<'r> {
    /// This request's band; `current` is the live session its wristband
    /// belongs to, if the lookup found one.
    pub(crate) fn of(
        req: &'r Request<'_>,
        managed: &Managed<'r>,
        current: Option<CurrentSession>,
    ) -> Band<'r> {
        Band {
            jar: req.cookies(),
            db: managed.db,
            settings: managed.settings,
            now: managed.clock.now(),
            pending: Pending::of(req),
            current,
        }
    }
}

impl Band<'_> {
    /// Logs the browser in as `user` from the next request on, and records
    /// that the password was just typed (fresh). `remember` makes the
    /// wristband outlast the browser for `remember_days`; otherwise it ends
    /// with the browser, or after `session_idle_hours` unused.
    pub fn put_on(&self, user_id: &str, remember: bool) {
        // Read before the new cookie is added: the jar then answers with it.
        let replaces = self
            .current
            .is_some()
            .then(|| presented_token(self.jar, self.settings))
            .flatten();
        cookie::login_user(self.jar, user_id, remember, self.settings, self.now);
        self.pending.set(Issue {
            user_id: user_id.to_string(),
            remembered: remember,
            replaces,
        });
    }

    /// Records a fresh password check in this browser (for `/reauth`).
    pub fn mark_fresh(&self, user_id: &str) {
        cookie::mark_fresh(self.jar, user_id, self.settings, self.now);
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

/// Registers the wristband [`Band::put_on`] issued in this response, from
/// the wristband fairing's response hook (see the module's documentation
/// for why it has to be there).
pub(crate) async fn register_issued<'r>(req: &'r Request<'_>, res: &mut Response<'r>) {
    let Some(settings) = req.rocket().state::<Settings>() else {
        return;
    };
    let name = settings.cookie_name(settings.cookies.user);
    // Most responses issue no wristband; only look further if one does.
    let Some(value) = issued_value(res, name) else {
        return;
    };
    let Some(issue) = Pending::of(req).take() else {
        // Set without `put_on`: never registered, so never honoured.
        log::warn!("a {name} cookie was set outside Band::put_on");
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
            user_id: &issue.user_id,
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
