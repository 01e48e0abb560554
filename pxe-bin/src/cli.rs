//! The command line: every `pxe` command and flag, parsed by clap.
//!
//! Plain `pxe` (no subcommand) is `pxe serve` with no flags: the embedded demo root on
//! 127.0.0.1:6969, DHCP off.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};
pub use pxe_server::config::LogFormat;
pub use pxe_server::dhcp::DhcpMode;
pub use pxe_server::dhcp6::{Dhcp6Mode, Dhcp6Range};
pub use pxe_server::ranges::{DhcpRange, PortRange};

/// `pxe`: network boot (TFTP, proxyDHCP/DHCP, menus) in one process.
#[derive(Debug, Parser)]
#[command(name = "pxe", version, about, long_about = None)]
pub struct Cli {
    /// Log line format (default: the config's `log_format`, else text).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    /// The command; none means `pxe serve` with the embedded demo root.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The `pxe` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve TFTP (and DHCP if asked) from a config file and/or flags.
    Serve(ServeArgs),
    /// TFTP alone: a drop-in for tftpd-hpa.
    Tftp(TftpArgs),
    /// Download one file: `pxe get tftp://HOST[:PORT]/PATH`.
    Get(GetArgs),
    /// Check or render boot menus.
    Menu(MenuArgs),
    /// Lay out a TFTP root from the installed Debian packages.
    Init(InitArgs),
    /// Check the served tree and the config.
    Doctor(DoctorArgs),
    /// List the DHCP server's leases (from its lease file; works while it runs).
    Leases(LeasesArgs),
    /// Write the man pages and shell completions into a directory (packaging).
    #[command(hide = true, name = "generate-assets")]
    GenerateAssets(AssetsArgs),
}

/// `pxe generate-assets DIR`.
#[derive(Debug, Clone, Args)]
pub struct AssetsArgs {
    /// Output directory: `man/*.1`, `completions/{pxe.bash,_pxe,pxe.fish}`.
    #[arg(value_name = "DIR")]
    pub out: PathBuf,
}

/// `pxe serve` flags. Each one overrides the config file.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Config file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// TFTP root directory.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// TFTP listen address.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Also serve the root over HTTP on this address (off unless given or `[http] listen`).
    #[arg(long, value_name = "ADDR:PORT")]
    pub http: Option<SocketAddr>,
    /// DHCP flags (handled by the DHCP module).
    #[command(flatten)]
    pub dhcp: DhcpFlags,
}

impl ServeArgs {
    /// True when nothing to serve was named (no config, no root, no DHCP flag): `pxe serve`
    /// then serves the built-in demo, on `--listen` if given, else 127.0.0.1:6969.
    #[must_use]
    pub fn is_demo(&self) -> bool {
        self.config.is_none() && self.root.is_none() && self.dhcp.is_empty()
    }
}

/// The DHCP part of `pxe serve`'s flags; `pxe_server::dhcp::DhcpConfig::apply_overrides` takes it.
#[derive(Debug, Clone, Default, Args)]
pub struct DhcpFlags {
    /// DHCP mode; never on unless asked for.
    #[arg(long, value_enum, value_name = "off|proxy|server")]
    pub dhcp: Option<DhcpMode>,
    /// Network interface: DHCP binds to it; server address and subnet come from it.
    #[arg(long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// Lease pool for `--dhcp server`.
    #[arg(long, value_name = "FIRST,LAST")]
    pub dhcp_range: Option<DhcpRange>,
    /// Lease file for `--dhcp server`, or a `postgresql://` URL of a lease database shared
    /// with other servers.
    #[arg(long, value_name = "FILE|URL")]
    pub leases: Option<PathBuf>,
    /// DHCPv6 mode; never on unless asked for. Boot URLs name the interface's global IPv6
    /// address; the boot policy is `[dhcp]`'s.
    #[arg(long, value_enum, value_name = "off|server|boot-only")]
    pub dhcp6: Option<Dhcp6Mode>,
    /// Address range for `--dhcp6 server`.
    #[arg(long, value_name = "FIRST,LAST")]
    pub dhcp6_range: Option<Dhcp6Range>,
}

