//! `pxe serve` and `pxe tftp`: the command-line flags turned into the server library's
//! config and overrides, then [`pxe_server::serve::run`] / [`pxe_server::tftp::run`].

use std::path::Path;
use std::process::ExitCode;

use pxe_server::config::{Config, Overrides, TftpConfig};
use pxe_server::dhcp::DhcpOverrides;
use pxe_server::dhcp6::Dhcp6Overrides;

use crate::cli::{ServeArgs, TftpArgs};
use crate::error::Error;

/// Runs `pxe serve` (and plain `pxe`, the demo). With `--config`, SIGHUP reads the file
/// again (the flags still win over it) and re-renders the menu when its source changed.
pub fn serve(args: &ServeArgs) -> Result<ExitCode, Error> {
    let demo = args.is_demo();
    let mut overrides = Overrides::default();
    overrides.root.clone_from(&args.root);
    overrides.listen = args.listen;
    overrides.http = args.http;
    overrides.dhcp = dhcp_overrides(args);
    let mut d6 = Dhcp6Overrides::default();
    d6.mode = args.dhcp.dhcp6;
    d6.range = args.dhcp.dhcp6_range;
    overrides.dhcp6 = d6;
    let load = move |path: Option<&Path>| -> Result<Config, Error> {
        let mut config = match path {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        config.apply_overrides(&overrides)?;
        Ok(config)
    };
    let config = load(args.config.as_deref())?;
    let source = args.config.clone().map(|path| {
        let mut menu = pxe_server::menu::MenuSource::new(&config);
        Box::new(move || {
            let config = load(Some(&path))?;
            config
                .validate()
                .map_err(|m| Error::Usage(format!("configuration not reloaded: {m}")))?;
            // The rules still apply when the menu cannot be written (a root the service user
            // may not write): the error says so, and the next reload tries again.
            if let Err(e) = menu.rerender_if_changed(&config) {
                tracing::error!(error = %e, "menu not re-rendered; fix the menu source, or let the server's user write the rendered files (or run `pxe menu render` as root), then reload again");
            }
            Ok(config)
        }) as pxe_server::serve::ConfigSource
    });
    pxe_server::serve::run_reloadable(config, demo, source)
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
    let mut t = TftpConfig::default();
    t.listen = Some(args.listen);
    t.secure = args.secure;
    t.user.clone_from(&args.user);
    t.create = args.create;
    t.blksize_max = args.blksize_max;
    t.windowsize_max = args.windowsize_max;
    t.port_range = args.port_range;
    t.max_transfers = args.max_transfers;
    t.permissive = args.permissive;
    t.max_handshakes = args.max_handshakes;
    t.max_handshakes_per_source = args.max_handshakes_per_source;
    t.lockstep_threads = args.lockstep_threads;
    pxe_server::tftp::run(&args.root, &t)
}
