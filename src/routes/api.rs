use rocket::serde::json::Json;
use rocket::{get, routes, Route};
use serde::Serialize;

use crate::auth::User;
use crate::users::Username;

#[derive(Serialize)]
struct Me {
    id: i64,
    username: Username,
}

/// The signed-in user as JSON; anonymous callers get `401 {"error":"unauthorized"}`.
#[get("/api/me")]
fn me(user: User) -> Json<Me> {
    Json(Me {
        id: user.id,
        username: user.username.clone(),
    })
}

pub fn routes() -> Vec<Route> {
    routes![me]
}
