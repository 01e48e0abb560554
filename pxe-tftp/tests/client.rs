//! The reference client packet by packet: OACK checks, servers that ignore options, TIDs,
//! retries, and the EDK2-style size probe against the real server session.

use std::net::SocketAddr;

use pxe_proto::{Datagram, Destination, Instant, SansIo};
use pxe_tftp::{
    Client, ClientConfig, ClientEvent, ErrorCode, FileInfo, Outcome, Server, ServerConfig,
    SessionEvent, TransferError,
};

const SERVER: &str = "192.0.2.1:69";
const TID: &str = "192.0.2.1:50000";
const OTHER: &str = "192.0.2.1:50001";
const ME: &str = "192.0.2.10:2000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn drain(c: &mut Client, now: Instant) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::new();
    while let Some(tx) = c.poll_transmit(now, &mut buf) {
        let Destination::Unicast(to) = tx.destination else {
            panic!()
        };
        out.push((to, buf[..tx.len].to_vec()));
    }
    out
}

fn from(c: &mut Client, who: &str, now: Instant, bytes: &[u8]) {
    c.handle_datagram(now, Datagram::new(addr(who), addr(ME), bytes));
}

#[test]
fn sends_options_in_the_given_order_and_acks_the_oack() {
    let cfg = ClientConfig::default()
        .option("tsize", "0")
        .option("blksize", "1408");
    let mut c = Client::new(t(0), addr(SERVER), b"pxelinux.0", cfg).unwrap();
    assert_eq!(
        drain(&mut c, t(0)),
        vec![(
            addr(SERVER),
            b"\0\x01pxelinux.0\0octet\0tsize\x000\0blksize\x001408\0".to_vec()
        )]
    );
    from(&mut c, TID, t(1), b"\0\x06tsize\x0042\0blksize\x001024\0");
    let Some(ClientEvent::Negotiated(n)) = c.poll_event() else {
        panic!()
    };
    assert_eq!((n.tsize, n.blksize), (Some(42), 1024));
    assert_eq!(
        drain(&mut c, t(1)),
        vec![(addr(TID), b"\0\x04\0\0".to_vec())]
    );
    assert_eq!(c.peer(), Some(addr(TID)));
    // Our ACK 0 was lost: a repeated OACK is ACKed again.
    from(&mut c, TID, t(2), b"\0\x06tsize\x0042\0blksize\x001024\0");
    assert_eq!(
        drain(&mut c, t(2)),
        vec![(addr(TID), b"\0\x04\0\0".to_vec())]
    );
    // Another port of the server is a stranger now.
    from(&mut c, OTHER, t(3), b"\0\x03\0\x01x");
    assert_eq!(
        drain(&mut c, t(3)),
        vec![(addr(OTHER), b"\0\x05\0\x05unknown transfer ID\0".to_vec())]
    );
    let mut data = b"\0\x03\0\x01".to_vec();
    data.extend_from_slice(&[9u8; 42]);
    from(&mut c, TID, t(4), &data);
    assert_eq!(c.poll_data(), Some((0, &[9u8; 42][..])));
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Finished(Outcome::Completed))
    );
    assert_eq!(
        drain(&mut c, t(4)),
        vec![(addr(TID), b"\0\x04\0\x01".to_vec())]
    );
}

#[test]
fn refuses_an_oack_with_options_it_did_not_ask_for() {
    let cfg = ClientConfig::default().option("blksize", "1432");
    let mut c = Client::new(t(0), addr(SERVER), b"f", cfg).unwrap();
    drain(&mut c, t(0));
    from(&mut c, TID, t(1), b"\0\x06blksize\x001432\0tsize\x00100\0");
    let _ = c.poll_event();
    let sent = drain(&mut c, t(1));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, addr(TID));
    assert_eq!(&sent[0].1[..4], b"\0\x05\0\x08");
    assert!(matches!(
        c.outcome(),
        Some(Outcome::Failed(TransferError::OptionNegotiation { .. }))
    ));
    assert!(c.is_finished());
}

