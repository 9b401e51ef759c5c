//! `rig run` as a user meets it: exit codes, undefined steps, parse errors, filters, skipped
//! scenarios, the JUnit report. These scenarios need no board (setting-up steps only), so they
//! run in well under a second each.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rig_run(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_rig"))
        .current_dir(workspace())
        .arg("run")
        .args(args)
        .arg("--artifacts")
        .arg(dir.join("artifacts"))
        .output()
        .expect("run the rig binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts that the run printed `text` on stdout (showing what it printed otherwise).
#[track_caller]
fn says(run: &Run, text: &str) {
    assert!(run.stdout.contains(text), "{}", run.stdout);
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const NO_BOARD: &str = "\
Feature: Filters
  @fast
  Scenario: Alpha needs no board
    Given the charger uses RFID authorization

  @power
  Scenario: Beta needs power control
    Given the charger uses RFID authorization

  Scenario: Gamma uses a serial number
    Given the charger's serial number is \"SN-1\"
";

#[test]
fn a_typo_fails_with_file_line_and_the_closest_step() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(
        dir.path(),
        "typo.feature",
        "Feature: Typo\n  Scenario: Misspelled\n    Given the charger uses RFID authorization\n    When the EV is pluged in\n",
    );
    let run = rig_run(dir.path(), &[&feature]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let expected = format!(
        "{feature}:4: undefined step `When the EV is pluged in`; closest known step: `When the EV is plugged in`"
    );
    says(&run, &expected);
    says(&run, "scenarios: 0 passed, 1 failed, 0 skipped");
}

#[test]
fn a_feature_that_does_not_parse_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(
        dir.path(),
        "broken.feature",
        "Feature: Broken\n  Scenario: One\n    Given the charger uses RFID authorization\n  This line is no Gherkin | at all\n  Scenario Outline\n",
    );
    let run = rig_run(dir.path(), &[&feature]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    says(&run, &format!("PARSE ERROR {feature}:"));
}

#[test]
fn tags_and_name_select_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(dir.path(), "filters.feature", NO_BOARD);
    let run = rig_run(dir.path(), &[&feature, "--tags", "@fast or @power"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Alpha needs no board"));
    assert!(run.stdout.contains("Beta needs power control"));
    assert!(!run.stdout.contains("Gamma"), "{}", run.stdout);
    assert!(run
        .stdout
        .contains("scenarios: 2 passed, 0 failed, 0 skipped"));

    let run = rig_run(dir.path(), &[&feature, "--name", "^Gam"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    says(&run, "scenarios: 1 passed, 0 failed, 0 skipped");
}

#[test]
fn nothing_selected_exits_5_naming_the_filters() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(dir.path(), "filters.feature", NO_BOARD);
    let run = rig_run(dir.path(), &[&feature, "--tags", "@offline and not @power"]);
    assert_eq!(run.code, 5, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("nothing selected")
            && run.stderr.contains("--tags \"@offline and not @power\"")
            && run.stderr.contains("@fast @power"),
        "{}",
        run.stderr
    );
    let run = rig_run(dir.path(), &[&feature, "--name", "^Nobody"]);
    assert_eq!(run.code, 5, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("--name \"^Nobody\""), "{}", run.stderr);
}

#[test]
fn list_dry_run_and_file_line_select_without_a_bench() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(dir.path(), "filters.feature", NO_BOARD);
    let run = rig_run(dir.path(), &[&feature, "--list"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "{feature}:3 Alpha needs no board\n{feature}:7 Beta needs power control\n{feature}:10 Gamma uses a serial number\n"
        )
    );
    assert!(
        !dir.path().join("artifacts").exists(),
        "--list starts nothing"
    );

    // A FAIL line's `path:line` runs that scenario alone.
    let run = rig_run(dir.path(), &[&format!("{feature}:7")]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    says(&run, "Beta needs power control");
    assert!(run
        .stdout
        .contains("scenarios: 1 passed, 0 failed, 0 skipped"));
    let run = rig_run(dir.path(), &[&format!("{feature}:4")]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("{feature}:4: no scenario")),
        "{}",
        run.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let typo = write(
        dir.path(),
        "typo.feature",
        "Feature: Typo\n  Scenario: Misspelled\n    Given the charger is online\n    When the EV is pluged in\n",
    );
    let run = rig_run(dir.path(), &[&typo, "--dry-run"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    says(&run, &format!(
            "{typo}:4: undefined step `When the EV is pluged in`; closest known step: `When the EV is plugged in`"
        ));
    assert!(
        !dir.path().join("artifacts").exists(),
        "--dry-run starts nothing"
    );
    let run = rig_run(dir.path(), &["features", "--dry-run"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn rig_steps_prints_the_vocabulary() {
    let out = Command::new(env!("CARGO_BIN_EXE_rig"))
        .arg("steps")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("When the EV is plugged in\n    control pilot to state B\n"),
        "{text}"
    );
    // The whole contract, each phrasing on a line of its own.
    let lines: Vec<&str> = text.lines().collect();
    for phrase in rig::steps::contract::CONTRACT {
        assert!(
            lines.contains(phrase),
            "`rig steps` lacks `{phrase}`:\n{text}"
        );
    }
}

#[test]
fn profile_skip_tags_report_skipped_with_the_reason_in_junit_too() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(dir.path(), "filters.feature", NO_BOARD);
    let sim = std::fs::read_to_string(workspace().join("fixtures/rigs/sim.toml")).unwrap();
    let profile = write(
        dir.path(),
        "nopower.toml",
        &format!("{sim}\n[[skip_tags]]\ntag = \"@power\"\nreason = \"no relay on this bench\"\n"),
    );
    let junit = dir.path().join("report.xml");
    let junit_arg = junit.display().to_string();
    let run = rig_run(
        dir.path(),
        &[&feature, "--profile", &profile, "--junit", &junit_arg],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    says(&run, "SKIP ");
    says(&run, "skipped: @power: no relay on this bench");
    says(&run, "scenarios: 2 passed, 0 failed, 1 skipped");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<skipped message=\"@power: no relay on this bench\"/>"),
        "{xml}"
    );
    assert!(xml.contains("tests=\"3\""), "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = rig_run(dir.path(), &["no/such/features"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run
        .stderr
        .contains("no/such/features: no such feature file or directory"));
    let feature = write(dir.path(), "filters.feature", NO_BOARD);
    let run = rig_run(dir.path(), &[&feature, "--name", "(unclosed"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
}

#[test]
fn a_failure_is_retried_and_still_reported_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(
        dir.path(),
        "retry.feature",
        "Feature: Retry\n  Scenario: Always fails\n    Given the charger's serial number is \"\"\n",
    );
    let junit = dir.path().join("retry.xml");
    let junit_arg = junit.display().to_string();
    let json = dir.path().join("out/cucumber.json");
    let json_arg = json.display().to_string();
    let run = rig_run(
        dir.path(),
        &[
            &feature,
            "--retry",
            "2",
            "--junit",
            &junit_arg,
            "--cucumber-json",
            &json_arg,
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.matches("RETRY").count(), 2, "{}", run.stdout);
    says(&run, "(attempt 2 failed)");
    says(&run, "FAIL ");
    says(&run, "must be 1 to 25 characters");
    assert!(run
        .stdout
        .contains("scenarios: 0 passed, 1 failed, 0 skipped"));
    // Piped output is plain text: no colour codes.
    assert!(!run.stdout.contains('\u{1b}'), "{}", run.stdout);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"1\""), "{xml}");
    // Every attempt keeps its own artifact folder, with the steps it ran.
    let folder = dir.path().join("artifacts/retry");
    let bundles = std::fs::read_dir(&folder).unwrap().count();
    assert_eq!(bundles, 3);
    let last = folder.join("2-always-fails-attempt3");
    let steps = std::fs::read_to_string(last.join("steps.jsonl")).unwrap();
    assert!(steps.contains("\"status\":\"failed\""), "{steps}");
    // The FAIL line and the JUnit test case name that folder.
    let fail_line = run.stdout.lines().find(|l| l.contains("FAIL ")).unwrap();
    assert!(
        fail_line.contains("artifacts: ") && fail_line.ends_with("2-always-fails-attempt3"),
        "{fail_line}"
    );
    assert!(xml.contains("<system-out>artifacts: "), "{xml}");
    assert!(
        xml.contains("2-always-fails-attempt3</system-out>"),
        "{xml}"
    );
    // report.html at the artifact root, the failure first; cucumber's JSON beside.
    let html = std::fs::read_to_string(dir.path().join("artifacts/report.html")).unwrap();
    assert!(html.contains("class=\"sc failed\""));
    assert!(html.contains("failed step: Given the charger&#39;s serial number is"));
    let cucumber: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(cucumber[0]["elements"][0]["name"], "Always fails");
}

#[test]
fn a_value_the_charger_refuses_fails_the_step_that_sets_it() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(
        dir.path(),
        "config.feature",
        "Feature: Config\n  Scenario: Bad value\n    Given the configuration key \"HeartbeatInterval\" is \"soon\"\n    And the charger is online\n",
    );
    let run = rig_run(dir.path(), &[&feature]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    says(&run, &format!(
            "{feature}:3: step `Given the configuration key \"HeartbeatInterval\" is \"soon\"` failed: the charger refuses HeartbeatInterval = \"soon\""
        ));
}

/// Processes whose command line mentions `needle` (the scenario's artifact folder).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}

/// After an interrupted run: within 10 s no process mentions `needle` (the run's boards), and
/// no pty link is left under `artifacts`.
fn assert_nothing_left(needle: &str, artifacts: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !processes_mentioning(needle).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        processes_mentioning(needle),
        Vec::<u32>::new(),
        "no board left"
    );
    assert_eq!(symlinks_under(artifacts), 0, "no pty link left");
}

fn symlinks_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if meta.file_type().is_symlink() {
                1
            } else if meta.is_dir() {
                symlinks_under(&e.path())
            } else {
                0
            }
        })
        .sum()
}

#[test]
fn ctrl_c_tears_down_boards_and_their_ptys() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(
        dir.path(),
        "long.feature",
        "Feature: Long\n  Scenario: Waits\n    Given the charger is online\n    When 120 seconds pass\n",
    );
    let artifacts = dir.path().join("artifacts");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rig"))
        .current_dir(workspace())
        .args(["run", &feature, "--artifacts"])
        .arg(&artifacts)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let needle = artifacts.display().to_string();
    // Poll (bounded) until the board runs and its pty link exists.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while (symlinks_under(&artifacts) == 0 || processes_mentioning(&needle).len() < 2)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(symlinks_under(&artifacts), 1, "the board's pty link exists");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_nothing_left(&needle, &artifacts);
}

/// A simulated board behind a "kernel" gate whose commands write its state to `state`: the
/// rig must leave it restored however the run ends.
fn recording_gate_profile(dir: &Path, state: &Path) -> String {
    let sim = std::fs::read_to_string(workspace().join("fixtures/rigs/sim.toml")).unwrap();
    let record = |what: &str| format!("[\"echo {what} > {}\"]", state.display());
    let text = sim.replace("concurrency = 4", "concurrency = 1").replace(
        "gate = \"proxy\"",
        &format!(
            "gate = \"nftables\"\n[network.nftables]\ncut = {}\nrefuse = {}\nrestore = {}\n",
            record("cut"),
            record("refused"),
            record("restored")
        ),
    );
    assert!(text.contains("nftables"), "sim.toml changed shape");
    write(dir, "recording-gate.toml", &text)
}

/// `rig run` ended by `signal` while a scenario has the network cut: exit code, JUnit from
/// what finished (the rest unfinished), the gate restored, no board left.
fn a_run_ended_by(signal: nix::sys::signal::Signal, code: i32, why: &str) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("gate-state");
    let profile = recording_gate_profile(dir.path(), &state);
    let feature = write(
        dir.path(),
        "ended.feature",
        "Feature: Ended\n  Scenario: Quick\n    Given the charger uses RFID authorization\n\n  Scenario: Cut and waiting\n    Given the charger is online\n    When the network to the central system is cut\n    When 120 seconds pass\n",
    );
    let artifacts = dir.path().join("artifacts");
    let junit = dir.path().join("junit.xml");
    let child = Command::new(env!("CARGO_BIN_EXE_rig"))
        .current_dir(workspace())
        .args(["run", &feature, "--profile", &profile, "--artifacts"])
        .arg(&artifacts)
        .arg("--junit")
        .arg(&junit)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let needle = artifacts.display().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&state).unwrap_or_default().trim() != "cut"
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&state).unwrap().trim(), "cut");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(code), "{stdout}");
    assert!(
        stdout.contains("scenarios: 1 passed, 0 failed, 0 skipped, 1 unfinished"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&state).unwrap().trim(),
        "restored",
        "the gate is restored"
    );
    let xml = std::fs::read_to_string(&junit).expect("the JUnit file is written");
    assert!(xml.contains("name=\"Quick\""), "{xml}");
    assert!(xml.contains(&format!("not finished: {why}")), "{xml}");
    assert!(xml.contains("Cut and waiting"), "{xml}");
    assert_nothing_left(&needle, &artifacts);
}