impl DhcpFlags {
    /// True when no DHCP flag was given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.dhcp.is_none()
            && self.interface.is_none()
            && self.dhcp_range.is_none()
            && self.leases.is_none()
            && self.dhcp6.is_none()
            && self.dhcp6_range.is_none()
    }
}

/// `pxe tftp` flags.
#[derive(Debug, Clone, Args)]
pub struct TftpArgs {
    /// Directory to serve.
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// Listen address.
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:69")]
    pub listen: SocketAddr,
    /// Like tftpd-hpa `--secure`: names are relative to the root (a leading `/` is the root).
    #[arg(long)]
    pub secure: bool,
    /// Switch to this user after binding (default: the system user `pxe` when it exists).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Like tftpd-hpa `--permissive`: serve files that are not world-readable too (by default
    /// only files with the "other" read bit are served).
    #[arg(long, short = 'p')]
    pub permissive: bool,
    /// Accept uploads (write requests), creating or replacing files. Atomic: written to a
    /// temporary file and renamed over the target only when complete.
    #[arg(long)]
    pub create: bool,
    /// Largest blksize granted (RFC 2348).
    #[arg(long, value_name = "N")]
    pub blksize_max: Option<u16>,
    /// Largest windowsize granted (RFC 7440).
    #[arg(long, value_name = "N")]
    pub windowsize_max: Option<u16>,
    /// Local ports for transfer sockets.
    #[arg(long, value_name = "LOW:HIGH")]
    pub port_range: Option<PortRange>,
    /// Most concurrent transfers (default 2000); a request beyond it is dropped unanswered
    /// and served when the client retransmits it after a transfer has ended.
    #[arg(long, value_name = "N")]
    pub max_transfers: Option<NonZeroU32>,
    /// Most requests whose client has not answered yet (default 4096, never below
    /// --max-transfers); when full, a flood's oldest (over 1 s) give way to new addresses.
    #[arg(long, value_name = "N")]
    pub max_handshakes: Option<NonZeroU32>,
    /// Most of those from one client address (default 16).
    #[arg(long, value_name = "N")]
    pub max_handshakes_per_source: Option<NonZeroU32>,
    /// Threads that each run one lock-step transfer, once its client has answered, with a
    /// blocking receive (default: one per CPU; 0: every transfer on the event loop).
    #[arg(long, value_name = "N")]
    pub lockstep_threads: Option<u32>,
}

/// `pxe get` arguments.
#[derive(Debug, Clone, Args)]
pub struct GetArgs {
    /// `tftp://HOST[:PORT]/PATH`.
    #[arg(value_name = "tftp://HOST[:PORT]/PATH")]
    pub url: TftpUrl,
    /// Output file (default: the file name of PATH in the current directory; `-` for stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Block size to ask for (RFC 2348).
    #[arg(long, value_name = "N")]
    pub blksize: Option<u16>,
    /// Window size to ask for (RFC 7440).
    #[arg(long, value_name = "N")]
    pub windowsize: Option<u16>,
    /// Ask for the transfer size (RFC 2349).
    #[arg(long)]
    pub tsize: bool,
    /// Milliseconds to linger after the final ACK, re-ACKing a resent last block (RFC 1350
    /// §6 "dallying"). 0, like curl, tftp-hpa and atftp: the file is complete once the last
    /// block arrives, and servers (pxe, dnsmasq) accept a lost final ACK.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub dally: u64,
}

/// A parsed `tftp://HOST[:PORT]/PATH` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftpUrl {
    /// Host name or address (brackets removed from IPv6 literals).
    pub host: String,
    /// UDP port (69 unless given).
    pub port: u16,
    /// Path on the server, without the leading `/`.
    pub path: String,
}

