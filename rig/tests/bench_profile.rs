//! A real-board profile end to end, with a simulated board standing in for the real one: the
//! rig does not start it, reaches it only through the profile's link and the central-system
//! address it is provisioned with, as on a bench.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The stand-in board; SIGKILLed when the test ends, pass or fail.
struct Board(Child);

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const FEATURE: &str = "\
Feature: Bench profile
  Scenario: The profile's OCPP keys reach a board the rig did not configure
    Given the configuration key \"MeterValueSampleInterval\" is \"13\"
    And the charger is online
    When the central system requests the configuration keys \"WebSocketPingInterval, HeartbeatInterval, MeterValueSampleInterval\"
    Then the configuration reported includes:
      | key                      | readonly | value |
      | WebSocketPingInterval    |          | 7     |
      | HeartbeatInterval        |          | 45    |
      | MeterValueSampleInterval |          | 13    |
";

#[test]
fn a_real_board_profile_applies_its_ocpp_keys_once_online_then_the_scenario_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let board_path = d.join("board");
    // The board's own provisioning: factory timers, quick reconnects to the bench's CSMS.
    std::fs::write(
        d.join("charger.toml"),
        "[csms]\nreconnect_min_ms = 100\nreconnect_max_ms = 300\n",
    )
    .unwrap();
    let _board = Board(
        Command::new(&rig::charger_bin::program().expect("the charger binary")[0])
            .arg("--board")
            .arg(format!("sim:{}", board_path.display()))
            .arg("--csms-url")
            .arg(format!("ws://127.0.0.1:{port}/ocpp"))
            .arg("--data-dir")
            .arg(d.join("data"))
            .arg("--config")
            .arg(d.join("charger.toml"))
            .stdout(std::fs::File::create(d.join("charger.log")).unwrap())
            .stderr(std::fs::File::create(d.join("charger.err")).unwrap())
            .spawn()
            .expect("start the stand-in board"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !board_path.exists() {
        assert!(Instant::now() < deadline, "the board's pty never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    let profile = d.join("bench.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"bench-stand-in\"\n\
             link = \"slcan:{}\"\n\
             step_deadline_s = 20\n\
             [power]\nswitch = \"none\"\n\
             [network]\ngate = \"nftables\"\n\
             [network.nftables]\ncut = [\"true\"]\nrefuse = [\"true\"]\nrestore = [\"true\"]\n\
             [csms]\nbind = \"127.0.0.1:{port}\"\ncharger_url = \"ws://127.0.0.1:{port}/ocpp\"\n\
             [charger.config.configuration]\n\
             WebSocketPingInterval = \"7\"\nHeartbeatInterval = 45\nMeterValueSampleInterval = \"11\"\n\
             [[skip_tags]]\ntag = \"@power\"\nreason = \"stand-in board has no relay\"\n",
            board_path.display()
        ),
    )
    .unwrap();
    let feature = d.join("bench.feature");
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
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    // Profile keys first, each once; the scenario's own value for a key both set, not the
    // profile's.
    // Feature folders hold the scenarios; files at the root (report.html) are not scenarios.
    let ocpp = std::fs::read_dir(d.join("artifacts"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .filter(|p| p.is_dir())
        .flat_map(|p| std::fs::read_dir(p).unwrap())
        .map(|s| std::fs::read_to_string(s.unwrap().path().join("ocpp.jsonl")).unwrap())
        .next()
        .expect("one scenario's artifacts");
    let changes: Vec<String> = ocpp
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "call" && r["action"] == "ChangeConfiguration")
        .map(|r| {
            format!(
                "{}={}",
                r["payload"]["key"].as_str().unwrap(),
                r["payload"]["value"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            "HeartbeatInterval=45",
            "WebSocketPingInterval=7",
            "MeterValueSampleInterval=13"
        ],
        "{ocpp}"
    );
}
