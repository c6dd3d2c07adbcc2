//! An in-memory replica: the authorisation state, the envelopes, and the
//! verdicts of the validity rule on all of them.
//!
//! Verdicts are computed by [`Replica::refresh`]: envelopes are judged in a
//! deterministic topological order (dependencies first, ties by id), so the
//! result is a function of the sets of ops and envelopes held — the
//! convergence invariant — whatever the arrival order.
//!
//! After new ops every verdict is recomputed. After new envelopes only, just
//! the new envelopes and the pending ones are judged: a decided verdict
//! (valid or invalid) depends on the authorisation state and on envelopes
//! reachable through dependencies, which never change once present, so
//! envelopes arriving later cannot alter it. The property tests check that
//! the incremental result equals a recomputation from scratch.

use crate::envelope::{DocId, EnvId, Envelope, Header};
use crate::validity::{self, Known, Memo, Missing, Verdict};
use outpost_identity::state::WrongOrg;
use outpost_identity::{AuthState, OpId, PublicKey, SignedOp};
use std::collections::{BTreeMap, BTreeSet};

/// A document is named by its scope and id.
pub type DocKey = (OpId, DocId);

/// Envelopes, ops and verdicts.
#[derive(Debug, Clone)]
pub struct Replica {
    auth: AuthState,
    /// Boxed: a tree node then holds 11 small entries rather than 11
    /// envelopes (a large node holds a million).
    envelopes: BTreeMap<EnvId, Box<Envelope>>,
    by_doc: BTreeMap<DocKey, BTreeSet<EnvId>>,
    verdicts: BTreeMap<EnvId, Verdict>,
    /// Envelopes whose verdict is pending (a subset of `verdicts`' keys).
    pending: BTreeSet<EnvId>,
    /// Envelopes inserted since the last refresh.
    fresh: BTreeSet<EnvId>,
    /// Ops arrived since the last refresh: every verdict must be recomputed.
    dirty: bool,
    /// Per document, the valid envelopes no valid envelope depends on, kept
    /// as verdicts are made (an envelope is valid only after its
    /// dependencies are, so each new valid envelope covers its own).
    heads: BTreeMap<DocKey, BTreeSet<EnvId>>,
}

struct View<'a> {
    envelopes: &'a BTreeMap<EnvId, Box<Envelope>>,
    verdicts: &'a BTreeMap<EnvId, Verdict>,
}

impl Known for View<'_> {
    fn header(&self, id: &EnvId) -> Option<&Header> {
        self.envelopes.get(id).map(|e| &e.header)
    }

    fn verdict(&self, id: &EnvId) -> Option<&Verdict> {
        self.verdicts.get(id)
    }

    fn in_past(&self, id: &EnvId, heads: &[EnvId]) -> Result<bool, Vec<EnvId>> {
        let mut stack: Vec<EnvId> = heads.to_vec();
        let mut seen = BTreeSet::new();
        let mut missing = Vec::new();
        while let Some(cur) = stack.pop() {
            if cur == *id {
                return Ok(true);
            }
            if !seen.insert(cur) {
                continue;
            }
            match self.envelopes.get(&cur) {
                Some(e) => stack.extend(e.header.deps.iter().copied()),
                None => missing.push(cur),
            }
        }
        if missing.is_empty() { Ok(false) } else { Err(missing) }
    }
}

impl Replica {
    /// An empty replica of the org named by `root`.
    pub fn new(root: PublicKey) -> Replica {
        Replica::with_state(AuthState::new(root))
    }

    /// A replica starting from an authorisation state.
    pub fn with_state(auth: AuthState) -> Replica {
        Replica {
            auth,
            envelopes: BTreeMap::new(),
            by_doc: BTreeMap::new(),
            verdicts: BTreeMap::new(),
            pending: BTreeSet::new(),
            fresh: BTreeSet::new(),
            dirty: false,
            heads: BTreeMap::new(),
        }
    }

