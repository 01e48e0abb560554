//! `pxe tftp`: the TFTP driver.

use std::process::ExitCode;

use crate::cli::TftpArgs;
use crate::error::Error;

/// Runs `pxe tftp`.
pub fn run(args: &TftpArgs) -> Result<ExitCode, Error> {
    Err(Error::NotWired(format!("pxe tftp {args:?}")))
}
