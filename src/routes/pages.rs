use crate::templates::{context, Template};
use rocket::{get, routes, Route};

use super::Page;
use crate::auth::User;

#[get("/")]
fn index(page: Page<'_>) -> Template {
    page.render("index", context! {})
}

#[get("/profile")]
fn profile(_user: User, page: Page<'_>) -> Template {
    page.render("profile", context! {})
}

pub fn routes() -> Vec<Route> {
    routes![index, profile]
}
