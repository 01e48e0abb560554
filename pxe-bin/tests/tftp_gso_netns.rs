//! Windowed downloads over a real link (a veth between two network namespaces, see
//! `support::netns`) rather than loopback, where the kernel's UDP GSO checks meet a
//! route: `pxe tftp` sends each window as one GSO `sendmsg` and falls back to `sendmmsg` when
//! the kernel refuses (`send_window` in src/tftp/net.rs). Over IPv4 (the dual-stack
//! listener's v4-mapped reply sockets) and native IPv6, every file must arrive bit-exact, every
//! transfer must end `result=ok`, and the client's kernel must have dropped no datagram for a
//! bad checksum (`InCsumErrors`). Retransmissions are not counted against a transfer: on a
//! loaded machine the client may not run before the server's timer fires, and a resent window
//! is TFTP working as it should. That a refused window goes out at once by `sendmmsg` (a lost
//! one would cost the client a timeout) is checked deterministically by the unit test
//! `a_refused_gso_window_goes_out_by_sendmmsg` in pxe-server/src/tftp/net.rs.
//!
//! Needs root, `ip` (iproute2) and `ethtool` (ethtool); without them the tests FAIL saying
//! which package to install (scripts/install-deps.sh installs both), they never skip.

mod support;

use std::path::Path;
use std::time::Duration;

use support::files::{random_file, sha256_file};
use support::netns::{SERVER_IF, SERVER_V4, SERVER_V6, VethPair};
use support::pxe::Pxe;
use support::tools::{PXE, require, run};

const T: Duration = Duration::from_secs(120);
/// What `send_window` logs (at debug) when it turns GSO off for a transfer's socket.
const REFUSED: &str = "UDP GSO refused";

/// A root with an 8 MiB random file `f.bin`; its SHA-256.
fn root() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sha = random_file(&dir.path().join("f.bin"), 8 << 20, 11);
    (dir, sha)
}

/// `pxe get` of `f.bin` from `host` in the client namespace: bit-exact, with the blksize
/// asked for and windowsize 16 granted.
fn get(pair: &VethPair, server: &Pxe, host: &str, blksize: u16, out: &Path, sha: &str) {
    let url = format!("tftp://{host}:{}/f.bin", server.addr.port());
    let r = run(
        pair.client_command(PXE)
            .args(["get", &url, "-o"])
            .arg(out)
            .args(["--blksize", &blksize.to_string(), "--windowsize", "16"]),
        T,
    );
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        r.status.success(),
        "pxe get {url}: {err}\nserver log:\n{}",
        server.log()
    );
    assert_eq!(sha256_file(out), sha, "{url}: content differs");
    assert!(
        err.contains(&format!("blksize {blksize}, windowsize 16, ")),
        "{url}: {err}"
    );
}

/// The client namespace's count of UDP datagrams (IPv4 and IPv6) its kernel dropped for a bad
/// checksum: `InCsumErrors` in /proc/net/snmp and `Udp6InCsumErrors` in /proc/net/snmp6.
fn checksum_errors(pair: &VethPair) -> u64 {
    let snmp = pair
        .client
        .exec(&["cat", "/proc/net/snmp", "/proc/net/snmp6"]);
    let text = String::from_utf8_lossy(&snmp.stdout);
    // /proc/net/snmp: a line of names, then a line of values, both starting `Udp:`.
    let lines: Vec<&str> = text.lines().collect();
    let v4 = lines.windows(2).find_map(|w| {
        let names = w[0].strip_prefix("Udp:")?.split_whitespace();
        let values = w[1].strip_prefix("Udp:")?.split_whitespace();
        let (_, v) = names.zip(values).find(|(n, _)| *n == "InCsumErrors")?;
        v.parse::<u64>().ok()
    });
    let v6 = text
        .lines()
        .find_map(|l| l.strip_prefix("Udp6InCsumErrors"))
        .and_then(|v| v.trim().parse::<u64>().ok());
    match (v4, v6) {
        (Some(a), Some(b)) => a + b,
        _ => panic!("no UDP InCsumErrors counters in the client namespace:\n{text}"),
    }
}

/// Waits for the server's `n` transfer summaries; each one `result=ok` (whatever its
/// retransmissions: see the file's documentation).
fn assert_clean_transfers(server: &Pxe, n: usize) {
    let done = || server.log().matches("result=").count() >= n;
    let end = std::time::Instant::now() + T;
    while !done() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("result=")).collect();
    assert_eq!(lines.len(), n, "transfer summaries:\n{log}");
    for l in lines {
        assert!(l.contains(" result=ok "), "transfer failed: {l}\n{log}");
    }
}

