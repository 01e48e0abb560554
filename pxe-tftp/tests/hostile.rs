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

#[derive(Debug, Clone)]
enum AckStep {
    /// ACK the block `delta` past the last one acknowledged (≤ 0: old ACKs, duplicates).
    Relative(i8),
    /// ACK an arbitrary wire number.
    Raw(u16),
    /// Let the retransmission timer fire.
    Timeout,
}

/// An adversarial client ACKing a read session of 8-byte blocks where block `i` carries `i`.
struct Adversary {
    session: Session,
    file: Vec<u8>,
    window: u64,
    rollover: u16,
    /// The short final block's index.
    last: u64,
    now: Instant,
    /// Highest block acknowledged, and highest sent.
    acked: u64,
    high: u64,
    buf: Vec<u8>,
}

impl Adversary {
    fn new(window: u16, rollover: u16, full: u64, tail: usize) -> Self {
        let mut file: Vec<u8> = (1..=full).flat_map(u64::to_be_bytes).collect();
        file.extend(std::iter::repeat_n(0xee, tail));
        let request = format!(
            "\0\x01f\0octet\0blksize\x008\0windowsize\x00{window}\0rollover\x00{rollover}\0"
        );
        let session = session(request.as_bytes(), file.len());
        Adversary {
            session,
            file,
            window: u64::from(window),
            rollover,
            last: full + 1,
            now: Instant::from_secs(1),
            acked: 0,
            high: 0,
            buf: vec![0u8; pxe_tftp::wire::MAX_DATAGRAM_LEN],
        }
    }

    /// Answers `NeedData`, drains transmits, checks every DATA; returns how many were sent.
    fn drain(&mut self) -> usize {
        use pxe_tftp::BlockNumber;
        use pxe_tftp::wire::Repr;
        let mut answer = answer_from(&self.file);
        while let Some(ev) = self.session.poll_event() {
            answer(&mut self.session, ev);
        }
        let mut sent = 0;
        while let Some(t) = self.session.poll_transmit(self.now, &mut self.buf) {
            let Ok(Repr::Data { block, data }) = Repr::parse_bytes(&self.buf[..t.len]) else {
                continue;
            };
            let full_len = (self.last as usize - 1) * 8;
            let i = match <[u8; 8]>::try_from(data) {
                Ok(b) if b != [0xee; 8] => u64::from_be_bytes(b),
                _ => {
                    assert_eq!(data, &self.file[full_len..], "the final block");
                    self.last
                }
            };
            assert_eq!(
                block,
                BlockNumber::from_index(i, self.rollover),
                "block {i}"
            );
            assert!(
                i > self.acked && i <= self.acked + self.window,
                "block {i} sent outside the window after ACK {}",
                self.acked
            );
            self.high = self.high.max(i);
            sent += 1;
        }
        sent
    }

    fn ack(&mut self, wire: u16) {
        let [a, b] = wire.to_be_bytes();
        let packet = [0, 4, a, b];
        let d = Datagram::new(addr(PEER), addr(LOCAL), &packet);
        self.session.handle_datagram(self.now, d);
    }

    fn ack_index(&mut self, k: u64) {
        self.ack(pxe_tftp::BlockNumber::from_index(k, self.rollover).0);
    }

    fn run(&mut self, near_wrap: bool, steps: &[AckStep]) {
        self.drain(); // the OACK
        self.ack(0);
        self.drain();
        if near_wrap {
            // A well-behaved client up to a few blocks before the wrap.
            while self.high < 65_530 {
                self.acked = self.high;
                self.ack_index(self.acked);
                self.drain();
            }
        }
        for step in steps {
            if self.session.outcome().is_some() {
                break;
            }
            let blocks = self.session.stats().blocks;
            match *step {
                AckStep::Timeout => {
                    self.now = self.session.poll_timeout().unwrap_or(self.now);
                    self.session.handle_timeout(self.now);
                    self.drain();
                    continue;
                }
                AckStep::Relative(delta) => {
                    let k = self.acked.saturating_add_signed(i64::from(delta));
                    self.ack_index(k);
                    let advances = k > self.acked && k <= self.high;
                    let advanced = self.session.stats().blocks > blocks;
                    assert_eq!(
                        advanced, advances,
                        "ACK {k} after {}, high {}",
                        self.acked, self.high
                    );
                }
                AckStep::Raw(w) => self.ack(w),
            }
            let advanced = self.session.stats().blocks - blocks;
            self.acked += advanced;
            let sent = self.drain();
            if advanced == 0 && self.session.outcome().is_none() {
                assert_eq!(
                    sent, 0,
                    "an ACK that did not advance the window caused a send"
                );
            }
        }
        match self.session.outcome() {
            Some(pxe_tftp::Outcome::Completed) => assert!(
                self.acked == self.last || self.session.stats().final_ack_missing,
                "completed at ACK {} of {}",
                self.acked,
                self.last
            ),
            // Enough timeouts in a row give up.
            Some(pxe_tftp::Outcome::Failed(pxe_tftp::TransferError::TimedOut { .. })) => {}
            Some(other) => panic!("unexpected outcome {other:?}"),
            None => assert!(self.acked < self.last),
        }
    }
}

