//! Sending a response: its head, then its content — a file with `sendfile(2)`, or bytes from
//! memory (generated scripts and menus, the demo root, error texts) — and the request's log line.
//!
//! A file body never passes through user space: `sendfile64` copies it from the page cache into
//! the socket, as nginx's `sendfile on` does, so a connection holds no read-ahead buffer
//! whatever the file's size. The socket is non-blocking: each call moves what fits in the send
//! buffer, and when it is full the connection waits for `writable()` (epoll) — at most
//! `send_timeout` without progress, after which a client that stopped reading is dropped
//! (it would otherwise hold its slot and its open file for ever: a blocked write never fails by
//! itself). The head goes out by itself, one `send`, then the file — as nginx with
//! `tcp_nopush off` does (`writev` of the head, then `sendfile`). Holding the head back with
//! `MSG_MORE` (send(2), tcp(7)) so it shares the file's first segment saves one small segment
//! per response but costs more than it saves: measured on loopback with 8 clients reading
//! 65 024-byte ranges (a minimal epoll server, the same load, only the flag differing), the
//! server spent ~25 % more CPU per GiB with `MSG_MORE`, most of it in `tcp_write_xmit` with
//! interrupts disabled (`perf`); nginx's `tcp_nopush on` (TCP_CORK) is the same idea and
//! stalls such responses on delayed ACKs (`benches/README.md`).
//!
//! Pacing many connections. One `sendfile` call moves at most [`SENDFILE_MAX`] (4 MiB) and
//! then, while another response of the listener is sending a file too ([`Senders`]), the task
//! yields, so a worker thread refills every writable connection in turn, as nginx's event loop
//! does (one `sendfile_max_chunk` per connection and loop pass, 2 MiB by default). A turn
//! rarely moves all 4 MiB: that is the most Linux lets a TCP send buffer grow to by default
//! (`tcp_wmem`), so a call moves what the client's side has room for. Turns of at most 1 MiB
//! cost a third more CPU per GiB with 50 clients on loopback (each turn a yield and, often, a
//! wake-up of the other worker) and 15 % more time for a 200-client boot storm
//! (`benches/README.md`, "Larger sendfile turns"), for no better fairness. A body sending
//! alone yields only every `YIELD_EVERY` (16 MiB, a few milliseconds; the other tasks of the
//! runtime still get their turn): a yield costs a wake-up of the runtime's other worker (a
//! futex call and two context switches), and with one per MiB one client of a whole file cost
//! ~10 % more CPU per GiB than nginx (`perf stat` on loopback: 0.5–0.7 futex calls per MiB
//! and twice nginx's context switches).
//! The socket keeps `TCP_NODELAY` on throughout (set at accept): with Nagle's algorithm the
//! sub-MSS tail of a call is held while sent data is unacknowledged (tcp(7)), and now that the
//! task yields between calls, that tail would wait for the connection's next turn or for the
//! client's (possibly delayed) ACK instead of going out; every call but a body's last fills
//! whole segments anyway, so Nagle saves nothing here. (It also spares two `setsockopt` calls
//! per response.)
//! Why, measured (`benches/README.md`, "HTTP against nginx"; 50 clients on loopback, a loaded
//! machine) before this:
//! 4 MiB per call and a yield every 16 MiB, Nagle on during the body — the two tokio workers
//! never slept (a handful of voluntary context switches per run against ~1000 preemptions, most
//! of the run spent waiting on the CPU run queue), one connection's turn was up to 16 MiB while
//! the other sockets ran dry (`ss`: send queues empty, where nginx's were full and limited by
//! the clients' windows), and the clients got 0.56–0.69× nginx's throughput; with a yield after
//! every call (1 MiB turns then, 4 MiB since), 1.1–1.4×: what starved the other sockets was a
//! turn of many calls, not the size of one call.
//!
//! [`RequestLog`] writes the summary line when it is dropped: after the last byte, or when the
//! client went away.

