//! The DHCPv6 event loop: datagrams in, replies out, decisions logged, leases saved before the
//! replies that depend on them.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pxe_dhcp::v6::{
    BootResponder, BootResponderConfig, Dhcp6Event, Duid, Ignore6, Lease6State, Lease6Table,
    SERVER_PORT, Server, ServerConfig,
};
use pxe_proto::{Datagram, Destination, Instant, MacAddr, SansIo};
use tokio::sync::watch;

use super::leases::Lease6File;
use super::net::{Dhcp6Socket, Interface6};
use super::{Dhcp6Config, Dhcp6Mode, ra};
use crate::dhcp::{DhcpConfig, DhcpContext};
use crate::error::Error;

/// Largest datagram handled.
const BUF: usize = 1500;

/// The clock the cores see: Unix time, so lease expiry times survive a restart.
fn now() -> Instant {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    Instant::from_micros(micros)
}

enum Core6 {
    Boot(Box<BootResponder>),
    Server(Box<Server>),
}

impl Core6 {
    fn sans_io(&mut self) -> &mut dyn SansIo<Event = Dhcp6Event> {
        match self {
            Core6::Boot(b) => b.as_mut(),
            Core6::Server(s) => s.as_mut(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Core6::Boot(b) => b.poll_timeout(),
            Core6::Server(s) => s.poll_timeout(),
        }
    }
}

/// The DHCPv6 service with its sockets bound and its leases loaded, not running yet: bound
/// before the server drops privileges (UDP 547 and the raw ICMPv6 socket need them).
pub struct Bound6 {
    core: Core6,
    iface: Interface6,
    sock: std::net::UdpSocket,
    leases: Option<Lease6File>,
    /// The RA bytes and the raw socket they leave from.
    ra: Option<(Vec<u8>, std::net::UdpSocket)>,
}

impl std::fmt::Debug for Bound6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound6")
            .field("interface", &self.iface.name)
            .field("router_advertisements", &self.ra.is_some())
            .finish_non_exhaustive()
    }
}

impl Bound6 {
    /// The directory of the lease file (server mode), which the server's user must write.
    pub fn lease_dir(&self) -> Option<&std::path::Path> {
        self.leases.as_ref().map(Lease6File::dir)
    }

    /// Registers the sockets with the current tokio runtime.
    pub fn start(self) -> Result<Driver6, Error> {
        let sock = Dhcp6Socket::from_std(self.sock)
            .map_err(|e| Error::io(format!("DHCPv6 socket on {}", self.iface.name), e))?;
        Ok(Driver6 {
            core: self.core,
            iface: self.iface,
            sock,
            leases: self.leases,
            ra: self.ra,
        })
    }
}

/// A running DHCPv6 service.
pub struct Driver6 {
    core: Core6,
    iface: Interface6,
    sock: Dhcp6Socket,
    leases: Option<Lease6File>,
    ra: Option<(Vec<u8>, std::net::UdpSocket)>,
}

/// The address boot URLs name: TFTP's own IPv6 listen address, else the interface's global one.
fn boot_server(ctx: &DhcpContext, global: std::net::Ipv6Addr) -> std::net::Ipv6Addr {
    match ctx.tftp_listen.ip() {
        IpAddr::V6(a) if !a.is_unspecified() => a,
        _ => global,
    }
}

impl Driver6 {
    /// Resolves the interface, builds the responder (restoring leases) and binds the sockets, without a runtime.
    pub fn bind(
        config: &Dhcp6Config,
        dhcp: &DhcpConfig,
        ctx: &DhcpContext,
    ) -> Result<Bound6, Error> {
        let name = config.interface_or(dhcp).ok_or_else(|| {
            Error::Usage(
                "DHCPv6 needs an interface: [dhcp6] interface (or --interface IFACE)".into(),
            )
        })?;
        let iface = Interface6::by_name(name).map_err(Error::Usage)?;
        let (global, prefix_len) = iface.global.ok_or_else(|| {
            Error::Dhcp(format!(
                "interface {name} has no global IPv6 address: DHCPv6 boot URLs need one (`ip -6 addr add 2001:db8::1/64 dev {name}`)"
            ))
        })?;
        if ctx.tftp_listen.is_ipv4() {
            tracing::warn!(
                tftp = %ctx.tftp_listen,
                "TFTP listens on IPv4 only: DHCPv6 clients sent to tftp:// URLs cannot reach it (use [tftp] listen = \"[::]:69\")"
            );
        }
        let server_addr = boot_server(ctx, global);
        let duid = Duid::from_mac(iface.mac.unwrap_or(MacAddr([0x02, 0, 0, 0, 0, 1])));
        let policy = dhcp.policy_with_http(ctx.http_listen.map(|a| a.port()))?;
        let mut leases = None;
        let core = match config.mode {
            Dhcp6Mode::Off => return Err(Error::Dhcp("DHCPv6 is off".into())),
            Dhcp6Mode::BootOnly => {
                let mut cfg = BootResponderConfig::new(duid, server_addr);
                cfg.dns_servers.clone_from(&config.dns);
                cfg.preference = config.preference;
                Core6::Boot(Box::new(BootResponder::new(cfg, policy)))
            }
            Dhcp6Mode::Server => {
                let range = config.range.ok_or_else(|| {
                    Error::Usage("--dhcp6 server needs --dhcp6-range FIRST,LAST".into())
                })?;
                if let Some(problem) = range.off_link(name, global, prefix_len).next() {
                    return Err(Error::Usage(format!("[dhcp6] {problem}")));
                }
                let mut cfg = ServerConfig::new(
                    duid,
                    server_addr,
                    global,
                    prefix_len,
                    range.first,
                    range.last,
                );
                cfg.dns_servers.clone_from(&config.dns);
                cfg.preference = config.preference;
                cfg.rapid_commit = config.rapid_commit;
                if let Some(p) = config.preferred_lifetime {
                    cfg.preferred_secs = p;
                }
                if let Some(v) = config.valid_lifetime {
                    cfg.valid_secs = v;
                }
                let path = config.leases_path();
                let file = Lease6File::open(&path).map_err(Error::Dhcp)?;
                let table: Lease6Table = file.load().map_err(Error::Dhcp)?;
                tracing::info!(leases = table.len(), file = %path.display(), "DHCPv6 lease file opened");
                leases = Some(file);
                Core6::Server(Box::new(Server::with_leases(cfg, policy, table)))
            }
        };
        let sock = Dhcp6Socket::bind_std(&iface, SERVER_PORT)
            .map_err(|e| Error::io(format!("DHCPv6 socket on {name}"), e))?;
        let ra = if config.router_advertisements {
            let raw = ra::open(&iface.name, iface.index)
                .map_err(|e| Error::io(format!("router advertisement socket on {name}"), e))?;
            Some((
                ra::advertisement(config.mode, global, prefix_len, iface.mac),
                raw,
            ))
        } else {
            None
        };
        tracing::info!(
            mode = ?config.mode,
            interface = %iface.name,
            prefix = %format!("{global}/{prefix_len}"),
            boot_server = %server_addr,
            router_advertisements = ra.is_some(),
            "DHCPv6 listening on [::]:547 (ff02::1:2)"
        );
        Ok(Bound6 {
            core,
            iface,
            sock,
            leases,
            ra,
        })
    }

