use charger_core::{ConfigError, Restored, Settings, Table};
use serde_json::json;

use crate::harness::{settings, Sim};

#[test]
fn get_configuration_without_keys_reports_every_key_with_defaults_and_read_only_flags() {
    let mut sim = Sim::online(&[]);
    let a = sim.cs_call("GetConfiguration", json!({}));
    let keys = a[2]["configurationKey"].as_array().unwrap();
    let find = |k: &str| {
        keys.iter()
            .find(|e| e["key"] == k)
            .unwrap_or_else(|| panic!("{k} missing"))
    };
    for (k, ro, v) in [
        ("AllowOfflineTxForUnknownId", false, "false"),
        ("AuthorizationCacheEnabled", false, "true"),
        ("LocalAuthorizeOffline", false, "true"),
        ("LocalPreAuthorize", false, "false"),
        ("LocalAuthListEnabled", false, "true"),
        ("StopTransactionOnInvalidId", false, "true"),
        ("TransactionMessageAttempts", false, "3"),
        ("TransactionMessageRetryInterval", false, "60"),
        ("ConnectionTimeOut", false, "60"),
        ("HeartbeatInterval", false, "300"),
        ("WebSocketPingInterval", false, "30"),
        ("MeterValueSampleInterval", false, "0"),
        ("MessageTimeout", false, "30"),
        ("NumberOfConnectors", true, "1"),
        ("GetConfigurationMaxKeys", true, "50"),
        (
            "SupportedFeatureProfiles",
            true,
            "Core,LocalAuthListManagement,RemoteTrigger",
        ),
        ("LocalAuthListMaxLength", true, "1000"),
        ("SendLocalListMaxLength", true, "250"),
        ("MaxEnergyOnInvalidId", false, "0"),
        ("MinimumStatusDuration", false, "0"),
    ] {
        let e = find(k);
        assert_eq!(e["readonly"], ro, "{k} readonly");
        assert_eq!(e["value"], v, "{k} value");
    }
    assert!(keys.len() <= 50, "GetConfigurationMaxKeys honoured");
}

#[test]
fn get_configuration_reports_unknown_keys() {
    let mut sim = Sim::online(&[]);
    let a = sim.cs_call(
        "GetConfiguration",
        json!({"key": ["HeartbeatInterval", "NoSuchKey"]}),
    );
    assert_eq!(a[2]["configurationKey"].as_array().unwrap().len(), 1);
    assert_eq!(a[2]["unknownKey"], json!(["NoSuchKey"]));
}

#[test]
fn get_configuration_refuses_more_keys_than_get_configuration_max_keys() {
    let mut sim = Sim::online(&[]);
    let keys: Vec<String> = (0..51).map(|i| format!("K{i}")).collect();
    let a = sim.cs_call("GetConfiguration", json!({"key": keys}));
    assert_eq!(a[0], 4);
}

#[test]
fn change_configuration_answers_not_supported_rejected_or_accepted() {
    let mut sim = Sim::online(&[]);
    let mut change = |k: &str, v: &str| {
        sim.cs_call("ChangeConfiguration", json!({"key": k, "value": v}))[2]["status"].clone()
    };
    assert_eq!(change("FreeBeer", "true"), "NotSupported");
    assert_eq!(change("NumberOfConnectors", "2"), "Rejected");
    assert_eq!(change("AllowOfflineTxForUnknownId", "maybe"), "Rejected");
    assert_eq!(change("HeartbeatInterval", "-5"), "Rejected");
    assert_eq!(
        change(
            "MeterValuesSampledData",
            "Energy.Active.Import.Register,Temperature"
        ),
        "Rejected"
    );
    assert_eq!(
        change(
            "MeterValuesSampledData",
            "Energy.Active.Import.Register,Current.Import"
        ),
        "Accepted"
    );
    assert_eq!(change("AllowOfflineTxForUnknownId", "TRUE"), "Accepted");
    assert_eq!(change("ConnectorPhaseRotation", "1.XYZ"), "Rejected");
    assert_eq!(change("ConnectorPhaseRotation", "0.RST,1.RST"), "Accepted");
    assert_eq!(
        sim.core
            .config_value("AllowOfflineTxForUnknownId")
            .as_deref(),
        Some("true")
    );
    assert_eq!(
        sim.core.config_value("HeartbeatInterval").as_deref(),
        Some("300"),
        "rejected value changed nothing"
    );
}

