//! Downloads under random packet loss, `pxe tftp` beside tftpd-hpa in the same run.
//!
//! For each loss rate (0 %, 5 %, 20 %) the harness creates a network namespace (deleted again
//! when it ends, also on a panic) with loopback up, starts both servers in it, then adds an
//! nftables *input* rule dropping that fraction of UDP packets at random (`numgen random mod
//! 100 < N`): every datagram, either way, is lost with that probability, and no sender sees an
//! error. Each client then downloads the same random file (`--size-kib`, 64 KiB) `--downloads`
//! times from each server (`--downloads-20` at 20 %), each download its own client process,
//! `--concurrency` at a time (all at once at 20 %, where downloads mostly wait on timers);
//! every file is checked by SHA-256, and a download still running after 120 s is killed by
//! its pid and counted as failed.
//!
//! Clients: atftp with `blksize 1468` in lock-step (no `windowsize` option) and with
//! `windowsize 8` and `16`; tftp-hpa (`tftp -m binary … -c get`: its client sends no options,
//! so 512-byte lock-step); `pxe get` (no options either).
//!
//! Printed per server: for each client and rate the bit-exact count, the median, p90 and
//! maximum time, and the median at 5 % over the median at 0 %; the load average at start and
//! end. Run as root: `cargo run --release -p pxe-benches --bin tftp-loss -- --help`

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Parser;
use pxe_benches::{Daemon, loadavg, sha256_file, write_random_file};

#[derive(Parser, Debug)]
#[command(about = "Downloads under random input loss: pxe tftp vs tftpd-hpa in a namespace")]
struct Args {
    /// Size of the file, KiB.
    #[arg(long, default_value_t = 64)]
    size_kib: u64,
    /// Downloads per client, server and loss rate at 0 % and 5 %.
    #[arg(long, default_value_t = 100)]
    downloads: usize,
    /// Downloads per client and server at 20 % loss.
    #[arg(long, default_value_t = 100)]
    downloads_20: usize,
    /// Client processes at a time at 0 % and 5 % (at 20 % all start at once).
    #[arg(long, default_value_t = 24)]
    concurrency: usize,
    /// Loss rates in percent, comma-separated.
    #[arg(long, default_value = "0,5,20")]
    rates: String,
    /// The `pxe` binary.
    #[arg(long, default_value = "target/release/pxe")]
    pxe: PathBuf,
    /// Extra arguments for `pxe tftp`. Every client here comes from 127.0.0.1, and at 20 %
    /// hundreds of them are in their handshake at once (an OACK lost waits for atftp's 5 s
    /// timer): beyond the per-address handshake limit (16, a flood defence) the oldest would
    /// be evicted, which is not what a boot of machines with an address each meets.
    #[arg(long, default_value = "--max-handshakes-per-source 1024")]
    pxe_tftp_args: String,
    /// Servers, comma-separated: pxe, tftpd-hpa.
    #[arg(long, default_value = "pxe,tftpd-hpa")]
    servers: String,
    /// Clients, comma-separated: atftp-ws1, atftp-ws8, atftp-ws16, tftp-hpa, pxe-get.
    #[arg(
        long,
        default_value = "atftp-ws1,atftp-ws8,atftp-ws16,tftp-hpa,pxe-get"
    )]
    clients: String,
    /// Scratch directory: the served file and every download, removed at the end; the servers'
    /// logs and the client output of every failed download (`got/*.trace`) stay.
    #[arg(long, default_value = "/dev/shm/pxe-loss")]
    work: PathBuf,
}

/// A download still running after this is killed and counted as failed.
const STUCK: Duration = Duration::from_secs(120);

/// A network namespace, deleted when dropped (also when the harness panics).
struct Netns(String);

impl Netns {
    fn new(name: &str) -> io::Result<Self> {
        checked(Command::new("ip").args(["netns", "add", name]))?;
        let ns = Netns(name.to_owned());
        checked(Command::new("ip").args(["-n", name, "link", "set", "lo", "up"]))?;
        // in.tftpd resolves its address with AI_ADDRCONFIG, which fails while a namespace has
        // only loopback addresses: one more on `lo`, inside the namespace only.
        checked(Command::new("ip").args([
            "-n",
            name,
            "addr",
            "add",
            "10.231.0.1/32",
            "dev",
            "lo",
        ]))?;
        Ok(ns)
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]);
        c
    }

    /// Drops `percent` % of the UDP packets entering the namespace (both directions on its
    /// loopback).
    fn lose(&self, percent: u32) -> io::Result<()> {
        let nft = |args: &[&str]| checked(self.command("nft").args(args));
        nft(&["add", "table", "inet", "loss"])?;
        nft(&[
            "add", "chain", "inet", "loss", "in", "{", "type", "filter", "hook", "input",
            "priority", "0", ";", "}",
        ])?;
        let rule = format!(
            "add rule inet loss in meta l4proto udp numgen random mod 100 < {percent} drop"
        );
        nft(&rule.split(' ').collect::<Vec<_>>())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.0])
            .stderr(Stdio::null())
            .status();
    }
}

