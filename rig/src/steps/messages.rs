//! What the central system must (or must not) receive.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::registry::{Args, StepDef, StepResult};
use crate::csms::{Expected, History, Kind, Record, TransactionAction};
use crate::gate::GateState;
use crate::ledger::{self, BoardTransactions};
use crate::step_def;
use crate::world::RigWorld;

/// The step the runner appends to every scenario: invalid frames and the ledger.
pub const END_OF_SCENARIO: &str = "the rig's end-of-scenario checks pass";

pub fn defs() -> Vec<StepDef> {
    vec![
        step_def!("Then", "the central system receives an Authorize for {string} within {int} seconds", receives_authorize),
        step_def!("Then", "the central system receives a StartTransaction for {string} within {int} seconds", receives_start),
        step_def!("Then", "the central system receives a StopTransaction with reason {string} within {int} seconds", receives_stop),
        step_def!("Then", "the central system receives a StatusNotification {string} within {int} seconds", receives_status),
        step_def!("Then", "the central system receives a StatusNotification {string} for connector {int} within {int} seconds", receives_status_connector),
        step_def!("Then", "the central system receives a StatusNotification with error code {string} for connector {int} within {int} seconds", receives_status_error),
        step_def!("Then", "the central system receives no {word} for {int} seconds", receives_none),
        step_def!("Then", "the central system receives a {word} within {int} seconds", receives_any),
        step_def!("Then", "the central system receives these StatusNotifications for connector {int} in order:", statuses_in_order),
        step_def!("Then", "the central system has received exactly {int} {word}", received_exactly),
        step_def!("Then", "the central system received the {word} attempts {string} seconds apart", attempts_apart),
        step_def!("Then", "the last StopTransaction has id tag {string}", last_stop_tag),
        step_def!("Then", "the last StopTransaction carries transaction id {int}", last_stop_id),
        step_def!("Then", "the StartTransaction carries the time charging started, not the time it was sent", start_time),
        step_def!("Then", "the StopTransaction carries the time the transaction ended, not the time it was sent", stop_time),
        step_def!("Then", "the MeterValues of the transaction are in chronological order, {int} seconds apart", meter_values_apart),
        step_def!("Then", "the central system receives these transaction messages in order:", messages_in_order),
        step_def!("Then", "the transaction delivered between {int} and {int} Wh", delivered_between),
        step_def!("Then", "every transaction is reported exactly once", ledger_step),
        step_def!("Then", "the rig's end-of-scenario checks pass", end_of_scenario),
    ]
}

fn tag_is(payload: &Value, tag: &str) -> bool {
    payload["idTag"]
        .as_str()
        .is_some_and(|t| t.eq_ignore_ascii_case(tag))
}

/// Waits for the next received `action` (after the previous match) satisfying `matches`.
async fn receive(
    world: &mut RigWorld,
    cursor: &str,
    action: &str,
    wait: Duration,
    what: &str,
    matches: impl Fn(&Value) -> bool,
) -> StepResult {
    let from = world.cursors.get(cursor).copied().unwrap_or(0);
    let found = world
        .wait_history(wait, what, |h| {
            h.records
                .iter()
                .skip(from)
                .find(|r| r.is_received_call(action) && matches(&r.payload))
                .map(|r| r.seq)
        })
        .await;
    match found {
        Ok(seq) => {
            world.cursors.insert(cursor.to_string(), seq + 1);
            Ok(())
        }
        Err(report) => {
            // Say which messages of that kind did arrive, and which an earlier step took.
            let history = world.history();
            let seen: Vec<String> = history
                .received(action)
                .map(|r| {
                    let taken = if r.seq < from {
                        " (matched by an earlier step)"
                    } else {
                        ""
                    };
                    format!("\n    {}{taken}{}", r.summary(), answer_of(&history, r))
                })
                .collect();
            let mut out = format!(
                "{report}\n  every {action} received in this scenario ({}):{}",
                seen.len(),
                seen.concat()
            );
            // An Authorize and a StartTransaction tell each other's story: a card the
            // charger asked about under another id tag, or refused, is often the clue.
            let related = match action {
                "StartTransaction" => Some("Authorize"),
                "Authorize" => Some("StartTransaction"),
                _ => None,
            };
            if let Some(other) = related {
                let seen: Vec<String> = history
                    .received(other)
                    .map(|r| format!("\n    {}{}", r.summary(), answer_of(&history, r)))
                    .collect();
                out.push_str(&format!(
                    "\n  every {other} received in this scenario ({}):{}",
                    seen.len(),
                    seen.concat()
                ));
            }
            Err(out)
        }
    }
}

