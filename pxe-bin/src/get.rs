//! `pxe get tftp://HOST[:PORT]/PATH`: the reference client, driving [`pxe_tftp::Client`] over
//! one UDP socket. A progress bar on a terminal, a one-line summary otherwise.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use pxe_proto::{Datagram, Destination, SansIo};
use pxe_tftp::{Client, ClientConfig, ClientEvent, ErrorCode, Outcome};

use crate::cli::GetArgs;
use crate::error::Error;
use pxe_server::tftp::{clock, net, transfer::mib_per_s};

/// Bytes gathered before one `pwrite`: the client hands out a block at a time, and a syscall
/// per 1468-byte block would cost more than the network receive.
const WRITE_BUFFER: usize = 1 << 20;

/// Where the bytes go.
enum Sink {
    File(File, PathBuf),
    Stdout(io::StdoutLock<'static>),
}

/// Coalesces contiguous blocks into large writes.
struct Writer {
    sink: Sink,
    pending: Vec<u8>,
    pending_offset: u64,
}

impl Writer {
    fn new(sink: Sink) -> Self {
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
        if let Sink::Stdout(s) = &mut self.sink {
            s.flush()?;
        }
        Ok(())
    }

    fn raw_write(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::File(f, _) => f.write_all_at(bytes, offset),
            // The client hands bytes out in order, so stdout can simply be appended to.
            Sink::Stdout(s) => s.write_all(bytes),
        }
    }
}

/// Runs `pxe get`.
pub fn run(args: &GetArgs) -> Result<ExitCode, Error> {
    let server = resolve(&args.url.host, args.url.port)?;
    let mut config = ClientConfig {
        dally: Duration::from_millis(args.dally),
        ..ClientConfig::default()
    };
    if let Some(b) = args.blksize {
        config = config.option("blksize", &b.to_string());
    }
    if let Some(w) = args.windowsize {
        config = config.option("windowsize", &w.to_string());
    }
    if args.tsize {
        config = config.option("tsize", "0");
    }
    let mut sink = Writer::new(open_sink(args)?);
    let socket = net::client_socket(server).map_err(|e| Error::io("open a UDP socket", e))?;
    let mut receiver = net::GroReceiver::new(&socket);
    let started = std::time::Instant::now();
    let mut client = Client::new(clock::now(), server, args.url.path.as_bytes(), config)
        .map_err(|e| Error::Tftp(format!("bad request: {e}")))?;
    let bar = progress_bar();
    let result = drive(&socket, &mut receiver, &mut client, &mut sink, bar.as_ref());
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let done = result?;
    sink.flush().map_err(|e| Error::io("write output", e))?;
    let elapsed = done.duration_since(started);
    let st = client.stats();
    match client.outcome() {
        Some(Outcome::Completed) => {
            eprintln!(
                "{} bytes in {:.2} s ({:.1} MiB/s), blksize {}, windowsize {}, {} retransmits",
                st.bytes,
                elapsed.as_secs_f64(),
                mib_per_s(st.bytes, elapsed),
                st.blksize,
                st.windowsize,
                st.retransmits + st.timeouts,
            );
            Ok(ExitCode::SUCCESS)
        }
        other => {
            if let Sink::File(_, path) = &sink.sink {
                let _ = std::fs::remove_file(path);
            }
            let why = match other {
                Some(Outcome::Failed(e)) => e.to_string(),
                Some(o) => format!("{o:?}"),
                None => "unfinished".to_owned(),
            };
            Err(Error::Tftp(format!("{}: {why}", args.url)))
        }
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, Error> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::io(format!("resolve {host}"), e))?
        .next()
        .ok_or_else(|| Error::Usage(format!("{host}: no address")))
}

fn open_sink(args: &GetArgs) -> Result<Sink, Error> {
    let path = match &args.output {
        Some(p) if p.as_os_str() == "-" => return Ok(Sink::Stdout(io::stdout().lock())),
        Some(p) => p.clone(),
        None => {
            let name = Path::new(&args.url.path)
                .file_name()
                .ok_or_else(|| Error::Usage(format!("{}: no file name; use -o FILE", args.url)))?;
            PathBuf::from(name)
        }
    };
    let file =
        File::create(&path).map_err(|e| Error::io(format!("create {}", path.display()), e))?;
    Ok(Sink::File(file, path))
}

fn progress_bar() -> Option<ProgressBar> {
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {bytes_per_sec} {wide_bar} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
}

fn drive(
    socket: &UdpSocket,
    receiver: &mut net::GroReceiver,
    client: &mut Client,
    sink: &mut Writer,
    bar: Option<&ProgressBar>,
) -> Result<std::time::Instant, Error> {
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
                    if let (Some(t), Some(b)) = (n.tsize, bar) {
                        b.set_length(t);
                    }
                }
                ClientEvent::Finished(_) => {}
            }
        }
        let mut failed = None;
        while let Some((offset, bytes)) = client.poll_data() {
            if let Err(e) = sink.write_at(offset, bytes) {
                failed = Some(e);
                break;
            }
            if let Some(b) = bar {
                b.set_position(offset + bytes.len() as u64);
            }
            // The last bytes' arrival ends the transfer; the dally after it is not timed.
            last_data = Some(std::time::Instant::now());
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
            return Ok(last_data.unwrap_or_else(std::time::Instant::now));
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