/// `pxe tftp --listen [::]:0 EXTRA...` in the server namespace; [`get`]s `f.bin` over IPv4
/// with `blksize_v4`, then over IPv6 with `blksize_v6`, and waits for the two transfer
/// summaries; the client's kernel dropped no datagram for a bad checksum. Returns the server's
/// log.
fn download_v4_and_v6(pair: &VethPair, extra: &[&str], blksize_v4: u16, blksize_v6: u16) -> String {
    let (dir, sha) = root();
    let root = dir.path().to_str().expect("utf-8");
    let mut args = vec!["tftp", "--root", root, "--listen", "[::]:0"];
    args.extend_from_slice(extra);
    let server = Pxe::start_in(&pair.server, &args);
    let out = tempfile::tempdir().expect("tempdir");
    let csum_errors_before = checksum_errors(pair);
    get(
        pair,
        &server,
        SERVER_V4,
        blksize_v4,
        &out.path().join("v4"),
        &sha,
    );
    get(
        pair,
        &server,
        &format!("[{SERVER_V6}]"),
        blksize_v6,
        &out.path().join("v6"),
        &sha,
    );
    assert_clean_transfers(&server, 2);
    assert_eq!(
        checksum_errors(pair),
        csum_errors_before,
        "datagrams dropped for a bad UDP checksum in the client namespace; server log:\n{}",
        server.log()
    );
    server.log()
}

/// TX checksum offload off on the server's veth (`ethtool -K veth-s tx off`, which also turns
/// off `tx-checksum-ip-generic` and `tx-udp-segmentation`). Kernels before the change that
/// checksums UDP GSO segments in software refuse GSO there with EIO, and `pxe` must fall back
/// on the same window; the 6.18 kernel of our machines accepts it (checked by hand with
/// `strace -e sendmsg`: every window `= 11776`, none EIO, also with `sg`, `gso` and
/// `tx-udp-segmentation` off too; and no kernel here has an xfrm protocol, the other EIO
/// cause), so here this proves the software-checksummed segments arrive intact (the receiver
/// drops a bad checksum and counts it in `InCsumErrors`). The refusal itself is forced
/// deterministically by [`gso_refused_above_the_route_mtu_falls_back_to_sendmmsg`].
#[test]
fn gso_without_tx_checksum_offload_is_bit_exact() {
    require("ethtool", "ethtool");
    let pair = VethPair::new("csum");
    pair.server.exec(&["ethtool", "-K", SERVER_IF, "tx", "off"]);
    let features = pair.server.exec(&["ethtool", "-k", SERVER_IF]);
    let features = String::from_utf8_lossy(&features.stdout);
    assert!(
        features.contains("tx-checksum-ip-generic: off"),
        "tx checksum offload still on:\n{features}"
    );
    let log = download_v4_and_v6(&pair, &[], 1468, 1448);
    let refusals: Vec<&str> = log.lines().filter(|l| l.contains(REFUSED)).collect();
    assert!(
        refusals.is_empty()
            || (refusals.len() == 2 && refusals.iter().all(|l| l.contains("os error 5"))),
        "GSO refused other than once per transfer with EIO:\n{log}"
    );
}

/// Blocks larger than the veth's 1500-byte MTU (`--blksize-max 65464`, so the grant is not
/// capped to the MTU, and the client asks for 4096): the kernel refuses a GSO segment larger
/// than the route MTU with EMSGSIZE (it never fragments segments), where a plain send
/// fragments. Each transfer must log the refusal once, then send its windows with `sendmmsg`,
/// the refused window included: bit-exact, over IPv4 and IPv6.
#[test]
fn gso_refused_above_the_route_mtu_falls_back_to_sendmmsg() {
    let pair = VethPair::new("mtu");
    let log = download_v4_and_v6(&pair, &["--blksize-max", "65464"], 4096, 4096);
    let refusals: Vec<&str> = log.lines().filter(|l| l.contains(REFUSED)).collect();
    assert_eq!(
        refusals.len(),
        2,
        "expected one GSO refusal per transfer:\n{log}"
    );
    assert!(
        refusals.iter().all(|l| l.contains("os error 90")),
        "not EMSGSIZE:\n{log}"
    );
}
