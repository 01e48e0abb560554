//! A simulated network and clock joining a `Client` to a `Server` and the `Session` it accepts.
//!
//! The link is seeded (loss, duplication, reordering through random delay), time jumps to the
//! next delivery or deadline, and every input is followed by a full drain, as the `SansIo`
//! contract says. The harness checks, on every datagram delivered to the server session, that a
//! packet which did not advance the transfer caused no retransmission (no Sorcerer's
//! Apprentice).

#![allow(
    dead_code,
    reason = "each test file uses a different part of the simulator"
)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;

use pxe_proto::{Datagram, Destination, Duration, Instant, SansIo};
use pxe_tftp::{
    Client, ClientConfig, ClientEvent, FileInfo, Outcome, Server, ServerConfig, Session,
    SessionEvent,
};

/// SplitMix64: small, seeded, good enough to drive a link.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Link impairments.
#[derive(Debug, Clone, Copy)]
pub struct Netem {
    pub loss: f64,
    pub duplicate: f64,
    /// One-way delay. Without reordering the link is FIFO, like a real single path.
    pub delay: Duration,
    /// Probability that a packet (or a duplicate copy) is held back by a random extra delay up
    /// to `reorder_delay`, so later packets overtake it.
    pub reorder: f64,
    pub reorder_delay: Duration,
}

impl Netem {
    pub fn clean() -> Self {
        Netem {
            loss: 0.0,
            duplicate: 0.0,
            delay: Duration::from_micros(500),
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
        }
    }

    pub fn lossy(loss: f64) -> Self {
        Netem {
            loss,
            duplicate: loss / 3.0,
            delay: Duration::from_millis(1),
            reorder: loss / 3.0,
            reorder_delay: Duration::from_millis(3),
        }
    }
}

struct InFlight {
    at: Instant,
    seq: u64,
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

pub const CLIENT: &str = "192.0.2.10:2000";
pub const SERVER: &str = "192.0.2.1:69";
pub const SESSION: &str = "192.0.2.1:50000";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The result of one simulated transfer.
pub struct Run {
    pub received: Vec<u8>,
    pub client_outcome: Option<Outcome>,
    pub session_outcome: Option<Outcome>,
    pub session_stats: Option<pxe_tftp::TransferStats>,
    pub client_stats: pxe_tftp::TransferStats,
    pub negotiated: Option<pxe_tftp::Negotiated>,
    /// Datagrams the harness delivered to the session that did not advance it.
    pub non_advancing_deliveries: u64,
    pub end: Instant,
}

pub struct Sim {
    pub rng: Rng,
    pub netem: Netem,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    pub now: Instant,
    /// Packets for which this returns true are lost, whatever the link says.
    pub drop: Option<fn(&[u8]) -> bool>,
}

impl Sim {
    pub fn new(seed: u64, netem: Netem) -> Self {
        Sim {
            rng: Rng::new(seed),
            netem,
            queue: BinaryHeap::new(),
            seq: 0,
            now: Instant::ZERO,
            drop: None,
        }
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        let copies = if self.drop.is_some_and(|f| f(bytes)) || self.rng.chance(self.netem.loss) {
            0
        } else if self.rng.chance(self.netem.duplicate) {
            2
        } else {
            1
        };
        for copy in 0..copies {
            let held = copy > 0 || self.rng.chance(self.netem.reorder);
            let range = self.netem.reorder_delay.as_micros() as u64;
            let extra = if held && range > 0 {
                1 + self.rng.below(range)
            } else {
                0
            };
            let at = self.now + self.netem.delay + Duration::from_micros(extra);
            self.seq += 1;
            self.queue.push(Reverse(InFlight {
                at,
                seq: self.seq,
                from,
                to,
                bytes: bytes.to_vec(),
            }));
        }
    }

