//! `pxe serve --dhcp proxy|server` against PXE and non-PXE DISCOVERs, in a network namespace
//! pair this test creates (veth, 10.78.0.0/24 inside the namespaces only) and always deletes.
//!
//! The client is raw Ethernet frames on an `AF_PACKET` socket in the client namespace (entered
//! with `setns` on the client thread only), so it behaves like a PXE ROM: source 0.0.0.0, no
//! address on its interface, and it sees replies whatever their IP destination. No scapy
//! needed. Needs root (CI runs as root) and `ip` (package iproute2); without them the test
//! FAILS saying so, it never skips.

mod support;

use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType};
use nix::sys::time::TimeVal;
use std::path::Path;
use std::time::{Duration, Instant};

use support::netns::{self, CLIENT_IF, Link, Netns, SERVER_IF, VethPair};
use support::process::Proc;
use support::tools::{PXE, require};

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const CLI_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x78, 0x00, 0x02];
/// The client namespace's address, once a test gives it one (a configured client, a relay).
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);

// ---------------------------------------------------------------- environment and guards

/// Two namespaces joined by a veth (`10.78.0.0/24`); the client's end has [`CLI_MAC`] and no
/// address, as a PXE ROM before DHCP. Deleted on drop, also when the test fails.
fn netns_pair(tag: &str) -> VethPair {
    VethPair::with(
        tag,
        Link {
            server: &["10.78.0.1/24"],
            client: &[],
            client_mac: Some(&mac_str(CLI_MAC)),
        },
    )
}

/// `pxe serve` in the server namespace, logging to `log`; stopped by pid (SIGTERM, then
/// SIGKILL) on drop. Waits for its DHCP listener.
fn serve(ns: &Netns, root: &Path, log: &Path, extra: &[&str]) -> Proc {
    let root = root.to_str().expect("utf-8 path");
    let server = Proc::start(
        "pxe serve",
        netns::command(ns, PXE)
            .args(["serve", "--root", root])
            .args(["--listen", "10.78.0.1:69", "--interface", SERVER_IF])
            .args(extra)
            .env("RUST_LOG", "info"),
        log,
    );
    server.wait_log("DHCP listening", Duration::from_secs(10));
    server
}

// ---------------------------------------------------------------- a raw PXE client

