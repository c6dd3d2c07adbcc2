//! Opening either kind of entry from the same envelopes.
//!
//! Documents and file entries travel in the same envelopes (automerge
//! changes). A file entry says `ROOT.kind = "file"`, a project board
//! `"board"`; a text document has no `ROOT.kind` (documents made before
//! kinds existed) or `"text"`.

use crate::am;
use crate::doc::{DocError, TextDoc};
use crate::file::{self, FileDoc};
use crate::tasks::{self, Board};
use automerge::{AutoCommit, ROOT};

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A text document ([`TextDoc`]).
    Text,
    /// A file entry ([`FileDoc`]).
    File,
    /// A project board ([`Board`]).
    Board,
}

/// An entry of either kind.
#[derive(Debug)]
pub enum Model {
    /// A text document.
    Text(TextDoc),
    /// A file entry.
    File(FileDoc),
    /// A project board.
    Board(Board),
}

fn kind_of(doc: &AutoCommit) -> Result<DocKind, DocError> {
    match am::get_string(doc, &ROOT, "kind").as_deref() {
        None | Some("text") => Ok(DocKind::Text),
        Some("file") => Ok(DocKind::File),
        Some("board") => Ok(DocKind::Board),
        Some(other) => Err(DocError::UnknownKind(other.chars().take(64).collect())),
    }
}

fn wrap(doc: AutoCommit) -> Result<Model, DocError> {
    match kind_of(&doc)? {
        DocKind::Text => Ok(Model::Text(TextDoc::from_automerge(doc))),
        DocKind::File => {
            debug_assert!(file::is_file(&doc));
            Ok(Model::File(FileDoc::from_automerge(doc)?))
        }
        DocKind::Board => {
            debug_assert!(tasks::is_board(&doc));
            Ok(Model::Board(
                Board::from_automerge(doc).map_err(|e| DocError::Board(e.to_string()))?,
            ))
        }
    }
}

impl Model {
    /// Rebuilds an entry from its changes, as `actor` for later edits.
    pub fn from_changes(actor: &[u8], changes: impl IntoIterator<Item = Vec<u8>>) -> Result<Model, DocError> {
        wrap(am::from_changes(actor, changes)?)
    }

    /// Loads an entry saved with `save`, as `actor`.
    pub fn load(actor: &[u8], bytes: &[u8]) -> Result<Model, DocError> {
        wrap(am::load_doc(actor, bytes)?)
    }

    /// What it is.
    pub fn kind(&self) -> DocKind {
        match self {
            Model::Text(_) => DocKind::Text,
            Model::File(_) => DocKind::File,
            Model::Board(_) => DocKind::Board,
        }
    }

    /// The name shown in lists: a document's title, a file's name or a
    /// project's name.
    pub fn name(&self) -> String {
        match self {
            Model::Text(d) => d.title(),
            Model::File(f) => f.name(),
            Model::Board(b) => b.name(),
        }
    }

    /// The folder, `""` for the top level.
    pub fn folder(&self) -> String {
        match self {
            Model::Text(d) => d.folder(),
            Model::File(f) => f.folder(),
            Model::Board(_) => String::new(),
        }
    }

    /// In the trash?
    pub fn trashed(&self) -> bool {
        match self {
            Model::Text(d) => d.trashed(),
            Model::File(f) => f.trashed(),
            Model::Board(_) => false,
        }
    }

    /// Deleted permanently?
    pub fn deleted(&self) -> bool {
        match self {
            Model::Text(d) => d.deleted(),
            Model::File(f) => f.deleted(),
            Model::Board(_) => false,
        }
    }

    /// Applies changes as they arrive; all of them or none.
    pub fn apply_changes(&mut self, changes: impl IntoIterator<Item = Vec<u8>>) -> Result<(), DocError> {
        match self {
            Model::Text(d) => d.apply_changes(changes),
            Model::File(f) => f.apply_changes(changes),
            Model::Board(b) => b.apply_changes(changes),
        }
    }

    /// The automerge binary of the whole entry.
    pub fn save(&mut self) -> Vec<u8> {
        match self {
            Model::Text(d) => d.save(),
            Model::File(f) => f.save(),
            Model::Board(b) => b.save(),
        }
    }
}

/// What the entry made of `changes` is. This builds the entry; to use it
/// afterwards, prefer [`Model::from_changes`].
pub fn kind_of_changes(changes: &[Vec<u8>]) -> Result<DocKind, DocError> {
    kind_of(&am::from_changes(b"kind", changes.iter().cloned())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Attachment;
    use crate::file::FileVersion;

    #[test]
    fn opens_either_kind_from_changes() {
        let (_, text) = TextDoc::create(b"aaaa", "Plan").expect("create a document");
        let version = FileVersion {
            file: Attachment {
                blob: [1; 32],
                key: [2; 32],
                name: "logo.png".to_owned(),
                bytes: 10,
                media_type: "image/png".to_owned(),
            },
            at: 1,
            by: "Ana".to_owned(),
        };
        let (_, file) = FileDoc::create(b"bbbb", version, "Brand").expect("create a file entry");
        assert_eq!(
            kind_of_changes(std::slice::from_ref(&text)).expect("kind"),
            DocKind::Text
        );
        assert_eq!(
            kind_of_changes(std::slice::from_ref(&file)).expect("kind"),
            DocKind::File
        );
        let m = Model::from_changes(b"cccc", [file.clone()]).expect("open the file entry");
        assert_eq!(m.kind(), DocKind::File);
        assert_eq!(m.name(), "logo.png");
        assert_eq!(m.folder(), "Brand");
        let m = Model::from_changes(b"cccc", [text]).expect("open the document");
        assert_eq!(m.name(), "Plan");
        assert!(matches!(
            FileDoc::from_changes(b"dddd", [TextDoc::create(b"e", "x").expect("create").1]),
            Err(DocError::NotFile)
        ));

        let mut other = am::new_doc(b"ffff");
        automerge::transaction::Transactable::put(&mut other, ROOT, "kind", "spreadsheet").expect("put");
        let change = am::commit(&mut other).expect("a change");
        assert!(matches!(Model::from_changes(b"g", [change]), Err(DocError::UnknownKind(k)) if k == "spreadsheet"));
    }
}
