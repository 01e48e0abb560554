//! Real TFTP clients (curl, atftp, tftp-hpa) against `pxe tftp` on loopback: every download
//! bit-exact (SHA-256), block-number rollover, path escapes refused, 50 concurrent clients.
//! A missing client FAILS the test with the Debian package to install; nothing is skipped.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::clients;
use support::files::{random_file, sha256_file};
use support::pxe::Pxe;
use support::tools::{require, run};

const MIB: usize = 1 << 20;
const LONG: Duration = Duration::from_secs(240);

/// A root with `big.bin` (64 MiB) and `rollover.bin` (33 MiB: 67 584 blocks of 512 bytes,
/// past block 65535).
struct Fixture {
    dir: tempfile::TempDir,
    big: String,
    rollover: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = random_file(&dir.path().join("big.bin"), 64 * MIB, 1);
    let rollover = random_file(&dir.path().join("rollover.bin"), 33 * MIB, 2);
    Fixture { dir, big, rollover }
}

fn curl(server: &Pxe, name: &str, blksize: u32, out: &Path) {
    require("curl", "curl");
    let o = run(
        Command::new("curl")
            .args(["-sS", "--tftp-blksize", &blksize.to_string(), "-o"])
            .arg(out)
            .arg(server.url(name)),
        LONG,
    );
    assert!(
        o.status.success(),
        "curl blksize {blksize}: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        server.log()
    );
}

fn atftp(server: &Pxe, name: &str, options: &[&str], out: &Path) -> std::process::Output {
    require("atftp", "atftp");
    let mut cmd = Command::new("atftp");
    for o in options {
        cmd.args(["--option", o]);
    }
    cmd.args(["-g", "-r", name, "-l"])
        .arg(out)
        .args(["127.0.0.1", &server.addr.port().to_string()]);
    run(&mut cmd, LONG)
}

fn tftp_hpa(server: &Pxe, name: &str, out: &Path) -> std::process::Output {
    let out = out.to_str().expect("utf-8 path");
    clients::tftp_hpa(server, &["get", name, out], LONG)
}

#[test]
fn curl_blksize_512_1468_8192_bit_exact_with_rollover() {
    let f = fixture();
    let server = Pxe::tftp(f.dir.path(), &[]);
    let out = tempfile::tempdir().expect("tempdir");
    // 512-byte blocks on the 33 MiB file (rollover past block 65535), the larger sizes on 64 MiB.
    for (blksize, name, sha) in [
        (512, "rollover.bin", &f.rollover),
        (1468, "big.bin", &f.big),
        (8192, "big.bin", &f.big),
    ] {
        let o = out.path().join(format!("curl-{blksize}"));
        curl(&server, name, blksize, &o);
        assert_eq!(
            &sha256_file(&o),
            sha,
            "curl --tftp-blksize {blksize} {name}: content differs"
        );
        std::fs::remove_file(&o).expect("rm");
    }
    assert!(
        server.wait_log("blksize=8192", Duration::from_secs(5)),
        "8192 not granted:\n{}",
        server.log()
    );
}

