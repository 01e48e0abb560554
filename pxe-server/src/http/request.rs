//! Request heads (request line and header section, RFC 9112 §2–§5), parsed with `httparse`
//! under strict limits, into what the server acts on.
//!
//! This file uses nothing but `std` and `httparse`, so the fuzz crate compiles it on its own
//! (`fuzz/src/http.rs`) without the rest of `pxe-server`.
//!
//! Limits (an attacker controls every byte here; nginx's defaults are of the same size):
//! the request line at most [`MAX_REQUEST_LINE`] bytes (else 414, RFC 9112 §3: "A server that
//! receives a request-target longer than any URI it wishes to parse MUST respond with a 414"),
//! the whole head at most [`MAX_HEAD`] bytes and [`MAX_HEADERS`] fields (else 431, RFC 6585 §5).
//! Anything that does not parse is a 400 (RFC 9112 §2.2: whitespace before a colon, bare
//! line folds, bad tokens); a version other than HTTP/1.0 and 1.1 is a 505.

use std::fmt;

/// Longest request line accepted (method, target, version, CRLF).
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Longest request head accepted: request line, header fields and the empty line.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header fields accepted in one request.
pub const MAX_HEADERS: usize = 64;

/// The request method, as far as a read-only server cares (RFC 9110 §9.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// GET (RFC 9110 §9.3.1).
    Get,
    /// HEAD (RFC 9110 §9.3.2): GET's header section without content.
    Head,
    /// Any other token, as sent (answered 405).
    Other(String),
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Other(m) => m,
        })
    }
}

/// How the request's content is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No content: neither `Content-Length` nor `Transfer-Encoding` (or `Content-Length: 0`).
    None,
    /// `Content-Length: n` with n > 0: the server does not read it and closes after answering.
    Length(u64),
    /// A `Transfer-Encoding` (chunked or another coding): not decoded, answered 501 and
    /// closed (RFC 9112 §6.1).
    Encoded,
}

/// A parsed request head: what the server uses of it, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The path of the target, still percent-encoded, without query or fragment; from an
    /// absolute-form target (RFC 9112 §3.2.2) its path. Empty for a target with no path
    /// (asterisk- or authority-form, RFC 9112 §3.2.3–§3.2.4).
    pub path: String,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// The `Range` field, when exactly one was sent (RFC 9110 §14.2).
    pub range: Option<Vec<u8>>,
    /// The `If-Range` field, when exactly one was sent (RFC 9110 §13.1.5).
    pub if_range: Option<Vec<u8>>,
    /// `Connection: close` was sent (RFC 9112 §9.6).
    pub close: bool,
    /// `Connection: keep-alive` was sent (HTTP/1.0's persistence, RFC 9112 §9.3 and
    /// RFC 7230 Appendix A.1.2).
    pub keep_alive: bool,
    /// The content's framing.
    pub framing: Framing,
}

impl RequestHead {
    /// Whether the client asked for the connection to persist after this response
    /// (RFC 9112 §9.3): HTTP/1.1 unless `close`, HTTP/1.0 only with `keep-alive`.
    #[must_use]
    pub fn persistent(&self) -> bool {
        !self.close && (self.minor_version >= 1 || self.keep_alive)
    }
}

/// Why a request head was refused; each maps to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// Bad syntax or a field the server must reject (400), with the reason.
    Malformed(&'static str),
    /// The request line is longer than [`MAX_REQUEST_LINE`] (414).
    UriTooLong,
    /// The head is longer than [`MAX_HEAD`] or has more than [`MAX_HEADERS`] fields (431).
    TooLarge,
    /// A protocol version other than HTTP/1.0 or HTTP/1.1 (505).
    Version,
}

impl HeadError {
    /// The status code this refusal is answered with.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::Malformed(_) => 400,
            Self::UriTooLong => 414,
            Self::TooLarge => 431,
            Self::Version => 505,
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed request: {why}"),
            Self::UriTooLong => write!(f, "request line over {MAX_REQUEST_LINE} bytes"),
            Self::TooLarge => write!(
                f,
                "request head over {MAX_HEAD} bytes or {MAX_HEADERS} fields"
            ),
            Self::Version => write!(f, "HTTP version not supported"),
        }
    }
}

