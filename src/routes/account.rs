//! Creating an account.

use std::collections::BTreeMap;

use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, FromForm, Route, State};
use rocket_dyn_templates::{context, Template};

use super::{Page, Reply};
use crate::auth::{self, CsrfForm, Hasher};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::Error;
use crate::users::{self, CreateError, Password, Username};

#[derive(FromForm)]
struct RegisterForm {
    username: String,
    password: String,
    password_confirm: String,
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

#[allow(clippy::too_many_arguments)]
#[post("/register", data = "<form>")]
async fn register(
    form: CsrfForm<RegisterForm>,
    page: Page<'_>,
    db: &Db,
    hasher: &State<Hasher>,
    settings: &State<Settings>,
    clock: &State<Clock>,
    jar: &CookieJar<'_>,
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

    let hash = hasher.hash(&password).await?;
    match users::create(db, &username, &hash, clock.now()).await {
        Ok(user) => {
            auth::login_user(jar, &user, false, settings, clock.now());
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

pub fn routes() -> Vec<Route> {
    routes![register_page, register]
}
