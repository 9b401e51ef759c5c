//! `--keep-on-failure`: a failed scenario's bench stays up until Ctrl-C so a developer can
//! poke the board and read the central system's state.

use crate::bench::Bench;
use crate::csms::Csms;

/// One kept bench.
pub struct Kept {
    pub scenario: String,
    pub bench: Option<Bench>,
    pub csms: Option<Csms>,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("scenario", &self.scenario)
            .finish()
    }
}

impl Kept {
    /// How to reach what was kept.
    pub fn describe(&self) -> String {
        let mut out = format!("kept for inspection: {}", self.scenario);
        if let Some(bench) = &self.bench {
            out.push_str(&format!("\n  {}", bench.how_to_reach()));
        }
        if let Some(csms) = &self.csms {
            out.push_str(&format!("\n  test central system at {}", csms.url()));
        }
        out
    }
}
