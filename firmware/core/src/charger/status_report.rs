//! StatusNotification: the connector status as it changes, what was reported, and the
//! reports themselves (errata v4 3.19: every status that held for MinimumStatusDuration).

use chrono::{DateTime, Utc};
use rust_ocpp::v1_6::messages::status_notification::StatusNotificationRequest;
use rust_ocpp::v1_6::types::{ChargePointErrorCode, ChargePointStatus};
use serde_json::Value;

use super::link::{CallKind, WaitingCall};
use super::{ts, Charger};
use crate::config::Key;
use crate::status::ConnectorStatus;

/// What the central system was told, and since when the current connector-1 status holds
/// (a change is reported once it held for MinimumStatusDuration).
#[derive(Debug)]
pub(super) struct StatusReports {
    /// Status last reported per connector (0 and 1); `None` = must report.
    pub reported: [Option<ConnectorStatus>; 2],
    /// Current connector-1 status.
    pub current: ConnectorStatus,
    /// Since when it holds: mono ms for the timer, UTC for the report's timestamp.
    pub since_ms: u64,
    pub since: DateTime<Utc>,
}

impl StatusReports {
    pub fn new(current: ConnectorStatus, since_ms: u64, since: DateTime<Utc>) -> StatusReports {
        StatusReports {
            reported: [None, None],
            current,
            since_ms,
            since,
        }
    }

    /// When the unreported current status becomes reportable (`stable_ms` =
    /// MinimumStatusDuration); `None` offline or when it is reported.
    pub fn timeout(&self, online: bool, stable_ms: u64) -> Option<u64> {
        (online && self.reported[1] != Some(self.current)).then(|| self.since_ms + stable_ms)
    }
}

fn ocpp_status(s: ConnectorStatus) -> ChargePointStatus {
    match s {
        ConnectorStatus::Available => ChargePointStatus::Available,
        ConnectorStatus::Preparing => ChargePointStatus::Preparing,
        ConnectorStatus::Charging => ChargePointStatus::Charging,
        ConnectorStatus::SuspendedEVSE => ChargePointStatus::SuspendedEVSE,
        ConnectorStatus::SuspendedEV => ChargePointStatus::SuspendedEV,
        ConnectorStatus::Finishing => ChargePointStatus::Finishing,
        ConnectorStatus::Reserved => ChargePointStatus::Reserved,
        ConnectorStatus::Unavailable => ChargePointStatus::Unavailable,
        ConnectorStatus::Faulted => ChargePointStatus::Faulted,
    }
}

impl Charger {
    fn status_payload(&self, connector: u32, error: ChargePointErrorCode) -> Value {
        let (status, since) = if connector == 0 {
            (self.connector.charge_point_status(), self.now.utc)
        } else {
            (self.reports.current, self.reports.since)
        };
        let error_code = if connector == 1 && status == ConnectorStatus::Faulted {
            ChargePointErrorCode::EVCommunicationError
        } else {
            error
        };
        let req = StatusNotificationRequest {
            connector_id: connector,
            error_code,
            info: None,
            status: ocpp_status(status),
            timestamp: Some(ts(since)),
            vendor_id: None,
            vendor_error_code: None,
        };
        serde_json::to_value(req).unwrap_or(Value::Null)
    }

    /// Queues a StatusNotification for `connector` with the current status.
    pub(super) fn queue_status(&mut self, connector: u32, triggered: bool) {
        let payload = self.status_payload(connector, ChargePointErrorCode::NoError);
        self.reports.reported[connector as usize] = Some(if connector == 0 {
            self.connector.charge_point_status()
        } else {
            self.reports.current
        });
        // Errata v4 3.19 (§4.9): every status that held for MinimumStatusDuration is reported,
        // in order with its own timestamp, also when it changed while another CALL was out.
        // Only a central system that stops answering would let them pile up: beyond
        // MAX_WAITING_STATUSES the newest waiting report is brought up to date instead.
        if !triggered {
            let mut waiting = self
                .link
                .waiting
                .iter_mut()
                .filter(|c| c.kind == CallKind::Status { connector } && !c.triggered);
            if let Some(last) = waiting.by_ref().nth(MAX_WAITING_STATUSES - 1) {
                let last = waiting.last().unwrap_or(last);
                last.payload = payload;
                return;
            }
        }
        self.link.waiting.push_back(WaitingCall {
            payload,
            kind: CallKind::Status { connector },
            triggered,
        });
    }

    /// A StartTransaction.conf contradicted the local list (§3.5.2).
    pub(super) fn queue_local_list_conflict(&mut self) {
        let payload = self.status_payload(0, ChargePointErrorCode::LocalListConflict);
        self.link.waiting.push_back(WaitingCall {
            payload,
            kind: CallKind::Status { connector: 0 },
            triggered: false,
        });
    }

    /// Follows connector status changes and reports them once stable for MinimumStatusDuration.
    pub(super) fn track_status(&mut self) {
        let cur = self.connector_status();
        if cur != self.reports.current {
            tracing::info!(from = ?self.reports.current, to = ?cur, "connector status");
            self.reports.current = cur;
            self.reports.since_ms = self.now.mono_ms;
            self.reports.since = self.now.utc;
        }
        if !self.link.online() {
            return;
        }
        if self.reports.reported[0] != Some(self.connector.charge_point_status()) {
            self.queue_status(0, false);
        }
        let stable_ms = self.config.uint(Key::MinimumStatusDuration) * 1000;
        if self.reports.reported[1] != Some(cur)
            && self.now.mono_ms >= self.reports.since_ms + stable_ms
        {
            self.queue_status(1, false);
        }
    }
}

/// Status reports per connector that may wait behind an outstanding CALL before the newest
/// one is updated in place (a stuck central system must not grow memory without bound).
const MAX_WAITING_STATUSES: usize = 16;
