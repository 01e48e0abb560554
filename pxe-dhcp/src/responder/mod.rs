//! The Sans-IO responders: [`ProxyResponder`] (PXE 2.1 proxyDHCP on ports 67 and 4011) and
//! [`LeaseServer`] (a DHCP server with pools, reservations and PXE boot decisions).
//!
//! Both implement [`pxe_proto::SansIo`] with [`DhcpEvent`] events. The driver feeds every
//! datagram received on UDP 67 (and 4011 for the proxy) to `handle_datagram`, with
//! `Datagram::local` carrying the port it arrived on; then drains `poll_transmit` (replies, with
//! their RFC 2131 §4.1 [`Destination`](pxe_proto::Destination) and the local port to send from)
//! and `poll_event` (one [`DhcpEvent::Boot`] per boot decision, whose `reason` the server logs;
//! [`DhcpEvent::Lease`] whenever lease state changed, so the driver persists
//! [`LeaseServer::leases`]); then sleeps until `poll_timeout`.

mod chain_watch;
mod key;
mod leases;
mod proxy;
mod reply;
mod server;

use alloc::collections::BTreeMap;
use alloc::string::String;

use pxe_proto::{Instant, MacAddr};

pub use key::ClientKey;
pub use leases::{Lease, LeaseState, LeaseTable};
pub use proxy::{ProxyConfig, ProxyResponder};
pub use server::{
    DEFAULT_MAX_CLIENTS_PER_MAC, LeaseServer, PoolRange, Reservation, ServerConfig, Subnet,
};

use crate::Error;
use crate::policy::BootDecision;
use crate::pxe::ClientInfo;
use crate::wire::MessageType;
pub use chain_watch::CHAIN_WATCH_SECS;
use chain_watch::ChainWatch;

/// What a responder tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DhcpEvent {
    /// A boot decision was sent to a client (log `decision.reason`, one line per decision).
    Boot(alloc::boxed::Box<BootEvent>),
    /// A request got no answer, and why.
    Ignored {
        /// The client, when the message was parsable.
        mac: Option<MacAddr>,
        /// Why.
        reason: IgnoreReason,
    },
    /// Lease state changed; the driver should persist [`LeaseServer::leases`].
    Lease(LeaseChange),
    /// A DHCPNAK was sent.
    Nak {
        /// The client.
        mac: MacAddr,
        /// The address it asked for.
        requested: core::net::Ipv4Addr,
        /// The message sent in option 56.
        message: &'static str,
    },
}

/// A boot decision sent to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BootEvent {
    /// The classified client.
    pub client: ClientInfo,
    /// The decision, with its reason.
    pub decision: BootDecision,
    /// The reply that carried it (OFFER or ACK).
    pub reply: MessageType,
}

impl DhcpEvent {
    pub(crate) fn boot(
        client: ClientInfo,
        decision: BootDecision,
        reply: MessageType,
    ) -> DhcpEvent {
        DhcpEvent::Boot(alloc::boxed::Box::new(BootEvent {
            client,
            decision,
            reply,
        }))
    }
}

