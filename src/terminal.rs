//! Text bound for a terminal. Chat text, channel names and file names reach errors and the
//! console; a control character in them (`ESC [2J` clears the screen, others retitle the
//! window or rewrite what was printed) must be shown, not obeyed.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character but newline and tab written out as an escape
/// (`\x1b`, `\u{9b}`), so that it prints as what it is.
pub fn inert(text: &str) -> Cow<'_, str> {
    let obeyed = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.contains(obeyed) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !obeyed(c) => shown.push(c),
            c if u32::from(c) < 0x80 => {
                let _ = write!(shown, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_written_out() {
        assert_eq!(inert("plain\ttext\nüber 📌"), "plain\ttext\nüber 📌");
        assert!(matches!(inert("plain"), Cow::Borrowed(_)));
        assert_eq!(
            inert("a\x1b[2Jb\rc\x07d\x7fe\u{9b}31mf\0"),
            "a\\x1b[2Jb\\x0dc\\x07d\\x7fe\\u{9b}31mf\\x00"
        );
    }
}
