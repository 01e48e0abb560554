//! DHCPv6 options (RFC 8415 §21, RFC 5970 §3, RFC 6939 §4): the option table and typed values.
//!
//! Every option this crate knows is declared once, in the `option_table!` table below (the macro shared with DHCPv4, `crate::option_table`), with its
//! code, its name (as dnsmasq and Kea spell it) and the Rust type of its value, read and written
//! through [`OptionValue`]. Options not in the table are kept as [`Dhcp6Option::Unknown`].
//!
//! Options that hold options (IA_NA, IAADDR) are typed one level deep with fixed shapes
//! ([`IaNa`], [`IaAddress`]): the parser never recurses on attacker-chosen nesting. The one
//! option that holds a whole message, Relay Message (9), stays bytes here; [`super::relay`]
//! unwraps relay chains iteratively, with a depth limit.

use alloc::vec::Vec;
use core::net::Ipv6Addr;

use super::duid::Duid;
use crate::Error;
use crate::pxe::Arch;
use crate::wire::{NetworkInterface, OptionValue};

/// Option header: 2-byte code, 2-byte length (RFC 8415 §21.1).
pub const OPTION_HEADER_LEN: usize = 4;

/// The PXE vendor-class enterprise number (RFC 5970 §3.1 examples; dnsmasq and EDK2 send 343,
/// Intel's, with `PXEClient:Arch:xxxxx:UNDI:yyyzzz`).
pub const PXE_ENTERPRISE: u32 = 343;

impl OptionValue for Duid {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        Duid::decode(data)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        Duid::encode(self, out);
    }
}

/// Rapid Commit (14) and other flag options carry no data (RFC 8415 §21.14).
impl OptionValue for () {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        if data.is_empty() {
            Ok(())
        } else {
            Err("expected no data")
        }
    }
    fn encode(&self, _out: &mut Vec<u8>) {}
}

/// A list of 2-byte-length-prefixed opaque items: user class data (RFC 8415 §21.15), boot-file
/// parameters (RFC 5970 §3.2).
impl OptionValue for Vec<Vec<u8>> {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        opaque_list(data)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_opaque_list(self, out);
    }
}

fn opaque_list(mut data: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let mut items = Vec::new();
    while !data.is_empty() {
        let [a, b, rest @ ..] = data else {
            return Err("an item's 2-byte length is cut off");
        };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if rest.len() < len {
            return Err("an item runs past the end of the option");
        }
        items.push(rest[..len].to_vec());
        data = &rest[len..];
    }
    Ok(items)
}

fn put_opaque_list(items: &[Vec<u8>], out: &mut Vec<u8>) {
    for item in items {
        // Longer items cannot be expressed; `Dhcp6Option::encoded_len` reports them first.
        let len = u16::try_from(item.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&item[..usize::from(len)]);
    }
}

impl OptionValue for Vec<Ipv6Addr> {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        if !data.len().is_multiple_of(16) {
            return Err("expected a list of 16-byte IPv6 addresses");
        }
        Ok(data
            .chunks_exact(16)
            .map(|c| {
                let mut a = [0u8; 16];
                a.copy_from_slice(c);
                Ipv6Addr::from(a)
            })
            .collect())
    }
    fn encode(&self, out: &mut Vec<u8>) {
        for a in self {
            out.extend_from_slice(&a.octets());
        }
    }
}

impl OptionValue for Vec<OptionCode> {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        if !data.len().is_multiple_of(2) {
            return Err("expected a list of 2-byte option codes");
        }
        Ok(data
            .chunks_exact(2)
            .map(|c| OptionCode::from(u16::from_be_bytes([c[0], c[1]])))
            .collect())
    }
    fn encode(&self, out: &mut Vec<u8>) {
        for c in self {
            out.extend_from_slice(&u16::from(*c).to_be_bytes());
        }
    }
}

