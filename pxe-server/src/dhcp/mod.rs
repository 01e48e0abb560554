//! The DHCP driver: sockets, interface, clock and lease file around `pxe-dhcp`'s responders.
//!
//! Protocol decisions stay in `pxe-dhcp`. This module:
//! - reads the `[dhcp]` config table ([`DhcpConfig`]) and the `pxe serve` flags over it;
//! - finds the server address and subnet from `--interface` ([`iface`]);
//! - binds UDP 67 (and 4011 in proxy mode) with `SO_BINDTODEVICE`, `SO_BROADCAST` and
//!   `IP_PKTINFO` ([`net`]), and sends each reply where the core says (unicast, broadcast on the
//!   arrival interface, or to a hardware address after a neighbour-table entry, [`arp`]);
//! - persists the lease server's state through a [`store::LeaseStore`] before any reply that
//!   depends on it, and restores it on start (the append-only journal, [`leases`]);
//! - logs one line per DHCP decision with its reason.

pub mod arp;
pub mod clock;
mod driver;

pub use self::driver::{Bound, Driver};
pub mod iface;
pub mod leases;
pub mod net;
pub mod pg;
pub mod store;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use pxe_dhcp::policy::{Policy, Rule, UefiChain};
use pxe_proto::MacAddr;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ranges::{DhcpRange, Ipv4Network};
use pxe_dhcp::responder::{PoolRange, Subnet};

/// Where `--dhcp server` keeps its leases unless told otherwise.
pub const DEFAULT_LEASES: &str = "/var/lib/pxe/leases.json";

/// Default lease time: one hour.
pub const DEFAULT_LEASE_SECS: u32 = 3600;

/// The shortest `lease_time` accepted: two minutes, dnsmasq's floor too. Below it clients
/// renew (at half the lease time) faster than a busy server, a slow relay or a PXE ROM's
/// retransmission timers can keep up with, and `0` hands out leases that are expired at once.
pub const MIN_LEASE_SECS: u32 = 120;

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
/// max_clients_per_mac = 4            # server: client identifiers holding addresses per MAC; 0: no limit
/// authoritative = false              # server: NAK requests for addresses not ours (dhcpd's `authoritative`)
/// default_rules = true              # the built-in rules follow [[dhcp.rules]] (default)
/// uefi = "ipxe"                      # UEFI PXE ROMs: ipxe (default) | shim (Secure Boot)
/// [[dhcp.rules]]                    # optional; tried first, the first match wins
/// name = "lab-pc"
/// boot_file = "lab/pxelinux.0"
/// match = { mac = { address = "52:54:00:12:34:56" } }
/// [[dhcp.rules]]                    # a rule may pick the UEFI chain instead of a file
/// name = "secure-boot-lab"
/// uefi = "shim"
/// match = { mac = { address = "52:54:00:00:00:00", mask = "ff:ff:ff:00:00:00" } }
/// [[dhcp.reservations]]
/// mac = "52:54:00:12:34:56"
/// ip = "192.168.1.50"
/// [[dhcp.subnet]]                   # server: a network behind a relay, see [`SubnetConfig`]
/// network = "10.92.0.0/24"
/// range = "10.92.0.100,10.92.0.200"
/// ```
///
/// The boot policy is the configured rules followed by `pxe-dhcp`'s default rules
/// ([`Policy::default`]), so adding one rule keeps the defaults for every other client, as with
/// dnsmasq's `dhcp-boot` tags or Pixiecore. `default_rules = false` leaves only the configured
/// rules. While the defaults are on, a configured rule may not take a default rule's name
/// ([`DhcpConfig::policy`] refuses it), so the name in a decision's log line is unambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DhcpConfig {
    /// Off unless asked for: never an accidental rogue DHCP server.
    pub mode: DhcpMode,
    /// The interface to bind; the server address and subnet come from it.
    pub interface: Option<String>,
    /// The lease pool (server mode).
    pub range: Option<DhcpRange>,
    /// The lease file (server mode), or a `postgresql://` URL of a lease database shared with
    /// other servers ([`pg`]); default [`DEFAULT_LEASES`].
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
    /// Networks served through relays (`[[dhcp.subnet]]`, server mode).
    #[serde(rename = "subnet")]
    pub subnets: Vec<SubnetConfig>,
    /// Proxy mode: send UEFI PXE ROMs an offer without option 43 so they fetch the boot file
    /// through a port-4011 request (Pixiecore's UEFI path) instead of from the offer.
    pub uefi_via_4011: bool,
    /// Server mode: also send option 60 `PXEClient` + 43 to plain PXE ROMs (iPXE always gets
    /// them; EDK2 reads 60 without a boot server as "ask port 4011", so off by default).
    pub pxe_vendor_to_rom: bool,
    /// Server mode: at most this many client identifiers (option 61) may hold addresses on one
    /// MAC, so one machine cycling identifiers cannot drain the pool; 0: no limit. Default
    /// [`pxe_dhcp::responder::DEFAULT_MAX_CLIENTS_PER_MAC`]; see
    /// [`pxe_dhcp::responder::ServerConfig::max_clients_per_mac`].
    pub max_clients_per_mac: u32,
    /// Server mode: whether this server owns every address of its network (ISC dhcpd's
    /// `authoritative`). Off (the default), a rebooting or rebinding client asking for an
    /// address this server does not lease, or that it has no record of, gets no answer, so
    /// another server's clients on the same wire keep their leases (RFC 2131 §4.3.2). On, it
    /// gets a NAK (a wrong address) or an ACK (a free pool address): the right choice when this
    /// is the only DHCP server of the network. See
    /// [`pxe_dhcp::responder::ServerConfig::authoritative`].
    pub authoritative: bool,
    /// Boot policy rules in priority order (`[[dhcp.rules]]`, `pxe-dhcp`'s serde form), tried
    /// before the default rules.
    pub rules: Vec<Rule>,
    /// Whether `pxe-dhcp`'s default rules follow the configured ones (default `true`): BIOS
    /// PXE → undionly.kpxe, UEFI → ipxe.efi, iPXE → the next stage (pxelinux.0 on BIOS,
    /// boot.ipxe otherwise). With `false`, clients no configured rule matches get no boot reply.
    pub default_rules: bool,
    /// The chain x64 UEFI PXE ROMs start under the default rules: `ipxe` (`ipxe.efi`, the
    /// default) or `shim`, the signed shim → GRUB chain that machines with Secure Boot on
    /// accept (`pxe init` lays it out; [`pxe_dhcp::policy::UefiChain`]).
    pub uefi: UefiChain,
    /// The host layer put before the rules: the top-level `[[host]]` entries, filled in by the
    /// server ([`crate::decide::static_hosts`]), not read from the `[dhcp]` table.
    #[serde(skip)]
    pub hosts: std::collections::BTreeMap<MacAddr, pxe_dhcp::policy::Host>,
}

