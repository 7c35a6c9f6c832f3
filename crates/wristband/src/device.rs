//! Device cookies (OWASP's defence against lockout by strangers): a browser
//! that has logged in as an account before carries a long-lived private
//! cookie naming that account and a random device id. While the account is
//! locked by failures from elsewhere, that browser still gets its own small
//! budget of attempts, charged to the device alone; browsers without the
//! cookie share the username's budget as before.
//!
//! The cookie is only worth something with the password: it is issued after
//! a successful login, bound to that account's id, and a cookie naming
//! another account counts for nothing.

/// 128 random bits as 32 lowercase hex digits: the browser's identity in
/// the audit table (`login_attempts.device`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId(String);

impl DeviceId {
    /// A fresh, unguessable id.
    pub fn random() -> DeviceId {
        DeviceId(crate::hex::random_id())
    }

    /// Exactly 32 lowercase hex digits, or `None`.
    pub fn parse(text: &str) -> Option<DeviceId> {
        crate::hex::is_id(text).then(|| DeviceId(text.to_string()))
    }

    /// The id, in hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the device cookie holds: `<user id>:<device id>`.
///
/// ```
/// use wristband::device::DeviceCookie;
/// let issued = DeviceCookie::issue("7");
/// let read = DeviceCookie::parse(&issued.value()).unwrap();
/// assert_eq!(read, issued);
/// assert_eq!(read.trusted_for(Some("7")), Some(&issued.device));
/// assert_eq!(read.trusted_for(Some("8")), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCookie {
    /// The account it was issued for, as text.
    pub user_id: String,
    /// The browser's id.
    pub device: DeviceId,
}

impl DeviceCookie {
    /// A new device cookie for `user_id`, issued at each successful login
    /// (so a device's failure budget starts afresh only with the password).
    pub fn issue(user_id: &str) -> DeviceCookie {
        DeviceCookie {
            user_id: user_id.to_string(),
            device: DeviceId::random(),
        }
    }

    /// A cookie's value, if it has the shape [`DeviceCookie::value`] gives.
    pub fn parse(value: &str) -> Option<DeviceCookie> {
        // The device id never holds a ':', a user id may.
        let (user_id, device) = value.rsplit_once(':')?;
        (!user_id.is_empty()).then_some(())?;
        Some(DeviceCookie {
            user_id: user_id.to_string(),
            device: DeviceId::parse(device)?,
        })
    }

    /// The cookie's value.
    pub fn value(&self) -> String {
        format!("{}:{}", self.user_id, self.device.0)
    }

    /// The device whose budget an attempt on `account` is charged to: only
    /// when the cookie names that very account. An unknown username, or a
    /// cookie of another account (say, stolen from its owner), gets `None`,
    /// and the attempt shares the username's budget like any stranger's.
    pub fn trusted_for(&self, account: Option<&str>) -> Option<&DeviceId> {
        (account == Some(self.user_id.as_str())).then_some(&self.device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_parse_back() {
        let (a, b) = (DeviceId::random(), DeviceId::random());
        assert_ne!(a, b);
        assert_eq!(DeviceId::parse(a.as_str()), Some(a));
    }

    #[test]
    fn only_well_formed_cookies_parse() {
        let id = "0123456789abcdef0123456789abcdef";
        assert!(DeviceCookie::parse(&format!("12:{id}")).is_some());
        for bad in [
            String::new(),
            id.to_string(),
            format!(":{id}"),
            format!("12:{}", id.to_uppercase()),
            format!("12:{id}0"),
            format!("12:{}", &id[1..]),
            format!("12:{id}:1"),
            format!("12:{id}:"),
        ] {
            assert_eq!(DeviceCookie::parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn a_cookie_trusts_only_its_own_account() {
        let cookie = DeviceCookie::issue("3");
        assert_eq!(cookie.trusted_for(Some("3")), Some(&cookie.device));
        assert_eq!(cookie.trusted_for(Some("4")), None);
        assert_eq!(cookie.trusted_for(None), None);
    }
}
