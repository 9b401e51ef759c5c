//! What a failing step tells its reader, on simulated boards: expected vs. seen, including what
//! arrived outside the report's last 10 s. The scenarios fail on purpose, with a short step
//! deadline so they fail fast.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

const FEATURE: &str = "\
Feature: Failure messages
  Background:
    Given the central system knows these id tags:
      | id tag   | status  |
      | 04A1B2C3 | Accepted |
    And the charger is online

  Scenario: Wrong order
    When the EV is plugged in
    And the card \"04A1B2C3\" is presented
    And the EV asks for charge
    Then charging starts within 5 seconds
    When the card \"04A1B2C3\" is presented
    Then charging stops within 5 seconds
    And the central system receives these transaction messages in order:
      | message          | id tag   |
      | StopTransaction  |          |
      | StartTransaction | 04A1B2C3 |

  Scenario: Another card
    When the EV is plugged in
    And the card \"04A1B2C3\" is presented
    Then the central system receives a StartTransaction for \"04FFFFFF\" within 2 seconds

  Scenario: No EV
    Then charging starts within 1 seconds
";

#[test]
fn failing_steps_say_what_was_expected_and_what_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = std::fs::read_to_string(workspace().join("fixtures/rigs/sim.toml")).unwrap();
    let profile = d.join("fast-fail.toml");
    std::fs::write(
        &profile,
        sim.replace("step_deadline_s = 30", "step_deadline_s = 3"),
    )
    .unwrap();
    let feature = d.join("failures.feature");
    std::fs::write(&feature, FEATURE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rig"))
        .current_dir(workspace())
        .arg("run")
        .arg(&feature)
        .arg("--profile")
        .arg(&profile)
        .arg("--artifacts")
        .arg(d.join("artifacts"))
        .output()
        .expect("run the rig binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("scenarios: 0 passed, 3 failed"), "{all}");

    // The in-order table: what was asked, then what arrived in which order.
    assert!(
        all.contains("expected these transaction messages in order: StopTransaction, StartTransaction for 04A1B2C3 within 3s"),
        "{all}"
    );
    let arrived = all
        .split("transaction messages received in this scenario, in arrival order (2):")
        .nth(1)
        .unwrap_or_else(|| panic!("no arrival order listed: {all}"));
    let start = arrived.find("StartTransaction").expect("start listed");
    let stop = arrived.find("StopTransaction").expect("stop listed");
    assert!(start < stop, "{arrived}");
    assert!(arrived.contains("-> answered Result"), "{arrived}");

    // A StartTransaction for another card: the Authorize that did arrive is the clue.
    assert!(
        all.contains("expected a StartTransaction for 04FFFFFF within 2s"),
        "{all}"
    );
    let authorizes = all
        .split("every Authorize received in this scenario (1):")
        .nth(1)
        .unwrap_or_else(|| panic!("no Authorize listed: {all}"));
    assert!(authorizes.contains("04A1B2C3"), "{authorizes}");
    assert!(authorizes.contains("Accepted"), "{authorizes}");

    // Board waits read as expectations.
    assert!(
        all.contains("expected charging to start (contactor closed) within 1s"),
        "{all}"
    );
}
