//! What a request says about the client: firmware kind, architecture, UNDI version, UUID.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use core::net::Ipv6Addr;

use pxe_proto::MacAddr;

use super::{Arch, ArchKind};
use crate::v6::{self, Dhcp6Option, Duid, Envelope};
use crate::wire::{DhcpOption, EncapsulatedOptions, MessageType, NetworkInterface, Repr};

/// The kind of boot firmware behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Firmware {
    /// A PXE 2.1 ROM or UEFI PXE client (option 60 `PXEClient...`, not iPXE).
    #[cfg_attr(feature = "serde", serde(rename = "pxe"))]
    PxeRom,
    /// iPXE (user class `iPXE` or option 175 present), whether a NIC ROM or a chainloaded build.
    #[cfg_attr(feature = "serde", serde(rename = "ipxe"))]
    Ipxe,
    /// UEFI HTTP boot (option 60 `HTTPClient...`).
    #[cfg_attr(feature = "serde", serde(rename = "http-client"))]
    HttpClient,
    /// Anything else: an ordinary DHCP client.
    #[cfg_attr(feature = "serde", serde(rename = "other"))]
    Other,
}

impl Firmware {
    /// A short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Firmware::PxeRom => "PXE ROM",
            Firmware::Ipxe => "iPXE",
            Firmware::HttpClient => "UEFI HTTP boot",
            Firmware::Other => "non-PXE client",
        }
    }
}

/// The IP version a request came over, for rules that apply to one family only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum IpFamily {
    /// DHCP (RFC 2131).
    V4,
    /// DHCPv6 (RFC 8415).
    V6,
}

/// The protocol a request came in and what identifies it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Family {
    /// A DHCPv4 request.
    V4 {
        /// Option 53.
        message_type: Option<MessageType>,
    },
    /// A DHCPv6 request.
    V6 {
        /// The message type.
        message_type: v6::MessageType,
        /// The Client Identifier (absent only in malformed requests, which responders drop).
        duid: Option<Duid>,
    },
}

/// UNDI version from option 94 or the `UNDI:` field of option 60 (e.g. 3.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UndiVersion {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

/// Everything the boot policy may look at, taken from one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client hardware address (`chaddr`).
    pub mac: MacAddr,
    /// Transaction id (DHCPv6: the 24-bit transaction-id).
    pub xid: u32,
    /// The protocol, with its message type and (DHCPv6) the client's DUID.
    pub family: Family,
    /// The classification.
    pub firmware: Firmware,
    /// Architectures from option 93 (DHCPv6: 61) in client order; if absent, the `Arch:` field
    /// of the vendor class.
    pub archs: Vec<Arch>,
    /// UNDI version (option 94, DHCPv6 62, else the vendor class).
    pub undi: Option<UndiVersion>,
    /// UUID from option 97, when it has the RFC 4578 form (DHCPv6: a DUID-UUID).
    pub uuid: Option<[u8; 16]>,
    /// Option 60 bytes (DHCPv6: the first item of option 16; empty when absent).
    pub vendor_class: Vec<u8>,
    /// Option 77 classes, either encoding (DHCPv6: option 15).
    pub user_classes: Vec<Vec<u8>>,
    /// Option 175, when present.
    pub ipxe: Option<EncapsulatedOptions>,
}

/// The `Arch:xxxxx` and `UNDI:yyyzzz` fields of `PXEClient:Arch:00007:UNDI:003000`.
fn parse_vendor_class(vc: &[u8]) -> (Option<Arch>, Option<UndiVersion>) {
    let mut arch = None;
    let mut undi = None;
    let mut parts = vc.split(|&b| b == b':');
    while let Some(key) = parts.next() {
        let Some(value) = parts.clone().next() else {
            break;
        };
        let num = core::str::from_utf8(value).ok();
        match key {
            b"Arch" => {
                arch = num.and_then(|s| s.parse::<u16>().ok()).map(Arch);
                parts.next();
            }
            b"UNDI" if value.len() == 6 => {
                let major = core::str::from_utf8(&value[..3])
                    .ok()
                    .and_then(|s| s.parse().ok());
                let minor = core::str::from_utf8(&value[3..])
                    .ok()
                    .and_then(|s| s.parse().ok());
                if let (Some(major), Some(minor)) = (major, minor) {
                    undi = Some(UndiVersion { major, minor });
                }
                parts.next();
            }
            _ => {}
        }
    }
    (arch, undi)
}

