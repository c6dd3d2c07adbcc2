//! A text document: a title and a rich-text body, with its metadata and
//! named versions.
//!
//! # Layout of the automerge document
//!
//! - `ROOT.title`: text.
//! - `ROOT.body`: text holding characters and *block markers*. A block
//!   marker is a map `{type, parents, attrs}` inserted into the text with
//!   automerge's `split_block`; it starts a block and says what kind it
//!   is: `type` is `paragraph`, `heading` (`attrs.level` 1 to 6),
//!   `unordered-list-item`, `ordered-list-item` or `code-block`; a quote
//!   is a `paragraph` whose `parents` list holds `"blockquote"`. A `\n`
//!   character also starts a block, a paragraph; text before the first
//!   marker is a paragraph too. A body written as plain text (by
//!   [`TextDoc::set_body`] on a new document, or by another automerge
//!   implementation) is therefore a list of paragraphs, one per line.
//! - Marks on `ROOT.body`: `bold`, `italic`, `code` (value `true`) and
//!   `link` (value: the URL). Bold, italic and code grow when text is
//!   typed at their end; links do not.
//! - `ROOT.meta` and `ROOT.versions`: see [`crate::meta`].
//!
//! Readers also accept a plain string as the title or the body. Unknown
//! marker types read as paragraphs, unknown marks are ignored, and a link
//! to anything but `http:`, `https:` or `mailto:` is not shown.
//!
//! While a body has no markers, new block boundaries are written as `\n`
//! so that plain-text readers still see lines; once a block needs another
//! kind, the body gets a leading marker and later boundaries are markers.
//!
//! # Positions
//!
//! Every position in this API ([`Edit`], [`TextDoc::text_len`]) counts
//! Unicode code points (not bytes, not UTF-16 units, not grapheme
//! clusters) of the body's *visible text*: the blocks' texts joined by one
//! separator each. Each boundary between two blocks is therefore exactly
//! one position, whether it is stored as a marker or as `\n`, and the
//! visible text is what [`TextDoc::body`] returns, with `\n` at each
//! boundary. A leading marker is not a position. For the blocks
//! `# Plan` and `Hello` the visible text is `Plan\nHello`: positions 0 to 4
//! lie in the heading (4 is its end), position 4 is also where the
//! boundary is, and 5 to 10 lie in the paragraph; [`TextDoc::text_len`]
//! is 10. automerge documents are opened with
//! [`automerge::TextEncoding::UnicodeCodePoint`] explicitly, so these are
//! automerge's indices, shifted by one when the body begins with a marker.
//!
//! # Edits
//!
//! [`TextDoc::apply_edits`] applies a batch of [`Edit`]s as one automerge
//! change: insert, delete, format (bold, italic, code, link), set a
//! block's kind, split a block, set the title. Each edit sees the result
//! of the previous ones. Any error (a position out of range, a bad URL or
//! heading level, text over [`BODY_BYTES_MAX`]) rolls the whole batch back.
//!
//! # Markdown and HTML
//!
//! [`TextDoc::to_markdown`] and [`TextDoc::to_html`] export the body only;
//! callers show or prepend the title. [`TextDoc::from_markdown`] and
//! [`TextDoc::import_markdown`] read CommonMark. Exporting and importing
//! again gives the same [`TextDoc::blocks`], except that Markdown has no
//! empty paragraph (they are left out), no marks inside code blocks and
//! no nested lists, and a block that starts with a link whose text has
//! inline code containing `]:` reads back as a link reference definition.
//!
//! # History
//!
//! [`TextDoc::heads`], [`TextDoc::at`] and [`TextDoc::restore`] view and
//! bring back past states; history is never rewritten: a restore is a new
//! change. [`diff`] compares two states line by line.

use crate::am;
use crate::meta::{self, NamedVersion};
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, Value, transaction::Transactable};
use serde::{Deserialize, Serialize};

mod html;
mod live;
mod markdown;
mod rich;
#[cfg(test)]
mod tests;

/// CommonMark as an HTML fragment, as [`TextDoc::to_html`] renders a body:
/// every text and URL escaped, no HTML from the source passed through.
/// For Markdown that is not a document's body (an announcement's text).
pub fn markdown_to_html(md: &str) -> Result<String, DocError> {
    Ok(html::render(&markdown::parse(md)?))
}

