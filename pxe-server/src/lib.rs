//! `pxe-server`: the `pxe` network-boot server as a library — the Linux drivers that run the
//! Sans-IO cores (`pxe-tftp`, `pxe-dhcp`, `pxe-menu`) over real sockets, files and clocks.
//!
//! - [`tftp`]: the TFTP service (listener, transfers, the confined root [`tftp::fs`]).
//! - [`http`]: the same root read-only over HTTP/1.1 (our own server: `httparse`, `sendfile`).
//! - [`dhcp`]: proxyDHCP and the DHCP lease server on an interface.
//! - [`dhcp6`]: the DHCPv6 boot-options responder and stateful server, and router
//!   advertisements.
//! - [`config`]: the TOML config and its defaults.
//! - [`PxeServer`]: all of them as one server ([`server`]): a builder, then a [`Handle`] to
//!   stop it, [`Handle::reload`] a new config and subscribe to its [`events`].
//! - [`serve`]: `pxe serve`, the server until SIGINT or SIGTERM, reloaded on SIGHUP.
//! - [`privilege`]: the switch to an unprivileged user with only the capabilities still used.
//! - [`admin`]: the admin listener (Prometheus metrics, the live status page) over the events.
//! - [`logging`]: log lines clients cannot forge, journald priorities; [`notify`]: sd_notify.
//! - [`demo`]: a root built into the crate, served when nothing else is configured.
//!
//! The `pxe` binary (`pxe-bin`) is the command line over this crate.
//!
//! ```no_run
//! # async fn f() -> Result<(), pxe_server::Error> {
//! use pxe_server::PxeServer;
//!
//! // The embedded demo root over TFTP (127.0.0.1:6969) and HTTP (127.0.0.1:6980).
//! let handle = PxeServer::builder().demo().start().await?;
//! let mut events = handle.events();
//! if let Ok(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! handle.shutdown().await
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admin;
pub mod atomic;
pub mod config;
pub mod decide;
pub mod demo;
pub mod dhcp;
pub mod dhcp6;
pub mod doctor;
mod error;
pub mod events;
pub mod fdlimit;
pub mod http;
pub mod layout;
pub mod logging;
pub mod menu;
pub mod menu_tree;
pub mod notify;
pub mod privilege;
pub mod ranges;
pub mod rendered;
pub mod serve;
pub mod server;
pub mod tftp;
pub mod udp;

pub use crate::error::Error;
pub use crate::events::Event;
pub use crate::server::{Bound, Builder, Handle, PxeServer, ReloadReport};
