//! The page templates, compiled into the binary: a deployment is one file,
//! and no working directory or `template_dir` can make a page go missing.
//! Rendered with Tera, HTML-escaped, as `Template::render(name, context)`.
//! Debug builds run from their checkout (`cargo run`) also pick up edits to
//! `templates/` on the next render.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::SystemTime;

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
pub struct Templates {
    tera: RwLock<tera::Tera>,
    /// Debug builds run from a checkout (`cargo run`) re-read the template
    /// files there when one changes; release builds never look at the disk.
    reload: Option<Reload>,
}

fn parse<C: AsRef<str>>(
    sources: impl IntoIterator<Item = (&'static str, C)>,
) -> Result<tera::Tera, tera::Error> {
    let mut tera = tera::Tera::default();
    // Every template is HTML, and their names carry no extension for
    // Tera to go by, so escaping is on for all of them.
    tera.autoescape_on(vec![""]);
    tera.add_raw_templates(sources)?;
    Ok(tera)
}

impl Templates {
    /// Parses the compiled-in templates.
    pub fn compiled() -> Result<Templates, tera::Error> {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let reload = if cfg!(debug_assertions) {
            Reload::watching(checkout)
        } else {
            None
        };
        Ok(Templates {
            tera: RwLock::new(parse(SOURCES)?),
            reload,
        })
    }

    /// `name` rendered with `context`.
    pub fn render(&self, name: &str, context: &tera::Context) -> Result<String, tera::Error> {
        if let Some(reload) = &self.reload {
            reload.refresh(&self.tera);
        }
        let tera = self.tera.read().unwrap_or_else(PoisonError::into_inner);
        tera.render(name, context)
    }
}

/// The template files of a checkout, and the newest change already loaded.
struct Reload {
    dir: PathBuf,
    loaded: Mutex<SystemTime>,
}

impl Reload {
    /// `None` when `dir` does not hold the templates (a binary run away
    /// from its checkout).
    fn watching(dir: PathBuf) -> Option<Reload> {
        let loaded = newest_change(&dir)?;
        Some(Reload {
            dir,
            loaded: Mutex::new(loaded),
        })
    }

    /// Re-reads every template if a file changed since the last load; a
    /// template that does not parse is logged and the previous ones stay.
    fn refresh(&self, tera: &RwLock<tera::Tera>) {
        let Some(newest) = newest_change(&self.dir) else {
            return;
        };
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if newest <= *loaded {
            return;
        }
        *loaded = newest;
        let read: Result<Vec<(&'static str, String)>, String> = SOURCES
            .iter()
            .map(|(name, _)| {
                std::fs::read_to_string(file(&self.dir, name))
                    .map(|text| (*name, text))
                    .map_err(|e| format!("{name}: {e}"))
            })
            .collect();
        match read.and_then(|sources| parse(sources).map_err(|e| format!("{e:?}"))) {
            Ok(fresh) => {
                *tera.write().unwrap_or_else(PoisonError::into_inner) = fresh;
                log::info!("templates reloaded from {}", self.dir.display());
            }
            Err(e) => log::warn!("templates not reloaded: {e}"),
        }
    }
}

fn file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.html.tera"))
}

/// When the most recently changed template file in `dir` changed; `None`
/// if any is missing.
fn newest_change(dir: &Path) -> Option<SystemTime> {
    SOURCES
        .iter()
        .map(|(name, _)| {
            std::fs::metadata(file(dir, name))
                .and_then(|m| m.modified())
                .ok()
        })
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .max()
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
    use std::time::Duration;

    #[test]
    fn every_template_parses_and_escapes() {
        let templates = Templates::compiled().expect("templates parse");
        let context = tera::Context::from_serialize(context! {
            current: "error",
            status: 400,
            heading: "This request could not be read",
            next_step: context! { href: "/", label: "Home" },
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

    /// Under `cargo run`, an edited template shows on the next render.
    #[test]
    fn edited_template_files_are_reloaded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let checkout = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        for (name, _) in SOURCES {
            std::fs::copy(file(Path::new(checkout), name), file(dir.path(), name)).expect("copy");
        }
        let templates = Templates {
            tera: RwLock::new(parse(SOURCES).expect("parse")),
            reload: Reload::watching(dir.path().to_path_buf()),
        };
        let context = tera::Context::from_serialize(
            context! { current: "error", status: 404, heading: "Page not found", message: "m", next_step: context! { href: "/", label: "Home" } },
        )
        .expect("context");
        assert!(!templates
            .render("error", &context)
            .expect("render")
            .contains("EDITED"));

        let error = file(dir.path(), "error");
        let text = std::fs::read_to_string(&error).expect("read");
        std::fs::write(
            &error,
            text.replace("{{ message }}", "EDITED {{ message }}"),
        )
        .expect("write");
        // File times may be coarse: make the change unmistakably newer.
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&error)
            .and_then(|f| f.set_modified(later))
            .expect("touch");
        assert!(templates
            .render("error", &context)
            .expect("render")
            .contains("EDITED m"));

        // A broken edit keeps the last good templates.
        std::fs::write(&error, "{% if %}").expect("write");
        let later = later + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&error)
            .and_then(|f| f.set_modified(later))
            .expect("touch");
        assert!(templates
            .render("error", &context)
            .expect("render")
            .contains("EDITED m"));
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
