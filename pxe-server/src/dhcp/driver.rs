//! The event loop: datagrams in, replies out, decisions logged, leases saved before any ACK.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pxe_dhcp::policy::Host;
use pxe_dhcp::responder::{
    ClientKey, DhcpEvent, IgnoreReason, Lease, LeaseServer, LeaseState, PoolRange, ProxyConfig,
    ProxyResponder, ServerConfig,
};
use pxe_dhcp::wire::{MessageType, Repr};
use pxe_proto::MacAddr;
use pxe_proto::{Datagram, Destination, Instant, SansIo};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::clock::Clock;
use super::iface::{self, Interface};
use super::leases::LeaseFile;
use super::net::{Arrival, BoundSocket, DhcpSocket, InterfaceClaim};
use super::pg;
use super::store::{HeldElsewhere, LeaseStore};
use super::{DEFAULT_LEASE_SECS, DhcpConfig, DhcpContext, arp};
use crate::decide::{self, Client, DECIDE_TIMEOUT, Decide, Decision, HostContext, HostFiles};
use crate::dhcp::DhcpMode;
use crate::error::Error;
use crate::events::{DhcpDecision, Event, Events, LeaseAction, LeaseEvent};

/// The DHCP/BOOTP server port (RFC 2131 §4.1).
const SERVER_PORT: u16 = 67;
/// The PXE boot-server port (PXE 2.1 §2.2.5).
const PXE_PORT: u16 = 4011;
/// Largest datagram handled; DHCP messages fit in one Ethernet frame.
const BUF: usize = 1500;
/// Most datagrams taken into one group commit.
const MAX_BATCH: usize = 256;

/// Replies waiting for the lease changes before them to be journaled.
#[derive(Default)]
struct Batch {
    /// Lease changes to journal before the replies go out.
    changes: Vec<Lease>,
    /// Payload, transmit and arrival interface of each reply.
    out: Vec<(Vec<u8>, pxe_proto::Transmit, u32)>,
}

enum Core {
    Proxy(Box<ProxyResponder>),
    Server(Box<LeaseServer>),
}

impl Core {
    fn sans_io(&mut self) -> &mut dyn SansIo<Event = DhcpEvent> {
        match self {
            Core::Proxy(p) => p.as_mut(),
            Core::Server(s) => s.as_mut(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Core::Proxy(p) => p.poll_timeout(),
            Core::Server(s) => s.poll_timeout(),
        }
    }
}

/// A DHCP service whose sockets are bound but not yet registered with the runtime
/// ([`Driver::bind`]); [`Bound::start`] makes it a [`Driver`].
pub struct Bound {
    claim: InterfaceClaim,
    core: Core,
    iface: Interface,
    s67: BoundSocket,
    s4011: Option<BoundSocket>,
    leases: Option<Box<dyn LeaseStore>>,
    clock: Clock,
    events: Events,
    updates: Option<watch::Receiver<DhcpConfig>>,
    http_port: Option<u16>,
    deciding: Option<Deciding>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("dhcp::Bound")
            .field("interface", &self.iface.name)
            .field("s67", &self.s67)
            .field("s4011", &self.s4011)
            .finish_non_exhaustive()
    }
}

impl Bound {
    /// Registers the sockets with the current runtime.
    pub fn start(self) -> Result<Driver, Error> {
        let name = self.iface.name.clone();
        let register = |s: BoundSocket| {
            s.register()
                .map_err(|e| Error::io(format!("DHCP socket on {name}"), e))
        };
        Ok(Driver {
            _claim: self.claim,
            core: self.core,
            s67: register(self.s67)?,
            s4011: self.s4011.map(register).transpose()?,
            iface: self.iface,
            leases: self.leases,
            clock: self.clock,
            events: self.events,
            updates: self.updates,
            http_port: self.http_port,
            deciding: self.deciding,
            store_failures: (0, None),
        })
    }

