//! The TFTP driver: the listening socket feeds [`pxe_tftp::Server`]; each accepted request
//! gets its own reply socket and thread running a [`pxe_tftp::Session`] ([`transfer`]), up to
//! `max_transfers` at once ([`admission`]).
//!
//! `pxe tftp` ([`run`]) is this alone; `pxe serve` calls [`start`] beside DHCP.

pub mod admission;
pub mod clock;
pub mod fs;
pub mod net;
pub mod transfer;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use pxe_proto::{Datagram, SansIo};
use pxe_tftp::{ErrorCode, FileInfo, Incoming, RequestKind, Server, ServerConfig};

use crate::config::TftpConfig;
use crate::error::Error;
use crate::events::{
    Event, Events, ProgressTicker, Protocol, TransferFinished, TransferId, TransferResult,
    TransferStarted,
};
use crate::fdlimit;
use crate::ranges::PortRange;

use self::admission::{Admission, Admit, DEFAULT_MAX_TRANSFERS, DROP_LOG_INTERVAL, DropLog, Slot};
use self::fs::{DirRoot, Refusal, Root};
use self::net::{Listener, PortAllocator};
use self::transfer::{Io, Transfer};

/// Default largest block size before the per-interface clamp: the RFC 2348 maximum. Unless
/// `--blksize-max` is given, each request's grant is also capped to the MTU of the interface
/// it arrived on minus the IP, UDP and TFTP headers (1468 on Ethernet, like dnsmasq), so DATA
/// never fragments: many PXE ROMs cannot reassemble fragments. On loopback that leaves 65464.
pub const DEFAULT_BLKSIZE_MAX: u16 = 65464;

/// Where `pxe tftp` listens unless told otherwise: every IPv4 address, port 69 (RFC 1350).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    69,
));

/// Stack of a transfer thread: the loop keeps its buffers on the heap.
const TRANSFER_STACK: usize = 256 << 10;

/// Everything the TFTP service needs.
#[derive(Debug)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// What is served.
    pub root: Root,
    /// Core policy (block and window limits, write permission, timers).
    pub core: ServerConfig,
    /// Transfer ports.
    pub port_range: Option<PortRange>,
    /// Cap `blksize` to each interface's MTU (when no `--blksize-max` was given).
    pub blksize_from_mtu: bool,
    /// Most transfers at once; requests beyond it are dropped unanswered until one ends.
    pub max_transfers: usize,
    /// Where transfers are reported.
    pub events: Events,
}

impl Settings {
    /// Settings from the `[tftp]` config table (or `pxe tftp` flags folded into one).
    pub fn from_config(listen: SocketAddr, root: Root, t: &TftpConfig) -> Self {
        let defaults = ServerConfig::default();
        let core = ServerConfig {
            blksize_max: t.blksize_max.unwrap_or(DEFAULT_BLKSIZE_MAX),
            windowsize_max: t.windowsize_max.unwrap_or(defaults.windowsize_max),
            allow_write: t.create,
            ..defaults
        };
        Self {
            listen,
            root,
            core,
            port_range: t.port_range,
            blksize_from_mtu: t.blksize_max.is_none(),
            max_transfers: t.max_transfers.map_or(DEFAULT_MAX_TRANSFERS, |n| {
                usize::try_from(n.get()).unwrap_or(usize::MAX)
            }),
            events: Events::new(),
        }
    }
}

/// A running TFTP service; stop it with [`Running::stop`].
#[derive(Debug)]
pub struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    local: SocketAddr,
}

