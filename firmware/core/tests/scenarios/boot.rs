use charger_core::PilotState;
use serde_json::json;

use crate::harness::{info, time, Sim};

#[test]
fn boot_notification_is_the_first_message_with_identity() {
    let mut sim = Sim::new(&[]);
    sim.connect();
    let first = &sim.csms.received[0];
    assert_eq!(first.action, "BootNotification");
    assert_eq!(first.payload["chargePointSerialNumber"], "SN-0001");
    assert_eq!(first.payload["chargePointVendor"], "Chargerig");
}

#[test]
fn status_notifications_for_connector_0_and_1_follow_boot_accepted() {
    let sim = Sim::online(&[]);
    assert_eq!(sim.statuses(0), vec!["Available"]);
    assert_eq!(sim.statuses(1), vec!["Available"]);
    assert!(sim.core.status().online);
}

#[test]
fn nothing_but_boot_is_sent_while_pending_and_queued_messages_wait_for_accepted() {
    let mut sim = Sim::new(&[("AllowOfflineTxForUnknownId", "true")]);
    // A transaction runs offline, so StartTransaction is queued.
    sim.pilot(PilotState::B);
    sim.card("01020304");
    assert!(sim.core.status().tx_active);
    sim.csms.boot_status = "Pending";
    sim.csms.boot_interval = 10;
    sim.connect();
    sim.advance(5_000);
    assert_eq!(sim.count("BootNotification"), 1);
    assert_eq!(
        sim.csms.received.len(),
        1,
        "only BootNotification while Pending"
    );
    // Pending: answer the central system, but refuse remote start.
    let a = sim.cs_call("RemoteStartTransaction", json!({"idTag": "X"}));
    assert_eq!(a[2]["status"], "Rejected");
    let a = sim.cs_call("GetConfiguration", json!({"key": ["HeartbeatInterval"]}));
    assert_eq!(a[2]["configurationKey"][0]["value"], "300");
    // Boot is retried after the interval; once Accepted the queue flows.
    sim.csms.boot_status = "Accepted";
    sim.advance(6_000);
    assert_eq!(sim.count("BootNotification"), 2);
    assert_eq!(sim.count("StartTransaction"), 1);
}

