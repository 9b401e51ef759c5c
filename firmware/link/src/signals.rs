//! The frame set as data: message ids, lengths and signal positions.
//!
//! This table is the single definition the codec reads and writes through, and the one the
//! DBC test compares `fixtures/board.dbc` against, so the file and the code cannot drift.
//! All signals are little-endian (Intel) and unsigned.

/// Who sends a message (the DBC `BU_` node names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Rig,
    Board,
}

impl Node {
    pub fn as_str(self) -> &'static str {
        match self {
            Node::Rig => "RIG",
            Node::Board => "BOARD",
        }
    }

    /// The other end of the link: the receiver of every signal this node sends.
    pub fn peer(self) -> Node {
        match self {
            Node::Rig => Node::Board,
            Node::Board => Node::Rig,
        }
    }
}

/// One signal of a message: an unsigned little-endian bit field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalDef {
    pub name: &'static str,
    pub start_bit: u32,
    pub size: u32,
    /// Physical = raw * factor + offset.
    pub factor: f64,
    pub offset: f64,
    pub unit: &'static str,
    /// Value table (raw value, name), empty when the signal is a plain number.
    pub values: &'static [(u32, &'static str)],
}

impl SignalDef {
    const fn raw(name: &'static str, start_bit: u32, size: u32) -> Self {
        Self {
            name,
            start_bit,
            size,
            factor: 1.0,
            offset: 0.0,
            unit: "",
            values: &[],
        }
    }

    const fn unit(mut self, factor: f64, unit: &'static str) -> Self {
        self.factor = factor;
        self.unit = unit;
        self
    }

    const fn values(mut self, values: &'static [(u32, &'static str)]) -> Self {
        self.values = values;
        self
    }

    /// Largest raw value the field holds.
    pub fn max_raw(&self) -> u64 {
        if self.size >= 64 {
            u64::MAX
        } else {
            (1u64 << self.size) - 1
        }
    }

    /// Reads the raw field out of a payload (missing bytes read as zero).
    pub fn get(&self, data: &[u8; 8]) -> u64 {
        (u64::from_le_bytes(*data) >> self.start_bit) & self.max_raw()
    }

    /// Writes the raw field into a payload; bits above the field's size are dropped.
    pub fn put(&self, data: &mut [u8; 8], raw: u64) {
        let mask = self.max_raw() << self.start_bit;
        let word = (u64::from_le_bytes(*data) & !mask) | ((raw << self.start_bit) & mask);
        *data = word.to_le_bytes();
    }
}

/// One message of the frame set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MessageDef {
    pub id: u16,
    pub name: &'static str,
    pub dlc: u8,
    pub sender: Node,
    pub signals: &'static [SignalDef],
}

pub const PILOT_VALUES: &[(u32, &str)] =
    &[(0, "A"), (1, "B"), (2, "C"), (3, "D"), (4, "E"), (5, "F")];
pub const CONNECTOR_VALUES: &[(u32, &str)] = &[
    (0, "Available"),
    (1, "Preparing"),
    (2, "Charging"),
    (3, "SuspendedEVSE"),
    (4, "SuspendedEV"),
    (5, "Finishing"),
    (6, "Reserved"),
    (7, "Unavailable"),
    (8, "Faulted"),
];
pub const EVENT_VALUES: &[(u32, &str)] = &[
    (1, "Boot"),
    (2, "PilotChange"),
    (3, "ContactorClosed"),
    (4, "ContactorOpened"),
    (5, "PwmChanged"),
    (6, "CardRead"),
    (7, "LockEngaged"),
    (8, "LockReleased"),
];

pub const ID_RIG_PILOT: u16 = 0x100;
pub const ID_RIG_CARD: u16 = 0x101;
pub const ID_RIG_LOAD: u16 = 0x102;
pub const ID_RIG_BUTTON: u16 = 0x103;
pub const ID_RIG_STATUS_REQ: u16 = 0x104;
pub const ID_BOARD_STATUS: u16 = 0x200;
pub const ID_BOARD_METER: u16 = 0x201;
pub const ID_BOARD_EVENT: u16 = 0x202;
pub const ID_BOARD_IDENTITY: u16 = 0x203;

