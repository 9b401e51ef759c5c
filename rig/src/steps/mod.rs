//! Every step of the rig's Gherkin vocabulary (`steps.md`), plus the steps the feature
//! catalogue asked for.

pub mod central;
pub mod contract;
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
    use super::contract::CONTRACT;
    use super::registry::expression_regex;
    use super::*;

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
