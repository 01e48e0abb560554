//! `pxe serve --dhcp6 server|boot-only` against a real DHCPv6 client (`dhclient -6`, package
//! isc-dhcp-client) on an IPv6-only veth link (`fd77::/64`, no IPv4 address anywhere) between
//! two network namespaces this test creates and always deletes; radvd (package radvd) is the
//! existing router for the boot-only mode. Needs root and the tools: without them the test
//! FAILS saying so, it never skips.

mod support;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use support::netns::{self, CLIENT_IF, Link, Netns, SERVER_IF, VethPair};
use support::process::Proc;
use support::tools::{PXE, require};

const CLI_MAC: &str = "52:54:00:77:06:01";

/// An IPv6-only pair: the server's end has `fd77::1/64`, the client's end only its link-local
/// address (as firmware before DHCPv6).
fn netns_pair(tag: &str) -> VethPair {
    require("dhclient", "isc-dhcp-client");
    let net = VethPair::with(
        tag,
        Link {
            server: &["fd77::1/64"],
            client: &[],
            client_mac: Some(CLI_MAC),
        },
    );
    wait_link_local(&net.client, CLIENT_IF);
    wait_link_local(&net.server, SERVER_IF);
    net
}

/// Waits until `dev`'s link-local address has passed duplicate address detection: a DHCPv6
/// client cannot bind port 546 to a tentative address.
fn wait_link_local(ns: &Netns, dev: &str) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let out = ns.exec(&["ip", "-6", "addr", "show", "dev", dev, "scope", "link"]);
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("fe80::") && !text.contains("tentative") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{dev}: no usable link-local address within 10 s");
}

/// `pxe serve` with `config` in the server namespace; waits for its DHCPv6 listener.
fn serve(ns: &Netns, dir: &Path, config: &str) -> Proc {
    let path = dir.join("pxe.toml");
    fs::write(&path, config).expect("write config");
    let server = Proc::start(
        "pxe serve",
        netns::command(ns, PXE)
            .args(["serve", "--config", path.to_str().expect("utf-8 path")])
            .env("RUST_LOG", "info"),
        &dir.join("serve.log"),
    );
    server.wait_log("DHCPv6 listening", Duration::from_secs(10));
    server
}

fn root(dir: &Path) -> String {
    let root = dir.join("root");
    fs::create_dir_all(&root).expect("root");
    fs::write(root.join("ipxe.efi"), b"not really ipxe").expect("boot file");
    fs::write(root.join("boot.ipxe"), b"#!ipxe\n").expect("script");
    root.to_str().expect("utf-8 path").to_owned()
}

/// `dhclient -6` in the foreground in the client namespace, with `conf` as its config and a
/// script that records each event's environment (what dhclient-script would act on), one
/// append per event so a reader never sees half of one.
fn dhclient(net: &VethPair, dir: &Path, extra: &[&str], conf: &str) -> Proc {
    let script = dir.join("script.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\n{{ echo \"reason=$reason\"; env | grep -E '^(new|old)_'; }} > {tmp}.$$\n\
             cat {tmp}.$$ >> {events} && rm -f {tmp}.$$\n",
            tmp = dir.join("event").display(),
            events = dir.join("events.txt").display()
        ),
    )
    .expect("script");
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    fs::write(dir.join("dhclient.conf"), conf).expect("dhclient.conf");
    let s = |p: &str| dir.join(p).to_str().expect("utf-8").to_owned();
    Proc::start(
        "dhclient -6",
        net.client_command("dhclient")
            .args(["-6", "-d", "-v"])
            .args(extra)
            .args(["-cf", &s("dhclient.conf"), "-lf", &s("dhclient6.leases")])
            .args([
                "-pf",
                &s("dhclient6.pid"),
                "-sf",
                &s("script.sh"),
                CLIENT_IF,
            ]),
        &dir.join("dhclient.log"),
    )
}

/// The server's and the client's logs, for failure messages.
fn both_logs(d: &Path) -> String {
    let read = |f: &str| fs::read_to_string(d.join(f)).unwrap_or_default();
    format!(
        "server:\n{}\nclient:\n{}",
        read("serve.log"),
        read("dhclient.log")
    )
}

