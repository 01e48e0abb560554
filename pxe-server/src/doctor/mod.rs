//! The checks of `pxe doctor`: the served tree and the config, before clients find the problems.
//!
//! Every check an admin of a hand-built setup learns the hard way: referenced files present
//! (with exact case), world-readable (the classic troubleshooting item: ISO images must be
//! readable by everybody), not writable by others (a writable boot file lets anyone trojan
//! every install), syslinux modules from one build, the menu's own lint, and the ports free.

use std::collections::BTreeSet;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub mod report;
mod secure_boot;

pub use self::report::{Finding, Report, Severity};
use crate::config::Config;
use crate::dhcp::DhcpMode;
use crate::dhcp6::Dhcp6Mode;
use crate::layout::{PACKAGE_FILES, SECURE_BOOT_FILES};
use crate::tftp::fs::UPLOAD_PREFIX;

/// Runs every check on `config` (read from `path`); `menu_lint` checks the menus (the served
/// `pxelinux.cfg/default` against the tree, the menu source against what is served) and is
/// given the root.
pub fn check(
    config: &Config,
    path: &Path,
    menu_lint: impl FnOnce(&Path, &Config, &mut Report),
) -> Report {
    let mut r = Report::default();
    let Some(root) = config.root.clone() else {
        r.push(
            Severity::Error,
            "config",
            format!("{}: no `root = \"DIR\"`: nothing to serve", path.display()),
        );
        return r;
    };
    if !root.is_dir() {
        r.push(
            Severity::Error,
            "config",
            format!("root {} is not a directory", root.display()),
        );
        return r;
    }
    r.push(
        Severity::Info,
        "config",
        format!("{} parses; root {}", path.display(), root.display()),
    );
    let referenced = check_referenced(&root, config, &mut r);
    check_permissions(&root, &referenced, &mut r);
    check_syslinux(&root, Path::new("/"), &mut r);
    menu_lint(&root, config, &mut r);
    check_dhcp(config, &mut r);
    check_dhcp6(config, &mut r);
    secure_boot::check(&root, Path::new("/"), config, &mut r);
    check_ports(config, &mut r);
    r
}

/// The boot files clients are sent to: they must exist and be readable.
///
/// Files pxelinux needs are errors when missing; a boot-policy file is a warning naming its
/// rule, since only clients of that kind fail (the default policy names an arm64 iPXE build
/// that Debian's `ipxe` package does not ship).
fn check_referenced(root: &Path, config: &Config, r: &mut Report) -> BTreeSet<String> {
    let http = config.http.listen.map(|a| a.port());
    // DHCPv6 decides with [dhcp]'s policy, so its files count when either family is on.
    let mut dhcp = config.dhcp.clone();
    if dhcp.mode() == DhcpMode::Off && config.dhcp6.mode != Dhcp6Mode::Off {
        dhcp.mode = DhcpMode::Proxy;
    }
    let policy_files = crate::dhcp::boot_files(&dhcp, http).unwrap_or_else(|e| {
        r.push(Severity::Error, "dhcp", e.to_string());
        Vec::new()
    });
    let mut wanted: Vec<(String, Severity, String)> = policy_files
        .into_iter()
        .map(|(file, rule)| {
            (
                file,
                Severity::Warning,
                format!("clients matching DHCP rule {rule} will fail to boot"),
            )
        })
        .collect();
    if root.join("pxelinux.0").is_file() {
        // pxelinux.0 loads these before it reads any config.
        for f in ["ldlinux.c32", "pxelinux.cfg/default"] {
            wanted.push((
                f.into(),
                Severity::Error,
                "pxelinux.0 loads it first".into(),
            ));
        }
    }
    let mut missing = 0;
    for (name, severity, why) in &wanted {
        if !root.join(name).is_file() {
            missing += 1;
            let hint = PACKAGE_FILES
                .iter()
                .chain(SECURE_BOOT_FILES)
                .find(|p| p.dest == name)
                .map(|p| {
                    format!(
                        "; from package {}: apt-get install -y {}, then `pxe init {}` copies it",
                        p.package,
                        p.package,
                        root.display()
                    )
                })
                .or_else(|| {
                    (name == pxe_menu::GRUB_CFG).then(|| {
                        format!(
                            "; the signed GRUB reads it there (its prefix is /grub): `pxe menu \
                             render MENU.toml --out {}` writes it",
                            root.display()
                        )
                    })
                })
                .unwrap_or_default();
            r.push(
                *severity,
                "files",
                format!(
                    "{name} is referenced but missing from {} ({why}{hint})",
                    root.display()
                ),
            );
        }
    }
    let referenced: BTreeSet<String> = wanted.into_iter().map(|(f, _, _)| f).collect();
    if missing == 0 {
        r.push(
            Severity::Info,
            "files",
            format!("all {} referenced boot files present", referenced.len()),
        );
    }
    referenced
}

