//! The one error type, and the one place that turns errors and error
//! statuses into responses: an HTML page for people, JSON for the API.

use std::borrow::Cow;

use rocket::http::{Header, Method, Status};
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::serde::json::{json, Json};
use rocket::Catcher;
use serde::Serialize;

use crate::auth::{current_user, known_user, SafeRedirect, Users};
use crate::templates::{context, Template};
use wristband::unauthorized::return_target;

pub use wristband::Error;

/// What a route fails with: wristband's error, rendered as this app's
/// error page (or JSON for the API).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ErrorPage(#[from] pub Error);

impl From<sqlx::Error> for ErrorPage {
    fn from(e: sqlx::Error) -> Self {
        ErrorPage(e.into())
    }
}

/// Whether the client asked for JSON: every `/api/...` route, and any
/// request that prefers `application/json`. Those never get redirects or HTML.
pub fn wants_json(req: &Request<'_>) -> bool {
    wristband::wants_json(req)
}

/// The sentence a person sees for an error status.
fn message_for(status: Status) -> &'static str {
    match status.code {
        400 => "The request could not be understood. Check what you sent and try again.",
        401 => "Please log in to access this page.",
        403 => "This form has expired or did not come from this site. Go back, reload the page and try again.",
        404 => "There is no page at this address.",
        409 => "Something changed while you were filling in the form. Go back, reload the page and try again.",
        413 => "That was more data than this form accepts.",
        415 => "This address accepts only HTML form submissions.",
        422 => "The form was incomplete or had values of the wrong kind. Go back and fill it in again.",
        429 => "Too many failed attempts. Wait a little, then try again.",
        503 => "The service is temporarily unavailable. Please try again in a moment.",
        _ => "Something went wrong on our side. Please try again.",
    }
}

/// The error page's heading: plain words, not the HTTP reason phrase.
fn heading_for(status: Status) -> &'static str {
    match status.code {
        400 => "This request could not be read",
        401 => "Please log in",
        403 => "This form has expired",
        404 => "Page not found",
        409 => "Something changed in the meantime",
        413 => "That was too much",
        415 => "This form could not be read",
        422 => "This form was incomplete",
        429 => "Too many attempts",
        503 => "Temporarily unavailable",
        _ => "Something went wrong",
    }
}

/// The one useful step from an error page: a link and its words.
#[derive(Debug, Serialize)]
struct NextStep {
    href: String,
    label: &'static str,
}

/// Back to the form for a refused submission, the login page after too many
/// attempts, home for a missing page.
fn next_step(status: Status, req: &Request<'_>) -> NextStep {
    let is_form_post = !matches!(req.method(), Method::Get | Method::Head);
    // The page the form was on (same-site `Referer` only), or its own page.
    let form_page = || {
        return_target(req)
            .map(|target| target.as_str().to_string())
            .unwrap_or_else(|| form_page_of(req.uri().path().as_str()).to_string())
    };
    match status.code {
        429 => NextStep {
            href: "/login".into(),
            label: "Go to the login page",
        },
        401 => NextStep {
            href: "/login".into(),
            label: "Log in",
        },
        400.. if is_form_post => NextStep {
            href: form_page(),
            label: "Back to the form",
        },
        500.. => NextStep {
            href: SafeRedirect::or_home(Some(&req.uri().to_string()))
                .as_str()
                .to_string(),
            label: "Try again",
        },
        _ => NextStep {
            href: "/".into(),
            label: "Go to the home page",
        },
    }
}

/// The page whose form posts to `path`, when the browser sent no `Referer`.
fn form_page_of(path: &str) -> &'static str {
    match path {
        "/login" => "/login",
        "/register" => "/register",
        "/reauth" => "/reauth",
        p if p == "/settings" || p.starts_with("/settings/") => "/settings",
        _ => "/",
    }
}

/// An error status rendered for whoever asked: JSON for the API, the error
/// page for browsers.
#[derive(Debug, Clone)]
pub struct ErrorResponse {
    status: Status,
    message: Cow<'static, str>,
}

impl ErrorResponse {
    /// The status with its standard sentence.
    pub fn new(status: Status) -> ErrorResponse {
        ErrorResponse {
            status,
            message: Cow::Borrowed(message_for(status)),
        }
    }

    /// The status with a sentence of the caller's.
    pub fn with_message(status: Status, message: impl Into<Cow<'static, str>>) -> ErrorResponse {
        ErrorResponse {
            status,
            message: message.into(),
        }
    }
}

impl<'r> Responder<'r, 'static> for ErrorResponse {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let status = self.status;
        let mut response = if wants_json(req) {
            Json(json!({ "error": wristband::json_code(status) })).respond_to(req)?
        } else {
            // The visitor's own navigation: a refused form must not look
            // like being logged out. Guards or the catcher looked the user up.
            let user = known_user::<Users>(req).map(|user| user.user());
            let csrf = wristband::csrf::token_for(req);
            Template::render(
                "error",
                context! {
                    current: "error",
                    user,
                    csrf_token: csrf.as_str(),
                    status: status.code,
                    heading: heading_for(status),
                    message: self.message,
                    next_step: next_step(status, req),
                },
            )
            .respond_to(req)?
        };
        response.set_status(status);
        Ok(response)
    }
}

impl<'r> Responder<'r, 'static> for ErrorPage {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let ErrorPage(error) = self;
        error.log(req);
        let status = error.status();
        let mut response = match error.message() {
            Some(message) => ErrorResponse::with_message(status, message).respond_to(req)?,
            None => ErrorResponse::new(status).respond_to(req)?,
        };
        if let Some(secs) = error.retry_after() {
            response.set_header(Header::new("Retry-After", secs.to_string()));
        }
        Ok(response)
    }
}

#[rocket::catch(default)]
async fn default_catcher(status: Status, req: &Request<'_>) -> ErrorResponse {
    // Look the visitor up for the page's navigation (JSON has none). When
    // that fails (the 503 of a database outage), the page shows the
    // anonymous navigation.
    if !wants_json(req) {
        let _ = current_user::<Users>(req).await;
    }
    ErrorResponse::new(status)
}

/// Catchers for every error status except 401, which `auth` handles.
pub fn catchers() -> Vec<Catcher> {
    rocket::catchers![default_catcher]
}
