//! The event stream: what the server decided and did, as typed values, for status pages,
//! metrics and the programs that embed the server ([`crate::Handle::events`]).
//!
//! Every event goes to every subscriber through a [`tokio::sync::broadcast`] channel of
//! [`EVENT_CAPACITY`] events. The server never waits for a subscriber: one that falls more than
//! that many events behind loses the oldest ones, and its next `recv` returns
//! [`tokio::sync::broadcast::error::RecvError::Lagged`] with the number lost before going on
//! with the oldest event still held. With no subscriber, no event is even built.
//!
//! Order: a transfer's [`Event::TransferStarted`] comes before its
//! [`Event::TransferProgress`] events and its one [`Event::TransferFinished`]; a request refused
//! before any byte was sent (file not found, not readable) gets only a `TransferFinished` whose
//! result is [`TransferResult::Refused`]. Events of different transfers interleave.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use pxe_proto::MacAddr;
use tokio::sync::broadcast;

/// Events a subscriber may fall behind by before it loses the oldest ones.
pub const EVENT_CAPACITY: usize = 4096;

/// How often a running transfer reports its progress at most.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// A subscription to the event stream ([`crate::Handle::events`]).
pub type EventReceiver = broadcast::Receiver<Event>;

/// Something the server decided or did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A DHCP client was sent a boot decision, or was refused one.
    Dhcp(DhcpDecision),
    /// A DHCP lease changed state.
    Lease(LeaseEvent),
    /// A TFTP or HTTP transfer started sending (or receiving) bytes.
    TransferStarted(TransferStarted),
    /// A running transfer's byte count, at most every [`PROGRESS_INTERVAL`].
    TransferProgress(TransferProgress),
    /// A transfer ended, or a request was refused.
    TransferFinished(TransferFinished),
    /// A configuration was applied by [`crate::Handle::reload`].
    Reloaded(crate::ReloadReport),
    /// The HTTP server closed an idle connection to make room, or refused a client over its
    /// own cap ([`crate::http::slots`]).
    HttpConnectionLimited(HttpConnectionLimited),
}

/// What an HTTP connection cap did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionLimit {
    /// An idle connection (waiting for a request) was closed to make room for a new one.
    EvictedIdle,
    /// A new connection was closed at once: its client already held
    /// `max_connections_per_client`, all busy.
    RefusedPerClient,
}

/// An HTTP connection cap acted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpConnectionLimited {
    /// When.
    pub at: SystemTime,
    /// The client address of the connection closed.
    pub client: IpAddr,
    /// What was done.
    pub action: ConnectionLimit,
}

/// A DHCP decision for one client message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DhcpDecision {
    /// When it was made.
    pub at: SystemTime,
    /// The client's hardware address, when the message was parsable.
    pub mac: Option<MacAddr>,
    /// The client architecture (option 93's first entry, RFC 4578 §2.1), named, if sent.
    pub arch: Option<String>,
    /// The firmware kind (`PXE ROM`, `iPXE`, `HTTP client`, ...), if classified.
    pub firmware: Option<String>,
    /// The user class (option 77), if sent (iPXE sends `iPXE`).
    pub user_class: Option<String>,
    /// The rule (or host entry, or decider) that chose the boot file.
    pub rule: Option<String>,
    /// The boot file or URL sent.
    pub boot_file: Option<String>,
    /// The next server sent (`siaddr`).
    pub next_server: Option<Ipv4Addr>,
    /// Why no boot reply was sent, when none was; `None` for a decision sent.
    pub refused: Option<String>,
    /// The whole decision in words, as logged.
    pub reason: String,
}

/// What happened to a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseAction {
    /// Offered, not bound yet.
    Offered,
    /// Bound (ACKed): granted or renewed.
    Granted,
    /// Given back by the client (DHCPRELEASE).
    Released,
    /// Its time ran out.
    Expired,
    /// The client said the address is in use (DHCPDECLINE); held back for a lease time.
    Declined,
}

/// A lease state change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseEvent {
    /// When it happened.
    pub at: SystemTime,
    /// The client's hardware address (none for a declined address).
    pub mac: Option<MacAddr>,
    /// The address.
    pub ip: Ipv4Addr,
    /// What happened.
    pub action: LeaseAction,
    /// How long the new state lasts, from `at`.
    pub remaining: Duration,
}

/// The protocol of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// TFTP (RFC 1350).
    Tftp,
    /// HTTP/1.1 (RFC 9112).
    Http,
}

/// Identifies one transfer across its events; unique within a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(pub u64);

