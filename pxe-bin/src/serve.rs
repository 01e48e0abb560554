//! `pxe serve`: TFTP plus (when asked) DHCP in one process.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use tokio::sync::watch;

use crate::cli::{DhcpMode, LogFormat, ServeArgs};
use crate::config::Config;
use crate::dhcp::{self, DhcpContext};
use crate::error::Error;

/// Where the demo listens when `pxe` runs with no config and no flags.
pub const DEMO_LISTEN: &str = "127.0.0.1:6969";

/// Runs `pxe serve`.
pub fn run(args: &ServeArgs, log_format: LogFormat) -> Result<ExitCode, Error> {
    let demo = args.is_empty();
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    config.apply_serve_flags(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the tokio runtime", e))?;
    runtime.block_on(serve(config, demo, log_format))
}

async fn serve(config: Config, demo: bool, log_format: LogFormat) -> Result<ExitCode, Error> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let server_ip = config.dhcp.interface().map(interface_ipv4).transpose()?;
    let default_listen = match (demo, server_ip) {
        (true, _) => DEMO_LISTEN
            .parse()
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 6969))),
        (false, Some((ip, _))) => SocketAddr::from((ip, 69)),
        (false, None) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 69)),
    };
    let tftp_listen = config.tftp.listen.unwrap_or(default_listen);
    let root = config.root.clone().unwrap_or_default();
    tracing::info!(%tftp_listen, root = %root.display(), ?log_format, "starting");

    let mut dhcp_task = None;
    if config.dhcp.mode() != DhcpMode::Off {
        let ctx = DhcpContext {
            root,
            tftp_listen,
            server_ip,
        };
        dhcp_task = Some(tokio::spawn(dhcp::run(
            config.dhcp.clone(),
            ctx,
            stop_rx.clone(),
        )));
    }
    let result = wait_for_signal().await;
    let _ = stop_tx.send(true);
    if let Some(task) = dhcp_task {
        task.await
            .map_err(|e| Error::Dhcp(format!("task failed: {e}")))??;
    }
    result.map(|()| ExitCode::SUCCESS)
}

/// Waits for SIGINT or SIGTERM.
async fn wait_for_signal() -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| Error::io("install SIGTERM handler", e))?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map_err(|e| Error::io("wait for SIGINT", e))?,
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
    Ok(())
}

/// The first IPv4 address of interface `name` and its prefix length.
fn interface_ipv4(name: &str) -> Result<(Ipv4Addr, u8), Error> {
    let addrs =
        nix::ifaddrs::getifaddrs().map_err(|e| Error::io("list interface addresses", e.into()))?;
    for ifa in addrs.filter(|a| a.interface_name == name) {
        let Some(addr) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) else {
            continue;
        };
        let prefix = ifa
            .netmask
            .as_ref()
            .and_then(|m| m.as_sockaddr_in())
            .map_or(32, |m| {
                u8::try_from(m.ip().to_bits().count_ones()).unwrap_or(32)
            });
        return Ok((addr.ip(), prefix));
    }
    Err(Error::Usage(format!(
        "interface `{name}` has no IPv4 address (see `ip -4 addr`)"
    )))
}
