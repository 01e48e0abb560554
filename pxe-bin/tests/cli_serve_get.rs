//! The `pxe` command line end to end: the demo (`pxe`, `pxe serve`), `pxe serve` with a root
//! and a config, `pxe get`, `--log-format json`, `--user`, `--port-range`, replies from the
//! address the request came to, and SIGTERM stops.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use support::files::{random_file, sha256_file};
use support::pxe::Pxe;
use support::tools::{PXE, require, run};

const T: Duration = Duration::from_secs(60);

fn get(args: &[&str]) -> std::process::Output {
    run(Command::new(PXE).arg("get").args(args), T)
}

#[test]
fn pxe_get_options_stdout_and_missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sha = random_file(&dir.path().join("f.bin"), 5_000_000, 7);
    std::fs::write(dir.path().join("small.txt"), b"small\n").expect("write");
    let server = Pxe::tftp(dir.path(), &[]);
    let out = tempfile::tempdir().expect("tempdir");
    let o = out.path().join("f.bin");
    let o_str = o.to_str().expect("utf-8");
    for opts in [
        &[][..],
        &["--blksize", "1468", "--windowsize", "16", "--tsize"][..],
        &["--blksize", "8192", "--windowsize", "4"][..],
        &["--windowsize", "8", "--dally", "300"][..],
    ] {
        let mut args = vec![server.url("f.bin"), "-o".into(), o_str.into()];
        args.extend(opts.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = std::time::Instant::now();
        let r = get(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "pxe get {opts:?}: {err}");
        if opts.contains(&"--dally") {
            // The client lingers after its final ACK; without --dally it does not (curl-like).
            assert!(started.elapsed() >= Duration::from_millis(300), "no dally");
        }
        assert!(
            err.contains("5000000 bytes in")
                && err.contains("MiB/s")
                && err.contains("retransmits"),
            "summary: {err}"
        );
        assert_eq!(sha256_file(&o), sha, "pxe get {opts:?}: content differs");
    }
    let r = get(&[&server.url("small.txt"), "-o", "-"]);
    assert!(r.status.success());
    assert_eq!(r.stdout, b"small\n");
    let missing = out.path().join("missing");
    let r = get(&[
        &server.url("nope.bin"),
        "-o",
        missing.to_str().expect("utf-8"),
    ]);
    assert!(!r.status.success(), "missing file succeeded");
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("not found"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(!missing.exists(), "partial output left behind");
}

#[test]
fn serve_without_root_serves_the_demo_and_says_how_to_fetch() {
    let server = Pxe::start(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(server.wait_log("TFTP listening", T));
    let hint = format!("pxe get tftp://{}/hello.txt", server.addr);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server
        .stdout
        .lock()
        .map(|s| s.contains(&hint))
        .unwrap_or(false)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no fetch hint on stdout"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        server
            .stdout
            .lock()
            .map(|s| s.contains("curl tftp://"))
            .unwrap_or(false)
    );
    for name in ["hello.txt", "boot.txt", "boot.ipxe", "pxelinux.cfg/default"] {
        let r = get(&[&server.url(name), "-o", "-"]);
        assert!(
            r.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(!r.stdout.is_empty());
    }
    assert!(
        !server.log().contains("DHCP"),
        "DHCP mentioned in demo mode:\n{}",
        server.log()
    );
    assert_eq!(
        server.terminate(Duration::from_secs(5)),
        Some(0),
        "SIGTERM did not stop pxe cleanly"
    );
}

#[test]
fn plain_pxe_is_the_demo_on_port_6969() {
    require("curl", "curl");
    let server = Pxe::start(&[]);
    assert_eq!(
        server.addr,
        "127.0.0.1:6969".parse::<SocketAddr>().expect("addr")
    );
    let r = run(
        Command::new("curl").args(["-sS", "tftp://127.0.0.1:6969/hello.txt"]),
        T,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stdout).contains("Hello from pxe"));
    assert_eq!(server.terminate(Duration::from_secs(5)), Some(0));
}

#[test]
fn serve_root_and_config_with_flags_overriding() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    std::fs::write(a.path().join("which.txt"), b"a").expect("write");
    std::fs::write(b.path().join("which.txt"), b"b").expect("write");
    let cfg = a.path().join("pxe.toml");
    std::fs::write(
        &cfg,
        format!("root = \"{}\"\nlog_format = \"json\"\n[tftp]\nlisten = \"127.0.0.1:0\"\nwindowsize_max = 8\n", a.path().display()),
    )
    .expect("write config");
    let cfg = cfg.to_str().expect("utf-8");
    // The config alone: root a, JSON logs.
    let s = Pxe::start(&["serve", "--config", cfg]);
    let r = get(&[&s.url("which.txt"), "-o", "-", "--windowsize", "16"]);
    assert_eq!(r.stdout, b"a");
    assert!(
        s.wait_log("\"windowsize\":8", T),
        "windowsize_max or JSON log missing:\n{}",
        s.log()
    );
    assert!(
        s.log().lines().all(|l| l.starts_with('{')),
        "not JSON:\n{}",
        s.log()
    );
    drop(s);
    // --root overrides the file; --log-format text overrides log_format.
    let root_b = b.path().to_str().expect("utf-8");
    let s = Pxe::start(&[
        "serve",
        "--config",
        cfg,
        "--root",
        root_b,
        "--log-format",
        "text",
    ]);
    let r = get(&[&s.url("which.txt"), "-o", "-"]);
    assert_eq!(r.stdout, b"b");
    assert!(!s.log().starts_with('{'));
    // A typo in the config is an error naming the file and the key.
    std::fs::write(a.path().join("bad.toml"), "[tftp]\nlisten_addr = \"x\"\n").expect("write");
    let r = run(
        Command::new(PXE)
            .args(["serve", "--config"])
            .arg(a.path().join("bad.toml")),
        T,
    );
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && err.contains("bad.toml") && err.contains("listen_addr"),
        "{err}"
    );
}

