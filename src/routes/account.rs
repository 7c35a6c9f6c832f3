//! Creating, changing and deleting an account.

use std::collections::BTreeMap;

use crate::templates::{context, Template};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, FromForm, Route};
use serde::Serialize;

use super::{Page, Reply};
use crate::auth::{Authenticator, CsrfForm, Ended, FreshUser, TokenOnly, User};
use crate::db::Db;
use crate::error::ErrorPage;
use crate::users::{self, Account, CreateError, Username};
use wristband::attempts::Recorded;
use wristband::sessions::{PublicId, Session};
use wristband::tokens::{NewToken, Token};
use wristband::{format_utc, user_agent, Password};

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

#[derive(FromForm)]
struct EndSessionForm {
    session: String,
}

#[derive(FromForm)]
struct TokenForm {
    name: String,
    expires_days: Option<String>,
}

#[derive(FromForm)]
struct RevokeForm {
    token: String,
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
    db: &Db,
) -> Result<Reply, ErrorPage> {
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

    let now = auth.now();
    let name = &username;
    let taken = || async move { Ok(users::find_credentials(db, name).await?.is_some()) };
    let created = auth
        .register(&password, taken, |hash| async move {
            match users::create(db, name, &hash, now).await {
                Ok(user) => Ok(Some(user)),
                // Taken in the meantime: the unique index decided.
                Err(CreateError::Taken) => Ok(None),
                Err(CreateError::Store(e)) => Err(e),
            }
        })
        .await?;
    match created {
        Some(user) => {
            let welcome = format!("Welcome, {}! Your account is ready.", user.username);
            Ok(Reply::Flash(Flash::success(Redirect::to("/"), welcome)))
        }
        None => {
            errors.insert("username", "That username is taken.");
            Ok(Reply::Conflict(form_again(&errors)))
        }
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
            when: format_utc(r.at),
            what: r.outcome_text,
            ip: r.client_ip.unwrap_or_else(|| "unknown".into()),
            // A person's name for the browser, not the raw header.
            agent: r
                .user_agent
                .as_deref()
                .map_or_else(|| "Unknown browser".into(), user_agent::describe),
        }
    }
}

/// One row of "Where you're signed in", ready to show.
#[derive(Serialize)]
struct SessionRow {
    id: PublicId,
    device: String,
    ip: String,
    started: String,
    last_seen: String,
    remembered: bool,
    this_browser: bool,
}

impl SessionRow {
    fn new(session: Session, this: Option<i64>) -> SessionRow {
        SessionRow {
            this_browser: this == Some(session.id),
            id: session.public_id,
            device: user_agent::describe(&session.user_agent),
            ip: if session.client_ip.is_empty() {
                "unknown".into()
            } else {
                session.client_ip
            },
            started: format_utc(session.created_at),
            last_seen: format_utc(session.last_seen),
            remembered: session.remembered,
        }
    }
}

/// The settings page, with `errors` shown next to the fields of the form
/// that failed.
#[derive(Serialize)]
struct TokenRow {
    id: PublicId,
    name: String,
    created: String,
    last_used: String,
    expires: String,
}

impl From<Token> for TokenRow {
    fn from(t: Token) -> Self {
        TokenRow {
            id: t.public_id,
            name: t.name,
            created: format_utc(t.created_at),
            last_used: t.last_used.map_or_else(|| "never".into(), format_utc),
            expires: t.expires_at.map_or_else(|| "never".into(), format_utc),
        }
    }
}

/// A token just made: its secret is on this one page, and nowhere else.
#[derive(Serialize)]
struct NewTokenView {
    name: String,
    secret: String,
}

/// What the token form shows again: what was typed, or the defaults.
#[derive(Default)]
struct TokenFormView<'a> {
    name: &'a str,
    expires_days: String,
    created: Option<NewTokenView>,
}

async fn settings_page(
    page: &Page<'_>,
    auth: &Authenticator<'_>,
    user: &Account,
    errors: &FieldErrors,
) -> Result<Template, ErrorPage> {
    settings_page_with(page, auth, user, errors, TokenFormView::default()).await
}

async fn settings_page_with(
    page: &Page<'_>,
    auth: &Authenticator<'_>,
    user: &Account,
    errors: &FieldErrors,
    token_form: TokenFormView<'_>,
) -> Result<Template, ErrorPage> {
    let (sign_ins, last_failure) = auth.recent_activity(user).await?;
    let sign_ins: Vec<ActivityRow> = sign_ins.into_iter().map(ActivityRow::from).collect();
    let last_failure = last_failure.map(ActivityRow::from);
    let (live, this) = auth.sessions(user).await?;
    let sessions: Vec<SessionRow> = live
        .into_iter()
        .map(|session| SessionRow::new(session, this))
        .collect();
    let tokens: Vec<TokenRow> = auth
        .tokens(user)
        .await?
        .into_iter()
        .map(TokenRow::from)
        .collect();
    let settings = auth.rules().settings();
    let expires_days = if token_form.expires_days.is_empty() {
        settings.token_days.to_string()
    } else {
        token_form.expires_days
    };
    Ok(page.render(
        "settings",
        context! {
            sign_ins, last_failure, sessions, errors, tokens,
            new_token: token_form.created,
            token_name: token_form.name,
            expires_days,
            tokens_may_never_expire: settings.allow_tokens_without_expiry,
        },
    ))
}

