//! The event loop: board frames, WebSocket events, the core's timers and a 100 ms beat go in;
//! the core's outputs are carried out in order, except that storage never holds up the hardware
//! for long: a `Persist` goes to the storage thread (`storage.rs`) and every later output that
//! acts on the network or energizes (Send, closing the contactor, Reconnect, Reboot) waits for
//! its commit, which keeps "committed before acted on or acknowledged" true. Hardware commands
//! that take energy away (opening the contactor, PWM, the lock) wait for the commits before them
//! at most [`SAFE_WAIT`], then go anyway: with a healthy disk the board never shows a stop that
//! is not durable yet, with a stuck one it still opens well within 100 ms. Board status keeps
//! coming every beat; its core-side fields show the state as of the last complete commit.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use charger_core::{
    BoardView, Charger, HardwareCmd, Input, Key, LocalReply, Output, Restored, Settings,
};
use chargerig_link::PilotState;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep_until, Instant, MissedTickBehavior};
use tracing::{debug, error, info, warn};

use crate::board_sim::{EvSide, FromRig, SimBoard};
use crate::clock::Clock;
use crate::config::{self, Authorization, ChargerConfig};
use crate::panel::{self, PanelCmd, PanelReply, PanelRequest, PanelView};
use crate::pty::{self, PortStats, PtyPort};
use crate::redact::frame_for_log;
use crate::storage::{Done, Storage};
use crate::store::Store;
use crate::tls::Tls;
use crate::ws::{self, Security, WsCommand, WsConfig, WsEvent};

/// Status beat and minimum Tick rate.
pub const BEAT: Duration = Duration::from_millis(100);

/// The longest a hardware command that takes energy away waits for the commits before it.
pub const SAFE_WAIT: Duration = Duration::from_millis(40);

/// A commit outstanding longer than this means storage is stuck: the core is told
/// (`Input::StorageStalled`), so no new transaction starts.
pub const STALL_AFTER: Duration = Duration::from_secs(2);

/// How many commits of pure delivery bookkeeping (see [`Shell::send_after`]) a frame may
/// overtake: at most this many confirmed messages are sent again after a power cut, plus the
/// one in flight. One overlaps the removal's fsync with the next round trip; a few more absorb
/// jitter and let the storage thread group them into one fsync.
pub const REMOVALS_IN_FLIGHT: u64 = 4;

/// How long a shutdown waits for queued commits.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Everything `run` needs; the data directory is already locked and its store open.
pub struct RunOptions {
    pub config: ChargerConfig,
    /// `--board sim:PATH`: where the pty slave is symlinked.
    pub board_path: PathBuf,
    pub store: Store,
    /// The data directory (the panel keeps its password hash and address file there).
    pub data_dir: PathBuf,
}

/// Shell-table key of a central-system URL set on the panel (used from the next start).
const STORED_URL: &str = "csms_url";

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
    storage: Storage,
    /// Sequence number of the last `Persist` handed to storage / known committed.
    submitted: u64,
    committed: u64,
    /// The last commit that is not pure delivery bookkeeping: every frame waits for it.
    barrier: u64,
    /// When each outstanding commit was handed over (front = oldest).
    outstanding: VecDeque<Instant>,
    /// Outputs waiting for the commit of this sequence number, in order; hardware commands that
    /// take energy away also carry the instant at which they go anyway.
    held: VecDeque<Held>,
    /// The core's status as of the last moment every commit was through (what the board shows).
    view: BoardView,
    /// The core was told storage is stuck.
    stalled: bool,
    core: Charger,
    board: SimBoard,
    ws_cmd: mpsc::UnboundedSender<WsCommand>,
    /// The live WebSocket connection, as far as the core has been told.
    generation: Option<u64>,
    ping: watch::Sender<Duration>,
    /// The security profile and key the next connection uses.
    security: watch::Sender<Security>,
    /// A Reset the core asked for (`hard`), started by `reboot_if_asked` after the
    /// current step.
    pending_reboot: Option<bool>,
    /// A Reset under way: the storage thread reloads the store after every commit before it
    /// (`Done::Rebooted`); the loop keeps serving the board meanwhile.
    rebooting: Option<Rebooting>,
    /// Resets asked for right at boot, in a row (a core that always does is not obeyed forever).
    quick_reboots: u32,
    /// Where the answer to the local request being fed to the core goes.
    local_reply: Option<oneshot::Sender<PanelReply>>,
    /// A central-system URL stored by the panel for the next start.
    csms_url_next: Option<String>,
}

