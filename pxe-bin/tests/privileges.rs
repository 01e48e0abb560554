//! Least privilege in every mode: once bound, `pxe` runs as the configured user with only the
//! capabilities it still uses, in every thread (read from `/proc/PID/task/*/status`); and it
//! refuses to serve files that are not world-readable unless told to (tftpd-hpa's rule).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use nix::unistd::User;
use support::netns::{self, Link, SERVER_IF, VethPair};
use support::pxe::Pxe;
use support::tools::{pxe, require_root};

/// `CAP_NET_ADMIN` (bit 12), the one capability the DHCP lease server keeps.
const CAP_NET_ADMIN: u64 = 1 << 12;

/// Uid (real, effective, saved, fs), CapEff, CapPrm, CapInh, CapBnd and CapAmb of every
/// thread of `pid`; panics unless all threads agree, and returns the common values.
fn creds(pid: u32) -> ([u32; 4], [u64; 5]) {
    // The listener thread starts just after the "listening" line.
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count) < 2
        && std::time::Instant::now() < end
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut seen: Option<([u32; 4], [u64; 5])> = None;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("read /proc/PID/task");
    let mut threads = 0;
    for task in tasks {
        let status = std::fs::read_to_string(task.expect("task").path().join("status"))
            .expect("read a thread's status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in status"))
                .trim()
                .to_owned()
        };
        let uid: Vec<u32> = field("Uid:")
            .split_whitespace()
            .map(|u| u.parse().expect("uid"))
            .collect();
        let caps = ["CapEff:", "CapPrm:", "CapInh:", "CapBnd:", "CapAmb:"]
            .map(|n| u64::from_str_radix(&field(n), 16).expect("capability mask"));
        let this = ([uid[0], uid[1], uid[2], uid[3]], caps);
        if let Some(first) = seen {
            assert_eq!(first, this, "threads of {pid} differ: {status}");
        }
        seen = Some(this);
        threads += 1;
    }
    assert!(threads > 1, "expected several threads");
    seen.expect("at least one thread")
}

fn assert_creds(p: &Pxe, uid: u32, caps: u64) {
    let (uids, [eff, prm, inh, bnd, amb]) = creds(p.pid());
    assert_eq!(uids, [uid; 4], "uids; log:\n{}", p.log());
    assert_eq!(eff, caps, "CapEff {eff:016x}; log:\n{}", p.log());
    assert_eq!(prm, caps, "CapPrm {prm:016x}");
    assert_eq!(bnd, caps, "CapBnd {bnd:016x}");
    assert_eq!((inh, amb), (0, 0), "CapInh/CapAmb");
}

fn nobody() -> u32 {
    User::from_name("nobody")
        .expect("look up nobody")
        .expect("user nobody exists")
        .uid
        .as_raw()
}

/// A root every user can read (temporary directories are 0700).
fn public_root() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(d.path().join("hello.txt"), "hello\n").expect("write");
    d
}

