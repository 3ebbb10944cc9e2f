//! A postmortem's markdown as HTML, for reading it in the browser. The markdown carries chat
//! text, which is hostile: raw HTML in it is shown as text, never passed through; a link keeps
//! its target only when that is a web or mail address; an image is shown as its description
//! (no outside images on the page).

use pulldown_cmark::{Event, Options, Parser, Tag, html};

/// The HTML of `markdown`, safe to put inside a page.
pub fn to_html(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Html(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Image(..)) | Event::End(Tag::Image(..)) => None,
        Event::Start(Tag::Link(_, ref target, _)) | Event::End(Tag::Link(_, ref target, _))
            if !safe(target) =>
        {
            None
        }
        other => Some(other),
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// A link target that leaves the page for the web or mail, or stays on it.
fn safe(target: &str) -> bool {
    let target = target.trim_start().to_ascii_lowercase();
    ["https://", "http://", "mailto:", "#"]
        .iter()
        .any(|start| target.starts_with(start))
        || (target.starts_with('/') && !target.starts_with("//"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_text_and_only_safe_links_stay() {
        let html = to_html(
            "# Title <b>x</b>\n\n<script>alert(1)</script>\n\n\
             a <img src=x onerror=alert(1)> b [run](javascript:alert(1)) \
             [pr](https://example.com/pull/1) ![pic](https://evil.example/p.png)\n",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<h1>Title &lt;b&gt;x&lt;/b&gt;</h1>"),
            "{html}"
        );
        assert!(html.contains("run"), "{html}");
        assert!(
            html.contains("<a href=\"https://example.com/pull/1\">pr</a>"),
            "{html}"
        );
        assert!(
            html.contains("pic") && !html.contains("evil.example"),
            "{html}"
        );
    }

    #[test]
    fn tables_and_lists_render() {
        let html = to_html("| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n");
        assert!(
            html.contains("<table>") && html.contains("<td>1</td>"),
            "{html}"
        );
        assert!(html.contains("<li>one</li>"), "{html}");
    }
}
