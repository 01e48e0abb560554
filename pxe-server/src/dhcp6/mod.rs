//! The DHCPv6 driver: socket, interface, clock, lease file and (optionally) router
//! advertisements around `pxe-dhcp`'s DHCPv6 responders (`pxe_dhcp::v6`).
//!
//! - reads the `[dhcp6]` config table ([`Dhcp6Config`]) and `pxe serve --dhcp6`;
//! - finds the interface's global IPv6 address and prefix, link-local address and MAC
//!   ([`net::Interface6`]);
//! - binds UDP 547 on the interface and joins All_DHCP_Relay_Agents_and_Servers (ff02::1:2),
//!   with `IPV6_RECVPKTINFO` so the core knows multicast from unicast (RFC 8415 §16);
//! - persists the stateful server's leases ([`leases::Lease6File`], JSON replaced atomically)
//!   before any reply that depends on them leaves;
//! - with `router_advertisements = true`, sends router advertisements with the M/O flags the
//!   mode needs ([`ra`]).
//!
//! The boot policy is `[dhcp]`'s: the same `[[dhcp.rules]]` and default rules decide for both
//! families, and the decision's log line has the same format.

mod driver;
pub mod leases;
pub mod net;
pub mod ra;

use core::fmt;
use core::str::FromStr;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::dhcp::{DhcpConfig, DhcpContext};
use crate::error::Error;

/// Where `--dhcp6 server` keeps its leases unless told otherwise.
pub const DEFAULT_LEASES6: &str = "/var/lib/pxe/leases6.json";

/// The `[dhcp6]` config table.
///
/// ```toml
/// [dhcp6]
/// mode = "server"                       # off (default) | server | boot-only
/// interface = "eth0"                    # needs a global IPv6 address (prefix from it)
/// range = "2001:db8:77::100,2001:db8:77::1ff"   # server: addresses to lease
/// leases = "/var/lib/pxe/leases6.json"
/// dns = ["2001:db8:77::1"]
/// preferred_lifetime = 3600             # seconds; T1/T2 = 0.5/0.8 of it
/// valid_lifetime = 7200
/// rapid_commit = true                   # server: a Solicit with Rapid Commit binds at once
/// preference = 255                      # option 7 in Advertises (omit in boot-only mode)
/// router_advertisements = false         # send RAs (isolated labs only; M/O flags per mode)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dhcp6Config {
    /// Off unless asked for.
    pub mode: Dhcp6Mode,
    /// The interface; `[dhcp] interface` when unset.
    pub interface: Option<String>,
    /// The address range (server mode).
    pub range: Option<Dhcp6Range>,
    /// The lease file (server mode); default [`DEFAULT_LEASES6`].
    pub leases: Option<PathBuf>,
    /// DNS servers sent to clients that ask (option 23).
    pub dns: Vec<Ipv6Addr>,
    /// Preferred lifetime in seconds (default 3600).
    pub preferred_lifetime: Option<u32>,
    /// Valid lifetime in seconds (default 7200).
    pub valid_lifetime: Option<u32>,
    /// Answer Rapid Commit Solicits with a binding Reply (default `true`).
    pub rapid_commit: bool,
    /// Server preference (option 7) in Advertises.
    pub preference: Option<u8>,
    /// Send router advertisements on the interface (for isolated networks without a router).
    pub router_advertisements: bool,
}

impl Default for Dhcp6Config {
    fn default() -> Self {
        Dhcp6Config {
            mode: Dhcp6Mode::Off,
            interface: None,
            range: None,
            leases: None,
            dns: Vec::new(),
            preferred_lifetime: None,
            valid_lifetime: None,
            rapid_commit: true,
            preference: None,
            router_advertisements: false,
        }
    }
}

/// `--dhcp6 off|server|boot-only`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Dhcp6Mode {
    /// No DHCPv6 (the default).
    #[default]
    Off,
    /// Stateful DHCPv6 server: IA_NA addresses from `range`, and boot options.
    Server,
    /// Boot options only, to PXE/iPXE clients, beside a router or DHCPv6 server that gives
    /// addresses.
    BootOnly,
}

/// `FIRST,LAST`: an inclusive IPv6 address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Dhcp6Range {
    /// First address.
    pub first: Ipv6Addr,
    /// Last address (inclusive).
    pub last: Ipv6Addr,
}

impl FromStr for Dhcp6Range {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s.split_once(',').ok_or_else(|| {
            format!("`{s}`: expected FIRST,LAST (e.g. 2001:db8::100,2001:db8::1ff)")
        })?;
        let first: Ipv6Addr = a.trim().parse().map_err(|e| format!("`{a}`: {e}"))?;
        let last: Ipv6Addr = b.trim().parse().map_err(|e| format!("`{b}`: {e}"))?;
        if first > last {
            return Err(format!("`{s}`: FIRST is after LAST"));
        }
        Ok(Dhcp6Range { first, last })
    }
}

impl TryFrom<String> for Dhcp6Range {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Dhcp6Range> for String {
    fn from(r: Dhcp6Range) -> Self {
        r.to_string()
    }
}

impl fmt::Display for Dhcp6Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.first, self.last)
    }
}

/// An end of the `[dhcp6] range` outside the interface's prefix: the server would lease an
/// address its clients cannot use on the link (RFC 8415 §18.3.3 has it answer such a Confirm
/// NotOnLink), so `pxe serve` refuses to start and `pxe doctor` reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("range {range}: {addr} is not in {interface}'s prefix {prefix}/{prefix_len}")]
pub struct RangeOffLink {
    /// The configured range.
    pub range: Dhcp6Range,
    /// The end of it outside the prefix.
    pub addr: Ipv6Addr,
    /// The interface whose prefix it is.
    pub interface: String,
    /// The interface's global address (the prefix).
    pub prefix: Ipv6Addr,
    /// The prefix length.
    pub prefix_len: u8,
}

