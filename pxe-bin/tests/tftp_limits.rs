//! `max_transfers` and the open-file limit, against the real `pxe` binary on loopback: requests
//! over the cap get no reply (the client's retransmission is served once a slot frees), the
//! drops are logged at most once a second, and a limit too low for the cap is warned about.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use support::files::{random_file, sha256_file};
use support::pxe::Pxe;
use support::raw_tftp::{self, ack};

const T: Duration = Duration::from_secs(20);

/// RRQ without options (RFC 1350 §5): DATA of 512 bytes, one ACK each.
fn rrq(name: &str) -> Vec<u8> {
    raw_tftp::rrq(name, &[])
}

/// ERROR 0 (RFC 1350 §5): ends the transfer at once.
const ABORT: &[u8] = b"\x00\x05\x00\x00test abort\x00";

fn client() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind client");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    s
}

/// One datagram, or `None` when the read timeout passes.
fn recv(s: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = [0u8; 1024];
    raw_tftp::recv(s, &mut buf).map(|(n, from)| (buf[..n].to_vec(), from))
}

/// The block number of a DATA packet.
fn data_block(p: &[u8]) -> u16 {
    assert!(p.len() >= 4 && p[..2] == [0, 3], "not DATA: {p:?}");
    u16::from_be_bytes([p[2], p[3]])
}

/// RRQ, wait for DATA 1, ACK it (the transfer is established: the client showed it
/// receives) and wait for DATA 2; returns the transfer's reply address. The transfer then waits
/// for an ACK that never comes, holding its slot.
fn hold(server: SocketAddr, name: &str) -> (UdpSocket, SocketAddr) {
    let s = client();
    s.send_to(&rrq(name), server).expect("send RRQ");
    let end = Instant::now() + T;
    let mut acked = false;
    loop {
        if let Some((p, from)) = recv(&s) {
            if acked {
                assert_eq!(data_block(&p), 2);
                return (s, from);
            }
            assert_eq!(data_block(&p), 1);
            s.send_to(&ack(1), from).expect("send ACK");
            acked = true;
        }
        assert!(
            Instant::now() < end,
            "no DATA 1 and 2 for a request under the cap"
        );
    }
}

fn warnings(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("max_transfers reached"))
        .collect()
}

#[test]
fn requests_over_max_transfers_wait_for_a_free_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sha = random_file(&dir.path().join("f.bin"), 4000, 11);
    let server = Pxe::tftp(dir.path(), &["--max-transfers", "2"]);
    assert!(server.wait_log("max_transfers=2", T), "{}", server.log());
    assert!(
        server.log().contains("open-file limit (RLIMIT_NOFILE)"),
        "{}",
        server.log()
    );

    let held = [hold(server.addr, "f.bin"), hold(server.addr, "f.bin")];
    // A retransmitted RRQ of an active transfer is still ignored as a duplicate, not dropped.
    held[0].0.send_to(&rrq("f.bin"), server.addr).expect("send");
    assert!(server.wait_log("duplicate request ignored", T));

    // A third client: its RRQ and four quick retransmissions get no answer, and the log says
    // so once at once, then once more for the four (rate-limited, not once per packet).
    let third = client();
    for _ in 0..5 {
        third.send_to(&rrq("f.bin"), server.addr).expect("send");
    }
    assert!(
        server.wait_log("max_transfers reached", T),
        "{}",
        server.log()
    );
    assert!(recv(&third).is_none(), "answered over the cap");
    assert!(server.wait_log("dropped=4", T), "{}", server.log());
    let log = server.log();
    let lines = warnings(&log);
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains("dropped=1") && lines[0].contains("max_transfers=2"),
        "{log}"
    );
    assert!(recv(&third).is_none(), "answered over the cap");

    // End the held transfers; the third client's next retransmission is then served in full.
    for (s, reply) in &held {
        s.send_to(ABORT, reply).expect("send ERROR");
    }
    let end = Instant::now() + T;
    let (mut first, reply) = loop {
        assert!(Instant::now() < end, "not served after the slots freed");
        third.send_to(&rrq("f.bin"), server.addr).expect("send");
        if let Some(got) = recv(&third) {
            break got;
        }
    };
    let mut data = Vec::new();
    let mut expect = 1u16;
    loop {
        let block = data_block(&first);
        if block == expect {
            data.extend_from_slice(&first[4..]);
            expect += 1;
        }
        third.send_to(&ack(block), reply).expect("send ACK");
        if block == expect - 1 && first.len() < 516 {
            break;
        }
        first = loop {
            assert!(Instant::now() < end, "transfer stalled");
            if let Some((p, from)) = recv(&third)
                && from == reply
            {
                break p;
            }
        };
    }
    let out = dir.path().join("got.bin");
    std::fs::write(&out, &data).expect("write");
    assert_eq!(sha256_file(&out), sha, "content differs");
    assert_eq!(warnings(&server.log()).len(), 2, "{}", server.log());
}

#[test]
fn serve_config_max_transfers_and_the_open_file_limit_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    let config = dir.path().join("pxe.toml");
    // 4e9 transfers need 8e9 descriptors: above any Linux hard limit (at most fs.nr_open,
    // itself below 2^31), so the warning is certain.
    std::fs::write(
        &config,
        format!(
            "root = {:?}\n[tftp]\nmax_transfers = 4000000000\n",
            root.to_str().expect("utf-8")
        ),
    )
    .expect("write config");
    let server = Pxe::start(&[
        "serve",
        "--config",
        config.to_str().expect("utf-8"),
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]);
    assert!(server.wait_log("max_transfers=4000000000", T));
    let log = server.log();
    // 2 descriptors per slot: 4e9 transfers + 4e9 handshakes (the budget follows
    // max_transfers) + 1000 HTTP connections (the default cap) + 128 (the HTTP open-file
    // cache's 256 descriptors), + 64.
    assert!(
        log.contains("open-file limit too low for max_transfers")
            && log.contains("LimitNOFILE=16000002320")
            && log.contains("ulimit -n 16000002320"),
        "{log}"
    );
}
