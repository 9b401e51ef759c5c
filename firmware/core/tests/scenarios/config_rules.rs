//! The configuration table's rules at their edges (`charger_core::config`): canonical values,
//! limits, lookups, restored values. Added for the cargo-mutants check
//! (docs/mutation-check.md): each test pins a rule one changed operator would break unnoticed.

use charger_core::config::{lookup, normalize, validate_entry, Config, Key, KEYS};
use charger_core::ConfigError;
use serde_json::json;

use crate::harness::Sim;

fn norm(key: Key, value: &str) -> Result<String, String> {
    normalize(key.def(), value)
}

#[test]
fn a_lookup_prefers_the_exact_spelling_and_falls_back_to_any_case() {
    for def in KEYS {
        assert_eq!(lookup(def.name).map(|d| d.key), Some(def.key));
        let upper = def.name.to_ascii_uppercase();
        assert_eq!(lookup(&upper).map(|d| d.key), Some(def.key), "{upper}");
    }
    assert!(lookup("NoSuchKey").is_none());
}

#[test]
fn booleans_are_canonical_lower_case_and_nothing_else_is_a_boolean() {
    assert_eq!(
        norm(Key::LocalPreAuthorize, " TRUE ").as_deref(),
        Ok("true")
    );
    assert_eq!(
        norm(Key::LocalPreAuthorize, "False").as_deref(),
        Ok("false")
    );
    assert!(norm(Key::LocalPreAuthorize, "1").is_err());
    assert!(norm(Key::LocalPreAuthorize, "").is_err());
}

#[test]
fn integers_are_unsigned_decimal_and_fit_in_32_bits() {
    assert_eq!(norm(Key::HeartbeatInterval, "007").as_deref(), Ok("7"));
    assert_eq!(norm(Key::HeartbeatInterval, "0").as_deref(), Ok("0"));
    assert_eq!(
        norm(Key::HeartbeatInterval, "4294967295").as_deref(),
        Ok("4294967295")
    );
    for bad in ["", "+5", "-5", "1.5", "1e3", "4294967296"] {
        assert!(norm(Key::HeartbeatInterval, bad).is_err(), "{bad:?}");
    }
}

#[test]
fn measurand_lists_take_up_to_five_supported_measurands() {
    assert_eq!(norm(Key::StopTxnSampledData, "").as_deref(), Ok(""));
    assert_eq!(
        norm(Key::StopTxnSampledData, " Voltage , Current.Import ").as_deref(),
        Ok("Voltage,Current.Import")
    );
    let five =
        "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Current.Offered,Voltage";
    assert_eq!(norm(Key::MeterValuesSampledData, five).as_deref(), Ok(five));
    assert!(norm(Key::MeterValuesSampledData, &format!("{five},Voltage")).is_err());
    assert!(norm(Key::MeterValuesSampledData, "Temperature").is_err());
}

#[test]
fn phase_rotation_items_name_connector_0_or_1_and_a_known_rotation() {
    assert_eq!(
        norm(Key::ConnectorPhaseRotation, "0.RST, 1.Unknown").as_deref(),
        Ok("0.RST,1.Unknown")
    );
    for bad in ["2.RST", "1.XYZ", "RST", "1.", ""] {
        assert!(norm(Key::ConnectorPhaseRotation, bad).is_err(), "{bad:?}");
    }
}

#[test]
fn free_form_lists_have_no_empty_elements_but_may_be_empty() {
    let csl = Key::SupportedFeatureProfiles;
    assert_eq!(
        norm(csl, "Core , RemoteTrigger").as_deref(),
        Ok("Core,RemoteTrigger")
    );
    assert_eq!(norm(csl, "").as_deref(), Ok(""));
    assert!(norm(csl, "Core,,RemoteTrigger").is_err());
    assert!(norm(csl, "Core,").is_err());
}

