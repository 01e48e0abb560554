//! A DHCP server (RFC 2131 §4.3) with address pools, reservations and PXE boot decisions.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::Ipv4Addr;
use core::time::Duration;

use pxe_proto::{Datagram, Instant, MacAddr, SansIo, Transmit};

use super::key::ClientKey;
use super::leases::{Lease, LeaseState, LeaseTable};
use super::reply::{self, Pending};
use super::{ChainWatch, DhcpEvent, IgnoreReason, LeaseChange, OnceMemory, RelayProblem, Stats};
use crate::policy::Policy;
use crate::pxe::{ClientInfo, Firmware};
use crate::wire::{DhcpOption, MessageType, Repr, SERVER_PORT};

/// An inclusive address range to lease from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PoolRange {
    /// First address.
    pub first: Ipv4Addr,
    /// Last address.
    pub last: Ipv4Addr,
}

impl PoolRange {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.first <= ip && ip <= self.last
    }
}

/// A fixed address for one client (ISC dhcpd's `host { hardware ethernet; fixed-address; }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct Reservation {
    /// The client.
    pub mac: MacAddr,
    /// Its address (need not be inside a pool).
    pub ip: Ipv4Addr,
}

/// A network served through relays (RFC 2131 §4.3.1: chosen by the relay's `giaddr`), or the
/// server's own link described in full: ISC dhcpd's `subnet` declaration, Kea's `subnet4`.
/// Settings left empty fall back to the server's ([`ServerConfig`]), except the pools and
/// reservations, which are the subnet's own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Subnet {
    /// The network address.
    pub network: Ipv4Addr,
    /// Its mask (option 1 for its clients).
    pub mask: Ipv4Addr,
    /// Address pools inside the network.
    #[cfg_attr(feature = "serde", serde(default))]
    pub pools: Vec<PoolRange>,
    /// Fixed addresses inside the network, by MAC.
    #[cfg_attr(feature = "serde", serde(default))]
    pub reservations: Vec<Reservation>,
    /// Routers (option 3); empty: the relay's address (`giaddr`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub routers: Vec<Ipv4Addr>,
    /// DNS servers (option 6); empty: the server's.
    #[cfg_attr(feature = "serde", serde(default))]
    pub dns_servers: Vec<Ipv4Addr>,
    /// Domain name (option 15); none: the server's.
    #[cfg_attr(feature = "serde", serde(default))]
    pub domain_name: Option<String>,
    /// Lease time in seconds; none: the server's.
    #[cfg_attr(feature = "serde", serde(default))]
    pub lease_time_secs: Option<u32>,
}

impl Subnet {
    /// Whether `ip` is inside the network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = u32::from(self.mask);
        u32::from(ip) & m == u32::from(self.network) & m
    }
}

/// The settings in effect for one link: a [`Subnet`], or the server's own link.
#[derive(Debug, Clone, Copy)]
struct Scope<'a> {
    mask: Ipv4Addr,
    /// Any address on the link (to compare networks).
    anchor: Ipv4Addr,
    pools: &'a [PoolRange],
    routers: &'a [Ipv4Addr],
    dns_servers: &'a [Ipv4Addr],
    domain_name: Option<&'a str>,
    lease_time_secs: u32,
}

impl Scope<'_> {
    fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = u32::from(self.mask);
        u32::from(ip) & m == u32::from(self.anchor) & m
    }

    fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.anchor) | !u32::from(self.mask))
    }
}

/// Lease server settings (ISC dhcpd's `subnet` declaration).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServerConfig {
    /// This server's address: option 54, default next server, and the link served directly.
    pub server_ip: Ipv4Addr,
    /// Subnet mask (option 1) of every served link.
    pub subnet_mask: Ipv4Addr,
    /// Address pools. A relayed request is served from the pools on the relay's (`giaddr`)
    /// subnet, a direct one from those on `server_ip`'s subnet.
    #[cfg_attr(feature = "serde", serde(default))]
    pub pools: Vec<PoolRange>,
    /// Fixed addresses by MAC.
    #[cfg_attr(feature = "serde", serde(default))]
    pub reservations: Vec<Reservation>,
    /// Lease time in seconds (option 51; T1 = ½, T2 = ⅞ of it).
    #[cfg_attr(feature = "serde", serde(default = "default_lease_time"))]
    pub lease_time_secs: u32,
    /// How long an offered address is held for the client's REQUEST, in seconds.
    #[cfg_attr(feature = "serde", serde(default = "default_offer_hold"))]
    pub offer_hold_secs: u32,
    /// Routers (option 3). Empty: none for direct clients, the relay address for relayed ones.
    #[cfg_attr(feature = "serde", serde(default))]
    pub routers: Vec<Ipv4Addr>,
    /// DNS servers (option 6).
    #[cfg_attr(feature = "serde", serde(default))]
    pub dns_servers: Vec<Ipv4Addr>,
    /// Domain name (option 15).
    #[cfg_attr(feature = "serde", serde(default))]
    pub domain_name: Option<String>,
    /// Also send option 60 `PXEClient` + 43 to plain PXE ROMs. Off by default: iPXE gets them
    /// (it then skips its 2 s proxyDHCP wait), PXE ROMs get a plain offer with `siaddr`/`file`,
    /// which every ROM measured here boots from (EDK2 took 60 without 43 as "ask port 4011").
    #[cfg_attr(feature = "serde", serde(default))]
    pub pxe_vendor_to_rom: bool,
    /// Next server (`siaddr`, the TFTP server) for rules that name none; `server_ip` if `None`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub next_server: Option<Ipv4Addr>,
    /// At most this many client keys (option 61 values, or the hardware address itself) may
    /// hold an active (offered or bound) address on one hardware address; 0: no limit. Keeps one
    /// MAC cycling identifiers from draining the pool. A PXE ROM and iPXE share the hardware
    /// key and an installer and the installed OS may each send a DUID, so 3 is normal. Does not
    /// apply to `hlen` 0 / all-zero `chaddr` (InfiniBand, RFC 4390, where every client shares
    /// it) nor to a reserved MAC (all its identifiers share its one fixed address).
    #[cfg_attr(feature = "serde", serde(default = "default_max_clients_per_mac"))]
    pub max_clients_per_mac: u32,
    /// Whether this server owns every address of its networks (ISC dhcpd's `authoritative`).
    /// Off (the default), an INIT-REBOOT, RENEWING or REBINDING REQUEST for an address this
    /// server does not lease (another network, outside its pools and reservations) or from a
    /// client it has no record of gets no answer, as RFC 2131 §4.3.2 requires so that servers
    /// that do not talk to each other can share a wire (split scopes, a second subnet's server).
    /// On, such a request is NAKed when the address is wrong for the client's network and
    /// ACKed when it is a free address of a pool, so clients move off stale addresses at once.
    #[cfg_attr(feature = "serde", serde(default))]
    pub authoritative: bool,
    /// Networks served through relays (or this link described in full), chosen by `giaddr`
    /// (RFC 2131 §4.3.1) or, for direct clients, by `server_ip`. A subnet containing
    /// `server_ip` replaces the settings above for direct clients.
    #[cfg_attr(feature = "serde", serde(default))]
    pub subnets: Vec<Subnet>,
}

#[cfg(feature = "serde")]
fn default_lease_time() -> u32 {
    3600
}

#[cfg(feature = "serde")]
fn default_offer_hold() -> u32 {
    60
}

/// The default [`ServerConfig::max_clients_per_mac`].
pub const DEFAULT_MAX_CLIENTS_PER_MAC: u32 = 4;

#[cfg(feature = "serde")]
fn default_max_clients_per_mac() -> u32 {
    DEFAULT_MAX_CLIENTS_PER_MAC
}

impl ServerConfig {
    /// Settings for a server at `server_ip` leasing `pool` on a subnet with `subnet_mask`: one
    /// hour leases, offers held 60 s, at most [`DEFAULT_MAX_CLIENTS_PER_MAC`] clients per MAC.
    pub fn new(server_ip: Ipv4Addr, subnet_mask: Ipv4Addr, pool: PoolRange) -> ServerConfig {
        ServerConfig {
            server_ip,
            subnet_mask,
            pools: alloc::vec![pool],
            reservations: Vec::new(),
            lease_time_secs: 3600,
            offer_hold_secs: 60,
            routers: Vec::new(),
            dns_servers: Vec::new(),
            domain_name: None,
            pxe_vendor_to_rom: false,
            next_server: None,
            max_clients_per_mac: DEFAULT_MAX_CLIENTS_PER_MAC,
            authoritative: false,
            subnets: Vec::new(),
        }
    }

    fn same_subnet(&self, a: Ipv4Addr, b: Ipv4Addr) -> bool {
        let m = u32::from(self.subnet_mask);
        u32::from(a) & m == u32::from(b) & m
    }

