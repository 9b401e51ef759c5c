use charger_core::PilotState;
use serde_json::json;

use crate::harness::{info, time, Sim};

const TAG: &str = "04A1B2C3";
const OTHER: &str = "0A0B0C0D";

fn charging(sim: &mut Sim) {
    sim.know(TAG, info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.pilot(PilotState::C);
    sim.load(16.0);
    assert!(sim.contactor());
}

#[test]
fn the_same_tag_stops_the_transaction_without_authorize() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.advance(10_000);
    let auths = sim.count("Authorize");
    sim.card(TAG);
    assert!(!sim.core.status().tx_active);
    assert!(!sim.contactor());
    sim.advance(200);
    assert_eq!(sim.count("Authorize"), auths);
    let stop = sim.last("StopTransaction").unwrap();
    assert_eq!(stop["reason"], "Local");
    assert_eq!(stop["idTag"], TAG);
    assert_eq!(stop["transactionId"], sim.last_tx_id());
    let start = sim.last("StartTransaction").unwrap();
    let wh = stop["meterStop"].as_i64().unwrap() - start["meterStart"].as_i64().unwrap();
    assert!(
        (9..=11).contains(&wh),
        "10 s at 3.68 kW is ~10 Wh, got {wh}"
    );
}

#[test]
fn an_unrelated_tag_does_not_stop_the_transaction() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.know(OTHER, info("Accepted"));
    sim.card(OTHER);
    assert!(sim.core.status().tx_active);
}

#[test]
fn a_tag_with_the_same_parent_stops_the_transaction_after_authorize() {
    let mut sim = Sim::online(&[]);
    sim.know(TAG, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.know(OTHER, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.advance(200);
    assert!(sim.core.status().tx_active);
    sim.card(OTHER);
    assert_eq!(sim.last("Authorize").unwrap()["idTag"], OTHER);
    assert!(!sim.core.status().tx_active);
    assert_eq!(sim.last("StopTransaction").unwrap()["idTag"], OTHER);
}

#[test]
fn the_stop_button_stops_with_reason_local() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.input(charger_core::Input::Board(
        charger_core::BoardInput::StopButton,
    ));
    assert!(!sim.contactor());
    sim.advance(200);
    assert_eq!(sim.last("StopTransaction").unwrap()["reason"], "Local");
}

#[test]
fn unplugging_stops_with_reason_ev_disconnected() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.pilot(PilotState::A);
    sim.advance(200);
    assert_eq!(
        sim.last("StopTransaction").unwrap()["reason"],
        "EVDisconnected"
    );
    assert!(!sim.core.status().locked);
}

#[test]
fn unplugging_keeps_the_transaction_and_the_lock_when_stop_on_ev_side_disconnect_is_false() {
    let mut sim = Sim::online(&[("StopTransactionOnEVSideDisconnect", "false")]);
    charging(&mut sim);
    sim.pilot(PilotState::A);
    assert!(sim.core.status().tx_active);
    assert!(!sim.contactor());
    assert!(
        sim.core.status().locked,
        "priority over UnlockConnectorOnEVSideDisconnect"
    );
    sim.pilot(PilotState::C);
    assert!(
        sim.contactor(),
        "energy allowed again when the EV comes back"
    );
}

#[test]
fn with_unlock_on_ev_side_disconnect_false_the_cable_stays_locked_until_the_tag_returns() {
    let mut sim = Sim::online(&[("UnlockConnectorOnEVSideDisconnect", "false")]);
    charging(&mut sim);
    sim.pilot(PilotState::A);
    assert!(!sim.core.status().tx_active);
    assert!(sim.core.status().locked);
    sim.card(OTHER);
    assert!(sim.core.status().locked);
    sim.card(TAG);
    assert!(!sim.core.status().locked);
    assert_eq!(sim.core.status().connector_status.as_str(), "Available");
}

#[test]
fn remote_start_then_remote_stop() {
    let mut sim = Sim::online(&[]);
    sim.know(TAG, info("Accepted"));
    let a = sim.cs_call(
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": TAG}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    sim.pilot(PilotState::B);
    sim.advance(200);
    assert_eq!(sim.last("StartTransaction").unwrap()["idTag"], TAG);
    let id = sim.last_tx_id();
    let a = sim.cs_call("RemoteStopTransaction", json!({"transactionId": id + 1}));
    assert_eq!(a[2]["status"], "Rejected", "unknown transaction id");
    let a = sim.cs_call("RemoteStopTransaction", json!({"transactionId": id}));
    assert_eq!(a[2]["status"], "Accepted");
    sim.advance(200);
    assert_eq!(sim.last("StopTransaction").unwrap()["reason"], "Remote");
}

#[test]
fn remote_start_is_rejected_while_a_transaction_runs() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    let a = sim.cs_call("RemoteStartTransaction", json!({"idTag": OTHER}));
    assert_eq!(a[2]["status"], "Rejected");
}

#[test]
fn soft_reset_stops_with_reason_soft_reset_and_reboots() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.advance(200);
    let a = sim.cs_call("Reset", json!({"type": "Soft"}));
    assert_eq!(a[2]["status"], "Accepted");
    assert_eq!(sim.reboots, vec![false]);
    sim.advance(500);
    assert_eq!(sim.count("BootNotification"), 2);
    assert_eq!(sim.last("StopTransaction").unwrap()["reason"], "SoftReset");
    assert_eq!(sim.count("StopTransaction"), 1);
}

#[test]
fn hard_reset_stops_with_reason_hard_reset() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.cs_call("Reset", json!({"type": "Hard"}));
    sim.advance(500);
    assert_eq!(sim.reboots, vec![true]);
    assert_eq!(sim.last("StopTransaction").unwrap()["reason"], "HardReset");
}

