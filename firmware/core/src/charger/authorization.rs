//! Presented id tags: start, stop, release a held lock; online Authorize or the offline decision.

use rust_ocpp::v1_6::messages::authorize::AuthorizeRequest;
use rust_ocpp::v1_6::types::{AuthorizationStatus, IdTagInfo, Reason};
use serde_json::Value;

use super::link::{CallKind, WaitingCall};
use super::session::{AuthPurpose, Authorized};
use super::start_gate::StartStep;
use super::{keys, Charger};
use crate::auth::{self, OfflinePolicy};
use crate::config::Key;

impl Charger {
    fn policy(&self) -> OfflinePolicy {
        OfflinePolicy {
            local_list_enabled: self.config.flag(Key::LocalAuthListEnabled),
            cache_enabled: self.config.flag(Key::AuthorizationCacheEnabled),
            local_authorize_offline: self.config.flag(Key::LocalAuthorizeOffline),
            allow_offline_tx_for_unknown_id: self.config.flag(Key::AllowOfflineTxForUnknownId),
        }
    }

    /// The parent of `tag` as the local list or cache knows it.
    fn known_parent(&self, tag: &str) -> Option<String> {
        let p = self.policy();
        if p.local_list_enabled {
            if let Some(r) = self.list.get(tag) {
                return r.parent.clone();
            }
        }
        if p.cache_enabled {
            if let Some(r) = self.cache.get(tag) {
                return r.parent.clone();
            }
        }
        None
    }

    /// The local list or cache hold `tag` as valid (for LocalPreAuthorize).
    fn locally_valid(&self, tag: &str) -> Option<Option<String>> {
        let p = self.policy();
        let now = self.now.utc;
        if p.local_list_enabled {
            if let Some(r) = self.list.get(tag) {
                return r.is_valid(now).then(|| r.parent.clone());
            }
        }
        if p.cache_enabled {
            if let Some(r) = self.cache.get(tag) {
                return r.is_valid(now).then(|| r.parent.clone());
            }
        }
        None
    }

    /// A tag was presented (card, or the serial number in free-charge mode).
    pub(super) fn present_tag(&mut self, tag: &str) {
        if tag.is_empty() || tag.len() > 20 {
            tracing::warn!(%tag, "ignoring id tag that is not 1..=20 characters");
            return;
        }
        if self.reset_pending.is_some() {
            tracing::info!(%tag, "resetting: tag ignored");
            return;
        }
        // A DeAuthorized stop left the cable locked: the same tag or parent releases it.
        if let Some(hold) = self.connector.hold.clone() {
            if hold.tag.eq_ignore_ascii_case(tag) || self.same_parent(tag, hold.parent.as_deref()) {
                self.release_hold();
                return;
            }
            if hold.parent.is_some() && self.link.online() && self.known_parent(tag).is_none() {
                self.send_authorize(tag, AuthPurpose::ReleaseHold);
            }
            return;
        }
        if let Some(tx) = self.session.tx.clone() {
            if tx.tag.eq_ignore_ascii_case(tag) {
                // §4.1: the same tag stops without asking the central system.
                self.stop_transaction(Reason::Local, Some(tag));
            } else if self.same_parent(tag, tx.parent.as_deref()) {
                self.stop_transaction(Reason::Local, Some(tag));
            } else if tx.parent.is_some() && self.link.online() && !self.session.auth_pending {
                self.send_authorize(tag, AuthPurpose::Stop);
            } else {
                tracing::info!(%tag, "tag does not belong to the running transaction");
            }
            return;
        }
        if let Err(why) = self.may_start(StartStep::AcceptTag) {
            tracing::info!(%tag, ?why, "a session cannot start now; tag ignored");
            return;
        }
        if self.link.online() {
            if self.config.flag(Key::LocalPreAuthorize) {
                if let Some(parent) = self.locally_valid(tag) {
                    tracing::info!(%tag, "authorized locally (LocalPreAuthorize)");
                    self.grant(tag, parent);
                    return;
                }
            }
            self.send_authorize(tag, AuthPurpose::Start);
        } else {
            self.decide_offline(tag);
        }
    }

    /// `tag` has `parent` as its parent id tag, according to the list or cache.
    fn same_parent(&self, tag: &str, parent: Option<&str>) -> bool {
        match (parent, self.known_parent(tag)) {
            (Some(p), Some(q)) => p.eq_ignore_ascii_case(&q),
            _ => false,
        }
    }

    fn send_authorize(&mut self, tag: &str, purpose: AuthPurpose) {
        let payload = serde_json::to_value(AuthorizeRequest {
            id_tag: tag.to_string(),
        })
        .unwrap_or(Value::Null);
        if purpose == AuthPurpose::Start {
            self.session.auth_pending = true;
            let secs = self.config.uint(Key::AuthorizeTimeout);
            self.session.auth_deadline_ms =
                (secs > 0).then(|| self.now.mono_ms.saturating_add(secs * 1000));
        }
        self.link.waiting.push_back(WaitingCall {
            payload,
            kind: CallKind::Authorize {
                tag: tag.to_string(),
                purpose,
            },
            triggered: false,
        });
    }

