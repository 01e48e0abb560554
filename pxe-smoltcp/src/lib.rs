//! `pxe-smoltcp`: the TFTP server, and optionally a DHCP responder, on [smoltcp] UDP sockets:
//! the driver for devices without an OS (`no_std` + `alloc`).
//!
//! [`Driver`] owns its sockets in the caller's [`SocketSet`]: the TFTP listening port (69), a
//! fixed pool of transfer ports (one [`Session`] each; a request finding every port taken is
//! refused with ERROR 0 "busy"), and the ports of an optional responder
//! `R: SansIo` (a `pxe-dhcp` proxy or lease server on 67/4011; any [`SansIo`] core fits, so this
//! crate does not depend on `pxe-dhcp`). On each [`poll`](Driver::poll) it:
//!
//! 1. feeds every received datagram, with `now` converted from [`smoltcp::time::Instant`], to the
//!    core that owns the port (the server, the session on that transfer port, the responder);
//! 2. fires due deadlines (`handle_timeout`);
//! 3. accepts requests: repeats, the transfer cap and the handshake budget are the
//!    [`Server`]'s decisions, as in every driver; the name goes through [`sanitize`], the file
//!    is opened from the caller's [`FileSource`], a free pool port is taken; evicted handshakes
//!    free their port without a word;
//! 4. drains every core's transmits into its socket and serves
//!    [`SessionEvent::NeedData`] from the [`FileSource`];
//! 5. frees the ports of finished transfers and reports them as [`DriverEvent`]s.
//!
//! [`Driver::poll_at`] is the cores' earliest deadline; [`Driver::run`] does one whole round
//! (interface, driver, interface again) and returns when to wake up next: the earlier of
//! smoltcp's [`Interface::poll_at`] and the cores' deadlines.
//!
//! ```
//! use pxe_smoltcp::{Driver, DriverConfig, MemoryFiles};
//! use smoltcp::iface::{Config, Interface, SocketSet};
//! use smoltcp::phy::{Loopback, Medium};
//! use smoltcp::time::Instant;
//! use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
//!
//! let mut device = Loopback::new(Medium::Ip); // a real NIC driver on a device
//! let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, Instant::ZERO);
//! iface.update_ip_addrs(|a| a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 1), 24)).unwrap());
//! let mut sockets = SocketSet::new(vec![]);
//! let files = [("pxelinux.0", &b"..."[..])];
//! let mut driver = Driver::new(DriverConfig::default(), MemoryFiles::new(&files), &mut sockets)?;
//!
//! // The main loop: one round, then sleep until `wake` or the next frame.
//! let now = Instant::from_millis(1);
//! let wake = driver.run(now, &mut iface, &mut device, &mut sockets);
//! assert_eq!(wake, None); // idle: nothing to wait for
//! # Ok::<(), smoltcp::socket::udp::BindError>(())
//! ```
//!
//! Limits: smoltcp needs an IPv4 address on the interface; broadcast input reaches bound UDP
//! sockets, so a DHCP responder works. There is no public way to seed smoltcp's neighbour
//! cache, so [`Destination::ToHardware`] is sent to the limited broadcast address, which every
//! DHCP client accepts. A responder's events are not interpreted here: drain them with
//! [`Driver::responder_mut`] after each poll (a lease server's state changes, boot decisions).
//! A transmit that does not fit the socket's send buffer is dropped and counted in
//! [`DriverStats::send_dropped`]; the core's retransmission timer recovers it.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
// Beyond the workspace's lints: a core-like driver with no FFI forbids unsafe code outright.
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::ops::Range;

use pxe_proto::{Datagram, Destination, Instant, SansIo, Transmit};
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::udp;
use smoltcp::wire::{IpAddress, IpEndpoint};

use pxe_tftp::{
    ErrorCode, FileInfo, Outcome, RequestId, RequestKind, SanitizeOptions, Server, ServerConfig,
    Session, SessionEvent, TransferStats, sanitize,
};

/// Where file bytes come from: flash, a RAM image, a generated menu.
pub trait FileSource {
    /// An open file.
    type File;

    /// Opens `name`, already sanitized (relative, no `..`). The error code goes to the client
    /// (normally [`ErrorCode::FileNotFound`] or [`ErrorCode::AccessViolation`]).
    fn open(&mut self, name: &str) -> Result<Self::File, ErrorCode>;

