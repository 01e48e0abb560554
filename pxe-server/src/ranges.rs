//! Inclusive address and port ranges, as written in the config file and on the command line
//! (`FIRST,LAST` and `LOW:HIGH`).

use core::fmt;
use core::str::FromStr;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// `--dhcp-range FIRST,LAST`: an inclusive IPv4 address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DhcpRange {
    /// First address of the pool.
    pub first: Ipv4Addr,
    /// Last address of the pool (inclusive).
    pub last: Ipv4Addr,
}

impl FromStr for DhcpRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s.split_once(',').ok_or_else(|| {
            format!("`{s}`: expected FIRST,LAST (e.g. 192.168.1.100,192.168.1.200)")
        })?;
        let first: Ipv4Addr = a.trim().parse().map_err(|e| format!("`{a}`: {e}"))?;
        let last: Ipv4Addr = b.trim().parse().map_err(|e| format!("`{b}`: {e}"))?;
        if u32::from(first) > u32::from(last) {
            return Err(format!("`{s}`: FIRST is after LAST"));
        }
        Ok(Self { first, last })
    }
}

impl TryFrom<String> for DhcpRange {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DhcpRange> for String {
    fn from(r: DhcpRange) -> Self {
        r.to_string()
    }
}

impl fmt::Display for DhcpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.first, self.last)
    }
}

/// An IPv4 network written `ADDRESS/PREFIX` (`10.92.0.0/24`): the address's host bits must
/// be zero, so a typo (`10.92.0.1/24`) is an error rather than a different network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Network {
    /// The network address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0..=32.
    pub prefix: u8,
}

impl Ipv4Network {
    /// The netmask.
    #[must_use]
    pub fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(
            u32::MAX
                .checked_shl(32 - u32::from(self.prefix))
                .unwrap_or(0),
        )
    }

    /// Whether `ip` is inside the network.
    #[must_use]
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = u32::from(self.mask());
        u32::from(ip) & m == u32::from(self.addr)
    }
}

impl FromStr for Ipv4Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: expected ADDRESS/PREFIX (e.g. 10.92.0.0/24)"))?;
        let addr: Ipv4Addr = a.trim().parse().map_err(|e| format!("`{a}`: {e}"))?;
        let prefix: u8 = p
            .trim()
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("`{s}`: the prefix length must be 0 to 32"))?;
        let net = Self { addr, prefix };
        if u32::from(addr) & !u32::from(net.mask()) != 0 {
            let base = Ipv4Addr::from(u32::from(addr) & u32::from(net.mask()));
            return Err(format!(
                "`{s}`: host bits set; the network is {base}/{prefix}"
            ));
        }
        Ok(net)
    }
}

impl TryFrom<String> for Ipv4Network {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Ipv4Network> for String {
    fn from(n: Ipv4Network) -> Self {
        n.to_string()
    }
}

impl fmt::Display for Ipv4Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `--port-range LOW:HIGH`: an inclusive UDP port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortRange {
    /// Lowest port.
    pub low: u16,
    /// Highest port (inclusive).
    pub high: u16,
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}`: expected LOW:HIGH (e.g. 49152:65535)"))?;
        let low: u16 = a.trim().parse().map_err(|e| format!("`{a}`: {e}"))?;
        let high: u16 = b.trim().parse().map_err(|e| format!("`{b}`: {e}"))?;
        if low == 0 || low > high {
            return Err(format!("`{s}`: need 0 < LOW <= HIGH"));
        }
        Ok(Self { low, high })
    }
}

impl TryFrom<String> for PortRange {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PortRange> for String {
    fn from(r: PortRange) -> Self {
        r.to_string()
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.low, self.high)
    }
}
