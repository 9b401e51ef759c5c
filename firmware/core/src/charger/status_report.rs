//! StatusNotification bookkeeping: the connector status as it changes, and what was reported.

use chrono::{DateTime, Utc};

use crate::status::ConnectorStatus;

/// What the central system was told, and since when the current connector-1 status holds
/// (a change is reported once it held for MinimumStatusDuration).
#[derive(Debug)]
pub(super) struct StatusReports {
    /// Status last reported per connector (0 and 1); `None` = must report.
    pub reported: [Option<ConnectorStatus>; 2],
    /// Current connector-1 status.
    pub current: ConnectorStatus,
    /// Since when it holds: mono ms for the timer, UTC for the report's timestamp.
    pub since_ms: u64,
    pub since: DateTime<Utc>,
}

impl StatusReports {
    pub fn new(current: ConnectorStatus, since_ms: u64, since: DateTime<Utc>) -> StatusReports {
        StatusReports {
            reported: [None, None],
            current,
            since_ms,
            since,
        }
    }

    /// When the unreported current status becomes reportable (`stable_ms` =
    /// MinimumStatusDuration); `None` offline or when it is reported.
    pub fn timeout(&self, online: bool, stable_ms: u64) -> Option<u64> {
        (online && self.reported[1] != Some(self.current)).then(|| self.since_ms + stable_ms)
    }
}
