//! The test central system: an OCPP 1.6-J server whose answers the scenario scripts, with a
//! full history of every frame, used by the steps and the ledger check.

mod frame;
mod history;
mod pki;
mod queries;
mod script;
mod security;
mod server;
mod session;
mod validate;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

pub use frame::{FrameError, OcppFrame};
pub use history::{ConnectionEvent, Direction, History, Kind, Record, Violation};
pub use pki::{server_config_from_files, ChargerFiles, TestCa};
pub use queries::{
    Expected, StatusReport, TransactionAction, TransactionMessage, TransactionRequest,
};
pub use script::{
    parse_authorization_status, parse_expiry, parse_registration_status, IdTagEntry, Injection,
    Script,
};
pub use security::{check_basic_auth, key_bytes, Refusal, Requirement};
pub use server::Answer;
/// The WebSocket message type of [`Csms::send_raw`].
pub use tokio_tungstenite::tungstenite::Message as WsMessage;
pub use validate::CHARGE_POINT_ACTIONS;

use server::Shared;

/// Why a central-system request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum CallFailed {
    #[error("the charger is not connected to the central system")]
    NotConnected,
    #[error("the charger did not answer {action} within {timeout:?}")]
    Timeout { action: String, timeout: Duration },
    #[error("the connection closed before the charger answered {0}")]
    Closed(String),
}

/// One running test central system. Dropping it closes the listener and every connection.
pub struct Csms {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Csms {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Csms {
    /// Binds `addr` (port 0 picks a free one) and starts serving.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Csms> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Shared::new();
        let task = tokio::spawn(server::accept_loop(listener, shared.clone()));
        tracing::debug!(%addr, "test central system listening");
        Ok(Csms { shared, addr, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OCPP-J base URL; the charger appends its charge point id.
    pub fn url(&self) -> String {
        format!("ws://{}/ocpp", self.addr)
    }

    /// From now on, connections must meet `requirement` (security profile, TLS, key).
    pub fn require(&self, requirement: Requirement) {
        self.shared.lock().requirement = requirement;
    }

    /// From now on, Basic auth must carry this key (`None`: no Basic auth check).
    pub fn expect_key(&self, key: Option<Vec<u8>>) {
        self.shared.lock().requirement.key = key;
    }

    /// Serves only chargers whose URL path starts with `prefix` (see [`Csms::url`]).
    pub fn expect_path_prefix(&self, prefix: impl Into<String>) {
        self.shared.lock().path_prefix = Some(prefix.into());
    }

    /// Whether the handshake answer names `ocpp1.6`; `false` only to test that a charger refuses
    /// such a server.
    pub fn agree_subprotocol(&self, agree: bool) {
        self.shared.lock().agree_subprotocol = agree;
    }

    /// Sends a raw WebSocket message on the newest connection, outside the script and the
    /// history (protocol tests: malformed, oversized or binary frames). The charger's answers
    /// are recorded as usual.
    pub fn send_raw(&self, message: Message) -> Result<(), CallFailed> {
        let state = self.shared.lock();
        let (_, sender) = state.current.as_ref().ok_or(CallFailed::NotConnected)?;
        sender.send(message).map_err(|_| CallFailed::NotConnected)
    }

    /// Changes the script.
    pub fn script<T>(&self, change: impl FnOnce(&mut Script) -> T) -> T {
        change(&mut self.shared.lock().script)
    }

    /// Reads the history.
    pub fn with_history<T>(&self, read: impl FnOnce(&History) -> T) -> T {
        read(&self.shared.lock().history)
    }

    /// A copy of the history.
    pub fn history(&self) -> History {
        self.with_history(History::clone)
    }

    /// Waits until `check` returns `Some`, re-checking on every change, until `deadline`.
    pub async fn wait_for<T>(
        &self,
        deadline: Instant,
        mut check: impl FnMut(&History) -> Option<T>,
    ) -> Option<T> {
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(found) = self.with_history(&mut check) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.with_history(&mut check);
            }
        }
    }

    /// Sends a central-system request on the newest connection and waits for the answer.
    pub async fn call(
        &self,
        action: &str,
        payload: Value,
        timeout: Duration,
    ) -> Result<Answer, CallFailed> {
        let (reply, answer) = oneshot::channel();
        let id = {
            let mut state = self.shared.lock();
            let (connection, sender) = state.current.clone().ok_or(CallFailed::NotConnected)?;
            state.note_request(action, &payload);
            let id = format!("rig-{}", state.next_message_id);
            state.next_message_id += 1;
            state
                .pending
                .insert(id.clone(), (action.to_string(), connection, reply));
            state.record(
                chrono::Utc::now(),
                Record {
                    message_id: Some(id.clone()),
                    action: Some(action.to_string()),
                    ignored: false,
                    ..Record::new(Direction::Out, connection, Kind::Call, payload.clone())
                },
            );
            let frame = OcppFrame::Call {
                id: id.clone(),
                action: action.to_string(),
                payload,
            };
            if sender.send(Message::text(frame.to_text())).is_err() {
                state.pending.remove(&id);
                return Err(CallFailed::NotConnected);
            }
            id
        };
        self.shared.changed.notify_waiters();
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(CallFailed::Closed(action.to_string())),
            Err(_) => {
                self.shared.lock().pending.remove(&id);
                Err(CallFailed::Timeout {
                    action: action.to_string(),
                    timeout,
                })
            }
        }
    }

    /// The charger is about to reboot (a power cut): its next connection must start with a
    /// BootNotification again, and nothing else is allowed before it (checked per boot).
    pub fn expect_reboot(&self) {
        self.shared.lock().reboot_expected = true;
    }

    /// Whether a charger connection is open now.
    pub fn is_connected(&self) -> bool {
        self.shared.lock().current.is_some()
    }

    /// The transaction id the next accepted StartTransaction gets.
    pub fn next_transaction_id(&self) -> i32 {
        self.shared.lock().next_transaction_id
    }
}
