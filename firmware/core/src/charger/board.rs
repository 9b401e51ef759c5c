//! Reactions to the board: pilot changes, cards, the stop button; driving PWM/contactor/lock
//! from the state; the energy register's persistence. The connector's state is `connector.rs`.

use rust_ocpp::v1_6::types::Reason;
use serde_json::Value;

use super::connector::Wanted;
use super::{keys, ts, Charger, METER_PERSIST_PERIOD_MS};
use crate::config::Key;
use crate::io::{HardwareCmd, Output, PilotState};
use crate::status::ConnectorStatus;

/// An RFID UID as an id tag: upper-case hex.
pub fn uid_to_tag(uid: &[u8]) -> String {
    uid.iter().map(|b| format!("{b:02X}")).collect()
}

impl Charger {
    pub(super) fn on_pilot(&mut self, p: PilotState) {
        let old = self.connector.pilot;
        if old == p {
            return;
        }
        self.connector.pilot = p;
        tracing::debug!(from = ?old, to = ?p, "pilot changed");
        // Safety first: the contactor opens in this very call when the EV leaves C/D.
        self.update_hardware();
        if p == PilotState::A {
            self.connector.finishing = false;
            if self.session.tx.is_some() && self.config.flag(Key::StopTransactionOnEVSideDisconnect)
            {
                self.stop_transaction(Reason::EVDisconnected, None);
            }
        }
        // Free charge: plugging in presents the serial number as a tag, unless a tag is already
        // in play. This is not the start gate: `present_tag` applies it (and a cable held for
        // the serial number is released by it).
        if !old.plugged()
            && p.plugged()
            && self.settings.free_charge
            && self.session.tx.is_none()
            && self.session.authorized.is_none()
            && !self.session.auth_pending
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
        if self.session.tx.is_some() {
            let tag = self.session.tx.as_ref().map(|t| t.tag.clone());
            self.stop_transaction(Reason::Local, tag.as_deref());
        } else if self.session.authorized.take().is_some() {
            tracing::info!("authorization cancelled by the stop button");
        }
    }

    /// The current the meter sees (see [`super::connector::Connector::metered_current`]).
    pub(super) fn metered_current(&self) -> u16 {
        self.connector.metered_current(self.settings.max_current_a)
    }

    /// Brings PWM, contactor and lock in line with the state. Opening happens before anything
    /// else; closing only after the transaction is persisted.
    pub(super) fn update_hardware(&mut self) {
        let Wanted {
            pwm,
            contactor,
            lock,
        } = self
            .connector
            .wanted(self.session.tx.as_ref(), self.settings.max_current_a);
        if self.connector.contactor && !contactor {
            self.connector.contactor = false;
            self.out
                .push_back(Output::Hardware(HardwareCmd::Contactor(false)));
        }
        if self.connector.pwm != pwm {
            self.connector.pwm = pwm;
            self.out.push_back(Output::Hardware(HardwareCmd::Pwm(pwm)));
        }
        if self.connector.locked != lock {
            self.connector.locked = lock;
            if lock {
                self.emit(Output::Hardware(HardwareCmd::Lock(true)));
            } else {
                self.out
                    .push_back(Output::Hardware(HardwareCmd::Lock(false)));
            }
        }
        if !self.connector.contactor && contactor {
            self.connector.contactor = true;
            self.emit(Output::Hardware(HardwareCmd::Contactor(true)));
        }
    }

    /// Connector 1's status (§4.9): the connector's own rule, given the session.
    pub(super) fn connector_status(&self) -> ConnectorStatus {
        self.connector
            .status(self.session.tx.as_ref(), self.session.authorized.is_some())
    }

    /// Persists the register on every Wh change, and every few seconds during a transaction.
    pub(super) fn persist_meter_if_due(&mut self) {
        let wh = self.meter.wh();
        let periodic = self.session.tx.is_some()
            && self.now.mono_ms >= self.meter.persisted_at_ms + METER_PERSIST_PERIOD_MS;
        if wh != self.meter.persisted_wh || periodic {
            self.persist_meter();
        }
    }

    pub(super) fn persist_meter(&mut self) {
        let rec = self.meter.record(ts(self.now.utc));
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
        let Some(tx) = self.session.tx.as_mut() else {
            return;
        };
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
    fn uid_becomes_upper_case_hex_tag() {
        assert_eq!(uid_to_tag(&[0x04, 0xa1, 0xb2, 0xc3]), "04A1B2C3");
    }
}
