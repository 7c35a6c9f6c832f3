//! The wristband itself: the private `user_id` cookie, the private `fresh`
//! cookie that says when the password was last typed here, and the private
//! `device` cookie that says which account this browser has logged in as.
//! Where cookies are `Secure` their names carry the `__Host-` prefix
//! ([`Settings::cookie_name`]).

use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::time::{Duration, OffsetDateTime};

use crate::device::DeviceCookie;
use crate::sessions::TokenHash;
use crate::settings::{CookieName, Settings};

/// "No expiry": a browser-session cookie. Saying so explicitly keeps Rocket
/// from giving private cookies its default one-week `Expires`.
pub(crate) const BROWSER_SESSION: Option<OffsetDateTime> = None;

/// The attributes every cookie of ours shares, on creation and removal
/// alike: a removal that differs in `Path` or `Secure` is ignored by browsers.
/// `Path=/`, `Secure` and no `Domain` are also what a `__Host-` name needs.
///
/// `SameSite=Lax`, not Rocket's default `Strict`: with `Strict`, following a
/// link to this site from another one arrives logged out. `Lax` still keeps
/// the cookie off cross-site POSTs, and CSRF tokens guard the rest.
///
/// ```
/// use wristband::cookie::cookie;
/// use wristband::{CookieName, Settings};
/// const DEVICE: CookieName = CookieName::new("device", "__Host-device");
/// let c = cookie(DEVICE, "v".into(), &Settings::default());
/// assert_eq!((c.name(), c.secure(), c.path()), ("__Host-device", Some(true), Some("/")));
/// ```
pub fn cookie(name: CookieName, value: String, settings: &Settings) -> Cookie<'static> {
    Cookie::build((settings.cookie_name(name), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure())
        .build()
}

/// Puts the wristband on: the browser is logged in as `user` from the next
/// request on. `remember` makes it outlast the browser session for
/// `remember_days`; otherwise it is a browser-session cookie (no `Expires`).
/// A password login is fresh as of `now`. Only [`crate::band::Band`]
/// calls this: a cookie set any other way is never registered, so never
/// honoured.
pub(crate) fn login_user(
    jar: &CookieJar<'_>,
    user_id: &str,
    remember: bool,
    settings: &Settings,
    now: i64,
) {
    let mut wristband = cookie(settings.cookies.user, user_id.to_string(), settings);
    if remember {
        let lifetime = Duration::seconds(settings.remember_secs());
        wristband.set_max_age(lifetime);
        // Rocket adds a one-week Expires to private cookies that have none;
        // set it to match Max-Age so both say the same thing.
        wristband.set_expires(OffsetDateTime::now_utc() + lifetime);
    } else {
        wristband.set_expires(BROWSER_SESSION);
    }
    jar.add_private(wristband);
    mark_fresh(jar, user_id, settings, now);
}

/// Records that `user` proved their password in this browser at `now`.
pub(crate) fn mark_fresh(jar: &CookieJar<'_>, user_id: &str, settings: &Settings, now: i64) {
    let mut fresh = cookie(settings.cookies.fresh, format!("{user_id}:{now}"), settings);
    fresh.set_expires(BROWSER_SESSION);
    jar.add_private(fresh);
}

/// Takes the wristband off: both cookies are removed with the attributes
/// they were set with.
pub(crate) fn logout_user(jar: &CookieJar<'_>, settings: &Settings) {
    jar.remove_private(cookie(settings.cookies.user, String::new(), settings));
    jar.remove_private(cookie(settings.cookies.fresh, String::new(), settings));
}

/// Leaves a device cookie for `device.user_id` in this browser, lasting
/// `device_days`.
pub fn remember_device(jar: &CookieJar<'_>, device: &DeviceCookie, settings: &Settings) {
    let mut cookie = cookie(settings.cookies.device, device.value(), settings);
    let lifetime = Duration::seconds(settings.device_secs());
    cookie.set_max_age(lifetime);
    cookie.set_expires(OffsetDateTime::now_utc() + lifetime);
    jar.add_private(cookie);
}

/// The device cookie this browser holds, if it decrypts and parses.
pub fn device(jar: &CookieJar<'_>, settings: &Settings) -> Option<DeviceCookie> {
    DeviceCookie::parse(
        jar.get_private(settings.cookie_name(settings.cookies.device))?
            .value(),
    )
}

/// The user id the wristband names, as text, if it decrypts. Tampered,
/// truncated or foreign cookies fail decryption and read as `None`.
pub fn session_user_id(jar: &CookieJar<'_>, settings: &Settings) -> Option<String> {
    let value = jar
        .get_private(settings.cookie_name(settings.cookies.user))?
        .value()
        .to_string();
    (!value.is_empty()).then_some(value)
}

/// The hash of the wristband cookie this request came with, as sent (the
/// ciphertext: what the registry is keyed by), if any.
pub(crate) fn presented_token(jar: &CookieJar<'_>, settings: &Settings) -> Option<TokenHash> {
    jar.get(settings.cookie_name(settings.cookies.user))
        .map(|c| TokenHash::of(c.value()))
}

/// When `user_id` last proved their password in this browser.
pub fn fresh_since(jar: &CookieJar<'_>, settings: &Settings, user_id: &str) -> Option<i64> {
    let cookie = jar.get_private(settings.cookie_name(settings.cookies.fresh))?;
    let (id, at) = cookie.value().rsplit_once(':')?;
    (id == user_id).then(|| at.parse().ok())?
}
