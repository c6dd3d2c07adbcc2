//! Live co-editing helpers: carrying an editor's positions over changes
//! it has not seen yet, and one-line summaries of changes for history.
//!
//! An editor sends edits whose positions refer to the document as it last
//! saw it (its *base* heads); by the time they arrive, other editors'
//! changes may have been applied. [`TextDoc::rebase`] turns each position
//! into an automerge cursor at the base (the character it was next to)
//! and reads where that character is now, so text typed by others before
//! the position shifts it, and text typed after it does not.

use super::{DocError, TextDoc};
use crate::doc::Edit;
use automerge::{ChangeHash, ObjId, ObjType, ReadDoc, Value};

/// Does the body begin with a block marker (which is not a position), at
/// `heads` or now?
fn lead(doc: &automerge::AutoCommit, body: &ObjId, heads: Option<&[ChangeHash]>) -> bool {
    let got = match heads {
        Some(h) => doc.get_at(body, 0usize, h),
        None => doc.get(body, 0usize),
    };
    matches!(got, Ok(Some((Value::Object(ObjType::Map), _))))
}

impl TextDoc {
    /// `edits`, whose positions refer to this document at `base`, with
    /// positions that refer to it now. The first edit's positions are
    /// carried exactly; the following ones (which refer to the document
    /// after the edits before them) move by as much as the first edit's
    /// start did — exact when one editor's batch is one run of typing, as
    /// an editor sends it. Unknown base heads are an error, naming the
    /// head.
    pub fn rebase(&mut self, base: &[[u8; 32]], edits: &[Edit]) -> Result<Vec<Edit>, DocError> {
        let hashes: Vec<ChangeHash> = base.iter().map(|h| ChangeHash(*h)).collect();
        let mut now: Vec<ChangeHash> = self.doc.get_heads();
        now.sort();
        let mut sorted = hashes.clone();
        sorted.sort();
        if sorted == now || edits.is_empty() {
            return Ok(edits.to_vec());
        }
        for h in &hashes {
            if self.doc.get_change_by_hash(h).is_none() {
                return Err(DocError::UnknownHeads(hex::encode(h.0)));
            }
        }
        let Some(Ok(body)) = self.body_ref() else {
            // A plain-string body has no cursors; nothing else wrote it.
            return Ok(edits.to_vec());
        };
        let lead_then = usize::from(lead(&self.doc, &body, Some(&hashes)));
        let lead_now = usize::from(lead(&self.doc, &body, None));
        // The body's length at `base` costs a pass over the document, so it
        // is only computed when a position is at or past its end (a cursor
        // lookup fails there).
        let len_then = std::cell::OnceCell::new();
        let len_then = || *len_then.get_or_init(|| self.doc.length_at(&body, &hashes));
        let out_of_range = |index: usize| DocError::OutOfRange {
            at: index - lead_then,
            len: len_then() - lead_then,
        };
        // Where the character at `index` (of the body at `base`) is now;
        // with `end`, the end of the body at `base` (index = its length)
        // is where the end is now.
        let now_at = |index: usize, end: bool| -> Result<usize, DocError> {
            let cursor = match self
                .doc
                .get_cursor(&body, automerge::CursorPosition::Index(index), Some(&hashes))
            {
                Ok(c) => c,
                Err(e) => {
                    let len = len_then();
                    if index > len || (index == len && !end) {
                        return Err(out_of_range(index + usize::from(!end)));
                    }
                    if index < len {
                        return Err(super::am::internal(e));
                    }
                    self.doc
                        .get_cursor(&body, automerge::CursorPosition::End, Some(&hashes))
                        .map_err(super::am::internal)?
                }
            };
            self.doc
                .get_cursor_position(&body, &cursor, None)
                .map_err(super::am::internal)
        };
        // A position that starts something (a range, a block) follows the
        // character after it.
        let carry =
            |pos: usize| -> Result<usize, DocError> { Ok(now_at(pos + lead_then, true)?.saturating_sub(lead_now)) };
        // A position where text goes, or where a range ends, follows the
        // character before it, as a cursor does: typing goes on right
        // after one's own last character whatever others typed meanwhile.
        let carry_after = |pos: usize| -> Result<usize, DocError> {
            let index = pos + lead_then;
            if index <= lead_then {
                return Ok(0);
            }
            Ok((now_at(index - 1, false)? + 1).saturating_sub(lead_now))
        };
        let len_now = self.text_len();
        let mut out = Vec::with_capacity(edits.len());
        let mut shift: Option<isize> = None;
        for edit in edits {
            let moved = |p: usize, s: isize| -> usize { (p as isize + s).clamp(0, len_now as isize) as usize };
            let e = match (edit, shift) {
                (Edit::Title { .. }, _) => edit.clone(),
                (_, Some(s)) => shifted(edit, |p| moved(p, s)),
                (_, None) => {
                    let first = first_position(edit);
                    let carried = match edit {
                        Edit::Insert { .. } | Edit::SplitBlock { .. } => carry_after(first)?,
                        _ => carry(first)?,
                    };
                    shift = Some(carried as isize - first as isize);
                    match edit {
                        Edit::Delete { at, len } => {
                            let end = carry_after(at + len)?;
                            Edit::Delete {
                                at: carried,
                                len: end.saturating_sub(carried),
                            }
                        }
                        Edit::Format {
                            start: _,
                            end,
                            mark,
                            on,
                            url,
                        } => Edit::Format {
                            start: carried,
                            end: carry_after(*end)?.max(carried),
                            mark: *mark,
                            on: *on,
                            url: url.clone(),
                        },
                        other => {
                            let _ = start_of(other);
                            shifted(other, |_| carried)
                        }
                    }
                }
            };
            out.push(e);
        }
        Ok(out)
    }
}

