//! `candump -L` log lines: `(1700000000.123456) slcan0 123#DEADBEEF`.
//!
//! The rig writes every board-link frame in this format so `canplayer`, `cantools` and
//! SavvyCAN can read a scenario's traffic, and the parser reads them back for replay.

use crate::CanFrame;
use std::io::{self, BufRead, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One logged frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandumpRecord {
    /// Time since the Unix epoch, microsecond resolution.
    pub timestamp: Duration,
    pub iface: String,
    pub frame: CanFrame,
}

impl CandumpRecord {
    /// The log line without a newline.
    pub fn to_line(&self) -> String {
        format!(
            "({}.{:06}) {} {}",
            self.timestamp.as_secs(),
            self.timestamp.subsec_micros(),
            self.iface,
            self.frame
        )
    }
}

/// Writes frames as `candump -L` lines.
pub struct CandumpWriter<W: Write> {
    out: W,
    iface: String,
}

impl<W: Write> CandumpWriter<W> {
    /// `iface` is the name shown in the log (e.g. `slcan0`); it must not contain spaces.
    pub fn new(out: W, iface: impl Into<String>) -> Self {
        let iface: String = iface.into();
        Self {
            out,
            iface: iface.replace(char::is_whitespace, "_"),
        }
    }

    pub fn write(&mut self, at: SystemTime, frame: &CanFrame) -> io::Result<()> {
        let rec = CandumpRecord {
            timestamp: at.duration_since(UNIX_EPOCH).unwrap_or_default(),
            iface: self.iface.clone(),
            frame: *frame,
        };
        writeln!(self.out, "{}", rec.to_line())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A line that is not a `candump -L` record of a classic standard frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line_no}: {reason}: {text:?}")]
pub struct CandumpError {
    pub line_no: usize,
    pub text: String,
    pub reason: String,
}

/// Parses one line (`line_no` is only used in the error).
pub fn parse_line(line_no: usize, text: &str) -> Result<CandumpRecord, CandumpError> {
    let err = |reason: &str| CandumpError {
        line_no,
        text: text.to_string(),
        reason: reason.to_string(),
    };
    let mut parts = text.split_whitespace();
    let (Some(ts), Some(iface), Some(body), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(err("expected `(SECONDS.MICROS) IFACE ID#DATA`"));
    };
    let ts = ts
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| err("timestamp must be in parentheses"))?;
    let (secs, frac) = ts
        .split_once('.')
        .ok_or_else(|| err("timestamp needs SECONDS.MICROS"))?;
    let secs: u64 = secs
        .parse()
        .map_err(|_| err("timestamp seconds are not a number"))?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("timestamp fraction is not a number"));
    }
    let nanos: u32 = format!("{frac:0<9}")
        .parse()
        .map_err(|_| err("bad timestamp"))?;
    let (id, data) = body
        .split_once('#')
        .ok_or_else(|| err("frame needs ID#DATA"))?;
    if id.len() != 3 {
        return Err(err("only 3-digit standard ids belong to the frame set"));
    }
    let id = u16::from_str_radix(id, 16).map_err(|_| err("id is not hex"))?;
    if data.starts_with('R') || data.starts_with('#') {
        return Err(err(
            "remote and CAN FD frames are not part of the frame set",
        ));
    }
    if !data.len().is_multiple_of(2)
        || data.len() > 16
        || !data.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(err("data must be 0..8 bytes of hex"));
    }
    let bytes: Vec<u8> = (0..data.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&data[i..i + 2], 16).unwrap_or(0))
        .collect();
    let frame = CanFrame::new(id, &bytes).map_err(|e| err(&e.to_string()))?;
    Ok(CandumpRecord {
        timestamp: Duration::new(secs, nanos),
        iface: iface.to_string(),
        frame,
    })
}

/// Reads a whole log; blank lines are skipped, bad lines are errors with their line number.
pub fn read_log(r: impl BufRead) -> Result<Vec<CandumpRecord>, CandumpError> {
    let mut out = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let line = line.map_err(|e| CandumpError {
            line_no: i + 1,
            text: String::new(),
            reason: e.to_string(),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(parse_line(i + 1, line.trim())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_candump_l_format() {
        let mut w = CandumpWriter::new(Vec::new(), "slcan0");
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        w.write(
            at,
            &CanFrame::new(0x123, &[0xDE, 0xAD, 0xBE, 0xEF]).unwrap(),
        )
        .unwrap();
        w.write(at, &CanFrame::new(0x104, &[]).unwrap()).unwrap();
        let text = String::from_utf8(w.into_inner()).unwrap();
        assert_eq!(
            text,
            "(1700000000.123456) slcan0 123#DEADBEEF\n(1700000000.123456) slcan0 104#\n"
        );
        let recs = read_log(text.as_bytes()).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].timestamp, Duration::new(1_700_000_000, 123_456_000));
        assert_eq!(
            recs[0].frame,
            CanFrame::new(0x123, &[0xDE, 0xAD, 0xBE, 0xEF]).unwrap()
        );
        assert_eq!(recs[1].to_line(), "(1700000000.123456) slcan0 104#");
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let text = "(1.000001) can0 100#01\n\n(2.5) can0 12345678#00\n";
        let e = read_log(text.as_bytes()).unwrap_err();
        assert_eq!(e.line_no, 3);
        for bad in [
            "1.0 can0 100#01",
            "(x.0) can0 100#01",
            "(1.0) can0 100",
            "(1.0) can0 100#0",
            "(1.0) can0 100#R",
            "(1.0) can0 800#00",
            "(1.0) can0 100#010203040506070809",
            "(1.0) can0",
        ] {
            assert!(parse_line(1, bad).is_err(), "{bad}");
        }
    }
}
