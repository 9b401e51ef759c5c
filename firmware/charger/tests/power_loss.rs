//! Power loss: a transaction started offline survives SIGKILL and is reported exactly once, in
//! order, with its original timestamps, once the central system is reachable.

mod common;

use std::time::Duration;

use chargerig_link::{Frame, PilotState};
use common::process::{ChargerProc, FAST_CONFIG};
use common::{board_client, calls, calls_in, rig_csms, wait_until};
use rig::csms::Direction;

#[tokio::test(flavor = "multi_thread")]
async fn an_offline_transaction_cut_by_power_loss_is_reported_once_in_order_after_restart() {
    // A port nobody listens on yet: the central system comes up only after the power cut.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("ws://127.0.0.1:{port}/ocpp");
    let config = format!("{FAST_CONFIG}AllowOfflineTxForUnknownId = \"true\"\n");
    let dir = tempfile::tempdir().unwrap();
    let mut charger = ChargerProc::start(dir.path(), &url, &config, &[]);

    let board = board_client(&charger.board).await;
    board.pilot(PilotState::B).unwrap();
    board.card(Some("04A1B2C3".parse().unwrap())).unwrap();
    board.pilot(PilotState::C).unwrap();
    board.send(Frame::Load { deci_amps: 320 }).unwrap();
    let started_at = chrono::Utc::now();
    let v = board
        .wait_for(Duration::from_secs(10), |v| {
            v.status.contactor_closed && v.status.transaction_active && !v.status.online
        })
        .await
        .expect("charging offline");
    assert!(
        v.status.queue_len >= 1,
        "StartTransaction must be queued: {v:?}"
    );
    // Let the meter run so the energy register moves (32 A at 230 V: ~2 Wh/s).
    let v = board
        .wait_for(Duration::from_secs(10), |v| v.energy_wh >= 3)
        .await
        .expect("energy grows");
    let energy_before_cut = v.energy_wh;

    charger.kill_power();
    let cut_at = chrono::Utc::now();
    charger.restore_power();
    let csms = rig_csms(&format!("127.0.0.1:{port}")).await;

    wait_until(&csms, "a StopTransaction", Duration::from_secs(30), |h| {
        !calls_in(h, "StopTransaction").is_empty()
    })
    .await;
    // Wait until the charger's queue is empty and it is online: after that nothing more may come.
    board
        .wait_for(Duration::from_secs(20), |v| {
            v.status.online && v.status.queue_len == 0 && !v.status.transaction_active
        })
        .await
        .expect("queue drained, online");

    let starts = calls(&csms, "StartTransaction");
    let stops = calls(&csms, "StopTransaction");
    assert_eq!(
        starts.len(),
        1,
        "exactly one StartTransaction: {starts:?}\n{}",
        charger.log_text()
    );
    assert_eq!(stops.len(), 1, "exactly one StopTransaction: {stops:?}");
    assert!(starts[0].seq < stops[0].seq, "Start before Stop");
    // BootNotification first on the new connection.
    let first = csms.with_history(|h| {
        h.records
            .iter()
            .find(|r| r.direction == Direction::In)
            .cloned()
    });
    assert_eq!(
        first.as_ref().and_then(|r| r.action.as_deref()),
        Some("BootNotification"),
        "{first:?}"
    );

    let start = &starts[0].payload;
    assert_eq!(start["idTag"], "04A1B2C3");
    let start_ts: chrono::DateTime<chrono::Utc> =
        start["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(
        start_ts >= started_at - chrono::Duration::seconds(1) && start_ts <= cut_at,
        "StartTransaction carries the time charging started ({start_ts}), not the time it was sent"
    );
    let stop = &stops[0].payload;
    assert_eq!(stop["reason"], "PowerLoss", "{stop}");
    assert_eq!(
        stop["transactionId"], 1,
        "the id the central system gave the late StartTransaction: {stop}"
    );
    let stop_ts: chrono::DateTime<chrono::Utc> =
        stop["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(
        stop_ts <= cut_at,
        "stopped at the last persisted reading ({stop_ts}), before the cut ({cut_at})"
    );
    let meter_start = start["meterStart"].as_i64().unwrap();
    let meter_stop = stop["meterStop"].as_i64().unwrap();
    assert!(meter_stop >= meter_start, "{meter_start} -> {meter_stop}");
    assert!(
        meter_stop >= i64::from(energy_before_cut) - 1,
        "the last persisted reading ({meter_stop} Wh) is close to what the board showed ({energy_before_cut} Wh)"
    );
}
