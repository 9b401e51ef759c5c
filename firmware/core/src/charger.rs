//! The charger state machine: one connector, OCPP 1.6 Core + LocalAuthListManagement +
//! RemoteTrigger. This file holds the state and the event loop; the submodules hold the
//! behaviour by concern.

mod authorization;
mod board;
mod boot;
mod csms_calls;
mod delivery;
mod local;
mod transaction;

pub use local::{
    AuthorizationMode, ConfigEntry, LocalReply, LocalRequest, LocalStatus, TransactionView,
    WRITE_ONLY_KEYS,
};

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{Cache, LocalList};
use crate::config::{Config, ConfigError};
use crate::io::{BoardInput, HardwareCmd, Input, Output, PilotState};
use crate::meter::{Meter, MeterRecord};
use crate::queue::TxQueue;
use crate::settings::Settings;
use crate::status::{BoardView, ConnectorStatus};
use crate::store::{Restored, StoreOp, Table};
use crate::time::Now;

/// State-table keys.
pub(crate) mod keys {
    pub const TX: &str = "tx";
    pub const METER: &str = "meter";
    pub const NEXT_TX: &str = "next_tx";
    pub const HOLD: &str = "hold";
    pub const AVAILABLE: &str = "available";
    pub const BOOTS: &str = "boots";
    pub const CLOCK_OFFSET: &str = "clock_offset_ms";
    pub const TXID_PREFIX: &str = "txid/";
    /// Authorization mode set on the local interface (bool: free charge); wins over settings.
    pub const FREE_CHARGE: &str = "free_charge";
}

/// Registration state after BootNotification (§4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Registration {
    /// No answer yet in this power cycle.
    Unknown,
    Pending,
    Accepted,
    Rejected,
}

/// Why a tag is being authorized at the central system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthPurpose {
    /// To start a transaction.
    Start,
    /// To learn the parent of a tag that may stop the running transaction.
    Stop,
    /// To learn the parent of a tag that may release a DeAuthorized cable lock.
    ReleaseHold,
}

/// What an outstanding or waiting CALL is, so its answer can be routed.
#[derive(Clone, Debug, PartialEq)]
enum CallKind {
    Boot,
    Heartbeat,
    Status {
        connector: u32,
    },
    Authorize {
        tag: String,
        purpose: AuthPurpose,
    },
    /// A transaction message at queue sequence `seq`.
    Tx {
        seq: u64,
    },
    /// A triggered MeterValues (not part of the transaction queue).
    TriggeredMeter,
}

/// A non-transactional request waiting for its turn.
#[derive(Clone, Debug)]
struct WaitingCall {
    action: &'static str,
    payload: Value,
    kind: CallKind,
    /// Asked for by TriggerMessage: may be sent while registration is Pending.
    triggered: bool,
}

/// The one CALL in flight (OCPP-J allows one at a time).
#[derive(Clone, Debug)]
struct Outstanding {
    id: String,
    kind: CallKind,
    deadline_ms: u64,
}

/// The running transaction (persisted in the State table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Transaction {
    local_id: u64,
    tag: String,
    #[serde(default)]
    parent: Option<String>,
    meter_start: u64,
    start_time: DateTime<Utc>,
    /// A late StartTransaction.conf said not Accepted and StopTransactionOnInvalidId is false.
    #[serde(default)]
    invalid: bool,
    /// Energy delivery stopped (MaxEnergyOnInvalidId reached): SuspendedEVSE.
    #[serde(default)]
    suspended: bool,
    /// Meter values collected for StopTransaction.transactionData (StopTxnSampledData,
    /// StopTxnAlignedData): Transaction.Begin first, then samples. Persisted with the
    /// transaction so a power cut does not lose them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    data: Vec<rust_ocpp::v1_6::types::MeterValue>,
}

