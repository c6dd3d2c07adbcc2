//! What a session reads from the node's store: the [`View`] trait, the
//! items it hands over, and [`MemView`], an in-memory store.
//!
//! A view must be **dependency-closed**: it exposes an item only if it
//! exposes all the item's dependencies (a store keeps items whose
//! dependencies are missing aside until they arrive). Heads and "not in the
//! causal past of" are computed over what the view exposes.

use crate::{DocKey, Id, id_of};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// An authorisation op as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// blake3 of `bytes`.
    pub id: Id,
    /// The ops it depends on (parents, proof, target).
    pub deps: Vec<Id>,
    /// The signed encoding.
    pub bytes: Vec<u8>,
}

/// An envelope as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// blake3 of `bytes`.
    pub id: Id,
    /// The document it belongs to.
    pub doc: DocKey,
    /// The envelopes of the same document it follows.
    pub deps: Vec<Id>,
    /// The signed encoding.
    pub bytes: Vec<u8>,
}

/// An item a session delivers for the node to verify and store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// An authorisation op.
    Op(Op),
    /// An envelope.
    Envelope(Envelope),
}

impl Item {
    /// The item's id.
    pub fn id(&self) -> &Id {
        match self {
            Item::Op(op) => &op.id,
            Item::Envelope(env) => &env.id,
        }
    }

    /// The ids it depends on.
    pub fn deps(&self) -> &[Id] {
        match self {
            Item::Op(op) => &op.deps,
            Item::Envelope(env) => &env.deps,
        }
    }

    /// Its encoded bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Item::Op(op) => &op.bytes,
            Item::Envelope(env) => &env.bytes,
        }
    }
}

/// The node's store as seen by one session with one peer.
///
/// Implementations must be dependency-closed (see the module docs) and
/// deterministic: the same store gives the same answers. `may_hold` is
/// evaluated for the peer of the session, so the node typically wraps its
/// store in a [`Filtered`] built from the peer's role.
pub trait View {
    /// The ids of every authorisation op held, in any order.
    fn op_ids(&self) -> Vec<Id>;
    /// One op, if held.
    fn op(&self, id: &Id) -> Option<Op>;
    /// Whether an op is held.
    fn has_op(&self, id: &Id) -> bool;
    /// Every document of which at least one envelope is held, in any order.
    fn docs(&self) -> Vec<DocKey>;
    /// The document's heads (empty if none of it is held).
    fn heads(&self, doc: &DocKey) -> Vec<Id>;
    /// One envelope, if held.
    fn envelope(&self, id: &Id) -> Option<Envelope>;
    /// Whether an envelope is held.
    fn has_envelope(&self, id: &Id) -> bool;
    /// The ids of the envelopes of `doc` held here that are not in the
    /// causal past of `heads` (ids in `heads` that are not held are
    /// ignored), dependencies first. With no heads: the whole document.
    fn not_in_past_of(&self, doc: &DocKey, heads: &[Id]) -> Vec<Id>;
    /// Whether the peer of this session may hold `doc`; its envelopes and
    /// heads are never sent otherwise.
    fn may_hold(&self, doc: &DocKey) -> bool;
}

/// A view restricted by a policy: `may_hold` is the inner view's and the
/// policy's together. This is how a node serves a peer only the documents
/// its role may hold.
pub struct Filtered<'a, V: ?Sized, F> {
    view: &'a V,
    policy: F,
}

impl<'a, V: View + ?Sized, F: Fn(&DocKey) -> bool> Filtered<'a, V, F> {
    /// `view`, where the peer may hold only the documents `policy` accepts.
    pub fn new(view: &'a V, policy: F) -> Self {
        Filtered { view, policy }
    }
}

impl<V: ?Sized, F> fmt::Debug for Filtered<'_, V, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Filtered")
    }
}

impl<V: View + ?Sized, F: Fn(&DocKey) -> bool> View for Filtered<'_, V, F> {
    fn op_ids(&self) -> Vec<Id> {
        self.view.op_ids()
    }
    fn op(&self, id: &Id) -> Option<Op> {
        self.view.op(id)
    }
    fn has_op(&self, id: &Id) -> bool {
        self.view.has_op(id)
    }
    fn docs(&self) -> Vec<DocKey> {
        self.view.docs()
    }
    fn heads(&self, doc: &DocKey) -> Vec<Id> {
        self.view.heads(doc)
    }
    fn envelope(&self, id: &Id) -> Option<Envelope> {
        self.view.envelope(id)
    }
    fn has_envelope(&self, id: &Id) -> bool {
        self.view.has_envelope(id)
    }
    fn not_in_past_of(&self, doc: &DocKey, heads: &[Id]) -> Vec<Id> {
        self.view.not_in_past_of(doc, heads)
    }
    fn may_hold(&self, doc: &DocKey) -> bool {
        self.view.may_hold(doc) && (self.policy)(doc)
    }
}

