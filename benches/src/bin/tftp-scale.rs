//! Scale: many concurrent clients download one file from one `pxe tftp` on loopback, every
//! download compared byte for byte with the served file. Reports the total time, the
//! server's peak RSS (`VmHWM`), its anonymous RSS at the busiest moment, and RSS per active
//! transfer beyond the idle base, and the CPU time the server and the harness used over the run
//! (a harness near 100 % of one CPU per client thread is the bottleneck, not the server).
//!
//! Clients (`--client`): `core` (default) runs the `pxe-tftp` reference client in this process,
//! one real UDP socket each, all driven by one `poll(2)` thread (`--client-threads N`: N loops,
//! a share each) and all started at once; `pxe-get`
//! and `curl` are real processes (held at a gate until all are spawned), their stdout compared
//! by one thread each.
//!
//! Run: `cargo run --release -p pxe-benches --bin tftp-scale -- --help`

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use nix::sys::signal::Signal;
use pxe_benches::{Daemon, Pin, kill_pid, mib_per_s, proc_status_kib, wait_tftp_ready};

#[derive(Parser, Debug)]
#[command(about = "N concurrent TFTP downloads from one pxe tftp, bit-exact, with server RSS")]
struct Args {
    /// Concurrent clients.
    #[arg(long, default_value_t = 500)]
    clients: usize,
    /// File size, MiB.
    #[arg(long, default_value_t = 16)]
    size_mib: u64,
    /// Client: `core` (in-process pxe-tftp clients), `pxe-get` or `curl` (processes).
    #[arg(long, default_value = "core")]
    client: String,
    /// blksize the clients ask for.
    #[arg(long, default_value_t = 1468)]
    blksize: u16,
    /// windowsize the clients ask for (pxe-get only; curl has none).
    #[arg(long, default_value_t = 16)]
    windowsize: u16,
    /// Server: `pxe` (`pxe tftp`) or `tftpd-hpa` (to check the harness itself).
    #[arg(long, default_value = "pxe")]
    server: String,
    /// The `pxe` binary.
    #[arg(long, default_value = "target/release/pxe")]
    pxe: PathBuf,
    /// Extra arguments for `pxe tftp`, space-separated.
    #[arg(long, default_value = "--windowsize-max 64")]
    pxe_tftp_args: String,
    /// Scratch directory.
    #[arg(long, default_value = "/dev/shm/pxe-scale")]
    work: PathBuf,
    /// CPU list for the server, or `none`.
    #[arg(long, default_value = "none")]
    server_cpus: String,
    /// CPU list for the clients, or `none`.
    #[arg(long, default_value = "none")]
    client_cpus: String,
    /// Whole-run timeout, seconds; clients still running are killed by pid and counted failed.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// Threads driving the `core` clients, each a `poll(2)` loop over its share of them. One
    /// thread over 10 000 sockets can be the bottleneck (its CPU share is printed).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
}

/// CPU seconds (user + system) that process `pid` (`"self"` for this one) has used, from
/// `/proc/PID/stat` (fields 14 and 15, in USER_HZ ticks: 100 per second on every Linux ABI).
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it follow its ')'.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

fn pin(list: &str) -> Pin {
    if list == "none" {
        Pin::Anywhere
    } else {
        Pin::Cpus(list.to_owned())
    }
}

