//! DHCP load: kea's `perfdhcp` (Debian `kea-admin`) in one network namespace against a DHCP
//! server in another, joined by a veth pair this program creates and deletes. Servers:
//! `pxe serve --dhcp server` with an empty lease file (`pxe`) or one already holding N active
//! leases (`pxe:N`), dnsmasq (`leasefile-ro`) and dnsmasq writing its lease file, all with the
//! same pool (10.65.0.0-10.79.255.254, a /12: room for 100 000 leases and the load). For each
//! server the offered rate steps up; each step gets a fresh server (and a fresh copy of its
//! lease file). The whole series runs `--runs` times. Reported: achieved 4-way exchanges
//! (DISCOVER-OFFER-REQUEST-ACK) per second and the drop ratio of each step, the highest rate
//! with zero drops of each run, and their median and spread.
//!
//! Run as root: `cargo run --release -p pxe-benches --bin dhcp-load -- --help`

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use nix::sys::signal::Signal;
use pxe_benches::{Daemon, kill_pid};

const SRV_NS: &str = "pxeperf-srv";
const CLI_NS: &str = "pxeperf-cli";
const SRV_IF: &str = "veth-psrv";
const CLI_IF: &str = "veth-pcli";
const POOL_FIRST: &str = "10.65.0.0";
const POOL_LAST: &str = "10.79.255.254";

#[derive(Parser, Debug)]
#[command(about = "perfdhcp against pxe serve --dhcp server and dnsmasq (run as root)")]
struct Args {
    /// Servers, comma-separated: pxe, pxe:N (N active leases in its lease file at start),
    /// dnsmasq (leasefile-ro), dnsmasq-leases (writes leases).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "pxe,pxe:10000,pxe:100000,dnsmasq"
    )]
    servers: Vec<String>,
    /// How many times the whole series runs (the zero-drop rate's median and spread).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Offered rates (exchanges/s), stepped up until drops pass `--stop-drops`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "250,500,1000,1250,1500,1750,2000,2250,2500,2750,3000,3500,4000,5000,6000,8000,10000,12000,16000"
    )]
    rates: Vec<u32>,
    /// Seconds per step.
    #[arg(long, default_value_t = 5)]
    secs: u32,
    /// Stop stepping a server up once the drop ratio (%) of a step passes this.
    #[arg(long, default_value_t = 10.0)]
    stop_drops: f64,
    /// Every DISCOVER carries PXE option 60 `PXEClient:Arch:00000:UNDI:002001` and 93 = 0.
    #[arg(long)]
    pxe_options: bool,
    /// The `pxe` binary.
    #[arg(long, default_value = "target/release/pxe")]
    pxe: PathBuf,
    /// Arguments of the pxe server; `{leases}`, `{root}`, `{if}`, `{first}`, `{last}` are
    /// substituted.
    #[arg(
        long,
        default_value = "serve --dhcp server --interface {if} --dhcp-range {first},{last} --leases {leases} --root {root}"
    )]
    pxe_args: String,
    /// Scratch directory.
    #[arg(long, default_value = "/tmp/pxe-dhcp-load")]
    work: PathBuf,
    /// CPU list for the server (`taskset -c`), or `none`.
    #[arg(long, default_value = "0")]
    server_cpus: String,
    /// Record `perf record -g` (cpu-clock) of the server during every step into
    /// `DIR/perf-SERVER-rRATE.data` (report with `perf report -i FILE --no-children`).
    #[arg(long, value_name = "DIR")]
    perf_dir: Option<PathBuf>,
    /// CPU list for perfdhcp, or `none`.
    #[arg(long, default_value = "1")]
    client_cpus: String,
}

/// The namespace pair; deleted on drop.
struct Netns;

impl Netns {
    fn up() -> io::Result<Self> {
        Self::delete();
        let steps: [&[&str]; 10] = [
            &["netns", "add", SRV_NS],
            &["netns", "add", CLI_NS],
            &["-n", SRV_NS, "link", "set", "lo", "up"],
            &["-n", CLI_NS, "link", "set", "lo", "up"],
            &[
                "-n", SRV_NS, "link", "add", SRV_IF, "type", "veth", "peer", "name", CLI_IF,
                "netns", CLI_NS,
            ],
            &["-n", SRV_NS, "addr", "add", "10.64.0.1/12", "dev", SRV_IF],
            &["-n", CLI_NS, "addr", "add", "10.64.0.2/12", "dev", CLI_IF],
            &["-n", SRV_NS, "link", "set", SRV_IF, "up"],
            &["-n", CLI_NS, "link", "set", CLI_IF, "up"],
            &[
                "-n",
                SRV_NS,
                "route",
                "add",
                "255.255.255.255/32",
                "dev",
                SRV_IF,
            ],
        ];
        let ns = Netns;
        for step in steps {
            let st = Command::new("ip").args(step).status()?;
            if !st.success() {
                return Err(io::Error::other(format!("ip {} failed", step.join(" "))));
            }
        }
        Ok(ns)
    }

