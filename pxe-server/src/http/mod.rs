//! The HTTP server: boot files over HTTP/1.1 from the TFTP root, read-only.
//!
//! iPXE fetches over HTTP at line rate where its TFTP is lock-step, and UEFI HTTP Boot clients
//! (option 60 `HTTPClient`) only speak HTTP, so `pxe serve --http ADDR:PORT` serves the same
//! [`Root`] as TFTP: the same name rules and refusals ([`path`]), the same `openat2`
//! confinement. GET and HEAD (RFC 9110 §9.3.1–§9.3.2; 405 otherwise), single `Range` requests
//! ([`range`], RFC 9110 §14), `Last-Modified` and `If-Range`.
//!
//! The server is our own small HTTP/1.1 implementation on the `serve` tokio runtime, not
//! hyper, because hyper owns the socket and can only write buffers into it, while a file body
//! should go from the page cache to the socket with `sendfile` ([`body`]): no copy through user
//! space, no read-ahead buffer per connection. A body goes out in turns of at most
//! [`body::SENDFILE_MAX`] per connection, yielding between them while other files are being
//! sent too, with `TCP_NODELAY` on, so the runtime's two workers refill every busy socket in
//! turn rather than one socket for long (see [`body`] for the measurements behind it). Request heads are parsed by `httparse` (what
//! hyper uses) under strict limits ([`request`]: 400/414/431/505, never a panic);
//! [`conn`] runs one connection (persistence per RFC 9112 §9.3, pipelining, lingering close),
//! [`handler`] answers one request, opening files through [`files`], an open-file cache
//! shared by the listener's connections (one `fstat` per request for a file served a moment
//! ago instead of `openat2`, two stats and a `close`; see there for how changes are noticed).
//!
//! Connections ([`slots`]): at most `max_connections` at once (default
//! [`DEFAULT_MAX_CONNECTIONS`]), at most `max_connections_per_client` from one client address
//! (default [`DEFAULT_MAX_CONNECTIONS_PER_CLIENT`]). At the cap, a new connection closes the
//! connection idle the longest (waiting for a request: new, or kept alive), as nginx does, so
//! idle connections never lock out a client that wants a file; connections reading a request or
//! sending a response are never closed for it — when all are, the listener waits and new
//! connections stay in the kernel's backlog. Over its per-client cap, a client's own idle
//! connection makes room, or the new one is closed at once. A connection idle for less than a
//! quarter second is not evicted yet, so a request that trails its handshake is not lost to
//! the next connection. Evictions and refusals are logged
//! (at most once a second) and counted (`pxe_http_connections_evicted_total`,
//! `pxe_http_connections_refused_total` on the admin listener, through
//! [`crate::events::Event::HttpConnectionLimited`]).
//!
//! Connection threads ([`threads`]): a kept-alive connection asking for one small response
//! after another (iPXE `sanboot`'s range reads) runs on a thread of its own while it keeps
//! asking (at most `connection_threads` at once, default
//! [`threads::DEFAULT_CONNECTION_THREADS`]), with blocking reads and writes: on the event loop
//! each such request pays for a wake-up through `epoll` on top of its work.
//!
//! Timeouts: an idle connection closes after [`conn::IDLE_TIMEOUT`], a request head must be
//! complete [`conn::HEADER_TIMEOUT`] after its first byte, and a response that makes no
//! progress for `send_timeout` (default [`DEFAULT_SEND_TIMEOUT`]) is abandoned, so dead clients
//! free their slot and their open file.
//!
//! Memory: an idle connection holds its task and a 2 KiB read buffer; a busy one at most
//! [`request::MAX_HEAD`] plus one read of head, its response head and, for a file, nothing
//! else (the socket's buffers are the kernel's). 1000 connections stay far below 128 MiB
//! (`pxe-bin/tests/http_load.rs` measures it).

pub mod body;
pub mod conn;
pub mod files;
pub mod handler;
pub mod path;
pub mod range;
pub mod request;
pub mod slots;
pub mod threads;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use self::slots::{Admission, Slots};
use crate::config::HttpConfig;
use crate::decide::HostFiles;
use crate::error::Error;
use crate::events::{ConnectionLimit, Event, Events, HttpConnectionLimited};
use crate::tftp::fs::Root;

/// Default for `[http] max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

/// Default for `[http] max_connections_per_client`: enough for a boot client's few parallel
/// fetches and for a proxy or NAT in front of a lab, far below the total.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 64;

/// How long a connection must have been idle before it may be evicted ([`slots`]).
const EVICTION_GRACE: Duration = Duration::from_millis(250);

/// How long stopping waits for the connections on threads to close.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// Default for `[http] send_timeout` (nginx's `send_timeout` is also 60 s).
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// The limits of `[http]` that apply to connections; reloadable ([`Running::set_limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most connections at once.
    pub max_connections: usize,
    /// Most connections from one client address.
    pub max_connections_per_client: usize,
    /// How long a response may make no progress before the connection is dropped.
    pub send_timeout: Duration,
    /// Most connections on connection threads at once ([`threads`]).
    pub connection_threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            connection_threads: threads::DEFAULT_CONNECTION_THREADS,
        }
    }
}

