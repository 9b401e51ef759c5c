//! Power cuts while a long queue drains (issue 9.8): a few hundred transaction messages queued
//! offline are delivered to a central system while the charger is SIGKILLed at several points.
//! Every message must arrive, in queue order, with the timestamp it was queued with; a message
//! is sent again after a cut only if its removal was not yet durable, which the delivery
//! pipeline bounds (`charger::runtime::REMOVALS_IN_FLIGHT` removals committing,
//! `charger_core::queue::HELD_REMOVALS` held by the core, the one in flight; see
//! docs/architecture.md).

mod common;

use std::time::Duration;

use common::process::{ChargerProc, FAST_CONFIG};
use common::queue::{self, CARD};
use common::{rig_csms, wait_until};
use rig::csms::{Direction, History, IdTagEntry, Kind, Record};

const ACTIONS: [&str; 2] = ["StartTransaction", "StopTransaction"];

/// The transaction messages the central system received, in arrival order.
fn received(h: &History) -> Vec<Record> {
    h.records
        .iter()
        .filter(|r| ACTIONS.iter().any(|a| r.is_received_call(a)))
        .cloned()
        .collect()
}

/// The central system's answer to the call `call`.
fn answer<'a>(h: &'a History, call: &Record) -> Option<&'a Record> {
    h.records.iter().find(|r| {
        r.seq > call.seq
            && r.direction == Direction::Out
            && r.kind == Kind::Result
            && r.message_id == call.message_id
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn power_cuts_during_a_long_drain_lose_nothing_and_repeat_at_most_the_uncommitted_removals() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let filled = tokio::task::block_in_place(|| queue::fill(&data, 400));
    let expected = queue::queued(&data);
    assert_eq!(expected.len(), filled.len);

    let csms = rig_csms("127.0.0.1:0").await;
    csms.script(|s| s.set_id_tag(CARD, IdTagEntry::accepted()));
    let mut charger = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    // Cuts at several points of the drain, each right after the central system got a message.
    let cuts = [40, 150, 151, 290];
    for at in cuts {
        wait_until(&csms, "delivery to go on", Duration::from_secs(60), |h| {
            received(h).len() >= at
        })
        .await;
        charger.kill_power();
        charger.restore_power();
    }
    let n = expected.len();
    wait_until(
        &csms,
        "every queued message",
        Duration::from_secs(120),
        |h| {
            let got = received(h);
            got.last().is_some_and(|r| {
                let ts = r.payload["timestamp"].as_str().unwrap_or_default();
                r.action.as_deref() == Some(expected[n - 1].0.as_str()) && ts == expected[n - 1].1
            })
        },
    )
    .await;

    let h = csms.history();
    let got = received(&h);
    // Walk the arrivals: each is either the next queued message or, on the connection after a
    // cut, a repeat of one of the last few delivered before it (its removal was not durable).
    // Per cut: removals still committing, the one the core holds while a StartTransaction is
    // in flight, and the message in flight.
    let bound =
        charger::runtime::REMOVALS_IN_FLIGHT as usize + charger_core::queue::HELD_REMOVALS + 1;
    let mut next = 0;
    let mut connection = 0;
    let mut delivered_before_cut = 0;
    let mut repeats: Vec<(u32, usize)> = Vec::new();
    // The central system's transactionId for each StartTransaction (by queue position), as
    // answered to its latest copy.
    let mut ids = std::collections::BTreeMap::new();
    for r in &got {
        if r.connection != connection {
            connection = r.connection;
            delivered_before_cut = next;
        }
        let key = (
            r.action.clone().unwrap(),
            r.payload["timestamp"].as_str().unwrap().to_string(),
        );
        let pos = if next < n && key == expected[next] {
            next += 1;
            next - 1
        } else {
            let pos = expected[..next]
                .iter()
                .rposition(|e| *e == key)
                .unwrap_or_else(|| {
                    panic!(
                        "{key:?} is out of order or was never queued (expected {:?})",
                        expected.get(next)
                    )
                });
            assert!(
                pos + bound >= delivered_before_cut,
                "only the last {bound} messages before a cut may come again: {key:?} at {pos}, {delivered_before_cut} delivered before connection {connection}"
            );
            repeats.push((connection, pos));
            pos
        };
        if key.0 == "StartTransaction" {
            let id = answer(&h, r).map(|a| a.payload["transactionId"].clone());
            ids.insert(pos, id);
        } else {
            // A session's StopTransaction follows its StartTransaction in the queue.
            assert_eq!(
                Some(r.payload["transactionId"].clone()),
                ids.get(&(pos - 1)).cloned().flatten(),
                "StopTransaction with the id given to its StartTransaction: {}",
                r.payload
            );
        }
    }
    eprintln!(
        "{} arrivals of {n} messages over {connection} connections; repeats (connection, position): {repeats:?}",
        got.len()
    );
    assert_eq!(
        next, n,
        "every queued message arrived, in order, with its original timestamp"
    );
    for c in 2..=connection {
        let here = repeats.iter().filter(|(rc, _)| *rc == c).count();
        assert!(
            here <= bound,
            "{here} repeats after cut {}, at most {bound}: {repeats:?}",
            c - 1
        );
    }
    assert!(
        repeats.iter().all(|(c, _)| *c > 1),
        "repeats only after a cut: {repeats:?}"
    );
    drop(charger);
}
