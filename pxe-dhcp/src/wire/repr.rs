//! The parsed, owned form of a DHCP message.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::net::Ipv4Addr;

use pxe_proto::{MacAddr, Writer};

use super::{
    DhcpOption, Flags, IP_UDP_HEADERS, MAGIC_COOKIE, MIN_MAX_MESSAGE_SIZE, MIN_MESSAGE_LEN,
    MessageType, Op, OptionCode, Packet, field,
};
use crate::Error;

/// The End option (RFC 2132 §3.2).
const END: u8 = 255;

/// A DHCP message: the BOOTP header fields and the typed options in wire order.
///
/// [`Repr::parse`] applies option 52 overload (the options it names are moved into `options`;
/// `sname`/`file` are then empty) and concatenates RFC 3396 pieces of the same code, even when
/// not adjacent, at the position of the first piece. [`Repr::emit`] writes options in list order,
/// splitting values longer than 255 bytes into consecutive pieces, and never writes option 52.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    /// `op`.
    pub op: Op,
    /// `htype` (1 = Ethernet).
    pub htype: u8,
    /// `hlen` (6 for Ethernet).
    pub hlen: u8,
    /// `hops`.
    pub hops: u8,
    /// `xid`.
    pub xid: u32,
    /// `secs`.
    pub secs: u16,
    /// `flags`.
    pub flags: Flags,
    /// `ciaddr`.
    pub ciaddr: Ipv4Addr,
    /// `yiaddr`.
    pub yiaddr: Ipv4Addr,
    /// `siaddr` (next server).
    pub siaddr: Ipv4Addr,
    /// `giaddr` (relay).
    pub giaddr: Ipv4Addr,
    /// `chaddr`, all 16 bytes.
    pub chaddr: [u8; 16],
    /// `sname` without its NUL padding (at most 64 bytes).
    pub sname: Vec<u8>,
    /// `file` without its NUL padding (at most 128 bytes).
    pub file: Vec<u8>,
    /// The options in wire order (one entry per code).
    pub options: Vec<DhcpOption>,
}

impl Repr {
    /// An empty message: Ethernet, all addresses zero, no options.
    pub fn new(op: Op, xid: u32, mac: MacAddr) -> Repr {
        let mut chaddr = [0u8; 16];
        chaddr[..6].copy_from_slice(&mac.0);
        Repr {
            op,
            htype: 1,
            hlen: 6,
            hops: 0,
            xid,
            secs: 0,
            flags: Flags::default(),
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            sname: Vec::new(),
            file: Vec::new(),
            options: Vec::new(),
        }
    }

