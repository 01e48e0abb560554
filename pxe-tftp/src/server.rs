//! The listening side: datagrams to port 69 become [`Incoming`] requests.

use alloc::borrow::Cow;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

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
    /// Retransmissions of the same packet before the session may give up (default 8); it
    /// gives up only once [`idle_timeout`](ServerConfig::idle_timeout) has passed without
    /// progress too.
    pub max_retries: u32,
    /// How long an established transfer keeps retransmitting without progress before it fails
    /// (default 60 s). Some clients stay silent for seconds after a lost ACK (atftp re-ACKs a
    /// repeated block once, then waits for its own 5 s timer), so a retry count alone, reached
    /// within a second on a LAN, would end transfers a lossy network would still carry. Twice
    /// atftp's own patience (six 5 s timeouts without a packet): at 20 % loss each way all of
    /// a waiting client's ACKs are lost for 30 s now and then, and it is still there. The
    /// backed-off timer sends one packet per [`rto_max`](ServerConfig::rto_max) meanwhile.
    pub idle_timeout: Duration,
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
    /// Most established transfers at once (default 2000). A request arriving while this many
    /// run is dropped without a reply, like dnsmasq over `--tftp-max`: the client retransmits
    /// its request (RFC 1350 §2) and is served once a transfer ends, where an ERROR would abort
    /// a PXE ROM's boot. The cap counts established transfers only; handshakes have their own
    /// budget, so at most `max_transfers + max_handshakes` sessions exist.
    pub max_transfers: u32,
    /// Most handshakes at once (default 4096): sessions whose client has not yet shown that it
    /// receives (no ACK or DATA from it on the transfer port; a spoofed source never sends one).
    /// A request beyond it evicts the oldest handshake ([`Server::poll_evicted`]), so a flood
    /// of requests that are never acknowledged cannot keep a real client waiting.
    pub max_handshakes: u32,
    /// Most handshakes from one client address (default 16); a request beyond it evicts that
    /// address's oldest handshake, so one source cannot take the whole budget.
    pub max_handshakes_per_source: u32,
    /// A handshake younger than this is never evicted (default 1 s, far above a LAN round
    /// trip and the first retransmission timeout of common clients): when the budget is full of young handshakes the new request is dropped instead
    /// and served on its retransmission. A burst of real clients larger than the budget (a boot
    /// storm) is then throttled, not robbed of the replies already sent to it; a flood's
    /// requests are old, hence evictable, a moment later.
    pub eviction_age: Duration,
    /// Timer retransmissions of the first DATA (a request without options) or of a WRQ's ACK
    /// 0 before the client has shown that it receives (default 1; an OACK is never resent by
    /// the timer, see [`Session`]). Keeps what an unanswered, possibly spoofed, request makes
    /// the server send small: one or two packets, where tftpd-hpa sends six.
    pub handshake_retries: u32,
    /// How long a handshake waits for the client at most (default 30 s): after its
    /// retransmissions the session goes quiet but still answers the client's own
    /// retransmission (its ACK, or its request again) until then. A client that got DATA 1
    /// but whose ACKs are lost only ever sends its ACK to the transfer's port, never its
    /// request again, so this outlasts the clients' own patience: tftp-hpa resends every 5 s
    /// and gives up after 25 s without a new block (tftp/tftp.c `recvfile`, `timer`). Waiting
    /// costs no datagrams, and the handshake budget bounds how many wait.
    pub handshake_timeout: Duration,
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
            idle_timeout: Duration::from_secs(60),
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(20),
            rto_max: Duration::from_secs(10),
            rollover: 0,
            dally: Duration::from_secs(2),
            max_transfers: 2000,
            max_handshakes: 4096,
            max_handshakes_per_source: 16,
            eviction_age: Duration::from_secs(1),
            handshake_retries: 1,
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// The largest `blksize` whose DATA fits an MTU without fragmenting: the MTU minus the IP
/// header (20 bytes for IPv4, 40 for IPv6), UDP (8) and TFTP (4) headers, never below the
/// RFC 1350 512 nor above the RFC 2348 maximum 65464. Many PXE ROMs cannot reassemble
/// fragments, so dnsmasq and this server cap `blksize` to the link's MTU.
pub fn blksize_for_mtu(mtu: u32, ipv6: bool) -> u16 {
    let headers = if ipv6 { 52 } else { 32 };
    let cap = mtu.saturating_sub(headers).clamp(512, 65464);
    u16::try_from(cap).unwrap_or(65464)
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
#[non_exhaustive]
pub struct ServerStats {
    /// Well-formed RRQ/WRQ turned into [`Incoming`] events.
    pub requests: u64,
    /// Repeats of a request still being served (a client retransmitting its RRQ), dropped.
    pub duplicates: u64,
    /// Requests dropped because [`ServerConfig::max_transfers`] transfers were established.
    pub over_cap: u64,
    /// Requests dropped because the handshake budget (or their source's share) was full of
    /// handshakes younger than [`ServerConfig::eviction_age`].
    pub throttled: u64,
    /// Handshakes evicted to make room for newer requests ([`Server::poll_evicted`]).
    pub evicted: u64,
    /// Requests refused by the server itself (WRQ disabled, `mail` mode).
    pub refused: u64,
    /// Malformed or illegal packets (answered with ERROR 4 unless they were ERRORs).
    pub malformed: u64,
    /// Requests or replies dropped because the driver did not drain the queues.
    pub dropped: u64,
}

/// Whether a request reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// Names one request from its [`Incoming`] until [`Server::finished`]; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(u64);

/// What makes a request distinct from a retransmission of one being served: the client's
/// address and port (its TID, RFC 1350 §4), read or write, the name, and whether `tsize` was
/// asked — EDK2 asks for the size first (`tsize`, then ERROR 8), then requests the file again
/// from the same port without `tsize`: that second request is a new one.
type Identity = (SocketAddr, RequestKind, Vec<u8>, bool);

#[derive(Debug)]
struct Entry {
    identity: Identity,
    source: IpAddr,
    established: bool,
    created: Instant,
}

/// The TFTP listener's Sans-IO core: feed it datagrams that arrived on port 69.
///
/// Malformed and illegal packets are answered with an ERROR through
/// [`poll_transmit`](SansIo::poll_transmit) (never an ERROR in reply to an ERROR); a WRQ is
/// refused with ERROR 2 unless [`ServerConfig::allow_write`]; every other well-formed request
/// becomes an [`Incoming`] from [`poll_event`](SansIo::poll_event).
///
/// Like quinn's `Endpoint`, the server keeps the table of requests being served, so every
/// driver decides the same way: a repeat of a request still being served is dropped, at most
/// [`ServerConfig::max_transfers`] established transfers run, and requests whose client has
/// not yet shown that it receives hold a cheap place from a separate budget
/// ([`ServerConfig::max_handshakes`], per source
/// [`ServerConfig::max_handshakes_per_source`]) where the oldest is evicted for a newer one.
/// The driver reports the session's life: [`established`](Server::established) when the
/// session says [`SessionEvent::Established`](crate::SessionEvent::Established), and
/// [`finished`](Server::finished) once for every [`Incoming`] (rejected, dropped, or its
/// session over). After any input it drains [`poll_evicted`](Server::poll_evicted) and drops
/// those sessions without a word (their client may be a spoofed address), and
/// [`poll_repeated`](Server::poll_repeated), passing those on to their sessions. No timers.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    incoming: VecDeque<Incoming>,
    replies: VecDeque<(SocketAddr, ErrorCode, &'static str)>,
    stats: ServerStats,
    next_id: u64,
    by_identity: BTreeMap<Identity, RequestId>,
    entries: BTreeMap<RequestId, Entry>,
    /// Handshakes, oldest first (ids grow).
    handshakes: BTreeSet<RequestId>,
    per_source: BTreeMap<IpAddr, u32>,
    established: usize,
    evicted: VecDeque<RequestId>,
    repeated: VecDeque<RequestId>,
}

impl Server {
    /// A server with `config`.
    pub fn new(config: ServerConfig) -> Self {
        Server {
            config,
            incoming: VecDeque::new(),
            replies: VecDeque::new(),
            stats: ServerStats::default(),
            next_id: 0,
            by_identity: BTreeMap::new(),
            entries: BTreeMap::new(),
            handshakes: BTreeSet::new(),
            per_source: BTreeMap::new(),
            established: 0,
            evicted: VecDeque::new(),
            repeated: VecDeque::new(),
        }
    }

    /// Established transfers now.
    pub fn active(&self) -> usize {
        self.established
    }

    /// Handshakes now: requests handed out whose client has not yet shown that it receives.
    pub fn handshaking(&self) -> usize {
        self.handshakes.len()
    }

    /// The client of request `id` has shown that it receives (its session reported
    /// [`SessionEvent::Established`](crate::SessionEvent::Established)): the request leaves
    /// the handshake budget for the transfer count.
    pub fn established(&mut self, id: RequestId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        if entry.established {
            return;
        }
        entry.established = true;
        let source = entry.source;
        self.handshakes.remove(&id);
        self.release_source(source);
        self.established += 1;
    }

    /// Request `id` is over: rejected, dropped by the driver, or its session finished. A repeat
    /// of it is a new request from now on. Unknown (already evicted) ids are ignored.
    pub fn finished(&mut self, id: RequestId) {
        let Some(entry) = self.entries.remove(&id) else {
            return;
        };
        self.by_identity.remove(&entry.identity);
        if entry.established {
            self.established -= 1;
        } else {
            self.handshakes.remove(&id);
            self.release_source(entry.source);
        }
    }

    /// The next handshake whose request came again: the client did not get the first reply
    /// (or it is a flood). The driver calls [`Session::handle_repeat`] on its session, which
    /// sends the first packet once more — one reply per request, so a repeated request
    /// amplifies no more than the first did.
    pub fn poll_repeated(&mut self) -> Option<RequestId> {
        self.repeated.pop_front()
    }

    /// The next handshake evicted to make room for a newer request: the driver drops its
    /// session without sending anything. Drain after every input, like `poll_event`.
    pub fn poll_evicted(&mut self) -> Option<RequestId> {
        self.evicted.pop_front()
    }

    fn release_source(&mut self, source: IpAddr) {
        if let Some(n) = self.per_source.get_mut(&source) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&source);
            }
        }
    }

    fn evict(&mut self, id: RequestId) {
        self.finished(id);
        self.stats.evicted += 1;
        // Bounded by the handshake budget unless the driver never drains; an eviction not
        // reported leaves a session that ends on its own handshake timeout.
        if self.evicted.len() < self.config.max_handshakes.max(1) as usize {
            self.evicted.push_back(id);
        }
    }

    /// Makes room in the handshake budget for a request from `source`: evicts the oldest
    /// handshake of that source when it has its share, then the oldest of all when the budget
    /// is full, but never one younger than `eviction_age`. `false`: no room, drop the request.
    fn make_room(&mut self, now: Instant, source: IpAddr) -> bool {
        let age = self.config.eviction_age;
        let evictable = |e: &Entry| now.saturating_duration_since(e.created) >= age;
        let per_source = self.per_source.get(&source).copied().unwrap_or(0);
        if per_source >= self.config.max_handshakes_per_source.max(1) {
            let oldest = self
                .handshakes
                .iter()
                .copied()
                .find(|id| self.entries.get(id).is_some_and(|e| e.source == source));
            match oldest {
                Some(id) if self.entries.get(&id).is_some_and(evictable) => self.evict(id),
                _ => return false,
            }
        }
        if self.handshakes.len() >= self.config.max_handshakes.max(1) as usize {
            match self.handshakes.first().copied() {
                Some(id) if self.entries.get(&id).is_some_and(evictable) => self.evict(id),
                _ => return false,
            }
        }
        true
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
        let options = RequestedOptions::from_options(options);
        let identity = (
            dgram.remote,
            kind,
            filename.to_vec(),
            options.tsize.is_some(),
        );
        if let Some(&id) = self.by_identity.get(&identity) {
            self.stats.duplicates += 1;
            let handshake = self.entries.get(&id).is_some_and(|e| !e.established);
            if handshake && self.repeated.len() < QUEUE_MAX {
                self.repeated.push_back(id);
            }
            return;
        }
        if self.established >= self.config.max_transfers.max(1) as usize {
            self.stats.over_cap += 1;
            return;
        }
        if self.incoming.len() >= QUEUE_MAX {
            self.stats.dropped += 1;
            return;
        }
        let source = dgram.remote.ip().to_canonical();
        if !self.make_room(now, source) {
            self.stats.throttled += 1;
            return;
        }
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.by_identity.insert(identity.clone(), id);
        self.entries.insert(
            id,
            Entry {
                identity,
                source,
                established: false,
                created: now,
            },
        );
        self.handshakes.insert(id);
        *self.per_source.entry(source).or_insert(0) += 1;
        self.stats.requests += 1;
        self.incoming.push_back(Incoming {
            id,
            peer: dgram.remote,
            local: dgram.local,
            kind,
            filename: filename.to_vec(),
            mode,
            options,
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
/// Every `Incoming` holds its place in the server's table until the driver calls
/// [`Server::finished`] with its [`id`](Incoming::id), whatever becomes of it; until then a
/// repeat of the request (a client retransmitting its RRQ before the first reply arrives) is
/// dropped by the server.
#[derive(Debug, Clone)]
pub struct Incoming {
    id: RequestId,
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
    /// The request's place in the server's table, for [`Server::established`] and
    /// [`Server::finished`].
    pub fn id(&self) -> RequestId {
        self.id
    }

    /// Grants at most `max` as `blksize` (at least 512), below the server's own limit: for a
    /// driver that learns the link's MTU per request ([`blksize_for_mtu`]).
    pub fn limit_blksize(&mut self, max: u16) {
        self.config.blksize_max = self.config.blksize_max.min(max.max(512));
    }

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
