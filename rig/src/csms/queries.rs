//! Typed views of the central system's history: the charger's transaction messages as
//! rust-ocpp requests with the answers they got, and the queries steps make of them. Steps
//! phrase failures; the looking lives here, unit-tested.

use rust_ocpp::v1_6::messages::meter_values::MeterValuesRequest;
use rust_ocpp::v1_6::messages::start_transaction::StartTransactionRequest;
use rust_ocpp::v1_6::messages::status_notification::StatusNotificationRequest;
use rust_ocpp::v1_6::messages::stop_transaction::StopTransactionRequest;

use super::history::{History, Record};

/// The three messages a transaction is reported with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionAction {
    Start,
    Meter,
    Stop,
}

impl TransactionAction {
    pub const ALL: [TransactionAction; 3] = [Self::Start, Self::Meter, Self::Stop];

    /// The OCPP action name.
    pub fn action(self) -> &'static str {
        match self {
            Self::Start => "StartTransaction",
            Self::Meter => "MeterValues",
            Self::Stop => "StopTransaction",
        }
    }

    /// From the OCPP action name.
    pub fn from_action(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.action() == name)
    }
}

/// A transaction message's request, typed (`Unparsed` when the payload broke the schema:
/// the central system recorded that as a violation).
#[derive(Debug, Clone, PartialEq)]
pub enum TransactionRequest {
    Start(StartTransactionRequest),
    Meter(MeterValuesRequest),
    Stop(StopTransactionRequest),
    Unparsed,
}

impl TransactionRequest {
    fn parse(action: TransactionAction, record: &Record) -> Self {
        let p = record.payload.clone();
        let parsed = match action {
            TransactionAction::Start => serde_json::from_value(p).map(Self::Start),
            TransactionAction::Meter => serde_json::from_value(p).map(Self::Meter),
            TransactionAction::Stop => serde_json::from_value(p).map(Self::Stop),
        };
        parsed.unwrap_or(Self::Unparsed)
    }

    /// The id tag it carries (MeterValues carry none).
    pub fn id_tag(&self) -> Option<&str> {
        match self {
            Self::Start(s) => Some(&s.id_tag),
            Self::Stop(s) => s.id_tag.as_deref(),
            Self::Meter(_) | Self::Unparsed => None,
        }
    }

    /// A StopTransaction's reason as OCPP spells it; an absent one means `Local` (OCPP 1.6
    /// §6.50). `None` for other messages.
    pub fn stop_reason(&self) -> Option<String> {
        let Self::Stop(s) = self else { return None };
        Some(match &s.reason {
            Some(r) => serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            None => "Local".into(),
        })
    }
}

/// One transaction message the charger sent, with the central system's answer.
#[derive(Debug, Clone)]
pub struct TransactionMessage<'a> {
    pub action: TransactionAction,
    pub record: &'a Record,
    pub request: TransactionRequest,
    /// CALLRESULT or CALLERROR; `None` when it went unanswered.
    pub answer: Option<&'a Record>,
}

impl TransactionMessage<'_> {
    /// `summary -> answered Result {...}` / `-> not answered`, for failure texts.
    pub fn describe(&self) -> String {
        let answer = match self.answer {
            Some(a) => format!(" -> answered {:?} {}", a.kind, a.payload),
            None => " -> not answered".into(),
        };
        format!("{}{answer}", self.record.summary())
    }
}

/// One row of an "in this order" expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub action: TransactionAction,
    /// Compared without regard to case (id tags are CiString20).
    pub id_tag: Option<String>,
    pub reason: Option<String>,
}

impl Expected {
    pub fn matches(&self, message: &TransactionMessage<'_>) -> bool {
        message.action == self.action
            && self.id_tag.as_ref().is_none_or(|want| {
                message
                    .request
                    .id_tag()
                    .is_some_and(|t| t.eq_ignore_ascii_case(want))
            })
            && self
                .reason
                .as_ref()
                .is_none_or(|want| message.request.stop_reason().as_deref() == Some(want))
    }
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.action.action())?;
        if let Some(t) = &self.id_tag {
            write!(f, " for {t}")?;
        }
        if let Some(r) = &self.reason {
            write!(f, " reason {r}")?;
        }
        Ok(())
    }
}

