//! The body as CommonMark, and CommonMark as blocks.
//!
//! Export writes one Markdown block per block (consecutive list items form
//! one tight list, consecutive code blocks one fenced block). Text is
//! escaped so that it reads back as the same text: the characters that
//! Markdown gives a meaning anywhere (`\ ` * _ [ ] <`, `&` before a name,
//! `!` before a link) always, those that only mean something at the start
//! of a line (`# - + > ~`, `1.`) there; leading and trailing white space
//! is written as character references, which Markdown does not strip. Bold
//! is `**`, italic `_`, code a backtick span, a link `[text](url)`. Where
//! CommonMark's delimiter rules would not read a `**` or `_` as intended
//! (next to a space, or between a word and punctuation), the characters
//! on either side are written as character references, which always reads
//! back correctly.
//!
//! Import maps paragraphs, headings, list items (nested ones flattened),
//! block quotes (each paragraph inside one becomes a quote) and code
//! blocks (one block per line) to blocks; emphasis, strong emphasis, code
//! spans and links to marks (links to anything but `http:`, `https:` and
//! `mailto:` keep their text and lose the link; an image becomes a link
//! to it). HTML is kept as literal text. Thematic breaks are dropped.
//!
//! What does not survive a round trip: empty paragraphs (Markdown has
//! none), marks inside code blocks, list nesting, and one rare shape: a
//! block that starts with a link whose text has inline code containing
//! `]:` reads back as a link reference definition, because code spans
//! cannot escape the `]` that ends the definition's label.

use super::rich::{self, Block, BlockKind, Run, Style};
use super::{DocError, MARKDOWN_BYTES_MAX};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};

/// A character of text as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Plain(char),
    Escaped(char),
    Entity(char),
}

impl Unit {
    fn first(self) -> char {
        match self {
            Unit::Plain(c) => c,
            Unit::Escaped(_) => '\\',
            Unit::Entity(_) => '&',
        }
    }

    fn last(self) -> char {
        match self {
            Unit::Plain(c) | Unit::Escaped(c) => c,
            Unit::Entity(_) => ';',
        }
    }

    fn write(self, out: &mut String) {
        match self {
            Unit::Plain(c) => out.push(c),
            Unit::Escaped(c) => {
                out.push('\\');
                out.push(c);
            }
            Unit::Entity(c) => out.push_str(&format!("&#{};", u32::from(c))),
        }
    }

    /// As a character reference, unless it already starts and ends with
    /// punctuation.
    fn referenced(self) -> Unit {
        match self {
            Unit::Plain(c) => Unit::Entity(c),
            other => other,
        }
    }
}

/// A mark that delimiters open and close.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Mk {
    Link(String),
    Bold,
    Italic,
}

#[derive(Clone, Debug)]
enum Delim {
    Open(Mk),
    Close(Mk),
}