fn mac_str(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What a client puts in its DHCP message.
#[derive(Clone)]
struct Request {
    msg_type: u8,
    xid: u32,
    chaddr: [u8; 6],
    /// Option 93 arch; `None` makes a plain (non-PXE) client without 60/93/94/97.
    arch: Option<u16>,
    broadcast_flag: bool,
    requested_ip: Option<Ipv4Addr>,
    server_id: Option<Ipv4Addr>,
    ciaddr: Option<Ipv4Addr>,
    /// A relay agent's address (`giaddr`) and its option 82 circuit id.
    relay: Option<(Ipv4Addr, &'static [u8])>,
    /// Send iPXE's option 77 `iPXE` (raw, as iPXE does) and option 175.
    ipxe: bool,
}

impl Request {
    fn discover(xid: u32, chaddr: [u8; 6], arch: Option<u16>) -> Request {
        Request {
            msg_type: 1,
            xid,
            chaddr,
            arch,
            broadcast_flag: true,
            requested_ip: None,
            server_id: None,
            ciaddr: None,
            relay: None,
            ipxe: false,
        }
    }

    fn bootp(&self) -> Vec<u8> {
        let mut p = vec![0u8; 236];
        p[0] = 1; // BOOTREQUEST
        p[1] = 1; // Ethernet
        p[2] = 6;
        p[4..8].copy_from_slice(&self.xid.to_be_bytes());
        if self.broadcast_flag {
            p[10] = 0x80;
        }
        if let Some((giaddr, _)) = self.relay {
            p[3] = 1; // hops
            p[24..28].copy_from_slice(&giaddr.octets());
        }
        if let Some(ip) = self.ciaddr {
            p[12..16].copy_from_slice(&ip.octets());
        }
        p[28..34].copy_from_slice(&self.chaddr);
        p.extend_from_slice(&[99, 130, 83, 99]);
        let mut opt = |code: u8, val: &[u8]| {
            p.push(code);
            p.push(u8::try_from(val.len()).expect("short option"));
            p.extend_from_slice(val);
        };
        opt(53, &[self.msg_type]);
        opt(57, &1464u16.to_be_bytes());
        if let Some(ip) = self.requested_ip {
            opt(50, &ip.octets());
        }
        if let Some(ip) = self.server_id {
            opt(54, &ip.octets());
        }
        match self.arch {
            Some(arch) => {
                // What a PXE ROM sends (options as measured from QEMU's iPXE ROM).
                opt(
                    55,
                    &[
                        1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50,
                        51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135,
                        175,
                    ],
                );
                opt(94, &[1, 2, 1]);
                opt(93, &arch.to_be_bytes());
                let mut guid = [0u8; 17];
                guid[1..7].copy_from_slice(&self.chaddr);
                opt(97, &guid);
                let undi = if arch == 0 { "002001" } else { "003000" };
                opt(
                    60,
                    format!("PXEClient:Arch:{arch:05}:UNDI:{undi}").as_bytes(),
                );
                if self.ipxe {
                    opt(77, b"iPXE");
                    opt(
                        175,
                        &[0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0x13, 0x01, 0x01],
                    );
                }
            }
            None => {
                opt(55, &[1, 3, 6, 15]);
                opt(60, b"udhcp 1.36.1");
            }
        }
        if let Some((_, circuit)) = self.relay {
            // Relay agent information (RFC 3046): the relay appends it last.
            let mut v = vec![1, u8::try_from(circuit.len()).expect("short")];
            v.extend_from_slice(circuit);
            p.push(82);
            p.push(u8::try_from(v.len()).expect("short"));
            p.extend_from_slice(&v);
        }
        p.push(255);
        while p.len() < 300 {
            p.push(0);
        }
        p
    }

    /// The whole Ethernet frame: 0.0.0.0:68 → 255.255.255.255:67.
    fn frame(&self) -> Vec<u8> {
        let payload = self.bootp();
        let udp_len = 8 + payload.len();
        let ip_len = 20 + udp_len;
        let mut f = Vec::with_capacity(14 + ip_len);
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&CLI_MAC);
        f.extend_from_slice(&[0x08, 0x00]);
        let mut iph = [0u8; 20];
        iph[0] = 0x45;
        iph[2..4].copy_from_slice(&u16::try_from(ip_len).expect("len").to_be_bytes());
        iph[8] = 64;
        iph[9] = 17;
        iph[16..20].copy_from_slice(&[255, 255, 255, 255]);
        let sum = checksum(&iph);
        iph[10..12].copy_from_slice(&sum.to_be_bytes());
        f.extend_from_slice(&iph);
        f.extend_from_slice(&68u16.to_be_bytes());
        f.extend_from_slice(&67u16.to_be_bytes());
        f.extend_from_slice(&u16::try_from(udp_len).expect("len").to_be_bytes());
        f.extend_from_slice(&[0, 0]); // no UDP checksum (allowed for IPv4)
        f.extend_from_slice(&payload);
        f
    }
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        s += u32::from(w);
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// A DHCP reply as the client saw it on the wire.
#[derive(Debug, Clone)]
struct Reply {
    eth_dst: [u8; 6],
    ip_dst: Ipv4Addr,
    udp_src: u16,
    yiaddr: Ipv4Addr,
    siaddr: Ipv4Addr,
    file: String,
    options: Vec<(u8, Vec<u8>)>,
}

impl Reply {
    fn opt(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }
    fn msg_type(&self) -> u8 {
        self.opt(53).and_then(|v| v.first().copied()).unwrap_or(0)
    }
    fn ip_opt(&self, code: u8) -> Option<Ipv4Addr> {
        let v = self.opt(code)?;
        Some(Ipv4Addr::new(
            *v.first()?,
            *v.get(1)?,
            *v.get(2)?,
            *v.get(3)?,
        ))
    }
    /// The boot file from `file`, else option 67, without trailing NULs.
    fn boot_file(&self) -> String {
        if !self.file.is_empty() {
            return self.file.clone();
        }
        self.opt(67)
            .map(|v| String::from_utf8_lossy(v).trim_end_matches('\0').to_owned())
            .unwrap_or_default()
    }
}

fn parse_reply(f: &[u8], xid: u32) -> Option<Reply> {
    if f.len() < 14 + 20 + 8 + 240 || f[12..14] != [0x08, 0x00] {
        return None;
    }
    let ihl = usize::from(f[14] & 0x0f) * 4;
    if f[14 + 9] != 17 {
        return None;
    }
    let ip_dst = Ipv4Addr::new(f[30], f[31], f[32], f[33]);
    let udp = 14 + ihl;
    let udp_src = u16::from_be_bytes([f[udp], f[udp + 1]]);
    let udp_dst = u16::from_be_bytes([f[udp + 2], f[udp + 3]]);
    let b = f.get(udp + 8..)?;
    if udp_dst != 68 || b.len() < 240 || b[0] != 2 || b[4..8] != xid.to_be_bytes() {
        return None;
    }
    let ip4 = |o: usize| Ipv4Addr::new(b[o], b[o + 1], b[o + 2], b[o + 3]);
    let file = String::from_utf8_lossy(&b[108..236])
        .trim_end_matches('\0')
        .to_owned();
    let mut options = Vec::new();
    let mut i = 240;
    while i < b.len() {
        let code = b[i];
        if code == 255 {
            break;
        }
        if code == 0 {
            i += 1;
            continue;
        }
        let len = usize::from(*b.get(i + 1)?);
        options.push((code, b.get(i + 2..i + 2 + len)?.to_vec()));
        i += 2 + len;
    }
    let mut eth_dst = [0u8; 6];
    eth_dst.copy_from_slice(&f[0..6]);
    Some(Reply {
        eth_dst,
        ip_dst,
        udp_src,
        yiaddr: ip4(16),
        siaddr: ip4(20),
        file,
        options,
    })
}

/// Sends `req` from the client namespace and collects the replies for its xid for `wait`.
fn exchange(cli_ns: &str, req: &Request, wait: Duration) -> Vec<Reply> {
    let req = req.clone();
    netns::on_thread_in(cli_ns, move || {
        let sock = packet_socket(CLIENT_IF);
        let frame = req.frame();
        let n = socket::send(sock.as_raw_fd(), &frame, MsgFlags::empty()).expect("send");
        assert_eq!(n, frame.len(), "short send");
        let mut out = Vec::new();
        let t0 = Instant::now();
        let mut buf = vec![0u8; 2048];
        while t0.elapsed() < wait {
            // SO_RCVTIMEO bounds the wait.
            if let Ok(n) = socket::recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty())
                && let Some(r) = parse_reply(&buf[..n], req.xid)
            {
                out.push(r);
            }
        }
        out
    })
}

/// Sends `req` over an ordinary UDP socket from `from:68` in the client namespace to `to`
/// (the PXE boot-server request on port 4011 comes from an already configured client).
fn exchange_udp(
    cli_ns: &str,
    req: &Request,
    from: SocketAddrV4,
    to: SocketAddrV4,
) -> Option<Reply> {
    let req = req.clone();
    netns::on_thread_in(cli_ns, move || {
        let sock = std::net::UdpSocket::bind(from).expect("bind client socket");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        sock.send_to(&req.bootp(), to).expect("send");
        let mut buf = [0u8; 1500];
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(2) {
            let Ok((n, src)) = sock.recv_from(&mut buf) else {
                continue;
            };
            // Wrap the payload in fake headers so parse_reply can read it.
            let mut frame = vec![0u8; 14 + 20 + 8];
            frame[12..14].copy_from_slice(&[0x08, 0x00]);
            frame[14] = 0x45;
            frame[23] = 17;
            frame[30..34].copy_from_slice(&from.ip().octets());
            frame[34..36].copy_from_slice(&src.port().to_be_bytes());
            frame[36..38].copy_from_slice(&68u16.to_be_bytes());
            frame.extend_from_slice(&buf[..n]);
            if let Some(r) = parse_reply(&frame, req.xid) {
                return Some(r);
            }
        }
        None
    })
}

fn packet_socket(ifname: &str) -> OwnedFd {
    let sock = socket::socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthIp,
    )
    .expect("AF_PACKET socket");
    // The interface's own link address (getifaddrs) names it for bind(2): packet(7) binds to
    // its `sll_ifindex`, and a zero `sll_protocol` keeps the socket's (ETH_P_IP).
    let link = nix::ifaddrs::getifaddrs()
        .expect("getifaddrs")
        .filter(|a| a.interface_name == ifname)
        .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
        .expect("client interface link address");
    socket::bind(sock.as_raw_fd(), &link).expect("bind AF_PACKET");
    socket::setsockopt(
        &sock,
        socket::sockopt::ReceiveTimeout,
        &TimeVal::new(0, 100_000),
    )
    .expect("SO_RCVTIMEO");
    sock
}

