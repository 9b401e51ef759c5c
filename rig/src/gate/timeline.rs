//! The fault timeline: what the gate did, and when.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// One gate change or notable gate event.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRecord {
    pub at: DateTime<Utc>,
    /// `cut`, `refuse`, `restore`, or an informational kind (`connection`, `reset`...).
    pub kind: String,
    pub detail: String,
}

impl FaultRecord {
    pub fn to_json(&self) -> Value {
        json!({
            "at": self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "kind": self.kind,
            "detail": self.detail,
        })
    }
}

/// Shared, append-only list of fault records.
#[derive(Debug, Clone, Default)]
pub struct FaultTimeline(Arc<Mutex<Vec<FaultRecord>>>);

impl FaultTimeline {
    pub fn record(&self, kind: &str, detail: impl Into<String>) {
        let rec = FaultRecord {
            at: Utc::now(),
            kind: kind.to_string(),
            detail: detail.into(),
        };
        tracing::debug!(kind = %rec.kind, detail = %rec.detail, "gate");
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(rec);
    }

    pub fn snapshot(&self) -> Vec<FaultRecord> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
