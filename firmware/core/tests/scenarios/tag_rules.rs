//! Presented id tags at the edges of the rules (charger/authorization.rs, transaction.rs): tag
//! length, an expiry date at the present instant, parents that do not match, a late answer for
//! an earlier transaction. Added for the cargo-mutants check (docs/mutation-check.md).

use charger_core::{BoardInput, Input, PilotState};
use serde_json::json;

use crate::harness::{info, Sim};

const TAG: &str = "04A1B2C3";
const OTHER: &str = "0A0B0C0D";

fn present_uid(sim: &mut Sim, bytes: usize) -> String {
    let uid: Vec<u8> = (1..=bytes as u8).collect();
    let tag: String = uid.iter().map(|b| format!("{b:02X}")).collect();
    sim.input(Input::Board(BoardInput::Card(Some(uid))));
    tag
}

#[test]
fn a_tag_of_twenty_characters_is_presented_and_a_longer_one_ignored() {
    let mut sim = Sim::online(&[]);
    let long = present_uid(&mut sim, 11); // 22 characters: not an IdToken (CiString20)
    assert_eq!(long.len(), 22);
    assert_eq!(sim.count("Authorize"), 0, "a 22-character tag is ignored");
    let max = present_uid(&mut sim, 10);
    assert_eq!(max.len(), 20);
    assert_eq!(sim.count("Authorize"), 1, "a 20-character tag is presented");
    assert_eq!(sim.last("Authorize").unwrap()["idTag"], max);
}

#[test]
fn an_authorize_answer_expiring_now_is_refused_and_a_later_expiry_accepted() {
    let mut sim = Sim::online(&[]);
    let now = sim.now.utc;
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sim.know(TAG, json!({"status": "Accepted", "expiryDate": stamp(now)}));
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(!sim.core.status().tx_active, "expired at this very instant");
    sim.know(
        OTHER,
        json!({"status": "Accepted", "expiryDate": stamp(now + chrono::Duration::hours(1))}),
    );
    sim.card(OTHER);
    assert!(sim.core.status().tx_active, "valid for another hour");
}

#[test]
fn a_tag_whose_authorize_names_another_parent_does_not_stop_the_transaction() {
    let mut sim = Sim::online(&[]);
    sim.know(TAG, json!({"status": "Accepted", "parentIdTag": "FLEET-A"}));
    sim.know(
        OTHER,
        json!({"status": "Accepted", "parentIdTag": "FLEET-B"}),
    );
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.advance(200);
    assert!(sim.core.status().tx_active);
    sim.card(OTHER);
    assert_eq!(
        sim.last("Authorize").unwrap()["idTag"],
        OTHER,
        "asked for its parent"
    );
    assert!(
        sim.core.status().tx_active,
        "another parent: still charging"
    );
}

#[test]
fn without_a_parent_on_the_transaction_another_tag_is_not_even_asked_about() {
    let mut sim = Sim::online(&[]);
    sim.know(TAG, info("Accepted"));
    sim.know(OTHER, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.advance(200);
    let auths = sim.count("Authorize");
    sim.card(OTHER);
    assert_eq!(sim.count("Authorize"), auths, "no parent to compare with");
    assert!(sim.core.status().tx_active);
}

#[test]
fn offline_a_tag_of_unknown_parent_is_not_asked_about_and_does_not_stop() {
    let mut sim = Sim::online(&[]);
    sim.know(TAG, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.advance(200);
    sim.disconnect();
    let sent = sim.sent.len();
    sim.card(OTHER);
    assert!(sim.core.status().tx_active);
    sim.connect();
    sim.advance(500);
    assert!(
        sim.received("Authorize")
            .iter()
            .all(|r| r.payload["idTag"] != OTHER),
        "no Authorize for a tag presented offline: {:?}",
        &sim.sent[sent..]
    );
}

#[test]
fn a_held_cable_is_not_released_by_a_tag_of_another_parent() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    sim.know(
        OTHER,
        json!({"status": "Accepted", "parentIdTag": "FLEET-B"}),
    );
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.know(TAG, json!({"status": "Blocked", "parentIdTag": "FLEET-A"}));
    sim.connect();
    sim.advance(500);
    assert!(sim.core.status().locked, "held after DeAuthorized");
    sim.card(OTHER);
    assert_eq!(sim.last("Authorize").unwrap()["idTag"], OTHER);
    assert!(
        sim.core.status().locked,
        "another parent does not release it"
    );
}

#[test]
fn offline_a_held_cable_asks_nothing_and_a_known_sibling_releases_it() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    // OTHER is cached with the parent FLEET while online.
    sim.know(OTHER, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.card(OTHER);
    sim.advance(61_000);
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.know(TAG, json!({"status": "Blocked", "parentIdTag": "FLEET"}));
    sim.connect();
    sim.advance(500);
    assert!(sim.core.status().locked);
    let auths = sim.count("Authorize");
    sim.disconnect();
    sim.card("11223344"); // unknown, offline: nothing to ask, nothing released
    assert!(sim.core.status().locked);
    sim.card(OTHER); // the cache knows its parent: released without asking
    assert!(!sim.core.status().locked);
    sim.connect();
    sim.advance(500);
    assert_eq!(sim.count("Authorize"), auths);
}

#[test]
fn a_late_rejection_of_an_earlier_transaction_leaves_the_running_one_alone() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    sim.know(OTHER, info("Accepted"));
    sim.disconnect();
    // First session offline with TAG (the central system will refuse it), ended offline.
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.card(TAG);
    sim.pilot(PilotState::A);
    // Second session offline with OTHER, still running at the reconnect.
    sim.pilot(PilotState::B);
    sim.card(OTHER);
    assert!(sim.core.status().tx_active);
    sim.connect();
    sim.advance(1_000);
    let starts = sim.received("StartTransaction");
    assert_eq!(starts.len(), 2, "both sessions reported");
    assert!(
        sim.core.status().tx_active,
        "the refusal of the first transaction does not stop the second"
    );
    let stops = sim.received("StopTransaction");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].payload["reason"], "Local");
}

