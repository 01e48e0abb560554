//! The server as one value: [`PxeServer::builder`] → [`Builder::start`] → a [`Handle`] that
//! stops it, swaps its configuration and streams its events.
//!
//! ```no_run
//! # async fn f() -> Result<(), pxe_server::Error> {
//! use pxe_server::PxeServer;
//!
//! let handle = PxeServer::builder()
//!     .root("/srv/tftp")
//!     .tftp("0.0.0.0:69".parse().unwrap())
//!     .http("0.0.0.0:8080".parse().unwrap())
//!     .dhcp_proxy("eth0")
//!     .start()
//!     .await?;
//! let mut events = handle.events();
//! while let Ok(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! handle.shutdown().await
//! # }
//! ```

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use caps::Capability;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin;
use crate::config::Config;
use crate::decide::{self, Decide, HostContext, HostFiles, HttpDecider};
use crate::dhcp::{self, DhcpConfig, DhcpContext, DhcpMode};
use crate::dhcp6::{self, Dhcp6Mode};
use crate::error::Error;
use crate::events::{Event, EventReceiver, Events};
use crate::http;
use crate::privilege::Dropped;
use crate::ranges::DhcpRange;
use crate::tftp::{self, Settings, fs::DirRoot, fs::Root};

/// Where the demo listens when `pxe` runs with no config and no flags.
pub const DEMO_LISTEN: SocketAddr =
    SocketAddr::V4(std::net::SocketAddrV4::new(Ipv4Addr::LOCALHOST, 6969));

/// Where the demo serves HTTP unless `--http` says otherwise.
pub const DEMO_HTTP_LISTEN: SocketAddr =
    SocketAddr::V4(std::net::SocketAddrV4::new(Ipv4Addr::LOCALHOST, 6980));

/// The entry point: [`PxeServer::builder`].
#[derive(Debug)]
pub struct PxeServer;

impl PxeServer {
    /// A builder with the default [`Config`]: TFTP on 0.0.0.0:69, no HTTP, no DHCP.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

/// What to serve and where; [`Builder::start`] starts it. [`Builder::config`] replaces the
/// whole configuration, so call it before the setters that adjust it.
#[derive(Debug, Default)]
#[must_use]
pub struct Builder {
    config: Config,
    demo: bool,
    decider: Option<Arc<dyn Decide>>,
}

impl Builder {
    /// Starts from `config` (e.g. [`Config::load`]); replaces everything set so far.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Serves the files under `dir` (TFTP, and HTTP when on).
    pub fn root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.root = Some(dir.into());
        self
    }

    /// Listens for TFTP on `addr` (default 0.0.0.0:69; the DHCP interface's address with DHCP).
    pub fn tftp(mut self, addr: SocketAddr) -> Self {
        self.config.tftp.listen = Some(addr);
        self
    }

    /// Serves the root over HTTP on `addr` too.
    pub fn http(mut self, addr: SocketAddr) -> Self {
        self.config.http.listen = Some(addr);
        self
    }

    /// Runs proxyDHCP on `interface`: boot answers only, another server gives addresses.
    pub fn dhcp_proxy(mut self, interface: &str) -> Self {
        self.config.dhcp.mode = DhcpMode::Proxy;
        self.config.dhcp.interface = Some(interface.to_owned());
        self
    }

    /// Runs a DHCP server on `interface`, leasing addresses from `range`.
    pub fn dhcp_server(mut self, interface: &str, range: DhcpRange) -> Self {
        self.config.dhcp.mode = DhcpMode::Server;
        self.config.dhcp.interface = Some(interface.to_owned());
        self.config.dhcp.range = Some(range);
        self
    }

    /// Serves the demo root built into the crate ([`crate::demo`]) instead of a directory, with
    /// listeners on loopback unless set ([`DEMO_LISTEN`], [`DEMO_HTTP_LISTEN`]).
    pub fn demo(mut self) -> Self {
        self.demo = true;
        self
    }

    /// Asks `decider` what each machine boots before the static rules (instead of the
    /// config's `[decide]` service); see [`crate::decide`].
    pub fn decider(mut self, decider: impl Decide) -> Self {
        self.decider = Some(Arc::new(decider));
        self
    }

    /// Binds every listener and opens the lease file; needs no runtime. Then
    /// [`Bound::drop_privileges`] (while the process has one thread) and [`Bound::start`].
    pub fn bind(self) -> Result<Bound, Error> {
        let Builder {
            config,
            demo,
            decider,
        } = self;
        config
            .validate()
            .map_err(|message| Error::Usage(format!("configuration: {message}")))?;
        bind(config, demo, decider)
    }

