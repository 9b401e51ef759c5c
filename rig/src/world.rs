//! The per-scenario world: pending charger configuration, the test central system, and the
//! bench (board, network gate, power) started lazily on first use.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chargerig_link::{BoardStatus, Frame};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::bench::{Bench, BenchSpec, ChargerConfigFile};
use crate::csms::{
    key_bytes, server_config_from_files, Answer, ChargerFiles, Csms, History, Requirement, TestCa,
};
use crate::link::{status_line, BoardView, EventRecord};
use crate::profile::Profile;

/// A fault the scenario injected, for `faults.jsonl` and failure reports.
#[derive(Debug, Clone, Serialize)]
pub struct StepFault {
    pub at: DateTime<Utc>,
    pub fault: String,
}

/// Serial number (and charge point id) unless a scenario sets one.
pub const DEFAULT_SERIAL: &str = charger_config::DEFAULT_SERIAL;

/// The profile of the run in progress: the one piece of run state a world needs, and the only
/// process-wide one, because cucumber builds worlds without arguments.
static PROFILE: std::sync::Mutex<Option<Arc<Profile>>> = std::sync::Mutex::new(None);

/// Makes `profile` the one new worlds get (`None` at the end of a run).
pub fn install_profile(profile: Option<Arc<Profile>>) {
    *PROFILE.lock().unwrap_or_else(|e| e.into_inner()) = profile;
}

fn current_profile() -> Option<Arc<Profile>> {
    PROFILE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The scenario's world.
pub struct RigWorld {
    /// The run's profile (the runner installs it: cucumber builds worlds without arguments).
    pub profile: Arc<Profile>,
    /// Scenario name and artifact folder (set by the runner before the first step).
    pub scenario: String,
    pub artifacts: PathBuf,
    pub began: DateTime<Utc>,
    /// OCPP keys for the charger's configuration file (before boot).
    pub ocpp_keys: BTreeMap<String, String>,
    pub free_charge: bool,
    pub serial_number: String,
    pub csms: Option<Csms>,
    pub bench: Option<Bench>,
    /// The charger's answer to the last central-system request.
    pub last_answer: Option<(String, Answer)>,
    /// The last GetConfiguration response.
    pub last_configuration: Option<Value>,
    pub faults: Vec<StepFault>,
    /// Connection number current when the last network fault was injected.
    pub fault_connection: u32,
    /// Per action: history position after the last message a `receives` step matched.
    pub cursors: HashMap<String, usize>,
    /// History length when the board last (re)started: its BootNotification comes after it.
    pub boot_mark: usize,
    /// History length after the last setting-up step that ran a session of its own.
    pub setup_mark: usize,
    /// The profile skips this scenario: its (Background) steps do nothing.
    pub skipping: bool,
    /// The scenario watchdog: no wait goes past it.
    pub watchdog: Instant,
    /// `the central system requires security profile N` (set before boot).
    pub security_profile: Option<u8>,
    /// The key the central system expects when a step named one (else the charger's own).
    pub expected_key: Option<Vec<u8>>,
    /// Every AuthorizationKey (hex) a step named, for `the charger never reveals ...`.
    pub known_keys: Vec<String>,
    /// Refusals already in the history at the last `expects the AuthorizationKey` step.
    pub refusal_mark: usize,
    /// The PEM files written for the simulated charger (profiles 2 and 3).
    pub security_files: Option<ChargerFiles>,
}

impl std::fmt::Debug for RigWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RigWorld")
            .field("scenario", &self.scenario)
            .field("artifacts", &self.artifacts)
            .field("started", &self.bench.is_some())
            .finish()
    }
}

impl cucumber::World for RigWorld {
    type Error = String;

    async fn new() -> Result<Self, String> {
        let profile = current_profile().ok_or("the rig's run profile is not set")?;
        let watchdog = profile.scenario_watchdog;
        Ok(RigWorld {
            serial_number: DEFAULT_SERIAL.to_string(),
            profile,
            scenario: String::new(),
            artifacts: PathBuf::new(),
            began: Utc::now(),
            ocpp_keys: BTreeMap::new(),
            free_charge: false,
            csms: None,
            bench: None,
            last_answer: None,
            last_configuration: None,
            faults: Vec::new(),
            fault_connection: 0,
            cursors: HashMap::new(),
            boot_mark: 0,
            setup_mark: 0,
            skipping: false,
            watchdog: Instant::now() + watchdog,
            security_profile: None,
            expected_key: None,
            known_keys: Vec::new(),
            refusal_mark: 0,
            security_files: None,
        })
    }
}

