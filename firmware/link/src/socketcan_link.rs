//! Linux SocketCAN carrier (`can0`, `vcan0`).

use crate::{CanFrame, CanLink, LinkError, LinkStats};
use socketcan::{CanSocket, EmbeddedFrame, Id, Socket, StandardId};
use std::time::{Duration, Instant};

pub struct SocketCanLink {
    socket: CanSocket,
    iface: String,
    stats: LinkStats,
}

impl SocketCanLink {
    pub fn open(iface: &str) -> Result<Self, LinkError> {
        let socket = CanSocket::open(iface).map_err(|e| match e.raw_os_error() {
            Some(19) => LinkError::NoInterface(iface.to_string()), // ENODEV
            Some(97) | Some(93) => LinkError::SocketCanUnsupported(e.to_string()), // EAFNOSUPPORT, EPROTONOSUPPORT
            _ if e.kind() == std::io::ErrorKind::PermissionDenied => LinkError::io(
                format!("cannot open {iface} (run as a user allowed to use raw CAN sockets)"),
                e,
            ),
            _ => LinkError::io(format!("cannot open CAN interface {iface}"), e),
        })?;
        Ok(Self {
            socket,
            iface: iface.to_string(),
            stats: LinkStats::default(),
        })
    }
}

impl CanLink for SocketCanLink {
    fn send(&mut self, f: &CanFrame) -> Result<(), LinkError> {
        let id = StandardId::new(f.id).ok_or_else(|| {
            LinkError::io(
                "send",
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("id 0x{:X} is not 11-bit", f.id),
                ),
            )
        })?;
        let frame = socketcan::CanFrame::new(id, f.payload()).ok_or_else(|| {
            LinkError::io(
                "send",
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "payload longer than 8 bytes",
                ),
            )
        })?;
        self.socket
            .write_frame(&frame)
            .map_err(|e| LinkError::io(format!("cannot write to {}", self.iface), e))?;
        self.stats.frames_out += 1;
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> Result<Option<CanFrame>, LinkError> {
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let frame = match self.socket.read_frame_timeout(deadline - now) {
                Ok(f) => f,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) if e.raw_os_error() == Some(19) || e.raw_os_error() == Some(100) => {
                    return Err(LinkError::Disconnected {
                        what: self.iface.clone(),
                    })
                }
                Err(e) => return Err(LinkError::io(format!("cannot read from {}", self.iface), e)),
            };
            self.stats.frames_in += 1;
            match (&frame, frame.id()) {
                (socketcan::CanFrame::Data(_), Id::Standard(id)) => {
                    if let Ok(f) = CanFrame::new(id.as_raw(), frame.data()) {
                        return Ok(Some(f));
                    }
                    self.stats.garbage += 1;
                }
                _ => {
                    // Remote, error and extended frames are not part of the frame set.
                    self.stats.garbage += 1;
                    tracing::warn!(iface = %self.iface, ?frame, "ignored CAN frame outside the frame set");
                }
            }
        }
    }

    fn stats(&self) -> LinkStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_interface_is_a_clear_error() {
        match SocketCanLink::open("nosuchcan9") {
            Err(LinkError::NoInterface(i)) => assert_eq!(i, "nosuchcan9"),
            Err(LinkError::SocketCanUnsupported(_)) => {} // this kernel has no SocketCAN at all
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => panic!("opened an interface that does not exist"),
        }
    }

    /// Live loopback through vcan0: runs only where the interface exists.
    #[test]
    fn vcan_round_trip() {
        if !std::path::Path::new("/sys/class/net/vcan0").exists() {
            eprintln!("skipped: no vcan0");
            return;
        }
        let mut a = SocketCanLink::open("vcan0").expect("open vcan0");
        let mut b = SocketCanLink::open("vcan0").expect("open vcan0");
        let f = CanFrame::new(0x123, &[1, 2, 3]).unwrap();
        a.send(&f).unwrap();
        let got = b.recv(Duration::from_secs(2)).unwrap();
        assert_eq!(got, Some(f));
    }
}
