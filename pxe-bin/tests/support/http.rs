//! HTTP clients by hand over std `TcpStream`s, and `pxe serve` with an `[http]` section.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use super::pxe::Pxe;

/// How long a test waits for the server to listen or answer.
pub const T: Duration = Duration::from_secs(60);

/// `pxe serve` over `root` with `[http]` settings `http` (TOML lines), and its HTTP address.
pub fn serve(root: &Path, http: &str) -> (Pxe, SocketAddr) {
    let config = root.join("pxe.toml");
    std::fs::write(
        &config,
        format!(
            "root = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n{http}\n",
            root.display()
        ),
    )
    .expect("write config");
    let server = Pxe::start(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        config.to_str().expect("utf-8"),
    ]);
    let addr = server.listening("HTTP", T);
    (server, addr)
}

/// A TCP connection to `to` from `from` (any port), with `SO_RCVBUF` = `rcvbuf` if given
/// (set before connecting, so the window the server sees is small from the start).
pub fn connect_from(from: Ipv4Addr, to: SocketAddr, rcvbuf: Option<usize>) -> TcpStream {
    use nix::sys::socket::{
        AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, setsockopt, socket, sockopt,
    };
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 server expected")
    };
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    if let Some(n) = rcvbuf {
        setsockopt(&fd, sockopt::RcvBuf, &n).expect("SO_RCVBUF");
    }
    bind(
        fd.as_raw_fd(),
        &SockaddrIn::from(SocketAddrV4::new(from, 0)),
    )
    .expect("bind");
    connect(fd.as_raw_fd(), &SockaddrIn::from(to)).expect("connect");
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(T)).expect("timeout");
    s
}

/// A GET of `path`, HTTP/1.1, kept alive.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

/// One response read from `s`: status, lower-cased head, body (`Content-Length` bytes, none
/// for `head_only`).
pub fn read_response(s: &mut TcpStream, head_only: bool) -> (u16, String, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).expect("read head");
        assert!(
            n == 1,
            "connection closed mid-head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().expect("length"));
    let mut body = vec![0; if head_only { 0 } else { len }];
    s.read_exact(&mut body).expect("read body");
    (status, head, body)
}

/// GET `path` on a new connection from `from`: status, body, and how long it took.
pub fn fetch(from: Ipv4Addr, to: SocketAddr, path: &str) -> (u16, Vec<u8>, Duration) {
    let start = Instant::now();
    let mut s = connect_from(from, to, None);
    s.write_all(get(path).as_bytes()).expect("send");
    let (status, _, body) = read_response(&mut s, false);
    (status, body, start.elapsed())
}

/// Whether the server closed `s` (EOF or reset) within `limit`, reading and dropping what it
/// still had in flight.
pub fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    let mut buf = vec![0; 64 << 10];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}
