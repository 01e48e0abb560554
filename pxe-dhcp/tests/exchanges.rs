//! End-to-end exchanges through the responders: proxy 67 → 4011, DORA with renew and release,
//! relays, pool exhaustion, restore, and a randomized "never one address to two clients" check.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::collections::BTreeMap;
use std::time::Duration;

use pxe_dhcp::policy::{Match, Policy, Rule};
use pxe_dhcp::pxe::{Arch, ArchKind, Firmware};
use pxe_dhcp::responder::{
    DhcpEvent, IgnoreReason, LeaseServer, LeaseState, LeaseTable, PoolRange, ProxyConfig,
    ProxyResponder, Reservation, ServerConfig,
};
use pxe_dhcp::wire::{
    DhcpOption, Flags, MachineId, MessageType, NetworkInterface, Op, OptionCode, PxeSubOption,
    Repr, UserClass, VendorOptions,
};
use pxe_proto::{Datagram, Destination, Instant, MacAddr, SansIo};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const MASK: Ipv4Addr = Ipv4Addr::new(255, 255, 0, 0);

fn mac(n: u8) -> MacAddr {
    MacAddr([0x52, 0x54, 0, 0x77, 0, n])
}

fn request(mt: MessageType, m: MacAddr, xid: u32) -> Repr {
    let mut r = Repr::new(Op::BootRequest, xid, m);
    r.options.push(DhcpOption::MessageType(mt));
    r
}

fn edk2(mt: MessageType, m: MacAddr, xid: u32) -> Repr {
    let mut r = request(mt, m, xid);
    r.flags = Flags::BROADCAST;
    r.options.extend([
        DhcpOption::MaximumMessageSize(1472),
        DhcpOption::ClientMachineIdentifier(MachineId::Uuid([7; 16])),
        DhcpOption::ClientNetworkInterface(NetworkInterface {
            kind: 1,
            major: 3,
            minor: 0,
        }),
        DhcpOption::ClientSystemArchitecture(vec![Arch(7)]),
        DhcpOption::VendorClassIdentifier(b"PXEClient:Arch:00007:UNDI:003000".to_vec()),
    ]);
    r
}

fn ipxe_bios(mt: MessageType, m: MacAddr, xid: u32) -> Repr {
    let mut r = request(mt, m, xid);
    r.options.extend([
        DhcpOption::ClientSystemArchitecture(vec![Arch(0)]),
        DhcpOption::VendorClassIdentifier(b"PXEClient:Arch:00000:UNDI:002001".to_vec()),
        DhcpOption::UserClass(UserClass::Plain(b"iPXE".to_vec())),
    ]);
    r
}

fn bytes(r: &Repr) -> Vec<u8> {
    let mut b = vec![0u8; 1500];
    let n = r.emit(&mut b).unwrap();
    b.truncate(n);
    b
}

fn dgram(payload: &[u8], from: SocketAddr, port: u16) -> Datagram<'_> {
    Datagram::new(
        from,
        SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), port),
        payload,
    )
}

fn client_addr(ip: Ipv4Addr) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), 68)
}

/// A reply as sent: message, destination, local address.
type Reply = (Repr, Destination, Option<SocketAddr>);

/// Feeds one request and drains every reply and event.
fn exchange<S: SansIo<Event = DhcpEvent>>(
    s: &mut S,
    now: Instant,
    req: &Repr,
    from: SocketAddr,
    port: u16,
) -> (Vec<Reply>, Vec<DhcpEvent>) {
    let b = bytes(req);
    s.handle_datagram(now, dgram(&b, from, port));
    let mut out = Vec::new();
    let mut buf = [0u8; 1500];
    while let Some(t) = s.poll_transmit(now, &mut buf) {
        assert!(t.len >= 300, "replies are padded to the BOOTP minimum");
        out.push((
            Repr::parse_bytes(&buf[..t.len]).unwrap(),
            t.destination,
            t.local,
        ));
    }
    let events = std::iter::from_fn(|| s.poll_event()).collect();
    (out, events)
}

