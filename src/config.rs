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
    /// A browser-session wristband unused this long is refused, in hours.
    pub session_idle_hours: u32,
    /// Failed logins within the window from one browser holding the
    /// account's device cookie before that device (only) is throttled.
    pub max_failed_logins_per_device: u32,
    /// Lifetime of the device cookie, in days.
    pub device_days: u32,
    /// Accounts one client address may create per hour.
    pub max_registrations_per_ip: u32,
    /// Whether cookies carry `Secure`. Unset means "in the release profile":
    /// deployments terminate TLS at a proxy, so the request's own scheme says
    /// nothing about what the browser used.
    pub secure_cookies: Option<bool>,
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
            session_idle_hours: 24,
            max_failed_logins_per_device: 5,
            device_days: 365,
            max_registrations_per_ip: 10,
            secure_cookies: None,
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
        if settings.max_failed_logins == 0
            || settings.max_failed_logins_per_ip == 0
            || settings.max_failed_logins_per_device == 0
        {
            return Err("max_failed_logins, max_failed_logins_per_ip and \
                 max_failed_logins_per_device must be at least 1"
                .into());
        }
        if settings.max_registrations_per_ip == 0 {
            return Err("max_registrations_per_ip must be at least 1".into());
        }
        if !(1..=3650).contains(&settings.device_days) {
            return Err(format!(
                "device_days must be between 1 and 3650, not {}",
                settings.device_days
            ));
        }
        if settings.throttle_window_minutes == 0 {
            return Err("throttle_window_minutes must be at least 1".into());
        }
        if settings.session_idle_hours == 0 {
            return Err("session_idle_hours must be at least 1".into());
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

    pub fn session_idle_secs(&self) -> i64 {
        i64::from(self.session_idle_hours) * 3_600
    }

    pub fn device_secs(&self) -> i64 {
        i64::from(self.device_days) * 86_400
    }

    pub fn throttle_window_secs(&self) -> i64 {
        i64::from(self.throttle_window_minutes) * 60
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
