//! DHCP options: the option table and the typed option values.
//!
//! Every option this crate knows is declared once, in the `option_table!` table at the end of this file (the macro shared with DHCPv6), with its
//! code, its name (as dnsmasq and the RFCs spell it) and the Rust type of its value. The table
//! generates [`OptionCode`] (code ↔ name) and [`DhcpOption`] (typed value, decode and encode).
//! Options not in the table are kept as [`DhcpOption::Unknown`], never dropped.

use alloc::vec::Vec;
use core::net::Ipv4Addr;

use pxe_proto::TlvIter;

use crate::pxe::Arch;

/// The End code, which also closes a PXE sub-option list (RFC 2132 §3.2).
const END: u8 = 255;

/// A typed option value: how it is read from and written to the option's data bytes.
///
/// `decode` sees the whole value (RFC 3396 pieces already concatenated) and returns a short
/// reason on failure; the caller adds the option code and offset.
pub trait OptionValue: Sized {
    /// Reads the value from an option's data bytes.
    fn decode(data: &[u8]) -> Result<Self, &'static str>;
    /// Appends the value's data bytes to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

impl OptionValue for Vec<u8> {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        Ok(data.to_vec())
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl OptionValue for u8 {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        match *data {
            [b] => Ok(b),
            _ => Err("expected 1 byte"),
        }
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
}

impl OptionValue for u16 {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        <[u8; 2]>::try_from(data)
            .map(u16::from_be_bytes)
            .map_err(|_| "expected 2 bytes")
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl OptionValue for u32 {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        <[u8; 4]>::try_from(data)
            .map(u32::from_be_bytes)
            .map_err(|_| "expected 4 bytes")
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl OptionValue for Ipv4Addr {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        <[u8; 4]>::try_from(data)
            .map(Ipv4Addr::from)
            .map_err(|_| "expected a 4-byte IPv4 address")
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.octets());
    }
}

impl OptionValue for Vec<Ipv4Addr> {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        if data.is_empty() || !data.len().is_multiple_of(4) {
            return Err("expected a non-empty list of 4-byte IPv4 addresses");
        }
        Ok(data
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            .collect())
    }
    fn encode(&self, out: &mut Vec<u8>) {
        for a in self {
            out.extend_from_slice(&a.octets());
        }
    }
}

/// Option 93 is a *list* of architecture types (RFC 4578 §2.1).
impl OptionValue for Vec<Arch> {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        if data.is_empty() || !data.len().is_multiple_of(2) {
            return Err("expected a non-empty list of 2-byte architecture types");
        }
        Ok(data
            .chunks_exact(2)
            .map(|c| Arch(u16::from_be_bytes([c[0], c[1]])))
            .collect())
    }
    fn encode(&self, out: &mut Vec<u8>) {
        for a in self {
            out.extend_from_slice(&a.0.to_be_bytes());
        }
    }
}

impl OptionValue for Vec<OptionCode> {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        Ok(data.iter().map(|&c| OptionCode::from(c)).collect())
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.iter().map(|&c| u8::from(c)));
    }
}

/// DHCP message type (option 53, RFC 2132 §9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MessageType {
    /// DHCPDISCOVER (1).
    Discover,
    /// DHCPOFFER (2).
    Offer,
    /// DHCPREQUEST (3).
    Request,
    /// DHCPDECLINE (4).
    Decline,
    /// DHCPACK (5).
    Ack,
    /// DHCPNAK (6).
    Nak,
    /// DHCPRELEASE (7).
    Release,
    /// DHCPINFORM (8).
    Inform,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(v: u8) -> Self {
        match v {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            other => MessageType::Unknown(other),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(m: MessageType) -> u8 {
        match m {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
            MessageType::Unknown(v) => v,
        }
    }
}

impl OptionValue for MessageType {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        u8::decode(data).map(MessageType::from)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

/// One entry of PXE sub-option 8 (boot servers): a server type and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootServer {
    /// Boot server type (0 = Microsoft, 65535 = API test, 32768.. = vendor).
    pub server_type: u16,
    /// The servers' addresses (at most 255).
    pub addresses: Vec<Ipv4Addr>,
}

/// One entry of PXE sub-option 9 (boot menu): a server type and its menu text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    /// Boot server type this item selects.
    pub server_type: u16,
    /// Menu text (at most 255 bytes).
    pub description: Vec<u8>,
}