    /// The settings for the link `link` (a relay's `giaddr`, or `server_ip`): the first
    /// [`Subnet`] containing it, else the server's own link's, else none.
    fn scope(&self, link: Ipv4Addr) -> Option<Scope<'_>> {
        if let Some(n) = self.subnets.iter().find(|n| n.contains(link)) {
            return Some(Scope {
                mask: n.mask,
                anchor: n.network,
                pools: &n.pools,
                routers: &n.routers,
                dns_servers: if n.dns_servers.is_empty() {
                    &self.dns_servers
                } else {
                    &n.dns_servers
                },
                domain_name: n.domain_name.as_deref().or(self.domain_name.as_deref()),
                lease_time_secs: n.lease_time_secs.unwrap_or(self.lease_time_secs),
            });
        }
        // The server's own link, or a relay's link holding one of the server's pools (with
        // the server's mask): the settings above.
        let own = self.same_subnet(link, self.server_ip);
        let pooled = || self.pools.iter().any(|p| self.same_subnet(p.first, link));
        (own || pooled()).then_some(Scope {
            mask: self.subnet_mask,
            anchor: link,
            pools: &self.pools,
            routers: if own { &self.routers } else { &[] },
            dns_servers: &self.dns_servers,
            domain_name: self.domain_name.as_deref(),
            lease_time_secs: self.lease_time_secs,
        })
    }

    /// Every reservation: the server's and its subnets'.
    fn reservations(&self) -> impl Iterator<Item = &Reservation> {
        self.reservations
            .iter()
            .chain(self.subnets.iter().flat_map(|n| n.reservations.iter()))
    }
}

/// A Sans-IO DHCP server: DISCOVER/OFFER, REQUEST (selecting, INIT-REBOOT, renewing,
/// rebinding)/ACK/NAK, RELEASE, DECLINE, INFORM; relays; PXE boot decisions for netboot
/// clients (same [`Policy`] as the proxy).
///
/// Clients are identified by their client identifier (option 61, RFC 2131 §4.2), or `chaddr`
/// when they send none; an identifier `01` + `chaddr` is the same client as none at all (see
/// [`ClientKey`]). Replies echo option 61 (RFC 6842 §3). Reservations go by `chaddr`.
///
/// Invariant: an address is held (offered, bound or declined) by at most one client, and a
/// client holds at most one address; both survive [`LeaseServer::leases`] → serialize →
/// [`LeaseServer::with_leases`]. For saved leases to mean anything after a restart, drive the
/// server with `now` counted from a fixed epoch (Unix time), not from process start.
///
/// A REQUEST without a server identifier (INIT-REBOOT, RENEWING, REBINDING; RFC 2131 §4.3.2)
/// is answered only for an address this server leases (in a pool or reserved, on the client's
/// network) and a client it has a record of, or for an address another client holds here (NAK):
/// a server with no record of the client "MUST remain silent", so that servers that do not
/// talk to each other can share a wire. [`ServerConfig::authoritative`] turns that into ISC
/// dhcpd's `authoritative`: wrong addresses are NAKed, free pool addresses ACKed.
///
/// Choices where RFC 2131 leaves room: a client with a new identifier on a known MAC (a PXE
/// ROM's lease, then
/// the installed OS with a DUID) is offered the MAC's earlier address if nobody holds it any
/// more, and a reserved address goes to whichever identifier of the reserved MAC asks; a
/// declined address is held for one lease time.
#[derive(Debug)]
pub struct LeaseServer {
    cfg: ServerConfig,
    policy: Policy,
    leases: LeaseTable,
    queue: VecDeque<Pending>,
    events: VecDeque<DhcpEvent>,
    once: OnceMemory,
    watch: ChainWatch,
    stats: Stats,
    /// Where the next pool search starts (just after the last address handed out).
    cursor: Option<Ipv4Addr>,
    /// The malformed boot option of the request being handled, if any: it gets an address but
    /// no boot decision.
    bad_boot_option: Option<crate::Error>,
}

/// The client a request is from: who it is (the lease key) and where it is (`chaddr`, which
/// reservations and the boot policy go by).
#[derive(Debug, Clone, Copy)]
struct Client<'a> {
    key: ClientKey<'a>,
    mac: MacAddr,
}

impl<'a> Client<'a> {
    fn of(req: &'a Repr) -> Client<'a> {
        Client {
            key: ClientKey::of(req),
            mac: req.client_mac(),
        }
    }

    /// A record of this client holding `ip`.
    fn lease(self, ip: Ipv4Addr, state: LeaseState, expires: Instant) -> Lease {
        Lease {
            ip,
            mac: Some(self.mac),
            client_id: self.key.client_id_for(self.mac),
            state,
            expires,
        }
    }
}

impl LeaseServer {
    /// A server with no leases.
    pub fn new(cfg: ServerConfig, policy: Policy) -> LeaseServer {
        LeaseServer::with_leases(cfg, policy, LeaseTable::new())
    }

    /// A server that resumes from saved lease state.
    pub fn with_leases(cfg: ServerConfig, policy: Policy, leases: LeaseTable) -> LeaseServer {
        LeaseServer {
            cfg,
            policy,
            leases,
            queue: VecDeque::new(),
            events: VecDeque::new(),
            once: OnceMemory::default(),
            watch: ChainWatch::default(),
            stats: Stats::default(),
            cursor: None,
            bad_boot_option: None,
        }
    }

    /// The lease state, to persist after [`DhcpEvent::Lease`].
    pub fn leases(&self) -> &LeaseTable {
        &self.leases
    }

