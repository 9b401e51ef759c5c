//! `LINK` strings of the command line: `slcan:DEVICE[@BAUD]` or `can:IFACE`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Default serial speed: what USB-CDC adapters ignore and board UARTs commonly use.
pub const DEFAULT_BAUD: u32 = 115_200;

/// Where the board link is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSpec {
    /// SLCAN over a serial line (USB-CAN adapter, board UART, simulated board pty).
    Slcan { device: PathBuf, baud: u32 },
    /// Linux SocketCAN interface.
    SocketCan { iface: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkSpecError {
    #[error("unknown link {0:?}: write slcan:DEVICE[@BAUD] (e.g. slcan:/dev/ttyACM0@115200) or can:IFACE (e.g. can:vcan0)")]
    Scheme(String),
    #[error("link {0:?} names no device: write slcan:/dev/ttyACM0 (or the pty path a simulated board printed)")]
    NoDevice(String),
    #[error("link {0:?} names no interface: write can:can0 or can:vcan0")]
    NoInterface(String),
    #[error("link {link:?}: baud rate {baud:?} is not a positive number (e.g. @115200)")]
    Baud { link: String, baud: String },
    #[error("link {0:?}: a CAN interface name has at most 15 characters")]
    IfaceTooLong(String),
}

impl LinkSpec {
    pub fn parse(s: &str) -> Result<Self, LinkSpecError> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("slcan:") {
            let (device, baud) = match rest.rsplit_once('@') {
                Some((d, b)) => {
                    let baud = b.parse::<u32>().ok().filter(|b| *b > 0).ok_or_else(|| {
                        LinkSpecError::Baud {
                            link: s.to_string(),
                            baud: b.to_string(),
                        }
                    })?;
                    (d, baud)
                }
                None => (rest, DEFAULT_BAUD),
            };
            if device.is_empty() {
                return Err(LinkSpecError::NoDevice(s.to_string()));
            }
            Ok(Self::Slcan {
                device: PathBuf::from(device),
                baud,
            })
        } else if let Some(iface) = s.strip_prefix("can:") {
            if iface.is_empty() {
                return Err(LinkSpecError::NoInterface(s.to_string()));
            }
            if iface.len() > 15 {
                return Err(LinkSpecError::IfaceTooLong(s.to_string()));
            }
            Ok(Self::SocketCan {
                iface: iface.to_string(),
            })
        } else {
            Err(LinkSpecError::Scheme(s.to_string()))
        }
    }
}

impl FromStr for LinkSpec {
    type Err = LinkSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for LinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Slcan { device, baud } if *baud == DEFAULT_BAUD => {
                write!(f, "slcan:{}", device.display())
            }
            Self::Slcan { device, baud } => write!(f, "slcan:{}@{baud}", device.display()),
            Self::SocketCan { iface } => write!(f, "can:{iface}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(
            LinkSpec::parse("slcan:/dev/ttyACM0@115200").unwrap(),
            LinkSpec::Slcan {
                device: "/dev/ttyACM0".into(),
                baud: 115_200
            }
        );
        assert_eq!(
            LinkSpec::parse("slcan:/tmp/x/board").unwrap(),
            LinkSpec::Slcan {
                device: "/tmp/x/board".into(),
                baud: DEFAULT_BAUD
            }
        );
        assert_eq!(
            LinkSpec::parse("can:vcan0").unwrap(),
            LinkSpec::SocketCan {
                iface: "vcan0".into()
            }
        );
        for s in ["slcan:/dev/ttyACM0@921600", "can:can0", "slcan:/tmp/b"] {
            assert_eq!(LinkSpec::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn errors_name_the_fix() {
        let e = LinkSpec::parse("/dev/ttyACM0").unwrap_err();
        assert!(e.to_string().contains("slcan:DEVICE"), "{e}");
        assert!(matches!(
            LinkSpec::parse("slcan:"),
            Err(LinkSpecError::NoDevice(_))
        ));
        assert!(matches!(
            LinkSpec::parse("slcan:/dev/x@fast"),
            Err(LinkSpecError::Baud { .. })
        ));
        assert!(matches!(
            LinkSpec::parse("slcan:/dev/x@0"),
            Err(LinkSpecError::Baud { .. })
        ));
        assert!(matches!(
            LinkSpec::parse("can:"),
            Err(LinkSpecError::NoInterface(_))
        ));
        assert!(matches!(
            LinkSpec::parse("can:abcdefghijklmnop"),
            Err(LinkSpecError::IfaceTooLong(_))
        ));
    }
}
