//! What the request says about the client, for the audit trail and for
//! per-address throttling.

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
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        Outcome::Success(ClientInfo {
            ip: req.client_ip().map(|ip| ip.to_string()),
            user_agent: req
                .headers()
                .get_one("User-Agent")
                .map(crate::user_agent::sanitize),
        })
    }
}
