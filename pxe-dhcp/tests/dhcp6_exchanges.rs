//! DHCPv6 exchanges through the two responders: boot-only answers for PXE/iPXE clients, the
//! stateful server's Solicit/Advertise/Request/Reply, Rapid Commit, Renew, Rebind, Release,
//! Decline, Confirm and Information-request (RFC 8415 §18.3), relays, and the RFC 8415 §16
//! drops; table-driven where the shape repeats.

use core::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use proptest::prelude::*;
use pxe_dhcp::policy::{Match, Policy, Rule};
use pxe_dhcp::pxe::{Arch, Firmware, IpFamily};
use pxe_dhcp::v6::{
    BootResponder, BootResponderConfig, Dhcp6Event, Dhcp6Option, Duid, Envelope, IaAddress, IaNa,
    Ignore6, Lease6State, Lease6Table, Message, MessageType, OptionCode, PXE_ENTERPRISE,
    RelayMessage, Server, ServerConfig, Status, VendorClass,
};
use pxe_dhcp::wire::NetworkInterface;
use pxe_proto::{Datagram, Destination, Instant, MacAddr, SansIo};

const SERVER_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0);
const FIRST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
const LAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x1ff);
const MULTICAST: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

fn server_duid() -> Duid {
    Duid::from_mac(MacAddr([2, 0, 0, 0, 0, 1]))
}

fn mac(n: u8) -> MacAddr {
    MacAddr([0x52, 0x54, 0, 0x77, 0, n])
}

/// The client's link-local address (EUI-64 of `mac(n)`), port 546.
fn client_addr(n: u8) -> SocketAddr {
    let m = mac(n).octets();
    SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::from([
            0xfe,
            0x80,
            0,
            0,
            0,
            0,
            0,
            0,
            m[0] ^ 2,
            m[1],
            m[2],
            0xff,
            0xfe,
            m[3],
            m[4],
            m[5],
        ]),
        546,
        0,
        2,
    ))
}

fn base(mt: MessageType, xid: u32, duid: Duid) -> Message {
    let mut m = Message::new(mt, xid);
    m.options.push(Dhcp6Option::ClientId(duid));
    m.options.push(Dhcp6Option::ElapsedTime(0));
    m
}

/// What EDK2's PXE sends (NetworkPkg/UefiPxeBcDxe/PxeBcDhcp6.c, PxeBcDhcp6Sarr): a DUID-UUID,
/// an IA_NA, ORO 59/60/23, vendor class 343 `PXEClient`, arch 7, NII 3.16.
fn edk2(mt: MessageType, xid: u32, n: u8) -> Message {
    let mut uuid = [0x11; 16];
    uuid[15] = n;
    let mut m = base(mt, xid, Duid::Uuid(uuid));
    m.options.extend([
        Dhcp6Option::IaNa(IaNa::new(u32::from(n), 0, 0)),
        Dhcp6Option::Oro(vec![
            OptionCode::BootfileUrl,
            OptionCode::BootfileParam,
            OptionCode::DnsServers,
        ]),
        Dhcp6Option::VendorClass(VendorClass {
            enterprise: PXE_ENTERPRISE,
            data: vec![b"PXEClient:Arch:00007:UNDI:003016".to_vec()],
        }),
        Dhcp6Option::ClientArchType(vec![Arch(7)]),
        Dhcp6Option::Nii(NetworkInterface {
            kind: 1,
            major: 3,
            minor: 16,
        }),
    ]);
    m
}

