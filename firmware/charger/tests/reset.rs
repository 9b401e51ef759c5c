//! A Reset that crosses a confirmation in flight must not make the charger report a transaction
//! twice: the confirmation that already arrived is processed before the core is rebuilt.

mod common;

use std::time::Duration;

use chargerig_link::{Frame, PilotState};
use common::board::Board;
use common::csms::Csms;
use common::process::{ChargerProc, FAST_CONFIG};

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_arriving_with_a_start_transaction_conf_does_not_duplicate_the_transaction() {
    let csms = Csms::start("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let charger = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    csms.wait_until("online", Duration::from_secs(15), |c| {
        c.calls("StatusNotification").len() >= 2
    })
    .await;
    csms.reset_before_next_start_conf();

    let board_path = charger.board.clone();
    tokio::task::spawn_blocking(move || {
        let mut b = Board::open(&board_path);
        b.send(Frame::Pilot(PilotState::B));
        b.send(Frame::Card(Some("04A1B2C3".parse().unwrap())));
        b.send(Frame::Pilot(PilotState::C));
    })
    .await
    .unwrap();

    csms.wait_until(
        "the StopTransaction after the reset",
        Duration::from_secs(20),
        |c| !c.calls("StopTransaction").is_empty(),
    )
    .await;
    let board_path = charger.board.clone();
    tokio::task::spawn_blocking(move || {
        let mut b = Board::open(&board_path);
        b.wait_status("queue drained, online", Duration::from_secs(20), |s| {
            s.online && s.queue_len == 0
        });
    })
    .await
    .unwrap();

    let starts = csms.calls("StartTransaction");
    assert_eq!(
        starts.len(),
        1,
        "StartTransaction sent twice: {starts:?}\n{}",
        charger.log_text()
    );
    let stops = csms.calls("StopTransaction");
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert_eq!(
        stops[0].payload()["transactionId"],
        100,
        "{}",
        stops[0].frame
    );
    assert_eq!(
        stops[0].payload()["reason"],
        "HardReset",
        "{}",
        stops[0].frame
    );
}
