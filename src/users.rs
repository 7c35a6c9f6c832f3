//! The user store: the only module that speaks SQL about users, the
//! description of the `users` table wristband loads them through, and the
//! username type that makes invalid names unrepresentable.

use std::fmt;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, FromRow, Row};
use wristband::{AuthUser, Error, PasswordHash, UserTable};

/// A username that passed the rules: 3 to 32 characters of `A-Z a-z 0-9 _ . -`.
/// It keeps the case it was typed in; uniqueness ignores case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 32;

    /// Parses a typed username.
    ///
    /// ```
    /// use wristband_app::users::Username;
    /// assert!(Username::parse("ada.lovelace").is_ok());
    /// assert!(Username::parse("no spaces").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Username, &'static str> {
        if raw.is_empty() {
            return Err("Choose a username.");
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err("Use only letters, digits, '_', '.' and '-'.");
        }
        // Only ASCII is left, so bytes are characters.
        if raw.len() < Self::MIN_CHARS || raw.len() > Self::MAX_CHARS {
            return Err("Use 3 to 32 characters.");
        }
        Ok(Username(raw.to_string()))
    }

    /// The username, as typed at registration.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so width and alignment work in tables.
        f.pad(&self.0)
    }
}

/// An account: what the `User` guard (`crate::auth::User`) derefs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: i64,
    pub username: Username,
}

impl AuthUser for Account {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn login(&self) -> &str {
        self.username.as_str()
    }
}

/// Usernames keep their case but are unique without it, so logins compare
/// lower-cased (wristband lower-cases what was typed), on the
/// `users_username_lower` index.
impl UserTable for Account {
    const TABLE: &'static str = "users";
    const LOGIN: &'static str = "lower(username)";
    const COLUMNS: &'static str = "id, username";
    const ID_TYPE: &'static str = "BIGINT";
    const ACTIVE: &'static str = "deactivated_at IS NULL";
}

impl FromRow<'_, AnyRow> for Account {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let username: String = row.try_get("username")?;
        // The database only ever receives parsed usernames; anything else in
        // it is corruption, reported rather than trusted.
        let username = Username::parse(&username).map_err(|_| {
            sqlx::Error::Decode(format!("stored username {username:?} is invalid").into())
        })?;
        Ok(Account {
            id: row.try_get("id")?,
            username,
        })
    }
}

/// What the CLI needs to act on an account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: Account,
    pub password_hash: PasswordHash,
    pub active: bool,
}

/// Why a new account was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("username taken")]
    Taken,
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<sqlx::Error> for CreateError {
    fn from(e: sqlx::Error) -> Self {
        CreateError::Store(e.into())
    }
}

/// The account with this username (in any case), active or not.
pub async fn find_credentials(
    db: &AnyPool,
    username: &Username,
) -> Result<Option<Credentials>, Error> {
    let row = sqlx::query(
        "SELECT id, username, password_hash, COALESCE(deactivated_at, 0) AS deactivated_at FROM users \
         WHERE lower(username) = lower($1)",
    )
    .bind(username.as_str())
    .fetch_optional(db)
    .await?;
    row.map(|row| {
        Ok(Credentials {
            user: Account::from_row(&row)?,
            password_hash: PasswordHash::new(row.try_get("password_hash")?),
            // COALESCE, because the Any driver cannot type a NULL column.
            active: row.try_get::<i64, _>("deactivated_at")? == 0,
        })
    })
    .transpose()
}

/// Creates an account. The unique index on `lower(username)` decides races:
/// of many simultaneous registrations of one name exactly one wins.
pub async fn create(
    db: &AnyPool,
    username: &Username,
    hash: &PasswordHash,
    now: i64,
) -> Result<Account, CreateError> {
    let result = sqlx::query(
        "INSERT INTO users (username, password_hash, created_at) \
         VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(username.as_str())
    .bind(hash.as_str())
    .bind(now)
    .fetch_one(db)
    .await;
    match result {
        Ok(row) => Ok(Account {
            id: row.try_get("id").map_err(Error::from)?,
            username: username.clone(),
        }),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(CreateError::Taken),
        Err(e) => Err(CreateError::Store(e.into())),
    }
}

/// Replaces an account's password hash.
pub async fn set_password(db: &AnyPool, id: i64, hash: &PasswordHash) -> Result<(), Error> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash.as_str())
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deactivates (at `now`) or reactivates an account; `false` if there is no
/// such user. Deactivation ends every session and API token of the account in the same
/// transaction, so reactivating it later brings none of them back.
pub async fn set_active(
    db: &AnyPool,
    username: &Username,
    active: bool,
    now: i64,
) -> Result<bool, Error> {
    let Some(account) = find_credentials(db, username).await? else {
        return Ok(false);
    };
    let id = account.user.id;
    if active {
        sqlx::query("UPDATE users SET deactivated_at = NULL WHERE id = $1")
            .bind(id)
            .execute(db)
            .await?;
        return Ok(true);
    }
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET deactivated_at = $2 WHERE id = $1 AND deactivated_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    wristband::sessions::end_all(&mut *tx, &id.to_string()).await?;
    wristband::tokens::revoke_all(&mut *tx, &id.to_string()).await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes an account, its login history and its sessions, in one
/// transaction. `false` if there was no such user.
pub async fn delete(db: &AnyPool, id: i64) -> Result<bool, Error> {
    let mut tx = db.begin().await?;
    let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    wristband::attempts::forget_user(&mut tx, &id.to_string()).await?;
    tx.commit().await?;
    Ok(deleted > 0)
}

/// One line of `wristband users list`.
#[derive(Debug, Clone)]
pub struct Listed {
    pub user: Account,
    pub active: bool,
    pub created_at: i64,
}

/// Every account, oldest first.
pub async fn list(db: &AnyPool) -> Result<Vec<Listed>, Error> {
    let rows = sqlx::query(
        "SELECT id, username, COALESCE(deactivated_at, 0) AS deactivated_at, created_at \
         FROM users ORDER BY id",
    )
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Listed {
                user: Account::from_row(row)?,
                active: row.try_get::<i64, _>("deactivated_at")? == 0,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_contract() {
        for ok in ["abc", "A_b.c-9", &"x".repeat(32)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            &"x".repeat(33),
            "a b",
            "ünï",
            "a/b",
            "a@b",
            "abc\n",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }
}