fn root_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["undionly.kpxe", "ipxe.efi", "pxelinux.0", "boot.ipxe"] {
        fs::write(dir.path().join(f), b"boot file stand-in").expect("write");
    }
    dir
}

fn offers(replies: &[Reply]) -> Vec<&Reply> {
    replies.iter().filter(|r| r.msg_type() == 2).collect()
}

/// Sends `req` from the client namespace; the one OFFER it must get, else fails naming `what`
/// with the replies and the server's log.
fn one_offer(net: &VethPair, req: &Request, server: &Proc, what: &str) -> Reply {
    let replies = exchange(&net.client, req, Duration::from_secs(2));
    let o = offers(&replies);
    assert_eq!(
        o.len(),
        1,
        "{what}; got {replies:?}; log:\n{}",
        server.log()
    );
    o[0].clone()
}

/// Gives the client's end [`CLIENT_IP`] and sends `req` from there over UDP, from port `from`
/// to the server's port `to`; the reply it must get, else fails naming `what` with the
/// server's log.
fn udp_reply(
    net: &VethPair,
    req: &Request,
    from: u16,
    to: u16,
    server: &Proc,
    what: &str,
) -> Reply {
    net.client
        .ip(&["addr", "add", "10.78.0.2/24", "dev", CLIENT_IF]);
    exchange_udp(
        &net.client,
        req,
        SocketAddrV4::new(CLIENT_IP, from),
        SocketAddrV4::new(SERVER_IP, to),
    )
    .unwrap_or_else(|| panic!("{what}; log:\n{}", server.log()))
}