impl FromStr for TftpUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix("tftp://")
            .ok_or_else(|| format!("`{s}`: expected tftp://HOST[:PORT]/PATH"))?;
        let (authority, path) = rest
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: no /PATH after the host"))?;
        if path.is_empty() {
            return Err(format!("`{s}`: empty PATH"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, tail) = v6
                .split_once(']')
                .ok_or_else(|| format!("`{s}`: unclosed `[` in host"))?;
            match tail.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None if tail.is_empty() => (h, None),
                None => return Err(format!("`{s}`: junk after `]`")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("`{s}`: empty HOST"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|e| format!("`{s}`: port `{p}`: {e}"))?,
            None => 69,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}

impl fmt::Display for TftpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "tftp://[{}]:{}/{}", self.host, self.port, self.path)
        } else {
            write!(f, "tftp://{}:{}/{}", self.host, self.port, self.path)
        }
    }
}

/// `pxe menu` subcommands.
#[derive(Debug, Clone, Args)]
pub struct MenuArgs {
    /// What to do with the menu.
    #[command(subcommand)]
    pub command: MenuCommand,
}

/// `pxe menu lint` / `pxe menu render` / `pxe menu import`.
#[derive(Debug, Clone, Subcommand)]
pub enum MenuCommand {
    /// Check a menu (pxelinux.cfg file or MENU.toml), or with only --root the configs
    /// pxelinux loads from that tree and all they include; non-zero exit on errors.
    Lint(MenuLintArgs),
    /// Render MENU.toml into `pxelinux.cfg/default`, the DISPLAY file and the iPXE script.
    Render(MenuRenderArgs),
    /// Turn a pxelinux tree (or one config file) into a MENU.toml, with a note for every
    /// directive the menu model does not carry over.
    Import(MenuImportArgs),
}

/// `pxe menu lint [FILE] [--root DIR] [--prefix DIR] [--format text|json]`.
#[derive(Debug, Clone, Args)]
pub struct MenuLintArgs {
    /// Menu file to check; without it, --root's entry points (`pxelinux.cfg/default` and
    /// per-client files next to each pxelinux.0).
    #[arg(value_name = "FILE", required_unless_present = "root")]
    pub file: Option<PathBuf>,
    /// TFTP root: follow includes and check that referenced files exist.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The path prefix below --root where pxelinux.0 sits (DHCP option 210), instead of
    /// looking for pxelinux.0 in the tree.
    #[arg(long, value_name = "DIR", requires = "root")]
    pub prefix: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// `pxe menu render MENU.toml --out DIR [--force]`.
#[derive(Debug, Clone, Args)]
pub struct MenuRenderArgs {
    /// Menu description (TOML).
    #[arg(value_name = "MENU.toml")]
    pub menu: PathBuf,
    /// Output directory (usually the TFTP root).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Overwrite files that an earlier render did not write (a distribution's boot.msg, a
    /// hand-written pxelinux.cfg/default).
    #[arg(long)]
    pub force: bool,
}

/// `pxe menu import TREE_OR_FILE -o MENU.toml [--prefix DIR] [--force]`.
#[derive(Debug, Clone, Args)]
pub struct MenuImportArgs {
    /// A TFTP root (its pxelinux entry points are read, includes and all) or one config file.
    #[arg(value_name = "TREE_OR_FILE")]
    pub source: PathBuf,
    /// Where to write the menu description.
    #[arg(short = 'o', long = "out", value_name = "MENU.toml")]
    pub out: PathBuf,
    /// The path prefix below the tree where pxelinux.0 sits, instead of looking for it.
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<String>,
    /// With a config FILE: the TFTP root its paths (INCLUDE, KERNEL, ...) resolve from.
    /// Default: the directory above `pxelinux.cfg/` (where pxelinux.0 sits) for a file in
    /// `pxelinux.cfg/`, else the file's own directory.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Replace an existing MENU.toml.
    #[arg(long)]
    pub force: bool,
}

/// Report format for `pxe menu lint`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Human-readable.
    #[default]
    Text,
    /// JSON.
    Json,
}

