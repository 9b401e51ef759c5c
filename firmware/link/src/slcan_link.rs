//! SLCAN over a serial line (USB-CAN adapter, board UART, or a simulated board's pty).

use crate::slcan::{encode_frame, SlcanCommand, SlcanDecoder, SlcanItem};
use crate::{CanFrame, CanLink, LinkError, LinkStats};
use serialport::{ClearBuffer, SerialPort, TTYPort};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long each handshake command may take. Generous: a simulated board on a loaded CI
/// machine answers in microseconds normally but can be descheduled for a while.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(1000);

/// Longest a write may wait for room in the device's buffer before the link counts as stuck.
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(1000);

/// Bit rate used when opening the channel (S6 = 500 kbit/s, the usual HIL bus speed).
pub const BITRATE_COMMAND: u8 = 6;

/// An open SLCAN channel.
pub struct SlcanLink {
    port: TTYPort,
    path: PathBuf,
    decoder: SlcanDecoder,
    pending: VecDeque<SlcanItem>,
    stats: LinkStats,
}

fn open_error(path: &Path, e: serialport::Error) -> LinkError {
    use serialport::ErrorKind as K;
    match e.kind() {
        K::Io(std::io::ErrorKind::NotFound) => LinkError::NoSuchDevice(path.to_path_buf()),
        K::Io(std::io::ErrorKind::PermissionDenied) => {
            LinkError::PermissionDenied(path.to_path_buf())
        }
        K::NoDevice => LinkError::Busy(path.to_path_buf()),
        _ => LinkError::io(
            format!("cannot open {}", path.display()),
            std::io::Error::other(e.to_string()),
        ),
    }
}