fn wait_file(path: &Path, needle: &str, limit: Duration, what: &dyn Fn() -> String) -> String {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        let text = fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{} has no {needle:?} within {limit:?}:\n{}\n{}",
        path.display(),
        fs::read_to_string(path).unwrap_or_default(),
        what()
    );
}

#[test]
fn dhclient_gets_renews_and_releases_a_lease() {
    let net = netns_pair("server");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let leases = d.join("leases6.json");
    let config = format!(
        "root = \"{}\"\n[dhcp6]\nmode = \"server\"\ninterface = \"{SERVER_IF}\"\n\
         range = \"fd77::100,fd77::1ff\"\nleases = \"{}\"\npreferred_lifetime = 4\n\
         valid_lifetime = 30\ndns = [\"fd77::53\"]\n",
        root(d),
        leases.display()
    );
    let mut server = serve(&net.server, d, &config);
    let mut client = dhclient(&net, d, &[], "request dhcp6.name-servers;\n");
    let logs = || both_logs(d);

    // Solicit → Advertise → Request → Reply: bound, and the lease is on disk.
    let events = wait_file(
        &d.join("events.txt"),
        "reason=BOUND6",
        Duration::from_secs(20),
        &logs,
    );
    let addr = events
        .lines()
        .find_map(|l| l.strip_prefix("new_ip6_address="))
        .unwrap_or_else(|| panic!("no address in {events}"))
        .to_owned();
    assert!(addr.starts_with("fd77::1"), "{addr} is from the range");
    assert!(
        events.contains("new_dhcp6_name_servers=fd77::53"),
        "{events}"
    );
    let saved = fs::read_to_string(&leases).expect("lease file");
    assert!(saved.contains(&addr) && saved.contains("bound"), "{saved}");

    // T1 = preferred / 2 = 2 s: a Renew, answered with the same address.
    wait_file(
        &d.join("events.txt"),
        "reason=RENEW6",
        Duration::from_secs(15),
        &logs,
    );
    server.assert_running();
    client.assert_running();

    // Release: `dhclient -r` stops the running client (by its pid file) and releases.
    let s = |p: &str| d.join(p).to_str().expect("utf-8").to_owned();
    let out = net
        .client_command("dhclient")
        .args([
            "-6",
            "-r",
            "-v",
            "-cf",
            &s("dhclient.conf"),
            "-lf",
            &s("dhclient6.leases"),
        ])
        .args([
            "-pf",
            &s("dhclient6.pid"),
            "-sf",
            &s("script.sh"),
            CLIENT_IF,
        ])
        .output()
        .expect("dhclient -r");
    assert!(out.status.success(), "{out:?}\n{}", logs());
    client.stop(Duration::from_secs(2));
    server.wait_log("state=None", Duration::from_secs(10));
    let t0 = Instant::now();
    while fs::read_to_string(&leases)
        .unwrap_or_default()
        .contains(&addr)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "lease still saved: {}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.log().contains("DHCPv6 lease"), "{}", logs());
    server.stop_clean(Duration::from_secs(5));
}

