//! The authorization records themselves (`charger_core::auth`): expiry at its exact boundary,
//! the effective status, sizes, and the insertion order that cache eviction relies on. Added
//! for the cargo-mutants check (docs/mutation-check.md): each test pins a rule that a single
//! changed operator would break without any other scenario noticing.

use charger_core::auth::{offline_decision, Cache, DecidedBy, LocalList, OfflinePolicy, TagRecord};
use charger_core::StoreOp;
use chrono::{DateTime, Duration, Utc};
use rust_ocpp::v1_6::types::{AuthorizationStatus, IdTagInfo};
use serde_json::Value;

use crate::harness::t0;

fn record(tag: &str, status: &str, expiry: Option<DateTime<Utc>>) -> TagRecord {
    TagRecord {
        tag: tag.into(),
        status: status.into(),
        expiry,
        parent: None,
        seq: 0,
    }
}

fn accepted() -> IdTagInfo {
    IdTagInfo {
        status: AuthorizationStatus::Accepted,
        ..Default::default()
    }
}

/// The `seq` a cache Put carries.
fn put_seq(op: &StoreOp) -> u64 {
    match op {
        StoreOp::Put { value, .. } => value["seq"].as_u64().expect("seq in the record"),
        other => panic!("expected a Put, got {other:?}"),
    }
}

#[test]
fn an_entry_is_valid_until_its_expiry_date_and_not_at_it() {
    let now = t0();
    let at = |ms: i64| Some(now + Duration::milliseconds(ms));
    assert!(record("A", "Accepted", None).is_valid(now));
    assert!(record("A", "Accepted", at(1)).is_valid(now));
    assert!(
        !record("A", "Accepted", at(0)).is_valid(now),
        "an expiry date equal to now has passed"
    );
    assert!(!record("A", "Accepted", at(-1)).is_valid(now));
    assert!(!record("A", "Blocked", None).is_valid(now));
}

#[test]
fn the_effective_status_reads_expired_only_for_an_accepted_entry_past_its_date() {
    let now = t0();
    let past = Some(now - Duration::seconds(1));
    let future = Some(now + Duration::seconds(1));
    assert_eq!(
        record("A", "Accepted", None).effective_status(now),
        "Accepted"
    );
    assert_eq!(
        record("A", "Accepted", future).effective_status(now),
        "Accepted"
    );
    assert_eq!(
        record("A", "Accepted", past).effective_status(now),
        "Expired"
    );
    assert_eq!(
        record("A", "Blocked", past).effective_status(now),
        "Blocked"
    );
    assert_eq!(
        record("A", "Invalid", None).effective_status(now),
        "Invalid"
    );
}

#[test]
fn cache_and_list_report_their_size() {
    let now = t0();
    let mut cache = Cache::restore(std::iter::empty(), 10);
    assert!(cache.is_empty());
    assert_eq!(cache.len(), 0);
    cache.update("A", &accepted(), now);
    cache.update("b", &accepted(), now);
    cache.update("B", &accepted(), now); // the same tag, other case: one entry
    assert!(!cache.is_empty());
    assert_eq!(cache.len(), 2);

    let mut list = LocalList::restore(std::iter::empty());
    assert!(list.is_empty());
    assert_eq!(list.len(), 0);
    list.replace(
        1,
        vec![record("A", "Accepted", None), record("B", "Blocked", None)],
    );
    assert!(!list.is_empty());
    assert_eq!(list.len(), 2);
}

#[test]
fn each_cache_update_is_numbered_after_the_last_one_also_after_a_restore() {
    let now = t0();
    let mut cache = Cache::restore(std::iter::empty(), 10);
    assert_eq!(put_seq(&cache.update("A", &accepted(), now)[0]), 0);
    assert_eq!(put_seq(&cache.update("B", &accepted(), now)[0]), 1);
    assert_eq!(put_seq(&cache.update("C", &accepted(), now)[0]), 2);

    let mut stored = record("X", "Accepted", None);
    stored.seq = 7;
    let rows = vec![(
        "X".to_string(),
        serde_json::to_value(&stored).expect("record"),
    )];
    let mut restored = Cache::restore(rows.into_iter(), 10);
    assert_eq!(
        put_seq(&restored.update("Y", &accepted(), now)[0]),
        8,
        "numbering continues after the newest restored entry"
    );
}