use std::borrow::Cow;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use nix::sys::socket::MsgFlags;
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::events::{
    Event, Events, ProgressTicker, Protocol, TransferFinished, TransferId, TransferResult,
    TransferStarted,
};

/// The target of the per-request log line, which the log writer batches
/// ([`crate::logging::BATCHED_TARGET`]).
pub const LOG_TARGET: &str = module_path!();

/// Most bytes one `sendfile` call is asked for; the task yields after each call while other
/// files are being sent (see the module docs: one turn per connection keeps every client fed).
pub const SENDFILE_MAX: usize = 4 << 20;

/// A connection writing from memory, or the only one sending a file, that keeps finding room in
/// its socket yields to the runtime's other tasks after this many bytes (`try_io` calls use no
/// cooperative budget).
const YIELD_EVERY: u64 = 16 << 20;

/// How many responses of one listener are sending a file body now; a body alone need not yield
/// after every call (see the module docs).
#[derive(Debug, Default)]
pub struct Senders(AtomicUsize);

impl Senders {
    /// Counts one more sender until the guard drops (also when the send is cancelled).
    fn enter(&self) -> Sending<'_> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Sending(&self.0)
    }

    /// Whether a response besides the caller's is sending a file.
    fn others(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 1
    }
}

/// One sender counted in [`Senders`].
struct Sending<'a>(&'a AtomicUsize);

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One request's summary line, written when it is dropped (see the module docs).
#[derive(Debug)]
pub struct RequestLog {
    /// The client's address.
    pub client: SocketAddr,
    /// The request method.
    pub method: Cow<'static, str>,
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
    /// Why sending stopped early, when it did.
    pub error: Option<String>,
}

impl RequestLog {
    /// A log for a request from `client`, starting now, with status 200 until set.
    #[must_use]
    pub fn new(
        client: SocketAddr,
        method: Cow<'static, str>,
        path: String,
        events: Events,
    ) -> Self {
        Self {
            client,
            method,
            path,
            status: StatusCode::OK,
            reason: String::new(),
            start: Instant::now(),
            bytes: 0,
            expected: 0,
            events,
            id: TransferId::next(),
            progress: None,
            error: None,
        }
    }

    /// Reports the start of a `len`-byte body (a file or generated content).
    pub fn started(&mut self, len: u64) {
        self.expected = len;
        self.events.emit(|| {
            Event::TransferStarted(TransferStarted {
                id: self.id,
                protocol: Protocol::Http,
                client: self.client,
                file: self.path.clone(),
                size: Some(len),
                upload: false,
                at: std::time::SystemTime::now(),
            })
        });
        self.progress = Some(ProgressTicker::new(
            self.events.clone(),
            self.id,
            Protocol::Http,
            Some(len),
        ));
    }

    fn count(&mut self, n: usize) {
        self.bytes += n as u64;
        if let Some(p) = &mut self.progress {
            p.tick(self.bytes);
        }
    }
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
        if let Some(e) = &self.error
            && self.reason.is_empty()
        {
            self.reason.clone_from(e);
        }
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
                TransferResult::Failed(match &self.error {
                    Some(e) => format!(
                        "connection ended after {} of {} bytes: {e}",
                        self.bytes, self.expected
                    ),
                    None => format!(
                        "connection ended after {} of {} bytes",
                        self.bytes, self.expected
                    ),
                })
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

/// A response's content.
#[derive(Debug)]
pub enum Body {
    /// None (HEAD, 304-like answers, an empty file).
    Empty,
    /// `len` bytes of `bytes` from `start`.
    Memory {
        /// The whole buffer (a generated file, the demo's file, an error text).
        bytes: Arc<[u8]>,
        /// First byte sent.
        start: usize,
        /// Bytes sent.
        len: usize,
    },
    /// `len` bytes of an open file from `offset`, with `sendfile`.
    File {
        /// The file.
        file: Arc<std::fs::File>,
        /// First byte sent.
        offset: u64,
        /// Bytes sent.
        len: u64,
    },
}

impl Body {
    /// The bytes this body sends.
    #[must_use]
    pub fn len(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Memory { len, .. } => *len as u64,
            Self::File { len, .. } => *len,
        }
    }

