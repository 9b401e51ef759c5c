//! How a run ends when cucumber does not get to finish it: Ctrl-C, SIGTERM (what CI sends on
//! cancel or timeout) or the run watchdog. Whatever ends it, the boards this process started
//! are killed, the bench is left in its known state (network restored, power on, EV unplugged,
//! no card) and the JUnit file and the summary are written from what finished, the rest marked
//! unfinished: a cancelled night still says what it learned.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chargerig_link::PilotState;

use super::report::{Outcome, ScenarioResult};
use super::select::Selected;
use crate::gate::{GateChoice, NetworkGate, NftablesGate};
use crate::power::PowerChoice;
use crate::profile::{LinkChoice, Profile};

/// What the end of a run needs to know, installed once the selection is made.
pub struct RunEnd {
    pub root: PathBuf,
    pub junit: Option<PathBuf>,
    pub selection: Vec<Selected>,
    pub finished: Arc<Mutex<Vec<ScenarioResult>>>,
    pub profile: Arc<Profile>,
    pub began: Instant,
    /// The report header's profile and bench lines.
    pub labels: (String, String),
    pub started: chrono::DateTime<chrono::Utc>,
    pub cucumber_json: Option<PathBuf>,
}

static RUN_END: Mutex<Option<RunEnd>> = Mutex::new(None);
static ENDING: AtomicBool = AtomicBool::new(false);
static REPORTS_WRITTEN: AtomicBool = AtomicBool::new(false);

/// The run wrote its own reports (it finished): a later signal (waiting on kept benches) only
/// tears down and restores the bench.
pub fn reports_written() {
    REPORTS_WRITTEN.store(true, Ordering::SeqCst);
}

/// Installs (or, with `None`, removes once the run wrote its own reports) the run's end.
pub fn install(end: Option<RunEnd>) {
    *RUN_END.lock().unwrap_or_else(|e| e.into_inner()) = end;
}

/// Ends the process after tearing down and writing the reports; `why` is printed and goes
/// into every unfinished scenario. A second signal during the teardown waits for the first.
pub fn tear_down_and_exit(code: i32, why: &str) -> ! {
    if ENDING.swap(true, Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    crate::charger_process::kill_all();
    let end = RUN_END.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(end) = end {
        for problem in restore_bench(&end.profile) {
            eprintln!("rig run: the bench may not be in its known state: {problem}");
        }
        bench_teardown(&end.profile);
        // A killed board's pty vanishes once the kernel has reaped it: poll, bounded.
        let deadline = Instant::now() + Duration::from_secs(1);
        while remove_dangling_links(&end.root) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if REPORTS_WRITTEN.load(Ordering::SeqCst) {
            std::process::exit(code);
        }
        let finished = end
            .finished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let results = with_unfinished(finished, &end.selection, why);
        print_summary(&results, &end.root, why, end.began.elapsed());
        let run = super::summary::summary_of(
            &results,
            &[],
            &end.root,
            end.labels.clone(),
            end.started,
            end.began.elapsed(),
        );
        super::summary::write_reports(
            &run,
            &end.root,
            end.junit.as_deref(),
            end.cucumber_json.as_deref(),
        );
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// The finished results plus one `Unfinished` result for every selected scenario without one.
pub fn with_unfinished(
    mut finished: Vec<ScenarioResult>,
    selection: &[Selected],
    why: &str,
) -> Vec<ScenarioResult> {
    for s in selection {
        let done = finished
            .iter()
            .any(|r| r.path == s.path && r.line == s.line);
        if !done {
            finished.push(ScenarioResult {
                feature: feature_name(&s.path),
                path: s.path.clone(),
                line: s.line,
                name: s.name.clone(),
                outcome: Outcome::Unfinished(format!("not finished: {why}")),
                duration: Duration::ZERO,
                attempts: 0,
                failed_step: None,
                dirs: Vec::new(),
            });
        }
    }
    finished
}

/// The feature's title as the JUnit suite name (its file stem when it cannot be read).
fn feature_name(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("Feature:")
                    .map(|n| n.trim().to_string())
            })
        })
        .unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
}

fn print_summary(results: &[ScenarioResult], root: &Path, why: &str, elapsed: Duration) {
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let passed = count(|o| matches!(o, Outcome::Passed | Outcome::Flaky(_)));
    let failed = count(|o| matches!(o, Outcome::Failed(_)));
    let skipped = count(|o| matches!(o, Outcome::Skipped(_)));
    let unfinished = count(|o| matches!(o, Outcome::Unfinished(_)));
    println!();
    println!(
        "the run ended early ({why}): {} of {} scenarios finished in {:.1} s; artifacts in {}",
        results.len() - unfinished,
        results.len(),
        elapsed.as_secs_f64(),
        root.display()
    );
    for r in results {
        let label = match r.outcome {
            Outcome::Failed(_) => "FAIL ",
            Outcome::Unfinished(_) => "UNFIN",
            _ => continue,
        };
        println!("  {label} {}:{} {}", r.path.display(), r.line, r.name);
    }
    println!(
        "scenarios: {passed} passed, {failed} failed, {skipped} skipped, {unfinished} unfinished"
    );
}