#[test]
fn atftp_blksize_1468_with_and_without_windowsize_16() {
    let f = fixture();
    let server = Pxe::tftp(f.dir.path(), &[]);
    let out = tempfile::tempdir().expect("tempdir");
    for (i, opts) in [
        &["blksize 1468"][..],
        &["blksize 1468", "windowsize 16"][..],
    ]
    .iter()
    .enumerate()
    {
        let o = out.path().join(format!("atftp-{i}"));
        let r = atftp(&server, "big.bin", opts, &o);
        assert!(
            r.status.success(),
            "atftp {opts:?}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert_eq!(sha256_file(&o), f.big, "atftp {opts:?}: content differs");
    }
    assert!(
        server.wait_log("windowsize=16", Duration::from_secs(5)),
        "windowsize 16 not used:\n{}",
        server.log()
    );
}

#[test]
fn tftp_hpa_client_rollover_file_bit_exact() {
    let f = fixture();
    let server = Pxe::tftp(f.dir.path(), &[]);
    let out = tempfile::tempdir().expect("tempdir");
    let o = out.path().join("hpa");
    let r = tftp_hpa(&server, "rollover.bin", &o);
    assert!(
        r.status.success(),
        "tftp-hpa: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(
        sha256_file(&o),
        f.rollover,
        "tftp-hpa 512-byte blocks past 65535: content differs"
    );
    // 33 MiB at the default 512-byte blocks, so the block number wrapped.
    assert!(
        server.wait_log("blksize=512", Duration::from_secs(5)),
        "{}",
        server.log()
    );
}

#[test]
fn path_escapes_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ok.txt"), b"ok").expect("write");
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd-link")).expect("symlink");
    std::os::unix::fs::symlink("../../../../../../../../etc", dir.path().join("etc-link"))
        .expect("symlink");
    let server = Pxe::tftp(dir.path(), &[]);
    let out = tempfile::tempdir().expect("tempdir");
    let o = out.path().join("x");
    for name in [
        "../../../../etc/passwd",
        "/../etc/passwd",
        "/etc/passwd",
        "passwd-link",
        "etc-link/passwd",
        "ok.txt/../../x",
    ] {
        let r = atftp(&server, name, &[], &o);
        let got = std::fs::read(&o).unwrap_or_default();
        assert!(
            !r.status.success() || got.is_empty(),
            "atftp got {name}: {:?}",
            String::from_utf8_lossy(&got)
        );
        assert!(
            !String::from_utf8_lossy(&got).contains("root:"),
            "{name} leaked /etc/passwd"
        );
        let _ = std::fs::remove_file(&o);
    }
    // curl keeps `..` on the wire with --path-as-is.
    require("curl", "curl");
    let r = run(
        Command::new("curl")
            .args(["-sS", "--path-as-is", "-o"])
            .arg(&o)
            .arg(server.url("../../../etc/passwd")),
        LONG,
    );
    assert!(!r.status.success(), "curl --path-as-is ../ succeeded");
    assert!(server.wait_log("refused", Duration::from_secs(5)));
    let log = server.log();
    assert!(
        log.contains("outside the root") || log.contains("symlink"),
        "no symlink refusal logged:\n{log}"
    );
    assert!(!log.contains("refused: refused"), "doubled prefix:\n{log}");
    assert!(
        log.contains("'..'") || log.contains(".."),
        "no `..` refusal logged:\n{log}"
    );
    // The refusals did not stop the server.
    let r = tftp_hpa(&server, "ok.txt", &o);
    assert!(r.status.success());
    assert_eq!(std::fs::read(&o).expect("read"), b"ok");
}

#[test]
fn write_requests_need_create() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("upload-src");
    let sha = random_file(&src, 300_000, 3);
    let root = tempfile::tempdir().expect("tempdir");
    require("atftp", "atftp");
    let put = |server: &Pxe| {
        run(
            Command::new("atftp")
                .args(["-p", "-r", "up.bin", "-l"])
                .arg(&src)
                .args(["127.0.0.1", &server.addr.port().to_string()]),
            LONG,
        )
    };
    let ro = Pxe::tftp(root.path(), &[]);
    assert!(!put(&ro).status.success() || !root.path().join("up.bin").exists());
    assert!(
        !root.path().join("up.bin").exists(),
        "read-only server accepted a write"
    );
    drop(ro);
    let rw = Pxe::tftp(root.path(), &["--create"]);
    let r = put(&rw);
    assert!(
        r.status.success(),
        "upload with --create: {}\n{}",
        String::from_utf8_lossy(&r.stderr),
        rw.log()
    );
    assert!(
        rw.wait_log("dir=\"write\"", Duration::from_secs(5)),
        "{}",
        rw.log()
    );
    assert_eq!(sha256_file(&root.path().join("up.bin")), sha);
}