/// Parses the request head at the start of `buf`.
///
/// `Ok(Some((head, n)))`: a whole head of `n` bytes (what follows is the next request, or
/// content). `Ok(None)`: incomplete, read more. An incomplete head already longer than a limit
/// is an error, so a caller that reads until this returns something other than `Ok(None)` never
/// buffers more than [`MAX_HEAD`] bytes plus one read.
pub fn parse(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return match request_line_end(buf) {
                None if buf.len() > MAX_REQUEST_LINE => Err(HeadError::UriTooLong),
                Some(end) if end > MAX_REQUEST_LINE => Err(HeadError::UriTooLong),
                _ if buf.len() > MAX_HEAD => Err(HeadError::TooLarge),
                _ => Ok(None),
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(httparse::Error::Version) => return Err(HeadError::Version),
        Err(httparse::Error::HeaderName) => return Err(HeadError::Malformed("bad field name")),
        Err(httparse::Error::HeaderValue) => {
            return Err(HeadError::Malformed("bad field value"));
        }
        Err(httparse::Error::Token) => return Err(HeadError::Malformed("bad request line")),
        Err(_) => return Err(HeadError::Malformed("bad line ending")),
    };
    // A whole head may still break the limits: checked on the parsed result too, so the answer
    // does not depend on how the bytes were split into reads.
    match request_line_end(buf) {
        Some(end) if end <= MAX_REQUEST_LINE => {}
        _ => return Err(HeadError::UriTooLong),
    }
    if n > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(HeadError::Malformed("incomplete request line"));
    };
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        other => Method::Other(other.to_owned()),
    };
    if !target.is_ascii() {
        // RFC 3986 §2: a URI is ASCII; other bytes must be percent-encoded.
        return Err(HeadError::Malformed("request target is not ASCII"));
    }
    let mut head = RequestHead {
        method,
        path: target_path(target).to_owned(),
        minor_version,
        range: None,
        if_range: None,
        close: false,
        keep_alive: false,
        framing: Framing::None,
    };
    let (mut hosts, mut ranges, mut if_ranges) = (0usize, 0usize, 0usize);
    let mut length: Option<u64> = None;
    let mut encoded = false;
    for f in req.headers.iter() {
        let name = f.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("range") {
            ranges += 1;
            head.range = Some(f.value.to_vec());
        } else if name.eq_ignore_ascii_case("if-range") {
            if_ranges += 1;
            head.if_range = Some(f.value.to_vec());
        } else if name.eq_ignore_ascii_case("connection") {
            for option in f.value.split(|&b| b == b',') {
                let option = option.trim_ascii();
                head.close |= option.eq_ignore_ascii_case(b"close");
                head.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            encoded = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            // RFC 9112 §6.3 item 5: a list of identical values may be taken as one; anything
            // else is unrecoverable framing.
            for v in f.value.split(|&b| b == b',') {
                let v = content_length(v.trim_ascii())
                    .ok_or(HeadError::Malformed("bad Content-Length"))?;
                if length.is_some_and(|l| l != v) {
                    return Err(HeadError::Malformed("conflicting Content-Length"));
                }
                length = Some(v);
            }
        }
    }
    // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
    // HTTP/1.1 request message that lacks a Host header field and to any request message that
    // contains more than one Host header field line".
    if hosts > 1 || (hosts == 0 && minor_version >= 1) {
        return Err(HeadError::Malformed("missing or repeated Host"));
    }
    // RFC 9112 §6.3 item 3: both framings at once may be request smuggling; refused.
    if encoded && length.is_some() {
        return Err(HeadError::Malformed(
            "both Transfer-Encoding and Content-Length",
        ));
    }
    // A field sent twice is not one range or one validator: ignored (RFC 9110 §14.2 lets a
    // server ignore Range).
    if ranges > 1 {
        head.range = None;
    }
    if if_ranges > 1 {
        head.if_range = None;
        head.range = None;
    }
    head.framing = match (encoded, length) {
        (true, _) => Framing::Encoded,
        (false, Some(n)) if n > 0 => Framing::Length(n),
        _ => Framing::None,
    };
    Ok(Some((head, n)))
}

/// Where the request line ends (the index after its LF), if it does in `buf`. Empty lines
/// before it are skipped as httparse does (RFC 9112 §2.2).
fn request_line_end(buf: &[u8]) -> Option<usize> {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let end = buf[start..].iter().position(|&b| b == b'\n')?;
    Some(start + end + 1)
}

