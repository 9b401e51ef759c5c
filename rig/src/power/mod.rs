//! Power switches: a hard cut of the board's supply with no warning, and power back.

pub mod command;
pub mod sim;

pub use command::CommandPower;
pub use sim::SimPower;

use crate::charger_process::ChargerProcess;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// How the board's power is switched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PowerChoice {
    /// SIGKILL and restart of the simulated board.
    Sim,
    /// Shell commands (a relay CLI), then `settle` before the board is expected to boot.
    Command {
        on: String,
        off: String,
        settle: Duration,
    },
    /// No power switch: `@power` scenarios must be skipped on this bench.
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum PowerError {
    #[error(transparent)]
    Sim(#[from] crate::charger_process::ChargerProcessError),
    #[error("power command `{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("cannot run power command `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
}

/// Switches the board's supply. Object-safe so a profile can pick one at run time.
pub trait PowerSwitch: Send + Sync {
    /// Hard cut, no warning.
    fn off(&self) -> BoxFuture<'_, Result<(), PowerError>>;
    /// Power back; the board boots with what it persisted.
    fn on(&self) -> BoxFuture<'_, Result<(), PowerError>>;
}

/// The switch a profile asks for; `None` when it has none (`switch = "none"`, whose `@power`
/// scenarios the profile skips) or names the simulator without a simulated board.
pub fn switch_for(
    choice: &PowerChoice,
    board: Option<&Arc<Mutex<ChargerProcess>>>,
) -> Option<Box<dyn PowerSwitch>> {
    match (choice, board) {
        (PowerChoice::Sim, Some(board)) => Some(Box::new(SimPower::new(board.clone()))),
        (PowerChoice::Command { on, off, settle }, _) => {
            Some(Box::new(CommandPower::new(on, off, *settle)))
        }
        _ => None,
    }
}