/// What iPXE sends (src/net/udp/dhcpv6.c): a DUID-LL... here with its user class `iPXE`.
fn ipxe(mt: MessageType, xid: u32, n: u8) -> Message {
    let mut m = base(mt, xid, Duid::from_mac(mac(n)));
    m.options.extend([
        Dhcp6Option::Oro(vec![OptionCode::BootfileUrl, OptionCode::DnsServers]),
        Dhcp6Option::VendorClass(VendorClass {
            enterprise: PXE_ENTERPRISE,
            data: vec![b"PXEClient:Arch:00007:UNDI:003010".to_vec()],
        }),
        Dhcp6Option::UserClass(vec![b"iPXE".to_vec()]),
        Dhcp6Option::ClientArchType(vec![Arch(7)]),
    ]);
    if mt != MessageType::InformationRequest {
        m.options.push(Dhcp6Option::IaNa(IaNa::new(1, 0, 0)));
    }
    m
}

/// What `dhclient -6` sends: a DUID-LLT, an IA_NA, ORO 23.
fn plain(mt: MessageType, xid: u32, n: u8) -> Message {
    let mut m = base(
        mt,
        xid,
        Duid::LinkLayerTime {
            hw_type: 1,
            time: 0x2c8f_1234,
            address: mac(n).octets().to_vec(),
        },
    );
    m.options
        .push(Dhcp6Option::IaNa(IaNa::new(u32::from(n), 0, 0)));
    m.options
        .push(Dhcp6Option::Oro(vec![OptionCode::DnsServers]));
    m
}

/// `msg` with the server identifier and the IA_NAs of `reply`, as a client builds its Request or
/// Renew from what it got.
fn follow_up(mut msg: Message, mt: MessageType, xid: u32, reply: &Message) -> Message {
    msg.msg_type = mt;
    msg.transaction_id = xid;
    msg.options.retain(|o| o.code() != OptionCode::IaNa);
    if matches!(
        mt,
        MessageType::Request | MessageType::Renew | MessageType::Release | MessageType::Decline
    ) {
        msg.options
            .push(Dhcp6Option::ServerId(reply.server_id().unwrap().clone()));
    }
    for ia in reply.ia_nas() {
        let mut ia = ia.clone();
        ia.t1 = 0;
        ia.t2 = 0;
        msg.options.push(Dhcp6Option::IaNa(ia));
    }
    msg
}

struct Out {
    replies: Vec<(Envelope, SocketAddr)>,
    events: Vec<Dhcp6Event>,
}

impl Out {
    fn one(&self) -> &Message {
        assert_eq!(self.replies.len(), 1, "{:?}", self.events);
        &self.replies[0].0.message
    }
    fn ignored(&self) -> Option<&Ignore6> {
        assert!(self.replies.is_empty(), "{:?}", self.replies);
        self.events.iter().find_map(|e| match e {
            Dhcp6Event::Ignored { reason, .. } => Some(reason),
            _ => None,
        })
    }
    fn boot_reason(&self) -> Option<String> {
        self.events.iter().find_map(|e| match e {
            Dhcp6Event::Boot(b) => Some(b.decision.reason.clone()),
            _ => None,
        })
    }
}

fn exchange<S: SansIo<Event = Dhcp6Event>>(
    s: &mut S,
    now: Instant,
    from: SocketAddr,
    to: Ipv6Addr,
    payload: &[u8],
) -> Out {
    s.handle_datagram(
        now,
        Datagram::new(from, SocketAddr::new(IpAddr::V6(to), 547), payload),
    );
    let mut replies = Vec::new();
    let mut buf = [0u8; 1500];
    while let Some(t) = s.poll_transmit(now, &mut buf) {
        let Destination::Unicast(to) = t.destination else {
            panic!("DHCPv6 replies are unicast: {t:?}");
        };
        replies.push((Envelope::parse(&buf[..t.len]).unwrap(), to));
    }
    let events = std::iter::from_fn(|| s.poll_event()).collect();
    Out { replies, events }
}

fn send<S: SansIo<Event = Dhcp6Event>>(s: &mut S, now: Instant, n: u8, m: &Message) -> Out {
    exchange(s, now, client_addr(n), MULTICAST, &m.to_bytes().unwrap())
}

fn boot_only(policy: Policy) -> BootResponder {
    BootResponder::new(BootResponderConfig::new(server_duid(), SERVER_ADDR), policy)
}