#[test]
fn installer_entries_must_name_a_writable_key_with_a_valid_value() {
    assert_eq!(validate_entry("heartbeatinterval", "60"), Ok(()));
    assert!(matches!(
        validate_entry("FreeBeer", "1"),
        Err(ConfigError::UnknownKey { .. })
    ));
    assert!(matches!(
        validate_entry("NumberOfConnectors", "1"),
        Err(ConfigError::ReadOnly { .. })
    ));
    assert!(matches!(
        validate_entry("HeartbeatInterval", "soon"),
        Err(ConfigError::InvalidValue { .. })
    ));
    assert!(Config::new(&[("HeartbeatInterval".into(), "soon".into())]).is_err());
}

#[test]
fn restoring_takes_only_valid_values_of_writable_keys() {
    let mut c = Config::new(&[]).expect("defaults");
    assert!(c.restore("HeartbeatInterval", "45"));
    assert_eq!(c.uint(Key::HeartbeatInterval), 45);
    assert!(!c.restore("HeartbeatInterval", "soon"), "invalid value");
    assert_eq!(c.uint(Key::HeartbeatInterval), 45, "unchanged");
    assert!(!c.restore("NumberOfConnectors", "2"), "read-only key");
    assert_eq!(c.uint(Key::NumberOfConnectors), 1);
    assert!(!c.restore("FreeBeer", "1"), "unknown key");
}

#[test]
fn typed_reads_give_flags_numbers_and_list_items() {
    let c = Config::new(&[
        ("StopTxnSampledData".into(), "Voltage,Current.Import".into()),
        ("AllowOfflineTxForUnknownId".into(), "TRUE".into()),
    ])
    .expect("valid");
    assert!(c.flag(Key::AllowOfflineTxForUnknownId));
    assert!(!c.flag(Key::LocalPreAuthorize));
    assert_eq!(c.uint(Key::ConnectionTimeOut), 60);
    assert_eq!(
        c.list(Key::StopTxnSampledData),
        vec!["Voltage", "Current.Import"]
    );
    assert!(c.list(Key::StopTxnAlignedData).is_empty());
    assert_eq!(c.get("connectiontimeout"), Some("60"));
    assert_eq!(c.get("NoSuchKey"), None);
}

