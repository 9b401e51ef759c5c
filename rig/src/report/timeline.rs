//! The model of one scenario's timeline: lanes of states, rows of point events, the OCPP
//! exchanges and the step bands, all on one axis (microseconds since the scenario's first
//! record). Built at a given resolution so that a 100 ms status stream becomes one segment per
//! visible change: the picture and the file stay small whatever the scenario's length.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::load::{OcppFrame, ScenarioData, StatusPoint};
use super::steps::StepStatus;

/// A span of one state on a lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Seg {
    pub from: i64,
    pub to: i64,
    pub label: String,
    /// CSS class: the state's colour.
    pub class: &'static str,
    /// Changes folded into this segment because they were closer than the resolution.
    pub folded: u32,
}

/// A measured value drawn over a lane as a step line (the current over the PWM states).
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// (time, value), one point per visible change.
    pub points: Vec<(i64, f64)>,
    pub max: f64,
    pub unit: &'static str,
}

/// One lane: a state over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    /// Stable key, used as `data-lane` in the SVG.
    pub key: &'static str,
    pub name: &'static str,
    pub segs: Vec<Seg>,
    pub graph: Option<Graph>,
}

impl Lane {
    fn new(key: &'static str, name: &'static str, segs: Vec<Seg>) -> Lane {
        Lane {
            key,
            name,
            segs,
            graph: None,
        }
    }
}

/// A point event.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub at: i64,
    /// Short text drawn beside the mark (may be empty).
    pub label: String,
    pub class: &'static str,
    /// Full text on hover.
    pub title: String,
}

/// A row of point events.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkRow {
    pub key: &'static str,
    pub name: &'static str,
    pub marks: Vec<Mark>,
}

/// The answer to a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub at: i64,
    /// `Accepted`, `CallError GenericError`, ... or empty for a result without a status.
    pub summary: String,
    /// `ok`, `warn` (a refusal such as Rejected) or `err` (CallError).
    pub class: &'static str,
    pub frame: String,
}

/// One OCPP exchange: a call and its answer, or a frame that belongs to no call.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub at: i64,
    pub from_charger: bool,
    pub connection: u32,
    pub id: String,
    /// The action; `?` for invalid frames.
    pub action: String,
    /// `call`, `result`, `error` (answers to no known call) or `invalid`.
    pub kind: String,
    pub frame: String,
    /// Read while the central system was not answering.
    pub ignored: bool,
    pub answer: Option<Answer>,
}

/// A step band.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub from: i64,
    pub to: i64,
    pub title: String,
    pub line: usize,
    pub status: StepStatus,
    pub error: Option<String>,
}

/// Everything drawn for one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub t0: DateTime<Utc>,
    /// Length of the axis, µs.
    pub end: i64,
    pub bands: Vec<Band>,
    pub lanes: Vec<Lane>,
    pub rows: Vec<MarkRow>,
    pub exchanges: Vec<Exchange>,
    /// When the failing step ended: the instant the scenario was judged failed.
    pub failed_at: Option<i64>,
}

/// More segments than this on one lane (a flapping state) are folded to the resolution.
const MAX_SEGS: usize = 400;

/// Builds segments. States change rarely and a short one matters (a power cut of 30 ms, a
/// refusal noticed at once), so every change is kept; only a lane that flaps beyond
/// [`MAX_SEGS`] is folded, changes closer than `fold` µs becoming one segment (the latest state
/// wins, the count of folded changes is kept for the hover text).
struct SegBuilder {
    min: i64,
    fold: i64,
    segs: Vec<Seg>,
}

impl SegBuilder {
    fn new(fold: i64) -> SegBuilder {
        SegBuilder {
            min: 0,
            fold,
            segs: Vec::new(),
        }
    }

    #[cfg(test)]
    fn folding(fold: i64) -> SegBuilder {
        SegBuilder {
            min: fold,
            fold,
            segs: Vec::new(),
        }
    }

