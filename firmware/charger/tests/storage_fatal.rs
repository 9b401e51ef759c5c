//! Fatal storage errors (field.md "Safety and robustness under faults"): a full disk while
//! charging opens the contactor and turns PWM off before the process exits with the message; a
//! data directory that cannot be written at boot is retried with a clear message until it can.
//! Both on a small loop-mounted ext4 (root; skipped with a message elsewhere unless CI is set).

mod common;

use std::io::Write as _;
use std::time::{Duration, Instant};

use chargerig_link::{EventKind, Frame};
use common::process::{wait_with_deadline, FAST_CONFIG};
use common::stall::{can_freeze, start_charging, LoopFs};

#[test]
fn a_full_disk_while_charging_makes_the_hardware_safe_then_exits_with_the_message() {
    if !can_freeze("a_full_disk_while_charging_makes_the_hardware_safe_then_exits_with_the_message")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs = LoopFs::new(dir.path(), 8 * 1024);
    let (mut charger, mut b) = start_charging(dir.path(), &fs.mount.join("data"), &[]);

    // Fill the file system to the last block.
    let mut filler = std::fs::File::create(fs.mount.join("filler")).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while filler.write_all(&chunk).is_ok() {}
    let small = [0u8; 512];
    while filler.write_all(&small).is_ok() {}
    let _ = filler.sync_all();

    // Charging keeps persisting the meter: the next commit fails.
    b.seen.frames.clear();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        b.pump(Duration::from_millis(50));
        if let Some(status) = charger.process.as_mut().and_then(|p| p.exit_status()) {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 30 s after the disk filled up:\n{}",
            charger.log_text()
        );
    };
    let log = charger.log_text();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("charger: error: committing the charger's state") && log.contains("full"),
        "the exit names the failure: {log}"
    );
    // The safe state reached the board before the exit: the charger closes the port only once
    // its client has read everything (closing it would discard the rest), and says so first.
    let flushed = log
        .find("board link flushed: the client read every frame")
        .unwrap_or_else(|| panic!("the port did not wait for the board to read: {log}"));
    let safe = log
        .find("fatal: contactor open and PWM off")
        .unwrap_or_else(|| panic!("the safe state is logged: {log}"));
    let exit = log.rfind("charger: error:").expect("exit message");
    assert!(
        safe < flushed && flushed < exit,
        "failure, then the board has read the safe state, then the exit: {log}"
    );
    // What the client records after the exit it read before it (a hung-up pty keeps nothing).
    let safe_events = [(EventKind::ContactorOpened, 0), (EventKind::PwmChanged, 0)];
    let events = |b: &common::board::Board| -> Vec<(EventKind, u16)> {
        b.seen
            .frames
            .iter()
            .filter_map(|f| match f {
                Frame::Event(e) => Some((e.kind, e.arg)),
                _ => None,
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while !safe_events.iter().all(|e| events(&b).contains(e)) {
        assert!(
            Instant::now() < deadline,
            "contactor opened and PWM off must reach the board before the exit: {:?}\n{log}",
            events(&b)
        );
        b.pump(Duration::from_millis(20));
    }
}

#[test]
fn a_read_only_data_directory_at_boot_is_retried_until_it_is_writable() {
    if !can_freeze("a_read_only_data_directory_at_boot_is_retried_until_it_is_writable") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs = LoopFs::new(dir.path(), 8 * 1024);
    let data = fs.mount.join("data");
    std::fs::create_dir(&data).unwrap();
    fs.remount_ro();
    // Started by hand: its boot is expected to wait, with no board yet.
    std::fs::write(dir.path().join("charger.toml"), FAST_CONFIG).unwrap();
    let log_path = dir.path().join("charger.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let board = dir.path().join("board");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_charger"))
        .arg("--board")
        .arg(format!("sim:{}", board.display()))
        .args(["--csms-url", "ws://127.0.0.1:9/ocpp", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(dir.path().join("charger.toml"))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let log_text = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log_text().contains("retrying in") {
        assert!(
            child.try_wait().unwrap().is_none(),
            "a read-only data directory at boot must be retried, not fatal:\n{}",
            log_text()
        );
        assert!(Instant::now() < deadline, "{}", log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = log_text();
    assert!(
        log.contains("cannot use the data directory at boot") && log.contains("Read-only"),
        "the message says what is wrong: {log}"
    );
    fs.remount_rw();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&board).is_err() {
        assert!(
            child.try_wait().unwrap().is_none() && Instant::now() < deadline,
            "no boot once the data directory is writable:\n{}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_with_deadline(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{}", log_text());
}
