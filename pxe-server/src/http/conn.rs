//! One connection: read a request head, answer it, and again while the connection persists
//! (RFC 9112 §9.3).
//!
//! States, as the slot table ([`super::slots`]) sees them: **idle** while waiting for the
//! first byte of a request (a new connection, or a kept-alive one after a response) — then it
//! may be evicted to make room, and closes after [`IDLE_TIMEOUT`]; **busy** from that first
//! byte until its response is sent — never evicted; the head must be complete within
//! [`HEADER_TIMEOUT`], and the response must make progress every `send_timeout`.
//!
//! Requests are answered in order, one at a time: bytes read past a head stay in the buffer
//! and are the next request (pipelining, RFC 9112 §9.3.2). The buffer never holds more than
//! [`request::MAX_HEAD`] plus one read, and shrinks back when the connection goes idle, so an idle
//! connection costs a few KiB.
//!
//! Closing (RFC 9112 §9.6): after a response that ends the connection the server half-closes
//! (FIN) and reads what the client still sends for a moment before closing, so that unread
//! request bytes do not make the kernel answer with a reset that could destroy the response
//! before the client read it ("lingering close", as nginx does).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Shared;
use super::handler::{self, Response};
use super::request::{self, HeadError, RequestHead};
use super::slots::Slot;
use super::threads;

/// How long a connection may wait idle for a request (a new connection for its first one, a
/// kept-alive one for its next one).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request head may take from its first byte to its end.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes asked of the socket per read; also what an idle connection keeps allocated.
pub const READ_SIZE: usize = 2048;

/// How long, and how many bytes, a closing connection reads before it closes for good.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 << 10;

/// Serves `stream` from `peer` while it holds `slot`.
pub async fn serve(mut stream: TcpStream, peer: SocketAddr, mut slot: Slot, shared: Arc<Shared>) {
    let mut buf: Vec<u8> = Vec::new();
    // Each response's head is written here, one buffer for the connection.
    let mut head_buf = Vec::new();
    let mut pending = None;
    loop {
        let Some(seat) = on_loop(
            &mut stream,
            &mut buf,
            &mut head_buf,
            peer,
            &slot,
            &shared,
            pending.take(),
        )
        .await
        else {
            return;
        };
        // Out of the runtime's `epoll` and onto a thread, until it comes back.
        let Ok(std_stream) = stream.into_std() else {
            return;
        };
        let conn = threads::Connection {
            stream: std_stream,
            buf,
            head: head_buf,
            slot,
        };
        let back = match threads::hand_over(conn, peer, Arc::clone(&shared), seat) {
            Ok(returned) => returned.await.ok().flatten(),
            Err((conn, e)) => {
                shared.threads.set_max(0);
                tracing::warn!(
                    error = %e,
                    "could not start an HTTP connection thread: every connection stays on the \
                     event loop until [http] connection_threads is set again"
                );
                conn.map(|c| (c, None))
            }
        };
        let Some((conn, returned)) = back else {
            return;
        };
        let Ok(again) = TcpStream::from_std(conn.stream) else {
            return;
        };
        (stream, buf, head_buf, slot, pending) = (again, conn.buf, conn.head, conn.slot, returned);
    }
}

/// Serves requests on the event loop, `pending` first (a response a connection thread left to
/// send). `None` when the connection is done with; a seat when it is to go on on a connection
/// thread ([`threads`]): after a small response, with nothing of a next request read yet.
async fn on_loop(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    head_buf: &mut Vec<u8>,
    peer: SocketAddr,
    slot: &Slot,
    shared: &Shared,
    pending: Option<threads::Pending>,
) -> Option<threads::Seat> {
    let mut pending = pending;
    loop {
        let next = match pending.take() {
            Some(p) => p,
            None => read_and_handle(stream, buf, head_buf, peer, slot, shared).await?,
        };
        if !next.persistent {
            finish(
                stream,
                next.response,
                next.minor_version,
                slot,
                shared,
                head_buf,
            )
            .await;
            return None;
        }
        let small = next.is_small();
        respond(
            stream,
            next.response,
            true,
            next.minor_version,
            shared,
            head_buf,
        )
        .await
        .ok()?;
        if small
            && buf.is_empty()
            && let Some(seat) = shared.threads.seat()
        {
            return Some(seat);
        }
    }
}

