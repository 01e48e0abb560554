//! Many `pxe-tftp` reference clients on real UDP sockets, driven by one thread with `poll(2)`:
//! every client is created (socket bound) first, then all RRQs leave in the first pass, so the
//! server sees them all at once. Received bytes are compared with the expected file as they
//! come out of `Client::poll_data` (no per-client copy of the file).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use pxe_proto::{Datagram, Destination, SansIo};
use pxe_tftp::{Client, ClientConfig, ClientEvent, Outcome};

/// How one client ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Result1 {
    /// All bytes arrived, equal to the expected file, and the client reported `Completed`.
    pub exact: bool,
    /// Seconds from the start of the fleet until the last byte arrived (or the client ended).
    pub secs: f64,
    /// The client's retransmissions.
    pub retransmits: u64,
}

struct Conn {
    sock: UdpSocket,
    local: SocketAddr,
    client: Client,
    at: u64,
    same: bool,
    complete_at: Option<f64>,
    outcome: Option<Outcome>,
}

/// What a fleet downloads and how.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// The server's request address.
    pub server: SocketAddr,
    /// The file to ask for.
    pub filename: &'a str,
    /// Number of concurrent clients.
    pub clients: usize,
    /// `blksize` option.
    pub blksize: u16,
    /// `windowsize` option (1: not sent).
    pub windowsize: u16,
    /// Bound on the whole run: clients still running then count as failed.
    pub deadline: Duration,
}

/// Runs the fleet; each download is compared with `want`. `on_tick` gets the number of live
/// clients after every pass of the loop.
pub fn run(
    plan: &Plan<'_>,
    want: &[u8],
    on_tick: &mut dyn FnMut(usize),
) -> io::Result<Vec<Result1>> {
    let Plan {
        server,
        filename,
        clients: n,
        blksize,
        windowsize,
        deadline,
    } = *plan;
    let epoch = Instant::now();
    let now = || {
        pxe_proto::Instant::from_micros(
            u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX),
        )
    };
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.set_nonblocking(true)?;
        let local = sock.local_addr()?;
        let mut config = ClientConfig::default().option("blksize", &blksize.to_string());
        if windowsize > 1 {
            config = config.option("windowsize", &windowsize.to_string());
        }
        let client = Client::new(now(), server, filename.as_bytes(), config)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        conns.push(Conn {
            sock,
            local,
            client,
            at: 0,
            same: true,
            complete_at: None,
            outcome: None,
        });
    }
    let mut buf = vec![0u8; pxe_tftp::wire::MAX_DATAGRAM_LEN];
    let mut rbuf = vec![0u8; 65536];
    let mut fds: Vec<libc::pollfd> = Vec::with_capacity(n);
    let mut idx: Vec<usize> = Vec::with_capacity(n);
    loop {
        let t = now();
        // Drive every live client: timers, sends, data, events.
        for c in conns.iter_mut().filter(|c| c.outcome.is_none()) {
            if c.client.poll_timeout().is_some_and(|d| d <= t) {
                c.client.handle_timeout(t);
            }
            while let Some(tx) = c.client.poll_transmit(t, &mut buf) {
                if let Destination::Unicast(to) = tx.destination {
                    // A full send queue is a lost datagram: the client's timer resends it.
                    let _ = c.sock.send_to(&buf[..tx.len], to);
                }
            }
            drain(c, want, epoch);
        }
        let live = conns.iter().filter(|c| c.outcome.is_none()).count();
        on_tick(live);
        if live == 0 || epoch.elapsed() >= deadline {
            break;
        }
        fds.clear();
        idx.clear();
        let mut wait = Duration::from_millis(50);
        for (i, c) in conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.outcome.is_none())
        {
            fds.push(libc::pollfd {
                fd: c.sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            idx.push(i);
            if let Some(d) = c.client.poll_timeout() {
                wait = wait.min(Duration::from_micros(
                    d.as_micros().saturating_sub(t.as_micros()),
                ));
            }
        }
        let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(50);
        // SAFETY: fds is a valid array of pollfd of the given length.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
            continue;
        }
        for (k, pfd) in fds.iter().enumerate() {
            if pfd.revents == 0 {
                continue;
            }
            let c = &mut conns[idx[k]];
            loop {
                match c.sock.recv_from(&mut rbuf) {
                    Ok((len, from)) => {
                        c.client
                            .handle_datagram(now(), Datagram::new(from, c.local, &rbuf[..len]));
                        drain(c, want, epoch);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(conns
        .iter()
        .map(|c| Result1 {
            exact: c.same && c.at == want.len() as u64 && c.outcome == Some(Outcome::Completed),
            secs: c
                .complete_at
                .unwrap_or_else(|| epoch.elapsed().as_secs_f64()),
            retransmits: c.client.stats().retransmits,
        })
        .collect())
}

fn drain(c: &mut Conn, want: &[u8], epoch: Instant) {
    while let Some((offset, bytes)) = c.client.poll_data() {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let ok =
            offset == c.at && want.get(start..start.saturating_add(bytes.len())) == Some(bytes);
        c.same &= ok;
        c.at = offset + bytes.len() as u64;
    }
    if c.complete_at.is_none() && c.at == want.len() as u64 {
        c.complete_at = Some(epoch.elapsed().as_secs_f64());
    }
    while let Some(ev) = c.client.poll_event() {
        if let ClientEvent::Finished(outcome) = ev {
            c.complete_at
                .get_or_insert_with(|| epoch.elapsed().as_secs_f64());
            c.outcome = Some(outcome);
        }
    }
    // A finished client that never reported (should not happen) still stops being driven.
    if c.outcome.is_none() && c.client.is_finished() {
        c.outcome = c.client.outcome().cloned();
    }
}
