//! Synthetic artifact folders shaped like the runner's, for the report's tests and bench: a
//! charging session taken offline by a refused connection and back, with a status line every
//! 100 ms (the worst case the report must fold), OCPP traffic, faults, power markers and steps.
//! Not used by `rig run`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::steps::{StepRecord, StepStatus};
use super::summary::{RunSummary, ScenarioSummary, Status};

/// How the sample scenario goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Story {
    /// Delivers the offline session after the reconnect.
    Passes,
    /// The StartTransaction never comes: the waiting step fails.
    Fails,
}

/// The failing step of [`Story::Fails`].
pub const FAILING_STEP: &str = "the central system receives a StartTransaction within 5 seconds";

fn at(t0: DateTime<Utc>, ms: i64) -> String {
    (t0 + Duration::milliseconds(ms)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn lines(path: &Path, values: &[Value]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for v in values {
        writeln!(f, "{v}")?;
    }
    f.flush()
}

/// Writes one scenario's artifacts into `dir`, starting at `t0` and lasting `seconds` (≥ 4).
pub fn scenario(dir: &Path, t0: DateTime<Utc>, seconds: u64, story: Story) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("data"))?;
    let end = (seconds.max(4) * 1000) as i64;
    let restore = end / 2;
    let online_again = restore + 300;
    let t = |ms: i64| at(t0, ms);

    // Steps.
    let mut steps = vec![
        (
            "Given",
            "the central system knows these id tags:",
            0,
            50,
            StepStatus::Passed,
        ),
        (
            "Given",
            "the charger is online",
            50,
            450,
            StepStatus::Passed,
        ),
        (
            "When",
            "the connection to the central system is refused",
            450,
            500,
            StepStatus::Passed,
        ),
        ("When", "the EV is plugged in", 500, 550, StepStatus::Passed),
        (
            "And",
            "the card \"04A1B2C3\" is presented",
            550,
            600,
            StepStatus::Passed,
        ),
        (
            "Then",
            "charging starts within 5 seconds",
            600,
            700,
            StepStatus::Passed,
        ),
        (
            "When",
            "the network is restored",
            restore - 10,
            restore,
            StepStatus::Passed,
        ),
    ];
    match story {
        Story::Passes => {
            steps.push((
                "Then",
                FAILING_STEP,
                restore,
                online_again + 100,
                StepStatus::Passed,
            ));
            steps.push((
                "Then",
                "the rig's end-of-scenario checks pass",
                online_again + 100,
                end,
                StepStatus::Passed,
            ));
        }
        Story::Fails => {
            steps.push(("Then", FAILING_STEP, restore, end - 5, StepStatus::Failed));
            steps.push((
                "Then",
                "the rig's end-of-scenario checks pass",
                end - 5,
                end - 5,
                StepStatus::Skipped,
            ));
        }
    }
    let error = "expected a StartTransaction within 5 s; none arrived\n  last board status: pilot C, contactor closed, Charging, online, queue 1".to_string();
    let step_lines: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, (k, text, from, to, status))| {
            serde_json::to_value(StepRecord {
                keyword: (*k).into(),
                text: (*text).into(),
                line: 10 + i,
                started: t0 + Duration::milliseconds(*from),
                ended: t0 + Duration::milliseconds(*to),
                status: *status,
                error: (*status == StepStatus::Failed).then(|| error.clone()),
            })
            .unwrap_or_default()
        })
        .collect();
    lines(&dir.join(super::STEPS_FILE), &step_lines)?;
    if story == Story::Fails {
        std::fs::write(
            dir.join("failure.txt"),
            format!("sample:10 sample\n{error}\n"),
        )?;
    }

    // The board's status every 100 ms, as a raw stream (not yet changes only).
    let mut status = Vec::new();
    let mut ms = 300;
    while ms < end {
        let plugged = ms >= 500;
        let charging = ms >= 620;
        let online = ms < 460 || ms >= online_again;
        let current = if charging {
            15.9 + ((ms / 100) % 3) as f64 * 0.1
        } else {
            0.0
        };
        status.push(json!({
            "at": t(ms), "boot_count": 1, "connection": 1,
            "connector_status": if charging { "Charging" } else if plugged { "Preparing" } else { "Available" },
            "contactor": if charging { "closed" } else { "open" },
            "current_a": current, "energy_wh": (ms - 620).max(0) / 300, "fault": false,
            "locked": ms >= 590, "online": online,
            "pilot": if charging { "C" } else if plugged { "B" } else { "A" },
            "pwm_duty_permille": if ms >= 580 { 266 } else { 1000 },
            "queue_len": u32::from(!(online && ms > online_again + 50) && charging),
            "sequence": (ms / 100) % 256, "transaction_active": charging,
        }));
        ms += 100;
    }
    lines(&dir.join("board-status.jsonl"), &status)?;

    let events = [
        (500, "PilotChange", 1),
        (560, "CardRead", 4),
        (580, "PwmChanged", 266),
        (590, "LockEngaged", 0),
        (620, "PilotChange", 2),
        (620, "ContactorClosed", 0),
    ];
    let events: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, (ms, kind, arg))| {
            json!({"at": t(*ms), "board_ms": ms - 60, "kind": kind, "arg": arg, "sequence": i + 1, "boot_count": 1, "connection": 1})
        })
        .collect();
    lines(&dir.join("board-events.jsonl"), &events)?;

    let faults = vec![
        json!({"at": t(100), "source": "gate", "kind": "connection", "detail": "#1 from 127.0.0.1:40000 accepted"}),
        json!({"at": t(110), "source": "csms", "connection": 1, "event": "websocket opened"}),
        json!({"at": t(450), "source": "step", "fault": "connection refused (open connections reset)"}),
        json!({"at": t(455), "source": "gate", "kind": "refuse", "detail": "proxy: open -> refused"}),
        json!({"at": t(456), "source": "csms", "connection": 1, "event": "websocket closed"}),
        json!({"at": t(restore - 5), "source": "step", "fault": "network restored"}),
        json!({"at": t(restore - 4), "source": "gate", "kind": "restore", "detail": "proxy: refused -> open"}),
        json!({"at": t(online_again - 10), "source": "csms", "connection": 2, "event": "websocket opened"}),
    ];
    lines(&dir.join("faults.jsonl"), &faults)?;

    // OCPP: boot, offline, then the reconnect and (when it passes) the queued session.
    let mut seq = 0;
    let mut ocpp = Vec::new();
    let mut exchange = |ms: i64, conn: u32, action: &str, call: Value, answer: Option<Value>| {
        let id = format!("1-{}", seq + 1);
        ocpp.push(json!({"seq": seq, "at": t(ms), "direction": "in", "connection": conn, "kind": "call", "message_id": id, "action": action, "payload": call}));
        seq += 1;
        if let Some(a) = answer {
            ocpp.push(json!({"seq": seq, "at": t(ms + 1), "direction": "out", "connection": conn, "kind": "result", "message_id": id, "action": action, "payload": a}));
            seq += 1;
        }
    };
    exchange(
        200,
        1,
        "BootNotification",
        json!({"chargePointModel": "SimBoard-1", "chargePointVendor": "Chargerig", "firmwareVersion": "0.1.0-sample"}),
        Some(json!({"currentTime": t(200), "interval": 300, "status": "Accepted"})),
    );
    exchange(
        260,
        1,
        "StatusNotification",
        json!({"connectorId": 0, "errorCode": "NoError", "status": "Available"}),
        Some(json!({})),
    );
    exchange(
        262,
        1,
        "StatusNotification",
        json!({"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
        Some(json!({})),
    );
    exchange(
        online_again,
        2,
        "Heartbeat",
        json!({}),
        Some(json!({"currentTime": t(online_again)})),
    );
    exchange(
        online_again + 5,
        2,
        "StatusNotification",
        json!({"connectorId": 1, "errorCode": "NoError", "status": "Charging"}),
        Some(json!({})),
    );
    match story {
        Story::Passes => {
            exchange(
                online_again + 10,
                2,
                "StartTransaction",
                json!({"connectorId": 1, "idTag": "04A1B2C3", "meterStart": 0, "timestamp": t(600)}),
                Some(json!({"idTagInfo": {"status": "Accepted"}, "transactionId": 1})),
            );
            let mut ms = online_again + 1000;
            while ms < end - 100 {
                exchange(
                    ms,
                    2,
                    "MeterValues",
                    json!({"connectorId": 1, "transactionId": 1, "meterValue": [{"timestamp": t(ms), "sampledValue": [{"value": "12", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}),
                    Some(json!({})),
                );
                ms += 2000;
            }
        }
        Story::Fails => {
            exchange(
                online_again + 10,
                2,
                "Authorize",
                json!({"idTag": "04A1B2C3"}),
                Some(json!({"idTagInfo": {"status": "Blocked"}})),
            );
            exchange(
                online_again + 20,
                2,
                "DataTransfer",
                json!({"vendorId": "Chargerig"}),
                None,
            );
        }
    }
    lines(&dir.join("ocpp.jsonl"), &ocpp)?;

    std::fs::write(
        dir.join("charger.log"),
        format!(
            "--- rig: power on (start 1) at {}\n{} INFO charger::runtime: charger booted\n--- rig: shut down at {}\n",
            t(60),
            t(70),
            t(end)
        ),
    )?;
    std::fs::write(dir.join("board.log"), "(1700000000.000000) board0 104#\n")?;
    std::fs::write(
        dir.join("charger.toml"),
        "[charger]\nauthorization = \"rfid\"\n",
    )?;
    Ok(())
}

/// Writes a run of `n` scenarios (≥ 4) of `seconds` each under `root` and returns its summary:
/// the first fails, the second is flaky (a failed attempt, then a pass), the third is skipped
/// (no artifacts), the rest pass; spread over features of 10 scenarios.
pub fn run(root: &Path, n: usize, seconds: u64) -> std::io::Result<RunSummary> {
    let started = DateTime::parse_from_rfc3339("2026-12-02T02:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let mut scenarios = Vec::new();
    let mut clock = started;
    for i in 0..n.max(4) {
        let feature = format!("sample-{}", i / 10);
        let line = 10 + (i % 10) * 20;
        let name = match i {
            0 => "A session charged offline is reported after the reconnect".to_string(),
            1 => "A flaky delivery passes on the second attempt".to_string(),
            2 => "A power cut needs a relay".to_string(),
            _ => format!("Sample scenario number {i} delivers its session"),
        };
        let folder = |attempt: usize| {
            let mut p = PathBuf::from(&feature).join(format!("{line}-sample-{i}"));
            if attempt > 1 {
                p = PathBuf::from(format!("{}-attempt{attempt}", p.display()));
            }
            p
        };
        let failure = "expected a StartTransaction within 5 s; none arrived".to_string();
        let mut earlier_failures = Vec::new();
        let (status, dirs, failed_step, message) = match i {
            0 => {
                scenario(&root.join(folder(1)), clock, seconds, Story::Fails)?;
                (
                    Status::Failed,
                    vec![folder(1)],
                    Some(format!("Then {FAILING_STEP}")),
                    Some(failure.clone()),
                )
            }
            1 => {
                scenario(&root.join(folder(1)), clock, seconds, Story::Fails)?;
                scenario(&root.join(folder(2)), clock, seconds, Story::Passes)?;
                earlier_failures.push(failure.clone());
                (Status::Flaky, vec![folder(1), folder(2)], None, None)
            }
            2 => (
                Status::Skipped,
                Vec::new(),
                None,
                Some("@power: no power switch on this bench".to_string()),
            ),
            _ => {
                scenario(&root.join(folder(1)), clock, seconds, Story::Passes)?;
                (Status::Passed, vec![folder(1)], None, None)
            }
        };
        scenarios.push(ScenarioSummary {
            feature: format!("Sample feature {}", i / 10),
            path: format!("features/{feature}.feature"),
            line,
            name,
            status,
            duration_ms: seconds * 1000,
            attempts: dirs.len().max(1),
            failed_step,
            message,
            earlier_failures,
            dirs,
        });
        clock += Duration::seconds(seconds as i64);
    }
    Ok(RunSummary {
        profile: "sim (built in)".into(),
        bench: "simulated boards".into(),
        versions: vec![("rig".into(), env!("CARGO_PKG_VERSION").into())],
        started,
        duration_ms: (clock - started).num_milliseconds().max(0) as u64,
        scenarios,
        parse_errors: Vec::new(),
    })
}