/// Sends a bare RRQ and returns the address the first DATA came from.
fn rrq_reply_source(to: SocketAddr, name: &str) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut rrq = vec![0, 1];
    rrq.extend_from_slice(name.as_bytes());
    rrq.push(0);
    rrq.extend_from_slice(b"octet\0");
    sock.send_to(&rrq, to).expect("send RRQ");
    let mut buf = [0u8; 600];
    let (n, from) = sock.recv_from(&mut buf).expect("no reply");
    assert!(n >= 4 && buf[1] == 3, "not DATA: {:?}", &buf[..n.min(20)]);
    // ERROR 0 "bye" ends the transfer politely.
    let _ = sock.send_to(b"\0\x05\0\0bye\0", from);
    from
}

#[test]
fn replies_come_from_the_request_address_and_the_port_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("x"), vec![7u8; 2000]).expect("write");
    let low = 45000 + u16::try_from(std::process::id() % 10000).expect("port");
    let range = format!("{low}:{}", low + 9);
    let root = dir.path().to_str().expect("utf-8");
    let s = Pxe::start(&[
        "tftp",
        "--root",
        root,
        "--listen",
        "0.0.0.0:0",
        "--port-range",
        &range,
    ]);
    let port = s.addr.port();
    // Linux answers on all of 127/8: the reply must come from the address asked, via IP_PKTINFO.
    for ip in ["127.0.0.1", "127.0.0.2", "127.3.4.5"] {
        let from = rrq_reply_source(format!("{ip}:{port}").parse().expect("addr"), "x");
        assert_eq!(from.ip().to_string(), ip, "reply from the wrong address");
        assert!(
            (low..=low + 9).contains(&from.port()),
            "port {} outside {range}",
            from.port()
        );
    }
}

#[test]
fn user_flag_drops_privileges_after_binding() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::write(dir.path().join("x"), b"x").expect("write");
    let is_root = nix::unistd::Uid::effective().is_root();
    assert!(
        is_root,
        "this test checks the privilege drop and must run as root (sudo bash scripts/test.sh)"
    );
    let nobody = nix::unistd::User::from_name("nobody")
        .ok()
        .flatten()
        .expect("user nobody");
    let s = Pxe::tftp(dir.path(), &["--user", "nobody"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).expect("status");
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("Uid line");
    let uids: Vec<u32> = uid_line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    assert!(
        uids.iter().all(|u| *u == nobody.uid.as_raw()),
        "still privileged: {uid_line}"
    );
    let r = get(&[&s.url("x"), "-o", "-"]);
    assert_eq!(r.stdout, b"x");
}

/// Windowed downloads (windowsize 16, blksize 1468: each window goes out as UDP GSO sends)
/// from a `[::1]` listener and from a dual-stack `[::]` one, by an IPv6 client and by an IPv4
/// client (answered from a v4-mapped `AF_INET6` reply socket): bit-exact, and the kernel
/// never refused GSO (see tests/tftp_gso_netns.rs for a route where it does).
#[test]
fn ipv6_and_dual_stack_listen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sha = random_file(&dir.path().join("f.bin"), 4_000_000, 8);
    let root = dir.path().to_str().expect("utf-8");
    let dual = Pxe::start(&["tftp", "--root", root, "--listen", "[::]:0"]);
    let v6 = Pxe::start(&["tftp", "--root", root, "--listen", "[::1]:0"]);
    let out = tempfile::tempdir().expect("tempdir");
    for (i, (server, url)) in [
        (&dual, format!("tftp://[::1]:{}/f.bin", dual.addr.port())),
        (
            &dual,
            format!("tftp://127.0.0.1:{}/f.bin", dual.addr.port()),
        ),
        (&v6, v6.url("f.bin")),
    ]
    .iter()
    .enumerate()
    {
        let o = out.path().join(format!("o{i}"));
        let r = get(&[
            url,
            "-o",
            o.to_str().expect("utf-8"),
            "--windowsize",
            "16",
            "--blksize",
            "1468",
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(
            r.status.success(),
            "{url}: {err}
{}",
            server.log()
        );
        assert!(err.contains("blksize 1468, windowsize 16"), "{url}: {err}");
        assert_eq!(sha256_file(&o), sha, "{url}");
    }
    // IPv4 clients of the dual-stack socket are logged as plain IPv4.
    assert!(
        dual.wait_log("client=127.0.0.1:", Duration::from_secs(5)),
        "{}",
        dual.log()
    );
    assert!(dual.log().contains("client=[::1]:"), "{}", dual.log());
    for s in [&dual, &v6] {
        assert!(!s.log().contains("UDP GSO refused"), "{}", s.log());
    }
}

#[test]
fn tftp_stops_cleanly_on_sigint_and_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    for sig in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
    ] {
        let s = Pxe::tftp(dir.path(), &[]);
        assert_eq!(
            s.signal(sig, Duration::from_secs(5)),
            Some(0),
            "{sig} did not stop pxe tftp cleanly"
        );
    }
}