/// A PXE 2.1 vendor sub-option inside option 43 (PXE spec 2.1, §2.4, table 2-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PxeSubOption {
    /// 6, PXE_DISCOVERY_CONTROL: bit 0 no broadcast discovery, bit 1 no multicast discovery,
    /// bit 2 only servers in sub-option 8, bit 3 "boot file present: download it, skip discovery".
    DiscoveryControl(u8),
    /// 8, PXE_BOOT_SERVERS.
    BootServers(Vec<BootServer>),
    /// 9, PXE_BOOT_MENU (menu order = list order).
    BootMenu(Vec<MenuItem>),
    /// 10, PXE_MENU_PROMPT: seconds to wait (0 = boot first item, 255 = wait) and prompt text.
    MenuPrompt {
        /// Timeout in seconds.
        timeout: u8,
        /// Prompt text.
        prompt: Vec<u8>,
    },
    /// 71, PXE_BOOT_ITEM: the item a client asks a boot server for (bit 15 of `layer` = BIS).
    BootItem {
        /// Boot server type.
        server_type: u16,
        /// Boot layer.
        layer: u16,
    },
    /// Any other sub-option, or a known one whose bytes do not fit its structure (kept as is).
    Other {
        /// Sub-option code.
        code: u8,
        /// Its data.
        data: Vec<u8>,
    },
}

impl PxeSubOption {
    /// The PXE_DISCOVERY_CONTROL bit meaning "use the boot file in this offer, skip discovery".
    pub const USE_BOOT_FILE: u8 = 0b1000;

    /// The sub-option code.
    pub fn code(&self) -> u8 {
        match self {
            PxeSubOption::DiscoveryControl(_) => 6,
            PxeSubOption::BootServers(_) => 8,
            PxeSubOption::BootMenu(_) => 9,
            PxeSubOption::MenuPrompt { .. } => 10,
            PxeSubOption::BootItem { .. } => 71,
            PxeSubOption::Other { code, .. } => *code,
        }
    }

    fn decode(code: u8, data: &[u8]) -> Self {
        Self::decode_typed(code, data).unwrap_or_else(|| PxeSubOption::Other {
            code,
            data: data.to_vec(),
        })
    }

    fn decode_typed(code: u8, data: &[u8]) -> Option<Self> {
        match code {
            6 => u8::decode(data).ok().map(PxeSubOption::DiscoveryControl),
            8 => {
                let mut rest = data;
                let mut out = Vec::new();
                while !rest.is_empty() {
                    let (&[t0, t1, n], tail) = rest.split_first_chunk::<3>()?;
                    let ips = tail.get(..usize::from(n) * 4)?;
                    out.push(BootServer {
                        server_type: u16::from_be_bytes([t0, t1]),
                        addresses: ips
                            .chunks_exact(4)
                            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                            .collect(),
                    });
                    rest = &tail[usize::from(n) * 4..];
                }
                (!out.is_empty()).then_some(PxeSubOption::BootServers(out))
            }
            9 => {
                let mut rest = data;
                let mut out = Vec::new();
                while !rest.is_empty() {
                    let (&[t0, t1, n], tail) = rest.split_first_chunk::<3>()?;
                    let desc = tail.get(..usize::from(n))?;
                    out.push(MenuItem {
                        server_type: u16::from_be_bytes([t0, t1]),
                        description: desc.to_vec(),
                    });
                    rest = &tail[usize::from(n)..];
                }
                (!out.is_empty()).then_some(PxeSubOption::BootMenu(out))
            }
            10 => {
                let (&timeout, prompt) = data.split_first()?;
                Some(PxeSubOption::MenuPrompt {
                    timeout,
                    prompt: prompt.to_vec(),
                })
            }
            71 => {
                let [a, b, c, d] = <[u8; 4]>::try_from(data).ok()?;
                Some(PxeSubOption::BootItem {
                    server_type: u16::from_be_bytes([a, b]),
                    layer: u16::from_be_bytes([c, d]),
                })
            }
            _ => None,
        }
    }

