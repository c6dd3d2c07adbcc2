//! Metadata shared by text documents ([`crate::doc::TextDoc`]) and file
//! entries ([`crate::file::FileDoc`]): where an entry is filed, whether it
//! is in the trash or deleted for good, and, for text documents, named
//! versions.
//!
//! Layout in the automerge document:
//! - `ROOT.meta` (map): `folder` (string, `""` for the top level),
//!   `trashed` (bool), `deleted` (bool). Missing keys read as `""`, false,
//!   false, so documents made before metadata existed need no migration.
//! - `ROOT.versions` (map, text documents only): a version's name maps to
//!   `{heads: [hex string], by: string, at: int (ms since the Unix epoch)}`.
//!
//! Each setting is a last-writer-wins map key. When two replicas create
//! `ROOT.meta` (or `ROOT.versions`) concurrently, automerge keeps both maps
//! as a conflict; readers consult all of them (the visible one first), so
//! neither replica's setting is lost.

use crate::am;
use crate::doc::DocError;
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, Value, transaction::Transactable};
use serde::{Deserialize, Serialize};

/// Longest folder path, in bytes.
pub const FOLDER_BYTES_MAX: usize = 200;
/// Most segments in a folder path.
pub const FOLDER_SEGMENTS_MAX: usize = 8;
/// Longest version name or author name, in bytes.
pub const NAME_BYTES_MAX: usize = 256;
/// Most heads a named version may record.
pub const VERSION_HEADS_MAX: usize = 64;
/// Most named versions in one document.
pub const VERSIONS_MAX: usize = 1024;

/// A point in a document's history that someone gave a name to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedVersion {
    /// The name, such as "Sent to the client".
    pub name: String,
    /// The document's heads at that point (see [`crate::doc::TextDoc::at`]).
    pub heads: Vec<[u8; 32]>,
    /// Who named it.
    pub by: String,
    /// When it was named, in milliseconds since the Unix epoch.
    pub at: i64,
}

/// Checks a folder path such as `Marketing/Campaigns`; `""` is the top
/// level.
pub fn check_folder(path: &str) -> Result<(), DocError> {
    let bad = |why: &str| Err(DocError::BadFolder(path.to_owned(), why.to_owned()));
    if path.is_empty() {
        return Ok(());
    }
    if path.len() > FOLDER_BYTES_MAX {
        return bad("it is longer than 200 bytes");
    }
    if path.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() > FOLDER_SEGMENTS_MAX {
        return bad("it is more than 8 folders deep");
    }
    for s in segments {
        if s.is_empty() {
            return bad("a folder name is empty (a leading, trailing or doubled '/')");
        }
        if s.trim() != s {
            return bad("a folder name starts or ends with a space");
        }
        if s == "." || s == ".." {
            return bad("'.' and '..' are not folder names");
        }
    }
    Ok(())
}

