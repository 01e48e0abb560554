//! DHCPv6 messages (RFC 8415 §7.3, §8, §9): zero-copy views and owned representations.

use alloc::vec::Vec;
use core::net::Ipv6Addr;

use super::options::{Dhcp6Option, OptionCode, RawOptions, options_len, parse_options};
use crate::Error;
use pxe_proto::WireError;

/// Byte ranges of the two fixed headers.
pub mod field {
    use core::ops::Range;

    /// msg-type, in both formats.
    pub const MSG_TYPE: usize = 0;
    /// transaction-id of a client/server message (RFC 8415 §8).
    pub const TRANSACTION_ID: Range<usize> = 1..4;
    /// Start of a client/server message's options.
    pub const OPTIONS: usize = 4;
    /// hop-count of a relay message (RFC 8415 §9).
    pub const HOP_COUNT: usize = 1;
    /// link-address of a relay message.
    pub const LINK_ADDRESS: Range<usize> = 2..18;
    /// peer-address of a relay message.
    pub const PEER_ADDRESS: Range<usize> = 18..34;
    /// Start of a relay message's options.
    pub const RELAY_OPTIONS: usize = 34;
}

/// A DHCPv6 message type (RFC 8415 §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MessageType {
    /// 1: a client looks for servers.
    Solicit,
    /// 2: a server offers itself.
    Advertise,
    /// 3: a client asks a chosen server for addresses.
    Request,
    /// 4: a client asks whether its addresses are still on-link.
    Confirm,
    /// 5: a client extends its lease with the server that gave it.
    Renew,
    /// 6: a client extends its lease with any server.
    Rebind,
    /// 7: a server answers.
    Reply,
    /// 8: a client gives addresses back.
    Release,
    /// 9: a client says addresses are in use by someone else.
    Decline,
    /// 10: a server asks the client to reconfigure.
    Reconfigure,
    /// 11: a client asks for configuration only.
    InformationRequest,
    /// 12: a relay forwards a message to servers.
    RelayForw,
    /// 13: a server answers through a relay.
    RelayRepl,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(v: u8) -> MessageType {
        match v {
            1 => MessageType::Solicit,
            2 => MessageType::Advertise,
            3 => MessageType::Request,
            4 => MessageType::Confirm,
            5 => MessageType::Renew,
            6 => MessageType::Rebind,
            7 => MessageType::Reply,
            8 => MessageType::Release,
            9 => MessageType::Decline,
            10 => MessageType::Reconfigure,
            11 => MessageType::InformationRequest,
            12 => MessageType::RelayForw,
            13 => MessageType::RelayRepl,
            other => MessageType::Unknown(other),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(t: MessageType) -> u8 {
        match t {
            MessageType::Solicit => 1,
            MessageType::Advertise => 2,
            MessageType::Request => 3,
            MessageType::Confirm => 4,
            MessageType::Renew => 5,
            MessageType::Rebind => 6,
            MessageType::Reply => 7,
            MessageType::Release => 8,
            MessageType::Decline => 9,
            MessageType::Reconfigure => 10,
            MessageType::InformationRequest => 11,
            MessageType::RelayForw => 12,
            MessageType::RelayRepl => 13,
            MessageType::Unknown(v) => v,
        }
    }
}

impl MessageType {
    /// The RFC's name, as servers log it (`SOLICIT`, `RELAY-FORW`).
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Solicit => "SOLICIT",
            MessageType::Advertise => "ADVERTISE",
            MessageType::Request => "REQUEST",
            MessageType::Confirm => "CONFIRM",
            MessageType::Renew => "RENEW",
            MessageType::Rebind => "REBIND",
            MessageType::Reply => "REPLY",
            MessageType::Release => "RELEASE",
            MessageType::Decline => "DECLINE",
            MessageType::Reconfigure => "RECONFIGURE",
            MessageType::InformationRequest => "INFORMATION-REQUEST",
            MessageType::RelayForw => "RELAY-FORW",
            MessageType::RelayRepl => "RELAY-REPL",
            MessageType::Unknown(_) => "unknown",
        }
    }

    /// Whether this is a relay-agent message with the RFC 8415 §9 header.
    pub fn is_relay(self) -> bool {
        matches!(self, MessageType::RelayForw | MessageType::RelayRepl)
    }
}

