//! A stateful DHCPv6 server (RFC 8415 §18.3): IA_NA addresses from a range, Rapid Commit, and
//! boot options for network-boot clients.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv6Addr};
use core::time::Duration;

use pxe_proto::{Datagram, Instant, SansIo, Transmit};

use super::leases::{Lease6, Lease6State, Lease6Table};
use super::{
    Dhcp6Event, Ignore6, Lease6Change, Outbox, Stats6, boot_options, dns_option, reply_to,
    unicast_from_client, validate,
};
use crate::policy::{BootDecision, Policy};
use crate::pxe::ClientInfo;
use crate::responder::OnceMemory;
use crate::v6::{Dhcp6Option, Duid, IaAddress, IaNa, Message, MessageType, Status, StatusCode};

/// Stateful server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServerConfig {
    /// This server's DUID (Server Identifier).
    pub server_duid: Duid,
    /// The address boot URLs name (this host's TFTP/HTTP service on the link).
    pub server_addr: Ipv6Addr,
    /// The link's prefix: addresses in it are on-link (Confirm, Rebind).
    pub prefix: Ipv6Addr,
    /// The prefix length.
    pub prefix_len: u8,
    /// First address to lease (inside the prefix).
    pub range_first: Ipv6Addr,
    /// Last address to lease.
    pub range_last: Ipv6Addr,
    /// Preferred lifetime in seconds; T1 and T2 are 0.5 and 0.8 of it (RFC 8415 §21.4).
    #[cfg_attr(feature = "serde", serde(default = "default_preferred"))]
    pub preferred_secs: u32,
    /// Valid lifetime in seconds.
    #[cfg_attr(feature = "serde", serde(default = "default_valid"))]
    pub valid_secs: u32,
    /// How long an advertised address is held for the client's Request, in seconds.
    #[cfg_attr(feature = "serde", serde(default = "default_hold"))]
    pub advertise_hold_secs: u32,
    /// Answer a Solicit carrying Rapid Commit with a Reply that binds at once (RFC 8415
    /// §18.3.1).
    #[cfg_attr(feature = "serde", serde(default = "default_true"))]
    pub rapid_commit: bool,
    /// DNS servers sent to clients that ask (option 23).
    #[cfg_attr(feature = "serde", serde(default))]
    pub dns_servers: Vec<Ipv6Addr>,
    /// Server preference (option 7) in Advertises; 255 makes clients take this server's at once
    /// (RFC 8415 §18.2.1).
    #[cfg_attr(feature = "serde", serde(default))]
    pub preference: Option<u8>,
}

#[cfg(feature = "serde")]
fn default_preferred() -> u32 {
    3600
}
#[cfg(feature = "serde")]
fn default_valid() -> u32 {
    7200
}
#[cfg(feature = "serde")]
fn default_hold() -> u32 {
    60
}
#[cfg(feature = "serde")]
fn default_true() -> bool {
    true
}

impl ServerConfig {
    /// A server at `server_addr` leasing `first..=last` on `prefix/prefix_len`: preferred
    /// lifetime 1 h, valid 2 h, Advertises held 60 s, Rapid Commit on.
    pub fn new(
        server_duid: Duid,
        server_addr: Ipv6Addr,
        prefix: Ipv6Addr,
        prefix_len: u8,
        range_first: Ipv6Addr,
        range_last: Ipv6Addr,
    ) -> ServerConfig {
        ServerConfig {
            server_duid,
            server_addr,
            prefix,
            prefix_len,
            range_first,
            range_last,
            preferred_secs: 3600,
            valid_secs: 7200,
            advertise_hold_secs: 60,
            rapid_commit: true,
            dns_servers: Vec::new(),
            preference: None,
        }
    }

    /// Whether `addr` is inside the link's prefix.
    pub fn on_link(&self, addr: Ipv6Addr) -> bool {
        crate::v6::prefix_contains(self.prefix, self.prefix_len, addr)
    }

    /// Whether `addr` is in the leasing range.
    pub fn in_range(&self, addr: Ipv6Addr) -> bool {
        self.range_first <= addr && addr <= self.range_last && self.on_link(addr)
    }

    fn t1(&self) -> u32 {
        self.preferred_secs / 2
    }

