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

/// The wristband as an icon, so browsers stop asking for `/favicon.ico`.
#[derive(Responder)]
#[response(content_type = "image/svg+xml")]
struct Icon(&'static str, Header<'static>);

#[get("/static/favicon.svg")]
fn favicon() -> Icon {
    Icon(
        include_str!("../../static/favicon.svg"),
        Header::new("Cache-Control", "public, max-age=86400"),
    )
}

pub fn routes() -> Vec<Route> {
    routes![stylesheet, favicon]
}
