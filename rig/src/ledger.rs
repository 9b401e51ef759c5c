//! The ledger check: every transaction the board ran reached the central system exactly once,
//! with one consistent transaction id and meter readings that never go backwards.
//!
//! It works on the central system's history (what arrived and what was answered) and on the
//! board's own view (how many transactions it ran), so a message the charger never sent is
//! caught as well as one it sent twice.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::csms::{History, Kind, Record};

/// How many transactions the board ran, from its `transaction active` status flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoardTransactions {
    /// Transactions that began and ended.
    pub completed: usize,
    /// A transaction is still running at the end.
    pub open: bool,
}

impl BoardTransactions {
    /// Counts transactions from the board's flag samples in time order, each tagged with the
    /// board's boot number. A transaction active across a power cut is the same transaction
    /// (it is restored after the boot), not a new one.
    pub fn from_samples(samples: impl IntoIterator<Item = (u32, bool)>) -> BoardTransactions {
        let mut counted = BoardTransactions::default();
        let mut previous: Option<(u32, bool)> = None;
        let mut started = 0usize;
        for (boot, active) in samples {
            let was_active = previous.map(|p| p.1).unwrap_or(false);
            let new_boot = previous.map(|p| p.0 != boot).unwrap_or(false);
            if active && !was_active {
                started += 1;
            }
            if !active && was_active && !new_boot {
                counted.completed += 1;
            }
            if !active && was_active && new_boot {
                // Power cut with a transaction running: the firmware ends it after the boot.
                counted.completed += 1;
            }
            previous = Some((boot, active));
        }
        counted.open = previous.map(|p| p.1).unwrap_or(false);
        debug_assert!(started >= counted.completed);
        counted
    }

    /// Every transaction the board ran.
    pub fn total(&self) -> usize {
        self.completed + usize::from(self.open)
    }
}

/// One StartTransaction as the charger reported it; retries of the same start share it.
#[derive(Debug, Clone)]
struct Start {
    key: String,
    transaction_id: Option<i32>,
    meter_start: i64,
    timestamp: Option<DateTime<Utc>>,
}

fn answered_ok<'a>(history: &'a History, record: &Record) -> Option<&'a Record> {
    let id = record.message_id.as_deref()?;
    history
        .answer_to(id)
        .filter(|answer| answer.kind == Kind::Result)
}

fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// An energy register reading: when (if stamped) and how many Wh.
type Reading = (Option<DateTime<Utc>>, f64);

/// Energy register readings (Wh) in a list of MeterValue objects.
fn energy_readings(meter_values: &Value) -> Vec<Reading> {
    let mut out = Vec::new();
    for mv in meter_values.as_array().into_iter().flatten() {
        let at = timestamp(&mv["timestamp"]);
        for sv in mv["sampledValue"].as_array().into_iter().flatten() {
            let measurand = sv["measurand"]
                .as_str()
                .unwrap_or("Energy.Active.Import.Register");
            if measurand != "Energy.Active.Import.Register" {
                continue;
            }
            let Some(value) = sv["value"].as_str().and_then(|v| v.parse::<f64>().ok()) else {
                continue;
            };
            let wh = if sv["unit"].as_str() == Some("kWh") {
                value * 1000.0
            } else {
                value
            };
            out.push((at, wh));
        }
    }
    out
}

/// When the answer that assigned `transaction_id` went out just before its connection closed,
/// the charger probably never got it and rightly sent the request again: say so, so that the
/// scenario (a fault injected right after an answer) is fixed rather than the firmware blamed.
/// Milliseconds between the answer and its connection closing, when under a second.
fn lost_in_flight(history: &History, transaction_id: i32) -> Option<i64> {
    let answer = history.records.iter().find(|r| {
        r.direction == crate::csms::Direction::Out
            && r.kind == Kind::Result
            && r.action.as_deref() == Some("StartTransaction")
            && r.payload["transactionId"].as_i64() == Some(i64::from(transaction_id))
    });
    let answer = answer?;
    let closed = history
        .connections
        .iter()
        .find(|c| c.connection == answer.connection && !c.opened && c.at >= answer.at);
    closed
        .map(|c| (c.at - answer.at).num_milliseconds())
        .filter(|ms| *ms < 1000)
}

