//! The DHCP driver: sockets, interface, clock and lease file around `pxe-dhcp`'s responders.
//!
//! Protocol decisions stay in `pxe-dhcp`. This module:
//! - reads the `[dhcp]` config table ([`DhcpConfig`]) and the `pxe serve` flags over it;
//! - finds the server address and subnet from `--interface` ([`iface`]);
//! - binds UDP 67 (and 4011 in proxy mode) with `SO_BINDTODEVICE`, `SO_BROADCAST` and
//!   `IP_PKTINFO` ([`net`]), and sends each reply where the core says (unicast, broadcast on the
//!   arrival interface, or to a hardware address after a neighbour-table entry, [`arp`]);
//! - persists the lease server's state atomically after every change and restores it on start
//!   ([`leases`]);
//! - logs one line per DHCP decision with its reason.

#![allow(
    dead_code,
    reason = "the I/O layer is wired to pxe-dhcp's responders in the next commit"
)]

pub mod arp;
mod driver;
pub mod iface;
pub mod leases;
pub mod net;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use pxe_dhcp::policy::{Policy, Rule};
use pxe_proto::MacAddr;
use serde::{Deserialize, Serialize};

use crate::cli::{DhcpFlags, DhcpMode, DhcpRange};
use crate::error::Error;

/// Where `--dhcp server` keeps its leases unless told otherwise.
pub const DEFAULT_LEASES: &str = "/var/lib/pxe/leases.json";

/// Default lease time: one hour.
pub const DEFAULT_LEASE_SECS: u32 = 3600;

/// The `[dhcp]` config table.
///
/// ```toml
/// [dhcp]
/// mode = "server"                    # off (default) | proxy | server
/// interface = "eth0"                 # address and subnet come from it
/// range = "192.168.1.100,192.168.1.200"
/// leases = "/var/lib/pxe/leases.json"
/// router = "192.168.1.1"
/// dns = ["192.168.1.1"]
/// domain = "lan"
/// lease_time = 3600                  # seconds
/// uefi_via_4011 = false              # proxy: UEFI ROMs get the boot file via port 4011
/// pxe_vendor_to_rom = false          # server: option 60/43 to plain PXE ROMs too
/// [[dhcp.rules]]                    # optional; the default policy otherwise
/// name = "pxe-bios"
/// boot_file = "undionly.kpxe"
/// match = { firmware = ["pxe"], arch = ["bios"] }
/// [[dhcp.reservations]]
/// mac = "52:54:00:12:34:56"
/// ip = "192.168.1.50"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DhcpConfig {
    /// Off unless asked for: never an accidental rogue DHCP server.
    pub mode: DhcpMode,
    /// The interface to bind; the server address and subnet come from it.
    pub interface: Option<String>,
    /// The lease pool (server mode).
    pub range: Option<DhcpRange>,
    /// The lease file (server mode); default [`DEFAULT_LEASES`].
    pub leases: Option<PathBuf>,
    /// Subnet mask to hand out; default: the interface's.
    pub netmask: Option<Ipv4Addr>,
    /// Default gateway handed out (option 3).
    pub router: Option<Ipv4Addr>,
    /// DNS servers handed out (option 6).
    pub dns: Vec<Ipv4Addr>,
    /// Domain name handed out (option 15).
    pub domain: Option<String>,
    /// Lease time in seconds; default [`DEFAULT_LEASE_SECS`].
    pub lease_time: Option<u32>,
    /// The TFTP server clients are sent to (`siaddr`); default: the TFTP listen address, or the
    /// interface's address when TFTP listens on 0.0.0.0.
    pub next_server: Option<Ipv4Addr>,
    /// Fixed addresses by MAC (server mode).
    pub reservations: Vec<Reservation>,
    /// Proxy mode: send UEFI PXE ROMs an offer without option 43 so they fetch the boot file
    /// through a port-4011 request (Pixiecore's UEFI path) instead of from the offer.
    pub uefi_via_4011: bool,
    /// Server mode: also send option 60 `PXEClient` + 43 to plain PXE ROMs (iPXE always gets
    /// them; EDK2 reads 60 without a boot server as "ask port 4011", so off by default).
    pub pxe_vendor_to_rom: bool,
    /// Boot policy rules in priority order (`[[dhcp.rules]]`, `pxe-dhcp`'s serde form); empty
    /// means `pxe-dhcp`'s default: BIOS PXE → undionly.kpxe, UEFI → ipxe.efi, iPXE → the next
    /// stage (pxelinux.0 on BIOS, boot.ipxe otherwise).
    pub rules: Vec<Rule>,
}

/// A fixed address for one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    /// The client's hardware address.
    pub mac: MacAddr,
    /// The address it always gets.
    pub ip: Ipv4Addr,
}

impl DhcpConfig {
    /// Applies `pxe serve`'s DHCP flags over the file's values (flags win).
    pub fn apply_flags(&mut self, flags: &DhcpFlags) -> Result<(), Error> {
        if let Some(mode) = flags.dhcp {
            self.mode = mode;
        }
        if let Some(i) = &flags.interface {
            self.interface = Some(i.clone());
        }
        if let Some(r) = flags.dhcp_range {
            self.range = Some(r);
        }
        if let Some(l) = &flags.leases {
            self.leases = Some(l.clone());
        }
        if self.mode != DhcpMode::Server && flags.dhcp_range.is_some() {
            return Err(Error::Usage(
                "--dhcp-range needs --dhcp server (a proxy hands out no addresses)".into(),
            ));
        }
        if self.mode == DhcpMode::Server && self.range.is_none() && self.reservations.is_empty() {
            return Err(Error::Usage(
                "--dhcp server needs an address pool: --dhcp-range FIRST,LAST (or [dhcp] range / reservations in the config)".into(),
            ));
        }
        Ok(())
    }

