//! The network and the central system: faults, scripted answers, central-system requests.

use rust_ocpp::v1_6::types::AuthorizationStatus;
use serde_json::{json, Value};

use super::registry::{Args, Row, StepDef, StepResult};
use crate::csms::{parse_authorization_status, parse_expiry, Answer, Injection, Kind};
use crate::step_def;
use crate::world::RigWorld;

pub fn defs() -> Vec<StepDef> {
    vec![
        step_def!("When", "the network to the central system is cut", cut),
        step_def!(
            "When",
            "the connection to the central system is refused",
            refuse
        ),
        step_def!("When", "the network is restored", restore),
        step_def!("When", "the central system stops answering", stop_answering),
        step_def!("When", "the central system answers again", answer_again),
        step_def!(
            "When",
            "the central system answers StartTransaction with {string}",
            start_status
        ),
        step_def!(
            "When",
            "the central system answers {word} with a CallError",
            call_error_always
        ),
        step_def!(
            "When",
            "the central system answers {word} with a CallError {int} times",
            call_error_times
        ),
        step_def!(
            "When",
            "the central system changes {string} to {string}",
            change_configuration
        ),
        step_def!("When", "the central system sends ClearCache", clear_cache),
        step_def!(
            "When",
            "the central system sends the local list version {int}:",
            local_list_full
        ),
        step_def!(
            "When",
            "the central system sends a differential local list version {int}:",
            local_list_differential
        ),
        step_def!(
            "When",
            "the central system remote-starts a transaction for {string}",
            remote_start
        ),
        step_def!(
            "When",
            "the central system remote-stops the transaction",
            remote_stop
        ),
        step_def!(
            "When",
            "the central system remote-stops transaction {int}",
            remote_stop_id
        ),
        step_def!("When", "the central system sends a {string} reset", reset),
        step_def!("When", "the central system triggers a {word}", trigger),
        step_def!(
            "When",
            "the central system sets connector {int} {word}",
            change_availability
        ),
        step_def!(
            "When",
            "the central system unlocks connector {int}",
            unlock_connector
        ),
        step_def!(
            "When",
            "the central system requests the whole configuration",
            whole_configuration
        ),
        step_def!(
            "When",
            "the central system requests the configuration keys {string}",
            configuration_keys
        ),
    ]
}

async fn cut(world: &mut RigWorld, _: Args) -> StepResult {
    world.ensure_started().await?;
    world.fault_connection = world.history().last_connection();
    world.note_fault("network cut (packets dropped both ways)");
    world.bench_mut()?.network_cut().await?;
    Ok(())
}

async fn refuse(world: &mut RigWorld, _: Args) -> StepResult {
    world.ensure_started().await?;
    world.fault_connection = world.history().last_connection();
    world.note_fault("connection refused (open connections reset)");
    world.bench_mut()?.network_refuse().await?;
    Ok(())
}

async fn restore(world: &mut RigWorld, _: Args) -> StepResult {
    world.ensure_started().await?;
    world.note_fault("network restored");
    world.bench_mut()?.network_restore().await?;
    Ok(())
}

async fn stop_answering(world: &mut RigWorld, _: Args) -> StepResult {
    world.fault_connection = world.history().last_connection();
    world.note_fault("central system stops answering");
    world.csms().await?.script(|s| s.silent = true);
    Ok(())
}

async fn answer_again(world: &mut RigWorld, _: Args) -> StepResult {
    world.note_fault("central system answers again");
    world.csms().await?.script(|s| s.silent = false);
    Ok(())
}

fn authorization_status(raw: &str) -> Result<AuthorizationStatus, String> {
    parse_authorization_status(raw)
        .ok_or_else(|| format!("{raw:?}: use Accepted, Blocked, Expired, Invalid or ConcurrentTx"))
}

async fn start_status(world: &mut RigWorld, args: Args) -> StepResult {
    let status = authorization_status(&args.text(0))?;
    world
        .csms()
        .await?
        .script(|s| s.start_status = Some(status));
    Ok(())
}

fn check_action(action: &str) -> StepResult {
    if crate::csms::CHARGE_POINT_ACTIONS.contains(&action) {
        Ok(())
    } else {
        Err(format!(
            "{action} is not a request a charger sends; use one of {}",
            crate::csms::CHARGE_POINT_ACTIONS.join(", ")
        ))
    }
}

async fn call_error_always(world: &mut RigWorld, args: Args) -> StepResult {
    let action = args.text(0);
    check_action(&action)?;
    world.note_fault(format!("{action} answered with CallError from now on"));
    world
        .csms()
        .await?
        .script(|s| s.inject_call_error(&action, Injection::Always));
    Ok(())
}

async fn call_error_times(world: &mut RigWorld, args: Args) -> StepResult {
    let action = args.text(0);
    check_action(&action)?;
    let times = u32::try_from(args.count(1)?).map_err(|_| "too many times".to_string())?;
    world.note_fault(format!("{action} answered with CallError {times} times"));
    world
        .csms()
        .await?
        .script(|s| s.inject_call_error(&action, Injection::Times(times)));
    Ok(())
}

async fn change_configuration(world: &mut RigWorld, args: Args) -> StepResult {
    let payload = json!({"key": args.text(0), "value": args.text(1)});
    world.call("ChangeConfiguration", payload).await.map(|_| ())
}

async fn clear_cache(world: &mut RigWorld, _: Args) -> StepResult {
    world.call("ClearCache", json!({})).await.map(|_| ())
}

