//! Datagrams from a wrong TID (RFC 1350 §4): "an error packet should be sent to the source of
//! the incorrect packet, while not disturbing the transfer". Shared by [`Session`] and
//! [`Client`].
//!
//! [`Session`]: crate::Session
//! [`Client`]: crate::Client

use alloc::collections::VecDeque;
use core::net::SocketAddr;

use pxe_proto::{Destination, Transmit};

use crate::wire::{self, ErrorCode, Opcode, Packet};

/// ERROR 5 replies queued at most; more are dropped, so a flood cannot grow memory.
const STRAY_MAX: usize = 4;

/// Sources owed an ERROR 5, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Strays(VecDeque<SocketAddr>);

impl Strays {
    /// `payload` came from `from`, which is not the peer. An ERROR is never answered (RFC 1350
    /// §7: an ERROR is not acknowledged), so two confused hosts cannot ping-pong.
    pub(crate) fn push(&mut self, from: SocketAddr, payload: &[u8]) {
        let is_error = Packet::new_unchecked(payload).opcode() == Some(Opcode::Error);
        if !is_error && self.0.len() < STRAY_MAX {
            self.0.push_back(from);
        }
    }

    /// The next ERROR 5, written into `buf`.
    pub(crate) fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let to = self.0.pop_front()?;
        Some(Transmit {
            destination: Destination::Unicast(to),
            local: None,
            len: wire::emit_error(ErrorCode::UnknownTransferId, "unknown transfer ID", buf),
        })
    }

    /// Whether no reply is owed.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