#[test]
fn power_loss_stops_the_transaction_after_reboot_with_the_last_persisted_reading_and_its_time() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.advance(30_000);
    let wh_at_cut = sim.core.status().energy_wh;
    let utc_at_cut = sim.now.utc;
    sim.power_cycle();
    sim.advance(60_000); // power back, network not yet
    sim.connect();
    sim.advance(1_000);
    let stop = sim.last("StopTransaction").unwrap();
    assert_eq!(stop["reason"], "PowerLoss");
    assert_eq!(stop["meterStop"].as_u64().unwrap(), wh_at_cut);
    let t = time(&stop["timestamp"]);
    assert!(
        t <= utc_at_cut && utc_at_cut - t <= chrono::Duration::seconds(5),
        "stop time {t} vs cut {utc_at_cut}"
    );
    assert_eq!(sim.count("StopTransaction"), 1);
    assert_eq!(stop["transactionId"], sim.last_tx_id());
    // Never reported twice, even across another power cycle.
    sim.power_cycle();
    sim.connect();
    sim.advance(1_000);
    assert_eq!(sim.count("StopTransaction"), 1);
    assert_eq!(sim.count("StartTransaction"), 1);
}

#[test]
fn an_offline_transaction_is_delivered_in_order_with_event_times_after_reconnect() {
    let mut sim = Sim::online(&[
        ("AllowOfflineTxForUnknownId", "true"),
        ("MeterValueSampleInterval", "10"),
    ]);
    sim.disconnect();
    let start_utc = sim.now.utc;
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.pilot(PilotState::C);
    sim.load(10.0);
    sim.advance(35_000);
    sim.card(TAG);
    assert_eq!(sim.core.status().queue_len, 5, "start, 3 samples, stop");
    sim.advance(60_000);
    sim.connect();
    sim.advance(1_000);
    let msgs = sim.tx_messages();
    let actions: Vec<&str> = msgs.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "StartTransaction",
            "MeterValues",
            "MeterValues",
            "MeterValues",
            "StopTransaction"
        ]
    );
    assert_eq!(
        time(&msgs[0].1["timestamp"]),
        start_utc,
        "event time, not send time"
    );
    let id = sim.last_tx_id();
    for (_, p) in &msgs[1..] {
        assert_eq!(
            p["transactionId"], id,
            "late transactionId fills later messages"
        );
    }
    let times: Vec<_> = msgs[1..4]
        .iter()
        .map(|(_, p)| time(&p["meterValue"][0]["timestamp"]))
        .collect();
    for w in times.windows(2) {
        assert_eq!(w[1] - w[0], chrono::Duration::seconds(10));
    }
    assert_eq!(sim.core.status().queue_len, 0);
}

#[test]
fn offline_time_consumes_no_attempts() {
    let mut sim = Sim::online(&[
        ("AllowOfflineTxForUnknownId", "true"),
        ("TransactionMessageAttempts", "1"),
    ]);
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.advance(600_000);
    sim.connect();
    sim.advance(500);
    assert_eq!(sim.count("StartTransaction"), 1);
    assert!(sim.last_tx_id() > 0);
}

#[test]
fn a_link_drop_while_a_message_is_in_flight_resends_it_without_counting_an_attempt() {
    let mut sim = Sim::online(&[("TransactionMessageAttempts", "1")]);
    sim.csms.silent = true;
    sim.know(TAG, info("Accepted"));
    sim.pilot(PilotState::B);
    sim.advance(31_000); // StatusNotification times out
    sim.csms.silent = false;
    sim.card(TAG);
    sim.csms.silent = true;
    sim.advance(100);
    sim.disconnect();
    sim.csms.silent = false;
    sim.connect();
    sim.advance(500);
    assert_eq!(sim.core.status().queue_len, 0);
    assert!(sim.count("StartTransaction") >= 1);
}

#[test]
fn call_errors_retry_after_growing_intervals_and_drop_after_the_attempts_then_stop_carries_minus_one(
) {
    let mut sim = Sim::online(&[
        ("TransactionMessageAttempts", "3"),
        ("TransactionMessageRetryInterval", "10"),
    ]);
    sim.csms
        .call_errors
        .insert("StartTransaction".into(), u32::MAX);
    charging(&mut sim);
    sim.advance(100);
    let at = |sim: &Sim| {
        sim.received("StartTransaction")
            .iter()
            .map(|r| r.at_ms)
            .collect::<Vec<_>>()
    };
    assert_eq!(at(&sim).len(), 1);
    sim.advance(9_800);
    assert_eq!(at(&sim).len(), 1, "no retry before 10 s");
    sim.advance(300);
    assert_eq!(at(&sim).len(), 2);
    sim.advance(19_500);
    assert_eq!(at(&sim).len(), 2, "second retry waits 2 × 10 s");
    sim.advance(600);
    assert_eq!(at(&sim).len(), 3);
    sim.advance(100_000);
    assert_eq!(at(&sim).len(), 3, "dropped after 3 attempts");
    sim.card(TAG);
    sim.advance(200);
    let stop = sim.last("StopTransaction").unwrap();
    assert_eq!(stop["transactionId"], -1);
}

#[test]
fn a_stop_transaction_with_call_errors_is_delivered_exactly_once_after_retries() {
    let mut sim = Sim::online(&[("TransactionMessageRetryInterval", "1")]);
    charging(&mut sim);
    sim.csms.call_errors.insert("StopTransaction".into(), 2);
    sim.card(TAG);
    sim.advance(5_000);
    assert_eq!(sim.count("StopTransaction"), 3);
    assert_eq!(sim.core.status().queue_len, 0);
}

#[test]
fn a_response_timeout_on_a_live_connection_is_a_failed_attempt() {
    let mut sim = Sim::online(&[
        ("TransactionMessageAttempts", "2"),
        ("TransactionMessageRetryInterval", "1"),
        ("MessageTimeout", "5"),
    ]);
    charging(&mut sim);
    sim.advance(200);
    sim.csms.silent = true;
    sim.card(TAG);
    sim.advance(60_000);
    assert_eq!(sim.count("StopTransaction"), 2);
    assert_eq!(
        sim.core.status().queue_len,
        0,
        "dropped after 2 timed-out attempts"
    );
}

