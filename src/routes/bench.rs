//! Only in builds with the `bench-routes` feature (benches/run.sh), never in
//! the product: pages that render the same template as `/profile` from a
//! fixed context, with no cookies and no guards. `/bench/baseline` asks no
//! database: the yardstick for what authentication adds to a page.
//! `/bench/floor` runs one trivial query on the app's pool first: the floor
//! of any design that asks the database on every request, which is
//! wristband's (a signed-out or deactivated wristband is refused on the very
//! next request, on every instance).

use crate::templates::{context, Template};
use rocket::{get, routes, Route};
use rocket_db_pools::Connection;
use sqlx::Row;

use crate::db::Db;
use crate::error::ErrorPage;

/// The profile page as it looks to a signed-in user, minus the work of
/// finding out who that is: the same fields as `Page::render` gives it. The
/// token has the length of a real one so the rendered page has the same size.
#[get("/bench/baseline")]
fn baseline() -> Template {
    profile_page()
}

/// The same page after `SELECT 1` on a connection from the pool.
#[get("/bench/floor")]
async fn floor(mut db: Connection<Db>) -> Result<Template, ErrorPage> {
    let one: i32 = sqlx::query("SELECT 1 AS one")
        .fetch_one(&mut **db)
        .await?
        .try_get("one")?;
    if one != 1 {
        return Err(ErrorPage(wristband::Error::Corrupt(format!(
            "SELECT 1 answered {one}"
        ))));
    }
    Ok(profile_page())
}

fn profile_page() -> Template {
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
    routes![baseline, floor]
}
