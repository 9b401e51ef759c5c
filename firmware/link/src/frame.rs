//! Typed frames of the board link and their CAN encoding.

use crate::signals::{self as sig, MessageDef};
use crate::{BoardEvent, BoardStatus, CanFrame, CardUid, ConnectorStatus, EventKind, PilotState};

/// Every frame the rig and the board exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// rig→board: control-pilot state the EV emulator presents.
    Pilot(PilotState),
    /// rig→board: card presented (`Some`) or removed (`None`).
    Card(Option<CardUid>),
    /// rig→board: EV load current, 0.1 A units.
    Load { deci_amps: u16 },
    /// rig→board: stop button pressed.
    Button,
    /// rig→board: ask for STATUS, METER and IDENTITY now.
    StatusRequest,
    /// board→rig.
    Status(BoardStatus),
    /// board→rig: energy register and measured current.
    Meter { energy_wh: u32, deci_amps: u16 },
    /// board→rig.
    Event(BoardEvent),
    /// board→rig: firmware version and boot count.
    Identity {
        major: u8,
        minor: u8,
        patch: u8,
        boot_count: u32,
    },
}

/// Why a CAN frame is not a valid frame of our set. The variants are distinct so a link can
/// count each kind of garbage separately.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown CAN id 0x{0:03X}")]
    UnknownId(u16),
    #[error("{name} (0x{id:03X}) must carry {expected} bytes, got {got}")]
    BadLength {
        id: u16,
        name: &'static str,
        expected: u8,
        got: u8,
    },
    #[error("{name} (0x{id:03X}): {field} = {value} is not a valid value")]
    BadValue {
        id: u16,
        name: &'static str,
        field: &'static str,
        value: u64,
    },
}

fn def(id: u16) -> &'static MessageDef {
    sig::message(id).expect("every id used by the codec is in the signal table")
}

impl Frame {
    /// The CAN id this frame travels under.
    pub fn id(&self) -> u16 {
        match self {
            Frame::Pilot(_) => sig::ID_RIG_PILOT,
            Frame::Card(_) => sig::ID_RIG_CARD,
            Frame::Load { .. } => sig::ID_RIG_LOAD,
            Frame::Button => sig::ID_RIG_BUTTON,
            Frame::StatusRequest => sig::ID_RIG_STATUS_REQ,
            Frame::Status(_) => sig::ID_BOARD_STATUS,
            Frame::Meter { .. } => sig::ID_BOARD_METER,
            Frame::Event(_) => sig::ID_BOARD_EVENT,
            Frame::Identity { .. } => sig::ID_BOARD_IDENTITY,
        }
    }

