//! The smoltcp driver on a real TAP device: the `smoltcp_tap` example serves a directory from a
//! network namespace this test creates, and the kernel side of the namespace downloads with
//! `curl` (blksize) and `atftp` (blksize + windowsize). Bytes are compared; the example is
//! killed and the namespace deleted whatever happens (a guard's `Drop`).
//!
//! Needs root (CI runs as root), `ip`, `curl` and `atftp` (`scripts/install-deps.sh`); it fails,
//! never skips, when one is missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SERVER_IP: &str = "10.99.0.2";

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "smoltcp_tap needs `{tool}` (scripts/install-deps.sh installs it)"
    );
}

/// The namespace, the example process in it, and a scratch directory; all removed on drop.
struct Lab {
    ns: String,
    dir: PathBuf,
    server: Option<Child>,
}

impl Lab {
    fn new() -> Lab {
        let uid = run(Command::new("id").arg("-u")).stdout;
        assert_eq!(
            String::from_utf8_lossy(&uid).trim(),
            "0",
            "smoltcp_tap needs root to create a network namespace and a TAP device \
             (CI runs as root): sudo cargo test -p pxe-smoltcp --test smoltcp_tap"
        );
        for tool in ["ip", "curl", "atftp"] {
            require(tool);
        }
        let ns = format!("pxesmol{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("pxe-smoltcp-tap-{}", std::process::id()));
        let lab = Lab {
            ns,
            dir,
            server: None,
        };
        std::fs::create_dir_all(&lab.dir).unwrap();
        run(Command::new("ip").args(["netns", "add", &lab.ns]));
        lab.exec(&["ip", "link", "set", "lo", "up"]);
        lab.exec(&["ip", "tuntap", "add", "dev", "tap0", "mode", "tap"]);
        lab.exec(&["ip", "addr", "add", "10.99.0.1/24", "dev", "tap0"]);
        lab.exec(&["ip", "link", "set", "tap0", "up"]);
        lab
    }

    fn in_ns(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns]).args(args);
        cmd
    }

    fn exec(&self, args: &[&str]) -> std::process::Output {
        run(&mut self.in_ns(args))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `binary` is the example (it prints its usage when run without arguments).
fn is_smoltcp_build(binary: &Path) -> bool {
    Command::new(binary)
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stderr).contains("usage: smoltcp_tap"))
}

/// The example binary cargo built beside this test (`cargo test` builds examples), or a fresh
/// build of it in a separate target dir when only this test was selected.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let built = profile_dir.join("examples").join("smoltcp_tap");
    if is_smoltcp_build(&built) {
        return built;
    }
    let target = profile_dir.join("smoltcp-tap-example");
    run(Command::new(env!("CARGO"))
        .args(["build", "-p", "pxe-smoltcp", "--example", "smoltcp_tap"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(env!("CARGO_MANIFEST_DIR")));
    let built = target.join("debug").join("examples").join("smoltcp_tap");
    assert!(
        is_smoltcp_build(&built),
        "{} is not the smoltcp build",
        built.display()
    );
    built
}

fn content(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn kernel_clients_download_from_smoltcp_over_a_tap_device() {
    let binary = example_binary();
    let mut lab = Lab::new();
    let file = content(1_000_000);
    std::fs::write(lab.dir.join("big.bin"), &file).unwrap();
    std::fs::create_dir_all(lab.dir.join("pxelinux.cfg")).unwrap();
    std::fs::write(lab.dir.join("pxelinux.cfg/default"), b"DEFAULT linux\n").unwrap();

    let dir = lab.dir.to_str().unwrap().to_owned();
    let cidr = format!("{SERVER_IP}/24");
    let mut child = lab
        .in_ns(&[
            binary.to_str().unwrap(),
            "tap0",
            &cidr,
            &dir,
            "--max-transfers",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting the smoltcp_tap example");
    let stdout = child.stdout.take().unwrap();
    lab.server = Some(child);

    // Wait for "listening", then keep echoing the example's event lines.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            eprintln!("smoltcp_tap: {line}");
            let _ = tx.send(line);
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the example did not start");
    assert!(first.starts_with("listening on 10.99.0.2"), "{first}");

    // curl: blksize 1468 (and tsize, which curl always sends).
    let out = lab.dir.join("curl.out");
    lab.exec(&[
        "curl",
        "--silent",
        "--show-error",
        "--max-time",
        "60",
        "--tftp-blksize",
        "1468",
        "-o",
        out.to_str().unwrap(),
        &format!("tftp://{SERVER_IP}/big.bin"),
    ]);
    assert!(std::fs::read(&out).unwrap() == file, "curl's copy differs");

    // atftp: blksize + windowsize (RFC 7440), the path the window code takes.
    let out = lab.dir.join("atftp.out");
    lab.exec(&[
        "timeout",
        "60",
        "atftp",
        "--option",
        "blksize 1428",
        "--option",
        "windowsize 8",
        "-g",
        "-r",
        "big.bin",
        "-l",
        out.to_str().unwrap(),
        SERVER_IP,
    ]);
    assert!(std::fs::read(&out).unwrap() == file, "atftp's copy differs");

    // A small file in a subdirectory, plain RFC 1350 (no options).
    let out = lab.dir.join("cfg.out");
    lab.exec(&[
        "curl",
        "--silent",
        "--show-error",
        "--max-time",
        "30",
        "--tftp-no-options",
        "-o",
        out.to_str().unwrap(),
        &format!("tftp://{SERVER_IP}/pxelinux.cfg/default"),
    ]);
    assert_eq!(std::fs::read(&out).unwrap(), b"DEFAULT linux\n");

    // Three transfers: the example exits on its own (the guard kills it otherwise).
    let mut child = lab.server.take().unwrap();
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = child.try_wait().unwrap();
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "example did not exit cleanly after 3 transfers: {status:?}"
    );
}
