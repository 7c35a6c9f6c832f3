//! The session store: the registry of wristbands the server issued. The
//! only module that speaks SQL about sessions.
//!
//! A row is keyed by a hash of the cookie's value ([`TokenHash`]), so the
//! database never holds anything that could be replayed as a cookie, and
//! named in pages and forms by a random [`PublicId`].

use std::fmt;

use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

use crate::error::Error;
use crate::store::StoreError;

/// SHA-256 of a `user_id` cookie's value, in hex: what the registry is
/// keyed by.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hash of a cookie value as the browser sends it back (Rocket's
    /// ciphertext, which has a fresh random nonce per login).
    pub fn of(cookie_value: &str) -> TokenHash {
        TokenHash(crate::hex::encode(&Sha256::digest(cookie_value.as_bytes())))
    }

    /// The hash, in hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a secret, but nothing a log needs either.
        f.write_str("TokenHash(..)")
    }
}

/// The name a session is shown and ended by: 128 random bits in hex. It
/// only parses from that shape, so a form value that is anything else never
/// reaches a query.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct PublicId(String);

impl PublicId {
    pub(crate) fn random() -> PublicId {
        PublicId(crate::hex::random_id())
    }

    /// A submitted id, if it has the shape of one.
    ///
    /// ```
    /// use wristband::sessions::PublicId;
    /// assert!(PublicId::parse("0123456789abcdef0123456789abcdef").is_some());
    /// assert!(PublicId::parse("' OR 1=1 --").is_none());
    /// ```
    pub fn parse(raw: &str) -> Option<PublicId> {
        crate::hex::is_id(raw).then(|| PublicId(raw.to_string()))
    }

    /// The id, in hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PublicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A wristband about to be registered.
#[derive(Debug)]
pub struct NewSession<'a> {
    /// The user's id, as text.
    pub user_id: &'a str,
    /// The hash of the cookie's value.
    pub token: &'a TokenHash,
    /// A "remember me" wristband.
    pub remembered: bool,
    /// When it is issued.
    pub now: i64,
    /// When it ends unless used (browser-session) or at all (remembered).
    pub expires_at: i64,
    /// The address it was issued to ('' if unknown).
    pub client_ip: &'a str,
    /// The browser's user agent, sanitized ('' if none).
    pub user_agent: &'a str,
}

/// The live session behind this request's wristband.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentSession {
    /// The row's id (never shown).
    pub id: i64,
    /// What pages name it by.
    pub public_id: PublicId,
    /// A "remember me" wristband.
    pub remembered: bool,
    /// When it was last recorded as used.
    pub last_seen: i64,
}

/// One row of "Where you're signed in".
#[derive(Debug, Clone)]
pub struct Session {
    /// The row's id (never shown).
    pub id: i64,
    /// What pages name it by, and end it by.
    pub public_id: PublicId,
    /// A "remember me" wristband.
    pub remembered: bool,
    /// When it was issued.
    pub created_at: i64,
    /// When it was last recorded as used (at most every five minutes).
    pub last_seen: i64,
    /// When it ends unless used again (browser-session) or at all.
    pub expires_at: i64,
    /// The address it was issued to ('' if unknown).
    pub client_ip: String,
    /// The browser's user agent at login ('' if none).
    pub user_agent: String,
}

/// A row's `public_id`: only ever written by [`create`], so anything else in
/// it is corruption, reported rather than trusted.
pub(crate) fn stored_public_id(
    row: &sqlx::any::AnyRow,
    column: &str,
) -> Result<PublicId, StoreError> {
    let stored: String = row.try_get(column)?;
    PublicId::parse(&stored)
        .ok_or_else(|| StoreError::Corrupt(format!("stored session id {stored:?}")))
}

/// Registers a wristband; returns its public id.
pub async fn create(db: &AnyPool, new: &NewSession<'_>) -> Result<PublicId, Error> {
    let public_id = PublicId::random();
    sqlx::query(
        "INSERT INTO wristband_sessions (public_id, token_hash, user_id, remembered, created_at, \
                               last_seen, expires_at, client_ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
    )
    .bind(public_id.as_str())
    .bind(new.token.as_str())
    .bind(new.user_id)
    .bind(i64::from(new.remembered))
    .bind(new.now)
    .bind(new.expires_at)
    .bind(new.client_ip)
    .bind(new.user_agent)
    .execute(db)
    .await?;
    Ok(public_id)
}

/// The live registry row for exactly this cookie and user, if there is one.
/// (A [`crate::UserStore`] whose users share the database can do this and
/// load the user in one query: see [`crate::Table`].)
pub async fn find_live(
    db: &mut sqlx::AnyConnection,
    user_id: &str,
    token: &TokenHash,
    now: i64,
) -> Result<Option<CurrentSession>, StoreError> {
    let row = sqlx::query(
        "SELECT id AS wb_session_id, public_id AS wb_public_id, remembered AS wb_remembered, \
                last_seen AS wb_last_seen \
         FROM wristband_sessions WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3",
    )
    .bind(token.as_str())
    .bind(user_id)
    .bind(now)
    .fetch_optional(db)
    .await?;
    row.as_ref().map(current_from_row).transpose()
}