    /// AuthorizeTimeout passed since the tag was presented and the Authorize to start has no
    /// answer: it is withdrawn (from the waiting CALLs, or from flight: a late answer is then
    /// ignored) and the offline decision is made, so a card never waits behind a hung
    /// StatusNotification for 2 × MessageTimeout (issue 9.6).
    pub(super) fn authorize_timed_out(&mut self) {
        if self
            .session
            .auth_deadline_ms
            .is_none_or(|d| self.now.mono_ms < d)
        {
            return;
        }
        self.session.auth_deadline_ms = None;
        let is_start = |k: &CallKind| {
            matches!(
                k,
                CallKind::Authorize {
                    purpose: AuthPurpose::Start,
                    ..
                }
            )
        };
        let kind = if self
            .link
            .outstanding
            .as_ref()
            .is_some_and(|o| is_start(&o.kind))
        {
            self.link.outstanding.take().map(|o| o.kind)
        } else {
            let pos = self.link.waiting.iter().position(|c| is_start(&c.kind));
            pos.and_then(|p| self.link.waiting.remove(p))
                .map(|c| c.kind)
        };
        if let Some(CallKind::Authorize { tag, purpose }) = kind {
            tracing::warn!(%tag, "no Authorize answer within AuthorizeTimeout");
            self.on_authorize_result(&tag, purpose, None);
        }
    }

    /// The offline decision (offline-behaviour.md): local list, cache, unknown.
    pub(super) fn decide_offline(&mut self, tag: &str) {
        let d = auth::offline_decision(tag, &self.list, &self.cache, self.policy(), self.now.utc);
        tracing::info!(%tag, accept = d.accept, by = ?d.by, "offline authorization decision");
        if d.accept {
            self.grant(tag, d.parent);
        }
    }

    /// Authorizes `tag` to start; the transaction starts when the EV is (or gets) plugged in.
    pub(super) fn grant(&mut self, tag: &str, parent: Option<String>) {
        let timeout_ms = self.config.uint(Key::ConnectionTimeOut) * 1000;
        self.session.authorized = Some(Authorized {
            tag: tag.to_string(),
            parent,
            expires_ms: self.now.mono_ms + timeout_ms,
        });
        self.try_start_transaction();
        self.update_hardware();
    }

    /// The answer to an Authorize (`None`: no answer — timeout, CallError or link lost).
    pub(super) fn on_authorize_result(
        &mut self,
        tag: &str,
        purpose: AuthPurpose,
        info: Option<IdTagInfo>,
    ) {
        if purpose == AuthPurpose::Start {
            self.session.auth_pending = false;
            self.session.auth_deadline_ms = None;
        }
        let Some(info) = info else {
            if purpose == AuthPurpose::Start {
                tracing::warn!(%tag, "no Authorize answer: falling back to the offline decision");
                self.decide_offline(tag);
            }
            return;
        };
        self.learn(tag, &info);
        let accepted = info.status == AuthorizationStatus::Accepted
            && info.expiry_date.is_none_or(|e| e > self.now.utc);
        match purpose {
            AuthPurpose::Start => {
                if accepted {
                    self.grant(tag, info.parent_id_tag.clone());
                } else {
                    tracing::info!(%tag, status = ?info.status, "authorization refused");
                }
            }
            AuthPurpose::Stop => {
                let parent = self.session.tx.as_ref().and_then(|t| t.parent.clone());
                if let (Some(p), Some(q)) = (parent, info.parent_id_tag.as_deref()) {
                    if p.eq_ignore_ascii_case(q) && self.session.tx.is_some() {
                        self.stop_transaction(Reason::Local, Some(tag));
                    }
                }
            }
            AuthPurpose::ReleaseHold => {
                let parent = self.connector.hold.as_ref().and_then(|h| h.parent.clone());
                if let (Some(p), Some(q)) = (parent, info.parent_id_tag.as_deref()) {
                    if p.eq_ignore_ascii_case(q) {
                        self.release_hold();
                    }
                }
            }
        }
    }

    /// Updates the cache from an IdTagInfo (never for tags in the local list: an answer that
    /// contradicts the list is reported as LocalListConflict on connector 0, §3.5.2, and the
    /// list stays as it is).
    pub(super) fn learn(&mut self, tag: &str, info: &IdTagInfo) {
        if self.config.flag(Key::LocalAuthListEnabled) {
            if let Some(rec) = self.list.get(tag) {
                let list_ok = rec.is_valid(self.now.utc);
                let conf_ok = info.status == AuthorizationStatus::Accepted;
                if list_ok != conf_ok {
                    tracing::warn!(%tag, "central system answer contradicts the local list");
                    self.queue_local_list_conflict();
                }
                return;
            }
        }
        if !self.config.flag(Key::AuthorizationCacheEnabled) {
            return;
        }
        let ops = self.cache.update(tag, info, self.now.utc);
        self.persist(ops);
    }

    pub(super) fn release_hold(&mut self) {
        if let Some(h) = self.connector.hold.take() {
            tracing::info!(tag = %h.tag, "cable lock released");
            self.delete_state(keys::HOLD);
            self.update_hardware();
        }
    }
}
