//! `pxe` started for a test and waited on until it logs "TFTP listening": its log and stdout
//! kept in memory, the address it listens on parsed from the log, killed by pid when dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::netns;
use super::process::Guard;
use super::tools::PXE;

/// A running `pxe` process, killed (by pid) when dropped.
pub struct Pxe {
    child: Guard,
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
        Self::launch(netns::command(ns, PXE), args)
    }

    fn launch(mut cmd: Command, args: &[&str]) -> Self {
        let child = cmd
            .args(args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pxe");
        // Guarded at once: a failure below kills it by pid.
        let mut child = Guard::new("pxe", child, Duration::ZERO);
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.take_stderr().expect("stderr piped");
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
        let mut out = child.take_stdout().expect("stdout piped");
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
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(20)) else {
            panic!(
                "pxe {args:?} did not start; log:\n{}",
                log.lock().map(|l| l.clone()).unwrap_or_default()
            );
        };
        Self {
            child,
            addr: addr.parse().expect("listen address"),
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
        self.child.pid()
    }

    /// Sends SIGTERM and waits up to `timeout` for a clean exit; returns its status code.
    pub fn terminate(self, timeout: Duration) -> Option<i32> {
        self.signal(nix::sys::signal::Signal::SIGTERM, timeout)
    }

    /// Sends `sig` and waits up to `timeout` for the process to exit; returns its status code.
    pub fn signal(mut self, sig: nix::sys::signal::Signal, timeout: Duration) -> Option<i32> {
        self.child.signal(sig, timeout)?.code()
    }

    /// The address of its "`WHAT` listening" log line (`"HTTP"`, `"admin"`, ...), waited for
    /// up to `timeout`.
    pub fn listening(&self, what: &str, timeout: Duration) -> SocketAddr {
        let needle = format!("{what} listening");
        assert!(
            self.wait_log(&needle, timeout),
            "no {needle} line:\n{}",
            self.log()
        );
        self.log()
            .lines()
            .find(|l| l.contains(&needle))
            .and_then(listen_field)
            .unwrap_or_else(|| panic!("no listen field in the {needle} line:\n{}", self.log()))
            .parse()
            .expect("listen address")
    }

    /// `tftp://127.0.0.1:PORT/name`.
    pub fn url(&self, name: &str) -> String {
        format!("tftp://{}/{name}", self.addr)
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