fn checked(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn port(server: &str) -> u16 {
    if server == "pxe" { 6971 } else { 6969 }
}

fn start(server: &str, ns: &Netns, args: &Args, root: &Path) -> io::Result<Daemon> {
    let addr = format!("127.0.0.1:{}", port(server));
    let cmd = match server {
        "pxe" => {
            let mut c = ns.command(&args.pxe.to_string_lossy());
            c.arg("tftp")
                .arg("--root")
                .arg(root)
                .args(["--listen", &addr])
                .args(args.pxe_tftp_args.split_whitespace());
            c
        }
        "tftpd-hpa" => {
            let mut c = ns.command("in.tftpd");
            c.args(["-L", "-a", &addr, "-s"])
                .arg(root)
                .args(["-u", "nobody"]);
            c
        }
        other => return Err(io::Error::other(format!("unknown server {other}"))),
    };
    let log = args.work.join(format!("{server}-{}.log", ns.0));
    let d = Daemon::spawn(server, cmd, &log)?;
    // Ready when a request for a missing file is refused (before the loss rule exists).
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let mut probe = ns.command("atftp");
        probe
            .args([
                "--tftp-timeout",
                "1",
                "-g",
                "-r",
                "missing-probe",
                "-l",
                "/dev/null",
            ])
            .args(["127.0.0.1", &port(server).to_string()]);
        let out = probe.stdin(Stdio::null()).output()?;
        if String::from_utf8_lossy(&out.stderr).contains("error received from server") {
            return Ok(d);
        }
        if Instant::now() > end {
            return Err(io::Error::other(format!(
                "{server} does not answer in {}",
                ns.0
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn client_command(ns: &Netns, client: &str, server: &str, args: &Args, out: &Path) -> Command {
    let port = port(server).to_string();
    match client {
        "tftp-hpa" => {
            let mut c = ns.command("tftp");
            c.args(["-m", "binary", "127.0.0.1", &port, "-c", "get", "f.bin"])
                .arg(out);
            c
        }
        "pxe-get" => {
            let mut c = ns.command(&args.pxe.to_string_lossy());
            c.args(["get", &format!("tftp://127.0.0.1:{port}/f.bin"), "-o"])
                .arg(out);
            c
        }
        atftp => {
            let ws: u16 = atftp
                .strip_prefix("atftp-ws")
                .and_then(|w| w.parse().ok())
                .unwrap_or(1);
            let mut c = ns.command("atftp");
            // --trace: its output says whether an OACK ever reached it.
            c.args(["--trace", "--option", "blksize 1468"]);
            if ws > 1 {
                c.args(["--option", &format!("windowsize {ws}")]);
            }
            c.args(["-g", "-r", "f.bin", "-l"])
                .arg(out)
                .args(["127.0.0.1", &port]);
            c
        }
    }
}

/// One download's result.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    secs: f64,
    exact: bool,
    killed: bool,
    /// atftp gave up before any OACK reached it (six requests 5 s apart, each answered by
    /// one OACK at most: a client limit no server can lift).
    no_oack: bool,
}

/// Runs `cmd`, killing it by pid after [`STUCK`]; checks `out` against `sha`.
fn download(mut cmd: Command, out: &Path, trace: &Path, sha: &[u8; 32]) -> io::Result<Outcome> {
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(trace)?)
        .spawn()?;
    let (status, killed) = loop {
        if let Some(status) = child.try_wait()? {
            break (Some(status), false);
        }
        let elapsed = t0.elapsed();
        if elapsed >= STUCK {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        // Fine-grained while a download may still be a fast one, coarse afterwards.
        std::thread::sleep(if elapsed < Duration::from_millis(300) {
            Duration::from_millis(1)
        } else {
            Duration::from_millis(20)
        });
    };
    let secs = t0.elapsed().as_secs_f64();
    let exact = status.is_some_and(|s| s.success()) && sha256_file(out).is_ok_and(|h| h == *sha);
    let no_oack = !exact
        && std::fs::read_to_string(trace).is_ok_and(|t| {
            t.contains("sent RRQ") && !t.contains("received OACK") && !t.contains("DATA <block")
        });
    let _ = std::fs::remove_file(out);
    if exact {
        let _ = std::fs::remove_file(trace);
    }
    Ok(Outcome {
        secs,
        exact,
        killed,
        no_oack,
    })
}

type Key = (String, String, u32);

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let rates: Vec<u32> = args
        .rates
        .split(',')
        .map(|r| {
            r.trim()
                .parse()
                .map_err(|e| io::Error::other(format!("rate {r}: {e}")))
        })
        .collect::<io::Result<_>>()?;
    let servers: Vec<&str> = args.servers.split(',').map(str::trim).collect();
    let clients: Vec<&str> = args.clients.split(',').map(str::trim).collect();
    let load_start = loadavg();
    std::fs::create_dir_all(&args.work)?;
    let root = args.work.join("root");
    std::fs::create_dir_all(&root)?;
    // tftpd-hpa serves as `nobody`.
    set_mode(&args.work, 0o755)?;
    set_mode(&root, 0o755)?;
    let file = root.join("f.bin");
    let sha = write_random_file(&file, args.size_kib * 1024, 0x1055)?;
    set_mode(&file, 0o644)?;
    let downloads_dir = args.work.join("got");
    std::fs::create_dir_all(&downloads_dir)?;

    let results: Mutex<BTreeMap<Key, Vec<Outcome>>> = Mutex::new(BTreeMap::new());
    let started = Instant::now();
    for &rate in &rates {
        let ns = Netns::new(&format!("tl{}-{rate}", std::process::id()))?;
        let daemons: Vec<Daemon> = servers
            .iter()
            .map(|s| start(s, &ns, &args, &root))
            .collect::<io::Result<_>>()?;
        if rate > 0 {
            ns.lose(rate)?;
        }
        let n = if rate >= 20 {
            args.downloads_20
        } else {
            args.downloads
        };
        // Interleaved, so both servers see the same conditions as the run goes.
        let mut jobs: Vec<(String, String, usize)> = Vec::new();
        for i in 0..n {
            for c in &clients {
                for s in &servers {
                    jobs.push(((*s).to_owned(), (*c).to_owned(), i));
                }
            }
        }
        let workers = if rate >= 20 {
            jobs.len()
        } else {
            args.concurrency.max(1)
        };
        let t_rate = Instant::now();
        eprintln!(
            "{rate} % loss: {} downloads, {workers} at a time, load average {}",
            jobs.len(),
            loadavg()
        );
        let queue = Mutex::new(jobs);
        let failed = Mutex::new(None::<io::Error>);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let Some((server, client, i)) = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .pop()
                        else {
                            return;
                        };
                        let out = downloads_dir.join(format!("{server}-{client}-{rate}-{i}"));
                        let trace = out.with_extension("trace");
                        let cmd = client_command(&ns, &client, &server, &args, &out);
                        match download(cmd, &out, &trace, &sha) {
                            Ok(o) => results
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .entry((server, client, rate))
                                .or_default()
                                .push(o),
                            Err(e) => {
                                *failed
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = failed
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Err(e);
        }
        eprintln!(
            "{rate} % loss done in {:.0} s",
            t_rate.elapsed().as_secs_f64()
        );
        drop(daemons);
        drop(ns);
    }
    // The servers' logs and the failed downloads' client output stay (the file and the
    // downloads go): what a failure was is in the two together.
    let _ = std::fs::remove_dir_all(&root);
    let mut kept = 0;
    for entry in std::fs::read_dir(&downloads_dir)?.flatten() {
        if entry.path().extension().is_some_and(|e| e == "trace") {
            kept += 1;
        } else {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if kept > 0 {
        eprintln!(
            "client output of the {kept} failed downloads: {}/*.trace",
            downloads_dir.display()
        );
    }
    let _ = std::fs::remove_dir(&downloads_dir);

    let results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    println!("# TFTP downloads under random input loss");
    println!();
    println!(
        "{} KiB file, loopback in a network namespace with an nftables input rule dropping \
         that share of UDP packets at random (both directions); {} downloads per cell at 0 % \
         and 5 % ({} at a time), {} at 20 % (all at once); every file SHA-256 checked; killed \
         after {} s; `pxe tftp {}`.",
        args.size_kib,
        args.downloads,
        args.concurrency,
        args.downloads_20,
        STUCK.as_secs(),
        args.pxe_tftp_args
    );
    println!();
    println!(
        "load average at start: {load_start}; at end: {}; {:.0} s in all",
        loadavg(),
        started.elapsed().as_secs_f64()
    );
    for server in &servers {
        println!();
        println!("## {server}");
        println!();
        println!(
            "| client | loss | bit-exact | median s | p90 s | max s | median vs 0 % | failed: killed / no OACK reached atftp |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---|");
        for client in &clients {
            let median_at = |rate: u32| {
                let v = results.get(&((*server).to_owned(), (*client).to_owned(), rate))?;
                let mut t: Vec<f64> = v.iter().map(|o| o.secs).collect();
                t.sort_by(f64::total_cmp);
                (!t.is_empty()).then(|| percentile(&t, 0.5))
            };
            for &rate in &rates {
                let Some(v) = results.get(&((*server).to_owned(), (*client).to_owned(), rate))
                else {
                    continue;
                };
                let mut t: Vec<f64> = v.iter().map(|o| o.secs).collect();
                t.sort_by(f64::total_cmp);
                let exact = v.iter().filter(|o| o.exact).count();
                let killed = v.iter().filter(|o| o.killed).count();
                let no_oack = v.iter().filter(|o| o.no_oack).count();
                let ratio = match (median_at(rate), median_at(0)) {
                    (Some(m), Some(z)) if rate > 0 && z > 0.0 => format!("{:.1}×", m / z),
                    _ => "—".into(),
                };
                println!(
                    "| {client} | {rate} % | {exact}/{} | {:.3} | {:.3} | {:.3} | {ratio} | {killed} / {no_oack} |",
                    v.len(),
                    percentile(&t, 0.5),
                    percentile(&t, 0.9),
                    t[t.len() - 1],
                );
            }
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