fn config(dir: &Path, text: &str) -> String {
    let path = dir.join("pxe.toml");
    std::fs::write(&path, text).expect("write config");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn tftp_runs_as_the_user_without_capabilities() {
    require_root();
    let root = public_root();
    let p = Pxe::tftp(root.path(), &["--user", "nobody"]);
    assert_creds(&p, nobody(), 0);
    assert!(p.log().contains("privileges dropped"), "{}", p.log());
}

#[test]
fn tftp_without_user_takes_pxe_or_keeps_uid_0_without_capabilities() {
    require_root();
    let root = public_root();
    let p = Pxe::tftp(root.path(), &[]);
    match User::from_name("pxe").expect("look up pxe") {
        Some(u) => assert_creds(&p, u.uid.as_raw(), 0),
        None => {
            assert_creds(&p, 0, 0);
            assert!(
                p.log().contains("no user `pxe`") && p.log().contains("adduser --system"),
                "{}",
                p.log()
            );
        }
    }
}

#[test]
fn serve_with_http_runs_as_the_user_without_capabilities() {
    require_root();
    let root = public_root();
    let conf = config(root.path(), "[tftp]\nuser = \"nobody\"\n");
    let p = Pxe::start(&[
        "serve",
        "--config",
        &conf,
        "--root",
        root.path().to_str().expect("utf-8"),
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]);
    assert!(p.wait_log("HTTP listening", Duration::from_secs(10)));
    assert_creds(&p, nobody(), 0);
}

fn dhcp_pair(tag: &str) -> VethPair {
    VethPair::with(
        tag,
        Link {
            server: &["10.77.0.1/24"],
            client: &[],
            client_mac: None,
        },
    )
}

#[test]
fn proxy_dhcp_runs_as_the_user_without_capabilities() {
    let net = dhcp_pair("privproxy");
    let root = public_root();
    let conf = config(root.path(), "[tftp]\nuser = \"nobody\"\n");
    let p = Pxe::start_in(
        &net.server,
        &[
            "serve",
            "--config",
            &conf,
            "--root",
            root.path().to_str().expect("utf-8"),
            "--listen",
            "10.77.0.1:69",
            "--dhcp",
            "proxy",
            "--interface",
            SERVER_IF,
        ],
    );
    assert!(p.wait_log("DHCP listening", Duration::from_secs(10)));
    assert_creds(&p, nobody(), 0);
}

#[test]
fn dhcp_server_keeps_only_net_admin() {
    let net = dhcp_pair("privserver");
    let root = public_root();
    let state = root.path().join("state");
    std::fs::create_dir(&state).expect("mkdir");
    nix::unistd::chown(&state, Some(nobody().into()), None).expect("chown state dir");
    let leases = state.join("leases.json");
    let conf = config(root.path(), "[tftp]\nuser = \"nobody\"\n");
    let p = Pxe::start_in(
        &net.server,
        &[
            "serve",
            "--config",
            &conf,
            "--root",
            root.path().to_str().expect("utf-8"),
            "--listen",
            "10.77.0.1:69",
            "--dhcp",
            "server",
            "--interface",
            SERVER_IF,
            "--dhcp-range",
            "10.77.0.100,10.77.0.110",
            "--leases",
            leases.to_str().expect("utf-8"),
        ],
    );
    assert!(p.wait_log("DHCP listening", Duration::from_secs(10)));
    assert_creds(&p, nobody(), CAP_NET_ADMIN);
    assert!(
        p.log().contains("capabilities=CAP_NET_ADMIN"),
        "{}",
        p.log()
    );
    drop(p);
    drop(net);
}

#[test]
fn dhcp_server_refuses_a_lease_directory_the_user_cannot_write() {
    let net = dhcp_pair("privleases");
    let root = public_root();
    let conf = config(root.path(), "[tftp]\nuser = \"nobody\"\n");
    let leases = root.path().join("leases.json");
    let out = support::tools::run(
        netns::command(&net.server, support::tools::PXE).args([
            "serve",
            "--config",
            &conf,
            "--root",
            root.path().to_str().expect("utf-8"),
            "--listen",
            "10.77.0.1:69",
            "--dhcp",
            "server",
            "--interface",
            SERVER_IF,
            "--dhcp-range",
            "10.77.0.100,10.77.0.110",
            "--leases",
            leases.to_str().expect("utf-8"),
        ]),
        Duration::from_secs(20),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("is not writable by user `nobody`") && err.contains("fix: chown nobody"),
        "{err}"
    );
}

#[test]
fn files_that_are_not_world_readable_are_refused_with_the_fix() {
    require_root();
    let root = public_root();
    let secret = root.path().join("secret.key");
    std::fs::write(&secret, "key\n").expect("write");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // Owned by the server's user, so only the world-read rule stands in the way.
    nix::unistd::chown(&secret, Some(nobody().into()), None).expect("chown");
    let p = Pxe::tftp(root.path(), &["--user", "nobody"]);
    let out = pxe(&["get", &p.url("secret.key"), "-o", "-"]);
    assert!(!out.status.success());
    assert!(
        p.wait_log("fix: chmod o+r", Duration::from_secs(5)),
        "{}",
        p.log()
    );
    assert!(p.log().contains("not world-readable (mode 0600)"));
    drop(p);

    // tftpd-hpa's --permissive serves it.
    let p = Pxe::tftp(root.path(), &["--user", "nobody", "--permissive"]);
    let out = pxe(&["get", &p.url("secret.key"), "-o", "-"]);
    assert!(out.status.success(), "{}", p.log());
    assert_eq!(out.stdout, b"key\n");
}