#[test]
fn pending_registration_sends_only_what_trigger_message_asks_for() {
    let mut sim = Sim::new(&[]);
    sim.csms.boot_status = "Pending";
    sim.csms.boot_interval = 60;
    sim.connect();
    sim.advance(1_000);
    assert_eq!(sim.count("StatusNotification"), 0);
    let a = sim.cs_call(
        "TriggerMessage",
        json!({"requestedMessage": "StatusNotification", "connectorId": 1}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    sim.advance(100);
    assert_eq!(sim.statuses(1), vec!["Available"]);
    assert_eq!(sim.count("Heartbeat"), 0);
}

#[test]
fn rejected_registration_stays_silent_until_the_interval_passes() {
    let mut sim = Sim::new(&[]);
    sim.csms.boot_status = "Rejected";
    sim.csms.boot_interval = 5;
    sim.connect();
    let a = sim.cs_call("GetConfiguration", json!({}));
    assert!(a.is_null(), "no answer while Rejected");
    sim.advance(4_000);
    assert_eq!(sim.csms.received.len(), 1);
    sim.csms.boot_status = "Accepted";
    sim.advance(1_500);
    assert_eq!(sim.count("BootNotification"), 2);
    assert!(sim.core.status().online);
}

#[test]
fn reconnect_sends_no_boot_and_only_the_current_status_if_it_changed_offline() {
    let mut sim = Sim::online(&[]);
    sim.disconnect();
    sim.connect();
    sim.advance(500);
    assert_eq!(sim.count("BootNotification"), 1);
    assert_eq!(
        sim.statuses(1),
        vec!["Available"],
        "unchanged: nothing reported"
    );
    sim.disconnect();
    sim.pilot(PilotState::B); // Preparing
    sim.pilot(PilotState::A); // Available
    sim.pilot(PilotState::B); // Preparing again
    sim.connect();
    sim.advance(500);
    assert_eq!(
        sim.statuses(1),
        vec!["Available", "Preparing"],
        "current status only, no history"
    );
}

#[test]
fn heartbeat_is_sent_after_heartbeat_interval_of_silence() {
    let mut sim = Sim::online(&[]);
    sim.csms.boot_interval = 300;
    sim.advance(299_000);
    assert_eq!(sim.count("Heartbeat"), 0);
    sim.advance(2_000);
    assert_eq!(sim.count("Heartbeat"), 1);
}

#[test]
fn boot_interval_sets_heartbeat_interval() {
    let mut sim = Sim::new(&[]);
    sim.csms.boot_interval = 42;
    sim.connect();
    assert_eq!(
        sim.core.config_value("HeartbeatInterval").as_deref(),
        Some("42")
    );
}

#[test]
fn minimum_status_duration_suppresses_short_lived_statuses() {
    let mut sim = Sim::online(&[("MinimumStatusDuration", "5")]);
    sim.pilot(PilotState::B);
    sim.advance(1_000);
    sim.pilot(PilotState::A);
    sim.advance(10_000);
    assert_eq!(
        sim.statuses(1),
        vec!["Available"],
        "Preparing lasted 1 s < 5 s"
    );
    sim.pilot(PilotState::B);
    sim.advance(6_000);
    assert_eq!(sim.statuses(1), vec!["Available", "Preparing"]);
}

#[test]
fn a_reconnect_says_hello_at_once_even_when_nothing_changed() {
    let mut sim = Sim::online(&[]);
    sim.disconnect();
    sim.advance(10_000);
    sim.connect();
    assert_eq!(sim.count("Heartbeat"), 1);
    assert_eq!(sim.count("BootNotification"), 1);
}

#[test]
fn a_sloppy_boot_confirmation_without_time_zone_still_registers() {
    let mut sim = Sim::new(&[]);
    sim.csms.silent = true;
    sim.connect();
    let boot = sim.sent.last().unwrap().clone();
    assert_eq!(boot[2], "BootNotification");
    let id = boot[1].as_str().unwrap().to_string();
    sim.csms.silent = false;
    sim.raw(
        &json!([3, id, {"status": "Accepted", "currentTime": "2026-11-23T12:00:00", "interval": 60}]).to_string(),
        "none",
    );
    assert!(sim.core.status().online);
    assert_eq!(
        sim.core.config_value("HeartbeatInterval").as_deref(),
        Some("60")
    );
}

#[test]
fn triggered_boot_notification_is_sent_and_keeps_the_registration() {
    let mut sim = Sim::online(&[]);
    let a = sim.cs_call(
        "TriggerMessage",
        json!({"requestedMessage": "BootNotification"}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    sim.advance(100);
    assert_eq!(sim.count("BootNotification"), 2);
    assert!(sim.core.status().online);
    assert_eq!(
        sim.statuses(1),
        vec!["Available"],
        "no re-report after a triggered boot"
    );
}

#[test]
fn unavailability_survives_a_power_cycle() {
    let mut sim = Sim::online(&[]);
    let a = sim.cs_call(
        "ChangeAvailability",
        json!({"connectorId": 0, "type": "Inoperative"}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    sim.power_cycle();
    sim.connect();
    sim.advance(500);
    assert_eq!(sim.core.status().connector_status.as_str(), "Unavailable");
    assert_eq!(sim.statuses(0).last().unwrap(), "Unavailable");
    sim.know("01020304", crate::harness::info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card("01020304");
    assert!(
        !sim.core.status().tx_active,
        "an unavailable connector starts nothing"
    );
    assert_eq!(sim.count("Authorize"), 0);
}

/// §5.2 / OCTT TC_034: Inoperative during a transaction is Scheduled; a power cut before the
/// transaction ends stops it (PowerLoss) and the charger boots Unavailable.
#[test]
fn a_scheduled_unavailability_survives_a_power_cut_during_the_transaction() {
    let mut sim = Sim::online(&[]);
    sim.know("01020304", crate::harness::info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card("01020304");
    sim.pilot(PilotState::C);
    sim.advance(1_000);
    assert!(sim.core.status().tx_active);
    let a = sim.cs_call(
        "ChangeAvailability",
        json!({"connectorId": 0, "type": "Inoperative"}),
    );
    assert_eq!(a[2]["status"], "Scheduled");
    assert_eq!(sim.core.status().connector_status.as_str(), "Charging");
    sim.power_cycle();
    sim.connect();
    sim.advance(1_000);
    assert_eq!(sim.core.status().connector_status.as_str(), "Unavailable");
    assert_eq!(sim.statuses(1).last().unwrap(), "Unavailable");
    let stop = sim.last("StopTransaction").expect("stopped");
    assert_eq!(stop["reason"], "PowerLoss");
}

/// §4.2 / §4.6: it is RECOMMENDED to synchronize the internal clock with the central system's
/// currentTime. A difference of more than 2 s is adopted (smaller ones are network latency);
/// every later timestamp follows it, and it survives a reboot.
#[test]
fn the_charger_adopts_the_central_systems_time() {
    let mut sim = Sim::new(&[]);
    sim.csms.clock_ahead_ms = 3_600_000;
    sim.connect();
    sim.advance(500);
    let hour = chrono::Duration::hours(1);
    let status = sim.last("StatusNotification").unwrap();
    let skew = time(&status["timestamp"]) - (sim.now.utc + hour);
    assert!(
        skew.num_seconds().abs() <= 2,
        "status stamped {}",
        status["timestamp"]
    );
    sim.know("04A1B2C3", info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card("04A1B2C3");
    sim.advance(200);
    let start = sim.last("StartTransaction").unwrap();
    let skew = time(&start["timestamp"]) - (sim.now.utc + hour);
    assert!(
        skew.num_seconds().abs() <= 2,
        "start stamped {}",
        start["timestamp"]
    );
    // After a power cut the adopted time is still used, before any new answer: a session
    // started offline (cached tag) is stamped on the adopted clock.
    sim.power_cycle();
    sim.pilot(PilotState::A);
    sim.pilot(PilotState::B);
    sim.card("04A1B2C3");
    assert!(sim.core.status().tx_active);
    let offline_start = sim.now.utc + hour;
    sim.connect();
    sim.advance(1_000);
    let starts = sim.received("StartTransaction");
    assert_eq!(starts.len(), 2);
    let skew = time(&starts[1].payload["timestamp"]) - offline_start;
    assert!(
        skew.num_seconds().abs() <= 2,
        "offline start stamped {}",
        starts[1].payload["timestamp"]
    );
}

/// Latency-sized differences are not adopted: the timestamps stay on the host clock.
#[test]
fn a_central_system_clock_within_two_seconds_is_not_adopted() {
    let mut sim = Sim::new(&[]);
    sim.csms.clock_ahead_ms = 1_500;
    sim.connect();
    sim.advance(500);
    let status = sim.last("StatusNotification").unwrap();
    assert!(
        time(&status["timestamp"]) <= sim.now.utc,
        "{}",
        status["timestamp"]
    );
}

/// Errata v4 3.19 (§4.9): a status change SHALL be reported, MinimumStatusDuration being the
/// only filter. A status that holds while another CALL is outstanding is reported after it, in
/// order and with its own timestamp, not folded into the status that follows.
#[test]
fn statuses_that_hold_while_another_call_is_outstanding_are_each_reported_in_order() {
    // The Authorize is held for 4 s on purpose: AuthorizeTimeout 0 leaves it to MessageTimeout.
    let mut sim = Sim::online(&[("AuthorizeTimeout", "0")]);
    sim.know("04A1B2C3", info("Accepted"));
    sim.csms.silent = true;
    sim.pilot(PilotState::B);
    let status = sim.sent.last().unwrap().clone();
    assert_eq!(status[2], "StatusNotification", "Preparing in flight");
    sim.raw(&json!([3, status[1], {}]).to_string(), "-");
    sim.card("04A1B2C3"); // Authorize in flight, unanswered for now
    let auth = sim.sent.last().unwrap().clone();
    assert_eq!(auth[2], "Authorize");
    sim.advance(2_000);
    sim.pilot(PilotState::A); // Available while the Authorize is out
    let available_at = sim.now.utc;
    sim.advance(2_000);
    sim.pilot(PilotState::B); // Preparing again
    sim.csms.silent = false;
    sim.raw(
        &json!([3, auth[1], {"idTagInfo": {"status": "Accepted"}}]).to_string(),
        "-",
    );
    sim.advance(500);
    assert_eq!(
        sim.statuses(1),
        vec![
            "Available",
            "Preparing",
            "Available",
            "Preparing",
            "SuspendedEV"
        ]
    );
    let reports = sim.received("StatusNotification");
    let available = reports
        .iter()
        .filter(|r| r.payload["connectorId"] == 1)
        .nth(2)
        .unwrap();
    assert_eq!(time(&available.payload["timestamp"]), available_at);
}

/// A central system that stops answering cannot make status reports pile up without bound: past
/// a few waiting reports the newest is updated in place, so the current status still comes last.
#[test]
fn status_reports_waiting_behind_a_stuck_call_are_bounded_and_end_with_the_current_status() {
    let mut sim = Sim::online(&[("MessageTimeout", "600")]);
    sim.csms.silent = true;
    sim.pilot(PilotState::B);
    let first = sim.sent.last().unwrap().clone();
    for i in 0..40 {
        sim.advance(100);
        sim.pilot(if i % 2 == 0 {
            PilotState::A
        } else {
            PilotState::B
        });
    }
    sim.pilot(PilotState::C);
    sim.csms.silent = false;
    sim.raw(&json!([3, first[1], {}]).to_string(), "-");
    sim.advance(500);
    let statuses = sim.statuses(1);
    assert!(statuses.len() <= 2 + 16, "{} reports", statuses.len());
    assert!(statuses.len() >= 10, "not collapsed to one: {statuses:?}");
    assert_eq!(statuses.last().unwrap(), "Preparing");
}

/// A central-system clock behind ours, adopted in the middle of a transaction, never makes the
/// transaction end before it started.
#[test]
fn a_clock_set_back_mid_transaction_never_stops_before_the_start() {
    let mut sim = Sim::online(&[]);
    sim.know("04A1B2C3", info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card("04A1B2C3");
    sim.pilot(PilotState::C);
    sim.advance(1_000);
    sim.csms.clock_ahead_ms = -60_000;
    // A Heartbeat.conf brings the clock back a minute.
    sim.cs_call("TriggerMessage", json!({"requestedMessage": "Heartbeat"}));
    sim.advance(1_000);
    assert_eq!(sim.count("Heartbeat"), 1);
    sim.card("04A1B2C3");
    sim.advance(200);
    let start = sim.last("StartTransaction").unwrap();
    let stop = sim.last("StopTransaction").unwrap();
    assert!(
        time(&stop["timestamp"]) >= time(&start["timestamp"]),
        "start {} stop {}",
        start["timestamp"],
        stop["timestamp"]
    );
}

/// Issue 9.7: a BootNotification that timed out is retried after 1 s, then 2, 4, 8 … up to 30 s,
/// not 30 s after every timeout.
#[test]
fn a_boot_notification_that_timed_out_is_retried_sooner_with_back_off() {
    let mut sim = Sim::new(&[("MessageTimeout", "5")]);
    sim.csms.silent = true;
    sim.connect();
    sim.advance(120_000);
    let at: Vec<u64> = sim
        .received("BootNotification")
        .iter()
        .map(|r| r.at_ms)
        .collect();
    let gaps: Vec<u64> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        &gaps[..6],
        &[6_000, 7_000, 9_000, 13_000, 21_000, 35_000],
        "MessageTimeout 5 s + back-off 1, 2, 4, 8, 16, 30 s: {at:?}"
    );
    // An answer ends the back-off: the next failure waits 1 s again.
    sim.csms.silent = false;
    sim.advance(40_000);
    assert!(sim.core.status().online);
}

/// The timestamp of the newest connector-1 StatusNotification with `status`.
fn stamped(sim: &Sim, status: &str) -> chrono::DateTime<chrono::Utc> {
    let r = sim
        .received("StatusNotification")
        .into_iter()
        .rfind(|r| r.payload["connectorId"] == 1 && r.payload["status"] == status)
        .unwrap_or_else(|| panic!("{status} reported"));
    time(&r.payload["timestamp"])
}

/// Issue 9.5: with 3 s one-way latency, a BootNotification's or Heartbeat's currentTime is 3 s
/// old on arrival; the clock must not step back by it (a 6 s round trip is too slow to set
/// the clock by). A status is stamped with the moment it began, on the host clock.
#[test]
fn network_latency_does_not_move_the_clock() {
    let mut sim = Sim::new(&[]);
    sim.csms.latency_ms = 3_000;
    sim.connect();
    sim.advance(20_000);
    assert!(sim.core.status().online);
    let plugged = sim.now.utc;
    sim.pilot(PilotState::B);
    sim.advance(8_000);
    assert_eq!(stamped(&sim, "Preparing"), plugged);
    sim.cs_call("TriggerMessage", json!({"requestedMessage": "Heartbeat"}));
    sim.advance(8_000);
    assert_eq!(sim.count("Heartbeat"), 1);
    let unplugged = sim.now.utc;
    sim.pilot(PilotState::A);
    sim.advance(8_000);
    assert_eq!(stamped(&sim, "Available"), unplugged);
}

/// Issue 9.5: with a round trip short enough to trust (1.5 s one-way), the central system's
/// time is corrected by half the round trip: adopting a clock 1 h ahead lands on it, not
/// 1.5 s behind it.
#[test]
fn a_central_clock_is_adopted_corrected_by_half_the_round_trip() {
    let mut sim = Sim::new(&[]);
    sim.csms.latency_ms = 1_500;
    sim.csms.clock_ahead_ms = 3_600_000;
    sim.connect();
    sim.advance(5_000);
    let plugged = sim.now.utc;
    sim.pilot(PilotState::B);
    sim.advance(5_000);
    let skew = (stamped(&sim, "Preparing") - plugged).num_milliseconds() - 3_600_000;
    assert!(
        skew.abs() <= 100,
        "{skew} ms off the central system's clock"
    );
}

/// Issue 9.5: a clock stepped back mid-transaction never makes a queued timestamp go back:
/// every transaction message is stamped no earlier than the one queued before it.
#[test]
fn queued_timestamps_never_go_backwards_after_a_clock_step_back() {
    let mut sim = Sim::online(&[("MeterValueSampleInterval", "1")]);
    sim.know("04A1B2C3", info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card("04A1B2C3");
    sim.pilot(PilotState::C);
    sim.load(16.0);
    sim.advance(5_000);
    sim.csms.clock_ahead_ms = -30_000;
    sim.cs_call("TriggerMessage", json!({"requestedMessage": "Heartbeat"}));
    sim.advance(10_000);
    sim.power_cycle();
    sim.connect();
    sim.advance(5_000);
    let mut stamps = Vec::new();
    for (action, p) in sim.tx_messages() {
        if let Some(t) = p.get("timestamp") {
            stamps.push((action.clone(), time(t)));
        }
        for mv in p["meterValue"].as_array().into_iter().flatten() {
            stamps.push((action.clone(), time(&mv["timestamp"])));
        }
    }
    assert!(stamps.len() > 10, "{stamps:?}");
    for w in stamps.windows(2) {
        assert!(
            w[1].1 >= w[0].1,
            "{} {} after {} {}",
            w[1].0,
            w[1].1,
            w[0].0,
            w[0].1
        );
    }
}
