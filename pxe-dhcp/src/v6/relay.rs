//! Relay chains (RFC 8415 §9, §19): unwrapping a Relay-forw chain and wrapping the reply in the
//! matching Relay-repl chain.
//!
//! Relays nest a client's message in Relay Message options, one level per relay. The chain is
//! unwrapped with a loop over borrowed slices (no recursion, no copy per level) and at most
//! [`MAX_RELAY_DEPTH`] levels.

use alloc::vec::Vec;

use super::message::{Message, MessageType, RelayMessage, RelayPacket, field};
use super::options::{Dhcp6Option, OptionCode, RawOptions};
use crate::Error;

/// The deepest relay chain accepted. RFC 8415 §7.6 sets HOP_COUNT_LIMIT to 8 (RFC 3315 §5.7 had
/// 32); relays enforce it, and a server that accepts up to the older, larger value serves every
/// chain a conforming relay can build while still bounding the work a hostile datagram causes.
pub const MAX_RELAY_DEPTH: usize = 32;

/// A client/server message and the relays it came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The relay messages, outermost (the one the server received) first, each without its
    /// Relay Message option.
    pub relays: Vec<RelayMessage>,
    /// The innermost message.
    pub message: Message,
}

impl Envelope {
    /// A message received straight from a client.
    pub fn direct(message: Message) -> Envelope {
        Envelope {
            relays: Vec::new(),
            message,
        }
    }

    /// Parses a datagram: a client/server message, or a relay chain around one. Errors name
    /// offsets within the message (or relayed message) they occur in.
    pub fn parse(mut data: &[u8]) -> Result<Envelope, Error> {
        let mut relays = Vec::new();
        while let Some(&t) = data.first()
            && MessageType::from(t).is_relay()
        {
            if relays.len() == MAX_RELAY_DEPTH {
                return Err(Error::V6RelayTooDeep {
                    max: MAX_RELAY_DEPTH,
                });
            }
            let p = RelayPacket::new_checked(data)?;
            let mut inner = None;
            let mut options = Vec::new();
            for raw in RawOptions::new(&data[field::RELAY_OPTIONS..], field::RELAY_OPTIONS) {
                let raw = raw?;
                if raw.code == u16::from(OptionCode::RelayMessage) {
                    if inner.is_some() {
                        return Err(Error::V6MalformedOption {
                            code: raw.code,
                            name: OptionCode::RelayMessage.name(),
                            offset: raw.offset,
                            reason: "a second Relay Message option",
                        });
                    }
                    inner = Some(raw.data);
                } else {
                    options.push(Dhcp6Option::decode(raw.code, raw.data).map_err(|reason| {
                        Error::V6MalformedOption {
                            code: raw.code,
                            name: OptionCode::from(raw.code).name(),
                            offset: raw.offset,
                            reason,
                        }
                    })?);
                }
            }
            relays.push(RelayMessage {
                msg_type: p.msg_type(),
                hop_count: p.hop_count(),
                link_address: p.link_address(),
                peer_address: p.peer_address(),
                options,
            });
            data = inner.ok_or(Error::V6NoRelayMessage {
                depth: relays.len() - 1,
            })?;
        }
        Ok(Envelope {
            relays,
            message: Message::parse_bytes(data)?,
        })
    }

    /// The datagram: the message inside its relay chain.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut bytes = self.message.to_bytes()?;
        for relay in self.relays.iter().rev() {
            let mut r = relay.clone();
            r.options.push(Dhcp6Option::RelayMessage(bytes));
            bytes = r.to_bytes()?;
        }
        Ok(bytes)
    }

    /// Whether the message came through at least one relay.
    pub fn is_relayed(&self) -> bool {
        !self.relays.is_empty()
    }

    /// The reply's envelope: `reply` inside a Relay-repl for every Relay-forw, with the same
    /// hop count, link and peer addresses, and the relay's Interface-Id copied (RFC 8415 §19.3).
    pub fn reply(&self, reply: Message) -> Envelope {
        Envelope {
            relays: self
                .relays
                .iter()
                .map(|f| RelayMessage {
                    msg_type: MessageType::RelayRepl,
                    hop_count: f.hop_count,
                    link_address: f.link_address,
                    peer_address: f.peer_address,
                    options: f
                        .options
                        .iter()
                        .filter(|o| o.code() == OptionCode::InterfaceId)
                        .cloned()
                        .collect(),
                })
                .collect(),
            message: reply,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use core::net::Ipv6Addr;

    fn relay(inner: Vec<u8>, hop: u8) -> Vec<u8> {
        let mut v = vec![12, hop];
        v.extend_from_slice(&[0; 32]);
        v.extend_from_slice(&[0, 9]);
        v.extend_from_slice(&u16::try_from(inner.len()).unwrap().to_be_bytes());
        v.extend(inner);
        v
    }

    #[test]
    fn chain_unwraps_and_reply_copies_interface_id() {
        let msg = Message::new(MessageType::Solicit, 0xabcdef);
        let mut fwd = RelayMessage {
            msg_type: MessageType::RelayForw,
            hop_count: 0,
            link_address: "2001:db8:1::1".parse().unwrap(),
            peer_address: "fe80::1".parse().unwrap(),
            options: vec![
                Dhcp6Option::InterfaceId(b"eth0".to_vec()),
                Dhcp6Option::Unknown {
                    code: 37,
                    data: vec![1, 2],
                },
            ],
        };
        let env = Envelope {
            relays: vec![fwd.clone()],
            message: msg.clone(),
        };
        let bytes = env.to_bytes().unwrap();
        assert_eq!(Envelope::parse(&bytes).unwrap(), env);
        let reply = env.reply(Message::new(MessageType::Advertise, 0xabcdef));
        fwd.msg_type = MessageType::RelayRepl;
        fwd.options.truncate(1);
        assert_eq!(reply.relays, vec![fwd]);
        assert_eq!(
            reply.relays[0].peer_address,
            Ipv6Addr::from([0xfe80, 0, 0, 0, 0, 0, 0, 1])
        );
    }

    #[test]
    fn nesting_is_bounded_and_needs_a_relay_message() {
        let mut bytes = vec![1, 0, 0, 1];
        for hop in 0..MAX_RELAY_DEPTH {
            bytes = relay(bytes, hop as u8);
        }
        assert_eq!(
            Envelope::parse(&bytes).unwrap().relays.len(),
            MAX_RELAY_DEPTH
        );
        let too_deep = relay(bytes, 40);
        assert_eq!(
            Envelope::parse(&too_deep),
            Err(Error::V6RelayTooDeep {
                max: MAX_RELAY_DEPTH
            })
        );
        // A relay message of relay messages all the way down to a 64 KiB datagram: still bounded.
        let mut deep = vec![12u8, 0];
        deep.extend_from_slice(&[0; 32]);
        assert_eq!(
            Envelope::parse(&deep),
            Err(Error::V6NoRelayMessage { depth: 0 })
        );
        let mut two = relay(vec![1, 0, 0, 1], 0);
        two.extend_from_slice(&[0, 9, 0, 4, 1, 0, 0, 1]);
        assert!(matches!(
            Envelope::parse(&two),
            Err(Error::V6MalformedOption { code: 9, .. })
        ));
    }
}