impl SlcanLink {
    /// Opens the device, drops stale input, and runs `C`, `S6`, `O`, each of which must be
    /// acknowledged with `\r`.
    pub fn open(path: &Path, baud: u32) -> Result<Self, LinkError> {
        if !path.exists() {
            // A dangling symlink (simulated board gone) reads as "no such device" too.
            return Err(LinkError::NoSuchDevice(path.to_path_buf()));
        }
        let port = serialport::new(path.to_string_lossy(), baud)
            .timeout(HANDSHAKE_TIMEOUT)
            .open_native()
            .map_err(|e| open_error(path, e))?;
        let _ = port.clear(ClearBuffer::Input);
        let mut link = Self {
            port,
            path: path.to_path_buf(),
            decoder: SlcanDecoder::new(),
            pending: VecDeque::new(),
            stats: LinkStats::default(),
        };
        link.sync()?;
        // Some adapters answer BEL to C when the channel is already closed: both are fine.
        link.command(&SlcanCommand::Close, true)?;
        link.command(&SlcanCommand::Bitrate(BITRATE_COMMAND), false)?;
        link.command(&SlcanCommand::Open, false)?;
        tracing::debug!(path = %path.display(), "slcan channel open");
        Ok(link)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines up with the device: answers to a previous client's commands may still be in
    /// flight (a pty keeps what the board wrote after that client closed), and a stale `\r`
    /// or BEL must not be taken for the answer to ours. `V` gets a reply no ack looks like;
    /// since the device answers in order, everything before that reply is stale.
    fn sync(&mut self) -> Result<(), LinkError> {
        self.write(b"\rV\r")?;
        let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
        let mut heard = false;
        loop {
            if let Some(pos) = self
                .pending
                .iter()
                .position(|i| matches!(i, SlcanItem::Command(SlcanCommand::Reply('V' | 'v', _))))
            {
                let old = std::mem::take(&mut self.pending);
                self.pending = old
                    .into_iter()
                    .enumerate()
                    .filter(|(i, item)| *i > pos || matches!(item, SlcanItem::Frame(_)))
                    .map(|(_, item)| item)
                    .collect();
                return Ok(());
            }
            heard |= !self.pending.is_empty() || self.stats.garbage > 0;
            let now = Instant::now();
            if now >= deadline {
                if heard {
                    // Answers but no version: an adapter without `V`; go on with C/S/O.
                    self.pending.retain(|i| matches!(i, SlcanItem::Frame(_)));
                    return Ok(());
                }
                return Err(LinkError::NoHandshake {
                    path: self.path.clone(),
                    command: "V".into(),
                    waited_ms: HANDSHAKE_TIMEOUT.as_millis() as u64,
                });
            }
            self.fill(deadline - now)?;
        }
    }

    /// Sends a command and waits for its `\r` (or BEL). Frames that arrive meanwhile are kept.
    fn command(&mut self, cmd: &SlcanCommand, nack_ok: bool) -> Result<(), LinkError> {
        let text = cmd.encode();
        self.write(text.as_bytes())?;
        let shown = text.trim_end().to_string();
        let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
        loop {
            // Answers are consumed here; frames are left in `pending` for recv.
            if let Some(pos) = self
                .pending
                .iter()
                .position(|i| matches!(i, SlcanItem::Ack | SlcanItem::Nack))
            {
                let item = self.pending.remove(pos);
                return match item {
                    Some(SlcanItem::Nack) if !nack_ok => Err(LinkError::Refused {
                        path: self.path.clone(),
                        command: shown,
                    }),
                    _ => Ok(()),
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(LinkError::NoHandshake {
                    path: self.path.clone(),
                    command: shown,
                    waited_ms: HANDSHAKE_TIMEOUT.as_millis() as u64,
                });
            }
            self.fill(deadline - now)?;
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        // Reads shrink the port timeout to what is left of their wait; a write gets its own.
        let _ = self.port.set_timeout(WRITE_TIMEOUT);
        self.port
            .write_all(bytes)
            .map_err(|e| self.io_error(e, "write to"))
    }

    fn io_error(&self, e: std::io::Error, what: &str) -> LinkError {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::BrokenPipe | K::UnexpectedEof | K::ConnectionReset => LinkError::Disconnected {
                what: self.path.display().to_string(),
            },
            // EIO: the pty master closed, or the USB device vanished.
            _ if e.raw_os_error() == Some(5) || e.to_string().contains("I/O error") => {
                LinkError::Disconnected {
                    what: self.path.display().to_string(),
                }
            }
            _ => LinkError::io(format!("cannot {what} {}", self.path.display()), e),
        }
    }

    /// Reads once (waiting at most `timeout`) and decodes what came.
    fn fill(&mut self, timeout: Duration) -> Result<(), LinkError> {
        let _ = self.port.set_timeout(timeout.max(Duration::from_millis(1)));
        let mut buf = [0u8; 512];
        match self.port.read(&mut buf) {
            Ok(0) => Err(LinkError::Disconnected {
                what: self.path.display().to_string(),
            }),
            Ok(n) => {
                for item in self.decoder.push(&buf[..n]) {
                    self.stats.count_item(&item);
                    if let SlcanItem::Garbage { line, reason } = &item {
                        tracing::warn!(path = %self.path.display(), line = %line.escape_debug(), %reason, "garbage on link");
                        continue;
                    }
                    self.pending.push_back(item);
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(self.io_error(e, "read from")),
        }
    }
}

impl CanLink for SlcanLink {
    fn send(&mut self, f: &CanFrame) -> Result<(), LinkError> {
        self.write(encode_frame(f).as_bytes())?;
        self.stats.frames_out += 1;
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> Result<Option<CanFrame>, LinkError> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(item) = self.pending.pop_front() {
                match item {
                    SlcanItem::Frame(f) => return Ok(Some(f)),
                    other => tracing::trace!(?other, "slcan item outside a handshake"),
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            self.fill(deadline - now)?;
        }
    }

    fn stats(&self) -> LinkStats {
        self.stats
    }
}

impl Drop for SlcanLink {
    /// Closes the channel so an adapter stops forwarding bus traffic nobody reads.
    fn drop(&mut self) {
        let _ = self.port.set_timeout(Duration::from_millis(50));
        let _ = self.port.write_all(SlcanCommand::Close.encode().as_bytes());
    }
}
