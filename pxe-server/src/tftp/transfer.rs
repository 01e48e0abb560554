//! One transfer: a [`pxe_tftp::Session`] driven on its own connected UDP socket as a task
//! of the TFTP runtime, reading file bytes by position as the session asks for them, or writing
//! an upload into its temporary file and committing it when the session completes. A lock-step
//! transfer may go on, once its client has answered, on a thread of its own
//! (`lockstep.rs`), driven by the same steps with a blocking `recv`.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::FileExt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use pxe_proto::{Datagram, Destination, SansIo};
use pxe_tftp::{ErrorCode, Outcome, RequestId, RequestKind, Session, SessionEvent, TransferError};
use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

use super::Shared;
use super::clock;
use super::fs::{Data, Upload};
use super::lockstep::{Job, Seat};
use super::net;
use crate::events::{ProgressTicker, TransferId};

/// Receive buffer of a read session: ACKs are 4 bytes, ERRORs carry a short message.
const READ_RECV_BUFFER: usize = 1024;

/// Most datagrams handed to one send. Eight amortise the syscall well and keep the
/// per-transfer transmit slots small (8 × 1472 bytes at blksize 1468): with many concurrent
/// transfers, memory per transfer matters more than the last syscall.
const BATCH_MAX: usize = 8;

/// Window buffers larger than a transfer's own transmit slots, shared by all transfers: a
/// window is read into one, copied into the session by `supply`, and the buffer goes back.
/// Memory then scales with concurrent reads (a few), not with transfers (thousands).
static SCRATCH_POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Buffers kept in [`SCRATCH_POOL`] at most.
const SCRATCH_POOL_MAX: usize = 8;

/// File bytes read between two checks that the file is still the one opened (an `fstat`),
/// besides the check of the read that reaches the file's end, which is never skipped. A
/// lock-step transfer reads one block per round trip, and an `fstat` after every read was
/// one of its five system calls per block; checked every 256 KiB, a change is still seen
/// within 256 KiB of transfer, and no file that changed is ever reported sent whole.
const CHECK_INTERVAL: u64 = 256 << 10;

/// File bytes a lock-step read session reads with one `pread` once the client has
/// acknowledged its first block: a lock-step transfer asks for one block per round trip, and
/// a `pread` per block was one of its system calls per block (atftpd reads through a stdio
/// buffer the same way). Not before that ACK, so an unanswered request costs no buffer.
const READ_AHEAD: usize = 16 << 10;

/// The file bytes a lock-step read session has read ahead ([`READ_AHEAD`]).
#[derive(Debug, Default)]
struct ReadAhead {
    /// Empty until the first read ahead.
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    at: u64,
    /// Valid bytes in `buf`.
    len: usize,
    /// The read came back short: `buf[..len]` ends at the end of the file.
    eof: bool,
}

impl ReadAhead {
    /// The held bytes of `offset..offset + len` (fewer at the end of the file), if held.
    fn get(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(offset.checked_sub(self.at)?).ok()?;
        let end = start.checked_add(len)?;
        if end <= self.len {
            Some(&self.buf[start..end])
        } else if self.eof && start <= self.len {
            Some(&self.buf[start..self.len])
        } else {
            None
        }
    }
}

/// Where a transfer's bytes come from or go to.
#[derive(Debug)]
pub enum Io {
    /// RRQ: read by position from this.
    Read(Data),
    /// WRQ: written by position into this temporary file, which replaces the target only when
    /// the session completes.
    Write(Upload),
}

/// Longest a transfer on a lock-step thread waits in one `recv` before it looks at the stop
/// flag again: how late it may notice that the server is stopping.
const STOP_POLL: Duration = Duration::from_millis(50);

/// A transfer's connected socket.
#[derive(Debug)]
enum Socket {
    /// Non-blocking, registered with the TFTP runtime for readability only: see [`register`].
    Polled(AsyncFd<UdpSocket>),
    /// Blocking, with a receive timeout: the transfer runs on a lock-step thread.
    Blocking(UdpSocket),
}

impl Socket {
    fn udp(&self) -> &UdpSocket {
        match self {
            Self::Polled(fd) => fd.get_ref(),
            Self::Blocking(s) => s,
        }
    }
}

