//! The charger state machine: one connector, OCPP 1.6 Core + LocalAuthListManagement +
//! RemoteTrigger. [`Charger`] is a composition of sub-states, each owning its fields and
//! reporting its own timer (str0m-style); this file holds the composition and the event loop.
//! The `charger/*.rs` submodules: sub-states (`clock`, `link`, `connector`, `session`,
//! `status_report`, `outbox`, `reset`), the start gate, and behaviour by concern (`boot`,
//! `authorization`, `transaction`, `delivery`, `csms_request`, `csms_calls`, `board`).

mod authorization;
mod board;
mod boot;
mod clock;
mod connector;
mod csms_calls;
mod csms_request;
mod delivery;
mod link;
mod local;
mod outbox;
mod reset;
mod sampling;
mod session;
mod start_gate;
mod status_report;
mod storage;
mod transaction;

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

pub use self::local::{
    AuthorizationMode, ConfigEntry, LocalReply, LocalRequest, LocalStatus, TransactionView,
};

pub(crate) use self::clock::ts;
use self::clock::Clock;
use self::connector::Connector;
use self::link::Link;
use self::outbox::Outbox;
use self::reset::PendingReset;
use self::session::{Session, Transaction};
use self::status_report::StatusReports;
use crate::auth::{Cache, LocalList};
use crate::config::{self, Config, ConfigError, Key};
use crate::io::{BoardInput, HardwareCmd, Input, Output};
use crate::meter::{Meter, MeterRecord};
use crate::queue::TxQueue;
use crate::settings::Settings;
use crate::status::BoardView;
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

