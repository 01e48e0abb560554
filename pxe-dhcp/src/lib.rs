//! Sans-IO PXE DHCP core: codec, client classification, boot policy, proxyDHCP and a lease
//! server. `no_std` + `alloc`; the `std` feature adds nothing but conveniences, `serde` (on by
//! default) derives (de)serialization for the policy, the responder settings and the lease table.
//!
//! # Shape
//!
//! | module | what |
//! |---|---|
//! | [`wire`] | [`wire::Packet`] (zero-copy view), [`wire::Repr`] (parse / `buffer_len` / emit), the option table ([`wire::OptionCode`], [`wire::DhcpOption`]) with typed values; option 52 overload, RFC 3396, 300-byte padding, option 57 |
//! | [`pxe`] | [`pxe::Arch`] / [`pxe::ArchKind`] (IANA table, erratum 4624), [`pxe::ClientInfo`] / [`pxe::Firmware`] classification |
//! | [`policy`] | [`policy::Policy`] of [`policy::Rule`]s → [`policy::BootDecision`] with a `reason` |
//! | [`responder`] | [`responder::ProxyResponder`], [`responder::LeaseServer`] (both [`pxe_proto::SansIo`]), [`responder::DhcpEvent`], [`responder::LeaseTable`] |
//!
//! A responder parses each datagram into a [`wire::Repr`], classifies the client
//! ([`pxe::ClientInfo::from_repr`]), asks the [`policy::Policy`] what it boots, queues the reply
//! with its RFC 2131 §4.1 destination and reports a [`responder::DhcpEvent::Boot`] whose
//! `decision.reason` the server logs. Malformed input is never an `Err` from the responders: it
//! is dropped, counted in [`responder::Stats`] and reported as
//! [`responder::DhcpEvent::Ignored`].
//!
//! # Example: classify and decide
//!
//! ```
//! use core::net::Ipv4Addr;
//! use pxe_dhcp::policy::Policy;
//! use pxe_dhcp::pxe::{Arch, ClientInfo, Firmware};
//! use pxe_dhcp::wire::{DhcpOption, MessageType, Op, Repr, UserClass};
//! use pxe_proto::MacAddr;
//!
//! // An iPXE BIOS ROM's DISCOVER, through the wire format and back.
//! let mut req = Repr::new(Op::BootRequest, 1, MacAddr([0x52, 0x54, 0, 0x77, 0, 0x10]));
//! req.options = vec![
//!     DhcpOption::MessageType(MessageType::Discover),
//!     DhcpOption::ClientSystemArchitecture(vec![Arch(0)]),
//!     DhcpOption::VendorClassIdentifier(b"PXEClient:Arch:00000:UNDI:002001".to_vec()),
//!     DhcpOption::UserClass(UserClass::Plain(b"iPXE".to_vec())),
//! ];
//! let mut buf = [0u8; 1500];
//! let n = req.emit(&mut buf).unwrap();
//! let parsed = Repr::parse_bytes(&buf[..n]).unwrap();
//!
//! let client = ClientInfo::from_repr(&parsed);
//! assert_eq!(client.firmware, Firmware::Ipxe);
//! let decision = Policy::default().decide(&client, Ipv4Addr::new(10, 77, 0, 1)).unwrap();
//! assert_eq!(decision.boot_file, "pxelinux.0"); // never undionly.kpxe again: no loop
//! assert_eq!(
//!     decision.reason,
//!     "52:54:00:77:00:10 arch 0 = BIOS, iPXE (UNDI 2.1), user class iPXE → pxelinux.0 by rule 4 (ipxe-bios)"
//! );
//! ```
//!
//! The crate README shows a whole proxyDHCP loop.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
// Lints beyond the workspace's ([workspace.lints] in the root Cargo.toml), for the no_std
// cores only: `core`/`alloc` paths over `std` ones, and unsafe code forbidden outright.
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
#[macro_use]
mod option_table;
pub mod policy;
pub mod pxe;
pub mod responder;
pub mod v6;
pub mod wire;

pub use error::Error;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