/// A status code (RFC 8415 §21.13, values from §21.13 and the IANA registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 0: success.
    Success,
    /// 1: failure, reason unspecified.
    UnspecFail,
    /// 2: no addresses available to assign to the IA(s).
    NoAddrsAvail,
    /// 3: client record (binding) unavailable.
    NoBinding,
    /// 4: the prefix for the address is not appropriate for the link.
    NotOnLink,
    /// 5: the client must use the All_DHCP_Relay_Agents_and_Servers address.
    UseMulticast,
    /// 6: no prefixes available (prefix delegation).
    NoPrefixAvail,
    /// Any other value.
    Other(u16),
}

impl From<u16> for Status {
    fn from(v: u16) -> Status {
        match v {
            0 => Status::Success,
            1 => Status::UnspecFail,
            2 => Status::NoAddrsAvail,
            3 => Status::NoBinding,
            4 => Status::NotOnLink,
            5 => Status::UseMulticast,
            6 => Status::NoPrefixAvail,
            other => Status::Other(other),
        }
    }
}

impl From<Status> for u16 {
    fn from(s: Status) -> u16 {
        match s {
            Status::Success => 0,
            Status::UnspecFail => 1,
            Status::NoAddrsAvail => 2,
            Status::NoBinding => 3,
            Status::NotOnLink => 4,
            Status::UseMulticast => 5,
            Status::NoPrefixAvail => 6,
            Status::Other(v) => v,
        }
    }
}

/// Option 13, Status Code (RFC 8415 §21.13): a code and a UTF-8 message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCode {
    /// The code.
    pub status: Status,
    /// The message, as sent (UTF-8 per the RFC; not checked, so any bytes round-trip).
    pub message: Vec<u8>,
}

impl StatusCode {
    /// A status with a message.
    pub fn new(status: Status, message: &str) -> StatusCode {
        StatusCode {
            status,
            message: message.as_bytes().to_vec(),
        }
    }
}

impl OptionValue for StatusCode {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        let [a, b, message @ ..] = data else {
            return Err("expected a 2-byte status code");
        };
        Ok(StatusCode {
            status: Status::from(u16::from_be_bytes([*a, *b])),
            message: message.to_vec(),
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&u16::from(self.status).to_be_bytes());
        out.extend_from_slice(&self.message);
    }
}

/// An option kept as code and bytes inside an IA_NA or IAADDR (an unknown one, or a second
/// Status Code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOption {
    /// The option code.
    pub code: u16,
    /// The option's data.
    pub data: Vec<u8>,
}

/// Splits an encapsulated option area into `(code, data)` pairs (RFC 8415 §21.1 format).
fn sub_options(mut area: &[u8]) -> Result<Vec<(u16, &[u8])>, &'static str> {
    let mut out = Vec::new();
    while !area.is_empty() {
        let [c0, c1, l0, l1, rest @ ..] = area else {
            return Err("an encapsulated option header is cut off");
        };
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        if rest.len() < len {
            return Err("an encapsulated option runs past the end of its container");
        }
        out.push((u16::from_be_bytes([*c0, *c1]), &rest[..len]));
        area = &rest[len..];
    }
    Ok(out)
}

fn put_sub_option(out: &mut Vec<u8>, code: u16, data: &[u8]) {
    out.extend_from_slice(&code.to_be_bytes());
    let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&data[..usize::from(len)]);
}

/// Splits IA/IAADDR sub-options into the first status code and the rest.
fn status_and_rest(
    subs: impl Iterator<Item = (u16, Vec<u8>)>,
    status: &mut Option<StatusCode>,
    other: &mut Vec<RawOption>,
) -> Result<(), &'static str> {
    for (code, data) in subs {
        if code == STATUS_CODE && status.is_none() {
            *status = Some(StatusCode::decode(&data)?);
        } else {
            other.push(RawOption { code, data });
        }
    }
    Ok(())
}

const IA_ADDR: u16 = 5;
const STATUS_CODE: u16 = 13;

/// Option 5, IA Address (RFC 8415 §21.6): an address with its lifetimes, inside an IA_NA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IaAddress {
    /// The address.
    pub address: Ipv6Addr,
    /// Preferred lifetime in seconds.
    pub preferred: u32,
    /// Valid lifetime in seconds.
    pub valid: u32,
    /// Its first Status Code option.
    pub status: Option<StatusCode>,
    /// Its other options (never code 13 before a status is set).
    pub other: Vec<RawOption>,
}

