//! Logging in and out.

use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, FromForm, Route, State};
use rocket_dyn_templates::{context, Template};

use super::{Page, Reply};
use crate::auth::{self, CsrfForm, Hasher, SafeRedirect, TokenOnly};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::Error;
use crate::users::{self, Username};

/// The one message for every failed login: it must not reveal whether the
/// username exists.
pub const INVALID_CREDENTIALS: &str = "Invalid username or password.";
pub const DEACTIVATED: &str = "This account is deactivated.";

#[derive(FromForm)]
struct LoginForm {
    username: String,
    password: String,
    remember: bool,
    next: Option<String>,
}

/// The `next` worth carrying in the form: only a safe one survives.
fn safe_next(next: Option<&str>) -> Option<String> {
    next.and_then(SafeRedirect::parse)
        .map(|n| n.as_str().to_string())
}

#[get("/login?<next>")]
fn login_page(page: Page<'_>, next: Option<&str>) -> Template {
    page.render("login", context! { username: "", next: safe_next(next) })
}

#[allow(clippy::too_many_arguments)]
#[post("/login", data = "<form>")]
async fn login(
    form: CsrfForm<LoginForm>,
    page: Page<'_>,
    db: &Db,
    hasher: &State<Hasher>,
    settings: &State<Settings>,
    clock: &State<Clock>,
    jar: &CookieJar<'_>,
) -> Result<Reply, Error> {
    let form = form.into_inner();
    let account = match Username::parse(&form.username) {
        Ok(username) => users::find_credentials(db, &username).await?,
        Err(_) => None,
    };
    // Exactly one bcrypt verification whatever happened above.
    let password_ok = hasher
        .verify(&form.password, account.as_ref().map(|a| &a.password_hash))
        .await?;
    let refuse = |message: &str| {
        page.render(
            "login",
            context! { username: &form.username, next: safe_next(form.next.as_deref()), error: message },
        )
    };
    match account {
        Some(account) if password_ok && account.active => {
            auth::login_user(jar, &account.user, form.remember, settings, clock.now());
            let next = SafeRedirect::or_home(form.next.as_deref());
            Ok(Reply::Redirect(Redirect::to(next.as_str().to_string())))
        }
        // Only someone who knows the password learns the account is off.
        Some(_) if password_ok => Ok(Reply::Forbidden(refuse(DEACTIVATED))),
        _ => Ok(Reply::Unauthorized(refuse(INVALID_CREDENTIALS))),
    }
}

#[post("/logout", data = "<_form>")]
fn logout(
    _form: CsrfForm<TokenOnly>,
    jar: &CookieJar<'_>,
    settings: &State<Settings>,
) -> Flash<Redirect> {
    auth::logout_user(jar, settings);
    Flash::success(Redirect::to("/"), "You have been logged out.")
}

pub fn routes() -> Vec<Route> {
    routes![login_page, login, logout]
}
