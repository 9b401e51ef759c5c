use charger_core::PilotState;
use serde_json::json;

use crate::harness::{info, Sim};

const TAG: &str = "04A1B2C3";

/// Presents `TAG` while online and gets `status` back, so the cache remembers it.
fn cached(sim: &mut Sim, status: &str) {
    sim.know(TAG, info(status));
    sim.card(TAG);
    if status == "Accepted" {
        sim.card(TAG); // no EV: the authorization just stands; a second present is ignored
        sim.advance(61_000); // let it expire (ConnectionTimeOut 60 s)
    }
}

#[test]
fn online_card_is_authorized_then_the_transaction_starts_when_the_ev_plugs_in() {
    let mut sim = Sim::online(&[]);
    sim.know(TAG, info("Accepted"));
    sim.card(TAG);
    assert_eq!(sim.count("Authorize"), 1);
    assert_eq!(sim.core.status().connector_status.as_str(), "Preparing");
    sim.pilot(PilotState::B);
    assert!(sim.core.status().tx_active);
    sim.advance(200);
    assert_eq!(sim.last("StartTransaction").unwrap()["idTag"], TAG);
}

#[test]
fn plugging_in_first_then_presenting_the_card_starts_the_transaction() {
    let mut sim = Sim::online(&[]);
    sim.know(TAG, info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(sim.core.status().tx_active);
}

#[test]
fn rejected_tag_starts_nothing_online() {
    let mut sim = Sim::online(&[]);
    sim.pilot(PilotState::B);
    sim.card(TAG); // unknown to the CS: Invalid
    assert!(!sim.core.status().tx_active);
    assert_eq!(sim.count("StartTransaction"), 0);
}

#[test]
fn connection_timeout_expires_an_authorization_without_ev() {
    let mut sim = Sim::online(&[("ConnectionTimeOut", "10")]);
    sim.know(TAG, info("Accepted"));
    sim.card(TAG);
    sim.advance(9_000);
    assert_eq!(sim.core.status().connector_status.as_str(), "Preparing");
    sim.advance(1_500);
    assert_eq!(sim.core.status().connector_status.as_str(), "Available");
    sim.pilot(PilotState::B);
    assert!(!sim.core.status().tx_active);
}

#[test]
fn offline_unknown_tag_is_refused_when_allow_offline_tx_is_false() {
    let mut sim = Sim::online(&[]);
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(!sim.core.status().tx_active);
}

#[test]
fn offline_unknown_tag_is_accepted_when_allow_offline_tx_is_true() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "TRUE")]);
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(sim.core.status().tx_active);
}

#[test]
fn offline_cached_accepted_tag_is_accepted_with_local_authorize_offline() {
    let mut sim = Sim::online(&[]);
    cached(&mut sim, "Accepted");
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(sim.core.status().tx_active);
}

#[test]
fn offline_cached_tag_is_refused_when_local_authorize_offline_is_false() {
    let mut sim = Sim::online(&[("LocalAuthorizeOffline", "false")]);
    cached(&mut sim, "Accepted");
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(!sim.core.status().tx_active);
}

#[test]
fn offline_tag_cached_as_rejected_stays_rejected_even_when_unknown_ids_are_allowed() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    cached(&mut sim, "Blocked");
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(!sim.core.status().tx_active);
}

#[test]
fn clear_cache_forgets_a_rejection_so_the_unknown_rule_applies() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    cached(&mut sim, "Invalid");
    let a = sim.cs_call("ClearCache", json!({}));
    assert_eq!(a[2]["status"], "Accepted");
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(sim.core.status().tx_active);
}

#[test]
fn clear_cache_is_rejected_when_the_cache_is_disabled() {
    let mut sim = Sim::online(&[("AuthorizationCacheEnabled", "false")]);
    let a = sim.cs_call("ClearCache", json!({}));
    assert_eq!(a[2]["status"], "Rejected");
}

