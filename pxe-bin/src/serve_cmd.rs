//! `pxe serve` and `pxe tftp`: the command-line flags turned into the server library's
//! config and overrides, then [`pxe_server::serve::run`] / [`pxe_server::tftp::run`].

use std::process::ExitCode;

use pxe_server::config::{Config, Overrides, TftpConfig};
use pxe_server::dhcp::DhcpOverrides;

use crate::cli::{ServeArgs, TftpArgs};
use crate::error::Error;

/// Runs `pxe serve` (and plain `pxe`, the demo).
pub fn serve(args: &ServeArgs) -> Result<ExitCode, Error> {
    let demo = args.is_demo();
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let mut overrides = Overrides::default();
    overrides.root.clone_from(&args.root);
    overrides.listen = args.listen;
    overrides.http = args.http;
    overrides.dhcp = dhcp_overrides(args);
    config.apply_overrides(&overrides)?;
    pxe_server::serve::run(config, demo)
}

fn dhcp_overrides(args: &ServeArgs) -> DhcpOverrides {
    let mut d = DhcpOverrides::default();
    d.mode = args.dhcp.dhcp;
    d.interface.clone_from(&args.dhcp.interface);
    d.range = args.dhcp.dhcp_range;
    d.leases.clone_from(&args.dhcp.leases);
    d
}

/// Runs `pxe tftp`, the tftpd-hpa drop-in.
pub fn tftp(args: &TftpArgs) -> Result<ExitCode, Error> {
    let t = TftpConfig {
        listen: Some(args.listen),
        secure: args.secure,
        user: args.user.clone(),
        create: args.create,
        blksize_max: args.blksize_max,
        windowsize_max: args.windowsize_max,
        port_range: args.port_range,
        max_transfers: args.max_transfers,
        max_handshakes: args.max_handshakes,
    };
    pxe_server::tftp::run(&args.root, &t)
}
