//! The board link (HIL port): one definition of the frame set shared by the firmware's
//! simulated board and the rig, the SLCAN codec, the carriers behind [`CanLink`], and a
//! `candump -L` log format.
//!
//! Layout contract: `docs/architecture.md`, mirrored in `fixtures/board.dbc`.

pub mod can_frame;
pub mod candump;
pub mod card;
pub mod carrier;
pub mod connector;
pub mod event;
pub mod frame;
pub mod pilot;
pub mod signals;
pub mod slcan;
pub mod slcan_link;
pub mod socketcan_link;
pub mod spec;
pub mod stats;
pub mod status;

pub use can_frame::{CanFrame, CanFrameError};
pub use card::{CardUid, CardUidError};
pub use carrier::{open, CanLink, LinkError};
pub use connector::ConnectorStatus;
pub use event::{BoardEvent, EventKind};
pub use frame::{DecodeError, Frame};
pub use pilot::PilotState;
pub use slcan::{SlcanCommand, SlcanDecoder, SlcanItem};
pub use slcan_link::SlcanLink;
pub use socketcan_link::SocketCanLink;
pub use spec::{LinkSpec, LinkSpecError};
pub use stats::LinkStats;
pub use status::BoardStatus;
