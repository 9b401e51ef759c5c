//! What the test central system requires of a charger's connection (field.md "Connection
//! security"): HTTP Basic auth with the charge point id and the AuthorizationKey's bytes
//! (profiles 1 and 2), TLS (2 and 3) and a client certificate (3). Upgrades it refuses are kept
//! in the history and go to the scenario's `faults.jsonl`.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustls::ServerConfig;
use serde::Serialize;

/// The central system's requirements; the default is profile 0 (nothing).
#[derive(Clone, Default)]
pub struct Requirement {
    pub profile: u8,
    /// The Basic-auth password it accepts (profiles 1 and 2).
    pub key: Option<Vec<u8>>,
    /// TLS (profiles 2 and 3; with client-certificate verification for 3).
    pub tls: Option<Arc<ServerConfig>>,
}

impl fmt::Debug for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requirement")
            .field("profile", &self.profile)
            .field("key", &self.key.as_ref().map(|_| "<set>"))
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// An upgrade (or TLS handshake) the central system refused.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    pub at: DateTime<Utc>,
    pub connection: u32,
    /// The HTTP status answered (401), or `None` when TLS failed before any HTTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub reason: String,
}

impl Refusal {
    /// A 401: wrong or missing credentials.
    pub fn is_password(&self) -> bool {
        self.status == Some(401)
    }
}

/// Checks an `Authorization` header against the charge point id and the expected key. The
/// reason never repeats a password.
pub fn check_basic_auth(
    header: Option<&[u8]>,
    charge_point_id: &str,
    key: &[u8],
) -> Result<(), String> {
    let Some(header) = header else {
        return Err("no Authorization header (Basic auth required)".into());
    };
    let Some(encoded) = header.strip_prefix(b"Basic ") else {
        return Err("the Authorization header is not Basic auth".into());
    };
    let decoded = base64_decode(encoded).ok_or("the Basic-auth credentials are not base64")?;
    let colon = decoded
        .iter()
        .position(|b| *b == b':')
        .ok_or("the Basic-auth credentials have no ':'")?;
    let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
    if user != charge_point_id.as_bytes() {
        return Err(format!(
            "Basic-auth user {:?} is not the charge point id {charge_point_id:?}",
            String::from_utf8_lossy(user)
        ));
    }
    if password != key {
        return Err(format!(
            "wrong password for {charge_point_id} ({} bytes, not the expected AuthorizationKey)",
            password.len()
        ));
    }
    Ok(())
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for chunk in text.chunks(4) {
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad { 0 } else { value(*c)? };
            n = n << 6 | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// Decodes an AuthorizationKey as the steps give it (32 to 40 hexadecimal digits).
pub fn key_bytes(hex: &str) -> Result<Vec<u8>, String> {
    let hex = hex.trim();
    if !(32..=40).contains(&hex.len()) || !hex.len().is_multiple_of(2) {
        return Err(format!(
            "AuthorizationKey {hex:?}: 32 to 40 hexadecimal digits (16 to 20 bytes)"
        ));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("AuthorizationKey {hex:?}: hexadecimal digits only"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_the_rfc_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_decode(coded.as_bytes()).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_decode(b"Zm9"), None);
    }

    #[test]
    fn basic_auth_checks_user_and_password_bytes() {
        // "CP1:0123456789abcdef" in base64
        let header = b"Basic Q1AxOjAxMjM0NTY3ODlhYmNkZWY=";
        assert_eq!(
            check_basic_auth(Some(header), "CP1", b"0123456789abcdef"),
            Ok(())
        );
        assert!(check_basic_auth(Some(header), "CP2", b"0123456789abcdef").is_err());
        let wrong = check_basic_auth(Some(header), "CP1", b"0123456789abcdeX").unwrap_err();
        assert!(!wrong.contains("0123456789abcdef"), "{wrong}");
        assert!(check_basic_auth(None, "CP1", b"x").is_err());
    }

    #[test]
    fn keys_are_16_to_20_bytes_of_hex() {
        assert_eq!(key_bytes(&"41".repeat(16)).unwrap(), vec![0x41; 16]);
        assert!(key_bytes("4142").is_err());
        assert!(key_bytes(&"zz".repeat(16)).is_err());
    }
}
