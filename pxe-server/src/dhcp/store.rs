//! Where the lease server's state lives: the [`LeaseStore`] trait the driver persists through,
//! and its implementation by the append-only journal ([`LeaseFile`]).
//!
//! The lease core (`pxe_dhcp::responder::LeaseServer`) keeps its leases as data and reports
//! every change as an event; the driver gathers a batch of changes and hands it to
//! [`LeaseStore::commit`] before any reply of that batch goes out, so a client is never ACKed
//! an address the store does not hold. A store shared by several servers (Kea's SQL lease
//! backends are the model) is also the arbiter between them: `commit` claims each address
//! atomically and reports the ones another server holds as [`HeldElsewhere`]; the driver then
//! marks them taken in the core and withholds the replies that named them.

use std::future::Future;
use std::net::Ipv4Addr;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use pxe_dhcp::responder::{Lease, LeaseTable};
use pxe_proto::Instant;

use super::clock::Clock;
use super::leases::{LeaseFile, LeaseFileError};

/// The future a [`LeaseStore`] operation returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why the lease store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The lease journal failed.
    #[error(transparent)]
    File(#[from] LeaseFileError),
    /// The lease database failed (connecting, migrating, reading or writing).
    #[error("lease database: {0}")]
    Database(String),
}

/// An address the commit could not claim: another server sharing the store holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldElsewhere {
    /// The address.
    pub ip: Ipv4Addr,
    /// When the other server's hold on it ends, in the driver's clock.
    pub until: Instant,
}

/// Durable lease state for one lease server.
pub trait LeaseStore: Send + Sync + std::fmt::Debug {
    /// Where the leases are kept, for logs.
    fn describe(&self) -> String;

    /// The directory the store writes in, if it is local (privileges are dropped after bind
    /// but this directory must stay writable).
    fn dir(&self) -> Option<&Path>;

    /// Every lease the store holds (this server's and, for a shared store, the others'),
    /// expiry times converted to `clock`'s time.
    fn load(&mut self, clock: &Clock) -> Result<LeaseTable, StoreError>;

    /// Makes `changes` durable: once the future returns `Ok`, they survive a crash. Addresses
    /// another server holds are not written and come back as [`HeldElsewhere`]; a store of one
    /// server returns none.
    fn commit<'a>(
        &'a mut self,
        changes: &'a [Lease],
        clock: &'a Clock,
    ) -> StoreFuture<'a, Vec<HeldElsewhere>>;

    /// How often [`LeaseStore::refresh`] should run: only a shared store has anything to read.
    fn refresh_interval(&self) -> Option<Duration> {
        None
    }

    /// Reads what other servers changed since the last load or refresh: addresses they now
    /// hold (until their expiry) or freed (until now), for the core to avoid or reuse.
    fn refresh<'a>(&'a mut self, _clock: &'a Clock) -> StoreFuture<'a, Vec<HeldElsewhere>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// Housekeeping after a successful commit (the journal compacts itself when it has grown
    /// to several times the table); errors are logged, not returned, as the store stays usable.
    fn maintain(&mut self, table: &LeaseTable, clock: &Clock);

    /// Saves `table` one last time at shutdown.
    fn close(&mut self, table: &LeaseTable, clock: &Clock) -> Result<(), StoreError>;
}

/// Compact the journal when it has this many lines more than the table has records (and more
/// than [`COMPACT_FACTOR`] times as many): Kea's lease file cleanup runs hourly; by size here,
/// so a boot storm is not slowed by a rewrite and a quiet server rarely rewrites at all.
const COMPACT_SLACK: usize = 100_000;
/// See [`COMPACT_SLACK`].
const COMPACT_FACTOR: usize = 4;

impl LeaseStore for LeaseFile {
    fn describe(&self) -> String {
        self.path().display().to_string()
    }

    fn dir(&self) -> Option<&Path> {
        Some(
            self.path()
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
    }

    fn load(&mut self, clock: &Clock) -> Result<LeaseTable, StoreError> {
        Ok(LeaseFile::load(self, clock)?)
    }

    fn commit<'a>(
        &'a mut self,
        changes: &'a [Lease],
        clock: &'a Clock,
    ) -> StoreFuture<'a, Vec<HeldElsewhere>> {
        // One process owns the file (`flock`), so nothing is ever held elsewhere; the append
        // and its `fdatasync` run inline, as before the trait existed: they are the commit.
        let r = self.append(changes, clock).map(|()| Vec::new());
        Box::pin(std::future::ready(r.map_err(StoreError::from)))
    }

    fn maintain(&mut self, table: &LeaseTable, clock: &Clock) {
        let live = table.len();
        if self.lines() > (live * COMPACT_FACTOR).max(live + COMPACT_SLACK) {
            let t0 = std::time::Instant::now();
            match self.compact(table, clock) {
                Ok(()) => tracing::info!(
                    leases = live,
                    ms = t0.elapsed().as_millis(),
                    "DHCP lease journal compacted"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "DHCP lease journal not compacted; appending on")
                }
            }
        }
    }

    fn close(&mut self, table: &LeaseTable, clock: &Clock) -> Result<(), StoreError> {
        Ok(self.compact(table, clock)?)
    }
}
