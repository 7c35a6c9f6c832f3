//! Your users: the trait wristband loads them through (Flask-Login's
//! `user_loader`), and [`Table`], which implements it for a SQL table you
//! describe in a few constants.

use std::fmt::{self, Display};
use std::marker::PhantomData;
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Encode, FromRow, Row, Type};

use rocket::Request;

use crate::password::PasswordHash;
use crate::sessions::{self, CurrentSession, TokenHash};
use crate::tokens::{self, CurrentToken};

/// A user id: written into the wristband cookie and the registry as text
/// (`Display`) and read back from it (`FromStr`). `i64`, `String` and
/// newtypes over them all qualify.
pub trait UserId: Clone + PartialEq + Display + FromStr + Send + Sync + 'static {}

impl<T: Clone + PartialEq + Display + FromStr + Send + Sync + 'static> UserId for T {}

/// What wristband needs to know about a user of yours.
pub trait AuthUser: Clone + Send + Sync + 'static {
    /// The id the wristband holds.
    type Id: UserId;

    /// This user's id.
    fn id(&self) -> Self::Id;

    /// The name this user logs in with (a username, an email): failed
    /// attempts against it are counted together, whoever makes them.
    fn login(&self) -> &str;
}

/// A user found by login name, with what checking a password needs.
#[derive(Debug, Clone)]
pub struct Credentials<U> {
    /// The user.
    pub user: U,
    /// Their bcrypt hash.
    pub password_hash: PasswordHash,
    /// `false` for an account that exists but may not sign in now: the right
    /// password then gets [`crate::LoginOutcome::Deactivated`].
    pub active: bool,
}

/// A store that could not answer. wristband answers 503 for
/// [`StoreError::Unavailable`], never "anonymous".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database (or whatever holds the users) failed or was unreachable.
    #[error("user store unavailable: {0}")]
    Unavailable(#[from] sqlx::Error),
    /// The store holds something it should not (a 500).
    #[error("user store corrupt: {0}")]
    Corrupt(String),
}

/// The credentials a request without a wristband cookie presents, read
/// from its headers without the database: [`UserStore::presented`]'s
/// answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presentation {
    /// None: the request is anonymous (and costs no query).
    Nothing,
    /// Something that cannot be valid (a malformed token): refused at once,
    /// as a wrong one would be.
    Malformed,
    /// One of wristband's API tokens, by its hash.
    Token(TokenHash),
    /// A credential of the host's own scheme, for
    /// [`UserStore::load_presented`].
    Custom(String),
}