fn boot_reasons(events: &[DhcpEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            DhcpEvent::Boot(b) => Some(b.decision.reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn proxy_flow_67_then_4011() {
    let mut p = ProxyResponder::new(ProxyConfig::new(SERVER), Policy::default());
    let t = Instant::from_secs(1);
    let (out, ev) = exchange(
        &mut p,
        t,
        &edk2(MessageType::Discover, mac(1), 9),
        client_addr(Ipv4Addr::UNSPECIFIED),
        67,
    );
    assert_eq!(out.len(), 1);
    let (offer, dest, local) = &out[0];
    assert_eq!(offer.message_type(), Some(MessageType::Offer));
    assert_eq!(offer.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(offer.siaddr, SERVER);
    assert_eq!(offer.file, b"ipxe.efi");
    assert_eq!(offer.xid, 9);
    assert_eq!(offer.server_identifier(), Some(SERVER));
    assert_eq!(
        offer.option(OptionCode::VendorClassIdentifier),
        Some(&DhcpOption::VendorClassIdentifier(b"PXEClient".to_vec()))
    );
    assert_eq!(
        offer.option(OptionCode::VendorSpecific),
        Some(&DhcpOption::VendorSpecific(VendorOptions::Pxe(vec![
            PxeSubOption::DiscoveryControl(8)
        ])))
    );
    assert!(
        offer.option(OptionCode::ClientMachineIdentifier).is_some(),
        "97 echoed"
    );
    assert_eq!(*dest, Destination::Broadcast { port: 68 });
    assert_eq!(*local, Some(SocketAddr::new(IpAddr::V4(SERVER), 67)));
    assert_eq!(
        boot_reasons(&ev),
        [format!(
            "52:54:00:77:00:01 arch 7 = x64 UEFI, PXE ROM (UNDI 3.0), no iPXE user class → ipxe.efi by rule 2 (pxe-uefi-x64) ({})",
            pxe_dhcp::policy::SECURE_BOOT_NOTE
        )]
    );

    // The client got its address elsewhere and asks the boot server on 4011.
    let client_ip = Ipv4Addr::new(10, 77, 0, 50);
    let mut req = edk2(MessageType::Request, mac(1), 10);
    req.ciaddr = client_ip;
    req.flags = Flags(0);
    let (out, ev) = exchange(&mut p, t, &req, client_addr(client_ip), 4011);
    let (ack, dest, local) = &out[0];
    assert_eq!(ack.message_type(), Some(MessageType::Ack));
    assert_eq!(
        (ack.file.as_slice(), ack.siaddr, ack.ciaddr),
        (&b"ipxe.efi"[..], SERVER, client_ip)
    );
    assert_eq!(*dest, Destination::Unicast(client_addr(client_ip)));
    assert_eq!(*local, Some(SocketAddr::new(IpAddr::V4(SERVER), 4011)));
    assert_eq!(boot_reasons(&ev).len(), 1);
    assert_eq!((p.stats().offers, p.stats().acks), (1, 1));
}

#[test]
fn proxy_ignores_non_pxe_clients_and_wrong_ports() {
    let mut p = ProxyResponder::new(ProxyConfig::new(SERVER), Policy::default());
    let t = Instant::ZERO;
    let from = client_addr(Ipv4Addr::UNSPECIFIED);
    let (out, ev) = exchange(
        &mut p,
        t,
        &request(MessageType::Discover, mac(2), 1),
        from,
        67,
    );
    assert!(out.is_empty());
    assert!(matches!(
        ev[..],
        [DhcpEvent::Ignored {
            reason: IgnoreReason::NotNetbootClient,
            ..
        }]
    ));
    let (out, _) = exchange(&mut p, t, &edk2(MessageType::Request, mac(2), 1), from, 67);
    assert!(
        out.is_empty(),
        "a REQUEST on 67 is for the real DHCP server"
    );
    let (out, _) = exchange(
        &mut p,
        t,
        &edk2(MessageType::Discover, mac(2), 1),
        from,
        4011,
    );
    assert!(out.is_empty());
    p.handle_datagram(t, dgram(&[1, 2, 3], from, 67));
    assert!(p.poll_transmit(t, &mut [0u8; 1500]).is_none());
    assert!(matches!(
        p.poll_event(),
        Some(DhcpEvent::Ignored {
            reason: IgnoreReason::Malformed(_),
            ..
        })
    ));
    assert_eq!(p.stats().malformed, 1);
}

#[test]
fn proxy_gives_no_boot_decision_to_a_client_with_a_malformed_pxe_option() {
    let mut p = ProxyResponder::new(ProxyConfig::new(SERVER), Policy::default());
    let from = client_addr(Ipv4Addr::UNSPECIFIED);
    for bad in [&[0u8][..], &[]] {
        let mut d = edk2(MessageType::Discover, mac(3), 1);
        d.options
            .retain(|o| !matches!(o, DhcpOption::ClientSystemArchitecture(_)));
        d.options.push(DhcpOption::Unknown {
            code: 93,
            data: bad.to_vec(),
        });
        let (out, ev) = exchange(&mut p, Instant::ZERO, &d, from, 67);
        assert!(out.is_empty(), "{out:?}");
        assert!(
            matches!(
                ev[..],
                [DhcpEvent::Ignored {
                    reason: IgnoreReason::MalformedBootOption(pxe_dhcp::Error::MalformedOption {
                        code: 93,
                        ..
                    }),
                    ..
                }]
            ),
            "{ev:?}"
        );
    }
}

#[test]
fn proxy_offer_to_ipxe_has_siaddr_file_and_http_client_gets_a_url() {
    let mut p = ProxyResponder::new(ProxyConfig::new(SERVER), Policy::default());
    let from = client_addr(Ipv4Addr::UNSPECIFIED);
    let (out, _) = exchange(
        &mut p,
        Instant::ZERO,
        &ipxe_bios(MessageType::Discover, mac(3), 5),
        from,
        67,
    );
    assert_eq!(
        (out[0].0.siaddr, out[0].0.file.as_slice()),
        (SERVER, &b"pxelinux.0"[..])
    );

    let mut http = request(MessageType::Discover, mac(4), 6);
    http.options.extend([
        DhcpOption::ClientSystemArchitecture(vec![Arch(16)]),
        DhcpOption::VendorClassIdentifier(b"HTTPClient:Arch:00016:UNDI:003000".to_vec()),
        DhcpOption::ParameterRequestList(vec![OptionCode::BootfileName]),
    ]);
    let (out, _) = exchange(&mut p, Instant::ZERO, &http, from, 67);
    let offer = &out[0].0;
    assert_eq!(offer.file, b"http://10.77.0.1/ipxe.efi");
    assert_eq!(
        offer.option(OptionCode::VendorClassIdentifier),
        Some(&DhcpOption::VendorClassIdentifier(b"HTTPClient".to_vec()))
    );
    assert_eq!(
        offer.option(OptionCode::BootfileName),
        Some(&DhcpOption::BootfileName(
            b"http://10.77.0.1/ipxe.efi\0".to_vec()
        ))
    );
    assert!(offer.option(OptionCode::VendorSpecific).is_none());
}

#[test]
fn proxy_uefi_via_4011_omits_option_43() {
    let tftp = Ipv4Addr::new(10, 77, 0, 2);
    let mut cfg = ProxyConfig::new(SERVER);
    cfg.uefi_via_4011 = true;
    cfg.next_server = Some(tftp);
    let mut p = ProxyResponder::new(cfg, Policy::default());
    let (out, _) = exchange(
        &mut p,
        Instant::ZERO,
        &edk2(MessageType::Discover, mac(1), 9),
        client_addr(Ipv4Addr::UNSPECIFIED),
        67,
    );
    assert!(out[0].0.option(OptionCode::VendorSpecific).is_none());
    assert!(out[0].0.option(OptionCode::VendorClassIdentifier).is_some());
    assert_eq!(out[0].0.siaddr, SERVER, "EDK2 asks siaddr:4011");
    let ip = Ipv4Addr::new(10, 77, 0, 50);
    let mut req = edk2(MessageType::Request, mac(1), 10);
    req.ciaddr = ip;
    let (out, _) = exchange(&mut p, Instant::ZERO, &req, client_addr(ip), 4011);
    assert_eq!(
        (out[0].0.siaddr, out[0].0.file.as_slice()),
        (tftp, &b"ipxe.efi"[..])
    );
}

#[test]
fn proxy_chainloads_an_ipxe_rom_once_then_the_next_stage() {
    let mut policy = Policy::default();
    let mut chain = Rule::new(
        "chain-ipxe-rom",
        Match {
            firmware: vec![Firmware::Ipxe],
            arch: vec![ArchKind::Bios],
            ..Match::default()
        },
        "undionly.kpxe",
    );
    chain.once = true;
    policy.rules.insert(0, chain);
    let mut p = ProxyResponder::new(ProxyConfig::new(SERVER), policy);
    let from = client_addr(Ipv4Addr::UNSPECIFIED);
    let t0 = Instant::from_secs(100);
    let file = |p: &mut ProxyResponder, t, xid| {
        let (out, _) = exchange(
            p,
            t,
            &ipxe_bios(MessageType::Discover, mac(8), xid),
            from,
            67,
        );
        String::from_utf8(out[0].0.file.clone()).unwrap()
    };
    assert_eq!(file(&mut p, t0, 1), "undionly.kpxe");
    assert_eq!(
        file(&mut p, t0 + Duration::from_secs(1), 1),
        "undionly.kpxe",
        "retransmission"
    );
    assert_eq!(
        file(&mut p, t0 + Duration::from_secs(4), 2),
        "pxelinux.0",
        "chained undionly"
    );
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    let later = t0 + Duration::from_secs(121);
    p.handle_timeout(later);
    assert_eq!(p.poll_timeout(), None);
    assert_eq!(
        file(&mut p, later, 3),
        "undionly.kpxe",
        "next boot chains again"
    );
}

fn server_cfg() -> ServerConfig {
    let mut c = ServerConfig::new(
        SERVER,
        MASK,
        PoolRange {
            first: Ipv4Addr::new(10, 77, 0, 100),
            last: Ipv4Addr::new(10, 77, 0, 102),
        },
    );
    c.routers = vec![SERVER];
    c.dns_servers = vec![SERVER];
    c.domain_name = Some("lab".into());
    c
}

fn lease_events(ev: &[DhcpEvent]) -> Vec<(Ipv4Addr, LeaseState)> {
    ev.iter()
        .filter_map(|e| match e {
            DhcpEvent::Lease(c) => Some((c.ip, c.state)),
            _ => None,
        })
        .collect()
}

#[test]
fn full_dora_renew_release() {
    let mut s = LeaseServer::new(server_cfg(), Policy::default());
    let any = client_addr(Ipv4Addr::UNSPECIFIED);
    let t = Instant::from_secs(1_700_000_000);
    let m = mac(1);
    let (out, ev) = exchange(&mut s, t, &request(MessageType::Discover, m, 1), any, 67);
    let (offer, dest, _) = &out[0];
    let ip = offer.yiaddr;
    assert_eq!(ip, Ipv4Addr::new(10, 77, 0, 100));
    assert_eq!(
        *dest,
        Destination::ToHardware {
            ip,
            chaddr: m,
            port: 68
        }
    );
    assert_eq!(
        offer.option(OptionCode::IpAddressLeaseTime),
        Some(&DhcpOption::IpAddressLeaseTime(3600))
    );
    assert_eq!(
        offer.option(OptionCode::SubnetMask),
        Some(&DhcpOption::SubnetMask(MASK))
    );
    assert_eq!(
        offer.option(OptionCode::Router),
        Some(&DhcpOption::Router(vec![SERVER]))
    );
    assert!(
        offer.option(OptionCode::VendorClassIdentifier).is_none(),
        "plain client, no PXE"
    );
    assert_eq!(lease_events(&ev), [(ip, LeaseState::Offered)]);

    let mut req = request(MessageType::Request, m, 1);
    req.flags = Flags::BROADCAST;
    req.options.push(DhcpOption::ServerIdentifier(SERVER));
    req.options.push(DhcpOption::RequestedIpAddress(ip));
    let (out, ev) = exchange(&mut s, t, &req, any, 67);
    assert_eq!(out[0].0.message_type(), Some(MessageType::Ack));
    assert_eq!(out[0].0.yiaddr, ip);
    assert_eq!(out[0].1, Destination::Broadcast { port: 68 });
    assert_eq!(lease_events(&ev), [(ip, LeaseState::Bound)]);
    assert_eq!(s.poll_timeout(), Some(t + Duration::from_secs(3600)));

    // Renewal at T1, unicast from the client.
    let t1 = t + Duration::from_secs(1800);
    let mut renew = request(MessageType::Request, m, 2);
    renew.ciaddr = ip;
    let (out, ev) = exchange(&mut s, t1, &renew, client_addr(ip), 67);
    assert_eq!(out[0].0.message_type(), Some(MessageType::Ack));
    assert_eq!(out[0].1, Destination::Unicast(client_addr(ip)));
    assert_eq!(lease_events(&ev), [(ip, LeaseState::Bound)]);
    assert_eq!(
        s.leases().get(ip).unwrap().expires,
        t1 + Duration::from_secs(3600)
    );

    // INIT-REBOOT after a reboot: same address confirmed.
    let mut reboot = request(MessageType::Request, m, 3);
    reboot.options.push(DhcpOption::RequestedIpAddress(ip));
    let (out, _) = exchange(&mut s, t1, &reboot, any, 67);
    assert_eq!(
        (out[0].0.message_type(), out[0].0.yiaddr),
        (Some(MessageType::Ack), ip)
    );

    // A wrong INIT-REBOOT address (another of our pool's, while bound to `ip`) is NAKed,
    // broadcast.
    let other = if ip == Ipv4Addr::new(10, 77, 0, 102) {
        Ipv4Addr::new(10, 77, 0, 101)
    } else {
        Ipv4Addr::new(10, 77, 0, 102)
    };
    let mut wrong = request(MessageType::Request, m, 4);
    wrong.options.push(DhcpOption::RequestedIpAddress(other));
    let (out, ev) = exchange(&mut s, t1, &wrong, any, 67);
    assert_eq!(out[0].0.message_type(), Some(MessageType::Nak));
    assert_eq!(out[0].1, Destination::Broadcast { port: 68 });
    assert!(matches!(
        ev[..],
        [DhcpEvent::Nak {
            message: "client is bound to another address",
            ..
        }]
    ));
    // One for another network gets no answer: it may be another server's (RFC 2131 §4.3.2).
    let mut elsewhere = request(MessageType::Request, m, 5);
    elsewhere
        .options
        .push(DhcpOption::RequestedIpAddress(Ipv4Addr::new(
            192, 168, 1, 5,
        )));
    let (out, ev) = exchange(&mut s, t1, &elsewhere, any, 67);
    assert!(out.is_empty(), "{out:?}");
    assert!(matches!(
        ev[..],
        [DhcpEvent::Ignored {
            reason: IgnoreReason::NotOurAddress(_),
            ..
        }]
    ));

    // Release, then the same client gets the same address back.
    let mut rel = request(MessageType::Release, m, 5);
    rel.ciaddr = ip;
    rel.options.push(DhcpOption::ServerIdentifier(SERVER));
    let (out, ev) = exchange(&mut s, t1, &rel, client_addr(ip), 67);
    assert!(out.is_empty());
    assert_eq!(lease_events(&ev), [(ip, LeaseState::Released)]);
    let (out, _) = exchange(&mut s, t1, &request(MessageType::Discover, m, 6), any, 67);
    assert_eq!(out[0].0.yiaddr, ip);

    // INFORM: configuration only, no lease time, unicast.
    let mut inform = request(MessageType::Inform, mac(9), 7);
    inform.ciaddr = Ipv4Addr::new(10, 77, 5, 5);
    let (out, _) = exchange(&mut s, t1, &inform, client_addr(inform.ciaddr), 67);
    assert_eq!(out[0].0.message_type(), Some(MessageType::Ack));
    assert!(out[0].0.option(OptionCode::IpAddressLeaseTime).is_none());
    assert_eq!(out[0].0.yiaddr, Ipv4Addr::UNSPECIFIED);
}

#[test]
fn netboot_clients_get_boot_files_from_the_lease_server() {
    let mut s = LeaseServer::new(server_cfg(), Policy::default());
    let any = client_addr(Ipv4Addr::UNSPECIFIED);
    let (out, ev) = exchange(
        &mut s,
        Instant::ZERO,
        &edk2(MessageType::Discover, mac(1), 1),
        any,
        67,
    );
    let offer = &out[0].0;
    assert_eq!(
        (offer.file.as_slice(), offer.siaddr),
        (&b"ipxe.efi"[..], SERVER)
    );
    assert!(
        offer.option(OptionCode::VendorClassIdentifier).is_none(),
        "no 60 for EDK2 (PXE-E16)"
    );
    assert_eq!(out[0].1, Destination::Broadcast { port: 68 });
    assert_eq!(boot_reasons(&ev).len(), 1);
    let (out, _) = exchange(
        &mut s,
        Instant::ZERO,
        &ipxe_bios(MessageType::Discover, mac(2), 2),
        any,
        67,
    );
    let offer = &out[0].0;
    assert_eq!(offer.file, b"pxelinux.0");
    assert_eq!(
        offer.option(OptionCode::VendorClassIdentifier),
        Some(&DhcpOption::VendorClassIdentifier(b"PXEClient".to_vec())),
        "iPXE gets 60 PXEClient (and 43) so it skips its proxyDHCP wait"
    );
    assert!(offer.option(OptionCode::VendorSpecific).is_some());
}

#[test]
fn relayed_request_goes_back_through_the_relay_with_option_82() {
    let mut cfg = server_cfg();
    cfg.routers.clear();
    cfg.pools.push(PoolRange {
        first: Ipv4Addr::new(10, 78, 0, 10),
        last: Ipv4Addr::new(10, 78, 0, 20),
    });
    let mut s = LeaseServer::new(cfg, Policy::default());
    let relay = Ipv4Addr::new(10, 78, 0, 1);
    let agent = DhcpOption::RelayAgentInformation(vec![1, 4, b'p', b'o', b'r', b't']);
    let mut d = request(MessageType::Discover, mac(1), 1);
    d.giaddr = relay;
    d.hops = 1;
    d.options.push(agent.clone());
    let from = SocketAddr::new(IpAddr::V4(relay), 67);
    let (out, _) = exchange(&mut s, Instant::ZERO, &d, from, 67);
    let (offer, dest, _) = &out[0];
    assert_eq!(
        offer.yiaddr,
        Ipv4Addr::new(10, 78, 0, 10),
        "pool on the relay's subnet"
    );
    assert_eq!(offer.giaddr, relay);
    assert_eq!(
        *dest,
        Destination::Unicast(SocketAddr::new(IpAddr::V4(relay), 67))
    );
    assert_eq!(offer.options.last(), Some(&agent));
    assert_eq!(
        offer.option(OptionCode::Router),
        Some(&DhcpOption::Router(vec![relay]))
    );

    let mut r = request(MessageType::Request, mac(1), 1);
    r.giaddr = relay;
    r.options.extend([
        DhcpOption::ServerIdentifier(SERVER),
        DhcpOption::RequestedIpAddress(offer.yiaddr),
        agent.clone(),
    ]);
    let (out, _) = exchange(&mut s, Instant::ZERO, &r, from, 67);
    assert_eq!(out[0].0.message_type(), Some(MessageType::Ack));
    assert_eq!(
        out[0].1,
        Destination::Unicast(SocketAddr::new(IpAddr::V4(relay), 67))
    );
    assert_eq!(out[0].0.options.last(), Some(&agent));
}

#[test]
fn pool_exhaustion_never_duplicates() {
    let mut s = LeaseServer::new(server_cfg(), Policy::default());
    let any = client_addr(Ipv4Addr::UNSPECIFIED);
    let t = Instant::ZERO;
    let mut given = Vec::new();
    for n in 1..=3 {
        let (out, _) = exchange(
            &mut s,
            t,
            &request(MessageType::Discover, mac(n), u32::from(n)),
            any,
            67,
        );
        let ip = out[0].0.yiaddr;
        let mut r = request(MessageType::Request, mac(n), u32::from(n));
        r.options.extend([
            DhcpOption::ServerIdentifier(SERVER),
            DhcpOption::RequestedIpAddress(ip),
        ]);
        let (out, _) = exchange(&mut s, t, &r, any, 67);
        assert_eq!(out[0].0.message_type(), Some(MessageType::Ack));
        given.push(ip);
    }
    given.sort();
    given.dedup();
    assert_eq!(given.len(), 3);
    // The fourth client gets nothing...
    let (out, ev) = exchange(
        &mut s,
        t,
        &request(MessageType::Discover, mac(4), 4),
        any,
        67,
    );
    assert!(out.is_empty());
    assert!(matches!(
        ev[..],
        [DhcpEvent::Ignored {
            reason: IgnoreReason::PoolExhausted,
            ..
        }]
    ));
    // ...and a NAK when it asks for a taken address.
    let mut r = request(MessageType::Request, mac(4), 5);
    r.options.push(DhcpOption::RequestedIpAddress(given[0]));
    let (out, _) = exchange(&mut s, t, &r, any, 67);
    assert_eq!(out[0].0.message_type(), Some(MessageType::Nak));
    // A REQUEST for another server's offer is not answered.
    let mut other = request(MessageType::Request, mac(4), 6);
    other.options.extend([
        DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 77, 0, 2)),
        DhcpOption::RequestedIpAddress(given[1]),
    ]);
    let (out, _) = exchange(&mut s, t, &other, any, 67);
    assert!(out.is_empty());
}

#[test]
fn decline_reservations_expiry_and_restore() {
    let mut cfg = server_cfg();
    cfg.reservations.push(Reservation {
        mac: mac(7),
        ip: Ipv4Addr::new(10, 77, 0, 7),
    });
    let mut s = LeaseServer::new(cfg.clone(), Policy::default());
    let any = client_addr(Ipv4Addr::UNSPECIFIED);
    let t = Instant::from_secs(1000);
    let (out, _) = exchange(
        &mut s,
        t,
        &request(MessageType::Discover, mac(7), 1),
        any,
        67,
    );
    assert_eq!(out[0].0.yiaddr, Ipv4Addr::new(10, 77, 0, 7), "reservation");

    let (out, _) = exchange(
        &mut s,
        t,
        &request(MessageType::Discover, mac(1), 2),
        any,
        67,
    );
    let declined = out[0].0.yiaddr;
    let mut dec = request(MessageType::Decline, mac(1), 2);
    dec.options.extend([
        DhcpOption::RequestedIpAddress(declined),
        DhcpOption::ServerIdentifier(SERVER),
    ]);
    let (_, ev) = exchange(&mut s, t, &dec, any, 67);
    assert_eq!(lease_events(&ev), [(declined, LeaseState::Declined)]);
    let (out, _) = exchange(
        &mut s,
        t,
        &request(MessageType::Discover, mac(1), 3),
        any,
        67,
    );
    assert_ne!(out[0].0.yiaddr, declined);
    let bound = out[0].0.yiaddr;
    let mut r = request(MessageType::Request, mac(1), 3);
    r.options.extend([
        DhcpOption::ServerIdentifier(SERVER),
        DhcpOption::RequestedIpAddress(bound),
    ]);
    exchange(&mut s, t, &r, any, 67);

    // Restart: the restored table keeps the binding, so another client never gets it.
    let saved: Vec<_> = s.leases().iter().cloned().collect();
    let mut s2 = LeaseServer::with_leases(cfg, Policy::default(), LeaseTable::from_leases(saved));
    let (out, _) = exchange(
        &mut s2,
        t,
        &request(MessageType::Discover, mac(2), 4),
        any,
        67,
    );
    assert!(![bound, declined].contains(&out[0].0.yiaddr));
    let (out, _) = exchange(
        &mut s2,
        t,
        &request(MessageType::Discover, mac(1), 5),
        any,
        67,
    );
    assert_eq!(
        out[0].0.yiaddr, bound,
        "the client keeps its address across a restart"
    );

    // Offers not taken up expire by themselves.
    let deadline = s2.poll_timeout().unwrap();
    assert_eq!(deadline, t + Duration::from_secs(60));
    s2.handle_timeout(deadline);
    let ev: Vec<_> = std::iter::from_fn(|| s2.poll_event()).collect();
    assert!(
        lease_events(&ev)
            .iter()
            .all(|&(_, st)| st == LeaseState::Expired)
    );
    assert!(!ev.is_empty());
}

#[test]
fn restore_repairs_duplicates() {
    use pxe_dhcp::responder::Lease;
    let ip = Ipv4Addr::new(10, 77, 0, 100);
    let other = Ipv4Addr::new(10, 77, 0, 101);
    let l = |ip, m, e| Lease {
        ip,
        mac: Some(m),
        client_id: None,
        state: LeaseState::Bound,
        expires: Instant::from_secs(e),
    };
    let t = LeaseTable::from_leases([l(ip, mac(1), 50), l(ip, mac(2), 90), l(other, mac(2), 70)]);
    assert_eq!(t.len(), 2);
    assert_eq!(t.get(ip).unwrap().mac, Some(mac(2)));
    assert_eq!(
        t.get(other).unwrap().state,
        LeaseState::Expired,
        "one address per client"
    );
}

/// The randomized test's clients: chaddr, option 61, and which client that is (RFC 2131 §4.2).
/// 0 and 1 are one client (no identifier, `01` + MAC); 2 and 3 are another (one DUID-based
/// identifier on two MACs), on the first one's MAC.
fn identity(c: u8) -> (MacAddr, Option<Vec<u8>>, u8) {
    let duid = vec![0xff, 0, 0, 0, 1, 0, 3, 0, 1, 0x52, 0x54, 0, 0x77, 0, 0];
    let mut ipxe = vec![1];
    ipxe.extend_from_slice(&mac(0).0);
    match c {
        0 => (mac(0), None, 0),
        1 => (mac(0), Some(ipxe), 0),
        2 => (mac(0), Some(duid), 2),
        3 => (mac(1), Some(duid), 2),
        n => (mac(n), None, n),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Random clients doing random things, with restarts from saved state: an address is never
    /// offered or ACKed to a second client while another holds it, clients are told apart by
    /// option 61 (echoed in every reply), and arbitrary bytes never panic either responder.
    #[test]
    fn never_one_address_to_two_clients(
        ops in proptest::collection::vec((0u8..6, 0u8..6, 0u8..6, proptest::collection::vec(proptest::num::u8::ANY, 0..64)), 1..80)
    ) {
        let mut s = LeaseServer::new(server_cfg(), Policy::default());
        let mut p = ProxyResponder::new(ProxyConfig::new(SERVER), Policy::default());
        let any = client_addr(Ipv4Addr::UNSPECIFIED);
        let mut now = Instant::from_secs(10);
        let mut holder: BTreeMap<Ipv4Addr, (u8, Instant)> = BTreeMap::new();
        let mut offered: BTreeMap<u8, Ipv4Addr> = BTreeMap::new();
        for (xid, (op, client, ipn, junk)) in ops.into_iter().enumerate() {
            let (chaddr, id, m) = identity(client);
            let request = |mt, xid| {
                let mut r = request(mt, chaddr, xid);
                r.options.extend(id.clone().map(DhcpOption::ClientIdentifier));
                r
            };
            let xid = xid as u32;
            let pool_ip = Ipv4Addr::new(10, 77, 0, 99 + ipn);
            let req = match op {
                0 => request(MessageType::Discover, xid),
                1 => {
                    let mut r = request(MessageType::Request, xid);
                    r.options.extend([
                        DhcpOption::ServerIdentifier(SERVER),
                        DhcpOption::RequestedIpAddress(offered.get(&m).copied().unwrap_or(pool_ip)),
                    ]);
                    r
                }
                2 => {
                    let mut r = request(MessageType::Request, xid);
                    r.options.push(DhcpOption::RequestedIpAddress(pool_ip));
                    r
                }
                3 => {
                    let mut r = request(MessageType::Release, xid);
                    r.ciaddr = pool_ip;
                    r
                }
                4 if ipn == 5 => {
                    // Restart: the state the driver saved, restored into a new server.
                    let saved: Vec<_> = s.leases().iter().cloned().collect();
                    s = LeaseServer::with_leases(server_cfg(), Policy::default(), LeaseTable::from_leases(saved));
                    continue;
                }
                4 => {
                    now += Duration::from_secs(u64::from(ipn) * 900);
                    s.handle_timeout(now);
                    while s.poll_event().is_some() {}
                    let mut bad = junk.clone();
                    bad.resize(300, 0);
                    s.handle_datagram(now, dgram(&junk, any, 67));
                    p.handle_datagram(now, dgram(&bad, any, 67));
                    while s.poll_transmit(now, &mut [0u8; 1500]).is_some() {}
                    while p.poll_transmit(now, &mut [0u8; 1500]).is_some() {}
                    continue;
                }
                _ => {
                    let mut r = request(MessageType::Decline, xid);
                    r.options.push(DhcpOption::RequestedIpAddress(pool_ip));
                    r
                }
            };
            let (out, _) = exchange(&mut s, now, &req, any, 67);
            if op == 3 && holder.get(&pool_ip).is_some_and(|h| h.0 == m) {
                holder.remove(&pool_ip);
            }
            if op == 5 && holder.get(&pool_ip).is_some_and(|h| h.0 == m) {
                holder.remove(&pool_ip);
            }
            for (r, _, _) in out {
                proptest::prop_assert_eq!(
                    r.option(OptionCode::ClientIdentifier).cloned(),
                    id.clone().map(DhcpOption::ClientIdentifier),
                    "option 61 echoed (RFC 6842)"
                );
                match r.message_type() {
                    Some(MessageType::Offer) => {
                        offered.insert(m, r.yiaddr);
                        if let Some(&(h, until)) = holder.get(&r.yiaddr) {
                            proptest::prop_assert!(h == m || now >= until, "offered {} held by {}", r.yiaddr, h);
                        }
                    }
                    Some(MessageType::Ack) => {
                        if let Some(&(h, until)) = holder.get(&r.yiaddr) {
                            proptest::prop_assert!(h == m || now >= until, "acked {} held by {}", r.yiaddr, h);
                        }
                        // The client's previous address is given up.
                        holder.retain(|_, (h, _)| *h != m);
                        holder.insert(r.yiaddr, (m, now + Duration::from_secs(3600)));
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The reservation test's option 61 values: none, the hardware form of either MAC (so one
/// client may claim the other's hardware key), two DUIDs, and hostile ones (empty, one byte,
/// 255 bytes).
fn hostile_id(n: u8) -> Option<Vec<u8>> {
    let hw = |m: MacAddr| [&[1][..], &m.0].concat();
    match n {
        0 => None,
        1 => Some(hw(mac(10))),
        2 => Some(hw(mac(11))),
        3 => Some(vec![0xff, 0, 0, 0, 1, 0, 3, 0, 1, 9, 9]),
        4 => Some(vec![0xff, 0, 0, 0, 2, 0, 3, 0, 1, 9, 9]),
        5 => Some(vec![]),
        6 => Some(vec![7]),
        _ => Some(vec![0xee; 255]),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Two MACs, one with a reservation, sending any of `hostile_id`'s identifiers, with
    /// restarts: the reserved address only ever goes to its MAC (whichever identifier asks);
    /// any other address is never offered or ACKed to a second client while one holds it; no
    /// client has two active records; nothing panics.
    #[test]
    fn reservations_and_hostile_client_ids(
        ops in proptest::collection::vec((0u8..8, proptest::bool::ANY, 0u8..8, 0u8..6), 1..60)
    ) {
        use pxe_dhcp::responder::ClientKey;
        // Inside the pool, so only the reservation keeps other clients off it.
        let fixed = Ipv4Addr::new(10, 77, 0, 101);
        let cfg = || {
            let mut c = server_cfg();
            c.reservations.push(Reservation { mac: mac(10), ip: fixed });
            c
        };
        let mut s = LeaseServer::new(cfg(), Policy::default());
        let mut now = Instant::from_secs(1000);
        let mut holder: BTreeMap<Ipv4Addr, (String, MacAddr, Instant)> = BTreeMap::new();
        let mut offered: BTreeMap<String, Ipv4Addr> = BTreeMap::new();
        for (xid, (op, second, id, ipn)) in ops.into_iter().enumerate() {
            let m = mac(if second { 11 } else { 10 });
            let ip = if ipn == 0 { fixed } else { Ipv4Addr::new(10, 77, 0, 99 + ipn) };
            let mt = match op {
                0 => MessageType::Discover,
                1..=3 => MessageType::Request,
                4 => MessageType::Release,
                5 => MessageType::Decline,
                6 => {
                    now += Duration::from_secs(u64::from(ipn) * 700);
                    s.handle_timeout(now);
                    while s.poll_event().is_some() {}
                    continue;
                }
                _ => {
                    let saved: Vec<_> = s.leases().iter().cloned().collect();
                    s = LeaseServer::with_leases(cfg(), Policy::default(), LeaseTable::from_leases(saved));
                    continue;
                }
            };
            let mut r = request(mt, m, xid as u32);
            r.options.extend(hostile_id(id).map(DhcpOption::ClientIdentifier));
            let who = ClientKey::of(&r).to_string();
            match op {
                1 => r.options.extend([
                    DhcpOption::ServerIdentifier(SERVER),
                    DhcpOption::RequestedIpAddress(offered.get(&who).copied().unwrap_or(ip)),
                ]),
                2 | 5 => r.options.push(DhcpOption::RequestedIpAddress(ip)),
                3 | 4 => r.ciaddr = ip,
                _ => {}
            }
            if (op == 4 || op == 5) && holder.get(&ip).is_some_and(|h| h.0 == who) {
                holder.remove(&ip);
            }
            let (out, _) = exchange(&mut s, now, &r, client_addr(r.ciaddr), 67);
            for (reply, _, _) in out {
                proptest::prop_assert_eq!(ClientKey::of(&reply).to_string(), who.clone());
                let until = match reply.message_type() {
                    Some(MessageType::Offer) => {
                        offered.insert(who.clone(), reply.yiaddr);
                        now + Duration::from_secs(60)
                    }
                    Some(MessageType::Ack) => now + Duration::from_secs(3600),
                    _ => continue,
                };
                let got = reply.yiaddr;
                proptest::prop_assert!(got != fixed || m == mac(10), "reserved address to {}", m);
                if let Some((h, hm, u)) = holder.get(&got) {
                    // The one sharing allowed: the reserved MAC's identifiers take turns.
                    let same_machine = got == fixed && *hm == m;
                    proptest::prop_assert!(*h == who || now >= *u || same_machine, "{} to {} while {} holds it", got, who, h);
                }
                holder.retain(|_, h| h.0 != who);
                holder.insert(got, (who.clone(), m, until));
            }
            let mut active: BTreeMap<String, Ipv4Addr> = BTreeMap::new();
            for l in s.leases().iter().filter(|l| l.is_active(now)) {
                if let Some(k) = l.key() {
                    proptest::prop_assert!(active.insert(k.to_string(), l.ip).is_none(), "{} holds two addresses", k);
                }
            }
        }
    }
}

#[test]
fn boot_server_request_echoes_the_boot_item() {
    let mut p = ProxyResponder::new(ProxyConfig::new(SERVER), Policy::default());
    let ip = Ipv4Addr::new(10, 77, 0, 50);
    let mut req = edk2(MessageType::Request, mac(1), 11);
    req.ciaddr = ip;
    let item = PxeSubOption::BootItem {
        server_type: 0x8000,
        layer: 0,
    };
    req.options
        .push(DhcpOption::VendorSpecific(VendorOptions::Pxe(vec![
            item.clone(),
        ])));
    let (out, _) = exchange(&mut p, Instant::ZERO, &req, client_addr(ip), 4011);
    assert_eq!(
        out[0].0.option(OptionCode::VendorSpecific),
        Some(&DhcpOption::VendorSpecific(VendorOptions::Pxe(vec![item])))
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Mutated and truncated real-looking requests never panic a responder.
    #[test]
    fn mutated_requests_never_panic(
        edits in proptest::collection::vec((0usize..400, proptest::num::u8::ANY), 0..12),
        cut in 0usize..420,
        port in proptest::sample::select(vec![67u16, 4011]),
    ) {
        let mut ipxe = ipxe_bios(MessageType::Request, mac(3), 3);
        ipxe.options.push(DhcpOption::RelayAgentInformation(vec![1, 2, 3]));
        for base in [bytes(&edk2(MessageType::Discover, mac(1), 1)), bytes(&ipxe)] {
            let mut b = base;
            for &(at, v) in &edits {
                if let Some(x) = b.get_mut(at) {
                    *x = v;
                }
            }
            b.truncate(cut.max(1));
            let from = client_addr(Ipv4Addr::new(10, 77, 0, 9));
            let mut s = LeaseServer::new(server_cfg(), Policy::default());
            let mut p = ProxyResponder::new(ProxyConfig::new(SERVER), Policy::default());
            s.handle_datagram(Instant::ZERO, dgram(&b, from, port));
            p.handle_datagram(Instant::ZERO, dgram(&b, from, port));
            let mut out = [0u8; 1500];
            while let Some(t) = s.poll_transmit(Instant::ZERO, &mut out) {
                proptest::prop_assert!(Repr::parse_bytes(&out[..t.len]).is_ok());
            }
            while let Some(t) = p.poll_transmit(Instant::ZERO, &mut out[..576]) {
                proptest::prop_assert!(t.len <= 576);
            }
        }
    }
}

#[test]
fn never_offers_the_network_broadcast_or_server_address() {
    let cfg = ServerConfig::new(
        SERVER,
        Ipv4Addr::new(255, 255, 255, 0),
        PoolRange {
            first: Ipv4Addr::new(10, 77, 0, 0),
            last: Ipv4Addr::new(10, 77, 0, 255),
        },
    );
    let mut s = LeaseServer::new(cfg, Policy::default());
    let any = client_addr(Ipv4Addr::UNSPECIFIED);
    let mut seen = Vec::new();
    for n in 0..=255u8 {
        let (out, _) = exchange(
            &mut s,
            Instant::ZERO,
            &request(MessageType::Discover, mac(n), u32::from(n)),
            any,
            67,
        );
        seen.extend(out.iter().map(|o| o.0.yiaddr));
    }
    assert_eq!(seen.len(), 253);
    for bad in [
        Ipv4Addr::new(10, 77, 0, 0),
        SERVER,
        Ipv4Addr::new(10, 77, 0, 255),
    ] {
        assert!(!seen.contains(&bad), "{bad}");
    }
}

#[test]
fn lease_server_chainloads_an_ipxe_rom_once_across_its_dora() {
    let mut policy = Policy::default();
    let mut chain = Rule::new(
        "chain-ipxe-rom",
        Match {
            firmware: vec![Firmware::Ipxe],
            arch: vec![ArchKind::Bios],
            ..Match::default()
        },
        "undionly.kpxe",
    );
    chain.once = true;
    policy.rules.insert(0, chain);
    let mut s = LeaseServer::new(server_cfg(), policy);
    let any = client_addr(Ipv4Addr::UNSPECIFIED);
    let t = Instant::from_secs(50);
    let dora = |s: &mut LeaseServer, xid| {
        let (out, _) = exchange(
            s,
            t,
            &ipxe_bios(MessageType::Discover, mac(5), xid),
            any,
            67,
        );
        let offer = out[0].0.clone();
        let mut r = ipxe_bios(MessageType::Request, mac(5), xid);
        r.options.extend([
            DhcpOption::ServerIdentifier(SERVER),
            DhcpOption::RequestedIpAddress(offer.yiaddr),
        ]);
        let (out, ev) = exchange(s, t, &r, any, 67);
        (offer.file, out[0].0.file.clone(), boot_reasons(&ev))
    };
    let (offered, acked, _) = dora(&mut s, 1);
    assert_eq!(
        (offered.as_slice(), acked.as_slice()),
        (&b"undionly.kpxe"[..], &b"undionly.kpxe"[..])
    );
    let (offered, acked, reasons) = dora(&mut s, 2);
    assert_eq!(
        (offered.as_slice(), acked.as_slice()),
        (&b"pxelinux.0"[..], &b"pxelinux.0"[..])
    );
    assert!(
        reasons[0].contains("by rule 5 (ipxe-bios) (rule 1 chain-ipxe-rom skipped"),
        "{reasons:?}"
    );
}

/// DORA for `m` at `t`; returns the bound address.
fn bind(s: &mut LeaseServer, m: MacAddr, xid: u32, t: Instant) -> Ipv4Addr {
    let any = client_addr(Ipv4Addr::UNSPECIFIED);
    let (out, _) = exchange(s, t, &request(MessageType::Discover, m, xid), any, 67);
    let ip = out[0].0.yiaddr;
    let mut r = request(MessageType::Request, m, xid);
    r.options.extend([
        DhcpOption::ServerIdentifier(SERVER),
        DhcpOption::RequestedIpAddress(ip),
    ]);
    let (out, _) = exchange(s, t, &r, any, 67);
    assert_eq!(out[0].0.message_type(), Some(MessageType::Ack));
    ip
}

#[test]
fn release_and_decline_act_only_for_the_holder_and_this_server() {
    let mut s = LeaseServer::new(server_cfg(), Policy::default());
    let t = Instant::from_secs(1000);
    let ip = bind(&mut s, mac(1), 1, t);
    let other_server = Ipv4Addr::new(10, 77, 0, 2);
    let ignored = |ev: &[DhcpEvent]| -> Vec<IgnoreReason> {
        ev.iter()
            .filter_map(|e| match e {
                DhcpEvent::Ignored { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    };
    let any = client_addr(Ipv4Addr::UNSPECIFIED);
    let release = |m: MacAddr, xid: u32, server: Ipv4Addr| {
        let mut r = request(MessageType::Release, m, xid);
        r.ciaddr = ip;
        r.options.push(DhcpOption::ServerIdentifier(server));
        r
    };
    let decline = |m: MacAddr, xid: u32, server: Ipv4Addr| {
        let mut r = request(MessageType::Decline, m, xid);
        r.options.extend([
            DhcpOption::RequestedIpAddress(ip),
            DhcpOption::ServerIdentifier(server),
        ]);
        r
    };
    // Another client releasing or declining the address.
    let (out, ev) = exchange(&mut s, t, &release(mac(2), 2, SERVER), client_addr(ip), 67);
    assert!(out.is_empty());
    assert_eq!(ignored(&ev), [IgnoreReason::UnknownBinding]);
    let (_, ev) = exchange(&mut s, t, &decline(mac(2), 3, SERVER), any, 67);
    assert_eq!(ignored(&ev), [IgnoreReason::UnknownBinding]);
    // The holder, but addressed to another server (RFC 2131 §4.4.1 table 5, §4.4.6).
    let (_, ev) = exchange(
        &mut s,
        t,
        &release(mac(1), 4, other_server),
        client_addr(ip),
        67,
    );
    assert_eq!(ignored(&ev), [IgnoreReason::OtherServer]);
    let (_, ev) = exchange(&mut s, t, &decline(mac(1), 5, other_server), any, 67);
    assert_eq!(ignored(&ev), [IgnoreReason::OtherServer]);
    assert_eq!(s.leases().get(ip).unwrap().state, LeaseState::Bound);
    assert_eq!(s.leases().get(ip).unwrap().mac, Some(mac(1)));
    // The holder, to this server.
    let (_, ev) = exchange(&mut s, t, &release(mac(1), 6, SERVER), client_addr(ip), 67);
    assert_eq!(lease_events(&ev), [(ip, LeaseState::Released)]);
}

#[test]
fn nak_through_a_relay_goes_to_the_relay_with_the_broadcast_bit() {
    let mut cfg = server_cfg();
    // Only an authoritative server NAKs an address from another network.
    cfg.authoritative = true;
    cfg.pools.push(PoolRange {
        first: Ipv4Addr::new(10, 78, 0, 10),
        last: Ipv4Addr::new(10, 78, 0, 20),
    });
    let mut s = LeaseServer::new(cfg, Policy::default());
    let relay = Ipv4Addr::new(10, 78, 0, 1);
    let agent = DhcpOption::RelayAgentInformation(vec![1, 2, b'p', b'1']);
    // INIT-REBOOT on the relay's link for an address from another network (RFC 2131 §4.3.2).
    let mut r = request(MessageType::Request, mac(1), 1);
    r.giaddr = relay;
    r.options.extend([
        DhcpOption::RequestedIpAddress(Ipv4Addr::new(10, 77, 0, 150)),
        agent.clone(),
    ]);
    let from = SocketAddr::new(IpAddr::V4(relay), 67);
    let (out, _) = exchange(&mut s, Instant::ZERO, &r, from, 67);
    let (nak, dest, _) = &out[0];
    assert_eq!(nak.message_type(), Some(MessageType::Nak));
    assert_eq!(
        *dest,
        Destination::Unicast(SocketAddr::new(IpAddr::V4(relay), 67))
    );
    assert!(nak.flags.broadcast(), "the relay broadcasts the NAK");
    assert_eq!(nak.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(nak.options.last(), Some(&agent));
}

#[test]
fn offers_to_non_ethernet_clients_are_broadcast() {
    let mut s = LeaseServer::new(server_cfg(), Policy::default());
    let mut d = request(MessageType::Discover, MacAddr::default(), 1);
    // IP over InfiniBand: htype 32, hlen 0, chaddr zero (RFC 4390); identified by option 61.
    d.htype = 32;
    d.hlen = 0;
    d.options.push(DhcpOption::ClientIdentifier(vec![0xff; 20]));
    let (out, _) = exchange(
        &mut s,
        Instant::ZERO,
        &d,
        client_addr(Ipv4Addr::UNSPECIFIED),
        67,
    );
    assert_eq!(out[0].1, Destination::Broadcast { port: 68 });
    assert_eq!((out[0].0.htype, out[0].0.hlen), (32, 0));
}

#[test]
fn replies_stay_within_the_clients_option_57() {
    use pxe_dhcp::policy::{ExtraOption, ExtraValue};
    let mut policy = Policy::default();
    for r in &mut policy.rules {
        r.options.push(ExtraOption {
            code: 250,
            value: ExtraValue::Bytes(vec![7; 400]),
        });
    }
    let mut p = ProxyResponder::new(ProxyConfig::new(SERVER), policy);
    let any = client_addr(Ipv4Addr::UNSPECIFIED);
    // No option 57: the limit is 576 - 28 bytes of IP and UDP headers (RFC 2131 §2).
    let mut d = edk2(MessageType::Discover, mac(1), 1);
    d.options
        .retain(|o| o.code() != OptionCode::MaximumMessageSize);
    let (out, ev) = exchange(&mut p, Instant::ZERO, &d, any, 67);
    assert!(out.is_empty(), "a 700-byte offer does not fit in 548");
    assert!(ev.iter().any(|e| matches!(
        e,
        DhcpEvent::Ignored {
            reason: IgnoreReason::EmitFailed(_),
            ..
        }
    )));
    // Option 57 below 576 does not lower the floor; 1472 lets the offer through.
    d.options.push(DhcpOption::MaximumMessageSize(300));
    let (out, _) = exchange(&mut p, Instant::ZERO, &d, any, 67);
    assert!(out.is_empty());
    d.set_option(DhcpOption::MaximumMessageSize(1472));
    let (out, _) = exchange(&mut p, Instant::ZERO, &d, any, 67);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].0.option(OptionCode::Unknown(250)),
        Some(&DhcpOption::Unknown {
            code: 250,
            data: vec![7; 400]
        })
    );
}

#[test]
fn replies_list_requested_options_in_the_clients_order() {
    let mut s = LeaseServer::new(server_cfg(), Policy::default());
    let mut d = edk2(MessageType::Discover, mac(1), 1);
    let asked = [
        OptionCode::BootfileName,
        OptionCode::Router,
        OptionCode::SubnetMask,
        OptionCode::IpAddressLeaseTime,
    ];
    d.options
        .push(DhcpOption::ParameterRequestList(asked.to_vec()));
    let agent = DhcpOption::RelayAgentInformation(vec![1, 1, 9]);
    d.options.push(agent.clone());
    let (out, _) = exchange(
        &mut s,
        Instant::ZERO,
        &d,
        client_addr(Ipv4Addr::UNSPECIFIED),
        67,
    );
    let codes: Vec<OptionCode> = out[0].0.options.iter().map(DhcpOption::code).collect();
    // RFC 2132 §9.8: requested options in the requested order, after 53 and 54 and the subnet
    // mask, which must precede the router option whatever the client asks (§3.3); 82 last.
    assert_eq!(
        codes[..6],
        [
            OptionCode::MessageType,
            OptionCode::ServerIdentifier,
            OptionCode::SubnetMask,
            OptionCode::BootfileName,
            OptionCode::Router,
            OptionCode::IpAddressLeaseTime,
        ]
    );
    assert!(codes[6..].contains(&OptionCode::RenewalTime));
    assert_eq!(out[0].0.options.last(), Some(&agent));
}

#[test]
fn a_bound_client_asking_for_another_address_is_naked() {
    let mut s = LeaseServer::new(server_cfg(), Policy::default());
    let t = Instant::from_secs(1000);
    let ip = bind(&mut s, mac(1), 1, t);
    let other = Ipv4Addr::new(10, 77, 0, 102);
    assert_ne!(ip, other);
    assert!(s.leases().get(other).is_none(), "free, in the pool");
    // INIT-REBOOT with a stale address (RFC 2131 §4.3.2: the client's notion is wrong).
    let mut reboot = request(MessageType::Request, mac(1), 2);
    reboot.options.push(DhcpOption::RequestedIpAddress(other));
    let (out, ev) = exchange(&mut s, t, &reboot, client_addr(Ipv4Addr::UNSPECIFIED), 67);
    assert_eq!(out[0].0.message_type(), Some(MessageType::Nak));
    assert!(matches!(
        ev[..],
        [DhcpEvent::Nak {
            message: "client is bound to another address",
            ..
        }]
    ));
    // RENEWING from the wrong address.
    let mut renew = request(MessageType::Request, mac(1), 3);
    renew.ciaddr = other;
    let (out, _) = exchange(&mut s, t, &renew, client_addr(other), 67);
    assert_eq!(out[0].0.message_type(), Some(MessageType::Nak));
    assert_eq!(s.leases().get(ip).unwrap().state, LeaseState::Bound);
    assert!(s.leases().get(other).is_none());
    // Its own address is still confirmed.
    let mut reboot = request(MessageType::Request, mac(1), 4);
    reboot.options.push(DhcpOption::RequestedIpAddress(ip));
    let (out, _) = exchange(&mut s, t, &reboot, client_addr(Ipv4Addr::UNSPECIFIED), 67);
    assert_eq!(
        (out[0].0.message_type(), out[0].0.yiaddr),
        (Some(MessageType::Ack), ip)
    );
}