impl Running {
    /// The bound listen address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops accepting, tells active transfers to end (ERROR 0 to their clients) and waits.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A bound, not yet serving, TFTP listener: bound while the process may still be root, then
/// started ([`Bound::start`]) once privileges are dropped ([`crate::privilege`]).
#[derive(Debug)]
pub struct Bound {
    listener: Listener,
    settings: Settings,
}

/// Binds the listen address of `settings`.
pub fn bind(settings: Settings) -> Result<Bound, Error> {
    let listener = Listener::bind(settings.listen).map_err(|e| bind_error(settings.listen, e))?;
    Ok(Bound { listener, settings })
}

/// Binds and starts at once, without any privilege change ([`bind`] then [`Bound::start`]).
/// Callers raise the open-file limit first ([`crate::fdlimit::raise_for`]).
pub fn start(settings: Settings) -> Result<Running, Error> {
    bind(settings)?.start()
}

impl Bound {
    /// The bound listen address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// Starts the listener thread.
    pub fn start(self) -> Result<Running, Error> {
        let Bound { listener, settings } = self;
        let local = listener.local_addr();
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            root: settings.root,
            ports: PortAllocator::new(settings.port_range),
            stop: Arc::clone(&stop),
            admission: Arc::new(Admission::new(settings.max_transfers)),
            events: settings.events,
        });
        tracing::info!(
            listen = %local, root = %shared.root.describe(), blksize_max = settings.core.blksize_max,
            windowsize_max = settings.core.windowsize_max, write = settings.core.allow_write,
            max_transfers = shared.admission.max(), "TFTP listening"
        );
        let servers = Servers {
            base: settings.core,
            from_mtu: settings.blksize_from_mtu,
            by_ip: HashMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("tftp-listen".into())
            .spawn(move || listen_loop(listener, servers, &shared))
            .map_err(|e| Error::io("spawn the TFTP listener thread", e))?;
        Ok(Running {
            stop,
            thread: Some(thread),
            local,
        })
    }
}

fn bind_error(addr: SocketAddr, e: io::Error) -> Error {
    let hint = match e.kind() {
        io::ErrorKind::PermissionDenied => {
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE; or use --listen with a port >= 1024)"
        }
        io::ErrorKind::AddrInUse => {
            " (another TFTP server holds it? `ss -ulpn 'sport = :69'`; stop tftpd-hpa: `systemctl disable --now tftpd-hpa`)"
        }
        io::ErrorKind::AddrNotAvailable => " (no interface has this address: see `ip -br addr`)",
        _ => "",
    };
    Error::io(format!("bind UDP {addr}{hint}"), e)
}

/// State shared by the listener and the transfer threads.
#[derive(Debug)]
struct Shared {
    root: Root,
    ports: PortAllocator,
    stop: Arc<AtomicBool>,
    /// Requests being served and the cap on them.
    admission: Arc<Admission>,
    /// Where transfers are reported.
    events: Events,
}

/// One [`Server`] per local address, each with `blksize_max` capped to its interface's MTU.
#[derive(Debug)]
struct Servers {
    base: ServerConfig,
    from_mtu: bool,
    by_ip: HashMap<IpAddr, Server>,
}

impl Servers {
    /// The server for requests to `local`; its `blksize_max` comes from the route MTU to the
    /// first client seen there (the link's MTU).
    fn for_local(&mut self, local: IpAddr, remote: SocketAddr) -> &mut Server {
        let (base, from_mtu) = (self.base, self.from_mtu);
        self.by_ip.entry(local).or_insert_with(|| {
            let mut config = base;
            if from_mtu && let Some(mtu) = net::route_mtu(local, remote) {
                let headers = if remote.is_ipv4() || is_v4_mapped(remote.ip()) { 32 } else { 52 };
                let cap = u16::try_from(mtu.saturating_sub(headers)).unwrap_or(u16::MAX);
                config.blksize_max = config.blksize_max.min(cap.max(512));
                if config.blksize_max < base.blksize_max {
                    tracing::info!(%local, mtu, blksize_max = config.blksize_max, "blksize capped to the MTU");
                }
            }
            Server::new(config)
        })
    }
}

fn is_v4_mapped(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some())
}