/// Network restored, power on, EV unplugged, no card, for what the profile names. Bounded:
/// each part runs on its own thread and is given up after a few seconds. Simulated boards are
/// already gone (killed) and their proxies die with the process.
pub fn restore_bench(profile: &Profile) -> Vec<String> {
    let mut jobs: Vec<Job> = Vec::new();
    if let GateChoice::Nftables(cfg) = &profile.network {
        let cfg = cfg.clone();
        jobs.push((
            "network restore",
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(NftablesGate::from_config(&cfg).restore())
                    .map_err(|e| e.to_string())
            }),
        ));
    }
    if let (PowerChoice::Command { on, .. }, false) = (&profile.power, profile.is_sim()) {
        let on = on.clone();
        jobs.push((
            "power on",
            std::thread::spawn(move || {
                let out = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&on)
                    .output()
                    .map_err(|e| format!("`{on}`: {e}"))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "`{on}` failed ({}): {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ))
                }
            }),
        ));
    }
    let mut problems = wait_all(jobs);
    // The EV side needs a powered board: after the relay.
    if let LinkChoice::Real(spec) = &profile.link {
        let spec = spec.clone();
        problems.extend(wait_all(vec![(
            "EV unplugged, card removed",
            std::thread::spawn(move || {
                crate::oneshot::pilot(&spec, PilotState::A).map_err(|e| e.to_string())?;
                crate::oneshot::card_remove(&spec).map_err(|e| e.to_string())?;
                Ok(())
            }),
        )]));
    }
    problems
}

type Job = (&'static str, std::thread::JoinHandle<Result<(), String>>);

/// Joins the jobs, giving each up after 15 s (a hung relay CLI must not hold the run's end).
fn wait_all(jobs: Vec<Job>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut problems = Vec::new();
    for (what, job) in jobs {
        while !job.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !job.is_finished() {
            problems.push(format!("{what}: no answer within 15 s"));
            continue;
        }
        match job.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => problems.push(format!("{what}: {e}")),
            Err(_) => problems.push(format!("{what}: panicked")),
        }
    }
    problems
}

/// Runs one shell command; its failure as text.
fn sh(command: &str) -> Result<(), String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .output()
        .map_err(|e| format!("`{command}`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{command}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The profile's `[bench] setup`, after its teardown (a killed run's leftovers). A failed
/// setup is torn down again before the error is returned.
pub fn bench_setup(profile: &Profile) -> Result<(), String> {
    if profile.bench_setup.is_empty() {
        return Ok(());
    }
    bench_teardown(profile);
    for command in &profile.bench_setup {
        tracing::info!(command, "bench setup");
        if let Err(e) = sh(command) {
            bench_teardown(profile);
            return Err(e);
        }
    }
    Ok(())
}

/// The profile's `[bench] teardown`: every command runs, failures are only logged (there may
/// be nothing left to remove).
pub fn bench_teardown(profile: &Profile) {
    for command in &profile.bench_teardown {
        if let Err(e) = sh(command) {
            tracing::debug!(error = %e, "bench teardown");
        }
    }
}

/// Removes symlinks under `dir` whose target is gone (a killed board's pty); returns how many
/// symlinks are still there (targets alive).
pub fn remove_dangling_links(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut alive = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            if std::fs::metadata(&path).is_err() {
                let _ = std::fs::remove_file(&path);
            } else {
                alive += 1;
            }
        } else if meta.is_dir() {
            alive += remove_dangling_links(&path);
        }
    }
    alive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_scenarios_are_added_after_the_finished_ones() {
        let finished = vec![ScenarioResult {
            feature: "F".into(),
            path: PathBuf::from("a.feature"),
            line: 3,
            name: "done".into(),
            outcome: Outcome::Passed,
            duration: Duration::from_secs(1),
            attempts: 1,
            failed_step: None,
            dirs: Vec::new(),
        }];
        let selection = [
            Selected {
                path: PathBuf::from("a.feature"),
                line: 3,
                name: "done".into(),
            },
            Selected {
                path: PathBuf::from("a.feature"),
                line: 9,
                name: "cut short".into(),
            },
        ];
        let all = with_unfinished(finished, &selection, "SIGTERM");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].outcome, Outcome::Passed);
        assert_eq!(
            all[1].outcome,
            Outcome::Unfinished("not finished: SIGTERM".into())
        );
    }
}
