//! Logging in and out, and signing up.

use rocket::http::Status;
use rocket::request::FlashMessage;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route};
use sqlx::AnyPool;
use wristband::{
    Authenticator, CsrfForm, CsrfToken, Error, LoginOutcome, Password, SafeRedirect, TokenOnly,
};

use crate::html::{self, Html, Reply};
use crate::member::{self, Members, User};
use crate::Db;

/// The one message for every failed login, wrong password, unknown email
/// or (never here) a deactivated member: it must not tell which emails
/// have accounts.
pub const WRONG: &str = "Wrong email or password.";

// wristband: login and logout (40 lines)
#[derive(FromForm)]
struct Login {
    email: String,
    password: String,
    remember: bool,
    next: Option<String>,
}

#[get("/login?<next>")]
fn login_page(next: Option<&str>, csrf: CsrfToken, flash: Option<FlashMessage<'_>>) -> Html {
    let notice = flash.as_ref().map(FlashMessage::message);
    html::login(&csrf, "", next, notice, None)
}

#[post("/login", data = "<form>")]
async fn login(
    form: CsrfForm<Login>,
    auth: Authenticator<'_, Members>,
    csrf: CsrfToken,
) -> Result<Reply, Error> {
    let (email, next) = (form.email.trim(), form.next.as_deref());
    let outcome = auth.login(email, &form.password, form.remember).await?;
    Ok(match outcome {
        LoginOutcome::LoggedIn(_) => Reply::to(SafeRedirect::or_home(next)),
        LoginOutcome::Invalid | LoginOutcome::Deactivated => {
            let page = html::login(&csrf, email, next, None, Some(WRONG));
            Reply::page(Status::Unauthorized, page)
        }
    })
}

#[post("/logout", data = "<_form>")]
async fn logout(
    _form: CsrfForm<TokenOnly>,
    user: Option<User>,
    auth: Authenticator<'_, Members>,
) -> Result<Redirect, Error> {
    auth.logout(user.as_deref()).await?;
    Ok(Redirect::to("/"))
}
// wristband: end

#[derive(FromForm)]
struct Signup {
    email: String,
    password: String,
}

#[get("/signup")]
fn signup_page(csrf: CsrfToken) -> Html {
    html::signup(&csrf, "", None)
}

/// Creates the member and signs them in; a taken email is a 409.
#[post("/signup", data = "<form>")]
async fn signup(
    form: CsrfForm<Signup>,
    auth: Authenticator<'_, Members>,
    db: &Db,
    csrf: CsrfToken,
) -> Result<Reply, Error> {
    let Signup { email, password } = form.into_inner();
    let email = member::normalize_email(&email);
    let refuse = |status, why| Reply::page(status, html::signup(&csrf, &email, Some(why)));
    if let Err(why) = member::check_email(&email) {
        return Ok(refuse(Status::UnprocessableEntity, why));
    }
    let password = match Password::parse(&password) {
        Ok(password) => password,
        Err(why) => return Ok(refuse(Status::UnprocessableEntity, why)),
    };
    // Both closures only borrow: wristband calls them within this request.
    let (pool, now, typed): (&AnyPool, _, _) = (db, auth.now(), email.as_str());
    let created = auth
        .register(
            &password,
            || async move { Ok(member::email_taken(pool, typed).await?) },
            |hash| async move { Ok(member::create(pool, typed, &hash, now).await?) },
        )
        .await?;
    Ok(match created {
        Some(_) => Reply::SeeOther("/notes".into()),
        None => refuse(
            Status::Conflict,
            "That email already has an account: log in instead.",
        ),
    })
}

pub fn routes() -> Vec<Route> {
    routes![login_page, login, logout, signup_page, signup]
}