    fn t2(&self) -> u32 {
        self.preferred_secs / 5 * 4
    }
}

/// Addresses tried per allocation: a /64 range is never walked whole.
const MAX_PROBES: u128 = 4096;

/// A Sans-IO stateful DHCPv6 server.
///
/// - Solicit → Advertise with an address per IA_NA (held [`ServerConfig::advertise_hold_secs`]),
///   or with Rapid Commit (client asks, server allows) → Reply that binds (§18.3.1);
/// - Request → Reply binding them (§18.3.2); Renew / Rebind → Reply extending them (§18.3.4,
///   §18.3.5; Renew of an unknown IA gets NoBinding, Rebind of a free in-range address rebinds
///   it, any other address gets lifetimes 0); Release / Decline → Reply with Success, the
///   addresses freed or held as declined (§18.3.7, §18.3.8); Confirm → Success or NotOnLink
///   (§18.3.3); Information-request → Reply with options (§18.3.6).
/// - Network-boot clients also get the [`Policy`]'s boot URL (option 59) in their Advertise and
///   Reply to Solicit, Request and Information-request.
/// - RFC 8415 §16: messages without the required identifiers, or for another server, are
///   dropped; Solicit/Confirm/Rebind/Information-request sent to a unicast address are dropped,
///   Request/Renew/Release/Decline get UseMulticast (this server sends no Server Unicast).
///
/// Addresses are chosen per (DUID, IAID): the IA's current address, else a free address the
/// client hints, else the first free one from a point hashed from the DUID and IAID (so a client
/// that loses its state still tends to get its old address). As with the DHCPv4 server, drive it
/// with `now` counted from a fixed epoch for saved leases to mean anything after a restart.
#[derive(Debug)]
pub struct Server {
    cfg: ServerConfig,
    policy: Policy,
    leases: Lease6Table,
    out: Outbox,
    once: OnceMemory,
    advertised: BTreeMap<Vec<u8>, (usize, Instant)>,
}

enum IaAction {
    /// Solicit without Rapid Commit: hold for the Request.
    Advertise,
    /// Request, or Solicit with Rapid Commit: bind.
    Bind,
}

impl Server {
    /// A server with no leases.
    pub fn new(cfg: ServerConfig, policy: Policy) -> Server {
        Server::with_leases(cfg, policy, Lease6Table::new())
    }

    /// A server starting from saved leases.
    pub fn with_leases(cfg: ServerConfig, policy: Policy, leases: Lease6Table) -> Server {
        Server {
            cfg,
            policy,
            leases,
            out: Outbox::default(),
            once: OnceMemory::default(),
            advertised: BTreeMap::new(),
        }
    }

