//! `pxe serve`: TFTP plus (when asked) HTTP and DHCP in one process.
//!
//! No config and no flags: the demo root built into the binary over TFTP on 127.0.0.1:6969 and
//! HTTP on 127.0.0.1:6980, DHCP off. HTTP runs only when `[http] listen` or `--http` asks for
//! it (or in the demo); DHCP only when the config or `--dhcp` asks for it.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use tokio::sync::watch;

use crate::config::Config;
use crate::dhcp::{self, DhcpContext, DhcpMode};
use crate::error::Error;
use crate::http;
use crate::tftp::{self, Settings, fs::DirRoot, fs::Root};

/// Where the demo listens when `pxe` runs with no config and no flags.
pub const DEMO_LISTEN: SocketAddr =
    SocketAddr::V4(std::net::SocketAddrV4::new(Ipv4Addr::LOCALHOST, 6969));

/// Where the demo serves HTTP unless `--http` says otherwise.
pub const DEMO_HTTP_LISTEN: SocketAddr =
    SocketAddr::V4(std::net::SocketAddrV4::new(Ipv4Addr::LOCALHOST, 6980));

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
    let server_ip = config.dhcp.interface().map(interface_ipv4).transpose()?;
    let default_listen = match (demo, server_ip) {
        (true, _) => DEMO_LISTEN,
        (false, Some((ip, _))) => SocketAddr::from((ip, 69)),
        (false, None) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 69)),
    };
    let listen = config.tftp.listen.unwrap_or(default_listen);
    let root = if demo {
        let files = crate::demo::files()?
            .into_iter()
            .map(|(n, b)| (n, b.into()))
            .collect();
        Root::Embedded(files)
    } else {
        let path = config.root.clone().ok_or_else(|| {
            Error::Usage("no TFTP root: give --root DIR or `root = \"/srv/tftp\"` in the config (`pxe init DIR` lays one out)".into())
        })?;
        let dir = DirRoot::open(&path, config.tftp.secure, config.tftp.create)
            .map_err(|e| Error::io(format!("open root {}", path.display()), e))?;
        Root::Dir(dir)
    };
    // DHCP binds its privileged ports before TFTP drops privileges: bind order matters, so
    // privileges are dropped by TFTP only when DHCP is off (DHCP then keeps root for raw sends).
    let dhcp_on = config.dhcp.mode() != DhcpMode::Off;
    let mut settings = Settings::from_config(listen, root, &config.tftp);
    if dhcp_on && settings.user.is_some() {
        tracing::warn!(
            "[tftp] user is ignored while DHCP runs (DHCP needs its privileged sockets)"
        );
        settings.user = None;
    }
    let names = settings.root.names();
    // HTTP binds before TFTP drops privileges (`--user`), so port 80 works too.
    let http_listen = match (demo, config.http.listen) {
        (_, Some(listen)) => Some(listen),
        (true, None) => Some(DEMO_HTTP_LISTEN),
        (false, None) => None,
    };
    let http_bound = match http_listen {
        Some(listen) => {
            let root = settings
                .root
                .try_clone()
                .map_err(|e| Error::io("share the root with HTTP", e))?;
            match http::Bound::bind(listen).await {
                Ok(bound) => Some((bound, root)),
                // The demo's own default port may be taken (a second demo, a web server): the
                // demo is for trying things, so it goes on over TFTP alone.
                Err(e) if demo && config.http.listen.is_none() => {
                    tracing::warn!(error = %e, "demo: HTTP off (give --http ADDR:PORT for another port)");
                    None
                }
                Err(e) => return Err(e),
            }
        }
        None => None,
    };
    let max_connections = config
        .http
        .max_connections
        .map_or(http::DEFAULT_MAX_CONNECTIONS, |n| {
            usize::try_from(n.get()).unwrap_or(usize::MAX)
        });
    let http_slots = if http_bound.is_some() {
        max_connections
    } else {
        0
    };
    crate::fdlimit::raise_for(
        settings
            .max_transfers
            .saturating_add(settings.core.max_handshakes as usize)
            .saturating_add(http_slots),
    );
    let running = tftp::start(settings)?;
    let tftp_listen = running.local_addr();
    let http_running = http_bound.map(|(bound, root)| bound.start(root, max_connections));
    if demo {
        print_demo_help(
            tftp_listen,
            http_running.as_ref().map(http::Running::local_addr),
            &names,
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut dhcp_task = None;
    if dhcp_on {
        let http_listen = http_running.as_ref().map(http::Running::local_addr);
        if let Some(h) = http_listen.filter(|h| h.ip().is_loopback()) {
            tracing::warn!(
                http = %h,
                "HTTP listens on loopback while DHCP runs: clients sent to http:// boot files cannot reach it (use [http] listen = \"0.0.0.0:PORT\")"
            );
        }
        let ctx = DhcpContext {
            tftp_listen,
            http_listen,
        };
        dhcp_task = Some(tokio::spawn(dhcp::run(config.dhcp.clone(), ctx, stop_rx)));
    }
    let result = match &mut dhcp_task {
        Some(task) => tokio::select! {
            r = wait_for_signal() => r,
            r = task => {
                let r = r.map_err(|e| Error::Dhcp(format!("task failed: {e}"))).and_then(|r| r);
                dhcp_task = None;
                r.and(Err(Error::Dhcp("stopped unexpectedly".into())))
            }
        },
        None => wait_for_signal().await,
    };
    let _ = stop_tx.send(true);
    if let Some(task) = dhcp_task {
        task.await
            .map_err(|e| Error::Dhcp(format!("task failed: {e}")))??;
    }
    if let Some(h) = http_running {
        h.stop().await;
    }
    tokio::task::spawn_blocking(move || running.stop())
        .await
        .map_err(|e| Error::Tftp(format!("stop failed: {e}")))?;
    result.map(|()| ExitCode::SUCCESS)
}

fn print_demo_help(listen: SocketAddr, http: Option<SocketAddr>, files: &[String]) {
    let (over_http, try_http) = match http {
        Some(h) => (
            format!(" and HTTP on {h}"),
            format!("  curl http://{h}/hello.txt\n"),
        ),
        None => (String::new(), String::new()),
    };
    println!(
        "pxe demo: serving the built-in root ({}) over TFTP on {listen}{over_http}, DHCP off.\n\
         Try:\n  pxe get tftp://{listen}/hello.txt -o -\n  curl tftp://{listen}/hello.txt\n\
         {try_http}  atftp -g -r boot.ipxe -l boot.ipxe {} {}\n\
         Serve a real tree: pxe init /srv/tftp && sudo pxe serve --root /srv/tftp [--http 0.0.0.0:80]\n\
         Stop with Ctrl-C.",
        files.join(", "),
        listen.ip(),
        listen.port()
    );
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

/// The first IPv4 address of interface `name` and its prefix length.
fn interface_ipv4(name: &str) -> Result<(Ipv4Addr, u8), Error> {
    let iface = dhcp::iface::Interface::by_name(name).map_err(|e| Error::Usage(e.to_string()))?;
    Ok((iface.addr, iface.prefix))
}
