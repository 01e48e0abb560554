//! `pxe doctor`: a healthy tree passes; the classic troubleshooting item (a world-unreadable
//! ISO), a boot file anyone can overwrite and a missing referenced file are errors.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::tools::{pxe, require_file, stdout};

/// A tree from `pxe init` whose config listens on a free port (port 69 may be taken on a CI
/// host; the port check itself is exercised by `ports_in_use_are_errors`).
fn healthy_tree() -> (tempfile::TempDir, PathBuf) {
    for (src, pkg) in [
        ("/usr/lib/PXELINUX/pxelinux.0", "pxelinux"),
        (
            "/usr/lib/syslinux/modules/bios/ldlinux.c32",
            "syslinux-common",
        ),
        ("/usr/lib/ipxe/undionly.kpxe", "ipxe"),
    ] {
        require_file(src, pkg);
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let d = tmp.path().to_str().expect("utf-8").to_owned();
    let o = pxe(&["init", &d]);
    assert!(o.status.success(), "{}", stdout(&o));
    let cfg = tmp.path().join("pxe.toml");
    let text = fs::read_to_string(&cfg)
        .expect("pxe.toml")
        .replace("# listen = \"192.168.1.1:69\"", "listen = \"127.0.0.1:0\"");
    assert!(text.contains("listen = \"127.0.0.1:0\""), "{text}");
    fs::write(&cfg, text).expect("write");
    (tmp, cfg)
}

fn doctor(cfg: &Path) -> (bool, String) {
    let o = pxe(&["doctor", "--config", cfg.to_str().expect("utf-8")]);
    (o.status.success(), stdout(&o))
}

#[test]
fn a_fresh_tree_is_healthy() {
    let (_tmp, cfg) = healthy_tree();
    let (ok, text) = doctor(&cfg);
    assert!(ok, "{text}");
    assert!(text.contains("0 error(s)"), "{text}");
    assert!(
        text.contains("PXELINUX"),
        "reports the syslinux build:\n{text}"
    );
}

#[test]
fn world_unreadable_file_is_an_error() {
    let (tmp, cfg) = healthy_tree();
    let iso = tmp.path().join("iso/debian.iso");
    fs::write(&iso, b"not really an iso").expect("write");
    fs::set_permissions(&iso, fs::Permissions::from_mode(0o600)).expect("chmod");
    let (ok, text) = doctor(&cfg);
    assert!(!ok, "{text}");
    assert!(
        text.contains("iso/debian.iso is not world-readable") && text.contains("chmod o+r"),
        "{text}"
    );
}

#[test]
fn file_writable_by_others_is_an_error() {
    let (tmp, cfg) = healthy_tree();
    let f = tmp.path().join("undionly.kpxe");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o666)).expect("chmod");
    let (ok, text) = doctor(&cfg);
    assert!(!ok, "{text}");
    assert!(
        text.contains("undionly.kpxe is writable by everyone"),
        "{text}"
    );
}

#[test]
fn missing_referenced_files_are_errors() {
    let (tmp, cfg) = healthy_tree();
    // Referenced by pxelinux.0 itself.
    fs::remove_file(tmp.path().join("ldlinux.c32")).expect("rm");
    // Referenced by the menu.
    fs::write(
        tmp.path().join("pxelinux.cfg/default"),
        "UI menu.c32\nTIMEOUT 50\nDEFAULT debian\nLABEL debian\n  KERNEL memdisk\n  INITRD iso/missing.iso\n  APPEND iso raw\n",
    )
    .expect("write cfg");
    let (ok, text) = doctor(&cfg);
    assert!(!ok, "{text}");
    assert!(
        text.contains("ldlinux.c32 is referenced but missing"),
        "{text}"
    );
    assert!(
        text.contains("iso/missing.iso"),
        "menu lint names the missing ISO:\n{text}"
    );
    assert!(
        text.contains("pxelinux.cfg/default is not what"),
        "an out-of-date rendering is reported:\n{text}"
    );
}

