//! The two clocks the core is given: it never reads a clock itself, so every run is replayable.

use chrono::{DateTime, Utc};

/// The time of one input. `mono_ms` drives timers (it never jumps); `utc` stamps OCPP messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic milliseconds (any origin; the shell uses time since process start).
    pub mono_ms: u64,
    /// Wall-clock time, used only for timestamps and expiry dates.
    pub utc: DateTime<Utc>,
}

impl Now {
    /// A `Now` `ms` milliseconds later on both clocks (handy for tests and replays).
    pub fn plus_ms(self, ms: u64) -> Now {
        Now {
            mono_ms: self.mono_ms + ms,
            utc: self.utc + chrono::Duration::milliseconds(ms as i64),
        }
    }
}
