//! Retransmission timeout: RFC 6298-style estimation, bounded, with exponential backoff.

use pxe_proto::Duration;

/// Clock granularity term `G` of RFC 6298 §2.
const GRANULARITY_MICROS: u64 = 1_000;

/// The retransmission timer value of one session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rto {
    /// Smoothed RTT and RTT variance in microseconds; `None` before the first sample.
    estimate: Option<(u64, u64)>,
    /// Fixed base when the client negotiated `timeout`/`utimeout` (RFC 2349).
    fixed: Option<u64>,
    base: u64,
    /// The most a backoff kept through progress may wait: the initial timeout.
    keep_max: u64,
    min: u64,
    max: u64,
    backoff: u32,
    /// Consecutive progress events without a sample that each needed two or more expiries.
    slow_streak: u8,
    /// Expiries since the last progress.
    expiries: u32,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Rto {
    pub(crate) fn new(
        initial: Duration,
        min: Duration,
        max: Duration,
        fixed: Option<Duration>,
    ) -> Self {
        let min = micros(min).max(1);
        let max = micros(max).max(min);
        // A granted `timeout`/`utimeout` of zero (invalid, RFC 2349 says 1-255 s, but a peer may
        // grant what a client asked) must still put the deadline after now: at least 1 µs.
        let fixed = fixed.map(|f| micros(f).max(1));
        let initial = micros(initial).clamp(min, max);
        Rto {
            estimate: None,
            fixed,
            base: fixed.unwrap_or(initial),
            keep_max: initial,
            min,
            max,
            backoff: 0,
            slow_streak: 0,
            expiries: 0,
        }
    }

    /// The current timeout, backoff included.
    pub(crate) fn current(&self) -> Duration {
        let cap = self.fixed.map_or(self.max, |f| f.max(self.max));
        let v = self
            .base
            .saturating_mul(1u64 << self.backoff.min(20))
            .min(cap);
        Duration::from_micros(v)
    }

    /// A round-trip sample from a packet that was sent once (Karn's rule is the caller's).
    pub(crate) fn sample(&mut self, rtt: Duration) {
        // A sample while the timer is still backed off twice or more (kept there because the
        // path got slower, see `progress_without_sample`) means the estimate is far too low:
        // start over from this sample rather than creep up to it through the damping (RFC
        // 6298 §5 allows clearing the estimate after repeated backoff).
        let stale = self.backoff >= 2;
        self.backoff = 0;
        self.slow_streak = 0;
        self.expiries = 0;
        if self.fixed.is_some() {
            return;
        }
        let r = micros(rtt);
        let (srtt, rttvar) = match self.estimate {
            None => (r, r / 2),
            Some(_) if stale => (r, r / 2),
            Some((srtt, rttvar)) => {
                // TFTP has no timestamps: an ACK the client resent from its own timer looks
                // like a slow round trip. Damping each sample to twice the mean (at least the
                // floor) keeps such outliers from inflating the timeout, while a real increase
                // still doubles the cap per sample.
                let r = r.min(srtt.saturating_mul(2).max(self.min));
                let rttvar = (3 * rttvar + srtt.abs_diff(r)) / 4;
                let srtt = (7 * srtt + r) / 8;
                (srtt, rttvar)
            }
        };
        self.estimate = Some((srtt, rttvar));
        self.base = srtt
            .saturating_add(GRANULARITY_MICROS.max(rttvar.saturating_mul(4)))
            .clamp(self.min, self.max);
    }

    /// Progress without a usable sample: stop backing off.
    pub(crate) fn reset_backoff(&mut self) {
        self.backoff = 0;
        self.slow_streak = 0;
        self.expiries = 0;
    }

    /// Progress on an ACK that gives no sample (Karn's rule: it may answer a resent packet).
    ///
    /// Usually the backoff just stops: one lost packet is the common case and the estimate
    /// still holds (a backoff that was already kept and expired once more stays where it is).
    /// But when progress needed two or more expiries twice in a row, the round trip has most
    /// likely grown past the estimate, and resetting would resend every packet
    /// again and again without ever giving a sample. Then the backed-off timer stays (Karn's
    /// algorithm, RFC 6298 §5) and comes down one step each time an ACK beats it, until a
    /// valid sample restarts the estimate.
    ///
    /// What stays is at most the initial timeout (1 s, RFC 6298 §2.1, by default), far above
    /// any LAN round trip: a transfer also stalls when the client waits for its own timer
    /// (atftp ignores a repeated block until its 5 s timeout), which looks the same from here,
    /// and a timer kept at several seconds would then leave such a client without a packet
    /// for longer than its own patience whenever the next block is lost (atftp gives up after
    /// six timeouts in a row).
    pub(crate) fn progress_without_sample(&mut self) {
        let expiries = core::mem::take(&mut self.expiries);
        match expiries {
            0 => {
                // Not slow: the streak is broken.
                self.slow_streak = 0;
                self.backoff = self.backoff.saturating_sub(1);
            }
            1 if self.backoff > 1 => {
                // The timer was kept backed off and expired once more before the ACK: the
                // round trip is longer than even the kept value. Stay at the doubled value
                // (below the cap) so the next packet is answered before its timer and gives
                // the valid sample that restarts the estimate; dropping back instead would
                // resend one packet in two for as long as the round trip stays long.
                self.slow_streak = 0;
                self.keep_at_most_initial();
            }
            1 => {
                // One lost packet, the common case: the estimate still holds.
                self.slow_streak = 0;
                self.backoff = 0;
            }
            _ => {
                self.slow_streak = self.slow_streak.saturating_add(1);
                if self.slow_streak < 2 {
                    self.backoff = 0;
                }
                self.keep_at_most_initial();
            }
        }
    }

    /// Lowers a backoff kept through progress until the timer is at most the initial timeout
    /// (see [`progress_without_sample`](Self::progress_without_sample)).
    fn keep_at_most_initial(&mut self) {
        while self.backoff > 0 && self.current() > Duration::from_micros(self.keep_max) {
            self.backoff -= 1;
        }
    }

    /// A timeout fired: double the next wait (capped).
    pub(crate) fn back_off(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
        self.expiries = self.expiries.saturating_add(1);
    }

    /// The smoothed round-trip time, once measured.
    pub(crate) fn srtt(&self) -> Option<Duration> {
        self.estimate.map(|(s, _)| Duration::from_micros(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapts_to_samples_within_bounds_and_backs_off() {
        let ms = Duration::from_millis;
        let mut rto = Rto::new(ms(1000), ms(20), ms(4000), None);
        assert_eq!(rto.current(), ms(1000));
        rto.sample(ms(10));
        // srtt 10 + 4 * 5 = 30 ms.
        assert_eq!(rto.current(), ms(30));
        rto.back_off();
        rto.back_off();
        assert_eq!(rto.current(), ms(120));
        for _ in 0..30 {
            rto.back_off();
        }
        assert_eq!(rto.current(), ms(4000));
        rto.sample(Duration::from_micros(1));
        assert!(rto.current() >= ms(20));
    }

    #[test]
    fn one_outlier_does_not_blow_up_the_timeout() {
        let ms = Duration::from_millis;
        let mut rto = Rto::new(ms(1000), ms(5), ms(4000), None);
        for _ in 0..10 {
            rto.sample(ms(1));
        }
        rto.sample(ms(1000));
        assert!(rto.current() < ms(20), "{:?}", rto.current());
    }

    #[test]
    fn a_sample_after_repeated_backoff_restarts_the_estimate() {
        let ms = Duration::from_millis;
        // An initial timeout of 2 s: what a kept backoff may reach (see the next test).
        let mut rto = Rto::new(ms(2000), ms(20), ms(4000), None);
        for _ in 0..10 {
            rto.sample(ms(1));
        }
        // One expiry: the sample is still damped (it may be a client-timer ACK).
        rto.back_off();
        rto.sample(ms(150));
        assert!(rto.current() < ms(50), "{:?}", rto.current());
        // Two: the path is slower now, believe the sample.
        rto.back_off();
        rto.back_off();
        rto.sample(ms(150));
        assert_eq!(rto.srtt(), Some(ms(150)));
        assert_eq!(rto.current(), ms(450));
        // Progress without a sample: one expiry is forgotten, and so is one double expiry;
        // a second double expiry in a row keeps the backoff.
        rto.back_off();
        rto.progress_without_sample();
        assert_eq!(rto.current(), ms(450));
        for kept in [false, true] {
            rto.back_off();
            rto.back_off();
            rto.progress_without_sample();
            assert_eq!(rto.current(), if kept { ms(1800) } else { ms(450) });
        }
        // Each ACK that beats the kept timer brings it down a step.
        rto.progress_without_sample();
        assert_eq!(rto.current(), ms(900));
    }

    #[test]
    fn a_kept_backoff_stays_below_the_initial_timeout_and_clean_progress_ends_the_streak() {
        let ms = Duration::from_millis;
        let mut rto = Rto::new(ms(1000), ms(20), ms(10_000), None);
        rto.sample(Duration::from_micros(100));
        assert_eq!(rto.current(), ms(20));
        // A transfer that stalled on the client's 5 s timer twice in a row: nine expiries each.
        for _ in 0..2 {
            for _ in 0..9 {
                rto.back_off();
            }
            rto.progress_without_sample();
        }
        // Kept, but at 640 ms (the last step below 1 s), not 10 s.
        assert_eq!(rto.current(), ms(640));
        // Progress without expiries in between: two slow ones are not "in a row".
        let mut rto = Rto::new(ms(1000), ms(20), ms(10_000), None);
        rto.sample(Duration::from_micros(100));
        rto.back_off();
        rto.back_off();
        rto.progress_without_sample();
        rto.progress_without_sample();
        rto.back_off();
        rto.back_off();
        rto.progress_without_sample();
        assert_eq!(rto.current(), ms(20));
    }

    #[test]
    fn a_kept_backoff_that_expires_once_more_stays_until_a_sample() {
        // 1 ms round trips, then 150 ms: with a 10 ms floor the timer expires three times per
        // block (10, 20, 40 ms) until two slow blocks in a row keep it at 80 ms. That still
        // expires once before each ACK; staying at the doubled 160 ms lets the next block be
        // answered in time, and its sample restarts the estimate.
        let ms = Duration::from_millis;
        let mut rto = Rto::new(ms(1000), ms(10), ms(10_000), None);
        rto.sample(ms(1));
        assert_eq!(rto.current(), ms(10));
        for _ in 0..2 {
            for _ in 0..3 {
                rto.back_off();
            }
            rto.progress_without_sample();
        }
        assert_eq!(rto.current(), ms(80));
        rto.back_off();
        rto.progress_without_sample();
        assert_eq!(rto.current(), ms(160));
        rto.sample(ms(150));
        assert_eq!(rto.srtt(), Some(ms(150)));
        // One lost packet from a clean state still resets the backoff.
        let mut rto = Rto::new(ms(1000), ms(10), ms(10_000), None);
        rto.sample(ms(1));
        rto.back_off();
        rto.progress_without_sample();
        assert_eq!(rto.current(), ms(10));
    }

    #[test]
    fn fixed_timeout_ignores_samples() {
        let s = Duration::from_secs;
        let mut rto = Rto::new(s(1), s(0), s(10), Some(s(3)));
        rto.sample(Duration::from_millis(1));
        assert_eq!(rto.current(), s(3));
        rto.back_off();
        assert_eq!(rto.current(), s(6));
    }
}