/// Walks the tree: unreadable files are errors when referenced, writable ones always.
fn check_permissions(root: &Path, referenced: &BTreeSet<String>, r: &mut Report) {
    let before = r.findings.len();
    let mut stack = vec![root.to_path_buf()];
    let mut files = 0usize;
    while let Some(dir) = stack.pop() {
        check_mode(root, &dir, true, referenced, r);
        let Ok(entries) = fs::read_dir(&dir) else {
            r.push(
                Severity::Error,
                "permissions",
                format!("cannot list {}", dir.display()),
            );
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let Ok(meta) = fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() {
                files += 1;
                check_mode(root, &p, false, referenced, r);
                check_upload_leftover(&p, r);
            }
        }
    }
    if r.findings.len() == before {
        r.push(
            Severity::Info,
            "permissions",
            format!("{files} files world-readable, none writable by others"),
        );
    }
}

/// An upload's temporary file outlives its transfer only when the server was killed
/// mid-upload (SIGKILL, power loss): clients cannot request it, so it is only clutter.
fn check_upload_leftover(p: &Path, r: &mut Report) {
    let is_temp = p
        .file_name()
        .is_some_and(|n| n.as_encoded_bytes().starts_with(UPLOAD_PREFIX.as_bytes()));
    if is_temp {
        r.push(
            Severity::Warning,
            "uploads",
            format!(
                "{} is the temporary file of an interrupted TFTP upload (the server was killed \
                 mid-upload); unless an upload is running now, remove it: rm {}",
                p.display(),
                p.display()
            ),
        );
    }
}

fn check_mode(root: &Path, p: &Path, is_dir: bool, referenced: &BTreeSet<String>, r: &mut Report) {
    let Ok(meta) = fs::metadata(p) else {
        return;
    };
    let mode = meta.permissions().mode();
    let rel = p
        .strip_prefix(root)
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_default();
    let shown = if rel.is_empty() {
        p.display().to_string()
    } else {
        rel.clone()
    };
    let sticky = mode & 0o1000 != 0;
    if mode & 0o002 != 0 && !(is_dir && sticky) {
        r.push(
            Severity::Error,
            "permissions",
            format!(
                "{shown} is writable by everyone (mode {:o}): anyone on this host can replace what clients boot; fix: chmod o-w {}",
                mode & 0o7777,
                p.display()
            ),
        );
    }
    if is_dir {
        if mode & 0o005 != 0o005 {
            r.push(
                Severity::Error,
                "permissions",
                format!(
                    "directory {shown} is not readable and searchable by everyone (mode {:o}): files below it are 'not found' for a TFTP server running as another user; fix: chmod o+rx {}",
                    mode & 0o7777,
                    p.display()
                ),
            );
        }
    } else if mode & 0o004 == 0 {
        let severity = if referenced.contains(&rel) || rel.starts_with("iso/") {
            Severity::Error
        } else {
            Severity::Warning
        };
        r.push(
            severity,
            "permissions",
            format!(
                "{shown} is not world-readable (mode {:o}, owner uid {}): clients get 'file not found'; fix: chmod o+r {}",
                mode & 0o7777,
                meta.uid(),
                p.display()
            ),
        );
    }
}

