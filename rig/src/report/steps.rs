//! `steps.jsonl`: when each Gherkin step of a scenario started and ended, and how. The runner
//! records it as the steps run (so a scenario killed by a watchdog still leaves its steps) and
//! the timeline draws it as bands.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The file name in a scenario's artifact folder.
pub const STEPS_FILE: &str = "steps.jsonl";

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Passed,
    Failed,
    /// Not run (an earlier step failed) or not defined.
    Skipped,
}

/// One line of `steps.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// `Given`, `When`, `Then`, `And`, `But`, `*` (as written).
    pub keyword: String,
    pub text: String,
    /// Line in the feature file.
    pub line: usize,
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    pub status: StepStatus,
    /// The failure message (failed steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StepRecord {
    /// `Given the charger is online`.
    pub fn title(&self) -> String {
        format!("{} {}", self.keyword.trim(), self.text)
    }
}

/// Appends the steps of one scenario to its `steps.jsonl` as they finish.
#[derive(Debug)]
pub struct StepRecorder {
    path: PathBuf,
    current: Option<(String, String, usize, DateTime<Utc>)>,
}

impl StepRecorder {
    /// A recorder for the scenario whose artifact folder is `dir` (created on the first write).
    pub fn new(dir: &Path) -> StepRecorder {
        StepRecorder {
            path: dir.join(STEPS_FILE),
            current: None,
        }
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A step started.
    pub fn started(&mut self, keyword: &str, text: &str, line: usize, at: DateTime<Utc>) {
        self.current = Some((keyword.trim().to_string(), text.to_string(), line, at));
    }

    /// The step started last ended; writes its line. A step that never started (skipped after
    /// a failure) is written with `ended` = `started` = `at`, so it still shows in the list.
    pub fn finished(
        &mut self,
        keyword: &str,
        text: &str,
        line: usize,
        status: StepStatus,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> std::io::Result<()> {
        let started = match self.current.take() {
            Some((_, t, l, started)) if t == text && l == line => started,
            _ => at,
        };
        let record = StepRecord {
            keyword: keyword.trim().to_string(),
            text: text.to_string(),
            line,
            started,
            ended: at,
            status,
            error,
        };
        self.append(&record)
    }

    /// Appends one record.
    pub fn append(&self, record: &StepRecord) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        line.push('\n');
        // One write per line: a reader never sees half a record.
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?
            .write_all(line.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    #[test]
    fn records_start_end_and_failure() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("f/12-x");
        let mut rec = StepRecorder::new(&folder);
        rec.started("Given ", "the charger is online", 3, at(0));
        rec.finished(
            "Given ",
            "the charger is online",
            3,
            StepStatus::Passed,
            None,
            at(400),
        )
        .unwrap();
        rec.started("Then ", "charging starts within 5 seconds", 4, at(400));
        rec.finished(
            "Then ",
            "charging starts within 5 seconds",
            4,
            StepStatus::Failed,
            Some("expected Charging".into()),
            at(5400),
        )
        .unwrap();
        rec.finished("And ", "x", 5, StepStatus::Skipped, None, at(5401))
            .unwrap();
        let text = std::fs::read_to_string(folder.join(STEPS_FILE)).unwrap();
        let steps: Vec<StepRecord> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0].title(), "Given the charger is online");
        assert_eq!((steps[1].started, steps[1].ended), (at(400), at(5400)));
        assert_eq!(steps[1].error.as_deref(), Some("expected Charging"));
        assert_eq!(steps[2].started, steps[2].ended);
        assert_eq!(steps[2].status, StepStatus::Skipped);
    }
}