fn authorization_data(row: &Row) -> Result<Value, String> {
    let tag = row.required("id tag")?;
    let Some(status) = row.get("status") else {
        // Differential: deletes the tag. Full: an entry without idTagInfo, which a charger
        // must refuse (Failed, §7.1 / issue 14.4) — sent as written so that can be checked.
        return Ok(json!({"idTag": tag}));
    };
    let mut info = json!({"status": status});
    authorization_status(status)?;
    if let Some(expiry) = row.get("expiry") {
        let at = parse_expiry(expiry, chrono::Utc::now())?;
        info["expiryDate"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    if let Some(parent) = row.get("parent") {
        info["parentIdTag"] = json!(parent);
    }
    Ok(json!({"idTag": tag, "idTagInfo": info}))
}

async fn send_local_list(world: &mut RigWorld, args: Args, differential: bool) -> StepResult {
    let version = args.int(0)?;
    let rows = if args.step.table.is_some() {
        args.table()?
    } else {
        Vec::new()
    };
    let list = rows
        .iter()
        .map(authorization_data)
        .collect::<Result<Vec<_>, _>>()?;
    let mut payload = json!({
        "listVersion": version,
        "updateType": if differential { "Differential" } else { "Full" },
    });
    if !list.is_empty() {
        payload["localAuthorizationList"] = Value::Array(list);
    }
    world.call("SendLocalList", payload).await.map(|_| ())
}

async fn local_list_full(world: &mut RigWorld, args: Args) -> StepResult {
    send_local_list(world, args, false).await
}

async fn local_list_differential(world: &mut RigWorld, args: Args) -> StepResult {
    send_local_list(world, args, true).await
}

async fn remote_start(world: &mut RigWorld, args: Args) -> StepResult {
    let payload = json!({"connectorId": 1, "idTag": args.text(0)});
    world
        .call("RemoteStartTransaction", payload)
        .await
        .map(|_| ())
}

/// The transaction id of the transaction in progress, as the central system assigned it.
fn transaction_in_progress(history: &crate::csms::History) -> Option<i64> {
    let stopped: Vec<i64> = history
        .received("StopTransaction")
        .filter_map(|r| r.payload["transactionId"].as_i64())
        .collect();
    history
        .received("StartTransaction")
        .filter_map(|r| {
            let id = r.message_id.as_deref()?;
            let answer = history.answer_to(id).filter(|a| a.kind == Kind::Result)?;
            answer.payload["transactionId"].as_i64()
        })
        .filter(|id| !stopped.contains(id))
        .last()
}

async fn remote_stop(world: &mut RigWorld, _: Args) -> StepResult {
    // The StartTransaction may still be on its way: wait for the central system to know it.
    let wait = world.step_deadline();
    let id = world
        .wait_history(
            wait,
            "a transaction in progress known to the central system",
            transaction_in_progress,
        )
        .await?;
    world
        .call("RemoteStopTransaction", json!({"transactionId": id}))
        .await
        .map(|_| ())
}

async fn change_availability(world: &mut RigWorld, args: Args) -> StepResult {
    let connector = args.int(0)?;
    let kind = args.text(1);
    if kind != "Operative" && kind != "Inoperative" {
        return Err(format!("{kind:?}: use Operative or Inoperative"));
    }
    let payload = json!({"connectorId": connector, "type": kind});
    world.call("ChangeAvailability", payload).await.map(|_| ())
}

async fn unlock_connector(world: &mut RigWorld, args: Args) -> StepResult {
    let payload = json!({"connectorId": args.int(0)?});
    world.call("UnlockConnector", payload).await.map(|_| ())
}

/// RemoteStopTransaction for a given id (e.g. one the charger does not know: OCTT TC_028).
async fn remote_stop_id(world: &mut RigWorld, args: Args) -> StepResult {
    world
        .call(
            "RemoteStopTransaction",
            json!({"transactionId": args.int(0)?}),
        )
        .await
        .map(|_| ())
}

async fn reset(world: &mut RigWorld, args: Args) -> StepResult {
    let kind = args.text(0);
    if kind != "Soft" && kind != "Hard" {
        return Err(format!("reset {kind:?}: use \"Soft\" or \"Hard\""));
    }
    let answer = world.call("Reset", json!({"type": kind})).await?;
    if matches!(&answer, Answer::Result(p) if p["status"] == "Accepted") {
        // The charger reboots: its next BootNotification (and connection) come after this.
        world.boot_mark = world.history().records.len();
        world.fault_connection = world.history().last_connection();
    }
    Ok(())
}

async fn trigger(world: &mut RigWorld, args: Args) -> StepResult {
    let message = args.text(0);
    let known = [
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    ];
    if !known.contains(&message.as_str()) {
        return Err(format!(
            "cannot trigger {message:?}: use one of {}",
            known.join(", ")
        ));
    }
    world
        .call("TriggerMessage", json!({"requestedMessage": message}))
        .await
        .map(|_| ())
}

async fn get_configuration(world: &mut RigWorld, payload: Value) -> StepResult {
    match world.call("GetConfiguration", payload).await? {
        Answer::Result(p) => {
            world.last_configuration = Some(p);
            Ok(())
        }
        Answer::Error { code, description } => Err(world.failure(&format!(
            "GetConfiguration answered with CallError {code}: {description}"
        ))),
    }
}

async fn whole_configuration(world: &mut RigWorld, _: Args) -> StepResult {
    get_configuration(world, json!({})).await
}

async fn configuration_keys(world: &mut RigWorld, args: Args) -> StepResult {
    let keys: Vec<String> = args
        .text(0)
        .split(',')
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    get_configuration(world, json!({"key": keys})).await
}
