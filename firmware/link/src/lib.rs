//! The board link (HIL port): one definition of the frame set shared by the firmware's
//! simulated board and the rig, the SLCAN codec, the carriers behind [`CanLink`], and a
//! `candump -L` log format.
//!
//! Layout contract: `docs/architecture.md`, mirrored in `fixtures/board.dbc`.
//!
//! ```
//! use chargerig_link::slcan::{encode_frame, SlcanDecoder, SlcanItem};
//! use chargerig_link::{Frame, PilotState};
//!
//! let line = encode_frame(&Frame::Pilot(PilotState::C).encode());
//! assert_eq!(line, "t100102\r");
//! let mut dec = SlcanDecoder::new();
//! assert_eq!(dec.push(b"t1001").count(), 0, "half a line waits for its CR");
//! let items: Vec<SlcanItem> = dec.push(b"02\r").collect();
//! let SlcanItem::Frame(raw) = &items[0] else { panic!() };
//! assert_eq!(Frame::decode(raw), Ok(Frame::Pilot(PilotState::C)));
//! ```

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
