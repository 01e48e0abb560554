//! Boot options only: the DHCPv6 counterpart of proxyDHCP, for links whose router (SLAAC) or
//! DHCPv6 server already configures addresses.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::Ipv6Addr;

use pxe_proto::{Datagram, Instant, SansIo, Transmit};

use super::{
    Dhcp6Event, Ignore6, Outbox, Stats6, boot_options, dns_option, reply_to, unicast_from_client,
    validate,
};
use crate::policy::Policy;
use crate::pxe::ClientInfo;
use crate::responder::OnceMemory;
use crate::v6::{Dhcp6Option, Duid, MessageType};

/// Boot-only settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BootResponderConfig {
    /// This server's DUID (Server Identifier).
    pub server_duid: Duid,
    /// The address boot URLs name (this host's TFTP/HTTP service on the link).
    pub server_addr: Ipv6Addr,
    /// DNS servers sent to clients that ask (option 23).
    #[cfg_attr(feature = "serde", serde(default))]
    pub dns_servers: Vec<Ipv6Addr>,
    /// Server preference (option 7) in Advertises; none when `None`. Leave it low: a client
    /// that also needs an address must still pick the address server's Advertise.
    #[cfg_attr(feature = "serde", serde(default))]
    pub preference: Option<u8>,
}

impl BootResponderConfig {
    /// Settings for a responder at `server_addr` with DUID `server_duid`.
    pub fn new(server_duid: Duid, server_addr: Ipv6Addr) -> BootResponderConfig {
        BootResponderConfig {
            server_duid,
            server_addr,
            dns_servers: Vec::new(),
            preference: None,
        }
    }
}

/// A Sans-IO DHCPv6 boot-options responder.
///
/// Answers only PXE, iPXE and HTTP-boot clients ([`ClientInfo::is_netboot`]), never with an
/// address:
/// - Solicit → Advertise with the boot file URL (option 59) and no IA: firmware that collects
///   Advertises for boot information (EDK2's PXE treats one without an IA as a proxy offer)
///   takes the URL from it, and takes the address from the address server's Advertise;
/// - Request naming this server (EDK2 asks the proxy for its boot file this way) and
///   Information-request (iPXE on a link whose RAs set only the O flag) → Reply with the URL.
///
/// Renew, Rebind, Confirm, Release and Decline belong to the address server and are ignored.
#[derive(Debug)]
pub struct BootResponder {
    cfg: BootResponderConfig,
    policy: Policy,
    out: Outbox,
    once: OnceMemory,
    /// The rule each client's last Advertise used, so its Request (a new transaction id, RFC
    /// 8415 §18.2.2) gets the same one even if it is a used-up `once` rule by then.
    advertised: BTreeMap<Vec<u8>, (usize, Instant)>,
}

impl BootResponder {
    /// A responder with `cfg` and `policy`.
    pub fn new(cfg: BootResponderConfig, policy: Policy) -> BootResponder {
        BootResponder {
            cfg,
            policy,
            out: Outbox::default(),
            once: OnceMemory::default(),
            advertised: BTreeMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &BootResponderConfig {
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

    fn handle(&mut self, now: Instant, dgram: &Datagram<'_>) {
        let Some(env) = self.out.parse(dgram.payload) else {
            return;
        };
        let req = &env.message;
        let duid = req.client_id();
        let reply_type = match req.msg_type {
            MessageType::Solicit => MessageType::Advertise,
            MessageType::Request | MessageType::InformationRequest => MessageType::Reply,
            other => return self.out.ignore(duid, Ignore6::UnsupportedMessage(other)),
        };
        if let Err(why) = validate(req, &self.cfg.server_duid) {
            return self.out.ignore(duid, why);
        }
        if req.msg_type != MessageType::Request && unicast_from_client(&env, dgram.local.ip()) {
            return self.out.ignore(duid, Ignore6::Unicast);
        }
        let source = match dgram.remote.ip() {
            core::net::IpAddr::V6(a) => a,
            core::net::IpAddr::V4(a) => a.to_ipv6_mapped(),
        };
        let client = ClientInfo::from_v6(&env, source);
        if !client.is_netboot() {
            return self.out.ignore(duid, Ignore6::NotNetbootClient);
        }
        let key = duid.map(Duid::to_bytes).unwrap_or_default();
        let window = self.policy.once_window_secs;
        let new_exchange = req.msg_type != MessageType::Request;
        let advertised = self.advertised.get(&key).map(|&(rule, _)| rule);
        let once = &self.once;
        let decision = self
            .policy
            .decide_with(&client, self.cfg.server_addr, |i, r| {
                r.once
                    && if new_exchange {
                        once.used(client.mac, client.xid, i, now, window)
                    } else {
                        advertised != Some(i)
                    }
            });
        let Some(decision) = decision else {
            return self.out.ignore(duid, Ignore6::NoRule(client.summary()));
        };
        if new_exchange {
            if decision.once {
                self.once
                    .record(client.mac, client.xid, decision.rule_index, now, window);
            }
            self.advertised.insert(key, (decision.rule_index, now));
        }
        let mut r = reply_to(req, reply_type, &self.cfg.server_duid);
        if let (MessageType::Advertise, Some(p)) = (reply_type, self.cfg.preference) {
            r.options.push(Dhcp6Option::Preference(p));
        }
        dns_option(&mut r, req, &self.cfg.dns_servers);
        boot_options(&mut r, &client, &decision);
        self.out.send(&env, dgram.remote, r);
        self.out.boot(client, decision, reply_type);
    }

    fn expire(&mut self, now: Instant) {
        let window = self.policy.once_window_secs;
        self.once.expire(now, window);
        let w = core::time::Duration::from_secs(u64::from(window));
        self.advertised.retain(|_, &mut (_, at)| now < at + w);
    }
}

impl SansIo for BootResponder {
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
        let w = core::time::Duration::from_secs(u64::from(self.policy.once_window_secs));
        let adv = self.advertised.values().map(|&(_, at)| at + w).min();
        match (self.once.next_deadline(self.policy.once_window_secs), adv) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn poll_event(&mut self) -> Option<Dhcp6Event> {
        self.out.events.pop_front()
    }
}
