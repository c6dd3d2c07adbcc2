//! Rich text in `ROOT.body`: reading blocks and marks, and the edits that
//! change them. The layout and the position convention are described in
//! the parent module.

use super::DocError;
use crate::am;
use automerge::iter::Span;
use automerge::marks::{ExpandMark, Mark, MarkSet};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ScalarValue, hydrate};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Longest link target, in bytes.
pub const URL_BYTES_MAX: usize = 2048;

/// What a block is.
///
/// As JSON: `{"type": "paragraph"}`, `{"type": "heading", "level": 2}`,
/// `{"type": "bullet_item"}`, `{"type": "numbered_item"}`,
/// `{"type": "quote"}`, `{"type": "code_block"}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockKind {
    /// Ordinary text.
    #[default]
    Paragraph,
    /// A heading.
    Heading {
        /// 1 (largest) to 6.
        level: u8,
    },
    /// An item of a bulleted list.
    BulletItem,
    /// An item of a numbered list.
    NumberedItem,
    /// A quotation.
    Quote,
    /// One line of preformatted code. Consecutive code blocks are shown and
    /// exported as one code block, one line each.
    CodeBlock,
}

impl BlockKind {
    /// Checks the heading level.
    pub fn check(self) -> Result<(), DocError> {
        match self {
            BlockKind::Heading { level } if !(1..=6).contains(&level) => Err(DocError::BadHeadingLevel(level)),
            _ => Ok(()),
        }
    }

    /// The kind of the block that a line break typed at the end of a block
    /// of this kind starts: list items, quotes and code continue, a heading
    /// is followed by a paragraph.
    pub(crate) fn continued(self) -> BlockKind {
        match self {
            BlockKind::Heading { .. } => BlockKind::Paragraph,
            other => other,
        }
    }

    /// The block marker's contents, in the shape automerge's rich-text
    /// tools use: `{type, parents, attrs}`.
    fn marker(self) -> hydrate::Map {
        let (ty, parents, level) = match self {
            BlockKind::Paragraph => ("paragraph", vec![], None),
            BlockKind::Heading { level } => ("heading", vec![], Some(level)),
            BlockKind::BulletItem => ("unordered-list-item", vec![], None),
            BlockKind::NumberedItem => ("ordered-list-item", vec![], None),
            BlockKind::Quote => ("paragraph", vec![hydrate::Value::from("blockquote")], None),
            BlockKind::CodeBlock => ("code-block", vec![], None),
        };
        let mut attrs: HashMap<&str, hydrate::Value> = HashMap::new();
        if let Some(level) = level {
            attrs.insert("level", hydrate::Value::from(i64::from(level)));
        }
        let mut map: HashMap<&str, hydrate::Value> = HashMap::new();
        map.insert("type", hydrate::Value::from(ty));
        map.insert("parents", hydrate::Value::from(parents));
        map.insert("attrs", hydrate::Value::Map(hydrate::Map::from(attrs)));
        hydrate::Map::from(map)
    }

    /// Reads a block marker; anything not understood is a paragraph.
    fn from_marker(map: &hydrate::Map) -> BlockKind {
        let text = |v: Option<&hydrate::Value>| match v {
            Some(hydrate::Value::Scalar(ScalarValue::Str(s))) => Some(s.to_string()),
            _ => None,
        };
        let quoted = match map.get("parents") {
            Some(hydrate::Value::List(list)) => list
                .iter()
                .any(|item| text(Some(&item.value)).as_deref() == Some("blockquote")),
            _ => false,
        };
        match text(map.get("type")).as_deref() {
            Some("heading") => {
                let level = match map.get("attrs") {
                    Some(hydrate::Value::Map(attrs)) => match attrs.get("level") {
                        Some(hydrate::Value::Scalar(ScalarValue::Int(i))) => *i,
                        Some(hydrate::Value::Scalar(ScalarValue::Uint(u))) => i64::try_from(*u).unwrap_or(6),
                        Some(hydrate::Value::Scalar(ScalarValue::F64(f))) => *f as i64,
                        _ => 1,
                    },
                    _ => 1,
                };
                BlockKind::Heading {
                    level: level.clamp(1, 6) as u8,
                }
            }
            Some("unordered-list-item") => BlockKind::BulletItem,
            Some("ordered-list-item") => BlockKind::NumberedItem,
            Some("code-block") => BlockKind::CodeBlock,
            Some("blockquote") => BlockKind::Quote,
            _ if quoted => BlockKind::Quote,
            _ => BlockKind::Paragraph,
        }
    }
}

