//! proxyDHCP (PXE 2.1 §2.2.3-§2.2.5): boot information for PXE clients next to a DHCP server
//! that hands out the addresses.

use alloc::collections::VecDeque;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use pxe_proto::{Datagram, Destination, Instant, SansIo, Transmit};

use super::reply::{self, Pending};
use super::{ChainWatch, DhcpEvent, IgnoreReason, OnceMemory, Stats};
use crate::policy::Policy;
use crate::pxe::{ClientInfo, Firmware};
use crate::wire::{DhcpOption, MessageType, OptionCode, PXE_PORT, PxeSubOption, VendorOptions};

/// proxyDHCP settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ProxyConfig {
    /// This server's address: option 54, and the next server unless a rule names another.
    pub server_ip: Ipv4Addr,
    /// Send UEFI PXE ROMs (not iPXE) an offer without option 43, so they fetch their boot file
    /// through a port-4011 REQUEST (Pixiecore's UEFI path) instead of straight from the offer.
    /// Off by default: the offer then carries 43 with discovery control "use the boot file".
    #[cfg_attr(feature = "serde", serde(default))]
    pub uefi_via_4011: bool,
    /// Next server (`siaddr`, the TFTP server) for rules that name none; `server_ip` if `None`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub next_server: Option<Ipv4Addr>,
}

impl ProxyConfig {
    /// Settings for a proxy at `server_ip`.
    pub fn new(server_ip: Ipv4Addr) -> ProxyConfig {
        ProxyConfig {
            server_ip,
            uefi_via_4011: false,
            next_server: None,
        }
    }
}

/// A Sans-IO proxyDHCP responder.
///
/// - DISCOVER on port 67 from a PXE/iPXE/HTTP-boot client → OFFER with `yiaddr` 0, option 60
///   `PXEClient` (or `HTTPClient`), 54, 43 (discovery control: use the boot file), 97 echoed,
///   the boot file in `file` and the next server in `siaddr` (iPXE ignores proxy offers without
///   both), broadcast or to the relay.
/// - REQUEST or INFORM on port 4011 → ACK with the same boot information, to the sender.
/// - Everything else, and every non-PXE client, is ignored (with a [`DhcpEvent::Ignored`]).
#[derive(Debug)]
pub struct ProxyResponder {
    cfg: ProxyConfig,
    policy: Policy,
    queue: VecDeque<Pending>,
    events: VecDeque<DhcpEvent>,
    once: OnceMemory,
    watch: ChainWatch,
    stats: Stats,
}