    fn delete() {
        for ns in [CLI_NS, SRV_NS] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        Self::delete();
    }
}

fn in_ns(ns: &str, cpus: &str, program: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]);
    if cpus != "none" {
        c.args(["taskset", "-c", cpus]);
    }
    c.arg(program);
    c
}

/// One perfdhcp step.
#[derive(Debug, Default, Clone, Copy)]
struct Step {
    offered: u32,
    rate: f64,
    do_sent: u64,
    do_drops: u64,
    ra_sent: u64,
    ra_drops: u64,
}

impl Step {
    fn drop_pct(&self) -> f64 {
        let sent = (self.do_sent + self.ra_sent).max(1) as f64;
        100.0 * (self.do_drops + self.ra_drops) as f64 / sent
    }
}

fn number_after(line: &str, key: &str) -> Option<f64> {
    let rest = line.trim().strip_prefix(key)?;
    rest.split_whitespace()
        .next()?
        .trim_end_matches('%')
        .parse()
        .ok()
}

/// Reads perfdhcp's report (the two exchange sections). The achieved rate is completed
/// exchanges (ACKs received) over the test period: perfdhcp's own "Rate:" also counts the
/// exit wait.
fn parse_perfdhcp(offered: u32, secs: u32, text: &str) -> Step {
    let mut s = Step {
        offered,
        ..Step::default()
    };
    let mut section = 0;
    for line in text.lines() {
        if line.contains("Statistics for: DISCOVER-OFFER") {
            section = 1;
        } else if line.contains("Statistics for: REQUEST-ACK") {
            section = 2;
        }
        let (sent, drops) = match section {
            1 => (&mut s.do_sent, &mut s.do_drops),
            2 => (&mut s.ra_sent, &mut s.ra_drops),
            _ => continue,
        };
        if let Some(v) = number_after(line, "sent packets:") {
            *sent = v as u64;
        } else if let Some(v) = number_after(line, "drops:") {
            *drops = v as u64;
        }
    }
    s.rate = s.ra_sent.saturating_sub(s.ra_drops) as f64 / f64::from(secs.max(1));
    s
}

/// A `pxe-leases/2` lease file holding `n` bound leases (an hour left) at the start of the
/// pool, for clients perfdhcp never uses (locally administered MACs `02:...`).
fn prefill(path: &std::path::Path, n: u32) -> io::Result<()> {
    use std::io::Write as _;
    let first = u32::from(
        POOL_FIRST
            .parse::<std::net::Ipv4Addr>()
            .map_err(io::Error::other)?,
    );
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(io::Error::other)?
        .as_micros()
        + 3_600_000_000;
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "{{\"format\":\"pxe-leases/2\",\"snapshot\":{n}}}")?;
    for i in 0..n {
        let ip = std::net::Ipv4Addr::from(first + i);
        let [_, a, b, c] = i.to_be_bytes();
        writeln!(
            out,
            "{{\"ip\":\"{ip}\",\"mac\":\"02:00:00:{a:02x}:{b:02x}:{c:02x}\",\"state\":\"bound\",\"expires\":{{\"micros\":{expires}}}}}"
        )?;
    }
    out.flush()
}

