//! Timestamped board events (BOARD_EVENT), on the board's own millisecond clock.

use std::fmt;

/// What happened on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Boot = 1,
    PilotChange = 2,
    ContactorClosed = 3,
    ContactorOpened = 4,
    PwmChanged = 5,
    CardRead = 6,
    LockEngaged = 7,
    LockReleased = 8,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        Self::Boot,
        Self::PilotChange,
        Self::ContactorClosed,
        Self::ContactorOpened,
        Self::PwmChanged,
        Self::CardRead,
        Self::LockEngaged,
        Self::LockReleased,
    ];

    pub fn to_wire(self) -> u8 {
        self as u8
    }

    pub fn from_wire(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u8 == v)
    }

    /// Name used in the DBC value table and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Boot => "Boot",
            Self::PilotChange => "PilotChange",
            Self::ContactorClosed => "ContactorClosed",
            Self::ContactorOpened => "ContactorOpened",
            Self::PwmChanged => "PwmChanged",
            Self::CardRead => "CardRead",
            Self::LockEngaged => "LockEngaged",
            Self::LockReleased => "LockReleased",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One board event. `arg` depends on the kind: the new pilot state for `PilotChange`,
/// the duty for `PwmChanged`, the UID length for `CardRead`, 0 otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardEvent {
    /// Board clock, milliseconds since boot (wraps after ~49 days).
    pub board_ms: u32,
    pub kind: EventKind,
    pub arg: u16,
    /// Event sequence (u8, wraps), so a reader can detect lost events.
    pub sequence: u8,
}
