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
}
