//! Terminal manners: colour only when the stream is a terminal, and never when `NO_COLOR` is
//! set to anything non-empty (no-color.org), so logs, pipes and CI files stay plain text.

use std::io::IsTerminal;

/// Whether to colour output on a stream that `is_terminal`, given the value of `NO_COLOR`.
pub fn colour_wanted(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Colour on standard output?
pub fn stdout_colour() -> bool {
    colour_wanted(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// Colour on standard error?
pub fn stderr_colour() -> bool {
    colour_wanted(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// The colours the rig uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Red,
    Green,
    Yellow,
    Grey,
}

/// `text` in `colour` when `enabled`, else unchanged.
pub fn paint(text: &str, colour: Colour, enabled: bool) -> String {
    if !enabled {
        return text.to_string();
    }
    let code = match colour {
        Colour::Red => "1;31",
        Colour::Green => "32",
        Colour::Yellow => "1;33",
        Colour::Grey => "90",
    };
    format!("\u{1b}[{code}m{text}\u{1b}[0m")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, None));
    }

    #[test]
    fn paint_is_plain_when_disabled() {
        assert_eq!(paint("FAIL", Colour::Red, false), "FAIL");
        assert_eq!(
            paint("FAIL", Colour::Red, true),
            "\u{1b}[1;31mFAIL\u{1b}[0m"
        );
    }
}
