//! The board side: pilot states, cards, the stop button, PWM/contactor/lock, connector status
//! and the energy register.

use rust_ocpp::v1_6::types::Reason;
use serde_json::Value;

use crate::config::Key;

use super::{keys, Charger, METER_PERSIST_PERIOD_MS};
use crate::io::{HardwareCmd, Output, PilotState};
use crate::status::ConnectorStatus;

/// PWM duty (permille) that offers `amps` (IEC 61851-1 table A.8: 6–51 A: duty = A / 0.6 %;
/// 51–80 A: duty = A / 2.5 + 64 %).
pub fn duty_permille(amps: f32) -> u16 {
    let pct = if amps <= 51.0 {
        amps / 0.6
    } else {
        amps / 2.5 + 64.0
    };
    ((pct * 10.0) as u16).clamp(100, 970)
}

/// An RFID UID as an id tag: upper-case hex.
pub fn uid_to_tag(uid: &[u8]) -> String {
    uid.iter().map(|b| format!("{b:02X}")).collect()
}

impl Charger {
    pub(super) fn on_pilot(&mut self, p: PilotState) {
        let old = self.pilot;
        if old == p {
            return;
        }
        self.pilot = p;
        tracing::debug!(from = ?old, to = ?p, "pilot changed");
        // Safety first: the contactor opens in this very call when the EV leaves C/D.
        self.update_hardware();
        if p == PilotState::A {
            self.finishing = false;
            if self.tx.is_some() && self.config.flag(Key::StopTransactionOnEVSideDisconnect) {
                self.stop_transaction(Reason::EVDisconnected, None);
            }
        }
        if !old.plugged()
            && p.plugged()
            && self.settings.free_charge
            && self.tx.is_none()
            && self.authorized.is_none()
            && !self.auth_pending
        {
            let serial = self.settings.serial_number.clone();
            self.present_tag(&serial);
        }
        self.try_start_transaction();
        self.update_hardware();
    }

    pub(super) fn on_card(&mut self, uid: &[u8]) {
        if uid.is_empty() || uid.len() > 10 {
            tracing::warn!(len = uid.len(), "ignoring card with implausible UID length");
            return;
        }
        let tag = uid_to_tag(uid);
        tracing::info!(%tag, "card presented");
        self.present_tag(&tag);
    }

    pub(super) fn on_stop_button(&mut self) {
        if self.tx.is_some() {
            let tag = self.tx.as_ref().map(|t| t.tag.clone());
            self.stop_transaction(Reason::Local, tag.as_deref());
        } else if self.authorized.take().is_some() {
            tracing::info!("authorization cancelled by the stop button");
        }
    }

    /// The current the meter sees: the EV load, limited to the offered current, while the
    /// contactor is closed.
    pub(super) fn metered_current(&self) -> u16 {
        if self.contactor {
            let offered = (self.settings.max_current_a * 10.0) as u16;
            self.load_da.min(offered)
        } else {
            0
        }
    }

    /// Brings PWM, contactor and lock in line with the state. Opening happens before anything
    /// else; closing only after the transaction is persisted.
    pub(super) fn update_hardware(&mut self) {
        let fault = self.pilot.is_fault();
        let offering = !fault
            && self.available_now()
            && self.pilot.plugged()
            && self.tx.as_ref().is_some_and(|t| !t.suspended);
        let pwm = if fault {
            0
        } else if offering {
            duty_permille(self.settings.max_current_a)
        } else {
            1000
        };
        let contactor = offering && self.pilot.wants_energy();
        // During a transaction the cable stays locked, also when unplugged at the EV with
        // StopTransactionOnEVSideDisconnect false (that has priority, §3.x "EV side disconnect");
        // afterwards only a held lock keeps it.
        let lock = self.hold.is_some() || self.tx.is_some();
        if self.contactor && !contactor {
            self.contactor = false;
            self.out
                .push_back(Output::Hardware(HardwareCmd::Contactor(false)));
        }
        if self.pwm != pwm {
            self.pwm = pwm;
            self.out.push_back(Output::Hardware(HardwareCmd::Pwm(pwm)));
        }
        if self.locked != lock {
            self.locked = lock;
            if lock {
                self.emit(Output::Hardware(HardwareCmd::Lock(true)));
            } else {
                self.out
                    .push_back(Output::Hardware(HardwareCmd::Lock(false)));
            }
        }
        if !self.contactor && contactor {
            self.contactor = true;
            self.emit(Output::Hardware(HardwareCmd::Contactor(true)));
        }
    }

