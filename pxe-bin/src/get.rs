//! `pxe get`: the reference TFTP client.

use std::process::ExitCode;

use crate::cli::GetArgs;
use crate::error::Error;

/// Runs `pxe get`.
pub fn run(args: &GetArgs) -> Result<ExitCode, Error> {
    Err(Error::NotWired(format!(
        "pxe get {} -o {:?} --blksize {:?} --windowsize {:?} --tsize {}",
        args.url, args.output, args.blksize, args.windowsize, args.tsize
    )))
}
