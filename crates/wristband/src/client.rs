//! What the request says about the client, for the audit trail and for
//! per-address throttling.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};

/// The client's address and user agent, as far as the request tells.
///
/// The address is Rocket's `client_ip()`: the `ip_header` (when configured)
/// or the peer address. Behind a proxy, set `ip_header` to the header the
/// proxy writes; without one, keep `ip_header = false`, or any client can
/// claim any address and dodge per-address throttling.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The full address, for the audit trail.
    pub ip: Option<String>,
    /// What per-address limits count by.
    pub key: Option<ClientKey>,
    /// The browser's user agent, sanitized for display and logs.
    pub user_agent: Option<String>,
}

/// The unit per-address limits count by: an IPv4 address, or the /64 an
/// IPv6 address belongs to. One IPv6 subscriber is routinely given a whole
/// /64, so counting single IPv6 addresses would hand each attacker 2^64
/// fresh budgets.
///
/// ```
/// use wristband::ClientKey;
/// let a = ClientKey::from_ip("2001:db8:1:2::7".parse().unwrap());
/// let b = ClientKey::from_ip("2001:db8:1:2:ffff::1".parse().unwrap());
/// assert_eq!(a, b);
/// assert_eq!(a.as_str(), "2001:db8:1:2::/64");
/// assert_eq!(ClientKey::parse("2001:db8:1:2::/64"), Some(a));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(String);

impl ClientKey {
    /// The key for an address. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`,
    /// as a dual-stack socket reports IPv4 peers) count as the IPv4 address.
    pub fn from_ip(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(v4) => ClientKey(v4.to_string()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(v4.to_string()),
                None => {
                    let network = u128::from(v6) & !((1u128 << 64) - 1);
                    ClientKey(format!("{}/64", Ipv6Addr::from(network)))
                }
            },
        }
    }

    /// Reads a stored key back: an IPv4 address, or an IPv6 /64 in the form
    /// [`from_ip`](Self::from_ip) writes. Anything else is `None`.
    pub fn parse(text: &str) -> Option<ClientKey> {
        let key = match text.strip_suffix("/64") {
            Some(network) => ClientKey::from_ip(IpAddr::V6(network.parse().ok()?)),
            None => ClientKey::from_ip(IpAddr::V4(text.parse().ok()?)),
        };
        (key.0 == text).then_some(key)
    }

    /// The key, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let ip = req.client_ip();
        Outcome::Success(ClientInfo {
            ip: ip.map(|ip| ip.to_string()),
            key: ip.map(ClientKey::from_ip),
            user_agent: req
                .headers()
                .get_one("User-Agent")
                .map(crate::user_agent::sanitize),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> String {
        ClientKey::from_ip(ip.parse().expect("an address")).0
    }

    #[test]
    fn ipv4_counts_by_the_address() {
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_ne!(key("203.0.113.7"), key("203.0.113.8"));
    }

    #[test]
    fn ipv6_counts_by_the_64() {
        assert_eq!(key("2001:db8:a:b:c:d:e:f"), "2001:db8:a:b::/64");
        assert_eq!(
            key("2001:db8:a:b::1"),
            key("2001:db8:a:b:ffff:ffff:ffff:ffff")
        );
        assert_ne!(key("2001:db8:a:b::1"), key("2001:db8:a:c::1"));
        assert_eq!(key("::1"), "::/64");
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
    }

    #[test]
    fn only_keys_we_write_parse() {
        for good in ["203.0.113.7", "2001:db8:a:b::/64", "::/64"] {
            assert_eq!(ClientKey::parse(good).map(|k| k.0), Some(good.to_string()));
        }
        for bad in [
            "",
            "2001:db8:a:b::1",
            "2001:db8:a:b::1/64",
            "2001:db8::/48",
            "203.0.113.7/64",
            "::ffff:203.0.113.7/64",
            "localhost",
            "2001:DB8:a:b::/64",
        ] {
            assert_eq!(ClientKey::parse(bad), None, "{bad}");
        }
    }
}