/// The session in a row's `wb_session_id`, `wb_public_id`, `wb_remembered`
/// and `wb_last_seen` columns, as [`find_live`] and [`crate::Table`] select
/// them.
pub fn current_from_row(row: &sqlx::any::AnyRow) -> Result<CurrentSession, StoreError> {
    Ok(CurrentSession {
        id: row.try_get("wb_session_id")?,
        public_id: stored_public_id(row, "wb_public_id")?,
        remembered: row.try_get::<i64, _>("wb_remembered")? == 1,
        last_seen: row.try_get("wb_last_seen")?,
    })
}

/// Records that a session was used at `now`. A browser-session wristband's
/// idle expiry moves with it; a remembered one keeps its fixed end.
pub async fn touch(db: &AnyPool, session_id: i64, now: i64, idle_secs: i64) -> Result<(), Error> {
    sqlx::query(
        "UPDATE wristband_sessions SET last_seen = $2, \
                expires_at = CASE WHEN remembered = 0 THEN $3 ELSE expires_at END \
         WHERE id = $1",
    )
    .bind(session_id)
    .bind(now)
    .bind(now.saturating_add(idle_secs))
    .execute(db)
    .await?;
    Ok(())
}

/// Ends the session registered for this cookie hash (logout).
pub async fn end_by_token(db: &AnyPool, token: &TokenHash) -> Result<(), Error> {
    sqlx::query("DELETE FROM wristband_sessions WHERE token_hash = $1")
        .bind(token.as_str())
        .execute(db)
        .await?;
    Ok(())
}

/// Ends one of `user_id`'s sessions; `false` if that user has no live
/// session by this id (another user's id changes nothing).
pub async fn end(db: &AnyPool, user_id: &str, public_id: &PublicId) -> Result<bool, Error> {
    let ended = sqlx::query("DELETE FROM wristband_sessions WHERE public_id = $1 AND user_id = $2")
        .bind(public_id.as_str())
        .bind(user_id)
        .execute(db)
        .await?
        .rows_affected();
    Ok(ended > 0)
}

/// Ends every session of `user_id` but `keep`; returns how many ended.
pub async fn end_others(db: &AnyPool, user_id: &str, keep: i64) -> Result<u64, Error> {
    let ended = sqlx::query("DELETE FROM wristband_sessions WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(keep)
        .execute(db)
        .await?
        .rows_affected();
    Ok(ended)
}

/// Ends every session of `user_id`; returns how many ended. Takes any
/// executor, so a host can end them in the transaction that deactivates
/// the account.
pub async fn end_all<'e, E>(db: E, user_id: &str) -> Result<u64, Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let ended = sqlx::query("DELETE FROM wristband_sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?
        .rows_affected();
    Ok(ended)
}

/// `user_id`'s sessions that are live at `now` (pass `i64::MIN` for every
/// registered one), most recently used first.
pub async fn list(db: &AnyPool, user_id: &str, now: i64) -> Result<Vec<Session>, Error> {
    let rows = sqlx::query(
        "SELECT id, public_id, remembered, created_at, last_seen, expires_at, client_ip, \
                user_agent \
         FROM wristband_sessions WHERE user_id = $1 AND expires_at > $2 \
         ORDER BY last_seen DESC, id DESC",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Session {
                id: row.try_get("id")?,
                public_id: stored_public_id(row, "public_id")?,
                remembered: row.try_get::<i64, _>("remembered")? == 1,
                created_at: row.try_get("created_at")?,
                last_seen: row.try_get("last_seen")?,
                expires_at: row.try_get("expires_at")?,
                client_ip: row.try_get("client_ip")?,
                user_agent: row.try_get("user_agent")?,
            })
        })
        .collect()
}

/// Deletes up to `limit` sessions that had expired by `now` (on the
/// `expires_at` index); returns how many. Callers loop until fewer than
/// `limit` go.
pub async fn prune_expired(db: &AnyPool, now: i64, limit: u32) -> Result<u64, Error> {
    let pruned = sqlx::query(
        "DELETE FROM wristband_sessions WHERE id IN \
         (SELECT id FROM wristband_sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)",
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
    fn token_hashes_are_sha256_hex() {
        // SHA-256 of "abc" (FIPS 180-2, appendix B.1).
        assert_eq!(
            TokenHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn public_ids_are_random_and_parse_back() {
        let a = PublicId::random();
        assert_ne!(a, PublicId::random());
        assert_eq!(PublicId::parse(a.as_str()), Some(a));
        for bad in [
            "",
            "0123",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert_eq!(PublicId::parse(bad), None, "{bad}");
        }
    }
}