impl Limits {
    /// The limits `config` sets, defaults for the rest.
    #[must_use]
    pub fn from_config(config: &HttpConfig) -> Self {
        let n = |v: Option<std::num::NonZeroU32>, default: usize| {
            v.map_or(default, |n| usize::try_from(n.get()).unwrap_or(usize::MAX))
        };
        Self {
            max_connections: n(config.max_connections, DEFAULT_MAX_CONNECTIONS),
            max_connections_per_client: n(
                config.max_connections_per_client,
                DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            ),
            send_timeout: config.send_timeout.map_or(DEFAULT_SEND_TIMEOUT, |s| {
                Duration::from_secs(u64::from(s.get()))
            }),
            connection_threads: config
                .connection_threads
                .map_or(threads::DEFAULT_CONNECTION_THREADS, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
        }
    }
}

/// `[http] max_connections`, or its default.
#[must_use]
pub fn max_connections(config: &HttpConfig) -> usize {
    Limits::from_config(config).max_connections
}

/// What every connection of one listener shares.
#[derive(Debug)]
pub struct Shared {
    root: Root,
    files: files::FileCache,
    senders: body::Senders,
    events: Events,
    generated: HostFiles,
    send_timeout_ms: AtomicU64,
    threads: threads::Threads,
}

impl Shared {
    fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms.load(Ordering::Relaxed))
    }
}

/// A bound, not yet serving, HTTP listener: bound before privileges are dropped, like TFTP's.
/// A plain std socket, so binding needs no runtime (the runtime's threads start only after
/// the privilege drop, see [`crate::privilege`]).
#[derive(Debug)]
pub struct Bound {
    listener: std::net::TcpListener,
    local: SocketAddr,
}

