//! Connection threads: a kept-alive connection that asks for one small response after another
//! (iPXE's `sanboot` reading a disk image in 64 KiB ranges, one request at a time) runs on a
//! thread of its own while it keeps asking, with blocking reads and writes.
//!
//! On the event loop each such request costs a wake-up through `epoll` and the runtime's
//! scheduling on top of the work itself, where nginx's worker and a thread blocked in `recv`
//! pay for one wake-up only; the same holds for lock-step TFTP (`crate::tftp`'s lock-step
//! threads). Measured on loopback with 8 such clients (`benches/README.md`): with every one of
//! them on a thread, CPU per GiB fell by 11–18 % and throughput rose by 18–28 %; with only
//! some of them on threads it was worse than with none (both the runtime's workers and the
//! threads then sleep and wake per request). So seats are many
//! ([`DEFAULT_CONNECTION_THREADS`]), a thread is started per hand-over and none waits unused.
//!
//! What moves: a persistent connection right after a small response ([`SMALL_BODY`] at most:
//! a range, a HEAD, a script), when nothing of a next request is buffered and a seat is free.
//! The thread waits for the next request ([`HOLD`] at most: then the connection goes back to
//! the event loop and the seat frees), and answers it when its body is small too. Anything
//! else goes back to the connection's task with what the thread read: a large body (paced on
//! the event loop among the other downloads, see [`super::body`]), a response that ends the
//! connection, a head that is malformed or not complete in one read. The task goes on as if it
//! had read that itself; idle and busy are marked in the slot table as the task marks them, so
//! a connection held here is evicted like any idle one.
//!
//! The task waits for the connection to come back. When the task is cancelled (the server
//! stops), the thread sees it within [`POLL`] — its socket's read and send timeouts — and
//! closes the connection; [`Threads::wait_idle`] lets the server's stop wait for that.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Shared;
use super::handler::Response;
use super::request;
use super::slots::Slot;

/// Default for `[http] connection_threads`: at most this many connections on threads at once.
/// A thread blocked in `recv` costs its stack's touched pages, a few KiB.
pub const DEFAULT_CONNECTION_THREADS: usize = 64;

/// Largest body answered on a thread (and largest response after which a connection moves
/// there): 1 MiB, far above a range read's 64 KiB and far below the downloads that are paced
/// on the event loop among each other.
pub const SMALL_BODY: u64 = 1 << 20;

/// How long a thread keeps a connection that sends no request.
pub const HOLD: Duration = Duration::from_secs(1);

/// The socket's read and send timeouts on a thread: how often it looks whether the server
/// stops or the connection was evicted.
pub const POLL: Duration = Duration::from_millis(50);

/// Stack of a connection thread: buffers are on the heap; the deepest call is a log line.
const STACK_SIZE: usize = 256 << 10;

/// The seats of one listener's connection threads.
#[derive(Debug)]
pub struct Threads {
    max: AtomicUsize,
    used: Arc<AtomicUsize>,
}