/// The version string a syslinux binary carries (`PXELINUX 6.04`, `MEMDISK 6.04`), if any.
pub fn syslinux_version(bytes: &[u8]) -> Option<String> {
    for tag in [
        &b"PXELINUX "[..],
        b"LPXELINUX ",
        b"MEMDISK ",
        b"SYSLINUX ",
        b"ISOLINUX ",
    ] {
        let Some(at) = bytes.windows(tag.len()).position(|w| w == tag) else {
            continue;
        };
        let rest = bytes.get(at + tag.len()..).unwrap_or_default();
        let v: String = rest
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .map(|&b| char::from(b))
            .collect();
        if v.contains('.') {
            return Some(v);
        }
    }
    None
}

/// Syslinux modules must come from the build of the `pxelinux.0` that loads them: a mismatched
/// `ldlinux.c32` or `.c32` module fails with "Failed to load" or "Undef symbol".
pub fn check_syslinux(root: &Path, sysroot: &Path, r: &mut Report) {
    let Ok(pxelinux) = fs::read(root.join("pxelinux.0")) else {
        return;
    };
    let Some(core_version) = syslinux_version(&pxelinux) else {
        r.push(
            Severity::Warning,
            "syslinux",
            "pxelinux.0 carries no PXELINUX version string; cannot check the modules",
        );
        return;
    };
    let mut problems = 0;
    // Files that carry their own version string must agree with pxelinux.0.
    if let Ok(md) = fs::read(root.join("memdisk"))
        && let Some(v) = syslinux_version(&md)
        && v != core_version
    {
        problems += 1;
        r.push(
            Severity::Warning,
            "syslinux",
            format!("memdisk is MEMDISK {v} but pxelinux.0 is PXELINUX {core_version}"),
        );
    }
    // .c32 modules carry no version string: compare them with the installed package's build,
    // which is only meaningful when pxelinux.0 itself is that build.
    let modules_dir = sysroot.join("usr/lib/syslinux/modules/bios");
    let installed_core = fs::read(sysroot.join("usr/lib/PXELINUX/pxelinux.0")).ok();
    let c32: Vec<PathBuf> = fs::read_dir(root)
        .map(|it| {
            it.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "c32"))
                .collect()
        })
        .unwrap_or_default();
    match installed_core {
        Some(ic) if ic == pxelinux => {
            for m in &c32 {
                let Some(name) = m.file_name() else { continue };
                let Ok(pkg) = fs::read(modules_dir.join(name)) else {
                    continue;
                };
                if fs::read(m).is_ok_and(|b| b != pkg) {
                    problems += 1;
                    r.push(
                        Severity::Error,
                        "syslinux",
                        format!(
                            "{} is not from the syslinux build of pxelinux.0 (PXELINUX {core_version}; it differs from {}): pxelinux will fail to load it; fix: pxe init --force {}",
                            name.to_string_lossy(),
                            modules_dir.join(name).display(),
                            root.display()
                        ),
                    );
                }
            }
        }
        Some(_) => {
            problems += 1;
            r.push(
                Severity::Warning,
                "syslinux",
                format!(
                    "pxelinux.0 (PXELINUX {core_version}) is not the installed package's build; make sure every .c32 module comes from the same syslinux release"
                ),
            );
        }
        None => {}
    }
    if problems == 0 {
        r.push(
            Severity::Info,
            "syslinux",
            format!(
                "pxelinux.0 is PXELINUX {core_version}; {} .c32 module(s) from the same build",
                c32.len()
            ),
        );
    }
}

