//! Whatever `next` the safe-redirect check accepts, a browser following it
//! stays on our host. Browsers resolve `Location` with the WHATWG URL
//! parser, which the `url` crate implements.

use proptest::prelude::*;
use url::Url;
use wristband::SafeRedirect;

const ORIGIN: &str = "https://app.example:8443/some/page?x=1";

fn stays_home(target: &str) -> bool {
    let base = Url::parse(ORIGIN).expect("base URL");
    match base.join(target) {
        Ok(resolved) => {
            resolved.host_str() == Some("app.example")
                && resolved.port() == Some(8443)
                && resolved.scheme() == "https"
        }
        Err(_) => false,
    }
}

/// Pieces attackers combine: slashes of both kinds, encodings, schemes,
/// whitespace and control characters, hosts.
fn hostile_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_string()),
        Just("\\".to_string()),
        Just("//".to_string()),
        Just("%2F".to_string()),
        Just("%2f".to_string()),
        Just("%5C".to_string()),
        Just("%252F".to_string()),
        Just("%09".to_string()),
        Just("\t".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just(" ".to_string()),
        Just("\u{0}".to_string()),
        Just("@".to_string()),
        Just(":".to_string()),
        Just("?".to_string()),
        Just("#".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("evil.example".to_string()),
        Just("https:".to_string()),
        Just("javascript:".to_string()),
        Just("\u{3002}".to_string()),
        Just("\u{ff0f}".to_string()),
        "[a-z0-9]{1,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn accepted_targets_stay_on_our_host(pieces in prop::collection::vec(hostile_piece(), 1..8)) {
        let target: String = pieces.concat();
        if let Some(safe) = SafeRedirect::parse(&target) {
            prop_assert!(stays_home(safe.as_str()), "{target:?} was accepted but leaves the host");
        }
    }

    #[test]
    fn arbitrary_strings_never_escape(target in any::<String>()) {
        if let Some(safe) = SafeRedirect::parse(&target) {
            prop_assert!(stays_home(safe.as_str()), "{target:?}");
        }
    }

    #[test]
    fn plain_local_paths_are_accepted(path in "(/[a-zA-Z0-9_.~-]{1,12}){1,4}(\\?[a-z]{1,5}=[a-z0-9]{0,5})?") {
        prop_assert!(SafeRedirect::parse(&path).is_some(), "{path:?} should be accepted");
        prop_assert!(stays_home(&path));
    }
}
