//! Real firmware network-booting over IPv6 only through `pxe serve --dhcp6` (QEMU/TCG): the
//! lab's bridge keeps only `fd77::1/64` (its IPv4 address is removed, so no IPv4 reaches the
//! guest), `pxe` sends the router advertisements (`router_advertisements = true`) and answers
//! DHCPv6 with a lease and the boot URL, TFTP and HTTP listen on `[::]`.
//!
//! - OVMF (EDK2's own PXE over IPv6) loads ipxe.efi over TFTP/IPv6; iPXE then runs DHCPv6 and
//!   fetches `boot.ipxe` over HTTP/IPv6, which prints the marker;
//! - SeaBIOS with the e1000's iPXE ROM: DHCPv6, then a script over HTTP/IPv6 (a
//!   `family = "v6"` rule: BIOS iPXE over IPv4 keeps `pxelinux.0`, which has no IPv6), with
//!   `pxe` as the stateful server, and with radvd as the router (SLAAC, O flag) and `pxe` in
//!   boot-only mode answering iPXE's Information-request.
//!
//! EDK2's PXE with `boot-only` beside another DHCPv6 server does not boot (it needs address
//! and boot URL in one Advertise; README "Network boot over IPv6"), so there is no test of it.
//!
//! Needs root and the packages `scripts/install-deps.sh` installs.

mod support;

use std::time::Duration;

use support::firmware_lab::{Boot, Firmware, Lab, tail};
use support::netns;
use support::process::Proc;
use support::tools::{PXE, pxe, require};

/// Time bound from QEMU's start to the marker: OVMF tries PXE over IPv4 first unless told not
/// to, and everything runs under TCG.
const LIMIT: Duration = Duration::from_secs(180);