/// Runs the charger until SIGTERM/SIGINT (Ok) or a fatal error (database, lost board port).
pub async fn run(opts: RunOptions) -> anyhow::Result<()> {
    let RunOptions {
        config: mut cfg,
        board_path,
        mut store,
        data_dir,
    } = opts;
    // A URL the installer set on the panel wins over the file and the command line, as a value
    // set by ChangeConfiguration wins over the file's.
    if let Some(url) = stored_url(&store) {
        info!(url = %config::without_credentials(&url), "central-system URL set on the configuration panel");
        cfg.csms_url = url;
    }
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
    let core = build_core(&cfg, store.load()?, &clock)?;
    // The boot scan of a long queue leaves freed heap behind; hand it back to the system so a
    // charger that boots with a long queue is as small as an idle one.
    // SAFETY: malloc_trim only releases free memory of the allocator; it has no preconditions.
    unsafe { libc::malloc_trim(0) };
    let (storage, mut done_rx) = Storage::spawn(store).context("starting the storage thread")?;
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

    let (panel_tx, mut panel_rx) = mpsc::channel::<PanelCmd>(16);
    let _panel = match &cfg.panel {
        Some(p) => Some(panel::start(p, &data_dir, panel_tx).await?),
        None => {
            drop(panel_tx);
            None
        }
    };

    let mut shell = Shell {
        cfg,
        clock,
        storage,
        submitted: 0,
        committed: 0,
        barrier: 0,
        outstanding: VecDeque::new(),
        held: VecDeque::new(),
        view: core.status(),
        stalled: false,
        core,
        board,
        ws_cmd,
        generation: None,
        ping,
        security,
        pending_reboot: None,
        rebooting: None,
        quick_reboots: 0,
        local_reply: None,
        csms_url_next: None,
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
        let safe_deadline = shell.held.iter().find_map(|h| h.go_anyway);
        let step = tokio::select! {
            _ = sleep_until(safe_deadline.unwrap_or_else(Instant::now)), if safe_deadline.is_some() => {
                shell.expire_safe();
                Ok(())
            }
            ev = ws_ev_rx.recv() => match ev {
                Some(ev) => shell.on_ws(ev),
                None => break Err(anyhow::anyhow!("the WebSocket task stopped unexpectedly")),
            },
            frame = rig_rx.recv() => match frame {
                Some(frame) => shell.on_rig(frame),
                None => break Err(anyhow::anyhow!("the board port stopped unexpectedly")),
            },
            done = done_rx.recv() => match done {
                Some(done) => shell.on_storage(done),
                None => break Err(anyhow::anyhow!("the storage thread stopped unexpectedly")),
            },
            _ = beat.tick() => shell.beat(),
            // During a reset the panel waits for the new core (the old one is halted).
            Some(cmd) = panel_rx.recv(), if shell.rebooting.is_none() => shell.on_panel(cmd),
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                shell.input(Input::Tick)
            }
            _ = sigterm.recv() => { info!("SIGTERM: shutting down"); break Ok(()) }
            _ = sigint.recv() => { info!("SIGINT: shutting down"); break Ok(()) }
        };
        if let Err(e) = step.and_then(|()| shell.reboot_if_asked(&mut ws_ev_rx)) {
            // Safe state first: whatever failed, the hardware must not stay energized.
            shell.make_safe();
            error!(error = %format!("{e:#}"), "fatal: contactor open and PWM off, exiting once the board has read them");
            break Err(e);
        }
    };

    // Closing the command channel ends the WebSocket task (it closes the socket politely);
    // dropping the board ends the port task once its client has read every frame queued
    // before (after a fatal error: the safe state), bounded by `pty::FLUSH_WAIT`; it removes
    // the symlink. The process exits only after that.
    let Shell {
        ws_cmd,
        board,
        storage,
        ..
    } = shell;
    drop(ws_cmd);
    drop(board);
    tokio::task::block_in_place(|| storage.close(CLOSE_WAIT));
    let _ = tokio::time::timeout(Duration::from_secs(2), ws_task).await;
    if tokio::time::timeout(pty::FLUSH_WAIT + Duration::from_secs(1), port_task)
        .await
        .is_err()
    {
        warn!("the board port did not close in time");
    }
    let st = *stats.lock().unwrap();
    info!(
        frames_in = st.link.frames_in,
        frames_out = st.link.frames_out,
        rejected = st.link.rejected(),
        wrong_direction = st.wrong_direction,
        unsupported_commands = st.unsupported,
        stray_bel = st.stray_bel,
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
        self.board.publish(&self.view, true);
        self.check_stall()
    }

    /// Storage stuck for longer than [`STALL_AFTER`]: logged, and the core keeps new
    /// transactions out until every commit is through.
    fn check_stall(&mut self) -> anyhow::Result<()> {
        if let Some(r) = self.rebooting.as_mut() {
            if !r.warned && r.since.elapsed() >= STALL_AFTER {
                r.warned = true;
                warn!(
                    waiting_ms = r.since.elapsed().as_millis() as u64,
                    db = %self.storage.path().display(),
                    "storage stalled: the reset waits for the store to load"
                );
            }
        }
        let Some(oldest) = self.outstanding.front() else {
            return Ok(());
        };
        if !self.stalled && oldest.elapsed() >= STALL_AFTER {
            self.stalled = true;
            warn!(
                waiting_ms = oldest.elapsed().as_millis() as u64,
                outstanding = self.outstanding.len(),
                db = %self.storage.path().display(),
                "storage stalled: a commit is not through"
            );
            self.input(Input::StorageStalled)?;
        }
        Ok(())
    }

    /// A report from the storage thread: release what waited for the commit, or fail.
    fn on_storage(&mut self, done: Done) -> anyhow::Result<()> {
        match done {
            Done::Committed { seq } => {
                while self.committed < seq {
                    self.committed += 1;
                    self.outstanding.pop_front();
                }
                self.release()?;
                if self.stalled && self.outstanding.is_empty() {
                    self.stalled = false;
                    info!("storage committing again");
                    self.input(Input::StorageOk)?;
                }
                Ok(())
            }
            Done::QueueRows(rows) => self.input(Input::QueueRows(rows)),
            Done::Rebooted(loaded) => {
                let (boot_count, restored) =
                    loaded.context("loading the charger's state for a reset")?;
                self.finish_reboot(boot_count, *restored)
            }
            Done::Failed(e) => Err(anyhow::Error::new(e).context("committing the charger's state")),
        }
    }

    /// Contactor open, PWM off, status out: before a fatal error ends the process.
    fn make_safe(&mut self) {
        let now = self.clock.mono_ms();
        self.held.clear();
        self.board.apply(HardwareCmd::Contactor(false), now);
        self.board.apply(HardwareCmd::Pwm(0), now);
        self.board.publish(&self.view, true);
    }

    /// Carries out held outputs whose commit is through, in order. A CALL held for longer than
    /// MessageTimeout is not sent: the core has given up on it and sends the message again
    /// (as a new CALL), so sending the old one too would deliver it twice.
    fn release(&mut self) -> anyhow::Result<()> {
        let timeout = Duration::from_secs(self.core.config_uint(Key::MessageTimeout).max(1));
        while self.held.front().is_some_and(|h| h.after <= self.committed) {
            let held = self.held.pop_front().expect("front checked");
            if let Output::Send(text) = &held.output {
                if is_call(text) && held.since.elapsed() >= timeout {
                    warn!(
                        held_ms = held.since.elapsed().as_millis() as u64,
                        "storage slow: a request waited past MessageTimeout for its commit; not \
                         sent (the charger sends it again)"
                    );
                    continue;
                }
            }
            self.execute(held.output);
        }
        self.after_outputs();
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

    /// A request from the configuration panel: views are read, changes go into the core as
    /// `Input::Local` and are answered by its `Output::Local` (after the change is committed).
    fn on_panel(&mut self, cmd: PanelCmd) -> anyhow::Result<()> {
        match cmd.req {
            PanelRequest::View => {
                let view = PanelView {
                    status: self.core.local_status(),
                    keys: self.core.local_configuration(),
                    csms_url: config::without_credentials(&self.cfg.endpoint()),
                    csms_base: config::without_credentials(&self.cfg.csms_url),
                    csms_url_next: self
                        .csms_url_next
                        .as_deref()
                        .map(config::without_credentials),
                };
                let _ = cmd.reply.send(PanelReply::View(Box::new(view)));
                Ok(())
            }
            PanelRequest::Local(req) => {
                // Answered by the core's Output::Local once its commit is through (which may be
                // after this step, with storage on its own thread). A newer request replaces an
                // unanswered one: dropping its sender tells that page the charger did not answer.
                self.local_reply = Some(cmd.reply);
                self.input(Input::Local(req))
            }
            PanelRequest::SetCsmsUrl(url) => {
                let reply = match config::check_url(&url) {
                    Err(reason) => LocalReply::Rejected { reason },
                    Ok(url) => {
                        self.storage.shell_put(STORED_URL, json!(url));
                        info!(url = %config::without_credentials(&url),
                              "central-system URL changed on the configuration panel; used from the next start");
                        self.csms_url_next = Some(url);
                        LocalReply::RebootRequired
                    }
                };
                let _ = cmd.reply.send(PanelReply::Done(reply));
                Ok(())
            }
        }
    }

    fn on_rig(&mut self, frame: chargerig_link::Frame) -> anyhow::Result<()> {
        let status = self.view;
        match self.board.on_frame(frame, self.clock.mono_ms(), &status) {
            FromRig::Input(input) => self.input(input),
            FromRig::EvChanged { ev, input } => {
                // Core first: the contactor must react before bookkeeping.
                self.input(input)?;
                save_ev(&self.storage, ev);
                Ok(())
            }
            FromRig::Handled => Ok(()),
        }
    }

    /// Takes every pending output of the core. A `Persist` goes to the storage thread; outputs
    /// that act on the network or energize wait (in order) for the commits before them; outputs
    /// that make the hardware safe go at once and cancel a waiting contactor close.
    fn drain(&mut self) -> anyhow::Result<()> {
        let outputs: Vec<Output> = std::iter::from_fn(|| self.core.poll_output()).collect();
        // Hardware that takes energy away waits (at most SAFE_WAIT) for every commit of the same
        // step, also one that comes after it: the board never reports a stop before it is durable.
        let step_seq = self.submitted
            + outputs
                .iter()
                .filter(|o| matches!(o, Output::Persist(ops) if !ops.is_empty()))
                .count() as u64;
        for output in outputs {
            match output {
                Output::Persist(ops) if ops.is_empty() => {}
                // The storage thread reads after every commit handed over before it.
                Output::LoadQueue { from_key, limit } => self.storage.load_queue(from_key, limit),
                Output::Persist(ops) => {
                    self.submitted += 1;
                    self.note_barrier(&ops);
                    self.outstanding.push_back(Instant::now());
                    self.storage.commit(self.submitted, ops);
                }
                output => {
                    let safe = matches!(output, Output::Hardware(cmd) if takes_energy_away(cmd));
                    let after = match &output {
                        _ if safe => step_seq,
                        Output::Send(_) => self.send_after(),
                        _ => self.submitted,
                    };
                    if self.held.is_empty() && self.committed >= after {
                        self.execute(output);
                    } else {
                        self.held.push_back(Held {
                            after,
                            output,
                            go_anyway: safe.then(|| Instant::now() + SAFE_WAIT),
                            since: Instant::now(),
                        });
                    }
                }
            }
        }
        self.after_outputs();
        Ok(())
    }

    /// One output whose commits are through.
    fn execute(&mut self, output: Output) {
        match output {
            Output::Persist(_) | Output::LoadQueue { .. } => {
                unreachable!("storage outputs go to the storage thread in drain")
            }
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
            // Held like a Send: the panel hears "saved" only once the change is durable.
            Output::Local(reply) => match self.local_reply.take() {
                Some(tx) => {
                    let _ = tx.send(PanelReply::Done(reply));
                }
                None => debug!(?reply, "local answer without a waiting panel request"),
            },
        }
    }

    fn after_outputs(&mut self) {
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
        if self.committed == self.submitted {
            self.view = self.core.status();
        }
        self.board.publish(&self.view, false);
    }

    /// Starts a Reset the core asked for: like a power cycle without losing the process. Never
    /// blocks: the reload is a job for the storage thread, carried out after every commit
    /// handed over before it (so the reset's stop transaction is durable first) and finished in
    /// `finish_reboot`; the loop keeps serving the board, the safe-output deadlines and status
    /// meanwhile, however long the disk is stuck.
    ///
    /// Frames that already arrived on the live connection go to the old core first: a
    /// confirmation of a CALL it sent just before the Reset (say a StartTransaction.conf) must be
    /// committed, or the rebuilt core would send that CALL again.
    fn reboot_if_asked(&mut self, ws_events: &mut mpsc::Receiver<WsEvent>) -> anyhow::Result<()> {
        let Some(mut hard) = self.pending_reboot.take() else {
            return Ok(());
        };
        if let Some(r) = self.rebooting.as_mut() {
            // The old core is halted once it asks; a second request only makes it harder.
            r.hard |= hard;
            return Ok(());
        }
        if self.quick_reboots >= 3 {
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
        info!(hard, "reset: reloading the store after its commits");
        self.rebooting = Some(Rebooting {
            hard,
            since: Instant::now(),
            warned: false,
        });
        self.storage.reboot();
        Ok(())
    }

    /// The store is reloaded: every commit before the reset is through and the old core's
    /// outputs that waited for them (its confirmations, the stop transaction) are out on the
    /// live connection. Now the connection is dropped (the new core boots with
    /// BootNotification), the board reboots and the core is rebuilt from the database.
    /// Hardware commands still held stay held (they go when their commit does or at their
    /// deadline).
    fn finish_reboot(&mut self, boot_count: u32, restored: Restored) -> anyhow::Result<()> {
        let Some(Rebooting { hard, since, .. }) = self.rebooting.take() else {
            warn!("a reload nobody asked for: ignored");
            return Ok(());
        };
        info!(
            hard,
            waited_ms = since.elapsed().as_millis() as u64,
            "rebooting the charger"
        );
        if self.generation.take().is_some() {
            let _ = self.ws_cmd.send(WsCommand::Reconnect);
        }
        self.board.boot(self.clock.mono_ms(), boot_count);
        self.core = build_core(&self.cfg, restored, &self.clock)?;
        if self.stalled {
            self.core
                .handle_input(Input::StorageStalled, self.clock.now());
        }
        for input in self.board.boot_inputs() {
            self.core.handle_input(input, self.clock.now());
        }
        self.drain()?;
        self.quick_reboots = if self.pending_reboot.is_some() {
            self.quick_reboots + 1
        } else {
            0
        };
        Ok(())
    }
}

/// A Reset under way (see `Shell::reboot_if_asked`).
struct Rebooting {
    hard: bool,
    since: Instant,
    /// The wait was logged as a stall.
    warned: bool,
}

fn build_core(cfg: &ChargerConfig, restored: Restored, clock: &Clock) -> anyhow::Result<Charger> {
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

/// The URL stored by the panel, if it is still one this firmware accepts.
fn stored_url(store: &Store) -> Option<String> {
    let url = store.shell_get(STORED_URL).ok()??.as_str()?.to_string();
    match config::check_url(&url) {
        Ok(url) => Some(url),
        Err(reason) => {
            warn!(%reason, "ignoring the central-system URL stored by the panel");
            None
        }
    }
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

fn save_ev(storage: &Storage, ev: EvSide) {
    storage.shell_put(
        "ev",
        json!({"pilot": ev.pilot.to_string(), "load_deci_amps": ev.load_deci_amps}),
    );
}

/// Delivery pipelining (issue 9.8): a frame need not wait for the removal of the messages
/// confirmed before it. Everything a frame carries is durable before it goes (the message
/// itself was committed when queued, a transactionId with its StartTransaction.conf); only the
/// bookkeeping that a confirmed message is gone may still be on its way to disk, in order. A
/// power cut then sends the confirmed messages whose removal was not durable once more, at most
/// [`REMOVALS_IN_FLIGHT`] of them, besides the one in flight (at least once, as before).
impl Shell {
    /// A commit that is not pure delivery bookkeeping holds every later frame.
    fn note_barrier(&mut self, ops: &[charger_core::StoreOp]) {
        if !charger_core::queue::may_overtake(ops) {
            self.barrier = self.submitted;
        }
    }

    /// The commit a frame handed over now waits for.
    fn send_after(&self) -> u64 {
        self.barrier
            .max(self.submitted.saturating_sub(REMOVALS_IN_FLIGHT))
    }
}

/// Hardware commands that take energy away (or are harmless early): they wait for storage at
/// most [`SAFE_WAIT`]. Only closing the contactor energizes.
fn takes_energy_away(cmd: HardwareCmd) -> bool {
    cmd != HardwareCmd::Contactor(true)
}

/// An OCPP-J CALL (message type 2), as opposed to an answer to the central system.
fn is_call(text: &str) -> bool {
    text.trim_start()
        .strip_prefix('[')
        .is_some_and(|rest| rest.trim_start().starts_with('2'))
}

/// An output waiting for storage.
struct Held {
    /// Goes once commit `after` is through.
    after: u64,
    output: Output,
    /// For hardware that takes energy away: goes at this instant anyway.
    go_anyway: Option<Instant>,
    /// When the core emitted it (its CALL timer started then).
    since: Instant,
}

impl Shell {
    /// Hardware commands that waited [`SAFE_WAIT`] for a stuck commit go now, out of order; a
    /// contactor close queued before such a command is dropped (the core has decided against it).
    fn expire_safe(&mut self) {
        let now = Instant::now();
        let mut kept: VecDeque<Held> = VecDeque::with_capacity(self.held.len());
        for held in std::mem::take(&mut self.held) {
            match held.output {
                Output::Hardware(cmd) if held.go_anyway.is_some_and(|t| t <= now) => {
                    warn!(
                        ?cmd,
                        "storage slow: hardware command carried out before its commit"
                    );
                    kept.retain(|h| h.output != Output::Hardware(HardwareCmd::Contactor(true)));
                    self.board.apply(cmd, self.clock.mono_ms());
                }
                _ => kept.push_back(held),
            }
        }
        self.held = kept;
        self.board.publish(&self.view, false);
    }
}
