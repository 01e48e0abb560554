//! `pxe serve`: TFTP plus (when asked) HTTP and DHCP in one process.
//!
//! No config and no flags: the demo root built into the binary over TFTP on 127.0.0.1:6969 and
//! HTTP on 127.0.0.1:6980, DHCP off. HTTP runs only when `[http] listen` or `--http` asks for
//! it (or in the demo); DHCP only when the config or `--dhcp` asks for it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;

use caps::Capability;

use tokio::sync::watch;

use crate::config::Config;
use crate::dhcp::{self, DhcpContext, DhcpMode};
use crate::error::Error;
use crate::http;
use crate::privilege::Dropped;
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
///
/// Every socket is bound first, while the process may be root and has one thread; then
/// privileges are dropped ([`crate::privilege`]) and only then do the runtime's and the TFTP
/// service's threads start, inheriting the reduced credentials.
pub fn run(config: Config, demo: bool) -> Result<ExitCode, Error> {
    let bound = bind(&config, demo)?;
    let keep: &[Capability] = match &bound.dhcp {
        Some(d) if d.needs_net_admin() => &[Capability::CAP_NET_ADMIN],
        _ => &[],
    };
    let dropped = crate::privilege::drop_privileges(config.tftp.user.as_deref(), keep)?;
    if let Some(dir) = bound.dhcp.as_ref().and_then(dhcp::Bound::lease_dir) {
        check_writable(dir, &dropped)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the tokio runtime", e))?;
    runtime.block_on(serve(bound, demo))
}

/// Every listener, bound but not serving yet.
struct Bound {
    tftp: tftp::Bound,
    names: Vec<String>,
    http: Option<(http::Bound, Root, usize)>,
    dhcp: Option<dhcp::Bound>,
}

fn bind(config: &Config, demo: bool) -> Result<Bound, Error> {
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
            .map_err(|e| Error::io(format!("open root {}", path.display()), e))?
            .permissive(config.tftp.permissive);
        Root::Dir(dir)
    };
    let settings = Settings::from_config(listen, root, &config.tftp);
    let names = settings.root.names();
    let http_listen = match (demo, config.http.listen) {
        (_, Some(listen)) => Some(listen),
        (true, None) => Some(DEMO_HTTP_LISTEN),
        (false, None) => None,
    };
    let max_connections = config
        .http
        .max_connections
        .map_or(http::DEFAULT_MAX_CONNECTIONS, |n| {
            usize::try_from(n.get()).unwrap_or(usize::MAX)
        });
    let http = match http_listen {
        Some(listen) => {
            let root = settings
                .root
                .try_clone()
                .map_err(|e| Error::io("share the root with HTTP", e))?;
            match http::Bound::bind(listen) {
                Ok(bound) => Some((bound, root, max_connections)),
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
    let http_slots = if http.is_some() { max_connections } else { 0 };
    crate::fdlimit::raise_for(settings.max_transfers.saturating_add(http_slots));
    let tftp = tftp::bind(settings)?;
    let dhcp = if config.dhcp.mode() == DhcpMode::Off {
        None
    } else {
        let http_listen = http.as_ref().map(|(b, _, _)| b.local_addr());
        if let Some(h) = http_listen.filter(|h| h.ip().is_loopback()) {
            tracing::warn!(
                http = %h,
                "HTTP listens on loopback while DHCP runs: clients sent to http:// boot files cannot reach it (use [http] listen = \"0.0.0.0:PORT\")"
            );
        }
        let ctx = DhcpContext {
            tftp_listen: tftp.local_addr(),
            http_listen,
        };
        Some(dhcp::bind(&config.dhcp, &ctx)?)
    };
    Ok(Bound {
        tftp,
        names,
        http,
        dhcp,
    })
}

/// The lease file is replaced by rename, so its directory must be writable by the user the
/// server now runs as: say so at start rather than at the first lease.
fn check_writable(dir: &Path, dropped: &Dropped) -> Result<(), Error> {
    use rustix::fs::{Access, access};
    access(dir, Access::WRITE_OK | Access::EXEC_OK).map_err(|e| {
        Error::Usage(format!(
            "lease directory {} is not writable by user `{}` ({e}); fix: chown {} {} (the packaged unit's StateDirectory=pxe does this), or set [dhcp] leases to a file in a directory that user owns",
            dir.display(),
            dropped.user,
            dropped.user,
            dir.display()
        ))
    })
}

async fn serve(bound: Bound, demo: bool) -> Result<ExitCode, Error> {
    let Bound {
        tftp,
        names,
        http,
        dhcp,
    } = bound;
    let http_running = http
        .map(|(bound, root, max)| bound.start(root, max))
        .transpose()?;
    let running = tftp.start()?;
    let tftp_listen = running.local_addr();
    if demo {
        print_demo_help(
            tftp_listen,
            http_running.as_ref().map(http::Running::local_addr),
            &names,
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut dhcp_task = match dhcp {
        Some(d) => Some(tokio::spawn(d.start()?.run(stop_rx))),
        None => None,
    };
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
