//! `pxe serve --http` connection threads (`[http] connection_threads`), on loopback with raw
//! sockets: range reads on a kept-alive connection move to a thread of its own (seen as a
//! thread named `http-conn` in /proc) and stay bit-exact, with threads and without; what a
//! thread does not answer itself (a large body, a pipelined batch, a request that closes the
//! connection, a head in two pieces) is answered from the event loop on the same connection;
//! an idle connection goes back after a second, is evicted like any idle one at the cap, and
//! a stopping server closes it.

mod support;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::files::random_file;
use support::http::{closed_within, connect_from, get, read_response, serve};
use support::pxe::Pxe;

/// A ranged GET of `len` bytes from `first`.
fn range(path: &str, first: usize, len: usize) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nRange: bytes={first}-{}\r\n\r\n",
        first + len - 1
    )
}

/// The server's threads named `http-conn` (connection threads).
fn connection_threads(server: &Pxe) -> usize {
    let tasks = std::fs::read_dir(format!("/proc/{}/task", server.pid())).expect("tasks");
    tasks
        .filter_map(Result::ok)
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "http-conn")
        })
        .count()
}

/// Waits up to 5 s until the server runs `n` connection threads.
fn wait_threads(server: &Pxe, n: usize) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if connection_threads(server) == n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A served root with an 8 MiB random `big.bin`, its contents, and the server on it.
fn start(http: &str) -> (tempfile::TempDir, Vec<u8>, Pxe, SocketAddr) {
    let root = tempfile::tempdir().expect("tempdir");
    random_file(&root.path().join("big.bin"), 8 << 20, 21);
    let data = std::fs::read(root.path().join("big.bin")).expect("read");
    let (server, addr) = serve(root.path(), http);
    (root, data, server, addr)
}

