//! Setting up: charger configuration before boot, the central system's script, bringing the
//! charger online.

use rust_ocpp::v1_6::types::AuthorizationStatus;
use serde_json::json;

use super::registry::{Args, StepDef, StepResult};
use crate::csms::{
    parse_authorization_status, parse_expiry, parse_registration_status, Answer, IdTagEntry,
};
use crate::step_def;
use crate::world::RigWorld;
use chargerig_link::{ConnectorStatus, Frame, PilotState};

pub fn defs() -> Vec<StepDef> {
    vec![
        step_def!("Given", "the charger uses RFID authorization", rfid),
        step_def!("Given", "the charger is in free charge mode", free_charge),
        step_def!(
            "Given",
            "the charger's serial number is {string}",
            serial_number
        ),
        step_def!(
            "Given",
            "the configuration key {string} is {string}",
            configuration_key
        ),
        step_def!("Given", "the central system knows these id tags:", id_tags),
        step_def!(
            "Given",
            "the central system answers BootNotification with {string}",
            boot_answer
        ),
        step_def!(
            "Given",
            "the central system's heartbeat interval is {int} seconds",
            heartbeat_interval
        ),
        step_def!("Given", "the charger is online", online),
        step_def!(
            "Given",
            "the card {string} has charged here while online",
            charged_online
        ),
        step_def!(
            "Given",
            "the card {string} was rejected online",
            rejected_online
        ),
        step_def!(
            "Given",
            "the charger has sent its BootNotification",
            boot_sent
        ),
    ]
}

fn before_boot(world: &RigWorld, what: &str) -> StepResult {
    if world.is_started() {
        return Err(format!(
            "{what} must come before the charger starts (before `the charger is online`)"
        ));
    }
    Ok(())
}

async fn rfid(world: &mut RigWorld, _: Args) -> StepResult {
    if world.is_started() && world.free_charge {
        return Err("the charger already runs in free charge mode".into());
    }
    world.free_charge = false;
    Ok(())
}

async fn free_charge(world: &mut RigWorld, _: Args) -> StepResult {
    if world.is_started() && !world.free_charge {
        before_boot(world, "free charge mode")?;
    }
    world.free_charge = true;
    Ok(())
}

async fn serial_number(world: &mut RigWorld, args: Args) -> StepResult {
    let serial = args.text(0);
    if world.is_started() && world.serial_number != serial {
        before_boot(world, "the serial number")?;
    }
    if serial.is_empty() || serial.len() > 25 {
        return Err(format!(
            "serial number {serial:?} must be 1 to 25 characters (OCPP CiString25)"
        ));
    }
    world.serial_number = serial;
    Ok(())
}

async fn configuration_key(world: &mut RigWorld, args: Args) -> StepResult {
    let (key, value) = (args.text(0), args.text(1));
    if !world.is_started() {
        if world.profile.is_sim() {
            check_installer_value(&key, &value)?;
        }
        world.ocpp_keys.insert(key, value);
        return Ok(());
    }
    match world
        .call("ChangeConfiguration", json!({"key": key, "value": value}))
        .await?
    {
        Answer::Result(p) if p["status"] == "Accepted" => Ok(()),
        other => Err(world.failure(&format!("the charger refused {key} = {value:?}: {other:?}"))),
    }
}

/// The simulated charger's own rules for an installer value, so that the step that sets a
/// value the charger would refuse is the step that fails.
fn check_installer_value(key: &str, value: &str) -> StepResult {
    let mut table = toml::Table::new();
    let mut keys = toml::Table::new();
    keys.insert(key.to_string(), value.into());
    table.insert("configuration".into(), keys.into());
    let text = toml::to_string(&table).map_err(|e| e.to_string())?;
    let overrides = charger_config::Overrides {
        serial_number: None,
        csms_url: Some("ws://127.0.0.1:9/ocpp".into()),
    };
    charger_config::parse_checked(&text, None, &overrides)
        .map(drop)
        .map_err(|e| format!("the charger refuses {key} = {value:?}: {}", e.reason))
}