    fn encode_data(&self, out: &mut Vec<u8>) {
        match self {
            PxeSubOption::DiscoveryControl(v) => out.push(*v),
            PxeSubOption::BootServers(list) => {
                for s in list {
                    out.extend_from_slice(&s.server_type.to_be_bytes());
                    let n = s.addresses.len().min(255);
                    out.push(n as u8);
                    for a in &s.addresses[..n] {
                        out.extend_from_slice(&a.octets());
                    }
                }
            }
            PxeSubOption::BootMenu(items) => {
                for i in items {
                    out.extend_from_slice(&i.server_type.to_be_bytes());
                    let n = i.description.len().min(255);
                    out.push(n as u8);
                    out.extend_from_slice(&i.description[..n]);
                }
            }
            PxeSubOption::MenuPrompt { timeout, prompt } => {
                out.push(*timeout);
                out.extend_from_slice(prompt);
            }
            PxeSubOption::BootItem { server_type, layer } => {
                out.extend_from_slice(&server_type.to_be_bytes());
                out.extend_from_slice(&layer.to_be_bytes());
            }
            PxeSubOption::Other { data, .. } => out.extend_from_slice(data),
        }
    }
}

/// Option 43, vendor-specific information (RFC 2132 §8.4). For `PXEClient` it holds PXE 2.1
/// sub-options; bytes that are not a valid sub-option list are kept opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendorOptions {
    /// A PXE sub-option list (written with a trailing End sub-option, as PXE ROMs expect).
    Pxe(Vec<PxeSubOption>),
    /// Anything else, byte for byte.
    Opaque(Vec<u8>),
}

impl VendorOptions {
    /// The PXE sub-options, if this is a sub-option list.
    pub fn sub_options(&self) -> &[PxeSubOption] {
        match self {
            VendorOptions::Pxe(s) => s,
            VendorOptions::Opaque(_) => &[],
        }
    }
}

impl OptionValue for VendorOptions {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        let subs: Result<Vec<_>, _> = TlvIter::new(data)
            .map(|t| t.map(|t| PxeSubOption::decode(t.code, t.value)))
            .collect();
        Ok(match subs {
            Ok(s) => VendorOptions::Pxe(s),
            Err(_) => VendorOptions::Opaque(data.to_vec()),
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            VendorOptions::Pxe(subs) => {
                for s in subs {
                    let start = out.len();
                    out.extend_from_slice(&[s.code(), 0]);
                    s.encode_data(out);
                    let len = (out.len() - start - 2).min(255);
                    out.truncate(start + 2 + len);
                    out[start + 1] = len as u8;
                }
                out.push(END);
            }
            VendorOptions::Opaque(b) => out.extend_from_slice(b),
        }
    }
}

/// Option 77, user class (RFC 3004 §4), in either encoding seen on the wire.
///
/// RFC 3004 frames each class as `[len][bytes]`; iPXE (and dhclient) send one plain string
/// (`iPXE`). The decoder follows dnsmasq's rule: if the length bytes walk exactly to the end of
/// the option, it is RFC 3004; otherwise the whole option is one plain class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserClass {
    /// RFC 3004 list of classes.
    Rfc3004(Vec<Vec<u8>>),
    /// One plain string, as iPXE sends it.
    Plain(Vec<u8>),
}

impl UserClass {
    /// Whether `data` is a valid RFC 3004 framing (non-empty instances ending exactly at the end).
    pub fn is_rfc3004_framing(data: &[u8]) -> bool {
        let mut i = 0usize;
        while i < data.len() {
            let n = usize::from(data[i]);
            if n == 0 {
                return false;
            }
            i += 1 + n;
        }
        i == data.len() && !data.is_empty()
    }