/// Checks a short name (a version name, an author, a file name).
pub(crate) fn check_name(what: &'static str, name: &str, may_be_empty: bool) -> Result<(), DocError> {
    let bad = |why: &'static str| {
        Err(DocError::BadName {
            what,
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() && !may_be_empty {
        return bad("it is empty");
    }
    if name.len() > NAME_BYTES_MAX {
        return bad("it is longer than 256 bytes");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    Ok(())
}

/// A string setting from `ROOT.meta`.
fn meta_string(doc: &AutoCommit, key: &str) -> Option<String> {
    am::root_maps(doc, "meta")
        .iter()
        .find_map(|m| am::get_string(doc, m, key))
}

/// A boolean setting from `ROOT.meta`.
fn meta_bool(doc: &AutoCommit, key: &str) -> Option<bool> {
    am::root_maps(doc, "meta")
        .iter()
        .find_map(|m| am::get_bool(doc, m, key))
}

/// The folder, `""` for the top level.
pub(crate) fn folder(doc: &AutoCommit) -> String {
    meta_string(doc, "folder").unwrap_or_default()
}

/// In the trash?
pub(crate) fn trashed(doc: &AutoCommit) -> bool {
    meta_bool(doc, "trashed").unwrap_or(false)
}

/// Deleted for good?
pub(crate) fn deleted(doc: &AutoCommit) -> bool {
    meta_bool(doc, "deleted").unwrap_or(false)
}

/// Files the entry under `path` (uncommitted). No operation when it is
/// there already.
pub(crate) fn set_folder(doc: &mut AutoCommit, path: &str) -> Result<(), DocError> {
    check_folder(path)?;
    if folder(doc) == path {
        return Ok(());
    }
    let meta = am::root_map_mut(doc, "meta")?;
    doc.put(&meta, "folder", path).map_err(am::internal)
}

/// Sets a boolean in `ROOT.meta` (uncommitted). No operation when it has
/// that value already.
pub(crate) fn set_flag(doc: &mut AutoCommit, key: &str, on: bool) -> Result<(), DocError> {
    if meta_bool(doc, key).unwrap_or(false) == on {
        return Ok(());
    }
    let meta = am::root_map_mut(doc, "meta")?;
    doc.put(&meta, key, on).map_err(am::internal)
}

/// Records a named version (uncommitted). A name given again moves to the
/// new heads.
pub(crate) fn name_version(
    doc: &mut AutoCommit,
    name: &str,
    heads: &[[u8; 32]],
    by: &str,
    at: i64,
) -> Result<(), DocError> {
    check_name("version name", name, false)?;
    check_name("author", by, true)?;
    if heads.is_empty() || heads.len() > VERSION_HEADS_MAX {
        return Err(DocError::BadHeads(format!(
            "a version records 1 to {VERSION_HEADS_MAX} heads, not {}",
            heads.len()
        )));
    }
    for h in heads {
        if doc.get_change_by_hash(&automerge::ChangeHash(*h)).is_none() {
            return Err(DocError::UnknownHeads(hex::encode(h)));
        }
    }
    let mut sorted = heads.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let current = versions(doc);
    if let Some(v) = current.iter().find(|v| v.name == name) {
        if v.heads == sorted && v.by == by && v.at == at {
            return Ok(());
        }
    } else if current.len() >= VERSIONS_MAX {
        return Err(DocError::TooManyVersions);
    }
    let map = am::root_map_mut(doc, "versions")?;
    let v = doc.put_object(&map, name, ObjType::Map).map_err(am::internal)?;
    let list = doc.put_object(&v, "heads", ObjType::List).map_err(am::internal)?;
    for (i, h) in sorted.iter().enumerate() {
        doc.insert(&list, i, hex::encode(h)).map_err(am::internal)?;
    }
    doc.put(&v, "by", by).map_err(am::internal)?;
    doc.put(&v, "at", at).map_err(am::internal)
}

/// The named versions, oldest first (then by name). Entries that do not
/// parse (written by something else) are left out.
pub(crate) fn versions(doc: &AutoCommit) -> Vec<NamedVersion> {
    let mut out: Vec<NamedVersion> = Vec::new();
    for map in am::root_maps(doc, "versions") {
        for name in doc.keys(&map) {
            if out.iter().any(|v| v.name == name) {
                continue;
            }
            let Ok(Some((Value::Object(ObjType::Map), v))) = doc.get(&map, name.as_str()) else {
                continue;
            };
            if let Some(version) = read_version(doc, &v, name) {
                out.push(version);
            }
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.name.cmp(&b.name)));
    out
}

fn read_version(doc: &AutoCommit, v: &ObjId, name: String) -> Option<NamedVersion> {
    let Ok(Some((Value::Object(ObjType::List), list))) = doc.get(v, "heads") else {
        return None;
    };
    let mut heads = Vec::new();
    for item in doc.list_range(&list, ..) {
        let automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(hex_head)) = item.value else {
            return None;
        };
        let mut h = [0u8; 32];
        hex::decode_to_slice(hex_head.as_bytes(), &mut h).ok()?;
        heads.push(h);
    }
    Some(NamedVersion {
        name,
        heads,
        by: am::get_string(doc, v, "by").unwrap_or_default(),
        at: am::get_i64(doc, v, "at").unwrap_or(0),
    })
}
