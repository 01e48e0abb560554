//! DHCPv6 (RFC 8415) with the network-boot options of RFC 5970, Sans-IO.
//!
//! | module | what |
//! |---|---|
//! | [`message`] | [`Packet`] / [`RelayPacket`] (zero-copy views) and [`Message`] / [`RelayMessage`] (parse / `buffer_len` / emit), [`MessageType`] |
//! | [`options`] | the option table ([`OptionCode`], [`Dhcp6Option`]) and typed values: [`IaNa`], [`IaAddress`], [`StatusCode`], [`VendorClass`] |
//! | [`duid`] | [`Duid`] (LLT, EN, LL, UUID) |
//! | [`relay`] | [`Envelope`]: relay chains unwrapped iteratively (at most [`MAX_RELAY_DEPTH`]) and the Relay-repl chain for a reply |
//! | [`responder`] | [`BootResponder`] (boot options only, beside another DHCPv6 server) and [`Server`] (stateful IA_NA leases), both [`pxe_proto::SansIo`] |
//!
//! The boot decision is the v4 one: a request becomes a [`crate::pxe::ClientInfo`] whose
//! [`family`](crate::pxe::ClientInfo::family) is [`crate::pxe::Family::V6`], the same
//! [`crate::policy::Policy`] decides, and the boot file goes out as a URL in option 59.

pub mod duid;
pub mod message;
pub mod options;
pub mod relay;
pub mod responder;

use core::net::Ipv6Addr;

pub use duid::Duid;
pub use message::{Message, MessageType, Packet, RelayMessage, RelayPacket};
pub use options::{
    Dhcp6Option, IaAddress, IaNa, LinkLayerAddress, OptionCode, PXE_ENTERPRISE, RawOption, Status,
    StatusCode, VendorClass,
};
pub use relay::{Envelope, MAX_RELAY_DEPTH};
pub use responder::{
    BootResponder, BootResponderConfig, Dhcp6Event, Ignore6, Lease6, Lease6Change, Lease6State,
    Lease6Table, Server, ServerConfig, Stats6,
};

/// UDP port clients listen on (RFC 8415 §7.2).
pub const CLIENT_PORT: u16 = 546;
/// UDP port servers and relay agents listen on (RFC 8415 §7.2).
pub const SERVER_PORT: u16 = 547;
/// All_DHCP_Relay_Agents_and_Servers, ff02::1:2: where clients send (RFC 8415 §7.1).
pub const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

/// Whether `addr` is inside `prefix/prefix_len` (a length above 128 counts as 128).
#[must_use]
pub fn prefix_contains(prefix: Ipv6Addr, prefix_len: u8, addr: Ipv6Addr) -> bool {
    let len = u32::from(prefix_len.min(128));
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(addr) & mask == u128::from(prefix) & mask
}