/// How the central system answered a received request, for failure reports.
fn answer_of(history: &History, request: &Record) -> String {
    match request
        .message_id
        .as_deref()
        .and_then(|id| history.answer_to(id))
    {
        Some(a) => format!(" -> answered {:?} {}", a.kind, a.payload),
        None => " -> not answered".into(),
    }
}

/// A charge-point action as a feature names it (a plural `s` is tolerated). An unknown name is
/// an error: counting a misspelt action would always find zero and pass.
fn charge_point_action(word: &str) -> Result<String, String> {
    let known = crate::csms::CHARGE_POINT_ACTIONS;
    if known.contains(&word) {
        return Ok(word.to_string());
    }
    if let Some(singular) = word.strip_suffix('s').filter(|w| known.contains(w)) {
        return Ok(singular.to_string());
    }
    let closest = known
        .iter()
        .max_by(|a, b| strsim::jaro_winkler(a, word).total_cmp(&strsim::jaro_winkler(b, word)))
        .copied()
        .unwrap_or_default();
    Err(format!(
        "{word} is not a message a charger sends (did you mean {closest}?); known: {}",
        known.join(", ")
    ))
}

async fn receives_authorize(world: &mut RigWorld, args: Args) -> StepResult {
    let tag = args.text(0);
    let what = format!("an Authorize for {tag}");
    receive(world, "Authorize", "Authorize", args.secs(1)?, &what, |p| {
        tag_is(p, &tag)
    })
    .await
}

async fn receives_start(world: &mut RigWorld, args: Args) -> StepResult {
    let tag = args.text(0);
    let what = format!("a StartTransaction for {tag}");
    receive(
        world,
        "StartTransaction",
        "StartTransaction",
        args.secs(1)?,
        &what,
        |p| tag_is(p, &tag),
    )
    .await
}

/// `Local` also matches an absent reason, as OCPP allows.
fn reason_is(payload: &Value, reason: &str) -> bool {
    match payload["reason"].as_str() {
        Some(r) => r == reason,
        None => reason == "Local",
    }
}

async fn receives_stop(world: &mut RigWorld, args: Args) -> StepResult {
    let reason = args.text(0);
    let what = format!("a StopTransaction with reason {reason}");
    receive(
        world,
        "StopTransaction",
        "StopTransaction",
        args.secs(1)?,
        &what,
        |p| reason_is(p, &reason),
    )
    .await
}

async fn status_for(
    world: &mut RigWorld,
    status: String,
    connector: i64,
    wait: Duration,
) -> StepResult {
    let what = format!("a StatusNotification {status} for connector {connector}");
    receive(
        world,
        "StatusNotification",
        "StatusNotification",
        wait,
        &what,
        |p| p["status"] == status.as_str() && p["connectorId"].as_i64() == Some(connector),
    )
    .await
}

async fn receives_status(world: &mut RigWorld, args: Args) -> StepResult {
    status_for(world, args.text(0), 1, args.secs(1)?).await
}

async fn receives_status_connector(world: &mut RigWorld, args: Args) -> StepResult {
    status_for(world, args.text(0), args.int(1)?, args.secs(2)?).await
}

async fn receives_status_error(world: &mut RigWorld, args: Args) -> StepResult {
    let code = args.text(0);
    let connector = args.int(1)?;
    let what = format!("a StatusNotification with error code {code} for connector {connector}");
    receive(
        world,
        "StatusNotification#errorCode",
        "StatusNotification",
        args.secs(2)?,
        &what,
        |p| p["errorCode"] == code.as_str() && p["connectorId"].as_i64() == Some(connector),
    )
    .await
}

