use charger_core::{BoardInput, Input, PilotState};
use serde_json::json;

use crate::harness::{info, Sim};

/// A small deterministic pseudo-random generator (no dependency needed for a fixed sequence).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Thousands of mixed inputs: the core never panics, never asks to be woken in the past, and
/// every frame it sends passes the OCPP 1.6 checks of the harness.
#[test]
fn random_input_sequences_keep_the_core_consistent() {
    for seed in 1..=20u64 {
        let mut rng = Lcg(seed);
        let mut sim = Sim::new(&[
            ("AllowOfflineTxForUnknownId", "true"),
            ("MeterValueSampleInterval", "7"),
            ("MessageTimeout", "3"),
            ("TransactionMessageRetryInterval", "1"),
        ]);
        sim.know("01020304", info("Accepted"));
        sim.know("0A0B0C0D", info("Blocked"));
        for _ in 0..1_500 {
            match rng.next(16) {
                0 => sim.pilot(PilotState::from_code(rng.next(6) as u8).unwrap()),
                1 => sim.card(["01020304", "0A0B0C0D", "DEADBEEF"][rng.next(3) as usize]),
                2 => sim.load(rng.next(40) as f32),
                3 => sim.input(Input::Board(BoardInput::StopButton)),
                4 => {
                    if sim.connected {
                        sim.disconnect()
                    } else {
                        sim.connect()
                    }
                }
                5 => sim.csms.silent = !sim.csms.silent,
                6 => {
                    sim.cs_call(
                        "TriggerMessage",
                        json!({"requestedMessage": "StatusNotification"}),
                    );
                }
                7 => {
                    sim.cs_call(
                        "RemoteStopTransaction",
                        json!({"transactionId": sim.last_tx_id()}),
                    );
                }
                8 => {
                    sim.cs_call("RemoteStartTransaction", json!({"idTag": "01020304"}));
                }
                9 => {
                    let s = ["Accepted", "Invalid", "ConcurrentTx"][rng.next(3) as usize];
                    sim.csms.start_status = Some(s);
                }
                10 => {
                    sim.csms
                        .call_errors
                        .insert("StartTransaction".into(), rng.next(3) as u32);
                }
                11 => {
                    if rng.next(20) == 0 {
                        sim.power_cycle();
                    }
                }
                12 => {
                    sim.raw("[2,\"x\",\"SendLocalList\",{\"listVersion\":5,\"updateType\":\"Differential\",\"localAuthorizationList\":[{\"idTag\":\"0A0B0C0D\",\"idTagInfo\":{\"status\":\"Accepted\"}}]}]", "x");
                }
                _ => sim.advance(rng.next(5_000)),
            }
            if let Some(t) = sim.core.poll_timeout() {
                assert!(
                    t >= sim.now.mono_ms,
                    "seed {seed}: deadline {t} in the past at {}",
                    sim.now.mono_ms
                );
            }
            let st = sim.core.status();
            assert!(
                !st.contactor_closed || st.tx_active,
                "seed {seed}: contactor closed without a transaction"
            );
            assert!(
                !st.contactor_closed || st.pilot.wants_energy(),
                "seed {seed}: contactor closed outside C/D"
            );
        }
        // Whatever happened, once the link is healthy everything queued gets delivered.
        sim.csms.silent = false;
        sim.csms.call_errors.clear();
        sim.csms.start_status = None;
        if !sim.connected {
            sim.connect();
        }
        sim.input(Input::Board(BoardInput::StopButton));
        sim.advance(120_000);
        assert_eq!(sim.core.status().queue_len, 0, "seed {seed}: queue drained");
    }
}

