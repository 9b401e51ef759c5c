//! Meter values: periodic samples (MeterValueSampleInterval), clock-aligned samples
//! (ClockAlignedDataInterval) and the transaction's transactionData for StopTransaction.

use chrono::{DateTime, Utc};
use rust_ocpp::v1_6::messages::meter_values::MeterValuesRequest;
use rust_ocpp::v1_6::types::{Measurand, MeterValue, ReadingContext, SampledValue, UnitOfMeasure};
use serde_json::Value;

use super::link::{CallKind, WaitingCall};
use super::session::Transaction;
use super::{keys, ts, Charger};
use crate::config::Key;
use crate::meter::VOLTS;
use crate::queue::TxAction;

impl Charger {
    /// Queues a periodic MeterValues sample, stamped with the time it was due.
    pub(super) fn sample_meter_values(&mut self) {
        let Some(due) = self.session.next_sample_ms else {
            return;
        };
        if self.now.mono_ms < due || self.session.tx.is_none() {
            return;
        }
        let interval_ms = self.config.uint(Key::MeterValueSampleInterval) * 1000;
        let late = self.now.mono_ms - due;
        let at = self.now.utc - chrono::Duration::milliseconds(late as i64);
        let local_id = self
            .session
            .tx
            .as_ref()
            .map(|t| t.local_id)
            .unwrap_or_default();
        let mv = self.meter_value(
            ts(at),
            ReadingContext::SamplePeriodic,
            Key::MeterValuesSampledData,
        );
        let req = MeterValuesRequest {
            connector_id: 1,
            transaction_id: Some(-1),
            meter_value: vec![mv],
        };
        let (_, op) = self.outbox.queue.push(
            TxAction::MeterValues,
            local_id,
            serde_json::to_value(req).unwrap_or(Value::Null),
        );
        self.persist(vec![op]);
        self.collect_stop_data(
            ts(at),
            ReadingContext::SamplePeriodic,
            Some(Key::StopTxnSampledData),
        );
        self.session.next_sample_ms = if interval_ms == 0 {
            None
        } else if late >= interval_ms {
            // Far behind (the shell stalled): resume the rhythm from now rather than bursting.
            Some(self.now.mono_ms + interval_ms)
        } else {
            Some(due + interval_ms)
        };
    }

    /// ClockAlignedDataInterval: a sample of MeterValuesAlignedData at every boundary of the
    /// interval counted from midnight UTC. During a transaction it goes through the queue (it is
    /// transaction data); otherwise it is sent if online and skipped if not.
    pub(super) fn sample_clock_aligned(&mut self) {
        let interval = self.config.uint(Key::ClockAlignedDataInterval) as i64;
        if interval == 0 {
            self.session.next_aligned = None;
            return;
        }
        let now = self.now.utc;
        let next_boundary = |t: DateTime<Utc>| {
            let midnight = t
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .map(|m| m.and_utc())
                .unwrap_or(t);
            let since = (t - midnight).num_seconds();
            midnight + chrono::Duration::seconds((since / interval + 1) * interval)
        };
        let Some(due) = self.session.next_aligned else {
            self.session.next_aligned = Some(next_boundary(now));
            return;
        };
        if now < due {
            return;
        }
        self.session.next_aligned = Some(next_boundary(now));
        let mv = self.meter_value(
            due,
            ReadingContext::SampleClock,
            Key::MeterValuesAlignedData,
        );
        self.collect_stop_data(
            due,
            ReadingContext::SampleClock,
            Some(Key::StopTxnAlignedData),
        );
        if let Some(local_id) = self.session.tx.as_ref().map(|t| t.local_id) {
            let req = MeterValuesRequest {
                connector_id: 1,
                transaction_id: Some(-1),
                meter_value: vec![mv],
            };
            let (_, op) = self.outbox.queue.push(
                TxAction::MeterValues,
                local_id,
                serde_json::to_value(req).unwrap_or(Value::Null),
            );
            self.persist(vec![op]);
        } else if self.link.online() {
            let req = MeterValuesRequest {
                connector_id: 1,
                transaction_id: None,
                meter_value: vec![mv],
            };
            self.link.waiting.push_back(WaitingCall {
                payload: serde_json::to_value(req).unwrap_or(Value::Null),
                kind: CallKind::TriggeredMeter,
                triggered: false,
            });
        }
    }

    /// The measurands of the Transaction.Begin / Transaction.End values in transactionData:
    /// every measurand configured in StopTxnSampledData or StopTxnAlignedData (errata v4 3.14).
    fn stop_measurands(&self) -> Vec<String> {
        let mut list = self.config.list(Key::StopTxnSampledData);
        for m in self.config.list(Key::StopTxnAlignedData) {
            if !list.contains(&m) {
                list.push(m);
            }
        }
        list
    }

