//! One transfer on the server side, after [`Incoming::accept`](crate::Incoming::accept).

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;

use pxe_proto::{Datagram, Destination, Duration, Instant, SansIo, Transmit, Writer};

use crate::error::{Error, TransferError};
use crate::netascii::Encoder;
use crate::options::{Negotiated, RequestedOptions, TftpOption};
use crate::receiver::{DataOutcome, Receiver};
use crate::rto::Rto;
use crate::server::{FileInfo, RequestKind, ServerConfig};
use crate::stray::Strays;
use crate::wire::{self, BlockNumber, ErrorCode, Mode, Opcode, Packet, Repr};

/// What a session tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The client has shown that it receives: a well-formed ACK or DATA arrived from it on the
    /// transfer port, which only a client that got the first reply knows. Until then the session
    /// is a handshake (see [`ServerConfig::max_handshakes`]); pass this on to
    /// [`Server::established`](crate::Server::established). Reported once.
    Established,
    /// Read file bytes `offset..offset + len` and pass them to
    /// [`Session::supply`]. Fewer bytes (down to none) mean the file ends there. A read session
    /// asks for a whole window at once when it can; at most one request is pending.
    NeedData {
        /// File offset (raw file bytes, also in netascii mode).
        offset: u64,
        /// Bytes wanted.
        len: usize,
    },
    /// The transfer is over. For a write session, received bytes are all handed out through
    /// [`Session::poll_data`] before this event is returned.
    Finished(Outcome),
}

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Every byte was delivered (for a read: the last ACK arrived, or only the final ACK was
    /// missing after all retries, see [`TransferStats::final_ack_missing`]).
    Completed,
    /// The client aborted right after an OACK carrying `tsize`: UEFI firmware does this to
    /// learn a file's size (ERROR 8 after the OACK), then requests the file again. Normal.
    SizeProbe,
    /// The transfer failed.
    Failed(TransferError),
}

/// Per-session counters for logs and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferStats {
    /// When the session was created.
    pub started: Instant,
    /// When it finished.
    pub finished: Option<Instant>,
    /// DATA payload bytes acknowledged (read) or received in order (write), as on the wire
    /// (netascii-encoded in netascii mode).
    pub bytes: u64,
    /// DATA blocks acknowledged (read) or received in order (write).
    pub blocks: u64,
    /// Datagrams sent to the peer.
    pub packets_sent: u64,
    /// DATA or OACK packets sent again: after a timeout, or after an ACK inside the window
    /// restarted it (RFC 7440; at most once per window of progress).
    pub retransmits: u64,
    /// Retransmission timer expiries.
    pub timeouts: u64,
    /// Whether the client showed that it receives (see [`SessionEvent::Established`]).
    pub established: bool,
    /// ACKs for the block before the window (ignored: no Sorcerer's Apprentice resend).
    pub duplicate_acks: u64,
    /// Duplicate or out-of-order DATA received (write).
    pub duplicate_data: u64,
    /// Packets from the peer that were malformed or made no sense now, and were dropped.
    pub ignored: u64,
    /// Packets from another address or port (answered with ERROR 5).
    pub wrong_tid: u64,
    /// Negotiated block size.
    pub blksize: u16,
    /// Negotiated window size.
    pub windowsize: u16,
    /// Smoothed round-trip time, once measured (updated as samples arrive).
    pub srtt: Option<Duration>,
    /// The read ended without the final ACK after all retries, although every block of the
    /// final window was sent (the client most likely has the file and left; dnsmasq accepts
    /// this too). `bytes` then counts only what was acknowledged.
    pub final_ack_missing: bool,
}

impl TransferStats {
    pub(crate) fn new(now: Instant, n: &Negotiated) -> Self {
        TransferStats {
            started: now,
            finished: None,
            bytes: 0,
            blocks: 0,
            packets_sent: 0,
            retransmits: 0,
            timeouts: 0,
            established: false,
            duplicate_acks: 0,
            duplicate_data: 0,
            ignored: 0,
            wrong_tid: 0,
            blksize: n.blksize,
            windowsize: n.windowsize,
            srtt: None,
            final_ack_missing: false,
        }
    }