fn start_server(name: &str, args: &Args) -> io::Result<Daemon> {
    let leases = args.work.join(format!("{}.leases", name.replace(':', "-")));
    let _ = std::fs::remove_file(&leases);
    let log = args.work.join(format!("{}.log", name.replace(':', "-")));
    let (kind, n) = match name.split_once(':') {
        Some((k, n)) => (k, n.parse::<u32>().map_err(io::Error::other)?),
        None => (name, 0),
    };
    if kind == "pxe" && n > 0 {
        prefill(&leases, n)?;
    }
    let cmd = match kind {
        "pxe" => {
            let root = args.work.join("root");
            std::fs::create_dir_all(&root)?;
            std::fs::write(root.join("pxelinux.0"), b"not a real NBP")?;
            let mut c = in_ns(SRV_NS, &args.server_cpus, &args.pxe.to_string_lossy());
            for a in args.pxe_args.split_whitespace() {
                c.arg(
                    a.replace("{leases}", &leases.to_string_lossy())
                        .replace("{root}", &root.to_string_lossy())
                        .replace("{if}", SRV_IF)
                        .replace("{first}", POOL_FIRST)
                        .replace("{last}", POOL_LAST),
                );
            }
            c
        }
        "dnsmasq" | "dnsmasq-leases" => {
            let conf = args.work.join(format!("{name}.conf"));
            let mut text = format!(
                "port=0\ninterface={SRV_IF}\nbind-interfaces\ndhcp-authoritative\nno-ping\nquiet-dhcp\n\
                 dhcp-lease-max=1000000\ndhcp-range={POOL_FIRST},{POOL_LAST},255.240.0.0,1h\n\
                 dhcp-leasefile={}\ndhcp-boot=pxelinux.0\n",
                leases.display()
            );
            if name == "dnsmasq" {
                text.push_str("leasefile-ro\n");
            }
            std::fs::write(&conf, text)?;
            let mut c = in_ns(SRV_NS, &args.server_cpus, "dnsmasq");
            c.arg("-k").arg("-C").arg(&conf).arg("--user=root");
            c.arg(format!(
                "--pid-file={}",
                args.work.join(format!("{name}.pid")).display()
            ));
            c
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown server {other}"),
            ));
        }
    };
    let mut d = Daemon::spawn(name, cmd, &log)?;
    thread::sleep(Duration::from_millis(700));
    if kind == "pxe" {
        // Loading (and compacting) a large lease file takes a moment: wait for the socket.
        let t0 = Instant::now();
        while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("DHCP listening"))
            && t0.elapsed() < Duration::from_secs(60)
            && d.exited().is_none()
        {
            thread::sleep(Duration::from_millis(100));
        }
    }
    if let Some(st) = d.exited() {
        return Err(io::Error::other(format!(
            "{name} exited at start ({st}); see {}",
            log.display()
        )));
    }
    Ok(d)
}

