//! Stuck storage for tests and the bench: a loop-mounted ext4 that can be frozen (`fsfreeze`,
//! root only) or the charger's portable stall hook, and the measurement both use: charging at
//! 32 A, storage stuck, EV C→A, how long until the contactor opens on the board's clock.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chargerig_link::{EventKind, Frame, PilotState};

use super::board::Board;
use super::process::{ChargerProc, FAST_CONFIG};

/// Whether loop devices and fsfreeze can be used here (root). Without them a test prints why
/// it skips, unless `CI` is set: there it must run.
pub fn can_freeze(test: &str) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    // /proc/self belongs to the effective user.
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: CI is set but this is not root: loop mounts and fsfreeze need root"
    );
    eprintln!("{test}: skipped (needs root for a loop-mounted ext4 and fsfreeze; CI runs it)");
    false
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small ext4 file system mounted on a loop device; unmounted when dropped.
pub struct LoopFs {
    pub mount: PathBuf,
    image: PathBuf,
}

impl LoopFs {
    /// `size_kib` of ext4 (mkfs.ext4 from e2fsprogs) mounted under `dir`.
    pub fn new(dir: &Path, size_kib: u64) -> LoopFs {
        let image = dir.join("fs.img");
        let mount = dir.join("mnt");
        std::fs::create_dir_all(&mount).unwrap();
        let f = std::fs::File::create(&image).unwrap();
        f.set_len(size_kib * 1024).unwrap();
        drop(f);
        run(
            "mkfs.ext4",
            &["-q", "-F", "-m", "0", image.to_str().unwrap()],
        );
        run(
            "mount",
            &[
                "-o",
                "loop",
                image.to_str().unwrap(),
                mount.to_str().unwrap(),
            ],
        );
        LoopFs { mount, image }
    }

    /// Freezes the file system until the guard is dropped.
    pub fn freeze(&self) -> Frozen {
        run("fsfreeze", &["-f", self.mount.to_str().unwrap()]);
        Frozen(self.mount.clone())
    }

    /// Remounts read-write.
    pub fn remount_rw(&self) {
        run("mount", &["-o", "remount,rw", self.mount.to_str().unwrap()]);
    }

    /// Remounts read-only (a failing card does that).
    pub fn remount_ro(&self) {
        run("mount", &["-o", "remount,ro", self.mount.to_str().unwrap()]);
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = Command::new("fsfreeze")
            .args(["-u", self.mount.to_str().unwrap()])
            .output();
        let _ = Command::new("umount")
            .args(["-l", self.mount.to_str().unwrap()])
            .output();
        let _ = std::fs::remove_file(&self.image);
    }
}

/// A frozen file system; thawed when dropped (also when a test panics, so the charger, blocked
/// in a write, can be killed).
pub struct Frozen(PathBuf);

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = Command::new("fsfreeze")
            .args(["-u", self.0.to_str().unwrap()])
            .output();
    }
}

/// What one C→A with stuck storage showed.
#[derive(Debug)]
pub struct StuckUnplug {
    /// Board clock: PilotChange(A) → ContactorOpened.
    pub contactor_delay_ms: u32,
    /// BOARD_STATUS frames in the [`WATCH`] after the unplug.
    pub statuses: usize,
}

/// How long the board is watched after the unplug.
pub const WATCH: Duration = Duration::from_secs(3);

/// An offline charger on `data_dir` (no central system) charging at 32 A, and its board.
pub fn start_charging(dir: &Path, data_dir: &Path, env: &[(&str, &str)]) -> (ChargerProc, Board) {
    let url = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("ws://127.0.0.1:{}/ocpp", l.local_addr().unwrap().port())
    };
    let config = format!("{FAST_CONFIG}AllowOfflineTxForUnknownId = \"true\"\n");
    let charger = ChargerProc::start_with(dir, Some(data_dir), &url, &config, &[], env);
    let mut b = Board::open(&charger.board);
    b.send(Frame::Pilot(PilotState::B));
    b.send(Frame::Card(Some("04A1B2C3".parse().unwrap())));
    b.send(Frame::Pilot(PilotState::C));
    b.send(Frame::Load { deci_amps: 320 });
    b.wait_status("charging offline", Duration::from_secs(10), |s| {
        s.contactor_closed && s.transaction_active
    });
    (charger, b)
}

/// An offline charger on `data_dir` charging at 32 A; `stick()` makes storage stuck (its guard
/// is held until the end), then the EV goes C→A. Returns what the board reported.
pub fn unplug_with_storage_stuck<G>(
    dir: &Path,
    data_dir: &Path,
    env: &[(&str, &str)],
    stick: impl FnOnce() -> G,
) -> (StuckUnplug, ChargerProc, G) {
    let (charger, mut b) = start_charging(dir, data_dir, env);
    // Let a meter persist or two go through first: storage was working while charging.
    b.pump(Duration::from_millis(300));
    let guard = stick();
    // Charging at 32 A persists the register about twice a second: after a second stuck, a
    // commit is outstanding (still below the charger's stall bound, when it pauses energy itself).
    b.pump(Duration::from_secs(1));
    b.seen.frames.clear();
    b.send(Frame::Pilot(PilotState::A));
    let until = Instant::now() + WATCH;
    while Instant::now() < until {
        b.pump(Duration::from_millis(50));
    }
    let frames = &b.seen.frames;
    let events: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Event(e) => Some(*e),
            _ => None,
        })
        .collect();
    let unplug = events
        .iter()
        .find(|e| e.kind == EventKind::PilotChange && e.arg == u16::from(PilotState::A.to_wire()))
        .unwrap_or_else(|| panic!("no PilotChange(A) event: {events:?}"));
    let opened = events
        .iter()
        .find(|e| e.kind == EventKind::ContactorOpened)
        .unwrap_or_else(|| {
            panic!(
                "the contactor did not open within {WATCH:?} of C→A with storage stuck: {events:?}\n{}",
                charger.log_text()
            )
        });
    let statuses = frames
        .iter()
        .filter(|f| matches!(f, Frame::Status(_)))
        .count();
    (
        StuckUnplug {
            contactor_delay_ms: opened.board_ms.wrapping_sub(unplug.board_ms),
            statuses,
        },
        charger,
        guard,
    )
}
