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
