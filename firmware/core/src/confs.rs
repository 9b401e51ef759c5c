//! Lenient readers for the central system's confirmations.
//!
//! Requests from the central system are checked strictly (a bad one gets a CallError), but an
//! answer cannot be answered: rejecting a BootNotification.conf over a time-zone-less
//! `currentTime` would keep the charger from ever registering. So confirmations are read for
//! the fields the charger acts on, and the rest is tolerated.

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_ocpp::v1_6::types::{AuthorizationStatus, IdTagInfo, RegistrationStatus};
use serde_json::Value;

/// The parts of a BootNotification.conf the charger acts on.
#[derive(Clone, Debug, PartialEq)]
pub struct BootConf {
    pub status: RegistrationStatus,
    /// Seconds; negative or fractional values are clamped/truncated.
    pub interval: u32,
    /// The central system's clock (unreadable: `None`).
    pub current_time: Option<DateTime<Utc>>,
}

/// An RFC 3339 date-time; one without an offset is taken as UTC.
pub fn date_time(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?;
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

pub fn boot_conf(v: &Value) -> Option<BootConf> {
    let status = match v.get("status")?.as_str()? {
        "Accepted" => RegistrationStatus::Accepted,
        "Pending" => RegistrationStatus::Pending,
        "Rejected" => RegistrationStatus::Rejected,
        _ => return None,
    };
    let interval = v
        .get("interval")
        .and_then(Value::as_f64)
        .map(|i| i.clamp(0.0, f64::from(u32::MAX)) as u32)
        .unwrap_or(0);
    Some(BootConf {
        status,
        interval,
        current_time: v.get("currentTime").and_then(date_time),
    })
}

/// An IdTagInfo: `status` is required; a bad `expiryDate` is treated as already expired (the
/// safe reading), a bad `parentIdTag` as absent.
pub fn id_tag_info(v: &Value) -> Option<IdTagInfo> {
    let status = match v.get("status")?.as_str()? {
        "Accepted" => AuthorizationStatus::Accepted,
        "Blocked" => AuthorizationStatus::Blocked,
        "Expired" => AuthorizationStatus::Expired,
        "Invalid" => AuthorizationStatus::Invalid,
        "ConcurrentTx" => AuthorizationStatus::ConcurrentTx,
        _ => return None,
    };
    let expiry_date = match v.get("expiryDate") {
        None | Some(Value::Null) => None,
        Some(e) => Some(date_time(e).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)),
    };
    let parent_id_tag = v
        .get("parentIdTag")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty() && p.len() <= 20)
        .map(str::to_string);
    Some(IdTagInfo {
        expiry_date,
        parent_id_tag,
        status,
    })
}

/// Authorize.conf: the IdTagInfo.
pub fn authorize_conf(v: &Value) -> Option<IdTagInfo> {
    id_tag_info(v.get("idTagInfo")?)
}

/// StartTransaction.conf: the IdTagInfo and the transaction id.
pub fn start_conf(v: &Value) -> Option<(IdTagInfo, i32)> {
    let info = id_tag_info(v.get("idTagInfo")?)?;
    let id = v.get("transactionId")?.as_i64()?;
    Some((info, i32::try_from(id).ok()?))
}

/// StopTransaction.conf: the optional IdTagInfo.
pub fn stop_conf(v: &Value) -> Option<IdTagInfo> {
    v.get("idTagInfo").and_then(id_tag_info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn boot_conf_tolerates_a_time_without_offset_and_odd_intervals() {
        let c = boot_conf(
            &json!({"status": "Accepted", "currentTime": "2026-01-01T00:00:00", "interval": 60.7}),
        )
        .unwrap();
        assert_eq!(
            c,
            BootConf {
                status: RegistrationStatus::Accepted,
                interval: 60,
                current_time: DateTime::from_timestamp(1_767_225_600, 0),
            }
        );
        assert_eq!(
            boot_conf(&json!({"status": "Pending", "interval": -5}))
                .unwrap()
                .interval,
            0
        );
        assert!(boot_conf(&json!({"status": "Maybe"})).is_none());
    }

    #[test]
    fn a_bad_expiry_date_reads_as_expired() {
        let i = id_tag_info(&json!({"status": "Accepted", "expiryDate": "tomorrow"})).unwrap();
        assert!(i.expiry_date.unwrap() < Utc::now());
        let i = id_tag_info(&json!({"status": "Accepted", "expiryDate": "2030-01-01T00:00:00"}))
            .unwrap();
        assert_eq!(
            i.expiry_date.unwrap().to_rfc3339(),
            "2030-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn start_conf_needs_status_and_transaction_id() {
        assert!(
            start_conf(&json!({"idTagInfo": {"status": "Accepted"}, "transactionId": 5})).is_some()
        );
        assert!(start_conf(&json!({"idTagInfo": {"status": "Accepted"}})).is_none());
        assert!(start_conf(&json!({"transactionId": 5})).is_none());
    }
}
