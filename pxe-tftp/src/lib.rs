#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
// Lints beyond the workspace's ([workspace.lints] in the root Cargo.toml), for the no_std
// cores only: `core`/`alloc` paths over `std` ones, and unsafe code forbidden outright.
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod client;
mod error;
mod netascii;
pub mod options;
pub mod path;
mod receiver;
mod rto;
mod server;
mod session;
mod stray;
pub mod wire;

pub use client::{CLIENT_RTO_MIN, Client, ClientConfig, ClientEvent};
pub use error::{Error, TransferError};
pub use options::{Negotiated, RequestedOptions, TftpOption};
pub use path::{PathError, SanitizeOptions, sanitize};
pub use server::{
    FileInfo, Incoming, RequestId, RequestKind, Server, ServerConfig, ServerStats, blksize_for_mtu,
};
pub use session::{Outcome, Session, SessionEvent, TransferStats};
pub use wire::{BlockNumber, ErrorCode, Mode, Opcode};
