//! The charger's local interface: what the installer's configuration panel asks of the core
//! ([`LocalRequest`] in, [`LocalReply`] out) and the read-only views it shows.
//!
//! A change made locally takes exactly the path of the matching central-system request (same
//! validation, persistence, effect and log line), so the panel can never accept what
//! ChangeConfiguration would refuse, nor store a value differently.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::link::Registration;
use super::{keys, Charger};
use crate::config::{self, ConfigError};
use crate::io::Output;
use crate::status::ConnectorStatus;

/// How the charger authorizes a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorizationMode {
    /// A card (RFID) is presented and authorized.
    Rfid,
    /// Free charge: plugging in authorizes with the serial number as the id tag.
    Free,
}

impl AuthorizationMode {
    /// `rfid` or `free`, as in the config file (`[charger] authorization`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizationMode::Rfid => "rfid",
            AuthorizationMode::Free => "free",
        }
    }
}

/// A request from the local interface, fed as [`crate::Input::Local`]. The core answers every
/// one with exactly one [`Output::Local`], emitted after the change is persisted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalRequest {
    /// As ChangeConfiguration from the central system.
    ChangeConfiguration { key: String, value: String },
    /// RFID or free charge; persisted in the data directory, wins over the config file.
    SetAuthorizationMode(AuthorizationMode),
    /// As ClearCache from the central system.
    ClearCache,
    /// As a soft Reset from the central system (a running transaction is stopped first).
    Reboot,
}

/// The core's answer to a [`LocalRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalReply {
    /// Done (and persisted).
    Accepted,
    /// Stored; takes effect after a reboot.
    RebootRequired,
    /// Refused: nothing changed. `reason` is for the installer.
    Rejected { reason: String },
}

/// A configuration key as the panel lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    pub key: &'static str,
    /// `None` for a write-only key (`AuthorizationKey`): see `is_set`.
    pub value: Option<String>,
    /// Whether the key has a (non-empty) value; the only thing shown of a write-only key.
    pub is_set: bool,
    pub readonly: bool,
}

/// The transaction in progress, as the panel shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionView {
    pub local_id: u64,
    /// The central system's id once StartTransaction.conf arrived.
    pub transaction_id: Option<i32>,
    pub id_tag: String,
    pub started: DateTime<Utc>,
    pub meter_start_wh: u64,
}

/// Everything the panel's status page shows that the core knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalStatus {
    pub serial_number: String,
    pub charge_point_id: String,
    pub vendor: String,
    pub model: String,
    pub firmware_version: String,
    /// WebSocket up.
    pub connected: bool,
    /// BootNotification answer in this power cycle (`None` before one).
    pub registration: Option<&'static str>,
    /// Connected and registration Accepted: what the board reports as online.
    pub online: bool,
    pub connector_status: ConnectorStatus,
    pub transaction: Option<TransactionView>,
    pub energy_wh: u64,
    pub queued_messages: usize,
    pub cache_entries: usize,
    pub local_list_version: i32,
    /// `SecurityProfile` when this firmware has that key, else 0.
    pub security_profile: String,
    pub authorization: AuthorizationMode,
    /// The charger's clock (the central system's once adopted).
    pub time: DateTime<Utc>,
}

impl Charger {
    /// Handles one local request; emits its [`Output::Local`] answer.
    pub(super) fn on_local(&mut self, req: LocalRequest) {
        match req {
            LocalRequest::ChangeConfiguration { key, value } => {
                // The limits of ChangeConfiguration.req's CiString50 key and CiString500 value.
                let too_long = if key.chars().count() > 50 {
                    Some("the key is longer than 50 characters")
                } else if value.chars().count() > 500 {
                    Some("the value is longer than 500 characters")
                } else {
                    None
                };
                if let Some(reason) = too_long {
                    tracing::warn!(reason, "local configuration change rejected");
                    self.emit(Output::Local(LocalReply::Rejected {
                        reason: reason.into(),
                    }));
                    return;
                }
                let reply = match self.apply_configuration_change(&key, &value) {
                    Ok(true) => LocalReply::RebootRequired,
                    Ok(false) => LocalReply::Accepted,
                    Err(ConfigError::UnknownKey { .. }) => LocalReply::Rejected {
                        reason: format!("unknown configuration key `{key}`"),
                    },
                    Err(ConfigError::InvalidValue { reason, .. }) => {
                        LocalReply::Rejected { reason }
                    }
                    Err(e) => LocalReply::Rejected {
                        reason: e.to_string(),
                    },
                };
                self.emit(Output::Local(reply));
            }
            LocalRequest::SetAuthorizationMode(mode) => {
                let free = mode == AuthorizationMode::Free;
                if self.settings.free_charge != free {
                    tracing::info!(mode = mode.as_str(), "authorization mode changed");
                }
                self.settings.free_charge = free;
                self.put_state(keys::FREE_CHARGE, Value::from(free));
                self.emit(Output::Local(LocalReply::Accepted));
            }
            LocalRequest::ClearCache => {
                let reply = if self.clear_authorization_cache() {
                    LocalReply::Accepted
                } else {
                    LocalReply::Rejected {
                        reason: "the authorization cache is disabled (AuthorizationCacheEnabled is false)"
                            .into(),
                    }
                };
                self.emit(Output::Local(reply));
            }
            LocalRequest::Reboot => {
                // The answer goes out before the Reboot output the reset may emit at once.
                self.emit(Output::Local(LocalReply::Accepted));
                self.reset(false);
            }
        }
    }

    /// The configuration keys in GetConfiguration order, write-only ones masked.
    pub fn local_configuration(&self) -> Vec<ConfigEntry> {
        config::KEYS
            .iter()
            .map(|def| {
                let value = self.config.value(def.key);
                let write_only = def.write_only;
                ConfigEntry {
                    key: def.name,
                    is_set: !value.is_empty(),
                    value: (!write_only).then(|| value.to_string()),
                    readonly: def.readonly,
                }
            })
            .collect()
    }

    /// The status page's facts.
    pub fn local_status(&self) -> LocalStatus {
        let s = &self.settings;
        LocalStatus {
            serial_number: s.serial_number.clone(),
            charge_point_id: s.charge_point_id.clone(),
            vendor: s.vendor.clone(),
            model: s.model.clone(),
            firmware_version: s.firmware_version.clone(),
            connected: self.link.connected,
            registration: match self.link.registration {
                Registration::Unknown => None,
                Registration::Pending => Some("Pending"),
                Registration::Accepted => Some("Accepted"),
                Registration::Rejected => Some("Rejected"),
            },
            online: self.link.online(),
            connector_status: self.connector_status(),
            transaction: self.session.tx.as_ref().map(|t| TransactionView {
                local_id: t.local_id,
                transaction_id: self.outbox.tx_ids.get(&t.local_id).copied(),
                id_tag: t.tag.clone(),
                started: t.start_time,
                meter_start_wh: t.meter_start,
            }),
            energy_wh: self.meter.wh(),
            queued_messages: self.outbox.queue.len(),
            cache_entries: self.cache.len(),
            local_list_version: self.list.reported_version(),
            security_profile: self
                .config
                .get("SecurityProfile")
                .unwrap_or("0")
                .to_string(),
            authorization: if s.free_charge {
                AuthorizationMode::Free
            } else {
                AuthorizationMode::Rfid
            },
            time: self.now.utc,
        }
    }
}

/// The authorization mode stored by a [`LocalRequest::SetAuthorizationMode`], if any.
pub(super) fn restored_free_charge(state: Option<Value>) -> Option<bool> {
    state.and_then(|v| v.as_bool())
}
