//! The charger's TOML configuration file (`--config FILE`), as fixed in `docs/architecture.md`:
//! the schema, its defaults and its rules, on text (no I/O). Its own crate so that the rig checks
//! a profile's or a scenario's overrides by the very rules the firmware applies, without linking
//! the firmware. The `charger` crate reads the file (`charger::config::load`).
//!
//! Every section is optional and unknown keys are refused, so a typo never silently falls back to
//! a default. Errors carry the file, the line and the reason: an installer reads them on a
//! console, not in a debugger.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// Serial number when neither the file nor `--serial-number` gives one.
pub const DEFAULT_SERIAL: &str = "CHARGERIG-0001";

/// A configuration problem, located in the file when it comes from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: {}", file.display(), self.reason),
            (Some(file), None) => write!(f, "{}: {}", file.display(), self.reason),
            (None, _) => write!(f, "{}", self.reason),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The file as written (after TOML parsing, before defaults).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub identity: IdentitySection,
    #[serde(default)]
    pub csms: CsmsSection,
    #[serde(default)]
    pub charger: ChargerSection,
    /// OCPP configuration keys: installer values, stored when the key has never been set.
    #[serde(default)]
    pub configuration: BTreeMap<String, Spanned<ScalarValue>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    pub serial_number: Option<Spanned<String>>,
    pub charge_point_id: Option<Spanned<String>>,
    pub vendor: Option<Spanned<String>>,
    pub model: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsmsSection {
    pub url: Option<Spanned<String>>,
    pub reconnect_min_ms: Option<Spanned<u64>>,
    pub reconnect_max_ms: Option<Spanned<u64>>,
    pub pong_timeout_s: Option<Spanned<u64>>,
    /// PEM CA certificates to trust (required for `wss://`).
    pub ca_file: Option<Spanned<String>>,
    /// PEM certificate chain and private key of the charger (security profile 3).
    pub client_cert: Option<Spanned<String>>,
    pub client_key: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargerSection {
    pub authorization: Option<Spanned<String>>,
    pub max_current_a: Option<Spanned<f64>>,
}

/// An OCPP key's value: written as a string in the file, but `60` and `true` are accepted too.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ScalarValue {
    Text(String),
    Integer(i64),
    Bool(bool),
}

impl fmt::Display for ScalarValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalarValue::Text(s) => f.write_str(s),
            ScalarValue::Integer(i) => write!(f, "{i}"),
            ScalarValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The PEM files a `wss://` connection uses, resolved against the config file's directory, with
/// the lines that named them (the files are read by the firmware at start, not here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificates to trust for the central system's certificate.
    pub ca_file: PathBuf,
    /// The charger's certificate chain and key (profile 3), both or neither.
    pub client: Option<(PathBuf, PathBuf)>,
    /// Lines of `ca_file`, `client_cert` and `client_key` in the file.
    pub lines: [Option<usize>; 3],
}

/// Which of the [`TlsFiles`] a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsField {
    CaFile = 0,
    ClientCert = 1,
    ClientKey = 2,
}

impl TlsField {
    pub fn name(self) -> &'static str {
        match self {
            TlsField::CaFile => "csms.ca_file",
            TlsField::ClientCert => "csms.client_cert",
            TlsField::ClientKey => "csms.client_key",
        }
    }
}

/// How the charger authorizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    Rfid,
    /// Free charge: the serial number is the id tag.
    Free,
}

/// Everything the shell needs, defaults applied and command-line overrides resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargerConfig {
    pub serial_number: String,
    pub charge_point_id: String,
    pub vendor: String,
    pub model: String,
    /// The central system URL *without* the charge point id; never carries credentials.
    pub csms_url: String,
    /// The PEM files for `wss://` (checked readable and well-formed at load); `None` for `ws://`.
    pub tls: Option<TlsFiles>,
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    pub pong_timeout_s: u64,
    pub authorization: Authorization,
    pub max_current_a: f32,
    /// OCPP key values from `[configuration]`, in file order of keys (sorted).
    pub installer_config: Vec<(String, String)>,
    /// Line of each `[configuration]` key, so a value the core refuses is reported where it is.
    pub installer_lines: BTreeMap<String, usize>,
    pub file: Option<PathBuf>,
    /// Line of the URL in the file (profile/URL mismatches are reported there too).
    pub url_line: Option<usize>,
}

