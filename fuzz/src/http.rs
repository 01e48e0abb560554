//! The HTTP request-head parser of `pxe-server` (`pxe-server/src/http/request.rs`), compiled
//! here on its own (it uses nothing but `std` and `httparse`), so fuzzing it does not build the
//! whole server.

#[path = "../../pxe-server/src/http/request.rs"]
#[allow(
    dead_code,
    reason = "the server's file, with its own unit tests and docs"
)]
mod request;

use request::{Framing, HeadError, MAX_HEAD, Method, parse};

/// Any bytes as the start of a connection's input: no panic; a complete head is at most
/// `MAX_HEAD` bytes and within the input, parses the same when cut right after it, and no
/// shorter prefix of it is complete; what the server acts on is consistent (a path is empty
/// or starts with `/` and holds no query; framing is one kind). A refusal maps to 400, 414,
/// 431 or 505.
pub fn http_request_head(data: &[u8]) {
    match parse(data) {
        Ok(Some((head, n))) => {
            assert!(
                n <= data.len() && n <= MAX_HEAD,
                "consumed {n} of {}",
                data.len()
            );
            assert_eq!(
                parse(&data[..n]),
                Ok(Some((head.clone(), n))),
                "the head alone parses differently"
            );
            // A prefix is never a whole head (the server would answer a request it did not get).
            for cut in [n / 2, n.saturating_sub(1)] {
                if cut < n {
                    assert!(
                        !matches!(parse(&data[..cut]), Ok(Some(_))),
                        "prefix of {cut} bytes is complete"
                    );
                }
            }
            assert!(
                head.path.is_empty() || head.path.starts_with('/'),
                "{:?}",
                head.path
            );
            assert!(!head.path.contains(['?', '#']), "{:?}", head.path);
            assert!(head.minor_version <= 1);
            if let Method::Other(m) = &head.method {
                assert!(!m.is_empty() && m != "GET" && m != "HEAD");
            }
            if let Framing::Length(len) = head.framing {
                assert!(len > 0);
            }
            // HTTP/1.0 persists only when asked; `close` always wins.
            if head.close {
                assert!(!head.persistent());
            }
        }
        Ok(None) => {
            // Incomplete: the server reads on only while the limits allow it.
            assert!(
                data.len() <= MAX_HEAD,
                "{} bytes still incomplete",
                data.len()
            );
        }
        Err(e) => {
            assert!(matches!(e.status(), 400 | 414 | 431 | 505), "{e}");
            let _ = e.to_string();
            if let HeadError::Malformed(why) = e {
                assert!(!why.is_empty());
            }
        }
    }
}
