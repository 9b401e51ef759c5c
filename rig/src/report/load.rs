//! Reads one scenario's artifact folder into what the timeline needs. Tolerant on purpose: a
//! report is most needed when a run went wrong, so a missing file or a bad line is noted and
//! skipped, never fatal.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::steps::{StepRecord, STEPS_FILE};

/// One OCPP-J frame of `ocpp.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct OcppFrame {
    pub at: DateTime<Utc>,
    /// `in` = charger → central system, `out` = central system → charger.
    pub direction: String,
    #[serde(default)]
    pub connection: u32,
    /// `call`, `result`, `error`, `invalid`.
    pub kind: String,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub payload: Value,
    /// Read while the central system was not answering.
    #[serde(default)]
    pub ignored: bool,
}

impl OcppFrame {
    /// Sent by the charger.
    pub fn from_charger(&self) -> bool {
        self.direction == "in"
    }
}

/// One line of `board-status.jsonl` (the fields the lanes show).
#[derive(Debug, Clone, Deserialize)]
pub struct StatusPoint {
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub pilot: String,
    #[serde(default)]
    pub contactor: String,
    #[serde(default)]
    pub pwm_duty_permille: u32,
    #[serde(default)]
    pub current_a: f64,
    #[serde(default)]
    pub connector_status: String,
    #[serde(default)]
    pub online: bool,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub queue_len: u32,
    #[serde(default)]
    pub energy_wh: u64,
}

/// One line of `board-events.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct BoardEventLine {
    pub at: DateTime<Utc>,
    pub kind: String,
    #[serde(default)]
    pub arg: u32,
    #[serde(default)]
    pub board_ms: u64,
}

/// One line of `faults.jsonl`, whatever its source.
#[derive(Debug, Clone, Deserialize)]
pub struct FaultLine {
    pub at: DateTime<Utc>,
    /// `step`, `gate`, `csms`.
    #[serde(default)]
    pub source: String,
    /// Gate: `cut`, `refuse`, `restore`, `connection`, `error`...
    #[serde(default)]
    pub kind: Option<String>,
    /// Step faults: what the step injected (`power cut`, `network restored`...).
    #[serde(default)]
    pub fault: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    /// Central system: `websocket opened` / `websocket closed`.
    #[serde(default)]
    pub event: Option<String>,
    /// Central system: a frame that broke the contract.
    #[serde(default)]
    pub violation: Option<String>,
}

impl FaultLine {
    /// The line as one readable phrase.
    pub fn text(&self) -> String {
        let what = self
            .fault
            .as_deref()
            .or(self.violation.as_deref())
            .or(self.event.as_deref())
            .or(self.detail.as_deref())
            .unwrap_or("");
        match (&self.kind, &self.violation) {
            (_, Some(_)) => format!("{}: violation: {what}", self.source),
            (Some(kind), None) => format!("{} {kind}: {what}", self.source),
            (None, None) => format!("{}: {what}", self.source),
        }
    }
}

/// Everything one scenario folder holds that the report shows.
#[derive(Debug, Clone, Default)]
pub struct ScenarioData {
    pub ocpp: Vec<OcppFrame>,
    pub status: Vec<StatusPoint>,
    pub events: Vec<BoardEventLine>,
    pub faults: Vec<FaultLine>,
    pub steps: Vec<StepRecord>,
    /// `failure.txt`.
    pub failure: Option<String>,
    /// The simulated board's power switching, from the rig's `--- rig: WHAT at TIME` lines in
    /// `charger.log`: (time, what).
    pub power: Vec<(DateTime<Utc>, String)>,
    /// Entries of the folder (directories with a trailing `/`), sorted, for the links.
    pub files: Vec<String>,
    /// What could not be read, `file:line: reason`.
    pub problems: Vec<String>,
}