    fn push(&mut self, at: i64, label: String, class: &'static str) {
        if let Some(last) = self.segs.last_mut() {
            if last.label == label {
                return;
            }
            if at - last.from < self.min {
                last.label = label;
                last.class = class;
                last.folded += 1;
                // Folding may have made it equal to the one before: merge them.
                if self.segs.len() >= 2 {
                    let n = self.segs.len();
                    if self.segs[n - 2].label == self.segs[n - 1].label {
                        let folded = self.segs[n - 1].folded;
                        self.segs.pop();
                        self.segs[n - 2].folded += folded + 1;
                    }
                }
                return;
            }
            last.to = at;
        }
        self.segs.push(Seg {
            from: at,
            to: at,
            label,
            class,
            folded: 0,
        });
    }

    fn finish(mut self, end: i64) -> Vec<Seg> {
        if let Some(last) = self.segs.last_mut() {
            last.to = end.max(last.from);
        }
        if self.segs.len() <= MAX_SEGS {
            return self.segs;
        }
        // Flapping: fold what is closer than the resolution (latest state wins).
        let mut thin = SegBuilder {
            min: self.fold,
            fold: 0,
            segs: Vec::new(),
        };
        for seg in self.segs {
            let folded = seg.folded;
            thin.push(seg.from, seg.label, seg.class);
            if let Some(last) = thin.segs.last_mut() {
                last.folded += folded;
            }
        }
        thin.finish(end)
    }
}

fn us(t0: DateTime<Utc>, t: DateTime<Utc>) -> i64 {
    (t - t0).num_microseconds().unwrap_or(i64::MAX)
}

fn pilot_class(p: &str) -> &'static str {
    match p {
        "A" => "pa",
        "B" => "pb",
        "C" => "pc",
        "D" => "pd",
        _ => "pe",
    }
}

fn connector_class(s: &str) -> &'static str {
    match s {
        "Available" => "ca",
        "Preparing" => "cp",
        "Charging" => "cc",
        "SuspendedEVSE" | "SuspendedEV" => "cs",
        "Finishing" => "cf",
        "Reserved" => "cr",
        "Unavailable" => "cu",
        _ => "cx",
    }
}

/// `26.6 % (16 A)`: the duty and the current it offers (IEC 61851-1: 0.6 A per % from 10 to
/// 85 %); a steady +12 V (1000 ‰) or −12 V (0 ‰) offers nothing.
fn pwm_label(s: &StatusPoint) -> (String, &'static str) {
    match s.pwm_duty_permille {
        1000 => ("+12 V".to_string(), "off"),
        0 => ("off".to_string(), "off"),
        d => {
            let pct = f64::from(d) / 10.0;
            let amps = if (10.0..=85.0).contains(&pct) {
                format!(" ({:.0} A)", pct * 0.6)
            } else {
                String::new()
            };
            (format!("{pct:.1} %{amps}"), "offer")
        }
    }
}

/// One point per visible change of a measured value (the latest wins within `min`).
fn push_point(points: &mut Vec<(i64, f64)>, min: i64, at: i64, v: f64) {
    let n = points.len();
    match points.last_mut() {
        Some(last) if (last.1 - v).abs() < 1e-9 => {}
        Some(last) if at - last.0 < min && n > 1 => last.1 = v,
        _ => points.push((at, v)),
    }
}

/// The frame as it went on the wire (near enough: the JSON array of OCPP-J).
fn frame_text(f: &OcppFrame) -> String {
    let id = f.message_id.as_deref().unwrap_or("");
    let v = match f.kind.as_str() {
        "call" => serde_json::json!([2, id, f.action.as_deref().unwrap_or(""), f.payload]),
        "result" => serde_json::json!([3, id, f.payload]),
        "error" => serde_json::json!([
            4,
            id,
            f.payload.get("code").cloned().unwrap_or(Value::Null),
            f.payload.get("description").cloned().unwrap_or(Value::Null),
            f.payload.get("details").cloned().unwrap_or(Value::Null)
        ]),
        _ => {
            return f
                .payload
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| f.payload.to_string())
        }
    };
    v.to_string()
}

