//! From the run's results to the reports: the run summary handed to `report.html` (and kept as
//! `run.json`), the JUnit file. What a report says comes from one place, so the HTML, the JUnit
//! file and the console agree.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::report::{Outcome, Report, ScenarioResult};
use crate::profile::{LinkChoice, Profile};
use crate::report::{self, RunSummary, ScenarioSummary, Status};

/// The profile (`name (file)`) and the bench it describes, as the report's header shows them.
pub fn describe_profile(profile: &Profile) -> (String, String) {
    let file = profile
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "built in".into());
    let bench = match &profile.link {
        LinkChoice::Sim => "simulated boards (a charger process per scenario)".to_string(),
        LinkChoice::Real(spec) => format!("real board on {spec}"),
    };
    let bench = if profile.description.is_empty() {
        bench
    } else {
        format!("{bench}: {}", profile.description)
    };
    (format!("{} ({file})", profile.name), bench)
}

fn scenario(r: &ScenarioResult, root: &Path) -> ScenarioSummary {
    let (status, message, earlier_failures) = match &r.outcome {
        Outcome::Passed => (Status::Passed, None, Vec::new()),
        Outcome::Flaky(earlier) => (Status::Flaky, None, earlier.clone()),
        Outcome::Failed(f) => (Status::Failed, Some(f.clone()), Vec::new()),
        Outcome::Skipped(reason) => (Status::Skipped, Some(reason.clone()), Vec::new()),
        // Cut short by a signal or the watchdog: a failure whose message says so.
        Outcome::Unfinished(why) => (Status::Failed, Some(why.clone()), Vec::new()),
    };
    ScenarioSummary {
        feature: r.feature.clone(),
        path: r.path.display().to_string(),
        line: r.line,
        name: r.name.clone(),
        status,
        duration_ms: r.duration.as_millis() as u64,
        attempts: r.attempts,
        failed_step: r.failed_step.clone(),
        message,
        earlier_failures,
        dirs: r
            .dirs
            .iter()
            .map(|d| d.strip_prefix(root).unwrap_or(d).to_path_buf())
            .collect(),
    }
}

/// The summary of a run from its results (a run a signal ended has no [`Report`] to hand).
pub fn summary_of(
    results: &[ScenarioResult],
    parse_errors: &[String],
    root: &Path,
    labels: (String, String),
    started: DateTime<Utc>,
    duration: Duration,
) -> RunSummary {
    RunSummary {
        profile: labels.0,
        bench: labels.1,
        versions: vec![("rig".into(), env!("CARGO_PKG_VERSION").into())],
        started,
        duration_ms: duration.as_millis() as u64,
        scenarios: results.iter().map(|r| scenario(r, root)).collect(),
        parse_errors: parse_errors.to_vec(),
    }
}

/// The summary of a finished run.
pub fn run_summary(
    report: &Report,
    root: &Path,
    profile: String,
    bench: String,
    started: DateTime<Utc>,
    duration: Duration,
) -> RunSummary {
    RunSummary {
        profile,
        bench,
        versions: vec![("rig".into(), env!("CARGO_PKG_VERSION").into())],
        started,
        duration_ms: duration.as_millis() as u64,
        scenarios: report.results.iter().map(|r| scenario(r, root)).collect(),
        parse_errors: report.parse_errors.clone(),
    }
}

/// Writes `report.html` (always) and the JUnit file (when asked), and says where they are.
/// A report that cannot be written is a warning: the run's verdict stands.
pub fn write_reports(
    run: &RunSummary,
    root: &Path,
    junit: Option<&Path>,
    cucumber_json: Option<&Path>,
) {
    let clock = std::time::Instant::now();
    match report::write(root, run) {
        Ok(w) => println!(
            "report: {} ({:.1} MB, {} timelines, written in {} ms)",
            w.path.display(),
            w.bytes as f64 / 1e6,
            w.timelines,
            clock.elapsed().as_millis()
        ),
        Err(e) => eprintln!("rig run: {e}"),
    }
    if let Some(path) = junit {
        match report::junit::write(path, run, root) {
            Ok(()) => println!("JUnit report: {}", path.display()),
            Err(e) => eprintln!(
                "rig run: cannot write the JUnit report {}: {e}",
                path.display()
            ),
        }
    }
    if let Some(path) = cucumber_json {
        println!("Cucumber JSON report: {}", PathBuf::from(path).display());
    }
}
