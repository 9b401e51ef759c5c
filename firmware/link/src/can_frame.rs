//! A classic CAN 2.0A frame, independent of any carrier.

use std::fmt;

/// Largest 11-bit identifier.
pub const MAX_STANDARD_ID: u16 = 0x7FF;

/// Classic CAN 2.0A frame: 11-bit id, up to 8 data bytes.
///
/// Bytes past `len` are kept zero so that two equal frames compare equal.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CanFrame {
    pub id: u16,
    pub data: [u8; 8],
    pub len: u8,
}

/// A frame that cannot exist on a classic CAN 2.0A bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanFrameError {
    #[error("CAN id 0x{0:X} does not fit in 11 bits (max 0x7FF)")]
    IdOutOfRange(u32),
    #[error("{0} data bytes: a classic CAN frame carries at most 8")]
    TooLong(usize),
}

impl CanFrame {
    /// Builds a frame, checking the id range and the data length.
    pub fn new(id: u16, data: &[u8]) -> Result<Self, CanFrameError> {
        if id > MAX_STANDARD_ID {
            return Err(CanFrameError::IdOutOfRange(u32::from(id)));
        }
        if data.len() > 8 {
            return Err(CanFrameError::TooLong(data.len()));
        }
        let mut buf = [0u8; 8];
        buf[..data.len()].copy_from_slice(data);
        Ok(Self {
            id,
            data: buf,
            len: data.len() as u8,
        })
    }

    /// The payload (the first `len` bytes).
    pub fn payload(&self) -> &[u8] {
        &self.data[..usize::from(self.len.min(8))]
    }
}

impl fmt::Debug for CanFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CanFrame({self})")
    }
}

/// `candump`-style `123#DEADBEEF`.
impl fmt::Display for CanFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03X}#", self.id)?;
        for b in self.payload() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_29_bit_ids_and_long_payloads() {
        assert_eq!(
            CanFrame::new(0x800, &[]),
            Err(CanFrameError::IdOutOfRange(0x800))
        );
        assert_eq!(CanFrame::new(0x1, &[0; 9]), Err(CanFrameError::TooLong(9)));
        let f = CanFrame::new(0x7FF, &[1, 2]).unwrap();
        assert_eq!(f.payload(), &[1, 2]);
        assert_eq!(f.to_string(), "7FF#0102");
    }
}
