//! The installer's configuration panel (`steps.md`, "The installer's configuration panel"). The
//! rig logs in like a browser without JavaScript (`crate::panel`); the world holds the session.

use super::registry::{Args, StepDef, StepResult};
use crate::panel::PanelError;
use crate::step_def;
use crate::world::RigWorld;

pub fn defs() -> Vec<StepDef> {
    vec![
        step_def!(
            "When",
            "the installer sets {string} to {string} on the configuration panel",
            sets_key
        ),
        step_def!(
            "When",
            "the installer tries to set {string} to {string} on the configuration panel",
            tries_key
        ),
        step_def!(
            "Then",
            "the configuration panel shows an error for {string}",
            shows_error
        ),
        step_def!(
            "Then",
            "the configuration panel shows {string} as {string}",
            shows_value
        ),
        step_def!(
            "When",
            "the installer sets the authorization mode to {word} on the configuration panel",
            sets_mode
        ),
        step_def!(
            "When",
            "the installer clears the authorization cache on the configuration panel",
            clears_cache
        ),
        step_def!(
            "Then",
            "the configuration panel shows the charger {word}",
            shows_connection
        ),
        step_def!(
            "Then",
            "the configuration panel refuses the password {string}",
            refuses_password
        ),
    ]
}

async fn sets_key(world: &mut RigWorld, args: Args) -> StepResult {
    let (key, value) = (args.text(0), args.text(1));
    match world.panel_set_key(&key, &value).await {
        Ok(()) => Ok(()),
        Err(PanelError::Refused(why)) => Err(world.failure(&format!(
            "the configuration panel refused {key} = {value:?}: {why}"
        ))),
        Err(e) => Err(world.failure(&e.to_string())),
    }
}

async fn tries_key(world: &mut RigWorld, args: Args) -> StepResult {
    let (key, value) = (args.text(0), args.text(1));
    match world.panel_set_key(&key, &value).await {
        Ok(()) | Err(PanelError::Refused(_)) => Ok(()),
        Err(e) => Err(world.failure(&e.to_string())),
    }
}

async fn shows_error(world: &mut RigWorld, args: Args) -> StepResult {
    let key = args.text(0);
    match &world.panel_last_change {
        Some((k, Err(_))) if *k == key => Ok(()),
        Some((k, Ok(()))) if *k == key => Err(world.failure(&format!(
            "expected an error next to {key} on the configuration panel, but it saved the value"
        ))),
        Some((k, _)) => Err(format!(
            "the last change on the configuration panel was to {k}, not {key}"
        )),
        None => Err(format!(
            "no change was tried on the configuration panel before looking for an error for {key}"
        )),
    }
}

async fn shows_value(world: &mut RigWorld, args: Args) -> StepResult {
    let (key, expected) = (args.text(0), args.text(1));
    match world.panel_key_value(&key).await {
        Ok(Some(shown)) if shown == expected => Ok(()),
        Ok(Some(shown)) => Err(world.failure(&format!(
            "expected the configuration panel to show {key} as {expected:?}, it shows {shown:?}"
        ))),
        Ok(None) => Err(world.failure(&format!("the configuration panel shows no key {key}"))),
        Err(e) => Err(world.failure(&e.to_string())),
    }
}

async fn sets_mode(world: &mut RigWorld, args: Args) -> StepResult {
    let mode = args.text(0);
    if mode != "rfid" && mode != "free" {
        return Err(format!("authorization mode {mode:?}: use rfid or free"));
    }
    world
        .panel_set_authorization_mode(&mode)
        .await
        .map_err(|e| world.failure(&e.to_string()))
}

async fn clears_cache(world: &mut RigWorld, _: Args) -> StepResult {
    world
        .panel_clear_cache()
        .await
        .map_err(|e| world.failure(&format!("clearing the authorization cache: {e}")))
}

async fn shows_connection(world: &mut RigWorld, args: Args) -> StepResult {
    let state = args.text(0);
    if state != "online" && state != "offline" {
        return Err(format!("charger state {state:?}: use online or offline"));
    }
    world.panel_wait_connection(&state).await
}

async fn refuses_password(world: &mut RigWorld, args: Args) -> StepResult {
    let password = args.text(0);
    world
        .panel_refuses_password(&password)
        .await
        .map(drop)
        .map_err(|e| world.failure(&e.to_string()))
}
