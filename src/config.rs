//! Typed application settings, read from Rocket's figment so that
//! `Rocket.toml` profiles and `ROCKET_*` environment variables both work.

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use serde::Deserialize;

/// wristband's own configuration keys (Rocket's and the database's are read
/// by Rocket and rocket_db_pools themselves).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// bcrypt work factor for new hashes (4..=31).
    pub bcrypt_cost: u32,
    /// Lifetime of a "remember me" cookie, in days.
    pub remember_days: u32,
    /// How long a password login counts as fresh, in minutes.
    pub fresh_minutes: u32,
    /// Failed logins for one username within the window before it is throttled.
    pub max_failed_logins: u32,
    /// Failed logins from one client address within the window before it is throttled.
    pub max_failed_logins_per_ip: u32,
    /// Length of the throttling window, in minutes.
    pub throttle_window_minutes: u32,
    /// Whether cookies carry `Secure`. Unset means "in the release profile":
    /// deployments terminate TLS at a proxy, so the request's own scheme says
    /// nothing about what the browser used.
    pub secure_cookies: Option<bool>,
    /// Login history and audit rows older than this many days are pruned.
    pub history_days: u32,
    /// The most password checks that may wait for the password threads
    /// beyond those running; past it logins, registrations and password
    /// confirmations get 503 at once. Unset: as many as the threads finish
    /// in a few seconds at the configured cost (see `auth::password`).
    pub password_queue: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bcrypt_cost: bcrypt::DEFAULT_COST,
            remember_days: 30,
            fresh_minutes: 10,
            max_failed_logins: 5,
            max_failed_logins_per_ip: 50,
            throttle_window_minutes: 15,
            secure_cookies: None,
            history_days: 90,
            password_queue: None,
        }
    }
}

impl Settings {
    /// Reads and checks the settings; the error is a sentence for the launch log.
    pub fn from_figment(figment: &Figment) -> Result<Settings, String> {
        let mut settings: Settings = figment
            .extract()
            .map_err(|e| format!("invalid wristband configuration: {e}"))?;
        if !(4..=31).contains(&settings.bcrypt_cost) {
            return Err(format!(
                "bcrypt_cost must be between 4 and 31, not {}",
                settings.bcrypt_cost
            ));
        }
        if settings.remember_days == 0 {
            return Err("remember_days must be at least 1".into());
        }
        if settings.max_failed_logins == 0 || settings.max_failed_logins_per_ip == 0 {
            return Err("max_failed_logins and max_failed_logins_per_ip must be at least 1".into());
        }
        if settings.throttle_window_minutes == 0 {
            return Err("throttle_window_minutes must be at least 1".into());
        }
        if settings.history_days == 0 {
            return Err("history_days must be at least 1".into());
        }
        if settings.history_secs() < settings.throttle_window_secs() {
            return Err(
                "history_days must cover throttle_window_minutes: throttling counts the rows pruning removes".into(),
            );
        }
        if settings.secure_cookies.is_none() {
            let release = figment.profile() == rocket::Config::RELEASE_PROFILE;
            settings.secure_cookies = Some(release);
        }
        Ok(settings)
    }

    /// Whether cookies must carry the `Secure` attribute.
    pub fn secure(&self) -> bool {
        self.secure_cookies.unwrap_or(true)
    }

    pub fn remember_secs(&self) -> i64 {
        i64::from(self.remember_days) * 86_400
    }

    pub fn fresh_secs(&self) -> i64 {
        i64::from(self.fresh_minutes) * 60
    }

    pub fn throttle_window_secs(&self) -> i64 {
        i64::from(self.throttle_window_minutes) * 60
    }

    pub fn history_secs(&self) -> i64 {
        i64::from(self.history_days) * 86_400
    }
}

/// Reads [`Settings`] at ignite and puts them in managed state; a bad value
/// stops the launch with a clear message instead of surfacing per request.
pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("wristband settings", |rocket| async move {
        match Settings::from_figment(rocket.figment()) {
            Ok(settings) => Ok(rocket.manage(settings)),
            Err(message) => {
                log::error!("{message}");
                Err(rocket)
            }
        }
    })
}
