//! Processes a test starts: each is owned by a guard that stops it by pid when dropped, also
//! when the test fails, so no server, client or QEMU outlives its test.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A child process, stopped by pid when dropped: SIGTERM, up to its grace period to exit, then
/// SIGKILL (at once when the grace is zero); always reaped.
#[derive(Debug)]
pub struct Guard {
    what: String,
    /// Always `Some` until [`Guard::into_output`] takes it.
    child: Option<Child>,
    grace: Duration,
}

impl Guard {
    /// Takes charge of `child`, named `what` in failure messages.
    pub fn new(what: &str, child: Child, grace: Duration) -> Self {
        Self {
            what: what.to_owned(),
            child: Some(child),
            grace,
        }
    }

    fn child(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .expect("the child is taken only by into_output")
    }

    /// What the process is, for messages.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The exit status, once the process has exited (it is reaped then).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child().try_wait().ok().flatten()
    }

    /// Sends `sig` by pid and waits up to `limit` for the process to exit; its status, or
    /// `None` when it is still running (or the signal could not be sent).
    pub fn signal(&mut self, sig: Signal, limit: Duration) -> Option<ExitStatus> {
        // A reaped pid may belong to someone else by now: never signal it.
        if let Some(status) = self.exited() {
            return Some(status);
        }
        let pid = Pid::from_raw(i32::try_from(self.pid()).ok()?);
        kill(pid, sig).ok()?;
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL; reaps it.
    pub fn stop(&mut self, grace: Duration) {
        if grace.is_zero() || self.signal(Signal::SIGTERM, grace).is_none() {
            self.kill();
        }
    }

    /// SIGKILL (a crash: no chance to clean up) and reap.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the process to exit and collects its piped output.
    pub fn into_output(mut self) -> Output {
        let child = self.child.take().expect("the child is taken once");
        child.wait_with_output().expect("collect output")
    }

    /// The process's piped stdout, taken once.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child().stdout.take()
    }

    /// The process's piped stderr, taken once.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child().stderr.take()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Kill by pid, always: a failed assertion must not leave a process behind.
        self.stop(self.grace);
    }
}

/// A process whose stdout and stderr go to a log file; stopped by pid (SIGTERM, then SIGKILL
/// after 3 s) when dropped.
#[derive(Debug)]
pub struct Proc {
    guard: Guard,
    log: PathBuf,
}

impl Proc {
    /// Starts `cmd` (stdin from /dev/null), its stdout and stderr into `log` (truncated first).
    pub fn start(what: &str, cmd: &mut Command, log: &Path) -> Self {
        let out = File::create(log).expect("create a log file");
        let err = out.try_clone().expect("clone a log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {what} ({cmd:?}): {e}"));
        Self {
            guard: Guard::new(what, child, Duration::from_secs(3)),
            log: log.to_owned(),
        }
    }

    /// What the process is, for messages.
    pub fn what(&self) -> &str {
        self.guard.what()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// The exit status, once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.guard.exited()
    }

    /// The file holding the process's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the process has written so far.
    pub fn log(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Fails with the log when the process has already exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.exited() {
            panic!(
                "{} exited early ({status}); its log:\n{}",
                self.what(),
                self.log()
            );
        }
    }

    /// Waits until the log contains `needle`; fails with the log after `limit`.
    pub fn wait_log(&self, needle: &str, limit: Duration) {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if self.log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} did not log {needle:?} within {limit:?}; log:\n{}",
            self.what(),
            self.log()
        );
    }

    /// Stops the process: SIGTERM, up to `grace` to exit, then SIGKILL; reaps it.
    pub fn stop(&mut self, grace: Duration) {
        self.guard.stop(grace);
    }

    /// The clean stop: SIGTERM, and the process must exit successfully within `limit` (it is
    /// killed, and the test fails, when it does not).
    pub fn stop_clean(&mut self, limit: Duration) {
        match self.guard.signal(Signal::SIGTERM, limit) {
            Some(status) => assert!(
                status.success(),
                "{} exited with {status} after SIGTERM; log:\n{}",
                self.what(),
                self.log()
            ),
            None => {
                self.guard.kill();
                panic!(
                    "{} ignored SIGTERM for {limit:?}; log:\n{}",
                    self.what(),
                    self.log()
                );
            }
        }
    }

    /// SIGKILL: a crash, no chance to save anything.
    pub fn kill(&mut self) {
        self.guard.kill();
    }
}
