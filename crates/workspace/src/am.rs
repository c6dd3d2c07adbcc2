//! Small helpers around automerge shared by text documents and file
//! entries: opening documents with the text encoding fixed, committing one
//! change, reading scalars leniently.

use crate::doc::DocError;
use automerge::{
    ActorId, AutoCommit, Change, ChangeHash, LoadOptions, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, TextEncoding,
    Value,
};
use std::collections::{HashMap, HashSet, VecDeque};

/// Positions in text are Unicode code points. automerge's default depends on
/// its cargo features (UTF-8 or UTF-16 code units when those are enabled
/// anywhere in the build), so every document is opened with this explicitly.
pub(crate) const ENCODING: TextEncoding = TextEncoding::UnicodeCodePoint;

/// An empty document written by `actor`.
pub(crate) fn new_doc(actor: &[u8]) -> AutoCommit {
    AutoCommit::new_with_encoding(ENCODING).with_actor(ActorId::from(actor))
}

/// Runs an automerge decoder on bytes from elsewhere. Some damaged inputs
/// make automerge 0.12 panic rather than return an error (found by
/// fuzzing: `fuzz/fuzz_targets/doc_load.rs`); such input is refused like
/// any other damaged input instead of taking the node down. Nothing
/// outside the decoder's own new values is touched, so nothing is left
/// half-changed by the unwinding.
fn decode_guarded<T>(what: &str, decode: impl FnOnce() -> Result<T, DocError>) -> Result<T, DocError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|_| {
        Err(DocError::BadChange(format!(
            "{what} is damaged (automerge could not decode it)"
        )))
    })
}

/// A document saved with `AutoCommit::save`, as `actor`.
pub(crate) fn load_doc(actor: &[u8], bytes: &[u8]) -> Result<AutoCommit, DocError> {
    known_chunks(bytes)?;
    let doc = decode_guarded("the saved document", || {
        AutoCommit::load_with_options(bytes, LoadOptions::new().text_encoding(ENCODING))
            .map_err(|e| DocError::BadChange(e.to_string()))
    })?
    .with_actor(ActorId::from(actor));
    Ok(doc)
}

/// Refuses a saved document holding a chunk of a type Outpost never
/// writes: `save` writes a document chunk (type 0), changes are type 1 and
/// 2 (deflated). automerge's decoder of its newer bundle chunks (type 3)
/// allocates whatever a damaged run length claims: 38 bytes asked it for
/// gigabytes (found by the `doc_load` fuzz target). Each chunk is the magic
/// bytes, a 4-byte checksum, the type and a uLEB128 length; anything that
/// does not read so is left to automerge to refuse.
fn known_chunks(mut bytes: &[u8]) -> Result<(), DocError> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    while bytes.len() >= 9 && bytes[..4] == MAGIC {
        let kind = bytes[8];
        if kind > 2 {
            return Err(DocError::BadChange(format!(
                "the saved document is damaged: it holds a chunk of type {kind}, which Outpost never writes"
            )));
        }
        let mut len: u64 = 0;
        let mut used = 0;
        for (i, b) in bytes[9..].iter().take(10).enumerate() {
            len |= u64::from(b & 0x7f) << (7 * i);
            used = i + 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        let Some(end) = usize::try_from(len).ok().and_then(|l| (9 + used).checked_add(l)) else {
            return Ok(());
        };
        if used == 0 || end > bytes.len() {
            return Ok(());
        }
        bytes = &bytes[end..];
    }
    Ok(())
}

/// Decodes changes, all of them or none.
pub(crate) fn parse_changes(changes: impl IntoIterator<Item = Vec<u8>>) -> Result<Vec<Change>, DocError> {
    changes
        .into_iter()
        .map(|c| {
            decode_guarded("a change", || {
                Change::from_bytes(c).map_err(|e| DocError::BadChange(e.to_string()))
            })
        })
        .collect()
}

