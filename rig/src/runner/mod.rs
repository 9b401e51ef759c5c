//! `rig run`: runs Gherkin features against the profile's bench with cucumber, one world (and
//! board, gate, central system) per scenario, with progress, artifacts, retries, watchdogs,
//! `report.html` at the artifact root, and JUnit / Cucumber JSON reports on request.

pub mod artifacts;
pub mod keep;
pub mod options;
pub mod parser;
pub mod report;
pub mod summary;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cucumber::event::ScenarioFinished;
use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::tag::Ext as _;
use futures_util::FutureExt;
use regex::Regex;

pub use options::{
    RunOptions, EXIT_CODES_HELP, EXIT_FAILED, EXIT_FLAKY, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE,
};

use keep::Kept;
use report::{AttemptDirs, Report};

use crate::profile::Profile;
use crate::world::RigWorld;

/// Runs `rig run` on a runtime of its own; returns the exit code.
pub fn run(opts: RunOptions) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rig run: cannot start the async runtime: {e}");
            return EXIT_FAILED;
        }
    };
    runtime.block_on(run_async(opts))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The artifact root of the run in progress, for the teardown on Ctrl-C.
static ARTIFACT_ROOT: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

/// Kills every board this process started and exits: nothing stays behind, not even the pty
/// symlinks of boards that died without cleaning up.
fn tear_down_and_exit(code: i32) -> ! {
    crate::charger_process::kill_all();
    let root = ARTIFACT_ROOT.lock().ok().and_then(|r| r.clone());
    if let Some(root) = root {
        // A killed board's pty vanishes once the kernel has reaped it: poll, bounded.
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while remove_dangling_links(&root) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    std::process::exit(code);
}

/// Removes symlinks under `dir` whose target is gone (a killed board's pty); returns how many
/// symlinks are still there (targets alive).
fn remove_dangling_links(dir: &std::path::Path) -> usize {
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

/// `rig run` inside a tokio runtime.
pub async fn run_async(opts: RunOptions) -> i32 {
    let started = chrono::Utc::now();
    let clock = std::time::Instant::now();
    let profile = match Profile::load_or_default(opts.profile.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rig run: {e}");
            return EXIT_USAGE;
        }
    };
    let tags = match opts
        .tags
        .as_deref()
        .map(str::parse::<TagOperation>)
        .transpose()
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "rig run: --tags {:?} is not a tag expression: {e}",
                opts.tags.unwrap_or_default()
            );
            return EXIT_USAGE;
        }
    };
    let name = match opts.name.as_deref().map(Regex::new).transpose() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("rig run: --name is not a regular expression: {e}");
            return EXIT_USAGE;
        }
    };
    let paths = if opts.paths.is_empty() {
        vec![PathBuf::from("features")]
    } else {
        opts.paths.clone()
    };
    if let Some(missing) = paths.iter().find(|p| !p.exists()) {
        eprintln!(
            "rig run: {}: no such feature file or directory",
            missing.display()
        );
        return EXIT_USAGE;
    }
    // Find (or build) the charger of simulated boards now, before any scenario and its
    // watchdog start: a first build takes minutes.
    if profile.is_sim() && profile.charger_program.is_none() {
        let found = tokio::task::spawn_blocking(crate::charger_bin::program).await;
        if let Ok(Err(e)) = found {
            eprintln!("rig run: {e}");
            return EXIT_FAILED;
        }
    }
    let root = opts.artifacts.clone().unwrap_or_else(|| {
        PathBuf::from("target/rig-artifacts")
            .join(chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string())
    });
    if let Err(e) = std::fs::create_dir_all(&root) {
        eprintln!(
            "rig run: cannot create the artifact folder {}: {e}",
            root.display()
        );
        return EXIT_USAGE;
    }
    let root = root.canonicalize().unwrap_or(root);
    *ARTIFACT_ROOT.lock().unwrap_or_else(|e| e.into_inner()) = Some(root.clone());
    let concurrency = opts.concurrency.unwrap_or(profile.concurrency).max(1);
    println!(
        "rig run: profile {} ({}), concurrency {concurrency}, artifacts {}",
        profile.name,
        profile
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built in".into()),
        root.display()
    );
    let cucumber_json = match opts.cucumber_json.as_deref().map(create_file).transpose() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rig run: {e}");
            return EXIT_USAGE;
        }
    };
    let (profile_label, bench_label) = summary::describe_profile(&profile);
    let watchdog = profile.scenario_watchdog;
    let step_deadline = profile.step_deadline;
    let parser = parser::FeatureParser::new(&profile);
    crate::world::install_profile(Some(Arc::new(profile)));
    // Benches of failed scenarios kept running for inspection (`--keep-on-failure`).
    let kept: Arc<Mutex<Vec<Kept>>> = Arc::default();
    let keep_on_failure = opts.keep_on_failure.then(|| kept.clone());

    // Ctrl-C: tear everything down, whatever is running.
    let interrupt = tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nrig run: interrupted; stopping every board, proxy and central system");
            tear_down_and_exit(EXIT_INTERRUPTED);
        }
    });
    // Run watchdog: a scenario stuck beyond its watchdog (a hung step) ends the run.
    let progress = Arc::new(AtomicU64::new(now_secs()));
    let stuck_after = watchdog + step_deadline + Duration::from_secs(30);
    {
        let progress = progress.clone();
        std::thread::Builder::new()
            .name("rig-run-watchdog".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(1));
                let idle = now_secs().saturating_sub(progress.load(Ordering::Relaxed));
                if idle > stuck_after.as_secs() {
                    eprintln!(
                        "rig run: watchdog: nothing happened for {idle} s (scenario watchdog {} s); tearing down",
                        watchdog.as_secs()
                    );
                    tear_down_and_exit(EXIT_FAILED);
                }
            })
            .ok();
    }

    let defs = crate::steps::all();
    let mut runner = cucumber::runner::Basic::default()
        .steps(crate::steps::collection(&defs))
        .max_concurrent_scenarios(concurrency)
        .retries((opts.retry > 0).then_some(opts.retry));
    if opts.fail_fast {
        runner = runner.fail_fast();
    }
    let before_root = root.clone();
    let dirs = AttemptDirs::default();
    let before_dirs = dirs.clone();
    let runner = runner
        .before(move |feature, _rule, scenario, world: &mut RigWorld| {
            let root = before_root.clone();
            let dirs = before_dirs.clone();
            async move {
                let feature_name = feature
                    .path
                    .as_ref()
                    .and_then(|p| p.file_stem())
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| feature.name.clone());
                world.scenario = format!("{}:{} {}", feature_name, scenario.position.line, scenario.name);
                world.artifacts = artifacts::scenario_dir(&root, &feature_name, scenario.position.line, &scenario.name);
                // Reserve the folder now: the next attempt must not pick the same one, and the
                // writer records the steps into it as they run.
                let _ = std::fs::create_dir_all(&world.artifacts);
                let key = (feature.path.clone().unwrap_or_default(), scenario.position.line, scenario.name.clone());
                dirs.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().push(world.artifacts.clone());
                world.began = chrono::Utc::now();
                world.watchdog = tokio::time::Instant::now() + watchdog;
                world.skipping = scenario
                    .steps
                    .iter()
                    .any(|s| s.value.starts_with(parser::SKIP_MARKER));
            }
            .boxed_local()
        })
        .after(move |_feature, _rule, _scenario, finished, world: Option<&mut RigWorld>| {
            let keep = keep_on_failure.clone();
            async move {
                let Some(world) = world else { return };
                if let Err(e) = artifacts::write(world) {
                    tracing::warn!(scenario = %world.scenario, error = %e, "cannot write artifacts");
                }
                if let ScenarioFinished::StepFailed(_, _, err) = finished {
                    let text = format!("{}\n{}\n", world.scenario, report::describe_step_error(err));
                    let _ = std::fs::write(world.artifacts.join("failure.txt"), text);
                }
                let failed = !matches!(finished, ScenarioFinished::StepPassed);
                finish_scenario(world, failed, keep.as_deref()).await;
            }
            .boxed_local()
        });

    let mut report = Report::new(defs, progress, dirs).with_colour(crate::term::stdout_colour());
    if let Some(file) = cucumber_json {
        report = report.with_cucumber_json(file);
    }
    // Cucumber must not read the rig's own command line: give it empty options.
    let cli: cucumber::cli::Opts<_, _, _, cucumber::cli::Empty> = cucumber::cli::Opts::default();
    let cucumber =
        cucumber::Cucumber::<RigWorld, _, Vec<PathBuf>, _, _, cucumber::cli::Empty>::custom(
            parser, runner, report,
        )
        .with_cli(cli);
    let report = cucumber
        .filter_run(paths, move |feature, rule, scenario| {
            let tags_ok = tags.as_ref().is_none_or(|op| {
                op.eval(
                    feature
                        .tags
                        .iter()
                        .chain(rule.iter().flat_map(|r| &r.tags))
                        .chain(scenario.tags.iter()),
                )
            });
            let name_ok = name.as_ref().is_none_or(|re| re.is_match(&scenario.name));
            tags_ok && name_ok
        })
        .await;

    report.print_summary(&root);
    let run = summary::run_summary(
        &report,
        &root,
        profile_label,
        bench_label,
        started,
        clock.elapsed(),
    );
    summary::write_reports(
        &run,
        &root,
        opts.junit.as_deref(),
        opts.cucumber_json.as_deref(),
    );
    let kept = std::mem::take(&mut *kept.lock().unwrap_or_else(|e| e.into_inner()));
    if !kept.is_empty() {
        for k in &kept {
            println!("{}", k.describe());
        }
        println!("press Ctrl-C to tear the kept benches down");
        // The interrupt task exits the process (killing the boards) on Ctrl-C.
        let _ = interrupt.await;
    } else {
        interrupt.abort();
    }
    crate::world::install_profile(None);

    let (_, flaky, failed, _) = report.counts();
    if failed > 0 || !report.parse_errors.is_empty() {
        EXIT_FAILED
    } else if flaky > 0 {
        EXIT_FLAKY
    } else {
        EXIT_OK
    }
}

/// Creates (truncates) an output file, with its folder.
fn create_file(path: &std::path::Path) -> Result<std::fs::File, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the folder {}: {e}", dir.display()))?;
    }
    std::fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// Tears a scenario's bench down, or keeps it for inspection (in `keep`, given with
/// `--keep-on-failure`) when it failed.
async fn finish_scenario(world: &mut RigWorld, failed: bool, keep: Option<&Mutex<Vec<Kept>>>) {
    if let Some(keep) = keep.filter(|_| failed && (world.bench.is_some() || world.csms.is_some())) {
        let mut bench = world.bench.take();
        if let Some(bench) = bench.as_mut() {
            bench.release_link().await;
        }
        let kept = Kept {
            scenario: world.scenario.clone(),
            bench,
            csms: world.csms.take(),
        };
        println!("{}", kept.describe());
        keep.lock().unwrap_or_else(|e| e.into_inner()).push(kept);
        return;
    }
    if let Some(mut bench) = world.bench.take() {
        bench.shutdown().await;
    }
    world.csms = None;
}
