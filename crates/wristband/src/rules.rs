//! The rules of signing in, out and proving who you are, in one place:
//! throttling first, then exactly one bcrypt check, then the audit trail.
//! They return outcomes and touch no cookie and no request, so they can be
//! run (and tested) on their own; [`crate::Authenticator`] applies what
//! they decide to the browser.

use std::future::Future;

use crate::attempts::{self, Attempt, Outcome as Recorded, Reservation};
use crate::client::{ClientInfo, ClientKey};
use crate::clock::Clock;
use crate::db::DbPool;
use crate::device::{DeviceCookie, DeviceId};
use crate::error::Error;
use crate::password::{Admitted, Hasher, Password, PasswordHash};
use crate::registrations::{self, Place};
use crate::sessions::{self, PublicId, Session};
use crate::settings::Settings;
use crate::store::{AuthUser, Credentials, UserStore};
use crate::throttle;
use crate::tokens::{self, NewToken, Secret, Token};

/// What a login attempt came to.
#[derive(Debug)]
pub enum LoginOutcome<U> {
    /// The password was right and the account active.
    LoggedIn(U),
    /// Wrong password or no such user: callers must not tell which.
    Invalid,
    /// The right password for an account that may not sign in now.
    Deactivated,
}

/// Who is asking: the client's address and user agent, and the device
/// cookie its browser holds.
#[derive(Debug, Clone, Default)]
pub struct Asker {
    /// Address and user agent.
    pub client: ClientInfo,
    /// The browser's device cookie, if it holds one that decrypted.
    pub device: Option<DeviceCookie>,
}

/// A password check that succeeded, for an action that needs one (a
/// password change, deleting the account): the place it took in the
/// throttling budgets, to be recorded as what the action came to.
#[derive(Debug)]
#[must_use = "a confirmation counts as a failure until it is recorded"]
pub struct Confirmed(Reservation);

/// The rules, over a database, the password hasher, settings, a clock and
/// your user store.
pub struct Rules<'a, S: UserStore> {
    db: &'a DbPool,
    hasher: &'a Hasher,
    settings: &'a Settings,
    clock: &'a Clock,
    store: &'a S,
}

