//! Slack message markup (`&lt;`, `<@U123>`, `<url|label>`, ...) back to plain text.
//!
//! Slack escapes only `&`, `<` and `>`; every raw `<` opens a markup span, so one pass over
//! the text decodes it. The result is plain text, not safe markup: mass mentions come out as
//! `@here` and neutralising them is the renderer's job.

/// Decodes Slack markup in `text`; `users` maps a user id to its display name.
pub fn decode(text: &str, users: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        push_entities(&mut out, &rest[..open]);
        let after = &rest[open + 1..];
        match after.find(['<', '>']) {
            Some(close) if after.as_bytes()[close] == b'>' => {
                push_span(&mut out, &after[..close], &users);
                rest = &after[close + 1..];
            }
            // No closing `>` before the next `<`: a stray bracket, kept as it is.
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    push_entities(&mut out, rest);
    out
}

/// One `<...>` span, without its brackets.
fn push_span(out: &mut String, inner: &str, users: &impl Fn(&str) -> Option<String>) {
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(label).filter(|l| !l.is_empty())),
        None => (inner, None),
    };
    if let Some(id) = target.strip_prefix('@') {
        out.push('@');
        match users(id) {
            Some(name) => out.push_str(&name),
            None => push_entities(out, label.map_or(id, |l| l.trim_start_matches('@'))),
        }
    } else if let Some(id) = target.strip_prefix('#') {
        out.push('#');
        push_entities(out, label.unwrap_or(id));
    } else if let Some(special) = target.strip_prefix('!') {
        match special {
            "here" | "channel" | "everyone" => {
                out.push('@');
                out.push_str(special);
            }
            _ => match (special.strip_prefix("subteam^"), label) {
                (_, Some(label)) => push_entities(out, label),
                (Some(group), None) => {
                    out.push('@');
                    push_entities(out, group);
                }
                (None, None) => push_entities(out, inner),
            },
        }
    } else if has_scheme(target) {
        let url = entities(target);
        match label.map(entities) {
            Some(label) if url_like(&label) && same_link(&label, &url) => out.push_str(&label),
            // A label that looks like another address must not hide where the link goes.
            Some(label) if url_like(&label) => {
                out.push_str(&label);
                out.push_str(" (");
                out.push_str(&url);
                out.push(')');
            }
            Some(label) => out.push_str(&label),
            None => out.push_str(&url),
        }
    } else {
        push_entities(out, inner);
    }
}

/// Whether `s` starts with a URL scheme such as `https:` or `mailto:`.
fn has_scheme(s: &str) -> bool {
    s.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// Whether a link label reads like an address (a reader would take it for the target).
fn url_like(label: &str) -> bool {
    let label = label.trim();
    !label.is_empty()
        && !label.contains(char::is_whitespace)
        && (has_scheme(label) || label.contains(['.', '@', '/']))
}

/// Whether a label names the link's own target, as Slack's auto-linking writes
/// `<http://example.com|example.com>` or `<mailto:a@b|a@b>`.
fn same_link(label: &str, url: &str) -> bool {
    fn bare(s: &str) -> &str {
        let s = s.trim();
        let s = match s.split_once(':') {
            Some((_, rest)) if has_scheme(s) => rest.trim_start_matches('/'),
            _ => s,
        };
        s.strip_prefix("www.").unwrap_or(s).trim_end_matches('/')
    }
    bare(label).eq_ignore_ascii_case(bare(url))
}

fn entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_entities(&mut out, s);
    out
}

