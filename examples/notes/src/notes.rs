//! The home page, and each member's notes as pages and as JSON.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, post, routes, FromForm, Route};
use serde::Serialize;
use sqlx::AnyPool;
use wristband::{CsrfForm, CsrfToken, Error};

use crate::html::{self, Html, Reply};
use crate::{Db, Member, User};

/// The longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// One note, as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Note {
    /// 32 random hex digits.
    pub id: String,
    /// What the member wrote.
    pub body: String,
    /// When, in seconds since the Unix epoch.
    pub created_at: i64,
}

/// A member's notes, newest first.
async fn list(db: &AnyPool, member: &Member) -> Result<Vec<Note>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, body, created_at FROM notes WHERE member_id = $1 \
         ORDER BY created_at DESC, id",
    )
    .bind(member.id.as_str())
    .fetch_all(db)
    .await
}

async fn add(db: &AnyPool, member: &Member, body: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO notes (id, member_id, body, created_at) VALUES ($1, $2, $3, $4)")
        .bind(crate::random_id())
        .bind(member.id.as_str())
        .bind(body)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// Anyone may look: `Option<User>` is `None` for visitors.
#[get("/")]
fn index(user: Option<User>, csrf: CsrfToken) -> Html {
    html::home(user.as_deref(), &csrf)
}

#[get("/notes")]
async fn notes_page(user: User, db: &Db, csrf: CsrfToken) -> Result<Html, Error> {
    let notes = list(db, &user).await?;
    Ok(html::notes(&user, &notes, &csrf, "", None))
}

#[derive(FromForm)]
struct NewNote {
    body: String,
}

/// Adds a note and goes back to the list (so reloading does not post it
/// twice). `User` comes before the form: a visitor is sent to log in, not
/// told about tokens.
#[post("/notes", data = "<form>")]
async fn add_note(
    user: User,
    form: CsrfForm<NewNote>,
    db: &Db,
    csrf: CsrfToken,
    clock: &rocket::State<wristband::Clock>,
) -> Result<Reply, Error> {
    let draft = form.into_inner().body;
    let body = draft.trim();
    let problem = if body.is_empty() {
        Some("Write something first.")
    } else if body.chars().count() > MAX_NOTE_CHARS {
        Some("That note is too long: use at most 2000 characters.")
    } else {
        None
    };
    if let Some(problem) = problem {
        let notes = list(db, &user).await?;
        let page = html::notes(&user, &notes, &csrf, &draft, Some(problem));
        return Ok(Reply::page(Status::UnprocessableEntity, page));
    }
    add(db, &user, body, clock.now()).await?;
    Ok(Reply::SeeOther("/notes".into()))
}

/// The member's notes as JSON. Visitors get wristband's JSON 401, never a
/// redirect: the path is under `/api`.
#[get("/api/notes")]
async fn api_notes(user: User, db: &Db) -> Result<Json<Vec<Note>>, Error> {
    Ok(Json(list(db, &user).await?))
}

pub fn routes() -> Vec<Route> {
    routes![index, notes_page, add_note, api_notes]
}
