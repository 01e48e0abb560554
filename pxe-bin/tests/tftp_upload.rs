//! Atomic uploads against `pxe tftp --create` on loopback: real clients (curl `-T`, tftp-hpa
//! `put`) replace files bit-exact; a raw UDP client that sends an ERROR halfway, or a server
//! stopped mid-upload, leaves the old file byte-identical and no temporary file; a reader during
//! an upload gets the old bytes; of two uploads of one name the last to complete wins; an upload
//! that cannot replace its target gets an ERROR instead of the final ACK.
//! A missing client FAILS the test with the Debian package to install; nothing is skipped.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::clients::tftp_hpa;
use support::files::{random_file, sha256_file};
use support::pxe::Pxe;
use support::tools::{require, run};

const LONG: Duration = Duration::from_secs(120);
const BLOCK: usize = 512;

/// Names of upload temporary files in `dir`.
fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.starts_with(".pxe-upload."))
        .collect()
}

/// Waits (the transfer thread removes its file as it ends) until `dir` holds no temporary file.
fn assert_no_temps(dir: &Path, server: &Pxe) {
    let end = Instant::now() + Duration::from_secs(10);
    while !temps(dir).is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        temps(dir).is_empty(),
        "temporary files left: {:?}\n{}",
        temps(dir),
        server.log()
    );
}

/// Downloads `name` with tftp-hpa into `out` and returns the bytes.
fn fetch(server: &Pxe, name: &str, out: &Path) -> Vec<u8> {
    let o = tftp_hpa(
        server,
        &["get", name, out.to_str().expect("utf-8 path")],
        LONG,
    );
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "tftp get {name}: {}{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        server.log()
    );
    std::fs::read(out).expect("read download")
}

/// A hand-driven RFC 1350 upload (octet, 512-byte blocks, no options).
struct RawUpload {
    sock: UdpSocket,
    next: u16,
}

impl RawUpload {
    /// Sends a WRQ for `name` and waits for ACK 0 from the transfer port.
    fn start(server: SocketAddr, name: &str) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind client");
        sock.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut wrq = vec![0, 2];
        wrq.extend_from_slice(name.as_bytes());
        wrq.push(0);
        wrq.extend_from_slice(b"octet\0");
        sock.send_to(&wrq, server).expect("send WRQ");
        let mut buf = [0u8; 600];
        let (n, from) = sock.recv_from(&mut buf).expect("no answer to the WRQ");
        assert_eq!(&buf[..n], [0, 4, 0, 0], "expected ACK 0 to the WRQ");
        sock.connect(from).expect("connect to the transfer port");
        Self { sock, next: 1 }
    }

    /// Sends DATA block `self.next` carrying `payload`.
    fn send_data(&self, payload: &[u8]) {
        let mut pkt = vec![0, 3];
        pkt.extend_from_slice(&self.next.to_be_bytes());
        pkt.extend_from_slice(payload);
        self.sock.send(&pkt).expect("send DATA");
    }

    /// Sends the next DATA block and waits for its ACK (skipping re-ACKs of earlier blocks).
    fn data(&mut self, payload: &[u8]) {
        let block = self.next;
        self.send_data(payload);
        loop {
            let p = self.recv(&format!("no ACK for block {block}"));
            assert!(
                p.len() >= 4 && p[..2] == [0, 4],
                "expected an ACK, got {p:?}"
            );
            if u16::from_be_bytes([p[2], p[3]]) == block {
                break;
            }
        }
        self.next += 1;
    }

    /// The next packet from the transfer port; fails with `what` after the read timeout.
    fn recv(&self, what: &str) -> Vec<u8> {
        let mut buf = [0u8; 600];
        let n = self
            .sock
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        buf[..n].to_vec()
    }

    /// Sends every full block of `bytes`, then the short last one when `finish`.
    fn send(&mut self, bytes: &[u8], finish: bool) {
        let mut chunks = bytes.chunks_exact(BLOCK);
        for c in chunks.by_ref() {
            self.data(c);
        }
        if finish {
            self.data(chunks.remainder());
        }
    }

    /// Sends the short last block and returns the ERROR (code, message) that must answer it.
    fn last_refused(&mut self, payload: &[u8]) -> (u16, String) {
        self.send_data(payload);
        loop {
            let p = self.recv("no answer to the last block");
            match p[..] {
                [0, 5, hi, lo, ref msg @ ..] => {
                    let text =
                        String::from_utf8_lossy(msg.split(|&b| b == 0).next().unwrap_or(&[]));
                    return (u16::from_be_bytes([hi, lo]), text.into_owned());
                }
                [0, 4, hi, lo] => assert_ne!(
                    u16::from_be_bytes([hi, lo]),
                    self.next,
                    "the last block was acknowledged although the file could not be replaced"
                ),
                _ => panic!("unexpected packet {p:?}"),
            }
        }
    }

    /// Gives up with ERROR 0, as a client whose user pressed ^C would.
    fn error(&self) {
        self.sock
            .send(b"\0\x05\0\0client gave up\0")
            .expect("send ERROR");
    }
}