#[test]
fn late_rejection_with_stop_on_invalid_id_deauthorizes_and_keeps_the_cable_locked_until_the_same_tag(
) {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.pilot(PilotState::C);
    assert!(sim.contactor());
    sim.connect(); // TAG is unknown to the CS: StartTransaction.conf says Invalid
    sim.advance(500);
    assert!(!sim.core.status().tx_active);
    assert!(!sim.contactor());
    assert_eq!(
        sim.last("StopTransaction").unwrap()["reason"],
        "DeAuthorized"
    );
    sim.pilot(PilotState::A);
    assert!(sim.core.status().locked, "cable stays locked");
    sim.card(OTHER);
    assert!(sim.core.status().locked, "another tag does not release it");
    sim.card(TAG);
    assert!(!sim.core.status().locked);
}

#[test]
fn late_rejection_without_stop_on_invalid_id_suspends_after_max_energy() {
    let mut sim = Sim::online(&[
        ("AllowOfflineTxForUnknownId", "true"),
        ("StopTransactionOnInvalidId", "false"),
        ("MaxEnergyOnInvalidId", "20"),
    ]);
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.pilot(PilotState::C);
    sim.load(16.0);
    sim.connect();
    sim.advance(500);
    assert!(sim.core.status().tx_active);
    assert!(sim.contactor(), "keeps charging until MaxEnergyOnInvalidId");
    sim.advance(25_000);
    let st = sim.core.status();
    assert!(!st.contactor_closed);
    assert!(st.tx_active, "the transaction stays open");
    assert_eq!(st.connector_status.as_str(), "SuspendedEVSE");
    assert!(
        (20..=21).contains(&st.energy_wh),
        "stopped at ~20 Wh, got {}",
        st.energy_wh
    );
}

#[test]
fn a_late_rejection_of_an_ended_transaction_only_updates_the_cache() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.card(TAG);
    sim.pilot(PilotState::A);
    sim.connect();
    sim.advance(500);
    assert!(!sim.core.status().locked);
    assert_eq!(sim.count("StopTransaction"), 1);
    assert_eq!(sim.last("StopTransaction").unwrap()["reason"], "Local");
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(!sim.core.status().tx_active, "cached as Invalid now");
}

#[test]
fn a_start_confirmation_contradicting_the_local_list_reports_local_list_conflict() {
    let mut sim = Sim::online(&[]);
    sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 1, "updateType": "Full",
               "localAuthorizationList": [{"idTag": TAG, "idTagInfo": {"status": "Accepted"}}]}),
    );
    sim.csms.start_status = Some("Blocked");
    sim.know(TAG, info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.advance(500);
    let conflict = sim
        .received("StatusNotification")
        .into_iter()
        .find(|r| r.payload["errorCode"] == "LocalListConflict")
        .expect("LocalListConflict reported");
    assert_eq!(conflict.payload["connectorId"], 0);
    let v = sim.cs_call("GetLocalListVersion", json!({}));
    assert_eq!(v[2]["listVersion"], 1, "the list stays as it was");
}

#[test]
fn meter_values_are_sampled_at_the_interval_with_the_energy_register() {
    let mut sim = Sim::online(&[("MeterValueSampleInterval", "5")]);
    charging(&mut sim);
    sim.advance(16_000);
    let mv: Vec<_> = sim
        .received("MeterValues")
        .into_iter()
        .map(|r| r.payload.clone())
        .collect();
    assert_eq!(mv.len(), 3);
    let regs: Vec<u64> = mv
        .iter()
        .map(|p| {
            p["meterValue"][0]["sampledValue"][0]["value"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        regs.windows(2).all(|w| w[1] > w[0]),
        "register grows: {regs:?}"
    );
    assert_eq!(
        mv[0]["meterValue"][0]["sampledValue"][0]["measurand"],
        "Energy.Active.Import.Register"
    );
    assert_eq!(
        mv[0]["meterValue"][0]["sampledValue"][0]["context"],
        "Sample.Periodic"
    );
    assert_eq!(mv[0]["transactionId"], sim.last_tx_id());
}

#[test]
fn the_queue_survives_power_loss_and_is_delivered_exactly_once() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    sim.disconnect();
    for _ in 0..3 {
        sim.pilot(PilotState::B);
        sim.card(TAG);
        sim.pilot(PilotState::C);
        sim.load(16.0);
        sim.advance(5_000);
        sim.card(TAG);
        sim.pilot(PilotState::A);
    }
    assert_eq!(sim.core.status().queue_len, 6);
    sim.power_cycle();
    assert_eq!(sim.core.status().queue_len, 6);
    sim.connect();
    sim.advance(1_000);
    let actions: Vec<String> = sim.tx_messages().into_iter().map(|(a, _)| a).collect();
    assert_eq!(actions, ["StartTransaction", "StopTransaction"].repeat(3));
    let msgs = sim.tx_messages();
    let ids: Vec<_> = msgs
        .iter()
        .map(|(_, p)| p.get("transactionId").cloned())
        .collect();
    assert_eq!(ids[1], Some(json!(101)));
    assert_eq!(ids[3], Some(json!(102)));
    assert_eq!(ids[5], Some(json!(103)));
    sim.power_cycle();
    sim.connect();
    sim.advance(1_000);
    assert_eq!(sim.tx_messages().len(), 6, "nothing delivered twice");
}

#[test]
fn unlock_connector_stops_the_transaction_and_unlocks() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    let a = sim.cs_call("UnlockConnector", json!({"connectorId": 1}));
    assert_eq!(a[2]["status"], "Unlocked");
    sim.advance(200);
    assert_eq!(
        sim.last("StopTransaction").unwrap()["reason"],
        "UnlockCommand"
    );
    assert!(!sim.core.status().locked);
}

