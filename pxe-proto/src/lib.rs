//! Shared primitives for the pxe Sans-IO protocol cores.
//!
//! Nothing here knows TFTP or DHCP. It holds what every core needs to stay free of I/O and run
//! without `std` (on an OS through `pxe-bin`, or on smoltcp):
//!
//! - [`Instant`]: a clock value the driver passes in (integer microseconds from any epoch);
//!   durations are [`core::time::Duration`].
//! - [`Datagram`] in, [`Transmit`] + [`Destination`] out.
//! - [`MacAddr`].
//! - [`Reader`]/[`Writer`]: bounds-checked big-endian cursors that never panic on short input.
//! - [`TlvIter`]/[`TlvWriter`]: the 1-byte code, 1-byte length format of DHCP options and PXE
//!   vendor sub-options (RFC 2132 §2).
//! - [`SansIo`]: the one driver contract every core implements.
//!
//! # Example
//! ```
//! use pxe_proto::{Reader, Writer, TlvIter, Tlv};
//!
//! let mut buf = [0u8; 16];
//! let mut w = Writer::new(&mut buf);
//! w.put_u16(0x0102).unwrap();
//! w.put_slice(&[53, 1, 1, 255]).unwrap();
//! let len = w.position();
//!
//! let mut r = Reader::new(&buf[..len]);
//! assert_eq!(r.u16().unwrap(), 0x0102);
//! let opts: Vec<Tlv<'_>> = TlvIter::new(r.rest()).collect::<Result<_, _>>().unwrap();
//! assert_eq!(opts[0].code, 53);
//! assert_eq!(opts[0].value, &[1]);
//! ```
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

mod cursor;
mod datagram;
mod error;
mod mac;
mod sans_io;
mod time;
mod tlv;

pub use cursor::{Reader, Writer};
pub use datagram::{Datagram, Destination, Transmit};
pub use error::WireError;
pub use mac::{DashedMac, MacAddr, ParseMacError};
pub use sans_io::SansIo;
pub use time::{Duration, Instant};
pub use tlv::{Tlv, TlvIter, TlvWriter};
