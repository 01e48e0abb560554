//! PXE client knowledge: the architecture table and client classification.

mod arch;

pub use arch::{Arch, ArchKind};
