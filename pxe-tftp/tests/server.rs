//! The server side packet by packet: real-client request fixtures (option lists and orders as
//! tcpdump captured them from real firmware), refusals, wrong TIDs, duplicate ACKs,
//! retry caps and write sessions.

use std::net::SocketAddr;

use pxe_proto::{Datagram, Destination, Duration, Instant, SansIo};
use pxe_tftp::wire::Repr;
use pxe_tftp::{
    BlockNumber, ErrorCode, FileInfo, Incoming, Outcome, RequestKind, Server, ServerConfig,
    Session, SessionEvent, TransferError,
};

const CLIENT: &str = "192.0.2.10:2000";
const INTRUDER: &str = "192.0.2.66:2000";
const SERVER: &str = "192.0.2.1:69";
const SESSION: &str = "192.0.2.1:50000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// One request through `server`; its table entry is released at once (these tests are about
/// sessions; the table has its own tests), so the same request can be made again.
fn request(server: &mut Server, bytes: &[u8]) -> Incoming {
    server.handle_datagram(t(0), Datagram::new(addr(CLIENT), addr(SERVER), bytes));
    let incoming = server.poll_event().expect("an Incoming");
    server.finished(incoming.id());
    incoming
}

/// The session's next event other than `Established`.
fn event(session: &mut Session) -> Option<SessionEvent> {
    loop {
        match session.poll_event() {
            Some(SessionEvent::Established) => {}
            other => return other,
        }
    }
}

/// A server that accepts write requests.
fn writable() -> Server {
    Server::new(ServerConfig {
        allow_write: true,
        ..ServerConfig::default()
    })
}

/// Everything the session wants to send now, as `(destination, bytes)`.
fn drain(session: &mut Session, now: Instant) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut buf = vec![0u8; 70_000];
    let mut out = Vec::new();
    while let Some(tx) = session.poll_transmit(now, &mut buf) {
        let Destination::Unicast(to) = tx.destination else {
            panic!("unicast only")
        };
        out.push((to, buf[..tx.len].to_vec()));
    }
    out
}

/// Answers every pending `NeedData` from `file`.
fn feed(session: &mut Session, file: &[u8]) -> Vec<SessionEvent> {
    let mut other = Vec::new();
    while let Some(ev) = session.poll_event() {
        match ev {
            SessionEvent::NeedData { offset, len } => {
                let start = (offset as usize).min(file.len());
                let end = (start + len).min(file.len());
                session.supply(offset, &file[start..end]).unwrap();
            }
            SessionEvent::Established => {}
            ev => other.push(ev),
        }
    }
    other
}

fn from_client(session: &mut Session, now: Instant, bytes: &[u8]) {
    session.handle_datagram(now, Datagram::new(addr(CLIENT), addr(SESSION), bytes));
}

fn ack(block: u16) -> [u8; 4] {
    let [a, b] = block.to_be_bytes();
    [0, 4, a, b]
}

fn data_block(packet: &[u8]) -> (u16, usize) {
    match Repr::parse_bytes(packet).unwrap() {
        Repr::Data { block, data } => (block.0, data.len()),
        other => panic!("expected DATA, got {other:?}"),
    }
}

#[test]
fn ipxe_gets_blksize_then_tsize_and_1432_byte_blocks() {
    let mut server = Server::new(ServerConfig::default());
    let inc = request(
        &mut server,
        b"\0\x01undionly.kpxe\0octet\0blksize\x001432\0tsize\x000\0",
    );
    assert_eq!(inc.kind(), RequestKind::Read);
    assert_eq!(inc.filename(), b"undionly.kpxe");
    assert_eq!(inc.options().blksize, Some(1432));
    let file = vec![7u8; 70_000];
    let mut s = inc.accept(t(0), FileInfo { size: Some(70_000) });
    feed(&mut s, &file);
    let sent = drain(&mut s, t(0));
    assert_eq!(
        sent,
        vec![(
            addr(CLIENT),
            b"\0\x06blksize\x001432\0tsize\x0070000\0".to_vec()
        )]
    );
    from_client(&mut s, t(1), &ack(0));
    feed(&mut s, &file);
    let sent = drain(&mut s, t(1));
    assert_eq!(sent.len(), 1, "lockstep without windowsize");
    assert_eq!(data_block(&sent[0].1), (1, 1432));
}

#[test]
fn pxelinux_gets_tsize_then_blksize() {
    let mut server = Server::new(ServerConfig::default());
    let inc = request(
        &mut server,
        b"\0\x01pxelinux.cfg/default\0octet\0tsize\x000\0blksize\x001408\0",
    );
    let mut s = inc.accept(t(0), FileInfo { size: Some(321) });
    feed(&mut s, &[0u8; 321]);
    assert_eq!(
        drain(&mut s, t(0))[0].1,
        b"\0\x06tsize\x00321\0blksize\x001408\0"
    );
}

#[test]
fn edk2_size_probe_then_windowed_download() {
    let mut server = Server::new(ServerConfig::default());
    let file: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();

    // 1. The probe: tsize + blksize + windowsize, then ERROR 8 right after the OACK.
    let inc = request(
        &mut server,
        b"\0\x01shimx64.efi\0octet\0tsize\x000\0blksize\x001468\0windowsize\x004\0",
    );
    let mut probe = inc.accept(
        t(0),
        FileInfo {
            size: Some(file.len() as u64),
        },
    );
    feed(&mut probe, &file);
    assert_eq!(
        drain(&mut probe, t(0))[0].1,
        b"\0\x06tsize\x0010000\0blksize\x001468\0windowsize\x004\0"
    );
    from_client(&mut probe, t(1), b"\0\x05\0\x08User aborted the transfer\0");
    assert_eq!(
        feed(&mut probe, &file),
        vec![SessionEvent::Finished(Outcome::SizeProbe)]
    );
    assert!(probe.is_finished());
    assert!(drain(&mut probe, t(1)).is_empty(), "never answer an ERROR");

    // 2. The download: blksize + windowsize, four blocks per ACK.
    let inc = request(
        &mut server,
        b"\0\x01shimx64.efi\0octet\0blksize\x001468\0windowsize\x004\0",
    );
    let mut s = inc.accept(
        t(2),
        FileInfo {
            size: Some(file.len() as u64),
        },
    );
    feed(&mut s, &file);
    assert_eq!(
        drain(&mut s, t(2))[0].1,
        b"\0\x06blksize\x001468\0windowsize\x004\0"
    );
    from_client(&mut s, t(3), &ack(0));
    feed(&mut s, &file);
    let blocks: Vec<_> = drain(&mut s, t(3))
        .iter()
        .map(|(_, p)| data_block(p))
        .collect();
    assert_eq!(blocks, vec![(1, 1468), (2, 1468), (3, 1468), (4, 1468)]);
    from_client(&mut s, t(4), &ack(4));
    feed(&mut s, &file);
    let blocks: Vec<_> = drain(&mut s, t(4))
        .iter()
        .map(|(_, p)| data_block(p))
        .collect();
    // 10000 = 6 * 1468 + 1192: blocks 5 and 6 full, 7 short.
    assert_eq!(blocks, vec![(5, 1468), (6, 1468), (7, 1192)]);
    from_client(&mut s, t(5), &ack(7));
    assert_eq!(
        feed(&mut s, &file),
        vec![SessionEvent::Finished(Outcome::Completed)]
    );
    assert!(s.is_finished());
    let stats = s.stats();
    assert_eq!(
        (stats.bytes, stats.blocks, stats.retransmits),
        (10_000, 7, 0)
    );
    assert_eq!((stats.blksize, stats.windowsize), (1468, 4));
}

