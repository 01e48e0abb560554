//! Peer comparison on loopback: the same random file served by `pxe tftp`, tftpd-hpa,
//! dnsmasq and atftpd, fetched by the same clients (curl, atftp, `pxe get`), every download
//! checked by SHA-256. Servers alternate run by run; the table shows median MiB/s and each
//! server's ratio to `pxe tftp`, then the loopback UDP ceiling for the same datagram size.
//!
//! Run as root (dnsmasq's TFTP is port 69 only; the peers drop privileges to `nobody`):
//! `cargo run --release -p pxe-benches --bin tftp-compare -- --help`

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use pxe_benches::cpu::CpuMeter;
use pxe_benches::{Daemon, Pin, median, mib_per_s, run_timed, sha256_file, udp, wait_tftp_ready};

#[derive(Parser, Debug)]
#[command(about = "TFTP peer comparison on loopback (run as root)")]
struct Args {
    /// Size of the served random file, MiB.
    #[arg(long, default_value_t = 256)]
    size_mib: u64,
    /// Repetitions of every (server, client case) pair (servers alternate within a run).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Servers, comma-separated: pxe, tftpd-hpa, dnsmasq, atftpd.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "pxe,tftpd-hpa,dnsmasq,atftpd"
    )]
    servers: Vec<String>,
    /// Client cases, comma-separated: `curl`, `curl-BLK`, `atftp-BLK`, `atftp-BLK-wsW`,
    /// `pxe-get`, `pxe-get-BLK`, `pxe-get-BLK-wsW`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "curl,curl-1468,atftp-1468,atftp-1468-ws16,atftp-1468-ws64,pxe-get-1468,pxe-get-1468-ws16,pxe-get-1468-ws64"
    )]
    cases: Vec<String>,
    /// The `pxe` binary.
    #[arg(long, default_value = "target/release/pxe")]
    pxe: PathBuf,
    /// Extra arguments for `pxe tftp` (after `--root`/`--listen`), space-separated.
    #[arg(long, default_value = "--windowsize-max 64")]
    pxe_tftp_args: String,
    /// The atftpd binary (conflicts with tftpd-hpa as a package; unpacked by install-deps).
    #[arg(long, default_value = "/usr/local/sbin/atftpd")]
    atftpd: PathBuf,
    /// Scratch directory (served root and downloads); tmpfs keeps disk writeback out of it.
    #[arg(long, default_value = "/dev/shm/pxe-bench")]
    work: PathBuf,
    /// CPU list for servers (`taskset -c`), or `none`.
    #[arg(long, default_value = "0")]
    server_cpus: String,
    /// CPU list for clients (`taskset -c`), or `none`.
    #[arg(long, default_value = "0")]
    client_cpus: String,
    /// Per-download timeout, seconds (the client is killed by pid and the run counts as failed).
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// UDP payload for the loopback ceiling (TFTP DATA payload; +4 bytes header).
    #[arg(long, default_value_t = 1468)]
    ceiling_payload: usize,
    /// Append every run as CSV here.
    #[arg(long)]
    csv: Option<PathBuf>,
}

