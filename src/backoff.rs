//! How long to wait before trying again: the one backoff formula every retry loop uses
//! (the worker, the outbox, the alarm steps, the Support retries, the queue consumer and
//! the Socket Mode reconnects).
//!
//! Pure arithmetic: no clock, no randomness (a caller that wants jitter multiplies the
//! result, as the Socket Mode supervisor does).

use std::time::Duration;

/// A backoff schedule: the first wait, how it grows per failure, and its ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    first: Duration,
    /// How the wait grows with each further failure.
    growth: Growth,
    /// The longest wait, whatever the number of failures.
    max: Duration,
}

/// How a [`Backoff`] grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Growth {
    /// `first`, `2 × first`, `3 × first`, …: for work that should keep trying often (a
    /// person is waiting on it) but not burn its attempts in seconds.
    Linear,
    /// `first`, `2 × first`, `4 × first`, …: for a service that is down or throttling.
    Doubling,
}

impl Backoff {
    /// Waits of `step`, `2 × step`, `3 × step`, … at most `max`.
    pub const fn linear(step: Duration, max: Duration) -> Self {
        Backoff {
            first: step,
            growth: Growth::Linear,
            max,
        }
    }

    /// Waits of `first`, `2 × first`, `4 × first`, … at most `max`.
    pub const fn doubling(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            growth: Growth::Doubling,
            max,
        }
    }

    /// The wait after the `failures`-th failure in a row (1-based; 0 counts as 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let n = failures.max(1);
        let factor = match self.growth {
            Growth::Linear => n,
            Growth::Doubling => 1u32.checked_shl(n - 1).unwrap_or(u32::MAX),
        };
        self.first.saturating_mul(factor).min(self.max)
    }

    /// [`Backoff::delay`] for a failure count kept in the database (an `i64` column):
    /// negative counts as 1, beyond `u32` as `u32::MAX`.
    pub fn delay_i64(&self, failures: i64) -> Duration {
        self.delay(u32::try_from(failures.max(0)).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn linear_grows_by_one_step_per_failure_up_to_its_ceiling() {
        let b = Backoff::linear(MS(250), Duration::from_secs(10));
        assert_eq!(b.delay(0), MS(250));
        assert_eq!(b.delay(1), MS(250));
        assert_eq!(b.delay(2), MS(500));
        assert_eq!(b.delay(4), MS(1000));
        assert_eq!(b.delay(40), Duration::from_secs(10));
        assert_eq!(b.delay(41), Duration::from_secs(10));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn doubling_doubles_per_failure_up_to_its_ceiling() {
        let b = Backoff::doubling(Duration::from_secs(15), Duration::from_secs(240));
        let waits: Vec<u64> = (1..=7).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(waits, [15, 30, 60, 120, 240, 240, 240]);
        assert_eq!(b.delay(0), Duration::from_secs(15));
        // No overflow however long the outage.
        assert_eq!(b.delay(32), Duration::from_secs(240));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(240));
    }

    #[test]
    fn database_counts_are_clamped_not_wrapped() {
        let b = Backoff::linear(MS(250), Duration::from_secs(10));
        assert_eq!(b.delay_i64(-3), MS(250));
        assert_eq!(b.delay_i64(3), MS(750));
        assert_eq!(b.delay_i64(i64::MAX), Duration::from_secs(10));
    }
}
