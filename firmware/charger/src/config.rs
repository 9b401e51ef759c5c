//! The configuration file (`--config FILE`): the schema and its rules live in the I/O-free
//! `charger-config` crate (the rig checks overrides with them too); this module reads the file.

use std::path::Path;

pub use charger_config::*;

/// Reads and resolves `path` (or only the overrides and defaults when there is no file).
pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<ChargerConfig, ConfigError> {
    match path {
        None => parse("", None, overrides),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                file: Some(path.to_path_buf()),
                line: None,
                reason: format!("cannot read the configuration file: {e}"),
            })?;
            let cfg = parse(&text, Some(path), overrides)?;
            check_tls_files(&cfg)?;
            Ok(cfg)
        }
    }
}

/// Reads the PEM files the configuration names, so a missing, unreadable or malformed one is
/// reported at its line before anything starts.
pub fn check_tls_files(cfg: &ChargerConfig) -> Result<(), ConfigError> {
    let Some(files) = &cfg.tls else {
        return Ok(());
    };
    crate::tls::Tls::load(files)
        .map(|_| ())
        .map_err(|e| ConfigError {
            file: cfg.file.clone(),
            line: files.lines[e.field as usize],
            reason: e.to_string(),
        })
}

/// [`load`], then checks every `[configuration]` value with the core's own rules (the same ones
/// ChangeConfiguration uses), so a value the charger would refuse is reported at its line.
pub fn load_checked(
    path: Option<&Path>,
    overrides: &Overrides,
) -> Result<ChargerConfig, ConfigError> {
    let cfg = load(path, overrides)?;
    validate_installer(&cfg)?;
    validate_security(&cfg)?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_without_a_file() {
        let over = Overrides {
            csms_url: Some("ws://127.0.0.1:9000/ocpp".into()),
            ..Default::default()
        };
        let cfg = load(None, &over).unwrap();
        assert_eq!(cfg.serial_number, DEFAULT_SERIAL);
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let err = load(
            Some(Path::new("/nonexistent/c.toml")),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/nonexistent/c.toml: cannot read"),
            "{err}"
        );
    }
}
