//! The pages, as plain HTML strings. Everything a person typed goes through
//! [`escape`] on its way in.

use rocket::http::Header;
use rocket::http::Status;
use rocket::request::Request;
use rocket::response::content::RawHtml;
use rocket::response::{self, Redirect, Responder};
use wristband::tokens::Token;
use wristband::{format_utc, CsrfToken, SafeRedirect};

use crate::{Member, Note};

/// A route's answer: on to another page, or a page (often a form shown
/// again, with the status that says why).
pub enum Reply {
    /// 303 See Other, to this local path.
    SeeOther(String),
    /// A page.
    Page(Status, Html),
    /// A page with a secret on it, that no cache may keep.
    Secret(Html),
}

impl Reply {
    /// To a `next` that was checked to stay on this site.
    pub fn to(target: SafeRedirect) -> Reply {
        Reply::SeeOther(target.as_str().to_string())
    }

    /// A page with this status.
    pub fn page(status: Status, page: Html) -> Reply {
        Reply::Page(status, page)
    }
}

impl<'r> Responder<'r, 'static> for Reply {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Reply::SeeOther(path) => Redirect::to(path).respond_to(req),
            Reply::Page(status, page) => (status, page).respond_to(req),
            Reply::Secret(page) => {
                let mut response = page.respond_to(req)?;
                response.set_header(Header::new("Cache-Control", "no-store"));
                Ok(response)
            }
        }
    }
}

/// A page of HTML.
pub type Html = RawHtml<String>;