    /// Time from start to finish, once finished.
    pub fn duration(&self) -> Option<Duration> {
        self.finished.map(|f| f - self.started)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// OACK (or a WRQ's ACK 0) sent, waiting for ACK 0 (read) or DATA 1 (write).
    Negotiating,
    Transfer,
    /// Write finished; re-ACK a resent last block until the deadline.
    Dally,
    Done,
}

/// The window of a read transfer: a ring of `windowsize` block slots filled by `supply`.
#[derive(Debug)]
struct Sender {
    blksize: usize,
    window: u64,
    ring: Vec<u8>,
    /// Per slot: when its block was last sent, and whether it was ever resent (Karn's rule).
    sent_at: Vec<Instant>,
    resent: Vec<bool>,
    /// First unacknowledged block.
    base: u64,
    /// Next block to transmit.
    next: u64,
    /// Blocks below this are in the ring.
    filled: u64,
    /// Blocks below this were sent at least once.
    high: u64,
    /// Whether an ACK inside the window may restart it, and the ACK that re-allows it.
    restart_armed: bool,
    rearm_at: u64,
    /// The final (short) block and its length, once known.
    last: Option<(u64, usize)>,
    /// The pending `NeedData`: first block, block count, offset, length.
    request: Option<(u64, u64, u64, usize)>,
    size: Option<u64>,
    ascii: Option<Ascii>,
}

#[derive(Debug)]
struct Ascii {
    encoder: Encoder,
    raw_offset: u64,
    eof: bool,
}

impl Sender {
    fn new(now: Instant, n: &Negotiated, mode: Mode, size: Option<u64>) -> Self {
        let blksize = usize::from(n.blksize);
        let window = usize::from(n.windowsize.max(1));
        Sender {
            blksize,
            window: window as u64,
            // Allocated by the first `want`: a handshake that is never answered costs no window.
            ring: Vec::new(),
            sent_at: vec![now; window],
            resent: vec![false; window],
            base: 1,
            next: 1,
            filled: 1,
            high: 1,
            restart_armed: true,
            rearm_at: 0,
            last: None,
            request: None,
            size,
            ascii: (mode == Mode::Netascii).then(|| Ascii {
                encoder: Encoder::default(),
                raw_offset: 0,
                eof: false,
            }),
        }
    }

    fn slot(&self, block: u64) -> usize {
        (block % self.window) as usize
    }

    fn slot_bytes(&mut self, block: u64) -> &mut [u8] {
        let start = self.slot(block) * self.blksize;
        &mut self.ring[start..start + self.blksize]
    }

    fn block_len(&self, block: u64) -> usize {
        match self.last {
            Some((l, len)) if l == block => len,
            _ => self.blksize,
        }
    }

    /// The next `NeedData`, if the window has free slots and none is pending. Blocks that need
    /// no file bytes (the empty final block) are filled directly.
    fn want(&mut self) -> Option<SessionEvent> {
        if self.ring.is_empty() {
            self.ring = vec![0; self.blksize * self.window as usize];
        }
        loop {
            if self.request.is_some() {
                return None;
            }
            let mut end = self.base + self.window;
            if let Some((l, _)) = self.last {
                end = end.min(l + 1);
            }
            if self.filled >= end {
                return None;
            }
            let first = self.filled;
            if let Some(ascii) = &self.ascii {
                if ascii.eof {
                    self.fill_ascii(&[], true);
                    continue;
                }
                self.request = Some((first, 1, ascii.raw_offset, self.blksize));
                return Some(SessionEvent::NeedData {
                    offset: ascii.raw_offset,
                    len: self.blksize,
                });
            }
            let bs = self.blksize as u64;
            let offset = (first - 1) * bs;
            let mut blocks = end - first;
            let mut len = blocks * bs;
            if let Some(size) = self.size {
                let remaining = size.saturating_sub(offset);
                if remaining < len {
                    len = remaining;
                    blocks = blocks.min(remaining / bs + 1);
                }
            }
            if len == 0 {
                self.last = Some((first, 0));
                self.filled = first + 1;
                continue;
            }
            let len = len as usize;
            self.request = Some((first, blocks, offset, len));
            return Some(SessionEvent::NeedData { offset, len });
        }
    }