    /// Marks `ip` as held by another server until `until`: a lease store shared by several
    /// servers refused this server's claim on it. Like a DHCPDECLINE (RFC 2131 §4.3.3) the
    /// address is then held by nobody here, so it is neither offered nor ACKed, and the client
    /// this server had chosen it for is offered another one when it asks again. No
    /// [`DhcpEvent::Lease`] is raised: the store already holds the other server's record.
    pub fn hold_elsewhere(&mut self, ip: Ipv4Addr, until: Instant) {
        self.leases.put(Lease {
            ip,
            mac: None,
            client_id: None,
            state: LeaseState::Declined,
            expires: until,
        });
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The policy, to change in place (e.g. one machine's entry in [`Policy::hosts`]).
    pub fn policy_mut(&mut self) -> &mut Policy {
        &mut self.policy
    }

    /// Replaces the policy (e.g. on a configuration reload).
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// Replaces the reservations (e.g. on a configuration reload). Leases already granted
    /// stay until they end; the new reservations apply to the next DISCOVER or REQUEST.
    pub fn set_reservations(&mut self, reservations: Vec<Reservation>) {
        self.cfg.reservations = reservations;
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn ignore(&mut self, mac: Option<MacAddr>, reason: IgnoreReason) {
        self.stats.ignored += 1;
        self.events.push_back(DhcpEvent::Ignored { mac, reason });
    }

    fn change(&mut self, l: &Lease) {
        self.events.push_back(DhcpEvent::Lease(LeaseChange {
            mac: l.mac,
            client_id: l.client_id.clone(),
            ip: l.ip,
            state: l.state,
            expires: l.expires,
        }));
    }

    /// The address identifying the client's link: the relay's, else our own.
    fn link(&self, req: &Repr) -> Ipv4Addr {
        if req.giaddr.is_unspecified() {
            self.cfg.server_ip
        } else {
            req.giaddr
        }
    }

    /// The client's fixed address on `link`'s network (a machine may have one per network).
    fn reservation_for_mac(&self, mac: MacAddr, link: Ipv4Addr) -> Option<Ipv4Addr> {
        let scope = self.cfg.scope(link)?;
        self.cfg
            .reservations()
            .find(|r| r.mac == mac && scope.contains(r.ip))
            .map(|r| r.ip)
    }

    fn reserved_for_other(&self, ip: Ipv4Addr, mac: MacAddr) -> bool {
        self.cfg.reservations().any(|r| r.ip == ip && r.mac != mac)
    }

    /// Whether `client` would be one client key too many on its hardware address: it holds no
    /// active address while `max_clients_per_mac` other keys of the MAC do. A client already
    /// holding one is never refused (renewals go on), nor is `hlen` 0 / an all-zero `chaddr`
    /// (InfiniBand clients share it, RFC 4390) or a reserved MAC (its one fixed address
    /// is all its identifiers can get).
    fn over_mac_cap(&self, req: &Repr, client: Client<'_>, link: Ipv4Addr, now: Instant) -> bool {
        let cap = self.cfg.max_clients_per_mac;
        if cap == 0
            || req.hlen == 0
            || client.mac == MacAddr([0; 6])
            || self.reservation_for_mac(client.mac, link).is_some()
        {
            return false;
        }
        let holding = |l: &Lease| {
            matches!(l.state, LeaseState::Offered | LeaseState::Bound) && l.is_active(now)
        };
        if self.leases.by_client(client.key).is_some_and(holding) {
            return false;
        }
        // A client key holds at most one active record, so records count keys.
        let others = self
            .leases
            .by_mac(client.mac)
            .filter(|l| holding(l) && l.key() != Some(client.key))
            .count();
        others >= cap as usize
    }

    /// Whether `client` may hold `ip` on `link` at `now`; the error is the NAK message.
    fn check(
        &self,
        client: Client<'_>,
        ip: Ipv4Addr,
        link: Ipv4Addr,
        now: Instant,
    ) -> Result<(), &'static str> {
        let mac = client.mac;
        let Some(scope) = self.cfg.scope(link).filter(|s| s.contains(ip)) else {
            return Err("requested address is not on this network");
        };
        let fixed = self.reservation_for_mac(mac, link);
        if fixed.is_some_and(|f| f != ip) {
            return Err("client has a reserved address");
        }
        if self.reserved_for_other(ip, mac) {
            return Err("address is reserved for another client");
        }
        let reserved_here = fixed == Some(ip);
        if !reserved_here && !scope.pools.iter().any(|p| p.contains(ip)) {
            return Err("address is not in any pool");
        }
        // A reservation belongs to the machine (its MAC), not to one of its client identifiers:
        // the installed OS takes the address its PXE ROM was given, as with dnsmasq.
        if let Some(l) = self.leases.get(ip)
            && l.is_active(now)
            && l.key() != Some(client.key)
            && !(reserved_here && l.mac == Some(mac))
        {
            return Err("address is in use");
        }
        let mask = u32::from(scope.mask);
        let host = u32::from(ip) & !mask;
        if mask < 0xffff_fffe && (host == 0 || host == !mask) {
            return Err("address is the subnet's network or broadcast address");
        }
        if ip == self.cfg.server_ip {
            return Err("address is in use");
        }
        Ok(())
    }

    /// Picks an address for a DISCOVER (RFC 2131 §4.3.1 order: reservation, current or previous
    /// binding, requested address, then the MAC's last address that nobody holds any more, then
    /// a free pool address).
    fn allocate(
        &self,
        client: Client<'_>,
        requested: Option<Ipv4Addr>,
        link: Ipv4Addr,
        now: Instant,
    ) -> Option<Ipv4Addr> {
        if let Some(fixed) = self.reservation_for_mac(client.mac, link) {
            return self.check(client, fixed, link, now).ok().map(|()| fixed);
        }
        let own = self
            .leases
            .by_client(client.key)
            .filter(|l| l.state != LeaseState::Declined)
            .map(|l| l.ip);
        // The same machine with another client identifier (PXE ROM, then an OS sending a DUID)
        // is another client (RFC 2131 §4.2), but its free earlier address is the friendly pick.
        let machine = || {
            self.leases
                .by_mac(client.mac)
                .filter(|l| !l.is_active(now) && l.state != LeaseState::Declined)
                .max_by_key(|l| l.expires)
                .map(|l| l.ip)
        };
        let candidates = own
            .into_iter()
            .chain(requested)
            .chain(core::iter::once_with(machine).flatten());
        for ip in candidates {
            if self.offerable(client, ip, link, now) {
                return Some(ip);
            }
        }
        let scope = self.cfg.scope(link)?;
        let pools: Vec<PoolRange> = scope
            .pools
            .iter()
            .filter(|p| p.first <= p.last && scope.contains(p.first))
            .copied()
            .collect();
        // First a never-used address, then a free record; both searched round-robin from the
        // last allocation, so a busy pool costs a few steps, not a walk from its start.
        for reuse in [false, true] {
            for pool in &pools {
                let start = self
                    .cursor
                    .filter(|c| pool.contains(*c))
                    .unwrap_or(pool.first);
                let before = u32::from(start).checked_sub(1).map(Ipv4Addr::from);
                let mut segments = alloc::vec![(start, pool.last)];
                if let Some(b) = before.filter(|b| *b >= pool.first) {
                    segments.push((pool.first, b));
                }
                for (first, last) in segments {
                    if let Some(ip) = self.scan(client, link, now, first, last, reuse) {
                        return Some(ip);
                    }
                }
            }
        }
        None
    }

    /// Whether `ip` may be offered to `client` on `link` (the relay's address or ours, which
    /// a pool may happen to contain, never is).
    fn offerable(&self, client: Client<'_>, ip: Ipv4Addr, link: Ipv4Addr, now: Instant) -> bool {
        ip != link && self.check(client, ip, link, now).is_ok()
    }

    /// The first usable address in `first..=last`: a never-used one, or (`reuse`) a free record.
    fn scan(
        &self,
        client: Client<'_>,
        link: Ipv4Addr,
        now: Instant,
        first: Ipv4Addr,
        last: Ipv4Addr,
        reuse: bool,
    ) -> Option<Ipv4Addr> {
        if reuse {
            return self
                .leases
                .range(first, last)
                .find(|l| {
                    !l.is_active(now)
                        && l.state != LeaseState::Declined
                        && self.offerable(client, l.ip, link, now)
                })
                .map(|l| l.ip);
        }
        let mut next = u32::from(first);
        let last = u32::from(last);
        let mut records = self.leases.range(first, Ipv4Addr::from(last)).peekable();
        while next <= last {
            let ip = Ipv4Addr::from(next);
            if records.peek().is_some_and(|l| l.ip == ip) {
                records.next();
            } else if self.offerable(client, ip, link, now) {
                return Some(ip);
            }
            next = next.checked_add(1)?;
        }
        None
    }

    fn secs(s: u32) -> Duration {
        Duration::from_secs(u64::from(s))
    }

    /// Network options for an OFFER/ACK (lease times only when `lease`), from the settings of
    /// the client's link (`link`: the relay's, or ours; for a renewing client, its address).
    fn add_network_options(&self, r: &mut Repr, req: &Repr, link: Ipv4Addr, lease: bool) {
        let Some(scope) = self.cfg.scope(link) else {
            return;
        };
        if lease {
            let t = scope.lease_time_secs;
            r.options.push(DhcpOption::IpAddressLeaseTime(t));
            r.options.push(DhcpOption::RenewalTime(t / 2));
            r.options.push(DhcpOption::RebindingTime(t / 8 * 7));
        }
        r.options.push(DhcpOption::SubnetMask(scope.mask));
        let routers = if scope.routers.is_empty() && !req.giaddr.is_unspecified() {
            alloc::vec![req.giaddr]
        } else {
            scope.routers.to_vec()
        };
        if !routers.is_empty() {
            r.options.push(DhcpOption::Router(routers));
        }
        if !scope.dns_servers.is_empty() {
            r.options
                .push(DhcpOption::DomainNameServer(scope.dns_servers.to_vec()));
        }
        if let Some(d) = scope.domain_name {
            r.options
                .push(DhcpOption::DomainName(d.as_bytes().to_vec()));
        }
        r.options
            .push(DhcpOption::BroadcastAddress(scope.broadcast()));
    }

    /// Adds the boot decision for netboot clients; returns it for the event.
    fn add_boot(
        &mut self,
        r: &mut Repr,
        req: &Repr,
        now: Instant,
    ) -> Option<(ClientInfo, crate::policy::BootDecision)> {
        if let Some(e) = self.bad_boot_option {
            self.events.push_back(DhcpEvent::Ignored {
                mac: Some(req.client_mac()),
                reason: IgnoreReason::MalformedBootOption(e),
            });
            return None;
        }
        let client = ClientInfo::from_repr(req);
        if !client.is_netboot() {
            return None;
        }
        let window = self.policy.once_window_secs;
        let once = &self.once;
        let decision = self.policy.decide_with(
            &client,
            self.cfg.next_server.unwrap_or(self.cfg.server_ip),
            |i, rule| rule.once && once.used(client.mac, client.xid, i, now, window),
        );
        let Some(mut decision) = decision else {
            self.events.push_back(DhcpEvent::Ignored {
                mac: Some(client.mac),
                reason: IgnoreReason::NoRule(client.summary()),
            });
            return None;
        };
        if let Some(note) = self.watch.observe(&client, &decision, now) {
            decision.reason.push_str(&note);
        }
        if decision.once {
            self.once
                .record(client.mac, client.xid, decision.rule_index, now, window);
        }
        let vendor = client.firmware == Firmware::Ipxe || self.cfg.pxe_vendor_to_rom;
        reply::apply_boot(r, req, &client, &decision, vendor);
        Some((client, decision))
    }

    fn send(&mut self, mut r: Repr, req: &Repr, nak: bool, port: u16) {
        reply::finish_options(&mut r, req);
        let destination = reply::destination(req, &r, nak);
        // RFC 2131 §4.3.2: a NAK through a relay carries the broadcast bit, so the relay
        // broadcasts it on the client's link.
        if nak && !req.giaddr.is_unspecified() {
            r.flags = r.flags.with_broadcast();
        }
        self.queue.push_back(Pending {
            repr: r,
            destination,
            local: reply::local_addr(self.cfg.server_ip, port),
            max_len: req.max_reply_len(),
        });
    }

    fn nak(&mut self, req: &Repr, requested: Ipv4Addr, message: &'static str, port: u16) {
        let mut r = reply::reply_to(req, MessageType::Nak, self.cfg.server_ip);
        r.options
            .push(DhcpOption::Message(message.as_bytes().to_vec()));
        self.stats.naks += 1;
        self.events.push_back(DhcpEvent::Nak {
            mac: req.client_mac(),
            requested,
            message,
        });
        self.send(r, req, true, port);
    }

    fn bind_and_ack(&mut self, req: &Repr, ip: Ipv4Addr, link: Ipv4Addr, now: Instant, port: u16) {
        let lease_time = self
            .cfg
            .scope(link)
            .map_or(self.cfg.lease_time_secs, |s| s.lease_time_secs);
        let expires = now + Self::secs(lease_time);
        let lease = Client::of(req).lease(ip, LeaseState::Bound, expires);
        self.change(&lease);
        self.leases.put(lease);
        let mut r = reply::reply_to(req, MessageType::Ack, self.cfg.server_ip);
        r.yiaddr = ip;
        r.ciaddr = req.ciaddr;
        self.add_network_options(&mut r, req, link, true);
        let boot = self.add_boot(&mut r, req, now);
        self.stats.acks += 1;
        self.send(r, req, false, port);
        if let Some((client, decision)) = boot {
            self.events
                .push_back(DhcpEvent::boot(client, decision, MessageType::Ack));
        }
    }

    fn handle(&mut self, now: Instant, dgram: &Datagram<'_>) {
        let req = match reply::parse_request(dgram.payload, &mut self.stats) {
            Ok((r, bad_boot)) => {
                self.bad_boot_option = bad_boot;
                r
            }
            Err((mac, reason)) => return self.ignore(mac, reason),
        };
        let mac = req.client_mac();
        if self.policy.ignores(mac) {
            return self.ignore(Some(mac), IgnoreReason::HostIgnored);
        }
        let client = Client::of(&req);
        let port = dgram.local.port();
        if port != SERVER_PORT {
            return self.ignore(Some(mac), IgnoreReason::WrongPort(port));
        }
        if let Some(problem) = self.relay_problem(req.giaddr) {
            return self.ignore(
                Some(mac),
                IgnoreReason::InvalidRelay {
                    giaddr: req.giaddr,
                    problem,
                },
            );
        }
        let link = self.link(&req);
        match req.message_type() {
            Some(MessageType::Discover) => {
                if self.over_mac_cap(&req, client, link, now) {
                    return self.ignore(Some(mac), IgnoreReason::TooManyClientsPerMac);
                }
                let Some(ip) = self.allocate(client, req.requested_ip(), link, now) else {
                    let reason = match self.cfg.scope(link) {
                        Some(s) if s.pools.is_empty() => IgnoreReason::NoPool(link),
                        Some(_) => IgnoreReason::PoolExhausted,
                        None => IgnoreReason::NoPool(link),
                    };
                    // A reserved client that may not have its address is not an empty pool.
                    let reason = if self.reservation_for_mac(mac, link).is_some() {
                        IgnoreReason::ReservationUnavailable
                    } else {
                        reason
                    };
                    return self.ignore(Some(mac), reason);
                };
                self.cursor = u32::from(ip).checked_add(1).map(Ipv4Addr::from);
                // An address already bound to this client stays bound while offered again.
                let bound = self.leases.get(ip).is_some_and(|l| {
                    l.key() == Some(client.key) && l.state == LeaseState::Bound && l.is_active(now)
                });
                if !bound {
                    let hold = now + Self::secs(self.cfg.offer_hold_secs);
                    let lease = client.lease(ip, LeaseState::Offered, hold);
                    if self.leases.get(ip) != Some(&lease) {
                        self.change(&lease);
                    }
                    self.leases.put(lease);
                }
                let mut r = reply::reply_to(&req, MessageType::Offer, self.cfg.server_ip);
                r.yiaddr = ip;
                self.add_network_options(&mut r, &req, link, true);
                let boot = self.add_boot(&mut r, &req, now);
                self.stats.offers += 1;
                self.send(r, &req, false, port);
                if let Some((client, decision)) = boot {
                    self.events
                        .push_back(DhcpEvent::boot(client, decision, MessageType::Offer));
                }
            }
            Some(MessageType::Request) => self.request(&req, link, now, port),
            // RFC 2131 §4.4.1 (table 5) and §4.4.6: DECLINE and RELEASE carry the identifier of
            // the server that made the binding; one naming another server is not ours to act on
            // (§4.3.3, §4.3.4).
            Some(MessageType::Release | MessageType::Decline)
                if req
                    .server_identifier()
                    .is_some_and(|id| id != self.cfg.server_ip) =>
            {
                self.ignore(Some(mac), IgnoreReason::OtherServer)
            }
            // RELEASE (RFC 2131 §4.3.4) and DECLINE (§4.3.3) act only for the client holding
            // the address, told apart by its identifier as everywhere (§4.2).
            Some(MessageType::Release) => {
                let ip = req.ciaddr;
                match self.held_by(client, ip) {
                    Some(mut l) => {
                        l.state = LeaseState::Released;
                        l.expires = now;
                        self.change(&l);
                        self.leases.put(l);
                    }
                    None => self.ignore(Some(mac), IgnoreReason::UnknownBinding),
                }
            }
            Some(MessageType::Decline) => {
                let ip = req.requested_ip().unwrap_or(req.ciaddr);
                match self.held_by(client, ip) {
                    Some(_) => {
                        let held = Lease {
                            ip,
                            mac: None,
                            client_id: None,
                            state: LeaseState::Declined,
                            expires: now + Self::secs(self.cfg.lease_time_secs),
                        };
                        self.change(&held);
                        self.leases.put(held);
                    }
                    None => self.ignore(Some(mac), IgnoreReason::UnknownBinding),
                }
            }
            // RFC 2131 §4.3.5: configuration only; no lease time, yiaddr 0, sent to ciaddr.
            Some(MessageType::Inform) => {
                let mut r = reply::reply_to(&req, MessageType::Ack, self.cfg.server_ip);
                r.ciaddr = req.ciaddr;
                // Not relayed, the client's own address names its network (§4.3.5).
                let link = if req.giaddr.is_unspecified() && !req.ciaddr.is_unspecified() {
                    req.ciaddr
                } else {
                    link
                };
                self.add_network_options(&mut r, &req, link, false);
                let boot = self.add_boot(&mut r, &req, now);
                self.stats.acks += 1;
                self.send(r, &req, false, port);
                if let Some((client, decision)) = boot {
                    self.events
                        .push_back(DhcpEvent::boot(client, decision, MessageType::Ack));
                }
            }
            other => self.ignore(Some(mac), IgnoreReason::UnsupportedMessage(other)),
        }
    }

    /// The record of `client` holding (offered or bound) `ip`, to change.
    fn held_by(&self, client: Client<'_>, ip: Ipv4Addr) -> Option<Lease> {
        self.leases
            .get(ip)
            .filter(|l| {
                l.key() == Some(client.key)
                    && matches!(l.state, LeaseState::Offered | LeaseState::Bound)
            })
            .cloned()
    }

    /// Why a relay's address (`giaddr`, RFC 2131 §4.1) cannot be answered, or `None` when it
    /// can (or there is none). Replies go to `giaddr`: ours would loop them back to this server,
    /// a broadcast, multicast or loopback address would spray or lose them, and each would
    /// hold a pool address for nothing; a relay on no configured network has no pool.
    fn relay_problem(&self, giaddr: Ipv4Addr) -> Option<RelayProblem> {
        if giaddr.is_unspecified() {
            return None;
        }
        let scope = self.cfg.scope(giaddr);
        Some(if giaddr == self.cfg.server_ip {
            RelayProblem::OwnAddress
        } else if giaddr.is_broadcast() || scope.is_some_and(|s| s.broadcast() == giaddr) {
            RelayProblem::Broadcast
        } else if giaddr.is_multicast() {
            RelayProblem::Multicast
        } else if giaddr.is_loopback() {
            RelayProblem::Loopback
        } else if scope.is_none() {
            RelayProblem::NoSubnet
        } else {
            return None;
        })
    }

    /// Why a REQUEST without a server identifier (INIT-REBOOT, RENEWING, REBINDING) for `ip`
    /// is not this server's to answer, or `None` when it is (RFC 2131 §4.3.2: a server with no
    /// record of the client "MUST remain silent"). Never refuses with
    /// [`ServerConfig::authoritative`] on. An address another client holds here is always
    /// answered (NAKed): it is ours, and taken.
    fn not_ours_to_answer(
        &self,
        client: Client<'_>,
        ip: Ipv4Addr,
        link: Ipv4Addr,
        now: Instant,
    ) -> Option<IgnoreReason> {
        if self.cfg.authoritative {
            return None;
        }
        let reserved = self.cfg.reservations().any(|r| r.ip == ip);
        let ours = self.cfg.scope(link).is_some_and(|s| {
            s.contains(ip) && (reserved || s.pools.iter().any(|p| p.contains(ip)))
        });
        if !ours {
            return Some(IgnoreReason::NotOurAddress(ip));
        }
        let held_by_other = self
            .leases
            .get(ip)
            .is_some_and(|l| l.is_active(now) && l.key() != Some(client.key));
        let known = self.leases.by_client(client.key).is_some()
            || self.reservation_for_mac(client.mac, link).is_some();
        if known || held_by_other {
            None
        } else {
            Some(IgnoreReason::UnknownClient(ip))
        }
    }

    /// RFC 2131 §4.3.2.
    fn request(&mut self, req: &Repr, link: Ipv4Addr, now: Instant, port: u16) {
        let mac = req.client_mac();
        let client = Client::of(req);
        match req.server_identifier() {
            Some(id) if id != self.cfg.server_ip => {
                // SELECTING another server's offer: drop ours.
                if let Some(l) = self.leases.by_client(client.key)
                    && l.state == LeaseState::Offered
                {
                    let mut l = l.clone();
                    l.state = LeaseState::Expired;
                    l.expires = now;
                    self.change(&l);
                    self.leases.put(l);
                }
                self.ignore(Some(mac), IgnoreReason::OtherServer);
            }
            Some(_) => {
                // SELECTING our offer.
                let ip = req.requested_ip().unwrap_or(req.ciaddr);
                let offered = self
                    .leases
                    .get(ip)
                    .is_some_and(|l| l.key() == Some(client.key) && l.is_active(now));
                match self.check(client, ip, link, now) {
                    Ok(()) if offered => self.bind_and_ack(req, ip, link, now, port),
                    Ok(()) => self.nak(req, ip, "offer expired or not made", port),
                    Err(m) => self.nak(req, ip, m, port),
                }
            }
            None => {
                // INIT-REBOOT (ciaddr 0, option 50) or RENEWING/REBINDING (ciaddr set).
                let ip = if req.ciaddr.is_unspecified() {
                    match req.requested_ip() {
                        Some(ip) => ip,
                        None => {
                            return self.ignore(
                                Some(mac),
                                IgnoreReason::UnsupportedMessage(Some(MessageType::Request)),
                            );
                        }
                    }
                } else {
                    req.ciaddr
                };
                // A renewing client unicasts straight to us (no relay): its own address names
                // its link.
                let link = if !req.ciaddr.is_unspecified() && req.giaddr.is_unspecified() {
                    req.ciaddr
                } else {
                    link
                };
                if let Some(reason) = self.not_ours_to_answer(client, ip, link, now) {
                    return self.ignore(Some(mac), reason);
                }
                // RFC 2131 §4.3.2: first the network, then "the client's notion of its IP
                // address" against the record: a client bound here to another address is told so.
                let bound_elsewhere = self.leases.by_client(client.key).is_some_and(|l| {
                    l.state == LeaseState::Bound && l.is_active(now) && l.ip != ip
                });
                match self.check(client, ip, link, now) {
                    Ok(()) if bound_elsewhere => {
                        self.nak(req, ip, "client is bound to another address", port)
                    }
                    Ok(()) if self.over_mac_cap(req, client, link, now) => self.nak(
                        req,
                        ip,
                        "too many client identifiers hold addresses on this hardware address",
                        port,
                    ),
                    Ok(()) => self.bind_and_ack(req, ip, link, now, port),
                    Err(m) => self.nak(req, ip, m, port),
                }
            }
        }
    }
}

impl SansIo for LeaseServer {
    type Event = DhcpEvent;

    fn handle_datagram(&mut self, now: Instant, dgram: Datagram<'_>) {
        self.handle(now, &dgram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        for l in self.leases.expire(now) {
            self.change(&l);
        }
        self.once.expire(now, self.policy.once_window_secs);
        self.watch.expire(now);
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        reply::transmit(&mut self.queue, &mut self.events, &mut self.stats, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.leases.next_expiry(),
            self.once.next_deadline(self.policy.once_window_secs),
            self.watch.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_event(&mut self) -> Option<DhcpEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Op, OptionCode};
    use alloc::vec;
    use core::net::{IpAddr, SocketAddr};

    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
    const MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0x77, 0, 1]);
    const MAC2: MacAddr = MacAddr([0x52, 0x54, 0, 0x77, 0, 2]);
    /// What iPXE sends: hardware type 1 and the MAC (RFC 2132 §9.14).
    const IPXE_ID: &[u8] = &[1, 0x52, 0x54, 0, 0x77, 0, 1];
    /// What an installed OS may send: `ff`, IAID, DUID-LLT (RFC 4361 §6.1).
    const DUID_ID: &[u8] = &[
        0xff, 0, 0, 0, 1, 0, 1, 0, 1, 0x2a, 0x2b, 0x2c, 0x2d, 0x52, 0x54, 0, 0x77, 0, 1,
    ];
    const T: Instant = Instant::from_secs(1000);

    fn server() -> LeaseServer {
        let pool = PoolRange {
            first: Ipv4Addr::new(10, 77, 0, 100),
            last: Ipv4Addr::new(10, 77, 0, 110),
        };
        let mask = Ipv4Addr::new(255, 255, 255, 0);
        LeaseServer::new(ServerConfig::new(SERVER, mask, pool), Policy::default())
    }

    fn msg(mt: MessageType, mac: MacAddr, id: Option<&[u8]>) -> Repr {
        let mut r = Repr::new(Op::BootRequest, 7, mac);
        r.options.push(DhcpOption::MessageType(mt));
        if let Some(id) = id {
            r.options.push(DhcpOption::ClientIdentifier(id.to_vec()));
        }
        r
    }

    /// Feeds `req` at `now`; returns the replies and the events.
    fn send(s: &mut LeaseServer, now: Instant, req: &Repr) -> (Vec<Repr>, Vec<DhcpEvent>) {
        let mut bytes = vec![0u8; 1500];
        let n = req.emit(&mut bytes).expect("emit");
        let from = SocketAddr::new(IpAddr::V4(req.ciaddr), 68);
        let to = SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), SERVER_PORT);
        s.handle_datagram(now, Datagram::new(from, to, &bytes[..n]));
        let mut out = Vec::new();
        let mut buf = [0u8; 1500];
        while let Some(t) = s.poll_transmit(now, &mut buf) {
            out.push(Repr::parse_bytes(&buf[..t.len]).expect("reply parses"));
        }
        let events = core::iter::from_fn(|| s.poll_event()).collect();
        (out, events)
    }