    /// The file's size, if known (echoed as `tsize`; a read stops there).
    fn size(&self, file: &Self::File) -> Option<u64>;

    /// Reads up to `buf.len()` bytes at `offset`; fewer (down to none) means end of file. An
    /// error aborts the transfer with that code.
    fn read(
        &mut self,
        file: &mut Self::File,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, ErrorCode>;
}

/// Files held in memory, by name: the simplest [`FileSource`].
#[derive(Debug, Clone, Copy)]
pub struct MemoryFiles<'a> {
    files: &'a [(&'a str, &'a [u8])],
}

impl<'a> MemoryFiles<'a> {
    /// Serves `files`, `(name, bytes)` pairs; names are compared exactly.
    pub const fn new(files: &'a [(&'a str, &'a [u8])]) -> Self {
        MemoryFiles { files }
    }
}

impl<'a> FileSource for MemoryFiles<'a> {
    type File = &'a [u8];

    fn open(&mut self, name: &str) -> Result<&'a [u8], ErrorCode> {
        self.files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, bytes)| *bytes)
            .ok_or(ErrorCode::FileNotFound)
    }

    fn size(&self, file: &&'a [u8]) -> Option<u64> {
        Some(file.len() as u64)
    }

    fn read(
        &mut self,
        file: &mut &'a [u8],
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, ErrorCode> {
        let start = usize::try_from(offset).map_or(file.len(), |o| o.min(file.len()));
        let n = buf.len().min(file.len() - start);
        buf[..n].copy_from_slice(&file[start..start + n]);
        Ok(n)
    }
}

/// The responder of a driver that runs TFTP only: no ports, no output.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResponder;

impl SansIo for NoResponder {
    type Event = core::convert::Infallible;

    fn handle_datagram(&mut self, _now: Instant, _dgram: Datagram<'_>) {}

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_transmit(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<Transmit> {
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn poll_event(&mut self) -> Option<Self::Event> {
        None
    }
}

/// Ports, pool size and buffer sizes of a [`Driver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// TFTP policy and limits (default: [`ServerConfig::default`] with `windowsize_max` 16 and
    /// `window_bytes_max` 64 KiB, sizes that suit a small device).
    pub server: ServerConfig,
    /// The TFTP listening port (default 69).
    pub tftp_port: u16,
    /// The transfer ports, one socket each, bound for the driver's lifetime (default
    /// `49152..49160`: eight concurrent transfers).
    pub transfer_ports: Range<u16>,
    /// The responder's ports; its transmits leave from the one matching `Transmit::local`,
    /// else the first (default `[67]`; a proxyDHCP also wants 4011).
    pub responder_ports: Vec<u16>,
    /// How requested names are cleaned (default [`SanitizeOptions::default`]).
    pub sanitize: SanitizeOptions<'static>,
    /// Datagrams each socket buffers in each direction (default 16); a transfer socket's send
    /// buffer also holds two full windows.
    pub socket_packets: usize,
    /// The largest datagram the responder sends or receives (default 1500).
    pub responder_mtu: usize,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            server: ServerConfig {
                windowsize_max: 16,
                window_bytes_max: 64 << 10,
                ..ServerConfig::default()
            },
            tftp_port: 69,
            transfer_ports: 49152..49160,
            responder_ports: vec![67],
            sanitize: SanitizeOptions::default(),
            socket_packets: 16,
            responder_mtu: 1500,
        }
    }
}

/// What the driver tells its caller (for logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverEvent {
    /// A request was accepted on a transfer port.
    Started {
        /// The client.
        peer: SocketAddr,
        /// The sanitized file name.
        name: String,
        /// The transfer port.
        port: u16,
    },
    /// A request was refused with an ERROR.
    Rejected {
        /// The client.
        peer: SocketAddr,
        /// The requested name (lossy UTF-8).
        name: String,
        /// The code sent.
        code: ErrorCode,
    },
    /// A transfer ended and its port is free again.
    Finished {
        /// The client.
        peer: SocketAddr,
        /// The sanitized file name.
        name: String,
        /// How it ended.
        outcome: Outcome,
        /// Its counters.
        stats: TransferStats,
    },
}