/// A stretch of text with the same marks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Run {
    /// The text (never contains a line break).
    pub text: String,
    /// Bold.
    pub bold: bool,
    /// Italic.
    pub italic: bool,
    /// Inline code.
    pub code: bool,
    /// A link's target (`http:`, `https:` or `mailto:`).
    pub link: Option<String>,
}

impl Run {
    /// Unmarked text.
    pub fn plain(text: impl Into<String>) -> Run {
        Run {
            text: text.into(),
            ..Run::default()
        }
    }

    pub(crate) fn style(&self) -> Style {
        Style {
            bold: self.bold,
            italic: self.italic,
            code: self.code,
            link: self.link.clone(),
        }
    }
}

/// One block of the body: a paragraph, a heading, a list item...
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Block {
    /// What it is.
    pub kind: BlockKind,
    /// Its text, run by run; adjacent runs differ in their marks, and no run
    /// is empty (an empty block has no runs).
    pub runs: Vec<Run>,
}

impl Block {
    /// A block holding `text` without marks.
    pub fn plain(kind: BlockKind, text: &str) -> Block {
        let mut runs = Vec::new();
        push_run(&mut runs, text, &Style::default());
        Block { kind, runs }
    }

    /// The block's text without marks.
    pub fn text(&self) -> String {
        self.runs.iter().map(|r| r.text.as_str()).collect()
    }

    /// Its length in positions (Unicode code points).
    pub fn len(&self) -> usize {
        self.runs.iter().map(|r| r.text.chars().count()).sum()
    }

    /// Has it no text?
    pub fn is_empty(&self) -> bool {
        self.runs.iter().all(|r| r.text.is_empty())
    }
}

/// A mark that [`Edit::Format`] turns on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// Bold.
    Bold,
    /// Italic.
    Italic,
    /// Inline code.
    Code,
    /// A link; turning it on needs a `url`.
    Link,
}

impl MarkKind {
    /// Every mark.
    pub const ALL: [MarkKind; 4] = [MarkKind::Bold, MarkKind::Italic, MarkKind::Code, MarkKind::Link];

    /// The automerge mark name.
    fn name(self) -> &'static str {
        match self {
            MarkKind::Bold => "bold",
            MarkKind::Italic => "italic",
            MarkKind::Code => "code",
            MarkKind::Link => "link",
        }
    }

    /// Text typed at the end of bold, italic or code text takes the mark;
    /// text typed next to a link does not become part of it.
    fn expand(self) -> ExpandMark {
        match self {
            MarkKind::Link => ExpandMark::None,
            _ => ExpandMark::After,
        }
    }
}

/// One edit of a document, as the HTTP API and WebSocket clients send it:
/// JSON objects tagged by `"op"`, for example
/// `{"op": "insert", "at": 5, "text": "hello"}` or
/// `{"op": "format", "start": 0, "end": 5, "mark": "link", "on": true, "url": "https://example.com"}`.
///
/// Positions count Unicode code points in the body's visible text, where
/// each boundary between two blocks counts as one position (see
/// [`crate::doc`]). The edits of one batch apply in order, each to the
/// result of the previous ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Edit {
    /// Inserts `text` before position `at` (`at` may be the length, to
    /// append). A line break (`\n`, `\r\n` or `\r`) in `text` ends the block
    /// and starts a new one of the same kind (a paragraph after a heading);
    /// other control characters except tab are dropped.
    Insert {
        /// Where.
        at: usize,
        /// What.
        text: String,
    },
    /// Deletes `len` positions from `at`. Deleting a block boundary joins
    /// the two blocks; the joined block keeps the first one's kind.
    Delete {
        /// Where.
        at: usize,
        /// How many positions.
        len: usize,
    },
    /// Turns a mark on or off over the positions `start..end`.
    Format {
        /// First position.
        start: usize,
        /// One past the last position.
        end: usize,
        /// Which mark.
        mark: MarkKind,
        /// On or off.
        on: bool,
        /// The link target, when turning a link on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// Makes the block that contains position `at` a `kind` block. A block
    /// contains the positions from its start to its end inclusive.
    SetBlock {
        /// A position in the block.
        at: usize,
        /// Its new kind.
        kind: BlockKind,
    },
    /// Splits the block at position `at`: the text from `at` on becomes a
    /// new block of kind `kind` (this inserts one position, the boundary).
    SplitBlock {
        /// Where.
        at: usize,
        /// The new block's kind.
        kind: BlockKind,
    },
    /// Replaces the title.
    Title {
        /// The new title; line breaks become spaces.
        text: String,
    },
}

/// The marks of a stretch of text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Style {
    pub(crate) bold: bool,
    pub(crate) italic: bool,
    pub(crate) code: bool,
    pub(crate) link: Option<String>,
}

