//! Log lines clients cannot forge, and journald priorities: a TFTP request whose name holds
//! a newline, a fake "INFO transfer ... result=ok" line and ESC sequences yields one escaped
//! log line; under systemd (`JOURNAL_STREAM` naming stderr) each line starts with `<N>`.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

use support::process::Proc;
use support::pxe::Pxe;
use support::tools::PXE;

/// The forged-line payload: a newline, a complete fake log line, a carriage return and ANSI
/// sequences (clear screen, a colour).
const FORGED: &[u8] =
    b"x\n2026-12-05T23:50:00.000000Z  INFO transfer file=pxelinux.0 result=ok\r\x1b[2J\x1b[31mred";

fn send_rrq(to: SocketAddr, name: &[u8]) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut rrq = vec![0, 1];
    rrq.extend_from_slice(name);
    rrq.extend_from_slice(b"\0octet\0");
    s.send_to(&rrq, to).expect("send RRQ");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut buf = [0u8; 600];
    let (n, _) = s.recv_from(&mut buf).expect("an answer");
    assert_eq!(&buf[..2], [0, 5], "an ERROR packet: {:?}", &buf[..n]);
}

#[test]
fn a_forged_name_yields_one_escaped_line() {
    let root = tempfile::tempdir().expect("temp dir");
    let p = Pxe::tftp(root.path(), &[]);
    send_rrq(p.addr, FORGED);
    assert!(
        p.wait_log("result=ok", Duration::from_secs(5)),
        "{}",
        p.log()
    );
    let log = p.log();
    assert!(!log.contains('\u{1b}'), "raw ESC in the log:\n{log:?}");
    assert!(!log.contains('\r'), "raw CR in the log:\n{log:?}");
    let hits: Vec<&str> = log.lines().filter(|l| l.contains("result=ok")).collect();
    assert_eq!(hits.len(), 1, "{log}");
    let line = hits[0];
    assert!(
        line.contains(r"file=x\n2026-12-05T23:50:00.000000Z  INFO transfer file=pxelinux.0 result=ok\r\u{1b}[2J\u{1b}[31mred"),
        "{line}"
    );
    assert!(
        line.contains("WARN") && line.contains("client=127.0.0.1:"),
        "{line}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("2026-12-05T23:50:00")),
        "{log}"
    );
}

#[test]
fn under_journald_each_line_carries_its_priority() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("journal.log");
    std::fs::write(&log, "").expect("create log");
    let meta = std::fs::metadata(&log).expect("stat log");
    let p = Proc::start(
        "pxe tftp",
        Command::new(PXE)
            .args(["tftp", "--listen", "127.0.0.1:0", "--root"])
            .arg(dir.path())
            .env("RUST_LOG", "debug")
            .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino())),
        &log,
    );
    p.wait_log("TFTP listening", Duration::from_secs(10));
    let text = p.log();
    let listen: SocketAddr = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("listen="))
        .expect("listen field")
        .parse()
        .expect("address");
    send_rrq(listen, FORGED);
    p.wait_log("result=ok", Duration::from_secs(5));
    let text = p.log();
    for line in text.lines() {
        assert!(
            ["<3>", "<4>", "<6>", "<7>"]
                .iter()
                .any(|p| line.starts_with(p)),
            "no priority prefix: {line:?}\n{text}"
        );
    }
    let info = text
        .lines()
        .find(|l| l.contains("TFTP listening"))
        .expect("listening line");
    // No timestamp: the journal adds its own.
    assert!(info.starts_with("<6> INFO TFTP listening"), "{info}");
    let warn = text
        .lines()
        .find(|l| l.contains("result=ok"))
        .expect("refusal line");
    assert!(warn.starts_with("<4> WARN"), "{warn}");
}
