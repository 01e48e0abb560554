//! The DHCP wire format (RFC 2131 §2, RFC 2132, RFC 3396), smoltcp style.
//!
//! - [`Packet`]: a zero-copy view over a received message with fixed-header accessors and
//!   [`Packet::raw_options`], which walks the options field and then, as option 52 says, `file`
//!   and `sname` (RFC 2131 §4.1 order).
//! - [`Repr`]: the parsed message, with options typed and RFC 3396 pieces concatenated;
//!   [`Repr::emit`] splits long options, never overloads `file`/`sname` (PXE ROMs read them),
//!   pads to the 300-byte BOOTP minimum and stays within the buffer it is given (which a
//!   responder sizes from the client's option 57, see [`Repr::max_reply_len`]).
//! - [`options`]: the option table ([`OptionCode`], [`DhcpOption`]) and typed values.

pub mod options;
mod repr;

use core::net::Ipv4Addr;

use pxe_proto::{MacAddr, TlvIter};

pub use options::{
    BootServer, DhcpOption, EncapsulatedOptions, MachineId, MenuItem, MessageType,
    NetworkInterface, OptionCode, OptionValue, PxeSubOption, SubOption, UserClass, VendorOptions,
};
pub use repr::Repr;

use crate::Error;

/// Byte ranges of the fixed BOOTP header (RFC 2131 §2, figure 1).
pub mod field {
    use core::ops::Range;

    /// Message op code: 1 = BOOTREQUEST, 2 = BOOTREPLY.
    pub const OP: usize = 0;
    /// Hardware address type (1 = Ethernet).
    pub const HTYPE: usize = 1;
    /// Hardware address length.
    pub const HLEN: usize = 2;
    /// Relay hops.
    pub const HOPS: usize = 3;
    /// Transaction id.
    pub const XID: Range<usize> = 4..8;
    /// Seconds since the client began.
    pub const SECS: Range<usize> = 8..10;
    /// Flags (bit 15 = BROADCAST).
    pub const FLAGS: Range<usize> = 10..12;
    /// Client IP address.
    pub const CIADDR: Range<usize> = 12..16;
    /// "Your" (client) IP address.
    pub const YIADDR: Range<usize> = 16..20;
    /// Next server IP address.
    pub const SIADDR: Range<usize> = 20..24;
    /// Relay agent IP address.
    pub const GIADDR: Range<usize> = 24..28;
    /// Client hardware address.
    pub const CHADDR: Range<usize> = 28..44;
    /// Server host name.
    pub const SNAME: Range<usize> = 44..108;
    /// Boot file name.
    pub const FILE: Range<usize> = 108..236;
    /// Magic cookie 99.130.83.99.
    pub const MAGIC: Range<usize> = 236..240;
    /// Start of the options field.
    pub const OPTIONS: usize = 240;
}

/// The DHCP magic cookie (RFC 2131 §3).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// UDP port of DHCP servers (and relays).
pub const SERVER_PORT: u16 = 67;
/// UDP port of DHCP clients.
pub const CLIENT_PORT: u16 = 68;
/// UDP port of the PXE boot server (proxyDHCP REQUESTs, PXE 2.1 §2.2.5).
pub const PXE_PORT: u16 = 4011;
/// The BOOTP minimum message size replies are padded to (RFC 1542 §2.1: 300 octets).
pub const MIN_MESSAGE_LEN: usize = 300;
/// The smallest maximum message size a client must accept, with IP and UDP headers (RFC 2131 §2).
pub const MIN_MAX_MESSAGE_SIZE: u16 = 576;
/// IPv4 + UDP header bytes counted in option 57.
pub const IP_UDP_HEADERS: usize = 28;

/// The BOOTP `op` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// 1: client to server.
    BootRequest,
    /// 2: server to client.
    BootReply,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for Op {
    fn from(v: u8) -> Self {
        match v {
            1 => Op::BootRequest,
            2 => Op::BootReply,
            o => Op::Unknown(o),
        }
    }
}

impl From<Op> for u8 {
    fn from(op: Op) -> u8 {
        match op {
            Op::BootRequest => 1,
            Op::BootReply => 2,
            Op::Unknown(o) => o,
        }
    }
}

/// The BOOTP `flags` field (RFC 2131 §2, figure 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u16);

impl Flags {
    /// The BROADCAST bit.
    pub const BROADCAST: Flags = Flags(0x8000);

    /// Whether the BROADCAST bit is set.
    pub fn broadcast(self) -> bool {
        self.0 & 0x8000 != 0
    }

    /// These flags with the BROADCAST bit set.
    pub fn with_broadcast(self) -> Flags {
        Flags(self.0 | 0x8000)
    }
}

/// Which part of the message an option was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionArea {
    /// The options field after the magic cookie.
    Options,
    /// The `file` field (overload 1 or 3).
    File,
    /// The `sname` field (overload 2 or 3).
    Sname,
}

impl OptionArea {
    fn name(self) -> &'static str {
        match self {
            OptionArea::Options => "options field",
            OptionArea::File => "file field",
            OptionArea::Sname => "sname field",
        }
    }
}

/// One option instance as found in the bytes (an RFC 3396 piece, not yet concatenated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// The option code.
    pub code: u8,
    /// Its data.
    pub data: &'a [u8],
    /// Offset of the code octet from the start of the message.
    pub offset: usize,
    /// Where it was found.
    pub area: OptionArea,
}

