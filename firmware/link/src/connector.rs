//! OCPP 1.6 ChargePointStatus of the connector, as the board reports it.

use std::fmt;
use std::str::FromStr;

/// Connector status with the OCPP 1.6 names (wire values 0..8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// Every status in wire order.
    pub const ALL: [ConnectorStatus; 9] = [
        Self::Available,
        Self::Preparing,
        Self::Charging,
        Self::SuspendedEVSE,
        Self::SuspendedEV,
        Self::Finishing,
        Self::Reserved,
        Self::Unavailable,
        Self::Faulted,
    ];

    pub fn to_wire(self) -> u8 {
        self as u8
    }

    pub fn from_wire(v: u8) -> Option<Self> {
        Self::ALL.get(usize::from(v)).copied()
    }

    /// The OCPP 1.6 spelling (`SuspendedEVSE`, not `SuspendedEvse`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "Available",
            Self::Preparing => "Preparing",
            Self::Charging => "Charging",
            Self::SuspendedEVSE => "SuspendedEVSE",
            Self::SuspendedEV => "SuspendedEV",
            Self::Finishing => "Finishing",
            Self::Reserved => "Reserved",
            Self::Unavailable => "Unavailable",
            Self::Faulted => "Faulted",
        }
    }
}

impl fmt::Display for ConnectorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown connector status {0:?}: expected an OCPP 1.6 ChargePointStatus such as Available, Preparing, Charging, SuspendedEVSE, SuspendedEV, Finishing, Reserved, Unavailable, Faulted")]
pub struct ConnectorStatusParseError(pub String);

impl FromStr for ConnectorStatus {
    type Err = ConnectorStatusParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim())
            .ok_or_else(|| ConnectorStatusParseError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_ocpp_names() {
        for c in ConnectorStatus::ALL {
            assert_eq!(c.to_string().parse::<ConnectorStatus>(), Ok(c));
            assert_eq!(ConnectorStatus::from_wire(c.to_wire()), Some(c));
        }
        assert_eq!(ConnectorStatus::SuspendedEVSE.to_wire(), 3);
        assert!("charging".parse::<ConnectorStatus>().is_err());
        assert_eq!(ConnectorStatus::from_wire(9), None);
    }
}
