//! The lease journal under `kill -9`: `pxe serve --dhcp server` is killed (SIGKILL, no chance
//! to save anything) again and again while clients run DORA exchanges against it, restarted
//! each time; then an audit. No address was ever ACKed to two clients, and every ACKed lease is
//! in the lease file after the last restart. Network namespaces joined by a veth (10.99.0.0/24,
//! inside the namespaces only), always deleted; the clients speak through a relay address
//! (`giaddr`) so that one UDP socket carries many of them. Needs root and `ip`.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pxe_dhcp::wire::{MessageType, Repr};
use pxe_proto::MacAddr;
use support::dhcp;
use support::netns::{self, Link, Netns, SERVER_IF, VethPair};
use support::process::Proc;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const RELAY: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
const CLIENTS: u16 = 400;
const KILLS: usize = 8;

fn serve(ns: &Netns, dir: &Path, leases: &Path) -> Proc {
    dhcp::lease_server(
        ns.name(),
        dir,
        SERVER,
        SERVER_IF,
        "10.99.0.10,10.99.1.250",
        leases.to_str().expect("utf-8"),
    )
}

fn mac(i: u16) -> MacAddr {
    let [a, b] = i.to_be_bytes();
    MacAddr([0x52, 0x54, 0, 0x99, a, b])
}

fn message(mt: MessageType, i: u16, xid: u32, ip: Option<Ipv4Addr>) -> Vec<u8> {
    dhcp::relayed(RELAY, mt, mac(i), xid, ip.map(|ip| (ip, SERVER)))
}

/// Runs DORA for every client until each has an ACK or `stop`; returns every ACK seen, in order.
fn clients(stop: Arc<AtomicBool>) -> Vec<(MacAddr, Ipv4Addr)> {
    let sock = UdpSocket::bind(SocketAddrV4::new(RELAY, 67)).expect("bind the relay port");
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let server = SocketAddrV4::new(SERVER, 67);
    // Per client: the address requested (after an OFFER), when last sent, done.
    let mut state: HashMap<u16, (Option<Ipv4Addr>, Option<Instant>)> = HashMap::new();
    let mut acks = Vec::new();
    let mut next = 0u16;
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) && (next < CLIENTS || !state.is_empty()) {
        while next < CLIENTS && state.len() < 32 {
            state.insert(next, (None, None));
            next += 1;
        }
        for (i, (ip, sent)) in &mut state {
            if sent.is_none_or(|t| t.elapsed() > Duration::from_millis(300)) {
                let xid = 0x9900_0000 | u32::from(*i);
                let msg = match ip {
                    None => message(MessageType::Discover, *i, xid, None),
                    Some(ip) => message(MessageType::Request, *i, xid, Some(*ip)),
                };
                let _ = sock.send_to(&msg, server);
                *sent = Some(Instant::now());
            }
        }
        while let Ok(n) = sock.recv(&mut buf) {
            let Ok(r) = Repr::parse_bytes(&buf[..n]) else {
                continue;
            };
            let i = u16::from(r.chaddr[4]) << 8 | u16::from(r.chaddr[5]);
            let Some(slot) = state.get_mut(&i) else {
                continue;
            };
            match r.message_type() {
                Some(MessageType::Offer) if slot.0.is_none() => *slot = (Some(r.yiaddr), None),
                Some(MessageType::Ack) if slot.0 == Some(r.yiaddr) => {
                    acks.push((mac(i), r.yiaddr));
                    state.remove(&i);
                }
                // An offer lost in a crash: start over.
                Some(MessageType::Nak) => *slot = (None, None),
                _ => {}
            }
        }
    }
    acks
}

/// The last record for each address in the journal: (MAC, state).
fn journal(path: &Path) -> BTreeMap<Ipv4Addr, (String, String)> {
    let text = std::fs::read_to_string(path).expect("lease file");
    let mut out = BTreeMap::new();
    for line in text.lines().skip(1) {
        let v: serde_json::Value = serde_json::from_str(line).expect("a record");
        let ip: Ipv4Addr = v["ip"].as_str().expect("ip").parse().expect("address");
        let mac = v["mac"].as_str().unwrap_or("").to_owned();
        let state = v["state"].as_str().expect("state").to_owned();
        out.insert(ip, (mac, state));
    }
    out
}

#[test]
fn kill_9_under_load_loses_no_ack_and_never_serves_an_address_twice() {
    let net = VethPair::with(
        "crash",
        Link {
            server: &["10.99.0.1/23"],
            client: &["10.99.0.2/23"],
            client_mac: None,
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let leases = dir.path().join("leases.json");
    let mut server = serve(&net.server, dir.path(), &leases);
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        let ns = net.client.name().to_owned();
        std::thread::spawn(move || netns::on_thread_in(&ns, move || clients(stop)))
    };
    let mut kills = 0;
    let t0 = Instant::now();
    while kills < KILLS && !load.is_finished() {
        std::thread::sleep(Duration::from_millis(150 + 97 * (kills as u64 % 5)));
        server.kill();
        kills += 1;
        server = serve(&net.server, dir.path(), &leases);
    }
    // Let the clients finish against a server that stays up.
    while !load.is_finished() && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let acks = load.join().expect("client thread");
    assert!(kills >= 3, "only {kills} kills happened while the load ran");
    assert_eq!(acks.len(), usize::from(CLIENTS), "every client got an ACK");

    dhcp::assert_no_address_twice(&acks);
    // Every ACK is in the lease file, bound to its client, after one more crash.
    server.kill();
    let _server = serve(&net.server, dir.path(), &leases);
    dhcp::assert_all_bound(&acks, &journal(&leases), "lease file");
    eprintln!(
        "{} ACKs across {kills} kill -9s, all in the lease file, none duplicated",
        acks.len()
    );
}