/// The position an edit starts at.
fn first_position(edit: &Edit) -> usize {
    start_of(edit).unwrap_or(0)
}

fn start_of(edit: &Edit) -> Option<usize> {
    match edit {
        Edit::Insert { at, .. } | Edit::Delete { at, .. } | Edit::SetBlock { at, .. } | Edit::SplitBlock { at, .. } => {
            Some(*at)
        }
        Edit::Format { start, .. } => Some(*start),
        Edit::Title { .. } => None,
    }
}

/// `edit` with each position `p` replaced by `f(p)` (a range keeps its
/// length).
fn shifted(edit: &Edit, f: impl Fn(usize) -> usize) -> Edit {
    match edit {
        Edit::Insert { at, text } => Edit::Insert {
            at: f(*at),
            text: text.clone(),
        },
        Edit::Delete { at, len } => Edit::Delete { at: f(*at), len: *len },
        Edit::Format {
            start,
            end,
            mark,
            on,
            url,
        } => {
            let s = f(*start);
            Edit::Format {
                start: s,
                end: s + (end - start),
                mark: *mark,
                on: *on,
                url: url.clone(),
            }
        }
        Edit::SetBlock { at, kind } => Edit::SetBlock {
            at: f(*at),
            kind: *kind,
        },
        Edit::SplitBlock { at, kind } => Edit::SplitBlock {
            at: f(*at),
            kind: *kind,
        },
        Edit::Title { text } => Edit::Title { text: text.clone() },
    }
}

