//! SLCAN (Lawicel) ASCII codec: the encoder and a streaming decoder for both ends of a
//! serial CAN line.
//!
//! Frames are `tIIILDD..\r` (standard) or `TIIIIIIIILDD..\r` (extended); commands are single
//! letters (`O`, `C`, `S0`..`S8`, `V`, `N`, `F`, ...); a device acknowledges with `\r` and
//! refuses with BEL. The decoder is bounded: an overlong line is dropped and reported, never
//! buffered without limit.

use crate::CanFrame;
use std::fmt::Write as _;

/// Longest line we keep: `T` + 8 id + 1 len + 16 data + 4 timestamp = 30, with headroom.
pub const MAX_LINE: usize = 64;

/// An SLCAN command (host → adapter/board), or a reply line carrying data (`V0101`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlcanCommand {
    /// `O`: open the channel.
    Open,
    /// `L`: open in listen-only mode.
    ListenOnly,
    /// `C`: close the channel.
    Close,
    /// `S0`..`S8`: standard bit rate (S6 = 500 kbit/s).
    Bitrate(u8),
    /// `V`: ask for the version.
    Version,
    /// `N`: ask for the serial number.
    SerialNumber,
    /// `F`: read the status flags.
    StatusFlags,
    /// `Z0`/`Z1`: timestamps off/on.
    Timestamps(bool),
    /// A reply with data (`V0101`, `NA123`, `F00`): first letter and the rest.
    Reply(char, String),
}

impl SlcanCommand {
    /// The command line including its `\r`.
    pub fn encode(&self) -> String {
        match self {
            Self::Open => "O\r".into(),
            Self::ListenOnly => "L\r".into(),
            Self::Close => "C\r".into(),
            Self::Bitrate(n) => format!("S{n}\r"),
            Self::Version => "V\r".into(),
            Self::SerialNumber => "N\r".into(),
            Self::StatusFlags => "F\r".into(),
            Self::Timestamps(on) => format!("Z{}\r", u8::from(*on)),
            Self::Reply(c, rest) => format!("{c}{rest}\r"),
        }
    }
}

/// One thing read from an SLCAN stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlcanItem {
    Frame(CanFrame),
    Command(SlcanCommand),
    /// A bare `\r`: the other end accepted the last command.
    Ack,
    /// BEL: the other end could not parse or execute the last command.
    Nack,
    /// A line that is none of the above, with why. Counted and logged by the caller.
    Garbage {
        line: String,
        reason: String,
    },
}

/// `tIIILDD..\r` for a standard frame.
pub fn encode_frame(f: &CanFrame) -> String {
    let mut s = String::with_capacity(22);
    let _ = write!(s, "t{:03X}{}", f.id & 0x7FF, f.len.min(8));
    for b in f.payload() {
        let _ = write!(s, "{b:02X}");
    }
    s.push('\r');
    s
}

/// `TIIIIIIIILDD..\r` for an extended (29-bit) frame. Our frame set never uses these; the
/// encoder exists so tests can feed them to a decoder that must reject them.
pub fn encode_extended(id: u32, data: &[u8]) -> String {
    let mut s = format!("T{:08X}{}", id & 0x1FFF_FFFF, data.len().min(8));
    for b in data.iter().take(8) {
        let _ = write!(s, "{b:02X}");
    }
    s.push('\r');
    s
}

/// Streaming decoder: feed it whatever `read` returned, in any split, and get whole items.
#[derive(Debug, Default)]
pub struct SlcanDecoder {
    buf: Vec<u8>,
    overlong: bool,
    last_was_cr: bool,
}

impl SlcanDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes bytes and yields every item completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> impl Iterator<Item = SlcanItem> {
        let mut out = Vec::new();
        for &b in bytes {
            let after_cr = std::mem::replace(&mut self.last_was_cr, b == b'\r');
            match b {
                b'\r' => self.end_line(&mut out, true),
                b'\n' if after_cr => {}
                b'\n' => self.end_line(&mut out, false),
                0x07 => {
                    if !self.buf.is_empty() || self.overlong {
                        self.end_line(&mut out, false);
                    }
                    out.push(SlcanItem::Nack);
                }
                _ if self.overlong => {}
                _ if self.buf.len() >= MAX_LINE => self.overlong = true,
                _ => self.buf.push(b),
            }
        }
        out.into_iter()
    }

    /// Bytes of an unfinished line, for diagnostics.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    fn end_line(&mut self, out: &mut Vec<SlcanItem>, cr: bool) {
        let line = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        if std::mem::take(&mut self.overlong) {
            out.push(SlcanItem::Garbage {
                reason: format!("line longer than {MAX_LINE} bytes, dropped"),
                line,
            });
            return;
        }
        if line.is_empty() {
            if cr {
                out.push(SlcanItem::Ack);
            }
            return;
        }
        out.push(parse_line(&line));
    }
}