/// `pxe init DIR`.
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Directory to lay out as a TFTP root.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Replace boot files that differ from the installed packages' copies (edited menus and
    /// configs are never replaced).
    #[arg(long)]
    pub force: bool,
    /// Take the package files from this system root instead of `/` (a chroot or mounted image).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub sysroot: PathBuf,
}

/// `pxe doctor [--config FILE]`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Config file (TOML) to check.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `pxe leases [--config FILE | --leases FILE] [--json]`.
#[derive(Debug, Clone, Args)]
pub struct LeasesArgs {
    /// Config file whose `[dhcp] leases` names the lease file.
    #[arg(long, value_name = "FILE", default_value = pxe_server::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// The lease file itself (overrides the config).
    #[arg(long, value_name = "FILE")]
    pub leases: Option<PathBuf>,
    /// One JSON object per lease instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_documented_form_parses() {
        let forms: &[&[&str]] = &[
            &["pxe"],
            &["pxe", "serve"],
            &[
                "pxe",
                "serve",
                "--root",
                "/srv/tftp",
                "--interface",
                "eth0",
                "--dhcp6",
                "server",
                "--dhcp6-range",
                "2001:db8::100,2001:db8::1ff",
            ],
            &[
                "pxe",
                "serve",
                "--dhcp6",
                "boot-only",
                "--interface",
                "eth0",
            ],
            &[
                "pxe",
                "serve",
                "--config",
                "c.toml",
                "--root",
                "/srv/tftp",
                "--listen",
                "0.0.0.0:69",
                "--dhcp",
                "proxy",
                "--interface",
                "eth0",
                "--dhcp-range",
                "10.0.0.10,10.0.0.20",
                "--leases",
                "l.json",
                "--log-format",
                "json",
            ],
            &[
                "pxe",
                "tftp",
                "--root",
                "/srv",
                "--listen",
                "127.0.0.1:6969",
                "--secure",
                "--user",
                "tftp",
                "--create",
                "--blksize-max",
                "1468",
                "--windowsize-max",
                "64",
                "--port-range",
                "50000:50100",
            ],
            &[
                "pxe",
                "get",
                "tftp://127.0.0.1:6969/a/b",
                "-o",
                "x",
                "--blksize",
                "1468",
                "--windowsize",
                "16",
                "--tsize",
            ],
            &[
                "pxe", "menu", "lint", "default", "--root", "/srv", "--format", "json",
            ],
            &["pxe", "menu", "render", "MENU.toml", "--out", "/srv"],
            &["pxe", "init", "/srv/tftp"],
            &["pxe", "doctor", "--config", "c.toml"],
            &["pxe", "doctor"],
        ];
        for f in forms {
            if let Err(e) = Cli::try_parse_from(*f) {
                panic!("{f:?}: {e}");
            }
        }
    }

    #[test]
    fn urls() {
        let u: TftpUrl = "tftp://127.0.0.1:6969/hello.txt".parse().unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 6969, "hello.txt")
        );
        let u: TftpUrl = "tftp://host/a/b".parse().unwrap();
        assert_eq!((u.port, u.path.as_str()), (69, "a/b"));
        let u: TftpUrl = "tftp://[::1]:70/x".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 70));
        for bad in [
            "http://x/y",
            "tftp://x",
            "tftp://x/",
            "tftp://:69/x",
            "tftp://x:zz/y",
        ] {
            assert!(bad.parse::<TftpUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges() {
        assert!("1,2".parse::<DhcpRange>().is_err());
        assert!("10.0.0.9,10.0.0.1".parse::<DhcpRange>().is_err());
        assert_eq!(
            "10:20".parse::<PortRange>().unwrap(),
            PortRange { low: 10, high: 20 }
        );
        assert!("20:10".parse::<PortRange>().is_err());
        assert!("0:10".parse::<PortRange>().is_err());
    }
}
