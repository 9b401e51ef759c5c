//! OCPP configuration keys (§9.1, §9.2 and our additions): defaults, access, validation.
//!
//! One table drives GetConfiguration, ChangeConfiguration and installer-file validation, so
//! the three can never disagree about which keys exist or what a valid value is.

use std::collections::BTreeMap;

/// Why a configuration value or setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown configuration key `{key}`")]
    UnknownKey { key: String },
    #[error("configuration key `{key}` is read-only")]
    ReadOnly { key: String },
    #[error("invalid value `{value}` for configuration key `{key}`: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("invalid setting `{field}`: {reason}")]
    InvalidSetting { field: &'static str, reason: String },
}

/// The shape of a key's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    /// Non-negative integer (intervals, counts).
    UInt,
    /// Comma-separated measurands, each one we can sample.
    Measurands,
    /// Comma-separated list, free-form.
    Csl,
    /// `connector.rotation` items (§9.1.7), e.g. `0.RST,1.NotApplicable`.
    PhaseRotation,
    /// OCPP security profile 0..=3 (field.md "Connection security").
    SecurityProfile,
    /// A secret written as 32 to 40 hexadecimal digits (16 to 20 bytes): AuthorizationKey.
    HexSecret,
}

/// One configuration key.
#[derive(Clone, Copy, Debug)]
pub struct KeyDef {
    pub name: &'static str,
    pub kind: Kind,
    pub readonly: bool,
    /// A change only takes effect after a reboot (ChangeConfiguration answers RebootRequired).
    pub reboot_required: bool,
    /// Write-only (a secret): GetConfiguration lists the key without its value, and errors and
    /// logs never carry the value.
    pub write_only: bool,
    pub default: &'static str,
}

/// What stands for a write-only value wherever one would otherwise be shown.
pub const REDACTED: &str = "<redacted>";

const fn key(name: &'static str, kind: Kind, readonly: bool, default: &'static str) -> KeyDef {
    KeyDef {
        name,
        kind,
        readonly,
        reboot_required: false,
        write_only: false,
        default,
    }
}

/// A write-only key; its default is "not set".
const fn secret(name: &'static str, kind: Kind) -> KeyDef {
    KeyDef {
        write_only: true,
        ..key(name, kind, false, "")
    }
}

/// The security profile key; what a change may do is decided by the charger, which knows the
/// transport (`crate::Settings::tls`).
pub const SECURITY_PROFILE: &str = "SecurityProfile";
/// The Basic-auth password, hex (OCPP-J 1.6 §7 and its errata 3.10).
pub const AUTHORIZATION_KEY: &str = "AuthorizationKey";

/// Decodes an AuthorizationKey value (already normalized) into the password bytes.
pub fn hex_bytes(value: &str) -> Option<Vec<u8>> {
    if !value.len().is_multiple_of(2) || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..value.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&value[i..i + 2], 16).ok())
        .collect()
}

/// Measurands our meter can sample (checked for the *Data keys).
pub const SUPPORTED_MEASURANDS: &[&str] = &[
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Current.Offered",
    "Voltage",
];

/// Profiles we implement; the rest are answered NotSupported.
pub const SUPPORTED_PROFILES: &str = "Core,LocalAuthListManagement,RemoteTrigger";

/// Maximum number of keys in one GetConfiguration request.
pub const GET_CONFIGURATION_MAX_KEYS: usize = 50;
/// Maximum local list size.
pub const LOCAL_AUTH_LIST_MAX_LENGTH: usize = 1000;
/// Maximum entries in one SendLocalList.
pub const SEND_LOCAL_LIST_MAX_LENGTH: usize = 250;