impl Default for DhcpConfig {
    fn default() -> Self {
        DhcpConfig {
            mode: DhcpMode::default(),
            interface: None,
            range: None,
            leases: None,
            netmask: None,
            router: None,
            dns: Vec::new(),
            domain: None,
            lease_time: None,
            next_server: None,
            reservations: Vec::new(),
            subnets: Vec::new(),
            uefi_via_4011: false,
            pxe_vendor_to_rom: false,
            max_clients_per_mac: pxe_dhcp::responder::DEFAULT_MAX_CLIENTS_PER_MAC,
            authoritative: false,
            rules: Vec::new(),
            default_rules: true,
            uefi: UefiChain::default(),
            hosts: std::collections::BTreeMap::new(),
        }
    }
}

/// `--dhcp off|proxy|server`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum DhcpMode {
    /// No DHCP at all (the default).
    #[default]
    Off,
    /// proxyDHCP (ports 67 and 4011): boot options only, another server gives addresses.
    Proxy,
    /// Full DHCP server with a lease pool.
    Server,
}

/// DHCP settings given outside the config file (`pxe serve`'s flags); each one set overrides
/// the file's value in [`DhcpConfig::apply_overrides`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DhcpOverrides {
    /// DHCP mode.
    pub mode: Option<DhcpMode>,
    /// Network interface.
    pub interface: Option<String>,
    /// Lease pool for the server mode.
    pub range: Option<DhcpRange>,
    /// Lease file, or `postgresql://` URL of a shared lease database, for the server mode.
    pub leases: Option<PathBuf>,
}