#[test]
fn sigterm_writes_the_reports_and_restores_the_bench() {
    a_run_ended_by(
        nix::sys::signal::Signal::SIGTERM,
        143,
        "terminated (SIGTERM)",
    );
}

#[test]
fn ctrl_c_writes_the_reports_and_restores_the_bench() {
    a_run_ended_by(
        nix::sys::signal::Signal::SIGINT,
        130,
        "interrupted (Ctrl-C)",
    );
}

#[test]
fn a_finished_scenario_leaves_the_network_restored() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("gate-state");
    let profile = recording_gate_profile(dir.path(), &state);
    let feature = write(
        dir.path(),
        "cut.feature",
        "Feature: Cut\n  Scenario: Fails with the network cut\n    Given the charger is online\n    When the network to the central system is cut\n    Then the connector status is \"Charging\"\n",
    );
    let run = rig_run(dir.path(), &[&feature, "--profile", &profile]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(std::fs::read_to_string(&state).unwrap().trim(), "restored");
}

#[test]
fn a_skipped_scenario_does_not_run_its_background() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(
        dir.path(),
        "background.feature",
        "Feature: Background\n  Background:\n    Given the configuration key \"HeartbeatInterval\" is \"soon\"\n\n  @power\n  Scenario: Needs power\n    Given the charger is online\n",
    );
    let sim = std::fs::read_to_string(workspace().join("fixtures/rigs/sim.toml")).unwrap();
    let profile = write(
        dir.path(),
        "nopower.toml",
        &format!("{sim}\n[[skip_tags]]\ntag = \"@power\"\nreason = \"no relay\"\n"),
    );
    let run = rig_run(dir.path(), &[&feature, "--profile", &profile]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    says(&run, "scenarios: 0 passed, 0 failed, 1 skipped");
}