#[test]
fn eviction_follows_insertion_order_not_the_order_of_the_tags() {
    // Tags inserted in reverse alphabetical order: the oldest is the last by key.
    let now = t0();
    let mut cache = Cache::restore(std::iter::empty(), 2);
    cache.update("ZZ", &accepted(), now);
    cache.update("MM", &accepted(), now);
    let ops = cache.update("AA", &accepted(), now);
    assert!(
        ops.iter()
            .any(|op| matches!(op, StoreOp::Delete { key, .. } if key == "ZZ")),
        "the oldest entry is deleted from the store: {ops:?}"
    );
    assert!(cache.get("ZZ").is_none(), "oldest evicted");
    assert!(cache.get("MM").is_some() && cache.get("AA").is_some());
}

#[test]
fn the_local_list_reports_version_zero_while_empty() {
    let mut list = LocalList::restore(std::iter::empty());
    list.replace(4, vec![]);
    assert_eq!(list.reported_version(), 0);
    list.replace(5, vec![record("A", "Accepted", None)]);
    assert_eq!(list.reported_version(), 5);
}

#[test]
fn a_restored_list_keeps_its_version_and_entries() {
    let mut list = LocalList::restore(std::iter::empty());
    let ops = list.replace(9, vec![record("a1", "Accepted", None)]);
    let mut db = charger_core::Restored::default();
    db.apply(&ops);
    let rows = db
        .tables
        .get(&charger_core::Table::LocalList)
        .cloned()
        .unwrap_or_default();
    let restored = LocalList::restore(rows.into_iter());
    assert_eq!(restored.version, 9);
    assert_eq!(restored.reported_version(), 9);
    assert!(restored.get("A1").is_some());
}

#[test]
fn a_differential_size_counts_additions_and_removals() {
    let mut list = LocalList::restore(std::iter::empty());
    list.replace(
        1,
        vec![record("A", "Accepted", None), record("B", "Accepted", None)],
    );
    let changes = vec![
        ("a".to_string(), Some(record("a", "Blocked", None))), // an update, not an addition
        ("C".to_string(), Some(record("C", "Accepted", None))),
        ("B".to_string(), None),
        ("Q".to_string(), None), // removing an absent tag changes nothing
    ];
    assert_eq!(list.size_after(&changes), 2);
    let ops = list.apply_diff(2, changes);
    assert_eq!(list.len(), 2);
    assert_eq!(list.version, 2);
    assert!(list.get("B").is_none());
    assert_eq!(list.get("A").map(|r| r.status.as_str()), Some("Blocked"));
    assert!(ops
        .iter()
        .any(|op| matches!(op, StoreOp::Delete { key, .. } if key == "B")));
    let Some(StoreOp::Put { value, .. }) = ops.last() else {
        panic!("the version is stored last: {ops:?}");
    };
    assert_eq!(*value, Value::from(2));
}

#[test]
fn the_offline_decision_takes_the_first_source_that_knows_the_tag() {
    let now = t0();
    let mut list = LocalList::restore(std::iter::empty());
    list.replace(1, vec![record("L", "Blocked", None)]);
    let mut cache = Cache::restore(std::iter::empty(), 10);
    cache.update("L", &accepted(), now);
    cache.update("C", &accepted(), now);
    let all = OfflinePolicy {
        local_list_enabled: true,
        cache_enabled: true,
        local_authorize_offline: true,
        allow_offline_tx_for_unknown_id: true,
    };
    let d = offline_decision("L", &list, &cache, all, now);
    assert_eq!((d.accept, d.by), (false, DecidedBy::LocalList));
    let d = offline_decision("c", &list, &cache, all, now);
    assert_eq!((d.accept, d.by), (true, DecidedBy::Cache));
    let no_list = OfflinePolicy {
        local_list_enabled: false,
        ..all
    };
    let d = offline_decision("L", &list, &cache, no_list, now);
    assert_eq!((d.accept, d.by), (true, DecidedBy::Cache));
    let nothing_local = OfflinePolicy {
        local_list_enabled: false,
        cache_enabled: false,
        ..all
    };
    let d = offline_decision("C", &list, &cache, nothing_local, now);
    assert_eq!((d.accept, d.by), (true, DecidedBy::Unknown));
}