    /// Parses a message. Any malformed option is an error naming the option and its offset.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        Repr::parse_with(packet, None)
    }

    /// Parses a request as a server reads it: a malformed option that the exchange does not
    /// depend on is left out, and its error returned beside the message, instead of failing
    /// the whole message. One bad PXE option (a one-byte option 93) then costs a client its boot
    /// file, not its address. The options an exchange needs ([`Repr::ESSENTIAL_OPTIONS`]) must
    /// still be well-formed.
    pub fn parse_lenient<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<(Repr, Vec<Error>), Error> {
        let mut dropped = Vec::new();
        let r = Repr::parse_with(packet, Some(&mut dropped))?;
        Ok((r, dropped))
    }

    /// The options [`Repr::parse_lenient`] never leaves out: requested address (50), overload
    /// (52), message type (53), server identifier (54), maximum message size (57), client
    /// identifier (61) and relay agent information (82).
    pub const ESSENTIAL_OPTIONS: [u8; 7] = [50, 52, 53, 54, 57, 61, 82];

    fn parse_with<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        mut dropped: Option<&mut Vec<Error>>,
    ) -> Result<Repr, Error> {
        // (code, offset of first piece, concatenated data)
        let mut pieces: Vec<(u8, usize, Cow<'_, [u8]>)> = Vec::new();
        for raw in packet.raw_options() {
            let raw = raw?;
            match pieces.iter_mut().find(|p| p.0 == raw.code) {
                Some(p) => p.2.to_mut().extend_from_slice(raw.data),
                None => pieces.push((raw.code, raw.offset, Cow::Borrowed(raw.data))),
            }
        }
        let overload = pieces
            .iter()
            .find(|p| p.0 == 52)
            .map_or(0, |p| p.2.first().copied().unwrap_or(0));
        let mut options = Vec::with_capacity(pieces.len());
        for (code, offset, data) in &pieces {
            let opt = match DhcpOption::decode(*code, data) {
                Ok(opt) => opt,
                Err(reason) => {
                    let e = Error::MalformedOption {
                        code: *code,
                        name: OptionCode::from(*code).name(),
                        offset: *offset,
                        reason,
                    };
                    match dropped.as_deref_mut() {
                        Some(d) if !Repr::ESSENTIAL_OPTIONS.contains(code) => {
                            d.push(e);
                            continue;
                        }
                        _ => return Err(e),
                    }
                }
            };
            if !matches!(opt, DhcpOption::OptionOverload(_)) {
                options.push(opt);
            }
        }
        Ok(Repr {
            op: packet.op(),
            htype: packet.htype(),
            hlen: packet.hlen(),
            hops: packet.hops(),
            xid: packet.xid(),
            secs: packet.secs(),
            flags: packet.flags(),
            ciaddr: packet.ciaddr(),
            yiaddr: packet.yiaddr(),
            siaddr: packet.siaddr(),
            giaddr: packet.giaddr(),
            chaddr: packet.chaddr(),
            sname: if overload & 2 != 0 {
                Vec::new()
            } else {
                packet.sname().to_vec()
            },
            file: if overload & 1 != 0 {
                Vec::new()
            } else {
                packet.file().to_vec()
            },
            options,
        })
    }

    /// Parses raw bytes: [`Packet::new_checked`] then [`Repr::parse`].
    pub fn parse_bytes(bytes: &[u8]) -> Result<Repr, Error> {
        Repr::parse(&Packet::new_checked(bytes)?)
    }

    /// The client's hardware address (first six bytes of `chaddr`).
    pub fn client_mac(&self) -> MacAddr {
        let c = self.chaddr;
        MacAddr([c[0], c[1], c[2], c[3], c[4], c[5]])
    }

    /// The first option with code `code`.
    pub fn option(&self, code: OptionCode) -> Option<&DhcpOption> {
        self.options.iter().find(|o| o.code() == code)
    }

    /// Adds `opt`, replacing an existing option with the same code in place.
    pub fn set_option(&mut self, opt: DhcpOption) {
        match self.options.iter_mut().find(|o| o.code() == opt.code()) {
            Some(slot) => *slot = opt,
            None => self.options.push(opt),
        }
    }

    /// Option 53.
    pub fn message_type(&self) -> Option<MessageType> {
        match self.option(OptionCode::MessageType)? {
            DhcpOption::MessageType(m) => Some(*m),
            _ => None,
        }
    }

    /// Option 50.
    pub fn requested_ip(&self) -> Option<Ipv4Addr> {
        match self.option(OptionCode::RequestedIpAddress)? {
            DhcpOption::RequestedIpAddress(a) => Some(*a),
            _ => None,
        }
    }

    /// Option 54.
    pub fn server_identifier(&self) -> Option<Ipv4Addr> {
        match self.option(OptionCode::ServerIdentifier)? {
            DhcpOption::ServerIdentifier(a) => Some(*a),
            _ => None,
        }
    }

    /// Whether option 55 asks for `code`.
    pub fn requests(&self, code: OptionCode) -> bool {
        matches!(self.option(OptionCode::ParameterRequestList),
            Some(DhcpOption::ParameterRequestList(l)) if l.contains(&code))
    }

    /// The largest reply (DHCP payload bytes) this client accepts: its option 57 minus the 28
    /// bytes of IP and UDP headers, never below 576 − 28 (RFC 2131 §2, RFC 2132 §9.10).
    pub fn max_reply_len(&self) -> usize {
        let max = match self.option(OptionCode::MaximumMessageSize) {
            Some(DhcpOption::MaximumMessageSize(m)) => (*m).max(MIN_MAX_MESSAGE_SIZE),
            _ => MIN_MAX_MESSAGE_SIZE,
        };
        usize::from(max) - IP_UDP_HEADERS
    }

    fn options_len(&self) -> usize {
        let mut n = 0;
        let mut scratch = Vec::new();
        for o in self.options.iter().filter(|o| !skipped(o)) {
            scratch.clear();
            o.encode_value(&mut scratch);
            n += 2 * scratch.len().div_ceil(255).max(1) + scratch.len();
        }
        n
    }

    /// Bytes [`Repr::emit`] writes: header, cookie, options, End, padding to 300.
    pub fn buffer_len(&self) -> usize {
        (field::OPTIONS + self.options_len() + 1).max(MIN_MESSAGE_LEN)
    }

    /// Writes the message into `buf` and returns its length. `buf` is the limit: pass
    /// `&mut buf[..request.max_reply_len()]` to honour the client's option 57.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if self.sname.len() > 64 {
            return Err(Error::FieldTooLong {
                field: "sname",
                len: self.sname.len(),
                max: 64,
            });
        }
        if self.file.len() > 128 {
            return Err(Error::FieldTooLong {
                field: "file",
                len: self.file.len(),
                max: 128,
            });
        }
        let mut w = Writer::new(buf);
        w.put_u8(u8::from(self.op))?;
        w.put_u8(self.htype)?;
        w.put_u8(self.hlen)?;
        w.put_u8(self.hops)?;
        w.put_u32(self.xid)?;
        w.put_u16(self.secs)?;
        w.put_u16(self.flags.0)?;
        for a in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            w.put_slice(&a.octets())?;
        }
        w.put_slice(&self.chaddr)?;
        w.put_slice(&self.sname)?;
        w.fill(0, 64 - self.sname.len())?;
        w.put_slice(&self.file)?;
        w.fill(0, 128 - self.file.len())?;
        w.put_slice(&MAGIC_COOKIE)?;
        let mut scratch = Vec::new();
        for o in self.options.iter().filter(|o| !skipped(o)) {
            let code = u8::from(o.code());
            if code == 0 || code == END {
                return Err(Error::ReservedOptionCode { code });
            }
            scratch.clear();
            o.encode_value(&mut scratch);
            if scratch.is_empty() {
                w.put_slice(&[code, 0])?;
            }
            // RFC 3396 §5: a value over 255 bytes goes out as consecutive pieces.
            for piece in scratch.chunks(255) {
                w.put_slice(&[code, piece.len() as u8])?;
                w.put_slice(piece)?;
            }
        }
        w.put_u8(END)?;
        let pad = MIN_MESSAGE_LEN.saturating_sub(w.position());
        w.fill(0, pad)?;
        Ok(w.position())
    }
}