fn perfdhcp(args: &Args, rate: u32) -> io::Result<String> {
    let mut c = in_ns(CLI_NS, &args.client_cpus, "perfdhcp");
    c.args(["-4", "-l", CLI_IF, "-r", &rate.to_string(), "-R", "60000"]);
    // -W: after the period, wait 1 s for replies still in flight (a server that batches its
    // lease-file writes answers a burst late, not never); a reply later than perfdhcp's drop
    // time (-d, 1 s) is a drop. No -D abort: its early-ratio check kills a test in the first
    // burst of a server that answers ~50 ms late.
    c.args(["-p", &args.secs.to_string(), "-W", "1000000"]);
    if args.pxe_options {
        let hex: String = b"PXEClient:Arch:00000:UNDI:002001"
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        c.arg("-o").arg(format!("60,{hex}")).args(["-o", "93,0000"]);
    }
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let pid = child.id();
    // Bounded: perfdhcp stops itself after -p seconds; kill it by pid if it does not.
    let limit = Duration::from_secs(u64::from(args.secs) + 20);
    let watchdog = thread::spawn(move || {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            thread::sleep(Duration::from_millis(100));
            if std::fs::metadata(format!("/proc/{pid}")).is_err() {
                return;
            }
        }
        kill_pid(pid, Signal::SIGKILL);
    });
    let out = child.wait_with_output()?;
    let _ = watchdog.join();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(text)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.work)?;
    let _ns = Netns::up()?;
    let mut report = String::new();
    // Per (server, run): the zero-drop rate, and the peak achieved rate of any step.
    let mut best: Vec<(String, f64, f64)> = Vec::new();
    eprintln!("load average before: {}", pxe_benches::loadavg());
    for (run, name) in (1..=args.runs).flat_map(|r| args.servers.iter().map(move |n| (r, n))) {
        let _ = writeln!(
            report,
            "\n{name} (run {run}):\n\n| offered /s | achieved exchanges/s | drops D-O | drops R-A | drops % |"
        );
        let _ = writeln!(report, "|---|---|---|---|---|");
        let mut clean_best = 0.0f64;
        let mut peak = 0.0f64;
        for &rate in &args.rates {
            let mut server = start_server(name, &args)?;
            let perf = match &args.perf_dir {
                Some(dir) => {
                    std::fs::create_dir_all(dir)?;
                    let out = dir.join(format!("perf-{name}-r{rate}.data"));
                    let mut c = Command::new("perf");
                    c.args([
                        "record",
                        "-q",
                        "-e",
                        "cpu-clock",
                        "-g",
                        "-p",
                        &server.pid().to_string(),
                        "-o",
                    ]);
                    c.arg(out);
                    Some(Daemon::spawn("perf", c, &args.work.join("perf.log"))?)
                }
                None => None,
            };
            let text = perfdhcp(&args, rate)?;
            if let Some(mut p) = perf {
                // SIGINT makes perf write its file; Daemon::stop then reaps it.
                kill_pid(p.pid(), Signal::SIGINT);
                thread::sleep(Duration::from_millis(500));
                p.stop();
            }
            let died = server.exited();
            server.stop();
            std::fs::write(
                args.work
                    .join(format!("{}-run{run}-r{rate}.txt", name.replace(':', "-"))),
                &text,
            )?;
            let s = parse_perfdhcp(rate, args.secs, &text);
            let _ = writeln!(
                report,
                "| {} | {:.1} | {}/{} | {}/{} | {:.2} |",
                s.offered,
                s.rate,
                s.do_drops,
                s.do_sent,
                s.ra_drops,
                s.ra_sent,
                s.drop_pct()
            );
            eprintln!(
                "{name} offered {rate}: {:.1}/s, drops {:.2}%",
                s.rate,
                s.drop_pct()
            );
            if let Some(st) = died {
                let _ = writeln!(report, "(server exited during the step: {st})");
                break;
            }
            if s.do_sent > 0 && s.do_drops + s.ra_drops == 0 {
                clean_best = clean_best.max(s.rate);
            }
            peak = peak.max(s.rate);
            if s.do_sent == 0 || s.drop_pct() > args.stop_drops {
                break;
            }
        }
        best.push((name.clone(), clean_best, peak));
    }
    eprintln!("load average after: {}", pxe_benches::loadavg());
    let _ = writeln!(
        report,
        "\nsummary ({} s steps, pool {POOL_FIRST}-{POOL_LAST}, server CPUs {}, perfdhcp CPUs {}{}):\n",
        args.secs,
        args.server_cpus,
        args.client_cpus,
        if args.pxe_options {
            ", PXE options 60+93"
        } else {
            ""
        }
    );
    let _ = writeln!(
        report,
        "| server | zero-drop exchanges/s: median (min-max) of {} runs | each run | peak achieved exchanges/s: median (min-max) |",
        args.runs
    );
    let _ = writeln!(report, "|---|---|---|---|");
    let stats = |n: &str, peak: bool| -> (f64, f64, f64, Vec<f64>) {
        let v: Vec<f64> = best
            .iter()
            .filter(|(name, _, _)| name == n)
            .map(|(_, c, p)| if peak { *p } else { *c })
            .collect();
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        let med = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
        let min = sorted.first().copied().unwrap_or(0.0);
        let max = sorted.last().copied().unwrap_or(0.0);
        (med, min, max, v)
    };
    let median = |n: &str| Some(stats(n, false).0).filter(|_| args.servers.iter().any(|s| s == n));
    for name in &args.servers {
        let (med, min, max, runs) = stats(name, false);
        let (pmed, pmin, pmax, _) = stats(name, true);
        let each: Vec<String> = runs.iter().map(|r| format!("{r:.0}")).collect();
        let _ = writeln!(
            report,
            "| {name} | {med:.0} ({min:.0}-{max:.0}) | {} | {pmed:.0} ({pmin:.0}-{pmax:.0}) |",
            each.join(", ")
        );
    }
    let _ = writeln!(report);
    for (a, b) in [
        ("pxe:100000", "pxe"),
        ("pxe:10000", "pxe"),
        ("pxe", "dnsmasq"),
        ("pxe:100000", "dnsmasq"),
        ("pxe", "dnsmasq-leases"),
    ] {
        if let (Some(x), Some(y)) = (median(a), median(b).filter(|y| *y > 0.0)) {
            let (px, py) = (stats(a, true).0, stats(b, true).0);
            let _ = writeln!(
                report,
                "{a} / {b}: {:.2}x (median zero-drop exchanges/s), {:.2}x (median peak)",
                x / y,
                px / py.max(1.0)
            );
        }
    }
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_perfdhcp_report() {
        let text = "Rate: 999.483 4-way exchanges/second, expected rate: 1000\n\
            ***Statistics for: DISCOVER-OFFER***\nsent packets: 2999\nreceived packets: 2990\n\
            drops: 9\ndrops ratio: 0.3 %\n***Statistics for: REQUEST-ACK***\nsent packets: 2990\n\
            received packets: 2990\ndrops: 0\n";
        let s = parse_perfdhcp(1000, 2, text);
        assert_eq!(
            (s.do_sent, s.do_drops, s.ra_sent, s.ra_drops),
            (2999, 9, 2990, 0)
        );
        assert!((s.rate - 1495.0).abs() < 1e-9);
    }
}