    /// The authorisation state.
    pub fn auth(&self) -> &AuthState {
        &self.auth
    }

    /// Replaces the authorisation state (with one that grew: ops are never
    /// removed); every verdict is recomputed at the next refresh, without
    /// checking any signature again.
    pub fn set_auth(&mut self, auth: AuthState) {
        self.auth = auth;
        self.dirty = true;
    }

    /// Adds authorisation ops; returns how many were new.
    pub fn insert_ops(&mut self, ops: impl IntoIterator<Item = SignedOp>) -> Result<usize, WrongOrg> {
        let n = self.auth.insert_all(ops)?;
        self.dirty |= n > 0;
        Ok(n)
    }

    /// Adds an envelope (already decoded and signature-checked); returns
    /// true if it was new.
    pub fn insert_envelope(&mut self, env: Envelope) -> bool {
        if self.envelopes.contains_key(&env.id) {
            return false;
        }
        self.by_doc
            .entry((env.header.scope, env.header.doc))
            .or_default()
            .insert(env.id);
        self.fresh.insert(env.id);
        self.envelopes.insert(env.id, Box::new(env));
        true
    }

    /// One envelope.
    pub fn envelope(&self, id: &EnvId) -> Option<&Envelope> {
        self.envelopes.get(id).map(|e| &**e)
    }

    /// How many envelopes are held.
    pub fn len(&self) -> usize {
        self.envelopes.len()
    }

    /// True if no envelope is held.
    pub fn is_empty(&self) -> bool {
        self.envelopes.is_empty()
    }

    /// Every envelope held.
    pub fn envelopes(&self) -> impl Iterator<Item = &Envelope> {
        self.envelopes.values().map(|e| &**e)
    }

    /// Every document held.
    pub fn docs(&self) -> impl Iterator<Item = &DocKey> {
        self.by_doc.keys()
    }

    /// Brings the verdicts up to date: all of them after new ops; after new
    /// envelopes only, the new and the pending ones.
    pub fn refresh(&mut self) {
        if self.dirty {
            self.verdicts.clear();
            self.pending.clear();
            self.fresh.clear();
            self.heads.clear();
            self.dirty = false;
            let all = self.envelopes.keys().copied().collect();
            self.judge(all);
        } else if !self.fresh.is_empty() {
            let mut todo = std::mem::take(&mut self.fresh);
            todo.append(&mut self.pending);
            for id in &todo {
                self.verdicts.remove(id);
            }
            self.judge(todo);
        }
    }

    /// Judges `todo` (whose verdicts are unset) in topological order; every
    /// envelope outside it already has its verdict.
    fn judge(&mut self, todo: BTreeSet<EnvId>) {
        let mut memo = Memo::default();
        let (order, cycle) = topological(&todo, |id| &self.envelopes[id].header.deps);
        for id in order {
            let env = &self.envelopes[&id];
            let view = View {
                envelopes: &self.envelopes,
                verdicts: &self.verdicts,
            };
            let verdict = validity::judge(&id, &env.header, &self.auth, &view, &mut memo);
            match verdict {
                Verdict::Pending(_) => {
                    self.pending.insert(id);
                }
                Verdict::Valid => {
                    let heads = self.heads.entry((env.header.scope, env.header.doc)).or_default();
                    for d in &env.header.deps {
                        heads.remove(d);
                    }
                    heads.insert(id);
                }
                Verdict::Invalid(_) => {}
            }
            self.verdicts.insert(id, verdict);
        }
        // Only a dependency cycle (impossible with hashes) is left over.
        for id in cycle {
            self.pending.insert(id);
            self.verdicts.insert(id, Verdict::Pending(vec![Missing::Envelope(id)]));
        }
    }

