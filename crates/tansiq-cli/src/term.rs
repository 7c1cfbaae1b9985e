//! Text bound for the terminal. Much of what the CLI prints was written
//! by someone else — partners' message texts, node and charter names,
//! release reasons, list entries from imported files — and a terminal
//! obeys escape sequences in it (retitle the window, clear the screen,
//! recolour or hide lines, on some terminals worse). Every line the CLI
//! prints goes through [`safe`]; single-line fields of listings through
//! [`one_line`] as well, so a name cannot fake a line of its own.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Control characters (C0, DEL, C1) and the bidirectional overrides and
/// isolates that reorder what is displayed ("Trojan source").
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) && !keep(c) {
            // `\uXXXX`: readable, and still valid inside a JSON string
            // (every character escaped here is in the BMP).
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` with every control character but newline and tab escaped as
/// `\uXXXX`, and bidirectional overrides too.
pub fn safe(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n' || c == '\t')
}

/// [`safe`], newlines and tabs escaped as well: for a field of a
/// one-line listing (a name, a reason).
pub fn one_line(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

/// A multi-line text under a listing line: continuation lines indented,
/// so they cannot pass for lines of the listing.
pub fn block(s: &str) -> String {
    s.replace('\n', "\n      ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_obey() {
        assert_eq!(safe("plain, عربي\n\tok"), "plain, عربي\n\tok");
        assert_eq!(
            safe("\u{1b}]0;x\u{7}\u{1b}[2J\r\u{9b}\u{202e}"),
            "\\u001b]0;x\\u0007\\u001b[2J\\u000d\\u009b\\u202e"
        );
        assert_eq!(one_line("a\nb\tc"), "a\\u000ab\\u0009c");
        // Still valid JSON inside a string.
        let j = serde_json::to_string("\u{9b}\u{7f}\u{1b}").unwrap();
        let back: String = serde_json::from_str(&safe(&j)).unwrap();
        assert_eq!(back, "\u{9b}\u{7f}\u{1b}");
        assert_eq!(block("a\nb"), "a\n      b");
    }
}
