//! Connection life cycle: connect/disconnect, BootNotification and registration, heartbeats.

use rust_ocpp::v1_6::messages::boot_notification::BootNotificationRequest;
use rust_ocpp::v1_6::messages::heart_beat::HeartbeatRequest;
use rust_ocpp::v1_6::types::RegistrationStatus;
use serde_json::Value;

use super::link::{CallKind, Registration, WaitingCall};
use super::Charger;
use crate::config::Key;
use crate::confs::BootConf;
use crate::store::{StoreOp, Table};

/// Wait before re-sending a BootNotification when the central system gave interval 0, and the
/// longest back-off after failed ones.
const BOOT_RETRY_MS: u64 = 30_000;

/// The first retry after a BootNotification that got no usable answer (timeout, CallError,
/// malformed); it doubles with each further failure up to [`BOOT_RETRY_MS`] (issue 9.7: a
/// timed-out one used to wait 30 s more, on top of MessageTimeout).
const BOOT_RETRY_FIRST_MS: u64 = 1_000;

/// The back-off before the next BootNotification after `failures` failed ones (≥ 1).
fn boot_backoff_ms(failures: u32) -> u64 {
    BOOT_RETRY_FIRST_MS
        .saturating_mul(1u64 << failures.saturating_sub(1).min(16))
        .min(BOOT_RETRY_MS)
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
        self.send_call(payload, CallKind::Boot);
    }

    /// Queues a BootNotification asked for by TriggerMessage.
    pub(super) fn trigger_boot(&mut self) {
        let payload = self.boot_request();
        self.link.waiting.push_back(WaitingCall {
            payload,
            kind: CallKind::Boot,
            triggered: true,
        });
    }

    /// The answer to a BootNotification (`None`: timeout, CallError or malformed answer).
    pub(super) fn on_boot_result(&mut self, conf: Option<BootConf>) {
        let Some(conf) = conf else {
            if self.link.registration != Registration::Accepted {
                self.link.boot_failures = self.link.boot_failures.saturating_add(1);
                let wait = boot_backoff_ms(self.link.boot_failures);
                tracing::warn!(
                    failures = self.link.boot_failures,
                    retry_in_ms = wait,
                    "BootNotification got no answer"
                );
                self.link.boot_at_ms = Some(self.now.mono_ms + wait);
            }
            return;
        };
        self.link.boot_failures = 0;
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
            payload: serde_json::to_value(HeartbeatRequest {}).unwrap_or(Value::Null),
            kind: CallKind::Heartbeat,
            triggered,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_retries_back_off_from_one_second_to_thirty() {
        let waits: Vec<u64> = (1..=8).map(boot_backoff_ms).collect();
        assert_eq!(
            waits,
            [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
        assert_eq!(boot_backoff_ms(u32::MAX), BOOT_RETRY_MS);
    }
}