/// Every key we report, in GetConfiguration order.
pub const KEYS: &[KeyDef] = &[
    key("AllowOfflineTxForUnknownId", Kind::Bool, false, "false"),
    key("AuthorizationCacheEnabled", Kind::Bool, false, "true"),
    key("AuthorizeRemoteTxRequests", Kind::Bool, false, "false"),
    key("ClockAlignedDataInterval", Kind::UInt, false, "0"),
    key("ConnectionTimeOut", Kind::UInt, false, "60"),
    key(
        "ConnectorPhaseRotation",
        Kind::PhaseRotation,
        false,
        "0.NotApplicable,1.NotApplicable",
    ),
    key("GetConfigurationMaxKeys", Kind::UInt, true, "50"),
    key("HeartbeatInterval", Kind::UInt, false, "300"),
    key("LocalAuthorizeOffline", Kind::Bool, false, "true"),
    key("LocalPreAuthorize", Kind::Bool, false, "false"),
    key("MaxEnergyOnInvalidId", Kind::UInt, false, "0"),
    key(
        "MeterValuesAlignedData",
        Kind::Measurands,
        false,
        "Energy.Active.Import.Register",
    ),
    key("MeterValuesAlignedDataMaxLength", Kind::UInt, true, "5"),
    key(
        "MeterValuesSampledData",
        Kind::Measurands,
        false,
        "Energy.Active.Import.Register",
    ),
    key("MeterValuesSampledDataMaxLength", Kind::UInt, true, "5"),
    key("MeterValueSampleInterval", Kind::UInt, false, "0"),
    key("MinimumStatusDuration", Kind::UInt, false, "0"),
    key("NumberOfConnectors", Kind::UInt, true, "1"),
    key("ResetRetries", Kind::UInt, false, "1"),
    key(
        "StopTransactionOnEVSideDisconnect",
        Kind::Bool,
        false,
        "true",
    ),
    key("StopTransactionOnInvalidId", Kind::Bool, false, "true"),
    key("StopTxnAlignedData", Kind::Measurands, false, ""),
    key("StopTxnAlignedDataMaxLength", Kind::UInt, true, "5"),
    key("StopTxnSampledData", Kind::Measurands, false, ""),
    key("StopTxnSampledDataMaxLength", Kind::UInt, true, "5"),
    // Errata v4 3.89: with five measurands per value, a StopTransaction stays well below the
    // 64 KiB frames central systems accept.
    key("StopTransactionMaxMeterValues", Kind::UInt, true, "50"),
    key(
        "SupportedFeatureProfiles",
        Kind::Csl,
        true,
        SUPPORTED_PROFILES,
    ),
    key("TransactionMessageAttempts", Kind::UInt, false, "3"),
    key("TransactionMessageRetryInterval", Kind::UInt, false, "60"),
    key(
        "UnlockConnectorOnEVSideDisconnect",
        Kind::Bool,
        false,
        "true",
    ),
    key("WebSocketPingInterval", Kind::UInt, false, "30"),
    key("LocalAuthListEnabled", Kind::Bool, false, "true"),
    key("LocalAuthListMaxLength", Kind::UInt, true, "1000"),
    key("SendLocalListMaxLength", Kind::UInt, true, "250"),
    key("MessageTimeout", Kind::UInt, false, "30"),
    key(SECURITY_PROFILE, Kind::SecurityProfile, false, "0"),
    secret(AUTHORIZATION_KEY, Kind::HexSecret),
];

/// Looks a key up by name. Keys are CiString50Type in OCPP, so any letter case matches; the
/// canonical spelling is what we report.
pub fn lookup(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter()
        .find(|k| k.name == name)
        .or_else(|| KEYS.iter().find(|k| k.name.eq_ignore_ascii_case(name)))
}

/// Checks a value against a key's kind and returns it in canonical form (booleans lower-case,
/// integers without sign or leading zeros, lists without blanks).
pub fn normalize(def: &KeyDef, value: &str) -> Result<String, String> {
    let v = value.trim();
    match def.kind {
        Kind::Bool => {
            if v.eq_ignore_ascii_case("true") {
                Ok("true".into())
            } else if v.eq_ignore_ascii_case("false") {
                Ok("false".into())
            } else {
                Err("expected true or false".into())
            }
        }
        Kind::UInt => {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err("expected a non-negative whole number".into());
            }
            v.parse::<u32>()
                .map(|n| n.to_string())
                .map_err(|_| "number too large".into())
        }
        Kind::Measurands => {
            if v.is_empty() {
                return Ok(String::new());
            }
            let mut out = Vec::new();
            for item in v.split(',') {
                let item = item.trim();
                match SUPPORTED_MEASURANDS.iter().find(|m| **m == item) {
                    Some(m) => out.push(*m),
                    None => return Err(format!("unsupported measurand `{item}`")),
                }
            }
            if out.len() > 5 {
                return Err("more than 5 measurands".into());
            }
            Ok(out.join(","))
        }
        Kind::PhaseRotation => {
            const ROTATIONS: &[&str] = &[
                "NotApplicable",
                "Unknown",
                "RST",
                "RTS",
                "SRT",
                "STR",
                "TRS",
                "TSR",
            ];
            let mut out = Vec::new();
            for item in v.split(',').map(str::trim) {
                let ok = item
                    .split_once('.')
                    .is_some_and(|(c, r)| matches!(c, "0" | "1") && ROTATIONS.contains(&r));
                if !ok {
                    return Err(format!(
                        "`{item}` is not <connector 0|1>.<NotApplicable|Unknown|RST|RTS|SRT|STR|TRS|TSR>"
                    ));
                }
                out.push(item);
            }
            Ok(out.join(","))
        }
        Kind::SecurityProfile => match v {
            "0" | "1" | "2" | "3" => Ok(v.to_string()),
            _ => Err("expected a security profile 0, 1, 2 or 3".into()),
        },
        Kind::HexSecret => {
            if !(32..=40).contains(&v.len()) || !v.len().is_multiple_of(2) {
                return Err(
                    "expected 32 to 40 hexadecimal digits (a key of 16 to 20 bytes)".into(),
                );
            }
            if !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("expected hexadecimal digits only".into());
            }
            Ok(v.to_ascii_lowercase())
        }
        Kind::Csl => {
            let items: Vec<&str> = v.split(',').map(str::trim).collect();
            if items.iter().any(|i| i.is_empty()) && !v.is_empty() {
                return Err("empty list element".into());
            }
            Ok(items.join(","))
        }
    }
}