/// A one-line summary of an automerge change of a document or file entry,
/// for history lists: `created`, characters added and removed (`+4 -1
/// chars`), formatting, blocks, and what happened to its metadata.
pub fn describe_change(change: &[u8]) -> Result<String, DocError> {
    use automerge::legacy::{Key, OpType};
    let change = automerge::Change::from_bytes(change.to_vec()).map_err(|e| DocError::BadChange(e.to_string()))?;
    if change.deps().is_empty() && change.seq() == 1 {
        return Ok("created".to_owned());
    }
    let ops = change.decode().operations;
    let (mut added, mut removed, mut marks, mut blocks) = (0usize, 0usize, 0usize, 0usize);
    let mut keys: Vec<String> = Vec::new();
    for op in &ops {
        match (&op.action, &op.key) {
            (OpType::Put(v), _) if op.insert => added += v.as_str().map_or(1, |s| s.chars().count()),
            (OpType::Make(ObjType::Map), _) if op.insert => blocks += 1,
            (OpType::Delete, Key::Seq(_)) => removed += 1,
            (OpType::MarkBegin(_), _) => marks += 1,
            (_, Key::Map(k)) => keys.push(k.to_string()),
            _ => {}
        }
    }
    let mut parts = Vec::new();
    match (added, removed) {
        (0, 0) => {}
        (n, 0) => parts.push(format!("+{n} chars")),
        (0, m) => parts.push(format!("-{m} chars")),
        (n, m) => parts.push(format!("+{n} -{m} chars")),
    }
    if blocks > 0 {
        parts.push(format!("{blocks} block(s)"));
    }
    if marks > 0 {
        parts.push("formatting".to_owned());
    }
    let has = |k: &str| keys.iter().any(|x| x == k);
    if has("deleted") {
        return Ok("deleted for good".to_owned());
    }
    if has("trashed") {
        parts.push("trash or restore".to_owned());
    }
    if has("folder") {
        parts.push("moved".to_owned());
    }
    if has("title") || has("name") {
        parts.push("renamed".to_owned());
    }
    if has("heads") || has("versions") {
        parts.push("named a version".to_owned());
    }
    if has("blob") || has("list") {
        parts.push("new version".to_owned());
    }
    Ok(if parts.is_empty() {
        "no text change".to_owned()
    } else {
        parts.join(", ")
    })
}

impl crate::model::Model {
    /// The automerge heads.
    pub fn heads(&mut self) -> Vec<[u8; 32]> {
        match self {
            crate::model::Model::Text(d) => d.heads(),
            crate::model::Model::File(f) => f.heads(),
            crate::model::Model::Board(b) => b.heads(),
        }
    }

    /// Renames: a document's title or a file's name.
    pub fn rename(&mut self, name: &str) -> Result<Option<Vec<u8>>, DocError> {
        match self {
            crate::model::Model::Text(d) => d.apply_edits(&[Edit::Title { text: name.to_owned() }]),
            crate::model::Model::File(f) => f.rename(name),
            crate::model::Model::Board(b) => b
                .apply(&[crate::tasks::Edit::RenameProject { name: name.to_owned() }])
                .map_err(|e| DocError::Board(e.to_string())),
        }
    }

    /// Moves to folder `path` of its space.
    pub fn set_folder(&mut self, path: &str) -> Result<Option<Vec<u8>>, DocError> {
        match self {
            crate::model::Model::Text(d) => d.set_folder(path),
            crate::model::Model::File(f) => f.set_folder(path),
            crate::model::Model::Board(_) => Err(DocError::Board("it is not filed in folders".to_owned())),
        }
    }

    /// Moves to the trash, or back.
    pub fn set_trashed(&mut self, trashed: bool) -> Result<Option<Vec<u8>>, DocError> {
        match self {
            crate::model::Model::Text(d) => d.set_trashed(trashed),
            crate::model::Model::File(f) => f.set_trashed(trashed),
            crate::model::Model::Board(_) => Err(DocError::Board("it cannot be moved to the trash".to_owned())),
        }
    }

