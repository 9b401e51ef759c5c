//! What must be observed on the board and in the charger's answers.

use std::time::Duration;

use chargerig_link::{BoardEvent, ConnectorStatus, EventKind};

use crate::link::EventRecord;
use serde_json::{json, Value};

use super::registry::{Args, StepDef, StepResult};
use crate::csms::Answer;
use crate::step_def;
use crate::world::RigWorld;

pub fn defs() -> Vec<StepDef> {
    vec![
        step_def!(
            "Then",
            "charging starts within {int} seconds",
            charging_starts
        ),
        step_def!(
            "Then",
            "charging does not start within {int} seconds",
            charging_does_not_start
        ),
        step_def!(
            "Then",
            "charging stops within {int} seconds",
            charging_stops
        ),
        step_def!(
            "Then",
            "charging continues for {int} seconds",
            charging_continues
        ),
        step_def!(
            "Then",
            "the contactor opens within {int} ms",
            contactor_opens_ms
        ),
        step_def!("Then", "the connector status is {string}", connector_status),
        step_def!("Then", "the connector stays locked", stays_locked),
        step_def!(
            "Then",
            "the connector unlocks within {int} seconds",
            unlocks
        ),
        step_def!(
            "Then",
            "the connector is unlocked within {int} seconds",
            unlocks
        ),
        step_def!(
            "Then",
            "the charger reports being offline within {int} seconds",
            offline
        ),
        step_def!(
            "Then",
            "the charger's queue is empty within {int} seconds",
            queue_empty
        ),
        step_def!(
            "Then",
            "the charger is back online within {int} seconds",
            back_online
        ),
        step_def!("Then", "the charger answers {string}", charger_answers),
        step_def!(
            "Then",
            "the configuration key {string} reads {string}",
            key_reads
        ),
        step_def!(
            "Then",
            "the local list version is {int}",
            local_list_version
        ),
        step_def!(
            "Then",
            "the configuration reported includes:",
            configuration_includes
        ),
        step_def!(
            "Then",
            "the configuration reported lists {string} as unknown",
            configuration_unknown
        ),
    ]
}

async fn charging_starts(world: &mut RigWorld, args: Args) -> StepResult {
    let wait = args.secs(0)?;
    world
        .wait_status(wait, "charging to start (contactor closed)", |s| {
            s.contactor_closed
        })
        .await
        .map(|_| ())
}

async fn charging_does_not_start(world: &mut RigWorld, args: Args) -> StepResult {
    let period = args.secs(0)?;
    world
        .hold_status(period, "the contactor to stay open", |s| {
            !s.contactor_closed
        })
        .await
}

async fn charging_stops(world: &mut RigWorld, args: Args) -> StepResult {
    let wait = args.secs(0)?;
    world
        .wait_status(wait, "charging to stop (contactor open)", |s| {
            !s.contactor_closed
        })
        .await
        .map(|_| ())
}

async fn charging_continues(world: &mut RigWorld, args: Args) -> StepResult {
    let period = args.secs(0)?;
    world
        .hold_status(period, "the contactor to stay closed", |s| {
            s.contactor_closed
        })
        .await
}

/// The opening that ended the last closed period of the contactor, and the pilot change
/// (same boot) that preceded it: the pair whose board timestamps give the latency.
fn last_opening(events: &[EventRecord]) -> Option<(BoardEvent, BoardEvent)> {
    let closed = events
        .iter()
        .rposition(|r| r.event.kind == EventKind::ContactorClosed)?;
    let opened = events[closed + 1..]
        .iter()
        .find(|r| r.event.kind == EventKind::ContactorOpened)?;
    let change = events.iter().rfind(|r| {
        r.connection == opened.connection
            && r.event.kind == EventKind::PilotChange
            && r.event.board_ms <= opened.event.board_ms
    })?;
    Some((change.event, opened.event))
}