impl ClientInfo {
    /// The user class iPXE sends by default.
    pub const IPXE_USER_CLASS: &'static [u8] = b"iPXE";

    /// Classifies a request.
    pub fn from_repr(req: &Repr) -> ClientInfo {
        let mut info = ClientInfo {
            mac: req.client_mac(),
            xid: req.xid,
            family: Family::V4 {
                message_type: req.message_type(),
            },
            firmware: Firmware::Other,
            archs: Vec::new(),
            undi: None,
            uuid: None,
            vendor_class: Vec::new(),
            user_classes: Vec::new(),
            ipxe: None,
        };
        let mut vc_arch = None;
        for o in &req.options {
            match o {
                DhcpOption::VendorClassIdentifier(vc) => {
                    info.vendor_class.clone_from(vc);
                    let (a, u) = parse_vendor_class(vc);
                    vc_arch = a;
                    info.undi = info.undi.or(u);
                }
                DhcpOption::ClientSystemArchitecture(a) => info.archs.clone_from(a),
                DhcpOption::ClientNetworkInterface(n) => {
                    info.undi = Some(UndiVersion {
                        major: n.major,
                        minor: n.minor,
                    });
                }
                DhcpOption::ClientMachineIdentifier(m) => info.uuid = m.uuid(),
                DhcpOption::UserClass(u) => {
                    info.user_classes = u.classes().map(<[u8]>::to_vec).collect();
                }
                DhcpOption::IpxeEncapsulated(e) => info.ipxe = Some(e.clone()),
                _ => {}
            }
        }
        info.finish(vc_arch);
        info
    }

    /// Classifies a DHCPv6 request (RFC 5970 §3: options 15, 16, 61, 62). `source` is the
    /// address the datagram came from; the client's MAC comes from a DUID-LL(T), else a relay's
    /// option 79 (RFC 6939), else the EUI-64 interface identifier of the client's link-local
    /// address (RFC 4291 appendix A), else it is all zeros.
    pub fn from_v6(env: &Envelope, source: Ipv6Addr) -> ClientInfo {
        let msg = &env.message;
        let duid = msg.client_id().cloned();
        let relayed_mac = env.relays.last().and_then(|r| {
            r.options.iter().find_map(|o| match o {
                Dhcp6Option::ClientLinkLayerAddress(l) if l.hw_type == v6::duid::HW_ETHERNET => {
                    MacAddr::from_bytes(&l.address).ok()
                }
                _ => None,
            })
        });
        let peer = env.relays.last().map_or(source, |r| r.peer_address);
        let mac = duid
            .as_ref()
            .and_then(Duid::mac)
            .or(relayed_mac)
            .or_else(|| eui64_mac(peer))
            .unwrap_or_default();
        let mut info = ClientInfo {
            mac,
            xid: msg.transaction_id,
            uuid: duid.as_ref().and_then(Duid::uuid),
            family: Family::V6 {
                message_type: msg.msg_type,
                duid,
            },
            firmware: Firmware::Other,
            archs: Vec::new(),
            undi: None,
            vendor_class: Vec::new(),
            user_classes: Vec::new(),
            ipxe: None,
        };
        let mut vc_arch = None;
        for o in &msg.options {
            match o {
                Dhcp6Option::VendorClass(vc) => {
                    if let Some(first) = vc.data.first() {
                        info.vendor_class.clone_from(first);
                        let (a, u) = parse_vendor_class(first);
                        vc_arch = a;
                        info.undi = info.undi.or(u);
                    }
                }
                Dhcp6Option::ClientArchType(a) => info.archs.clone_from(a),
                Dhcp6Option::Nii(NetworkInterface { major, minor, .. }) => {
                    info.undi = Some(UndiVersion {
                        major: *major,
                        minor: *minor,
                    });
                }
                Dhcp6Option::UserClass(u) => info.user_classes.clone_from(u),
                _ => {}
            }
        }
        info.finish(vc_arch);
        info
    }

