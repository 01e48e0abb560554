//! Errors: caller misuse ([`Error`]) and why a transfer ended badly ([`TransferError`]).
//!
//! Peer misbehaviour is never an `Err` from `handle_*`: it is dropped and counted, answered with
//! an ERROR packet, or ends the session with [`TransferError`] in its final event.

use alloc::string::String;

use pxe_proto::WireError;

use crate::wire::ErrorCode;

/// A call the session could not honour: the driver used the API in a way the protocol state
/// does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `supply` was called for an offset the session did not ask for (or none was pending).
    #[error("data supplied for offset {got}, but the pending request is {expected:?}")]
    UnexpectedOffset {
        /// The offset the driver passed.
        got: u64,
        /// The offset of the pending `NeedData`, if any.
        expected: Option<u64>,
    },
    /// `supply` got more bytes than the `NeedData` asked for.
    #[error("{len} bytes supplied, but only {max} were asked for")]
    TooMuchData {
        /// Bytes supplied.
        len: usize,
        /// Bytes asked for.
        max: usize,
    },
    /// The session has already finished.
    #[error("the transfer has already finished")]
    Finished,
    /// A packet could not be written (a string with a NUL, a buffer too small).
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// Why a transfer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The peer sent an ERROR packet.
    #[error("peer aborted with error {code}: {message}")]
    Peer {
        /// Its code.
        code: ErrorCode,
        /// Its message (lossy UTF-8, at most 128 bytes kept).
        message: String,
    },
    /// No progress after `retries` retransmissions with backoff.
    #[error("no response after {retries} retransmissions")]
    TimedOut {
        /// Retransmissions made.
        retries: u32,
    },
    /// The peer's OACK carried an option we did not ask for or a value we cannot use
    /// (client side; RFC 2347 says to answer with ERROR 8).
    #[error("option negotiation failed: {reason}")]
    OptionNegotiation {
        /// What was wrong.
        reason: &'static str,
    },
    /// The peer sent a packet that makes no sense at this point (answered with ERROR 4).
    #[error("illegal operation from peer: {reason}")]
    IllegalOperation {
        /// What was wrong.
        reason: &'static str,
    },
    /// The file ended before the size it had when the transfer started (it shrank, or was
    /// replaced by a shorter one, under the transfer): the client was told with ERROR 0, never
    /// given a short file as if it were whole.
    #[error("file changed on the server: {missing} of its {size} bytes are gone")]
    FileChanged {
        /// The size when the transfer started (announced as `tsize` if asked).
        size: u64,
        /// Bytes missing at the end.
        missing: u64,
    },
    /// The driver aborted the transfer (for example after a read error).
    #[error("aborted locally with error {code}")]
    Aborted {
        /// The code sent to the peer.
        code: ErrorCode,
    },
}

/// Peer error messages are kept up to this many bytes.
const PEER_MESSAGE_MAX: usize = 128;

impl TransferError {
    /// The failure for an ERROR packet from the peer: the message is kept as lossy UTF-8, at
    /// most 128 bytes of it (it only goes to logs).
    pub(crate) fn from_peer(code: ErrorCode, message: &[u8]) -> Self {
        let message = message.get(..PEER_MESSAGE_MAX).unwrap_or(message);
        TransferError::Peer {
            code,
            message: String::from_utf8_lossy(message).into_owned(),
        }
    }

    /// The ERROR code a session sends to the peer for this failure, if it sends one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            TransferError::Peer { .. } | TransferError::TimedOut { .. } => None,
            TransferError::OptionNegotiation { .. } => Some(ErrorCode::OptionNegotiation),
            TransferError::IllegalOperation { .. } => Some(ErrorCode::IllegalOperation),
            TransferError::Aborted { code } => Some(*code),
            TransferError::FileChanged { .. } => Some(ErrorCode::NotDefined),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn peer_messages_are_bounded_and_lossy() {
        let long = vec![b'x'; 300];
        let TransferError::Peer { code, message } =
            TransferError::from_peer(ErrorCode::DiskFull, &long)
        else {
            panic!()
        };
        assert_eq!((code, message.len()), (ErrorCode::DiskFull, 128));
        assert_eq!(
            TransferError::from_peer(ErrorCode::NotDefined, b"bad \xff"),
            TransferError::Peer {
                code: ErrorCode::NotDefined,
                message: "bad \u{fffd}".into()
            }
        );
    }
}
