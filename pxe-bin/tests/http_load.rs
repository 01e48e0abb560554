//! `pxe serve --http` under load, on loopback with raw sockets: idle connections at the cap
//! make room for a new client (oldest idle first), one client address cannot take every slot,
//! a slow download in progress is never evicted, a client that stops reading is dropped after
//! `send_timeout`, HEAD and pipelined requests on one connection, malformed heads answered
//! (400/414/431/505/501/405) and not a crash, and 1000 stalled downloads cost the server far
//! less than 128 MiB of memory (sendfile: no buffer per connection).
//!
//! Client sockets are bound to addresses of 127.0.0.0/8 (127.0.0.2, ...) to play different
//! hosts, and made with a small receive buffer where a download must stay unread.

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use support::files::{random_file, sha256_bytes};
use support::http::{T, closed_within, connect_from, fetch, get, read_response, serve};

/// Raises this process's open-file limit to its hard limit: the tests hold up to ~2100 sockets.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    assert!(soft >= 2500, "open-file limit {soft} too low for this test");
}

/// The server's resident memory, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// 2000 idle connections (from 40 addresses, 50 each: under the per-client cap) against the
/// default cap of 1000: a new client still gets its file within a second, bit-exact, because
/// the idle connections idle the longest are closed to make room.
#[test]
fn idle_connections_make_room_for_a_new_client() {
    raise_fd_limit();
    let root = tempfile::tempdir().expect("tempdir");
    let sum = random_file(&root.path().join("f.bin"), 1 << 20, 3);
    let (server, addr) = serve(root.path(), "");
    let idle: Vec<TcpStream> = (0..2000)
        .map(|i| connect_from(Ipv4Addr::new(127, 0, 1, 10 + (i % 40) as u8), addr, None))
        .collect();
    // Let the server accept them all (it evicts as it goes) and the newest pass the grace.
    assert!(
        server.wait_log("evicted_idle=", T),
        "no eviction logged:\n{}",
        server.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    let (status, body, took) = fetch(Ipv4Addr::new(127, 0, 0, 1), addr, "/f.bin");
    assert_eq!(status, 200);
    assert_eq!(sha256_bytes(&body), sum, "not bit-exact");
    assert!(
        took < Duration::from_secs(1),
        "the new client waited {took:?}"
    );
    drop(idle);
    // Request lines reach the log in batches (up to `pxe_server::logging::BATCH_DELAY` late).
    assert!(server.wait_log("result=ok", T), "{}", server.log());
}

/// One address (127.0.0.2) holding its cap of busy downloads and opening more is refused
/// beyond its cap; another address (127.0.0.3) is served at once.
#[test]
fn one_client_cannot_take_every_slot() {
    let root = tempfile::tempdir().expect("tempdir");
    random_file(&root.path().join("big.bin"), 16 << 20, 5);
    let sum = random_file(&root.path().join("f.bin"), 256 << 10, 6);
    let (server, addr) = serve(
        root.path(),
        "max_connections = 20\nmax_connections_per_client = 8",
    );
    let greedy = Ipv4Addr::new(127, 0, 0, 2);
    // Eight downloads that stay busy: requested, never read.
    let busy: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = connect_from(greedy, addr, Some(4096));
            s.write_all(get("/big.bin").as_bytes()).expect("send");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // Fifty more from the same address: each closed at once.
    let mut more: Vec<TcpStream> = (0..50).map(|_| connect_from(greedy, addr, None)).collect();
    assert!(
        closed_within(&mut more[49], Duration::from_secs(5)),
        "a connection over the per-client cap stayed open"
    );
    let (status, body, took) = fetch(Ipv4Addr::new(127, 0, 0, 3), addr, "/f.bin");
    assert_eq!(status, 200);
    assert_eq!(sha256_bytes(&body), sum);
    assert!(
        took < Duration::from_secs(1),
        "the other client waited {took:?}"
    );
    assert!(
        server.wait_log("refused_per_client=", Duration::from_secs(5)),
        "{}",
        server.log()
    );
    drop(busy);
}

/// With a cap of 4, a slow download runs while 40 idle connections churn through the other
/// slots: it is never evicted and ends bit-exact.
#[test]
fn a_slow_download_is_not_evicted() {
    let root = tempfile::tempdir().expect("tempdir");
    let sum = random_file(&root.path().join("f.bin"), 4 << 20, 8);
    let (server, addr) = serve(
        root.path(),
        "max_connections = 4\nmax_connections_per_client = 100",
    );
    let mut slow = connect_from(Ipv4Addr::new(127, 0, 0, 4), addr, Some(8192));
    slow.write_all(get("/f.bin").as_bytes()).expect("send");
    let (status, head, _) = read_response(&mut slow, true);
    assert_eq!(status, 200, "{head}");
    let mut body = Vec::new();
    let mut buf = vec![0; 64 << 10];
    let mut idle = Vec::new();
    let started = Instant::now();
    while body.len() < 4 << 20 {
        // About 2 MiB/s: the download lasts ~2 s, while the churn runs.
        let n = slow.read(&mut buf).expect("slow read");
        assert!(
            n > 0,
            "the slow download was cut after {} bytes",
            body.len()
        );
        body.extend_from_slice(&buf[..n]);
        std::thread::sleep(Duration::from_millis(15));
        if idle.len() < 40 && started.elapsed() > Duration::from_millis(300) {
            idle.push(connect_from(Ipv4Addr::new(127, 0, 0, 5), addr, None));
        }
    }
    assert_eq!(sha256_bytes(&body), sum, "not bit-exact");
    assert_eq!(idle.len(), 40);
    assert!(
        server.wait_log("evicted_idle=", Duration::from_secs(5)),
        "{}",
        server.log()
    );
    assert!(
        server.wait_log(
            "path=/f.bin status=200 bytes=4194304",
            Duration::from_secs(5)
        ),
        "{}",
        server.log()
    );
}

/// HEAD has no body, pipelined requests are answered in order on one connection, ranges of a
/// 64 MiB file come out bit-exact (sendfile at offsets), HTTP/1.0 closes.
#[test]
fn keep_alive_head_and_ranges() {
    let root = tempfile::tempdir().expect("tempdir");
    let len = 64 << 20;
    let sum = random_file(&root.path().join("big.bin"), len, 9);
    let data = std::fs::read(root.path().join("big.bin")).expect("read");
    let (_server, addr) = serve(root.path(), "");
    let mut s = connect_from(Ipv4Addr::LOCALHOST, addr, None);
    let mid = len / 3 + 7;
    let pipelined = format!(
        "HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n{}GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes={mid}-{}\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=-1000\r\n\r\n",
        get("/big.bin"),
        mid + (5 << 20) - 1
    );
    s.write_all(pipelined.as_bytes()).expect("send");
    let (status, head, body) = read_response(&mut s, true);
    assert_eq!(status, 200);
    assert!(
        head.contains(&format!("content-length: {len}\r\n")),
        "{head}"
    );
    assert!(body.is_empty());
    let (status, _, body) = read_response(&mut s, false);
    assert_eq!(status, 200);
    assert_eq!(sha256_bytes(&body), sum, "GET not bit-exact");
    let (status, head, body) = read_response(&mut s, false);
    assert_eq!(status, 206, "{head}");
    assert!(body == data[mid..mid + (5 << 20)], "middle range");
    let (status, _, body) = read_response(&mut s, false);
    assert_eq!(status, 206);
    assert!(body == data[len - 1000..], "suffix range");
    // HTTP/1.0 without keep-alive: answered, then closed.
    s.write_all(b"GET /big.bin HTTP/1.0\r\nRange: bytes=0-9\r\n\r\n")
        .expect("send");
    let (status, head, body) = read_response(&mut s, false);
    assert_eq!(status, 206);
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(body, &data[..10]);
    assert!(closed_within(&mut s, Duration::from_secs(5)));
}

/// A client that stops reading is dropped once `send_timeout` passes without progress.
#[test]
fn a_reader_that_stops_is_dropped_after_send_timeout() {
    let root = tempfile::tempdir().expect("tempdir");
    random_file(&root.path().join("big.bin"), 64 << 20, 10);
    let (server, addr) = serve(root.path(), "send_timeout = 1");
    let mut stalled = connect_from(Ipv4Addr::LOCALHOST, addr, Some(4096));
    stalled.write_all(get("/big.bin").as_bytes()).expect("send");
    assert!(
        server.wait_log("client read nothing for 1 s", Duration::from_secs(15)),
        "{}",
        server.log()
    );
    assert!(server.log().contains("result=aborted"), "{}", server.log());
    assert!(closed_within(&mut stalled, Duration::from_secs(10)));
}

/// Heads that break the rules get their status and a closed connection; the server goes on.
#[test]
fn malformed_requests_are_answered_not_crashed_on() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::write(root.path().join("a.txt"), b"A\n").expect("write");
    let (server, addr) = serve(root.path(), "");
    let long_name = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    let many: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
    let many = format!("GET /a.txt HTTP/1.1\r\nHost: t\r\n{many}\r\n");
    let big = format!(
        "GET /a.txt HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "y".repeat(20_000)
    );
    // (request, status, whether the connection closes after the answer)
    for (req, want, closes) in [
        ("GET /a.txt HTTP/1.1\r\n\r\n", 400, true),
        ("GET /a.txt HTTP/1.1\r\nHost : t\r\n\r\n", 400, true),
        ("GET /a.txt HTTP/2.0\r\nHost: t\r\n\r\n", 505, true),
        ("BREW /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", 405, false),
        (
            "GET /a.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            501,
            true,
        ),
        (
            "POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
            405,
            true,
        ),
        (
            "GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
            true,
        ),
        ("GET * HTTP/1.1\r\nHost: t\r\n\r\n", 400, false),
        (long_name.as_str(), 414, true),
        (many.as_str(), 431, true),
        (big.as_str(), 431, true),
    ] {
        let mut s = connect_from(Ipv4Addr::LOCALHOST, addr, None);
        s.write_all(req.as_bytes()).expect("send");
        let (status, head, _) = read_response(&mut s, false);
        let what = &req[..req.len().min(60)];
        assert_eq!(status, want, "{what:?}: {head}");
        if closes {
            assert!(head.contains("connection: close"), "{what:?}: {head}");
            assert!(closed_within(&mut s, Duration::from_secs(5)), "{what:?}");
        } else {
            // Still usable.
            s.write_all(get("/a.txt").as_bytes()).expect("send");
            let (status, _, body) = read_response(&mut s, false);
            assert_eq!((status, body.as_slice()), (200, &b"A\n"[..]), "{what:?}");
        }
    }
    let (status, body, _) = fetch(Ipv4Addr::LOCALHOST, addr, "/a.txt");
    assert_eq!((status, body.as_slice()), (200, &b"A\n"[..]));
    assert_eq!(server.terminate(Duration::from_secs(10)), Some(0));
}

