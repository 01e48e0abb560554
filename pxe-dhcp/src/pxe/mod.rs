//! PXE client knowledge: the architecture table and client classification.

mod arch;
mod client;

pub use arch::{Arch, ArchKind};
pub use client::{ClientInfo, Firmware, UndiVersion};