    /// Takes the bytes of the pending request. `Ok(Some(shortfall))` when the file ended before
    /// the size it had when the transfer started (`FileInfo::size`): it shrank under the
    /// transfer, and what was announced as `tsize` can no longer be sent.
    fn supply(&mut self, offset: u64, data: &[u8]) -> Result<Option<u64>, Error> {
        let Some((first, blocks, want_offset, len)) = self.request else {
            return Err(Error::UnexpectedOffset {
                got: offset,
                expected: None,
            });
        };
        if offset != want_offset {
            return Err(Error::UnexpectedOffset {
                got: offset,
                expected: Some(want_offset),
            });
        }
        if data.len() > len {
            return Err(Error::TooMuchData {
                len: data.len(),
                max: len,
            });
        }
        self.request = None;
        if self.ascii.is_some() {
            self.fill_ascii(data, data.len() < len);
            return Ok(None);
        }
        if data.len() < len
            && let Some(size) = self.size
        {
            return Ok(Some(size - offset - data.len() as u64));
        }
        let bs = self.blksize;
        for (i, chunk) in data.chunks(bs).enumerate() {
            self.slot_bytes(first + i as u64)[..chunk.len()].copy_from_slice(chunk);
        }
        if (data.len() as u64) < blocks * bs as u64 {
            let last = first + (data.len() / bs) as u64;
            self.last = Some((last, data.len() % bs));
            self.filled = last + 1;
        } else {
            self.filled = first + blocks;
        }
        Ok(None)
    }

    fn fill_ascii(&mut self, data: &[u8], eof: bool) {
        let block = self.filled;
        let start = self.slot(block) * self.blksize;
        let Some(ascii) = self.ascii.as_mut() else {
            return;
        };
        let out = &mut self.ring[start..start + self.blksize];
        let (consumed, written) = ascii.encoder.encode(data, out);
        ascii.raw_offset += consumed as u64;
        if eof && consumed == data.len() {
            ascii.eof = true;
        }
        if ascii.eof && !ascii.encoder.has_carry() && written < self.blksize {
            self.last = Some((block, written));
        }
        self.filled = block + 1;
    }

