//! The report in a real browser: headless Chromium loads the report of a run with a failing, a
//! flaky, a skipped and a passing scenario, and the dumped DOM must hold the scenario rows, the
//! timeline lanes, the OCPP messages and the failed step. Screenshots (desktop, phone, the
//! failed scenario's `timeline.svg`) are kept under `target/rig-artifacts/screenshots` for CI
//! to publish. Without Chromium the test is skipped with a message, except in CI (env `CI`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rig::report;

/// How long one Chromium run may take (a cold start on a loaded 2-core machine is slow).
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(90);

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the rig crate lives in the workspace")
}

/// Runs Chromium headless on `url` with `args`, a fresh profile, and returns its stdout.
fn run_chromium(chromium: &Path, args: &[String], url: &str) -> String {
    let profile = tempfile::tempdir().expect("a temporary profile folder");
    let out = tempfile::NamedTempFile::new().expect("a temporary file for stdout");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(out.reopen().expect("stdout file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + CHROMIUM_DEADLINE;
    loop {
        match child.try_wait().expect("chromium can be waited for") {
            Some(status) => {
                assert!(status.success(), "chromium {args:?} {url} exited {status}");
                break;
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium {args:?} {url} did not finish within {CHROMIUM_DEADLINE:?}");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    std::fs::read_to_string(out.path()).expect("chromium's output")
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 2000,
        "{} is no screenshot",
        path.display()
    );
}

#[test]
fn the_report_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is required in CI (.ci/run installs it)"
        );
        eprintln!(
            "skipped: no chromium on this machine (apt-get install chromium); CI runs this test"
        );
        return;
    };
    let shots = workspace().join("target/rig-artifacts/screenshots");
    let run_dir = shots.join("report-run");
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).unwrap();
    let run = report::sample::run(&run_dir, 4, 12).unwrap();
    let statuses: Vec<report::Status> = run.scenarios.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            report::Status::Failed,
            report::Status::Flaky,
            report::Status::Skipped,
            report::Status::Passed
        ]
    );
    let written = report::write(&run_dir, &run).unwrap();
    let url = format!("file://{}", written.path.display());

    let dom = run_chromium(&chromium, &["--dump-dom".into()], &url);
    assert!(dom.contains("</html>"), "no DOM dumped: {dom:.200}");
    std::fs::write(shots.join("report.dom.html"), &dom).unwrap();
    for status in ["failed", "flaky", "skipped", "passed"] {
        assert!(
            dom.contains(&format!("class=\"sc {status}\"")),
            "no {status} scenario row"
        );
    }
    for lane in [
        "pilot",
        "contactor",
        "pwm",
        "connector",
        "online",
        "gate",
        "power",
    ] {
        assert!(
            dom.contains(&format!("data-lane=\"{lane}\"")),
            "no {lane} lane"
        );
    }
    assert!(dom.contains("class=\"msg\""), "no OCPP exchange drawn");
    assert!(dom.contains("BootNotification"), "no OCPP message");
    assert!(
        dom.contains("class=\"step failed\""),
        "the failed step is not marked in the step list"
    );
    assert!(
        dom.contains("class=\"s b-failed step failed\""),
        "the failed step is not marked on the timeline"
    );
    assert!(dom.contains(&format!(
        "failed step: Then {}",
        report::sample::FAILING_STEP
    )));

    let size = |w: u32, h: u32| format!("--window-size={w},{h}");
    let shot = |name: &str| format!("--screenshot={}", shots.join(name).display());
    run_chromium(&chromium, &[shot("report.png"), size(1280, 1800)], &url);
    run_chromium(
        &chromium,
        &[shot("report-phone.png"), size(390, 1400)],
        &url,
    );
    let failed_svg = run_dir
        .join(&run.scenarios[0].dirs[0])
        .join(report::TIMELINE_FILE);
    run_chromium(
        &chromium,
        &[shot("failed-timeline.png"), size(1000, 340)],
        &format!("file://{}", failed_svg.display()),
    );
    for name in ["report.png", "report-phone.png", "failed-timeline.png"] {
        assert_png(&shots.join(name));
    }
    eprintln!("screenshots in {}", shots.display());
}
