//! The smoltcp driver end to end, in memory: the reference [`Client`] core on smoltcp UDP
//! sockets downloads files from the [`Driver`], bit-exact, with `windowsize`.
//!
//! - On smoltcp's own `Loopback` device, client and server share one stack (its `Loopback`
//!   hands every frame back to the interface that sent it, so it cannot join two stacks).
//! - Two stacks (server 10.0.0.1, clients 10.0.0.2) joined by a two-ended loopback "cable",
//!   over Ethernet with ARP: concurrent downloads, pool exhaustion ("busy"), a missing file, a
//!   `..` name, and a `SansIo` responder on port 67 fed and drained by the driver; and a lossy
//!   cable (every 9th frame dropped) that retransmission repairs, bit-exact.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;

use pxe_proto::{Datagram, Destination, SansIo, Transmit};
use pxe_smoltcp::{Driver, DriverConfig, DriverEvent, FileSource, MemoryFiles, to_core_instant};
use pxe_tftp::{Client, ClientConfig, ClientEvent, ErrorCode, Outcome, TransferError};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Loopback, Medium};
use smoltcp::socket::udp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint};

/// Deterministic, non-repeating test content.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn iface_with(device: &mut impl Device, hw: HardwareAddress, ip: [u8; 4]) -> Interface {
    let mut iface = Interface::new(Config::new(hw), device, Instant::ZERO);
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(IpAddress::v4(ip[0], ip[1], ip[2], ip[3]), 24))
            .unwrap();
    });
    iface
}

fn udp_socket<'a>() -> udp::Socket<'a> {
    udp::Socket::new(
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0; 128 * 1024]),
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0; 128 * 1024]),
    )
}

/// The reference client core on one smoltcp UDP socket: the client-side driver of the tests.
struct ClientNode {
    handle: SocketHandle,
    client: Client,
    got: Vec<u8>,
    outcome: Option<Outcome>,
    buf: Vec<u8>,
}

impl ClientNode {
    fn new(
        sockets: &mut SocketSet<'_>,
        port: u16,
        server: Ipv4Addr,
        name: &str,
        options: &[(&str, &str)],
    ) -> ClientNode {
        let mut socket = udp_socket();
        socket.bind(port).unwrap();
        let mut config = ClientConfig::default();
        for (n, v) in options {
            config = config.option(n, v);
        }
        let client = Client::new(
            pxe_proto::Instant::ZERO,
            SocketAddr::new(IpAddr::V4(server), 69),
            name.as_bytes(),
            config,
        )
        .unwrap();
        ClientNode {
            handle: sockets.add(socket),
            client,
            got: Vec::new(),
            outcome: None,
            buf: vec![0; 70_000],
        }
    }

    fn step(&mut self, now: Instant, sockets: &mut SocketSet<'_>) {
        let now = to_core_instant(now);
        let socket = sockets.get_mut::<udp::Socket<'_>>(self.handle);
        while let Ok((payload, meta)) = socket.recv() {
            let remote = SocketAddr::new(IpAddr::from(meta.endpoint.addr), meta.endpoint.port);
            let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
            self.client
                .handle_datagram(now, Datagram::new(remote, local, payload));
        }
        self.client.handle_timeout(now);
        while let Some(Transmit {
            destination, len, ..
        }) = self.client.poll_transmit(now, &mut self.buf)
        {
            let Destination::Unicast(to) = destination else {
                panic!("client sent to {destination:?}")
            };
            let IpAddr::V4(ip) = to.ip() else {
                panic!("IPv6 destination {to}")
            };
            let ep = IpEndpoint::new(IpAddress::Ipv4(ip), to.port());
            socket.send_slice(&self.buf[..len], ep).unwrap();
        }
        while let Some((offset, data)) = self.client.poll_data() {
            assert_eq!(offset, self.got.len() as u64);
            self.got.extend_from_slice(data);
        }
        while let Some(ev) = self.client.poll_event() {
            if let ClientEvent::Finished(o) = ev {
                self.outcome = Some(o);
            }
        }
    }
}

/// Client and server on one stack, on smoltcp's `Loopback` device at 10.0.0.1, with a
/// driver serving `files` in the default configuration.
struct OneStack<'f> {
    device: Loopback,
    iface: Interface,
    sockets: SocketSet<'static>,
    driver: Driver<MemoryFiles<'f>>,
}

