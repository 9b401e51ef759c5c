//! Connection security (steps.md "Connection security", field.md): the central system requires
//! a security profile, expects a key, refuses wrong passwords; the charger never reveals its key.

use std::time::Duration;

use serde_json::{json, Value};

use super::registry::{Args, StepDef, StepResult};
use crate::csms::{key_bytes, Answer, Direction, History, Kind, Refusal};
use crate::step_def;
use crate::world::RigWorld;

pub fn defs() -> Vec<StepDef> {
    vec![
        step_def!(
            "Given",
            "the central system requires security profile {int}",
            requires_profile
        ),
        step_def!(
            "When",
            "the central system expects the AuthorizationKey {string}",
            expects_key
        ),
        step_def!(
            "Then",
            "the central system refuses the charger's password within {int} seconds",
            refuses_password
        ),
        step_def!(
            "Then",
            "the central system refuses the charger's password at least {int} times within {int} seconds, with growing pauses",
            refuses_with_backoff
        ),
        step_def!(
            "Then",
            "the central system has refused no password",
            refused_none
        ),
        step_def!(
            "Then",
            "the charger never reveals the AuthorizationKey",
            never_reveals
        ),
    ]
}

async fn requires_profile(world: &mut RigWorld, args: Args) -> StepResult {
    let profile = args.int(0)?;
    if world.is_started() {
        return Err(
            "the security profile must be required before the charger starts (before `the charger is online`)"
                .into(),
        );
    }
    if !(0..=3).contains(&profile) {
        return Err(format!("security profile {profile}: use 0, 1, 2 or 3"));
    }
    world.security_profile = Some(profile as u8);
    Ok(())
}

async fn expects_key(world: &mut RigWorld, args: Args) -> StepResult {
    let hex = args.text(0);
    let key = key_bytes(&hex)?;
    world.known_keys.push(hex.to_ascii_lowercase());
    world.expected_key = Some(key.clone());
    if world.is_started() {
        let csms = world.csms().await?;
        csms.expect_key(Some(key));
        world.refusal_mark = csms.with_history(|h| h.refused.len());
        world.note_fault(format!(
            "central system expects another AuthorizationKey ({hex:.4}...)"
        ));
    }
    Ok(())
}

/// Password refusals (401) since the last `expects the AuthorizationKey` step.
fn password_refusals(history: &History, mark: usize) -> Vec<Refusal> {
    history
        .refused
        .iter()
        .skip(mark)
        .filter(|r| r.is_password())
        .cloned()
        .collect()
}

async fn refuses_password(world: &mut RigWorld, args: Args) -> StepResult {
    let secs = args.int(0)?.max(0) as u64;
    world.ensure_started().await?;
    let mark = world.refusal_mark;
    world
        .wait_history(
            Duration::from_secs(secs),
            "an upgrade answered 401 (wrong credentials)",
            |h| password_refusals(h, mark).first().cloned(),
        )
        .await?;
    Ok(())
}

async fn refuses_with_backoff(world: &mut RigWorld, args: Args) -> StepResult {
    let times = args.int(0)?.max(2) as usize;
    let secs = args.int(1)?.max(0) as u64;
    world.ensure_started().await?;
    let mark = world.refusal_mark;
    let refusals = world
        .wait_history(
            Duration::from_secs(secs),
            &format!("{times} upgrades answered 401"),
            |h| {
                let r = password_refusals(h, mark);
                (r.len() >= times).then_some(r)
            },
        )
        .await?;
    let pauses: Vec<i64> = refusals
        .windows(2)
        .map(|w| (w[1].at - w[0].at).num_milliseconds())
        .collect();
    let (first, last) = (pauses[0], pauses[pauses.len() - 1]);
    // Jitter may make one pause shorter than the one before; over several attempts the
    // back-off must show.
    if last <= first {
        return Err(world.failure(&format!(
            "expected growing pauses between refused attempts (back-off), got {pauses:?} ms"
        )));
    }
    let history = world.history();
    if history
        .connections
        .iter()
        .any(|c| c.opened && c.at > refusals[0].at)
    {
        return Err(world.failure("a charger got in after its password was refused"));
    }
    Ok(())
}

async fn refused_none(world: &mut RigWorld, _: Args) -> StepResult {
    let refusals = password_refusals(&world.history(), world.refusal_mark);
    match refusals.first() {
        None => Ok(()),
        Some(r) => Err(world.failure(&format!(
            "the central system refused {} upgrade(s), first: {}",
            refusals.len(),
            r.reason
        ))),
    }
}

/// Every AuthorizationKey value the scenario used: set before boot, sent by
/// ChangeConfiguration, or expected by the central system.
fn keys_of_scenario(world: &RigWorld, history: &History) -> Vec<String> {
    let mut keys = world.known_keys.clone();
    if let Some((_, v)) = world
        .ocpp_keys
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("AuthorizationKey"))
    {
        keys.push(v.to_ascii_lowercase());
    }
    for r in &history.records {
        if r.direction == Direction::Out
            && r.kind == Kind::Call
            && r.action.as_deref() == Some("ChangeConfiguration")
            && r.payload["key"]
                .as_str()
                .is_some_and(|k| k.eq_ignore_ascii_case("AuthorizationKey"))
        {
            if let Some(v) = r.payload["value"].as_str() {
                keys.push(v.to_ascii_lowercase());
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys.retain(|k| !k.is_empty());
    keys
}

async fn never_reveals(world: &mut RigWorld, _: Args) -> StepResult {
    world.ensure_started().await?;
    for request in [json!({}), json!({"key": ["AuthorizationKey"]})] {
        let answer = world.call("GetConfiguration", request.clone()).await?;
        let Answer::Result(payload) = answer else {
            return Err(world.failure(&format!("GetConfiguration {request} failed: {answer:?}")));
        };
        let shown = payload["configurationKey"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| {
                e["key"]
                    .as_str()
                    .is_some_and(|k| k.eq_ignore_ascii_case("AuthorizationKey"))
            })
            .and_then(|e| e.get("value").cloned())
            .filter(|v| !v.is_null() && v != &Value::from(""));
        if let Some(value) = shown {
            return Err(world.failure(&format!(
                "GetConfiguration {request} returned a value for AuthorizationKey: {value}"
            )));
        }
    }
    let history = world.history();
    let keys = keys_of_scenario(world, &history);
    if keys.is_empty() {
        return Err("no AuthorizationKey was set in this scenario: nothing to check".into());
    }
    for r in history
        .records
        .iter()
        .filter(|r| r.direction == Direction::In)
    {
        let text = r.payload.to_string().to_ascii_lowercase();
        if let Some(k) = keys.iter().find(|k| text.contains(k.as_str())) {
            return Err(world.failure(&format!(
                "the charger revealed the AuthorizationKey {k:.4}... in {}",
                r.summary()
            )));
        }
    }
    if world.profile.is_sim() {
        let log_path = world.bench()?.dir.join("charger.log");
        let log = std::fs::read_to_string(&log_path)
            .map_err(|e| format!("cannot read the charger's log {}: {e}", log_path.display()))?
            .to_ascii_lowercase();
        if let Some(k) = keys.iter().find(|k| log.contains(k.as_str())) {
            return Err(world.failure(&format!(
                "the charger's log {} contains the AuthorizationKey {k:.4}...",
                log_path.display()
            )));
        }
    }
    Ok(())
}
