//! Members: who may sign in, and how wristband finds them.

use sqlx::AnyPool;
use wristband::PasswordHash;

/// A member, as wristband hands it to routes. Only the columns read here
/// matter: the password hash stays in the table, read by wristband alone.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Member {
    /// 32 random hex digits.
    pub id: String,
    /// Lower-case, as wristband lower-cases what is typed at login.
    pub email: String,
}

// wristband: integration, the user type (13 of 15 lines)
impl wristband::AuthUser for Member {
    type Id = String;
    fn id(&self) -> String {
        self.id.clone()
    }
    fn login(&self) -> &str {
        &self.email
    }
}
impl wristband::UserTable for Member {
    const TABLE: &'static str = "members";
    const LOGIN: &'static str = "email";
}
// wristband: end

/// The store wristband loads members from.
pub type Members = wristband::Table<Member>;
/// The signed-in member: a request guard, and it derefs to [`Member`].
pub type User = wristband::CurrentUser<Members>;

/// The longest address SMTP can deliver to (RFC 5321's path limit, less
/// the angle brackets).
pub const MAX_EMAIL_CHARS: usize = 254;

/// The email as stored: trimmed and lower-cased.
pub fn normalize_email(typed: &str) -> String {
    typed.trim().to_lowercase()
}

/// Why this (normalized) email cannot be used, if it cannot.
pub fn check_email(email: &str) -> Result<(), &'static str> {
    let shaped = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if !shaped || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("Enter an email address, like ada@example.com.");
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err("That email is too long: use at most 254 characters.");
    }
    Ok(())
}

/// Whether a member signs in with this (normalized) email already: asked
/// before any password is hashed, so a taken email costs no bcrypt work.
pub async fn email_taken(db: &AnyPool, email: &str) -> Result<bool, sqlx::Error> {
    let found = sqlx::query("SELECT 1 FROM members WHERE email = $1")
        .bind(email)
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

/// Stores a new member, or `None` when the email was taken meanwhile: the
/// unique index decides, so two sign-ups racing for one email cannot both
/// win.
pub async fn create(
    db: &AnyPool,
    email: &str,
    hash: &PasswordHash,
    now: i64,
) -> Result<Option<Member>, sqlx::Error> {
    let id = crate::random_id();
    let inserted = sqlx::query(
        "INSERT INTO members (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(email)
    .bind(hash.as_str())
    .bind(now)
    .execute(db)
    .await?;
    Ok((inserted.rows_affected() == 1).then(|| Member {
        id,
        email: email.to_string(),
    }))
}
