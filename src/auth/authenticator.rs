//! The rules of signing in, out and proving who you are, in one place:
//! throttling first, then exactly one bcrypt check, then the audit trail,
//! then the cookies. Routes call these and only choose what to render.

use rocket::http::{CookieJar, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};

use crate::attempts::{self, Attempt, Outcome as Recorded, Reservation};
use crate::auth::client::{ClientInfo, ClientKey};
use crate::auth::device::{DeviceCookie, DeviceId};
use crate::auth::managed::Managed;
use crate::auth::{cookie, csrf, throttle, Admitted, Hasher, Wristband};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::DbPool;
use crate::error::Error;
use crate::registrations::{self, Place};
use crate::sessions::{self, PublicId, Session};
use crate::users::{self, CreateError, Password, PasswordHash, User, Username};

/// What a login attempt came to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The password was right; the wristband is on.
    LoggedIn(User),
    /// Wrong password or no such user: callers must not tell which.
    Invalid,
    /// The right password for a deactivated account.
    Deactivated,
}

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

/// Everything the rules need, gathered from the request: the database, the
/// hasher, settings, the clock, who is asking, the cookie jar (for the
/// device cookie) and the browser's wristband.
pub struct Authenticator<'r> {
    db: &'r DbPool,
    hasher: &'r Hasher,
    settings: &'r Settings,
    clock: &'r Clock,
    client: ClientInfo,
    jar: &'r CookieJar<'r>,
    wristband: Wristband<'r>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Authenticator<'r> {
    type Error = &'static str;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let unattached = Outcome::Error((
            Status::InternalServerError,
            "wristband is not fully attached",
        ));
        let (
            Ok(Managed {
                db,
                settings,
                clock,
            }),
            Some(hasher),
        ) = (Managed::of(req.rocket()), req.rocket().state::<Hasher>())
        else {
            return unattached;
        };
        let client = match req.guard::<ClientInfo>().await {
            Outcome::Success(client) => client,
            Outcome::Error((_, never)) => match never {},
            Outcome::Forward(_) => ClientInfo::default(),
        };
        let Outcome::Success(wristband) = req.guard::<Wristband<'r>>().await else {
            return unattached;
        };
        Outcome::Success(Authenticator {
            db,
            hasher,
            settings,
            clock,
            client,
            jar: req.cookies(),
            wristband,
        })
    }
}