/// Asserts `got == want` with a short message (lengths and the first differing offset).
fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    let first = got.iter().zip(want).position(|(a, b)| a != b);
    assert!(
        got == want,
        "{what}: {} bytes, expected {}; first difference at {first:?}",
        got.len(),
        want.len()
    );
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i % 251).unwrap_or(0) ^ seed)
        .collect()
}

#[test]
fn real_clients_replace_files_bit_exact() {
    require("curl", "curl");
    require("tftp", "tftp-hpa");
    let src = tempfile::tempdir().expect("tempdir");
    let root = tempfile::tempdir().expect("tempdir");
    random_file(&root.path().join("kernel"), 100_000, 10);
    let sha = random_file(&src.path().join("kernel"), 3 << 20, 11);
    let server = Pxe::tftp(root.path(), &["--create"]);
    let o = run(
        Command::new("curl")
            .args(["-sS", "--tftp-blksize", "1468", "-T"])
            .arg(src.path().join("kernel"))
            .arg(server.url("kernel")),
        LONG,
    );
    assert!(
        o.status.success(),
        "curl -T: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        server.log()
    );
    assert_eq!(sha256_file(&root.path().join("kernel")), sha);

    let sha2 = random_file(&src.path().join("initrd"), 700_001, 12);
    let local = src.path().join("initrd");
    let o = tftp_hpa(
        &server,
        &["put", local.to_str().expect("utf-8 path"), "initrd"],
        LONG,
    );
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "tftp put: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        server.log()
    );
    assert_eq!(sha256_file(&root.path().join("initrd")), sha2);
    assert_no_temps(root.path(), &server);
}

#[test]
fn interrupted_upload_keeps_the_old_file() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(root.path().join("boot")).expect("mkdir");
    let target = root.path().join("boot/image");
    let sha = random_file(&target, 40_000, 20);
    let server = Pxe::tftp(root.path(), &["--create"]);

    let mut up = RawUpload::start(server.addr, "boot/image");
    up.send(&payload(20 * BLOCK, 1), false);
    assert_eq!(
        temps(&root.path().join("boot")).len(),
        1,
        "{}",
        server.log()
    );
    up.error();
    assert!(
        server.wait_log("client gave up", Duration::from_secs(10)),
        "{}",
        server.log()
    );
    assert_no_temps(&root.path().join("boot"), &server);
    assert_eq!(sha256_file(&target), sha, "the old file changed");

    // A new name that never completes is never created.
    let mut up = RawUpload::start(server.addr, "boot/new");
    up.send(&payload(3 * BLOCK, 2), false);
    up.error();
    assert_no_temps(&root.path().join("boot"), &server);
    assert!(!root.path().join("boot/new").exists());

    // Stopping the server mid-upload removes the temporary file too.
    let mut up = RawUpload::start(server.addr, "boot/image");
    up.send(&payload(5 * BLOCK, 3), false);
    let dir = root.path().join("boot");
    assert_eq!(server.terminate(Duration::from_secs(10)), Some(0));
    assert!(temps(&dir).is_empty(), "{:?}", temps(&dir));
    assert_eq!(sha256_file(&target), sha, "the old file changed");
}

#[test]
fn readers_during_an_upload_get_the_old_file() {
    let root = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let old = payload(30_000, 7);
    std::fs::write(root.path().join("pxelinux.0"), &old).expect("write");
    let server = Pxe::tftp(root.path(), &["--create"]);
    let new = payload(12 * BLOCK + 100, 9);

    let mut up = RawUpload::start(server.addr, "pxelinux.0");
    up.send(&new[..8 * BLOCK], false);
    let during = fetch(&server, "pxelinux.0", &out.path().join("a"));
    assert_bytes(&during, &old, "read during the upload");
    up.send(&new[8 * BLOCK..], true);
    // The final ACK comes after the rename: the file is the upload as soon as the client knows.
    let on_disk = std::fs::read(root.path().join("pxelinux.0")).expect("read");
    assert_bytes(&on_disk, &new, "file right after the final ACK");
    let after = fetch(&server, "pxelinux.0", &out.path().join("b"));
    assert_bytes(&after, &new, "read after the upload");
    assert_no_temps(root.path(), &server);
}