#[test]
fn no_options_means_no_oack_and_data_first() {
    let mut server = Server::new(ServerConfig::default());
    for req in [
        &b"\0\x01a\0octet\0"[..],
        b"\0\x01a\0octet\0x-vendor\x001\0",
        b"\0\x01a\0octet\0blksize\x004\0",
    ] {
        let mut s = request(&mut server, req).accept(t(0), FileInfo { size: Some(600) });
        feed(&mut s, &[1u8; 600]);
        let sent = drain(&mut s, t(0));
        assert_eq!(sent.len(), 1);
        assert_eq!(data_block(&sent[0].1), (1, 512), "{req:?}");
    }
    // tsize asked but the size is unknown: not acknowledged, so no OACK either.
    let mut s =
        request(&mut server, b"\0\x01a\0octet\0tsize\x000\0").accept(t(0), FileInfo { size: None });
    feed(&mut s, &[1u8; 600]);
    assert_eq!(data_block(&drain(&mut s, t(0))[0].1), (1, 512));
}

#[test]
fn refusals_come_from_the_listening_port() {
    let mut server = Server::new(ServerConfig::default());
    let mut buf = [0u8; 512];
    // A missing file: the driver rejects, no OACK is ever sent.
    let inc = request(&mut server, b"\0\x01missing\0octet\0tsize\x000\0");
    let tx = inc.reject(ErrorCode::FileNotFound, "file not found", &mut buf);
    assert_eq!(tx.destination, Destination::Unicast(addr(CLIENT)));
    assert_eq!(&buf[..tx.len], b"\0\x05\0\x01file not found\0");

    let mut replies = |bytes: &[u8]| {
        server.handle_datagram(t(0), Datagram::new(addr(CLIENT), addr(SERVER), bytes));
        assert!(server.poll_event().is_none());
        let mut out = Vec::new();
        while let Some(tx) = server.poll_transmit(t(0), &mut buf) {
            out.push(buf[..tx.len].to_vec());
        }
        out
    };
    assert_eq!(
        replies(b"\0\x02up\0octet\0"),
        vec![b"\0\x05\0\x02write requests are disabled\0".to_vec()]
    );
    assert_eq!(
        replies(b"\0\x01a\0mail\0"),
        vec![b"\0\x05\0\x04mail mode is not supported\0".to_vec()]
    );
    assert_eq!(
        replies(b"\0\x01a\0binary\0"),
        vec![b"\0\x05\0\x04malformed request\0".to_vec()]
    );
    assert_eq!(
        replies(b"\0\x01unterminated"),
        vec![b"\0\x05\0\x04malformed request\0".to_vec()]
    );
    assert_eq!(
        replies(b"\0\x04\0\x01"),
        vec![b"\0\x05\0\x04illegal TFTP operation\0".to_vec()]
    );
    assert_eq!(
        replies(b"\x12\x34garbage"),
        vec![b"\0\x05\0\x04illegal TFTP operation\0".to_vec()]
    );
    assert!(
        replies(b"\0\x05\0\x01whatever\0").is_empty(),
        "never answer an ERROR"
    );
    assert!(replies(b"\0").is_empty());
    assert_eq!(server.stats().refused, 2);
}

#[test]
fn wrong_tid_gets_error_5_and_the_transfer_goes_on() {
    let mut server = Server::new(ServerConfig::default());
    let file = vec![3u8; 1000];
    let mut s =
        request(&mut server, b"\0\x01f\0octet\0").accept(t(0), FileInfo { size: Some(1000) });
    feed(&mut s, &file);
    assert_eq!(data_block(&drain(&mut s, t(0))[0].1), (1, 512));
    s.handle_datagram(t(1), Datagram::new(addr(INTRUDER), addr(SESSION), &ack(1)));
    let sent = drain(&mut s, t(1));
    assert_eq!(
        sent,
        vec![(
            addr(INTRUDER),
            b"\0\x05\0\x05unknown transfer ID\0".to_vec()
        )]
    );
    // The intruder's ACK did not count.
    assert_eq!(s.stats().blocks, 0);
    from_client(&mut s, t(2), &ack(1));
    feed(&mut s, &file);
    assert_eq!(data_block(&drain(&mut s, t(2))[0].1), (2, 488));
    from_client(&mut s, t(3), &ack(2));
    assert_eq!(
        feed(&mut s, &file),
        vec![SessionEvent::Finished(Outcome::Completed)]
    );
    assert_eq!(s.stats().wrong_tid, 1);
}

/// A lock-step read of `file` (three 512-byte blocks) whose client ACKed block 1 at 1 ms:
/// DATA 2 has just gone out.
fn at_data_2(server: &mut Server, file: &[u8]) -> Session {
    let size = Some(file.len() as u64);
    let mut s = request(server, b"\0\x01f\0octet\0").accept(t(0), FileInfo { size });
    feed(&mut s, file);
    drain(&mut s, t(0));
    from_client(&mut s, t(1), &ack(1));
    feed(&mut s, file);
    assert_eq!(data_block(&drain(&mut s, t(1))[0].1), (2, 512));
    s
}