impl ChargerConfig {
    /// The WebSocket URL: the configured URL with the charge point id appended, as OCPP-J does.
    pub fn endpoint(&self) -> String {
        let base = self.csms_url.trim_end_matches('/');
        format!("{base}/{}", percent_encode_segment(&self.charge_point_id))
    }

    /// The installer's value for an OCPP key, whatever letter case the file used.
    pub fn installer_value(&self, key: &str) -> Option<(&str, &str)> {
        self.installer_config
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The error for a `[configuration]` key, located at its line.
    pub fn installer_error(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.installer_lines.get(key).copied(),
            reason: reason.into(),
        }
    }
}

/// Values the command line gives; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub serial_number: Option<String>,
    pub csms_url: Option<String>,
}

/// [`parse`], then [`validate_installer`]: what the charger accepts at start-up, on text.
pub fn parse_checked(
    text: &str,
    file: Option<&Path>,
    overrides: &Overrides,
) -> Result<ChargerConfig, ConfigError> {
    let cfg = parse(text, file, overrides)?;
    validate_installer(&cfg)?;
    validate_security(&cfg)?;
    Ok(cfg)
}

/// The installer's `SecurityProfile` against the URL and the files (field.md "Connection
/// security"): profiles 0 and 1 speak `ws://`, 2 and 3 `wss://`, and 3 needs a client
/// certificate. What the database holds is checked again when the charger starts.
pub fn validate_security(cfg: &ChargerConfig) -> Result<(), ConfigError> {
    let Some((key, value)) = cfg.installer_value(charger_core::config::Key::SecurityProfile.name())
    else {
        return Ok(());
    };
    let profile: u8 = value.trim().parse().unwrap_or(0);
    let reason = security_mismatch(profile, cfg.tls.as_ref())
        .map(|r| format!("[configuration] SecurityProfile = {profile}: {r}"));
    match reason {
        Some(r) => Err(cfg.installer_error(key, r)),
        None => Ok(()),
    }
}

/// Why `profile` cannot be used with this transport, if it cannot.
pub fn security_mismatch(profile: u8, tls: Option<&TlsFiles>) -> Option<String> {
    match (profile, tls) {
        (0 | 1, Some(_)) => Some(format!(
            "security profile {profile} speaks ws://, but the central-system URL is wss:// (use profile 2 or 3, or a ws:// URL)"
        )),
        (2 | 3, None) => Some(format!(
            "security profile {profile} needs TLS, but the central-system URL is ws:// (use a wss:// URL with csms.ca_file)"
        )),
        (3, Some(files)) if files.client.is_none() => Some(
            "security profile 3 needs csms.client_cert and csms.client_key".to_string(),
        ),
        _ => None,
    }
}

/// Checks the `[configuration]` OCPP keys through `charger_core::validate_entry`.
pub fn validate_installer(cfg: &ChargerConfig) -> Result<(), ConfigError> {
    for (key, value) in &cfg.installer_config {
        charger_core::validate_entry(key, value)
            .map_err(|e| cfg.installer_error(key, format!("[configuration] {e}")))?;
    }
    Ok(())
}

