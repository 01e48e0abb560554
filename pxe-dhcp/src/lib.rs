//! pxe-dhcp (work in progress).
#![no_std]
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
pub mod policy;
pub mod pxe;
pub mod responder;
pub mod wire;

pub use error::Error;
