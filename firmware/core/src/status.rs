//! What the board shows: the shell copies this into BOARD_STATUS / BOARD_METER frames.

use crate::io::PilotState;

/// OCPP 1.6 ChargePointStatus (§7.7) of the connector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectorStatus {
    Available,
    Preparing,
    Charging,
    SuspendedEVSE,
    SuspendedEV,
    Finishing,
    Reserved,
    Unavailable,
    Faulted,
}

impl ConnectorStatus {
    /// The OCPP string.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorStatus::Available => "Available",
            ConnectorStatus::Preparing => "Preparing",
            ConnectorStatus::Charging => "Charging",
            ConnectorStatus::SuspendedEVSE => "SuspendedEVSE",
            ConnectorStatus::SuspendedEV => "SuspendedEV",
            ConnectorStatus::Finishing => "Finishing",
            ConnectorStatus::Reserved => "Reserved",
            ConnectorStatus::Unavailable => "Unavailable",
            ConnectorStatus::Faulted => "Faulted",
        }
    }

    /// Board-link encoding of BOARD_STATUS b4.
    pub fn code(self) -> u8 {
        match self {
            ConnectorStatus::Available => 0,
            ConnectorStatus::Preparing => 1,
            ConnectorStatus::Charging => 2,
            ConnectorStatus::SuspendedEVSE => 3,
            ConnectorStatus::SuspendedEV => 4,
            ConnectorStatus::Finishing => 5,
            ConnectorStatus::Reserved => 6,
            ConnectorStatus::Unavailable => 7,
            ConnectorStatus::Faulted => 8,
        }
    }

    /// Parses the OCPP string.
    pub fn parse(s: &str) -> Option<ConnectorStatus> {
        [
            ConnectorStatus::Available,
            ConnectorStatus::Preparing,
            ConnectorStatus::Charging,
            ConnectorStatus::SuspendedEVSE,
            ConnectorStatus::SuspendedEV,
            ConnectorStatus::Finishing,
            ConnectorStatus::Reserved,
            ConnectorStatus::Unavailable,
            ConnectorStatus::Faulted,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A snapshot of the charger for the board status frame and `rig status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoardView {
    /// Last measured pilot state.
    pub pilot: PilotState,
    /// PWM duty the core commands, permille (1000 steady, 0 off).
    pub pwm_permille: u16,
    pub contactor_closed: bool,
    pub locked: bool,
    /// WebSocket up and BootNotification accepted.
    pub online: bool,
    pub tx_active: bool,
    /// Pilot fault (E/F).
    pub fault: bool,
    pub connector_status: ConnectorStatus,
    /// Transaction messages waiting for delivery.
    pub queue_len: usize,
    /// Energy register, Wh (monotonic, survives power loss).
    pub energy_wh: u64,
    /// Metered current, 0.1 A (the EV load while the contactor is closed, else 0).
    pub current_deci_amps: u16,
}