/// The canonical order of a set of changes, given each one's hash and
/// dependencies: changes sorted by hash, then taken breadth first, each
/// once its dependencies are placed. Dependencies outside the set are
/// ignored.
///
/// This is the same walk automerge makes over a batch of changes it
/// applies (first come, first served among those ready), so a document
/// built from changes in this order stores them in this order, and saves
/// to the same bytes wherever it is built.
fn canonical_order(changes: &[(ChangeHash, Vec<ChangeHash>)]) -> Vec<usize> {
    let mut by_hash: Vec<usize> = (0..changes.len()).collect();
    by_hash.sort_by_key(|&i| changes[i].0.0);
    let present: HashSet<ChangeHash> = changes.iter().map(|(h, _)| *h).collect();
    let mut waiting = vec![0usize; changes.len()];
    let mut waiting_on: HashMap<ChangeHash, Vec<usize>> = HashMap::new();
    for &i in &by_hash {
        for d in &changes[i].1 {
            if present.contains(d) {
                waiting[i] += 1;
                waiting_on.entry(*d).or_default().push(i);
            }
        }
    }
    let mut ready: VecDeque<usize> = by_hash.iter().copied().filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(changes.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for k in waiting_on.remove(&changes[i].0).unwrap_or_default() {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.push_back(k);
            }
        }
    }
    // Only duplicates (or a cycle, which hashes rule out) are left over;
    // keep them rather than lose anything.
    if order.len() < changes.len() {
        let placed: HashSet<usize> = order.iter().copied().collect();
        order.extend(by_hash.into_iter().filter(|i| !placed.contains(i)));
    }
    order
}

/// `changes` in canonical order.
fn sorted(changes: Vec<Change>) -> Vec<Change> {
    let keys: Vec<(ChangeHash, Vec<ChangeHash>)> = changes.iter().map(|c| (c.hash(), c.deps().to_vec())).collect();
    let order = canonical_order(&keys);
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| slots[i].take().expect("the order names each change once"))
        .collect()
}

/// A document rebuilt from its changes, as `actor`. The changes are applied
/// in canonical order, so replicas holding the same changes build documents
/// that save to the same bytes.
pub(crate) fn from_changes(actor: &[u8], changes: impl IntoIterator<Item = Vec<u8>>) -> Result<AutoCommit, DocError> {
    let changes = sorted(parse_changes(changes)?);
    let mut doc = new_doc(actor);
    doc.apply_changes(changes)
        .map_err(|e| DocError::BadChange(e.to_string()))?;
    Ok(doc)
}

/// The automerge binary of the whole document, the same bytes on every
/// replica that holds the same changes.
///
/// automerge saves changes in the order they were applied, which differs
/// between replicas that received concurrent changes in different orders.
/// When the order is not canonical the document is first rebuilt in
/// canonical order (and kept so, which makes the next save cheap). While
/// changes wait for missing dependencies it is saved as it is, since a
/// rebuild would drop them.
pub(crate) fn save(doc: &mut AutoCommit) -> Vec<u8> {
    if !doc.get_missing_deps(&[]).is_empty() {
        return doc.save();
    }
    let keys: Vec<(ChangeHash, Vec<ChangeHash>)> = doc
        .get_changes_meta(&[])
        .into_iter()
        .map(|m| (m.hash, m.deps))
        .collect();
    let order = canonical_order(&keys);
    if order.iter().enumerate().all(|(pos, i)| pos == *i) {
        return doc.save();
    }
    let actor = doc.get_actor().clone();
    let changes = sorted(doc.get_changes(&[]));
    let mut rebuilt = AutoCommit::new_with_encoding(ENCODING).with_actor(actor);
    match rebuilt.apply_changes(changes) {
        Ok(()) => {
            *doc = rebuilt;
            doc.save()
        }
        // The changes came out of a valid document; should applying them
        // again fail, the document as it is still saves correctly.
        Err(_) => doc.save(),
    }
}

/// Applies changes that arrived, all of them or none (a change whose
/// dependencies are missing waits inside automerge until they come).
pub(crate) fn apply_changes(doc: &mut AutoCommit, changes: impl IntoIterator<Item = Vec<u8>>) -> Result<(), DocError> {
    let changes = parse_changes(changes)?;
    doc.apply_changes(changes)
        .map_err(|e| DocError::BadChange(e.to_string()))
}

/// Commits the pending operations as one change and returns its bytes, or
/// `None` when there were none.
pub(crate) fn commit(doc: &mut AutoCommit) -> Option<Vec<u8>> {
    doc.commit()?;
    Some(
        doc.get_last_local_change()
            .expect("a change was just committed")
            .raw_bytes()
            .to_vec(),
    )
}

/// Ends a change made by operations that returned `result`: commits them
/// as one change, or rolls all of them back on an error.
pub(crate) fn finish(doc: &mut AutoCommit, result: Result<(), DocError>) -> Result<Option<Vec<u8>>, DocError> {
    match result {
        Ok(()) => Ok(commit(doc)),
        Err(e) => {
            doc.rollback();
            Err(e)
        }
    }
}

/// The document's heads, sorted.
pub(crate) fn heads(doc: &mut AutoCommit) -> Vec<[u8; 32]> {
    let mut heads: Vec<[u8; 32]> = doc.get_heads().into_iter().map(|h| h.0).collect();
    heads.sort_unstable();
    heads
}