async fn id_tags(world: &mut RigWorld, args: Args) -> StepResult {
    let rows = args.table()?;
    let now = chrono::Utc::now();
    let mut entries = Vec::new();
    for row in rows {
        let tag = row.required("id tag")?.to_string();
        let status = row.required("status")?;
        let status = parse_authorization_status(status).ok_or_else(|| {
            format!("status {status:?} of {tag}: use Accepted, Blocked, Expired, Invalid or ConcurrentTx")
        })?;
        let expiry = row
            .get("expiry")
            .map(|e| parse_expiry(e, now))
            .transpose()?;
        let parent = row.get("parent").map(str::to_string);
        entries.push((
            tag,
            IdTagEntry {
                status,
                expiry,
                parent,
            },
        ));
    }
    world.csms().await?.script(|s| {
        for (tag, entry) in entries {
            s.set_id_tag(&tag, entry);
        }
    });
    Ok(())
}

async fn boot_answer(world: &mut RigWorld, args: Args) -> StepResult {
    let raw = args.text(0);
    let status = parse_registration_status(&raw)
        .ok_or_else(|| format!("{raw:?}: use Accepted, Pending or Rejected"))?;
    world.csms().await?.script(|s| s.boot_status = status);
    Ok(())
}

/// The interval BootNotification.conf (Accepted) carries; the charger adopts it as its
/// HeartbeatInterval (§4.2, OCTT TC_001).
async fn heartbeat_interval(world: &mut RigWorld, args: Args) -> StepResult {
    let secs = u32::try_from(args.int(0)?)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| "the heartbeat interval is a positive number of seconds".to_string())?;
    world
        .csms()
        .await?
        .script(|s| s.heartbeat_interval_s = secs);
    Ok(())
}

