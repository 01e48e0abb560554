//! DHCPv6 targets: the message and relay-chain codec, and both DHCPv6 responders fed arbitrary
//! sequences of client messages and clock steps.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use arbitrary::Arbitrary;
use pxe_dhcp::policy::Policy;
use pxe_dhcp::pxe::ClientInfo;
use pxe_dhcp::v6::{
    BootResponder, BootResponderConfig, Dhcp6Option, Duid, Envelope, IaAddress, IaNa, Message,
    MessageType, OptionCode, PXE_ENTERPRISE, RelayMessage, Server, ServerConfig, VendorClass,
};
use pxe_proto::{Datagram, Duration, Instant, MacAddr, SansIo};

use crate::decode;

/// Parse → emit → parse for a datagram (relay chain included) and for the bare message format;
/// classification and the default policy run on whatever parses.
pub fn dhcp6_message(data: &[u8]) {
    if let Ok(env) = Envelope::parse(data) {
        let bytes = env
            .to_bytes()
            .unwrap_or_else(|e| panic!("parsed envelope does not emit: {e}\n{env:?}"));
        let again = Envelope::parse(&bytes)
            .unwrap_or_else(|e| panic!("emitted envelope does not parse: {e}\n{env:?}"));
        assert_eq!(again, env, "parse(emit(parse(x))) differs");
        let info = ClientInfo::from_v6(&env, Ipv6Addr::LOCALHOST);
        let _ = (info.summary(), info.is_netboot(), info.is_uefi());
        let _ = Policy::with_http(8080).decide(&info, SERVER);
    }
    if let Ok(m) = Message::parse_bytes(data) {
        let len = m.buffer_len().expect("a parsed message has a length");
        let mut buf = vec![0u8; len];
        assert_eq!(m.emit(&mut buf).expect("emits"), len);
        assert_eq!(Message::parse_bytes(&buf).expect("re-parses"), m);
        // A short buffer is an error, never a panic or a partial write reported as whole.
        let _ = m.emit(&mut buf[..len / 2]);
    }
}

const SERVER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0);
const FIRST: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0100;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Identity {
    Plain,
    Edk2,
    Ipxe,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum AddrSel {
    Range(u8),
    Other(u128),
}

#[derive(Arbitrary, Debug)]
struct Msg {
    client: u8,
    msg_type: u8,
    xid: u8,
    identity: Identity,
    ias: Vec<(u8, Vec<AddrSel>)>,
    server_id: Option<bool>,
    rapid_commit: bool,
    relayed: bool,
    unicast: bool,
}

#[derive(Arbitrary, Debug)]
enum Step {
    Send(Msg),
    Raw(Vec<u8>),
    Wait(u16),
}

#[derive(Arbitrary, Debug)]
struct Input {
    range_size: u8,
    rapid_commit: bool,
    steps: Vec<Step>,
}

fn mac(n: u8) -> MacAddr {
    MacAddr([0x52, 0x54, 0, 0, 0, n])
}

fn build(m: &Msg, range: u128, server: &Duid) -> Vec<u8> {
    let n = m.client % 8;
    let mut msg = Message::new(MessageType::from(m.msg_type % 14), u32::from(m.xid));
    msg.options
        .push(Dhcp6Option::ClientId(Duid::from_mac(mac(n))));
    match m.server_id {
        Some(true) => msg.options.push(Dhcp6Option::ServerId(server.clone())),
        Some(false) => msg
            .options
            .push(Dhcp6Option::ServerId(Duid::from_mac(mac(200)))),
        None => {}
    }
    for (iaid, addrs) in m.ias.iter().take(3) {
        let mut ia = IaNa::new(u32::from(*iaid % 3), 0, 0);
        ia.addresses = addrs
            .iter()
            .take(3)
            .map(|a| {
                let addr = match *a {
                    AddrSel::Range(i) => Ipv6Addr::from(FIRST + u128::from(i) % range),
                    AddrSel::Other(v) => Ipv6Addr::from(v),
                };
                IaAddress::new(addr, 0, 0)
            })
            .collect();
        msg.options.push(Dhcp6Option::IaNa(ia));
    }
    if m.rapid_commit {
        msg.options.push(Dhcp6Option::RapidCommit(()));
    }
    if !matches!(m.identity, Identity::Plain) {
        msg.options.push(Dhcp6Option::VendorClass(VendorClass {
            enterprise: PXE_ENTERPRISE,
            data: vec![b"PXEClient:Arch:00007:UNDI:003016".to_vec()],
        }));
        msg.options
            .push(Dhcp6Option::Oro(vec![OptionCode::BootfileUrl]));
    }
    if matches!(m.identity, Identity::Ipxe) {
        msg.options
            .push(Dhcp6Option::UserClass(vec![b"iPXE".to_vec()]));
    }
    let env = if m.relayed {
        Envelope {
            relays: vec![RelayMessage {
                msg_type: MessageType::RelayForw,
                hop_count: 0,
                link_address: SERVER,
                peer_address: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(n)),
                options: vec![Dhcp6Option::InterfaceId(vec![n])],
            }],
            message: msg,
        }
    } else {
        Envelope::direct(msg)
    };
    env.to_bytes().expect("small messages emit")
}