    /// Serves until `shutdown` turns true; then saves the leases one last time.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), Error> {
        let ra_task = self.ra.take().map(|(ra, raw)| {
            let (name, index, stop) = (self.iface.name.clone(), self.iface.index, shutdown.clone());
            tokio::spawn(async move {
                if let Err(e) = ra::run(raw, ra, &name, index, stop).await {
                    tracing::error!(error = %e, interface = %name, "router advertisements stopped");
                }
            })
        });
        let mut buf = vec![0u8; BUF];
        loop {
            if *shutdown.borrow() {
                break;
            }
            let sleep = match self.core.poll_timeout() {
                Some(at) => Duration::from_micros(at.as_micros().saturating_sub(now().as_micros())),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                r = self.sock.recv(&mut buf) => match r {
                    Ok(a) => {
                        let payload = buf.get(..a.len).unwrap_or_default();
                        let local = SocketAddr::new(IpAddr::V6(a.local), SERVER_PORT);
                        self.core.sans_io().handle_datagram(
                            now(),
                            Datagram::new(SocketAddr::V6(a.remote), local, payload),
                        );
                        self.drain().await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "DHCPv6 receive failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                () = tokio::time::sleep(sleep) => {
                    self.core.sans_io().handle_timeout(now());
                    self.drain().await;
                }
            }
        }
        if let Some(t) = ra_task {
            let _ = t.await;
        }
        self.save();
        Ok(())
    }

    fn save(&mut self) -> bool {
        match (self.leases.as_mut(), &self.core) {
            (Some(file), Core6::Server(s)) => match file.save(s.leases()) {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(error = %e, "DHCPv6 lease file not saved: replies withheld, the client will retry");
                    false
                }
            },
            _ => true,
        }
    }

    /// Logs the events, saves the leases if a binding changed, then sends the replies (never a
    /// binding the lease file does not hold yet).
    async fn drain(&mut self) {
        let mut dirty = false;
        while let Some(ev) = self.core.sans_io().poll_event() {
            dirty |=
                matches!(&ev, Dhcp6Event::Lease(c) if c.state != Some(Lease6State::Advertised));
            log_event(&ev);
        }
        let mut out = Vec::new();
        let mut buf = [0u8; BUF];
        while let Some(t) = self.core.sans_io().poll_transmit(now(), &mut buf) {
            if let (Destination::Unicast(to), Some(p)) = (t.destination, buf.get(..t.len)) {
                out.push((p.to_vec(), to));
            }
        }
        if dirty && !self.save() {
            return;
        }
        for (payload, to) in out {
            if let Err(e) = self.sock.send(&payload, to).await {
                tracing::warn!(error = %e, destination = %to, "DHCPv6 send failed");
            }
        }
    }
}

/// One log line per decision, in the DHCPv4 driver's format.
fn log_event(ev: &Dhcp6Event) {
    match ev {
        Dhcp6Event::Boot(b) => tracing::info!(
            mac = %b.client.mac,
            arch = %b.client.arch().map_or_else(|| "unknown".to_owned(), |a| a.to_string()),
            rule = %b.decision.rule_name,
            boot_file = %b.decision.boot_file,
            next_server = %b.decision.next_server,
            reply = b.reply.name(),
            "DHCPv6 decision: {}",
            b.decision.reason
        ),
        Dhcp6Event::Ignored {
            duid,
            reason:
                reason @ (Ignore6::NotNetbootClient
                | Ignore6::UnsupportedMessage(_)
                | Ignore6::OtherServer),
        } => {
            tracing::debug!(duid = ?duid.as_ref().map(ToString::to_string), reason = ?reason, "DHCPv6 ignored")
        }
        Dhcp6Event::Ignored { duid, reason } => tracing::info!(
            duid = ?duid.as_ref().map(ToString::to_string),
            reason = ?reason,
            "DHCPv6 ignored"
        ),
        Dhcp6Event::Lease(c) => tracing::info!(
            duid = %c.duid.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
            iaid = c.iaid,
            address = %c.address,
            state = ?c.state,
            expires_unix = c.expires.as_secs(),
            "DHCPv6 lease"
        ),
        other => tracing::info!(event = ?other, "DHCPv6 event"),
    }
}