    /// The directory the lease store writes in (lease server with a local store only).
    #[must_use]
    pub fn lease_dir(&self) -> Option<&std::path::Path> {
        self.leases.as_ref().and_then(|l| l.dir())
    }

    /// Whether replies need `CAP_NET_ADMIN` (the lease server writes neighbour-table entries,
    /// [`arp`]); proxyDHCP never does.
    #[must_use]
    pub fn needs_net_admin(&self) -> bool {
        matches!(self.core, Core::Server(_))
    }
}

/// A running DHCP service.
pub struct Driver {
    /// Held while serving: no other `pxe` serves DHCP on this interface.
    _claim: InterfaceClaim,
    core: Core,
    iface: Interface,
    s67: DhcpSocket,
    s4011: Option<DhcpSocket>,
    leases: Option<Box<dyn LeaseStore>>,
    clock: Clock,
    events: Events,
    updates: Option<watch::Receiver<DhcpConfig>>,
    /// The HTTP port boot URLs name, for policies built on reload.
    http_port: Option<u16>,
    /// Per-machine decisions, when a decider is set.
    deciding: Option<Deciding>,
    /// Failed commits since the store was last written, and when one was last logged.
    store_failures: (u64, Option<std::time::Instant>),
}

/// How often a store that keeps failing (a database that is down) is logged: once per this
/// interval with the count, not once per batch of a storm.
const STORE_FAILURE_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// The state of asking a [`Decide`] implementation.
struct Deciding {
    decider: Arc<dyn Decide>,
    ctx: HostContext,
    files: HostFiles,
    /// Machines with a static `[[host]]` entry: never asked about.
    fixed: BTreeMap<MacAddr, Host>,
    /// The host entries decided so far.
    decided: BTreeMap<MacAddr, Host>,
    /// Lookups under way.
    lookups: JoinSet<(MacAddr, Decision)>,
    /// Requests waiting for their machine's lookup.
    held: HashMap<MacAddr, Vec<(Arrival, Vec<u8>)>>,
}

