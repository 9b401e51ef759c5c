//! Reads feature files and prepares their scenarios for this bench.
//!
//! Two rewrites happen here, both visible in the report: a scenario whose tags the profile
//! cannot run gets a single step saying why it is skipped (it never starts a board), and every
//! other scenario gets the rig's end-of-scenario check as its last step (invalid frames, ledger).

use std::path::{Path, PathBuf};

use cucumber::feature::Ext as _;
use cucumber::gherkin::{self, GherkinEnv, StepType};
use futures_util::stream;

use crate::profile::Profile;
use crate::steps::END_OF_SCENARIO;

/// Step text that marks a scenario skipped on this bench; never matches a step definition.
pub const SKIP_MARKER: &str = "skipped on this rig:";

/// The feature parser of `rig run`.
#[derive(Debug, Clone)]
pub struct FeatureParser {
    pub skip_tags: Vec<(String, String)>,
}

impl FeatureParser {
    pub fn new(profile: &Profile) -> FeatureParser {
        FeatureParser {
            skip_tags: profile
                .skip_tags
                .iter()
                .map(|s| (s.tag.trim_start_matches('@').to_string(), s.reason.clone()))
                .collect(),
        }
    }

    fn skip_reason(&self, tags: &[String]) -> Option<String> {
        self.skip_tags.iter().find_map(|(tag, reason)| {
            tags.iter()
                .any(|t| t.trim_start_matches('@') == tag)
                .then(|| format!("@{tag}: {reason}"))
        })
    }

    fn rewrite(&self, mut feature: gherkin::Feature) -> gherkin::Feature {
        let feature_tags = feature.tags.clone();
        let rewrite_scenario = |scenario: &mut gherkin::Scenario, rule_tags: &[String]| {
            let mut tags = feature_tags.clone();
            tags.extend(rule_tags.iter().cloned());
            tags.extend(scenario.tags.iter().cloned());
            for examples in &scenario.examples {
                tags.extend(examples.tags.iter().cloned());
            }
            let last = scenario.steps.last().cloned();
            let template = last.unwrap_or_else(|| gherkin::Step {
                keyword: "Then ".into(),
                ty: StepType::Then,
                value: String::new(),
                docstring: None,
                table: None,
                span: scenario.span,
                position: scenario.position,
            });
            let step = |text: String| gherkin::Step {
                keyword: "Then ".into(),
                ty: StepType::Then,
                value: text,
                docstring: None,
                table: None,
                ..template.clone()
            };
            match self.skip_reason(&tags) {
                Some(reason) => {
                    scenario.steps = vec![step(format!("{SKIP_MARKER} {reason}"))];
                }
                None => scenario.steps.push(step(END_OF_SCENARIO.to_string())),
            }
        };
        for scenario in &mut feature.scenarios {
            rewrite_scenario(scenario, &[]);
        }
        for rule in &mut feature.rules {
            let rule_tags = rule.tags.clone();
            for scenario in &mut rule.scenarios {
                rewrite_scenario(scenario, &rule_tags);
            }
        }
        feature
    }
}

/// Every `.feature` file under `path` (or `path` itself), sorted.
pub fn feature_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(format!(
            "{}: no such feature file or directory",
            path.display()
        ));
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "feature") {
                files.push(p);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The feature with every Scenario Outline expanded into one scenario per example row, each
/// placed at its row's line. cucumber places row N at `Examples:` line + N + 2, which is only
/// right when the header follows `Examples:` directly and the rows follow each other; a blank
/// line or a comment in between would make FAIL lines (and `FILE:LINE`) name the wrong line.
pub fn expand_outlines(
    feature: gherkin::Feature,
) -> Result<gherkin::Feature, cucumber::feature::ExpandExamplesError> {
    let text = feature
        .path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok());
    let mut feature = feature.expand_examples()?;
    let Some(text) = text else {
        return Ok(feature);
    };
    let scenarios = feature
        .scenarios
        .iter_mut()
        .chain(feature.rules.iter_mut().flat_map(|r| &mut r.scenarios));
    for scenario in scenarios {
        // An expanded row keeps its one `Examples:` block; cucumber's line gives its index.
        let [examples] = scenario.examples.as_slice() else {
            continue;
        };
        let Some(row) = scenario
            .position
            .line
            .checked_sub(examples.position.line + 2)
        else {
            continue;
        };
        if let Some(&line) = example_row_lines(&text, examples.position.line).get(row) {
            scenario.position.line = line;
        }
    }
    Ok(feature)
}

/// The lines (1-based) of the data rows of the `Examples:` block at `examples_line`: its table
/// rows after the header, past blank lines and comments.
pub fn example_row_lines(text: &str, examples_line: usize) -> Vec<usize> {
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate().skip(examples_line) {
        let line_text = line.trim_start();
        if line_text.starts_with('|') {
            rows.push(index + 1);
        } else if !(line_text.is_empty() || line_text.starts_with('#')) {
            break;
        }
    }
    rows.into_iter().skip(1).collect()
}

/// A parse error as `file:line:col: reason`.
pub fn describe_parse_error(err: &gherkin::ParseFileError) -> String {
    match err {
        gherkin::ParseFileError::Reading { path, source } => {
            format!("{}: cannot read: {source}", path.display())
        }
        gherkin::ParseFileError::Parsing {
            path,
            error,
            source,
        } => {
            // gherkin's message is "Error at LINE:COL: {expected tokens}".
            let text = source.to_string();
            let (place, expected) = text
                .strip_prefix("Error at ")
                .and_then(|rest| rest.split_once(": "))
                .unwrap_or(("?", text.as_str()));
            let detail = error
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            format!(
                "{}:{place}: not valid Gherkin, expected one of {expected}{detail}",
                path.display()
            )
        }
    }
}

impl cucumber::Parser<Vec<PathBuf>> for FeatureParser {
    type Cli = cucumber::cli::Empty;
    type Output = stream::Iter<std::vec::IntoIter<cucumber::parser::Result<gherkin::Feature>>>;

    fn parse(self, input: Vec<PathBuf>, _: Self::Cli) -> Self::Output {
        let mut out = Vec::new();
        for path in input {
            let files = match feature_files(&path) {
                Ok(files) => files,
                Err(reason) => {
                    let err = gherkin::ParseFileError::Reading {
                        path: path.clone(),
                        source: std::io::Error::new(std::io::ErrorKind::NotFound, reason),
                    };
                    out.push(Err(err.into()));
                    continue;
                }
            };
            for file in files {
                let parsed = gherkin::Feature::parse_path(&file, GherkinEnv::default())
                    .map_err(cucumber::parser::Error::from)
                    .and_then(|f| expand_outlines(f).map_err(Into::into))
                    .map(|f| self.rewrite(f));
                out.push(parsed);
            }
        }
        stream::iter(out)
    }
}
