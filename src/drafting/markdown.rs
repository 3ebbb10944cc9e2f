//! User text made inert for a markdown draft: it reads as the person typed it, but it cannot
//! ping anyone, run as HTML, open a link under a false name, or change the document's structure.

/// Longer text (a pasted log) is cut: the draft is a summary, the chat keeps the rest.
pub const MAX_INLINE_CHARS: usize = 500;

const MASS_MENTIONS: [&str; 3] = ["everyone", "here", "channel"];

/// One line of markdown from user text: whitespace runs (line breaks included) become one
/// space; control and bidirectional-override characters go; `\ < > [ ]` are escaped, so is a
/// `(` after `]` (no links) and a block marker at the start (no headings, quotes or lists);
/// `@everyone`, `@here` and `@channel` get a zero-width space after the `@`.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_INLINE_CHARS * 2));
    let mut kept = 0;
    let mut space = false;
    let mut prev = None;
    let mut truncated = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if c.is_control() || is_bidi_control(c) {
            continue;
        }
        if kept >= MAX_INLINE_CHARS {
            truncated = true;
            break;
        }
        if space && !out.is_empty() {
            out.push(' ');
            kept += 1;
        }
        space = false;
        match c {
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '[' => out.push_str("\\["),
            ']' => out.push_str("\\]"),
            '(' if prev == Some(']') => out.push_str("\\("),
            '@' if mass_mention_follows(&text[i + 1..]) => out.push_str("@\u{200b}"),
            c if out.is_empty() && is_block_marker(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        prev = Some(c);
        kept += 1;
    }
    escape_ordered_list_marker(&mut out);
    if truncated {
        out.push_str(" … _(truncated)_");
    }
    out
}

fn mass_mention_follows(rest: &str) -> bool {
    MASS_MENTIONS.iter().any(|word| {
        rest.get(..word.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(word))
            && !rest[word.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Text for a data field (front matter): as written, minus control and bidirectional-override
/// characters, which would reorder or hide what a viewer shows.
pub fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect()
}

/// U+202A..U+202E (embeddings, overrides) and U+2066..U+2069 (isolates) reorder what follows.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn is_block_marker(c: char) -> bool {
    matches!(
        c,
        '#' | '>' | '-' | '+' | '*' | '=' | '|' | '~' | '`' | '_' | ':'
    )
}

/// `1. text` at the start of a paragraph would start a list.
fn escape_ordered_list_marker(out: &mut String) {
    let digits = out.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && matches!(out.as_bytes().get(digits), Some(b'.' | b')')) {
        out.insert(digits, '\\');
    }
}

/// An http(s) URL made safe as a markdown link target: the characters that could end the link
/// or start markup (`()<>[]"'\\`, spaces, controls) percent-encoded. Anything else: `None`.
pub fn link_target(url: &str) -> Option<String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '(' | ')' | '<' | '>' | '[' | ']' | '"' | '\'' | '\\' | '`' | ' ' => {
                out.push_str(&format!("%{:02X}", c as u32));
            }
            c if c.is_control() || c.is_whitespace() || is_bidi_control(c) => {
                return None;
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// A label for a Mermaid node: letters, digits and plain punctuation only, short.
pub fn diagram_label(text: &str) -> String {
    const MAX: usize = 48;
    let mut out = String::new();
    let mut count = 0;
    for word in text.split_whitespace() {
        let word: String = word
            .chars()
            .filter(|c| c.is_alphanumeric() || ".,:;!?%+-_/'()=".contains(*c))
            .filter(|c| !c.is_control() && !is_bidi_control(*c))
            .collect();
        if word.is_empty() {
            continue;
        }
        let len = word.chars().count();
        if count + len + 1 > MAX {
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push(' ');
            count += 1;
        }
        out.push_str(&word);
        count += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_stays_as_typed() {
        let text = "Load balanced all traffic to USA-2 (sacrificial cluster) so ${7*7} & {% raw %}";
        assert_eq!(inline(text), text);
        assert_eq!(
            inline("{{ 7*7 }} config.SECRET_KEY"),
            "{{ 7*7 }} config.SECRET_KEY"
        );
    }

    #[test]
    fn line_breaks_and_runs_of_space_become_one_space() {
        assert_eq!(inline("  a\r\n\r\nb \t c  "), "a b c");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            inline("<script>alert(1)</script> <img src=x>"),
            "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x&gt;"
        );
    }

    #[test]
    fn links_cannot_be_formed() {
        let out = inline("[click here](javascript:alert(1))");
        assert!(!out.contains("](javascript:"), "{out}");
        assert_eq!(out, "\\[click here\\]\\(javascript:alert(1))");
        // A backslash typed by the user cannot cancel an escape.
        assert_eq!(inline("\\[x\\](y)"), "\\\\\\[x\\\\\\]\\(y)");
    }

    #[test]
    fn block_markers_at_the_start_are_escaped() {
        assert_eq!(
            inline("# Heading injection --- | a |"),
            "\\# Heading injection --- | a |"
        );
        assert_eq!(inline("> quote"), "&gt; quote");
        assert_eq!(inline("- item"), "\\- item");
        assert_eq!(inline("12. item"), "12\\. item");
        assert_eq!(inline("```rust"), "\\```rust");
        assert_eq!(inline("version 1. fine"), "version 1. fine");
    }

    #[test]
    fn mass_mentions_cannot_ping() {
        assert_eq!(
            inline("@everyone @here @Channel @heres @hereby @everyone!"),
            "@\u{200b}everyone @\u{200b}here @\u{200b}Channel @heres @hereby @\u{200b}everyone!"
        );
    }

    #[test]
    fn control_and_bidi_characters_are_dropped() {
        assert_eq!(inline("a\0b\u{202e}c\u{2067}d\u{2069}\u{7}"), "abcd");
        assert_eq!(
            plain("inv\u{202e}oice\n<!channel> *x*"),
            "invoice<!channel> *x*"
        );
        // A zero-width space is no control and stays.
        assert_eq!(inline("fail\u{200b}over"), "fail\u{200b}over");
    }

    #[test]
    fn long_text_is_cut() {
        let long = format!("{} END-OF-DUMP", "x".repeat(20_000));
        let out = inline(&long);
        assert!(!out.contains("END-OF-DUMP"));
        assert!(out.chars().count() < MAX_INLINE_CHARS + 20);
        assert!(out.ends_with("_(truncated)_"));
    }

    #[test]
    fn diagram_labels_keep_words_and_drop_syntax() {
        assert_eq!(
            diagram_label("16:00 Resolved: \"all\" <b>good</b>"),
            "16:00 Resolved: all bgood/b"
        );
        assert_eq!(diagram_label("@here `x` [y]"), "here x y");
        let label = diagram_label(&"word ".repeat(40));
        assert!(
            label.ends_with('…') && label.chars().count() <= 49,
            "{label}"
        );
    }
}
