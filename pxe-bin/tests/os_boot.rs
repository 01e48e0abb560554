//! A real operating system boots to userspace through `pxe serve`, by every boot path we
//! support, under QEMU/TCG: Debian's signed kernel with a busybox initramfs
//! (`support/os_image.rs`) whose `/init` asks `pxe`'s DHCP server for an address with `udhcpc`
//! and prints it. A path passes when that line (`PXEOS-DHCP-OK ip=… server=10.77.0.1`) reaches
//! the serial console: the kernel came through the path, userspace ran, and the OS got its
//! address from `pxe` (the only DHCPv4 server in the lab).
//!
//! The paths, each in a namespace of its own and all booting side by side (threads; the
//! machine's two cores are shared, so each boot's time includes waiting for the others):
//!
//! | path | firmware | chain |
//! |---|---|---|
//! | `pxelinux` | SeaBIOS + iPXE ROM | pxelinux.0 → the rendered menu → kernel + initrd over TFTP |
//! | `memdisk` | SeaBIOS + iPXE ROM | pxelinux.0 → memdisk + an isolinux ISO → the OS on it |
//! | `secureboot` | OVMF, Secure Boot on, MS keys | EDK2 PXE → shim → GRUB → the rendered grub.cfg → signed kernel (`pxe init` + `[dhcp] uefi = "shim"`) |
//! | `ipxe-efi` | OVMF, no Secure Boot | EDK2 PXE → ipxe.efi → the rendered boot.ipxe, kernel over HTTP |
//! | `sanboot` | SeaBIOS + iPXE ROM | boot.ipxe over HTTP (a menu's `sanboot` entry) → the ISO over HTTP ranges |
//! | `sb-refused` | OVMF, Secure Boot on | EDK2 PXE → ipxe.efi (default chain): refused; the decision for the firmware's next attempt says why |
//!
//! `pxelinux`, `ipxe-efi` and `secureboot` boot the same entry of one `menu.toml` (same kernel,
//! initrd and kernel line), rendered by `pxe menu render` into pxelinux.cfg/default, boot.ipxe
//! and grub/grub.cfg; each checks in `pxe`'s log that its client read its rendered file
//! (pxelinux.cfg/default and grub/grub.cfg over TFTP, boot.ipxe over HTTP).
//!
//! Each prints its time to the userspace marker and to the address. Needs root and the packages
//! `scripts/install-deps.sh` installs (it also downloads the kernel package).

mod support;

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use support::firmware_lab::{Boot, Firmware, Lab, SERVER_IP, tail};
use support::os_image::{CMDLINE, DHCP_MARKER, OsImage, USERSPACE_MARKER, os_image};
use support::process::Proc;
use support::tools::{PXE, pxe, require_root};

/// Time bound from QEMU's start to the address line, with five boots sharing two cores.
const LIMIT: Duration = Duration::from_secs(300);
/// The address pool `--dhcp server` hands out.
const RANGE: &str = "10.77.0.100,10.77.0.199";
/// RAM for the guests: the kernel and initramfs, or memdisk's copy of the ISO.
const MEMORY_MIB: u32 = 768;

/// What one path produced.
struct Outcome {
    boot: Boot,
    /// Problems found after the boot (empty: passed).
    problems: Vec<String>,
    /// The server's log tail, for failures.
    server_log: String,
}

/// The kernel line of a path: the shared one plus `pxeos.path=<path>`, which `/init` echoes.
fn cmdline(path: &str) -> String {
    format!("{CMDLINE} pxeos.path={path}")
}

/// The one menu the pxelinux, iPXE and GRUB paths boot from: `pxe menu render` turns it into
/// `pxelinux.cfg/default`, `boot.ipxe` and `grub/grub.cfg`, and its one entry boots the OS.
fn menu_toml() -> String {
    format!(
        r#"title = "PXEOS"
timeout = 1
default = "os"
serial = {{ port = 0, baud = 115200 }}

[[entry]]
id = "os"
name = "PXEOS from the menu"
kind = "linux"
kernel = "vmlinuz"
initrd = ["initrd.gz"]
append = "{}"
"#,
        cmdline(MENU_PATH)
    )
}

/// `pxeos.path` of the entry in [`menu_toml`].
const MENU_PATH: &str = "menu";

