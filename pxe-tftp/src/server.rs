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

/// How many of the heaviest sources a request into a full handshake budget looks at for a
/// handshake old enough to give way (rule 2 in [`Server`]).
const HEAVY_SOURCES_TRIED: usize = 8;

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
    ///
    /// A driver that puts a whole window on the wire at once may go lower (`pxe-server` uses
    /// 10 ms). One that meters a window out as its transmit buffer frees (`pxe-smoltcp`) should
    /// not: the timer starts with the window's first block but the round trip is measured from
    /// its last, so a floor below the time a window takes to leave expires every window, and
    /// Karn's rule then keeps every later sample out.
    pub rto_min: Duration,
    /// Upper bound of the timeout, backoff included (default 10 s). Above atftp's 5 s timer
    /// on purpose: atftp re-ACKs a repeated block once and otherwise waits for that timer,
    /// which every packet it receives restarts, so a server repeating the block more often
    /// than every 5 s after that one re-ACK was lost would never hear from it again
    /// (`tests/atftp.rs` models it).
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
    /// budget ([`handshake_budget`](ServerConfig::handshake_budget)), so at most
    /// `max_transfers + handshake_budget()` sessions exist.
    pub max_transfers: u32,
    /// Most handshakes at once, at least (default 4096): sessions whose client has not yet shown
    /// that it receives (no ACK or DATA from it on the transfer port; a spoofed source never
    /// sends one). The budget in force is the larger of this and `max_transfers`
    /// ([`handshake_budget`](ServerConfig::handshake_budget)): every transfer starts as a
    /// handshake, so a smaller budget could not admit at once a storm of as many clients as
    /// the transfer cap allows. When the budget is full, see
    /// [`storm_eviction_age`](ServerConfig::storm_eviction_age) for who gives way.
    pub max_handshakes: u32,
    /// Most handshakes from one client address (default 16); a request beyond it evicts that
    /// address's oldest handshake once that is [`eviction_age`](ServerConfig::eviction_age)
    /// old (else the request is dropped), so one source cannot take the whole budget. A host
    /// that fetches many files at once (a tool, not a ROM) may need more.
    pub max_handshakes_per_source: u32,
    /// A handshake younger than this is never evicted (default 1 s, far above a LAN round
    /// trip and the first retransmission timeout of common clients). From this age on, a
    /// handshake may give way to a newer request when its source holds at least two more
    /// handshakes than the newcomer's: a flood from a few addresses yields to a new client
    /// within about a second, while clients with one request each never rob each other.
    pub eviction_age: Duration,
    /// When the handshake budget is full and no source holds more than its share (every
    /// source at most one handshake more than the newcomer's: a boot storm of real clients,
    /// one request each — or a flood spread over as many spoofed addresses), the oldest
    /// handshake gives way only once this old (default 10 s); until then the new request is
    /// dropped without a word and served on its retransmission once a slot frees.
    ///
    /// Dropping the newcomer is cheap: its client retransmits the request (RFC 1350 §2) and
    /// nothing was sent to it yet. Evicting a handshake that was answered is not: a client
    /// that holds its OACK or DATA 1 never sends its request again, only its ACK to the
    /// transfer's port, which is then closed — the client fails. A real client answers
    /// within a round trip, and re-sends a lost answer within its own retransmission timer
    /// (tftp-hpa 5 s, tftp/tftp.c `rexmtval`; EDK2 and iPXE less); a storm's clients answer
    /// late only while the server (or, in a bench, the harness driving all clients) is
    /// saturated, and a second or more late is common then. Ten seconds after the request is
    /// twice the slowest of those timers. A flood spread over more addresses than
    /// the budget can delay a new client by this much; that flood cannot be told from a
    /// storm, and the budget is cheap to raise.
    pub storm_eviction_age: Duration,
    /// Timer retransmissions of the first DATA (a request without options) or of a WRQ's ACK
    /// 0 before the client has shown that it receives (default 1; an OACK is never resent by
    /// the timer, see [`Session`]), per request: a repeated request gets them again. Keeps what
    /// an unanswered, possibly spoofed, request makes the server send small: one or two
    /// packets per request, where tftpd-hpa sends six.
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
            storm_eviction_age: Duration::from_secs(10),
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
    /// The handshake budget in force: the larger of
    /// [`max_handshakes`](ServerConfig::max_handshakes) and
    /// [`max_transfers`](ServerConfig::max_transfers), at least 1. A driver sizing its
    /// descriptor limit counts `max_transfers + handshake_budget()` sessions.
    pub fn handshake_budget(&self) -> u32 {
        self.max_handshakes.max(self.max_transfers).max(1)
    }

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
    /// Requests dropped because the handshake budget (or their source's share) was full and no
    /// handshake could give way ([`ServerConfig::eviction_age`],
    /// [`ServerConfig::storm_eviction_age`]).
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
/// ([`ServerConfig::handshake_budget`], per source
/// [`ServerConfig::max_handshakes_per_source`]).
///
/// # Admission to a full handshake budget
///
/// A new request from address S, which already holds `n` handshakes, is admitted if the
/// budget has room; otherwise one handshake gives way, chosen in this order, or the request is
/// dropped without a word (counted in [`ServerStats::throttled`]):
///
/// 1. S at its per-source limit: S's own oldest, once [`ServerConfig::eviction_age`] old.
/// 2. The oldest handshake of a source holding at least `n + 2` (the heaviest first), once
///    `eviction_age` old: max-min fairness between addresses, so a flood from a few
///    addresses cannot keep a new client out for more than about a second.
/// 3. The oldest handshake of all, once [`ServerConfig::storm_eviction_age`] old.
///
/// The choice is between dropping the newcomer, which costs it one retransmission of its
/// request (nothing was sent to it), and evicting a handshake that has most likely been
/// answered already, which costs that client the whole transfer: it holds an OACK or DATA 1,
/// so it only ever answers to the transfer's port, now closed, and never asks again. A boot
/// storm of real clients, one request each, whose answers are late because the server (or
/// the network) is saturated, therefore only ever sees rule 3, after a wait no real client
/// needs.
/// The driver reports the session's life: [`established`](Server::established) when the
/// session says [`SessionEvent::Established`](crate::SessionEvent::Established), and
/// [`finished`](Server::finished) once for every [`Incoming`] (rejected, dropped, or its
/// session over). After any input it drains [`poll_evicted`](Server::poll_evicted) and drops
/// those sessions without a word (their client may be a spoofed address), and
/// [`poll_repeated`](Server::poll_repeated), passing those on to their sessions. No timers.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    /// [`ServerConfig::handshake_budget`], computed once.
    budget: usize,
    incoming: VecDeque<Incoming>,
    replies: VecDeque<(SocketAddr, ErrorCode, &'static str)>,
    stats: ServerStats,
    next_id: u64,
    by_identity: BTreeMap<Identity, RequestId>,
    entries: BTreeMap<RequestId, Entry>,
    /// Handshakes, oldest first (ids grow).
    handshakes: BTreeSet<RequestId>,
    /// Each source's handshakes, oldest first; no empty sets.
    per_source: BTreeMap<IpAddr, BTreeSet<RequestId>>,
    /// `(handshakes held, source)` for every key of `per_source`: the heaviest source last.
    by_load: BTreeSet<(usize, IpAddr)>,
    established: usize,
    evicted: VecDeque<RequestId>,
    repeated: VecDeque<RequestId>,
}