    /// Whether a DATA packet is ready to go.
    fn can_send(&self) -> bool {
        self.next < self.filled
            && self.next < self.base + self.window
            && self.last.is_none_or(|(l, _)| self.next <= l)
    }
}

/// What kind of transfer the session runs.
#[derive(Debug)]
enum Role {
    Read(Sender),
    Write(Receiver),
}

/// One server-side transfer: implements [`SansIo`] with [`SessionEvent`]s. Feed it the
/// datagrams arriving on its own port.
///
/// A read session asks for file bytes with [`SessionEvent::NeedData`] and gets them through
/// [`supply`](Session::supply); it keeps one window of blocks (`windowsize × blksize` bytes,
/// allocated once) and allocates nothing per packet. A write session hands received bytes out
/// through [`poll_data`](Session::poll_data) and sets no limit on an upload's size: the driver
/// enforces its own (refuse an [`Incoming`](crate::Incoming) whose WRQ `tsize` is too large,
/// and [`abort`](Session::abort) with [`ErrorCode::DiskFull`] when the bytes exceed it — RFC
/// 2349 §3).
///
/// Retransmission is timer-only (RFC 1123 §4.2.3.1): a duplicate ACK never causes a send. The
/// timer follows the client's `timeout`/`utimeout` if negotiated, otherwise an RFC 6298
/// estimate bounded by [`ServerConfig::rto_min`]/[`rto_max`](ServerConfig::rto_max), doubling
/// on each expiry up to [`ServerConfig::max_retries`].
#[derive(Debug)]
pub struct Session {
    peer: SocketAddr,
    kind: RequestKind,
    mode: Mode,
    negotiated: Negotiated,
    config: ServerConfig,
    role: Role,
    phase: Phase,
    rto: Rto,
    retries: u32,
    deadline: Option<Instant>,
    /// The OACK (or a WRQ's ACK 0) must be (re)sent, and when it was last sent.
    negotiation_due: bool,
    negotiation_sent: Option<(Instant, bool)>,
    events: VecDeque<SessionEvent>,
    stray: Strays,
    /// A final ERROR to send to the peer.
    error_out: Option<(ErrorCode, String)>,
    outcome: Option<Outcome>,
    stats: TransferStats,
    /// The latest `now` given to the session (`supply` takes none).
    last_input: Instant,
    /// When a handshake gives up: [`ServerConfig::handshake_timeout`] after the start, but
    /// never before two retransmission timeouts have run (a client that negotiated a long
    /// `timeout` still gets its retransmission).
    handshake_deadline: Instant,
    /// When the transfer last moved forward (started, the window advanced, a block arrived).
    last_progress: Instant,
}

impl Session {
    pub(crate) fn new(
        now: Instant,
        peer: SocketAddr,
        kind: RequestKind,
        mode: Mode,
        options: &RequestedOptions,
        config: ServerConfig,
        file: FileInfo,
    ) -> Session {
        let write = kind == RequestKind::Write;
        let negotiated = Negotiated::server(options, &config.limits(), mode, write, file.size);
        let rto = Rto::new(
            config.rto_initial,
            config.rto_min,
            config.rto_max,
            negotiated.timeout,
        );
        let mut events = VecDeque::new();
        let role = if write {
            Role::Write(Receiver::new(
                &negotiated,
                mode == Mode::Netascii,
                config.window_bytes_max,
            ))
        } else {
            let size = if mode == Mode::Netascii {
                None
            } else {
                file.size
            };
            let mut sender = Sender::new(now, &negotiated, mode, size);
            // With an OACK, file bytes are first needed after ACK 0: a handshake that is never
            // answered reads nothing and holds no window.
            if !negotiated.has_oack() {
                events.extend(sender.want());
            }
            Role::Read(sender)
        };
        // A read without options starts with DATA 1; everything else with OACK or ACK 0.
        let negotiating = negotiated.has_oack() || write;
        let first_rto = rto.current();
        let handshake_deadline = now
            + config
                .handshake_timeout
                .max(first_rto + first_rto + first_rto);
        Session {
            peer,
            kind,
            mode,
            stats: TransferStats::new(now, &negotiated),
            negotiated,
            config,
            role,
            phase: if negotiating {
                Phase::Negotiating
            } else {
                Phase::Transfer
            },
            rto,
            retries: 0,
            deadline: None,
            negotiation_due: negotiating,
            negotiation_sent: None,
            events,
            stray: Strays::default(),
            error_out: None,
            outcome: None,
            last_input: now,
            handshake_deadline,
            last_progress: now,
        }
    }

    /// The client's address and port.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Read or write.
    pub fn kind(&self) -> RequestKind {
        self.kind
    }

    /// The transfer mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The options in force and those acknowledged in the OACK.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Counters.
    pub fn stats(&self) -> &TransferStats {
        &self.stats
    }

    /// How the transfer ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Whether the session is over and has nothing left to send: the driver can close its
    /// port and drop it. A write session stays alive while dallying after its final ACK.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Done && self.error_out.is_none() && self.stray.is_empty()
    }

    /// The largest datagram this session emits; `poll_transmit` buffers must be this long.
    pub fn max_transmit_len(&self) -> usize {
        (usize::from(self.negotiated.blksize) + wire::DATA_HEADER_LEN)
            .max(self.negotiated.oack_len())
            .max(wire::DATA_HEADER_LEN + wire::MAX_ERROR_MESSAGE_LEN + 1)
    }

    /// Answers [`SessionEvent::NeedData`]: `data` holds the file bytes from `offset`; fewer
    /// than asked for means end of file.
    ///
    /// Returns [`Error::Finished`] if the transfer ended while the driver was reading (a
    /// `NeedData` not yet taken is withdrawn when the session finishes); the driver can ignore
    /// that.
    pub fn supply(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        if self.phase == Phase::Done {
            return Err(Error::Finished);
        }
        let Role::Read(sender) = &mut self.role else {
            return Err(Error::UnexpectedOffset {
                got: offset,
                expected: None,
            });
        };
        if let Some(missing) = sender.supply(offset, data)? {
            let announced = sender.size.unwrap_or_default();
            self.error_out = Some((
                ErrorCode::NotDefined,
                "file changed on the server".to_string(),
            ));
            let now = self.last_input;
            self.finish(
                now,
                Outcome::Failed(TransferError::FileChanged {
                    size: announced,
                    missing,
                }),
            );
            return Ok(());
        }
        if let Some(ev) = sender.want() {
            self.events.push_back(ev);
        }
        Ok(())
    }

