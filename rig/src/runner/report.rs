//! Progress while running and the outcome of every scenario: one line per finished scenario,
//! failures with what the rig saw and where their artifacts are, undefined steps with the
//! closest known phrasing. It also records each scenario's steps into its `steps.jsonl` as they
//! finish (for the report's timeline) and feeds cucumber's own JSON writer (`--cucumber-json`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use cucumber::event::{self, Cucumber, Feature, RetryableScenario, Rule, Scenario, Step};
use cucumber::gherkin;
use cucumber::parser;
use cucumber::Event;

use super::parser::{describe_parse_error, SKIP_MARKER};
use crate::report::{StepRecorder, StepStatus};
use crate::steps::{closest, StepDef};
use crate::term::{paint, Colour};
use crate::world::RigWorld;

/// A scenario as cucumber names it: feature file, line, name.
pub type ScenarioKey = (PathBuf, usize, String);

/// The artifact folders of every scenario's attempts, in order: the runner's `before` hook
/// registers each attempt's folder, the writer reads them (for `steps.jsonl`, the FAIL lines
/// and the report).
pub type AttemptDirs = Arc<Mutex<HashMap<ScenarioKey, Vec<PathBuf>>>>;

/// Cucumber's JSON writer, normalized (events of concurrent scenarios arrive interleaved).
type CucumberJson = cucumber::writer::Normalize<
    RigWorld,
    cucumber::writer::Json<std::io::BufWriter<std::fs::File>>,
>;

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Passed,
    /// Passed on a retry; the failures of the earlier attempts.
    Flaky(Vec<String>),
    Failed(String),
    Skipped(String),
    /// The run ended (signal, watchdog) before this scenario finished.
    Unfinished(String),
}

/// One scenario's result.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub feature: String,
    pub path: PathBuf,
    pub line: usize,
    pub name: String,
    pub outcome: Outcome,
    pub duration: Duration,
    pub attempts: usize,
    /// The step that failed, `Keyword text` (failed scenarios).
    pub failed_step: Option<String>,
    /// Artifact folders of the attempts, in order.
    pub dirs: Vec<PathBuf>,
}

#[derive(Debug)]
struct Running {
    started: Instant,
    failure: Option<String>,
    skipped: Option<String>,
    earlier_failures: Vec<String>,
    attempts: usize,
    failed_step: Option<String>,
    /// This attempt's `steps.jsonl`, once its folder is known.
    recorder: Option<StepRecorder>,
}

/// The `rig run` writer.
pub struct Report {
    defs: Vec<StepDef>,
    began: Instant,
    total: usize,
    running: HashMap<(PathBuf, usize, String), Running>,
    pub results: Vec<ScenarioResult>,
    pub parse_errors: Vec<String>,
    /// Bumped on every event: the run watchdog reads it.
    progress: Arc<AtomicU64>,
    /// Steps in progress: (scenario key, step line) → start.
    step_started: HashMap<(PathBuf, usize, String, usize), Instant>,
    /// Durations of passed steps, by step text with its parameters blanked.
    pub step_times: HashMap<String, Vec<Duration>>,
    /// A copy of `results` the run's end reads when a signal or the watchdog ends the run
    /// while cucumber still owns this writer.
    pub finished: Arc<std::sync::Mutex<Vec<ScenarioResult>>>,
    dirs: AttemptDirs,
    json: Option<CucumberJson>,
    colour: bool,
}

impl Report {
    pub fn new(defs: Vec<StepDef>, progress: Arc<AtomicU64>, dirs: AttemptDirs) -> Report {
        Report {
            defs,
            began: Instant::now(),
            total: 0,
            running: HashMap::new(),
            results: Vec::new(),
            parse_errors: Vec::new(),
            progress,
            step_started: HashMap::new(),
            step_times: HashMap::new(),
            finished: Arc::default(),
            dirs,
            json: None,
            colour: false,
        }
    }

    /// Also writes cucumber's JSON report (the format Xray, Allure and the cucumber HTML
    /// formatters import) to `out` when the run finishes.
    pub fn with_cucumber_json(mut self, out: std::fs::File) -> Report {
        self.json = Some(cucumber::writer::Json::new(std::io::BufWriter::new(out)));
        self
    }

    /// Colours the PASS/FAIL labels (only for a terminal without `NO_COLOR`).
    pub fn with_colour(mut self, colour: bool) -> Report {
        self.colour = colour;
        self
    }

