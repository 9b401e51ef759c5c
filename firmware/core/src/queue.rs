//! The persistent FIFO of transaction-related messages (§3.7): StartTransaction,
//! StopTransaction and transaction MeterValues, delivered in event order, exactly once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{StoreOp, Table};
use crate::time::Now;

/// Which transaction message a queue entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxAction {
    StartTransaction,
    StopTransaction,
    MeterValues,
}

impl TxAction {
    pub fn as_str(self) -> &'static str {
        match self {
            TxAction::StartTransaction => "StartTransaction",
            TxAction::StopTransaction => "StopTransaction",
            TxAction::MeterValues => "MeterValues",
        }
    }
}

/// One queued message. Its payload is complete except for the transactionId of Stop and
/// MeterValues, filled in at send time from the (possibly late) StartTransaction.conf.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuedMessage {
    pub action: TxAction,
    /// Our own transaction number (the central system's id may not be known yet).
    pub local_tx: u64,
    pub payload: Value,
    /// Failed attempts on a live connection so far (offline time never counts).
    pub attempts: u32,
    /// Monotonic time before which no new attempt is made (this boot's clock).
    #[serde(skip)]
    pub not_before_ms: u64,
    /// The same as wall-clock time, persisted so a reboot does not shorten the retry wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
}

/// What a failed attempt led to.
#[derive(Debug, PartialEq)]
pub enum Failure {
    /// Retry at the given monotonic time.
    Retry { at_ms: u64 },
    /// Attempts exhausted: the message was removed.
    Dropped(QueuedMessage),
}

/// Messages kept in memory at most: the oldest ones, the next to be delivered. The rest of a
/// long queue (a month offline) stays on disk only, so memory does not grow with the queue.
/// Small on purpose: a MeterValues message takes ~3 KiB as a JSON value, and a refill (half a
/// window, one indexed read) costs far less than a delivery.
pub const WINDOW: usize = 64;

/// What the shell counted in its store at boot when it hands over only the first [`WINDOW`]
/// queue rows (see [`crate::Restored::queue`]). Built row by row with [`QueueSummary::add`],
/// so a shell can stream the table instead of holding it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueSummary {
    /// Messages in the store.
    pub len: usize,
    /// One past the highest sequence number in the store.
    pub next_seq: u64,
    /// The latest timestamp carried by any stored message: the clock floor after a reboot must
    /// cover the whole queue, not only the window (issue 9.5).
    pub latest: Option<DateTime<Utc>>,
}

impl QueueSummary {
    /// Counts one stored row: its key and its value as JSON text.
    pub fn add(&mut self, key: &str, value: &str) {
        self.len += 1;
        if let Ok(seq) = key.parse::<u64>() {
            self.next_seq = self.next_seq.max(seq.saturating_add(1));
        }
        let stamp = serde_json::from_str::<Stamps>(value)
            .ok()
            .and_then(|s| s.payload.latest());
        self.latest = self.latest.max(stamp);
    }
}

/// Only the timestamps of a stored message (a full parse would build the whole payload).
#[derive(Deserialize)]
struct Stamps {
    #[serde(default)]
    payload: PayloadStamps,
}

#[derive(Default, Deserialize)]
struct PayloadStamps {
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default, rename = "meterValue")]
    meter_value: Vec<SampleStamp>,
}

#[derive(Deserialize)]
struct SampleStamp {
    #[serde(default)]
    timestamp: Option<String>,
}

impl PayloadStamps {
    fn latest(&self) -> Option<DateTime<Utc>> {
        let own = self.timestamp.as_deref();
        let samples = self
            .meter_value
            .iter()
            .filter_map(|m| m.timestamp.as_deref());
        own.into_iter().chain(samples).filter_map(parse_stamp).max()
    }
}

fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The latest timestamp a message payload carries (StartTransaction/StopTransaction
/// `timestamp`, MeterValues `meterValue[].timestamp`).
fn payload_latest(p: &Value) -> Option<DateTime<Utc>> {
    let own = p["timestamp"].as_str();
    let samples = p["meterValue"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|mv| mv["timestamp"].as_str());
    own.into_iter().chain(samples).filter_map(parse_stamp).max()
}

#[derive(Clone, Debug, Default)]
pub struct TxQueue {
    /// The window: the oldest messages, contiguous from the head.
    items: BTreeMap<u64, QueuedMessage>,
    next_seq: u64,
    /// Messages per local transaction in the window, so "anything left for this transaction?"
    /// is O(log n) without a count of the whole queue (which would grow with it).
    per_tx: BTreeMap<u64, usize>,
    /// The local transaction of the newest message taken into the window: messages on disk
    /// come after it, and local transaction numbers never decrease along the queue (one
    /// connector, sessions one after the other), so only this one and later ones can have
    /// messages there.
    tail_tx: Option<u64>,
    /// The latest stamp of the messages on disk only, as counted at boot.
    spilled_latest: Option<DateTime<Utc>>,
    /// Every queued message, in memory or not.
    len: usize,
    /// The first sequence number that is on disk only (`None`: everything is in memory).
    spilled_from: Option<u64>,
    /// A load of spilled messages is on its way.
    loading: bool,
}

/// Queue keys sort in delivery order as strings.
pub fn queue_key(seq: u64) -> String {
    format!("{seq:020}")
}

impl TxQueue {
    pub fn restore(rows: impl Iterator<Item = (String, Value)>) -> TxQueue {
        let mut q = TxQueue::default();
        for (k, v) in rows {
            let (Ok(seq), Ok(msg)) = (k.parse::<u64>(), serde_json::from_value::<QueuedMessage>(v))
            else {
                tracing::error!(key = %k, "unreadable queue entry in the store: skipped");
                continue;
            };
            q.next_seq = q.next_seq.max(seq + 1);
            q.take_in(seq, msg);
        }
        q.len = q.items.len();
        q
    }

    /// Puts a message into the window.
    fn take_in(&mut self, seq: u64, msg: QueuedMessage) {
        *self.per_tx.entry(msg.local_tx).or_default() += 1;
        self.tail_tx = Some(self.tail_tx.map_or(msg.local_tx, |t| t.max(msg.local_tx)));
        self.items.insert(seq, msg);
    }

    /// The first rows of a longer stored queue (`rows`, at most [`WINDOW`] of them) and what
    /// the shell counted of the whole.
    pub fn restore_window(
        rows: impl Iterator<Item = (String, Value)>,
        summary: QueueSummary,
    ) -> TxQueue {
        let mut q = TxQueue::restore(rows);
        q.len = summary.len.max(q.items.len());
        q.next_seq = q.next_seq.max(summary.next_seq);
        q.spilled_latest = summary.latest;
        let after = q.items.keys().next_back().map_or(0, |s| s + 1);
        if q.len > q.items.len() {
            q.spilled_from = Some(after);
        }
        q
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The newest message's sequence number.
    pub fn last_seq(&self) -> Option<u64> {
        (!self.is_empty()).then(|| self.next_seq.saturating_sub(1))
    }

    /// When the window runs low and messages wait on disk: the first key to load and how many
    /// (asked once; [`TxQueue::loaded`] answers).
    pub fn wants_load(&mut self) -> Option<(String, usize)> {
        let from = self.spilled_from?;
        if self.loading || self.items.len() > WINDOW / 2 {
            return None;
        }
        self.loading = true;
        Some((queue_key(from), WINDOW - self.items.len()))
    }

    /// Spilled rows read back from the store, in key order. Returns the messages taken in.
    pub fn loaded(&mut self, rows: impl Iterator<Item = (String, Value)>) -> Vec<u64> {
        self.loading = false;
        let Some(from) = self.spilled_from else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        for (k, v) in rows {
            let (Ok(seq), Ok(msg)) = (k.parse::<u64>(), serde_json::from_value::<QueuedMessage>(v))
            else {
                tracing::error!(key = %k, "unreadable queue entry in the store: skipped");
                continue;
            };
            if seq < from || self.items.contains_key(&seq) {
                continue;
            }
            self.take_in(seq, msg);
            taken.push(seq);
        }
        let next = taken.last().map_or(self.next_seq, |s| s + 1);
        if taken.is_empty() {
            tracing::error!(
                from,
                "the store holds none of the spilled queue: counting it lost"
            );
            self.len = self.items.len();
        }
        self.spilled_from = (next < self.next_seq && !taken.is_empty()).then_some(next);
        if self.spilled_from.is_none() {
            self.spilled_latest = None;
        }
        taken
    }

    /// Re-arms the retry waits of messages taken in by [`TxQueue::loaded`] (see [`TxQueue::rearm`]).
    pub fn rearm_some(&mut self, seqs: &[u64], now: Now, max_wait_ms: impl Fn(u32) -> u64) {
        for seq in seqs {
            if let Some(msg) = self.items.get_mut(seq) {
                rearm_one(msg, now, &max_wait_ms);
            }
        }
    }

    /// Appends a message; returns its sequence number and the store op.
    pub fn push(&mut self, action: TxAction, local_tx: u64, payload: Value) -> (u64, StoreOp) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let msg = QueuedMessage {
            action,
            local_tx,
            payload,
            attempts: 0,
            not_before_ms: 0,
            retry_at: None,
        };
        let op = put(seq, &msg);
        self.len += 1;
        if self.spilled_from.is_none() && self.items.len() < WINDOW {
            self.take_in(seq, msg);
        } else {
            self.spilled_latest = self.spilled_latest.max(payload_latest(&msg.payload));
            // On disk only (the op above); read back when the window runs low.
            self.spilled_from.get_or_insert(seq);
        }
        (seq, op)
    }

    /// The latest timestamp in any queued message (StartTransaction/StopTransaction
    /// `timestamp`, MeterValues `meterValue[].timestamp`), in memory or on disk only.
    pub fn latest_stamp(&self) -> Option<DateTime<Utc>> {
        let window = self
            .items
            .values()
            .filter_map(|m| payload_latest(&m.payload))
            .max();
        let on_disk = self.spilled_from.and(self.spilled_latest);
        window.max(on_disk)
    }

    pub fn head(&self) -> Option<(u64, &QueuedMessage)> {
        self.items.iter().next().map(|(s, m)| (*s, m))
    }

    pub fn get(&self, seq: u64) -> Option<&QueuedMessage> {
        self.items.get(&seq)
    }

    /// Removes a delivered message.
    pub fn remove(&mut self, seq: u64) -> Option<(QueuedMessage, StoreOp)> {
        self.items.remove(&seq).map(|m| {
            self.len = self.len.saturating_sub(1);
            if let Some(n) = self.per_tx.get_mut(&m.local_tx) {
                *n -= 1;
                if *n == 0 {
                    self.per_tx.remove(&m.local_tx);
                }
            }
            (
                m,
                StoreOp::Delete {
                    table: Table::Queue,
                    key: queue_key(seq),
                },
            )
        })
    }

    /// Counts a failed attempt: retry after `retry_interval_ms × attempts`, or drop after
    /// `max_attempts`.
    pub fn fail(
        &mut self,
        seq: u64,
        now: Now,
        retry_interval_ms: u64,
        max_attempts: u32,
    ) -> Option<(Failure, StoreOp)> {
        let msg = self.items.get_mut(&seq)?;
        msg.attempts += 1;
        if msg.attempts >= max_attempts.max(1) {
            let (m, op) = self.remove(seq)?;
            return Some((Failure::Dropped(m), op));
        }
        let wait_ms = retry_interval_ms.saturating_mul(u64::from(msg.attempts));
        let at_ms = now.mono_ms.saturating_add(wait_ms);
        msg.not_before_ms = at_ms;
        msg.retry_at = Some(now.plus_ms(wait_ms).utc);
        let op = put(seq, msg);
        Some((Failure::Retry { at_ms }, op))
    }

    /// After a reboot: re-arms each persisted retry wait on this boot's monotonic clock. The
    /// remaining wait is capped by `max_wait_ms(attempts)`, so a wall clock set back cannot
    /// hold a message for longer than its interval.
    pub fn rearm(&mut self, now: Now, max_wait_ms: impl Fn(u32) -> u64) {
        for msg in self.items.values_mut() {
            rearm_one(msg, now, &max_wait_ms);
        }
    }

    /// Whether messages of local transaction `local_tx` may still be waiting: exact for the
    /// window; for the part on disk, true for the window's newest transaction and later ones.
    pub fn has_messages_for(&self, local_tx: u64) -> bool {
        self.per_tx.contains_key(&local_tx)
            || (self.spilled_from.is_some() && self.tail_tx.is_none_or(|t| local_tx >= t))
    }

    /// Iterates over the window (the oldest messages) in delivery order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &QueuedMessage)> {
        self.items.iter().map(|(s, m)| (*s, m))
    }
}