#[get("/settings")]
async fn settings(
    user: User,
    page: Page<'_>,
    auth: Authenticator<'_>,
) -> Result<Template, ErrorPage> {
    settings_page(&page, &auth, &user, &FieldErrors::new()).await
}

#[post("/settings/password", data = "<form>")]
async fn change_password(
    form: CsrfForm<PasswordForm>,
    user: FreshUser,
    page: Page<'_>,
    auth: Authenticator<'_>,
    db: &Db,
) -> Result<Reply, ErrorPage> {
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
    let id = user.id;
    let saved = |hash| async move { users::set_password(db, id, &hash).await };
    if !auth
        .change_password(&user, &form.current_password, &new, saved)
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
    db: &Db,
) -> Result<Reply, ErrorPage> {
    let id = user.id;
    let delete = || async move {
        users::delete(db, id).await?;
        Ok(())
    };
    if !auth.delete_account(&user, &form.password, delete).await? {
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

#[post("/settings/sessions/end", data = "<form>")]
async fn end_session(
    form: CsrfForm<EndSessionForm>,
    user: User,
    auth: Authenticator<'_>,
) -> Result<Flash<Redirect>, ErrorPage> {
    let ended = match PublicId::parse(&form.session) {
        Some(session) => auth.end_session(&user, &session).await?,
        None => Ended::NotFound,
    };
    let message = match ended {
        Ended::Other => "That session has ended: it is signed out.",
        Ended::This => "This browser's session has ended: you are signed out.",
        Ended::NotFound => "That session had already ended.",
    };
    Ok(Flash::success(Redirect::to("/settings"), message))
}

#[post("/settings/sessions/end-others", data = "<_form>")]
async fn end_other_sessions(
    _form: CsrfForm<TokenOnly>,
    user: User,
    auth: Authenticator<'_>,
) -> Result<Flash<Redirect>, ErrorPage> {
    let message = match auth.end_other_sessions(&user).await? {
        0 => "You were not signed in anywhere else.".to_string(),
        1 => "Your other session has ended.".to_string(),
        n => format!("Your {n} other sessions have ended."),
    };
    Ok(Flash::success(Redirect::to("/settings"), message))
}

/// Makes an API token and shows it, once. Needs a fresh login: a token
/// outlives the session that made it.
#[post("/settings/tokens", data = "<form>")]
async fn create_token(
    form: CsrfForm<TokenForm>,
    user: FreshUser,
    page: Page<'_>,
    auth: Authenticator<'_>,
) -> Result<Reply, ErrorPage> {
    let form = form.into_inner();
    let settings = auth.rules().settings();
    let typed = |created| TokenFormView {
        name: &form.name,
        expires_days: form.expires_days.clone().unwrap_or_default(),
        created,
    };
    let new = match NewToken::parse(&form.name, form.expires_days.as_deref(), settings) {
        Ok(new) => new,
        Err((field, message)) => {
            let field = if field == "name" { "token_name" } else { field };
            let errors = FieldErrors::from([(field, message)]);
            let again = settings_page_with(&page, &auth, &user, &errors, typed(None)).await?;
            return Ok(Reply::Invalid(again));
        }
    };
    let (secret, token) = auth.create_token(&user, &new).await?;
    let created = NewTokenView {
        name: token.name,
        secret: secret.expose().to_string(),
    };
    let shown = TokenFormView {
        created: Some(created),
        ..TokenFormView::default()
    };
    let page = settings_page_with(&page, &auth, &user, &FieldErrors::new(), shown).await?;
    Ok(Reply::Shown(page))
}

#[post("/settings/tokens/revoke", data = "<form>")]
async fn revoke_token(
    form: CsrfForm<RevokeForm>,
    user: User,
    auth: Authenticator<'_>,
) -> Result<Flash<Redirect>, ErrorPage> {
    let revoked = match PublicId::parse(&form.token) {
        Some(token) => auth.revoke_token(&user, &token).await?,
        None => false,
    };
    let message = if revoked {
        "The token has been revoked: it no longer works."
    } else {
        "That token had already been revoked."
    };
    Ok(Flash::success(Redirect::to("/settings"), message))
}

pub fn routes() -> Vec<Route> {
    routes![
        create_token,
        revoke_token,
        register_page,
        register,
        settings,
        change_password,
        delete_account,
        end_session,
        end_other_sessions
    ]
}