/// 1000 connections, each with a 256 MiB download requested and never read, raise the
/// server's resident memory by far less than 128 MiB: file bodies go out with sendfile, so a
/// stalled download holds no buffer.
#[test]
fn a_thousand_stalled_downloads_stay_under_128_mib() {
    raise_fd_limit();
    let root = tempfile::tempdir().expect("tempdir");
    let f = std::fs::File::create(root.path().join("big.iso")).expect("create");
    f.set_len(256 << 20).expect("set_len");
    drop(f);
    let (server, addr) = serve(root.path(), "");
    // One download first, so the runtime's one-time allocations are in the baseline.
    let (status, _, _) = fetch(Ipv4Addr::LOCALHOST, addr, "/pxe.toml");
    assert_eq!(status, 200);
    let before = rss_kib(server.pid());
    let mut conns: Vec<TcpStream> = (0..1000)
        .map(|i| {
            let mut s = connect_from(
                Ipv4Addr::new(127, 0, 2, 1 + (i % 20) as u8),
                addr,
                Some(4096),
            );
            s.write_all(get("/big.iso").as_bytes()).expect("send");
            s
        })
        .collect();
    // Every one of them has its response started: its head is readable.
    for s in &mut conns {
        let (status, head, _) = read_response(s, true);
        assert_eq!(status, 200, "{head}");
    }
    let after = rss_kib(server.pid());
    let growth = after.saturating_sub(before);
    eprintln!("server RSS {before} KiB -> {after} KiB with 1000 stalled downloads");
    assert!(
        growth < 128 * 1024,
        "RSS grew by {growth} KiB for 1000 stalled downloads"
    );
    drop(conns);
    assert_eq!(server.terminate(Duration::from_secs(10)), Some(0));
}