    /// The folder of the latest attempt of `key`.
    fn latest_dir(&self, key: &ScenarioKey) -> Option<PathBuf> {
        let dirs = self.dirs.lock().unwrap_or_else(|e| e.into_inner());
        dirs.get(key).and_then(|d| d.last().cloned())
    }

    /// Notes a step's start, or appends the finished step to the scenario's `steps.jsonl`.
    fn record_step(
        &mut self,
        key: &ScenarioKey,
        step: &gherkin::Step,
        started: bool,
        status: StepStatus,
        error: Option<String>,
        at: DateTime<Utc>,
    ) {
        let dir = self.latest_dir(key);
        let Some(run) = self.running.get_mut(key) else {
            return;
        };
        if run.recorder.is_none() {
            run.recorder = dir.map(|d| StepRecorder::new(&d));
        }
        let Some(rec) = run.recorder.as_mut() else {
            return;
        };
        if started {
            rec.started(&step.keyword, &step.value, step.position.line, at);
            return;
        }
        if let Err(e) = rec.finished(
            &step.keyword,
            &step.value,
            step.position.line,
            status,
            error,
            at,
        ) {
            tracing::warn!(file = %rec.path().display(), error = %e, "cannot record the step");
        }
    }

    /// Also copies every result into `finished`, which the run's end reads when a signal or
    /// the watchdog ends the run while cucumber still owns this writer.
    pub fn with_finished(mut self, finished: Arc<std::sync::Mutex<Vec<ScenarioResult>>>) -> Report {
        self.finished = finished;
        self
    }

    fn elapsed(&self) -> String {
        let s = self.began.elapsed().as_secs();
        format!("{}:{:02}", s / 60, s % 60)
    }

    fn step_failure(
        &self,
        feature: &gherkin::Feature,
        step: &gherkin::Step,
        ev: &Step<RigWorld>,
    ) -> Option<String> {
        let place = format!("{}:{}", display_path(feature), step.position.line);
        match ev {
            Step::Skipped if step.value.starts_with(SKIP_MARKER) => None,
            Step::Skipped => {
                let hint = closest(&self.defs, &step.value)
                    .map(|d| format!("; closest known step: `{} {}`", d.keyword, d.expression))
                    .unwrap_or_default();
                Some(format!(
                    "{place}: undefined step `{}{}`{hint}",
                    step.keyword, step.value
                ))
            }
            Step::Failed(_, _, _, err) => Some(format!(
                "{place}: step `{}{}` failed: {}",
                step.keyword,
                step.value,
                describe_step_error(err)
            )),
            Step::Started | Step::Passed(..) => None,
        }
    }