#[test]
fn a_change_is_stored_under_the_canonical_key_and_value() {
    let mut sim = Sim::online(&[]);
    let a = sim.cs_call(
        "ChangeConfiguration",
        json!({"key": "heartbeatINTERVAL", "value": "0042"}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    let stored = sim
        .db
        .tables
        .get(&charger_core::Table::Config)
        .and_then(|t| t.get("HeartbeatInterval"))
        .cloned();
    assert_eq!(stored, Some(json!("42")));
    assert_eq!(
        sim.core.config_value("HeartbeatInterval").as_deref(),
        Some("42")
    );
}

#[test]
fn get_configuration_lists_known_keys_apart_from_unknown_ones() {
    let mut sim = Sim::online(&[]);
    let a = sim.cs_call(
        "GetConfiguration",
        json!({"key": ["HeartbeatInterval", "NoSuchKey"]}),
    );
    let known = a[2]["configurationKey"].as_array().expect("known keys");
    assert_eq!(known.len(), 1);
    assert_eq!(known[0]["key"], "HeartbeatInterval");
    assert_eq!(known[0]["value"], "300");
    assert_eq!(known[0]["readonly"], false);
    assert_eq!(a[2]["unknownKey"], json!(["NoSuchKey"]));

    let a = sim.cs_call("GetConfiguration", json!({"key": ["NumberOfConnectors"]}));
    assert_eq!(a[2]["configurationKey"][0]["readonly"], true);
    assert!(
        a[2].get("unknownKey").is_none(),
        "no unknownKey when all are known: {a}"
    );

    let a = sim.cs_call("GetConfiguration", json!({"key": ["NoSuchKey"]}));
    assert!(
        a[2].get("configurationKey").is_none(),
        "no configurationKey when none is known: {a}"
    );
}

fn entries(from: usize, n: usize) -> Vec<serde_json::Value> {
    (from..from + n)
        .map(|i| json!({"idTag": format!("T{i:07}"), "idTagInfo": {"status": "Accepted"}}))
        .collect()
}

fn send_list(sim: &mut Sim, version: i32, kind: &str, list: Vec<serde_json::Value>) -> String {
    let a = sim.cs_call(
        "SendLocalList",
        json!({"listVersion": version, "updateType": kind, "localAuthorizationList": list}),
    );
    a[2]["status"].as_str().unwrap_or_default().to_string()
}

#[test]
fn send_local_list_takes_up_to_send_local_list_max_length_entries() {
    let mut sim = Sim::online(&[]);
    assert_eq!(send_list(&mut sim, 1, "Full", entries(0, 251)), "Failed");
    assert_eq!(send_list(&mut sim, 2, "Full", entries(0, 250)), "Accepted");
    assert_eq!(
        send_list(&mut sim, 3, "Differential", entries(250, 251)),
        "Failed"
    );
    assert_eq!(
        send_list(&mut sim, 4, "Differential", entries(250, 250)),
        "Accepted"
    );
}

#[test]
fn differential_updates_fill_the_list_up_to_local_auth_list_max_length() {
    let mut sim = Sim::online(&[]);
    assert_eq!(send_list(&mut sim, 1, "Full", entries(0, 250)), "Accepted");
    for (v, from) in [(2, 250), (3, 500)] {
        assert_eq!(
            send_list(&mut sim, v, "Differential", entries(from, 250)),
            "Accepted"
        );
    }
    // 750 + 250 = 1000: exactly full.
    assert_eq!(
        send_list(&mut sim, 4, "Differential", entries(750, 250)),
        "Accepted"
    );
    // One more would overflow: refused, list and version unchanged.
    assert_eq!(
        send_list(&mut sim, 5, "Differential", entries(1000, 1)),
        "Failed"
    );
    let v = sim.cs_call("GetLocalListVersion", json!({}));
    assert_eq!(v[2]["listVersion"], 4);
    // Updating a listed tag does not grow the list.
    assert_eq!(
        send_list(&mut sim, 6, "Differential", entries(999, 1)),
        "Accepted"
    );
}

#[test]
fn changing_the_sample_interval_during_a_transaction_restarts_the_samples_from_now() {
    let mut sim = Sim::online(&[("MeterValueSampleInterval", "10")]);
    sim.know("04A1B2C3", crate::harness::info("Accepted"));
    sim.pilot(charger_core::PilotState::B);
    sim.card("04A1B2C3");
    let start = sim.now.mono_ms;
    sim.advance(4_000);
    // Another key changed: the schedule stays (next at +10 s).
    sim.cs_call(
        "ChangeConfiguration",
        json!({"key": "HeartbeatInterval", "value": "600"}),
    );
    sim.advance(6_000);
    let at: Vec<u64> = sim
        .received("MeterValues")
        .iter()
        .map(|r| r.at_ms - start)
        .collect();
    assert_eq!(at, vec![10_000]);
    // The interval changed at +12 s: the next sample is 3 s after the change.
    sim.advance(2_000);
    sim.cs_call(
        "ChangeConfiguration",
        json!({"key": "MeterValueSampleInterval", "value": "3"}),
    );
    sim.advance(3_000);
    let at: Vec<u64> = sim
        .received("MeterValues")
        .iter()
        .map(|r| r.at_ms - start)
        .collect();
    assert_eq!(at, vec![10_000, 15_000]);
}

#[test]
fn changing_the_sample_interval_without_a_transaction_samples_nothing() {
    let mut sim = Sim::online(&[]);
    sim.cs_call(
        "ChangeConfiguration",
        json!({"key": "MeterValueSampleInterval", "value": "2"}),
    );
    sim.advance(10_000);
    assert_eq!(sim.count("MeterValues"), 0);
}

#[test]
fn an_authorization_key_decodes_only_from_an_even_number_of_hex_digits() {
    use charger_core::config::hex_bytes;
    assert_eq!(hex_bytes("0aFF"), Some(vec![0x0a, 0xff]));
    assert_eq!(hex_bytes(""), Some(vec![]));
    assert_eq!(hex_bytes("abc"), None, "odd number of digits");
    assert_eq!(hex_bytes("+1"), None, "a sign is not a hex digit");
    assert_eq!(hex_bytes("zz"), None);
}
