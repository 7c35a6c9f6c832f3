//! The one place that answers "you may not see this yet": anonymous
//! visitors go to the login page, stale sessions to the reauth page, and
//! API clients get JSON 401, never a redirect.

use rocket::http::{Header, Method};
use rocket::request::Request;
use rocket::response::{Flash, Redirect};
use rocket::serde::json::{json, Json, Value};

use crate::cookie;
use crate::guard::Presence;
use crate::redirect::SafeRedirect;
use crate::settings::Settings;

/// The flash message shown on the login page after a redirect to it.
pub const LOGIN_MESSAGE: &str = "Please log in to access this page.";
/// The flash message shown on the reauth page after a redirect to it.
pub const REAUTH_MESSAGE: &str = "Please reauthenticate to access this page.";

/// Where to come back to after logging in: the page itself for GET, and
/// for a form post the page the form was on, since the POST cannot be
/// replayed by a redirect: the same-site `Referer` when the browser sent
/// one, else the page the form's path belongs to (`form_page`).
pub fn return_target(req: &Request<'_>) -> Option<SafeRedirect> {
    if matches!(req.method(), Method::Get | Method::Head) {
        return SafeRedirect::parse(&req.uri().to_string());
    }
    same_site_referer(req).or_else(|| SafeRedirect::parse(form_page(req.uri().path().as_str())))
}

/// The page a form posting to `path` lives on, by the convention every form
/// here follows: it posts to its page's path or below it
/// (`/settings/password` and `/settings/sessions/end` are forms of
/// `/settings`, `/reauth` of `/reauth`). So it is the path's first segment.
fn form_page(path: &str) -> &str {
    let rest = path.strip_prefix('/').unwrap_or(path);
    match rest.find('/') {
        Some(end) => &path[..end + 1],
        None => path,
    }
}

/// The `Referer`, as a local path, if it names this host.
fn same_site_referer(req: &Request<'_>) -> Option<SafeRedirect> {
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

/// What the 401 catcher answers: JSON for API requests, a redirect with a
/// flash message for pages.
#[derive(rocket::Responder)]
pub enum Unauthorized {
    /// `{"error": "unauthorized"}`, status 401.
    #[response(status = 401)]
    Json(Json<Value>),
    /// The same for a request whose token is wrong, expired or revoked,
    /// with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750).
    #[response(status = 401)]
    InvalidToken(Json<Value>, Header<'static>),
    /// To the login or reauth page, with `?next=`.
    Redirect(Box<Flash<Redirect>>),
}

/// The 401 catcher wristband registers: every guard refusal ends here.
#[rocket::catch(401)]
pub fn unauthorized(req: &Request<'_>) -> Unauthorized {
    let fallback = Settings::default();
    let settings = req.rocket().state::<Settings>().unwrap_or(&fallback);
    let presence = Presence::of(req);
    // Rocket drops the cookie changes a failed request made before its
    // catcher runs; a wristband that was ended, expired or names a gone or
    // deactivated user must still come off, for pages and the API alike.
    if matches!(presence, Presence::Anonymous)
        && cookie::session_user_id(req.cookies(), settings).is_some()
    {
        cookie::logout_user(req.cookies(), settings);
    }
    let body = || Json(json!({ "error": "unauthorized" }));
    if matches!(presence, Presence::Refused) {
        let challenge = Header::new("WWW-Authenticate", r#"Bearer error="invalid_token""#);
        return Unauthorized::InvalidToken(body(), challenge);
    }
    if settings.wants_json(req) {
        return Unauthorized::Json(body());
    }
    let next = return_target(req);
    Unauthorized::Redirect(Box::new(match presence {
        // Signed in, yet refused: the session is not fresh enough.
        Presence::SignedIn => Flash::warning(
            redirect_with_next(&settings.reauth_path, next),
            REAUTH_MESSAGE,
        ),
        _ => Flash::warning(
            redirect_with_next(&settings.login_path, next),
            LOGIN_MESSAGE,
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::form_page;

    #[test]
    fn a_form_belongs_to_its_first_path_segment() {
        assert_eq!(form_page("/settings/password"), "/settings");
        assert_eq!(form_page("/settings/sessions/end"), "/settings");
        assert_eq!(form_page("/reauth"), "/reauth");
        assert_eq!(form_page("/"), "/");
    }
}
