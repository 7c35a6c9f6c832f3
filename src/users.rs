//! The user store: the only module that speaks SQL about users, and the
//! domain types that make invalid usernames and passwords unrepresentable.

use std::fmt;

use serde::Serialize;
use sqlx::{AnyPool, Row};

use crate::error::Error;

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
    /// use wristband::users::Username;
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

/// A signed-in, active user: what the [`User`] guard hands a route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: Username,
}

/// What login needs to check a password.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
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

/// The user in a row's `id` and `username` columns.
pub(crate) fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, Error> {
    let username: String = row.try_get("username")?;
    // The database only ever receives parsed usernames; anything else in it
    // is corruption, reported rather than trusted.
    let username = Username::parse(&username)
        .map_err(|_| Error::Corrupt(format!("stored username {username:?} is invalid")))?;
    Ok(User {
        id: row.try_get("id")?,
        username,
    })
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
            user: user_from_row(&row)?,
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
) -> Result<User, CreateError> {
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
        Ok(row) => Ok(User {
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
/// such user. Deactivation ends every session of the account in the same
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
    crate::sessions::end_all(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes an account (its login history goes with it, by foreign key).
/// `false` if there was no such user.
pub async fn delete(db: &AnyPool, id: i64) -> Result<bool, Error> {
    let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected();
    Ok(deleted > 0)
}

/// One line of `wristband users list`.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    pub active: bool,
    pub created_at: i64,
}

/// Every account, oldest first.
pub async fn list(db: &AnyPool) -> Result<Vec<Account>, Error> {
    let rows = sqlx::query(
        "SELECT id, username, COALESCE(deactivated_at, 0) AS deactivated_at, created_at \
         FROM users ORDER BY id",
    )
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Account {
                user: user_from_row(row)?,
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

    #[test]
    fn passwords_are_counted_in_bytes() {
        assert!(Password::parse(&"é".repeat(36)).is_ok()); // 72 bytes
        assert!(Password::parse(&"é".repeat(37)).is_err()); // 74 bytes
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let pw = Password::parse("hunter2hunter2").expect("valid");
        assert!(!format!("{pw:?}").contains("hunter2"));
        let hash = PasswordHash::new("$2b$04$secret".into());
        assert!(!format!("{hash:?}").contains("secret"));
    }
}
