//! `pxe init DIR` (owned by engineer B). SKELETON.

use std::process::ExitCode;

use crate::cli::InitArgs;
use crate::error::Error;

/// Lays out a TFTP root in `args.dir`.
pub fn run(args: &InitArgs) -> Result<ExitCode, Error> {
    Err(Error::NotWired(format!("pxe init {}", args.dir.display())))
}