/// Delivered messages whose removal the core holds back at most, unsubmitted, while a
/// StartTransaction is in flight (merged into the commit of its confirmation). A power cut
/// repeats these besides the shell's removals still committing and the message in flight.
pub const HELD_REMOVALS: usize = 1;

/// Whether a CALL may go out before `ops` are durable. True for a batch of delivery
/// bookkeeping only: removing delivered messages, forgetting their transaction-id mappings,
/// updating the authorization cache from a confirmation. Nothing of it is seen by the central
/// system or carried by a later message; lost in a power cut, it only makes the confirmed
/// messages go out once more (at least once, as before). A batch with anything else (a new
/// message, a transactionId from a StartTransaction.conf, a failed attempt, a configuration
/// change being confirmed) must be durable before the next output that acts on the network.
pub fn may_overtake(ops: &[StoreOp]) -> bool {
    ops.iter().all(|op| match op {
        StoreOp::Delete { table, key } => match table {
            Table::Queue | Table::Cache => true,
            Table::State => key.starts_with(crate::charger::keys::TXID_PREFIX),
            Table::Config | Table::LocalList => false,
        },
        StoreOp::Put { table, .. } => *table == Table::Cache,
        StoreOp::Clear { .. } => false,
    })
}

fn rearm_one(msg: &mut QueuedMessage, now: Now, max_wait_ms: &impl Fn(u32) -> u64) {
    if let Some(at) = msg.retry_at {
        let left = u64::try_from(at.signed_duration_since(now.utc).num_milliseconds()).unwrap_or(0);
        msg.not_before_ms = now
            .mono_ms
            .saturating_add(left.min(max_wait_ms(msg.attempts)));
    }
}