/// Both responders under arbitrary client behaviour: no panic, every reply parses, and the
/// server never has one address active for two IAs or outside its range.
pub fn dhcp6_server(data: &[u8]) {
    let Some(input) = decode::<Input>(data) else {
        return;
    };
    let range = u128::from(input.range_size % 8) + 1;
    let server_duid = Duid::from_mac(mac(100));
    let mut cfg = ServerConfig::new(
        server_duid.clone(),
        SERVER,
        PREFIX,
        64,
        Ipv6Addr::from(FIRST),
        Ipv6Addr::from(FIRST + range - 1),
    );
    cfg.rapid_commit = input.rapid_commit;
    let mut server = Server::new(cfg, Policy::default());
    let mut boot = BootResponder::new(
        BootResponderConfig::new(server_duid.clone(), SERVER),
        Policy::with_http(8080),
    );
    let mut now = Instant::from_secs(1_000_000);
    let mut buf = [0u8; 1500];
    for step in input.steps.iter().take(64) {
        let (payload, from, to) = match step {
            Step::Wait(s) => {
                now += Duration::from_secs(u64::from(*s));
                server.handle_timeout(now);
                boot.handle_timeout(now);
                (None, 0, false)
            }
            Step::Raw(b) => (Some(b.clone()), 1, false),
            Step::Send(m) => (Some(build(m, range, &server_duid)), m.client % 8, m.unicast),
        };
        if let Some(payload) = payload {
            let remote = SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(from)),
                546,
                0,
                1,
            ));
            let local = SocketAddr::new(
                IpAddr::V6(if to {
                    SERVER
                } else {
                    pxe_dhcp::v6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS
                }),
                547,
            );
            server.handle_datagram(now, Datagram::new(remote, local, &payload));
            boot.handle_datagram(now, Datagram::new(remote, local, &payload));
        }
        for s in [&mut server as &mut dyn SansIo<Event = _>, &mut boot] {
            while let Some(t) = s.poll_transmit(now, &mut buf) {
                Envelope::parse(&buf[..t.len]).expect("a reply parses");
            }
            while s.poll_event().is_some() {}
        }
        let mut holders = BTreeMap::new();
        for l in server.leases().iter().filter(|l| l.is_active(now)) {
            let a = u128::from(l.address);
            assert!(
                (FIRST..FIRST + range).contains(&a),
                "{l:?} outside the range"
            );
            assert!(
                holders
                    .insert(l.address, (l.duid.clone(), l.iaid))
                    .is_none(),
                "two leases on {}",
                l.address
            );
        }
        let _ = server.poll_timeout();
        let _ = boot.poll_timeout();
    }
}
