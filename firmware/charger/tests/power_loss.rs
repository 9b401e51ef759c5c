//! Power loss: a transaction started offline survives SIGKILL and is reported exactly once, in
//! order, with its original timestamps, once the central system is reachable.

mod common;

use std::time::Duration;

use chargerig_link::{Frame, PilotState};
use common::board::Board;
use common::csms::Csms;
use common::process::{ChargerProc, FAST_CONFIG};

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

    let board_path = charger.board.clone();
    let (energy_before_cut, started_at) = tokio::task::spawn_blocking(move || {
        let mut b = Board::open(&board_path);
        b.send(Frame::Pilot(PilotState::B));
        b.send(Frame::Card(Some("04A1B2C3".parse().unwrap())));
        b.send(Frame::Pilot(PilotState::C));
        b.send(Frame::Load { deci_amps: 320 });
        let started_at = chrono::Utc::now();
        let s = b.wait_status("charging offline", Duration::from_secs(10), |s| {
            s.contactor_closed && s.transaction_active && !s.online
        });
        assert!(s.queue_len >= 1, "StartTransaction must be queued: {s:?}");
        // Let the meter run so the energy register moves (32 A at 230 V: ~2 Wh/s).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while b.seen.energy_wh < 3 {
            assert!(
                std::time::Instant::now() < deadline,
                "energy does not grow: {:?}",
                b.seen
            );
            b.pump(Duration::from_millis(100));
        }
        (b.seen.energy_wh, started_at)
    })
    .await
    .unwrap();

    charger.kill_power();
    let cut_at = chrono::Utc::now();
    charger.restore_power();
    let csms = Csms::start(&format!("127.0.0.1:{port}")).await;

    csms.wait_until("a StopTransaction", Duration::from_secs(30), |c| {
        !c.calls("StopTransaction").is_empty()
    })
    .await;
    // Wait until the charger's queue is empty and it is online: after that nothing more may come.
    let board_path = charger.board.clone();
    tokio::task::spawn_blocking(move || {
        let mut b = Board::open(&board_path);
        b.wait_status("queue drained, online", Duration::from_secs(20), |s| {
            s.online && s.queue_len == 0 && !s.transaction_active
        });
    })
    .await
    .unwrap();

    let starts = csms.calls("StartTransaction");
    let stops = csms.calls("StopTransaction");
    assert_eq!(
        starts.len(),
        1,
        "exactly one StartTransaction: {starts:?}\n{}",
        charger.log_text()
    );
    assert_eq!(stops.len(), 1, "exactly one StopTransaction: {stops:?}");
    let received = csms.received();
    let pos = |action: &str| {
        received
            .iter()
            .position(|r| r.action() == Some(action))
            .unwrap()
    };
    assert!(
        pos("StartTransaction") < pos("StopTransaction"),
        "Start before Stop"
    );
    // BootNotification first on the new connection.
    assert_eq!(
        received[0].action(),
        Some("BootNotification"),
        "{:?}",
        received[0]
    );

    let start = starts[0].payload();
    assert_eq!(start["idTag"], "04A1B2C3");
    let start_ts: chrono::DateTime<chrono::Utc> =
        start["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(
        start_ts >= started_at - chrono::Duration::seconds(1) && start_ts <= cut_at,
        "StartTransaction carries the time charging started ({start_ts}), not the time it was sent"
    );
    let stop = stops[0].payload();
    assert_eq!(stop["reason"], "PowerLoss", "{stop}");
    assert_eq!(
        stop["transactionId"], 100,
        "the id the CSMS gave the late StartTransaction: {stop}"
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