    /// The message name from the frame set (`RIG_PILOT`, `BOARD_STATUS`...).
    pub fn name(&self) -> &'static str {
        def(self.id()).name
    }

    pub fn encode(&self) -> CanFrame {
        let id = self.id();
        let mut d = [0u8; 8];
        match self {
            Frame::Pilot(p) => sig::PILOT_STATE.put(&mut d, p.to_wire().into()),
            Frame::Card(None) => {}
            Frame::Card(Some(uid)) => {
                sig::CARD_UID_LENGTH.put(&mut d, uid.len() as u64);
                for (s, b) in sig::CARD_UID_BYTES.iter().zip(uid.as_bytes()) {
                    s.put(&mut d, (*b).into());
                }
            }
            Frame::Load { deci_amps } => sig::LOAD_CURRENT.put(&mut d, (*deci_amps).into()),
            Frame::Button => sig::STOP_BUTTON.put(&mut d, 1),
            Frame::StatusRequest => {}
            Frame::Status(s) => {
                sig::STATUS_PILOT.put(&mut d, s.pilot.to_wire().into());
                sig::STATUS_PWM_DUTY.put(&mut d, s.pwm_duty_permille.into());
                for (f, on) in sig::STATUS_FLAGS.iter().zip(s.flags()) {
                    f.put(&mut d, on.into());
                }
                sig::STATUS_CONNECTOR.put(&mut d, s.connector_status.to_wire().into());
                sig::STATUS_SEQUENCE.put(&mut d, s.sequence.into());
                sig::STATUS_QUEUE_LEN.put(&mut d, s.queue_len.into());
            }
            Frame::Meter {
                energy_wh,
                deci_amps,
            } => {
                sig::METER_ENERGY.put(&mut d, (*energy_wh).into());
                sig::METER_CURRENT.put(&mut d, (*deci_amps).into());
            }
            Frame::Event(e) => {
                sig::EVENT_TIME.put(&mut d, e.board_ms.into());
                sig::EVENT_KIND.put(&mut d, e.kind.to_wire().into());
                sig::EVENT_ARG.put(&mut d, e.arg.into());
                sig::EVENT_SEQUENCE.put(&mut d, e.sequence.into());
            }
            Frame::Identity {
                major,
                minor,
                patch,
                boot_count,
            } => {
                sig::IDENTITY_MAJOR.put(&mut d, (*major).into());
                sig::IDENTITY_MINOR.put(&mut d, (*minor).into());
                sig::IDENTITY_PATCH.put(&mut d, (*patch).into());
                sig::IDENTITY_BOOT_COUNT.put(&mut d, (*boot_count).into());
            }
        }
        CanFrame {
            id,
            data: d,
            len: def(id).dlc,
        }
    }

    /// Decodes a CAN frame. Unknown ids, wrong lengths and out-of-range enum values are
    /// distinct errors; nothing is guessed.
    pub fn decode(f: &CanFrame) -> Result<Frame, DecodeError> {
        let m = sig::message(f.id).ok_or(DecodeError::UnknownId(f.id))?;
        if f.len != m.dlc {
            return Err(DecodeError::BadLength {
                id: m.id,
                name: m.name,
                expected: m.dlc,
                got: f.len,
            });
        }
        // Bytes past len are ignored even if a careless producer left them non-zero.
        let mut d = [0u8; 8];
        d[..usize::from(m.dlc)].copy_from_slice(&f.data[..usize::from(m.dlc)]);
        let bad = |s: &sig::SignalDef, value: u64| DecodeError::BadValue {
            id: m.id,
            name: m.name,
            field: s.name,
            value,
        };
        let pilot = |s: &sig::SignalDef| {
            let v = s.get(&d);
            PilotState::from_wire(v as u8).ok_or_else(|| bad(s, v))
        };
        Ok(match m.id {
            sig::ID_RIG_PILOT => Frame::Pilot(pilot(&sig::PILOT_STATE)?),
            sig::ID_RIG_CARD => {
                let n = sig::CARD_UID_LENGTH.get(&d);
                match n {
                    0 => Frame::Card(None),
                    4 | 7 => {
                        let bytes: Vec<u8> = sig::CARD_UID_BYTES[..n as usize]
                            .iter()
                            .map(|s| s.get(&d) as u8)
                            .collect();
                        Frame::Card(Some(
                            CardUid::new(&bytes).map_err(|_| bad(&sig::CARD_UID_LENGTH, n))?,
                        ))
                    }
                    _ => return Err(bad(&sig::CARD_UID_LENGTH, n)),
                }
            }
            sig::ID_RIG_LOAD => Frame::Load {
                deci_amps: sig::LOAD_CURRENT.get(&d) as u16,
            },
            sig::ID_RIG_BUTTON => match sig::STOP_BUTTON.get(&d) {
                1 => Frame::Button,
                v => return Err(bad(&sig::STOP_BUTTON, v)),
            },
            sig::ID_RIG_STATUS_REQ => Frame::StatusRequest,
            sig::ID_BOARD_STATUS => {
                let flag = |i: usize| sig::STATUS_FLAGS[i].get(&d) == 1;
                let c = sig::STATUS_CONNECTOR.get(&d);
                Frame::Status(BoardStatus {
                    pilot: pilot(&sig::STATUS_PILOT)?,
                    pwm_duty_permille: sig::STATUS_PWM_DUTY.get(&d) as u16,
                    contactor_closed: flag(0),
                    cable_locked: flag(1),
                    online: flag(2),
                    transaction_active: flag(3),
                    fault: flag(4),
                    connector_status: ConnectorStatus::from_wire(c as u8)
                        .ok_or_else(|| bad(&sig::STATUS_CONNECTOR, c))?,
                    sequence: sig::STATUS_SEQUENCE.get(&d) as u8,
                    queue_len: sig::STATUS_QUEUE_LEN.get(&d) as u16,
                })
            }
            sig::ID_BOARD_METER => Frame::Meter {
                energy_wh: sig::METER_ENERGY.get(&d) as u32,
                deci_amps: sig::METER_CURRENT.get(&d) as u16,
            },
            sig::ID_BOARD_EVENT => {
                let k = sig::EVENT_KIND.get(&d);
                Frame::Event(BoardEvent {
                    board_ms: sig::EVENT_TIME.get(&d) as u32,
                    kind: EventKind::from_wire(k as u8).ok_or_else(|| bad(&sig::EVENT_KIND, k))?,
                    arg: sig::EVENT_ARG.get(&d) as u16,
                    sequence: sig::EVENT_SEQUENCE.get(&d) as u8,
                })
            }
            sig::ID_BOARD_IDENTITY => Frame::Identity {
                major: sig::IDENTITY_MAJOR.get(&d) as u8,
                minor: sig::IDENTITY_MINOR.get(&d) as u8,
                patch: sig::IDENTITY_PATCH.get(&d) as u8,
                boot_count: sig::IDENTITY_BOOT_COUNT.get(&d) as u32,
            },
            other => return Err(DecodeError::UnknownId(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Frame> {
        let mut v: Vec<Frame> = PilotState::ALL.into_iter().map(Frame::Pilot).collect();
        v.extend([
            Frame::Card(None),
            Frame::Card(Some("04A1B2C3".parse().unwrap())),
            Frame::Card(Some("04A1B2C3D4E5F6".parse().unwrap())),
            Frame::Load { deci_amps: 160 },
            Frame::Load {
                deci_amps: u16::MAX,
            },
            Frame::Button,
            Frame::StatusRequest,
            Frame::Meter {
                energy_wh: 0xDEAD_BEEF,
                deci_amps: 321,
            },
            Frame::Identity {
                major: 1,
                minor: 2,
                patch: 3,
                boot_count: 70000,
            },
        ]);
        for c in ConnectorStatus::ALL {
            v.push(Frame::Status(BoardStatus {
                pilot: PilotState::C,
                pwm_duty_permille: 266,
                contactor_closed: true,
                cable_locked: false,
                online: true,
                transaction_active: false,
                fault: true,
                connector_status: c,
                sequence: 255,
                queue_len: 65535,
            }));
        }
        for k in EventKind::ALL {
            v.push(Frame::Event(BoardEvent {
                board_ms: 4_000_000_000,
                kind: k,
                arg: 7,
                sequence: 9,
            }));
        }
        v
    }

    #[test]
    fn every_frame_round_trips() {
        for f in samples() {
            let can = f.encode();
            assert_eq!(Frame::decode(&can), Ok(f), "{can}");
        }
    }

    #[test]
    fn layouts_match_the_architecture_table() {
        assert_eq!(Frame::Pilot(PilotState::C).encode().to_string(), "100#02");
        assert_eq!(
            Frame::Load { deci_amps: 160 }.encode().to_string(),
            "102#A000"
        );
        assert_eq!(Frame::StatusRequest.encode().to_string(), "104#");
        assert_eq!(
            Frame::Card(Some("04A1B2C3".parse().unwrap()))
                .encode()
                .to_string(),
            "101#0404A1B2C3000000"
        );
        let s = BoardStatus {
            pilot: PilotState::C,
            pwm_duty_permille: 266,
            contactor_closed: true,
            cable_locked: true,
            online: true,
            transaction_active: true,
            fault: false,
            connector_status: ConnectorStatus::Charging,
            sequence: 5,
            queue_len: 258,
        };
        assert_eq!(
            Frame::Status(s).encode().to_string(),
            "200#020A010F02050201"
        );
        assert_eq!(
            Frame::Meter {
                energy_wh: 1234,
                deci_amps: 160
            }
            .encode()
            .to_string(),
            "201#D2040000A000"
        );
    }

    #[test]
    fn distinct_errors_for_distinct_garbage() {
        let f = CanFrame::new(0x7AB, &[1]).unwrap();
        assert_eq!(Frame::decode(&f), Err(DecodeError::UnknownId(0x7AB)));
        let f = CanFrame::new(0x100, &[1, 2]).unwrap();
        assert!(matches!(
            Frame::decode(&f),
            Err(DecodeError::BadLength {
                expected: 1,
                got: 2,
                ..
            })
        ));
        let f = CanFrame::new(0x100, &[6]).unwrap();
        assert!(matches!(
            Frame::decode(&f),
            Err(DecodeError::BadValue {
                field: "PilotState",
                value: 6,
                ..
            })
        ));
        let f = CanFrame::new(0x101, &[5, 1, 2, 3, 4, 5, 0, 0]).unwrap();
        assert!(matches!(
            Frame::decode(&f),
            Err(DecodeError::BadValue {
                field: "UidLength",
                ..
            })
        ));
        let f = CanFrame::new(0x200, &[0, 0, 0, 0, 9, 0, 0, 0]).unwrap();
        assert!(matches!(
            Frame::decode(&f),
            Err(DecodeError::BadValue {
                field: "ConnectorStatus",
                value: 9,
                ..
            })
        ));
        let f = CanFrame::new(0x202, &[0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert!(matches!(
            Frame::decode(&f),
            Err(DecodeError::BadValue {
                field: "EventKind",
                value: 0,
                ..
            })
        ));
        let f = CanFrame::new(0x103, &[0]).unwrap();
        assert!(matches!(
            Frame::decode(&f),
            Err(DecodeError::BadValue {
                field: "StopButton",
                ..
            })
        ));
    }
}