impl Style {
    /// Reads automerge marks. Only `true` turns a flag on; a link whose
    /// target is not an accepted URL is ignored.
    fn from_marks(marks: Option<&MarkSet>) -> Style {
        let mut style = Style::default();
        let Some(marks) = marks else { return style };
        for (name, value) in marks.iter() {
            let on = matches!(value, ScalarValue::Boolean(true));
            match name {
                "bold" => style.bold = on,
                "italic" => style.italic = on,
                "code" => style.code = on,
                "link" => {
                    if let ScalarValue::Str(url) = value
                        && url_ok(url)
                    {
                        style.link = Some(url.to_string());
                    }
                }
                _ => {}
            }
        }
        style
    }

    /// The automerge value `mark` should have, `None` for off.
    fn value(&self, mark: MarkKind) -> Option<ScalarValue> {
        match mark {
            MarkKind::Bold => self.bold.then_some(ScalarValue::Boolean(true)),
            MarkKind::Italic => self.italic.then_some(ScalarValue::Boolean(true)),
            MarkKind::Code => self.code.then_some(ScalarValue::Boolean(true)),
            MarkKind::Link => self.link.as_deref().map(|u| ScalarValue::Str(u.into())),
        }
    }
}

/// Appends `text` in `style` to `runs`, joining it to the last run when the
/// marks are the same.
pub(crate) fn push_run(runs: &mut Vec<Run>, text: &str, style: &Style) {
    if text.is_empty() {
        return;
    }
    if let Some(last) = runs.last_mut()
        && last.style() == *style
    {
        last.text.push_str(text);
        return;
    }
    runs.push(Run {
        text: text.to_owned(),
        bold: style.bold,
        italic: style.italic,
        code: style.code,
        link: style.link.clone(),
    });
}

/// Is `url` a link target Outpost accepts: `http://`, `https://` or
/// `mailto:`, at most [`URL_BYTES_MAX`] bytes, without spaces, control
/// characters or the ASCII characters URLs never hold unencoded
/// (`" < > \ ^ ` { | }`)?
pub fn url_ok(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let scheme = ["http://", "https://", "mailto:"]
        .iter()
        .find(|s| lower.starts_with(*s));
    match scheme {
        Some(s) => {
            url.len() > s.len()
                && url.len() <= URL_BYTES_MAX
                && !url
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "\"<>\\^`{|}".contains(c))
        }
        None => false,
    }
}

/// [`url_ok`] as an error.
pub(crate) fn check_url(url: &str) -> Result<(), DocError> {
    if url_ok(url) {
        Ok(())
    } else {
        Err(DocError::BadUrl(url.chars().take(100).collect()))
    }
}

/// Text as a block holds it: line breaks (`\r\n`, `\r`, `\n`) become `\n`,
/// other control characters except tab are dropped.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// How a block begins in the automerge text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// The first block when the text does not begin with a marker.
    Implicit,
    /// A block marker at this index.
    Marker(usize),
    /// A `\n` at this index.
    Newline(usize),
}

/// One block as laid out in the automerge text.
#[derive(Clone, Debug)]
pub(crate) struct Laid {
    pub(crate) start: Start,
    /// The automerge index of its first character.
    pub(crate) text_start: usize,
    /// Its length in code points.
    pub(crate) len: usize,
    pub(crate) block: Block,
}

/// The body as laid out in the automerge text.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// Does the text begin with a block marker (which is not a position)?
    pub(crate) lead: bool,
    /// At least one block.
    pub(crate) blocks: Vec<Laid>,
}

/// A piece of the automerge text for comparing marks: a block boundary
/// (marker or `\n`), or characters with one style.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Boundary,
    Text(usize, Style),
}

impl Layout {
    /// Reads the spans of the body.
    pub(crate) fn from_spans(spans: impl IntoIterator<Item = Span>) -> Layout {
        let mut blocks: Vec<Laid> = Vec::new();
        let mut idx = 0usize;
        let mut lead = false;
        let implicit = || Laid {
            start: Start::Implicit,
            text_start: 0,
            len: 0,
            block: Block::default(),
        };
        for span in spans {
            match span {
                Span::Block(map) => {
                    lead |= idx == 0;
                    blocks.push(Laid {
                        start: Start::Marker(idx),
                        text_start: idx + 1,
                        len: 0,
                        block: Block {
                            kind: BlockKind::from_marker(&map),
                            runs: Vec::new(),
                        },
                    });
                    idx += 1;
                }
                Span::Text { text, marks } => {
                    let style = Style::from_marks(marks.as_deref());
                    if blocks.is_empty() {
                        blocks.push(implicit());
                    }
                    for (i, piece) in text.split('\n').enumerate() {
                        if i > 0 {
                            blocks.push(Laid {
                                start: Start::Newline(idx),
                                text_start: idx + 1,
                                len: 0,
                                block: Block::default(),
                            });
                            idx += 1;
                        }
                        let n = piece.chars().count();
                        let last = blocks.last_mut().expect("a block was pushed above");
                        last.len += n;
                        push_run(&mut last.block.runs, piece, &style);
                        idx += n;
                    }
                }
            }
        }
        if blocks.is_empty() {
            blocks.push(implicit());
        }
        Layout { lead, blocks }
    }

