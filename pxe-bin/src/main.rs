//! The `pxe` binary: TFTP, proxyDHCP/DHCP and boot menus in one process.
//!
//! Every subcommand lives in its own module with a `run` function returning
//! `Result<ExitCode, Error>`; `main` only parses flags, sets up logging and dispatches.

mod assets;
mod cli;
mod doctor;
mod error;
mod get;
mod init;
mod layout;
mod leases_cmd;
mod menu_cmd;
mod serve_cmd;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, LogFormat, ServeArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(ServeArgs::default()));
    pxe_server::logging::init(
        cli.log_format
            .or_else(|| config_log_format(&command))
            .unwrap_or_default(),
    );
    let result = match &command {
        Command::Serve(args) => serve_cmd::serve(args),
        Command::Tftp(args) => serve_cmd::tftp(args),
        Command::Get(args) => get::run(args),
        Command::Menu(args) => menu_cmd::run(args),
        Command::Init(args) => init::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Leases(args) => leases_cmd::run(args),
        Command::GenerateAssets(args) => assets::run(args),
    };
    // Batched log lines (HTTP requests) go out before the process does.
    pxe_server::logging::flush();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pxe: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The config file's `log_format`, read before logging starts (errors surface later, when the
/// command loads the file for real).
fn config_log_format(command: &Command) -> Option<LogFormat> {
    let path = match command {
        Command::Serve(a) => a.config.as_deref()?,
        Command::Doctor(a) => a.config.as_deref()?,
        _ => return None,
    };
    pxe_server::config::Config::load(path).ok()?.log_format
}