/// One StatusNotification the charger sent, typed.
#[derive(Debug, Clone)]
pub struct StatusReport<'a> {
    pub record: &'a Record,
    pub request: StatusNotificationRequest,
}

impl StatusReport<'_> {
    /// The status as OCPP spells it (`Available`, `Preparing`, ...).
    pub fn status(&self) -> String {
        serde_json::to_value(&self.request.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

impl History {
    /// The position of the first request of `action` received at or after position `from`.
    pub fn first_call_since(&self, action: &str, from: usize) -> Option<usize> {
        self.records
            .iter()
            .skip(from)
            .find(|r| r.is_received_call(action))
            .map(|r| r.seq)
    }

    /// The StatusNotifications for `connector` received from position `from` on, in arrival
    /// order (schema-breaking ones are left out: the central system recorded them as
    /// violations).
    pub fn status_reports(&self, connector: u32, from: usize) -> Vec<StatusReport<'_>> {
        self.records
            .iter()
            .skip(from)
            .filter(|r| r.is_received_call("StatusNotification"))
            .filter_map(|r| {
                let request: StatusNotificationRequest =
                    serde_json::from_value(r.payload.clone()).ok()?;
                (request.connector_id == connector).then_some(StatusReport { record: r, request })
            })
            .collect()
    }

    /// The positions of the first StatusNotifications for `connector` from `from` on that
    /// report `wanted` one after the other (others may come between); `None` until all arrived.
    pub fn statuses_in_order(
        &self,
        connector: u32,
        from: usize,
        wanted: &[String],
    ) -> Option<Vec<usize>> {
        let mut rows = wanted.iter().peekable();
        let mut matched = Vec::new();
        for report in self.status_reports(connector, from) {
            let Some(want) = rows.peek() else { break };
            if report.status().eq_ignore_ascii_case(want) {
                matched.push(report.record.seq);
                rows.next();
            }
        }
        rows.peek().is_none().then_some(matched)
    }

    /// Every transaction message the charger sent (processed by the central system), in
    /// arrival order, typed, with its answer.
    pub fn transaction_messages(&self) -> Vec<TransactionMessage<'_>> {
        self.records
            .iter()
            .filter_map(|r| {
                let action = TransactionAction::ALL
                    .into_iter()
                    .find(|a| r.is_received_call(a.action()))?;
                Some(TransactionMessage {
                    action,
                    request: TransactionRequest::parse(action, r),
                    answer: r.message_id.as_deref().and_then(|id| self.answer_to(id)),
                    record: r,
                })
            })
            .collect()
    }

    /// The first messages from history position `from` on that match `wanted` one after the
    /// other (others may come between), as (action, position); `None` until all arrived.
    pub fn in_order(&self, from: usize, wanted: &[Expected]) -> Option<Vec<(&'static str, usize)>> {
        let mut rows = wanted.iter().peekable();
        let mut matched = Vec::new();
        for m in self.transaction_messages() {
            let Some(want) = rows.peek() else { break };
            if m.record.seq >= from && want.matches(&m) {
                matched.push((want.action.action(), m.record.seq));
                rows.next();
            }
        }
        rows.peek().is_none().then_some(matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csms::history::{Direction, Kind};
    use serde_json::{json, Value};

    fn push(h: &mut History, direction: Direction, kind: Kind, id: &str, action: &str, p: Value) {
        let mut r = Record::new(direction, 1, kind, p);
        r.seq = h.records.len();
        r.message_id = Some(id.into());
        r.action = Some(action.into());
        h.records.push(r);
    }

    fn sample() -> History {
        let mut h = History::default();
        let start = json!({"connectorId": 1, "idTag": "04a1b2c3", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"});
        push(
            &mut h,
            Direction::In,
            Kind::Call,
            "1",
            "StartTransaction",
            start,
        );
        push(
            &mut h,
            Direction::Out,
            Kind::Result,
            "1",
            "StartTransaction",
            json!({"transactionId": 7, "idTagInfo": {"status": "Accepted"}}),
        );
        push(
            &mut h,
            Direction::In,
            Kind::Call,
            "2",
            "Heartbeat",
            json!({}),
        );
        let meter = json!({"connectorId": 1, "transactionId": 7, "meterValue": [{"timestamp": "2026-01-01T00:00:10Z", "sampledValue": [{"value": "10"}]}]});
        push(&mut h, Direction::In, Kind::Call, "3", "MeterValues", meter);
        let stop =
            json!({"meterStop": 20, "timestamp": "2026-01-01T00:00:20Z", "transactionId": 7});
        push(
            &mut h,
            Direction::In,
            Kind::Call,
            "4",
            "StopTransaction",
            stop,
        );
        h
    }

    fn want(action: TransactionAction, tag: Option<&str>, reason: Option<&str>) -> Expected {
        Expected {
            action,
            id_tag: tag.map(Into::into),
            reason: reason.map(Into::into),
        }
    }

    #[test]
    fn transaction_messages_are_typed_with_their_answers() {
        let h = sample();
        let m = h.transaction_messages();
        assert_eq!(m.len(), 3, "the Heartbeat is not one");
        let TransactionRequest::Start(start) = &m[0].request else {
            panic!("{:?}", m[0].request)
        };
        assert_eq!(start.id_tag, "04a1b2c3");
        assert_eq!(m[0].answer.unwrap().payload["transactionId"], 7);
        assert!(m[2].answer.is_none());
        assert!(
            m[2].describe().ends_with("-> not answered"),
            "{}",
            m[2].describe()
        );
        assert_eq!(m[2].request.stop_reason().as_deref(), Some("Local"));
    }

    #[test]
    fn in_order_matches_rows_one_after_the_other() {
        let h = sample();
        let rows = [
            want(TransactionAction::Start, Some("04A1B2C3"), None),
            want(TransactionAction::Stop, None, Some("Local")),
        ];
        assert_eq!(
            h.in_order(0, &rows),
            Some(vec![("StartTransaction", 0), ("StopTransaction", 4)])
        );
        // Out of order, or a reason that was not given, never matches.
        let reversed = [rows[1].clone(), rows[0].clone()];
        assert_eq!(h.in_order(0, &reversed), None);
        let remote = [want(TransactionAction::Stop, None, Some("Remote"))];
        assert_eq!(h.in_order(0, &remote), None);
        // Nothing before `from` counts.
        assert_eq!(h.in_order(1, &rows[..1]), None);
    }

    #[test]
    fn expectations_read_like_the_table() {
        let e = want(TransactionAction::Stop, Some("A"), Some("EVDisconnected"));
        assert_eq!(e.to_string(), "StopTransaction for A reason EVDisconnected");
    }

    fn status(h: &mut History, id: &str, connector: u32, status: &str) {
        let p = json!({"connectorId": connector, "errorCode": "NoError", "status": status});
        push(h, Direction::In, Kind::Call, id, "StatusNotification", p);
    }

    #[test]
    fn statuses_in_order_skip_others_and_other_connectors() {
        let mut h = History::default();
        status(&mut h, "s1", 1, "Available");
        status(&mut h, "s2", 0, "Preparing");
        status(&mut h, "s3", 1, "Preparing");
        status(&mut h, "s4", 1, "SuspendedEV");
        status(&mut h, "s5", 1, "Charging");
        let want = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            h.statuses_in_order(1, 0, &want(&["Preparing", "Charging"])),
            Some(vec![2, 4])
        );
        assert_eq!(
            h.statuses_in_order(1, 0, &want(&["Charging", "Preparing"])),
            None
        );
        assert_eq!(h.statuses_in_order(1, 3, &want(&["Preparing"])), None);
        assert_eq!(
            h.statuses_in_order(0, 0, &want(&["preparing"])),
            Some(vec![1])
        );
        assert_eq!(h.first_call_since("StatusNotification", 2), Some(2));
        assert_eq!(h.first_call_since("Heartbeat", 0), None);
    }
}
