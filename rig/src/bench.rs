//! One scenario's bench: the board (a simulated board process or a real one behind a link),
//! the network gate between charger and central system, the board link client. Built from a
//! [`Profile`] alone: the layer above the resources, below the world and the runner.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chargerig_link::{BoardStatus, EventKind, Frame, LinkSpec};
use tokio::time::Instant;

use crate::charger_process::{ChargerProcess, ChargerProcessOptions};
use crate::csms::Csms;
use crate::gate::{NetworkGate, NftablesGate, ProxyGate};
use crate::link::{BoardClient, BoardClientOptions, BoardView, EventRecord};
use crate::power::PowerSwitch;
use crate::profile::{GateChoice, LinkChoice, Profile};
use std::sync::Arc;
use tokio::sync::Mutex;

/// The simulated charger's configuration file.
#[derive(Debug, Clone)]
pub enum ChargerConfigFile {
    /// Text the bench writes to `<dir>/charger.toml`.
    Text(String),
    /// A file given by hand (`rig sim --config`).
    Path(PathBuf),
}

/// What one bench needs beyond its profile.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    /// Where the board's pty, data directory, log and `board.log` live.
    pub dir: PathBuf,
    pub config: ChargerConfigFile,
    /// `--serial-number` of a simulated board.
    pub serial: Option<String>,
    /// Attach the board link client (`rig run`); `rig sim` leaves the port to one-shots.
    pub attach_link: bool,
    /// Put a token only this bench's charger knows in its URL, so the central system turns
    /// away a charger of another scenario (`rig run`, several benches at once).
    pub isolate: bool,
    /// The simulated charger reaches the central system over TLS (`wss://`, profiles 2, 3).
    pub tls: bool,
    /// Extra environment for a simulated board (e.g. `RUST_LOG`).
    pub env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
}