/// The interface to serve: `--interface`, else the one holding the TFTP address, else the
/// only non-loopback one.
fn pick_interface(config: &DhcpConfig, ctx: &DhcpContext) -> Result<Interface, Error> {
    let err = |e: iface::IfaceError| Error::Dhcp(e.to_string());
    if let Some(name) = config.interface() {
        return Interface::by_name(name).map_err(err);
    }
    let all = iface::all().map_err(err)?;
    if let SocketAddr::V4(l) = ctx.tftp_listen
        && !l.ip().is_unspecified()
        && let Some(i) = all.iter().find(|i| i.addr == *l.ip())
    {
        return Ok(i.clone());
    }
    let candidates: Vec<&Interface> = all.iter().filter(|i| !i.addr.is_loopback()).collect();
    match candidates.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::Dhcp(
            "no network interface with an IPv4 address to serve DHCP on".into(),
        )),
        many => Err(Error::Dhcp(format!(
            "several interfaces could serve DHCP ({}); choose one with --interface IFACE",
            many.iter()
                .map(|i| format!("{} {}/{}", i.name, i.addr, i.prefix))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

impl Driver {
    /// Resolves the interface, builds the responder (restoring leases) and binds the sockets;
    /// needs no runtime.
    pub fn bind(config: &DhcpConfig, ctx: &DhcpContext) -> Result<Bound, Error> {
        let iface = pick_interface(config, ctx)?;
        let claim = InterfaceClaim::take(&iface.name).map_err(|e| Error::Dhcp(e.to_string()))?;
        let next_server = config.next_server.or(match ctx.tftp_listen {
            SocketAddr::V4(l) if !l.ip().is_unspecified() => Some(*l.ip()),
            _ => None,
        });
        let policy = config.policy_with_http(ctx.http_listen.map(|a| a.port()))?;
        tracing::info!(
            rules = %policy
                .rules
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            configured = config.rules.len(),
            default_rules = config.default_rules,
            "DHCP boot policy: configured rules first, the first match wins"
        );
        let mut leases = None;
        // The cores' clock: monotonic; the wall clock is read here, once (see `clock`).
        let clock = Clock::new();
        let core = match config.mode() {
            DhcpMode::Off => return Err(Error::Dhcp("DHCP is off".into())),
            DhcpMode::Proxy => {
                let mut cfg = ProxyConfig::new(iface.addr);
                cfg.next_server = next_server;
                cfg.uefi_via_4011 = config.uefi_via_4011;
                Core::Proxy(Box::new(ProxyResponder::new(cfg, policy)))
            }
            DhcpMode::Server => {
                let mut pools = Vec::new();
                if let Some(r) = config.range {
                    for ip in [r.first, r.last] {
                        if !iface.contains(ip) {
                            return Err(Error::Usage(format!(
                                "--dhcp-range {r}: {ip} is not in {}'s subnet {}/{}",
                                iface.name,
                                iface.network(),
                                iface.prefix
                            )));
                        }
                    }
                    pools.push(PoolRange {
                        first: r.first,
                        last: r.last,
                    });
                }
                let mask = config.netmask.unwrap_or_else(|| iface.netmask());
                let first = pools.first().copied().unwrap_or(PoolRange {
                    first: iface.addr,
                    last: iface.addr,
                });
                let mut cfg = ServerConfig::new(iface.addr, mask, first);
                cfg.pools = pools;
                cfg.reservations = config.reservations.clone();
                cfg.subnets = config.subnets.iter().map(|n| n.to_subnet()).collect();
                cfg.lease_time_secs = config.lease_time.unwrap_or(DEFAULT_LEASE_SECS);
                cfg.routers = config.router.into_iter().collect();
                cfg.dns_servers = config.dns.clone();
                cfg.domain_name = config.domain.clone();
                cfg.next_server = next_server;
                cfg.pxe_vendor_to_rom = config.pxe_vendor_to_rom;
                cfg.max_clients_per_mac = config.max_clients_per_mac;
                cfg.authoritative = config.authoritative;
                let path: PathBuf = config.leases_path();
                let mut store: Box<dyn LeaseStore> = match path.to_str().filter(|p| pg::is_url(p)) {
                    Some(url) => Box::new(pg::PgStore::new(url, iface.addr)),
                    None => {
                        Box::new(LeaseFile::open(&path).map_err(|e| Error::Dhcp(e.to_string()))?)
                    }
                };
                let table = store.load(&clock).map_err(|e| Error::Dhcp(e.to_string()))?;
                tracing::info!(
                    leases = table.len(),
                    file = %store.describe(),
                    "DHCP lease file opened"
                );
                leases = Some(store);
                Core::Server(Box::new(LeaseServer::with_leases(cfg, policy, table)))
            }
        };
        let bind = |port, shared| {
            BoundSocket::bind(port, Some(&iface.name), shared)
                .map_err(|e| Error::io(format!("DHCP socket on {}", iface.name), e))
        };
        let proxy = config.mode() == DhcpMode::Proxy;
        let s67 = bind(SERVER_PORT, proxy)?;
        let s4011 = if proxy {
            Some(bind(PXE_PORT, false)?)
        } else {
            None
        };
        tracing::info!(
            mode = ?config.mode(),
            interface = %iface.name,
            server = %iface.addr,
            subnet = %format!("{}/{}", iface.network(), iface.prefix),
            next_server = %next_server.unwrap_or(iface.addr),
            ports = if s4011.is_some() { "67+4011" } else { "67" },
            "DHCP listening"
        );
        let mut updates = ctx.updates.clone();
        if let Some(u) = &mut updates {
            u.mark_unchanged();
        }
        Ok(Bound {
            claim,
            clock,
            core,
            iface,
            s67,
            s4011,
            leases,
            events: ctx.events.clone(),
            updates,
            http_port: ctx.http_listen.map(|a| a.port()),
            deciding: ctx.decider.clone().map(|decider| Deciding {
                decider,
                ctx: ctx.hosts.clone(),
                files: ctx.files.clone(),
                fixed: config.hosts.clone(),
                decided: BTreeMap::new(),
                lookups: JoinSet::new(),
                held: HashMap::new(),
            }),
        })
    }

    /// Takes the boot policy and reservations of a reloaded configuration. The config was
    /// checked before it was sent; should the policy still fail, the running one stays.
    fn apply(&mut self, config: &DhcpConfig) {
        let policy = match config.policy_with_http(self.http_port) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "DHCP: reloaded boot policy refused; the running one stays");
                return;
            }
        };
        let rules = policy.rules.len();
        let mut policy = policy;
        if let Some(d) = &mut self.deciding {
            d.fixed.clone_from(&config.hosts);
            d.decided.retain(|mac, _| !config.hosts.contains_key(mac));
            for (mac, host) in &d.decided {
                policy.hosts.insert(*mac, host.clone());
            }
        }
        match &mut self.core {
            Core::Proxy(p) => p.set_policy(policy),
            Core::Server(s) => {
                s.set_policy(policy);
                s.set_reservations(config.reservations.clone());
                let subnets: Vec<_> = config.subnets.iter().map(|n| n.to_subnet()).collect();
                if s.config().subnets != subnets {
                    tracing::warn!(
                        "DHCP: [[dhcp.subnet]] changes take effect at the next start; the running subnets stay"
                    );
                }
            }
        }
        tracing::info!(
            rules,
            reservations = config.reservations.len(),
            "DHCP configuration reloaded"
        );
    }

    /// Serves until `shutdown` turns true; then saves the leases one last time.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), Error> {
        let mut buf67 = vec![0u8; BUF];
        let mut buf4011 = vec![0u8; BUF];
        let mut batch = Batch::default();
        let mut backoff = false;
        let refresh_every = self.leases.as_ref().and_then(|l| l.refresh_interval());
        let mut next_refresh = refresh_every.map(|d| tokio::time::Instant::now() + d);
        loop {
            if *shutdown.borrow() {
                break;
            }
            let sleep = match self.core.poll_timeout() {
                Some(at) => Duration::from_micros(
                    at.as_micros().saturating_sub(self.clock.now().as_micros()),
                ),
                None => Duration::from_secs(3600),
            };
            let s4011 = self.s4011.as_ref();
            let updates = self.updates.as_mut();
            let lookups = self.deciding.as_mut().map(|d| &mut d.lookups);
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                config = async {
                    match updates {
                        Some(u) => match u.changed().await {
                            Ok(()) => u.borrow_and_update().clone(),
                            // The handle is gone: no more reloads.
                            Err(_) => std::future::pending().await,
                        },
                        None => std::future::pending().await,
                    }
                } => self.apply(&config),
                done = async {
                    match lookups {
                        Some(l) if !l.is_empty() => l.join_next().await,
                        _ => std::future::pending().await,
                    }
                } => {
                    if let Some(Ok((mac, decision))) = done {
                        self.decided(mac, &decision, &mut batch);
                    }
                }
                r = self.s67.recv(&mut buf67) => {
                    backoff = r.is_err();
                    self.ingest(r, &buf67, &mut batch);
                    self.ingest_queued(&mut buf67, &mut buf4011, &mut batch);
                }
                r = async {
                    match s4011 {
                        Some(s) => s.recv(&mut buf4011).await,
                        None => std::future::pending().await,
                    }
                } => {
                    backoff = r.is_err();
                    self.ingest(r, &buf4011, &mut batch);
                    self.ingest_queued(&mut buf67, &mut buf4011, &mut batch);
                }
                () = tokio::time::sleep(sleep) => {
                    self.core.sans_io().handle_timeout(self.clock.now());
                    self.drain(self.iface.index, &mut batch);
                }
                () = async {
                    match next_refresh {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {
                    next_refresh = refresh_every.map(|d| tokio::time::Instant::now() + d);
                    self.refresh().await;
                }
            }
            self.commit(&mut batch).await;
            if std::mem::take(&mut backoff) {
                // A socket error that repeats (interface gone) must not spin the loop.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        if let (Some(store), Core::Server(s)) = (self.leases.as_mut(), &self.core) {
            store
                .close(s.leases(), &self.clock)
                .map_err(|e| Error::Dhcp(e.to_string()))?;
            tracing::info!(leases = s.leases().len(), file = %store.describe(), "DHCP leases saved");
        }
        let st = match &self.core {
            Core::Proxy(p) => p.stats(),
            Core::Server(s) => s.stats(),
        };
        tracing::info!(
            received = st.received,
            malformed = st.malformed,
            ignored = st.ignored,
            offers = st.offers,
            acks = st.acks,
            naks = st.naks,
            "DHCP stopped"
        );
        Ok(())
    }

    /// Feeds one received datagram to the core and collects what it produced.
    fn ingest(&mut self, r: std::io::Result<Arrival>, buf: &[u8], batch: &mut Batch) {
        let a = match r {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "DHCP receive failed");
                return;
            }
        };
        let Some(payload) = buf.get(..a.len) else {
            return;
        };
        if let Some(mac) = self.needs_decision(payload) {
            self.ask(mac, a, payload);
            return;
        }
        self.feed(a, payload, batch);
    }

    /// Hands one datagram to the core and collects what it produced.
    fn feed(&mut self, a: Arrival, payload: &[u8], batch: &mut Batch) {
        let dgram = Datagram::new(SocketAddr::V4(a.remote), SocketAddr::V4(a.local), payload);
        self.core.sans_io().handle_datagram(self.clock.now(), dgram);
        let ifindex = if a.ifindex == 0 {
            self.iface.index
        } else {
            a.ifindex
        };
        self.drain(ifindex, batch);
    }

    /// The machine to ask the decider about before the core sees `payload`: a network-boot
    /// client's DISCOVER, REQUEST or INFORM, from a machine without a `[[host]]` entry.
    fn needs_decision(&self, payload: &[u8]) -> Option<MacAddr> {
        let d = self.deciding.as_ref()?;
        let req = Repr::parse_bytes(payload).ok()?;
        let asks = matches!(
            req.message_type(),
            Some(MessageType::Discover | MessageType::Request | MessageType::Inform)
        );
        let mac = req.client_mac();
        let client = Client::from_request(&req);
        let netboot = client.firmware != pxe_dhcp::pxe::Firmware::Other;
        (asks && netboot && !d.fixed.contains_key(&mac)).then_some(mac)
    }

    /// Holds the request until the decider has answered for its machine.
    fn ask(&mut self, mac: MacAddr, a: Arrival, payload: &[u8]) {
        let Some(d) = self.deciding.as_mut() else {
            return;
        };
        let held = d.held.entry(mac).or_default();
        held.push((a, payload.to_vec()));
        if held.len() > 1 {
            return; // already asked
        }
        let Ok(req) = Repr::parse_bytes(payload) else {
            return;
        };
        let client = Client::from_request(&req);
        let decider = Arc::clone(&d.decider);
        d.lookups.spawn(async move {
            let decision =
                match tokio::time::timeout(DECIDE_TIMEOUT, decider.decide(&client)).await {
                    Ok(d) => d,
                    Err(_) => {
                        tracing::warn!(mac = %client.mac, "decider did not answer in time: the static rules answer");
                        Decision::Default
                    }
                };
            (client.mac, decision)
        });
    }

    /// Makes `decision` machine `mac`'s host entry, then lets its held requests through.
    fn decided(&mut self, mac: MacAddr, decision: &Decision, batch: &mut Batch) {
        let Some(d) = self.deciding.as_mut() else {
            return;
        };
        let held = d.held.remove(&mac).unwrap_or_default();
        let entry = match decide::host_entry(mac, decision, &d.ctx, "decider") {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(%mac, error = %e, "decider's answer cannot be used: the static rules answer");
                None
            }
        };
        let policy = match &mut self.core {
            Core::Proxy(p) => p.policy_mut(),
            Core::Server(s) => s.policy_mut(),
        };
        match entry {
            Some((host, files)) => {
                tracing::debug!(%mac, decision = ?decision, "decider answered");
                d.files.set(mac, files);
                d.decided.insert(mac, host.clone());
                policy.hosts.insert(mac, host);
            }
            None => {
                d.files.remove(mac);
                d.decided.remove(&mac);
                policy.hosts.remove(&mac);
            }
        }
        for (a, payload) in held {
            self.feed(a, &payload, batch);
        }
    }

    /// Group commit: takes every datagram already queued (up to [`MAX_BATCH`]) before the
    /// lease file is saved, so one `fsync` covers a burst of clients instead of one each.
    fn ingest_queued(&mut self, buf67: &mut [u8], buf4011: &mut [u8], batch: &mut Batch) {
        for _ in 0..MAX_BATCH {
            let mut got = false;
            match self.s67.try_recv(buf67) {
                Ok(a) => {
                    got = true;
                    self.ingest(Ok(a), buf67, batch);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => self.ingest(Err(e), buf67, batch),
            }
            if let Some(s) = self.s4011.as_ref() {
                match s.try_recv(buf4011) {
                    Ok(a) => {
                        got = true;
                        self.ingest(Ok(a), buf4011, batch);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => self.ingest(Err(e), buf4011, batch),
                }
            }
            if !got {
                break;
            }
        }
    }

    /// Logs the core's events and takes its replies, per the `SansIo` contract.
    fn drain(&mut self, ifindex: u32, batch: &mut Batch) {
        while let Some(ev) = self.core.sans_io().poll_event() {
            // An offer binds nothing (the client must still REQUEST), so only bindings,
            // releases, expiries and declines cost an fsync.
            if let DhcpEvent::Lease(c) = &ev
                && c.state != LeaseState::Offered
            {
                batch.changes.push(Lease {
                    ip: c.ip,
                    mac: c.mac,
                    client_id: c.client_id.clone(),
                    state: c.state,
                    expires: c.expires,
                });
            }
            log_event(&ev, &self.clock);
            if self.events.active()
                && let Some(event) = to_event(&ev, &self.clock)
            {
                self.events.emit(|| event);
            }
        }
        let mut buf = [0u8; BUF];
        while let Some(t) = self
            .core
            .sans_io()
            .poll_transmit(self.clock.now(), &mut buf)
        {
            if let Some(payload) = buf.get(..t.len) {
                batch.out.push((payload.to_vec(), t, ifindex));
            }
        }
    }

    /// Tells the core which addresses other servers sharing the lease store took or freed.
    async fn refresh(&mut self) {
        if let (Some(store), Core::Server(s)) = (self.leases.as_mut(), &mut self.core) {
            match store.refresh(&self.clock).await {
                Ok(held) => {
                    for h in held {
                        s.hold_elsewhere(h.ip, h.until);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "DHCP lease store not refreshed"),
            }
        }
    }

    /// Commits the batch's lease changes to the store (one `fdatasync` for the journal), then
    /// sends its replies: a client is never ACKed an address the store does not hold yet. If
    /// the commit fails, the replies are dropped (the clients retry) and the changes kept for
    /// the next commit. Addresses a shared store gives to another server are marked taken in
    /// the core, and the replies naming them are withheld: that client asks again and is
    /// offered another address.
    async fn commit(&mut self, batch: &mut Batch) {
        let mut persisted = true;
        let mut elsewhere: Vec<HeldElsewhere> = Vec::new();
        if let (Some(store), Core::Server(s)) = (self.leases.as_mut(), &mut self.core) {
            match store.commit(&batch.changes, &self.clock).await {
                Ok(held) => {
                    batch.changes.clear();
                    elsewhere = held;
                    let (failed, _) = std::mem::take(&mut self.store_failures);
                    if failed > 0 {
                        tracing::info!(failed_commits = failed, "DHCP lease store written again");
                    }
                }
                Err(e) => {
                    persisted = false;
                    let (failed, logged) = &mut self.store_failures;
                    *failed += 1;
                    let now = std::time::Instant::now();
                    if logged.is_none_or(|t| now.duration_since(t) >= STORE_FAILURE_LOG_INTERVAL) {
                        *logged = Some(now);
                        tracing::error!(
                            error = %e, failed_commits = *failed,
                            "DHCP lease store not written: replies withheld, the client will retry"
                        );
                    }
                }
            }
            for h in &elsewhere {
                tracing::warn!(ip = %h.ip, "DHCP address held by another server sharing the lease store: reply withheld, address marked taken");
                s.hold_elsewhere(h.ip, h.until);
            }
            if persisted {
                store.maintain(s.leases(), &self.clock);
            }
        }
        for (payload, t, ifindex) in std::mem::take(&mut batch.out) {
            if !persisted || elsewhere.iter().any(|h| yiaddr(&payload) == Some(h.ip)) {
                continue;
            }
            let sock = match (t.local.map(|l| l.port()), self.s4011.as_ref()) {
                (Some(PXE_PORT), Some(s)) => s,
                _ => &self.s67,
            };
            if let Err(e) = self.send(sock, &payload, t.destination, ifindex).await {
                tracing::warn!(error = %e, destination = ?t.destination, "DHCP send failed");
            }
        }
    }

    async fn send(
        &self,
        sock: &DhcpSocket,
        payload: &[u8],
        dest: Destination,
        ifindex: u32,
    ) -> std::io::Result<usize> {
        let from = self.iface.addr;
        match dest {
            Destination::Unicast(SocketAddr::V4(to)) => sock.send(payload, to, 0, from).await,
            Destination::Unicast(SocketAddr::V6(to)) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("IPv6 destination {to} on a DHCPv4 socket"),
            )),
            Destination::Broadcast { port } => {
                let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, port);
                sock.send(payload, to, ifindex, from).await
            }
            Destination::ToHardware { ip, chaddr, port } => {
                match arp::set_neighbour(sock.raw_fd(), &self.iface.name, ip, chaddr) {
                    Ok(()) => {
                        sock.send(payload, SocketAddrV4::new(ip, port), ifindex, from)
                            .await
                    }
                    Err(e) => {
                        // Every client accepts a broadcast reply (RFC 2131 §4.1).
                        tracing::debug!(error = %e, %ip, mac = %chaddr, "no neighbour entry; broadcasting instead");
                        let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, port);
                        sock.send(payload, to, ifindex, from).await
                    }
                }
            }
        }
    }
}

