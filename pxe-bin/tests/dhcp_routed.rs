//! `pxe serve --dhcp server|proxy` behind ISC dhcrelay: two client subnets routed to the
//! server's, as at a site with VLANs and `ip helper-address`. Network namespaces this test
//! creates (10.94.0.0/24 for the servers, 10.95.0.0/24 and 10.96.0.0/24 for the clients, inside
//! the namespaces only) and always deletes; real clients (ISC dhclient, busybox udhcpc), a real
//! relay adding option 82, dnsmasq giving the addresses in proxy mode. Needs root, `ip`,
//! `dhcrelay`, `dhclient`, `busybox` and `dnsmasq`; without them the test FAILS, it never skips.

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use support::dhcp;
use support::netns::{self, Host, Netns, Segment};
use support::process::Proc;
use support::tools::require;

/// The server segment (pxe at .1, dnsmasq at .2, the router at .254) and the router's links
/// to the two client namespaces (`eth1` → 10.95.0.0/24, `eth2` → 10.96.0.0/24, router at .1).
struct Site {
    seg: Segment,
    far: Vec<Netns>,
}

impl Site {
    fn new(tag: &str) -> Site {
        let seg = Segment::new(
            tag,
            &[
                Host {
                    name: "srv",
                    addrs: &["10.94.0.1/24"],
                    mac: None,
                },
                Host {
                    name: "dns",
                    addrs: &["10.94.0.2/24"],
                    mac: None,
                },
                Host {
                    name: "rtr",
                    addrs: &["10.94.0.254/24"],
                    mac: None,
                },
            ],
        );
        let rtr = seg.host("rtr");
        rtr.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        let mut far = Vec::new();
        for (n, (dev, net)) in [("eth1", "10.95.0"), ("eth2", "10.96.0")]
            .into_iter()
            .enumerate()
        {
            let ns = Netns::new(&format!("{}-c{n}", rtr.name()));
            rtr.ip(&[
                "link", "add", dev, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]);
            rtr.ip(&["addr", "add", &format!("{net}.1/24"), "dev", dev]);
            rtr.ip(&["link", "set", dev, "up"]);
            ns.ip(&["link", "set", "lo", "up"]);
            ns.ip(&[
                "link",
                "set",
                "eth0",
                "address",
                &format!("52:54:00:9{}:00:07", 5 + n),
            ]);
            ns.ip(&["link", "set", "eth0", "up"]);
            for host in ["srv", "dns"] {
                seg.host(host)
                    .ip(&["route", "add", &format!("{net}.0/24"), "via", "10.94.0.254"]);
            }
            far.push(ns);
        }
        Site { seg, far }
    }

    /// ISC dhcrelay on the router: clients on eth1 and eth2, servers upstream on eth0;
    /// `-a` adds option 82 (RFC 3046) and checks that replies carry it back.
    fn relay(&self, dir: &Path, servers: &[&str]) -> Proc {
        require("dhcrelay", "isc-dhcp-relay");
        let p = Proc::start(
            "dhcrelay",
            netns::command(self.seg.host("rtr"), "dhcrelay")
                .args([
                    "-4", "-d", "-a", "--no-pid", "-id", "eth1", "-id", "eth2", "-iu", "eth0",
                ])
                .args(servers),
            &dir.join("dhcrelay.log"),
        );
        std::thread::sleep(Duration::from_millis(500));
        p
    }
}

/// `pxe serve` in the server namespace with `[dhcp]` + `extra` from a config file.
fn serve(ns: &Netns, dir: &Path, name: &str, extra: &str) -> Proc {
    let root = dir.join("root");
    fs::create_dir_all(&root).expect("root");
    fs::write(root.join("undionly.kpxe"), b"rom").expect("boot file");
    let config = format!(
        "root = {root:?}\n[tftp]\nlisten = \"10.94.0.1:69\"\n[dhcp]\ninterface = \"eth0\"\nleases = {:?}\n{extra}\n",
        dir.join(format!("{name}.leases"))
    );
    dhcp::serve_config(ns.name(), dir, name, &config)
}

/// ISC dhclient in `ns` until bound; its log.
fn dhclient(ns: &Netns, dir: &Path) -> String {
    dhcp::dhclient(ns.name(), dir, "dhclient.log")
}

/// busybox udhcpc in `ns` until it has a lease (`extra`: more flags, e.g. PXE options); the
/// variables its script was given (`ip`, `router`, `lease`, `boot_file`, ...).
fn udhcpc(ns: &Netns, dir: &Path, extra: &[&str]) -> String {
    require("busybox", "busybox");
    let script = dir.join("udhcpc.sh");
    let env = dir.join("udhcpc.env");
    fs::write(
        &script,
        format!("#!/bin/sh\n[ \"$1\" = bound ] && env > {env:?}\nexit 0\n"),
    )
    .expect("script");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .expect("chmod");
    let p = Proc::start(
        "udhcpc",
        netns::command(ns, "busybox")
            .args([
                "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "2", "-s",
            ])
            .arg(&script)
            .args(extra),
        &dir.join("udhcpc.log"),
    );
    let t0 = std::time::Instant::now();
    while !env.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "udhcpc got no lease:\n{}",
            p.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(100));
    fs::read_to_string(&env).expect("udhcpc env")
}

