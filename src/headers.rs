//! Response headers every page gets.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header};
use rocket::{Request, Response};

/// A strict Content-Security-Policy (the app loads nothing but its own
/// stylesheet, and has no scripts) and `Cache-Control: no-store` on HTML and
/// JSON, because pages and API answers show who is signed in and must not
/// outlive a logout in a shared cache or the back button.
pub struct SecurityHeaders;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, _req: &'r Request<'_>, res: &mut Response<'r>) {
        match res.content_type() {
            Some(ct) if ct == ContentType::HTML => {
                res.set_header(Header::new("Content-Security-Policy", CSP));
                res.set_header(Header::new("Cache-Control", "no-store"));
            }
            Some(ct) if ct.is_json() => {
                res.set_header(Header::new("Cache-Control", "no-store"));
            }
            _ => {}
        }
    }
}
