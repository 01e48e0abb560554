//! TFTP packets by hand (RFC 1350 §5, RFC 2347 options) for tests that play a client the real
//! ones cannot: one that never answers, stops halfway, or retransmits on its own schedule.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// An RRQ for `name` in octet mode with `options` (name, value) appended.
pub fn rrq(name: &str, options: &[(&str, &str)]) -> Vec<u8> {
    let mut p = vec![0, 1];
    p.extend_from_slice(name.as_bytes());
    p.extend_from_slice(b"\0octet\0");
    for (k, v) in options {
        p.extend_from_slice(k.as_bytes());
        p.push(0);
        p.extend_from_slice(v.as_bytes());
        p.push(0);
    }
    p
}

/// The ACK of `block`.
pub fn ack(block: u16) -> [u8; 4] {
    let b = block.to_be_bytes();
    [0, 4, b[0], b[1]]
}

/// One datagram into `buf`: its length and sender, or `None` once the socket's read timeout
/// passes. Any other error fails the test.
pub fn recv(s: &UdpSocket, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    match s.recv_from(buf) {
        Ok(got) => Some(got),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        Err(e) => panic!("recv: {e}"),
    }
}
