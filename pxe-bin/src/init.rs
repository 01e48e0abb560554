//! `pxe init DIR`: the `cp` steps of a hand-built PXE root, done for the admin.
//!
//! Lays out a TFTP root from the installed Debian packages (pxelinux, syslinux-common, ipxe;
//! and, for UEFI Secure Boot, shim-signed and grub-efi-amd64-signed: [`SECURE_BOOT_FILES`]),
//! an `iso/` folder, a starter menu (`menu.toml`, rendered into `pxelinux.cfg/default`,
//! `boot.txt`, `boot.ipxe` and `grub/grub.cfg`) and a starter `pxe.toml`. Running it again is safe: files that
//! are already right are left alone, and a file the admin changed is never replaced silently
//! (boot files only with `--force`, menus and configs never).

use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::InitArgs;
use crate::error::Error;
use crate::layout::{PACKAGE_FILES, PackageFile, SECURE_BOOT_FILES, write_atomic};

/// What happened to one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written fresh.
    Created,
    /// Already identical; untouched.
    Same,
    /// Exists and differs; left alone (the reason says why and how to change that).
    Kept(String),
    /// Differed and was replaced (`--force`).
    Replaced(String),
    /// The source is not installed.
    Missing {
        /// The path looked for.
        source: PathBuf,
        /// The package that provides it.
        package: &'static str,
    },
}

/// One line of `pxe init`'s report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Path relative to the root (directories end in `/`).
    pub path: String,
    /// What happened.
    pub outcome: Outcome,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Created => write!(f, "  created   {}", self.path),
            Outcome::Same => write!(f, "  ok        {}", self.path),
            Outcome::Kept(why) => write!(f, "  kept      {}: {why}", self.path),
            Outcome::Replaced(why) => write!(f, "  replaced  {}: {why}", self.path),
            Outcome::Missing { source, package } => write!(
                f,
                "  MISSING   {}: {} not found; install package {package} (apt-get install {package})",
                self.path,
                source.display()
            ),
        }
    }
}

/// The starter menu source, rendered with `pxe-menu` into the three menu files.
pub const STARTER_MENU: &str = r#"# Boot menu for pxe. Edit it, then run:  pxe menu render menu.toml --out .
# Entries are shown in this order; `default` boots when the timeout (seconds) runs out.
title = "PXE boot menu"
timeout = 10
default = "local"
# pxelinux output on the first serial port too (headless machines, VMs).
serial = { port = 0, baud = 115200 }

[[entry]]
id = "local"
name = "Boot from local disk"
kind = "local-boot"

# An ISO run from RAM by memdisk (BIOS only). Copy it into iso/ and make it world-readable:
# [[entry]]
# id = "debian"
# name = "Debian installer (ISO)"
# kind = "memdisk-iso"
# image = "iso/debian.iso"

# A Linux kernel and initrd over TFTP:
# [[entry]]
# id = "netinst"
# name = "Debian netboot"
# kind = "linux"
# kernel = "debian-installer/amd64/linux"
# initrd = ["debian-installer/amd64/initrd.gz"]
# append = "vga=788 --- quiet"
"#;