/// Option 52 is a wire detail of parsing; it is never written.
fn skipped(o: &DhcpOption) -> bool {
    matches!(o, DhcpOption::OptionOverload(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pxe::Arch;
    use crate::wire::options::{
        BootServer, EncapsulatedOptions, MachineId, MenuItem, NetworkInterface, PxeSubOption,
        SubOption, UserClass, VendorOptions,
    };
    use alloc::vec;
    use proptest::collection::vec as pvec;
    use proptest::prelude::*;

    fn header(options: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 240];
        m[0] = 1;
        m[1] = 1;
        m[2] = 6;
        m[4..8].copy_from_slice(&[1, 2, 3, 4]);
        m[28..34].copy_from_slice(&[0x52, 0x54, 0, 1, 2, 3]);
        m[236..240].copy_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(options);
        m
    }

    #[test]
    fn overload_reads_file_then_sname() {
        let mut m = header(&[53, 1, 1, 52, 1, 3, 255]);
        m[108..112].copy_from_slice(&[12, 2, b'h', b'i']);
        m[112] = 255;
        m[44..49].copy_from_slice(&[15, 3, b'l', b'a', b'n']);
        let r = Repr::parse_bytes(&m).unwrap();
        assert_eq!(
            r.options,
            vec![
                DhcpOption::MessageType(MessageType::Discover),
                DhcpOption::HostName(b"hi".to_vec()),
                DhcpOption::DomainName(b"lan".to_vec()),
            ]
        );
        assert!(r.file.is_empty() && r.sname.is_empty());
    }

    #[test]
    fn rfc3396_pieces_are_concatenated_even_apart() {
        let m = header(&[
            60, 3, b'P', b'X', b'E', 53, 1, 1, 60, 6, b'C', b'l', b'i', b'e', b'n', b't', 255,
        ]);
        let r = Repr::parse_bytes(&m).unwrap();
        assert_eq!(
            r.options[0],
            DhcpOption::VendorClassIdentifier(b"PXEClient".to_vec())
        );
        assert_eq!(r.options.len(), 2);
    }

    #[test]
    fn long_options_are_split_and_replies_padded() {
        let mut r = Repr::new(Op::BootReply, 7, MacAddr([1, 2, 3, 4, 5, 6]));
        r.options.push(DhcpOption::MessageType(MessageType::Offer));
        let mut buf = [0u8; 1500];
        let n = r.emit(&mut buf).unwrap();
        assert_eq!(n, 300);
        assert_eq!(r.buffer_len(), 300);
        r.options.push(DhcpOption::BootfileName(vec![b'x'; 300]));
        let n = r.emit(&mut buf).unwrap();
        assert_eq!(n, r.buffer_len());
        assert_eq!(&buf[243..245], &[67, 255]);
        assert_eq!(&buf[243 + 257..243 + 259], &[67, 45]);
        assert_eq!(Repr::parse_bytes(&buf[..n]).unwrap(), r);
    }

    #[test]
    fn emit_respects_the_buffer_and_option_57() {
        let mut req = Repr::new(Op::BootRequest, 1, MacAddr::default());
        assert_eq!(req.max_reply_len(), 548);
        req.options.push(DhcpOption::MaximumMessageSize(1464));
        assert_eq!(req.max_reply_len(), 1436);
        req.set_option(DhcpOption::MaximumMessageSize(300));
        assert_eq!(req.max_reply_len(), 548);
        let mut r = Repr::new(Op::BootReply, 7, MacAddr::default());
        r.options.push(DhcpOption::BootfileName(vec![b'x'; 600]));
        let mut buf = [0u8; 1500];
        assert!(matches!(
            r.emit(&mut buf[..548]),
            Err(Error::Wire(pxe_proto::WireError::BufferTooSmall { .. }))
        ));
    }

    #[test]
    fn rfc3396_pieces_join_across_options_file_and_sname_in_that_order() {
        // RFC 3396 §7: pieces are joined in the order options field, `file`, `sname`, whatever
        // the byte offsets (`sname` comes first in the message).
        let mut m = header(&[52, 1, 3, 60, 3, b'P', b'X', b'E', 255]);
        m[108..114].copy_from_slice(&[60, 4, b'C', b'l', b'i', b'e']);
        m[114] = 255;
        m[44..49].copy_from_slice(&[60, 3, b'n', b't', b'!']);
        m[49] = 255;
        let r = Repr::parse_bytes(&m).unwrap();
        assert_eq!(
            r.options,
            vec![DhcpOption::VendorClassIdentifier(b"PXEClient!".to_vec())]
        );
        // Without option 52 the same `file`/`sname` bytes are names, not options.
        let mut plain = m.clone();
        plain[240..243].copy_from_slice(&[0, 0, 0]);
        let r = Repr::parse_bytes(&plain).unwrap();
        assert_eq!(
            r.options,
            vec![DhcpOption::VendorClassIdentifier(b"PXE".to_vec())]
        );
        assert_eq!(r.file, [60, 4, b'C', b'l', b'i', b'e', 255]);
    }

    #[test]
    fn option_52_is_never_written_and_file_sname_stay_fields() {
        let mut r = Repr::new(Op::BootReply, 7, MacAddr::default());
        r.file = b"undionly.kpxe".to_vec();
        r.sname = b"boot".to_vec();
        r.options.push(DhcpOption::MessageType(MessageType::Offer));
        r.options.push(DhcpOption::OptionOverload(3));
        let mut buf = [0u8; 600];
        let n = r.emit(&mut buf).unwrap();
        let p = Packet::new_checked(&buf[..n]).unwrap();
        assert_eq!(p.overload(), 0);
        assert!(p.raw_options().all(|o| o.unwrap().code != 52));
        assert_eq!((p.file(), p.sname()), (&b"undionly.kpxe"[..], &b"boot"[..]));
        assert_eq!(n, r.buffer_len());
    }

    #[test]
    fn malformed_options_name_code_and_offset() {
        let m = header(&[53, 1, 1, 54, 3, 1, 2, 3, 255]);
        assert_eq!(
            Repr::parse_bytes(&m),
            Err(Error::MalformedOption {
                code: 54,
                name: "server-identifier",
                offset: 243,
                reason: "expected a 4-byte IPv4 address"
            })
        );
        let m = header(&[53, 1, 1, 60, 9, b'P']);
        assert_eq!(
            Repr::parse_bytes(&m),
            Err(Error::TruncatedOption {
                code: 60,
                name: "vendor-class",
                offset: 243,
                area: "options field"
            })
        );
        assert_eq!(
            Repr::parse_bytes(&[0; 100]),
            Err(Error::Truncated { len: 100 })
        );
        assert_eq!(Repr::parse_bytes(&[0; 240]), Err(Error::NoMagicCookie));
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        pvec(any::<u8>(), 0..max)
    }

    fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
        any::<u32>().prop_map(Ipv4Addr::from)
    }

    fn pxe_sub() -> impl Strategy<Value = PxeSubOption> {
        prop_oneof![
            any::<u8>().prop_map(PxeSubOption::DiscoveryControl),
            pvec(
                (any::<u16>(), pvec(ipv4(), 0..4)).prop_map(|(server_type, addresses)| {
                    BootServer {
                        server_type,
                        addresses,
                    }
                }),
                1..3
            )
            .prop_map(PxeSubOption::BootServers),
            pvec(
                (any::<u16>(), bytes(20)).prop_map(|(server_type, description)| MenuItem {
                    server_type,
                    description
                }),
                1..3
            )
            .prop_map(PxeSubOption::BootMenu),
            (any::<u8>(), bytes(20))
                .prop_map(|(timeout, prompt)| PxeSubOption::MenuPrompt { timeout, prompt }),
            (any::<u16>(), any::<u16>())
                .prop_map(|(server_type, layer)| PxeSubOption::BootItem { server_type, layer }),
            (1u8..255, bytes(20))
                .prop_filter("known codes are typed", |(c, _)| ![6, 8, 9, 10, 71]
                    .contains(c))
                .prop_map(|(code, data)| PxeSubOption::Other { code, data }),
        ]
    }

    /// One strategy per entry of the option table.
    fn option() -> impl Strategy<Value = DhcpOption> {
        prop_oneof![
            ipv4().prop_map(DhcpOption::SubnetMask),
            pvec(ipv4(), 1..4).prop_map(DhcpOption::Router),
            pvec(ipv4(), 1..4).prop_map(DhcpOption::DomainNameServer),
            bytes(300).prop_map(DhcpOption::HostName),
            bytes(40).prop_map(DhcpOption::DomainName),
            ipv4().prop_map(DhcpOption::BroadcastAddress),
            pvec(pxe_sub(), 0..4).prop_map(|s| DhcpOption::VendorSpecific(VendorOptions::Pxe(s))),
            bytes(30)
                .prop_map(|mut b| {
                    b.splice(0..0, [9u8, 250]);
                    b
                })
                .prop_map(|b| DhcpOption::VendorSpecific(VendorOptions::Opaque(b))),
            ipv4().prop_map(DhcpOption::RequestedIpAddress),
            any::<u32>().prop_map(DhcpOption::IpAddressLeaseTime),
            any::<u8>().prop_map(|m| DhcpOption::MessageType(MessageType::from(m))),
            ipv4().prop_map(DhcpOption::ServerIdentifier),
            pvec(any::<u8>().prop_map(OptionCode::from), 0..40)
                .prop_map(DhcpOption::ParameterRequestList),
            bytes(60).prop_map(DhcpOption::Message),
            any::<u16>().prop_map(DhcpOption::MaximumMessageSize),
            any::<u32>().prop_map(DhcpOption::RenewalTime),
            any::<u32>().prop_map(DhcpOption::RebindingTime),
            bytes(60).prop_map(DhcpOption::VendorClassIdentifier),
            bytes(20).prop_map(DhcpOption::ClientIdentifier),
            bytes(60).prop_map(DhcpOption::TftpServerName),
            bytes(300).prop_map(DhcpOption::BootfileName),
            pvec(pvec(any::<u8>(), 1..10), 1..4)
                .prop_map(|l| DhcpOption::UserClass(UserClass::Rfc3004(l))),
            bytes(20)
                .prop_filter("not RFC 3004 framing", |b| !UserClass::is_rfc3004_framing(
                    b
                ))
                .prop_map(|b| DhcpOption::UserClass(UserClass::Plain(b))),
            bytes(40).prop_map(DhcpOption::RelayAgentInformation),
            pvec(any::<u16>().prop_map(Arch), 1..4).prop_map(DhcpOption::ClientSystemArchitecture),
            (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(kind, major, minor)| {
                DhcpOption::ClientNetworkInterface(NetworkInterface { kind, major, minor })
            }),
            any::<[u8; 16]>().prop_map(|u| DhcpOption::ClientMachineIdentifier(MachineId::Uuid(u))),
            bytes(40)
                .prop_filter("not a UUID", |b| b.len() != 17 || b[0] != 0)
                .prop_map(|b| DhcpOption::ClientMachineIdentifier(MachineId::Other(b))),
            pvec(
                (1u8..255, bytes(10)).prop_map(|(code, data)| SubOption { code, data }),
                0..4
            )
            .prop_map(|s| DhcpOption::IpxeEncapsulated(EncapsulatedOptions(s))),
            bytes(40).prop_map(DhcpOption::PxelinuxConfigFile),
            bytes(40).prop_map(DhcpOption::PxelinuxPathPrefix),
            (
                (1u8..255).prop_filter("unknown codes only", |c| {
                    matches!(OptionCode::from(*c), OptionCode::Unknown(_))
                }),
                bytes(300)
            )
                .prop_map(|(code, data)| DhcpOption::Unknown { code, data }),
        ]
    }

    fn message() -> impl Strategy<Value = Repr> {
        (
            (
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
                any::<u32>(),
                any::<u16>(),
                any::<u16>(),
            ),
            (ipv4(), ipv4(), ipv4(), ipv4(), any::<[u8; 16]>()),
            (pvec(1u8..=255, 0..=64), pvec(1u8..=255, 0..=128)),
            pvec(option(), 0..8),
        )
            .prop_map(
                |(
                    (op, htype, hlen, hops, xid, secs, flags),
                    (ci, yi, si, gi, chaddr),
                    (sname, file),
                    opts,
                )| {
                    // One entry per code: RFC 3396 merges duplicates on parse.
                    let mut options: Vec<DhcpOption> = Vec::new();
                    for o in opts {
                        if options.iter().all(|p| p.code() != o.code()) {
                            options.push(o);
                        }
                    }
                    Repr {
                        op: Op::from(op),
                        htype,
                        hlen,
                        hops,
                        xid,
                        secs,
                        flags: Flags(flags),
                        ciaddr: ci,
                        yiaddr: yi,
                        siaddr: si,
                        giaddr: gi,
                        chaddr,
                        sname,
                        file,
                        options,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn every_option_round_trips(o in option()) {
            let mut data = Vec::new();
            o.encode_value(&mut data);
            let back = DhcpOption::decode(u8::from(o.code()), &data).unwrap();
            prop_assert_eq!(back, o);
        }

        #[test]
        fn message_round_trips(r in message()) {
            let mut buf = vec![0u8; 4096];
            let n = r.emit(&mut buf).unwrap();
            prop_assert_eq!(n, r.buffer_len());
            prop_assert!(n >= MIN_MESSAGE_LEN);
            prop_assert_eq!(Repr::parse_bytes(&buf[..n]).unwrap(), r);
        }

        #[test]
        fn hostile_bytes_never_panic(tail in bytes(400), overload in 0u8..4, file in bytes(128), sname in bytes(64)) {
            let mut m = header(&[52, 1, overload]);
            m[108..108 + file.len()].copy_from_slice(&file);
            m[44..44 + sname.len()].copy_from_slice(&sname);
            m.extend_from_slice(&tail);
            if let Ok(r) = Repr::parse_bytes(&m) {
                let mut buf = vec![0u8; 2048];
                let _ = r.emit(&mut buf);
            }
            let _ = Repr::parse_bytes(&tail);
        }
    }
}