/// One way the ledger does not balance. `Display` gives the sentence a failing step prints.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The same start (connector, tag, meter, time) got two transaction ids.
    StartedTwice {
        start: Value,
        first: i32,
        again: i32,
        /// The first id's answer went out this many ms before its connection closed.
        lost_in_flight_ms: Option<i64>,
    },
    StoppedMoreThanOnce {
        transaction_id: i32,
        stops: Vec<Value>,
    },
    StopOfUnknownTransaction {
        transaction_id: i32,
    },
    MeterStopBelowMeterStart {
        transaction_id: i32,
        meter_stop: i64,
        meter_start: i64,
    },
    StoppedBeforeStarted {
        transaction_id: i32,
        begin: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    /// More stops with transaction id -1 than starts that went unaccepted.
    UnexplainedMinusOne {
        minus_one: usize,
        never_accepted: usize,
    },
    EnergyWentBackwards {
        transaction_id: i32,
        from_wh: f64,
        to_wh: f64,
    },
    ReadingBelowMeterStart {
        transaction_id: i32,
        reading_wh: f64,
        meter_start: i64,
    },
    NeverStopped {
        transaction_ids: Vec<i32>,
    },
    /// The board's count of transactions and the central system's differ.
    BoardDisagrees {
        board_total: usize,
        board_completed: usize,
        board_open: bool,
        reported: usize,
        accepted: usize,
        dropped: usize,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::StartedTwice { start, first, again, lost_in_flight_ms } => {
                write!(f, "StartTransaction {start} reported twice (transaction ids {first} and {again})")?;
                if let Some(ms) = lost_in_flight_ms {
                    write!(
                        f,
                        "; the answer with id {first} went out {ms} ms before its connection closed, \
                         so it was probably lost in flight: let the charger's queue empty before the fault"
                    )?;
                }
                Ok(())
            }
            Problem::StoppedMoreThanOnce { transaction_id, stops } => write!(
                f,
                "transaction {transaction_id} was stopped {} times: {}",
                stops.len(),
                stops.iter().map(Value::to_string).collect::<Vec<_>>().join(" / ")
            ),
            Problem::StopOfUnknownTransaction { transaction_id } => write!(
                f,
                "StopTransaction for transaction {transaction_id}, which the central system never assigned"
            ),
            Problem::MeterStopBelowMeterStart { transaction_id, meter_stop, meter_start } => write!(
                f,
                "transaction {transaction_id}: meterStop {meter_stop} is below meterStart {meter_start}"
            ),
            Problem::StoppedBeforeStarted { transaction_id, begin, end } => write!(
                f,
                "transaction {transaction_id}: stopped at {end} before it started at {begin}"
            ),
            Problem::UnexplainedMinusOne { minus_one, never_accepted } => write!(
                f,
                "{minus_one} StopTransaction(s) with transaction id -1, but only {never_accepted} \
                 StartTransaction(s) went unaccepted"
            ),
            Problem::EnergyWentBackwards { transaction_id, from_wh, to_wh } => write!(
                f,
                "transaction {transaction_id}: energy register went backwards from {from_wh} Wh to {to_wh} Wh"
            ),
            Problem::ReadingBelowMeterStart { transaction_id, reading_wh, meter_start } => write!(
                f,
                "transaction {transaction_id}: reading {reading_wh} Wh below meterStart {meter_start}"
            ),
            Problem::NeverStopped { transaction_ids } => write!(
                f,
                "transaction(s) {transaction_ids:?} started but never stopped at the central system"
            ),
            Problem::BoardDisagrees {
                board_total,
                board_completed,
                board_open,
                reported,
                accepted,
                dropped,
            } => write!(
                f,
                "the board ran {board_total} transaction(s) ({board_completed} completed{}), the central system saw {reported} \
                 ({accepted} accepted StartTransaction, {dropped} dropped)",
                if *board_open { ", 1 running" } else { "" },
            ),
        }
    }
}

