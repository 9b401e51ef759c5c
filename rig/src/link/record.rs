//! What a board client records: frames, status changes, events; and the JSON shape of a
//! status that `rig status --json` prints and the artifacts use.

use chargerig_link::{BoardEvent, BoardStatus, CanFrame, Frame};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::time::Instant;

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// rig → board
    Out,
    /// board → rig
    In,
}

/// One frame on the link.
#[derive(Debug, Clone)]
pub struct FrameRecord {
    pub at: DateTime<Utc>,
    pub direction: Direction,
    pub raw: CanFrame,
    /// `None` when it did not decode (garbage that was still a CAN frame).
    pub frame: Option<Frame>,
}

/// The board as last reported: status plus the meter that came with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoardView {
    pub status: BoardStatus,
    pub energy_wh: u32,
    pub deci_amps: u16,
    /// Boot count from the board's identity frame, once seen.
    pub boot_count: Option<u32>,
    /// Link connection number (1 = first connect; increases after every reconnect).
    pub connection: u32,
    pub at: DateTime<Utc>,
    pub instant: Instant,
}

impl BoardView {
    pub fn current_a(&self) -> f64 {
        f64::from(self.deci_amps) / 10.0
    }

    /// The `rig status --json` object, plus `sequence`, `queue_len`, `fault`, `at`.
    pub fn to_json(&self) -> Value {
        let mut v = board_json(&self.status, self.energy_wh, self.deci_amps);
        if let Value::Object(m) = &mut v {
            m.insert("boot_count".into(), json!(self.boot_count));
            m.insert("connection".into(), json!(self.connection));
            m.insert(
                "at".into(),
                json!(self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            );
        }
        v
    }
}

/// The JSON object of board-link.md, with the documented keys first and extra keys after.
pub fn board_json(s: &BoardStatus, energy_wh: u32, deci_amps: u16) -> Value {
    // serde_json's map keeps insertion order only with preserve_order; build the text order
    // explicitly in `board_json_line` for printing, keep a Value for programmatic use.
    json!({
        "pilot": s.pilot.to_string(),
        "pwm_duty_permille": s.pwm_duty_permille,
        "contactor": if s.contactor_closed { "closed" } else { "open" },
        "connector_status": s.connector_status.to_string(),
        "locked": s.cable_locked,
        "online": s.online,
        "transaction_active": s.transaction_active,
        "energy_wh": energy_wh,
        "current_a": f64::from(deci_amps) / 10.0,
        "fault": s.fault,
        "sequence": s.sequence,
        "queue_len": s.queue_len,
    })
}

/// The status as one JSON line with the documented key order (pilot first ... current_a,
/// then extras), for humans and for `--json` consumers that compare text.
pub fn board_json_line(s: &BoardStatus, energy_wh: u32, deci_amps: u16) -> String {
    let v = board_json(s, energy_wh, deci_amps);
    let keys = [
        "pilot",
        "pwm_duty_permille",
        "contactor",
        "connector_status",
        "locked",
        "online",
        "transaction_active",
        "energy_wh",
        "current_a",
        "fault",
        "sequence",
        "queue_len",
    ];
    let parts: Vec<String> = keys
        .iter()
        .map(|k| format!("{}:{}", json!(k), v[*k]))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// One line describing a board status, for failure messages (the JSON forms are above, the
/// one-shot's table is `oneshot::format_status`).
pub fn status_line(s: &BoardStatus) -> String {
    format!(
        "pilot {} pwm {}‰ contactor {} connector {} locked {} online {} transaction {} fault {} queue {}",
        s.pilot.as_str(),
        s.pwm_duty_permille,
        if s.contactor_closed { "closed" } else { "open" },
        s.connector_status.as_str(),
        s.cable_locked,
        s.online,
        s.transaction_active,
        s.fault,
        s.queue_len
    )
}

/// A status that differs from the previous one (sequence ignored), with when it arrived.
#[derive(Debug, Clone, Copy)]
pub struct StatusRecord {
    pub view: BoardView,
}

/// A board event with the rig's receive time.
#[derive(Debug, Clone, Copy)]
pub struct EventRecord {
    pub at: DateTime<Utc>,
    pub event: BoardEvent,
    pub boot_count: Option<u32>,
    pub connection: u32,
}

impl EventRecord {
    pub fn to_json(&self) -> Value {
        json!({
            "at": self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "board_ms": self.event.board_ms,
            "kind": self.event.kind.to_string(),
            "arg": self.event.arg,
            "sequence": self.event.sequence,
            "boot_count": self.boot_count,
            "connection": self.connection,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chargerig_link::{ConnectorStatus, PilotState};

    #[test]
    fn json_line_has_the_documented_keys_in_order() {
        let s = BoardStatus {
            pilot: PilotState::C,
            pwm_duty_permille: 266,
            contactor_closed: true,
            cable_locked: true,
            online: true,
            transaction_active: true,
            fault: false,
            connector_status: ConnectorStatus::Charging,
            sequence: 3,
            queue_len: 0,
        };
        let line = board_json_line(&s, 1234, 160);
        assert!(line.starts_with(
            r#"{"pilot":"C","pwm_duty_permille":266,"contactor":"closed","connector_status":"Charging","locked":true,"online":true,"transaction_active":true,"energy_wh":1234,"current_a":16.0"#
        ), "{line}");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v, board_json(&s, 1234, 160));
    }
}
