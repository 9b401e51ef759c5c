//! The run summary the runner hands to the report: what only the runner knows (profile, bench,
//! outcome of every scenario, which folders its attempts wrote). Serializable so a run can be
//! re-rendered later from `run.json`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a scenario ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    // Order = order in the report: failures first.
    Failed,
    Flaky,
    Passed,
    Skipped,
}

impl Status {
    /// The word shown in the report and used as a CSS class.
    pub fn word(self) -> &'static str {
        match self {
            Status::Failed => "failed",
            Status::Flaky => "flaky",
            Status::Passed => "passed",
            Status::Skipped => "skipped",
        }
    }
}

/// One scenario's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSummary {
    /// The feature's name (its `Feature:` line).
    pub feature: String,
    /// The feature file as given to the run, e.g. `features/faults.feature`.
    pub path: String,
    pub line: usize,
    pub name: String,
    pub status: Status,
    pub duration_ms: u64,
    #[serde(default = "one")]
    pub attempts: usize,
    /// The step that failed, `Keyword text` (failed scenarios).
    #[serde(default)]
    pub failed_step: Option<String>,
    /// The failure (failed scenarios) or the skip reason (skipped ones).
    #[serde(default)]
    pub message: Option<String>,
    /// The failures of the attempts before the last (flaky or retried scenarios).
    #[serde(default)]
    pub earlier_failures: Vec<String>,
    /// Artifact folders of the attempts, relative to the artifact root, in order: the last one
    /// is the attempt that decided the outcome.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
}

fn one() -> usize {
    1
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Profile name and file, e.g. `sim (fixtures/rigs/sim.toml)`.
    pub profile: String,
    /// What the scenarios ran against, e.g. `simulated boards` or the board link.
    pub bench: String,
    /// Name/version pairs: rig, firmware, ...
    #[serde(default)]
    pub versions: Vec<(String, String)>,
    pub started: DateTime<Utc>,
    pub duration_ms: u64,
    pub scenarios: Vec<ScenarioSummary>,
    /// Feature files that did not parse.
    #[serde(default)]
    pub parse_errors: Vec<String>,
}

/// Scenarios per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub flaky: usize,
    pub skipped: usize,
}

impl RunSummary {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for s in &self.scenarios {
            match s.status {
                Status::Passed => c.passed += 1,
                Status::Failed => c.failed += 1,
                Status::Flaky => c.flaky += 1,
                Status::Skipped => c.skipped += 1,
            }
        }
        c
    }

    /// The run's verdict in one word.
    pub fn verdict(&self) -> Status {
        let c = self.counts();
        if c.failed > 0 || !self.parse_errors.is_empty() {
            Status::Failed
        } else if c.flaky > 0 {
            Status::Flaky
        } else {
            Status::Passed
        }
    }
}