/// Parses configuration text; `file` only labels errors.
pub fn parse(
    text: &str,
    file: Option<&Path>,
    overrides: &Overrides,
) -> Result<ChargerConfig, ConfigError> {
    let parsed: FileConfig = toml::from_str(text).map_err(|e| ConfigError {
        file: file.map(Path::to_path_buf),
        line: e.span().map(|s| line_of(text, s.start)),
        reason: e.message().trim().to_string(),
    })?;
    resolve(parsed, text, file, overrides)
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn resolve(
    f: FileConfig,
    text: &str,
    file: Option<&Path>,
    overrides: &Overrides,
) -> Result<ChargerConfig, ConfigError> {
    let err = |span: Option<Range<usize>>, reason: String| ConfigError {
        file: file.map(Path::to_path_buf),
        line: span.map(|s| line_of(text, s.start)),
        reason,
    };

    let serial_number = match (&overrides.serial_number, &f.identity.serial_number) {
        (Some(sn), _) => check_identity("--serial-number", sn).map_err(|r| err(None, r))?,
        (None, Some(sn)) => check_identity("identity.serial_number", sn.get_ref())
            .map_err(|r| err(Some(sn.span()), r))?,
        (None, None) => DEFAULT_SERIAL.to_string(),
    };
    let charge_point_id = match &f.identity.charge_point_id {
        Some(id) if overrides.serial_number.is_none() => {
            check_identity("identity.charge_point_id", id.get_ref())
                .map_err(|r| err(Some(id.span()), r))?
        }
        // `--serial-number` names the charger being started: it is its charge point id too,
        // so one config file serves many simulated boards.
        _ => serial_number.clone(),
    };
    let text_or = |v: &Option<Spanned<String>>, default: &str| {
        v.as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_else(|| default.to_string())
    };
    let vendor = text_or(&f.identity.vendor, "Chargerig");
    let model = text_or(&f.identity.model, "SimBoard-1");
    if vendor.is_empty() || vendor.len() > 20 {
        return Err(err(
            f.identity.vendor.as_ref().map(|s| s.span()),
            "identity.vendor must be 1 to 20 characters (OCPP CiString20)".into(),
        ));
    }
    if model.is_empty() || model.len() > 20 {
        return Err(err(
            f.identity.model.as_ref().map(|s| s.span()),
            "identity.model must be 1 to 20 characters (OCPP CiString20)".into(),
        ));
    }

    // The file's URL is checked even when --csms-url wins: a bad file is a bad file.
    let file_url = match &f.csms.url {
        Some(url) => Some(
            check_url(url.get_ref())
                .map_err(|r| err(Some(url.span()), format!("csms.url: {r}")))?,
        ),
        None => None,
    };
    let csms_url = match (&overrides.csms_url, file_url) {
        (Some(url), _) => check_url(url).map_err(|r| err(None, format!("--csms-url: {r}")))?,
        (None, Some(url)) => url,
        (None, None) => {
            return Err(err(
                None,
                "no central system URL: pass --csms-url ws://HOST:PORT/PATH or set [csms] url"
                    .into(),
            ))
        }
    };
    let url_span = match (&overrides.csms_url, &f.csms.url) {
        (None, Some(url)) => Some(url.span()),
        _ => None,
    };
    let tls = if csms_url.starts_with("wss://") {
        let Some(ca) = &f.csms.ca_file else {
            return Err(err(
                url_span.clone(),
                "a wss:// URL needs csms.ca_file: the CA certificates (PEM) to trust the central system by".into(),
            ));
        };
        let base = file.and_then(Path::parent).unwrap_or(Path::new(""));
        let path = |s: &Spanned<String>| base.join(s.get_ref());
        let client = match (&f.csms.client_cert, &f.csms.client_key) {
            (Some(c), Some(k)) => Some((path(c), path(k))),
            (None, None) => None,
            (Some(c), None) => {
                return Err(err(
                    Some(c.span()),
                    "csms.client_cert needs csms.client_key too".into(),
                ))
            }
            (None, Some(k)) => {
                return Err(err(
                    Some(k.span()),
                    "csms.client_key needs csms.client_cert too".into(),
                ))
            }
        };
        let line = |v: &Option<Spanned<String>>| v.as_ref().map(|s| line_of(text, s.span().start));
        let files = TlsFiles {
            ca_file: path(ca),
            client,
            lines: [
                Some(line_of(text, ca.span().start)),
                line(&f.csms.client_cert),
                line(&f.csms.client_key),
            ],
        };
        Some(files)
    } else {
        None
    };
    let get_u64 = |v: &Option<Spanned<u64>>, default: u64| {
        v.as_ref().map(|s| *s.get_ref()).unwrap_or(default)
    };
    let span_of = |v: &Option<Spanned<u64>>| v.as_ref().map(|s| s.span());
    let reconnect_min_ms = get_u64(&f.csms.reconnect_min_ms, 1000);
    let reconnect_max_ms = get_u64(&f.csms.reconnect_max_ms, 30_000);
    let pong_timeout_s = get_u64(&f.csms.pong_timeout_s, 10);
    if reconnect_min_ms == 0 || reconnect_min_ms > 3_600_000 {
        return Err(err(
            span_of(&f.csms.reconnect_min_ms),
            format!("csms.reconnect_min_ms = {reconnect_min_ms}: must be between 1 and 3600000"),
        ));
    }
    if reconnect_max_ms < reconnect_min_ms || reconnect_max_ms > 3_600_000 {
        return Err(err(
            span_of(&f.csms.reconnect_max_ms).or(span_of(&f.csms.reconnect_min_ms)),
            format!(
                "csms.reconnect_max_ms = {reconnect_max_ms}: must be at least reconnect_min_ms ({reconnect_min_ms}) and at most 3600000"
            ),
        ));
    }
    if pong_timeout_s == 0 || pong_timeout_s > 3600 {
        return Err(err(
            span_of(&f.csms.pong_timeout_s),
            format!("csms.pong_timeout_s = {pong_timeout_s}: must be between 1 and 3600"),
        ));
    }

    let authorization = match &f.charger.authorization {
        None => Authorization::Rfid,
        Some(a) => match a.get_ref().to_ascii_lowercase().as_str() {
            "rfid" => Authorization::Rfid,
            "free" => Authorization::Free,
            other => {
                return Err(err(
                    Some(a.span()),
                    format!("charger.authorization = {other:?}: must be \"rfid\" or \"free\""),
                ))
            }
        },
    };
    let max_current_a = match &f.charger.max_current_a {
        None => 16.0,
        Some(a) => {
            let v = *a.get_ref();
            if !(6.0..=80.0).contains(&v) {
                return Err(err(
                    Some(a.span()),
                    format!(
                        "charger.max_current_a = {v}: must be between 6 and 80 A (IEC 61851 PWM range)"
                    ),
                ));
            }
            v as f32
        }
    };

    let mut installer_config = Vec::new();
    let mut installer_lines = BTreeMap::new();
    for (key, value) in &f.configuration {
        installer_lines.insert(key.clone(), line_of(text, value.span().start));
        installer_config.push((key.clone(), value.get_ref().to_string()));
    }

    Ok(ChargerConfig {
        serial_number,
        charge_point_id,
        vendor,
        model,
        csms_url,
        tls,
        url_line: url_span.map(|s| line_of(text, s.start)),
        reconnect_min_ms,
        reconnect_max_ms,
        pong_timeout_s,
        authorization,
        max_current_a,
        installer_config,
        installer_lines,
        file: file.map(Path::to_path_buf),
    })
}

/// Identity strings go into OCPP CiString25 fields and the URL path.
fn check_identity(what: &str, value: &str) -> Result<String, String> {
    if value.is_empty() || value.len() > 25 {
        return Err(format!(
            "{what} = {value:?}: must be 1 to 25 characters (OCPP CiString25)"
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '?' | '#'))
    {
        return Err(format!(
            "{what} = {value:?}: only printable ASCII without spaces, '/', '?' or '#'"
        ));
    }
    Ok(value.to_string())
}

/// A `ws://` or `wss://` URL with a host and without credentials. Errors never repeat a user
/// name or password: they would end up in logs and consoles.
fn check_url(url: &str) -> Result<String, String> {
    let shown = without_credentials(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "{shown:?} is not a WebSocket URL: use ws://HOST:PORT/PATH or wss://HOST:PORT/PATH"
        ));
    };
    if scheme != "ws" && scheme != "wss" {
        return Err(format!(
            "{shown:?} is not a WebSocket URL: use ws://HOST:PORT/PATH or wss://HOST:PORT/PATH"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(format!(
            "{shown:?}: a user name or password in the URL is refused; the password is the [configuration] AuthorizationKey (security profiles 1 and 2)"
        ));
    }
    if authority.is_empty() {
        return Err(format!(
            "{shown:?} has no host: use {scheme}://HOST:PORT/PATH"
        ));
    }
    Ok(url.to_string())
}

/// `url` with any `user:password@` replaced by `***@`, for logs and error messages.
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// Percent-encodes anything outside RFC 3986 unreserved characters.
fn percent_encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Overrides {
        Overrides {
            csms_url: Some("ws://127.0.0.1:9000/ocpp".into()),
            ..Default::default()
        }
    }

    #[test]
    fn full_example_parses_with_overrides_winning() {
        let text = r#"
[identity]
serial_number = "SN-FILE"
vendor = "Chargerig"
model = "SimBoard-1"

[csms]
url = "ws://10.0.0.1:9000/ocpp/"
reconnect_min_ms = 200
reconnect_max_ms = 2000
pong_timeout_s = 3

[charger]
authorization = "free"
max_current_a = 32

[configuration]
AllowOfflineTxForUnknownId = "true"
HeartbeatInterval = 60
"#;
        let cfg = parse(text, None, &Overrides::default()).unwrap();
        assert_eq!(cfg.endpoint(), "ws://10.0.0.1:9000/ocpp/SN-FILE");
        assert_eq!(cfg.authorization, Authorization::Free);
        assert_eq!(cfg.max_current_a, 32.0);
        assert_eq!(
            cfg.installer_config,
            [
                ("AllowOfflineTxForUnknownId".to_string(), "true".to_string()),
                ("HeartbeatInterval".to_string(), "60".to_string())
            ]
        );
        assert_eq!(cfg.installer_lines["HeartbeatInterval"], 19);

        let over = Overrides {
            serial_number: Some("SN-CLI".into()),
            csms_url: Some("ws://h:1/x".into()),
        };
        let cfg = parse(text, None, &over).unwrap();
        assert_eq!(cfg.serial_number, "SN-CLI");
        assert_eq!(cfg.endpoint(), "ws://h:1/x/SN-CLI");
    }

    #[test]
    fn unknown_key_is_reported_with_file_and_line() {
        let text = "[csms]\nreconnect_min_ms = 10\nreconect_max_ms = 20\n";
        let err = parse(text, Some(Path::new("c.toml")), &url()).unwrap_err();
        assert_eq!(err.line, Some(3));
        let msg = err.to_string();
        assert!(msg.starts_with("c.toml:3:"), "{msg}");
        assert!(msg.contains("reconect_max_ms"), "{msg}");
    }

    #[test]
    fn invalid_values_are_refused_at_their_line() {
        for (text, line, needle) in [
            ("[charger]\n\nmax_current_a = 100\n", 3, "max_current_a"),
            ("[charger]\nauthorization = \"pin\"\n", 2, "authorization"),
            (
                "[csms]\nreconnect_min_ms = 500\nreconnect_max_ms = 100\n",
                3,
                "reconnect_max_ms",
            ),
            ("[csms]\nurl = \"http://x\"\n", 2, "not a WebSocket URL"),
            ("[identity]\nserial_number = \"a b\"\n", 2, "serial_number"),
            ("[csms]\npong_timeout_s = \"ten\"\n", 2, "expected u64"),
        ] {
            let err = parse(text, Some(Path::new("f.toml")), &url()).expect_err(text);
            assert_eq!(err.line, Some(line), "{text}: {err}");
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn missing_url_names_both_ways_to_give_it() {
        let err = parse("", None, &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("--csms-url"), "{err}");
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let cfg = parse("", None, &url()).unwrap();
        assert_eq!(cfg.serial_number, DEFAULT_SERIAL);
        assert_eq!(cfg.charge_point_id, DEFAULT_SERIAL);
        assert_eq!((cfg.reconnect_min_ms, cfg.reconnect_max_ms), (1000, 30_000));
        assert_eq!(cfg.authorization, Authorization::Rfid);
    }

    #[test]
    fn charge_point_id_is_percent_encoded_in_the_url() {
        let text = "[identity]\ncharge_point_id = \"CP%1\"\n";
        let cfg = parse(text, None, &url()).unwrap();
        assert_eq!(cfg.endpoint(), "ws://127.0.0.1:9000/ocpp/CP%251");
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_being_repeated() {
        for url in ["ws://cp:hunter22@h:9/ocpp", "wss://hunter22@h/ocpp"] {
            let text = format!("[csms]\nurl = \"{url}\"\n");
            let err = parse(&text, None, &Overrides::default()).unwrap_err();
            assert_eq!(err.line, Some(2));
            assert!(err.reason.contains("password in the URL"), "{err}");
            assert!(!err.reason.contains("hunter22"), "{err}");
        }
        assert_eq!(
            without_credentials("ws://cp:pw@h:9/a@b"),
            "ws://***@h:9/a@b"
        );
        assert_eq!(without_credentials("ws://h:9/a@b"), "ws://h:9/a@b");
    }
}
