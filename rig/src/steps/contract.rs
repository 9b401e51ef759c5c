//! The phrasings `steps.md` makes a contract, in one list: the step table's tests, `rig steps`'
//! test (`rig/tests/run_cli.rs`) and the check against `steps.md` itself all read this one.

/// Every phrasing of `steps.md` (the contract), keyword first, as its tables write them.
pub const CONTRACT: &[&str] = &[
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

/// The phrasings of a `steps.md` text: the first cell of its table rows, when it is code.
pub fn phrasings_of(steps_md: &str) -> Vec<String> {
    steps_md
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once("` |"))
        .map(|(phrase, _)| phrase.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec folder beside the checkout (`../shared/spec`, where CI puts it); set
    /// `RIG_STEPS_MD` to check another copy. Under `CI` a missing file fails the test, so the
    /// comparison cannot silently stop running.
    fn steps_md() -> Option<String> {
        let path = std::env::var_os("RIG_STEPS_MD")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/steps.md")
            });
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!(
                    "{}: {e} (CI expects ../shared beside the checkout)",
                    path.display()
                )
            }
            Err(_) => None,
        }
    }

    #[test]
    fn the_list_is_what_steps_md_says() {
        let Some(text) = steps_md() else {
            eprintln!("steps.md not found: the contract list is not compared with it");
            return;
        };
        let mut spec = phrasings_of(&text);
        let mut list: Vec<String> = CONTRACT.iter().map(|p| p.to_string()).collect();
        spec.sort();
        list.sort();
        assert_eq!(list, spec, "the contract list and steps.md differ");
    }

    #[test]
    fn phrasings_are_the_code_cells_of_table_rows() {
        let text = "## Setting up\n| step | meaning |\n| --- | --- |\n| `Given a {string}` | why |\n| `When b` | |\nprose `not a step`\n";
        assert_eq!(phrasings_of(text), vec!["Given a {string}", "When b"]);
    }
}