impl DhcpOverrides {
    /// True when nothing is overridden.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A fixed address for one client: `pxe-dhcp`'s, read from `{ mac = "...", ip = "..." }`.
pub use pxe_dhcp::responder::Reservation;

/// A `[[dhcp.subnet]]` table: a network served through relays (chosen by the relay's address,
/// `giaddr`, RFC 2131 §4.3.1), or the interface's own network described in full. Settings left
/// out take the `[dhcp]` table's (DNS, domain, lease time); the router defaults to the relay.
///
/// ```toml
/// [[dhcp.subnet]]
/// network = "10.92.0.0/24"
/// range = "10.92.0.100,10.92.0.200"     # or ranges = ["...", "..."]
/// router = "10.92.0.1"
/// dns = ["10.92.0.1"]
/// domain = "lab2"
/// lease_time = 7200
/// reservations = [{ mac = "52:54:00:92:00:10", ip = "10.92.0.10" }]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    /// The network, `ADDRESS/PREFIX`.
    pub network: Ipv4Network,
    /// One address pool.
    #[serde(default)]
    pub range: Option<DhcpRange>,
    /// More address pools.
    #[serde(default)]
    pub ranges: Vec<DhcpRange>,
    /// Default gateway handed out (option 3); default: the relay's address.
    #[serde(default)]
    pub router: Option<Ipv4Addr>,
    /// DNS servers handed out (option 6); default: `[dhcp] dns`.
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    /// Domain name handed out (option 15); default: `[dhcp] domain`.
    #[serde(default)]
    pub domain: Option<String>,
    /// Lease time in seconds; default: `[dhcp] lease_time`.
    #[serde(default)]
    pub lease_time: Option<u32>,
    /// Fixed addresses by MAC, inside the network.
    #[serde(default)]
    pub reservations: Vec<Reservation>,
}

impl SubnetConfig {
    /// Every pool of the subnet.
    pub fn pools(&self) -> impl Iterator<Item = DhcpRange> + '_ {
        self.range.iter().chain(self.ranges.iter()).copied()
    }

    /// What is wrong with the table, if anything.
    fn problem(&self) -> Option<String> {
        let net = self.network;
        for r in self.pools() {
            for ip in [r.first, r.last] {
                if !net.contains(ip) {
                    return Some(format!("range {r}: {ip} is not in {net}"));
                }
            }
        }
        if let Some(r) = self.reservations.iter().find(|r| !net.contains(r.ip)) {
            return Some(format!("reservation {} → {}: not in {net}", r.mac, r.ip));
        }
        if let Some(t) = self.lease_time.filter(|&t| t < MIN_LEASE_SECS) {
            return Some(format!(
                "lease_time = {t}: leases shorter than {MIN_LEASE_SECS} seconds are refused"
            ));
        }
        None
    }

    /// The lease server's form.
    #[must_use]
    pub fn to_subnet(&self) -> Subnet {
        Subnet {
            network: self.network.addr,
            mask: self.network.mask(),
            pools: self
                .pools()
                .map(|r| PoolRange {
                    first: r.first,
                    last: r.last,
                })
                .collect(),
            reservations: self.reservations.clone(),
            routers: self.router.into_iter().collect(),
            dns_servers: self.dns.clone(),
            domain_name: self.domain.clone(),
            lease_time_secs: self.lease_time,
        }
    }
}

impl DhcpConfig {
    /// Applies settings given outside the file (`pxe serve`'s flags) over the file's values.
    pub fn apply_overrides(&mut self, flags: &DhcpOverrides) -> Result<(), Error> {
        if let Some(mode) = flags.mode {
            self.mode = mode;
        }
        if let Some(i) = &flags.interface {
            self.interface = Some(i.clone());
        }
        if let Some(r) = flags.range {
            self.range = Some(r);
        }
        if let Some(l) = &flags.leases {
            self.leases = Some(l.clone());
        }
        if self.mode != DhcpMode::Server && flags.range.is_some() {
            return Err(Error::Usage(
                "--dhcp-range needs --dhcp server (a proxy hands out no addresses)".into(),
            ));
        }
        if self.mode == DhcpMode::Server
            && self.range.is_none()
            && self.reservations.is_empty()
            && self.subnets.is_empty()
        {
            return Err(Error::Usage(
                "--dhcp server needs an address pool: --dhcp-range FIRST,LAST (or [dhcp] range / reservations in the config)".into(),
            ));
        }
        Ok(())
    }