/// A HEAD of `big.bin` on `s` (a small response: the connection may move to a thread).
fn head(s: &mut TcpStream) {
    s.write_all(b"HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let (status, _, _) = read_response(s, true);
    assert_eq!(status, 200);
}

/// 300 consecutive 65 024-byte ranges (iPXE `sanboot`'s reads) on one connection.
fn sanboot_reads(s: &mut TcpStream, data: &[u8]) {
    const LEN: usize = 65_024;
    for i in 0..300 {
        let first = (i * LEN) % (data.len() - LEN);
        s.write_all(range("/big.bin", first, LEN).as_bytes())
            .expect("send");
        let (status, head, body) = read_response(s, false);
        assert_eq!(status, 206, "{head}");
        assert!(body == data[first..first + LEN], "range {i} not bit-exact");
    }
}

/// Waits until the server logged `n` lines with status 206 (request lines are batched).
fn wait_logged_ranges(server: &Pxe, n: usize) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if server.log().matches("status=206").count() == n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn range_reads_run_on_a_thread_bit_exact_and_logged() {
    let (_root, data, server, addr) = start("");
    let mut s = connect_from(Ipv4Addr::LOCALHOST, addr, None);
    head(&mut s);
    assert!(
        wait_threads(&server, 1),
        "no connection thread after a small response"
    );
    sanboot_reads(&mut s, &data);
    assert_eq!(connection_threads(&server), 1, "one thread per connection");
    assert!(
        wait_logged_ranges(&server, 300),
        "every request on the thread gets its log line: {}",
        server.log()
    );
}

#[test]
fn with_no_connection_threads_every_request_stays_on_the_event_loop() {
    let (_root, data, server, addr) = start("connection_threads = 0");
    let mut s = connect_from(Ipv4Addr::LOCALHOST, addr, None);
    head(&mut s);
    sanboot_reads(&mut s, &data);
    assert_eq!(connection_threads(&server), 0);
    assert!(wait_logged_ranges(&server, 300), "{}", server.log());
}

#[test]
fn what_a_thread_does_not_answer_is_answered_on_the_same_connection() {
    let (_root, data, server, addr) = start("");
    let mut s = connect_from(Ipv4Addr::LOCALHOST, addr, None);
    head(&mut s);
    assert!(wait_threads(&server, 1));
    // A pipelined batch with a large body (8 MiB: back to the event loop) between two ranges.
    let batch = format!(
        "{}{}{}",
        range("/big.bin", 10, 1000),
        get("/big.bin"),
        range("/big.bin", 5 << 20, 4096)
    );
    s.write_all(batch.as_bytes()).expect("send");
    let (status, _, body) = read_response(&mut s, false);
    assert_eq!((status, body.as_slice()), (206, &data[10..1010]));
    let (status, _, body) = read_response(&mut s, false);
    assert!(status == 200 && body == data, "whole file not bit-exact");
    let (status, _, body) = read_response(&mut s, false);
    assert_eq!(
        (status, body.as_slice()),
        (206, &data[5 << 20..(5 << 20) + 4096])
    );
    // A head in two pieces, 100 ms apart.
    assert!(
        wait_threads(&server, 1),
        "back on a thread after a small response"
    );
    let request = range("/big.bin", 77, 100);
    let (first, rest) = request.split_at(10);
    s.write_all(first.as_bytes()).expect("send");
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(rest.as_bytes()).expect("send");
    let (status, _, body) = read_response(&mut s, false);
    assert_eq!((status, body.as_slice()), (206, &data[77..177]));
    // A request that ends the connection.
    assert!(wait_threads(&server, 1));
    s.write_all(
        b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\nConnection: close\r\n\r\n",
    )
    .expect("send");
    let (status, head, body) = read_response(&mut s, false);
    assert_eq!((status, body.as_slice()), (206, &data[..10]));
    assert!(head.contains("connection: close"), "{head}");
    assert!(closed_within(&mut s, Duration::from_secs(5)));
    assert!(wait_threads(&server, 0));
    let log = server.log();
    assert!(!log.contains("result=aborted"), "{log}");
    assert!(!log.contains("connection thread"), "{log}");
}

#[test]
fn an_idle_connection_goes_back_after_a_second_and_is_served_again() {
    let (_root, data, server, addr) = start("");
    let mut s = connect_from(Ipv4Addr::LOCALHOST, addr, None);
    head(&mut s);
    assert!(wait_threads(&server, 1));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(connection_threads(&server), 0, "still on its thread");
    s.write_all(range("/big.bin", 1234, 5000).as_bytes())
        .expect("send");
    let (status, _, body) = read_response(&mut s, false);
    assert_eq!((status, body.as_slice()), (206, &data[1234..6234]));
    assert!(wait_threads(&server, 1), "on a thread again");
}

#[test]
fn an_idle_connection_on_a_thread_makes_room_at_the_cap() {
    let (_root, data, server, addr) = start("max_connections = 1");
    let mut idle = connect_from(Ipv4Addr::LOCALHOST, addr, None);
    head(&mut idle);
    assert!(wait_threads(&server, 1));
    // Idle for longer than the eviction grace (250 ms), then a new client comes.
    std::thread::sleep(Duration::from_millis(400));
    let started = Instant::now();
    let mut next = connect_from(Ipv4Addr::LOCALHOST, addr, None);
    next.write_all(range("/big.bin", 0, 100).as_bytes())
        .expect("send");
    let (status, _, body) = read_response(&mut next, false);
    assert_eq!((status, body.as_slice()), (206, &data[..100]));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the new client waited {:?}",
        started.elapsed()
    );
    assert!(closed_within(&mut idle, Duration::from_secs(5)));
}

#[test]
fn stopping_closes_connections_on_threads() {
    let (_root, _data, server, addr) = start("");
    let mut s = connect_from(Ipv4Addr::LOCALHOST, addr, None);
    head(&mut s);
    assert!(wait_threads(&server, 1));
    let started = Instant::now();
    let code = server.terminate(Duration::from_secs(10));
    assert_eq!(code, Some(0), "clean exit on SIGTERM");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        started.elapsed()
    );
    assert!(closed_within(&mut s, Duration::from_secs(5)));
}
