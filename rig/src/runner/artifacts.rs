//! The per-scenario bundle: OCPP frames, board status timeline and events, faults.
//! (`board.log` and `charger.log` are written live by the link client and the board.)

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::csms::History;
use crate::gate::FaultRecord as GateRecord;
use crate::world::{RigWorld, StepFault};

/// The folder of one scenario below the run's artifact root.
pub fn scenario_dir(root: &Path, feature: &str, line: usize, scenario: &str) -> PathBuf {
    let base = root
        .join(slug(feature))
        .join(format!("{line}-{}", slug(scenario)));
    // A retried scenario keeps the earlier attempt's bundle beside it.
    if !base.exists() {
        return base;
    }
    (2..)
        .map(|n| PathBuf::from(format!("{}-attempt{n}", base.display())))
        .find(|p| !p.exists())
        .expect("some attempt number is free")
}

/// A directory-name-safe version of a scenario name.
pub fn slug(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(60).collect()
}

fn write_lines(path: &Path, lines: impl IntoIterator<Item = String>) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for line in lines {
        writeln!(file, "{line}")?;
    }
    file.flush()
}

/// Writes the bundle of `world` into its artifact folder.
pub fn write(world: &RigWorld) -> std::io::Result<()> {
    let dir = &world.artifacts;
    std::fs::create_dir_all(dir)?;
    write_lines(
        &dir.join("board-status.jsonl"),
        world.timeline().iter().map(|v| v.to_json().to_string()),
    )?;
    write_lines(
        &dir.join("board-events.jsonl"),
        world.events().iter().map(|e| e.to_json().to_string()),
    )?;
    let gate = world
        .bench
        .as_ref()
        .map(|b| b.gate.timeline())
        .unwrap_or_default();
    write_exchange(dir, &world.history(), &gate, &world.faults)
}

/// Writes `ocpp.jsonl` and `faults.jsonl` (injected faults, the gate's timeline, the central
/// system's violations and connections, by time) into `dir`; `rig sim` writes the same.
pub fn write_exchange(
    dir: &Path,
    history: &History,
    gate: &[GateRecord],
    injected: &[StepFault],
) -> std::io::Result<()> {
    write_lines(
        &dir.join("ocpp.jsonl"),
        history
            .records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap_or_default()),
    )?;
    let mut faults: Vec<(chrono::DateTime<chrono::Utc>, serde_json::Value)> = injected
        .iter()
        .map(|f| {
            (
                f.at,
                json!({"at": f.at, "source": "step", "fault": f.fault}),
            )
        })
        .collect();
    faults.extend(gate.iter().map(|f| {
        let mut v = f.to_json();
        v["source"] = json!("gate");
        (f.at, v)
    }));
    for v in &history.violations {
        faults.push((
            v.at,
            json!({"at": v.at, "source": "csms", "violation": v.reason, "frame": v.frame}),
        ));
    }
    for r in &history.refused {
        faults.push((
            r.at,
            json!({"at": r.at, "source": "csms", "connection": r.connection,
                   "event": "upgrade refused", "status": r.status, "reason": r.reason}),
        ));
    }
    for c in &history.connections {
        let what = if c.opened {
            "websocket opened"
        } else {
            "websocket closed"
        };
        faults.push((
            c.at,
            json!({"at": c.at, "source": "csms", "connection": c.connection, "event": what}),
        ));
    }
    faults.sort_by_key(|f| f.0);
    write_lines(
        &dir.join("faults.jsonl"),
        faults.into_iter().map(|f| f.1.to_string()),
    )
}