impl Bound {
    /// Binds `listen`.
    pub fn bind(listen: SocketAddr) -> Result<Self, Error> {
        let listener = listen_socket(listen).map_err(|e| bind_error(listen, e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("read the HTTP listen address", e))?;
        Ok(Self { listener, local })
    }

    /// The bound address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Starts serving `root` on the runtime with `limits`, reporting transfers to `events`;
    /// call it on the runtime.
    pub fn start(
        self,
        root: Root,
        limits: Limits,
        events: Events,
        generated: HostFiles,
    ) -> Result<Running, Error> {
        let listener = TcpListener::from_std(self.listener)
            .map_err(|e| Error::io("register the HTTP listener", e))?;
        tracing::info!(
            listen = %self.local, root = %root.describe(), max_connections = limits.max_connections,
            max_connections_per_client = limits.max_connections_per_client, "HTTP listening"
        );
        let (stop, stop_rx) = watch::channel(false);
        let (limit, limit_rx) = watch::channel(limits);
        let shared = Arc::new(Shared {
            root,
            files: files::FileCache::default(),
            senders: body::Senders::default(),
            events,
            generated,
            send_timeout_ms: AtomicU64::new(millis(limits.send_timeout)),
            threads: threads::Threads::new(limits.connection_threads),
        });
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::clone(&shared),
            limit_rx,
            stop_rx,
        ));
        Ok(Running {
            local: self.local,
            stop,
            limit,
            task,
            shared,
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// A non-blocking listening socket on `addr` with the largest backlog the kernel allows
/// (`net.core.somaxconn`, 4096 by default): std's 128 fills in a moment when hundreds of
/// machines boot at once, or while the slots are all busy, and a full backlog makes the kernel
/// drop handshakes (the client retries after a second, then three...). nginx asks for 511.
fn listen_socket(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use crate::udp;
    use nix::sys::socket::{
        Backlog, SockFlag, SockProtocol, SockType, listen, setsockopt, sockopt,
    };
    let fd = udp::socket(
        udp::family_of(addr),
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK,
        SockProtocol::Tcp,
    )?;
    // As std does: a restarted server can bind while old connections sit in TIME_WAIT.
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    udp::bind(&fd, addr)?;
    listen(&fd, Backlog::MAXCONN)?;
    Ok(std::net::TcpListener::from(fd))
}

fn bind_error(addr: SocketAddr, e: io::Error) -> Error {
    let hint = match e.kind() {
        io::ErrorKind::PermissionDenied => {
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE; or use --http with a port >= 1024)"
        }
        io::ErrorKind::AddrInUse => " (another web server already listens there)",
        _ => "",
    };
    Error::io(format!("bind HTTP {addr}{hint}"), e)
}

/// A running HTTP server; stop it with [`Running::stop`].
#[derive(Debug)]
pub struct Running {
    local: SocketAddr,
    stop: watch::Sender<bool>,
    limit: watch::Sender<Limits>,
    task: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl Running {
    /// The bound listen address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Applies `limits` from now on. Lowering the caps closes no busy connection: idle ones
    /// make room as new connections come.
    pub fn set_limits(&self, limits: Limits) {
        self.limit.send_replace(limits);
    }

    /// Drops every descriptor of the open-file cache ([`files`]): the next request for each
    /// file opens its name again. Responses already sending keep their file.
    pub fn clear_file_cache(&self) {
        self.shared.files.clear();
    }

    /// Stops accepting and closes every connection (downloads in progress are cut off and
    /// logged as `aborted`), then waits for that.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Counts what the caps did and logs it at most once a second.
#[derive(Debug, Default)]
struct LimitLog {
    last: Option<Instant>,
    evicted: u64,
    refused: u64,
    full: bool,
}

impl LimitLog {
    fn due(&mut self) -> bool {
        self.last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
    }

    fn flush(&mut self, slots: &Slots, limits: &Limits) {
        if (self.evicted == 0 && self.refused == 0 && !self.full) || !self.due() {
            return;
        }
        self.last = Some(Instant::now());
        let (open, idle) = slots.counts();
        if self.evicted > 0 || self.refused > 0 {
            tracing::warn!(
                evicted_idle = self.evicted,
                refused_per_client = self.refused,
                open,
                idle,
                max_connections = limits.max_connections,
                max_connections_per_client = limits.max_connections_per_client,
                "HTTP connection limits: idle connections closed to make room, or a client over its own cap refused ([http] max_connections, max_connections_per_client)"
            );
        }
        if self.full {
            tracing::warn!(
                open,
                max_connections = limits.max_connections,
                "HTTP connection limit reached and no connection idle long enough to close: new connections wait until one finishes or idles ([http] max_connections)"
            );
        }
        self.evicted = 0;
        self.refused = 0;
        self.full = false;
    }
}

/// Sleeps until `t`, or for ever.
async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

fn emit_limited(events: &Events, client: IpAddr, action: ConnectionLimit) {
    events.emit(|| {
        Event::HttpConnectionLimited(HttpConnectionLimited {
            at: std::time::SystemTime::now(),
            client,
            action,
        })
    });
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut limit: watch::Receiver<Limits>,
    mut stop: watch::Receiver<bool>,
) {
    let mut limits = *limit.borrow_and_update();
    let slots = Slots::new(
        limits.max_connections,
        limits.max_connections_per_client,
        EVICTION_GRACE,
    );
    let mut connections = JoinSet::new();
    let mut log = LimitLog::default();
    let mut evicted = Vec::new();
    // Wakes the loop while it waits in accept, so counts of a burst's tail get logged too.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        while connections.try_join_next().is_some() {}
        if limit.has_changed().unwrap_or(false) {
            limits = *limit.borrow_and_update();
            slots.set_limits(limits.max_connections, limits.max_connections_per_client);
            shared
                .send_timeout_ms
                .store(millis(limits.send_timeout), Ordering::Relaxed);
            shared.threads.set_max(limits.connection_threads);
            tracing::info!(
                max_connections = limits.max_connections,
                max_connections_per_client = limits.max_connections_per_client,
                send_timeout_s = limits.send_timeout.as_secs_f32(),
                connection_threads = limits.connection_threads,
                "HTTP limits changed"
            );
        }
        log.flush(&slots, &limits);
        if let Err(ripe) = slots.room(Instant::now()) {
            // Every slot busy (or idle only just now): leave new connections in the backlog
            // until one frees or has idled past the grace.
            log.full = true;
            log.flush(&slots, &limits);
            tokio::select! {
                () = slots.changed() => {}
                () = sleep_until(ripe) => {}
                _ = limit.changed() => {}
                _ = stop.changed() => break,
            }
            continue;
        }
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and the like: back off instead of spinning on the error.
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = tick.tick() => {
                shared.files.sweep(Instant::now());
                continue;
            }
            _ = stop.changed() => break,
        };
        let slot = loop {
            evicted.clear();
            let admission = slots.admit(peer.ip(), Instant::now(), &mut evicted);
            for ip in evicted.drain(..) {
                log.evicted += 1;
                emit_limited(&shared.events, ip, ConnectionLimit::EvictedIdle);
            }
            match admission {
                Admission::Admitted(slot) => break Some(slot),
                Admission::ClientFull => {
                    log.refused += 1;
                    emit_limited(&shared.events, peer.ip(), ConnectionLimit::RefusedPerClient);
                    break None;
                }
                Admission::Full => {
                    // Every idle connection went busy since the check: wait, holding this one.
                    log.full = true;
                    log.flush(&slots, &limits);
                    let ripe = slots.room(Instant::now()).err().flatten();
                    tokio::select! {
                        () = slots.changed() => {}
                        () = sleep_until(ripe) => {}
                        _ = stop.changed() => break None,
                    }
                }
            }
        };
        if *stop.borrow() {
            break;
        }
        let Some(slot) = slot else {
            // Over its client's cap: closed unanswered (the client sees the connection close
            // and retries, or uses the connections it has).
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(conn::serve(stream, peer, slot, Arc::clone(&shared)));
    }
    connections.shutdown().await;
    // Connections on threads see their task gone within a poll interval (or once the
    // response they are sending gives up).
    shared.threads.wait_idle(STOP_WAIT).await;
    tracing::info!("HTTP stopped");
}