    /// Each class in the option.
    pub fn classes(&self) -> impl Iterator<Item = &[u8]> {
        let (list, one): (&[Vec<u8>], Option<&[u8]>) = match self {
            UserClass::Rfc3004(l) => (l, None),
            UserClass::Plain(p) => (&[], Some(p)),
        };
        list.iter().map(Vec::as_slice).chain(one)
    }

    /// Whether any class equals `class` exactly.
    pub fn contains(&self, class: &[u8]) -> bool {
        self.classes().any(|c| c == class)
    }
}

impl OptionValue for UserClass {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        if !Self::is_rfc3004_framing(data) {
            return Ok(UserClass::Plain(data.to_vec()));
        }
        let mut out = Vec::new();
        let mut rest = data;
        while let Some((&n, tail)) = rest.split_first() {
            let (class, after) = tail.split_at(usize::from(n));
            out.push(class.to_vec());
            rest = after;
        }
        Ok(UserClass::Rfc3004(out))
    }
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            UserClass::Rfc3004(list) => {
                for c in list {
                    let n = c.len().min(255);
                    out.push(n as u8);
                    out.extend_from_slice(&c[..n]);
                }
            }
            UserClass::Plain(p) => out.extend_from_slice(p),
        }
    }
}

/// Option 94, client network interface identifier (RFC 4578 §2.2): type 1 = UNDI, and the UNDI
/// version (e.g. 3.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkInterface {
    /// Interface type (1 = UNDI).
    pub kind: u8,
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl OptionValue for NetworkInterface {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        match *data {
            [kind, major, minor] => Ok(NetworkInterface { kind, major, minor }),
            _ => Err("expected 3 bytes (type, major, minor)"),
        }
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.kind, self.major, self.minor]);
    }
}

/// Option 97, client machine identifier (RFC 4578 §2.3): type 0 and a 16-byte UUID. ROMs that
/// send another length or type are tolerated and their bytes kept for echoing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineId {
    /// Type 0 with a 16-byte UUID (SMBIOS byte order).
    Uuid([u8; 16]),
    /// Anything else, byte for byte.
    Other(Vec<u8>),
}

impl MachineId {
    /// The UUID, if the identifier is one.
    pub fn uuid(&self) -> Option<[u8; 16]> {
        match self {
            MachineId::Uuid(u) => Some(*u),
            MachineId::Other(_) => None,
        }
    }
}

impl OptionValue for MachineId {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        if let Some((&0, rest)) = data.split_first()
            && let Ok(uuid) = <[u8; 16]>::try_from(rest)
        {
            return Ok(MachineId::Uuid(uuid));
        }
        Ok(MachineId::Other(data.to_vec()))
    }
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            MachineId::Uuid(u) => {
                out.push(0);
                out.extend_from_slice(u);
            }
            MachineId::Other(b) => out.extend_from_slice(b),
        }
    }
}

/// One sub-option of an encapsulated option space (option 175, iPXE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubOption {
    /// Sub-option code.
    pub code: u8,
    /// Its data (at most 255 bytes are written).
    pub data: Vec<u8>,
}

/// Option 175, iPXE's encapsulated options: feature flags (e.g. 19 = HTTP, 16 = PXE extensions),
/// 177 bus id, 235 version; settings a server may send back (176 no-pxedhcp, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncapsulatedOptions(pub Vec<SubOption>);

impl EncapsulatedOptions {
    /// The data of the first sub-option `code`.
    pub fn get(&self, code: u8) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|s| s.code == code)
            .map(|s| s.data.as_slice())
    }
}

