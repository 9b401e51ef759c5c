//! Network quality steps beyond `steps.md` (cellular links as chargers meet them): a slow link
//! and a flapping one, on gates that can make them (the proxy). `the network is restored` ends
//! both.

use super::registry::{Args, StepDef, StepResult};
use crate::step_def;
use crate::world::RigWorld;
use std::time::Duration;

pub fn defs() -> Vec<StepDef> {
    vec![
        step_def!(
            "When",
            "the network to the central system has {int} ms of latency",
            latency
        ),
        step_def!(
            "When",
            "the network to the central system flaps every {int} seconds",
            flap
        ),
    ]
}

async fn latency(world: &mut RigWorld, args: Args) -> StepResult {
    let ms = args.count(0)?;
    world.ensure_started().await?;
    world.note_fault(format!("network latency {ms} ms each way"));
    world
        .bench_mut()?
        .gate
        .set_latency(Duration::from_millis(ms))
        .map_err(|e| e.to_string())
}

async fn flap(world: &mut RigWorld, args: Args) -> StepResult {
    let s = args.count(0)?;
    if s == 0 {
        return Err("a flapping link needs a period of at least 1 second".into());
    }
    world.ensure_started().await?;
    world.fault_connection = world.history().last_connection();
    world.note_fault(format!(
        "network flapping: cut and open in turn, {s} s each"
    ));
    world
        .bench_mut()?
        .gate
        .flap(Duration::from_secs(s))
        .map_err(|e| e.to_string())
}
