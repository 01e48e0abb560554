//! The admin listener (`[admin] listen`, off unless set; meant for 127.0.0.1): what the server
//! is doing now, built only from the event stream ([`crate::Handle::events`]).
//!
//! - `GET /metrics`: Prometheus text exposition format 0.0.4 ([`monitor::Monitor::metrics`]).
//! - `GET /`: the live status page, one HTML file with its script and style inline (no
//!   external asset: the machine may be offline); it polls the API below every second.
//! - `GET /api/status`: JSON, `{"clients": [...], "transfers": [...], "failures": [...],
//!   "leases": [...]}` ([`monitor::Snapshot`]): clients booting now with the stage each
//!   reached (`dhcp`, `nbp`, `menu`, `kernel`, `initrd`, `image`), running transfers with
//!   bytes, size and rate, recent failures with reason and fix, and the lease table.

pub mod monitor;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::events::EventReceiver;

use self::monitor::Monitor;

/// The status page.
const PAGE: &str = include_str!("status.html");

/// `[admin]`: the admin listener. Off unless `listen` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Listen address, e.g. `127.0.0.1:9169`. Anyone who can reach it sees client addresses
    /// and file names: keep it on loopback (or behind a proxy with authentication).
    pub listen: Option<SocketAddr>,
}

/// A bound admin listener; [`Bound::start`] serves it.
#[derive(Debug)]
pub struct Bound {
    listener: std::net::TcpListener,
    local: SocketAddr,
}

impl Bound {
    /// Binds `listen` (no runtime needed).
    pub fn bind(listen: SocketAddr) -> Result<Self, Error> {
        let listener = std::net::TcpListener::bind(listen)
            .map_err(|e| Error::io(format!("bind the admin listener {listen}"), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("make the admin listener non-blocking", e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("read the admin listen address", e))?;
        Ok(Self { listener, local })
    }

    /// Feeds `events` into `monitor` and serves the pages; call it on the runtime, before the
    /// services start so that no event is missed.
    pub fn start(self, monitor: Monitor, mut events: EventReceiver) -> Result<Running, Error> {
        let listener = TcpListener::from_std(self.listener)
            .map_err(|e| Error::io("register the admin listener", e))?;
        let monitor = Arc::new(Mutex::new(monitor));
        let (stop, mut stop_rx) = watch::channel(false);
        let feed = Arc::clone(&monitor);
        let mut feed_stop = stop_rx.clone();
        let feeder = tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    e = events.recv() => e,
                    _ = feed_stop.changed() => return,
                };
                let mut m = feed.lock().unwrap_or_else(PoisonError::into_inner);
                match event {
                    Ok(e) => m.apply(&e),
                    Err(RecvError::Lagged(n)) => m.lagged(n),
                    Err(RecvError::Closed) => return,
                }
            }
        });
        tracing::info!(listen = %self.local, "admin listening: /metrics, status page at /");
        let server = tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    r = listener.accept() => match r {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "admin accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                    _ = stop_rx.changed() => break,
                };
                let monitor = Arc::clone(&monitor);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let monitor = Arc::clone(&monitor);
                        async move { Ok::<_, Infallible>(respond(&req, &monitor)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            feeder.abort();
        });
        Ok(Running {
            local: self.local,
            stop,
            task: server,
        })
    }
}

/// A running admin listener.
#[derive(Debug)]
pub struct Running {
    local: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    /// Where it listens.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops listening.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

fn respond<B>(req: &Request<B>, monitor: &Mutex<Monitor>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    let mut m = monitor.lock().unwrap_or_else(PoisonError::into_inner);
    match req.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            m.metrics(),
        ),
        "/api/status" => match serde_json::to_string(&m.snapshot()) {
            Ok(json) => reply(StatusCode::OK, "application/json", json),
            Err(e) => reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("{e}\n"),
            ),
        },
        "/" | "/index.html" => reply(StatusCode::OK, "text/html; charset=utf-8", PAGE.into()),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

fn reply(status: StatusCode, kind: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(kind) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}