#[test]
fn a_waiting_clients_ack_after_two_silent_resends_gets_the_block_at_once() {
    // DATA 2 lost again and again on a lossy path: the timer resends it, backing off, while
    // the client, which still has only block 1, re-ACKs block 1 on its own timer (tftp-hpa
    // and atftp: after 5 s of silence). Before two resends, or sooner than `rto_initial`
    // after the last one, that ACK changes nothing (the Sorcerer's Apprentice rule); after,
    // it brings DATA 2 at once instead of at the backed-off deadline, once.
    let mut server = Server::new(ServerConfig::default());
    let file = vec![5u8; 512 * 3];
    let mut s = at_data_2(&mut server, &file);
    // One timer resend, then its next deadline passes unhandled: a second later the client's
    // ACK 1 still changes nothing (one resend only).
    let d = s.poll_timeout().unwrap();
    s.handle_timeout(d);
    assert_eq!(data_block(&drain(&mut s, d)[0].1), (2, 512));
    let due = s.poll_timeout().unwrap();
    from_client(&mut s, d + Duration::from_secs(1), &ack(1));
    assert_eq!(s.poll_timeout(), Some(due));
    assert!(drain(&mut s, d + Duration::from_secs(1)).is_empty());
    // Resends until the timer is backed off past 2 s.
    let last = loop {
        let d = s.poll_timeout().unwrap();
        s.handle_timeout(d);
        assert_eq!(data_block(&drain(&mut s, d)[0].1), (2, 512));
        if s.poll_timeout().unwrap() - d >= Duration::from_secs(2) {
            break d;
        }
    };
    let backed_off = s.poll_timeout().unwrap();
    let soon = last + Duration::from_millis(10);
    from_client(&mut s, soon, &ack(1));
    assert_eq!(
        s.poll_timeout(),
        Some(backed_off),
        "too soon after a resend"
    );
    assert!(drain(&mut s, soon).is_empty());
    let now = last + Duration::from_secs(1);
    from_client(&mut s, now, &ack(1));
    assert_eq!(
        s.poll_timeout(),
        Some(now),
        "a second after the last resend: now"
    );
    s.handle_timeout(now);
    assert_eq!(data_block(&drain(&mut s, now)[0].1), (2, 512));
    // The same ACK again right after gets nothing: the block just went out.
    let again = now + Duration::from_millis(1);
    from_client(&mut s, again, &ack(1));
    assert!(s.poll_timeout().unwrap() > again);
    assert!(drain(&mut s, again).is_empty());
    // Progress ends it: after ACK 2, a repeated ACK 2 a second later changes nothing.
    let acked = now + Duration::from_millis(2);
    from_client(&mut s, acked, &ack(2));
    feed(&mut s, &file);
    assert_eq!(data_block(&drain(&mut s, acked)[0].1), (3, 512));
    let deadline = s.poll_timeout();
    from_client(&mut s, acked + Duration::from_secs(1), &ack(2));
    assert_eq!(s.poll_timeout(), deadline);
    assert_eq!(s.stats().duplicate_acks, 5);
}

#[test]
fn duplicate_acks_never_trigger_a_send_only_the_timer_does() {
    let mut server = Server::new(ServerConfig::default());
    let file = vec![5u8; 512 * 3];
    let mut s = at_data_2(&mut server, &file);
    for i in 0..5 {
        from_client(&mut s, t(2 + i), &ack(1));
        assert!(
            drain(&mut s, t(2 + i)).is_empty(),
            "duplicate ACK {i} caused a send"
        );
    }
    assert_eq!(s.stats().duplicate_acks, 5);
    let deadline = s.poll_timeout().unwrap();
    s.handle_timeout(deadline - Duration::from_micros(1));
    assert!(
        drain(&mut s, deadline).is_empty(),
        "early handle_timeout does nothing"
    );
    s.handle_timeout(deadline);
    let sent = drain(&mut s, deadline);
    assert_eq!(data_block(&sent[0].1), (2, 512));
    assert_eq!((s.stats().timeouts, s.stats().retransmits), (1, 1));
    let next = s.poll_timeout().unwrap();
    assert!(
        next - deadline >= deadline - t(1),
        "backoff doubles the wait"
    );
}

#[test]
fn gives_up_after_the_retry_cap_with_backoff() {
    let config = ServerConfig {
        max_retries: 3,
        idle_timeout: Duration::ZERO,
        // The backoff of an established transfer, without the handshake's shorter limits.
        handshake_retries: 100,
        handshake_timeout: Duration::from_secs(3600),
        ..ServerConfig::default()
    };
    let mut server = Server::new(config);
    let file = vec![5u8; 512 * 4];
    let mut s =
        request(&mut server, b"\0\x01f\0octet\0").accept(t(0), FileInfo { size: Some(2048) });
    feed(&mut s, &file);
    drain(&mut s, t(0));
    let mut waits = Vec::new();
    let mut last = t(0);
    while let Some(deadline) = s.poll_timeout() {
        waits.push(deadline - last);
        last = deadline;
        s.handle_timeout(deadline);
        drain(&mut s, deadline);
    }
    assert_eq!(
        waits,
        vec![
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(4),
            Duration::from_secs(8)
        ]
    );
    assert_eq!(
        feed(&mut s, &file),
        vec![SessionEvent::Finished(Outcome::Failed(
            TransferError::TimedOut { retries: 3 }
        ))]
    );
    assert!(s.is_finished());
}

#[test]
fn client_timeout_option_sets_the_timer() {
    let mut server = Server::new(ServerConfig::default());
    let mut s = request(&mut server, b"\0\x01f\0octet\0timeout\x003\0")
        .accept(t(0), FileInfo { size: Some(10) });
    feed(&mut s, &[0u8; 10]);
    assert_eq!(drain(&mut s, t(0))[0].1, b"\0\x06timeout\x003\0");
    assert_eq!(s.poll_timeout(), Some(t(3000)));
}

#[test]
fn windowed_timeout_resends_from_the_first_unacknowledged_block() {
    let mut server = Server::new(ServerConfig::default());
    let file = vec![9u8; 512 * 10];
    let mut s = request(&mut server, b"\0\x01f\0octet\0windowsize\x004\0")
        .accept(t(0), FileInfo { size: Some(5120) });
    feed(&mut s, &file);
    drain(&mut s, t(0));
    from_client(&mut s, t(1), &ack(0));
    feed(&mut s, &file);
    assert_eq!(drain(&mut s, t(1)).len(), 4);
    // ACK inside the window: the next window starts right after block 2 (RFC 7440).
    from_client(&mut s, t(2), &ack(2));
    feed(&mut s, &file);
    let blocks: Vec<_> = drain(&mut s, t(2))
        .iter()
        .map(|(_, p)| data_block(p).0)
        .collect();
    assert_eq!(blocks, vec![3, 4, 5, 6]);
    let deadline = s.poll_timeout().unwrap();
    s.handle_timeout(deadline);
    let blocks: Vec<_> = drain(&mut s, deadline)
        .iter()
        .map(|(_, p)| data_block(p).0)
        .collect();
    assert_eq!(blocks, vec![3, 4, 5, 6]);
}

#[test]
fn peer_error_mid_transfer_is_a_failure() {
    let mut server = Server::new(ServerConfig::default());
    let mut s = request(&mut server, b"\0\x01f\0octet\0tsize\x000\0")
        .accept(t(0), FileInfo { size: Some(2000) });
    feed(&mut s, &[0u8; 2000]);
    drain(&mut s, t(0));
    from_client(&mut s, t(1), &ack(0));
    from_client(&mut s, t(2), b"\0\x05\0\x03disk full\0");
    let ev = feed(&mut s, &[0u8; 2000]);
    assert_eq!(
        ev,
        vec![SessionEvent::Finished(Outcome::Failed(
            TransferError::Peer {
                code: ErrorCode::DiskFull,
                message: "disk full".into()
            }
        ))]
    );
}

