//! A TFTP download (`pxe get`): a [`pxe_tftp::Client`] driven over a UDP socket, with GRO
//! receive batching, its bytes written to a file by position or streamed in order.

use std::fs::File;
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use pxe_proto::{Datagram, Destination, SansIo};
use pxe_tftp::{Client, ClientConfig, ClientEvent, ErrorCode, Outcome, TransferStats};

use super::{clock, net};
use crate::error::Error;

/// Where downloaded bytes go.
#[non_exhaustive]
pub enum Target {
    /// A file, written by position.
    File(File),
    /// A stream (stdout), written in order.
    Stream(Box<dyn Write>),
}

/// What a download reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// The server announced the size (`tsize`, RFC 2349).
    Size(u64),
    /// Bytes received so far (in order).
    Bytes(u64),
}

/// How a download ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Downloaded {
    /// The client's outcome (`Completed` when every byte arrived).
    pub outcome: Option<Outcome>,
    /// The client's counters.
    pub stats: TransferStats,
    /// From the request to the last byte (the dally after it is not counted).
    pub elapsed: Duration,
}

/// Downloads `name` from `server` into `target`, reporting to `progress`. Write errors abort
/// the transfer (ERROR 3 to the server) and are returned; protocol failures are in
/// [`Downloaded::outcome`].
pub fn download(
    server: SocketAddr,
    name: &[u8],
    config: ClientConfig,
    target: Target,
    mut progress: impl FnMut(Progress),
) -> Result<Downloaded, Error> {
    let mut sink = Writer::new(target);
    let socket = net::client_socket(server).map_err(|e| Error::io("open a UDP socket", e))?;
    let mut receiver = net::GroReceiver::new(&socket);
    let started = Instant::now();
    let mut client = Client::new(clock::now(), server, name, config)
        .map_err(|e| Error::Tftp(format!("bad request: {e}")))?;
    let done = drive(
        &socket,
        &mut receiver,
        &mut client,
        &mut sink,
        &mut progress,
    )?;
    sink.flush().map_err(|e| Error::io("write output", e))?;
    Ok(Downloaded {
        outcome: client.outcome().cloned(),
        stats: client.stats().clone(),
        elapsed: done.duration_since(started),
    })
}

/// Bytes gathered before one `pwrite`: the client hands out a block at a time, and a syscall
/// per 1468-byte block would cost more than the network receive.
const WRITE_BUFFER: usize = 1 << 20;

/// Coalesces contiguous blocks into large writes.
struct Writer {
    sink: Target,
    pending: Vec<u8>,
    pending_offset: u64,
}

impl Writer {
    fn new(sink: Target) -> Self {
        Self {
            sink,
            pending: Vec::with_capacity(WRITE_BUFFER),
            pending_offset: 0,
        }
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let contiguous = offset == self.pending_offset + self.pending.len() as u64;
        if !contiguous || self.pending.len() + bytes.len() > WRITE_BUFFER {
            self.flush()?;
            self.pending_offset = offset;
        }
        if bytes.len() >= WRITE_BUFFER {
            return self.raw_write(offset, bytes);
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let r = self.raw_write(self.pending_offset, &pending);
            self.pending_offset += pending.len() as u64;
            self.pending = pending;
            self.pending.clear();
            r?;
        }
        if let Target::Stream(s) = &mut self.sink {
            s.flush()?;
        }
        Ok(())
    }

    fn raw_write(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Target::File(f) => f.write_all_at(bytes, offset),
            // The client hands bytes out in order, so stdout can simply be appended to.
            Target::Stream(s) => s.write_all(bytes),
        }
    }
}

fn drive(
    socket: &UdpSocket,
    receiver: &mut net::GroReceiver,
    client: &mut Client,
    sink: &mut Writer,
    progress: &mut impl FnMut(Progress),
) -> Result<Instant, Error> {
    let local = socket
        .local_addr()
        .map_err(|e| Error::io("local address", e))?;
    let mut out = vec![0u8; 2048];
    let mut read_timeout: Option<Duration> = None;
    let mut last_data = None;
    loop {
        let now = clock::now();
        while let Some(ev) = client.poll_event() {
            match ev {
                ClientEvent::Negotiated(n) => {
                    if let Some(t) = n.tsize {
                        progress(Progress::Size(t));
                    }
                }
                ClientEvent::Finished(_) => {}
                // Events a newer core adds: nothing to do for them here.
                _ => {}
            }
        }
        let mut failed = None;
        while let Some((offset, bytes)) = client.poll_data() {
            if let Err(e) = sink.write_at(offset, bytes) {
                failed = Some(e);
                break;
            }
            progress(Progress::Bytes(offset + bytes.len() as u64));
            // The last bytes' arrival ends the transfer; the dally after it is not timed.
            last_data = Some(Instant::now());
        }
        if let Some(e) = failed {
            client.abort(now, ErrorCode::DiskFull, "client cannot write");
            return Err(Error::io("write output", e));
        }
        while let Some(t) = client.poll_transmit(now, &mut out) {
            if let Destination::Unicast(to) = t.destination {
                match socket.send_to(&out[..t.len], to) {
                    Ok(_) => {}
                    // A firewall drop, a full queue, an ICMP error for an earlier datagram:
                    // loss, which the client's retransmission timer deals with.
                    Err(e) if net::is_transient(&e) => {}
                    Err(e) => return Err(Error::io(format!("send to {to}"), e)),
                }
            }
        }
        if client.is_finished() {
            return Ok(last_data.unwrap_or_else(Instant::now));
        }
        let wait = client
            .poll_timeout()
            .map_or(Duration::from_secs(1), |d| d.saturating_duration_since(now));
        if wait.is_zero() {
            client.handle_timeout(now);
            continue;
        }
        if read_timeout.is_none_or(|t| t > wait + wait / 4 || t < wait / 2) {
            socket
                .set_read_timeout(Some(wait))
                .map_err(|e| Error::io("set timeout", e))?;
            read_timeout = Some(wait);
        }
        match receiver.recv(socket) {
            Ok(batch) => {
                let now = clock::now();
                for d in batch.datagrams() {
                    client.handle_datagram(now, Datagram::new(batch.from, local, d));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                client.handle_timeout(clock::now());
            }
            Err(e) if net::is_transient(&e) => {}
            Err(e) => return Err(Error::io("receive", e)),
        }
    }
}
