//! User-Agent strings as we keep and show them: cleaned before they are
//! stored, and read back as "Firefox on Linux" rather than the raw header.

/// Stored user agents are kept to this many characters.
pub const MAX_CHARS: usize = 256;

/// The header fit to store and print: control and bidirectional-formatting
/// characters removed (they could rewrite a terminal line in `users history`
/// or reorder text on the settings page), at most [`MAX_CHARS`] characters.
///
/// ```
/// use wristband::user_agent::sanitize;
/// assert_eq!(sanitize("curl/8.5\u{1b}[2J\u{202e}"), "curl/8.5[2J");
/// ```
pub fn sanitize(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .take(MAX_CHARS)
        .collect()
}

/// Unicode's explicit directional formatting characters (UAX #9), plus the
/// invisible marks that steer them.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// A person's name for the browser behind a User-Agent: "Firefox on Linux",
/// "Safari on iPhone", or "Unknown browser" when it names nothing we know.
///
/// Order matters: many browsers name others for compatibility (Edge says
/// "Chrome" and "Safari", Chrome says "Safari"), so the most specific token
/// is looked for first.
///
/// ```
/// use wristband::user_agent::describe;
/// let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
/// assert_eq!(describe(firefox), "Firefox on Linux");
/// ```
pub fn describe(ua: &str) -> String {
    // Chromium's headless mode says "HeadlessChrome/", which "Chrome/" finds.
    const BROWSERS: [(&str, &str); 9] = [
        ("Edg/", "Edge"),
        ("EdgiOS/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ];
    const SYSTEMS: [(&str, &str); 8] = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ];
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(token, _)| ua.contains(token))
            .map(|(_, name)| *name)
    };
    let browser = find(&BROWSERS);
    let system = find(&SYSTEMS);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => "Unknown browser".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_browsers_read_as_people_say_them() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox on Linux",
            ),
            ("curl/8.5.0", "curl"),
            ("", "Unknown browser"),
            ("some-bot", "Unknown browser"),
        ];
        for (ua, expected) in cases {
            assert_eq!(describe(ua), expected, "{ua}");
        }
    }

    #[test]
    fn stored_agents_lose_control_and_bidi_characters() {
        assert_eq!(sanitize("a\u{0}b\r\nc\u{7f}d"), "abcd");
        assert_eq!(sanitize("x\u{202e}y\u{2066}z\u{200f}"), "xyz");
        assert_eq!(sanitize(&"é".repeat(300)).chars().count(), MAX_CHARS);
        assert_eq!(sanitize("Firefox/128.0"), "Firefox/128.0");
    }
}