/// Appends `s` with `&amp;`, `&lt;` and `&gt;` undone, in one pass (`&amp;lt;` gives `&lt;`).
fn push_entities(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let (decoded, len) = if tail.starts_with("&amp;") {
            ('&', 5)
        } else if tail.starts_with("&lt;") {
            ('<', 4)
        } else if tail.starts_with("&gt;") {
            ('>', 4)
        } else {
            ('&', 1)
        };
        out.push(decoded);
        rest = &tail[len..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> String {
        decode(text, |id| (id == "U1").then(|| "Layla حداد".to_string()))
    }

    #[test]
    fn entities_are_decoded_once() {
        assert_eq!(plain("5xx &lt; 1% &amp; p99 &gt; 3"), "5xx < 1% & p99 > 3");
        assert_eq!(plain("&amp;lt; stays"), "&lt; stays");
        assert_eq!(plain("AT&T &copy; &"), "AT&T &copy; &");
    }

    #[test]
    fn user_mentions_use_the_display_name() {
        assert_eq!(plain("<@U1> thanks"), "@Layla حداد thanks");
        assert_eq!(plain("<@U1|old>"), "@Layla حداد");
        assert_eq!(plain("<@U9>"), "@U9");
        assert_eq!(plain("<@U9|robin>"), "@robin");
        assert_eq!(plain("<@U9|>"), "@U9");
    }

    #[test]
    fn channels_and_special_mentions() {
        assert_eq!(plain("see <#C1|inc-42>"), "see #inc-42");
        assert_eq!(plain("<#C1>"), "#C1");
        assert_eq!(
            plain("<!here> <!channel> <!everyone|everyone>"),
            "@here @channel @everyone"
        );
        assert_eq!(plain("<!subteam^S1|@sre> ping"), "@sre ping");
        assert_eq!(plain("<!subteam^S1>"), "@S1");
        assert_eq!(
            plain("<!date^1392734382^{date} at {time}|Feb 18, 2014 at 6:39 AM>"),
            "Feb 18, 2014 at 6:39 AM"
        );
    }

    #[test]
    fn links_show_their_label_unless_it_hides_the_target() {
        assert_eq!(
            plain("<https://x.example/a?b=1&amp;c=2>"),
            "https://x.example/a?b=1&c=2"
        );
        assert_eq!(plain("<https://x.example|dashboard>"), "dashboard");
        assert_eq!(plain("<http://example.com|example.com>"), "example.com");
        assert_eq!(plain("<mailto:a@b.example|a@b.example>"), "a@b.example");
        assert_eq!(
            plain("<https://evil.example/login|https://bank.example/login>"),
            "https://bank.example/login (https://evil.example/login)"
        );
        assert_eq!(
            plain("<https://evil.example|bank.example>"),
            "bank.example (https://evil.example)"
        );
        assert_eq!(plain("<https://x.example|>"), "https://x.example");
    }

    #[test]
    fn unknown_forms_keep_their_text() {
        assert_eq!(plain("<foo bar>"), "foo bar");
        assert_eq!(plain("<!unknown>"), "!unknown");
        assert_eq!(plain("<>"), "");
    }

    #[test]
    fn stray_brackets_and_odd_input_never_panic() {
        assert_eq!(plain("a < b"), "a < b");
        assert_eq!(plain("a <<@U1>"), "a <@Layla حداد");
        assert_eq!(plain("<"), "<");
        assert_eq!(plain(">"), ">");
        assert_eq!(plain("&"), "&");
        assert_eq!(plain("<@"), "<@");
        assert_eq!(plain("مرحبا <@U1|ل> &amp"), "مرحبا @Layla حداد &amp");
        assert_eq!(plain("<|>"), "|");
        assert_eq!(plain("<:>"), ":");
        assert_eq!(plain("<!subteam^>"), "@");
    }

    #[test]
    fn every_cut_of_markup_decodes() {
        let text = "<@U1|ل> &amp;lt; <https://a.example|b.example> <!subteam^S|@x> <#C|c> é<>|&gt";
        let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        for &start in &cuts {
            for &end in cuts
                .iter()
                .chain([&text.len()])
                .filter(|&&end| end >= start)
            {
                plain(&text[start..end]);
            }
        }
    }
}

/// Text for a message Scribe posts: Slack reads `&`, `<` and `>` as markup, so escaping them
/// keeps quoted `<!everyone>` or `<@U…>` from notifying anyone.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod escape_tests {
    use super::*;

    #[test]
    fn escaped_text_cannot_mention() {
        assert_eq!(
            escape("<!everyone> & <@U1>"),
            "&lt;!everyone&gt; &amp; &lt;@U1&gt;"
        );
        assert_eq!(decode(&escape("a < b & c"), |_| None), "a < b & c");
    }
}