    /// Binds every listener and starts serving on the current tokio runtime (multi-threaded:
    /// TFTP transfers run on their own threads, HTTP and DHCP on the runtime), without any
    /// privilege change: [`Builder::bind`] then [`Bound::start`].
    pub async fn start(self) -> Result<Handle, Error> {
        self.bind()?.start().await
    }
}

/// Every listener bound, nothing served yet: [`Builder::bind`].
#[derive(Debug)]
pub struct Bound {
    config: Config,
    demo: bool,
    events: Events,
    files: HostFiles,
    tftp: tftp::Bound,
    names: Vec<String>,
    http: Option<(http::Bound, Root, http::Limits)>,
    dhcp: Option<dhcp::Bound>,
    dhcp6: Option<dhcp6::Bound6>,
    dhcp_config: (watch::Sender<DhcpConfig>, watch::Receiver<DhcpConfig>),
    admin: Option<admin::Bound>,
}

impl Bound {
    /// Switches to `[tftp] user` (default [`crate::privilege::DEFAULT_USER`]) keeping only
    /// the capabilities the bound services still use (`CAP_NET_ADMIN` for the DHCP lease
    /// server), and checks that user can write the lease directory. Capabilities belong to
    /// threads: call it while the process has one thread, before any runtime exists.
    pub fn drop_privileges(&self) -> Result<Dropped, Error> {
        let keep: &[Capability] = match &self.dhcp {
            Some(d) if d.needs_net_admin() => &[Capability::CAP_NET_ADMIN],
            _ => &[],
        };
        let dropped = crate::privilege::drop_privileges(self.config.tftp.user.as_deref(), keep)?;
        if let Some(dir) = self.dhcp.as_ref().and_then(dhcp::Bound::lease_dir) {
            check_writable(dir, &dropped)?;
        }
        if let Some(dir) = self.dhcp6.as_ref().and_then(dhcp6::Bound6::lease_dir) {
            check_writable(dir, &dropped)?;
        }
        Ok(dropped)
    }

    /// Starts serving on the current tokio runtime.
    pub async fn start(self) -> Result<Handle, Error> {
        let Bound {
            config,
            demo,
            events,
            files,
            tftp,
            names,
            http,
            dhcp,
            dhcp6,
            dhcp_config: (dhcp_config, _),
            admin,
        } = self;
        // Subscribed before any service starts: the monitor misses no event.
        let admin = match admin {
            Some(bound) => Some(bound.start(monitor_for(&config), events.subscribe())?),
            None => None,
        };
        let http_running = http
            .map(|(bound, root, limits)| bound.start(root, limits, events.clone(), files.clone()))
            .transpose()?;
        let running = tftp.start()?;
        let tftp_addr = running.local_addr();
        let http_addr = http_running.as_ref().map(http::Running::local_addr);
        if demo {
            print_demo_help(tftp_addr, http_addr, &names);
        }
        let (dhcp_stop, stop_rx) = watch::channel(false);
        // One task for both families, so `failed` and `shutdown` see both.
        let v4 = dhcp.map(dhcp::Bound::start).transpose()?;
        let v6 = dhcp6.map(dhcp6::Bound6::start).transpose()?;
        let dhcp_task = (v4.is_some() || v6.is_some()).then(|| {
            let stop6 = stop_rx.clone();
            tokio::spawn(async move {
                let v4 = async {
                    match v4 {
                        Some(d) => d.run(stop_rx).await,
                        None => Ok(()),
                    }
                };
                let v6 = async {
                    match v6 {
                        Some(d) => d.run(stop6).await,
                        None => Ok(()),
                    }
                };
                tokio::try_join!(v4, v6).map(|_| ())
            })
        });
        Ok(Handle {
            admin,
            tftp: Some(running),
            http: http_running,
            dhcp: dhcp_task,
            dhcp_stop,
            dhcp_config,
            events,
            files,
            current: Mutex::new(config),
            tftp_addr,
            http_addr,
        })
    }
}

/// The status page's monitor, with the leases saved before this start.
fn monitor_for(config: &Config) -> admin::monitor::Monitor {
    let server = config.dhcp.mode() == DhcpMode::Server;
    let mut m = admin::monitor::Monitor::new(config.dhcp.range.filter(|_| server));
    if server {
        match dhcp::leases::current(&config.dhcp.leases_path()) {
            Ok(Some(leases)) => m.load_leases(&leases),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "status page: saved leases not shown"),
        }
    }
    m
}

