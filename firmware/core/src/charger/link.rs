//! The CALL pipeline: the WebSocket link, registration (BootNotification), the one CALL in
//! flight and the requests waiting for their turn. OCPP-J allows one CALL at a time, so
//! everything we send queues here (transaction messages wait in the [`super::outbox`]).

use std::collections::VecDeque;

use serde_json::Value;

use super::session::AuthPurpose;
use crate::queue::TxAction;

/// Registration state after BootNotification (§4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Registration {
    /// No answer yet in this power cycle.
    Unknown,
    Pending,
    Accepted,
    Rejected,
}

/// What an outstanding or waiting CALL is, so its answer can be routed.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum CallKind {
    Boot,
    Heartbeat,
    Status {
        connector: u32,
    },
    Authorize {
        tag: String,
        purpose: AuthPurpose,
    },
    /// A transaction message at queue sequence `seq`.
    Tx {
        seq: u64,
        action: TxAction,
    },
    /// A triggered MeterValues (not part of the transaction queue).
    TriggeredMeter,
}

impl CallKind {
    /// The OCPP action of this CALL: derived from what it is, never written separately.
    pub fn action(&self) -> &'static str {
        match self {
            CallKind::Boot => "BootNotification",
            CallKind::Heartbeat => "Heartbeat",
            CallKind::Status { .. } => "StatusNotification",
            CallKind::Authorize { .. } => "Authorize",
            CallKind::Tx { action, .. } => action.as_str(),
            CallKind::TriggeredMeter => "MeterValues",
        }
    }
}

/// A non-transactional request waiting for its turn.
#[derive(Clone, Debug)]
pub(super) struct WaitingCall {
    pub payload: Value,
    pub kind: CallKind,
    /// Asked for by TriggerMessage: may be sent while registration is Pending.
    pub triggered: bool,
}

/// The one CALL in flight (OCPP-J allows one at a time).
#[derive(Clone, Debug)]
pub(super) struct Outstanding {
    pub id: String,
    pub kind: CallKind,
    pub deadline_ms: u64,
    /// When it went out: the answer's round trip bounds how far its currentTime can be trusted.
    pub sent_ms: u64,
}

/// The link to the central system and the CALLs on it.
#[derive(Debug)]
pub(super) struct Link {
    /// WebSocket up (after the handshake).
    pub connected: bool,
    pub registration: Registration,
    /// When to send the next BootNotification (`None`: not due).
    pub boot_at_ms: Option<u64>,
    /// BootNotifications in a row that got no usable answer (the retry backs off).
    pub boot_failures: u32,
    pub outstanding: Option<Outstanding>,
    pub waiting: VecDeque<WaitingCall>,
    /// When the last CALL went out: the heartbeat counts from there.
    pub last_sent_ms: u64,
    /// Power cycles, persisted: message ids are `<boots>-<n>`, unique across reboots.
    pub boots: u64,
    msg_counter: u64,
}

impl Link {
    pub fn new(boots: u64, now_ms: u64) -> Link {
        Link {
            connected: false,
            registration: Registration::Unknown,
            boot_at_ms: Some(now_ms),
            boot_failures: 0,
            outstanding: None,
            waiting: VecDeque::new(),
            last_sent_ms: now_ms,
            boots,
            msg_counter: 0,
        }
    }

    /// WebSocket up and BootNotification accepted: requests may flow.
    pub fn online(&self) -> bool {
        self.connected && self.registration == Registration::Accepted
    }

    /// Online with no CALL in flight: the next one may go out now.
    pub fn idle_online(&self) -> bool {
        self.online() && self.outstanding.is_none()
    }

    /// Rejected registration lasts until the boot interval passes.
    pub fn rejected(&self) -> bool {
        self.registration == Registration::Rejected
    }

    pub fn next_message_id(&mut self) -> String {
        self.msg_counter += 1;
        format!("{}-{}", self.boots, self.msg_counter)
    }

    /// Takes the outstanding CALL if `id` answers it.
    pub fn take_outstanding(&mut self, id: &str) -> Option<Outstanding> {
        if self.outstanding.as_ref().is_some_and(|o| o.id == id) {
            self.outstanding.take()
        } else {
            None
        }
    }

    /// The soonest of: the CALL in flight times out, a BootNotification is due (connected,
    /// nothing in flight), a Heartbeat is due (`heartbeat_ms` after the last CALL; 0 = none).
    pub fn timeout(&self, heartbeat_ms: u64) -> Option<u64> {
        let call = self.outstanding.as_ref().map(|o| o.deadline_ms);
        let boot = self
            .boot_at_ms
            .filter(|_| self.connected && self.outstanding.is_none());
        let heartbeat =
            (self.idle_online() && heartbeat_ms > 0).then(|| self.last_sent_ms + heartbeat_ms);
        [call, boot, heartbeat].into_iter().flatten().min()
    }
}
