//! HTTP peer comparison on loopback: `pxe serve --http` against nginx, configured the way people
//! put it in front of big boot images (`sendfile`, `tcp_nopush`, one worker per CPU, keep-alive,
//! no access log, an open-file cache), both serving the same random file from the same
//! directory, fetched by HTTP/1.1 clients in this process (std `TcpStream`, one thread each,
//! one reused read buffer each). Cases:
//!
//! - `single`: one client GETs the whole file.
//! - `concurrent`: `--clients` (50) clients start together, each GETs the whole file.
//! - `ranges`: iPXE `sanboot` over HTTP. iPXE reads an HTTP SAN disk in 512-byte blocks, one
//!   `Range: bytes=a-b` GET per block-device read on a pooled keep-alive connection, after a
//!   HEAD for the size (iPXE src/net/tcp/httpblock.c, `HTTP_BLKSIZE`; src/net/tcp/httpcore.c
//!   reports `max_count = -1U`, so a read is never split). Each read is one INT 13h call of
//!   the booting loader, whose extended read asks for at most 0x7f sectors (iPXE
//!   src/arch/x86/interface/pcbios/int13.c, `int13_extended_rw`), and iPXE waits for one
//!   command to finish before the next (src/core/sanboot.c, `sandev_command`). So each of
//!   `--range-clients` (8) clients sends a HEAD, then reads `--range-span-mib` (16)
//!   consecutively in `--range-bytes` (127 × 512 = 65 024) requests, one at a time, on one
//!   connection (reopened if the server closes it).
//!
//! nginx listens on a second port too, the same server with `tcp_nopush off`: with TCP_CORK
//! a response that fits in one loopback segment (64 KiB MSS) often sits ~40 ms until the
//! client's delayed ACK, so range reads crawl (~240 requests/s against ~5000 without). The
//! cases in `--nginx-nopush-off-cases` (default: `ranges`) are measured on both ports, and
//! pxe's target ratio is taken against the faster one.
//!
//! `pxe serve` writes one line per HTTP request (its default logging), and the nginx above logs
//! none. So nginx also listens on a third port configured like the second plus `access_log`
//! (the `combined` format, one `write` per request: what Debian's nginx.conf ships). The cases
//! in `--nginx-logged-cases` (default: `ranges`, where a request is 64 KiB and the line's cost
//! shows) are measured there too, and the report adds pxe's ratio against it: like for like.
//!
//! Checked: every byte every client receives is compared with the file (held in memory; a
//! `memcmp` per read, far cheaper than hashing), in every timed run unless `--check first`;
//! a response that is short, has the wrong status, length or `Content-Range`, a client that
//! stalls (`--io-timeout-secs`), or a server that dies fails the whole run. Before the timed
//! runs, one untimed whole-file GET per server and port is hashed with SHA-256 and compared
//! with the digest of what was written (and the memory copy with the file on disk).
//!
//! Measured per (case, server, run): wall-clock throughput (aggregate for many clients),
//! server CPU time per GiB served (a cgroup-v1 `cpuacct` group per server, entered before the
//! server execs, so nginx's workers are counted; `/proc/PID/stat` of the server and its
//! children where cpuacct is missing), and the server's peak RSS (`VmHWM`, reset per case
//! through `/proc/PID/clear_refs`; nginx: master + workers summed). Servers alternate: each
//! run starts with a different one. Nothing is pinned: tftp-compare pins because lock-step
//! UDP wakes the peer once per datagram and only one placement was stable; a TCP stream is
//! not lock-step, and 50 clients must spread over the CPUs.
//!
//! Run as root (cgroups, nginx's `user`): `cargo run --release -p pxe-benches --bin
//! http-compare -- --help`

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pxe_benches::cpu::CpuMeter;
use pxe_benches::{Daemon, loadavg, median, proc_status_kib, sha256_file, write_random_file};
use sha2::{Digest, Sha256};

/// The served file's name in the root.
const FILE: &str = "big.bin";

/// One GiB, for the figures.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

#[derive(Parser, Debug)]
#[command(about = "HTTP peer comparison on loopback: pxe serve --http vs nginx (run as root)")]
struct Args {
    /// Size of the served random file, MiB.
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
    /// Repetitions of every (case, server) pair; each run starts with a different server.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Clients of the `concurrent` case, each downloading the whole file.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Clients of the `ranges` case, each on its own keep-alive connection.
    #[arg(long, default_value_t = 8)]
    range_clients: usize,
    /// Bytes per range request (default: 127 sectors of 512 bytes, the most one INT 13h
    /// extended read asks iPXE for).
    #[arg(long, default_value_t = 65024)]
    range_bytes: u64,
    /// How much each range client reads, MiB (client i starts at i × this, wrapping).
    #[arg(long, default_value_t = 16)]
    range_span_mib: u64,
    /// Cases, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "single,concurrent,ranges"
    )]
    cases: Vec<CaseKind>,
    /// Servers, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "pxe,nginx")]
    servers: Vec<ServerKind>,
    /// The `pxe` binary.
    #[arg(long, default_value = "target/release/pxe")]
    pxe: PathBuf,
    /// The nginx binary.
    #[arg(long, default_value = "/usr/sbin/nginx")]
    nginx: PathBuf,
    /// nginx `worker_processes` (`auto`: one per CPU).
    #[arg(long, default_value = "auto")]
    nginx_workers: String,
    /// Cases measured against nginx's first port, `tcp_nopush on` (comma-separated, `none` for
    /// none): its range reads take ~35 s per run of 8 × 64 MiB (the delayed-ACK stalls below),
    /// so a long range run may leave it out.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "single,concurrent,ranges"
    )]
    nginx_nopush_on_cases: Vec<String>,
    /// Cases also measured against nginx's second port, `tcp_nopush off` (comma-separated,
    /// `none` for none). With `tcp_nopush on` (TCP_CORK), a response smaller than one
    /// loopback segment (64 KiB) often waits ~40 ms for the client's delayed ACK.
    #[arg(long, value_delimiter = ',', default_value = "ranges")]
    nginx_nopush_off_cases: Vec<String>,
    /// Cases also measured against nginx's third port: `tcp_nopush off` plus an access log
    /// (comma-separated, `none` for none), as pxe logs every request.
    #[arg(long, value_delimiter = ',', default_value = "ranges")]
    nginx_logged_cases: Vec<String>,
    /// Where the scratch directory (root, nginx config, logs) is made; it is removed at the
    /// end. tmpfs keeps disk writeback out of the figures.
    #[arg(long, default_value = "/dev/shm")]
    work: PathBuf,
    /// Each client's read buffer, KiB (allocated once, reused for every read).
    #[arg(long, default_value_t = 256)]
    buf_kib: usize,
    /// Which timed runs compare every received byte with the file: `all`, or `first` (run 1
    /// only; later runs count bytes and check lengths and headers).
    #[arg(long, value_enum, default_value = "all")]
    check: Check,
    /// A client waiting longer than this for one read fails the run, seconds.
    #[arg(long, default_value_t = 30)]
    io_timeout_secs: u64,
    /// A case whose clients are not all done after this fails the run, seconds.
    #[arg(long, default_value_t = 600)]
    case_timeout_secs: u64,
    /// Write every measurement as CSV here.
    #[arg(long)]
    csv: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