#[test]
fn concurrent_uploads_of_one_name_last_completed_wins() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::write(root.path().join("menu"), b"old menu").expect("write");
    let server = Pxe::tftp(root.path(), &["--create"]);
    let a = payload(10 * BLOCK + 1, 0x11);
    let b = payload(6 * BLOCK + 300, 0x22);

    let mut ua = RawUpload::start(server.addr, "menu");
    let mut ub = RawUpload::start(server.addr, "menu");
    assert_eq!(temps(root.path()).len(), 2, "{}", server.log());
    ua.send(&a[..4 * BLOCK], false);
    ub.send(&b[..4 * BLOCK], false);
    ua.send(&a[4 * BLOCK..], true);
    let menu = std::fs::read(root.path().join("menu")).expect("read");
    assert_bytes(&menu, &a, "after the first upload completed");
    ub.send(&b[4 * BLOCK..], true);
    let menu = std::fs::read(root.path().join("menu")).expect("read");
    assert_bytes(&menu, &b, "after the second upload completed");
    assert_no_temps(root.path(), &server);
}

#[test]
fn upload_that_cannot_replace_its_target_gets_an_error_not_the_final_ack() {
    let root = tempfile::tempdir().expect("tempdir");
    let server = Pxe::tftp(root.path(), &["--create"]);
    let mut up = RawUpload::start(server.addr, "slot");
    up.send(&payload(4 * BLOCK, 5), false);
    // A directory appears at the target's name: the rename at completion fails.
    std::fs::create_dir(root.path().join("slot")).expect("mkdir");
    let (code, message) = up.last_refused(b"tail");
    assert_eq!((code, message.as_str()), (0, "write error on the server"));
    assert!(
        server.wait_log("replacing the file failed", Duration::from_secs(5)),
        "{}",
        server.log()
    );
    assert!(root.path().join("slot").is_dir());
    assert_no_temps(root.path(), &server);
    assert!(
        server.wait_log("transfer failed", Duration::from_secs(5)),
        "{}",
        server.log()
    );
}

#[test]
fn upload_refused_for_permissions_says_what_to_make_writable() {
    // Root writes anything: drop to `nobody`, as a real deployment does, so modes matter.
    let root = tempfile::tempdir().expect("tempdir");
    let chmod = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .expect("chmod");
    };
    chmod(root.path(), 0o755);
    // A writable file in a directory the server may not write (tftpd-hpa's `chmod 666`
    // setup): the upload's temporary file cannot be created beside it.
    std::fs::create_dir(root.path().join("ro")).expect("mkdir");
    std::fs::write(root.path().join("ro/f.txt"), b"old").expect("write");
    chmod(&root.path().join("ro/f.txt"), 0o666);
    // A read-only file in a writable directory.
    std::fs::create_dir(root.path().join("rw")).expect("mkdir");
    chmod(&root.path().join("rw"), 0o777);
    std::fs::write(root.path().join("rw/locked.txt"), b"old").expect("write");
    chmod(&root.path().join("rw/locked.txt"), 0o644);
    let server = Pxe::tftp(root.path(), &["--create", "--user", "nobody"]);
    for (name, needle) in [
        ("ro/f.txt", "ro is not writable by the server"),
        ("rw/locked.txt", "locked.txt is not writable by the server"),
    ] {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind client");
        sock.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut wrq = vec![0, 2];
        wrq.extend_from_slice(name.as_bytes());
        wrq.extend_from_slice(b"\0octet\0");
        sock.send_to(&wrq, server.addr).expect("send WRQ");
        let mut buf = [0u8; 600];
        let n = sock.recv(&mut buf).expect("no answer to the WRQ");
        assert_eq!(&buf[..4], [0, 5, 0, 2], "{name}: {:?}", &buf[..n]);
        assert!(
            server.wait_log(needle, Duration::from_secs(5)),
            "{name}: no `{needle}`\n{}",
            server.log()
        );
    }
    assert!(
        !server.log().contains("not readable"),
        "a write refusal blamed read permission:\n{}",
        server.log()
    );
    assert_eq!(
        std::fs::read(root.path().join("ro/f.txt")).expect("read"),
        b"old"
    );
    assert_no_temps(&root.path().join("ro"), &server);
    assert_no_temps(&root.path().join("rw"), &server);
}
