//! Every frame the charger sends is checked against the OCPP 1.6 message definitions by the
//! workspace's one payload checker (`ocpp-check`: exact typed round trip, so no unknown fields,
//! no nulls, enum values spelled as the schema spells them, RFC 3339 date-times; CiString
//! limits); this file adds the OCPP-J frame shape.

use serde_json::Value;

/// Requests the charger sends (CALL payloads): the workspace's one checker (`ocpp-check`).
pub fn request(action: &str, p: &Value) {
    if let Err(e) = ocpp_check::request(action, p) {
        panic!("{action} does not match the OCPP 1.6 definition: {e}\n{p}");
    }
}

/// No `null` anywhere in a frame (CALLRESULT and CALLERROR included).
fn no_nulls(v: &Value) {
    match v {
        Value::Null => panic!("null in a frame (absent optional fields must be omitted)"),
        Value::Array(a) => a.iter().for_each(no_nulls),
        Value::Object(o) => o.values().for_each(no_nulls),
        _ => {}
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

/// Answers the charger gives to central-system requests (actions without a response
/// definition in the checker are not judged here).
pub fn response(action: &str, p: &Value) {
    match ocpp_check::response(action, p) {
        Ok(()) | Err(ocpp_check::Problem::NoResponseSchema(_)) => {}
        Err(e) => panic!("the answer to {action} does not match the OCPP 1.6 definition: {e}\n{p}"),
    }
}
