//! Which requests become transfers: one transfer per request (a retransmitted RRQ is not a
//! second one) and at most `max_transfers` at once, with a rate-limited warning for the
//! requests dropped at the cap.
//!
//! A request over the cap is dropped without a reply, like dnsmasq over `--tftp-max`: the
//! client retransmits its RRQ (RFC 1350 §2: the request is repeated until answered) and gets a
//! slot once one frees, where an ERROR would abort a PXE ROM's boot.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pxe_proto::Instant;

/// Default cap on concurrent transfers. Well above a 500-client mass install (which dnsmasq's
/// default of 50 and atftpd's 100 would throttle), and below what exhausts the host: each
/// transfer is a thread (256 KiB stack reserved), about two descriptors (reply socket, file)
/// and one window of buffer (94 KiB at blksize 1468 × windowsize 64), so 2000 transfers need
/// ~4000 descriptors, which a soft limit raised to the usual hard limit allows.
pub const DEFAULT_MAX_TRANSFERS: usize = 2000;

/// At most one "requests dropped" warning per this long.
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// What identifies a request: client address, file name and whether `tsize` was asked (EDK2's
/// second RRQ after its size probe comes from the same port without `tsize`: a new request).
pub type Key = (SocketAddr, Vec<u8>, bool);

/// The set of active transfers and its cap, shared by the listener and the transfer threads.
#[derive(Debug)]
pub struct Admission {
    max: usize,
    active: Mutex<HashSet<Key>>,
}

/// The listener's verdict on a request.
#[derive(Debug)]
pub enum Admit {
    /// Admitted: the transfer counts as active until the slot is dropped.
    Slot(Slot),
    /// The same request is already being served (a retransmitted RRQ): ignore it.
    Duplicate,
    /// `max_transfers` are active: drop the request without a reply.
    Full,
}

/// One admitted transfer; dropping it (transfer thread ends, or any refusal on the way)
/// frees its place, so no path can leak one.
#[derive(Debug)]
pub struct Slot {
    admission: Arc<Admission>,
    key: Key,
}

impl Admission {
    /// A cap of `max` concurrent transfers (at least 1).
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            active: Mutex::new(HashSet::new()),
        }
    }

    /// The cap.
    #[must_use]
    pub fn max(&self) -> usize {
        self.max
    }

    /// Transfers active now.
    #[must_use]
    pub fn active(&self) -> usize {
        self.lock().len()
    }

    /// Admits `key` unless it is already active or the cap is reached. Called before the file
    /// is opened, so a retransmitted WRQ cannot start a second upload beside the first.
    pub fn admit(self: &Arc<Self>, key: Key) -> Admit {
        let mut active = self.lock();
        if active.contains(&key) {
            Admit::Duplicate
        } else if active.len() >= self.max {
            Admit::Full
        } else {
            active.insert(key.clone());
            Admit::Slot(Slot {
                admission: Arc::clone(self),
                key,
            })
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<Key>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.lock().remove(&self.key);
    }
}

/// Counts dropped requests and says when to log them: the first at once, then at most once
/// per interval with the number dropped since the previous line, so a flood is one line a
/// second, not one per packet.
#[derive(Debug)]
pub struct DropLog {
    interval: Duration,
    last: Option<Instant>,
    pending: u64,
}

impl DropLog {
    /// At most one report per `interval`.
    #[must_use]
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            pending: 0,
        }
    }

    /// Counts one dropped request.
    pub fn record(&mut self) {
        self.pending = self.pending.saturating_add(1);
    }

    /// The number dropped since the last report, when one is due now. Call it after every
    /// input and on idle ticks, so the tail of a burst is reported too.
    pub fn due(&mut self, now: Instant) -> Option<u64> {
        if self.pending == 0
            || self
                .last
                .is_some_and(|t| now.saturating_duration_since(t) < self.interval)
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16, name: &str) -> Key {
        (
            SocketAddr::from(([192, 0, 2, 1], port)),
            name.as_bytes().to_vec(),
            false,
        )
    }

    #[test]
    fn cap_duplicates_and_release() {
        let a = Arc::new(Admission::new(2));
        let Admit::Slot(s1) = a.admit(key(1, "f")) else {
            panic!("first refused")
        };
        assert!(matches!(a.admit(key(1, "f")), Admit::Duplicate));
        let Admit::Slot(s2) = a.admit(key(2, "f")) else {
            panic!("second refused")
        };
        assert_eq!(a.active(), 2);
        assert!(matches!(a.admit(key(3, "f")), Admit::Full));
        // At the cap, a retransmission of an active request is still a duplicate.
        assert!(matches!(a.admit(key(2, "f")), Admit::Duplicate));
        assert_eq!(a.active(), 2, "refusals must not count");
        drop(s1);
        assert_eq!(a.active(), 1);
        let Admit::Slot(s3) = a.admit(key(3, "f")) else {
            panic!("not admitted after a slot freed")
        };
        drop((s2, s3));
        assert_eq!(a.active(), 0);
    }

    #[test]
    fn zero_cap_is_one() {
        let a = Arc::new(Admission::new(0));
        assert_eq!(a.max(), 1);
        assert!(matches!(a.admit(key(1, "f")), Admit::Slot(_)));
    }

    #[test]
    fn drop_log_reports_first_at_once_then_once_per_interval() {
        let t = |ms| Instant::from_millis(ms);
        let mut log = DropLog::new(Duration::from_secs(1));
        assert_eq!(log.due(t(0)), None, "nothing dropped yet");
        log.record();
        assert_eq!(log.due(t(10)), Some(1));
        for _ in 0..500 {
            log.record();
        }
        assert_eq!(log.due(t(500)), None, "within the interval");
        assert_eq!(log.due(t(1009)), None);
        assert_eq!(log.due(t(1010)), Some(500), "the burst, summed");
        assert_eq!(log.due(t(5000)), None, "nothing new");
        log.record();
        assert_eq!(log.due(t(5001)), Some(1), "after a quiet spell, at once");
    }
}
