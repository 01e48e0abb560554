//! The binary under test, the tools a test needs (it fails, never skips, when one is missing)
//! and running commands: checked setup steps, and commands with a time limit.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::process::Guard;

/// The `pxe` binary under test.
pub const PXE: &str = env!("CARGO_BIN_EXE_pxe");

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

/// Panics (never skips) when `path` is missing, naming the Debian package that ships it.
pub fn require_file(path: &str, package: &str) {
    assert!(
        Path::new(path).is_file(),
        "{path} is missing: install package {package} (apt-get install -y {package})"
    );
}

/// Panics (never skips) without root, which network namespaces need.
pub fn require_root() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this test creates network namespaces and needs root (CI runs as root): \
         run `sudo cargo test -p pxe-bin`"
    );
}

/// `pxe ARGS...` to completion.
pub fn pxe(args: &[&str]) -> Output {
    Command::new(PXE).args(args).output().expect("run pxe")
}

/// A command's stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs a setup step to completion; panics with its stderr when it cannot start or fails.
pub fn checked(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("run {cmd:?}: {e} (scripts/install-deps.sh installs the test tools)")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `ip ARGS...` as a checked setup step.
pub fn ip(args: &[&str]) {
    checked(Command::new("ip").args(args));
}

/// Runs a command with a time limit; panics with its output if it cannot be started or takes
/// longer (it is killed by pid then, like every process a test starts).
pub fn run(cmd: &mut Command, timeout: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    let mut child = Guard::new(&format!("{cmd:?}"), child, Duration::ZERO);
    let end = Instant::now() + timeout;
    while child.exited().is_none() {
        if Instant::now() > end {
            child.kill();
            let out = child.into_output();
            panic!(
                "{cmd:?} took longer than {timeout:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.into_output()
}