/// What the checks between two waits found ([`Transfer::settle`]).
enum Settled {
    /// The session is over.
    Finished,
    /// The session has something to send now (a timeout was handled, or it was aborted).
    Again,
    /// Nothing to do before a datagram arrives or this deadline passes.
    Wait(Option<pxe_proto::Instant>),
}

/// Everything one transfer task owns.
#[derive(Debug)]
pub struct Transfer {
    socket: Socket,
    session: Session,
    io: Io,
    name: String,
    /// The file's size when it was opened: a read that sees another size, or an unlinked
    /// inode (the file replaced by a rename), ends the transfer.
    size: Option<u64>,
    /// Bytes read since the file was last checked against `size` ([`CHECK_INTERVAL`]).
    unchecked: u64,
    /// `batch` transmit slots of `stride` bytes, back to back; between sends it is also where
    /// a window's file bytes are read before `supply` copies them into the session.
    tx: Vec<u8>,
    stride: usize,
    batch: usize,
    /// Lock-step reads only ([`READ_AHEAD`]).
    ahead: ReadAhead,
    rbuf: Vec<u8>,
    /// UDP GSO not yet refused by the kernel on this socket (see [`net::send_window`]).
    gso: bool,
    /// The code sent when an upload the session had completed could not be kept.
    write_failed: Option<ErrorCode>,
    /// Why the driver ended the transfer, for the summary line.
    reason: Option<String>,
    /// Sends and receives that failed with an error counted as loss ([`net::is_transient`]).
    transient_errors: u64,
    /// Progress reports, when asked for ([`Transfer::with_progress`]).
    progress: Option<(TransferId, ProgressTicker)>,
}

/// The figures of a finished transfer, for the summary log line and for tests.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The client.
    pub peer: SocketAddr,
    /// How it ended.
    pub outcome: Option<Outcome>,
    /// The core's counters.
    pub stats: pxe_tftp::TransferStats,
}

impl Transfer {
    /// Prepares a transfer: every buffer it needs is allocated here, once. `socket` is the
    /// transfer's connected, non-blocking socket, registered with the TFTP runtime by
    /// [`register`].
    pub fn new(
        socket: AsyncFd<UdpSocket>,
        session: Session,
        io: Io,
        name: String,
        size: Option<u64>,
    ) -> Self {
        let stride = session.max_transmit_len();
        let batch = usize::from(session.negotiated().windowsize).clamp(1, BATCH_MAX);
        // A read session only receives ACKs and ERRORs; a write session DATA of the block size.
        // One byte more than the largest valid datagram, so an oversized one is seen as such.
        let rlen = match io {
            Io::Read(_) => READ_RECV_BUFFER,
            Io::Write(_) => stride.max(READ_RECV_BUFFER) + 1,
        };
        Self {
            socket: Socket::Polled(socket),
            session,
            io,
            name,
            size,
            unchecked: 0,
            tx: vec![0; stride * batch],
            stride,
            batch,
            ahead: ReadAhead::default(),
            rbuf: vec![0; rlen],
            gso: true,
            write_failed: None,
            reason: None,
            transient_errors: 0,
            progress: None,
        }
    }

    /// Reports the byte count to `ticker` as the transfer goes, as event transfer `id`.
    #[must_use]
    pub fn with_progress(mut self, id: TransferId, ticker: ProgressTicker) -> Self {
        self.progress = Some((id, ticker));
        self
    }

    /// The transfer's id in the event stream, when it reports progress.
    #[must_use]
    pub fn event_id(&self) -> Option<TransferId> {
        self.progress.as_ref().map(|(id, _)| *id)
    }

    /// The requested name, for logs and events.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the transfer to its end and logs one summary line (a task cancelled because its
    /// handshake was evicted ends without one). `repeated` wakes when the client sends its
    /// request again. A lock-step transfer whose client has answered goes on on a lock-step
    /// thread when one is free, and this waits for it there.
    pub(super) async fn run(
        mut self,
        id: RequestId,
        shared: &Shared,
        repeated: &tokio::sync::Notify,
    ) -> Summary {
        let peer = self.session.peer();
        let local = self.socket.udp().local_addr().unwrap_or(peer);
        let seat = match self.drive(local, id, shared, repeated).await {
            Ok(Some(seat)) => seat,
            Ok(None) => return self.finish(Ok(())),
            Err(e) => return self.finish(Err(e)),
        };
        let (done, finished) = tokio::sync::oneshot::channel();
        // What is known if the lock-step thread never reports (a bug there).
        let so_far = self.session.stats().clone();
        let job = Box::new(Job {
            transfer: self,
            local,
            stop: shared.stop.clone(),
            seat,
            done,
        });
        if let Err(job) = shared.lockstep.send(job) {
            let gone = io::Error::other("the lock-step threads are gone");
            return job.transfer.finish(Err(gone));
        }
        finished.await.unwrap_or_else(|_| Summary {
            peer: shown(peer),
            outcome: None,
            stats: so_far,
        })
    }