// ---------------------------------------------------------------- the tests

#[test]
fn proxy_answers_pxe_clients_only() {
    let net = netns_pair("proxy");
    let root = root_dir();
    let log = root.path().join("serve.log");
    let server = serve(
        &net.server,
        root.path(),
        &log,
        &["--dhcp", "proxy", "--log-format", "json"],
    );

    // BIOS PXE ROM (arch 0): undionly.kpxe, as the ISC dhcpd class in the README intends.
    let o = one_offer(
        &net,
        &Request::discover(0x1111_0001, CLI_MAC, Some(0)),
        &server,
        "one proxy offer for BIOS PXE",
    );
    assert_eq!(o.yiaddr, Ipv4Addr::UNSPECIFIED, "a proxy offers no address");
    assert_eq!(o.siaddr, SERVER_IP);
    assert_eq!(o.boot_file(), "undionly.kpxe");
    assert_eq!(o.opt(60), Some(&b"PXEClient"[..]));
    assert_eq!(o.ip_opt(54), Some(SERVER_IP));
    assert!(o.opt(43).is_some(), "PXEClient needs a valid option 43");
    assert_eq!(o.ip_dst, Ipv4Addr::BROADCAST, "proxy offers are broadcast");
    assert_eq!(o.udp_src, 67);

    // UEFI x64 (arch 7): ipxe.efi.
    let o = one_offer(
        &net,
        &Request::discover(0x1111_0002, CLI_MAC, Some(7)),
        &server,
        "one proxy offer for UEFI PXE",
    );
    assert_eq!(o.boot_file(), "ipxe.efi");
    assert_eq!(o.yiaddr, Ipv4Addr::UNSPECIFIED);

    // A plain DHCP client: the proxy stays silent.
    let plain = exchange(
        &net.client,
        &Request::discover(0x1111_0003, CLI_MAC, None),
        Duration::from_secs(2),
    );
    assert!(
        plain.is_empty(),
        "proxy must ignore non-PXE clients; got {plain:?}"
    );

    // iPXE (user class iPXE + option 175) gets the next stage, never iPXE again.
    let mut d = Request::discover(0x1111_0004, CLI_MAC, Some(0));
    d.ipxe = true;
    let o = one_offer(&net, &d, &server, "one proxy offer for iPXE BIOS");
    assert_eq!(o.boot_file(), "pxelinux.0");
    let mut d = Request::discover(0x1111_0005, CLI_MAC, Some(7));
    d.ipxe = true;
    let r = exchange(&net.client, &d, Duration::from_secs(2));
    assert_eq!(
        offers(&r).first().map(|o| o.boot_file()).as_deref(),
        Some("boot.ipxe"),
        "{r:?}"
    );

    // Port 4011: a configured client asks the boot server directly and gets an ACK.
    let mut q = Request::discover(0x1111_0006, CLI_MAC, Some(7));
    q.msg_type = 3;
    q.broadcast_flag = false;
    q.ciaddr = Some(CLIENT_IP);
    let ack = udp_reply(&net, &q, 68, 4011, &server, "no ACK from port 4011");
    assert_eq!(ack.msg_type(), 5, "{ack:?}");
    assert_eq!(
        ack.udp_src, 4011,
        "the ACK leaves from the port the request came to"
    );
    assert_eq!(ack.boot_file(), "ipxe.efi");

    // One decision line per DHCP decision, naming client, arch and rule.
    let text = server.log();
    assert!(
        text.contains(&mac_str(CLI_MAC)),
        "decision lines name the client:\n{text}"
    );
    assert!(
        text.to_lowercase().contains("rule"),
        "decision lines name the rule:\n{text}"
    );
    // With --log-format json the decision is a JSON object with the client, arch and rule.
    let decision = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["rule"] == "pxe-bios")
        .unwrap_or_else(|| panic!("no JSON decision line for rule pxe-bios:\n{text}"));
    assert_eq!(decision["mac"], mac_str(CLI_MAC), "{decision}");
    assert!(
        decision["arch"]
            .as_str()
            .is_some_and(|a| a.contains("BIOS")),
        "{decision}"
    );
    assert_eq!(decision["boot_file"], "undionly.kpxe", "{decision}");
}

