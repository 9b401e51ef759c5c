//! The one-shot commands of board-link.md against a real simulated board process
//! (`rig charger --board sim:PTY ...`), through the `rig` binary.

use rig::charger_process::{ChargerProcess, ChargerProcessOptions};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const RIG: &str = env!("CARGO_BIN_EXE_rig");

fn rig(args: &[&str]) -> Output {
    Command::new(RIG)
        .args(args)
        .env_remove("RIG_LINK")
        .output()
        .expect("run rig")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn board(dir: &Path) -> ChargerProcess {
    let o = ChargerProcessOptions::in_dir(dir, "ws://127.0.0.1:9/ocpp");
    ChargerProcess::start(o)
        .await
        .expect("simulated board starts")
}

fn status_json(link: &str) -> Value {
    let o = rig(&["--link", link, "status", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 1, "exactly one object: {out}");
    serde_json::from_str(out.trim()).expect("valid JSON")
}

/// Polls `status --json` until `pred` holds (the board acts on its own clock).
fn wait_status(link: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = status_json(link);
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: last status {v}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_shots_drive_a_simulated_board() {
    let dir = tempfile_dir("oneshot");
    let b = board(&dir).await;
    let link = b.link_spec().to_string();

    let v = status_json(&link);
    for key in [
        "pilot",
        "pwm_duty_permille",
        "contactor",
        "connector_status",
        "locked",
        "online",
        "transaction_active",
        "energy_wh",
        "current_a",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["pilot"], "A");
    assert_eq!(v["contactor"], "open");
    assert_eq!(v["online"], false, "no central system is reachable");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert!(keys.len() >= 9);

    let o = rig(&["--link", &link, "pilot", "B"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("pilot B"),
        "{}",
        text(&o)
    );
    assert_eq!(
        status_json(&link)["pilot"],
        "B",
        "the board keeps its state between clients"
    );

    for args in [
        &["card", "04A1B2C3"][..],
        &["card", "04:a1:b2:c3:d4:e5:f6"],
        &["card", "--remove"],
        &["load", "16"],
        &["button"],
    ] {
        let mut full = vec!["--link", link.as_str()];
        full.extend_from_slice(args);
        let o = rig(&full);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    }

    // The link may come from the environment too.
    let o = Command::new(RIG)
        .args(["pilot", "A"])
        .env("RIG_LINK", &link)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    wait_status(&link, "pilot back to A", |v| v["pilot"] == "A");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_on_the_link_changes_nothing() {
    let dir = tempfile_dir("garbage");
    let b = board(&dir).await;
    let link = b.link_spec().to_string();
    let before = status_json(&link);
    {
        // A client that speaks nonsense: unknown ids, wrong lengths, bad values, non-SLCAN.
        let mut port = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(b.pty_path())
            .expect("open pty");
        port.write_all(b"O\rhello\rt7FF0\rt1002AABB\rt10019\rt1011FF\r\xff\xfe\rT123456781AA\r")
            .unwrap();
        port.write_all(&vec![b'x'; 4096]).unwrap();
        port.write_all(b"\r").unwrap();
    }
    let after = status_json(&link);
    for key in [
        "pilot",
        "contactor",
        "connector_status",
        "locked",
        "transaction_active",
    ] {
        assert_eq!(before[key], after[key], "{key} changed after garbage");
    }
    assert!(b.pid().is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_and_monitor() {
    let dir = tempfile_dir("replay");
    let b = board(&dir).await;
    let link = b.link_spec().to_string();
    // A recorded session: board frames are skipped, rig frames are sent with their timing.
    let log = dir.join("board.log");
    std::fs::write(
        &log,
        "(100.000000) board0 200#0000000000000000\n(100.100000) board0 100#01\n(100.400000) board0 102#A000\n(100.500000) board0 100#02\n",
    )
    .unwrap();
    let o = rig(&[
        "--link",
        &link,
        "replay",
        log.to_str().unwrap(),
        "--speed",
        "4",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("replayed 3 frames"), "{out}");
    wait_status(&link, "pilot C after the replay", |v| v["pilot"] == "C");

    let o = rig(&["--link", &link, "monitor", "--seconds", "0.5"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.lines()
            .any(|l| l.contains("BOARD_STATUS") && l.contains("pilot=C")),
        "{out}"
    );

    std::fs::write(&log, "(1.0) board0 100#01\nnot a candump line\n").unwrap();
    let o = rig(&["--link", &link, "replay", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("line 2"),
        "{}",
        text(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1_with_the_fix() {
    for args in [
        &["--link", "slcan:/dev/null", "card", "04A1B2"][..],
        &["--link", "slcan:/dev/null", "pilot", "X"],
        &["--link", "slcan:/dev/null", "load", "-3"],
        &["--link", "serial:/dev/ttyACM0", "status"],
        &["status"],
    ] {
        let o = rig(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(!o.stderr.is_empty(), "{args:?}: no message");
    }
    let o = rig(&["--link", "slcan:/dev/ttyACM_does_not_exist", "status"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("no such device /dev/ttyACM_does_not_exist: is the adapter plugged in"),
        "{}",
        text(&o)
    );
    // A device that is not an SLCAN board (it never answers the handshake).
    let o = rig(&["--link", "slcan:/dev/null", "status"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

fn tempfile_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "rig-{tag}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