impl ScenarioData {
    /// Reads the folder `dir`; a missing folder gives empty data with one problem noted.
    pub fn load(dir: &Path) -> ScenarioData {
        let mut data = ScenarioData::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                data.problems
                    .push(format!("{}: cannot read the folder: {e}", dir.display()));
                return data;
            }
        };
        for entry in entries.flatten() {
            let mut name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            // The board's pty link of a live bench is no artifact.
            if kind.is_symlink() {
                continue;
            }
            if kind.is_dir() {
                name.push('/');
            }
            data.files.push(name);
        }
        data.files.sort();
        data.ocpp = read_jsonl(dir, "ocpp.jsonl", &mut data.problems);
        data.status = read_jsonl(dir, "board-status.jsonl", &mut data.problems);
        data.events = read_jsonl(dir, "board-events.jsonl", &mut data.problems);
        data.faults = read_jsonl(dir, "faults.jsonl", &mut data.problems);
        data.steps = read_jsonl(dir, STEPS_FILE, &mut data.problems);
        data.failure = std::fs::read_to_string(dir.join("failure.txt")).ok();
        if let Ok(log) = std::fs::read_to_string(dir.join("charger.log")) {
            data.power = log.lines().filter_map(rig_marker).collect();
        }
        // Files are written in time order, but a merge of sources need not be: sort, stably.
        data.ocpp.sort_by_key(|f| f.at);
        data.status.sort_by_key(|s| s.at);
        data.events.sort_by_key(|e| e.at);
        data.faults.sort_by_key(|f| f.at);
        data
    }

    /// First and last instant anything was recorded, or `None` for an empty folder.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let times = self
            .ocpp
            .iter()
            .map(|f| f.at)
            .chain(self.status.iter().map(|s| s.at))
            .chain(self.events.iter().map(|e| e.at))
            .chain(self.faults.iter().map(|f| f.at))
            .chain(self.power.iter().map(|p| p.0))
            .chain(self.steps.iter().flat_map(|s| [s.started, s.ended]));
        times.fold(None, |acc, t| match acc {
            None => Some((t, t)),
            Some((a, b)) => Some((a.min(t), b.max(t))),
        })
    }
}

/// `--- rig: power on (start 2) at 2026-12-02T02:08:13.597Z` → (time, `power on (start 2)`).
fn rig_marker(line: &str) -> Option<(DateTime<Utc>, String)> {
    let rest = line.strip_prefix("--- rig: ")?;
    let (what, at) = rest.rsplit_once(" at ")?;
    let at = DateTime::parse_from_rfc3339(at.trim()).ok()?;
    Some((at.with_timezone(&Utc), what.to_string()))
}

/// Reads a JSON-lines file; a missing file is empty (not every scenario writes every file).
fn read_jsonl<T: DeserializeOwned>(dir: &Path, name: &str, problems: &mut Vec<String>) -> Vec<T> {
    let text = match std::fs::read_to_string(dir.join(name)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            problems.push(format!("{name}: {e}"));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(v) => out.push(v),
            Err(e) => problems.push(format!("{name}:{}: {e}", n + 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_is_there_and_notes_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("ocpp.jsonl"),
            "{\"seq\":0,\"at\":\"2026-12-02T02:08:13.677571666Z\",\"direction\":\"in\",\"connection\":1,\"kind\":\"call\",\"message_id\":\"1-1\",\"action\":\"BootNotification\",\"payload\":{}}\nnot json\n",
        )
        .unwrap();
        std::fs::write(
            d.join("faults.jsonl"),
            "{\"at\":\"2026-12-02T02:08:14.027570585Z\",\"fault\":\"power cut\",\"source\":\"step\"}\n",
        )
        .unwrap();
        std::fs::create_dir(d.join("data")).unwrap();
        std::fs::write(
            d.join("charger.log"),
            "--- rig: power on (start 1) at 2026-12-02T02:08:13.597Z\nINFO booted\n--- rig: power cut (SIGKILL) at 2026-12-02T02:08:14.100Z\n",
        )
        .unwrap();
        let data = ScenarioData::load(d);
        assert_eq!(data.ocpp.len(), 1);
        assert!(data.ocpp[0].from_charger());
        assert_eq!(data.faults[0].text(), "step: power cut");
        assert_eq!(data.problems.len(), 1, "{:?}", data.problems);
        assert!(data.problems[0].starts_with("ocpp.jsonl:2:"));
        assert_eq!(
            data.files,
            ["charger.log", "data/", "faults.jsonl", "ocpp.jsonl"]
        );
        let power: Vec<&str> = data.power.iter().map(|p| p.1.as_str()).collect();
        assert_eq!(power, ["power on (start 1)", "power cut (SIGKILL)"]);
        let (a, b) = data.span().unwrap();
        assert!(a < b);
    }

    #[test]
    fn a_missing_folder_is_a_problem_not_an_error() {
        let data = ScenarioData::load(Path::new("/nonexistent/chargerig/report"));
        assert!(data.ocpp.is_empty());
        assert_eq!(data.problems.len(), 1);
    }
}