/// Where your users live: the part of Flask-Login's `user_loader` and of
/// axum-login's `AuthnBackend`. Each method gets a connection to the
/// database wristband was attached to; a store elsewhere may ignore it.
///
/// For a plain SQL table, [`Table`] implements this from a few constants.
#[rocket::async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Your user type, handed to routes by [`crate::CurrentUser`].
    type User: AuthUser;

    /// The active user with this id, or `None` (gone, deactivated).
    async fn load(
        &self,
        db: &mut AnyConnection,
        id: &<Self::User as AuthUser>::Id,
    ) -> Result<Option<Self::User>, StoreError>;

    /// The account that logs in as `login`, active or not. `login` is what
    /// was typed, lower-cased.
    async fn find_login(
        &self,
        db: &mut AnyConnection,
        login: &str,
    ) -> Result<Option<Credentials<Self::User>>, StoreError>;

    /// The per-request lookup: the active user `id`, if the registry holds a
    /// live wristband `token` for them. The default asks the registry, then
    /// [`load`](Self::load): two queries. [`Table`] does it in one.
    async fn load_signed_in(
        &self,
        db: &mut AnyConnection,
        id: &<Self::User as AuthUser>::Id,
        token: &TokenHash,
        now: i64,
    ) -> Result<Option<(Self::User, CurrentSession)>, StoreError> {
        let Some(session) = sessions::find_live(&mut *db, &id.to_string(), token, now).await?
        else {
            return Ok(None);
        };
        Ok(self.load(db, id).await?.map(|user| (user, session)))
    }

    /// Flask-Login's `request_loader`, first half: what credentials a
    /// request that came without a wristband cookie presents, from its
    /// headers alone. The default reads wristband's API tokens
    /// ([`bearer_token`]: `Authorization: Bearer wb_...`, on paths under
    /// `/api/`). Answer [`Presentation::Nothing`] to turn tokens off, or
    /// [`Presentation::Custom`] for a header scheme of your own.
    fn presented(&self, req: &Request<'_>) -> Presentation {
        bearer_token(req)
    }

    /// The second half, for [`Presentation::Custom`]: the active user the
    /// credential belongs to, or `None` to refuse it (401 with
    /// `WWW-Authenticate: Bearer error="invalid_token"`, counted toward the
    /// address's throttle). The default refuses everything.
    async fn load_presented(
        &self,
        db: &mut AnyConnection,
        credential: &str,
        now: i64,
    ) -> Result<Option<Self::User>, StoreError> {
        let _ = (db, credential, now);
        Ok(None)
    }

    /// The active user behind a live API token. The default asks the token
    /// table, then [`load`](Self::load): two queries. [`Table`] does it in
    /// one.
    async fn load_by_token(
        &self,
        db: &mut AnyConnection,
        token: &TokenHash,
        now: i64,
    ) -> Result<Option<(Self::User, CurrentToken)>, StoreError> {
        let Some((owner, token)) = tokens::find_live(&mut *db, token, now).await? else {
            return Ok(None);
        };
        let Ok(id) = owner.parse::<<Self::User as AuthUser>::Id>() else {
            return Err(StoreError::Corrupt(format!("token owner id {owner:?}")));
        };
        Ok(self.load(db, &id).await?.map(|user| (user, token)))
    }
}

/// wristband's API tokens, as [`UserStore::presented`] reads them by
/// default: only for paths under `/api/` (pages and their forms never
/// accept a token), from `Authorization: Bearer wb_...`. A header that is
/// there but cannot be one of ours is [`Presentation::Malformed`].
pub fn bearer_token(req: &Request<'_>) -> Presentation {
    let path = req.uri().path();
    if !(path == "/api" || path.starts_with("/api/")) {
        return Presentation::Nothing;
    }
    match req.headers().get_one("Authorization") {
        None => Presentation::Nothing,
        Some(header) => match tokens::presented(header) {
            Some(token) => Presentation::Token(token),
            None => Presentation::Malformed,
        },
    }
}

/// A SQL table of users, described by constants; [`Table`] turns the
/// description into a [`UserStore`] whose per-request lookup is one query.
/// Rows are read with your type's [`sqlx::FromRow`] impl.
///
/// ```
/// #[derive(Clone, sqlx::FromRow)]
/// struct Member { id: String, email: String }
///
/// impl wristband::AuthUser for Member {
///     type Id = String;
///     fn id(&self) -> String { self.id.clone() }
///     fn login(&self) -> &str { &self.email }
/// }
///
/// impl wristband::UserTable for Member {
///     const TABLE: &'static str = "members";
///     const LOGIN: &'static str = "email";
/// }
/// ```
pub trait UserTable: AuthUser + for<'r> FromRow<'r, AnyRow> + Unpin {
    /// The table's name.
    const TABLE: &'static str;
    /// The SQL expression a typed login (lower-cased) is compared with:
    /// `"email"`, or `"lower(username)"` for names kept in their own case.
    const LOGIN: &'static str;
    /// The id column.
    const ID: &'static str = "id";
    /// The id column's SQL type, to compare it with ids stored as text
    /// (`TEXT`, or `BIGINT` for integer ids).
    const ID_TYPE: &'static str = "TEXT";
    /// The columns your `FromRow` reads (none may start with `wb_`).
    const COLUMNS: &'static str = "*";
    /// The column holding the bcrypt hash.
    const PASSWORD_HASH: &'static str = "password_hash";
    /// A SQL condition true for accounts that may sign in.
    const ACTIVE: &'static str = "1 = 1";
}

