//! Counters for what crossed a link, including what was thrown away.

use crate::slcan::SlcanItem;
use crate::DecodeError;

/// What a link has seen. Garbage is counted, logged by the caller, and otherwise ignored:
/// it never causes an action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Lines (SLCAN) or frames (SocketCAN) that are not CAN frames of our kind at all.
    pub garbage: u64,
    /// CAN frames with an id outside the frame set.
    pub unknown_id: u64,
    /// CAN frames of our set with the wrong length.
    pub bad_length: u64,
    /// CAN frames of our set with an out-of-range value (pilot 7, connector 12...).
    pub bad_value: u64,
    pub frames_in: u64,
    pub frames_out: u64,
}

impl LinkStats {
    /// Counts one SLCAN item (frames count as `frames_in`; decoding is counted separately).
    pub fn count_item(&mut self, item: &SlcanItem) {
        match item {
            SlcanItem::Frame(_) => self.frames_in += 1,
            SlcanItem::Garbage { .. } => self.garbage += 1,
            _ => {}
        }
    }

    /// Counts the outcome of decoding a received frame.
    pub fn count_decode<T>(&mut self, r: &Result<T, DecodeError>) {
        match r {
            Ok(_) => {}
            Err(DecodeError::UnknownId(_)) => self.unknown_id += 1,
            Err(DecodeError::BadLength { .. }) => self.bad_length += 1,
            Err(DecodeError::BadValue { .. }) => self.bad_value += 1,
        }
    }

    /// Everything that was received but not usable.
    pub fn rejected(&self) -> u64 {
        self.garbage + self.unknown_id + self.bad_length + self.bad_value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CanFrame, Frame};

    #[test]
    fn counts_each_kind_of_rejection() {
        let mut s = LinkStats::default();
        s.count_item(&SlcanItem::Garbage {
            line: "x".into(),
            reason: "y".into(),
        });
        s.count_item(&SlcanItem::Ack);
        for f in [
            CanFrame::new(0x7FF, &[]).unwrap(),
            CanFrame::new(0x100, &[]).unwrap(),
            CanFrame::new(0x100, &[9]).unwrap(),
            CanFrame::new(0x100, &[1]).unwrap(),
        ] {
            s.count_item(&SlcanItem::Frame(f));
            s.count_decode(&Frame::decode(&f));
        }
        assert_eq!(
            s,
            LinkStats {
                garbage: 1,
                unknown_id: 1,
                bad_length: 1,
                bad_value: 1,
                frames_in: 4,
                frames_out: 0
            }
        );
        assert_eq!(s.rejected(), 4);
    }
}
