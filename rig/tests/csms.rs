//! The test central system, driven by a raw WebSocket client playing the charger.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rig::csms::{Answer, Csms, IdTagEntry, Injection, Kind};
use rust_ocpp::v1_6::types::{AuthorizationStatus, RegistrationStatus};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);

async fn start() -> Csms {
    Csms::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

async fn connect(csms: &Csms, cpid: &str) -> Ws {
    let mut request = format!("{}/{cpid}", csms.url())
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("ocpp1.6"),
    );
    let (ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers().get("Sec-WebSocket-Protocol").unwrap(),
        "ocpp1.6"
    );
    ws
}

async fn next_value(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no frame from the central system")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = msg {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn call(ws: &mut Ws, id: &str, action: &str, payload: Value) -> Value {
    ws.send(Message::text(json!([2, id, action, payload]).to_string()))
        .await
        .unwrap();
    next_value(ws).await
}

fn start_tx(tag: &str) -> Value {
    json!({"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"})
}

#[tokio::test]
async fn answers_per_script_and_assigns_increasing_transaction_ids() {
    let csms = start().await;
    csms.script(|s| {
        s.set_id_tag(
            "AABBCCDD",
            IdTagEntry {
                status: AuthorizationStatus::Accepted,
                expiry: None,
                parent: Some("FLEET".into()),
            },
        );
        s.set_id_tag(
            "BADBAD01",
            IdTagEntry {
                status: AuthorizationStatus::Blocked,
                expiry: None,
                parent: None,
            },
        );
    });
    let mut ws = connect(&csms, "CP-1").await;
    let boot = call(
        &mut ws,
        "1",
        "BootNotification",
        json!({"chargePointVendor": "V", "chargePointModel": "M"}),
    )
    .await;
    assert_eq!(boot[0], 3);
    assert_eq!(boot[1], "1");
    assert_eq!(boot[2]["status"], "Accepted");

    let auth = call(&mut ws, "2", "Authorize", json!({"idTag": "aabbccdd"})).await;
    assert_eq!(auth[2]["idTagInfo"]["status"], "Accepted");
    assert_eq!(auth[2]["idTagInfo"]["parentIdTag"], "FLEET");
    let blocked = call(&mut ws, "3", "Authorize", json!({"idTag": "BADBAD01"})).await;
    assert_eq!(blocked[2]["idTagInfo"]["status"], "Blocked");
    let unknown = call(&mut ws, "4", "Authorize", json!({"idTag": "12345678"})).await;
    assert_eq!(unknown[2]["idTagInfo"]["status"], "Invalid");

    let first = call(&mut ws, "5", "StartTransaction", start_tx("AABBCCDD")).await;
    let second = call(&mut ws, "6", "StartTransaction", start_tx("AABBCCDD")).await;
    assert_eq!(first[2]["transactionId"], 1);
    assert_eq!(second[2]["transactionId"], 2);

    csms.script(|s| s.start_status = Some(AuthorizationStatus::Expired));
    let overridden = call(&mut ws, "7", "StartTransaction", start_tx("AABBCCDD")).await;
    assert_eq!(overridden[2]["idTagInfo"]["status"], "Expired");

    let history = csms.history();
    assert_eq!(history.count("StartTransaction"), 3);
    assert_eq!(history.count("Authorize"), 3);
    assert!(history.violations.is_empty(), "{:?}", history.violations);
    let answer = history.answer_to("5").unwrap();
    assert_eq!(answer.payload["transactionId"], 1);
    assert_eq!(history.connections[0].charge_point_id, "CP-1");
    assert_eq!(history.received_since_connection("Authorize", 1).count(), 3);
    assert_eq!(history.received_since_connection("Authorize", 2).count(), 0);
}

