//! The simulated board: what a real charger controller's I/O board would do, in software.
//!
//! It turns rig frames (the EV's pilot state, cards, load, button) into core inputs, carries out
//! the core's hardware commands (contactor, PWM, cable lock) and reports what the hardware does on
//! the board link: BOARD_STATUS + BOARD_METER on every change and every 100 ms, BOARD_EVENT with
//! the board's own millisecond clock, BOARD_IDENTITY at boot and on request. It owns no I/O: frames
//! leave through a channel to the pty port.

use charger_core::{BoardInput, BoardView, HardwareCmd, Input};
use chargerig_link::{BoardEvent, BoardStatus, ConnectorStatus, EventKind, Frame, PilotState};
use tokio::sync::mpsc;
use tracing::{debug, info};

/// Firmware version reported in BOARD_IDENTITY (the crate version).
pub fn firmware_version() -> (u8, u8, u8) {
    let mut parts = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(|p| p.parse::<u8>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// What the simulated EV does to the board: physics, so it survives a charger power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvSide {
    pub pilot: PilotState,
    pub load_deci_amps: u16,
}

impl Default for EvSide {
    fn default() -> Self {
        EvSide {
            pilot: PilotState::A,
            load_deci_amps: 0,
        }
    }
}

/// The simulated actuators, as the core last commanded them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Actuators {
    contactor: bool,
    pwm_permille: u16,
    locked: bool,
}

impl Actuators {
    /// Power-on state: contactor open, steady +12 V, lock released.
    const POWER_ON: Actuators = Actuators {
        contactor: false,
        pwm_permille: 1000,
        locked: false,
    };
}

/// What a rig frame means for the charger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromRig {
    /// Hand this to the core.
    Input(Input),
    /// The EV side changed: persist it (it survives a power cut), then hand `input` to the core.
    EvChanged { ev: EvSide, input: Input },
    /// Answered by the board itself (status request).
    Handled,
}

/// The board model. `publish` must be called after every batch of core outputs.
pub struct SimBoard {
    out: mpsc::UnboundedSender<Frame>,
    ev: EvSide,
    hw: Actuators,
    status_seq: u8,
    event_seq: u8,
    boot_count: u32,
    /// Last STATUS + METER sent, to send again only on change (or on the 100 ms beat).
    last: Option<(BoardStatus, u32, u16)>,
}

impl SimBoard {
    /// A board that just powered up with the EV side it had (`ev`) and its `boot_count`.
    pub fn new(out: mpsc::UnboundedSender<Frame>, ev: EvSide, boot_count: u32) -> SimBoard {
        SimBoard {
            out,
            ev,
            hw: Actuators::POWER_ON,
            status_seq: 0,
            event_seq: 0,
            boot_count,
            last: None,
        }
    }

    /// The EV side as the board measures it.
    pub fn ev(&self) -> EvSide {
        self.ev
    }

    /// Inputs that tell a freshly built core what the board measures right now.
    pub fn boot_inputs(&self) -> Vec<Input> {
        vec![
            Input::Board(BoardInput::Pilot(to_core_pilot(self.ev.pilot))),
            Input::Board(BoardInput::LoadDeciAmps(self.ev.load_deci_amps)),
        ]
    }

    /// (Re)boot: actuators to their power-on state, BOOT event and IDENTITY.
    pub fn boot(&mut self, board_ms: u64, boot_count: u32) {
        self.boot_count = boot_count;
        self.set_actuators(Actuators::POWER_ON, board_ms);
        self.event(board_ms, EventKind::Boot, 0);
        self.identity();
        self.last = None;
        info!(boot_count, "board booted");
    }

    /// Interprets one frame from the rig.
    pub fn on_frame(&mut self, frame: Frame, board_ms: u64, view: &BoardView) -> FromRig {
        match frame {
            Frame::Pilot(p) => {
                if p != self.ev.pilot {
                    self.event(board_ms, EventKind::PilotChange, u16::from(p.to_wire()));
                }
                self.ev.pilot = p;
                FromRig::EvChanged {
                    ev: self.ev,
                    input: Input::Board(BoardInput::Pilot(to_core_pilot(p))),
                }
            }
            Frame::Load { deci_amps } => {
                self.ev.load_deci_amps = deci_amps;
                FromRig::EvChanged {
                    ev: self.ev,
                    input: Input::Board(BoardInput::LoadDeciAmps(deci_amps)),
                }
            }
            Frame::Card(uid) => {
                if let Some(uid) = &uid {
                    self.event(board_ms, EventKind::CardRead, uid.len() as u16);
                }
                FromRig::Input(Input::Board(BoardInput::Card(
                    uid.map(|u| u.as_bytes().to_vec()),
                )))
            }
            Frame::Button => FromRig::Input(Input::Board(BoardInput::StopButton)),
            Frame::StatusRequest => {
                self.send_status(view);
                self.identity();
                FromRig::Handled
            }
            // The port filters board → rig frames out; nothing to do if one slips through.
            Frame::Status(_) | Frame::Meter { .. } | Frame::Event(_) | Frame::Identity { .. } => {
                FromRig::Handled
            }
        }
    }