    /// The leases, for the driver to persist after a [`Dhcp6Event::Lease`].
    pub fn leases(&self) -> &Lease6Table {
        &self.leases
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Replaces the policy (e.g. on a configuration reload).
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// Counters.
    pub fn stats(&self) -> &Stats6 {
        &self.out.stats
    }

    fn secs(s: u32) -> Duration {
        Duration::from_secs(u64::from(s))
    }

    fn set_lease(&mut self, lease: Lease6) {
        self.out.events.push_back(Dhcp6Event::Lease(Lease6Change {
            duid: lease.duid.clone(),
            iaid: lease.iaid,
            address: lease.address,
            state: Some(lease.state),
            expires: lease.expires,
        }));
        self.leases.insert(lease);
    }

    fn free_lease(&mut self, addr: Ipv6Addr, now: Instant) {
        if let Some(l) = self.leases.remove(addr) {
            self.out.events.push_back(Dhcp6Event::Lease(Lease6Change {
                duid: l.duid,
                iaid: l.iaid,
                address: l.address,
                state: None,
                expires: now,
            }));
        }
    }

    /// Whether `addr` may go to the IA (`duid`, `iaid`).
    fn free_for(&self, addr: Ipv6Addr, duid: &[u8], iaid: u32, now: Instant) -> bool {
        match self.leases.get(addr) {
            None => true,
            Some(l) if !l.is_active(now) => true,
            Some(l) => l.state != Lease6State::Declined && l.duid == duid && l.iaid == iaid,
        }
    }

    fn allocate(&self, duid: &[u8], ia: &IaNa, now: Instant) -> Option<Ipv6Addr> {
        if let Some(l) = self.leases.by_ia(duid, ia.iaid)
            && l.state != Lease6State::Declined
            && self.cfg.in_range(l.address)
        {
            return Some(l.address);
        }
        if let Some(a) = ia
            .addresses
            .iter()
            .map(|a| a.address)
            .find(|&a| self.cfg.in_range(a) && self.free_for(a, duid, ia.iaid, now))
        {
            return Some(a);
        }
        let first = u128::from(self.cfg.range_first);
        let last = u128::from(self.cfg.range_last);
        let size = last.checked_sub(first)?.saturating_add(1);
        // FNV-1a over the DUID and IAID: a stable starting point per IA.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in duid.iter().chain(&ia.iaid.to_be_bytes()) {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        let start = u128::from(h) % size;
        let probes = size.min(MAX_PROBES + self.leases.len() as u128);
        (0..probes)
            .map(|i| Ipv6Addr::from(first + (start + i) % size))
            .find(|&a| self.cfg.in_range(a) && self.free_for(a, duid, ia.iaid, now))
    }

    fn address(&self, addr: Ipv6Addr) -> IaAddress {
        IaAddress::new(addr, self.cfg.preferred_secs, self.cfg.valid_secs)
    }

    fn ia_with_status(iaid: u32, status: Status, message: &str) -> IaNa {
        let mut ia = IaNa::new(iaid, 0, 0);
        ia.status = Some(StatusCode::new(status, message));
        ia
    }

    /// Solicit / Request: an address per IA.
    fn assign(&mut self, duid: &[u8], req: &Message, action: &IaAction, now: Instant) -> Vec<IaNa> {
        let mut out = Vec::new();
        for ia in req.ia_nas() {
            let Some(addr) = self.allocate(duid, ia, now) else {
                out.push(Self::ia_with_status(
                    ia.iaid,
                    Status::NoAddrsAvail,
                    "no addresses available",
                ));
                continue;
            };
            let (state, hold) = match action {
                IaAction::Advertise => (Lease6State::Advertised, self.cfg.advertise_hold_secs),
                IaAction::Bind => (Lease6State::Bound, self.cfg.valid_secs),
            };
            // An Advertise never shortens a binding the IA already has.
            let bound = self
                .leases
                .get(addr)
                .filter(|l| l.state == Lease6State::Bound && l.is_active(now));
            if !(matches!(action, IaAction::Advertise) && bound.is_some()) {
                self.set_lease(Lease6 {
                    duid: duid.to_vec(),
                    iaid: ia.iaid,
                    address: addr,
                    state,
                    expires: now + Self::secs(hold),
                });
            }
            let mut r = IaNa::new(ia.iaid, self.cfg.t1(), self.cfg.t2());
            r.addresses.push(self.address(addr));
            out.push(r);
        }
        out
    }

    /// Renew / Rebind: extend the IA's binding.
    fn extend(&mut self, duid: &[u8], req: &Message, rebind: bool, now: Instant) -> Vec<IaNa> {
        let mut out = Vec::new();
        let ias: Vec<IaNa> = req.ia_nas().cloned().collect();
        for ia in ias {
            let bound = self
                .leases
                .by_ia(duid, ia.iaid)
                .filter(|l| l.state == Lease6State::Bound && self.cfg.in_range(l.address))
                .map(|l| l.address);
            let addr = bound.or_else(|| {
                // Rebind: the server may take over a binding it has no record of (§18.3.5)
                // for a free address in its range.
                rebind
                    .then(|| {
                        ia.addresses
                            .iter()
                            .map(|a| a.address)
                            .find(|&a| self.cfg.in_range(a) && self.free_for(a, duid, ia.iaid, now))
                    })
                    .flatten()
            });
            let Some(addr) = addr else {
                if !rebind || ia.addresses.is_empty() {
                    out.push(Self::ia_with_status(
                        ia.iaid,
                        Status::NoBinding,
                        "no binding for this IA",
                    ));
                } else {
                    // Not ours to extend: tell the client to stop using them (§18.3.5).
                    let mut r = IaNa::new(ia.iaid, 0, 0);
                    r.addresses = ia
                        .addresses
                        .iter()
                        .map(|a| IaAddress::new(a.address, 0, 0))
                        .collect();
                    out.push(r);
                }
                continue;
            };
            self.set_lease(Lease6 {
                duid: duid.to_vec(),
                iaid: ia.iaid,
                address: addr,
                state: Lease6State::Bound,
                expires: now + Self::secs(self.cfg.valid_secs),
            });
            let mut r = IaNa::new(ia.iaid, self.cfg.t1(), self.cfg.t2());
            r.addresses.push(self.address(addr));
            // Addresses the client has that are not its binding: lifetimes 0 (§18.3.4).
            r.addresses.extend(
                ia.addresses
                    .iter()
                    .filter(|a| a.address != addr)
                    .map(|a| IaAddress::new(a.address, 0, 0)),
            );
            out.push(r);
        }
        out
    }

    /// Release / Decline: free or hold the IA's addresses; IAs with none of ours get NoBinding.
    fn give_back(&mut self, duid: &[u8], req: &Message, decline: bool, now: Instant) -> Vec<IaNa> {
        let mut out = Vec::new();
        let ias: Vec<IaNa> = req.ia_nas().cloned().collect();
        for ia in ias {
            let mut found = false;
            for a in &ia.addresses {
                let ours = self
                    .leases
                    .get(a.address)
                    .is_some_and(|l| l.duid == duid && l.iaid == ia.iaid);
                if !ours {
                    continue;
                }
                found = true;
                if decline {
                    self.set_lease(Lease6 {
                        duid: duid.to_vec(),
                        iaid: ia.iaid,
                        address: a.address,
                        state: Lease6State::Declined,
                        expires: now + Self::secs(self.cfg.valid_secs),
                    });
                } else {
                    self.free_lease(a.address, now);
                }
            }
            if !found {
                out.push(Self::ia_with_status(
                    ia.iaid,
                    Status::NoBinding,
                    "no binding for this IA",
                ));
            }
        }
        out
    }

    fn decide(
        &mut self,
        client: &ClientInfo,
        duid: &[u8],
        new_exchange: bool,
        now: Instant,
    ) -> Option<BootDecision> {
        if !client.is_netboot() {
            return None;
        }
        let window = self.policy.once_window_secs;
        let advertised = self.advertised.get(duid).map(|&(rule, _)| rule);
        let once = &self.once;
        let decision = self
            .policy
            .decide_with(client, self.cfg.server_addr, |i, r| {
                r.once
                    && if new_exchange {
                        once.used(client.mac, client.xid, i, now, window)
                    } else {
                        advertised != Some(i)
                    }
            });
        match &decision {
            Some(d) if new_exchange => {
                if d.once {
                    self.once
                        .record(client.mac, client.xid, d.rule_index, now, window);
                }
                self.advertised.insert(duid.to_vec(), (d.rule_index, now));
            }
            None => self
                .out
                .ignore(client_duid(client), Ignore6::NoRule(client.summary())),
            _ => {}
        }
        decision
    }

    fn handle(&mut self, now: Instant, dgram: &Datagram<'_>) {
        let Some(env) = self.out.parse(dgram.payload) else {
            return;
        };
        let req = &env.message;
        let duid = req.client_id();
        if let Err(why) = validate(req, &self.cfg.server_duid) {
            return self.out.ignore(duid, why);
        }
        let key = duid.map(Duid::to_bytes).unwrap_or_default();
        if unicast_from_client(&env, dgram.local.ip()) {
            match req.msg_type {
                MessageType::Request
                | MessageType::Renew
                | MessageType::Release
                | MessageType::Decline => {
                    // §18.4: "the server MUST send back a Reply message with a Status Code
                    // option containing a status code of UseMulticast".
                    let mut r = reply_to(req, MessageType::Reply, &self.cfg.server_duid);
                    r.options.push(Dhcp6Option::StatusCode(StatusCode::new(
                        Status::UseMulticast,
                        "send to ff02::1:2",
                    )));
                    return self.out.send(&env, dgram.remote, r);
                }
                _ => return self.out.ignore(duid, Ignore6::Unicast),
            }
        }
        let source = match dgram.remote.ip() {
            IpAddr::V6(a) => a,
            IpAddr::V4(a) => a.to_ipv6_mapped(),
        };
        let client = ClientInfo::from_v6(&env, source);
        let rapid =
            req.msg_type == MessageType::Solicit && self.cfg.rapid_commit && req.rapid_commit();
        let (reply_type, boot) = match req.msg_type {
            MessageType::Solicit if rapid => (MessageType::Reply, true),
            MessageType::Solicit => (MessageType::Advertise, true),
            MessageType::Request | MessageType::InformationRequest => (MessageType::Reply, true),
            _ => (MessageType::Reply, false),
        };
        let mut r = reply_to(req, reply_type, &self.cfg.server_duid);
        let ias = match req.msg_type {
            MessageType::Solicit if rapid => {
                r.options.push(Dhcp6Option::RapidCommit(()));
                self.assign(&key, req, &IaAction::Bind, now)
            }
            MessageType::Solicit => self.assign(&key, req, &IaAction::Advertise, now),
            MessageType::Request => self.assign(&key, req, &IaAction::Bind, now),
            MessageType::Renew => self.extend(&key, req, false, now),
            MessageType::Rebind => self.extend(&key, req, true, now),
            MessageType::Release | MessageType::Decline => {
                let decline = req.msg_type == MessageType::Decline;
                let ias = self.give_back(&key, req, decline, now);
                r.options.push(Dhcp6Option::StatusCode(StatusCode::new(
                    Status::Success,
                    if decline {
                        "decline received"
                    } else {
                        "release received"
                    },
                )));
                ias
            }
            MessageType::Confirm => {
                let mut addrs = req.ia_nas().flat_map(|ia| ia.addresses.iter()).peekable();
                if addrs.peek().is_none() {
                    return self.out.ignore(duid, Ignore6::NothingToConfirm);
                }
                let on_link = addrs.all(|a| self.cfg.on_link(a.address));
                r.options.push(Dhcp6Option::StatusCode(if on_link {
                    StatusCode::new(Status::Success, "all addresses still on link")
                } else {
                    StatusCode::new(Status::NotOnLink, "some addresses are not on link")
                }));
                Vec::new()
            }
            _ => Vec::new(),
        };
        r.options.extend(ias.into_iter().map(Dhcp6Option::IaNa));
        if let (MessageType::Advertise, Some(p)) = (reply_type, self.cfg.preference) {
            r.options.push(Dhcp6Option::Preference(p));
        }
        dns_option(&mut r, req, &self.cfg.dns_servers);
        let decision = if boot {
            let new_exchange = req.msg_type != MessageType::Request;
            self.decide(&client, &key, new_exchange, now)
        } else {
            None
        };
        if let Some(d) = &decision {
            boot_options(&mut r, &client, d);
        }
        self.out.send(&env, dgram.remote, r);
        if let Some(d) = decision {
            self.out.boot(client, d, reply_type);
        }
    }

    fn expire(&mut self, now: Instant) {
        let window = self.policy.once_window_secs;
        self.once.expire(now, window);
        let w = Self::secs(window);
        self.advertised.retain(|_, &mut (_, at)| now < at + w);
        for l in self.leases.expire(now) {
            self.out.events.push_back(Dhcp6Event::Lease(Lease6Change {
                duid: l.duid,
                iaid: l.iaid,
                address: l.address,
                state: None,
                expires: l.expires,
            }));
        }
    }
}

fn client_duid(c: &ClientInfo) -> Option<&Duid> {
    match &c.family {
        crate::pxe::Family::V6 { duid, .. } => duid.as_ref(),
        crate::pxe::Family::V4 { .. } => None,
    }
}

impl SansIo for Server {
    type Event = Dhcp6Event;

    fn handle_datagram(&mut self, now: Instant, dgram: Datagram<'_>) {
        self.handle(now, &dgram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.out.transmit(buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let w = Self::secs(self.policy.once_window_secs);
        [
            self.once.next_deadline(self.policy.once_window_secs),
            self.advertised.values().map(|&(_, at)| at + w).min(),
            self.leases.next_expiry(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_event(&mut self) -> Option<Dhcp6Event> {
        self.out.events.pop_front()
    }
}
