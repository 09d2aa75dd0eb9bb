//! The clock every layer reads time from. Production uses the system clock; tests inject a
//! [`ManualClock`] and move it, so expiry is tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    /// Whole microseconds, the precision PostgreSQL keeps, so values read back from the store
    /// compare equal to the ones written.
    fn now(&self) -> DateTime<Utc> {
        truncate_to_micros(Utc::now())
    }
}

/// A clock that only moves when told to. Cheap to read from many threads.
#[derive(Debug)]
pub struct ManualClock {
    micros_since_epoch: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            micros_since_epoch: AtomicI64::new(start.timestamp_micros()),
        }
    }

    /// A clock standing at the current wall-clock time, truncated to microseconds.
    pub fn starting_now() -> Self {
        Self::new(truncate_to_micros(Utc::now()))
    }

    /// Moves the clock forward (or backward, for a negative delta).
    pub fn advance(&self, delta: TimeDelta) {
        let micros = delta
            .num_microseconds()
            .expect("clock advance fits in i64 microseconds");
        self.micros_since_epoch.fetch_add(micros, Ordering::SeqCst);
    }

    /// Sets the clock to `instant`.
    pub fn set(&self, instant: DateTime<Utc>) {
        self.micros_since_epoch
            .store(instant.timestamp_micros(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros_since_epoch.load(Ordering::SeqCst))
            .expect("manual clock stays within chrono's range")
    }
}

/// Truncates to whole microseconds.
pub fn truncate_to_micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(instant.timestamp_micros()).unwrap_or(instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::starting_now();
        let before = clock.now();
        assert_eq!(clock.now(), before);
        clock.advance(TimeDelta::hours(2));
        assert_eq!(clock.now() - before, TimeDelta::hours(2));
    }
}