#[test]
fn a_server_that_ignores_options_answers_with_data() {
    let cfg = ClientConfig::default()
        .option("blksize", "1468")
        .option("windowsize", "8");
    let mut c = Client::new(t(0), addr(SERVER), b"f", cfg).unwrap();
    drain(&mut c, t(0));
    let mut data = b"\0\x03\0\x01".to_vec();
    data.extend_from_slice(&[1u8; 512]);
    from(&mut c, TID, t(1), &data);
    let Some(ClientEvent::Negotiated(n)) = c.poll_event() else {
        panic!()
    };
    assert_eq!((n.blksize, n.windowsize), (512, 1));
    assert_eq!(
        drain(&mut c, t(1)),
        vec![(addr(TID), b"\0\x04\0\x01".to_vec())]
    );
}

#[test]
fn retries_the_request_then_gives_up() {
    let cfg = ClientConfig {
        max_retries: 2,
        ..ClientConfig::default()
    };
    let mut c = Client::new(t(0), addr(SERVER), b"f", cfg).unwrap();
    let mut rrqs = drain(&mut c, t(0)).len();
    while let Some(d) = c.poll_timeout() {
        c.handle_timeout(d);
        rrqs += drain(&mut c, d).len();
    }
    assert_eq!(rrqs, 3);
    assert_eq!(
        c.outcome(),
        Some(&Outcome::Failed(TransferError::TimedOut { retries: 2 }))
    );
    assert_eq!(c.stats().finished, Some(t(7000)), "1 + 2 + 4 s of backoff");
}

#[test]
fn peer_error_fails_the_transfer() {
    let mut c = Client::new(t(0), addr(SERVER), b"nope", ClientConfig::default()).unwrap();
    drain(&mut c, t(0));
    from(&mut c, SERVER, t(1), b"\0\x05\0\x01file not found\0");
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Finished(Outcome::Failed(
            TransferError::Peer {
                code: ErrorCode::FileNotFound,
                message: "file not found".into()
            }
        )))
    );
    assert!(drain(&mut c, t(1)).is_empty());
}

/// EDK2's two requests, played by the reference client against the real server session.
#[test]
fn edk2_style_probe_then_download_against_the_server() {
    let file: Vec<u8> = (0..20_000u32).map(|i| (i * 7) as u8).collect();
    let mut server = Server::new(ServerConfig::default());
    let mut buf = vec![0u8; 2048];

    let mut run = |abort_after_oack: bool, options: &[(&str, &str)]| {
        let mut cfg = ClientConfig::default();
        for (n, v) in options {
            cfg = cfg.option(n, v);
        }
        let mut c = Client::new(t(0), addr(SERVER), b"shimx64.efi", cfg).unwrap();
        let tx = c.poll_transmit(t(0), &mut buf).unwrap();
        server.handle_datagram(t(0), Datagram::new(addr(ME), addr(SERVER), &buf[..tx.len]));
        let mut s = server.poll_event().unwrap().accept(
            t(0),
            FileInfo {
                size: Some(file.len() as u64),
            },
        );
        let mut received = Vec::new();
        let mut session_end = None;
        for _ in 0..100 {
            while let Some(ev) = s.poll_event() {
                match ev {
                    SessionEvent::NeedData { offset, len } => {
                        let start = offset as usize;
                        s.supply(offset, &file[start..(start + len).min(file.len())])
                            .unwrap();
                    }
                    SessionEvent::Finished(o) => session_end = Some(o),
                    _ => {}
                }
            }
            while let Some(tx) = s.poll_transmit(t(0), &mut buf) {
                c.handle_datagram(t(0), Datagram::new(addr(TID), addr(ME), &buf[..tx.len]));
                while let Some((_, bytes)) = c.poll_data() {
                    received.extend_from_slice(bytes);
                }
                while let Some(ev) = c.poll_event() {
                    if let (ClientEvent::Negotiated(n), true) = (&ev, abort_after_oack) {
                        assert_eq!(n.tsize, Some(20_000));
                        c.abort(
                            t(0),
                            ErrorCode::OptionNegotiation,
                            "User aborted the transfer",
                        );
                    }
                }
            }
            while let Some(tx) = c.poll_transmit(t(0), &mut buf) {
                s.handle_datagram(t(0), Datagram::new(addr(ME), addr(TID), &buf[..tx.len]));
            }
            if s.is_finished() {
                break;
            }
        }
        assert!(session_end.is_none() || session_end.as_ref() == s.outcome());
        (s.outcome().cloned(), received, s.stats().windowsize)
    };

    let (end, received, _) = run(
        true,
        &[("tsize", "0"), ("blksize", "1468"), ("windowsize", "4")],
    );
    assert_eq!(end, Some(Outcome::SizeProbe));
    assert!(received.is_empty());
    let (end, received, window) = run(false, &[("blksize", "1468"), ("windowsize", "4")]);
    assert_eq!(end, Some(Outcome::Completed));
    assert!(received == file);
    assert_eq!(window, 4);
}