impl OptionValue for EncapsulatedOptions {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        TlvIter::new(data)
            .map(|t| {
                t.map(|t| SubOption {
                    code: t.code,
                    data: t.value.to_vec(),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(EncapsulatedOptions)
            .map_err(|_| "encapsulated sub-option runs past the end of the option")
    }
    fn encode(&self, out: &mut Vec<u8>) {
        for s in &self.0 {
            let n = s.data.len().min(255);
            out.extend_from_slice(&[s.code, n as u8]);
            out.extend_from_slice(&s.data[..n]);
        }
    }
}

option_table! {
    code: u8,
    option: DhcpOption,
    code_doc: "A DHCP option code, named as in the RFCs (`OptionCode::VendorClassIdentifier` = 60).",
    option_doc: "One DHCP option with its typed value.",
    name_doc: "The option's name (dnsmasq / RFC spelling), or `\"unknown\"`.",
    decode_doc: "Decodes the (already concatenated) data of option `code`.";
    /// Subnet mask (RFC 2132 §3.3).
    1 => SubnetMask(Ipv4Addr), "subnet-mask";
    /// Routers (RFC 2132 §3.5).
    3 => Router(Vec<Ipv4Addr>), "router";
    /// DNS servers (RFC 2132 §3.8).
    6 => DomainNameServer(Vec<Ipv4Addr>), "dns-server";
    /// Host name (RFC 2132 §3.14).
    12 => HostName(Vec<u8>), "hostname";
    /// Domain name (RFC 2132 §3.17).
    15 => DomainName(Vec<u8>), "domain-name";
    /// Broadcast address (RFC 2132 §5.3).
    28 => BroadcastAddress(Ipv4Addr), "broadcast";
    /// Vendor-specific information; PXE sub-options for `PXEClient` (RFC 2132 §8.4, PXE 2.1).
    43 => VendorSpecific(VendorOptions), "vendor-encap";
    /// Requested IP address (RFC 2132 §9.1).
    50 => RequestedIpAddress(Ipv4Addr), "requested-address";
    /// IP address lease time in seconds (RFC 2132 §9.2).
    51 => IpAddressLeaseTime(u32), "lease-time";
    /// Option overload: 1 = `file`, 2 = `sname`, 3 = both hold options (RFC 2132 §9.3). Applied
    /// and removed by [`Repr::parse`](crate::wire::Repr::parse); never written.
    52 => OptionOverload(u8), "option-overload";
    /// DHCP message type (RFC 2132 §9.6).
    53 => MessageType(MessageType), "message-type";
    /// Server identifier (RFC 2132 §9.7).
    54 => ServerIdentifier(Ipv4Addr), "server-identifier";
    /// Parameter request list (RFC 2132 §9.8).
    55 => ParameterRequestList(Vec<OptionCode>), "parameter-request";
    /// Message, e.g. why a DHCPNAK (RFC 2132 §9.9).
    56 => Message(Vec<u8>), "message";
    /// Maximum DHCP message size, counting IP and UDP headers (RFC 2132 §9.10).
    57 => MaximumMessageSize(u16), "max-message-size";
    /// Renewal (T1) time in seconds (RFC 2132 §9.11).
    58 => RenewalTime(u32), "T1";
    /// Rebinding (T2) time in seconds (RFC 2132 §9.12).
    59 => RebindingTime(u32), "T2";
    /// Vendor class identifier: `PXEClient:Arch:00007:UNDI:003000`, `HTTPClient...` (RFC 2132 §9.13).
    60 => VendorClassIdentifier(Vec<u8>), "vendor-class";
    /// Client identifier (RFC 2132 §9.14).
    61 => ClientIdentifier(Vec<u8>), "client-id";
    /// TFTP server name (RFC 2132 §9.4).
    66 => TftpServerName(Vec<u8>), "tftp-server";
    /// Boot file name (RFC 2132 §9.5).
    67 => BootfileName(Vec<u8>), "bootfile-name";
    /// User class, RFC 3004 or plain (RFC 3004 §4).
    77 => UserClass(UserClass), "user-class";
    /// Relay agent information, kept opaque and echoed (RFC 3046 §2.2).
    82 => RelayAgentInformation(Vec<u8>), "agent-id";
    /// Client system architecture list (RFC 4578 §2.1).
    93 => ClientSystemArchitecture(Vec<Arch>), "client-arch";
    /// Client network interface identifier (RFC 4578 §2.2).
    94 => ClientNetworkInterface(NetworkInterface), "client-interface-id";
    /// Client machine identifier / UUID (RFC 4578 §2.3).
    97 => ClientMachineIdentifier(MachineId), "client-machine-id";
    /// iPXE encapsulated options (iPXE `DHCP_EB_ENCAP`).
    175 => IpxeEncapsulated(EncapsulatedOptions), "ipxe-encap";
    /// PXELINUX configuration file (RFC 5071 §5.2).
    209 => PxelinuxConfigFile(Vec<u8>), "pxelinux-configfile";
    /// PXELINUX path prefix (RFC 5071 §5.3).
    210 => PxelinuxPathPrefix(Vec<u8>), "pxelinux-pathprefix";
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn encoded(o: &DhcpOption) -> Vec<u8> {
        let mut v = Vec::new();
        o.encode_value(&mut v);
        v
    }

    #[test]
    fn codes_and_names() {
        assert_eq!(OptionCode::from(60), OptionCode::VendorClassIdentifier);
        assert_eq!(OptionCode::VendorClassIdentifier.name(), "vendor-class");
        assert_eq!(u8::from(OptionCode::Unknown(200)), 200);
        assert_eq!(OptionCode::from(200).name(), "unknown");
    }

    #[test]
    fn user_class_both_encodings() {
        let ipxe = DhcpOption::decode(77, b"iPXE").unwrap();
        assert_eq!(
            ipxe,
            DhcpOption::UserClass(UserClass::Plain(b"iPXE".to_vec()))
        );
        let rfc = DhcpOption::decode(77, b"\x04iPXE\x03abc").unwrap();
        let DhcpOption::UserClass(uc) = &rfc else {
            panic!()
        };
        assert!(uc.contains(b"iPXE") && uc.contains(b"abc"));
        assert_eq!(encoded(&rfc), b"\x04iPXE\x03abc");
    }

    #[test]
    fn arch_is_a_list_and_lengths_are_checked() {
        assert_eq!(
            DhcpOption::decode(93, &[0, 7, 0, 9]).unwrap(),
            DhcpOption::ClientSystemArchitecture(vec![Arch(7), Arch(9)])
        );
        assert!(DhcpOption::decode(93, &[0, 7, 0]).is_err());
        assert!(DhcpOption::decode(54, &[1, 2, 3]).is_err());
        assert!(DhcpOption::decode(94, &[1, 2]).is_err());
    }

    #[test]
    fn machine_id_tolerates_wrong_lengths() {
        let mut uuid = vec![0u8];
        uuid.extend(1..=16);
        assert!(matches!(
            DhcpOption::decode(97, &uuid).unwrap(),
            DhcpOption::ClientMachineIdentifier(MachineId::Uuid(_))
        ));
        let odd = DhcpOption::decode(97, &[0, 1, 2]).unwrap();
        assert_eq!(encoded(&odd), [0, 1, 2]);
        let long = DhcpOption::decode(97, &[7; 40]).unwrap();
        assert_eq!(encoded(&long).len(), 40);
    }

    #[test]
    fn pxe_vendor_options() {
        let v = DhcpOption::decode(43, &[6, 1, 8, 71, 4, 0x80, 0, 0, 1, 255]).unwrap();
        assert_eq!(
            v,
            DhcpOption::VendorSpecific(VendorOptions::Pxe(vec![
                PxeSubOption::DiscoveryControl(8),
                PxeSubOption::BootItem {
                    server_type: 0x8000,
                    layer: 1
                }
            ]))
        );
        assert_eq!(encoded(&v), [6, 1, 8, 71, 4, 0x80, 0, 0, 1, 255]);
        assert_eq!(
            DhcpOption::decode(43, &[9, 40, 1]).unwrap(),
            DhcpOption::VendorSpecific(VendorOptions::Opaque(vec![9, 40, 1]))
        );
    }
}