/// A zero-copy view of a client/server message (RFC 8415 §8), length-checked once.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking it holds the 4-byte header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let len = buffer.as_ref().len();
        if len < field::OPTIONS {
            return Err(Error::V6Truncated {
                len,
                min: field::OPTIONS,
            });
        }
        Ok(Packet { buffer })
    }

    /// msg-type.
    pub fn msg_type(&self) -> MessageType {
        MessageType::from(self.buffer.as_ref()[field::MSG_TYPE])
    }

    /// transaction-id, 24 bits.
    pub fn transaction_id(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::TRANSACTION_ID];
        u32::from_be_bytes([0, b[0], b[1], b[2]])
    }

    /// The options, zero-copy.
    pub fn options(&self) -> RawOptions<'_> {
        RawOptions::new(&self.buffer.as_ref()[field::OPTIONS..], field::OPTIONS)
    }
}

/// A zero-copy view of a relay message (RFC 8415 §9), length-checked once.
#[derive(Debug, Clone, Copy)]
pub struct RelayPacket<T: AsRef<[u8]>> {
    buffer: T,
}

fn ipv6_at(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

impl<T: AsRef<[u8]>> RelayPacket<T> {
    /// Wraps `buffer` after checking it holds the 34-byte header.
    pub fn new_checked(buffer: T) -> Result<RelayPacket<T>, Error> {
        let len = buffer.as_ref().len();
        if len < field::RELAY_OPTIONS {
            return Err(Error::V6Truncated {
                len,
                min: field::RELAY_OPTIONS,
            });
        }
        Ok(RelayPacket { buffer })
    }

    /// msg-type (RELAY-FORW or RELAY-REPL for a well-formed message).
    pub fn msg_type(&self) -> MessageType {
        MessageType::from(self.buffer.as_ref()[field::MSG_TYPE])
    }

    /// hop-count.
    pub fn hop_count(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_COUNT]
    }

    /// link-address: an address on the client's link, or unspecified.
    pub fn link_address(&self) -> Ipv6Addr {
        ipv6_at(&self.buffer.as_ref()[field::LINK_ADDRESS])
    }

    /// peer-address: where the relayed message came from.
    pub fn peer_address(&self) -> Ipv6Addr {
        ipv6_at(&self.buffer.as_ref()[field::PEER_ADDRESS])
    }

    /// The options, zero-copy.
    pub fn options(&self) -> RawOptions<'_> {
        RawOptions::new(
            &self.buffer.as_ref()[field::RELAY_OPTIONS..],
            field::RELAY_OPTIONS,
        )
    }
}

/// Writes `options` after a header already in `buf[..start]`; returns the total length.
fn emit_options(options: &[Dhcp6Option], start: usize, buf: &mut [u8]) -> Result<usize, Error> {
    let total = start + options_len(options)?;
    if buf.len() < total {
        return Err(Error::Wire(WireError::BufferTooSmall {
            offset: 0,
            needed: total,
            available: buf.len(),
        }));
    }
    let mut pos = start;
    let mut scratch = Vec::new();
    for o in options {
        scratch.clear();
        o.encode(&mut scratch)?;
        buf[pos..pos + scratch.len()].copy_from_slice(&scratch);
        pos += scratch.len();
    }
    Ok(pos)
}

/// A parsed client/server message (RFC 8415 §8).
///
/// The message type is not checked against the format: [`super::relay::Envelope::parse`]
/// decides by type which format a datagram has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// msg-type.
    pub msg_type: MessageType,
    /// transaction-id; only the low 24 bits are sent.
    pub transaction_id: u32,
    /// The options, in wire order.
    pub options: Vec<Dhcp6Option>,
}

impl Message {
    /// A message with no options.
    pub fn new(msg_type: MessageType, transaction_id: u32) -> Message {
        Message {
            msg_type,
            transaction_id: transaction_id & 0x00ff_ffff,
            options: Vec::new(),
        }
    }

    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Message, Error> {
        Ok(Message {
            msg_type: p.msg_type(),
            transaction_id: p.transaction_id(),
            options: parse_options(&p.buffer.as_ref()[field::OPTIONS..], field::OPTIONS)?,
        })
    }

    /// Parses bytes.
    pub fn parse_bytes(data: &[u8]) -> Result<Message, Error> {
        Message::parse(&Packet::new_checked(data)?)
    }