#[test]
fn change_availability_inoperative_is_scheduled_during_a_transaction() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    let a = sim.cs_call(
        "ChangeAvailability",
        json!({"connectorId": 1, "type": "Inoperative"}),
    );
    assert_eq!(a[2]["status"], "Scheduled");
    sim.card(TAG);
    sim.pilot(PilotState::A);
    sim.advance(200);
    assert_eq!(sim.core.status().connector_status.as_str(), "Unavailable");
    let a = sim.cs_call(
        "ChangeAvailability",
        json!({"connectorId": 0, "type": "Operative"}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    sim.advance(200);
    assert_eq!(sim.core.status().connector_status.as_str(), "Available");
}

#[test]
fn trigger_message_meter_values_and_heartbeat_are_sent_after_the_answer() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.advance(200);
    let a = sim.cs_call("TriggerMessage", json!({"requestedMessage": "MeterValues"}));
    assert_eq!(a[2]["status"], "Accepted");
    sim.advance(100);
    let mv = sim.last("MeterValues").unwrap();
    assert_eq!(mv["meterValue"][0]["sampledValue"][0]["context"], "Trigger");
    let a = sim.cs_call("TriggerMessage", json!({"requestedMessage": "Heartbeat"}));
    assert_eq!(a[2]["status"], "Accepted");
    sim.advance(100);
    assert_eq!(sim.count("Heartbeat"), 1);
    let a = sim.cs_call(
        "TriggerMessage",
        json!({"requestedMessage": "FirmwareStatusNotification"}),
    );
    assert_eq!(a[2]["status"], "NotImplemented");
}

#[test]
fn stop_txn_sampled_data_goes_into_the_stop_transaction() {
    let mut sim = Sim::online(&[(
        "StopTxnSampledData",
        "Energy.Active.Import.Register,Voltage",
    )]);
    charging(&mut sim);
    sim.advance(10_000);
    sim.card(TAG);
    sim.advance(200);
    let stop = sim.last("StopTransaction").unwrap();
    let data = stop["transactionData"].as_array().unwrap();
    let sv = &data[data.len() - 1]["sampledValue"];
    assert_eq!(sv[0]["context"], "Transaction.End");
    assert_eq!(sv[0]["value"], stop["meterStop"].to_string());
    assert_eq!(sv[1]["measurand"], "Voltage");
}

#[test]
fn clock_aligned_data_is_sampled_on_interval_boundaries() {
    let mut sim = Sim::online(&[("ClockAlignedDataInterval", "60")]);
    sim.advance(61_000);
    let idle = sim
        .last("MeterValues")
        .expect("aligned sample without a transaction");
    assert!(idle.get("transactionId").is_none());
    assert_eq!(
        idle["meterValue"][0]["sampledValue"][0]["context"],
        "Sample.Clock"
    );
    let t = time(&idle["meterValue"][0]["timestamp"]);
    assert_eq!(chrono::Timelike::second(&t), 0, "on the minute: {t}");
    charging(&mut sim);
    sim.advance(60_000);
    let in_tx = sim.last("MeterValues").unwrap();
    assert_eq!(in_tx["transactionId"], sim.last_tx_id());
}

#[test]
fn a_transaction_started_online_and_stopped_offline_keeps_its_id_and_the_swipe_time() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.advance(5_000);
    sim.disconnect();
    let swipe = sim.now.utc;
    sim.card(TAG);
    assert!(!sim.contactor());
    sim.advance(30_000);
    sim.connect();
    sim.advance(500);
    let stop = sim.last("StopTransaction").unwrap();
    assert_eq!(stop["transactionId"], sim.last_tx_id());
    assert_eq!(time(&stop["timestamp"]), swipe);
    assert_eq!(sim.count("Authorize"), 1);
    assert_eq!(sim.statuses(1).last().unwrap(), "Finishing");
}

#[test]
fn remote_start_authorizes_first_when_authorize_remote_tx_requests_is_true() {
    let mut sim = Sim::online(&[("AuthorizeRemoteTxRequests", "true")]);
    sim.know(TAG, info("Accepted"));
    sim.pilot(PilotState::B);
    let a = sim.cs_call("RemoteStartTransaction", json!({"idTag": TAG}));
    assert_eq!(a[2]["status"], "Accepted");
    sim.advance(200);
    assert_eq!(sim.last("Authorize").unwrap()["idTag"], TAG);
    assert!(sim.core.status().tx_active);
}

#[test]
fn a_held_cable_is_released_by_a_tag_with_the_same_parent() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    sim.know(OTHER, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.disconnect();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    // The late StartTransaction.conf rejects TAG but reveals its parent.
    sim.know(TAG, json!({"status": "Blocked", "parentIdTag": "FLEET"}));
    sim.connect();
    sim.advance(500);
    assert_eq!(
        sim.last("StopTransaction").unwrap()["reason"],
        "DeAuthorized"
    );
    assert!(sim.core.status().locked);
    sim.card(OTHER);
    assert_eq!(sim.last("Authorize").unwrap()["idTag"], OTHER);
    assert!(!sim.core.status().locked, "same parent releases the lock");
}

#[test]
fn offline_a_tag_with_the_same_parent_from_the_cache_stops_the_transaction() {
    let mut sim = Sim::online(&[]);
    sim.know(TAG, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.know(OTHER, json!({"status": "Accepted", "parentIdTag": "FLEET"}));
    sim.card(OTHER); // learn OTHER (and its parent) while online; no EV, it just expires
    sim.advance(61_000);
    sim.pilot(PilotState::B);
    sim.card(TAG);
    assert!(sim.core.status().tx_active);
    sim.disconnect();
    sim.card(OTHER);
    assert!(!sim.core.status().tx_active);
}

#[test]
fn remote_start_with_a_charging_profile_is_accepted_and_the_profile_ignored() {
    let mut sim = Sim::online(&[]);
    sim.know(TAG, info("Accepted"));
    let profile = json!({
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.5}]}
    });
    let a = sim.cs_call(
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": TAG, "chargingProfile": profile}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    let a = sim.cs_call(
        "RemoteStartTransaction",
        json!({"idTag": TAG, "chargingProfile": 5}),
    );
    assert_eq!(a[2], "TypeConstraintViolation");
}