#[test]
fn mismatched_syslinux_module_is_an_error() {
    let (tmp, cfg) = healthy_tree();
    let efi_build = "/usr/lib/syslinux/modules/efi64/libutil.c32";
    require_file(efi_build, "syslinux-common");
    fs::copy(efi_build, tmp.path().join("libutil.c32")).expect("copy");
    let (ok, text) = doctor(&cfg);
    assert!(!ok, "{text}");
    assert!(
        text.contains("libutil.c32 is not from the syslinux build"),
        "{text}"
    );
}

#[test]
fn ports_in_use_are_errors() {
    let (_tmp, cfg) = healthy_tree();
    let busy = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let text = fs::read_to_string(&cfg).expect("cfg").replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    fs::write(&cfg, text).expect("write");
    let (ok, text) = doctor(&cfg);
    assert!(!ok, "{text}");
    assert!(text.contains("is in use by another process"), "{text}");
}

#[test]
fn http_port_in_use_is_an_error_and_its_boot_files_are_checked() {
    let (tmp, cfg) = healthy_tree();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let text = fs::read_to_string(&cfg).expect("cfg").replace(
        "# listen = \"0.0.0.0:80\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    assert!(
        text.contains(&format!("listen = \"127.0.0.1:{port}\"")),
        "{text}"
    );
    fs::write(&cfg, text).expect("write");
    let (ok, out) = doctor(&cfg);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!(
            "TCP 127.0.0.1:{port} (HTTP) is in use by another process"
        )),
        "{out}"
    );
    drop(busy);
    // With DHCP on, the files behind http://{http}/ URLs are ours: boot.ipxe must exist.
    let text = fs::read_to_string(&cfg)
        .expect("cfg")
        .replace(&format!("127.0.0.1:{port}"), "127.0.0.1:0")
        .replace("mode = \"off\"", "mode = \"proxy\"");
    fs::write(&cfg, &text).expect("write");
    fs::remove_file(tmp.path().join("boot.ipxe")).expect("rm");
    let (_, out) = doctor(&cfg);
    assert!(out.contains("boot.ipxe is referenced but missing"), "{out}");
}

