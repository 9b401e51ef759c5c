//! Transaction messages awaiting delivery (the persisted queue) and the central system's
//! transaction ids they are sent with.

use std::collections::BTreeMap;

use crate::queue::TxQueue;

/// The transaction queue and the id mapping it needs at send time.
#[derive(Debug)]
pub(super) struct Outbox {
    pub queue: TxQueue,
    /// Central-system transaction ids by our local id (-1: StartTransaction dropped); filled in
    /// at send time because the StartTransaction.conf may come late.
    pub tx_ids: BTreeMap<u64, i32>,
}

impl Outbox {
    /// The head of the queue may be sent at this time (now, if it is already due).
    pub fn timeout(&self, now_ms: u64) -> Option<u64> {
        self.queue.head().map(|(_, m)| m.not_before_ms.max(now_ms))
    }

    /// The head of the queue is due at `now_ms`.
    pub fn head_due(&self, now_ms: u64) -> bool {
        self.queue
            .head()
            .is_some_and(|(_, m)| m.not_before_ms <= now_ms)
    }
}