/// A read-only view of a DHCP message (RFC 2131 §2).
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn ip(b: &[u8]) -> Ipv4Addr {
    let mut o = [0u8; 4];
    o.copy_from_slice(&b[..4]);
    Ipv4Addr::from(o)
}

fn until_nul(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking it holds the fixed header and the magic cookie.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < field::OPTIONS {
            return Err(Error::Truncated { len: b.len() });
        }
        if b[field::MAGIC] != MAGIC_COOKIE {
            return Err(Error::NoMagicCookie);
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The `op` field.
    pub fn op(&self) -> Op {
        Op::from(self.b()[field::OP])
    }
    /// The `htype` field.
    pub fn htype(&self) -> u8 {
        self.b()[field::HTYPE]
    }
    /// The `hlen` field.
    pub fn hlen(&self) -> u8 {
        self.b()[field::HLEN]
    }
    /// The `hops` field.
    pub fn hops(&self) -> u8 {
        self.b()[field::HOPS]
    }
    /// The transaction id.
    pub fn xid(&self) -> u32 {
        let b = &self.b()[field::XID];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    /// The `secs` field.
    pub fn secs(&self) -> u16 {
        let b = &self.b()[field::SECS];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// The `flags` field.
    pub fn flags(&self) -> Flags {
        let b = &self.b()[field::FLAGS];
        Flags(u16::from_be_bytes([b[0], b[1]]))
    }
    /// The `ciaddr` field.
    pub fn ciaddr(&self) -> Ipv4Addr {
        ip(&self.b()[field::CIADDR])
    }
    /// The `yiaddr` field.
    pub fn yiaddr(&self) -> Ipv4Addr {
        ip(&self.b()[field::YIADDR])
    }
    /// The `siaddr` field.
    pub fn siaddr(&self) -> Ipv4Addr {
        ip(&self.b()[field::SIADDR])
    }
    /// The `giaddr` field.
    pub fn giaddr(&self) -> Ipv4Addr {
        ip(&self.b()[field::GIADDR])
    }
    /// The whole 16-byte `chaddr` field.
    pub fn chaddr(&self) -> [u8; 16] {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.b()[field::CHADDR]);
        o
    }
    /// The first six bytes of `chaddr` as an Ethernet address.
    pub fn client_mac(&self) -> MacAddr {
        let c = self.chaddr();
        MacAddr([c[0], c[1], c[2], c[3], c[4], c[5]])
    }
    /// The `sname` field up to its first NUL (meaningless if overloaded).
    pub fn sname(&self) -> &[u8] {
        until_nul(&self.b()[field::SNAME])
    }
    /// The `file` field up to its first NUL (meaningless if overloaded).
    pub fn file(&self) -> &[u8] {
        until_nul(&self.b()[field::FILE])
    }
    /// The bytes after the magic cookie.
    pub fn options_field(&self) -> &[u8] {
        &self.b()[field::OPTIONS..]
    }

    /// Every option instance, in RFC 2131 §4.1 order: the options field, then `file`, then
    /// `sname` when option 52 says they carry options. A length running past its area is an
    /// error naming the option and offset.
    pub fn raw_options(&self) -> RawOptions<'_> {
        RawOptions {
            msg: self.b(),
            area: OptionArea::Options,
            base: field::OPTIONS,
            iter: TlvIter::new(self.options_field()),
            overload: 0,
            done: false,
        }
    }

    /// The option-52 overload value (0 if absent or malformed).
    pub fn overload(&self) -> u8 {
        TlvIter::new(self.options_field())
            .map_while(Result::ok)
            .find(|t| t.code == 52)
            .and_then(|t| t.value.first().copied())
            .unwrap_or(0)
    }

    /// Consumes the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// Iterator over [`RawOption`]s across the areas option 52 names. See [`Packet::raw_options`].
#[derive(Debug, Clone)]
pub struct RawOptions<'a> {
    msg: &'a [u8],
    area: OptionArea,
    base: usize,
    iter: TlvIter<'a>,
    overload: u8,
    done: bool,
}

impl<'a> Iterator for RawOptions<'a> {
    type Item = Result<RawOption<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            match self.iter.next() {
                Some(Ok(t)) => {
                    if self.area == OptionArea::Options && t.code == 52 {
                        self.overload = t.value.first().copied().unwrap_or(0);
                    }
                    return Some(Ok(RawOption {
                        code: t.code,
                        data: t.value,
                        offset: self.base + t.offset,
                        area: self.area,
                    }));
                }
                Some(Err(e)) => {
                    self.done = true;
                    let offset = match e {
                        pxe_proto::WireError::Truncated { offset, .. } => offset,
                        _ => 0,
                    };
                    let local = self.msg.get(self.base..).unwrap_or(&[]);
                    let code = local.get(offset).copied().unwrap_or(0);
                    return Some(Err(Error::TruncatedOption {
                        code,
                        name: OptionCode::from(code).name(),
                        offset: self.base + offset,
                        area: self.area.name(),
                    }));
                }
                None => {
                    let next = match self.area {
                        OptionArea::Options if self.overload & 1 != 0 => OptionArea::File,
                        OptionArea::Options | OptionArea::File if self.overload & 2 != 0 => {
                            OptionArea::Sname
                        }
                        _ => {
                            self.done = true;
                            return None;
                        }
                    };
                    let range = match next {
                        OptionArea::File => field::FILE,
                        _ => field::SNAME,
                    };
                    self.area = next;
                    self.base = range.start;
                    self.iter = TlvIter::new(&self.msg[range]);
                }
            }
        }
    }
}