impl RigWorld {
    /// The per-step deadline from the profile.
    pub fn step_deadline(&self) -> Duration {
        self.profile.step_deadline
    }

    /// Fails once the scenario has run longer than the profile's scenario watchdog.
    pub fn check_watchdog(&self) -> Result<(), String> {
        if Instant::now() < self.watchdog {
            return Ok(());
        }
        Err(format!(
            "the scenario watchdog of {:?} expired (profile scenario_watchdog_s); split the \
             scenario or tag it @slow and raise the watchdog",
            self.profile.scenario_watchdog
        ))
    }

    /// A deadline `wait` from now, never beyond the scenario watchdog.
    pub fn deadline_in(&self, wait: Duration) -> Instant {
        (Instant::now() + wait).min(self.watchdog)
    }

    /// The test central system, started on first use.
    pub async fn csms(&mut self) -> Result<&Csms, String> {
        if self.csms.is_none() {
            let csms = Csms::start(self.profile.csms_bind).await.map_err(|e| {
                format!(
                    "cannot start the test central system on {}: {e}",
                    self.profile.csms_bind
                )
            })?;
            self.csms = Some(csms);
        }
        Ok(self.csms.as_ref().expect("just started"))
    }

    /// The central system's history (empty before it started).
    pub fn history(&self) -> History {
        self.csms.as_ref().map(Csms::history).unwrap_or_default()
    }

    /// Whether the charger has been started in this scenario.
    pub fn is_started(&self) -> bool {
        self.bench.is_some()
    }

    /// Starts central system, network gate and board with the pending configuration.
    pub async fn ensure_started(&mut self) -> Result<(), String> {
        if self.bench.is_some() {
            return Ok(());
        }
        if !self.profile.is_sim() && (self.free_charge || self.serial_number != DEFAULT_SERIAL) {
            return Err(format!(
                "profile {} drives a real board whose identity and authorization mode the rig \
                 cannot set before boot; tag this scenario @sim-only (and list @sim-only in the \
                 profile's skip_tags)",
                self.profile.name
            ));
        }
        self.csms().await?;
        let tls = self.prepare_security()?;
        let config = self.charger_config();
        self.boot_mark = self.history().records.len();
        let csms = self.csms.as_ref().expect("started above");
        let spec = BenchSpec {
            dir: self.artifacts.clone(),
            config: ChargerConfigFile::Text(config),
            serial: Some(self.serial_number.clone()),
            attach_link: true,
            isolate: true,
            tls,
            // With a security profile the charger logs at debug level, so `never reveals`
            // checks every frame it logs.
            env: if self.security_profile.is_some() {
                vec![(
                    "RUST_LOG".into(),
                    "charger=debug,charger_core=debug,info".into(),
                )]
            } else {
                Vec::new()
            },
        };
        let bench = Bench::start(&self.profile, &spec, csms).await?;
        self.bench = Some(bench);
        Ok(())
    }

