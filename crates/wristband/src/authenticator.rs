//! The rules at the edge: a request guard that gathers what the
//! [`Rules`] need from the request, runs them, and applies their outcome to
//! the browser (the wristband, the device cookie, a new CSRF secret). The
//! one place a session's cookies change.

use std::future::Future;

use rocket::http::{CookieJar, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};

use crate::attempts;
use crate::band::Band;
use crate::client::ClientInfo;
use crate::cookie;
use crate::csrf;
use crate::device::DeviceCookie;
use crate::error::Error;
use crate::guard::{current_user, Presence};
use crate::managed::{self, Managed};
use crate::password::{Hasher, Password, PasswordHash};
use crate::rules::{Asker, LoginOutcome, Rules};
use crate::sessions::{PublicId, Session};
use crate::settings::Settings;
use crate::store::{AuthUser, UserStore};
use crate::tokens::{NewToken, Secret, Token};

/// What ending one session came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Another browser's session ended.
    Other,
    /// This browser's own session ended: it is logged out.
    This,
    /// The user has no live session by that id.
    NotFound,
}

/// Signs people in and out: the [`Rules`] for this request, and this
/// browser's cookies. A request guard for your login, logout and account
/// routes.
///
/// ```ignore
/// #[post("/login", data = "<form>")]
/// async fn login(form: CsrfForm<Login>, auth: Authenticator<'_, Members>) -> Result<Redirect, Error> {
///     match auth.login(&form.email, &form.password, form.remember).await? {
///         LoginOutcome::LoggedIn(_) => Ok(Redirect::to("/")),
///         _ => Err(/* show the form again */),
///     }
/// }
/// ```
pub struct Authenticator<'r, S: UserStore> {
    rules: Rules<'r, S>,
    settings: &'r Settings,
    asker: Asker,
    jar: &'r CookieJar<'r>,
    band: Band<'r>,
    /// Signed in by an API token, not a wristband: account actions refused.
    by_token: bool,
}

#[rocket::async_trait]
impl<'r, S: UserStore> FromRequest<'r> for Authenticator<'r, S> {
    type Error = &'static str;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let unattached = Outcome::Error((
            Status::InternalServerError,
            "wristband is not fully attached",
        ));
        let rocket = req.rocket();
        let (Ok(managed), Some(hasher), Ok(store)) = (
            Managed::of(rocket),
            rocket.state::<Hasher>(),
            managed::store::<S>(rocket),
        ) else {
            return unattached;
        };
        let client = match req.guard::<ClientInfo>().await {
            Outcome::Success(client) => client,
            Outcome::Error((_, never)) => match never {},
            Outcome::Forward(_) => ClientInfo::default(),
        };
        // Who is signed in, so the band knows its session. A database that
        // cannot say must not stop a logout from taking the cookies off.
        let current = current_user::<S>(req)
            .await
            .ok()
            .flatten()
            .and_then(|user| user.session().cloned());
        let by_token = Presence::of(req) == Presence::ByRequest;
        let band = Band::of(req, &managed, current);
        let jar = req.cookies();
        let settings = managed.settings;
        Outcome::Success(Authenticator {
            rules: Rules::new(managed.db, hasher, settings, managed.clock, store),
            settings,
            asker: Asker {
                client,
                device: cookie::device(jar, settings),
            },
            jar,
            band,
            by_token,
        })
    }
}

