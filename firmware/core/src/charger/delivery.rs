//! Sending CALLs one at a time and routing their answers; the transaction-queue retry rules.

use serde_json::Value;

use super::link::{CallKind, Outstanding, Registration};
use super::{keys, Charger};
use crate::config::Key;
use crate::confs;
use crate::io::Output;
use crate::ocppj::{self, ErrorCode, Frame};
use crate::queue::{Failure, TxAction};

impl Charger {
    /// Sends one CALL and remembers it as outstanding.
    pub(super) fn send_call(&mut self, payload: Value, kind: CallKind) {
        let action = kind.action();
        let id = self.link.next_message_id();
        let frame = ocppj::call(&id, action, &payload);
        tracing::debug!(%id, action, "sending CALL");
        self.link.outstanding = Some(Outstanding {
            id,
            kind,
            deadline_ms: self.now.mono_ms + self.message_timeout_ms(),
            sent_ms: self.now.mono_ms,
        });
        self.link.last_sent_ms = self.now.mono_ms;
        self.emit(Output::Send(frame));
    }

    /// Sends the next CALL if none is in flight: waiting requests first (they may overtake the
    /// queue), then the head of the transaction queue once its retry time has come.
    pub(super) fn pump(&mut self) {
        if !self.link.connected || self.link.outstanding.is_some() || self.link.rejected() {
            return;
        }
        if self.reset_pending.is_some() {
            // A pending Reset serves only the transaction queue up to its StopTransaction.
            if self.reset_delivering() {
                self.send_queue_head();
            }
            return;
        }
        if self.link.registration != Registration::Accepted {
            // Pending / not yet answered: only what TriggerMessage asked for.
            if let Some(pos) = self.link.waiting.iter().position(|c| c.triggered) {
                let call = self.link.waiting.remove(pos).expect("position is valid");
                self.send_call(call.payload, call.kind);
            }
            return;
        }
        if let Some(call) = self.link.waiting.pop_front() {
            self.send_call(call.payload, call.kind);
            return;
        }
        if self.outbox.head_due(self.now.mono_ms) {
            self.send_queue_head();
        }
    }

    /// Sends the head of the transaction queue, with the transactionId known by now.
    fn send_queue_head(&mut self) {
        let Some((seq, msg)) = self.outbox.queue.head() else {
            return;
        };
        let mut payload = msg.payload.clone();
        let action = msg.action;
        if action != TxAction::StartTransaction {
            let id = self.outbox.tx_ids.get(&msg.local_tx).copied().unwrap_or(-1);
            if let Some(obj) = payload.as_object_mut() {
                obj.insert("transactionId".into(), Value::from(id));
            }
        }
        self.send_call(payload, CallKind::Tx { seq, action });
    }

    /// One inbound text frame.
    pub(super) fn on_frame(&mut self, text: &str) {
        let rejected = self.link.rejected();
        match ocppj::parse(text) {
            // Rejected: answer nothing (§4.2); answers to our own BootNotification still count.
            Err(_) | Ok(Frame::Call { .. }) if rejected => {
                tracing::info!("registration rejected: ignoring inbound request");
            }
            Err(bad) => {
                tracing::warn!(reason = %bad.reason, "bad frame from the central system");
                if let Some(id) = bad.id {
                    let frame = ocppj::call_error(&id, bad.code, &bad.reason);
                    self.emit(Output::Send(frame));
                }
            }
            Ok(Frame::Call {
                id,
                action,
                payload,
            }) => self.on_call(&id, &action, &payload),
            Ok(Frame::CallResult { id, payload }) => match self.link.take_outstanding(&id) {
                Some(o) => {
                    let rtt_ms = self.now.mono_ms.saturating_sub(o.sent_ms);
                    self.on_call_result(o.kind, &payload, rtt_ms)
                }
                None => tracing::warn!(%id, "CALLRESULT for no outstanding request: ignored"),
            },
            Ok(Frame::CallError {
                id,
                code,
                description,
            }) => match self.link.take_outstanding(&id) {
                Some(o) => {
                    tracing::warn!(%id, %code, %description, "CALLERROR from the central system");
                    self.on_call_failed(o.kind, true);
                }
                None => tracing::warn!(%id, "CALLERROR for no outstanding request: ignored"),
            },
        }
    }

    /// A frame too large for the shell: a CALL still gets its CallError (J§4.2.3, a received
    /// CALL that cannot be handled), with the id recovered from the frame's beginning. An
    /// oversized CALLRESULT/CALLERROR is left to its request's timeout.
    pub(super) fn on_oversized_frame(&mut self, head: &str, len: usize) {
        let id = ocppj::recover_id(head);
        tracing::warn!(len, id = ?id, "oversized frame from the central system");
        if self.link.rejected() {
            return;
        }
        if let Some(id) = id {
            let frame = ocppj::call_error(
                &id,
                ErrorCode::GenericError,
                &format!("message of {len} bytes is too large for this charge point"),
            );
            self.emit(Output::Send(frame));
        }
    }

    /// `rtt_ms`: how long the answer took (for the clock).
    fn on_call_result(&mut self, kind: CallKind, payload: &Value, rtt_ms: u64) {
        match kind {
            CallKind::Boot => {
                let conf = confs::boot_conf(payload);
                if conf.is_none() {
                    tracing::warn!("malformed BootNotification.conf");
                }
                let time = conf.as_ref().and_then(|c| c.current_time);
                self.on_boot_result(conf);
                self.sync_clock(time, rtt_ms);
            }
            CallKind::Heartbeat => {
                let time = payload.get("currentTime").and_then(confs::date_time);
                self.sync_clock(time, rtt_ms);
            }
            CallKind::Status { .. } | CallKind::TriggeredMeter => {}
            CallKind::Authorize { tag, purpose } => {
                let info = confs::authorize_conf(payload);
                self.on_authorize_result(&tag, purpose, info);
            }
            CallKind::Tx { seq, .. } => self.on_tx_result(seq, payload),
        }
    }

