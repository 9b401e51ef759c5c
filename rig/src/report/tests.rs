//! Rendering from synthetic artifact folders.

use super::*;

fn render_sample(n: usize, seconds: u64) -> (tempfile::TempDir, RunSummary, Written, String) {
    let dir = tempfile::tempdir().unwrap();
    let run = sample::run(dir.path(), n, seconds).unwrap();
    let written = write(dir.path(), &run).unwrap();
    let html = std::fs::read_to_string(&written.path).unwrap();
    (dir, run, written, html)
}

#[test]
fn report_lists_failures_first_with_the_failed_step() {
    let (_dir, run, written, html) = render_sample(12, 8);
    assert_eq!(run.counts().failed, 1);
    assert_eq!(written.bytes, html.len());
    assert_eq!(written.problems, 0);
    // 12 scenarios, one skipped without artifacts, one flaky with two attempts.
    assert_eq!(written.timelines, 12);
    let first_fail = html.find("class=\"sc failed\"").unwrap();
    let first_flaky = html.find("class=\"sc flaky\"").unwrap();
    let first_pass = html.find("class=\"sc passed\"").unwrap();
    assert!(first_fail < first_flaky && first_flaky < first_pass);
    assert!(html.contains(&format!(
        "failed step: Then {}",
        escape::esc(sample::FAILING_STEP)
    )));
    assert!(html.contains("class=\"step failed\""));
    assert!(html.contains("class=\"s b-failed step failed\""));
    assert!(html.contains("skipped: @power: no power switch on this bench"));
    assert!(html.contains("attempt 2 (flaky)"));
    assert!(html.contains("<dt>firmware (BootNotification)</dt><dd>0.1.0-sample</dd>"));
    assert!(html.contains("<a href=\"sample-0/10-sample-0/ocpp.jsonl\">ocpp.jsonl</a>"));
    assert!(html.contains("<a href=\"sample-0/10-sample-0/timeline.svg\">timeline.svg</a>"));
}

#[test]
fn every_lane_and_the_ocpp_exchanges_are_drawn() {
    let (dir, _run, _written, html) = render_sample(4, 8);
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
            html.contains(&format!("data-lane=\"{lane}\"")),
            "lane {lane} missing"
        );
    }
    assert!(html.contains("class=\"msg\""));
    // The Authorize refusal and the unanswered DataTransfer are labelled where they happened.
    assert!(html.contains("Authorize: Blocked"));
    assert!(html.contains("DataTransfer: no answer"));
    assert!(html.contains("class=\"a-none\""));
    assert!(html.contains("the failing step ended here"));
    // Frames are on hover (SVG title) and on click (details).
    assert!(html.contains("[2,&quot;1-1&quot;,&quot;BootNotification&quot;"));
    assert!(html.contains("<details class=\"fr ok\">"));
    let svg =
        std::fs::read_to_string(dir.path().join("sample-0/10-sample-0/timeline.svg")).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("<style>"));
    assert!(svg.contains("data-lane=\"gate\""));
}

#[test]
fn the_status_stream_folds_to_changes() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = chrono::DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
    sample::scenario(dir.path(), t0, 60, sample::Story::Passes).unwrap();
    let data = ScenarioData::load(dir.path());
    assert!(data.status.len() > 500);
    let tl = Timeline::build(&data, svg::PLOT_WIDTH).unwrap();
    let lane = |key: &str| tl.lanes.iter().find(|l| l.key == key).unwrap();
    let pilot: Vec<&str> = lane("pilot")
        .segs
        .iter()
        .map(|s| s.label.as_str())
        .collect();
    assert_eq!(pilot, ["A", "B", "C"]);
    let online: Vec<&str> = lane("online")
        .segs
        .iter()
        .map(|s| s.label.as_str())
        .collect();
    assert_eq!(online, ["online", "offline", "online"]);
    let gate: Vec<&str> = lane("gate").segs.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(gate, ["open", "refused", "open"]);
    let power: Vec<&str> = lane("power")
        .segs
        .iter()
        .map(|s| s.label.as_str())
        .collect();
    assert_eq!(power, ["on", "off"]);
    // The PWM lane holds the duty; the current flickering every 100 ms is a line over it, at
    // most one point per pixel.
    let pwm = lane("pwm");
    let duty: Vec<&str> = pwm.segs.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(duty, ["+12 V", "26.6 % (16 A)"]);
    let points = &pwm.graph.as_ref().unwrap().points;
    let px = tl.end / svg::PLOT_WIDTH as i64;
    assert!(points.len() > 10 && points.len() <= svg::PLOT_WIDTH as usize);
    assert!(points.windows(2).skip(1).all(|w| w[1].0 - w[0].0 >= px));
}

#[test]
fn a_folder_that_recorded_nothing_still_gets_a_row() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("f/1-x")).unwrap();
    let run = RunSummary {
        profile: "p".into(),
        bench: "b".into(),
        versions: vec![],
        started: chrono::Utc::now(),
        duration_ms: 1,
        scenarios: vec![ScenarioSummary {
            feature: "F <x>".into(),
            path: "features/f.feature".into(),
            line: 1,
            name: "x & y".into(),
            status: Status::Failed,
            duration_ms: 5,
            attempts: 1,
            failed_step: None,
            message: Some("hook failed".into()),
            earlier_failures: vec![],
            dirs: vec!["f/1-x".into(), "f/missing".into()],
        }],
        parse_errors: vec!["features/g.feature:3:1: bad".into()],
    };
    let written = write(dir.path(), &run).unwrap();
    assert_eq!(written.timelines, 0);
    assert_eq!(written.problems, 1, "the missing folder");
    let html = std::fs::read_to_string(&written.path).unwrap();
    assert!(html.contains("x &amp; y"));
    assert!(html.contains("F &lt;x&gt;"));
    assert!(html.contains("hook failed"));
    assert!(html.contains("features/g.feature:3:1: bad"));
    assert_eq!(read_summary(dir.path()).unwrap(), run);
}

#[test]
fn the_page_needs_nothing_from_the_network() {
    let (_dir, _run, _written, html) = render_sample(4, 5);
    for needle in ["http://", "https://", "<link", "src=", "@import", "url("] {
        let hits: Vec<usize> = html.match_indices(needle).map(|m| m.0).collect();
        // The only URL allowed is the SVG namespace the script uses to create elements.
        let allowed = |i: &usize| html[*i..].starts_with("http://www.w3.org/2000/svg");
        assert!(hits.iter().all(allowed), "{needle} found in the page");
    }
}