/// An accepted Reset waiting to be carried out. Errata v4 3.36 (§5.14): the StopTransaction.req
/// of the ongoing transaction is sent before the reset; if its confirmation does not come, it
/// stays queued and the reset goes ahead.
#[derive(Clone, Copy, Debug, PartialEq)]
struct PendingReset {
    hard: bool,
    /// Deliver the transaction queue up to and including this sequence (the reset's
    /// StopTransaction) before rebooting. `None`: nothing to deliver first.
    deliver_to: Option<u64>,
    /// A delivery attempt failed (CallError, timeout, retry wait): reboot, the rest stays queued.
    gave_up: bool,
    /// No new CALL starts after this (mono ms): a slow central system cannot hold the reset off.
    deadline_ms: u64,
}

/// A cable lock kept after a DeAuthorized stop, until the same tag or parent comes back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Hold {
    tag: String,
    #[serde(default)]
    parent: Option<String>,
}

/// A tag authorized to start, waiting for the EV (expires after ConnectionTimeOut).
#[derive(Clone, Debug, PartialEq)]
struct Authorized {
    tag: String,
    parent: Option<String>,
    expires_ms: u64,
}

/// The charger: feed it [`Input`]s, execute its [`Output`]s.
pub struct Charger {
    settings: Settings,
    config: Config,
    out: VecDeque<Output>,
    /// Store ops not yet emitted; flushed as one `Persist` before the next output that needs it.
    ops: Vec<StoreOp>,
    now: Now,
    boots: u64,
    msg_counter: u64,
    /// A Reset was executed: the core is dead until the shell rebuilds it.
    halted: bool,
    /// Added to the shell's UTC: the central system's clock, adopted from BootNotification.conf
    /// and Heartbeat.conf (§4.2, §4.6 RECOMMENDED).
    clock_offset_ms: i64,
    /// A Reset was accepted; the reboot waits for the stop to be delivered and no CALL in flight.
    reset_pending: Option<PendingReset>,

    // board
    pilot: PilotState,
    load_da: u16,
    contactor: bool,
    pwm: u16,
    locked: bool,
    available: bool,
    /// ChangeAvailability(Inoperative) arrived during a transaction: applied when it ends.
    unavailable_scheduled: bool,
    /// A transaction ended with the EV still plugged in.
    finishing: bool,

    // link
    connected: bool,
    registration: Registration,
    boot_at_ms: Option<u64>,
    outstanding: Option<Outstanding>,
    waiting: VecDeque<WaitingCall>,
    last_sent_ms: u64,
    /// Status last reported per connector (0 and 1); `None` = must report.
    reported: [Option<ConnectorStatus>; 2],
    /// Current connector-1 status and since when (mono ms, utc).
    status_since: (ConnectorStatus, u64, DateTime<Utc>),

    // authorization
    cache: Cache,
    list: LocalList,
    auth_pending: bool,
    authorized: Option<Authorized>,
    hold: Option<Hold>,

    // transactions
    tx: Option<Transaction>,
    next_local_tx: u64,
    /// Central-system transaction ids by our local id (-1: StartTransaction dropped).
    tx_ids: BTreeMap<u64, i32>,
    queue: TxQueue,
    meter: Meter,
    next_sample_ms: Option<u64>,
    /// Next ClockAlignedDataInterval boundary (wall clock).
    next_aligned: Option<DateTime<Utc>>,
}

