//! Connector 1: what the board measures (pilot, load) and what we command (PWM, contactor,
//! lock), its availability and the states that keep a new user out (Finishing, a held cable).
//! Its status (§4.9) and its part of "may a session start?" are decided here and only here.

use serde::{Deserialize, Serialize};

use super::session::Transaction;
use super::start_gate::{NotNow, StartStep};
use crate::io::PilotState;
use crate::status::ConnectorStatus;

/// A cable lock kept after a DeAuthorized stop, until the same tag or parent comes back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Hold {
    pub tag: String,
    #[serde(default)]
    pub parent: Option<String>,
}

/// The outputs the connector should have now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Wanted {
    pub pwm: u16,
    pub contactor: bool,
    pub lock: bool,
}

/// The connector's state. It has no timer: it changes only on board input and session events.
#[derive(Debug)]
pub(super) struct Connector {
    pub pilot: PilotState,
    /// EV load the board reports, 0.1 A.
    pub load_da: u16,
    /// Commanded outputs, as last sent to the board.
    pub contactor: bool,
    pub pwm: u16,
    pub locked: bool,
    /// Operative (ChangeAvailability), persisted.
    pub available: bool,
    /// ChangeAvailability(Inoperative) arrived during a transaction: applied when it ends.
    pub unavailable_scheduled: bool,
    /// A transaction ended with the EV still plugged in.
    pub finishing: bool,
    /// A DeAuthorized stop (or an EV-side unplug with UnlockConnectorOnEVSideDisconnect false)
    /// keeps the cable locked; persisted.
    pub hold: Option<Hold>,
}

impl Connector {
    /// After boot: nothing offered, contactor open, locked if a hold was persisted.
    pub fn new(available: bool, hold: Option<Hold>) -> Connector {
        Connector {
            pilot: PilotState::A,
            load_da: 0,
            contactor: false,
            pwm: 1000,
            locked: hold.is_some(),
            available,
            unavailable_scheduled: false,
            finishing: false,
            hold,
        }
    }

    /// Finishing (§4.9): a transaction ended and the EV is still plugged in.
    pub fn finishing_now(&self) -> bool {
        self.finishing && self.pilot.plugged()
    }

    /// The connector's part of "may a session start now?" (see [`StartStep`] for which
    /// obstacle counts at which step).
    pub fn can_start(&self, step: StartStep) -> Result<(), NotNow> {
        let blocked = [
            (NotNow::CableHeld, self.hold.is_some()),
            (NotNow::Unavailable, !self.available),
            (NotNow::Finishing, self.finishing_now()),
            (NotNow::Faulted, self.pilot.is_fault()),
            (NotNow::NotPlugged, !self.pilot.plugged()),
        ];
        NotNow::first(step, blocked)
    }

    /// The current the meter sees: the EV load, limited to the offered current, while the
    /// contactor is closed.
    pub fn metered_current(&self, max_current_a: f32) -> u16 {
        if self.contactor {
            let offered = (max_current_a * 10.0) as u16;
            self.load_da.min(offered)
        } else {
            0
        }
    }

    /// PWM, contactor and lock as the state asks for: energy is offered only to a plugged EV
    /// in a running, not suspended transaction on an available, fault-free connector.
    pub fn wanted(&self, tx: Option<&Transaction>, max_current_a: f32) -> Wanted {
        let fault = self.pilot.is_fault();
        let offering =
            !fault && self.available && self.pilot.plugged() && tx.is_some_and(|t| !t.suspended);
        let pwm = if fault {
            0
        } else if offering {
            duty_permille(max_current_a)
        } else {
            1000
        };
        Wanted {
            pwm,
            contactor: offering && self.pilot.wants_energy(),
            // During a transaction the cable stays locked, also when unplugged at the EV with
            // StopTransactionOnEVSideDisconnect false (that has priority, §3.x "EV side
            // disconnect"); afterwards only a held lock keeps it.
            lock: self.hold.is_some() || tx.is_some(),
        }
    }

    /// OCPP ChargePointStatus of connector 1 (§4.9), from the connector and the session.
    pub fn status(&self, tx: Option<&Transaction>, authorized: bool) -> ConnectorStatus {
        if self.pilot.is_fault() {
            return ConnectorStatus::Faulted;
        }
        if let Some(tx) = tx {
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
        if self.hold.is_some() || self.finishing_now() {
            return ConnectorStatus::Finishing;
        }
        if authorized || self.pilot.plugged() {
            return ConnectorStatus::Preparing;
        }
        ConnectorStatus::Available
    }

    /// Connector 0 (the charge point as a whole).
    pub fn charge_point_status(&self) -> ConnectorStatus {
        if self.available {
            ConnectorStatus::Available
        } else {
            ConnectorStatus::Unavailable
        }
    }
}

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
}
