//! Which scenarios a `rig run` is about, decided before cucumber starts: paths (with an
//! optional `:LINE`, as every FAIL line prints them), `--tags`, `--name` and `--partition K/N`.
//!
//! Deciding up front lets `--list` and `--dry-run` answer without a bench, lets an empty
//! selection fail with exit 5 instead of passing, and gives `--partition` one ordered list to
//! cut, so the shares of a CI matrix are disjoint and together exactly the selection.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::gherkin::{self, GherkinEnv};
use cucumber::tag::Ext as _;
use regex::Regex;

use super::parser::{example_row_lines, expand_outlines, feature_files};
use crate::steps::registry::expression_regex;
use crate::steps::{closest, StepDef};

/// A path argument: a feature file or directory, optionally `FILE:LINE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: PathBuf,
    pub line: Option<usize>,
}

impl Target {
    /// `features/x.feature:42` → the file and line 42; an existing path is taken whole even
    /// when its name ends in `:digits`.
    pub fn parse(arg: &Path) -> Target {
        if !arg.exists() {
            if let Some((file, line)) = arg.to_str().and_then(|s| s.rsplit_once(':')) {
                if let Ok(line) = line.parse::<usize>() {
                    return Target {
                        path: PathBuf::from(file),
                        line: Some(line),
                    };
                }
            }
        }
        Target {
            path: arg.to_path_buf(),
            line: None,
        }
    }
}

/// `--partition K/N`: the K-th (1-based) of N shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub k: usize,
    pub n: usize,
}

impl std::str::FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Partition, String> {
        let bad = || format!("{s:?} is not a share K/N with 1 <= K <= N (e.g. 2/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n) = (
            k.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Partition { k, n })
    }
}

/// One selected scenario (an outline row counts as one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Selected {
    pub path: PathBuf,
    pub line: usize,
    pub name: String,
}

impl std::fmt::Display for Selected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} {}", self.path.display(), self.line, self.name)
    }
}

/// The filters of a run.
#[derive(Debug, Default)]
pub struct Filters {
    pub tags: Option<TagOperation>,
    pub tags_text: Option<String>,
    pub name: Option<Regex>,
    pub partition: Option<Partition>,
}

impl Filters {
    /// The filters in words, for "nothing selected".
    pub fn describe(&self, targets: &[Target]) -> String {
        let mut parts: Vec<String> = targets
            .iter()
            .map(|t| match t.line {
                Some(l) => format!("{}:{l}", t.path.display()),
                None => t.path.display().to_string(),
            })
            .collect();
        if let Some(t) = &self.tags_text {
            parts.push(format!("--tags {t:?}"));
        }
        if let Some(n) = &self.name {
            parts.push(format!("--name {:?}", n.as_str()));
        }
        if let Some(p) = &self.partition {
            parts.push(format!("--partition {}/{}", p.k, p.n));
        }
        parts.join(" ")
    }
}

/// A scenario with its steps (Background first), for `--dry-run`.
#[derive(Debug)]
struct Candidate {
    selected: Selected,
    steps: Vec<gherkin::Step>,
}

/// What the selection found.
#[derive(Debug, Default)]
pub struct Selection {
    /// Selected scenarios in file, then line order.
    pub scenarios: Vec<Selected>,
    /// Scenarios the paths hold before any filter.
    pub seen: usize,
    /// Steps of the selected scenarios, in the same order.
    steps: Vec<Vec<gherkin::Step>>,
    /// `FILE:LINE` targets that name no scenario.
    pub unmatched_lines: Vec<String>,
}

impl Selection {
    /// Is this (file, line) selected? Paths compare as the parser produced them.
    pub fn keys(&self) -> BTreeSet<(PathBuf, usize)> {
        self.scenarios
            .iter()
            .map(|s| (s.path.clone(), s.line))
            .collect()
    }