    fn scenario_event(
        &mut self,
        feature: &gherkin::Feature,
        scenario: &gherkin::Scenario,
        ev: RetryableScenario<RigWorld>,
        at: DateTime<Utc>,
    ) {
        let path = feature.path.clone().unwrap_or_default();
        let key = (path.clone(), scenario.position.line, scenario.name.clone());
        let RetryableScenario { event, retries } = ev;
        match event {
            Scenario::Started => {
                let entry = self.running.entry(key).or_insert_with(|| Running {
                    started: Instant::now(),
                    failure: None,
                    skipped: None,
                    earlier_failures: Vec::new(),
                    attempts: 0,
                    failed_step: None,
                    recorder: None,
                });
                entry.failure = None;
                entry.failed_step = None;
                entry.recorder = None;
                entry.attempts += 1;
            }
            Scenario::Step(step, ev) | Scenario::Background(step, ev) => {
                let failure = self.step_failure(feature, &step, &ev);
                match &ev {
                    Step::Started => {
                        self.record_step(&key, &step, true, StepStatus::Passed, None, at)
                    }
                    Step::Passed(..) => {
                        self.record_step(&key, &step, false, StepStatus::Passed, None, at)
                    }
                    Step::Skipped if failure.is_none() => {
                        self.record_step(&key, &step, false, StepStatus::Skipped, None, at)
                    }
                    Step::Skipped | Step::Failed(..) => {
                        let error = match &ev {
                            Step::Failed(_, _, _, err) => Some(describe_step_error(err)),
                            _ => failure.clone(),
                        };
                        self.record_step(&key, &step, false, StepStatus::Failed, error, at)
                    }
                }
                let step_key = (key.0.clone(), key.1, key.2.clone(), step.position.line);
                match &ev {
                    Step::Started => {
                        self.step_started.insert(step_key, Instant::now());
                    }
                    Step::Passed(..) => {
                        if let Some(at) = self.step_started.remove(&step_key) {
                            self.step_times
                                .entry(step.value.clone())
                                .or_default()
                                .push(at.elapsed());
                        }
                    }
                    _ => {
                        self.step_started.remove(&step_key);
                    }
                }
                if let Step::Skipped = ev {
                    if let Some(reason) = step.value.strip_prefix(SKIP_MARKER) {
                        if let Some(r) = self.running.get_mut(&key) {
                            r.skipped = Some(reason.trim().to_string());
                        }
                        return;
                    }
                }
                if let Some(failure) = failure {
                    if let Some(r) = self.running.get_mut(&key) {
                        r.failure.get_or_insert(failure);
                        r.failed_step
                            .get_or_insert_with(|| format!("{}{}", step.keyword, step.value));
                    }
                }
            }
            Scenario::Hook(kind, event::Hook::Failed(_, info)) => {
                if let Some(r) = self.running.get_mut(&key) {
                    r.failure
                        .get_or_insert(format!("{kind:?} hook failed: {}", panic_text(&info)));
                }
            }
            Scenario::Hook(..) | Scenario::Log(_) => {}
            Scenario::Finished => {
                let will_retry = retries.is_some_and(|r| r.left > 0);
                let Some(mut run) = self.running.remove(&key) else {
                    return;
                };
                if let (Some(failure), true) = (&run.failure, will_retry) {
                    println!(
                        "        {} {}:{} {} (attempt {} failed){}\n{}",
                        paint("RETRY", Colour::Yellow, self.colour),
                        display_path(feature),
                        scenario.position.line,
                        scenario.name,
                        run.attempts,
                        self.latest_dir(&key)
                            .map(|d| format!(" artifacts: {}", shown_path(&d)))
                            .unwrap_or_default(),
                        indent(failure)
                    );
                    run.earlier_failures.push(failure.clone());
                    self.running.insert(key, run);
                    return;
                }
                let outcome = match (run.failure.take(), run.skipped.take()) {
                    (Some(f), _) => Outcome::Failed(f),
                    (None, Some(reason)) => Outcome::Skipped(reason),
                    (None, None) if !run.earlier_failures.is_empty() => {
                        Outcome::Flaky(run.earlier_failures.clone())
                    }
                    (None, None) => Outcome::Passed,
                };
                let dirs = self
                    .dirs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key)
                    .unwrap_or_default();
                let failed_step = match outcome {
                    Outcome::Failed(_) => run.failed_step.take(),
                    _ => None,
                };
                let result = ScenarioResult {
                    feature: feature.name.clone(),
                    path,
                    line: scenario.position.line,
                    name: scenario.name.clone(),
                    outcome,
                    duration: run.started.elapsed(),
                    attempts: run.attempts,
                    failed_step,
                    dirs,
                };
                self.print_result(&result);
                self.finished
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(result.clone());
                self.results.push(result);
            }
        }
    }

    fn label(&self, outcome: &Outcome) -> String {
        let (text, colour) = match outcome {
            Outcome::Passed => ("PASS ", Colour::Green),
            Outcome::Flaky(_) => ("FLAKY", Colour::Yellow),
            Outcome::Failed(_) => ("FAIL ", Colour::Red),
            Outcome::Skipped(_) => ("SKIP ", Colour::Grey),
            Outcome::Unfinished(_) => ("UNFIN", Colour::Red),
        };
        paint(text, colour, self.colour)
    }

    fn print_result(&self, r: &ScenarioResult) {
        let label = self.label(&r.outcome);
        let width = self.total.max(1).to_string().len();
        println!(
            "[{:>width$}/{}] {label} {}:{} {} ({:.1} s, elapsed {}){}",
            self.results.len() + 1,
            self.total,
            r.path.display(),
            r.line,
            r.name,
            r.duration.as_secs_f64(),
            self.elapsed(),
            artifacts_note(r),
        );
        match &r.outcome {
            Outcome::Failed(f) | Outcome::Unfinished(f) => println!("{}", indent(f)),
            Outcome::Skipped(reason) => println!("        skipped: {reason}"),
            Outcome::Flaky(fs) => {
                for f in fs {
                    println!(
                        "        passed on attempt {}, earlier failure:\n{}",
                        r.attempts,
                        indent(f)
                    );
                }
            }
            Outcome::Passed => {}
        }
    }

    /// Counts per outcome: passed, flaky, failed, skipped.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for r in &self.results {
            match r.outcome {
                Outcome::Passed => c.0 += 1,
                Outcome::Flaky(_) => c.1 += 1,
                Outcome::Failed(_) | Outcome::Unfinished(_) => c.2 += 1,
                Outcome::Skipped(_) => c.3 += 1,
            }
        }
        c
    }

    /// Median duration of the passed runs of a step (exact text).
    pub fn median_step(&self, text: &str) -> Option<Duration> {
        let mut times = self.step_times.get(text)?.clone();
        times.sort();
        times.get(times.len() / 2).copied()
    }

    /// The summary printed at the end.
    pub fn print_summary(&self, artifacts: &Path) {
        let (passed, flaky, failed, skipped) = self.counts();
        println!();
        if !self.parse_errors.is_empty() {
            println!("feature files that do not parse:");
            for e in &self.parse_errors {
                println!("  {e}");
            }
        }
        let failures: Vec<&ScenarioResult> = self
            .results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed(_) | Outcome::Flaky(_)))
            .collect();
        if !failures.is_empty() {
            println!("failed or flaky scenarios:");
            for r in failures {
                println!(
                    "  {} {}:{} {}{}",
                    self.label(&r.outcome),
                    r.path.display(),
                    r.line,
                    r.name,
                    artifacts_note(r)
                );
            }
        }
        println!(
            "{} scenarios in {:.1} s ({} flaky); artifacts in {}",
            self.results.len(),
            self.began.elapsed().as_secs_f64(),
            flaky,
            artifacts.display()
        );
        if self.total > self.results.len() {
            println!(
                "{} of {} scenarios did not run (stopped early: --fail-fast or interrupted)",
                self.total - self.results.len(),
                self.total
            );
        }
        if let Some(median) = self.median_step("the charger is online") {
            println!(
                "median `Given the charger is online`: {:.0} ms over {} runs",
                median.as_secs_f64() * 1000.0,
                self.step_times["the charger is online"].len()
            );
        }
        let minutes = self.began.elapsed().as_secs_f64() / 60.0;
        if self.results.len() >= 2 && minutes > 0.05 {
            println!(
                "throughput: {:.1} scenarios per minute",
                self.results.len() as f64 / minutes
            );
        }
        // The plain closing line CI tools read.
        println!(
            "scenarios: {} passed, {failed} failed, {skipped} skipped",
            passed + flaky
        );
    }
}

