//! CSRF protection for every form: a per-browser secret in a private
//! cookie, and a masked copy of it in each form's `csrf_token` field.

use rocket::data::{Data, FromData, Outcome as DataOutcome, ToByteUnit};
use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, RawStr, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use subtle::ConstantTimeEq;

use crate::cookie;
use crate::settings::Settings;

const SECRET_LEN: usize = 32;

/// The token to put in a form's hidden `csrf_token` field. Each render masks
/// the browser's secret with fresh random bytes, so the page never carries
/// the same bytes twice (BREACH-style compression attacks learn nothing).
#[derive(Debug, Clone)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// The token, for the form field.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One browser's CSRF secret, as kept in its private `csrf` cookie. The
/// guards below read and check it for you; it is public so that the check
/// itself can be measured and reused outside a request.
///
/// ```
/// use wristband::CsrfSecret;
/// let secret = CsrfSecret::random();
/// let token = secret.token();
/// assert!(secret.accepts(token.as_str()));
/// assert!(!CsrfSecret::random().accepts(token.as_str()));
/// ```
pub struct CsrfSecret([u8; SECRET_LEN]);

impl CsrfSecret {
    /// A new secret for a browser that has none.
    pub fn random() -> CsrfSecret {
        CsrfSecret(rand::random())
    }

    /// A freshly masked token for a form.
    pub fn token(&self) -> CsrfToken {
        CsrfToken(mask(&self.0))
    }

    /// Whether a submitted `csrf_token` unmasks to this secret (compared in
    /// constant time).
    pub fn accepts(&self, submitted: &str) -> bool {
        matches(&self.0, submitted)
    }
}

impl std::fmt::Debug for CsrfSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfSecret(<redacted>)")
    }
}

/// This request's secret, read from the cookie or made (and set) once.
fn secret<'a>(req: &'a Request<'_>) -> &'a CsrfSecret {
    req.local_cache(|| {
        let jar = req.cookies();
        // Without wristband's settings (a half-attached app), the safe side.
        let fallback = Settings::default();
        let settings = req.rocket().state::<Settings>().unwrap_or(&fallback);
        if let Some(secret) = jar
            .get_private(settings.cookie_name(settings.cookies.csrf))
            .and_then(|c| crate::hex::decode(c.value()))
        {
            if let Ok(secret) = <[u8; SECRET_LEN]>::try_from(secret) {
                return CsrfSecret(secret);
            }
        }
        let secret = CsrfSecret::random();
        set_secret(jar, settings, &secret);
        secret
    })
}

fn set_secret(jar: &CookieJar<'_>, settings: &Settings, secret: &CsrfSecret) {
    let mut cookie = cookie::cookie(
        settings.cookies.csrf,
        crate::hex::encode(&secret.0),
        settings,
    );
    cookie.set_expires(cookie::BROWSER_SESSION);
    jar.add_private(cookie);
}

/// Gives the browser a new secret, so tokens from before (say, from a page
/// an attacker saw while the browser was anonymous) stop working. Done when
/// who is signed in changes: login, registration and logout, as Django
/// does. The pages the browser loads next carry tokens of the new secret.
///
/// ```no_run
/// # use rocket::http::CookieJar;
/// # use wristband::Settings;
/// # fn signed_in(jar: &CookieJar<'_>, settings: &Settings) {
/// wristband::csrf::rotate(jar, settings);
/// # }
/// ```
pub fn rotate(jar: &CookieJar<'_>, settings: &Settings) {
    set_secret(jar, settings, &CsrfSecret::random());
}

fn mask(secret: &[u8; SECRET_LEN]) -> String {
    let pad: [u8; SECRET_LEN] = rand::random();
    let mut token = Vec::with_capacity(2 * SECRET_LEN);
    token.extend_from_slice(&pad);
    token.extend(pad.iter().zip(secret).map(|(p, s)| p ^ s));
    crate::hex::encode(&token)
}

/// Whether a submitted token unmasks to this browser's secret; compared in
/// constant time.
fn matches(secret: &[u8; SECRET_LEN], submitted: &str) -> bool {
    let Some(token) = crate::hex::decode(submitted) else {
        return false;
    };
    if token.len() != 2 * SECRET_LEN {
        return false;
    }
    let (pad, masked) = token.split_at(SECRET_LEN);
    let unmasked: Vec<u8> = pad.iter().zip(masked).map(|(p, m)| p ^ m).collect();
    unmasked.ct_eq(secret).into()
}

/// A fresh token for this browser's forms (creating its secret if needed).
///
/// ```no_run
/// # use rocket::get;
/// use wristband::CsrfToken;
/// #[get("/form")]
/// fn form(csrf: CsrfToken) -> String {
///     format!(r#"<input type="hidden" name="csrf_token" value="{}">"#, csrf.as_str())
/// }
/// ```
#[rocket::async_trait]
impl<'r> FromRequest<'r> for CsrfToken {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        Outcome::Success(secret(req).token())
    }
}

