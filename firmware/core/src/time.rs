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
    /// A `Now` `ms` milliseconds later on both clocks (handy for tests and replays). Saturates
    /// instead of overflowing: a retry wait computed from outside values must never panic.
    pub fn plus_ms(self, ms: u64) -> Now {
        let utc = i64::try_from(ms)
            .ok()
            .and_then(chrono::Duration::try_milliseconds)
            .and_then(|d| self.utc.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Now {
            mono_ms: self.mono_ms.saturating_add(ms),
            utc,
        }
    }
}
