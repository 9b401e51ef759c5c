//! OCPP configuration keys (§9.1, §9.2 and our additions): defaults, access, validation.
//!
//! One table drives GetConfiguration, ChangeConfiguration and installer-file validation, so
//! the three can never disagree about which keys exist or what a valid value is.

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
    /// OCPP security profile 0..=3 (field.md "Connection security"); read with [`Config::uint`].
    SecurityProfile,
    /// A secret written as 32 to 40 hexadecimal digits (16 to 20 bytes): AuthorizationKey.
    HexSecret,
}

/// One configuration key.
#[derive(Clone, Copy, Debug)]
pub struct KeyDef {
    pub key: Key,
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

/// Declares [`Key`] and [`KEYS`] from one list, so a key's name, kind, access and default are
/// written once and a misspelled key is a compile error, not a silent `0`/`false`.
macro_rules! key_table {
    (@readonly rw) => { false };
    (@readonly ro) => { true };
    (@readonly wo) => { false };
    (@write_only wo) => { true };
    (@write_only $access:ident) => { false };
    ($($(#[$doc:meta])* $name:ident: $kind:ident, $access:ident, $default:expr;)*) => {
        /// A configuration key. Read values with [`Config::flag`], [`Config::uint`] and
        /// [`Config::list`]; the string form is only for the wire and the installer file.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Key {
            $($(#[$doc])* $name,)*
        }

        /// Every key we report, in GetConfiguration order (`KEYS[key as usize].key == key`).
        pub const KEYS: &[KeyDef] = &[$(KeyDef {
            key: Key::$name,
            name: stringify!($name),
            kind: Kind::$kind,
            readonly: key_table!(@readonly $access),
            reboot_required: false,
            write_only: key_table!(@write_only $access),
            default: $default,
        },)*];
    };
}

key_table! {
    AllowOfflineTxForUnknownId: Bool, rw, "false";
    AuthorizationCacheEnabled: Bool, rw, "true";
    AuthorizeRemoteTxRequests: Bool, rw, "false";
    ClockAlignedDataInterval: UInt, rw, "0";
    ConnectionTimeOut: UInt, rw, "60";
    ConnectorPhaseRotation: PhaseRotation, rw, "0.NotApplicable,1.NotApplicable";
    GetConfigurationMaxKeys: UInt, ro, "50";
    HeartbeatInterval: UInt, rw, "300";
    LocalAuthorizeOffline: Bool, rw, "true";
    LocalPreAuthorize: Bool, rw, "false";
    MaxEnergyOnInvalidId: UInt, rw, "0";
    MeterValuesAlignedData: Measurands, rw, "Energy.Active.Import.Register";
    MeterValuesAlignedDataMaxLength: UInt, ro, "5";
    MeterValuesSampledData: Measurands, rw, "Energy.Active.Import.Register";
    MeterValuesSampledDataMaxLength: UInt, ro, "5";
    MeterValueSampleInterval: UInt, rw, "0";
    MinimumStatusDuration: UInt, rw, "0";
    NumberOfConnectors: UInt, ro, "1";
    ResetRetries: UInt, rw, "1";
    StopTransactionOnEVSideDisconnect: Bool, rw, "true";
    StopTransactionOnInvalidId: Bool, rw, "true";
    StopTxnAlignedData: Measurands, rw, "";
    StopTxnAlignedDataMaxLength: UInt, ro, "5";
    StopTxnSampledData: Measurands, rw, "";
    StopTxnSampledDataMaxLength: UInt, ro, "5";
    // Errata v4 3.89: with five measurands per value, a StopTransaction stays well below the
    // 64 KiB frames central systems accept.
    StopTransactionMaxMeterValues: UInt, ro, "50";
    SupportedFeatureProfiles: Csl, ro, SUPPORTED_PROFILES;
    TransactionMessageAttempts: UInt, rw, "3";
    TransactionMessageRetryInterval: UInt, rw, "60";
    UnlockConnectorOnEVSideDisconnect: Bool, rw, "true";
    WebSocketPingInterval: UInt, rw, "30";
    LocalAuthListEnabled: Bool, rw, "true";
    LocalAuthListMaxLength: UInt, ro, "1000";
    SendLocalListMaxLength: UInt, ro, "250";
    MessageTimeout: UInt, rw, "30";
    // Seconds from presenting a tag to the offline decision when the Authorize got no answer
    // by then, also while it waits behind an unanswered CALL (issue 9.6); 0 = MessageTimeout.
    AuthorizeTimeout: UInt, rw, "4";
    // How many id tags the authorization cache keeps (our key, capped by the installer's
    // auth_cache_capacity); when full, not-valid entries go first, then the oldest valid ones.
    AuthorizationCacheMaxLength: UInt, rw, "1000";
    /// What a ChangeConfiguration may do with it is the charger's decision, which knows the
    /// transport (`crate::Settings::tls`).
    SecurityProfile: SecurityProfile, rw, "0";
    /// The Basic-auth password, hex (OCPP-J 1.6 §7 and its errata 3.10); write-only, "" = not set.
    AuthorizationKey: HexSecret, wo, "";
}

impl Key {
    /// The key's definition.
    pub fn def(self) -> &'static KeyDef {
        &KEYS[self as usize]
    }

    /// The canonical OCPP spelling.
    pub fn name(self) -> &'static str {
        self.def().name
    }
}

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
/// central system set (persisted). Values are kept in canonical form, indexed by [`Key`].
#[derive(Clone, Debug)]
pub struct Config {
    values: Vec<String>,
}

impl Config {
    /// Defaults overlaid with installer entries (already validated).
    pub fn new(installer: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut config = Config {
            values: KEYS.iter().map(|k| k.default.to_string()).collect(),
        };
        for (k, v) in installer {
            validate_entry(k, v)?;
            let def = lookup(k).expect("validated");
            config.set(def, normalize(def, v).expect("validated"));
        }
        Ok(config)
    }

    /// Sets a value already known to be valid (restored from the store). Bad stored values are
    /// ignored: the store may predate a validation rule.
    pub fn restore(&mut self, key_name: &str, value: &str) -> bool {
        match lookup(key_name) {
            Some(def) if !def.readonly => match normalize(def, value) {
                Ok(v) => {
                    self.set(def, v);
                    true
                }
                Err(_) => false,
            },
            _ => false,
        }
    }

    /// Checks a ChangeConfiguration; returns the key's definition and the canonical value to
    /// store.
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
        self.values[def.key as usize] = value;
    }

    /// The value of a key given by name (any case), if the key exists: for the wire
    /// (GetConfiguration) and the shell. Code reads values with the typed accessors.
    pub fn get(&self, key_name: &str) -> Option<&str> {
        lookup(key_name).map(|d| self.value(d.key))
    }

    /// The canonical value of a key.
    pub fn value(&self, key: Key) -> &str {
        &self.values[key as usize]
    }

    /// A boolean key's value.
    pub fn flag(&self, key: Key) -> bool {
        debug_assert_eq!(key.def().kind, Kind::Bool, "{key:?} is not a boolean");
        self.value(key) == "true"
    }

    /// An integer key's value (stored values are checked, so this never falls back in practice).
    pub fn uint(&self, key: Key) -> u64 {
        debug_assert!(
            matches!(key.def().kind, Kind::UInt | Kind::SecurityProfile),
            "{key:?} is not an integer"
        );
        self.value(key).parse().unwrap_or_default()
    }

    /// The AuthorizationKey's bytes, if one is set.
    pub fn authorization_key(&self) -> Option<Vec<u8>> {
        Some(self.value(Key::AuthorizationKey))
            .filter(|v| !v.is_empty())
            .and_then(hex_bytes)
    }

    /// A list key's items.
    pub fn list(&self, key: Key) -> Vec<String> {
        self.value(key)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_indexed_by_key() {
        for (i, def) in KEYS.iter().enumerate() {
            assert_eq!(def.key as usize, i, "{}", def.name);
            assert_eq!(format!("{:?}", def.key), def.name);
        }
    }

    #[test]
    fn typed_reads_see_installer_values_and_defaults() {
        let c = Config::new(&[("heartbeatinterval".into(), "60".into())]).unwrap();
        assert_eq!(c.uint(Key::HeartbeatInterval), 60);
        assert!(c.flag(Key::AuthorizationCacheEnabled));
        assert_eq!(c.get("HEARTBEATINTERVAL"), Some("60"));
        assert_eq!(
            c.list(Key::MeterValuesSampledData),
            vec!["Energy.Active.Import.Register".to_string()]
        );
    }
}