fn put(seq: u64, msg: &QueuedMessage) -> StoreOp {
    StoreOp::Put {
        table: Table::Queue,
        key: queue_key(seq),
        value: serde_json::to_value(msg).unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(mono_ms: u64) -> Now {
        Now {
            mono_ms,
            utc: DateTime::from_timestamp(1_800_000_000, 0).expect("valid")
                + chrono::Duration::milliseconds(mono_ms as i64),
        }
    }

    #[test]
    fn a_restored_retry_wait_continues_on_the_new_clock_and_is_capped() {
        let mut q = TxQueue::default();
        let (seq, _) = q.push(TxAction::StopTransaction, 1, Value::Null);
        let (_, op) = q.fail(seq, at(1_000), 10_000, 3).unwrap();
        let StoreOp::Put { key, value, .. } = op else {
            panic!("a put")
        };
        let restored = || TxQueue::restore(std::iter::once((key.clone(), value.clone())));
        // Rebooted 4 s later, the new monotonic clock starting at 500: 6 s left.
        let reboot = Now {
            mono_ms: 500,
            utc: at(5_000).utc,
        };
        let mut r = restored();
        r.rearm(reboot, |_| 10_000);
        assert_eq!(r.head().unwrap().1.not_before_ms, 6_500);
        // A wall clock set back a day: never more than the interval.
        let back = Now {
            mono_ms: 500,
            utc: at(5_000).utc - chrono::Duration::days(1),
        };
        let mut r = restored();
        r.rearm(back, |n| 10_000 * u64::from(n));
        assert_eq!(r.head().unwrap().1.not_before_ms, 10_500);
    }

    #[test]
    fn only_delivery_bookkeeping_may_be_overtaken_by_a_call() {
        let del = |table, key: &str| StoreOp::Delete {
            table,
            key: key.into(),
        };
        let put = |table, key: &str| StoreOp::Put {
            table,
            key: key.into(),
            value: Value::from(1),
        };
        let txid = "txid/00000000000000000001";
        assert!(may_overtake(&[
            del(Table::Queue, &queue_key(3)),
            del(Table::State, txid),
            put(Table::Cache, "04A1B2C3"),
        ]));
        // A transactionId learnt from a StartTransaction.conf is carried by later messages.
        assert!(!may_overtake(&[
            del(Table::Queue, &queue_key(3)),
            put(Table::State, txid)
        ]));
        // A new or retried message, any other state, configuration: all must be durable first.
        assert!(!may_overtake(&[put(Table::Queue, &queue_key(4))]));
        assert!(!may_overtake(&[del(Table::State, "tx")]));
        assert!(!may_overtake(&[put(Table::Config, "HeartbeatInterval")]));
        assert!(!may_overtake(&[StoreOp::Clear {
            table: Table::Queue
        }]));
    }

    #[test]
    fn messages_on_disk_count_for_the_windows_newest_transaction_only() {
        let rows: Vec<(String, Value)> = (0..WINDOW as u64 + 10)
            .map(|seq| {
                let msg = QueuedMessage {
                    action: TxAction::MeterValues,
                    local_tx: 1 + seq / 20,
                    payload: Value::Null,
                    attempts: 0,
                    not_before_ms: 0,
                    retry_at: None,
                };
                (queue_key(seq), serde_json::to_value(msg).unwrap())
            })
            .collect();
        let mut summary = QueueSummary::default();
        for (k, v) in &rows {
            summary.add(k, &v.to_string());
        }
        let q = TxQueue::restore_window(rows.into_iter().take(WINDOW), summary);
        let newest = 1 + (WINDOW as u64 - 1) / 20;
        assert!(q.has_messages_for(1), "in the window");
        assert!(q.has_messages_for(newest + 1), "on disk only");
        assert!(q.has_messages_for(newest), "may go on on disk");
        let mut q = q;
        for seq in 0..20 {
            q.remove(seq);
        }
        assert!(
            !q.has_messages_for(1),
            "older than the window's newest: exact"
        );
    }

    #[test]
    fn keys_sort_in_delivery_order_as_strings() {
        assert!(queue_key(9) < queue_key(10));
        assert!(queue_key(99_999) < queue_key(100_000));
    }

    #[test]
    fn failed_attempts_wait_interval_times_n_then_drop() {
        let mut q = TxQueue::default();
        let (seq, _) = q.push(TxAction::StartTransaction, 1, Value::Null);
        assert_eq!(
            q.fail(seq, at(1_000), 10_000, 3).unwrap().0,
            Failure::Retry { at_ms: 11_000 }
        );
        assert_eq!(
            q.fail(seq, at(11_000), 10_000, 3).unwrap().0,
            Failure::Retry { at_ms: 31_000 }
        );
        assert!(matches!(
            q.fail(seq, at(31_000), 10_000, 3).unwrap().0,
            Failure::Dropped(_)
        ));
        assert!(q.is_empty());
        assert!(!q.has_messages_for(1));
    }

    #[test]
    fn restore_rebuilds_order_and_per_transaction_counts() {
        let mut q = TxQueue::default();
        let mut rows = Vec::new();
        for tx in [1, 1, 2] {
            let (seq, op) = q.push(TxAction::MeterValues, tx, Value::Null);
            if let StoreOp::Put { key, value, .. } = op {
                rows.push((key, value));
            }
            assert_eq!(queue_key(seq), rows.last().unwrap().0);
        }
        rows.reverse();
        let r = TxQueue::restore(rows.into_iter());
        assert_eq!(r.len(), 3);
        assert_eq!(r.head().unwrap().0, 0);
        assert!(r.has_messages_for(1) && r.has_messages_for(2));
        let (seq, _) = {
            let mut r = r.clone();
            r.push(TxAction::StopTransaction, 2, Value::Null)
        };
        assert_eq!(seq, 3, "sequence continues after the restored ones");
    }
}