pub use live::describe_change;
pub use rich::{Block, BlockKind, Edit, MarkKind, Run, URL_BYTES_MAX, url_ok};

/// Largest body or title accepted, in bytes.
pub const BODY_BYTES_MAX: usize = 2 * 1024 * 1024;
/// Most edits in one [`TextDoc::apply_edits`] batch.
pub const EDITS_MAX: usize = 10_000;
/// Largest Markdown accepted for import, in bytes (Markdown spends bytes
/// on escapes, so this is larger than [`BODY_BYTES_MAX`]).
pub const MARKDOWN_BYTES_MAX: usize = 4 * BODY_BYTES_MAX;

/// A document could not be built or changed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocError {
    /// A change is not valid automerge.
    #[error("a change of this document is damaged: {0}")]
    BadChange(String),
    /// The document lacks the expected fields.
    #[error("this is not a text document (no title/body)")]
    NotText,
    /// Too large.
    #[error("the text is {0} bytes; the limit is 2 MiB (attach larger content as a file)")]
    TooLarge(usize),
    /// A position lies past the end of the body.
    #[error(
        "position {at} is past the end of the body, which has {len} positions (each block boundary counts as one); \
         reload the document and try again"
    )]
    OutOfRange {
        /// The position asked for.
        at: usize,
        /// The number of positions.
        len: usize,
    },
    /// A range ends before it starts.
    #[error("the range {start}..{end} ends before it starts")]
    BadRange {
        /// Its start.
        start: usize,
        /// Its end.
        end: usize,
    },
    /// A link target that is not accepted.
    #[error("links may only point to http:, https: or mailto: addresses without spaces, up to 2048 bytes; not {0:?}")]
    BadUrl(String),
    /// A link was turned on without a target.
    #[error("turning a link on needs a url")]
    MissingUrl,
    /// A heading level outside 1 to 6.
    #[error("heading level {0} does not exist; use 1 to 6")]
    BadHeadingLevel(u8),
    /// Blocks given whole hold text a block cannot hold.
    #[error("{0}")]
    BadText(&'static str),
    /// Too many edits at once.
    #[error("{0} edits in one batch; the limit is 10000 (send them in several batches)")]
    TooManyEdits(usize),
    /// A folder path that is not valid.
    #[error("the folder path {0:?} is not valid: {1}")]
    BadFolder(String, String),
    /// A name that is not valid.
    #[error("the {what} {name:?} is not valid: {why}")]
    BadName {
        /// What was named (a file, a version...).
        what: &'static str,
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Heads that are not valid.
    #[error("{0}")]
    BadHeads(String),
    /// A head that this document does not have.
    #[error("this document has no change {0}; it may not have arrived yet, or belong to another document")]
    UnknownHeads(String),
    /// Too many named versions.
    #[error("this document has 1024 named versions already; rename an existing one instead")]
    TooManyVersions,
    /// The document or file was deleted permanently.
    #[error("this was deleted permanently and cannot be changed")]
    Deleted,
    /// The changes are not those of a file entry.
    #[error("this is not a file entry (ROOT.kind is not \"file\")")]
    NotFile,
    /// The document is of a kind this version does not know.
    #[error("this document is of kind {0:?}, which this version of Outpost does not know; upgrade to open it")]
    UnknownKind(String),
    /// A project board: changed through its own edits.
    #[error("this is a project board: {0}")]
    Board(String),
    /// automerge refused an operation whose arguments were checked.
    #[error("automerge refused an edit that was checked first ({0}); this is a bug, please report it")]
    Internal(String),
}

/// A text document.
#[derive(Debug)]
pub struct TextDoc {
    doc: AutoCommit,
}

fn read_text(doc: &AutoCommit, key: &str) -> Option<String> {
    am::get_string(doc, &ROOT, key)
}

/// A title as stored: line breaks become spaces, other control characters
/// are dropped.
fn title_text(text: &str) -> String {
    rich::normalize(text).replace('\n', " ")
}

impl TextDoc {
    /// A new document titled `title` with an empty body, written by
    /// `actor`. Returns the document and its first change.
    pub fn create(actor: &[u8], title: &str) -> Result<(TextDoc, Vec<u8>), DocError> {
        if title.len() > BODY_BYTES_MAX {
            return Err(DocError::TooLarge(title.len()));
        }
        let mut doc = am::new_doc(actor);
        let t = doc.put_object(ROOT, "title", ObjType::Text).map_err(am::internal)?;
        doc.splice_text(&t, 0, 0, title).map_err(am::internal)?;
        doc.put_object(ROOT, "body", ObjType::Text).map_err(am::internal)?;
        let change = am::commit(&mut doc).expect("a new document has operations");
        Ok((TextDoc { doc }, change))
    }

    /// Wraps an automerge document known to be a text document.
    pub(crate) fn from_automerge(doc: AutoCommit) -> TextDoc {
        TextDoc { doc }
    }

    /// A new document titled `title` whose body is the CommonMark `md`.
    /// Returns the document and its first change.
    pub fn from_markdown(actor: &[u8], title: &str, md: &str) -> Result<(TextDoc, Vec<u8>), DocError> {
        if title.len() > BODY_BYTES_MAX {
            return Err(DocError::TooLarge(title.len()));
        }
        let blocks = markdown::parse(md)?;
        let mut doc = am::new_doc(actor);
        let t = doc.put_object(ROOT, "title", ObjType::Text).map_err(am::internal)?;
        doc.splice_text(&t, 0, 0, title).map_err(am::internal)?;
        let body = doc.put_object(ROOT, "body", ObjType::Text).map_err(am::internal)?;
        rich::set_blocks(&mut doc, &body, &blocks)?;
        let change = am::commit(&mut doc).expect("a new document has operations");
        Ok((TextDoc { doc }, change))
    }

    /// Rebuilds a document from its changes (dependencies first or not:
    /// automerge orders them), as `actor` for later edits.
    pub fn from_changes(actor: &[u8], changes: impl IntoIterator<Item = Vec<u8>>) -> Result<TextDoc, DocError> {
        Ok(TextDoc {
            doc: am::from_changes(actor, changes)?,
        })
    }

    /// Loads a document saved with [`TextDoc::save`], as `actor`.
    pub fn load(actor: &[u8], bytes: &[u8]) -> Result<TextDoc, DocError> {
        Ok(TextDoc {
            doc: am::load_doc(actor, bytes)?,
        })
    }

    /// Applies changes as they arrive, to keep a document in memory
    /// current. All of them are applied or, if one is damaged, none. A
    /// change whose dependencies have not arrived waits until they do.
    pub fn apply_changes(&mut self, changes: impl IntoIterator<Item = Vec<u8>>) -> Result<(), DocError> {
        am::apply_changes(&mut self.doc, changes)
    }

    /// The title (empty once deleted permanently).
    pub fn title(&self) -> String {
        if self.deleted() {
            return String::new();
        }
        read_text(&self.doc, "title").unwrap_or_default()
    }

    /// The body's plain text: the blocks' texts, one line each (marks and
    /// block kinds left out). This is the visible text that positions count.
    pub fn body(&self) -> String {
        let blocks = self.blocks();
        let mut out = String::new();
        for (i, b) in blocks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            for r in &b.runs {
                out.push_str(&r.text);
            }
        }
        out
    }

    /// The body's blocks; at least one (an empty body is one empty
    /// paragraph).
    pub fn blocks(&self) -> Vec<Block> {
        if self.deleted() {
            return vec![Block::default()];
        }
        self.layout().blocks()
    }

    /// The number of positions in the body (see [the module
    /// documentation](self)): code points plus one per block boundary.
    pub fn text_len(&self) -> usize {
        if self.deleted() {
            return 0;
        }
        match self.body_ref() {
            Some(Ok(id)) => rich::text_len(&self.doc, &id),
            _ => self.layout().len(),
        }
    }

    /// The body: `Ok(text object)`, `Err(plain string)`, or missing.
    fn body_ref(&self) -> Option<Result<ObjId, String>> {
        match self.doc.get(ROOT, "body").ok()?? {
            (Value::Object(ObjType::Text), id) => Some(Ok(id)),
            (Value::Scalar(s), _) => Some(Err(s.as_str().unwrap_or_default().to_owned())),
            _ => None,
        }
    }

    fn layout(&self) -> rich::Layout {
        match self.body_ref() {
            Some(Ok(id)) => rich::layout(&self.doc, &id),
            Some(Err(text)) => rich::Layout::from_plain(&text),
            None => rich::Layout::from_plain(""),
        }
    }

    /// The body's text object, made from a plain string if need be
    /// (uncommitted).
    fn body_obj(&mut self) -> Result<ObjId, DocError> {
        match self.body_ref() {
            Some(Ok(id)) => Ok(id),
            other => {
                let current = match other {
                    Some(Err(text)) => text,
                    _ => String::new(),
                };
                let id = self.doc.put_object(ROOT, "body", ObjType::Text).map_err(am::internal)?;
                self.doc.splice_text(&id, 0, 0, &current).map_err(am::internal)?;
                Ok(id)
            }
        }
    }

    /// Sets the title (uncommitted).
    fn put_title(&mut self, text: &str) -> Result<(), DocError> {
        if text.len() > BODY_BYTES_MAX {
            return Err(DocError::TooLarge(text.len()));
        }
        match self.doc.get(ROOT, "title").map_err(am::internal)? {
            Some((Value::Object(ObjType::Text), id)) => self.doc.update_text(&id, text).map_err(am::internal),
            _ => {
                let id = self
                    .doc
                    .put_object(ROOT, "title", ObjType::Text)
                    .map_err(am::internal)?;
                self.doc.splice_text(&id, 0, 0, text).map_err(am::internal)
            }
        }
    }

    /// Runs `f` as one change: commits what it did, or rolls everything
    /// back if it fails.
    fn change(&mut self, f: impl FnOnce(&mut TextDoc) -> Result<(), DocError>) -> Result<Option<Vec<u8>>, DocError> {
        let result = f(self);
        am::finish(&mut self.doc, result)
    }

    fn check_not_deleted(&self) -> Result<(), DocError> {
        if self.deleted() { Err(DocError::Deleted) } else { Ok(()) }
    }

    /// Replaces the body's visible text with `text` (as a minimal diff, so
    /// concurrent edits elsewhere in the text survive). Lines are blocks:
    /// blocks and marks where the text did not change are kept, and a new
    /// line continues the kind of the block it was split from. Returns the
    /// change, or `None` if the text was already that.
    pub fn set_body(&mut self, text: &str) -> Result<Option<Vec<u8>>, DocError> {
        if text.len() > BODY_BYTES_MAX {
            return Err(DocError::TooLarge(text.len()));
        }
        self.check_not_deleted()?;
        self.change(|d| {
            let body = d.body_obj()?;
            if d.layout().has_markers() {
                let lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
                rich::reshape(&mut d.doc, &body, &lines, None)
            } else {
                d.doc.update_text(&body, text).map_err(am::internal)
            }
        })
    }

    /// Appends `text` to the body; a `\n` in it starts a new block. Returns
    /// the change.
    pub fn append(&mut self, text: &str) -> Result<Option<Vec<u8>>, DocError> {
        if text.len() > BODY_BYTES_MAX {
            return Err(DocError::TooLarge(text.len()));
        }
        self.check_not_deleted()?;
        self.change(|d| {
            let body = d.body_obj()?;
            let at = rich::text_len(&d.doc, &body);
            rich::insert(&mut d.doc, &body, at, text)
        })
    }

    /// Applies `edits` in order as one change. Returns the change, or
    /// `None` if they changed nothing. On any error nothing is changed.
    pub fn apply_edits(&mut self, edits: &[Edit]) -> Result<Option<Vec<u8>>, DocError> {
        if edits.len() > EDITS_MAX {
            return Err(DocError::TooManyEdits(edits.len()));
        }
        self.check_not_deleted()?;
        self.change(|d| {
            let body = d.body_obj()?;
            let mut inserted = false;
            for edit in edits {
                match edit {
                    Edit::Title { text } => d.put_title(&title_text(text))?,
                    other => {
                        inserted |= matches!(other, Edit::Insert { .. });
                        rich::apply(&mut d.doc, &body, other)?;
                    }
                }
            }
            // A code point is at most 4 bytes: count exactly only when the
            // body may be over the limit.
            if inserted && d.doc.length(&body).saturating_mul(4) > BODY_BYTES_MAX {
                let bytes = d.body().len();
                if bytes > BODY_BYTES_MAX {
                    return Err(DocError::TooLarge(bytes));
                }
            }
            Ok(())
        })
    }

    /// Makes the body's text, blocks and marks equal to `blocks`, with
    /// small edits. Returns the change, or `None` if it was already so.
    pub fn set_blocks(&mut self, blocks: &[Block]) -> Result<Option<Vec<u8>>, DocError> {
        rich::check_blocks(blocks)?;
        self.check_not_deleted()?;
        self.change(|d| {
            let body = d.body_obj()?;
            rich::set_blocks(&mut d.doc, &body, blocks)
        })
    }

    /// The body as CommonMark. The title is not included.
    pub fn to_markdown(&self) -> String {
        markdown::render(&self.blocks())
    }

    /// The body as an HTML fragment: every text and URL escaped, no HTML
    /// from the document passed through. The title is not included.
    pub fn to_html(&self) -> String {
        html::render(&self.blocks())
    }

    /// Replaces the body with the CommonMark `md`, changing only what
    /// differs. Returns the change, or `None` if nothing differed.
    pub fn import_markdown(&mut self, md: &str) -> Result<Option<Vec<u8>>, DocError> {
        let blocks = markdown::parse(md)?;
        self.set_blocks(&blocks)
    }

    /// The automerge binary of the whole document (loadable by other
    /// automerge implementations).
    pub fn save(&mut self) -> Vec<u8> {
        am::save(&mut self.doc)
    }

    /// The document's current heads (the hashes of its latest changes),
    /// sorted.
    pub fn heads(&mut self) -> Vec<[u8; 32]> {
        am::heads(&mut self.doc)
    }

    /// The document as it was at `heads`: a read-only view (it has an
    /// actor of its own; do not send its changes anywhere).
    pub fn at(&mut self, heads: &[[u8; 32]]) -> Result<TextDoc, DocError> {
        if heads.is_empty() {
            return Err(DocError::BadHeads(
                "no heads given; a past state needs at least one".to_owned(),
            ));
        }
        let hashes: Vec<ChangeHash> = heads.iter().map(|h| ChangeHash(*h)).collect();
        for h in &hashes {
            if self.doc.get_change_by_hash(h).is_none() {
                return Err(DocError::UnknownHeads(hex::encode(h.0)));
            }
        }
        let doc = self.doc.fork_at(&hashes).map_err(|e| match e {
            automerge::AutomergeError::InvalidHash(h) => DocError::UnknownHeads(hex::encode(h.0)),
            other => am::internal(other),
        })?;
        Ok(TextDoc { doc })
    }

    /// Makes the title and body (text, blocks and marks) equal to `past`'s
    /// as one new change; metadata and named versions are left alone.
    /// Returns the change, or `None` if they were equal already.
    pub fn restore(&mut self, past: &TextDoc) -> Result<Option<Vec<u8>>, DocError> {
        self.check_not_deleted()?;
        let title = past.title();
        let blocks = past.blocks();
        self.change(|d| {
            if d.title() != title {
                d.put_title(&title)?;
            }
            let body = d.body_obj()?;
            rich::set_blocks(&mut d.doc, &body, &blocks)
        })
    }

    /// The folder the document is filed in, `""` for the top level.
    pub fn folder(&self) -> String {
        meta::folder(&self.doc)
    }

    /// Files the document under `path` (such as `Marketing/Campaigns`).
    pub fn set_folder(&mut self, path: &str) -> Result<Option<Vec<u8>>, DocError> {
        self.check_not_deleted()?;
        self.change(|d| meta::set_folder(&mut d.doc, path))
    }

    /// Is the document in the trash?
    pub fn trashed(&self) -> bool {
        meta::trashed(&self.doc)
    }

    /// Moves the document to the trash, or back.
    pub fn set_trashed(&mut self, trashed: bool) -> Result<Option<Vec<u8>>, DocError> {
        self.check_not_deleted()?;
        self.change(|d| meta::set_flag(&mut d.doc, "trashed", trashed))
    }

    /// Was the document deleted permanently?
    pub fn deleted(&self) -> bool {
        meta::deleted(&self.doc)
    }

    /// Deletes the document permanently, as one change: marks it deleted
    /// and empties its title and body. From then on it reads as empty,
    /// even if an edit made concurrently arrives later, and refuses edits.
    /// Its past states remain in its changes: a node that must forget the
    /// content has to drop those.
    pub fn delete_permanently(&mut self) -> Result<Option<Vec<u8>>, DocError> {
        if self.deleted() {
            return Ok(None);
        }
        self.change(|d| {
            meta::set_flag(&mut d.doc, "deleted", true)?;
            d.put_title("")?;
            let body = d.body_obj()?;
            let len = d.doc.length(&body);
            d.doc
                .splice_text(&body, 0, isize::try_from(len).expect("a text length fits in isize"), "")
                .map_err(am::internal)
        })
    }

    /// Names the state at `heads` (usually [`TextDoc::heads`]) `name`,
    /// recording who did it (`by`) and when (`at`, ms since the Unix
    /// epoch). Naming again with the same name moves the name.
    pub fn name_version(
        &mut self,
        name: &str,
        heads: &[[u8; 32]],
        by: &str,
        at: i64,
    ) -> Result<Option<Vec<u8>>, DocError> {
        self.check_not_deleted()?;
        // Looking the heads up commits nothing: no operation is pending.
        self.change(|d| meta::name_version(&mut d.doc, name, heads, by, at))
    }

    /// The named versions, oldest first.
    pub fn versions(&self) -> Vec<NamedVersion> {
        meta::versions(&self.doc)
    }
}

