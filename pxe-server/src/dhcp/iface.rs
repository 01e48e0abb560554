//! IPv4 interface discovery: the address and subnet `--interface IFACE` stands for.

use std::net::Ipv4Addr;

use nix::ifaddrs::getifaddrs;
use nix::net::if_::{InterfaceFlags, if_nametoindex};

/// One IPv4 address on one network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Kernel name (`eth0`, `br0`).
    pub name: String,
    /// Kernel index, as `IP_PKTINFO` reports it.
    pub index: u32,
    /// The interface's (first) IPv4 address: the server address clients are told about.
    pub addr: Ipv4Addr,
    /// Prefix length of the subnet (`24` for a /24).
    pub prefix: u8,
}

/// Why an interface cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IfaceError {
    /// No interface has this name.
    #[error("no network interface named {name:?} (see `ip -br addr`)")]
    NoSuchInterface {
        /// The name asked for.
        name: String,
    },
    /// The interface exists but has no IPv4 address.
    #[error(
        "interface {name:?} has no IPv4 address; give it one (`ip addr add ADDR/PREFIX dev {name}`)"
    )]
    NoIpv4 {
        /// The interface name.
        name: String,
    },
    /// The system call listing interfaces failed.
    #[error("listing network interfaces: {0}")]
    Sys(#[from] nix::Error),
}

impl Interface {
    /// The interface called `name` with its first IPv4 address.
    pub fn by_name(name: &str) -> Result<Interface, IfaceError> {
        let index = if_nametoindex(name).map_err(|_| IfaceError::NoSuchInterface {
            name: name.to_owned(),
        })?;
        all()?
            .into_iter()
            .find(|i| i.index == index)
            .ok_or_else(|| IfaceError::NoIpv4 {
                name: name.to_owned(),
            })
    }

    /// The netmask as an address (`255.255.255.0` for a /24).
    pub fn netmask(&self) -> Ipv4Addr {
        prefix_to_mask(self.prefix)
    }

    /// The subnet's network address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & u32::from(self.netmask()))
    }

    /// Whether `ip` lies in this interface's subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = u32::from(self.netmask());
        u32::from(ip) & m == u32::from(self.addr) & m
    }
}

/// Every IPv4 address on every interface that is up, first address per interface first.
pub fn all() -> Result<Vec<Interface>, IfaceError> {
    let mut out = Vec::new();
    for ifa in getifaddrs()? {
        if !ifa.flags.contains(InterfaceFlags::IFF_UP) {
            continue;
        }
        let Some(addr) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) else {
            continue;
        };
        let prefix = ifa
            .netmask
            .as_ref()
            .and_then(|m| m.as_sockaddr_in())
            .map_or(32, |m| mask_to_prefix(m.ip()));
        let Ok(index) = if_nametoindex(ifa.interface_name.as_str()) else {
            continue;
        };
        out.push(Interface {
            name: ifa.interface_name.clone(),
            index,
            addr: addr.ip(),
            prefix,
        });
    }
    Ok(out)
}

/// The netmask with `prefix` leading one bits (clamped to 32).
pub fn prefix_to_mask(prefix: u8) -> Ipv4Addr {
    let p = u32::from(prefix.min(32));
    Ipv4Addr::from(u32::MAX.checked_shl(32 - p).unwrap_or(0))
}

/// The number of leading one bits of `mask`.
pub fn mask_to_prefix(mask: Ipv4Addr) -> u8 {
    // At most 32, so the cast cannot truncate.
    u32::from(mask).leading_ones() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_prefixes() {
        assert_eq!(prefix_to_mask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(prefix_to_mask(0), Ipv4Addr::UNSPECIFIED);
        assert_eq!(prefix_to_mask(32), Ipv4Addr::BROADCAST);
        assert_eq!(prefix_to_mask(40), Ipv4Addr::BROADCAST);
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 255, 0, 0)), 16);
        let i = Interface {
            name: "x".into(),
            index: 1,
            addr: Ipv4Addr::new(10, 78, 0, 1),
            prefix: 24,
        };
        assert_eq!(i.network(), Ipv4Addr::new(10, 78, 0, 0));
        assert!(i.contains(Ipv4Addr::new(10, 78, 0, 200)));
        assert!(!i.contains(Ipv4Addr::new(10, 78, 1, 1)));
    }

    #[test]
    fn loopback_is_found() {
        let lo = Interface::by_name("lo").expect("lo has 127.0.0.1");
        assert_eq!(lo.addr, Ipv4Addr::LOCALHOST);
        assert_eq!(lo.prefix, 8);
        assert!(matches!(
            Interface::by_name("no-such-if0"),
            Err(IfaceError::NoSuchInterface { .. })
        ));
    }
}
