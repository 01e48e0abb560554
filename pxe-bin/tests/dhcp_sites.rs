//! `pxe serve --dhcp server` at a real site: beside another DHCP server on one segment (split
//! scope), with real clients (ISC dhclient) and a real neighbour (dnsmasq), in network
//! namespaces on a bridge this test creates (10.91.0.0/24, inside the namespaces only) and
//! always deletes. Needs root, `ip`, `dnsmasq` and `dhclient`; without them the test FAILS
//! saying which package to install, it never skips.

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use support::dhcp;
use support::netns::{self, Host, Netns, Segment};
use support::process::Proc;
use support::tools::{PXE, require, run};

/// The neighbour (dnsmasq) owns 10.91.0.20-60 of the subnet, `pxe` 10.91.0.100-150.
const NEIGHBOUR_IP: &str = "10.91.0.2";

/// `pxe serve` with `[dhcp]` from `dhcp_toml` on the host's `eth0`; waits for its listener.
fn serve(ns: &Netns, dir: &Path, name: &str, dhcp_toml: &str) -> Proc {
    let root = dir.join("root");
    fs::create_dir_all(&root).expect("root");
    let config = format!(
        "root = {root:?}\n[tftp]\nlisten = \"10.91.0.1:69\"\n[dhcp]\nmode = \"server\"\ninterface = \"eth0\"\nleases = {:?}\n{dhcp_toml}\n",
        dir.join(format!("{name}.leases"))
    );
    dhcp::serve_config(ns.name(), dir, name, &config)
}

/// dnsmasq as the segment's other DHCP server, leasing 10.91.0.20-60.
fn dnsmasq(ns: &Netns, dir: &Path) -> Proc {
    require("dnsmasq", "dnsmasq-base");
    let p = Proc::start(
        "dnsmasq",
        netns::command(ns, "dnsmasq")
            .args([
                "-k",
                "-C",
                "/dev/null",
                "--port=0",
                "--log-dhcp",
                "--log-facility=-",
            ])
            .args([
                "--interface=eth0",
                "--bind-interfaces",
                "--user=root",
                "--no-ping",
            ])
            .args(["--dhcp-range=10.91.0.20,10.91.0.60,255.255.255.0,1h"])
            .arg(format!(
                "--dhcp-leasefile={}",
                dir.join("dnsmasq.leases").display()
            ))
            .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display())),
        &dir.join("dnsmasq.log"),
    );
    p.wait_log("DHCP, IP range", Duration::from_secs(10));
    p
}

/// One run of ISC dhclient (`-1`: one try; `-d`: in the foreground, so its pid is the guard's)
/// with lease database `leases`, until it is bound; returns its log. A second run with the same
/// database starts in INIT-REBOOT: it asks for the address it had (RFC 2131 §3.2).
fn dhclient(ns: &Netns, dir: &Path, run: &str) -> String {
    dhcp::dhclient(ns.name(), dir, &format!("dhclient-{run}.log"))
}

/// The address in dhclient's "bound to ADDR -- renewal in N seconds." line.
fn bound_address(log: &str) -> String {
    let line = log
        .lines()
        .rev()
        .find(|l| l.starts_with("bound to"))
        .unwrap_or_else(|| panic!("not bound:\n{log}"));
    line.split_whitespace()
        .nth(2)
        .expect("an address")
        .to_owned()
}

#[test]
fn a_neighbours_clients_keep_their_leases() {
    let seg = Segment::new(
        "split",
        &[
            Host {
                name: "pxe",
                addrs: &["10.91.0.1/24"],
                mac: None,
            },
            Host {
                name: "dnsm",
                addrs: &["10.91.0.2/24"],
                mac: None,
            },
            Host {
                name: "cli",
                addrs: &[],
                mac: Some("52:54:00:91:00:07"),
            },
        ],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();

    // The client takes a lease from the neighbour while it is the only server.
    let neighbour = dnsmasq(seg.host("dnsm"), dir);
    let first = dhclient(seg.host("cli"), dir, "first");
    let addr = bound_address(&first);
    assert!(
        first.contains(&format!("DHCPACK of {addr} from {NEIGHBOUR_IP}")),
        "{first}"
    );

    // Then `pxe` joins the segment (not authoritative: the default) and the client reboots:
    // INIT-REBOOT for the neighbour's address. `pxe` stays silent; the neighbour ACKs.
    let pxe = serve(
        seg.host("pxe"),
        dir,
        "pxe",
        "range = \"10.91.0.100,10.91.0.150\"",
    );
    let again = dhclient(seg.host("cli"), dir, "reboot");
    assert!(
        again.contains(&format!("DHCPREQUEST for {addr}")),
        "INIT-REBOOT:\n{again}"
    );
    assert_eq!(
        bound_address(&again),
        addr,
        "the client keeps its lease:\n{again}"
    );
    assert!(!again.contains("DHCPNAK"), "{again}");
    let log = pxe.log();
    assert!(
        log.contains("NotOurAddress") && !log.contains("DHCP NAK"),
        "pxe stays silent, with its reason:\n{log}"
    );
    drop(pxe);

    // `authoritative = true` is dhcpd's NAKing behaviour, for a server that owns the subnet.
    let pxe = serve(
        seg.host("pxe"),
        dir,
        "pxe-auth",
        "range = \"10.91.0.100,10.91.0.150\"\nauthoritative = true",
    );
    // The client may take the neighbour's ACK or our NAK first; the NAK is what is checked.
    let p = dhcp::start_dhclient(seg.host("cli").name(), dir, "dhclient-auth.log");
    pxe.wait_log("DHCP NAK", Duration::from_secs(20));
    assert!(
        pxe.log().contains("address is not in any pool"),
        "{}",
        pxe.log()
    );
    drop(p);
    drop(neighbour);
}

/// `pxe serve ARGS` (TFTP on a port of its own) run to its end; must fail, saying `why`.
fn refused(ns: &Netns, dir: &Path, args: &[&str], port: u16, why: &str) {
    let root = dir.join("root");
    let out = run(
        netns::command(ns, PXE)
            .args(["serve", "--root"])
            .arg(&root)
            .args([
                "--listen",
                &format!("10.91.0.1:{port}"),
                "--interface",
                "eth0",
            ])
            .args(args),
        Duration::from_secs(20),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} started:\n{err}");
    assert!(err.contains(why), "{args:?}:\n{err}");
}

#[test]
fn one_dhcp_service_per_interface() {
    let seg = Segment::new(
        "excl",
        &[Host {
            name: "pxe",
            addrs: &["10.91.0.1/24"],
            mac: None,
        }],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let first = serve(
        seg.host("pxe"),
        dir,
        "first",
        "range = \"10.91.0.100,10.91.0.150\"",
    );
    let other_leases = dir.join("second.leases");
    let other_leases = other_leases.to_str().expect("utf-8");
    let taken = format!("pid {}", first.pid());
    // A second server (its own lease file, so the lease lock does not catch it) and a proxy.
    let second = [
        "--dhcp",
        "server",
        "--dhcp-range",
        "10.91.0.160,10.91.0.170",
        "--leases",
        other_leases,
    ];
    refused(seg.host("pxe"), dir, &second, 6970, &taken);
    refused(seg.host("pxe"), dir, &["--dhcp", "proxy"], 6971, &taken);
    drop(first);

    // A foreign DHCP server holding port 67 on the interface stops `pxe` server mode too.
    let neighbour = dnsmasq(seg.host("pxe"), dir);
    refused(seg.host("pxe"), dir, &second, 6972, "another DHCP server");
    drop(neighbour);
}