    /// The verdict `env` would get if it were inserted now, without
    /// inserting it: a writer checks its own change this way before storing
    /// it. Judged against the verdicts of the last [`Replica::refresh`].
    pub fn trial(&self, env: &Envelope) -> Verdict {
        if let Some(v) = self.verdicts.get(&env.id) {
            return v.clone();
        }
        let view = View {
            envelopes: &self.envelopes,
            verdicts: &self.verdicts,
        };
        validity::judge(&env.id, &env.header, &self.auth, &view, &mut Memo::default())
    }

    /// The verdict on an envelope, as of the last [`Replica::refresh`].
    pub fn verdict(&self, id: &EnvId) -> Option<&Verdict> {
        self.verdicts.get(id)
    }

    /// All verdicts, as of the last refresh.
    pub fn verdicts(&self) -> &BTreeMap<EnvId, Verdict> {
        &self.verdicts
    }

    /// The valid envelopes of a document, in no particular order: for
    /// callers that only need to tell which are new to them (cheaper than
    /// [`Replica::valid_in_order`]).
    pub fn valid_of<'a>(&'a self, doc: &DocKey) -> impl Iterator<Item = &'a Envelope> + 'a {
        self.by_doc
            .get(doc)
            .into_iter()
            .flatten()
            .filter(|id| self.verdicts.get(*id) == Some(&Verdict::Valid))
            .filter_map(|id| self.envelopes.get(id).map(|e| &**e))
    }

    /// The valid envelopes of a document, dependencies first, ties by id.
    pub fn valid_in_order(&self, doc: &DocKey) -> Vec<&Envelope> {
        let Some(ids) = self.by_doc.get(doc) else {
            return Vec::new();
        };
        let valid: BTreeSet<EnvId> = ids
            .iter()
            .filter(|id| self.verdicts.get(id) == Some(&Verdict::Valid))
            .copied()
            .collect();
        let (order, _) = topological(&valid, |id| &self.envelopes[id].header.deps);
        order.iter().map(|id| &*self.envelopes[id]).collect()
    }

    /// The document's heads: valid envelopes no valid envelope depends on,
    /// by id; as of the last [`Replica::refresh`].
    pub fn heads(&self, doc: &DocKey) -> Vec<EnvId> {
        self.heads
            .get(doc)
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default()
    }
}

/// Kahn's algorithm over the dependencies inside `ids`, smallest id first
/// among those ready: the order, and what a cycle left out. Edges and
/// counts live in flat sorted vectors (a large node orders a million
/// envelopes at start; tree maps of vectors cost several times more).
fn topological<'a>(ids: &BTreeSet<EnvId>, deps_of: impl Fn(&EnvId) -> &'a [EnvId]) -> (Vec<EnvId>, Vec<EnvId>) {
    // (dependency, dependant), and per id how many dependencies it waits
    // for (in id order, as `ids` iterates).
    let mut edges: Vec<(EnvId, EnvId)> = Vec::new();
    let mut waiting: Vec<(EnvId, u32)> = Vec::with_capacity(ids.len());
    let mut ready = BTreeSet::new();
    for id in ids {
        let mut inside: Vec<EnvId> = deps_of(id).iter().filter(|d| ids.contains(d)).copied().collect();
        inside.sort_unstable();
        inside.dedup();
        edges.extend(inside.iter().map(|d| (*d, *id)));
        if inside.is_empty() {
            ready.insert(*id);
        }
        waiting.push((*id, inside.len() as u32));
    }
    edges.sort_unstable();
    let mut order = Vec::with_capacity(ids.len());
    while let Some(id) = ready.pop_first() {
        order.push(id);
        let from = edges.partition_point(|(d, _)| *d < id);
        for (_, next) in edges[from..].iter().take_while(|(d, _)| *d == id) {
            let i = waiting
                .binary_search_by_key(next, |(w, _)| *w)
                .expect("a dependant waits");
            waiting[i].1 -= 1;
            if waiting[i].1 == 0 {
                ready.insert(*next);
            }
        }
    }
    let cycle = waiting.into_iter().filter(|(_, n)| *n > 0).map(|(id, _)| id).collect();
    (order, cycle)
}

#[cfg(test)]
mod tests;
