//! The body as an HTML fragment.
//!
//! Paragraphs are `<p>`, headings `<h1>` to `<h6>`, consecutive list items
//! one `<ul>` or `<ol>`, consecutive quotes one `<blockquote>` of `<p>`s,
//! consecutive code blocks one `<pre><code>`, a line each. Every text and
//! URL is escaped; the document cannot inject markup, and links can only
//! be `http:`, `https:` or `mailto:` (others never reach a [`Run`]).

use super::rich::{Block, BlockKind, Run};

/// Escapes text for element content and quoted attribute values.
pub(super) fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn runs(runs: &[Run], out: &mut String) {
    for r in runs {
        if let Some(url) = &r.link {
            out.push_str("<a href=\"");
            escape(url, out);
            out.push_str("\">");
        }
        if r.bold {
            out.push_str("<strong>");
        }
        if r.italic {
            out.push_str("<em>");
        }
        if r.code {
            out.push_str("<code>");
        }
        escape(&r.text, out);
        if r.code {
            out.push_str("</code>");
        }
        if r.italic {
            out.push_str("</em>");
        }
        if r.bold {
            out.push_str("</strong>");
        }
        if r.link.is_some() {
            out.push_str("</a>");
        }
    }
}

/// The blocks as HTML.
pub(crate) fn render(blocks: &[Block]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < blocks.len() {
        let kind = blocks[i].kind;
        let end = blocks[i..]
            .iter()
            .position(|b| b.kind != kind)
            .map_or(blocks.len(), |n| i + n);
        let group = &blocks[i..end];
        match kind {
            BlockKind::Paragraph => {
                for b in group {
                    out.push_str("<p>");
                    runs(&b.runs, &mut out);
                    out.push_str("</p>\n");
                }
            }
            BlockKind::Heading { level } => {
                let level = level.clamp(1, 6);
                for b in group {
                    out.push_str(&format!("<h{level}>"));
                    runs(&b.runs, &mut out);
                    out.push_str(&format!("</h{level}>\n"));
                }
            }
            BlockKind::BulletItem | BlockKind::NumberedItem => {
                let tag = if kind == BlockKind::BulletItem { "ul" } else { "ol" };
                out.push_str(&format!("<{tag}>\n"));
                for b in group {
                    out.push_str("<li>");
                    runs(&b.runs, &mut out);
                    out.push_str("</li>\n");
                }
                out.push_str(&format!("</{tag}>\n"));
            }
            BlockKind::Quote => {
                out.push_str("<blockquote>\n");
                for b in group {
                    out.push_str("<p>");
                    runs(&b.runs, &mut out);
                    out.push_str("</p>\n");
                }
                out.push_str("</blockquote>\n");
            }
            BlockKind::CodeBlock => {
                out.push_str("<pre><code>");
                for (n, b) in group.iter().enumerate() {
                    if n > 0 {
                        out.push('\n');
                    }
                    escape(&b.text(), &mut out);
                }
                out.push_str("</code></pre>\n");
            }
        }
        i = end;
    }
    out
}
