//! What the test central system answers: the scenario's script.
//!
//! Steps change the script while the charger runs; the server reads it for every request.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_ocpp::v1_6::types::{AuthorizationStatus, IdTagInfo, RegistrationStatus};

/// One row of the id-tag table.
#[derive(Debug, Clone, PartialEq)]
pub struct IdTagEntry {
    pub status: AuthorizationStatus,
    pub expiry: Option<DateTime<Utc>>,
    pub parent: Option<String>,
}

impl IdTagEntry {
    /// Accepted, no expiry, no parent: the card most tests and `rig sim --accept` need.
    pub fn accepted() -> Self {
        IdTagEntry {
            status: AuthorizationStatus::Accepted,
            expiry: None,
            parent: None,
        }
    }

    /// The IdTagInfo this entry produces in a confirmation.
    pub fn id_tag_info(&self) -> IdTagInfo {
        IdTagInfo {
            status: self.status.clone(),
            expiry_date: self.expiry,
            parent_id_tag: self.parent.clone(),
        }
    }
}

/// How often an action gets a CallError instead of its normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injection {
    Always,
    Times(u32),
}

/// The central system's behaviour for one scenario.
#[derive(Debug, Clone)]
pub struct Script {
    /// Keyed by upper-cased id tag: id tags compare case-insensitively (§7.28).
    id_tags: HashMap<String, IdTagEntry>,
    pub boot_status: RegistrationStatus,
    /// Interval sent with Pending/Rejected (the spec's 5 s).
    pub boot_retry_interval_s: u32,
    /// Heartbeat interval sent with Accepted.
    pub heartbeat_interval_s: u32,
    /// Overrides the idTagInfo status of StartTransaction confirmations.
    pub start_status: Option<AuthorizationStatus>,
    injections: HashMap<String, Injection>,
    /// Requests are read but neither processed nor answered.
    pub silent: bool,
    /// A central-system request sent just before the answer to the charger's next request of
    /// this action, in the same write: both reach the charger at once (a race a test provokes).
    before_answer: HashMap<String, (String, serde_json::Value)>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            id_tags: HashMap::new(),
            boot_status: RegistrationStatus::Accepted,
            boot_retry_interval_s: 5,
            heartbeat_interval_s: 300,
            start_status: None,
            injections: HashMap::new(),
            silent: false,
            before_answer: HashMap::new(),
        }
    }
}

impl Script {
    /// Sends `request` (`payload`) just before the answer to the next `action`, in one write.
    pub fn request_before_answer(
        &mut self,
        action: &str,
        request: &str,
        payload: serde_json::Value,
    ) {
        self.before_answer
            .insert(action.to_string(), (request.to_string(), payload));
    }

    pub(crate) fn take_request_before_answer(
        &mut self,
        action: &str,
    ) -> Option<(String, serde_json::Value)> {
        self.before_answer.remove(action)
    }

    /// Adds or replaces one id tag.
    pub fn set_id_tag(&mut self, tag: &str, entry: IdTagEntry) {
        self.id_tags.insert(tag.to_uppercase(), entry);
    }

    /// The answer for `tag`: its row, or Invalid when unlisted.
    pub fn id_tag_info(&self, tag: &str) -> IdTagInfo {
        self.id_tags
            .get(&tag.to_uppercase())
            .map(IdTagEntry::id_tag_info)
            .unwrap_or(IdTagInfo {
                status: AuthorizationStatus::Invalid,
                expiry_date: None,
                parent_id_tag: None,
            })
    }

    /// Makes `action` fail with a CallError, always or for the next `n` requests.
    pub fn inject_call_error(&mut self, action: &str, injection: Injection) {
        self.injections.insert(action.to_string(), injection);
    }

    /// Consumes one injected CallError for `action`, if any is due.
    pub fn take_call_error(&mut self, action: &str) -> bool {
        match self.injections.get_mut(action) {
            Some(Injection::Always) => true,
            Some(Injection::Times(n)) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

/// Parses an authorization status as the features write it.
pub fn parse_authorization_status(s: &str) -> Option<AuthorizationStatus> {
    Some(match s {
        "Accepted" => AuthorizationStatus::Accepted,
        "Blocked" => AuthorizationStatus::Blocked,
        "Expired" => AuthorizationStatus::Expired,
        "Invalid" => AuthorizationStatus::Invalid,
        "ConcurrentTx" => AuthorizationStatus::ConcurrentTx,
        _ => return None,
    })
}

/// Parses a registration status as the features write it.
pub fn parse_registration_status(s: &str) -> Option<RegistrationStatus> {
    Some(match s {
        "Accepted" => RegistrationStatus::Accepted,
        "Pending" => RegistrationStatus::Pending,
        "Rejected" => RegistrationStatus::Rejected,
        _ => return None,
    })
}

/// Parses an expiry: RFC 3339, or relative to `now` (`+20s`, `-1h`, units s/m/h/d).
pub fn parse_expiry(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let bad = || format!("expiry {s:?} is neither RFC 3339 nor relative like +20s or -1h");
    let (sign, rest) = match s.chars().next() {
        Some('+') => (1i64, &s[1..]),
        Some('-') => (-1i64, &s[1..]),
        _ => return Err(bad()),
    };
    let unit = rest.chars().last().ok_or_else(bad)?;
    let amount: i64 = rest[..rest.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    let seconds = match unit {
        's' => amount,
        'm' => amount * 60,
        'h' => amount * 3600,
        'd' => amount * 86_400,
        _ => return Err(bad()),
    };
    Ok(now + chrono::Duration::seconds(sign * seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlisted_tags_are_invalid_and_lookup_ignores_case() {
        let mut s = Script::default();
        s.set_id_tag(
            "aabbccdd",
            IdTagEntry {
                status: AuthorizationStatus::Blocked,
                expiry: None,
                parent: Some("P".into()),
            },
        );
        assert_eq!(
            s.id_tag_info("AABBCCDD").status,
            AuthorizationStatus::Blocked
        );
        assert_eq!(
            s.id_tag_info("AABBCCDD").parent_id_tag.as_deref(),
            Some("P")
        );
        assert_eq!(
            s.id_tag_info("11223344").status,
            AuthorizationStatus::Invalid
        );
    }

    #[test]
    fn injections_count_down() {
        let mut s = Script::default();
        s.inject_call_error("StartTransaction", Injection::Times(2));
        assert!(s.take_call_error("StartTransaction"));
        assert!(s.take_call_error("StartTransaction"));
        assert!(!s.take_call_error("StartTransaction"));
        assert!(!s.take_call_error("Authorize"));
        s.inject_call_error("Authorize", Injection::Always);
        assert!((0..5).all(|_| s.take_call_error("Authorize")));
    }

    #[test]
    fn expiry_forms() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_expiry("+20s", now).unwrap(),
            now + chrono::Duration::seconds(20)
        );
        assert_eq!(
            parse_expiry("-1h", now).unwrap(),
            now - chrono::Duration::hours(1)
        );
        assert_eq!(
            parse_expiry("2026-02-01T00:00:00Z", now)
                .unwrap()
                .to_rfc3339(),
            "2026-02-01T00:00:00+00:00"
        );
        assert!(parse_expiry("tomorrow", now).is_err());
        assert!(parse_expiry("+5x", now).is_err());
    }
}
