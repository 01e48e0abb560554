//! The DHCP responders fed arbitrary sequences of client messages and clock steps.
//!
//! Eight clients (MACs 52:54:00:00:00:0N) talk to a server at 192.168.1.1 with a small pool
//! (1–8 addresses, so clients compete for them). Messages are built from structured fields
//! (type, requested address, server id, ciaddr, giaddr, PXE identity, extra options), then
//! optionally mutated byte by byte, or are raw bytes.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use arbitrary::Arbitrary;
use pxe_dhcp::policy::Policy;
use pxe_dhcp::responder::{
    ClientKey, LeaseServer, LeaseTable, PoolRange, ProxyConfig, ProxyResponder, ServerConfig,
};
use pxe_dhcp::wire::{DhcpOption, Flags, MessageType, Op, Repr};
use pxe_proto::{Datagram, Destination, Duration, Instant, MacAddr, SansIo};

use crate::decode;

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const POOL_FIRST: u8 = 100;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum IpSel {
    Pool(u8),
    Server,
    Other(u32),
}

impl IpSel {
    fn ip(self, pool_size: u8) -> Ipv4Addr {
        match self {
            IpSel::Pool(i) => Ipv4Addr::new(192, 168, 1, POOL_FIRST + i % pool_size.max(1)),
            IpSel::Server => SERVER,
            IpSel::Other(v) => Ipv4Addr::from(v),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Identity {
    Plain,
    PxeBios,
    PxeUefi,
    HttpClient,
    IpxeBios,
    IpxeUefi,
}

#[derive(Arbitrary, Debug)]
struct Message {
    client: u8,
    msg_type: u8,
    xid: u8,
    requested: Option<IpSel>,
    server_id: Option<IpSel>,
    ciaddr: Option<IpSel>,
    giaddr: Option<IpSel>,
    broadcast: bool,
    to_4011: bool,
    identity: Identity,
    extra: Vec<(u8, Vec<u8>)>,
    flips: Vec<(u16, u8)>,
}

#[derive(Arbitrary, Debug)]
enum Action {
    Send(Message),
    Raw {
        to_4011: bool,
        bytes: Vec<u8>,
    },
    Advance(u32),
    Timeout,
    /// Lease server only: persist the lease table and start again from it.
    Restart,
}

#[derive(Arbitrary, Debug)]
struct Input {
    pool_size: u8,
    lease_secs: u16,
    offer_hold_secs: u8,
    uefi_via_4011: bool,
    actions: Vec<Action>,
}

fn mac(client: u8) -> MacAddr {
    MacAddr([0x52, 0x54, 0, 0, 0, client % 8])
}

/// The bytes of `m` and the datagram's source and destination ports.
fn build(m: &Message, pool_size: u8) -> (Vec<u8>, SocketAddr, u16) {
    let mut r = Repr::new(Op::BootRequest, u32::from(m.xid), mac(m.client));
    if m.broadcast {
        r.flags = Flags::BROADCAST;
    }
    if let Some(ip) = m.ciaddr {
        r.ciaddr = ip.ip(pool_size);
    }
    if let Some(ip) = m.giaddr {
        r.giaddr = ip.ip(pool_size);
    }
    r.set_option(DhcpOption::MessageType(MessageType::from(m.msg_type % 9)));
    if let Some(ip) = m.requested {
        r.set_option(DhcpOption::RequestedIpAddress(ip.ip(pool_size)));
    }
    if let Some(ip) = m.server_id {
        r.set_option(DhcpOption::ServerIdentifier(ip.ip(pool_size)));
    }
    let (class, arch, ipxe) = match m.identity {
        Identity::Plain => (None, None, false),
        Identity::PxeBios => (Some("PXEClient:Arch:00000:UNDI:002001"), Some(0), false),
        Identity::PxeUefi => (Some("PXEClient:Arch:00007:UNDI:003016"), Some(7), false),
        Identity::HttpClient => (Some("HTTPClient:Arch:00016:UNDI:003000"), Some(16), false),
        Identity::IpxeBios => (Some("PXEClient:Arch:00000:UNDI:002001"), Some(0), true),
        Identity::IpxeUefi => (Some("PXEClient:Arch:00007:UNDI:003010"), Some(7), true),
    };
    if let Some(c) = class {
        r.set_option(DhcpOption::VendorClassIdentifier(c.as_bytes().to_vec()));
    }
    if let Some(a) = arch {
        r.set_option(DhcpOption::ClientSystemArchitecture(vec![
            pxe_dhcp::pxe::Arch(a),
        ]));
    }
    if ipxe {
        r.set_option(DhcpOption::UserClass(pxe_dhcp::wire::UserClass::Plain(
            b"iPXE".to_vec(),
        )));
    }
    for (code, data) in &m.extra {
        if *code != 0
            && *code != 255
            && *code != 52
            && let Ok(opt) = DhcpOption::decode(*code, data)
        {
            r.set_option(opt);
        }
    }
    let mut bytes = vec![0u8; r.buffer_len()];
    let n = r.emit(&mut bytes).unwrap_or(0);
    bytes.truncate(n);
    for &(at, x) in &m.flips {
        if let Some(b) = bytes.get_mut(usize::from(at)) {
            *b ^= x;
        }
    }
    let remote = if r.giaddr.is_unspecified() {
        SocketAddr::new(IpAddr::V4(r.ciaddr), 68)
    } else {
        SocketAddr::new(IpAddr::V4(r.giaddr), 67)
    };
    (bytes, remote, if m.to_4011 { 4011 } else { 67 })
}

/// What a target checks, told about every input and every reply.
trait Oracle<C> {
    /// `action` is about to be fed to the core.
    fn input(&mut self, _action: &Action, _pool_size: u8) {}
    /// The core sent `reply`.
    fn reply(&mut self, core: &C, now: Instant, reply: &Repr);
    /// Persist the core's state and start a new one from it.
    fn restart(&mut self, _core: &mut C) {}
}

/// Runs the input's actions against `core` with the str0m drain loop after each one.
fn drive<C: SansIo>(core: &mut C, input: &Input, oracle: &mut impl Oracle<C>) {
    let pool_size = input.pool_size % 8 + 1;
    let mut now = Instant::from_secs(1_000_000);
    let mut buf = vec![0u8; 1500];
    for action in &input.actions {
        oracle.input(action, pool_size);
        match action {
            Action::Send(m) => {
                let (bytes, remote, port) = build(m, pool_size);
                let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), port);
                core.handle_datagram(now, Datagram::new(remote, local, &bytes));
            }
            Action::Raw { to_4011, bytes } => {
                let port = if *to_4011 { 4011 } else { 67 };
                let remote = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 68);
                let local = SocketAddr::new(IpAddr::V4(SERVER), port);
                core.handle_datagram(now, Datagram::new(remote, local, bytes));
            }
            Action::Advance(ms) => {
                now += Duration::from_millis(u64::from(*ms));
                core.handle_timeout(now);
            }
            Action::Timeout => {
                if let Some(d) = core.poll_timeout() {
                    now = now.max(d);
                }
                core.handle_timeout(now);
            }
            Action::Restart => oracle.restart(core),
        }
        let mut sent = 0;
        while let Some(t) = core.poll_transmit(now, &mut buf) {
            sent += 1;
            assert!(sent <= 4, "{sent} replies to one input");
            assert!(t.len <= buf.len());
            let reply = Repr::parse_bytes(&buf[..t.len])
                .unwrap_or_else(|e| panic!("responder sent an unparsable reply: {e}"));
            assert_eq!(reply.op, Op::BootReply, "reply is not a BOOTREPLY");
            assert!(
                !matches!(t.destination, Destination::Unicast(a) if a.ip().is_unspecified()),
                "reply to 0.0.0.0"
            );
            oracle.reply(core, now, &reply);
        }
        let mut events = 0;
        while core.poll_event().is_some() {
            events += 1;
            assert!(events <= 64, "event flood for one input");
        }
        if let Some(d) = core.poll_timeout() {
            assert!(d > now, "deadline {d} not after now {now} once drained");
        }
    }
}