    /// Bytes received by a write session, with their file offset, oldest first. The slice
    /// stays valid until the next `handle_datagram`; call this as part of draining the session
    /// (netascii is already translated to local line ends).
    pub fn poll_data(&mut self) -> Option<(u64, &[u8])> {
        match &mut self.role {
            Role::Write(receiver) => receiver.poll_data(),
            Role::Read(_) => None,
        }
    }

    /// Whether the OACK went out and its answer has not come: an OACK is sent once per
    /// request, never by the timer (atftp 0.8 aborts on a second one, "unexpected OACK").
    fn awaits_oack_answer(&self) -> bool {
        self.phase == Phase::Negotiating && self.negotiated.has_oack()
    }

    /// The client sent its request again before showing that it receives
    /// ([`Server::poll_repeated`](crate::Server::poll_repeated)): its first reply was lost, so
    /// the OACK (or DATA 1, or a WRQ's ACK 0) goes out once more now, without waiting for the
    /// timer. Ignored once the client has answered.
    pub fn handle_repeat(&mut self, now: Instant) {
        self.last_input = self.last_input.max(now);
        if self.stats.established || matches!(self.phase, Phase::Done | Phase::Dally) {
            return;
        }
        match (&mut self.role, self.phase) {
            (_, Phase::Negotiating) => self.negotiation_due = self.negotiation_sent.is_some(),
            (Role::Read(sender), Phase::Transfer) => sender.next = sender.base,
            _ => {}
        }
        if !self.awaits_oack_answer() {
            // DATA 1 or ACK 0, unlike an OACK (see `handle_timeout`), may arrive twice: this
            // answer gets the handshake's quick retransmissions again, so each of the client's
            // requests has the first request's chances. A client that gives up after a few
            // requests (tftp-hpa: five, 5 s apart) then fails only when all of them or both of
            // their answers are lost, (1 - 0.8 × 0.96)⁵ ≈ 0.07 % at 20 % loss each way rather
            // than 0.4 %. One request still gets at most `1 + handshake_retries` packets.
            self.retries = 0;
            self.rto.reset_backoff();
            self.deadline = None;
        }
        // The client is still trying: the handshake time counts from its latest request. A
        // client whose first replies were lost gets one only now, and then needs its own
        // timer's worth of tries for its ACK to get through (atftp resends ACK 0 every 5 s).
        // Each repeat costs its sender a request and gets what a first request gets.
        let extended = now + self.config.handshake_timeout;
        if extended > self.handshake_deadline {
            if self.deadline == Some(self.handshake_deadline) {
                self.deadline = Some(extended);
            }
            self.handshake_deadline = extended;
        }
    }

    /// Ends the transfer from the driver's side (a read error, a full disk, shutdown): sends
    /// ERROR `code` with `message` to the client and finishes with
    /// [`TransferError::Aborted`].
    ///
    /// A write session that already completed and is only dallying stops dallying instead: its
    /// outcome stays [`Outcome::Completed`], no second `Finished` is reported and no ERROR is
    /// sent to a client whose upload succeeded.
    pub fn abort(&mut self, now: Instant, code: ErrorCode, message: &str) {
        if self.phase == Phase::Dally {
            self.phase = Phase::Done;
            self.deadline = None;
            return;
        }
        if self.phase == Phase::Done {
            return;
        }
        self.error_out = Some((code, message.to_string()));
        self.finish(now, Outcome::Failed(TransferError::Aborted { code }));
    }

    fn finish(&mut self, now: Instant, outcome: Outcome) {
        // A data request the driver has not picked up yet is moot now.
        self.events
            .retain(|ev| !matches!(ev, SessionEvent::NeedData { .. }));
        if let Role::Read(sender) = &mut self.role {
            sender.request = None;
        }
        self.phase = Phase::Done;
        self.deadline = None;
        self.stats.finished = Some(now);
        self.stats.srtt = self.rto.srtt();
        self.outcome = Some(outcome.clone());
        self.events.push_back(SessionEvent::Finished(outcome));
    }

