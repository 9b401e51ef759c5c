//! Rig profiles (`fixtures/rigs/*.toml`): which board link, power switch, network gate and
//! central-system address a run uses, the charger configuration overrides, what to skip, and
//! the time budgets. The default profile is the simulated board on this machine.

use chargerig_link::LinkSpec;

// Driver settings live next to their drivers; the profile composes them.
pub use crate::gate::{GateChoice, NftablesConfig};
pub use crate::power::PowerChoice;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The default profile, compiled in so `rig` works from any directory.
pub const SIM_PROFILE_TOML: &str = include_str!("../../fixtures/rigs/sim.toml");
/// Where the default profile lives in the workspace.
pub const SIM_PROFILE_PATH: &str = "fixtures/rigs/sim.toml";

/// A profile problem, located in the file: `FILE:LINE: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub reason: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self
            .file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<profile>".into());
        match self.line {
            Some(line) => write!(f, "{file}:{line}: {}", self.reason),
            None => write!(f, "{file}: {}", self.reason),
        }
    }
}

impl std::error::Error for ProfileError {}

/// Which board link: a simulated board the rig starts, or a real carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChoice {
    Sim,
    Real(LinkSpec),
}

/// Scenarios with this tag are reported as skipped, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipTag {
    pub tag: String,
    pub reason: String,
}

/// A loaded, validated profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub path: Option<PathBuf>,
    pub name: String,
    pub description: String,
    pub link: LinkChoice,
    pub power: PowerChoice,
    pub network: GateChoice,
    /// Where the test central system listens.
    pub csms_bind: SocketAddr,
    /// URL the charger must use; `{gate}` is replaced by the address the charger should
    /// connect to (the proxy's when there is one), `{csms}` by the central system's.
    pub charger_url: String,
    /// argv of the simulated charger, before its own flags; `None` = this rig's `charger`
    /// subcommand.
    pub charger_program: Option<Vec<String>>,
    /// Merged into the charger's `--config` file (same shape: identity, csms, charger,
    /// configuration).
    pub charger_config: toml::Table,
    pub skip_tags: Vec<SkipTag>,
    pub concurrency: usize,
    /// Longest any waiting step may wait.
    pub step_deadline: Duration,
    /// Longest a whole scenario may run.
    pub scenario_watchdog: Duration,
    /// The bench lock (a file on the rig host): runs and one-shots that use the bench take it,
    /// so two people or two CI jobs never share a board, its relay or its nftables table.
    pub lock: Option<PathBuf>,
    /// Commands that build the bench before a run (`[bench] setup`, e.g. a network namespace).
    pub bench_setup: Vec<String>,
    /// Commands that remove it: run before the setup (a killed run's leftovers) and whatever
    /// ends the run. They must tolerate finding nothing to remove.
    pub bench_teardown: Vec<String>,
    /// On a bench: what the board was provisioned with for security profiles (`[csms.security]`).
    pub csms_security: Option<BenchSecurity>,
}

/// In `[charger] program`, stands for the charger program the rig finds (or builds).
pub const CHARGER_PLACEHOLDER: &str = "{charger}";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchSection {
    #[serde(default)]
    setup: Vec<String>,
    #[serde(default)]
    teardown: Vec<String>,
}