#[test]
fn a_reset_waits_for_the_call_in_flight_so_nothing_is_sent_twice() {
    let mut sim = Sim::online(&[]);
    sim.know(TAG, info("Accepted"));
    sim.pilot(PilotState::B);
    sim.csms.silent = true;
    sim.card(TAG); // Authorize goes out and is not answered
    let auth = sim.sent.last().unwrap().clone();
    assert_eq!(auth[2], "Authorize");
    sim.raw(
        &json!([3, auth[1], {"idTagInfo": {"status": "Accepted"}}]).to_string(),
        "-",
    );
    // The status report times out unanswered (30 s); then the StartTransaction is in flight.
    sim.advance(30_100);
    let start = sim
        .sent
        .iter()
        .rev()
        .find(|f| f[2] == "StartTransaction")
        .cloned();
    let start = start.expect("StartTransaction sent");
    let a = sim.cs_call("Reset", json!({"type": "Hard"}));
    assert_eq!(a[2]["status"], "Accepted");
    assert!(
        sim.reboots.is_empty(),
        "no reboot while the StartTransaction is in flight"
    );
    assert!(!sim.contactor());
    sim.csms.silent = false;
    sim.raw(
        &json!([3, start[1], {"idTagInfo": {"status": "Accepted"}, "transactionId": 555}])
            .to_string(),
        "-",
    );
    assert_eq!(sim.reboots, vec![true]);
    sim.advance(1_000);
    assert_eq!(
        sim.count("StartTransaction"),
        1,
        "not resent after the reboot"
    );
    let stop = sim.last("StopTransaction").unwrap();
    assert_eq!(stop["reason"], "HardReset");
    assert_eq!(stop["transactionId"], 555);
}

#[test]
fn a_reset_with_an_unanswered_call_reboots_after_message_timeout() {
    let mut sim = Sim::online(&[("MessageTimeout", "5")]);
    sim.csms.silent = true;
    sim.pilot(PilotState::B); // StatusNotification in flight
    sim.cs_call("Reset", json!({"type": "Soft"}));
    assert!(sim.reboots.is_empty());
    sim.advance(5_100);
    assert_eq!(sim.reboots, vec![false]);
}

/// Errata v4 3.36 (§5.14): after a Reset.req the StopTransaction.req of the ongoing transaction
/// is sent BEFORE the reset, not queued until after the reboot.
#[test]
fn a_soft_reset_sends_stop_transaction_before_rebooting() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.advance(2_000);
    let a = sim.cs_call("Reset", json!({"type": "Soft"}));
    assert_eq!(a[2]["status"], "Accepted");
    assert_eq!(sim.reboots, vec![false]);
    let order: Vec<&str> = sim
        .csms
        .received
        .iter()
        .map(|r| r.action.as_str())
        .filter(|a| matches!(*a, "StopTransaction" | "BootNotification"))
        .collect();
    assert_eq!(
        order,
        vec!["BootNotification", "StopTransaction", "BootNotification"],
        "StopTransaction goes out before the reboot's BootNotification"
    );
    let stop = sim.last("StopTransaction").unwrap();
    assert_eq!(stop["reason"], "SoftReset");
    assert_eq!(stop["transactionId"], sim.last_tx_id());
    sim.advance(5_000);
    assert_eq!(
        sim.count("StopTransaction"),
        1,
        "not resent after the reboot"
    );
}

/// Errata v4 3.36: "If the Charge Point fails to receive a StopTransaction.conf from the Central
/// System, it SHALL queue the StopTransaction.req": the reboot waits at most MessageTimeout.
#[test]
fn a_reset_whose_stop_transaction_is_not_answered_reboots_and_delivers_it_afterwards() {
    let mut sim = Sim::online(&[
        ("MessageTimeout", "5"),
        ("TransactionMessageRetryInterval", "3"),
    ]);
    charging(&mut sim);
    sim.advance(1_000);
    sim.csms.silent = true;
    sim.cs_call("Reset", json!({"type": "Soft"}));
    assert_eq!(sim.count("StopTransaction"), 1, "sent before the reset");
    assert!(sim.reboots.is_empty(), "waits for the answer");
    sim.csms.silent = false;
    sim.advance(5_100);
    assert_eq!(sim.reboots, vec![false]);
    sim.advance(3_100);
    assert_eq!(
        sim.count("StopTransaction"),
        2,
        "queued and sent again after the retry interval"
    );
    assert_eq!(sim.core.status().queue_len, 0);
}

/// The link drops while the reset's StopTransaction is in flight: the reset goes ahead at once
/// and the stop stays queued for the next connection (no attempt counted).
#[test]
fn a_link_drop_during_the_reset_stop_reboots_at_once_and_keeps_the_stop_queued() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.advance(1_000);
    sim.csms.silent = true;
    sim.cs_call("Reset", json!({"type": "Hard"}));
    assert_eq!(sim.count("StopTransaction"), 1, "sent before the reset");
    assert!(sim.reboots.is_empty());
    sim.disconnect();
    assert_eq!(sim.reboots, vec![true]);
    sim.csms.silent = false;
    sim.connect();
    sim.advance(1_000);
    assert_eq!(sim.count("StopTransaction"), 2);
    assert_eq!(sim.last("StopTransaction").unwrap()["reason"], "HardReset");
    assert_eq!(sim.core.status().queue_len, 0);
}