/// This request's token, for responders (which cannot run guards), such
/// as the error pages' logout button.
pub fn token_for(req: &Request<'_>) -> CsrfToken {
    secret(req).token()
}

/// Whether `jar` already holds a CSRF secret (tests and diagnostics).
pub fn has_secret(jar: &CookieJar<'_>, settings: &Settings) -> bool {
    jar.get_private(settings.cookie_name(settings.cookies.csrf))
        .is_some()
}

/// Whether every field name and value of a URL-encoded body percent-decodes
/// to UTF-8 without NUL. Rocket's form parser decodes lossily (`%FF` would
/// become U+FFFD and be accepted), and PostgreSQL refuses NUL in text, so
/// such input is turned away here, the same way on every backend.
fn fields_are_text(body: &str) -> bool {
    body.split('&').all(|pair| {
        RawStr::new(pair)
            .url_decode()
            .is_ok_and(|text| !text.contains('\0'))
    })
}

/// A form of type `T` whose `csrf_token` field matched this browser's token.
/// The token is checked before the other fields, so a forged POST gets 403
/// however the rest of it looks; then `T` is parsed (422 if it does not fit).
/// A POST with no body type at all carries no token either (403). The body
/// must be `application/x-www-form-urlencoded` (else 415), within the
/// `form` limit (else 413), and UTF-8 with every field percent-decoding to
/// UTF-8 without NUL (else 400).
///
/// ```no_run
/// # use rocket::{post, FromForm};
/// use wristband::CsrfForm;
/// #[derive(FromForm)]
/// struct Comment { text: String }
///
/// #[post("/comment", data = "<form>")]
/// fn comment(form: CsrfForm<Comment>) -> String {
///     form.into_inner().text
/// }
/// ```
#[derive(Debug)]
pub struct CsrfForm<T>(T);

impl<T> CsrfForm<T> {
    /// The form, checked.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for CsrfForm<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A form with nothing but its token, for buttons such as "Log out":
/// `CsrfForm<TokenOnly>`.
#[derive(Debug, FromForm)]
pub struct TokenOnly {
    csrf_token: Option<String>,
}

#[rocket::async_trait]
impl<'r, T> FromData<'r> for CsrfForm<T>
where
    T: for<'a> FromForm<'a> + Send + 'static,
{
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> DataOutcome<'r, Self> {
        match req.content_type() {
            Some(ct) if ct.is_form() => {}
            Some(_) => return Outcome::Error((Status::UnsupportedMediaType, ())),
            // A bare POST (a button posted by a script, `curl -X POST`) is a
            // request without a token, not a wrong kind of form.
            None => {
                log::warn!("{} {}: no form, so no CSRF token", req.method(), req.uri());
                return Outcome::Error((Status::Forbidden, ()));
            }
        }
        let limit = req.limits().get("form").unwrap_or_else(|| 32.kibibytes());
        let body = match data.open(limit).into_string().await {
            Ok(body) if body.is_complete() => body.into_inner(),
            Ok(_) => return Outcome::Error((Status::PayloadTooLarge, ())),
            // Invalid UTF-8 or a broken connection.
            Err(_) => return Outcome::Error((Status::BadRequest, ())),
        };
        if !fields_are_text(&body) {
            log::info!(
                "{} {}: a field is not UTF-8 text or holds NUL",
                req.method(),
                req.uri()
            );
            return Outcome::Error((Status::BadRequest, ()));
        }
        let submitted = Form::<TokenOnly>::parse_encoded(RawStr::new(&body))
            .ok()
            .and_then(|f| f.csrf_token);
        if !submitted.is_some_and(|token| secret(req).accepts(&token)) {
            log::warn!(
                "{} {}: CSRF token missing or wrong",
                req.method(),
                req.uri()
            );
            return Outcome::Error((Status::Forbidden, ()));
        }
        match Form::<T>::parse_encoded(RawStr::new(&body)) {
            Ok(form) => Outcome::Success(CsrfForm(form)),
            Err(errors) => {
                log::info!("{} {}: malformed form: {errors}", req.method(), req.uri());
                Outcome::Error((Status::UnprocessableEntity, ()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_token_matches_only_its_secret() {
        let secret: [u8; SECRET_LEN] = rand::random();
        let other: [u8; SECRET_LEN] = rand::random();
        let token = mask(&secret);
        assert!(matches(&secret, &token));
        assert!(!matches(&other, &token));
        assert_ne!(token, mask(&secret), "each render must differ");
        assert!(!matches(&secret, ""));
        assert!(!matches(&secret, &token[..token.len() - 2]));
        assert!(!matches(&secret, "zz"));
    }

    #[test]
    fn fields_must_decode_to_text_without_nul() {
        assert!(fields_are_text("username=ada&password=caf%C3%A9+x&next="));
        assert!(fields_are_text(""));
        assert!(!fields_are_text("password=%FF%FE%FD"));
        assert!(!fields_are_text("a=1&%FF=2"));
        assert!(!fields_are_text("username=a%00b"));
        assert!(!fields_are_text("username=a\0b"));
    }
}
