//! Connection life cycle: BootNotification and registration, heartbeats, StatusNotification.

use rust_ocpp::v1_6::messages::boot_notification::BootNotificationRequest;
use rust_ocpp::v1_6::messages::heart_beat::HeartbeatRequest;
use rust_ocpp::v1_6::messages::status_notification::StatusNotificationRequest;
use rust_ocpp::v1_6::types::{ChargePointErrorCode, ChargePointStatus, RegistrationStatus};
use serde_json::Value;

use crate::config::Key;

use super::link::{CallKind, Registration, WaitingCall};
use super::{ts, Charger};
use crate::confs::BootConf;
use crate::status::ConnectorStatus;
use crate::store::{StoreOp, Table};

/// Wait before re-sending a BootNotification that got no usable answer, or when the central
/// system gave interval 0.
const BOOT_RETRY_MS: u64 = 30_000;

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
    pub(super) fn on_connected(&mut self) {
        tracing::info!("connected to the central system");
        self.link.connected = true;
        match self.link.registration {
            Registration::Unknown | Registration::Pending => {
                self.link.boot_at_ms = Some(self.now.mono_ms);
            }
            // A reconnect: say hello at once, so the central system sees the charger is back
            // even when nothing changed while offline.
            Registration::Accepted => self.queue_heartbeat(false),
            Registration::Rejected => {}
        }
    }

    pub(super) fn on_disconnected(&mut self) {
        if !self.link.connected {
            return;
        }
        tracing::warn!("disconnected from the central system");
        self.link.connected = false;
        // Offline time consumes no attempts: an unanswered transaction message is simply resent.
        if let Some(o) = self.link.outstanding.take() {
            self.on_call_failed(o.kind, false);
        }
        for call in std::mem::take(&mut self.link.waiting) {
            match call.kind {
                CallKind::Status { connector } => self.reports.reported[connector as usize] = None,
                CallKind::Authorize { tag, purpose } => {
                    self.on_authorize_result(&tag, purpose, None)
                }
                _ => {}
            }
        }
        if self.link.registration != Registration::Accepted
            && self.link.registration != Registration::Rejected
        {
            self.link.boot_at_ms = Some(self.now.mono_ms);
        }
    }

    fn boot_request(&self) -> Value {
        let req = BootNotificationRequest {
            charge_box_serial_number: None,
            charge_point_model: self.settings.model.clone(),
            charge_point_serial_number: Some(self.settings.serial_number.clone()),
            charge_point_vendor: self.settings.vendor.clone(),
            firmware_version: (!self.settings.firmware_version.is_empty())
                .then(|| self.settings.firmware_version.clone()),
            iccid: None,
            imsi: None,
            meter_serial_number: None,
            meter_type: None,
        };
        serde_json::to_value(req).unwrap_or(Value::Null)
    }

    /// Sends BootNotification when due and nothing else is in flight.
    pub(super) fn boot_if_due(&mut self) {
        if !self.link.connected
            || self.link.registration == Registration::Accepted
            || self.reset_pending.is_some()
        {
            return;
        }
        let Some(at) = self.link.boot_at_ms else {
            return;
        };
        if self.now.mono_ms < at || self.link.outstanding.is_some() {
            return;
        }
        self.link.boot_at_ms = None;
        let payload = self.boot_request();
        self.send_call("BootNotification", payload, CallKind::Boot);
    }

    /// Queues a BootNotification asked for by TriggerMessage.
    pub(super) fn trigger_boot(&mut self) {
        let payload = self.boot_request();
        self.link.waiting.push_back(WaitingCall {
            action: "BootNotification",
            payload,
            kind: CallKind::Boot,
            triggered: true,
        });
    }

    /// The answer to a BootNotification (`None`: timeout, CallError or malformed answer).
    pub(super) fn on_boot_result(&mut self, conf: Option<BootConf>) {
        let Some(conf) = conf else {
            if self.link.registration != Registration::Accepted {
                self.link.boot_at_ms = Some(self.now.mono_ms + BOOT_RETRY_MS);
            }
            return;
        };
        let interval_ms = u64::from(conf.interval) * 1000;
        match conf.status {
            RegistrationStatus::Accepted => {
                tracing::info!(interval = conf.interval, "boot accepted");
                let first = self.link.registration != Registration::Accepted;
                self.link.registration = Registration::Accepted;
                self.link.boot_at_ms = None;
                if conf.interval > 0 {
                    let v = conf.interval.to_string();
                    if let Ok((def, v)) =
                        self.config.check_change(Key::HeartbeatInterval.name(), &v)
                    {
                        self.config.set(def, v.clone());
                        self.persist(vec![StoreOp::Put {
                            table: Table::Config,
                            key: def.name.into(),
                            value: Value::from(v),
                        }]);
                    }
                }
                if first {
                    // §4.9 / E-3.22: report connector 0 and every connector after Accepted.
                    self.reports.reported = [None, None];
                    self.reports.since_ms = self
                        .now
                        .mono_ms
                        .saturating_sub(self.config.uint(Key::MinimumStatusDuration) * 1000);
                }
            }
            RegistrationStatus::Pending => {
                tracing::info!(interval = conf.interval, "boot pending");
                if self.link.registration != Registration::Accepted {
                    self.link.registration = Registration::Pending;
                    self.link.boot_at_ms = Some(
                        self.now.mono_ms
                            + if interval_ms == 0 {
                                BOOT_RETRY_MS
                            } else {
                                interval_ms
                            },
                    );
                }
            }
            RegistrationStatus::Rejected => {
                tracing::warn!(interval = conf.interval, "boot rejected");
                self.link.registration = Registration::Rejected;
                self.link.waiting.clear();
                self.link.boot_at_ms = Some(
                    self.now.mono_ms
                        + if interval_ms == 0 {
                            BOOT_RETRY_MS
                        } else {
                            interval_ms
                        },
                );
            }
        }
    }

    pub(super) fn heartbeat_if_due(&mut self) {
        let hb = self.config.uint(Key::HeartbeatInterval);
        if hb == 0
            || !self.link.online()
            || self.link.outstanding.is_some()
            || !self.link.waiting.is_empty()
        {
            return;
        }
        if self.now.mono_ms >= self.link.last_sent_ms + hb * 1000 {
            self.queue_heartbeat(false);
        }
    }

    pub(super) fn queue_heartbeat(&mut self, triggered: bool) {
        self.link.waiting.push_back(WaitingCall {
            action: "Heartbeat",
            payload: serde_json::to_value(HeartbeatRequest {}).unwrap_or(Value::Null),
            kind: CallKind::Heartbeat,
            triggered,
        });
    }

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
            action: "StatusNotification",
            payload,
            kind: CallKind::Status { connector },
            triggered,
        });
    }

    /// A StartTransaction.conf contradicted the local list (§3.5.2).
    pub(super) fn queue_local_list_conflict(&mut self) {
        let payload = self.status_payload(0, ChargePointErrorCode::LocalListConflict);
        self.link.waiting.push_back(WaitingCall {
            action: "StatusNotification",
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
