//! `pxe serve`: TFTP plus (when asked) HTTP and DHCP in one process, until a signal: a thin
//! layer over [`crate::PxeServer`] that owns a tokio runtime and waits for SIGINT/SIGTERM.
//!
//! No config and no flags: the demo root built into the binary over TFTP on 127.0.0.1:6969 and
//! HTTP on 127.0.0.1:6980, DHCP off. HTTP runs only when `[http] listen` or `--http` asks for
//! it (or in the demo); DHCP only when the config or `--dhcp` asks for it.

use std::process::ExitCode;

use crate::config::Config;
use crate::error::Error;
use crate::server::{Bound, Handle, PxeServer};

pub use crate::server::{DEMO_HTTP_LISTEN, DEMO_LISTEN};

/// Where a reload gets its new configuration from: the config file read again and the
/// command line's overrides applied over it.
pub type ConfigSource = Box<dyn FnMut() -> Result<Config, Error> + Send>;

/// Runs TFTP, and HTTP and DHCP when `config` asks for them, until SIGINT or SIGTERM. With
/// `demo`, the root is the demo built into the crate ([`crate::demo`]) and the listeners
/// default to loopback ([`DEMO_LISTEN`], [`DEMO_HTTP_LISTEN`]). SIGHUP finds nothing to
/// reload: see [`run_reloadable`].
pub fn run(config: Config, demo: bool) -> Result<ExitCode, Error> {
    run_reloadable(config, demo, None)
}

/// [`run`], and on SIGHUP (`systemctl reload`) the configuration from `source` goes to
/// [`crate::Handle::reload`]: rules, reservations and HTTP limits change for new requests,
/// running transfers and leases are untouched, a bad configuration is refused with the reason
/// (the running one stays), and changes that need new sockets are named as needing a restart.
/// systemd hears `READY=1`, `RELOADING=1` and `STOPPING=1` ([`crate::notify`]).
///
/// Every socket is bound first, while the process may be root and has one thread; then
/// privileges are dropped ([`crate::privilege`]) and only then do the runtime's and the TFTP
/// service's threads start, inheriting the reduced credentials.
pub fn run_reloadable(
    config: Config,
    demo: bool,
    source: Option<ConfigSource>,
) -> Result<ExitCode, Error> {
    let mut builder = PxeServer::builder().config(config);
    if demo {
        builder = builder.demo();
    }
    let bound = builder.bind()?;
    bound.drop_privileges()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the tokio runtime", e))?;
    runtime.block_on(serve(bound, source))
}

async fn serve(bound: Bound, mut source: Option<ConfigSource>) -> Result<ExitCode, Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| Error::io(format!("install {name} handler"), e))
    };
    let mut term = install(SignalKind::terminate(), "SIGTERM")?;
    let mut int = install(SignalKind::interrupt(), "SIGINT")?;
    let mut hup = install(SignalKind::hangup(), "SIGHUP")?;
    let mut handle = bound.start().await?;
    let watchdog = crate::notify::spawn_watchdog();
    crate::notify::ready(&status(&handle));
    let result = loop {
        tokio::select! {
            _ = int.recv() => {
                tracing::info!(signal = "SIGINT", "stopping");
                break Ok(());
            }
            _ = term.recv() => {
                tracing::info!(signal = "SIGTERM", "stopping");
                break Ok(());
            }
            _ = hup.recv() => {
                crate::notify::reloading();
                reload(&handle, source.as_mut());
                crate::notify::ready(&status(&handle));
            }
            e = handle.failed() => break Err(e),
        }
    };
    crate::notify::stopping();
    if let Some(w) = watchdog {
        w.abort();
    }
    let stopped = handle.shutdown().await;
    result.and(stopped).map(|()| ExitCode::SUCCESS)
}

/// One SIGHUP: read the configuration again and hand it over; every outcome is logged.
fn reload(handle: &Handle, source: Option<&mut ConfigSource>) {
    let Some(source) = source else {
        tracing::warn!(
            signal = "SIGHUP",
            "nothing to reload: pxe runs without a config file (start it with --config FILE)"
        );
        return;
    };
    tracing::info!(signal = "SIGHUP", "reloading the configuration");
    let result = source().and_then(|config| handle.reload(config));
    match result {
        // The handle logs what it applied and what needs a restart.
        Ok(_) => {}
        Err(e) => tracing::error!(
            error = %e,
            "configuration not reloaded; the running one stays (fix the file, then reload again)"
        ),
    }
}

/// The one-line status `systemctl status` shows.
fn status(handle: &Handle) -> String {
    match handle.http_addr() {
        Some(h) => format!("serving TFTP on {} and HTTP on {h}", handle.tftp_addr()),
        None => format!("serving TFTP on {}", handle.tftp_addr()),
    }
}