enum CaseKind {
    /// One client, the whole file.
    Single,
    /// `--clients` clients at once, each the whole file.
    Concurrent,
    /// iPXE-sanboot-like sequential range reads on keep-alive connections.
    Ranges,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
enum ServerKind {
    /// `pxe serve --http`.
    Pxe,
    /// nginx with a generated config.
    Nginx,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Pxe => "pxe",
            ServerKind::Nginx => "nginx",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Check {
    /// Every timed run.
    All,
    /// The first timed run only.
    First,
}

/// A failure of the run, with what and where.
type Res<T> = Result<T, String>;

// ---------------------------------------------------------------------------------------------
// Scratch directory and servers (both cleaned up by Drop, also when a panic unwinds).

/// The scratch directory, removed on drop.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("http-compare: could not remove {}: {e}", self.0.display());
        }
    }
}

/// A running server: stopped by pid (SIGTERM, then SIGKILL) when dropped, and any nginx
/// worker its master left behind is killed by its own pid.
struct Server {
    kind: ServerKind,
    addr: SocketAddr,
    /// nginx's second port: the same, with `tcp_nopush off`.
    alt_addr: Option<SocketAddr>,
    /// nginx's third port: the second plus an access log.
    logged_addr: Option<SocketAddr>,
    daemon: Daemon,
    /// Worker processes seen after start (nginx), for the cleanup.
    workers: Vec<u32>,
    cpu: Option<CpuMeter>,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.daemon.stop();
        for &w in &self.workers {
            // Only if the pid is still one of ours: an nginx whose parent was this master.
            let comm = std::fs::read_to_string(format!("/proc/{w}/comm")).unwrap_or_default();
            if comm.starts_with("nginx")
                && let Ok(pid) = i32::try_from(w)
            {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

impl Server {
    /// The server's processes: its pid and its children (nginx's workers).
    fn pids(&self) -> Vec<u32> {
        let pid = self.daemon.pid();
        let mut all = vec![pid];
        all.extend(children(pid));
        all
    }

    /// `Err` when the server (or, for nginx, a worker) is gone.
    fn check_alive(&mut self) -> Res<()> {
        if let Some(status) = self.daemon.exited() {
            return Err(format!(
                "{} died ({status}); log: {}",
                self.kind.name(),
                tail(&self.log)
            ));
        }
        if let Some(dead) = self
            .workers
            .iter()
            .find(|w| !Path::new(&format!("/proc/{w}")).exists())
        {
            return Err(format!(
                "nginx worker {dead} died; log: {}",
                tail(&self.log)
            ));
        }
        Ok(())
    }

    /// CPU time used so far by the server and its children, ns.
    fn cpu_ns(&self) -> Option<u64> {
        match &self.cpu {
            Some(m) => m.usage_ns().ok(),
            None => self.pids().iter().map(|&p| proc_cpu_ns(p)).sum(),
        }
    }

    /// Resets the peak RSS (`VmHWM`) of every server process to its current RSS.
    fn reset_peak(&self) {
        for p in self.pids() {
            // "5" resets the peak RSS (proc(5), /proc/pid/clear_refs, Linux 4.0+).
            let _ = std::fs::write(format!("/proc/{p}/clear_refs"), "5");
        }
    }

    /// Sum of the server processes' peak RSS since the last reset, KiB.
    fn peak_kib(&self) -> Option<u64> {
        self.pids()
            .iter()
            .map(|&p| proc_status_kib(p, "VmHWM"))
            .sum()
    }
}

/// Children of `pid` (all its threads'), by `/proc/PID/task/TID/children`.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let list = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        out.extend(
            list.split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    out
}

/// utime + stime of one process (`/proc/PID/stat` fields 14 and 15), ns.
fn proc_cpu_ns(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it start past its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Clock ticks of USER_HZ, which the kernel fixes at 100 for /proc (proc(5)).
    Some((utime + stime) * 10_000_000)
}

/// The last lines of a log file, for error messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(5);
    format!("{} [...] {}", path.display(), lines[from..].join(" | "))
}

/// A free TCP port on 127.0.0.1 (bound, read, released; the server binds it next).
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `program args...`, made to enter `meter`'s cgroup before it execs (so children it forks at
/// once are counted too).
fn in_group(meter: Option<&CpuMeter>, program: &Path, args: &[String]) -> Command {
    match meter {
        Some(m) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(r#"echo $$ > "$0" && exec "$@""#)
                .arg(m.procs_file())
                .arg(program)
                .args(args);
            c
        }
        None => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    }
}

/// nginx as people configure it to serve big files fast, in `dir`, serving `root`.
fn nginx_config(dir: &Path, root: &Path, ports: [u16; 3], workers: &str) -> String {
    let [port, alt_port, logged_port] = ports;
    let d = dir.display();
    format!(
        "# Generated by http-compare: nginx tuned for serving big boot images from the page cache.
user www-data;
worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 100000;
    open_file_cache max=1000 inactive=60s;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
    server {{
        listen 127.0.0.1:{alt_port};
        root {root};
        tcp_nopush off;
        location / {{ }}
    }}
    server {{
        listen 127.0.0.1:{logged_port};
        root {root};
        tcp_nopush off;
        access_log {d}/access.log;
        location / {{ }}
    }}
}}
",
        root = root.display()
    )
}

