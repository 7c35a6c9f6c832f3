//! Logging in and out, and proving it is still you (`/reauth`).

use crate::templates::{context, Template};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, FromForm, Route};

use super::{Page, Reply};
use crate::auth::{Authenticator, CsrfForm, LoginOutcome, SafeRedirect, TokenOnly, User};
use crate::error::ErrorPage;

/// The one message for every failed login: it must not reveal whether the
/// username exists.
pub const INVALID_CREDENTIALS: &str = "Invalid username or password.";
pub const DEACTIVATED: &str = "This account is deactivated.";
pub const WRONG_PASSWORD: &str = "That password is not right.";

#[derive(FromForm)]
struct LoginForm {
    username: String,
    password: String,
    remember: bool,
    next: Option<String>,
}

#[derive(FromForm)]
struct ReauthForm {
    password: String,
    next: Option<String>,
}

/// The `next` worth carrying in a form's hidden field: only a safe one
/// survives, and the field is always there, empty when there is none.
fn safe_next(next: Option<&str>) -> String {
    next.and_then(SafeRedirect::parse)
        .map(|n| n.as_str().to_string())
        .unwrap_or_default()
}

fn redirect_next(next: Option<&str>) -> Redirect {
    Redirect::to(SafeRedirect::or_home(next).as_str().to_string())
}

#[get("/login?<next>")]
fn login_page(page: Page<'_>, next: Option<&str>) -> Template {
    page.render("login", context! { username: "", next: safe_next(next) })
}

#[post("/login", data = "<form>")]
async fn login(
    form: CsrfForm<LoginForm>,
    page: Page<'_>,
    auth: Authenticator<'_>,
) -> Result<Reply, ErrorPage> {
    let form = form.into_inner();
    let refuse = |message: &str| {
        page.render(
            "login",
            context! {
                username: &form.username,
                remember: form.remember,
                next: safe_next(form.next.as_deref()),
                error: message,
            },
        )
    };
    match auth
        .login(&form.username, &form.password, form.remember)
        .await?
    {
        LoginOutcome::LoggedIn(_) => Ok(Reply::Redirect(redirect_next(form.next.as_deref()))),
        // Only someone who knows the password learns the account is off.
        LoginOutcome::Deactivated => Ok(Reply::Forbidden(refuse(DEACTIVATED))),
        LoginOutcome::Invalid => Ok(Reply::Unauthorized(refuse(INVALID_CREDENTIALS))),
    }
}

#[post("/logout", data = "<_form>")]
async fn logout(
    _form: CsrfForm<TokenOnly>,
    user: Option<User>,
    auth: Authenticator<'_>,
) -> Result<Flash<Redirect>, ErrorPage> {
    auth.logout(user.as_ref().map(|user| user.user())).await?;
    Ok(Flash::success(
        Redirect::to("/"),
        "You have been logged out.",
    ))
}

#[get("/reauth?<next>")]
fn reauth_page(_user: User, page: Page<'_>, next: Option<&str>) -> Template {
    page.render("reauth", context! { next: safe_next(next) })
}

#[post("/reauth", data = "<form>")]
async fn reauth(
    form: CsrfForm<ReauthForm>,
    user: User,
    page: Page<'_>,
    auth: Authenticator<'_>,
) -> Result<Reply, ErrorPage> {
    let form = form.into_inner();
    if auth.reauthenticate(&user, &form.password).await? {
        Ok(Reply::Redirect(redirect_next(form.next.as_deref())))
    } else {
        let next = safe_next(form.next.as_deref());
        Ok(Reply::Unauthorized(page.render(
            "reauth",
            context! { next, error: WRONG_PASSWORD },
        )))
    }
}

pub fn routes() -> Vec<Route> {
    routes![login_page, login, logout, reauth_page, reauth]
}
