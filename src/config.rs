//! Typed application settings, read from Rocket's figment so that
//! `Rocket.toml` profiles and `ROCKET_*` environment variables both work,
//! and every default wristband relies on, kept here in the code so that the
//! binary runs alone, without a `Rocket.toml` beside it.

use rocket::fairing::AdHoc;
use rocket::figment::providers::{Env, Format, Serialized, Toml};
use rocket::figment::{Figment, Profile};
use serde::Deserialize;

/// Rocket's configuration sources, as `rocket::Config::figment()` reads
/// them (`Rocket.toml`, then `ROCKET_*` variables, then `ROCKET_PROFILE`),
/// with wristband's defaults laid between Rocket's own defaults and those
/// sources. Rocket's own defaults are not all safe for this app: it trusts
/// `X-Real-IP` unless told otherwise.
pub fn figment() -> Figment {
    Figment::from(rocket::Config::default())
        .merge(Serialized::defaults(Defaults::default()))
        // The release profile serves: listen on every interface, as
        // `Rocket.toml` has always said.
        .merge(Serialized::default("address", "0.0.0.0").profile(rocket::Config::RELEASE_PROFILE))
        .merge(Toml::file(Env::var_or("ROCKET_CONFIG", "Rocket.toml")).nested())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(Profile::from_env_or(
            "ROCKET_PROFILE",
            rocket::Config::DEFAULT_PROFILE,
        ))
}

/// The defaults of Rocket's and rocket_db_pools' keys that wristband sets
/// differently (its own keys default in [`Settings`]).
#[derive(serde::Serialize)]
struct Defaults {
    /// Off: without a proxy that sets a header, any client could claim any
    /// address and dodge per-address throttling.
    ip_header: bool,
    limits: Limits,
    databases: Databases,
}

#[derive(serde::Serialize)]
struct Limits {
    /// Every form of ours fits in far less; anything larger gets 413.
    form: &'static str,
    json: &'static str,
}

#[derive(serde::Serialize)]
struct Databases {
    wristband: DatabaseDefaults,
}

#[derive(serde::Serialize)]
struct DatabaseDefaults {
    /// A SQLite file in the working directory, created on first run.
    url: &'static str,
    max_connections: usize,
    connect_timeout: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            ip_header: false,
            limits: Limits {
                form: "16 KiB",
                json: "16 KiB",
            },
            databases: Databases {
                wristband: DatabaseDefaults {
                    url: "sqlite://wristband.sqlite",
                    max_connections: 16,
                    connect_timeout: 5,
                },
            },
        }
    }
}

/// One cookie of ours, by its two names: the plain one for plain-HTTP
/// development, and the `__Host-` one used wherever cookies are `Secure`
/// (browsers accept a `__Host-` cookie only when it is `Secure`, has
/// `Path=/` and no `Domain`, so a sibling subdomain cannot plant or shadow
/// it). Both are `'static`: choosing one costs nothing per request.
///
/// ```
/// use wristband::config::{CookieName, Settings};
/// const DEVICE: CookieName = CookieName::new("device", "__Host-device");
/// let settings = Settings::default();
/// assert_eq!(settings.cookie_name(DEVICE), "__Host-device");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieName {
    plain: &'static str,
    prefixed: &'static str,
}

impl CookieName {
    /// `prefixed` must be `plain` with `__Host-` in front; a mismatch stops
    /// the build (in a `const`) or panics at once (elsewhere).
    pub const fn new(plain: &'static str, prefixed: &'static str) -> CookieName {
        const PREFIX: &[u8] = b"__Host-";
        let (p, h) = (plain.as_bytes(), prefixed.as_bytes());
        assert!(
            h.len() == PREFIX.len() + p.len(),
            "prefixed must be __Host- + plain"
        );
        let mut i = 0;
        while i < h.len() {
            let expected = if i < PREFIX.len() {
                PREFIX[i]
            } else {
                p[i - PREFIX.len()]
            };
            assert!(h[i] == expected, "prefixed must be __Host- + plain");
            i += 1;
        }
        CookieName { plain, prefixed }
    }

