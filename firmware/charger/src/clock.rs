//! The shell's clocks, handed to the core as [`Now`]: it never reads a clock itself.

use std::time::Duration;

use charger_core::Now;
use tokio::time::Instant;

/// Monotonic milliseconds since process start (also the board's millisecond clock) + UTC.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// Starts the clock at zero now.
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// Both clocks, read now.
    pub fn now(&self) -> Now {
        Now {
            mono_ms: self.mono_ms(),
            utc: chrono::Utc::now(),
        }
    }

    /// Milliseconds since start.
    pub fn mono_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// The instant of a monotonic millisecond deadline.
    pub fn instant_at(&self, mono_ms: u64) -> Instant {
        self.start + Duration::from_millis(mono_ms)
    }
}