    /// Adds a value to the running transaction's transactionData: a sample of the measurands in
    /// `key`, or (`None`) a Begin value of all stop measurands. Nothing when none is configured.
    pub(super) fn collect_stop_data(
        &mut self,
        at: DateTime<Utc>,
        context: ReadingContext,
        key: Option<Key>,
    ) {
        let list = match key {
            Some(k) => self.config.list(k),
            None => self.stop_measurands(),
        };
        if list.is_empty() || self.session.tx.is_none() {
            return;
        }
        let mv = self.meter_value_of(at, context, &list);
        // Room is always left for the Transaction.End value.
        let max = (self.config.uint(Key::StopTransactionMaxMeterValues) as usize).max(3);
        let Some(tx) = self.session.tx.as_mut() else {
            return;
        };
        tx.data.push(mv);
        if tx.data.len() >= max {
            thin_out(&mut tx.data);
        }
        let v = serde_json::to_value(&*tx).unwrap_or(Value::Null);
        self.put_state(keys::TX, v);
    }

    /// StopTransaction.transactionData: what was collected plus a Transaction.End value;
    /// `None` when StopTxnSampledData and StopTxnAlignedData are both empty (§3.16.5).
    pub(super) fn stop_data(
        &self,
        tx: &Transaction,
        end: DateTime<Utc>,
    ) -> Option<Vec<MeterValue>> {
        let list = self.stop_measurands();
        if list.is_empty() {
            return None;
        }
        let mut data = tx.data.clone();
        data.push(self.meter_value_of(end, ReadingContext::TransactionEnd, &list));
        Some(data)
    }

    /// One MeterValue with the measurands listed in `key` (the energy register if empty).
    pub(super) fn meter_value(
        &self,
        at: DateTime<Utc>,
        context: ReadingContext,
        key: Key,
    ) -> MeterValue {
        let mut list = self.config.list(key);
        if list.is_empty() {
            list.push("Energy.Active.Import.Register".into());
        }
        self.meter_value_of(at, context, &list)
    }

    /// One MeterValue with the given measurands, read now and stamped `at`.
    fn meter_value_of(
        &self,
        at: DateTime<Utc>,
        context: ReadingContext,
        list: &[String],
    ) -> MeterValue {
        let current_a = f64::from(self.metered_current()) / 10.0;
        let sampled_value = list
            .iter()
            .map(|m| {
                let (measurand, unit, value) = match m.as_str() {
                    "Power.Active.Import" => (
                        Measurand::PowerActiveImport,
                        UnitOfMeasure::W,
                        format!("{:.0}", current_a * VOLTS as f64),
                    ),
                    "Current.Import" => (
                        Measurand::CurrentImport,
                        UnitOfMeasure::A,
                        format!("{current_a:.1}"),
                    ),
                    "Current.Offered" => (
                        Measurand::CurrentOffered,
                        UnitOfMeasure::A,
                        format!(
                            "{:.1}",
                            if self.connector.pwm > 0 && self.connector.pwm < 1000 {
                                self.settings.max_current_a
                            } else {
                                0.0
                            }
                        ),
                    ),
                    "Voltage" => (Measurand::Voltage, UnitOfMeasure::V, VOLTS.to_string()),
                    _ => (
                        Measurand::EnergyActiveImportRegister,
                        UnitOfMeasure::Wh,
                        self.meter.wh().to_string(),
                    ),
                };
                SampledValue {
                    value,
                    context: Some(context.clone()),
                    format: None,
                    measurand: Some(measurand),
                    phase: None,
                    location: None,
                    unit: Some(unit),
                }
            })
            .collect();
        MeterValue {
            timestamp: at,
            sampled_value,
        }
    }
}

/// Halves the intermediate values (every other one after the Transaction.Begin value, counted
/// so that the newest sample stays), as errata v4 3.89 recommends: the Begin value and the
/// latest sample are kept and the resolution of the whole transaction degrades evenly.
fn thin_out(data: &mut Vec<MeterValue>) {
    let keep_first = data
        .first()
        .and_then(|mv| mv.sampled_value.first())
        .is_some_and(|sv| sv.context == Some(ReadingContext::TransactionBegin));
    let start = usize::from(keep_first);
    let last = data.len().saturating_sub(1);
    let mut i = 0;
    data.retain(|_| {
        let idx = i;
        i += 1;
        idx < start || (last - idx).is_multiple_of(2)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(secs: i64, context: ReadingContext) -> MeterValue {
        MeterValue {
            timestamp: DateTime::from_timestamp(secs, 0).expect("valid"),
            sampled_value: vec![SampledValue {
                value: secs.to_string(),
                context: Some(context),
                ..SampledValue::default()
            }],
        }
    }

    #[test]
    fn thinning_keeps_the_begin_value_and_the_newest_sample_and_halves_the_rest() {
        for n in [48, 49] {
            let mut data = vec![mv(0, ReadingContext::TransactionBegin)];
            data.extend((1..=n).map(|s| mv(s, ReadingContext::SamplePeriodic)));
            thin_out(&mut data);
            assert_eq!(data[0].sampled_value[0].value, "0");
            assert_eq!(data.last().unwrap().sampled_value[0].value, n.to_string());
            assert_eq!(data.len(), 1 + (n as usize).div_ceil(2));
        }
    }
}
