//! Identity and installer settings the shell hands to the core at boot.

use chrono::{DateTime, Utc};

use crate::config::{self, ConfigError};

/// 2026-01-01T00:00:00Z: the build date assumed when the shell gives none. The real shell
/// passes its own (`firmware/charger/build.rs`); this only has to be no later than any build.
pub const DEFAULT_BUILD_DATE_UNIX: i64 = 1_767_225_600;

/// What the core needs to know about the charger it runs on (from the config file / CLI).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Serial number: reported in BootNotification and used as the free-charge id tag.
    pub serial_number: String,
    /// Charge point id (the shell appends it to the CSMS URL); defaults to the serial number.
    pub charge_point_id: String,
    pub vendor: String,
    pub model: String,
    pub firmware_version: String,
    /// Free-charge mode: plugging in authorizes with the serial number as the id tag.
    pub free_charge: bool,
    /// The current the charger offers (PWM duty), in amperes (6..=80).
    pub max_current_a: f32,
    /// OCPP configuration keys from the installer's file. Values set by ChangeConfiguration
    /// (persisted in [`crate::Table::Config`]) win over these; these win over the defaults.
    pub installer_config: Vec<(String, String)>,
    /// How many id tags the authorization cache holds before it evicts.
    pub auth_cache_capacity: usize,
    /// When this firmware was built: a central-system time before it (or decades after it) is
    /// implausible and not adopted, and a stored clock offset leading outside that window is
    /// discarded at boot (issue 9.1).
    pub build_date: DateTime<Utc>,
    /// The central system is reached over TLS (`wss://`): SecurityProfile must be 2 or 3, and
    /// 0 or 1 otherwise (a ChangeConfiguration that breaks this is Rejected).
    pub tls: bool,
    /// A client certificate is provisioned, so SecurityProfile 3 can be used.
    pub client_certificate: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            serial_number: "CHARGERIG-0001".into(),
            charge_point_id: "CHARGERIG-0001".into(),
            vendor: "Chargerig".into(),
            model: "SimBoard-1".into(),
            firmware_version: env!("CARGO_PKG_VERSION").into(),
            free_charge: false,
            max_current_a: 16.0,
            installer_config: Vec::new(),
            auth_cache_capacity: 1000,
            build_date: DateTime::from_timestamp(DEFAULT_BUILD_DATE_UNIX, 0).unwrap_or_default(),
            tls: false,
            client_certificate: false,
        }
    }
}

impl Settings {
    /// Checks everything `Charger::new` would refuse, so a shell can report it before starting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.serial_number.is_empty() || self.serial_number.len() > 25 {
            return Err(ConfigError::InvalidSetting {
                field: "serial_number",
                reason: "must be 1 to 25 characters (OCPP chargePointSerialNumber)".into(),
            });
        }
        if self.charge_point_id.is_empty() {
            return Err(ConfigError::InvalidSetting {
                field: "charge_point_id",
                reason: "must not be empty".into(),
            });
        }
        if self.vendor.is_empty() || self.vendor.len() > 20 {
            return Err(ConfigError::InvalidSetting {
                field: "vendor",
                reason: "must be 1 to 20 characters (OCPP chargePointVendor)".into(),
            });
        }
        if self.model.is_empty() || self.model.len() > 20 {
            return Err(ConfigError::InvalidSetting {
                field: "model",
                reason: "must be 1 to 20 characters (OCPP chargePointModel)".into(),
            });
        }
        if self.firmware_version.len() > 50 {
            return Err(ConfigError::InvalidSetting {
                field: "firmware_version",
                reason: "must be at most 50 characters".into(),
            });
        }
        if !(6.0..=80.0).contains(&self.max_current_a) {
            return Err(ConfigError::InvalidSetting {
                field: "max_current_a",
                reason: format!(
                    "{} A is outside the IEC 61851 PWM range 6..=80 A",
                    self.max_current_a
                ),
            });
        }
        if self.auth_cache_capacity == 0 {
            return Err(ConfigError::InvalidSetting {
                field: "auth_cache_capacity",
                reason: "must be at least 1".into(),
            });
        }
        validate_installer_config(&self.installer_config)
    }
}

/// Checks installer configuration entries (unknown key, read-only key, malformed value).
/// The first bad entry is reported; use [`config::validate_entry`] to check line by line.
pub fn validate_installer_config(entries: &[(String, String)]) -> Result<(), ConfigError> {
    for (key, value) in entries {
        config::validate_entry(key, value)?;
    }
    Ok(())
}