impl TransferId {
    /// A new, unused id.
    #[must_use]
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A transfer began.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferStarted {
    /// This transfer.
    pub id: TransferId,
    /// TFTP or HTTP.
    pub protocol: Protocol,
    /// The client.
    pub client: SocketAddr,
    /// The file name as requested.
    pub file: String,
    /// Bytes to send, when known (downloads).
    pub size: Option<u64>,
    /// An upload (TFTP write request).
    pub upload: bool,
    /// When it began.
    pub at: SystemTime,
}

/// How far a transfer has come.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferProgress {
    /// The transfer.
    pub id: TransferId,
    /// TFTP or HTTP.
    pub protocol: Protocol,
    /// Bytes acknowledged (TFTP) or handed to the connection (HTTP) so far.
    pub bytes: u64,
    /// Bytes in all, when known.
    pub size: Option<u64>,
}

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferResult {
    /// Every byte went through.
    Completed,
    /// A TFTP client read only the size (`tsize`) and stopped, as EDK2 does before its download.
    SizeProbe,
    /// Refused before any byte: not found, not readable, outside the root; the reason.
    Refused(String),
    /// Ended early: the client went away or timed out, an error was sent or received, the
    /// server stopped; the reason.
    Failed(String),
}

/// A transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferFinished {
    /// The transfer (fresh for a refused request, which had no `TransferStarted`).
    pub id: TransferId,
    /// TFTP or HTTP.
    pub protocol: Protocol,
    /// The client.
    pub client: SocketAddr,
    /// The file name as requested.
    pub file: String,
    /// Payload bytes moved.
    pub bytes: u64,
    /// How long it ran.
    pub duration: Duration,
    /// The HTTP status sent (HTTP only).
    pub status: Option<u16>,
    /// TFTP packets sent again (a timeout or a repeated ACK); 0 for HTTP.
    pub retransmits: u64,
    /// TFTP retransmission timeouts that fired; 0 for HTTP.
    pub timeouts: u64,
    /// How it ended.
    pub result: TransferResult,
}

/// The sending side of the stream, shared by every driver. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Events {
    tx: Arc<broadcast::Sender<Event>>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    /// A stream with no subscriber yet.
    #[must_use]
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(EVENT_CAPACITY);
        Self { tx: Arc::new(tx) }
    }

    /// A new subscription: it gets every event sent from now on.
    #[must_use]
    pub fn subscribe(&self) -> EventReceiver {
        self.tx.subscribe()
    }

    /// Whether anyone listens; drivers skip building events otherwise.
    #[must_use]
    pub fn active(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Sends the event `make` builds, if anyone listens. Never blocks.
    pub fn emit(&self, make: impl FnOnce() -> Event) {
        if self.active() {
            // Err only when the last receiver went away meanwhile: nobody to tell.
            let _ = self.tx.send(make());
        }
    }
}

/// Rate-limits one transfer's progress events to one per [`PROGRESS_INTERVAL`].
#[derive(Debug)]
pub struct ProgressTicker {
    events: Events,
    id: TransferId,
    protocol: Protocol,
    size: Option<u64>,
    last: std::time::Instant,
}

impl ProgressTicker {
    /// A ticker for transfer `id`; the first report comes one interval after now.
    #[must_use]
    pub fn new(events: Events, id: TransferId, protocol: Protocol, size: Option<u64>) -> Self {
        Self {
            events,
            id,
            protocol,
            size,
            last: std::time::Instant::now(),
        }
    }

    /// Reports `bytes` if an interval has passed since the last report.
    pub fn tick(&mut self, bytes: u64) {
        // The clock first: `active` locks the channel, which every connection shares.
        if self.last.elapsed() < PROGRESS_INTERVAL || !self.events.active() {
            return;
        }
        self.last = std::time::Instant::now();
        let (id, protocol, size) = (self.id, self.protocol, self.size);
        self.events.emit(|| {
            Event::TransferProgress(TransferProgress {
                id,
                protocol,
                bytes,
                size,
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(n: u64) -> Event {
        Event::TransferFinished(TransferFinished {
            id: TransferId(n),
            protocol: Protocol::Tftp,
            client: "127.0.0.1:1".parse().unwrap(),
            file: "f".into(),
            bytes: n,
            duration: Duration::ZERO,
            status: None,
            retransmits: 0,
            timeouts: 0,
            result: TransferResult::Completed,
        })
    }

    #[test]
    fn nothing_is_built_without_subscribers() {
        let events = Events::new();
        events.emit(|| unreachable!("no subscriber"));
    }

    #[test]
    fn a_slow_subscriber_lags_and_goes_on() {
        let events = Events::new();
        let mut rx = events.subscribe();
        for n in 0..(EVENT_CAPACITY as u64 + 10) {
            events.emit(|| finished(n));
        }
        assert_eq!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(10))
        );
        assert_eq!(rx.try_recv(), Ok(finished(10)));
    }

    #[test]
    fn ids_are_unique() {
        assert_ne!(TransferId::next(), TransferId::next());
    }
}
