//! API tokens: a page where members make and revoke them. The tokens
//! themselves are wristband's: `/api/notes` takes one in
//! `Authorization: Bearer wb_...` through the same `User` guard as a
//! cookie, and no page ever does.

use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm, Route, State};
use wristband::sessions::PublicId;
use wristband::tokens::NewToken;
use wristband::{Authenticator, CsrfForm, CsrfToken, Error, Settings};

use crate::html::{self, Created, Html, Reply, TokenForm};
use crate::member::{Members, User};

/// What an empty lifetime means here, and whether "never" is allowed.
fn lifetimes(settings: &Settings) -> (u32, bool) {
    (settings.token_days, settings.allow_tokens_without_expiry)
}

#[get("/tokens")]
async fn tokens_page(
    user: User,
    auth: Authenticator<'_, Members>,
    csrf: CsrfToken,
    settings: &State<Settings>,
) -> Result<Html, Error> {
    let tokens = auth.tokens(&user).await?;
    let form = TokenForm::default();
    Ok(html::tokens(
        &user,
        &tokens,
        &csrf,
        None,
        &form,
        lifetimes(settings),
    ))
}

#[derive(FromForm)]
struct MakeToken {
    name: String,
    expires_days: Option<String>,
}

/// Makes a token and shows its secret, this once (200, not a redirect: the
/// secret must not travel in a URL or be kept for a later page). A wrong
/// field is a 422 with the form again.
#[post("/tokens", data = "<form>")]
async fn make_token(
    user: User,
    form: CsrfForm<MakeToken>,
    auth: Authenticator<'_, Members>,
    csrf: CsrfToken,
    settings: &State<Settings>,
) -> Result<Reply, Error> {
    let MakeToken { name, expires_days } = form.into_inner();
    let days = expires_days.as_deref().unwrap_or_default();
    match NewToken::parse(&name, Some(days), settings) {
        Ok(new) => {
            let (secret, _) = auth.create_token(&user, &new).await?;
            let tokens = auth.tokens(&user).await?;
            let created = Created {
                name: new.name(),
                secret: secret.expose(),
            };
            let form = TokenForm::default();
            let page = html::tokens(
                &user,
                &tokens,
                &csrf,
                Some(created),
                &form,
                lifetimes(settings),
            );
            Ok(Reply::Secret(page))
        }
        Err(wrong) => {
            let tokens = auth.tokens(&user).await?;
            let form = TokenForm {
                name: &name,
                expires_days: days,
                error: Some(wrong),
            };
            let page = html::tokens(&user, &tokens, &csrf, None, &form, lifetimes(settings));
            Ok(Reply::page(Status::UnprocessableEntity, page))
        }
    }
}

#[derive(FromForm)]
struct RevokeToken {
    /// The token's public id, never its secret.
    token: String,
}

/// Revokes one of the member's tokens and goes back to the list. An id
/// that is not theirs (or not an id at all) changes nothing.
#[post("/tokens/revoke", data = "<form>")]
async fn revoke_token(
    user: User,
    form: CsrfForm<RevokeToken>,
    auth: Authenticator<'_, Members>,
) -> Result<Redirect, Error> {
    if let Some(token) = PublicId::parse(&form.token) {
        auth.revoke_token(&user, &token).await?;
    }
    Ok(Redirect::to("/tokens"))
}

pub fn routes() -> Vec<Route> {
    routes![tokens_page, make_token, revoke_token]
}