#[test]
fn driver_abort_sends_an_error() {
    let mut server = Server::new(ServerConfig::default());
    let mut s = request(&mut server, b"\0\x01f\0octet\0").accept(t(0), FileInfo { size: None });
    s.abort(t(0), ErrorCode::AccessViolation, "read error");
    assert_eq!(
        drain(&mut s, t(0)),
        vec![(addr(CLIENT), b"\0\x05\0\x02read error\0".to_vec())]
    );
    assert!(s.is_finished());
    assert!(s.supply(0, b"x").is_err());
}

#[test]
fn supply_checks_the_request() {
    let mut server = Server::new(ServerConfig::default());
    let mut s = request(&mut server, b"\0\x01f\0octet\0").accept(t(0), FileInfo { size: None });
    assert_eq!(
        event(&mut s),
        Some(SessionEvent::NeedData {
            offset: 0,
            len: 512
        })
    );
    assert!(matches!(
        s.supply(5, b""),
        Err(pxe_tftp::Error::UnexpectedOffset {
            got: 5,
            expected: Some(0)
        })
    ));
    assert!(matches!(
        s.supply(0, &[0; 513]),
        Err(pxe_tftp::Error::TooMuchData { len: 513, max: 512 })
    ));
    // Empty supply: an empty file is one empty DATA block.
    s.supply(0, b"").unwrap();
    assert_eq!(drain(&mut s, t(0))[0].1, b"\0\x03\0\x01");
    assert!(s.supply(0, b"").is_err(), "nothing pending");
    from_client(&mut s, t(1), &ack(1));
    assert_eq!(
        event(&mut s),
        Some(SessionEvent::Finished(Outcome::Completed))
    );
}

#[test]
fn exact_multiple_of_blksize_ends_with_an_empty_block() {
    for size in [Some(1024), None] {
        let mut server = Server::new(ServerConfig::default());
        let mut s = request(&mut server, b"\0\x01f\0octet\0windowsize\x008\0")
            .accept(t(0), FileInfo { size });
        feed(&mut s, &[1u8; 1024]);
        drain(&mut s, t(0));
        from_client(&mut s, t(1), &ack(0));
        feed(&mut s, &[1u8; 1024]);
        let blocks: Vec<_> = drain(&mut s, t(1))
            .iter()
            .map(|(_, p)| data_block(p))
            .collect();
        assert_eq!(blocks, vec![(1, 512), (2, 512), (3, 0)], "size {size:?}");
    }
}

#[test]
fn write_requests_when_allowed() {
    let mut server = writable();
    let inc = request(
        &mut server,
        b"\0\x02upload.bin\0octet\0tsize\x00700\0blksize\x00512\0",
    );
    assert_eq!(inc.kind(), RequestKind::Write);
    let mut s = inc.accept(t(0), FileInfo::default());
    assert_eq!(
        drain(&mut s, t(0))[0].1,
        b"\0\x06tsize\x00700\0blksize\x00512\0"
    );
    let mut block1 = b"\0\x03\0\x01".to_vec();
    block1.extend_from_slice(&[1u8; 512]);
    from_client(&mut s, t(1), &block1);
    assert_eq!(s.poll_data(), Some((0, &[1u8; 512][..])));
    assert_eq!(s.poll_data(), None);
    assert_eq!(drain(&mut s, t(1)), vec![(addr(CLIENT), ack(1).to_vec())]);
    // A duplicate is re-ACKed once, not stored again.
    from_client(&mut s, t(2), &block1);
    assert_eq!(s.poll_data(), None);
    assert_eq!(drain(&mut s, t(2)), vec![(addr(CLIENT), ack(1).to_vec())]);
    let mut block2 = b"\0\x03\0\x02".to_vec();
    block2.extend_from_slice(&[2u8; 188]);
    from_client(&mut s, t(3), &block2);
    // Finished waits until the data is taken.
    assert_eq!(event(&mut s), None);
    assert_eq!(s.poll_data(), Some((512, &[2u8; 188][..])));
    assert_eq!(
        event(&mut s),
        Some(SessionEvent::Finished(Outcome::Completed))
    );
    assert_eq!(drain(&mut s, t(3)), vec![(addr(CLIENT), ack(2).to_vec())]);
    assert!(!s.is_finished(), "dallying");
    // Final ACK lost: the client resends the last block and is re-ACKed.
    from_client(&mut s, t(500), &block2);
    assert_eq!(drain(&mut s, t(500)), vec![(addr(CLIENT), ack(2).to_vec())]);
    let end = s.poll_timeout().unwrap();
    s.handle_timeout(end);
    assert!(s.is_finished());
    assert_eq!(s.stats().bytes, 700);
}

#[test]
fn write_without_options_starts_with_ack_0_and_netascii_is_decoded() {
    let mut server = writable();
    let mut s =
        request(&mut server, b"\0\x02notes.txt\0netascii\0").accept(t(0), FileInfo::default());
    assert_eq!(drain(&mut s, t(0)), vec![(addr(CLIENT), ack(0).to_vec())]);
    // The ACK 0 is resent on timeout.
    let d = s.poll_timeout().unwrap();
    s.handle_timeout(d);
    assert_eq!(drain(&mut s, d), vec![(addr(CLIENT), ack(0).to_vec())]);
    from_client(&mut s, d, b"\0\x03\0\x01a\r\nb\r\0c");
    assert_eq!(s.poll_data(), Some((0, &b"a\nb\rc"[..])));
}

#[test]
fn block_numbers_roll_over_on_the_wire() {
    let mut server = Server::new(ServerConfig::default());
    let blocks = 65_540u64;
    let size = blocks * 8 - 1;
    let file = vec![0xabu8; size as usize];
    let mut s = request(&mut server, b"\0\x01big\0octet\0blksize\x008\0")
        .accept(t(0), FileInfo { size: Some(size) });
    feed(&mut s, &file);
    drain(&mut s, t(0));
    from_client(&mut s, t(0), &ack(0));
    let mut seen = Vec::new();
    for k in 1..=blocks {
        feed(&mut s, &file);
        let sent = drain(&mut s, t(0));
        assert_eq!(sent.len(), 1, "block {k}");
        let (wire, _) = data_block(&sent[0].1);
        assert_eq!(u64::from(wire), k % 65536);
        if k > 65533 {
            seen.push(wire);
        }
        from_client(&mut s, t(0), &ack(wire));
    }
    assert_eq!(seen, vec![65534, 65535, 0, 1, 2, 3, 4]);
    assert_eq!(
        feed(&mut s, &file),
        vec![SessionEvent::Finished(Outcome::Completed)]
    );
    assert_eq!(s.stats().bytes, size);
    assert_eq!(BlockNumber::from_index(blocks, 0), BlockNumber(4));
}

