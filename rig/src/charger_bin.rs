//! Where the `charger` program of simulated boards comes from.
//!
//! The rig does not link the firmware: a simulated board is the real `charger` binary, found
//! next to the rig's own executable (`target/<profile>/charger`, also from test binaries in
//! `target/<profile>/deps`). `$RIG_CHARGER_CMD` and a profile's `[charger] program` win over
//! that. When the rig runs under cargo (`$CARGO` set, as with `cargo run`), the binary is built
//! or brought up to date with the same profile, once per process (test binaries only build a
//! missing one); otherwise a missing binary is an error naming the command that builds it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// Environment variable naming the charger program (argv, space-separated) to use instead of
/// the built `charger` next to the rig, e.g. `valgrind target/debug/charger`.
pub const CHARGER_CMD_ENV: &str = "RIG_CHARGER_CMD";

/// The charger program could not be found or built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChargerBinError {
    #[error("the charger firmware is not built: {} does not exist; run `cargo build -p charger{}` (or set {CHARGER_CMD_ENV})", .path.display(), profile_flag(.profile))]
    Missing { path: PathBuf, profile: String },
    #[error("building the charger firmware (`{command}`) failed: {reason}")]
    Build { command: String, reason: String },
    #[error("cannot tell where the rig's executable is ({0}); set {CHARGER_CMD_ENV}")]
    NoExe(String),
}

fn profile_flag(profile: &str) -> String {
    match profile {
        "debug" => String::new(),
        "release" => " --release".into(),
        other => format!(" --profile {other}"),
    }
}

/// `$RIG_CHARGER_CMD` split on white space, if set and not empty.
pub fn from_env() -> Option<Vec<OsString>> {
    let cmd = std::env::var_os(CHARGER_CMD_ENV)?;
    let v: Vec<OsString> = cmd
        .to_string_lossy()
        .split_whitespace()
        .map(OsString::from)
        .collect();
    (!v.is_empty()).then_some(v)
}

/// The argv that starts a charger: `$RIG_CHARGER_CMD`, else the built binary (built first if
/// missing and under cargo). The result is remembered: one look-up (and at most one build)
/// per process.
pub fn program() -> Result<Vec<OsString>, ChargerBinError> {
    if let Some(v) = from_env() {
        return Ok(v);
    }
    static FOUND: OnceLock<Mutex<Option<Result<PathBuf, ChargerBinError>>>> = OnceLock::new();
    let mut found = FOUND
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if found.is_none() {
        *found = Some(locate_or_build());
    }
    match found.as_ref().expect("set above") {
        Ok(path) => Ok(vec![path.clone().into_os_string()]),
        Err(e) => Err(e.clone()),
    }
}

/// The directory cargo puts a profile's binaries in, for an executable at `exe`:
/// `target/<profile>` for binaries, its parent for test binaries (`target/<profile>/deps`).
pub fn profile_dir(exe: &Path) -> Option<PathBuf> {
    let dir = exe.parent()?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        return dir.parent().map(Path::to_path_buf);
    }
    Some(dir.to_path_buf())
}

/// The cargo profile a binary directory belongs to: its name, when it is `debug`, `release`,
/// or sits in a cargo target directory (marked by `CACHEDIR.TAG`).
fn cargo_profile(dir: &Path) -> Option<String> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let in_target = dir
        .parent()
        .is_some_and(|t| t.join("CACHEDIR.TAG").is_file());
    (name == "debug" || name == "release" || in_target).then_some(name)
}

fn locate_or_build() -> Result<PathBuf, ChargerBinError> {
    let exe = std::env::current_exe().map_err(|e| ChargerBinError::NoExe(e.to_string()))?;
    let dir = profile_dir(&exe).ok_or_else(|| ChargerBinError::NoExe(exe.display().to_string()))?;
    let path = dir.join("charger");
    // From `cargo run -p rig` a charger built earlier may be older than the firmware sources: a
    // run would then test yesterday's firmware. So the rig binary itself asks cargo to bring the
    // charger up to date (a no-op costing well under a second when it is). Test binaries
    // (`deps/`) do not: `cargo test` built the workspace's binaries and holds the build lock.
    let is_test_binary = exe
        .parent()
        .is_some_and(|d| d.file_name().is_some_and(|n| n == "deps"));
    let under_cargo = std::env::var_os("CARGO").is_some();
    if path.is_file() && (is_test_binary || !under_cargo || cargo_profile(&dir).is_none()) {
        return Ok(path);
    }
    let Some(profile) = cargo_profile(&dir) else {
        // Not cargo's layout (a copied binary): nothing to build here.
        return Err(ChargerBinError::Missing {
            path,
            profile: "debug".into(),
        });
    };
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Err(ChargerBinError::Missing { path, profile });
    };
    build(&cargo, &dir, &profile)?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(ChargerBinError::Missing { path, profile })
    }
}

/// `$CARGO build -p charger` for `profile`, into the target directory that holds `dir`.
fn build(cargo: &OsString, dir: &Path, profile: &str) -> Result<(), ChargerBinError> {
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "charger"]);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    if let Some(target) = dir.parent() {
        cmd.arg("--target-dir").arg(target);
    }
    // The workspace this rig was built from, so the build works from any current directory.
    cmd.arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"));
    let text = format!("cargo build -p charger{}", profile_flag(profile));
    if dir.join("charger").is_file() {
        // Only an up-to-date check: quiet unless cargo has something to say.
        cmd.arg("-q");
    } else {
        eprintln!(
            "rig: {} is missing; building it: {text}",
            dir.join("charger").display()
        );
    }
    let status = cmd.status().map_err(|e| ChargerBinError::Build {
        command: text.clone(),
        reason: e.to_string(),
    })?;
    if !status.success() {
        return Err(ChargerBinError::Build {
            command: text,
            reason: status.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_binaries_look_one_level_up() {
        assert_eq!(
            profile_dir(Path::new("/w/target/debug/deps/rig-0123")),
            Some(PathBuf::from("/w/target/debug"))
        );
        assert_eq!(
            profile_dir(Path::new("/w/target/release/rig")),
            Some(PathBuf::from("/w/target/release"))
        );
    }

    #[test]
    fn the_missing_binary_error_names_the_fix() {
        let e = ChargerBinError::Missing {
            path: "/w/target/release/charger".into(),
            profile: "release".into(),
        };
        assert!(
            e.to_string()
                .contains("run `cargo build -p charger --release`"),
            "{e}"
        );
    }
}
