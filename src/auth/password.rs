//! bcrypt, kept off the async workers, with equal work whether or not the
//! account exists.

use std::sync::atomic::{AtomicU64, Ordering};

use rocket::tokio::task;

use crate::error::Error;
use crate::users::{Password, PasswordHash};

/// Hashes and verifies passwords at the configured cost. Managed state.
pub struct Hasher {
    cost: u32,
    /// A hash of a password nobody knows, at the configured cost. Unknown
    /// usernames are checked against it so that they take as long as wrong
    /// passwords: response time must not reveal which usernames exist.
    dummy: PasswordHash,
    /// bcrypt verifications run so far: shows that throttled attempts cost
    /// none.
    verifications: AtomicU64,
}

impl Hasher {
    /// Makes a hasher; blocks for one bcrypt hash (the dummy), so call it off
    /// the async workers.
    pub fn new(cost: u32) -> Result<Hasher, Error> {
        let dummy = bcrypt::hash("wristband dummy password", cost)
            .map_err(|e| Error::Hashing(e.to_string()))?;
        Ok(Hasher {
            cost,
            dummy: PasswordHash::new(dummy),
            verifications: AtomicU64::new(0),
        })
    }

    /// How many bcrypt verifications have run.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Hashes a new password on the blocking pool.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        let cost = self.cost;
        let password = password.clone();
        task::spawn_blocking(move || bcrypt::hash(password.expose(), cost))
            .await
            .map_err(|e| Error::Hashing(e.to_string()))?
            .map(PasswordHash::new)
            .map_err(|e| Error::Hashing(e.to_string()))
    }

    /// Checks a typed password against a stored hash, or, when there is no
    /// account (`None`) or the typed text cannot be a password, burns the
    /// same bcrypt work on the dummy hash and answers `false`. Text over 72
    /// bytes is never handed to bcrypt, which would truncate it and accept
    /// anything sharing the first 72 bytes.
    pub async fn verify(&self, typed: &str, stored: Option<&PasswordHash>) -> Result<bool, Error> {
        let (candidate, hash, real) = match (Password::parse(typed), stored) {
            (Ok(password), Some(hash)) => (password.expose().to_string(), hash.clone(), true),
            _ => (
                "not the dummy password".to_string(),
                self.dummy.clone(),
                false,
            ),
        };
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let matched = task::spawn_blocking(move || bcrypt::verify(&candidate, hash.as_str()))
            .await
            .map_err(|e| Error::Hashing(e.to_string()))?
            .map_err(|e| Error::Hashing(e.to_string()))?;
        Ok(real && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rocket::async_test]
    async fn verify_accepts_only_the_right_password() {
        let hasher = Hasher::new(4).expect("hasher");
        let password = Password::parse("correct horse").expect("valid");
        let hash = hasher.hash(&password).await.expect("hash");
        assert!(hasher
            .verify("correct horse", Some(&hash))
            .await
            .expect("verify"));
        assert!(!hasher
            .verify("correct horsE", Some(&hash))
            .await
            .expect("verify"));
        assert!(!hasher.verify("correct horse", None).await.expect("verify"));
    }

    #[rocket::async_test]
    async fn text_past_72_bytes_never_matches() {
        let hasher = Hasher::new(4).expect("hasher");
        let exact = "a".repeat(72);
        let hash = hasher
            .hash(&Password::parse(&exact).expect("valid"))
            .await
            .expect("hash");
        let longer = format!("{exact}and more");
        assert!(!hasher.verify(&longer, Some(&hash)).await.expect("verify"));
    }
}