fn server_cfg() -> ServerConfig {
    let mut cfg = ServerConfig::new(server_duid(), SERVER_ADDR, PREFIX, 64, FIRST, LAST);
    cfg.dns_servers = vec![SERVER_ADDR];
    cfg
}

fn server() -> Server {
    Server::new(server_cfg(), Policy::with_http(8080))
}

fn url(m: &Message) -> Option<String> {
    m.options.iter().find_map(|o| match o {
        Dhcp6Option::BootfileUrl(u) => Some(String::from_utf8(u.clone()).unwrap()),
        _ => None,
    })
}

fn status(m: &Message) -> Option<Status> {
    m.options.iter().find_map(|o| match o {
        Dhcp6Option::StatusCode(s) => Some(s.status),
        _ => None,
    })
}

fn address(m: &Message) -> Option<IaAddress> {
    m.ia_nas()
        .next()
        .and_then(|ia| ia.addresses.first().cloned())
}

const T0: Instant = Instant::from_secs(1_000_000);

#[test]
fn boot_only_answers_netboot_clients_with_a_url_and_no_address() {
    // (client, message, policy, expected reply type, expected URL)
    let cases: Vec<(&str, Message, Policy, MessageType, &str)> = vec![
        (
            "EDK2 PXE Solicit",
            edk2(MessageType::Solicit, 0x10, 1),
            Policy::default(),
            MessageType::Advertise,
            "tftp://[2001:db8::1]/ipxe.efi",
        ),
        (
            "iPXE Solicit, HTTP",
            ipxe(MessageType::Solicit, 0x11, 2),
            Policy::with_http(8080),
            MessageType::Advertise,
            "http://[2001:db8::1]:8080/boot.ipxe",
        ),
        (
            "iPXE Information-request (stateless, RA O flag)",
            ipxe(MessageType::InformationRequest, 0x12, 3),
            Policy::with_http(80),
            MessageType::Reply,
            "http://[2001:db8::1]/boot.ipxe",
        ),
        (
            "iPXE without HTTP",
            ipxe(MessageType::InformationRequest, 0x13, 4),
            Policy::default(),
            MessageType::Reply,
            "tftp://[2001:db8::1]/boot.ipxe",
        ),
    ];
    for (name, msg, policy, reply_type, want) in cases {
        let mut r = boot_only(policy);
        let out = send(&mut r, T0, 1, &msg);
        let reply = out.one();
        assert_eq!(reply.msg_type, reply_type, "{name}");
        assert_eq!(reply.transaction_id, msg.transaction_id, "{name}");
        assert_eq!(reply.client_id(), msg.client_id(), "{name}");
        assert_eq!(reply.server_id(), Some(&server_duid()), "{name}");
        assert_eq!(url(reply).as_deref(), Some(want), "{name}");
        assert_eq!(
            reply.ia_nas().count(),
            0,
            "{name}: no address from boot-only"
        );
        // No PXEClient class: EDK2 would then look for a boot server on port 4011.
        assert_eq!(reply.option(OptionCode::VendorClass), None, "{name}");
        assert_eq!(out.replies[0].1, client_addr(1), "{name}");
        assert!(out.boot_reason().is_some(), "{name}");
    }
}

