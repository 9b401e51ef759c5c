//! The proxy gate between a real simulated charger and the test central system: a silent cut
//! is noticed by the charger on its own (ping/pong), a refusal at once, and restoring brings
//! it back online. Uses the sim profile's charger overrides.

use rig::charger_process::{ChargerProcess, ChargerProcessOptions};
use rig::csms::Csms;
use rig::gate::{GateState, NetworkGate, ProxyGate};
use rig::link::{BoardClient, BoardClientOptions};
use rig::profile::Profile;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn cut_refuse_restore_as_the_charger_sees_them() {
    let dir = std::env::temp_dir().join(format!("rig-gate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let profile = Profile::sim_default();
    let csms = Csms::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gate = ProxyGate::start("127.0.0.1:0".parse().unwrap(), csms.addr())
        .await
        .unwrap();
    let mut config = toml::Table::new();
    profile.apply_charger_config(&mut config);
    let config_path = dir.join("charger.toml");
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();

    let mut o = ChargerProcessOptions::in_dir(
        &dir,
        profile.charger_url_for(gate.local_addr(), csms.addr()),
    );
    o.config = Some(config_path);
    let board = ChargerProcess::start(o).await.expect("board starts");
    let client = BoardClient::connect(
        board.link_spec(),
        BoardClientOptions::default(),
        Duration::from_secs(15),
    )
    .await
    .expect("link");

    let online = |want: bool| move |v: &rig::link::BoardView| v.status.online == want;
    client
        .wait_for(Duration::from_secs(20), online(true))
        .await
        .expect("online through the gate");

    // Silent cut: no FIN, no RST; the charger must notice by itself (ping 2 s + pong 5 s).
    let t = Instant::now();
    gate.cut().await.unwrap();
    assert_eq!(gate.state(), GateState::Cut);
    client
        .wait_for(Duration::from_secs(15), online(false))
        .await
        .expect("the charger notices the silent cut within 15 s");
    let noticed = t.elapsed();
    assert!(
        noticed >= Duration::from_secs(1),
        "noticed a silent cut too fast ({noticed:?}): was it really silent?"
    );
    gate.restore().await.unwrap();
    client
        .wait_for(Duration::from_secs(20), online(true))
        .await
        .expect("back online after restore");

    // Refusal: open connections are reset, so the charger knows at once.
    let t = Instant::now();
    gate.refuse().await.unwrap();
    client
        .wait_for(Duration::from_secs(5), online(false))
        .await
        .expect("offline right after the reset");
    let reset_noticed = t.elapsed();
    gate.restore().await.unwrap();
    client
        .wait_for(Duration::from_secs(20), online(true))
        .await
        .expect("back online after refusal ends");
    eprintln!("silent cut noticed after {noticed:?}, reset after {reset_noticed:?}");

    let kinds: Vec<String> = gate
        .timeline()
        .into_iter()
        .map(|r| r.kind)
        .filter(|k| k != "connection")
        .collect();
    assert_eq!(kinds, ["cut", "restore", "refuse", "restore"]);
    drop(client);
    drop(board);
    let _ = std::fs::remove_dir_all(&dir);
}
