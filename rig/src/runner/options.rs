//! What `rig run` was asked to do (the CLI maps its flags into this).

use std::path::PathBuf;

/// Options of one `rig run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Feature files or directories; empty = `features/`.
    pub paths: Vec<PathBuf>,
    /// Rig profile; `None` = `fixtures/rigs/sim.toml` (built in when the file is absent).
    pub profile: Option<PathBuf>,
    /// Cucumber tag expression, e.g. `@timing and not @slow`.
    pub tags: Option<String>,
    /// Only scenarios whose name matches this regex.
    pub name: Option<String>,
    /// Write a JUnit XML report here.
    pub junit: Option<PathBuf>,
    /// Write cucumber's JSON report here.
    pub cucumber_json: Option<PathBuf>,
    /// Artifact root; `None` = `target/rig-artifacts/<timestamp>`.
    pub artifacts: Option<PathBuf>,
    /// Scenarios in parallel; `None` = the profile's.
    pub concurrency: Option<usize>,
    /// Retries of a failed scenario; a scenario that passes on a retry is FLAKY.
    pub retry: usize,
    /// Stop at the first failed scenario.
    pub fail_fast: bool,
    /// Leave a failed scenario's board, proxy and central system running until Ctrl-C.
    pub keep_on_failure: bool,
}

/// Exit codes of `rig run`, for `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  every selected scenario passed on its first attempt
  1  a scenario failed, a step is undefined or ambiguous, or a feature file does not parse
  2  usage error or invalid profile
  3  nothing failed, but some scenarios passed only on a retry (reported as FLAKY)
  130 interrupted (Ctrl-C); everything the run started is torn down
Skipped scenarios (profile skip_tags) do not change the exit code; they are listed with the reason.";

/// Exit code: all passed.
pub const EXIT_OK: i32 = 0;
/// Exit code: a failure.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: usage or profile error.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: passed only after retries.
pub const EXIT_FLAKY: i32 = 3;
/// Exit code: interrupted.
pub const EXIT_INTERRUPTED: i32 = 130;