#[test]
fn boot_only_ignores_everything_else() {
    let mut r = boot_only(Policy::default());
    let adv = send(&mut r, T0, 1, &edk2(MessageType::Solicit, 1, 1));
    let adv = adv.one().clone();
    let mut other = follow_up(
        edk2(MessageType::Request, 2, 1),
        MessageType::Request,
        2,
        &adv,
    );
    other.set_option(Dhcp6Option::ServerId(Duid::from_mac(mac(99))));
    let no_client_id = {
        let mut m = edk2(MessageType::Solicit, 3, 1);
        m.options.retain(|o| o.code() != OptionCode::ClientId);
        m
    };
    let cases: Vec<(&str, Message, Ignore6)> = vec![
        (
            "plain client",
            plain(MessageType::Solicit, 1, 5),
            Ignore6::NotNetbootClient,
        ),
        (
            "Renew belongs to the address server",
            plain(MessageType::Renew, 1, 5),
            Ignore6::UnsupportedMessage(MessageType::Renew),
        ),
        ("Request to another server", other, Ignore6::OtherServer),
        (
            "no Client Identifier",
            no_client_id,
            Ignore6::Invalid("no Client Identifier"),
        ),
    ];
    for (name, msg, why) in cases {
        let out = send(&mut r, T0, 1, &msg);
        assert_eq!(out.ignored(), Some(&why), "{name}");
    }
    // RFC 8415 §16: a Solicit sent to a unicast address is dropped.
    let out = exchange(
        &mut r,
        T0,
        client_addr(1),
        SERVER_ADDR,
        &edk2(MessageType::Solicit, 4, 1).to_bytes().unwrap(),
    );
    assert_eq!(out.ignored(), Some(&Ignore6::Unicast));
    // A malformed datagram is counted, not answered.
    let out = exchange(
        &mut r,
        T0,
        client_addr(1),
        MULTICAST,
        &[1, 0, 0, 1, 0, 8, 0, 9],
    );
    assert!(matches!(out.ignored(), Some(Ignore6::Malformed(_))));
    assert_eq!(r.stats().malformed, 1);
}

#[test]
fn boot_only_answers_a_request_naming_it_with_the_advertised_rule() {
    // A `once` rule used by the Solicit applies to the Request that follows (a new transaction
    // id), but not to the chained iPXE's next Solicit.
    let mut policy = Policy::default();
    let mut chain = Rule::new(
        "chain-once",
        Match {
            firmware: vec![Firmware::PxeRom],
            ..Match::default()
        },
        "snponly.efi",
    );
    chain.once = true;
    policy.rules.insert(0, chain);
    let mut r = boot_only(policy);
    let adv = send(&mut r, T0, 1, &edk2(MessageType::Solicit, 1, 1));
    assert_eq!(
        url(adv.one()).as_deref(),
        Some("tftp://[2001:db8::1]/snponly.efi")
    );
    let req = follow_up(
        edk2(MessageType::Request, 2, 1),
        MessageType::Request,
        2,
        adv.one(),
    );
    let rep = send(&mut r, T0 + Duration::from_secs(1), 1, &req);
    assert_eq!(rep.one().msg_type, MessageType::Reply);
    assert_eq!(
        url(rep.one()).as_deref(),
        Some("tftp://[2001:db8::1]/snponly.efi")
    );
    let again = send(
        &mut r,
        T0 + Duration::from_secs(5),
        1,
        &edk2(MessageType::Solicit, 3, 1),
    );
    assert_eq!(
        url(again.one()).as_deref(),
        Some("tftp://[2001:db8::1]/ipxe.efi")
    );
}

#[test]
fn the_decision_log_has_one_format_for_both_families() {
    let mut r = boot_only(Policy::default());
    let out = send(&mut r, T0, 1, &edk2(MessageType::Solicit, 1, 1));
    let reason = out.boot_reason().unwrap();
    // The policy's own notes (the unsigned-ipxe.efi one for Secure Boot) follow, as over IPv4.
    assert!(
        reason.starts_with(
            "52:54:00:77:00:01 DUID 00:04:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:01 arch 7 = \
             x64 UEFI, PXE ROM (UNDI 3.16), no iPXE user class → tftp://[2001:db8::1]/ipxe.efi by \
             rule 2 (pxe-uefi-x64)"
        ),
        "{reason}"
    );
    let v4 = Policy::default()
        .decide(&edk2_v4(), core::net::Ipv4Addr::new(10, 77, 0, 1))
        .unwrap()
        .reason;
    assert!(
        v4.starts_with(
            "52:54:00:77:00:01 arch 7 = x64 UEFI, PXE ROM (UNDI 3.0), no iPXE user class → \
             ipxe.efi by rule 2 (pxe-uefi-x64)"
        ),
        "{v4}"
    );
}