    /// Carries out one hardware command, reporting what actually changed as events.
    pub fn apply(&mut self, cmd: HardwareCmd, board_ms: u64) {
        let mut hw = self.hw;
        match cmd {
            HardwareCmd::Contactor(closed) => hw.contactor = closed,
            HardwareCmd::Pwm(permille) => hw.pwm_permille = permille.min(1000),
            HardwareCmd::Lock(locked) => hw.locked = locked,
        }
        self.set_actuators(hw, board_ms);
    }

    fn set_actuators(&mut self, hw: Actuators, board_ms: u64) {
        let old = std::mem::replace(&mut self.hw, hw);
        if old.contactor != hw.contactor {
            let kind = if hw.contactor {
                EventKind::ContactorClosed
            } else {
                EventKind::ContactorOpened
            };
            self.event(board_ms, kind, 0);
        }
        if old.pwm_permille != hw.pwm_permille {
            self.event(board_ms, EventKind::PwmChanged, hw.pwm_permille);
        }
        if old.locked != hw.locked {
            let kind = if hw.locked {
                EventKind::LockEngaged
            } else {
                EventKind::LockReleased
            };
            self.event(board_ms, kind, 0);
        }
    }

    /// Sends STATUS + METER if anything changed since the last ones, or always when `beat`.
    pub fn publish(&mut self, view: &BoardView, beat: bool) {
        let (status, energy, current) = self.snapshot(view);
        let changed = match &self.last {
            None => true,
            Some((s, e, c)) => !same_status(s, &status) || *e != energy || *c != current,
        };
        if changed || beat {
            self.send_status(view);
        }
    }

    fn snapshot(&self, view: &BoardView) -> (BoardStatus, u32, u16) {
        let status = BoardStatus {
            pilot: self.ev.pilot,
            pwm_duty_permille: self.hw.pwm_permille,
            contactor_closed: self.hw.contactor,
            cable_locked: self.hw.locked,
            online: view.online,
            transaction_active: view.tx_active,
            fault: view.fault || matches!(self.ev.pilot, PilotState::E | PilotState::F),
            connector_status: to_link_connector(view.connector_status),
            sequence: self.status_seq,
            queue_len: view.queue_len.min(usize::from(u16::MAX)) as u16,
        };
        let energy = view.energy_wh.min(u64::from(u32::MAX)) as u32;
        (status, energy, view.current_deci_amps)
    }

    fn send_status(&mut self, view: &BoardView) {
        let (mut status, energy_wh, deci_amps) = self.snapshot(view);
        self.status_seq = self.status_seq.wrapping_add(1);
        status.sequence = self.status_seq;
        if self
            .last
            .as_ref()
            .is_none_or(|(s, ..)| !same_status(s, &status))
        {
            debug!(?status, energy_wh, "board status changed");
        }
        self.last = Some((status, energy_wh, deci_amps));
        let _ = self.out.send(Frame::Status(status));
        let _ = self.out.send(Frame::Meter {
            energy_wh,
            deci_amps,
        });
    }

    fn identity(&mut self) {
        let (major, minor, patch) = firmware_version();
        let _ = self.out.send(Frame::Identity {
            major,
            minor,
            patch,
            boot_count: self.boot_count,
        });
    }

    fn event(&mut self, board_ms: u64, kind: EventKind, arg: u16) {
        let event = BoardEvent {
            board_ms: board_ms as u32,
            kind,
            arg,
            sequence: self.event_seq,
        };
        self.event_seq = self.event_seq.wrapping_add(1);
        debug!(board_ms, kind = %kind, arg, "board event");
        let _ = self.out.send(Frame::Event(event));
    }
}