/// Runs the check; returns every violation found (empty = the ledger balances).
pub fn check(history: &History, board: Option<BoardTransactions>) -> Vec<Problem> {
    let mut problems = Vec::new();

    // Starts: group attempts by content; an accepted (answered) start yields a transaction id.
    let mut starts: Vec<Start> = Vec::new();
    let mut by_id: HashMap<i32, usize> = HashMap::new();
    // Attempts a silent central system read without answering count too: they prove the
    // charger reported the start, even though it was never accepted.
    let attempts = history.records.iter().filter(|r| {
        r.direction == crate::csms::Direction::In
            && r.kind == Kind::Call
            && r.action.as_deref() == Some("StartTransaction")
    });
    for record in attempts {
        let p = &record.payload;
        let key = format!(
            "{}|{}|{}|{}",
            p["connectorId"],
            p["idTag"].as_str().unwrap_or_default().to_uppercase(),
            p["meterStart"],
            p["timestamp"]
        );
        let transaction_id = answered_ok(history, record)
            .and_then(|answer| answer.payload["transactionId"].as_i64())
            .map(|id| id as i32);
        match starts.iter_mut().find(|s| s.key == key) {
            Some(existing) => match (existing.transaction_id, transaction_id) {
                (Some(first), Some(again)) => problems.push(Problem::StartedTwice {
                    start: record.payload.clone(),
                    first,
                    again,
                    lost_in_flight_ms: lost_in_flight(history, first),
                }),
                (None, Some(id)) => {
                    existing.transaction_id = Some(id);
                    by_id.insert(id, starts.len());
                }
                _ => {}
            },
            None => {
                if let Some(id) = transaction_id {
                    by_id.insert(id, starts.len());
                }
                starts.push(Start {
                    key,
                    transaction_id,
                    meter_start: p["meterStart"].as_i64().unwrap_or(0),
                    timestamp: timestamp(&p["timestamp"]),
                });
            }
        }
    }
    // Re-index: `by_id` positions must point at the vector entries.
    by_id = starts
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.transaction_id.map(|id| (id, i)))
        .collect();
    let never_accepted = starts.iter().filter(|s| s.transaction_id.is_none()).count();

    // Stops: exactly one accepted stop per transaction id; -1 only for a dropped start.
    let mut stops: BTreeMap<i32, Vec<&Record>> = BTreeMap::new();
    for record in history.received("StopTransaction") {
        if answered_ok(history, record).is_none() {
            continue; // a failed attempt, retried later or dropped
        }
        let id = record.payload["transactionId"].as_i64().unwrap_or(i64::MIN) as i32;
        stops.entry(id).or_default().push(record);
    }
    let minus_one = stops.get(&-1).map(Vec::len).unwrap_or(0);
    for (id, records) in &stops {
        if *id == -1 {
            continue;
        }
        if records.len() > 1 {
            problems.push(Problem::StoppedMoreThanOnce {
                transaction_id: *id,
                stops: records.iter().map(|r| r.payload.clone()).collect(),
            });
        }
        let Some(&start) = by_id.get(id) else {
            problems.push(Problem::StopOfUnknownTransaction {
                transaction_id: *id,
            });
            continue;
        };
        let start = &starts[start];
        let stop = &records[0].payload;
        let meter_stop = stop["meterStop"].as_i64().unwrap_or(0);
        if meter_stop < start.meter_start {
            problems.push(Problem::MeterStopBelowMeterStart {
                transaction_id: *id,
                meter_stop,
                meter_start: start.meter_start,
            });
        }
        if let (Some(begin), Some(end)) = (start.timestamp, timestamp(&stop["timestamp"])) {
            if end < begin {
                problems.push(Problem::StoppedBeforeStarted {
                    transaction_id: *id,
                    begin,
                    end,
                });
            }
        }
    }
    // Stops carrying -1 are allowed only where a start was never accepted.
    let dropped_starts = minus_one.min(never_accepted);
    if minus_one > never_accepted {
        problems.push(Problem::UnexplainedMinusOne {
            minus_one,
            never_accepted,
        });
    }

    // Meter readings of each transaction never go backwards.
    let mut readings: BTreeMap<i32, Vec<Reading>> = BTreeMap::new();
    for record in history.received("MeterValues") {
        if let Some(id) = record.payload["transactionId"].as_i64() {
            readings
                .entry(id as i32)
                .or_default()
                .extend(energy_readings(&record.payload["meterValue"]));
        }
    }
    for (id, records) in &stops {
        if let Some(data) = records.first().map(|r| &r.payload["transactionData"]) {
            readings
                .entry(*id)
                .or_default()
                .extend(energy_readings(data));
        }
    }
    for (id, mut values) in readings {
        if id == -1 {
            continue;
        }
        values.sort_by_key(|v| v.0);
        if let Some(pair) = values.windows(2).find(|w| w[1].1 < w[0].1) {
            problems.push(Problem::EnergyWentBackwards {
                transaction_id: id,
                from_wh: pair[0].1,
                to_wh: pair[1].1,
            });
        }
        if let Some(start) = by_id.get(&id).map(|&i| &starts[i]) {
            if let Some(low) = values.iter().find(|v| (v.1 as i64) < start.meter_start) {
                problems.push(Problem::ReadingBelowMeterStart {
                    transaction_id: id,
                    reading_wh: low.1,
                    meter_start: start.meter_start,
                });
            }
        }
    }

    // Every accepted start has its stop, except a transaction still running.
    let open_board = board.map(|b| b.open).unwrap_or(false);
    // A stop the central system refused (CallError) or never answered every time it came was
    // still reported: dropped after its attempts, not lost by the charger.
    let attempted_stops: Vec<i64> = history
        .records
        .iter()
        .filter(|r| {
            r.direction == crate::csms::Direction::In
                && r.kind == Kind::Call
                && r.action.as_deref() == Some("StopTransaction")
        })
        .filter_map(|r| r.payload["transactionId"].as_i64())
        .collect();
    let unstopped: Vec<i32> = starts
        .iter()
        .filter_map(|s| s.transaction_id)
        .filter(|id| !stops.contains_key(id) && !attempted_stops.contains(&i64::from(*id)))
        .collect();
    let allowed_open = usize::from(open_board || board.is_none());
    if unstopped.len() > allowed_open {
        problems.push(Problem::NeverStopped {
            transaction_ids: unstopped,
        });
    }

    // Nothing the board did is missing, nothing invented.
    if let Some(board) = board {
        let reported = by_id.len() + dropped_starts;
        if reported != board.total() {
            problems.push(Problem::BoardDisagrees {
                board_total: board.total(),
                board_completed: board.completed,
                board_open: board.open,
                reported,
                accepted: by_id.len(),
                dropped: dropped_starts,
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problems as the sentences a failing step prints.
    fn check(history: &History, board: Option<BoardTransactions>) -> Vec<String> {
        super::check(history, board)
            .iter()
            .map(ToString::to_string)
            .collect()
    }
    use crate::csms::Direction;
    use serde_json::json;

    struct Builder(History);

    impl Builder {
        fn new() -> Self {
            Builder(History::default())
        }
        fn push(&mut self, direction: Direction, kind: Kind, id: &str, action: &str, p: Value) {
            let seq = self.0.records.len();
            self.0.records.push(Record {
                seq,
                at: Utc::now(),
                direction,
                connection: 1,
                kind,
                message_id: Some(id.into()),
                action: Some(action.into()),
                payload: p,
                ignored: false,
            });
        }
        fn start(&mut self, id: &str, tag: &str, ts: &str, tx: Option<i32>) -> &mut Self {
            let p = json!({"connectorId":1,"idTag":tag,"meterStart":100,"timestamp":ts});
            self.push(Direction::In, Kind::Call, id, "StartTransaction", p);
            match tx {
                Some(tx) => self.push(
                    Direction::Out,
                    Kind::Result,
                    id,
                    "StartTransaction",
                    json!({"transactionId":tx,"idTagInfo":{"status":"Accepted"}}),
                ),
                None => self.push(
                    Direction::Out,
                    Kind::Error,
                    id,
                    "StartTransaction",
                    json!({"code":"InternalError"}),
                ),
            }
            self
        }
        fn stop(&mut self, id: &str, tx: i32, meter: i64) -> &mut Self {
            let p = json!({"transactionId":tx,"meterStop":meter,
                           "timestamp":"2026-01-01T01:00:00Z","reason":"Local"});
            self.push(Direction::In, Kind::Call, id, "StopTransaction", p);
            self.push(
                Direction::Out,
                Kind::Result,
                id,
                "StopTransaction",
                json!({}),
            );
            self
        }
        fn meter(&mut self, id: &str, tx: i32, ts: &str, wh: &str) -> &mut Self {
            let p = json!({"connectorId":1,"transactionId":tx,"meterValue":[
                {"timestamp":ts,"sampledValue":[{"value":wh}]}]});
            self.push(Direction::In, Kind::Call, id, "MeterValues", p);
            self.push(Direction::Out, Kind::Result, id, "MeterValues", json!({}));
            self
        }
    }

    const T0: &str = "2026-01-01T00:00:00Z";
    const T1: &str = "2026-01-01T00:10:00Z";
    const T2: &str = "2026-01-01T00:20:00Z";

    fn completed(n: usize) -> Option<BoardTransactions> {
        Some(BoardTransactions {
            completed: n,
            open: false,
        })
    }

    #[test]
    fn a_clean_ledger_balances() {
        let mut b = Builder::new();
        b.start("1", "A", T0, Some(1))
            .meter("2", 1, T1, "150")
            .stop("3", 1, 200);
        assert_eq!(check(&b.0, completed(1)), Vec::<String>::new());
    }

    #[test]
    fn a_retried_start_counts_once_and_a_duplicate_fails() {
        let mut b = Builder::new();
        b.start("1", "A", T0, None)
            .start("2", "A", T0, Some(1))
            .stop("3", 1, 200);
        assert!(check(&b.0, completed(1)).is_empty());
        b.start("4", "A", T0, Some(2));
        let problems = check(&b.0, completed(1));
        assert!(
            problems.iter().any(|p| p.contains("reported twice")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_duplicate_after_an_answer_lost_in_flight_says_so() {
        let mut b = Builder::new();
        b.start("1", "A", T0, Some(1));
        b.0.connections.push(crate::csms::ConnectionEvent {
            at: Utc::now(),
            connection: 1,
            opened: false,
            charge_point_id: "CP".into(),
        });
        b.start("2", "A", T0, Some(2)).stop("3", 2, 200);
        let problems = check(&b.0, completed(1));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("probably lost in flight")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_start_only_a_silent_central_system_saw_allows_minus_one() {
        let mut b = Builder::new();
        let p = json!({"connectorId":1,"idTag":"A","meterStart":0,"timestamp":T0});
        b.push(Direction::In, Kind::Call, "1", "StartTransaction", p);
        b.0.records[0].ignored = true;
        b.stop("2", -1, 200);
        assert_eq!(check(&b.0, completed(1)), Vec::<String>::new());
    }

    #[test]
    fn a_stop_refused_every_time_was_still_reported() {
        let mut b = Builder::new();
        b.start("1", "A", T0, Some(1));
        let p = json!({"transactionId":1,"meterStop":200,"timestamp":T1,"reason":"Local"});
        b.push(Direction::In, Kind::Call, "2", "StopTransaction", p);
        b.push(
            Direction::Out,
            Kind::Error,
            "2",
            "StopTransaction",
            json!({"code":"InternalError"}),
        );
        assert_eq!(check(&b.0, completed(1)), Vec::<String>::new());
    }

    #[test]
    fn double_stop_and_missing_stop_fail() {
        let mut b = Builder::new();
        b.start("1", "A", T0, Some(1))
            .stop("2", 1, 200)
            .stop("3", 1, 200);
        assert!(check(&b.0, completed(1))
            .iter()
            .any(|p| p.contains("stopped 2 times")));
        assert!(super::check(&b.0, completed(1)).iter().any(|p| matches!(
            p,
            Problem::StoppedMoreThanOnce { transaction_id: 1, stops } if stops.len() == 2
        )));
        let mut b = Builder::new();
        b.start("1", "A", T0, Some(1));
        assert!(check(&b.0, completed(1))
            .iter()
            .any(|p| p.contains("never stopped")));
        let open = Some(BoardTransactions {
            completed: 0,
            open: true,
        });
        assert!(check(&b.0, open).is_empty());
    }

    #[test]
    fn minus_one_only_after_a_dropped_start() {
        let mut b = Builder::new();
        b.start("1", "A", T0, Some(1)).stop("2", -1, 200);
        let problems = check(&b.0, completed(1));
        assert!(problems.iter().any(|p| p.contains("-1")), "{problems:?}");
        let mut b = Builder::new();
        b.start("1", "A", T0, None).stop("2", -1, 200);
        assert!(check(&b.0, completed(1)).is_empty());
    }

    #[test]
    fn meter_backwards_and_missing_transactions_fail() {
        let mut b = Builder::new();
        b.start("1", "A", T0, Some(1))
            .meter("2", 1, T1, "180")
            .meter("3", 1, T2, "170")
            .stop("4", 1, 200);
        assert!(check(&b.0, completed(1))
            .iter()
            .any(|p| p.contains("went backwards")));
        let mut b = Builder::new();
        b.start("1", "A", T0, Some(1)).stop("2", 1, 50);
        assert!(check(&b.0, completed(1))
            .iter()
            .any(|p| p.contains("below meterStart")));
        let mut b = Builder::new();
        b.start("1", "A", T0, Some(1)).stop("2", 1, 200);
        assert!(check(&b.0, completed(2))
            .iter()
            .any(|p| p.contains("the board ran 2")));
        assert!(check(&b.0, None).is_empty());
    }

    #[test]
    fn board_samples_count_transactions_across_power_cuts() {
        let samples = [(1, false), (1, true), (1, true), (1, false), (1, true)];
        assert_eq!(
            BoardTransactions::from_samples(samples),
            BoardTransactions {
                completed: 1,
                open: true
            }
        );
        // Running at the cut, restored after boot 2 and then stopped: one transaction.
        let samples = [(1, true), (2, true), (2, false)];
        assert_eq!(BoardTransactions::from_samples(samples).total(), 1);
        // Running at the cut, already ended when boot 2 reports: still one.
        let samples = [(1, false), (1, true), (2, false), (2, true), (2, false)];
        assert_eq!(
            BoardTransactions::from_samples(samples),
            BoardTransactions {
                completed: 2,
                open: false
            }
        );
    }
}