    fn on_peer_error(&mut self, now: Instant, code: ErrorCode, message: &[u8]) {
        let probe = self.phase == Phase::Negotiating
            && self.kind == RequestKind::Read
            && self.negotiated.acknowledged.contains(TftpOption::Tsize);
        if probe {
            self.finish(now, Outcome::SizeProbe);
        } else {
            let error = TransferError::from_peer(code, message);
            self.finish(now, Outcome::Failed(error));
        }
    }

    fn on_ack(&mut self, now: Instant, block: BlockNumber) {
        let Role::Read(sender) = &mut self.role else {
            self.stats.ignored += 1;
            return;
        };
        if self.phase == Phase::Negotiating {
            if block.0 != 0 {
                self.stats.ignored += 1;
                return;
            }
            // Karn's rule (RFC 6298 §3): an ACK for a resent OACK gives no sample.
            if let Some((sent, false)) = self.negotiation_sent {
                self.rto.sample(now - sent);
            } else {
                self.rto.progress_without_sample();
            }
            self.phase = Phase::Transfer;
            self.negotiation_due = false;
            self.retries = 0;
            self.deadline = None;
            self.last_progress = now;
            if let Some(ev) = sender.want() {
                self.events.push_back(ev);
            }
            return;
        }
        let rollover = self.negotiated.rollover;
        let Some(k) = block.resolve(sender.base - 1, sender.high - 1, rollover) else {
            self.stats.ignored += 1;
            return;
        };
        if k < sender.base {
            // Sorcerer's Apprentice rule (RFC 1123 §4.2.3.1): a duplicate ACK does not trigger
            // a send by itself. One exception, which cannot start that loop: the client ACKs
            // the block before `base` (it still waits for `base`) while our timer has resent
            // `base` twice without an answer and nothing went out for `rto_initial`. That ACK
            // comes from the client's own timer after seconds of silence (tftp-hpa, atftp: 5
            // s), and it is the one sign that the path works again; waiting out a timer backed
            // off to 10 s instead is how a lossy path (20 % each way) lets tftp-hpa reach its
            // 25 s limit within one block. Resending at most once per `rto_initial`, and only
            // until the next progress resets `retries`, keeps duplicates from feeding it.
            self.stats.duplicate_acks += 1;
            if k + 1 == sender.base
                && self.stats.established
                && self.retries >= 2
                && sender.next > sender.base
                && now.saturating_duration_since(sender.sent_at[sender.slot(sender.base)])
                    >= self.config.rto_initial
            {
                self.deadline = Some(self.deadline.map_or(now, |d| d.min(now)));
            }
            return;
        }
        // Sample only ACKs the client sends on receipt (window end or last block): an ACK
        // inside the window may come from the client's own timer, long after the block.
        let slot = sender.slot(k);
        let window_end =
            k == sender.base + sender.window - 1 || sender.last.is_some_and(|(l, _)| l == k);
        if window_end && !sender.resent[slot] {
            self.rto.sample(now - sender.sent_at[slot]);
            self.stats.srtt = self.rto.srtt();
        } else {
            self.rto.progress_without_sample();
        }
        self.last_progress = now;
        let acked = k - sender.base + 1;
        self.stats.blocks += acked;
        self.stats.bytes += acked * sender.blksize as u64;
        if let Some((l, len)) = sender.last
            && l == k
        {
            self.stats.bytes -= (sender.blksize - len) as u64;
            self.finish(now, Outcome::Completed);
            return;
        }
        sender.base = k + 1;
        if sender.next > sender.base && sender.restart_armed {
            // RFC 7440: an ACK inside the window (the client saw a gap) starts the next window
            // right after it. At most once per window of progress, so a client that ACKs
            // every block cannot make us resend each window many times over.
            sender.next = sender.base;
            sender.restart_armed = false;
            sender.rearm_at = sender.base + sender.window - 1;
        } else if k >= sender.rearm_at {
            sender.restart_armed = true;
        }
        sender.next = sender.next.max(sender.base);
        self.retries = 0;
        // Blocks still in flight keep a timer running; otherwise the next send arms it.
        self.deadline = (sender.next > sender.base).then(|| now + self.rto.current());
        if let Some(ev) = sender.want() {
            self.events.push_back(ev);
        }
    }

