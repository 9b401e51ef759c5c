//! Power for a simulated board: SIGKILL, and a restart on the same data directory and pty.

use super::{PowerError, PowerSwitch};
use crate::simboard::SimBoard;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Shares the board with whoever else needs it (the world, `rig sim`).
#[derive(Clone)]
pub struct SimPower {
    board: Arc<Mutex<SimBoard>>,
}

impl SimPower {
    pub fn new(board: Arc<Mutex<SimBoard>>) -> Self {
        Self { board }
    }

    pub fn board(&self) -> &Arc<Mutex<SimBoard>> {
        &self.board
    }
}

impl PowerSwitch for SimPower {
    fn off(&self) -> BoxFuture<'_, Result<(), PowerError>> {
        async move { Ok(self.board.lock().await.kill_power().await?) }.boxed()
    }

    fn on(&self) -> BoxFuture<'_, Result<(), PowerError>> {
        async move { Ok(self.board.lock().await.restore_power().await?) }.boxed()
    }
}
