//! `fixtures/board.dbc` must describe exactly the frame set the code uses.

use can_dbc::{ByteOrder, Dbc, MessageId, ValueType};
use chargerig_link::signals::{Node, MESSAGES};

fn load() -> Dbc {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/board.dbc");
    let text = std::fs::read_to_string(path).expect("fixtures/board.dbc exists");
    Dbc::try_from(text.as_str()).expect("board.dbc parses")
}

#[test]
fn nodes_are_rig_and_board() {
    let dbc = load();
    let nodes: Vec<&str> = dbc.nodes.iter().map(|n| n.0.as_str()).collect();
    assert_eq!(nodes, ["RIG", "BOARD"]);
}

#[test]
fn every_message_and_signal_matches_the_code() {
    let dbc = load();
    assert_eq!(dbc.messages.len(), MESSAGES.len(), "message count");
    for def in MESSAGES {
        let m = dbc
            .messages
            .iter()
            .find(|m| m.id == MessageId::Standard(def.id))
            .unwrap_or_else(|| panic!("{} (0x{:X}) missing from board.dbc", def.name, def.id));
        assert_eq!(m.name, def.name);
        assert_eq!(m.size, u64::from(def.dlc), "{} dlc", def.name);
        assert_eq!(
            m.transmitter.as_deref(),
            Some(def.sender.as_str()),
            "{} sender",
            def.name
        );
        assert_eq!(
            m.signals.len(),
            def.signals.len(),
            "{} signal count",
            def.name
        );
        for s in def.signals {
            let d = m
                .signals
                .iter()
                .find(|x| x.name == s.name)
                .unwrap_or_else(|| panic!("{}.{} missing", def.name, s.name));
            let what = format!("{}.{}", def.name, s.name);
            assert_eq!(d.start_bit, u64::from(s.start_bit), "{what} start bit");
            assert_eq!(d.size, u64::from(s.size), "{what} size");
            assert_eq!(d.byte_order, ByteOrder::LittleEndian, "{what} byte order");
            assert_eq!(d.value_type, ValueType::Unsigned, "{what} signedness");
            assert!(
                (d.factor - s.factor).abs() < 1e-12,
                "{what} factor {} vs {}",
                d.factor,
                s.factor
            );
            assert!((d.offset - s.offset).abs() < 1e-12, "{what} offset");
            assert_eq!(d.unit, s.unit, "{what} unit");
            assert_eq!(d.receivers, [def.sender.peer().as_str()], "{what} receiver");

            let mut dbc_vals: Vec<(u32, String)> = dbc
                .value_descriptions_for_signal(m.id, s.name)
                .unwrap_or_default()
                .iter()
                .map(|v| (v.id as u32, v.description.clone()))
                .collect();
            dbc_vals.sort();
            let code_vals: Vec<(u32, String)> =
                s.values.iter().map(|(v, n)| (*v, n.to_string())).collect();
            assert_eq!(dbc_vals, code_vals, "{what} value table");
        }
    }
}

#[test]
fn senders_are_the_two_nodes() {
    for def in MESSAGES {
        let expected = if def.id < 0x200 {
            Node::Rig
        } else {
            Node::Board
        };
        assert_eq!(def.sender, expected, "{}", def.name);
    }
}

/// Python cantools (what bench users decode logs with) reads the file and decodes a frame the
/// code encoded to the same values. Runs where cantools is installed.
#[test]
fn cantools_decodes_what_the_code_encodes() {
    use chargerig_link::{BoardStatus, ConnectorStatus, Frame, PilotState};
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = std::process::Command::new(&python)
        .args(["-c", "import cantools"])
        .output();
    if !matches!(&probe, Ok(o) if o.status.success()) {
        eprintln!("skipped: no python cantools");
        return;
    }
    let status = Frame::Status(BoardStatus {
        pilot: PilotState::C,
        pwm_duty_permille: 266,
        contactor_closed: true,
        cable_locked: true,
        online: false,
        transaction_active: true,
        fault: false,
        connector_status: ConnectorStatus::SuspendedEV,
        sequence: 7,
        queue_len: 513,
    })
    .encode();
    let hex: String = status
        .payload()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/board.dbc");
    let script = format!(
        "import cantools\ndb = cantools.database.load_file({path:?})\nm = db.get_message_by_frame_id(0x200)\nd = m.decode(bytes.fromhex({hex:?}))\nprint(d['Pilot'], d['PwmDuty'], d['ContactorClosed'], d['CableLocked'], d['OcppOnline'], d['TransactionActive'], d['ConnectorStatus'], d['Sequence'], d['OfflineQueueLength'])"
    );
    let out = std::process::Command::new(&python)
        .args(["-c", &script])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "C 26.6 1 1 0 1 SuspendedEV 7 513"
    );
}