    /// Bytes [`Message::emit`] writes.
    pub fn buffer_len(&self) -> Result<usize, Error> {
        Ok(field::OPTIONS + options_len(&self.options)?)
    }

    /// Writes the message into `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.len() < field::OPTIONS {
            return Err(Error::Wire(WireError::BufferTooSmall {
                offset: 0,
                needed: field::OPTIONS,
                available: buf.len(),
            }));
        }
        buf[field::MSG_TYPE] = u8::from(self.msg_type);
        buf[field::TRANSACTION_ID].copy_from_slice(&self.transaction_id.to_be_bytes()[1..]);
        emit_options(&self.options, field::OPTIONS, buf)
    }

    /// The message's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut v = alloc::vec![0u8; self.buffer_len()?];
        self.emit(&mut v)?;
        Ok(v)
    }

    /// The first option with `code`.
    pub fn option(&self, code: OptionCode) -> Option<&Dhcp6Option> {
        self.options.iter().find(|o| o.code() == code)
    }

    /// Every option with `code`.
    pub fn options_with(&self, code: OptionCode) -> impl Iterator<Item = &Dhcp6Option> {
        self.options.iter().filter(move |o| o.code() == code)
    }

    /// The Client Identifier's DUID.
    pub fn client_id(&self) -> Option<&super::Duid> {
        self.options.iter().find_map(|o| match o {
            Dhcp6Option::ClientId(d) => Some(d),
            _ => None,
        })
    }

    /// The Server Identifier's DUID.
    pub fn server_id(&self) -> Option<&super::Duid> {
        self.options.iter().find_map(|o| match o {
            Dhcp6Option::ServerId(d) => Some(d),
            _ => None,
        })
    }

    /// The IA_NA options.
    pub fn ia_nas(&self) -> impl Iterator<Item = &super::IaNa> {
        self.options.iter().filter_map(|o| match o {
            Dhcp6Option::IaNa(ia) => Some(ia),
            _ => None,
        })
    }

    /// Whether the Option Request Option lists `code`.
    pub fn requests(&self, code: OptionCode) -> bool {
        self.options
            .iter()
            .any(|o| matches!(o, Dhcp6Option::Oro(l) if l.contains(&code)))
    }

    /// Whether the message carries Rapid Commit.
    pub fn rapid_commit(&self) -> bool {
        self.option(OptionCode::RapidCommit).is_some()
    }

    /// Replaces the first option with the same code, or appends.
    pub fn set_option(&mut self, o: Dhcp6Option) {
        match self.options.iter_mut().find(|x| x.code() == o.code()) {
            Some(slot) => *slot = o,
            None => self.options.push(o),
        }
    }
}

/// A parsed relay message (RFC 8415 §9). Its Relay Message option holds the relayed message
/// as bytes; [`super::relay::Envelope`] unwraps a whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayMessage {
    /// msg-type: RELAY-FORW or RELAY-REPL.
    pub msg_type: MessageType,
    /// Relays the message has passed.
    pub hop_count: u8,
    /// An address on the client's link (unspecified when the relay has none).
    pub link_address: Ipv6Addr,
    /// The address the relayed message came from.
    pub peer_address: Ipv6Addr,
    /// The options, in wire order.
    pub options: Vec<Dhcp6Option>,
}