#[test]
fn a_silent_client_after_the_whole_final_window_is_a_completion() {
    let config = ServerConfig {
        max_retries: 2,
        ..ServerConfig::default()
    };
    let mut server = Server::new(config);
    let file = vec![4u8; 512 * 5 + 10];
    let mut s = request(&mut server, b"\0\x01f\0octet\0windowsize\x004\0")
        .accept(t(0), FileInfo { size: Some(2570) });
    feed(&mut s, &file);
    drain(&mut s, t(0));
    from_client(&mut s, t(1), &ack(0));
    feed(&mut s, &file);
    drain(&mut s, t(1));
    from_client(&mut s, t(2), &ack(4));
    feed(&mut s, &file);
    let blocks: Vec<_> = drain(&mut s, t(2))
        .iter()
        .map(|(_, p)| data_block(p))
        .collect();
    assert_eq!(blocks, vec![(5, 512), (6, 10)]);
    while let Some(d) = s.poll_timeout() {
        s.handle_timeout(d);
        drain(&mut s, d);
    }
    assert_eq!(s.outcome(), Some(&Outcome::Completed));
    assert!(s.stats().final_ack_missing);
    assert_eq!(s.stats().bytes, 2048);
}

#[test]
fn a_client_that_acks_every_block_does_not_multiply_the_traffic() {
    // Not RFC 7440 behaviour, but some receivers do it: every ACK is "inside the window".
    let mut server = Server::new(ServerConfig::default());
    let blocks = 400u64;
    let file = vec![6u8; 512 * blocks as usize];
    let mut s = request(&mut server, b"\0\x01f\0octet\0windowsize\x008\0").accept(
        t(0),
        FileInfo {
            size: Some(file.len() as u64),
        },
    );
    feed(&mut s, &file);
    drain(&mut s, t(0));
    from_client(&mut s, t(0), &ack(0));
    let mut sent = 0u64;
    let mut expected = 1u16;
    let mut in_flight = std::collections::VecDeque::new();
    while !s.is_finished() {
        feed(&mut s, &file);
        for (_, p) in drain(&mut s, t(0)) {
            sent += 1;
            in_flight.push_back(data_block(&p).0);
        }
        // The client takes one packet, ACKs the last in-order block.
        let Some(block) = in_flight.pop_front() else {
            break;
        };
        if block == expected {
            expected = expected.wrapping_add(1);
        }
        from_client(&mut s, t(0), &ack(expected - 1));
    }
    assert_eq!(s.outcome(), Some(&Outcome::Completed));
    assert!(
        sent <= 2 * (blocks + 1),
        "{sent} DATA packets for {} blocks",
        blocks + 1
    );
}

#[test]
fn abort_while_dallying_keeps_the_completed_upload() {
    let mut server = writable();
    let mut s = request(&mut server, b"\0\x02up\0octet\0").accept(t(0), FileInfo::default());
    drain(&mut s, t(0));
    from_client(&mut s, t(1), b"\0\x03\0\x01last");
    assert_eq!(s.poll_data(), Some((0, &b"last"[..])));
    assert_eq!(
        event(&mut s),
        Some(SessionEvent::Finished(Outcome::Completed))
    );
    assert_eq!(drain(&mut s, t(1)), vec![(addr(CLIENT), ack(1).to_vec())]);
    assert!(!s.is_finished(), "dallying");
    s.abort(t(2), ErrorCode::NotDefined, "shutdown");
    assert_eq!(event(&mut s), None, "no second Finished");
    assert!(drain(&mut s, t(2)).is_empty(), "no ERROR after a success");
    assert_eq!(s.outcome(), Some(&Outcome::Completed));
    assert!(s.is_finished());
}

#[test]
fn a_rollover_beyond_1_is_treated_as_1() {
    // A shorter block-number cycle than 65535 would make ACKs ambiguous in a large window.
    let config = ServerConfig {
        rollover: 40_000,
        ..ServerConfig::default()
    };
    let mut server = Server::new(config);
    let s = request(&mut server, b"\0\x01f\0octet\0").accept(t(0), FileInfo { size: Some(1) });
    assert_eq!(s.negotiated().rollover, 1);
}

fn data(block: u16, bytes: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 3];
    p.extend_from_slice(&block.to_be_bytes());
    p.extend_from_slice(bytes);
    p
}

#[test]
fn windowed_write_keeps_order_through_gaps_duplicates_and_oversized_blocks() {
    let mut server = writable();
    let mut s = request(
        &mut server,
        b"\0\x02up\0octet\0blksize\x008\0windowsize\x004\0",
    )
    .accept(t(0), FileInfo::default());
    assert_eq!(
        drain(&mut s, t(0))[0].1,
        b"\0\x06blksize\x008\0windowsize\x004\0"
    );
    let file: Vec<u8> = (0..75u8).collect(); // 9 full blocks of 8 and a final 3
    let block = |k: u16| {
        data(
            k,
            &file[(usize::from(k) - 1) * 8..(usize::from(k) * 8).min(75)],
        )
    };
    let mut got = Vec::new();
    let take = |s: &mut Session, got: &mut Vec<u8>| {
        while let Some((offset, bytes)) = s.poll_data() {
            assert_eq!(offset, got.len() as u64, "in order, no holes");
            got.extend_from_slice(bytes);
        }
    };
    // A whole window: one ACK at its end (RFC 7440), none before.
    for k in 1..=3 {
        from_client(&mut s, t(1), &block(k));
        take(&mut s, &mut got);
        assert!(drain(&mut s, t(1)).is_empty(), "no ACK inside the window");
    }
    from_client(&mut s, t(1), &block(4));
    assert_eq!(drain(&mut s, t(1)), vec![(addr(CLIENT), ack(4).to_vec())]);
    // Block 6 lost: 7 shows the gap and gets one re-ACK of 5; 8 gets none.
    from_client(&mut s, t(2), &block(5));
    from_client(&mut s, t(2), &block(7));
    assert_eq!(drain(&mut s, t(2)), vec![(addr(CLIENT), ack(5).to_vec())]);
    from_client(&mut s, t(2), &block(8));
    assert!(drain(&mut s, t(2)).is_empty(), "one re-ACK per gap");
    // Oversized (more than blksize) and stale blocks are not stored.
    from_client(&mut s, t(3), &data(6, &[0xee; 9]));
    from_client(&mut s, t(3), &block(2));
    take(&mut s, &mut got);
    assert_eq!(got.len(), 40);
    // The client restarts after 5: the next window ends at 9.
    for k in 6..=9 {
        from_client(&mut s, t(4), &block(k));
        take(&mut s, &mut got);
    }
    assert_eq!(drain(&mut s, t(4)), vec![(addr(CLIENT), ack(9).to_vec())]);
    from_client(&mut s, t(5), &block(10));
    take(&mut s, &mut got);
    assert_eq!(drain(&mut s, t(5)), vec![(addr(CLIENT), ack(10).to_vec())]);
    assert_eq!(
        event(&mut s),
        Some(SessionEvent::Finished(Outcome::Completed))
    );
    assert_eq!(got, file);
    assert_eq!((s.stats().blocks, s.stats().bytes), (10, 75));
    assert_eq!(s.stats().ignored, 1, "the oversized block");
    assert!(s.stats().duplicate_data >= 2);
}

