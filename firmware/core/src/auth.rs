//! Local authorization: the authorization cache, the local list, and the offline decision
//! (§3.5, offline-behaviour.md "The offline decision").

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_ocpp::v1_6::types::{AuthorizationStatus, IdTagInfo};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{StoreOp, Table};

/// Id tags are case-insensitive (§7.28): every lookup goes through this key.
pub fn tag_key(tag: &str) -> String {
    tag.to_ascii_uppercase()
}

/// What we know about one id tag (from an IdTagInfo or a local-list entry).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TagRecord {
    /// The tag as the central system spelled it.
    pub tag: String,
    /// OCPP AuthorizationStatus string (Accepted, Blocked, Expired, Invalid, ConcurrentTx).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Insertion/update order, for cache eviction (oldest first).
    #[serde(default)]
    pub seq: u64,
}

impl TagRecord {
    pub fn from_info(tag: &str, info: &IdTagInfo, seq: u64) -> TagRecord {
        TagRecord {
            tag: tag.to_string(),
            status: status_str(&info.status).to_string(),
            expiry: info.expiry_date,
            parent: info.parent_id_tag.clone(),
            seq,
        }
    }

    /// Accepted and not past its expiry date.
    pub fn is_valid(&self, now: DateTime<Utc>) -> bool {
        self.status == "Accepted" && self.expiry.is_none_or(|e| e > now)
    }

    /// The status as it stands now (an Accepted entry past its expiry reads Expired).
    pub fn effective_status(&self, now: DateTime<Utc>) -> &str {
        if self.status == "Accepted" && !self.is_valid(now) {
            "Expired"
        } else {
            &self.status
        }
    }
}

pub fn status_str(s: &AuthorizationStatus) -> &'static str {
    match s {
        AuthorizationStatus::Accepted => "Accepted",
        AuthorizationStatus::Blocked => "Blocked",
        AuthorizationStatus::Expired => "Expired",
        AuthorizationStatus::Invalid => "Invalid",
        AuthorizationStatus::ConcurrentTx => "ConcurrentTx",
    }
}

/// The authorization cache: every IdTagInfo received, persisted, bounded.
#[derive(Clone, Debug, Default)]
pub struct Cache {
    entries: BTreeMap<String, TagRecord>,
    next_seq: u64,
    capacity: usize,
}

impl Cache {
    pub fn restore(rows: impl Iterator<Item = (String, Value)>, capacity: usize) -> Cache {
        let mut cache = Cache {
            capacity,
            ..Cache::default()
        };
        for (k, v) in rows {
            match serde_json::from_value::<TagRecord>(v) {
                Ok(rec) => {
                    cache.next_seq = cache.next_seq.max(rec.seq + 1);
                    cache.entries.insert(k, rec);
                }
                Err(e) => tracing::warn!(key = %k, error = %e, "unreadable cache entry skipped"),
            }
        }
        cache
    }

    pub fn get(&self, tag: &str) -> Option<&TagRecord> {
        self.entries.get(&tag_key(tag))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many entries the cache keeps from the next update on (at least 1).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
    }

    /// Records an IdTagInfo; returns the store ops (the put plus any evictions).
    pub fn update(&mut self, tag: &str, info: &IdTagInfo, now: DateTime<Utc>) -> Vec<StoreOp> {
        let key = tag_key(tag);
        let rec = TagRecord::from_info(tag, info, self.next_seq);
        self.next_seq += 1;
        let mut ops = vec![StoreOp::Put {
            table: Table::Cache,
            key: key.clone(),
            value: serde_json::to_value(&rec).unwrap_or(Value::Null),
        }];
        self.entries.insert(key.clone(), rec);
        while self.entries.len() > self.capacity {
            // Not-valid entries go first, then the oldest valid ones; never the one just stored.
            let victim = self
                .entries
                .iter()
                .filter(|(k, _)| **k != key)
                .min_by_key(|(_, r)| (r.is_valid(now), r.seq))
                .map(|(k, _)| k.clone());
            match victim {
                Some(v) => {
                    self.entries.remove(&v);
                    ops.push(StoreOp::Delete {
                        table: Table::Cache,
                        key: v,
                    });
                }
                None => break,
            }
        }
        ops
    }

    pub fn clear(&mut self) -> Vec<StoreOp> {
        self.entries.clear();
        vec![StoreOp::Clear {
            table: Table::Cache,
        }]
    }
}

/// The local authorization list, changed only by SendLocalList.
#[derive(Clone, Debug, Default)]
pub struct LocalList {
    pub version: i32,
    entries: BTreeMap<String, TagRecord>,
}

/// Store key of the list version inside [`Table::LocalList`] (cannot clash: tags have no `@`... and
/// if one did, it would be upper-cased differently from this lower-case key).
const VERSION_KEY: &str = "@version";