/// The same machine's DHCPv4 DISCOVER, classified.
fn edk2_v4() -> pxe_dhcp::pxe::ClientInfo {
    use pxe_dhcp::wire::{DhcpOption, MessageType as Mt, Op, Repr};
    let mut r = Repr::new(Op::BootRequest, 1, mac(1));
    r.options = vec![
        DhcpOption::MessageType(Mt::Discover),
        DhcpOption::ClientSystemArchitecture(vec![Arch(7)]),
        DhcpOption::VendorClassIdentifier(b"PXEClient:Arch:00007:UNDI:003000".to_vec()),
    ];
    pxe_dhcp::pxe::ClientInfo::from_repr(&r)
}

#[test]
fn family_rules_pick_per_ip_version() {
    let mut policy = Policy::with_http(8080);
    policy.rules.insert(
        0,
        Rule::new(
            "v6-ipxe",
            Match {
                family: Some(IpFamily::V6),
                firmware: vec![Firmware::Ipxe],
                ..Match::default()
            },
            "http://{http}/v6.ipxe",
        ),
    );
    let mut r = boot_only(policy);
    let out = send(&mut r, T0, 1, &ipxe(MessageType::InformationRequest, 1, 1));
    assert_eq!(
        url(out.one()).as_deref(),
        Some("http://[2001:db8::1]:8080/v6.ipxe")
    );
}

#[test]
fn solicit_request_renew_rebind_release() {
    let mut s = server();
    let adv = send(&mut s, T0, 5, &plain(MessageType::Solicit, 1, 5));
    let adv = adv.one().clone();
    assert_eq!(adv.msg_type, MessageType::Advertise);
    let a = address(&adv).expect("an address");
    assert!((FIRST..=LAST).contains(&a.address));
    assert_eq!((a.preferred, a.valid), (3600, 7200));
    let ia = adv.ia_nas().next().unwrap();
    assert_eq!((ia.t1, ia.t2), (1800, 2880));
    assert_eq!(url(&adv), None, "no boot URL for a plain client");
    assert!(
        adv.options
            .contains(&Dhcp6Option::DnsServers(vec![SERVER_ADDR]))
    );
    assert_eq!(
        s.leases().get(a.address).map(|l| l.state),
        Some(Lease6State::Advertised)
    );

    let req = follow_up(
        plain(MessageType::Request, 2, 5),
        MessageType::Request,
        2,
        &adv,
    );
    let rep = send(&mut s, T0 + Duration::from_secs(1), 5, &req);
    assert_eq!(rep.one().msg_type, MessageType::Reply);
    assert_eq!(address(rep.one()).map(|x| x.address), Some(a.address));
    let lease = s.leases().get(a.address).unwrap().clone();
    assert_eq!(lease.state, Lease6State::Bound);
    assert_eq!(lease.expires, T0 + Duration::from_secs(1 + 7200));
    assert!(rep.events.iter().any(|e| matches!(e, Dhcp6Event::Lease(_))));

    let t = T0 + Duration::from_secs(1800);
    let renew = follow_up(
        plain(MessageType::Renew, 3, 5),
        MessageType::Renew,
        3,
        rep.one(),
    );
    let out = send(&mut s, t, 5, &renew);
    assert_eq!(address(out.one()).map(|x| x.address), Some(a.address));
    assert_eq!(
        s.leases().get(a.address).unwrap().expires,
        t + Duration::from_secs(7200)
    );

    let t = T0 + Duration::from_secs(3000);
    let rebind = follow_up(
        plain(MessageType::Rebind, 4, 5),
        MessageType::Rebind,
        4,
        rep.one(),
    );
    let out = send(&mut s, t, 5, &rebind);
    assert_eq!(address(out.one()).map(|x| x.valid), Some(7200));

    let release = follow_up(
        plain(MessageType::Release, 5, 5),
        MessageType::Release,
        5,
        rep.one(),
    );
    let out = send(&mut s, t, 5, &release);
    assert_eq!(status(out.one()), Some(Status::Success));
    assert!(s.leases().is_empty());
    // Releasing again: the IA has no binding any more.
    let out = send(&mut s, t, 5, &release);
    assert_eq!(
        out.one()
            .ia_nas()
            .next()
            .and_then(|ia| ia.status.clone())
            .map(|s| s.status),
        Some(Status::NoBinding)
    );
}

