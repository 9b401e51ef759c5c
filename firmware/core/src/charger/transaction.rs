//! Transactions: start, stop, power-loss recovery, late rejection (StartTransaction.conf).

use chrono::{DateTime, Utc};
use rust_ocpp::v1_6::messages::start_transaction::StartTransactionRequest;
use rust_ocpp::v1_6::messages::stop_transaction::StopTransactionRequest;
use rust_ocpp::v1_6::types::{AuthorizationStatus, IdTagInfo, MeterValue, ReadingContext, Reason};
use serde_json::Value;

use super::connector::Hold;
use super::session::Transaction;
use super::start_gate::StartStep;
use super::{keys, ts, Charger};
use crate::config::Key;
use crate::queue::TxAction;

impl Charger {
    /// Starts a transaction when a tag is authorized and the EV is plugged in (either order).
    pub(super) fn try_start_transaction(&mut self) {
        if self.may_start(StartStep::Begin).is_err() {
            return;
        }
        let Some(a) = self.session.authorized.take() else {
            return;
        };
        self.start_transaction(&a.tag, a.parent);
    }

    fn start_transaction(&mut self, tag: &str, parent: Option<String>) {
        let local_id = self.session.next_local_tx;
        self.session.next_local_tx += 1;
        let meter_start = self.meter.wh();
        let start_time = ts(self.now.utc);
        let tx = Transaction {
            local_id,
            tag: tag.to_string(),
            parent,
            meter_start,
            start_time,
            invalid: false,
            suspended: false,
            data: Vec::new(),
        };
        tracing::info!(local_tx = local_id, %tag, meter_start, "transaction started");
        let req = StartTransactionRequest {
            connector_id: 1,
            id_tag: tag.to_string(),
            meter_start: meter_start.min(i32::MAX as u64) as i32,
            reservation_id: None,
            timestamp: start_time,
        };
        let (_, op) = self.outbox.queue.push(
            TxAction::StartTransaction,
            local_id,
            serde_json::to_value(req).unwrap_or(Value::Null),
        );
        self.persist(vec![op]);
        self.put_state(keys::NEXT_TX, Value::from(self.session.next_local_tx));
        self.put_state(keys::TX, serde_json::to_value(&tx).unwrap_or(Value::Null));
        self.persist_meter();
        self.session.tx = Some(tx);
        self.collect_stop_data(start_time, ReadingContext::TransactionBegin, None);
        self.connector.finishing = false;
        let interval = self.config.uint(Key::MeterValueSampleInterval);
        self.session.restart_sampling(interval, self.now.mono_ms);
        self.update_hardware();
    }

    /// Stops the running transaction: queues StopTransaction with the event time.
    pub(super) fn stop_transaction(&mut self, reason: Reason, tag: Option<&str>) {
        let Some(tx) = self.session.tx.take() else {
            return;
        };
        // The contactor opens before the stop is recorded.
        self.update_hardware();
        let meter_stop = self.meter.wh();
        tracing::info!(
            local_tx = tx.local_id,
            ?reason,
            meter_stop,
            "transaction stopped"
        );
        // Never before the start, even if an adopted central-system clock went back meanwhile.
        let time = ts(self.now.utc).max(tx.start_time);
        let data = self.stop_data(&tx, time);
        self.queue_stop(&tx, reason.clone(), tag, meter_stop, time, data);
        self.delete_state(keys::TX);
        self.persist_meter();
        self.session.next_sample_ms = None;
        self.session.authorized = None;
        self.connector.finishing = self.connector.pilot.plugged();
        // DeAuthorized, or unplugged at the EV with UnlockConnectorOnEVSideDisconnect false: the
        // cable stays locked until the same tag (or one with the same parent) is presented.
        if reason == Reason::DeAuthorized
            || (reason == Reason::EVDisconnected
                && !self.config.flag(Key::UnlockConnectorOnEVSideDisconnect))
        {
            let hold = Hold {
                tag: tx.tag.clone(),
                parent: tx.parent.clone(),
            };
            self.put_state(
                keys::HOLD,
                serde_json::to_value(&hold).unwrap_or(Value::Null),
            );
            self.connector.hold = Some(hold);
        }
        if self.connector.unavailable_scheduled {
            self.connector.unavailable_scheduled = false;
            self.connector.available = false;
            self.put_state(keys::AVAILABLE, Value::from(false));
        }
        self.update_hardware();
    }

    fn queue_stop(
        &mut self,
        tx: &Transaction,
        reason: Reason,
        tag: Option<&str>,
        meter_stop: u64,
        time: DateTime<Utc>,
        transaction_data: Option<Vec<MeterValue>>,
    ) {
        let req = StopTransactionRequest {
            id_tag: tag.map(str::to_string),
            meter_stop: meter_stop.min(i32::MAX as u64) as i32,
            timestamp: time,
            transaction_id: -1,
            reason: Some(reason),
            transaction_data,
        };
        let (_, op) = self.outbox.queue.push(
            TxAction::StopTransaction,
            tx.local_id,
            serde_json::to_value(req).unwrap_or(Value::Null),
        );
        self.persist(vec![op]);
    }

    /// Power came back with a transaction open: stop it with reason PowerLoss, the last
    /// persisted meter reading and the time of that reading (our decision).
    pub(super) fn stop_after_power_loss(&mut self, tx: Transaction) {
        let wh = self.meter.persisted_wh.max(tx.meter_start);
        let time = self.meter.persisted_time.max(tx.start_time);
        tracing::warn!(
            local_tx = tx.local_id,
            wh,
            "stopping transaction interrupted by power loss"
        );
        let data = self.stop_data(&tx, ts(time));
        self.queue_stop(&tx, Reason::PowerLoss, None, wh, ts(time), data);
        self.delete_state(keys::TX);
    }

    /// A StartTransaction.conf arrived for our transaction `local_id`.
    pub(super) fn on_start_confirmed(
        &mut self,
        local_id: u64,
        tag: &str,
        tx_id: i32,
        info: &IdTagInfo,
    ) {
        self.outbox.tx_ids.insert(local_id, tx_id);
        self.put_state(
            &format!("{}{local_id:020}", keys::TXID_PREFIX),
            Value::from(tx_id),
        );
        self.learn(tag, info);
        let running = self
            .session
            .tx
            .as_ref()
            .is_some_and(|t| t.local_id == local_id);
        if !running {
            return;
        }
        if let Some(tx) = self.session.tx.as_mut() {
            if tx.parent.is_none() {
                tx.parent = info.parent_id_tag.clone();
            }
        }
        if info.status != AuthorizationStatus::Accepted {
            tracing::warn!(local_tx = local_id, status = ?info.status, "transaction rejected late");
            if self.config.flag(Key::StopTransactionOnInvalidId) {
                self.stop_transaction(Reason::DeAuthorized, None);
                return;
            }
            if let Some(tx) = self.session.tx.as_mut() {
                tx.invalid = true;
            }
            self.check_invalid_energy();
        }
        if let Some(tx) = &self.session.tx {
            let v = serde_json::to_value(tx).unwrap_or(Value::Null);
            self.put_state(keys::TX, v);
        }
    }
}