#[test]
fn expired_cache_entry_is_refused_offline() {
    let mut sim = Sim::online(&[]);
    let expiry = (sim.now.utc + chrono::Duration::seconds(30)).to_rfc3339();
    sim.know(TAG, json!({"status": "Accepted", "expiryDate": expiry}));
    sim.card(TAG);
    sim.advance(61_000);
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(!sim.core.status().tx_active);
}

#[test]
fn offline_local_list_entry_wins_over_the_cache() {
    let mut sim = Sim::online(&[]);
    cached(&mut sim, "Accepted");
    let a = sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 1, "updateType": "Full",
               "localAuthorizationList": [{"idTag": TAG, "idTagInfo": {"status": "Blocked"}}]}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(!sim.core.status().tx_active);
}

#[test]
fn offline_local_list_accepted_tag_is_accepted() {
    let mut sim = Sim::online(&[]);
    sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 1, "updateType": "Full",
               "localAuthorizationList": [{"idTag": "cafe0001", "idTagInfo": {"status": "Accepted"}}]}),
    );
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card("CAFE0001"); // id tags are case-insensitive
    assert!(sim.core.status().tx_active);
}

#[test]
fn online_a_tag_cached_as_invalid_is_authorized_again() {
    let mut sim = Sim::online(&[]);
    cached(&mut sim, "Invalid");
    sim.know(TAG, info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert_eq!(sim.count("Authorize"), 2);
    assert!(sim.core.status().tx_active);
}

#[test]
fn local_pre_authorize_starts_from_the_cache_without_authorize() {
    let mut sim = Sim::online(&[("LocalPreAuthorize", "true")]);
    cached(&mut sim, "Accepted");
    let before = sim.count("Authorize");
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(sim.core.status().tx_active);
    assert_eq!(sim.count("Authorize"), before);
}

#[test]
fn authorize_timeout_on_a_half_open_link_falls_back_to_the_offline_decision() {
    let mut sim = Sim::online(&[
        ("AllowOfflineTxForUnknownId", "true"),
        ("MessageTimeout", "5"),
    ]);
    sim.csms.silent = true;
    sim.pilot(PilotState::B);
    sim.advance(5_100); // the StatusNotification (Preparing) times out first
    sim.card(TAG);
    assert_eq!(sim.count("Authorize"), 1);
    assert!(
        !sim.core.status().tx_active,
        "waiting for the Authorize answer"
    );
    sim.advance(5_100);
    assert!(sim.core.status().tx_active);
}

#[test]
fn the_cache_is_updated_from_every_id_tag_info_but_not_for_local_list_tags() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "false")]);
    sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 3, "updateType": "Full",
               "localAuthorizationList": [{"idTag": TAG, "idTagInfo": {"status": "Accepted"}}]}),
    );
    sim.know(TAG, info("Accepted"));
    sim.charge_session(TAG, 5);
    let cache = sim
        .db
        .tables
        .get(&charger_core::Table::Cache)
        .cloned()
        .unwrap_or_default();
    assert!(
        cache.is_empty(),
        "listed tags stay out of the cache: {cache:?}"
    );
    sim.know("11223344", info("Accepted"));
    sim.charge_session("11223344", 5);
    let cache = sim
        .db
        .tables
        .get(&charger_core::Table::Cache)
        .cloned()
        .unwrap_or_default();
    assert_eq!(cache.len(), 1);
}

#[test]
fn the_cache_evicts_not_valid_entries_first_then_the_oldest_valid() {
    use charger_core::auth::Cache;
    use rust_ocpp::v1_6::types::{AuthorizationStatus, IdTagInfo};
    let now = crate::harness::t0();
    let mut cache = Cache::restore(std::iter::empty(), 3);
    let ok = IdTagInfo {
        status: AuthorizationStatus::Accepted,
        ..Default::default()
    };
    let bad = IdTagInfo {
        status: AuthorizationStatus::Blocked,
        ..Default::default()
    };
    cache.update("A", &ok, now);
    cache.update("B", &bad, now);
    cache.update("C", &ok, now);
    cache.update("D", &ok, now);
    assert!(cache.get("B").is_none(), "not-valid entry evicted first");
    cache.update("E", &ok, now);
    assert!(cache.get("A").is_none(), "then the oldest valid one");
    assert!(cache.get("C").is_some() && cache.get("D").is_some() && cache.get("E").is_some());
}