/// `Content-Length`'s value: 1*DIGIT (RFC 9110 §8.6), within `u64`.
fn content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// The path of a request target (RFC 9112 §3.2): an origin-form target up to its query; an
/// absolute-form target's path after the authority (`/` when it has none); empty otherwise.
fn target_path(target: &str) -> &str {
    let without_query = |s: &'_ str| -> usize { s.find(['?', '#']).unwrap_or(s.len()) };
    if target.starts_with('/') {
        return &target[..without_query(target)];
    }
    let Some((scheme, rest)) = target.split_once("://") else {
        return "";
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return "";
    }
    let rest = &rest[..without_query(rest)];
    match rest.find('/') {
        Some(i) => &rest[i..],
        None => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (RequestHead, usize) {
        parse(s.as_bytes()).expect("parses").expect("complete")
    }

    #[test]
    fn a_plain_get() {
        let s = "GET /boot.ipxe HTTP/1.1\r\nHost: x\r\nUser-Agent: iPXE/1.21\r\n\r\nGET";
        let (h, n) = ok(s);
        assert_eq!(n, s.len() - 3, "the next request is not part of this one");
        assert_eq!(h.method, Method::Get);
        assert_eq!(h.path, "/boot.ipxe");
        assert_eq!(h.minor_version, 1);
        assert!(h.persistent());
        assert_eq!(h.framing, Framing::None);
    }

    #[test]
    fn partial_heads_wait_for_more() {
        for s in [
            "",
            "\r\n",
            "GE",
            "GET / HTTP/1.1\r\nHost: x\r\n",
            "GET / HTTP/1.1\r\nHo",
        ] {
            assert_eq!(parse(s.as_bytes()), Ok(None), "{s:?}");
        }
    }

    #[test]
    fn targets() {
        let p = |t: &str| ok(&format!("GET {t} HTTP/1.1\r\nHost: x\r\n\r\n")).0.path;
        assert_eq!(p("/a%20b?x=1#f"), "/a%20b");
        assert_eq!(p("//etc/passwd"), "//etc/passwd");
        assert_eq!(p("http://x/../secret.txt"), "/../secret.txt");
        assert_eq!(p("HTTP://x:80?q"), "/");
        assert_eq!(p("*"), "");
        assert_eq!(p("x:80"), "");
        assert_eq!(
            parse("GET /\u{e9} HTTP/1.1\r\nHost: x\r\n\r\n".as_bytes()),
            Err(HeadError::Malformed("request target is not ASCII"))
        );
    }

    #[test]
    fn persistence() {
        let h = |s: &str| ok(s).0.persistent();
        assert!(h("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!h("GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n"));
        assert!(!h(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: te, close\r\n\r\n"
        ));
        assert!(!h("GET / HTTP/1.0\r\n\r\n"));
        assert!(h("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn framing() {
        let f = |extra: &str| parse(format!("GET / HTTP/1.1\r\nHost: x\r\n{extra}\r\n").as_bytes());
        assert_eq!(
            f("Content-Length: 0\r\n").unwrap().unwrap().0.framing,
            Framing::None
        );
        assert_eq!(
            f("Content-Length: 5, 5\r\n").unwrap().unwrap().0.framing,
            Framing::Length(5)
        );
        assert_eq!(
            f("Transfer-Encoding: chunked\r\n")
                .unwrap()
                .unwrap()
                .0
                .framing,
            Framing::Encoded
        );
        for bad in [
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: +5\r\n",
            "Content-Length: 99999999999999999999999\r\n",
            "Content-Length:\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        ] {
            assert!(matches!(f(bad), Err(HeadError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn refusals() {
        let e = |s: &[u8]| parse(s).unwrap_err().status();
        assert_eq!(e(b"GET / HTTP/1.1\r\n\r\n"), 400, "no Host");
        assert_eq!(e(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(e(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
        assert_eq!(e(b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"), 400);
        assert_eq!(e(b"GET  HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(e(b"G(T / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(e(b"GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(e(b"GET / HTTP/1.1\r\nHost: \x01\r\n\r\n"), 400);
        let long = format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(MAX_REQUEST_LINE)
        );
        assert_eq!(e(long.as_bytes()), 414);
        assert_eq!(e(&long.as_bytes()[..MAX_REQUEST_LINE + 1]), 414, "partial");
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(
            e(format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes()),
            431
        );
        let big = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
            "y".repeat(MAX_HEAD)
        );
        assert_eq!(e(big.as_bytes()), 431);
        assert_eq!(e(&big.as_bytes()[..MAX_HEAD + 1]), 431, "partial");
    }

    #[test]
    fn ranges_sent_twice_are_ignored() {
        let (h, _) = ok("GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n");
        assert_eq!(h.range.as_deref(), Some(&b"bytes=0-1"[..]));
        let (h, _) =
            ok("GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nrange: bytes=2-3\r\n\r\n");
        assert_eq!(h.range, None);
    }

    #[test]
    fn other_methods_are_named() {
        let (h, _) = ok("DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(h.method, Method::Other("DELETE".into()));
        assert_eq!(h.method.to_string(), "DELETE");
        let (h, _) = ok("get /x HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            h.method,
            Method::Other("get".into()),
            "methods are case-sensitive"
        );
    }
}
