//! `pxe serve`: TFTP plus (when asked) HTTP and DHCP in one process, until a signal: a thin
//! layer over [`crate::PxeServer`] that owns a tokio runtime and waits for SIGINT/SIGTERM.
//!
//! No config and no flags: the demo root built into the binary over TFTP on 127.0.0.1:6969 and
//! HTTP on 127.0.0.1:6980, DHCP off. HTTP runs only when `[http] listen` or `--http` asks for
//! it (or in the demo); DHCP only when the config or `--dhcp` asks for it.

use std::process::ExitCode;

use crate::config::Config;
use crate::error::Error;
use crate::server::PxeServer;

pub use crate::server::{DEMO_HTTP_LISTEN, DEMO_LISTEN};

/// Runs TFTP, and HTTP and DHCP when `config` asks for them, until SIGINT or SIGTERM. With
/// `demo`, the root is the demo built into the crate ([`crate::demo`]) and the listeners
/// default to loopback ([`DEMO_LISTEN`], [`DEMO_HTTP_LISTEN`]).
pub fn run(config: Config, demo: bool) -> Result<ExitCode, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the tokio runtime", e))?;
    runtime.block_on(serve(config, demo))
}

async fn serve(config: Config, demo: bool) -> Result<ExitCode, Error> {
    let mut builder = PxeServer::builder().config(config);
    if demo {
        builder = builder.demo();
    }
    let mut handle = builder.start().await?;
    let result = tokio::select! {
        r = wait_for_signal() => r,
        e = handle.failed() => Err(e),
    };
    let stopped = handle.shutdown().await;
    result.and(stopped).map(|()| ExitCode::SUCCESS)
}

/// Waits for SIGINT or SIGTERM.
async fn wait_for_signal() -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| Error::io("install SIGTERM handler", e))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| Error::io("install SIGINT handler", e))?;
    tokio::select! {
        _ = int.recv() => tracing::info!(signal = "SIGINT", "stopping"),
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "stopping"),
    }
    Ok(())
}