fn ack_steps() -> impl Strategy<Value = Vec<AckStep>> {
    proptest::collection::vec(
        prop_oneof![
            6 => (-3i8..=9).prop_map(AckStep::Relative),
            1 => any::<u16>().prop_map(AckStep::Raw),
            2 => Just(AckStep::Timeout),
        ],
        0..120,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Every DATA is the right bytes under the right number, inside the window, and an ACK that
    /// does not advance the window never causes a send (RFC 1123 §4.2.3.1).
    #[test]
    fn an_acking_adversary_gets_only_the_right_blocks(window in prop_oneof![Just(1u16), Just(4), Just(8)], rollover in 0u16..=1, tail in 0usize..8, steps in ack_steps()) {
        Adversary::new(window, rollover, 20, tail).run(false, &steps);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// The same just before block numbers wrap from 65535 to 0 (or 1).
    #[test]
    fn an_acking_adversary_across_the_wrap(window in prop_oneof![Just(1u16), Just(8)], rollover in 0u16..=1, tail in 0usize..8, steps in ack_steps()) {
        Adversary::new(window, rollover, 65_540, tail).run(true, &steps);
    }
}

#[derive(Debug, Clone)]
enum DataStep {
    /// Send the block `delta` past the client's last in-order block (≤ 0: duplicates).
    Relative(i8),
    /// Let the client's timer fire.
    Timeout,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A server sending blocks out of order, duplicated and skipped: the client hands out
    /// exactly a prefix of the file, in order, ACKs only blocks it has, sends at most one ACK
    /// per datagram (no ACK storm), and completes only with the whole file.
    #[test]
    fn a_disorderly_server_never_corrupts_the_client(
        window in prop_oneof![Just(1u16), Just(4)],
        tail in 0usize..8,
        steps in proptest::collection::vec(prop_oneof![
            6 => (-2i8..=5).prop_map(DataStep::Relative),
            8 => Just(DataStep::Relative(1)),
            1 => Just(DataStep::Timeout),
        ], 0..150),
    ) {
        use pxe_tftp::{BlockNumber, ClientEvent, Outcome};
        let full = 24u64;
        let mut file: Vec<u8> = (1..=full).flat_map(u64::to_be_bytes).collect();
        file.extend(std::iter::repeat_n(0xee, tail));
        let last = full + 1;
        let block = |i: u64| {
            let start = ((i - 1) * 8) as usize;
            let mut p = vec![0, 3];
            p.extend_from_slice(&BlockNumber::from_index(i, 0).0.to_be_bytes());
            p.extend_from_slice(&file[start.min(file.len())..(start + 8).min(file.len())]);
            p
        };
        let server: SocketAddr = "192.0.2.1:69".parse().unwrap();
        let tid: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let me: SocketAddr = "192.0.2.10:2000".parse().unwrap();
        let config = ClientConfig::default()
            .option("blksize", "8")
            .option("windowsize", &window.to_string());
        let mut now = Instant::from_secs(1);
        let mut c = Client::new(now, server, b"f", config).unwrap();
        let mut buf = vec![0u8; 600];
        while c.poll_transmit(now, &mut buf).is_some() {}
        let oack = format!("\0\x06blksize\x008\0windowsize\x00{window}\0");
        c.handle_datagram(now, Datagram::new(tid, me, oack.as_bytes()));
        let mut got: Vec<u8> = Vec::new();
        let mut outcome = None;
        for step in steps {
            let in_order = got.len() as u64 / 8;
            match step {
                DataStep::Relative(d) => {
                    let i = in_order.saturating_add_signed(i64::from(d)).clamp(1, last);
                    c.handle_datagram(now, Datagram::new(tid, me, &block(i)));
                }
                DataStep::Timeout => {
                    now = c.poll_timeout().unwrap_or(now);
                    c.handle_timeout(now);
                }
            }
            let mut acks = 0;
            while c.poll_transmit(now, &mut buf).is_some() {
                prop_assert_eq!(&buf[..2], &[0, 4]);
                acks += 1;
                let wire = u16::from_be_bytes([buf[2], buf[3]]);
                let have = c.stats().blocks;
                prop_assert!(u64::from(wire) <= have, "ACK {} for {} blocks held", wire, have);
            }
            prop_assert!(acks <= 1, "{} ACKs for one datagram", acks);
            while let Some((offset, bytes)) = c.poll_data() {
                prop_assert_eq!(offset, got.len() as u64);
                got.extend_from_slice(bytes);
            }
            prop_assert_eq!(&got[..], &file[..got.len()]);
            while let Some(ev) = c.poll_event() {
                if let ClientEvent::Finished(o) = ev {
                    prop_assert!(outcome.is_none(), "finished twice");
                    outcome = Some(o);
                }
            }
        }
        if outcome == Some(Outcome::Completed) {
            prop_assert_eq!(got, file);
        } else {
            prop_assert!(c.stats().blocks < last);
        }
    }
}