    fn only(out: Vec<Repr>, mt: MessageType) -> Repr {
        assert_eq!(out.len(), 1, "{out:?}");
        let r = out.into_iter().next().expect("one reply");
        assert_eq!(r.message_type(), Some(mt), "{r:?}");
        r
    }

    fn discover(s: &mut LeaseServer, now: Instant, mac: MacAddr, id: Option<&[u8]>) -> Ipv4Addr {
        let (out, _) = send(s, now, &msg(MessageType::Discover, mac, id));
        only(out, MessageType::Offer).yiaddr
    }

    /// REQUEST in SELECTING, INIT-REBOOT (`ciaddr` 0, no server id) or RENEWING (`ciaddr`).
    fn request(mac: MacAddr, id: Option<&[u8]>, ip: Ipv4Addr, state: &str) -> Repr {
        let mut r = msg(MessageType::Request, mac, id);
        match state {
            "selecting" => r.options.extend([
                DhcpOption::ServerIdentifier(SERVER),
                DhcpOption::RequestedIpAddress(ip),
            ]),
            "init-reboot" => r.options.push(DhcpOption::RequestedIpAddress(ip)),
            _ => r.ciaddr = ip,
        }
        r
    }

    /// DISCOVER, OFFER, REQUEST, ACK; the bound address.
    fn dora(s: &mut LeaseServer, now: Instant, mac: MacAddr, id: Option<&[u8]>) -> Ipv4Addr {
        let ip = discover(s, now, mac, id);
        let (out, _) = send(s, now, &request(mac, id, ip, "selecting"));
        assert_eq!(only(out, MessageType::Ack).yiaddr, ip);
        ip
    }

