//! Fuzzing on the stable toolchain (issue 9.10): property-based generation (proptest) against
//! the four places outside input enters the firmware: the core's handling of central-system
//! frames, the SLCAN codec, the candump reader and the configuration file. Inputs are random
//! structured values and mutations of the corpus in `fixtures/fuzz/<target>/` (checked in; add a
//! file there to keep an interesting input). Properties: never a panic, and what is accepted
//! round-trips.
//!
//! A short run is part of `cargo test` (proptest's default 256 cases per target); a long one:
//! `PROPTEST_CASES=200000 cargo test --release -p charger --test fuzz`. A failing case is saved
//! under `firmware/charger/proptest-regressions/` and replayed first on every later run.

use std::path::{Path, PathBuf};

use charger_core::{BoardInput, Charger, Input, Now, Output, PilotState, Settings};
use chargerig_link::slcan::{encode_frame, SlcanDecoder, SlcanItem};
use chargerig_link::CanFrame;
use proptest::prelude::*;
use serde_json::{json, Value};

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/fuzz")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!seeds.is_empty(), "empty corpus {}", dir.display());
    seeds
}

/// One edit of a seed: flip, insert, delete or duplicate a range.
#[derive(Clone, Debug)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Repeat(usize, usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<usize>(), 1..32usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), 1..16usize, 1..8u8).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
    ]
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = data.len().max(1);
        match e {
            Edit::Set(i, b) if !data.is_empty() => data[i % len] = *b,
            Edit::Set(..) => data.push(0),
            Edit::Insert(i, v) => {
                let at = i % (data.len() + 1);
                data.splice(at..at, v.iter().copied());
            }
            Edit::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(data.len());
                if at < end {
                    data.drain(at..end);
                }
            }
            Edit::Repeat(i, n, k) => {
                let at = i % len;
                let end = (at + n).min(data.len());
                if at < end {
                    let chunk: Vec<u8> = data[at..end].to_vec();
                    for _ in 0..*k {
                        data.splice(end..end, chunk.iter().copied());
                    }
                }
            }
        }
    }
    data
}

/// A corpus seed with a few edits.
fn mutated(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = corpus(target);
    (0..seeds.len(), prop::collection::vec(edit(), 0..6))
        .prop_map(move |(i, edits)| apply(seeds[i].clone(), &edits))
}

// ---- central-system frames into the core -------------------------------------------------------

const ACTIONS: &[&str] = &[
    "Authorize",
    "BootNotification",
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "DataTransfer",
    "GetConfiguration",
    "GetLocalListVersion",
    "Heartbeat",
    "MeterValues",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "Reset",
    "SendLocalList",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    "TriggerMessage",
    "UnlockConnector",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("Accepted".to_string()),
            Just("+262142-12-31T23:59:59.999Z".to_string()),
            Just("-262143-01-01T00:00:00Z".to_string()),
            Just("2026-11-23T12:00:00Z".to_string()),
            "[ -~]{0,30}",
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("idTag".to_string()),
                    Just("connectorId".to_string()),
                    Just("type".to_string()),
                    Just("key".to_string()),
                    Just("value".to_string()),
                    Just("currentTime".to_string()),
                    Just("interval".to_string()),
                    Just("status".to_string()),
                    Just("listVersion".to_string()),
                    Just("transactionId".to_string()),
                    "[a-zA-Z]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A frame as the central system could send it: a CALL of a known action with a random payload,
/// an answer to one of our message ids, or raw text (a corpus mutation).
fn csms_frame() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            "[a-z0-9-]{1,40}",
            prop::sample::select(ACTIONS),
            json_value()
        )
            .prop_map(|(id, action, payload)| json!([2, id, action, payload]).to_string()),
        (1..20u32, json_value()).prop_map(|(id, p)| json!([3, id.to_string(), p]).to_string()),
        (1..20u32, json_value()).prop_map(|(id, d)| json!([
            4,
            id.to_string(),
            "GenericError",
            "x",
            d
        ])
        .to_string()),
        json_value().prop_map(|v| v.to_string()),
        mutated("ocpp").prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

