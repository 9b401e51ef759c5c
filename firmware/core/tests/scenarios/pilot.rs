use charger_core::{HardwareCmd, PilotState};

use crate::harness::{info, Sim};

fn authorized_plugged(sim: &mut Sim) {
    sim.know("AABBCCDD", info("Accepted"));
    sim.pilot(PilotState::B);
    sim.card("AABBCCDD");
}

#[test]
fn pwm_is_steady_until_an_authorized_transaction_then_offers_16_amps_as_266_permille() {
    let mut sim = Sim::online(&[]);
    sim.pilot(PilotState::B);
    assert_eq!(sim.core.status().pwm_permille, 1000);
    sim.know("AABBCCDD", info("Accepted"));
    sim.card("AABBCCDD");
    assert_eq!(sim.core.status().pwm_permille, 266);
    assert!(!sim.contactor(), "EV in B does not get the contactor");
    assert_eq!(sim.core.status().connector_status.as_str(), "SuspendedEV");
}

#[test]
fn contactor_closes_only_in_c_with_an_authorized_transaction() {
    let mut sim = Sim::online(&[]);
    sim.pilot(PilotState::C);
    assert!(!sim.contactor());
    sim.know("AABBCCDD", info("Accepted"));
    sim.card("AABBCCDD");
    assert!(sim.contactor());
    assert_eq!(sim.core.status().connector_status.as_str(), "Charging");
}

#[test]
fn contactor_opens_in_the_same_call_when_the_ev_leaves_c() {
    let mut sim = Sim::online(&[]);
    authorized_plugged(&mut sim);
    sim.pilot(PilotState::C);
    assert!(sim.contactor());
    sim.hw.clear();
    sim.pilot(PilotState::B);
    assert_eq!(
        sim.hw.first(),
        Some(&HardwareCmd::Contactor(false)),
        "opening is the first action"
    );
    assert_eq!(sim.core.status().connector_status.as_str(), "SuspendedEV");
    assert!(
        sim.core.status().tx_active,
        "pausing does not stop the transaction"
    );
}

#[test]
fn pilot_fault_opens_the_contactor_turns_pwm_off_and_reports_faulted() {
    let mut sim = Sim::online(&[]);
    authorized_plugged(&mut sim);
    sim.pilot(PilotState::C);
    sim.pilot(PilotState::E);
    let st = sim.core.status();
    assert!(!st.contactor_closed);
    assert_eq!(st.pwm_permille, 0);
    assert!(st.fault);
    assert_eq!(st.connector_status.as_str(), "Faulted");
    sim.advance(200);
    let last = sim.last("StatusNotification").unwrap();
    assert_eq!(last["status"], "Faulted");
    assert_eq!(last["errorCode"], "EVCommunicationError");
}

#[test]
fn energy_integrates_the_ev_load_limited_to_the_offered_current() {
    let mut sim = Sim::online(&[]);
    authorized_plugged(&mut sim);
    sim.pilot(PilotState::C);
    sim.load(32.0); // more than the 16 A offered
    sim.advance(60_000);
    // 16 A × 230 V × 60 s = 61.33 Wh
    assert_eq!(sim.core.status().energy_wh, 61);
    assert_eq!(sim.core.status().current_deci_amps, 160);
    sim.pilot(PilotState::B);
    sim.advance(60_000);
    assert_eq!(
        sim.core.status().energy_wh,
        61,
        "no energy with the contactor open"
    );
    assert_eq!(sim.core.status().current_deci_amps, 0);
}

#[test]
fn cable_locks_during_the_transaction_and_unlocks_after() {
    let mut sim = Sim::online(&[]);
    authorized_plugged(&mut sim);
    assert!(sim.core.status().locked);
    sim.card("AABBCCDD");
    assert!(!sim.core.status().tx_active);
    assert!(!sim.core.status().locked);
    assert_eq!(sim.core.status().connector_status.as_str(), "Finishing");
    sim.pilot(PilotState::A);
    assert_eq!(sim.core.status().connector_status.as_str(), "Available");
}

#[test]
fn a_finishing_connector_takes_no_new_user_until_the_ev_is_unplugged() {
    let mut sim = Sim::online(&[]);
    authorized_plugged(&mut sim);
    sim.card("AABBCCDD");
    assert_eq!(sim.core.status().connector_status.as_str(), "Finishing");
    let auths = sim.count("Authorize");
    sim.card("AABBCCDD");
    assert!(!sim.core.status().tx_active);
    assert_eq!(sim.count("Authorize"), auths);
    sim.pilot(PilotState::A);
    sim.pilot(PilotState::B);
    sim.card("AABBCCDD");
    assert!(sim.core.status().tx_active);
}