    fn active(s: &LeaseServer, now: Instant) -> Vec<(Ipv4Addr, Option<MacAddr>, Option<Vec<u8>>)> {
        s.leases()
            .iter()
            .filter(|l| l.is_active(now))
            .map(|l| (l.ip, l.mac, l.client_id.clone()))
            .collect()
    }

    #[test]
    fn an_address_held_by_another_server_is_neither_acked_nor_offered() {
        let mut s = server();
        let ip = discover(&mut s, T, MAC, None);
        // A shared lease store gave `ip` to another server's client meanwhile.
        let until = Instant::from_secs(2000);
        s.hold_elsewhere(ip, until);
        let (out, events) = send(&mut s, T, &request(MAC, None, ip, "selecting"));
        assert!(
            out.iter()
                .all(|r| r.message_type() != Some(MessageType::Ack)),
            "{out:?}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, DhcpEvent::Lease(c) if c.state == LeaseState::Bound)),
            "{events:?}"
        );
        assert_ne!(discover(&mut s, T, MAC, None), ip);
        // When the other server's hold ends the address is free again.
        assert!(s.leases().get(ip).is_some_and(|l| !l.is_active(until)));
    }

    #[test]
    fn no_identifier_and_htype_plus_chaddr_are_one_client() {
        let mut s = server();
        // iPXE sends 01 + MAC; the installed OS sends nothing: one lease.
        let ip = dora(&mut s, T, MAC, Some(IPXE_ID));
        assert_eq!(dora(&mut s, T, MAC, None), ip);
        let (out, _) = send(&mut s, T, &request(MAC, None, ip, "renewing"));
        only(out, MessageType::Ack);
        assert_eq!(active(&s, T), [(ip, Some(MAC), None)]);
        // And back: the firmware on the next boot, in INIT-REBOOT.
        let (out, _) = send(&mut s, T, &request(MAC, Some(IPXE_ID), ip, "init-reboot"));
        only(out, MessageType::Ack);
        assert_eq!(s.leases().len(), 1);
    }

    #[test]
    fn same_identifier_on_another_chaddr_is_the_same_client() {
        let mut s = server();
        let ip = dora(&mut s, T, MAC, Some(DUID_ID));
        // RFC 2131 §4.2: the identifier, not chaddr, names the client (a moved NIC, a bond).
        assert_eq!(discover(&mut s, T, MAC2, Some(DUID_ID)), ip);
        let (out, _) = send(&mut s, T, &request(MAC2, Some(DUID_ID), ip, "init-reboot"));
        only(out, MessageType::Ack);
        assert_eq!(active(&s, T), [(ip, Some(MAC2), Some(DUID_ID.to_vec()))]);
        // Without the identifier, that chaddr is somebody else.
        let (out, _) = send(&mut s, T, &request(MAC2, None, ip, "init-reboot"));
        only(out, MessageType::Nak);
    }

