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

#[derive(Clone, Debug, Default)]
pub struct TxQueue {
    items: BTreeMap<u64, QueuedMessage>,
    next_seq: u64,
    /// Messages per local transaction, so "anything left for this transaction?" is O(log n).
    per_tx: BTreeMap<u64, usize>,
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
            *q.per_tx.entry(msg.local_tx).or_default() += 1;
            q.items.insert(seq, msg);
        }
        q
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
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
        *self.per_tx.entry(local_tx).or_default() += 1;
        self.items.insert(seq, msg);
        (seq, op)
    }

    /// The latest timestamp in any queued message (StartTransaction/StopTransaction
    /// `timestamp`, MeterValues `meterValue[].timestamp`).
    pub fn latest_stamp(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let parse = |v: &serde_json::Value| {
            v.as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
        };
        self.items
            .values()
            .flat_map(|m| {
                let p = &m.payload;
                let own = parse(&p["timestamp"]);
                let values = p["meterValue"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|mv| parse(&mv["timestamp"]));
                own.into_iter().chain(values)
            })
            .max()
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
            if let Some(at) = msg.retry_at {
                let left = u64::try_from(at.signed_duration_since(now.utc).num_milliseconds())
                    .unwrap_or(0);
                msg.not_before_ms = now
                    .mono_ms
                    .saturating_add(left.min(max_wait_ms(msg.attempts)));
            }
        }
    }

    /// Whether messages of local transaction `local_tx` are still waiting.
    pub fn has_messages_for(&self, local_tx: u64) -> bool {
        self.per_tx.contains_key(&local_tx)
    }

    /// Iterates in delivery order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &QueuedMessage)> {
        self.items.iter().map(|(s, m)| (*s, m))
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