/// Issue 9.1: a BootNotification.conf or Heartbeat.conf with a currentTime at chrono's limits
/// (or before the build date, or decades ahead) is not adopted: nothing panics now, at the next
/// tick or at any later boot, and timestamps stay on the host clock.
#[test]
fn hostile_central_system_times_are_ignored_and_never_brick_the_charger() {
    for hostile in [
        "+262142-12-31T23:59:59.999",
        "-262143-01-01T00:00:00",
        "+262142-12-31T23:59:59.999Z",
        "1970-01-01T00:00:00Z",
        "2025-12-31T23:59:59Z",
        "2090-01-01T00:00:00Z",
    ] {
        let mut sim = Sim::new(&[("MeterValueSampleInterval", "1")]);
        sim.csms.current_time = Some(hostile.into());
        sim.connect();
        sim.advance(500);
        assert!(sim.core.status().online, "{hostile}");
        sim.cs_call("TriggerMessage", json!({"requestedMessage": "Heartbeat"}));
        sim.advance(2_000);
        assert_eq!(sim.count("Heartbeat"), 1, "{hostile}");
        sim.know("04A1B2C3", info("Accepted"));
        sim.pilot(PilotState::B);
        sim.card("04A1B2C3");
        sim.pilot(PilotState::C);
        sim.load(16.0);
        sim.advance(3_000);
        // A power cut and a boot against a sane central system.
        sim.power_cycle();
        sim.csms.current_time = None;
        sim.connect();
        sim.advance(2_000);
        for r in &sim.csms.received {
            for key in ["timestamp"] {
                if let Some(t) = r.payload.get(key) {
                    let skew = crate::harness::time(t) - sim.now.utc;
                    assert!(
                        skew.num_hours().abs() < 1,
                        "{hostile}: {} stamped {t}",
                        r.action
                    );
                }
            }
        }
        assert!(
            sim.count("StopTransaction") == 1,
            "{hostile}: PowerLoss stop delivered"
        );
    }
}

/// Issue 9.1: a stored clock offset that does not fit (written by an older firmware, or a
/// corrupt row) is discarded at boot instead of panicking in `Charger::new`.
#[test]
fn a_stored_clock_offset_that_does_not_fit_is_discarded_at_boot() {
    for bad in [i64::MAX, i64::MIN, 8_000_000_000_000_000, -60_000_000_000] {
        let mut sim = Sim::new(&[]);
        sim.db.apply(&[charger_core::StoreOp::Put {
            table: charger_core::Table::State,
            key: "clock_offset_ms".into(),
            value: json!(bad),
        }]);
        sim.power_cycle();
        sim.connect();
        sim.advance(500);
        let status = sim.last("StatusNotification").expect("status sent");
        let skew = crate::harness::time(&status["timestamp"]) - sim.now.utc;
        assert!(
            skew.num_seconds().abs() <= 2,
            "{bad}: {}",
            status["timestamp"]
        );
    }
}

/// A plausible central-system time is still adopted (the window does not get in the way).
#[test]
fn a_central_system_time_a_year_ahead_is_still_adopted() {
    let mut sim = Sim::new(&[]);
    sim.csms.clock_ahead_ms = 365 * 24 * 3_600_000;
    sim.connect();
    sim.advance(500);
    let status = sim.last("StatusNotification").unwrap();
    let skew = crate::harness::time(&status["timestamp"]) - sim.now.utc;
    assert!(
        (skew.num_seconds() - 365 * 24 * 3_600).abs() <= 2,
        "{}",
        status["timestamp"]
    );
}

/// Property (issue 9.1): whatever times the central system sends — currentTime in the boot and
/// heartbeat answers, expiryDate of the tags it accepts — across chrono's whole range, the core
/// never panics, keeps working across power cuts and stamps within a day of the host clock.
#[test]
fn random_central_system_times_never_panic() {
    let mut rng = Lcg(7);
    let range = 2 * 8_210_266_876_799u64; // seconds between chrono's min and max, roughly
    for _ in 0..40 {
        let mut pick = || {
            let secs = rng.next(range) as i64 - 8_210_266_876_799;
            chrono::DateTime::from_timestamp(secs, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let (boot, expiry) = (pick(), pick());
        let mut sim = Sim::new(&[]);
        sim.csms.current_time = Some(boot.clone());
        sim.know(
            "04A1B2C3",
            json!({"status": "Accepted", "expiryDate": expiry}),
        );
        sim.connect();
        sim.advance(500);
        sim.pilot(PilotState::B);
        sim.card("04A1B2C3");
        sim.advance(1_000);
        sim.cs_call("TriggerMessage", json!({"requestedMessage": "Heartbeat"}));
        sim.advance(1_000);
        sim.power_cycle();
        sim.csms.current_time = None;
        sim.connect();
        sim.pilot(PilotState::A);
        sim.pilot(PilotState::B);
        sim.card("04A1B2C3");
        sim.advance(2_000);
        for r in &sim.csms.received {
            if let Some(t) = r.payload.get("timestamp") {
                let skew = crate::harness::time(t) - sim.now.utc;
                assert!(skew.num_hours().abs() < 24, "{boot}: {} at {t}", r.action);
            }
        }
    }
}
