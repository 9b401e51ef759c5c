//! Runs the whole feature catalogue on the simulated profile through the `rig` binary, as CI
//! and a QA engineer do: `rig run features/ --profile fixtures/rigs/sim.toml`.
//! (harness = false: the rig's own report is the output.)

use std::path::Path;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the rig crate lives in the workspace");
    let artifacts = root.join("target/rig-artifacts/cargo-test-features");
    let _ = std::fs::remove_dir_all(&artifacts);
    let status = Command::new(env!("CARGO_BIN_EXE_rig"))
        .current_dir(root)
        .args(["run", "features/", "--profile", "fixtures/rigs/sim.toml"])
        .arg("--artifacts")
        .arg(&artifacts)
        .arg("--junit")
        .arg(artifacts.join("junit.xml"))
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!(
                "rig run features/ failed ({s}); artifacts in {}",
                artifacts.display()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot run the rig binary: {e}");
            ExitCode::FAILURE
        }
    }
}
