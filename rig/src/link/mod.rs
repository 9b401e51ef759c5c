//! Rig-side board link clients.
//!
//! [`BoardClient`] keeps a board link open for a whole scenario: a thread owns the carrier,
//! records every frame in and out (with time, and as a `candump -L` log), keeps the latest
//! status, meter and identity, the status timeline and the board's events, and reconnects
//! when the board goes away (power cut) and comes back at the same path.

pub mod client;
pub mod monitor;
pub mod record;
pub mod replay;

pub use client::{BoardClient, BoardClientOptions, BootMark, ClientError, WaitError};
pub use record::{
    board_json, status_line, BoardView, Direction, EventRecord, FrameRecord, StatusRecord,
};
