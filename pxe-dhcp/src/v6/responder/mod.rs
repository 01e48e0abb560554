//! The Sans-IO DHCPv6 responders: [`BootResponder`] (boot options for PXE/iPXE clients beside
//! another DHCPv6 server or SLAAC) and [`Server`] (a stateful server with IA_NA leases and boot
//! options, RFC 8415 §18.3).
//!
//! Both implement [`pxe_proto::SansIo`] with [`Dhcp6Event`]s, as the DHCPv4 responders do. The
//! driver feeds every datagram received on UDP 547 (joined to ff02::1:2) to `handle_datagram`,
//! with `Datagram::local` carrying the destination address when it knows it (RFC 8415 §16
//! treats multicast and unicast requests differently); then drains `poll_transmit` (each reply
//! goes to [`Destination::Unicast`]: the client's link-local
//! address with its scope, or the relay) and `poll_event`; then sleeps until `poll_timeout`.

mod boot;
mod leases;
mod server;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use core::net::{IpAddr, SocketAddr};

use pxe_proto::{Destination, Instant, Transmit};

pub use boot::{BootResponder, BootResponderConfig};
pub use leases::{Lease6, Lease6State, Lease6Table};
pub use server::{Server, ServerConfig};

use super::{
    Dhcp6Option, Duid, Envelope, Message, MessageType, OptionCode, PXE_ENTERPRISE, VendorClass,
};
use crate::Error;
use crate::policy::BootDecision;
use crate::pxe::{ClientInfo, Firmware};

/// What a DHCPv6 responder tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dhcp6Event {
    /// A boot decision was sent to a client (log `decision.reason`: the same line format as
    /// DHCPv4's).
    Boot(Box<BootEvent6>),
    /// A message got no answer, and why.
    Ignored {
        /// The client's DUID, when the message was parsable and had one.
        duid: Option<Duid>,
        /// Why.
        reason: Ignore6,
    },
    /// Lease state changed; the driver should persist [`Server::leases`].
    Lease(Lease6Change),
}

/// A boot decision sent to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootEvent6 {
    /// The classified client.
    pub client: ClientInfo,
    /// The decision, with its reason.
    pub decision: BootDecision,
    /// The reply that carried it (ADVERTISE or REPLY).
    pub reply: MessageType,
}

/// Why a DHCPv6 message was not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ignore6 {
    /// The bytes are not a valid DHCPv6 message (or relay chain).
    Malformed(Error),
    /// A message type this responder does not answer (a server's message, or one for another
    /// mode).
    UnsupportedMessage(MessageType),
    /// The options break RFC 8415 §16's rules for the type (no Client Identifier, or a Server
    /// Identifier where none may be, or IA options in an Information-request).
    Invalid(&'static str),
    /// Addressed to another server (its Server Identifier is not ours, RFC 8415 §16).
    OtherServer,
    /// A Solicit, Confirm, Rebind or Information-request sent to a unicast address (RFC 8415
    /// §16: discarded).
    Unicast,
    /// Not a PXE / iPXE / HTTP boot client (boot-only mode answers only those).
    NotNetbootClient,
    /// No policy rule matched; the string is the client summary.
    NoRule(String),
    /// A Confirm without addresses (RFC 8415 §18.3.3: no reply).
    NothingToConfirm,
    /// The reply could not be written.
    EmitFailed(Error),
}

/// A lease state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease6Change {
    /// The client's DUID bytes.
    pub duid: alloc::vec::Vec<u8>,
    /// The IA's IAID.
    pub iaid: u32,
    /// The address.
    pub address: core::net::Ipv6Addr,
    /// The new state; `None` when the address became free (released or expired).
    pub state: Option<Lease6State>,
    /// When the new state ends.
    pub expires: Instant,
}

/// Counters a DHCPv6 responder keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats6 {
    /// Datagrams handled.
    pub received: u64,
    /// Datagrams that did not parse.
    pub malformed: u64,
    /// Messages not answered (any reason).
    pub ignored: u64,
    /// ADVERTISEs sent.
    pub advertises: u64,
    /// REPLYs sent.
    pub replies: u64,
    /// Replies that could not be written.
    pub emit_failures: u64,
    /// The last parse error.
    pub last_error: Option<Error>,
}

/// A reply waiting for `poll_transmit`.
#[derive(Debug, Clone)]
pub(crate) struct Pending6 {
    envelope: Envelope,
    to: SocketAddr,
}

/// The queue, events and counters both responders share.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    queue: VecDeque<Pending6>,
    events: VecDeque<Dhcp6Event>,
    stats: Stats6,
}

impl Outbox {
    /// Parses a datagram into an envelope, counting it; `None` (and an event) if malformed.
    fn parse(&mut self, payload: &[u8]) -> Option<Envelope> {
        self.stats.received += 1;
        match Envelope::parse(payload) {
            Ok(env) => Some(env),
            Err(e) => {
                self.stats.malformed += 1;
                self.stats.last_error = Some(e);
                self.ignore(None, Ignore6::Malformed(e));
                None
            }
        }
    }

    fn ignore(&mut self, duid: Option<&Duid>, reason: Ignore6) {
        self.stats.ignored += 1;
        self.events.push_back(Dhcp6Event::Ignored {
            duid: duid.cloned(),
            reason,
        });
    }

