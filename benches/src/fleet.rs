//! Many `pxe-tftp` reference clients on real UDP sockets, driven by `poll(2)` loops (one thread,
//! or [`Plan::threads`] threads with a share of the clients each): every client is created
//! (socket bound) first, then all RRQs leave in each loop's first pass, so the server sees them
//! all at once. One thread that answers 10 000 sockets can fall seconds behind on a busy
//! machine, which then measures the harness, not the server. Received bytes are compared with the expected file as they
//! come out of `Client::poll_data` (no per-client copy of the file).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, poll};
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
    /// Threads driving the clients (at least 1), each its own `poll(2)` loop over a
    /// contiguous share of them.
    pub threads: usize,
}

/// Runs the fleet; each download is compared with `want`. `on_tick` gets the number of live
/// clients every few milliseconds, from the calling thread.
pub fn run(
    plan: &Plan<'_>,
    want: &[u8],
    on_tick: &mut dyn FnMut(usize),
) -> io::Result<Vec<Result1>> {
    let n = plan.clients;
    let threads = plan.threads.clamp(1, n.max(1));
    let epoch = Instant::now();
    let live: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(usize::MAX)).collect();
    let done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                // Contiguous shares: clients [k·n/threads, (k+1)·n/threads).
                let range = k * n / threads..(k + 1) * n / threads;
                let (live, done) = (&live[k], &done);
                scope.spawn(move || {
                    let r = shard(plan, range, want, epoch, live);
                    done.fetch_add(1, Ordering::SeqCst);
                    r
                })
            })
            .collect();
        while done.load(Ordering::SeqCst) < threads {
            let sum = live
                .iter()
                .map(|l| l.load(Ordering::SeqCst))
                .filter(|&l| l != usize::MAX)
                .sum();
            on_tick(sum);
            std::thread::sleep(Duration::from_millis(5));
        }
        on_tick(0);
        let mut all = Vec::with_capacity(n);
        for h in handles {
            let part = h
                .join()
                .map_err(|_| io::Error::other("a fleet thread panicked"))??;
            all.extend(part);
        }
        Ok(all)
    })
}