/// The running bench of one scenario.
pub struct Bench {
    /// The simulated board (shared with its power switch); `None` on a real board.
    pub board: Option<Arc<Mutex<ChargerProcess>>>,
    pub gate: Box<dyn NetworkGate>,
    pub client: Option<BoardClient>,
    pub link: LinkSpec,
    pub charger_url: String,
    pub dir: PathBuf,
    /// The profile's power switch; `None` when it has none.
    power: Option<Box<dyn PowerSwitch>>,
    /// False between `power_off` and `power_on`.
    pub powered: bool,
    /// The board's boot before the last power cut: `power_on` waits for a newer one.
    cut_mark: Option<crate::link::BootMark>,
    /// The gate is kernel rules (they outlive the rig; restored before and after).
    kernel_gate: bool,
}

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Bench {
    /// Starts gate, board and (if asked) link client for `spec`, as `profile` says.
    pub async fn start(
        profile: &Profile,
        spec: &BenchSpec,
        csms_handle: &Csms,
    ) -> Result<Bench, String> {
        let dir = spec.dir.as_path();
        let csms = csms_handle.addr();
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let (gate, gate_addr): (Box<dyn NetworkGate>, SocketAddr) = match &profile.network {
            GateChoice::Proxy => {
                let bind = SocketAddr::new(profile.csms_bind.ip(), 0);
                let proxy = ProxyGate::start(bind, csms)
                    .await
                    .map_err(|e| err("cannot start the network gate")(&e))?;
                let addr = proxy.local_addr();
                (Box::new(proxy), addr)
            }
            GateChoice::Nftables(cfg) => (Box::new(NftablesGate::from_config(cfg)), csms),
        };
        let mut charger_url = profile.charger_url_for(gate_addr, csms);
        if profile.is_sim() && spec.tls {
            if let Some(rest) = charger_url.strip_prefix("ws://") {
                charger_url = format!("wss://{rest}");
            }
        }
        if profile.is_sim() && spec.isolate {
            // A path segment only this scenario's charger knows: should another scenario's
            // charger ever reach this central system (a port the kernel handed out again), it
            // is turned away instead of mixing two scenarios.
            let token = scenario_token();
            charger_url = format!("{}/{token}", charger_url.trim_end_matches('/'));
            if let Ok(url) = charger_url.parse::<tokio_tungstenite::tungstenite::http::Uri>() {
                csms_handle.expect_path_prefix(format!("{}/", url.path()));
            }
        }
        let (board, link) = match &profile.link {
            LinkChoice::Sim => {
                let config_path = match &spec.config {
                    ChargerConfigFile::Path(path) => path.clone(),
                    ChargerConfigFile::Text(text) => {
                        let path = dir.join("charger.toml");
                        std::fs::write(&path, text)
                            .map_err(|e| format!("{}: {e}", path.display()))?;
                        path
                    }
                };
                let mut opts = ChargerProcessOptions::in_dir(dir, charger_url.clone());
                opts.config = Some(config_path);
                opts.serial_number = spec.serial.clone();
                opts.env.extend(spec.env.iter().cloned());
                if let Some(program) = &profile.charger_program {
                    opts.program = Some(program.iter().map(Into::into).collect());
                }
                let wants_found = opts
                    .program
                    .as_ref()
                    .is_none_or(|p| p.iter().any(|a| a == crate::profile::CHARGER_PLACEHOLDER));
                if wants_found {
                    // Found (or built) once per process, off the async workers.
                    let found = tokio::task::spawn_blocking(crate::charger_bin::program)
                        .await
                        .map_err(|e| err("cannot find the charger program")(&e))?
                        .map_err(|e| err("cannot find the charger program")(&e))?;
                    // `{charger}` in the profile's program (a wrapper such as `ip netns exec`)
                    // stands for the found program.
                    opts.program = Some(match opts.program.take() {
                        None => found,
                        Some(wrapper) => wrapper
                            .into_iter()
                            .flat_map(|a| {
                                if a == crate::profile::CHARGER_PLACEHOLDER {
                                    found.clone()
                                } else {
                                    vec![a]
                                }
                            })
                            .collect(),
                    });
                }
                let board = ChargerProcess::start(opts)
                    .await
                    .map_err(|e| err("cannot start the simulated board")(&e))?;
                let link = board.link_spec();
                (Some(Arc::new(Mutex::new(board))), link)
            }
            LinkChoice::Real(spec) => (None, spec.clone()),
        };
        let power = crate::power::switch_for(&profile.power, board.as_ref());
        let kernel_gate = matches!(profile.network, GateChoice::Nftables(_));
        if kernel_gate {
            // Kernel rules outlive scenarios and runs: whatever the last one left, this one
            // starts with the network up.
            gate.restore()
                .await
                .map_err(|e| err("cannot restore the network before the scenario")(&e))?;
        }
        if let (None, Some(power)) = (&board, &power) {
            // A real board left unpowered (a crashed run) would never answer on its link.
            power
                .on()
                .await
                .map_err(|e| err("cannot switch the board's power on before the scenario")(&e))?;
        }
        let client = if spec.attach_link {
            let opts = BoardClientOptions {
                candump: Some(dir.join("board.log")),
                ..BoardClientOptions::default()
            };
            let client = BoardClient::start(link.clone(), opts)
                .map_err(|e| err("cannot open the board link")(&e))?;
            client
                .wait_connected(profile.step_deadline)
                .await
                .map_err(|e| err("the board does not answer on its link")(&e))?;
            Some(client)
        } else {
            None
        };
        let mut bench = Bench {
            power,
            board,
            gate,
            client,
            link,
            charger_url,
            dir: dir.to_path_buf(),
            powered: true,
            cut_mark: None,
            kernel_gate,
        };
        if !profile.is_sim() {
            // A real board keeps its EV side across scenarios: unplug, no card.
            let problems = bench.ev_and_card_off().await;
            if !problems.is_empty() {
                bench.shutdown().await;
                return Err(format!(
                    "cannot bring the bench to its known state: {}",
                    problems.join("; ")
                ));
            }
        }
        Ok(bench)
    }

    /// Network restored, power on, EV unplugged, card removed: the state every scenario starts
    /// from and every run leaves behind, so one failed cut or power scenario never turns the
    /// rest of a night red. Returns what could not be done (each step is tried regardless).
    pub async fn leave_in_known_state(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        // Kernel rules outlive the rig: always flush them. A proxy dies with its scenario.
        if self.kernel_gate || self.gate.state() != crate::gate::GateState::Open {
            if let Err(e) = self.network_restore().await {
                problems.push(e);
            }
        }
        // A real board's relay is switched on whatever the rig believes; a simulated board
        // that lost power stays off (it is about to be stopped anyway).
        if self.power.is_some() && self.board.is_none() {
            if let Err(e) = self.power_on().await {
                problems.push(e);
            }
        }
        problems.extend(self.ev_and_card_off().await);
        problems
    }

    /// EV unplugged and card removed, through the link (when attached and powered).
    async fn ev_and_card_off(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.client.is_some() && self.powered {
            for frame in [
                Frame::Pilot(chargerig_link::PilotState::A),
                Frame::Card(None),
            ] {
                if let Err(e) = self.send(frame).await {
                    problems.push(e);
                }
            }
        }
        problems
    }

    fn client(&self) -> Result<&BoardClient, String> {
        self.client
            .as_ref()
            .ok_or_else(|| "the board link is closed".to_string())
    }

    /// Sends a frame to the board.
    pub async fn send(&self, frame: Frame) -> Result<(), String> {
        self.client()?
            .send(frame)
            .map_err(|e| format!("cannot send {frame:?} to the board: {e}"))
    }

    /// The latest board status.
    pub fn status(&self) -> Option<BoardStatus> {
        self.client.as_ref()?.latest().map(|v| v.status)
    }

    /// Every status change so far.
    pub fn timeline(&self) -> Vec<BoardView> {
        self.client
            .as_ref()
            .map(|c| c.history().into_iter().map(|r| r.view).collect())
            .unwrap_or_default()
    }

    /// Every board event so far.
    pub fn events(&self) -> Vec<EventRecord> {
        self.client
            .as_ref()
            .map(BoardClient::events)
            .unwrap_or_default()
    }

    /// Waits until a status satisfies `check`; `None` at the deadline.
    pub async fn wait_status(
        &self,
        deadline: Instant,
        check: &dyn Fn(&BoardStatus) -> bool,
    ) -> Option<BoardStatus> {
        let client = self.client.as_ref()?;
        let timeout = deadline.saturating_duration_since(Instant::now());
        client
            .wait_for(timeout, |v| check(&v.status))
            .await
            .ok()
            .map(|v| v.status)
    }

    /// Waits until `check` finds something in the board's event log; `None` at the deadline.
    pub async fn wait_events<T>(
        &self,
        deadline: Instant,
        check: &dyn Fn(&[EventRecord]) -> Option<T>,
    ) -> Option<T> {
        let client = self.client.as_ref()?;
        let mut views = client.subscribe();
        loop {
            if let Some(found) = check(&client.events()) {
                return Some(found);
            }
            if Instant::now() >= deadline {
                return None;
            }
            // Events arrive between status frames (at least every 100 ms): wake on those.
            let wake = (Instant::now() + Duration::from_millis(100)).min(deadline);
            let _ = tokio::time::timeout_at(wake, views.changed()).await;
        }
    }

    /// Waits for an event of `kind` after the first `from` events.
    pub async fn wait_event(
        &self,
        from: usize,
        kind: EventKind,
        deadline: Instant,
    ) -> Option<EventRecord> {
        self.wait_events(deadline, &|events| {
            events
                .iter()
                .skip(from)
                .find(|e| e.event.kind == kind)
                .copied()
        })
        .await
    }

    fn power_switch(&self) -> Result<&dyn PowerSwitch, String> {
        self.power
            .as_deref()
            .ok_or_else(|| "this rig profile has no power switch (tag the scenario @power)".into())
    }

    /// Cuts the board's power.
    pub async fn power_off(&mut self) -> Result<(), String> {
        if self.powered {
            self.cut_mark = self.client.as_ref().map(BoardClient::boot_mark);
        }
        self.powered = false;
        self.power_switch()?
            .off()
            .await
            .map_err(|e| err("cannot cut the board's power")(&e))
    }

    /// Restores the board's power and waits for it on the link (when a client is attached).
    pub async fn power_on(&mut self) -> Result<(), String> {
        self.powered = true;
        self.power_switch()?
            .on()
            .await
            .map_err(|e| err("cannot restore the board's power")(&e))?;
        let mark = self.cut_mark.take();
        let Some(client) = self.client.as_ref() else {
            return Ok(());
        };
        let back = match mark {
            // Only a status of the new boot counts: right after power returns the latest
            // one may still be the old boot's last.
            Some(mark) => client.wait_rebooted(mark, Duration::from_secs(30)).await,
            None => client.wait_connected(Duration::from_secs(30)).await,
        };
        back.map(|_| ())
            .map_err(|e| err("the board did not come back after power was restored")(&e))
    }

    /// Where the network gate stands (the gate's own state, not a copy).
    pub fn network(&self) -> crate::gate::GateState {
        self.gate.state()
    }

    pub async fn network_cut(&self) -> Result<(), String> {
        self.gate
            .cut()
            .await
            .map_err(|e| err("network cut failed")(&e))
    }

    pub async fn network_refuse(&self) -> Result<(), String> {
        self.gate
            .refuse()
            .await
            .map_err(|e| err("connection refusal failed")(&e))
    }

    pub async fn network_restore(&self) -> Result<(), String> {
        self.gate
            .restore()
            .await
            .map_err(|e| err("network restore failed")(&e))
    }

    /// Where to reach this bench by hand (for `--keep-on-failure`).
    pub fn how_to_reach(&self) -> String {
        format!(
            "link {} (try: rig --link {} status), charger URL {}, data dir {}",
            self.link,
            self.link,
            self.charger_url,
            self.dir.join("data").display()
        )
    }

    /// Closes the link client (flushing the candump log) so that one-shot commands can open
    /// the board's port; the board keeps running.
    pub async fn release_link(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::task::spawn_blocking(move || client.close()).await;
        }
    }

    /// Leaves the bench in its known state, then stops the link client (flushing the candump
    /// log) and the board.
    pub async fn shutdown(&mut self) {
        for problem in self.leave_in_known_state().await {
            tracing::warn!(%problem, "bench not left in its known state");
        }
        if let Some(client) = self.client.take() {
            let _ = tokio::task::spawn_blocking(move || client.close()).await;
        }
        if let Some(board) = self.board.as_ref() {
            board
                .lock()
                .await
                .shutdown(Duration::from_millis(500))
                .await;
        }
    }
}

/// A token unique to one scenario of this process.
fn scenario_token() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("s{}-{n}", std::process::id())
}