    /// Checks values that parse but cannot work: a `lease_time` under [`MIN_LEASE_SECS`].
    pub fn check(&self) -> Result<(), Error> {
        if let Some(t) = self.lease_time.filter(|&t| t < MIN_LEASE_SECS) {
            return Err(Error::Usage(format!(
                "[dhcp] lease_time = {t}: leases shorter than {MIN_LEASE_SECS} seconds are refused (clients would renew faster than a server or relay can answer; 0 would expire at once); use {MIN_LEASE_SECS} or more (default {DEFAULT_LEASE_SECS})"
            )));
        }
        for (i, n) in self.subnets.iter().enumerate() {
            if let Some(p) = n.problem() {
                return Err(Error::Usage(format!(
                    "[[dhcp.subnet]] {} ({}): {p}",
                    i + 1,
                    n.network
                )));
            }
            if let Some(o) = self.subnets[..i]
                .iter()
                .find(|o| o.network.contains(n.network.addr) || n.network.contains(o.network.addr))
            {
                return Err(Error::Usage(format!(
                    "[[dhcp.subnet]] {} ({}) overlaps {}: a relay's address must choose one subnet",
                    i + 1,
                    n.network,
                    o.network
                )));
            }
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

    /// The boot policy in effect: the configured rules, then (unless `default_rules = false`)
    /// the default rules. The first match wins, so a configured rule overrides the defaults for
    /// the clients it matches and the defaults serve the rest. Appending keeps the configured
    /// rules' positions, by which the responders remember used `once` rules; the defaults have
    /// no `once` rule, so a configured `once` rule chaining iPXE ROMs to undionly.kpxe falls
    /// through to the default `ipxe-bios` rule on the chained iPXE's next transaction, which
    /// ends the loop (`pxe_dhcp::policy`'s module docs).
    ///
    /// Refuses a configured rule named like a default rule while the defaults are on: two rules
    /// of one name would make a decision's log line ambiguous, and quietly dropping the default
    /// would leave the clients the configured rule does not match without a boot file.
    pub fn policy(&self) -> Result<Policy, Error> {
        self.policy_with_http(None)
    }

    /// [`DhcpConfig::policy`] for a server that also serves HTTP on port `http` (when `Some`):
    /// `{http}` in boot files gets that port, and the default rules are
    /// [`Policy::with_http`]'s (iPXE fetches `boot.ipxe`, and what it loads, over HTTP).
    pub fn policy_with_http(&self, http: Option<u16>) -> Result<Policy, Error> {
        let base = http
            .map_or_else(Policy::default, Policy::with_http)
            .with_uefi_chain(self.uefi);
        if let Some(r) = self
            .rules
            .iter()
            .find(|r| r.boot_file.is_empty() && r.uefi.is_none())
        {
            return Err(Error::Usage(format!(
                "[[dhcp.rules]] \"{}\": no boot_file (and no uefi = \"ipxe\" | \"shim\" choosing a UEFI chain): say what the clients it matches boot",
                r.name
            )));
        }
        let mut policy = if self.default_rules {
            if let Some(clash) = base.name_clash(&self.rules) {
                return Err(Error::Usage(format!(
                    "[[dhcp.rules]] \"{}\": a built-in default rule has this name (the defaults follow the configured rules); rename the rule, or set [dhcp] default_rules = false to use only the configured rules",
                    clash.name
                )));
            }
            Policy::layered(self.rules.clone(), base)
        } else {
            Policy {
                rules: self.rules.clone(),
                ..base
            }
        };
        policy.hosts = self.hosts.clone();
        Ok(policy)
    }

    /// The lease file in effect.
    #[must_use]
    pub fn leases_path(&self) -> PathBuf {
        self.leases
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LEASES))
    }
}

/// The files (relative to the root) the boot policy sends clients to when DHCP is on, each
/// with the first rule naming it ([`Policy::referenced_files`]): `pxe doctor` checks they exist
/// and are readable. With HTTP on (`http` = its port), `http://{http}/NAME` is our own HTTP
/// server, so NAME counts too.
pub fn boot_files(config: &DhcpConfig, http: Option<u16>) -> Result<Vec<(String, String)>, Error> {
    if config.mode() == DhcpMode::Off {
        return Ok(Vec::new());
    }
    Ok(config
        .policy_with_http(http)?
        .referenced_files(http.is_some()))
}