/// A bench's security provisioning, as its profile names it: the rig's central system must
/// present a certificate the board trusts, verify the board's client certificate and expect
/// the board's AuthorizationKey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchSecurity {
    /// PEM certificate (chain) for the rig host, signed by the CA the board's `ca_file` holds.
    pub server_cert: PathBuf,
    /// Its PEM private key.
    pub server_key: PathBuf,
    /// PEM CA that signed the board's client certificate (profile 3).
    pub client_ca: Option<PathBuf>,
    /// The AuthorizationKey (hex) the board was provisioned with (profiles 1 and 2).
    pub authorization_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: Option<String>,
    description: Option<String>,
    link: Option<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    lock: Option<PathBuf>,
    step_deadline_s: Option<Spanned<f64>>,
    scenario_watchdog_s: Option<Spanned<f64>>,
    #[serde(default)]
    power: PowerSection,
    #[serde(default)]
    network: NetworkSection,
    #[serde(default)]
    csms: CsmsSection,
    #[serde(default)]
    charger: ChargerSection,
    #[serde(default)]
    skip_tags: Vec<Spanned<SkipTag>>,
    #[serde(default)]
    bench: BenchSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PowerSection {
    switch: Option<Spanned<String>>,
    on: Option<String>,
    off: Option<String>,
    settle_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkSection {
    gate: Option<Spanned<String>>,
    #[serde(default)]
    nftables: NftablesConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CsmsSection {
    bind: Option<Spanned<String>>,
    charger_url: Option<Spanned<String>>,
    security: Option<Spanned<SecuritySection>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecuritySection {
    server_cert: Option<Spanned<String>>,
    server_key: Option<Spanned<String>>,
    client_ca: Option<Spanned<String>>,
    authorization_key: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChargerSection {
    program: Option<Vec<String>>,
    config: Option<Spanned<toml::Table>>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Profile {
    /// Loads and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
            file: Some(path.to_path_buf()),
            line: None,
            reason: format!("cannot read the profile: {e} (profiles live in fixtures/rigs/)"),
        })?;
        Self::parse(&text, Some(path))
    }

    /// The built-in simulated-board profile.
    pub fn sim_default() -> Profile {
        Self::parse(SIM_PROFILE_TOML, Some(Path::new(SIM_PROFILE_PATH)))
            .expect("the built-in sim profile is valid (tested)")
    }

    /// `path` if given, else the built-in default.
    pub fn load_or_default(path: Option<&Path>) -> Result<Profile, ProfileError> {
        match path {
            Some(p) => Self::load(p),
            None => Ok(Self::sim_default()),
        }
    }

    pub fn parse(text: &str, path: Option<&Path>) -> Result<Profile, ProfileError> {
        let err = |span: Option<Range<usize>>, reason: String| ProfileError {
            file: path.map(Path::to_path_buf),
            line: span.map(|s| line_of(text, s.start)),
            reason,
        };
        let f: ProfileFile = toml::from_str(text).map_err(|e| {
            err(
                e.span(),
                format!(
                    "{} (see fixtures/rigs/sim.toml for every key)",
                    e.message().trim()
                ),
            )
        })?;

        let link = match &f.link {
            None => LinkChoice::Sim,
            Some(s) if s.get_ref() == "sim" => LinkChoice::Sim,
            Some(s) => LinkChoice::Real(
                LinkSpec::parse(s.get_ref())
                    .map_err(|e| err(Some(s.span()), format!("link: {e}, or \"sim\"")))?,
            ),
        };

        let power = match f
            .power
            .switch
            .as_ref()
            .map(|s| (s.get_ref().as_str(), s.span()))
        {
            None | Some(("sim", _)) => {
                if link != LinkChoice::Sim {
                    return Err(err(
                        f.power
                            .switch
                            .as_ref()
                            .or(f.link.as_ref())
                            .map(Spanned::span),
                        "power: a real board cannot be switched by the simulator: set [power] switch = \"command\" with on/off, or \"none\"".into(),
                    ));
                }
                PowerChoice::Sim
            }
            Some(("none", _)) => PowerChoice::None,
            Some(("command", span)) => match (&f.power.on, &f.power.off) {
                (Some(on), Some(off)) if !on.trim().is_empty() && !off.trim().is_empty() => {
                    PowerChoice::Command {
                        on: on.clone(),
                        off: off.clone(),
                        settle: Duration::from_millis(f.power.settle_ms.unwrap_or(1000)),
                    }
                }
                _ => {
                    return Err(err(
                        Some(span),
                        "power: switch = \"command\" needs both `on` and `off` shell commands"
                            .into(),
                    ))
                }
            },
            Some((other, span)) => {
                return Err(err(
                    Some(span),
                    format!(
                        "power: unknown switch {other:?}: use \"sim\", \"command\" or \"none\""
                    ),
                ))
            }
        };

        let network = match f
            .network
            .gate
            .as_ref()
            .map(|s| (s.get_ref().as_str(), s.span()))
        {
            None | Some(("proxy", _)) => GateChoice::Proxy,
            Some(("nftables", span)) => {
                let n = f.network.nftables.clone();
                let explicit = n.cut.is_some() && n.refuse.is_some() && n.restore.is_some();
                if !explicit && n.board_ip.is_none() {
                    return Err(err(
                        Some(span),
                        "network: gate = \"nftables\" needs [network.nftables] board_ip (and csms_port, or every TCP port of the board is matched), or explicit cut/refuse/restore commands".into(),
                    ));
                }
                if let Some(ip) = &n.board_ip {
                    if ip.parse::<std::net::IpAddr>().is_err() {
                        return Err(err(
                            Some(span),
                            format!("network.nftables.board_ip {ip:?} is not an IP address"),
                        ));
                    }
                }
                GateChoice::Nftables(n)
            }
            Some((other, span)) => {
                return Err(err(
                    Some(span),
                    format!("network: unknown gate {other:?}: use \"proxy\" or \"nftables\""),
                ))
            }
        };

        let csms_bind = match &f.csms.bind {
            None => SocketAddr::from(([127, 0, 0, 1], 0)),
            Some(s) => s.get_ref().parse().map_err(|_| {
                err(
                    Some(s.span()),
                    format!(
                        "csms.bind {:?} is not IP:PORT (e.g. \"127.0.0.1:0\" or \"0.0.0.0:9000\")",
                        s.get_ref()
                    ),
                )
            })?,
        };
        let charger_url = match &f.csms.charger_url {
            None => "ws://{gate}/ocpp".to_string(),
            Some(s) => {
                let u = s.get_ref();
                if !(u.starts_with("ws://") || u.starts_with("wss://")) {
                    return Err(err(
                        Some(s.span()),
                        format!("csms.charger_url {u:?} must start with ws:// or wss://"),
                    ));
                }
                u.clone()
            }
        };

        let csms_security = match &f.csms.security {
            None => None,
            Some(sec) => {
                let base = path.and_then(Path::parent).unwrap_or(Path::new(""));
                let s = sec.get_ref();
                let file = |v: &Option<Spanned<String>>,
                            name: &str|
                 -> Result<Option<PathBuf>, ProfileError> {
                    match v {
                        None => Ok(None),
                        Some(p) => {
                            let full = base.join(p.get_ref());
                            std::fs::metadata(&full).map_err(|e| {
                                err(
                                    Some(p.span()),
                                    format!("csms.security.{name} {}: {e}", full.display()),
                                )
                            })?;
                            Ok(Some(full))
                        }
                    }
                };
                let (Some(server_cert), Some(server_key)) = (
                    file(&s.server_cert, "server_cert")?,
                    file(&s.server_key, "server_key")?,
                ) else {
                    return Err(err(
                        Some(sec.span()),
                        "csms.security needs server_cert and server_key (a certificate for the rig host from the CA the board trusts)".into(),
                    ));
                };
                if let Some(k) = &s.authorization_key {
                    let hex = k.get_ref();
                    let ok = (32..=40).contains(&hex.len())
                        && hex.len().is_multiple_of(2)
                        && hex.bytes().all(|b| b.is_ascii_hexdigit());
                    if !ok {
                        return Err(err(
                            Some(k.span()),
                            "csms.security.authorization_key: 32 to 40 hexadecimal digits".into(),
                        ));
                    }
                }
                Some(BenchSecurity {
                    server_cert,
                    server_key,
                    client_ca: file(&s.client_ca, "client_ca")?,
                    authorization_key: s.authorization_key.as_ref().map(|k| k.get_ref().clone()),
                })
            }
        };

        let charger_config = match &f.charger.config {
            None => toml::Table::new(),
            Some(t) => {
                for key in t.get_ref().keys() {
                    if !["identity", "csms", "charger", "configuration"].contains(&key.as_str()) {
                        return Err(err(
                            Some(t.span()),
                            format!("charger.config: unknown section {key:?}: the charger's config file has identity, csms, charger, configuration"),
                        ));
                    }
                }
                if link != LinkChoice::Sim {
                    if let Some(key) = t.get_ref().keys().find(|k| *k != "configuration") {
                        return Err(err(
                            Some(t.span()),
                            format!("charger.config.{key}: the rig cannot set a real board's firmware settings (only [charger.config.configuration] OCPP keys, sent by ChangeConfiguration once the board is online): provision the board with them and remove this table"),
                        ));
                    }
                }
                check_charger_config(text, t.get_ref(), t.span()).map_err(|(line, reason)| {
                    ProfileError {
                        file: path.map(Path::to_path_buf),
                        line: Some(line),
                        reason,
                    }
                })?;
                t.get_ref().clone()
            }
        };
        if let Some(p) = &f.charger.program {
            if p.is_empty() {
                return Err(err(None, "charger.program is empty: give the argv, e.g. [\"target/debug/charger\"], or remove it".into()));
            }
        }

        let concurrency = match &f.concurrency {
            None => {
                if link == LinkChoice::Sim {
                    4
                } else {
                    1
                }
            }
            Some(c) => {
                let n = *c.get_ref();
                if n < 1 {
                    return Err(err(
                        Some(c.span()),
                        format!("concurrency = {n}: must be at least 1"),
                    ));
                }
                if n > 1 && link != LinkChoice::Sim {
                    return Err(err(
                        Some(c.span()),
                        format!("concurrency = {n}: a bench has one board, so scenarios cannot run concurrently: set concurrency = 1"),
                    ));
                }
                n as usize
            }
        };
        let seconds = |v: &Option<Spanned<f64>>,
                       key: &str,
                       default: f64|
         -> Result<Duration, ProfileError> {
            match v {
                None => Ok(Duration::from_secs_f64(default)),
                Some(s)
                    if s.get_ref().is_finite() && *s.get_ref() > 0.0 && *s.get_ref() < 86_400.0 =>
                {
                    Ok(Duration::from_secs_f64(*s.get_ref()))
                }
                Some(s) => Err(err(
                    Some(s.span()),
                    format!(
                        "{key} = {}: must be a positive number of seconds",
                        s.get_ref()
                    ),
                )),
            }
        };
        let step_deadline = seconds(&f.step_deadline_s, "step_deadline_s", 30.0)?;
        let scenario_watchdog = seconds(&f.scenario_watchdog_s, "scenario_watchdog_s", 300.0)?;
        if scenario_watchdog < step_deadline {
            return Err(err(
                f.scenario_watchdog_s.as_ref().map(Spanned::span),
                "scenario_watchdog_s is shorter than step_deadline_s: a single step could outlive its scenario".into(),
            ));
        }

        let mut skip_tags = Vec::new();
        for s in &f.skip_tags {
            let t = s.get_ref();
            if !t.tag.starts_with('@') || t.tag.len() < 2 || t.tag.contains(char::is_whitespace) {
                return Err(err(
                    Some(s.span()),
                    format!("skip_tags: tag {:?} must look like \"@power\"", t.tag),
                ));
            }
            if t.reason.trim().is_empty() {
                return Err(err(
                    Some(s.span()),
                    format!(
                        "skip_tags: tag {} needs a reason (it is printed in the report)",
                        t.tag
                    ),
                ));
            }
            skip_tags.push(t.clone());
        }
        if power == PowerChoice::None && !skip_tags.iter().any(|s| s.tag == "@power") {
            return Err(err(
                f.power.switch.as_ref().map(Spanned::span),
                "power: switch = \"none\" but @power scenarios are not skipped: add [[skip_tags]] tag = \"@power\" with a reason".into(),
            ));
        }

        Ok(Profile {
            path: path.map(Path::to_path_buf),
            name: f.name.unwrap_or_else(|| {
                path.and_then(|p| p.file_stem())
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "profile".into())
            }),
            description: f.description.unwrap_or_default(),
            link,
            power,
            network,
            csms_bind,
            charger_url,
            csms_security,
            charger_program: f.charger.program,
            charger_config,
            skip_tags,
            concurrency,
            step_deadline,
            scenario_watchdog,
            // Relative to the profile's folder, so a profile and its lock travel together.
            bench_setup: f.bench.setup,
            bench_teardown: f.bench.teardown,
            lock: f.lock.map(|l| match path.and_then(Path::parent) {
                Some(dir) if l.is_relative() => dir.join(l),
                _ => l,
            }),
        })
    }

    /// True when the rig starts simulated boards itself.
    pub fn is_sim(&self) -> bool {
        self.link == LinkChoice::Sim
    }

    /// The URL the charger is configured with, given where it should connect and where the
    /// central system really is.
    pub fn charger_url_for(&self, gate: SocketAddr, csms: SocketAddr) -> String {
        self.charger_url
            .replace("{gate}", &gate.to_string())
            .replace("{csms}", &csms.to_string())
    }

    /// The skip entry that applies to a scenario with these tags (with or without `@`).
    pub fn skip_reason<S: AsRef<str>>(&self, tags: &[S]) -> Option<&SkipTag> {
        self.skip_tags.iter().find(|s| {
            tags.iter()
                .any(|t| t.as_ref().trim_start_matches('@') == s.tag.trim_start_matches('@'))
        })
    }

    /// The OCPP keys of `[charger.config.configuration]`, values as OCPP strings. A real
    /// board gets them by ChangeConfiguration once online (a simulated one reads them from
    /// its configuration file), so the profile's timers hold on a bench too.
    pub fn board_ocpp_keys(&self) -> Vec<(String, String)> {
        let Some(toml::Value::Table(keys)) = self.charger_config.get("configuration") else {
            return Vec::new();
        };
        keys.iter()
            .map(|(k, v)| {
                let value = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), value)
            })
            .collect()
    }

    /// Deep-merges the profile's charger overrides into a charger config table
    /// (profile values win).
    pub fn apply_charger_config(&self, target: &mut toml::Table) {
        merge(target, &self.charger_config);
    }
}

