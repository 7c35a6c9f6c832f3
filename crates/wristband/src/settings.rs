//! wristband's settings: read from Rocket's figment (so `Rocket.toml`
//! profiles and `ROCKET_*` variables both work), checked once at ignite,
//! with what the fairing's builder chose (paths, cookie names, the JSON
//! rule) laid on top.

use rocket::figment::Figment;
use rocket::Request;
use serde::Deserialize;

/// One cookie of ours, by its two names: the plain one for plain-HTTP
/// development, and the `__Host-` one used wherever cookies are `Secure`
/// (browsers accept a `__Host-` cookie only when it is `Secure`, has
/// `Path=/` and no `Domain`, so a sibling subdomain cannot plant or shadow
/// it). Both are `'static`: choosing one costs nothing per request.
///
/// ```
/// use wristband::{CookieName, Settings};
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

    /// A name chosen at configuration time (see
    /// [`crate::Wristband::cookie_names`]); its `__Host-` form is made once
    /// and kept for the life of the process. `None` unless `plain` is a
    /// valid cookie name (a non-empty RFC 6265 token).
    pub fn named(plain: &str) -> Option<CookieName> {
        let valid = !plain.is_empty()
            && plain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid {
            return None;
        }
        let plain: &'static str = Box::leak(plain.to_string().into_boxed_str());
        let prefixed: &'static str = Box::leak(format!("__Host-{plain}").into_boxed_str());
        Some(CookieName { plain, prefixed })
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

/// The names of wristband's cookies (each gets `__Host-` in front wherever
/// cookies are `Secure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieNames {
    /// The wristband: holds only the user's id, encrypted.
    pub user: CookieName,
    /// When the password was last typed in this browser.
    pub fresh: CookieName,
    /// The browser's CSRF secret.
    pub csrf: CookieName,
    /// Which account this browser proved the password for (throttling).
    pub device: CookieName,
}

impl Default for CookieNames {
    fn default() -> Self {
        CookieNames {
            user: CookieName::new("user_id", "__Host-user_id"),
            fresh: CookieName::new("fresh", "__Host-fresh"),
            csrf: CookieName::new("csrf", "__Host-csrf"),
            device: CookieName::new("device", "__Host-device"),
        }
    }
}

/// Which requests get JSON answers (a 401 body, never a redirect to the
/// login page). The default: every path under `/api`, and any request whose
/// preferred `Accept` type is JSON.
pub type JsonRule = fn(&Request<'_>) -> bool;

/// The default [`JsonRule`].
pub fn api_or_accepts_json(req: &Request<'_>) -> bool {
    let path = req.uri().path();
    path == "/api"
        || path.starts_with("/api/")
        || req.accept().is_some_and(|a| a.preferred().is_json())
}

fn default_login_path() -> String {
    "/login".into()
}

fn default_reauth_path() -> String {
    "/reauth".into()
}

fn default_json_rule() -> JsonRule {
    api_or_accepts_json
}

/// wristband's configuration. The numeric keys are read from Rocket's
/// figment at their top level (`bcrypt_cost`, `remember_days`, ...); the
/// paths, cookie names and JSON rule come from the fairing's builder.
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
    /// How long an API token lasts when its owner does not say, in days.
    pub token_days: u32,
    /// Whether an API token may be made that never expires.
    pub allow_tokens_without_expiry: bool,
    /// Where anonymous visitors are sent (with `?next=`): `/login` unless
    /// the builder says otherwise.
    #[serde(skip, default = "default_login_path")]
    pub login_path: String,
    /// Where signed-in visitors who are not fresh are sent: `/reauth`.
    #[serde(skip, default = "default_reauth_path")]
    pub reauth_path: String,
    /// The cookies' names.
    #[serde(skip)]
    pub cookies: CookieNames,
    /// Which requests get JSON rather than redirects.
    #[serde(skip, default = "default_json_rule")]
    pub json_when: JsonRule,
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
            token_days: 90,
            allow_tokens_without_expiry: false,
            login_path: default_login_path(),
            reauth_path: default_reauth_path(),
            cookies: CookieNames::default(),
            json_when: api_or_accepts_json,
        }
    }
}

/// The lowest bcrypt cost accepted outside the `debug` profile: below it a
/// stolen hash falls too fast. Tests and `cargo run` may go lower.
pub const MIN_SERVING_BCRYPT_COST: u32 = 10;

/// The longest lifetime an API token may be given: ten years.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// The longest "remember me" accepted: ten years.
pub const MAX_REMEMBER_DAYS: u32 = 3650;

impl Settings {
    /// Reads and checks the settings; the error is one sentence for the
    /// launch log. Values too large for their type are refused by the
    /// extraction itself, never wrapped or panicked on.
    ///
    /// ```
    /// use rocket::figment::Figment;
    /// let figment = Figment::from(("remember_days", 7)).select("debug");
    /// let settings = wristband::Settings::from_figment(&figment).unwrap();
    /// assert_eq!((settings.remember_days, settings.fresh_minutes), (7, 10));
    /// ```
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
        if !(1..=MAX_TOKEN_DAYS).contains(&settings.token_days) {
            return Err(format!(
                "token_days must be between 1 and {MAX_TOKEN_DAYS}, not {}",
                settings.token_days
            ));
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

    /// Whether this request gets JSON answers ([`Settings::json_when`]).
    pub fn wants_json(&self, req: &Request<'_>) -> bool {
        (self.json_when)(req)
    }

    /// `remember_days` in seconds.
    pub fn remember_secs(&self) -> i64 {
        i64::from(self.remember_days) * 86_400
    }

    /// `fresh_minutes` in seconds.
    pub fn fresh_secs(&self) -> i64 {
        i64::from(self.fresh_minutes) * 60
    }

    /// `session_idle_hours` in seconds.
    pub fn session_idle_secs(&self) -> i64 {
        i64::from(self.session_idle_hours) * 3_600
    }

    /// `device_days` in seconds.
    pub fn device_secs(&self) -> i64 {
        i64::from(self.device_days) * 86_400
    }

    /// `throttle_window_minutes` in seconds.
    pub fn throttle_window_secs(&self) -> i64 {
        i64::from(self.throttle_window_minutes) * 60
    }

    /// `history_days` in seconds.
    pub fn history_secs(&self) -> i64 {
        i64::from(self.history_days) * 86_400
    }
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
