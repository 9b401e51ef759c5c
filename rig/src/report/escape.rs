//! Text into HTML and SVG: one escaper for both, since SVG is inlined into the page.

use std::fmt::Write as _;

/// Escapes `&`, `<`, `>`, `"` and `'`, and drops control characters XML does not allow.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push_esc(&mut out, s);
    out
}

/// [`esc`] appending to `out` (the renderers build one big string).
pub fn push_esc(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
}

/// `s` cut to at most `max` characters, with an ellipsis and the size left out: frames can be
/// huge (a full local list) and the report must stay small.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((cut, _)) => {
            let mut out = s[..cut].to_string();
            let _ = write!(out, "… ({} more bytes)", s.len() - cut);
            out
        }
    }
}

/// A path relative to the report, as a URL: each segment percent-encoded where needed.
pub fn href(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn clips_long_text_on_a_character_boundary() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("ééééé", 2), "éé… (6 more bytes)");
    }

    #[test]
    fn href_encodes_spaces_and_keeps_slashes() {
        assert_eq!(href("a b/c#d.jsonl"), "a%20b/c%23d.jsonl");
    }
}