#[test]
fn rapid_commit_binds_at_once_and_netboot_clients_get_their_url() {
    let mut s = server();
    let mut sol = edk2(MessageType::Solicit, 1, 1);
    sol.options.push(Dhcp6Option::RapidCommit(()));
    let out = send(&mut s, T0, 1, &sol);
    let rep = out.one();
    assert_eq!(rep.msg_type, MessageType::Reply);
    assert!(rep.rapid_commit());
    let a = address(rep).unwrap().address;
    assert_eq!(s.leases().get(a).unwrap().state, Lease6State::Bound);
    assert_eq!(url(rep).as_deref(), Some("tftp://[2001:db8::1]/ipxe.efi"));
    // With Rapid Commit off, the same Solicit gets an Advertise.
    let mut cfg = server_cfg();
    cfg.rapid_commit = false;
    let mut s = Server::new(cfg, Policy::with_http(8080));
    let out = send(&mut s, T0, 1, &sol);
    assert_eq!(out.one().msg_type, MessageType::Advertise);
    assert!(!out.one().rapid_commit());
    // iPXE then: HTTP script.
    let out = send(&mut s, T0, 2, &ipxe(MessageType::Solicit, 2, 2));
    assert_eq!(
        url(out.one()).as_deref(),
        Some("http://[2001:db8::1]:8080/boot.ipxe")
    );
}

/// (name, message, expected top-level status, expected IA status, expected first valid lifetime)
type ConfirmCase = (
    &'static str,
    Message,
    Option<Status>,
    Option<Status>,
    Option<u32>,
);

#[test]
fn confirm_information_request_and_unknown_bindings() {
    let mut s = server();
    let with_addr = |mt, addr: Ipv6Addr| {
        let mut m = plain(mt, 9, 7);
        m.options.retain(|o| o.code() != OptionCode::IaNa);
        let mut ia = IaNa::new(7, 0, 0);
        ia.addresses.push(IaAddress::new(addr, 0, 0));
        m.options.push(Dhcp6Option::IaNa(ia));
        m
    };
    let on = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x150);
    let off = Ipv6Addr::new(0x2001, 0xdb9, 0, 0, 0, 0, 0, 0x150);
    let cases: Vec<ConfirmCase> = vec![
        (
            "Confirm on link",
            with_addr(MessageType::Confirm, on),
            Some(Status::Success),
            None,
            None,
        ),
        (
            "Confirm off link",
            with_addr(MessageType::Confirm, off),
            Some(Status::NotOnLink),
            None,
            None,
        ),
        (
            "Rebind off prefix",
            with_addr(MessageType::Rebind, off),
            None,
            None,
            Some(0),
        ),
        (
            "Rebind of a free in-range address",
            with_addr(MessageType::Rebind, on),
            None,
            None,
            Some(7200),
        ),
    ];
    for (name, msg, top, ia_status, valid) in cases {
        let out = send(&mut s, T0, 7, &msg);
        let rep = out.one();
        assert_eq!(rep.msg_type, MessageType::Reply, "{name}");
        assert_eq!(status(rep), top, "{name}");
        let ia = rep.ia_nas().next();
        assert_eq!(
            ia.and_then(|i| i.status.clone()).map(|s| s.status),
            ia_status,
            "{name}"
        );
        assert_eq!(address(rep).map(|a| a.valid), valid, "{name}");
    }
    // Renew of an IA the server has never seen: NoBinding (§18.3.4).
    let mut renew = with_addr(MessageType::Renew, on);
    renew.options.retain(|o| o.code() != OptionCode::IaNa);
    renew.options.push(Dhcp6Option::IaNa(IaNa::new(70, 0, 0)));
    renew.options.push(Dhcp6Option::ServerId(server_duid()));
    let out = send(&mut s, T0, 7, &renew);
    assert_eq!(
        out.one()
            .ia_nas()
            .next()
            .and_then(|i| i.status.clone())
            .map(|s| s.status),
        Some(Status::NoBinding)
    );
    // A Confirm without addresses gets no reply.
    let out = send(&mut s, T0, 7, &plain(MessageType::Confirm, 1, 7));
    assert_eq!(out.ignored(), Some(&Ignore6::NothingToConfirm));
    // Information-request: options, no IA.
    let out = send(&mut s, T0, 3, &ipxe(MessageType::InformationRequest, 4, 3));
    assert_eq!(out.one().ia_nas().count(), 0);
    assert_eq!(
        url(out.one()).as_deref(),
        Some("http://[2001:db8::1]:8080/boot.ipxe")
    );
    // Unicast Request: UseMulticast (§18.4).
    let mut req = plain(MessageType::Request, 5, 8);
    req.options.push(Dhcp6Option::ServerId(server_duid()));
    let out = exchange(
        &mut s,
        T0,
        client_addr(8),
        SERVER_ADDR,
        &req.to_bytes().unwrap(),
    );
    assert_eq!(status(out.one()), Some(Status::UseMulticast));
}