/// One `poll(2)` loop over the clients numbered `range`.
fn shard(
    plan: &Plan<'_>,
    range: std::ops::Range<usize>,
    want: &[u8],
    epoch: Instant,
    live_out: &AtomicUsize,
) -> io::Result<Vec<Result1>> {
    let Plan {
        server,
        filename,
        blksize,
        windowsize,
        deadline,
        ..
    } = *plan;
    let n = range.len();
    let now = || {
        pxe_proto::Instant::from_micros(
            u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX),
        )
    };
    let mut conns = Vec::with_capacity(n);
    for i in range {
        // Each client on its own loopback address (127.4.0.1, 127.4.0.2, ...), as each machine
        // of a boot storm has its own: the server's per-address limits see many clients, not one.
        let ip = std::net::Ipv4Addr::from(
            u32::from(std::net::Ipv4Addr::new(127, 4, 0, 1)) + u32::try_from(i).unwrap_or(0),
        );
        let sock = UdpSocket::bind((ip, 0))?;
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
    let mut idx: Vec<usize> = Vec::with_capacity(n);
    let mut ready: Vec<bool> = Vec::with_capacity(n);
    loop {
        let t = now();
        // Drive every live client: timers, sends, data, events.
        for c in conns.iter_mut().filter(|c| c.outcome.is_none()) {
            if c.client.poll_timeout().is_some_and(|d| d <= t) {
                c.client.handle_timeout(t);
            }
            pump(c, t, &mut buf, want, epoch);
        }
        let live = conns.iter().filter(|c| c.outcome.is_none()).count();
        live_out.store(live, Ordering::SeqCst);
        if live == 0 || epoch.elapsed() >= deadline {
            break;
        }
        idx.clear();
        let mut fds = Vec::with_capacity(n);
        let mut wait = Duration::from_millis(50);
        for (i, c) in conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.outcome.is_none())
        {
            fds.push(PollFd::new(c.sock.as_fd(), PollFlags::POLLIN));
            idx.push(i);
            if let Some(d) = c.client.poll_timeout() {
                wait = wait.min(Duration::from_micros(
                    d.as_micros().saturating_sub(t.as_micros()),
                ));
            }
        }
        let ms = u16::try_from(wait.as_millis()).unwrap_or(50);
        if let Err(e) = poll(&mut fds, ms) {
            if e != Errno::EINTR {
                return Err(e.into());
            }
            continue;
        }
        ready.clear();
        ready.extend(fds.iter().map(|p| p.any() != Some(false)));
        drop(fds);
        for (k, &r) in ready.iter().enumerate() {
            if !r {
                continue;
            }
            let c = &mut conns[idx[k]];
            loop {
                match c.sock.recv_from(&mut rbuf) {
                    Ok((len, from)) => {
                        let t = now();
                        c.client
                            .handle_datagram(t, Datagram::new(from, c.local, &rbuf[..len]));
                        pump(c, t, &mut buf, want, epoch);
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

/// Sends what the client queued, then takes its data and events; a client that just finished
/// gets its queued datagrams (the final ACK) flushed before it stops being driven.
fn pump(c: &mut Conn, t: pxe_proto::Instant, buf: &mut [u8], want: &[u8], epoch: Instant) {
    flush(c, t, buf);
    drain(c, want, epoch);
    if c.outcome.is_some() {
        flush(c, t, buf);
    }
}

fn flush(c: &mut Conn, t: pxe_proto::Instant, buf: &mut [u8]) {
    while let Some(tx) = c.client.poll_transmit(t, buf) {
        if let Destination::Unicast(to) = tx.destination {
            // A full send queue is a lost datagram: the client's timer resends it.
            let _ = c.sock.send_to(&buf[..tx.len], to);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use pxe_tftp::{FileInfo, Server, ServerConfig, SessionEvent};
    use std::sync::Arc;

    /// A minimal thread-per-transfer server on the `pxe-tftp` cores (the crate README's loop).
    fn serve(listen: UdpSocket, file: Arc<Vec<u8>>, transfers: usize) {
        let epoch = Instant::now();
        let now = move || pxe_proto::Instant::from_micros(epoch.elapsed().as_micros() as u64);
        let mut server = Server::new(ServerConfig::default());
        let mut buf = vec![0u8; 65536];
        let mut threads = Vec::new();
        while threads.len() < transfers {
            let (n, remote) = listen.recv_from(&mut buf).unwrap();
            server.handle_datagram(
                now(),
                Datagram::new(remote, listen.local_addr().unwrap(), &buf[..n]),
            );
            while let Some(req) = server.poll_event() {
                let file = Arc::clone(&file);
                let mut session = req.accept(
                    now(),
                    FileInfo {
                        size: Some(file.len() as u64),
                    },
                );
                threads.push(std::thread::spawn(move || {
                    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                    let local = sock.local_addr().unwrap();
                    let (mut out, mut rbuf) = (vec![0u8; 65536], vec![0u8; 65536]);
                    while !session.is_finished() {
                        while let Some(ev) = session.poll_event() {
                            let SessionEvent::NeedData { offset, len } = ev else {
                                continue;
                            };
                            let start = (offset as usize).min(file.len());
                            let end = (start + len).min(file.len());
                            session.supply(offset, &file[start..end]).unwrap();
                        }
                        while let Some(t) = session.poll_transmit(now(), &mut out) {
                            if let Destination::Unicast(to) = t.destination {
                                sock.send_to(&out[..t.len], to).unwrap();
                            }
                        }
                        let wait = session
                            .poll_timeout()
                            .map_or(Duration::from_millis(50), |d| {
                                Duration::from_micros(
                                    d.as_micros().saturating_sub(now().as_micros()),
                                )
                            });
                        sock.set_read_timeout(Some(wait.max(Duration::from_micros(100))))
                            .unwrap();
                        match sock.recv_from(&mut rbuf) {
                            Ok((n, from)) => session
                                .handle_datagram(now(), Datagram::new(from, local, &rbuf[..n])),
                            Err(_) => session.handle_timeout(now()),
                        }
                    }
                }));
            }
        }
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn fleet_downloads_bit_exact() {
        let file: Arc<Vec<u8>> = Arc::new((0..700_000u32).map(|i| (i * 31 % 253) as u8).collect());
        let listen = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = listen.local_addr().unwrap();
        let f2 = Arc::clone(&file);
        let server = std::thread::spawn(move || serve(listen, f2, 20));
        let plan = Plan {
            server: addr,
            filename: "f.bin",
            clients: 20,
            blksize: 1468,
            windowsize: 8,
            deadline: Duration::from_secs(60),
            threads: 3,
        };
        let results = run(&plan, &file, &mut |_| {}).unwrap();
        server.join().unwrap();
        assert_eq!(results.len(), 20);
        assert!(results.iter().all(|r| r.exact), "{results:?}");
        // A wrong expectation is caught.
        let mut other = (*file).clone();
        other[123_456] ^= 1;
        let listen = UdpSocket::bind("127.0.0.1:0").unwrap();
        let plan = Plan {
            server: listen.local_addr().unwrap(),
            clients: 2,
            ..plan
        };
        let f3 = Arc::clone(&file);
        let server = std::thread::spawn(move || serve(listen, f3, 2));
        let results = run(&plan, &other, &mut |_| {}).unwrap();
        server.join().unwrap();
        assert!(results.iter().all(|r| !r.exact));
    }
}
