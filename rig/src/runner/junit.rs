//! JUnit XML report: one test suite per feature, one test case per scenario. Flaky scenarios
//! carry their earlier failures as `flakyFailure` (the convention Maven Surefire and most CI
//! viewers understand), so a retried pass is visible and never looks clean.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::report::{Outcome, ScenarioResult};

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders the report.
pub fn render(results: &[ScenarioResult], parse_errors: &[String]) -> String {
    let mut suites: BTreeMap<String, Vec<&ScenarioResult>> = BTreeMap::new();
    for r in results {
        suites
            .entry(r.path.display().to_string())
            .or_default()
            .push(r);
    }
    for cases in suites.values_mut() {
        cases.sort_by_key(|c| c.line);
    }
    let mut xml =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rig run\">\n");
    for (path, cases) in &suites {
        let failures = cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed(_)))
            .count();
        let skipped = cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Skipped(_)))
            .count();
        let errors = cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Unfinished(_)))
            .count();
        let time: f64 = cases.iter().map(|c| c.duration.as_secs_f64()).sum();
        let name = cases
            .first()
            .map(|c| c.feature.as_str())
            .unwrap_or_default();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" file=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.3}\">",
            escape(name),
            escape(path),
            cases.len()
        );
        for c in cases {
            let _ = write!(
                xml,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.3}\"",
                escape(&c.name),
                escape(name),
                escape(path),
                c.line,
                c.duration.as_secs_f64()
            );
            match &c.outcome {
                Outcome::Passed => xml.push_str("/>\n"),
                Outcome::Failed(f) => {
                    let first = f.lines().next().unwrap_or_default();
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        escape(first),
                        escape(f)
                    );
                }
                Outcome::Unfinished(why) => {
                    let _ = writeln!(
                        xml,
                        ">\n      <error type=\"unfinished\" message=\"{}\"/>\n    </testcase>",
                        escape(why)
                    );
                }
                Outcome::Skipped(reason) => {
                    let _ = writeln!(
                        xml,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(reason)
                    );
                }
                Outcome::Flaky(earlier) => {
                    xml.push_str(">\n");
                    for f in earlier {
                        let first = f.lines().next().unwrap_or_default();
                        let _ = writeln!(
                            xml,
                            "      <flakyFailure message=\"{}\">{}</flakyFailure>",
                            escape(first),
                            escape(f)
                        );
                    }
                    let _ = writeln!(
                        xml,
                        "      <properties><property name=\"flaky\" value=\"true\"/><property name=\"attempts\" value=\"{}\"/></properties>\n    </testcase>",
                        c.attempts
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    if !parse_errors.is_empty() {
        let _ = writeln!(
            xml,
            "  <testsuite name=\"feature files\" tests=\"{0}\" failures=\"0\" errors=\"{0}\" skipped=\"0\">",
            parse_errors.len()
        );
        for e in parse_errors {
            let _ = writeln!(
                xml,
                "    <testcase name=\"parse\"><error message=\"{}\"/></testcase>",
                escape(e)
            );
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Writes the report to `path`.
pub fn write(
    path: &Path,
    results: &[ScenarioResult],
    parse_errors: &[String],
) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render(results, parse_errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn result(name: &str, outcome: Outcome) -> ScenarioResult {
        ScenarioResult {
            feature: "Offline <auth>".into(),
            path: PathBuf::from("features/a.feature"),
            line: 3,
            name: name.into(),
            outcome,
            duration: Duration::from_millis(1500),
            attempts: 2,
        }
    }

    #[test]
    fn renders_every_outcome() {
        let xml = render(
            &[
                result("ok", Outcome::Passed),
                result("bad", Outcome::Failed("step x failed\nsaw y".into())),
                result("skip", Outcome::Skipped("@power: no relay".into())),
                result("flaky", Outcome::Flaky(vec!["timeout".into()])),
            ],
            &["features/b.feature:4:1: not valid".into()],
        );
        assert!(xml.contains("tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"1\""));
        assert!(xml.contains("name=\"Offline &lt;auth&gt;\""));
        assert!(xml.contains("<failure message=\"step x failed\">step x failed\nsaw y</failure>"));
        assert!(xml.contains("<skipped message=\"@power: no relay\"/>"));
        assert!(xml.contains("<flakyFailure message=\"timeout\">"));
        assert!(xml.contains("<error message=\"features/b.feature:4:1: not valid\"/>"));
    }
}