    #[test]
    fn same_chaddr_with_another_identifier_is_another_client() {
        let mut s = server();
        let firmware = dora(&mut s, T, MAC, Some(IPXE_ID));
        let os = dora(&mut s, T, MAC, Some(DUID_ID));
        assert_ne!(firmware, os, "the firmware's binding is still active");
        assert_eq!(
            active(&s, T),
            [
                (firmware, Some(MAC), None),
                (os, Some(MAC), Some(DUID_ID.to_vec())),
            ]
        );
        // Neither may take the other's address.
        let (out, ev) = send(
            &mut s,
            T,
            &request(MAC, Some(DUID_ID), firmware, "init-reboot"),
        );
        only(out, MessageType::Nak);
        assert!(matches!(
            ev[..],
            [DhcpEvent::Nak {
                message: "address is in use",
                ..
            }]
        ));
        let (out, _) = send(&mut s, T, &request(MAC, None, os, "renewing"));
        only(out, MessageType::Nak);
    }

    #[test]
    fn release_and_decline_go_by_the_identifier() {
        let mut s = server();
        let ip = dora(&mut s, T, MAC, Some(DUID_ID));
        let release = |id: Option<&[u8]>| {
            let mut r = msg(MessageType::Release, MAC, id);
            r.ciaddr = ip;
            r
        };
        // The same chaddr without the identifier does not hold the address.
        let (_, ev) = send(&mut s, T, &release(None));
        assert!(matches!(
            ev[..],
            [DhcpEvent::Ignored {
                reason: IgnoreReason::UnknownBinding,
                ..
            }]
        ));
        let (_, ev) = send(&mut s, T, &release(Some(IPXE_ID)));
        assert!(matches!(
            ev[..],
            [DhcpEvent::Ignored {
                reason: IgnoreReason::UnknownBinding,
                ..
            }]
        ));
        assert_eq!(s.leases().get(ip).map(|l| l.state), Some(LeaseState::Bound));
        let (_, ev) = send(&mut s, T, &release(Some(DUID_ID)));
        assert!(matches!(
            &ev[..],
            [DhcpEvent::Lease(LeaseChange { state: LeaseState::Released, client_id: Some(id), .. })]
                if id == DUID_ID
        ));

        let ip = dora(&mut s, T, MAC, Some(DUID_ID));
        let decline = |id: Option<&[u8]>| {
            let mut r = msg(MessageType::Decline, MAC, id);
            r.options.push(DhcpOption::RequestedIpAddress(ip));
            r
        };
        let (_, ev) = send(&mut s, T, &decline(None));
        assert!(matches!(
            ev[..],
            [DhcpEvent::Ignored {
                reason: IgnoreReason::UnknownBinding,
                ..
            }]
        ));
        send(&mut s, T, &decline(Some(DUID_ID)));
        let l = s.leases().get(ip).expect("declined record");
        assert_eq!(
            (l.state, l.mac, l.key()),
            (LeaseState::Declined, None, None)
        );
        assert_ne!(discover(&mut s, T, MAC, Some(DUID_ID)), ip);
    }

    #[test]
    fn another_identifier_on_a_known_mac_gets_its_free_earlier_address() {
        let mut s = server();
        let firmware = dora(&mut s, T, MAC, Some(IPXE_ID));
        // Another machine takes the next address, so the pool's never-used ones come after.
        dora(&mut s, T, MAC2, None);
        let later = T + Duration::from_secs(3600);
        s.handle_timeout(later);
        assert_eq!(
            s.leases().get(firmware).map(|l| l.state),
            Some(LeaseState::Expired)
        );
        assert_eq!(dora(&mut s, later, MAC, Some(DUID_ID)), firmware);
        // The firmware is now the newcomer, and the OS holds that address.
        assert_ne!(discover(&mut s, later, MAC, Some(IPXE_ID)), firmware);
    }

    #[test]
    fn a_reservation_follows_the_mac_across_identifiers() {
        let mut s = server();
        let fixed = Ipv4Addr::new(10, 77, 0, 50);
        s.cfg.reservations.push(Reservation {
            mac: MAC,
            ip: fixed,
        });
        assert_eq!(dora(&mut s, T, MAC, Some(IPXE_ID)), fixed);
        // The installed OS, with a DUID, while the firmware's binding is still active.
        assert_eq!(dora(&mut s, T, MAC, Some(DUID_ID)), fixed);
        assert_eq!(active(&s, T), [(fixed, Some(MAC), Some(DUID_ID.to_vec()))]);
        // Reservations go by MAC: not for the same identifier on another MAC.
        let (out, ev) = send(
            &mut s,
            T,
            &request(MAC2, Some(DUID_ID), fixed, "init-reboot"),
        );
        only(out, MessageType::Nak);
        assert!(matches!(
            ev[..],
            [DhcpEvent::Nak {
                message: "address is reserved for another client",
                ..
            }]
        ));
    }

    #[test]
    fn replies_echo_the_client_identifier() {
        let mut s = server();
        let echoed = |r: &Repr| match r.option(OptionCode::ClientIdentifier) {
            Some(DhcpOption::ClientIdentifier(id)) => Some(id.clone()),
            _ => None,
        };
        // RFC 6842 §3: OFFER, ACK and NAK carry option 61 unaltered; none when none was sent.
        for id in [Some(DUID_ID), Some(IPXE_ID), Some(&[0][..]), None] {
            let mac = MacAddr([0x52, 0x54, 0, 0x77, 1, id.map_or(0, <[u8]>::len) as u8]);
            let (out, _) = send(&mut s, T, &msg(MessageType::Discover, mac, id));
            let offer = only(out, MessageType::Offer);
            assert_eq!(echoed(&offer).as_deref(), id);
            let (out, _) = send(&mut s, T, &request(mac, id, offer.yiaddr, "selecting"));
            assert_eq!(echoed(&only(out, MessageType::Ack)).as_deref(), id);
            // Bound here, asking for another pool address: a NAK (RFC 2131 §4.3.2).
            let wrong = Ipv4Addr::new(10, 77, 0, 110);
            let (out, _) = send(&mut s, T, &request(mac, id, wrong, "init-reboot"));
            assert_eq!(echoed(&only(out, MessageType::Nak)).as_deref(), id);
        }
    }

    /// Identifier `n` of a MAC cycling DUIDs.
    fn duid(n: u8) -> Vec<u8> {
        vec![0xff, 0, 0, 0, n, 0, 3, 0, 1, 9, 9]
    }

    /// `cap` clients on `MAC` (the hardware key and DUIDs 1..cap), each bound.
    fn fill(s: &mut LeaseServer, cap: u8) {
        dora(s, T, MAC, None);
        for n in 1..cap {
            dora(s, T, MAC, Some(&duid(n)));
        }
    }

