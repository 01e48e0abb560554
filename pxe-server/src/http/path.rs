//! Request targets to file names: the URI path, percent-decoded (RFC 3986 §2.1), becomes the
//! same byte name a TFTP RRQ carries, so both protocols share one set of name rules and
//! refusals (`tftp::fs`: `..`, control characters, NUL, upload temporaries, confinement).
//!
//! Decoding happens once, before those rules: `%2e%2e/` is `../` and refused like it, and a
//! doubly encoded `%252e` stays the literal name `%2e` (never decoded twice).

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// The file name a request path (`Uri::path`, query already removed) asks for (borrowed when
/// nothing is encoded).
#[must_use]
pub fn request_name(path: &str) -> Cow<'_, [u8]> {
    percent_decode_str(path).into()
}

#[cfg(test)]
mod tests {
    use super::request_name;

    #[test]
    fn decodes_once() {
        assert_eq!(&*request_name("/boot.ipxe"), b"/boot.ipxe");
        assert_eq!(&*request_name("/iso/my%20disk.iso"), b"/iso/my disk.iso");
        assert_eq!(&*request_name("/%2e%2e/etc/passwd"), b"/../etc/passwd");
        assert_eq!(&*request_name("/%2E%2E%2Fetc"), b"/../etc");
        assert_eq!(&*request_name("/a%252e"), b"/a%2e");
        assert_eq!(&*request_name("/a%00b"), b"/a\0b");
        assert_eq!(&*request_name("/100%"), b"/100%");
        assert_eq!(&*request_name("/x%zz"), b"/x%zz");
        assert_eq!(&*request_name("/%ff"), b"/\xff");
    }

    #[test]
    fn decoded_names_meet_the_tftp_rules() {
        use crate::tftp::fs::{Refusal, Root};
        let root = Root::Embedded(vec![("a b.txt".into(), std::sync::Arc::from(&b"x"[..]))]);
        assert!(root.open_read(&request_name("/a%20b.txt")).is_ok());
        for bad in ["/%2e%2e/a%20b.txt", "/..%2fa%20b.txt", "/a%00b", "/a%0ab"] {
            assert!(
                matches!(root.open_read(&request_name(bad)), Err(Refusal::Escape(_))),
                "{bad}"
            );
        }
    }
}
