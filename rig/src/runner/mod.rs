//! `rig run`: runs Gherkin features against the profile's bench with cucumber, one world (and
//! board, gate, central system) per scenario, with progress, artifacts, retries, watchdogs,
//! `report.html` at the artifact root, and JUnit / Cucumber JSON reports on request.

pub mod artifacts;
pub mod ending;
pub mod keep;
pub mod options;
pub mod parser;
pub mod report;
pub mod select;
pub mod summary;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cucumber::event::ScenarioFinished;
use cucumber::gherkin::tagexpr::TagOperation;
use futures_util::FutureExt;
use regex::Regex;

pub use options::{
    RunOptions, EXIT_CODES_HELP, EXIT_FAILED, EXIT_FLAKY, EXIT_INTERRUPTED, EXIT_NOTHING_SELECTED,
    EXIT_OK, EXIT_TERMINATED, EXIT_USAGE,
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
    let targets: Vec<select::Target> = paths.iter().map(|p| select::Target::parse(p)).collect();
    if let Some(missing) = targets.iter().find(|t| !t.path.exists()) {
        eprintln!(
            "rig run: {}: no such feature file or directory",
            missing.path.display()
        );
        return EXIT_USAGE;
    }
    let filters = select::Filters {
        tags: tags.clone(),
        tags_text: opts.tags.clone(),
        name: name.clone(),
        partition: opts.partition,
    };
    let selection = select::select(&targets, &filters);
    if !selection.unmatched_lines.is_empty() {
        for place in &selection.unmatched_lines {
            eprintln!("rig run: {place}: no scenario or outline row starts at this line (`rig run --list` prints them)");
        }
        return EXIT_USAGE;
    }
    if opts.list {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        for s in &selection.scenarios {
            // A closed pipe (`| head`) ends the listing, not the program.
            if writeln!(out, "{s}").is_err() {
                break;
            }
        }
    }
    if selection.scenarios.is_empty() && !has_parse_errors(&targets) {
        eprintln!(
            "rig run: nothing selected: no scenario matches {} ({} scenarios looked at); tags in use: {}",
            filters.describe(&targets),
            selection.seen,
            tags_in_use(&targets).join(" ")
        );
        return EXIT_NOTHING_SELECTED;
    }
    if opts.list {
        return EXIT_OK;
    }
    if opts.dry_run {
        let undefined = selection.undefined_steps(&crate::steps::all());
        for u in &undefined {
            println!("{u}");
        }
        if !undefined.is_empty() || has_parse_errors(&targets) {
            println!(
                "dry run: {} undefined steps in {} selected scenarios",
                undefined.len(),
                selection.scenarios.len()
            );
            return EXIT_USAGE;
        }
        println!(
            "dry run: every step of the {} selected scenarios is defined; nothing was started",
            selection.scenarios.len()
        );
        return EXIT_OK;
    }
    // The bench is ours for the whole run (the kernel releases it however the run ends).
    let _lock = match &profile.lock {
        Some(path) => {
            let what = format!("rig run {}", filters.describe(&targets));
            let wait = opts.wait_lock;
            let path = path.clone();
            let got = tokio::task::spawn_blocking(move || {
                crate::bench_lock::BenchLock::acquire(&path, &what, wait, &mut |holder| {
                    eprintln!("rig run: waiting for the bench lock held by {holder}");
                })
            })
            .await;
            match got {
                Ok(Ok(lock)) => Some(lock),
                Ok(Err(e)) => {
                    eprintln!("rig run: {e}");
                    return EXIT_USAGE;
                }
                Err(e) => {
                    eprintln!("rig run: cannot take the bench lock: {e}");
                    return EXIT_USAGE;
                }
            }
        }
        None => None,
    };
    let selected = selection.keys();
    // Cucumber reads whole files; the selection decides which of their scenarios run.
    let mut paths: Vec<PathBuf> = targets.into_iter().map(|t| t.path).collect();
    paths.dedup();
    // Find (or build) the charger of simulated boards now, before any scenario and its
    // watchdog start: a first build takes minutes.
    let finds_charger = profile
        .charger_program
        .as_ref()
        .is_none_or(|p| p.iter().any(|a| a == crate::profile::CHARGER_PLACEHOLDER));
    if profile.is_sim() && finds_charger {
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
    let profile = Arc::new(profile);
    crate::world::install_profile(Some(profile.clone()));
    // Benches of failed scenarios kept running for inspection (`--keep-on-failure`).
    let kept: Arc<Mutex<Vec<Kept>>> = Arc::default();
    let keep_on_failure = opts.keep_on_failure.then(|| kept.clone());

    // What finished so far, for a run that a signal or the watchdog ends.
    let finished: Arc<Mutex<Vec<report::ScenarioResult>>> = Arc::default();
    ending::install(Some(ending::RunEnd {
        root: root.clone(),
        junit: opts.junit.clone(),
        selection: selection.scenarios.clone(),
        finished: finished.clone(),
        labels: (profile_label.clone(), bench_label.clone()),
        started,
        cucumber_json: opts.cucumber_json.clone(),
        profile: profile.clone(),
        began: std::time::Instant::now(),
    }));
    // The bench's own setup (e.g. the netns bench's namespace), once the end that removes it
    // is in place: a signal from here on still tears it down.
    {
        let profile = profile.clone();
        let setup = tokio::task::spawn_blocking(move || ending::bench_setup(&profile)).await;
        if let Ok(Err(e)) | Err(e) = setup.map_err(|e| e.to_string()) {
            eprintln!("rig run: the profile's [bench] setup failed: {e}");
            ending::install(None);
            return EXIT_USAGE;
        }
    }
    // Ctrl-C and SIGTERM (CI's cancel): tear everything down, whatever is running, and write
    // the reports from what finished.
    let interrupt = tokio::spawn(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let sigterm = async {
            match term.as_mut() {
                Some(t) => t.recv().await,
                None => std::future::pending().await,
            }
        };
        let (code, why) = tokio::select! {
            r = tokio::signal::ctrl_c() => match r {
                Ok(()) => (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
                Err(_) => std::future::pending().await,
            },
            _ = sigterm => (EXIT_TERMINATED, "terminated (SIGTERM)"),
        };
        eprintln!("\nrig run: {why}; stopping every board, proxy and central system");
        let _ = tokio::task::spawn_blocking(move || ending::tear_down_and_exit(code, why)).await;
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
                    ending::tear_down_and_exit(EXIT_FAILED, "the run watchdog ended it");
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

    let mut report = Report::new(defs, progress, dirs)
        .with_colour(crate::term::stdout_colour())
        .with_finished(finished.clone());
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
        .filter_run(paths, move |feature, _rule, scenario| {
            feature
                .path
                .as_ref()
                .is_some_and(|p| selected.contains(&(p.clone(), scenario.position.line)))
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
    // The reports are written: a signal from here on only tears down.
    ending::reports_written();
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
    {
        let profile = profile.clone();
        let _ = tokio::task::spawn_blocking(move || ending::bench_teardown(&profile)).await;
    }
    ending::install(None);

    let (_, flaky, failed, _) = report.counts();
    if failed > 0 || !report.parse_errors.is_empty() {
        EXIT_FAILED
    } else if flaky > 0 {
        EXIT_FLAKY
    } else {
        EXIT_OK
    }
}

/// Does any feature file under `targets` fail to parse? (The run reports it, exit 1.)
fn has_parse_errors(targets: &[select::Target]) -> bool {
    targets.iter().any(|t| {
        parser::feature_files(&t.path).is_ok_and(|files| {
            files.iter().any(|f| {
                cucumber::gherkin::Feature::parse_path(f, cucumber::gherkin::GherkinEnv::default())
                    .is_err()
            })
        })
    })
}

/// The tags the feature files under `targets` use, for "nothing selected".
fn tags_in_use(targets: &[select::Target]) -> Vec<String> {
    let mut tags = std::collections::BTreeSet::new();
    for t in targets {
        for f in parser::feature_files(&t.path).unwrap_or_default() {
            let Ok(feature) = cucumber::gherkin::Feature::parse_path(
                &f,
                cucumber::gherkin::GherkinEnv::default(),
            ) else {
                continue;
            };
            tags.extend(feature.tags.iter().cloned());
            for s in feature
                .scenarios
                .iter()
                .chain(feature.rules.iter().flat_map(|r| &r.scenarios))
            {
                tags.extend(s.tags.iter().cloned());
                for ex in &s.examples {
                    tags.extend(ex.tags.iter().cloned());
                }
            }
            for r in &feature.rules {
                tags.extend(r.tags.iter().cloned());
            }
        }
    }
    if tags.is_empty() {
        return vec!["(none)".into()];
    }
    tags.into_iter()
        .map(|t| format!("@{}", t.trim_start_matches('@')))
        .collect()
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