/// DHCP settings that would make `pxe serve` refuse to start, or hand out wrong addresses.
fn check_dhcp(config: &Config, r: &mut Report) {
    let dhcp = &config.dhcp;
    if dhcp.mode() == DhcpMode::Off {
        r.push(
            Severity::Info,
            "dhcp",
            "DHCP is off (another DHCP server must send clients to this TFTP server)",
        );
        return;
    }
    let iface = match dhcp.interface() {
        Some(name) => match crate::dhcp::iface::Interface::by_name(name) {
            Ok(i) => Some(i),
            Err(e) => {
                r.push(Severity::Error, "dhcp", e.to_string());
                None
            }
        },
        None => {
            r.push(
                Severity::Warning,
                "dhcp",
                "no [dhcp] interface: pxe serve picks the only non-loopback interface and refuses if there are several",
            );
            None
        }
    };
    if let (Some(i), Some(range)) = (&iface, dhcp.range) {
        for ip in [range.first, range.last] {
            if !i.contains(ip) {
                r.push(
                    Severity::Error,
                    "dhcp",
                    format!(
                        "range {range}: {ip} is not in {}'s subnet {}/{}",
                        i.name,
                        i.network(),
                        i.prefix
                    ),
                );
            }
        }
    }
    if dhcp.mode() == DhcpMode::Server {
        if dhcp.range.is_none() && dhcp.reservations.is_empty() && dhcp.subnets.is_empty() {
            r.push(
                Severity::Error,
                "dhcp",
                "server mode without a range, reservations or [[dhcp.subnet]] tables hands out nothing",
            );
        }
        let leases = dhcp.leases_path();
        let dir = leases
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let existing = dir
            .ancestors()
            .find(|d| d.exists())
            .unwrap_or(Path::new("/"));
        if nix::unistd::access(existing, nix::unistd::AccessFlags::W_OK).is_err() {
            r.push(
                Severity::Error,
                "dhcp",
                format!(
                    "lease file {}: {} is not writable by this user",
                    leases.display(),
                    existing.display()
                ),
            );
        }
    }
    if let Some(i) = iface {
        r.push(
            Severity::Info,
            "dhcp",
            format!(
                "{:?} mode on {} ({}/{})",
                dhcp.mode(),
                i.name,
                i.addr,
                i.prefix
            ),
        );
    }
}

/// Whether the kernel learned a route from a router advertisement on `iface`
/// (`RTF_ADDRCONF` in `/proc/net/ipv6_route`): some router on the link sends RAs.
fn ra_learned(iface: &str) -> bool {
    const RTF_ADDRCONF: u32 = 0x0004_0000;
    fs::read_to_string("/proc/net/ipv6_route").is_ok_and(|t| {
        t.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 10
                && f[9] == iface
                && u32::from_str_radix(f[8], 16).is_ok_and(|flags| flags & RTF_ADDRCONF != 0)
        })
    })
}

/// The DHCPv6 setup: a global address (boot URLs name it), the range inside its prefix,
/// router advertisements configured or seen (clients start DHCPv6 only when an RA's M or O flag
/// tells them to), TFTP reachable over IPv6.
fn check_dhcp6(config: &Config, r: &mut Report) {
    let d6 = &config.dhcp6;
    if d6.mode == Dhcp6Mode::Off {
        r.push(Severity::Info, "dhcp6", "DHCPv6 is off");
        return;
    }
    let Some(name) = d6.interface_or(&config.dhcp) else {
        r.push(
            Severity::Error,
            "dhcp6",
            "no [dhcp6] interface (nor [dhcp] interface): pxe serve cannot start DHCPv6",
        );
        return;
    };
    let iface = match crate::dhcp6::net::Interface6::by_name(name) {
        Ok(i) => i,
        Err(e) => return r.push(Severity::Error, "dhcp6", e),
    };
    let Some((global, plen)) = iface.global else {
        return r.push(
            Severity::Error,
            "dhcp6",
            format!("{name} has no global IPv6 address: boot URLs need one (`ip -6 addr add 2001:db8::1/64 dev {name}`)"),
        );
    };
    if d6.mode == Dhcp6Mode::Server {
        match d6.range {
            None => r.push(
                Severity::Error,
                "dhcp6",
                "server mode without a range hands out nothing",
            ),
            Some(range) => {
                for problem in range.off_link(name, global, plen) {
                    r.push(Severity::Error, "dhcp6", problem.to_string());
                }
            }
        }
    }
    if d6.router_advertisements {
        r.push(
            Severity::Info,
            "dhcp6",
            format!(
                "router advertisements on {name}: {}",
                if d6.mode == Dhcp6Mode::Server {
                    "M and O flags, prefix without autonomous flag (addresses from DHCPv6)"
                } else {
                    "O flag, prefix with autonomous flag (SLAAC addresses, boot options by Information-request)"
                }
            ),
        );
    } else if ra_learned(name) {
        r.push(
            Severity::Info,
            "dhcp6",
            format!("router advertisements seen on {name}"),
        );
    } else {
        r.push(
            Severity::Warning,
            "dhcp6",
            format!("no router advertisements configured or seen on {name}: clients start DHCPv6 only when an RA tells them to (set [dhcp6] router_advertisements = true on a network without a router)"),
        );
    }
    if config.tftp.listen.is_some_and(|l| l.is_ipv4()) {
        r.push(
            Severity::Error,
            "dhcp6",
            "[tftp] listen is an IPv4 address: DHCPv6 clients sent to tftp://[...] cannot reach it (use \"[::]:69\")",
        );
    }
    r.push(
        Severity::Info,
        "dhcp6",
        format!("{:?} mode on {name} ({global}/{plen})", d6.mode),
    );
}

