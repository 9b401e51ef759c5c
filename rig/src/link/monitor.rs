//! `rig monitor`: print every frame on the link, decoded, like `candump` with the DBC applied.

use chargerig_link::{CanFrame, Frame, LinkError, LinkSpec};
use std::time::{Duration, Instant, SystemTime};

/// One frame as a human reads it: `BOARD_STATUS pilot=C pwm=266‰ contactor=closed ...`.
pub fn describe(raw: &CanFrame) -> String {
    match Frame::decode(raw) {
        Err(e) => format!("{raw}  ?? {e}"),
        Ok(f) => {
            let detail = match f {
                Frame::Pilot(p) => format!("pilot={p}"),
                Frame::Card(Some(uid)) => format!("card={uid}"),
                Frame::Card(None) => "card=removed".into(),
                Frame::Load { deci_amps } => format!("load={:.1}A", f64::from(deci_amps) / 10.0),
                Frame::Button => "pressed".into(),
                Frame::StatusRequest => String::new(),
                Frame::Status(s) => format!(
                    "pilot={} pwm={}permille contactor={} locked={} online={} tx={} fault={} connector={} seq={} queue={}",
                    s.pilot,
                    s.pwm_duty_permille,
                    if s.contactor_closed { "closed" } else { "open" },
                    s.cable_locked,
                    s.online,
                    s.transaction_active,
                    s.fault,
                    s.connector_status,
                    s.sequence,
                    s.queue_len
                ),
                Frame::Meter {
                    energy_wh,
                    deci_amps,
                } => format!("energy={energy_wh}Wh current={:.1}A", f64::from(deci_amps) / 10.0),
                Frame::Event(e) => format!(
                    "t={}ms kind={} arg={} seq={}",
                    e.board_ms, e.kind, e.arg, e.sequence
                ),
                Frame::Identity {
                    major,
                    minor,
                    patch,
                    boot_count,
                } => format!("firmware={major}.{minor}.{patch} boot={boot_count}"),
            };
            format!("{raw:<24} {:<15} {detail}", f.name())
        }
    }
}

/// Prints frames for `duration` (or until the process is interrupted). The board is asked
/// for a status first so there is something to see at once. `out` returns false to stop (a
/// closed pipe). Returns the number of frames.
pub fn monitor(
    spec: &LinkSpec,
    duration: Option<Duration>,
    status_only_changes: bool,
    mut out: impl FnMut(&str) -> bool,
) -> Result<u64, LinkError> {
    let mut link = chargerig_link::open(spec)?;
    link.send(&Frame::StatusRequest.encode())?;
    let start = Instant::now();
    let mut n = 0u64;
    let mut last_status: Option<chargerig_link::BoardStatus> = None;
    loop {
        let wait = match duration {
            Some(d) => match d.checked_sub(start.elapsed()) {
                Some(left) if !left.is_zero() => left.min(Duration::from_millis(200)),
                _ => return Ok(n),
            },
            None => Duration::from_millis(200),
        };
        if let Some(raw) = link.recv(wait)? {
            if status_only_changes {
                if let Ok(Frame::Status(mut s)) = Frame::decode(&raw) {
                    s.sequence = 0; // a repeat differs only in its sequence
                    if last_status == Some(s) {
                        continue;
                    }
                    last_status = Some(s);
                }
                if let Ok(Frame::Meter { .. }) = Frame::decode(&raw) {
                    continue;
                }
            }
            n += 1;
            let at = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            if !out(&format!(
                "({}.{:06}) {}",
                at.as_secs(),
                at.subsec_micros(),
                describe(&raw)
            )) {
                return Ok(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chargerig_link::PilotState;

    #[test]
    fn describes_frames_and_garbage() {
        let s = describe(&Frame::Pilot(PilotState::C).encode());
        assert!(
            s.starts_with("100#02") && s.contains("RIG_PILOT") && s.ends_with("pilot=C"),
            "{s}"
        );
        let s = describe(&CanFrame::new(0x7AB, &[1]).unwrap());
        assert!(s.contains("unknown CAN id 0x7AB"), "{s}");
    }
}