fn var<'a>(env: &'a str, name: &str) -> &'a str {
    env.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in\n{env}"))
}

#[test]
fn server_leases_to_two_relayed_subnets() {
    let site = Site::new("routed");
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let pxe = serve(
        site.seg.host("srv"),
        dir,
        "pxe",
        "mode = \"server\"\ndns = [\"10.94.0.2\"]\n\
         [[dhcp.subnet]]\nnetwork = \"10.95.0.0/24\"\nrange = \"10.95.0.100,10.95.0.150\"\n\
         [[dhcp.subnet]]\nnetwork = \"10.96.0.0/24\"\nrange = \"10.96.0.100,10.96.0.150\"\n\
         router = \"10.96.0.1\"\nlease_time = 600\ndomain = \"far\"",
    );
    let relay = site.relay(dir, &["10.94.0.1"]);

    // ISC dhclient on the first client subnet: an address from that subnet's pool, through the
    // relay (the server answers the relay on port 67, RFC 1542 §4.1; dhcrelay -a drops replies
    // that do not carry its option 82 back, RFC 3046 §2.2).
    let log = dhclient(&site.far[0], dir);
    let bound = log
        .lines()
        .find(|l| l.starts_with("bound to"))
        .expect("bound");
    assert!(bound.starts_with("bound to 10.95.0.1"), "{bound}\n{log}");
    assert!(
        log.contains("DHCPACK of 10.95.0.") && log.contains("from 10.95.0.1"),
        "{log}"
    );

    // busybox udhcpc on the second: that subnet's router, lease time and domain.
    let env = udhcpc(&site.far[1], dir, &[]);
    let ip = var(&env, "ip");
    assert!(ip.starts_with("10.96.0.1"), "{env}");
    assert_eq!(var(&env, "router"), "10.96.0.1");
    assert_eq!(var(&env, "lease"), "600");
    assert_eq!(var(&env, "domain"), "far");
    assert_eq!(var(&env, "subnet"), "255.255.255.0");
    assert_eq!(var(&env, "dns"), "10.94.0.2");

    let rlog = relay.log();
    assert!(rlog.contains("Forwarded BOOTREPLY"), "{rlog}");
    let log = pxe.log();
    assert!(
        !log.contains("PoolExhausted") && !log.contains("InvalidRelay"),
        "{log}"
    );
}

#[test]
fn proxy_answers_relayed_pxe_clients() {
    require("dnsmasq", "dnsmasq-base");
    let site = Site::new("rproxy");
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let pxe = serve(site.seg.host("srv"), dir, "proxy", "mode = \"proxy\"");
    let relay = site.relay(dir, &["10.94.0.1", "10.94.0.2"]);
    // A BIOS PXE ROM's DISCOVER, as udhcpc sends it with option 60 and 93. udhcpc is no PXE
    // client: it takes the first OFFER, and the proxy's has no address, so it gets no lease;
    // what counts is that the proxy's OFFER reached it through the relay (dnsmasq is not
    // running yet, so no other OFFER can come first).
    let out = support::tools::run(
        netns::command(&site.far[0], "busybox").args([
            "udhcpc",
            "-i",
            "eth0",
            "-f",
            "-q",
            "-n",
            "-t",
            "1",
            "-T",
            "2",
            "-s",
            "/bin/true",
            "-V",
            "PXEClient:Arch:00000:UNDI:002001",
            "-x",
            "93:0000",
        ]),
        Duration::from_secs(30),
    );
    let ulog =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    pxe.wait_log("DHCP decision", Duration::from_secs(10));
    let log = pxe.log();
    assert!(
        log.contains("undionly.kpxe") && log.contains("52:54:00:95:00:07"),
        "{log}"
    );
    assert!(
        ulog.contains("server 10.94.0.1"),
        "the proxy's OFFER reached the client:\n{ulog}"
    );
    let rlog = relay.log();
    assert!(rlog.contains("Forwarded BOOTREPLY"), "{rlog}");

    // Then dnsmasq joins (the relay forwards to both); the proxy leaves plain clients alone.
    let dnsmasq = Proc::start(
        "dnsmasq",
        netns::command(site.seg.host("dns"), "dnsmasq")
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
            .args([
                "--dhcp-range=10.95.0.20,10.95.0.60,255.255.255.0,1h",
                "--dhcp-range=10.96.0.20,10.96.0.60,255.255.255.0,1h",
            ])
            .arg(format!(
                "--dhcp-leasefile={}",
                dir.join("dnsmasq.leases").display()
            ))
            .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display())),
        &dir.join("dnsmasq.log"),
    );
    let log = dhclient(&site.far[1], dir);
    assert!(log.contains("bound to 10.96.0."), "{log}");
    assert!(dnsmasq.log().contains("DHCPACK"), "{}", dnsmasq.log());
}