/// Equal ignoring the sequence counter.
fn same_status(a: &BoardStatus, b: &BoardStatus) -> bool {
    BoardStatus { sequence: 0, ..*a } == BoardStatus { sequence: 0, ..*b }
}

fn to_core_pilot(p: PilotState) -> charger_core::PilotState {
    charger_core::PilotState::from_code(p.to_wire()).unwrap_or(charger_core::PilotState::F)
}

fn to_link_connector(c: charger_core::ConnectorStatus) -> ConnectorStatus {
    ConnectorStatus::from_wire(c.code()).unwrap_or(ConnectorStatus::Faulted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> BoardView {
        BoardView {
            pilot: charger_core::PilotState::A,
            pwm_permille: 1000,
            contactor_closed: false,
            locked: false,
            online: true,
            tx_active: false,
            fault: false,
            connector_status: charger_core::ConnectorStatus::Available,
            queue_len: 3,
            energy_wh: 42,
            current_deci_amps: 0,
        }
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<Frame>) -> Vec<Frame> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    #[test]
    fn pilot_change_gives_an_event_with_the_board_clock_and_a_core_input() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut b = SimBoard::new(tx, EvSide::default(), 1);
        let r = b.on_frame(Frame::Pilot(PilotState::C), 1234, &view());
        assert_eq!(
            r,
            FromRig::EvChanged {
                ev: EvSide {
                    pilot: PilotState::C,
                    load_deci_amps: 0
                },
                input: Input::Board(BoardInput::Pilot(charger_core::PilotState::C)),
            }
        );
        let frames = drain(&mut rx);
        assert!(
            matches!(
                frames.as_slice(),
                [Frame::Event(BoardEvent {
                    board_ms: 1234,
                    kind: EventKind::PilotChange,
                    arg: 2,
                    ..
                })]
            ),
            "{frames:?}"
        );
        // The same state again is no change: no event.
        b.on_frame(Frame::Pilot(PilotState::C), 1300, &view());
        assert!(drain(&mut rx).is_empty());
    }

    #[test]
    fn hardware_commands_report_only_real_changes() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut b = SimBoard::new(tx, EvSide::default(), 1);
        b.apply(HardwareCmd::Contactor(true), 10);
        b.apply(HardwareCmd::Contactor(true), 11);
        b.apply(HardwareCmd::Pwm(266), 12);
        b.apply(HardwareCmd::Lock(true), 13);
        b.apply(HardwareCmd::Contactor(false), 14);
        let kinds: Vec<_> = drain(&mut rx)
            .into_iter()
            .map(|f| match f {
                Frame::Event(e) => (e.kind, e.board_ms, e.arg),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (EventKind::ContactorClosed, 10, 0),
                (EventKind::PwmChanged, 12, 266),
                (EventKind::LockEngaged, 13, 0),
                (EventKind::ContactorOpened, 14, 0),
            ]
        );
    }

    #[test]
    fn status_goes_out_on_change_or_beat_and_carries_the_hardware_state() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut b = SimBoard::new(tx, EvSide::default(), 1);
        b.publish(&view(), false);
        let first = drain(&mut rx);
        assert_eq!(first.len(), 2, "status + meter: {first:?}");
        b.publish(&view(), false);
        assert!(drain(&mut rx).is_empty(), "no change, no beat");
        b.apply(HardwareCmd::Pwm(266), 5);
        drain(&mut rx);
        b.publish(&view(), false);
        match drain(&mut rx).as_slice() {
            [Frame::Status(s), Frame::Meter { energy_wh: 42, .. }] => {
                assert_eq!(s.pwm_duty_permille, 266);
                assert_eq!(s.queue_len, 3);
                assert!(s.online);
                assert_eq!(s.sequence, 2);
            }
            other => panic!("{other:?}"),
        }
        b.publish(&view(), true);
        assert_eq!(drain(&mut rx).len(), 2, "the 100 ms beat always sends");
    }

    #[test]
    fn status_request_answers_status_meter_and_identity() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut b = SimBoard::new(tx, EvSide::default(), 7);
        assert_eq!(
            b.on_frame(Frame::StatusRequest, 0, &view()),
            FromRig::Handled
        );
        let frames = drain(&mut rx);
        assert!(
            matches!(
                frames.as_slice(),
                [
                    Frame::Status(_),
                    Frame::Meter { .. },
                    Frame::Identity { boot_count: 7, .. }
                ]
            ),
            "{frames:?}"
        );
    }
}
