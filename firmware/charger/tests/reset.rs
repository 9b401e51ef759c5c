//! A Reset that crosses a confirmation in flight must not make the charger report a transaction
//! twice: the confirmation that already arrived is processed before the core is rebuilt.

mod common;

use std::time::Duration;

use chargerig_link::PilotState;
use common::process::{ChargerProc, FAST_CONFIG};
use common::{board_client, calls, calls_in, rig_csms, wait_until};
use rig::csms::IdTagEntry;

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_arriving_with_a_start_transaction_conf_does_not_duplicate_the_transaction() {
    let csms = rig_csms("127.0.0.1:0").await;
    csms.script(|s| s.set_id_tag("04A1B2C3", IdTagEntry::accepted()));
    let dir = tempfile::tempdir().unwrap();
    let charger = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    wait_until(&csms, "online", Duration::from_secs(15), |h| {
        calls_in(h, "StatusNotification").len() >= 2
    })
    .await;
    // The Hard Reset goes out in the same write as the StartTransaction confirmation.
    csms.script(|s| {
        s.request_before_answer(
            "StartTransaction",
            "Reset",
            serde_json::json!({"type": "Hard"}),
        )
    });

    let board = board_client(&charger.board).await;
    board.pilot(PilotState::B).unwrap();
    board.card(Some("04A1B2C3".parse().unwrap())).unwrap();
    board.pilot(PilotState::C).unwrap();

    wait_until(
        &csms,
        "the StopTransaction after the reset",
        Duration::from_secs(20),
        |h| !calls_in(h, "StopTransaction").is_empty(),
    )
    .await;
    board
        .wait_for(Duration::from_secs(20), |v| {
            v.status.online && v.status.queue_len == 0
        })
        .await
        .expect("queue drained, online");

    let starts = calls(&csms, "StartTransaction");
    assert_eq!(
        starts.len(),
        1,
        "StartTransaction sent twice: {starts:?}\n{}",
        charger.log_text()
    );
    let stops = calls(&csms, "StopTransaction");
    assert_eq!(stops.len(), 1, "{stops:?}");
    // The id the central system gave the one StartTransaction (the first it assigns).
    assert_eq!(stops[0].payload["transactionId"], 1, "{:?}", stops[0]);
    assert_eq!(stops[0].payload["reason"], "HardReset", "{:?}", stops[0]);
}
