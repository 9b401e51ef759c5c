//! The local interface (the installer's configuration panel): the same path as the central
//! system's requests, and the views the panel shows.

use charger_core::{AuthorizationMode, LocalReply, LocalRequest, PilotState, Table};
use serde_json::json;

use crate::harness::{info, Sim};

const TAG: &str = "04A1B2C3";

fn change(key: &str, value: &str) -> LocalRequest {
    LocalRequest::ChangeConfiguration {
        key: key.into(),
        value: value.into(),
    }
}

fn rejected(reply: &LocalReply) -> &str {
    match reply {
        LocalReply::Rejected { reason } => reason,
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[test]
fn a_local_change_is_validated_persisted_before_the_answer_and_survives_power_loss() {
    let mut sim = Sim::online(&[]);
    assert_eq!(
        sim.local(change("AllowOfflineTxForUnknownId", "TRUE")),
        LocalReply::Accepted
    );
    let stored = sim
        .db
        .tables
        .get(&Table::Config)
        .and_then(|t| t.get("AllowOfflineTxForUnknownId"))
        .cloned();
    assert_eq!(
        stored,
        Some(json!("true")),
        "stored canonical, before the answer"
    );
    sim.power_cycle();
    assert_eq!(
        sim.core
            .config_value("AllowOfflineTxForUnknownId")
            .as_deref(),
        Some("true")
    );
}

#[test]
fn a_refused_local_value_says_why_and_changes_nothing() {
    let mut sim = Sim::online(&[]);
    let before = sim.db.clone();
    let r = sim.local(change("HeartbeatInterval", "-5"));
    assert!(rejected(&r).contains("whole number"), "{r:?}");
    let r = sim.local(change("NumberOfConnectors", "2"));
    assert!(rejected(&r).contains("read-only"), "{r:?}");
    let r = sim.local(change("FreeBeer", "1"));
    assert!(rejected(&r).contains("unknown"), "{r:?}");
    assert_eq!(
        sim.core.config_value("HeartbeatInterval").as_deref(),
        Some("300")
    );
    assert_eq!(
        sim.db.tables.get(&Table::Config),
        before.tables.get(&Table::Config)
    );
}

#[test]
fn allowing_unknown_ids_locally_lets_an_unknown_card_charge_offline() {
    let mut sim = Sim::online(&[]);
    sim.local(change("AllowOfflineTxForUnknownId", "true"));
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(sim.core.status().tx_active);
}

#[test]
fn clear_cache_locally_forgets_a_rejection_and_is_refused_when_the_cache_is_disabled() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    sim.know(TAG, info("Invalid"));
    sim.card(TAG);
    assert_eq!(sim.core.local_status().cache_entries, 1);
    assert_eq!(sim.local(LocalRequest::ClearCache), LocalReply::Accepted);
    assert_eq!(sim.core.local_status().cache_entries, 0);

    let mut off = Sim::online(&[("AuthorizationCacheEnabled", "false")]);
    let r = off.local(LocalRequest::ClearCache);
    assert!(rejected(&r).contains("AuthorizationCacheEnabled"), "{r:?}");
}

#[test]
fn free_charge_set_locally_starts_on_plug_in_and_survives_power_loss() {
    let mut sim = Sim::online(&[]);
    assert_eq!(
        sim.core.local_status().authorization,
        AuthorizationMode::Rfid
    );
    assert_eq!(
        sim.local(LocalRequest::SetAuthorizationMode(AuthorizationMode::Free)),
        LocalReply::Accepted
    );
    sim.power_cycle();
    sim.connect();
    sim.advance(500);
    assert_eq!(
        sim.core.local_status().authorization,
        AuthorizationMode::Free
    );
    sim.know("SN-0001", info("Accepted"));
    sim.pilot(PilotState::B);
    sim.advance(200);
    assert!(sim.core.status().tx_active);
    assert_eq!(sim.last("StartTransaction").unwrap()["idTag"], "SN-0001");

    sim.local(LocalRequest::SetAuthorizationMode(AuthorizationMode::Rfid));
    assert_eq!(
        sim.core.local_status().authorization,
        AuthorizationMode::Rfid
    );
}

#[test]
fn a_local_reboot_answers_first_then_reboots_like_a_soft_reset() {
    let mut sim = Sim::online(&[]);
    assert_eq!(sim.local(LocalRequest::Reboot), LocalReply::Accepted);
    assert_eq!(sim.reboots, vec![false]);
}

#[test]
fn the_views_show_status_and_keys() {
    let mut sim = Sim::online(&[]);
    let st = sim.core.local_status();
    assert!(st.online && st.connected);
    assert_eq!(st.registration, Some("Accepted"));
    assert_eq!(st.serial_number, "SN-0001");
    assert_eq!(st.queued_messages, 0);
    assert!(st.transaction.is_none());
    let keys = sim.core.local_configuration();
    let hb = keys.iter().find(|e| e.key == "HeartbeatInterval").unwrap();
    assert_eq!(hb.value.as_deref(), Some("300"));
    assert!(!hb.readonly);
    assert!(keys
        .iter()
        .any(|e| e.key == "NumberOfConnectors" && e.readonly));
    sim.disconnect();
    assert!(!sim.core.local_status().online);
}