#[test]
fn fail_fast_stops_at_the_first_failure() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(
        dir.path(),
        "ff.feature",
        "Feature: FF\n  Scenario: One\n    Given the charger's serial number is \"\"\n  Scenario: Two\n    Given the charger's serial number is \"\"\n  Scenario: Three\n    Given the charger uses RFID authorization\n",
    );
    let run = rig_run(dir.path(), &[&feature, "--fail-fast", "--concurrency", "1"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    says(&run, "scenarios: 0 passed, 1 failed, 0 skipped");
    assert!(!run.stdout.contains("Two"), "{}", run.stdout);
}

#[test]
fn the_scenario_watchdog_bounds_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(
        dir.path(),
        "slow.feature",
        "Feature: Slow\n  Scenario: Too long\n    When 30 seconds pass\n    Given the charger uses RFID authorization\n",
    );
    let sim = std::fs::read_to_string(workspace().join("fixtures/rigs/sim.toml")).unwrap();
    let short = sim
        .replace("scenario_watchdog_s = 240", "scenario_watchdog_s = 1")
        .replace("step_deadline_s = 30", "step_deadline_s = 1");
    assert_ne!(sim, short, "the sim profile sets scenario_watchdog_s = 240");
    let profile = write(dir.path(), "short.toml", &short);
    let run = rig_run(dir.path(), &[&feature, "--profile", &profile]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    says(
        &run,
        "step `When 30 seconds pass` failed: waiting 30 s (the scenario watchdog of 1s expired)",
    );
}

/// A rig whose `charger` is not built next to it, outside cargo: the run stops before any
/// scenario and names the command that builds it.
#[test]
fn a_missing_charger_outside_cargo_names_the_build_command() {
    let dir = tempfile::tempdir().unwrap();
    let rig = dir.path().join("rig");
    std::fs::copy(env!("CARGO_BIN_EXE_rig"), &rig).unwrap();
    let feature = write(
        dir.path(),
        "x.feature",
        "Feature: x\n  Scenario: y\n    Given the charger is online\n",
    );
    let out = Command::new(&rig)
        .current_dir(workspace())
        .env_remove("CARGO")
        .env_remove("RIG_CHARGER_CMD")
        .args(["run", &feature, "--artifacts"])
        .arg(dir.path().join("artifacts"))
        .output()
        .expect("run the copied rig");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("run `cargo build -p charger`"), "{stderr}");
    assert!(
        !dir.path().join("artifacts").join("x").exists(),
        "no scenario ran"
    );
}