#[test]
fn server_leases_survive_restart_and_crash() {
    let net = netns_pair("server");
    let root = root_dir();
    let leases = root.path().join("state/leases.json");
    let log = root.path().join("serve.log");
    let args = [
        "--dhcp",
        "server",
        "--dhcp-range",
        "10.78.0.100,10.78.0.150",
        "--leases",
        leases.to_str().expect("utf-8 path"),
    ];
    let mut server = serve(&net.server, root.path(), &log, &args);

    // DISCOVER without the broadcast flag: the OFFER goes to the client's hardware address.
    let mut d = Request::discover(0x2222_0001, CLI_MAC, Some(0));
    d.broadcast_flag = false;
    let o = one_offer(&net, &d, &server, "one offer");
    let addr = o.yiaddr;
    assert!(
        (u32::from(Ipv4Addr::new(10, 78, 0, 100))..=u32::from(Ipv4Addr::new(10, 78, 0, 150)))
            .contains(&u32::from(addr)),
        "offered {addr} is outside the pool"
    );
    assert_eq!(o.ip_opt(54), Some(SERVER_IP));
    assert_eq!(o.boot_file(), "undionly.kpxe");
    assert_eq!(o.siaddr, SERVER_IP);
    assert_eq!(o.eth_dst, CLI_MAC, "unicast to the client's MAC");
    // As root the neighbour entry can be set (SIOCSARP), so this is a true unicast to the
    // client's new address, not the broadcast fallback.
    assert_eq!(o.ip_dst, addr, "{:?}", o);

    // REQUEST → ACK, and the lease is on disk before the ACK leaves.
    let mut q = Request::discover(0x2222_0002, CLI_MAC, Some(0));
    q.msg_type = 3;
    q.requested_ip = Some(addr);
    q.server_id = Some(SERVER_IP);
    let r = exchange(&net.client, &q, Duration::from_secs(2));
    let ack = r
        .iter()
        .find(|r| r.msg_type() == 5)
        .unwrap_or_else(|| panic!("no ACK: {r:?}; log:\n{}", server.log()));
    assert_eq!(ack.yiaddr, addr);
    let saved = fs::read_to_string(&leases).expect("lease file written");
    assert!(
        saved.contains(&addr.to_string()),
        "lease file holds {addr}:\n{saved}"
    );

    // A clean restart (SIGTERM) keeps the lease: same MAC, same address.
    server.stop_clean(Duration::from_secs(5));
    let mut server = serve(&net.server, root.path(), &log, &args);
    let o = one_offer(
        &net,
        &Request::discover(0x2222_0003, CLI_MAC, Some(0)),
        &server,
        "offer after restart",
    );
    assert_eq!(o.yiaddr, addr, "same client, same address after a restart");

    // Another client gets another address.
    let other = [0x52, 0x54, 0x00, 0x78, 0x00, 0x99];
    let o = one_offer(
        &net,
        &Request::discover(0x2222_0004, other, Some(7)),
        &server,
        "offer for a second client",
    );
    assert_ne!(o.yiaddr, addr, "an address is never handed to two clients");
    assert_eq!(o.boot_file(), "ipxe.efi");

    // A crash (SIGKILL) loses nothing that was ACKed.
    server.kill();
    let server = serve(&net.server, root.path(), &log, &args);
    let o = one_offer(
        &net,
        &Request::discover(0x2222_0005, CLI_MAC, Some(0)),
        &server,
        "offer after crash",
    );
    assert_eq!(o.yiaddr, addr, "same address after a crash");
}