    /// The connector is available for charging (not set Inoperative).
    pub(super) fn available_now(&self) -> bool {
        self.available
    }

    /// OCPP ChargePointStatus of connector 1 (§4.9), derived from the state.
    pub(super) fn connector_status(&self) -> ConnectorStatus {
        if self.pilot.is_fault() {
            return ConnectorStatus::Faulted;
        }
        if let Some(tx) = &self.tx {
            if tx.suspended || (!self.available && self.pilot.plugged()) {
                return ConnectorStatus::SuspendedEVSE;
            }
            if self.contactor {
                return ConnectorStatus::Charging;
            }
            return ConnectorStatus::SuspendedEV;
        }
        if !self.available {
            return ConnectorStatus::Unavailable;
        }
        if self.hold.is_some() || (self.finishing && self.pilot.plugged()) {
            return ConnectorStatus::Finishing;
        }
        if self.authorized.is_some() || self.pilot.plugged() {
            return ConnectorStatus::Preparing;
        }
        ConnectorStatus::Available
    }

    /// Connector 0 (the charge point as a whole).
    pub(super) fn charge_point_status(&self) -> ConnectorStatus {
        if self.available {
            ConnectorStatus::Available
        } else {
            ConnectorStatus::Unavailable
        }
    }

    /// Persists the register on every Wh change, and every few seconds during a transaction.
    pub(super) fn persist_meter_if_due(&mut self) {
        let wh = self.meter.wh();
        let periodic = self.tx.is_some()
            && self.now.mono_ms >= self.meter.persisted_at_ms + METER_PERSIST_PERIOD_MS;
        if wh != self.meter.persisted_wh || periodic {
            self.persist_meter();
        }
    }

    pub(super) fn persist_meter(&mut self) {
        let rec = self.meter.record(super::ts(self.now.utc));
        self.meter.persisted_wh = rec.wh;
        self.meter.persisted_at_ms = self.now.mono_ms;
        self.meter.persisted_time = rec.time;
        self.put_state(
            keys::METER,
            serde_json::to_value(&rec).unwrap_or(Value::Null),
        );
    }

    /// Late rejection with StopTransactionOnInvalidId=false: stop delivering energy once
    /// MaxEnergyOnInvalidId Wh have gone into the transaction.
    pub(super) fn check_invalid_energy(&mut self) {
        let limit = self.config.uint(Key::MaxEnergyOnInvalidId);
        let wh = self.meter.wh();
        let Some(tx) = self.tx.as_mut() else { return };
        if tx.invalid && !tx.suspended && wh.saturating_sub(tx.meter_start) >= limit {
            tracing::info!(
                local_tx = tx.local_id,
                "MaxEnergyOnInvalidId reached: suspending"
            );
            tx.suspended = true;
            let value = serde_json::to_value(&*tx).unwrap_or(Value::Null);
            self.put_state(keys::TX, value);
            self.update_hardware();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duty_for_16_amps_is_266_permille() {
        assert_eq!(duty_permille(16.0), 266);
        assert_eq!(duty_permille(6.0), 100);
        assert_eq!(duty_permille(32.0), 533);
        assert_eq!(duty_permille(80.0), 960);
    }

    #[test]
    fn uid_becomes_upper_case_hex_tag() {
        assert_eq!(uid_to_tag(&[0x04, 0xa1, 0xb2, 0xc3]), "04A1B2C3");
    }
}