/// The [`UserStore`] for a [`UserTable`]. Its queries are written once, here.
pub struct Table<T> {
    load: String,
    find_login: String,
    signed_in: String,
    by_token: String,
    _user: PhantomData<fn() -> T>,
}

impl<T: UserTable> Table<T> {
    /// The store for `T`'s table.
    pub fn new() -> Table<T> {
        let (table, id, columns, active) = (T::TABLE, T::ID, T::COLUMNS, T::ACTIVE);
        Table {
            load: format!("SELECT {columns} FROM {table} WHERE {id} = $1 AND ({active})"),
            find_login: format!(
                "SELECT {columns}, {hash} AS wb_password_hash, \
                        CAST(CASE WHEN ({active}) THEN 1 ELSE 0 END AS BIGINT) AS wb_active \
                 FROM {table} WHERE {login} = $1",
                hash = T::PASSWORD_HASH,
                login = T::LOGIN,
            ),
            // The registry row and the user, each by its own index, in one
            // round trip; the subquery keeps the two tables' columns apart.
            signed_in: format!(
                "SELECT {columns}, wb.* FROM {table}, \
                   (SELECT id AS wb_session_id, public_id AS wb_public_id, \
                           remembered AS wb_remembered, last_seen AS wb_last_seen \
                    FROM wristband_sessions \
                    WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3) AS wb \
                 WHERE {id} = $4 AND ({active})"
            ),
            // The token's row names its owner as text; cast, so the owner is
            // found by the id column's own index.
            by_token: format!(
                "SELECT {columns}, wb.* FROM {table}, \
                   (SELECT user_id AS wb_user_id, id AS wb_token_id, \
                           public_id AS wb_token_public_id, last_used AS wb_last_used \
                    FROM wristband_tokens WHERE token_hash = $1 AND expires_at > $2) AS wb \
                 WHERE {id} = CAST(wb.wb_user_id AS {id_type}) AND ({active})",
                id_type = T::ID_TYPE,
            ),
            _user: PhantomData,
        }
    }
}

impl<T: UserTable> Default for Table<T> {
    fn default() -> Self {
        Table::new()
    }
}

impl<T> fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table").field("load", &self.load).finish()
    }
}

#[rocket::async_trait]
impl<T> UserStore for Table<T>
where
    T: UserTable,
    T::Id: for<'q> Encode<'q, Any> + Type<Any>,
{
    type User = T;

    async fn load(&self, db: &mut AnyConnection, id: &T::Id) -> Result<Option<T>, StoreError> {
        let row = sqlx::query(&self.load)
            .bind(id.clone())
            .fetch_optional(db)
            .await?;
        Ok(row.map(|row| T::from_row(&row)).transpose()?)
    }

    async fn find_login(
        &self,
        db: &mut AnyConnection,
        login: &str,
    ) -> Result<Option<Credentials<T>>, StoreError> {
        let Some(row) = sqlx::query(&self.find_login)
            .bind(login)
            .fetch_optional(db)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Credentials {
            user: T::from_row(&row)?,
            password_hash: PasswordHash::new(row.try_get("wb_password_hash")?),
            active: row.try_get::<i64, _>("wb_active")? == 1,
        }))
    }

    async fn load_signed_in(
        &self,
        db: &mut AnyConnection,
        id: &T::Id,
        token: &TokenHash,
        now: i64,
    ) -> Result<Option<(T, CurrentSession)>, StoreError> {
        let row = sqlx::query(&self.signed_in)
            .bind(token.as_str())
            .bind(id.to_string())
            .bind(now)
            .bind(id.clone())
            .fetch_optional(db)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some((
            T::from_row(&row)?,
            sessions::current_from_row(&row)?,
        )))
    }

    async fn load_by_token(
        &self,
        db: &mut AnyConnection,
        token: &TokenHash,
        now: i64,
    ) -> Result<Option<(T, CurrentToken)>, StoreError> {
        let row = sqlx::query(&self.by_token)
            .bind(token.as_str())
            .bind(now)
            .fetch_optional(db)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some((T::from_row(&row)?, tokens::current_from_row(&row)?)))
    }
}
