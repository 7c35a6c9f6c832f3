use rocket::http::Header;
use rocket::{get, routes, Responder, Route};

/// The stylesheet, compiled into the binary: no external assets, so the app
/// works offline and a deployment is one file plus its templates.
#[derive(Responder)]
#[response(content_type = "text/css")]
struct Stylesheet(&'static str, Header<'static>);

#[get("/static/style.css")]
fn stylesheet() -> Stylesheet {
    Stylesheet(
        include_str!("../../static/style.css"),
        Header::new("Cache-Control", "public, max-age=3600"),
    )
}

pub fn routes() -> Vec<Route> {
    routes![stylesheet]
}
