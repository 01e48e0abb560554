//! One request: method check, name mapping, open, range, headers (RFC 9110).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::body::{RequestLog, ResponseBody};
use super::path::request_name;
use super::range::RangeRequest;
use crate::decide::HostFiles;
use crate::events::{Events, TransferId};
use crate::tftp::fs::{Data, Refusal, Root};

/// The `Server` header value.
const SERVER: &str = concat!("pxe/", env!("CARGO_PKG_VERSION"));

/// Answers `req` from `root` for the client at `peer`, reporting to `events`.
pub async fn handle(
    req: Request<Incoming>,
    root: Arc<Root>,
    peer: SocketAddr,
    events: Events,
    generated: HostFiles,
) -> Result<Response<ResponseBody>, Infallible> {
    let mut log = RequestLog {
        client: peer,
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
        status: StatusCode::OK,
        reason: String::new(),
        start: Instant::now(),
        bytes: 0,
        expected: 0,
        events,
        id: TransferId::next(),
        progress: None,
    };
    let head = req.method() == Method::HEAD;
    if !head && req.method() != Method::GET {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD: the server is read-only",
            log,
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    let name = request_name(req.uri().path());
    if name.iter().all(|&b| b == b'/') {
        // The root itself: a directory, and directories are not listed.
        log.reason = Refusal::NotRegular.explain();
        return Ok(text(StatusCode::NOT_FOUND, "Not Found", log));
    }
    // openat2 and fstat can block (a slow or network file system): off the async workers.
    let generated = generated.get(&name);
    let opened = tokio::task::spawn_blocking(move || {
        if let Some(bytes) = generated {
            let size = bytes.len() as u64;
            return Ok((Data::Static(bytes), size, None));
        }
        root.open_read(&name).map(|(data, size)| {
            let modified = match &data {
                Data::File(f) => f.metadata().and_then(|m| m.modified()).ok(),
                Data::Static(_) => None,
            };
            (data, size, modified.and_then(http_date))
        })
    })
    .await;
    let (data, size, modified) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(refusal)) => {
            let status = status_for(&refusal);
            log.reason = refusal.explain();
            let msg = status.canonical_reason().unwrap_or("refused");
            return Ok(text(status, msg, log));
        }
        Err(e) => {
            log.reason = format!("open task failed: {e}");
            return Ok(text(StatusCode::INTERNAL_SERVER_ERROR, "server error", log));
        }
    };
    let range_header = req.headers().get(header::RANGE).map(HeaderValue::as_bytes);
    // If-Range (RFC 9110 §13.1.5): the range only applies to the version the client has; with
    // no entity tags here, that is an exact Last-Modified match.
    let if_range_ok = req.headers().get(header::IF_RANGE).is_none_or(|v| {
        modified
            .as_deref()
            .is_some_and(|m| v.as_bytes() == m.as_bytes())
    });
    let range = if head || !if_range_ok {
        RangeRequest::Full
    } else {
        RangeRequest::parse(range_header, size)
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
            insert(
                r.headers_mut(),
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            insert(r.headers_mut(), header::ACCEPT_RANGES, "bytes");
            return Ok(r);
        }
    };
    log.status = status;
    let body = if head {
        ResponseBody::bytes(bytes::Bytes::new(), log)
    } else {
        ResponseBody::file(Arc::new(data), offset, len, log)
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    insert(h, header::CONTENT_LENGTH, &len.to_string());
    insert(h, header::ACCEPT_RANGES, "bytes");
    insert(h, header::CONTENT_TYPE, content_type(req.uri().path()));
    insert(h, header::SERVER, SERVER);
    if status == StatusCode::PARTIAL_CONTENT {
        let end = offset + len - 1;
        insert(
            h,
            header::CONTENT_RANGE,
            &format!("bytes {offset}-{end}/{size}"),
        );
    }
    if let Some(m) = &modified {
        insert(h, header::LAST_MODIFIED, m);
    }
    Ok(r)
}

/// `Last-Modified` text for `t` (RFC 9110 §5.6.7), or none for a time the format cannot
/// express (before 1970 or after 9999, where `httpdate` panics): such a file is still served.
fn http_date(t: SystemTime) -> Option<String> {
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    // 9999-12-31T23:59:59Z is the last second `httpdate` formats.
    (secs < 253_402_300_800).then(|| httpdate::fmt_http_date(t))
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
fn text(status: StatusCode, message: &str, mut log: RequestLog) -> Response<ResponseBody> {
    log.status = status;
    let body = format!("{} {message}\n", status.as_u16());
    let len = body.len();
    let head = log.method == Method::HEAD;
    let mut r = Response::new(ResponseBody::bytes(
        if head { String::new() } else { body },
        log,
    ));
    *r.status_mut() = status;
    let h = r.headers_mut();
    insert(h, header::CONTENT_TYPE, "text/plain; charset=utf-8");
    insert(h, header::CONTENT_LENGTH, &len.to_string());
    insert(h, header::SERVER, SERVER);
    r
}

fn insert(h: &mut hyper::HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
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
    fn dates_outside_the_http_format_are_left_out() {
        use std::time::Duration;
        assert_eq!(
            http_date(UNIX_EPOCH).as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
        let last = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
        assert_eq!(
            http_date(last).as_deref(),
            Some("Fri, 31 Dec 9999 23:59:59 GMT")
        );
        assert_eq!(http_date(last + Duration::from_secs(1)), None);
        assert_eq!(http_date(UNIX_EPOCH - Duration::from_secs(1)), None);
    }

    #[test]
    fn scripts_are_text() {
        assert_eq!(content_type("/boot.ipxe"), "text/plain; charset=utf-8");
        assert_eq!(content_type("/iso/debian.iso"), "application/octet-stream");
        assert_eq!(content_type("/pxelinux.0"), "application/octet-stream");
    }
}
