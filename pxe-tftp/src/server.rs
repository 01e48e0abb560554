//! The listening side: datagrams to port 69 become [`Incoming`] requests.

use alloc::borrow::Cow;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;

use pxe_proto::{Datagram, Destination, Duration, Instant, SansIo, Transmit};

use crate::options::{Limits, RequestedOptions};
use crate::session::Session;
use crate::wire::{self, ErrorCode, Mode, Opcode, Packet, Repr};

/// How many requests and ERROR replies the server queues before it drops new ones; a driver that
/// drains after every datagram never gets near it.
const QUEUE_MAX: usize = 64;

/// Server policy and limits. `Copy`, so every session keeps its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServerConfig {
    /// Largest `blksize` granted (default 1468: an Ethernet MTU of 1500 minus IP, UDP and TFTP
    /// headers, so DATA never fragments).
    pub blksize_max: u16,
    /// Largest `windowsize` granted (default 64; hard cap 32768).
    pub windowsize_max: u16,
    /// Largest `blksize × windowsize` (default 4 MiB, like tftp-hpa's `--window-bytes`); this
    /// is also the most a session buffers.
    pub window_bytes_max: usize,
    /// Whether WRQ is served (default `false`: answered with ERROR 2).
    pub allow_write: bool,
    /// Whether options are negotiated at all (default `true`; `false` is tftp-hpa's
    /// `--reject-all`: plain RFC 1350, no OACK).
    pub negotiate: bool,
    /// Retransmissions of the same packet before the session gives up (default 8).
    pub max_retries: u32,
    /// Retransmission timeout before any round trip was measured (default 1 s, RFC 6298).
    pub rto_initial: Duration,
    /// Lower bound of the adaptive timeout (default 20 ms). TFTP has no fast retransmit
    /// besides the window restart, so on a LAN (sub-millisecond RTT) this floor is what a lost
    /// packet costs; it stays well above the scheduling hiccups of firmware and VMs, and a
    /// spurious expiry only resends one window.
    pub rto_min: Duration,
    /// Upper bound of the timeout, backoff included (default 10 s).
    pub rto_max: Duration,
    /// Block number after 65535 unless the client negotiates `rollover` (default 0). Only 0
    /// and 1 exist in practice; larger values are treated as 1, because a shorter block-number
    /// cycle would make an ACK ambiguous inside a large window.
    pub rollover: u16,
    /// How long a write session lingers after its final ACK to re-ACK a resent last block
    /// (RFC 1350 §6 "dallying"; default 2 s).
    pub dally: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            blksize_max: 1468,
            windowsize_max: 64,
            window_bytes_max: 4 << 20,
            allow_write: false,
            negotiate: true,
            max_retries: 8,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(20),
            rto_max: Duration::from_secs(10),
            rollover: 0,
            dally: Duration::from_secs(2),
        }
    }
}

impl ServerConfig {
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            blksize_max: self.blksize_max,
            windowsize_max: self.windowsize_max,
            window_bytes_max: self.window_bytes_max,
            rollover: self.rollover.min(1),
            negotiate: self.negotiate,
        }
    }
}

/// Counters of the listening port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Well-formed RRQ/WRQ turned into [`Incoming`] events.
    pub requests: u64,
    /// Requests refused by the server itself (WRQ disabled, `mail` mode).
    pub refused: u64,
    /// Malformed or illegal packets (answered with ERROR 4 unless they were ERRORs).
    pub malformed: u64,
    /// Requests or replies dropped because the driver did not drain the queues.
    pub dropped: u64,
}

/// Whether a request reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RequestKind {
    /// RRQ: the client downloads.
    Read,
    /// WRQ: the client uploads.
    Write,
}

/// What the driver learned about the file before accepting a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileInfo {
    /// The file's size in bytes, echoed as `tsize` (RFC 2349) when the client asks. `None`
    /// (a generated file of unknown length) leaves `tsize` out of the OACK.
    ///
    /// A read session also asks for no bytes past `size` (in octet mode), so a file that grows
    /// while it is served is sent as it was when opened; one that shrinks ends at the first short
    /// `supply`.
    ///
    /// In netascii mode `tsize` is not acknowledged (as in tftp-hpa): the bytes on the wire
    /// outnumber the file's by one per line end, so the file size would be wrong.
    pub size: Option<u64>,
}

/// The TFTP listener's Sans-IO core: feed it datagrams that arrived on port 69.
///
/// Malformed and illegal packets are answered with an ERROR through
/// [`poll_transmit`](SansIo::poll_transmit) (never an ERROR in reply to an ERROR); a WRQ is
/// refused with ERROR 2 unless [`ServerConfig::allow_write`]; every other well-formed request
/// becomes an [`Incoming`] from [`poll_event`](SansIo::poll_event). The server keeps no
/// per-transfer state and has no timers.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    incoming: VecDeque<Incoming>,
    replies: VecDeque<(SocketAddr, ErrorCode, &'static str)>,
    stats: ServerStats,
}

