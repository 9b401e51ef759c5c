//! The shell's storage health. A stuck disk must never stop de-energizing (the shell keeps the
//! hardware path apart from storage); here it only keeps new sessions out and pauses energy for a
//! running one, because neither its start nor its meter readings could be made durable.

use super::Charger;

impl Charger {
    /// `Input::StorageStalled` (`true`) / `Input::StorageOk` (`false`).
    pub(super) fn on_storage(&mut self, stalled: bool) {
        if self.storage_stalled == stalled {
            return;
        }
        self.storage_stalled = stalled;
        if stalled {
            tracing::warn!(
                transaction = self.session.tx.is_some(),
                "storage stalled: no new transaction, energy paused"
            );
        } else {
            tracing::info!("storage committing again: transactions allowed");
        }
        self.update_hardware();
    }
}