/// What the server knows that DHCP needs.
#[derive(Debug, Clone)]
pub struct DhcpContext {
    /// Where TFTP listens (`next-server` is its IP, or the interface's when it is 0.0.0.0).
    pub tftp_listen: SocketAddr,
    /// Where HTTP listens, when it runs: its port goes into `{http}` boot URLs and iPXE gets
    /// `boot.ipxe` over HTTP ([`DhcpConfig::policy_with_http`]).
    pub http_listen: Option<SocketAddr>,
    /// Where decisions and lease changes are reported.
    pub events: crate::events::Events,
    /// New configurations to apply (`crate::Handle::reload`): the boot policy and the
    /// reservations are taken from each; the rest needs a restart.
    pub updates: Option<tokio::sync::watch::Receiver<DhcpConfig>>,
    /// Asked per machine before the static rules ([`crate::decide`]).
    pub decider: Option<std::sync::Arc<dyn crate::decide::Decide>>,
    /// What decisions need to become policy entries.
    pub hosts: crate::decide::HostContext,
    /// Where the files of decisions go (served by TFTP and HTTP).
    pub files: crate::decide::HostFiles,
}

/// Runs the DHCP service until `shutdown` becomes `true`, then saves the leases.
pub async fn run(
    config: DhcpConfig,
    ctx: DhcpContext,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), Error> {
    bind(&config, &ctx)?.start()?.run(shutdown).await
}

/// Binds the DHCP sockets and opens the lease file, without a runtime: `serve` does this
/// before dropping privileges ([`crate::privilege`]); [`Bound::start`] then runs on the runtime.
pub fn bind(config: &DhcpConfig, ctx: &DhcpContext) -> Result<Bound, Error> {
    driver::Driver::bind(config, ctx)
}

#[cfg(test)]
mod tests {
    use pxe_dhcp::pxe::{Arch, ClientInfo, Firmware};

    use super::*;
    use pxe_proto::MacAddr;

