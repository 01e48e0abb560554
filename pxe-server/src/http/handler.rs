//! One request: method check, name mapping, open, range, headers (RFC 9110); the answer is a
//! [`Response`] for the connection to send ([`super::conn`]).

use std::borrow::Cow;
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hyper::StatusCode;

use super::body::{Body, RequestLog};
use super::files::{FileCache, Opened};
use super::path::request_name;
use super::range::RangeRequest;
use super::request::{Framing, Method, RequestHead};
use crate::decide::HostFiles;
use crate::events::Events;
use crate::tftp::fs::{Data, Refusal, Root};

/// The `Server` header value.
const SERVER: &str = concat!("pxe/", env!("CARGO_PKG_VERSION"));

/// An answer, ready to send.
#[derive(Debug)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// Header fields besides `Date`, `Server` and `Connection`, which [`Response::head`] adds.
    pub headers: Headers,
    /// The content (none for HEAD, whose `Content-Length` is still the GET's, RFC 9110 §9.3.2).
    pub body: Body,
    /// The request's log line, written once the response is sent or abandoned.
    pub log: RequestLog,
    /// The connection must close after this response: the request had content the server does
    /// not read (RFC 9112 §9.6, §6.3), so what follows it on the connection is not a request.
    pub close: bool,
}

impl Response {
    /// The status line and header section (RFC 9112 §4, §5), into `out` (cleared first, so a
    /// connection reuses one buffer). `persistent`: the connection stays open after it
    /// (`Connection: close` otherwise, RFC 9112 §9.6); an HTTP/1.0 client (`minor_version` 0)
    /// is told `Connection: keep-alive` when it stays (RFC 9112 §9.3).
    pub fn head(&self, persistent: bool, minor_version: u8, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(
            self.status
                .canonical_reason()
                .unwrap_or("Unknown")
                .as_bytes(),
        );
        out.extend_from_slice(b"\r\nDate: ");
        push_date_now(out);
        out.extend_from_slice(b"\r\nServer: ");
        out.extend_from_slice(SERVER.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.headers.0.as_bytes());
        if !persistent {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if minor_version == 0 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// A response's header fields, written out as they are added (`name: value` lines, in order):
/// one string per response rather than one per field.
#[derive(Debug, Default)]
pub struct Headers(String);

impl Headers {
    /// Adds `name: value`.
    pub fn add(&mut self, name: &str, value: &str) {
        self.0.reserve(name.len() + value.len() + 4);
        self.0.push_str(name);
        self.0.push_str(": ");
        self.0.push_str(value);
        self.0.push_str("\r\n");
    }

    /// Adds `name: n`.
    pub fn add_number(&mut self, name: &str, n: u64) {
        self.0.push_str(name);
        self.0.push_str(": ");
        push_decimal(&mut self.0, n);
        self.0.push_str("\r\n");
    }

    /// Adds `Content-Range` (RFC 9110 §14.4): `bytes first-last/size`, or `bytes */size` for
    /// no range.
    pub fn add_content_range(&mut self, range: Option<(u64, u64)>, size: u64) {
        self.0.push_str("Content-Range: bytes ");
        match range {
            Some((first, last)) => {
                push_decimal(&mut self.0, first);
                self.0.push('-');
                push_decimal(&mut self.0, last);
            }
            None => self.0.push('*'),
        }
        self.0.push('/');
        push_decimal(&mut self.0, size);
        self.0.push_str("\r\n");
    }
}

/// Appends `n` in decimal.
fn push_decimal(s: &mut String, n: u64) {
    s.push_str(itoa::Buffer::new().format(n));
}

/// Appends the `Date` value for now (RFC 9110 §6.6.1), formatted once per second and thread.
fn push_date_now(out: &mut Vec<u8>) {
    thread_local! {
        /// The second last formatted and its IMF-fixdate (always 29 bytes).
        static SECOND: Cell<(u64, [u8; 29])> = const { Cell::new((u64::MAX, [0; 29])) };
    }
    let now = SystemTime::now();
    let Ok(secs) = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()) else {
        // A clock before 1970: formatted (or refused) as httpdate does, uncached.
        out.extend_from_slice(httpdate::fmt_http_date(now).as_bytes());
        return;
    };
    match SECOND.get() {
        (s, text) if s == secs => out.extend_from_slice(&text),
        _ => {
            let text = httpdate::fmt_http_date(now);
            if let Ok(fixed) = <[u8; 29]>::try_from(text.as_bytes()) {
                SECOND.set((secs, fixed));
            }
            out.extend_from_slice(text.as_bytes());
        }
    }
}

/// Answers `req` from `root` through the open-file cache `files` (or from `generated`) for the
/// client at `peer`, reporting to `events`.
///
/// Opening runs inline on the connection's task, as the body's `sendfile` reads do: boot trees
/// sit in the page cache, and nginx without `aio threads` works the same way.
#[must_use]
pub fn handle(
    req: RequestHead,
    root: &Root,
    files: &FileCache,
    peer: SocketAddr,
    events: &Events,
    generated: &HostFiles,
) -> Response {
    let head = req.method == Method::Head;
    let get = req.method == Method::Get;
    let method = match req.method {
        Method::Get => Cow::Borrowed("GET"),
        Method::Head => Cow::Borrowed("HEAD"),
        Method::Other(m) => Cow::Owned(m),
    };
    // The request's strings move into its log line.
    let mut log = RequestLog::new(peer, method, req.path, events.clone());
    // Content is never read: a request with some closes the connection after the answer.
    let close = req.framing != Framing::None;
    if !head && !get {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD: the server is read-only",
            log,
        );
        r.headers.add("Allow", "GET, HEAD");
        r.close = close;
        return r;
    }
    if req.framing == Framing::Encoded {
        // RFC 9112 §6.1: a GET has no use for content; its transfer coding is not decoded.
        log.reason = "request content with a Transfer-Encoding is not accepted".into();
        let mut r = text(StatusCode::NOT_IMPLEMENTED, "Not Implemented", log);
        r.close = true;
        return r;
    }
    if !log.path.starts_with('/') {
        // asterisk-form or authority-form (RFC 9112 §3.2.3, §3.2.4): not for GET.
        log.reason = "request target is not a path".into();
        let mut r = text(StatusCode::BAD_REQUEST, "Bad Request", log);
        r.close = close;
        return r;
    }
    let ranges = Ranges {
        range: req.range.as_deref(),
        if_range: req.if_range.as_deref(),
    };
    let mut r = respond(ranges, root, files, generated, log, head);
    r.close = close;
    r
}

/// What of a request's `Range` and `If-Range` fields was sent.
struct Ranges<'a> {
    range: Option<&'a [u8]>,
    if_range: Option<&'a [u8]>,
}