impl Dhcp6Range {
    /// The ends of the range outside `prefix/prefix_len` on `interface`, first then last; none
    /// when the range is on the link.
    pub fn off_link(
        self,
        interface: &str,
        prefix: Ipv6Addr,
        prefix_len: u8,
    ) -> impl Iterator<Item = RangeOffLink> + '_ {
        [self.first, self.last]
            .into_iter()
            .filter(move |&a| !pxe_dhcp::v6::prefix_contains(prefix, prefix_len, a))
            .map(move |addr| RangeOffLink {
                range: self,
                addr,
                interface: interface.to_owned(),
                prefix,
                prefix_len,
            })
    }
}

/// DHCPv6 settings given outside the config file (`pxe serve`'s flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Dhcp6Overrides {
    /// Mode.
    pub mode: Option<Dhcp6Mode>,
    /// Interface.
    pub interface: Option<String>,
    /// Address range.
    pub range: Option<Dhcp6Range>,
}

impl Dhcp6Config {
    /// Applies `pxe serve`'s flags over the file's values and checks the result.
    pub fn apply_overrides(&mut self, flags: &Dhcp6Overrides) -> Result<(), Error> {
        if let Some(m) = flags.mode {
            self.mode = m;
        }
        if let Some(i) = &flags.interface {
            self.interface = Some(i.clone());
        }
        if let Some(r) = flags.range {
            self.range = Some(r);
        }
        if self.mode == Dhcp6Mode::Server && self.range.is_none() {
            return Err(Error::Usage(
                "--dhcp6 server needs an address range: --dhcp6-range FIRST,LAST (or [dhcp6] range)".into(),
            ));
        }
        if self.mode != Dhcp6Mode::Server && self.range.is_some() && flags.range.is_some() {
            return Err(Error::Usage(
                "--dhcp6-range needs --dhcp6 server (boot-only mode hands out no addresses)".into(),
            ));
        }
        Ok(())
    }

    /// The interface in effect: `[dhcp6] interface`, else `[dhcp] interface`.
    #[must_use]
    pub fn interface_or<'a>(&'a self, dhcp: &'a DhcpConfig) -> Option<&'a str> {
        self.interface.as_deref().or(dhcp.interface())
    }

    /// The lease file in effect.
    #[must_use]
    pub fn leases_path(&self) -> PathBuf {
        self.leases
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LEASES6))
    }
}

pub use driver::{Bound6, Driver6};

/// Resolves the interface, loads the leases and binds the DHCPv6 sockets (and the RA socket)
/// without a runtime, before the server drops privileges; [`Bound6::start`] then
/// [`Driver6::run`] serve. The boot policy is `dhcp`'s ([`DhcpConfig::policy_with_http`]).
pub fn bind(config: &Dhcp6Config, dhcp: &DhcpConfig, ctx: &DhcpContext) -> Result<Bound6, Error> {
    Driver6::bind(config, dhcp, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_and_flags_win() {
        let mut c: Dhcp6Config = toml::from_str(
            r#"
            mode = "boot-only"
            interface = "eth0"
            dns = ["2001:db8::53"]
            router_advertisements = true
            "#,
        )
        .expect("parse");
        assert_eq!(c.mode, Dhcp6Mode::BootOnly);
        assert!(c.rapid_commit && c.router_advertisements);
        c.apply_overrides(&Dhcp6Overrides::default()).expect("ok");
        let server = Dhcp6Overrides {
            mode: Some(Dhcp6Mode::Server),
            interface: None,
            range: Some("2001:db8::100,2001:db8::1ff".parse().expect("range")),
        };
        c.apply_overrides(&server).expect("apply");
        assert_eq!(c.mode, Dhcp6Mode::Server);
        assert_eq!(c.leases_path(), PathBuf::from(DEFAULT_LEASES6));
        assert!(
            Dhcp6Config::default()
                .apply_overrides(&Dhcp6Overrides {
                    mode: Some(Dhcp6Mode::Server),
                    ..Dhcp6Overrides::default()
                })
                .is_err()
        );
        assert!("2001:db8::2,2001:db8::1".parse::<Dhcp6Range>().is_err());
        assert!(toml::from_str::<Dhcp6Config>("mode = \"proxy\"").is_err());
    }

    #[test]
    fn range_ends_outside_the_prefix_are_named() {
        let prefix: Ipv6Addr = "2001:db8:77::1".parse().expect("addr");
        let inside: Dhcp6Range = "2001:db8:77::100,2001:db8:77::1ff".parse().expect("range");
        assert_eq!(inside.off_link("eth0", prefix, 64).count(), 0);
        let last_out: Dhcp6Range = "2001:db8:77::100,2001:db8:78::1".parse().expect("range");
        let found: Vec<_> = last_out.off_link("eth0", prefix, 64).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].to_string(),
            "range 2001:db8:77::100,2001:db8:78::1: 2001:db8:78::1 is not in eth0's prefix 2001:db8:77::1/64"
        );
        let both_out: Dhcp6Range = "2001:db8:1::1,2001:db8:1::2".parse().expect("range");
        let found: Vec<_> = both_out.off_link("eth0", prefix, 64).collect();
        assert_eq!(
            found.iter().map(|p| p.addr).collect::<Vec<_>>(),
            [both_out.first, both_out.last]
        );
        // A /48 holds both; a /128 only the address itself.
        assert_eq!(last_out.off_link("eth0", prefix, 40).count(), 0);
        assert_eq!(inside.off_link("eth0", prefix, 128).count(), 2);
    }
}