impl Delim {
    fn source(&self) -> String {
        match self {
            Delim::Open(Mk::Link(_)) => "[".to_owned(),
            Delim::Close(Mk::Link(url)) => format!("]({})", destination(url)),
            Delim::Open(Mk::Bold) | Delim::Close(Mk::Bold) => "**".to_owned(),
            Delim::Open(Mk::Italic) | Delim::Close(Mk::Italic) => "_".to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
enum Piece {
    Text(Vec<Unit>),
    Code(String),
    Delims(Vec<Delim>),
}

impl Piece {
    fn first(&self) -> Option<char> {
        match self {
            Piece::Text(units) => units.first().map(|u| u.first()),
            Piece::Code(_) => Some('`'),
            Piece::Delims(d) => d.first().and_then(|d| d.source().chars().next()),
        }
    }

    fn last(&self) -> Option<char> {
        match self {
            Piece::Text(units) => units.last().map(|u| u.last()),
            Piece::Code(_) => Some('`'),
            Piece::Delims(d) => d.last().and_then(|d| d.source().chars().last()),
        }
    }
}

/// A link destination: bare when that is unambiguous, else in `<>`;
/// characters Markdown would interpret are escaped.
fn destination(url: &str) -> String {
    let bare = !url.contains(['(', ')', '<', '>', '\\']);
    let mut out = String::with_capacity(url.len() + 2);
    if !bare {
        out.push('<');
    }
    for c in url.chars() {
        if matches!(c, '<' | '>' | '\\' | '&') {
            out.push('\\');
        }
        out.push(c);
    }
    if !bare {
        out.push('>');
    }
    out
}

/// A code span holding `text` exactly.
fn code_span(text: &str) -> String {
    let mut longest = 0;
    let mut current = 0;
    for c in text.chars() {
        if c == '`' {
            current += 1;
            longest = longest.max(current);
        } else {
            current = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let all_spaces = text.chars().all(|c| c == ' ');
    let pad =
        text.starts_with('`') || text.ends_with('`') || (text.starts_with(' ') && text.ends_with(' ') && !all_spaces);
    let pad = if pad { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// How CommonMark's delimiter rules see a character next to `*` or `_`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Space,
    Punct,
    Other,
    /// Not sure how the parser classifies it: always referenced.
    Unknown,
}

fn class(c: Option<char>) -> Class {
    match c {
        None => Class::Space,
        Some(c) if c.is_whitespace() => Class::Space,
        Some(c) if c.is_ascii_punctuation() => Class::Punct,
        Some(c) if c.is_alphanumeric() => Class::Other,
        Some(c) if c.is_ascii() => Class::Unknown,
        Some(_) => Class::Unknown,
    }
}

/// Does a delimiter with these neighbours do what it is meant to?
fn delim_works(d: &Delim, left: Class, right: Class) -> bool {
    let (mk, open) = match d {
        Delim::Open(mk) => (mk, true),
        Delim::Close(mk) => (mk, false),
    };
    if matches!(mk, Mk::Link(_)) {
        return true;
    }
    if left == Class::Unknown || right == Class::Unknown {
        return false;
    }
    let left_flanking = right != Class::Space && (right != Class::Punct || left != Class::Other);
    let right_flanking = left != Class::Space && (left != Class::Punct || right != Class::Other);
    match (mk, open) {
        (Mk::Bold, true) => left_flanking,
        (Mk::Bold, false) => right_flanking,
        (_, true) => left_flanking && (!right_flanking || left == Class::Punct),
        (_, false) => right_flanking && (!left_flanking || right == Class::Punct),
    }
}

/// Does the delimiter group at `pieces[p]` work with its neighbours?
fn group_works(pieces: &[Piece], p: usize) -> bool {
    let Piece::Delims(group) = &pieces[p] else { return true };
    let before = p.checked_sub(1).and_then(|q| pieces[q].last());
    let after = pieces.get(p + 1).and_then(Piece::first);
    group.iter().enumerate().all(|(i, d)| {
        let left = if i == 0 {
            before
        } else {
            group[i - 1].source().chars().last()
        };
        let right = match group.get(i + 1) {
            Some(next) => next.source().chars().next(),
            None => after,
        };
        delim_works(d, class(left), class(right))
    })
}

/// The characters of a run as Markdown text units.
fn escape(text: &str, heading: bool) -> Vec<Unit> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' => Unit::Escaped(c),
            '#' if heading => Unit::Escaped(c),
            '&' if chars.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric() || *n == '#') => Unit::Escaped(c),
            '!' if i + 1 == chars.len() => Unit::Escaped(c),
            c if c.is_control() && c != '\t' => Unit::Entity(c),
            c => Unit::Plain(c),
        })
        .collect()
}

/// One block's inline content.
fn inline(runs: &[Run], heading: bool) -> String {
    let mut pieces: Vec<Piece> = Vec::new();
    let mut stack: Vec<Mk> = Vec::new();
    for run in runs {
        let mut want = Vec::new();
        if let Some(url) = &run.link {
            want.push(Mk::Link(url.clone()));
        }
        if run.bold {
            want.push(Mk::Bold);
        }
        if run.italic {
            want.push(Mk::Italic);
        }
        let keep = stack.iter().take_while(|m| want.contains(m)).count();
        let mut group = Vec::new();
        while stack.len() > keep {
            group.push(Delim::Close(stack.pop().expect("the stack is longer than keep")));
        }
        for m in want {
            if !stack.contains(&m) {
                group.push(Delim::Open(m.clone()));
                stack.push(m);
            }
        }
        if !group.is_empty() {
            pieces.push(Piece::Delims(group));
        }
        pieces.push(if run.code {
            Piece::Code(code_span(&run.text))
        } else {
            Piece::Text(escape(&run.text, heading))
        });
    }
    if !stack.is_empty() {
        pieces.push(Piece::Delims(stack.into_iter().rev().map(Delim::Close).collect()));
    }

    // What only means something at the start or end of a line.
    if let Some(Piece::Text(units)) = pieces.first_mut() {
        line_start(units);
    }
    if let Some(Piece::Text(units)) = pieces.last_mut()
        && let Some(last) = units.last_mut()
        && last.first().is_whitespace()
    {
        *last = last.referenced();
    }

    // Delimiters that would not read as meant: reference their neighbours.
    // Referencing only adds punctuation, which makes a delimiter work, so
    // this settles in a pass or two.
    loop {
        let mut changed = false;
        for p in 0..pieces.len() {
            if group_works(&pieces, p) {
                continue;
            }
            if let Some(Piece::Text(units)) = p.checked_sub(1).and_then(|q| pieces.get_mut(q))
                && let Some(u) = units.last_mut()
            {
                changed |= *u != u.referenced();
                *u = u.referenced();
            }
            if let Some(Piece::Text(units)) = pieces.get_mut(p + 1)
                && let Some(u) = units.first_mut()
            {
                changed |= *u != u.referenced();
                *u = u.referenced();
            }
        }
        if !changed {
            break;
        }
    }

    let mut out = String::new();
    for piece in &pieces {
        match piece {
            Piece::Text(units) => units.iter().for_each(|u| u.write(&mut out)),
            Piece::Code(span) => out.push_str(span),
            Piece::Delims(group) => group.iter().for_each(|d| out.push_str(&d.source())),
        }
    }
    out
}

/// Escapes what would start a heading, list, quote, fence or indented code
/// at the start of a line.
fn line_start(units: &mut [Unit]) {
    let Some(first) = units.first().copied() else { return };
    match first {
        Unit::Plain(c) if c.is_whitespace() => units[0] = Unit::Entity(c),
        Unit::Plain(c @ ('#' | '-' | '+' | '>' | '~' | '=')) => units[0] = Unit::Escaped(c),
        _ => {}
    }
    let digits = units
        .iter()
        .take_while(|u| matches!(u, Unit::Plain(c) if c.is_ascii_digit()))
        .count();
    if digits > 0
        && let Some(u @ Unit::Plain('.' | ')')) = units.get_mut(digits)
    {
        *u = Unit::Escaped(u.first());
    }
}

/// The blocks as CommonMark.
pub(crate) fn render(blocks: &[Block]) -> String {
    let mut out = String::new();
    let mut prev: Option<BlockKind> = None;
    let mut number = 0;
    let mut i = 0;
    while i < blocks.len() {
        let b = &blocks[i];
        if b.kind == BlockKind::Paragraph && b.is_empty() {
            // Markdown has no empty paragraph.
            i += 1;
            continue;
        }
        if let Some(p) = prev {
            let tight = p == b.kind && matches!(b.kind, BlockKind::BulletItem | BlockKind::NumberedItem);
            out.push_str(if tight { "\n" } else { "\n\n" });
        }
        if b.kind == BlockKind::NumberedItem && prev == Some(BlockKind::NumberedItem) {
            number += 1;
        } else {
            number = 1;
        }
        match b.kind {
            BlockKind::Paragraph => out.push_str(&inline(&b.runs, false)),
            BlockKind::Heading { level } => {
                out.push_str(&"#".repeat(usize::from(level.clamp(1, 6))));
                if !b.is_empty() {
                    out.push(' ');
                    out.push_str(&inline(&b.runs, true));
                }
            }
            BlockKind::BulletItem => {
                out.push('-');
                if !b.is_empty() {
                    out.push(' ');
                    out.push_str(&inline(&b.runs, false));
                }
            }
            BlockKind::NumberedItem => {
                out.push_str(&format!("{number}."));
                if !b.is_empty() {
                    out.push(' ');
                    out.push_str(&inline(&b.runs, false));
                }
            }
            BlockKind::Quote => {
                out.push('>');
                if !b.is_empty() {
                    out.push(' ');
                    out.push_str(&inline(&b.runs, false));
                }
            }
            BlockKind::CodeBlock => {
                let end = blocks[i..]
                    .iter()
                    .position(|b| b.kind != BlockKind::CodeBlock)
                    .map_or(blocks.len(), |n| i + n);
                let lines: Vec<String> = blocks[i..end].iter().map(Block::text).collect();
                let longest = lines
                    .iter()
                    .flat_map(|l| l.split(|c| c != '`'))
                    .map(str::len)
                    .max()
                    .unwrap_or(0);
                let fence = "`".repeat((longest + 1).max(3));
                out.push_str(&fence);
                out.push('\n');
                for l in &lines {
                    out.push_str(l);
                    out.push('\n');
                }
                out.push_str(&fence);
                prev = Some(BlockKind::CodeBlock);
                i = end;
                continue;
            }
        }
        prev = Some(b.kind);
        i += 1;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// A container block open while importing.
#[derive(Debug)]
enum Container {
    Quote { filled: bool },
    List { ordered: bool },
    Item { filled: bool },
}

/// The block being read.
#[derive(Debug)]
struct Leaf {
    kind: BlockKind,
    runs: Vec<Run>,
    /// Code and HTML blocks: their text as is, cut into lines at the end.
    raw: Option<String>,
}

#[derive(Debug, Default)]
struct Importer {
    blocks: Vec<Block>,
    containers: Vec<Container>,
    leaf: Option<Leaf>,
    bold: u32,
    italic: u32,
    links: Vec<Option<String>>,
    bytes: usize,
}

impl Importer {
    /// The kind a paragraph gets where it stands.
    fn context(&self) -> BlockKind {
        for (i, c) in self.containers.iter().enumerate().rev() {
            match c {
                Container::Item { .. } => {
                    let ordered = self.containers[..i]
                        .iter()
                        .rev()
                        .find_map(|c| match c {
                            Container::List { ordered } => Some(*ordered),
                            _ => None,
                        })
                        .unwrap_or(false);
                    return if ordered {
                        BlockKind::NumberedItem
                    } else {
                        BlockKind::BulletItem
                    };
                }
                Container::Quote { .. } => return BlockKind::Quote,
                Container::List { .. } => {}
            }
        }
        BlockKind::Paragraph
    }

    fn push_block(&mut self, block: Block) -> Result<(), DocError> {
        self.bytes += block.runs.iter().map(|r| r.text.len()).sum::<usize>() + 1;
        if self.bytes > super::BODY_BYTES_MAX {
            return Err(DocError::TooLarge(self.bytes));
        }
        for c in &mut self.containers {
            if let Container::Quote { filled } | Container::Item { filled } = c {
                *filled = true;
            }
        }
        self.blocks.push(block);
        Ok(())
    }

    fn open(&mut self, kind: BlockKind, raw: bool) -> Result<(), DocError> {
        self.close()?;
        self.leaf = Some(Leaf {
            kind,
            runs: Vec::new(),
            raw: raw.then(String::new),
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), DocError> {
        let Some(leaf) = self.leaf.take() else { return Ok(()) };
        match leaf.raw {
            Some(raw) => {
                let raw = raw.strip_suffix('\n').unwrap_or(&raw);
                for line in raw.split('\n') {
                    let line = rich::normalize(line).replace('\n', "");
                    self.push_block(Block::plain(leaf.kind, &line))?;
                }
                Ok(())
            }
            None => self.push_block(Block {
                kind: leaf.kind,
                runs: leaf.runs,
            }),
        }
    }

    fn text(&mut self, text: &str, code: bool) -> Result<(), DocError> {
        if let Some(Leaf { raw: Some(raw), .. }) = &mut self.leaf {
            raw.push_str(text);
            return Ok(());
        }
        if self.leaf.is_none() {
            self.open(self.context(), false)?;
        }
        let style = Style {
            bold: self.bold > 0,
            italic: self.italic > 0,
            code,
            link: self.links.last().cloned().flatten(),
        };
        let text = rich::normalize(text);
        for (i, piece) in text.split('\n').enumerate() {
            if i > 0 {
                self.line_break()?;
            }
            let leaf = self.leaf.as_mut().expect("a leaf was opened above");
            rich::push_run(&mut leaf.runs, piece, &style);
        }
        Ok(())
    }

    /// Ends the block and starts another of the same kind.
    fn line_break(&mut self) -> Result<(), DocError> {
        let kind = self.leaf.as_ref().map_or_else(|| self.context(), |l| l.kind);
        self.close()?;
        self.open(kind, false)
    }

    fn end_container(&mut self) -> Result<(), DocError> {
        self.close()?;
        let kind = self.context();
        match self.containers.pop() {
            Some(Container::Quote { filled: false } | Container::Item { filled: false }) => {
                self.push_block(Block { kind, runs: Vec::new() })
            }
            _ => Ok(()),
        }
    }

    fn event(&mut self, event: Event<'_>) -> Result<(), DocError> {
        match event {
            Event::Start(tag) => match tag {
                Tag::Paragraph => self.open(self.context(), false)?,
                Tag::Heading { level, .. } => {
                    let kind = if self.containers.is_empty() {
                        BlockKind::Heading { level: level as u8 }
                    } else {
                        self.context()
                    };
                    self.open(kind, false)?;
                }
                Tag::BlockQuote(_) => {
                    self.close()?;
                    self.containers.push(Container::Quote { filled: false });
                }
                Tag::CodeBlock(_) => self.open(BlockKind::CodeBlock, true)?,
                Tag::HtmlBlock => self.open(self.context(), true)?,
                Tag::List(start) => {
                    self.close()?;
                    self.containers.push(Container::List {
                        ordered: start.is_some(),
                    });
                }
                Tag::Item => {
                    self.close()?;
                    self.containers.push(Container::Item { filled: false });
                }
                Tag::Emphasis => self.italic += 1,
                Tag::Strong => self.bold += 1,
                Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                    let url = dest_url.to_string();
                    self.links.push(rich::url_ok(&url).then_some(url));
                }
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::HtmlBlock => self.close()?,
                TagEnd::BlockQuote(_) | TagEnd::Item => self.end_container()?,
                TagEnd::List(_) => {
                    self.close()?;
                    self.containers.pop();
                }
                TagEnd::Emphasis => self.italic = self.italic.saturating_sub(1),
                TagEnd::Strong => self.bold = self.bold.saturating_sub(1),
                TagEnd::Link | TagEnd::Image => {
                    self.links.pop();
                }
                _ => {}
            },
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                self.text(&t, false)?
            }
            Event::Code(t) => self.text(&t, true)?,
            Event::FootnoteReference(t) => self.text(&format!("[^{t}]"), false)?,
            Event::SoftBreak => self.text(" ", false)?,
            Event::HardBreak => self.line_break()?,
            Event::Rule => self.close()?,
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }, false)?,
        }
        Ok(())
    }
}

/// Reads CommonMark into blocks.
pub(crate) fn parse(md: &str) -> Result<Vec<Block>, DocError> {
    if md.len() > MARKDOWN_BYTES_MAX {
        return Err(DocError::TooLarge(md.len()));
    }
    let mut importer = Importer::default();
    for event in Parser::new(md) {
        importer.event(event)?;
    }
    importer.close()?;
    let blocks = rich::canonical(&importer.blocks);
    rich::check_blocks(&blocks)?;
    Ok(blocks)
}
