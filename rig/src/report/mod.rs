//! `report.html`: what a run did, for a person. One self-contained file at the artifact root
//! (inline CSS and SVG, no network, readable on a phone, usable without JavaScript) with the run,
//! every feature and scenario (failures first) and, per scenario, a timeline of its lanes
//! (pilot, contactor, PWM/current, connector, online, gate, power), OCPP exchanges and steps,
//! drawn from the artifacts the scenario left. Each timeline is also written beside its
//! artifacts as `timeline.svg`.
//!
//! The runner passes a [`RunSummary`] (what only it knows: outcomes, durations, folders) and
//! records each scenario's steps with a [`StepRecorder`]; everything else is read from disk, so
//! a report can be rendered again from `run.json` after the run.

mod escape;
pub mod html;
pub mod junit;
pub mod load;
pub mod sample;
pub mod steps;
pub mod summary;
pub mod svg;
pub mod timeline;

use std::path::{Path, PathBuf};

pub use load::ScenarioData;
pub use steps::{StepRecord, StepRecorder, StepStatus, STEPS_FILE};
pub use summary::{Counts, RunSummary, ScenarioSummary, Status};
pub use timeline::Timeline;

/// The report's file name at the artifact root.
pub const REPORT_FILE: &str = "report.html";
/// The run summary beside it, to render the report again.
pub const RUN_FILE: &str = "run.json";
/// A scenario's picture in its folder.
pub const TIMELINE_FILE: &str = "timeline.svg";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the run summary {}: {reason}", .path.display())]
    Summary { path: PathBuf, reason: String },
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: usize,
    /// Scenario attempts drawn.
    pub timelines: usize,
    /// Artifact problems met on the way (unreadable lines, missing folders).
    pub problems: usize,
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads and draws one attempt folder (relative to `root`); writes its `timeline.svg`.
fn attempt(root: &Path, dir: &Path, label: &str) -> Result<html::Attempt, ReportError> {
    let abs = root.join(dir);
    let mut data = ScenarioData::load(&abs);
    let timeline = Timeline::build(&data, svg::PLOT_WIDTH);
    let svg = match &timeline {
        Some(tl) => {
            if abs.is_dir() {
                write_file(
                    &abs.join(TIMELINE_FILE),
                    svg::render(tl, label, true).as_bytes(),
                )?;
                if !data.files.iter().any(|f| f == TIMELINE_FILE) {
                    data.files.push(TIMELINE_FILE.to_string());
                    data.files.sort();
                }
            }
            Some(svg::render(tl, label, false))
        }
        None => None,
    };
    let dir = dir
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    Ok(html::Attempt {
        dir,
        data,
        timeline,
        svg,
    })
}

/// Writes `report.html` (and `run.json`, and every attempt's `timeline.svg`) under `root`,
/// the run's artifact root.
pub fn write(root: &Path, run: &RunSummary) -> Result<Written, ReportError> {
    let mut attempts = Vec::with_capacity(run.scenarios.len());
    let mut timelines = 0;
    let mut problems = 0;
    for s in &run.scenarios {
        let label = format!("{}:{} {}", s.path, s.line, s.name);
        let mut these = Vec::with_capacity(s.dirs.len());
        for dir in &s.dirs {
            let a = attempt(root, dir, &label)?;
            timelines += usize::from(a.svg.is_some());
            problems += a.data.problems.len();
            these.push(a);
        }
        attempts.push(these);
    }
    // The firmware under test says its version in every BootNotification: show it when the
    // runner did not (a real board's version is not the rig's).
    let mut shown = run.clone();
    if !run.versions.iter().any(|(k, _)| k.starts_with("firmware")) {
        let reported = attempts.iter().flatten().find_map(|a| {
            a.data.ocpp.iter().find_map(|f| {
                (f.kind == "call" && f.action.as_deref() == Some("BootNotification"))
                    .then(|| {
                        f.payload
                            .get("firmwareVersion")?
                            .as_str()
                            .map(str::to_string)
                    })
                    .flatten()
            })
        });
        if let Some(v) = reported {
            shown
                .versions
                .push(("firmware (BootNotification)".into(), v));
        }
    }
    let page = html::page(&shown, &attempts);
    let path = root.join(REPORT_FILE);
    write_file(&path, page.as_bytes())?;
    let json = serde_json::to_vec_pretty(run).map_err(|e| ReportError::Write {
        path: root.join(RUN_FILE),
        source: std::io::Error::other(e),
    })?;
    write_file(&root.join(RUN_FILE), &json)?;
    Ok(Written {
        path,
        bytes: page.len(),
        timelines,
        problems,
    })
}

/// Reads the `run.json` a run left at `root`, to render its report again.
pub fn read_summary(root: &Path) -> Result<RunSummary, ReportError> {
    let path = root.join(RUN_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| ReportError::Summary {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| ReportError::Summary {
        path,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
