//! The event loop: board frames, WebSocket events, the core's timers and a 100 ms beat go in;
//! the core's outputs are carried out strictly in order (a `Persist` is committed before the next
//! output runs, which is what makes "committed before acted on or acknowledged" true).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use charger_core::{Charger, Input, Key, Output, Settings};
use chargerig_link::PilotState;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant, MissedTickBehavior};
use tracing::{debug, error, info, warn};

use crate::board_sim::{EvSide, FromRig, SimBoard};
use crate::clock::Clock;
use crate::config::{Authorization, ChargerConfig};
use crate::pty::{self, PortStats, PtyPort};
use crate::redact::frame_for_log;
use crate::store::Store;
use crate::tls::Tls;
use crate::ws::{self, Security, WsCommand, WsConfig, WsEvent};

/// Status beat and minimum Tick rate.
pub const BEAT: Duration = Duration::from_millis(100);

/// Everything `run` needs; the data directory is already locked and its store open.
pub struct RunOptions {
    pub config: ChargerConfig,
    /// `--board sim:PATH`: where the pty slave is symlinked.
    pub board_path: PathBuf,
    pub store: Store,
}

/// The core's settings from the resolved configuration.
pub fn settings(cfg: &ChargerConfig) -> Settings {
    Settings {
        serial_number: cfg.serial_number.clone(),
        charge_point_id: cfg.charge_point_id.clone(),
        vendor: cfg.vendor.clone(),
        model: cfg.model.clone(),
        firmware_version: env!("CARGO_PKG_VERSION").to_string(),
        free_charge: cfg.authorization == Authorization::Free,
        max_current_a: cfg.max_current_a,
        installer_config: cfg.installer_config.clone(),
        build_date: build_date(),
        tls: cfg.tls.is_some(),
        client_certificate: cfg.tls.as_ref().is_some_and(|t| t.client.is_some()),
        ..Settings::default()
    }
}

/// This binary's build date (`build.rs`); the core's default if the stamp is unreadable.
pub fn build_date() -> chrono::DateTime<chrono::Utc> {
    env!("CHARGER_BUILD_UNIX")
        .parse::<i64>()
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .unwrap_or_else(|| Settings::default().build_date)
}

/// The shell state the loop works on.
struct Shell {
    cfg: ChargerConfig,
    clock: Clock,
    store: Store,
    core: Charger,
    board: SimBoard,
    ws_cmd: mpsc::UnboundedSender<WsCommand>,
    /// The live WebSocket connection, as far as the core has been told.
    generation: Option<u64>,
    ping: watch::Sender<Duration>,
    /// The security profile and key the next connection uses.
    security: watch::Sender<Security>,
    /// A Reset the core asked for (`hard`), carried out by `reboot_if_asked` after the
    /// current step.
    pending_reboot: Option<bool>,
}

