//! Creating, changing and deleting an account.

use std::collections::BTreeMap;

use crate::templates::{context, Template};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, FromForm, Route};
use serde::Serialize;

use super::{Page, Reply};
use crate::attempts::Recorded;
use crate::auth::{Authenticator, CsrfForm, FreshUser, User};
use crate::error::Error;
use crate::users::{CreateError, Password, Username};

#[derive(FromForm)]
struct RegisterForm {
    username: String,
    password: String,
    password_confirm: String,
}

#[derive(FromForm)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: String,
}

#[derive(FromForm)]
struct DeleteForm {
    password: String,
}

/// Problems with a submitted form, by field name, shown next to each field.
type FieldErrors = BTreeMap<&'static str, &'static str>;

#[get("/register")]
fn register_page(page: Page<'_>) -> Template {
    page.render(
        "register",
        context! { username: "", errors: FieldErrors::new() },
    )
}

#[post("/register", data = "<form>")]
async fn register(
    form: CsrfForm<RegisterForm>,
    page: Page<'_>,
    auth: Authenticator<'_>,
) -> Result<Reply, Error> {
    let form = form.into_inner();
    let mut errors = FieldErrors::new();
    let username = Username::parse(&form.username)
        .map_err(|e| errors.insert("username", e))
        .ok();
    let password = Password::parse(&form.password)
        .map_err(|e| errors.insert("password", e))
        .ok();
    if form.password != form.password_confirm {
        errors.insert("password_confirm", "The passwords do not match.");
    }
    let form_again = |errors: &FieldErrors| {
        page.render("register", context! { username: &form.username, errors })
    };
    let (Some(username), Some(password), true) = (username, password, errors.is_empty()) else {
        return Ok(Reply::Invalid(form_again(&errors)));
    };

    match auth.register(&username, &password).await {
        Ok(user) => {
            let welcome = format!("Welcome, {}! Your account is ready.", user.username);
            Ok(Reply::Flash(Flash::success(Redirect::to("/"), welcome)))
        }
        Err(CreateError::Taken) => {
            errors.insert("username", "That username is taken.");
            Ok(Reply::Conflict(form_again(&errors)))
        }
        Err(CreateError::Store(e)) => Err(e),
    }
}

/// One row of the sign-in history, ready to show.
#[derive(Serialize)]
struct ActivityRow {
    when: String,
    what: &'static str,
    ip: String,
    agent: String,
}

impl From<Recorded> for ActivityRow {
    fn from(r: Recorded) -> Self {
        ActivityRow {
            when: crate::clock::format_utc(r.at),
            what: r.outcome_text,
            ip: r.client_ip.unwrap_or_else(|| "unknown".into()),
            agent: r.user_agent.unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// The settings page, with `errors` shown next to the fields of the form
/// that failed.
async fn settings_page(
    page: &Page<'_>,
    auth: &Authenticator<'_>,
    user: &User,
    errors: &FieldErrors,
) -> Result<Template, Error> {
    let (sign_ins, last_failure) = auth.recent_activity(user).await?;
    let sign_ins: Vec<ActivityRow> = sign_ins.into_iter().map(ActivityRow::from).collect();
    let last_failure = last_failure.map(ActivityRow::from);
    Ok(page.render("settings", context! { sign_ins, last_failure, errors }))
}

#[get("/settings")]
async fn settings(user: User, page: Page<'_>, auth: Authenticator<'_>) -> Result<Template, Error> {
    settings_page(&page, &auth, &user, &FieldErrors::new()).await
}

#[post("/settings/password", data = "<form>")]
async fn change_password(
    form: CsrfForm<PasswordForm>,
    user: FreshUser,
    page: Page<'_>,
    auth: Authenticator<'_>,
) -> Result<Reply, Error> {
    let FreshUser(user) = user;
    let form = form.into_inner();
    let mut errors = FieldErrors::new();
    let new = Password::parse(&form.new_password)
        .map_err(|e| errors.insert("new_password", e))
        .ok();
    if form.new_password != form.new_password_confirm {
        errors.insert("new_password_confirm", "The new passwords do not match.");
    }
    let (Some(new), true) = (new, errors.is_empty()) else {
        return Ok(Reply::Invalid(
            settings_page(&page, &auth, &user, &errors).await?,
        ));
    };
    if !auth
        .change_password(&user, &form.current_password, &new)
        .await?
    {
        errors.insert("current_password", "That is not your current password.");
        return Ok(Reply::Unauthorized(
            settings_page(&page, &auth, &user, &errors).await?,
        ));
    }
    Ok(Reply::Flash(Flash::success(
        Redirect::to("/settings"),
        "Your password has been changed.",
    )))
}

#[post("/settings/delete", data = "<form>")]
async fn delete_account(
    form: CsrfForm<DeleteForm>,
    user: FreshUser,
    page: Page<'_>,
    auth: Authenticator<'_>,
) -> Result<Reply, Error> {
    let FreshUser(user) = user;
    if !auth.delete_account(&user, &form.password).await? {
        let errors = FieldErrors::from([("delete_password", "That is not your password.")]);
        return Ok(Reply::Unauthorized(
            settings_page(&page, &auth, &user, &errors).await?,
        ));
    }
    Ok(Reply::Flash(Flash::success(
        Redirect::to("/"),
        "Your account has been deleted.",
    )))
}

pub fn routes() -> Vec<Route> {
    routes![
        register_page,
        register,
        settings,
        change_password,
        delete_account
    ]
}
