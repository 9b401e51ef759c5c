//! Keeping secrets out of logs: a frame is logged with the value of any write-only
//! configuration key (AuthorizationKey) replaced, at every log level.

use std::borrow::Cow;

use charger_core::config::{self, REDACTED};
use serde_json::Value;

/// `text` as it may be logged. Only a ChangeConfiguration CALL carries a secret (it is the one
/// frame that may); a frame that mentions a write-only key but cannot be parsed is withheld whole.
pub fn frame_for_log(text: &str) -> Cow<'_, str> {
    let mentions_secret = config::KEYS
        .iter()
        .filter(|k| k.write_only)
        .any(|k| contains_ignore_case(text, k.name));
    if !mentions_secret {
        return Cow::Borrowed(text);
    }
    let Ok(mut v) = serde_json::from_str::<Value>(text) else {
        return Cow::Owned(format!(
            "<{} bytes withheld: unparsable and naming a write-only key>",
            text.len()
        ));
    };
    if let Some(payload) = v.get_mut(3).and_then(Value::as_object_mut) {
        let secret = payload
            .get("key")
            .and_then(Value::as_str)
            .and_then(config::lookup)
            .is_some_and(|def| def.write_only);
        if secret {
            if let Some(value) = payload.get_mut("value") {
                *value = Value::from(REDACTED);
            }
        }
    }
    Cow::Owned(v.to_string())
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "3031323334353637383930313233343536373839";

    #[test]
    fn the_authorization_key_is_replaced_in_change_configuration() {
        for key in ["AuthorizationKey", "authorizationKEY"] {
            let frame =
                format!(r#"[2,"1","ChangeConfiguration",{{"key":"{key}","value":"{KEY}"}}]"#);
            let logged = frame_for_log(&frame);
            assert!(!logged.contains(KEY), "{logged}");
            assert!(logged.contains(REDACTED), "{logged}");
        }
    }

    #[test]
    fn other_frames_are_logged_as_they_are() {
        let frame = r#"[2,"1","ChangeConfiguration",{"key":"HeartbeatInterval","value":"60"}]"#;
        assert_eq!(frame_for_log(frame), frame);
    }

    #[test]
    fn an_unparsable_frame_naming_the_key_is_withheld() {
        let frame =
            format!(r#"[2,"1","ChangeConfiguration",{{"key":"AuthorizationKey","value":"{KEY}""#);
        assert!(!frame_for_log(&frame).contains(KEY));
    }
}