    /// Runs a client reading `file` through a server with `config` until both sides are done.
    pub fn transfer(
        &mut self,
        file: &[u8],
        client_cfg: ClientConfig,
        config: ServerConfig,
        file_size: Option<u64>,
    ) -> Run {
        let (cli, srv, sess) = (addr(CLIENT), addr(SERVER), addr(SESSION));
        let mut client = Client::new(self.now, srv, b"file.bin", client_cfg).unwrap();
        let mut server = Server::new(config);
        let mut session: Option<Session> = None;
        let mut session_id = None;
        let mut received = Vec::new();
        let mut buf = vec![0u8; pxe_tftp::wire::MAX_DATAGRAM_LEN];
        let mut negotiated = None;
        let mut client_outcome = None;
        let mut non_advancing = 0;
        let mut steps = 0u64;
        loop {
            steps += 1;
            assert!(steps < 50_000_000, "simulation does not converge");
            // Drain everything.
            while let Some(t) = client.poll_transmit(self.now, &mut buf) {
                let Destination::Unicast(to) = t.destination else {
                    panic!()
                };
                self.send(cli, to, &buf[..t.len]);
            }
            while let Some((offset, bytes)) = client.poll_data() {
                assert_eq!(offset, received.len() as u64, "client data is contiguous");
                received.extend_from_slice(bytes);
            }
            while let Some(ev) = client.poll_event() {
                match ev {
                    ClientEvent::Negotiated(n) => negotiated = Some(n),
                    ClientEvent::Finished(o) => client_outcome = Some(o),
                    _ => {}
                }
            }
            while let Some(t) = server.poll_transmit(self.now, &mut buf) {
                let Destination::Unicast(to) = t.destination else {
                    panic!()
                };
                self.send(srv, to, &buf[..t.len]);
            }
            // A handshake that gave up (its client never got through) leaves the table, so
            // the client's next request is a new one, as a driver does.
            if let Some(s) = &session
                && s.is_finished()
                && !s.stats().established
                && let Some(id) = session_id.take()
            {
                server.finished(id);
                session = None;
            }
            while let Some(inc) = server.poll_event() {
                // The server hands out the first request only; repeats come as poll_repeated.
                if session.is_none() {
                    session_id = Some(inc.id());
                    session = Some(inc.accept(self.now, FileInfo { size: file_size }));
                }
            }
            while server.poll_repeated().is_some() {
                if let Some(s) = session.as_mut() {
                    s.handle_repeat(self.now);
                }
            }
            if let Some(s) = session.as_mut() {
                loop {
                    let mut progressed = false;
                    while let Some(ev) = s.poll_event() {
                        if let SessionEvent::NeedData { offset, len } = ev {
                            let start = (offset as usize).min(file.len());
                            let end = (start + len).min(file.len());
                            s.supply(offset, &file[start..end]).unwrap();
                            progressed = true;
                        }
                    }
                    while let Some(t) = s.poll_transmit(self.now, &mut buf) {
                        let Destination::Unicast(to) = t.destination else {
                            panic!()
                        };
                        let bytes = buf[..t.len].to_vec();
                        self.send(sess, to, &bytes);
                        progressed = true;
                    }
                    if !progressed {
                        break;
                    }
                }
            }
            // Next moment anything happens.
            let mut next = self.queue.peek().map(|Reverse(p)| p.at);
            for d in [
                client.poll_timeout(),
                session.as_ref().and_then(|s| s.poll_timeout()),
            ] {
                next = match (next, d) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            let Some(next) = next else { break };
            assert!(next >= self.now, "deadlines never lie in the past");
            self.now = next;
            if let Some(Reverse(p)) = self.queue.peek()
                && p.at <= self.now
            {
                let Reverse(p) = self.queue.pop().unwrap();
                let dgram = Datagram::new(p.from, p.to, &p.bytes);
                if p.to == cli {
                    client.handle_datagram(self.now, dgram);
                } else if p.to == srv {
                    server.handle_datagram(self.now, dgram);
                } else if let Some(s) = session.as_mut() {
                    let before = s.stats().clone();
                    s.handle_datagram(self.now, dgram);
                    if s.stats().blocks == before.blocks {
                        non_advancing += 1;
                        // Drain now and check: nothing may be resent.
                        let mut sent = 0;
                        while let Some(t) = s.poll_transmit(self.now, &mut buf) {
                            let Destination::Unicast(to) = t.destination else {
                                panic!()
                            };
                            let bytes = buf[..t.len].to_vec();
                            self.send(sess, to, &bytes);
                            sent += 1;
                        }
                        let _ = sent;
                        assert_eq!(
                            s.stats().retransmits,
                            before.retransmits,
                            "a packet that did not advance the window caused a resend"
                        );
                    }
                }
                continue;
            }
            client.handle_timeout(self.now);
            if let Some(s) = session.as_mut() {
                s.handle_timeout(self.now);
            }
        }
        Run {
            received,
            client_outcome,
            session_outcome: session.as_ref().and_then(|s| s.outcome().cloned()),
            session_stats: session.as_ref().map(|s| s.stats().clone()),
            client_stats: client.stats().clone(),
            negotiated,
            non_advancing_deliveries: non_advancing,
            end: self.now,
        }
    }
}