/// Reads the next request and prepares its response; `None` when the connection is done with
/// (closed, timed out, evicted, or answered with an error that ends it).
async fn read_and_handle(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    head_buf: &mut Vec<u8>,
    peer: SocketAddr,
    slot: &Slot,
    shared: &Shared,
) -> Option<threads::Pending> {
    if buf.is_empty() {
        if buf.capacity() > READ_SIZE {
            buf.shrink_to(READ_SIZE);
        }
        if !slot.idle() {
            return None;
        }
        buf.reserve(READ_SIZE);
        let read = tokio::select! {
            () = slot.evicted() => {
                tracing::debug!(client = %peer, "HTTP idle connection closed to make room");
                return None;
            }
            r = tokio::time::timeout(IDLE_TIMEOUT, stream.read_buf(buf)) => r,
        };
        match read {
            Ok(Ok(n)) if n > 0 => {}
            // Timed out, closed by the client, or failed: nothing was asked, nothing lost.
            _ => return None,
        }
        if !slot.busy() {
            // Evicted between the read and now: the client retries on a new connection, as
            // it must for any request sent on a connection the server closes (RFC 9112
            // §9.3.1).
            return None;
        }
    }
    let deadline = Instant::now() + HEADER_TIMEOUT;
    let (head, used) = loop {
        match request::parse(buf) {
            Ok(Some(parsed)) => break parsed,
            Ok(None) => {}
            Err(e) => {
                let status = match e {
                    HeadError::UriTooLong => StatusCode::URI_TOO_LONG,
                    HeadError::TooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    HeadError::Version => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                    HeadError::Malformed(_) => StatusCode::BAD_REQUEST,
                };
                let r = handler::refused_head(status, e.to_string(), peer, &shared.events);
                finish(stream, r, 1, slot, shared, head_buf).await;
                return None;
            }
        }
        buf.reserve(READ_SIZE);
        match tokio::time::timeout_at(deadline, stream.read_buf(buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(Ok(_)) => return None,
            Ok(Err(e)) => {
                tracing::debug!(client = %peer, error = %e, "HTTP read failed");
                return None;
            }
            Err(_) => {
                tracing::debug!(client = %peer, "HTTP request head not complete in time");
                return None;
            }
        }
    };
    buf.drain(..used);
    Some(prepare(head, peer, shared))
}

/// The response to `head` from `peer`, and whether the connection stays open after it.
pub(super) fn prepare(head: RequestHead, peer: SocketAddr, shared: &Shared) -> threads::Pending {
    let (asked_persistent, minor_version) = (head.persistent(), head.minor_version);
    let response = handler::handle(
        head,
        &shared.root,
        &shared.files,
        peer,
        &shared.events,
        &shared.generated,
    );
    threads::Pending {
        persistent: asked_persistent && !response.close,
        response,
        minor_version,
    }
}

/// Sends `response`, its head written into `head`; the error ends the connection (already
/// logged with the request).
async fn respond(
    stream: &TcpStream,
    mut response: Response,
    persistent: bool,
    minor_version: u8,
    shared: &Shared,
    head: &mut Vec<u8>,
) -> io::Result<()> {
    response.head(persistent, minor_version, head);
    let r = super::body::send(
        stream,
        head,
        &response.body,
        &mut response.log,
        shared.send_timeout(),
        &shared.senders,
    )
    .await;
    if let Err(e) = &r {
        response.log.error = Some(e.to_string());
    }
    r
}

/// Sends the connection's last response, then closes it gracefully (see the module docs).
async fn finish(
    stream: &mut TcpStream,
    response: Response,
    minor_version: u8,
    slot: &Slot,
    shared: &Shared,
    head: &mut Vec<u8>,
) {
    if respond(stream, response, false, minor_version, shared, head)
        .await
        .is_err()
    {
        return;
    }
    if stream.shutdown().await.is_err() {
        return;
    }
    // Lingering is waiting, not serving: the slot may go to a new client meanwhile.
    if !slot.idle() {
        return;
    }
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    let deadline = Instant::now() + LINGER;
    while drained < LINGER_BYTES {
        let r = tokio::select! {
            () = slot.evicted() => return,
            r = tokio::time::timeout_at(deadline, stream.read(&mut sink)) => r,
        };
        match r {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => return,
        }
    }
}
