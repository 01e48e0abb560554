//! The receiving half of a transfer, shared by the client (RRQ) and the server's WRQ session.
//!
//! RFC 7440 receiver rules: ACK after `windowsize` in-order blocks or the short last block;
//! on a gap or a duplicate, re-ACK the last in-order block once (the sender restarts its window
//! there; the flag clears on progress or on our own timeout so a lost re-ACK cannot stall).
//! In lock-step only a duplicate of the last block received can mean our ACK was lost; older
//! copies are ignored.
//! Out-of-order blocks are not buffered: the sender resends from the gap.

use alloc::vec::Vec;

use crate::netascii::Decoder;
use crate::options::Negotiated;
use crate::wire::BlockNumber;

/// What one DATA packet did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataOutcome {
    /// In order and kept; `last` when it was the short final block.
    Accepted { last: bool },
    /// Already received (or behind the window).
    Duplicate,
    /// Ahead of the next expected block.
    Gap,
    /// Not usable: oversized, unresolvable, or no room until the driver takes data.
    Dropped,
}

#[derive(Debug)]
pub(crate) struct Receiver {
    blksize: usize,
    window: u64,
    rollover: u16,
    /// The next block expected (1-based index).
    expected: u64,
    since_ack: u64,
    reacked: bool,
    ack_due: Option<u64>,
    done: bool,
    /// In-order bytes not yet handed to the driver, and their output offset.
    pending: Vec<u8>,
    pending_offset: u64,
    taken: bool,
    cap: usize,
    decoder: Option<Decoder>,
    /// Payload bytes received in order (wire bytes, before netascii decoding).
    pub(crate) bytes: u64,
}

impl Receiver {
    pub(crate) fn new(n: &Negotiated, netascii: bool, window_bytes_max: usize) -> Self {
        let blksize = usize::from(n.blksize);
        let window = u64::from(n.windowsize.max(1));
        let cap = (blksize * usize::from(n.windowsize.max(1))).min(window_bytes_max.max(blksize));
        Receiver {
            blksize,
            window,
            rollover: n.rollover,
            expected: 1,
            since_ack: 0,
            reacked: false,
            ack_due: None,
            done: false,
            pending: Vec::with_capacity(cap),
            pending_offset: 0,
            taken: false,
            cap,
            decoder: netascii.then(Decoder::default),
            bytes: 0,
        }
    }

    /// Handles a DATA packet's block number and payload.
    pub(crate) fn on_data(&mut self, block: BlockNumber, data: &[u8]) -> DataOutcome {
        if data.len() > self.blksize {
            return DataOutcome::Dropped;
        }
        let lo = self.expected.saturating_sub(32767);
        let Some(k) = block.resolve(lo, self.expected + 32767, self.rollover) else {
            return DataOutcome::Dropped;
        };
        if self.done {
            // Dallying: the sender lost our final ACK and resent the last block.
            if k + 1 == self.expected {
                self.ack_due = Some(k);
            }
            return DataOutcome::Duplicate;
        }
        if k != self.expected {
            if self.window == 1 && k + 1 < self.expected {
                // Lock-step: the sender had our ACK of `k` before it sent `k + 1`, so an older
                // copy is no sign of a lost ACK but a stale one — the network reordered it, or
                // it is the echo of an ACK our timer repeated (RFC 1123 §4.2.3.1). ACKing it
                // would make a Sorcerer's Apprentice sender send every later block twice.
                return DataOutcome::Duplicate;
            }
            if !self.reacked {
                self.reacked = true;
                self.ack_due = Some(self.expected - 1);
            }
            return if k < self.expected {
                DataOutcome::Duplicate
            } else {
                DataOutcome::Gap
            };
        }
        if self.taken {
            self.pending_offset += self.pending.len() as u64;
            self.pending.clear();
            self.taken = false;
        }
        if self.pending.len() + data.len() > self.cap {
            return DataOutcome::Dropped;
        }
        match &mut self.decoder {
            Some(dec) => dec.decode(data, &mut self.pending),
            None => self.pending.extend_from_slice(data),
        }
        self.bytes += data.len() as u64;
        self.expected += 1;
        self.since_ack += 1;
        self.reacked = false;
        let last = data.len() < self.blksize;
        if last {
            self.done = true;
            if let Some(dec) = &mut self.decoder {
                dec.finish(&mut self.pending);
            }
        }
        if last || self.since_ack >= self.window {
            self.ack_due = Some(k);
        }
        DataOutcome::Accepted { last }
    }

    /// Our retransmission timer fired: ACK the last in-order block again.
    pub(crate) fn on_timeout(&mut self) {
        self.reacked = false;
        self.ack_due = Some(self.expected - 1);
    }

    /// An ACK to send now, as a wire block number.
    pub(crate) fn take_ack(&mut self) -> Option<BlockNumber> {
        let k = self.ack_due.take()?;
        self.since_ack = 0;
        Some(BlockNumber::from_index(k, self.rollover))
    }

    /// Whether an ACK waits for `take_ack`.
    pub(crate) fn ack_pending(&self) -> bool {
        self.ack_due.is_some()
    }

    /// Drops the ACK a duplicate DATA just asked for.
    pub(crate) fn cancel_ack(&mut self) {
        self.ack_due = None;
    }

    /// Requests an ACK for the last in-order block (a repeated OACK means our ACK 0 was lost).
    pub(crate) fn reack(&mut self) {
        self.ack_due = Some(self.expected - 1);
    }

    /// In-order bytes the driver has not taken, with their output offset. The slice stays valid
    /// until the next DATA packet is handled.
    pub(crate) fn poll_data(&mut self) -> Option<(u64, &[u8])> {
        if self.taken || self.pending.is_empty() {
            return None;
        }
        self.taken = true;
        Some((self.pending_offset, &self.pending))
    }

    /// Whether bytes are waiting for `poll_data`.
    pub(crate) fn has_data(&self) -> bool {
        !self.taken && !self.pending.is_empty()
    }

    /// Blocks received in order.
    pub(crate) fn blocks(&self) -> u64 {
        self.expected - 1
    }

    /// Whether any DATA has arrived in order.
    pub(crate) fn started(&self) -> bool {
        self.expected > 1
    }
}
