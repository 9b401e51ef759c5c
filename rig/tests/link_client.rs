//! `BoardClient` with a real simulated board: status and events, power cut and restore with
//! reconnect, the pilot state re-presented to the rebooted board, and the candump log.

use chargerig_link::candump::read_log;
use chargerig_link::{EventKind, Frame, PilotState};
use rig::charger_process::{ChargerProcess, ChargerProcessOptions};
use rig::link::{BoardClient, BoardClientOptions};
use rig::power::{PowerSwitch, SimPower};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn client_survives_a_power_cut_and_records_everything() {
    let dir = std::env::temp_dir().join(format!("rig-client-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = ChargerProcessOptions::in_dir(&dir, "ws://127.0.0.1:9/ocpp");
    let board = ChargerProcess::start(o).await.expect("board starts");
    let spec = board.link_spec();
    let candump = dir.join("board.log");
    let client = BoardClient::connect(
        spec,
        BoardClientOptions {
            candump: Some(candump.clone()),
            ..Default::default()
        },
        WAIT,
    )
    .await
    .expect("connects");
    assert_eq!(client.connection(), 1);

    client.pilot(PilotState::B).unwrap();
    let v = client
        .wait_for(WAIT, |v| v.status.pilot == PilotState::B)
        .await
        .expect("pilot B shows");
    assert!(!v.status.contactor_closed);
    // The board reports the pilot change as an event on its own clock.
    let deadline = Instant::now() + WAIT;
    while !client
        .events()
        .iter()
        .any(|e| e.event.kind == EventKind::PilotChange)
    {
        assert!(
            Instant::now() < deadline,
            "no PilotChange event: {:?}",
            client.events()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let boot_before = client.identity().map(|i| i.boot_count);

    let board = Arc::new(tokio::sync::Mutex::new(board));
    let power = SimPower::new(board.clone());
    power.off().await.unwrap();
    let deadline = Instant::now() + WAIT;
    while client.is_connected() {
        assert!(
            Instant::now() < deadline,
            "the client did not notice the power cut"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    power.on().await.unwrap();
    // Reconnected to the new boot, which was shown the EV that stayed plugged in.
    let v = client
        .wait_for(WAIT, |v| {
            v.connection >= 2 && v.status.pilot == PilotState::B
        })
        .await
        .expect("reconnects and re-presents pilot B");
    assert_eq!(v.connection, 2);
    let deadline = Instant::now() + WAIT;
    loop {
        let now = client.identity().map(|i| i.boot_count);
        if now.is_some() && now != boot_before {
            assert!(
                now > boot_before,
                "boot count went from {boot_before:?} to {now:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "boot count did not change: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // holds_for fails as soon as the condition breaks, passes when it holds.
    client
        .holds_for(Duration::from_millis(300), |v| !v.status.contactor_closed)
        .await
        .expect("contactor stays open");
    let err = client
        .wait_for(Duration::from_millis(200), |v| {
            v.status.pilot == PilotState::F
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"pilot\":\"B\""), "{err}");

    let history = client.history();
    assert!(history.iter().any(|r| r.view.status.pilot == PilotState::A));
    assert!(history.iter().any(|r| r.view.connection == 2));
    let frames = client.frames();
    assert!(frames
        .iter()
        .any(|f| f.frame == Some(Frame::Pilot(PilotState::B))));
    let stats = client.stats();
    assert_eq!(stats.rejected(), 0, "{stats:?}");
    assert!(stats.frames_in > 0 && stats.frames_out >= 3, "{stats:?}");

    let frames = client.close();
    let log = read_log(std::fs::read(&candump).unwrap().as_slice()).expect("candump -L log parses");
    assert_eq!(log.len(), frames.len(), "every frame is in the log");
    assert!(log
        .iter()
        .any(|r| r.frame == Frame::Pilot(PilotState::B).encode()));
    drop(board);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A power cycle quicker than the client notices: waiting for the new boot must not accept
/// the old boot's last status, which is still the latest one right after power returns.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_quick_power_cycle_the_wait_sees_only_the_new_boot() {
    let dir = std::env::temp_dir().join(format!("rig-client-reboot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = ChargerProcessOptions::in_dir(&dir, "ws://127.0.0.1:9/ocpp");
    let board = ChargerProcess::start(o).await.expect("board starts");
    let client = BoardClient::connect(board.link_spec(), BoardClientOptions::default(), WAIT)
        .await
        .expect("connects");
    let deadline = Instant::now() + WAIT;
    while client.identity().is_none() {
        assert!(Instant::now() < deadline, "no identity frame");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mark = client.boot_mark();
    assert_eq!(mark.connection, 1);
    let board = Arc::new(tokio::sync::Mutex::new(board));
    let power = SimPower::new(board.clone());
    power.off().await.unwrap();
    power.on().await.unwrap();
    let v = client
        .wait_rebooted(mark, WAIT)
        .await
        .expect("the new boot");
    assert!(v.connection > mark.connection, "{v:?} vs {mark:?}");
    // Nothing newer happens now: a wait for a boot after the current one times out.
    let now = client.boot_mark();
    let e = client
        .wait_rebooted(now, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not connected within"), "{e}");
    client.close();
    drop(board);
    let _ = std::fs::remove_dir_all(&dir);
}