/// An automerge operation failed although its arguments were checked.
pub(crate) fn internal(e: impl std::fmt::Display) -> DocError {
    DocError::Internal(e.to_string())
}

/// A string stored either as a scalar or as a text object.
pub(crate) fn get_string(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok()?? {
        (Value::Object(ObjType::Text), id) => doc.text(&id).ok(),
        (Value::Scalar(s), _) => s.as_str().map(str::to_owned),
        _ => None,
    }
}

/// A boolean scalar.
pub(crate) fn get_bool(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<bool> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Boolean(b) => Some(*b),
            _ => None,
        },
        _ => None,
    }
}

/// An integer scalar, signed or not.
pub(crate) fn get_i64(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<i64> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Int(i) => Some(*i),
            ScalarValue::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// An unsigned integer scalar.
pub(crate) fn get_u64(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<u64> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Uint(u) => Some(*u),
            ScalarValue::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// Every map stored under `ROOT.key`, the visible one first.
///
/// Two replicas that both create the map before seeing each other's make
/// two maps under the same key; automerge shows one and keeps the other as a
/// conflict. Readers look in all of them, so a setting made in the losing
/// map is not lost; writers write to the visible one.
pub(crate) fn root_maps(doc: &AutoCommit, key: &str) -> Vec<ObjId> {
    let winner = match doc.get(ROOT, key) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    };
    let mut out: Vec<ObjId> = winner.iter().cloned().collect();
    if let Ok(all) = doc.get_all(ROOT, key) {
        for (value, id) in all {
            if matches!(value, Value::Object(ObjType::Map)) && Some(&id) != winner.as_ref() {
                out.push(id);
            }
        }
    }
    out
}

/// The visible map under `ROOT.key`, made if there is none.
pub(crate) fn root_map_mut(doc: &mut AutoCommit, key: &str) -> Result<ObjId, DocError> {
    use automerge::transaction::Transactable;
    match doc.get(ROOT, key).map_err(internal)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => doc.put_object(ROOT, key, ObjType::Map).map_err(internal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `scripts/fuzz doc_load`: automerge 0.12 panics (in its
    /// column decoder) on these bytes instead of returning an error.
    const PANICS_AUTOMERGE: [u8; 85] = [
        133, 111, 74, 131, 2, 0, 247, 0, 3, 39, 0, 0, 0, 1, 35, 1, 1, 3, 18, 0, 0, 0, 5, 253, 0, 3, 18, 191, 191, 191,
        191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191,
        191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 191,
        191, 191, 191, 191, 191, 191, 191, 191, 191, 191, 0,
    ];

    #[test]
    fn damaged_bytes_that_panic_automerge_are_refused_as_damaged() {
        let err = load_doc(&[1; 16], &PANICS_AUTOMERGE).expect_err("damaged input is refused");
        assert!(err.to_string().contains("damaged"), "{err}");
        assert!(parse_changes([PANICS_AUTOMERGE.to_vec()]).is_err());
        // Good documents still load.
        let mut doc = new_doc(&[1; 16]);
        let bytes = doc.save();
        assert!(load_doc(&[2; 16], &bytes).is_ok());
    }

    #[test]
    fn a_chunk_type_outpost_never_writes_is_refused_before_automerge_reads_it() {
        // Found by `scripts/fuzz doc_load`: a bundle chunk (type 3) whose
        // run length made automerge allocate over 2 GB.
        let oom: [u8; 38] = [
            133, 111, 74, 131, 74, 131, 1, 3, 3, 14, 0, 0, 0, 1, 35, 8, 133, 252, 255, 255, 255, 3, 1, 3, 3, 14, 0, 0,
            0, 1, 35, 8, 133, 131, 74, 131, 1, 3,
        ];
        let err = load_doc(&[1; 16], &oom).expect_err("refused");
        assert!(err.to_string().contains("chunk of type 3"), "{err}");
        // A document saved, then changes saved incrementally after it, load.
        let mut doc = new_doc(&[1; 16]);
        automerge::transaction::Transactable::put(&mut doc, automerge::ROOT, "a", 1).expect("put");
        let mut bytes = doc.save();
        automerge::transaction::Transactable::put(&mut doc, automerge::ROOT, "b", 2).expect("put");
        bytes.extend(doc.save_incremental());
        let mut loaded = load_doc(&[2; 16], &bytes).expect("a saved document and its later changes load");
        assert_eq!(loaded.get_heads(), doc.get_heads());
    }
}