/// Why [`MemView`] refused an item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InsertError {
    /// A dependency is not held; insert it first.
    #[error("item {item:02x?} depends on {dep:02x?}, which is not held: insert dependencies first")]
    MissingDependency {
        /// The refused item.
        item: Id,
        /// The missing dependency.
        dep: Id,
    },
    /// An envelope depends on an envelope of another document.
    #[error("envelope {item:02x?} depends on {dep:02x?} of another document")]
    OtherDocument {
        /// The refused envelope.
        item: Id,
        /// The dependency in another document.
        dep: Id,
    },
}

#[derive(Debug, Clone)]
struct StoredOp {
    deps: Vec<Id>,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
struct StoredEnvelope {
    doc: DocKey,
    deps: Vec<Id>,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
struct DocIndex {
    /// Insertion order, which is a dependency order.
    order: Vec<Id>,
    heads: BTreeSet<Id>,
}

/// An in-memory, dependency-closed store: the reference [`View`] used by
/// tests and the simulator. Every peer may hold every document.
#[derive(Debug, Clone, Default)]
pub struct MemView {
    ops: BTreeMap<Id, StoredOp>,
    envelopes: BTreeMap<Id, StoredEnvelope>,
    docs: BTreeMap<DocKey, DocIndex>,
    bytes: u64,
}

impl MemView {
    /// An empty store.
    pub fn new() -> MemView {
        MemView::default()
    }

    /// Adds an op whose dependencies are held; returns its id.
    pub fn insert_op(&mut self, deps: Vec<Id>, bytes: Vec<u8>) -> Result<Id, InsertError> {
        let id = id_of(&bytes);
        self.insert(Item::Op(Op { id, deps, bytes }))?;
        Ok(id)
    }

    /// Adds an envelope whose dependencies are held; returns its id.
    pub fn insert_envelope(&mut self, doc: DocKey, deps: Vec<Id>, bytes: Vec<u8>) -> Result<Id, InsertError> {
        let id = id_of(&bytes);
        self.insert(Item::Envelope(Envelope { id, doc, deps, bytes }))?;
        Ok(id)
    }

    /// Adds an item (as delivered by a session); returns whether it was
    /// new. The id is trusted to be blake3 of the bytes.
    pub fn insert(&mut self, item: Item) -> Result<bool, InsertError> {
        match item {
            Item::Op(op) => {
                if self.ops.contains_key(&op.id) {
                    return Ok(false);
                }
                if let Some(dep) = op.deps.iter().find(|d| !self.ops.contains_key(*d)) {
                    return Err(InsertError::MissingDependency { item: op.id, dep: *dep });
                }
                self.bytes += op.bytes.len() as u64;
                self.ops.insert(
                    op.id,
                    StoredOp {
                        deps: op.deps,
                        bytes: op.bytes,
                    },
                );
                Ok(true)
            }
            Item::Envelope(env) => {
                if self.envelopes.contains_key(&env.id) {
                    return Ok(false);
                }
                for dep in &env.deps {
                    match self.envelopes.get(dep) {
                        None => {
                            return Err(InsertError::MissingDependency {
                                item: env.id,
                                dep: *dep,
                            });
                        }
                        Some(d) if d.doc != env.doc => {
                            return Err(InsertError::OtherDocument {
                                item: env.id,
                                dep: *dep,
                            });
                        }
                        Some(_) => {}
                    }
                }
                let index = self.docs.entry(env.doc).or_default();
                for dep in &env.deps {
                    index.heads.remove(dep);
                }
                index.heads.insert(env.id);
                index.order.push(env.id);
                self.bytes += env.bytes.len() as u64;
                self.envelopes.insert(
                    env.id,
                    StoredEnvelope {
                        doc: env.doc,
                        deps: env.deps,
                        bytes: env.bytes,
                    },
                );
                Ok(true)
            }
        }
    }

    /// Whether an op or envelope with this id is held.
    pub fn contains(&self, id: &Id) -> bool {
        self.ops.contains_key(id) || self.envelopes.contains_key(id)
    }

    /// Number of ops held.
    pub fn op_count(&self) -> usize {
        self.ops.len()
    }

    /// Number of envelopes held.
    pub fn envelope_count(&self) -> usize {
        self.envelopes.len()
    }

    /// Total bytes of the items held.
    pub fn bytes_held(&self) -> u64 {
        self.bytes
    }

    /// The op ids held, ascending.
    pub fn op_id_set(&self) -> BTreeSet<Id> {
        self.ops.keys().copied().collect()
    }

    /// The envelope ids held, ascending.
    pub fn envelope_id_set(&self) -> BTreeSet<Id> {
        self.envelopes.keys().copied().collect()
    }

    /// The document of a held envelope.
    pub fn doc_of(&self, id: &Id) -> Option<DocKey> {
        self.envelopes.get(id).map(|e| e.doc)
    }