    /// Plain text (a body stored as a string, or missing).
    pub(crate) fn from_plain(text: &str) -> Layout {
        Layout::from_spans([Span::Text {
            text: text.to_owned(),
            marks: None,
        }])
    }

    /// The number of positions.
    pub(crate) fn len(&self) -> usize {
        let last = self.blocks.last().expect("a layout has a block");
        last.text_start + last.len - usize::from(self.lead)
    }

    /// The index of the block that contains position `pos`.
    pub(crate) fn block_at(&self, pos: usize) -> usize {
        let idx = pos + usize::from(self.lead);
        self.blocks.partition_point(|b| b.text_start <= idx).saturating_sub(1)
    }

    /// The blocks.
    pub(crate) fn blocks(&self) -> Vec<Block> {
        self.blocks.iter().map(|b| b.block.clone()).collect()
    }

    /// Any block marker at all?
    pub(crate) fn has_markers(&self) -> bool {
        self.blocks.iter().any(|b| matches!(b.start, Start::Marker(_)))
    }

    /// The automerge text as segments, with the runs of `runs(i)` for block
    /// `i`.
    fn segments<'a>(&'a self, runs: impl Fn(usize) -> &'a [Run]) -> Vec<Seg> {
        let mut out = Vec::new();
        for (i, b) in self.blocks.iter().enumerate() {
            if b.start != Start::Implicit {
                out.push(Seg::Boundary);
            }
            for r in runs(i) {
                out.push(Seg::Text(r.text.chars().count(), r.style()));
            }
        }
        out
    }
}

/// Writes `kind` into the block marker `marker`.
fn write_marker(doc: &mut AutoCommit, marker: &ObjId, kind: BlockKind) -> Result<(), DocError> {
    doc.update_object(marker, &hydrate::Value::Map(kind.marker()))
        .map_err(am::internal)
}

/// Inserts a block boundary before automerge index `idx`: a marker of
/// `kind`, or a `\n` when `plain` (only for paragraphs).
fn insert_boundary(
    doc: &mut AutoCommit,
    body: &ObjId,
    idx: usize,
    kind: BlockKind,
    plain: bool,
) -> Result<(), DocError> {
    if plain {
        debug_assert_eq!(kind, BlockKind::Paragraph);
        doc.splice_text(body, idx, 0, "\n").map_err(am::internal)
    } else {
        let marker = doc.split_block(body, idx).map_err(am::internal)?;
        write_marker(doc, &marker, kind)
    }
}

/// Gives the document a leading marker (of `kind`) when it has none, so
/// that later boundaries are markers too. Returns whether it did.
fn ensure_lead(doc: &mut AutoCommit, body: &ObjId, kind: BlockKind) -> Result<bool, DocError> {
    if starts_with_marker(doc, body) {
        return Ok(false);
    }
    insert_boundary(doc, body, 0, kind, false)?;
    Ok(true)
}

/// How far edits look around a position element by element (each step is
/// a lookup in automerge's index) before reading the whole body instead.
const SCAN_MAX: usize = 4096;

/// The element at automerge index `idx`, if it is a block boundary: a
/// marker (`Some(Some(its object))`) or a `\n` (`Some(None)`).
fn boundary_at(doc: &AutoCommit, body: &ObjId, idx: usize) -> Option<Option<ObjId>> {
    match automerge::ReadDoc::get(doc, body, idx) {
        Ok(Some((automerge::Value::Object(automerge::ObjType::Map), id))) => Some(Some(id)),
        Ok(Some((automerge::Value::Scalar(s), _))) if s.as_str() == Some("\n") => Some(None),
        _ => None,
    }
}

/// The kind a block marker gives.
fn marker_kind(doc: &AutoCommit, marker: &ObjId) -> BlockKind {
    match automerge::ReadDoc::hydrate(doc, marker, None) {
        Ok(hydrate::Value::Map(map)) => BlockKind::from_marker(&map),
        _ => BlockKind::Paragraph,
    }
}

