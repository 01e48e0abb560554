//! Real firmware boots through `pxe serve`: QEMU/TCG with SeaBIOS and the e1000's
//! iPXE ROM, and OVMF with EDK2's own PXE client, each in a network namespace of its own.
//!
//! Every test lays out a root with `pxe init`, adds files that print markers on the serial
//! console, starts `pxe serve` in the namespace, boots QEMU on a tap beside it and waits at most
//! [`LIMIT`] for the marker; it prints the time to the marker and the serial milestones. QEMU,
//! `pxe` and dnsmasq are stopped by pid and the namespace deleted whatever happens
//! (`support/firmware_lab.rs`). dnsmasq sends the IPv6 router advertisements iPXE waits for
//! (~13 s otherwise) and, in the proxy test, the addresses.
//!
//! Needs root and the packages `scripts/install-deps.sh` installs.

mod support;

use std::io::Write as _;
use std::time::Duration;

use support::firmware_lab::{Boot, Firmware, Lab, SERVER_IP, tail};
use support::netns::{self, Netns};
use support::process::Proc;
use support::tools::{PXE, pxe};

/// Time bound from QEMU's start to the marker.
const LIMIT: Duration = Duration::from_secs(60);
/// The address pool `--dhcp server` hands out.
const RANGE: &str = "10.77.0.100,10.77.0.199";

/// Lays out the lab's root with `pxe init`, then the marker files.
fn init_root(lab: &Lab) {
    let root = lab.root();
    let out = pxe(&["init", root.to_str().expect("utf-8 path")]);
    assert!(
        out.status.success(),
        "pxe init {} failed ({}):\n{}{}",
        root.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "pxelinux.0",
        "ldlinux.c32",
        "menu.c32",
        "libutil.c32",
        "undionly.kpxe",
        "ipxe.efi",
    ] {
        assert!(root.join(file).is_file(), "pxe init did not lay out {file}");
    }
    lab.write_marker_files();
}

/// Starts `pxe serve` on `br0` in the lab's namespace and waits for its ports.
fn start_pxe(lab: &Lab, dhcp: &str, extra: &[&str]) -> Proc {
    let root = lab.root().display().to_string();
    let mut argv = vec![
        PXE,
        "serve",
        "--root",
        &root,
        "--interface",
        "br0",
        "--dhcp",
        dhcp,
    ];
    argv.extend_from_slice(extra);
    let mut pxe = lab.spawn("pxe", &argv);
    lab.wait_udp_port(69, &mut pxe, Duration::from_secs(10));
    lab.wait_udp_port(67, &mut pxe, Duration::from_secs(10));
    pxe
}

/// `--dhcp server` arguments: the pool and a lease file in the lab directory.
fn server_args(lab: &Lab) -> Vec<String> {
    vec![
        "--dhcp-range".into(),
        RANGE.into(),
        "--leases".into(),
        lab.dir().join("leases.json").display().to_string(),
    ]
}

/// Prints the boot's timeline (on stderr directly, so it shows even when the test passes and
/// its output is captured); on failure, panics with the serial tail and the servers' logs.
fn check(name: &str, boot: &Boot, servers: &[&Proc]) {
    let _ = std::io::stderr().write_all(boot.report(name).as_bytes());
    if !boot.ok {
        let mut logs = String::new();
        for p in servers {
            logs.push_str(&format!(
                "--- {}:\n{}\n",
                p.log_path().display(),
                tail(&p.log(), 60)
            ));
        }
        panic!(
            "{name}: {}\n--- serial (last 40 lines):\n{}\n{logs}",
            boot.why,
            tail(&boot.serial, 40)
        );
    }
}

/// Asserts `pxe`'s log has a DHCP decision line for `mac` naming its arch and the rule.
fn assert_decision_logged(pxe: &Proc, mac: &str, arch: &[&str]) {
    let log = pxe.log();
    let mac_dash = mac.replace(':', "-");
    let lines: Vec<String> = log
        .lines()
        .map(str::to_lowercase)
        .filter(|l| l.contains(mac) || l.contains(&mac_dash))
        .collect();
    let decision = lines
        .iter()
        .find(|l| l.contains("rule") && arch.iter().any(|a| l.contains(a)));
    assert!(
        decision.is_some(),
        "no decision line in pxe's log names client {mac}, its arch ({arch:?}) and the rule; \
         lines about the client:\n{}\nlog tail:\n{}",
        lines.join("\n"),
        tail(&log, 40)
    );
}