impl Server {
    /// A server with `config`.
    pub fn new(config: ServerConfig) -> Self {
        Server {
            config,
            incoming: VecDeque::new(),
            replies: VecDeque::new(),
            stats: ServerStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    fn reply(&mut self, to: SocketAddr, code: ErrorCode, message: &'static str) {
        if self.replies.len() < QUEUE_MAX {
            self.replies.push_back((to, code, message));
        } else {
            self.stats.dropped += 1;
        }
    }
}

impl SansIo for Server {
    type Event = Incoming;

    fn handle_datagram(&mut self, now: Instant, dgram: Datagram<'_>) {
        let packet = Packet::new_unchecked(dgram.payload);
        let repr = match Repr::parse(&packet) {
            Ok(repr) => repr,
            Err(_) => {
                self.stats.malformed += 1;
                if packet.opcode() != Some(Opcode::Error) && dgram.payload.len() >= 2 {
                    let msg = match packet.opcode() {
                        Some(Opcode::Rrq | Opcode::Wrq) => "malformed request",
                        _ => "illegal TFTP operation",
                    };
                    self.reply(dgram.remote, ErrorCode::IllegalOperation, msg);
                }
                return;
            }
        };
        let (kind, filename, mode, options) = match repr {
            Repr::Rrq {
                filename,
                mode,
                options,
            } => (RequestKind::Read, filename, mode, options),
            Repr::Wrq {
                filename,
                mode,
                options,
            } => (RequestKind::Write, filename, mode, options),
            Repr::Error { .. } => return,
            Repr::Data { .. } | Repr::Ack { .. } | Repr::Oack { .. } => {
                self.stats.malformed += 1;
                self.reply(
                    dgram.remote,
                    ErrorCode::IllegalOperation,
                    "illegal TFTP operation",
                );
                return;
            }
        };
        if mode == Mode::Mail {
            self.stats.refused += 1;
            self.reply(
                dgram.remote,
                ErrorCode::IllegalOperation,
                "mail mode is not supported",
            );
            return;
        }
        if kind == RequestKind::Write && !self.config.allow_write {
            self.stats.refused += 1;
            self.reply(
                dgram.remote,
                ErrorCode::AccessViolation,
                "write requests are disabled",
            );
            return;
        }
        if self.incoming.len() >= QUEUE_MAX {
            self.stats.dropped += 1;
            return;
        }
        self.stats.requests += 1;
        self.incoming.push_back(Incoming {
            peer: dgram.remote,
            local: dgram.local,
            kind,
            filename: filename.to_vec(),
            mode,
            options: RequestedOptions::from_options(options),
            received: now,
            config: self.config,
        });
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let (to, code, message) = self.replies.pop_front()?;
        Some(Transmit {
            destination: Destination::Unicast(to),
            local: None,
            len: wire::emit_error(code, message, buf),
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn poll_event(&mut self) -> Option<Incoming> {
        self.incoming.pop_front()
    }
}

/// A well-formed RRQ or WRQ waiting for the driver's decision.
///
/// The driver resolves the name (see [`crate::path::sanitize`]), opens the file, binds a fresh
/// UDP port for the transfer (RFC 1350 §4: the server's TID), then calls
/// [`accept`](Incoming::accept) — or [`reject`](Incoming::reject) with ERROR 1 or 2 from the
/// listening socket. The OACK is only ever sent by the accepted session, so a missing file never
/// gets one.
///
/// A client that repeats its RRQ before the first reply arrives produces a second `Incoming`
/// from the same peer address; the server keeps no per-transfer state, so a driver that already
/// runs a session for that peer should drop the repeat (otherwise the client answers the extra
/// session with ERROR 5, which ends it as `Failed`).
#[derive(Debug, Clone)]
pub struct Incoming {
    peer: SocketAddr,
    local: SocketAddr,
    kind: RequestKind,
    filename: Vec<u8>,
    mode: Mode,
    options: RequestedOptions,
    received: Instant,
    config: ServerConfig,
}

impl Incoming {
    /// The client's address and port (its TID).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The address the request was sent to, as the driver reported it.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Read or write.
    pub fn kind(&self) -> RequestKind {
        self.kind
    }

    /// The requested name, raw bytes as sent.
    pub fn filename(&self) -> &[u8] {
        &self.filename
    }

    /// The requested name as text, invalid UTF-8 replaced (for logs).
    pub fn filename_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.filename)
    }

    /// The transfer mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The options the client asked for.
    pub fn options(&self) -> &RequestedOptions {
        &self.options
    }

    /// When the request arrived.
    pub fn received(&self) -> Instant {
        self.received
    }

    /// Starts the transfer. The returned session sends the OACK (or, without options, DATA 1
    /// or ACK 0) on its first `poll_transmit`; a read session asks for file bytes at once
    /// with [`SessionEvent::NeedData`](crate::SessionEvent::NeedData).
    pub fn accept(self, now: Instant, file: FileInfo) -> Session {
        Session::new(
            now,
            self.peer,
            self.kind,
            self.mode,
            &self.options,
            self.config,
            file,
        )
    }

    /// Refuses the request: writes an ERROR (`message` truncated to fit, NULs replaced) into
    /// `buf` for the driver to send from the listening socket.
    pub fn reject(self, code: ErrorCode, message: &str, buf: &mut [u8]) -> Transmit {
        Transmit {
            destination: Destination::Unicast(self.peer),
            local: None,
            len: wire::emit_error(code, message, buf),
        }
    }
}