fn respond(
    ranges: Ranges<'_>,
    root: &Root,
    files: &FileCache,
    generated: &HostFiles,
    mut log: RequestLog,
    head: bool,
) -> Response {
    let name = request_name(&log.path);
    if name.iter().all(|&b| b == b'/') {
        // The root itself: a directory, and directories are not listed.
        log.reason = Refusal::NotRegular.explain();
        return text(StatusCode::NOT_FOUND, "Not Found", log);
    }
    let opened = match generated.get(&name) {
        Some(bytes) => Ok(Opened {
            size: bytes.len() as u64,
            data: Data::Static(bytes),
            modified: None,
        }),
        None => files.open(root, &name),
    };
    let Opened {
        data,
        size,
        modified,
    } = match opened {
        Ok(opened) => opened,
        Err(refusal) => {
            let status = status_for(&refusal);
            log.reason = refusal.explain();
            let msg = status.canonical_reason().unwrap_or("refused");
            return text(status, msg, log);
        }
    };
    // If-Range (RFC 9110 §13.1.5): the range only applies to the version the client has; with
    // no entity tags here, that is an exact Last-Modified match.
    let if_range_ok = ranges
        .if_range
        .is_none_or(|v| modified.as_deref().is_some_and(|m| v == m.as_bytes()));
    let range = if head || !if_range_ok {
        RangeRequest::Full
    } else {
        RangeRequest::parse(ranges.range, size)
    };
    let (status, offset, len) = match range {
        RangeRequest::Full => (StatusCode::OK, 0, size),
        RangeRequest::Partial { start, end } => {
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeRequest::Unsatisfiable => {
            log.reason = format!("range outside the file ({size} bytes)");
            let mut r = text(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range not satisfiable",
                log,
            );
            r.headers.add_content_range(None, size);
            r.headers.add("Accept-Ranges", "bytes");
            return r;
        }
    };
    log.status = status;
    let body = if head {
        Body::Empty
    } else {
        log.started(len);
        match data {
            Data::File(file) => Body::File { file, offset, len },
            Data::Static(bytes) => match (usize::try_from(offset), usize::try_from(len)) {
                (Ok(start), Ok(len)) => Body::Memory { bytes, start, len },
                _ => Body::Empty,
            },
        }
    };
    let mut headers = Headers(String::with_capacity(192));
    headers.add_number("Content-Length", len);
    headers.add("Accept-Ranges", "bytes");
    headers.add("Content-Type", content_type(&log.path));
    if status == StatusCode::PARTIAL_CONTENT {
        headers.add_content_range(Some((offset, offset + len - 1)), size);
    }
    if let Some(m) = modified {
        headers.add("Last-Modified", &m);
    }
    Response {
        status,
        headers,
        body,
        log,
        close: false,
    }
}

/// A response to a request head that did not parse (400, 414, 431, 505), for `peer`; the
/// connection closes after it.
#[must_use]
pub fn refused_head(
    status: StatusCode,
    why: String,
    peer: SocketAddr,
    events: &Events,
) -> Response {
    let mut log = RequestLog::new(peer, "-".into(), "-".into(), events.clone());
    log.reason = why;
    let mut r = text(
        status,
        status.canonical_reason().unwrap_or("Bad Request"),
        log,
    );
    r.close = true;
    r
}

/// The status for a refused open: confinement and permission refusals are 403, names that are
/// not files 404 (as for a missing one: no directory listings).
fn status_for(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::NotFound | Refusal::NotRegular => StatusCode::NOT_FOUND,
        Refusal::Escape(_) | Refusal::Denied { .. } => StatusCode::FORBIDDEN,
        Refusal::ReadOnly => StatusCode::METHOD_NOT_ALLOWED,
        Refusal::Os(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A short `text/plain` response.
fn text(status: StatusCode, message: &str, mut log: RequestLog) -> Response {
    log.status = status;
    let body = format!("{} {message}\n", status.as_u16());
    let len = body.len();
    let head = log.method == "HEAD";
    let mut headers = Headers(String::with_capacity(128));
    headers.add("Content-Type", "text/plain; charset=utf-8");
    headers.add_number("Content-Length", len as u64);
    Response {
        status,
        headers,
        body: if head {
            Body::Empty
        } else {
            Body::Memory {
                bytes: Arc::from(body.into_bytes()),
                start: 0,
                len,
            }
        },
        log,
        close: false,
    }
}

/// Text for the files boot loaders read as text (scripts, menus), bytes for the rest.
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    if ["ipxe", "txt", "cfg", "conf", "cfg32", "toml"]
        .iter()
        .any(|t| ext.eq_ignore_ascii_case(t))
    {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_statuses() {
        assert_eq!(status_for(&Refusal::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status_for(&Refusal::NotRegular), StatusCode::NOT_FOUND);
        assert_eq!(
            status_for(&Refusal::Escape("..".into())),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status_for(&Refusal::Denied { why: String::new() }),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status_for(&Refusal::Os(String::new())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn heads_are_written_whole() {
        let log = RequestLog::new(
            "127.0.0.1:1".parse().unwrap(),
            "GET".into(),
            "/x".into(),
            Events::new(),
        );
        let mut r = text(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range not satisfiable",
            log,
        );
        r.headers.add_content_range(None, 300_000);
        r.headers.add("Accept-Ranges", "bytes");
        let mut out = b"left over".to_vec();
        r.head(true, 0, &mut out);
        let head = String::from_utf8(out).unwrap();
        let date = head
            .split("Date: ")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap();
        let at = httpdate::parse_http_date(date).unwrap();
        assert!(SystemTime::now().duration_since(at).unwrap().as_secs() < 5);
        assert_eq!(
            head,
            format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\nDate: {date}\r\nServer: {SERVER}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Length: 26\r\n\
                 Content-Range: bytes */300000\r\nAccept-Ranges: bytes\r\n\
                 Connection: keep-alive\r\n\r\n"
            )
        );
        let mut out = Vec::new();
        r.status = StatusCode::PARTIAL_CONTENT;
        r.headers = Headers::default();
        r.headers.add_number("Content-Length", 65_024);
        r.headers.add_content_range(Some((0, 65_023)), u64::MAX);
        r.head(false, 1, &mut out);
        assert!(out.ends_with(
            b"\r\nContent-Length: 65024\r\n\
              Content-Range: bytes 0-65023/18446744073709551615\r\nConnection: close\r\n\r\n"
        ));
        out.clear();
        r.head(true, 1, &mut out);
        assert!(out.ends_with(b"/18446744073709551615\r\n\r\n"));
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 65_024, i64::MIN.unsigned_abs(), u64::MAX] {
            let mut s = String::from("x");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }

    #[test]
    fn scripts_are_text() {
        assert_eq!(content_type("/boot.ipxe"), "text/plain; charset=utf-8");
        assert_eq!(content_type("/iso/debian.iso"), "application/octet-stream");
        assert_eq!(content_type("/pxelinux.0"), "application/octet-stream");
    }
}