/// Why a request was not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IgnoreReason {
    /// The bytes are not a valid DHCP message.
    Malformed(Error),
    /// Not a BOOTREQUEST.
    NotRequest,
    /// No option 53, or a type this responder does not answer here.
    UnsupportedMessage(Option<MessageType>),
    /// The message arrived on a port where this responder does not answer it.
    WrongPort(u16),
    /// Not a PXE / iPXE / HTTP boot client (proxy mode answers only those).
    NotNetbootClient,
    /// No policy rule matched; the string is the client summary. (The lease server still
    /// answers with an address, without boot information.)
    NoRule(String),
    /// One of the options a netboot client is classified by (43, 60, 77, 93, 94, 97, 175) is
    /// malformed: no boot decision for it. The lease server still gives it an address.
    MalformedBootOption(Error),
    /// The client chose another server's offer.
    OtherServer,
    /// The host layer says to send this machine nothing
    /// ([`Policy::ignores`](crate::policy::Policy::ignores)).
    HostIgnored,
    /// No free address for this client in its network's pools.
    PoolExhausted,
    /// The client's network (the relay's `giaddr`, or ours) has no pool: nothing to lease
    /// there (a relay forwarding for a network this server is not configured for).
    NoPool(core::net::Ipv4Addr),
    /// The client's reserved address cannot be given to it (another client holds it, or it is
    /// not valid on the network).
    ReservationUnavailable,
    /// The relay address (`giaddr`) cannot be answered.
    InvalidRelay {
        /// The relay address.
        giaddr: core::net::Ipv4Addr,
        /// What is wrong with it.
        problem: RelayProblem,
    },
    /// A DISCOVER from a client identifier new to a hardware address on which
    /// [`ServerConfig::max_clients_per_mac`] other identifiers already hold addresses.
    TooManyClientsPerMac,
    /// A RELEASE/DECLINE for an address this server has no record of.
    UnknownBinding,
    /// An INIT-REBOOT, RENEWING or REBINDING REQUEST for an address this server does not lease
    /// on the client's network (another server's, or another network's): RFC 2131 §4.3.2 has a
    /// server without a record stay silent ([`ServerConfig::authoritative`] NAKs instead).
    NotOurAddress(core::net::Ipv4Addr),
    /// An INIT-REBOOT, RENEWING or REBINDING REQUEST for a free address of ours from a client
    /// this server has no record of (RFC 2131 §4.3.2: silent; it may be another server's
    /// client; [`ServerConfig::authoritative`] ACKs it instead).
    UnknownClient(core::net::Ipv4Addr),
    /// The reply could not be written (too big for the client's limit or the buffer).
    EmitFailed(Error),
}

/// Why a relay address (`giaddr`) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayProblem {
    /// It is this server's own address: replies would come back to us.
    OwnAddress,
    /// It is a broadcast address (limited, or a configured network's).
    Broadcast,
    /// It is a multicast address.
    Multicast,
    /// It is a loopback address.
    Loopback,
    /// It is on none of the configured networks.
    NoSubnet,
}

/// A lease state change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseChange {
    /// The client's hardware address (none for a declined address).
    pub mac: Option<MacAddr>,
    /// The client identifier it is known by, when that is not `mac` ([`Lease::client_id`]).
    pub client_id: Option<alloc::vec::Vec<u8>>,
    /// The address.
    pub ip: core::net::Ipv4Addr,
    /// The new state.
    pub state: LeaseState,
    /// When the new state ends.
    pub expires: Instant,
}

/// Counters a responder keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handled.
    pub received: u64,
    /// Datagrams that did not parse.
    pub malformed: u64,
    /// Requests not answered (any reason).
    pub ignored: u64,
    /// OFFERs sent.
    pub offers: u64,
    /// ACKs sent.
    pub acks: u64,
    /// NAKs sent.
    pub naks: u64,
    /// Replies that could not be written.
    pub emit_failures: u64,
    /// The last parse error.
    pub last_error: Option<Error>,
}

/// Which `once` rules each client has used, and in which transaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct OnceMemory {
    used: BTreeMap<(MacAddr, usize), (u32, Instant)>,
}

impl OnceMemory {
    /// Whether rule `rule` is used up for this client: used in another transaction within the
    /// window.
    pub(crate) fn used(
        &self,
        mac: MacAddr,
        xid: u32,
        rule: usize,
        now: Instant,
        window: u32,
    ) -> bool {
        self.used.get(&(mac, rule)).is_some_and(|&(x, at)| {
            x != xid && now < at + core::time::Duration::from_secs(u64::from(window))
        })
    }

    pub(crate) fn record(
        &mut self,
        mac: MacAddr,
        xid: u32,
        rule: usize,
        now: Instant,
        window: u32,
    ) {
        // The first transaction owns the rule for the whole window: retransmissions and the
        // REQUEST that follows an OFFER carry the same xid.
        let w = core::time::Duration::from_secs(u64::from(window));
        let slot = self.used.entry((mac, rule)).or_insert((xid, now));
        if now >= slot.1 + w {
            *slot = (xid, now);
        }
    }

    pub(crate) fn expire(&mut self, now: Instant, window: u32) {
        let w = core::time::Duration::from_secs(u64::from(window));
        self.used.retain(|_, &mut (_, at)| now < at + w);
    }

    pub(crate) fn next_deadline(&self, window: u32) -> Option<Instant> {
        let w = core::time::Duration::from_secs(u64::from(window));
        self.used.values().map(|&(_, at)| at + w).min()
    }
}