/// Runs the charger until SIGTERM/SIGINT (Ok) or a fatal error (database, lost board port).
pub async fn run(opts: RunOptions) -> anyhow::Result<()> {
    let RunOptions {
        config: cfg,
        board_path,
        mut store,
    } = opts;
    let clock = Clock::start();
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;

    let port = PtyPort::open(&board_path)?;
    let (rig_tx, mut rig_rx) = mpsc::unbounded_channel();
    let (board_tx, board_rx) = mpsc::unbounded_channel();
    let stats = Arc::new(Mutex::new(PortStats::default()));
    let port_task = tokio::spawn(pty::run(port, rig_tx, board_rx, stats.clone()));

    let boot_count = store.bump_boot_count()?;
    let ev = load_ev(&store);
    let mut board = SimBoard::new(board_tx, ev, boot_count);
    board.boot(clock.mono_ms(), boot_count);
    let core = build_core(&cfg, &store, &clock)?;
    let tls = match &cfg.tls {
        None => None,
        Some(files) => Some(Tls::load(files).context("loading the TLS files")?),
    };
    check_security(&cfg, &core)?;
    info!(
        serial_number = %cfg.serial_number,
        url = %cfg.endpoint(),
        boot_count,
        queued = core.status().queue_len,
        "charger booted"
    );

    let (ws_ev_tx, mut ws_ev_rx) = mpsc::channel(1024);
    let (ws_cmd, ws_cmd_rx) = mpsc::unbounded_channel();
    let (ping, ping_rx) = watch::channel(ping_interval(&core));
    let (security, security_rx) = watch::channel(security_of(&core));
    let ws_cfg = WsConfig {
        url: cfg.endpoint(),
        reconnect_min: Duration::from_millis(cfg.reconnect_min_ms),
        reconnect_max: Duration::from_millis(cfg.reconnect_max_ms),
        pong_timeout: Duration::from_secs(cfg.pong_timeout_s),
        charge_point_id: cfg.charge_point_id.clone(),
        tls,
    };
    let ws_task = tokio::spawn(ws::run(ws_cfg, security_rx, ping_rx, ws_ev_tx, ws_cmd_rx));

    let mut shell = Shell {
        cfg,
        clock,
        store,
        core,
        board,
        ws_cmd,
        generation: None,
        ping,
        security,
        pending_reboot: None,
    };
    for input in shell.board.boot_inputs() {
        shell.input(input)?;
    }
    shell.reboot_if_asked(&mut ws_ev_rx)?;

    let mut beat = tokio::time::interval(BEAT);
    beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let result: anyhow::Result<()> = loop {
        let deadline = shell.core.poll_timeout().map(|ms| {
            shell
                .clock
                .instant_at(ms)
                .max(Instant::now() + Duration::from_millis(1))
        });
        let step = tokio::select! {
            ev = ws_ev_rx.recv() => match ev {
                Some(ev) => shell.on_ws(ev),
                None => break Err(anyhow::anyhow!("the WebSocket task stopped unexpectedly")),
            },
            frame = rig_rx.recv() => match frame {
                Some(frame) => shell.on_rig(frame),
                None => break Err(anyhow::anyhow!("the board port stopped unexpectedly")),
            },
            _ = beat.tick() => shell.beat(),
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                shell.input(Input::Tick)
            }
            _ = sigterm.recv() => { info!("SIGTERM: shutting down"); break Ok(()) }
            _ = sigint.recv() => { info!("SIGINT: shutting down"); break Ok(()) }
        };
        if let Err(e) = step.and_then(|()| shell.reboot_if_asked(&mut ws_ev_rx)) {
            break Err(e);
        }
    };

    // Closing the command channel ends the WebSocket task (it closes the socket politely);
    // dropping the board closes the port task, which removes the symlink.
    let Shell { ws_cmd, board, .. } = shell;
    drop(ws_cmd);
    drop(board);
    let _ = tokio::time::timeout(Duration::from_secs(2), ws_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), port_task).await;
    let st = *stats.lock().unwrap();
    info!(
        frames_in = st.link.frames_in,
        frames_out = st.link.frames_out,
        rejected = st.link.rejected(),
        wrong_direction = st.wrong_direction,
        dropped_out = st.dropped_out,
        clients = st.attachments,
        "board link totals"
    );
    result
}

impl Shell {
    /// One input into the core, then its outputs.
    fn input(&mut self, input: Input) -> anyhow::Result<()> {
        self.core.handle_input(input, self.clock.now());
        self.drain()
    }

    fn beat(&mut self) -> anyhow::Result<()> {
        self.input(Input::Tick)?;
        self.board.publish(&self.core.status(), true);
        Ok(())
    }

    fn on_ws(&mut self, ev: WsEvent) -> anyhow::Result<()> {
        match ev {
            WsEvent::Connected { generation } => {
                self.generation = Some(generation);
                self.input(Input::Connected)
            }
            WsEvent::Frame { generation, text } if self.generation == Some(generation) => {
                self.input(Input::Frame(text))
            }
            WsEvent::Oversized {
                generation,
                head,
                bytes,
            } if self.generation == Some(generation) => {
                self.input(Input::OversizedFrame { head, len: bytes })
            }
            WsEvent::Frame { generation, .. } | WsEvent::Oversized { generation, .. } => {
                debug!(generation, "frame of an old connection ignored");
                Ok(())
            }
            WsEvent::Disconnected { generation } if self.generation == Some(generation) => {
                self.generation = None;
                self.input(Input::Disconnected)
            }
            WsEvent::Disconnected { .. } => Ok(()),
        }
    }

    fn on_rig(&mut self, frame: chargerig_link::Frame) -> anyhow::Result<()> {
        let status = self.core.status();
        match self.board.on_frame(frame, self.clock.mono_ms(), &status) {
            FromRig::Input(input) => self.input(input),
            FromRig::EvChanged { ev, input } => {
                // Core first: the contactor must react before we spend an fsync on bookkeeping.
                self.input(input)?;
                save_ev(&mut self.store, ev)
            }
            FromRig::Handled => Ok(()),
        }
    }

