//! Limits of the TFTP service that are the driver's business: the default transfer cap and
//! the rate-limited warning for requests dropped at it. Which requests run, and which are
//! repeats, is decided by the core (`pxe_tftp::Server`).

use std::time::Duration;

use pxe_proto::Instant;

/// Default cap on established transfers. Well above a 500-client mass install (which dnsmasq's
/// default of 50 and atftpd's 100 would throttle), and below what exhausts the host: each
/// transfer is a task (a few KiB), a reply socket (files are shared between transfers) and
/// its window of buffer (benches/README.md measures ~44 KiB per transfer at windowsize 16).
///
/// Not raised with the event loop, although 10 000 transfers now run on one thread per CPU:
/// more at once adds no throughput (2000 transfers already split a 10 GbE link into 5 Mbit/s
/// each), only memory and descriptors, and a request over the cap is not lost — it is dropped
/// unanswered, the client retransmits it and is served when a transfer ends. The handshake
/// budget follows the cap (`pxe_tftp::ServerConfig::handshake_budget`), so a larger storm
/// needs only `max_transfers` raised.
pub const DEFAULT_MAX_TRANSFERS: usize = 2000;

/// At most one "requests dropped" warning per this long.
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(1);

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
