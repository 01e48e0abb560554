//! DHCP driver (owned by engineer B). SKELETON: the contract only.
//!
//! Contract with `serve.rs` / `config.rs`:
//! - `DhcpConfig` is the `[dhcp]` table of the config file (serde; add fields freely).
//! - `DhcpConfig::apply_flags` folds `pxe serve`'s DHCP flags over the file's values.
//! - `DhcpConfig::mode` says whether DHCP runs (never unless asked for).
//! - `DhcpConfig::interface` names the interface; `serve` then listens for TFTP on its address.
//! - `run` serves until `shutdown` turns `true`, then saves leases and returns.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::cli::{DhcpFlags, DhcpMode};
use crate::error::Error;

/// The `[dhcp]` config table.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct DhcpConfig {}

impl DhcpConfig {
    /// Applies `pxe serve`'s DHCP flags over the file's values (flags win).
    pub fn apply_flags(&mut self, flags: &DhcpFlags) -> Result<(), Error> {
        if flags.is_empty() || (flags.dhcp == Some(DhcpMode::Off) && flags.dhcp_range.is_none()) {
            return Ok(());
        }
        Err(Error::NotWired(format!(
            "DHCP flags (--dhcp {:?} --interface {:?} --dhcp-range {:?} --leases {:?})",
            flags.dhcp, flags.interface, flags.dhcp_range, flags.leases
        )))
    }

    /// The DHCP mode in effect; [`DhcpMode::Off`] unless asked for.
    #[must_use]
    pub fn mode(&self) -> DhcpMode {
        DhcpMode::Off
    }

    /// The interface DHCP binds to, if any.
    #[must_use]
    pub fn interface(&self) -> Option<&str> {
        None
    }
}

/// What `serve` knows that DHCP needs.
#[derive(Debug, Clone)]
pub struct DhcpContext {
    /// The TFTP root (boot files are looked up here).
    pub root: PathBuf,
    /// Where TFTP listens (`next-server` is its IP, or `server_ip` when it is 0.0.0.0).
    pub tftp_listen: SocketAddr,
    /// The interface's IPv4 address and prefix length, when an interface is configured.
    pub server_ip: Option<(Ipv4Addr, u8)>,
}

/// Runs the DHCP service until `shutdown` becomes `true`.
pub async fn run(
    config: DhcpConfig,
    ctx: DhcpContext,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), Error> {
    drop(shutdown);
    Err(Error::NotWired(format!(
        "DHCP ({config:?}, root {}, tftp {}, server {:?})",
        ctx.root.display(),
        ctx.tftp_listen,
        ctx.server_ip
    )))
}
