//! Every frame the test central system saw or sent, with direction, time and connection.
//!
//! Steps and the ledger query it; the runner writes it to `ocpp.jsonl`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Which way a frame travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Charger to central system.
    In,
    /// Central system to charger.
    Out,
}

/// The OCPP-J message type of a frame, or `Invalid` for one that failed framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Call,
    Result,
    Error,
    Invalid,
}

/// One frame on the wire.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Position in the history (0-based).
    pub seq: usize,
    pub at: DateTime<Utc>,
    pub direction: Direction,
    /// 1 for the first WebSocket connection of the scenario, 2 for the next...
    pub connection: u32,
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The action; for results and errors, the action of the call they answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Call/result payload; for errors `{code, description, details}`; raw text when invalid.
    pub payload: Value,
    /// Read while the central system was not answering: not counted as received.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
}

impl Record {
    /// A record to be numbered and stamped by the history.
    pub fn new(direction: Direction, connection: u32, kind: Kind, payload: Value) -> Record {
        Record {
            seq: 0,
            at: Utc::now(),
            direction,
            connection,
            kind,
            message_id: None,
            action: None,
            payload,
            ignored: false,
        }
    }

    /// A request from the charger that the central system processed.
    pub fn is_received_call(&self, action: &str) -> bool {
        self.direction == Direction::In
            && self.kind == Kind::Call
            && !self.ignored
            && self.action.as_deref() == Some(action)
    }

    /// One line for failure reports.
    pub fn summary(&self) -> String {
        let arrow = match self.direction {
            Direction::In => "charger -> csms",
            Direction::Out => "csms -> charger",
        };
        format!(
            "{} #{} {} {:?} {} {}{}",
            self.at.format("%H:%M:%S%.3f"),
            self.connection,
            arrow,
            self.kind,
            self.action.as_deref().unwrap_or("?"),
            self.payload,
            if self.ignored { " (ignored)" } else { "" }
        )
    }
}

/// A frame the charger should not have sent.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    pub at: DateTime<Utc>,
    pub connection: u32,
    pub reason: String,
    pub frame: String,
}

/// A WebSocket connection opening or closing.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionEvent {
    pub at: DateTime<Utc>,
    pub connection: u32,
    pub opened: bool,
    /// The charge point id from the URL path.
    pub charge_point_id: String,
}

/// The whole record of one central-system instance.
#[derive(Debug, Default, Clone)]
pub struct History {
    pub records: Vec<Record>,
    pub violations: Vec<Violation>,
    pub connections: Vec<ConnectionEvent>,
    /// Per connection, when the last WebSocket frame of any kind (text, ping, pong) arrived.
    pub activity: std::collections::BTreeMap<u32, DateTime<Utc>>,
    /// Connections turned away because they came from another scenario's charger.
    pub foreign: Vec<String>,
    /// The URL path of every WebSocket handshake, accepted or not, in order.
    pub handshakes: Vec<String>,
    /// WebSocket pings received from the charger.
    pub pings: usize,
    /// Upgrades (or TLS handshakes) refused for the security profile: 401, TLS failures.
    pub refused: Vec<super::security::Refusal>,
}

