//! The loopback UDP ceiling: a plain sender/receiver pair (one `send`/`recv` syscall per
//! datagram, no batching) moving `4 + payload`-byte datagrams, the same shape as TFTP DATA.
//!
//! Two shapes are measured:
//! - **blast**: the sender never waits; goodput is what the receiver got (drops are counted);
//! - **window**: the sender sends `window` datagrams then waits for a 4-byte ACK, like an
//!   RFC 7440 transfer with a perfect peer: the best a windowed protocol can do with plain
//!   syscalls.

use std::io;
use std::net::UdpSocket;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::socket::{setsockopt, sockopt};

use crate::Pin;

/// One ceiling measurement.
#[derive(Debug, Clone, Copy)]
pub struct Ceiling {
    /// Payload MiB/s the receiver got.
    pub mib_per_s: f64,
    /// Datagrams sent that never arrived (blast only).
    pub lost: u64,
    /// Datagrams sent.
    pub sent: u64,
}

fn pair() -> io::Result<(UdpSocket, UdpSocket)> {
    let rx = UdpSocket::bind("127.0.0.1:0")?;
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    // Best effort: the kernel clamps to `net.core.[rw]mem_max`.
    let _ = setsockopt(&rx, sockopt::RcvBuf, &(4 << 20));
    let _ = setsockopt(&tx, sockopt::SndBuf, &(4 << 20));
    tx.connect(rx.local_addr()?)?;
    rx.connect(tx.local_addr()?)?;
    Ok((rx, tx))
}

/// Blast `total` payload bytes as `4 + payload` datagrams; the sender (this thread) runs on
/// `send_pin`, the receiver thread on `recv_pin`.
pub fn blast(payload: usize, total: u64, send_pin: &Pin, recv_pin: &Pin) -> io::Result<Ceiling> {
    let (rx, tx) = pair()?;
    rx.set_read_timeout(Some(Duration::from_millis(300)))?;
    let count = total.div_ceil(payload as u64);
    let rpin = recv_pin.clone();
    let receiver = thread::spawn(move || -> io::Result<(u64, f64)> {
        rpin.apply_to_current_thread()?;
        let mut buf = vec![0u8; 65536];
        let mut got = 0u64;
        let mut first: Option<Instant> = None;
        let mut last = Instant::now();
        loop {
            match rx.recv(&mut buf) {
                Ok(n) if n == 4 + payload => {
                    first.get_or_insert_with(Instant::now);
                    last = Instant::now();
                    got += 1;
                    if buf[..4] == [0xff; 4] {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        let secs = first.map_or(0.0, |f| last.duration_since(f).as_secs_f64());
        Ok((got, secs))
    });
    send_pin.apply_to_current_thread()?;
    let mut dgram = vec![0u8; 4 + payload];
    dgram[1] = 3;
    thread::sleep(Duration::from_millis(20));
    for i in 0..count {
        if i + 1 == count {
            dgram[..4].copy_from_slice(&[0xff; 4]);
        } else {
            dgram[2..4].copy_from_slice(&(i as u16).to_be_bytes());
        }
        // ENOBUFS on a full send queue counts as a drop, like a real sender would see it.
        let _ = tx.send(&dgram);
    }
    let (got, secs) = receiver
        .join()
        .map_err(|_| io::Error::other("receiver panicked"))??;
    Ok(Ceiling {
        mib_per_s: crate::mib_per_s(got * payload as u64, secs.max(1e-9)),
        lost: count - got,
        sent: count,
    })
}

/// Windowed transfer of `total` payload bytes: `window` datagrams, then wait for an ACK; pins
/// as for [`blast`].
pub fn windowed(
    payload: usize,
    window: u64,
    total: u64,
    send_pin: &Pin,
    recv_pin: &Pin,
) -> io::Result<Ceiling> {
    let (rx, tx) = pair()?;
    rx.set_read_timeout(Some(Duration::from_millis(50)))?;
    tx.set_read_timeout(Some(Duration::from_millis(200)))?;
    let count = total.div_ceil(payload as u64);
    let rpin = recv_pin.clone();
    let receiver = thread::spawn(move || -> io::Result<u64> {
        rpin.apply_to_current_thread()?;
        let mut buf = vec![0u8; 65536];
        let mut got = 0u64;
        let mut in_window = 0u64;
        while got < count {
            match rx.recv(&mut buf) {
                Ok(n) if n == 4 + payload => {
                    got += 1;
                    in_window += 1;
                    if in_window == window || got == count {
                        rx.send(&[0, 4, 0, 0])?;
                        in_window = 0;
                    }
                }
                Ok(_) => {}
                // A lost datagram: ACK what we have so the sender goes on (counted as lost).
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if in_window == 0 {
                        break;
                    }
                    rx.send(&[0, 4, 0, 0])?;
                    in_window = 0;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    });
    send_pin.apply_to_current_thread()?;
    let mut dgram = vec![0u8; 4 + payload];
    dgram[1] = 3;
    let mut ack = [0u8; 16];
    let t0 = Instant::now();
    let mut sent = 0u64;
    while sent < count {
        let burst = window.min(count - sent);
        for _ in 0..burst {
            dgram[2..4].copy_from_slice(&(sent as u16).to_be_bytes());
            let _ = tx.send(&dgram);
            sent += 1;
        }
        if tx.recv(&mut ack).is_err() {
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let got = receiver
        .join()
        .map_err(|_| io::Error::other("receiver panicked"))??;
    Ok(Ceiling {
        mib_per_s: crate::mib_per_s(got * payload as u64, secs),
        lost: sent - got,
        sent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_moves_everything() {
        let c = windowed(1468, 16, 4 << 20, &Pin::Anywhere, &Pin::Anywhere).unwrap();
        assert_eq!(c.lost, 0);
        assert!(c.mib_per_s > 0.0);
    }

    #[test]
    fn blast_reports_something() {
        let c = blast(1468, 1 << 20, &Pin::Anywhere, &Pin::Anywhere).unwrap();
        assert!(c.sent > 0 && c.mib_per_s > 0.0);
    }
}
