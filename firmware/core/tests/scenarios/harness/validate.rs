//! Every frame the charger sends is checked against the OCPP 1.6 message definitions: it must
//! round-trip exactly through the strict typed model (so no unknown fields, no nulls, enum values
//! spelled as the schema spells them, RFC 3339 date-times) and respect the schema string limits.

use rust_ocpp::v1_6::messages as m;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn round_trip<T: DeserializeOwned + Serialize>(what: &str, v: &Value) {
    let typed: T = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{what} does not match the OCPP 1.6 definition: {e}\n{v}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &back, v,
        "{what} has fields or values outside the OCPP 1.6 definition"
    );
}

fn no_nulls(v: &Value) {
    match v {
        Value::Null => panic!("null in a frame (absent optional fields must be omitted)"),
        Value::Array(a) => a.iter().for_each(no_nulls),
        Value::Object(o) => o.values().for_each(no_nulls),
        _ => {}
    }
}

fn max_len(v: &Value, field: &str, max: usize) {
    if let Some(s) = v.get(field).and_then(Value::as_str) {
        assert!(
            !s.is_empty() && s.len() <= max,
            "{field} `{s}` exceeds {max} characters"
        );
    }
}

/// Requests the charger sends (CALL payloads).
pub fn request(action: &str, p: &Value) {
    match action {
        "BootNotification" => {
            round_trip::<m::boot_notification::BootNotificationRequest>(action, p);
            max_len(p, "chargePointVendor", 20);
            max_len(p, "chargePointModel", 20);
            max_len(p, "chargePointSerialNumber", 25);
            max_len(p, "firmwareVersion", 50);
        }
        "Heartbeat" => round_trip::<m::heart_beat::HeartbeatRequest>(action, p),
        "Authorize" => {
            round_trip::<m::authorize::AuthorizeRequest>(action, p);
            max_len(p, "idTag", 20);
        }
        "StartTransaction" => {
            round_trip::<m::start_transaction::StartTransactionRequest>(action, p);
            max_len(p, "idTag", 20);
        }
        "StopTransaction" => {
            round_trip::<m::stop_transaction::StopTransactionRequest>(action, p);
            max_len(p, "idTag", 20);
        }
        "MeterValues" => round_trip::<m::meter_values::MeterValuesRequest>(action, p),
        "StatusNotification" => {
            round_trip::<m::status_notification::StatusNotificationRequest>(action, p)
        }
        other => panic!("charger sent an unexpected request {other}"),
    }
}

/// Any frame the charger sends.
pub fn frame(v: &Value) {
    no_nulls(v);
    let a = v.as_array().expect("frame is an array");
    let id = a[1].as_str().expect("message id is a string");
    match a[0].as_u64() {
        Some(2) => {
            // Our own ids; answers echo the central system's id, whatever it was.
            assert!(!id.is_empty() && id.len() <= 36, "message id length");
            assert_eq!(a.len(), 4);
            request(a[2].as_str().unwrap(), &a[3]);
            dump(a[2].as_str().unwrap(), &a[3]);
        }
        Some(3) => {
            assert_eq!(a.len(), 3);
            assert!(a[2].is_object(), "CALLRESULT payload is an object");
        }
        Some(4) => {
            assert_eq!(a.len(), 5);
            let code = a[2].as_str().unwrap();
            assert!(
                [
                    "NotImplemented",
                    "NotSupported",
                    "InternalError",
                    "ProtocolError",
                    "SecurityError",
                    "FormationViolation",
                    "PropertyConstraintViolation",
                    "OccurenceConstraintViolation",
                    "TypeConstraintViolation",
                    "GenericError"
                ]
                .contains(&code),
                "CallError code {code}"
            );
            assert!(a[4].is_object());
        }
        other => panic!("unexpected message type {other:?}"),
    }
}

/// With `CHARGER_CORE_FRAME_DUMP=FILE`, appends `{"schema": NAME, "payload": ...}` lines so the
/// payloads can also be checked against the official OCPP 1.6 JSON schema files out of band
/// (`tests/check_official_schemas.py`).
pub fn dump(schema: &str, payload: &Value) {
    use std::io::Write;
    let Some(path) = std::env::var_os("CHARGER_CORE_FRAME_DUMP") else {
        return;
    };
    let line = format!(
        "{}\n",
        serde_json::json!({"schema": schema, "payload": payload})
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // One write per line: O_APPEND keeps lines of parallel tests whole.
        let _ = f.write_all(line.as_bytes());
    }
}

/// Answers the charger gives to central-system requests.
pub fn response(action: &str, p: &Value) {
    match action {
        "GetConfiguration" => {
            round_trip::<m::get_configuration::GetConfigurationResponse>(action, p)
        }
        "ChangeConfiguration" => {
            round_trip::<m::change_configuration::ChangeConfigurationResponse>(action, p)
        }
        "ClearCache" => round_trip::<m::clear_cache::ClearCacheResponse>(action, p),
        "SendLocalList" => round_trip::<m::send_local_list::SendLocalListResponse>(action, p),
        "GetLocalListVersion" => {
            round_trip::<m::get_local_list_version::GetLocalListVersionResponse>(action, p)
        }
        "RemoteStartTransaction" => {
            round_trip::<m::remote_start_transaction::RemoteStartTransactionResponse>(action, p)
        }
        "RemoteStopTransaction" => {
            round_trip::<m::remote_stop_transaction::RemoteStopTransactionResponse>(action, p)
        }
        "Reset" => round_trip::<m::reset::ResetResponse>(action, p),
        "TriggerMessage" => round_trip::<m::trigger_message::TriggerMessageResponse>(action, p),
        "ChangeAvailability" => {
            round_trip::<m::change_availability::ChangeAvailabilityResponse>(action, p)
        }
        "UnlockConnector" => round_trip::<m::unlock_connector::UnlockConnectorResponse>(action, p),
        _ => {}
    }
}