fn garbage(line: &str, reason: impl Into<String>) -> SlcanItem {
    SlcanItem::Garbage {
        line: line.to_string(),
        reason: reason.into(),
    }
}

fn parse_line(line: &str) -> SlcanItem {
    if !line.is_ascii() {
        return garbage(line, "non-ASCII bytes");
    }
    let (head, rest) = line.split_at(1);
    match head {
        "t" => parse_frame(line, rest, 3, false),
        "T" => parse_frame(line, rest, 8, true),
        "r" | "R" => garbage(line, "remote (RTR) frames are not part of the frame set"),
        "O" if rest.is_empty() => SlcanItem::Command(SlcanCommand::Open),
        "L" if rest.is_empty() => SlcanItem::Command(SlcanCommand::ListenOnly),
        "C" if rest.is_empty() => SlcanItem::Command(SlcanCommand::Close),
        "S" => match rest.parse::<u8>() {
            Ok(n) if n <= 8 && rest.len() == 1 => SlcanItem::Command(SlcanCommand::Bitrate(n)),
            _ => garbage(line, "bit rate command must be S0..S8"),
        },
        "Z" => match rest {
            "0" => SlcanItem::Command(SlcanCommand::Timestamps(false)),
            "1" => SlcanItem::Command(SlcanCommand::Timestamps(true)),
            _ => garbage(line, "timestamp command must be Z0 or Z1"),
        },
        "V" | "v" | "N" | "F" if rest.is_empty() => SlcanItem::Command(match head {
            "N" => SlcanCommand::SerialNumber,
            "F" => SlcanCommand::StatusFlags,
            _ => SlcanCommand::Version,
        }),
        "V" | "v" | "N" | "F" => SlcanItem::Command(SlcanCommand::Reply(
            head.chars().next().unwrap_or('V'),
            rest.to_string(),
        )),
        _ => garbage(line, "not an SLCAN frame or command"),
    }
}