/// Any action: the next one received after what earlier steps (and the setup) took.
async fn receives_any(world: &mut RigWorld, args: Args) -> StepResult {
    let action = charge_point_action(&args.text(0))?;
    let wait = args.secs(1)?;
    let from = world.cursors.get(&action).copied().unwrap_or(0);
    let what = format!("a {action}");
    let found = world
        .wait_history(wait, &what, |h| h.first_call_since(&action, from))
        .await;
    match found {
        Ok(seq) => {
            world.cursors.insert(action, seq + 1);
            Ok(())
        }
        Err(report) => {
            let history = world.history();
            let seen: Vec<String> = history
                .received(&action)
                .map(|r| format!("\n    {}{}", r.summary(), answer_of(&history, r)))
                .collect();
            Err(format!(
                "{report}\n  every {action} received in this scenario ({}), {} of them before this step's turn:{}",
                seen.len(),
                history.received(&action).filter(|r| r.seq < from).count(),
                seen.concat()
            ))
        }
    }
}

/// §4.9: the listed statuses arrive in this order after the setup; others may come between.
async fn statuses_in_order(world: &mut RigWorld, args: Args) -> StepResult {
    let connector =
        u32::try_from(args.int(0)?).map_err(|_| "a connector id is 0 or more".to_string())?;
    let wanted = args
        .table()?
        .iter()
        .map(|row| row.required("status").map(str::to_string))
        .collect::<Result<Vec<_>, _>>()?;
    let from = world.setup_mark;
    let what = format!(
        "these StatusNotifications for connector {connector} in order: {}",
        wanted.join(", ")
    );
    let wait = world.step_deadline();
    match world
        .wait_history(wait, &what, |h| {
            h.statuses_in_order(connector, from, &wanted)
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(report) => {
            let history = world.history();
            let arrived: Vec<String> = history
                .status_reports(connector, from)
                .iter()
                .map(|r| format!("\n    {}", r.record.summary()))
                .collect();
            Err(format!(
                "{report}\n  StatusNotifications for connector {connector} since the setup, in arrival order:{}",
                arrived.concat()
            ))
        }
    }
}

async fn receives_none(world: &mut RigWorld, args: Args) -> StepResult {
    let action = charge_point_action(&args.text(0))?;
    let period = args.secs(1)?;
    let before = world.csms().await?.with_history(|h| h.count(&action));
    let deadline = tokio::time::Instant::now() + period;
    let arrived = world
        .csms()
        .await?
        .wait_for(deadline, |h| (h.count(&action) > before).then_some(()))
        .await;
    match arrived {
        None => Ok(()),
        Some(()) => Err(world.failure(&format!(
            "expected no {action} for {period:?}, but one arrived"
        ))),
    }
}

async fn received_exactly(world: &mut RigWorld, args: Args) -> StepResult {
    let wanted = args.count(0)? as usize;
    let action = charge_point_action(&args.text(1))?;
    let got = world.history().count(&action);
    if got == wanted {
        Ok(())
    } else {
        Err(world.failure(&format!(
            "the central system received {got} {action}, expected exactly {wanted}"
        )))
    }
}

async fn attempts_apart(world: &mut RigWorld, args: Args) -> StepResult {
    let action = charge_point_action(&args.text(0))?;
    let gaps: Vec<f64> = args
        .text(1)
        .split(',')
        .map(|g| {
            g.trim()
                .parse::<f64>()
                .map_err(|_| format!("{g:?} is not a number of seconds"))
        })
        .collect::<Result<_, _>>()?;
    let wanted = gaps.len() + 1;
    let wait = world.step_deadline();
    let times = world
        .wait_history(wait, &format!("{wanted} {action} attempts"), |h| {
            let times: Vec<DateTime<Utc>> = h.received(&action).map(|r| r.at).collect();
            (times.len() >= wanted).then_some(times)
        })
        .await?;
    if times.len() != wanted {
        return Err(world.failure(&format!(
            "{} {action} attempts arrived, expected exactly {wanted}",
            times.len()
        )));
    }
    let actual: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds() as f64 / 1000.0)
        .collect();
    let off = actual.iter().zip(&gaps).any(|(a, g)| (a - g).abs() > 1.0);
    if off {
        return Err(world.failure(&format!(
            "{action} attempts were {actual:?} s apart, expected {gaps:?} (±1 s)"
        )));
    }
    Ok(())
}