    fn on_data(&mut self, now: Instant, block: BlockNumber, data: &[u8]) {
        let Role::Write(receiver) = &mut self.role else {
            self.stats.ignored += 1;
            return;
        };
        match receiver.on_data(block, data) {
            DataOutcome::Accepted { last } => {
                self.last_progress = now;
                if self.phase == Phase::Negotiating {
                    if let Some((sent, false)) = self.negotiation_sent {
                        self.rto.sample(now - sent);
                    }
                    self.phase = Phase::Transfer;
                    self.negotiation_due = false;
                }
                self.retries = 0;
                self.rto.reset_backoff();
                self.stats.blocks = receiver.blocks();
                self.stats.bytes = receiver.bytes;
                self.deadline = Some(now + self.rto.current());
                if last {
                    self.phase = Phase::Dally;
                    self.deadline = Some(now + self.config.dally);
                    self.stats.finished = Some(now);
                    self.stats.srtt = self.rto.srtt();
                    self.outcome = Some(Outcome::Completed);
                    self.events
                        .push_back(SessionEvent::Finished(Outcome::Completed));
                }
            }
            DataOutcome::Duplicate | DataOutcome::Gap => self.stats.duplicate_data += 1,
            DataOutcome::Dropped => self.stats.ignored += 1,
        }
    }

    fn emit_data(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let Role::Read(sender) = &mut self.role else {
            return None;
        };
        if self.phase != Phase::Transfer || !sender.can_send() {
            return None;
        }
        let block = sender.next;
        let len = sender.block_len(block);
        let total = wire::DATA_HEADER_LEN + len;
        let out = buf.get_mut(..total)?;
        let slot = sender.slot(block);
        let start = slot * sender.blksize;
        out[wire::DATA_HEADER_LEN..].copy_from_slice(&sender.ring[start..start + len]);
        let mut packet = Packet::new_unchecked(out);
        packet.set_opcode(Opcode::Data);
        packet.set_block(BlockNumber::from_index(block, self.negotiated.rollover));
        if block < sender.high {
            sender.resent[slot] = true;
            self.stats.retransmits += 1;
        } else {
            sender.resent[slot] = false;
            sender.high = block + 1;
        }
        sender.sent_at[slot] = now;
        sender.next += 1;
        Some(total)
    }

    fn emit_negotiation(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if !self.negotiation_due {
            return None;
        }
        let len = if self.negotiated.has_oack() {
            self.negotiated.emit_oack(buf).ok()?
        } else {
            let mut w = Writer::new(buf);
            w.put_u16(Opcode::Ack as u16).ok()?;
            w.put_u16(0).ok()?;
            w.position()
        };
        self.negotiation_due = false;
        let resent = self.negotiation_sent.is_some();
        if resent {
            self.stats.retransmits += 1;
        }
        self.negotiation_sent = Some((now, resent));
        Some(len)
    }
}

impl SansIo for Session {
    type Event = SessionEvent;