impl<S: UserStore> Authenticator<'_, S> {
    /// The time the rules go by.
    pub fn now(&self) -> i64 {
        self.rules.now()
    }

    /// The rules themselves, for what this edge does not wrap.
    pub fn rules(&self) -> &Rules<'_, S> {
        &self.rules
    }

    /// Who is asking.
    pub fn asker(&self) -> &Asker {
        &self.asker
    }

    /// Account actions (passwords, sessions, tokens) need a browser signed
    /// in by its wristband: an API token, however it got here, may not.
    fn browser_only(&self) -> Result<(), Error> {
        if self.by_token {
            return Err(Error::NotWithToken);
        }
        Ok(())
    }

    /// The wristband goes on for `user`, fresh, with a new device cookie
    /// and a new CSRF secret.
    fn sign_in(&self, user: &S::User, remember: bool) {
        let id = user.id().to_string();
        // A new device id at each sign-in: a device's failure budget starts
        // afresh only with the password.
        cookie::remember_device(self.jar, &DeviceCookie::issue(&id), self.settings);
        self.band.put_on(&id, remember);
        csrf::rotate(self.jar, self.settings);
    }

    /// Checks a login and password and, if they are right and the account
    /// is active, logs the browser in. `remember` makes the wristband
    /// outlast the browser for `remember_days`; otherwise it ends with the
    /// browser, or after `session_idle_hours` unused.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        remember: bool,
    ) -> Result<LoginOutcome<S::User>, Error> {
        let outcome = self.rules.login(&self.asker, login, password).await?;
        if let LoginOutcome::LoggedIn(user) = &outcome {
            self.sign_in(user, remember);
        }
        Ok(outcome)
    }

    /// Makes the session fresh again if the password is right.
    pub async fn reauthenticate(&self, user: &S::User, password: &str) -> Result<bool, Error> {
        let ok = self
            .rules
            .reauthenticate(&self.asker, user, password)
            .await?;
        if ok {
            self.band.mark_fresh(&user.id().to_string());
        }
        Ok(ok)
    }

    /// Hashes a password on the password threads (for your own forms).
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        self.rules.hasher().hash(password).await
    }

    /// Replaces the password if `current` is right (`save` stores the new
    /// hash). Every other session of the user ends; this one stays.
    pub async fn change_password<F, Fut>(
        &self,
        user: &S::User,
        current: &str,
        new: &Password,
        save: F,
    ) -> Result<bool, Error>
    where
        F: FnOnce(PasswordHash) -> Fut + Send,
        Fut: Future<Output = Result<(), Error>> + Send,
    {
        self.browser_only()?;
        let keep = self.band.current().map(|this| this.id);
        self.rules
            .change_password(&self.asker, user, current, new, keep, save)
            .await
    }

    /// Deletes the account if the password is right (`delete` removes it
    /// from your store), with its history and sessions, and logs the
    /// browser out.
    pub async fn delete_account<F, Fut>(
        &self,
        user: &S::User,
        password: &str,
        delete: F,
    ) -> Result<bool, Error>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<(), Error>> + Send,
    {
        self.browser_only()?;
        if !self
            .rules
            .delete_account(&self.asker, user, password, delete)
            .await?
        {
            return Ok(false);
        }
        self.band.take_off().await?;
        csrf::rotate(self.jar, self.settings);
        Ok(true)
    }

    /// Creates an account (see [`Rules::register`]: `taken` says whether
    /// the login is in use, `create` stores the account or answers `None`
    /// when it was taken meanwhile) and logs the browser in with a
    /// browser-session wristband, fresh. `None` means taken.
    pub async fn register<T, TFut, F, Fut>(
        &self,
        password: &Password,
        taken: T,
        create: F,
    ) -> Result<Option<S::User>, Error>
    where
        T: FnOnce() -> TFut + Send,
        TFut: Future<Output = Result<bool, Error>> + Send,
        F: FnOnce(PasswordHash) -> Fut + Send,
        Fut: Future<Output = Result<Option<S::User>, Error>> + Send,
    {
        let user = self
            .rules
            .register(&self.asker, password, taken, create)
            .await?;
        if let Some(user) = &user {
            self.sign_in(user, false);
        }
        Ok(user)
    }

    /// Takes the wristband off and ends its session, recording the logout if
    /// someone was signed in. The device cookie stays: it names the browser,
    /// not the session. Like login, it gives the browser a new CSRF secret.
    pub async fn logout(&self, user: Option<&S::User>) -> Result<(), Error> {
        csrf::rotate(self.jar, self.settings);
        self.band.take_off().await?;
        if let Some(user) = user {
            self.rules.logged_out(&self.asker, user).await?;
        }
        Ok(())
    }

    /// The user's live sessions, most recently used first, and which of them
    /// is this browser's.
    pub async fn sessions(&self, user: &S::User) -> Result<(Vec<Session>, Option<i64>), Error> {
        let live = self.rules.sessions(user).await?;
        Ok((live, self.band.current().map(|this| this.id)))
    }

    /// Ends one of the user's sessions. Ending this browser's own logs it
    /// out; another user's session id changes nothing.
    pub async fn end_session(&self, user: &S::User, session: &PublicId) -> Result<Ended, Error> {
        self.browser_only()?;
        let this = self.band.current().map(|c| &c.public_id) == Some(session);
        if !self.rules.end_session(user, session).await? {
            return Ok(Ended::NotFound);
        }
        if this {
            self.logout(Some(user)).await?;
            return Ok(Ended::This);
        }
        Ok(Ended::Other)
    }

    /// Ends every session of the user but this browser's; how many ended.
    pub async fn end_other_sessions(&self, user: &S::User) -> Result<u64, Error> {
        self.browser_only()?;
        match self.band.current() {
            Some(this) => self.rules.end_other_sessions(user, this.id).await,
            // Not signed in by cookie: there is no "this one" to keep.
            None => Ok(0),
        }
    }

    /// Makes an API token for the user (browser only); its secret is
    /// shown once.
    pub async fn create_token(
        &self,
        user: &S::User,
        new: &NewToken,
    ) -> Result<(Secret, Token), Error> {
        self.browser_only()?;
        self.rules.create_token(user, new).await
    }

    /// The user's live API tokens, newest first.
    pub async fn tokens(&self, user: &S::User) -> Result<Vec<Token>, Error> {
        self.rules.tokens(user).await
    }

    /// Revokes one of the user's tokens (browser only); `false` if they
    /// have none by that id.
    pub async fn revoke_token(&self, user: &S::User, token: &PublicId) -> Result<bool, Error> {
        self.browser_only()?;
        self.rules.revoke_token(user, token).await
    }

    /// The user's recent sign-ins and their last failed attempt.
    pub async fn recent_activity(
        &self,
        user: &S::User,
    ) -> Result<(Vec<attempts::Recorded>, Option<attempts::Recorded>), Error> {
        self.rules.recent_activity(user).await
    }
}