    /// Runs the rest of the transfer on the calling thread ([`super::lockstep`]), with
    /// blocking reads; then logs its summary line, as [`Transfer::run`] does.
    pub(super) fn run_blocking(self, local: SocketAddr, stop: &watch::Receiver<bool>) -> Summary {
        let (mut transfer, made) = self.into_blocking();
        let result = made.and_then(|()| transfer.drive_blocking(local, stop));
        transfer.finish(result)
    }

    /// The same transfer on a blocking socket: taken out of the runtime, so the runtime's
    /// `epoll` no longer hears of its datagrams. A socket left non-blocking (the error) must
    /// not be waited on.
    fn into_blocking(self) -> (Self, io::Result<()>) {
        let socket = match self.socket {
            Socket::Polled(fd) => fd.into_inner(),
            Socket::Blocking(s) => s,
        };
        let made = socket.set_nonblocking(false);
        let transfer = Self {
            socket: Socket::Blocking(socket),
            ..self
        };
        (transfer, made)
    }

    /// After the session ended, or `result` failed: a socket error aborts the session (ERROR 0
    /// to the client, best effort); logs the summary line and returns the summary.
    fn finish(mut self, result: io::Result<()>) -> Summary {
        let peer = self.session.peer();
        if let Err(e) = result {
            tracing::warn!(client = %shown(peer), file = %self.name, error = %e, "transfer socket failed");
            let now = clock::now();
            self.session
                .abort(now, ErrorCode::NotDefined, "server socket error");
            // Best effort: a failed send need not mean the ERROR cannot go out, and without it
            // the client waits out all its retransmission timeouts.
            let slot = &mut self.tx[..self.stride];
            while let Some(t) = self.session.poll_transmit(now, slot) {
                let _ = send_one(self.socket.udp(), &slot[..t.len]);
            }
        }
        let outcome = match self.write_failed {
            Some(code) => Some(Outcome::Failed(TransferError::Aborted { code })),
            None => self.session.outcome().cloned(),
        };
        let summary = Summary {
            peer: shown(peer),
            outcome,
            stats: self.session.stats().clone(),
        };
        log_summary(
            &summary,
            &self.name,
            self.session.kind(),
            self.reason.as_deref(),
            self.transient_errors,
        );
        summary
    }

    /// Drives the session on the runtime until it ends (`None`), or until its client has
    /// answered a lock-step transfer and a lock-step thread is free: then returns that
    /// thread's seat, and the transfer goes on there from where this left it.
    async fn drive(
        &mut self,
        local: SocketAddr,
        id: RequestId,
        shared: &Shared,
        repeated: &tokio::sync::Notify,
    ) -> io::Result<Option<Seat>> {
        // The wake-up sources live across iterations: a lock-step transfer goes round this loop
        // once per block, and creating them anew each time registers and unregisters a waiter
        // (a mutex each) and re-arms the timer for every block. Each is replaced only when it
        // has fired.
        let mut stopping = *shared.stop.borrow();
        let mut stop_rx = shared.stop.clone();
        // Resolves once the server is stopping (or its stop sender is gone with it).
        let stop = async move {
            while !*stop_rx.borrow_and_update() {
                if stop_rx.changed().await.is_err() {
                    break;
                }
            }
        };
        tokio::pin!(stop);
        let mut notified = std::pin::pin!(repeated.notified());
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        // The deadline the timer is armed for. In lock-step the session's deadline only moves
        // later (each block restarts its retransmission timeout), so the timer is re-armed only
        // when the deadline moves earlier; a stale one fires, and the loop re-checks
        // `poll_timeout` and arms it again.
        let mut armed: Option<pxe_proto::Instant> = None;
        // Read once per wake-up, and again only between the batches of a window: a lock-step
        // block is one turn (wake, read, send), so it costs one clock read, not two.
        let mut now = clock::now();
        loop {
            if self.drain_events(now) {
                shared.table().server.established(id);
                // A transfer that ended with its first ACK (a one-block file) has nothing
                // left to run there.
                if self.batch == 1
                    && !stopping
                    && !self.session.is_finished()
                    && let Some(seat) = shared.lockstep.seat()
                {
                    return Ok(Some(seat));
                }
            }
            self.drain_writes(now);
            if self.transmit(now)? {
                // Perhaps more of the window to send: the reads and sends so far took time (a
                // preemption, on a loaded machine), and the next DATA's timer starts now. A
                // lock-step batch is one DATA, always full, and nothing follows it.
                if self.batch > 1 {
                    now = clock::now();
                }
                continue;
            }
            match self.settle(now, stopping) {
                Settled::Finished => return Ok(None),
                Settled::Again => continue,
                Settled::Wait(Some(d)) if armed.is_none_or(|a| d < a) => {
                    sleep.as_mut().reset(clock::to_tokio(d));
                    armed = Some(d);
                }
                Settled::Wait(_) => {}
            }
            tokio::select! {
                biased;
                () = &mut stop, if !stopping => {
                    stopping = true;
                    now = clock::now();
                }
                () = &mut notified => {
                    notified.set(repeated.notified());
                    now = clock::now();
                    self.session.handle_repeat(now);
                }
                r = recv(&self.socket, &mut self.rbuf) => {
                    now = clock::now();
                    self.received(now, local, r)?;
                }
                // Armed for a deadline that may since have moved later: the loop's top
                // handles the timeout only if it is due, and re-arms otherwise.
                () = &mut sleep, if armed.is_some() => {
                    armed = None;
                    now = clock::now();
                }
            }
        }
    }