#[test]
fn an_accepted_change_is_persisted_before_the_answer_and_survives_power_loss() {
    let mut sim = Sim::online(&[]);
    sim.cs_call(
        "ChangeConfiguration",
        json!({"key": "LocalPreAuthorize", "value": "true"}),
    );
    // The Persist output precedes the Send of the answer: the db already holds it.
    let stored = sim
        .db
        .tables
        .get(&Table::Config)
        .and_then(|t| t.get("LocalPreAuthorize"))
        .cloned();
    assert_eq!(stored, Some(json!("true")));
    sim.power_cycle();
    assert_eq!(
        sim.core.config_value("LocalPreAuthorize").as_deref(),
        Some("true")
    );
}

#[test]
fn central_system_values_win_over_installer_values() {
    let mut sim = Sim::online(&[("HeartbeatInterval", "60")]);
    sim.csms.boot_interval = 0;
    assert_eq!(
        sim.core.config_value("HeartbeatInterval").as_deref(),
        Some("300"),
        "boot interval applied"
    );
    sim.cs_call(
        "ChangeConfiguration",
        json!({"key": "ConnectionTimeOut", "value": "15"}),
    );
    sim.power_cycle();
    assert_eq!(
        sim.core.config_value("ConnectionTimeOut").as_deref(),
        Some("15")
    );
}

#[test]
fn an_invalid_installer_value_is_refused_naming_the_key() {
    let mut s: Settings = settings();
    s.installer_config = vec![("HeartbeatInterval".into(), "soon".into())];
    let now = charger_core::Now {
        mono_ms: 0,
        utc: crate::harness::t0(),
    };
    let err = charger_core::Charger::new(s, Restored::default(), now)
        .err()
        .expect("refused");
    assert!(matches!(&err, ConfigError::InvalidValue { key, .. } if key == "HeartbeatInterval"));
    assert!(err.to_string().contains("HeartbeatInterval"));
    assert!(matches!(
        charger_core::validate_entry("NoSuchKey", "1"),
        Err(ConfigError::UnknownKey { .. })
    ));
    assert!(matches!(
        charger_core::validate_entry("NumberOfConnectors", "2"),
        Err(ConfigError::ReadOnly { .. })
    ));
    assert!(charger_core::validate_entry("AllowOfflineTxForUnknownId", "True").is_ok());
}

#[test]
fn invalid_settings_are_refused() {
    let mut s = settings();
    s.max_current_a = 3.0;
    assert!(matches!(
        s.validate(),
        Err(ConfigError::InvalidSetting {
            field: "max_current_a",
            ..
        })
    ));
}

#[test]
fn send_local_list_full_and_differential_updates_and_versions() {
    let mut sim = Sim::online(&[]);
    let version =
        |sim: &mut Sim| sim.cs_call("GetLocalListVersion", json!({}))[2]["listVersion"].clone();
    assert_eq!(version(&mut sim), 0);
    let a = sim.cs_call("SendLocalList", json!({"listVersion": 2, "updateType": "Full",
        "localAuthorizationList": [{"idTag": "A1", "idTagInfo": {"status": "Accepted"}}, {"idTag": "B2", "idTagInfo": {"status": "Accepted"}}]}));
    assert_eq!(a[2]["status"], "Accepted");
    assert_eq!(version(&mut sim), 2);
    let a = sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 2, "updateType": "Differential",
        "localAuthorizationList": [{"idTag": "C3", "idTagInfo": {"status": "Accepted"}}]}),
    );
    assert_eq!(a[2]["status"], "VersionMismatch");
    let a = sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 3, "updateType": "Differential",
        "localAuthorizationList": [{"idTag": "a1"}]}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    assert_eq!(version(&mut sim), 3);
    sim.power_cycle();
    sim.connect();
    assert_eq!(version(&mut sim), 3, "persisted");
    let a = sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 7, "updateType": "Full"}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    assert_eq!(version(&mut sim), 0, "empty list reads 0");
    sim.cs_call(
        "ChangeConfiguration",
        json!({"key": "LocalAuthListEnabled", "value": "false"}),
    );
    assert_eq!(version(&mut sim), -1);
}