/// The block that holds the cursor before automerge index `idx`: how it
/// starts and its kind. Looks back from `idx` for the boundary; reads the
/// whole layout only for a block longer than [`SCAN_MAX`].
fn block_of(doc: &AutoCommit, body: &ObjId, idx: usize) -> (Start, BlockKind) {
    let floor = idx.saturating_sub(SCAN_MAX);
    let mut i = idx;
    while i > floor {
        i -= 1;
        match boundary_at(doc, body, i) {
            Some(Some(marker)) => return (Start::Marker(i), marker_kind(doc, &marker)),
            Some(None) => return (Start::Newline(i), BlockKind::Paragraph),
            None => {}
        }
    }
    if floor == 0 {
        return (Start::Implicit, BlockKind::Paragraph);
    }
    let layout = layout(doc, body);
    let b = &layout.blocks[layout.block_at(idx - usize::from(layout.lead))];
    (b.start, b.block.kind)
}

/// Makes the block that starts at `start` (now of kind `current`) a
/// `kind` block.
fn set_kind(
    doc: &mut AutoCommit,
    body: &ObjId,
    start: Start,
    current: BlockKind,
    kind: BlockKind,
) -> Result<(), DocError> {
    if current == kind {
        return Ok(());
    }
    match start {
        Start::Marker(idx) => match boundary_at(doc, body, idx) {
            Some(Some(marker)) => write_marker(doc, &marker, kind),
            _ => Err(am::internal("a block marker was not where it was found")),
        },
        Start::Implicit => {
            ensure_lead(doc, body, kind)?;
            Ok(())
        }
        Start::Newline(idx) => {
            let idx = idx + usize::from(ensure_lead(doc, body, BlockKind::Paragraph)?);
            doc.splice_text(body, idx, 1, "").map_err(am::internal)?;
            insert_boundary(doc, body, idx, kind, false)
        }
    }
}

/// Reads the body's layout.
pub(crate) fn layout(doc: &AutoCommit, body: &ObjId) -> Layout {
    match automerge::ReadDoc::spans(doc, body) {
        Ok(spans) => Layout::from_spans(spans),
        Err(_) => Layout::from_plain(""),
    }
}

/// The number of positions, cheaply.
pub(crate) fn text_len(doc: &AutoCommit, body: &ObjId) -> usize {
    let len = automerge::ReadDoc::length(doc, body);
    len - usize::from(starts_with_marker(doc, body))
}

fn starts_with_marker(doc: &AutoCommit, body: &ObjId) -> bool {
    matches!(
        automerge::ReadDoc::get(doc, body, 0usize),
        Ok(Some((automerge::Value::Object(automerge::ObjType::Map), _)))
    )
}

fn out_of_range(at: usize, len: usize) -> DocError {
    DocError::OutOfRange { at, len }
}

/// Inserts `text` (normalised) at position `at`.
pub(crate) fn insert(doc: &mut AutoCommit, body: &ObjId, at: usize, text: &str) -> Result<(), DocError> {
    let len = text_len(doc, body);
    if at > len {
        return Err(out_of_range(at, len));
    }
    if text.is_empty() {
        return Ok(());
    }
    let lead = starts_with_marker(doc, body);
    let pieces: Vec<&str> = text.split('\n').collect();
    let kind = if pieces.len() > 1 && lead {
        block_of(doc, body, at + 1).1.continued()
    } else {
        BlockKind::Paragraph
    };
    let mut idx = at + usize::from(lead);
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            insert_boundary(doc, body, idx, kind, !lead)?;
            idx += 1;
        }
        if !piece.is_empty() {
            doc.splice_text(body, idx, 0, piece).map_err(am::internal)?;
            idx += piece.chars().count();
        }
    }
    Ok(())
}

