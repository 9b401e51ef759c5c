//! Test helpers: the real `charger` binary through the rig's process handle, and the rig's
//! resources around it (board link client, test central system) where a test needs them.
#![allow(dead_code)]

pub mod board;
pub mod panel;
pub mod process;
pub mod queue;
pub mod stall;

use std::time::Duration;

use rig::csms::{Csms, Direction, History, Kind, Record};
use rig::link::{BoardClient, BoardClientOptions};

/// The rig's board link client on the simulated board's pty.
pub async fn board_client(pty: &std::path::Path) -> BoardClient {
    let spec = chargerig_link::LinkSpec::Slcan {
        device: pty.to_path_buf(),
        baud: chargerig_link::spec::DEFAULT_BAUD,
    };
    BoardClient::connect(spec, BoardClientOptions::default(), Duration::from_secs(15))
        .await
        .expect("board link up")
}

/// The rig's test central system on `addr` (`127.0.0.1:0` for any port).
pub async fn rig_csms(addr: &str) -> Csms {
    Csms::start(addr.parse().expect("socket address"))
        .await
        .expect("bind the test central system")
}

/// The charger's requests of `action`, in arrival order.
pub fn calls(csms: &Csms, action: &str) -> Vec<Record> {
    csms.with_history(|h| calls_in(h, action))
}

pub fn calls_in(h: &History, action: &str) -> Vec<Record> {
    h.records
        .iter()
        .filter(|r| r.is_received_call(action))
        .cloned()
        .collect()
}

/// The charger's answer (CALLRESULT or CALLERROR) to the central system's request `message_id`.
pub fn answer_to(h: &History, message_id: &str) -> Option<Record> {
    h.records
        .iter()
        .find(|r| {
            r.direction == Direction::In
                && matches!(r.kind, Kind::Result | Kind::Error)
                && r.message_id.as_deref() == Some(message_id)
        })
        .cloned()
}

/// How often [`poll`] and [`poll_async`] look again.
pub const POLL_EVERY: Duration = Duration::from_millis(20);

/// Polls `probe` until it answers `Ok(value)` and returns the value; after `within`, panics
/// naming `what` and the probe's last `Err` (what it saw instead). For conditions outside the
/// central system's history ([`wait_until`]): log lines, files, the pty.
pub fn poll<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        let seen = match probe() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}; saw:\n{seen}"
        );
        std::thread::sleep(POLL_EVERY);
    }
}

/// [`poll`] for async tests: the probe may await, and the wait between probes does not block
/// the runtime.
pub async fn poll_async<T, F>(what: &str, within: Duration, mut probe: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Result<T, String>>,
{
    let deadline = std::time::Instant::now() + within;
    loop {
        let seen = match probe().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}; saw:\n{seen}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Waits until `cond` holds on the central system's history; panics with what it saw.
pub async fn wait_until(
    csms: &Csms,
    what: &str,
    within: Duration,
    cond: impl Fn(&History) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    if csms
        .wait_for(deadline, |h| cond(h).then_some(()))
        .await
        .is_none()
    {
        let seen: Vec<String> =
            csms.with_history(|h| h.records.iter().map(Record::summary).collect());
        panic!(
            "timed out after {within:?} waiting for {what}; the central system saw:\n{}",
            seen.join("\n")
        );
    }
}