    /// Whether it sends nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes `head` and then `body` to `stream`, counting body bytes into `log`; fails when the
/// client reads nothing for `stall`, goes away, or the file shrank. `senders` counts the
/// listener's responses sending files (pacing, see the module docs).
pub async fn send(
    stream: &TcpStream,
    head: &[u8],
    body: &Body,
    log: &mut RequestLog,
    stall: Duration,
    senders: &Senders,
) -> io::Result<()> {
    match body {
        Body::Empty => write_all(stream, head, &[], log, stall).await,
        Body::Memory { bytes, start, len } => {
            write_all(stream, head, memory_part(bytes, *start, *len)?, log, stall).await
        }
        Body::File { file, offset, len } => {
            if *len == 0 {
                return write_all(stream, head, &[], log, stall).await;
            }
            // `TCP_NODELAY` stays on (see the module docs): the head leaves at once, as
            // does the file's last segment.
            write_head(stream, head, stall).await?;
            let _sending = senders.enter();
            send_file(stream, file, *offset, *len, log, stall, senders).await
        }
    }
}

/// Waits until `stream` can take more bytes, at most `stall`.
async fn writable(stream: &TcpStream, stall: Duration) -> io::Result<()> {
    match tokio::time::timeout(stall, stream.writable()).await {
        Ok(r) => r,
        Err(_) => Err(stalled(stall)),
    }
}

/// The `len` bytes of a memory body from `start`.
fn memory_part(bytes: &[u8], start: usize, len: usize) -> io::Result<&[u8]> {
    start
        .checked_add(len)
        .and_then(|end| bytes.get(start..end))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "body range outside its buffer"))
}

/// The error of a response that made no progress for `stall`.
fn stalled(stall: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "the client read nothing for {} s (send_timeout)",
            stall.as_secs_f32()
        ),
    )
}

/// The error of a file body that ended at `pos`, before the length its head announced.
fn shrank(pos: i64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the file shrank while being sent (nothing to read at offset {pos})"),
    )
}

/// `sendfile`'s start and end offsets of `len` bytes from `offset`.
fn file_span(offset: u64, len: u64) -> io::Result<(i64, i64)> {
    let end = offset
        .checked_add(len)
        .and_then(|e| i64::try_from(e).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "file range too large"))?;
    let start = i64::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
    Ok((start, end))
}

/// Bytes of the next `sendfile` call from `pos` to `end`.
fn sendfile_count(pos: i64, end: i64) -> usize {
    usize::try_from(end - pos).map_or(SENDFILE_MAX, |n| n.min(SENDFILE_MAX))
}

/// How `n` bytes sent from `head[*h..]` then `body[*b..]` split: advances both, returns the
/// body's part.
fn advance(n: usize, head_len: usize, h: &mut usize, b: &mut usize) -> usize {
    let from_head = n.min(head_len - *h);
    *h += from_head;
    *b += n - from_head;
    n - from_head
}

