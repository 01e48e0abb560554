//! `pxe menu lint|render` (owned by engineer B). SKELETON.

use std::process::ExitCode;

use crate::cli::{MenuArgs, MenuCommand};
use crate::error::Error;

/// Runs `pxe menu lint` or `pxe menu render`.
pub fn run(args: &MenuArgs) -> Result<ExitCode, Error> {
    match &args.command {
        MenuCommand::Lint(a) => Err(Error::NotWired(format!(
            "pxe menu lint {} --root {:?} --format {:?}",
            a.file.display(),
            a.root,
            a.format
        ))),
        MenuCommand::Render(a) => Err(Error::NotWired(format!(
            "pxe menu render {} --out {}",
            a.menu.display(),
            a.out.display()
        ))),
    }
}
