//! The carrier trait: anything that moves classic CAN frames to and from the board.

use crate::{CanFrame, LinkSpec, LinkSpecError, LinkStats};
use std::path::PathBuf;
use std::time::Duration;

/// A blocking CAN carrier. The rig wraps it in a thread; the firmware's simulated board
/// speaks the other end.
pub trait CanLink: Send {
    fn send(&mut self, f: &CanFrame) -> Result<(), LinkError>;
    /// Waits at most `timeout` for one frame; `Ok(None)` when none came.
    fn recv(&mut self, timeout: Duration) -> Result<Option<CanFrame>, LinkError>;
    /// What the link has counted so far (frames, garbage).
    fn stats(&self) -> LinkStats {
        LinkStats::default()
    }
}

/// Link failures, each worded as the problem and the fix.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Spec(#[from] LinkSpecError),
    #[error("no such device {}: is the adapter plugged in? (for a simulated board: is it running?)", .0.display())]
    NoSuchDevice(PathBuf),
    #[error("permission denied on {}: add yourself to the dialout group (sudo usermod -aG dialout $USER) and log in again", .0.display())]
    PermissionDenied(PathBuf),
    #[error("{} is busy: another program holds it open (another rig command, minicom, slcand?); close it and retry", .0.display())]
    Busy(PathBuf),
    #[error("{} did not answer {command:?} within {waited_ms} ms: is it an SLCAN device? wrong baud rate?", .path.display())]
    NoHandshake {
        path: PathBuf,
        command: String,
        waited_ms: u64,
    },
    #[error("{} refused {command:?} (answered BEL): is the channel already open by another program, or is the bit rate unsupported?", .path.display())]
    Refused { path: PathBuf, command: String },
    #[error("{what} went away: the device was unplugged or the board lost power")]
    Disconnected { what: String },
    #[error("no CAN interface {0}: {fix}", fix = no_interface_fix(.0))]
    NoInterface(String),
    #[error("this kernel has no SocketCAN ({0}): load the modules (modprobe can can-raw vcan) or use an slcan: link")]
    SocketCanUnsupported(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// The fix for a missing interface: virtual ones are created, real ones come with an adapter.
fn no_interface_fix(iface: &str) -> String {
    if iface.starts_with("vcan") {
        format!("create it (ip link add dev {iface} type vcan && ip link set up {iface})")
    } else {
        format!("is the adapter plugged in and its driver loaded? bring it up with `ip link set {iface} up type can bitrate 500000` (check names with `ip link`)")
    }
}

impl LinkError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// True when the other end disappeared (unplugged, power cut), so a client may reopen.
    pub fn is_disconnect(&self) -> bool {
        matches!(self, Self::Disconnected { .. } | Self::NoSuchDevice(_))
    }
}

/// Opens the carrier a `LinkSpec` names (SLCAN with the handshake, or SocketCAN).
pub fn open(spec: &LinkSpec) -> Result<Box<dyn CanLink>, LinkError> {
    Ok(match spec {
        LinkSpec::Slcan { device, baud } => Box::new(crate::SlcanLink::open(device, *baud)?),
        LinkSpec::SocketCan { iface } => Box::new(crate::SocketCanLink::open(iface)?),
    })
}
