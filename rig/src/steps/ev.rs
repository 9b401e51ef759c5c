//! The EV, the user, power and time.

use std::time::Duration;

use chargerig_link::{CardUid, Frame, PilotState};

use super::registry::{Args, StepDef, StepResult};
use crate::step_def;
use crate::world::RigWorld;

pub fn defs() -> Vec<StepDef> {
    vec![
        step_def!("When", "the EV is plugged in", plugged_in),
        step_def!("When", "the EV asks for charge", asks_for_charge),
        step_def!("When", "the EV pauses charging", pauses),
        step_def!("When", "the EV is unplugged", unplugged),
        step_def!("When", "the EV draws {int} A", draws),
        step_def!(
            "When",
            "the control pilot goes to state {word}",
            pilot_state
        ),
        step_def!("When", "the card {string} is presented", card),
        step_def!("When", "the stop button is pressed", button),
        step_def!("When", "the charger loses power", power_off),
        step_def!("When", "power is restored", power_on),
        step_def!("When", "the charger is power-cycled", power_cycle),
        step_def!("When", "{int} seconds pass", seconds_pass),
    ]
}

/// Parses a card UID: hex, 4 or 7 bytes.
pub fn parse_uid(uid: &str) -> Result<CardUid, String> {
    let hex = uid.trim();
    if !hex.len().is_multiple_of(2) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "card {uid:?} is not a hex UID (8 or 14 hex digits)"
        ));
    }
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("checked hex"))
        .collect();
    CardUid::new(&bytes).map_err(|e| format!("card {uid:?}: {e}"))
}

/// Sets the pilot state and waits until the board measures it.
pub async fn set_pilot(world: &mut RigWorld, state: PilotState) -> StepResult {
    world.send(Frame::Pilot(state)).await?;
    if !world.bench()?.powered {
        // The EV acts on a dead board: the link client presents the state at power-on.
        return Ok(());
    }
    world
        .wait_status(
            Duration::from_secs(3),
            &format!("the board measuring pilot state {}", state.as_str()),
            |s| s.pilot == state,
        )
        .await
        .map(|_| ())
}

async fn plugged_in(world: &mut RigWorld, _: Args) -> StepResult {
    set_pilot(world, PilotState::B).await
}

async fn asks_for_charge(world: &mut RigWorld, _: Args) -> StepResult {
    set_pilot(world, PilotState::C).await
}

async fn pauses(world: &mut RigWorld, _: Args) -> StepResult {
    set_pilot(world, PilotState::B).await
}

async fn unplugged(world: &mut RigWorld, _: Args) -> StepResult {
    set_pilot(world, PilotState::A).await
}

async fn pilot_state(world: &mut RigWorld, args: Args) -> StepResult {
    let raw = args.text(0);
    let state: PilotState = raw
        .parse()
        .map_err(|_| format!("pilot state {raw:?}: use A, B, C, D, E or F"))?;
    set_pilot(world, state).await
}

async fn draws(world: &mut RigWorld, args: Args) -> StepResult {
    let amps = args.count(0)?;
    let deci_amps = u16::try_from(amps * 10)
        .map_err(|_| format!("{amps} A is more than the link can carry"))?;
    world.send(Frame::Load { deci_amps }).await
}

async fn card(world: &mut RigWorld, args: Args) -> StepResult {
    super::setup::present_card(world, &args.text(0)).await
}

async fn button(world: &mut RigWorld, _: Args) -> StepResult {
    world.send(Frame::Button).await
}

async fn cut_power(world: &mut RigWorld) -> StepResult {
    world.ensure_started().await?;
    world.fault_connection = world.history().last_connection();
    world.note_fault("power cut");
    if let Some(csms) = &world.csms {
        // The next connection is a new boot: it must begin with a BootNotification.
        csms.expect_reboot();
    }
    world.bench_mut()?.power_off().await
}

async fn restore_power(world: &mut RigWorld) -> StepResult {
    world.ensure_started().await?;
    world.note_fault("power restored");
    world.boot_mark = world.history().records.len();
    world.bench_mut()?.power_on().await
}

async fn power_off(world: &mut RigWorld, _: Args) -> StepResult {
    cut_power(world).await
}

async fn power_on(world: &mut RigWorld, _: Args) -> StepResult {
    restore_power(world).await
}

async fn power_cycle(world: &mut RigWorld, _: Args) -> StepResult {
    cut_power(world).await?;
    restore_power(world).await
}

async fn seconds_pass(world: &mut RigWorld, args: Args) -> StepResult {
    let secs = args.count(0)?;
    let wanted = Duration::from_secs(secs);
    let full = tokio::time::Instant::now() + wanted;
    let until = world.deadline_in(wanted);
    tokio::time::sleep_until(until).await;
    if until >= full {
        return Ok(());
    }
    Err(world.failure(&format!("waiting {secs} s")))
}