fn pin(list: &str) -> Pin {
    if list == "none" {
        Pin::Anywhere
    } else {
        Pin::Cpus(list.to_owned())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Curl,
    Atftp,
    PxeGet,
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    client: Client,
    blksize: Option<u16>,
    windowsize: Option<u16>,
}

fn parse_case(name: &str) -> Result<Case, String> {
    let (client, rest) = if let Some(r) = name.strip_prefix("pxe-get") {
        (Client::PxeGet, r)
    } else if let Some(r) = name.strip_prefix("curl") {
        (Client::Curl, r)
    } else if let Some(r) = name.strip_prefix("atftp") {
        (Client::Atftp, r)
    } else {
        return Err(format!("unknown client in case {name:?}"));
    };
    let mut blksize = None;
    let mut windowsize = None;
    for part in rest.split('-').filter(|p| !p.is_empty()) {
        let bad = || format!("bad option {part:?} in case {name:?}");
        if let Some(w) = part.strip_prefix("ws") {
            windowsize = Some(w.parse().map_err(|_| bad())?);
        } else {
            blksize = Some(part.parse().map_err(|_| bad())?);
        }
    }
    if client == Client::Curl && windowsize.is_some() {
        return Err(format!("curl has no windowsize ({name:?})"));
    }
    Ok(Case {
        name: name.to_owned(),
        client,
        blksize,
        windowsize,
    })
}

fn client_command(case: &Case, pin: &Pin, pxe: &Path, port: u16, out: &Path) -> Command {
    match case.client {
        Client::Curl => {
            let mut c = pin.command("curl");
            c.arg("-s").arg("-o").arg(out);
            if let Some(b) = case.blksize {
                c.arg("--tftp-blksize").arg(b.to_string());
            }
            c.arg(format!("tftp://127.0.0.1:{port}/big.bin"));
            c
        }
        Client::Atftp => {
            let mut c = pin.command("atftp");
            if let Some(b) = case.blksize {
                c.arg("--option").arg(format!("blksize {b}"));
            }
            if let Some(w) = case.windowsize {
                c.arg("--option").arg(format!("windowsize {w}"));
            }
            c.args(["-g", "-r", "big.bin", "-l"])
                .arg(out)
                .arg("127.0.0.1")
                .arg(port.to_string());
            c
        }
        Client::PxeGet => {
            let mut c = pin.command(&pxe.to_string_lossy());
            c.arg("get")
                .arg(format!("tftp://127.0.0.1:{port}/big.bin"))
                .arg("-o")
                .arg(out);
            if let Some(b) = case.blksize {
                c.arg("--blksize").arg(b.to_string());
            }
            if let Some(w) = case.windowsize {
                c.arg("--windowsize").arg(w.to_string());
            }
            c
        }
    }
}

/// A running peer: its daemon, port and (where cgroup-v1 cpuacct exists) its CPU meter.
struct Running {
    name: String,
    daemon: Daemon,
    port: u16,
    cpu: Option<CpuMeter>,
}

fn start_server(name: &str, args: &Args, root: &Path, logs: &Path) -> io::Result<Running> {
    let p = pin(&args.server_cpus);
    let log = logs.join(format!("{name}.log"));
    let (cmd, port) = match name {
        "pxe" => {
            let mut c = p.command(&args.pxe.to_string_lossy());
            c.arg("tftp")
                .arg("--root")
                .arg(root)
                .arg("--listen")
                .arg("127.0.0.1:6971");
            c.args(args.pxe_tftp_args.split_whitespace());
            (c, 6971)
        }
        "tftpd-hpa" => {
            let mut c = p.command("in.tftpd");
            c.args(["-L", "-a", "127.0.0.1:6969", "-s"])
                .arg(root)
                .args(["-u", "nobody"]);
            (c, 6969)
        }
        "atftpd" => {
            let mut c = p.command(&args.atftpd.to_string_lossy());
            c.args([
                "--daemon",
                "--no-fork",
                "--port",
                "6970",
                "--bind-address",
                "127.0.0.1",
            ]);
            c.args([
                "--user",
                "nobody",
                "--group",
                "nogroup",
                "--logfile",
                "/dev/null",
            ])
            .arg(root);
            (c, 6970)
        }
        "dnsmasq" => {
            // dnsmasq has no TFTP port option: its TFTP is always UDP 69.
            let mut c = p.command("dnsmasq");
            c.args(["-k", "-C", "/dev/null", "--port=0", "--enable-tftp"])
                .arg(format!("--tftp-root={}", root.display()))
                .args([
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--user=nobody",
                ])
                .arg(format!("--pid-file={}", logs.join("dnsmasq.pid").display()))
                .arg(format!(
                    "--log-facility={}",
                    logs.join("dnsmasq-log.txt").display()
                ));
            (c, 69)
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown server {other}"),
            ));
        }
    };
    let mut d = Daemon::spawn(name, cmd, &log)?;
    // Into its CPU group before the readiness probe makes a forking server fork.
    let cpu = CpuMeter::new(name, d.pid());
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    if let Err(e) = wait_tftp_ready(addr, Duration::from_secs(5)) {
        let exited = d.exited();
        return Err(io::Error::other(format!(
            "{name} not answering on {addr} ({e}; exited: {exited:?}; see {})",
            log.display()
        )));
    }
    Ok(Running {
        name: name.to_owned(),
        daemon: d,
        port,
        cpu,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let cases = args
        .cases
        .iter()
        .map(|c| parse_case(c))
        .collect::<Result<Vec<_>, _>>()?;
    let root = args.work.join("root");
    let logs = args.work.join("logs");
    std::fs::create_dir_all(&root)?;
    std::fs::create_dir_all(&logs)?;
    // The peers drop to `nobody`: the root must be world-readable.
    for dir in [&args.work, &root] {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }
    let file = root.join("big.bin");
    let size = args.size_mib * 1024 * 1024;
    eprintln!(
        "writing {} MiB of random data to {}",
        args.size_mib,
        file.display()
    );
    let want = pxe_benches::write_random_file(&file, size, 7)?;
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;

    let mut servers = Vec::new();
    for name in &args.servers {
        let r = start_server(name, &args, &root, &logs)?;
        eprintln!("{name}: pid {} on 127.0.0.1:{}", r.daemon.pid(), r.port);
        servers.push(r);
    }
    let client_pin = pin(&args.client_cpus);
    let out = args.work.join("out.bin");
    let timeout = Duration::from_secs(args.timeout_secs);
    let mut csv =
        String::from("run,case,server,seconds,mib_per_s,sha_ok,timed_out,server_cpu_ms\n");
    // (case, server) -> MiB/s of every run, 0 for a failed one.
    let mut results: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    let mut failures: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    // (case, server) -> server CPU ms per MiB of every good run.
    let mut cpu: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    eprintln!("load average before: {}", pxe_benches::loadavg());
    for run in 0..args.runs {
        for (ci, case) in cases.iter().enumerate() {
            // Alternate: each run starts with a different server.
            for k in 0..servers.len() {
                let si = (k + run) % servers.len();
                let Running {
                    name: sname,
                    daemon,
                    port,
                    cpu: meter,
                } = &mut servers[si];
                if let Some(status) = daemon.exited() {
                    return Err(format!("{sname} died ({status})").into());
                }
                let _ = std::fs::remove_file(&out);
                let cmd = client_command(case, &client_pin, &args.pxe, *port, &out);
                let cpu0 = meter.as_ref().and_then(|m| m.usage_ns().ok());
                let t = run_timed(cmd, timeout)?;
                let cpu_ms = cpu0
                    .zip(meter.as_ref().and_then(|m| m.usage_ns().ok()))
                    .map(|(a, b)| b.saturating_sub(a) as f64 / 1e6);
                let sha_ok = t.ok && sha256_file(&out).is_ok_and(|h| h == want);
                if let (true, Some(ms)) = (sha_ok, cpu_ms) {
                    cpu.entry((ci, si))
                        .or_default()
                        .push(ms / args.size_mib as f64);
                }
                let rate = if sha_ok { mib_per_s(size, t.secs) } else { 0.0 };
                results.entry((ci, si)).or_default().push(rate);
                if !sha_ok {
                    *failures.entry((ci, si)).or_default() += 1;
                }
                let line = format!(
                    "{run},{},{sname},{:.3},{rate:.1},{sha_ok},{},{}\n",
                    case.name,
                    t.secs,
                    t.timed_out,
                    cpu_ms.map_or(String::new(), |m| format!("{m:.1}"))
                );
                eprint!("{line}");
                csv.push_str(&line);
            }
        }
    }
    let _ = std::fs::remove_file(&out);
    eprintln!("load average after: {}", pxe_benches::loadavg());
    for r in &mut servers {
        r.daemon.stop();
    }
    if let Some(path) = &args.csv {
        std::fs::write(path, &csv)?;
    }

    let (spin, cpin) = (pin(&args.server_cpus), pin(&args.client_cpus));
    let payload = args.ceiling_payload;
    let total = size.min(256 << 20);
    let blast = udp::blast(payload, total, &spin, &cpin)?;
    let win16 = udp::windowed(payload, 16, total, &spin, &cpin)?;
    let win64 = udp::windowed(payload, 64, total, &spin, &cpin)?;

    let pxe_index = servers.iter().position(|r| r.name == "pxe");
    let mut table = String::new();
    let _ = writeln!(
        table,
        "{} MiB file, {} runs, median MiB/s (server CPUs {}, client CPUs {}); (xN) = ratio to pxe tftp\n",
        args.size_mib, args.runs, args.server_cpus, args.client_cpus
    );
    let _ = write!(table, "| client case |");
    for r in &servers {
        let _ = write!(table, " {} |", r.name);
    }
    let _ = writeln!(table, " best peer / pxe |");
    let _ = writeln!(table, "|---|{}---|", "---|".repeat(servers.len()));
    for (ci, case) in cases.iter().enumerate() {
        let meds: Vec<f64> = (0..servers.len())
            .map(|si| {
                median(&mut results.get(&(ci, si)).cloned().unwrap_or_default()).unwrap_or(0.0)
            })
            .collect();
        let pxe = pxe_index.map(|i| meds[i]);
        let _ = write!(table, "| {} |", case.name);
        for (si, m) in meds.iter().enumerate() {
            let fails = failures.get(&(ci, si)).copied().unwrap_or(0);
            let fail = if fails > 0 {
                format!(" FAIL {fails}/{}", args.runs)
            } else {
                String::new()
            };
            match pxe {
                Some(p) if p > 0.0 && Some(si) != pxe_index => {
                    let _ = write!(table, " {m:.1} (x{:.2}){fail} |", m / p);
                }
                _ => {
                    let _ = write!(table, " {m:.1}{fail} |");
                }
            }
        }
        let best_peer = meds
            .iter()
            .enumerate()
            .filter(|(si, _)| Some(*si) != pxe_index)
            .map(|(_, m)| *m)
            .fold(0.0, f64::max);
        match pxe {
            Some(p) if best_peer > 0.0 => {
                let r = p / best_peer;
                let verdict = if r >= 1.5 {
                    "≥ 1.5x"
                } else if r >= 1.0 {
                    "not slower"
                } else {
                    "SLOWER"
                };
                let _ = writeln!(table, " pxe = {r:.2}x best peer ({verdict}) |");
            }
            _ => {
                let _ = writeln!(table, " - |");
            }
        }
    }
    if !cpu.is_empty() {
        let _ = writeln!(
            table,
            "\nserver CPU time per MiB served (ms, median; children included via cpuacct); (xN) = peer / pxe tftp\n"
        );
        let _ = write!(table, "| client case |");
        for r in &servers {
            let _ = write!(table, " {} |", r.name);
        }
        let _ = writeln!(table, "\n|---|{}", "---|".repeat(servers.len()));
        for (ci, case) in cases.iter().enumerate() {
            let med = |si: usize| median(&mut cpu.get(&(ci, si)).cloned().unwrap_or_default());
            let pxe = pxe_index.and_then(med);
            let _ = write!(table, "| {} |", case.name);
            for si in 0..servers.len() {
                match (med(si), pxe) {
                    (Some(m), Some(p)) if p > 0.0 && Some(si) != pxe_index => {
                        let _ = write!(table, " {m:.2} (x{:.2}) |", m / p);
                    }
                    (Some(m), _) => {
                        let _ = write!(table, " {m:.2} |");
                    }
                    (None, _) => {
                        let _ = write!(table, " - |");
                    }
                }
            }
            let _ = writeln!(table);
        }
    }
    let _ = writeln!(
        table,
        "\nloopback UDP ceiling, {}-byte datagrams ({payload} payload + 4), plain send/recv, sender CPUs {}, receiver CPUs {}:",
        payload + 4,
        args.server_cpus,
        args.client_cpus
    );
    let _ = writeln!(
        table,
        "- blast: {:.1} MiB/s received ({} of {} datagrams lost)",
        blast.mib_per_s, blast.lost, blast.sent
    );
    let _ = writeln!(table, "- window 16 + ACK: {:.1} MiB/s", win16.mib_per_s);
    let _ = writeln!(table, "- window 64 + ACK: {:.1} MiB/s", win64.mib_per_s);
    if let Some(i) = pxe_index {
        let ceiling = blast.mib_per_s.max(win16.mib_per_s).max(win64.mib_per_s);
        for (ci, case) in cases.iter().enumerate() {
            if case.client == Client::PxeGet && case.windowsize.is_some() {
                let m =
                    median(&mut results.get(&(ci, i)).cloned().unwrap_or_default()).unwrap_or(0.0);
                let _ = writeln!(
                    table,
                    "- {} on pxe tftp = {:.0}% of the best ceiling ({ceiling:.1} MiB/s)",
                    case.name,
                    100.0 * m / ceiling
                );
            }
        }
    }
    println!("{table}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_parse() {
        let c = parse_case("atftp-1468-ws16").unwrap();
        assert_eq!(
            (c.client, c.blksize, c.windowsize),
            (Client::Atftp, Some(1468), Some(16))
        );
        let c = parse_case("pxe-get").unwrap();
        assert_eq!(
            (c.client, c.blksize, c.windowsize),
            (Client::PxeGet, None, None)
        );
        assert!(parse_case("curl-1468-ws4").is_err());
        assert!(parse_case("wget").is_err());
    }
}
