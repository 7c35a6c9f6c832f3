//! Personal access tokens: what scripts and API clients sign in with
//! (`Authorization: Bearer wb_...`), Flask-Login's `request_loader` done
//! once for every app. The only module that speaks SQL about tokens.
//!
//! A token is `wb_` and 256 random bits in hex, shown to its owner once.
//! The database keeps only its SHA-256 (a token carries all the entropy it
//! needs, so a fast hash is enough: nothing to guess), and pages name it by
//! a random [`PublicId`].

use std::fmt;

use sqlx::{AnyPool, Row};

use crate::error::Error;
use crate::sessions::{stored_public_id, PublicId, TokenHash};
use crate::store::StoreError;

/// What every token starts with: greppable in leaked code, and told apart
/// from any other secret at a glance.
pub const PREFIX: &str = "wb_";

/// The expiry stored for a token that never expires (9999-12-31).
pub const NEVER: i64 = 253_402_300_799;

/// A token's secret, as shown to its owner once. Never logged: its `Debug`
/// hides it.
pub struct Secret(String);

impl Secret {
    /// A new token: the prefix and 32 random bytes in hex.
    fn generate() -> Secret {
        let bytes: [u8; 32] = rand::random();
        Secret(format!("{PREFIX}{}", crate::hex::encode(&bytes)))
    }

    /// The token, to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its hash, as stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(wb_<redacted>)")
    }
}

/// The bearer token an `Authorization` header carries, if it has the shape
/// of one of ours: anything else is not worth a query.
///
/// ```
/// use wristband::tokens::presented;
/// let token = format!("wb_{}", "ab".repeat(32));
/// assert!(presented(&format!("Bearer {token}")).is_some());
/// assert!(presented(&format!("bearer {token}")).is_some());
/// assert!(presented("Bearer wb_short").is_none());
/// assert!(presented(&format!("Basic {token}")).is_none());
/// ```
pub fn presented(authorization: &str) -> Option<TokenHash> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    let secret = token.strip_prefix(PREFIX)?;
    (secret.len() == 64
        && secret
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    .then(|| TokenHash::of(token))
}

/// A token about to be made, from what its owner typed: a name and a
/// lifetime the settings allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    name: String,
    days: Option<u32>,
}

impl NewToken {
    /// The longest name, in characters.
    pub const MAX_NAME_CHARS: usize = 64;