/// The lease file is replaced by rename, so its directory must be writable by the user the
/// server now runs as: say so at start rather than at the first lease.
fn check_writable(dir: &Path, dropped: &Dropped) -> Result<(), Error> {
    use nix::unistd::{AccessFlags, access};
    access(dir, AccessFlags::W_OK | AccessFlags::X_OK).map_err(|e| {
        let e = std::io::Error::from(e);
        Error::Usage(format!(
            "lease directory {} is not writable by user `{}` ({e}); fix: chown {} {} (the packaged unit's StateDirectory=pxe does this), or set [dhcp] leases to a file in a directory that user owns",
            dir.display(),
            dropped.user,
            dropped.user,
            dir.display()
        ))
    })
}

/// A running server. Dropping it does not stop the services: call [`Handle::shutdown`].
#[derive(Debug)]
pub struct Handle {
    admin: Option<admin::Running>,
    tftp: Option<tftp::Running>,
    http: Option<http::Running>,
    dhcp: Option<JoinHandle<Result<(), Error>>>,
    dhcp_stop: watch::Sender<bool>,
    dhcp_config: watch::Sender<DhcpConfig>,
    events: Events,
    /// The files of per-machine decisions.
    files: HostFiles,
    /// The configuration in effect: the one started with, then each reload's applied parts.
    current: Mutex<Config>,
    tftp_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
}

/// What [`Handle::reload`] did with a new configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReloadReport {
    /// Settings now in effect for new requests, by config name (`dhcp.rules`, ...).
    pub applied: Vec<String>,
    /// Settings that changed but take a restart (listening addresses, the root, the DHCP
    /// mode, ...): the running values stay.
    pub needs_restart: Vec<String>,
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| {
            if v.is_empty() {
                "nothing".to_owned()
            } else {
                v.join(", ")
            }
        };
        write!(f, "applied: {}", list(&self.applied))?;
        if !self.needs_restart.is_empty() {
            write!(
                f,
                "; changed but kept until a restart: {}",
                self.needs_restart.join(", ")
            )?;
        }
        Ok(())
    }
}

impl Handle {
    /// Where TFTP listens.
    #[must_use]
    pub fn tftp_addr(&self) -> SocketAddr {
        self.tftp_addr
    }

    /// Where HTTP listens, when it runs.
    #[must_use]
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// A new subscription to the event stream (see [`crate::events`] for its lagging rule).
    #[must_use]
    pub fn events(&self) -> EventReceiver {
        self.events.subscribe()
    }

