//! `BoardClient`: a long-lived, reconnecting handle on a board link.

use super::record::{BoardView, Direction, EventRecord, FrameRecord, StatusRecord};
use chargerig_link::candump::CandumpWriter;
use chargerig_link::{CanLink, CardUid, Frame, LinkError, LinkSpec, LinkStats, PilotState};
use chrono::Utc;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// How long one receive waits before the thread looks at outgoing frames again; bounds the
/// latency a `send` adds.
const POLL: Duration = Duration::from_millis(2);

/// The board's boot as the client saw it at one moment (see [`BoardClient::boot_mark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootMark {
    pub connection: u32,
    pub boot_count: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct BoardClientOptions {
    /// Write every frame in and out here as a `candump -L` log.
    pub candump: Option<PathBuf>,
    /// Interface name shown in the candump log.
    pub candump_iface: String,
    /// After a reconnect, present again what is physically still there (pilot state, load):
    /// a board that rebooted sees the EV that stayed plugged in.
    pub replay_physical: bool,
    /// Pause between reconnect attempts while the board is away.
    pub reconnect_interval: Duration,
}

impl Default for BoardClientOptions {
    fn default() -> Self {
        Self {
            candump: None,
            candump_iface: "board0".into(),
            replay_physical: true,
            reconnect_interval: Duration::from_millis(20),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot create the candump log {}: {source}", .path.display())]
    Candump {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the board link thread has stopped")]
    Stopped,
    #[error("board link {spec} not connected within {waited_ms} ms: {last_error}")]
    NotConnected {
        spec: String,
        waited_ms: u64,
        last_error: String,
    },
}

/// A wait that reached its deadline, with what was seen.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.describe())]
pub struct WaitError {
    pub waited: Duration,
    pub last: Option<BoardView>,
    pub connected: bool,
    pub last_error: Option<String>,
}

impl WaitError {
    fn describe(&self) -> String {
        let seen = match &self.last {
            Some(v) => format!("last board status {}", v.to_json()),
            None => "no board status received".to_string(),
        };
        let link = if self.connected {
            "link connected".to_string()
        } else {
            format!(
                "link NOT connected ({})",
                self.last_error.as_deref().unwrap_or("never connected")
            )
        };
        format!("waited {:.1} s; {seen}; {link}", self.waited.as_secs_f64())
    }
}

/// Firmware version and boot count, from BOARD_IDENTITY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub major: u8,
    pub minor: u8,
    pub patch: u8,
    pub boot_count: u32,
}

#[derive(Default)]
struct State {
    view: Option<BoardView>,
    meter: (u32, u16),
    identity: Option<Identity>,
    history: Vec<StatusRecord>,
    events: Vec<EventRecord>,
    frames: Vec<FrameRecord>,
    connected: bool,
    connection: u32,
    last_error: Option<String>,
    /// Carrier counters of the connections before the current one.
    stats_base: LinkStats,
    /// Decode failures (unknown id, length, value), counted here rather than by the carrier.
    decode_stats: LinkStats,
    stats: LinkStats,
    physical_pilot: Option<PilotState>,
    physical_load: Option<u16>,
}

/// A reconnecting board link owned by a background thread.
pub struct BoardClient {
    spec: LinkSpec,
    shared: Arc<Mutex<State>>,
    tx: mpsc::Sender<Frame>,
    view_rx: watch::Receiver<Option<BoardView>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BoardClient {
    /// Starts the link thread. The board need not be there yet: the thread keeps trying.
    pub fn start(spec: LinkSpec, opts: BoardClientOptions) -> Result<Self, ClientError> {
        let candump = match &opts.candump {
            Some(path) => Some(CandumpWriter::new(
                BufWriter::new(File::create(path).map_err(|source| ClientError::Candump {
                    path: path.clone(),
                    source,
                })?),
                opts.candump_iface.clone(),
            )),
            None => None,
        };
        let shared = Arc::new(Mutex::new(State::default()));
        let (tx, rx) = mpsc::channel();
        let (view_tx, view_rx) = watch::channel(None);
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            spec: spec.clone(),
            opts,
            shared: shared.clone(),
            rx,
            view_tx,
            stop: stop.clone(),
            candump,
        };
        let thread = std::thread::Builder::new()
            .name(format!("board-link {spec}"))
            .spawn(move || worker.run())
            .expect("spawn board link thread");
        Ok(Self {
            spec,
            shared,
            tx,
            view_rx,
            stop,
            thread: Some(thread),
        })
    }

    /// Starts and waits until the link is up and a status arrived.
    pub async fn connect(
        spec: LinkSpec,
        opts: BoardClientOptions,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let c = Self::start(spec, opts)?;
        c.wait_connected(timeout).await?;
        Ok(c)
    }

    pub fn spec(&self) -> &LinkSpec {
        &self.spec
    }

    /// Waits until the link is connected and the board has sent a status on this connection.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<BoardView, ClientError> {
        let conn_now = lock(&self.shared).connection;
        let at_least = conn_now.max(1);
        self.wait_for(timeout, |v| v.connection >= at_least)
            .await
            .map_err(|e| ClientError::NotConnected {
                spec: self.spec.to_string(),
                waited_ms: e.waited.as_millis() as u64,
                last_error: e
                    .last_error
                    .unwrap_or_else(|| "no status from the board".into()),
            })
    }

    /// What identifies the board's current boot; take it before cutting the power.
    pub fn boot_mark(&self) -> BootMark {
        let boot_count = self.identity().map(|i| i.boot_count);
        let connection = self.connection();
        BootMark {
            connection,
            boot_count,
        }
    }

    /// Waits for a status from a boot after `mark`: on a newer link connection (a simulated
    /// board's port comes back with its process) or with a higher boot count (a real board
    /// behind an adapter that stayed connected). Why: right after a power cycle the latest
    /// status may still be the old boot's last one, and a wait that accepts it (queue empty,
    /// online...) ends before the new boot has said anything.
    pub async fn wait_rebooted(
        &self,
        mark: BootMark,
        timeout: Duration,
    ) -> Result<BoardView, ClientError> {
        self.wait_for(timeout, |v| {
            v.connection > mark.connection
                || matches!((v.boot_count, mark.boot_count), (Some(now), Some(before)) if now > before)
        })
        .await
        .map_err(|e| ClientError::NotConnected {
            spec: self.spec.to_string(),
            waited_ms: e.waited.as_millis() as u64,
            last_error: e
                .last_error
                .unwrap_or_else(|| "no status from the board's new boot".into()),
        })
    }

    /// Queues a frame for the board. While the board is away, pilot and load are remembered
    /// (and presented when it comes back); other frames are dropped with a warning, as a card
    /// presented to a powerless reader is.
    pub fn send(&self, frame: Frame) -> Result<(), ClientError> {
        self.tx.send(frame).map_err(|_| ClientError::Stopped)
    }

    pub fn pilot(&self, p: PilotState) -> Result<(), ClientError> {
        self.send(Frame::Pilot(p))
    }

    pub fn card(&self, uid: Option<CardUid>) -> Result<(), ClientError> {
        self.send(Frame::Card(uid))
    }

    /// EV load in amperes (0.1 A resolution, clamped to the frame's range).
    pub fn load(&self, amps: f64) -> Result<(), ClientError> {
        let deci = (amps * 10.0).round().clamp(0.0, f64::from(u16::MAX)) as u16;
        self.send(Frame::Load { deci_amps: deci })
    }

    pub fn button(&self) -> Result<(), ClientError> {
        self.send(Frame::Button)
    }

    pub fn request_status(&self) -> Result<(), ClientError> {
        self.send(Frame::StatusRequest)
    }

    /// The latest status with its meter, if any arrived.
    pub fn latest(&self) -> Option<BoardView> {
        *self.view_rx.borrow()
    }

    /// A receiver that changes on every status or meter frame.
    pub fn subscribe(&self) -> watch::Receiver<Option<BoardView>> {
        self.view_rx.clone()
    }

    /// Waits until the board reports a status satisfying `pred`, or the timeout passes.
    pub async fn wait_for<F>(&self, timeout: Duration, pred: F) -> Result<BoardView, WaitError>
    where
        F: Fn(&BoardView) -> bool,
    {
        let start = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.view_rx.clone();
        loop {
            if let Some(v) = *rx.borrow_and_update() {
                if pred(&v) {
                    return Ok(v);
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    let st = lock(&self.shared);
                    return Err(WaitError {
                        waited: start.elapsed(),
                        last: *rx.borrow(),
                        connected: st.connected,
                        last_error: st.last_error.clone(),
                    });
                }
            }
        }
    }

    /// Checks that `pred` holds for every status received during `duration` (e.g. "charging
    /// continues for 10 seconds"); fails at the first status that breaks it.
    pub async fn holds_for<F>(&self, duration: Duration, pred: F) -> Result<(), WaitError>
    where
        F: Fn(&BoardView) -> bool,
    {
        let start = Instant::now();
        let deadline = tokio::time::Instant::now() + duration;
        let mut rx = self.view_rx.clone();
        loop {
            if let Some(v) = *rx.borrow_and_update() {
                if !pred(&v) {
                    let st = lock(&self.shared);
                    return Err(WaitError {
                        waited: start.elapsed(),
                        last: Some(v),
                        connected: st.connected,
                        last_error: st.last_error.clone(),
                    });
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Ok(()),
            }
        }
    }

    /// Every status change (sequence ignored) in arrival order.
    pub fn history(&self) -> Vec<StatusRecord> {
        lock(&self.shared).history.clone()
    }

    /// Every board event in arrival order.
    pub fn events(&self) -> Vec<EventRecord> {
        lock(&self.shared).events.clone()
    }

    /// Every frame in and out, in order.
    pub fn frames(&self) -> Vec<FrameRecord> {
        lock(&self.shared).frames.clone()
    }

    pub fn identity(&self) -> Option<Identity> {
        lock(&self.shared).identity
    }

    pub fn is_connected(&self) -> bool {
        lock(&self.shared).connected
    }

    /// Connection number (0 before the first connect, +1 on each reconnect).
    pub fn connection(&self) -> u32 {
        lock(&self.shared).connection
    }

    pub fn last_error(&self) -> Option<String> {
        lock(&self.shared).last_error.clone()
    }

    /// Frame and garbage counters over all connections.
    pub fn stats(&self) -> LinkStats {
        lock(&self.shared).stats
    }

    /// Stops the thread, flushes the candump log.
    ///
    /// Returns every frame recorded, taken after the thread stopped, so it is exactly the set
    /// the candump log holds (a list taken before closing may miss a frame still arriving).
    pub fn close(mut self) -> Vec<FrameRecord> {
        self.shutdown();
        self.frames()
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BoardClient {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn add(a: LinkStats, b: LinkStats) -> LinkStats {
    LinkStats {
        garbage: a.garbage + b.garbage,
        unknown_id: a.unknown_id + b.unknown_id,
        bad_length: a.bad_length + b.bad_length,
        bad_value: a.bad_value + b.bad_value,
        frames_in: a.frames_in + b.frames_in,
        frames_out: a.frames_out + b.frames_out,
    }
}

struct Worker {
    spec: LinkSpec,
    opts: BoardClientOptions,
    shared: Arc<Mutex<State>>,
    rx: mpsc::Receiver<Frame>,
    view_tx: watch::Sender<Option<BoardView>>,
    stop: Arc<AtomicBool>,
    candump: Option<CandumpWriter<BufWriter<File>>>,
}

impl Worker {
    fn run(mut self) {
        let mut link: Option<Box<dyn CanLink>> = None;
        while !self.stop.load(Ordering::Relaxed) {
            match link.as_mut() {
                None => link = self.try_connect(),
                Some(l) => {
                    if let Err(e) = self.pump(l.as_mut()) {
                        self.disconnected(l.as_ref(), &e);
                        link = None;
                    }
                }
            }
        }
        if let Some(w) = self.candump.as_mut() {
            let _ = w.flush();
        }
    }

    fn try_connect(&mut self) -> Option<Box<dyn CanLink>> {
        // Frames queued while the board is away.
        while let Ok(f) = self.rx.try_recv() {
            if !self.remember_physical(&f) {
                tracing::warn!(frame = ?f, link = %self.spec, "board away: frame dropped");
            }
        }
        match chargerig_link::open(&self.spec) {
            Ok(mut l) => {
                let replay: Vec<Frame> = {
                    let mut st = lock(&self.shared);
                    st.connected = true;
                    st.connection += 1;
                    st.last_error = None;
                    // Known again once this connection's board says who it is: a boot count
                    // carried over from the last connection could be a previous boot's.
                    st.identity = None;
                    let mut v = Vec::new();
                    if self.opts.replay_physical {
                        v.extend(st.physical_pilot.map(Frame::Pilot));
                        v.extend(st.physical_load.map(|d| Frame::Load { deci_amps: d }));
                    }
                    v
                };
                tracing::debug!(link = %self.spec, "board link connected");
                let mut frames = replay;
                frames.push(Frame::StatusRequest);
                for f in frames {
                    if let Err(e) = self.write(l.as_mut(), &f) {
                        self.disconnected(l.as_ref(), &e);
                        return None;
                    }
                }
                Some(l)
            }
            Err(e) => {
                lock(&self.shared).last_error = Some(e.to_string());
                let until = Instant::now() + self.opts.reconnect_interval;
                while Instant::now() < until && !self.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                None
            }
        }
    }

    fn disconnected(&mut self, l: &dyn CanLink, e: &LinkError) {
        tracing::debug!(link = %self.spec, error = %e, "board link lost; reconnecting");
        let mut st = lock(&self.shared);
        st.connected = false;
        st.last_error = Some(e.to_string());
        st.stats_base = add(st.stats_base, l.stats());
        st.stats = add(st.stats_base, st.decode_stats);
    }

    /// Returns true for the frames that describe physical state to present again later.
    fn remember_physical(&self, f: &Frame) -> bool {
        let mut st = lock(&self.shared);
        match f {
            Frame::Pilot(p) => {
                st.physical_pilot = Some(*p);
                true
            }
            Frame::Load { deci_amps } => {
                st.physical_load = Some(*deci_amps);
                true
            }
            _ => false,
        }
    }

    fn write(&mut self, l: &mut dyn CanLink, f: &Frame) -> Result<(), LinkError> {
        self.remember_physical(f);
        let raw = f.encode();
        l.send(&raw)?;
        self.record(Direction::Out, raw, Some(*f));
        Ok(())
    }

    fn pump(&mut self, l: &mut dyn CanLink) -> Result<(), LinkError> {
        while let Ok(f) = self.rx.try_recv() {
            self.write(l, &f)?;
        }
        let got = l.recv(POLL)?;
        if let Some(raw) = got {
            let decoded = Frame::decode(&raw);
            if let Err(e) = &decoded {
                tracing::warn!(link = %self.spec, frame = %raw, error = %e, "undecodable frame from board");
            }
            lock(&self.shared).decode_stats.count_decode(&decoded);
            self.record(Direction::In, raw, decoded.as_ref().ok().copied());
            if let Ok(f) = decoded {
                self.apply(f);
            }
        }
        let carrier = l.stats();
        let mut st = lock(&self.shared);
        st.stats = add(add(st.stats_base, carrier), st.decode_stats);
        Ok(())
    }

    fn record(
        &mut self,
        direction: Direction,
        raw: chargerig_link::CanFrame,
        frame: Option<Frame>,
    ) {
        let now = SystemTime::now();
        if let Some(w) = self.candump.as_mut() {
            if let Err(e) = w.write(now, &raw) {
                tracing::warn!(error = %e, "candump log write failed");
            }
        }
        lock(&self.shared).frames.push(FrameRecord {
            at: now.into(),
            direction,
            raw,
            frame,
        });
    }

    fn apply(&mut self, f: Frame) {
        let mut st = lock(&self.shared);
        let now = Utc::now();
        match f {
            Frame::Status(status) => {
                let view = BoardView {
                    status,
                    energy_wh: st.meter.0,
                    deci_amps: st.meter.1,
                    boot_count: st.identity.map(|i| i.boot_count),
                    connection: st.connection,
                    at: now,
                    instant: Instant::now(),
                };
                let changed = st.history.last().is_none_or(|r| {
                    let mut a = r.view.status;
                    a.sequence = status.sequence;
                    a != status || r.view.connection != view.connection
                });
                if changed {
                    st.history.push(StatusRecord { view });
                }
                st.view = Some(view);
                drop(st);
                self.view_tx.send_replace(Some(view));
            }
            Frame::Meter {
                energy_wh,
                deci_amps,
            } => {
                st.meter = (energy_wh, deci_amps);
                if let Some(mut v) = st.view {
                    v.energy_wh = energy_wh;
                    v.deci_amps = deci_amps;
                    st.view = Some(v);
                    drop(st);
                    self.view_tx.send_replace(Some(v));
                }
            }
            Frame::Identity {
                major,
                minor,
                patch,
                boot_count,
            } => {
                st.identity = Some(Identity {
                    major,
                    minor,
                    patch,
                    boot_count,
                });
            }
            Frame::Event(event) => {
                let rec = EventRecord {
                    at: now,
                    event,
                    boot_count: st.identity.map(|i| i.boot_count),
                    connection: st.connection,
                };
                st.events.push(rec);
            }
            other => {
                tracing::warn!(frame = ?other, "board sent a rig→board frame; ignored");
            }
        }
    }
}
