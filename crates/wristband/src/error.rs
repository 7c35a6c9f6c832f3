//! The one error type of wristband's rules and guards, and a plain
//! responder for it (JSON for API requests, a short HTML page otherwise).
//! Apps with their own error pages wrap it and render [`Error::status`],
//! [`Error::message`] and [`Error::retry_after`] their way.

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::serde::json::{json, Json};

use crate::store::StoreError;

/// Everything a rule or guard can fail with after its input parsed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be reached or failed a query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database holds something wristband never writes.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// bcrypt or its worker thread failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The form's `csrf_token` is missing or does not match the browser's.
    #[error("CSRF token missing or wrong")]
    Csrf,
    /// An account action asked for by a request signed in with an API
    /// token: only a browser signed in with its wristband may.
    #[error("account actions need a browser sign-in, not an API token")]
    NotWithToken,
    /// Too many failed logins; try again after this many seconds.
    #[error("login throttled for {retry_after} s")]
    Throttled {
        /// Seconds until an attempt may be made again.
        retry_after: i64,
    },
    /// Too many accounts created from this address; try again after this
    /// many seconds.
    #[error("registration throttled for {retry_after} s")]
    RegistrationThrottled {
        /// Seconds until an account may be created again.
        retry_after: i64,
    },
    /// More password checks are waiting than the password threads can serve
    /// soon; refused before any bcrypt work.
    #[error("password queue full, retry in {retry_after} s")]
    Busy {
        /// Seconds to wait before trying again.
        retry_after: u64,
    },
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(e) => Error::Database(e),
            StoreError::Corrupt(what) => Error::Corrupt(what),
        }
    }
}

impl Error {
    /// The status it answers with.
    pub fn status(&self) -> Status {
        match self {
            Error::Database(_) | Error::Busy { .. } => Status::ServiceUnavailable,
            Error::Corrupt(_) | Error::Hashing(_) => Status::InternalServerError,
            Error::Csrf | Error::NotWithToken => Status::Forbidden,
            Error::Throttled { .. } | Error::RegistrationThrottled { .. } => {
                Status::TooManyRequests
            }
        }
    }

    /// The seconds a client should wait (`Retry-After`), for refusals that
    /// end by themselves.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::Throttled { retry_after } | Error::RegistrationThrottled { retry_after } => {
                Some(u64::try_from(*retry_after).unwrap_or(0).max(1))
            }
            Error::Busy { retry_after } => Some((*retry_after).max(1)),
            _ => None,
        }
    }

    /// The sentence a person should read, with the wait in it where there
    /// is one; `None` for faults, which get the status's plain words.
    pub fn message(&self) -> Option<String> {
        let wait = |sentence: &str, secs: u64| {
            let minutes = secs.div_ceil(60);
            let plural = if minutes == 1 { "" } else { "s" };
            format!("{sentence} {minutes} minute{plural}.")
        };
        match self {
            Error::Throttled { .. } => Some(wait(
                "Too many failed attempts. For your security, try again in",
                self.retry_after()?,
            )),
            Error::RegistrationThrottled { .. } => Some(wait(
                "Too many accounts have been created from your network. Try again in",
                self.retry_after()?,
            )),
            Error::Busy { .. } => Some(
                "Too many sign-ins are being checked right now. Please try again in a few seconds."
                    .into(),
            ),
            Error::NotWithToken => Some(
                "This needs you signed in with your password in a browser, not an API token."
                    .into(),
            ),
            Error::Csrf => Some(
                "This form has expired or did not come from this site. Go back, reload the page and try again."
                    .into(),
            ),
            _ => None,
        }
    }

    /// Logs it as it deserves: faults as errors with their cause, a full
    /// password queue (load, not a fault) as a warning.
    pub fn log(&self, req: &Request<'_>) {
        match self {
            Error::Busy { .. } => log::warn!("{} {}: {self}", req.method(), req.uri()),
            _ if self.status().code >= 500 => {
                log::error!("{} {}: {self}", req.method(), req.uri());
            }
            _ => {}
        }
    }
}

/// The JSON error code for a status: its reason phrase in lower case, as in
/// `{"error": "unauthorized"}`.
pub fn json_code(status: Status) -> String {
    status.reason_lossy().to_ascii_lowercase()
}

/// Minimal HTML escaping for the plain error page.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl<'r> Responder<'r, 'static> for Error {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        self.log(req);
        self.respond_quietly(req)
    }
}

impl Error {
    /// The response, without the log line (for a failure logged already).
    pub(crate) fn respond_quietly(self, req: &Request<'_>) -> response::Result<'static> {
        let status = self.status();
        let json = crate::wants_json(req);
        let mut response = if json {
            Json(json!({ "error": json_code(status) })).respond_to(req)?
        } else {
            let message = self
                .message()
                .unwrap_or_else(|| status.reason_lossy().to_string());
            let page = format!(
                "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <title>{code}</title><main><h1>{code}</h1><p role=\"alert\">{}</p></main></html>",
                escape(&message),
                code = status.code,
            );
            Response::build()
                .header(ContentType::HTML)
                .sized_body(page.len(), std::io::Cursor::new(page))
                .finalize()
        };
        response.set_status(status);
        if let Some(secs) = self.retry_after() {
            response.set_header(Header::new("Retry-After", secs.to_string()));
        }
        Ok(response)
    }
}