#[test]
fn netascii_pairs_split_at_a_block_end() {
    // Read: the CR of a CR LF / CR NUL pair fills a block, its second byte opens the next.
    for (file, second) in [(&b"abcdefg\n"[..], &b"\n"[..]), (b"abcdefg\r", b"\0")] {
        let mut server = Server::new(ServerConfig::default());
        let mut s = request(&mut server, b"\0\x01f\0netascii\0blksize\x008\0")
            .accept(t(0), FileInfo { size: Some(8) });
        feed(&mut s, file);
        drain(&mut s, t(0));
        from_client(&mut s, t(1), &ack(0));
        feed(&mut s, file);
        assert_eq!(drain(&mut s, t(1))[0].1, data(1, b"abcdefg\r"));
        from_client(&mut s, t(2), &ack(1));
        feed(&mut s, file);
        assert_eq!(drain(&mut s, t(2))[0].1, data(2, second));
        from_client(&mut s, t(3), &ack(2));
        assert_eq!(
            feed(&mut s, file),
            vec![SessionEvent::Finished(Outcome::Completed)]
        );
    }
    // Write: a CR ending one block is decoded with the byte that opens the next.
    let mut server = writable();
    let mut s = request(&mut server, b"\0\x02up\0netascii\0blksize\x008\0")
        .accept(t(0), FileInfo::default());
    drain(&mut s, t(0));
    let mut got = Vec::new();
    for (k, bytes) in [(1, &b"abcdefg\r"[..]), (2, b"\nxyz\r\0\r\n"), (3, b"\r")] {
        from_client(&mut s, t(1), &data(k, bytes));
        while let Some((_, b)) = s.poll_data() {
            got.extend_from_slice(b);
        }
    }
    assert_eq!(got, b"abcdefg\nxyz\r\n\r");
}

#[test]
fn a_driver_limits_an_upload_by_aborting_with_disk_full() {
    let mut server = writable();
    let inc = request(&mut server, b"\0\x02up\0octet\0tsize\x00999999\0");
    assert_eq!(
        inc.options().tsize,
        Some(999_999),
        "the driver can refuse up front"
    );
    let mut s = inc.accept(t(0), FileInfo::default());
    drain(&mut s, t(0));
    from_client(&mut s, t(1), &data(1, &[7u8; 512]));
    assert_eq!(s.poll_data().map(|(o, b)| (o, b.len())), Some((0, 512)));
    s.abort(t(1), ErrorCode::DiskFull, "upload limit reached");
    assert_eq!(
        drain(&mut s, t(1)),
        vec![(addr(CLIENT), b"\0\x05\0\x03upload limit reached\0".to_vec())]
    );
    assert_eq!(
        event(&mut s),
        Some(SessionEvent::Finished(Outcome::Failed(
            TransferError::Aborted {
                code: ErrorCode::DiskFull
            }
        )))
    );
    assert!(s.is_finished());
}

#[test]
fn a_lost_oack_is_resent_by_the_timer_only_then_the_session_gives_up() {
    let config = ServerConfig {
        max_retries: 2,
        idle_timeout: Duration::ZERO,
        ..ServerConfig::default()
    };
    let mut server = Server::new(config);
    let oack = b"\0\x06tsize\x00100\0".to_vec();
    let mut s = request(&mut server, b"\0\x01f\0octet\0tsize\x000\0")
        .accept(t(0), FileInfo { size: Some(100) });
    feed(&mut s, &[0u8; 100]);
    assert_eq!(drain(&mut s, t(0)), vec![(addr(CLIENT), oack.clone())]);
    // Anything but ACK 0 (or an ERROR) is ignored while negotiating, and sends nothing; it
    // shows the client receives, though, so the OACK is resent by the timer from then on.
    from_client(&mut s, t(1), &ack(1));
    from_client(&mut s, t(1), &data(1, b"x"));
    assert!(drain(&mut s, t(1)).is_empty());
    let mut waits = Vec::new();
    let mut last = t(0);
    while let Some(d) = s.poll_timeout() {
        waits.push(d - last);
        last = d;
        s.handle_timeout(d);
        for (_, p) in drain(&mut s, d) {
            assert_eq!(p, oack, "only the OACK is resent");
        }
    }
    assert_eq!(
        waits,
        vec![
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(4)
        ]
    );
    assert_eq!(
        s.outcome(),
        Some(&Outcome::Failed(TransferError::TimedOut { retries: 2 }))
    );
    assert!(!s.stats().final_ack_missing);
    assert_eq!(s.stats().retransmits, 2);
}

#[test]
fn a_round_trip_that_grows_is_learned_not_paid_for_with_resends_forever() {
    // Karn's algorithm (RFC 6298 §5 and §3): an ACK for a resent block gives no sample, and
    // the backed-off timer stays until a valid sample arrives. Resetting the backoff on such
    // an ACK would resend every block several times for as long as the RTT stays high.
    let blocks = 200u64;
    let file = vec![3u8; 512 * blocks as usize];
    let mut server = Server::new(ServerConfig::default());
    let mut s = request(&mut server, b"\0\x01f\0octet\0").accept(
        t(0),
        FileInfo {
            size: Some(file.len() as u64),
        },
    );
    let mut now = Instant::from_micros(0);
    let mut sent_per_block = Vec::new();
    for k in 1..=blocks + 1 {
        // 1 ms round trips for 20 blocks, then 150 ms.
        let rtt = Duration::from_millis(if k <= 20 { 1 } else { 150 });
        feed(&mut s, &file);
        let first = drain(&mut s, now);
        assert_eq!(data_block(&first[0].1).0, k as u16);
        let sent_at = now;
        let mut sent = first.len();
        // Let the timer fire as often as it does before the ACK is back.
        while let Some(d) = s.poll_timeout() {
            if d >= sent_at + rtt {
                break;
            }
            now = d;
            s.handle_timeout(now);
            sent += drain(&mut s, now).len();
        }
        now = sent_at + rtt;
        from_client(&mut s, now, &ack(k as u16));
        sent_per_block.push(sent);
    }
    assert_eq!(s.outcome(), Some(&Outcome::Completed));
    let late = &sent_per_block[150..];
    assert!(
        late.iter().all(|&n| n == 1),
        "still resending after 130 slow round trips: {late:?} (stats {:?})",
        s.stats()
    );
}

fn rrq_from(server: &mut Server, from: &str, bytes: &[u8]) -> Option<Incoming> {
    server.handle_datagram(t(0), Datagram::new(addr(from), addr(SERVER), bytes));
    server.poll_event()
}

