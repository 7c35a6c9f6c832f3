//! Your users: the trait wristband loads them through (Flask-Login's
//! `user_loader`), and [`Table`], which implements it for a SQL table you
//! describe in a few constants.

use std::fmt::{self, Display};
use std::marker::PhantomData;
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Encode, FromRow, Row, Type};

use crate::password::PasswordHash;
use crate::sessions::{self, CurrentSession, TokenHash};

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
}