/// `head` then `body` from memory, with vectored writes (one segment for a short answer).
async fn write_all(
    stream: &TcpStream,
    head: &[u8],
    body: &[u8],
    log: &mut RequestLog,
    stall: Duration,
) -> io::Result<()> {
    let (mut h, mut b) = (0, 0);
    let mut since_yield = 0u64;
    while h < head.len() || b < body.len() {
        let parts = [IoSlice::new(&head[h..]), IoSlice::new(&body[b..])];
        match stream.try_write_vectored(&parts) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                log.count(advance(n, head.len(), &mut h, &mut b));
                since_yield += n as u64;
                if since_yield >= YIELD_EVERY {
                    since_yield = 0;
                    tokio::task::yield_now().await;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable(stream, stall).await?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The head of a file response (see the module docs for why not with `MSG_MORE`).
async fn write_head(stream: &TcpStream, head: &[u8], stall: Duration) -> io::Result<()> {
    // MSG_NOSIGNAL: a closed peer is EPIPE, not a SIGPIPE that would kill a program embedding
    // the server which did not ignore it.
    let flags = MsgFlags::MSG_NOSIGNAL;
    let fd = stream.as_raw_fd();
    let mut done = 0;
    while done < head.len() {
        match stream.try_io(Interest::WRITABLE, || {
            nix::sys::socket::send(fd, &head[done..], flags).map_err(io::Error::from)
        }) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable(stream, stall).await?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `len` bytes of `file` from `offset` with `sendfile64`, page cache to socket.
async fn send_file(
    stream: &TcpStream,
    file: &std::fs::File,
    offset: u64,
    len: u64,
    log: &mut RequestLog,
    stall: Duration,
    senders: &Senders,
) -> io::Result<()> {
    // sendfile advances `pos` by what it sent; the file's own offset is untouched, so every
    // connection shares the one open file.
    let (mut pos, end) = file_span(offset, len)?;
    let mut since_yield = 0u64;
    while pos < end {
        let count = sendfile_count(pos, end);
        match stream.try_io(Interest::WRITABLE, || {
            nix::sys::sendfile::sendfile64(stream, file, Some(&mut pos), count)
                .map_err(io::Error::from)
        }) {
            Ok(0) => return Err(shrank(pos)),
            Ok(n) => {
                log.count(n);
                since_yield += n as u64;
                // One call per turn while other files are being sent: the other connections
                // get theirs before this one's next. Not after the last call: the task goes on
                // to read the next request, which waits for the client anyway, and a yield
                // costs a wake-up of another worker (an `eventfd` write or a futex) — per
                // request, for small range reads.
                if pos < end && (senders.others() || since_yield >= YIELD_EVERY) {
                    since_yield = 0;
                    tokio::task::yield_now().await;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable(stream, stall).await?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// [`send`] for a connection thread ([`super::threads`]): the same response on a blocking
/// socket whose send timeout is the thread's poll interval, so that the thread can give up in
/// time — when the client read nothing for `stall`, or when `abandoned` says so (the
/// connection's task is gone: the server stops). Bodies sent here are small
/// ([`super::threads::SMALL_BODY`]): there is nothing to pace.
pub fn send_blocking(
    stream: &std::net::TcpStream,
    head: &[u8],
    body: &Body,
    log: &mut RequestLog,
    stall: Duration,
    abandoned: &dyn Fn() -> bool,
) -> io::Result<()> {
    let mut waiting = Waiting {
        stall,
        abandoned,
        since: Instant::now(),
    };
    match body {
        Body::Empty => send_parts(stream, head, &[], log, &mut waiting),
        Body::Memory { bytes, start, len } => send_parts(
            stream,
            head,
            memory_part(bytes, *start, *len)?,
            log,
            &mut waiting,
        ),
        Body::File { file, offset, len } => {
            // The head by itself, then the file, as `send` does (see the module docs).
            send_parts(stream, head, &[], log, &mut waiting)?;
            let (mut pos, end) = file_span(*offset, *len)?;
            while pos < end {
                let count = sendfile_count(pos, end);
                match nix::sys::sendfile::sendfile64(stream, file, Some(&mut pos), count)
                    .map_err(io::Error::from)
                {
                    Ok(0) => return Err(shrank(pos)),
                    Ok(n) => {
                        log.count(n);
                        waiting.since = Instant::now();
                    }
                    Err(e) => waiting.failed(e)?,
                }
            }
            Ok(())
        }
    }
}

/// A blocking send's patience: when it last made progress, and how long it may wait.
struct Waiting<'a> {
    stall: Duration,
    abandoned: &'a dyn Fn() -> bool,
    since: Instant,
}

impl Waiting<'_> {
    /// After a send failed with `e`: `Ok` to try again (the send timed out, or a signal came),
    /// else why the response ends.
    fn failed(&self, e: io::Error) -> io::Result<()> {
        match e.kind() {
            io::ErrorKind::Interrupted => Ok(()),
            // SO_SNDTIMEO expired: the socket's buffer stayed full for a poll interval.
            io::ErrorKind::WouldBlock if (self.abandoned)() => {
                Err(io::Error::other("the server is stopping"))
            }
            io::ErrorKind::WouldBlock if self.since.elapsed() >= self.stall => {
                Err(stalled(self.stall))
            }
            io::ErrorKind::WouldBlock => Ok(()),
            _ => Err(e),
        }
    }
}

/// `head` then `body` from memory in one `sendmsg` where they fit (`MSG_NOSIGNAL`, as
/// [`write_head`] sends).
fn send_parts(
    stream: &std::net::TcpStream,
    head: &[u8],
    body: &[u8],
    log: &mut RequestLog,
    waiting: &mut Waiting<'_>,
) -> io::Result<()> {
    let fd = stream.as_raw_fd();
    let (mut h, mut b) = (0, 0);
    while h < head.len() || b < body.len() {
        let parts = [IoSlice::new(&head[h..]), IoSlice::new(&body[b..])];
        match nix::sys::socket::sendmsg::<()>(fd, &parts, &[], MsgFlags::MSG_NOSIGNAL, None)
            .map_err(io::Error::from)
        {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                log.count(advance(n, head.len(), &mut h, &mut b));
                waiting.since = Instant::now();
            }
            Err(e) => waiting.failed(e)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use tokio::io::AsyncReadExt;

    fn log() -> RequestLog {
        RequestLog::new(
            "127.0.0.1:1".parse().unwrap(),
            "GET".into(),
            "/x".into(),
            Events::new(),
        )
    }

    async fn pair() -> (TcpStream, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (s, c)
    }

    fn file(bytes: &[u8]) -> Arc<std::fs::File> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        Arc::new(f)
    }

    #[tokio::test]
    async fn a_file_range_goes_out_after_its_head() {
        let bytes: Vec<u8> = (0..(3 << 20) + 17).map(|i| (i % 251) as u8).collect();
        let (server, mut client) = pair().await;
        let body = Body::File {
            file: file(&bytes),
            offset: 5,
            len: bytes.len() as u64 - 10,
        };
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut l = log();
        l.started(body.len());
        send(
            &server,
            b"HEAD\r\n",
            &body,
            &mut l,
            Duration::from_secs(5),
            &Senders::default(),
        )
        .await
        .unwrap();
        assert_eq!(l.bytes, bytes.len() as u64 - 10);
        drop(server);
        let got = reader.await.unwrap();
        assert_eq!(&got[..6], b"HEAD\r\n");
        assert!(got[6..] == bytes[5..bytes.len() - 5]);
    }

    #[tokio::test]
    async fn a_shrunk_file_is_an_error() {
        let (server, _client) = pair().await;
        let body = Body::File {
            file: file(b"short"),
            offset: 0,
            len: 100,
        };
        let e = send(
            &server,
            b"H",
            &body,
            &mut log(),
            Duration::from_secs(5),
            &Senders::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn a_reader_that_stops_fails_the_send_after_the_limit() {
        let (server, _client) = pair().await;
        let body = Body::Memory {
            bytes: Arc::from(vec![7u8; 64 << 20]),
            start: 0,
            len: 64 << 20,
        };
        let start = Instant::now();
        let mut l = log();
        let e = send(
            &server,
            b"H",
            &body,
            &mut l,
            Duration::from_millis(300),
            &Senders::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert!(l.bytes > 0 && l.bytes < 64 << 20);
    }
}