#[test]
fn the_table_drops_repeats_until_finished_and_caps_established_transfers() {
    let mut server = Server::new(ServerConfig {
        max_transfers: 2,
        ..ServerConfig::default()
    });
    let a = rrq_from(&mut server, "192.0.2.10:1000", b"\0\x01f\0octet\0").unwrap();
    assert!(
        rrq_from(&mut server, "192.0.2.10:1000", b"\0\x01f\0octet\0").is_none(),
        "a retransmitted RRQ is not a second request"
    );
    assert_eq!(
        server.poll_repeated(),
        Some(a.id()),
        "but its session hears of it"
    );
    // EDK2's second request after its tsize probe is a new one.
    let probe = rrq_from(
        &mut server,
        "192.0.2.10:1000",
        b"\0\x01f\0octet\0tsize\x000\0",
    )
    .unwrap();
    assert_eq!(server.stats().duplicates, 1);
    server.finished(probe.id());
    server.established(a.id());
    assert!(rrq_from(&mut server, "192.0.2.10:1000", b"\0\x01f\0octet\0").is_none());
    assert_eq!(
        server.poll_repeated(),
        None,
        "an established transfer needs no nudge"
    );
    let b = rrq_from(&mut server, "192.0.2.11:1000", b"\0\x01f\0octet\0").unwrap();
    server.established(b.id());
    assert_eq!((server.active(), server.handshaking()), (2, 0));
    assert!(
        rrq_from(&mut server, "192.0.2.12:1000", b"\0\x01f\0octet\0").is_none(),
        "over the cap: dropped without reply"
    );
    assert_eq!(server.stats().over_cap, 1);
    let mut buf = [0u8; 600];
    assert!(server.poll_transmit(t(0), &mut buf).is_none());
    server.finished(a.id());
    server.finished(a.id());
    assert_eq!(server.active(), 1, "a second finished is a no-op");
    assert!(rrq_from(&mut server, "192.0.2.10:1000", b"\0\x01f\0octet\0").is_some());
}

fn rrq_at(server: &mut Server, now: Instant, from: &str) -> Option<Incoming> {
    server.handle_datagram(
        now,
        Datagram::new(addr(from), addr(SERVER), b"\0\x01f\0octet\0"),
    );
    server.poll_event()
}

#[test]
fn handshakes_have_their_own_budget_with_a_per_source_limit() {
    let mut server = Server::new(ServerConfig {
        max_transfers: 1,
        max_handshakes: 4,
        max_handshakes_per_source: 2,
        eviction_age: Duration::from_millis(250),
        ..ServerConfig::default()
    });
    let flood: Vec<Incoming> = (0..2u16)
        .map(|p| rrq_at(&mut server, t(0), &format!("198.51.100.7:{}", 1000 + p)).unwrap())
        .collect();
    // A third from one source while its handshakes are young: dropped, nothing evicted.
    assert!(rrq_at(&mut server, t(100), "198.51.100.7:1002").is_none());
    assert_eq!((server.poll_evicted(), server.stats().throttled), (None, 1));
    // Once they are old enough, the source's oldest makes room.
    assert!(rrq_at(&mut server, t(300), "198.51.100.7:1002").is_some());
    assert_eq!(server.poll_evicted(), Some(flood[0].id()));
    assert_eq!(server.poll_evicted(), None);
    assert_eq!(server.handshaking(), 2);
    let others: Vec<Incoming> = (0..2u8)
        .map(|i| rrq_at(&mut server, t(300), &format!("198.51.100.{}:1000", 20 + i)).unwrap())
        .collect();
    assert_eq!(server.handshaking(), 4);
    // Budget of 4, full: the oldest handshake of the source holding two (the others hold one)
    // gives way to a new address.
    assert!(rrq_at(&mut server, t(400), "198.51.100.30:1000").is_some());
    assert_eq!(server.poll_evicted(), Some(flood[1].id()));
    assert_eq!(server.handshaking(), 4);
    // Full of young handshakes only: the new request waits for its retransmission.
    assert!(rrq_at(&mut server, t(401), "198.51.100.31:1000").is_none());
    assert_eq!(server.stats().throttled, 2);
    // A real client that answers leaves the budget; evicted and finished ids are ignored.
    server.established(others[0].id());
    assert_eq!((server.active(), server.handshaking()), (1, 3));
    server.finished(flood[0].id());
    server.established(flood[1].id());
    assert_eq!((server.active(), server.handshaking()), (1, 3));
    assert_eq!(server.stats().evicted, 2);
}

#[test]
fn an_unanswered_request_gets_two_packets_then_quiet_then_timeout() {
    let mut server = Server::new(ServerConfig::default());
    let mut s =
        request(&mut server, b"\0\x01f\0octet\0").accept(t(0), FileInfo { size: Some(5000) });
    feed(&mut s, &[7u8; 5000]);
    let mut sent = drain(&mut s, t(0)).len();
    let mut last = t(0);
    while let Some(deadline) = s.poll_timeout() {
        last = deadline;
        s.handle_timeout(deadline);
        feed(&mut s, &[7u8; 5000]);
        sent += drain(&mut s, deadline).len();
    }
    assert_eq!(sent, 2, "DATA 1 and one retransmission");
    assert_eq!(last, t(30_000), "the handshake timeout");
    assert_eq!(
        s.outcome(),
        Some(&Outcome::Failed(TransferError::TimedOut { retries: 1 }))
    );
    assert!(!s.stats().established);
}

#[test]
fn an_oack_is_resent_for_a_repeated_request_only_and_a_late_ack_establishes() {
    let mut server = Server::new(ServerConfig::default());
    let mut s = request(&mut server, b"\0\x01f\0octet\0blksize\x001024\0")
        .accept(t(0), FileInfo { size: Some(3000) });
    assert!(
        event(&mut s).is_none(),
        "no file bytes before the OACK is answered"
    );
    assert_eq!(drain(&mut s, t(0)).len(), 1);
    s.handle_timeout(t(1000));
    assert!(
        drain(&mut s, t(1000)).is_empty(),
        "the timer resends no OACK"
    );
    s.handle_repeat(t(2000));
    assert_eq!(
        drain(&mut s, t(2000)).len(),
        1,
        "the OACK again for the repeated request"
    );
    s.handle_timeout(t(5000));
    assert!(drain(&mut s, t(5000)).is_empty(), "then quiet");
    from_client(&mut s, t(5500), &ack(0));
    assert_eq!(s.poll_event(), Some(SessionEvent::Established));
    assert!(feed(&mut s, &[1u8; 3000]).is_empty());
    let sent = drain(&mut s, t(5500));
    assert_eq!(data_block(&sent[0].1), (1, 1024));
}