    /// Carries out every pending output, in order. A `Reboot` is noted and carried out by
    /// `reboot_if_asked` once this step is over.
    fn drain(&mut self) -> anyhow::Result<()> {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Persist(ops) => self
                    .store
                    .apply(&ops)
                    .context("committing the charger's state")?,
                Output::Send(text) => match self.generation {
                    Some(generation) => {
                        let _ = self.ws_cmd.send(WsCommand::Send { generation, text });
                    }
                    None => debug!(frame = %frame_for_log(&text), "offline: frame not sent"),
                },
                Output::Hardware(cmd) => self.board.apply(cmd, self.clock.mono_ms()),
                Output::Reconnect => {
                    let _ = self.ws_cmd.send(WsCommand::Reconnect);
                }
                // Whatever the old core still has to say goes out first.
                Output::Reboot { hard } => {
                    self.pending_reboot = Some(self.pending_reboot.unwrap_or(false) || hard);
                }
            }
        }
        let interval = ping_interval(&self.core);
        self.ping.send_if_modified(|old| {
            let changed = *old != interval;
            *old = interval;
            changed
        });
        let security = security_of(&self.core);
        self.security.send_if_modified(|old| {
            let changed = *old != security;
            *old = security;
            changed
        });
        self.board.publish(&self.core.status(), false);
        Ok(())
    }

    /// Carries out a Reset the core asked for: like a power cycle without losing the process.
    ///
    /// Frames that already arrived on the live connection go to the old core first: a
    /// confirmation of a CALL it sent just before the Reset (say a StartTransaction.conf) must be
    /// committed, or the rebuilt core would send that CALL again. Then the connection is dropped
    /// (the new core boots with BootNotification), the board reboots and the core is rebuilt
    /// from the database.
    fn reboot_if_asked(&mut self, ws_events: &mut mpsc::Receiver<WsEvent>) -> anyhow::Result<()> {
        let mut reboots = 0;
        while let Some(mut hard) = self.pending_reboot.take() {
            reboots += 1;
            if reboots > 3 {
                warn!("the core asks to reboot right after every boot; not rebooting again");
                return Ok(());
            }
            while self.generation.is_some() {
                let Ok(ev) = ws_events.try_recv() else { break };
                debug!(?ev, "before the reboot: already received");
                self.on_ws(ev)?;
            }
            if let Some(again) = self.pending_reboot.take() {
                hard |= again;
            }
            info!(hard, "rebooting the charger");
            if self.generation.take().is_some() {
                let _ = self.ws_cmd.send(WsCommand::Reconnect);
            }
            let boot_count = self.store.bump_boot_count()?;
            self.board.boot(self.clock.mono_ms(), boot_count);
            self.core = build_core(&self.cfg, &self.store, &self.clock)?;
            for input in self.board.boot_inputs() {
                self.core.handle_input(input, self.clock.now());
            }
            self.drain()?;
        }
        Ok(())
    }
}

fn build_core(cfg: &ChargerConfig, store: &Store, clock: &Clock) -> anyhow::Result<Charger> {
    let restored = store.load()?;
    Charger::new(settings(cfg), restored, clock.now()).map_err(|e| {
        error!(error = %e, "the charger logic refused its configuration");
        anyhow::anyhow!("the charger logic refused its configuration: {e}")
    })
}

/// The profile and key in effect in the core, for the next connection.
fn security_of(core: &Charger) -> Security {
    Security {
        profile: core.security_profile(),
        key: core.authorization_key(),
    }
}

/// The profile in effect (the database's value wins over the file's) must fit the URL and the
/// provisioned files; otherwise the charger could never connect, so it does not start.
fn check_security(cfg: &ChargerConfig, core: &Charger) -> anyhow::Result<()> {
    let profile = core.security_profile();
    let mut reason = crate::config::security_mismatch(profile, cfg.tls.as_ref());
    if reason.is_none() && matches!(profile, 1 | 2) && core.authorization_key().is_none() {
        reason = Some(format!(
            "security profile {profile} needs an AuthorizationKey: set it in [configuration]"
        ));
    }
    match reason {
        None => Ok(()),
        Some(r) => {
            match cfg.installer_value(charger_core::config::Key::SecurityProfile.name()) {
                Some((key, v)) if v.trim() == profile.to_string() => Err(anyhow::anyhow!(
                    "{}",
                    cfg.installer_error(key, format!("[configuration] SecurityProfile: {r}"))
                )),
                _ => Err(anyhow::anyhow!(
                    "{r} (security profile {profile} was set by the central system and is kept in the data directory)"
                )),
            }
        }
    }
}

/// OCPP WebSocketPingInterval in seconds (0 = no pings).
fn ping_interval(core: &Charger) -> Duration {
    Duration::from_secs(core.config_uint(Key::WebSocketPingInterval))
}

fn load_ev(store: &Store) -> EvSide {
    let Ok(Some(v)) = store.shell_get("ev") else {
        return EvSide::default();
    };
    EvSide {
        pilot: v["pilot"]
            .as_str()
            .and_then(|p| p.parse::<PilotState>().ok())
            .unwrap_or(PilotState::A),
        load_deci_amps: v["load_deci_amps"]
            .as_u64()
            .map(|n| n.min(u64::from(u16::MAX)) as u16)
            .unwrap_or(0),
    }
}

fn save_ev(store: &mut Store, ev: EvSide) -> anyhow::Result<()> {
    store.shell_put(
        "ev",
        &json!({"pilot": ev.pilot.to_string(), "load_deci_amps": ev.load_deci_amps}),
    )?;
    Ok(())
}
