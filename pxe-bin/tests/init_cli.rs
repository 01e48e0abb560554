//! `pxe init DIR` against the installed Debian packages (pxelinux, syslinux-common, ipxe, and
//! the Secure Boot chain from shim-signed and grub-efi-amd64-signed).
//! A missing package FAILS the test naming it; nothing is skipped.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use support::tools::{pxe, require_file, stdout};

const SOURCES: &[(&str, &str, &str)] = &[
    ("pxelinux.0", "/usr/lib/PXELINUX/pxelinux.0", "pxelinux"),
    (
        "ldlinux.c32",
        "/usr/lib/syslinux/modules/bios/ldlinux.c32",
        "syslinux-common",
    ),
    (
        "libutil.c32",
        "/usr/lib/syslinux/modules/bios/libutil.c32",
        "syslinux-common",
    ),
    (
        "libcom32.c32",
        "/usr/lib/syslinux/modules/bios/libcom32.c32",
        "syslinux-common",
    ),
    (
        "menu.c32",
        "/usr/lib/syslinux/modules/bios/menu.c32",
        "syslinux-common",
    ),
    ("memdisk", "/usr/lib/syslinux/memdisk", "syslinux-common"),
    ("undionly.kpxe", "/usr/lib/ipxe/undionly.kpxe", "ipxe"),
    ("ipxe.efi", "/usr/lib/ipxe/ipxe.efi", "ipxe"),
    (
        "shimx64.efi",
        "/usr/lib/shim/shimx64.efi.signed",
        "shim-signed",
    ),
    (
        "grubx64.efi",
        "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
        "grub-efi-amd64-signed",
    ),
];

fn require_packages() {
    for (_, src, pkg) in SOURCES {
        require_file(src, pkg);
    }
}

#[test]
fn lays_out_the_seed_tree_from_the_packages() {
    require_packages();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("tftp");
    let d = dir.to_str().expect("utf-8");
    let o = pxe(&["init", d]);
    assert!(
        o.status.success(),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    for (name, src, _) in SOURCES {
        let got = fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            got,
            fs::read(src).expect("source"),
            "{name} is a copy of {src}"
        );
        let mode = fs::metadata(dir.join(name))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o644,
            "{name} is world-readable, not writable by others"
        );
    }
    assert!(dir.join("iso").is_dir());
    for f in [
        "menu.toml",
        "pxe.toml",
        "pxelinux.cfg/default",
        "boot.txt",
        "boot.ipxe",
        "grub/grub.cfg",
    ] {
        assert!(dir.join(f).is_file(), "{f} written");
    }
    let grub = fs::read_to_string(dir.join("grub/grub.cfg")).expect("grub.cfg");
    assert!(
        grub.contains("set default=local") && grub.contains("exit"),
        "grub.cfg rendered from the starter menu:\n{grub}"
    );
    let cfg = fs::read_to_string(dir.join("pxelinux.cfg/default")).expect("cfg");
    assert!(
        cfg.contains("UI menu.c32") && cfg.contains("DISPLAY boot.txt"),
        "{cfg}"
    );
    let conf = fs::read_to_string(dir.join("pxe.toml")).expect("pxe.toml");
    assert!(
        conf.contains("mode = \"off\""),
        "DHCP stays off unless asked for:\n{conf}"
    );

    // The rendered config lints clean against the tree it was laid out in.
    let o = pxe(&[
        "menu",
        "lint",
        &format!("{d}/pxelinux.cfg/default"),
        "--root",
        d,
    ]);
    assert!(o.status.success(), "{}", stdout(&o));
}

#[test]
fn is_idempotent_and_never_overwrites_edits_silently() {
    require_packages();
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path().to_str().expect("utf-8");
    assert!(pxe(&["init", d]).status.success());

    let again = pxe(&["init", d]);
    assert!(again.status.success());
    let text = stdout(&again);
    assert!(
        !text.contains("created") && !text.contains("kept"),
        "second run changes nothing:\n{text}"
    );

    // The admin edits the menu and replaces memdisk with another build.
    let menu = tmp.path().join("menu.toml");
    let mut edited = fs::read_to_string(&menu).expect("menu");
    edited.push_str("\n# my edit\n");
    fs::write(&menu, &edited).expect("edit menu");
    fs::write(tmp.path().join("memdisk"), b"another memdisk").expect("edit memdisk");

    let o = pxe(&["init", d]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("kept      menu.toml"), "{text}");
    assert!(
        text.contains("kept      memdisk") && text.contains("--force"),
        "{text}"
    );
    assert_eq!(fs::read_to_string(&menu).expect("menu"), edited);
    assert_eq!(
        fs::read(tmp.path().join("memdisk")).expect("memdisk"),
        b"another memdisk"
    );

    // --force puts the package's boot file back, and still never touches the menu.
    let o = pxe(&["init", "--force", d]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("replaced  memdisk"), "{text}");
    assert_eq!(
        fs::read(tmp.path().join("memdisk")).expect("memdisk"),
        fs::read("/usr/lib/syslinux/memdisk").expect("package memdisk")
    );
    assert_eq!(fs::read_to_string(&menu).expect("menu"), edited);
}

#[test]
fn names_the_missing_packages() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let empty_sysroot = tmp.path().join("sysroot");
    fs::create_dir(&empty_sysroot).expect("mkdir");
    let dir = tmp.path().join("tftp");
    let o = pxe(&[
        "init",
        "--sysroot",
        empty_sysroot.to_str().expect("utf-8"),
        dir.to_str().expect("utf-8"),
    ]);
    assert!(!o.status.success(), "missing boot files are a failure");
    let text = stdout(&o);
    for pkg in ["pxelinux", "syslinux-common", "ipxe"] {
        assert!(
            text.contains(&format!("install package {pkg}")),
            "names {pkg}:\n{text}"
        );
    }
    assert!(
        text.contains("apt-get install -y pxelinux syslinux-common ipxe\n"),
        "{text}"
    );
    // The Secure Boot chain is named apart: optional, it alone would not fail init.
    assert!(
        text.contains("uefi = \"shim\"")
            && text.contains("apt-get install -y shim-signed grub-efi-amd64-signed"),
        "{text}"
    );
    // Everything that does not need a package is still laid out.
    assert!(dir.join("menu.toml").is_file() && dir.join("iso").is_dir());
}
