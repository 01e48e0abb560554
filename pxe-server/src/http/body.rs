//! Response bodies: short texts, or a file streamed in [`CHUNK`]-sized `pread`s.
//!
//! A file is never loaded whole: each chunk is read in a blocking task when hyper asks for the
//! next frame (so a slow client stops the reads: backpressure), and one chunk is read ahead
//! while the previous one is written, so at most two chunks per connection are in memory.
//! The body owns the request's [`RequestLog`], which writes the summary line when hyper drops
//! the body: after the last byte, or when the client went away.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::{Method, StatusCode};
use tokio::task::JoinHandle;

use crate::events::{
    Event, Events, ProgressTicker, Protocol, TransferFinished, TransferId, TransferResult,
    TransferStarted,
};
use crate::tftp::fs::Data;

/// Bytes per `pread` of a file body.
pub const CHUNK: usize = 256 << 10;

/// One request's summary line, written when it is dropped (see the module docs).
#[derive(Debug)]
pub struct RequestLog {
    /// The client's address.
    pub client: SocketAddr,
    /// The request method.
    pub method: Method,
    /// The request path as sent (still percent-encoded).
    pub path: String,
    /// The response status.
    pub status: StatusCode,
    /// Why the request was refused, for the log (empty when served).
    pub reason: String,
    /// When the request arrived.
    pub start: Instant,
    /// Body bytes handed to the connection so far.
    pub bytes: u64,
    /// Body bytes the response announced.
    pub expected: u64,
    /// Where the transfer is reported.
    pub events: Events,
    /// The transfer's id in `events`.
    pub id: TransferId,
    /// Progress reports, once a file body started.
    pub progress: Option<ProgressTicker>,
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        let duration = self.start.elapsed();
        let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        let mib_s = (mib_per_s(self.bytes, duration) * 100.0).round() / 100.0;
        let result = if self.bytes == self.expected {
            "ok"
        } else {
            "aborted"
        };
        let status = self.status.as_u16();
        macro_rules! line {
            ($level:ident) => {
                if self.reason.is_empty() {
                    tracing::$level!(
                        client = %self.client, method = %self.method, path = %self.path, status,
                        bytes = self.bytes, duration_ms = ms, mib_s, result = %result, "http"
                    )
                } else {
                    tracing::$level!(
                        client = %self.client, method = %self.method, path = %self.path, status,
                        bytes = self.bytes, duration_ms = ms, mib_s, result = %result,
                        reason = %self.reason, "http"
                    )
                }
            };
        }
        if result != "ok" || self.status.is_server_error() || self.status == StatusCode::FORBIDDEN {
            line!(warn);
        } else {
            line!(info);
        }
        self.events.emit(|| {
            let result = if !self.status.is_success() {
                TransferResult::Refused(if self.reason.is_empty() {
                    self.status.to_string()
                } else {
                    self.reason.clone()
                })
            } else if self.bytes == self.expected {
                TransferResult::Completed
            } else {
                TransferResult::Failed(format!(
                    "connection ended after {} of {} bytes",
                    self.bytes, self.expected
                ))
            };
            Event::TransferFinished(TransferFinished {
                id: self.id,
                protocol: Protocol::Http,
                client: self.client,
                file: self.path.clone(),
                bytes: self.bytes,
                duration,
                status: Some(status),
                retransmits: 0,
                timeouts: 0,
                result,
            })
        });
    }
}

fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    let secs = d.as_secs_f64().max(1e-6);
    (bytes as f64 / (1024.0 * 1024.0)) / secs
}

/// A response body; see the module docs.
#[derive(Debug)]
pub struct ResponseBody {
    inner: Inner,
    log: Option<RequestLog>,
}

#[derive(Debug)]
enum Inner {
    Bytes(Option<Bytes>),
    File(FileStream),
}

#[derive(Debug)]
struct FileStream {
    data: Arc<Data>,
    /// Offset of the next read to start.
    next: u64,
    /// Bytes not yet asked of the file.
    unread: u64,
    /// Bytes not yet handed to hyper.
    unsent: u64,
    pending: Option<JoinHandle<io::Result<Bytes>>>,
}

impl ResponseBody {
    /// A body of `bytes` (empty for HEAD and 416), logging with `log`.
    #[must_use]
    pub fn bytes(bytes: impl Into<Bytes>, mut log: RequestLog) -> Self {
        let bytes = bytes.into();
        log.expected = bytes.len() as u64;
        Self {
            inner: Inner::Bytes(Some(bytes).filter(|b| !b.is_empty())),
            log: Some(log),
        }
    }

