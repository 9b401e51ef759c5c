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
    /// Wait this long for the profile's bench lock; `None` = fail at once (exit 2) when held.
    pub wait_lock: Option<std::time::Duration>,
    /// Only the K-th of N disjoint shares of the selection.
    pub partition: Option<super::select::Partition>,
    /// Print the selection as `path:line name`; run nothing.
    pub list: bool,
    /// Check every step of the selection is defined; start nothing.
    pub dry_run: bool,
}

/// Exit codes of `rig run`, for `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  every selected scenario passed on its first attempt
  1  a scenario failed, a step is undefined or ambiguous, or a feature file does not parse
  2  usage error, invalid profile, the bench lock held by someone else (see --wait-lock), a FILE:LINE that names no scenario, an undefined step (--dry-run)
  3  nothing failed, but some scenarios passed only on a retry (reported as FLAKY)
  5  nothing was selected (the message names the filters)
  130 interrupted (Ctrl-C); 143 terminated (SIGTERM). Everything the run started is torn down,
      the bench is left in its known state, and the JUnit file and the summary are written from
      what finished (the rest marked unfinished); the run watchdog does the same with exit 1
Skipped scenarios (profile skip_tags) do not change the exit code; they are listed with the reason.";

/// Exit code: all passed.
pub const EXIT_OK: i32 = 0;
/// Exit code: a failure.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: usage or profile error.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: passed only after retries.
pub const EXIT_FLAKY: i32 = 3;
/// Exit code: the paths and filters selected no scenario.
pub const EXIT_NOTHING_SELECTED: i32 = 5;
/// Exit code: interrupted.
pub const EXIT_INTERRUPTED: i32 = 130;
/// Exit code: SIGTERM (CI cancelled or timed the job out).
pub const EXIT_TERMINATED: i32 = 143;
