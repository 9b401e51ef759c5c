//! The installer password and login sessions.
//!
//! The password is kept only as an argon2id PHC hash, in the data directory (`panel-password`,
//! readable by the charger's user only), written at the first start; the clear password never
//! touches the disk through us. Sessions live in memory: a reboot of the process logs everyone
//! out, which is the safe direction.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use tracing::info;

use super::csrf;
use crate::config::PanelSecret;

/// The hash's file in the data directory.
pub const PASSWORD_FILE: &str = "panel-password";

/// A session ends this long after login (the cookie says the same).
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 60);
/// At most this many live sessions; the oldest goes first (memory stays bounded).
const MAX_SESSIONS: usize = 16;

/// The PHC hash to check logins against; stores it in `data_dir` at first start (or when the
/// config file's password changed since).
pub fn prepare_password_hash(secret: &PanelSecret, data_dir: &Path) -> anyhow::Result<String> {
    let file = data_dir.join(PASSWORD_FILE);
    let stored = std::fs::read_to_string(&file)
        .ok()
        .map(|s| s.trim().to_string());
    let hash = match secret {
        PanelSecret::Password(pw) => match stored {
            Some(h) if verify(&h, pw) => return Ok(h),
            had => {
                let mut salt = [0u8; 16];
                rand::fill(&mut salt[..]);
                let h = Argon2::default()
                    .hash_password_with_salt(pw.as_bytes(), &salt)
                    .map_err(|e| anyhow::anyhow!("hashing the panel password: {e}"))?
                    .to_string();
                info!(
                    file = %file.display(),
                    changed = had.is_some(),
                    "configuration panel: installer password stored as an argon2id hash"
                );
                h
            }
        },
        PanelSecret::Hash(h) => {
            check_phc(h)?;
            if stored.as_deref() == Some(h.as_str()) {
                return Ok(h.clone());
            }
            h.clone()
        }
    };
    write_private(&file, &hash)?;
    Ok(hash)
}

/// Refuses a hash that is not an argon2id PHC string we can verify against.
fn check_phc(h: &str) -> anyhow::Result<()> {
    let parsed = argon2::PasswordHash::new(h)
        .map_err(|e| anyhow::anyhow!("panel.password_hash is not a valid PHC string: {e}"))?;
    if parsed.algorithm.as_str() != "argon2id" {
        bail!(
            "panel.password_hash must be argon2id, not {}",
            parsed.algorithm
        );
    }
    Ok(())
}

/// Writes `text` to `path` readable by the owner only, atomically (temporary file + rename).
pub(super) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    writeln!(f, "{text}").with_context(|| format!("writing {}", tmp.display()))?;
    f.sync_all()
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Whether `password` matches the PHC `hash` (parameters come from the hash).
pub fn verify(hash: &str, password: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The anti-forgery token every form of this session carries.
    pub csrf: String,
    pub expires: Instant,
}

/// Live sessions by cookie token.
#[derive(Debug, Default)]
pub struct Sessions {
    map: HashMap<String, Session>,
}

impl Sessions {
    /// A new session; returns its cookie token.
    pub fn create(&mut self, now: Instant) -> String {
        self.map.retain(|_, s| s.expires > now);
        while self.map.len() >= MAX_SESSIONS {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.map.remove(&k),
                None => break,
            };
        }
        let token = csrf::new_token();
        self.map.insert(
            token.clone(),
            Session {
                csrf: csrf::new_token(),
                expires: now + SESSION_TTL,
            },
        );
        token
    }

    /// The live session for a cookie token; an expired one is forgotten.
    pub fn get(&mut self, token: &str, now: Instant) -> Option<Session> {
        match self.map.get(token) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                self.map.remove(token);
                None
            }
            None => None,
        }
    }

    pub fn remove(&mut self, token: &str) {
        self.map.remove(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_stored_only_as_an_argon2id_hash_readable_by_the_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let secret = PanelSecret::Password("installer-secret".into());
        let h = prepare_password_hash(&secret, dir.path()).unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        let file = dir.path().join(PASSWORD_FILE);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("installer-secret"));
        assert_eq!(text.trim(), h);
        assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        assert!(verify(&h, "installer-secret"));
        assert!(!verify(&h, "installer-secreT"));
        // Same password next start: same hash kept; another password: replaced.
        assert_eq!(prepare_password_hash(&secret, dir.path()).unwrap(), h);
        let h2 = prepare_password_hash(&PanelSecret::Password("another-secret".into()), dir.path())
            .unwrap();
        assert_ne!(h2, h);
        assert!(verify(&h2, "another-secret"));
        // A given hash is used as it is; a non-argon2id one is refused.
        assert_eq!(
            prepare_password_hash(&PanelSecret::Hash(h.clone()), dir.path()).unwrap(),
            h
        );
        assert!(prepare_password_hash(
            &PanelSecret::Hash("$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into()),
            dir.path()
        )
        .is_err());
    }

    #[test]
    fn sessions_expire_and_stay_bounded() {
        let t0 = Instant::now();
        let mut s = Sessions::default();
        let tok = s.create(t0);
        assert!(s.get(&tok, t0 + Duration::from_secs(60)).is_some());
        assert!(s.get(&tok, t0 + SESSION_TTL).is_none());
        for _ in 0..40 {
            s.create(t0);
        }
        assert!(s.map.len() <= MAX_SESSIONS);
        let tok = s.create(t0);
        s.remove(&tok);
        assert!(s.get(&tok, t0).is_none());
    }
}