    /// The arch fallback and the firmware kind, once the options are read.
    fn finish(&mut self, vc_arch: Option<Arch>) {
        let info = self;
        if info.archs.is_empty() {
            info.archs.extend(vc_arch);
        }
        info.firmware = if info.vendor_class.starts_with(b"HTTPClient") {
            Firmware::HttpClient
        } else if info.has_user_class(Self::IPXE_USER_CLASS) || info.ipxe.is_some() {
            Firmware::Ipxe
        } else if info.vendor_class.starts_with(b"PXEClient") {
            Firmware::PxeRom
        } else {
            Firmware::Other
        };
    }

    /// The IP version of the request.
    pub fn ip_family(&self) -> IpFamily {
        match self.family {
            Family::V4 { .. } => IpFamily::V4,
            Family::V6 { .. } => IpFamily::V6,
        }
    }

    /// Whether any user class equals `class`.
    pub fn has_user_class(&self, class: &[u8]) -> bool {
        self.user_classes.iter().any(|c| c == class)
    }

    /// Whether this is a network-boot client (PXE ROM, iPXE or HTTP boot).
    pub fn is_netboot(&self) -> bool {
        self.firmware != Firmware::Other
    }

    /// The client's preferred architecture (the first of option 93).
    pub fn arch(&self) -> Option<Arch> {
        self.archs.first().copied()
    }

    /// The broad class of the preferred architecture.
    pub fn arch_kind(&self) -> Option<ArchKind> {
        self.arch().map(Arch::kind)
    }

    /// Whether the client runs UEFI (by its preferred architecture).
    pub fn is_uefi(&self) -> bool {
        self.arch_kind().is_some_and(ArchKind::is_uefi)
    }

    /// One line for logs: `52:54:00:12:34:56 arch 7 = x64 UEFI, PXE ROM (UNDI 3.0), no iPXE
    /// user class`.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = write!(s, "{self}");
        s
    }
}

/// The MAC inside a link-local address with a modified EUI-64 interface identifier
/// (`fe80::5054:ff:fe12:3456` → `52:54:00:12:34:56`, RFC 4291 appendix A).
fn eui64_mac(addr: Ipv6Addr) -> Option<MacAddr> {
    let o = addr.octets();
    let link_local = o[0] == 0xfe && o[1] & 0xc0 == 0x80;
    (link_local && o[11] == 0xff && o[12] == 0xfe)
        .then(|| MacAddr([o[8] ^ 0x02, o[9], o[10], o[13], o[14], o[15]]))
}

/// The decision-log form, the same for both families: MAC, then (DHCPv6) the DUID, then
/// architecture, firmware and classes.
impl fmt::Display for ClientInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.family {
            Family::V6 {
                duid: Some(duid), ..
            } if self.mac == MacAddr::default() => write!(f, "DUID {duid} ")?,
            Family::V6 {
                duid: Some(duid), ..
            } => write!(f, "{} DUID {duid} ", self.mac)?,
            _ => write!(f, "{} ", self.mac)?,
        }
        match self.arch() {
            Some(a) => write!(f, "arch {a}")?,
            None => f.write_str("arch unknown")?,
        }
        write!(f, ", {}", self.firmware.name())?;
        if let Some(u) = self.undi {
            write!(f, " (UNDI {}.{})", u.major, u.minor)?;
        }
        let ipxe_class = self.has_user_class(Self::IPXE_USER_CLASS);
        match self.firmware {
            Firmware::Ipxe => match (ipxe_class, self.ipxe.is_some()) {
                (true, true) => f.write_str(", user class iPXE + option 175")?,
                (true, false) => f.write_str(", user class iPXE")?,
                _ => f.write_str(", option 175")?,
            },
            Firmware::PxeRom | Firmware::HttpClient => f.write_str(", no iPXE user class")?,
            Firmware::Other => {}
        }
        for c in self
            .user_classes
            .iter()
            .filter(|c| c.as_slice() != Self::IPXE_USER_CLASS)
        {
            f.write_str(", user class ")?;
            for ch in c.iter().flat_map(|b| core::ascii::escape_default(*b)) {
                f.write_char(char::from(ch))?;
            }
        }
        Ok(())
    }
}