/// An outline whose `Examples:` has a blank line and comments before and between its rows:
/// the FAIL line of a failing row and of a row with an undefined step names that row's line,
/// and that `FILE:LINE` runs the row alone.
#[test]
fn a_failing_outline_row_is_named_by_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(
        dir.path(),
        "outline.feature",
        "Feature: Outline\n\n  Scenario Outline: Serial <serial>\n    Given the charger's serial number is \"<serial>\"\n    And the charger uses <auth> authorization\n\n    Examples:\n\n      # serials\n      | serial | auth |\n\n      # good\n      | SN-1   | RFID |\n      # empty: refused\n      |        | RFID |\n      | SN-3   | RIFD |\n",
    );
    let run = rig_run(dir.path(), &[&feature, "--concurrency", "1"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let fail_lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("FAIL "))
        .collect();
    for row in [
        format!("{feature}:15 Serial "),
        format!("{feature}:16 Serial SN-3"),
    ] {
        assert!(
            fail_lines.iter().any(|l| l.contains(&row)),
            "no FAIL line for {row}:\n{}",
            run.stdout
        );
    }
    says(&run, &format!("{feature}:13 Serial SN-1"));
    says(&run, "scenarios: 1 passed, 2 failed, 0 skipped");

    // The FAIL line's `path:line` runs that row alone.
    let run = rig_run(dir.path(), &[&format!("{feature}:15")]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    says(&run, "scenarios: 0 passed, 1 failed, 0 skipped");
    says(&run, "must be 1 to 25 characters");
}

/// Exit code 3: nothing failed, but a scenario passed only on its retry. The board's first
/// start is refused by a wrapper around the charger (once: `mkdir` of a marker is atomic), so
/// the first attempt fails and the retry passes, every time.
#[test]
fn a_pass_on_retry_is_flaky_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let charger = rig::charger_bin::program().expect("the charger binary");
    let marker = dir.path().join("first-start-refused");
    let wrapper = dir.path().join("charger-once-refused.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif mkdir '{}' 2>/dev/null; then\n  echo 'first start refused on purpose' >&2\n  exit 1\nfi\nexec '{}' \"$@\"\n",
            marker.display(),
            charger[0].to_string_lossy()
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&wrapper, permissions).unwrap();
    let feature = write(
        dir.path(),
        "flaky.feature",
        "Feature: Flaky\n  Scenario: Boots on the second try\n    Given the charger is online\n\n  Scenario: Needs no board\n    Given the charger uses RFID authorization\n",
    );
    let junit = dir.path().join("flaky.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_rig"))
        .current_dir(workspace())
        .env("RIG_CHARGER_CMD", &wrapper)
        .args(["run", &feature, "--retry", "1", "--artifacts"])
        .arg(dir.path().join("artifacts"))
        .arg("--junit")
        .arg(&junit)
        .output()
        .expect("run the rig binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(marker.is_dir(), "the first start was refused");
    assert!(
        stdout.contains("first start refused on purpose"),
        "the first attempt's failure is shown: {stdout}"
    );
    assert!(
        stdout.contains(&format!("FLAKY {feature}:2 Boots on the second try")),
        "{stdout}"
    );
    assert!(stdout.contains("(1 flaky)"), "{stdout}");
    assert!(
        stdout.contains("scenarios: 2 passed, 0 failed, 0 skipped"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(xml.contains("flakyFailure"), "{xml}");
}

/// `--partition K/N` through the binary: the shares of the catalogue, listed, are disjoint and
/// together exactly the unpartitioned list, in the same order; a share that is not K/N is a
/// usage error.
#[test]
fn partitions_list_every_scenario_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let list = |extra: &[&str]| {
        let mut args = vec!["features", "--list"];
        args.extend_from_slice(extra);
        let run = rig_run(dir.path(), &args);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        run.stdout.lines().map(str::to_string).collect::<Vec<_>>()
    };
    let all = list(&[]);
    assert!(all.len() > 100, "the catalogue: {}", all.len());
    for n in [2, 3] {
        let shares: Vec<Vec<String>> = (1..=n)
            .map(|k| list(&["--partition", &format!("{k}/{n}")]))
            .collect();
        for (k, share) in shares.iter().enumerate() {
            assert!(
                share.len().abs_diff(all.len() / n) <= 1,
                "share {}/{n} has {} of {}",
                k + 1,
                share.len(),
                all.len()
            );
        }
        let mut union: Vec<String> = shares.concat();
        let before = union.len();
        union.sort();
        union.dedup();
        assert_eq!(before, union.len(), "shares of {n} overlap");
        let mut sorted_all = all.clone();
        sorted_all.sort();
        assert_eq!(union, sorted_all, "shares of {n} do not add up to the list");
    }
    // Every share keeps the list's order.
    let first = list(&["--partition", "1/2"]);
    let positions: Vec<usize> = first
        .iter()
        .map(|l| all.iter().position(|a| a == l).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{first:?}");
    // A share that is not K/N.
    let run = rig_run(dir.path(), &["features", "--list", "--partition", "3/2"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("\"3/2\""), "{}", run.stderr);

    // A share runs only its scenarios; an empty share is "nothing selected" (exit 5).
    let feature = write(dir.path(), "filters.feature", NO_BOARD);
    let run = rig_run(dir.path(), &[&feature, "--partition", "2/2"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Beta needs power control")
            && !run.stdout.contains("Alpha")
            && !run.stdout.contains("Gamma"),
        "{}",
        run.stdout
    );
    says(&run, "scenarios: 1 passed, 0 failed, 0 skipped");
    let run = rig_run(dir.path(), &[&feature, "--partition", "4/4"]);
    assert_eq!(run.code, 5, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("--partition 4/4"), "{}", run.stderr);
}
