//! Power for a simulated board: SIGKILL, and a restart on the same data directory and pty.

use super::{PowerError, PowerSwitch};
use crate::charger_process::ChargerProcess;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Shares the board with the bench, which also shuts it down and reads its paths.
#[derive(Clone)]
pub struct SimPower {
    board: Arc<Mutex<ChargerProcess>>,
}

impl SimPower {
    pub fn new(board: Arc<Mutex<ChargerProcess>>) -> Self {
        Self { board }
    }

    pub fn board(&self) -> &Arc<Mutex<ChargerProcess>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charger_process::stand_in_board;
    use crate::power::PowerChoice;

    /// Through the trait object the bench holds: off kills the process, on starts a new one
    /// on the same paths.
    #[tokio::test]
    async fn the_profile_switch_cuts_and_restores_a_simulated_board() {
        let dir = std::env::temp_dir().join(format!("simpower-test-{}", std::process::id()));
        let board = ChargerProcess::start(stand_in_board(&dir))
            .await
            .expect("start");
        let board = Arc::new(Mutex::new(board));
        let switch = super::super::switch_for(&PowerChoice::Sim, Some(&board)).expect("a switch");
        let pid1 = board.lock().await.pid().unwrap();
        switch.off().await.unwrap();
        assert!(!board.lock().await.is_powered());
        assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid1 as i32), None).is_err());
        switch.on().await.unwrap();
        let mut b = board.lock().await;
        assert!(b.is_powered());
        assert_eq!(b.starts(), 2);
        assert_ne!(b.pid().unwrap(), pid1);
        drop(b);
        assert!(super::super::switch_for(&PowerChoice::Sim, None).is_none());
        assert!(super::super::switch_for(&PowerChoice::None, Some(&board)).is_none());
        drop(board);
        let _ = std::fs::remove_dir_all(dir);
    }
}