impl Charger {
    /// Builds the core from settings and what the store held at boot. Refuses an invalid
    /// installer configuration, naming the key and the reason. A transaction found open in the
    /// store was interrupted by power loss: it is stopped (reason PowerLoss) with the last
    /// persisted meter reading and its time.
    pub fn new(mut settings: Settings, restored: Restored, now: Now) -> Result<Self, ConfigError> {
        settings.validate()?;
        let mut config = Config::new(&settings.installer_config)?;
        for (k, v) in restored.table(Table::Config) {
            if let Some(s) = v.as_str() {
                if !config.restore(k, s) {
                    tracing::warn!(key = %k, value = %s, "ignoring stored configuration value");
                }
            }
        }
        let state: BTreeMap<String, Value> = restored
            .table(Table::State)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let get = |k: &str| state.get(k).cloned();
        if let Some(free) = local::restored_free_charge(get(keys::FREE_CHARGE)) {
            settings.free_charge = free;
        }
        // The central system's time adopted before the reboot (§4.2) applies from the start.
        let clock_offset_ms = get(keys::CLOCK_OFFSET)
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        let now = Now {
            utc: now.utc + chrono::Duration::milliseconds(clock_offset_ms),
            ..now
        };
        let meter_rec: Option<MeterRecord> =
            get(keys::METER).and_then(|v| serde_json::from_value(v).ok());
        let meter = Meter::new(meter_rec, now.mono_ms, now.utc);
        let boots = get(keys::BOOTS).and_then(|v| v.as_u64()).unwrap_or(0) + 1;
        let tx_ids = state
            .iter()
            .filter_map(|(k, v)| {
                let local = k.strip_prefix(keys::TXID_PREFIX)?.parse().ok()?;
                Some((local, v.as_i64()? as i32))
            })
            .collect();
        let cache = Cache::restore(
            restored
                .table(Table::Cache)
                .map(|(k, v)| (k.clone(), v.clone())),
            settings.auth_cache_capacity,
        );
        let list = LocalList::restore(
            restored
                .table(Table::LocalList)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        let mut queue = TxQueue::restore(
            restored
                .table(Table::Queue)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        // §3.7.1: a retry wait started before the reboot continues after it.
        let retry_ms = config.uint("TransactionMessageRetryInterval") * 1000;
        queue.rearm(now, |attempts| retry_ms * u64::from(attempts));
        let mut charger = Charger {
            settings,
            config,
            out: VecDeque::new(),
            ops: Vec::new(),
            now,
            boots,
            msg_counter: 0,
            halted: false,
            reset_pending: None,
            clock_offset_ms,
            pilot: PilotState::A,
            load_da: 0,
            contactor: false,
            pwm: 1000,
            locked: false,
            available: get(keys::AVAILABLE)
                .and_then(|v| v.as_bool())
                .unwrap_or(true),
            unavailable_scheduled: false,
            finishing: false,
            connected: false,
            registration: Registration::Unknown,
            boot_at_ms: Some(now.mono_ms),
            outstanding: None,
            waiting: VecDeque::new(),
            last_sent_ms: now.mono_ms,
            reported: [None, None],
            status_since: (ConnectorStatus::Available, now.mono_ms, now.utc),
            cache,
            list,
            auth_pending: false,
            authorized: None,
            hold: get(keys::HOLD).and_then(|v| serde_json::from_value(v).ok()),
            tx: None,
            next_local_tx: get(keys::NEXT_TX).and_then(|v| v.as_u64()).unwrap_or(1),
            tx_ids,
            queue,
            meter,
            next_sample_ms: None,
            next_aligned: None,
        };
        charger.persist(vec![StoreOp::Put {
            table: Table::State,
            key: keys::BOOTS.into(),
            value: Value::from(boots),
        }]);
        if let Some(tx) = get(keys::TX).and_then(|v| serde_json::from_value::<Transaction>(v).ok())
        {
            charger.stop_after_power_loss(tx);
        }
        // Put the hardware in a known state: nothing offered, contactor open, lock as persisted.
        charger
            .out
            .push_back(Output::Hardware(HardwareCmd::Contactor(false)));
        charger
            .out
            .push_back(Output::Hardware(HardwareCmd::Pwm(1000)));
        charger.locked = charger.hold.is_some();
        charger
            .out
            .push_back(Output::Hardware(HardwareCmd::Lock(charger.locked)));
        charger.status_since.0 = charger.connector_status();
        charger.flush();
        Ok(charger)
    }

    /// Feeds one event at time `now`. Never panics, whatever the input.
    pub fn handle_input(&mut self, input: Input, now: Now) {
        if self.halted {
            return;
        }
        let utc = now.utc + chrono::Duration::milliseconds(self.clock_offset_ms);
        if now.mono_ms >= self.now.mono_ms {
            self.now = Now { utc, ..now };
        } else {
            // A monotonic clock never goes back; keep ours and take only the wall time.
            self.now.utc = utc;
        }
        self.meter.advance(self.now.mono_ms, self.metered_current());
        match input {
            Input::Board(BoardInput::Pilot(p)) => self.on_pilot(p),
            Input::Board(BoardInput::Card(Some(uid))) => self.on_card(&uid),
            Input::Board(BoardInput::Card(None)) => {}
            Input::Board(BoardInput::LoadDeciAmps(da)) => self.load_da = da,
            Input::Board(BoardInput::StopButton) => self.on_stop_button(),
            Input::Connected => self.on_connected(),
            Input::Disconnected => self.on_disconnected(),
            Input::Frame(text) => self.on_frame(&text),
            Input::OversizedFrame { head, len } => self.on_oversized_frame(&head, len),
            Input::Local(req) => self.on_local(req),
            Input::Tick => {}
        }
        if !self.halted {
            self.run_timers();
        }
        self.flush();
    }

    /// The next action for the shell, in order; `None` when there is nothing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The next monotonic deadline (ms) at which the shell must call `handle_input(Input::Tick)`.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.halted {
            return None;
        }
        let mut t: Vec<u64> = Vec::new();
        if let Some(o) = &self.outstanding {
            t.push(o.deadline_ms);
        }
        if self.connected && self.outstanding.is_none() {
            if let Some(b) = self.boot_at_ms {
                t.push(b);
            }
        }
        if self.online() && self.outstanding.is_none() {
            let hb = self.config.uint("HeartbeatInterval");
            if hb > 0 {
                t.push(self.last_sent_ms + hb * 1000);
            }
            if let Some((_, m)) = self.queue.head() {
                t.push(m.not_before_ms.max(self.now.mono_ms));
            }
        }
        if let Some(a) = &self.authorized {
            t.push(a.expires_ms);
        }
        if let Some(s) = self.next_sample_ms {
            t.push(s);
        }
        if let Some(a) = self.next_aligned {
            let ahead = (a - self.now.utc).num_milliseconds().max(0) as u64;
            t.push(self.now.mono_ms + ahead);
        }
        if self.online() && self.reported[1] != Some(self.status_since.0) {
            t.push(self.status_since.1 + self.config.uint("MinimumStatusDuration") * 1000);
        }
        if self.tx.is_some() {
            t.push(self.meter.persisted_at_ms + METER_PERSIST_PERIOD_MS);
        }
        if let Some(r) = &self.reset_pending {
            t.push(r.deadline_ms);
        }
        t.into_iter().min()
    }