/// Runs the charger's own configuration checks (file format and every OCPP key's rules) on
/// the overrides, so a bad value is reported at its line in the profile before any board
/// starts, not later in a generated file inside the artifacts.
fn check_charger_config(
    profile_text: &str,
    table: &toml::Table,
    span: Range<usize>,
) -> Result<(), (usize, String)> {
    let generated =
        toml::to_string(table).map_err(|e| (line_of(profile_text, span.start), e.to_string()))?;
    let overrides = charger_config::Overrides {
        serial_number: None,
        csms_url: Some("ws://127.0.0.1:9/ocpp".into()),
    };
    let result = charger_config::parse_checked(&generated, None, &overrides);
    let Err(e) = result else { return Ok(()) };
    // Find the offending key in the profile: the key of the generated line the charger named.
    let key = e
        .line
        .and_then(|l| generated.lines().nth(l - 1))
        .and_then(|l| l.split('=').next())
        .map(|k| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    let start = line_of(profile_text, span.start);
    let line = key
        .and_then(|k| {
            profile_text
                .lines()
                .enumerate()
                .skip(start - 1)
                .find(|(_, l)| {
                    let l = l.trim_start();
                    l.strip_prefix(k.as_str())
                        .or_else(|| l.strip_prefix(&format!("\"{k}\"")))
                        .is_some_and(|rest| rest.trim_start().starts_with('='))
                })
                .map(|(i, _)| i + 1)
        })
        .unwrap_or(start);
    Err((
        line,
        format!("charger.config: {} (the charger's own check)", e.reason),
    ))
}

fn merge(target: &mut toml::Table, src: &toml::Table) {
    for (k, v) in src {
        match (target.get_mut(k), v) {
            (Some(toml::Value::Table(t)), toml::Value::Table(s)) => merge(t, s),
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Profile, ProfileError> {
        Profile::parse(s, Some(Path::new("bad.toml")))
    }

    #[test]
    fn builtin_sim_profile_is_valid() {
        let p = Profile::sim_default();
        assert_eq!(p.link, LinkChoice::Sim);
        assert_eq!(p.power, PowerChoice::Sim);
        assert_eq!(p.network, GateChoice::Proxy);
        assert_eq!(p.concurrency, 4);
        assert!(p.charger_config["configuration"]
            .get("WebSocketPingInterval")
            .is_some());
        let url = p.charger_url_for(
            "127.0.0.1:4000".parse().unwrap(),
            "127.0.0.1:5000".parse().unwrap(),
        );
        assert_eq!(url, "ws://127.0.0.1:4000/ocpp");
    }

    #[test]
    fn bench_example_is_valid() {
        let p = Profile::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/rigs/bench-example.toml"
        )))
        .unwrap();
        assert!(matches!(p.link, LinkChoice::Real(LinkSpec::Slcan { .. })));
        assert!(matches!(p.power, PowerChoice::Command { .. }));
        assert!(matches!(p.network, GateChoice::Nftables(_)));
        assert_eq!(p.concurrency, 1);
        assert_eq!(
            p.board_ocpp_keys(),
            [
                ("HeartbeatInterval".to_string(), "60".to_string()),
                ("WebSocketPingInterval".to_string(), "10".to_string()),
            ]
        );
    }

    #[test]
    fn board_ocpp_keys_are_strings_whatever_the_toml_type() {
        let p = parse("[charger.config.configuration]\nMeterValueSampleInterval = 11\nAllowOfflineTxForUnknownId = true\nHeartbeatInterval = \"30\"\n").unwrap();
        assert_eq!(
            p.board_ocpp_keys(),
            [
                ("AllowOfflineTxForUnknownId".to_string(), "true".to_string()),
                ("HeartbeatInterval".to_string(), "30".to_string()),
                ("MeterValueSampleInterval".to_string(), "11".to_string()),
            ]
        );
        assert!(parse("").unwrap().board_ocpp_keys().is_empty());
    }

    #[test]
    fn a_real_board_profile_refuses_firmware_settings_the_rig_cannot_apply() {
        let bench = "link = \"slcan:/dev/ttyACM0\"\n[power]\nswitch = \"none\"\n[[skip_tags]]\ntag = \"@power\"\nreason = \"no relay\"\n";
        for (section, key) in [
            ("csms", "reconnect_min_ms = 100"),
            ("identity", "vendor = \"X\""),
            ("charger", "max_current_a = 16"),
        ] {
            let text = format!("{bench}[charger.config.{section}]\n{key}\n");
            let e = parse(&text).expect_err(&text);
            assert_eq!(e.line, Some(7), "{e}");
            assert!(
                e.reason.contains(&format!("charger.config.{section}")),
                "{e}"
            );
            assert!(e.reason.contains("provision the board"), "{e}");
        }
        let ok = format!("{bench}[charger.config.configuration]\nHeartbeatInterval = \"30\"\n");
        assert_eq!(parse(&ok).unwrap().board_ocpp_keys().len(), 1);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let e = parse("name = \"x\"\n\n[power]\nswitch = \"sim\"\nswtich = \"x\"\n").unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.to_string().starts_with("bad.toml:5: "), "{e}");
        assert!(e.reason.contains("swtich"), "{e}");
    }

    #[test]
    fn syntax_errors_have_lines() {
        let e = parse("name = \"x\"\nconcurrency = \n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn invalid_values_name_key_and_fix() {
        let cases = [
            ("link = \"serial:/dev/x\"\n", 1, "slcan:DEVICE"),
            ("concurrency = 0\n", 1, "at least 1"),
            ("link = \"slcan:/dev/ttyACM0\"\nconcurrency = 2\n[power]\nswitch = \"none\"\n[[skip_tags]]\ntag = \"@power\"\nreason = \"no relay\"\n", 2, "set concurrency = 1"),
            ("[power]\nswitch = \"command\"\non = \"relay on\"\n", 2, "needs both"),
            ("[power]\nswitch = \"relay\"\n", 2, "unknown switch"),
            ("[network]\ngate = \"nftables\"\n", 2, "board_ip"),
            ("[network]\ngate = \"iptables\"\n", 2, "unknown gate"),
            ("[csms]\nbind = \"localhost\"\n", 2, "IP:PORT"),
            ("[csms]\ncharger_url = \"http://x\"\n", 2, "ws://"),
            ("step_deadline_s = -1\n", 1, "positive"),
            ("step_deadline_s = 30\nscenario_watchdog_s = 10\n", 2, "shorter"),
            ("[[skip_tags]]\ntag = \"power\"\nreason = \"x\"\n", 1, "@power"),
            ("[[skip_tags]]\ntag = \"@power\"\nreason = \"\"\n", 1, "needs a reason"),
            ("[charger.config.identiy]\nserial_number = \"x\"\n", 1, "unknown section"),
            ("link = \"slcan:/dev/ttyACM0\"\n", 1, "cannot be switched"),
            ("link = \"slcan:/dev/ttyACM0\"\n[power]\nswitch = \"none\"\n", 3, "not skipped"),
            ("name = \"x\"\n[charger.config.configuration]\nWebSocketPingInterval = \"2\"\nHeartbeatInterval = \"soon\"\n", 4, "HeartbeatInterval"),
            ("[charger.config.csms]\nreconnect_min_ms = 100\nreconect_max_ms = 1\n", 3, "reconect_max_ms"),
        ];
        for (text, line, needle) in cases {
            let e = parse(text).expect_err(text);
            assert!(e.reason.contains(needle), "{text:?}: {e}");
            assert_eq!(e.line, Some(line), "{text:?}: {e}");
        }
    }

    #[test]
    fn skip_tags_match_with_or_without_at() {
        let p = parse("[[skip_tags]]\ntag = \"@power\"\nreason = \"no relay\"\n").unwrap();
        assert_eq!(p.skip_reason(&["power"]).unwrap().reason, "no relay");
        assert_eq!(p.skip_reason(&["@timing", "@power"]).unwrap().tag, "@power");
        assert!(p.skip_reason(&["@timing"]).is_none());
    }

    #[test]
    fn charger_config_merges_deeply() {
        let p = parse("[charger.config.configuration]\nHeartbeatInterval = \"30\"\n[charger.config.csms]\nreconnect_min_ms = 200\n").unwrap();
        let mut t: toml::Table = toml::from_str("[identity]\nserial_number = \"A\"\n[configuration]\nMeterValueSampleInterval = \"5\"\nHeartbeatInterval = \"60\"\n").unwrap();
        p.apply_charger_config(&mut t);
        assert_eq!(t["configuration"]["HeartbeatInterval"].as_str(), Some("30"));
        assert_eq!(
            t["configuration"]["MeterValueSampleInterval"].as_str(),
            Some("5")
        );
        assert_eq!(t["identity"]["serial_number"].as_str(), Some("A"));
        assert_eq!(t["csms"]["reconnect_min_ms"].as_integer(), Some(200));
    }

    #[test]
    fn a_bench_names_its_security_files_relative_to_the_profile() {
        let dir = std::env::temp_dir().join(format!("rig-profile-sec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["csms.pem", "csms.key", "cp-ca.pem"] {
            std::fs::write(dir.join(f), "not checked here").unwrap();
        }
        let profile = dir.join("bench.toml");
        let text = "[csms]\ncharger_url = \"wss://rig.local:9000/ocpp\"\n[csms.security]\nserver_cert = \"csms.pem\"\nserver_key = \"csms.key\"\nclient_ca = \"cp-ca.pem\"\nauthorization_key = \"3031323334353637383930313233343536373839\"\n";
        let p = Profile::parse(text, Some(&profile)).unwrap();
        let sec = p.csms_security.unwrap();
        assert_eq!(sec.server_cert, dir.join("csms.pem"));
        assert_eq!(sec.client_ca, Some(dir.join("cp-ca.pem")));

        let missing = text.replace("csms.key", "nope.key");
        let e = Profile::parse(&missing, Some(&profile))
            .unwrap_err()
            .to_string();
        assert!(e.contains(":5:") && e.contains("nope.key"), "{e}");
        let bad_key = text.replace("3031323334353637383930313233343536373839", "xyz");
        let e = Profile::parse(&bad_key, Some(&profile))
            .unwrap_err()
            .to_string();
        assert!(e.contains("authorization_key"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
