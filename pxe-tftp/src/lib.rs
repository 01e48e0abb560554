//! pxe-tftp (work in progress).
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;
