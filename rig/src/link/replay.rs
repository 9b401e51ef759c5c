//! `rig replay`: send the rig→board frames of a recorded `candump -L` log (a scenario's
//! `board.log`) to a board again, with the original timing, to reproduce what a scenario
//! did to the board by hand.

use super::monitor::describe;
use chargerig_link::candump::{read_log, CandumpError, CandumpRecord};
use chargerig_link::signals::{self, Node};
use chargerig_link::{LinkError, LinkSpec};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", .path.display())]
    Parse {
        path: std::path::PathBuf,
        source: CandumpError,
    },
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// The frames the rig sent, with their offsets from the first one.
pub fn rig_frames(records: &[CandumpRecord]) -> Vec<(Duration, CandumpRecord)> {
    let ours: Vec<&CandumpRecord> = records
        .iter()
        .filter(|r| signals::message(r.frame.id).is_some_and(|m| m.sender == Node::Rig))
        .collect();
    let Some(first) = ours.first().map(|r| r.timestamp) else {
        return Vec::new();
    };
    ours.into_iter()
        .map(|r| (r.timestamp.saturating_sub(first), r.clone()))
        .collect()
}

/// Replays `log` on `spec`; `speed` 2.0 = twice as fast. Frames from the board are read and
/// dropped while waiting, so the board never blocks on a full line.
pub fn replay(
    spec: &LinkSpec,
    log: &Path,
    speed: f64,
    mut out: impl FnMut(&str),
) -> Result<usize, ReplayError> {
    let file = std::fs::File::open(log).map_err(|source| ReplayError::Read {
        path: log.to_path_buf(),
        source,
    })?;
    let records = read_log(std::io::BufReader::new(file)).map_err(|source| ReplayError::Parse {
        path: log.to_path_buf(),
        source,
    })?;
    let frames = rig_frames(&records);
    let mut link = chargerig_link::open(spec)?;
    let start = Instant::now();
    for (offset, rec) in &frames {
        let due = start + offset.div_f64(speed.max(1e-3));
        loop {
            let now = Instant::now();
            if now >= due {
                break;
            }
            link.recv(due - now)?;
        }
        link.send(&rec.frame)?;
        out(&format!(
            "+{:>8.3} s  {}",
            offset.as_secs_f64(),
            describe(&rec.frame)
        ));
    }
    Ok(frames.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chargerig_link::candump::parse_line;

    #[test]
    fn only_rig_frames_with_offsets() {
        let recs: Vec<CandumpRecord> = [
            "(10.000000) board0 200#0000000000000000",
            "(10.500000) board0 100#01",
            "(11.000000) board0 201#000000000000",
            "(12.250000) board0 101#0404A1B2C3000000",
            "(12.300000) board0 7FF#00",
        ]
        .iter()
        .enumerate()
        .map(|(i, l)| parse_line(i + 1, l).unwrap())
        .collect();
        let f = rig_frames(&recs);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].0, Duration::ZERO);
        assert_eq!(f[1].0, Duration::from_millis(1750));
        assert_eq!(f[1].1.frame.id, 0x101);
    }
}