/// Asserts from the capture that pxelinux found its config by its own lookup order: the
/// MAC-named file first, refused by the server (TFTP ERROR 1), then on down to `default`.
fn assert_pxelinux_lookup_order(lab: &Lab, mac: &str) {
    let rrqs = lab.capture_text("udp dst port 69");
    let position = |name: &str| {
        rrqs.lines()
            .position(|l| l.contains(&format!("RRQ \"pxelinux.cfg/{name}\"")))
    };
    let by_mac = position(&format!("01-{}", mac.replace(':', "-")));
    let default = position("default");
    assert!(
        by_mac.is_some() && default.is_some() && by_mac < default,
        "pxelinux did not ask for its MAC-named config before `default`; RRQs:\n{rrqs}"
    );
    let not_found = lab.capture_text(&format!(
        "udp and src host {SERVER_IP} and udp[8:2] = 5 and udp[10:2] = 1"
    ));
    assert!(
        !not_found.is_empty(),
        "the server answered no lookup with TFTP ERROR 1 (file not found)"
    );
}

/// Who hands out the addresses.
#[derive(Debug, Clone, Copy)]
enum Dhcp {
    /// `pxe serve --dhcp server`, with this config file when given; dnsmasq sends only the
    /// router advertisements.
    Server(Option<&'static str>),
    /// `pxe serve --dhcp proxy` (port 4011 too) beside dnsmasq, which gives the addresses.
    ProxyBesideDnsmasq,
}

/// A boot that reached its marker, with the lab and the servers, still running (field order is
/// drop order: both processes are stopped by pid before the lab's namespace goes).
struct Booted {
    pxe: Proc,
    /// Kept running until the test ends.
    _dnsmasq: Proc,
    boot: Boot,
    lab: Lab,
}

/// The scenario every test shares: a lab `tag` laid out by `pxe init`, `pxe serve` and dnsmasq
/// as `dhcp` says, `firmware` booted with `mac` up to its marker (pxelinux's menu on BIOS,
/// boot.ipxe's echo on UEFI), [`check`]ed; `pxe` logged its decision for `mac` and, beside
/// dnsmasq, the address came from dnsmasq.
fn boot(tag: &str, firmware: Firmware, mac: &str, dhcp: Dhcp) -> Booted {
    let lab = Lab::new(tag);
    init_root(&lab);
    let (pxe, dnsmasq) = match dhcp {
        Dhcp::Server(config) => {
            let mut extra = server_args(&lab);
            if let Some(config) = config {
                let path = lab.dir().join("pxe.toml");
                std::fs::write(&path, config).expect("write pxe.toml");
                extra.push("--config".into());
                extra.push(path.display().to_string());
            }
            let ra = lab.start_dnsmasq("dnsmasq-ra", "");
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            (start_pxe(&lab, "server", &extra), ra)
        }
        Dhcp::ProxyBesideDnsmasq => {
            let leases = format!("dhcp-range={RANGE},255.255.0.0,10m\nno-ping\nlog-dhcp\n");
            let dnsmasq = lab.start_dnsmasq("dnsmasq-addresses", &leases);
            let mut pxe = start_pxe(&lab, "proxy", &[]);
            lab.wait_udp_port(4011, &mut pxe, Duration::from_secs(10));
            (pxe, dnsmasq)
        }
    };
    let (marker, arch): (String, &[&str]) = match firmware {
        Firmware::BiosIpxeRom => (lab.menu_marker(), &["bios"]),
        Firmware::UefiEdk2 | Firmware::UefiEdk2SecureBoot => (
            format!("{} platform=efi", lab.script_marker()),
            &["uefi", "x64", "efi"],
        ),
    };
    let boot = lab.boot(firmware, mac, &marker, LIMIT);
    match dhcp {
        Dhcp::Server(_) => check(tag, &boot, &[&pxe]),
        Dhcp::ProxyBesideDnsmasq => {
            check(tag, &boot, &[&pxe, &dnsmasq]);
            assert!(
                dnsmasq
                    .log()
                    .lines()
                    .any(|l| l.contains("DHCPACK") && l.contains(mac)),
                "the address did not come from dnsmasq:\n{}",
                dnsmasq.log()
            );
        }
    }
    assert_decision_logged(&pxe, mac, arch);
    Booted {
        pxe,
        _dnsmasq: dnsmasq,
        boot,
        lab,
    }
}

/// 1. BIOS, iPXE ROM (e1000), `--dhcp server`: lease → pxelinux.0 (iPXE is already iPXE) →
///    ldlinux.c32 → pxelinux.cfg/default by pxelinux's own lookup order → menu.
#[test]
fn bios_ipxe_rom_dhcp_server_reaches_pxelinux_menu() {
    let mac = "52:54:00:77:00:01";
    let b = boot(
        "bios-server",
        Firmware::BiosIpxeRom,
        mac,
        Dhcp::Server(None),
    );
    assert!(b.boot.serial.contains(&b.lab.config_marker()));
    assert!(
        b.boot.serial.contains("net0: 10.77.0.1"),
        "address not from the pool"
    );
    assert_pxelinux_lookup_order(&b.lab, mac);
}

/// 2. BIOS, `--dhcp proxy` beside a DHCP server (dnsmasq) that gives addresses only.
#[test]
fn bios_ipxe_rom_dhcp_proxy_beside_plain_dhcp_reaches_pxelinux_menu() {
    let b = boot(
        "bios-proxy",
        Firmware::BiosIpxeRom,
        "52:54:00:77:00:02",
        Dhcp::ProxyBesideDnsmasq,
    );
    assert!(b.boot.serial.contains(&b.lab.config_marker()));
}

/// 3. UEFI, OVMF, the NIC's iPXE ROM removed: EDK2 PXE → ipxe.efi (EDK2 asks `tsize`, aborts
///    with ERROR 8 after the OACK, asks again) → iPXE DHCP with user class `iPXE` → boot.ipxe.
#[test]
fn uefi_edk2_pxe_chains_ipxe_efi_then_script() {
    let mac = "52:54:00:77:00:03";
    let b = boot("uefi-edk2", Firmware::UefiEdk2, mac, Dhcp::Server(None));
    assert!(
        b.boot.serial.contains("NBP file downloaded"),
        "EDK2 did not load ipxe.efi"
    );
    // The chain as the server saw it: EDK2 got ipxe.efi, then iPXE (user class) the script.
    let log = b.pxe.log().to_lowercase();
    let decided = |file: &str| {
        log.lines()
            .any(|l| l.contains(mac) && l.contains("decision") && l.contains(file))
    };
    assert!(decided("ipxe.efi"), "no decision sent EDK2 to ipxe.efi");
    assert!(
        log.lines()
            .any(|l| l.contains(mac) && l.contains("user class ipxe") && l.contains("boot.ipxe")),
        "no decision sent iPXE (user class iPXE) to boot.ipxe"
    );
    // EDK2's TFTP: a tsize probe it aborts with ERROR 8 after the OACK, then the real read.
    let rrqs = b.lab.capture_text("udp dst port 69");
    let asks: Vec<&str> = rrqs
        .lines()
        .filter(|l| l.contains("RRQ \"ipxe.efi\""))
        .collect();
    assert!(
        asks.len() == 2 && asks[0].contains("tsize") && asks[1].contains("windowsize"),
        "expected EDK2's tsize probe then its windowsize read of ipxe.efi; RRQs seen:\n{rrqs}"
    );
    let aborts = b
        .lab
        .capture_text("udp and not port 67 and not port 68 and udp[8:2] = 5 and udp[10:2] = 8");
    assert!(
        !aborts.is_empty(),
        "EDK2 sent no TFTP ERROR 8 (abort after the tsize OACK)"
    );
}

/// The config of test 4: one rule, tried before the default rules (which follow it), that sends
/// iPXE ROMs on BIOS to undionly.kpxe. QEMU's iPXE ROM and the undionly.kpxe it chains send
/// byte-identical DISCOVERs (measured here), so the rule is `once`: the chained iPXE's next
/// transaction falls through to the default user-class rule (`ipxe-bios` → pxelinux.0), which
/// ends the loop.
const CHAINLOAD_IPXE_ROMS: &str = r#"
[[dhcp.rules]]
name = "chain-ipxe-rom"
once = true
boot_file = "undionly.kpxe"
match = { firmware = ["ipxe"], arch = ["bios"] }
"#;

/// 4. BIOS, iPXE ROM, with a rule that chainloads even iPXE ROMs to undionly.kpxe: the ROM
///    loads undionly.kpxe exactly once, then the user-class rule ends the chain at pxelinux.0.
#[test]
fn bios_ipxe_rom_chainload_rule_ends_at_menu_without_loop() {
    let b = boot(
        "bios-chain",
        Firmware::BiosIpxeRom,
        "52:54:00:77:00:04",
        Dhcp::Server(Some(CHAINLOAD_IPXE_ROMS)),
    );
    let chained = b.boot.count("undionly.kpxe : ");
    let _ = writeln!(
        std::io::stderr(),
        "bios-chain: undionly.kpxe loaded {chained} time(s)"
    );
    assert!(
        chained <= 1,
        "undionly.kpxe loaded {chained} times: a chainload loop"
    );
    // The configured rule is rule 1 and the defaults follow it: the chained iPXE ends at the
    // fifth rule, the default `ipxe-bios`.
    let log = b.pxe.log();
    assert!(
        log.contains("by rule 1 (chain-ipxe-rom)") && log.contains("by rule 5 (ipxe-bios)"),
        "expected decisions by the configured rule, then the default ipxe-bios rule; log tail:\n{}",
        tail(&log, 40)
    );
}

/// 5. UEFI, EDK2 PXE, `--dhcp proxy` beside dnsmasq: EDK2 takes its address from dnsmasq and
///    accepts the proxy's offer (option 60 `PXEClient` with option 43: an offer EDK2 rejects with
///    `PXE-E16` when 43 is wrong), then iPXE does the same with user class `iPXE`. Measured: EDK2
///    boots from the proxy offer's file directly and sends nothing to port 4011.
#[test]
fn uefi_edk2_pxe_through_proxy_beside_plain_dhcp() {
    let b = boot(
        "uefi-proxy",
        Firmware::UefiEdk2,
        "52:54:00:77:00:05",
        Dhcp::ProxyBesideDnsmasq,
    );
    assert!(
        !b.boot.serial.contains("PXE-E16"),
        "EDK2 rejected an offer (PXE-E16)"
    );
    assert!(
        b.boot.serial.contains("NBP file downloaded"),
        "EDK2 did not load ipxe.efi"
    );
}

/// 6. UEFI, EDK2 PXE, `--http 0.0.0.0:8080` (not port 80, so the URL needs the port): EDK2
///    loads ipxe.efi over TFTP as in test 3, then iPXE gets `http://10.77.0.1:8080/boot.ipxe`
///    and fetches the script over HTTP, and the script chains a second file by a relative name,
///    which iPXE resolves against the script's URL: over HTTP too (its log line, and no TFTP
///    request for either).
#[test]
fn uefi_edk2_pxe_then_ipxe_over_http() {
    let lab = Lab::new("uefi-http");
    init_root(&lab);
    let root = lab.root();
    let marker = format!("PXEFW-HTTP-{}", std::process::id());
    std::fs::write(
        root.join("boot.ipxe"),
        format!(
            "#!ipxe\necho {} platform=${{platform}}\nchain http-marker.ipxe\n",
            lab.script_marker()
        ),
    )
    .expect("write boot.ipxe");
    std::fs::write(
        root.join("http-marker.ipxe"),
        format!("#!ipxe\necho {marker}\n"),
    )
    .expect("write http-marker.ipxe");
    let _ra = lab.start_dnsmasq("dnsmasq-ra", "");
    let mut extra = server_args(&lab);
    extra.extend(["--http".to_owned(), "0.0.0.0:8080".to_owned()]);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let pxe = start_pxe(&lab, "server", &extra);
    let mac = "52:54:00:77:00:06";
    let boot = lab.boot(Firmware::UefiEdk2, mac, &marker, LIMIT);
    check("uefi-http", &boot, &[&pxe]);
    let url = format!("http://{SERVER_IP}:8080/boot.ipxe");
    // HTTP request lines are written in batches, up to 50 ms after the response.
    pxe.wait_log("path=/http-marker.ipxe status=200", Duration::from_secs(5));
    let log = pxe.log();
    assert!(
        log.lines()
            .any(|l| l.contains(mac) && l.contains(&url) && l.contains("rule 5 (ipxe)")),
        "no decision sent iPXE to {url}:\n{}",
        tail(&log, 40)
    );
    for path in ["/boot.ipxe", "/http-marker.ipxe"] {
        assert!(
            log.lines().any(|l| l.contains(" http ")
                && l.contains(&format!("path={path} status=200"))
                && l.contains("result=ok")),
            "no HTTP log line for {path}:\n{}",
            tail(&log, 40)
        );
    }
    // ipxe.efi itself came over TFTP; the script did not.
    assert!(log.contains("file=ipxe.efi"), "{}", tail(&log, 40));
    assert!(!log.contains("file=boot.ipxe"), "boot.ipxe went over TFTP");
    assert!(
        !log.contains("file=http-marker.ipxe"),
        "http-marker.ipxe went over TFTP"
    );
}

/// 9. BIOS, iPXE ROM, `--dhcp server` on another subnet, behind ISC dhcrelay: the lab's
///    namespace is the router and relay (clients on `br0`, 10.77.0.0/16), `pxe` sits on
///    10.98.0.0/24 in a namespace of its own and serves the clients' network from a
///    `[[dhcp.subnet]]` table; TFTP crosses the router too.
#[test]
fn bios_ipxe_rom_boots_across_a_relay() {
    support::tools::require("dhcrelay", "isc-dhcp-relay");
    let mac = "52:54:00:77:00:09";
    let lab = Lab::new("bios-relayed");
    init_root(&lab);
    let router = lab.netns();
    let srv = Netns::new(&format!("{router}-srv"));
    let in_router = |args: &[&str]| {
        let mut all = vec!["-n", router];
        all.extend_from_slice(args);
        support::tools::ip(&all);
    };
    in_router(&[
        "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", &srv,
    ]);
    in_router(&["addr", "add", "10.98.0.254/24", "dev", "up0"]);
    in_router(&["link", "set", "up0", "up"]);
    support::tools::checked(
        netns::command(router, "sysctl").args(["-qw", "net.ipv4.ip_forward=1"]),
    );
    srv.ip(&["link", "set", "lo", "up"]);
    srv.ip(&["addr", "add", "10.98.0.1/24", "dev", "eth0"]);
    srv.ip(&["link", "set", "eth0", "up"]);
    srv.ip(&["route", "add", "10.77.0.0/16", "via", "10.98.0.254"]);

    let _ra = lab.start_dnsmasq("dnsmasq-ra", "");
    let relay = lab.spawn(
        "dhcrelay",
        &[
            "dhcrelay",
            "-4",
            "-d",
            "-a",
            "--no-pid",
            "-id",
            "br0",
            "-iu",
            "up0",
            "10.98.0.1",
        ],
    );
    let config = lab.dir().join("pxe-relayed.toml");
    std::fs::write(
        &config,
        format!(
            "root = {:?}\n[tftp]\nlisten = \"10.98.0.1:69\"\n[dhcp]\nmode = \"server\"\n\
             interface = \"eth0\"\nleases = {:?}\n\
             [[dhcp.subnet]]\nnetwork = \"10.77.0.0/16\"\nrange = \"{RANGE}\"\n",
            lab.root(),
            lab.dir().join("leases-relayed.json"),
        ),
    )
    .expect("write config");
    let pxe = Proc::start(
        "pxe",
        netns::command(&srv, PXE)
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info"),
        &lab.dir().join("pxe-relayed.log"),
    );
    pxe.wait_log("DHCP listening", Duration::from_secs(10));
    let boot = lab.boot(Firmware::BiosIpxeRom, mac, &lab.menu_marker(), LIMIT);
    check("bios-relayed", &boot, &[&pxe, &relay]);
    assert!(
        boot.serial.contains("net0: 10.77.0.1"),
        "address not from the subnet's pool"
    );
    assert_decision_logged(&pxe, mac, &["bios"]);
    assert!(
        relay.log().contains("Forwarded BOOTREPLY"),
        "{}",
        relay.log()
    );
}