    /// Parses the form: a name of 1 to 64 characters, and `expires_days`
    /// empty (the default, `token_days`), a number of days (1 to
    /// [`MAX_TOKEN_DAYS`](crate::MAX_TOKEN_DAYS)), or `never` where the
    /// settings allow it. The error names the field and says why.
    ///
    /// ```
    /// use wristband::{tokens::NewToken, Settings};
    /// let settings = Settings::default();
    /// assert!(NewToken::parse("deploy", None, &settings).is_ok());
    /// assert!(NewToken::parse("deploy", Some("30"), &settings).is_ok());
    /// assert_eq!(NewToken::parse("", None, &settings).unwrap_err().0, "name");
    /// assert_eq!(NewToken::parse("x", Some("never"), &settings).unwrap_err().0, "expires_days");
    /// ```
    pub fn parse(
        name: &str,
        expires_days: Option<&str>,
        settings: &crate::Settings,
    ) -> Result<NewToken, (&'static str, &'static str)> {
        let name = name.trim();
        if name.is_empty() {
            return Err(("name", "Give the token a name, to tell it apart later."));
        }
        if name.chars().count() > Self::MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(("name", "Use at most 64 characters, on one line."));
        }
        let days = match expires_days.map(str::trim).filter(|d| !d.is_empty()) {
            None => Some(settings.token_days),
            Some(never) if never.eq_ignore_ascii_case("never") => {
                if !settings.allow_tokens_without_expiry {
                    return Err((
                        "expires_days",
                        "Tokens must expire here: choose a number of days.",
                    ));
                }
                None
            }
            Some(days) => match days.parse::<u32>() {
                Ok(days) if (1..=crate::MAX_TOKEN_DAYS).contains(&days) => Some(days),
                _ => return Err(("expires_days", "Choose a number of days from 1 to 3650.")),
            },
        };
        Ok(NewToken {
            name: name.to_string(),
            days,
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When a token made at `now` expires ([`NEVER`] for never).
    pub fn expires_at(&self, now: i64) -> i64 {
        match self.days {
            Some(days) => now.saturating_add(i64::from(days) * 86_400),
            None => NEVER,
        }
    }
}

/// The live token behind this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentToken {
    /// The row's id (never shown).
    pub id: i64,
    /// What pages name it by.
    pub public_id: PublicId,
    /// When it was last recorded as used (0: never before).
    pub last_used: i64,
}

/// One row of the token list in settings.
#[derive(Debug, Clone)]
pub struct Token {
    /// What pages name it by, and revoke it by.
    pub public_id: PublicId,
    /// Its owner's label.
    pub name: String,
    /// When it was made.
    pub created_at: i64,
    /// When it was last used (at most five minutes off), if ever.
    pub last_used: Option<i64>,
    /// When it stops working; `None` for never.
    pub expires_at: Option<i64>,
}

/// Makes a token for `user_id`, named `name`, ending at `expires_at`
/// ([`NEVER`] for never); returns its secret (to show once) and its row.
pub async fn create(
    db: &AnyPool,
    user_id: &str,
    name: &str,
    now: i64,
    expires_at: i64,
) -> Result<(Secret, Token), Error> {
    let secret = Secret::generate();
    let public_id = PublicId::random();
    sqlx::query(
        "INSERT INTO wristband_tokens (public_id, token_hash, user_id, name, created_at, \
                                       last_used, expires_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6)",
    )
    .bind(public_id.as_str())
    .bind(secret.hash().as_str())
    .bind(user_id)
    .bind(name)
    .bind(now)
    .bind(expires_at)
    .execute(db)
    .await?;
    let token = Token {
        public_id,
        name: name.to_string(),
        created_at: now,
        last_used: None,
        expires_at: (expires_at != NEVER).then_some(expires_at),
    };
    Ok((secret, token))
}

/// The owner and the token for this hash, if it is live at `now`: for a
/// [`crate::UserStore`] whose users live elsewhere (a table's store does it
/// and loads the user in one query).
pub async fn find_live(
    db: &mut sqlx::AnyConnection,
    token: &TokenHash,
    now: i64,
) -> Result<Option<(String, CurrentToken)>, StoreError> {
    let row = sqlx::query(
        "SELECT user_id AS wb_user_id, id AS wb_token_id, public_id AS wb_token_public_id, \
                last_used AS wb_last_used \
         FROM wristband_tokens WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token.as_str())
    .bind(now)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some((row.try_get("wb_user_id")?, current_from_row(&row)?)))
}

/// The token in a row's `wb_token_id`, `wb_token_public_id` and
/// `wb_last_used` columns.
pub fn current_from_row(row: &sqlx::any::AnyRow) -> Result<CurrentToken, StoreError> {
    Ok(CurrentToken {
        id: row.try_get("wb_token_id")?,
        public_id: stored_public_id(row, "wb_token_public_id")?,
        last_used: row.try_get("wb_last_used")?,
    })
}

/// Records that a token was used at `now`.
pub async fn touch(db: &AnyPool, id: i64, now: i64) -> Result<(), Error> {
    sqlx::query("UPDATE wristband_tokens SET last_used = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// `user_id`'s tokens that are live at `now` (`i64::MIN` for all), newest
/// first.
pub async fn list(db: &AnyPool, user_id: &str, now: i64) -> Result<Vec<Token>, Error> {
    let rows = sqlx::query(
        "SELECT public_id, name, created_at, last_used, expires_at FROM wristband_tokens \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            let last_used: i64 = row.try_get("last_used")?;
            let expires_at: i64 = row.try_get("expires_at")?;
            Ok(Token {
                public_id: stored_public_id(row, "public_id")?,
                name: row.try_get("name")?,
                created_at: row.try_get("created_at")?,
                last_used: (last_used > 0).then_some(last_used),
                expires_at: (expires_at != NEVER).then_some(expires_at),
            })
        })
        .collect()
}

/// Revokes one of `user_id`'s tokens; `false` if they have none by that id
/// (another user's id changes nothing).
pub async fn revoke(db: &AnyPool, user_id: &str, public_id: &PublicId) -> Result<bool, Error> {
    let revoked = sqlx::query("DELETE FROM wristband_tokens WHERE public_id = $1 AND user_id = $2")
        .bind(public_id.as_str())
        .bind(user_id)
        .execute(db)
        .await?
        .rows_affected();
    Ok(revoked > 0)
}

/// Revokes every token of `user_id`; returns how many. Takes any executor,
/// so a host can do it in the transaction that deactivates the account.
pub async fn revoke_all<'e, E>(db: E, user_id: &str) -> Result<u64, Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let revoked = sqlx::query("DELETE FROM wristband_tokens WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?
        .rows_affected();
    Ok(revoked)
}

/// Deletes up to `limit` tokens that had expired by `now`; returns how
/// many. Callers loop until fewer than `limit` go.
pub async fn prune_expired(db: &AnyPool, now: i64, limit: u32) -> Result<u64, Error> {
    let pruned = sqlx::query(
        "DELETE FROM wristband_tokens WHERE id IN \
         (SELECT id FROM wristband_tokens WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)",
    )
    .bind(now)
    .bind(i64::from(limit))
    .execute(db)
    .await?
    .rows_affected();
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_recognised() {
        let (a, b) = (Secret::generate(), Secret::generate());
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("wb_") && a.expose().len() == 67);
        let header = format!("Bearer {}", a.expose());
        assert_eq!(presented(&header), Some(a.hash()));
        assert!(!format!("{a:?}").contains(&a.expose()[3..]));
        for bad in ["", "Bearer", "Bearer ", "Bearer wb_", "Token wb_00"] {
            assert_eq!(presented(bad), None, "{bad}");
        }
        let upper = format!("Bearer wb_{}", "AB".repeat(32));
        assert_eq!(presented(&upper), None);
    }
}