#[test]
fn local_pre_authorize_asks_about_unknown_and_invalid_tags_and_keeps_a_cached_parent() {
    let mut sim = Sim::online(&[("LocalPreAuthorize", "true")]);
    // Learn TAG (Accepted, parent FLEET), OTHER (Accepted, parent FLEET) and a blocked card.
    sim.know(TAG, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.know(OTHER, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.know("0BADCAFE", info("Blocked"));
    for tag in [TAG, OTHER] {
        sim.card(tag);
        sim.advance(61_000); // no EV: the authorization expires
    }
    sim.card("0BADCAFE");
    let asked = sim.count("Authorize");
    assert_eq!(asked, 3);
    // A blocked card in the cache is asked about again, not granted locally.
    sim.card("0BADCAFE");
    assert_eq!(sim.count("Authorize"), asked + 1);
    assert_eq!(sim.core.status().connector_status.as_str(), "Available");
    // An unknown card is asked about.
    sim.card("11223344");
    assert_eq!(sim.count("Authorize"), asked + 2);
    assert_eq!(sim.core.status().connector_status.as_str(), "Available");
    // A cached valid card starts at once, with its cached parent: offline, the sibling stops it.
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert_eq!(sim.count("Authorize"), asked + 2);
    assert!(sim.core.status().tx_active);
    sim.disconnect();
    sim.card(OTHER);
    assert!(!sim.core.status().tx_active, "same parent FLEET stops it");
}

#[test]
fn a_second_card_is_ignored_while_the_first_is_being_authorized() {
    let mut sim = Sim::online(&[("MessageTimeout", "5")]);
    sim.csms.silent = true;
    sim.card(TAG);
    sim.card(OTHER);
    sim.advance(5_100); // the Authorize times out: offline decision (unknown: refused)
    sim.advance(5_100);
    let asked: Vec<String> = sim
        .received("Authorize")
        .iter()
        .map(|r| r.payload["idTag"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(asked, vec![TAG.to_string()], "OTHER was never asked about");
}

#[test]
fn after_a_sibling_stopped_the_transaction_a_new_card_starts_the_next_one() {
    let mut sim = Sim::online(&[]);
    sim.know(TAG, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.know(OTHER, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.know("11223344", info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.card(OTHER); // asked about, same parent: stops
    assert!(!sim.core.status().tx_active);
    sim.pilot(PilotState::A);
    sim.pilot(PilotState::B);
    sim.card("11223344");
    assert!(
        sim.core.status().tx_active,
        "the Authorize that stopped the last one leaves nothing pending"
    );
}

#[test]
fn answers_that_agree_with_the_local_list_report_no_conflict() {
    let mut sim = Sim::online(&[]);
    sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 1, "updateType": "Full",
               "localAuthorizationList": [
                   {"idTag": TAG, "idTagInfo": {"status": "Accepted"}},
                   {"idTag": OTHER, "idTagInfo": {"status": "Blocked"}}]}),
    );
    sim.know(TAG, info("Accepted"));
    sim.know(OTHER, info("Blocked"));
    sim.card(OTHER); // Authorize: Blocked, as listed
    sim.pilot(PilotState::B);
    sim.card(TAG); // Authorize and StartTransaction: Accepted, as listed
    sim.advance(500);
    assert!(sim.core.status().tx_active);
    assert_eq!(sim.count("StartTransaction"), 1);
    let conflicts = sim
        .received("StatusNotification")
        .into_iter()
        .filter(|r| r.payload["errorCode"] == "LocalListConflict")
        .count();
    assert_eq!(conflicts, 0, "nothing contradicted the list");
}

/// A free-charge charger presents its serial number (CiString25) as the id tag (IdToken,
/// CiString20): a serial longer than 20 characters cannot be presented.
fn free_charge_with_serial(serial: &str) -> Sim {
    let mut s = crate::harness::settings();
    s.free_charge = true;
    s.serial_number = serial.into();
    let mut sim = Sim::with_settings(s);
    sim.connect();
    sim.advance(500);
    sim.know(serial, info("Accepted"));
    sim.pilot(PilotState::B);
    sim
}

#[test]
fn free_charge_presents_a_serial_of_twenty_characters_but_not_a_longer_one() {
    let sim = free_charge_with_serial("SN-45678901234567890");
    assert_eq!(
        sim.last("Authorize").unwrap()["idTag"],
        "SN-45678901234567890"
    );
    assert!(sim.core.status().tx_active);
    let sim = free_charge_with_serial("SN-456789012345678901");
    assert_eq!(sim.count("Authorize"), 0, "21 characters: not an id tag");
    assert!(!sim.core.status().tx_active);
}