/// Latency from the pilot change to the contactor opening, on the board's own clock.
async fn contactor_opens_ms(world: &mut RigWorld, args: Args) -> StepResult {
    let limit = args.count(0)?;
    world.ensure_started().await?;
    let deadline = world.deadline_in(world.step_deadline());
    let found = world
        .bench()?
        .wait_events(deadline, &|events| last_opening(events))
        .await;
    let Some((change, opened)) = found else {
        return Err(
            world.failure("no contactor opening after a pilot change in the board's event log")
        );
    };
    let latency = u64::from(opened.board_ms.wrapping_sub(change.board_ms));
    if latency <= limit {
        return Ok(());
    }
    Err(world.failure(&format!(
        "the contactor opened {latency} ms after the pilot change (board clock {} → {} ms), limit {limit} ms",
        change.board_ms, opened.board_ms
    )))
}

async fn connector_status(world: &mut RigWorld, args: Args) -> StepResult {
    let raw = args.text(0);
    let wanted: ConnectorStatus = raw
        .parse()
        .map_err(|_| format!("{raw:?} is not an OCPP ChargePointStatus"))?;
    // A status is a snapshot, but transitions (Finishing → Available) take a moment.
    let settle = world.step_deadline().min(Duration::from_secs(5));
    world
        .wait_status(settle, &format!("connector status {raw}"), |s| {
            s.connector_status == wanted
        })
        .await
        .map(|_| ())
}

async fn stays_locked(world: &mut RigWorld, _: Args) -> StepResult {
    world
        .wait_status(Duration::from_secs(2), "the cable lock to engage", |s| {
            s.cable_locked
        })
        .await?;
    world
        .hold_status(
            Duration::from_secs(2),
            "the cable lock to stay engaged",
            |s| s.cable_locked,
        )
        .await
}

async fn unlocks(world: &mut RigWorld, args: Args) -> StepResult {
    let wait = args.secs(0)?;
    world
        .wait_status(wait, "the cable lock to release", |s| !s.cable_locked)
        .await
        .map(|_| ())
}

async fn offline(world: &mut RigWorld, args: Args) -> StepResult {
    let wait = args.secs(0)?;
    world
        .wait_status(wait, "the charger reporting offline", |s| !s.online)
        .await
        .map(|_| ())
}

async fn queue_empty(world: &mut RigWorld, args: Args) -> StepResult {
    let wait = args.secs(0)?;
    world
        .wait_status(wait, "the charger's offline queue empty", |s| {
            s.queue_len == 0
        })
        .await
        .map(|_| ())
}

async fn back_online(world: &mut RigWorld, args: Args) -> StepResult {
    let wait = args.secs(0)?;
    let deadline = tokio::time::Instant::now() + wait;
    let after = world.fault_connection;
    world
        .wait_history(
            wait,
            "a reconnection with traffic on the new connection",
            |h| {
                // A frame of any kind from the charger (a request, or a WebSocket ping)
                // proves the new connection carries traffic end to end.
                let newest = h.last_connection();
                (newest > after && h.is_open(newest) && h.activity.contains_key(&newest))
                    .then_some(())
            },
        )
        .await?;
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    world
        .wait_status(
            left.max(Duration::from_secs(1)),
            "the board reporting online",
            |s| s.online,
        )
        .await
        .map(|_| ())
}

/// The status (or list version) of the charger's answer to the last central-system request.
fn answer_value(action: &str, answer: &Answer) -> Result<String, String> {
    match answer {
        Answer::Error { code, description } => Err(format!(
            "{action} was answered with CallError {code}: {description}"
        )),
        Answer::Result(p) => {
            let field = if action == "GetLocalListVersion" {
                &p["listVersion"]
            } else {
                &p["status"]
            };
            match field {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(format!("{action} answer has no status: {p}")),
            }
        }
    }
}

async fn charger_answers(world: &mut RigWorld, args: Args) -> StepResult {
    let wanted = args.text(0);
    let (action, answer) = world
        .last_answer
        .clone()
        .ok_or("the central system has not sent a request in this scenario")?;
    let got = answer_value(&action, &answer).map_err(|e| world.failure(&e))?;
    if got == wanted {
        Ok(())
    } else {
        Err(world.failure(&format!(
            "the charger answered {action} with {got:?}, expected {wanted:?}"
        )))
    }
}