fn listen_loop(mut listener: Listener, mut servers: Servers, shared: &Arc<Shared>) {
    let mut buf = vec![0u8; pxe_tftp::wire::MAX_DATAGRAM_LEN];
    let mut out = vec![0u8; 1024];
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    let mut drops = DropLog::new(DROP_LOG_INTERVAL);
    while !shared.stop.load(Ordering::Relaxed) {
        if let Some(dropped) = drops.due(clock::now()) {
            tracing::warn!(
                dropped,
                active = shared.admission.active(),
                max_transfers = shared.admission.max(),
                "max_transfers reached: requests dropped without reply (clients retransmit \
                 them; raise [tftp] max_transfers / --max-transfers if this persists)"
            );
        }
        let r = match listener.recv(&mut buf) {
            Ok(Some(r)) => r,
            Ok(None) => {
                workers.retain(|w| !w.is_finished());
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "TFTP listener receive failed");
                continue;
            }
        };
        let now = clock::now();
        let server = servers.for_local(r.local.ip(), r.remote);
        server.handle_datagram(now, Datagram::new(r.remote, r.local, &buf[..r.len]));
        while let Some(t) = server.poll_transmit(now, &mut out) {
            if let pxe_proto::Destination::Unicast(to) = t.destination {
                let _ = listener.send_to(&out[..t.len], to);
            }
        }
        while let Some(incoming) = server.poll_event() {
            match shared.admission.admit(request_key(&incoming)) {
                Admit::Slot(slot) => {
                    if let Some(w) = dispatch(incoming, slot, &listener, shared, &mut out) {
                        workers.push(w);
                    }
                }
                Admit::Duplicate => tracing::debug!(
                    client = %transfer::shown(incoming.peer()),
                    file = %incoming.filename_lossy(),
                    "duplicate request ignored"
                ),
                Admit::Full => {
                    tracing::debug!(
                        client = %transfer::shown(incoming.peer()),
                        file = %incoming.filename_lossy(),
                        "request dropped: max_transfers active"
                    );
                    drops.record();
                }
            }
        }
        if workers.len() > 64 {
            workers.retain(|w| !w.is_finished());
        }
    }
    for w in workers {
        let _ = w.join();
    }
}

/// What makes a request distinct from a retransmission of one being served.
fn request_key(incoming: &Incoming) -> admission::Key {
    (
        incoming.peer(),
        incoming.filename().to_vec(),
        incoming.options().tsize.is_some(),
    )
}

/// Opens the file, binds the reply socket and starts the transfer thread, or refuses. The
/// `slot` is held by the transfer thread; every other way out drops it, freeing the place.
fn dispatch(
    incoming: Incoming,
    slot: Slot,
    listener: &Listener,
    shared: &Arc<Shared>,
    out: &mut [u8],
) -> Option<JoinHandle<()>> {
    let peer = incoming.peer();
    let name = incoming.filename_lossy().into_owned();
    let opened = match incoming.kind() {
        RequestKind::Read => shared
            .root
            .open_read(incoming.filename())
            .map(|(d, size)| (Io::Read(d), Some(size))),
        RequestKind::Write => shared
            .root
            .open_write(incoming.filename())
            .map(|f| (Io::Write(f), None)),
    };
    let (io, size) = match opened {
        Ok(o) => o,
        Err(refusal) => {
            shared.events.emit(|| {
                Event::TransferFinished(TransferFinished {
                    id: TransferId::next(),
                    protocol: Protocol::Tftp,
                    client: transfer::shown(peer),
                    file: name.clone(),
                    bytes: 0,
                    duration: std::time::Duration::ZERO,
                    status: None,
                    retransmits: 0,
                    timeouts: 0,
                    result: TransferResult::Refused(refusal.explain()),
                })
            });
            refuse(incoming, &refusal, &name, listener, out);
            return None;
        }
    };
    let socket = match shared.ports.reply_socket(incoming.local().ip(), peer) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(client = %transfer::shown(peer), file = %name, error = %e, "cannot open a transfer socket");
            let t = incoming.reject(ErrorCode::NotDefined, "server out of ports", out);
            let _ = listener.send_to(&out[..t.len], peer);
            return None;
        }
    };
    let o = incoming.options();
    tracing::debug!(
        client = %transfer::shown(peer), file = %name, blksize = ?o.blksize, windowsize = ?o.windowsize,
        tsize = ?o.tsize, timeout = ?o.timeout, "request"
    );
    let upload = incoming.kind() == RequestKind::Write;
    let session = incoming.accept(clock::now(), FileInfo { size });
    let id = TransferId::next();
    let events = shared.events.clone();
    let client = transfer::shown(peer);
    events.emit(|| {
        Event::TransferStarted(TransferStarted {
            id,
            protocol: Protocol::Tftp,
            client,
            file: name.clone(),
            size,
            upload,
            at: std::time::SystemTime::now(),
        })
    });
    let ticker = ProgressTicker::new(events.clone(), id, Protocol::Tftp, size);
    let transfer = Transfer::new(socket, session, io, name.clone(), Arc::clone(&shared.stop))
        .with_progress(ticker);
    // A failed spawn drops the closure, and with it the slot.
    let spawned = std::thread::Builder::new()
        .name("tftp-transfer".into())
        .stack_size(TRANSFER_STACK)
        .spawn(move || {
            let _slot = slot;
            let summary = transfer.run();
            events.emit(|| finished(id, client, name, &summary));
        });
    match spawned {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(client = %transfer::shown(peer), error = %e, "cannot start a transfer thread");
            None
        }
    }
}