    /// Every envelope of a document, in insertion (dependency) order.
    pub fn doc_envelopes(&self, doc: &DocKey) -> &[Id] {
        self.docs.get(doc).map(|d| d.order.as_slice()).unwrap_or(&[])
    }
}

impl View for MemView {
    fn op_ids(&self) -> Vec<Id> {
        self.ops.keys().copied().collect()
    }

    fn op(&self, id: &Id) -> Option<Op> {
        self.ops.get(id).map(|op| Op {
            id: *id,
            deps: op.deps.clone(),
            bytes: op.bytes.clone(),
        })
    }

    fn has_op(&self, id: &Id) -> bool {
        self.ops.contains_key(id)
    }

    fn docs(&self) -> Vec<DocKey> {
        self.docs.keys().copied().collect()
    }

    fn heads(&self, doc: &DocKey) -> Vec<Id> {
        self.docs
            .get(doc)
            .map(|d| d.heads.iter().copied().collect())
            .unwrap_or_default()
    }

    fn envelope(&self, id: &Id) -> Option<Envelope> {
        self.envelopes.get(id).map(|e| Envelope {
            id: *id,
            doc: e.doc,
            deps: e.deps.clone(),
            bytes: e.bytes.clone(),
        })
    }

    fn has_envelope(&self, id: &Id) -> bool {
        self.envelopes.contains_key(id)
    }

    fn not_in_past_of(&self, doc: &DocKey, heads: &[Id]) -> Vec<Id> {
        let Some(index) = self.docs.get(doc) else {
            return Vec::new();
        };
        // Iterative walk of the causal past of the heads held.
        let mut past: BTreeSet<Id> = BTreeSet::new();
        let mut stack: Vec<Id> = heads
            .iter()
            .filter(|h| self.envelopes.get(*h).is_some_and(|e| e.doc == *doc))
            .copied()
            .collect();
        while let Some(id) = stack.pop() {
            if past.insert(id)
                && let Some(env) = self.envelopes.get(&id)
            {
                stack.extend(env.deps.iter().filter(|d| !past.contains(*d)).copied());
            }
        }
        index.order.iter().filter(|id| !past.contains(*id)).copied().collect()
    }

    fn may_hold(&self, _doc: &DocKey) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(n: u8) -> DocKey {
        DocKey::new([n; 32], [n; 16])
    }

    #[test]
    fn heads_and_past_follow_dependencies() {
        let mut v = MemView::new();
        let d = doc(1);
        let a = v.insert_envelope(d, vec![], b"a".to_vec()).unwrap();
        let b = v.insert_envelope(d, vec![a], b"b".to_vec()).unwrap();
        let c = v.insert_envelope(d, vec![a], b"c".to_vec()).unwrap();
        let mut heads = v.heads(&d);
        heads.sort();
        let mut expect = vec![b, c];
        expect.sort();
        assert_eq!(heads, expect);
        assert_eq!(v.not_in_past_of(&d, &[]), vec![a, b, c]);
        assert_eq!(v.not_in_past_of(&d, &[b]), vec![c]);
        assert_eq!(v.not_in_past_of(&d, &[b, c]), Vec::<Id>::new());
        // Unknown heads are ignored.
        assert_eq!(v.not_in_past_of(&d, &[[9; 32]]), vec![a, b, c]);
        let m = v.insert_envelope(d, vec![b, c], b"m".to_vec()).unwrap();
        assert_eq!(v.heads(&d), vec![m]);
    }

    #[test]
    fn refuses_missing_and_cross_document_dependencies() {
        let mut v = MemView::new();
        let a = v.insert_envelope(doc(1), vec![], b"a".to_vec()).unwrap();
        assert!(matches!(
            v.insert_envelope(doc(1), vec![[5; 32]], b"x".to_vec()),
            Err(InsertError::MissingDependency { .. })
        ));
        assert!(matches!(
            v.insert_envelope(doc(2), vec![a], b"y".to_vec()),
            Err(InsertError::OtherDocument { .. })
        ));
        let o = v.insert_op(vec![], b"op".to_vec()).unwrap();
        assert!(v.insert_op(vec![o], b"op2".to_vec()).is_ok());
        assert!(v.insert_op(vec![[1; 32]], b"op3".to_vec()).is_err());
        assert_eq!(v.insert_op(vec![], b"op".to_vec()), Ok(o));
        assert_eq!(v.op_count(), 2);
        assert_eq!(v.envelope_count(), 1);
    }

    #[test]
    fn filtered_restricts_only_may_hold() {
        let mut v = MemView::new();
        v.insert_envelope(doc(1), vec![], b"a".to_vec()).unwrap();
        let f = Filtered::new(&v, |d: &DocKey| d.scope() == [1; 32]);
        assert!(f.may_hold(&doc(1)));
        assert!(!f.may_hold(&doc(2)));
        assert_eq!(f.docs(), vec![doc(1)]);
    }
}