/// Counters of a [`Driver`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Requests refused because every transfer port was busy.
    pub busy: u64,
    /// Transmits dropped because a socket's send buffer was full or smoltcp refused them.
    pub send_dropped: u64,
    /// Events dropped because the caller did not drain [`Driver::poll_event`].
    pub events_dropped: u64,
}

/// At most this many [`DriverEvent`]s wait for the caller.
const EVENTS_MAX: usize = 64;

struct Transfer<T> {
    id: RequestId,
    session: Session,
    file: T,
    name: String,
}

struct Slot<T> {
    handle: SocketHandle,
    port: u16,
    transfer: Option<Transfer<T>>,
}

/// The TFTP server and an optional responder `R`, on smoltcp sockets. See the
/// [module documentation](self).
pub struct Driver<F: FileSource, R: SansIo = NoResponder> {
    config: DriverConfig,
    files: F,
    server: Server,
    listen: SocketHandle,
    slots: Vec<Slot<F::File>>,
    responder: R,
    responder_sockets: Vec<(u16, SocketHandle)>,
    /// Transmit scratch, as long as the largest datagram any core may write.
    out: Vec<u8>,
    /// `NeedData` scratch, grown to the largest request.
    data: Vec<u8>,
    events: VecDeque<DriverEvent>,
    stats: DriverStats,
}

impl<F: FileSource, R: SansIo> core::fmt::Debug for Driver<F, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("config", &self.config)
            .field("active", &self.active_transfers())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn udp_socket<'a>(packets: usize, rx_bytes: usize, tx_bytes: usize) -> udp::Socket<'a> {
    udp::Socket::new(
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; packets], vec![0; rx_bytes]),
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; packets], vec![0; tx_bytes]),
    )
}

fn bound<'a>(
    sockets: &mut SocketSet<'a>,
    mut socket: udp::Socket<'a>,
    port: u16,
) -> Result<SocketHandle, udp::BindError> {
    socket.bind(port)?;
    Ok(sockets.add(socket))
}

/// smoltcp time (signed micros) to core time (unsigned micros; before the epoch reads as 0).
pub fn to_core_instant(t: smoltcp::time::Instant) -> Instant {
    Instant::from_micros(u64::try_from(t.total_micros()).unwrap_or(0))
}

/// Core time to smoltcp time (saturating).
pub fn to_smoltcp_instant(t: Instant) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(i64::try_from(t.as_micros()).unwrap_or(i64::MAX))
}

fn to_socket_addr(ep: IpEndpoint) -> SocketAddr {
    SocketAddr::new(IpAddr::from(ep.addr), ep.port)
}

/// A core's destination as a smoltcp endpoint, or `None` for one smoltcp cannot address
/// (IPv6 without `proto-ipv6`).
fn endpoint(dest: Destination) -> Option<IpEndpoint> {
    let (ip, port) = match dest {
        Destination::Unicast(addr) => (addr.ip(), addr.port()),
        Destination::Broadcast { port } | Destination::ToHardware { port, .. } => {
            (IpAddr::V4(Ipv4Addr::BROADCAST), port)
        }
    };
    match ip {
        IpAddr::V4(v4) => Some(IpEndpoint::new(IpAddress::Ipv4(v4), port)),
        IpAddr::V6(_) => None,
    }
}

/// Receives every queued datagram on `handle` and hands it to `f` as a core [`Datagram`].
fn receive_all<'s>(
    sockets: &mut SocketSet<'s>,
    handle: SocketHandle,
    port: u16,
    mut f: impl FnMut(Datagram<'_>),
) {
    let socket = sockets.get_mut::<udp::Socket<'s>>(handle);
    while let Ok((payload, meta)) = socket.recv() {
        let local_ip = meta
            .local_address
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::from);
        f(Datagram::new(
            to_socket_addr(meta.endpoint),
            SocketAddr::new(local_ip, port),
            payload,
        ));
    }
}

/// Whether `socket` can take one more datagram of up to `len` bytes. A packet ring may need the
/// room twice over when it wraps, hence the factor.
fn has_room(socket: &udp::Socket<'_>, len: usize) -> bool {
    socket.can_send()
        && socket
            .payload_send_capacity()
            .saturating_sub(socket.send_queue())
            >= 2 * len
}