    fn handle_datagram(&mut self, now: Instant, dgram: Datagram<'_>) {
        self.last_input = self.last_input.max(now);
        let packet = Packet::new_unchecked(dgram.payload);
        if dgram.remote != self.peer {
            // RFC 1350 §4: ERROR 5 to the stranger; the transfer itself goes on.
            self.stats.wrong_tid += 1;
            self.stray.push(dgram.remote, dgram.payload);
            return;
        }
        let Ok(repr) = Repr::parse(&packet) else {
            self.stats.ignored += 1;
            return;
        };
        if !self.stats.established
            && self.phase != Phase::Done
            && matches!(repr, Repr::Ack { .. } | Repr::Data { .. })
        {
            self.stats.established = true;
            self.events.push_back(SessionEvent::Established);
        }
        match (self.phase, repr) {
            (Phase::Done, _) => self.stats.ignored += 1,
            (Phase::Dally, Repr::Data { block, data }) => self.on_data(now, block, data),
            (Phase::Dally, _) => self.stats.ignored += 1,
            (_, Repr::Error { code, message }) => self.on_peer_error(now, code, message),
            (_, Repr::Ack { block }) => self.on_ack(now, block),
            (_, Repr::Data { block, data }) => self.on_data(now, block, data),
            _ => self.stats.ignored += 1,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.last_input = self.last_input.max(now);
        let Some(deadline) = self.deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        self.deadline = None;
        if self.phase == Phase::Dally {
            self.phase = Phase::Done;
            return;
        }
        self.retries += 1;
        self.stats.timeouts += 1;
        if !self.stats.established {
            // A handshake: at most `handshake_retries` quick retransmissions, then quiet until
            // the handshake timeout (the client's own retransmission — its ACK, or its request
            // through `handle_repeat` — still gets the transfer going), so an unanswered request,
            // perhaps from a spoofed address, costs the network one or two packets. An OACK is
            // never resent by the timer: atftp 0.8 aborts on a second OACK ("unexpected OACK")
            // when only its ACK 0 was lost; every client resends its ACK 0 or its request.
            let give_up = self.handshake_deadline;
            let oack = self.awaits_oack_answer();
            let resends = if oack {
                0
            } else {
                self.config.handshake_retries
            };
            if now >= give_up {
                let retries = (self.retries - 1).min(resends);
                self.finish(now, Outcome::Failed(TransferError::TimedOut { retries }));
                return;
            }
            if self.retries > resends {
                // Karn's rule (RFC 6298 §3) for a packet the timer did not resend: an answer
                // from now on may be the client's own retransmission (atftp resends its ACK 0
                // after 5 s when the first was lost), so it gives no round-trip sample. A 5 s
                // sample would set the timer to `rto_max` for the whole transfer, and every
                // later loss would cost that long.
                if let Some((sent, _)) = self.negotiation_sent {
                    self.negotiation_sent = Some((sent, true));
                }
                self.deadline = Some(give_up);
                return;
            }
        }
        if self.retries > self.config.max_retries {
            // Every block of the final window went out and only its ACK is missing: clients
            // ACK at window end, so the client most likely has the file and left.
            if let Role::Read(sender) = &self.role
                && sender.last.is_some_and(|(l, _)| sender.high > l)
            {
                self.stats.final_ack_missing = true;
                self.finish(now, Outcome::Completed);
                return;
            }
            if now.saturating_duration_since(self.last_progress) >= self.config.idle_timeout {
                let retries = self.retries - 1;
                self.finish(now, Outcome::Failed(TransferError::TimedOut { retries }));
                return;
            }
        }
        self.rto.back_off();
        match (&mut self.role, self.phase) {
            (_, Phase::Negotiating) => self.negotiation_due = true,
            (Role::Read(sender), _) => {
                sender.next = sender.base;
                sender.restart_armed = true;
            }
            (Role::Write(receiver), _) => receiver.on_timeout(),
        }
        let mut deadline = now + self.rto.current();
        if !self.stats.established {
            deadline = deadline.min(self.handshake_deadline);
        }
        self.deadline = Some(deadline);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if let Some(t) = self.stray.poll_transmit(buf) {
            return Some(t);
        }
        let len = if let Some((code, message)) = self.error_out.take() {
            Some(wire::emit_error(code, &message, buf))
        } else if self.phase == Phase::Done {
            None
        } else if let Some(len) = self.emit_negotiation(now, buf) {
            Some(len)
        } else if let Role::Write(receiver) = &mut self.role {
            receiver
                .take_ack()
                .and_then(|block| Repr::Ack { block }.emit(buf).ok())
        } else {
            self.emit_data(now, buf)
        }?;
        self.stats.packets_sent += 1;
        if self.deadline.is_none() && matches!(self.phase, Phase::Negotiating | Phase::Transfer) {
            self.deadline = Some(now + self.rto.current());
        }
        Some(Transmit {
            destination: Destination::Unicast(self.peer),
            local: None,
            len,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        if let (Some(SessionEvent::Finished(_)), Role::Write(receiver)) =
            (self.events.front(), &self.role)
            && receiver.has_data()
        {
            return None;
        }
        self.events.pop_front()
    }
}