    /// Queues `reply` to the sender of `req` (the client, or the relay it came through, inside
    /// the matching Relay-repl chain, RFC 8415 §19.3).
    fn send(&mut self, req: &Envelope, from: SocketAddr, reply: Message) {
        match reply.msg_type {
            MessageType::Advertise => self.stats.advertises += 1,
            _ => self.stats.replies += 1,
        }
        self.queue.push_back(Pending6 {
            envelope: req.reply(reply),
            to: from,
        });
    }

    fn boot(&mut self, client: ClientInfo, decision: BootDecision, reply: MessageType) {
        self.events.push_back(Dhcp6Event::Boot(Box::new(BootEvent6 {
            client,
            decision,
            reply,
        })));
    }

    fn transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        while let Some(p) = self.queue.pop_front() {
            let available = buf.len();
            let written = p.envelope.to_bytes().and_then(|bytes| {
                let out = buf.get_mut(..bytes.len()).ok_or(Error::Wire(
                    pxe_proto::WireError::BufferTooSmall {
                        offset: 0,
                        needed: bytes.len(),
                        available,
                    },
                ))?;
                out.copy_from_slice(&bytes);
                Ok(bytes.len())
            });
            match written {
                Ok(len) => {
                    return Some(Transmit {
                        destination: Destination::Unicast(p.to),
                        local: None,
                        len,
                    });
                }
                Err(e) => {
                    self.stats.emit_failures += 1;
                    self.ignore(p.envelope.message.client_id(), Ignore6::EmitFailed(e));
                }
            }
        }
        None
    }
}

/// A reply to `req`: same transaction id, Server Identifier, and the Client Identifier echoed
/// (RFC 8415 §18.3: "the server MUST include ... the Client Identifier option ... from the
/// client's message").
fn reply_to(req: &Message, msg_type: MessageType, server_duid: &Duid) -> Message {
    let mut r = Message::new(msg_type, req.transaction_id);
    if let Some(id) = req.client_id() {
        r.options.push(Dhcp6Option::ClientId(id.clone()));
    }
    r.options.push(Dhcp6Option::ServerId(server_duid.clone()));
    r
}

/// The RFC 8415 §16 checks on Client and Server Identifiers, by message type. `Err` is why
/// the message is dropped.
fn validate(req: &Message, server_duid: &Duid) -> Result<(), Ignore6> {
    let client = req.client_id().is_some();
    let server = req.server_id();
    let ours = server.is_some_and(|s| s == server_duid);
    match req.msg_type {
        MessageType::Solicit | MessageType::Confirm | MessageType::Rebind => {
            if !client {
                return Err(Ignore6::Invalid("no Client Identifier"));
            }
            if server.is_some() {
                return Err(Ignore6::Invalid("a Server Identifier"));
            }
        }
        MessageType::Request | MessageType::Renew | MessageType::Release | MessageType::Decline => {
            if !client {
                return Err(Ignore6::Invalid("no Client Identifier"));
            }
            if !ours {
                return Err(Ignore6::OtherServer);
            }
        }
        MessageType::InformationRequest => {
            if server.is_some() && !ours {
                return Err(Ignore6::OtherServer);
            }
            if req.option(OptionCode::IaNa).is_some() {
                return Err(Ignore6::Invalid("an IA option in an Information-request"));
            }
        }
        other => return Err(Ignore6::UnsupportedMessage(other)),
    }
    Ok(())
}

/// Whether a datagram came straight from a client to a unicast address (RFC 8415 §16, §18.4).
fn unicast_from_client(env: &Envelope, local: IpAddr) -> bool {
    !env.is_relayed() && !local.is_unspecified() && !local.is_multicast()
}

/// The options a boot decision adds: the boot file URL (RFC 5970 §3.1), and for UEFI HTTP boot
/// the vendor class `HTTPClient` (enterprise 343), which EDK2's HTTP boot looks for in an offer
/// (NetworkPkg/HttpBootDxe/HttpBootDhcp6.c, `HttpBootParseDhcp6Packet`), as the DHCPv4 reply's
/// option 60.
///
/// PXE clients get no `PXEClient` vendor class, unlike DHCPv4's option 60: EDK2 takes an offer
/// with it for a BINL offer and asks a boot server on port 4011 for the file
/// (NetworkPkg/UefiPxeBcDxe/PxeBcDhcp6.c, `PxeBcParseDhcp6Packet`, `PxeBcRetryDhcp6Binl`),
/// where an offer with the URL and no class boots straight away (measured: the first fails
/// with a PXE error, the second loads the file).
fn boot_options(r: &mut Message, client: &ClientInfo, decision: &BootDecision) {
    if client.firmware == Firmware::HttpClient {
        r.set_option(Dhcp6Option::VendorClass(VendorClass {
            enterprise: PXE_ENTERPRISE,
            data: alloc::vec![b"HTTPClient".to_vec()],
        }));
    }
    r.set_option(Dhcp6Option::BootfileUrl(
        decision.boot_file.as_bytes().to_vec(),
    ));
}

/// Adds DNS servers when the client asks for them (RFC 3646 §3, via the ORO).
fn dns_option(r: &mut Message, req: &Message, dns: &[core::net::Ipv6Addr]) {
    if !dns.is_empty() && req.requests(OptionCode::DnsServers) {
        r.set_option(Dhcp6Option::DnsServers(dns.to_vec()));
    }
}