/// Drains `core`'s transmits into the socket `handle` until the core has none or the socket
/// is full. Returns whether anything was sent.
fn drain_transmits<'s, C: SansIo + ?Sized>(
    core: &mut C,
    now: Instant,
    sockets: &mut SocketSet<'s>,
    handle: SocketHandle,
    out: &mut [u8],
    stats: &mut DriverStats,
) -> bool {
    let mut sent = false;
    loop {
        let socket = sockets.get_mut::<udp::Socket<'s>>(handle);
        if !has_room(socket, out.len()) {
            return sent;
        }
        let Some(t) = core.poll_transmit(now, out) else {
            return sent;
        };
        sent = true;
        let payload = &out[..t.len.min(out.len())];
        let ok = endpoint(t.destination).is_some_and(|ep| socket.send_slice(payload, ep).is_ok());
        if !ok {
            stats.send_dropped += 1;
        }
    }
}

impl<F: FileSource> Driver<F, NoResponder> {
    /// A TFTP-only driver: binds the listening port and the transfer pool in `sockets`.
    /// Fails only if a port is 0.
    pub fn new<'s>(
        config: DriverConfig,
        files: F,
        sockets: &mut SocketSet<'s>,
    ) -> Result<Self, udp::BindError> {
        let config = DriverConfig {
            responder_ports: Vec::new(),
            ..config
        };
        Driver::with_responder(config, files, NoResponder, sockets)
    }
}

