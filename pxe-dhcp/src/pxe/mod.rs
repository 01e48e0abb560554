//! PXE client knowledge: the architecture table, the PXE 2.1 vendor sub-options of option 43
//! (re-exported from [`crate::wire`], where the option table needs them) and client
//! classification.

mod arch;
mod client;

pub use arch::{Arch, ArchKind};
pub use client::{ClientInfo, Family, Firmware, IpFamily, UndiVersion};

pub use crate::wire::{BootServer, MenuItem, PxeSubOption, VendorOptions};
