//! The board's periodic status (BOARD_STATUS).

use crate::{ConnectorStatus, PilotState};

/// What the board reports on every change and at least every 100 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardStatus {
    /// Pilot state as the board measures it.
    pub pilot: PilotState,
    /// PWM duty in 0.1 % steps; 1000 = steady +12 V (not offering), 0 = oscillator off.
    pub pwm_duty_permille: u16,
    pub contactor_closed: bool,
    pub cable_locked: bool,
    /// The charger's own view of its OCPP connection.
    pub online: bool,
    pub transaction_active: bool,
    pub fault: bool,
    pub connector_status: ConnectorStatus,
    /// Increments on every status frame (wraps), so a reader can tell fresh from repeated.
    pub sequence: u8,
    /// Offline queue length (saturating at u16::MAX).
    pub queue_len: u16,
}

impl Default for BoardStatus {
    fn default() -> Self {
        Self {
            pilot: PilotState::A,
            pwm_duty_permille: 1000,
            contactor_closed: false,
            cable_locked: false,
            online: false,
            transaction_active: false,
            fault: false,
            connector_status: ConnectorStatus::Available,
            sequence: 0,
            queue_len: 0,
        }
    }
}

impl BoardStatus {
    /// Flag bits of byte 3, in wire order.
    pub(crate) fn flags(&self) -> [bool; 5] {
        [
            self.contactor_closed,
            self.cable_locked,
            self.online,
            self.transaction_active,
            self.fault,
        ]
    }
}
