//! Boot storm: many simulated PXE clients booting at once from one server, `pxe serve` beside
//! dnsmasq (DHCP + TFTP) + nginx (HTTP) in the same run.
//!
//! The network: one Linux bridge (`br0`, MTU 1500) in a switch namespace; the server's
//! namespace and every client's namespace are joined to it by a veth pair each (`eth0` inside,
//! MTU 1500, a unique locally administered MAC per client). All namespaces are created by this
//! program under unique names (`bst<pid>sw`, `bst<pid>srv`, `bst<pid>c<N>`) and deleted on exit,
//! also when it fails or panics ([`Topology`]'s `Drop`); every server process is killed by its
//! pid ([`Daemon`]).
//!
//! Each client is one thread of this process that enters its namespace with `setns(2)` (a
//! thread's network namespace is its own; 200 threads cost far less than 200 processes and their
//! `ip netns exec`). All threads wait at a barrier, then each does what a PXE ROM does:
//!
//! 1. DHCP DORA with `pxe-dhcp`'s wire types: DISCOVER broadcast on `eth0` with option 60
//!    `PXEClient:Arch:00000:UNDI:002001`, 93 (arch 0), 94 (UNDI 2.1), 97 (a UUID), the
//!    BROADCAST flag set (RFC 2131 §4.1: a client that cannot take unicast IP before it has an
//!    address sets it, so both servers broadcast OFFER and ACK), retransmitted after 4, 8, 16,
//!    32 s as PXE ROMs do; then REQUEST, ACK. The offered address is configured on `eth0`.
//! 2. The NBP (file and server from the ACK) over TFTP, lock-step (no windowsize), blksize 1456
//!    and tsize, as iPXE and PXE ROMs ask, with the `pxe-tftp` client core; every byte compared.
//! 3. A big image over HTTP/1.1 (`GET`), every body byte compared with the known content.
//!
//! Reported per server and run: the time until the last client is done, p50/p90/max per
//! phase, the HTTP phase's busy time, aggregate rate and peak concurrency ([`busy_union`]:
//! per-client times compare servers only when their clients reach the phase together, which
//! dnsmasq's dropped DHCP datagrams prevent; `--http-together` makes them), the server's CPU time (utime + stime of all its processes, nginx workers included,
//! from `/proc`) and peak RSS (sum of `VmHWM` of its processes); then the median and spread
//! over `--runs` runs (servers alternate which goes first) and the ratio of the peer's total
//! time to `pxe`'s.
//!
//! Run as root: `cargo run --release -p pxe-benches --bin boot-storm -- --help`

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use nix::sched::{CloneFlags, setns};
use nix::sys::socket::{setsockopt, sockopt};
use pxe_benches::{Daemon, loadavg, median, proc_status_kib, write_random_file};
use pxe_dhcp::pxe::Arch;
use pxe_dhcp::wire::{
    CLIENT_PORT, DhcpOption, Flags, MachineId, MessageType, NetworkInterface, Op, OptionCode,
    Packet, Repr, SERVER_PORT,
};
use pxe_proto::{Datagram, Destination, MacAddr, SansIo};
use pxe_tftp::{Client, ClientConfig, ClientEvent, Outcome};

/// The server's address on the bridge; the pool is the rest of the /16.
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);
const PREFIX: u8 = 16;
const POOL_FIRST: &str = "10.98.1.1";
const POOL_LAST: &str = "10.98.255.254";
const NETMASK: &str = "255.255.0.0";
/// What both servers hand a BIOS PXE ROM (`pxe`'s default rule `pxe-bios`).
const NBP: &str = "undionly.kpxe";
const IMAGE: &str = "boot.img";
const HTTP_PORT: u16 = 80;
/// iPXE's and most ROMs' TFTP block size: 1500 - 20 (IP) - 8 (UDP) - 4 (TFTP) - 12 spare.
const BLKSIZE: u16 = 1456;
const VENDOR_CLASS: &[u8] = b"PXEClient:Arch:00000:UNDI:002001";
/// `/proc/PID/stat` counts CPU time in USER_HZ ticks, 100 per second on every Linux ABI.
const TICKS_PER_SEC: f64 = 100.0;

#[derive(Parser, Debug)]
#[command(about = "boot storm: DHCP + TFTP NBP + HTTP image, pxe vs dnsmasq + nginx (root)")]
struct Args {
    /// Simulated PXE clients, all started at once.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Runs; the servers alternate which goes first.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// NBP size (KiB), fetched over TFTP.
    #[arg(long, default_value_t = 100)]
    nbp_kib: u64,
    /// Image size (MiB), fetched over HTTP.
    #[arg(long, default_value_t = 64)]
    image_mib: u64,
    /// Servers, comma-separated: pxe, dnsmasq+nginx.
    #[arg(long, value_delimiter = ',', default_value = "pxe,dnsmasq+nginx")]
    servers: Vec<String>,
    /// The `pxe` binary (a release build).
    #[arg(long, default_value = "target/release/pxe")]
    pxe: PathBuf,
    /// Scratch directory (server root, configs, logs, lease files).
    #[arg(long, default_value = "/tmp/pxe-boot-storm")]
    work: PathBuf,
    /// A client still busy after this many seconds counts as failed.
    #[arg(long, default_value_t = 180)]
    timeout_secs: u64,
    /// Diagnosis, not a boot storm: every client waits after its NBP until all have it, so
    /// both servers serve the HTTP phase to all clients at once (without it, dnsmasq's
    /// dropped DHCP datagrams split its clients into two waves of downloads).
    #[arg(long)]
    http_together: bool,
}

/// The bridge, the server's namespace and the clients' namespaces; all deleted on drop.
struct Topology {
    sw: String,
    srv: String,
    clients: Vec<String>,
}

