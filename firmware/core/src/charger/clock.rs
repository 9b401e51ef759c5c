//! The central system's clock: an offset added to the shell's UTC (§4.2, §4.6 RECOMMENDED).

use chrono::{DateTime, Duration, Utc};

/// A central-system clock at most this far from ours is taken as equal (network latency).
pub(super) const CLOCK_TOLERANCE_MS: i64 = 2_000;

/// The offset adopted from BootNotification.conf / Heartbeat.conf, persisted (State
/// `clock_offset_ms`) so it applies after a reboot before the next answer. No timer.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Clock {
    pub offset_ms: i64,
}

impl Clock {
    /// The shell's UTC on our (adopted) clock.
    pub fn utc(&self, shell_utc: DateTime<Utc>) -> DateTime<Utc> {
        shell_utc + Duration::milliseconds(self.offset_ms)
    }

    /// Adopts `central` when it is more than [`CLOCK_TOLERANCE_MS`] from `ours`; returns the
    /// step taken, so times of moments already passed can be re-expressed on the new clock.
    /// Smaller differences are latency and ignored: a synchronized host is never disturbed.
    pub fn adopt(&mut self, central: DateTime<Utc>, ours: DateTime<Utc>) -> Option<Duration> {
        let diff = (central - ours).num_milliseconds();
        if diff.abs() <= CLOCK_TOLERANCE_MS {
            return None;
        }
        tracing::warn!(
            diff_ms = diff,
            central = %central,
            "clock differs from the central system's: adopting its time"
        );
        self.offset_ms += diff;
        Some(Duration::milliseconds(diff))
    }
}

/// An RFC 3339 timestamp with millisecond precision (what every OCPP tool parses).
pub(crate) fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(3)
}
