//! Only in builds with the `bench-routes` feature (benches/run.sh), never in
//! the product: a page that renders the same template as `/profile` from a
//! fixed context, with no cookies, no guards and no database. It is the
//! yardstick for what authentication adds to a page.

use crate::templates::{context, Template};
use rocket::{get, routes, Route};

/// The profile page as it looks to a signed-in user, minus the work of
/// finding out who that is: the same fields as `Page::render` gives it. The
/// token has the length of a real one so the rendered page has the same size.
#[get("/bench/baseline")]
fn baseline() -> Template {
    Template::render(
        "profile",
        context! {
            user: context! { id: 1_i64, username: "bench-user" },
            csrf_token: "0".repeat(128),
            flash: Option::<()>::None,
            current: "profile",
        },
    )
}

pub fn routes() -> Vec<Route> {
    routes![baseline]
}
