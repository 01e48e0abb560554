//! `pxe doctor`'s checks of the UEFI Secure Boot chain: shim → GRUB → `grub/grub.cfg`.
//!
//! - Which chain UEFI PXE clients get, and, while it is iPXE, that Secure Boot machines refuse
//!   it and what to set instead.
//! - With the signed chain in use: shim and GRUB are the installed packages' files (two
//!   packages of one Debian release: shim checks GRUB's signature and its SBAT generation, so
//!   a GRUB from another release may be refused), and which versions those are.
//! - The served `grub/grub.cfg` (wherever it came from) parses as GRUB reads what we render,
//!   and every file it loads is in the tree ([`pxe_menu::lint_grub`]).
//! - No `grub/x86_64-efi/grub.cfg` shadows `grub/grub.cfg` (see [`GRUB_CFG_SHADOW`]).

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::config::Config;
use crate::dhcp::DhcpMode;
use pxe_dhcp::policy::{GRUB_X64, SHIM_X64, UefiChain};
use pxe_menu::{GRUB_CFG, lint_grub};

use super::report::{Report, Severity};
use crate::layout::SECURE_BOOT_FILES;

/// The check's name in findings.
const CHECK: &str = "secure-boot";

/// The file Debian's signed network GRUB reads before [`GRUB_CFG`]: the config built into
/// `grubnetx64.efi.signed` (grub2's `debian/build-efi-images`, its prefix `/grub`) runs
/// `if [ -e $prefix/x86_64-efi/grub.cfg ]; then source $prefix/x86_64-efi/grub.cfg; else
/// source $prefix/grub.cfg; fi`, so a file here wins over the rendered menu.
const GRUB_CFG_SHADOW: &str = "grub/x86_64-efi/grub.cfg";

/// Whether the policy sends any client to shim: `[dhcp] uefi = "shim"`, or a rule choosing
/// that chain or naming shim's file.
fn shim_in_use(config: &Config) -> bool {
    let dhcp = &config.dhcp;
    dhcp.mode() != DhcpMode::Off
        && (dhcp.uefi == UefiChain::Shim
            || dhcp
                .rules
                .iter()
                .any(|r| r.uefi == Some(UefiChain::Shim) || r.boot_file == SHIM_X64))
}

/// The installed version of `package`, if it is installed.
fn package_version(package: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !v.is_empty()).then_some(v)
}

/// Runs the checks on the tree at `root`, taking package files from below `sysroot`.
pub fn check(root: &Path, sysroot: &Path, config: &Config, r: &mut Report) {
    let in_use = shim_in_use(config);
    if config.dhcp.mode() != DhcpMode::Off && !in_use {
        let laid_out = root.join(SHIM_X64).is_file() && root.join(GRUB_X64).is_file();
        r.push(
            Severity::Info,
            CHECK,
            format!(
                "UEFI PXE clients get ipxe.efi, which is unsigned: a machine with Secure Boot on \
                 refuses it and does not boot. For such machines set [dhcp] uefi = \"shim\" (or \
                 uefi = \"shim\" on a [[dhcp.rules]] matching them){}",
                if laid_out {
                    "; the signed chain is laid out"
                } else {
                    "; lay out the signed chain first: apt-get install -y shim-signed \
                     grub-efi-amd64-signed && pxe init ROOT"
                }
            ),
        );
    }
    if in_use {
        check_packages(root, sysroot, r);
    }
    check_grub_cfg_shadow(root, r);
    check_grub_cfg(root, in_use, r);
}

/// Warns when [`GRUB_CFG_SHADOW`] is in the tree: GRUB would read it instead of [`GRUB_CFG`].
fn check_grub_cfg_shadow(root: &Path, r: &mut Report) {
    let shadow = root.join(GRUB_CFG_SHADOW);
    if !shadow.is_file() {
        return;
    }
    r.push(
        Severity::Warning,
        CHECK,
        format!(
            "{} shadows {}: Debian's signed network GRUB (grubnetx64.efi.signed) reads \
             $prefix/x86_64-efi/grub.cfg when it exists and $prefix/grub.cfg only otherwise, \
             so it never reads the menu `pxe menu render` writes; remove the stale file \
             (rm {}), or, if it is the menu you mean to serve, move what it boots into \
             menu.toml and render that",
            shadow.display(),
            root.join(GRUB_CFG).display(),
            shadow.display()
        ),
    );
}