/// A path as the user can open it: relative to the working directory when below it.
fn shown_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// ` artifacts: DIR` for a failed or flaky scenario (its last attempt's folder).
fn artifacts_note(r: &ScenarioResult) -> String {
    match (&r.outcome, r.dirs.last()) {
        (Outcome::Failed(_) | Outcome::Flaky(_), Some(dir)) => {
            format!(" artifacts: {}", shown_path(dir))
        }
        _ => String::new(),
    }
}

fn display_path(feature: &gherkin::Feature) -> String {
    feature
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| feature.name.clone())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("        {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The message of a panic payload (steps fail by panicking with their message).
pub fn panic_text(info: &event::Info) -> String {
    if let Some(s) = info.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = info.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "(panic without a message)".into()
    }
}

/// A step error as text (a failed step's panic message).
pub fn describe_step_error(err: &event::StepError) -> String {
    match err {
        event::StepError::Panic(info) => panic_text(info),
        other => other.to_string(),
    }
}

// Events of concurrent scenarios interleave; the report keys everything by scenario, so it
// needs no reordering.
impl cucumber::writer::Normalized for Report {}

impl cucumber::Writer<RigWorld> for Report {
    type Cli = cucumber::cli::Empty;

    async fn handle_event(
        &mut self,
        event: parser::Result<Event<Cucumber<RigWorld>>>,
        _: &Self::Cli,
    ) {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.progress.store(secs, Ordering::Relaxed);
        if let Some(json) = self.json.as_mut() {
            json.handle_event(event.clone(), &cucumber::cli::Empty)
                .await;
        }
        let (event, at) = match event {
            Ok(e) => {
                let at = DateTime::<Utc>::from(e.at);
                (e.value, at)
            }
            Err(err) => {
                let text = match &err {
                    parser::Error::Parsing(e) => describe_parse_error(e),
                    parser::Error::ExampleExpansion(e) => format!("cannot expand examples: {e}"),
                };
                println!("PARSE ERROR {text}");
                self.parse_errors.push(text);
                return;
            }
        };
        match event {
            Cucumber::ParsingFinished { scenarios, .. } => {
                self.total = scenarios;
                println!("running {scenarios} scenario(s)");
            }
            Cucumber::Feature(feature, Feature::Scenario(scenario, ev)) => {
                self.scenario_event(&feature, &scenario, ev, at);
            }
            Cucumber::Feature(feature, Feature::Rule(_, Rule::Scenario(scenario, ev))) => {
                self.scenario_event(&feature, &scenario, ev, at);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cucumber::event::{Retries, Source, StepError};
    use cucumber::gherkin::GherkinEnv;
    use cucumber::Writer as _;

    const FEATURE: &str = "\
Feature: Report
  Scenario: Flaky one
    Given the charger is online

  Scenario: Skipped one
    Then skipped on this rig: @power: no relay

  Scenario: Typo one
    Given the charger is onlin
";

    struct Feed {
        report: Report,
        feature: Source<gherkin::Feature>,
    }

    impl Feed {
        fn new() -> Feed {
            let mut feature = gherkin::Feature::parse(FEATURE, GherkinEnv::default()).unwrap();
            feature.path = Some(PathBuf::from("features/report.feature"));
            let report = Report::new(
                crate::steps::all(),
                Arc::new(AtomicU64::new(0)),
                AttemptDirs::default(),
            );
            Feed {
                report,
                feature: Source::new(feature),
            }
        }

        async fn send(
            &mut self,
            scenario: usize,
            event: Scenario<RigWorld>,
            retries: Option<Retries>,
        ) {
            let s = Source::new(self.feature.scenarios[scenario].clone());
            let ev = Cucumber::Feature(
                self.feature.clone(),
                Feature::Scenario(s, RetryableScenario { event, retries }),
            );
            self.report
                .handle_event(Ok(Event::new(ev)), &cucumber::cli::Empty)
                .await;
        }

        fn step(&self, scenario: usize) -> Source<gherkin::Step> {
            Source::new(self.feature.scenarios[scenario].steps[0].clone())
        }
    }

    fn retries(current: usize, left: usize) -> Option<Retries> {
        Some(Retries { current, left })
    }

    #[tokio::test]
    async fn a_pass_after_a_failed_attempt_is_flaky() {
        let mut feed = Feed::new();
        let step = feed.step(0);
        feed.send(0, Scenario::Started, retries(0, 1)).await;
        let boom: event::Info = Arc::new("boom".to_string());
        let failed = Step::Failed(None, None, None, StepError::Panic(boom));
        feed.send(0, Scenario::Step(step.clone(), failed), retries(0, 1))
            .await;
        feed.send(0, Scenario::Finished, retries(0, 1)).await;
        assert!(feed.report.results.is_empty(), "a retry is coming");
        feed.send(0, Scenario::Started, retries(1, 0)).await;
        let captures = regex::Regex::new("").unwrap().capture_locations();
        feed.send(
            0,
            Scenario::Step(step.clone(), Step::Started),
            retries(1, 0),
        )
        .await;
        feed.send(
            0,
            Scenario::Step(step, Step::Passed(captures, None)),
            retries(1, 0),
        )
        .await;
        feed.send(0, Scenario::Finished, retries(1, 0)).await;
        let result = &feed.report.results[0];
        assert_eq!(result.attempts, 2);
        match &result.outcome {
            Outcome::Flaky(earlier) => assert!(earlier[0].contains("boom"), "{earlier:?}"),
            other => panic!("expected FLAKY, got {other:?}"),
        }
        assert_eq!(feed.report.counts(), (0, 1, 0, 0));
        assert_eq!(feed.report.step_times["the charger is online"].len(), 1);
    }

    #[tokio::test]
    async fn skip_marker_and_undefined_steps() {
        let mut feed = Feed::new();
        for scenario in [1, 2] {
            let step = feed.step(scenario);
            feed.send(scenario, Scenario::Started, None).await;
            feed.send(scenario, Scenario::Step(step, Step::Skipped), None)
                .await;
            feed.send(scenario, Scenario::Finished, None).await;
        }
        assert_eq!(
            feed.report.results[0].outcome,
            Outcome::Skipped("@power: no relay".into())
        );
        match &feed.report.results[1].outcome {
            Outcome::Failed(f) => assert_eq!(
                f,
                "features/report.feature:9: undefined step `Given the charger is onlin`; \
                 closest known step: `Given the charger is online`"
            ),
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(feed.report.counts(), (0, 0, 1, 1));
    }
}
