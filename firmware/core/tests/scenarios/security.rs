//! Security profiles and the AuthorizationKey as configuration keys (field.md "Connection
//! security"): what ChangeConfiguration may change and what GetConfiguration may show.

use charger_core::{validate_entry, ConfigError, Settings};
use serde_json::json;

use crate::harness::{settings, Sim};

const KEY: &str = "3031323334353637383930313233343536373839";

fn sim(tls: bool, client_certificate: bool, config: &[(&str, &str)]) -> Sim {
    let mut s = Settings {
        tls,
        client_certificate,
        ..settings()
    };
    s.installer_config = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut sim = Sim::with_settings(s);
    sim.connect();
    sim.advance(500);
    sim
}

fn change(sim: &mut Sim, key: &str, value: &str) -> String {
    let a = sim.cs_call("ChangeConfiguration", json!({"key": key, "value": value}));
    a[2]["status"].as_str().unwrap_or_default().to_string()
}

fn no_frame_reveals(sim: &Sim, secret: &str) {
    for frame in &sim.sent {
        let text = frame.to_string().to_ascii_lowercase();
        assert!(
            !text.contains(&secret.to_ascii_lowercase()),
            "a frame revealed the key: {text}"
        );
    }
}

#[test]
fn security_profile_defaults_to_0_and_the_key_to_unset() {
    let sim = sim(false, false, &[]);
    assert_eq!(sim.core.security_profile(), 0);
    assert_eq!(sim.core.authorization_key(), None);
}

#[test]
fn authorization_key_takes_16_to_20_bytes_of_hex_and_is_decoded_for_basic_auth() {
    let mut sim = sim(false, false, &[]);
    assert_eq!(change(&mut sim, "AuthorizationKey", "0011"), "Rejected");
    assert_eq!(
        change(&mut sim, "AuthorizationKey", &"ab".repeat(21)),
        "Rejected"
    );
    assert_eq!(
        change(&mut sim, "AuthorizationKey", &"z".repeat(32)),
        "Rejected"
    );
    assert_eq!(
        change(&mut sim, "AuthorizationKey", &"a".repeat(33)),
        "Rejected"
    );
    assert_eq!(
        sim.core.authorization_key(),
        None,
        "refused values change nothing"
    );
    assert_eq!(
        change(&mut sim, "AuthorizationKey", &"AB".repeat(16)),
        "Accepted"
    );
    assert_eq!(sim.core.authorization_key(), Some(vec![0xab; 16]));
    assert_eq!(change(&mut sim, "authorizationkey", KEY), "Accepted");
    assert_eq!(
        sim.core.authorization_key().as_deref(),
        Some(&b"01234567890123456789"[..])
    );
}

#[test]
fn get_configuration_lists_the_authorization_key_without_its_value() {
    let mut sim = sim(false, false, &[("AuthorizationKey", KEY)]);
    for request in [json!({}), json!({"key": ["AuthorizationKey"]})] {
        let a = sim.cs_call("GetConfiguration", request.clone());
        let keys = a[2]["configurationKey"].as_array().unwrap();
        let entry = keys
            .iter()
            .find(|e| e["key"] == "AuthorizationKey")
            .unwrap_or_else(|| panic!("listed for {request}"));
        assert_eq!(entry["readonly"], false);
        assert!(entry.get("value").is_none(), "value shown: {entry}");
    }
    no_frame_reveals(&sim, KEY);
}

#[test]
fn the_key_survives_a_power_cut_and_is_never_sent() {
    let mut sim = sim(false, false, &[]);
    assert_eq!(change(&mut sim, "AuthorizationKey", KEY), "Accepted");
    sim.power_cycle();
    assert_eq!(
        sim.core.authorization_key().as_deref(),
        Some(&b"01234567890123456789"[..])
    );
    no_frame_reveals(&sim, KEY);
}

#[test]
fn a_lowered_security_profile_is_rejected_and_changes_nothing() {
    let mut sim = sim(
        false,
        false,
        &[("SecurityProfile", "1"), ("AuthorizationKey", KEY)],
    );
    assert_eq!(change(&mut sim, "SecurityProfile", "0"), "Rejected");
    assert_eq!(sim.core.security_profile(), 1);
    assert_eq!(
        change(&mut sim, "SecurityProfile", "1"),
        "Accepted",
        "same is not lower"
    );
}

#[test]
fn a_profile_that_does_not_match_the_url_scheme_is_rejected() {
    let mut plain = sim(false, false, &[("AuthorizationKey", KEY)]);
    assert_eq!(change(&mut plain, "SecurityProfile", "2"), "Rejected");
    assert_eq!(change(&mut plain, "SecurityProfile", "3"), "Rejected");
    assert_eq!(plain.core.security_profile(), 0);

    let mut tls = sim(
        true,
        true,
        &[("SecurityProfile", "2"), ("AuthorizationKey", KEY)],
    );
    assert_eq!(change(&mut tls, "SecurityProfile", "3"), "Accepted");
    assert_eq!(tls.core.security_profile(), 3);
}

#[test]
fn a_raise_needs_what_the_new_profile_uses() {
    let mut sim0 = sim(false, false, &[]);
    assert_eq!(
        change(&mut sim0, "SecurityProfile", "1"),
        "Rejected",
        "no key yet"
    );
    assert_eq!(change(&mut sim0, "AuthorizationKey", KEY), "Accepted");
    assert_eq!(change(&mut sim0, "SecurityProfile", "1"), "Accepted");
    assert_eq!(sim0.core.security_profile(), 1);

    let mut no_cert = sim(
        true,
        false,
        &[("SecurityProfile", "2"), ("AuthorizationKey", KEY)],
    );
    assert_eq!(change(&mut no_cert, "SecurityProfile", "3"), "Rejected");
    assert_eq!(no_cert.core.security_profile(), 2);
}

#[test]
fn security_profile_accepts_0_to_3_only() {
    let mut sim = sim(false, false, &[]);
    assert_eq!(change(&mut sim, "SecurityProfile", "4"), "Rejected");
    assert_eq!(change(&mut sim, "SecurityProfile", "-1"), "Rejected");
    assert!(validate_entry("SecurityProfile", "3").is_ok());
    assert!(validate_entry("SecurityProfile", "x").is_err());
}

#[test]
fn a_refused_key_is_not_repeated_in_the_error() {
    let bad = "0123456789abcdef0123456789abcdeZ";
    let e = validate_entry("AuthorizationKey", bad).unwrap_err();
    assert!(matches!(e, ConfigError::InvalidValue { .. }));
    assert!(!e.to_string().contains(bad), "{e}");
}