/// shim and GRUB in the root are the installed packages' files; says which versions.
fn check_packages(root: &Path, sysroot: &Path, r: &mut Report) {
    let mut versions = Vec::new();
    let mut all_match = true;
    for pf in SECURE_BOOT_FILES {
        let served = root.join(pf.dest);
        let Ok(bytes) = fs::read(&served) else {
            // Missing files are reported by the referenced-files check with their package.
            all_match = false;
            continue;
        };
        let source = sysroot.join(pf.source.trim_start_matches('/'));
        match fs::read(&source) {
            Ok(installed) if installed == bytes => {
                versions.push(format!(
                    "{} from {} {}",
                    pf.dest,
                    pf.package,
                    package_version(pf.package).unwrap_or_else(|| "(version unknown)".into())
                ));
            }
            Ok(_) => {
                all_match = false;
                r.push(
                    Severity::Warning,
                    CHECK,
                    format!(
                        "{} differs from {} (package {}): shim and GRUB must come from one \
                         release (shim checks GRUB's signature and SBAT generation and stops \
                         with a security violation otherwise); `pxe init --force {}` copies \
                         the installed ones",
                        served.display(),
                        source.display(),
                        pf.package,
                        root.display()
                    ),
                );
            }
            Err(_) => {
                all_match = false;
                r.push(
                    Severity::Warning,
                    CHECK,
                    format!(
                        "cannot tell where {} comes from: {} is not installed \
                         (apt-get install -y {}, then `pxe init --force {}`)",
                        served.display(),
                        pf.package,
                        pf.package,
                        root.display()
                    ),
                );
            }
        }
    }
    if all_match {
        r.push(
            Severity::Info,
            CHECK,
            format!(
                "signed chain for UEFI Secure Boot: {}; GRUB reads {GRUB_CFG}",
                versions.join(", ")
            ),
        );
    }
}

/// Lints the served grub.cfg; its absence is an error only while shim is in use (the
/// referenced-files check reports that one).
fn check_grub_cfg(root: &Path, in_use: bool, r: &mut Report) {
    let path = root.join(GRUB_CFG);
    let Ok(text) = fs::read_to_string(&path) else {
        return;
    };
    let findings = lint_grub(&text, &|rel| root.join(rel).is_file());
    let severity = if in_use {
        Severity::Error
    } else {
        Severity::Warning
    };
    for f in &findings {
        r.push(
            severity,
            CHECK,
            format!("{}:{}: {}", path.display(), f.line, f.message),
        );
    }
    if findings.is_empty() {
        r.push(
            Severity::Info,
            CHECK,
            format!("{} lints clean against the tree", path.display()),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("t.toml")).expect("config")
    }

    fn messages(r: &Report) -> String {
        r.findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn says_why_secure_boot_machines_fail_while_uefi_gets_ipxe() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut r = Report::default();
        let c = config("[dhcp]\nmode = \"proxy\"\n");
        check(tmp.path(), Path::new("/"), &c, &mut r);
        let text = messages(&r);
        assert!(
            text.contains("refuses it") && text.contains("uefi = \"shim\""),
            "{text}"
        );
        assert!(text.contains("apt-get install -y shim-signed"), "{text}");
        // DHCP off: another server decides, nothing to say about the chain.
        let mut r = Report::default();
        check(tmp.path(), Path::new("/"), &Config::default(), &mut r);
        assert!(r.findings.is_empty(), "{}", messages(&r));
    }

    #[test]
    fn a_grub_cfg_for_the_platform_shadows_the_rendered_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let c = config("[dhcp]\nmode = \"proxy\"\nuefi = \"shim\"\n");
        let mut r = Report::default();
        check(tmp.path(), Path::new("/"), &c, &mut r);
        assert!(!messages(&r).contains("shadows"), "{}", messages(&r));
        fs::create_dir_all(tmp.path().join("grub/x86_64-efi")).expect("mkdir");
        fs::write(tmp.path().join(GRUB_CFG_SHADOW), "set default=0\n").expect("write");
        let mut r = Report::default();
        check(tmp.path(), Path::new("/"), &c, &mut r);
        let text = messages(&r);
        assert!(
            text.contains("WARNING")
                && text.contains("grub/x86_64-efi/grub.cfg shadows")
                && text.contains("rm "),
            "{text}"
        );
    }

    #[test]
    fn shim_chain_files_must_be_the_installed_packages() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let sysroot = tmp.path().join("sys");
        for pf in SECURE_BOOT_FILES {
            let src = sysroot.join(pf.source.trim_start_matches('/'));
            fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
            fs::write(&src, pf.package).expect("write");
        }
        fs::create_dir_all(root.join("grub")).expect("mkdir");
        fs::write(root.join(SHIM_X64), "shim-signed").expect("write");
        fs::write(root.join(GRUB_X64), "another grub").expect("write");
        fs::write(
            root.join(GRUB_CFG),
            "menuentry 'x' --id x {\n  linux /vmlinuz\n}\n",
        )
        .expect("write");
        let c = config("[dhcp]\nmode = \"proxy\"\nuefi = \"shim\"\n");
        let mut r = Report::default();
        check(&root, &sysroot, &c, &mut r);
        let text = messages(&r);
        assert!(
            text.contains("grubx64.efi differs from") && text.contains("pxe init --force"),
            "{text}"
        );
        assert!(
            text.contains("ERROR") && text.contains("/vmlinuz, which is not in the served tree"),
            "{text}"
        );
        assert!(!text.contains("is unsigned"), "{text}");
        // Fixed: same files, the kernel present.
        fs::write(root.join(GRUB_X64), "grub-efi-amd64-signed").expect("write");
        fs::write(root.join("vmlinuz"), "k").expect("write");
        let mut r = Report::default();
        check(&root, &sysroot, &c, &mut r);
        let text = messages(&r);
        assert!(
            !text.contains("WARNING") && !text.contains("ERROR"),
            "{text}"
        );
        assert!(
            text.contains("shimx64.efi from shim-signed") && text.contains("lints clean"),
            "{text}"
        );
    }
}
