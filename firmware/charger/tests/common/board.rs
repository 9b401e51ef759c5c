//! The rig's board link client (`rig::link::BoardClient`) on the simulated board's pty, with a
//! blocking face for these tests: what arrived since the last look, and status waits.

use std::path::Path;
use std::time::{Duration, Instant};

use chargerig_link::{BoardStatus, Frame, LinkSpec};
use rig::link::{BoardClient, BoardClientOptions, Direction};

/// The latest things the board told us.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub status: Option<BoardStatus>,
    pub energy_wh: u32,
    /// Frames from the board since the test last cleared this.
    pub frames: Vec<Frame>,
}

pub struct Board {
    client: BoardClient,
    /// How many of the client's recorded frames are already in `seen.frames`.
    cursor: usize,
    pub seen: Seen,
}

impl Board {
    /// Opens the link and waits (up to 10 s) for the board's first status.
    pub fn open(path: &Path) -> Board {
        let spec = LinkSpec::Slcan {
            device: path.to_path_buf(),
            baud: chargerig_link::spec::DEFAULT_BAUD,
        };
        let client = BoardClient::start(spec, BoardClientOptions::default())
            .unwrap_or_else(|e| panic!("cannot open the board at {}: {e}", path.display()));
        let mut b = Board {
            client,
            cursor: 0,
            seen: Seen::default(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while b.client.latest().is_none() {
            assert!(
                Instant::now() < deadline,
                "no status from the board at {} within 10 s: {:?}",
                path.display(),
                b.client.last_error()
            );
            b.pump(Duration::from_millis(20));
        }
        b
    }

    pub fn send(&mut self, f: Frame) {
        self.client.send(f).expect("send to board");
    }

    /// Reads frames until `cond(status)` holds; panics after `within` with the last status.
    pub fn wait_status(
        &mut self,
        what: &str,
        within: Duration,
        cond: impl Fn(&BoardStatus) -> bool,
    ) -> BoardStatus {
        super::poll(&format!("board status: {what}"), within, || {
            self.pump(Duration::ZERO);
            self.seen
                .status
                .filter(|s| cond(s))
                .ok_or_else(|| format!("last status {:?}", self.seen.status))
        })
    }

    /// Reads frames until `pick` accepts one of those seen; panics after `within` with them.
    pub fn wait_frame<T>(
        &mut self,
        what: &str,
        within: Duration,
        pick: impl Fn(&Frame) -> Option<T>,
    ) -> T {
        super::poll(what, within, || {
            self.pump(Duration::ZERO);
            self.seen
                .frames
                .iter()
                .find_map(&pick)
                .ok_or_else(|| format!("frames {:?}", self.seen.frames))
        })
    }

    /// Takes in whatever arrives within `for_at_most`.
    pub fn pump(&mut self, for_at_most: Duration) {
        std::thread::sleep(for_at_most);
        let frames = self.client.frames();
        for r in frames.iter().skip(self.cursor) {
            if r.direction == Direction::In {
                if let Some(f) = r.frame {
                    self.seen.frames.push(f);
                }
            }
        }
        self.cursor = frames.len();
        if let Some(v) = self.client.latest() {
            self.seen.status = Some(v.status);
            self.seen.energy_wh = v.energy_wh;
        }
    }
}
