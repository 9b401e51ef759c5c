//! Login lockout: five wrong passwords within a minute lock the login for a minute (field.md).
//! One counter for the whole panel, not per client address: an attacker on the installer's
//! network could change address at will, and a charger has one installer at a time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Wrong passwords that lock the login ...
pub const MAX_FAILURES: usize = 5;
/// ... within this window ...
pub const WINDOW: Duration = Duration::from_secs(60);
/// ... for this long.
pub const LOCK: Duration = Duration::from_secs(60);

/// Failure times and the lock, driven by the caller's clock (so tests need no sleeping).
#[derive(Debug, Default)]
pub struct Lockout {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

impl Lockout {
    /// `Err(remaining)` while locked: no password is even checked then.
    pub fn check(&mut self, now: Instant) -> Result<(), Duration> {
        match self.locked_until {
            Some(until) if now < until => Err(until - now),
            Some(_) => {
                self.locked_until = None;
                self.failures.clear();
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records a wrong password; returns whether the login is now locked.
    pub fn fail(&mut self, now: Instant) -> bool {
        while self
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        if self.failures.len() >= MAX_FAILURES {
            self.locked_until = Some(now + LOCK);
            self.failures.clear();
            true
        } else {
            false
        }
    }

    /// A correct password: earlier failures no longer count.
    pub fn succeed(&mut self) {
        self.failures.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_in_a_minute_lock_for_a_minute() {
        let t0 = Instant::now();
        let mut l = Lockout::default();
        for i in 0..4 {
            assert!(l.check(t0).is_ok());
            assert!(!l.fail(t0 + Duration::from_secs(i)));
        }
        assert!(l.fail(t0 + Duration::from_secs(10)), "fifth failure locks");
        let at = t0 + Duration::from_secs(20);
        assert_eq!(l.check(at), Err(Duration::from_secs(50)));
        assert!(
            l.check(t0 + Duration::from_secs(70)).is_ok(),
            "unlocked after a minute"
        );
        assert!(
            !l.fail(t0 + Duration::from_secs(71)),
            "counting starts afresh"
        );
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_do_not_lock() {
        let t0 = Instant::now();
        let mut l = Lockout::default();
        for i in 0..10 {
            assert!(!l.fail(t0 + Duration::from_secs(16 * i)), "failure {i}");
        }
    }

    #[test]
    fn a_success_forgets_earlier_failures() {
        let t0 = Instant::now();
        let mut l = Lockout::default();
        for _ in 0..4 {
            l.fail(t0);
        }
        l.succeed();
        assert!(!l.fail(t0));
    }
}