#[test]
fn abort_while_dallying_keeps_the_completion() {
    // Fuzz FINDING-1: a driver that aborts every live client on shutdown must not turn a
    // finished download into a failure or send the server an ERROR.
    let mut c = Client::new(t(0), addr(SERVER), b"f", ClientConfig::default()).unwrap();
    drain(&mut c, t(0));
    from(&mut c, TID, t(1), &[0, 3, 0, 1]); // DATA 1, empty: done, dallying
    assert!(matches!(c.poll_event(), Some(ClientEvent::Negotiated(_))));
    assert_eq!(
        c.poll_event(),
        Some(ClientEvent::Finished(Outcome::Completed))
    );
    assert_eq!(drain(&mut c, t(1)), vec![(addr(TID), vec![0, 4, 0, 1])]);
    assert!(!c.is_finished());
    c.abort(t(2), ErrorCode::NotDefined, "shutdown");
    assert_eq!(c.poll_event(), None);
    assert!(drain(&mut c, t(2)).is_empty());
    assert_eq!(c.outcome(), Some(&Outcome::Completed));
    assert!(c.is_finished());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn a_rollover_beyond_1_is_treated_as_1() {
    let cfg = ClientConfig {
        rollover: 9,
        ..ClientConfig::default()
    };
    let c = Client::new(t(0), addr(SERVER), b"f", cfg).unwrap();
    assert_eq!(c.negotiated().rollover, 1);
}

/// Sends `ACK n`'s reply, DATA `n + 1` of 512 bytes, at `now` and returns what the client sent.
fn data(c: &mut Client, now: Instant, block: u16) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut d = vec![0, 3];
    d.extend_from_slice(&block.to_be_bytes());
    d.extend_from_slice(&[7u8; 512]);
    from(c, TID, now, &d);
    while c.poll_data().is_some() {}
    drain(c, now)
}

fn ack(block: u16) -> (SocketAddr, Vec<u8>) {
    let mut a = vec![0, 4];
    a.extend_from_slice(&block.to_be_bytes());
    (addr(TID), a)
}

#[test]
fn the_timer_adapts_to_measured_round_trips() {
    let mut c = Client::new(t(0), addr(SERVER), b"f", ClientConfig::default()).unwrap();
    drain(&mut c, t(0));
    // Before any sample: the initial 1 s.
    assert_eq!(c.poll_timeout(), Some(t(1000)));
    for k in 1..=10u16 {
        let now = t(u64::from(k));
        assert_eq!(data(&mut c, now, k), vec![ack(k)]);
    }
    // 1 ms round trips: down to the floor.
    assert_eq!(
        c.poll_timeout(),
        Some(t(10) + pxe_tftp::CLIENT_RTO_MIN),
        "{:?}",
        c.poll_timeout()
    );
    // Lost DATA: the ACK is resent at the floor, then after twice that.
    let d = c.poll_timeout().unwrap();
    c.handle_timeout(d);
    assert_eq!(drain(&mut c, d), vec![ack(10)]);
    assert_eq!(c.poll_timeout(), Some(d + pxe_tftp::CLIENT_RTO_MIN * 2));
}