#[test]
fn declined_addresses_are_skipped_and_the_range_runs_out() {
    let mut cfg = server_cfg();
    cfg.range_last = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x101);
    cfg.rapid_commit = true;
    let mut s = Server::new(cfg, Policy::default());
    let commit = |n: u8, xid: u32| {
        let mut m = plain(MessageType::Solicit, xid, n);
        m.options.push(Dhcp6Option::RapidCommit(()));
        m
    };
    let first = send(&mut s, T0, 1, &commit(1, 1));
    let a1 = address(first.one()).unwrap().address;
    let decline = follow_up(
        plain(MessageType::Decline, 2, 1),
        MessageType::Decline,
        2,
        first.one(),
    );
    let out = send(&mut s, T0, 1, &decline);
    assert_eq!(status(out.one()), Some(Status::Success));
    assert_eq!(s.leases().get(a1).unwrap().state, Lease6State::Declined);
    let second = send(&mut s, T0, 2, &commit(2, 3));
    let a2 = address(second.one()).unwrap().address;
    assert_ne!(a1, a2);
    // Two addresses, one declined, one bound: the next client gets NoAddrsAvail.
    let third = send(&mut s, T0, 3, &commit(3, 4));
    let ia = third.one().ia_nas().next().unwrap().clone();
    assert!(ia.addresses.is_empty());
    assert_eq!(ia.status.map(|s| s.status), Some(Status::NoAddrsAvail));
    // Once the declined hold ends, the address is free again.
    s.handle_timeout(T0 + Duration::from_secs(7201));
    let expired: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert_eq!(expired.len(), 2, "{expired:?}");
    let fourth = send(&mut s, T0 + Duration::from_secs(7202), 3, &commit(3, 5));
    assert!(address(fourth.one()).is_some());
}