    /// A snapshot for the board status frame.
    pub fn status(&self) -> BoardView {
        BoardView {
            pilot: self.pilot,
            pwm_permille: self.pwm,
            contactor_closed: self.contactor,
            locked: self.locked,
            online: self.online(),
            tx_active: self.tx.is_some(),
            fault: self.pilot.is_fault(),
            connector_status: self.connector_status(),
            queue_len: self.queue.len(),
            energy_wh: self.meter.wh(),
            current_deci_amps: self.metered_current(),
        }
    }

    /// The current value of an OCPP configuration key (e.g. WebSocketPingInterval for the shell).
    pub fn config_value(&self, key: &str) -> Option<String> {
        self.config.get(key).map(str::to_string)
    }

    // ----- plumbing shared by the submodules -----

    /// WebSocket up and BootNotification accepted: requests may flow.
    fn online(&self) -> bool {
        self.connected && self.registration == Registration::Accepted
    }

    /// Queues store ops; they are emitted as one `Persist` before the next output that depends
    /// on them.
    fn persist(&mut self, ops: Vec<StoreOp>) {
        self.ops.extend(ops);
    }

    fn put_state(&mut self, key: &str, value: Value) {
        self.persist(vec![StoreOp::Put {
            table: Table::State,
            key: key.into(),
            value,
        }]);
    }

    fn delete_state(&mut self, key: &str) {
        self.persist(vec![StoreOp::Delete {
            table: Table::State,
            key: key.into(),
        }]);
    }