impl History {
    /// Requests of `action` the central system received (and processed).
    pub fn received<'a>(&'a self, action: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.records
            .iter()
            .filter(move |r| r.is_received_call(action))
    }

    /// Requests of `action` received on connection `n` or a later one.
    pub fn received_since_connection<'a>(
        &'a self,
        action: &'a str,
        n: u32,
    ) -> impl Iterator<Item = &'a Record> + 'a {
        self.received(action).filter(move |r| r.connection >= n)
    }

    /// Number of requests of `action` received.
    pub fn count(&self, action: &str) -> usize {
        self.records
            .iter()
            .filter(|r| r.is_received_call(action))
            .count()
    }

    /// The last request of `action` received.
    pub fn last(&self, action: &str) -> Option<&Record> {
        self.records
            .iter()
            .rev()
            .find(|r| r.is_received_call(action))
    }

    /// The central system's answer to the charger's request `message_id`.
    pub fn answer_to(&self, message_id: &str) -> Option<&Record> {
        self.records.iter().find(|r| {
            r.direction == Direction::Out
                && r.kind != Kind::Call
                && r.message_id.as_deref() == Some(message_id)
        })
    }

    /// Number of the newest connection (0 before the first).
    pub fn last_connection(&self) -> u32 {
        self.connections
            .iter()
            .map(|c| c.connection)
            .max()
            .unwrap_or(0)
    }

    /// Whether connection `n` is still open.
    pub fn is_open(&self, n: u32) -> bool {
        let opened = self
            .connections
            .iter()
            .any(|c| c.connection == n && c.opened);
        let closed = self
            .connections
            .iter()
            .any(|c| c.connection == n && !c.opened);
        opened && !closed
    }

    /// Why the OCPP link is not quiet at `now`, or `None` when it is: no CALL of the newest
    /// connection (either way) waits for its answer, and nothing crossed the link for `quiet`.
    /// Why: a fault injected while an answer is on its way (sent, not yet read) makes the
    /// charger rightly send that message again, which a scenario would count as a duplicate.
    /// A request the central system read without answering (`ignored`) will never be
    /// answered, so it does not count as waiting.
    pub fn busy(&self, now: DateTime<Utc>, quiet: chrono::Duration) -> Option<String> {
        let newest = self.last_connection();
        let answered = |call: &Record| {
            self.records.iter().any(|r| {
                r.direction != call.direction
                    && r.connection == call.connection
                    && matches!(r.kind, Kind::Result | Kind::Error)
                    && r.message_id == call.message_id
            })
        };
        if let Some(call) = self.records.iter().find(|r| {
            r.kind == Kind::Call
                && r.connection == newest
                && !r.ignored
                && r.message_id.is_some()
                && !answered(r)
        }) {
            return Some(format!("a CALL waits for its answer: {}", call.summary()));
        }
        let last = self.records.last()?;
        let since = now - last.at;
        (since < quiet).then(|| {
            format!(
                "the last frame crossed the link {} ms ago: {}",
                since.num_milliseconds(),
                last.summary()
            )
        })
    }

    /// Frames at or after `since`, for failure reports.
    pub fn recent(&self, since: DateTime<Utc>) -> Vec<&Record> {
        self.records.iter().filter(|r| r.at >= since).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    fn push(h: &mut History, ms: i64, direction: Direction, kind: Kind, id: &str) {
        h.records.push(Record {
            seq: h.records.len(),
            at: at(ms),
            message_id: Some(id.into()),
            action: Some("StatusNotification".into()),
            ..Record::new(direction, h.last_connection(), kind, json!({}))
        });
    }

    fn connect(h: &mut History, n: u32) {
        h.connections.push(ConnectionEvent {
            at: at(0),
            connection: n,
            opened: true,
            charge_point_id: "CP".into(),
        });
    }

    const QUIET: chrono::Duration = chrono::Duration::milliseconds(250);

    #[test]
    fn quiet_once_every_call_is_answered_and_nothing_crossed_for_the_quiet_time() {
        let mut h = History::default();
        connect(&mut h, 1);
        assert_eq!(h.busy(at(0), QUIET), None, "nothing ever sent");
        push(&mut h, 1000, Direction::In, Kind::Call, "1");
        let busy = h.busy(at(5000), QUIET).expect("a call in flight");
        assert!(busy.contains("waits for its answer"), "{busy}");
        push(&mut h, 1010, Direction::Out, Kind::Result, "1");
        // The answer left 1 ms ago: the charger may not have read it yet.
        let busy = h.busy(at(1011), QUIET).expect("answer in flight");
        assert!(busy.contains("1 ms ago"), "{busy}");
        assert_eq!(h.busy(at(1260), QUIET), None);
        // A CallError is an answer too; a central-system CALL waits for the charger's answer.
        push(&mut h, 2000, Direction::Out, Kind::Call, "rig-1");
        assert!(h.busy(at(9000), QUIET).is_some());
        push(&mut h, 2005, Direction::In, Kind::Error, "rig-1");
        assert_eq!(h.busy(at(2255), QUIET), None);
        // An answer with the same id but the same direction answers nothing.
        push(&mut h, 3000, Direction::In, Kind::Call, "x");
        push(&mut h, 3001, Direction::In, Kind::Result, "x");
        assert!(h.busy(at(9000), QUIET).is_some());
    }

    #[test]
    fn a_request_read_without_answer_or_from_a_closed_connection_is_not_waited_for() {
        let mut h = History::default();
        connect(&mut h, 1);
        push(&mut h, 1000, Direction::In, Kind::Call, "1");
        h.records.last_mut().unwrap().ignored = true;
        assert_eq!(h.busy(at(1250), QUIET), None);
        push(&mut h, 2000, Direction::In, Kind::Call, "2");
        connect(&mut h, 2);
        assert_eq!(h.busy(at(2250), QUIET), None, "connection 1 is gone");
        push(&mut h, 3000, Direction::In, Kind::Call, "3");
        assert!(h.busy(at(9000), QUIET).is_some());
    }
}
