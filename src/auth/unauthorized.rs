//! The one place that answers "you may not see this yet": anonymous
//! visitors go to the login page, stale sessions to `/reauth`, and API
//! clients get JSON 401, never a redirect.

use rocket::http::{Method, Status};
use rocket::request::Request;
use rocket::response::{Flash, Redirect};

use crate::auth::cookie;
use crate::auth::guard::current_user;
use crate::auth::redirect::SafeRedirect;
use crate::config::Settings;
use crate::error::{self, ErrorResponse};

pub const LOGIN_MESSAGE: &str = "Please log in to access this page.";
pub const REAUTH_MESSAGE: &str = "Please reauthenticate to access this page.";

/// Where to come back to after logging in: the page itself for GET, and
/// for a form post the (same-site) page the form was on, since the POST
/// cannot be replayed by a redirect.
pub fn return_target(req: &Request<'_>) -> Option<SafeRedirect> {
    if matches!(req.method(), Method::Get | Method::Head) {
        return SafeRedirect::parse(&req.uri().to_string());
    }
    let referer = url::Url::parse(req.headers().get_one("Referer")?).ok()?;
    // The Host the browser used, as Rocket parsed it (servers) or as sent.
    let host = req
        .host()
        .map(ToString::to_string)
        .or_else(|| req.headers().get_one("Host").map(str::to_string))?;
    let referer_authority = match (referer.host_str(), referer.port()) {
        (Some(h), Some(port)) => format!("{h}:{port}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return None,
    };
    let same_host = referer_authority.eq_ignore_ascii_case(&host);
    if !same_host {
        return None;
    }
    let mut target = referer.path().to_string();
    if let Some(query) = referer.query() {
        target.push('?');
        target.push_str(query);
    }
    SafeRedirect::parse(&target)
}

fn redirect_with_next(page: &str, next: Option<SafeRedirect>) -> Redirect {
    match next {
        Some(next) => Redirect::to(format!("{page}?next={}", next.encoded())),
        None => Redirect::to(page.to_string()),
    }
}

#[rocket::catch(401)]
pub async fn unauthorized(req: &Request<'_>) -> Result<Flash<Redirect>, ErrorResponse> {
    let identity = current_user(req).await;
    // Rocket drops the cookie changes a failed request made before its
    // catcher runs; a wristband that was ended, expired or names a gone or
    // deactivated user must still come off, for pages and the API alike.
    if matches!(identity, Ok(None)) && cookie::session_user_id(req.cookies()).is_some() {
        if let Some(settings) = req.rocket().state::<Settings>() {
            cookie::logout_user(req.cookies(), settings);
        }
    }
    if error::wants_json(req) {
        return Err(ErrorResponse::new(Status::Unauthorized));
    }
    let next = return_target(req);
    let flash = match identity {
        // Signed in, yet refused: the session is not fresh enough.
        Ok(Some(_)) => Flash::warning(redirect_with_next("/reauth", next), REAUTH_MESSAGE),
        _ => Flash::warning(redirect_with_next("/login", next), LOGIN_MESSAGE),
    };
    Ok(flash)
}