/// What an answer says, in a word, and how it reads (ok / a refusal / an error).
fn answer_summary(f: &OcppFrame) -> (String, &'static str) {
    if f.kind == "error" {
        let code = f.payload.get("code").and_then(Value::as_str).unwrap_or("?");
        return (format!("CallError {code}"), "err");
    }
    let status = f
        .payload
        .get("status")
        .or_else(|| f.payload.get("idTagInfo").and_then(|i| i.get("status")))
        .and_then(Value::as_str);
    match status {
        None => (String::new(), "ok"),
        Some(s @ "Accepted") => (s.to_string(), "ok"),
        Some(s) => (s.to_string(), "warn"),
    }
}

impl Timeline {
    /// The timeline of `data` for a plot `width_px` pixels wide: changes closer than one pixel
    /// are folded. `None` when the folder recorded nothing with a time.
    pub fn build(data: &ScenarioData, width_px: f64) -> Option<Timeline> {
        let (t0, t1) = data.span()?;
        let end = us(t0, t1).max(1);
        let min = ((end as f64) / width_px.max(1.0)).ceil() as i64;
        let at = |t: DateTime<Utc>| us(t0, t);

        let mut pilot = SegBuilder::new(min);
        let mut contactor = SegBuilder::new(min);
        let mut pwm = SegBuilder::new(min);
        let mut connector = SegBuilder::new(min);
        let mut online = SegBuilder::new(min);
        let mut current = Vec::new();
        for s in &data.status {
            let t = at(s.at);
            pilot.push(t, s.pilot.clone(), pilot_class(&s.pilot));
            let closed = s.contactor == "closed";
            contactor.push(t, s.contactor.clone(), if closed { "on" } else { "off" });
            let (label, class) = pwm_label(s);
            pwm.push(t, label, class);
            push_point(&mut current, min, t, s.current_a);
            connector.push(
                t,
                s.connector_status.clone(),
                connector_class(&s.connector_status),
            );
            online.push(
                t,
                if s.online { "online" } else { "offline" }.into(),
                if s.online { "on" } else { "bad" },
            );
        }

        let mut gate = SegBuilder::new(min);
        let mut csms = SegBuilder::new(min);
        let mut power = SegBuilder::new(min);
        let mut saw_gate = false;
        let mut saw_csms_fault = false;
        for f in &data.faults {
            let t = at(f.at);
            match (f.source.as_str(), f.kind.as_deref(), f.fault.as_deref()) {
                ("gate", Some(kind @ ("cut" | "refuse" | "restore")), _) => {
                    if !saw_gate {
                        gate.push(0, "open".into(), "on");
                        saw_gate = true;
                    }
                    let (label, class) = match kind {
                        "cut" => ("cut", "bad"),
                        "refuse" => ("refused", "bad"),
                        _ => ("open", "on"),
                    };
                    gate.push(t, label.into(), class);
                }
                ("gate", Some("connection"), _) if !saw_gate => {
                    gate.push(t, "open".into(), "on");
                    saw_gate = true;
                }
                ("step", _, Some("central system stops answering")) => {
                    if !saw_csms_fault {
                        csms.push(0, "answering".into(), "on");
                        saw_csms_fault = true;
                    }
                    csms.push(t, "silent".into(), "bad");
                }
                ("step", _, Some("central system answers again")) => {
                    csms.push(t, "answering".into(), "on");
                }
                _ => {}
            }
        }
        if data.power.is_empty() {
            // A real bench: the power steps are the only record.
            for f in data.faults.iter().filter(|f| f.source == "step") {
                match f.fault.as_deref() {
                    Some("power cut") => power.push(at(f.at), "off".into(), "bad"),
                    Some("power restored") => power.push(at(f.at), "on".into(), "on"),
                    _ => {}
                }
            }
            if let (Some(first), true) = (data.status.first(), power.segs.is_empty()) {
                power.push(at(first.at), "on".into(), "on");
            }
        } else {
            for (t, what) in &data.power {
                if what.starts_with("power on") {
                    power.push(at(*t), "on".into(), "on");
                } else {
                    power.push(at(*t), "off".into(), "bad");
                }
            }
        }

        let current_max = current.iter().map(|p| p.1).fold(0.0, f64::max);
        let mut pwm = Lane::new("pwm", "PWM / current", pwm.finish(end));
        if current_max > 0.0 {
            pwm.graph = Some(Graph {
                points: current,
                max: current_max,
                unit: "A",
            });
        }
        let mut lanes = vec![
            Lane::new("pilot", "pilot", pilot.finish(end)),
            Lane::new("contactor", "contactor", contactor.finish(end)),
            pwm,
            Lane::new("connector", "connector", connector.finish(end)),
            Lane::new("online", "online", online.finish(end)),
            Lane::new("gate", "gate", gate.finish(end)),
        ];
        if saw_csms_fault {
            lanes.push(Lane::new("csms", "central system", csms.finish(end)));
        }
        lanes.push(Lane::new("power", "power", power.finish(end)));

        let board = data
            .events
            .iter()
            .filter_map(|e| {
                let label = match e.kind.as_str() {
                    "CardRead" if e.arg == 0 => "card off",
                    "CardRead" => "card",
                    "Boot" => "boot",
                    "LockEngaged" => "lock",
                    "LockReleased" => "unlock",
                    "PilotChange" | "ContactorClosed" | "ContactorOpened" | "PwmChanged" => {
                        return None; // already lanes
                    }
                    _ => "",
                };
                Some(Mark {
                    at: at(e.at),
                    label: label.into(),
                    class: "ev",
                    title: format!("{} {} (board clock {} ms)", e.kind, e.arg, e.board_ms),
                })
            })
            .collect();
        let faults = data
            .faults
            .iter()
            .filter(|f| {
                f.source == "step" || f.violation.is_some() || f.kind.as_deref() == Some("error")
            })
            .map(|f| Mark {
                at: at(f.at),
                label: f.fault.clone().unwrap_or_default(),
                class: if f.violation.is_some() || f.kind.is_some() {
                    "err"
                } else {
                    "flt"
                },
                title: f.text(),
            })
            .collect();
        let rows = vec![
            MarkRow {
                key: "board",
                name: "board events",
                marks: board,
            },
            MarkRow {
                key: "faults",
                name: "faults",
                marks: faults,
            },
        ];

        let exchanges = exchanges(&data.ocpp, t0);
        let bands: Vec<Band> = data
            .steps
            .iter()
            .map(|s| Band {
                from: at(s.started),
                to: at(s.ended),
                title: s.title(),
                line: s.line,
                status: s.status,
                error: s.error.clone(),
            })
            .collect();
        let failed_at = bands
            .iter()
            .find(|b| b.status == StepStatus::Failed)
            .map(|b| b.to);
        Some(Timeline {
            t0,
            end,
            bands,
            lanes,
            rows,
            exchanges,
            failed_at,
        })
    }
}

