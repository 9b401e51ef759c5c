//! The step table: every phrasing the rig understands, turned into cucumber steps.
//!
//! Steps are registered from one table (not with attribute macros) so that the same table
//! serves three purposes: registration under Given, When *and* Then (a feature may write
//! `And 5 seconds pass` after a `Then`), the "closest known step" hint for a typo, and a test
//! that no two phrasings match the same text.

use cucumber::gherkin;
use cucumber::step::{Collection, Context};
use futures_util::future::LocalBoxFuture;
use regex::Regex;

use crate::world::RigWorld;

/// The outcome of a step body: `Err` fails the step with that message.
pub type StepResult = Result<(), String>;

/// A step's function as cucumber calls it.
pub type StepFn = for<'a> fn(&'a mut RigWorld, Context) -> LocalBoxFuture<'a, ()>;

/// One phrasing, in cucumber-expression form (`{string}`, `{int}`, `{word}`).
#[derive(Clone, Copy)]
pub struct StepDef {
    /// The keyword it is documented with (Given/When/Then); it matches under all three.
    pub keyword: &'static str,
    pub expression: &'static str,
    pub func: StepFn,
}

impl std::fmt::Debug for StepDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.keyword, self.expression)
    }
}

/// Builds a [`StepDef`] from an `async fn(&mut RigWorld, Args) -> StepResult`.
#[macro_export]
#[doc(hidden)]
macro_rules! step_def {
    ($keyword:literal, $expression:literal, $body:path) => {
        $crate::steps::registry::StepDef {
            keyword: $keyword,
            expression: $expression,
            func: |world, ctx| {
                Box::pin(async move {
                    if world.skipping {
                        // A scenario this bench skips: its Background must not touch anything.
                        return;
                    }
                    if let Err(message) = world.check_watchdog() {
                        panic!("{message}");
                    }
                    let args = $crate::steps::registry::Args::new(ctx);
                    if let Err(message) = $body(world, args).await {
                        panic!("{message}");
                    }
                })
            },
        }
    };
}

/// The captured parameters and the table of a matched step.
pub struct Args {
    values: Vec<String>,
    pub step: gherkin::Step,
}

impl Args {
    pub fn new(ctx: Context) -> Args {
        Args {
            values: ctx.matches.into_iter().skip(1).map(|m| m.1).collect(),
            step: ctx.step,
        }
    }

    /// The `i`th parameter (0-based) as text; `{string}` comes without its quotes.
    pub fn text(&self, i: usize) -> String {
        self.values.get(i).cloned().unwrap_or_default()
    }

    /// The `i`th parameter as a whole number.
    pub fn int(&self, i: usize) -> Result<i64, String> {
        let raw = self.text(i);
        raw.parse()
            .map_err(|_| format!("{raw:?} is not a whole number"))
    }

    /// The `i`th parameter as a non-negative number (seconds, amps...).
    pub fn count(&self, i: usize) -> Result<u64, String> {
        let n = self.int(i)?;
        u64::try_from(n).map_err(|_| format!("{n} must not be negative"))
    }

    /// The `i`th parameter as a number of seconds (`within {int} seconds`, `for {int} seconds`).
    pub fn secs(&self, i: usize) -> Result<std::time::Duration, String> {
        Ok(std::time::Duration::from_secs(self.count(i)?))
    }

    /// The step's data table as rows of named cells; the first row is the header.
    pub fn table(&self) -> Result<Vec<Row>, String> {
        let table = self
            .step
            .table
            .as_ref()
            .ok_or_else(|| "this step needs a data table".to_string())?;
        let mut rows = table.rows.iter();
        let header: Vec<String> = rows
            .next()
            .map(|h| h.iter().map(|c| c.trim().to_lowercase()).collect())
            .unwrap_or_default();
        Ok(rows
            .map(|cells| Row {
                cells: header
                    .iter()
                    .cloned()
                    .zip(cells.iter().map(|c| c.trim().to_string()))
                    .collect(),
            })
            .collect())
    }
}

/// One row of a data table.
#[derive(Debug, Clone)]
pub struct Row {
    cells: Vec<(String, String)>,
}

impl Row {
    /// The cell under `column`, if the column exists and the cell is not empty.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.cells
            .iter()
            .find(|(name, _)| name == column)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The cell under `column`, which must be present.
    pub fn required(&self, column: &str) -> Result<&str, String> {
        self.get(column)
            .ok_or_else(|| format!("table row {:?} has no {column:?} value", self.cells))
    }
}

/// Turns a cucumber expression with `{string}`, `{int}` and `{word}` into an anchored regex.
pub fn expression_regex(expression: &str) -> Regex {
    let mut pattern = String::from("^");
    let mut rest = expression;
    while let Some(open) = rest.find('{') {
        pattern.push_str(&regex::escape(&rest[..open]));
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .unwrap_or(rest.len() - 1);
        pattern.push_str(match &rest[open + 1..close] {
            "string" => r#""([^"]*)""#,
            "int" => r"(-?\d+)",
            "word" => r"([^\s]+)",
            other => panic!("unsupported parameter {{{other}}} in step {expression:?}"),
        });
        rest = &rest[close + 1..];
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    Regex::new(&pattern).expect("step expressions make valid regexes")
}

/// The cucumber step collection: every definition under every keyword.
pub fn collection(defs: &[StepDef]) -> Collection<RigWorld> {
    defs.iter().fold(Collection::new(), |c, def| {
        let regex = expression_regex(def.expression);
        c.given(None, regex.clone(), def.func)
            .when(None, regex.clone(), def.func)
            .then(None, regex, def.func)
    })
}

/// The known phrasing closest to `text`, for the "undefined step" message.
pub fn closest<'a>(defs: &'a [StepDef], text: &str) -> Option<&'a StepDef> {
    let sample = |expression: &str| {
        expression
            .replace("{string}", "\"\"")
            .replace("{int}", "0")
            .replace("{word}", "X")
    };
    let plain = |s: &str| {
        // Compare shapes: quoted values and numbers do not make a step closer.
        let quoted = Regex::new(r#""[^"]*""#).expect("valid");
        let digits = Regex::new(r"-?\d+").expect("valid");
        digits
            .replace_all(&quoted.replace_all(s, "\"\""), "0")
            .to_lowercase()
    };
    let wanted = plain(text);
    defs.iter().max_by(|a, b| {
        let sa = strsim::normalized_levenshtein(&plain(&sample(a.expression)), &wanted);
        let sb = strsim::normalized_levenshtein(&plain(&sample(b.expression)), &wanted);
        sa.total_cmp(&sb)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_become_anchored_regexes() {
        let re = expression_regex("the card {string} is presented");
        let caps = re.captures(r#"the card "04A1B2C3" is presented"#).unwrap();
        assert_eq!(&caps[1], "04A1B2C3");
        assert!(!re.is_match(r#"the card "04A1B2C3" is presented twice"#));
        let re = expression_regex("the central system answers {word} with a CallError {int} times");
        let caps = re
            .captures("the central system answers Authorize with a CallError -2 times")
            .unwrap();
        assert_eq!((&caps[1], &caps[2]), ("Authorize", "-2"));
        let re = expression_regex("the local list version is {int}");
        assert!(!re.is_match("the local list version is x"));
        let re = expression_regex("the central system sends the local list version {int}:");
        assert!(re.is_match("the central system sends the local list version 3:"));
        assert!(expression_regex("a (b) c.").is_match("a (b) c."));
    }
}
