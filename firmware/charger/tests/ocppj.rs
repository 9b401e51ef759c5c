//! The OCPP-J connection against a test central system: boot, protocol errors, size limits,
//! subprotocol, silent links. The real binary on a temp data dir.

mod common;

use std::time::Duration;

use common::process::{ChargerProc, FAST_CONFIG};
use common::{answer_to, calls, calls_in, rig_csms, wait_until};
use rig::csms::{Answer, Csms, History, Kind, WsMessage};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

async fn booted(csms: &Csms) {
    wait_until(csms, "BootNotification", WAIT, |h| {
        !calls_in(h, "BootNotification").is_empty()
    })
    .await;
}

fn send_text(csms: &Csms, text: impl Into<String>) {
    csms.send_raw(WsMessage::text(text.into()))
        .expect("a live connection");
}

fn connections(csms: &Csms) -> usize {
    csms.with_history(|h| h.connections.iter().filter(|c| c.opened).count())
}

/// `(kind, code or payload)` of the charger's answer to our request `id`.
fn answer(csms: &Csms, id: &str) -> rig::csms::Record {
    csms.with_history(|h| answer_to(h, id))
        .unwrap_or_else(|| panic!("no answer to {id}"))
}

fn answered(ids: &'static [&'static str]) -> impl Fn(&History) -> bool {
    move |h| ids.iter().all(|id| answer_to(h, id).is_some())
}

#[tokio::test(flavor = "multi_thread")]
async fn boots_with_its_serial_number_at_the_url_with_the_charge_point_id() {
    let csms = rig_csms("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(
        dir.path(),
        &csms.url(),
        FAST_CONFIG,
        &["--serial-number", "SN-TEST-7"],
    );
    booted(&csms).await;
    assert_eq!(
        csms.with_history(|h| h.handshakes.clone())[0],
        "/ocpp/SN-TEST-7"
    );
    let boot = &calls(&csms, "BootNotification")[0];
    assert_eq!(boot.payload["chargePointVendor"], "Chargerig");
    assert_eq!(boot.payload["chargePointModel"], "SimBoard-1");
    // After Accepted: connector 0 and connector 1 are reported.
    wait_until(
        &csms,
        "StatusNotification for connectors 0 and 1",
        WAIT,
        |h| {
            let s = calls_in(h, "StatusNotification");
            [0, 1]
                .iter()
                .all(|n| s.iter().any(|r| r.payload["connectorId"] == *n))
        },
    )
    .await;
    assert_eq!(connections(&csms), 1, "{}", p.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_frames_get_call_errors_and_the_connection_survives() {
    let csms = rig_csms("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    booted(&csms).await;

    send_text(&csms, r#"[2,"bad-1","NoSuchAction",{}]"#);
    send_text(&csms, "this is not json");
    send_text(&csms, r#"[2,"bad-2","ChangeConfiguration",{"key":17}]"#);
    send_text(
        &csms,
        r#"[2,"good-1","GetConfiguration",{"key":["HeartbeatInterval"]}]"#,
    );
    wait_until(
        &csms,
        "answers to bad-1, bad-2 and good-1",
        WAIT,
        answered(&["bad-1", "bad-2", "good-1"]),
    )
    .await;
    let bad1 = answer(&csms, "bad-1");
    assert_eq!(bad1.kind, Kind::Error, "{bad1:?}");
    assert_eq!(bad1.payload["code"], "NotImplemented", "{bad1:?}");
    let bad2 = answer(&csms, "bad-2");
    assert_eq!(bad2.kind, Kind::Error, "{bad2:?}");
    assert!(
        matches!(
            bad2.payload["code"].as_str(),
            Some("TypeConstraintViolation" | "FormationViolation" | "PropertyConstraintViolation")
        ),
        "{bad2:?}"
    );
    let good = answer(&csms, "good-1");
    assert_eq!(good.kind, Kind::Result, "{good:?}");
    assert_eq!(
        connections(&csms),
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
    let csms = rig_csms("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    booted(&csms).await;

    let big = |id: &str, n: usize| {
        format!(
            r#"[2,"{id}","DataTransfer",{{"vendorId":"x","data":"{}"}}]"#,
            "A".repeat(n)
        )
    };
    send_text(&csms, big("big-1", 70 * 1024));
    send_text(&csms, big("big-2", 10 * 1024 * 1024));
    csms.send_raw(WsMessage::binary(vec![1, 2, 3])).unwrap();
    send_text(&csms, r#"[2,"after-1","GetConfiguration",{}]"#);
    wait_until(
        &csms,
        "answers to big-1, big-2 and after-1",
        WAIT,
        answered(&["big-1", "big-2", "after-1"]),
    )
    .await;
    for id in ["big-1", "big-2"] {
        let a = answer(&csms, id);
        assert_eq!(a.kind, Kind::Error, "{a:?}");
        assert_eq!(a.payload["code"], "GenericError", "{a:?}");
    }
    assert_eq!(answer(&csms, "after-1").kind, Kind::Result);
    let log = p.log_text();
    assert!(log.contains("oversized frame"), "{log}");
    assert!(log.contains("binary frame ignored"), "{log}");
    assert_eq!(connections(&csms), 1, "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_does_not_agree_to_ocpp16_is_refused() {
    let csms = rig_csms("127.0.0.1:0").await;
    csms.agree_subprotocol(false);
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    // It keeps trying (back-off), and never talks OCPP on such a connection.
    wait_until(&csms, "three handshake attempts", WAIT, |h| {
        h.handshakes.len() >= 3
    })
    .await;
    let records = csms.with_history(|h| h.records.clone());
    assert!(records.is_empty(), "{records:?}");
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
    let csms = rig_csms("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let _p = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    booted(&csms).await;
    // The central system parses every frame by OCPP-J's shapes and checks each payload
    // against the rust-ocpp types: anything malformed is a violation.
    wait_until(&csms, "StatusNotification", WAIT, |h| {
        !calls_in(h, "StatusNotification").is_empty()
    })
    .await;
    let violations = csms.with_history(|h| h.violations.clone());
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soft_reset_reboots_the_core_and_boots_again_on_a_new_connection() {
    let csms = rig_csms("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let p = ChargerProc::start(dir.path(), &csms.url(), FAST_CONFIG, &[]);
    booted(&csms).await;
    let answer = csms
        .call("Reset", json!({"type": "Soft"}), WAIT)
        .await
        .expect("Reset answered");
    assert_eq!(answer, Answer::Result(json!({"status": "Accepted"})));
    wait_until(
        &csms,
        "a BootNotification on a second connection",
        WAIT,
        |h| {
            calls_in(h, "BootNotification")
                .iter()
                .any(|r| r.connection >= 2)
        },
    )
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
    let csms = rig_csms("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{FAST_CONFIG}WebSocketPingInterval = \"0\"\n");
    let p = ChargerProc::start(dir.path(), &csms.url(), &config, &[]);
    booted(&csms).await;
    let answer = csms
        .call(
            "ChangeConfiguration",
            json!({"key": "WebSocketPingInterval", "value": "1"}),
            WAIT,
        )
        .await
        .expect("ChangeConfiguration answered");
    assert_eq!(answer, Answer::Result(json!({"status": "Accepted"})));
    let pings_before = csms.with_history(|h| h.pings);
    wait_until(&csms, "two pings after the change", WAIT, |h| {
        h.pings >= pings_before + 2
    })
    .await;
    assert_eq!(pings_before, 0, "WebSocketPingInterval 0 means no pings");
    assert_eq!(connections(&csms), 1, "{}", p.log_text());
}