impl<'f> OneStack<'f> {
    fn new(files: &'f [(&'f str, &'f [u8])]) -> Self {
        let mut device = Loopback::new(Medium::Ip);
        let iface = iface_with(&mut device, HardwareAddress::Ip, [10, 0, 0, 1]);
        let mut sockets = SocketSet::new(vec![]);
        let driver = Driver::new(
            DriverConfig::default(),
            MemoryFiles::new(files),
            &mut sockets,
        )
        .unwrap();
        OneStack {
            device,
            iface,
            sockets,
            driver,
        }
    }

    /// One pass of the driver; its wake-up.
    fn run(&mut self, now: Instant) -> Option<Instant> {
        self.driver
            .run(now, &mut self.iface, &mut self.device, &mut self.sockets)
    }
}

/// A server stack (10.0.0.1) and a client stack (10.0.0.2) at the two ends of a [`cable`]; over
/// Ethernet with MACs 02:00:00:00:00:01 and :02.
struct TwoStacks {
    server_dev: End,
    client_dev: End,
    server_iface: Interface,
    client_iface: Interface,
    server_sockets: SocketSet<'static>,
    client_sockets: SocketSet<'static>,
}

impl TwoStacks {
    fn new(medium: Medium) -> Self {
        let (mut server_dev, mut client_dev) = cable(medium);
        let hw = |last: u8| match medium {
            Medium::Ethernet => EthernetAddress([2, 0, 0, 0, 0, last]).into(),
            _ => HardwareAddress::Ip,
        };
        TwoStacks {
            server_iface: iface_with(&mut server_dev, hw(1), [10, 0, 0, 1]),
            client_iface: iface_with(&mut client_dev, hw(2), [10, 0, 0, 2]),
            server_dev,
            client_dev,
            server_sockets: SocketSet::new(vec![]),
            client_sockets: SocketSet::new(vec![]),
        }
    }

    /// One round at `now`: each client node handles what it got and sends, the client stack
    /// transmits, the server's driver runs, and the client stack receives its answers.
    fn step<F: FileSource, R: SansIo>(
        &mut self,
        nodes: &mut [&mut ClientNode],
        driver: &mut Driver<F, R>,
        now: Instant,
    ) {
        for n in nodes.iter_mut() {
            n.step(now, &mut self.client_sockets);
        }
        self.client_iface
            .poll(now, &mut self.client_dev, &mut self.client_sockets);
        driver.run(
            now,
            &mut self.server_iface,
            &mut self.server_dev,
            &mut self.server_sockets,
        );
        self.client_iface
            .poll(now, &mut self.client_dev, &mut self.client_sockets);
    }
}

/// Calls `round` once per simulated millisecond from `*now` until it returns true or `max`
/// rounds have run; `*now` is left at the last round's time.
fn run_until(now: &mut Instant, max: usize, mut round: impl FnMut(Instant) -> bool) {
    for _ in 0..max {
        if round(*now) {
            return;
        }
        *now += Duration::from_millis(1);
    }
}

#[test]
fn client_downloads_bit_exact_over_smoltcp_loopback_with_windowsize() {
    let file = content(300_000, 7);
    let files = [("boot/ipxe.efi", file.as_slice())];
    let mut stack = OneStack::new(&files);
    let mut node = ClientNode::new(
        &mut stack.sockets,
        5000,
        Ipv4Addr::new(10, 0, 0, 1),
        "boot/ipxe.efi",
        &[("blksize", "1468"), ("windowsize", "16"), ("tsize", "0")],
    );

    run_until(&mut Instant::from_millis(1), 10_000, |now| {
        node.step(now, &mut stack.sockets);
        stack.run(now);
        node.outcome.is_some() && stack.driver.active_transfers() == 0
    });
    let driver = &mut stack.driver;
    assert_eq!(node.outcome, Some(Outcome::Completed));
    assert_eq!(node.got.len(), file.len());
    assert!(node.got == file, "downloaded bytes differ");
    let n = node.client.negotiated();
    assert_eq!(
        (n.blksize, n.windowsize, n.tsize),
        (1468, 16, Some(300_000))
    );
    let mut finished = 0;
    while let Some(ev) = driver.poll_event() {
        if let DriverEvent::Finished { outcome, stats, .. } = ev {
            assert_eq!(outcome, Outcome::Completed);
            assert_eq!(stats.bytes, file.len() as u64);
            assert_eq!(
                stats.retransmits, 0,
                "a lossless link needs no retransmission"
            );
            finished += 1;
        }
    }
    assert_eq!(finished, 1);
    assert_eq!(driver.stats().send_dropped, 0);
}

