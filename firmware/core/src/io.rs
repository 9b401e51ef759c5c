//! What goes into the core and what comes out of it.

use crate::charger::{LocalReply, LocalRequest};
use crate::store::StoreOp;

/// IEC 61851 control-pilot state as measured by the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PilotState {
    /// +12 V: no EV.
    A,
    /// +9 V: EV connected, not asking for energy.
    B,
    /// +6 V: EV asks for energy.
    C,
    /// +3 V: EV asks for energy, ventilation required.
    D,
    /// 0 V: short / error.
    E,
    /// -12 V: EVSE not available (fault).
    F,
}

impl PilotState {
    /// Board-link encoding (0 = A .. 5 = F).
    pub fn from_code(code: u8) -> Option<PilotState> {
        Some(match code {
            0 => PilotState::A,
            1 => PilotState::B,
            2 => PilotState::C,
            3 => PilotState::D,
            4 => PilotState::E,
            5 => PilotState::F,
            _ => return None,
        })
    }

    /// Board-link encoding (0 = A .. 5 = F).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// EV connected (B, C or D).
    pub fn plugged(self) -> bool {
        matches!(self, PilotState::B | PilotState::C | PilotState::D)
    }

    /// EV asks for energy (C or D).
    pub fn wants_energy(self) -> bool {
        matches!(self, PilotState::C | PilotState::D)
    }

    /// Error states (E or F).
    pub fn is_fault(self) -> bool {
        matches!(self, PilotState::E | PilotState::F)
    }
}

/// Something the board saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoardInput {
    /// The measured pilot state changed (repeats are harmless).
    Pilot(PilotState),
    /// A card was read (UID bytes, 4 or 7) or removed (`None`). The id tag is the UID in upper-case hex.
    Card(Option<Vec<u8>>),
    /// The EV's load current, 0.1 A units (the meter integrates it while the contactor is closed).
    LoadDeciAmps(u16),
    /// The local stop button was pressed.
    StopButton,
}

/// One event for [`crate::Charger::handle_input`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Board(BoardInput),
    /// The WebSocket to the central system is up (after the handshake).
    Connected,
    /// The WebSocket is down, for any reason (close, refused, ping timeout).
    Disconnected,
    /// One OCPP-J text frame from the central system.
    Frame(String),
    /// A text frame too large to process (the shell's limit): only its beginning (`head`, a
    /// few KiB) and its size. A CALL is answered with a CallError carrying the recovered id.
    OversizedFrame {
        head: String,
        len: usize,
    },
    /// A request from the charger's local interface (the installer's configuration panel);
    /// answered by exactly one [`Output::Local`].
    Local(LocalRequest),
    /// Time passed. The shell calls this at least every 100 ms and at [`crate::Charger::poll_timeout`].
    Tick,
    /// The shell's storage has not committed a `Persist` within its bound: nothing new may
    /// start and a running transaction stops drawing energy, since neither could be recorded.
    StorageStalled,
    /// Every `Persist` handed to storage is committed again.
    StorageOk,
    /// The answer to [`Output::LoadQueue`]: queue rows (key, value) in key order, read after
    /// every earlier `Persist` was committed.
    QueueRows(Vec<(String, serde_json::Value)>),
}

/// A command to the board's hardware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HardwareCmd {
    /// Close (`true`) or open the contactor.
    Contactor(bool),
    /// Pilot PWM duty in permille: 1000 = steady +12 V (not offering), 0 = off / -12 V.
    Pwm(u16),
    /// Engage (`true`) or release the cable lock.
    Lock(bool),
}

/// One action for the shell, executed in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Commit these ops in one database transaction BEFORE executing the next output.
    Persist(Vec<StoreOp>),
    /// Send one OCPP-J text frame (dropped by the shell if the link is down).
    Send(String),
    /// Drive the hardware.
    Hardware(HardwareCmd),
    /// Drop the connection and connect again (after a Rejected boot interval, fatal protocol state).
    Reconnect,
    /// A Reset was accepted: restart the core from the database (`hard`: as after power loss).
    Reboot { hard: bool },
    /// Read up to `limit` rows of the queue table from key `from_key` on (after every earlier
    /// `Persist` is committed) and answer with [`Input::QueueRows`]: the queue keeps only a
    /// window in memory.
    LoadQueue { from_key: String, limit: usize },
    /// The answer to an [`Input::Local`] request, after the change is persisted.
    Local(LocalReply),
}