    /// Undefined steps of the selection as `file:line: undefined step ...; closest known step`.
    pub fn undefined_steps(&self, defs: &[StepDef]) -> Vec<String> {
        let regexes: Vec<Regex> = defs
            .iter()
            .map(|d| expression_regex(d.expression))
            .collect();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (scenario, steps) in self.scenarios.iter().zip(&self.steps) {
            for step in steps {
                if regexes.iter().any(|re| re.is_match(&step.value)) {
                    continue;
                }
                let place = format!("{}:{}", scenario.path.display(), step.position.line);
                if !seen.insert(place.clone()) {
                    continue; // a Background step, reported once
                }
                let hint = closest(defs, &step.value)
                    .map(|d| format!("; closest known step: `{} {}`", d.keyword, d.expression))
                    .unwrap_or_default();
                out.push(format!(
                    "{place}: undefined step `{}{}`{hint}",
                    step.keyword, step.value
                ));
            }
        }
        out
    }
}

/// The scenarios of the feature files under `targets` that pass the filters. Files that do not
/// parse are left out here (the run reports them, exit 1).
pub fn select(targets: &[Target], filters: &Filters) -> Selection {
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut seen = 0;
    let mut unmatched_lines = Vec::new();
    for target in targets {
        let Ok(files) = feature_files(&target.path) else {
            continue;
        };
        let mut line_found = false;
        for file in files {
            let Ok(raw) = gherkin::Feature::parse_path(&file, GherkinEnv::default()) else {
                continue;
            };
            // Outline lines stand for all their rows.
            let wanted_lines: Option<BTreeSet<usize>> = target.line.map(|l| outline_rows(&raw, l));
            let Ok(feature) = expand_outlines(raw) else {
                continue;
            };
            let mut consider = |rule: Option<&gherkin::Rule>, scenario: &gherkin::Scenario| {
                seen += 1;
                if let Some(lines) = &wanted_lines {
                    if !lines.contains(&scenario.position.line) {
                        return;
                    }
                    line_found = true;
                }
                let tags_ok = filters.tags.as_ref().is_none_or(|op| {
                    op.eval(
                        feature
                            .tags
                            .iter()
                            .chain(rule.iter().flat_map(|r| &r.tags))
                            .chain(scenario.tags.iter()),
                    )
                });
                let name_ok = filters
                    .name
                    .as_ref()
                    .is_none_or(|re| re.is_match(&scenario.name));
                if !(tags_ok && name_ok) {
                    return;
                }
                let mut steps: Vec<gherkin::Step> = feature
                    .background
                    .iter()
                    .flat_map(|b| b.steps.iter().cloned())
                    .collect();
                if let Some(b) = rule.and_then(|r| r.background.as_ref()) {
                    steps.extend(b.steps.iter().cloned());
                }
                steps.extend(scenario.steps.iter().cloned());
                candidates.push(Candidate {
                    selected: Selected {
                        path: file.clone(),
                        line: scenario.position.line,
                        name: scenario.name.clone(),
                    },
                    steps,
                });
            };
            for scenario in &feature.scenarios {
                consider(None, scenario);
            }
            for rule in &feature.rules {
                for scenario in &rule.scenarios {
                    consider(Some(rule), scenario);
                }
            }
        }
        if let (Some(line), false) = (target.line, line_found) {
            unmatched_lines.push(format!("{}:{line}", target.path.display()));
        }
    }
    candidates.sort_by(|a, b| a.selected.cmp(&b.selected));
    candidates.dedup_by(|a, b| a.selected == b.selected);
    let mut selection = Selection {
        seen,
        unmatched_lines,
        ..Selection::default()
    };
    for (i, c) in candidates.into_iter().enumerate() {
        if let Some(p) = filters.partition {
            if i % p.n != p.k - 1 {
                continue;
            }
        }
        selection.scenarios.push(c.selected);
        selection.steps.push(c.steps);
    }
    selection
}

