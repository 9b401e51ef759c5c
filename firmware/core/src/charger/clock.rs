//! The central system's clock: an offset added to the shell's UTC (§4.2, §4.6 RECOMMENDED).

use chrono::{DateTime, Duration, Utc};

/// A central-system clock at most this far from ours is taken as equal (network latency).
pub(super) const CLOCK_TOLERANCE_MS: i64 = 2_000;

/// How far after the build date a central-system time is still believed. A hostile or broken
/// central system must not be able to move the charger's clock to where arithmetic overflows
/// (issue 9.1: `+262142-12-31` bricked it), nor stamp transactions decades away.
pub(super) const PLAUSIBLE_YEARS_AFTER_BUILD: i64 = 20;

/// The offset adopted from BootNotification.conf / Heartbeat.conf, persisted (State
/// `clock_offset_ms`) so it applies after a reboot before the next answer. No timer.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    pub offset_ms: i64,
    /// The firmware's build date: no true time can be earlier.
    earliest: DateTime<Utc>,
    /// The latest time handed out for stamping: a clock step back does not make stamps go
    /// back behind messages already queued (issue 9.5).
    floor: Option<DateTime<Utc>>,
}

impl Clock {
    /// A clock with a stored `offset_ms` (0: none). An offset that does not fit, or that puts
    /// `shell_utc` outside the plausible window, is discarded with a log line: a bad value on
    /// disk must never keep the charger from booting.
    pub fn restore(offset_ms: i64, build_date: DateTime<Utc>, shell_utc: DateTime<Utc>) -> Clock {
        let mut clock = Clock {
            offset_ms: 0,
            earliest: build_date,
            floor: None,
        };
        if offset_ms != 0 {
            match clock.shifted(shell_utc, offset_ms) {
                Some(t) if clock.plausible(t) => clock.offset_ms = offset_ms,
                _ => tracing::warn!(
                    offset_ms,
                    "stored clock offset discarded: it does not give a plausible time"
                ),
            }
        }
        clock
    }

    /// The shell's UTC on our (adopted) clock. Never panics: an offset that cannot be applied
    /// (only possible with a host clock at chrono's limits) leaves the shell's time.
    pub fn utc(&self, shell_utc: DateTime<Utc>) -> DateTime<Utc> {
        self.shifted(shell_utc, self.offset_ms).unwrap_or(shell_utc)
    }

    /// The time to use now: the shell's UTC on our clock, never before an earlier stamp.
    pub fn stamp(&mut self, shell_utc: DateTime<Utc>) -> DateTime<Utc> {
        let t = self.floored(self.utc(shell_utc));
        self.floor = Some(t);
        t
    }

    /// `t`, or the latest stamp handed out when that is later.
    pub fn floored(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.floor.map_or(t, |f| t.max(f))
    }

    /// No stamp from now on goes before `t` (a queued message's time, restored at boot), if
    /// `t` is plausible.
    pub fn raise_floor(&mut self, t: DateTime<Utc>) {
        if self.plausible(t) {
            self.floor = Some(self.floored(t));
        }
    }

    fn shifted(&self, t: DateTime<Utc>, ms: i64) -> Option<DateTime<Utc>> {
        t.checked_add_signed(Duration::try_milliseconds(ms)?)
    }

    /// Not before the build date and not more than [`PLAUSIBLE_YEARS_AFTER_BUILD`] after it.
    pub fn plausible(&self, t: DateTime<Utc>) -> bool {
        let latest = self
            .earliest
            .checked_add_signed(Duration::days(366 * PLAUSIBLE_YEARS_AFTER_BUILD))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        t >= self.earliest && t <= latest
    }

    /// Adopts `central` when it is more than [`CLOCK_TOLERANCE_MS`] from `ours`; returns the
    /// step taken, so times of moments already passed can be re-expressed on the new clock.
    /// Smaller differences are latency and ignored: a synchronized host is never disturbed.
    /// An implausible central time (before the build date, decades ahead) is ignored.
    ///
    /// `rtt_ms` is the round trip of the answer carrying `central`: the central system stamped
    /// it somewhere in between, so it is read as half a round trip old (issue 9.5: 3 s one-way
    /// latency stepped the clock by −3 s). When half the round trip exceeds the tolerance the
    /// answer cannot tell us our clock is off by more than that: it is ignored.
    pub fn adopt(
        &mut self,
        central: DateTime<Utc>,
        ours: DateTime<Utc>,
        rtt_ms: u64,
    ) -> Option<Duration> {
        if !self.plausible(central) {
            tracing::warn!(
                central = %central,
                earliest = %self.earliest,
                "central system's time is implausible (before the build date or decades ahead): ignored"
            );
            return None;
        }
        let half_rtt = i64::try_from(rtt_ms / 2).unwrap_or(i64::MAX);
        if half_rtt > CLOCK_TOLERANCE_MS {
            tracing::info!(
                rtt_ms,
                central = %central,
                "answer too slow to set the clock by: currentTime ignored"
            );
            return None;
        }
        let diff = central
            .signed_duration_since(ours)
            .num_milliseconds()
            .checked_add(half_rtt)?;
        if diff.abs() <= CLOCK_TOLERANCE_MS {
            return None;
        }
        let offset_ms = self.offset_ms.checked_add(diff)?;
        let step = Duration::try_milliseconds(diff)?;
        tracing::warn!(
            diff_ms = diff,
            central = %central,
            "clock differs from the central system's: adopting its time"
        );
        self.offset_ms = offset_ms;
        Some(step)
    }
}

/// `t` moved by `d`, or `t` unchanged when the result would leave chrono's range.
pub(super) fn shift(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(t)
}

/// An RFC 3339 timestamp with millisecond precision (what every OCPP tool parses).
pub(crate) fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn build() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn extreme_central_times_are_ignored_and_never_panic() {
        let ours = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let mut c = Clock::restore(0, build(), ours);
        for t in [
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MIN_UTC,
            build() - Duration::seconds(1),
        ] {
            assert_eq!(c.adopt(t, ours, 0), None, "{t}");
            assert_eq!(c.offset_ms, 0);
        }
        assert!(c.adopt(ours + Duration::hours(1), ours, 0).is_some());
        assert_eq!(c.offset_ms, 3_600_000);
    }

    #[test]
    fn an_offset_that_does_not_fit_is_discarded_at_restore() {
        let ours = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        for bad in [
            i64::MAX,
            i64::MIN,
            8_000_000_000_000_000,
            -1_000_000_000_000,
        ] {
            let c = Clock::restore(bad, build(), ours);
            assert_eq!(c.offset_ms, 0, "{bad}");
            assert_eq!(c.utc(ours), ours);
        }
        assert_eq!(Clock::restore(60_000, build(), ours).offset_ms, 60_000);
    }
}
