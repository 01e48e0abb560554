//! What a TFTP root laid out by `pxe init` holds (the package files, from
//! [`pxe_server::layout`]), and how the commands write files into it.

use std::path::Path;

use crate::error::Error;

pub use pxe_server::layout::{PACKAGE_FILES, PackageFile, SECURE_BOOT_FILES};

/// Writes `bytes` to `dest` world-readable (0644) with [`pxe_server::atomic::write_atomic`], so a
/// TFTP client never reads half a file and a crash leaves the old file or the new one.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), Error> {
    pxe_server::atomic::write_atomic(dest, bytes, 0o644)
        .map_err(|e| Error::io(format!("write {}", dest.display()), e))
}
