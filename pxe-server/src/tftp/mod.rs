//! The TFTP driver: the listening socket feeds [`pxe_tftp::Server`], which decides which
//! requests become transfers (repeats, `max_transfers`, the handshake budget); each accepted
//! request gets its own reply socket and a task running a [`pxe_tftp::Session`]
//! ([`transfer`]), all on one event loop per CPU (a multi-threaded tokio runtime of the TFTP
//! service's own).
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
use std::num::NonZeroU32;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use pxe_proto::{Datagram, SansIo};
use pxe_tftp::{ErrorCode, FileInfo, Incoming, RequestId, RequestKind, Server, ServerConfig};
use tokio::sync::watch;

use crate::config::TftpConfig;
use crate::error::Error;
use crate::events::{
    Event, Events, ProgressTicker, Protocol, TransferFinished, TransferId, TransferResult,
    TransferStarted,
};
use crate::fdlimit;
use crate::ranges::PortRange;

use self::admission::{DEFAULT_MAX_TRANSFERS, DROP_LOG_INTERVAL, DropLog};
use self::fs::{DirRoot, OpenFiles, Refusal, Root};
use self::net::{BoundListener, Listener, PortAllocator};
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
            max_handshakes: t
                .max_handshakes
                .map_or(defaults.max_handshakes, NonZeroU32::get),
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
    stop: watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
    listener: Option<tokio::task::JoinHandle<()>>,
    local: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Dropped without `stop` (perhaps inside another runtime, where blocking is not
        // allowed): transfers are cut without their ERROR.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Running {
    /// The bound listen address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops accepting, tells active transfers to end (ERROR 0 to their clients) and waits.
    /// Call it from outside any tokio runtime (or in `spawn_blocking`).
    pub fn stop(mut self) {
        let _ = self.stop.send(true);
        if let (Some(rt), Some(listener)) = (self.runtime.take(), self.listener.take()) {
            let _ = rt.block_on(listener);
            rt.shutdown_timeout(STOP_GRACE);
        }
    }
}

/// How long [`Running::stop`] waits for transfers to send their last ERROR.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// A bound, not yet serving, TFTP listener: bound while the process may still be root, then
/// started ([`Bound::start`]) once privileges are dropped ([`crate::privilege`]).
#[derive(Debug)]
pub struct Bound {
    listener: BoundListener,
    settings: Settings,
}

/// Binds the listen address of `settings`.
pub fn bind(settings: Settings) -> Result<Bound, Error> {
    let listener =
        BoundListener::bind(settings.listen).map_err(|e| bind_error(settings.listen, e))?;
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

    /// Starts the TFTP runtime: one event loop per CPU (tokio's multi-threaded scheduler)
    /// driving every transfer's session, and the listener task.
    pub fn start(self) -> Result<Running, Error> {
        let Bound {
            listener: bound,
            settings,
        } = self;
        start_bound(bound, settings)
    }
}