    /// `len` bytes of `data` from `offset`, logging with `log`.
    #[must_use]
    pub fn file(data: Arc<Data>, offset: u64, len: u64, mut log: RequestLog) -> Self {
        log.expected = len;
        log.events.emit(|| {
            Event::TransferStarted(TransferStarted {
                id: log.id,
                protocol: Protocol::Http,
                client: log.client,
                file: log.path.clone(),
                size: Some(len),
                upload: false,
                at: std::time::SystemTime::now(),
            })
        });
        log.progress = Some(ProgressTicker::new(
            log.events.clone(),
            log.id,
            Protocol::Http,
            Some(len),
        ));
        Self {
            inner: Inner::File(FileStream {
                data,
                next: offset,
                unread: len,
                unsent: len,
                pending: None,
            }),
            log: Some(log),
        }
    }

    fn count(&mut self, n: usize) {
        if let Some(log) = &mut self.log {
            log.bytes += n as u64;
            if let Some(p) = &mut log.progress {
                p.tick(log.bytes);
            }
        }
    }
}

impl FileStream {
    /// Starts the blocking read of the next chunk.
    fn start_read(&mut self) {
        let len = usize::try_from(self.unread).map_or(CHUNK, |u| u.min(CHUNK));
        let offset = self.next;
        let data = Arc::clone(&self.data);
        self.next += len as u64;
        self.unread -= len as u64;
        self.pending = Some(tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; len];
            let got = data.read_at(&mut buf, offset)?;
            if got < len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the file shrank while being sent (short read at offset {offset})"),
                ));
            }
            Ok(Bytes::from(buf))
        }));
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let file = match &mut this.inner {
            Inner::Bytes(b) => {
                let frame = b.take();
                if let Some(b) = &frame {
                    let n = b.len();
                    this.count(n);
                }
                return Poll::Ready(frame.map(|b| Ok(Frame::data(b))));
            }
            Inner::File(f) => f,
        };
        if file.pending.is_none() {
            if file.unread == 0 {
                return Poll::Ready(None);
            }
            file.start_read();
        }
        let Some(pending) = &mut file.pending else {
            return Poll::Ready(None);
        };
        let chunk = match Pin::new(pending).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(Ok(chunk))) => chunk,
            Poll::Ready(Ok(Err(e))) => {
                file.pending = None;
                return Poll::Ready(Some(Err(e)));
            }
            Poll::Ready(Err(e)) => {
                file.pending = None;
                return Poll::Ready(Some(Err(io::Error::other(e))));
            }
        };
        file.pending = None;
        file.unsent -= chunk.len() as u64;
        // Read ahead: the next chunk comes from the disk while this one goes out.
        if file.unread > 0 {
            file.start_read();
        }
        this.count(chunk.len());
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Bytes(b) => b.is_none(),
            Inner::File(f) => f.unsent == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Bytes(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Inner::File(f) => SizeHint::with_exact(f.unsent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> RequestLog {
        RequestLog {
            client: "127.0.0.1:1".parse().unwrap(),
            method: Method::GET,
            path: "/x".into(),
            status: StatusCode::OK,
            reason: String::new(),
            start: Instant::now(),
            bytes: 0,
            expected: 0,
            events: Events::new(),
            id: TransferId::next(),
            progress: None,
        }
    }

    async fn collect(mut body: ResponseBody) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let data = frame?
                .into_data()
                .map_err(|_| io::Error::other("trailers"))?;
            assert!(data.len() <= CHUNK);
            out.extend_from_slice(&data);
        }
        assert!(body.is_end_stream());
        Ok(out)
    }

    #[tokio::test]
    async fn file_body_streams_the_range_in_chunks() {
        let bytes: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| (i % 251) as u8).collect();
        let data = Arc::new(Data::Static(Arc::from(&bytes[..])));
        let body = ResponseBody::file(Arc::clone(&data), 5, bytes.len() as u64 - 10, log());
        assert_eq!(body.size_hint().exact(), Some(bytes.len() as u64 - 10));
        assert_eq!(collect(body).await.unwrap(), &bytes[5..bytes.len() - 5]);
        let empty = ResponseBody::file(data, 0, 0, log());
        assert!(collect(empty).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_shrunk_file_is_an_error() {
        let data = Arc::new(Data::Static(Arc::from(&b"short"[..])));
        let body = ResponseBody::file(data, 0, 100, log());
        let e = collect(body).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
