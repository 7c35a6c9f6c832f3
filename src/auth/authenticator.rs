//! The rules of signing in, out and proving who you are, in one place:
//! throttling first, then exactly one bcrypt check, then the audit trail,
//! then the cookies. Routes call these and only choose what to render.

use rocket::http::{CookieJar, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket_db_pools::Database;
use sqlx::AnyPool;

use crate::attempts::{self, Attempt, Outcome as Recorded};
use crate::auth::client::ClientInfo;
use crate::auth::{cookie, throttle, Hasher};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::Error;
use crate::users::{self, CreateError, Password, User, Username};

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

/// Everything the rules need, gathered from the request: the database, the
/// hasher, settings, the clock, who is asking, and the cookie jar.
pub struct Authenticator<'r> {
    db: &'r AnyPool,
    hasher: &'r Hasher,
    settings: &'r Settings,
    clock: &'r Clock,
    client: ClientInfo,
    jar: &'r CookieJar<'r>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Authenticator<'r> {
    type Error = &'static str;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let rocket = req.rocket();
        let (Some(db), Some(hasher), Some(settings), Some(clock)) = (
            Db::fetch(rocket),
            rocket.state::<Hasher>(),
            rocket.state::<Settings>(),
            rocket.state::<Clock>(),
        ) else {
            log::error!("wristband's stages are not all attached");
            return Outcome::Error((
                Status::InternalServerError,
                "wristband is not fully attached",
            ));
        };
        let client = match req.guard::<ClientInfo>().await {
            Outcome::Success(client) => client,
            Outcome::Error((_, never)) => match never {},
            Outcome::Forward(_) => ClientInfo::default(),
        };
        Outcome::Success(Authenticator {
            db,
            hasher,
            settings,
            clock,
            client,
            jar: req.cookies(),
        })
    }
}

impl Authenticator<'_> {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    async fn record(
        &self,
        user_id: Option<i64>,
        username_key: &str,
        outcome: Recorded,
    ) -> Result<(), Error> {
        let attempt = Attempt {
            user_id,
            username_key,
            client_ip: self.client.ip.as_deref(),
            user_agent: self.client.user_agent.as_deref(),
            outcome,
            at: self.now(),
        };
        attempts::record(self.db, &attempt).await
    }

    /// Throttling for this name and this client; a refusal is recorded.
    async fn throttle(&self, user_id: Option<i64>, key: &str) -> Result<(), Error> {
        let verdict = throttle::check(
            self.db,
            self.settings,
            key,
            self.client.ip.as_deref(),
            self.now(),
        )
        .await;
        if let Err(Error::Throttled { .. }) = verdict {
            self.record(user_id, key, Recorded::Throttled).await?;
        }
        verdict
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
        self.throttle(None, &key).await?;
        let account = match Username::parse(typed_username) {
            Ok(username) => users::find_credentials(self.db, &username).await?,
            Err(_) => None,
        };
        let password_ok = self
            .hasher
            .verify_admitted(place, password, account.as_ref().map(|a| &a.password_hash))
            .await?;
        let user_id = account.as_ref().map(|a| a.user.id);
        match account {
            Some(account) if password_ok && account.active => {
                self.record(user_id, &key, Recorded::Success).await?;
                cookie::login_user(self.jar, &account.user, remember, self.settings, self.now());
                Ok(LoginOutcome::LoggedIn(account.user))
            }
            Some(_) if password_ok => {
                self.record(user_id, &key, Recorded::Deactivated).await?;
                Ok(LoginOutcome::Deactivated)
            }
            Some(_) => {
                self.record(user_id, &key, Recorded::WrongPassword).await?;
                Ok(LoginOutcome::Invalid)
            }
            None => {
                self.record(None, &key, Recorded::UnknownUser).await?;
                Ok(LoginOutcome::Invalid)
            }
        }
    }

    /// Checks the signed-in user's password (for `/reauth` and the settings
    /// forms). Failures are recorded and count toward throttling, so a
    /// stolen session cannot guess the password at leisure.
    pub async fn confirm_password(&self, user: &User, password: &str) -> Result<bool, Error> {
        let place = self.hasher.admit()?;
        let key = throttle::username_key(user.username.as_str());
        self.throttle(Some(user.id), &key).await?;
        let account = users::find_credentials(self.db, &user.username).await?;
        let ok = self
            .hasher
            .verify_admitted(place, password, account.as_ref().map(|a| &a.password_hash))
            .await?;
        if !ok {
            self.record(Some(user.id), &key, Recorded::WrongPassword)
                .await?;
        }
        Ok(ok)
    }

    /// Makes the session fresh again if the password is right.
    pub async fn reauthenticate(&self, user: &User, password: &str) -> Result<bool, Error> {
        if !self.confirm_password(user, password).await? {
            return Ok(false);
        }
        let key = throttle::username_key(user.username.as_str());
        self.record(Some(user.id), &key, Recorded::Reauthenticated)
            .await?;
        cookie::mark_fresh(self.jar, user, self.settings, self.now());
        Ok(true)
    }

    /// Replaces the password if `current` is right. The old one stops
    /// working at once.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &Password,
    ) -> Result<bool, Error> {
        if !self.confirm_password(user, current).await? {
            return Ok(false);
        }
        let hash = self.hasher.hash(new).await?;
        users::set_password(self.db, user.id, &hash).await?;
        let key = throttle::username_key(user.username.as_str());
        self.record(Some(user.id), &key, Recorded::PasswordChanged)
            .await?;
        Ok(true)
    }

    /// Deletes the account and its history if the password is right, and
    /// logs the browser out.
    pub async fn delete_account(&self, user: &User, password: &str) -> Result<bool, Error> {
        if !self.confirm_password(user, password).await? {
            return Ok(false);
        }
        users::delete(self.db, user.id).await?;
        cookie::logout_user(self.jar, self.settings);
        Ok(true)
    }

    /// Creates an account and logs the browser in (a browser-session
    /// wristband, fresh).
    pub async fn register(
        &self,
        username: &Username,
        password: &Password,
    ) -> Result<User, CreateError> {
        let hash = self.hasher.hash(password).await?;
        let user = users::create(self.db, username, &hash, self.now()).await?;
        let key = throttle::username_key(username.as_str());
        self.record(Some(user.id), &key, Recorded::Success).await?;
        cookie::login_user(self.jar, &user, false, self.settings, self.now());
        Ok(user)
    }

    /// Takes the wristband off, recording the logout if someone was signed in.
    pub async fn logout(&self, user: Option<&User>) -> Result<(), Error> {
        cookie::logout_user(self.jar, self.settings);
        if let Some(user) = user {
            let key = throttle::username_key(user.username.as_str());
            self.record(Some(user.id), &key, Recorded::Logout).await?;
        }
        Ok(())
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