/// Pairs every call with its answer (same connection and message id).
fn exchanges(frames: &[OcppFrame], t0: DateTime<Utc>) -> Vec<Exchange> {
    let mut out: Vec<Exchange> = Vec::new();
    // (connection, id, call from the charger) → index in `out`
    let mut open: HashMap<(u32, String, bool), usize> = HashMap::new();
    for f in frames {
        let id = f.message_id.clone().unwrap_or_default();
        let from_charger = f.from_charger();
        if matches!(f.kind.as_str(), "result" | "error") {
            // An answer travels the other way from its call.
            if let Some(i) = open.remove(&(f.connection, id.clone(), !from_charger)) {
                let (summary, class) = answer_summary(f);
                out[i].answer = Some(Answer {
                    at: us(t0, f.at),
                    summary,
                    class,
                    frame: frame_text(f),
                });
                continue;
            }
        }
        if f.kind == "call" {
            open.insert((f.connection, id.clone(), from_charger), out.len());
        }
        out.push(Exchange {
            at: us(t0, f.at),
            from_charger,
            connection: f.connection,
            id,
            action: f.action.clone().unwrap_or_else(|| "?".into()),
            kind: f.kind.clone(),
            frame: frame_text(f),
            ignored: f.ignored,
            answer: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_closer_than_the_resolution_fold_into_the_latest() {
        let mut b = SegBuilder::folding(10);
        b.push(0, "A".into(), "pa");
        b.push(100, "B".into(), "pb");
        b.push(103, "C".into(), "pc");
        b.push(105, "B".into(), "pb");
        b.push(200, "B".into(), "pb");
        b.push(300, "A".into(), "pa");
        let segs = b.finish(400);
        let summary: Vec<(i64, i64, &str, u32)> = segs
            .iter()
            .map(|s| (s.from, s.to, s.label.as_str(), s.folded))
            .collect();
        assert_eq!(
            summary,
            [(0, 100, "A", 0), (100, 300, "B", 2), (300, 400, "A", 0)]
        );
    }

    #[test]
    fn a_short_state_is_kept_unless_the_lane_flaps() {
        let mut b = SegBuilder::new(10);
        b.push(0, "on".into(), "on");
        b.push(100, "off".into(), "bad");
        b.push(101, "on".into(), "on");
        assert_eq!(b.finish(200).len(), 3, "a 1 µs power cut still shows");
        let mut b = SegBuilder::new(10);
        for i in 0..1000 {
            b.push(i, if i % 2 == 0 { "on" } else { "off" }.into(), "on");
        }
        let segs = b.finish(2000);
        assert!(segs.len() <= 1000 / 10 + 1, "{}", segs.len());
        assert_eq!(
            segs.iter().map(|s| s.folded as usize + 1).sum::<usize>(),
            1000
        );
    }

    #[test]
    fn a_flicker_back_to_the_previous_state_merges() {
        let mut b = SegBuilder::folding(10);
        b.push(0, "A".into(), "pa");
        b.push(100, "B".into(), "pb");
        b.push(102, "A".into(), "pa");
        let segs = b.finish(200);
        assert_eq!(segs.len(), 1);
        assert_eq!((segs[0].label.as_str(), segs[0].to), ("A", 200));
    }

    fn frame(kind: &str, dir: &str, id: &str, action: &str, payload: Value, ms: i64) -> OcppFrame {
        OcppFrame {
            at: DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap(),
            direction: dir.into(),
            connection: 1,
            kind: kind.into(),
            message_id: Some(id.into()),
            action: Some(action.into()),
            payload,
            ignored: false,
        }
    }

    #[test]
    fn calls_pair_with_their_answers() {
        let t0 = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
        let frames = [
            frame(
                "call",
                "in",
                "1",
                "Authorize",
                serde_json::json!({"idTag": "X"}),
                0,
            ),
            frame(
                "call",
                "out",
                "1",
                "Reset",
                serde_json::json!({"type": "Soft"}),
                1,
            ),
            frame(
                "result",
                "out",
                "1",
                "Authorize",
                serde_json::json!({"idTagInfo": {"status": "Blocked"}}),
                2,
            ),
            frame(
                "error",
                "in",
                "1",
                "Reset",
                serde_json::json!({"code": "NotSupported", "description": "", "details": {}}),
                3,
            ),
            frame("call", "in", "2", "Heartbeat", serde_json::json!({}), 4),
        ];
        let ex = exchanges(&frames, t0);
        assert_eq!(ex.len(), 3);
        assert_eq!(ex[0].frame, r#"[2,"1","Authorize",{"idTag":"X"}]"#);
        let a = ex[0].answer.as_ref().unwrap();
        assert_eq!(
            (a.summary.as_str(), a.class, a.at),
            ("Blocked", "warn", 2000)
        );
        let r = ex[1].answer.as_ref().unwrap();
        assert!(!ex[1].from_charger);
        assert_eq!(
            (r.summary.as_str(), r.class),
            ("CallError NotSupported", "err")
        );
        assert_eq!(r.frame, r#"[4,"1","NotSupported","",{}]"#);
        assert!(ex[2].answer.is_none(), "an unanswered call stays visible");
    }
}
