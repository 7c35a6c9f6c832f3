//! The page templates, compiled into the binary: a deployment is one file,
//! and no working directory or `template_dir` can make a page go missing.
//! Rendered with Tera, HTML-escaped, as `Template::render(name, context)`.

use rocket::fairing::AdHoc;
use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder};
use serde::Serialize;

/// The `context!` macro builds a template's context (`context! { user }`).
pub use rocket_dyn_templates::context;

/// Every template, by the name pages render it under.
const SOURCES: [(&str, &str); 8] = [
    ("base", include_str!("../templates/base.html.tera")),
    ("error", include_str!("../templates/error.html.tera")),
    ("index", include_str!("../templates/index.html.tera")),
    ("login", include_str!("../templates/login.html.tera")),
    ("profile", include_str!("../templates/profile.html.tera")),
    ("reauth", include_str!("../templates/reauth.html.tera")),
    ("register", include_str!("../templates/register.html.tera")),
    ("settings", include_str!("../templates/settings.html.tera")),
];

/// The parsed templates, in managed state.
pub struct Templates(tera::Tera);

impl Templates {
    /// Parses the compiled-in templates.
    pub fn compiled() -> Result<Templates, tera::Error> {
        let mut tera = tera::Tera::default();
        // Every template is HTML, and their names carry no extension for
        // Tera to go by, so escaping is on for all of them.
        tera.autoescape_on(vec![""]);
        tera.add_raw_templates(SOURCES)?;
        Ok(Templates(tera))
    }

    /// `name` rendered with `context`.
    pub fn render(&self, name: &str, context: &tera::Context) -> Result<String, tera::Error> {
        self.0.render(name, context)
    }
}

/// A page to render: answers `text/html`, or 500 (logged) if the template
/// fails.
#[derive(Debug)]
pub struct Template {
    name: &'static str,
    context: Result<tera::Context, tera::Error>,
}

impl Template {
    pub fn render(name: &'static str, context: impl Serialize) -> Template {
        Template {
            name,
            context: tera::Context::from_serialize(context),
        }
    }

    /// `name` rendered outside a request (benchmarks, tests).
    pub fn show(
        rocket: &rocket::Rocket<rocket::Orbit>,
        name: &'static str,
        context: impl Serialize,
    ) -> Option<String> {
        let templates = rocket.state::<Templates>()?;
        Template::render(name, context).finish(templates).ok()
    }

    fn finish(self, templates: &Templates) -> Result<String, tera::Error> {
        templates.render(self.name, &self.context?)
    }
}

impl<'r> Responder<'r, 'static> for Template {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let Some(templates) = req.rocket().state::<Templates>() else {
            log::error!("templates::stage() is not attached");
            return Err(Status::InternalServerError);
        };
        let name = self.name;
        match self.finish(templates) {
            Ok(html) => (ContentType::HTML, html).respond_to(req),
            Err(e) => {
                let mut why = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    why.push_str(": ");
                    why.push_str(&cause.to_string());
                    source = cause.source();
                }
                log::error!("template {name} failed: {why}");
                Err(Status::InternalServerError)
            }
        }
    }
}

/// Parses the templates at ignite; a broken one stops the launch.
pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("templates", |rocket| async {
        match Templates::compiled() {
            Ok(templates) => Ok(rocket.manage(templates)),
            Err(e) => {
                log::error!("the compiled-in templates do not parse: {e:?}");
                Err(rocket)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_escapes() {
        let templates = Templates::compiled().expect("templates parse");
        let context = tera::Context::from_serialize(context! {
            current: "error",
            status: 400,
            reason: "Bad Request",
            message: "<script>x</script>",
        })
        .expect("context");
        let html = templates.render("error", &context).expect("renders");
        assert!(
            html.contains("&lt;script&gt;x&lt;&#x2F;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
    }

    /// A template file added to `templates/` must be compiled in too.
    #[test]
    fn every_template_file_is_compiled_in() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        for entry in std::fs::read_dir(dir).expect("templates/") {
            let file = entry.expect("entry").file_name();
            let file = file.to_string_lossy();
            let name = file.strip_suffix(".html.tera").unwrap_or(&file);
            assert!(
                SOURCES.iter().any(|(known, _)| *known == name),
                "templates/{file} is not in SOURCES"
            );
        }
    }
}
