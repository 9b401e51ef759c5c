//! The charger's configuration panel, as the rig reaches it: over HTTP like a browser without
//! JavaScript ([`client`]). On the simulated board the rig enables the panel itself (a free port
//! on 127.0.0.1, a password of its own) and finds the port in the charger's data directory
//! (`panel.addr`, rewritten at every start); a bench profile names the panel's URL and password.

pub mod client;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

pub use client::{PanelClient, PanelError};

/// The file in the charger's data directory holding the panel's `HOST:PORT`.
pub const ADDR_FILE: &str = "panel.addr";

/// Where the panel listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanelAddr {
    /// The simulated charger's `DATA_DIR/panel.addr` (read again after every restart).
    File(PathBuf),
    /// A bench's panel at a fixed address.
    Fixed(SocketAddr),
}

/// How the rig reaches a charger's panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelAccess {
    pub addr: PanelAddr,
    pub password: String,
}

/// `http://HOST:PORT/` (a bench profile's `[panel] url`) as a socket address.
pub fn parse_url(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: the panel URL must start with http://"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("{url:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url:?}: no address"))
}

/// A password for a simulated charger's panel: random per scenario, never a default.
pub fn random_password() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::from("rig-");
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// A logged-in session with one charger's panel, kept across steps.
#[derive(Debug)]
pub struct Panel {
    access: PanelAccess,
    client: Option<PanelClient>,
}

impl Panel {
    pub fn new(access: PanelAccess) -> Panel {
        Panel {
            access,
            client: None,
        }
    }

    pub fn access(&self) -> &PanelAccess {
        &self.access
    }

    fn current_addr(&self) -> Option<SocketAddr> {
        match &self.access.addr {
            PanelAddr::Fixed(a) => Some(*a),
            PanelAddr::File(path) => std::fs::read_to_string(path).ok()?.trim().parse().ok(),
        }
    }

    /// Runs `op` on a client logged in with the installer password. A charger that is
    /// restarting (no address yet, connection refused, "restarting" page) is waited for until
    /// `deadline`; any other answer is returned as it is.
    pub async fn run<T, F>(&mut self, deadline: Instant, op: F) -> Result<T, PanelError>
    where
        T: Send + 'static,
        F: Fn(&mut PanelClient) -> Result<T, PanelError> + Send + Sync + 'static,
    {
        let password = self.access.password.clone();
        self.until_answered(deadline, Client::Session, move |client| {
            client.ensure_login(&password).and_then(|()| op(client))
        })
        .await
    }

    /// A login with `password` in a browser of its own (no session): `Ok(message)` when the
    /// panel refused it and showed no configuration.
    pub async fn refuses_password(
        &mut self,
        deadline: Instant,
        password: String,
    ) -> Result<String, PanelError> {
        self.until_answered(deadline, Client::Fresh, move |fresh| {
            match fresh.login(&password) {
                Ok(()) => Err(PanelError::Unexpected(format!(
                    "the panel accepted the password {password:?}"
                ))),
                Err(PanelError::LoginRefused { status, message }) => {
                    let page = fresh.get("/configuration")?;
                    if page.status == 200 || page.body.contains("id=\"key-") {
                        return Err(PanelError::Unexpected(
                            "after the refused login the panel still showed the configuration"
                                .into(),
                        ));
                    }
                    Ok(format!("HTTP {status}: {message}"))
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Runs `attempt` (blocking HTTP, on a blocking thread) against the panel's current
    /// address until it gives an answer that is not transient or `deadline` passes: a
    /// restarting charger has no address yet, refuses connections or shows "restarting".
    async fn until_answered<T, F>(
        &mut self,
        deadline: Instant,
        which: Client,
        attempt: F,
    ) -> Result<T, PanelError>
    where
        T: Send + 'static,
        F: Fn(&mut PanelClient) -> Result<T, PanelError> + Send + Sync + 'static,
    {
        let attempt = std::sync::Arc::new(attempt);
        loop {
            // The session is given up when the charger has no address (it is restarting).
            let kept = match which {
                Client::Session => self.client.take(),
                Client::Fresh => None,
            };
            let Some(addr) = self.current_addr() else {
                if Instant::now() >= deadline {
                    return Err(PanelError::Unexpected(format!(
                        "no panel address in {:?} (is the panel enabled?)",
                        self.access.addr
                    )));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let mut client = match kept {
                Some(c) if c.addr() == addr => c,
                _ => PanelClient::new(addr),
            };
            let attempt = attempt.clone();
            let (client, result) = tokio::task::spawn_blocking(move || {
                let result = attempt(&mut client);
                (client, result)
            })
            .await
            .map_err(|e| PanelError::Unexpected(format!("panel task failed: {e}")))?;
            if which == Client::Session {
                self.client = Some(client);
            }
            match result {
                Err(e) if e.is_transient() && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => return other,
            }
        }
    }
}

/// Which client an attempt on the panel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// The logged-in session kept across steps.
    Session,
    /// A browser of its own, forgotten afterwards.
    Fresh,
}
