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
//! write waits over 60 s for the client to read ([`with_write_timeout`], tokio-io-timeout), so dead clients free their slot.

pub mod body;
pub mod handler;
pub mod path;
pub mod range;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::HttpConfig;
use crate::decide::HostFiles;
use crate::error::Error;
use crate::events::Events;
use crate::tftp::fs::Root;

/// Default for `[http] max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

/// `[http] max_connections`, or its default.
#[must_use]
pub fn max_connections(config: &HttpConfig) -> usize {
    config.max_connections.map_or(DEFAULT_MAX_CONNECTIONS, |n| {
        usize::try_from(n.get()).unwrap_or(usize::MAX)
    })
}

/// How long a connection may take to send a request's headers (also bounds idle keep-alive
/// connections, which would otherwise hold a slot forever).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a response write may wait for the client to read (see [`with_write_timeout`]).
const WRITE_STALL_LIMIT: Duration = Duration::from_secs(60);

/// `stream` whose writes fail with `TimedOut` after `limit` without progress: a client that
/// stops reading (crashed, unplugged, or hostile) would otherwise hold its connection, its open
/// file and a `max_connections` slot for ever, since a blocked write never fails by itself and
/// hyper has no write timeout. Boxed: the timeout stream is `!Unpin`, hyper wants `Unpin`.
fn with_write_timeout<S: tokio::io::AsyncRead + tokio::io::AsyncWrite>(
    stream: S,
    limit: Duration,
) -> std::pin::Pin<Box<tokio_io_timeout::TimeoutStream<S>>> {
    let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
    stream.set_write_timeout(Some(limit));
    Box::pin(stream)
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
        let listener = std::net::TcpListener::bind(listen).map_err(|e| bind_error(listen, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("make the HTTP listener non-blocking", e))?;
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

    /// Starts serving `root` on the runtime, reporting transfers to `events`; call it on
    /// the runtime.
    pub fn start(
        self,
        root: Root,
        max_connections: usize,
        events: Events,
        generated: HostFiles,
    ) -> Result<Running, Error> {
        let listener = TcpListener::from_std(self.listener)
            .map_err(|e| Error::io("register the HTTP listener", e))?;
        tracing::info!(
            listen = %self.local, root = %root.describe(), max_connections, "HTTP listening"
        );
        let (stop, stop_rx) = watch::channel(false);
        let (limit, limit_rx) = watch::channel(max_connections.max(1));
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::new(root),
            limit_rx,
            stop_rx,
            events,
            generated,
        ));
        Ok(Running {
            local: self.local,
            stop,
            limit,
            task,
        })
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
    limit: watch::Sender<usize>,
    task: JoinHandle<()>,
}

impl Running {
    /// The bound listen address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves at most `max` connections at once from now on. Lowering it closes nothing: new
    /// connections wait until enough of the open ones have closed.
    pub fn set_max_connections(&self, max: usize) {
        self.limit.send_replace(max.max(1));
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
    mut limit: watch::Receiver<usize>,
    mut stop: watch::Receiver<bool>,
    events: Events,
    generated: HostFiles,
) {
    let mut max_connections = *limit.borrow_and_update();
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut connections = JoinSet::new();
    let mut last_full_warning: Option<Instant> = None;
    loop {
        while connections.try_join_next().is_some() {}
        if limit.has_changed().unwrap_or(false) {
            let new = *limit.borrow_and_update();
            resize(&slots, max_connections, new);
            max_connections = new;
        }
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
        let events = events.clone();
        let generated = generated.clone();
        connections.spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req| {
                handler::handle(
                    req,
                    Arc::clone(&root),
                    peer,
                    events.clone(),
                    generated.clone(),
                )
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            if let Err(e) = builder
                .serve_connection(
                    TokioIo::new(with_write_timeout(stream, WRITE_STALL_LIMIT)),
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

/// Grows or shrinks the connection slots from `old` to `new`. Slots held by open connections
/// cannot be taken back at once, so a shrink takes them as the connections close.
fn resize(slots: &Arc<Semaphore>, old: usize, new: usize) {
    if new > old {
        slots.add_permits(new - old);
    } else if old > new {
        let fewer = u32::try_from(old - new).unwrap_or(u32::MAX);
        let slots = Arc::clone(slots);
        tokio::spawn(async move {
            if let Ok(p) = slots.acquire_many_owned(fewer).await {
                p.forget();
            }
        });
    }
    tracing::info!(max_connections = new, "HTTP connection limit changed");
}

#[cfg(test)]
mod write_timeout_tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_reader_that_stops_fails_the_write_after_the_limit() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut w = with_write_timeout(a, Duration::from_millis(200));
        // Progress keeps it alive: more than the limit in total, never stalled that long.
        let reader = tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            let mut got = 0;
            while got < 64 * 1024 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                got += b.read(&mut buf).await.expect("read");
            }
            b
        });
        w.write_all(&vec![7; 64 * 1024])
            .await
            .expect("progressing writes");
        let _b = reader.await.expect("reader");
        // Nobody reads any more: the write fails once the buffer is full, after the limit.
        let start = std::time::Instant::now();
        let e = w.write_all(&vec![7; 64 * 1024]).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(200));
    }
}
