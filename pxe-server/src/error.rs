//! The binary's one error type.

use std::io;
use std::path::PathBuf;

/// Everything a `pxe` command can fail with. Each variant says what failed and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation failed; `what` names the operation and its object.
    #[error("{what}: {source}")]
    Io {
        /// The operation and its object, e.g. "bind UDP 0.0.0.0:69".
        what: String,
        /// The OS error.
        source: io::Error,
    },
    /// The config file could not be read or is invalid.
    #[error("config {path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Flags or arguments that cannot work together.
    #[error("{0}")]
    Usage(String),
    /// The DHCP driver failed.
    #[error("DHCP: {0}")]
    Dhcp(String),
    /// A menu could not be parsed, linted or rendered.
    #[error("menu: {0}")]
    Menu(String),
    /// `pxe doctor` could not run its checks.
    #[error("doctor: {0}")]
    Doctor(String),
    /// The TFTP driver or client failed.
    #[error("TFTP: {0}")]
    Tftp(String),
}

impl Error {
    /// An [`Error::Io`] with its context.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
