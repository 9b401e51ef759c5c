//! The session: the authorization waiting for its EV, the running transaction and its
//! sampling timers. Persisted parts (the transaction, the next local id) live in the State table.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::time::Now;

/// Why a tag is being authorized at the central system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AuthPurpose {
    /// To start a transaction.
    Start,
    /// To learn the parent of a tag that may stop the running transaction.
    Stop,
    /// To learn the parent of a tag that may release a DeAuthorized cable lock.
    ReleaseHold,
}

/// The running transaction (persisted in the State table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Transaction {
    pub local_id: u64,
    pub tag: String,
    #[serde(default)]
    pub parent: Option<String>,
    pub meter_start: u64,
    pub start_time: DateTime<Utc>,
    /// A late StartTransaction.conf said not Accepted and StopTransactionOnInvalidId is false.
    #[serde(default)]
    pub invalid: bool,
    /// Energy delivery stopped (MaxEnergyOnInvalidId reached): SuspendedEVSE.
    #[serde(default)]
    pub suspended: bool,
    /// Meter values collected for StopTransaction.transactionData (StopTxnSampledData,
    /// StopTxnAlignedData): Transaction.Begin first, then samples. Persisted with the
    /// transaction so a power cut does not lose them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<rust_ocpp::v1_6::types::MeterValue>,
}

/// A tag authorized to start, waiting for the EV (expires after ConnectionTimeOut).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Authorized {
    pub tag: String,
    pub parent: Option<String>,
    pub expires_ms: u64,
}

/// Authorization, transaction and sampling.
#[derive(Debug)]
pub(super) struct Session {
    pub tx: Option<Transaction>,
    pub authorized: Option<Authorized>,
    /// An Authorize to start is waiting or in flight.
    pub auth_pending: bool,
    /// When that Authorize gives way to the offline decision (AuthorizeTimeout after the tag
    /// was presented), whatever it waits behind.
    pub auth_deadline_ms: Option<u64>,
    /// Our id of the next transaction (persisted: unique across reboots).
    pub next_local_tx: u64,
    /// Next MeterValueSampleInterval sample (mono ms), during a transaction.
    pub next_sample_ms: Option<u64>,
    /// Next ClockAlignedDataInterval boundary (wall clock).
    pub next_aligned: Option<DateTime<Utc>>,
}

impl Session {
    pub fn new(next_local_tx: u64) -> Session {
        Session {
            tx: None,
            authorized: None,
            auth_pending: false,
            auth_deadline_ms: None,
            next_local_tx,
            next_sample_ms: None,
            next_aligned: None,
        }
    }

    /// Periodic samples every `interval_s` (MeterValueSampleInterval; 0 = none), counted from
    /// `now_ms`: at a transaction's start, and when the interval is changed during one.
    pub fn restart_sampling(&mut self, interval_s: u64, now_ms: u64) {
        self.next_sample_ms = (interval_s > 0).then(|| now_ms + interval_s * 1000);
    }

    /// The soonest of: the authorization expires, a pending Authorize gives way to the offline
    /// decision, a periodic sample is due, a clock-aligned boundary comes (wall clock,
    /// converted to mono ms from `now`).
    pub fn timeout(&self, now: Now) -> Option<u64> {
        let expiry = self.authorized.as_ref().map(|a| a.expires_ms);
        let aligned = self.next_aligned.map(|a| {
            let ahead = u64::try_from(a.signed_duration_since(now.utc).num_milliseconds());
            now.mono_ms.saturating_add(ahead.unwrap_or(0))
        });
        [expiry, self.auth_deadline_ms, self.next_sample_ms, aligned]
            .into_iter()
            .flatten()
            .min()
    }
}
