//! The driver contract every protocol core implements.

use crate::{Datagram, Instant, Transmit};

/// A protocol state machine that does no I/O.
///
/// The driver owns sockets, the clock and files; the core owns every protocol decision. The
/// contract (str0m's rule, quinn-proto's shape):
///
/// 1. Feed input with [`handle_datagram`](SansIo::handle_datagram) or, when the deadline from
///    [`poll_timeout`](SansIo::poll_timeout) has passed, [`handle_timeout`](SansIo::handle_timeout).
/// 2. Then drain [`poll_transmit`](SansIo::poll_transmit) and [`poll_event`](SansIo::poll_event)
///    until both return `None`.
/// 3. Then read [`poll_timeout`](SansIo::poll_timeout) and sleep until that deadline or the next
///    datagram, whichever comes first.
///
/// Malformed input is never an error: the core drops it (or answers it with a protocol error)
/// and counts it. Calling `handle_timeout` early is harmless; it does nothing that is not due.
pub trait SansIo {
    /// What the core tells its driver besides datagrams (data requests, completions, decisions).
    type Event;

    /// A datagram arrived at `now`.
    fn handle_datagram(&mut self, now: Instant, dgram: Datagram<'_>);

    /// The clock reached `now`; act on any deadline that has passed.
    fn handle_timeout(&mut self, now: Instant);

    /// Writes the next datagram to send into `buf` and says where it goes, or `None` when there
    /// is nothing to send. `buf` should hold the largest datagram the core may emit (the TFTP
    /// block size plus 4, or 1500 for DHCP); a core never writes past `buf.len()`.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit>;

    /// The next deadline at which the driver must call `handle_timeout`, or `None` for none.
    fn poll_timeout(&self) -> Option<Instant>;

    /// The next event for the driver, or `None`.
    fn poll_event(&mut self) -> Option<Self::Event>;
}