fn last_stop(world: &RigWorld) -> Result<Record, String> {
    world
        .history()
        .last("StopTransaction")
        .cloned()
        .ok_or_else(|| world.failure("the central system has received no StopTransaction"))
}

async fn last_stop_tag(world: &mut RigWorld, args: Args) -> StepResult {
    let tag = args.text(0);
    let stop = last_stop(world)?;
    if tag_is(&stop.payload, &tag) {
        Ok(())
    } else {
        Err(world.failure(&format!(
            "the last StopTransaction has id tag {}, expected {tag}",
            stop.payload["idTag"]
        )))
    }
}

async fn last_stop_id(world: &mut RigWorld, args: Args) -> StepResult {
    let id = args.int(0)?;
    let stop = last_stop(world)?;
    if stop.payload["transactionId"].as_i64() == Some(id) {
        Ok(())
    } else {
        Err(world.failure(&format!(
            "the last StopTransaction carries transaction id {}, expected {id}",
            stop.payload["transactionId"]
        )))
    }
}

fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Moments the board's transaction flag went up (`rising`) or down, by the rig's clock.
fn transaction_edges(world: &RigWorld, rising: bool) -> Vec<DateTime<Utc>> {
    let timeline = world.timeline();
    timeline
        .windows(2)
        // Within one board connection: a transaction restored after a reboot is no new edge.
        .filter(|w| {
            w[0].connection == w[1].connection
                && w[0].status.transaction_active != rising
                && w[1].status.transaction_active == rising
        })
        .map(|w| w[1].at)
        .collect()
}

/// The event time in a queued message is the time of the board's transition, not of sending.
/// The tolerance shrinks with the delay so that a send-time stamp fails even after a short
/// offline period; `min_delay` asks for a message that really waited.
fn check_event_time(
    world: &RigWorld,
    record: &Record,
    rising: bool,
    what: &str,
    min_delay: Option<Duration>,
) -> StepResult {
    let stamped = timestamp(&record.payload["timestamp"])
        .ok_or_else(|| format!("{what} has no valid timestamp: {}", record.payload))?;
    let edges: Vec<DateTime<Utc>> = transaction_edges(world, rising)
        .into_iter()
        .filter(|e| *e <= record.at)
        .collect();
    let nearest = edges
        .iter()
        .min_by_key(|e| (**e - stamped).num_milliseconds().abs())
        .ok_or_else(|| {
            world.failure(&format!(
                "the board never showed the transaction {} before {what} arrived",
                if rising { "starting" } else { "ending" }
            ))
        })?;
    let delay = (record.at - *nearest).num_milliseconds();
    if let Some(min) = min_delay {
        if delay < min.as_millis() as i64 {
            return Err(world.failure(&format!(
                "{what} arrived {delay} ms after the board event, less than {min:?}: it was not held back, so its timestamp proves nothing"
            )));
        }
    }
    let tolerance = (delay / 2).clamp(250, 2000);
    let skew = (*nearest - stamped).num_milliseconds().abs();
    if skew > tolerance {
        return Err(world.failure(&format!(
            "{what} is stamped {stamped}, but the board showed it at {nearest} ({skew} ms apart, \
             tolerance {tolerance} ms); it arrived at {}",
            record.at
        )));
    }
    Ok(())
}

async fn start_time(world: &mut RigWorld, _: Args) -> StepResult {
    let start = world
        .history()
        .last("StartTransaction")
        .cloned()
        .ok_or_else(|| world.failure("the central system has received no StartTransaction"))?;
    check_event_time(world, &start, true, "the StartTransaction", None)
}