#[test]
fn a_file_that_shrinks_under_the_transfer_fails_with_an_error() {
    let mut server = Server::new(ServerConfig::default());
    let mut s =
        request(&mut server, b"\0\x01f\0octet\0").accept(t(0), FileInfo { size: Some(2000) });
    feed(&mut s, &[1u8; 2000]);
    drain(&mut s, t(0));
    from_client(&mut s, t(1), &ack(1));
    // The file is now 700 bytes long: block 2 comes back short.
    while let Some(ev) = s.poll_event() {
        if let SessionEvent::NeedData { offset, .. } = ev {
            s.supply(offset, &[1u8; 188]).unwrap();
        }
    }
    let sent = drain(&mut s, t(1));
    assert_eq!(sent.len(), 1);
    assert!(matches!(
        Repr::parse_bytes(&sent[0].1).unwrap(),
        Repr::Error {
            code: ErrorCode::NotDefined,
            ..
        }
    ));
    assert_eq!(
        s.outcome(),
        Some(&Outcome::Failed(TransferError::FileChanged {
            size: 2000,
            missing: 1300
        }))
    );
}

#[test]
fn blksize_for_mtu_leaves_room_for_the_headers() {
    assert_eq!(pxe_tftp::blksize_for_mtu(1500, false), 1468);
    assert_eq!(pxe_tftp::blksize_for_mtu(1500, true), 1448);
    assert_eq!(pxe_tftp::blksize_for_mtu(65536, false), 65464);
    assert_eq!(pxe_tftp::blksize_for_mtu(300, false), 512);
}

/// A lock-step download by tftp-hpa's `tftp` client (tftp-hpa 5.2 tftp/tftp.c `recvfile` and
/// `timer`) through the server's request table and session, driven as the driver does, with
/// packets delivered at once or lost. The client sends its request and then the ACK of the
/// last block it has; every 5 s without a new block it sends that packet again, to the
/// listening port while it has no block and to the transfer's port after, and gives up after
/// 25 s without one. A DATA it already has makes it send its ACK again.
/// `lost_to_client`/`lost_to_server` list which datagrams (counted per direction from 0) are
/// lost. Returns whether the download completed; the server's datagrams are counted in
/// `sent`.
fn tftp_hpa_download(lost_to_client: &[usize], lost_to_server: &[usize], sent: &mut usize) -> bool {
    const RRQ: &[u8] = b"\0\x01f.bin\0octet\0";
    const REXMT: u64 = 5000;
    const MAX_TIMEOUT: u64 = 25_000;
    let file: Vec<u8> = (0..1500u32).map(|i| i as u8).collect();
    let mut server = Server::new(ServerConfig::default());
    let mut session: Option<(pxe_tftp::RequestId, Session)> = None;
    let (mut to_client, mut to_server) = (0usize, 0usize);
    let mut have: u16 = 0;
    let mut received: Vec<u8> = Vec::new();
    // The client's last packet, its retransmission timer and its accumulated timeout.
    let mut pending = RRQ.to_vec();
    let mut timer = REXMT;
    let mut waited = 0;
    let mut now = 0;
    let mut outbox: Vec<Vec<u8>> = vec![pending.clone()];
    loop {
        // The client's packets, lost or handed to the listener (no block yet) or the session.
        for packet in std::mem::take(&mut outbox) {
            let lost = lost_to_server.contains(&to_server);
            to_server += 1;
            if lost {
                continue;
            }
            if have == 0 && packet == RRQ {
                server.handle_datagram(t(now), Datagram::new(addr(CLIENT), addr(SERVER), &packet));
                if let Some(inc) = server.poll_event() {
                    assert!(session.is_none(), "one session at a time");
                    let id = inc.id();
                    session = Some((id, inc.accept(t(now), FileInfo { size: Some(1500) })));
                }
                while let Some(id) = server.poll_repeated() {
                    if let Some((sid, s)) = session.as_mut()
                        && *sid == id
                    {
                        s.handle_repeat(t(now));
                    }
                }
            } else if let Some((_, s)) = session.as_mut() {
                from_client(s, t(now), &packet);
            }
        }
        // The session's packets, lost or taken by the client.
        if let Some((id, s)) = session.as_mut() {
            if feed(s, &file).contains(&SessionEvent::Established) {
                server.established(*id);
            }
            for (_, packet) in drain(s, t(now)) {
                *sent += 1;
                let lost = lost_to_client.contains(&to_client);
                to_client += 1;
                if lost {
                    continue;
                }
                let (block, len) = data_block(&packet);
                if block == have + 1 {
                    have = block;
                    received.extend_from_slice(&packet[4..]);
                    pending = ack(block).to_vec();
                    waited = 0;
                    if len < 512 {
                        assert_eq!(received, file);
                        return true;
                    }
                } else if block != have {
                    continue;
                }
                outbox.push(pending.clone());
                timer = now + REXMT;
            }
            if s.is_finished() {
                server.finished(*id);
                session = None;
            }
        }
        if !outbox.is_empty() {
            continue;
        }
        // The next event: the client's timer or the session's.
        let session_timer = session
            .as_ref()
            .and_then(|(_, s)| s.poll_timeout())
            .map(Instant::as_millis);
        match session_timer {
            Some(d) if d < timer => {
                now = d;
                session.as_mut().expect("a session").1.handle_timeout(t(d));
            }
            _ => {
                now = timer;
                waited += REXMT;
                if waited >= MAX_TIMEOUT {
                    return false;
                }
                outbox.push(pending.clone());
                timer = now + REXMT;
            }
        }
    }
}

#[test]
fn tftp_hpa_repeating_its_request_gets_the_file_when_every_data_1_was_lost() {
    // DATA 1 and its retransmission lost, then the first packet for each repeated request
    // until the one at 20 s: each repeat gets one packet more, and the last one gets through.
    for lost in 2..6 {
        let mut sent = 0;
        let to_client: Vec<usize> = (0..lost).collect();
        assert!(
            tftp_hpa_download(&to_client, &[], &mut sent),
            "{lost} DATA 1 lost"
        );
    }
}

#[test]
fn tftp_hpa_holding_data_1_gets_the_file_when_its_acks_are_lost_for_20_s() {
    // The client has DATA 1 (and its retransmission); its ACK 1 after each and its ACKs at
    // 5, 10 and 15 s are lost: it never repeats its request, so only the session can take the
    // ACK it sends at 20 s, its last before it gives up at 25 s.
    let mut sent = 0;
    assert!(tftp_hpa_download(&[], &[1, 2, 3, 4, 5], &mut sent));
}

#[test]
fn an_unanswered_request_repeated_by_tftp_hpa_gets_two_packets_per_request() {
    // Nothing from the server reaches the client: its request and each of its four repeats
    // get DATA 1 and the timer's one retransmission, as many as a first request; never more.
    let mut sent = 0;
    let to_client: Vec<usize> = (0..100).collect();
    assert!(!tftp_hpa_download(&to_client, &[], &mut sent));
    assert_eq!(sent, 2 + 4 * 2);
}