/// Spawns every client process held at a gate (`sh -c 'read _ && exec ...'`), then opens the
/// gate for all at once; one thread per client compares its stdout. Returns (bit-exact count,
/// seconds until the last finished, seconds spawning took).
fn run_processes(
    args: &Args,
    port: u16,
    want: &Arc<[u8]>,
    active: &Arc<AtomicUsize>,
    t0: Instant,
) -> Result<(usize, f64, f64), Box<dyn std::error::Error>> {
    let cpin = pin(&args.client_cpus);
    let url = format!("tftp://127.0.0.1:{port}/scale.bin");
    let mut gates = Vec::with_capacity(args.clients);
    let mut handles = Vec::with_capacity(args.clients);
    let mut pids = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let mut argv: Vec<String> = match &cpin {
            Pin::Cpus(list) => vec!["taskset".into(), "-c".into(), list.clone()],
            Pin::Anywhere => Vec::new(),
        };
        match args.client.as_str() {
            "pxe-get" => {
                argv.push(args.pxe.to_string_lossy().into_owned());
                argv.extend(["get".into(), url.clone(), "-o".into(), "-".into()]);
                argv.extend(["--blksize".into(), args.blksize.to_string()]);
                argv.extend(["--windowsize".into(), args.windowsize.to_string()]);
            }
            "curl" => {
                argv.extend([
                    "curl".into(),
                    "-s".into(),
                    "--tftp-blksize".into(),
                    args.blksize.to_string(),
                    url.clone(),
                ]);
            }
            other => return Err(format!("unknown client {other}").into()),
        }
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("read _ && exec \"$@\"")
            .arg("sh")
            .args(&argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        pids.push(child.id());
        gates.push(child.stdin.take().ok_or("no stdin")?);
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let want = Arc::clone(want);
        let active = Arc::clone(active);
        let h = thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || {
                let exact = verify_stream(stdout, &want).unwrap_or(false);
                let ok = child.wait().is_ok_and(|s| s.success());
                active.fetch_sub(1, Ordering::SeqCst);
                (exact && ok, Instant::now())
            })?;
        handles.push(h);
    }
    let spawned = t0.elapsed().as_secs_f64();
    let start = Instant::now();
    active.store(args.clients, Ordering::SeqCst);
    for mut g in gates {
        let _ = g.write_all(b"go\n");
    }
    let deadline = start + Duration::from_secs(args.timeout_secs);
    while active.load(Ordering::SeqCst) > 0 {
        if Instant::now() > deadline {
            eprintln!("timeout: killing the clients still running");
            for &p in &pids {
                kill_pid(p, Signal::SIGKILL);
            }
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let mut ok = 0usize;
    let mut last_done = start;
    for h in handles {
        let (exact, done) = h.join().map_err(|_| "reader thread panicked")?;
        ok += usize::from(exact);
        last_done = last_done.max(done);
    }
    Ok((ok, last_done.duration_since(start).as_secs_f64(), spawned))
}

/// Compares a client's stdout with the expected bytes as it streams; `true` if bit-exact.
fn verify_stream(mut r: impl Read, want: &[u8]) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0usize;
    let mut same = true;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let end = at + n;
        same &= want.get(at..end).is_some_and(|w| w == &buf[..n]);
        at = end;
    }
    Ok(same && at == want.len())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let root = args.work.join("root");
    std::fs::create_dir_all(&root)?;
    for dir in [&args.work, &root] {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }
    let file = root.join("scale.bin");
    let size = args.size_mib * 1024 * 1024;
    pxe_benches::write_random_file(&file, size, 11)?;
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    let want: Arc<[u8]> = std::fs::read(&file)?.into();

    let spin = pin(&args.server_cpus);
    let (cmd, port) = match args.server.as_str() {
        "pxe" => {
            let mut c = spin.command(&args.pxe.to_string_lossy());
            c.arg("tftp")
                .arg("--root")
                .arg(&root)
                .arg("--listen")
                .arg("127.0.0.1:6972");
            c.args(args.pxe_tftp_args.split_whitespace());
            (c, 6972)
        }
        "tftpd-hpa" => {
            let mut c = spin.command("in.tftpd");
            c.args(["-L", "-a", "127.0.0.1:6973", "-s"])
                .arg(&root)
                .args(["-u", "nobody"]);
            (c, 6973)
        }
        other => return Err(format!("unknown server {other}").into()),
    };
    let mut server = Daemon::spawn(&args.server, cmd, &args.work.join("server.log"))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_tftp_ready(addr, Duration::from_secs(5))?;
    let spid = server.pid();
    let base_rss = proc_status_kib(spid, "VmRSS").unwrap_or(0);
    let base_anon = proc_status_kib(spid, "RssAnon").unwrap_or(0);

    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let anon_at_peak = Arc::new(AtomicUsize::new(0));
    let max_anon = Arc::new(AtomicUsize::new(0));
    let max_threads = Arc::new(AtomicUsize::new(0));
    // Samples the server's RSS while transfers run; remembers the busiest moment's.
    let sampler = {
        let (active, peak, anon_at_peak, max_anon, max_threads) = (
            Arc::clone(&active),
            Arc::clone(&peak),
            Arc::clone(&anon_at_peak),
            Arc::clone(&max_anon),
            Arc::clone(&max_threads),
        );
        let stop = Arc::new(AtomicUsize::new(0));
        let stop2 = Arc::clone(&stop);
        let h = thread::spawn(move || {
            while stop2.load(Ordering::SeqCst) == 0 {
                let a = active.load(Ordering::SeqCst);
                let anon = proc_status_kib(spid, "RssAnon").unwrap_or(0) as usize;
                max_anon.fetch_max(anon, Ordering::SeqCst);
                let threads = proc_status_kib(spid, "Threads").unwrap_or(0) as usize;
                max_threads.fetch_max(threads, Ordering::SeqCst);
                if a >= peak.load(Ordering::SeqCst) {
                    peak.store(a, Ordering::SeqCst);
                    anon_at_peak.fetch_max(anon, Ordering::SeqCst);
                }
                thread::sleep(Duration::from_millis(10));
            }
        });
        (h, stop)
    };
    let load_before = pxe_benches::loadavg();
    eprintln!("load average before: {load_before}");
    let (harness_cpu0, server_cpu0) = (cpu_secs("self"), cpu_secs(&spid.to_string()));
    let t0 = Instant::now();
    let (ok, total, spawned) = if args.client == "core" {
        let plan = pxe_benches::fleet::Plan {
            server: addr,
            filename: "scale.bin",
            clients: args.clients,
            blksize: args.blksize,
            windowsize: args.windowsize,
            deadline: Duration::from_secs(args.timeout_secs),
            threads: args.client_threads,
        };
        let results = pxe_benches::fleet::run(&plan, &want, &mut |live| {
            active.store(live, Ordering::SeqCst)
        })?;
        let ok = results.iter().filter(|r| r.exact).count();
        let total = results.iter().map(|r| r.secs).fold(0.0, f64::max);
        let rexmit: u64 = results.iter().map(|r| r.retransmits).sum();
        eprintln!("client retransmits (all clients): {rexmit}");
        (ok, total, 0.0)
    } else {
        run_processes(&args, port, &want, &active, t0)?
    };
    let wall = t0.elapsed().as_secs_f64();
    let used = |before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(b), Some(a)) => format!(
            "{:.1} s ({:.0} % of one CPU)",
            a - b,
            100.0 * (a - b) / wall
        ),
        _ => "?".to_owned(),
    };
    let harness_cpu = used(harness_cpu0, cpu_secs("self"));
    let server_cpu = used(server_cpu0, cpu_secs(&spid.to_string()));
    active.store(0, Ordering::SeqCst);
    sampler.1.store(1, Ordering::SeqCst);
    let _ = sampler.0.join();
    let peak_active = peak.load(Ordering::SeqCst);
    let max_anon = max_anon.load(Ordering::SeqCst) as u64;
    let hwm = proc_status_kib(spid, "VmHWM").unwrap_or(0);
    let alive = server.exited().is_none();
    server.stop();
    let load_after = pxe_benches::loadavg();
    eprintln!("load average after: {load_after}");

    let moved = size * args.clients as u64;
    println!(
        "{} clients ({} blksize {} windowsize {}) x {} MiB from {} on 127.0.0.1 (server CPUs {}, client CPUs {})",
        args.clients,
        args.client,
        args.blksize,
        if args.client == "curl" {
            1
        } else {
            args.windowsize
        },
        args.size_mib,
        args.server,
        args.server_cpus,
        args.client_cpus
    );
    println!(
        "- bit-exact: {ok}/{} (server alive at the end: {alive})",
        args.clients
    );
    println!(
        "- total time: {total:.2} s (spawning took {spawned:.2} s), aggregate {:.1} MiB/s",
        mib_per_s(moved, total)
    );
    println!("- peak concurrent transfers seen: {peak_active}");
    println!(
        "- CPU over the {wall:.1} s run: server {server_cpu}; harness ({} client thread(s)) {harness_cpu}",
        if args.client == "core" {
            args.client_threads.max(1).to_string()
        } else {
            format!("{} reader", args.clients)
        }
    );
    println!("- load average before: {load_before}; after: {load_after}");
    println!(
        "- server threads (most seen): {} on {} CPUs",
        max_threads.load(Ordering::SeqCst),
        thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    println!(
        "- server VmRSS idle: {base_rss} KiB; VmHWM: {hwm} KiB; RssAnon idle {base_anon} KiB, max {max_anon} KiB \
         ({} KiB when the most transfers were live)",
        anon_at_peak.load(Ordering::SeqCst)
    );
    let per = |kib: u64| kib as f64 / peak_active.max(1) as f64;
    println!(
        "- RSS per active transfer beyond the idle base: {:.1} KiB (VmHWM), {:.1} KiB (RssAnon)",
        per(hwm.saturating_sub(base_rss)),
        per(max_anon.saturating_sub(base_anon))
    );
    if ok != args.clients {
        return Err(format!("{} downloads were not bit-exact", args.clients - ok).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_stream_checks_content_and_length() {
        let want = vec![7u8; 200_000];
        assert!(verify_stream(&want[..], &want).unwrap());
        assert!(!verify_stream(&want[..199_999], &want).unwrap());
        let mut bad = want.clone();
        bad[150_000] = 8;
        assert!(!verify_stream(&bad[..], &want).unwrap());
        let mut long = want.clone();
        long.push(7);
        assert!(!verify_stream(&long[..], &want).unwrap());
    }
}
