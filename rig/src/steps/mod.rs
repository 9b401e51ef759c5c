//! Every step of the rig's Gherkin vocabulary (`steps.md`), plus the steps the feature
//! catalogue asked for.

pub mod central;
pub mod ev;
pub mod meaning;
pub mod messages;
pub mod network;
pub mod observe;
pub mod panel;
pub mod registry;
pub mod security;
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
    defs.extend(network::defs());
    defs.extend(panel::defs());
    defs.extend(security::defs());
    defs
}

#[cfg(test)]
mod tests {
    use super::registry::expression_regex;
    use super::*;

    /// Every phrasing of `steps.md` (the contract), keyword first.
    const CONTRACT: &[&str] = &[
        "Given the charger uses RFID authorization",
        "Given the charger is in free charge mode",
        "Given the charger's serial number is {string}",
        "Given the configuration key {string} is {string}",
        "Given the central system knows these id tags:",
        "Given the central system answers BootNotification with {string}",
        "Given the charger is online",
        "Given the card {string} has charged here while online",
        "Given the card {string} was rejected online",
        "When the EV is plugged in",
        "When the EV asks for charge",
        "When the EV pauses charging",
        "When the EV is unplugged",
        "When the EV draws {int} A",
        "When the card {string} is presented",
        "When the stop button is pressed",
        "When the charger loses power",
        "When power is restored",
        "When the charger is power-cycled",
        "When {int} seconds pass",
        "When the network to the central system is cut",
        "When the connection to the central system is refused",
        "When the network is restored",
        "When the central system stops answering",
        "When the central system answers again",
        "When the central system answers StartTransaction with {string}",
        "When the central system answers {word} with a CallError",
        "When the central system answers {word} with a CallError {int} times",
        "When the central system changes {string} to {string}",
        "When the central system sends ClearCache",
        "When the central system sends the local list version {int}:",
        "When the central system sends a differential local list version {int}:",
        "When the central system remote-starts a transaction for {string}",
        "When the central system remote-stops the transaction",
        "When the central system sends a {string} reset",
        "When the central system triggers a {word}",
        "When the central system sets connector {int} {word}",
        "When the central system unlocks connector {int}",
        "Then charging starts within {int} seconds",
        "Then charging does not start within {int} seconds",
        "Then charging stops within {int} seconds",
        "Then charging continues for {int} seconds",
        "Then the contactor opens within {int} ms",
        "Then the connector status is {string}",
        "Then the connector stays locked",
        "Then the charger reports being offline within {int} seconds",
        "Then the charger is back online within {int} seconds",
        "Then the charger answers {string}",
        "Then the configuration key {string} reads {string}",
        "Then the local list version is {int}",
        "Then the central system receives an Authorize for {string} within {int} seconds",
        "Then the central system receives a StartTransaction for {string} within {int} seconds",
        "Then the central system receives a StopTransaction with reason {string} within {int} seconds",
        "Then the central system receives a StatusNotification {string} within {int} seconds",
        "Then the central system receives a StatusNotification {string} for connector {int} within {int} seconds",
        "Then the central system receives no {word} for {int} seconds",
        "Then the central system has received exactly {int} {word}",
        "Then the last StopTransaction has id tag {string}",
        "Then the last StopTransaction carries transaction id {int}",
        "Then the StartTransaction carries the time charging started, not the time it was sent",
        "Then the MeterValues of the transaction are in chronological order, {int} seconds apart",
        "Then the central system receives these transaction messages in order:",
        "Then the transaction delivered between {int} and {int} Wh",
        "Then every transaction is reported exactly once",
        "Then the central system receives a {word} within {int} seconds",
        "Then the central system receives these StatusNotifications for connector {int} in order:",
        "Then the connector is unlocked within {int} seconds",
        "When the installer sets {string} to {string} on the configuration panel",
        "When the installer tries to set {string} to {string} on the configuration panel",
        "Then the configuration panel shows an error for {string}",
        "Then the configuration panel shows {string} as {string}",
        "When the installer sets the authorization mode to {word} on the configuration panel",
        "When the installer clears the authorization cache on the configuration panel",
        "Then the configuration panel shows the charger {word}",
        "Then the configuration panel refuses the password {string}",
        "Given the central system requires security profile {int}",
        "When the central system expects the AuthorizationKey {string}",
        "Then the central system refuses the charger's password within {int} seconds",
        "Then the charger never reveals the AuthorizationKey",
    ];

    fn sample(expression: &str) -> String {
        expression
            .replace("{string}", "\"04A1B2C3\"")
            .replace("{int}", "7")
            .replace("{word}", "Heartbeat")
    }

    #[test]
    fn every_contract_phrasing_is_defined_once() {
        let defs = all();
        for phrase in CONTRACT {
            let (keyword, expression) = phrase.split_once(' ').unwrap();
            let found: Vec<_> = defs.iter().filter(|d| d.expression == expression).collect();
            assert_eq!(found.len(), 1, "{phrase}: defined {} times", found.len());
            assert_eq!(found[0].keyword, keyword, "{phrase}");
        }
    }

    #[test]
    fn no_two_definitions_match_the_same_text() {
        let defs = all();
        let regexes: Vec<_> = defs
            .iter()
            .map(|d| expression_regex(d.expression))
            .collect();
        for def in &defs {
            let text = sample(def.expression);
            let matching: Vec<&str> = defs
                .iter()
                .zip(&regexes)
                .filter(|(_, re)| re.is_match(&text))
                .map(|(d, _)| d.expression)
                .collect();
            assert_eq!(
                matching,
                vec![def.expression],
                "{text:?} matches {matching:?}"
            );
        }
        // The pairs the contract calls out.
        let count = |text: &str| regexes.iter().filter(|re| re.is_match(text)).count();
        assert_eq!(
            count("the central system answers Authorize with a CallError"),
            1
        );
        assert_eq!(
            count("the central system answers Authorize with a CallError 2 times"),
            1
        );
        assert_eq!(
            count(
                r#"the central system receives a StatusNotification "Charging" within 5 seconds"#
            ),
            1
        );
        assert_eq!(
            count(
                r#"the central system receives a StatusNotification "Charging" for connector 0 within 5 seconds"#
            ),
            1
        );
    }

    #[test]
    fn every_contract_phrasing_has_a_meaning_for_rig_steps() {
        let text = meaning::vocabulary(&all());
        for phrase in CONTRACT {
            assert!(text.contains(&format!("{phrase}\n")), "{phrase}");
        }
        // steps.md may name phrasings other branches are still adding: those meanings wait.
    }

    #[test]
    fn a_typo_gets_the_closest_phrasing() {
        let defs = all();
        let hint = closest(&defs, "the EV is pluged in").unwrap();
        assert_eq!(hint.expression, "the EV is plugged in");
        let hint = closest(
            &defs,
            r#"the central system recieves a StartTransaction for "AB" within 3 seconds"#,
        )
        .unwrap();
        assert_eq!(
            hint.expression,
            "the central system receives a StartTransaction for {string} within {int} seconds"
        );
    }
}
