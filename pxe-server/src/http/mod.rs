//! The HTTP server: boot files over HTTP/1.1 from the TFTP root, read-only.
//!
//! iPXE fetches over HTTP at line rate where its TFTP is lock-step, and UEFI HTTP Boot clients
//! (option 60 `HTTPClient`) only speak HTTP, so `pxe serve --http ADDR:PORT` serves the same
//! [`Root`] as TFTP: the same name rules and refusals ([`path`]), the same `openat2`
//! confinement. GET and HEAD, single `Range` requests ([`range`]), `Last-Modified`; files are
//! streamed in chunks ([`body`]), never loaded whole. hyper does the HTTP/1.1 parsing and
//! connection handling on the `serve` tokio runtime; [`handler`] answers one request.
//!
//! At most `max_connections` connections are served at once: beyond that the listener stops
//! accepting, and new connections wait in the kernel's backlog until one closes. A connection
//! is closed when its request headers take over 30 s (also an idle keep-alive) or a response
//! write waits over 60 s for the client to read ([`stall`]), so dead clients free their slot.

pub mod body;
pub mod handler;
pub mod path;
pub mod range;
pub mod stall;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::error::Error;
use crate::tftp::fs::Root;

/// Default for `[http] max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

/// How long a connection may take to send a request's headers (also bounds idle keep-alive
/// connections, which would otherwise hold a slot forever).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a response write may wait for the client to read (see [`stall`]).
const WRITE_STALL_LIMIT: Duration = Duration::from_secs(60);

/// A bound, not yet serving, HTTP listener: bound before privileges are dropped, like TFTP's.
#[derive(Debug)]
pub struct Bound {
    listener: TcpListener,
    local: SocketAddr,
}

impl Bound {
    /// Binds `listen`.
    pub async fn bind(listen: SocketAddr) -> Result<Self, Error> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| bind_error(listen, e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("read the HTTP listen address", e))?;
        Ok(Self { listener, local })
    }

    /// Starts serving `root` on the runtime.
    pub fn start(self, root: Root, max_connections: usize) -> Running {
        tracing::info!(
            listen = %self.local, root = %root.describe(), max_connections, "HTTP listening"
        );
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            self.listener,
            Arc::new(root),
            max_connections.max(1),
            stop_rx,
        ));
        Running {
            local: self.local,
            stop,
            task,
        }
    }
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
    task: JoinHandle<()>,
}

impl Running {
    /// The bound listen address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops accepting and closes every connection (downloads in progress are cut off and
    /// logged as `aborted`), then waits for that.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    root: Arc<Root>,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut connections = JoinSet::new();
    let mut last_full_warning: Option<Instant> = None;
    loop {
        while connections.try_join_next().is_some() {}
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if last_full_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    last_full_warning = Some(Instant::now());
                    tracing::warn!(
                        max_connections,
                        "HTTP connection limit reached: new connections wait until one closes ([http] max_connections)"
                    );
                }
                tokio::select! {
                    p = Arc::clone(&slots).acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = stop.changed() => break,
                }
            }
        };
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
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let root = Arc::clone(&root);
        connections.spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req| handler::handle(req, Arc::clone(&root), peer));
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            if let Err(e) = builder
                .serve_connection(
                    TokioIo::new(stall::StallGuard::new(stream, WRITE_STALL_LIMIT)),
                    service,
                )
                .await
            {
                tracing::debug!(client = %peer, error = %e, "HTTP connection ended");
            }
        });
    }
    connections.shutdown().await;
    tracing::info!("HTTP stopped");
}
