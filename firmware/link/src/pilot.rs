//! IEC 61851 control-pilot states as carried on the link.

use std::fmt;
use std::str::FromStr;

/// Control-pilot state A..F (wire values 0..5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PilotState {
    A,
    B,
    C,
    D,
    E,
    F,
}

impl PilotState {
    /// Every state in wire order, so tables (DBC value tables, CLI help) derive from one list.
    pub const ALL: [PilotState; 6] = [Self::A, Self::B, Self::C, Self::D, Self::E, Self::F];

    pub fn to_wire(self) -> u8 {
        self as u8
    }

    pub fn from_wire(v: u8) -> Option<Self> {
        Self::ALL.get(usize::from(v)).copied()
    }

    pub fn as_str(self) -> &'static str {
        ["A", "B", "C", "D", "E", "F"][self as usize]
    }
}

impl fmt::Display for PilotState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown pilot state {0:?}: expected one of A, B, C, D, E, F")]
pub struct PilotStateParseError(pub String);

impl FromStr for PilotState {
    type Err = PilotStateParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| PilotStateParseError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_names_and_wire_values() {
        for p in PilotState::ALL {
            assert_eq!(p.to_string().parse::<PilotState>(), Ok(p));
            assert_eq!(PilotState::from_wire(p.to_wire()), Some(p));
        }
        assert_eq!("c".parse::<PilotState>(), Ok(PilotState::C));
        assert!("G".parse::<PilotState>().is_err());
        assert_eq!(PilotState::from_wire(6), None);
    }
}