#[tokio::test]
async fn boot_status_follows_the_script() {
    let csms = start().await;
    csms.script(|s| s.boot_status = RegistrationStatus::Pending);
    let mut ws = connect(&csms, "CP-2").await;
    let boot_payload = json!({"chargePointVendor": "V", "chargePointModel": "M"});
    let pending = call(&mut ws, "1", "BootNotification", boot_payload.clone()).await;
    assert_eq!(pending[2]["status"], "Pending");
    assert_eq!(pending[2]["interval"], 5);
    csms.script(|s| s.boot_status = RegistrationStatus::Accepted);
    let accepted = call(&mut ws, "2", "BootNotification", boot_payload).await;
    assert_eq!(accepted[2]["status"], "Accepted");
}

#[tokio::test]
async fn invalid_frames_are_answered_and_recorded_as_violations() {
    let csms = start().await;
    let mut ws = connect(&csms, "CP-3").await;
    let typo = call(
        &mut ws,
        "1",
        "StartTransaction",
        json!({"conectorId": 1, "connectorId": 1, "idTag": "A", "meterStart": 0,
               "timestamp": "2026-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(typo[0], 4);
    assert_eq!(typo[2], "FormationViolation");
    let unknown = call(&mut ws, "2", "Reset", json!({"type": "Soft"})).await;
    assert_eq!(unknown[2], "NotImplemented");
    ws.send(Message::text("[2,\"3\",\"Heartbeat\"]"))
        .await
        .unwrap();
    assert_eq!(next_value(&mut ws).await[2], "FormationViolation");
    ws.send(Message::text("not json")).await.unwrap();
    let history = csms
        .wait_for(Instant::now() + WAIT, |h| {
            (h.violations.len() >= 4).then(|| h.clone())
        })
        .await
        .expect("four violations");
    assert!(history.violations[0].reason.contains("conectorId"));
    assert_eq!(history.count("StartTransaction"), 1);
    assert!(history.records.iter().any(|r| r.kind == Kind::Invalid));
    assert_eq!(
        csms.next_transaction_id(),
        1,
        "an invalid start assigns no id"
    );
}

#[tokio::test]
async fn injected_call_errors_then_normal_answers() {
    let csms = start().await;
    csms.script(|s| s.inject_call_error("Heartbeat", Injection::Times(2)));
    let mut ws = connect(&csms, "CP-4").await;
    for id in ["1", "2"] {
        let answer = call(&mut ws, id, "Heartbeat", json!({})).await;
        assert_eq!(answer[0], 4);
        assert_eq!(answer[2], "InternalError");
    }
    let answer = call(&mut ws, "3", "Heartbeat", json!({})).await;
    assert_eq!(answer[0], 3);
    assert!(answer[2]["currentTime"].is_string());
}

#[tokio::test]
async fn silent_central_system_reads_but_neither_answers_nor_counts() {
    let csms = start().await;
    let mut ws = connect(&csms, "CP-5").await;
    csms.script(|s| s.silent = true);
    ws.send(Message::text(json!([2, "1", "Heartbeat", {}]).to_string()))
        .await
        .unwrap();
    let read = csms
        .wait_for(Instant::now() + WAIT, |h| {
            h.records.iter().find(|r| r.ignored).cloned()
        })
        .await;
    assert!(read.is_some(), "the request was read");
    assert_eq!(csms.history().count("Heartbeat"), 0);
    assert!(tokio::time::timeout(Duration::from_millis(300), ws.next())
        .await
        .is_err());
    csms.script(|s| s.silent = false);
    let answer = call(&mut ws, "2", "Heartbeat", json!({})).await;
    assert_eq!(answer[1], "2");
    assert_eq!(csms.history().count("Heartbeat"), 1);
}

#[tokio::test]
async fn central_system_requests_get_the_chargers_answer() {
    let csms = start().await;
    let mut ws = connect(&csms, "CP-6").await;
    csms.wait_for(Instant::now() + WAIT, |h| {
        (h.last_connection() == 1).then_some(())
    })
    .await
    .unwrap();
    let charger = tokio::spawn(async move {
        let request = next_value(&mut ws).await;
        assert_eq!(request[0], 2);
        assert_eq!(request[2], "ChangeConfiguration");
        assert_eq!(request[3]["key"], "HeartbeatInterval");
        let id = request[1].clone();
        ws.send(Message::text(
            json!([3, id, {"status": "Rejected"}]).to_string(),
        ))
        .await
        .unwrap();
        ws
    });
    let answer = csms
        .call(
            "ChangeConfiguration",
            json!({"key": "HeartbeatInterval", "value": "x"}),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(answer, Answer::Result(json!({"status": "Rejected"})));
    let ws = charger.await.unwrap();
    drop(ws);
    csms.wait_for(Instant::now() + WAIT, |h| (!h.is_open(1)).then_some(()))
        .await
        .expect("the close is recorded");
    assert!(csms.call("ClearCache", json!({}), WAIT).await.is_err());
}

#[tokio::test]
async fn refuses_a_handshake_without_the_ocpp16_subprotocol() {
    let csms = start().await;
    let result = tokio_tungstenite::connect_async(format!("{}/CP-7", csms.url())).await;
    assert!(result.is_err());
    let violations = csms
        .wait_for(Instant::now() + WAIT, |h| {
            (!h.violations.is_empty()).then(|| h.violations.clone())
        })
        .await
        .unwrap();
    assert!(violations[0].reason.contains("ocpp1.6"));
}

#[tokio::test]
async fn requests_before_boot_or_while_rejected_are_violations() {
    let csms = start().await;
    let mut ws = connect(&csms, "CP-8").await;
    let early = call(&mut ws, "1", "Heartbeat", json!({})).await;
    assert_eq!(early[0], 3, "it is still answered");
    csms.script(|s| s.boot_status = RegistrationStatus::Rejected);
    let boot = json!({"chargePointVendor": "V", "chargePointModel": "M"});
    let rejected = call(&mut ws, "2", "BootNotification", boot.clone()).await;
    assert_eq!(rejected[2]["status"], "Rejected");
    call(
        &mut ws,
        "3",
        "StatusNotification",
        json!({"connectorId": 0, "errorCode": "NoError", "status": "Available"}),
    )
    .await;
    csms.script(|s| s.boot_status = RegistrationStatus::Accepted);
    call(&mut ws, "4", "BootNotification", boot).await;
    call(&mut ws, "5", "Heartbeat", json!({})).await;
    let reasons: Vec<String> = csms
        .history()
        .violations
        .iter()
        .map(|v| v.reason.clone())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("Heartbeat sent before any BootNotification"));
    assert!(
        reasons[1].contains("StatusNotification sent while its BootNotification stands Rejected")
    );
}

#[tokio::test]
async fn a_request_fails_at_once_when_its_connection_closes() {
    let csms = start().await;
    let mut ws = connect(&csms, "CP-9").await;
    csms.wait_for(Instant::now() + WAIT, |h| {
        (h.last_connection() == 1).then_some(())
    })
    .await
    .unwrap();
    let charger = tokio::spawn(async move {
        let request = next_value(&mut ws).await;
        assert_eq!(request[2], "Reset");
        // Reboots without answering.
        drop(ws);
    });
    let result = csms
        .call("Reset", json!({"type": "Hard"}), Duration::from_secs(30))
        .await;
    charger.await.unwrap();
    assert!(
        matches!(result, Err(rig::csms::CallFailed::Closed(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_charger_of_another_scenario_is_turned_away() {
    let csms = start().await;
    csms.expect_path_prefix("/ocpp/s1/");
    let mut request = format!("{}/s2/CP-10", csms.url())
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("ocpp1.6"),
    );
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
    let foreign = csms
        .wait_for(Instant::now() + WAIT, |h| {
            (!h.foreign.is_empty()).then(|| h.foreign.clone())
        })
        .await
        .unwrap();
    assert!(foreign[0].contains("/ocpp/s2/CP-10"), "{foreign:?}");
    assert!(
        csms.history().violations.is_empty(),
        "not the charger's fault"
    );
    let mut ws = connect(&csms, "s1/CP-10").await;
    let boot = call(
        &mut ws,
        "1",
        "BootNotification",
        json!({"chargePointVendor": "V", "chargePointModel": "M"}),
    )
    .await;
    assert_eq!(boot[2]["status"], "Accepted");
    assert_eq!(csms.history().connections[0].charge_point_id, "CP-10");
}