fn hex_val(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

fn parse_frame(line: &str, rest: &str, id_digits: usize, extended: bool) -> SlcanItem {
    if rest.len() < id_digits + 1 {
        return garbage(line, "truncated frame: missing id or length");
    }
    let Some(id) = hex_val(&rest[..id_digits]) else {
        return garbage(line, "frame id is not hex");
    };
    let len = match rest.as_bytes()[id_digits] {
        c @ b'0'..=b'8' => usize::from(c - b'0'),
        _ => return garbage(line, "frame length must be a digit 0..8"),
    };
    let data = &rest[id_digits + 1..];
    // A trailing 4-digit timestamp is allowed (adapters with Z1).
    if data.len() != 2 * len && data.len() != 2 * len + 4 {
        return garbage(
            line,
            format!(
                "frame says {len} bytes but carries {} hex digits",
                data.len()
            ),
        );
    }
    let mut bytes = [0u8; 8];
    for (i, slot) in bytes.iter_mut().enumerate().take(len) {
        match hex_val(&data[2 * i..2 * i + 2]) {
            Some(v) => *slot = v as u8,
            None => return garbage(line, "frame data is not hex"),
        }
    }
    if data.len() > 2 * len && hex_val(&data[2 * len..]).is_none() {
        return garbage(line, "frame timestamp is not hex");
    }
    if extended {
        return garbage(
            line,
            format!("extended (29-bit) id 0x{id:08X} is not part of the frame set"),
        );
    }
    if id > 0x7FF {
        return garbage(line, "standard id above 0x7FF");
    }
    match CanFrame::new(id as u16, &bytes[..len]) {
        Ok(f) => SlcanItem::Frame(f),
        Err(e) => garbage(line, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(d: &mut SlcanDecoder, s: &[u8]) -> Vec<SlcanItem> {
        d.push(s).collect()
    }

    fn f(id: u16, data: &[u8]) -> SlcanItem {
        SlcanItem::Frame(CanFrame::new(id, data).unwrap())
    }

    #[test]
    fn encodes_standard_and_extended_frames() {
        let fr = CanFrame::new(0x123, &[0xDE, 0xAD, 0xBE, 0xEF]).unwrap();
        assert_eq!(encode_frame(&fr), "t1234DEADBEEF\r");
        assert_eq!(encode_frame(&CanFrame::new(0x104, &[]).unwrap()), "t1040\r");
        assert_eq!(encode_extended(0x1ABCDEF, &[1]), "T01ABCDEF101\r");
        assert_eq!(SlcanCommand::Bitrate(6).encode(), "S6\r");
    }

    #[test]
    fn decodes_frames_commands_acks() {
        let mut d = SlcanDecoder::new();
        let items = all(
            &mut d,
            b"t1234DEADBEEF\rC\rS6\rO\r\r\x07V\rV0101\rt1001021A2B\r",
        );
        assert_eq!(
            items,
            vec![
                f(0x123, &[0xDE, 0xAD, 0xBE, 0xEF]),
                SlcanItem::Command(SlcanCommand::Close),
                SlcanItem::Command(SlcanCommand::Bitrate(6)),
                SlcanItem::Command(SlcanCommand::Open),
                SlcanItem::Ack,
                SlcanItem::Nack,
                SlcanItem::Command(SlcanCommand::Version),
                SlcanItem::Command(SlcanCommand::Reply('V', "0101".into())),
                f(0x100, &[0x02]),
            ]
        );
    }

    #[test]
    fn crlf_and_lf_terminate_lines_without_spurious_acks() {
        let mut d = SlcanDecoder::new();
        let items = all(&mut d, b"t1001\x30\x32\r\nt1001\x30\x33\n\n");
        assert_eq!(items, vec![f(0x100, &[2]), f(0x100, &[3])]);
    }

    #[test]
    fn rejects_bad_lines_as_garbage() {
        let mut d = SlcanDecoder::new();
        for line in [
            "t12",          // truncated
            "t1232AA",      // too few data digits
            "t1232AABBCC",  // too many
            "t12G1AA",      // bad id
            "t1239",        // bad length
            "t1231ZZ",      // bad data
            "T1234567810A", // extended
            "r1230",        // remote
            "S9",
            "hello",
        ] {
            let items = all(&mut d, format!("{line}\r").as_bytes());
            assert!(
                matches!(&items[..], [SlcanItem::Garbage { line: l, .. }] if l == line),
                "{line}: {items:?}"
            );
        }
        // a timestamped frame is fine
        assert_eq!(all(&mut d, b"t1001021234\r"), vec![f(0x100, &[2])]);
    }

    #[test]
    fn overlong_lines_are_bounded_and_reported_once() {
        let mut d = SlcanDecoder::new();
        let long = vec![b'x'; 10_000];
        assert!(all(&mut d, &long).is_empty());
        assert!(d.pending() <= MAX_LINE);
        let items = all(&mut d, b"\rt1000\r");
        assert!(
            matches!(&items[0], SlcanItem::Garbage { reason, .. } if reason.contains("longer"))
        );
        assert_eq!(items[1], f(0x100, &[]));
        assert_eq!(items.len(), 2);
    }

    /// Splitting a stream at every possible point yields the same items as feeding it whole.
    #[test]
    fn any_split_gives_the_same_items() {
        let stream: &[u8] = b"t1234DEADBEEF\r\x07garbage\rO\r\rt2008020A010F02050201\r\nt2016D2040000A000\rT1234567810A\r";
        let whole = all(&mut SlcanDecoder::new(), stream);
        assert_eq!(whole.len(), 8);
        for i in 0..=stream.len() {
            for j in i..=stream.len() {
                let mut d = SlcanDecoder::new();
                let mut got = all(&mut d, &stream[..i]);
                got.extend(d.push(&stream[i..j]));
                got.extend(d.push(&stream[j..]));
                assert_eq!(got, whole, "split at {i},{j}");
            }
        }
        // byte by byte
        let mut d = SlcanDecoder::new();
        let got: Vec<_> = stream
            .iter()
            .flat_map(|b| d.push(std::slice::from_ref(b)).collect::<Vec<_>>())
            .collect();
        assert_eq!(got, whole);
    }

    /// Random garbage interleaved with valid frames never loses or invents a valid frame.
    #[test]
    fn garbage_between_frames_does_not_corrupt_them() {
        let mut seed = 0x2545F4914F6CDD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let mut stream = Vec::new();
            let mut expected = Vec::new();
            for k in 0..20u16 {
                // garbage without terminators, then a terminator so it is its own line
                let n = (next() % 20) as usize;
                for _ in 0..n {
                    let b = (next() % 256) as u8;
                    if !matches!(b, b'\r' | b'\n' | 0x07) {
                        stream.push(b);
                    }
                }
                stream.push(b'\r');
                let fr = CanFrame::new(k, &k.to_le_bytes()).unwrap();
                stream.extend(encode_frame(&fr).as_bytes());
                expected.push(fr);
            }
            let mut d = SlcanDecoder::new();
            let mut frames = Vec::new();
            let mut pos = 0;
            while pos < stream.len() {
                let step = 1 + (next() % 7) as usize;
                let end = (pos + step).min(stream.len());
                for item in d.push(&stream[pos..end]) {
                    if let SlcanItem::Frame(f) = item {
                        frames.push(f);
                    }
                }
                pos = end;
            }
            // Garbage might itself be a valid frame line by chance; ours must all be there, in order.
            let mut it = frames.iter();
            for e in &expected {
                assert!(it.any(|f| f == e), "lost {e}");
            }
        }
    }
}
