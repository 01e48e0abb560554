//! Hostile networks, `pxe tftp` beside tftpd-hpa in the same run, on loopback:
//!
//! - **flood**: `--flood` requests (default 3000, `blksize 1468` + `tsize`) from 100 loopback
//!   addresses (127.3.0.1–100), none ever acknowledged, then a real lock-step client's time to
//!   its first DATA byte and to the whole file, bit-exact; the server's threads and RSS.
//! - **reflection**: one 16-byte RRQ without options (`amp.bin`, octet) that is never
//!   answered; every datagram the server sends back is counted for `--listen-secs` (default
//!   40 s, longer than any server's retries): packets, UDP payload bytes and IP bytes (+28 per
//!   datagram), and the amplification (payload out / payload in). Both servers at once.
//!
//! Run: `cargo run --release -p pxe-benches --bin tftp-hostile -- --help`

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use pxe_benches::{Daemon, proc_status_kib, wait_tftp_ready};

#[derive(Parser, Debug)]
#[command(about = "Flood TTFB and reflection: pxe tftp vs tftpd-hpa on loopback")]
struct Args {
    /// Never-answered requests before the real client.
    #[arg(long, default_value_t = 3000)]
    flood: usize,
    /// Size of the real client's file, KiB.
    #[arg(long, default_value_t = 1024)]
    size_kib: u64,
    /// How long the reflection probe listens, seconds.
    #[arg(long, default_value_t = 40)]
    listen_secs: u64,
    /// The `pxe` binary.
    #[arg(long, default_value = "target/release/pxe")]
    pxe: PathBuf,
    /// Scratch directory.
    #[arg(long, default_value = "/dev/shm/pxe-hostile")]
    work: PathBuf,
    /// Servers to measure, comma-separated (`pxe`, `tftpd-hpa`).
    #[arg(long, default_value = "pxe,tftpd-hpa")]
    servers: String,
}

fn start(server: &str, args: &Args, root: &Path, port: u16) -> io::Result<Daemon> {
    let cmd = match server {
        "pxe" => {
            let mut c = std::process::Command::new(&args.pxe);
            c.arg("tftp")
                .arg("--root")
                .arg(root)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"));
            c
        }
        "tftpd-hpa" => {
            let mut c = std::process::Command::new("in.tftpd");
            c.args(["-L", "-a", &format!("127.0.0.1:{port}"), "-s"])
                .arg(root)
                .args(["-u", "nobody"]);
            c
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown server {other}"),
            ));
        }
    };
    let log = args.work.join(format!("{server}-{port}.log"));
    let d = Daemon::spawn(server, cmd, &log)?;
    wait_tftp_ready(([127, 0, 0, 1], port).into(), Duration::from_secs(5))?;
    Ok(d)
}

fn rrq(name: &str, options: &[(&str, &str)]) -> Vec<u8> {
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

fn ack(block: u16) -> [u8; 4] {
    let b = block.to_be_bytes();
    [0, 4, b[0], b[1]]
}

/// A lock-step download (`blksize 1468`, `tsize`), ACK or RRQ resent every 200 ms when nothing
/// arrives: (file, time to first DATA byte, total), or an error after 120 s.
fn fetch(server: SocketAddr, name: &str) -> io::Result<(Vec<u8>, Duration, Duration)> {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    let start = Instant::now();
    let request = rrq(name, &[("blksize", "1468"), ("tsize", "0")]);
    s.send_to(&request, server)?;
    let mut buf = vec![0u8; 2048];
    let (mut data, mut ttfb, mut last) = (Vec::new(), None, None::<([u8; 4], SocketAddr)>);
    let mut expect = 1u16;
    while start.elapsed() < Duration::from_secs(120) {
        let (n, peer) = match s.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                match last {
                    Some((a, to)) => s.send_to(&a, to)?,
                    None => s.send_to(&request, server)?,
                };
                continue;
            }
            Err(e) => return Err(e),
        };
        match (buf[0], buf[1]) {
            (0, 6) => {
                last = Some((ack(0), peer));
                s.send_to(&ack(0), peer)?;
            }
            (0, 3) => {
                let block = u16::from_be_bytes([buf[2], buf[3]]);
                if block == expect {
                    ttfb.get_or_insert(start.elapsed());
                    data.extend_from_slice(&buf[4..n]);
                    expect = expect.wrapping_add(1);
                }
                last = Some((ack(block), peer));
                s.send_to(&ack(block), peer)?;
                if block == expect.wrapping_sub(1) && n < 4 + 1468 {
                    return Ok((data, ttfb.unwrap_or_default(), start.elapsed()));
                }
            }
            _ => {
                return Err(io::Error::other(format!(
                    "unexpected packet {:?}",
                    &buf[..n.min(8)]
                )));
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "no download within 120 s",
    ))
}