impl<F: FileSource, R: SansIo> Driver<F, R> {
    /// A driver running `responder` on [`DriverConfig::responder_ports`] beside TFTP.
    /// Fails only if a port is 0.
    pub fn with_responder<'s>(
        config: DriverConfig,
        files: F,
        responder: R,
        sockets: &mut SocketSet<'s>,
    ) -> Result<Self, udp::BindError> {
        let packets = config.socket_packets.max(1);
        let blksize = usize::from(config.server.blksize_max.max(512));
        let datagram = blksize + 4;
        let window = usize::from(config.server.windowsize_max.max(1));
        let listen = bound(
            sockets,
            udp_socket(packets, packets * 600, packets * 600),
            config.tftp_port,
        )?;
        let mut slots = Vec::new();
        for port in config.transfer_ports.clone() {
            // Send room for two full windows, so one whole window fits even when the ring wraps.
            let tx = 2 * window * datagram + 2 * datagram;
            let socket = udp_socket(packets.max(2 * window + 2), packets * 600, tx);
            slots.push(Slot {
                handle: bound(sockets, socket, port)?,
                port,
                transfer: None,
            });
        }
        let mtu = config.responder_mtu;
        let mut responder_sockets = Vec::new();
        for &port in &config.responder_ports {
            let socket = udp_socket(packets, packets * mtu, packets * mtu);
            responder_sockets.push((port, bound(sockets, socket, port)?));
        }
        Ok(Driver {
            server: Server::new(config.server),
            out: vec![0; datagram.max(mtu).max(600)],
            config,
            files,
            listen,
            slots,
            responder,
            responder_sockets,
            data: Vec::new(),
            events: VecDeque::new(),
            stats: DriverStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> &DriverStats {
        &self.stats
    }

    /// The TFTP listener core (its counters).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The responder, to drain its events after [`poll`](Driver::poll).
    pub fn responder_mut(&mut self) -> &mut R {
        &mut self.responder
    }

    /// The file source.
    pub fn files_mut(&mut self) -> &mut F {
        &mut self.files
    }

    /// Transfers running now.
    pub fn active_transfers(&self) -> usize {
        self.slots.iter().filter(|s| s.transfer.is_some()).count()
    }

    /// The next driver event, oldest first.
    pub fn poll_event(&mut self) -> Option<DriverEvent> {
        self.events.pop_front()
    }

    fn event(&mut self, ev: DriverEvent) {
        if self.events.len() < EVENTS_MAX {
            self.events.push_back(ev);
        } else {
            self.stats.events_dropped += 1;
        }
    }

    /// The earliest deadline of the cores (server, sessions, responder), or `None`.
    pub fn poll_at(&self) -> Option<smoltcp::time::Instant> {
        let sessions = self
            .slots
            .iter()
            .filter_map(|s| s.transfer.as_ref()?.session.poll_timeout());
        sessions
            .chain(self.server.poll_timeout())
            .chain(self.responder.poll_timeout())
            .min()
            .map(to_smoltcp_instant)
    }

    /// One whole round: `iface.poll` (receive), [`poll`](Driver::poll), `iface.poll` again
    /// (send what the cores queued). Returns when to call it next: the earlier of
    /// [`Interface::poll_at`] and [`poll_at`](Driver::poll_at); `None` means "on the next
    /// frame". A caller sleeps until then or until the device has a frame.
    pub fn run<'s, D: Device + ?Sized>(
        &mut self,
        now: smoltcp::time::Instant,
        iface: &mut Interface,
        device: &mut D,
        sockets: &mut SocketSet<'s>,
    ) -> Option<smoltcp::time::Instant> {
        iface.poll(now, device, sockets);
        // Sending can free socket room for more: a few rounds drain a whole window even when a
        // send buffer holds less.
        for _ in 0..4 {
            if !self.poll(now, sockets) {
                break;
            }
            iface.poll(now, device, sockets);
        }
        match (iface.poll_at(now, sockets), self.poll_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Steps 1–5 of the [module documentation](self) on already-received socket data; the
    /// caller runs `iface.poll` before and after. Returns whether anything was sent.
    pub fn poll<'s>(&mut self, now: smoltcp::time::Instant, sockets: &mut SocketSet<'s>) -> bool {
        let now = to_core_instant(now);

        // 1. Input, each datagram to the core that owns the port.
        let server = &mut self.server;
        receive_all(sockets, self.listen, self.config.tftp_port, |d| {
            server.handle_datagram(now, d)
        });
        for slot in &mut self.slots {
            let transfer = &mut slot.transfer;
            // A datagram for a free port (a late packet of an old transfer) is dropped.
            receive_all(sockets, slot.handle, slot.port, |d| {
                if let Some(t) = transfer {
                    t.session.handle_datagram(now, d);
                }
            });
        }
        let responder = &mut self.responder;
        for &(port, handle) in &self.responder_sockets {
            receive_all(sockets, handle, port, |d| responder.handle_datagram(now, d));
        }

        // 2. Deadlines (early calls are harmless).
        self.server.handle_timeout(now);
        self.responder.handle_timeout(now);
        for slot in &mut self.slots {
            if let Some(t) = &mut slot.transfer {
                t.session.handle_timeout(now);
            }
        }

        // 3. New requests.
        while let Some(incoming) = self.server.poll_event() {
            self.accept(now, incoming, sockets);
        }
        while let Some(id) = self.server.poll_evicted() {
            for slot in &mut self.slots {
                if slot.transfer.as_ref().is_some_and(|t| t.id == id) {
                    slot.transfer = None;
                }
            }
        }

        // 4. Output.
        let mut sent = drain_transmits(
            &mut self.server,
            now,
            sockets,
            self.listen,
            &mut self.out,
            &mut self.stats,
        );
        for i in 0..self.slots.len() {
            sent |= self.drive_session(i, now, sockets);
        }
        sent |= self.drain_responder(now, sockets);
        sent
    }

    fn accept<'s>(
        &mut self,
        now: Instant,
        incoming: pxe_tftp::Incoming,
        sockets: &mut SocketSet<'s>,
    ) {
        let peer = incoming.peer();
        let refuse = |this: &mut Self,
                      incoming: pxe_tftp::Incoming,
                      code,
                      msg: &str,
                      sockets: &mut SocketSet<'s>| {
            let name = String::from(incoming.filename_lossy());
            this.server.finished(incoming.id());
            let t = incoming.reject(code, msg, &mut this.out);
            let socket = sockets.get_mut::<udp::Socket<'s>>(this.listen);
            let ok = endpoint(t.destination)
                .is_some_and(|ep| socket.send_slice(&this.out[..t.len], ep).is_ok());
            if !ok {
                this.stats.send_dropped += 1;
            }
            this.event(DriverEvent::Rejected { peer, name, code });
        };
        if incoming.kind() != RequestKind::Read {
            return refuse(
                self,
                incoming,
                ErrorCode::AccessViolation,
                "read only",
                sockets,
            );
        }
        let name = match sanitize(incoming.filename(), &self.config.sanitize) {
            Ok(name) => name,
            Err(_) => {
                return refuse(
                    self,
                    incoming,
                    ErrorCode::AccessViolation,
                    "bad file name",
                    sockets,
                );
            }
        };
        let Some(slot) = self.slots.iter().position(|s| s.transfer.is_none()) else {
            self.stats.busy += 1;
            return refuse(self, incoming, ErrorCode::NotDefined, "busy", sockets);
        };
        let file = match self.files.open(&name) {
            Ok(file) => file,
            Err(code) => {
                let msg = match code {
                    ErrorCode::FileNotFound => "file not found",
                    _ => "cannot open file",
                };
                return refuse(self, incoming, code, msg, sockets);
            }
        };
        let size = self.files.size(&file);
        let id = incoming.id();
        let session = incoming.accept(now, FileInfo { size });
        let need = session.max_transmit_len();
        if self.out.len() < need {
            self.out.resize(need, 0);
        }
        let port = self.slots[slot].port;
        self.slots[slot].transfer = Some(Transfer {
            id,
            session,
            file,
            name: name.clone(),
        });
        self.event(DriverEvent::Started { peer, name, port });
    }

    /// Drains session `i`: transmits into its socket, `NeedData` from the file source, and
    /// frees the slot once the session is finished.
    fn drive_session<'s>(&mut self, i: usize, now: Instant, sockets: &mut SocketSet<'s>) -> bool {
        let mut sent = false;
        let handle = self.slots[i].handle;
        let Some(t) = self.slots[i].transfer.as_mut() else {
            return false;
        };
        loop {
            let mut progress = drain_transmits(
                &mut t.session,
                now,
                sockets,
                handle,
                &mut self.out,
                &mut self.stats,
            );
            sent |= progress;
            while let Some(ev) = t.session.poll_event() {
                progress = true;
                match ev {
                    SessionEvent::NeedData { offset, len } => {
                        if self.data.len() < len {
                            self.data.resize(len, 0);
                        }
                        let buf = &mut self.data[..len];
                        match self.files.read(&mut t.file, offset, buf) {
                            Ok(n) => {
                                // The session asked for exactly this: an Err is a driver bug.
                                if t.session.supply(offset, &buf[..n.min(len)]).is_err() {
                                    t.session
                                        .abort(now, ErrorCode::NotDefined, "internal error");
                                }
                            }
                            Err(code) => t.session.abort(now, code, "read error"),
                        }
                    }
                    SessionEvent::Established => self.server.established(t.id),
                    SessionEvent::Finished(outcome) => {
                        let ev = DriverEvent::Finished {
                            peer: t.session.peer(),
                            name: t.name.clone(),
                            outcome,
                            stats: t.session.stats().clone(),
                        };
                        if self.events.len() < EVENTS_MAX {
                            self.events.push_back(ev);
                        } else {
                            self.stats.events_dropped += 1;
                        }
                    }
                    // Events a newer core adds: nothing for this driver to do.
                    _ => {}
                }
            }
            if !progress {
                break;
            }
        }
        if t.session.is_finished() {
            self.server.finished(t.id);
            self.slots[i].transfer = None;
        }
        sent
    }

    fn drain_responder<'s>(&mut self, now: Instant, sockets: &mut SocketSet<'s>) -> bool {
        let Some(&(_, first)) = self.responder_sockets.first() else {
            return false;
        };
        let mut sent = false;
        loop {
            // The reply may have to leave from a port other than the first (4011): look at
            // where it goes before committing it to a socket, so check room on all of them.
            let room = self.responder_sockets.iter().all(|&(_, h)| {
                has_room(sockets.get::<udp::Socket<'s>>(h), self.config.responder_mtu)
            });
            if !room {
                return sent;
            }
            let mtu = self.config.responder_mtu.min(self.out.len());
            let Some(t) = self.responder.poll_transmit(now, &mut self.out[..mtu]) else {
                return sent;
            };
            sent = true;
            let handle = t
                .local
                .and_then(|l| self.responder_sockets.iter().find(|(p, _)| *p == l.port()))
                .map_or(first, |&(_, h)| h);
            let socket = sockets.get_mut::<udp::Socket<'s>>(handle);
            let ok = endpoint(t.destination)
                .is_some_and(|ep| socket.send_slice(&self.out[..t.len.min(mtu)], ep).is_ok());
            if !ok {
                self.stats.send_dropped += 1;
            }
        }
    }
}
