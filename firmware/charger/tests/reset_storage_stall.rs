//! A Reset while storage is stuck never stops the control loop (field.md "Safety and robustness
//! under faults"): the reset's contactor opening and an EV unplug are carried out at once, board
//! status keeps coming, also while the reset's own reload of the store is what is stuck; once
//! storage is back the reset completes and the central system hears the stop exactly once. A
//! stop held for storage longer than MessageTimeout is likewise heard once, and not dropped.
//! Storage is stuck with the charger's stall hook (feature `fault-injection`). The delay itself
//! is a figure for the bench; the bound here is generous on purpose.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chargerig_link::{EventKind, Frame, PilotState};
use common::process::ChargerProc;
use common::{board_client, calls, calls_in, rig_csms, wait_until};
use rig::csms::{Answer, Csms, IdTagEntry};
use rig::link::{BoardClient, Direction};

/// Fast reconnects, and a MessageTimeout longer than storage is stuck here: the core waits for
/// the StopTransaction.conf instead of giving up on a CALL that never went out.
const CONFIG: &str = r#"
[csms]
reconnect_min_ms = 100
reconnect_max_ms = 400
pong_timeout_s = 2

[configuration]
MessageTimeout = "30"
TransactionMessageRetryInterval = "1"
"#;

/// Far above the 100 ms goal (the figure is printed), far below "never".
const GENEROUS_MS: i64 = 1000;

const TAG: &str = "04A1B2C3";

/// Writes the stall hook's file in one step (`""`: every job waits; `"reboot"`: only a reload).
fn set_stall(file: &Path, what: &str) {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, what).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

