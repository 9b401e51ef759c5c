//! The simulated board's HIL port, driven the way the rig drives it: SLCAN on the pty.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use chargerig_link::{ConnectorStatus, Frame, PilotState};
use common::board::Board;
use common::poll;
use common::process::{ChargerProc, FAST_CONFIG};

const NOWHERE: &str = "ws://127.0.0.1:9/ocpp";

#[test]
fn the_board_reports_status_every_100_ms_and_answers_a_status_request() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    let mut b = Board::open(&p.board);
    let first = b.wait_status("any status", Duration::from_secs(5), |_| true);
    assert_eq!(first.pilot, PilotState::A);
    assert!(!first.online, "no central system: offline");
    assert_eq!(first.connector_status, ConnectorStatus::Available);

    // Periodic: at least 5 STATUS frames in ~1 s.
    b.seen.frames.clear();
    b.pump(Duration::from_millis(1000));
    let statuses = b
        .seen
        .frames
        .iter()
        .filter(|f| matches!(f, Frame::Status(_)))
        .count();
    assert!(
        (5..=40).contains(&statuses),
        "{statuses} status frames in 1 s"
    );

    b.seen.frames.clear();
    b.send(Frame::StatusRequest);
    let boot_count = b.wait_frame(
        "IDENTITY after STATUS_REQ",
        Duration::from_secs(2),
        boot_count_of,
    );
    assert_eq!(boot_count, 1);
}

#[test]
fn a_pilot_change_is_seen_as_an_event_and_in_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    let mut b = Board::open(&p.board);
    b.send(Frame::Pilot(PilotState::B));
    b.wait_status("pilot B", Duration::from_secs(3), |s| {
        s.pilot == PilotState::B
    });
    assert!(
        b.seen.frames.iter().any(|f| matches!(f, Frame::Event(e) if e.kind == chargerig_link::EventKind::PilotChange && e.arg == 1)),
        "{:?}",
        b.seen.frames
    );
}

#[test]
fn garbage_on_the_link_is_refused_with_bel_counted_logged_and_never_acted_on() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    {
        let mut port = serialport::new(p.board.to_str().unwrap(), 115_200)
            .timeout(Duration::from_millis(100))
            .open_native()
            .unwrap();
        // Not SLCAN; an unknown id; a pilot frame with a bad length; a pilot value out of range.
        port.write_all(b"hello\rt7FF0\rt1000\rt10010F\r").unwrap();
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut got = Vec::new();
        while got.iter().filter(|b| **b == 0x07).count() < 1 {
            assert!(Instant::now() < deadline, "no BEL for garbage, got {got:?}");
            let mut buf = [0u8; 256];
            if let Ok(n) = port.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
    }
    let mut b = Board::open(&p.board);
    let s = b.wait_status("any status", Duration::from_secs(3), |_| true);
    assert_eq!(s.pilot, PilotState::A, "garbage must not change the pilot");
    p.wait_log("the garbage to be logged", Duration::from_secs(3), |log| {
        log.contains("garbage ignored") && log.contains("frame rejected")
    });
}

#[test]
fn clients_come_and_go_and_the_board_keeps_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    {
        let mut b = Board::open(&p.board);
        b.send(Frame::Pilot(PilotState::B));
        b.wait_status("pilot B", Duration::from_secs(3), |s| {
            s.pilot == PilotState::B
        });
    }
    for _ in 0..3 {
        let mut b = Board::open(&p.board);
        b.send(Frame::StatusRequest);
        b.wait_status("pilot still B", Duration::from_secs(3), |s| {
            s.pilot == PilotState::B
        });
    }
}

#[test]
fn a_stale_symlink_is_replaced_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let board = dir.path().join("board");
    std::os::unix::fs::symlink("/dev/pts/does-not-exist", &board).unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    let target = std::fs::read_link(&p.board).unwrap();
    assert!(target.starts_with("/dev/pts/"), "{target:?}");
    assert!(std::fs::metadata(&p.board).is_ok(), "points at a live pty");
}

#[test]
fn opening_the_channel_answers_like_a_status_request_with_the_boot_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    let identity = |p: &ChargerProc| {
        let mut b = Board::open(&p.board);
        b.wait_frame("IDENTITY on open", Duration::from_secs(3), boot_count_of)
    };
    assert_eq!(identity(&p), 1);
    p.kill_power();
    p.restore_power();
    assert_eq!(
        identity(&p),
        2,
        "the boot count survives a power cut and grows"
    );
}

#[test]
fn a_client_without_the_slcan_handshake_still_hears_the_board_and_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    let mut port = serialport::new(p.board.to_str().unwrap(), 115_200)
        .timeout(Duration::from_millis(100))
        .open_native()
        .unwrap();
    // Straight to a frame: pilot B, no C/S6/O first.
    port.write_all(
        chargerig_link::slcan::encode_frame(&Frame::Pilot(PilotState::B).encode()).as_bytes(),
    )
    .unwrap();
    let mut decoder = chargerig_link::SlcanDecoder::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        assert!(
            Instant::now() < deadline,
            "no status with pilot B without a handshake"
        );
        let mut buf = [0u8; 512];
        let n = port.read(&mut buf).unwrap_or(0);
        let seen_b = decoder.push(&buf[..n]).any(|item| match item {
            chargerig_link::SlcanItem::Frame(can) => {
                matches!(Frame::decode(&can), Ok(Frame::Status(s)) if s.pilot == PilotState::B)
            }
            _ => false,
        });
        if seen_b {
            break;
        }
    }
}

#[test]
fn a_careless_client_leaving_echo_on_does_not_garble_the_next_one() {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p.board)
            .unwrap();
        let mut tio = tcgetattr(&f).unwrap();
        tio.local_flags |= LocalFlags::ECHO | LocalFlags::ICANON;
        tcsetattr(&f, SetArg::TCSANOW, &tio).unwrap();
    }
    // The board notices the client left and restores raw mode (it polls every 10 ms).
    poll("the line back in raw mode", Duration::from_secs(3), || {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p.board)
            .unwrap();
        let flags = tcgetattr(&f).unwrap().local_flags;
        if flags.intersects(LocalFlags::ECHO | LocalFlags::ICANON) {
            Err(format!("the line stayed cooked: {flags:?}"))
        } else {
            Ok(())
        }
    });
    let mut b = Board::open(&p.board);
    b.wait_status("a status", Duration::from_secs(3), |_| true);
}

#[test]
fn a_client_that_does_not_read_loses_frames_but_never_blocks_the_board() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), NOWHERE, FAST_CONFIG, &[]);
    {
        let mut port = serialport::new(p.board.to_str().unwrap(), 115_200)
            .timeout(Duration::from_millis(500))
            .open_native()
            .unwrap();
        // Each request makes the board answer ~60 bytes; 2,000 of them overflow the pty buffer.
        let req = chargerig_link::slcan::encode_frame(&Frame::StatusRequest.encode());
        for _ in 0..2000 {
            port.write_all(req.as_bytes()).unwrap();
        }
        p.wait_log("the drop to be logged", Duration::from_secs(10), |log| {
            log.contains("client is not reading, output dropped")
        });
    }
    // The board kept running: the next client is served at once.
    let mut b = Board::open(&p.board);
    b.send(Frame::Pilot(PilotState::B));
    b.wait_status("pilot B", Duration::from_secs(3), |s| {
        s.pilot == PilotState::B
    });
}

/// The boot count of an IDENTITY frame.
fn boot_count_of(f: &Frame) -> Option<u32> {
    match f {
        Frame::Identity { boot_count, .. } => Some(*boot_count),
        _ => None,
    }
}