#[test]
fn clear_cache_keeps_the_local_list_and_the_queue() {
    let mut sim = Sim::online(&[("AllowOfflineTxForUnknownId", "true")]);
    sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 1, "updateType": "Full",
        "localAuthorizationList": [{"idTag": "A1", "idTagInfo": {"status": "Accepted"}}]}),
    );
    sim.csms.silent = true;
    sim.pilot(charger_core::PilotState::B);
    sim.card("A1B2C3D4");
    sim.advance(100_000);
    let q = sim.core.status().queue_len;
    assert!(q >= 1);
    sim.csms.silent = false;
    let a = sim.cs_call("ClearCache", json!({}));
    assert_eq!(a[2]["status"], "Accepted");
    assert_eq!(
        sim.cs_call("GetLocalListVersion", json!({}))[2]["listVersion"],
        1
    );
}

#[test]
fn configuration_keys_are_case_insensitive() {
    let mut sim = Sim::online(&[]);
    let a = sim.cs_call(
        "ChangeConfiguration",
        json!({"key": "heartbeatinterval", "value": "77"}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    let a = sim.cs_call("GetConfiguration", json!({"key": ["HEARTBEATINTERVAL"]}));
    assert_eq!(a[2]["configurationKey"][0]["key"], "HeartbeatInterval");
    assert_eq!(a[2]["configurationKey"][0]["value"], "77");
}

/// §7.1: idTagInfo is "Required when UpdateType is Full"; §6.41: "All idTags in the
/// localAuthorizationList MUST be unique". Such a list is refused with SendLocalList.conf
/// Failed and nothing changes: not the entries, not the version.
#[test]
fn send_local_list_that_breaks_the_list_rules_fails_and_changes_nothing() {
    let mut sim = Sim::online(&[]);
    let version =
        |sim: &mut Sim| sim.cs_call("GetLocalListVersion", json!({}))[2]["listVersion"].clone();
    let a = sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 3, "updateType": "Full",
        "localAuthorizationList": [{"idTag": "CAFE0001", "idTagInfo": {"status": "Accepted"}}]}),
    );
    assert_eq!(a[2]["status"], "Accepted");
    let db_before = sim.db.clone();
    for (why, req) in [
        (
            "Full entry without idTagInfo",
            json!({"listVersion": 10, "updateType": "Full",
                "localAuthorizationList": [{"idTag": "Y1"}]}),
        ),
        (
            "Full with duplicate idTags (case-insensitive)",
            json!({"listVersion": 11, "updateType": "Full", "localAuthorizationList": [
                {"idTag": "X1", "idTagInfo": {"status": "Accepted"}},
                {"idTag": "x1", "idTagInfo": {"status": "Accepted"}}]}),
        ),
        (
            "Differential with duplicate idTags",
            json!({"listVersion": 12, "updateType": "Differential", "localAuthorizationList": [
                {"idTag": "Z1", "idTagInfo": {"status": "Accepted"}},
                {"idTag": "Z1"}]}),
        ),
    ] {
        let a = sim.cs_call("SendLocalList", req);
        assert_eq!(a[0], 3, "{why}: {a}");
        assert_eq!(a[2]["status"], "Failed", "{why}");
        assert_eq!(version(&mut sim), 3, "{why}: version unchanged");
    }
    assert_eq!(sim.db.tables, db_before.tables, "nothing persisted");
    // The old list still works.
    sim.disconnect();
    sim.pilot(charger_core::PilotState::B);
    sim.card("CAFE0001");
    assert!(sim.core.status().tx_active);
}