fn online_charger() -> (Charger, Now) {
    let settings = Settings {
        installer_config: vec![("AllowOfflineTxForUnknownId".into(), "true".into())],
        ..Settings::default()
    };
    let mut now = Now {
        mono_ms: 1_000,
        utc: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    };
    let mut core = Charger::new(settings, Default::default(), now).unwrap();
    core.handle_input(Input::Connected, now);
    while core.poll_output().is_some() {}
    now = now.plus_ms(100);
    core.handle_input(
        Input::Frame(
            json!([3, "1", {"currentTime": "2027-01-15T08:00:00Z", "interval": 300, "status": "Accepted"}])
                .to_string(),
        ),
        now,
    );
    for input in [
        Input::Board(BoardInput::Pilot(PilotState::B)),
        Input::Board(BoardInput::Card(Some(vec![4, 0xA1, 0xB2, 0xC3]))),
        Input::Board(BoardInput::Pilot(PilotState::C)),
        Input::Board(BoardInput::LoadDeciAmps(320)),
    ] {
        core.handle_input(input, now);
    }
    while core.poll_output().is_some() {}
    (core, now)
}

proptest! {
    /// Whatever the central system sends, in any order and between ticks: no panic, every frame
    /// the core sends is a JSON array, and a CALL with a fresh id is answered at most once.
    #[test]
    fn the_core_survives_any_central_system_frames(frames in prop::collection::vec(csms_frame(), 1..12)) {
        let (mut core, mut now) = online_charger();
        for frame in frames {
            core.handle_input(Input::Frame(frame), now);
            now = now.plus_ms(250);
            core.handle_input(Input::Tick, now);
            while let Some(out) = core.poll_output() {
                if let Output::Send(text) = out {
                    let v: Value = serde_json::from_str(&text)
                        .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
                    prop_assert!(v.is_array(), "{}", text);
                }
            }
        }
        let _ = core.status();
        let _ = core.poll_timeout();
    }
}

// ---- SLCAN codec -------------------------------------------------------------------------------

fn can_frame() -> impl Strategy<Value = CanFrame> {
    (0..0x800u16, prop::collection::vec(any::<u8>(), 0..=8))
        .prop_map(|(id, data)| CanFrame::new(id, &data).unwrap())
}

proptest! {
    /// Any bytes, split anywhere: the decoder never panics and never holds more than a line.
    #[test]
    fn the_slcan_decoder_survives_any_bytes(data in prop_oneof![mutated("slcan"), prop::collection::vec(any::<u8>(), 0..512)], split in any::<usize>()) {
        let mut d = SlcanDecoder::new();
        let at = split % (data.len() + 1);
        let items: Vec<SlcanItem> = d.push(&data[..at]).chain(d.push(&data[at..]).collect::<Vec<_>>()).collect();
        for item in items {
            if let SlcanItem::Frame(f) = item {
                prop_assert!(f.id < 0x800 && f.len <= 8);
            }
        }
    }

    /// Every frame the encoder writes decodes to itself, whatever came before it on the line.
    #[test]
    fn slcan_frames_round_trip(f in can_frame(), junk in prop::collection::vec(any::<u8>(), 0..40)) {
        let mut d = SlcanDecoder::new();
        let _ = d.push(&junk).count();
        let _ = d.push(b"\r").count();
        let items: Vec<SlcanItem> = d.push(encode_frame(&f).as_bytes()).collect();
        prop_assert_eq!(items, vec![SlcanItem::Frame(f)]);
    }
}

// ---- candump reader ----------------------------------------------------------------------------

proptest! {
    /// Any line: an error or a record, and a record read back from its own line is the same.
    #[test]
    fn the_candump_reader_survives_any_line_and_round_trips(data in mutated("candump")) {
        let text = String::from_utf8_lossy(&data);
        for (n, line) in text.lines().enumerate() {
            if let Ok(rec) = chargerig_link::candump::parse_line(n + 1, line) {
                let again = chargerig_link::candump::parse_line(n + 1, &rec.to_line());
                prop_assert_eq!(again.as_ref().ok(), Some(&rec), "{}", rec.to_line());
            }
        }
        let _ = chargerig_link::candump::read_log(text.as_bytes());
    }
}

// ---- configuration file ------------------------------------------------------------------------

proptest! {
    /// Any file text: a configuration or an error that names the file, never a panic.
    #[test]
    fn the_config_file_parser_survives_any_text(data in mutated("config")) {
        let text = String::from_utf8_lossy(&data);
        let file = Path::new("/etc/charger.toml");
        match charger_config::parse_checked(&text, Some(file), &Default::default()) {
            Ok(cfg) => prop_assert!(!cfg.serial_number.is_empty()),
            Err(e) => prop_assert!(e.to_string().contains("/etc/charger.toml"), "{}", e),
        }
    }
}
