//! A whole TFTP read transfer through the `pxe-tftp` client and server cores in memory: no
//! sockets, no clock (time stands still, so no timer ever fires), file bytes supplied from a
//! slice. Used by the criterion bench and the allocation check.

use std::net::SocketAddr;

use pxe_proto::{Datagram, Instant, SansIo};
use pxe_tftp::{Client, ClientConfig, FileInfo, Server, ServerConfig, Session, SessionEvent};

/// Which side a callback is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The server's session (the send path).
    Server,
    /// The reference client.
    Client,
}

/// Runs one transfer of `file` with the given `blksize`/`windowsize` options; `around` wraps
/// every call into either core (so a test can count what each side allocates). Returns the
/// received byte count and the server session (for its stats).
pub fn run(
    file: &[u8],
    blksize: u16,
    windowsize: u16,
    around: &mut dyn FnMut(Side, &mut dyn FnMut()),
) -> (u64, Session) {
    let srv: SocketAddr = ([10, 0, 0, 1], 69).into();
    let port: SocketAddr = ([10, 0, 0, 1], 40000).into();
    let cli: SocketAddr = ([10, 0, 0, 2], 1234).into();
    let now = Instant::ZERO;
    let config = ClientConfig::default()
        .option("blksize", &blksize.to_string())
        .option("windowsize", &windowsize.to_string());
    let mut client = Client::new(now, srv, b"boot.img", config).expect("valid request");
    let mut server = Server::new(ServerConfig {
        blksize_max: blksize.max(ServerConfig::default().blksize_max),
        windowsize_max: windowsize.max(1),
        ..ServerConfig::default()
    });
    let mut buf = vec![0u8; pxe_tftp::wire::MAX_DATAGRAM_LEN];
    let t = client.poll_transmit(now, &mut buf).expect("an RRQ");
    server.handle_datagram(now, Datagram::new(cli, srv, &buf[..t.len]));
    let incoming = server.poll_event().expect("an Incoming");
    let mut session = incoming.accept(
        now,
        FileInfo {
            size: Some(file.len() as u64),
        },
    );
    let mut received = 0u64;
    let mut cbuf = vec![0u8; pxe_tftp::wire::MAX_DATAGRAM_LEN];
    while !(session.is_finished() && client.is_finished()) {
        let mut progressed = false;
        around(Side::Server, &mut || {
            // Every event is drained: `Established` comes before the first `NeedData` of an
            // OACK transfer.
            while let Some(ev) = session.poll_event() {
                let SessionEvent::NeedData { offset, len } = ev else {
                    continue;
                };
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(file.len());
                let end = start.saturating_add(len).min(file.len());
                session
                    .supply(offset, &file[start..end])
                    .expect("answers NeedData");
            }
        });
        loop {
            let mut sent = None;
            around(Side::Server, &mut || {
                sent = session.poll_transmit(now, &mut buf).map(|t| t.len)
            });
            let Some(len) = sent else { break };
            progressed = true;
            around(Side::Client, &mut || {
                client.handle_datagram(now, Datagram::new(port, cli, &buf[..len]));
                while let Some((_, bytes)) = client.poll_data() {
                    received += bytes.len() as u64;
                }
            });
        }
        loop {
            let mut sent = None;
            around(Side::Client, &mut || {
                sent = client.poll_transmit(now, &mut cbuf).map(|t| t.len)
            });
            let Some(len) = sent else { break };
            progressed = true;
            around(Side::Server, &mut || {
                session.handle_datagram(now, Datagram::new(cli, port, &cbuf[..len]))
            });
        }
        if !progressed {
            // Only the dally/final-ACK timers are left; time does not move here, so stop.
            break;
        }
    }
    (received, session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_are_complete() {
        let file: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7) as u8).collect();
        for (b, w) in [(512, 1), (1468, 16), (1468, 64)] {
            let (got, session) = run(&file, b, w, &mut |_, f| f());
            assert_eq!(got, file.len() as u64, "blksize {b} windowsize {w}");
            assert_eq!(session.stats().bytes, file.len() as u64);
        }
    }
}