/// The hash of a change, as automerge names it in heads and dependencies.
pub fn change_hash(change: &[u8]) -> Result<[u8; 32], DocError> {
    let change = automerge::Change::from_bytes(change.to_vec()).map_err(|e| DocError::BadChange(e.to_string()))?;
    Ok(change.hash().0)
}

/// One line of a [`diff`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    /// Whether the line is in both, only in the later or only in the
    /// earlier state.
    pub change: LineChange,
    /// The line, without its line break.
    pub text: String,
}

/// How a line differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineChange {
    /// In both.
    Same,
    /// Only in the later state.
    Added,
    /// Only in the earlier state.
    Removed,
}

/// The lines `diff` compares: the title, a blank line, the body as
/// Markdown.
fn diff_text(doc: &TextDoc) -> String {
    format!("{}\n\n{}", doc.title(), doc.to_markdown())
}

/// Line-by-line differences between two states of a document, over the
/// title and the body as Markdown (so formatting changes show), in order.
pub fn diff(before: &TextDoc, after: &TextDoc) -> Vec<DiffLine> {
    let (a, b) = (diff_text(before), diff_text(after));
    let diff = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .timeout(std::time::Duration::from_secs(1))
        .diff_lines(&a, &b);
    diff.iter_all_changes()
        .map(|c| DiffLine {
            change: match c.tag() {
                similar::ChangeTag::Equal => LineChange::Same,
                similar::ChangeTag::Insert => LineChange::Added,
                similar::ChangeTag::Delete => LineChange::Removed,
            },
            text: c.value().trim_end_matches(['\n', '\r']).to_owned(),
        })
        .collect()
}

/// A one-line summary of a change from `before` to `after`: characters
/// added and removed.
pub fn summarize(before: &str, after: &str) -> String {
    let a: Vec<char> = before.chars().collect();
    let b: Vec<char> = after.chars().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let removed = a.len() - prefix - suffix;
    let added = b.len() - prefix - suffix;
    match (added, removed) {
        (0, 0) => "no text change".to_owned(),
        (n, 0) => format!("+{n} chars"),
        (0, m) => format!("-{m} chars"),
        (n, m) => format!("+{n} -{m} chars"),
    }
}