impl IaAddress {
    /// An address with lifetimes and no options.
    pub fn new(address: Ipv6Addr, preferred: u32, valid: u32) -> IaAddress {
        IaAddress {
            address,
            preferred,
            valid,
            status: None,
            other: Vec::new(),
        }
    }
}

impl OptionValue for IaAddress {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        if data.len() < 24 {
            return Err("expected at least 24 bytes (address, preferred and valid lifetimes)");
        }
        let mut a = [0u8; 16];
        a.copy_from_slice(&data[..16]);
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let mut addr = IaAddress::new(Ipv6Addr::from(a), be32(&data[16..]), be32(&data[20..]));
        let subs = sub_options(&data[24..])?;
        status_and_rest(
            subs.into_iter().map(|(c, d)| (c, d.to_vec())),
            &mut addr.status,
            &mut addr.other,
        )?;
        Ok(addr)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.address.octets());
        out.extend_from_slice(&self.preferred.to_be_bytes());
        out.extend_from_slice(&self.valid.to_be_bytes());
        if let Some(s) = &self.status {
            let mut d = Vec::new();
            s.encode(&mut d);
            put_sub_option(out, STATUS_CODE, &d);
        }
        for o in &self.other {
            put_sub_option(out, o.code, &o.data);
        }
    }
}

/// Option 3, Identity Association for Non-temporary Addresses (RFC 8415 §21.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IaNa {
    /// The client's identifier for this IA.
    pub iaid: u32,
    /// T1: when the client should Renew, in seconds (0 = the client decides).
    pub t1: u32,
    /// T2: when the client should Rebind, in seconds.
    pub t2: u32,
    /// Its IA Address options, in order.
    pub addresses: Vec<IaAddress>,
    /// Its first Status Code option.
    pub status: Option<StatusCode>,
    /// Its other options (never code 5; code 13 only after a status).
    pub other: Vec<RawOption>,
}

impl IaNa {
    /// An IA_NA with no options.
    pub fn new(iaid: u32, t1: u32, t2: u32) -> IaNa {
        IaNa {
            iaid,
            t1,
            t2,
            addresses: Vec::new(),
            status: None,
            other: Vec::new(),
        }
    }
}

impl OptionValue for IaNa {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        if data.len() < 12 {
            return Err("expected at least 12 bytes (IAID, T1, T2)");
        }
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let mut ia = IaNa::new(be32(data), be32(&data[4..]), be32(&data[8..]));
        let mut rest = Vec::new();
        for (code, d) in sub_options(&data[12..])? {
            if code == IA_ADDR {
                ia.addresses.push(IaAddress::decode(d)?);
            } else {
                rest.push((code, d.to_vec()));
            }
        }
        status_and_rest(rest.into_iter(), &mut ia.status, &mut ia.other)?;
        Ok(ia)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.iaid.to_be_bytes());
        out.extend_from_slice(&self.t1.to_be_bytes());
        out.extend_from_slice(&self.t2.to_be_bytes());
        for a in &self.addresses {
            let mut d = Vec::new();
            a.encode(&mut d);
            put_sub_option(out, IA_ADDR, &d);
        }
        if let Some(s) = &self.status {
            let mut d = Vec::new();
            s.encode(&mut d);
            put_sub_option(out, STATUS_CODE, &d);
        }
        for o in &self.other {
            put_sub_option(out, o.code, &o.data);
        }
    }
}

/// Option 16, Vendor Class (RFC 8415 §21.16): an enterprise number and opaque class data. PXE
/// firmware sends enterprise 343 and `PXEClient:Arch:00007:UNDI:003016`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorClass {
    /// The vendor's IANA enterprise number.
    pub enterprise: u32,
    /// The class data items.
    pub data: Vec<Vec<u8>>,
}

impl OptionValue for VendorClass {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        let [a, b, c, d, rest @ ..] = data else {
            return Err("expected a 4-byte enterprise number");
        };
        Ok(VendorClass {
            enterprise: u32::from_be_bytes([*a, *b, *c, *d]),
            data: opaque_list(rest)?,
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.enterprise.to_be_bytes());
        put_opaque_list(&self.data, out);
    }
}