#[test]
fn free_charge_authorizes_with_the_serial_number_when_the_ev_plugs_in() {
    let mut s = crate::harness::settings();
    s.free_charge = true;
    let mut sim = Sim::with_settings(s);
    sim.connect();
    sim.know("SN-0001", info("Accepted"));
    sim.pilot(PilotState::B);
    assert_eq!(sim.last("Authorize").unwrap()["idTag"], "SN-0001");
    assert!(sim.core.status().tx_active);
    sim.advance(200);
    assert_eq!(sim.last("StartTransaction").unwrap()["idTag"], "SN-0001");
}

#[test]
fn free_charge_offline_charges_when_unknown_ids_are_allowed() {
    let mut s = crate::harness::settings();
    s.free_charge = true;
    s.installer_config = vec![("AllowOfflineTxForUnknownId".into(), "true".into())];
    let mut sim = Sim::with_settings(s);
    sim.pilot(PilotState::B);
    sim.pilot(PilotState::C);
    assert!(sim.contactor());
}

#[test]
fn free_charge_offline_does_not_charge_by_default() {
    let mut s = crate::harness::settings();
    s.free_charge = true;
    let mut sim = Sim::with_settings(s);
    sim.pilot(PilotState::C);
    assert!(!sim.contactor());
}

/// Issue 9.6: with the central system hung, a card's Authorize waited behind the unanswered
/// StatusNotification, so the offline decision took 2 × MessageTimeout (60 s with factory
/// keys). Now it comes AuthorizeTimeout (4 s, factory) after the card, whatever is in flight.
#[test]
fn a_card_gets_its_offline_decision_within_authorize_timeout_behind_a_hung_call() {
    let mut sim = Sim::online(&[]);
    sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 3, "updateType": "Full",
               "localAuthorizationList": [{"idTag": TAG, "idTagInfo": {"status": "Accepted"}}]}),
    );
    sim.know(TAG, info("Accepted"));
    sim.csms.silent = true;
    sim.pilot(PilotState::B); // StatusNotification (Preparing) goes out, never answered
    sim.advance(1_000);
    sim.card(TAG);
    let presented = sim.now.mono_ms;
    while !sim.core.status().tx_active && sim.now.mono_ms < presented + 60_000 {
        sim.advance(100);
    }
    let waited = sim.now.mono_ms - presented;
    assert!(
        waited <= 5_000,
        "card → decision took {waited} ms with a hung central system"
    );
    let actions: Vec<&str> = sim
        .csms
        .received
        .iter()
        .map(|r| r.action.as_str())
        .collect();
    assert_eq!(
        sim.count("Authorize"),
        0,
        "the Authorize never got its turn: it was withdrawn; sent {actions:?}"
    );
    // A late answer to the hung call does not disturb the running transaction.
    sim.csms.silent = false;
    sim.advance(40_000);
    assert!(sim.core.status().tx_active);
}

/// The Authorize in flight itself is also bounded by AuthorizeTimeout, and 0 falls back to
/// MessageTimeout.
#[test]
fn an_unanswered_authorize_gives_way_after_authorize_timeout_or_message_timeout_when_zero() {
    for (timeout, expect_ms) in [("4", 4_000), ("0", 30_000)] {
        let mut sim = Sim::online(&[
            ("AllowOfflineTxForUnknownId", "true"),
            ("AuthorizeTimeout", timeout),
        ]);
        sim.pilot(PilotState::B);
        sim.advance(500);
        sim.csms.silent = true;
        sim.card(TAG);
        assert_eq!(sim.count("Authorize"), 1);
        let presented = sim.now.mono_ms;
        while !sim.core.status().tx_active && sim.now.mono_ms < presented + 60_000 {
            sim.advance(100);
        }
        let waited = sim.now.mono_ms - presented;
        assert!(
            (expect_ms..=expect_ms + 200).contains(&waited),
            "AuthorizeTimeout {timeout}: decided after {waited} ms"
        );
    }
}