impl Server {
    /// A server with `config`.
    pub fn new(config: ServerConfig) -> Self {
        Server {
            budget: config.handshake_budget() as usize,
            config,
            incoming: VecDeque::new(),
            replies: VecDeque::new(),
            stats: ServerStats::default(),
            next_id: 0,
            by_identity: BTreeMap::new(),
            entries: BTreeMap::new(),
            handshakes: BTreeSet::new(),
            per_source: BTreeMap::new(),
            by_load: BTreeSet::new(),
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
        self.release_handshake(id, source);
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
            self.release_handshake(id, entry.source);
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

    fn load(&self, source: IpAddr) -> usize {
        self.per_source.get(&source).map_or(0, BTreeSet::len)
    }

    fn hold_handshake(&mut self, id: RequestId, source: IpAddr) {
        let held = self.per_source.entry(source).or_default();
        let load = held.len();
        held.insert(id);
        if load > 0 {
            self.by_load.remove(&(load, source));
        }
        self.by_load.insert((load + 1, source));
        self.handshakes.insert(id);
    }

    fn release_handshake(&mut self, id: RequestId, source: IpAddr) {
        if !self.handshakes.remove(&id) {
            return;
        }
        let Some(held) = self.per_source.get_mut(&source) else {
            return;
        };
        let load = held.len();
        held.remove(&id);
        self.by_load.remove(&(load, source));
        if held.is_empty() {
            self.per_source.remove(&source);
        } else {
            self.by_load.insert((load - 1, source));
        }
    }

    fn evict(&mut self, id: RequestId) {
        self.finished(id);
        self.stats.evicted += 1;
        // Bounded by the handshake budget unless the driver never drains; an eviction not
        // reported leaves a session that ends on its own handshake timeout.
        if self.evicted.len() < self.budget {
            self.evicted.push_back(id);
        }
    }

    fn older_than(&self, id: RequestId, now: Instant, age: Duration) -> bool {
        self.entries
            .get(&id)
            .is_some_and(|e| now.saturating_duration_since(e.created) >= age)
    }

    /// Makes room in the handshake budget for a request from `source`, by the rules in
    /// [`Server`]'s documentation. `false`: no room, drop the request.
    fn make_room(&mut self, now: Instant, source: IpAddr) -> bool {
        let age = self.config.eviction_age;
        let mut load = self.load(source);
        if load >= self.config.max_handshakes_per_source.max(1) as usize {
            match self
                .per_source
                .get(&source)
                .and_then(|h| h.first())
                .copied()
            {
                Some(id) if self.older_than(id, now, age) => {
                    self.evict(id);
                    load -= 1;
                }
                _ => return false,
            }
        }
        if self.handshakes.len() < self.budget {
            return true;
        }
        // Rule 2: the heaviest sources first. Looking at a few is enough: the heaviest
        // usually has an old handshake (a flood's are old a second later), and one request
        // dropped here is served on its retransmission.
        let heavy = self
            .by_load
            .iter()
            .rev()
            .take_while(|&&(held, _)| held >= load + 2)
            .take(HEAVY_SOURCES_TRIED)
            .filter_map(|(_, ip)| self.per_source.get(ip).and_then(|h| h.first()).copied())
            .find(|&id| self.older_than(id, now, age));
        if let Some(id) = heavy {
            self.evict(id);
            return true;
        }
        match self.handshakes.first().copied() {
            Some(id) if self.older_than(id, now, self.config.storm_eviction_age) => {
                self.evict(id);
                true
            }
            _ => false,
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
        self.hold_handshake(id, source);
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

#[cfg(test)]
mod tests {
    extern crate std;

    use alloc::format;
    use alloc::vec::Vec;
    use core::net::SocketAddr;

    use proptest::prelude::*;

    use super::*;

    const LISTEN: &str = "192.0.2.1:69";

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn rrq(server: &mut Server, now: Instant, from: SocketAddr, name: &str) -> Option<Incoming> {
        let mut payload = Vec::from(&b"\0\x01"[..]);
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(b"\0octet\0blksize\x001468\0");
        let listen: SocketAddr = LISTEN.parse().unwrap();
        server.handle_datagram(now, Datagram::new(from, listen, &payload));
        server.poll_event()
    }

    /// The `i`th storm client: its own address, like a machine booting.
    fn machine(i: u32) -> SocketAddr {
        let [_, a, b, c] = (0x0a00_0000u32 + 1 + i).to_be_bytes();
        SocketAddr::from(([10, a, b, c], 2070))
    }

    impl Server {
        /// The table's invariants: every count agrees with the sets it summarises.
        fn check(&self) {
            let handshakes: Vec<RequestId> = self
                .entries
                .iter()
                .filter(|(_, e)| !e.established)
                .map(|(id, _)| *id)
                .collect();
            assert_eq!(
                handshakes,
                self.handshakes.iter().copied().collect::<Vec<_>>()
            );
            assert_eq!(self.established, self.entries.len() - handshakes.len());
            assert_eq!(self.by_identity.len(), self.entries.len());
            for (identity, id) in &self.by_identity {
                assert_eq!(&self.entries[id].identity, identity);
            }
            assert!(self.handshakes.len() <= self.budget);
            assert_eq!(self.by_load.len(), self.per_source.len());
            let mut held = 0;
            for (ip, ids) in &self.per_source {
                assert!(!ids.is_empty());
                assert!(ids.len() <= self.config.max_handshakes_per_source.max(1) as usize);
                assert!(self.by_load.contains(&(ids.len(), *ip)));
                for id in ids {
                    assert!(self.handshakes.contains(id));
                    assert_eq!(self.entries[id].source, *ip);
                }
                held += ids.len();
            }
            assert_eq!(held, self.handshakes.len());
        }
    }

    #[test]
    fn the_budget_scales_with_the_transfer_cap() {
        let c = ServerConfig::default();
        assert_eq!(c.handshake_budget(), 4096);
        let c = ServerConfig {
            max_transfers: 12_000,
            ..c
        };
        assert_eq!(c.handshake_budget(), 12_000);
        let c = ServerConfig {
            max_transfers: 0,
            max_handshakes: 0,
            ..c
        };
        assert_eq!(c.handshake_budget(), 1);
    }

    /// A storm of 3 × the budget of real clients, each on its own address, that answer their
    /// first reply only 5 s late (a saturated server or network): every one gets its transfer.
    /// Requests are retransmitted every second while unanswered, like PXE ROMs do.
    #[test]
    fn a_storm_of_late_answering_clients_all_get_through() {
        let budget = 64u32;
        let mut server = Server::new(ServerConfig {
            max_transfers: 1,
            max_handshakes: budget,
            ..ServerConfig::default()
        });
        let clients = 3 * budget;
        let late = 5_000;
        // When each client got its reply (its request admitted), and whether it is done.
        let mut admitted: Vec<Option<(RequestId, u64)>> = (0..clients).map(|_| None).collect();
        let mut done = 0;
        let mut now = 0;
        while done < clients {
            assert!(now < 120_000, "{done} of {clients} through after 120 s");
            for i in 0..clients {
                match admitted[i as usize] {
                    None => {
                        if let Some(inc) = rrq(&mut server, t(now), machine(i), "boot.efi") {
                            admitted[i as usize] = Some((inc.id(), now));
                        }
                    }
                    Some((id, at)) if now == at + late => {
                        server.established(id);
                        server.finished(id);
                        done += 1;
                    }
                    Some(_) => {}
                }
            }
            assert_eq!(
                server.poll_evicted(),
                None,
                "a late client was robbed at {now} ms"
            );
            server.check();
            now += 1_000;
        }
        assert_eq!(server.stats().evicted, 0);
        assert!(
            server.stats().throttled > 0,
            "the storm was larger than the budget"
        );
    }

    /// One address at its per-source share: a retransmitted request of a handshake it holds
    /// is that handshake's repeat (passed to its session), never a new request, so it neither
    /// counts against the share nor is dropped nor evicts anyone, however late it comes; a
    /// new request from that address waits for room (or its own oldest's `eviction_age`).
    #[test]
    fn a_repeat_of_a_held_handshake_is_not_a_new_request() {
        let mut server = Server::new(ServerConfig {
            max_handshakes_per_source: 16,
            ..ServerConfig::default()
        });
        let host = |port| SocketAddr::from(([10, 0, 0, 7], port));
        let held: Vec<RequestId> = (0..16)
            .map(|i| rrq(&mut server, t(0), host(2000 + i), "f").unwrap().id())
            .collect();
        for round in 1..=5 {
            for i in 0..16 {
                assert!(rrq(&mut server, t(round * 400), host(2000 + i), "f").is_none());
            }
            let repeated: Vec<RequestId> = core::iter::from_fn(|| server.poll_repeated()).collect();
            assert_eq!(repeated, held, "round {round}");
            assert_eq!(server.poll_evicted(), None, "round {round}");
        }
        let stats = server.stats();
        assert_eq!(
            (stats.duplicates, stats.throttled, stats.evicted),
            (80, 0, 0)
        );
        assert_eq!(server.handshaking(), 16);
        server.check();
        // A seventeenth transfer from the address: dropped while the share is young.
        assert!(rrq(&mut server, t(900), host(3000), "f").is_none());
        assert_eq!(server.stats().throttled, 1);
        // Once one of the sixteen is established its place is free.
        server.established(held[3]);
        assert!(rrq(&mut server, t(950), host(3000), "f").is_some());
        assert_eq!(server.poll_evicted(), None);
        server.check();
    }

    /// The budget full of a flood (never answered) from a few addresses, and of a storm of late
    /// clients: a new client is admitted within about a second, at the flood's expense only.
    #[test]
    fn a_flood_from_few_sources_cannot_starve_a_real_client() {
        let mut server = Server::new(ServerConfig {
            max_transfers: 1,
            max_handshakes: 100,
            max_handshakes_per_source: 16,
            ..ServerConfig::default()
        });
        let mut flood = BTreeSet::new();
        let mut storm = BTreeSet::new();
        // 40 real clients, then 3000 flood requests from 10 addresses (60 get a place: the
        // budget), all within 100 ms.
        for i in 0..40 {
            storm.insert(rrq(&mut server, t(0), machine(i), "f").unwrap().id());
        }
        for n in 0..3000u32 {
            let from = SocketAddr::from(([198, 51, 100, (n % 10) as u8], 1024 + (n / 10) as u16));
            if let Some(inc) = rrq(&mut server, t(u64::from(n) / 30), from, "f") {
                flood.insert(inc.id());
            }
        }
        assert_eq!(server.handshaking(), 100);
        server.check();
        // A new client at 500 ms: everyone is young, it waits for its retransmission.
        let me = SocketAddr::from(([203, 0, 113, 9], 3000));
        assert!(rrq(&mut server, t(500), me, "f").is_none());
        // Its retransmission 1 s later gets in, evicting a flood handshake, not a storm one.
        let inc = rrq(&mut server, t(1500), me, "f").expect("admitted within ~1 s");
        let victim = server.poll_evicted().expect("someone gave way");
        assert!(flood.contains(&victim) && !storm.contains(&victim));
        assert_ne!(inc.id(), victim);
        // Another 100 new clients a second later: each evicts a flood handshake while the
        // flood's addresses hold two or more (59 over 10 addresses: 49 give way, down to one
        // each, like everyone else's); the storm's stay.
        for i in 0..100 {
            let _ = rrq(&mut server, t(2500), machine(1000 + i), "f");
        }
        let mut victims = Vec::new();
        while let Some(id) = server.poll_evicted() {
            victims.push(id);
        }
        assert!(victims.iter().all(|id| flood.contains(id)), "{victims:?}");
        assert_eq!(victims.len(), 49);
        assert!(server.per_source.values().all(|h| h.len() == 1));
        server.check();
        for id in &storm {
            assert!(
                server.entries.contains_key(id),
                "storm client {id:?} was evicted"
            );
        }
    }

    /// A flood spread over more addresses than the budget holds the budget for at most
    /// `storm_eviction_age`.
    #[test]
    fn a_flood_from_many_sources_delays_a_real_client_by_the_storm_age_at_most() {
        let config = ServerConfig {
            max_transfers: 1,
            max_handshakes: 50,
            ..ServerConfig::default()
        };
        let mut server = Server::new(config);
        for i in 0..50 {
            assert!(rrq(&mut server, t(0), machine(i), "f").is_some());
        }
        let me = SocketAddr::from(([203, 0, 113, 9], 3000));
        let mut now = 1_000;
        while rrq(&mut server, t(now), me, "f").is_none() {
            now += 1_000;
        }
        assert_eq!(Duration::from_millis(now), config.storm_eviction_age);
        assert!(server.poll_evicted().is_some());
        server.check();
    }

    #[derive(Debug, Clone)]
    enum Op {
        Request { source: u8, port: u8, name: u8 },
        Established(usize),
        Finished(usize),
        Tick(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..6u8, 0..4u8, 0..3u8)
                .prop_map(|(source, port, name)| Op::Request { source, port, name }),
            1 => any::<usize>().prop_map(Op::Established),
            1 => any::<usize>().prop_map(Op::Finished),
            1 => (0..3000u16).prop_map(Op::Tick),
        ]
    }

    proptest! {
        /// Whatever requests, answers, ends and evictions come in whatever order, the
        /// counts agree, the budget and per-source limits hold, and a handshake is never
        /// evicted before `eviction_age`.
        #[test]
        fn the_table_keeps_its_invariants(
            budget in 1..12u32,
            per_source in 1..5u32,
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let mut server = Server::new(ServerConfig {
                max_transfers: 3,
                max_handshakes: budget,
                max_handshakes_per_source: per_source,
                eviction_age: Duration::from_millis(1000),
                storm_eviction_age: Duration::from_millis(5000),
                ..ServerConfig::default()
            });
            let mut now = 0u64;
            let mut ids: Vec<(RequestId, u64)> = Vec::new();
            for op in ops {
                match op {
                    Op::Request { source, port, name } => {
                        let from = SocketAddr::from(([10, 0, 0, source], 1000 + u16::from(port)));
                        if let Some(inc) = rrq(&mut server, t(now), from, &format!("f{name}")) {
                            ids.push((inc.id(), now));
                        }
                    }
                    Op::Established(i) if !ids.is_empty() => {
                        server.established(ids[i % ids.len()].0);
                    }
                    Op::Finished(i) if !ids.is_empty() => server.finished(ids[i % ids.len()].0),
                    Op::Tick(ms) => now += u64::from(ms),
                    _ => {}
                }
                while let Some(id) = server.poll_evicted() {
                    let (_, at) = ids.iter().find(|(i, _)| *i == id).copied().unwrap();
                    prop_assert!(now - at >= 1000, "evicted at age {} ms", now - at);
                }
                server.check();
            }
        }
    }
}
