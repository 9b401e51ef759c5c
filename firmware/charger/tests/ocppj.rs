//! The OCPP-J connection against a test central system: boot, protocol errors, size limits,
//! subprotocol, silent links. The real binary on a temp data dir.

mod common;

use std::time::Duration;

use common::csms::Csms;
use common::process::{ChargerProc, FAST_CONFIG};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

async fn booted(csms: &Csms) {
    csms.wait_until("BootNotification", WAIT, |c| {
        !c.calls("BootNotification").is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn boots_with_its_serial_number_at_the_url_with_the_charge_point_id() {
    let csms = Csms::start("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(
        dir.path(),
        &csms.url(),
        FAST_CONFIG,
        &["--serial-number", "SN-TEST-7"],
    );
    booted(&csms).await;
    assert_eq!(csms.paths()[0], "/ocpp/SN-TEST-7");
    let boot = &csms.calls("BootNotification")[0];
    assert_eq!(boot.payload()["chargePointVendor"], "Chargerig");
    assert_eq!(boot.payload()["chargePointModel"], "SimBoard-1");
    // After Accepted: connector 0 and connector 1 are reported.
    csms.wait_until("StatusNotification for connectors 0 and 1", WAIT, |c| {
        let s = c.calls("StatusNotification");
        [0, 1]
            .iter()
            .all(|n| s.iter().any(|r| r.payload()["connectorId"] == *n))
    })
    .await;
    assert_eq!(csms.connections(), 1, "{}", p.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_frames_get_call_errors_and_the_connection_survives() {
    let csms = Csms::start("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    booted(&csms).await;

    csms.send_text(r#"[2,"bad-1","NoSuchAction",{}]"#);
    csms.send_text("this is not json");
    csms.send_text(r#"[2,"bad-2","ChangeConfiguration",{"key":17}]"#);
    csms.send_text(r#"[2,"good-1","GetConfiguration",{"key":["HeartbeatInterval"]}]"#);
    csms.wait_until("answers to bad-1, bad-2 and good-1", WAIT, |c| {
        ["bad-1", "bad-2", "good-1"]
            .iter()
            .all(|id| c.answer_to(id).is_some())
    })
    .await;
    let bad1 = csms.answer_to("bad-1").unwrap();
    assert_eq!(bad1[0], 4, "{bad1}");
    assert_eq!(bad1[2], "NotImplemented", "{bad1}");
    let bad2 = csms.answer_to("bad-2").unwrap();
    assert_eq!(bad2[0], 4, "{bad2}");
    assert!(
        matches!(
            bad2[2].as_str(),
            Some("TypeConstraintViolation" | "FormationViolation" | "PropertyConstraintViolation")
        ),
        "{bad2}"
    );
    let good = csms.answer_to("good-1").unwrap();
    assert_eq!(good[0], 3, "{good}");
    assert_eq!(
        csms.connections(),
        1,
        "the connection must survive bad frames:\n{}",
        p.log_text()
    );
}

/// OCPP-J §4.2.3: a received CALL that cannot be handled gets a CallError with its UniqueId,
/// so the central system is not left waiting. A CALL over 64 KiB is not processed but answered
/// (GenericError, the id recovered from the frame's head), also above tungstenite's default 8 MiB
/// frame limit; the connection stays up.
#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_call_gets_a_call_error_with_its_id_and_the_connection_survives() {
    let csms = Csms::start("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    booted(&csms).await;

    let big = |id: &str, n: usize| {
        format!(
            r#"[2,"{id}","DataTransfer",{{"vendorId":"x","data":"{}"}}]"#,
            "A".repeat(n)
        )
    };
    csms.send_text(big("big-1", 70 * 1024));
    csms.send_text(big("big-2", 10 * 1024 * 1024));
    csms.send_binary(vec![1, 2, 3]);
    csms.send_text(r#"[2,"after-1","GetConfiguration",{}]"#);
    csms.wait_until("answers to big-1, big-2 and after-1", WAIT, |c| {
        ["big-1", "big-2", "after-1"]
            .iter()
            .all(|id| c.answer_to(id).is_some())
    })
    .await;
    for id in ["big-1", "big-2"] {
        let a = csms.answer_to(id).unwrap();
        assert_eq!(a[0], 4, "{a}");
        assert_eq!(a[2], "GenericError", "{a}");
    }
    assert_eq!(csms.answer_to("after-1").unwrap()[0], 3);
    let log = p.log_text();
    assert!(log.contains("oversized frame"), "{log}");
    assert!(log.contains("binary frame ignored"), "{log}");
    assert_eq!(csms.connections(), 1, "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_does_not_agree_to_ocpp16_is_refused() {
    let csms = Csms::start_refusing_subprotocol().await;
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    // It keeps trying (back-off), and never talks OCPP on such a connection.
    csms.wait_until("three handshake attempts", WAIT, |c| c.handshakes() >= 3)
        .await;
    assert!(csms.received().is_empty(), "{:?}", csms.received());
    let log = p.log_text();
    assert!(log.contains("subprotocol"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_link_is_noticed_by_ping_timeout_and_the_charger_reconnects() {
    // A server that completes the handshake and then never reads again: no pongs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            #[allow(clippy::result_large_err)]
            let cb = |_: &tokio_tungstenite::tungstenite::handshake::server::Request,
                      mut resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                resp.headers_mut().insert(
                    "Sec-WebSocket-Protocol",
                    tokio_tungstenite::tungstenite::http::HeaderValue::from_static("ocpp1.6"),
                );
                Ok(resp)
            };
            if let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(ws); // never polled again
            }
        }
    });
    let config = format!("{FAST_CONFIG}WebSocketPingInterval = \"1\"\n");
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), &format!("ws://{addr}/ocpp"), &config, &[]);
    let start = std::time::Instant::now();
    while accepted.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no reconnect after a silent link:\n{}",
            p.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Ping every 1 s + pong timeout 2 s: noticed well within 10 s.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(p.log_text().contains("silent link"), "{}", p.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn call_results_are_valid_ocpp_j_frames() {
    let csms = Csms::start("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let _p = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    booted(&csms).await;
    for r in csms.received() {
        let arr = r.frame.as_array().expect("every frame is a JSON array");
        match arr[0].as_u64() {
            Some(2) => assert!(
                arr.len() == 4 && arr[1].is_string() && arr[2].is_string() && arr[3].is_object(),
                "{}",
                r.frame
            ),
            Some(3) => assert!(arr.len() == 3 && arr[1].is_string(), "{}", r.frame),
            Some(4) => assert!(arr.len() == 5 && arr[1].is_string(), "{}", r.frame),
            _ => panic!("bad message type: {}", r.frame),
        }
        let _: &Value = &r.frame;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soft_reset_reboots_the_core_and_boots_again_on_a_new_connection() {
    let csms = Csms::start("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    booted(&csms).await;
    csms.send_text(r#"[2,"rst-1","Reset",{"type":"Soft"}]"#);
    csms.wait_until("Reset answered", WAIT, |c| c.answer_to("rst-1").is_some())
        .await;
    assert_eq!(csms.answer_to("rst-1").unwrap()[2]["status"], "Accepted");
    csms.wait_until("a BootNotification on a second connection", WAIT, |c| {
        c.calls("BootNotification").iter().any(|r| r.conn >= 2)
    })
    .await;
    // Same process (a reboot, not a crash), and it says so in the log.
    assert!(
        p.log_text().contains("rebooting the charger"),
        "{}",
        p.log_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_websocket_ping_interval_takes_effect_without_reconnecting() {
    let csms = Csms::start("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{FAST_CONFIG}WebSocketPingInterval = \"0\"\n");
    let p = ChargerProc::start(dir.path(), &csms.url(), &config, &[]);
    booted(&csms).await;
    csms.send_text(
        r#"[2,"cc-1","ChangeConfiguration",{"key":"WebSocketPingInterval","value":"1"}]"#,
    );
    csms.wait_until("ChangeConfiguration answered", WAIT, |c| {
        c.answer_to("cc-1").is_some()
    })
    .await;
    assert_eq!(csms.answer_to("cc-1").unwrap()[2]["status"], "Accepted");
    let pings_before = csms.pings();
    csms.wait_until("two pings after the change", WAIT, |c| {
        c.pings() >= pings_before + 2
    })
    .await;
    assert_eq!(pings_before, 0, "WebSocketPingInterval 0 means no pings");
    assert_eq!(csms.connections(), 1, "{}", p.log_text());
}