    fn ignored(events: &[DhcpEvent]) -> Vec<&IgnoreReason> {
        events
            .iter()
            .filter_map(|e| match e {
                DhcpEvent::Ignored { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn cap_reached_ignores_discover_and_naks_request() {
        let mut s = server();
        fill(&mut s, 4);
        let new = duid(9);
        let (out, ev) = send(&mut s, T, &msg(MessageType::Discover, MAC, Some(&new)));
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(ignored(&ev), [&IgnoreReason::TooManyClientsPerMac]);
        let free = Ipv4Addr::new(10, 77, 0, 109);
        // A client without a record here gets no answer (RFC 2131 §4.3.2) ...
        let (out, ev) = send(&mut s, T, &request(MAC, Some(&new), free, "init-reboot"));
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(ignored(&ev), [&IgnoreReason::UnknownClient(free)]);
        // ... an authoritative server answers, and the cap makes that a NAK.
        s.cfg.authoritative = true;
        let (out, _) = send(&mut s, T, &request(MAC, Some(&new), free, "init-reboot"));
        let nak = only(out, MessageType::Nak);
        assert!(matches!(
            nak.option(OptionCode::Message),
            Some(DhcpOption::Message(m)) if m.starts_with(b"too many client identifiers")
        ));
        let (out, _) = send(&mut s, T, &request(MAC, Some(&new), free, "renewing"));
        only(out, MessageType::Nak);
        assert_eq!(active(&s, T).len(), 4);
    }

    #[test]
    fn cap_never_refuses_a_client_holding_an_address() {
        let mut s = server();
        fill(&mut s, 4);
        let one = duid(1);
        let ip = s
            .leases()
            .by_client(ClientKey::from_client_id(&one))
            .map(|l| l.ip)
            .expect("bound");
        assert_eq!(discover(&mut s, T, MAC, Some(&one)), ip);
        for state in ["selecting", "init-reboot", "renewing"] {
            let (out, _) = send(&mut s, T, &request(MAC, Some(&one), ip, state));
            assert_eq!(only(out, MessageType::Ack).yiaddr, ip, "{state}");
        }
        // The hardware key too, in its `01` + MAC form.
        let (out, _) = send(
            &mut s,
            T,
            &request(
                MAC,
                Some(IPXE_ID),
                Ipv4Addr::new(10, 77, 0, 100),
                "init-reboot",
            ),
        );
        only(out, MessageType::Ack);
    }

    #[test]
    fn cap_counts_per_mac() {
        let mut s = server();
        fill(&mut s, 4);
        dora(&mut s, T, MAC2, None);
        dora(&mut s, T, MAC2, Some(&duid(9)));
        assert_eq!(active(&s, T).len(), 6);
    }

    #[test]
    fn cap_zero_is_unlimited() {
        let mut s = server();
        s.cfg.max_clients_per_mac = 0;
        fill(&mut s, 8);
        assert_eq!(active(&s, T).len(), 8);
    }

    #[test]
    fn cap_exempts_hlen_zero_and_all_zero_chaddr() {
        let zero = MacAddr([0; 6]);
        for (mac, hlen) in [(zero, 0), (zero, 6), (MAC2, 0)] {
            let mut s = server();
            for n in 1..=6 {
                let mut d = msg(MessageType::Discover, mac, Some(&duid(n)));
                d.hlen = hlen;
                let (out, _) = send(&mut s, T, &d);
                only(out, MessageType::Offer);
            }
            assert_eq!(active(&s, T).len(), 6, "{mac} hlen {hlen}");
        }
    }

    #[test]
    fn cap_exempts_a_reserved_mac() {
        let mut s = server();
        let fixed = Ipv4Addr::new(10, 77, 0, 50);
        s.cfg.reservations.push(Reservation {
            mac: MAC,
            ip: fixed,
        });
        for n in 1..=6 {
            assert_eq!(discover(&mut s, T, MAC, Some(&duid(n))), fixed);
        }
    }

    #[test]
    fn expired_records_free_the_slot() {
        let mut s = server();
        fill(&mut s, 4);
        let new = duid(9);
        let later = T + Duration::from_secs(3600);
        // Still refused a second before the bindings end, with or without the timer run.
        let before = later - Duration::from_secs(1);
        let (out, _) = send(&mut s, before, &msg(MessageType::Discover, MAC, Some(&new)));
        assert!(out.is_empty());
        // An OFFER whose hold ran out counts no more either.
        discover(&mut s, later, MAC, Some(&new));
        let hold = later + Duration::from_secs(60);
        assert_eq!(active(&s, hold).len(), 0);
        s.handle_timeout(hold);
        for n in 10..14 {
            dora(&mut s, hold, MAC, Some(&duid(n)));
        }
        let (out, _) = send(&mut s, hold, &msg(MessageType::Discover, MAC, Some(&new)));
        assert!(out.is_empty());
    }

    #[test]
    fn a_released_address_frees_the_slot() {
        let mut s = server();
        fill(&mut s, 4);
        let one = duid(1);
        let ip = s
            .leases()
            .by_client(ClientKey::from_client_id(&one))
            .map(|l| l.ip)
            .expect("bound");
        let mut rel = msg(MessageType::Release, MAC, Some(&one));
        rel.ciaddr = ip;
        send(&mut s, T, &rel);
        dora(&mut s, T, MAC, Some(&duid(9)));
    }

    /// What a server answers to one REQUEST of RFC 2131 §4.3.2's table.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Answer {
        Ack,
        Nak,
        /// No reply; the `Ignored` reason, by name.
        Silent(&'static str),
    }

    fn reason_name(r: &IgnoreReason) -> &'static str {
        match r {
            IgnoreReason::NotOurAddress(_) => "not-our-address",
            IgnoreReason::UnknownClient(_) => "unknown-client",
            IgnoreReason::OtherServer => "other-server",
            IgnoreReason::InvalidRelay { .. } => "invalid-relay",
            _ => "other",
        }
    }

    /// Every case of RFC 2131 §4.3.2 (and table 4's client states), against a server holding
    /// 10.77.0.100-110 that shares 10.77.0.0/24 with a server leasing 10.77.0.20-60; each
    /// case answered by a server as shipped (`authoritative = false`) and by an authoritative one.
    #[test]
    fn rfc2131_4_3_2_request_table() {
        use Answer::{Ack, Nak, Silent};
        const KNOWN: MacAddr = MacAddr([0x52, 0x54, 0, 0x77, 0, 0x11]);
        const OTHER: MacAddr = MacAddr([0x52, 0x54, 0, 0x77, 0, 0x12]);
        const STRANGER: MacAddr = MacAddr([0x52, 0x54, 0, 0x77, 0, 0x13]);
        const RESERVED: MacAddr = MacAddr([0x52, 0x54, 0, 0x77, 0, 0x14]);
        const FRESH: MacAddr = MacAddr([0x52, 0x54, 0, 0x77, 0, 0x15]);
        let ip = |n| Ipv4Addr::new(10, 77, 0, n);
        let neighbour = ip(30);
        let elsewhere = Ipv4Addr::new(192, 168, 5, 5);
        let relay = Ipv4Addr::new(10, 88, 0, 1);
        struct Case {
            what: &'static str,
            state: &'static str,
            mac: MacAddr,
            ip: Ipv4Addr,
            giaddr: Option<Ipv4Addr>,
            want: Answer,
            want_authoritative: Answer,
        }
        let case = |what, state, mac, ip, want, want_authoritative| Case {
            what,
            state,
            mac,
            ip,
            giaddr: None,
            want,
            want_authoritative,
        };
        let table = [
            // SELECTING: the server identifier says whose offer it is.
            case(
                "selecting our offer",
                "selecting-offered",
                FRESH,
                ip(0),
                Ack,
                Ack,
            ),
            case(
                "selecting an offer never made",
                "selecting",
                STRANGER,
                ip(105),
                Nak,
                Nak,
            ),
            case(
                "selecting another server's offer",
                "selecting-other",
                STRANGER,
                neighbour,
                Silent("other-server"),
                Silent("other-server"),
            ),
            // INIT-REBOOT: requested address, no server identifier, ciaddr 0.
            case(
                "init-reboot, known client, its address",
                "init-reboot",
                KNOWN,
                ip(100),
                Ack,
                Ack,
            ),
            case(
                "init-reboot, known client, another free pool address",
                "init-reboot",
                KNOWN,
                ip(105),
                Nak,
                Nak,
            ),
            case(
                "init-reboot, known client, the neighbour's range",
                "init-reboot",
                KNOWN,
                neighbour,
                Silent("not-our-address"),
                Nak,
            ),
            case(
                "init-reboot, known client, another network",
                "init-reboot",
                KNOWN,
                elsewhere,
                Silent("not-our-address"),
                Nak,
            ),
            case(
                "init-reboot, unknown client, free pool address",
                "init-reboot",
                STRANGER,
                ip(106),
                Silent("unknown-client"),
                Ack,
            ),
            case(
                "init-reboot, unknown client, the neighbour's range",
                "init-reboot",
                STRANGER,
                neighbour,
                Silent("not-our-address"),
                Nak,
            ),
            case(
                "init-reboot, unknown client, another network",
                "init-reboot",
                STRANGER,
                elsewhere,
                Silent("not-our-address"),
                Nak,
            ),
            case(
                "init-reboot, unknown client, an address held here",
                "init-reboot",
                STRANGER,
                ip(101),
                Nak,
                Nak,
            ),
            case(
                "init-reboot, unknown client, another's reservation",
                "init-reboot",
                STRANGER,
                ip(50),
                Silent("unknown-client"),
                Nak,
            ),
            case(
                "init-reboot, reserved client, its reservation",
                "init-reboot",
                RESERVED,
                ip(50),
                Ack,
                Ack,
            ),
            case(
                "init-reboot, reserved client, a pool address",
                "init-reboot",
                RESERVED,
                ip(107),
                Nak,
                Nak,
            ),
            // RENEWING: unicast to this server, ciaddr set.
            case(
                "renewing, known client, its address",
                "renewing",
                KNOWN,
                ip(100),
                Ack,
                Ack,
            ),
            case(
                "renewing, unknown client, the neighbour's range",
                "renewing",
                STRANGER,
                neighbour,
                Silent("not-our-address"),
                Nak,
            ),
            case(
                "renewing, unknown client, free pool address",
                "renewing",
                STRANGER,
                ip(108),
                Silent("unknown-client"),
                Ack,
            ),
            // REBINDING: broadcast, ciaddr set.
            case(
                "rebinding, known client, its address",
                "rebinding",
                KNOWN,
                ip(100),
                Ack,
                Ack,
            ),
            case(
                "rebinding, known client, an address held by another",
                "rebinding",
                KNOWN,
                ip(101),
                Nak,
                Nak,
            ),
            case(
                "rebinding, unknown client, the neighbour's range",
                "rebinding",
                STRANGER,
                neighbour,
                Silent("not-our-address"),
                Nak,
            ),
            case(
                "rebinding, unknown client, free pool address",
                "rebinding",
                STRANGER,
                ip(109),
                Silent("unknown-client"),
                Ack,
            ),
            Case {
                giaddr: Some(Ipv4Addr::new(10, 89, 0, 1)),
                ..case(
                    "init-reboot via a relay on no configured network",
                    "init-reboot",
                    STRANGER,
                    Ipv4Addr::new(10, 89, 0, 5),
                    Silent("invalid-relay"),
                    Silent("invalid-relay"),
                )
            },
            Case {
                giaddr: Some(relay),
                ..case(
                    "init-reboot via a relay, unknown client, free address of its subnet",
                    "init-reboot",
                    STRANGER,
                    Ipv4Addr::new(10, 88, 0, 105),
                    Silent("unknown-client"),
                    Ack,
                )
            },
            Case {
                giaddr: Some(relay),
                ..case(
                    "init-reboot via a relay, an address of the server's network",
                    "init-reboot",
                    STRANGER,
                    ip(106),
                    Silent("not-our-address"),
                    Nak,
                )
            },
        ];
        for authoritative in [false, true] {
            for c in &table {
                let mut s = server();
                s.cfg.authoritative = authoritative;
                s.cfg.subnets.push(Subnet {
                    network: Ipv4Addr::new(10, 88, 0, 0),
                    mask: Ipv4Addr::new(255, 255, 255, 0),
                    pools: vec![PoolRange {
                        first: Ipv4Addr::new(10, 88, 0, 100),
                        last: Ipv4Addr::new(10, 88, 0, 110),
                    }],
                    reservations: Vec::new(),
                    routers: Vec::new(),
                    dns_servers: Vec::new(),
                    domain_name: None,
                    lease_time_secs: None,
                });
                s.cfg.reservations.push(Reservation {
                    mac: RESERVED,
                    ip: ip(50),
                });
                assert_eq!(dora(&mut s, T, KNOWN, None), ip(100));
                assert_eq!(dora(&mut s, T, OTHER, None), ip(101));
                let mut req = match c.state {
                    "selecting-offered" => {
                        let offered = discover(&mut s, T, c.mac, None);
                        request(c.mac, None, offered, "selecting")
                    }
                    "selecting-other" => {
                        let mut r = msg(MessageType::Request, c.mac, None);
                        r.options.extend([
                            DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 77, 0, 2)),
                            DhcpOption::RequestedIpAddress(c.ip),
                        ]);
                        r
                    }
                    "rebinding" => {
                        let mut r = request(c.mac, None, c.ip, "renewing");
                        r.flags = r.flags.with_broadcast();
                        r
                    }
                    state => request(c.mac, None, c.ip, state),
                };
                if let Some(g) = c.giaddr {
                    req.giaddr = g;
                }
                let (out, events) = send(&mut s, T, &req);
                let got = match out.as_slice() {
                    [] => Silent(
                        events
                            .iter()
                            .find_map(|e| match e {
                                DhcpEvent::Ignored { reason, .. } => Some(reason_name(reason)),
                                _ => None,
                            })
                            .unwrap_or("no event"),
                    ),
                    [r] if r.message_type() == Some(MessageType::Ack) => Ack,
                    [r] if r.message_type() == Some(MessageType::Nak) => Nak,
                    more => panic!("{}: {more:?}", c.what),
                };
                let want = if authoritative {
                    c.want_authoritative
                } else {
                    c.want
                };
                assert_eq!(got, want, "{} (authoritative = {authoritative})", c.what);
                // Whatever the answer, the other clients' bindings stand.
                let bound = |m| {
                    s.leases()
                        .by_client(ClientKey::Hardware(m))
                        .map(|l| (l.ip, l.state))
                };
                assert_eq!(
                    bound(OTHER),
                    Some((ip(101), LeaseState::Bound)),
                    "{}",
                    c.what
                );
            }
        }
    }

    /// A PXE ROM's DISCOVER whose option 93 is `data` (well-formed: two bytes per arch).
    fn pxe_discover(mac: MacAddr, arch93: &[u8]) -> Repr {
        let mut r = msg(MessageType::Discover, mac, None);
        r.options.extend([
            DhcpOption::VendorClassIdentifier(b"PXEClient:Arch:00000:UNDI:002001".to_vec()),
            DhcpOption::Unknown {
                code: 93,
                data: arch93.to_vec(),
            },
        ]);
        r
    }

    #[test]
    fn a_malformed_pxe_option_costs_the_boot_file_not_the_address() {
        let mut s = server();
        let (out, _) = send(&mut s, T, &pxe_discover(MAC, &[0, 0]));
        let good = only(out, MessageType::Offer);
        assert!(good.file.starts_with(b"undionly.kpxe"), "{good:?}");
        for (n, bad) in [&[0u8][..], &[], &[0, 7, 0]].into_iter().enumerate() {
            let mac = MacAddr([0x52, 0x54, 0, 0x77, 2, n as u8]);
            let (out, events) = send(&mut s, T, &pxe_discover(mac, bad));
            let offer = only(out, MessageType::Offer);
            assert!(!offer.yiaddr.is_unspecified());
            assert!(
                offer.file.iter().all(|&b| b == 0),
                "no boot file: {offer:?}"
            );
            assert!(offer.option(OptionCode::BootfileName).is_none());
            assert!(
                matches!(
                    ignored(&events)[..],
                    [IgnoreReason::MalformedBootOption(
                        crate::Error::MalformedOption { code: 93, .. }
                    )]
                ),
                "{events:?}"
            );
            let (out, _) = send(&mut s, T, &request(mac, None, offer.yiaddr, "selecting"));
            only(out, MessageType::Ack);
        }
        // The options the exchange needs stay strict: a bad requested address drops the message.
        let mut r = msg(MessageType::Discover, MAC2, None);
        r.options.push(DhcpOption::Unknown {
            code: 50,
            data: vec![10, 77],
        });
        let (out, events) = send(&mut s, T, &r);
        assert!(out.is_empty());
        assert!(matches!(ignored(&events)[..], [IgnoreReason::Malformed(_)]));
    }

    #[test]
    fn relayed_clients_get_their_subnets_settings_and_bad_relays_a_reason() {
        let mut s = server();
        let mask = Ipv4Addr::new(255, 255, 255, 0);
        s.cfg.subnets = vec![
            Subnet {
                network: Ipv4Addr::new(10, 88, 0, 0),
                mask,
                pools: vec![PoolRange {
                    first: Ipv4Addr::new(10, 88, 0, 1),
                    last: Ipv4Addr::new(10, 88, 0, 3),
                }],
                reservations: Vec::new(),
                routers: Vec::new(),
                dns_servers: vec![Ipv4Addr::new(10, 88, 0, 53)],
                domain_name: Some("far".into()),
                lease_time_secs: Some(7200),
            },
            Subnet {
                network: Ipv4Addr::new(10, 90, 0, 0),
                mask,
                pools: Vec::new(),
                reservations: Vec::new(),
                routers: Vec::new(),
                dns_servers: Vec::new(),
                domain_name: None,
                lease_time_secs: None,
            },
        ];
        let relay = Ipv4Addr::new(10, 88, 0, 1);
        let agent = DhcpOption::RelayAgentInformation(vec![1, 3, b'p', b'1', b'2']);
        let mut d = msg(MessageType::Discover, MAC, None);
        d.giaddr = relay;
        d.options.push(agent.clone());
        let (out, _) = send(&mut s, T, &d);
        let offer = only(out, MessageType::Offer);
        // The relay's own address, though inside the pool, is never offered.
        assert_eq!(offer.yiaddr, Ipv4Addr::new(10, 88, 0, 2));
        assert_eq!(offer.giaddr, relay);
        assert_eq!(
            offer.option(OptionCode::Router),
            Some(&DhcpOption::Router(vec![relay]))
        );
        assert_eq!(
            offer.option(OptionCode::SubnetMask),
            Some(&DhcpOption::SubnetMask(mask))
        );
        assert_eq!(
            offer.option(OptionCode::IpAddressLeaseTime),
            Some(&DhcpOption::IpAddressLeaseTime(7200))
        );
        assert_eq!(
            offer.option(OptionCode::DomainName),
            Some(&DhcpOption::DomainName(b"far".to_vec()))
        );
        assert_eq!(
            offer.options.last(),
            Some(&agent),
            "option 82 echoed last (RFC 3046 §2.2)"
        );
        let mut r = request(MAC, None, offer.yiaddr, "selecting");
        r.giaddr = relay;
        let (out, _) = send(&mut s, T, &r);
        let ack = only(out, MessageType::Ack);
        let lease = s.leases().get(ack.yiaddr).expect("bound");
        assert_eq!(lease.expires, T + Duration::from_secs(7200));

        for (giaddr, want) in [
            (
                SERVER,
                IgnoreReason::InvalidRelay {
                    giaddr: SERVER,
                    problem: RelayProblem::OwnAddress,
                },
            ),
            (
                Ipv4Addr::BROADCAST,
                IgnoreReason::InvalidRelay {
                    giaddr: Ipv4Addr::BROADCAST,
                    problem: RelayProblem::Broadcast,
                },
            ),
            (
                Ipv4Addr::new(10, 88, 0, 255),
                IgnoreReason::InvalidRelay {
                    giaddr: Ipv4Addr::new(10, 88, 0, 255),
                    problem: RelayProblem::Broadcast,
                },
            ),
            (
                Ipv4Addr::new(224, 0, 0, 9),
                IgnoreReason::InvalidRelay {
                    giaddr: Ipv4Addr::new(224, 0, 0, 9),
                    problem: RelayProblem::Multicast,
                },
            ),
            (
                Ipv4Addr::LOCALHOST,
                IgnoreReason::InvalidRelay {
                    giaddr: Ipv4Addr::LOCALHOST,
                    problem: RelayProblem::Loopback,
                },
            ),
            (
                Ipv4Addr::new(10, 99, 0, 1),
                IgnoreReason::InvalidRelay {
                    giaddr: Ipv4Addr::new(10, 99, 0, 1),
                    problem: RelayProblem::NoSubnet,
                },
            ),
            (
                Ipv4Addr::new(10, 90, 0, 1),
                IgnoreReason::NoPool(Ipv4Addr::new(10, 90, 0, 1)),
            ),
        ] {
            let mut d = msg(MessageType::Discover, MAC2, None);
            d.giaddr = giaddr;
            let before = s.leases().len();
            let (out, events) = send(&mut s, T, &d);
            assert!(out.is_empty(), "{giaddr}: {out:?}");
            assert_eq!(ignored(&events), [&want], "{giaddr}");
            assert_eq!(s.leases().len(), before, "{giaddr}: no address held");
        }
    }
}
