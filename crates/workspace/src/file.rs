//! A file entry of the file library: a named file with its versions, filed
//! in a folder like a document.
//!
//! The file's bytes are an encrypted blob stored apart (see
//! `outpost_seal::blob`); the entry records each version's blob id and
//! key, so whoever can read the entry can fetch and open every version.
//!
//! Layout of the automerge document:
//! - `ROOT.kind`: the string `"file"`.
//! - `ROOT.name`: a string, the name shown. A plain string, not text, so
//!   that two concurrent renames end with one of the names rather than a
//!   mix of both.
//! - `ROOT.meta`: folder, trash and deletion, as for documents (see
//!   [`crate::meta`]).
//! - `ROOT.file_versions`: a list of maps, one per upload, each
//!   `{blob: hex, key: hex, name: string, bytes: uint, media_type: string,
//!   at: int (ms since the Unix epoch), by: string}`. Uploads are appended;
//!   the list order is causal (an upload made after another was seen comes
//!   after it), and automerge orders concurrent uploads the same way on
//!   every replica, so both are kept.

use crate::am;
use crate::chat::Attachment;
use crate::doc::DocError;
use crate::meta;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, Value, transaction::Transactable};

/// Most versions one file entry keeps.
pub const FILE_VERSIONS_MAX: usize = 10_000;

/// One uploaded version of a file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileVersion {
    /// The content: blob, key, name, size and media type.
    pub file: Attachment,
    /// When it was uploaded, in milliseconds since the Unix epoch.
    pub at: i64,
    /// Who uploaded it.
    pub by: String,
}

impl FileVersion {
    fn check(&self) -> Result<(), DocError> {
        meta::check_name("file name", &self.file.name, false)?;
        meta::check_name("media type", &self.file.media_type, true)?;
        meta::check_name("author", &self.by, true)
    }
}

/// A file entry.
#[derive(Debug)]
pub struct FileDoc {
    doc: AutoCommit,
}

/// Is this automerge document a file entry?
pub(crate) fn is_file(doc: &AutoCommit) -> bool {
    am::get_string(doc, &ROOT, "kind").as_deref() == Some("file")
}

fn read_version(doc: &AutoCommit, v: &ObjId) -> Option<FileVersion> {
    let hex32 = |key: &str| {
        let mut out = [0u8; 32];
        hex::decode_to_slice(am::get_string(doc, v, key)?, &mut out).ok()?;
        Some(out)
    };
    Some(FileVersion {
        file: Attachment {
            blob: hex32("blob")?,
            key: hex32("key")?,
            name: am::get_string(doc, v, "name")?,
            bytes: am::get_u64(doc, v, "bytes")?,
            media_type: am::get_string(doc, v, "media_type").unwrap_or_default(),
        },
        at: am::get_i64(doc, v, "at").unwrap_or(0),
        by: am::get_string(doc, v, "by").unwrap_or_default(),
    })
}

/// Appends `version` to the list (uncommitted).
fn push_version(doc: &mut AutoCommit, list: &ObjId, version: &FileVersion) -> Result<(), DocError> {
    let at = doc.length(list);
    let v = doc.insert_object(list, at, ObjType::Map).map_err(am::internal)?;
    doc.put(&v, "blob", hex::encode(version.file.blob))
        .map_err(am::internal)?;
    doc.put(&v, "key", hex::encode(version.file.key))
        .map_err(am::internal)?;
    doc.put(&v, "name", version.file.name.as_str()).map_err(am::internal)?;
    doc.put(&v, "bytes", version.file.bytes).map_err(am::internal)?;
    doc.put(&v, "media_type", version.file.media_type.as_str())
        .map_err(am::internal)?;
    doc.put(&v, "at", version.at).map_err(am::internal)?;
    doc.put(&v, "by", version.by.as_str()).map_err(am::internal)
}

impl FileDoc {
    /// A new file entry holding `first`, named after it and filed under
    /// `folder`, written by `actor`. Returns the entry and its first
    /// change.
    pub fn create(actor: &[u8], first: FileVersion, folder: &str) -> Result<(FileDoc, Vec<u8>), DocError> {
        first.check()?;
        meta::check_folder(folder)?;
        let mut doc = am::new_doc(actor);
        doc.put(ROOT, "kind", "file").map_err(am::internal)?;
        doc.put(ROOT, "name", first.file.name.as_str()).map_err(am::internal)?;
        // Made now, once, so that replicas never create it concurrently.
        let m = doc.put_object(ROOT, "meta", ObjType::Map).map_err(am::internal)?;
        doc.put(&m, "folder", folder).map_err(am::internal)?;
        let list = doc
            .put_object(ROOT, "file_versions", ObjType::List)
            .map_err(am::internal)?;
        push_version(&mut doc, &list, &first)?;
        let change = am::commit(&mut doc).expect("a new entry has operations");
        Ok((FileDoc { doc }, change))
    }

    /// Wraps an automerge document, if it is a file entry.
    pub(crate) fn from_automerge(doc: AutoCommit) -> Result<FileDoc, DocError> {
        if is_file(&doc) {
            Ok(FileDoc { doc })
        } else {
            Err(DocError::NotFile)
        }
    }