/// Starts one server on a free port and waits until it answers a HEAD for the file.
fn start_server(kind: ServerKind, args: &Args, work: &Path, root: &Path, size: u64) -> Res<Server> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let alt_port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let logged_port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let name = kind.name();
    let log = work.join(format!("{name}.log"));
    let meter = CpuMeter::create(&format!("http-{name}"));
    let (program, argv): (&Path, Vec<String>) = match kind {
        ServerKind::Pxe => (
            &args.pxe,
            vec![
                "serve".into(),
                "--root".into(),
                root.display().to_string(),
                // TFTP comes with `serve`; an ephemeral loopback port keeps it out of the way.
                "--listen".into(),
                "127.0.0.1:0".into(),
                "--http".into(),
                addr.to_string(),
            ],
        ),
        ServerKind::Nginx => {
            let dir = work.join("nginx");
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let conf = dir.join("nginx.conf");
            std::fs::write(
                &conf,
                nginx_config(
                    &dir,
                    root,
                    [port, alt_port, logged_port],
                    &args.nginx_workers,
                ),
            )
            .map_err(|e| format!("{}: {e}", conf.display()))?;
            (
                &args.nginx,
                vec![
                    "-p".into(),
                    dir.display().to_string(),
                    "-e".into(),
                    dir.join("nginx-error.log").display().to_string(),
                    "-c".into(),
                    conf.display().to_string(),
                    "-g".into(),
                    "daemon off;".into(),
                ],
            )
        }
    };
    let cmd = in_group(meter.as_ref(), program, &argv);
    let daemon = Daemon::spawn(name, cmd, &log).map_err(|e| format!("starting {name}: {e}"))?;
    let mut server = Server {
        kind,
        addr,
        alt_addr: (kind == ServerKind::Nginx).then(|| ([127, 0, 0, 1], alt_port).into()),
        logged_addr: (kind == ServerKind::Nginx).then(|| ([127, 0, 0, 1], logged_port).into()),
        daemon,
        workers: Vec::new(),
        cpu: meter,
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        server.check_alive()?;
        match head(addr, Duration::from_secs(2)) {
            Ok(len) if len == size => break,
            Ok(len) => return Err(format!("{name} says the file has {len} bytes, not {size}")),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "{name} not answering on {addr}: {e}; log: {}",
                    tail(&server.log)
                ));
            }
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
    for alt in server.alt_addr.iter().chain(&server.logged_addr) {
        match head(*alt, Duration::from_secs(2)) {
            Ok(len) if len == size => {}
            other => return Err(format!("nginx's port {alt}: {other:?}")),
        }
    }
    if kind == ServerKind::Nginx {
        server.workers = children(server.daemon.pid());
        if server.workers.is_empty() {
            return Err("nginx answers but has no worker processes".into());
        }
    }
    Ok(server)
}

// ---------------------------------------------------------------------------------------------
// The clients.

/// One parsed response head.
#[derive(Debug)]
struct Head {
    status: u16,
    content_length: Option<u64>,
    /// `Content-Range: bytes FIRST-LAST/TOTAL`.
    content_range: Option<(u64, u64, u64)>,
    /// `Connection: close`: the server closes after this response.
    close: bool,
}

fn parse_head(bytes: &[u8]) -> Res<Head> {
    let text = std::str::from_utf8(bytes).map_err(|_| "response head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("bad status line {status_line:?}"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut head = Head {
        status,
        content_length: None,
        content_range: None,
        close: version == "HTTP/1.0",
    };
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                head.content_length = Some(
                    value
                        .parse()
                        .map_err(|_| format!("bad Content-Length {value:?}"))?,
                );
            }
            "content-range" => head.content_range = Some(parse_content_range(value)?),
            "connection" => {
                head.close = value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("close"));
            }
            "transfer-encoding" => {
                return Err(format!("unexpected Transfer-Encoding {value:?}"));
            }
            _ => {}
        }
    }
    Ok(head)
}

fn parse_content_range(value: &str) -> Res<(u64, u64, u64)> {
    let bad = || format!("bad Content-Range {value:?}");
    let rest = value.strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, total) = rest.split_once('/').ok_or_else(bad)?;
    let (first, last) = range.split_once('-').ok_or_else(bad)?;
    Ok((
        first.parse().map_err(|_| bad())?,
        last.parse().map_err(|_| bad())?,
        total.parse().map_err(|_| bad())?,
    ))
}

/// What one client did.
#[derive(Debug, Default, Clone, Copy)]
struct ClientStats {
    /// Body bytes received.
    bytes: u64,
    /// Requests answered.
    requests: u64,
    /// Connections opened beyond the first (the server closed a keep-alive connection).
    reconnects: u64,
}

/// How received bodies are checked.
#[derive(Clone, Copy)]
enum Verify<'a> {
    /// Compared with the file's bytes at their offset.
    Against(&'a [u8]),
    /// Lengths and headers only.
    LengthOnly,
}