    /// [`Transfer::drive`]'s loop on a lock-step thread: the same steps, with the socket
    /// blocking in `recv` until a datagram comes or the session's deadline (or [`STOP_POLL`])
    /// passes. A process blocked on its one socket is woken straight from the packet's
    /// delivery; an event loop is woken through `epoll` first, which made each lock-step block
    /// 5–8 % dearer on both sides (`benches/README.md`, "Lock-step: where the last 5–8 % go").
    fn drive_blocking(
        &mut self,
        local: SocketAddr,
        stop: &watch::Receiver<bool>,
    ) -> io::Result<()> {
        // The receive timeout in force. In lock-step the deadline is one retransmission
        // timeout after each DATA, so the wait wanted barely changes from block to block and
        // the socket option is set again only when it does.
        let mut in_force: Option<Duration> = None;
        let mut now = clock::now();
        loop {
            self.drain_events(now);
            self.drain_writes(now);
            if self.transmit(now)? {
                continue;
            }
            // A stop sender that is gone means the server is gone too.
            let stopping = stop.has_changed().is_err() || *stop.borrow();
            let wait = match self.settle(now, stopping) {
                Settled::Finished => return Ok(()),
                Settled::Again => continue,
                Settled::Wait(d) => d.map_or(STOP_POLL, |d| {
                    Duration::from_micros(d.as_micros().saturating_sub(now.as_micros()))
                        .clamp(Duration::from_millis(1), STOP_POLL)
                }),
            };
            if in_force.is_none_or(|f| wait + Duration::from_millis(1) < f || wait > f * 2) {
                self.socket.udp().set_read_timeout(Some(wait))?;
                in_force = Some(wait);
            }
            let r = self.socket.udp().recv(&mut self.rbuf);
            now = clock::now();
            match r {
                // The wait ran out: the checks above see whether the deadline passed.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                r => self.received(now, local, r)?,
            }
        }
    }

    /// Sends what the session has for the wire, one batch at most; returns whether the batch
    /// was full (more may follow). A send refused with a transient error is loss: the
    /// retransmission timer resends it.
    fn transmit(&mut self, now: pxe_proto::Instant) -> io::Result<bool> {
        let peer = self.session.peer();
        let (stride, batch) = (self.stride, self.batch);
        let mut lens = [0usize; BATCH_MAX];
        let mut n = 0;
        while n < batch {
            let slot = &mut self.tx[n * stride..(n + 1) * stride];
            let Some(t) = self.session.poll_transmit(now, slot) else {
                break;
            };
            match t.destination {
                Destination::Unicast(to) if to != peer => {
                    // An ERROR 5 to a stranger; cannot happen on a connected socket, but
                    // the session may queue one.
                    let _ = self.socket.udp().send_to(&slot[..t.len], to);
                }
                _ => {
                    lens[n] = t.len;
                    n += 1;
                }
            }
        }
        let sent = match n {
            0 => Ok(()),
            1 => send_one(self.socket.udp(), &self.tx[..lens[0]]),
            _ => net::send_window(
                self.socket.udp(),
                &self.tx,
                stride,
                &lens[..n],
                &mut self.gso,
            ),
        };
        match sent {
            Ok(()) => {}
            Err(e) if net::is_transient(&e) => self.transient_errors += 1,
            Err(e) => return Err(e),
        }
        Ok(n == batch)
    }