impl Topology {
    fn new(n: usize) -> io::Result<Topology> {
        let id = format!("bst{}", std::process::id());
        let topo = Topology {
            sw: format!("{id}sw"),
            srv: format!("{id}srv"),
            clients: (0..n).map(|i| format!("{id}c{i}")).collect(),
        };
        // From here on Drop deletes whatever was made, also when a step fails.
        let mut adds = String::new();
        for ns in topo.all() {
            let _ = writeln!(adds, "netns add {ns}");
        }
        ip_batch(None, &adds)?;
        // No IPv6 on this segment, as on a PXE ROM's: with it, every `eth0` coming up sends
        // router solicitations, MLD reports and DAD probes that the bridge floods to all 200
        // ports (tens of thousands of frames, input-backlog drops) into the first storm.
        // Devices made from here on take the namespace's default.
        thread::scope(|s| {
            let hs: Vec<_> = topo
                .all()
                .map(|ns| {
                    s.spawn(move || {
                        enter(ns)?;
                        for key in ["all", "default"] {
                            std::fs::write(
                                format!("/proc/sys/net/ipv6/conf/{key}/disable_ipv6"),
                                "1",
                            )?;
                        }
                        Ok::<(), io::Error>(())
                    })
                })
                .collect();
            hs.into_iter().try_for_each(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("sysctl thread panicked")))
            })
        })?;
        let mut sw = String::from("link add br0 mtu 1500 type bridge\nlink set br0 up\n");
        let _ = writeln!(
            sw,
            "link add s0 mtu 1500 type veth peer name eth0 mtu 1500 netns {}",
            topo.srv
        );
        sw.push_str("link set s0 master br0 up\n");
        for (i, ns) in topo.clients.iter().enumerate() {
            let _ = writeln!(
                sw,
                "link add c{i} mtu 1500 type veth peer name eth0 mtu 1500 address {} netns {ns}",
                client_mac(i)
            );
            let _ = writeln!(sw, "link set c{i} master br0 up");
        }
        ip_batch(Some(&topo.sw), &sw)?;
        ip_batch(
            Some(&topo.srv),
            &format!("link set lo up\naddr add {SERVER_IP}/{PREFIX} dev eth0\nlink set eth0 up\n"),
        )?;
        Ok(topo)
    }

    fn all(&self) -> impl Iterator<Item = &String> {
        [&self.sw, &self.srv].into_iter().chain(&self.clients)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Deleting a namespace deletes the devices in it (a veth end, and so its peer).
        let mut dels = String::new();
        for ns in self.all() {
            let _ = writeln!(dels, "netns del {ns}");
        }
        // `-force`: go on past a namespace that was never made.
        let _ = ip_batch_force(&dels);
    }
}

fn ip_batch(ns: Option<&str>, lines: &str) -> io::Result<()> {
    let mut c = Command::new("ip");
    if let Some(ns) = ns {
        c.args(["-n", ns]);
    }
    c.args(["-batch", "-"]);
    run_stdin(c, lines)
}

fn ip_batch_force(lines: &str) -> io::Result<()> {
    let mut c = Command::new("ip");
    c.args(["-force", "-batch", "-"]).stderr(Stdio::null());
    run_stdin(c, lines)
}

fn run_stdin(mut c: Command, input: &str) -> io::Result<()> {
    let mut child = c.stdin(Stdio::piped()).spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes())?;
    }
    let st = child.wait()?;
    if st.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{c:?} failed: {st}")))
    }
}

/// Client `i`'s MAC: locally administered, unique per client.
fn client_mac(i: usize) -> String {
    let [_, a, b, c] = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
    format!("02:62:73:{a:02x}:{b:02x}:{c:02x}")
}

fn mac_bytes(i: usize) -> [u8; 6] {
    let [_, a, b, c] = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
    [0x02, 0x62, 0x73, a, b, c]
}

/// Runs `f` on a thread moved into namespace `ns` (setns(2) changes only the calling thread).
fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
    thread::scope(|s| {
        s.spawn(|| {
            enter(ns)?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("thread in the namespace panicked")))
    })
}