/// Only a safe `next` is carried on in the login form; anything else is
/// dropped, so the form cannot be made to send anyone off the site.
fn safe_next(next: Option<&str>) -> String {
    next.and_then(SafeRedirect::parse)
        .map(|next| next.as_str().to_string())
        .unwrap_or_default()
}

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The frame every page shares. `body` must already be HTML.
fn layout(title: &str, body: &str) -> Html {
    RawHtml(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Notes</title>
<style>
body {{ font: 1rem/1.5 system-ui, sans-serif; max-width: 36rem; margin: 0 auto; padding: 1rem; }}
input:not([type=checkbox]), textarea {{ width: 100%; box-sizing: border-box; font: inherit; }}
[role=alert] {{ color: #a00; font-weight: bold; }}
</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"#,
        title = escape(title),
    ))
}

fn csrf_field(csrf: &CsrfToken) -> String {
    format!(
        r#"<input type="hidden" name="csrf_token" value="{}">"#,
        escape(csrf.as_str())
    )
}

fn logout_button(csrf: &CsrfToken) -> String {
    format!(
        r#"<form method="post" action="/logout">{}<button type="submit">Log out</button></form>"#,
        csrf_field(csrf)
    )
}

/// An error for the form above it, read out by screen readers at once.
fn alert(message: Option<&str>) -> String {
    message
        .map(|m| format!(r#"<p role="alert">{}</p>"#, escape(m)))
        .unwrap_or_default()
}

/// `/`: who is signed in, if anyone.
pub fn home(member: Option<&Member>, csrf: &CsrfToken) -> Html {
    let body = match member {
        Some(member) => format!(
            r#"<h1>Notes</h1>
<p>Signed in as <strong>{email}</strong>.</p>
<p><a href="/notes">Your notes</a></p>
{logout}"#,
            email = escape(&member.email),
            logout = logout_button(csrf),
        ),
        None => r#"<h1>Notes</h1>
<p>Short notes, kept behind a wristband.</p>
<p><a href="/login">Log in</a> or <a href="/signup">sign up</a>.</p>"#
            .to_string(),
    };
    layout("Home", &body)
}

/// The login form. `notice` is the flash from a redirect here, `error`
/// what went wrong last time.
pub fn login(
    csrf: &CsrfToken,
    email: &str,
    next: Option<&str>,
    notice: Option<&str>,
    error: Option<&str>,
) -> Html {
    let notice = notice
        .map(|n| format!(r#"<p role="status">{}</p>"#, escape(n)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Log in</h1>
{notice}{error}
<form method="post" action="/login">
{csrf}
<input type="hidden" name="next" value="{next}">
<p><label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="{email}"></p>
<p><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><input id="remember" name="remember" type="checkbox" value="on">
<label for="remember">Remember me</label></p>
<p><button type="submit">Log in</button></p>
</form>
<p>No account yet? <a href="/signup">Sign up</a>.</p>"#,
        error = alert(error),
        csrf = csrf_field(csrf),
        next = escape(&safe_next(next)),
        email = escape(email),
    );
    layout("Log in", &body)
}

/// The sign-up form.
pub fn signup(csrf: &CsrfToken, email: &str, error: Option<&str>) -> Html {
    let body = format!(
        r#"<h1>Sign up</h1>
{error}
<form method="post" action="/signup">
{csrf}
<p><label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="{email}"></p>
<p><label for="password">Password (at least 8 characters)</label>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required></p>
<p><button type="submit">Sign up</button></p>
</form>
<p>Have an account? <a href="/login">Log in</a>.</p>"#,
        error = alert(error),
        csrf = csrf_field(csrf),
        email = escape(email),
    );
    layout("Sign up", &body)
}

/// `/notes`: the member's notes, newest first, and a form for one more.
pub fn notes(
    member: &Member,
    notes: &[Note],
    csrf: &CsrfToken,
    draft: &str,
    error: Option<&str>,
) -> Html {
    let list = if notes.is_empty() {
        "<p>No notes yet.</p>".to_string()
    } else {
        let items: String = notes
            .iter()
            .map(|note| {
                format!(
                    "<li><p>{}</p><p><small>{}</small></p></li>\n",
                    escape(&note.body),
                    format_utc(note.created_at)
                )
            })
            .collect();
        format!("<ul>\n{items}</ul>")
    };
    let body = format!(
        r#"<h1>Your notes</h1>
<p>Signed in as <strong>{email}</strong>. <a href="/">Home</a> ·
<a href="/tokens">API tokens</a></p>
{logout}
<h2>Add a note</h2>
{error}
<form method="post" action="/notes">
{csrf}
<p><label for="body">Note</label>
<textarea id="body" name="body" rows="3" maxlength="{max}" required>{draft}</textarea></p>
<p><button type="submit">Add</button></p>
</form>
<h2>Notes</h2>
{list}"#,
        email = escape(&member.email),
        logout = logout_button(csrf),
        error = alert(error),
        csrf = csrf_field(csrf),
        max = crate::notes::MAX_NOTE_CHARS,
        draft = escape(draft),
    );
    layout("Your notes", &body)
}

/// What the token form was sent with, to show again: the typed values and
/// the field that was wrong, with why.
#[derive(Default)]
pub struct TokenForm<'a> {
    /// The name typed.
    pub name: &'a str,
    /// The lifetime typed, in days (empty: the default).
    pub expires_days: &'a str,
    /// The field that was wrong (`name` or `expires_days`) and why.
    pub error: Option<(&'a str, &'a str)>,
}

/// A token just made: its name and its secret, shown this once.
pub struct Created<'a> {
    /// The name it was given.
    pub name: &'a str,
    /// `wb_...`: what goes in `Authorization: Bearer`.
    pub secret: &'a str,
}

/// `aria-invalid` and `aria-describedby` for a form field, when the error
/// is about it.
fn invalid_if(field: &str, form: &TokenForm<'_>) -> &'static str {
    match form.error {
        Some((wrong, _)) if wrong == field => {
            r#" aria-invalid="true" aria-describedby="token-error""#
        }
        _ => "",
    }
}

fn when_or_never(at: Option<i64>) -> String {
    at.map_or_else(|| "never".to_string(), format_utc)
}

/// `/tokens`: the member's API tokens, a form for one more and, right after
/// making one, its secret, once. `default_days` is what an empty lifetime
/// means; `never` whether "never" is allowed.
pub fn tokens(
    member: &Member,
    tokens: &[Token],
    csrf: &CsrfToken,
    created: Option<Created<'_>>,
    form: &TokenForm<'_>,
    (default_days, never): (u32, bool),
) -> Html {
    let created = created
        .map(|created| {
            format!(
                r#"<section aria-labelledby="new-token">
<h2 id="new-token">Your new token</h2>
<p role="status"><strong>Copy it now; it will not be shown again.</strong></p>
<p><label for="secret">Token “{name}”</label>
<input id="secret" type="text" readonly value="{secret}" autocomplete="off" spellcheck="false"></p>
<p>Send it as <code>Authorization: Bearer …</code> to paths under <code>/api/</code>.</p>
</section>
"#,
                name = escape(created.name),
                secret = escape(created.secret),
            )
        })
        .unwrap_or_default();
    let list = if tokens.is_empty() {
        "<p>No tokens yet.</p>".to_string()
    } else {
        let items: String = tokens
            .iter()
            .map(|token| {
                format!(
                    r#"<li><p><strong>{name}</strong><br>
<small>Created {created} · Last used {used} · Expires {expires}</small></p>
<form method="post" action="/tokens/revoke">
{csrf}
<input type="hidden" name="token" value="{id}">
<button type="submit" aria-label="Revoke {name}">Revoke</button>
</form></li>
"#,
                    name = escape(&token.name),
                    created = format_utc(token.created_at),
                    used = when_or_never(token.last_used),
                    expires = when_or_never(token.expires_at),
                    csrf = csrf_field(csrf),
                    id = escape(token.public_id.as_str()),
                )
            })
            .collect();
        format!("<ul>\n{items}</ul>")
    };
    let or_never = if never { r#", or "never""# } else { "" };
    let error = form
        .error
        .map(|(_, message)| {
            format!(
                r#"<p role="alert" id="token-error">{}</p>"#,
                escape(message)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"<h1>API tokens</h1>
<p>Signed in as <strong>{email}</strong>. <a href="/notes">Your notes</a></p>
<p>A token lets a script read your notes from <code>/api/notes</code> without your password.
It works nowhere else, and you can revoke it here at any time.</p>
{created}<h2>Make a token</h2>
{error}
<form method="post" action="/tokens">
{csrf}
<p><label for="name">Name (what it is for)</label>
<input id="name" name="name" type="text" maxlength="{max}" required value="{name}"{name_invalid}></p>
<p><label for="expires_days">Expires after how many days (empty for {default_days}{or_never})</label>
<input id="expires_days" name="expires_days" type="text" inputmode="numeric" value="{days}"{days_invalid}></p>
<p><button type="submit">Make token</button></p>
</form>
<h2>Your tokens</h2>
{list}"#,
        email = escape(&member.email),
        csrf = csrf_field(csrf),
        max = wristband::tokens::NewToken::MAX_NAME_CHARS,
        name = escape(form.name),
        name_invalid = invalid_if("name", form),
        days = escape(form.expires_days),
        days_invalid = invalid_if("expires_days", form),
    );
    layout("API tokens", &body)
}
