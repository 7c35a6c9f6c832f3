//! The one decision about where `next` may send a browser.

use rocket::http::uri::Origin;

/// A `next` target that keeps the browser on this site: a local path such as
/// `/profile?tab=1`. It can only be made by [`SafeRedirect::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeRedirect(String);

/// Longer targets are refused; no page of ours needs one.
const MAX_LEN: usize = 2048;

/// How many rounds of percent-decoding are checked. Each layer of encoding
/// could be peeled off by some proxy or framework along the way.
const DECODE_ROUNDS: usize = 3;

impl SafeRedirect {
    /// Accepts `raw` only if every reading of it stays on our host.
    ///
    /// It must start with a single `/` followed by something other than
    /// `/` or `\` (browsers read both `//evil` and `/\evil` as another host),
    /// contain no backslash, whitespace or control character (browsers strip
    /// tabs and newlines, turning `/\t/evil` into `//evil`; CR/LF would split
    /// the header), parse as an origin-form URI, and the same must hold for
    /// each percent-decoded reading of it (`/%2F%2Fevil`).
    ///
    /// ```
    /// use wristband::SafeRedirect;
    /// assert!(SafeRedirect::parse("/profile?tab=1").is_some());
    /// assert!(SafeRedirect::parse("//evil.example").is_none());
    /// assert!(SafeRedirect::parse("/\\evil.example").is_none());
    /// assert!(SafeRedirect::parse("https://evil.example").is_none());
    /// ```
    pub fn parse(raw: &str) -> Option<SafeRedirect> {
        if raw.len() > MAX_LEN || Origin::parse(raw).is_err() {
            return None;
        }
        let mut reading = raw.to_string();
        for _ in 0..=DECODE_ROUNDS {
            if !is_local_path(&reading) {
                return None;
            }
            let decoded = percent_encoding::percent_decode_str(&reading)
                .decode_utf8()
                .ok()?
                .into_owned();
            if decoded == reading {
                return Some(SafeRedirect(raw.to_string()));
            }
            reading = decoded;
        }
        // Still changing after several rounds: nobody needs that.
        None
    }

    /// Parses an optional `next`, falling back to `/`.
    pub fn or_home(raw: Option<&str>) -> SafeRedirect {
        raw.and_then(SafeRedirect::parse)
            .unwrap_or_else(|| SafeRedirect("/".into()))
    }

    /// The path, as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This target percent-encoded for use as a query value, as in
    /// `/login?next=%2Fprofile`.
    pub fn encoded(&self) -> String {
        encode_query_value(&self.0)
    }
}

fn is_local_path(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !s
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
}

/// Encodes everything but RFC 3986's unreserved characters.
pub(crate) fn encode_query_value(value: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

impl From<SafeRedirect> for rocket::response::Redirect {
    fn from(target: SafeRedirect) -> Self {
        rocket::response::Redirect::to(target.as_str().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_kept() {
        for ok in ["/", "/profile", "/settings?tab=password", "/%7Euser"] {
            assert_eq!(
                SafeRedirect::parse(ok).map(|r| r.0),
                Some(ok.to_string()),
                "{ok}"
            );
        }
    }

    #[test]
    fn hostile_targets_fall_back_home() {
        let hostile = [
            "",
            "profile",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "\\/evil.example",
            "https://evil.example",
            "http:evil.example",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,hi",
            "%2F%2Fevil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "/%252F%252Fevil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/profile\r\nSet-Cookie: x=1",
            "/profile%0d%0aSet-Cookie:%20x=1",
            "/ profile",
            "/\u{0}",
            "/caf\u{e9}",
        ];
        for bad in hostile {
            assert_eq!(SafeRedirect::parse(bad), None, "{bad:?}");
            assert_eq!(SafeRedirect::or_home(Some(bad)).as_str(), "/", "{bad:?}");
        }
    }

    #[test]
    fn encoding_covers_reserved_characters() {
        assert_eq!(encode_query_value("/profile"), "%2Fprofile");
        assert_eq!(encode_query_value("/a?b=c&d"), "%2Fa%3Fb%3Dc%26d");
    }
}
