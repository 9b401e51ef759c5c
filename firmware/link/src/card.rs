//! RFID card UIDs (ISO 14443: 4-byte single or 7-byte double size).

use std::fmt;
use std::str::FromStr;

/// A card UID of 4 or 7 bytes. Displayed as uppercase hex without separators, which is
/// also how the charger turns it into an OCPP idTag.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CardUid {
    len: u8,
    bytes: [u8; 7],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardUidError {
    #[error("card UID {0:?} is not hex: write it as 8 or 14 hex digits, e.g. 04A1B2C3")]
    NotHex(String),
    #[error("card UID {uid:?} has {bytes} bytes: a UID has 4 or 7 bytes (8 or 14 hex digits)")]
    BadLength { uid: String, bytes: usize },
}

impl CardUid {
    /// Builds a UID from its bytes; only 4 or 7 bytes exist on ISO 14443 cards.
    pub fn new(bytes: &[u8]) -> Result<Self, CardUidError> {
        if bytes.len() != 4 && bytes.len() != 7 {
            return Err(CardUidError::BadLength {
                uid: hex(bytes),
                bytes: bytes.len(),
            });
        }
        let mut b = [0u8; 7];
        b[..bytes.len()].copy_from_slice(bytes);
        Ok(Self {
            len: bytes.len() as u8,
            bytes: b,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Never true: a UID has 4 or 7 bytes. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

impl fmt::Display for CardUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(self.as_bytes()))
    }
}

impl fmt::Debug for CardUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardUid({self})")
    }
}

/// Accepts `04A1B2C3`, `04a1b2c3`, `04:A1:B2:C3` and `04-A1-B2-C3`.
impl FromStr for CardUid {
    type Err = CardUidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits: String = s
            .trim()
            .chars()
            .filter(|c| *c != ':' && *c != '-')
            .collect();
        if digits.is_empty()
            || !digits.len().is_multiple_of(2)
            || !digits.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(CardUidError::NotHex(s.to_string()));
        }
        let bytes: Vec<u8> = (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("checked hex digits"))
            .collect();
        Self::new(&bytes).map_err(|_| CardUidError::BadLength {
            uid: s.to_string(),
            bytes: bytes.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_4_and_7_byte_uids() {
        let u: CardUid = "04a1b2c3".parse().unwrap();
        assert_eq!(u.as_bytes(), &[0x04, 0xA1, 0xB2, 0xC3]);
        assert_eq!(u.to_string(), "04A1B2C3");
        let u: CardUid = "04:A1:B2:C3:D4:E5:F6".parse().unwrap();
        assert_eq!(u.len(), 7);
        assert_eq!(u.to_string(), "04A1B2C3D4E5F6");
    }

    #[test]
    fn rejects_bad_uids() {
        assert!(matches!(
            "04A1B2".parse::<CardUid>(),
            Err(CardUidError::BadLength { bytes: 3, .. })
        ));
        assert!(matches!(
            "04A1B2C3D4".parse::<CardUid>(),
            Err(CardUidError::BadLength { bytes: 5, .. })
        ));
        assert!(matches!(
            "XYZ12345".parse::<CardUid>(),
            Err(CardUidError::NotHex(_))
        ));
        assert!(matches!(
            "04A1B2C".parse::<CardUid>(),
            Err(CardUidError::NotHex(_))
        ));
        assert!(matches!(
            "".parse::<CardUid>(),
            Err(CardUidError::NotHex(_))
        ));
    }
}