/// The ports `pxe serve` will bind must be free.
fn check_ports(config: &Config, r: &mut Report) {
    let mut ports: Vec<(SocketAddr, &'static str)> = Vec::new();
    let tftp = config
        .tftp
        .listen
        .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 69)));
    ports.push((tftp, "TFTP"));
    match config.dhcp.mode() {
        DhcpMode::Off => {}
        DhcpMode::Proxy => {
            ports.push((SocketAddr::from((Ipv4Addr::UNSPECIFIED, 67)), "DHCP"));
            ports.push((SocketAddr::from((Ipv4Addr::UNSPECIFIED, 4011)), "proxyDHCP"));
        }
        DhcpMode::Server => {
            ports.push((SocketAddr::from((Ipv4Addr::UNSPECIFIED, 67)), "DHCP"));
        }
    }
    if config.dhcp6.mode != Dhcp6Mode::Off {
        ports.push((
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 547)),
            "DHCPv6",
        ));
    }
    let http = config.http.listen.map(|a| (a, "HTTP"));
    let udp = ports
        .into_iter()
        .map(|(a, w)| (a, w, UdpSocket::bind(a).map(drop)));
    let tcp = http.map(|(a, w)| (a, w, std::net::TcpListener::bind(a).map(drop)));
    for (addr, what, bound) in udp.chain(tcp) {
        let (proto, ss) = if what == "HTTP" {
            ("TCP", "-tlpn")
        } else {
            ("UDP", "-ulpn")
        };
        match bound {
            Ok(()) => r.push(
                Severity::Info,
                "ports",
                format!("{proto} {addr} ({what}) is free"),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => r.push(
                Severity::Error,
                "ports",
                format!(
                    "{proto} {addr} ({what}) is in use by another process (`ss {ss} 'sport = :{}'` shows which; tftpd-hpa, dnsmasq, a web server or a running pxe?)",
                    addr.port()
                ),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => r.push(
                Severity::Warning,
                "ports",
                format!("{proto} {addr} ({what}) needs root or CAP_NET_BIND_SERVICE to bind"),
            ),
            Err(e) => r.push(
                Severity::Error,
                "ports",
                format!("{proto} {addr} ({what}) cannot be bound: {e}"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_strings() {
        assert_eq!(
            syslinux_version(b"\0\0PXELINUX 6.04 PXE 20200816 \0").as_deref(),
            Some("6.04")
        );
        assert_eq!(
            syslinux_version(b"xxMEMDISK 6.03 2014").as_deref(),
            Some("6.03")
        );
        assert_eq!(syslinux_version(b"PXELINUX x"), None);
        assert_eq!(syslinux_version(b""), None);
    }

    #[test]
    fn upload_leftovers_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("iso");
        fs::create_dir(&sub).expect("mkdir");
        let leftover = sub.join(format!("{UPLOAD_PREFIX}0123456789abcdef.debian.iso"));
        fs::write(&leftover, b"half").expect("write");
        fs::write(sub.join("debian.iso"), b"whole").expect("write");
        let mut r = Report::default();
        check_permissions(dir.path(), &BTreeSet::new(), &mut r);
        let uploads: Vec<_> = r.findings.iter().filter(|f| f.check == "uploads").collect();
        assert_eq!(uploads.len(), 1, "{:?}", r.findings);
        assert_eq!(uploads[0].severity, Severity::Warning);
        assert!(
            uploads[0]
                .message
                .contains(&format!("rm {}", leftover.display()))
        );
    }
}