/// Validates one installer entry (config file line): known key, writable, well-formed value.
pub fn validate_entry(key_name: &str, value: &str) -> Result<(), ConfigError> {
    let def = lookup(key_name).ok_or_else(|| ConfigError::UnknownKey {
        key: key_name.to_string(),
    })?;
    if def.readonly {
        return Err(ConfigError::ReadOnly {
            key: def.name.to_string(),
        });
    }
    normalize(def, value).map_err(|reason| invalid(def, value, reason))?;
    Ok(())
}

/// The error for a refused value; a write-only key's value is not repeated.
fn invalid(def: &KeyDef, value: &str, reason: String) -> ConfigError {
    ConfigError::InvalidValue {
        key: def.name.to_string(),
        value: if def.write_only {
            REDACTED.to_string()
        } else {
            value.to_string()
        },
        reason,
    }
}

/// The effective configuration: defaults, overlaid by installer values, overlaid by values the
/// central system set (persisted).
#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
}

impl Config {
    /// Defaults overlaid with installer entries (already validated).
    pub fn new(installer: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut values: BTreeMap<&'static str, String> = KEYS
            .iter()
            .map(|k| (k.name, k.default.to_string()))
            .collect();
        for (k, v) in installer {
            validate_entry(k, v)?;
            let def = lookup(k).expect("validated");
            values.insert(def.name, normalize(def, v).expect("validated"));
        }
        Ok(Config { values })
    }

    /// Sets a value already known to be valid (restored from the store). Bad stored values are
    /// ignored: the store may predate a validation rule.
    pub fn restore(&mut self, key_name: &str, value: &str) -> bool {
        match lookup(key_name) {
            Some(def) if !def.readonly => match normalize(def, value) {
                Ok(v) => {
                    self.values.insert(def.name, v);
                    true
                }
                Err(_) => false,
            },
            _ => false,
        }
    }

    /// Checks a ChangeConfiguration; returns the canonical key name and value to store.
    pub fn check_change(
        &self,
        key_name: &str,
        value: &str,
    ) -> Result<(&'static KeyDef, String), ConfigError> {
        // Keys are CiString50Type: case-insensitive.
        let def = lookup(key_name).ok_or_else(|| ConfigError::UnknownKey {
            key: key_name.to_string(),
        })?;
        if def.readonly {
            return Err(ConfigError::ReadOnly {
                key: def.name.to_string(),
            });
        }
        let v = normalize(def, value).map_err(|reason| invalid(def, value, reason))?;
        Ok((def, v))
    }

    /// Stores a checked value.
    pub fn set(&mut self, def: &'static KeyDef, value: String) {
        self.values.insert(def.name, value);
    }

    /// The value of a key (any case), if the key exists.
    pub fn get(&self, key_name: &str) -> Option<&str> {
        lookup(key_name).and_then(|d| self.values.get(d.name).map(String::as_str))
    }

    /// A boolean key's value (false if absent: the table makes that impossible).
    pub fn flag(&self, key_name: &str) -> bool {
        self.get(key_name) == Some("true")
    }

    /// An integer key's value (0 if absent).
    pub fn uint(&self, key_name: &str) -> u64 {
        self.get(key_name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_default()
    }

    /// The AuthorizationKey's bytes, if one is set.
    pub fn authorization_key(&self) -> Option<Vec<u8>> {
        self.get(AUTHORIZATION_KEY)
            .filter(|v| !v.is_empty())
            .and_then(hex_bytes)
    }

    /// A CSL key's items.
    pub fn list(&self, key_name: &str) -> Vec<String> {
        self.get(key_name)
            .map(|v| {
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}