/// Option 79, Client Link-Layer Address (RFC 6939 §4), which a first-hop relay adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkLayerAddress {
    /// Hardware type (IANA; 1 = Ethernet).
    pub hw_type: u16,
    /// The address.
    pub address: Vec<u8>,
}

impl OptionValue for LinkLayerAddress {
    fn decode(data: &[u8]) -> Result<Self, &'static str> {
        let [a, b, address @ ..] = data else {
            return Err("expected a 2-byte hardware type");
        };
        Ok(LinkLayerAddress {
            hw_type: u16::from_be_bytes([*a, *b]),
            address: address.to_vec(),
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hw_type.to_be_bytes());
        out.extend_from_slice(&self.address);
    }
}

option_table! {
    code: u16,
    option: Dhcp6Option,
    code_doc: "A DHCPv6 option code, named as in the RFCs (`OptionCode::BootfileUrl` = 59).",
    option_doc: "One DHCPv6 option with its typed value.",
    name_doc: "The option's name (dnsmasq / Kea spelling), or `\"unknown\"`.",
    decode_doc: "Decodes the data of option `code`.";
    /// Client Identifier, the client's DUID (RFC 8415 §21.2).
    1 => ClientId(Duid), "client-id";
    /// Server Identifier, the server's DUID (RFC 8415 §21.3).
    2 => ServerId(Duid), "server-id";
    /// Identity Association for Non-temporary Addresses (RFC 8415 §21.4).
    3 => IaNa(IaNa), "ia-na";
    /// IA Address; normally inside an IA_NA (RFC 8415 §21.6).
    5 => IaAddr(IaAddress), "iaaddr";
    /// Option Request Option (RFC 8415 §21.7).
    6 => Oro(Vec<OptionCode>), "oro";
    /// Server preference, 0-255 (RFC 8415 §21.8).
    7 => Preference(u8), "preference";
    /// Elapsed time in hundredths of a second (RFC 8415 §21.9).
    8 => ElapsedTime(u16), "elapsed-time";
    /// Relay Message: a whole relayed message, unwrapped by `relay` (RFC 8415 §21.10).
    9 => RelayMessage(Vec<u8>), "relay-msg";
    /// Status Code (RFC 8415 §21.13).
    13 => StatusCode(StatusCode), "status-code";
    /// Rapid Commit (RFC 8415 §21.14).
    14 => RapidCommit(()), "rapid-commit";
    /// User Class: iPXE sends `iPXE` (RFC 8415 §21.15).
    15 => UserClass(Vec<Vec<u8>>), "user-class";
    /// Vendor Class: `PXEClient...` with enterprise 343 (RFC 8415 §21.16).
    16 => VendorClass(VendorClass), "vendor-class";
    /// Vendor-specific Information, kept opaque (RFC 8415 §21.17).
    17 => VendorOpts(Vec<u8>), "vendor-opts";
    /// Interface-Id, set by a relay and echoed by the server (RFC 8415 §21.18).
    18 => InterfaceId(Vec<u8>), "interface-id";
    /// Recursive DNS servers (RFC 3646 §3).
    23 => DnsServers(Vec<Ipv6Addr>), "dns-server";
    /// Boot file URL (RFC 5970 §3.1).
    59 => BootfileUrl(Vec<u8>), "bootfile-url";
    /// Boot file parameters (RFC 5970 §3.2).
    60 => BootfileParam(Vec<Vec<u8>>), "bootfile-param";
    /// Client system architecture types (RFC 5970 §3.3, the RFC 4578 registry).
    61 => ClientArchType(Vec<Arch>), "client-arch-type";
    /// Client network interface identifier, UNDI version (RFC 5970 §3.4).
    62 => Nii(NetworkInterface), "nii";
    /// Client link-layer address, added by a relay (RFC 6939 §4).
    79 => ClientLinkLayerAddress(LinkLayerAddress), "client-linklayer-addr";
}