/// The scenario lines `line` stands for: an outline's line means each of its rows; any other
/// line means itself.
fn outline_rows(feature: &gherkin::Feature, line: usize) -> BTreeSet<usize> {
    let scenarios = feature
        .scenarios
        .iter()
        .chain(feature.rules.iter().flat_map(|r| &r.scenarios));
    for scenario in scenarios {
        if scenario.position.line == line && !scenario.examples.is_empty() {
            // The lines `expand_outlines` gives the rows.
            let text = feature
                .path
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default();
            return scenario
                .examples
                .iter()
                .flat_map(|ex| example_row_lines(&text, ex.position.line))
                .collect();
        }
    }
    BTreeSet::from([line])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Vec<Target> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../features");
        vec![Target::parse(&root)]
    }

    #[test]
    fn partition_parses_and_refuses_nonsense() {
        assert_eq!("2/4".parse::<Partition>(), Ok(Partition { k: 2, n: 4 }));
        for bad in ["0/3", "4/3", "1/0", "a/b", "3", "1/3/4", ""] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shares_are_disjoint_and_together_the_selection() {
        let all = select(&catalogue(), &Filters::default()).scenarios;
        assert!(all.len() > 100, "the catalogue: {}", all.len());
        for n in [1, 2, 3, 5, 7] {
            let mut union = Vec::new();
            for k in 1..=n {
                let share = select(
                    &catalogue(),
                    &Filters {
                        partition: Some(Partition { k, n }),
                        ..Filters::default()
                    },
                )
                .scenarios;
                // Deterministic: the same share twice.
                let again = select(
                    &catalogue(),
                    &Filters {
                        partition: Some(Partition { k, n }),
                        ..Filters::default()
                    },
                )
                .scenarios;
                assert_eq!(share, again);
                // Balanced within one scenario.
                assert!(share.len().abs_diff(all.len() / n) <= 1, "{k}/{n}");
                union.extend(share);
            }
            let before = union.len();
            union.sort();
            union.dedup();
            assert_eq!(before, union.len(), "shares of {n} overlap");
            assert_eq!(union, all, "shares of {n} do not add up to the selection");
        }
    }

    /// What `FILE:LINE` selects in a feature file of `text`: (line, name) of each selected
    /// scenario, and the targets that name none.
    fn at_line(text: &str, line: usize) -> (Vec<(usize, String)>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.feature");
        std::fs::write(&file, text).unwrap();
        let arg = PathBuf::from(format!("{}:{line}", file.display()));
        let s = select(&[Target::parse(&arg)], &Filters::default());
        let found = s.scenarios.into_iter().map(|s| (s.line, s.name)).collect();
        (found, s.unmatched_lines)
    }

    #[test]
    fn a_line_selects_its_scenario_or_outline_rows() {
        let text = "Feature: X\n\n  Scenario: One\n    Given a\n\n  Scenario Outline: Two <n>\n    Given <n>\n\n    Examples:\n      | n |\n      | 1 |\n      | 2 |\n";
        let lines = |line: usize| {
            let (found, unmatched) = at_line(text, line);
            (
                found.into_iter().map(|f| f.0).collect::<Vec<_>>(),
                unmatched,
            )
        };
        assert_eq!(lines(3), (vec![3], vec![]));
        assert_eq!(lines(12), (vec![12], vec![]));
        assert_eq!(lines(6), (vec![11, 12], vec![]));
        assert_eq!(lines(4).0, Vec::<usize>::new());
        assert_eq!(lines(4).1.len(), 1);
    }

    #[test]
    fn outline_rows_are_found_past_blank_lines_and_comments() {
        let text = "Feature: X\n\n  Scenario Outline: Two <n>\n    Given <n>\n\n    Examples:\n\n      # the header\n      | n |\n\n      # first\n      | 1 |\n      # second\n      | 2 |\n\n    Examples: more\n      | n |\n      | 3 |\n";
        let at = |line: usize| at_line(text, line);
        let rows = vec![
            (12, "Two 1".to_string()),
            (14, "Two 2".to_string()),
            (18, "Two 3".to_string()),
        ];
        assert_eq!(at(3), (rows.clone(), vec![]));
        assert_eq!(at(14), (vec![rows[1].clone()], vec![]));
        assert_eq!(at(18), (vec![rows[2].clone()], vec![]));
        // The lines cucumber's arithmetic would have named hold no row.
        assert_eq!(at(8).1.len(), 1);
        assert_eq!(at(9).1.len(), 1);
    }
}