/// Two devices joined back to back: what one end transmits, the other receives. With
/// `drop_every = n > 0`, every n-th frame is lost.
#[derive(Default)]
struct Wire {
    queues: [VecDeque<Vec<u8>>; 2],
    drop_every: usize,
    sent: usize,
    dropped: usize,
}

struct End {
    wire: Rc<RefCell<Wire>>,
    side: usize,
    medium: Medium,
}

fn cable(medium: Medium) -> (End, End) {
    let wire = Rc::new(RefCell::new(Wire::default()));
    (
        End {
            wire: wire.clone(),
            side: 0,
            medium,
        },
        End {
            wire,
            side: 1,
            medium,
        },
    )
}

struct Rx(Vec<u8>);

struct Tx {
    wire: Rc<RefCell<Wire>>,
    to: usize,
}

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        let mut wire = self.wire.borrow_mut();
        wire.sent += 1;
        if wire.drop_every > 0 && wire.sent.is_multiple_of(wire.drop_every) {
            wire.dropped += 1;
        } else {
            wire.queues[self.to].push_back(frame);
        }
        r
    }
}

impl Device for End {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx)> {
        let frame = self.wire.borrow_mut().queues[self.side].pop_front()?;
        let tx = Tx {
            wire: self.wire.clone(),
            to: 1 - self.side,
        };
        Some((Rx(frame), tx))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx> {
        Some(Tx {
            wire: self.wire.clone(),
            to: 1 - self.side,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = self.medium;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// A stand-in DHCP responder, shaped like proxyDHCP: a datagram to 67 is echoed to the limited
/// broadcast address, one to 4011 back to its sender from port 4011 (`Transmit::local`).
#[derive(Default)]
struct Echo {
    seen: Vec<(SocketAddr, Vec<u8>)>,
    queue: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
}

impl SansIo for Echo {
    type Event = ();

    fn handle_datagram(&mut self, _now: pxe_proto::Instant, d: Datagram<'_>) {
        self.seen.push((d.local, d.payload.to_vec()));
        self.queue
            .push_back((d.remote, d.local, d.payload.to_vec()));
    }

    fn handle_timeout(&mut self, _now: pxe_proto::Instant) {}

    fn poll_transmit(&mut self, _now: pxe_proto::Instant, buf: &mut [u8]) -> Option<Transmit> {
        let (remote, local, p) = self.queue.pop_front()?;
        buf[..p.len()].copy_from_slice(&p);
        let (destination, local) = if local.port() == 4011 {
            (Destination::Unicast(remote), Some(local))
        } else {
            (Destination::Broadcast { port: 68 }, None)
        };
        Some(Transmit {
            destination,
            local,
            len: p.len(),
        })
    }

    fn poll_timeout(&self) -> Option<pxe_proto::Instant> {
        None
    }

    fn poll_event(&mut self) -> Option<()> {
        None
    }
}

#[test]
fn two_stacks_concurrent_downloads_busy_pool_errors_and_a_responder() {
    let big = content(200_000, 1);
    let small = content(60_000, 2);
    let files = [
        ("pxelinux.0", small.as_slice()),
        ("vmlinuz", big.as_slice()),
    ];
    let mut net = TwoStacks::new(Medium::Ethernet);
    let config = DriverConfig {
        transfer_ports: 50000..50002,
        responder_ports: vec![67, 4011],
        ..DriverConfig::default()
    };
    let mut driver = Driver::with_responder(
        config,
        MemoryFiles::new(&files),
        Echo::default(),
        &mut net.server_sockets,
    )
    .unwrap();

    let server_ip = Ipv4Addr::new(10, 0, 0, 1);
    let mut a = ClientNode::new(
        &mut net.client_sockets,
        6001,
        server_ip,
        "vmlinuz",
        &[("blksize", "1468"), ("windowsize", "8")],
    );
    let mut b = ClientNode::new(
        &mut net.client_sockets,
        6002,
        server_ip,
        "/pxelinux.0",
        &[("blksize", "512"), ("windowsize", "4"), ("tsize", "0")],
    );
    let mut nodes = vec![&mut a, &mut b];

    // A "DHCP" datagram to port 67 from the client stack, answered by the responder.
    let mut dhcp = udp_socket();
    dhcp.bind(68).unwrap();
    let dhcp = net.client_sockets.add(dhcp);
    net.client_sockets
        .get_mut::<udp::Socket<'_>>(dhcp)
        .send_slice(b"DISCOVER", IpEndpoint::new(IpAddress::v4(10, 0, 0, 1), 67))
        .unwrap();
    net.client_sockets
        .get_mut::<udp::Socket<'_>>(dhcp)
        .send_slice(
            b"REQUEST",
            IpEndpoint::new(IpAddress::v4(10, 0, 0, 1), 4011),
        )
        .unwrap();

    let mut now = Instant::from_millis(1);
    // Both transfers hold the two pool ports after a few rounds (ARP first).
    run_until(&mut now, 20, |now| {
        net.step(&mut nodes, &mut driver, now);
        driver.active_transfers() == 2
    });
    assert_eq!(driver.active_transfers(), 2);

    // A third request while the pool is full, a missing file and a `..` name: all refused
    // from port 69 while the two transfers go on.
    let mut c = ClientNode::new(&mut net.client_sockets, 6003, server_ip, "vmlinuz", &[]);
    let mut d = ClientNode::new(&mut net.client_sockets, 6004, server_ip, "nope", &[]);
    let mut e = ClientNode::new(
        &mut net.client_sockets,
        6005,
        server_ip,
        "../etc/passwd",
        &[],
    );
    let mut refused = vec![&mut c];
    run_until(&mut now, 20, |now| {
        net.step(&mut refused, &mut driver, now);
        net.step(&mut nodes, &mut driver, now);
        false
    });
    let busy = refused[0].outcome.clone();
    assert!(
        matches!(&busy, Some(Outcome::Failed(TransferError::Peer { code: ErrorCode::NotDefined, message })) if message == "busy"),
        "{busy:?}"
    );
    assert_eq!(driver.stats().busy, 1);

    run_until(&mut now, 10_000, |now| {
        net.step(&mut nodes, &mut driver, now);
        nodes.iter().all(|n| n.outcome.is_some()) && driver.active_transfers() == 0
    });
    assert_eq!(a.outcome, Some(Outcome::Completed));
    assert_eq!(b.outcome, Some(Outcome::Completed));
    assert!(a.got == big, "vmlinuz differs");
    assert!(b.got == small, "pxelinux.0 differs");
    assert_eq!(a.client.negotiated().windowsize, 8);
    assert_eq!(b.client.negotiated().tsize, Some(60_000));

    let mut errors = vec![&mut d, &mut e];
    run_until(&mut now, 50, |now| {
        net.step(&mut errors, &mut driver, now);
        false
    });
    let code = |n: &ClientNode| match &n.outcome {
        Some(Outcome::Failed(TransferError::Peer { code, .. })) => Some(*code),
        _ => None,
    };
    assert_eq!(code(&d), Some(ErrorCode::FileNotFound));
    assert_eq!(code(&e), Some(ErrorCode::AccessViolation));

    // The responder got both datagrams with the port each arrived on; the broadcast reply and
    // the one sent from 4011 reached the client stack.
    let seen = &driver.responder_mut().seen;
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].0.port(), &seen[0].1[..]), (67, &b"DISCOVER"[..]));
    assert_eq!((seen[1].0.port(), &seen[1].1[..]), (4011, &b"REQUEST"[..]));
    let socket = net.client_sockets.get_mut::<udp::Socket<'_>>(dhcp);
    let mut replies = Vec::new();
    while let Ok((reply, meta)) = socket.recv() {
        replies.push((meta.endpoint.port, reply.to_vec()));
    }
    replies.sort();
    assert_eq!(
        replies,
        [(67, b"DISCOVER".to_vec()), (4011, b"REQUEST".to_vec())]
    );

    let mut events = Vec::new();
    while let Some(ev) = driver.poll_event() {
        events.push(ev);
    }
    let rejected: Vec<ErrorCode> = events
        .iter()
        .filter_map(|e| match e {
            DriverEvent::Rejected { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(
        rejected,
        [
            ErrorCode::NotDefined,
            ErrorCode::FileNotFound,
            ErrorCode::AccessViolation
        ]
    );
    let finished = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                DriverEvent::Finished {
                    outcome: Outcome::Completed,
                    ..
                }
            )
        })
        .count();
    assert_eq!(finished, 2);
}

#[test]
fn wakeup_is_the_earlier_of_smoltcp_and_the_cores() {
    let file = content(10_000, 3);
    let files = [("f", file.as_slice())];
    let mut stack = OneStack::new(&files);
    let now = Instant::from_millis(5);
    // Idle: nothing to wait for.
    assert_eq!(stack.run(now), None);

    // A request whose client then goes silent: the session's retransmission deadline is the
    // wake-up, in the future.
    let mut node = ClientNode::new(
        &mut stack.sockets,
        5000,
        Ipv4Addr::new(10, 0, 0, 1),
        "f",
        &[],
    );
    node.step(now, &mut stack.sockets);
    let mut wake = None;
    for _ in 0..3 {
        wake = stack.run(now);
    }
    let wake = wake.expect("a session deadline");
    assert!(wake > now, "wake-up {wake} not after {now}");
    assert_eq!(Some(wake), stack.driver.poll_at());
}

#[test]
fn lossy_cable_still_bit_exact() {
    let file = content(150_000, 9);
    let files = [("ipxe.efi", file.as_slice())];
    let mut net = TwoStacks::new(Medium::Ip);
    net.server_dev.wire.borrow_mut().drop_every = 9;
    let mut driver = Driver::new(
        DriverConfig::default(),
        MemoryFiles::new(&files),
        &mut net.server_sockets,
    )
    .unwrap();
    let mut node = ClientNode::new(
        &mut net.client_sockets,
        7000,
        Ipv4Addr::new(10, 0, 0, 1),
        "ipxe.efi",
        &[("blksize", "1024"), ("windowsize", "8")],
    );
    run_until(&mut Instant::from_millis(1), 200_000, |now| {
        net.step(&mut [&mut node], &mut driver, now);
        node.outcome.is_some() && driver.active_transfers() == 0
    });
    assert_eq!(node.outcome, Some(Outcome::Completed));
    assert!(node.got == file, "downloaded bytes differ");
    assert_eq!(
        driver.server().stats().requests,
        1,
        "retransmitted requests ({}) are not new ones",
        driver.server().stats().duplicates
    );
    assert!(
        net.server_dev.wire.borrow().dropped > 10,
        "the cable lost nothing"
    );
    let mut retransmits = 0;
    while let Some(ev) = driver.poll_event() {
        if let DriverEvent::Finished { stats, .. } = ev {
            retransmits = stats.retransmits;
        }
    }
    assert!(
        retransmits > 0,
        "losses must have been repaired by retransmission"
    );
}

#[test]
fn a_retransmitted_request_does_not_start_a_second_transfer() {
    let file = content(20_000, 4);
    let files = [("f", file.as_slice())];
    let mut stack = OneStack::new(&files);
    // The same RRQ twice from the same port, as a client whose first copy seemed lost.
    let mut raw = udp_socket();
    raw.bind(5555).unwrap();
    let raw = stack.sockets.add(raw);
    let rrq = b"\0\x01f\0octet\0blksize\x001024\0";
    for _ in 0..2 {
        stack
            .sockets
            .get_mut::<udp::Socket<'_>>(raw)
            .send_slice(rrq, IpEndpoint::new(IpAddress::v4(10, 0, 0, 1), 69))
            .unwrap();
    }
    let now = Instant::from_millis(1);
    for _ in 0..3 {
        stack.run(now);
    }
    let driver = &stack.driver;
    assert_eq!(driver.server().stats().requests, 1);
    assert_eq!(driver.server().stats().duplicates, 1);
    assert_eq!(driver.active_transfers(), 1);
    // One OACK came back, from one transfer port.
    let socket = stack.sockets.get_mut::<udp::Socket<'_>>(raw);
    let mut from = Vec::new();
    while let Ok((reply, meta)) = socket.recv() {
        assert_eq!(&reply[..2], &[0, 6], "expected an OACK");
        from.push(meta.endpoint.port);
    }
    assert_eq!(from, [49152]);
}