impl Dhcp6Option {
    /// Bytes the option takes on the wire, header included; an error if its data is longer than
    /// a 16-bit length can say.
    pub fn encoded_len(&self) -> Result<usize, Error> {
        let mut v = Vec::new();
        self.encode_value(&mut v);
        self.check_len(v.len())
    }

    fn check_len(&self, len: usize) -> Result<usize, Error> {
        if len > usize::from(u16::MAX) || self.has_long_item() {
            return Err(Error::V6OptionTooLong {
                code: u16::from(self.code()),
                len,
            });
        }
        Ok(OPTION_HEADER_LEN + len)
    }

    /// Whether an item inside the option overflows its own 16-bit length.
    fn has_long_item(&self) -> bool {
        let long = |items: &[Vec<u8>]| items.iter().any(|i| !fits16(i.len()));
        match self {
            Dhcp6Option::UserClass(items) | Dhcp6Option::BootfileParam(items) => long(items),
            Dhcp6Option::VendorClass(v) => long(&v.data),
            Dhcp6Option::IaNa(ia) => {
                !nested_fit(ia.status.as_ref(), &ia.other)
                    || ia.addresses.iter().any(|a| {
                        !nested_fit(a.status.as_ref(), &a.other) || !fits16(ia_addr_len(a))
                    })
            }
            Dhcp6Option::IaAddr(a) => !nested_fit(a.status.as_ref(), &a.other),
            _ => false,
        }
    }

    /// Appends the whole option (code, length, data) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        out.extend_from_slice(&[0; OPTION_HEADER_LEN]);
        self.encode_value(out);
        let len = out.len() - start - OPTION_HEADER_LEN;
        self.check_len(len)?;
        out[start..start + 2].copy_from_slice(&u16::from(self.code()).to_be_bytes());
        // Checked just above: `len` fits.
        out[start + 2..start + 4].copy_from_slice(&(len as u16).to_be_bytes());
        Ok(())
    }
}

fn fits16(len: usize) -> bool {
    len <= usize::from(u16::MAX)
}

/// Whether a status and raw sub-options each fit their 16-bit lengths.
fn nested_fit(status: Option<&StatusCode>, other: &[RawOption]) -> bool {
    status.is_none_or(|s| fits16(2 + s.message.len())) && other.iter().all(|o| fits16(o.data.len()))
}

/// The data length of an encoded IAADDR.
fn ia_addr_len(a: &IaAddress) -> usize {
    24 + a.status.as_ref().map_or(0, |s| 6 + s.message.len())
        + a.other.iter().map(|o| 4 + o.data.len()).sum::<usize>()
}

/// One option as it sits in a message: code, data, and the offset of its code field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption6<'a> {
    /// The option code.
    pub code: u16,
    /// The option's data.
    pub data: &'a [u8],
    /// Offset of the code field from the start of the message.
    pub offset: usize,
}

/// Walks an option area (RFC 8415 §21.1), zero-copy. Yields an error once, for an option whose
/// header or data runs past the end, and stops.
#[derive(Debug, Clone)]
pub struct RawOptions<'a> {
    area: &'a [u8],
    pos: usize,
    base: usize,
    failed: bool,
}

impl<'a> RawOptions<'a> {
    /// Options in `area`, whose first byte is at offset `base` of the message.
    pub fn new(area: &'a [u8], base: usize) -> RawOptions<'a> {
        RawOptions {
            area,
            pos: 0,
            base,
            failed: false,
        }
    }
}

impl<'a> Iterator for RawOptions<'a> {
    type Item = Result<RawOption6<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.area.len() {
            return None;
        }
        let rest = &self.area[self.pos..];
        let offset = self.base + self.pos;
        let truncated = |code: u16| Error::V6TruncatedOption {
            code,
            name: OptionCode::from(code).name(),
            offset,
        };
        let [c0, c1, l0, l1, data @ ..] = rest else {
            self.failed = true;
            let code = match rest {
                [a, b, ..] => u16::from_be_bytes([*a, *b]),
                _ => 0,
            };
            return Some(Err(truncated(code)));
        };
        let code = u16::from_be_bytes([*c0, *c1]);
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        if data.len() < len {
            self.failed = true;
            return Some(Err(truncated(code)));
        }
        self.pos += OPTION_HEADER_LEN + len;
        Some(Ok(RawOption6 {
            code,
            data: &data[..len],
            offset,
        }))
    }
}