impl<'a, S: UserStore> Rules<'a, S> {
    /// The rules over these parts (a request's are gathered by
    /// [`crate::Authenticator`]).
    pub fn new(
        db: &'a DbPool,
        hasher: &'a Hasher,
        settings: &'a Settings,
        clock: &'a Clock,
        store: &'a S,
    ) -> Rules<'a, S> {
        Rules {
            db,
            hasher,
            settings,
            clock,
            store,
        }
    }

    /// The time the rules go by.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The password hasher.
    pub fn hasher(&self) -> &'a Hasher {
        self.hasher
    }

    /// The settings the rules go by.
    pub fn settings(&self) -> &'a Settings {
        self.settings
    }

    /// `asker`'s attempt on `login_key`, charged to `device` if the browser
    /// holds that account's device cookie.
    fn attempt<'b>(
        &'b self,
        asker: &'b Asker,
        user_id: Option<&'b str>,
        login_key: &'b str,
        device: Option<&'b DeviceId>,
        outcome: Recorded,
    ) -> Attempt<'b> {
        Attempt {
            user_id,
            login_key,
            client_ip: asker.client.ip.as_deref(),
            client_key: asker.client.key.as_ref().map(ClientKey::as_str),
            user_agent: asker.client.user_agent.as_deref(),
            device: device.map(DeviceId::as_str),
            outcome,
            at: self.now(),
        }
    }

    async fn record(&self, asker: &Asker, user: &S::User, outcome: Recorded) -> Result<(), Error> {
        let id = user.id().to_string();
        let key = throttle::login_key(user.login());
        attempts::record(
            self.db,
            &self.attempt(asker, Some(&id), &key, None, outcome),
        )
        .await
    }

    /// A place in the throttling budgets for a password check, or the
    /// refusal (429) if they are spent.
    async fn reserve(
        &self,
        asker: &Asker,
        user_id: Option<&str>,
        key: &str,
    ) -> Result<Reservation, Error> {
        let device = asker
            .device
            .as_ref()
            .and_then(|device| device.trusted_for(user_id));
        let attempt = self.attempt(asker, user_id, key, device, Recorded::Pending);
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

    async fn find_login(&self, key: &str) -> Result<Option<Credentials<S::User>>, Error> {
        let mut conn = self.db.acquire().await?;
        Ok(self.store.find_login(&mut conn, key).await?)
    }

    /// Checks a login and password. Unknown logins cost the same bcrypt
    /// work as wrong passwords; throttled attempts cost none.
    pub async fn login(
        &self,
        asker: &Asker,
        typed_login: &str,
        password: &str,
    ) -> Result<LoginOutcome<S::User>, Error> {
        // A place in the password queue first: when it is full the answer
        // is a 503 that cost no database work either.
        let place = self.hasher.admit()?;
        let key = throttle::login_key(typed_login);
        // The whole login, lower-cased: the key is cut short for counting.
        let account = self.find_login(&typed_login.to_lowercase()).await?;
        let user_id = account.as_ref().map(|a| a.user.id().to_string());
        let reservation = self.reserve(asker, user_id.as_deref(), &key).await?;
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
                (LoginOutcome::LoggedIn(account.user), Recorded::Success)
            }
            Some(_) if password_ok => (LoginOutcome::Deactivated, Recorded::Deactivated),
            Some(_) => (LoginOutcome::Invalid, Recorded::WrongPassword),
            None => (LoginOutcome::Invalid, Recorded::UnknownUser),
        };
        attempts::resolve(self.db, reservation, recorded).await?;
        Ok(outcome)
    }

    /// Checks the signed-in user's password (for reauthentication and forms
    /// that ask for it). Failures are recorded and count toward throttling,
    /// so a stolen session cannot guess the password at leisure.
    pub async fn confirm_password(
        &self,
        asker: &Asker,
        user: &S::User,
        password: &str,
    ) -> Result<Option<Confirmed>, Error> {
        // A place in the password queue before anything else, as at login.
        let place = self.hasher.admit()?;
        let key = throttle::login_key(user.login());
        let id = user.id().to_string();
        let reservation = self.reserve(asker, Some(&id), &key).await?;
        let account = self.find_login(&user.login().to_lowercase()).await?;
        // Only this very account's hash will do.
        let stored = account
            .as_ref()
            .filter(|a| a.user.id() == user.id())
            .map(|a| &a.password_hash);
        let (ok, reservation) = self.verify(place, reservation, password, stored).await?;
        if ok {
            return Ok(Some(Confirmed(reservation)));
        }
        attempts::resolve(self.db, reservation, Recorded::WrongPassword).await?;
        Ok(None)
    }

    /// Records what a confirmed password came to.
    async fn settle(&self, confirmed: Confirmed, outcome: Recorded) -> Result<(), Error> {
        attempts::resolve(self.db, confirmed.0, outcome).await
    }

    /// Confirms the password to make a session fresh again: `true` if it was
    /// right (the caller marks the browser fresh).
    pub async fn reauthenticate(
        &self,
        asker: &Asker,
        user: &S::User,
        password: &str,
    ) -> Result<bool, Error> {
        let Some(confirmed) = self.confirm_password(asker, user, password).await? else {
            return Ok(false);
        };
        self.settle(confirmed, Recorded::Reauthenticated).await?;
        Ok(true)
    }

    /// Replaces the password if `current` is right: `save` stores the new
    /// hash. The old one stops working at once, and so does every session
    /// of the user but `keep`: whoever knew the old password may be signed
    /// in elsewhere.
    pub async fn change_password<F, Fut>(
        &self,
        asker: &Asker,
        user: &S::User,
        current: &str,
        new: &Password,
        keep: Option<i64>,
        save: F,
    ) -> Result<bool, Error>
    where
        F: FnOnce(PasswordHash) -> Fut + Send,
        Fut: Future<Output = Result<(), Error>> + Send,
    {
        let Some(confirmed) = self.confirm_password(asker, user, current).await? else {
            return Ok(false);
        };
        let saved = match self.hasher.hash(new).await {
            Ok(hash) => save(hash).await,
            Err(e) => Err(e),
        };
        if let Err(e) = saved {
            // The current password was right: that must not count.
            self.settle(confirmed, Recorded::Reauthenticated).await?;
            return Err(e);
        }
        self.settle(confirmed, Recorded::PasswordChanged).await?;
        let id = user.id().to_string();
        match keep {
            Some(this) => sessions::end_others(self.db, &id, this).await?,
            None => sessions::end_all(&**self.db, &id).await?,
        };
        Ok(true)
    }

    /// Deletes the account if the password is right: `delete` removes it
    /// from your store, then its history and sessions go.
    pub async fn delete_account<F, Fut>(
        &self,
        asker: &Asker,
        user: &S::User,
        password: &str,
        delete: F,
    ) -> Result<bool, Error>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<(), Error>> + Send,
    {
        let Some(confirmed) = self.confirm_password(asker, user, password).await? else {
            return Ok(false);
        };
        if let Err(e) = delete().await {
            self.settle(confirmed, Recorded::Reauthenticated).await?;
            return Err(e);
        }
        self.forget(user).await?;
        Ok(true)
    }

    /// Deletes a user's history and sessions (the account itself is yours
    /// to delete).
    pub async fn forget(&self, user: &S::User) -> Result<(), Error> {
        let mut conn = self.db.acquire().await?;
        attempts::forget_user(&mut conn, &user.id().to_string()).await
    }

    /// Creates an account: a place in the address's hourly budget first
    /// (429 when spent, before anything is looked up), then `taken` (a
    /// login already in use costs no bcrypt and gives its place back), then
    /// the hash, then `create`, which stores the account, or says `None`
    /// when the login was taken in the meantime. The new user's sign-in is
    /// recorded. `None` means taken.
    pub async fn register<T, TFut, F, Fut>(
        &self,
        asker: &Asker,
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
        let place = throttle::reserve_registration(
            self.db,
            self.settings,
            asker.client.key.as_ref(),
            self.now(),
        )
        .await?;
        match taken().await {
            Ok(false) => {}
            Ok(true) => {
                self.release(place).await?;
                return Ok(None);
            }
            Err(e) => {
                self.release(place).await?;
                return Err(e);
            }
        }
        let created = match self.hasher.hash(password).await {
            Ok(hash) => create(hash).await,
            Err(e) => Err(e),
        };
        match created {
            Ok(Some(user)) => {
                self.record(asker, &user, Recorded::Success).await?;
                Ok(Some(user))
            }
            Ok(None) => {
                self.release(place).await?;
                Ok(None)
            }
            Err(e) => {
                self.release(place).await?;
                Err(e)
            }
        }
    }

    /// Gives back a registration place no account came of.
    async fn release(&self, place: Option<Place>) -> Result<(), Error> {
        match place {
            Some(place) => registrations::release(self.db, place).await,
            None => Ok(()),
        }
    }

    /// Records a logout.
    pub async fn logged_out(&self, asker: &Asker, user: &S::User) -> Result<(), Error> {
        self.record(asker, user, Recorded::Logout).await
    }

    /// The user's live sessions, most recently used first.
    pub async fn sessions(&self, user: &S::User) -> Result<Vec<Session>, Error> {
        sessions::list(self.db, &user.id().to_string(), self.now()).await
    }

    /// Ends one of the user's sessions; `false` if they have none by that
    /// id (another user's id changes nothing).
    pub async fn end_session(&self, user: &S::User, session: &PublicId) -> Result<bool, Error> {
        sessions::end(self.db, &user.id().to_string(), session).await
    }

    /// Ends every session of the user but `keep`; how many ended.
    pub async fn end_other_sessions(&self, user: &S::User, keep: i64) -> Result<u64, Error> {
        sessions::end_others(self.db, &user.id().to_string(), keep).await
    }

    /// Makes an API token for the user; its secret is shown once.
    pub async fn create_token(
        &self,
        user: &S::User,
        new: &NewToken,
    ) -> Result<(Secret, Token), Error> {
        let now = self.now();
        tokens::create(
            self.db,
            &user.id().to_string(),
            new.name(),
            now,
            new.expires_at(now),
        )
        .await
    }

    /// The user's live API tokens, newest first.
    pub async fn tokens(&self, user: &S::User) -> Result<Vec<Token>, Error> {
        tokens::list(self.db, &user.id().to_string(), self.now()).await
    }

    /// Revokes one of the user's tokens; `false` if they have none by that
    /// id (another user's id changes nothing).
    pub async fn revoke_token(&self, user: &S::User, token: &PublicId) -> Result<bool, Error> {
        tokens::revoke(self.db, &user.id().to_string(), token).await
    }

    /// The user's recent sign-ins (up to 10) and their last failed attempt.
    pub async fn recent_activity(
        &self,
        user: &S::User,
    ) -> Result<(Vec<attempts::Recorded>, Option<attempts::Recorded>), Error> {
        let id = user.id().to_string();
        let sign_ins = attempts::history(self.db, &id, &[Recorded::Success], 10).await?;
        let last_failure = attempts::history(
            self.db,
            &id,
            &[Recorded::WrongPassword, Recorded::Throttled],
            1,
        )
        .await?
        .into_iter()
        .next();
        Ok((sign_ins, last_failure))
    }
}