    /// Rebuilds an entry from its changes, as `actor` for later edits.
    pub fn from_changes(actor: &[u8], changes: impl IntoIterator<Item = Vec<u8>>) -> Result<FileDoc, DocError> {
        FileDoc::from_automerge(am::from_changes(actor, changes)?)
    }

    /// Loads an entry saved with [`FileDoc::save`], as `actor`.
    pub fn load(actor: &[u8], bytes: &[u8]) -> Result<FileDoc, DocError> {
        FileDoc::from_automerge(am::load_doc(actor, bytes)?)
    }

    /// Applies changes as they arrive; all of them or, if one is damaged,
    /// none.
    pub fn apply_changes(&mut self, changes: impl IntoIterator<Item = Vec<u8>>) -> Result<(), DocError> {
        am::apply_changes(&mut self.doc, changes)
    }

    /// The automerge binary of the whole entry.
    pub fn save(&mut self) -> Vec<u8> {
        am::save(&mut self.doc)
    }

    /// The entry's current heads, sorted.
    pub fn heads(&mut self) -> Vec<[u8; 32]> {
        am::heads(&mut self.doc)
    }

    fn check_not_deleted(&self) -> Result<(), DocError> {
        if self.deleted() { Err(DocError::Deleted) } else { Ok(()) }
    }

    /// The name shown (empty once deleted permanently).
    pub fn name(&self) -> String {
        if self.deleted() {
            return String::new();
        }
        am::get_string(&self.doc, &ROOT, "name").unwrap_or_default()
    }

    /// Renames the file.
    pub fn rename(&mut self, name: &str) -> Result<Option<Vec<u8>>, DocError> {
        meta::check_name("file name", name, false)?;
        self.check_not_deleted()?;
        if self.name() == name {
            return Ok(None);
        }
        let result = self.doc.put(ROOT, "name", name).map_err(am::internal);
        am::finish(&mut self.doc, result)
    }

    fn versions_list(&self) -> Option<ObjId> {
        match self.doc.get(ROOT, "file_versions").ok()?? {
            (Value::Object(ObjType::List), id) => Some(id),
            _ => None,
        }
    }

    /// Adds a newly uploaded version; it becomes the current one.
    pub fn add_version(&mut self, version: FileVersion) -> Result<Option<Vec<u8>>, DocError> {
        version.check()?;
        self.check_not_deleted()?;
        let list = self.versions_list();
        if list.as_ref().is_some_and(|l| self.doc.length(l) >= FILE_VERSIONS_MAX) {
            return Err(DocError::TooManyVersions);
        }
        let result = (|| {
            let list = match list {
                Some(l) => l,
                None => self
                    .doc
                    .put_object(ROOT, "file_versions", ObjType::List)
                    .map_err(am::internal)?,
            };
            push_version(&mut self.doc, &list, &version)
        })();
        am::finish(&mut self.doc, result)
    }

    /// The versions, oldest first in causal order (see the module
    /// documentation); entries that do not parse are left out. Empty once
    /// deleted permanently.
    pub fn versions(&self) -> Vec<FileVersion> {
        if self.deleted() {
            return Vec::new();
        }
        let Some(list) = self.versions_list() else {
            return Vec::new();
        };
        self.doc
            .list_range(&list, ..)
            .filter_map(|item| match item.value {
                automerge::ValueRef::Object(ObjType::Map) => read_version(&self.doc, &item.id()),
                _ => None,
            })
            .collect()
    }

    /// The current version: the last one.
    pub fn current(&self) -> Option<FileVersion> {
        self.versions().pop()
    }

    /// The folder the file is filed in, `""` for the top level.
    pub fn folder(&self) -> String {
        meta::folder(&self.doc)
    }

    /// Files the entry under `path`.
    pub fn set_folder(&mut self, path: &str) -> Result<Option<Vec<u8>>, DocError> {
        self.check_not_deleted()?;
        let result = meta::set_folder(&mut self.doc, path);
        am::finish(&mut self.doc, result)
    }

    /// Is the file in the trash?
    pub fn trashed(&self) -> bool {
        meta::trashed(&self.doc)
    }

    /// Moves the file to the trash, or back.
    pub fn set_trashed(&mut self, trashed: bool) -> Result<Option<Vec<u8>>, DocError> {
        self.check_not_deleted()?;
        let result = meta::set_flag(&mut self.doc, "trashed", trashed);
        am::finish(&mut self.doc, result)
    }

    /// Was the file deleted permanently?
    pub fn deleted(&self) -> bool {
        meta::deleted(&self.doc)
    }

    /// Deletes the file permanently, as one change: marks it deleted, drops
    /// every version (with its blob id and key) and the name from the
    /// current state. It then reads as empty and refuses edits. Past
    /// states remain in its changes; the blobs themselves are the node's
    /// to delete.
    pub fn delete_permanently(&mut self) -> Result<Option<Vec<u8>>, DocError> {
        if self.deleted() {
            return Ok(None);
        }
        let list = self.versions_list();
        let result = (|| {
            meta::set_flag(&mut self.doc, "deleted", true)?;
            self.doc.put(ROOT, "name", "").map_err(am::internal)?;
            if let Some(list) = list {
                for i in (0..self.doc.length(&list)).rev() {
                    self.doc.delete(&list, i).map_err(am::internal)?;
                }
            }
            Ok(())
        })();
        am::finish(&mut self.doc, result)
    }
}

#[cfg(test)]
mod tests;