/// Threads of `pid` plus those of its children (tftpd-hpa forks a process per request).
fn tasks_and_rss(pid: u32) -> (u64, u64) {
    let mut threads = proc_status_kib(pid, "Threads").unwrap_or(0);
    let mut rss = proc_status_kib(pid, "VmRSS").unwrap_or(0);
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for c in children
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
    {
        threads += proc_status_kib(c, "Threads").unwrap_or(0);
        rss += proc_status_kib(c, "VmRSS").unwrap_or(0);
    }
    (threads, rss)
}

fn flood(server: &str, args: &Args, root: &Path, want: &[u8], port: u16) -> io::Result<String> {
    let mut d = start(server, args, root, port)?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let request = rrq("flood.bin", &[("blksize", "1468"), ("tsize", "0")]);
    let per_ip = args.flood.div_ceil(100);
    let mut sockets = Vec::with_capacity(args.flood);
    let t0 = Instant::now();
    'all: for ip in 1..=100u8 {
        for _ in 0..per_ip {
            if sockets.len() == args.flood {
                break 'all;
            }
            let s = UdpSocket::bind((format!("127.3.0.{ip}").as_str(), 0))?;
            s.send_to(&request, addr)?;
            sockets.push(s);
        }
    }
    let sent = t0.elapsed();
    let (got, ttfb, total) = fetch(addr, "real.bin")?;
    let (threads, rss) = tasks_and_rss(d.pid());
    let exact = got == want;
    d.stop();
    Ok(format!(
        "| {server} | {} | {:.2} | {:.0} | {:.0} | {} | {threads} | {rss} |",
        args.flood,
        sent.as_secs_f64() * 1e3,
        ttfb.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3,
        if exact { "yes" } else { "NO" },
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let root = args.work.join("root");
    std::fs::create_dir_all(&root)?;
    for dir in [&args.work, &root] {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }
    for (name, size, seed) in [
        ("real.bin", args.size_kib * 1024, 1),
        ("flood.bin", 1 << 20, 2),
        ("amp.bin", 1 << 20, 3),
    ] {
        pxe_benches::write_random_file(&root.join(name), size, seed)?;
        std::fs::set_permissions(
            root.join(name),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )?;
    }
    let want = std::fs::read(root.join("real.bin"))?;
    let servers: Vec<&str> = args.servers.split(',').collect();
    eprintln!("load average before: {}", pxe_benches::loadavg());

    println!(
        "### Flood: {} never-answered RRQs, then a real client ({} KiB, lock-step blksize 1468)\n",
        args.flood, args.size_kib
    );
    println!(
        "| server | flood RRQs | flood sent in (ms) | real client: first byte (ms) | whole file (ms) | bit-exact | server threads (+children) after | server RSS KiB (+children) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, server) in servers.iter().enumerate() {
        let port = 6990 + u16::try_from(i).unwrap_or(0);
        match flood(server, &args, &root, &want, port) {
            Ok(line) => println!("{line}"),
            Err(e) => println!("| {server} | failed: {e} | | | | | | |"),
        }
    }

    println!(
        "\n### Reflection: one 16-byte RRQ (`amp.bin`, octet, no options), never answered, {} s\n",
        args.listen_secs
    );
    let request = rrq("amp.bin", &[]);
    let mut probes = Vec::new();
    let mut daemons = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        let port = 6995 + u16::try_from(i).unwrap_or(0);
        daemons.push(start(server, &args, &root, port)?);
        let s = UdpSocket::bind("127.0.0.1:0")?;
        s.set_nonblocking(true)?;
        s.send_to(&request, SocketAddr::from(([127, 0, 0, 1], port)))?;
        probes.push((*server, s, 0u64, 0u64, None::<Duration>));
    }
    let t0 = Instant::now();
    let mut buf = [0u8; 70_000];
    while t0.elapsed() < Duration::from_secs(args.listen_secs) {
        for (_, s, packets, bytes, last) in &mut probes {
            while let Ok((n, _)) = s.recv_from(&mut buf) {
                *packets += 1;
                *bytes += n as u64;
                *last = Some(t0.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    println!(
        "| server | datagrams | UDP payload bytes | IP bytes | amplification (payload) | amplification (IP) | last datagram after (s) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let req = request.len() as f64;
    for (server, _, packets, bytes, last) in &probes {
        let ip = bytes + 28 * packets;
        println!(
            "| {server} | {packets} | {bytes} | {ip} | {:.1}x | {:.1}x | {:.1} |",
            *bytes as f64 / req,
            ip as f64 / (req + 28.0),
            last.map_or(0.0, |d| d.as_secs_f64())
        );
    }
    for mut d in daemons {
        d.stop();
    }
    eprintln!("load average after: {}", pxe_benches::loadavg());
    Ok(())
}