    /// Deletes for good (see each kind's `delete_permanently`).
    pub fn delete_permanently(&mut self) -> Result<Option<Vec<u8>>, DocError> {
        match self {
            crate::model::Model::Text(d) => d.delete_permanently(),
            crate::model::Model::File(f) => f.delete_permanently(),
            crate::model::Model::Board(_) => Err(DocError::Board("it cannot be deleted".to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(doc: &mut TextDoc, at: usize, text: &str) -> Vec<u8> {
        doc.apply_edits(&[Edit::Insert {
            at,
            text: text.to_owned(),
        }])
        .expect("an insert in range")
        .expect("a change")
    }

    #[test]
    fn typing_goes_on_after_ones_own_text_whatever_others_typed() {
        let (mut a, first) = TextDoc::create(b"aaaa", "Sentence").expect("create");
        let body = a.set_body("The fox.").expect("set").expect("a change");
        let mut b = TextDoc::from_changes(b"bbbb", [first, body]).expect("rebuild");
        // Both type at the same place at once.
        let qa = edit(&mut a, 4, "q");
        let base = a.heads();
        let lb = edit(&mut b, 4, "L");
        let lb2 = edit(&mut b, 5, "A");
        a.apply_changes([lb, lb2]).expect("merge");
        b.apply_changes([qa]).expect("merge");
        // A types its next character right after its `q`, as it saw it.
        let carried = a
            .rebase(
                &base,
                &[Edit::Insert {
                    at: 5,
                    text: "u".into(),
                }],
            )
            .expect("rebase");
        let Edit::Insert { at, .. } = carried[0] else {
            panic!("still an insert: {carried:?}")
        };
        let q = a.body().chars().position(|c| c == 'q').expect("q is there");
        assert_eq!(at, q + 1, "{} / {carried:?}", a.body());
        a.apply_edits(&carried).expect("in range");
        assert!(a.body().contains("qu") && a.body().contains("LA"), "{}", a.body());
        // A deletion of the `q` it saw removes that `q` only.
        let base = a.heads();
        let other = edit(&mut b, 0, ">> ");
        a.apply_changes([other]).expect("merge");
        let q = a.body().chars().position(|c| c == 'q').expect("q is there");
        let seen_q = a
            .at(&base)
            .expect("past")
            .body()
            .chars()
            .position(|c| c == 'q')
            .expect("q then");
        let carried = a.rebase(&base, &[Edit::Delete { at: seen_q, len: 1 }]).expect("rebase");
        assert_eq!(carried, [Edit::Delete { at: q, len: 1 }], "{}", a.body());
    }

    #[test]
    fn positions_at_the_end_of_the_base_follow_it_and_past_it_are_refused() {
        let (mut a, first) = TextDoc::create(b"aaaa", "Ends").expect("create");
        let body = a.set_body("abc").expect("set").expect("a change");
        let mut b = TextDoc::from_changes(b"bbbb", [first, body]).expect("rebuild");
        let base = a.heads();
        let then = a.text_len();
        let more = edit(&mut b, then, "XYZ");
        a.apply_changes([more]).expect("merge");
        // Typing at the old end goes right after the old last character.
        let carried = a
            .rebase(
                &base,
                &[Edit::Insert {
                    at: then,
                    text: "!".into(),
                }],
            )
            .expect("rebase");
        assert_eq!(
            carried,
            [Edit::Insert {
                at: then,
                text: "!".into()
            }]
        );
        // A range starting at the old end starts at the end now.
        let carried = a
            .rebase(
                &base,
                &[Edit::SetBlock {
                    at: then,
                    kind: crate::doc::rich::BlockKind::Paragraph,
                }],
            )
            .expect("rebase");
        assert_eq!(first_position(&carried[0]), a.text_len());
        // Past the old end: refused, naming the position and the length.
        for bad in [
            Edit::Insert {
                at: then + 1,
                text: "?".into(),
            },
            Edit::Delete { at: then, len: 1 },
            Edit::SetBlock {
                at: then + 1,
                kind: crate::doc::rich::BlockKind::Paragraph,
            },
        ] {
            match a.rebase(&base, std::slice::from_ref(&bad)) {
                Err(DocError::OutOfRange { at, len }) => {
                    assert_eq!(len, then, "{bad:?}");
                    assert!(at > then, "{bad:?}: {at}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
