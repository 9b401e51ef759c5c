//! OCPP-J framing (J§4): the three message types as they travel on the WebSocket.
//!
//! Parsing is strict because the rig's job is to catch a charger that frames badly: every
//! deviation becomes a [`FrameError`] the history records as a violation.

use serde_json::{json, Value};

/// Longest message id OCPP-J allows (J§4.1.3).
pub const MAX_MESSAGE_ID_LEN: usize = 36;

/// One decoded OCPP-J message.
#[derive(Debug, Clone, PartialEq)]
pub enum OcppFrame {
    /// `[2, id, action, payload]`
    Call {
        id: String,
        action: String,
        payload: Value,
    },
    /// `[3, id, payload]`
    Result { id: String, payload: Value },
    /// `[4, id, code, description, details]`
    Error {
        id: String,
        code: String,
        description: String,
        details: Value,
    },
}

/// Why a text frame is not valid OCPP-J.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a JSON array")]
    NotArray,
    #[error("unknown message type {0}")]
    UnknownType(String),
    #[error("{kind} must have {expected} elements, has {got}")]
    WrongLength {
        kind: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("element {index} ({what}) has the wrong type")]
    WrongType { index: usize, what: &'static str },
    #[error("message id is empty or longer than {MAX_MESSAGE_ID_LEN} characters")]
    BadMessageId,
}

impl FrameError {
    /// The CallError code OCPP-J prescribes for this framing fault (J§4.2.3).
    pub fn call_error_code(&self) -> &'static str {
        match self {
            FrameError::NotJson(_) | FrameError::NotArray | FrameError::WrongLength { .. } => {
                "FormationViolation"
            }
            FrameError::UnknownType(_) => "ProtocolError",
            FrameError::WrongType { .. } | FrameError::BadMessageId => "FormationViolation",
        }
    }
}

impl OcppFrame {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<OcppFrame, FrameError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| FrameError::NotJson(e.to_string()))?;
        let items = value.as_array().ok_or(FrameError::NotArray)?;
        let kind = items
            .first()
            .and_then(Value::as_u64)
            .ok_or(FrameError::WrongType {
                index: 0,
                what: "message type",
            })?;
        let (name, expected) = match kind {
            2 => ("CALL", 4),
            3 => ("CALLRESULT", 3),
            4 => ("CALLERROR", 5),
            other => return Err(FrameError::UnknownType(other.to_string())),
        };
        if items.len() != expected {
            return Err(FrameError::WrongLength {
                kind: name,
                expected,
                got: items.len(),
            });
        }
        let id = items[1].as_str().ok_or(FrameError::WrongType {
            index: 1,
            what: "message id",
        })?;
        if id.is_empty() || id.len() > MAX_MESSAGE_ID_LEN {
            return Err(FrameError::BadMessageId);
        }
        let id = id.to_string();
        let string_at = |index: usize, what: &'static str| {
            items[index]
                .as_str()
                .map(str::to_string)
                .ok_or(FrameError::WrongType { index, what })
        };
        let object_at = |index: usize, what: &'static str| {
            if items[index].is_object() {
                Ok(items[index].clone())
            } else {
                Err(FrameError::WrongType { index, what })
            }
        };
        Ok(match kind {
            2 => OcppFrame::Call {
                id,
                action: string_at(2, "action")?,
                payload: object_at(3, "payload")?,
            },
            3 => OcppFrame::Result {
                id,
                payload: object_at(2, "payload")?,
            },
            _ => OcppFrame::Error {
                id,
                code: string_at(2, "error code")?,
                description: string_at(3, "error description")?,
                details: object_at(4, "error details")?,
            },
        })
    }

    /// The message id.
    pub fn id(&self) -> &str {
        match self {
            OcppFrame::Call { id, .. }
            | OcppFrame::Result { id, .. }
            | OcppFrame::Error { id, .. } => id,
        }
    }

    /// Encodes as the JSON text that goes on the wire.
    pub fn to_text(&self) -> String {
        self.to_value().to_string()
    }

    /// The JSON array form.
    pub fn to_value(&self) -> Value {
        match self {
            OcppFrame::Call {
                id,
                action,
                payload,
            } => json!([2, id, action, payload]),
            OcppFrame::Result { id, payload } => json!([3, id, payload]),
            OcppFrame::Error {
                id,
                code,
                description,
                details,
            } => json!([4, id, code, description, details]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_types() {
        let call = OcppFrame::parse(r#"[2,"a1","Heartbeat",{}]"#).unwrap();
        assert_eq!(
            call,
            OcppFrame::Call {
                id: "a1".into(),
                action: "Heartbeat".into(),
                payload: json!({})
            }
        );
        let result = OcppFrame::parse(r#"[3,"a1",{"currentTime":"x"}]"#).unwrap();
        assert!(matches!(result, OcppFrame::Result { .. }));
        let error = OcppFrame::parse(r#"[4,"a1","InternalError","boom",{}]"#).unwrap();
        assert!(matches!(error, OcppFrame::Error { ref code, .. } if code == "InternalError"));
        assert_eq!(OcppFrame::parse(&call.to_text()).unwrap(), call);
    }

    #[test]
    fn rejects_bad_framing() {
        assert!(matches!(OcppFrame::parse("{"), Err(FrameError::NotJson(_))));
        assert_eq!(OcppFrame::parse("{}"), Err(FrameError::NotArray));
        assert_eq!(
            OcppFrame::parse(r#"[5,"a",{}]"#),
            Err(FrameError::UnknownType("5".into()))
        );
        assert!(matches!(
            OcppFrame::parse(r#"[2,"a","Heartbeat"]"#),
            Err(FrameError::WrongLength { .. })
        ));
        assert!(matches!(
            OcppFrame::parse(r#"[2,"a","Heartbeat",[]]"#),
            Err(FrameError::WrongType { index: 3, .. })
        ));
        let long = "x".repeat(37);
        assert_eq!(
            OcppFrame::parse(&format!(r#"[3,"{long}",{{}}]"#)),
            Err(FrameError::BadMessageId)
        );
    }
}