/// Parses an option area into typed options.
pub(crate) fn parse_options(area: &[u8], base: usize) -> Result<Vec<Dhcp6Option>, Error> {
    RawOptions::new(area, base)
        .map(|raw| {
            let raw = raw?;
            Dhcp6Option::decode(raw.code, raw.data).map_err(|reason| Error::V6MalformedOption {
                code: raw.code,
                name: OptionCode::from(raw.code).name(),
                offset: raw.offset,
                reason,
            })
        })
        .collect()
}

/// Bytes `options` take on the wire.
pub(crate) fn options_len(options: &[Dhcp6Option]) -> Result<usize, Error> {
    options.iter().map(Dhcp6Option::encoded_len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn encoded(o: &Dhcp6Option) -> Vec<u8> {
        let mut v = Vec::new();
        o.encode(&mut v).unwrap();
        v
    }

    #[test]
    fn codes_and_names() {
        assert_eq!(OptionCode::from(59), OptionCode::BootfileUrl);
        assert_eq!(OptionCode::BootfileUrl.name(), "bootfile-url");
        assert_eq!(u16::from(OptionCode::Unknown(300)), 300);
    }

    #[test]
    fn ia_na_with_address_and_status() {
        let mut ia = IaNa::new(0x0102_0304, 1800, 2880);
        let mut a = IaAddress::new("2001:db8::10".parse().unwrap(), 3600, 7200);
        a.status = Some(StatusCode::new(Status::Success, "ok"));
        ia.addresses.push(a);
        ia.status = Some(StatusCode::new(Status::NoAddrsAvail, ""));
        let o = Dhcp6Option::IaNa(ia);
        let bytes = encoded(&o);
        assert_eq!(&bytes[..4], &[0, 3, 0, 12 + 4 + 24 + 4 + 4 + 4 + 2]);
        assert_eq!(Dhcp6Option::decode(3, &bytes[4..]).unwrap(), o);
        // An IA address cut short is an error, not a panic.
        assert!(Dhcp6Option::decode(3, &bytes[4..bytes.len() - 7]).is_err());
    }

    #[test]
    fn vendor_and_user_class_lists() {
        let vc = Dhcp6Option::decode(
            16,
            b"\x00\x00\x01\x57\x00\x20PXEClient:Arch:00007:UNDI:003016",
        )
        .unwrap();
        assert_eq!(
            vc,
            Dhcp6Option::VendorClass(VendorClass {
                enterprise: PXE_ENTERPRISE,
                data: vec![b"PXEClient:Arch:00007:UNDI:003016".to_vec()]
            })
        );
        assert_eq!(
            Dhcp6Option::decode(15, b"\x00\x04iPXE").unwrap(),
            Dhcp6Option::UserClass(vec![b"iPXE".to_vec()])
        );
        assert!(Dhcp6Option::decode(15, b"\x00\x05iPXE").is_err());
        assert!(Dhcp6Option::decode(14, b"x").is_err());
        assert!(Dhcp6Option::decode(23, &[0; 15]).is_err());
    }

    #[test]
    fn raw_options_stop_at_a_truncated_option() {
        let area = [0, 14, 0, 0, 0, 8, 0, 2, 0];
        let items: Vec<_> = RawOptions::new(&area, 4).collect();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[1],
            Err(Error::V6TruncatedOption {
                code: 8,
                name: "elapsed-time",
                offset: 8
            })
        );
    }

    #[test]
    fn overlong_values_are_an_error() {
        let o = Dhcp6Option::BootfileUrl(vec![b'a'; 70_000]);
        assert!(matches!(
            o.encoded_len(),
            Err(Error::V6OptionTooLong { code: 59, .. })
        ));
        let o = Dhcp6Option::UserClass(vec![vec![0; 70_000]]);
        assert!(o.encode(&mut Vec::new()).is_err());
    }
}
