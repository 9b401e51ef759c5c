//! The transaction-message queue's own rules (`charger_core::queue`): size, per-transaction
//! bookkeeping, retry limits and restored waits. Added for the cargo-mutants check
//! (docs/mutation-check.md): each test pins a rule one changed operator would break unnoticed.

use charger_core::queue::{queue_key, Failure, TxAction, TxQueue};
use charger_core::{Now, StoreOp};
use serde_json::Value;

use crate::harness::t0;

fn at(mono_ms: u64) -> Now {
    Now {
        mono_ms,
        utc: t0() + chrono::Duration::milliseconds(mono_ms as i64),
    }
}

#[test]
fn the_queue_reports_its_size() {
    let mut q = TxQueue::default();
    assert!(q.is_empty());
    assert_eq!(q.len(), 0);
    let (a, _) = q.push(TxAction::StartTransaction, 1, Value::Null);
    q.push(TxAction::StopTransaction, 1, Value::Null);
    assert!(!q.is_empty());
    assert_eq!(q.len(), 2);
    q.remove(a);
    assert_eq!(q.len(), 1);
}

#[test]
fn a_transaction_has_messages_until_its_last_one_is_removed() {
    let mut q = TxQueue::default();
    let (a, _) = q.push(TxAction::StartTransaction, 1, Value::Null);
    let (b, _) = q.push(TxAction::StopTransaction, 1, Value::Null);
    let (c, _) = q.push(TxAction::StartTransaction, 2, Value::Null);
    assert!(q.has_messages_for(1) && q.has_messages_for(2));
    assert!(!q.has_messages_for(3));
    q.remove(a);
    assert!(q.has_messages_for(1), "its Stop still waits");
    q.remove(b);
    assert!(!q.has_messages_for(1));
    assert!(q.has_messages_for(2));
    let (m, op) = q.remove(c).expect("queued");
    assert_eq!(m.action, TxAction::StartTransaction);
    assert!(matches!(op, StoreOp::Delete { key, .. } if key == queue_key(c)));
    assert!(q.remove(c).is_none(), "removed once");
}

#[test]
fn messages_are_delivered_in_the_order_they_were_queued() {
    let mut q = TxQueue::default();
    for (i, action) in [
        TxAction::StartTransaction,
        TxAction::MeterValues,
        TxAction::StopTransaction,
    ]
    .into_iter()
    .enumerate()
    {
        let (seq, _) = q.push(action, 7, Value::from(i));
        assert_eq!(seq, i as u64);
    }
    let order: Vec<&str> = q.iter().map(|(_, m)| m.action.as_str()).collect();
    assert_eq!(
        order,
        ["StartTransaction", "MeterValues", "StopTransaction"]
    );
    assert_eq!(q.head().map(|(s, _)| s), Some(0));
    assert_eq!(q.get(1).map(|m| m.payload.clone()), Some(Value::from(1)));
}

#[test]
fn zero_attempts_still_allows_one_and_a_missing_message_is_no_failure() {
    let mut q = TxQueue::default();
    let (seq, _) = q.push(TxAction::StopTransaction, 1, Value::Null);
    assert!(matches!(
        q.fail(seq, at(0), 1_000, 0).map(|(f, _)| f),
        Some(Failure::Dropped(_))
    ));
    assert!(q.fail(seq, at(0), 1_000, 3).is_none());
}

#[test]
fn a_restored_wait_that_has_passed_is_due_at_once_and_one_without_a_wait_is_untouched() {
    let mut q = TxQueue::default();
    let (s1, _) = q.push(TxAction::StartTransaction, 1, Value::Null);
    let (_, op) = q.fail(s1, at(10_000), 5_000, 3).expect("queued");
    let (_, op2) = q.push(TxAction::StopTransaction, 1, Value::Null);
    let rows = [op, op2].into_iter().map(|op| match op {
        StoreOp::Put { key, value, .. } => (key, value),
        other => panic!("a put, got {other:?}"),
    });
    let mut r = TxQueue::restore(rows);
    // Rebooted 2 s after the wait ended, new monotonic clock at 100.
    let reboot = Now {
        mono_ms: 100,
        utc: at(17_000).utc,
    };
    r.rearm(reboot, |n| 5_000 * u64::from(n));
    assert_eq!(r.get(s1).map(|m| m.not_before_ms), Some(100));
    assert_eq!(r.get(s1 + 1).map(|m| m.not_before_ms), Some(0));
    // Rebooted 1 s into the 5 s wait: 4 s left.
    let mut r2 = r.clone();
    let early = Now {
        mono_ms: 100,
        utc: at(11_000).utc,
    };
    r2.rearm(early, |n| 5_000 * u64::from(n));
    assert_eq!(r2.get(s1).map(|m| m.not_before_ms), Some(4_100));
}

/// The central-system transaction ids still remembered in the State table.
fn remembered_ids(sim: &crate::harness::Sim) -> Vec<serde_json::Value> {
    sim.db
        .tables
        .get(&charger_core::Table::State)
        .map(|t| {
            t.iter()
                .filter(|(k, _)| k.starts_with("txid/"))
                .map(|(_, v)| v.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_transaction_id_is_forgotten_once_its_last_message_is_delivered_not_before() {
    use charger_core::PilotState;
    let mut sim = crate::harness::Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    sim.disconnect();
    // The first session is over before the reconnect; the second is still running.
    sim.pilot(PilotState::B);
    sim.card("04A1B2C3");
    sim.card("04A1B2C3");
    sim.pilot(PilotState::A);
    sim.pilot(PilotState::B);
    sim.card("0A0B0C0D");
    sim.know("04A1B2C3", crate::harness::info("Accepted"));
    sim.know("0A0B0C0D", crate::harness::info("Accepted"));
    sim.connect();
    sim.advance(1_000);
    assert_eq!(sim.core.status().queue_len, 0);
    assert_eq!(
        remembered_ids(&sim),
        vec![Value::from(sim.last_tx_id())],
        "only the running transaction's id is kept"
    );
    sim.card("0A0B0C0D");
    sim.advance(1_000);
    assert_eq!(
        sim.last("StopTransaction").unwrap()["transactionId"],
        sim.last_tx_id()
    );
    assert!(
        remembered_ids(&sim).is_empty(),
        "all delivered: nothing kept"
    );
}

#[test]
fn a_dropped_start_transaction_gives_its_stop_the_id_minus_one_also_after_a_power_cut() {
    use charger_core::PilotState;
    let mut sim = crate::harness::Sim::online(&[("TransactionMessageAttempts", "1")]);
    sim.csms
        .call_errors
        .insert("StartTransaction".into(), u32::MAX);
    sim.know("04A1B2C3", crate::harness::info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card("04A1B2C3");
    sim.advance(500);
    assert_eq!(
        sim.count("StartTransaction"),
        1,
        "one attempt, then dropped"
    );
    assert_eq!(sim.core.status().queue_len, 0);
    sim.power_cycle();
    sim.connect();
    sim.advance(1_000);
    let stop = sim.last("StopTransaction").expect("the PowerLoss stop");
    assert_eq!(stop["reason"], "PowerLoss");
    assert_eq!(stop["transactionId"], -1);
}
