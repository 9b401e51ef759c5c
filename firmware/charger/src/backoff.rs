//! Reconnect back-off: exponential between a minimum and a maximum, with jitter.
//!
//! Jitter keeps a fleet of chargers that lost the same central system from reconnecting in
//! lock-step when it comes back.

use std::time::Duration;

/// Delay generator; `next_delay` grows ×2 per failed attempt, `reset` after a good connection.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// `min` is clamped to at least 1 ms and `max` to at least `min`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let min = min.max(Duration::from_millis(1));
        Backoff {
            min,
            max: max.max(min),
            attempt: 0,
        }
    }

    /// Failed attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Forget past failures (the connection worked).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The ceiling for the current attempt: `min × 2^attempt`, capped at `max`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt: uniformly in `[ceiling/2, ceiling]`, never below `min`.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let low = (ceiling / 2).max(self.min);
        if low >= ceiling {
            return ceiling;
        }
        let ms = rand::random_range(low.as_millis() as u64..=ceiling.as_millis() as u64);
        Duration::from_millis(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_within_bounds_and_reset() {
        let min = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        let mut b = Backoff::new(min, max);
        let mut ceilings = Vec::new();
        for _ in 0..8 {
            let c = b.ceiling();
            let d = b.next_delay();
            assert!(
                d >= min && d <= c && d <= max,
                "{d:?} outside [{min:?}, {c:?}]"
            );
            ceilings.push(c.as_millis());
        }
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000, 1000, 1000]);
        b.reset();
        assert_eq!(b.ceiling(), min);
    }

    #[test]
    fn max_below_min_is_raised_to_min() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_millis(10));
        assert_eq!(b.next_delay(), Duration::from_millis(500));
    }
}
