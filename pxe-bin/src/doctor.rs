//! `pxe doctor [--config FILE]` (owned by engineer B). SKELETON.

use std::process::ExitCode;

use crate::cli::DoctorArgs;
use crate::error::Error;

/// Checks the served tree and the config.
pub fn run(args: &DoctorArgs) -> Result<ExitCode, Error> {
    Err(Error::NotWired(format!(
        "pxe doctor --config {:?}",
        args.config
    )))
}
