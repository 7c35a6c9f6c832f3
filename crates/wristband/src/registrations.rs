//! The registration store: accounts created, or being created, per client
//! address, for `max_registrations_per_ip`. The only module that speaks SQL
//! about the `registrations` table.

use sqlx::{AnyPool, Row};

use crate::db::DbPool;
use crate::error::Error;

/// A place in an address's hourly budget, taken before the password is
/// hashed. [`release`] gives it back when no account came of it; one left
/// behind by a failure midway expires with the window.
#[derive(Debug)]
#[must_use = "a place counts until it is released or expires"]
pub struct Place {
    id: i64,
}

/// Takes a place for `client_key` at `now` if it holds fewer than `limit`
/// since `since`, atomically (see [`DbPool::fetch_optional_locked`]).
/// `None` when the budget is spent.
pub async fn reserve(
    db: &DbPool,
    client_key: &str,
    now: i64,
    since: i64,
    limit: u32,
) -> Result<Option<Place>, Error> {
    // Rows past every window are of no more use: the table stays one hour.
    sqlx::query("DELETE FROM wristband_registrations WHERE at <= $1")
        .bind(since)
        .execute(&**db)
        .await?;
    let query = sqlx::query(
        "INSERT INTO wristband_registrations (client_key, at) SELECT $1, $2 \
         WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM wristband_registrations \
                                      WHERE client_key = $1 AND at > $3 LIMIT $4) AS counted) < $4 \
         RETURNING id",
    )
    .bind(client_key)
    .bind(now)
    .bind(since)
    .bind(i64::from(limit));
    let lock = format!("wristband registrations: {client_key}");
    let row = db.fetch_optional_locked(vec![lock], query).await?;
    row.map(|row| {
        Ok(Place {
            id: row.try_get("id")?,
        })
    })
    .transpose()
}

/// Gives a place back: the name was taken, or hashing failed.
pub async fn release(db: &AnyPool, place: Place) -> Result<(), Error> {
    sqlx::query("DELETE FROM wristband_registrations WHERE id = $1")
        .bind(place.id)
        .execute(db)
        .await?;
    Ok(())
}

/// When the latest `limit` places of `client_key` since `since` were
/// taken, newest first.
pub async fn recent(
    db: &AnyPool,
    client_key: &str,
    since: i64,
    limit: u32,
) -> Result<Vec<i64>, Error> {
    let rows = sqlx::query(
        "SELECT at FROM wristband_registrations WHERE client_key = $1 AND at > $2 ORDER BY at DESC LIMIT $3",
    )
    .bind(client_key)
    .bind(since)
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| row.try_get("at").map_err(Error::from))
        .collect()
}