fn enter(ns: &str) -> io::Result<()> {
    let f = File::open(format!("/var/run/netns/{ns}"))?;
    setns(&f, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
}

/// One server under test: its processes (all killed by pid on drop).
struct Server {
    daemons: Vec<Daemon>,
}

impl Server {
    /// Every pid of the server: its daemons and their descendants (nginx's workers).
    fn pids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut todo: Vec<u32> = self.daemons.iter().map(Daemon::pid).collect();
        while let Some(pid) = todo.pop() {
            out.push(pid);
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            for t in tasks.flatten() {
                if let Ok(kids) = std::fs::read_to_string(t.path().join("children")) {
                    todo.extend(
                        kids.split_whitespace()
                            .filter_map(|k| k.parse::<u32>().ok()),
                    );
                }
            }
        }
        out
    }

    /// utime + stime of every process (reaped children's too), seconds.
    fn cpu_secs(&self) -> f64 {
        self.pids().into_iter().map(cpu_of).sum()
    }

    /// Time the server's live threads spent runnable but waiting for a CPU (the second field
    /// of `/proc/PID/task/TID/schedstat`), seconds: on a busy machine, how much of the storm
    /// the server was held back by other work rather than by itself.
    fn runq_wait_secs(&self) -> f64 {
        let mut ns = 0u64;
        for pid in self.pids() {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            for t in tasks.flatten() {
                if let Ok(text) = std::fs::read_to_string(t.path().join("schedstat")) {
                    ns += text
                        .split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        }
        ns as f64 / 1e9
    }

    /// Sum of the processes' `VmHWM`, KiB.
    fn hwm_kib(&self) -> u64 {
        self.pids()
            .into_iter()
            .filter_map(|p| proc_status_kib(p, "VmHWM"))
            .sum()
    }

    fn died(&mut self) -> Option<String> {
        self.daemons
            .iter_mut()
            .find_map(|d| d.exited().map(|st| format!("{} exited: {st}", d.name)))
    }
}

fn cpu_of(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the ")" that ends the command name: state is 0, utime 11, stime 12,
    // cutime 13, cstime 14 (proc(5) fields 14-17).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = (11..=14)
        .filter_map(|i| f.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    ticks as f64 / TICKS_PER_SEC
}

/// The server namespace's UDP counters (`/proc/net/snmp`): datagrams dropped because a
/// socket's receive buffer was full, and received in all.
fn udp_counters(topo: &Topology) -> (u64, u64) {
    in_netns(&topo.srv, || {
        // thread-self: /proc/self/net would show the namespace of the process's main thread.
        let text = std::fs::read_to_string("/proc/thread-self/net/snmp")?;
        let mut udp = text.lines().filter(|l| l.starts_with("Udp:"));
        let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
            return Ok((0, 0));
        };
        let get = |key: &str| {
            names
                .split_whitespace()
                .zip(values.split_whitespace())
                .find(|(n, _)| *n == key)
                .and_then(|(_, v)| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok((get("RcvbufErrors"), get("InDatagrams")))
    })
    .unwrap_or((0, 0))
}

/// Packets the kernel dropped because a CPU's input backlog was full (`/proc/net/softnet_stat`
/// column 2, all CPUs; machine-wide). A veth hands every frame, and the bridge every copy of a
/// broadcast, to that backlog.
fn backlog_drops() -> u64 {
    std::fs::read_to_string("/proc/net/softnet_stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
        .sum()
}

fn start_server(kind: &str, args: &Args, topo: &Topology, root: &Path) -> io::Result<Server> {
    let w = &args.work;
    let mut daemons = Vec::new();
    let in_srv = |program: &str| {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &topo.srv, program]);
        c
    };
    match kind {
        "pxe" => {
            let leases = w.join("pxe.leases");
            let _ = std::fs::remove_file(&leases);
            let log = w.join("pxe.log");
            let mut c = in_srv(&args.pxe.to_string_lossy());
            c.args(["serve", "--dhcp", "server", "--interface", "eth0"]);
            c.arg("--dhcp-range")
                .arg(format!("{POOL_FIRST},{POOL_LAST}"));
            c.arg("--leases").arg(&leases).arg("--root").arg(root);
            c.arg("--listen").arg(format!("{SERVER_IP}:69"));
            c.arg("--http").arg(format!("{SERVER_IP}:{HTTP_PORT}"));
            daemons.push(Daemon::spawn("pxe", c, &log)?);
            wait_log(
                &log,
                &["DHCP listening", "TFTP listening", "HTTP listening"],
            )?;
        }
        "dnsmasq+nginx" => {
            let leases = w.join("dnsmasq.leases");
            let _ = std::fs::remove_file(&leases);
            let dlog = w.join("dnsmasq.log");
            let _ = std::fs::remove_file(&dlog);
            let max = (2 * args.clients).max(1000);
            let mut c = in_srv("dnsmasq");
            // The settings an admin would pick for a storm: TFTP's default cap of 50
            // concurrent transfers raised past the fleet; no ping before an offer (`pxe` does
            // not probe either, and dnsmasq would hold every OFFER until its ping timed out);
            // authoritative for the subnet; leases written to a file, as `pxe` writes its own.
            c.args([
                "-k",
                "--port=0",
                "--user=root",
                "--interface=eth0",
                "--bind-interfaces",
            ]);
            c.arg(format!(
                "--dhcp-range={POOL_FIRST},{POOL_LAST},{NETMASK},1h"
            ));
            c.arg(format!("--dhcp-boot={NBP}"));
            c.args(["--dhcp-authoritative", "--no-ping"]);
            c.arg(format!("--dhcp-lease-max={max}"));
            c.arg(format!("--dhcp-leasefile={}", leases.display()));
            c.arg("--enable-tftp");
            c.arg(format!("--tftp-root={}", root.display()));
            c.arg(format!("--tftp-max={max}"));
            c.arg(format!("--log-facility={}", dlog.display()));
            c.arg(format!("--pid-file={}", w.join("dnsmasq.pid").display()));
            daemons.push(Daemon::spawn("dnsmasq", c, &w.join("dnsmasq.out"))?);
            wait_log(&dlog, &["DHCP, IP range", "TFTP root is"])?;
            let conf = w.join("nginx.conf");
            let tmp = w.join("nginx-tmp");
            std::fs::create_dir_all(&tmp)?;
            let t = tmp.display();
            std::fs::write(
                &conf,
                format!(
                    "daemon off;\nmaster_process on;\nworker_processes auto;\n\
                     pid {pid};\nerror_log {err} warn;\n\
                     events {{ worker_connections 4096; }}\n\
                     http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  \
                     keepalive_timeout 65;\n  default_type application/octet-stream;\n  \
                     client_body_temp_path {t}/body;\n  proxy_temp_path {t}/proxy;\n  \
                     fastcgi_temp_path {t}/fastcgi;\n  uwsgi_temp_path {t}/uwsgi;\n  \
                     scgi_temp_path {t}/scgi;\n  \
                     server {{\n    listen {SERVER_IP}:{HTTP_PORT};\n    root {root};\n  }}\n}}\n",
                    pid = w.join("nginx.pid").display(),
                    err = w.join("nginx-error.log").display(),
                    root = root.display(),
                ),
            )?;
            let mut c = in_srv("nginx");
            c.arg("-p").arg(w).arg("-e").arg(w.join("nginx-error.log"));
            c.arg("-c").arg(&conf);
            daemons.push(Daemon::spawn("nginx", c, &w.join("nginx.out"))?);
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown server {other}"),
            ));
        }
    }
    let mut server = Server { daemons };
    // Both answer on the bridge address before the storm starts: TFTP (an ERROR for a
    // missing file) and an HTTP connection, probed from inside the server's namespace.
    let t0 = Instant::now();
    loop {
        if let Some(why) = server.died() {
            return Err(io::Error::other(format!("{kind} at start: {why}")));
        }
        let ready = in_netns(&topo.srv, || Ok(probe_tftp() && probe_http()))?;
        if ready {
            break;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            return Err(io::Error::other(format!("{kind} not ready after 20 s")));
        }
        thread::sleep(Duration::from_millis(100));
    }
    Ok(server)
}

fn probe_tftp() -> bool {
    let Ok(sock) = UdpSocket::bind((SERVER_IP, 0)) else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    let mut rrq = vec![0u8, 1];
    rrq.extend_from_slice(b"boot-storm-probe-missing\0octet\0");
    let mut buf = [0u8; 512];
    sock.send_to(&rrq, (SERVER_IP, 69)).is_ok() && sock.recv_from(&mut buf).is_ok()
}

fn probe_http() -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((SERVER_IP, HTTP_PORT)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn wait_log(log: &Path, needles: &[&str]) -> io::Result<()> {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if needles.iter().all(|n| text.contains(n)) {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err(io::Error::other(format!(
        "{} never said {needles:?}",
        log.display()
    )))
}

/// What one client measured (instants; `None` where it did not get that far).
#[derive(Debug, Clone, Default)]
struct Trace {
    start: Option<Instant>,
    dhcp: Option<Instant>,
    tftp_start: Option<Instant>,
    tftp: Option<Instant>,
    http_start: Option<Instant>,
    http: Option<Instant>,
    dhcp_retransmits: u32,
    tftp_retransmits: u64,
    error: Option<String>,
}

struct Shared {
    nbp: Arc<[u8]>,
    image: Arc<[u8]>,
    deadline: Duration,
    /// Mixed into every xid so runs never reuse one.
    run_nonce: u32,
    /// `--http-together`: every client waits here after its TFTP phase (or its failure).
    http_gate: Option<Barrier>,
}

fn client(i: usize, ns: &str, barrier: &Barrier, sh: &Shared) -> Trace {
    let mut tr = Trace::default();
    let prep = prepare(ns);
    barrier.wait();
    let start = Instant::now();
    tr.start = Some(start);
    let booted = prep.and_then(|sock| boot(i, ns, sock, sh, start, &mut tr));
    if let Some(gate) = &sh.http_gate {
        // Failed clients wait too, or the others would wait for ever.
        gate.wait();
    }
    let fetched = booted.and_then(|server| {
        tr.http_start = Some(Instant::now());
        http(server, &sh.image, start + sh.deadline)?;
        tr.http = Some(Instant::now());
        Ok(())
    });
    if let Err(e) = fetched {
        tr.error = Some(e.to_string());
    }
    tr
}

/// Before the barrier: into the namespace, `eth0` up with no address (left from a run
/// before), the DHCP socket bound.
fn prepare(ns: &str) -> io::Result<UdpSocket> {
    ip_batch(Some(ns), "addr flush dev eth0\nlink set eth0 up\n")?;
    enter(ns)?;
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, CLIENT_PORT))?;
    setsockopt(&sock, sockopt::Broadcast, &true)?;
    // A broadcast to 255.255.255.255 from a socket bound to the device needs no route or
    // address (the kernel's limited-broadcast output path).
    setsockopt(
        &sock,
        sockopt::BindToDevice,
        &std::ffi::OsString::from("eth0"),
    )?;
    // Every client hears every OFFER and ACK (all broadcast): room for them all.
    setsockopt(&sock, sockopt::RcvBufForce, &(4 << 20))?;
    Ok(sock)
}

/// DHCP and the NBP; returns the server the image comes from.
fn boot(
    i: usize,
    ns: &str,
    sock: UdpSocket,
    sh: &Shared,
    start: Instant,
    tr: &mut Trace,
) -> io::Result<Ipv4Addr> {
    let end = start + sh.deadline;
    let ack = dora(i, &sock, sh, start, end, tr)?;
    tr.dhcp = Some(Instant::now());
    drop(sock);
    let prefix = match ack.option(OptionCode::SubnetMask) {
        Some(DhcpOption::SubnetMask(m)) => u32::from(*m).count_ones(),
        _ => u32::from(PREFIX),
    };
    ip_batch(
        Some(ns),
        &format!("addr add {}/{prefix} dev eth0\n", ack.yiaddr),
    )?;
    let server = if ack.siaddr.is_unspecified() {
        ack.server_identifier().unwrap_or(SERVER_IP)
    } else {
        ack.siaddr
    };
    let mut file = match ack.option(OptionCode::BootfileName) {
        Some(DhcpOption::BootfileName(f)) if ack.file.is_empty() => f.clone(),
        _ => ack.file.clone(),
    };
    // A ROM reads the name as a C string: dnsmasq ends option 67 with a NUL.
    if let Some(nul) = file.iter().position(|b| *b == 0) {
        file.truncate(nul);
    }
    if file != NBP.as_bytes() {
        return Err(io::Error::other(format!(
            "boot file {:?}, expected {NBP}",
            String::from_utf8_lossy(&file)
        )));
    }
    tr.tftp_start = Some(Instant::now());
    tftp(ack.yiaddr, server, &file, &sh.nbp, end, tr)?;
    tr.tftp = Some(Instant::now());
    Ok(server)
}

fn dhcp_message(i: usize, xid: u32, secs: u16, kind: MessageType) -> Repr {
    let mac = MacAddr(mac_bytes(i));
    let mut m = Repr::new(Op::BootRequest, xid, mac);
    m.secs = secs;
    m.flags = Flags::default().with_broadcast();
    let mut uuid = [0u8; 16];
    uuid[..6].copy_from_slice(&mac.0);
    // Option order and parameter list of an Intel PXE 2.1 ROM's DISCOVER.
    m.options = vec![
        DhcpOption::MessageType(kind),
        DhcpOption::MaximumMessageSize(1260),
        DhcpOption::ParameterRequestList(
            [
                1u8, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 67, 128, 129, 130, 131,
                132, 133, 134, 135,
            ]
            .into_iter()
            .map(OptionCode::from)
            .collect(),
        ),
        DhcpOption::ClientSystemArchitecture(vec![Arch(0)]),
        DhcpOption::ClientNetworkInterface(NetworkInterface {
            kind: 1,
            major: 2,
            minor: 1,
        }),
        DhcpOption::ClientMachineIdentifier(MachineId::Uuid(uuid)),
        DhcpOption::VendorClassIdentifier(VENDOR_CLASS.to_vec()),
    ];
    m
}

/// DISCOVER → OFFER → REQUEST → ACK; each message resent after 4, 8, 16, 32 s without an
/// answer (PXE 2.1 ROMs' schedule), a NAK starts over. Returns the ACK.
fn dora(
    i: usize,
    sock: &UdpSocket,
    sh: &Shared,
    start: Instant,
    end: Instant,
    tr: &mut Trace,
) -> io::Result<Repr> {
    let xid = u32::from_be_bytes([0x62, 0x73, 0, 0]) ^ sh.run_nonce ^ (i as u32);
    let mac = mac_bytes(i);
    let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT);
    let mut out = vec![0u8; 1500];
    let mut buf = vec![0u8; 2048];
    let mut offer: Option<Repr> = None;
    let mut wait = Duration::from_secs(4);
    let mut sent_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if now >= end {
            return Err(io::Error::other(format!(
                "DHCP: no {} in {:?}",
                if offer.is_some() { "ACK" } else { "OFFER" },
                end - start
            )));
        }
        if sent_at.is_none_or(|t| now >= t + wait) {
            if sent_at.is_some() {
                tr.dhcp_retransmits += 1;
                wait = (wait * 2).min(Duration::from_secs(32));
            }
            let secs = u16::try_from(now.duration_since(start).as_secs()).unwrap_or(u16::MAX);
            let msg = match &offer {
                None => dhcp_message(i, xid, secs, MessageType::Discover),
                Some(o) => {
                    let mut m = dhcp_message(i, xid, secs, MessageType::Request);
                    m.options
                        .insert(1, DhcpOption::RequestedIpAddress(o.yiaddr));
                    if let Some(id) = o.server_identifier() {
                        m.options.insert(2, DhcpOption::ServerIdentifier(id));
                    }
                    m
                }
            };
            let n = msg
                .emit(&mut out)
                .map_err(|e| io::Error::other(e.to_string()))?;
            sock.send_to(&out[..n], to)?;
            sent_at = Some(now);
        }
        let due = sent_at.map_or(now, |t| t + wait).min(end);
        sock.set_read_timeout(Some(
            due.saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        ))?;
        let n = match sock.recv_from(&mut buf) {
            Ok((n, _)) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        // Everyone's replies arrive here (broadcast): ours by xid and chaddr, looked at in
        // the fixed header before any option is parsed (as a ROM's receive filter does).
        let Ok(head) = Packet::new_checked(&buf[..n]) else {
            continue;
        };
        if head.op() != Op::BootReply || head.xid() != xid || head.chaddr()[..6] != mac {
            continue;
        }
        let Ok(reply) = Repr::parse(&head) else {
            continue;
        };
        match (reply.message_type(), &offer) {
            (Some(MessageType::Offer), None) => {
                offer = Some(reply);
                sent_at = None;
                wait = Duration::from_secs(4);
            }
            (Some(MessageType::Ack), Some(_)) => return Ok(reply),
            (Some(MessageType::Nak), Some(_)) => {
                offer = None;
                sent_at = None;
                wait = Duration::from_secs(4);
            }
            _ => {}
        }
    }
}