/// The charger: feed it [`Input`]s, execute its [`Output`]s.
pub struct Charger {
    settings: Settings,
    config: Config,
    out: VecDeque<Output>,
    /// Store ops not yet emitted; flushed as one `Persist` before the next output that needs it.
    ops: Vec<StoreOp>,
    /// The instant being processed (mono from the shell, UTC on our adopted clock).
    now: Now,
    /// A Reset was executed: the core is dead until the shell rebuilds it.
    halted: bool,
    clock: Clock,
    link: Link,
    connector: Connector,
    session: Session,
    reports: StatusReports,
    outbox: Outbox,
    /// Authorization cache and local list (`auth.rs`).
    cache: Cache,
    list: LocalList,
    meter: Meter,
    /// A Reset was accepted; the reboot waits for the stop to be delivered and no CALL in flight.
    reset_pending: Option<PendingReset>,
    /// The shell reported that its storage is stuck (`storage.rs`).
    storage_stalled: bool,
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
                    let shown = match config::lookup(k) {
                        Some(def) if def.write_only => config::REDACTED,
                        _ => s,
                    };
                    tracing::warn!(key = %k, value = %shown, "ignoring stored configuration value");
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
        let mut clock = Clock::restore(
            get(keys::CLOCK_OFFSET)
                .and_then(|v| v.as_i64())
                .unwrap_or(0),
            settings.build_date,
            now.utc,
        );
        let rows = restored
            .table(Table::Queue)
            .map(|(k, v)| (k.clone(), v.clone()));
        // With a long queue the shell hands over only its head (the window); the floor below
        // then comes from the window's stamps.
        let mut queue = match restored.queue.clone() {
            Some(summary) => TxQueue::restore_window(rows, summary),
            None => TxQueue::restore(rows),
        };
        // Stamps never go back behind what is already queued (issue 9.5), also after a reboot.
        if let Some(latest) = queue.latest_stamp() {
            clock.raise_floor(latest);
        }
        let now = Now {
            utc: clock.stamp(now.utc),
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
                Some((local, i32::try_from(v.as_i64()?).ok()?))
            })
            .collect();
        let cache = Cache::restore(
            restored
                .table(Table::Cache)
                .map(|(k, v)| (k.clone(), v.clone())),
            cache_capacity(&config, &settings),
        );
        let list = LocalList::restore(
            restored
                .table(Table::LocalList)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        // §3.7.1: a retry wait started before the reboot continues after it.
        let retry_ms = config.uint(Key::TransactionMessageRetryInterval) * 1000;
        queue.rearm(now, |attempts| retry_ms.saturating_mul(u64::from(attempts)));
        let connector = Connector::new(
            get(keys::AVAILABLE)
                .and_then(|v| v.as_bool())
                .unwrap_or(true),
            get(keys::HOLD).and_then(|v| serde_json::from_value(v).ok()),
        );
        let mut charger = Charger {
            settings,
            config,
            out: VecDeque::new(),
            ops: Vec::new(),
            now,
            halted: false,
            clock,
            link: Link::new(boots, now.mono_ms),
            connector,
            session: Session::new(get(keys::NEXT_TX).and_then(|v| v.as_u64()).unwrap_or(1)),
            reports: StatusReports::new(
                crate::status::ConnectorStatus::Available,
                now.mono_ms,
                now.utc,
            ),
            outbox: Outbox { queue, tx_ids },
            cache,
            list,
            meter,
            reset_pending: None,
            storage_stalled: false,
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
        charger.out.push_back(Output::Hardware(HardwareCmd::Lock(
            charger.connector.locked,
        )));
        charger.reports.current = charger.connector_status();
        charger.flush();
        Ok(charger)
    }

    /// Feeds one event at time `now`. Never panics, whatever the input.
    pub fn handle_input(&mut self, input: Input, now: Now) {
        if self.halted {
            return;
        }
        let utc = self.clock.stamp(now.utc);
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
            Input::Board(BoardInput::LoadDeciAmps(da)) => self.connector.load_da = da,
            Input::Board(BoardInput::StopButton) => self.on_stop_button(),
            Input::Connected => self.on_connected(),
            Input::Disconnected => self.on_disconnected(),
            Input::Frame(text) => self.on_frame(&text),
            Input::OversizedFrame { head, len } => self.on_oversized_frame(&head, len),
            Input::Local(req) => self.on_local(req),
            Input::Tick => {}
            Input::StorageStalled => self.on_storage(true),
            Input::StorageOk => self.on_storage(false),
            Input::QueueRows(rows) => {
                let taken = self.outbox.queue.loaded(rows.into_iter());
                let retry_ms = self.config.uint(Key::TransactionMessageRetryInterval) * 1000;
                self.outbox
                    .queue
                    .rearm_some(&taken, self.now, |n| retry_ms * u64::from(n));
            }
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

    /// The next monotonic deadline (ms) at which the shell must call `handle_input(Input::Tick)`:
    /// the soonest of the sub-states' own timers.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.halted {
            return None;
        }
        let heartbeat_ms = self.config.uint(Key::HeartbeatInterval) * 1000;
        let stable_ms = self.config.uint(Key::MinimumStatusDuration) * 1000;
        let link = self.link.timeout(heartbeat_ms);
        // The queue head can only go out on an idle, registered link.
        let outbox = self
            .link
            .idle_online()
            .then(|| self.outbox.timeout(self.now.mono_ms))
            .flatten();
        let session = self.session.timeout(self.now);
        let reports = self.reports.timeout(self.link.online(), stable_ms);
        // During a transaction the register is persisted periodically (power-loss stop time).
        let meter = self
            .session
            .tx
            .as_ref()
            .map(|_| self.meter.persisted_at_ms + METER_PERSIST_PERIOD_MS);
        let reset = self.reset_pending.as_ref().map(PendingReset::timeout);
        [link, outbox, session, reports, meter, reset]
            .into_iter()
            .flatten()
            .min()
    }

    /// A snapshot for the board status frame.
    pub fn status(&self) -> BoardView {
        let c = &self.connector;
        BoardView {
            pilot: c.pilot,
            pwm_permille: c.pwm,
            contactor_closed: c.contactor,
            locked: c.locked,
            online: self.link.online(),
            tx_active: self.session.tx.is_some(),
            fault: c.pilot.is_fault(),
            connector_status: self.connector_status(),
            queue_len: self.outbox.queue.len(),
            energy_wh: self.meter.wh(),
            current_deci_amps: self.metered_current(),
        }
    }

    /// The current value of an OCPP configuration key given by name (any case), as
    /// GetConfiguration reports it; `None` for an unknown key.
    pub fn config_value(&self, key: &str) -> Option<String> {
        self.config.get(key).map(str::to_string)
    }

    /// An integer key's current value (e.g. WebSocketPingInterval for the shell): typed, so a
    /// misspelled key does not compile.
    pub fn config_uint(&self, key: Key) -> u64 {
        self.config.uint(key)
    }

    /// The security profile in effect (0..=3): the shell reads it at every (re)connection, so a
    /// raise takes effect at the next connection.
    pub fn security_profile(&self) -> u8 {
        self.config.uint(Key::SecurityProfile).min(3) as u8
    }

    /// The HTTP Basic-auth password (the AuthorizationKey's bytes), if one is set; read at every
    /// (re)connection, so a changed key is used from the next connection on.
    pub fn authorization_key(&self) -> Option<Vec<u8>> {
        self.config.authorization_key()
    }

    // ----- plumbing shared by the submodules -----

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

    /// Adopts the central system's clock when ours is too far off ([`Clock::adopt`]), and
    /// re-expresses the times of moments already passed on the adopted clock. Times already
    /// queued keep their stamps, and new stamps never go behind them (a step back holds the
    /// clock until it is passed). `rtt_ms`: the answer's round trip (issue 9.5).
    fn sync_clock(&mut self, central: Option<chrono::DateTime<chrono::Utc>>, rtt_ms: u64) {
        let Some(central) = central else { return };
        let Some(d) = self.clock.adopt(central, self.now.utc, rtt_ms) else {
            return;
        };
        self.now.utc = self.clock.floored(clock::shift(self.now.utc, d));
        self.reports.since = clock::shift(self.reports.since, d);
        self.meter.persisted_time = clock::shift(self.meter.persisted_time, d);
        self.session.next_aligned = None;
        self.put_state(keys::CLOCK_OFFSET, Value::from(self.clock.offset_ms));
    }

    /// Emits pending store ops as one `Persist` output.
    fn flush(&mut self) {
        if !self.ops.is_empty() && !self.holds_bookkeeping() {
            let ops = std::mem::take(&mut self.ops);
            self.out.push_back(Output::Persist(ops));
        }
        // After the Persist: the shell reads the rows once everything before is committed.
        if let Some((from_key, limit)) = self.outbox.queue.wants_load() {
            self.out.push_back(Output::LoadQueue { from_key, limit });
        }
    }

    /// Emits an output after everything it may depend on is persisted.
    fn emit(&mut self, output: Output) {
        self.flush();
        self.out.push_back(output);
    }

    /// While a StartTransaction is in flight, the bookkeeping of the message delivered before
    /// it (its removal: [`crate::queue::may_overtake`]) waits here and goes with the commit of
    /// the StartTransaction.conf, which must be durable before the next CALL anyway (it holds
    /// the transactionId). One fsync instead of two on the delivery's critical path: otherwise
    /// that commit would queue behind the removal's, still syncing. At most
    /// [`crate::queue::HELD_REMOVALS`] removal waits; any other change, an answer or its absence
    /// (failure, timeout, lost connection) flushes it.
    fn holds_bookkeeping(&self) -> bool {
        matches!(
            self.link.outstanding.as_ref().map(|o| &o.kind),
            Some(link::CallKind::Tx {
                action: crate::queue::TxAction::StartTransaction,
                ..
            })
        ) && crate::queue::may_overtake(&self.ops)
            && self
                .ops
                .iter()
                .filter(|op| {
                    matches!(
                        op,
                        StoreOp::Delete {
                            table: Table::Queue,
                            ..
                        }
                    )
                })
                .count()
                <= crate::queue::HELD_REMOVALS
    }

    fn message_timeout_ms(&self) -> u64 {
        self.config.uint(Key::MessageTimeout).max(1) * 1000
    }

    /// Runs every timer due at `self.now` and sends what can be sent. The order matters; each
    /// step sees the effects of the ones before it within the same call:
    /// 1. a CALL that timed out frees the pipeline first, then an Authorize past
    ///    AuthorizeTimeout is withdrawn; either may grant a tag by the offline decision, which
    ///    the start below then uses;
    /// 2. an authorization past ConnectionTimeOut expires before the start could use it;
    /// 3. periodic and clock-aligned samples due now are taken for the transaction as it was
    ///    (before a suspend or start in this call);
    /// 4. MaxEnergyOnInvalidId may suspend the transaction, and
    /// 5. an authorized tag with a plugged EV starts one, both before
    /// 6. the hardware is brought in line, so PWM/contactor/lock follow in the same call;
    /// 7. the meter is persisted after the state it belongs to;
    /// 8. the connector status is tracked after every change above, and queued reports go
    ///    before the new CALLs below;
    /// 9. a due BootNotification takes the free slot before
    /// 10. a Heartbeat (only when nothing else waits) and
    /// 11. the pump, which sends the next waiting CALL or queue head;
    /// 12. a pending Reset reboots last, once the pump had its chance to deliver its stop.
    fn run_timers(&mut self) {
        let now = self.now.mono_ms;
        if self
            .link
            .outstanding
            .as_ref()
            .is_some_and(|o| now >= o.deadline_ms)
        {
            let o = self.link.outstanding.take().expect("checked");
            tracing::warn!(id = %o.id, kind = ?o.kind, "request timed out");
            self.on_call_failed(o.kind, true);
        }
        self.authorize_timed_out();
        if let Some(a) = &self.session.authorized {
            if now >= a.expires_ms && self.session.tx.is_none() {
                tracing::info!(tag = %a.tag, "authorization expired (ConnectionTimeOut)");
                self.session.authorized = None;
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
}

/// The cache size: AuthorizationCacheMaxLength, at least 1, at most the installer's limit.
fn cache_capacity(config: &Config, settings: &Settings) -> usize {
    usize::try_from(config.uint(Key::AuthorizationCacheMaxLength))
        .unwrap_or(usize::MAX)
        .clamp(1, settings.auth_cache_capacity.max(1))
}

/// While a transaction runs, the meter is persisted at least this often (and on every Wh change),
/// so a power cut loses at most this much of the stop time.
const METER_PERSIST_PERIOD_MS: u64 = 5_000;