#[test]
fn boot_only_beside_radvd_answers_an_ipxe_information_request() {
    require("radvd", "radvd");
    let net = netns_pair("bootonly");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // The existing router: SLAAC addresses, "other configuration" from DHCPv6.
    let radvd_conf = d.join("radvd.conf");
    fs::write(
        &radvd_conf,
        format!(
            "interface {SERVER_IF} {{\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n \
             MaxRtrAdvInterval 4;\n AdvManagedFlag off;\n AdvOtherConfigFlag on;\n \
             prefix fd77::/64 {{ AdvOnLink on; AdvAutonomous on; }};\n}};\n"
        ),
    )
    .expect("radvd.conf");
    let mut radvd = Proc::start(
        "radvd",
        netns::command(&net.server, "radvd").args([
            "-n",
            "-d",
            "1",
            "-m",
            "stderr",
            "-C",
            radvd_conf.to_str().expect("utf-8"),
            "-p",
            d.join("radvd.pid").to_str().expect("utf-8"),
        ]),
        &d.join("radvd.log"),
    );
    let config = format!(
        "root = \"{}\"\n[dhcp6]\nmode = \"boot-only\"\ninterface = \"{SERVER_IF}\"\n\
         [http]\nlisten = \"[::]:8080\"\n",
        root(d)
    );
    let mut server = serve(&net.server, d, &config);

    // The router's RA gives the client a SLAAC address: radvd, not pxe, configured it.
    let t0 = Instant::now();
    loop {
        let out = net.client.exec(&[
            "ip", "-6", "addr", "show", "dev", CLIENT_IF, "scope", "global",
        ]);
        if String::from_utf8_lossy(&out.stdout).contains("fd77::5054:ff:fe77:601") {
            break;
        }
        radvd.assert_running();
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no SLAAC address; radvd:\n{}",
            radvd.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // iPXE's stateless path (RA O flag): an Information-request with user class "iPXE" and
    // ORO 59; dhclient -S sends the same message.
    let conf = "option dhcp6.bootfile-url code 59 = string;\n\
                option dhcp6.client-arch-type code 61 = unsigned integer 16;\n\
                option dhcp6.user-class code 15 = string;\n\
                send dhcp6.user-class 00:04:69:50:58:45;\n\
                send dhcp6.client-arch-type 7;\n\
                also request dhcp6.bootfile-url;\n";
    let mut client = dhclient(&net, d, &["-S"], conf);
    let logs = || both_logs(d);
    let events = wait_file(
        &d.join("events.txt"),
        "new_dhcp6_bootfile_url",
        Duration::from_secs(20),
        &logs,
    );
    assert!(
        events.contains("new_dhcp6_bootfile_url=http://[fd77::1]:8080/boot.ipxe"),
        "{events}"
    );
    server.wait_log("DHCPv6 decision", Duration::from_secs(1));
    assert!(
        server
            .log()
            .contains("user class iPXE → http://[fd77::1]:8080/boot.ipxe by rule"),
        "{}",
        server.log()
    );
    client.stop(Duration::from_secs(2));

    // A plain stateless client (no iPXE, no PXE vendor class) gets nothing from boot-only.
    let _ = fs::remove_file(d.join("events.txt"));
    let mut plain = dhclient(&net, d, &["-S", "-1"], "");
    std::thread::sleep(Duration::from_secs(3));
    let got = fs::read_to_string(d.join("events.txt")).unwrap_or_default();
    assert!(!got.contains("new_dhcp6_bootfile_url"), "{got}");
    plain.stop(Duration::from_secs(2));
    server.stop_clean(Duration::from_secs(5));
    radvd.stop(Duration::from_secs(2));
}

#[test]
fn router_advertisements_carry_the_server_modes_flags() {
    let net = netns_pair("ra");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let config = format!(
        "root = \"{}\"\n[dhcp6]\nmode = \"server\"\ninterface = \"{SERVER_IF}\"\n\
         range = \"fd77::100,fd77::1ff\"\nleases = \"{}\"\nrouter_advertisements = true\n",
        root(d),
        d.join("leases6.json").display()
    );
    let mut server = serve(&net.server, d, &config);
    // The kernel takes the prefix from our RA as on-link (L=1: a prefix route that expires,
    // which only an RA gives) but makes no SLAAC address
    // (A=0): addresses come from DHCPv6 (M=1).
    let t0 = Instant::now();
    loop {
        let out = net
            .client
            .exec(&["ip", "-6", "route", "show", "dev", CLIENT_IF]);
        let routes = String::from_utf8_lossy(&out.stdout).into_owned();
        if routes
            .lines()
            .any(|l| l.starts_with("fd77::/64") && l.contains("expires"))
        {
            break;
        }
        server.assert_running();
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no RA prefix route: {routes}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = net.client.exec(&[
        "ip", "-6", "addr", "show", "dev", CLIENT_IF, "scope", "global",
    ]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("fd77:"),
        "no SLAAC address in server mode"
    );
    // And a DHCPv6 client on that link then gets its address from the server.
    let mut client = dhclient(&net, d, &[], "");
    let logs = || both_logs(d);
    wait_file(
        &d.join("events.txt"),
        "reason=BOUND6",
        Duration::from_secs(20),
        &logs,
    );
    client.stop(Duration::from_secs(2));
    server.stop_clean(Duration::from_secs(5));
}