impl RelayMessage {
    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &RelayPacket<T>) -> Result<RelayMessage, Error> {
        Ok(RelayMessage {
            msg_type: p.msg_type(),
            hop_count: p.hop_count(),
            link_address: p.link_address(),
            peer_address: p.peer_address(),
            options: parse_options(
                &p.buffer.as_ref()[field::RELAY_OPTIONS..],
                field::RELAY_OPTIONS,
            )?,
        })
    }

    /// Parses bytes.
    pub fn parse_bytes(data: &[u8]) -> Result<RelayMessage, Error> {
        RelayMessage::parse(&RelayPacket::new_checked(data)?)
    }

    /// Bytes [`RelayMessage::emit`] writes.
    pub fn buffer_len(&self) -> Result<usize, Error> {
        Ok(field::RELAY_OPTIONS + options_len(&self.options)?)
    }

    /// Writes the message into `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.len() < field::RELAY_OPTIONS {
            return Err(Error::Wire(WireError::BufferTooSmall {
                offset: 0,
                needed: field::RELAY_OPTIONS,
                available: buf.len(),
            }));
        }
        buf[field::MSG_TYPE] = u8::from(self.msg_type);
        buf[field::HOP_COUNT] = self.hop_count;
        buf[field::LINK_ADDRESS].copy_from_slice(&self.link_address.octets());
        buf[field::PEER_ADDRESS].copy_from_slice(&self.peer_address.octets());
        emit_options(&self.options, field::RELAY_OPTIONS, buf)
    }

    /// The message's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut v = alloc::vec![0u8; self.buffer_len()?];
        self.emit(&mut v)?;
        Ok(v)
    }

    /// The first option with `code`.
    pub fn option(&self, code: OptionCode) -> Option<&Dhcp6Option> {
        self.options.iter().find(|o| o.code() == code)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pxe::Arch;
    use crate::v6::{
        Duid, IaAddress, IaNa, LinkLayerAddress, RawOption, Status, StatusCode, VendorClass,
    };
    use crate::wire::NetworkInterface;
    use alloc::vec;
    use proptest::collection::vec as pvec;
    use proptest::prelude::*;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        pvec(any::<u8>(), 0..max)
    }

    fn addr() -> impl Strategy<Value = Ipv6Addr> {
        any::<u128>().prop_map(Ipv6Addr::from)
    }

    fn duid() -> impl Strategy<Value = Duid> {
        pvec(any::<u8>(), 3..40).prop_map(|b| Duid::decode(&b).expect("3..130 bytes"))
    }

    fn status() -> impl Strategy<Value = StatusCode> {
        (any::<u16>(), bytes(20)).prop_map(|(c, m)| StatusCode {
            status: Status::from(c),
            message: m,
        })
    }

    /// Sub-options that stay "other" after a round trip: not IAADDR (5) or Status Code (13).
    fn raw() -> impl Strategy<Value = RawOption> {
        (
            any::<u16>().prop_filter("typed inside an IA", |c| *c != 5 && *c != 13),
            bytes(8),
        )
            .prop_map(|(code, data)| RawOption { code, data })
    }

    fn ia_addr() -> impl Strategy<Value = IaAddress> {
        (
            addr(),
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(status()),
            pvec(raw(), 0..2),
        )
            .prop_map(|(address, preferred, valid, status, other)| IaAddress {
                address,
                preferred,
                valid,
                status,
                other,
            })
    }

    fn ia_na() -> impl Strategy<Value = IaNa> {
        (
            any::<(u32, u32, u32)>(),
            pvec(ia_addr(), 0..3),
            proptest::option::of(status()),
            pvec(raw(), 0..2),
        )
            .prop_map(|((iaid, t1, t2), addresses, status, other)| IaNa {
                iaid,
                t1,
                t2,
                addresses,
                status,
                other,
            })
    }

    pub(crate) fn option() -> impl Strategy<Value = Dhcp6Option> {
        prop_oneof![
            duid().prop_map(Dhcp6Option::ClientId),
            duid().prop_map(Dhcp6Option::ServerId),
            ia_na().prop_map(Dhcp6Option::IaNa),
            ia_addr().prop_map(Dhcp6Option::IaAddr),
            pvec(any::<u16>().prop_map(OptionCode::from), 0..6).prop_map(Dhcp6Option::Oro),
            any::<u8>().prop_map(Dhcp6Option::Preference),
            any::<u16>().prop_map(Dhcp6Option::ElapsedTime),
            bytes(30).prop_map(Dhcp6Option::RelayMessage),
            status().prop_map(Dhcp6Option::StatusCode),
            Just(Dhcp6Option::RapidCommit(())),
            pvec(bytes(8), 0..3).prop_map(Dhcp6Option::UserClass),
            (any::<u32>(), pvec(bytes(40), 0..3))
                .prop_map(|(enterprise, data)| Dhcp6Option::VendorClass(VendorClass {
                    enterprise,
                    data
                })),
            bytes(10).prop_map(Dhcp6Option::VendorOpts),
            bytes(10).prop_map(Dhcp6Option::InterfaceId),
            pvec(addr(), 0..3).prop_map(Dhcp6Option::DnsServers),
            bytes(60).prop_map(Dhcp6Option::BootfileUrl),
            pvec(bytes(20), 0..3).prop_map(Dhcp6Option::BootfileParam),
            pvec(any::<u16>().prop_map(Arch), 1..3).prop_map(Dhcp6Option::ClientArchType),
            any::<(u8, u8, u8)>().prop_map(|(kind, major, minor)| Dhcp6Option::Nii(
                NetworkInterface { kind, major, minor }
            )),
            (any::<u16>(), bytes(8)).prop_map(|(hw_type, address)| {
                Dhcp6Option::ClientLinkLayerAddress(LinkLayerAddress { hw_type, address })
            }),
            (any::<u16>(), bytes(10)).prop_map(|(code, data)| {
                Dhcp6Option::decode(code, &data).unwrap_or(Dhcp6Option::Unknown { code, data })
            })
            .prop_filter("unknown stays unknown", |o| !matches!(
                o, Dhcp6Option::Unknown { code, .. } if u16::from(OptionCode::from(*code)) == *code
                    && !matches!(OptionCode::from(*code), OptionCode::Unknown(_))
            )),
        ]
    }

    pub(crate) fn message() -> impl Strategy<Value = Message> {
        (1u8..=11, any::<u32>(), pvec(option(), 0..8)).prop_map(|(t, xid, options)| Message {
            msg_type: MessageType::from(t),
            transaction_id: xid & 0x00ff_ffff,
            options,
        })
    }

    proptest! {
        #[test]
        fn message_round_trips(m in message()) {
            let bytes = m.to_bytes().unwrap();
            prop_assert_eq!(bytes.len(), m.buffer_len().unwrap());
            prop_assert_eq!(Message::parse_bytes(&bytes).unwrap(), m);
        }

        #[test]
        fn relay_message_round_trips(
            hop_count in any::<u8>(),
            link in addr(),
            peer in addr(),
            options in pvec(option(), 0..5),
            repl in any::<bool>(),
        ) {
            let r = RelayMessage {
                msg_type: if repl { MessageType::RelayRepl } else { MessageType::RelayForw },
                hop_count,
                link_address: link,
                peer_address: peer,
                options,
            };
            let bytes = r.to_bytes().unwrap();
            prop_assert_eq!(RelayMessage::parse_bytes(&bytes).unwrap(), r);
        }

        #[test]
        fn envelope_round_trips(
            m in message(),
            relays in pvec((any::<u8>(), addr(), addr(), pvec(option().prop_filter(
                "no relay message", |o| o.code() != OptionCode::RelayMessage), 0..3)), 0..4),
        ) {
            let env = crate::v6::Envelope {
                relays: relays
                    .into_iter()
                    .map(|(hop_count, link_address, peer_address, options)| RelayMessage {
                        msg_type: MessageType::RelayForw,
                        hop_count,
                        link_address,
                        peer_address,
                        options,
                    })
                    .collect(),
                message: m,
            };
            let bytes = env.to_bytes().unwrap();
            prop_assert_eq!(crate::v6::Envelope::parse(&bytes).unwrap(), env);
        }

        #[test]
        fn any_bytes_parse_without_panicking(data in bytes(300)) {
            let _ = crate::v6::Envelope::parse(&data);
            if let Ok(m) = Message::parse_bytes(&data) {
                let again = Message::parse_bytes(&m.to_bytes().unwrap()).unwrap();
                prop_assert_eq!(again, m);
            }
        }
    }

    #[test]
    fn header_fields_and_short_buffers() {
        let mut m = Message::new(MessageType::Solicit, 0x12_3456);
        m.options.push(Dhcp6Option::ElapsedTime(0));
        let b = m.to_bytes().unwrap();
        assert_eq!(b, [1, 0x12, 0x34, 0x56, 0, 8, 0, 2, 0, 0]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.msg_type(), p.transaction_id()),
            (MessageType::Solicit, 0x12_3456)
        );
        assert_eq!(
            Packet::new_checked(&b[..3]).err(),
            Some(Error::V6Truncated { len: 3, min: 4 })
        );
        assert!(m.emit(&mut [0u8; 9]).is_err());
        assert_eq!(
            RelayPacket::new_checked(&[12u8; 33][..]).err(),
            Some(Error::V6Truncated { len: 33, min: 34 })
        );
        let _ = vec![0u8; 0];
    }
}