    #[test]
    fn subnet_tables_parse_and_are_checked() {
        let path = std::path::Path::new("/etc/pxe/pxe.toml");
        let c = crate::config::Config::parse(
            r#"
            [dhcp]
            mode = "server"
            [[dhcp.subnet]]
            network = "10.92.0.0/24"
            range = "10.92.0.100,10.92.0.110"
            ranges = ["10.92.0.200,10.92.0.210"]
            lease_time = 7200
            reservations = [{ mac = "52:54:00:92:00:10", ip = "10.92.0.10" }]
            [[dhcp.subnet]]
            network = "10.93.0.0/16"
            router = "10.93.0.1"
            "#,
            path,
        )
        .expect("parse");
        let n = c.dhcp.subnets[0].to_subnet();
        assert_eq!(n.mask, Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(n.pools.len(), 2);
        assert_eq!(n.lease_time_secs, Some(7200));
        assert_eq!(
            c.dhcp.subnets[1].to_subnet().mask,
            Ipv4Addr::new(255, 255, 0, 0)
        );
        for (bad, says) in [
            ("network = \"10.92.0.1/24\"", "host bits set"),
            (
                "network = \"10.92.0.0/24\"\nrange = \"10.92.1.1,10.92.1.9\"",
                "is not in 10.92.0.0/24",
            ),
            (
                "network = \"10.92.0.0/24\"\nlease_time = 30",
                "lease_time = 30",
            ),
            (
                "network = \"10.92.0.0/24\"\nreservations = [{ mac = \"52:54:00:00:00:01\", ip = \"10.1.0.1\" }]",
                "not in 10.92.0.0/24",
            ),
            (
                "network = \"10.92.0.0/24\"\n[[dhcp.subnet]]\nnetwork = \"10.92.0.0/25\"",
                "overlaps",
            ),
            (
                "network = \"10.92.0.0/24\"\nrouters = \"x\"",
                "unknown field",
            ),
        ] {
            let text = format!("[dhcp]\n[[dhcp.subnet]]\n{bad}\n");
            let err = crate::config::Config::parse(&text, path)
                .expect_err(bad)
                .to_string();
            assert!(
                err.contains(says) && err.contains("/etc/pxe/pxe.toml"),
                "{bad}: {err}"
            );
        }
    }

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
            max_clients_per_mac = 0
            [[reservations]]
            mac = "52:54:00:12:34:56"
            ip = "10.0.0.50"
            "#,
        )
        .expect("parse");
        assert_eq!(c.mode(), DhcpMode::Proxy);
        assert_eq!(c.dns.len(), 2);
        assert!(c.uefi_via_4011 && !c.pxe_vendor_to_rom);
        assert_eq!(c.max_clients_per_mac, 0);
        assert_eq!(DhcpConfig::default().max_clients_per_mac, 4);
        let flags = DhcpOverrides {
            mode: Some(DhcpMode::Server),
            interface: Some("br0".into()),
            range: Some("10.0.0.100,10.0.0.120".parse().expect("range")),
            leases: Some("/tmp/l.json".into()),
        };
        c.apply_overrides(&flags).expect("apply");
        assert_eq!(c.mode(), DhcpMode::Server);
        assert_eq!(c.interface(), Some("br0"));
        assert_eq!(c.leases_path(), PathBuf::from("/tmp/l.json"));
    }

    #[test]
    fn a_lease_time_under_the_minimum_is_a_config_error() {
        for t in [0, 1, 119] {
            let text = format!("[dhcp]\nmode = \"server\"\nlease_time = {t}\n");
            let err =
                crate::config::Config::parse(&text, std::path::Path::new("/etc/pxe/pxe.toml"))
                    .expect_err("too short");
            let msg = err.to_string();
            assert!(
                msg.contains("/etc/pxe/pxe.toml") && msg.contains(&format!("lease_time = {t}")),
                "{msg}"
            );
        }
        crate::config::Config::parse("[dhcp]\nlease_time = 120\n", std::path::Path::new("t"))
            .expect("the minimum is accepted");
    }

    #[test]
    fn off_by_default_and_inconsistent_flags_refused() {
        let mut c = DhcpConfig::default();
        c.apply_overrides(&DhcpOverrides::default())
            .expect("no flags");
        assert_eq!(c.mode(), DhcpMode::Off);
        let range_without_server = DhcpOverrides {
            range: Some("10.0.0.1,10.0.0.2".parse().expect("range")),
            ..DhcpOverrides::default()
        };
        assert!(c.apply_overrides(&range_without_server).is_err());
        let server_without_pool = DhcpOverrides {
            mode: Some(DhcpMode::Server),
            ..DhcpOverrides::default()
        };
        assert!(
            DhcpConfig::default()
                .apply_overrides(&server_without_pool)
                .is_err()
        );
        assert!(toml::from_str::<DhcpConfig>("mod = \"proxy\"").is_err());
    }

    /// The default rules' names, in order.
    fn default_names() -> Vec<String> {
        Policy::default()
            .rules
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    fn names(c: &DhcpConfig) -> Vec<String> {
        c.policy()
            .expect("policy")
            .rules
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    /// One machine by MAC, ahead of the defaults.
    const LAB_PC: &str = r#"
        mode = "proxy"
        [[rules]]
        name = "lab-pc"
        boot_file = "lab/pxelinux.0"
        match = { mac = { address = "52:54:00:12:34:56" } }
    "#;

    #[test]
    fn configured_rules_come_first_then_the_defaults() {
        let c: DhcpConfig = toml::from_str(LAB_PC).expect("parse");
        assert!(c.default_rules, "on unless turned off");
        assert!(DhcpConfig::default().default_rules);
        let mut want = vec!["lab-pc".to_owned()];
        want.extend(default_names());
        assert_eq!(names(&c), want);
        assert_eq!(
            c.policy().expect("policy").once_window_secs,
            Policy::default().once_window_secs
        );
        assert_eq!(
            DhcpConfig::default().policy().expect("policy"),
            Policy::default(),
            "no rules: exactly the defaults"
        );
    }

    #[test]
    fn default_rules_false_leaves_only_the_configured_rules() {
        let c: DhcpConfig =
            toml::from_str(&format!("default_rules = false\n{LAB_PC}")).expect("parse");
        assert_eq!(names(&c), vec!["lab-pc".to_owned()]);
        let none = DhcpConfig {
            default_rules: false,
            ..DhcpConfig::default()
        };
        assert!(none.policy().expect("policy").rules.is_empty());
        assert!(toml::from_str::<DhcpConfig>("default_rules = \"no\"").is_err());
    }

    #[test]
    fn a_default_rule_name_is_refused_while_the_defaults_are_on() {
        let text = r#"
            [dhcp]
            mode = "proxy"
            [[dhcp.rules]]
            name = "pxe-bios"
            boot_file = "pxe/PC/undionly.kpxe"
            match = { firmware = ["pxe"], arch = ["bios"] }
        "#;
        let err = crate::config::Config::parse(text, std::path::Path::new("/etc/pxe/pxe.toml"))
            .expect_err("name clash");
        let msg = err.to_string();
        assert!(
            msg.contains("/etc/pxe/pxe.toml")
                && msg.contains("\"pxe-bios\"")
                && msg.contains("default_rules = false"),
            "{msg}"
        );
        // Without the defaults the name is free: a config that spells them out still works.
        let text = text.replace("[dhcp]", "[dhcp]\ndefault_rules = false");
        let c = crate::config::Config::parse(&text, std::path::Path::new("t.toml"))
            .expect("no defaults, no clash");
        assert_eq!(names(&c.dhcp), vec!["pxe-bios".to_owned()]);
    }

    #[test]
    fn boot_files_follow_the_rules_in_effect() {
        let default_files = |c: &DhcpConfig| -> Vec<String> {
            boot_files(c, None)
                .expect("files")
                .into_iter()
                .map(|(f, _)| f)
                .collect()
        };
        let proxy = DhcpConfig {
            mode: DhcpMode::Proxy,
            ..DhcpConfig::default()
        };
        let defaults = default_files(&proxy);
        assert!(
            defaults.iter().any(|f| f == "undionly.kpxe"),
            "{defaults:?}"
        );
        assert!(
            boot_files(&DhcpConfig::default(), None)
                .expect("files")
                .is_empty(),
            "DHCP off: nothing referenced"
        );

        // Defaults on: the configured file first, then the defaults' files.
        let c: DhcpConfig = toml::from_str(LAB_PC).expect("parse");
        let files = boot_files(&c, None).expect("files");
        assert_eq!(files[0], ("lab/pxelinux.0".to_owned(), "lab-pc".to_owned()));
        assert_eq!(
            files[1..]
                .iter()
                .map(|(f, _)| f.clone())
                .collect::<Vec<_>>(),
            defaults
        );

        // Defaults off: only the configured file.
        let off = DhcpConfig {
            default_rules: false,
            ..c
        };
        assert_eq!(
            boot_files(&off, None).expect("files"),
            vec![("lab/pxelinux.0".to_owned(), "lab-pc".to_owned())]
        );

        // A configured catch-all is the last rule any client reaches: the defaults' files are
        // not referenced, while the `once` rule before it does not hide anything.
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
        assert_eq!(
            boot_files(&c, None).expect("files"),
            vec![
                ("undionly.kpxe".to_owned(), "chain-ipxe-rom".to_owned()),
                ("menus/boot.ipxe".to_owned(), "rest".to_owned())
            ]
        );

        // With HTTP on, the files behind `http://{http}/` URLs are ours to check too: the
        // UEFI HTTP Boot clients' ipxe.efi, and boot.ipxe (which the `ipxe` rule then sends
        // over HTTP); without it, those URLs point elsewhere.
        let with_http = boot_files(&proxy, Some(8080)).expect("files");
        let names: Vec<&str> = with_http.iter().map(|(f, _)| f.as_str()).collect();
        assert!(names.contains(&"boot.ipxe"), "{names:?}");
        assert!(names.contains(&"ipxe-arm64.efi"), "{names:?}");
        assert!(with_http.contains(&("boot.ipxe".to_owned(), "ipxe".to_owned())));
    }

    #[test]
    fn http_port_reaches_the_policy() {
        let c = DhcpConfig {
            mode: DhcpMode::Proxy,
            ..DhcpConfig::default()
        };
        let p = c.policy_with_http(Some(6980)).expect("policy");
        assert_eq!(p.http_port, 6980);
        let ipxe = p
            .rules
            .iter()
            .find(|r| r.name == "ipxe")
            .expect("ipxe rule");
        assert_eq!(ipxe.boot_file, "http://{http}/boot.ipxe");
        assert_eq!(c.policy().expect("policy"), Policy::default());
    }

    /// A client as the classifier would describe it.
    fn client(mac: [u8; 6], xid: u32, firmware: Firmware, arch: u16) -> ClientInfo {
        ClientInfo {
            mac: MacAddr::from(mac),
            xid,
            family: pxe_dhcp::pxe::Family::V4 { message_type: None },
            firmware,
            archs: vec![Arch(arch)],
            undi: None,
            uuid: None,
            vendor_class: b"PXEClient".to_vec(),
            user_classes: if firmware == Firmware::Ipxe {
                vec![ClientInfo::IPXE_USER_CLASS.to_vec()]
            } else {
                Vec::new()
            },
            ipxe: None,
        }
    }

    #[test]
    fn uefi_shim_switch_and_rule_choose_the_signed_chain() {
        let server = Ipv4Addr::new(192, 0, 2, 1);
        let sb_pc = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        let other = [0x52, 0x54, 0x00, 0x65, 0x43, 0x21];
        let global: DhcpConfig =
            toml::from_str("mode = \"proxy\"\nuefi = \"shim\"\n").expect("parse");
        let d = global
            .policy()
            .expect("policy")
            .decide(&client(other, 1, Firmware::PxeRom, 7), server)
            .expect("a boot file");
        assert_eq!(d.boot_file, "shimx64.efi", "{}", d.reason);
        let files: Vec<String> = boot_files(&global, None)
            .expect("files")
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        for f in ["shimx64.efi", "grubx64.efi", "grub/grub.cfg"] {
            assert!(files.iter().any(|g| g == f), "{f} in {files:?}");
        }
        assert!(!files.iter().any(|g| g == "ipxe.efi"), "{files:?}");
        let per_rule: DhcpConfig = toml::from_str(
            r#"
            mode = "proxy"
            [[rules]]
            name = "sb-pc"
            uefi = "shim"
            match = { mac = { address = "52:54:00:12:34:56" } }
            "#,
        )
        .expect("parse");
        let policy = per_rule.policy().expect("policy");
        let decide = |mac, arch| {
            policy
                .decide(&client(mac, 1, Firmware::PxeRom, arch), server)
                .expect("a boot file")
        };
        assert_eq!(decide(sb_pc, 7).boot_file, "shimx64.efi");
        assert_eq!(decide(sb_pc, 0).boot_file, "undionly.kpxe");
        let d = decide(other, 7);
        assert_eq!(d.boot_file, "ipxe.efi");
        assert!(d.reason.contains("Secure Boot"), "{}", d.reason);
        let neither: DhcpConfig =
            toml::from_str("mode = \"proxy\"\n[[rules]]\nname = \"x\"\n").expect("parse");
        let e = neither.policy().expect_err("a rule that boots nothing");
        assert!(e.to_string().contains("no boot_file"), "{e}");
    }

    #[test]
    fn clients_the_configured_rules_miss_still_get_the_default_boot_file() {
        let server = Ipv4Addr::new(192, 0, 2, 1);
        let lab_pc = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        let other = [0x52, 0x54, 0x00, 0x65, 0x43, 0x21];
        let c: DhcpConfig = toml::from_str(LAB_PC).expect("parse");
        let policy = c.policy().expect("policy");
        let decide = |mac, firmware, arch| {
            policy
                .decide(&client(mac, 1, firmware, arch), server)
                .expect("a boot file")
        };
        let d = decide(lab_pc, Firmware::PxeRom, 0);
        assert_eq!((d.boot_file.as_str(), d.rule_index), ("lab/pxelinux.0", 0));
        let d = decide(other, Firmware::PxeRom, 0);
        assert_eq!(d.boot_file, "undionly.kpxe", "{}", d.reason);
        assert!(d.reason.ends_with("by rule 2 (pxe-bios)"), "{}", d.reason);
        let d = decide(other, Firmware::PxeRom, 7);
        assert_eq!(d.boot_file, "ipxe.efi", "{}", d.reason);
        let off = DhcpConfig {
            default_rules: false,
            ..c.clone()
        };
        let only = off.policy().expect("policy");
        assert!(
            only.decide(&client(other, 1, Firmware::PxeRom, 7), server)
                .is_none()
        );
    }

    #[test]
    fn a_configured_once_rule_falls_through_to_the_default_ipxe_rule() {
        // The loop guard of `pxe_dhcp::policy`: one transaction chains the iPXE ROM, the chained
        // iPXE's next transaction (once rule skipped, as the responders do) ends at pxelinux.0.
        let c: DhcpConfig = toml::from_str(
            r#"
            [[rules]]
            name = "chain-ipxe-rom"
            once = true
            boot_file = "undionly.kpxe"
            match = { firmware = ["ipxe"], arch = ["bios"] }
            "#,
        )
        .expect("parse");
        let policy = c.policy().expect("policy");
        let server = Ipv4Addr::new(192, 0, 2, 1);
        let rom = client([0x52, 0x54, 0, 0x77, 0, 4], 1, Firmware::Ipxe, 0);
        let first = policy.decide(&rom, server).expect("chain");
        assert_eq!(
            (first.boot_file.as_str(), first.once),
            ("undionly.kpxe", true)
        );
        let chained = ClientInfo { xid: 2, ..rom };
        let next = policy
            .decide_with(&chained, server, |i, r| r.once && i == first.rule_index)
            .expect("next stage");
        assert_eq!(next.boot_file, "pxelinux.0", "{}", next.reason);
        assert_eq!(next.rule_name, "ipxe-bios");
    }
}
