//! Sans-IO charger core: the whole charger logic as a deterministic state machine.
//!
//! Events and time go in ([`Charger::handle_input`] with a [`Now`]), actions come out
//! ([`Charger::poll_output`]). No sockets, threads or clocks live here, so every behaviour can be
//! tested by replaying inputs, and a power cut is simulated by rebuilding the core from the
//! persisted [`StoreOp`]s.

pub mod auth;
mod charger;
pub mod config;
mod confs;
mod io;
pub mod meter;
pub mod ocppj;
pub mod queue;
mod settings;
mod status;
mod store;
mod time;

pub use charger::{
    AuthorizationMode, Charger, ConfigEntry, LocalReply, LocalRequest, LocalStatus, TransactionView,
};
pub use config::{validate_entry, ConfigError, Key};
pub use io::{BoardInput, HardwareCmd, Input, Output, PilotState};
pub use settings::{validate_installer_config, Settings};
pub use status::{BoardView, ConnectorStatus};
pub use store::{Restored, StoreOp, Table};
pub use time::Now;