#[test]
fn relayed_requests_are_answered_through_the_relay_chain() {
    let mut s = server();
    let relay = SocketAddr::new(IpAddr::V6("2001:db8:5::1".parse().unwrap()), 547);
    let env = Envelope {
        relays: vec![RelayMessage {
            msg_type: MessageType::RelayForw,
            hop_count: 0,
            link_address: "2001:db8::2".parse().unwrap(),
            peer_address: client_addr(4).ip().to_string().parse().unwrap(),
            options: vec![Dhcp6Option::InterfaceId(b"vlan7".to_vec())],
        }],
        message: edk2(MessageType::Solicit, 1, 4),
    };
    // A relayed message arrives by unicast: that is not the §16 drop.
    let out = exchange(&mut s, T0, relay, SERVER_ADDR, &env.to_bytes().unwrap());
    assert_eq!(out.replies.len(), 1);
    let (reply, to) = &out.replies[0];
    assert_eq!(*to, relay);
    assert_eq!(reply.relays.len(), 1);
    assert_eq!(reply.relays[0].msg_type, MessageType::RelayRepl);
    assert_eq!(
        reply.relays[0].options,
        vec![Dhcp6Option::InterfaceId(b"vlan7".to_vec())]
    );
    assert_eq!(reply.message.msg_type, MessageType::Advertise);
    // The MAC in the log comes from the peer's EUI-64 link-local address.
    assert!(
        out.boot_reason()
            .unwrap()
            .starts_with("52:54:00:77:00:04 DUID 00:04:")
    );
}

#[test]
fn leases_survive_a_restart() {
    let mut s = server();
    let mut sol = plain(MessageType::Solicit, 1, 9);
    sol.options.push(Dhcp6Option::RapidCommit(()));
    let out = send(&mut s, T0, 9, &sol);
    let rep = out.one().clone();
    let json = serde_json::to_string(s.leases()).unwrap();
    assert!(json.contains("\"state\":\"bound\""), "{json}");
    let table: Lease6Table = serde_json::from_str(&json).unwrap();
    let mut s = Server::with_leases(server_cfg(), Policy::default(), table);
    let renew = follow_up(plain(MessageType::Renew, 2, 9), MessageType::Renew, 2, &rep);
    let out = send(&mut s, T0 + Duration::from_secs(60), 9, &renew);
    assert_eq!(
        address(out.one()).map(|a| a.address),
        address(&rep).map(|a| a.address)
    );
}

proptest! {
    /// Whatever clients do, an address is never bound or advertised to two IAs at once, and
    /// every address handed out is in the range.
    #[test]
    fn one_address_one_ia(ops in proptest::collection::vec((0u8..6, 1u8..6, 0u64..4000), 1..60)) {
        let mut cfg = server_cfg();
        cfg.range_last = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x103);
        let mut s = Server::new(cfg, Policy::default());
        let mut last: std::collections::BTreeMap<u8, Message> = Default::default();
        let mut now = T0;
        for (i, (op, n, dt)) in ops.into_iter().enumerate() {
            now += Duration::from_secs(dt);
            s.handle_timeout(now);
            while s.poll_event().is_some() {}
            let xid = i as u32;
            let msg = match (op, last.get(&n)) {
                (0, _) | (_, None) => plain(MessageType::Solicit, xid, n),
                (1, Some(r)) => follow_up(plain(MessageType::Request, xid, n), MessageType::Request, xid, r),
                (2, Some(r)) => follow_up(plain(MessageType::Renew, xid, n), MessageType::Renew, xid, r),
                (3, Some(r)) => follow_up(plain(MessageType::Rebind, xid, n), MessageType::Rebind, xid, r),
                (4, Some(r)) => follow_up(plain(MessageType::Release, xid, n), MessageType::Release, xid, r),
                (_, Some(r)) => follow_up(plain(MessageType::Decline, xid, n), MessageType::Decline, xid, r),
            };
            let out = send(&mut s, now, n, &msg);
            if let Some((env, _)) = out.replies.first()
                && env.message.ia_nas().any(|ia| !ia.addresses.is_empty())
            {
                last.insert(n, env.message.clone());
            }
            let mut holders = std::collections::BTreeMap::new();
            for l in s.leases().iter().filter(|l| l.is_active(now)) {
                prop_assert!(holders.insert(l.address, (l.duid.clone(), l.iaid)).is_none());
                prop_assert!((FIRST..=LAST).contains(&l.address));
            }
        }
    }
}