/// An IPv6-only lab with a root from `pxe init`, `boot.ipxe` echoing the lab's marker.
fn lab(tag: &str) -> Lab {
    let lab = Lab::new(tag);
    let out = netns::command(lab.netns(), "ip")
        .args([
            "addr",
            "flush",
            "dev",
            "br0",
            "scope",
            "global",
            "to",
            "0.0.0.0/0",
        ])
        .output()
        .expect("ip addr flush");
    assert!(out.status.success(), "{out:?}");
    let root = lab.root();
    let out = pxe(&["init", root.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "pxe init: {out:?}");
    lab.write_marker_files();
    std::fs::write(
        root.join("boot.ipxe"),
        format!(
            "#!ipxe\necho {} platform=${{platform}} ip6=${{net0.ndp/ip6}} filename=${{filename}}\n",
            lab.script_marker()
        ),
    )
    .expect("write boot.ipxe");
    lab
}

/// `pxe serve` with an IPv6-only config on `br0`; waits for DHCPv6.
fn start_pxe(lab: &Lab, extra: &str) -> Proc {
    let config = lab.dir().join("pxe.toml");
    std::fs::write(
        &config,
        format!(
            "root = \"{root}\"\n[tftp]\nlisten = \"[::]:69\"\n[http]\nlisten = \"[::]:8080\"\n\
             [dhcp6]\nmode = \"server\"\ninterface = \"br0\"\nrange = \"fd77::100,fd77::1ff\"\n\
             leases = \"{leases}\"\nrouter_advertisements = true\npreference = 255\n{extra}",
            root = lab.root().display(),
            leases = lab.dir().join("leases6.json").display(),
        ),
    )
    .expect("write config");
    let config = config.display().to_string();
    let p = lab.spawn("pxe", &[PXE, "serve", "--config", &config]);
    p.wait_log("DHCPv6 listening", Duration::from_secs(10));
    p
}

fn check(name: &str, boot: &Boot, pxe: &Proc, lab: &Lab) {
    eprintln!("{}", boot.report(name));
    assert!(
        boot.ok,
        "{name}: {}\nserial:\n{}\npxe:\n{}\nDHCPv6/ICMPv6 capture:\n{}",
        boot.why,
        tail(&boot.serial, 40),
        tail(&pxe.log(), 40),
        tail(
            &lab.capture_text("udp port 547 or udp port 546 or icmp6"),
            40
        )
    );
    // The firmware also sends DHCPv4 DISCOVERs and IGMP reports from 0.0.0.0: nobody may
    // answer them, and no IPv4 address is in use.
    let capture = lab.capture_text("ip and not src host 0.0.0.0");
    assert!(
        capture.trim().is_empty(),
        "IPv4 addresses in use on the IPv6-only segment:\n{capture}"
    );
}

#[test]
fn uefi_edk2_pxe_over_ipv6_then_ipxe_over_http() {
    let lab = lab("uefi-v6");
    let pxe = start_pxe(&lab, "");
    let mac = "52:54:00:77:06:07";
    // OVMF's fw_cfg switch (OvmfPkg PlatformDxe, "opt/org.tianocore/IPv4PXESupport") skips PXE
    // over IPv4, which otherwise times out first.
    let boot = lab.boot_with_args(
        Firmware::UefiEdk2,
        mac,
        &lab.script_marker(),
        LIMIT,
        256,
        &["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n"],
    );
    check("uefi-v6", &boot, &pxe, &lab);
    // HTTP request lines are written in batches, up to 50 ms after the response.
    pxe.wait_log("path=/boot.ipxe status=200", Duration::from_secs(5));
    let log = pxe.log();
    assert!(
        log.contains("tftp://[fd77::1]/ipxe.efi by rule 2 (pxe-uefi-x64)"),
        "{}",
        tail(&log, 40)
    );
    assert!(
        log.contains("http://[fd77::1]:8080/boot.ipxe by rule 5 (ipxe)"),
        "{}",
        tail(&log, 40)
    );
    assert!(
        log.contains("file=ipxe.efi"),
        "ipxe.efi over TFTP/IPv6: {}",
        tail(&log, 40)
    );
    assert!(
        log.contains("path=/boot.ipxe status=200"),
        "{}",
        tail(&log, 40)
    );
}

#[test]
fn bios_ipxe_rom_over_ipv6_fetches_its_script_over_http() {
    let lab = lab("bios-v6");
    let pxe = start_pxe(
        &lab,
        "[[dhcp.rules]]\nname = \"ipxe-v6\"\nboot_file = \"http://{http}/boot.ipxe\"\n\
         match = { family = \"v6\", firmware = [\"ipxe\"] }\n",
    );
    let mac = "52:54:00:77:06:08";
    let boot = lab.boot(Firmware::BiosIpxeRom, mac, &lab.script_marker(), LIMIT);
    check("bios-v6", &boot, &pxe, &lab);
    // HTTP request lines are written in batches, up to 50 ms after the response.
    pxe.wait_log("path=/boot.ipxe status=200", Duration::from_secs(5));
    let log = pxe.log();
    assert!(
        log.contains("http://[fd77::1]:8080/boot.ipxe by rule 1 (ipxe-v6)"),
        "{}",
        tail(&log, 40)
    );
    assert!(
        log.contains("path=/boot.ipxe status=200"),
        "{}",
        tail(&log, 40)
    );
}

/// radvd as the link's router: SLAAC addresses (A flag) and the O flag, nothing stateful.
fn start_radvd(lab: &Lab) -> Proc {
    let conf = lab.dir().join("radvd.conf");
    std::fs::write(
        &conf,
        "interface br0 {\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n MaxRtrAdvInterval 4;\n \
         AdvManagedFlag off;\n AdvOtherConfigFlag on;\n \
         prefix fd77::/64 { AdvOnLink on; AdvAutonomous on; };\n};\n",
    )
    .expect("write radvd.conf");
    let conf = conf.display().to_string();
    let pid = lab.dir().join("radvd.pid").display().to_string();
    let mut p = lab.spawn(
        "radvd",
        &["radvd", "-n", "-m", "stderr", "-C", &conf, "-p", &pid],
    );
    std::thread::sleep(Duration::from_millis(300));
    p.assert_running();
    p
}

/// `pxe serve --dhcp6 boot-only` (config form), no RAs of its own.
fn start_boot_only(lab: &Lab, extra: &str) -> Proc {
    let config = lab.dir().join("pxe.toml");
    std::fs::write(
        &config,
        format!(
            "root = \"{root}\"\n[tftp]\nlisten = \"[::]:69\"\n[http]\nlisten = \"[::]:8080\"\n\
             [dhcp6]\nmode = \"boot-only\"\ninterface = \"br0\"\n{extra}",
            root = lab.root().display(),
        ),
    )
    .expect("write config");
    let config = config.display().to_string();
    let p = lab.spawn("pxe", &[PXE, "serve", "--config", &config]);
    p.wait_log("DHCPv6 listening", Duration::from_secs(10));
    p
}

#[test]
fn bios_ipxe_rom_stateless_beside_radvd_with_boot_only() {
    require("radvd", "radvd");
    let lab = lab("bios-v6-bootonly");
    let _radvd = start_radvd(&lab);
    let pxe = start_boot_only(
        &lab,
        "[[dhcp.rules]]\nname = \"ipxe-v6\"\nboot_file = \"http://{http}/boot.ipxe\"\n\
         match = { family = \"v6\", firmware = [\"ipxe\"] }\n",
    );
    let boot = lab.boot(
        Firmware::BiosIpxeRom,
        "52:54:00:77:06:09",
        &lab.script_marker(),
        LIMIT,
    );
    check("bios-v6-bootonly", &boot, &pxe, &lab);
    let log = pxe.log();
    assert!(
        log.contains("by rule 1 (ipxe-v6)") && log.contains("reply=\"REPLY\""),
        "{}",
        tail(&log, 40)
    );
}