impl ProxyResponder {
    /// A responder with `cfg` and `policy`.
    pub fn new(cfg: ProxyConfig, policy: Policy) -> ProxyResponder {
        ProxyResponder {
            cfg,
            policy,
            queue: VecDeque::new(),
            events: VecDeque::new(),
            once: OnceMemory::default(),
            watch: ChainWatch::default(),
            stats: Stats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ProxyConfig {
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

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn ignore(&mut self, mac: Option<pxe_proto::MacAddr>, reason: IgnoreReason) {
        self.stats.ignored += 1;
        self.events.push_back(DhcpEvent::Ignored { mac, reason });
    }

    fn handle(&mut self, now: Instant, dgram: &Datagram<'_>) {
        let (req, bad_boot) = match reply::parse_request(dgram.payload, &mut self.stats) {
            Ok(r) => r,
            Err((mac, reason)) => return self.ignore(mac, reason),
        };
        let mac = Some(req.client_mac());
        if self.policy.ignores(req.client_mac()) {
            return self.ignore(mac, IgnoreReason::HostIgnored);
        }
        // A proxy gives nothing but boot decisions, so a client it cannot classify gets none.
        if let Some(e) = bad_boot {
            return self.ignore(mac, IgnoreReason::MalformedBootOption(e));
        }
        let port = dgram.local.port();
        let on_4011 = port == PXE_PORT;
        let mt = req.message_type();
        let reply_type = match (mt, on_4011) {
            (Some(MessageType::Discover), false) => MessageType::Offer,
            (Some(MessageType::Request | MessageType::Inform), true) => MessageType::Ack,
            (Some(MessageType::Discover), true) => {
                return self.ignore(mac, IgnoreReason::WrongPort(port));
            }
            _ => return self.ignore(mac, IgnoreReason::UnsupportedMessage(mt)),
        };
        let client = ClientInfo::from_repr(&req);
        if !client.is_netboot() {
            return self.ignore(mac, IgnoreReason::NotNetbootClient);
        }
        let window = self.policy.once_window_secs;
        // A 4011 request belongs to the same boot stage as the client's last DISCOVER, so a
        // once-rule it used still applies.
        let once = &self.once;
        let decision = self.policy.decide_with(
            &client,
            self.cfg.next_server.unwrap_or(self.cfg.server_ip),
            |i, r| r.once && !on_4011 && once.used(client.mac, client.xid, i, now, window),
        );
        let Some(mut decision) = decision else {
            return self.ignore(mac, IgnoreReason::NoRule(client.summary()));
        };
        if let Some(note) = self.watch.observe(&client, &decision, now) {
            decision.reason.push_str(&note);
        }
        if decision.once && !on_4011 {
            self.once
                .record(client.mac, client.xid, decision.rule_index, now, window);
        }
        let mut r = reply::reply_to(&req, reply_type, self.cfg.server_ip);
        let via_4011 = self.cfg.uefi_via_4011
            && !on_4011
            && client.firmware == Firmware::PxeRom
            && client.is_uefi();
        reply::apply_boot(&mut r, &req, &client, &decision, true);
        if via_4011 {
            // EDK2 sends its boot-server REQUEST to `siaddr` (option 54 only if that is 0), so
            // here `siaddr` names this proxy; the 4011 ACK then carries the TFTP server.
            r.options.retain(|o| o.code() != OptionCode::VendorSpecific);
            r.siaddr = self.cfg.server_ip;
        }
        let destination = if on_4011 {
            r.ciaddr = req.ciaddr;
            // A boot-server request names the item it wants (PXE 2.1 §2.2.6); the ACK echoes it.
            let item = req
                .option(OptionCode::VendorSpecific)
                .and_then(|o| match o {
                    DhcpOption::VendorSpecific(v) => v
                        .sub_options()
                        .iter()
                        .find(|s| matches!(s, PxeSubOption::BootItem { .. }))
                        .cloned(),
                    _ => None,
                });
            if let Some(item) = item {
                r.set_option(DhcpOption::VendorSpecific(VendorOptions::Pxe(alloc::vec![
                    item
                ])));
            }
            if dgram.remote.ip().is_unspecified() {
                Destination::Broadcast {
                    port: dgram.remote.port(),
                }
            } else {
                Destination::Unicast(dgram.remote)
            }
        } else {
            // A proxy offer has no address, so it is broadcast (or goes to the relay).
            r.flags = r.flags.with_broadcast();
            reply::destination(&req, &r, false)
        };
        reply::finish_options(&mut r, &req);
        match reply_type {
            MessageType::Offer => self.stats.offers += 1,
            _ => self.stats.acks += 1,
        }
        self.queue.push_back(Pending {
            repr: r,
            destination,
            local: Some(SocketAddr::new(IpAddr::V4(self.cfg.server_ip), port)),
            max_len: req.max_reply_len(),
        });
        self.events
            .push_back(DhcpEvent::boot(client, decision, reply_type));
    }
}

impl SansIo for ProxyResponder {
    type Event = DhcpEvent;

    fn handle_datagram(&mut self, now: Instant, dgram: Datagram<'_>) {
        self.handle(now, &dgram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.once.expire(now, self.policy.once_window_secs);
        self.watch.expire(now);
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        reply::transmit(&mut self.queue, &mut self.events, &mut self.stats, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let once = self.once.next_deadline(self.policy.once_window_secs);
        match (once, self.watch.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn poll_event(&mut self) -> Option<DhcpEvent> {
        self.events.pop_front()
    }
}