struct ProxyOracle;

impl Oracle<ProxyResponder> for ProxyOracle {
    fn reply(&mut self, _: &ProxyResponder, _: Instant, reply: &Repr) {
        assert_eq!(
            reply.yiaddr,
            Ipv4Addr::UNSPECIFIED,
            "proxyDHCP offered an address"
        );
        assert!(
            reply
                .option(pxe_dhcp::wire::OptionCode::IpAddressLeaseTime)
                .is_none(),
            "proxyDHCP sent a lease time"
        );
        assert!(
            matches!(
                reply.message_type(),
                Some(MessageType::Offer | MessageType::Ack)
            ),
            "proxyDHCP sent {:?}",
            reply.message_type()
        );
    }
}

/// proxyDHCP: never panics, every reply is a BOOTREPLY OFFER or ACK that offers no address
/// (`yiaddr` 0.0.0.0, no lease time).
pub fn dhcp_proxy(data: &[u8]) {
    let Some(input) = decode::<Input>(data) else {
        return;
    };
    let mut cfg = ProxyConfig::new(SERVER);
    cfg.uefi_via_4011 = input.uefi_via_4011;
    let mut proxy = ProxyResponder::new(cfg, Policy::default());
    drive(&mut proxy, &input, &mut ProxyOracle);
}

/// A client as the server tells them apart (option 61, else chaddr; RFC 2131 §4.2), in an owned
/// form: its identifier as text.
type Who = String;

