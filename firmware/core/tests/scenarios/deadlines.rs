//! The core's deadlines (`Charger::poll_timeout`) as an event-driven shell uses them: it sleeps
//! until the next deadline and ticks only then. The other scenarios tick every 100 ms, which
//! would hide a wrong or missing deadline; here each timed behaviour must happen exactly at its
//! time with no other wake-up. Added for the cargo-mutants check (docs/mutation-check.md).

use charger_core::{Input, PilotState};

use crate::harness::{info, time, Sim};

const TAG: &str = "04A1B2C3";

/// Sleeps until `until_ms` (mono), waking only at the core's deadlines; returns the wake times.
fn sleep_until(sim: &mut Sim, until_ms: u64) -> Vec<u64> {
    let mut wakes = Vec::new();
    while let Some(t) = sim.core.poll_timeout() {
        assert!(
            t >= sim.now.mono_ms,
            "deadline {t} is in the past at {}",
            sim.now.mono_ms
        );
        if t > until_ms {
            break;
        }
        assert!(
            wakes.len() < 1_000,
            "the core keeps waking the shell: {wakes:?}"
        );
        sim.now = sim.now.plus_ms(t - sim.now.mono_ms);
        sim.input(Input::Tick);
        wakes.push(t);
    }
    if until_ms > sim.now.mono_ms {
        sim.now = sim.now.plus_ms(until_ms - sim.now.mono_ms);
    }
    wakes
}

#[test]
fn an_authorization_expires_exactly_at_connection_timeout() {
    let mut sim = Sim::online(&[("ConnectionTimeOut", "10")]);
    sim.know(TAG, info("Accepted"));
    sim.card(TAG);
    let granted = sim.now.mono_ms;
    assert_eq!(sim.core.poll_timeout(), Some(granted + 10_000));
    sleep_until(&mut sim, granted + 9_999);
    assert_eq!(sim.core.status().connector_status.as_str(), "Preparing");
    let wakes = sleep_until(&mut sim, granted + 10_000);
    assert_eq!(wakes, vec![granted + 10_000]);
    assert_eq!(sim.core.status().connector_status.as_str(), "Available");
}

#[test]
fn periodic_samples_go_out_at_the_sample_interval() {
    let mut sim = Sim::online(&[("MeterValueSampleInterval", "7")]);
    sim.know(TAG, info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card(TAG);
    sim.pilot(PilotState::C);
    sim.load(16.0);
    let start = sim.now.mono_ms;
    sleep_until(&mut sim, start + 21_000);
    let at: Vec<u64> = sim
        .received("MeterValues")
        .iter()
        .map(|r| r.at_ms)
        .collect();
    assert_eq!(at, vec![start + 7_000, start + 14_000, start + 21_000]);
}

#[test]
fn clock_aligned_samples_go_out_on_the_boundaries() {
    let mut sim = Sim::online(&[("ClockAlignedDataInterval", "60")]);
    // Arm the boundary (the first tick sets it), then sleep through two of them.
    sim.advance(100);
    let until = sim.now.mono_ms + 125_000;
    sleep_until(&mut sim, until);
    let times: Vec<String> = sim
        .received("MeterValues")
        .iter()
        .map(|r| time(&r.payload["meterValue"][0]["timestamp"]).to_rfc3339())
        .collect();
    assert_eq!(
        times,
        vec!["2026-11-23T12:01:00+00:00", "2026-11-23T12:02:00+00:00"]
    );
    // Each was sent when its boundary came, not at a later wake-up.
    let sent: Vec<String> = sim
        .received("MeterValues")
        .iter()
        .map(|r| {
            let utc = crate::harness::t0() + chrono::Duration::milliseconds(r.at_ms as i64 - 1_000);
            utc.to_rfc3339()
        })
        .collect();
    assert_eq!(sent, times);
}

#[test]
fn a_failed_transaction_message_is_retried_exactly_at_its_retry_time() {
    let mut sim = Sim::online(&[
        // 3 s: apart from the 5 s meter-persist deadline of a running transaction.
        ("TransactionMessageRetryInterval", "3"),
        ("TransactionMessageAttempts", "3"),
    ]);
    sim.csms.call_errors.insert("StartTransaction".into(), 1);
    sim.know(TAG, info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card(TAG);
    let first = sim.now.mono_ms;
    assert_eq!(sim.count("StartTransaction"), 1);
    sleep_until(&mut sim, first + 3_000);
    let at: Vec<u64> = sim
        .received("StartTransaction")
        .iter()
        .map(|r| r.at_ms)
        .collect();
    assert_eq!(at, vec![first, first + 3_000]);
    assert_eq!(sim.core.status().queue_len, 0, "delivered on the retry");
}
