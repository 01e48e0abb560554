//! The DHCP driver's clocks. The cores run on [`pxe_proto::Instant`], which this driver makes
//! monotonic (it never goes back, and an NTP step or a manual `date -s` does not move it); Unix
//! time appears only at the lease store's boundary, where expiry times are written and read
//! ([`Clock::to_unix`], [`Clock::from_unix`]). So a wall-clock step while serving changes no
//! lease's remaining time; only a restart re-reads the wall clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pxe_proto::Instant;

/// Where the monotonic clock starts: far enough from zero that leases which ran out long before
/// the start (a lease file read after months off) are still representable.
const BASE: Instant = Instant::from_secs(100 * 365 * 24 * 3600);

/// A monotonic clock for the cores, anchored once to the wall clock for the lease store.
#[derive(Debug, Clone)]
pub struct Clock {
    start: std::time::Instant,
    /// Unix time at `start`, read once.
    start_unix: Duration,
}

impl Clock {
    /// A clock anchored to the system's wall clock now.
    #[must_use]
    pub fn new() -> Clock {
        Clock::with_wall(SystemTime::now())
    }

    /// A clock anchored to `wall` (what the wall clock says now): tests inject one.
    #[must_use]
    pub fn with_wall(wall: SystemTime) -> Clock {
        Clock {
            start: std::time::Instant::now(),
            start_unix: wall.duration_since(UNIX_EPOCH).unwrap_or_default(),
        }
    }

    /// Now, for the cores: monotonic.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.at(std::time::Instant::now())
    }

    /// The core's time for the monotonic instant `t`.
    #[must_use]
    pub fn at(&self, t: std::time::Instant) -> Instant {
        BASE.saturating_add(t.saturating_duration_since(self.start))
    }

    /// The Unix time (microseconds) of the core's `t`, to persist.
    #[must_use]
    pub fn to_unix(&self, t: Instant) -> u64 {
        let unix = if t >= BASE {
            self.start_unix
                .saturating_add(Duration::from_micros(t.as_micros() - BASE.as_micros()))
        } else {
            self.start_unix
                .saturating_sub(Duration::from_micros(BASE.as_micros() - t.as_micros()))
        };
        u64::try_from(unix.as_micros()).unwrap_or(u64::MAX)
    }

    /// The core's time for a persisted Unix time (microseconds).
    #[must_use]
    pub fn from_unix(&self, unix_micros: u64) -> Instant {
        let start = u64::try_from(self.start_unix.as_micros()).unwrap_or(u64::MAX);
        if unix_micros >= start {
            BASE.saturating_add(Duration::from_micros(unix_micros - start))
        } else {
            BASE.saturating_sub(Duration::from_micros(start - unix_micros))
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_round_trips_and_the_core_clock_is_not_the_wall_clock() {
        let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let c = Clock::with_wall(wall);
        let now = c.now();
        assert!(now >= BASE);
        let in_an_hour = now + Duration::from_secs(3600);
        let unix = c.to_unix(in_an_hour);
        assert!(
            (1_800_003_600_000_000..1_800_003_601_000_000).contains(&unix),
            "{unix}"
        );
        assert_eq!(c.from_unix(unix), in_an_hour);
        // A lease that ran out a year before the start is still before now.
        let old = c.from_unix(1_800_000_000_000_000 - 365 * 24 * 3600 * 1_000_000);
        assert!(old < now && old > Instant::ZERO);
    }
}