/// Applies one edit to the body (the title is the caller's).
pub(crate) fn apply(doc: &mut AutoCommit, body: &ObjId, edit: &Edit) -> Result<(), DocError> {
    match edit {
        Edit::Insert { at, text } => {
            if text.len() > super::BODY_BYTES_MAX {
                return Err(DocError::TooLarge(text.len()));
            }
            insert(doc, body, *at, &normalize(text))
        }
        Edit::Delete { at, len } => {
            let total = text_len(doc, body);
            let end = at.checked_add(*len).filter(|end| *end <= total);
            if end.is_none() {
                return Err(out_of_range(at.saturating_add(*len), total));
            }
            if *len == 0 {
                return Ok(());
            }
            let lead = starts_with_marker(doc, body);
            let idx = at + usize::from(lead);
            let len = isize::try_from(*len).expect("a length within the text fits in isize");
            doc.splice_text(body, idx, len, "").map_err(am::internal)?;
            if !lead && starts_with_marker(doc, body) {
                // All the text before the first marker went (a body can
                // start with text before a marker after concurrent edits):
                // that marker would now lead and stop being a position.
                // Keep the emptied first block as a paragraph instead.
                insert_boundary(doc, body, 0, BlockKind::Paragraph, false)?;
            }
            Ok(())
        }
        Edit::Format {
            start,
            end,
            mark,
            on,
            url,
        } => {
            let total = text_len(doc, body);
            if start > end {
                return Err(DocError::BadRange {
                    start: *start,
                    end: *end,
                });
            }
            if *end > total {
                return Err(out_of_range(*end, total));
            }
            let value = match (mark, on) {
                (_, false) => None,
                (MarkKind::Link, true) => {
                    let url = url.as_deref().ok_or(DocError::MissingUrl)?;
                    check_url(url)?;
                    Some(url)
                }
                (_, true) => Some(""),
            };
            if start == end {
                return Ok(());
            }
            let lead = usize::from(starts_with_marker(doc, body));
            mark_range(doc, body, start + lead, end + lead, *mark, value)
        }
        Edit::SetBlock { at, kind } => {
            kind.check()?;
            let len = text_len(doc, body);
            if *at > len {
                return Err(out_of_range(*at, len));
            }
            let lead = usize::from(starts_with_marker(doc, body));
            let (start, current) = block_of(doc, body, at + lead);
            set_kind(doc, body, start, current, *kind)
        }
        Edit::SplitBlock { at, kind } => {
            kind.check()?;
            let len = text_len(doc, body);
            if *at > len {
                return Err(out_of_range(*at, len));
            }
            let lead = starts_with_marker(doc, body);
            if !lead && *kind == BlockKind::Paragraph {
                return insert_boundary(doc, body, *at, *kind, true);
            }
            let shift = usize::from(ensure_lead(doc, body, BlockKind::Paragraph)?);
            insert_boundary(doc, body, at + shift + usize::from(lead), *kind, false)
        }
        Edit::Title { .. } => Ok(()),
    }
}

/// Sets `mark` to `want` (`None`: off) over automerge indices `s..e`,
/// writing only where the text does not have that value already. Block
/// boundaries carry no marks and are skipped. The current marks come from
/// automerge's mark index, and the boundaries from looking at each element
/// (or at the whole layout for a range longer than [`SCAN_MAX`]), so the
/// cost follows the range, not the body.
fn mark_range(
    doc: &mut AutoCommit,
    body: &ObjId,
    s: usize,
    e: usize,
    mark: MarkKind,
    want: Option<&str>,
) -> Result<(), DocError> {
    let want = match (mark, want) {
        (_, None) => None,
        (MarkKind::Link, Some(url)) => Some(ScalarValue::Str(url.into())),
        (_, Some(_)) => Some(ScalarValue::Boolean(true)),
    };
    // What automerge holds for this mark, as this crate reads it.
    let mut current: Vec<(usize, usize, Option<ScalarValue>)> = automerge::ReadDoc::marks(doc, body)
        .map_err(am::internal)?
        .into_iter()
        .filter(|m| m.name == mark.name() && m.end > s && m.start < e)
        .map(|m| {
            let value = match &m.value {
                ScalarValue::Boolean(true) if mark != MarkKind::Link => Some(m.value.clone()),
                ScalarValue::Str(url) if mark == MarkKind::Link && url_ok(url) => Some(m.value.clone()),
                _ => None,
            };
            (m.start.max(s), m.end.min(e), value)
        })
        .collect();
    current.sort_by_key(|(a, _, _)| *a);
    // Stretches where the value differs from the one wanted.
    let mut differ: Vec<(usize, usize)> = Vec::new();
    let mut add = |a: usize, b: usize| match differ.last_mut() {
        Some((_, end)) if *end == a => *end = b,
        _ if b > a => differ.push((a, b)),
        _ => {}
    };
    let mut at = s;
    for (a, b, value) in &current {
        if *a > at && want.is_some() {
            add(at, *a);
        }
        let a = (*a).max(at);
        if b > &a && *value != want {
            add(a, *b);
        }
        at = at.max(*b);
    }
    if at < e && want.is_some() {
        add(at, e);
    }
    if differ.is_empty() {
        return Ok(());
    }
    // Cut out the boundaries.
    let boundaries: Vec<usize> = if e - s <= SCAN_MAX {
        (s..e).filter(|&i| boundary_at(doc, body, i).is_some()).collect()
    } else {
        layout(doc, body)
            .blocks
            .iter()
            .filter_map(|b| match b.start {
                Start::Marker(i) | Start::Newline(i) if (s..e).contains(&i) => Some(i),
                _ => None,
            })
            .collect()
    };
    let mut ranges = Vec::new();
    for (a, b) in differ {
        let mut from = a;
        for &x in boundaries.iter().filter(|&&x| x >= a && x < b) {
            if x > from {
                ranges.push((from, x));
            }
            from = x + 1;
        }
        if b > from {
            ranges.push((from, b));
        }
    }
    for (a, b) in ranges {
        match &want {
            Some(v) => doc
                .mark(body, Mark::new(mark.name().to_owned(), v.clone(), a, b), mark.expand())
                .map_err(am::internal)?,
            None => doc
                .unmark(body, mark.name(), a, b, mark.expand())
                .map_err(am::internal)?,
        }
    }
    Ok(())
}

