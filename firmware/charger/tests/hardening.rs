//! Issue 9.9, the shell's small hardening: warnings a babbling client triggers are rate-limited,
//! two chargers can never share a data directory (however the lock file is tampered with) or a
//! live board path, and the data directory is private to the charger's user.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use chargerig_link::Frame;
use common::board::Board;
use common::process::{run_to_exit, ChargerProc, FAST_CONFIG};

const NOWHERE: &str = "ws://127.0.0.1:9/ocpp";

/// 5,000 of each of the three inputs give a bounded number of log lines, with running totals.
#[test]
fn a_flood_of_stray_bels_wrong_direction_frames_and_unsupported_commands_is_logged_sparingly() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    let status = Frame::Status(Default::default()).encode();
    let status_line = chargerig_link::slcan::encode_frame(&status);
    let mut port = serialport::new(p.board.to_str().unwrap(), 115_200)
        .timeout(Duration::from_secs(10))
        .open_native()
        .unwrap();
    // Its answers go unread: the board drops what does not fit, which it may.
    let flood = format!("\x07Z1\r{status_line}").repeat(5_000);
    port.write_all(flood.as_bytes()).unwrap();
    drop(port);
    // The board still answers: everything was read.
    let mut b = Board::open(&p.board);
    b.send(Frame::StatusRequest);
    b.wait_status("alive", Duration::from_secs(5), |_| true);
    let counts = |log: &str| {
        [
            "stray BEL from the rig side",
            "board-to-rig frame received from the rig side",
            "SLCAN command not supported",
        ]
        .map(|w| log.lines().filter(|l| l.contains(w)).count())
    };
    let log = p.wait_log("each kind of input logged", Duration::from_secs(5), |log| {
        counts(log).iter().all(|n| *n > 0)
    });
    let seen = counts(&log);
    for n in seen {
        assert!(n <= 40, "{n} log lines for 5,000 inputs: {seen:?}");
    }
}

/// The lock is on the directory itself: deleting the lock file does not let a second one in.
#[test]
fn deleting_the_lock_file_does_not_let_a_second_charger_into_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    let data = dir.path().join("data");
    std::fs::remove_file(data.join("lock")).unwrap();
    let other = dir.path().join("board2");
    let (status, err) = run_to_exit(&[
        "--board",
        &format!("sim:{}", other.display()),
        "--csms-url",
        NOWHERE,
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("is in use by another charger"), "{err}");
    drop(p);
}

/// A live board path belongs to its charger: a second one refuses instead of taking it over.
#[test]
fn a_second_charger_refuses_a_live_board_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    let target = std::fs::read_link(&p.board).unwrap();
    let (status, err) = run_to_exit(&[
        "--board",
        &format!("sim:{}", p.board.display()),
        "--csms-url",
        NOWHERE,
        "--data-dir",
        dir.path().join("data2").to_str().unwrap(),
    ]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("is in use by another charger"), "{err}");
    assert_eq!(
        std::fs::read_link(&p.board).unwrap(),
        target,
        "the first charger keeps its board"
    );
}

#[test]
fn the_data_directory_and_database_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&data.join("charger.db")), 0o600, "charger.db");
    for extra in ["charger.db-wal", "charger.db-shm", "lock"] {
        let path = data.join(extra);
        if path.exists() {
            assert_eq!(mode(&path) & 0o077, 0, "{extra}");
        }
    }
}
