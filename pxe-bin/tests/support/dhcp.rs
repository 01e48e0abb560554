//! DHCP servers in a namespace (`pxe serve` from a config file, or a lease server from flags)
//! and load clients behind a relay address (`giaddr`: one UDP socket on port 67 carries many
//! clients, told apart by MAC), with the audits of what they were ACKed.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use pxe_dhcp::wire::{DhcpOption, MessageType, Op, Repr};
use pxe_proto::MacAddr;

use super::netns;
use super::process::Proc;
use super::tools::{PXE, require};

/// `pxe serve --config DIR/NAME.toml` in namespace `ns`, the file holding `config`; logs at
/// info to `DIR/NAME.log`. Returned once it logs "DHCP listening" (within 10 s).
pub fn serve_config(ns: &str, dir: &Path, name: &str, config: &str) -> Proc {
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, config).expect("write the config");
    let p = Proc::start(
        name,
        netns::command(ns, PXE)
            .args(["serve", "--config"])
            .arg(&cfg)
            .env("RUST_LOG", "info"),
        &dir.join(format!("{name}.log")),
    );
    p.wait_log("DHCP listening", Duration::from_secs(10));
    p
}

/// `pxe serve --dhcp server` in namespace `ns`: TFTP on `listen`:69 over `root`, leasing
/// `range` on `interface` with lease store `leases` (a file or a `postgresql://` URL), logging
/// warnings to `serve-LISTEN.log` in `root`. Returned once its own DHCP socket is bound (the
/// log stays quiet at warn), within 20 s.
pub fn lease_server(
    ns: &str,
    root: &Path,
    listen: Ipv4Addr,
    interface: &str,
    range: &str,
    leases: &str,
) -> Proc {
    let mut p = Proc::start(
        "pxe serve",
        netns::command(ns, PXE)
            .args(["serve", "--root"])
            .arg(root)
            .args([
                "--listen",
                &format!("{listen}:69"),
                "--interface",
                interface,
            ])
            .args(["--dhcp", "server", "--dhcp-range", range])
            .args(["--leases", leases])
            .env("RUST_LOG", "warn"),
        &root.join(format!("serve-{listen}.log")),
    );
    netns::wait_udp_port(ns, 67, &mut p, Duration::from_secs(20));
    p
}

/// ISC dhclient on `eth0` in `ns`, started (lease and pid files in `dir`, log in `dir/LOG`),
/// for a test that waits for something other than a lease.
pub fn start_dhclient(ns: &str, dir: &Path, log: &str) -> Proc {
    require("dhclient", "isc-dhcp-client");
    Proc::start(
        "dhclient",
        netns::command(ns, "dhclient")
            .args(["-4", "-1", "-d", "-v", "-sf", "/bin/true"])
            .arg("-pf")
            .arg(dir.join("dhclient.pid"))
            .arg("-lf")
            .arg(dir.join("dhclient.leases"))
            .arg("eth0"),
        &dir.join(log),
    )
}

/// [`start_dhclient`] until bound; its log.
pub fn dhclient(ns: &str, dir: &Path, log: &str) -> String {
    let p = start_dhclient(ns, dir, log);
    p.wait_log("bound to", Duration::from_secs(30));
    p.log()
}

/// A client message relayed by `relay` (hops 1): `mt` from `mac` with `xid`; a REQUEST names
/// the offer it takes, `(address, server identifier)`.
pub fn relayed(
    relay: Ipv4Addr,
    mt: MessageType,
    mac: MacAddr,
    xid: u32,
    offer: Option<(Ipv4Addr, Ipv4Addr)>,
) -> Vec<u8> {
    let mut r = Repr::new(Op::BootRequest, xid, mac);
    r.giaddr = relay;
    r.hops = 1;
    r.options.push(DhcpOption::MessageType(mt));
    if let Some((ip, server)) = offer {
        r.options.extend([
            DhcpOption::ServerIdentifier(server),
            DhcpOption::RequestedIpAddress(ip),
        ]);
    }
    let mut buf = vec![0u8; 1500];
    let n = r.emit(&mut buf).expect("emit");
    buf.truncate(n);
    buf
}

/// No address was ACKed to two clients (the tests' leases last an hour; nobody releases).
pub fn assert_no_address_twice(acks: &[(MacAddr, Ipv4Addr)]) {
    let mut holder: BTreeMap<Ipv4Addr, MacAddr> = BTreeMap::new();
    for (m, ip) in acks {
        if let Some(other) = holder.insert(*ip, *m) {
            assert_eq!(other, *m, "{ip} ACKed to {other} and to {m}");
        }
    }
}

/// Every ACK is in the lease store `saved` (address → (MAC, state), read back from `store`),
/// bound to its client.
pub fn assert_all_bound(
    acks: &[(MacAddr, Ipv4Addr)],
    saved: &BTreeMap<Ipv4Addr, (String, String)>,
    store: &str,
) {
    for (m, ip) in acks {
        let (mac, state) = saved
            .get(ip)
            .unwrap_or_else(|| panic!("ACKed {ip} for {m} not in the {store}"));
        assert_eq!(
            (mac.as_str(), state.as_str()),
            (m.to_string().as_str(), "bound"),
            "{ip}"
        );
    }
}
