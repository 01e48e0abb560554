//! The TFTP driver: the listening socket feeds [`pxe_tftp::Server`]; each accepted request
//! gets its own reply socket and thread running a [`pxe_tftp::Session`] ([`transfer`]).
//!
//! `pxe tftp` ([`run`]) is this alone; `pxe serve` calls [`start`] beside DHCP.

pub mod clock;
pub mod fs;
pub mod net;
pub mod transfer;

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use pxe_proto::{Datagram, SansIo};
use pxe_tftp::{ErrorCode, FileInfo, Incoming, RequestKind, Server, ServerConfig};

use crate::cli::{PortRange, TftpArgs};
use crate::config::TftpConfig;
use crate::error::Error;

use self::fs::{DirRoot, Refusal, Root};
use self::net::{Listener, PortAllocator};
use self::transfer::{Io, Transfer};

/// Default largest block size before the per-interface clamp: the RFC 2348 maximum. Unless
/// `--blksize-max` is given, each request's grant is also capped to the MTU of the interface
/// it arrived on minus the IP, UDP and TFTP headers (1468 on Ethernet, like dnsmasq), so DATA
/// never fragments: many PXE ROMs cannot reassemble fragments. On loopback that leaves 65464.
pub const DEFAULT_BLKSIZE_MAX: u16 = 65464;

/// Stack of a transfer thread: the loop keeps its buffers on the heap.
const TRANSFER_STACK: usize = 256 << 10;

/// Everything the TFTP service needs.
#[derive(Debug)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// What is served.
    pub root: Root,
    /// User to switch to after binding.
    pub user: Option<String>,
    /// Core policy (block and window limits, write permission, timers).
    pub core: ServerConfig,
    /// Transfer ports.
    pub port_range: Option<PortRange>,
    /// Cap `blksize` to each interface's MTU (when no `--blksize-max` was given).
    pub blksize_from_mtu: bool,
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
            user: t.user.clone(),
            core,
            port_range: t.port_range,
            blksize_from_mtu: t.blksize_max.is_none(),
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

/// Binds, drops privileges if asked, and starts the listener thread.
pub fn start(settings: Settings) -> Result<Running, Error> {
    let listener = Listener::bind(settings.listen).map_err(|e| bind_error(settings.listen, e))?;
    let local = listener.local_addr();
    if let Some(user) = &settings.user {
        net::drop_privileges(user).map_err(|e| Error::io(format!("switch to user `{user}`"), e))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Shared {
        root: settings.root,
        ports: PortAllocator::new(settings.port_range),
        stop: Arc::clone(&stop),
        active: Mutex::new(HashSet::new()),
    });
    tracing::info!(
        listen = %local, root = %shared.root.describe(), blksize_max = settings.core.blksize_max,
        windowsize_max = settings.core.windowsize_max, write = settings.core.allow_write,
        "TFTP listening"
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
    /// Requests being served, keyed by client and request, so a retransmitted RRQ does not
    /// start a second transfer (a new request from the same port, e.g. EDK2's after its size
    /// probe, is a different key).
    active: Mutex<HashSet<(SocketAddr, Vec<u8>, bool)>>,
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
    while !shared.stop.load(Ordering::Relaxed) {
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
            if let Some(w) = dispatch(incoming, &listener, shared, &mut out) {
                workers.push(w);
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

/// Opens the file, binds the reply socket and starts the transfer thread, or refuses.
fn dispatch(
    incoming: Incoming,
    listener: &Listener,
    shared: &Arc<Shared>,
    out: &mut [u8],
) -> Option<JoinHandle<()>> {
    let peer = incoming.peer();
    let name = incoming.filename_lossy().into_owned();
    let key = (
        peer,
        incoming.filename().to_vec(),
        incoming.options().tsize.is_some(),
    );
    // Before opening: a retransmitted WRQ must not start a second upload beside the first.
    if !shared
        .active
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key.clone())
    {
        tracing::debug!(client = %transfer::shown(peer), file = %name, "duplicate request ignored");
        return None;
    }
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
            refuse(incoming, &refusal, &name, listener, out);
            release(shared, &key);
            return None;
        }
    };
    let socket = match shared.ports.reply_socket(incoming.local().ip(), peer) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(client = %transfer::shown(peer), file = %name, error = %e, "cannot open a transfer socket");
            let t = incoming.reject(ErrorCode::NotDefined, "server out of ports", out);
            let _ = listener.send_to(&out[..t.len], peer);
            release(shared, &key);
            return None;
        }
    };
    let o = incoming.options();
    tracing::debug!(
        client = %transfer::shown(peer), file = %name, blksize = ?o.blksize, windowsize = ?o.windowsize,
        tsize = ?o.tsize, timeout = ?o.timeout, "request"
    );
    let session = incoming.accept(clock::now(), FileInfo { size });
    let transfer = Transfer::new(socket, session, io, name, Arc::clone(&shared.stop));
    let shared2 = Arc::clone(shared);
    let key2 = key.clone();
    let spawned = std::thread::Builder::new()
        .name("tftp-transfer".into())
        .stack_size(TRANSFER_STACK)
        .spawn(move || {
            transfer.run();
            release(&shared2, &key2);
        });
    match spawned {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(client = %transfer::shown(peer), error = %e, "cannot start a transfer thread");
            release(shared, &key);
            None
        }
    }
}

fn release(shared: &Shared, key: &(SocketAddr, Vec<u8>, bool)) {
    shared
        .active
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(key);
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

/// Runs `pxe tftp` until SIGINT or SIGTERM.
pub fn run(args: &TftpArgs) -> Result<ExitCode, Error> {
    // Block the stop signals in every thread; the main thread then waits for them.
    let signals = stop_signals();
    signals
        .thread_block()
        .map_err(|e| Error::io("block SIGINT/SIGTERM", e.into()))?;
    let root = DirRoot::open(&args.root, args.secure, args.create)
        .map_err(|e| Error::io(format!("open root {}", args.root.display()), e))?;
    let t = TftpConfig {
        listen: Some(args.listen),
        secure: args.secure,
        user: args.user.clone(),
        create: args.create,
        blksize_max: args.blksize_max,
        windowsize_max: args.windowsize_max,
        port_range: args.port_range,
    };
    let running = start(Settings::from_config(args.listen, Root::Dir(root), &t))?;
    let sig = signals
        .wait()
        .map_err(|e| Error::io("wait for SIGINT/SIGTERM", e.into()))?;
    tracing::info!(signal = %sig, "stopping");
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