fn contexts(stop: &serde_json::Value) -> Vec<String> {
    stop["transactionData"]
        .as_array()
        .expect("transactionData")
        .iter()
        .map(|mv| {
            mv["sampledValue"][0]["context"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// §3.16.1: StopTxnSampledData values "every MeterValueSampleInterval seconds from the start of
/// the Transaction"; errata v4 3.14 (§3.16.6): Transaction.Begin and Transaction.End values too.
#[test]
fn stop_txn_sampled_data_carries_begin_periodic_and_end_values() {
    let mut sim = Sim::online(&[
        ("MeterValueSampleInterval", "5"),
        (
            "StopTxnSampledData",
            "Energy.Active.Import.Register,Current.Import",
        ),
    ]);
    charging(&mut sim);
    sim.advance(14_000);
    sim.card(TAG);
    sim.advance(200);
    let start = sim.last("StartTransaction").unwrap();
    let stop = sim.last("StopTransaction").unwrap();
    assert_eq!(
        contexts(&stop),
        vec![
            "Transaction.Begin",
            "Sample.Periodic",
            "Sample.Periodic",
            "Transaction.End"
        ]
    );
    let data = stop["transactionData"].as_array().unwrap();
    assert_eq!(data[0]["timestamp"], start["timestamp"]);
    assert_eq!(
        data[0]["sampledValue"][0]["value"],
        start["meterStart"].to_string()
    );
    assert_eq!(data[3]["timestamp"], stop["timestamp"]);
    assert_eq!(
        data[3]["sampledValue"][0]["value"],
        stop["meterStop"].to_string()
    );
    for mv in data {
        let sv = mv["sampledValue"].as_array().unwrap();
        assert_eq!(sv.len(), 2, "both configured measurands: {mv}");
        assert_eq!(sv[1]["measurand"], "Current.Import");
    }
    assert_eq!(
        time(&data[1]["timestamp"]) - time(&data[0]["timestamp"]),
        chrono::Duration::seconds(5)
    );
    // The periodic MeterValues still go out on their own, as before.
    assert_eq!(sim.count("MeterValues"), 2);
}

/// §3.16.2: StopTxnAlignedData values "for every ClockAlignedDataInterval of the Transaction",
/// plus the Begin and End values of errata 3.14.
#[test]
fn stop_txn_aligned_data_carries_clock_aligned_values() {
    let mut sim = Sim::online(&[
        ("ClockAlignedDataInterval", "60"),
        ("StopTxnAlignedData", "Energy.Active.Import.Register"),
    ]);
    charging(&mut sim);
    sim.advance(130_000);
    sim.card(TAG);
    sim.advance(200);
    let stop = sim.last("StopTransaction").unwrap();
    assert_eq!(
        contexts(&stop),
        vec![
            "Transaction.Begin",
            "Sample.Clock",
            "Sample.Clock",
            "Transaction.End"
        ]
    );
    let data = stop["transactionData"].as_array().unwrap();
    for mv in &data[1..3] {
        let t = time(&mv["timestamp"]);
        assert_eq!(t.timestamp() % 60, 0, "on a boundary: {t}");
    }
}

/// Errata v4 3.14.5 (§3.16.5): both keys empty → no meter values in StopTransaction.
#[test]
fn no_transaction_data_when_stop_txn_keys_are_empty() {
    let mut sim = Sim::online(&[("MeterValueSampleInterval", "5")]);
    charging(&mut sim);
    sim.advance(12_000);
    sim.card(TAG);
    sim.advance(200);
    let stop = sim.last("StopTransaction").unwrap();
    assert!(stop.get("transactionData").is_none(), "{stop}");
}

/// A power cut does not lose what was collected: the PowerLoss stop carries the Begin value,
/// the samples taken before the cut and an End value with the last persisted reading.
#[test]
fn the_power_loss_stop_carries_the_transaction_data_collected_before_the_cut() {
    let mut sim = Sim::online(&[
        ("MeterValueSampleInterval", "5"),
        ("StopTxnSampledData", "Energy.Active.Import.Register"),
    ]);
    charging(&mut sim);
    sim.advance(12_000);
    sim.power_cycle();
    sim.connect();
    sim.advance(1_000);
    let stop = sim.last("StopTransaction").unwrap();
    assert_eq!(stop["reason"], "PowerLoss");
    assert_eq!(
        contexts(&stop),
        vec![
            "Transaction.Begin",
            "Sample.Periodic",
            "Sample.Periodic",
            "Transaction.End"
        ]
    );
    let data = stop["transactionData"].as_array().unwrap();
    assert_eq!(data[3]["timestamp"], stop["timestamp"]);
    assert_eq!(
        data[3]["sampledValue"][0]["value"],
        stop["meterStop"].to_string()
    );
}

/// Errata v4 3.89: beyond StopTransactionMaxMeterValues intermediate values are dropped (every
/// other one), never the Begin and End values.
#[test]
fn a_long_transaction_keeps_begin_and_end_and_drops_intermediate_values() {
    let mut sim = Sim::online(&[
        ("MeterValueSampleInterval", "1"),
        ("StopTxnSampledData", "Energy.Active.Import.Register"),
    ]);
    let max: usize = sim
        .core
        .config_value("StopTransactionMaxMeterValues")
        .expect("key reported")
        .parse()
        .unwrap();
    charging(&mut sim);
    sim.advance(1_000 * (3 * max as u64 + 7));
    sim.card(TAG);
    sim.advance(200);
    let stop = sim.last("StopTransaction").unwrap();
    let c = contexts(&stop);
    assert!(c.len() <= max, "{} values, max {max}", c.len());
    assert!(c.len() > max / 2, "not emptied: {}", c.len());
    assert_eq!(c.first().unwrap(), "Transaction.Begin");
    assert_eq!(c.last().unwrap(), "Transaction.End");
    let data = stop["transactionData"].as_array().unwrap();
    let times: Vec<_> = data.iter().map(|mv| time(&mv["timestamp"])).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    // The latest sample is always kept: the End value follows it within the sample interval
    // (plus the 200 ms tick granularity of the harness).
    let last_sample = times[times.len() - 2];
    assert!(times[times.len() - 1] - last_sample <= chrono::Duration::milliseconds(1_200));
}

/// §5.17: the connectorId of a TriggerMessage says which connector the message is for; for
/// MeterValues 0 is the charge point's main meter (§6.31). Our one meter measures the whole
/// charge point, so connector 0 gets its reading on connectorId 0, outside any transaction;
/// connector 1 keeps its own (with the transaction id). §5.17 also makes a StatusNotification for
/// connector 0 "a request for the status of the Charge Point".
#[test]
fn trigger_message_for_connector_0_reports_connector_0() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.advance(200);
    let a = sim.cs_call(
        "TriggerMessage",
        json!({"requestedMessage": "MeterValues", "connectorId": 0}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    sim.advance(100);
    let mv = sim.last("MeterValues").unwrap();
    assert_eq!(mv["connectorId"], 0, "{mv}");
    assert!(mv.get("transactionId").is_none(), "{mv}");
    assert_eq!(mv["meterValue"][0]["sampledValue"][0]["context"], "Trigger");
    sim.cs_call(
        "TriggerMessage",
        json!({"requestedMessage": "MeterValues", "connectorId": 1}),
    );
    sim.advance(100);
    let mv = sim.last("MeterValues").unwrap();
    assert_eq!(mv["connectorId"], 1, "{mv}");
    assert_eq!(mv["transactionId"], sim.last_tx_id(), "{mv}");
    let before = sim.statuses(0).len();
    let a = sim.cs_call(
        "TriggerMessage",
        json!({"requestedMessage": "StatusNotification", "connectorId": 0}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    sim.advance(100);
    assert_eq!(sim.statuses(0).len(), before + 1);
}

/// §3.7.1: before every retransmission the charge point waits TransactionMessageRetryInterval ×
/// the preceding transmissions. A reboot (Reset, power cut) in between does not shorten it:
/// the due time is persisted as wall-clock time.
#[test]
fn a_failed_transaction_message_still_waits_its_retry_interval_after_a_reboot() {
    let mut sim = Sim::online(&[("TransactionMessageRetryInterval", "10")]);
    charging(&mut sim);
    sim.advance(1_000);
    sim.csms.call_errors.insert("StopTransaction".into(), 1);
    sim.card(TAG);
    assert_eq!(sim.count("StopTransaction"), 1);
    let first = sim.received("StopTransaction")[0].at_ms;
    sim.power_cycle(); // +2 s
    sim.connect();
    sim.advance(6_000);
    assert_eq!(sim.count("StopTransaction"), 1, "not before the interval");
    sim.advance(3_000);
    assert_eq!(sim.count("StopTransaction"), 2);
    let second = sim.received("StopTransaction")[1].at_ms;
    assert!(second - first >= 10_000, "{}", second - first);
    assert_eq!(sim.core.status().queue_len, 0);
}

/// A second Reset while the first is delivering the queue up to its StopTransaction does not cut
/// the delivery short; the reboot is hard if either was.
#[test]
fn a_second_reset_during_the_first_keeps_the_stop_delivery_and_hard_wins() {
    let mut sim = Sim::online(&[("MeterValueSampleInterval", "1"), ("MessageTimeout", "30")]);
    charging(&mut sim);
    sim.advance(500);
    sim.csms.silent = true;
    sim.advance(3_000); // one MeterValues in flight, more queued behind it
    let in_flight = sim.sent.last().unwrap().clone();
    assert_eq!(in_flight[2], "MeterValues");
    assert!(sim.core.status().queue_len >= 2);
    sim.cs_call("Reset", json!({"type": "Soft"}));
    let a = sim.cs_call("Reset", json!({"type": "Hard"}));
    assert_eq!(a[2]["status"], "Accepted");
    assert!(sim.reboots.is_empty());
    sim.csms.silent = false;
    sim.raw(&json!([3, in_flight[1], {}]).to_string(), "-");
    assert_eq!(sim.reboots, vec![true]);
    let order: Vec<&str> = sim
        .csms
        .received
        .iter()
        .map(|r| r.action.as_str())
        .filter(|a| matches!(*a, "StopTransaction" | "BootNotification"))
        .collect();
    assert_eq!(
        order,
        vec!["BootNotification", "StopTransaction", "BootNotification"]
    );
}

/// Issue 9.4: the PowerLoss stop is never earlier (time or register) than a MeterValues sample
/// already queued or delivered for the transaction. A low load changes the register rarely, so
/// samples fall between the periodic register persists.
#[test]
fn the_power_loss_stop_is_no_earlier_than_any_sample_of_its_transaction() {
    let mut sim = Sim::online(&[("MeterValueSampleInterval", "3")]);
    charging(&mut sim);
    sim.load(1.0);
    sim.advance(9_500);
    sim.power_cycle();
    sim.connect();
    sim.advance(1_000);
    let stop = sim.last("StopTransaction").unwrap();
    assert_eq!(stop["reason"], "PowerLoss");
    let stop_time = time(&stop["timestamp"]);
    let meter_stop = stop["meterStop"].as_u64().unwrap();
    let samples: Vec<_> = sim
        .tx_messages()
        .into_iter()
        .filter(|(action, _)| action == "MeterValues")
        .flat_map(|(_, p)| p["meterValue"].as_array().unwrap().clone())
        .collect();
    assert!(samples.len() >= 3, "{samples:?}");
    for mv in &samples {
        assert!(
            time(&mv["timestamp"]) <= stop_time,
            "sample at {} after the PowerLoss stop at {stop_time}",
            mv["timestamp"]
        );
        for sv in mv["sampledValue"].as_array().unwrap() {
            let wh: f64 = sv["value"].as_str().unwrap().parse().unwrap();
            let wh = if sv["unit"] == "kWh" { wh * 1000.0 } else { wh };
            assert!(
                wh <= meter_stop as f64,
                "sample {wh} Wh above meterStop {meter_stop}"
            );
        }
    }
}

/// Issue 9.2: while the shell's storage is stuck no transaction starts, a running one stops
/// drawing energy, and both come back once storage commits again.
#[test]
fn stalled_storage_pauses_energy_and_refuses_new_transactions() {
    let mut sim = Sim::online(&[]);
    charging(&mut sim);
    sim.input(charger_core::Input::StorageStalled);
    assert!(!sim.contactor(), "no energy while storage is stuck");
    sim.input(charger_core::Input::StorageOk);
    assert!(sim.contactor(), "energy again once storage is back");

    sim.card(TAG);
    sim.pilot(PilotState::A);
    sim.advance(1_000);
    let starts = sim.count("StartTransaction");
    sim.input(charger_core::Input::StorageStalled);
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.pilot(PilotState::C);
    sim.advance(1_000);
    assert_eq!(sim.count("StartTransaction"), starts, "refused while stuck");
    assert!(!sim.contactor());
}

/// A transaction message whose CALL times out while the shell's storage is stuck most likely
/// never went out (the shell holds Sends until their commit): no attempt is counted, so even
/// with TransactionMessageAttempts = 1 the stop is not dropped, and it is delivered once storage
/// and the central system are back.
#[test]
fn a_timeout_while_storage_is_stuck_is_not_a_failed_attempt() {
    let mut sim = Sim::online(&[("TransactionMessageAttempts", "1"), ("MessageTimeout", "2")]);
    charging(&mut sim);
    sim.input(charger_core::Input::StorageStalled);
    sim.csms.silent = true;
    sim.pilot(PilotState::A);
    sim.advance(10_000);
    assert!(
        sim.count("StopTransaction") >= 2,
        "timed out and sent again: {} sent, queue {}",
        sim.count("StopTransaction"),
        sim.core.status().queue_len
    );
    assert_eq!(
        sim.core.status().queue_len,
        1,
        "the stop stays queued: a timeout with storage stuck is not an attempt"
    );
    sim.csms.silent = false;
    sim.input(charger_core::Input::StorageOk);
    sim.advance(5_000);
    assert_eq!(
        sim.core.status().queue_len,
        0,
        "delivered once storage is back"
    );
}

/// Issue 9.8: only a window of the queue is in memory. A session charged offline with far more
/// messages than the window, restored windowed after a power cut, is delivered completely, in
/// order, exactly once, while the status counts the whole queue.
#[test]
fn a_queue_longer_than_the_memory_window_is_delivered_in_order_exactly_once() {
    use charger_core::queue::WINDOW;
    let mut sim = Sim::new(&[
        ("MeterValueSampleInterval", "1"),
        ("AllowOfflineTxForUnknownId", "true"),
    ]);
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.pilot(PilotState::C);
    sim.load(16.0);
    sim.advance(1_000 * (2 * WINDOW as u64 + 50));
    sim.card(TAG);
    sim.pilot(PilotState::A);
    sim.advance(200);
    let queued = sim.core.status().queue_len;
    assert!(queued > 2 * WINDOW, "{queued}");
    sim.power_cycle_windowed();
    assert_eq!(
        sim.core.status().queue_len,
        queued,
        "the status counts the whole queue"
    );
    sim.know(TAG, info("Accepted"));
    sim.connect();
    sim.advance(60_000);
    assert_eq!(sim.core.status().queue_len, 0);
    let msgs = sim.tx_messages();
    assert_eq!(msgs.len(), queued, "each message exactly once");
    assert_eq!(msgs[0].0, "StartTransaction");
    assert_eq!(msgs[queued - 1].0, "StopTransaction");
    let stamps: Vec<_> = msgs[1..queued - 1]
        .iter()
        .map(|(a, p)| {
            assert_eq!(a, "MeterValues");
            time(&p["meterValue"][0]["timestamp"])
        })
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "in order");
}

/// Issue 9.5 with the queue on disk: after a power cut the clock floor covers the whole queue,
/// not only the window the core holds in memory. With the host clock set back across the cut,
/// a new session is never stamped before the newest message still queued.
#[test]
fn after_a_power_cut_new_stamps_never_go_behind_messages_queued_beyond_the_window() {
    use charger_core::queue::WINDOW;
    let mut sim = Sim::new(&[
        ("MeterValueSampleInterval", "1"),
        ("AllowOfflineTxForUnknownId", "true"),
    ]);
    sim.charge_session(TAG, 3 * WINDOW as u64);
    let queue = |sim: &Sim| -> Vec<serde_json::Value> {
        sim.db
            .table(charger_core::Table::Queue)
            .map(|(_, v)| v["payload"].clone())
            .collect()
    };
    let before = queue(&sim);
    assert!(before.len() > 2 * WINDOW, "{}", before.len());
    let newest = time(&before.last().unwrap()["timestamp"]);
    // The host clock loses ten minutes across the cut (an RTC without its battery).
    sim.now.utc -= chrono::Duration::minutes(10);
    sim.power_cycle_windowed();
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.pilot(PilotState::C);
    sim.advance(1_000);
    let after = queue(&sim);
    assert!(after.len() > before.len(), "a new session queued");
    for p in &after[before.len()..] {
        let stamp = match p.get("meterValue") {
            Some(mv) => time(&mv[0]["timestamp"]),
            None => time(&p["timestamp"]),
        };
        assert!(
            stamp >= newest,
            "a new message ({stamp}) is not stamped before the newest queued before the cut ({newest}): {p}"
        );
    }
}