fn same_value(a: &str, b: &str) -> bool {
    let boolean = |s: &str| s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false");
    if boolean(a) && boolean(b) {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

async fn key_reads(world: &mut RigWorld, args: Args) -> StepResult {
    let (key, wanted) = (args.text(0), args.text(1));
    let answer = world
        .call("GetConfiguration", json!({"key": [key]}))
        .await?;
    let Answer::Result(p) = &answer else {
        return Err(world.failure(&format!("GetConfiguration failed: {answer:?}")));
    };
    world.last_configuration = Some(p.clone());
    let entry = p["configurationKey"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["key"] == key.as_str()));
    match entry.and_then(|e| e["value"].as_str()) {
        Some(value) if same_value(value, &wanted) => Ok(()),
        Some(value) => Err(world.failure(&format!("{key} reads {value:?}, expected {wanted:?}"))),
        None => Err(world.failure(&format!("GetConfiguration did not report {key}: {p}"))),
    }
}

async fn local_list_version(world: &mut RigWorld, args: Args) -> StepResult {
    let wanted = args.int(0)?;
    let answer = world.call("GetLocalListVersion", json!({})).await?;
    match &answer {
        Answer::Result(p) if p["listVersion"].as_i64() == Some(wanted) => Ok(()),
        other => Err(world.failure(&format!(
            "GetLocalListVersion answered {other:?}, expected version {wanted}"
        ))),
    }
}

async fn configuration_includes(world: &mut RigWorld, args: Args) -> StepResult {
    let rows = args.table()?;
    let response = world
        .last_configuration
        .clone()
        .ok_or("no GetConfiguration response yet: request the configuration first")?;
    let keys = response["configurationKey"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut problems = Vec::new();
    for row in rows {
        let key = row.required("key")?;
        let Some(entry) = keys.iter().find(|k| k["key"] == key) else {
            problems.push(format!("{key} is not reported"));
            continue;
        };
        if let Some(readonly) = row.get("readonly") {
            let wanted = readonly.eq_ignore_ascii_case("true");
            if entry["readonly"].as_bool() != Some(wanted) {
                problems.push(format!(
                    "{key}: readonly is {}, expected {wanted}",
                    entry["readonly"]
                ));
            }
        }
        if let Some(value) = row.get("value") {
            let got = entry["value"].as_str().unwrap_or_default();
            if !got.eq_ignore_ascii_case(value) {
                problems.push(format!("{key}: value {got:?}, expected {value:?}"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n  whole response: {}",
            problems.join("\n  "),
            serde_json::to_string_pretty(&response).unwrap_or_default()
        ))
    }
}

async fn configuration_unknown(world: &mut RigWorld, args: Args) -> StepResult {
    let key = args.text(0);
    let response = world
        .last_configuration
        .clone()
        .ok_or("no GetConfiguration response yet: request the configuration first")?;
    let unknown = response["unknownKey"]
        .as_array()
        .is_some_and(|u| u.iter().any(|k| k == key.as_str()));
    let reported = response["configurationKey"]
        .as_array()
        .is_some_and(|c| c.iter().any(|k| k["key"] == key.as_str()));
    if unknown && !reported {
        Ok(())
    } else {
        Err(format!("{key} is not reported as unknown: {response}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(connection: u32, board_ms: u32, kind: EventKind) -> EventRecord {
        EventRecord {
            at: chrono::Utc::now(),
            event: BoardEvent {
                board_ms,
                kind,
                arg: 0,
                sequence: 0,
            },
            boot_count: Some(1),
            connection,
        }
    }

    #[test]
    fn latency_pairs_the_opening_with_the_pilot_change_before_it() {
        use EventKind::*;
        let mut events = vec![
            ev(1, 100, PilotChange),
            ev(1, 150, ContactorClosed),
            ev(1, 900, PilotChange),
            ev(1, 960, ContactorOpened),
            ev(1, 2000, PilotChange),
        ];
        let (change, opened) = last_opening(&events).unwrap();
        assert_eq!((change.board_ms, opened.board_ms), (900, 960));
        // Closed again and not yet open: nothing to measure yet.
        events.push(ev(1, 2100, ContactorClosed));
        assert!(last_opening(&events).is_none());
        events.push(ev(1, 2300, PilotChange));
        events.push(ev(1, 2340, ContactorOpened));
        let (change, opened) = last_opening(&events).unwrap();
        assert_eq!((change.board_ms, opened.board_ms), (2300, 2340));
    }
}