/// One connection thread's place, given back when dropped.
#[derive(Debug)]
pub struct Seat(Arc<AtomicUsize>);

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Threads {
    /// At most `max` threads at once (0: every connection stays on the event loop).
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            max: AtomicUsize::new(max),
            used: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Sets the most threads from now on; threads running stay until their connection returns.
    pub fn set_max(&self, max: usize) {
        self.max.store(max, Ordering::Relaxed);
    }

    /// A seat, if fewer than the most threads run.
    pub fn seat(&self) -> Option<Seat> {
        let max = self.max.load(Ordering::Relaxed);
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Seat(Arc::clone(&self.used)))
    }

    /// Waits until no thread runs, at most `limit` (after the connections' tasks were
    /// cancelled, each thread ends within [`POLL`] plus the request it is answering).
    pub async fn wait_idle(&self, limit: Duration) {
        let end = Instant::now() + limit;
        while self.used.load(Ordering::Acquire) > 0 && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A connection as its task hands it over, and as it comes back.
#[derive(Debug)]
pub struct Connection {
    /// The socket (non-blocking, out of the runtime's `epoll`, while in transit).
    pub stream: std::net::TcpStream,
    /// Bytes read and not yet used: the start of the next request.
    pub buf: Vec<u8>,
    /// The connection's response-head buffer.
    pub head: Vec<u8>,
    /// The connection's place in the slot table.
    pub slot: Slot,
}

/// A response the thread prepared and left to the task to send.
#[derive(Debug)]
pub struct Pending {
    /// The response.
    pub response: Response,
    /// Whether the connection stays open after it.
    pub persistent: bool,
    /// The request's HTTP minor version.
    pub minor_version: u8,
}

impl Pending {
    /// Whether its body is small enough for a connection thread ([`SMALL_BODY`]): one it
    /// answers there, and after which a connection moves there.
    #[must_use]
    pub fn is_small(&self) -> bool {
        self.response.body.len() <= SMALL_BODY
    }
}

/// What the task gets back: the connection, and perhaps a response to send first; nothing
/// when the connection ended on the thread (closed by the client, failed, evicted).
pub type Back = Option<(Connection, Option<Pending>)>;

/// Runs `conn` from `peer` on a new thread in `seat`; the receiver resolves when it comes back.
///
/// # Errors
///
/// No thread could be started: the connection comes back untouched, with why (always, since
/// only a started thread takes it; it is an `Option` so that no case is assumed away).
pub fn hand_over(
    conn: Connection,
    peer: SocketAddr,
    shared: Arc<Shared>,
    seat: Seat,
) -> Result<oneshot::Receiver<Back>, (Option<Connection>, io::Error)> {
    let (back, returned) = oneshot::channel();
    // The thread takes the connection out of here; when it cannot start, the task does.
    let parcel = Arc::new(Mutex::new(Some(conn)));
    let theirs = Arc::clone(&parcel);
    let spawned = std::thread::Builder::new()
        .name("http-conn".into())
        .stack_size(STACK_SIZE)
        .spawn(move || {
            let conn = theirs.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(conn) = conn {
                let r = run(conn, peer, &shared, &back);
                drop(seat);
                let _ = back.send(r);
            }
        });
    match spawned {
        Ok(_) => Ok(returned),
        Err(e) => Err((
            parcel.lock().unwrap_or_else(PoisonError::into_inner).take(),
            e,
        )),
    }
}

/// The thread: sets the socket's modes, serves, and gives the connection back when it is to
/// go on on the event loop.
fn run(
    mut conn: Connection,
    peer: SocketAddr,
    shared: &Shared,
    back: &oneshot::Sender<Back>,
) -> Back {
    let blocking = conn
        .stream
        .set_nonblocking(false)
        .and_then(|()| conn.stream.set_read_timeout(Some(POLL)))
        .and_then(|()| conn.stream.set_write_timeout(Some(POLL)));
    if let Err(e) = blocking {
        tracing::debug!(client = %peer, error = %e, "HTTP connection thread: socket setup failed");
        return None;
    }
    let step = serve(&mut conn, peer, shared, back);
    match step {
        Step::Ended => None,
        Step::Return(pending) => {
            if conn.stream.set_nonblocking(true).is_err() {
                return None;
            }
            Some((conn, pending.map(|p| *p)))
        }
    }
}

/// How the thread's service ended.
enum Step {
    /// The connection is done with.
    Ended,
    /// The connection goes back to the event loop, perhaps with a response to send (boxed: a
    /// response is large, and this is the rare way out).
    Return(Option<Box<Pending>>),
}

/// Waits for requests and answers them, as [`super::conn`] does on the event loop, until the
/// connection ends or is to go back (see the module docs).
fn serve(
    conn: &mut Connection,
    peer: SocketAddr,
    shared: &Shared,
    back: &oneshot::Sender<Back>,
) -> Step {
    let gone = || back.is_closed();
    // One read's worth, reused: what arrives is copied into `buf` (a request head, a few
    // hundred bytes), where growing `buf` for every read would clear the room first.
    let mut chunk = [0u8; super::conn::READ_SIZE];
    loop {
        if conn.buf.is_empty() {
            if !conn.slot.idle() {
                return Step::Ended;
            }
            let held = Instant::now() + HOLD;
            loop {
                match read_some(&mut conn.stream, &mut chunk, &mut conn.buf) {
                    Ok(0) => return Step::Ended,
                    Ok(_) => break,
                    Err(e) if timed_out(&e) => {
                        // Looked at between reads only: `idle` above just said it was not
                        // evicted, and a request usually waits already.
                        if gone() || conn.slot.is_evicted() {
                            return Step::Ended;
                        }
                        if Instant::now() >= held {
                            return Step::Return(None);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Step::Ended,
                }
            }
            if !conn.slot.busy() {
                return Step::Ended;
            }
        }
        // A head not complete in what was read, or malformed: the task reads on (with its
        // timeout) or answers the error.
        let Ok(Some((head, used))) = request::parse(&conn.buf) else {
            return Step::Return(None);
        };
        conn.buf.drain(..used);
        let next = super::conn::prepare(head, peer, shared);
        if !next.persistent || !next.is_small() {
            return Step::Return(Some(Box::new(next)));
        }
        let mut response = next.response;
        response.head(true, next.minor_version, &mut conn.head);
        let sent = super::body::send_blocking(
            &conn.stream,
            &conn.head,
            &response.body,
            &mut response.log,
            shared.send_timeout(),
            &gone,
        );
        if let Err(e) = sent {
            response.log.error = Some(e.to_string());
            return Step::Ended;
        }
    }
}

/// One read into `chunk`, appended to `buf`.
fn read_some(
    stream: &mut std::net::TcpStream,
    chunk: &mut [u8],
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    let n = stream.read(chunk)?;
    buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    Ok(n)
}

/// Whether a blocking read failed only because its timeout ([`POLL`]) expired.
fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_run_out_come_back_and_follow_the_limit() {
        let threads = Threads::new(2);
        let a = threads.seat().expect("first seat");
        let b = threads.seat().expect("second seat");
        assert!(threads.seat().is_none(), "only two");
        drop(a);
        let c = threads.seat().expect("a seat given back is free again");
        threads.set_max(3);
        let d = threads.seat().expect("a raised limit gives a third");
        threads.set_max(0);
        assert!(threads.seat().is_none(), "none over a lowered limit");
        drop((b, c, d));
        assert_eq!(threads.used.load(Ordering::Acquire), 0);
    }
}