/// The event for a transfer that ended with `summary`.
fn finished(
    id: TransferId,
    client: SocketAddr,
    file: String,
    summary: &transfer::Summary,
) -> Event {
    let result = match &summary.outcome {
        Some(pxe_tftp::Outcome::Completed) => TransferResult::Completed,
        Some(pxe_tftp::Outcome::SizeProbe) => TransferResult::SizeProbe,
        Some(pxe_tftp::Outcome::Failed(e)) => TransferResult::Failed(e.to_string()),
        None => TransferResult::Failed("unfinished".into()),
    };
    Event::TransferFinished(TransferFinished {
        id,
        protocol: Protocol::Tftp,
        client,
        file,
        bytes: summary.stats.bytes,
        duration: summary.stats.duration().unwrap_or_default(),
        status: None,
        retransmits: summary.stats.retransmits,
        timeouts: summary.stats.timeouts,
        result,
    })
}

fn refuse(incoming: Incoming, refusal: &Refusal, name: &str, listener: &Listener, out: &mut [u8]) {
    let peer = incoming.peer();
    let why = refusal.explain();
    match refusal {
        Refusal::NotFound => {
            tracing::info!(client = %transfer::shown(peer), file = %name, "refused: {why}")
        }
        _ => tracing::warn!(client = %transfer::shown(peer), file = %name, "refused: {why}"),
    }
    let code = ErrorCode::from_u16(refusal.code());
    let t = incoming.reject(code, refusal.client_message(), out);
    let _ = listener.send_to(&out[..t.len], peer);
}

/// Serves `root` over TFTP alone (`pxe tftp`, the tftpd-hpa drop-in) on `t.listen` (default
/// 0.0.0.0:69) until SIGINT or SIGTERM.
pub fn run(root: &Path, t: &TftpConfig) -> Result<ExitCode, Error> {
    // Block the stop signals in every thread; the main thread then waits for them.
    let signals = stop_signals();
    signals
        .thread_block()
        .map_err(|e| Error::io("block SIGINT/SIGTERM", e.into()))?;
    let dir = DirRoot::open(root, t.secure, t.create)
        .map_err(|e| Error::io(format!("open root {}", root.display()), e))?
        .permissive(t.permissive);
    let listen = t.listen.unwrap_or(DEFAULT_LISTEN);
    let settings = Settings::from_config(listen, Root::Dir(dir), t);
    fdlimit::raise_for(settings.max_transfers);
    let bound = bind(settings)?;
    // Still one thread: the reduced credentials are inherited by every thread started below.
    crate::privilege::drop_privileges(t.user.as_deref(), &[])?;
    let running = bound.start()?;
    crate::notify::ready(&format!("serving TFTP on {}", running.local_addr()));
    let sig = signals
        .wait()
        .map_err(|e| Error::io("wait for SIGINT/SIGTERM", e.into()))?;
    tracing::info!(signal = %sig, "stopping");
    crate::notify::stopping();
    running.stop();
    Ok(ExitCode::SUCCESS)
}

fn stop_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set
}
