//! `pxe doctor [--config FILE]`: runs [`pxe_server::doctor`]'s checks (with the menu lint of
//! [`crate::menu_cmd`]) and prints the findings.

use std::path::PathBuf;
use std::process::ExitCode;

use pxe_server::config::{self, Config};
use pxe_server::doctor::{self, Severity};

use crate::cli::DoctorArgs;
use crate::error::Error;

/// Runs `pxe doctor`.
pub fn run(args: &DoctorArgs) -> Result<ExitCode, Error> {
    let path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH));
    if args.config.is_none() && !path.exists() {
        return Err(Error::Doctor(format!(
            "no config at {} (the default); pass --config FILE (`pxe init DIR` writes DIR/pxe.toml)",
            path.display()
        )));
    }
    let config = Config::load(&path)?;
    let report = doctor::check(&config, &path, crate::menu_cmd::doctor_lint);
    println!("pxe doctor --config {}", path.display());
    for f in &report.findings {
        println!("{f}");
    }
    let (e, w) = (
        report.count(Severity::Error),
        report.count(Severity::Warning),
    );
    println!("\n{e} error(s), {w} warning(s)");
    Ok(if e > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