    /// The checks between sending and waiting: whether the session is over, whether the
    /// server is stopping (the session is aborted: ERROR 0 to the client) and whether its
    /// deadline has passed (handled here).
    fn settle(&mut self, now: pxe_proto::Instant, stopping: bool) -> Settled {
        if self.session.is_finished() {
            return Settled::Finished;
        }
        if stopping {
            self.session
                .abort(now, ErrorCode::NotDefined, "server shutting down");
            return Settled::Again;
        }
        match self.session.poll_timeout() {
            Some(d) if d <= now => {
                self.session.handle_timeout(now);
                Settled::Again
            }
            d => Settled::Wait(d),
        }
    }

    /// Feeds what a `recv` on the transfer's socket (bound to `local`) gave into the session;
    /// a transient error is loss, counted.
    fn received(
        &mut self,
        now: pxe_proto::Instant,
        local: SocketAddr,
        r: io::Result<usize>,
    ) -> io::Result<()> {
        match r {
            Ok(len) => {
                let peer = self.session.peer();
                let dgram = Datagram::new(peer, local, &self.rbuf[..len]);
                self.session.handle_datagram(now, dgram);
                if let Some((_, p)) = &mut self.progress {
                    p.tick(self.session.stats().bytes);
                }
                Ok(())
            }
            // An ICMP error for an earlier datagram, a firewall: loss, nothing more.
            Err(e) if net::is_transient(&e) => {
                self.transient_errors += 1;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Serves the session's events; returns whether it reported `Established`.
    fn drain_events(&mut self, now: pxe_proto::Instant) -> bool {
        let mut established = false;
        while let Some(ev) = self.session.poll_event() {
            let (offset, len) = match ev {
                SessionEvent::NeedData { offset, len } => (offset, len),
                SessionEvent::Established => {
                    established = true;
                    continue;
                }
                _ => continue,
            };
            let Io::Read(data) = &self.io else { continue };
            // The transmit slots are free while the session takes data (everything polled is
            // sent before the next input); a larger window borrows a pooled buffer.
            let result = if self.batch == 1
                && offset > 0
                && len.saturating_mul(2) <= READ_AHEAD
                && matches!(data, Data::File(_))
            {
                read_ahead_and_supply(
                    &mut self.session,
                    data,
                    (self.size, &mut self.unchecked),
                    &mut self.ahead,
                    offset,
                    len,
                )
            } else if len <= self.tx.len() {
                read_and_supply(
                    &mut self.session,
                    data,
                    (self.size, &mut self.unchecked),
                    &mut self.tx[..len],
                    offset,
                )
            } else {
                let mut buf = SCRATCH_POOL
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop()
                    .unwrap_or_default();
                if buf.len() < len {
                    buf.resize(len, 0);
                }
                let r = read_and_supply(
                    &mut self.session,
                    data,
                    (self.size, &mut self.unchecked),
                    &mut buf[..len],
                    offset,
                );
                let mut pool = SCRATCH_POOL.lock().unwrap_or_else(PoisonError::into_inner);
                if pool.len() < SCRATCH_POOL_MAX {
                    pool.push(buf);
                }
                r
            };
            match result {
                Ok(()) => {}
                Err(ReadError::Changed(why)) => {
                    tracing::warn!(client = %shown(self.session.peer()), file = %self.name, offset, "file changed under the transfer: {why}");
                    self.session
                        .abort(now, ErrorCode::NotDefined, "file changed on the server");
                    self.reason = Some(why);
                }
                Err(ReadError::Failed(e)) => {
                    tracing::error!(client = %shown(self.session.peer()), file = %self.name, offset, error = %e, "read failed");
                    self.session
                        .abort(now, ErrorCode::NotDefined, "read error on the server");
                    self.reason = Some(format!("read error: {e}"));
                }
            }
        }
        if let Some(Outcome::Failed(TransferError::FileChanged { size, missing })) =
            self.session.outcome()
            && self.reason.is_none()
        {
            let why = format!("the file shrank by {missing} bytes (was {size})");
            tracing::warn!(client = %shown(self.session.peer()), file = %self.name, "file changed under the transfer: {why}");
            self.reason = Some(why);
        }
        established
    }

    /// Writes received bytes into the upload's temporary file and, once the session has the
    /// last block, commits it: before the final ACK goes out (it is polled after this), so a
    /// client that got the ACK and reads the file back gets what it sent.
    fn drain_writes(&mut self, now: pxe_proto::Instant) {
        let Io::Write(upload) = &mut self.io else {
            return;
        };
        if self.write_failed.is_some() {
            return;
        }
        let mut failed = None;
        while let Some((offset, bytes)) = self.session.poll_data() {
            if let Err(e) = upload.file().write_all_at(bytes, offset) {
                failed = Some(("write failed", e));
                break;
            }
        }
        let completed = self.session.outcome() == Some(&Outcome::Completed);
        if failed.is_none() && completed && !upload.is_committed() {
            failed = upload
                .commit()
                .err()
                .map(|e| ("replacing the file failed", e));
        }
        let Some((what, e)) = failed else { return };
        let code = if e.raw_os_error() == Some(nix::libc::ENOSPC) {
            ErrorCode::DiskFull
        } else {
            ErrorCode::NotDefined
        };
        tracing::error!(client = %shown(self.session.peer()), file = %self.name, error = %e, "{what}");
        self.reason = Some(format!("{what}: {e}"));
        let message = "write error on the server";
        if completed {
            // The session holds the final ACK and would only dally now (RFC 1350 §6); abort
            // drops the ACK but sends nothing then, so the ERROR goes out from here.
            self.session.abort(now, code, message);
            let len = pxe_tftp::wire::emit_error(code, message, &mut self.tx);
            if let Err(e) = send_one(self.socket.udp(), &self.tx[..len]) {
                tracing::debug!(client = %shown(self.session.peer()), error = %e, "ERROR not sent");
            }
            self.write_failed = Some(code);
        } else {
            self.session.abort(now, code, message);
        }
    }
}

/// Why a read did not give the session its bytes.
enum ReadError {
    /// The file is not the one the transfer started with.
    Changed(String),
    /// The read itself failed.
    Failed(String),
}

/// Reads `buf.len()` bytes at `offset` (fewer at the end of the file) and checks the file is
/// still the one opened (same size, still linked: growth, truncation and replacement by a
/// rename); returns the bytes read. `check` is the size the transfer started with and the
/// bytes read since the last check: the check runs once [`CHECK_INTERVAL`] bytes were read
/// unchecked, and always for the read that reaches the announced end or comes back short, so
/// the final DATA block never leaves before the whole file was seen unchanged.
fn read_checked(
    data: &Data,
    check: (Option<u64>, &mut u64),
    buf: &mut [u8],
    offset: u64,
) -> Result<usize, ReadError> {
    let n = data
        .read_at(buf, offset)
        .map_err(|e| ReadError::Failed(e.to_string()))?;
    if let (Some(size), unchecked) = check
        && check_due(unchecked, offset, n, buf.len(), size)
    {
        data.check_unchanged(size).map_err(ReadError::Changed)?;
    }
    Ok(n)
}

/// [`read_checked`] into `buf`, then hands the bytes to the session.
fn read_and_supply(
    session: &mut Session,
    data: &Data,
    check: (Option<u64>, &mut u64),
    buf: &mut [u8],
    offset: u64,
) -> Result<(), ReadError> {
    let n = read_checked(data, check, buf, offset)?;
    session
        .supply(offset, &buf[..n])
        .map_err(|e| ReadError::Failed(e.to_string()))
}

/// Hands the session `len` bytes at `offset` from `ahead`, first reading [`READ_AHEAD`] bytes
/// from `offset` into it ([`read_checked`]) when it does not hold them. The read that reaches
/// the end of the file is checked before any of its bytes go out, so the final block still
/// never leaves unless the whole file was seen unchanged.
fn read_ahead_and_supply(
    session: &mut Session,
    data: &Data,
    check: (Option<u64>, &mut u64),
    ahead: &mut ReadAhead,
    offset: u64,
    len: usize,
) -> Result<(), ReadError> {
    if ahead.get(offset, len).is_none() {
        if ahead.buf.is_empty() {
            ahead.buf = vec![0; READ_AHEAD];
        }
        // Nothing is held while the read is in doubt: a failed one ends the transfer.
        ahead.len = 0;
        ahead.eof = false;
        let n = read_checked(data, check, &mut ahead.buf, offset)?;
        ahead.at = offset;
        ahead.len = n;
        ahead.eof = n < READ_AHEAD;
    }
    let bytes = ahead.get(offset, len).unwrap_or_default();
    session
        .supply(offset, bytes)
        .map_err(|e| ReadError::Failed(e.to_string()))
}

/// Whether the read of `n` bytes (of `len` asked) at `offset` must check the file against
/// the `size` the transfer started with: the read that reaches `size` or comes back short
/// (the last one, whatever the file did) always does, the others once [`CHECK_INTERVAL`]
/// bytes were read since the last check. `unchecked` counts those bytes.
fn check_due(unchecked: &mut u64, offset: u64, n: usize, len: usize, size: u64) -> bool {
    *unchecked = unchecked.saturating_add(n as u64);
    let last = n < len || offset.saturating_add(n as u64) >= size;
    if last || *unchecked >= CHECK_INTERVAL {
        *unchecked = 0;
        return true;
    }
    false
}

/// Registers a transfer's connected socket with the current tokio runtime, for readability
/// only: sends never wait (a full send buffer is loss), and with writable interest too every
/// datagram sent queues an EPOLLOUT edge as the kernel frees its buffer (on loopback, inside the
/// send itself), so a lock-step transfer waiting for its ACK got one extra `epoll_wait` per
/// block that returned only that edge.
///
/// # Errors
///
/// The socket could not be made non-blocking, or the runtime refused it.
#[allow(
    unsafe_code,
    reason = "tokio's AsyncFd::register_with_interest is unsafe: it cannot check that the fd stays open"
)]
pub fn register(socket: UdpSocket) -> io::Result<AsyncFd<UdpSocket>> {
    socket.set_nonblocking(true)?;
    // SAFETY: the `AsyncFd` owns the socket, whose descriptor stays open and the same until
    // the `AsyncFd` (and the socket with it) is dropped.
    let registered =
        unsafe { AsyncFd::register_with_interest(socket, tokio::io::Interest::READABLE) };
    Ok(registered?)
}

/// One datagram on the connected socket, without waiting (`MSG_DONTWAIT`, also on a lock-step
/// thread's blocking socket): a full send buffer is loss.
fn send_one(socket: &UdpSocket, buf: &[u8]) -> io::Result<()> {
    use nix::sys::socket::{MsgFlags, send};
    use std::os::fd::AsRawFd;
    send(socket.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT)
        .map(drop)
        .map_err(io::Error::from)
}

/// The next datagram on the connected socket: tried at once while the runtime has the socket
/// readable, waiting for readiness only after a `recv` found nothing (what
/// `tokio::net::UdpSocket::recv` does). In lock-step the ACK is usually there by the time the
/// DATA is out (the client ran on the send), so this `recv` gets it without an `epoll_wait`.
/// A blocking socket (a transfer on a lock-step thread) is read in place.
async fn recv(socket: &Socket, buf: &mut [u8]) -> io::Result<usize> {
    let fd = match socket {
        Socket::Polled(fd) => fd,
        Socket::Blocking(s) => return s.recv(buf),
    };
    loop {
        let mut ready = fd.readable().await?;
        if let Ok(r) = ready.try_io(|s| s.get_ref().recv(buf)) {
            return r;
        }
    }
}

/// A client address for logs: IPv4 clients of a dual-stack socket as plain IPv4.
#[must_use]
pub fn shown(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// Megabytes (MiB) per second, for logs.
#[must_use]
pub fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    let secs = d.as_secs_f64().max(1e-6);
    (bytes as f64 / (1024.0 * 1024.0)) / secs
}

fn log_summary(
    s: &Summary,
    name: &str,
    kind: RequestKind,
    reason: Option<&str>,
    transient_errors: u64,
) {
    let st = &s.stats;
    let duration = st.duration().unwrap_or_default();
    let mib_s = (mib_per_s(st.bytes, duration) * 100.0).round() / 100.0;
    let dir = match kind {
        RequestKind::Read => "read",
        RequestKind::Write => "write",
    };
    let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    macro_rules! line {
        ($level:ident, $result:expr, $msg:literal) => {
            tracing::$level!(
                client = %s.peer, file = %name, dir, bytes = st.bytes, blksize = st.blksize,
                windowsize = st.windowsize, duration_ms = ms, mib_s, retransmits = st.retransmits,
                timeouts = st.timeouts, result = %$result, transient_errors,
                reason = reason.unwrap_or(""), $msg
            )
        };
    }
    match &s.outcome {
        Some(Outcome::Completed) => line!(info, "ok", "transfer"),
        Some(Outcome::SizeProbe) => {
            line!(debug, "tsize probe (client aborted after OACK)", "transfer")
        }
        // A request whose client never answered: a flood or a spoofed source as often as a
        // client that gave up; one warning per packet of a flood would drown the log.
        Some(Outcome::Failed(e)) if !st.established => line!(debug, e, "request never answered"),
        Some(Outcome::Failed(e)) => line!(warn, e, "transfer failed"),
        Some(other) => line!(warn, format!("{other:?}"), "transfer failed"),
        None => line!(warn, "unfinished", "transfer failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_ahead_serves_what_it_holds_and_a_short_read_up_to_the_end_of_the_file() {
        let mut ahead = ReadAhead {
            buf: (0..=255).collect(),
            at: 1000,
            len: 256,
            eof: false,
        };
        assert_eq!(ahead.get(1000, 16), Some(&ahead.buf[..16]));
        assert_eq!(ahead.get(1240, 16), Some(&ahead.buf[240..256]));
        // Past what was read, before it, or reaching beyond it: read again.
        assert_eq!(ahead.get(1241, 16), None);
        assert_eq!(ahead.get(999, 16), None);
        assert_eq!(ahead.get(2000, 16), None);
        assert_eq!(ahead.get(u64::MAX, 16), None);
        // The read came back short: the file ends at byte 1256, so a block reaching past it
        // gets the rest, and one starting at the end gets nothing (the empty final block).
        ahead.eof = true;
        assert_eq!(ahead.get(1250, 16), Some(&ahead.buf[250..256]));
        assert_eq!(ahead.get(1256, 16), Some(&[][..]));
        assert_eq!(ahead.get(1257, 16), None);
        // Nothing held: nothing served.
        let empty = ReadAhead::default();
        assert_eq!(empty.get(5, 1), None);
    }

    /// Lock-step reads of a file of `size` bytes in `blksize` blocks (the last one short):
    /// the offsets whose read checks the file.
    fn checked_offsets(size: u64, blksize: usize) -> Vec<u64> {
        let mut unchecked = 0;
        let mut checked = Vec::new();
        let mut offset = 0;
        loop {
            let len = usize::try_from((size - offset).min(blksize as u64)).unwrap();
            if check_due(&mut unchecked, offset, len, len, size) {
                checked.push(offset);
            }
            offset += len as u64;
            if offset >= size {
                return checked;
            }
        }
    }

    #[test]
    fn the_read_reaching_the_end_is_always_checked_and_the_others_every_interval() {
        let size = 1_000_000;
        let checked = checked_offsets(size, 1468);
        assert_eq!(checked.last(), Some(&(size - size % 1468)), "{checked:?}");
        // Never more than CHECK_INTERVAL bytes read between two checks.
        let mut prev = 0;
        for &c in &checked {
            assert!(c + 1468 - prev <= CHECK_INTERVAL + 1468, "{checked:?}");
            prev = c + 1468;
        }
        assert_eq!(checked.len(), 4, "{checked:?}");
        // A file shorter than the interval: only its last read.
        assert_eq!(checked_offsets(64 << 10, 512), vec![(64 << 10) - 512]);
    }

    #[test]
    fn a_short_read_or_one_past_the_announced_size_is_checked() {
        let mut unchecked = 0;
        // The file shrank: the read comes back short, long before the announced end.
        assert!(check_due(&mut unchecked, 0, 100, 512, 1 << 20));
        // A window clamped to the announced end that still filled (the file grew).
        assert!(!check_due(&mut unchecked, 0, 512, 512, 1 << 20));
        assert!(check_due(
            &mut unchecked,
            (1 << 20) - 512,
            512,
            512,
            1 << 20
        ));
        assert_eq!(unchecked, 0);
    }
}
