//! Every step of the rig's Gherkin vocabulary (`steps.md`), plus the steps the feature
//! catalogue asked for.

pub mod central;
pub mod ev;
pub mod messages;
pub mod observe;
pub mod registry;
pub mod setup;

pub use messages::END_OF_SCENARIO;
pub use registry::{closest, collection, StepDef};

/// The whole step table.
pub fn all() -> Vec<StepDef> {
    let mut defs = setup::defs();
    defs.extend(ev::defs());
    defs.extend(central::defs());
    defs.extend(observe::defs());
    defs.extend(messages::defs());
    defs
}