/// A responder event as a stream event; none for messages that were never ours to answer
/// (other clients on a shared LAN, the other server's traffic), which are only logged at debug.
fn to_event(ev: &DhcpEvent, clock: &Clock) -> Option<Event> {
    let at = SystemTime::now();
    let refused = |mac, why: String| {
        Event::Dhcp(DhcpDecision {
            at,
            mac,
            arch: None,
            firmware: None,
            user_class: None,
            rule: None,
            boot_file: None,
            next_server: None,
            reason: why.clone(),
            refused: Some(why),
        })
    };
    Some(match ev {
        DhcpEvent::Ignored {
            reason:
                IgnoreReason::NotNetbootClient
                | IgnoreReason::UnsupportedMessage(_)
                | IgnoreReason::OtherServer
                | IgnoreReason::WrongPort(_)
                | IgnoreReason::NotRequest,
            ..
        } => return None,
        DhcpEvent::Boot(b) => Event::Dhcp(DhcpDecision {
            at,
            mac: Some(b.client.mac),
            arch: b.client.arch().map(|a| a.to_string()),
            firmware: Some(b.client.firmware.name().to_owned()),
            user_class: b
                .client
                .user_classes
                .first()
                .map(|c| String::from_utf8_lossy(c).into_owned()),
            rule: Some(b.decision.rule_name.clone()),
            boot_file: Some(b.decision.boot_file.clone()),
            // A DHCPv4 decision always names an IPv4 next server.
            next_server: match b.decision.next_server {
                std::net::IpAddr::V4(a) => Some(a),
                std::net::IpAddr::V6(_) => None,
            },
            refused: None,
            reason: b.decision.reason.clone(),
        }),
        DhcpEvent::Ignored { mac, reason } => refused(*mac, format!("{reason:?}")),
        DhcpEvent::Nak {
            mac,
            requested,
            message,
        } => refused(Some(*mac), format!("NAK for {requested}: {message}")),
        DhcpEvent::Lease(c) => Event::Lease(LeaseEvent {
            at,
            mac: c.mac,
            ip: c.ip,
            action: match c.state {
                LeaseState::Offered => LeaseAction::Offered,
                LeaseState::Bound => LeaseAction::Granted,
                LeaseState::Released => LeaseAction::Released,
                LeaseState::Expired => LeaseAction::Expired,
                LeaseState::Declined => LeaseAction::Declined,
            },
            remaining: c.expires.saturating_duration_since(clock.now()),
        }),
        other => refused(None, format!("{other:?}")),
    })
}