impl Authenticator<'_> {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// This request's attempt on `username_key`, charged to `device` if the
    /// browser holds that account's device cookie.
    fn attempt<'a>(
        &'a self,
        user_id: Option<i64>,
        username_key: &'a str,
        device: Option<&'a DeviceId>,
        outcome: Recorded,
    ) -> Attempt<'a> {
        Attempt {
            user_id,
            username_key,
            client_ip: self.client.ip.as_deref(),
            client_key: self.client.key.as_ref().map(ClientKey::as_str),
            user_agent: self.client.user_agent.as_deref(),
            device: device.map(DeviceId::as_str),
            outcome,
            at: self.now(),
        }
    }

    async fn record(
        &self,
        user_id: Option<i64>,
        username_key: &str,
        outcome: Recorded,
    ) -> Result<(), Error> {
        attempts::record(self.db, &self.attempt(user_id, username_key, None, outcome)).await
    }

    /// The device whose own budget an attempt on `account` is charged to,
    /// if this browser holds that account's device cookie.
    fn device_for(&self, account: Option<i64>) -> Option<DeviceId> {
        cookie::device(self.jar, self.settings)?
            .trusted_for(account)
            .cloned()
    }

    /// A place in the throttling budgets for a password check, or the
    /// refusal (429) if they are spent.
    async fn reserve(
        &self,
        user_id: Option<i64>,
        key: &str,
        device: Option<&DeviceId>,
    ) -> Result<Reservation, Error> {
        let attempt = self.attempt(user_id, key, device, Recorded::Pending);
        throttle::reserve(self.db, self.settings, &attempt).await
    }

    /// Runs the bcrypt check a reservation was taken for. If it cannot run
    /// at all, the place is given back: only checks count.
    async fn verify(
        &self,
        place: Admitted,
        reservation: Reservation,
        typed: &str,
        stored: Option<&PasswordHash>,
    ) -> Result<(bool, Reservation), Error> {
        match self.hasher.verify_admitted(place, typed, stored).await {
            Ok(ok) => Ok((ok, reservation)),
            Err(e) => {
                attempts::cancel(self.db, reservation).await?;
                Err(e)
            }
        }
    }

    /// Checks a username and password and, if they are right and the account
    /// is active, logs the browser in. Unknown users cost the same bcrypt
    /// work as wrong passwords; throttled attempts cost none.
    pub async fn login(
        &self,
        typed_username: &str,
        password: &str,
        remember: bool,
    ) -> Result<LoginOutcome, Error> {
        // A place in the password queue first: when it is full the answer
        // is a 503 that cost no database work either.
        let place = self.hasher.admit()?;
        let key = throttle::username_key(typed_username);
        let account = match Username::parse(typed_username) {
            Ok(username) => users::find_credentials(self.db, &username).await?,
            Err(_) => None,
        };
        let user_id = account.as_ref().map(|a| a.user.id);
        let device = self.device_for(user_id);
        let reservation = self.reserve(user_id, &key, device.as_ref()).await?;
        let (password_ok, reservation) = self
            .verify(
                place,
                reservation,
                password,
                account.as_ref().map(|a| &a.password_hash),
            )
            .await?;
        let (outcome, recorded) = match account {
            Some(account) if password_ok && account.active => {
                // A new device id at each login: a device's failure budget
                // starts afresh only with the password.
                let device = DeviceCookie::issue(account.user.id);
                cookie::remember_device(self.jar, &device, self.settings);
                self.wristband.put_on(&account.user, remember);
                csrf::rotate(self.jar, self.settings);
                (LoginOutcome::LoggedIn(account.user), Recorded::Success)
            }
            Some(_) if password_ok => (LoginOutcome::Deactivated, Recorded::Deactivated),
            Some(_) => (LoginOutcome::Invalid, Recorded::WrongPassword),
            None => (LoginOutcome::Invalid, Recorded::UnknownUser),
        };
        attempts::resolve(self.db, reservation, recorded).await?;
        Ok(outcome)
    }

    /// Checks the signed-in user's password (for `/reauth` and the settings
    /// forms). Failures are recorded and count toward throttling, so a
    /// stolen session cannot guess the password at leisure. When right, the
    /// place it took is handed back for the caller to record what came of it.
    async fn confirm_password(
        &self,
        user: &User,
        password: &str,
    ) -> Result<Option<Reservation>, Error> {
        // A place in the password queue before anything else, as at login.
        let place = self.hasher.admit()?;
        let key = throttle::username_key(user.username.as_str());
        let device = self.device_for(Some(user.id));
        let reservation = self.reserve(Some(user.id), &key, device.as_ref()).await?;
        let account = users::find_credentials(self.db, &user.username).await?;
        let (ok, reservation) = self
            .verify(
                place,
                reservation,
                password,
                account.as_ref().map(|a| &a.password_hash),
            )
            .await?;
        if ok {
            return Ok(Some(reservation));
        }
        attempts::resolve(self.db, reservation, Recorded::WrongPassword).await?;
        Ok(None)
    }

    /// Makes the session fresh again if the password is right.
    pub async fn reauthenticate(&self, user: &User, password: &str) -> Result<bool, Error> {
        let Some(reservation) = self.confirm_password(user, password).await? else {
            return Ok(false);
        };
        attempts::resolve(self.db, reservation, Recorded::Reauthenticated).await?;
        self.wristband.mark_fresh(user);
        Ok(true)
    }

    /// Replaces the password if `current` is right. The old one stops
    /// working at once, and so does every other session of the user: whoever
    /// knew the old password may be signed in elsewhere. This one stays.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &Password,
    ) -> Result<bool, Error> {
        let Some(reservation) = self.confirm_password(user, current).await? else {
            return Ok(false);
        };
        let hash = match self.hasher.hash(new).await {
            Ok(hash) => hash,
            Err(e) => {
                // The current password was right: that must not count.
                attempts::resolve(self.db, reservation, Recorded::Reauthenticated).await?;
                return Err(e);
            }
        };
        users::set_password(self.db, user.id, &hash).await?;
        attempts::resolve(self.db, reservation, Recorded::PasswordChanged).await?;
        match self.wristband.current() {
            Some(this) => sessions::end_others(self.db, user.id, this.id).await?,
            None => sessions::end_all(&**self.db, user.id).await?,
        };
        Ok(true)
    }

    /// Deletes the account and its history if the password is right, and
    /// logs the browser out.
    pub async fn delete_account(&self, user: &User, password: &str) -> Result<bool, Error> {
        // The place taken goes with the account's history, by foreign key.
        let Some(_reservation) = self.confirm_password(user, password).await? else {
            return Ok(false);
        };
        // Its sessions go with it (by foreign key).
        users::delete(self.db, user.id).await?;
        self.wristband.take_off().await?;
        csrf::rotate(self.jar, self.settings);
        Ok(true)
    }

    /// Creates an account and logs the browser in (a browser-session
    /// wristband, fresh). The address's hourly budget is checked first,
    /// before any bcrypt work; a taken name costs no place and no bcrypt.
    pub async fn register(
        &self,
        username: &Username,
        password: &Password,
    ) -> Result<User, CreateError> {
        let place = throttle::reserve_registration(
            self.db,
            self.settings,
            self.client.key.as_ref(),
            self.now(),
        )
        .await?;
        if users::find_credentials(self.db, username).await?.is_some() {
            self.release(place).await?;
            return Err(CreateError::Taken);
        }
        let created = match self.hasher.hash(password).await {
            Ok(hash) => users::create(self.db, username, &hash, self.now()).await,
            Err(e) => Err(CreateError::Store(e)),
        };
        let user = match created {
            Ok(user) => user,
            Err(e) => {
                self.release(place).await?;
                return Err(e);
            }
        };
        let key = throttle::username_key(username.as_str());
        self.record(Some(user.id), &key, Recorded::Success).await?;
        cookie::remember_device(self.jar, &DeviceCookie::issue(user.id), self.settings);
        self.wristband.put_on(&user, false);
        csrf::rotate(self.jar, self.settings);
        Ok(user)
    }

    /// Gives back a registration place no account came of.
    async fn release(&self, place: Option<Place>) -> Result<(), Error> {
        match place {
            Some(place) => registrations::release(self.db, place).await,
            None => Ok(()),
        }
    }

    /// Takes the wristband off and ends its session, recording the logout if
    /// someone was signed in. The device cookie stays: it names the browser,
    /// not the session. Like login and registration, it gives the browser a
    /// new CSRF secret.
    pub async fn logout(&self, user: Option<&User>) -> Result<(), Error> {
        csrf::rotate(self.jar, self.settings);
        self.wristband.take_off().await?;
        if let Some(user) = user {
            let key = throttle::username_key(user.username.as_str());
            self.record(Some(user.id), &key, Recorded::Logout).await?;
        }
        Ok(())
    }

    /// The user's live sessions, most recently used first, and which of them
    /// is this browser's.
    pub async fn sessions(&self, user: &User) -> Result<(Vec<Session>, Option<i64>), Error> {
        let live = sessions::list(self.db, user.id, self.now()).await?;
        Ok((live, self.wristband.current().map(|this| this.id)))
    }

    /// Ends one of the user's sessions. Ending this browser's own logs it
    /// out; another user's session id changes nothing.
    pub async fn end_session(&self, user: &User, session: &PublicId) -> Result<Ended, Error> {
        let this = self.wristband.current().map(|c| &c.public_id) == Some(session);
        if !sessions::end(self.db, user.id, session).await? {
            return Ok(Ended::NotFound);
        }
        if this {
            self.logout(Some(user)).await?;
            return Ok(Ended::This);
        }
        Ok(Ended::Other)
    }

    /// Ends every session of the user but this browser's; how many ended.
    pub async fn end_other_sessions(&self, user: &User) -> Result<u64, Error> {
        match self.wristband.current() {
            Some(this) => sessions::end_others(self.db, user.id, this.id).await,
            // Not signed in by cookie: there is no "this one" to keep.
            None => Ok(0),
        }
    }

    /// The user's recent sign-ins and their last failed attempt, for
    /// `/settings`.
    pub async fn recent_activity(
        &self,
        user: &User,
    ) -> Result<(Vec<attempts::Recorded>, Option<attempts::Recorded>), Error> {
        let sign_ins = attempts::history(self.db, user.id, &[Recorded::Success], 10).await?;
        let last_failure = attempts::history(
            self.db,
            user.id,
            &[Recorded::WrongPassword, Recorded::Throttled],
            1,
        )
        .await?
        .into_iter()
        .next();
        Ok((sign_ins, last_failure))
    }
}