pub const PILOT_STATE: SignalDef = SignalDef::raw("PilotState", 0, 8).values(PILOT_VALUES);

pub const CARD_UID_LENGTH: SignalDef = SignalDef::raw("UidLength", 0, 8);
pub const CARD_UID_BYTES: [SignalDef; 7] = [
    SignalDef::raw("UidByte0", 8, 8),
    SignalDef::raw("UidByte1", 16, 8),
    SignalDef::raw("UidByte2", 24, 8),
    SignalDef::raw("UidByte3", 32, 8),
    SignalDef::raw("UidByte4", 40, 8),
    SignalDef::raw("UidByte5", 48, 8),
    SignalDef::raw("UidByte6", 56, 8),
];
const CARD_SIGNALS: [SignalDef; 8] = [
    CARD_UID_LENGTH,
    CARD_UID_BYTES[0],
    CARD_UID_BYTES[1],
    CARD_UID_BYTES[2],
    CARD_UID_BYTES[3],
    CARD_UID_BYTES[4],
    CARD_UID_BYTES[5],
    CARD_UID_BYTES[6],
];

pub const LOAD_CURRENT: SignalDef = SignalDef::raw("LoadCurrent", 0, 16).unit(0.1, "A");
pub const STOP_BUTTON: SignalDef = SignalDef::raw("StopButton", 0, 8);

pub const STATUS_PILOT: SignalDef = SignalDef::raw("Pilot", 0, 8).values(PILOT_VALUES);
pub const STATUS_PWM_DUTY: SignalDef = SignalDef::raw("PwmDuty", 8, 16).unit(0.1, "%");
/// Flag bits of byte 3 in wire order: contactor, lock, online, transaction, fault.
pub const STATUS_FLAGS: [SignalDef; 5] = [
    SignalDef::raw("ContactorClosed", 24, 1),
    SignalDef::raw("CableLocked", 25, 1),
    SignalDef::raw("OcppOnline", 26, 1),
    SignalDef::raw("TransactionActive", 27, 1),
    SignalDef::raw("Fault", 28, 1),
];
pub const STATUS_CONNECTOR: SignalDef =
    SignalDef::raw("ConnectorStatus", 32, 8).values(CONNECTOR_VALUES);
pub const STATUS_SEQUENCE: SignalDef = SignalDef::raw("Sequence", 40, 8);
pub const STATUS_QUEUE_LEN: SignalDef = SignalDef::raw("OfflineQueueLength", 48, 16);
const STATUS_SIGNALS: [SignalDef; 10] = [
    STATUS_PILOT,
    STATUS_PWM_DUTY,
    STATUS_FLAGS[0],
    STATUS_FLAGS[1],
    STATUS_FLAGS[2],
    STATUS_FLAGS[3],
    STATUS_FLAGS[4],
    STATUS_CONNECTOR,
    STATUS_SEQUENCE,
    STATUS_QUEUE_LEN,
];

pub const METER_ENERGY: SignalDef = SignalDef::raw("Energy", 0, 32).unit(1.0, "Wh");
pub const METER_CURRENT: SignalDef = SignalDef::raw("Current", 32, 16).unit(0.1, "A");

pub const EVENT_TIME: SignalDef = SignalDef::raw("BoardTime", 0, 32).unit(1.0, "ms");
pub const EVENT_KIND: SignalDef = SignalDef::raw("EventKind", 32, 8).values(EVENT_VALUES);
pub const EVENT_ARG: SignalDef = SignalDef::raw("EventArg", 40, 16);
pub const EVENT_SEQUENCE: SignalDef = SignalDef::raw("EventSequence", 56, 8);

pub const IDENTITY_MAJOR: SignalDef = SignalDef::raw("FwMajor", 0, 8);
pub const IDENTITY_MINOR: SignalDef = SignalDef::raw("FwMinor", 8, 8);
pub const IDENTITY_PATCH: SignalDef = SignalDef::raw("FwPatch", 16, 8);
pub const IDENTITY_BOOT_COUNT: SignalDef = SignalDef::raw("BootCount", 24, 32);