/// Marks and unmarks so that the text's marks go from `current` to
/// `wanted` (the same text, segmented differently). Only the stretches that
/// differ are touched, so nothing is written when nothing differs.
fn apply_mark_diff(doc: &mut AutoCommit, body: &ObjId, current: &[Seg], wanted: &[Seg]) -> Result<(), DocError> {
    // Split both into pieces with the same boundaries.
    let mut pieces: Vec<Option<(usize, usize, &Style, &Style)>> = Vec::new();
    let (mut i, mut j) = (0, 0);
    let (mut used_i, mut used_j) = (0, 0);
    let mut idx = 0;
    while i < current.len() && j < wanted.len() {
        match (&current[i], &wanted[j]) {
            (Seg::Boundary, Seg::Boundary) => {
                pieces.push(None);
                idx += 1;
                i += 1;
                j += 1;
            }
            (Seg::Text(a, sa), Seg::Text(b, sb)) => {
                let n = (a - used_i).min(b - used_j);
                pieces.push(Some((idx, n, sa, sb)));
                idx += n;
                used_i += n;
                used_j += n;
                if used_i == *a {
                    i += 1;
                    used_i = 0;
                }
                if used_j == *b {
                    j += 1;
                    used_j = 0;
                }
            }
            _ => return Err(am::internal("the marks to write do not fit the text")),
        }
    }
    for mark in MarkKind::ALL {
        let mut ranges: Vec<(usize, usize, Option<ScalarValue>)> = Vec::new();
        let mut open: Option<(usize, usize, Option<ScalarValue>)> = None;
        for piece in &pieces {
            let Some((at, n, cur, want)) = piece else {
                ranges.extend(open.take());
                continue;
            };
            let (c, w) = (cur.value(mark), want.value(mark));
            if c == w {
                ranges.extend(open.take());
                continue;
            }
            match &mut open {
                Some((_, end, v)) if *end == *at && *v == w => *end += n,
                _ => {
                    ranges.extend(open.take());
                    open = Some((*at, at + n, w));
                }
            }
        }
        ranges.extend(open.take());
        for (start, end, value) in ranges {
            match value {
                Some(v) => doc
                    .mark(body, Mark::new(mark.name().to_owned(), v, start, end), mark.expand())
                    .map_err(am::internal)?,
                None => doc
                    .unmark(body, mark.name(), start, end, mark.expand())
                    .map_err(am::internal)?,
            }
        }
    }
    Ok(())
}

/// A body character or block boundary, for diffing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Tok {
    Char(char),
    Boundary,
}

/// How long a diff may search for a small edit before it settles for a
/// larger one. It bounds the work for huge, very different texts; the
/// result is correct either way.
const DIFF_TIME: std::time::Duration = std::time::Duration::from_millis(500);

