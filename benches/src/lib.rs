//! Shared helpers for the pxe performance harnesses (`tftp-compare`, `tftp-scale`,
//! `dhcp-load`) and the criterion benches.
//!
//! Everything here is plain `std` + `nix`: spawning peers pinned with `taskset`, killing every
//! process by its pid, timing a client with a hard timeout, checking a download's SHA-256,
//! reading a server's peak RSS from `/proc`, and a plain UDP sender/receiver pair that gives the
//! loopback ceiling a TFTP transfer cannot beat.
//!
//! ```
//! use pxe_benches::median;
//! assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
//! assert_eq!(median(&mut []), None);
//! ```

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::RngCore;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

pub mod cpu;
pub mod fixtures;
pub mod fleet;
pub mod transfer;
pub mod udp;

/// Where a process runs: the CPU list given to `taskset -c`, or anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// Let the scheduler place the process.
    Anywhere,
    /// `taskset -c LIST`.
    Cpus(String),
}

impl Pin {
    /// The command prefix that applies this placement to a child.
    pub fn command(&self, program: &str) -> Command {
        match self {
            Pin::Anywhere => Command::new(program),
            Pin::Cpus(list) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c").arg(list).arg(program);
                cmd
            }
        }
    }

    /// Pins the calling thread (Linux: thread affinity) to this placement's CPUs.
    pub fn apply_to_current_thread(&self) -> io::Result<()> {
        let Pin::Cpus(list) = self else { return Ok(()) };
        let mut set = CpuSet::new();
        for part in list.split(',') {
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (parse_cpu(a)?, parse_cpu(b)?),
                None => (parse_cpu(part)?, parse_cpu(part)?),
            };
            for cpu in lo..=hi {
                set.set(cpu)?;
            }
        }
        // Pid 0 is the calling thread.
        Ok(sched_setaffinity(Pid::from_raw(0), &set)?)
    }
}

fn parse_cpu(s: &str) -> io::Result<usize> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|c| *c < 1024)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("bad cpu {s:?}")))
}

/// A long-running child (a server under test) that is killed by its pid when dropped.
#[derive(Debug)]
pub struct Daemon {
    /// Human name for messages.
    pub name: String,
    child: Child,
}

impl Daemon {
    /// Spawns `cmd` with stdin closed and stdout/stderr sent to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> io::Result<Self> {
        let out = File::create(log)?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawning {name}: {e}")))?;
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    /// The daemon's pid (with `taskset` it execs, so this is the server's own pid).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` if the daemon has already exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, up to 2 s grace, then SIGKILL; always reaps.
    pub fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        kill_pid(self.child.id(), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `signal` to one pid (never to a group or by name).
pub fn kill_pid(pid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

/// How a timed client run ended.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    /// Wall time from spawn to exit (or to the kill).
    pub secs: f64,
    /// `true` if the process exited with status 0 before the timeout.
    pub ok: bool,
    /// `true` if it had to be killed.
    pub timed_out: bool,
}

/// Runs `cmd` to completion (stdout/stderr discarded), killing it by pid after `timeout`.
pub fn run_timed(mut cmd: Command, timeout: Duration) -> io::Result<Timed> {
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Timed {
                secs: t0.elapsed().as_secs_f64(),
                ok: status.success(),
                timed_out: false,
            });
        }
        if t0.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Timed {
                secs: t0.elapsed().as_secs_f64(),
                ok: false,
                timed_out: true,
            });
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// Writes `size` bytes of seeded ChaCha8 noise to `path` (incompressible, reproducible).
pub fn write_random_file(path: &Path, size: u64, seed: u64) -> io::Result<[u8; 32]> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut f = io::BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut hasher = Sha256::new();
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        let chunk = &mut buf[..n];
        rng.fill_bytes(chunk);
        hasher.update(&*chunk);
        f.write_all(chunk)?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(hasher.finalize().into())
}

/// SHA-256 of a whole file.
pub fn sha256_file(path: &Path) -> io::Result<[u8; 32]> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// Median of the values (sorts in place); `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// A `kB` field (`VmHWM`, `VmRSS`, ...) of `/proc/PID/status`, in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Waits until a TFTP server answers on `addr`: sends an RRQ for a name that does not exist
/// and waits for any reply (servers answer ERROR 1). `Err` after `within`.
pub fn wait_tftp_ready(addr: SocketAddr, within: Duration) -> io::Result<()> {
    let sock = UdpSocket::bind(if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    })?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut rrq = vec![0u8, 1];
    rrq.extend_from_slice(b"pxe-bench-probe-missing\0octet\0");
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        sock.send_to(&rrq, addr)?;
        if sock.recv_from(&mut buf).is_ok() {
            return Ok(());
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no TFTP answer from {addr}"),
    ))
}

/// The system's 1/5/15-minute load averages, as printed by `/proc/loadavg`.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `MiB/s` for `bytes` moved in `secs`.
pub fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut [5.0]), Some(5.0));
    }

    #[test]
    fn random_file_hash_matches_reread() {
        let dir = std::env::temp_dir().join(format!("pxe-benches-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.bin");
        let h = write_random_file(&p, 3 * 1024 * 1024 + 7, 1).unwrap();
        assert_eq!(sha256_file(&p).unwrap(), h);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 3 * 1024 * 1024 + 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn proc_status_reads_own_rss() {
        assert!(proc_status_kib(std::process::id(), "VmRSS").unwrap() > 0);
    }

    #[test]
    fn pin_parses_lists() {
        assert!(Pin::Cpus("0".into()).apply_to_current_thread().is_ok());
        assert!(Pin::Cpus("x".into()).apply_to_current_thread().is_err());
    }
}