async fn stop_time(world: &mut RigWorld, _: Args) -> StepResult {
    let stop = last_stop(world)?;
    check_event_time(
        world,
        &stop,
        false,
        "the StopTransaction",
        Some(Duration::from_secs(3)),
    )
}

/// The transaction id of the last accepted StartTransaction.
fn last_transaction_id(history: &History) -> Option<i64> {
    history
        .received("StartTransaction")
        .filter_map(|r| {
            let answer = history.answer_to(r.message_id.as_deref()?)?;
            (answer.kind == Kind::Result).then(|| answer.payload["transactionId"].as_i64())?
        })
        .last()
}

async fn meter_values_apart(world: &mut RigWorld, args: Args) -> StepResult {
    let period = args.count(0)? as i64;
    let history = world.history();
    let id = last_transaction_id(&history);
    let mut stamps: Vec<DateTime<Utc>> = Vec::new();
    for record in history.received("MeterValues") {
        let tx = record.payload["transactionId"].as_i64();
        if tx.is_none() || (tx != id && tx != Some(-1)) {
            continue;
        }
        for mv in record.payload["meterValue"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let periodic = mv["sampledValue"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|sv| {
                    sv["context"]
                        .as_str()
                        .is_none_or(|c| c == "Sample.Periodic")
                });
            if periodic {
                if let Some(t) = timestamp(&mv["timestamp"]) {
                    stamps.push(t);
                }
            }
        }
    }
    if stamps.len() < 2 {
        return Err(world.failure(&format!(
            "only {} periodic MeterValues sample(s) for transaction {id:?}",
            stamps.len()
        )));
    }
    for pair in stamps.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        if gap <= 0 {
            return Err(world.failure(&format!(
                "MeterValues out of order: {} then {}",
                pair[0], pair[1]
            )));
        }
        if (gap - period * 1000).abs() > 1000 {
            return Err(world.failure(&format!(
                "MeterValues {} and {} are {gap} ms apart, expected {period} s (±1 s)",
                pair[0], pair[1]
            )));
        }
    }
    Ok(())
}

async fn messages_in_order(world: &mut RigWorld, args: Args) -> StepResult {
    let mut wanted = Vec::new();
    for row in &args.table()? {
        let message = row.required("message")?;
        let action = TransactionAction::from_action(message).ok_or_else(|| {
            format!("{message:?}: use StartTransaction, MeterValues or StopTransaction")
        })?;
        wanted.push(Expected {
            action,
            id_tag: row.get("id tag").map(str::to_string),
            reason: row.get("reason").map(str::to_string),
        });
    }
    let from = world.setup_mark;
    let expected: Vec<String> = wanted.iter().map(ToString::to_string).collect();
    let what = format!(
        "these transaction messages in order: {}",
        expected.join(", ")
    );
    let wait = world.step_deadline();
    let matched = match world
        .wait_history(wait, &what, |h| h.in_order(from, &wanted))
        .await
    {
        Ok(matched) => matched,
        Err(report) => {
            // The order that did arrive, which may be older than the last 10 s of the report.
            let history = world.history();
            let arrived: Vec<String> = history
                .transaction_messages()
                .iter()
                .map(|m| {
                    let before = if m.record.seq < from {
                        " (before this scenario's last setting-up step: not considered)"
                    } else {
                        ""
                    };
                    format!("\n    {}{before}", m.describe())
                })
                .collect();
            return Err(format!(
                "{report}\n  transaction messages received in this scenario, in arrival order ({}):{}",
                arrived.len(),
                arrived.concat()
            ));
        }
    };
    // Later `receives` steps look past what this table matched.
    for (action, seq) in matched {
        let cursor = world.cursors.entry(action.to_string()).or_insert(0);
        *cursor = (*cursor).max(seq + 1);
    }
    Ok(())
}

