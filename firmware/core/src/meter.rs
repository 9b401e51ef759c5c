//! The energy register: integrates the metered current at 230 V single phase.
//!
//! Energy is kept as exact integer deci-ampere·milliseconds, so the Wh register never drifts
//! or goes backwards through rounding, whatever the tick rate.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Nominal voltage of the single-phase supply.
pub const VOLTS: u64 = 230;

/// Persisted form of the register (State table, key `meter`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeterRecord {
    /// Accumulated charge in deci-ampere·milliseconds.
    pub acc: u64,
    /// The register in Wh (derived from `acc`, stored for readers of the database).
    pub wh: u64,
    /// When this reading was taken.
    pub time: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Meter {
    acc: u64,
    last_ms: u64,
    /// Last persisted reading (Wh and time) and when (mono) it was persisted.
    pub persisted_wh: u64,
    pub persisted_at_ms: u64,
    pub persisted_time: DateTime<Utc>,
}

impl Meter {
    pub fn new(restored: Option<MeterRecord>, now_ms: u64, now_utc: DateTime<Utc>) -> Meter {
        let rec = restored.unwrap_or(MeterRecord {
            acc: 0,
            wh: 0,
            time: now_utc,
        });
        Meter {
            acc: rec.acc,
            last_ms: now_ms,
            persisted_wh: rec.wh,
            persisted_at_ms: now_ms,
            persisted_time: rec.time,
        }
    }

    /// Integrates `deci_amps` from the last advance to `now_ms`.
    pub fn advance(&mut self, now_ms: u64, deci_amps: u16) {
        let dt = now_ms.saturating_sub(self.last_ms);
        self.acc = self
            .acc
            .saturating_add(u64::from(deci_amps).saturating_mul(dt));
        self.last_ms = self.last_ms.max(now_ms);
    }

    /// The register in whole Wh: dA/10 × 230 V × ms/3 600 000.
    pub fn wh(&self) -> u64 {
        (u128::from(self.acc) * u128::from(VOLTS) / 36_000_000) as u64
    }

    pub fn record(&self, time: DateTime<Utc>) -> MeterRecord {
        MeterRecord {
            acc: self.acc,
            wh: self.wh(),
            time,
        }
    }
}
