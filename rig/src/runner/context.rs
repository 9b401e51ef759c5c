//! What every scenario of one run shares: the profile, the artifact root, kept benches.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::profile::Profile;

/// Run-wide settings, reachable from `RigWorld::new` (cucumber builds worlds without arguments).
#[derive(Debug)]
pub struct RunContext {
    pub profile: Profile,
    pub artifacts_root: PathBuf,
    pub keep_on_failure: bool,
    /// Benches of failed scenarios kept running for inspection (`--keep-on-failure`).
    pub kept: Mutex<Vec<super::keep::Kept>>,
}

static CURRENT: Mutex<Option<Arc<RunContext>>> = Mutex::new(None);

impl RunContext {
    /// Makes `ctx` the context of the run in progress.
    pub fn install(ctx: Arc<RunContext>) {
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx);
    }

    /// The context of the run in progress.
    pub fn current() -> Option<Arc<RunContext>> {
        CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Clears the context at the end of a run.
    pub fn uninstall() {
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// A directory-name-safe version of a scenario name.
pub fn slug(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(60).collect()
}
