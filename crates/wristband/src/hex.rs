//! Lower-case hex, for tokens and hashes that travel in forms and cookies.

/// `bytes` as lower-case hex. A table rather than `write!("{:02x}")`: this
/// runs for every page with a form, and the formatter costs more than the
/// rest of a token's making together.
pub(crate) fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// How many hex digits a [`random_id`] has: 128 random bits.
pub(crate) const ID_DIGITS: usize = 32;

/// 128 random bits as lower-case hex: an id nobody can guess (session public
/// ids, device ids).
pub(crate) fn random_id() -> String {
    encode(&rand::random::<[u8; ID_DIGITS / 2]>())
}

/// Whether `text` has the shape of a [`random_id`]: exactly 32 lower-case
/// hex digits, so anything else never reaches a query.
pub(crate) fn is_id(text: &str) -> bool {
    text.len() == ID_DIGITS && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The bytes `s` spells in hex (either case), if it is hex.
pub(crate) fn decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        assert_eq!(encode(&[0, 1, 254, 255]), "0001feff");
        assert_eq!(
            decode(&encode(&[0, 1, 254, 255])),
            Some(vec![0, 1, 254, 255])
        );
        assert_eq!(decode("abc"), None);
        assert_eq!(decode("é1"), None);
    }

    #[test]
    fn random_ids_have_their_shape() {
        let id = random_id();
        assert!(is_id(&id), "{id}");
        assert_ne!(id, random_id());
        assert!(!is_id(&id.to_uppercase()));
        assert!(!is_id(&id[1..]));
    }
}