#[test]
fn fifty_concurrent_downloads_bit_exact() {
    require("curl", "curl");
    let dir = tempfile::tempdir().expect("tempdir");
    let sha = random_file(&dir.path().join("f.bin"), 4 * MIB, 4);
    let server = Pxe::tftp(dir.path(), &[]);
    let out = tempfile::tempdir().expect("tempdir");
    let children: Vec<_> = (0..50)
        .map(|i| {
            Command::new("curl")
                .args(["-sS", "--tftp-blksize", "1468", "-o"])
                .arg(out.path().join(format!("o{i}")))
                .arg(server.url("f.bin"))
                .stdin(std::process::Stdio::null())
                .spawn()
                .expect("spawn curl")
        })
        .collect();
    for (i, mut c) in children.into_iter().enumerate() {
        let status = c.wait().expect("wait curl");
        assert!(status.success(), "download {i} failed:\n{}", server.log());
        assert_eq!(
            sha256_file(&out.path().join(format!("o{i}"))),
            sha,
            "download {i} differs"
        );
    }
    assert_eq!(
        server.log().matches("result=ok").count(),
        50,
        "{}",
        server.log()
    );
}

#[test]
fn unreadable_file_gets_error_and_a_fix_in_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret.bin");
    std::fs::write(&secret, b"secret").expect("write");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    // Root reads anything: drop to `nobody` as a real deployment does, so the mode matters.
    let is_root = nix::unistd::Uid::effective().is_root();
    let extra: &[&str] = if is_root { &["--user", "nobody"] } else { &[] };
    if is_root {
        // nobody must be able to reach the root directory itself.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let owner = nix::unistd::User::from_name("nobody")
            .ok()
            .flatten()
            .map(|u| u.uid);
        assert!(owner.is_some(), "user `nobody` missing");
    }
    let server = Pxe::tftp(dir.path(), extra);
    let out = tempfile::tempdir().expect("tempdir");
    let o = out.path().join("x");
    let r = tftp_hpa(&server, "secret.bin", &o);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(
        text.contains("Permission denied") || text.contains("Error code 2"),
        "client saw: {text}"
    );
    assert!(
        server.wait_log("chmod o+r", Duration::from_secs(5)),
        "no fix in the log:\n{}",
        server.log()
    );
}

#[test]
fn blksize_is_capped_to_the_interface_mtu() {
    // In a private network namespace whose loopback has an Ethernet MTU, curl asks for 8192
    // and must get 1500 - 32 = 1468 (no IP fragments: PXE ROMs cannot reassemble them).
    require("curl", "curl");
    require("unshare", "util-linux");
    require("ip", "iproute2");
    let dir = tempfile::tempdir().expect("tempdir");
    let sha = random_file(&dir.path().join("f.bin"), 3 * MIB, 5);
    let log = dir.path().join("pxe.log");
    let out = dir.path().join("out.bin");
    let script = format!(
        "ip link set lo mtu 1500 up || exit 97\n\
         timeout 60 {pxe} tftp --root {root} --listen 127.0.0.1:6970 2> {log} & p=$!\n\
         for i in $(seq 50); do grep -q 'TFTP listening' {log} && break; sleep 0.1; done\n\
         curl -sS --tftp-blksize 8192 -o {out} tftp://127.0.0.1:6970/f.bin; rc=$?\n\
         kill $p; wait $p; exit $rc\n",
        pxe = support::tools::PXE,
        root = dir.path().display(),
        log = log.display(),
        out = out.display(),
    );
    let r = run(
        Command::new("unshare").args(["-n", "bash", "-c", &script]),
        LONG,
    );
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        r.status.success(),
        "{}\n{log}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(sha256_file(&out), sha);
    assert!(
        log.contains("blksize=1468"),
        "blksize not capped to MTU 1500 - 32:\n{log}"
    );
}
