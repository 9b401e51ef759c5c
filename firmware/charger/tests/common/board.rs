//! A rig-side client on the simulated board's pty: the real SLCAN path (`chargerig-link`).

use std::path::Path;
use std::time::{Duration, Instant};

use chargerig_link::{BoardStatus, CanLink, Frame, SlcanLink};

/// The latest things the board told us.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub status: Option<BoardStatus>,
    pub energy_wh: u32,
    pub frames: Vec<Frame>,
}

/// Blocking board client (tests call it from `spawn_blocking` or plain threads).
pub struct Board {
    link: SlcanLink,
    pub seen: Seen,
}

impl Board {
    pub fn open(path: &Path) -> Board {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match SlcanLink::open(path, 115_200) {
                Ok(link) => {
                    return Board {
                        link,
                        seen: Seen::default(),
                    }
                }
                Err(e) if Instant::now() < deadline => {
                    eprintln!("board not ready yet: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot open the board at {}: {e}", path.display()),
            }
        }
    }

    pub fn send(&mut self, f: Frame) {
        self.link.send(&f.encode()).expect("send to board");
    }

    /// Reads frames until `cond(status)` holds; panics after `within` with the last status.
    pub fn wait_status(
        &mut self,
        what: &str,
        within: Duration,
        cond: impl Fn(&BoardStatus) -> bool,
    ) -> BoardStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.seen.status.filter(|s| cond(s)) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for board status: {what}; last status {:?}",
                self.seen.status
            );
            self.pump(Duration::from_millis(50));
        }
    }

    /// Reads whatever arrives within `for_at_most`.
    pub fn pump(&mut self, for_at_most: Duration) {
        if let Err(e) = self.try_pump(for_at_most) {
            panic!("board link error: {e}");
        }
    }

    /// Like [`Board::pump`], but a link that goes away (the charger exited) is an answer.
    pub fn try_pump(&mut self, for_at_most: Duration) -> Result<(), String> {
        let until = Instant::now() + for_at_most;
        while Instant::now() < until {
            match self.link.recv(Duration::from_millis(20)) {
                Ok(Some(can)) => {
                    if let Ok(f) = Frame::decode(&can) {
                        match f {
                            Frame::Status(s) => self.seen.status = Some(s),
                            Frame::Meter { energy_wh, .. } => self.seen.energy_wh = energy_wh,
                            _ => {}
                        }
                        self.seen.frames.push(f);
                    }
                }
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }
}
