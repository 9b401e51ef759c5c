//! A scenario harness: drives the core with a fake clock, plays a scriptable central system,
//! keeps a fake database from the `Persist` outputs and can cut the power.
#![allow(dead_code)]

pub mod validate;

use std::collections::{BTreeMap, VecDeque};

use charger_core::{
    BoardInput, Charger, HardwareCmd, Input, LocalReply, LocalRequest, Now, Output, PilotState,
    Restored, Settings,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

/// A message the central system received (a CALL from the charger).
#[derive(Clone, Debug)]
pub struct Received {
    pub action: String,
    pub payload: Value,
    pub at_ms: u64,
}

/// How the scripted central system answers.
#[derive(Clone, Debug)]
pub struct Csms {
    /// Known tags: upper-case tag → IdTagInfo JSON. Unlisted tags are Invalid.
    pub tags: BTreeMap<String, Value>,
    pub boot_status: &'static str,
    pub boot_interval: u32,
    pub next_tx_id: i32,
    /// Status of StartTransaction confirmations (overrides the tag table).
    pub start_status: Option<&'static str>,
    /// action → remaining CallErrors (u32::MAX: forever).
    pub call_errors: BTreeMap<String, u32>,
    /// Reads requests but answers none (half-open link / stuck server).
    pub silent: bool,
    /// How far the central system's clock is ahead of the charger's host clock (ms).
    pub clock_ahead_ms: i64,
    /// A raw `currentTime` sent instead of the clock above (hostile values, issue 9.1).
    pub current_time: Option<String>,
    /// One-way network latency (ms): answers are stamped on arrival of the request and come
    /// back a round trip after it was sent.
    pub latency_ms: u64,
    pub received: Vec<Received>,
}

impl Default for Csms {
    fn default() -> Self {
        Csms {
            tags: BTreeMap::new(),
            boot_status: "Accepted",
            boot_interval: 300,
            next_tx_id: 100,
            start_status: None,
            call_errors: BTreeMap::new(),
            silent: false,
            clock_ahead_ms: 0,
            current_time: None,
            latency_ms: 0,
            received: Vec::new(),
        }
    }
}

pub struct Sim {
    pub core: Charger,
    pub settings: Settings,
    pub db: Restored,
    pub now: Now,
    pub csms: Csms,
    pub connected: bool,
    pub hw: Vec<HardwareCmd>,
    pub reboots: Vec<bool>,
    /// Answers the charger gave to our CALLs, by message id.
    pub answers: BTreeMap<String, Value>,
    /// Every frame the charger sent, in order.
    pub sent: Vec<Value>,
    /// Answers to local-interface requests, in order.
    pub local_replies: Vec<LocalReply>,
    cs_msg: u64,
    /// Answers on their way back (mono ms due, frame), with latency.
    in_flight: Vec<(u64, String)>,
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

pub fn settings() -> Settings {
    Settings {
        serial_number: "SN-0001".into(),
        charge_point_id: "SN-0001".into(),
        ..Settings::default()
    }
}

pub fn info(status: &str) -> Value {
    json!({ "status": status })
}

impl Sim {
    /// A fresh charger (empty database) with installer configuration `config`.
    pub fn new(config: &[(&str, &str)]) -> Sim {
        let mut s = settings();
        s.installer_config = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Sim::with_settings(s)
    }

    pub fn with_settings(settings: Settings) -> Sim {
        let now = Now {
            mono_ms: 1_000,
            utc: t0(),
        };
        let core =
            Charger::new(settings.clone(), Restored::default(), now).expect("valid settings");
        let mut sim = Sim {
            core,
            settings,
            db: Restored::default(),
            now,
            csms: Csms::default(),
            connected: false,
            hw: Vec::new(),
            reboots: Vec::new(),
            answers: BTreeMap::new(),
            sent: Vec::new(),
            local_replies: Vec::new(),
            cs_msg: 0,
            in_flight: Vec::new(),
        };
        sim.drain();
        sim
    }

    /// Booted, Accepted, statuses reported.
    pub fn online(config: &[(&str, &str)]) -> Sim {
        let mut sim = Sim::new(config);
        sim.connect();
        sim.advance(500);
        assert!(sim.core.status().online, "charger should be online");
        sim
    }

    pub fn input(&mut self, input: Input) {
        self.core.handle_input(input, self.now);
        self.drain();
    }

    /// One request from the local interface (the configuration panel); returns its answer.
    pub fn local(&mut self, req: LocalRequest) -> LocalReply {
        let before = self.local_replies.len();
        self.input(Input::Local(req));
        assert_eq!(
            self.local_replies.len(),
            before + 1,
            "exactly one answer per local request"
        );
        self.local_replies.last().cloned().expect("answered")
    }

    pub fn pilot(&mut self, p: PilotState) {
        self.input(Input::Board(BoardInput::Pilot(p)));
    }

    pub fn card(&mut self, hex: &str) {
        let uid: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        self.input(Input::Board(BoardInput::Card(Some(uid))));
    }

    pub fn load(&mut self, amps: f32) {
        self.input(Input::Board(BoardInput::LoadDeciAmps((amps * 10.0) as u16)));
    }

    pub fn connect(&mut self) {
        self.connected = true;
        self.input(Input::Connected);
    }

    pub fn disconnect(&mut self) {
        self.connected = false;
        self.input(Input::Disconnected);
    }

    /// Lets `ms` pass in 100 ms ticks (as the shell does).
    pub fn advance(&mut self, ms: u64) {
        let end = self.now.mono_ms + ms;
        while self.now.mono_ms < end {
            let step = 100.min(end - self.now.mono_ms);
            self.now = self.now.plus_ms(step);
            let due: Vec<String> = {
                let now = self.now.mono_ms;
                let (due, later) = std::mem::take(&mut self.in_flight)
                    .into_iter()
                    .partition(|(at, _)| *at <= now);
                self.in_flight = later;
                due.into_iter().map(|(_, f)| f).collect()
            };
            for f in due {
                if self.connected {
                    self.input(Input::Frame(f));
                }
            }
            self.input(Input::Tick);
        }
    }

    /// Power cut: the core is gone; a new one boots from the database.
    pub fn power_cycle(&mut self) {
        self.connected = false;
        self.now = self.now.plus_ms(2_000);
        self.core =
            Charger::new(self.settings.clone(), self.db.clone(), self.now).expect("restart");
        self.drain();
    }

    /// Power cut, and the new core gets only the first `WINDOW` queue rows plus a count of the
    /// whole, as the real shell hands them over.
    pub fn power_cycle_windowed(&mut self) {
        use charger_core::queue::{QueueSummary, WINDOW};
        self.connected = false;
        self.now = self.now.plus_ms(2_000);
        let mut restored = self.db.clone();
        let all: Vec<(String, Value)> = self
            .db
            .table(charger_core::Table::Queue)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut summary = QueueSummary::default();
        for (k, v) in &all {
            summary.add(k, &v.to_string());
        }
        restored.tables.insert(
            charger_core::Table::Queue,
            all.into_iter().take(WINDOW).collect(),
        );
        restored.queue = Some(summary);
        self.core = Charger::new(self.settings.clone(), restored, self.now).expect("restart");
        self.drain();
    }

    /// Sends a CALL from the central system; returns the charger's answer frame.
    pub fn cs_call(&mut self, action: &str, payload: Value) -> Value {
        self.cs_msg += 1;
        let id = format!("cs-{}", self.cs_msg);
        self.input(Input::Frame(json!([2, id, action, payload]).to_string()));
        let answer = self.answers.get(&id).cloned().unwrap_or(Value::Null);
        if answer[0] == 3 {
            validate::response(action, &answer[2]);
            validate::dump(&format!("{action}Response"), &answer[2]);
        }
        answer
    }

    /// Sends a raw frame; returns the answer to message id `id`, if any.
    pub fn raw(&mut self, text: &str, id: &str) -> Option<Value> {
        self.input(Input::Frame(text.to_string()));
        self.answers.get(id).cloned()
    }

    fn drain(&mut self) {
        let mut inbound: VecDeque<String> = VecDeque::new();
        loop {
            while let Some(out) = self.core.poll_output() {
                match out {
                    Output::Persist(ops) => self.db.apply(&ops),
                    Output::Hardware(cmd) => self.hw.push(cmd),
                    Output::Reconnect => {}
                    Output::LoadQueue { from_key, limit } => {
                        let rows = self
                            .db
                            .table(charger_core::Table::Queue)
                            .filter(|(k, _)| **k >= from_key)
                            .take(limit)
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        self.core.handle_input(Input::QueueRows(rows), self.now);
                    }
                    Output::Local(reply) => self.local_replies.push(reply),
                    Output::Reboot { hard } => {
                        self.reboots.push(hard);
                        self.power_cycle_soft();
                    }
                    Output::Send(text) => {
                        let v: Value = serde_json::from_str(&text).expect("charger sends JSON");
                        validate::frame(&v);
                        self.sent.push(v.clone());
                        if !self.connected {
                            continue;
                        }
                        match v[0].as_u64() {
                            Some(2) => {
                                let action = v[2].as_str().unwrap().to_string();
                                self.csms.received.push(Received {
                                    action: action.clone(),
                                    payload: v[3].clone(),
                                    at_ms: self.now.mono_ms,
                                });
                                if let Some(answer) = self.answer(&action, &v[3]) {
                                    let id = v[1].as_str().unwrap();
                                    let frame = match answer {
                                        Ok(p) => json!([3, id, p]),
                                        Err(()) => json!([4, id, "InternalError", "scripted", {}]),
                                    };
                                    if self.csms.latency_ms > 0 {
                                        let due = self.now.mono_ms + 2 * self.csms.latency_ms;
                                        self.in_flight.push((due, frame.to_string()));
                                    } else {
                                        inbound.push_back(frame.to_string());
                                    }
                                }
                            }
                            _ => {
                                self.answers
                                    .insert(v[1].as_str().unwrap().to_string(), v.clone());
                            }
                        }
                    }
                }
            }
            match inbound.pop_front() {
                Some(f) => self.core.handle_input(Input::Frame(f), self.now),
                None => break,
            }
        }
    }

    /// A reboot asked by Reset: the shell rebuilds the core from the database and reconnects.
    fn power_cycle_soft(&mut self) {
        let was = self.connected;
        self.core = Charger::new(self.settings.clone(), self.db.clone(), self.now).expect("reboot");
        if was {
            self.core.handle_input(Input::Connected, self.now);
        }
    }

    fn answer(&mut self, action: &str, payload: &Value) -> Option<Result<Value, ()>> {
        if self.csms.silent {
            return None;
        }
        if let Some(n) = self.csms.call_errors.get_mut(action) {
            if *n > 0 {
                if *n != u32::MAX {
                    *n -= 1;
                }
                return Some(Err(()));
            }
        }
        let ahead_ms = self.csms.clock_ahead_ms + self.csms.latency_ms as i64;
        let now = self.csms.current_time.clone().unwrap_or_else(|| {
            (self.now.utc + chrono::Duration::milliseconds(ahead_ms))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        });
        let tag_info = |tags: &BTreeMap<String, Value>, p: &Value| {
            let tag = p["idTag"].as_str().unwrap_or_default().to_ascii_uppercase();
            tags.get(&tag).cloned().unwrap_or_else(|| info("Invalid"))
        };
        Some(Ok(match action {
            "BootNotification" => json!({
                "status": self.csms.boot_status,
                "currentTime": now,
                "interval": self.csms.boot_interval,
            }),
            "Heartbeat" => json!({ "currentTime": now }),
            "Authorize" => json!({ "idTagInfo": tag_info(&self.csms.tags, payload) }),
            "StartTransaction" => {
                let mut i = tag_info(&self.csms.tags, payload);
                if let Some(s) = self.csms.start_status {
                    i["status"] = json!(s);
                }
                self.csms.next_tx_id += 1;
                json!({ "idTagInfo": i, "transactionId": self.csms.next_tx_id })
            }
            "StopTransaction" => {
                if payload.get("idTag").is_some() {
                    json!({ "idTagInfo": tag_info(&self.csms.tags, payload) })
                } else {
                    json!({})
                }
            }
            _ => json!({}),
        }))
    }

    // ----- observations -----

    pub fn received(&self, action: &str) -> Vec<&Received> {
        self.csms
            .received
            .iter()
            .filter(|r| r.action == action)
            .collect()
    }

    pub fn count(&self, action: &str) -> usize {
        self.received(action).len()
    }

    pub fn last(&self, action: &str) -> Option<Value> {
        self.received(action).last().map(|r| r.payload.clone())
    }

    /// Transaction messages received, in order: (action, payload).
    pub fn tx_messages(&self) -> Vec<(String, Value)> {
        self.csms
            .received
            .iter()
            .filter(|r| {
                matches!(r.action.as_str(), "StartTransaction" | "StopTransaction")
                    || (r.action == "MeterValues" && r.payload.get("transactionId").is_some())
            })
            .map(|r| (r.action.clone(), r.payload.clone()))
            .collect()
    }

    pub fn statuses(&self, connector: u64) -> Vec<String> {
        self.received("StatusNotification")
            .iter()
            .filter(|r| r.payload["connectorId"] == connector)
            .map(|r| r.payload["status"].as_str().unwrap().to_string())
            .collect()
    }

    /// The transactionId the scripted central system gave last.
    pub fn last_tx_id(&self) -> i64 {
        i64::from(self.csms.next_tx_id)
    }

    pub fn contactor(&self) -> bool {
        self.core.status().contactor_closed
    }

    pub fn know(&mut self, tag: &str, info: Value) {
        self.csms.tags.insert(tag.to_ascii_uppercase(), info);
    }

    /// Plug in, present, charge for `secs` at 16 A, present again, unplug.
    pub fn charge_session(&mut self, tag: &str, secs: u64) {
        self.pilot(PilotState::B);
        self.card(tag);
        self.pilot(PilotState::C);
        self.load(16.0);
        self.advance(secs * 1000);
        self.card(tag);
        self.pilot(PilotState::A);
        self.advance(200);
    }
}

/// Parses an RFC 3339 timestamp.
pub fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().expect("timestamp string"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}