/// One HTTP/1.1 connection with its reused buffer.
struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]` (read past a response head).
    start: usize,
    end: usize,
    io_timeout: Duration,
    deadline: Instant,
}

impl Conn {
    fn open(addr: SocketAddr, buf: Vec<u8>, io_timeout: Duration, deadline: Instant) -> Res<Conn> {
        let stream = connect(addr, io_timeout)?;
        Ok(Conn {
            addr,
            stream,
            buf,
            start: 0,
            end: 0,
            io_timeout,
            deadline,
        })
    }

    fn reconnect(&mut self) -> Res<()> {
        self.stream = connect(self.addr, self.io_timeout)?;
        self.start = 0;
        self.end = 0;
        Ok(())
    }

    fn send(&mut self, request: &str) -> Res<()> {
        self.stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("sending the request: {e}"))
    }

    fn read_some(&mut self, at: usize, upto: usize) -> Res<usize> {
        if Instant::now() >= self.deadline {
            return Err("the case's time limit passed".into());
        }
        loop {
            match self.stream.read(&mut self.buf[at..upto]) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(format!("no data for {:?}", self.io_timeout));
                }
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// The next response head; `None` if the server closed the connection before sending
    /// any of it (an idle keep-alive connection it dropped).
    fn read_head(&mut self) -> Res<Option<Head>> {
        loop {
            if let Some(pos) = self.buf[self.start..self.end]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                let head = parse_head(&self.buf[self.start..self.start + pos])?;
                self.start += pos + 4;
                return Ok(Some(head));
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end >= (16 * 1024).min(self.buf.len()) {
                return Err("response head over 16 KiB".into());
            }
            let n = self.read_some(self.end, self.buf.len())?;
            if n == 0 {
                return if self.end == 0 {
                    Ok(None)
                } else {
                    Err("connection closed inside a response head".into())
                };
            }
            self.end += n;
        }
    }

    /// Reads a body of `len` bytes that holds the file from `offset`, checking it; never
    /// reads past it.
    fn read_body(
        &mut self,
        mut offset: u64,
        len: u64,
        verify: Verify<'_>,
        mut hasher: Option<&mut Sha256>,
    ) -> Res<()> {
        let mut left = len;
        while left > 0 {
            let (from, n) = if self.start < self.end {
                let n = (self.end - self.start).min(usize::try_from(left).unwrap_or(usize::MAX));
                let from = self.start;
                self.start += n;
                if self.start == self.end {
                    (self.start, self.end) = (0, 0);
                }
                (from, n)
            } else {
                let upto = self
                    .buf
                    .len()
                    .min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = self.read_some(0, upto)?;
                if n == 0 {
                    return Err(format!(
                        "connection closed after {} of {len} body bytes",
                        len - left
                    ));
                }
                (0, n)
            };
            let got = &self.buf[from..from + n];
            if let Verify::Against(file) = verify {
                let at = usize::try_from(offset).unwrap_or(usize::MAX);
                let want = file.get(at..at.saturating_add(n));
                if want != Some(got) {
                    let first =
                        want.map_or(0, |w| w.iter().zip(got).take_while(|(a, b)| a == b).count());
                    return Err(format!(
                        "NOT BIT-EXACT: byte {} of the file differs",
                        offset + first as u64
                    ));
                }
            }
            if let Some(h) = hasher.as_deref_mut() {
                h.update(got);
            }
            offset += n as u64;
            left -= n as u64;
        }
        Ok(())
    }
}

fn connect(addr: SocketAddr, io_timeout: Duration) -> Res<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, io_timeout)
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(io_timeout))
        .and_then(|()| stream.set_write_timeout(Some(io_timeout)))
        .and_then(|()| stream.set_nodelay(true))
        .map_err(|e| format!("socket options: {e}"))?;
    Ok(stream)
}

/// HEAD of the file: its Content-Length.
fn head(addr: SocketAddr, timeout: Duration) -> Res<u64> {
    let mut c = Conn::open(addr, vec![0; 16 * 1024], timeout, Instant::now() + timeout)?;
    c.send(&format!(
        "HEAD /{FILE} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    ))?;
    let h = c.read_head()?.ok_or("closed before answering HEAD")?;
    if h.status != 200 {
        return Err(format!("HEAD: status {}", h.status));
    }
    h.content_length
        .ok_or_else(|| "HEAD: no Content-Length".into())
}

/// One GET of the whole file on a new connection, as curl sends it.
fn get_whole(
    addr: SocketAddr,
    size: u64,
    verify: Verify<'_>,
    hasher: Option<&mut Sha256>,
    buf: Vec<u8>,
    io_timeout: Duration,
    deadline: Instant,
) -> Res<ClientStats> {
    let mut c = Conn::open(addr, buf, io_timeout, deadline)?;
    c.send(&format!(
        "GET /{FILE} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: pxe-benches/http-compare\r\nAccept: */*\r\n\r\n"
    ))?;
    let h = c.read_head()?.ok_or("closed before answering GET")?;
    if h.status != 200 || h.content_length != Some(size) {
        return Err(format!(
            "GET: status {} Content-Length {:?}, want 200 and {size}",
            h.status, h.content_length
        ));
    }
    c.read_body(0, size, verify, hasher)?;
    Ok(ClientStats {
        bytes: size,
        requests: 1,
        reconnects: 0,
    })
}

/// What a range client reads.
#[derive(Debug, Clone, Copy)]
struct RangePlan {
    first: u64,
    span: u64,
    request: u64,
    size: u64,
}

/// iPXE's HTTP SAN: a HEAD for the capacity, then one ranged GET at a time on a keep-alive
/// connection (reopened when the server closes it), with iPXE's request headers.
fn get_ranges(
    addr: SocketAddr,
    plan: RangePlan,
    verify: Verify<'_>,
    buf: Vec<u8>,
    io_timeout: Duration,
    deadline: Instant,
) -> Res<ClientStats> {
    let mut c = Conn::open(addr, buf, io_timeout, deadline)?;
    let mut stats = ClientStats::default();
    let mut request = String::with_capacity(256);
    let mut at = plan.first;
    let end = plan.first + plan.span;
    // None: the HEAD; then each range in turn.
    let mut range: Option<(u64, u64)> = None;
    loop {
        request.clear();
        let _ = match range {
            None => write!(
                request,
                "HEAD /{FILE} HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1+\r\nHost: {addr}\r\n\r\n"
            ),
            Some((a, b)) => write!(
                request,
                "GET /{FILE} HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1+\r\nHost: {addr}\r\nRange: bytes={a}-{b}\r\n\r\n"
            ),
        };
        c.send(&request)?;
        let h = match c.read_head()? {
            Some(h) => h,
            None => {
                // The server dropped the idle connection: iPXE reopens and asks again.
                stats.reconnects += 1;
                c.reconnect()?;
                c.send(&request)?;
                c.read_head()?.ok_or("closed before answering, twice")?
            }
        };
        stats.requests += 1;
        match range {
            None => {
                if h.status != 200 || h.content_length != Some(plan.size) {
                    return Err(format!(
                        "HEAD: status {} Content-Length {:?}, want 200 and {}",
                        h.status, h.content_length, plan.size
                    ));
                }
            }
            Some((a, b)) => {
                let len = b - a + 1;
                if h.status != 206
                    || h.content_length != Some(len)
                    || h.content_range != Some((a, b, plan.size))
                {
                    return Err(format!(
                        "Range {a}-{b}: status {} Content-Length {:?} Content-Range {:?}",
                        h.status, h.content_length, h.content_range
                    ));
                }
                c.read_body(a, len, verify, None)?;
                stats.bytes += len;
                at = b + 1;
            }
        }
        if at >= end {
            return Ok(stats);
        }
        if h.close {
            stats.reconnects += 1;
            c.reconnect()?;
        }
        range = Some((at, (at + plan.request).min(end) - 1));
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/// One (case, server, run) measurement.
#[derive(Debug, Clone, Copy)]
struct Sample {
    secs: f64,
    /// When the first and the last client had its last byte, seconds from the start: a
    /// server that serves its connections unevenly finishes some early and the rest alone.
    first_done: f64,
    last_done: f64,
    bytes: u64,
    requests: u64,
    reconnects: u64,
    cpu_ns: Option<u64>,
    rss_peak_kib: Option<u64>,
}

impl Sample {
    fn gib_per_s(&self) -> f64 {
        self.bytes as f64 / GIB / self.secs
    }
    fn cpu_ms_per_gib(&self) -> Option<f64> {
        self.cpu_ns
            .map(|ns| ns as f64 / 1e6 / (self.bytes as f64 / GIB))
    }
}

/// Runs one case against one server: all clients start together behind a barrier.
fn measure(
    case: CaseKind,
    server: &mut Server,
    addr: SocketAddr,
    args: &Args,
    file: &Arc<Vec<u8>>,
    check_bytes: bool,
) -> Res<Sample> {
    server.check_alive()?;
    let size = file.len() as u64;
    let n = match case {
        CaseKind::Single => 1,
        CaseKind::Concurrent => args.clients,
        CaseKind::Ranges => args.range_clients,
    };
    let span = (args.range_span_mib * 1024 * 1024).min(size);
    let io_timeout = Duration::from_secs(args.io_timeout_secs);
    server.reset_peak();
    let cpu0 = server.cpu_ns();
    let barrier = Arc::new(Barrier::new(n + 1));
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let barrier = Arc::clone(&barrier);
        let file = Arc::clone(file);
        let buf = vec![0u8; args.buf_kib.max(16) * 1024];
        let case_timeout = Duration::from_secs(args.case_timeout_secs);
        let request = args.range_bytes;
        let h = thread::Builder::new()
            .name(format!("client-{i}"))
            .spawn(move || -> Res<(ClientStats, Instant)> {
                barrier.wait();
                let deadline = Instant::now() + case_timeout;
                let verify = if check_bytes {
                    Verify::Against(&file[..])
                } else {
                    Verify::LengthOnly
                };
                let stats = match case {
                    CaseKind::Single | CaseKind::Concurrent => {
                        get_whole(addr, size, verify, None, buf, io_timeout, deadline)
                    }
                    CaseKind::Ranges => {
                        // Client i reads its own stretch (i × span, wrapping), 512-aligned.
                        let room = (size - span).max(1);
                        let first = (i as u64 * span) % room / 512 * 512;
                        let plan = RangePlan {
                            first,
                            span,
                            request,
                            size,
                        };
                        get_ranges(addr, plan, verify, buf, io_timeout, deadline)
                    }
                };
                stats.map(|s| (s, Instant::now()))
            })
            .map_err(|e| format!("spawning client {i}: {e}"))?;
        handles.push(h);
    }
    barrier.wait();
    let t0 = Instant::now();
    let mut total = ClientStats::default();
    let mut errors = Vec::new();
    let mut dones = Vec::with_capacity(n);
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(Ok((s, done))) => {
                dones.push(done.saturating_duration_since(t0).as_secs_f64());
                total.bytes += s.bytes;
                total.requests += s.requests;
                total.reconnects += s.reconnects;
            }
            Ok(Err(e)) => errors.push(format!("client {i}: {e}")),
            Err(_) => errors.push(format!("client {i}: panicked")),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu1 = server.cpu_ns();
    let rss_peak_kib = server.peak_kib();
    server.check_alive()?;
    if !errors.is_empty() {
        return Err(format!(
            "{} of {n} clients failed against {} on {addr}: {}",
            errors.len(),
            server.kind.name(),
            errors.join("; ")
        ));
    }
    dones.sort_by(f64::total_cmp);
    Ok(Sample {
        secs,
        first_done: dones.first().copied().unwrap_or(secs),
        last_done: dones.last().copied().unwrap_or(secs),
        bytes: total.bytes,
        requests: total.requests,
        reconnects: total.reconnects,
        cpu_ns: cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a)),
        rss_peak_kib,
    })
}

/// The untimed check: one whole-file GET hashed with SHA-256.
fn sha_check(
    server: &Server,
    addr: SocketAddr,
    size: u64,
    want: &[u8; 32],
    args: &Args,
) -> Res<()> {
    let mut hasher = Sha256::new();
    get_whole(
        addr,
        size,
        Verify::LengthOnly,
        Some(&mut hasher),
        vec![0; args.buf_kib.max(16) * 1024],
        Duration::from_secs(args.io_timeout_secs),
        Instant::now() + Duration::from_secs(args.case_timeout_secs),
    )?;
    let got: [u8; 32] = hasher.finalize().into();
    if &got != want {
        return Err(format!(
            "NOT BIT-EXACT: {} on {addr} sent a file with SHA-256 {}, want {}",
            server.kind.name(),
            hex::encode(got),
            hex::encode(want)
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Report.

fn case_label(case: CaseKind, args: &Args) -> String {
    match case {
        CaseKind::Single => "1 client, whole file".into(),
        CaseKind::Concurrent => format!("{} clients, whole file each", args.clients),
        CaseKind::Ranges => format!(
            "{} clients × {} MiB in {}-byte ranges",
            args.range_clients, args.range_span_mib, args.range_bytes
        ),
    }
}

/// `median (min–max)` with `digits` decimals.
fn spread(values: &[f64], digits: usize) -> String {
    let mut v = values.to_vec();
    let Some(m) = median(&mut v) else {
        return "-".into();
    };
    let (lo, hi) = (v[0], v[v.len() - 1]);
    format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
}

fn med(values: &[f64]) -> Option<f64> {
    median(&mut values.to_vec())
}

fn version(program: &Path, arg: &str) -> String {
    Command::new(program)
        .arg(arg)
        .output()
        .map(|o| {
            let text = [o.stdout, o.stderr].concat();
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("?")
                .trim()
                .to_owned()
        })
        .unwrap_or_else(|e| format!("? ({e})"))
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("http-compare: FAILED: {e}");
        std::process::exit(1);
    }
}

/// What the clients of a case talk to: one server on one of its ports.
struct Peer {
    label: String,
    /// Index into the servers.
    server: usize,
    addr: SocketAddr,
    nginx: bool,
    /// nginx's port with an access log, pxe's like-for-like peer.
    logged: bool,
    /// The cases measured against it.
    cases: Vec<CaseKind>,
}

/// `--nginx-nopush-off-cases`: case names, or `none`.
fn parse_cases(names: &[String]) -> Res<Vec<CaseKind>> {
    names
        .iter()
        .filter(|n| !n.is_empty() && n.as_str() != "none")
        .map(|n| CaseKind::from_str(n, true).map_err(|e| format!("case {n:?}: {e}")))
        .collect()
}

fn run(args: &Args) -> Res<()> {
    if args.runs == 0 || args.clients == 0 || args.range_clients == 0 || args.range_bytes == 0 {
        return Err(
            "--runs, --clients, --range-clients and --range-bytes must be at least 1".into(),
        );
    }
    let nopush_on_cases = parse_cases(&args.nginx_nopush_on_cases)?;
    let nopush_off_cases = parse_cases(&args.nginx_nopush_off_cases)?;
    let logged_cases = parse_cases(&args.nginx_logged_cases)?;
    let load_start = loadavg();
    eprintln!("load average at start: {load_start}");
    let work = WorkDir(
        args.work
            .join(format!("pxe-http-compare.{}", std::process::id())),
    );
    let root = work.0.join("root");
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    // nginx's workers run as www-data and pxe serves only world-readable files.
    for dir in [&work.0, &root] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let path = root.join(FILE);
    let size = args.size_mib * 1024 * 1024;
    eprintln!(
        "writing {} MiB of random data to {}",
        args.size_mib,
        path.display()
    );
    let digest =
        write_random_file(&path, size, 7).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let file = Arc::new(std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?);
    if <[u8; 32]>::from(Sha256::digest(&file[..])) != digest
        || sha256_file(&path).map_err(|e| e.to_string())? != digest
    {
        return Err("the file read back differs from what was written".into());
    }

    // Declared after `work`, so dropped (servers killed) before the directory goes.
    let mut servers = Vec::new();
    let mut peers = Vec::new();
    for &kind in &args.servers {
        let s = start_server(kind, args, &work.0, &root, size)?;
        eprintln!(
            "{}: pid {} on {}{} (workers {:?}, CPU via {})",
            kind.name(),
            s.daemon.pid(),
            s.addr,
            s.alt_addr
                .map_or(String::new(), |a| format!(" and {a} (tcp_nopush off)")),
            s.workers,
            if s.cpu.is_some() {
                "cpuacct cgroup"
            } else {
                "/proc/PID/stat"
            }
        );
        let nginx = kind == ServerKind::Nginx;
        peers.push(Peer {
            label: kind.name().into(),
            server: servers.len(),
            addr: s.addr,
            nginx,
            logged: false,
            cases: args
                .cases
                .iter()
                .copied()
                .filter(|c| !nginx || nopush_on_cases.contains(c))
                .collect(),
        });
        let alt_cases: Vec<CaseKind> = args
            .cases
            .iter()
            .copied()
            .filter(|c| nopush_off_cases.contains(c))
            .collect();
        if let (Some(alt), false) = (s.alt_addr, alt_cases.is_empty()) {
            peers.push(Peer {
                label: "nginx, tcp_nopush off".into(),
                server: servers.len(),
                addr: alt,
                nginx: true,
                logged: false,
                cases: alt_cases,
            });
        }
        let logged: Vec<CaseKind> = args
            .cases
            .iter()
            .copied()
            .filter(|c| logged_cases.contains(c))
            .collect();
        if let (Some(addr), false) = (s.logged_addr, logged.is_empty()) {
            peers.push(Peer {
                label: "nginx, tcp_nopush off, access_log".into(),
                server: servers.len(),
                addr,
                nginx: true,
                logged: true,
                cases: logged,
            });
        }
        servers.push(s);
    }
    for p in &peers {
        let t = Instant::now();
        if let Err(e) = sha_check(&servers[p.server], p.addr, size, &digest, args) {
            servers[p.server].check_alive()?;
            return Err(format!("SHA-256 download from {}: {e}", p.label));
        }
        eprintln!(
            "SHA-256 check: {} sent the whole file bit-exact ({:.2} s, untimed)",
            p.label,
            t.elapsed().as_secs_f64()
        );
    }

    // (case, peer) -> one sample per run.
    let mut samples: BTreeMap<(CaseKind, usize), Vec<Sample>> = BTreeMap::new();
    let mut csv = String::from(
        "run,case,server,seconds,first_done_s,last_done_s,bytes,gib_per_s,requests,reconnects,server_cpu_ms,rss_peak_kib,bytes_checked\n",
    );
    for run in 0..args.runs {
        let check_bytes = args.check == Check::All || run == 0;
        for &case in &args.cases {
            let active: Vec<usize> = (0..peers.len())
                .filter(|&i| peers[i].cases.contains(&case))
                .collect();
            // Alternate: each run starts with a different peer.
            for k in 0..active.len() {
                let pi = active[(k + run) % active.len()];
                let p = &peers[pi];
                let sample = measure(
                    case,
                    &mut servers[p.server],
                    p.addr,
                    args,
                    &file,
                    check_bytes,
                )
                .map_err(|e| format!("run {} case {case:?}: {e}", run + 1))?;
                let line = format!(
                    "{},{case:?},\"{}\",{:.3},{:.3},{:.3},{},{:.3},{},{},{},{},{check_bytes}\n",
                    run + 1,
                    p.label,
                    sample.secs,
                    sample.first_done,
                    sample.last_done,
                    sample.bytes,
                    sample.gib_per_s(),
                    sample.requests,
                    sample.reconnects,
                    sample
                        .cpu_ns
                        .map_or(String::new(), |n| format!("{:.1}", n as f64 / 1e6)),
                    sample.rss_peak_kib.map_or(String::new(), |k| k.to_string()),
                );
                eprint!("{line}");
                csv.push_str(&line);
                samples.entry((case, pi)).or_default().push(sample);
            }
        }
    }
    let load_end = loadavg();
    eprintln!("load average at end: {load_end}");
    let logs: Vec<String> = servers
        .iter()
        .map(|s| {
            let kib = std::fs::metadata(&s.log).map_or(0, |m| m.len()) / 1024;
            format!("{} {kib} KiB", s.kind.name())
        })
        .collect();
    drop(servers);
    if let Some(p) = &args.csv {
        std::fs::write(p, &csv).map_err(|e| format!("{}: {e}", p.display()))?;
    }

    print!(
        "{}",
        report(args, &peers, &samples, &load_start, &load_end, &logs)
    );
    Ok(())
}

/// The markdown report.
fn report(
    args: &Args,
    peers: &[Peer],
    samples: &BTreeMap<(CaseKind, usize), Vec<Sample>>,
    load_start: &str,
    load_end: &str,
    logs: &[String],
) -> String {
    let mut t = String::new();
    let pxe_v = version(&args.pxe, "--version");
    let nginx_v = version(&args.nginx, "-v");
    let _ = writeln!(
        t,
        "HTTP on 127.0.0.1: {} MiB random file, {} runs (servers alternate), median (min–max)\n",
        args.size_mib, args.runs
    );
    let _ = writeln!(
        t,
        "- load average at start: {load_start}; at end: {load_end}"
    );
    let _ = writeln!(
        t,
        "- pxe: `{pxe_v}`, `pxe serve --root DIR --http 127.0.0.1:PORT` (default logging)"
    );
    let _ = writeln!(
        t,
        "- nginx: `{nginx_v}`, worker_processes {}, sendfile on, tcp_nopush on, tcp_nodelay on, keepalive_requests 100000, open_file_cache, access_log off; `nginx, tcp_nopush off`: the same nginx on a second port without tcp_nopush; `nginx, tcp_nopush off, access_log`: a third port, the second plus `access_log` (combined format, one line per request, as pxe's default logging writes)",
        args.nginx_workers
    );
    let checked = match args.check {
        Check::All => "every byte of every response in every run compared with the file",
        Check::First => {
            "every byte of every response compared with the file in run 1; lengths and headers after"
        }
    };
    let _ = writeln!(
        t,
        "- checked: {checked}; plus one untimed whole-file GET per server and port, SHA-256 equal"
    );
    let _ = writeln!(
        t,
        "- clients: threads in the harness, HTTP/1.1 over std TcpStream, {} KiB read buffer each, nothing pinned",
        args.buf_kib
    );
    let _ = writeln!(t, "- server logs: {}\n", logs.join(", "));

    let get = |case, pi: usize| samples.get(&(case, pi)).map_or(&[][..], Vec::as_slice);
    let thr = |s: &Sample| Some(s.gib_per_s());
    let cpu = |s: &Sample| s.cpu_ms_per_gib();
    let pxe = peers.iter().position(|p| !p.nginx);
    // The nginx peer with the highest median throughput in a case: the bar for the target.
    let best_nginx = |case| {
        (0..peers.len())
            .filter(|&i| peers[i].nginx && !peers[i].logged)
            .filter_map(|i| {
                med(&get(case, i).iter().filter_map(thr).collect::<Vec<_>>()).map(|m| (i, m))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    };
    let header = |t: &mut String, last: &str| {
        let _ = write!(t, "| case |");
        for p in peers {
            let _ = write!(t, " {} |", p.label);
        }
        let _ = writeln!(t, "{last}");
        let _ = writeln!(
            t,
            "|---|{}{}",
            "---|".repeat(peers.len()),
            if last.is_empty() { "" } else { "---|" }
        );
    };
    let x = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.2}×"));

    let _ = writeln!(t, "throughput, GiB/s (aggregate over the case's clients)\n");
    header(&mut t, " pxe / best nginx |");
    for &case in &args.cases {
        let _ = write!(t, "| {} |", case_label(case, args));
        for pi in 0..peers.len() {
            let v: Vec<f64> = get(case, pi).iter().filter_map(thr).collect();
            let _ = write!(t, " {} |", spread(&v, 2));
        }
        let r = pxe
            .zip(best_nginx(case))
            .and_then(|(p, n)| ratio(get(case, p), get(case, n), thr));
        let _ = writeln!(t, " {} |", x(r));
    }

    let _ = writeln!(
        t,
        "\nserver CPU time per GiB served, ms (nginx: master + workers)\n"
    );
    header(&mut t, " best nginx / pxe |");
    for &case in &args.cases {
        let _ = write!(t, "| {} |", case_label(case, args));
        for pi in 0..peers.len() {
            let v: Vec<f64> = get(case, pi).iter().filter_map(cpu).collect();
            let _ = write!(t, " {} |", spread(&v, 0));
        }
        let r = pxe
            .zip(best_nginx(case))
            .and_then(|(p, n)| ratio(get(case, n), get(case, p), cpu));
        let _ = writeln!(t, " {} |", x(r));
    }

    let _ = writeln!(
        t,
        "\nserver peak RSS during the case, MiB (VmHWM reset before each case; nginx: master + workers summed)\n"
    );
    header(&mut t, "");
    for &case in &args.cases {
        let _ = write!(t, "| {} |", case_label(case, args));
        for pi in 0..peers.len() {
            let v: Vec<f64> = get(case, pi)
                .iter()
                .filter_map(|s| s.rss_peak_kib.map(|k| k as f64 / 1024.0))
                .collect();
            let _ = write!(t, " {} |", spread(&v, 1));
        }
        let _ = writeln!(t);
    }

    if args.cases.contains(&CaseKind::Concurrent) {
        let _ = writeln!(
            t,
            "\n{} clients: when the first and the last client got its last byte, s (median of runs; an even server finishes them together)\n",
            args.clients
        );
        let _ = writeln!(t, "| server | first done | last done |");
        let _ = writeln!(t, "|---|---|---|");
        for (pi, p) in peers.iter().enumerate() {
            let v = get(CaseKind::Concurrent, pi);
            if v.is_empty() {
                continue;
            }
            let first: Vec<f64> = v.iter().map(|s| s.first_done).collect();
            let last: Vec<f64> = v.iter().map(|s| s.last_done).collect();
            let _ = writeln!(
                t,
                "| {} | {} | {} |",
                p.label,
                spread(&first, 1),
                spread(&last, 1)
            );
        }
    }

    if args.cases.contains(&CaseKind::Ranges) {
        let _ = writeln!(
            t,
            "\nranges: requests answered per second (a HEAD, then ranged GETs one at a time per client), connections reopened (all runs)\n"
        );
        let _ = writeln!(t, "| server | requests/s | requests per run | reopened |");
        let _ = writeln!(t, "|---|---|---|---|");
        for (pi, p) in peers.iter().enumerate() {
            let v = get(CaseKind::Ranges, pi);
            if v.is_empty() {
                continue;
            }
            let rps: Vec<f64> = v.iter().map(|s| s.requests as f64 / s.secs).collect();
            let reconnects: u64 = v.iter().map(|s| s.reconnects).sum();
            let _ = writeln!(
                t,
                "| {} | {} | {} | {reconnects} |",
                p.label,
                spread(&rps, 0),
                v[0].requests
            );
        }
    }

    if let Some(p) = pxe {
        let _ = writeln!(
            t,
            "\ntarget: pxe ≥ 1.0× nginx's throughput at ≤ nginx's CPU per GiB (medians; against the faster silent nginx variant of each case, and where measured against the one logging each request like pxe)\n"
        );
        let _ = writeln!(
            t,
            "| case | nginx variant | throughput pxe / nginx | CPU per GiB nginx / pxe | met? |"
        );
        let _ = writeln!(t, "|---|---|---|---|---|");
        // The faster silent nginx, then (where measured) the one logging every request as pxe
        // does.
        let logged = |case| (0..peers.len()).find(|&i| peers[i].logged && !get(case, i).is_empty());
        for &case in &args.cases {
            for n in best_nginx(case).into_iter().chain(logged(case)) {
                let tr = ratio(get(case, p), get(case, n), thr);
                let cr = ratio(get(case, n), get(case, p), cpu);
                let met = match (tr, cr) {
                    (Some(a), Some(b)) if a >= 1.0 && b >= 1.0 => "met",
                    (Some(_), Some(_)) => "NOT MET",
                    _ => "-",
                };
                let _ = writeln!(
                    t,
                    "| {} | {} | {} | {} | {met} |",
                    case_label(case, args),
                    peers[n].label,
                    x(tr),
                    x(cr)
                );
            }
        }
    }
    t
}

/// median(a) / median(b) of a figure.
fn ratio(a: &[Sample], b: &[Sample], f: impl Fn(&Sample) -> Option<f64>) -> Option<f64> {
    let ma = med(&a.iter().filter_map(&f).collect::<Vec<_>>())?;
    let mb = med(&b.iter().filter_map(&f).collect::<Vec<_>>())?;
    (mb > 0.0).then(|| ma / mb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse() {
        let h = parse_head(
            b"HTTP/1.1 206 Partial Content\r\nContent-Length: 512\r\ncontent-range: bytes 0-511/4096\r\nConnection: keep-alive",
        )
        .unwrap();
        assert_eq!(
            (h.status, h.content_length, h.content_range, h.close),
            (206, Some(512), Some((0, 511, 4096)), false)
        );
        let h = parse_head(b"HTTP/1.1 200 OK\r\nConnection: Close").unwrap();
        assert!(h.close);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked").is_err());
        assert!(parse_head(b"SSH-2.0").is_err());
        assert!(parse_content_range("bytes 1-2").is_err());
    }

    /// A tiny keep-alive range server in a thread: the range client reads it bit-exact, and
    /// a wrong byte is caught.
    #[test]
    fn range_client_checks_bytes() {
        let file: Arc<Vec<u8>> = Arc::new((0..200_000u32).map(|i| (i % 251) as u8).collect());
        for corrupt in [false, true] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let served = Arc::clone(&file);
            let server = thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                let mut req = Vec::new();
                let mut b = [0u8; 1];
                loop {
                    req.clear();
                    while !req.ends_with(b"\r\n\r\n") {
                        if s.read(&mut b).unwrap_or(0) == 0 {
                            return;
                        }
                        req.push(b[0]);
                    }
                    let text = String::from_utf8_lossy(&req).to_string();
                    let len = served.len();
                    if text.starts_with("HEAD") {
                        let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
                        continue;
                    }
                    let r = text
                        .split("bytes=")
                        .nth(1)
                        .unwrap()
                        .split("\r\n")
                        .next()
                        .unwrap();
                    let (a, z) = r.split_once('-').unwrap();
                    let (a, z): (usize, usize) = (a.parse().unwrap(), z.parse().unwrap());
                    let mut body = served[a..=z].to_vec();
                    if corrupt && a > 0 {
                        body[0] ^= 1;
                    }
                    let _ = write!(
                        s,
                        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {a}-{z}/{len}\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(&body);
                }
            });
            let plan = RangePlan {
                first: 0,
                span: 150_000,
                request: 65024,
                size: file.len() as u64,
            };
            let t = Duration::from_secs(10);
            let r = get_ranges(
                addr,
                plan,
                Verify::Against(&file),
                vec![0; 4096],
                t,
                Instant::now() + t,
            );
            if corrupt {
                assert!(r.unwrap_err().contains("NOT BIT-EXACT: byte 65024"));
            } else {
                let s = r.unwrap();
                assert_eq!((s.bytes, s.requests, s.reconnects), (150_000, 4, 0));
            }
            server.join().unwrap();
        }
    }
}