/// Writes [`menu_toml`] into the root and renders it there with `pxe menu render`.
fn render_menu(lab: &Lab) {
    let root = lab.root();
    write(&root, "menu.toml", &menu_toml());
    let out = pxe(&[
        "menu",
        "render",
        root.join("menu.toml").to_str().expect("utf-8 path"),
        "--out",
        root.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "pxe menu render failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Lays out the lab's root with `pxe init` and copies the OS into it.
fn init_root(lab: &Lab, os: &OsImage) {
    let root = lab.root();
    let out = pxe(&["init", root.to_str().expect("utf-8 path")]);
    assert!(
        out.status.success(),
        "pxe init failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    fs::copy(&os.kernel, root.join("vmlinuz")).expect("copy the kernel");
    fs::copy(&os.initrd, root.join("initrd.gz")).expect("copy the initramfs");
}

/// Whether `pxe`'s log has a completed TFTP read of `file` (its transfer line, named as the
/// client asked for it).
fn read_over_tftp(log: &str, file: &str) -> bool {
    log.lines()
        .any(|l| l.contains(&format!("file={file} ")) && l.contains("result=ok"))
}

fn write(root: &Path, name: &str, text: &str) {
    let path = root.join(name);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("create a directory in the root");
    }
    fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Starts the RA sender and `pxe serve --dhcp server` (with `config` and HTTP on 8080 when
/// asked), then boots `firmware` up to the address line and checks it.
fn boot_os(
    lab: &Lab,
    path: &str,
    firmware: Firmware,
    mac: &str,
    config: Option<&str>,
    http: bool,
) -> Outcome {
    let mut out = boot_os_until(lab, firmware, mac, config, http, Until::Serial(DHCP_MARKER));
    if out.boot.ok {
        let line = out
            .boot
            .serial
            .lines()
            .find(|l| l.contains(DHCP_MARKER))
            .unwrap_or_default();
        if !line.contains(&format!("server={SERVER_IP} ")) || !line.contains("ip=10.77.0.1") {
            out.problems
                .push(format!("the address did not come from pxe's pool: {line}"));
        }
        if !line.contains(&format!("mac={mac}")) {
            out.problems
                .push(format!("the address line names another NIC: {line}"));
        }
        if !out.boot.serial.contains(&format!("pxeos.path={path}")) {
            out.problems.push(format!(
                "userspace ran, but not from this path's kernel line (no pxeos.path={path})"
            ));
        }
    }
    out
}

/// Where a boot's goal shows.
#[derive(Clone, Copy)]
enum Until<'a> {
    /// This text on the serial console.
    Serial(&'a str),
    /// This text in `pxe`'s log.
    ServerLog(&'a str),
}

/// Starts the servers as [`boot_os`] does and boots until `until`.
fn boot_os_until(
    lab: &Lab,
    firmware: Firmware,
    mac: &str,
    config: Option<&str>,
    http: bool,
    until: Until<'_>,
) -> Outcome {
    let root = lab.root().display().to_string();
    let leases = lab.dir().join("leases.json").display().to_string();
    let mut argv = vec![
        PXE,
        "serve",
        "--root",
        &root,
        "--interface",
        "br0",
        "--dhcp",
        "server",
        "--dhcp-range",
        RANGE,
        "--leases",
        &leases,
    ];
    let config_path = lab.dir().join("pxe.toml").display().to_string();
    if let Some(config) = config {
        write(lab.dir(), "pxe.toml", config);
        argv.extend(["--config", &config_path]);
    }
    if http {
        argv.extend(["--http", "0.0.0.0:8080"]);
    }
    let _ra: Proc = lab.start_dnsmasq("dnsmasq-ra", "");
    let mut server = lab.spawn("pxe", &argv);
    lab.wait_udp_port(69, &mut server, Duration::from_secs(20));
    lab.wait_udp_port(67, &mut server, Duration::from_secs(20));
    let boot = match until {
        Until::Serial(marker) => lab.boot_with(firmware, mac, marker, LIMIT, MEMORY_MIB),
        Until::ServerLog(needle) => {
            lab.boot_until(firmware, mac, needle, LIMIT, MEMORY_MIB, &|_| {
                server.log().contains(needle)
            })
        }
    };
    let mut problems = Vec::new();
    if !boot.ok {
        problems.push(boot.why.clone());
    }
    Outcome {
        boot,
        problems,
        server_log: server.log(),
    }
}

/// BIOS, iPXE ROM → pxelinux.0 → the rendered pxelinux.cfg/default → kernel + initrd over
/// TFTP.
fn pxelinux(os: &OsImage) -> Outcome {
    let lab = Lab::new_shared("os-pxelinux");
    init_root(&lab, os);
    render_menu(&lab);
    let mut out = boot_os(
        &lab,
        MENU_PATH,
        Firmware::BiosIpxeRom,
        "52:54:00:77:01:01",
        None,
        false,
    );
    for file in ["pxelinux.cfg/default", "vmlinuz", "initrd.gz"] {
        if !read_over_tftp(&out.server_log, file) {
            out.problems.push(format!("{file} was not read over TFTP"));
        }
    }
    out
}

/// BIOS, iPXE ROM → pxelinux.0 → memdisk with the ISO as its initrd → isolinux on the ISO →
/// the OS on the ISO.
fn memdisk(os: &OsImage) -> Outcome {
    let lab = Lab::new_shared("os-memdisk");
    init_root(&lab, os);
    fs::copy(&os.iso, lab.root().join("os.iso")).expect("copy the ISO");
    write(
        &lab.root(),
        "pxelinux.cfg/default",
        "SERIAL 0 115200\nDEFAULT iso\nPROMPT 0\nTIMEOUT 1\n\
         LABEL iso\n  KERNEL memdisk\n  INITRD os.iso\n  APPEND iso raw\n",
    );
    let mut out = boot_os(
        &lab,
        "iso",
        Firmware::BiosIpxeRom,
        "52:54:00:77:01:02",
        None,
        false,
    );
    if out.boot.ok && !out.boot.serial.contains("MEMDISK") {
        out.problems.push("memdisk did not run".into());
    }
    out
}

/// UEFI with Secure Boot on → EDK2 PXE → shim → GRUB → the signed kernel: the chain exactly
/// as `pxe init` lays it out, chosen by `[dhcp] uefi = "shim"`, GRUB reading the rendered menu.
fn secureboot(os: &OsImage) -> Outcome {
    let lab = Lab::new_shared("os-secureboot");
    init_root(&lab, os);
    render_menu(&lab);
    let mac = "52:54:00:77:01:03";
    let mut out = boot_os(
        &lab,
        MENU_PATH,
        Firmware::UefiEdk2SecureBoot,
        mac,
        Some("[dhcp]\nuefi = \"shim\"\n"),
        false,
    );
    let decided = out
        .server_log
        .lines()
        .any(|l| l.contains(mac) && l.contains("shimx64.efi by rule 2 (pxe-uefi-x64)"));
    if !decided {
        out.problems
            .push("no decision sent EDK2 to shimx64.efi by the default UEFI rule".into());
    }
    // shim asks by bare name, GRUB by absolute path from the root.
    for file in ["shimx64.efi", "grubx64.efi", "/grub/grub.cfg", "/vmlinuz"] {
        if !read_over_tftp(&out.server_log, file) {
            out.problems.push(format!("{file} was not read over TFTP"));
        }
    }
    if out.boot.ok && !out.boot.serial.contains("Welcome to GRUB") {
        out.problems.push("GRUB did not run".into());
    }
    // The kernel's own word that the firmware enforced Secure Boot (arch/x86/kernel/setup.c).
    if out.boot.ok && !out.boot.serial.contains("Secure boot enabled") {
        out.problems
            .push("the kernel does not report Secure Boot enabled".into());
    }
    out
}

/// UEFI without Secure Boot → EDK2 PXE → ipxe.efi → the rendered boot.ipxe over HTTP → kernel
/// and initrd over HTTP.
fn ipxe_efi(os: &OsImage) -> Outcome {
    let lab = Lab::new_shared("os-ipxe-efi");
    init_root(&lab, os);
    render_menu(&lab);
    let mut out = boot_os(
        &lab,
        MENU_PATH,
        Firmware::UefiEdk2,
        "52:54:00:77:01:04",
        None,
        true,
    );
    for file in ["/boot.ipxe", "/vmlinuz", "/initrd.gz"] {
        if !out.server_log.contains(&format!("path={file} status=200")) {
            out.problems
                .push(format!("{file} was not served over HTTP"));
        }
    }
    out
}

/// BIOS, iPXE ROM → boot.ipxe over HTTP, rendered from a menu with a `sanboot` entry →
/// `sanboot` of the ISO over HTTP (ranges fetched on demand) → isolinux on the ISO → the OS.
fn sanboot(os: &OsImage) -> Outcome {
    let lab = Lab::new_shared("os-sanboot");
    init_root(&lab, os);
    let root = lab.root();
    fs::create_dir_all(root.join("iso")).expect("create iso/");
    fs::copy(&os.iso, root.join("iso/os.iso")).expect("copy the ISO");
    write(
        &root,
        "menu.toml",
        "title = \"PXEOS ISO\"\ntimeout = 1\ndefault = \"iso\"\n\n[[entry]]\nid = \"iso\"\n\
         name = \"PXEOS ISO over HTTP\"\nkind = \"sanboot\"\nimage = \"iso/os.iso\"\n",
    );
    let out = pxe(&[
        "menu",
        "render",
        root.join("menu.toml").to_str().expect("utf-8 path"),
        "--out",
        root.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // BIOS iPXE gets the script over HTTP (not pxelinux.0, the default for it), so the relative
    // image path resolves to an http:// URL.
    let config = "[[dhcp.rules]]\nname = \"bios-script\"\nboot_file = \"http://{http}/boot.ipxe\"\n\
                  match = { firmware = [\"ipxe\"], arch = [\"bios\"] }\n";
    let mut out = boot_os(
        &lab,
        "iso",
        Firmware::BiosIpxeRom,
        "52:54:00:77:01:05",
        Some(config),
        true,
    );
    if out.boot.ok && !out.server_log.contains("path=/iso/os.iso status=206") {
        out.problems
            .push("the ISO was not read by HTTP range requests (no 206)".into());
    }
    out
}

/// UEFI with Secure Boot on and the default chain (iPXE): the firmware refuses the unsigned
/// `ipxe.efi` and moves to its next boot option; `pxe`'s decision line for that next request
/// says iPXE did not start, why, and what to set (every `ipxe.efi` decision also carries the
/// Secure Boot note).
fn secureboot_refused(os: &OsImage) -> Outcome {
    let lab = Lab::new_shared("os-sb-refused");
    init_root(&lab, os);
    let mac = "52:54:00:77:01:06";
    let mut out = boot_os_until(
        &lab,
        Firmware::UefiEdk2SecureBoot,
        mac,
        None,
        false,
        Until::ServerLog(STALL_NOTE),
    );
    let first = out
        .server_log
        .lines()
        .find(|l| l.contains(mac) && l.contains("ipxe.efi by rule"))
        .unwrap_or_default()
        .to_owned();
    if !(first.contains("Secure Boot") && first.contains("shim")) {
        out.problems.push(format!(
            "the decision line does not say a Secure Boot machine refuses ipxe.efi: {first}"
        ));
    }
    if !out.boot.serial.contains(REFUSED_MARKER) {
        out.problems
            .push(format!("the firmware did not print `{REFUSED_MARKER}`"));
    }
    if out.boot.serial.contains(USERSPACE_MARKER) {
        out.problems
            .push("the OS came up, so Secure Boot did not refuse ipxe.efi".into());
    }
    out
}

/// What OVMF prints when Secure Boot refuses an image (EFI_SECURITY_VIOLATION).
const REFUSED_MARKER: &str = "Access Denied";
/// What `pxe` adds to the decision for a firmware back without iPXE having asked.
const STALL_NOTE: &str = "it did not start iPXE";

type PathFn = fn(&OsImage) -> Outcome;

/// Every path, side by side; one line per path with its times, then the failures in full.
#[test]
fn real_os_boots_to_userspace_through_every_path() {
    require_root();
    let os = os_image();
    let paths: &[(&str, PathFn)] = &[
        ("pxelinux", pxelinux),
        ("secureboot", secureboot),
        ("ipxe-efi", ipxe_efi),
        ("memdisk", memdisk),
        ("sanboot", sanboot),
        ("sb-refused", secureboot_refused),
    ];
    let results: Vec<(&str, Result<Outcome, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .iter()
            .map(|(name, f)| (*name, s.spawn(move || f(os))))
            .collect();
        handles
            .into_iter()
            .map(|(name, h)| {
                let r = h.join().map_err(|e| {
                    e.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_else(|| "panicked".to_owned())
                });
                (name, r)
            })
            .collect()
    });
    let mut summary = String::from("real OS boots (QEMU/TCG, side by side):\n");
    let mut failures = String::new();
    for (name, result) in &results {
        match result {
            Ok(o) => {
                let at = |label: &str| {
                    o.boot
                        .milestones
                        .iter()
                        .find(|(_, l)| *l == label)
                        .map_or("-".to_owned(), |(t, _)| format!("{:.1} s", t.as_secs_f64()))
                };
                let _ = writeln!(
                    summary,
                    "  {name:<11} {:<6} userspace at {:>8}, address at {:>8}",
                    if o.problems.is_empty() {
                        "ok"
                    } else {
                        "FAILED"
                    },
                    at("userspace (/init) runs"),
                    at("the OS got an address"),
                );
                let _ = std::io::stderr().write_all(o.boot.report(name).as_bytes());
                if !o.problems.is_empty() {
                    let _ = write!(
                        failures,
                        "\n=== {name}: {}\n--- serial (last 40 lines):\n{}\n--- pxe log:\n{}\n",
                        o.problems.join("; "),
                        tail(&o.boot.serial, 40),
                        tail(&o.server_log, 40)
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(summary, "  {name:<11} FAILED (setup: {e})");
                let _ = write!(failures, "\n=== {name}: {e}\n");
            }
        }
    }
    let _ = std::io::stderr().write_all(summary.as_bytes());
    assert!(
        failures.is_empty(),
        "{summary}{failures}\n(the userspace marker is `{USERSPACE_MARKER}`)"
    );
}