    /// The configuration in effect.
    #[must_use]
    pub fn config(&self) -> Config {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Swaps in `config` for new requests: the DHCP boot policy (`[[dhcp.rules]]`,
    /// `default_rules`), reservations and the `[http]` connection limits (`max_connections`,
    /// `max_connections_per_client`, `send_timeout`, `connection_threads`). Running transfers and
    /// leases are untouched. Changed settings that need new sockets or a new root (listening
    /// addresses, the root, `[tftp]`, the DHCP mode, interface, pool and lease options) are
    /// listed in [`ReloadReport::needs_restart`] and keep their running values. An invalid
    /// config is refused with the reason, and the running one stays whole.
    pub fn reload(&self, config: Config) -> Result<ReloadReport, Error> {
        config.validate().map_err(not_reloaded)?;
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let mut report = ReloadReport::default();
        let mut next = current.clone();
        let mut restart = |name: &str, changed: bool| {
            if changed {
                report.needs_restart.push(name.to_owned());
            }
        };
        restart("root", config.root != current.root);
        restart("tftp", config.tftp != current.tftp);
        restart("http.listen", config.http.listen != current.http.listen);
        restart("log_format", config.log_format != current.log_format);
        restart("admin.listen", config.admin != current.admin);
        let (old, new) = (&current.dhcp, &config.dhcp);
        restart("dhcp.mode", new.mode != old.mode);
        restart("dhcp.interface", new.interface != old.interface);
        restart("dhcp.range", new.range != old.range);
        restart("dhcp.leases", new.leases != old.leases);
        let options_same = DhcpConfig {
            rules: old.rules.clone(),
            default_rules: old.default_rules,
            reservations: old.reservations.clone(),
            mode: old.mode,
            interface: old.interface.clone(),
            range: old.range,
            leases: old.leases.clone(),
            ..new.clone()
        } == *old;
        restart("dhcp options", !options_same);
        restart("dhcp6", config.dhcp6 != current.dhcp6);

        let mut applied = |name: &str, changed: bool| {
            if changed {
                report.applied.push(name.to_owned());
            }
        };
        applied("menu", config.menu != current.menu);
        next.menu.clone_from(&config.menu);
        restart("decide", config.decide != current.decide);
        let hosts_changed = config.host != current.host || config.menu != current.menu;
        applied("host", config.host != current.host);
        next.host.clone_from(&config.host);
        let ctx = HostContext {
            http: self.http_addr.is_some(),
            menu: config.load_menu().map_err(not_reloaded)?,
        };
        let (layer, files) = decide::static_hosts(&config.host, &ctx).map_err(not_reloaded)?;
        let rules_changed = new.rules != old.rules || new.default_rules != old.default_rules;
        let reservations_changed = new.reservations != old.reservations;
        applied("dhcp.rules", rules_changed);
        applied("dhcp.reservations", reservations_changed);
        next.dhcp.rules.clone_from(&new.rules);
        next.dhcp.default_rules = new.default_rules;
        next.dhcp.reservations.clone_from(&new.reservations);
        let old_static: Vec<_> = current.dhcp.hosts.keys().copied().collect();
        next.dhcp.hosts = layer;
        // The policy is checked against the running HTTP port too: `{http}` and the defaults.
        next.dhcp
            .policy_with_http(self.http_addr.map(|a| a.port()))
            .map_err(|e| not_reloaded(e.to_string()))?;
        let max_changed = config.http.max_connections != current.http.max_connections;
        applied("http.max_connections", max_changed && self.http.is_some());
        next.http.max_connections = config.http.max_connections;
        let per_client_changed =
            config.http.max_connections_per_client != current.http.max_connections_per_client;
        applied(
            "http.max_connections_per_client",
            per_client_changed && self.http.is_some(),
        );
        next.http.max_connections_per_client = config.http.max_connections_per_client;
        let send_timeout_changed = config.http.send_timeout != current.http.send_timeout;
        applied(
            "http.send_timeout",
            send_timeout_changed && self.http.is_some(),
        );
        next.http.send_timeout = config.http.send_timeout;
        let threads_changed = config.http.connection_threads != current.http.connection_threads;
        applied(
            "http.connection_threads",
            threads_changed && self.http.is_some(),
        );
        next.http.connection_threads = config.http.connection_threads;
        let limits_changed =
            max_changed || per_client_changed || send_timeout_changed || threads_changed;

        // The DHCPv6 driver keeps the rules it started with.
        if rules_changed && current.dhcp6.mode != Dhcp6Mode::Off {
            report.needs_restart.push("dhcp6 (boot rules)".to_owned());
        }
        if hosts_changed {
            self.files.replace(old_static, &files);
        }
        if rules_changed || reservations_changed || hosts_changed {
            self.dhcp_config.send_replace(next.dhcp.clone());
        }
        if limits_changed && let Some(h) = &self.http {
            h.set_limits(http::Limits::from_config(&next.http));
        }
        // A reload is how an admin says "the tree changed": HTTP opens every name afresh.
        if let Some(h) = &self.http {
            h.clear_file_cache();
        }
        *current = next;
        drop(current);
        tracing::info!(%report, "configuration reloaded");
        let event = report.clone();
        self.events.emit(|| Event::Reloaded(event));
        Ok(report)
    }

    /// Resolves when a service stopped on its own (the DHCP interface went away, ...), with
    /// its error; pending for as long as everything runs. Call [`Handle::shutdown`] after it.
    pub async fn failed(&mut self) -> Error {
        match &mut self.dhcp {
            Some(task) => {
                let r = task.await;
                self.dhcp = None;
                match r {
                    Ok(Ok(())) => Error::Dhcp("stopped unexpectedly".into()),
                    Ok(Err(e)) => e,
                    Err(e) => Error::Dhcp(format!("task failed: {e}")),
                }
            }
            None => std::future::pending().await,
        }
    }

    /// Stops every service: DHCP saves its leases, HTTP closes its connections, TFTP sends
    /// running transfers ERROR 0 "server shutting down"; then returns.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        let _ = self.dhcp_stop.send(true);
        let mut result = Ok(());
        if let Some(task) = self.dhcp.take() {
            result = task
                .await
                .map_err(|e| Error::Dhcp(format!("task failed: {e}")))
                .and_then(|r| r);
        }
        if let Some(h) = self.http.take() {
            h.stop().await;
        }
        if let Some(a) = self.admin.take() {
            a.stop().await;
        }
        if let Some(t) = self.tftp.take() {
            tokio::task::spawn_blocking(move || t.stop())
                .await
                .map_err(|e| Error::Tftp(format!("stop failed: {e}")))?;
        }
        result
    }
}

fn not_reloaded(message: String) -> Error {
    Error::Usage(format!("configuration not reloaded: {message}"))
}

fn bind(mut config: Config, demo: bool, decider: Option<Arc<dyn Decide>>) -> Result<Bound, Error> {
    let events = Events::new();
    let files = HostFiles::default();
    let server_ip = config.dhcp.interface().map(interface_ipv4).transpose()?;
    let default_listen = match (demo, server_ip) {
        (true, _) => DEMO_LISTEN,
        // DHCPv6 sends tftp://[addr]/ URLs: listen on both families.
        (false, _) if config.dhcp6.mode != Dhcp6Mode::Off => {
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 69))
        }
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
    let mut settings = Settings::from_config(listen, root, &config.tftp);
    settings.events = events.clone();
    settings.generated = Some(files.clone());
    let names = settings.root.names();
    let http_listen = match (demo, config.http.listen) {
        (_, Some(listen)) => Some(listen),
        (true, None) => Some(DEMO_HTTP_LISTEN),
        (false, None) => None,
    };
    let limits = http::Limits::from_config(&config.http);
    let http = match http_listen {
        Some(listen) => {
            let root = settings
                .root
                .try_clone()
                .map_err(|e| Error::io("share the root with HTTP", e))?;
            match http::Bound::bind(listen) {
                Ok(bound) => Some((bound, root, limits)),
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
    let host_ctx = HostContext {
        http: http.is_some(),
        menu: config.load_menu().map_err(Error::Usage)?,
    };
    let (layer, static_files) =
        decide::static_hosts(&config.host, &host_ctx).map_err(Error::Usage)?;
    config.dhcp.hosts = layer;
    files.replace([], &static_files);
    let decider = match (decider, &config.decide) {
        (Some(d), _) => Some(d),
        (None, Some(d)) => {
            Some(Arc::new(HttpDecider::new(d).map_err(Error::Usage)?) as Arc<dyn Decide>)
        }
        (None, None) => None,
    };
    let http_slots = if http.is_some() {
        // Each connection's socket and file (counted in `needed`, two descriptors per slot),
        // and the files the open-file cache holds besides: one descriptor each, so half as
        // many slots.
        limits
            .max_connections
            .saturating_add(http::files::MAX_ENTRIES.div_ceil(2))
    } else {
        0
    };
    crate::fdlimit::raise_for(settings.descriptors_needed().saturating_add(http_slots));
    let tftp = tftp::bind(settings)?;
    let (dhcp_tx, dhcp_rx) = watch::channel(config.dhcp.clone());
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
            events: events.clone(),
            updates: Some(dhcp_rx.clone()),
            decider,
            hosts: host_ctx,
            files: files.clone(),
        };
        Some(dhcp::bind(&config.dhcp, &ctx)?)
    };
    let dhcp6 = if config.dhcp6.mode == Dhcp6Mode::Off {
        None
    } else {
        let ctx = DhcpContext {
            tftp_listen: tftp.local_addr(),
            http_listen: http.as_ref().map(|(b, _, _)| b.local_addr()),
            events: events.clone(),
            // The DHCPv6 driver keeps the policy it started with: reloads list `dhcp6` as
            // needing a restart.
            updates: None,
            decider: None,
            hosts: HostContext::default(),
            files: files.clone(),
        };
        Some(dhcp6::bind(&config.dhcp6, &config.dhcp, &ctx)?)
    };
    let admin = config.admin.listen.map(admin::Bound::bind).transpose()?;
    Ok(Bound {
        dhcp6,
        admin,
        config,
        demo,
        events,
        files,
        tftp,
        names,
        http,
        dhcp,
        dhcp_config: (dhcp_tx, dhcp_rx),
    })
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

/// The first IPv4 address of interface `name` and its prefix length.
fn interface_ipv4(name: &str) -> Result<(Ipv4Addr, u8), Error> {
    let iface = dhcp::iface::Interface::by_name(name).map_err(|e| Error::Usage(e.to_string()))?;
    Ok((iface.addr, iface.prefix))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pxe_dhcp::policy::{Match, Rule};

    use super::*;
    use crate::events::{Protocol, TransferResult};

    async fn demo() -> Handle {
        PxeServer::builder()
            .tftp("127.0.0.1:0".parse().unwrap())
            .http("127.0.0.1:0".parse().unwrap())
            .demo()
            .start()
            .await
            .expect("start")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reload_applies_rules_refuses_bad_configs_and_reports_restarts() {
        let handle = demo().await;
        let mut events = handle.events();
        let mut config = handle.config();
        let running_tftp = config.tftp.clone();
        config
            .dhcp
            .rules
            .push(Rule::new("lab", Match::default(), "lab.efi"));
        config.http.max_connections = std::num::NonZeroU32::new(7);
        config.http.connection_threads = Some(0);
        config.tftp.listen = Some("127.0.0.1:1".parse().unwrap());
        let report = handle.reload(config.clone()).expect("reload");
        assert_eq!(
            report.applied,
            [
                "dhcp.rules",
                "http.max_connections",
                "http.connection_threads"
            ]
        );
        assert_eq!(report.needs_restart, ["tftp"]);
        assert_eq!(handle.config().dhcp.rules.len(), 1);
        // The listen address is not taken over: the next reload reports it again.
        assert_eq!(handle.config().tftp, running_tftp);
        match events.recv().await.expect("event") {
            Event::Reloaded(r) => assert_eq!(r, report),
            other => panic!("{other:?}"),
        }

        // A rule named like a built-in one is refused; the running config stays.
        let mut bad = config.clone();
        bad.dhcp.rules = vec![Rule::new("ipxe", Match::default(), "x")];
        let e = handle.reload(bad).expect_err("clash");
        assert!(e.to_string().contains("not reloaded"), "{e}");
        assert_eq!(handle.config().dhcp.rules[0].name, "lab");
        handle.shutdown().await.expect("shutdown");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn transfers_are_reported() {
        let handle = demo().await;
        let mut events = handle.events();
        let http = handle.http_addr().expect("http");
        let (status, body) = tokio::task::spawn_blocking(move || http_get(http, "/hello.txt"))
            .await
            .unwrap();
        assert_eq!(status, 200);
        let (missing, _) = tokio::task::spawn_blocking(move || http_get(http, "/nope"))
            .await
            .unwrap();
        assert_eq!(missing, 404);
        let mut next = async || {
            tokio::time::timeout(Duration::from_secs(5), events.recv())
                .await
                .expect("in time")
                .expect("event")
        };
        let Event::TransferStarted(s) = next().await else {
            panic!("started first")
        };
        assert_eq!(
            (s.protocol, s.file.as_str()),
            (Protocol::Http, "/hello.txt")
        );
        assert_eq!(s.size, Some(body.len() as u64));
        let Event::TransferFinished(f) = next().await else {
            panic!("then finished")
        };
        assert_eq!(
            (f.id, f.bytes, f.result),
            (s.id, s.size.unwrap(), TransferResult::Completed)
        );
        let Event::TransferFinished(refused) = next().await else {
            panic!("a refusal is only finished")
        };
        assert_eq!(refused.status, Some(404));
        assert!(matches!(refused.result, TransferResult::Refused(_)));

        // TFTP: the same pair from the transfer thread.
        let tftp = handle.tftp_addr();
        let got = tokio::task::spawn_blocking(move || tftp_get(tftp, "hello.txt"))
            .await
            .unwrap();
        assert_eq!(got, body);
        let Event::TransferStarted(s) = next().await else {
            panic!("started")
        };
        assert_eq!((s.protocol, s.file.as_str()), (Protocol::Tftp, "hello.txt"));
        let Event::TransferFinished(f) = next().await else {
            panic!("finished")
        };
        assert_eq!((f.id, f.result), (s.id, TransferResult::Completed));
        assert_eq!(f.bytes, body.len() as u64);
        handle.shutdown().await.expect("shutdown");
    }

    fn http_get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&all[..split]).into_owned();
        let status = head[9..12].parse().unwrap();
        (status, all[split + 4..].to_vec())
    }

    /// A lock-step RRQ with the reference client of `pxe-tftp`.
    fn tftp_get(server: SocketAddr, name: &str) -> Vec<u8> {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rrq = vec![0, 1];
        rrq.extend_from_slice(name.as_bytes());
        rrq.extend_from_slice(b"\0octet\0");
        sock.send_to(&rrq, server).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 600];
        loop {
            let (n, from) = sock.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..2], &[0, 3], "DATA");
            out.extend_from_slice(&buf[4..n]);
            sock.send_to(&[0, 4, buf[2], buf[3]], from).unwrap();
            if n < 516 {
                return out;
            }
        }
    }
}