/// Board STATUS frames received within `window` while asking for one every 100 ms.
async fn statuses_within(board: &BoardClient, window: Duration) -> usize {
    let statuses = || {
        board
            .frames()
            .iter()
            .filter(|r| r.direction == Direction::In && matches!(r.frame, Some(Frame::Status(_))))
            .count()
    };
    let before = statuses();
    let until = tokio::time::Instant::now() + window;
    while tokio::time::Instant::now() < until {
        board.request_status().unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    statuses() - before
}

/// The StopTransaction the central system heard: exactly one, for transaction 1.
fn one_stop_of_transaction_1(csms: &Csms, charger: &ChargerProc) -> Vec<rig::csms::Record> {
    let stops = calls(csms, "StopTransaction");
    assert_eq!(
        stops.len(),
        1,
        "the StopTransaction exactly once: {stops:?}\n{}",
        charger.log_text()
    );
    assert_eq!(stops[0].payload["transactionId"], 1, "{:?}", stops[0]);
    stops
}

fn boots(csms: &Csms) -> usize {
    calls(csms, "BootNotification").len()
}

/// A charger on `csms` with the stall hook armed on `dir/stall`, charging at 32 A with its
/// StartTransaction confirmed.
async fn charging(csms: &Csms, dir: &Path) -> (ChargerProc, BoardClient) {
    charging_with(csms, dir, CONFIG).await
}

/// [`charging`] with another configuration.
async fn charging_with(csms: &Csms, dir: &Path, config: &str) -> (ChargerProc, BoardClient) {
    csms.script(|s| s.set_id_tag(TAG, IdTagEntry::accepted()));
    let stall_env = dir.join("stall").display().to_string();
    let charger = ChargerProc::start_with(
        dir,
        None,
        &csms.url(),
        config,
        &[],
        &[("CHARGER_STORAGE_STALL_FILE", &stall_env)],
    );
    wait_until(csms, "online", Duration::from_secs(15), |h| {
        calls_in(h, "StatusNotification").len() >= 2
    })
    .await;
    let board = board_client(&charger.board).await;
    board.pilot(PilotState::B).unwrap();
    board.card(Some(TAG.parse().unwrap())).unwrap();
    board.pilot(PilotState::C).unwrap();
    board.load(32.0).unwrap();
    board
        .wait_for(Duration::from_secs(15), |v| {
            v.status.contactor_closed && v.status.transaction_active && v.status.queue_len == 0
        })
        .await
        .expect("charging, StartTransaction confirmed");
    (charger, board)
}

/// Sends Reset.req of `kind` ("Hard", "Soft") without waiting for its answer.
fn send_reset(
    csms: &Arc<Csms>,
    kind: &'static str,
) -> tokio::task::JoinHandle<Result<Answer, rig::csms::CallFailed>> {
    let csms = csms.clone();
    tokio::spawn(async move {
        csms.call(
            "Reset",
            serde_json::json!({ "type": kind }),
            Duration::from_secs(30),
        )
        .await
    })
}

async fn reset_with_storage_stuck(hard: bool) {
    let kind = if hard { "Hard" } else { "Soft" };
    let csms = Arc::new(rig_csms("127.0.0.1:0").await);
    let dir = tempfile::tempdir().unwrap();
    let stall = dir.path().join("stall");
    let (charger, board) = charging(&csms, dir.path()).await;
    let mark = board.boot_mark();

    // Storage stuck: after a second at 32 A a meter commit is outstanding.
    set_stall(&stall, "");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let events_before = board.events().len();
    let reset = send_reset(&csms, kind);
    // The Reset first, then the unplug: the other way round the transaction ends as
    // EVDisconnected before the reset, which then has no stop of its own to deliver first.
    tokio::task::block_in_place(|| {
        charger.wait_log("the Reset.req received", Duration::from_secs(10), |log| {
            log.contains("reset requested")
        })
    });
    board.pilot(PilotState::A).unwrap();

    // The reset's stop and the unplug open the contactor: on the board's clock, at most the
    // safe-output wait after the unplug (or before it).
    board
        .wait_for(Duration::from_secs(5), |v| !v.status.contactor_closed)
        .await
        .unwrap_or_else(|e| panic!("contactor still closed: {e:?}\n{}", charger.log_text()));
    let events: Vec<_> = board.events()[events_before..]
        .iter()
        .map(|r| r.event)
        .collect();
    let unplug = events
        .iter()
        .find(|e| e.kind == EventKind::PilotChange && e.arg == u16::from(PilotState::A.to_wire()))
        .unwrap_or_else(|| panic!("no PilotChange(A): {events:?}"));
    let opened = events
        .iter()
        .find(|e| e.kind == EventKind::ContactorOpened)
        .unwrap_or_else(|| panic!("no ContactorOpened: {events:?}"));
    let delay_ms = i64::from(opened.board_ms) - i64::from(unplug.board_ms);
    eprintln!(
        "{kind} reset, storage stuck: contactor opened {delay_ms} ms after C→A (board clock)"
    );
    assert!(
        delay_ms <= GENEROUS_MS,
        "contactor opened {delay_ms} ms after C→A with storage stuck during a reset\n{}",
        charger.log_text()
    );
    let n = statuses_within(&board, Duration::from_millis(1500)).await;
    assert!(
        n >= 10,
        "board status must keep coming while storage is stuck: {n} in 1.5 s\n{}",
        charger.log_text()
    );

    // Commits go through now, but the reset's reload of the store is stuck: the stop goes out,
    // the board is still served.
    set_stall(&stall, "reboot");
    common::poll_async(
        "the reset's StopTransaction",
        Duration::from_secs(10),
        || async {
            if calls(&csms, "StopTransaction").is_empty() {
                Err(format!(
                    "central system:\n{}\ncharger log:\n{}",
                    csms.with_history(|h| h
                        .records
                        .iter()
                        .map(rig::csms::Record::summary)
                        .collect::<Vec<_>>()
                        .join("\n")),
                    charger.log_text()
                ))
            } else {
                Ok(())
            }
        },
    )
    .await;
    let n = statuses_within(&board, Duration::from_millis(1500)).await;
    assert!(
        n >= 10,
        "board status must keep coming while the reset's reload is stuck: {n} in 1.5 s\n{}",
        charger.log_text()
    );
    assert_eq!(
        boots(&csms),
        1,
        "the reset cannot complete before its reload"
    );

    // Storage back: the reset completes.
    std::fs::remove_file(&stall).unwrap();
    board
        .wait_rebooted(mark, Duration::from_secs(15))
        .await
        .unwrap_or_else(|e| panic!("the board did not reboot: {e}\n{}", charger.log_text()));
    wait_until(
        &csms,
        "the BootNotification after the reset",
        Duration::from_secs(15),
        |h| calls_in(h, "BootNotification").len() >= 2,
    )
    .await;
    board
        .wait_for(Duration::from_secs(15), |v| {
            v.status.online && v.status.queue_len == 0 && !v.status.transaction_active
        })
        .await
        .expect("online after the reset, queue drained");

    match reset.await.unwrap() {
        Ok(Answer::Result(v)) => assert_eq!(v["status"], "Accepted", "{v}"),
        other => panic!("Reset.req not answered: {other:?}"),
    }
    let starts = calls(&csms, "StartTransaction");
    assert_eq!(starts.len(), 1, "{starts:?}");
    let stops = one_stop_of_transaction_1(&csms, &charger);
    assert_eq!(
        stops[0].payload["reason"],
        format!("{kind}Reset"),
        "{:?}",
        stops[0]
    );
    assert_eq!(boots(&csms), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hard_reset_with_storage_stuck_keeps_the_board_served_and_stops_once() {
    reset_with_storage_stuck(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soft_reset_with_storage_stuck_keeps_the_board_served_and_stops_once() {
    reset_with_storage_stuck(false).await;
}

/// The race "power cut right after the reset's stop was queued": with storage stuck the stop
/// is not durable yet and nothing of it went out (Reset.conf and StopTransaction wait for its
/// commit); after the power comes back the transaction is stopped once, not lost, not twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_power_cut_during_a_reset_with_storage_stuck_stops_the_transaction_once() {
    let csms = Arc::new(rig_csms("127.0.0.1:0").await);
    let dir = tempfile::tempdir().unwrap();
    let stall = dir.path().join("stall");
    let (mut charger, board) = charging(&csms, dir.path()).await;
    set_stall(&stall, "");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _reset = send_reset(&csms, "Hard");
    board
        .wait_for(Duration::from_secs(5), |v| !v.status.contactor_closed)
        .await
        .unwrap_or_else(|e| panic!("contactor still closed: {e:?}\n{}", charger.log_text()));
    assert!(
        calls(&csms, "StopTransaction").is_empty(),
        "nothing of the stop goes out before it is durable"
    );
    tokio::task::block_in_place(|| charger.kill_power());
    std::fs::remove_file(&stall).unwrap();
    tokio::task::block_in_place(|| charger.restore_power());
    wait_until(
        &csms,
        "the BootNotification after the power cut",
        Duration::from_secs(15),
        |h| calls_in(h, "BootNotification").len() >= 2,
    )
    .await;
    wait_until(&csms, "the StopTransaction", Duration::from_secs(15), |h| {
        !calls_in(h, "StopTransaction").is_empty()
    })
    .await;
    board
        .wait_for(Duration::from_secs(15), |v| {
            v.status.online && v.status.queue_len == 0 && !v.status.transaction_active
        })
        .await
        .expect("online after the power cut, queue drained");
    one_stop_of_transaction_1(&csms, &charger);
}

/// A StopTransaction held for its commit longer than MessageTimeout: the core gave up on that
/// CALL and sends the stop again, so the held copy must not go out too; and the timeouts while
/// storage is stuck are not failed attempts, so even with TransactionMessageAttempts = 1 the
/// stop is not dropped. The central system hears it exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn a_stop_held_past_message_timeout_is_heard_once() {
    let csms = Arc::new(rig_csms("127.0.0.1:0").await);
    let dir = tempfile::tempdir().unwrap();
    let stall = dir.path().join("stall");
    let config = CONFIG.replace("MessageTimeout = \"30\"", "MessageTimeout = \"3\"")
        + "TransactionMessageAttempts = \"1\"\n";
    let (charger, board) = charging_with(&csms, dir.path(), &config).await;
    set_stall(&stall, "");
    board.pilot(PilotState::A).unwrap();
    board
        .wait_for(Duration::from_secs(5), |v| !v.status.contactor_closed)
        .await
        .unwrap_or_else(|e| panic!("contactor still closed: {e:?}\n{}", charger.log_text()));
    // Two timeouts of the held stop: two stale copies wait behind the stuck commit.
    tokio::task::block_in_place(|| {
        charger.wait_log("two timed-out requests", Duration::from_secs(20), |log| {
            log.matches("request timed out").count() >= 2
        })
    });
    assert!(
        calls(&csms, "StopTransaction").is_empty(),
        "nothing of the stop goes out before it is durable"
    );
    std::fs::remove_file(&stall).unwrap();
    board
        .wait_for(Duration::from_secs(20), |v| {
            v.status.online && v.status.queue_len == 0 && !v.status.transaction_active
        })
        .await
        .unwrap_or_else(|e| panic!("stop not delivered: {e:?}\n{}", charger.log_text()));
    // Frames arrive in order on the one connection: once a Heartbeat asked for now is in, any
    // stale copy sent before it would be too.
    let asked = csms
        .call(
            "TriggerMessage",
            serde_json::json!({ "requestedMessage": "Heartbeat" }),
            Duration::from_secs(10),
        )
        .await;
    assert!(matches!(asked, Ok(Answer::Result(_))), "{asked:?}");
    wait_until(
        &csms,
        "the triggered Heartbeat",
        Duration::from_secs(10),
        |h| !calls_in(h, "Heartbeat").is_empty(),
    )
    .await;
    one_stop_of_transaction_1(&csms, &charger);
    assert!(
        charger
            .log_text()
            .contains("not sent (the charger sends it again)"),
        "the stale copies were dropped by the shell\n{}",
        charger.log_text()
    );
}