/// The NBP, lock-step, blksize 1456 + tsize, every byte compared with `want`.
fn tftp(
    me: Ipv4Addr,
    server: Ipv4Addr,
    file: &[u8],
    want: &[u8],
    end: Instant,
    tr: &mut Trace,
) -> io::Result<()> {
    let sock = UdpSocket::bind((me, 0))?;
    let local = sock.local_addr()?;
    let epoch = Instant::now();
    let now = || {
        pxe_proto::Instant::from_micros(
            u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX),
        )
    };
    let config = ClientConfig {
        // A ROM is done when the last block is in; no lingering after the final ACK.
        dally: Duration::ZERO,
        ..ClientConfig::default()
    }
    .option("blksize", &BLKSIZE.to_string())
    .option("tsize", "0");
    let mut c = Client::new(now(), SocketAddr::from((server, 69)), file, config)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut out = vec![0u8; pxe_tftp::wire::MAX_DATAGRAM_LEN];
    let mut buf = vec![0u8; 65536];
    let mut at = 0u64;
    let mut same = true;
    let outcome = loop {
        let t = now();
        while let Some(tx) = c.poll_transmit(t, &mut out) {
            if let Destination::Unicast(to) = tx.destination {
                // A send error is a lost datagram: the client's timer resends it.
                let _ = sock.send_to(&out[..tx.len], to);
            }
        }
        while let Some((offset, bytes)) = c.poll_data() {
            let s = usize::try_from(offset).unwrap_or(usize::MAX);
            same &= offset == at && want.get(s..s.saturating_add(bytes.len())) == Some(bytes);
            at = offset + bytes.len() as u64;
        }
        let mut finished = None;
        while let Some(ev) = c.poll_event() {
            if let ClientEvent::Finished(o) = ev {
                finished = Some(o);
            }
        }
        if let Some(o) = finished.or_else(|| c.is_finished().then(|| c.outcome().cloned())?) {
            break o;
        }
        if Instant::now() >= end {
            return Err(io::Error::other(format!("TFTP: timed out at byte {at}")));
        }
        let t = now();
        let wait = c.poll_timeout().map_or(Duration::from_millis(50), |d| {
            Duration::from_micros(d.as_micros().saturating_sub(t.as_micros()))
        });
        sock.set_read_timeout(Some(wait.max(Duration::from_micros(100))))?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => c.handle_datagram(now(), Datagram::new(from, local, &buf[..n])),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                let t = now();
                if c.poll_timeout().is_some_and(|d| d <= t) {
                    c.handle_timeout(t);
                }
            }
            Err(e) => return Err(e),
        }
    };
    tr.tftp_retransmits = c.stats().retransmits;
    if outcome != Outcome::Completed || !same || at != want.len() as u64 {
        return Err(io::Error::other(format!(
            "TFTP: {outcome:?}, {at} of {} bytes, equal so far: {same}",
            want.len()
        )));
    }
    Ok(())
}

