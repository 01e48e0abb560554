//! Helpers for the TFTP and CLI integration tests: start `pxe` on a free loopback port, kill it
//! by pid when the test ends (pass or panic), demand real tools, make random files; a veth
//! link between two network namespaces ([`netns`]).

#![allow(dead_code, reason = "each test crate uses a different subset")]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

pub mod netns;

/// The `pxe` binary under test.
pub const PXE: &str = env!("CARGO_BIN_EXE_pxe");

/// A running `pxe` process, killed (by pid) when dropped.
pub struct Pxe {
    child: Child,
    /// The TFTP listen address it reported.
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    /// Its stdout, when captured.
    pub stdout: Arc<Mutex<String>>,
}

impl Pxe {
    /// `pxe tftp --root ROOT --listen 127.0.0.1:0 EXTRA...`.
    pub fn tftp(root: &Path, extra: &[&str]) -> Self {
        let root = root.to_str().expect("utf-8 temp path");
        let mut args = vec!["tftp", "--root", root, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Self::start(&args)
    }

    /// Starts `pxe ARGS...` and waits for its "TFTP listening" log line.
    pub fn start(args: &[&str]) -> Self {
        Self::launch(Command::new(PXE), args)
    }

    /// Starts `pxe ARGS...` inside network namespace `ns`. `ip netns exec` execs pxe, so the
    /// pid killed on drop is pxe's own.
    pub fn start_in(ns: &str, args: &[&str]) -> Self {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, PXE]);
        Self::launch(cmd, args)
    }

    fn launch(mut cmd: Command, args: &[&str]) -> Self {
        let mut child = cmd
            .args(args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pxe");
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr piped");
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("TFTP listening")
                    && let Some(addr) = listen_field(&line)
                {
                    let _ = tx.send(addr);
                }
                let mut l = log2
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut out = child.stdout.take().expect("stdout piped");
        let stdout2 = Arc::clone(&stdout);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                stdout2
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "pxe {args:?} did not start; log:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
        };
        Self {
            child,
            addr,
            log,
            stdout,
        }
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until the log contains `needle`; false after `timeout`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `timeout` for a clean exit; returns its status code.
    pub fn terminate(self, timeout: Duration) -> Option<i32> {
        self.signal(nix::sys::signal::Signal::SIGTERM, timeout)
    }

    /// Sends `sig` and waits up to `timeout` for the process to exit; returns its status code.
    pub fn signal(mut self, sig: nix::sys::signal::Signal, timeout: Duration) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).ok()?);
        nix::sys::signal::kill(pid, sig).ok()?;
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// `tftp://127.0.0.1:PORT/name`.
    pub fn url(&self, name: &str) -> String {
        format!("tftp://{}/{name}", self.addr)
    }
}

impl Drop for Pxe {
    fn drop(&mut self) {
        // Kill by pid, always: a failed assertion must not leave a server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `listen` field of a "TFTP listening" line, text (`listen=A`) or JSON (`"listen":"A"`).
fn listen_field(line: &str) -> Option<String> {
    if let Some(rest) = line.split("\"listen\":\"").nth(1) {
        return rest.split('"').next().map(str::to_owned);
    }
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("listen="))
        .map(str::to_owned)
}

/// Panics (never skips) when `tool` is missing, naming the Debian package that ships it.
pub fn require(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()));
    assert!(
        found,
        "`{tool}` is not installed: this test needs the Debian package `{package}` \
         (run `sudo bash scripts/install-deps.sh`, or `apt-get install {package}`)"
    );
}

/// Writes `len` pseudo-random bytes (seeded) to `path`; returns their SHA-256 in hex.
pub fn random_file(path: &Path, len: usize, seed: u64) -> String {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut data = vec![0u8; len];
    rng.fill_bytes(&mut data);
    std::fs::write(path, &data).expect("write test file");
    hex::encode(Sha256::digest(&data))
}

/// SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> String {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    hex::encode(Sha256::digest(&data))
}

/// Runs a command with a time limit; panics with its output if it cannot be started.
pub fn run(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    let end = Instant::now() + timeout;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "{cmd:?} took longer than {timeout:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("collect output")
}