#[test]
fn missing_config_is_explained() {
    let o = pxe(&["doctor", "--config", "/nonexistent/pxe.toml"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/pxe.toml"), "{err}");
}

#[test]
fn dhcp_range_outside_the_interface_subnet_is_an_error() {
    let (tmp, cfg) = healthy_tree();
    let text = fs::read_to_string(&cfg).expect("cfg").replace(
        "mode = \"off\"",
        &format!(
            "mode = \"server\"\ninterface = \"lo\"\nrange = \"10.0.0.1,10.0.0.9\"\nleases = \"{}\"",
            tmp.path().join("state/leases.json").display()
        ),
    );
    fs::write(&cfg, text).expect("write");
    let (ok, text) = doctor(&cfg);
    assert!(!ok, "{text}");
    assert!(
        text.contains("10.0.0.1 is not in lo's subnet 127.0.0.0/8"),
        "{text}"
    );
    // The default policy names an arm64 iPXE build Debian does not ship: a warning naming the rule.
    assert!(text.contains("rule pxe-uefi-arm64"), "{text}");
}

#[test]
fn dhcp6_needs_a_global_address_and_says_so() {
    let (_tmp, cfg) = healthy_tree();
    let text = fs::read_to_string(&cfg).expect("pxe.toml");
    let needle = "# mode = \"boot-only\"";
    assert!(text.contains(needle), "{text}");
    let text = text.replace(
        needle,
        "mode = \"server\"\ninterface = \"lo\"\nrange = \"2001:db8::100,2001:db8::1ff\"\n#",
    );
    fs::write(&cfg, text).expect("write");
    let (ok, text) = doctor(&cfg);
    assert!(!ok, "{text}");
    assert!(
        text.contains("lo has no global IPv6 address") && text.contains("ip -6 addr add"),
        "{text}"
    );
}

/// With `[dhcp] uefi = "shim"`, the chain `pxe init` laid out is reported with its package
/// versions; a missing GRUB names its package, and a grub.cfg loading a file that is not in the
/// tree is an error. With the switch off, doctor says Secure Boot machines refuse ipxe.efi.
#[test]
fn secure_boot_chain_is_checked() {
    require_file("/usr/lib/shim/shimx64.efi.signed", "shim-signed");
    require_file(
        "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
        "grub-efi-amd64-signed",
    );
    let (tmp, cfg) = healthy_tree();
    let base = fs::read_to_string(&cfg).expect("pxe.toml");
    // Proxy mode on loopback: the DHCP checks run without an interface of this machine's.
    let proxy = base.replace("mode = \"off\"", "mode = \"proxy\"\ninterface = \"lo\"");
    fs::write(&cfg, &proxy).expect("write");
    let (_, text) = doctor(&cfg);
    assert!(
        text.contains("[secure-boot] UEFI PXE clients get ipxe.efi, which is unsigned")
            && text.contains("uefi = \"shim\""),
        "{text}"
    );
    fs::write(
        &cfg,
        proxy.replace("interface = \"lo\"", "interface = \"lo\"\nuefi = \"shim\""),
    )
    .expect("write");
    let (_, text) = doctor(&cfg);
    assert!(
        text.contains("signed chain for UEFI Secure Boot: shimx64.efi from shim-signed")
            && text.contains("grubx64.efi from grub-efi-amd64-signed")
            && text.contains("grub.cfg lints clean"),
        "{text}"
    );
    assert!(!text.contains("is unsigned"), "{text}");
    fs::remove_file(tmp.path().join("grubx64.efi")).expect("rm");
    let grub_cfg = tmp.path().join("grub/grub.cfg");
    let mut menu = fs::read_to_string(&grub_cfg).expect("grub.cfg");
    menu.push_str("menuentry 'x' --id x {\n  linux /missing/vmlinuz\n}\n");
    fs::write(&grub_cfg, menu).expect("write");
    let (ok, text) = doctor(&cfg);
    assert!(!ok, "{text}");
    assert!(
        text.contains("grubx64.efi is referenced but missing")
            && text.contains("apt-get install -y grub-efi-amd64-signed"),
        "{text}"
    );
    assert!(
        text.contains("ERROR   [secure-boot]") && text.contains("/missing/vmlinuz"),
        "{text}"
    );
}

/// Debian's signed network GRUB sources `$prefix/x86_64-efi/grub.cfg` when it exists and
/// `$prefix/grub.cfg` only otherwise: a stale `grub/x86_64-efi/grub.cfg` would be booted instead
/// of the rendered menu, so doctor warns and says how to fix it.
#[test]
fn grub_cfg_shadowing_the_rendered_menu_is_a_warning() {
    let (tmp, cfg) = healthy_tree();
    let (ok, text) = doctor(&cfg);
    assert!(ok && !text.contains("shadows"), "{text}");
    let shadow = tmp.path().join("grub/x86_64-efi/grub.cfg");
    fs::create_dir_all(shadow.parent().expect("parent")).expect("mkdir");
    fs::write(&shadow, "menuentry 'old' {\n  linux /old/vmlinuz\n}\n").expect("write");
    let (ok, text) = doctor(&cfg);
    // A warning: the tree still serves, but not the menu its owner rendered.
    assert!(ok, "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("shadows"))
        .unwrap_or_else(|| panic!("no shadowing warning:\n{text}"));
    assert!(
        line.starts_with("WARNING [secure-boot]")
            && line.contains(&format!(
                "{} shadows {}",
                shadow.display(),
                tmp.path().join("grub/grub.cfg").display()
            ))
            && line.contains(&format!("rm {}", shadow.display())),
        "{line}"
    );
}