/// `GET /boot.img` over HTTP/1.1; the body must be `want`, byte for byte.
fn http(server: Ipv4Addr, want: &[u8], end: Instant) -> io::Result<()> {
    let mut s = TcpStream::connect_timeout(
        &SocketAddr::from((server, HTTP_PORT)),
        Duration::from_secs(30),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET /{IMAGE} HTTP/1.1\r\nHost: {server}\r\nUser-Agent: iPXE/1.21.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = vec![0u8; 256 << 10];
    let mut have = 0;
    let head_end = loop {
        let n = s.read(&mut buf[have..])?;
        if n == 0 {
            return Err(io::Error::other("HTTP: closed before the headers ended"));
        }
        have += n;
        if let Some(p) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if have >= 16 << 10 {
            return Err(io::Error::other("HTTP: headers over 16 KiB"));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status_ok = head
        .lines()
        .next()
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("200"));
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    if !status_ok || len != Some(want.len()) {
        return Err(io::Error::other(format!(
            "HTTP: {:?}, content-length {len:?} (want {})",
            head.lines().next(),
            want.len()
        )));
    }
    let mut at = have - head_end;
    if buf[head_end..have] != want[..at.min(want.len())] {
        return Err(io::Error::other("HTTP: body differs at its start"));
    }
    while at < want.len() {
        if Instant::now() >= end {
            return Err(io::Error::other(format!("HTTP: timed out at byte {at}")));
        }
        let room = buf.len().min(want.len() - at);
        let n = s.read(&mut buf[..room])?;
        if n == 0 {
            return Err(io::Error::other(format!("HTTP: closed at byte {at}")));
        }
        if buf[..n] != want[at..at + n] {
            return Err(io::Error::other(format!(
                "HTTP: body differs near byte {at}"
            )));
        }
        at += n;
    }
    Ok(())
}

/// One server's figures in one run.
#[derive(Debug, Clone)]
struct RunResult {
    server: String,
    run: usize,
    ok: usize,
    total: f64,
    /// Per phase (DHCP, TFTP, HTTP): seconds of every client that finished it.
    phases: [Vec<f64>; 3],
    /// Seconds during which at least one client was in its HTTP phase (the union of the
    /// clients' HTTP intervals), and the most clients in it at once.
    http_busy: f64,
    http_peak: usize,
    dhcp_retransmits: u32,
    tftp_retransmits: u64,
    /// Datagrams the server's namespace dropped for a full socket receive buffer.
    udp_drops: u64,
    /// Machine-wide input-backlog drops during the storm.
    backlog_drops: u64,
    cpu: f64,
    /// Seconds the server's threads waited for a CPU while runnable.
    runq_wait: f64,
    hwm_kib: u64,
    errors: Vec<String>,
}

/// Nearest-rank percentile of sorted `v`.
fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn storm(
    kind: &str,
    run: usize,
    args: &Args,
    topo: &Topology,
    root: &Path,
    sh: &Arc<Shared>,
) -> io::Result<RunResult> {
    // Same start for every server: no neighbour entries left from the previous one.
    let _ = ip_batch(Some(&topo.srv), "neigh flush dev eth0\n");
    let mut server = start_server(kind, args, topo, root)?;
    let cpu0 = server.cpu_secs();
    let wait0 = server.runq_wait_secs();
    let udp0 = udp_counters(topo);
    let backlog0 = backlog_drops();
    let barrier = Arc::new(Barrier::new(args.clients + 1));
    let mut handles = Vec::with_capacity(args.clients);
    for (i, ns) in topo.clients.iter().enumerate() {
        let (ns, barrier, sh) = (ns.clone(), Arc::clone(&barrier), Arc::clone(sh));
        handles.push(
            thread::Builder::new()
                .name(format!("bst-c{i}"))
                .stack_size(256 << 10)
                .spawn(move || client(i, &ns, &barrier, &sh))?,
        );
    }
    barrier.wait();
    let t0 = Instant::now();
    let traces: Vec<Trace> = handles
        .into_iter()
        .map(|h| {
            h.join().unwrap_or_else(|_| Trace {
                error: Some("client thread panicked".into()),
                ..Trace::default()
            })
        })
        .collect();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = server.cpu_secs() - cpu0;
    let runq_wait = server.runq_wait_secs() - wait0;
    let udp1 = udp_counters(topo);
    let backlog = backlog_drops().saturating_sub(backlog0);
    let hwm_kib = server.hwm_kib();
    let died = server.died();
    drop(server);
    let mut phases: [Vec<f64>; 3] = Default::default();
    let mut errors = Vec::new();
    let mut ok = 0;
    let mut total = 0.0f64;
    for (i, t) in traces.iter().enumerate() {
        let since = |a: Option<Instant>, b: Option<Instant>| {
            Some(b?.saturating_duration_since(a?).as_secs_f64())
        };
        if let Some(d) = since(t.start, t.dhcp) {
            phases[0].push(d);
        }
        if let Some(d) = since(t.tftp_start, t.tftp) {
            phases[1].push(d);
        }
        if let Some(d) = since(t.http_start, t.http) {
            phases[2].push(d);
        }
        match (&t.error, t.http) {
            (None, Some(done)) => {
                ok += 1;
                total = total.max(done.saturating_duration_since(t0).as_secs_f64());
            }
            (e, _) => errors.push(format!(
                "client {i}: {}",
                e.as_deref().unwrap_or("did not finish")
            )),
        }
    }
    if let Some(why) = died {
        errors.push(format!("server: {why}"));
    }
    if ok < traces.len() {
        // The last client to give up is when the storm ended.
        total = wall;
    }
    for p in &mut phases {
        p.sort_by(f64::total_cmp);
    }
    let (http_busy, http_peak) = busy_union(
        traces
            .iter()
            .filter_map(|t| Some((t.http_start?, t.http?)))
            .map(|(a, b)| {
                (
                    a.saturating_duration_since(t0).as_secs_f64(),
                    b.saturating_duration_since(t0).as_secs_f64(),
                )
            })
            .collect(),
    );
    Ok(RunResult {
        server: kind.to_owned(),
        run,
        ok,
        total,
        phases,
        http_busy,
        http_peak,
        dhcp_retransmits: traces.iter().map(|t| t.dhcp_retransmits).sum(),
        tftp_retransmits: traces.iter().map(|t| t.tftp_retransmits).sum(),
        udp_drops: udp1.0.saturating_sub(udp0.0),
        backlog_drops: backlog,
        cpu,
        runq_wait,
        hwm_kib,
        errors,
    })
}

/// The length of the union of the intervals `(start, end)` and the most of them that overlap
/// at one instant. Per-client phase times alone do not compare servers whose clients reach the
/// phase at different times: 200 downloads at once each take longer than 130 and then 70, for
/// the same bytes per second in all. Bytes over the union is the server's aggregate rate.
fn busy_union(mut v: Vec<(f64, f64)>) -> (f64, usize) {
    let mut edges: Vec<(f64, i32)> = v.iter().flat_map(|&(a, b)| [(a, 1), (b, -1)]).collect();
    edges.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        peak = peak.max(now);
    }
    v.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut total = 0.0;
    let mut cur: Option<(f64, f64)> = None;
    for (a, b) in v {
        cur = match cur {
            Some((s, e)) if a <= e => Some((s, e.max(b))),
            Some((s, e)) => {
                total += e - s;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((s, e)) = cur {
        total += e - s;
    }
    (total, usize::try_from(peak).unwrap_or(0))
}

fn spread(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    let med = median(&mut s).unwrap_or(f64::NAN);
    (
        med,
        s.first().copied().unwrap_or(f64::NAN),
        s.last().copied().unwrap_or(f64::NAN),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.clients == 0 || args.clients > 60_000 {
        return Err("--clients: 1 to 60000".into());
    }
    let load_start = loadavg();
    eprintln!("load average at start: {load_start}");
    let root = args.work.join("root");
    std::fs::create_dir_all(&root)?;
    write_random_file(&root.join(NBP), args.nbp_kib << 10, 0x6273_0001)?;
    write_random_file(&root.join(IMAGE), args.image_mib << 20, 0x6273_0002)?;
    let sh = Arc::new(Shared {
        nbp: std::fs::read(root.join(NBP))?.into(),
        image: std::fs::read(root.join(IMAGE))?.into(),
        deadline: Duration::from_secs(args.timeout_secs),
        run_nonce: 0,
        http_gate: None,
    });
    let t_setup = Instant::now();
    let topo = Topology::new(args.clients)?;
    eprintln!(
        "{} namespaces on bridge br0 in {} set up in {:.1} s",
        args.clients + 1,
        topo.sw,
        t_setup.elapsed().as_secs_f64()
    );
    let mut results: Vec<RunResult> = Vec::new();
    for run in 1..=args.runs {
        let mut order = args.servers.clone();
        if run % 2 == 0 {
            order.reverse();
        }
        for kind in &order {
            let sh = Arc::new(Shared {
                nbp: Arc::clone(&sh.nbp),
                image: Arc::clone(&sh.image),
                deadline: sh.deadline,
                run_nonce: u32::try_from(run).unwrap_or(0) << 16,
                http_gate: args.http_together.then(|| Barrier::new(args.clients)),
            });
            let r = storm(kind, run, &args, &topo, &root, &sh)?;
            eprintln!(
                "run {run} {kind}: {}/{} bit-exact in {:.2} s, server CPU {:.2} s, load {}",
                r.ok,
                args.clients,
                r.total,
                r.cpu,
                loadavg()
            );
            for e in r.errors.iter().take(5) {
                eprintln!("  {e}");
            }
            results.push(r);
        }
    }
    drop(topo);
    let _ = std::fs::remove_dir_all(&root);
    let load_end = loadavg();
    print_report(&args, &results, &load_start, &load_end);
    if results.iter().any(|r| r.ok < args.clients) {
        return Err("some clients failed (see above)".into());
    }
    Ok(())
}

/// The image bytes of the run's bit-exact clients over its HTTP busy time, GiB/s.
fn http_gib_s(r: &RunResult, args: &Args) -> f64 {
    let bytes = r.ok as f64 * (args.image_mib << 20) as f64;
    bytes / (1u64 << 30) as f64 / r.http_busy.max(1e-9)
}

fn print_report(args: &Args, results: &[RunResult], load_start: &str, load_end: &str) {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "boot storm: {} clients at once, each DHCP DORA + {} KiB NBP over TFTP (lock-step, \
         blksize {BLKSIZE}) + {} MiB over HTTP, all bit-exact; one bridge, MTU 1500; {} runs, \
         servers alternating{}\n",
        args.clients,
        args.nbp_kib,
        args.image_mib,
        args.runs,
        if args.http_together {
            "; --http-together: HTTP starts for all clients at once, after every NBP"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "load average at start: {load_start}, at end: {load_end}\n"
    );
    let _ = writeln!(
        o,
        "| run | server | bit-exact | last client done s | DHCP p50/p90/max s | TFTP p50/p90/max s | HTTP p50/p90/max s | HTTP busy s | HTTP GiB/s | HTTP peak clients | DHCP resends | TFTP resends | server UDP rcvbuf drops | backlog drops | server CPU s | server run-queue wait s | peak RSS MiB |"
    );
    let _ = writeln!(
        o,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in results {
        let ph = |k: usize| {
            let v = &r.phases[k];
            format!(
                "{:.2} / {:.2} / {:.2}",
                pct(v, 50.0),
                pct(v, 90.0),
                pct(v, 100.0)
            )
        };
        let _ = writeln!(
            o,
            "| {} | {} | {}/{} | {:.2} | {} | {} | {} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.1} |",
            r.run,
            r.server,
            r.ok,
            args.clients,
            r.total,
            ph(0),
            ph(1),
            ph(2),
            r.http_busy,
            http_gib_s(r, args),
            r.http_peak,
            r.dhcp_retransmits,
            r.tftp_retransmits,
            r.udp_drops,
            r.backlog_drops,
            r.cpu,
            r.runq_wait,
            r.hwm_kib as f64 / 1024.0
        );
    }
    let _ = writeln!(
        o,
        "\n| server | last client done s: median (min-max) | DHCP p50 / p90 s | TFTP p50 / p90 s | HTTP p50 / p90 s | HTTP GiB/s: median (min-max) | server CPU s | server run-queue wait s | peak RSS MiB |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
    let mut medians = Vec::new();
    for name in &args.servers {
        let rs: Vec<&RunResult> = results.iter().filter(|r| &r.server == name).collect();
        let col =
            |f: &dyn Fn(&RunResult) -> f64| spread(&rs.iter().map(|r| f(r)).collect::<Vec<_>>());
        let (t, tmin, tmax) = col(&|r| r.total);
        let phase = |k: usize| {
            let (a, _, _) = col(&|r| pct(&r.phases[k], 50.0));
            let (b, _, _) = col(&|r| pct(&r.phases[k], 90.0));
            format!("{a:.2} / {b:.2}")
        };
        let (cpu, cmin, cmax) = col(&|r| r.cpu);
        let (wait, _, _) = col(&|r| r.runq_wait);
        let (rss, rmin, rmax) = col(&|r| r.hwm_kib as f64 / 1024.0);
        let (g, gmin, gmax) = col(&|r| http_gib_s(r, args));
        let _ = writeln!(
            o,
            "| {name} | {t:.2} ({tmin:.2}-{tmax:.2}) | {} | {} | {} | {g:.2} ({gmin:.2}-{gmax:.2}) | {cpu:.2} ({cmin:.2}-{cmax:.2}) | {wait:.2} | {rss:.1} ({rmin:.1}-{rmax:.1}) |",
            phase(0),
            phase(1),
            phase(2)
        );
        medians.push((name.clone(), t));
    }
    let get = |n: &str| medians.iter().find(|(m, _)| m == n).map(|(_, t)| *t);
    if let (Some(p), Some(d)) = (get("pxe"), get("dnsmasq+nginx")) {
        let ratio = d / p;
        let _ = writeln!(
            o,
            "\ndnsmasq+nginx / pxe, median time until the last client is done: {ratio:.2}x \
             (target >= 1.5x: {})",
            if ratio >= 1.5 { "met" } else { "NOT met" }
        );
    }
    let _ = writeln!(
        o,
        "\nDHCP/TFTP resends: by the clients (a ROM resends DHCP after 4, 8, 16, 32 s); server UDP \
         rcvbuf drops: the server namespace's UDP RcvbufErrors; backlog drops: \
         /proc/net/softnet_stat (machine-wide); server CPU: utime+stime of the server's processes \
         (nginx master + workers) during the storm; run-queue wait: the time their threads were \
         runnable but not running (schedstat); peak RSS: sum of their VmHWM; HTTP busy: the \
         time at least one client was in its HTTP phase (union of the clients' intervals); HTTP \
         GiB/s: the bit-exact clients' image bytes over that time (the server's aggregate rate, \
         comparable where the per-client HTTP times are not: a server whose clients reach HTTP \
         in two waves has fewer downloads sharing the link at once); HTTP peak clients: the most \
         clients in their HTTP phase at one instant"
    );
    for r in results.iter().filter(|r| !r.errors.is_empty()) {
        let _ = writeln!(
            o,
            "\nrun {} {}: {} failures, first: {}",
            r.run,
            r.server,
            r.errors.len(),
            r.errors[0]
        );
    }
    print!("{o}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(pct(&v, 50.0), 5.0);
        assert_eq!(pct(&v, 90.0), 9.0);
        assert_eq!(pct(&v, 100.0), 10.0);
        assert!(pct(&[], 50.0).is_nan());
    }

    #[test]
    fn busy_time_is_the_union_of_the_intervals() {
        let (t, peak) = busy_union(vec![(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)]);
        assert!((t - 4.0).abs() < 1e-9);
        assert_eq!(peak, 2);
        assert_eq!(busy_union(Vec::new()), (0.0, 0));
    }

    #[test]
    fn macs_are_unique_and_locally_administered() {
        assert_eq!(client_mac(0), "02:62:73:00:00:00");
        assert_eq!(client_mac(0x1_0203), "02:62:73:01:02:03");
        assert_eq!(mac_bytes(0x1_0203), [0x02, 0x62, 0x73, 1, 2, 3]);
    }

    #[test]
    fn discover_carries_the_pxe_rom_options() {
        let m = dhcp_message(7, 0xabcd, 4, MessageType::Discover);
        let mut buf = [0u8; 1500];
        let n = m.emit(&mut buf).unwrap();
        let back = Repr::parse_bytes(&buf[..n]).unwrap();
        assert_eq!(back.message_type(), Some(MessageType::Discover));
        assert!(back.flags.broadcast());
        assert_eq!(back.client_mac(), MacAddr(mac_bytes(7)));
        assert_eq!(
            back.option(OptionCode::VendorClassIdentifier),
            Some(&DhcpOption::VendorClassIdentifier(VENDOR_CLASS.to_vec()))
        );
        assert_eq!(
            back.option(OptionCode::ClientSystemArchitecture),
            Some(&DhcpOption::ClientSystemArchitecture(vec![Arch(0)]))
        );
        let client = pxe_dhcp::pxe::ClientInfo::from_repr(&back);
        assert_eq!(client.firmware, pxe_dhcp::pxe::Firmware::PxeRom);
    }
}