/// Brings the charger online: booted, BootNotification accepted, connector 1 Available, link up.
pub async fn bring_online(world: &mut RigWorld) -> StepResult {
    world.ensure_started().await?;
    let wait = world.step_deadline();
    let boot_from = world.boot_mark;
    world
        .wait_history(wait, "a BootNotification answered Accepted", |h| {
            h.received("BootNotification")
                .filter(|r| r.seq >= boot_from)
                .find(|r| {
                    r.message_id
                        .as_deref()
                        .and_then(|id| h.answer_to(id))
                        .is_some_and(|a| a.payload["status"] == "Accepted")
                })
                .map(|r| r.seq)
        })
        .await?;
    world
        .wait_history(wait, "StatusNotification Available for connector 1", |h| {
            h.received("StatusNotification")
                .filter(|r| r.seq >= boot_from)
                .find(|r| r.payload["connectorId"] == 1)
                .map(|_| ())
        })
        .await?;
    world
        .wait_status(wait, "the board reporting online", |s| s.online)
        .await?;
    if !world.profile.is_sim() {
        // A real board has no configuration file the rig writes: the profile's OCPP keys,
        // then the ones the scenario set before boot, go through ChangeConfiguration once it
        // is online (a key both set gets only the scenario's value).
        let mut keys: Vec<(String, String)> = world
            .profile
            .board_ocpp_keys()
            .into_iter()
            .filter(|(k, _)| !world.ocpp_keys.contains_key(k))
            .collect();
        keys.extend(world.ocpp_keys.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (key, value) in keys {
            match world
                .call("ChangeConfiguration", json!({"key": key, "value": value}))
                .await?
            {
                Answer::Result(p) if p["status"] == "Accepted" => {}
                other => {
                    return Err(world.failure(&format!(
                        "the bench's charger refused {key} = {value:?}: {other:?}"
                    )))
                }
            }
        }
    }
    Ok(())
}

/// How long nothing may cross the OCPP link before a setting-up step ends.
const QUIET: std::time::Duration = std::time::Duration::from_millis(250);

/// Waits (step deadline) until the OCPP link is quiet: every CALL of the current connection
/// answered and nothing on the link for [`QUIET`]. Setting-up steps end with it so that a
/// fault injected by the next step never catches an answer the charger has not read yet
/// (it would rightly send that message again, and the scenario would see a duplicate).
pub async fn wait_link_quiet(world: &mut RigWorld) -> StepResult {
    let wait = world.step_deadline();
    let deadline = world.deadline_in(wait);
    world.csms().await?;
    let quiet = chrono::Duration::from_std(QUIET).expect("small");
    loop {
        let busy = world
            .csms
            .as_ref()
            .and_then(|c| c.with_history(|h| h.busy(chrono::Utc::now(), quiet)));
        let Some(why) = busy else { return Ok(()) };
        if tokio::time::Instant::now() >= deadline {
            return Err(world.failure(&format!(
                "expected the OCPP link quiet (every CALL answered, nothing for {QUIET:?}) \
                 within {wait:?}, but {why}"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn online(world: &mut RigWorld, _: Args) -> StepResult {
    if world.is_started()
        && world.status().is_some_and(|s| s.online)
        && world.csms.as_ref().is_some_and(|c| c.is_connected())
    {
        return wait_link_quiet(world).await;
    }
    bring_online(world).await?;
    let available = world
        .history()
        .received("StatusNotification")
        .any(|r| r.payload["connectorId"] == 1 && r.payload["status"] == "Available");
    if !available {
        return Err(world.failure("connector 1 was never reported Available"));
    }
    wait_link_quiet(world).await?;
    world.advance_cursors();
    Ok(())
}

/// Presents a card: the reader sees it until the board reports the read, then it is removed.
pub async fn present_card(world: &mut RigWorld, uid: &str) -> StepResult {
    let card = super::ev::parse_uid(uid)?;
    world.ensure_started().await?;
    let before = world.events().len();
    world.send(Frame::Card(Some(card))).await?;
    if !world.bench()?.powered {
        // A reader without power reads nothing; the card is gone by the time power returns.
        world.send(Frame::Card(None)).await?;
        return Ok(());
    }
    let wait = std::time::Duration::from_secs(3);
    let read = world
        .bench()?
        .wait_event(
            before,
            chargerig_link::EventKind::CardRead,
            tokio::time::Instant::now() + wait,
        )
        .await;
    world.send(Frame::Card(None)).await?;
    if read.is_none() {
        return Err(world.failure(&format!(
            "the board did not report reading card {uid} within {wait:?}"
        )));
    }
    Ok(())
}

async fn charged_online(world: &mut RigWorld, args: Args) -> StepResult {
    let uid = args.text(0);
    if !(world.is_started() && world.status().is_some_and(|s| s.online)) {
        bring_online(world).await?;
    }
    let wait = world.step_deadline();
    let stops_before = world.history().count("StopTransaction");
    world.send(Frame::Pilot(PilotState::B)).await?;
    present_card(world, &uid).await?;
    world.send(Frame::Pilot(PilotState::C)).await?;
    world
        .wait_status(wait, &format!("charging with card {uid}"), |s| {
            s.contactor_closed
        })
        .await?;
    present_card(world, &uid).await?;
    world
        .wait_status(
            wait,
            "charging stopping after the card was presented again",
            |s| !s.contactor_closed,
        )
        .await?;
    world.send(Frame::Pilot(PilotState::A)).await?;
    world
        .wait_history(wait, "the StopTransaction of the online session", |h| {
            (h.count("StopTransaction") > stops_before).then_some(())
        })
        .await?;
    world
        .wait_status(
            wait,
            "the connector Available again, the session's messages confirmed",
            |s| {
                s.connector_status == ConnectorStatus::Available
                    && !s.transaction_active
                    && s.queue_len == 0
            },
        )
        .await?;
    wait_link_quiet(world).await?;
    world.advance_cursors();
    Ok(())
}

async fn rejected_online(world: &mut RigWorld, args: Args) -> StepResult {
    let uid = args.text(0);
    if !(world.is_started() && world.status().is_some_and(|s| s.online)) {
        bring_online(world).await?;
    }
    let expected = world.csms().await?.script(|s| s.id_tag_info(&uid).status);
    if expected == AuthorizationStatus::Accepted {
        return Err(format!(
            "card {uid} is Accepted in the central system's table: it cannot be rejected online"
        ));
    }
    let from = world.history().records.len();
    present_card(world, &uid).await?;
    let wait = world.step_deadline();
    world
        .wait_history(wait, &format!("an Authorize for {uid} answered"), |h| {
            h.records[from.min(h.records.len())..]
                .iter()
                .filter(|r| r.is_received_call("Authorize"))
                .find(|r| {
                    r.payload["idTag"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case(&uid))
                })
                .and_then(|r| r.message_id.as_deref().and_then(|id| h.answer_to(id)))
                .map(|_| ())
        })
        .await?;
    world
        .wait_status(wait, "the connector Available after the rejection", |s| {
            s.connector_status == ConnectorStatus::Available && !s.transaction_active
        })
        .await?;
    wait_link_quiet(world).await?;
    world.advance_cursors();
    Ok(())
}

async fn boot_sent(world: &mut RigWorld, _: Args) -> StepResult {
    world.ensure_started().await?;
    let wait = world.step_deadline();
    let from = world.boot_mark;
    world
        .wait_history(wait, "a BootNotification", |h| {
            h.received("BootNotification")
                .find(|r| r.seq >= from)
                .map(|_| ())
        })
        .await
}