fn start_bound(bound: BoundListener, settings: Settings) -> Result<Running, Error> {
    let local = bound.local_addr();
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("tftp")
        // File reads run inline (page cache); the blocking pool only stops the runtime.
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the TFTP runtime", e))?;
    let refusals = bound
        .try_clone_socket()
        .map_err(|e| Error::io("share the TFTP socket", e))?;
    let listener = {
        let _guard = runtime.enter();
        bound
            .into_listener()
            .map_err(|e| Error::io("register the TFTP socket", e))?
    };
    let (stop, stop_rx) = watch::channel(false);
    let mut core = settings.core;
    core.max_transfers = u32::try_from(settings.max_transfers).unwrap_or(u32::MAX);
    let shared = Arc::new(Shared {
        root: settings.root,
        ports: PortAllocator::new(settings.port_range),
        refusals,
        open_files: OpenFiles::default(),
        events: settings.events,
        table: Mutex::new(Table {
            server: Server::new(core),
            tasks: HashMap::new(),
        }),
        stop: stop_rx,
    });
    tracing::info!(
        listen = %local, root = %shared.root.describe(), blksize_max = core.blksize_max,
        windowsize_max = core.windowsize_max, write = core.allow_write,
        max_transfers = core.max_transfers, max_handshakes = core.max_handshakes,
        threads = workers, "TFTP listening"
    );
    let mtu = MtuCache {
        enabled: settings.blksize_from_mtu,
        base: core.blksize_max,
        by_ip: HashMap::new(),
    };
    let task = runtime.spawn(listen_loop(listener, mtu, shared));
    Ok(Running {
        stop,
        runtime: Some(runtime),
        listener: Some(task),
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

/// State shared by the listener and the transfer tasks.
#[derive(Debug)]
struct Shared {
    root: Root,
    ports: PortAllocator,
    /// The listening socket, shared: refusals (ERROR 1, 2, 3) leave from port 69.
    refusals: std::net::UdpSocket,
    /// Where transfers are reported.
    events: Events,
    /// One descriptor per file being read, whatever the number of its transfers.
    open_files: OpenFiles,
    /// The core's request table and the task of every request being served.
    table: Mutex<Table>,
    stop: watch::Receiver<bool>,
}

impl Shared {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The core's [`Server`] (which requests run, repeats, caps, handshakes) and the tasks serving
/// them, so an evicted handshake's task can be cancelled and a repeated request passed on.
#[derive(Debug)]
struct Table {
    server: Server,
    tasks: HashMap<RequestId, Task>,
}

/// A request's task: cancelled when its handshake is evicted, woken when its request repeats.
#[derive(Debug)]
struct Task {
    abort: tokio::task::AbortHandle,
    repeated: Arc<tokio::sync::Notify>,
}

/// Each local address's `blksize` cap: the route MTU to the first client seen there (the
/// link's MTU), read once.
#[derive(Debug)]
struct MtuCache {
    enabled: bool,
    base: u16,
    by_ip: HashMap<IpAddr, u16>,
}

impl MtuCache {
    fn cap(&mut self, local: IpAddr, remote: SocketAddr) -> Option<u16> {
        if !self.enabled {
            return None;
        }
        let base = self.base;
        Some(*self.by_ip.entry(local).or_insert_with(|| {
            let Some(mtu) = net::route_mtu(local, remote) else {
                return base;
            };
            let ipv6 = !(remote.is_ipv4() || is_v4_mapped(remote.ip()));
            let cap = base.min(pxe_tftp::blksize_for_mtu(mtu, ipv6));
            if cap < base {
                tracing::info!(%local, mtu, blksize_max = cap, "blksize capped to the MTU");
            }
            cap
        }))
    }
}

fn is_v4_mapped(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some())
}

async fn listen_loop(mut listener: Listener, mut mtu: MtuCache, shared: Arc<Shared>) {
    let mut buf = vec![0u8; pxe_tftp::wire::MAX_DATAGRAM_LEN];
    let mut out = vec![0u8; 1024];
    let mut requests: Vec<Incoming> = Vec::new();
    let mut drops = DropLog::new(DROP_LOG_INTERVAL);
    let mut evictions = DropLog::new(DROP_LOG_INTERVAL);
    let mut stop = shared.stop.clone();
    let mut tick = tokio::time::interval(DROP_LOG_INTERVAL);
    loop {
        let r = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = tick.tick() => None,
            r = listener.recv(&mut buf) => Some(r),
        };
        let now = clock::now();
        if let Some(dropped) = drops.due(now) {
            let table = shared.table();
            tracing::warn!(
                dropped,
                active = table.server.active(),
                max_transfers = table.server.config().max_transfers,
                "max_transfers reached: requests dropped without reply (clients retransmit \
                 them; raise [tftp] max_transfers / --max-transfers if this persists)"
            );
        }
        if let Some(n) = evictions.due(now) {
            let table = shared.table();
            tracing::warn!(
                dropped_or_evicted = n,
                handshaking = table.server.handshaking(),
                max_handshakes = table.server.config().max_handshakes,
                "handshake budget full: requests whose client never answered (a flood, or \
                 spoofed sources?) were evicted, or new ones dropped until they can be"
            );
        }
        let r = match r {
            None => continue,
            Some(Ok(r)) => r,
            Some(Err(e)) if net::is_transient(&e) => continue,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "TFTP listener receive failed");
                continue;
            }
        };
        {
            let mut table = shared.table();
            let before = *table.server.stats();
            table
                .server
                .handle_datagram(now, Datagram::new(r.remote, r.local, &buf[..r.len]));
            while let Some(t) = table.server.poll_transmit(now, &mut out) {
                if let pxe_proto::Destination::Unicast(to) = t.destination {
                    let _ = listener.send_to(&out[..t.len], to);
                }
            }
            requests.extend(std::iter::from_fn(|| table.server.poll_event()));
            while let Some(id) = table.server.poll_evicted() {
                if let Some(task) = table.tasks.remove(&id) {
                    task.abort.abort();
                }
                evictions.record();
            }
            while let Some(id) = table.server.poll_repeated() {
                if let Some(task) = table.tasks.get(&id) {
                    task.repeated.notify_one();
                }
            }
            let after = table.server.stats();
            for _ in before.over_cap..after.over_cap {
                drops.record();
            }
            for _ in before.throttled..after.throttled {
                evictions.record();
            }
            if after.duplicates > before.duplicates {
                tracing::debug!(client = %transfer::shown(r.remote), "duplicate request ignored");
            }
        }
        for mut incoming in requests.drain(..) {
            if let Some(cap) = mtu.cap(incoming.local().ip(), incoming.peer()) {
                incoming.limit_blksize(cap);
            }
            // Opening the file and the reply socket runs in the request's own task, on any
            // worker: a flood of requests is spread over every CPU, and the listener stays free
            // to take the next datagram.
            let id = incoming.id();
            let repeated = Arc::new(tokio::sync::Notify::new());
            let task_shared = Arc::clone(&shared);
            let task_repeated = Arc::clone(&repeated);
            // The table is locked while the task is registered, so the task cannot end (and
            // clear its entry) before it is there.
            let mut table = shared.table();
            let abort = tokio::spawn(async move {
                serve(incoming, &task_shared, task_repeated).await;
            })
            .abort_handle();
            table.tasks.insert(id, Task { abort, repeated });
        }
    }
    // Every transfer sees the stop flag, sends ERROR 0 and ends; wait for them.
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    while !shared.table().tasks.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Opens the file, binds the reply socket and runs the transfer, or refuses; then tells the
/// core the request is over.
async fn serve(incoming: Incoming, shared: &Shared, repeated: Arc<tokio::sync::Notify>) {
    let id = incoming.id();
    if let Some(transfer) = prepare(incoming, shared) {
        let (event_id, name) = (transfer.event_id(), transfer.name().to_owned());
        let summary = transfer.run(id, shared, &repeated).await;
        if let Some(event_id) = event_id {
            shared.events.emit(|| finished(event_id, name, &summary));
        }
    }
    let mut table = shared.table();
    table.server.finished(id);
    table.tasks.remove(&id);
}

/// The transfer for `incoming`, or `None` when it was refused (the ERROR sent from the
/// listening port, the reason logged).
fn prepare(incoming: Incoming, shared: &Shared) -> Option<Transfer> {
    let mut out = [0u8; 600];
    let out = &mut out[..];
    let listener = &shared.refusals;
    let peer = incoming.peer();
    let name = incoming.filename_lossy().into_owned();
    let opened = match incoming.kind() {
        RequestKind::Read => shared
            .root
            .open_read(incoming.filename())
            .map(|(d, size)| (Io::Read(shared.open_files.share(d)), Some(size))),
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
    if let (Io::Write(upload), Some(tsize)) = (&io, incoming.options().tsize)
        && let Some(free) = upload.free_space()
        && tsize > free
    {
        // The temporary file goes before the client hears of it.
        drop(io);
        tracing::warn!(
            client = %transfer::shown(peer), file = %name, tsize, free,
            "upload refused: its announced size (tsize) exceeds the free space"
        );
        let t = incoming.reject(ErrorCode::DiskFull, "not enough free space", out);
        let _ = listener.send_to(&out[..t.len], peer);
        return None;
    }
    let socket = match shared
        .ports
        .reply_socket(incoming.local().ip(), peer)
        .and_then(|s| {
            s.set_nonblocking(true)?;
            tokio::net::UdpSocket::from_std(s)
        }) {
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
    shared.events.emit(|| {
        Event::TransferStarted(TransferStarted {
            id,
            protocol: Protocol::Tftp,
            client: transfer::shown(peer),
            file: name.clone(),
            size,
            upload,
            at: std::time::SystemTime::now(),
        })
    });
    let ticker = ProgressTicker::new(shared.events.clone(), id, Protocol::Tftp, size);
    Some(Transfer::new(socket, session, io, name, size).with_progress(id, ticker))
}

/// The event for a transfer that ended with `summary`.
fn finished(id: TransferId, file: String, summary: &transfer::Summary) -> Event {
    let result = match &summary.outcome {
        Some(pxe_tftp::Outcome::Completed) => TransferResult::Completed,
        Some(pxe_tftp::Outcome::SizeProbe) => TransferResult::SizeProbe,
        Some(pxe_tftp::Outcome::Failed(e)) => TransferResult::Failed(e.to_string()),
        None => TransferResult::Failed("unfinished".into()),
    };
    Event::TransferFinished(TransferFinished {
        id,
        protocol: Protocol::Tftp,
        client: summary.peer,
        file,
        bytes: summary.stats.bytes,
        duration: summary.stats.duration().unwrap_or_default(),
        status: None,
        retransmits: summary.stats.retransmits,
        timeouts: summary.stats.timeouts,
        result,
    })
}

fn refuse(
    incoming: Incoming,
    refusal: &Refusal,
    name: &str,
    listener: &std::net::UdpSocket,
    out: &mut [u8],
) {
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
    fdlimit::raise_for(settings.max_transfers + settings.core.max_handshakes as usize);
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