    /// Adopts the central system's clock when ours is more than [`CLOCK_TOLERANCE_MS`] off
    /// (§4.2, §4.6: RECOMMENDED). Smaller differences are network latency and ignored, so a
    /// synchronized host clock is never disturbed. Times already queued keep their stamps.
    fn sync_clock(&mut self, central: Option<DateTime<Utc>>) {
        let Some(central) = central else { return };
        let diff = (central - self.now.utc).num_milliseconds();
        if diff.abs() <= CLOCK_TOLERANCE_MS {
            return;
        }
        tracing::warn!(
            diff_ms = diff,
            central = %central,
            "clock differs from the central system's: adopting its time"
        );
        let d = chrono::Duration::milliseconds(diff);
        self.clock_offset_ms += diff;
        self.now.utc += d;
        // Times of moments already passed, re-expressed on the adopted clock.
        self.status_since.2 += d;
        self.meter.persisted_time += d;
        self.next_aligned = None;
        self.put_state(keys::CLOCK_OFFSET, Value::from(self.clock_offset_ms));
    }

    /// Emits pending store ops as one `Persist` output.
    fn flush(&mut self) {
        if !self.ops.is_empty() {
            let ops = std::mem::take(&mut self.ops);
            self.out.push_back(Output::Persist(ops));
        }
    }

    /// Emits an output after everything it may depend on is persisted.
    fn emit(&mut self, output: Output) {
        self.flush();
        self.out.push_back(output);
    }

    fn next_message_id(&mut self) -> String {
        self.msg_counter += 1;
        format!("{}-{}", self.boots, self.msg_counter)
    }

    fn message_timeout_ms(&self) -> u64 {
        self.config.uint("MessageTimeout").max(1) * 1000
    }

    /// Runs every timer due at `self.now` and sends what can be sent.
    fn run_timers(&mut self) {
        let now = self.now.mono_ms;
        if let Some(o) = &self.outstanding {
            if now >= o.deadline_ms {
                let o = self.outstanding.take().expect("checked");
                tracing::warn!(id = %o.id, kind = ?o.kind, "request timed out");
                self.on_call_failed(o.kind, true);
            }
        }
        if let Some(a) = &self.authorized {
            if now >= a.expires_ms && self.tx.is_none() {
                tracing::info!(tag = %a.tag, "authorization expired (ConnectionTimeOut)");
                self.authorized = None;
            }
        }
        self.sample_meter_values();
        self.sample_clock_aligned();
        self.check_invalid_energy();
        self.try_start_transaction();
        self.update_hardware();
        self.persist_meter_if_due();
        self.track_status();
        self.boot_if_due();
        self.heartbeat_if_due();
        self.pump();
        self.reboot_if_settled();
    }

    /// Whether a pending Reset still has transaction messages to deliver before rebooting.
    fn reset_delivering(&self) -> bool {
        let Some(r) = self.reset_pending else {
            return false;
        };
        let Some(last) = r.deliver_to else {
            return false;
        };
        !r.gave_up
            && self.online()
            && self.now.mono_ms < r.deadline_ms
            && self
                .queue
                .head()
                .is_some_and(|(seq, m)| seq <= last && m.not_before_ms <= self.now.mono_ms)
    }

    /// Emits the pending Reset's `Reboot` once the reset's StopTransaction is delivered (or could
    /// not be: failed attempt, link down, deadline) and no CALL is in flight (answered, timed
    /// out, or the link dropped). Only the transaction queue is served meanwhile.
    fn reboot_if_settled(&mut self) {
        if let Some(r) = self.reset_pending {
            if self.outstanding.is_none() && !self.reset_delivering() {
                self.halted = true;
                self.emit(Output::Reboot { hard: r.hard });
            }
        }
    }
}

/// A central-system clock at most this far from ours is taken as equal (network latency).
const CLOCK_TOLERANCE_MS: i64 = 2_000;

/// While a transaction runs, the meter is persisted at least this often (and on every Wh change),
/// so a power cut loses at most this much of the stop time.
const METER_PERSIST_PERIOD_MS: u64 = 5_000;

/// An RFC 3339 timestamp with millisecond precision (what every OCPP tool parses).
pub(crate) fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(3)
}
