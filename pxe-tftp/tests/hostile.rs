//! Hostile input sequences: arbitrary datagrams (from the peer and from strangers) and clock
//! jumps into every state machine. Nothing may panic, queues stay bounded, and after
//! `handle_timeout(now)` the next deadline is never in the past.

use std::net::SocketAddr;

use proptest::prelude::*;
use pxe_proto::{Datagram, Duration, Instant, SansIo};
use pxe_tftp::{Client, ClientConfig, FileInfo, Server, ServerConfig, Session, SessionEvent};

#[derive(Debug, Clone)]
enum Step {
    /// A datagram from the peer (true) or a stranger (false).
    Packet(bool, Vec<u8>),
    /// Advance the clock by this many milliseconds and fire timers.
    Wait(u16),
}

/// Packets that look like TFTP often enough to reach deep states.
fn packet() -> impl Strategy<Value = Vec<u8>> {
    let block = any::<u16>().prop_map(|b| b.to_be_bytes());
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        block.clone().prop_map(|[a, b]| vec![0, 4, a, b]),
        (block.clone(), 0usize..600).prop_map(|([a, b], n)| {
            let mut p = vec![0, 3, a, b];
            p.extend(std::iter::repeat_n(0x5a, n));
            p
        }),
        Just(b"\0\x06blksize\x00512\0windowsize\x004\0tsize\x00100\0".to_vec()),
        Just(b"\0\x06blksize\x0099999\0".to_vec()),
        Just(b"\0\x05\0\x08stop\0".to_vec()),
        Just(b"\0\x01f\0octet\0blksize\x008\0".to_vec()),
        (0u16..6, proptest::collection::vec(any::<u8>(), 0..30)).prop_map(|(op, rest)| {
            let mut p = op.to_be_bytes().to_vec();
            p.extend(rest);
            p
        }),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            3 => (any::<bool>(), packet()).prop_map(|(peer, p)| Step::Packet(peer, p)),
            1 => any::<u16>().prop_map(Step::Wait),
        ],
        0..80,
    )
}

const PEER: &str = "192.0.2.10:2000";
const STRANGER: &str = "192.0.2.66:7";
const LOCAL: &str = "192.0.2.1:50000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Drives any core through `steps`, answering `NeedData` through `answer`.
fn drive<S: SansIo>(core: &mut S, steps: &[Step], mut answer: impl FnMut(&mut S, S::Event)) {
    let mut now = Instant::from_secs(1);
    let mut buf = vec![0u8; pxe_tftp::wire::MAX_DATAGRAM_LEN];
    for step in steps {
        match step {
            Step::Packet(peer, bytes) => {
                let from = addr(if *peer { PEER } else { STRANGER });
                core.handle_datagram(now, Datagram::new(from, addr(LOCAL), bytes));
            }
            Step::Wait(ms) => {
                now += Duration::from_millis(u64::from(*ms));
                core.handle_timeout(now);
            }
        }
        let mut sent = 0;
        while let Some(tx) = core.poll_transmit(now, &mut buf) {
            assert!(tx.len <= buf.len());
            sent += 1;
            assert!(sent < 10_000, "transmit queue does not drain");
        }
        let mut events = 0;
        while let Some(ev) = core.poll_event() {
            answer(core, ev);
            events += 1;
            assert!(events < 1000, "event queue does not drain");
        }
        while core.poll_transmit(now, &mut buf).is_some() {}
        if let Some(deadline) = core.poll_timeout() {
            assert!(deadline > now, "deadline {deadline} not after now {now}");
        }
    }
}

fn answer_from(file: &[u8]) -> impl FnMut(&mut Session, SessionEvent) + '_ {
    move |s, ev| {
        if let SessionEvent::NeedData { offset, len } = ev {
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(file.len());
            let end = start.saturating_add(len).min(file.len());
            match s.supply(offset, &file[start..end]) {
                Ok(()) | Err(pxe_tftp::Error::Finished) => {}
                Err(e) => panic!("{e}"),
            }
        }
        while s.poll_data().is_some() {}
    }
}

fn session(request: &[u8], size: usize) -> Session {
    let config = ServerConfig {
        allow_write: true,
        ..ServerConfig::default()
    };
    let mut server = Server::new(config);
    server.handle_datagram(
        Instant::from_secs(1),
        Datagram::new(addr(PEER), addr("192.0.2.1:69"), request),
    );
    server.poll_event().unwrap().accept(
        Instant::from_secs(1),
        FileInfo {
            size: Some(size as u64),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn server_survives_anything(steps in steps()) {
        let mut server = Server::new(ServerConfig { allow_write: true, ..ServerConfig::default() });
        drive(&mut server, &steps, |_, _| {});
    }

    #[test]
    fn read_session_survives_anything(steps in steps(), size in 0usize..5000, windowed in any::<bool>(), netascii in any::<bool>()) {
        let request: &[u8] = match (windowed, netascii) {
            (true, false) => b"\0\x01f\0octet\0blksize\x00512\0windowsize\x004\0tsize\x000\0",
            (false, false) => b"\0\x01f\0octet\0",
            (_, true) => b"\0\x01f\0netascii\0blksize\x008\0",
        };
        let file: Vec<u8> = (0..size).map(|i| if i % 7 == 0 { b'\n' } else { i as u8 }).collect();
        let mut s = session(request, size);
        drive(&mut s, &steps, answer_from(&file));
    }

    #[test]
    fn write_session_survives_anything(steps in steps(), windowed in any::<bool>()) {
        let request: &[u8] = if windowed {
            b"\0\x02f\0octet\0blksize\x00512\0windowsize\x004\0"
        } else {
            b"\0\x02f\0netascii\0"
        };
        let mut s = session(request, 0);
        drive(&mut s, &steps, answer_from(&[]));
    }

    #[test]
    fn client_survives_anything(steps in steps(), windowed in any::<bool>()) {
        let mut config = ClientConfig::default().option("tsize", "0");
        if windowed {
            config = config.option("blksize", "512").option("windowsize", "4");
        }
        let server: SocketAddr = "192.0.2.10:69".parse().unwrap();
        let mut client = Client::new(Instant::from_secs(1), server, b"f", config).unwrap();
        drive(&mut client, &steps, |_, _| {});
        while client.poll_data().is_some() {}
    }
}