    /// Makes the central system require the scenario's security profile and, on the simulated
    /// board, gives the charger what that profile needs (steps.md "Connection security"): the
    /// run's test CA to trust, a client certificate (3), `SecurityProfile`. The password the
    /// central system expects is the charger's AuthorizationKey unless a step named another.
    /// Returns whether the charger's URL is `wss://`.
    fn prepare_security(&mut self) -> Result<bool, String> {
        let Some(profile) = self.security_profile else {
            return Ok(false);
        };
        let charger_key = self
            .ocpp_keys
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("AuthorizationKey"))
            .map(|(_, v)| v.clone());
        if let Some(hex) = &charger_key {
            self.known_keys.push(hex.to_ascii_lowercase());
        }
        // A real board was provisioned with its key; the profile names it.
        let bench = self.profile.csms_security.clone();
        let provisioned = bench.as_ref().and_then(|b| b.authorization_key.clone());
        if let Some(hex) = &provisioned {
            self.known_keys.push(hex.to_ascii_lowercase());
        }
        let key = match (
            &self.expected_key,
            provisioned.as_ref().or(charger_key.as_ref()),
        ) {
            (Some(k), _) => Some(k.clone()),
            (None, Some(hex)) => Some(key_bytes(hex)?),
            (None, None) => None,
        };
        if matches!(profile, 1 | 2) && key.is_none() {
            return Err(format!(
                "security profile {profile} uses Basic auth: set the charger's key first with \
                 `Given the configuration key \"AuthorizationKey\" is \"<32-40 hex digits>\"`"
            ));
        }
        let tls = if profile >= 2 {
            if !self.profile.is_sim() {
                let Some(b) = &bench else {
                    return Err(format!(
                        "profile {} has no [csms.security]: name the server certificate and key \
                         (from the CA the board trusts) and the board's client CA",
                        self.profile.name
                    ));
                };
                let client_ca = (profile == 3).then_some(b.client_ca.as_deref()).flatten();
                if profile == 3 && client_ca.is_none() {
                    return Err(
                        "security profile 3 on a bench needs [csms.security] client_ca".into(),
                    );
                }
                Some(server_config_from_files(
                    &b.server_cert,
                    &b.server_key,
                    client_ca,
                )?)
            } else {
                let ca = TestCa::for_run()?;
                let client_for = (profile == 3).then_some(self.serial_number.as_str());
                self.security_files =
                    Some(ca.write_charger_files(&self.artifacts.join("pki"), client_for)?);
                Some(ca.server_config((profile == 3).then_some(ca))?)
            }
        } else {
            None
        };
        if self.profile.is_sim() {
            self.ocpp_keys
                .insert("SecurityProfile".into(), profile.to_string());
        }
        let wss = tls.is_some();
        let csms = self
            .csms
            .as_ref()
            .ok_or("the central system is not started")?;
        csms.require(Requirement { profile, key, tls });
        Ok(wss)
    }

    /// The charger configuration file for this scenario (TOML, `docs/architecture.md`):
    /// the profile's overrides, then what the scenario's steps asked for.
    pub fn charger_config(&self) -> String {
        let mut table = toml::Table::new();
        self.profile.apply_charger_config(&mut table);
        let section = |table: &mut toml::Table, name: &str| -> toml::Table {
            match table.remove(name) {
                Some(toml::Value::Table(t)) => t,
                _ => toml::Table::new(),
            }
        };
        let mut identity = section(&mut table, "identity");
        identity.insert("serial_number".into(), self.serial_number.clone().into());
        table.insert("identity".into(), identity.into());
        let mut charger = section(&mut table, "charger");
        let mode = if self.free_charge { "free" } else { "rfid" };
        charger.insert("authorization".into(), mode.into());
        table.insert("charger".into(), charger.into());
        if let Some(files) = &self.security_files {
            let mut csms = section(&mut table, "csms");
            let path = |p: &std::path::Path| p.display().to_string();
            csms.insert("ca_file".into(), path(&files.ca_file).into());
            if let Some((cert, key)) = &files.client {
                csms.insert("client_cert".into(), path(cert).into());
                csms.insert("client_key".into(), path(key).into());
            }
            table.insert("csms".into(), csms.into());
        }
        let mut keys = section(&mut table, "configuration");
        for (k, v) in &self.ocpp_keys {
            keys.insert(k.clone(), v.clone().into());
        }
        table.insert("configuration".into(), keys.into());
        toml::to_string(&table).unwrap_or_default()
    }

    /// The bench, which must be started.
    pub fn bench(&self) -> Result<&Bench, String> {
        self.bench
            .as_ref()
            .ok_or_else(|| "the charger has not been started in this scenario".to_string())
    }

    /// The bench, mutably.
    pub fn bench_mut(&mut self) -> Result<&mut Bench, String> {
        self.bench
            .as_mut()
            .ok_or_else(|| "the charger has not been started in this scenario".to_string())
    }

    /// Sends a frame to the board.
    pub async fn send(&mut self, frame: Frame) -> Result<(), String> {
        self.ensure_started().await?;
        self.bench()?.send(frame).await
    }

    /// The board's latest status.
    pub fn status(&self) -> Option<BoardStatus> {
        self.bench.as_ref().and_then(Bench::status)
    }

    /// Board status timeline so far (every change).
    pub fn timeline(&self) -> Vec<BoardView> {
        self.bench.as_ref().map(Bench::timeline).unwrap_or_default()
    }

    /// Board events so far.
    pub fn events(&self) -> Vec<EventRecord> {
        self.bench.as_ref().map(Bench::events).unwrap_or_default()
    }

    /// Waits until the board status satisfies `check`, or fails saying what it saw.
    pub async fn wait_status(
        &mut self,
        wait: Duration,
        what: &str,
        check: impl Fn(&BoardStatus) -> bool,
    ) -> Result<BoardStatus, String> {
        self.ensure_started().await?;
        let deadline = self.deadline_in(wait);
        match self.bench()?.wait_status(deadline, &check).await {
            Some(status) => Ok(status),
            None => Err(self.failure(&format!("expected {what} within {wait:?}"))),
        }
    }

    /// Checks that the board status satisfies `check` throughout `period`.
    pub async fn hold_status(
        &mut self,
        period: Duration,
        what: &str,
        check: impl Fn(&BoardStatus) -> bool,
    ) -> Result<(), String> {
        self.ensure_started().await?;
        let deadline = self.deadline_in(period);
        let broken = self.bench()?.wait_status(deadline, &|s| !check(s)).await;
        match broken {
            None => Ok(()),
            Some(status) => Err(self.failure(&format!(
                "expected {what} for {period:?}, but the board reported {}",
                status_line(&status)
            ))),
        }
    }

    /// Waits for something in the central system's history.
    pub async fn wait_history<T>(
        &mut self,
        wait: Duration,
        what: &str,
        check: impl FnMut(&History) -> Option<T>,
    ) -> Result<T, String> {
        let deadline = self.deadline_in(wait);
        let found = self.csms().await?.wait_for(deadline, check).await;
        found.ok_or_else(|| self.failure(&format!("expected {what} within {wait:?}")))
    }

    /// Sends a central-system request and records the charger's answer.
    pub async fn call(&mut self, action: &str, payload: Value) -> Result<Answer, String> {
        self.ensure_started().await?;
        let timeout = self.step_deadline();
        let answer = self
            .csms()
            .await?
            .call(action, payload, timeout)
            .await
            .map_err(|e| self.failure(&e.to_string()))?;
        self.last_answer = Some((action.to_string(), answer.clone()));
        Ok(answer)
    }

    /// Marks every message received so far as seen by `receives` steps.
    pub fn advance_cursors(&mut self) {
        let end = self.history().records.len();
        self.setup_mark = end;
        for action in crate::csms::CHARGE_POINT_ACTIONS {
            self.cursors.insert(action.to_string(), end);
        }
    }

    /// Records an injected fault.
    pub fn note_fault(&mut self, fault: impl Into<String>) {
        let fault = fault.into();
        tracing::debug!(scenario = %self.scenario, %fault, "fault injected");
        self.faults.push(StepFault {
            at: Utc::now(),
            fault,
        });
    }

    /// A failure message with what the rig saw: last board status, recent OCPP traffic, faults.
    pub fn failure(&self, what: &str) -> String {
        let mut out = what.to_string();
        if Instant::now() >= self.watchdog {
            out.push_str(&format!(
                " (the scenario watchdog of {:?} expired)",
                self.profile.scenario_watchdog
            ));
        }
        out.push_str("\n  last board status: ");
        match self.status() {
            Some(s) => out.push_str(&status_line(&s)),
            None => out.push_str("none (board not started or silent)"),
        }
        if let Some(client) = self.bench.as_ref().and_then(|b| b.client.as_ref()) {
            if !client.is_connected() {
                let why = client
                    .last_error()
                    .unwrap_or_else(|| "no error recorded".into());
                out.push_str(&format!("\n  board link: down ({why})"));
            }
        }
        let since = Utc::now() - chrono::Duration::seconds(10);
        let history = self.history();
        let recent = history.recent(since);
        out.push_str(&format!(
            "\n  OCPP messages of the last 10 s ({}):",
            recent.len()
        ));
        for record in recent.iter().rev().take(40).rev() {
            out.push_str("\n    ");
            out.push_str(&record.summary());
        }
        if !history.foreign.is_empty() {
            out.push_str("\n  chargers of other scenarios turned away (a reused port):");
            for f in &history.foreign {
                out.push_str(&format!("\n    {f}"));
            }
        }
        if !history.violations.is_empty() {
            out.push_str("\n  invalid frames from the charger:");
            for v in &history.violations {
                out.push_str(&format!("\n    {} {}", v.reason, v.frame));
            }
        }
        if !self.faults.is_empty() {
            out.push_str("\n  faults injected:");
            for f in &self.faults {
                out.push_str(&format!(
                    "\n    {} {}",
                    f.at.format("%H:%M:%S%.3f"),
                    f.fault
                ));
            }
        }
        out
    }
}