/// The client a message (request, or reply echoing option 61) is from or to.
fn who(msg: &Repr) -> Who {
    ClientKey::of(msg).to_string()
}

/// Who holds each address, as the server's replies told the clients.
struct LeaseOracle {
    holders: BTreeMap<Ipv4Addr, (Who, Instant)>,
    offer_hold: Duration,
    cfg: ServerConfig,
}

impl Oracle<LeaseServer> for LeaseOracle {
    fn input(&mut self, action: &Action, pool_size: u8) {
        // RELEASE and DECLINE end a holding, and so does a REQUEST for another server; a mutated
        // or raw message may be any of them, for any address, so then nothing is known any more.
        let m = match action {
            Action::Send(m) if m.flips.is_empty() => m,
            Action::Send(_) | Action::Raw { .. } => return self.holders.clear(),
            _ => return,
        };
        // Read the message as the server will: extra options may replace the structured ones
        // (an option 54 or 53 among them).
        let (bytes, _, _) = build(m, pool_size);
        let Ok(req) = Repr::parse_bytes(&bytes) else {
            return self.holders.clear();
        };
        let who = who(&req);
        let freed = match req.message_type() {
            // A REQUEST naming another server declines this server's offer (RFC 2131 §4.3.2).
            Some(MessageType::Request) if req.server_identifier().is_some_and(|s| s != SERVER) => {
                return self.holders.retain(|_, h| h.0 != who);
            }
            Some(MessageType::Release) => req.ciaddr,
            Some(MessageType::Decline) => req.requested_ip().unwrap_or(req.ciaddr),
            _ => return,
        };
        if self.holders.get(&freed).is_some_and(|h| h.0 == who) {
            self.holders.remove(&freed);
        }
    }

    fn reply(&mut self, s: &LeaseServer, now: Instant, reply: &Repr) {
        // The table itself: one active address per client.
        let mut by_client: BTreeMap<Who, Ipv4Addr> = BTreeMap::new();
        for l in s.leases().iter().filter(|l| l.is_active(now)) {
            if let Some(k) = l.key()
                && let Some(other) = by_client.insert(k.to_string(), l.ip)
            {
                panic!("client {k} holds {other} and {} at once", l.ip);
            }
        }
        let ip = reply.yiaddr;
        // The reply echoes the request's option 61 (RFC 6842 §3), so it names the client.
        let to = who(reply);
        if crate::debug() {
            eprintln!("reply {:?} {ip} to {to} at {now}", reply.message_type());
        }
        let until = match reply.message_type() {
            Some(MessageType::Offer) => now + self.offer_hold,
            Some(MessageType::Ack) if !ip.is_unspecified() => {
                match reply.option(pxe_dhcp::wire::OptionCode::IpAddressLeaseTime) {
                    Some(DhcpOption::IpAddressLeaseTime(t)) => {
                        now + Duration::from_secs(u64::from(*t))
                    }
                    _ => now,
                }
            }
            _ => return,
        };
        if let Some((holder, held_until)) = self.holders.get(&ip) {
            let held_until = *held_until;
            assert!(
                *holder == to || now >= held_until,
                "{ip} given to {to} while {holder} holds it until {held_until} (now {now})"
            );
        }
        // A client holds one address: a new one replaces what it had.
        self.holders.retain(|_, h| h.0 != to);
        self.holders.insert(ip, (to, until));
    }

    fn restart(&mut self, s: &mut LeaseServer) {
        let saved = LeaseTable::from_leases(s.leases().iter().cloned());
        *s = LeaseServer::with_leases(self.cfg.clone(), Policy::default(), saved);
    }
}

/// The lease server: never panics; never offers or ACKs an address another client holds (an
/// unexpired OFFER or ACK it sent that client, not released or declined); its table never
/// gives one client two active addresses; restarting from the saved table keeps all of that.
pub fn dhcp_lease_server(data: &[u8]) {
    let Some(input) = decode::<Input>(data) else {
        return;
    };
    let pool_size = input.pool_size % 8 + 1;
    let pool = PoolRange {
        first: Ipv4Addr::new(192, 168, 1, POOL_FIRST),
        last: Ipv4Addr::new(192, 168, 1, POOL_FIRST + pool_size - 1),
    };
    let mut cfg = ServerConfig::new(SERVER, Ipv4Addr::new(255, 255, 255, 0), pool);
    cfg.lease_time_secs = u32::from(input.lease_secs.max(1));
    cfg.offer_hold_secs = u32::from(input.offer_hold_secs.max(1));
    let mut oracle = LeaseOracle {
        holders: BTreeMap::new(),
        offer_hold: Duration::from_secs(u64::from(cfg.offer_hold_secs)),
        cfg: cfg.clone(),
    };
    let mut server = LeaseServer::new(cfg, Policy::default());
    drive(&mut server, &input, &mut oracle);
}