    /// The name without the prefix, as in `user_id`.
    pub const fn plain(&self) -> &'static str {
        self.plain
    }

    /// The name with the prefix, as in `__Host-user_id`.
    pub const fn prefixed(&self) -> &'static str {
        self.prefixed
    }
}

/// wristband's own configuration keys (Rocket's and the database's are read
/// by Rocket and rocket_db_pools themselves).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Settings {
    /// bcrypt work factor for new hashes (4..=31; at least 10 outside `debug`).
    pub bcrypt_cost: u32,
    /// Lifetime of a "remember me" cookie, in days (1..=3650).
    pub remember_days: u32,
    /// How long a password login counts as fresh, in minutes (at least 1).
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
    /// Whether cookies carry `Secure` (and so `__Host-` names). Unset means
    /// "in every profile but `debug`": deployments terminate TLS at a proxy,
    /// so the request's own scheme says nothing about what the browser used.
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
            session_idle_hours: 24,
            max_failed_logins_per_device: 5,
            device_days: 365,
            max_registrations_per_ip: 10,
            secure_cookies: None,
            history_days: 90,
            password_queue: None,
        }
    }
}

/// The lowest bcrypt cost accepted outside the `debug` profile: below it a
/// stolen hash falls too fast. Tests and `cargo run` may go lower.
pub const MIN_SERVING_BCRYPT_COST: u32 = 10;

/// The longest "remember me" accepted: ten years.
pub const MAX_REMEMBER_DAYS: u32 = 3650;

