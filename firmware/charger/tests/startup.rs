//! Start-up refusals: they must name the problem and change nothing.

mod common;

use common::process::{run_to_exit, ChargerProc, FAST_CONFIG};

#[test]
fn a_second_charger_on_the_same_data_dir_refuses_and_names_the_pid() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: the first charger just keeps retrying, which is fine here.
    let first = ChargerProc::start(dir.path(), "ws://127.0.0.1:9/ocpp", FAST_CONFIG, &[]);
    let data = dir.path().join("data");
    let board2 = dir.path().join("board2");
    let (status, err) = run_to_exit(&[
        "--board",
        &format!("sim:{}", board2.display()),
        "--csms-url",
        "ws://127.0.0.1:9/ocpp",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("in use by another charger"), "{err}");
    assert!(err.contains(&format!("pid {}", first.pid())), "{err}");
    assert!(
        !board2.exists(),
        "the refused charger must not create its board"
    );
}

#[test]
fn a_bad_config_file_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[identity]\nserial_number = \"SN-1\"\nfirmware = \"x\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let (status, err) = run_to_exit(&[
        "--board",
        &format!("sim:{}", dir.path().join("board").display()),
        "--csms-url",
        "ws://127.0.0.1:9/ocpp",
        "--data-dir",
        data.to_str().unwrap(),
        "--config",
        file.to_str().unwrap(),
    ]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{}:3:", file.display())), "{err}");
    assert!(err.contains("firmware"), "{err}");
    assert!(
        !data.exists(),
        "nothing may be created for a refused configuration"
    );
}

#[test]
fn an_invalid_ocpp_value_in_the_config_file_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "[configuration]\nHeartbeatInterval = \"-5\"\n").unwrap();
    let (status, err) = run_to_exit(&[
        "--board",
        &format!("sim:{}", dir.path().join("board").display()),
        "--csms-url",
        "ws://127.0.0.1:9/ocpp",
        "--data-dir",
        dir.path().join("data").to_str().unwrap(),
        "--config",
        file.to_str().unwrap(),
    ]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{}:2:", file.display())), "{err}");
    assert!(err.contains("HeartbeatInterval"), "{err}");
}

#[test]
fn help_explains_every_flag() {
    let (status, out) = run_to_exit(&["--help"]);
    assert!(status.success());
    for flag in [
        "--board",
        "--csms-url",
        "--data-dir",
        "--serial-number",
        "--config",
        "--log-format",
        "RUST_LOG",
    ] {
        assert!(out.contains(flag), "--help does not mention {flag}:\n{out}");
    }
}

#[test]
fn a_missing_required_flag_is_a_usage_error() {
    let (status, err) = run_to_exit(&["--board", "sim:/tmp/x"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--data-dir"), "{err}");
}

#[test]
fn sigterm_exits_cleanly_and_removes_the_board_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = ChargerProc::start(dir.path(), "ws://127.0.0.1:9/ocpp", FAST_CONFIG, &[]);
    assert!(p.board.exists());
    let status = p.terminate();
    assert!(status.success(), "{status}:\n{}", p.log_text());
    assert!(
        std::fs::symlink_metadata(&p.board).is_err(),
        "symlink left behind"
    );
}

#[test]
fn an_unreachable_central_system_is_retried_and_logged_with_the_next_delay() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), "ws://127.0.0.1:9/ocpp", FAST_CONFIG, &[]);
    let log = p.wait_log(
        "3 logged retries",
        std::time::Duration::from_secs(10),
        |log| log.matches("central system unreachable").count() >= 3,
    );
    assert!(log.contains("next_attempt_in_ms"), "{log}");
}

#[test]
fn json_log_format_writes_one_json_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(
        dir.path(),
        "ws://127.0.0.1:9/ocpp",
        FAST_CONFIG,
        &["--log-format", "json"],
    );
    let retry_line = |log: &str| {
        log.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["fields"]["message"] == "central system unreachable, retrying")
    };
    let log = p.wait_log(
        "a JSON retry line",
        std::time::Duration::from_secs(10),
        |log| retry_line(log).is_some(),
    );
    let v = retry_line(&log).expect("found above");
    assert!(v["fields"]["next_attempt_in_ms"].is_u64(), "{v}");
    // Every line but the rig's own power-on markers (`--- rig: ...`) is the charger's.
    assert!(
        log.lines()
            .filter(|l| !l.starts_with("--- rig:"))
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{log}"
    );
}