async fn delivered_between(world: &mut RigWorld, args: Args) -> StepResult {
    let (low, high) = (args.int(0)?, args.int(1)?);
    let history = world.history();
    let start = history
        .last("StartTransaction")
        .cloned()
        .ok_or_else(|| world.failure("no StartTransaction received"))?;
    let meter_start = start.payload["meterStart"].as_i64().unwrap_or(0);
    let id = start
        .message_id
        .as_deref()
        .and_then(|m| history.answer_to(m))
        .and_then(|a| a.payload["transactionId"].as_i64());
    let stop = history
        .received("StopTransaction")
        .filter(|r| r.payload["transactionId"].as_i64() == id || r.seq > start.seq)
        .last();
    let end = match stop {
        Some(stop) => stop.payload["meterStop"].as_i64().unwrap_or(0),
        None => i64::from(
            world
                .timeline()
                .last()
                .map(|s| s.energy_wh)
                .ok_or_else(|| world.failure("no board meter reading"))?,
        ),
    };
    let delivered = end - meter_start;
    if (low..=high).contains(&delivered) {
        Ok(())
    } else {
        Err(world.failure(&format!(
            "the transaction delivered {delivered} Wh (meter {meter_start} → {end}), expected {low}..={high}"
        )))
    }
}

/// Whether the scenario ended with the charger online and nothing held back.
/// (Powered, network up, central system answering, registration Accepted, board online.)
fn ended_online(world: &RigWorld) -> bool {
    let history = world.history();
    let accepted = history
        .received("BootNotification")
        .filter_map(|r| history.answer_to(r.message_id.as_deref()?))
        .last()
        .is_some_and(|a| a.payload["status"] == "Accepted");
    world.is_started()
        && world
            .bench
            .as_ref()
            .is_some_and(|b| b.powered && b.network() == GateState::Open)
        && !world.csms.as_ref().is_some_and(|c| c.script(|s| s.silent))
        && accepted
        && world.status().is_some_and(|s| s.online)
}

/// Waits for the charger's offline queue to drain, then runs the ledger check.
async fn check_ledger(world: &mut RigWorld) -> StepResult {
    let wait = world.step_deadline();
    world
        .wait_status(wait, "the charger's message queue to drain", |s| {
            s.online && s.queue_len == 0
        })
        .await?;
    // A message leaves the queue only once answered, and the central system records a request
    // before answering it: an empty queue means the history is complete.
    let samples = world
        .timeline()
        .into_iter()
        .map(|s| (s.connection, s.status.transaction_active));
    let board = BoardTransactions::from_samples(samples);
    let problems = ledger::check(&world.history(), Some(board));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(world.failure(&format!(
            "the ledger does not balance:\n    {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n    ")
        )))
    }
}

async fn ledger_step(world: &mut RigWorld, _: Args) -> StepResult {
    if !world.is_started() {
        return Err("the charger never ran in this scenario: there is no ledger to check".into());
    }
    check_ledger(world).await
}

async fn end_of_scenario(world: &mut RigWorld, _: Args) -> StepResult {
    let violations = world.history().violations;
    if !violations.is_empty() {
        let list: Vec<String> = violations
            .iter()
            .map(|v| format!("connection {}: {} in {}", v.connection, v.reason, v.frame))
            .collect();
        return Err(format!(
            "the charger sent invalid OCPP frames:\n    {}",
            list.join("\n    ")
        ));
    }
    if ended_online(world) {
        check_ledger(world).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_checked() {
        assert_eq!(charge_point_action("Authorize").unwrap(), "Authorize");
        assert_eq!(
            charge_point_action("StartTransactions").unwrap(),
            "StartTransaction"
        );
        let err = charge_point_action("StartTranscation").unwrap_err();
        assert!(err.contains("did you mean StartTransaction?"), "{err}");
    }

    #[test]
    fn local_matches_an_absent_reason() {
        assert!(reason_is(&serde_json::json!({}), "Local"));
        assert!(!reason_is(&serde_json::json!({}), "Remote"));
        assert!(reason_is(
            &serde_json::json!({"reason": "Remote"}),
            "Remote"
        ));
        assert!(!reason_is(
            &serde_json::json!({"reason": "Remote"}),
            "Local"
        ));
    }
}
