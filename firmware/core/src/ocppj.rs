//! OCPP-J framing (J§4): CALL, CALLRESULT and CALLERROR arrays, and the mapping of payload
//! problems to CallError codes.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// A parsed inbound frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Call {
        id: String,
        action: String,
        payload: Value,
    },
    CallResult {
        id: String,
        payload: Value,
    },
    CallError {
        id: String,
        code: String,
        description: String,
    },
}

/// A frame we could not accept, with the CallError to answer (if a message id was recoverable).
#[derive(Debug, Clone, PartialEq)]
pub struct BadFrame {
    pub id: Option<String>,
    pub code: ErrorCode,
    pub reason: String,
}

/// OCPP-J CallError codes (wire spelling as in OCPP-J 1.6; the errata keep the typos).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    NotImplemented,
    NotSupported,
    InternalError,
    ProtocolError,
    SecurityError,
    FormationViolation,
    PropertyConstraintViolation,
    OccurenceConstraintViolation,
    TypeConstraintViolation,
    GenericError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotImplemented => "NotImplemented",
            ErrorCode::NotSupported => "NotSupported",
            ErrorCode::InternalError => "InternalError",
            ErrorCode::ProtocolError => "ProtocolError",
            ErrorCode::SecurityError => "SecurityError",
            ErrorCode::FormationViolation => "FormationViolation",
            ErrorCode::PropertyConstraintViolation => "PropertyConstraintViolation",
            ErrorCode::OccurenceConstraintViolation => "OccurenceConstraintViolation",
            ErrorCode::TypeConstraintViolation => "TypeConstraintViolation",
            ErrorCode::GenericError => "GenericError",
        }
    }
}

/// Parses one text frame. Never panics.
pub fn parse(text: &str) -> Result<Frame, BadFrame> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Err(BadFrame {
                id: recover_id(text),
                code: ErrorCode::FormationViolation,
                reason: format!("not JSON: {e}"),
            })
        }
    };
    let Value::Array(items) = value else {
        return Err(BadFrame {
            id: None,
            code: ErrorCode::FormationViolation,
            reason: "frame is not a JSON array".into(),
        });
    };
    let raw_id = items.get(1).and_then(Value::as_str);
    let id = raw_id
        .filter(|id| id.len() <= MAX_ECHOED_ID_LEN)
        .map(str::to_string);
    // A CallError answers a CALL only (J§4.2.3): a broken CALLRESULT / CALLERROR, an answer to
    // one of our own requests, is logged and left to that request's timeout; a message type
    // not in the list is ignored (J§4.1.3 "SHALL ignore the message payload").
    let answerable = items.first().and_then(Value::as_u64) == Some(2);
    let bad = |code, reason: &str| BadFrame {
        id: id.clone().filter(|_| answerable),
        code,
        reason: reason.to_string(),
    };
    let Some(kind) = items.first().and_then(Value::as_u64) else {
        return Err(bad(
            ErrorCode::FormationViolation,
            "first element is not a message type number",
        ));
    };
    let Some(id_str) = raw_id.map(str::to_string) else {
        return Err(bad(
            ErrorCode::FormationViolation,
            "second element is not a message id string",
        ));
    };
    if id_str.len() > MAX_ID_LEN {
        // J§4.2.3 names "unique identifier too long" among the CALLs answered with a CallError,
        // which carries "the exact same id" so the sender can match it.
        return Err(bad(
            ErrorCode::FormationViolation,
            "message id longer than 36 characters",
        ));
    }
    match kind {
        2 => {
            if items.len() != 4 {
                return Err(bad(
                    ErrorCode::FormationViolation,
                    "CALL must have 4 elements",
                ));
            }
            let Some(action) = items[2].as_str() else {
                return Err(bad(
                    ErrorCode::FormationViolation,
                    "CALL action is not a string",
                ));
            };
            if !items[3].is_object() {
                return Err(bad(
                    ErrorCode::FormationViolation,
                    "CALL payload is not an object",
                ));
            }
            Ok(Frame::Call {
                id: id_str,
                action: action.to_string(),
                payload: items[3].clone(),
            })
        }
        3 => {
            if items.len() != 3 {
                return Err(bad(
                    ErrorCode::FormationViolation,
                    "CALLRESULT must have 3 elements",
                ));
            }
            Ok(Frame::CallResult {
                id: id_str,
                payload: items[2].clone(),
            })
        }
        4 => {
            if items.len() < 4 {
                return Err(bad(
                    ErrorCode::FormationViolation,
                    "CALLERROR must have 5 elements",
                ));
            }
            Ok(Frame::CallError {
                id: id_str,
                code: items[2].as_str().unwrap_or("GenericError").to_string(),
                description: items[3].as_str().unwrap_or_default().to_string(),
            })
        }
        _ => Err(bad(ErrorCode::FormationViolation, "unknown message type")),
    }
}

/// Best effort: the message id of a CALL that is not valid JSON or was cut short
/// (`[2,"id",...` prefix).
pub fn recover_id(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix('[')?.trim_start();
    let rest = rest.strip_prefix('2')?.trim_start().strip_prefix(',')?;
    let rest = rest.trim_start().strip_prefix('"')?;
    let end = rest.find('"')?;
    let id = &rest[..end];
    (!id.is_empty() && id.len() <= MAX_ECHOED_ID_LEN && !id.contains('\\')).then(|| id.to_string())
}

/// OCPP-J message ids are at most 36 characters (J§4.1.4, Table 3).
pub const MAX_ID_LEN: usize = 36;

/// A too-long id is still echoed in the CallError up to this length; a longer one is not an
/// id anybody can be waiting for, so the frame is only logged.
pub const MAX_ECHOED_ID_LEN: usize = 1024;

