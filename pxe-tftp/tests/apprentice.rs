//! The reference client against a server with the Sorcerer's Apprentice bug (RFC 1123
//! §4.2.3.1: it sends DATA n + 1 for every copy of ACK n it receives), over a lossy link with
//! random delays. Once the client resent an ACK on its own timer, such a server sends the next
//! block twice; if the client ACKed both copies, every later block would come twice. The
//! client's adaptive timer fires early and often, so the invariant matters: the server's DATA
//! stays within the file's blocks plus a few per loss or timeout, never twice the file.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;

use proptest::prelude::*;
use pxe_proto::{Datagram, Destination, Duration, Instant, SansIo};
use pxe_tftp::{Client, ClientConfig, Outcome};

const BLOCKS: u16 = 200;

/// A packet in flight: arrival time, sequence number (FIFO among equal times), whether it goes
/// to the client, and its bytes.
type InFlight = Reverse<(Instant, u64, bool, Vec<u8>)>;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn data(block: u16) -> Vec<u8> {
    let mut d = vec![0, 3];
    d.extend_from_slice(&block.to_be_bytes());
    d.resize(if block == BLOCKS { 4 + 100 } else { 4 + 512 }, 0x5a);
    d
}

/// Counts: (DATA the server sent, packets lost, client timeouts, server timeouts).
fn run(seed: u64, loss_pct: u64, max_delay_us: u64) -> (u64, u64, u64, u64) {
    let (me, srv) = (addr("192.0.2.10:2000"), addr("192.0.2.1:69"));
    let tid = addr("192.0.2.1:50000");
    let mut rng = seed | 1;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let cfg = ClientConfig {
        dally: Duration::ZERO,
        ..ClientConfig::default()
    };
    let mut now = Instant::ZERO;
    let mut client = Client::new(now, srv, b"f", cfg).unwrap();
    let mut queue: BinaryHeap<InFlight> = BinaryHeap::new();
    let mut seq = 0;
    let (mut sent, mut lost, mut server_timeouts) = (0u64, 0u64, 0u64);
    // The server: last DATA sent and when its 50 ms timer expires.
    let mut last: Option<u16> = None;
    let mut server_deadline: Option<Instant> = None;
    let mut buf = vec![0u8; 1024];
    let mut send =
        |now: Instant, to_client: bool, bytes: Vec<u8>, queue: &mut BinaryHeap<InFlight>| {
            if next(100) < loss_pct {
                return true;
            }
            seq += 1;
            let at = now + Duration::from_micros(200 + next(max_delay_us));
            queue.push(Reverse((at, seq, to_client, bytes)));
            false
        };
    while client.outcome().is_none() && now < Instant::from_secs(600) {
        while let Some(t) = client.poll_transmit(now, &mut buf) {
            let Destination::Unicast(_) = t.destination else {
                panic!()
            };
            lost += u64::from(send(now, false, buf[..t.len].to_vec(), &mut queue));
        }
        while client.poll_data().is_some() {}
        while client.poll_event().is_some() {}
        let at_queue = queue.peek().map(|Reverse((at, ..))| *at);
        let wake = [at_queue, client.poll_timeout(), server_deadline]
            .into_iter()
            .flatten()
            .min();
        let Some(wake) = wake else { break };
        now = now.max(wake);
        if server_deadline.is_some_and(|d| d <= now) {
            server_timeouts += 1;
            server_deadline = Some(now + Duration::from_millis(50));
            if let Some(b) = last {
                sent += 1;
                lost += u64::from(send(now, true, data(b), &mut queue));
            }
        }
        if client.poll_timeout().is_some_and(|d| d <= now) {
            client.handle_timeout(now);
        }
        while queue.peek().is_some_and(|Reverse((at, ..))| *at <= now) {
            let Reverse((_, _, to_client, bytes)) = queue.pop().unwrap();
            if to_client {
                client.handle_datagram(now, Datagram::new(tid, me, &bytes));
                continue;
            }
            // RRQ (opcode 1) or ACK n: send the next block, every time (the bug).
            let n = match bytes[1] {
                1 => 0,
                4 => u16::from_be_bytes([bytes[2], bytes[3]]),
                _ => continue,
            };
            if n < BLOCKS {
                last = Some(n + 1);
                server_deadline = Some(now + Duration::from_millis(50));
                sent += 1;
                lost += u64::from(send(now, true, data(n + 1), &mut queue));
            } else {
                server_deadline = None;
                last = None;
            }
        }
    }
    assert_eq!(client.outcome(), Some(&Outcome::Completed), "seed {seed}");
    (sent, lost, client.stats().timeouts, server_timeouts)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn an_apprentice_server_never_sends_the_file_twice(
        seed in any::<u64>(),
        loss_pct in 0u64..15,
        max_delay_us in 1u64..30_000,
    ) {
        let (sent, lost, client_timeouts, server_timeouts) = run(seed, loss_pct, max_delay_us);
        let extra = sent - u64::from(BLOCKS);
        prop_assert!(
            extra <= 3 * (lost + client_timeouts + server_timeouts),
            "{sent} DATA for {BLOCKS} blocks: {lost} lost, {client_timeouts} client and \
             {server_timeouts} server timeouts"
        );
    }
}
