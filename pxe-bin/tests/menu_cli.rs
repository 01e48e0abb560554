//! `pxe menu lint` and `pxe menu render` from the command line: exit codes, JSON, tree checks.

mod support;

use std::fs;

use support::tools::{pxe, stdout};

/// A hand-written `pxelinux.cfg/default` as a typical PXE how-to has it.
const SEED: &str = "# The boot text
DISPLAY boot.txt

# Prompt for 10s
PROMPT 10
# Don't timeout
TIMEOUT 0

# By default boot the Debian ISO
DEFAULT debian

# The Debian ISO configuration
LABEL debian
  KERNEL memdisk
  INITRD iso/debian.iso
  APPEND iso
  
# Boot from Local Hard-Drive
LABEL local
   LOCALBOOT 0
";

const MENU: &str = r#"
title = "Test menu"
timeout = 5
default = "local"

[[entry]]
id = "local"
name = "Boot from local disk"
kind = "local-boot"

[[entry]]
id = "tools"
name = "Tools ISO"
kind = "memdisk-iso"
image = "iso/tools.iso"
"#;

#[test]
fn seed_config_gets_findings_and_tree_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("default");
    fs::write(&cfg, SEED).expect("write");
    let c = cfg.to_str().expect("utf-8");

    // Text only: its PROMPT/TIMEOUT mistakes are warnings.
    let o = pxe(&["menu", "lint", c]);
    let text = stdout(&o);
    assert!(text.contains("M004") || text.contains("prompt"), "{text}");

    // Against an empty tree, memdisk and the ISO are missing: errors, exit 1, JSON readable.
    let root = tmp.path().join("root");
    fs::create_dir(&root).expect("mkdir");
    let o = pxe(&[
        "menu",
        "lint",
        c,
        "--root",
        root.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json report");
    assert!(v["errors"].as_u64().expect("errors") >= 1, "{v:#}");
    let findings = v["findings"].as_array().expect("findings");
    assert!(
        findings.iter().any(|f| f["message"]
            .as_str()
            .is_some_and(|m| m.contains("iso/debian.iso"))),
        "{v:#}"
    );
    for f in findings {
        for key in ["code", "name", "severity", "line", "col", "message"] {
            assert!(!f[key].is_null(), "finding has {key}: {f}");
        }
    }
}

#[test]
fn clean_config_exits_zero() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("default");
    fs::write(
        &cfg,
        "DEFAULT local\nTIMEOUT 50\nLABEL local\n  LOCALBOOT 0\n",
    )
    .expect("write");
    let o = pxe(&["menu", "lint", cfg.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("0 error(s)"));
}

#[test]
fn render_writes_three_files_that_lint_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let menu = tmp.path().join("menu.toml");
    fs::write(&menu, MENU).expect("write");
    let out = tmp.path().join("root");
    let o = pxe(&[
        "menu",
        "render",
        menu.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(
        o.status.success(),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    for f in ["pxelinux.cfg/default", "boot.txt", "boot.ipxe"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let cfg = fs::read_to_string(out.join("pxelinux.cfg/default")).expect("cfg");
    assert!(
        cfg.contains("LABEL tools") && cfg.contains("iso/tools.iso"),
        "{cfg}"
    );
    let ipxe = fs::read_to_string(out.join("boot.ipxe")).expect("ipxe");
    assert!(ipxe.starts_with("#!ipxe"), "{ipxe}");

    // The text checks pass; against the tree, the ISO and memdisk are not there yet.
    let c = out.join("pxelinux.cfg/default");
    let o = pxe(&["menu", "lint", c.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stdout(&o));
    let o = pxe(&[
        "menu",
        "lint",
        c.to_str().expect("utf-8"),
        "--root",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));

    // MENU.toml itself can be linted (as what it renders to).
    let o = pxe(&["menu", "lint", menu.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stdout(&o));
}

#[test]
fn bad_menu_description_fails_naming_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let menu = tmp.path().join("menu.toml");
    fs::write(
        &menu,
        "title = \"x\"\n[[entry]]\nid = \"a\"\nname = \"A\"\nkind = \"floppy\"\n",
    )
    .expect("write");
    let o = pxe(&[
        "menu",
        "render",
        menu.to_str().expect("utf-8"),
        "--out",
        tmp.path().to_str().expect("utf-8"),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("menu.toml"), "{err}");
    let o = pxe(&["menu", "lint", "/nonexistent/default"]);
    assert!(!o.status.success());
}
