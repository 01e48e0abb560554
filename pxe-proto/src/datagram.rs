//! What a driver feeds into a core, and what it takes out.

use core::net::{Ipv4Addr, SocketAddr};

use crate::MacAddr;

/// One received UDP datagram, borrowed for the duration of a `handle_datagram` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// The peer that sent it (source address and port: the TFTP "TID" of RFC 1350 §4).
    pub remote: SocketAddr,
    /// The address and port it was sent to. The address may be a broadcast address (DHCP), and
    /// the driver fills it from `IP_PKTINFO`/smoltcp `UdpMetadata::local_address` where it can;
    /// when unknown, the unspecified address with the socket's port.
    pub local: SocketAddr,
    /// The UDP payload.
    pub payload: &'a [u8],
}

impl<'a> Datagram<'a> {
    /// A datagram from `remote` to `local` carrying `payload`.
    pub fn new(remote: SocketAddr, local: SocketAddr, payload: &'a [u8]) -> Self {
        Datagram {
            remote,
            local,
            payload,
        }
    }
}

/// Where a [`Transmit`] goes.
///
/// DHCP needs more than a socket address: RFC 2131 §4.1 sends some replies to the limited
/// broadcast address and others to an IP address the client does not answer ARP for yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// An ordinary unicast (or relay) address.
    Unicast(SocketAddr),
    /// The limited broadcast address 255.255.255.255 on the interface the request arrived on.
    Broadcast {
        /// Destination UDP port.
        port: u16,
    },
    /// Unicast to `ip` at link-layer address `chaddr`, without ARP (RFC 2131 §4.1: "the server
    /// unicasts DHCPOFFER and DHCPACK messages to the client's hardware address and 'yiaddr'").
    /// A driver that cannot add a neighbour entry sends to [`Destination::Broadcast`] instead,
    /// which every client accepts.
    ToHardware {
        /// The client's new IPv4 address.
        ip: Ipv4Addr,
        /// The client's hardware address.
        chaddr: MacAddr,
        /// Destination UDP port.
        port: u16,
    },
}

impl Destination {
    /// The destination UDP port.
    pub fn port(&self) -> u16 {
        match *self {
            Destination::Unicast(addr) => addr.port(),
            Destination::Broadcast { port } | Destination::ToHardware { port, .. } => port,
        }
    }
}

/// A datagram a core wants sent. Its payload is the first `len` bytes of the buffer the driver
/// passed to `poll_transmit`, so the hot path allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: Destination,
    /// The local address and port to send from, when the core cares (a DHCP reply leaves from
    /// the port the request came to; a TFTP ERROR 5 leaves from the session's port). `None`
    /// means the socket the core is bound to.
    pub local: Option<SocketAddr>,
    /// Payload length in the caller's buffer.
    pub len: usize,
}