/// Runs `pxe init`.
pub fn run(args: &InitArgs) -> Result<ExitCode, Error> {
    let steps = lay_out(&args.dir, &args.sysroot, args.force)?;
    println!("pxe init {}", args.dir.display());
    for s in &steps {
        println!("{s}");
    }
    let (optional, mut missing): (Vec<&str>, Vec<&str>) = steps
        .iter()
        .filter_map(|s| match s.outcome {
            Outcome::Missing { package, .. } => Some(package),
            _ => None,
        })
        .partition(|p| SECURE_BOOT_FILES.iter().any(|f| f.package == *p));
    missing.dedup();
    if !optional.is_empty() {
        println!(
            "\nthe signed chain for UEFI Secure Boot machines ([dhcp] uefi = \"shim\") is not laid out; \
             for it:\n  apt-get install -y {}\nthen run `pxe init {}` again.",
            optional.join(" "),
            args.dir.display()
        );
    }
    if missing.is_empty() {
        let cfg = args.dir.join("pxe.toml");
        println!(
            "\nready. Check it with `pxe doctor --config {0}`, then serve it with `pxe serve --config {0}`.",
            cfg.display()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "\nsome boot files are missing; install them with:\n  apt-get install -y {}\nthen run `pxe init {}` again.",
            missing.join(" "),
            args.dir.display()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Lays out `dir`, taking package files from below `sysroot`. Returns one step per path.
pub fn lay_out(dir: &Path, sysroot: &Path, force: bool) -> Result<Vec<Step>, Error> {
    let mut steps = Vec::new();
    steps.push(ensure_dir(dir, "")?);
    for pf in PACKAGE_FILES.iter().chain(SECURE_BOOT_FILES) {
        steps.push(copy_package_file(dir, sysroot, pf, force)?);
    }
    steps.push(ensure_dir(&dir.join("iso"), "iso/")?);
    steps.push(ensure_dir(&dir.join("pxelinux.cfg"), "pxelinux.cfg/")?);
    steps.push(write_generated(dir, "menu.toml", STARTER_MENU.as_bytes())?);
    let mut ours = Vec::new();
    for (name, text) in crate::menu_cmd::render_toml(STARTER_MENU)? {
        let step = write_generated(dir, &name, text.as_bytes())?;
        if matches!(step.outcome, Outcome::Created | Outcome::Same) {
            ours.push((name, text));
        }
        steps.push(step);
    }
    // `pxe menu render` may later overwrite what the starter render wrote (and only that).
    pxe_server::rendered::remember(dir, ours.iter().map(|(n, t)| (n.as_str(), t.as_bytes())))?;
    let root =
        fs::canonicalize(dir).map_err(|e| Error::io(format!("resolve {}", dir.display()), e))?;
    steps.push(write_generated(
        dir,
        "pxe.toml",
        starter_config(&root).as_bytes(),
    )?);
    Ok(steps)
}

/// The starter `pxe.toml` for a root at `root` (absolute).
pub fn starter_config(root: &Path) -> String {
    format!(
        r#"# pxe config, written by `pxe init`. Flags given to `pxe serve` override it.
root = "{root}"
menu = "{menu}"

[tftp]
# listen = "192.168.1.1:69"   # default 0.0.0.0:69, or the DHCP interface's address
secure = true
# max_transfers = 2000        # concurrent transfers; more requests wait for a free slot

[http]
# Off unless listen is set: the same root over HTTP, so iPXE gets boot.ipxe and the ISOs
# it loads at line rate, and UEFI HTTP Boot clients get ipxe.efi (README "HTTP").
# listen = "0.0.0.0:80"

[dhcp]
# Off unless you ask for it: a DHCP server on the wrong network breaks it.
mode = "off"                  # "proxy" beside an existing DHCP server, "server" to hand out addresses
# interface = "eth0"          # server address and subnet come from it
# range = "192.168.1.100,192.168.1.200"
# router = "192.168.1.1"
# dns = ["192.168.1.1"]
# leases = "/var/lib/pxe/leases.json"
# default_rules = false       # only [[dhcp.rules]] decide; clients they miss get no boot file
# UEFI PXE machines start iPXE (ipxe.efi), which is unsigned: with Secure Boot on they refuse
# it. "shim" sends them the signed chain laid out here: shimx64.efi -> grubx64.efi ->
# grub/grub.cfg (rendered from menu.toml) -> a signed kernel (README "Secure Boot").
# uefi = "shim"
#
# Boot policy: the built-in rules send BIOS PXE -> undionly.kpxe, UEFI PXE -> ipxe.efi,
# iPXE -> pxelinux.0 on BIOS and boot.ipxe otherwise. [[dhcp.rules]] are tried before them,
# the first match wins; clients your rules miss keep the built-in ones. Rules match on
# firmware ("pxe", "ipxe", "http-client"), arch ("bios", "x64-uefi", ...), mac, vendor and
# user class:
# [[dhcp.rules]]
# name = "lab-pcs"
# boot_file = "lab/pxelinux.0"
# match = {{ firmware = ["ipxe"], arch = ["bios"] }}
# A rule can pick the UEFI chain for the machines it matches instead (Secure Boot ones here):
# [[dhcp.rules]]
# name = "secure-boot-pcs"
# uefi = "shim"
# match = {{ mac = {{ address = "52:54:00:00:00:00", mask = "ff:ff:ff:00:00:00" }} }}

[dhcp6]
# Network boot over IPv6 (README "Network boot over IPv6"); the [dhcp] rules decide here too.
# mode = "boot-only"          # off unless set; "boot-only" beside a router or DHCPv6 server,
#                             # "server" to hand out addresses
# interface = "eth0"          # needs a global IPv6 address; default: the [dhcp] interface
# range = "2001:db8::100,2001:db8::1ff"
# router_advertisements = true  # only on a network without a router

[admin]
# Off unless listen is set: Prometheus /metrics and the live status page (README "Monitoring").
# listen = "127.0.0.1:9169"
"#,
        root = root.display(),
        menu = root.join("menu.toml").display()
    )
}

fn ensure_dir(path: &Path, label: &str) -> Result<Step, Error> {
    let label = if label.is_empty() {
        format!("{}/", path.display())
    } else {
        label.to_owned()
    };
    let outcome = if path.is_dir() {
        Outcome::Same
    } else {
        fs::create_dir_all(path)
            .map_err(|e| Error::io(format!("create directory {}", path.display()), e))?;
        // TFTP servers usually drop to an unprivileged user: the tree must be world-searchable.
        fs::set_permissions(path, fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(format!("chmod {}", path.display()), e))?;
        Outcome::Created
    };
    Ok(Step {
        path: label,
        outcome,
    })
}

fn copy_package_file(
    dir: &Path,
    sysroot: &Path,
    pf: &PackageFile,
    force: bool,
) -> Result<Step, Error> {
    let source = sysroot.join(pf.source.trim_start_matches('/'));
    let dest = dir.join(pf.dest);
    let step = |outcome| Step {
        path: pf.dest.to_owned(),
        outcome,
    };
    let Ok(new) = fs::read(&source) else {
        return Ok(step(Outcome::Missing {
            source,
            package: pf.package,
        }));
    };
    match fs::read(&dest) {
        Ok(old) if old == new => Ok(step(Outcome::Same)),
        Ok(_) if !force => Ok(step(Outcome::Kept(format!(
            "differs from {} (package {}); `pxe init --force` replaces it",
            source.display(),
            pf.package
        )))),
        Ok(_) => {
            write_atomic(&dest, &new)?;
            Ok(step(Outcome::Replaced(format!(
                "with {} (package {})",
                source.display(),
                pf.package
            ))))
        }
        Err(_) => {
            write_atomic(&dest, &new)?;
            Ok(step(Outcome::Created))
        }
    }
}

/// Writes a generated file unless one is there already; an existing file is the admin's.
fn write_generated(dir: &Path, name: &str, bytes: &[u8]) -> Result<Step, Error> {
    let dest = dir.join(name);
    let outcome = match fs::read(&dest) {
        Ok(old) if old == bytes => Outcome::Same,
        Ok(_) => Outcome::Kept(
            "differs from the starter (your edits, or an older pxe); not overwritten (delete it to get the starter back)"
                .into(),
        ),
        Err(_) => {
            write_atomic(&dest, bytes)?;
            Outcome::Created
        }
    };
    Ok(Step {
        path: name.to_owned(),
        outcome,
    })
}
