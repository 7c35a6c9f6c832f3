//! HTTP at the edge: each file parses a request, calls `auth` and `users`,
//! and renders. No rules live here.

mod account;
mod api;
mod assets;
#[cfg(feature = "bench-routes")]
mod bench;
mod pages;
mod session;

use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FlashMessage, FromRequest, Request};
use rocket::response::{Flash, Redirect, Responder};
use rocket::Route;
use serde::Serialize;

use crate::auth::{current_user, CsrfToken, StoreUnavailable, Users};
use crate::templates::Template;
use crate::users::Account;

/// Every route of the app.
pub fn routes() -> Vec<Route> {
    let routes = [
        pages::routes(),
        session::routes(),
        account::routes(),
        api::routes(),
        assets::routes(),
    ];
    #[cfg(feature = "bench-routes")]
    let routes = [routes.concat(), bench::routes()];
    routes.concat()
}

/// What every page's layout needs: who is signed in (for the navigation),
/// a CSRF token (for the logout button and the page's forms) and the flash
/// message, if one is waiting.
pub struct Page<'r> {
    user: Option<&'r Account>,
    csrf: CsrfToken,
    flash: Option<FlashMessage<'r>>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Page<'r> {
    type Error = StoreUnavailable;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        let user = match current_user::<Users>(req).await {
            Ok(user) => user.map(|user| user.user()),
            Err(e) => return Outcome::Error((Status::ServiceUnavailable, e)),
        };
        let csrf = match req.guard::<CsrfToken>().await {
            Outcome::Success(csrf) => csrf,
            Outcome::Error((_, never)) => match never {},
            Outcome::Forward(status) => return Outcome::Forward(status),
        };
        let flash = match req.guard::<Option<FlashMessage<'r>>>().await {
            Outcome::Success(flash) => flash,
            _ => None,
        };
        Outcome::Success(Page { user, csrf, flash })
    }
}

#[derive(Serialize)]
struct FlashView<'a> {
    kind: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct View<'a, T> {
    /// The template's name, so the navigation can mark the current page.
    current: &'a str,
    user: Option<&'a Account>,
    csrf_token: &'a str,
    flash: Option<FlashView<'a>>,
    #[serde(flatten)]
    page: T,
}

impl Page<'_> {
    /// Renders `name` with the layout's context plus `page`'s fields.
    pub fn render(&self, name: &'static str, page: impl Serialize) -> Template {
        Template::render(
            name,
            View {
                current: name,
                user: self.user,
                csrf_token: self.csrf.as_str(),
                flash: self.flash.as_ref().map(|f| FlashView {
                    kind: f.kind(),
                    message: f.message(),
                }),
                page,
            },
        )
    }
}

/// What a form handler answers: a redirect when it worked, the form again
/// with the status that says why when it did not.
#[derive(Responder)]
pub enum Reply {
    Redirect(Redirect),
    /// A page that answers the form itself (a new token, shown once).
    Shown(Template),
    Flash(Flash<Redirect>),
    #[response(status = 401)]
    Unauthorized(Template),
    #[response(status = 403)]
    Forbidden(Template),
    #[response(status = 409)]
    Conflict(Template),
    #[response(status = 422)]
    Invalid(Template),
}