/// Changes the body's text and block structure to `texts` (one per block)
/// with small edits, so concurrent edits elsewhere survive. With `kinds`,
/// blocks also get those kinds; without, new blocks continue the kind of
/// the block they were split from.
pub(crate) fn reshape(
    doc: &mut AutoCommit,
    body: &ObjId,
    texts: &[String],
    kinds: Option<&[BlockKind]>,
) -> Result<(), DocError> {
    let empty = [String::new()];
    let texts = if texts.is_empty() { &empty[..] } else { texts };
    let mut layout = layout(doc, body);
    let needs_markers = kinds.is_some_and(|k| k.iter().any(|k| *k != BlockKind::Paragraph));
    // A body with markers but text before the first (after concurrent
    // edits) gets a leading marker too, so that deleting that text cannot
    // turn the next marker into a leading one, which is not a boundary.
    if (needs_markers || layout.has_markers()) && !layout.lead {
        ensure_lead(doc, body, BlockKind::Paragraph)?;
        layout = self::layout(doc, body);
    }
    let plain = !layout.lead;

    let mut old = Vec::new();
    let mut old_kinds = Vec::new();
    for (i, b) in layout.blocks.iter().enumerate() {
        if i > 0 {
            old.push(Tok::Boundary);
        }
        old_kinds.push(b.block.kind);
        old.extend(b.block.runs.iter().flat_map(|r| r.text.chars()).map(Tok::Char));
    }
    let mut new = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            new.push(Tok::Boundary);
        }
        new.extend(t.chars().map(Tok::Char));
    }
    let ops = similar::capture_diff_slices_deadline(
        similar::Algorithm::Myers,
        &old,
        &new,
        Some(std::time::Instant::now() + DIFF_TIME),
    );

    let mut idx = usize::from(layout.lead);
    let mut kind = old_kinds[0];
    let mut old_block = 0;
    let mut new_block = 0;
    for op in ops {
        let (old_range, new_range) = (op.old_range(), op.new_range());
        match op.tag() {
            similar::DiffTag::Equal => {
                for t in &old[old_range.clone()] {
                    if *t == Tok::Boundary {
                        old_block += 1;
                        new_block += 1;
                        kind = old_kinds[old_block];
                    }
                }
                idx += old_range.len();
            }
            similar::DiffTag::Delete | similar::DiffTag::Replace | similar::DiffTag::Insert => {
                old_block += old[old_range.clone()].iter().filter(|t| **t == Tok::Boundary).count();
                if !old_range.is_empty() {
                    let n = isize::try_from(old_range.len()).expect("a text length fits in isize");
                    doc.splice_text(body, idx, n, "").map_err(am::internal)?;
                }
                let mut run = String::new();
                for t in &new[new_range] {
                    match t {
                        Tok::Char(c) => run.push(*c),
                        Tok::Boundary => {
                            if !run.is_empty() {
                                doc.splice_text(body, idx, 0, &run).map_err(am::internal)?;
                                idx += run.chars().count();
                                run.clear();
                            }
                            new_block += 1;
                            kind = match kinds {
                                Some(k) => k[new_block],
                                None => kind.continued(),
                            };
                            insert_boundary(doc, body, idx, if plain { BlockKind::Paragraph } else { kind }, plain)?;
                            idx += 1;
                        }
                    }
                }
                if !run.is_empty() {
                    doc.splice_text(body, idx, 0, &run).map_err(am::internal)?;
                    idx += run.chars().count();
                }
            }
        }
    }

    if let Some(kinds) = kinds {
        let layout = self::layout(doc, body);
        if layout.blocks.len() != kinds.len() {
            return Err(am::internal("the body does not have the blocks it was given"));
        }
        for (i, k) in kinds.iter().enumerate() {
            // Only a `\n` becomes a marker here, which keeps every index.
            let b = &layout.blocks[i];
            set_kind(doc, body, b.start, b.block.kind, *k)?;
        }
    }
    Ok(())
}

/// Makes the body's text, blocks and marks equal to `blocks` with small
/// edits.
pub(crate) fn set_blocks(doc: &mut AutoCommit, body: &ObjId, blocks: &[Block]) -> Result<(), DocError> {
    let default = [Block::default()];
    let blocks = if blocks.is_empty() { &default[..] } else { blocks };
    let texts: Vec<String> = blocks.iter().map(Block::text).collect();
    let kinds: Vec<BlockKind> = blocks.iter().map(|b| b.kind).collect();
    reshape(doc, body, &texts, Some(&kinds))?;
    let layout = layout(doc, body);
    let current = layout.segments(|i| &layout.blocks[i].block.runs);
    let wanted = layout.segments(|i| &blocks[i].runs);
    apply_mark_diff(doc, body, &current, &wanted)
}

/// Checks blocks given whole (by [`super::TextDoc::set_blocks`] or the
/// Markdown import): kinds, links, no control characters except tab, and
/// the total size.
pub(crate) fn check_blocks(blocks: &[Block]) -> Result<(), DocError> {
    let mut bytes = blocks.len().saturating_sub(1);
    for b in blocks {
        b.kind.check()?;
        for r in &b.runs {
            if r.text.chars().any(|c| c.is_control() && c != '\t') {
                return Err(DocError::BadText(
                    "a run contains a line break or a control character; split lines into blocks",
                ));
            }
            if let Some(url) = &r.link {
                check_url(url)?;
            }
            bytes += r.text.len();
        }
    }
    if bytes > super::BODY_BYTES_MAX {
        return Err(DocError::TooLarge(bytes));
    }
    Ok(())
}

/// Normalises blocks as [`Layout`] reads them back: runs merged when their
/// marks are equal, empty runs dropped, at least one block.
pub(crate) fn canonical(blocks: &[Block]) -> Vec<Block> {
    let mut out: Vec<Block> = blocks
        .iter()
        .map(|b| {
            let mut runs = Vec::new();
            for r in &b.runs {
                push_run(&mut runs, &r.text, &r.style());
            }
            Block { kind: b.kind, runs }
        })
        .collect();
    if out.is_empty() {
        out.push(Block::default());
    }
    out
}