/// One log line per DHCP decision, with its reason.
fn log_event(ev: &DhcpEvent, clock: &Clock) {
    match ev {
        DhcpEvent::Boot(b) => tracing::info!(
            mac = %b.client.mac,
            arch = %b.client.arch().map_or_else(|| "unknown".to_owned(), |a| a.to_string()),
            rule = %b.decision.rule_name,
            boot_file = %b.decision.boot_file,
            next_server = %b.decision.next_server,
            reply = ?b.reply,
            "DHCP decision: {}",
            b.decision.reason
        ),
        // Routine on a shared LAN (other clients, the other server's REQUESTs in proxy mode):
        // logged only at debug so the info log stays one line per decision.
        DhcpEvent::Ignored {
            mac,
            reason:
                reason @ (IgnoreReason::NotNetbootClient
                | IgnoreReason::UnsupportedMessage(_)
                | IgnoreReason::OtherServer
                | IgnoreReason::WrongPort(_)
                | IgnoreReason::NotRequest),
        } => tracing::debug!(mac = ?mac, reason = ?reason, "DHCP ignored"),
        DhcpEvent::Ignored { mac, reason } => {
            tracing::info!(mac = ?mac, reason = ?reason, "DHCP ignored");
        }
        DhcpEvent::Lease(c) => tracing::info!(
            mac = ?c.mac,
            // Set when the client is known by an option 61 other than its MAC (e.g. a DUID).
            client_id = ?c.client_id.as_deref().map(|id| ClientKey::from_client_id(id).to_string()),
            ip = %c.ip,
            state = ?c.state,
            expires_unix = clock.to_unix(c.expires) / 1_000_000,
            "DHCP lease"
        ),
        DhcpEvent::Nak {
            mac,
            requested,
            message,
        } => tracing::info!(%mac, %requested, message, "DHCP NAK"),
        other => tracing::info!(event = ?other, "DHCP event"),
    }
}

/// The address a reply offers or acknowledges (`yiaddr`, RFC 2131 §2), if it parses.
fn yiaddr(payload: &[u8]) -> Option<Ipv4Addr> {
    pxe_dhcp::wire::Packet::new_checked(payload)
        .ok()
        .map(|p| p.yiaddr())
}