#[test]
fn karns_rule_no_sample_from_a_resent_request() {
    let mut c = Client::new(t(0), addr(SERVER), b"f", ClientConfig::default()).unwrap();
    drain(&mut c, t(0));
    c.handle_timeout(t(1000));
    assert_eq!(drain(&mut c, t(1000)).len(), 1, "the RRQ again");
    // DATA 1 right after the resend: it may answer the first RRQ (a 1 s round trip) or the
    // second (1 ms). Neither is taken: the timer stays at its initial 1 s.
    assert_eq!(data(&mut c, t(1001), 1), vec![ack(1)]);
    assert_eq!(c.poll_timeout(), Some(t(2001)));
    // The next exchange was sent once: a sample.
    assert_eq!(data(&mut c, t(1002), 2), vec![ack(2)]);
    assert_eq!(c.poll_timeout(), Some(t(1002) + pxe_tftp::CLIENT_RTO_MIN));
}

/// A client that received DATA 1–5 and then, its timer having fired, sent ACK 5 again; and
/// when it did.
fn acked_5_twice() -> (Client, Instant) {
    let mut c = Client::new(t(0), addr(SERVER), b"f", ClientConfig::default()).unwrap();
    drain(&mut c, t(0));
    for k in 1..=5u16 {
        data(&mut c, t(u64::from(k)), k);
    }
    let d = c.poll_timeout().unwrap();
    c.handle_timeout(d);
    assert_eq!(drain(&mut c, d), vec![ack(5)]);
    (c, d)
}

#[test]
fn a_copy_answering_our_own_repeated_ack_is_not_acked() {
    // A server with the Sorcerer's Apprentice bug (RFC 1123 §4.2.3.1) answers each copy of
    // ACK n with DATA n + 1. If the client ACKed the second copy too, every later block would
    // come twice.
    let (mut c, d) = acked_5_twice();
    let now = d + pxe_tftp::CLIENT_RTO_MIN / 2;
    assert_eq!(data(&mut c, now, 6), vec![ack(6)]);
    assert_eq!(data(&mut c, now, 6), vec![], "the echo of our resent ACK 5");
    // A later duplicate (our ACK 7 was lost, the server's timer resent DATA 7) is ACKed.
    assert_eq!(data(&mut c, now, 7), vec![ack(7)]);
    assert_eq!(data(&mut c, now, 7), vec![ack(7)]);
}

#[test]
fn an_echo_that_arrives_after_the_next_block_is_not_acked() {
    // The same echo, reordered behind DATA n + 2 by the network: in lock-step the server had
    // our ACK of a block before it sent the next, so a copy older than the last block received
    // says nothing about a lost ACK and gets no answer.
    let (mut c, d) = acked_5_twice();
    assert_eq!(data(&mut c, d, 6), vec![ack(6)]);
    assert_eq!(data(&mut c, d, 7), vec![ack(7)]);
    assert_eq!(
        data(&mut c, d, 6),
        vec![],
        "the echo of our resent ACK 5, late"
    );
    assert_eq!(data(&mut c, d, 8), vec![ack(8)]);
}

#[test]
fn a_measured_timer_does_not_make_the_client_less_patient() {
    // After 1 ms round trips the timer is at its 20 ms floor; the server then goes silent.
    // The quick expiries below the initial 1 s are not counted: the client still waits
    // through five retransmissions of 1 s and more before it gives up.
    let mut c = Client::new(t(0), addr(SERVER), b"f", ClientConfig::default()).unwrap();
    drain(&mut c, t(0));
    for k in 1..=10u16 {
        data(&mut c, t(u64::from(k)), k);
    }
    let mut acks = 0;
    while let Some(d) = c.poll_timeout() {
        c.handle_timeout(d);
        acks += drain(&mut c, d).len();
    }
    // 20, 40, ..., 640 ms (6), then 1.28, 2.56, 5.12, 8, 8 s (5) and the give-up.
    assert_eq!(acks, 11);
    assert_eq!(
        c.outcome(),
        Some(&Outcome::Failed(TransferError::TimedOut { retries: 5 }))
    );
    let silent = c.stats().finished.unwrap().as_millis() - 10;
    assert!(silent > 31_000, "{silent} ms");
}