    fn on_tx_result(&mut self, seq: u64, payload: &Value) {
        self.on_tx_delivered(seq, payload);
        self.forget_tx_ids_if_drained();
    }

    fn on_tx_delivered(&mut self, seq: u64, payload: &Value) {
        let Some(msg) = self.outbox.queue.get(seq).cloned() else {
            return;
        };
        match msg.action {
            TxAction::StartTransaction => {
                let Some((info, transaction_id)) = confs::start_conf(payload) else {
                    tracing::warn!(%payload, "malformed StartTransaction.conf: counted as a failed attempt");
                    self.fail_tx(seq);
                    return;
                };
                if let Some((_, op)) = self.outbox.queue.remove(seq) {
                    self.persist(vec![op]);
                }
                let tag = msg
                    .payload
                    .get("idTag")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                self.on_start_confirmed(msg.local_tx, &tag, transaction_id, &info);
            }
            TxAction::StopTransaction => {
                if let Some((_, op)) = self.outbox.queue.remove(seq) {
                    self.persist(vec![op]);
                }
                if let (Some(info), Some(tag)) = (
                    confs::stop_conf(payload),
                    msg.payload.get("idTag").and_then(Value::as_str),
                ) {
                    let tag = tag.to_string();
                    self.learn(&tag, &info);
                }
                self.forget_tx_id(msg.local_tx);
            }
            TxAction::MeterValues => {
                if let Some((_, op)) = self.outbox.queue.remove(seq) {
                    self.persist(vec![op]);
                }
            }
        }
    }

    /// The transaction's messages are all delivered: its id mapping is no longer needed.
    fn forget_tx_id(&mut self, local_tx: u64) {
        if self
            .session
            .tx
            .as_ref()
            .is_some_and(|t| t.local_id == local_tx)
        {
            return;
        }
        if self.outbox.queue.has_messages_for(local_tx) {
            return;
        }
        if self.outbox.tx_ids.remove(&local_tx).is_some() {
            self.delete_state(&format!("{}{local_tx:020}", keys::TXID_PREFIX));
        }
    }

    /// Once the queue is empty, no mapping is needed but the running transaction's. Drops one
    /// that `has_messages_for` kept because messages on disk might have carried it (a
    /// StopTransaction delivered at the edge of the memory window).
    fn forget_tx_ids_if_drained(&mut self) {
        if !self.outbox.queue.is_empty() {
            return;
        }
        let running = self.session.tx.as_ref().map(|t| t.local_id);
        let stale: Vec<u64> = self
            .outbox
            .tx_ids
            .keys()
            .copied()
            .filter(|l| Some(*l) != running)
            .collect();
        for local_tx in stale {
            self.outbox.tx_ids.remove(&local_tx);
            self.delete_state(&format!("{}{local_tx:020}", keys::TXID_PREFIX));
        }
    }

    /// A CALL got no usable answer. `live`: on a live connection (CallError or timeout), which
    /// counts as a failed attempt; otherwise the link dropped and nothing is counted.
    pub(super) fn on_call_failed(&mut self, kind: CallKind, live: bool) {
        match kind {
            CallKind::Boot => self.on_boot_result(None),
            CallKind::Authorize { tag, purpose } => self.on_authorize_result(&tag, purpose, None),
            CallKind::Status { connector } => {
                if !live {
                    self.reports.reported[connector as usize] = None;
                }
            }
            CallKind::Heartbeat | CallKind::TriggeredMeter => {}
            CallKind::Tx { seq, .. } => {
                // With storage stuck the shell holds a CALL until its commit is through, so it
                // most likely never went out: not a failed attempt (TransactionMessageAttempts
                // must not drop a message the central system never saw). The shell drops the
                // stale copy; the message stays at the head and goes again.
                if live && !self.storage_stalled {
                    self.fail_tx(seq);
                }
                // A pending Reset does not wait for retries: the rest stays queued.
                if let Some(r) = self.reset_pending.as_mut() {
                    r.gave_up = true;
                }
            }
        }
    }

    fn fail_tx(&mut self, seq: u64) {
        let retry_ms = self.config.uint(Key::TransactionMessageRetryInterval) * 1000;
        let attempts = self.config.uint(Key::TransactionMessageAttempts) as u32;
        let Some((failure, op)) = self.outbox.queue.fail(seq, self.now, retry_ms, attempts) else {
            return;
        };
        self.persist(vec![op]);
        match failure {
            Failure::Retry { at_ms } => {
                tracing::warn!(
                    seq,
                    retry_in_ms = at_ms - self.now.mono_ms,
                    "transaction message failed; will retry"
                );
            }
            Failure::Dropped(msg) => {
                tracing::error!(
                    seq,
                    action = msg.action.as_str(),
                    "transaction message dropped after TransactionMessageAttempts"
                );
                match msg.action {
                    TxAction::StartTransaction => {
                        self.outbox.tx_ids.insert(msg.local_tx, -1);
                        self.put_state(
                            &format!("{}{:020}", keys::TXID_PREFIX, msg.local_tx),
                            Value::from(-1),
                        );
                    }
                    TxAction::StopTransaction => self.forget_tx_id(msg.local_tx),
                    TxAction::MeterValues => {}
                }
                self.forget_tx_ids_if_drained();
            }
        }
    }
}