impl Settings {
    /// Reads and checks the settings; the error is one sentence for the
    /// launch log. Values too large for their type are refused by the
    /// extraction itself, never wrapped or panicked on.
    pub fn from_figment(figment: &Figment) -> Result<Settings, String> {
        let mut settings: Settings = figment
            .extract()
            .map_err(|e| format!("cannot read the settings: {e}"))?;
        let debug = figment.profile() == rocket::Config::DEBUG_PROFILE;
        if !(4..=31).contains(&settings.bcrypt_cost) {
            return Err(format!(
                "bcrypt_cost must be between 4 and 31, not {}",
                settings.bcrypt_cost
            ));
        }
        if !debug && settings.bcrypt_cost < MIN_SERVING_BCRYPT_COST {
            return Err(format!(
                "bcrypt_cost must be at least {MIN_SERVING_BCRYPT_COST} outside the debug profile, not {} (profile {})",
                settings.bcrypt_cost,
                figment.profile()
            ));
        }
        if !(1..=MAX_REMEMBER_DAYS).contains(&settings.remember_days) {
            return Err(format!(
                "remember_days must be between 1 and {MAX_REMEMBER_DAYS}, not {}",
                settings.remember_days
            ));
        }
        if settings.fresh_minutes == 0 {
            return Err("fresh_minutes must be at least 1".into());
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
        if settings.history_days == 0 {
            return Err("history_days must be at least 1".into());
        }
        if settings.history_secs() < settings.throttle_window_secs() {
            return Err(
                "history_days must cover throttle_window_minutes: throttling counts the rows pruning removes".into(),
            );
        }
        if settings.secure_cookies.is_none() {
            settings.secure_cookies = Some(!debug);
        }
        Ok(settings)
    }

    /// Whether cookies must carry the `Secure` attribute.
    pub fn secure(&self) -> bool {
        self.secure_cookies.unwrap_or(true)
    }

    /// The name `cookie` goes by here: `__Host-` prefixed when cookies are
    /// `Secure`, plain otherwise.
    pub fn cookie_name(&self, cookie: CookieName) -> &'static str {
        if self.secure() {
            cookie.prefixed
        } else {
            cookie.plain
        }
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

    pub fn history_secs(&self) -> i64 {
        i64::from(self.history_days) * 86_400
    }
}

/// Managed when the settings were refused at ignite.
pub struct SettingsRefused;

/// Reads [`Settings`] at ignite and puts them in managed state; a bad value
/// stops the launch with one clear line instead of surfacing per request.
pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("wristband settings", |rocket| async move {
        match Settings::from_figment(rocket.figment()) {
            Ok(settings) => Ok(rocket.manage(settings)),
            Err(message) => {
                log::error!("{message}");
                // So that stages needing the settings fail quietly: this
                // line is the reason, and the only one.
                Err(rocket.manage(SettingsRefused))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(profile: &str, pairs: &[(&str, i64)]) -> Result<Settings, String> {
        let mut figment = Figment::new();
        for (key, value) in pairs {
            figment = figment.merge((*key, *value));
        }
        Settings::from_figment(&figment.select(profile))
    }

    /// Every value `Rocket.toml` sets is the code's default for that profile,
    /// so the binary without the file behaves the same.
    #[test]
    fn rocket_toml_only_repeats_the_code_defaults() {
        use rocket::figment::value::{Dict, Value};
        use rocket::figment::Provider;
        use rocket::serde::json::Value as Json;

        fn leaves(prefix: &str, dict: &Dict, out: &mut Vec<(String, Value)>) {
            for (key, value) in dict {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match value {
                    Value::Dict(_, inner) => leaves(&path, inner, out),
                    other => out.push((path, other.clone())),
                }
            }
        }
        let json = |v: &Value| Json::deserialize(v).expect("plain value");

        let file = Toml::file(concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml")).nested();
        let code = Figment::from(rocket::Config::default())
            .merge(Serialized::defaults(Defaults::default()))
            .merge(Serialized::defaults(Settings::default()))
            .merge(
                Serialized::default("address", "0.0.0.0").profile(rocket::Config::RELEASE_PROFILE),
            );
        let mut checked = 0;
        for (profile, dict) in file.data().expect("Rocket.toml parses") {
            let mut values = Vec::new();
            leaves("", &dict, &mut values);
            let code = code.clone().select(profile.clone());
            for (key, value) in values {
                let default = code
                    .find_value(&key)
                    .unwrap_or_else(|_| panic!("[{profile}] {key} has no default in the code"));
                assert_eq!(json(&value), json(&default), "[{profile}] {key}");
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} values checked");
    }

    #[test]
    fn cookies_are_secure_everywhere_but_debug() {
        assert!(!settings("debug", &[]).expect("ok").secure());
        for profile in ["release", "staging", "default"] {
            let s = settings(profile, &[("bcrypt_cost", 12)]).expect("ok");
            assert!(s.secure(), "{profile}");
            assert_eq!(
                s.cookie_name(CookieName::new("user_id", "__Host-user_id")),
                "__Host-user_id"
            );
        }
    }

    #[test]
    fn out_of_range_values_are_refused_with_one_line() {
        for (profile, key, value, says) in [
            ("debug", "bcrypt_cost", 3, "between 4 and 31"),
            ("debug", "bcrypt_cost", 32, "between 4 and 31"),
            ("release", "bcrypt_cost", 9, "at least 10"),
            ("staging", "bcrypt_cost", 4, "at least 10"),
            ("debug", "fresh_minutes", 0, "fresh_minutes"),
            ("debug", "remember_days", 0, "remember_days"),
            ("debug", "remember_days", 3651, "remember_days"),
            ("debug", "bcrypt_cost", 1 << 40, "bcrypt_cost"),
            ("debug", "remember_days", -1, "remember_days"),
        ] {
            let error = settings(profile, &[(key, value)]).expect_err(key);
            assert!(error.contains(says), "{key}={value}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
        assert!(settings("debug", &[("bcrypt_cost", 4)]).is_ok());
        assert!(settings("release", &[("bcrypt_cost", 10)]).is_ok());
        assert!(settings("debug", &[("remember_days", 3650)]).is_ok());
        assert!(settings("debug", &[("fresh_minutes", i64::from(u32::MAX))]).is_ok());
    }
}
