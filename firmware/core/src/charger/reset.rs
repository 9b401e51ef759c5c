//! An accepted Reset: stop the transaction, deliver its StopTransaction, then reboot.

use rust_ocpp::v1_6::types::Reason;

use super::Charger;
use crate::io::Output;

/// An accepted Reset waiting to be carried out. Errata v4 3.36 (§5.14): the StopTransaction.req
/// of the ongoing transaction is sent before the reset; if its confirmation does not come, it
/// stays queued and the reset goes ahead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct PendingReset {
    pub hard: bool,
    /// Deliver the transaction queue up to and including this sequence (the reset's
    /// StopTransaction) before rebooting. `None`: nothing to deliver first.
    pub deliver_to: Option<u64>,
    /// A delivery attempt failed (CallError, timeout, retry wait): reboot, the rest stays queued.
    pub gave_up: bool,
    /// No new CALL starts after this (mono ms): a slow central system cannot hold the reset off.
    pub deadline_ms: u64,
}

impl PendingReset {
    /// Its one timer: the deadline after which it stops waiting for delivery.
    pub fn timeout(&self) -> u64 {
        self.deadline_ms
    }
}

impl Charger {
    /// Reset.req accepted: stop the transaction (reason SoftReset/HardReset) and send its
    /// StopTransaction.req before rebooting (errata v4 3.36, §5.14: "SHALL send a
    /// StopTransaction.req for any ongoing transaction before performing the reset"; without a
    /// confirmation it stays queued). The queue is delivered in order, so what precedes the stop
    /// goes first. A CALL in flight is always settled first, so an answer on its way (a
    /// StartTransaction.conf carrying the transactionId) is not lost and nothing is sent twice.
    /// Hard resets do the same: §5.14 does not require it for them, but nothing forbids it and
    /// the central system learns the stop sooner.
    pub(super) fn reset(&mut self, hard: bool) {
        tracing::warn!(hard, "reset requested");
        if let Some(r) = self.reset_pending.as_mut() {
            // A second Reset while the first is being carried out: same reset, hard wins.
            r.hard |= hard;
            return;
        }
        let had_tx = self.session.tx.is_some();
        self.stop_transaction(
            if hard {
                Reason::HardReset
            } else {
                Reason::SoftReset
            },
            None,
        );
        self.persist_meter();
        self.update_hardware();
        self.session.authorized = None;
        let deliver_to = if had_tx {
            self.outbox.queue.iter().last().map(|(seq, _)| seq)
        } else {
            None
        };
        // Every CALL is bounded by MessageTimeout; new ones start only within one
        // MessageTimeout of the reset, so it happens within two at the latest.
        self.reset_pending = Some(PendingReset {
            hard,
            deliver_to,
            gave_up: false,
            deadline_ms: self.now.mono_ms + self.message_timeout_ms(),
        });
        self.pump();
        self.reboot_if_settled();
    }

    /// Whether a pending Reset still has transaction messages to deliver before rebooting.
    pub(super) fn reset_delivering(&self) -> bool {
        let Some(r) = self.reset_pending else {
            return false;
        };
        let Some(last) = r.deliver_to else {
            return false;
        };
        !r.gave_up
            && self.link.online()
            && self.now.mono_ms < r.deadline_ms
            && self
                .outbox
                .queue
                .head()
                .is_some_and(|(seq, m)| seq <= last && m.not_before_ms <= self.now.mono_ms)
    }

    /// Emits the pending Reset's `Reboot` once the reset's StopTransaction is delivered (or could
    /// not be: failed attempt, link down, deadline) and no CALL is in flight (answered, timed
    /// out, or the link dropped). Only the transaction queue is served meanwhile.
    pub(super) fn reboot_if_settled(&mut self) {
        if let Some(r) = self.reset_pending {
            if self.link.outstanding.is_none() && !self.reset_delivering() {
                self.halted = true;
                self.emit(Output::Reboot { hard: r.hard });
            }
        }
    }
}
