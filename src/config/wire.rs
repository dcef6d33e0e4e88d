//! What may go on the wire: HTTP tokens (methods, header names), and values that cannot
//! change a request's framing (no header injection, no request splitting). The planner
//! checks what the config writes; the engine checks what templates and code render.

/// Whether `s` is an HTTP token (RFC 9110 5.6.2): a method or a header name.
pub fn is_token(s: &str) -> bool {
    const DELIMITERS: &[u8] = b"\"(),/:;<=>?@[\\]{}";
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !DELIMITERS.contains(&b))
}

/// The first byte of `value` that would change the request's framing: CR, LF, NUL or
/// another control byte (a tab is fine in a header value); in a path also a space or
/// a tab, which would split the request line.
#[inline]
pub fn unsafe_byte(value: &str, path: bool) -> Option<u8> {
    let bad = |b: u8| (b < 0x20 && (path || b != b'\t')) || b == 0x7f || (path && b == b' ');
    value.bytes().find(|&b| bad(b))
}

/// A byte as a person reads it: "CR", "LF", "NUL", "a space", "byte 0x07".
pub fn byte_name(b: u8) -> String {
    match b {
        b'\r' => "CR".into(),
        b'\n' => "LF".into(),
        0 => "NUL".into(),
        b' ' => "a space".into(),
        b'\t' => "a tab".into(),
        b => format!("byte {b:#04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_bytes_are_found() {
        assert_eq!(unsafe_byte("Bearer abc", false), None);
        assert_eq!(unsafe_byte("a\tb", false), None);
        assert_eq!(unsafe_byte("abc\r\nX-Evil: yes", false), Some(b'\r'));
        assert_eq!(unsafe_byte("abc\nX", false), Some(b'\n'));
        assert_eq!(unsafe_byte("a\0", false), Some(0));
        assert_eq!(unsafe_byte("/a b", true), Some(b' '));
        assert_eq!(unsafe_byte("/a\tb", true), Some(b'\t'));
        assert_eq!(unsafe_byte("/a?b=%20", true), None);
        assert_eq!(unsafe_byte("é\u{7f}", false), Some(0x7f));
    }

    #[test]
    fn tokens() {
        assert!(is_token("GET") && is_token("x-request-id") && is_token("M-SEARCH"));
        for bad in ["", "a b", "a:b", "a\r\nb", "é", "a(b)"] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }
}