impl LocalList {
    pub fn restore(rows: impl Iterator<Item = (String, Value)>) -> LocalList {
        let mut list = LocalList::default();
        for (k, v) in rows {
            if k == VERSION_KEY {
                list.version = v.as_i64().and_then(|v| i32::try_from(v).ok()).unwrap_or(0);
            } else {
                match serde_json::from_value::<TagRecord>(v) {
                    Ok(rec) => {
                        list.entries.insert(k, rec);
                    }
                    Err(e) => {
                        tracing::error!(key = %k, error = %e, "unreadable local list entry skipped")
                    }
                }
            }
        }
        list
    }

    pub fn get(&self, tag: &str) -> Option<&TagRecord> {
        self.entries.get(&tag_key(tag))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The version GetLocalListVersion reports when the list is enabled (0 = no list).
    pub fn reported_version(&self) -> i32 {
        if self.entries.is_empty() {
            0
        } else {
            self.version
        }
    }

    /// Replaces the whole list. Returns the store ops.
    pub fn replace(&mut self, version: i32, entries: Vec<TagRecord>) -> Vec<StoreOp> {
        self.entries = entries.into_iter().map(|r| (tag_key(&r.tag), r)).collect();
        self.version = version;
        let mut ops = vec![StoreOp::Clear {
            table: Table::LocalList,
        }];
        ops.push(self.version_op());
        for (k, r) in &self.entries {
            ops.push(StoreOp::Put {
                table: Table::LocalList,
                key: k.clone(),
                value: serde_json::to_value(r).unwrap_or(Value::Null),
            });
        }
        ops
    }

    /// Applies a differential update: `Some` upserts, `None` deletes.
    pub fn apply_diff(
        &mut self,
        version: i32,
        changes: Vec<(String, Option<TagRecord>)>,
    ) -> Vec<StoreOp> {
        let mut ops = Vec::new();
        for (tag, rec) in changes {
            let key = tag_key(&tag);
            match rec {
                Some(r) => {
                    ops.push(StoreOp::Put {
                        table: Table::LocalList,
                        key: key.clone(),
                        value: serde_json::to_value(&r).unwrap_or(Value::Null),
                    });
                    self.entries.insert(key, r);
                }
                None => {
                    self.entries.remove(&key);
                    ops.push(StoreOp::Delete {
                        table: Table::LocalList,
                        key,
                    });
                }
            }
        }
        self.version = version;
        ops.push(self.version_op());
        ops
    }

    /// Size after a differential update, to refuse one that would overflow.
    pub fn size_after(&self, changes: &[(String, Option<TagRecord>)]) -> usize {
        let mut keys: std::collections::BTreeSet<String> = self.entries.keys().cloned().collect();
        for (tag, rec) in changes {
            if rec.is_some() {
                keys.insert(tag_key(tag));
            } else {
                keys.remove(&tag_key(tag));
            }
        }
        keys.len()
    }

    fn version_op(&self) -> StoreOp {
        StoreOp::Put {
            table: Table::LocalList,
            key: VERSION_KEY.into(),
            value: Value::from(self.version),
        }
    }
}

/// The switches of the offline decision (configuration keys).
#[derive(Clone, Copy, Debug)]
pub struct OfflinePolicy {
    pub local_list_enabled: bool,
    pub cache_enabled: bool,
    pub local_authorize_offline: bool,
    pub allow_offline_tx_for_unknown_id: bool,
}

/// Which rule decided, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecidedBy {
    LocalList,
    Cache,
    Unknown,
}

/// The outcome of the offline decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfflineDecision {
    pub accept: bool,
    pub by: DecidedBy,
    /// The parent id tag, if the list or cache knows it.
    pub parent: Option<String>,
}

/// Decides on a tag without the central system, first match wins: local list, cache, unknown.
pub fn offline_decision(
    tag: &str,
    list: &LocalList,
    cache: &Cache,
    policy: OfflinePolicy,
    now: DateTime<Utc>,
) -> OfflineDecision {
    if policy.local_list_enabled {
        if let Some(rec) = list.get(tag) {
            return OfflineDecision {
                accept: rec.is_valid(now) && policy.local_authorize_offline,
                by: DecidedBy::LocalList,
                parent: rec.parent.clone(),
            };
        }
    }
    if policy.cache_enabled {
        if let Some(rec) = cache.get(tag) {
            return OfflineDecision {
                accept: rec.is_valid(now) && policy.local_authorize_offline,
                by: DecidedBy::Cache,
                parent: rec.parent.clone(),
            };
        }
    }
    OfflineDecision {
        accept: policy.allow_offline_tx_for_unknown_id,
        by: DecidedBy::Unknown,
        parent: None,
    }
}
