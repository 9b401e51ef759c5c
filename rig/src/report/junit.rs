//! JUnit XML from the run summary, written with `quick-junit`: one test suite per feature file,
//! one test case per scenario. A flaky scenario is a pass carrying its earlier failures as
//! `flakyFailure` (the Surefire convention most CI viewers read), so a retried pass never looks
//! clean. Each test case names its artifact folders in `system-out`, so a CI viewer leads from
//! a red line straight to the files.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use super::summary::{RunSummary, ScenarioSummary, Status};

/// The first line of a message, for the `message` attribute (the whole text is the body).
fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

fn case(s: &ScenarioSummary, root: &Path) -> TestCase {
    let status = match s.status {
        Status::Passed => TestCaseStatus::success(),
        Status::Flaky => {
            let mut status = TestCaseStatus::success();
            for f in &s.earlier_failures {
                let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                rerun.set_message(first_line(f)).set_description(f.as_str());
                status.add_rerun(rerun);
            }
            status
        }
        Status::Failed => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let text = s.message.as_deref().unwrap_or("failed");
            status
                .set_message(s.failed_step.as_deref().unwrap_or(first_line(text)))
                .set_description(text);
            status
        }
        Status::Skipped => {
            let mut status = TestCaseStatus::skipped();
            if let Some(reason) = &s.message {
                status.set_message(reason.as_str());
            }
            status
        }
    };
    let mut case = TestCase::new(s.name.as_str(), status);
    case.set_classname(s.feature.as_str())
        .set_time(Duration::from_millis(s.duration_ms));
    case.extra.insert("file".into(), s.path.as_str().into());
    case.extra
        .insert("line".into(), s.line.to_string().as_str().into());
    if s.attempts > 1 {
        case.add_property(("attempts", s.attempts.to_string().as_str()));
    }
    if !s.dirs.is_empty() {
        let out: Vec<String> = s
            .dirs
            .iter()
            .map(|d| format!("artifacts: {}", root.join(d).display()))
            .collect();
        case.set_system_out(out.join("\n"));
    }
    case
}

/// The report as XML. `root` is the artifact root the summary's folders are relative to.
pub fn render(run: &RunSummary, root: &Path) -> Result<String, quick_junit::SerializeError> {
    let mut suites: BTreeMap<&str, Vec<&ScenarioSummary>> = BTreeMap::new();
    for s in &run.scenarios {
        suites.entry(s.path.as_str()).or_default().push(s);
    }
    let mut report = Report::new("rig run");
    report
        .set_timestamp(run.started)
        .set_time(Duration::from_millis(run.duration_ms));
    for (path, mut cases) in suites {
        cases.sort_by_key(|c| c.line);
        let mut suite = TestSuite::new(cases[0].feature.as_str());
        suite.extra.insert("file".into(), path.into());
        suite.set_time(Duration::from_millis(
            cases.iter().map(|c| c.duration_ms).sum(),
        ));
        suite.add_test_cases(cases.iter().map(|c| case(c, root)));
        report.add_test_suite(suite);
    }
    if !run.parse_errors.is_empty() {
        let mut suite = TestSuite::new("feature files");
        for e in &run.parse_errors {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(e.as_str());
            suite.add_test_case(TestCase::new("parse", status));
        }
        report.add_test_suite(suite);
    }
    report.to_string()
}

/// Writes the report to `path` (its folder is created).
pub fn write(path: &Path, run: &RunSummary, root: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let xml = render(run, root).map_err(std::io::Error::other)?;
    std::fs::write(path, xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_with_its_artifact_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = super::super::sample::run(dir.path(), 4, 4).unwrap();
        run.parse_errors
            .push("features/b.feature:4:1: not valid".into());
        run.scenarios[0].feature = "Offline <auth>".into();
        let xml = render(&run, Path::new("/art")).unwrap();
        assert!(xml.contains("tests=\"4\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("skipped=\"1\""), "{xml}");
        assert!(xml.contains("name=\"Offline &lt;auth&gt;\""), "{xml}");
        assert!(xml.contains(&format!(
            "<failure message=\"Then {}\">",
            super::super::sample::FAILING_STEP
        )));
        assert!(xml.contains("<flakyFailure message=\"expected a StartTransaction"));
        assert!(xml.contains("<skipped message=\"@power: no power switch on this bench\"/>"));
        assert!(xml.contains(
            "<system-out>artifacts: /art/sample-0/30-sample-1\nartifacts: /art/sample-0/30-sample-1-attempt2</system-out>"
        ), "{xml}");
        assert!(
            xml.contains("file=\"features/sample-0.feature\" line=\"10\""),
            "{xml}"
        );
        assert!(xml.contains("<error message=\"features/b.feature:4:1: not valid\""));
    }
}
