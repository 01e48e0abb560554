//! Lock-step transfers on the lock-step threads (`[tftp] lockstep_threads`) and on the event
//! loop, over loopback with a hand-driven RFC 1350 client: downloads side by side on both,
//! a lost ACK answered by a retransmission, and ERROR 0 to the client when the server stops.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use pxe_server::config::TftpConfig;
use pxe_server::tftp::fs::{DirRoot, Root};
use pxe_server::tftp::{Running, Settings};

/// The served file: 1200 blocks of 512 bytes and a short last one.
fn contents() -> Vec<u8> {
    (0..1200 * 512 + 100u32)
        .map(|i| u8::try_from(i % 251).unwrap_or(0))
        .collect()
}

fn start(lockstep_threads: u32) -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("f.bin"), contents()).expect("write the served file");
    let root = Root::Dir(DirRoot::open(dir.path(), true, false).expect("open the root"));
    let mut t = TftpConfig::default();
    t.lockstep_threads = Some(lockstep_threads);
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let settings = Settings::from_config(listen, root, &t);
    let running = pxe_server::tftp::start(settings).expect("start the TFTP service");
    (running, dir)
}

/// RRQ for `f.bin`, octet, no options: 512-byte blocks, one at a time (RFC 1350).
fn request(server: SocketAddr) -> UdpSocket {
    let c = UdpSocket::bind("127.0.0.1:0").expect("client socket");
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    c.send_to(b"\x00\x01f.bin\x00octet\x00", server)
        .expect("send RRQ");
    c
}

/// The next datagram and its source.
fn next(c: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 600];
    let (n, from) = c.recv_from(&mut buf).expect("a datagram from the server");
    (buf[..n].to_vec(), from)
}

fn ack(c: &UdpSocket, to: SocketAddr, block: u16) {
    let [hi, lo] = block.to_be_bytes();
    c.send_to(&[0, 4, hi, lo], to).expect("send ACK");
}

/// Downloads `f.bin` in lock-step; `skip` is a block whose first copy is not acknowledged
/// (a lost ACK). Returns the file and how many DATA arrived for `skip`.
fn download(server: SocketAddr, skip: Option<u16>) -> (Vec<u8>, usize) {
    let c = request(server);
    let mut file = Vec::new();
    let mut expected = 1u16;
    let mut copies_of_skipped = 0;
    loop {
        let (p, from) = next(&c);
        assert_eq!(&p[..2], &[0, 3], "DATA expected, got {p:?}");
        let block = u16::from_be_bytes([p[2], p[3]]);
        if Some(block) == skip {
            copies_of_skipped += 1;
            if copies_of_skipped == 1 {
                continue;
            }
        }
        if block == expected {
            file.extend_from_slice(&p[4..]);
            expected = expected.wrapping_add(1);
        }
        ack(&c, from, block);
        if block == expected.wrapping_sub(1) && p.len() < 4 + 512 {
            return (file, copies_of_skipped);
        }
    }
}

#[test]
fn downloads_on_the_lock_step_thread_and_on_the_event_loop_side_by_side_are_exact() {
    let (running, _dir) = start(1);
    let server = running.local_addr();
    // One thread: the first answered transfer takes it, the others run on the event loop.
    let clients: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || download(server, None).0))
        .collect();
    for c in clients {
        assert!(c.join().expect("client thread") == contents(), "bit-exact");
    }
    // The thread is free again for the next one.
    assert!(download(server, None).0 == contents());
    running.stop();
}

#[test]
fn a_lost_ack_on_a_lock_step_thread_is_answered_by_a_retransmission() {
    for threads in [1, 0] {
        let (running, _dir) = start(threads);
        let (file, copies) = download(running.local_addr(), Some(600));
        assert!(
            file == contents(),
            "bit-exact with {threads} lock-step threads"
        );
        assert_eq!(copies, 2, "block 600 sent again after its ACK was lost");
        running.stop();
    }
}

#[test]
fn stopping_sends_error_0_to_a_transfer_on_a_lock_step_thread() {
    for threads in [1, 0] {
        let (running, _dir) = start(threads);
        let c = request(running.local_addr());
        let (p, from) = next(&c);
        assert_eq!(&p[..4], &[0, 3, 0, 1]);
        // Answered: the transfer moves to the lock-step thread (when there is one), sends
        // block 2, and waits for its ACK, which never comes.
        ack(&c, from, 1);
        let (p, _) = next(&c);
        assert_eq!(&p[..4], &[0, 3, 0, 2]);
        let t0 = Instant::now();
        let stopping = std::thread::spawn(move || running.stop());
        let error = loop {
            let (p, _) = next(&c);
            if p[..2] == [0, 5] {
                break p;
            }
            assert_eq!(&p[..4], &[0, 3, 0, 2], "only block 2 again, or the ERROR");
        };
        assert_eq!(&error[2..4], &[0, 0], "ERROR 0 (not defined)");
        assert_eq!(&error[4..error.len() - 1], b"server shutting down");
        stopping.join().expect("stop");
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "stopped in {:?} with {threads} lock-step threads",
            t0.elapsed()
        );
    }
}
