use serde_json::json;

use crate::harness::Sim;

fn error_code(answer: &Option<serde_json::Value>) -> String {
    let a = answer.as_ref().expect("an answer");
    assert_eq!(a[0], 4, "CALLERROR expected: {a}");
    a[2].as_str().unwrap().to_string()
}

#[test]
fn a_frame_that_is_not_json_but_has_a_recoverable_id_gets_formation_violation() {
    let mut sim = Sim::online(&[]);
    let a = sim.raw(r#"[2, "abc", "Heartbeat", {"#, "abc");
    assert_eq!(error_code(&a), "FormationViolation");
}

#[test]
fn a_frame_that_is_not_an_array_is_logged_and_changes_nothing() {
    let mut sim = Sim::online(&[]);
    let before = sim.sent.len();
    sim.raw(r#"{"hello": 1}"#, "x");
    sim.raw("garbage", "x");
    assert_eq!(sim.sent.len(), before, "no id: nothing to answer");
}

#[test]
fn an_unknown_action_gets_not_implemented() {
    let mut sim = Sim::online(&[]);
    let a = sim.raw(r#"[2,"u1","MakeCoffee",{}]"#, "u1");
    assert_eq!(error_code(&a), "NotImplemented");
}

#[test]
fn actions_of_unsupported_profiles_get_not_supported() {
    let mut sim = Sim::online(&[]);
    for (i, action) in [
        "ReserveNow",
        "SetChargingProfile",
        "UpdateFirmware",
        "GetDiagnostics",
    ]
    .iter()
    .enumerate()
    {
        let id = format!("n{i}");
        let a = sim.raw(&json!([2, id, action, {}]).to_string(), &id);
        assert_eq!(error_code(&a), "NotSupported", "{action}");
    }
}

#[test]
fn a_field_of_the_wrong_type_gets_type_constraint_violation() {
    let mut sim = Sim::online(&[]);
    let a = sim.raw(
        r#"[2,"t1","ChangeConfiguration",{"key":"HeartbeatInterval","value":60}]"#,
        "t1",
    );
    assert_eq!(error_code(&a), "TypeConstraintViolation");
    assert_eq!(
        sim.core.config_value("HeartbeatInterval").as_deref(),
        Some("300")
    );
}

#[test]
fn a_missing_required_field_gets_formation_violation() {
    let mut sim = Sim::online(&[]);
    let a = sim.raw(
        r#"[2,"m1","ChangeConfiguration",{"key":"HeartbeatInterval"}]"#,
        "m1",
    );
    assert_eq!(error_code(&a), "FormationViolation");
}

#[test]
fn an_unexpected_field_gets_formation_violation() {
    let mut sim = Sim::online(&[]);
    let a = sim.raw(r#"[2,"f1","ClearCache",{"please":true}]"#, "f1");
    assert_eq!(error_code(&a), "FormationViolation");
}

#[test]
fn an_out_of_range_enum_value_gets_property_constraint_violation() {
    let mut sim = Sim::online(&[]);
    let a = sim.raw(r#"[2,"p1","Reset",{"type":"Medium"}]"#, "p1");
    assert_eq!(error_code(&a), "PropertyConstraintViolation");
    assert!(sim.reboots.is_empty());
    let a = sim.raw(
        r#"[2,"p2","RemoteStartTransaction",{"idTag":"012345678901234567890"}]"#,
        "p2",
    );
    assert_eq!(
        error_code(&a),
        "PropertyConstraintViolation",
        "idTag longer than 20"
    );
}

#[test]
fn a_call_result_with_an_unknown_id_is_ignored() {
    let mut sim = Sim::online(&[]);
    let before = sim.sent.len();
    sim.raw(
        r#"[3,"nobody",{"currentTime":"2026-01-01T00:00:00Z"}]"#,
        "nobody",
    );
    sim.raw(r#"[4,"nobody","InternalError","x",{}]"#, "nobody");
    assert_eq!(sim.sent.len(), before);
    assert!(sim.core.status().online);
}

#[test]
fn no_input_ever_panics() {
    let mut sim = Sim::online(&[]);
    let inputs = [
        "", "[", "[]", "[2]", "[2,1,2,3]", "[2,\"a\"]", "[2,\"a\",\"Reset\"]", "[2,\"a\",\"Reset\",[]]",
        "[9,\"a\",{}]", "[3,\"a\"]", "[4,\"a\"]", "[2,\"a\",\"SendLocalList\",{\"listVersion\":\"x\"}]",
        "[2,\"b\",\"SendLocalList\",{\"listVersion\":1,\"updateType\":\"Full\",\"localAuthorizationList\":[{\"idTag\":\"\"}]}]",
        "[2,\"c\",\"TriggerMessage\",{\"requestedMessage\":\"StatusNotification\",\"connectorId\":-1}]",
        "[2,\"d\",\"GetConfiguration\",{\"key\":[1,2]}]", "null", "123", "\"str\"",
        "[2,\"0123456789012345678901234567890123456789\",\"Heartbeat\",{}]",
    ];
    for i in inputs {
        sim.raw(i, "a");
    }
    assert!(sim.core.status().online);
}

#[test]
fn every_supported_request_with_a_minimal_valid_payload_gets_a_call_result() {
    let mut sim = Sim::online(&[]);
    for (action, payload) in [
        (
            "ChangeConfiguration",
            json!({"key": "HeartbeatInterval", "value": "60"}),
        ),
        ("GetConfiguration", json!({})),
        ("ClearCache", json!({})),
        ("GetLocalListVersion", json!({})),
        (
            "SendLocalList",
            json!({"listVersion": 1, "updateType": "Full"}),
        ),
        (
            "SendLocalList",
            json!({"listVersion": 2, "updateType": "Differential",
            "localAuthorizationList": [{"idTag": "A", "idTagInfo": {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00.000Z", "parentIdTag": "P"}}]}),
        ),
        ("RemoteStopTransaction", json!({"transactionId": 1})),
        ("TriggerMessage", json!({"requestedMessage": "Heartbeat"})),
        (
            "ChangeAvailability",
            json!({"connectorId": 0, "type": "Operative"}),
        ),
        ("UnlockConnector", json!({"connectorId": 1})),
        ("DataTransfer", json!({"vendorId": "acme"})),
        ("RemoteStartTransaction", json!({"idTag": "A"})),
        ("Reset", json!({"type": "Soft"})),
    ] {
        let a = sim.cs_call(action, payload);
        assert_eq!(a[0], 3, "{action}: {a}");
        sim.advance(200);
    }
}

/// OCPP-J §4.2.3: "unique identifier too long" is a CALL that gets a CallError, and the
/// CallError's UniqueId "must be the exact same id that is in the call request".
#[test]
fn a_call_with_a_message_id_longer_than_36_characters_gets_a_call_error_echoing_it() {
    let mut sim = Sim::online(&[]);
    let id = "u".repeat(40);
    let a = sim.raw(&json!([2, id, "GetLocalListVersion", {}]).to_string(), &id);
    assert_eq!(error_code(&a), "FormationViolation");
    // Not JSON, id recoverable from the prefix: same.
    let id2 = "v".repeat(50);
    let a = sim.raw(&format!(r#"[2,"{id2}","Heartbeat",{{"#), &id2);
    assert_eq!(error_code(&a), "FormationViolation");
}

/// OCPP-J §4.2.3: a CallError answers a CALL only. A broken CALLRESULT or CALLERROR (an answer
/// to one of our requests) or an unknown message type is logged; nothing is sent back.
#[test]
fn a_malformed_call_result_or_call_error_is_logged_and_not_answered() {
    let mut sim = Sim::online(&[]);
    let before = sim.sent.len();
    for text in [
        r#"[3,"2-14"]"#,
        r#"[3,"2-15",{},1]"#,
        r#"[4,"2-8","NotSupported"]"#,
        r#"[3,"2-9","#,
        r#"[4,"2-10","GenericError""#,
        // J§4.1.3: a message type not in the list is ignored.
        r#"[5,"x5",{}]"#,
    ] {
        sim.raw(text, "-");
    }
    assert_eq!(
        sim.sent.len(),
        before,
        "nothing answered: {:?}",
        &sim.sent[before..]
    );
}

/// OCPP-J §4.2.3 / the schemas' maxLength: DataTransfer vendorId is CiString255 and messageId
/// CiString50 (§6.15); GetConfiguration keys CiString50 (§6.23); SendLocalList parentIdTag
/// IdToken (CiString20, §7.1). Longer strings get PropertyConstraintViolation.
#[test]
fn strings_longer_than_their_ci_string_type_get_property_constraint_violation() {
    let mut sim = Sim::online(&[]);
    for (i, (action, payload)) in [
        ("DataTransfer", json!({"vendorId": "v".repeat(256)})),
        (
            "DataTransfer",
            json!({"vendorId": "v", "messageId": "m".repeat(51)}),
        ),
        ("GetConfiguration", json!({"key": ["k".repeat(51)]})),
        (
            "SendLocalList",
            json!({"listVersion": 4, "updateType": "Full", "localAuthorizationList": [
                {"idTag": "A1", "idTagInfo": {"status": "Accepted", "parentIdTag": "p".repeat(21)}}]}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("len{i}");
        let a = sim.raw(&json!([2, id, action, payload]).to_string(), &id);
        assert_eq!(error_code(&a), "PropertyConstraintViolation", "{action}");
    }
    assert_eq!(
        sim.cs_call("GetLocalListVersion", json!({}))[2]["listVersion"],
        0,
        "the refused list changed nothing"
    );
    // At the limit: accepted. Multi-byte characters count as one each.
    let a = sim.cs_call(
        "DataTransfer",
        json!({"vendorId": "é".repeat(255), "messageId": "m".repeat(50), "data": "x"}),
    );
    assert_eq!(a[2]["status"], "UnknownVendorId");
}

/// OCPP-J §4.2.3: a CALL that cannot be handled gets a CallError with its UniqueId; a frame
/// too large for the shell to hand over is such a CALL. The shell passes its head; the id is
/// recovered from it.
#[test]
fn an_oversized_call_gets_a_generic_error_with_its_id() {
    let mut sim = Sim::online(&[]);
    let head = r#"[2,"big2000000","DataTransfer",{"vendorId":"x","data":"AAAAAAAAAAAA"#;
    sim.input(charger_core::Input::OversizedFrame {
        head: head.into(),
        len: 2_000_064,
    });
    let a = sim.answers.get("big2000000").cloned();
    assert_eq!(error_code(&a), "GenericError");
    assert!(a.unwrap()[3].as_str().unwrap().contains("2000064"));
    // An oversized answer to one of our requests (or no recoverable id) is only logged.
    let before = sim.sent.len();
    for head in [r#"[3,"2-5",{"currentTime":""#, "xxxxxxxx"] {
        sim.input(charger_core::Input::OversizedFrame {
            head: head.into(),
            len: 100_000,
        });
    }
    assert_eq!(sim.sent.len(), before);
    assert!(sim.core.status().online);
}

/// OCPP-J §4.2.3: TypeConstraintViolation = a field "violates data type constraints". A
/// fractional number (or 1.0) where the schema says integer is a type error, like a string.
#[test]
fn a_number_with_a_fraction_where_an_integer_is_required_gets_type_constraint_violation() {
    let mut sim = Sim::online(&[]);
    for (i, payload) in [
        json!({"connectorId": 1.5, "type": "Operative"}),
        json!({"connectorId": 1.0, "type": "Operative"}),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("f{i}");
        let a = sim.raw(
            &json!([2, id, "ChangeAvailability", payload]).to_string(),
            &id,
        );
        assert_eq!(error_code(&a), "TypeConstraintViolation", "{payload}");
    }
    let a = sim.raw(
        r#"[2,"f9","RemoteStopTransaction",{"transactionId":1e3}]"#,
        "f9",
    );
    assert_eq!(error_code(&a), "TypeConstraintViolation");
    // An integer out of range stays a value error.
    let a = sim.raw(
        r#"[2,"f10","ChangeAvailability",{"connectorId":-1,"type":"Operative"}]"#,
        "f10",
    );
    assert_eq!(error_code(&a), "PropertyConstraintViolation");
}

/// Issue 9.9: requests the official OCA schemas refuse but serde would read (null for an optional
/// field, an extra property in a nested object, an array where an object is required), one JSON
/// line each with the CallError its violation calls for (OCPP-J §4.2.3).
/// `.ci/check-ocpp-schemas --invalid` checks that the OCA schemas refuse every one.
const SCHEMA_INVALID: &str = include_str!("schema_invalid.jsonl");

#[test]
fn schema_invalid_requests_get_the_call_error_the_violation_calls_for() {
    let mut sim = Sim::online(&[]);
    let version_before = sim.cs_call("GetLocalListVersion", json!({}));
    for (i, line) in SCHEMA_INVALID.lines().enumerate() {
        let case: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let (action, payload) = (&case["action"], &case["payload"]);
        let id = format!("s{i}");
        let a = sim.raw(&json!([2, id, action, payload]).to_string(), &id);
        assert_eq!(error_code(&a), case["code"], "{action} {payload}");
    }
    assert_eq!(sim.cs_call("GetLocalListVersion", json!({})), {
        let mut v = version_before;
        v[1] = json!(format!("cs-{}", 2));
        v
    });
    assert!(!sim.core.status().tx_active, "nothing started");
    // The same requests without the violation are accepted.
    let ok = sim.cs_call(
        "SendLocalList",
        json!({"listVersion": 5, "updateType": "Full",
               "localAuthorizationList": [{"idTag": "AB", "idTagInfo": {"status": "Accepted"}}]}),
    );
    assert_eq!(ok[2]["status"], "Accepted", "{ok}");
}