/// Decodes a payload into a typed message, mapping the serde failure to the CallError code the
/// OCPP-J table describes (wrong JSON type, missing field, value out of range). What serde
/// would let through but the official schemas refuse is refused too ([`schema_shape`]): `null`
/// anywhere, an array where an object is required, a property an object does not define.
pub fn decode<T: DeserializeOwned + Serialize>(payload: &Value) -> Result<T, (ErrorCode, String)> {
    refuse_null_and_misplaced_arrays(payload)?;
    let typed: T = serde_json::from_value(payload.clone()).map_err(|e| {
        let msg = e.to_string();
        let code = if msg.starts_with("invalid type")
            || (msg == "invalid number" && has_non_integer_number(payload))
        {
            // "invalid number" (serde_json with arbitrary precision) covers both a fraction or
            // exponent where an integer is required (a type error, J§4.2.3) and an integer out
            // of range (a value error, below).
            ErrorCode::TypeConstraintViolation
        } else if msg.starts_with("missing field") || msg.starts_with("unknown field") {
            // A required field absent, or one the schema does not allow: the payload does not
            // conform to the PDU structure.
            ErrorCode::FormationViolation
        } else {
            // unknown variant, invalid value, invalid length, bad date-time ...
            ErrorCode::PropertyConstraintViolation
        };
        (code, msg)
    })?;
    let understood = serde_json::to_value(&typed)
        .map_err(|e| (ErrorCode::InternalError, format!("cannot re-encode: {e}")))?;
    schema_shape(payload, &understood, "")?;
    Ok(typed)
}

/// Refuses what no OCPP 1.6 request schema allows anywhere: `null`, and an array where the
/// schema has no list (serde would read a struct from it).
pub fn refuse_null_and_misplaced_arrays(payload: &Value) -> Result<(), (ErrorCode, String)> {
    if let Some(path) = find_null(payload, "") {
        // No OCPP 1.6 schema allows null: an optional field is left out, never null.
        return Err((
            ErrorCode::TypeConstraintViolation,
            format!("{path} is null; leave an optional field out instead"),
        ));
    }
    if let Some(path) = find_misplaced_array(payload, "", false) {
        // serde reads a struct from an array (fields by position); the schemas say object.
        return Err((
            ErrorCode::TypeConstraintViolation,
            format!("{path} must not be an array"),
        ));
    }
    Ok(())
}

/// The first `null` in `v`, as a path (`/localAuthorizationList/0/idTagInfo`).
fn find_null(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::Null => Some(if path.is_empty() {
            "/".into()
        } else {
            path.into()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_null(x, &format!("{path}/{i}"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, x)| find_null(x, &format!("{path}/{k}"))),
        _ => None,
    }
}

/// The request fields the OCPP 1.6 schemas define as arrays (GetConfiguration `key`,
/// SendLocalList `localAuthorizationList`, a charging schedule's periods); their items are never
/// arrays themselves.
const LIST_FIELDS: &[&str] = &["key", "localAuthorizationList", "chargingSchedulePeriod"];

/// The first array that stands where no schema defines one.
fn find_misplaced_array(v: &Value, path: &str, list_allowed: bool) -> Option<String> {
    match v {
        Value::Array(_) if !list_allowed => Some(shown(path).to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_misplaced_array(x, &format!("{path}/{i}"), false)),
        Value::Object(map) => map.iter().find_map(|(k, x)| {
            find_misplaced_array(x, &format!("{path}/{k}"), LIST_FIELDS.contains(&k.as_str()))
        }),
        _ => None,
    }
}

/// Compares what arrived with what the typed message understood of it (re-encoded): serde
/// reads a struct from an array and skips properties it does not know, where the schemas
/// (`additionalProperties: false`, `type: object`) refuse both. An array where an object was
/// understood is a TypeConstraintViolation; a property the message does not define is a
/// FormationViolation (as at the top level).
fn schema_shape(got: &Value, understood: &Value, path: &str) -> Result<(), (ErrorCode, String)> {
    match (got, understood) {
        (Value::Array(_), Value::Object(_)) => Err((
            ErrorCode::TypeConstraintViolation,
            format!("{} must be an object, not an array", shown(path)),
        )),
        (Value::Object(g), Value::Object(u)) => {
            for (k, v) in g {
                let Some(w) = u.get(k) else {
                    return Err((
                        ErrorCode::FormationViolation,
                        format!("unexpected field `{k}` in {}", shown(path)),
                    ));
                };
                schema_shape(v, w, &format!("{path}/{k}"))?;
            }
            Ok(())
        }
        (Value::Array(g), Value::Array(u)) => {
            for (i, (v, w)) in g.iter().zip(u).enumerate() {
                schema_shape(v, w, &format!("{path}/{i}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "the payload"
    } else {
        path
    }
}

/// Whether the payload holds a number written with a fraction or an exponent (`1.5`, `1.0`,
/// `1e3`): JSON-schema draft 4, which the OCPP 1.6 schemas use, does not take those as integers.
fn has_non_integer_number(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.to_string().contains(['.', 'e', 'E']),
        Value::Array(items) => items.iter().any(has_non_integer_number),
        Value::Object(map) => map.values().any(has_non_integer_number),
        _ => false,
    }
}

pub fn call(id: &str, action: &str, payload: &Value) -> String {
    json!([2, id, action, payload]).to_string()
}

pub fn call_result(id: &str, payload: &Value) -> String {
    json!([3, id, payload]).to_string()
}

pub fn call_error(id: &str, code: ErrorCode, description: &str) -> String {
    let mut d = description.to_string();
    if d.len() > 255 {
        let mut cut = 255;
        while !d.is_char_boundary(cut) {
            cut -= 1;
        }
        d.truncate(cut);
    }
    json!([4, id, code.as_str(), d, {}]).to_string()
}