/// The whole frame set, in id order.
pub const MESSAGES: &[MessageDef] = &[
    MessageDef {
        id: ID_RIG_PILOT,
        name: "RIG_PILOT",
        dlc: 1,
        sender: Node::Rig,
        signals: &[PILOT_STATE],
    },
    MessageDef {
        id: ID_RIG_CARD,
        name: "RIG_CARD",
        dlc: 8,
        sender: Node::Rig,
        signals: &CARD_SIGNALS,
    },
    MessageDef {
        id: ID_RIG_LOAD,
        name: "RIG_LOAD",
        dlc: 2,
        sender: Node::Rig,
        signals: &[LOAD_CURRENT],
    },
    MessageDef {
        id: ID_RIG_BUTTON,
        name: "RIG_BUTTON",
        dlc: 1,
        sender: Node::Rig,
        signals: &[STOP_BUTTON],
    },
    MessageDef {
        id: ID_RIG_STATUS_REQ,
        name: "RIG_STATUS_REQ",
        dlc: 0,
        sender: Node::Rig,
        signals: &[],
    },
    MessageDef {
        id: ID_BOARD_STATUS,
        name: "BOARD_STATUS",
        dlc: 8,
        sender: Node::Board,
        signals: &STATUS_SIGNALS,
    },
    MessageDef {
        id: ID_BOARD_METER,
        name: "BOARD_METER",
        dlc: 6,
        sender: Node::Board,
        signals: &[METER_ENERGY, METER_CURRENT],
    },
    MessageDef {
        id: ID_BOARD_EVENT,
        name: "BOARD_EVENT",
        dlc: 8,
        sender: Node::Board,
        signals: &[EVENT_TIME, EVENT_KIND, EVENT_ARG, EVENT_SEQUENCE],
    },
    MessageDef {
        id: ID_BOARD_IDENTITY,
        name: "BOARD_IDENTITY",
        dlc: 7,
        sender: Node::Board,
        signals: &[
            IDENTITY_MAJOR,
            IDENTITY_MINOR,
            IDENTITY_PATCH,
            IDENTITY_BOOT_COUNT,
        ],
    },
];

/// The definition of a message id, if it belongs to the frame set.
pub fn message(id: u16) -> Option<&'static MessageDef> {
    MESSAGES.iter().find(|m| m.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConnectorStatus, EventKind, PilotState};

    #[test]
    fn value_tables_match_the_enums() {
        let pilots: Vec<_> = PilotState::ALL
            .iter()
            .map(|p| (p.to_wire() as u32, p.as_str()))
            .collect();
        assert_eq!(pilots, PILOT_VALUES);
        let conns: Vec<_> = ConnectorStatus::ALL
            .iter()
            .map(|c| (c.to_wire() as u32, c.as_str()))
            .collect();
        assert_eq!(conns, CONNECTOR_VALUES);
        let kinds: Vec<_> = EventKind::ALL
            .iter()
            .map(|k| (k.to_wire() as u32, k.as_str()))
            .collect();
        assert_eq!(kinds, EVENT_VALUES);
    }

    #[test]
    fn signals_fit_their_message_and_do_not_overlap() {
        for m in MESSAGES {
            let mut used = 0u64;
            for s in m.signals {
                assert!(
                    s.start_bit + s.size <= u32::from(m.dlc) * 8,
                    "{}.{} past dlc",
                    m.name,
                    s.name
                );
                let mask = s.max_raw() << s.start_bit;
                assert_eq!(used & mask, 0, "{}.{} overlaps", m.name, s.name);
                used |= mask;
            }
        }
    }

    #[test]
    fn put_then_get_keeps_neighbours() {
        let mut d = [0xFFu8; 8];
        STATUS_PWM_DUTY.put(&mut d, 266);
        assert_eq!(STATUS_PWM_DUTY.get(&d), 266);
        assert_eq!(d[0], 0xFF);
        assert_eq!(d[3], 0xFF);
        assert_eq!(&d[1..3], &266u16.to_le_bytes());
    }
}
