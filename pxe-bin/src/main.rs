//! The `pxe` binary: TFTP, proxyDHCP/DHCP and boot menus in one process.
//!
//! Every subcommand lives in its own module with a `run` function returning
//! `Result<ExitCode, Error>`; `main` only parses flags, sets up logging and dispatches.

mod cli;
mod config;
mod dhcp;
mod doctor;
mod error;
mod get;
mod init;
mod logging;
mod menu_cmd;
mod serve;
mod tftp;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, ServeArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(ServeArgs::default()));
    let result = match &command {
        Command::Serve(args) => serve::run(args, cli.log_format),
        Command::Tftp(args) => tftp::run(args),
        Command::Get(args) => get::run(args),
        Command::Menu(args) => menu_cmd::run(args),
        Command::Init(args) => init::run(args),
        Command::Doctor(args) => doctor::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pxe: error: {e}");
            ExitCode::FAILURE
        }
    }
}