    /// The DHCP mode in effect; [`DhcpMode::Off`] unless asked for.
    #[must_use]
    pub fn mode(&self) -> DhcpMode {
        self.mode
    }

    /// The interface DHCP binds to, if any.
    #[must_use]
    pub fn interface(&self) -> Option<&str> {
        self.interface.as_deref()
    }

    /// The boot policy in effect: the configured rules, or the default.
    #[must_use]
    pub fn policy(&self) -> Policy {
        if self.rules.is_empty() {
            Policy::default()
        } else {
            Policy {
                rules: self.rules.clone(),
                ..Policy::default()
            }
        }
    }

    /// The lease file in effect.
    #[must_use]
    pub fn leases_path(&self) -> PathBuf {
        self.leases
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LEASES))
    }
}

/// The files (relative to the TFTP root) the boot policy sends clients to when DHCP is on,
/// each with the first rule naming it: `pxe doctor` checks they exist and are readable.
#[must_use]
pub fn boot_files(config: &DhcpConfig) -> Vec<(String, String)> {
    if config.mode() == DhcpMode::Off {
        return Vec::new();
    }
    let mut files: Vec<(String, String)> = Vec::new();
    for r in config.policy().rules {
        if r.boot_file.contains("://") || r.boot_file.contains('{') {
            continue;
        }
        let f = r.boot_file.trim_start_matches('/').to_owned();
        if !files.iter().any(|(g, _)| *g == f) {
            files.push((f, r.name));
        }
    }
    files
}

/// What `serve` knows that DHCP needs.
#[derive(Debug, Clone)]
pub struct DhcpContext {
    /// The TFTP root (boot files are looked up here).
    pub root: PathBuf,
    /// Where TFTP listens (`next-server` is its IP, or `server_ip` when it is 0.0.0.0).
    pub tftp_listen: SocketAddr,
    /// The interface's IPv4 address and prefix length, when an interface is configured.
    pub server_ip: Option<(Ipv4Addr, u8)>,
}

/// Runs the DHCP service until `shutdown` becomes `true`, then saves the leases.
pub async fn run(
    config: DhcpConfig,
    ctx: DhcpContext,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), Error> {
    driver::Driver::start(&config, &ctx)?.run(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_and_flags_win() {
        let mut c: DhcpConfig = toml::from_str(
            r#"
            mode = "proxy"
            interface = "eth0"
            router = "10.0.0.1"
            dns = ["10.0.0.1", "9.9.9.9"]
            lease_time = 600
            uefi_via_4011 = true
            [[reservations]]
            mac = "52:54:00:12:34:56"
            ip = "10.0.0.50"
            "#,
        )
        .expect("parse");
        assert_eq!(c.mode(), DhcpMode::Proxy);
        assert_eq!(c.dns.len(), 2);
        assert!(c.uefi_via_4011 && !c.pxe_vendor_to_rom);
        let flags = DhcpFlags {
            dhcp: Some(DhcpMode::Server),
            interface: Some("br0".into()),
            dhcp_range: Some("10.0.0.100,10.0.0.120".parse().expect("range")),
            leases: Some("/tmp/l.json".into()),
        };
        c.apply_flags(&flags).expect("apply");
        assert_eq!(c.mode(), DhcpMode::Server);
        assert_eq!(c.interface(), Some("br0"));
        assert_eq!(c.leases_path(), PathBuf::from("/tmp/l.json"));
    }

    #[test]
    fn off_by_default_and_inconsistent_flags_refused() {
        let mut c = DhcpConfig::default();
        c.apply_flags(&DhcpFlags::default()).expect("no flags");
        assert_eq!(c.mode(), DhcpMode::Off);
        let range_without_server = DhcpFlags {
            dhcp_range: Some("10.0.0.1,10.0.0.2".parse().expect("range")),
            ..DhcpFlags::default()
        };
        assert!(c.apply_flags(&range_without_server).is_err());
        let server_without_pool = DhcpFlags {
            dhcp: Some(DhcpMode::Server),
            ..DhcpFlags::default()
        };
        assert!(
            DhcpConfig::default()
                .apply_flags(&server_without_pool)
                .is_err()
        );
        assert!(toml::from_str::<DhcpConfig>("mod = \"proxy\"").is_err());
    }

    #[test]
    fn rules_parse_and_name_boot_files() {
        let c: DhcpConfig = toml::from_str(
            r#"
            mode = "proxy"
            [[rules]]
            name = "chain-ipxe-rom"
            once = true
            boot_file = "undionly.kpxe"
            match = { firmware = ["ipxe"], arch = ["bios"] }
            [[rules]]
            name = "rest"
            boot_file = "/menus/boot.ipxe"
            "#,
        )
        .expect("parse");
        assert_eq!(c.policy().rules.len(), 2);
        assert_eq!(
            boot_files(&c),
            vec![
                ("undionly.kpxe".to_owned(), "chain-ipxe-rom".to_owned()),
                ("menus/boot.ipxe".to_owned(), "rest".to_owned())
            ]
        );
        assert!(
            boot_files(&DhcpConfig::default()).is_empty(),
            "DHCP off: nothing referenced"
        );
        let proxy = DhcpConfig {
            mode: DhcpMode::Proxy,
            ..DhcpConfig::default()
        };
        assert!(boot_files(&proxy).iter().any(|(f, _)| f == "undionly.kpxe"));
    }
}