#[test]
fn server_honours_reservations_and_answers_a_relay_at_giaddr() {
    let net = netns_pair("relay");
    let root = root_dir();
    let leases = root.path().join("leases.json");
    let log = root.path().join("serve.log");
    // A reservation from the config file, outside the pool.
    let config = root.path().join("pxe.toml");
    fs::write(
        &config,
        "[[dhcp.reservations]]\nmac = \"52:54:00:78:00:44\"\nip = \"10.78.0.60\"\n",
    )
    .expect("write config");
    let server = serve(
        &net.server,
        root.path(),
        &log,
        &[
            "--dhcp",
            "server",
            "--dhcp-range",
            "10.78.0.100,10.78.0.150",
            "--leases",
            leases.to_str().expect("utf-8 path"),
            "--config",
            config.to_str().expect("utf-8 path"),
        ],
    );
    let reserved = [0x52, 0x54, 0x00, 0x78, 0x00, 0x44];
    let o = one_offer(
        &net,
        &Request::discover(0x3333_0000, reserved, Some(7)),
        &server,
        "one offer for the reserved client",
    );
    assert_eq!(
        o.yiaddr,
        Ipv4Addr::new(10, 78, 0, 60),
        "the reserved address"
    );
    assert_eq!(o.boot_file(), "ipxe.efi");

    // The "relay" is the client namespace's address; it forwards a DISCOVER to the server's
    // port 67 and must get the OFFER back at giaddr:67 (RFC 2131 §4.1), option 82 echoed.
    let mut d = Request::discover(0x3333_0001, [0x52, 0x54, 0x00, 0x78, 0x00, 0x33], Some(0));
    d.relay = Some((CLIENT_IP, b"veth-c/1"));
    d.broadcast_flag = false;
    let offer = udp_reply(&net, &d, 67, 67, &server, "no reply at giaddr:67");
    assert_eq!(offer.msg_type(), 2, "{offer:?}");
    assert_eq!(offer.udp_src, 67);
    assert!(
        (100..=150).contains(&offer.yiaddr.octets()[3]),
        "offered {} from the pool on giaddr's subnet",
        offer.yiaddr
    );
    assert_eq!(
        offer.opt(82),
        Some(&b"\x01\x08veth-c/1"[..]),
        "option 82 echoed"
    );
    assert_eq!(offer.boot_file(), "undionly.kpxe");
}

#[test]
fn with_http_ipxe_gets_boot_ipxe_over_http_at_our_port() {
    require("curl", "curl");
    let net = netns_pair("http");
    let root = root_dir();
    fs::write(root.path().join("boot.ipxe"), b"#!ipxe\necho over http\n").expect("write");
    let log = root.path().join("serve.log");
    let server = serve(
        &net.server,
        root.path(),
        &log,
        &["--dhcp", "proxy", "--http", "0.0.0.0:8080"],
    );

    // UEFI iPXE: the script over HTTP, the port in the URL (not 80).
    let mut d = Request::discover(0x2222_0001, CLI_MAC, Some(7));
    d.ipxe = true;
    let url = one_offer(&net, &d, &server, "one offer for iPXE UEFI").boot_file();
    assert_eq!(url, format!("http://{SERVER_IP}:8080/boot.ipxe"));
    // BIOS iPXE keeps pxelinux.0 over TFTP; PXE ROMs keep their iPXE binaries.
    let mut d = Request::discover(0x2222_0002, CLI_MAC, Some(0));
    d.ipxe = true;
    let o = one_offer(&net, &d, &server, "one offer for iPXE BIOS");
    assert_eq!(o.boot_file(), "pxelinux.0");
    let d = Request::discover(0x2222_0003, CLI_MAC, Some(7));
    let o = one_offer(&net, &d, &server, "one offer for the UEFI PXE ROM");
    assert_eq!(o.boot_file(), "ipxe.efi");

    // The URL reaches our HTTP server from the client's side of the link.
    net.client
        .ip(&["addr", "add", "10.78.0.2/24", "dev", CLIENT_IF]);
    let out = net.client.exec(&["curl", "-sS", "--max-time", "10", &url]);
    assert_eq!(out.stdout, b"#!ipxe\necho over http\n");
    server.wait_log("path=/boot.ipxe status=200", Duration::from_secs(5));
}
