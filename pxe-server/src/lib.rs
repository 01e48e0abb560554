//! `pxe-server`: the `pxe` network-boot server as a library — the Linux drivers that run the
//! Sans-IO cores (`pxe-tftp`, `pxe-dhcp`, `pxe-menu`) over real sockets, files and clocks.
//!
//! - [`tftp`]: the TFTP service (listener, transfers, the confined root [`tftp::fs`]).
//! - [`http`]: the same root read-only over HTTP/1.1 (hyper).
//! - [`dhcp`]: proxyDHCP and the DHCP lease server on an interface.
//! - [`config`]: the TOML config and its defaults; [`serve`] runs everything a config asks for.
//! - [`demo`]: a root built into the crate, served when nothing else is configured.
//!
//! The `pxe` binary (`pxe-bin`) is the command line over this crate.
//!
//! ```no_run
//! use pxe_server::config::Config;
//!
//! // Serve the embedded demo root over TFTP (127.0.0.1:6969) and HTTP (127.0.0.1:6980)
//! // until SIGINT or SIGTERM.
//! let code = pxe_server::serve::run(Config::default(), true)?;
//! # let _ = code;
//! # Ok::<(), pxe_server::Error>(())
//! ```

pub mod config;
pub mod demo;
pub mod dhcp;
mod error;
pub mod fdlimit;
pub mod http;
pub mod ranges;
pub mod serve;
pub mod tftp;
pub mod udp;

pub use crate::error::Error;
