//! The node's side of anti-entropy: building the sync core's view from the
//! store, and verifying and storing what sessions deliver.

use crate::local::Local;
use anyhow::Result;
use outpost_identity::{AuthState, OpId, Role, RoleCert, SignedOp};
use outpost_seal::envelope::Envelope;
use outpost_sync::view::{Item, MemView};
use outpost_sync::{DocKey, Id};
use std::collections::{BTreeSet, HashMap};

/// The dependencies of an op as the sync core sees them: sorted, unique.
pub fn op_deps(op: &SignedOp) -> Vec<Id> {
    let deps: BTreeSet<Id> = op.op.deps().map(|d| d.0).collect();
    deps.into_iter().collect()
}

/// May the holder of `cert` hold the envelopes of `scope`? Relays carry
/// the ciphertext of every scope; everyone else holds the scopes they may
/// read. The one rule for what a peer is sent by sync ([`view_for`]), for
/// the gossip topics a node follows ([`held_scopes`]) and for what it
/// keeps from gossip.
pub fn may_hold(state: &AuthState, scope: &OpId, cert: &RoleCert) -> bool {
    cert.role == Role::Relay || state.scope(scope).is_some_and(|s| s.allows_read(scope, cert))
}

/// The scopes the holder of `cert` may hold ([`may_hold`]), in the order
/// they were defined: the gossip topics a node follows, oldest first.
pub fn held_scopes(state: &AuthState, cert: &RoleCert) -> Vec<OpId> {
    state
        .scopes()
        .map(|(id, _)| id)
        .filter(|id| may_hold(state, id, cert))
        .collect()
}

/// Does this node lack some of `deps`, the dependencies of an item that
/// came by gossip (ops when `op`, else envelopes)? Then gossip revealed
/// heads it does not know, and a sync with the sender fetches the rest.
pub fn lacks_deps(local: &Local, op: bool, deps: &[Id]) -> Result<bool> {
    if op {
        let Some(state) = local.state() else { return Ok(false) };
        return Ok(deps.iter().any(|d| state.op(&OpId(*d)).is_none()));
    }
    for d in deps {
        if !local.store.has_envelope(d)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Everything this node holds, as the sync core's view; only documents
/// `peer` may hold are included (relays hold all ciphertext; a peer with
/// no known certificate gets only the authorisation ops).
///
/// Building a view from the store is linear in the envelopes held
/// (decoding without verification, one dependency-ordering pass): most of
/// a second at tens of thousands, all of it under the node's lock. So the
/// views last built are kept, one per set of scopes a peer may hold, and
/// kept current as envelopes are stored ([`SyncViews::add`]); a session
/// gets a copy. They are built again when the authorisation state changes
/// or the store holds envelopes they were not told about.
pub fn view_for(local: &Local, peer: Option<&RoleCert>) -> Result<MemView> {
    // Nothing goes to a peer that a crash could still take back.
    local.ensure_durable()?;
    let mut view = MemView::new();
    let Some(state) = local.state() else { return Ok(view) };
    for id in state.order() {
        let op = state.op(id).expect("ordered ops are held");
        let _ = view.insert_op(op_deps(op), op.bytes.clone());
    }
    // Fail closed: a peer with no known certificate gets no envelopes.
    let Some(cert) = peer else { return Ok(view) };
    let holds = if cert.role == Role::Relay {
        Holds::Every
    } else {
        Holds::Scopes(held_scopes(state, cert).into_iter().collect())
    };
    let count = local.store.envelope_count()?;
    let mut cache = local.sync_views.borrow_mut();
    cache.reset_unless(state.len(), count);
    cache.used += 1;
    let used = cache.used;
    if let Some(held) = cache.views.iter_mut().find(|v| v.holds == holds) {
        held.used = used;
        return Ok(held.view.clone());
    }
    let mut envs: Vec<Envelope> = Vec::new();
    local
        .store
        .envelope_chunks(crate::docs::REPLICA_LOAD_CHUNK, |stored| -> Result<()> {
            envs.extend(
                stored
                    .iter()
                    .filter_map(|b| Envelope::decode_stored(b).ok())
                    .filter(|e| holds.holds(&e.header.scope)),
            );
            Ok(())
        })?;
    let mut held = HeldView {
        holds,
        view,
        waiting: Vec::new(),
        used,
    };
    held.insert(envs);
    let view = held.view.clone();
    if cache.views.len() == SYNC_VIEWS_MAX {
        let oldest = (0..cache.views.len())
            .min_by_key(|&i| cache.views[i].used)
            .expect("not empty");
        cache.views.swap_remove(oldest);
    }
    cache.views.push(held);
    Ok(view)
}

/// Sync views kept at most (see [`view_for`]): peers of one department
/// share one, so a few cover a node's usual peers.
const SYNC_VIEWS_MAX: usize = 4;

/// The sync views a node keeps between sessions (see [`view_for`]).
#[derive(Debug, Default)]
pub(crate) struct SyncViews {
    /// Ops in the authorisation state they were built with.
    ops: usize,
    /// Envelopes in the store they account for.
    stored: u64,
    /// Sessions served, to find the view used least recently.
    used: u64,
    views: Vec<HeldView>,
}

impl SyncViews {
    /// Forgets every view unless they were built with `ops` ops and
    /// account for `stored` envelopes.
    fn reset_unless(&mut self, ops: usize, stored: u64) {
        if self.ops != ops || self.stored != stored {
            self.views.clear();
            self.ops = ops;
            self.stored = stored;
        }
    }

    /// Adds envelopes just stored (new to the store) to every view whose
    /// peers may hold them; `stored` is the store's count now, `ops` the
    /// authorisation state's. If that does not add up (someone else wrote
    /// too, or the ops changed) the views are forgotten instead.
    pub(crate) fn add(&mut self, envs: &[Envelope], ops: usize, stored: u64) {
        if self.ops != ops || self.stored + envs.len() as u64 != stored {
            self.views.clear();
            self.ops = ops;
            self.stored = stored;
            return;
        }
        self.stored = stored;
        for held in &mut self.views {
            let new: Vec<Envelope> = envs
                .iter()
                .filter(|e| held.holds.holds(&e.header.scope))
                .cloned()
                .collect();
            if !new.is_empty() {
                held.insert(new);
            }
        }
    }
}

/// Which scopes' envelopes a peer may hold.
#[derive(Debug, PartialEq, Eq)]
enum Holds {
    /// Every scope's (a relay).
    Every,
    /// These.
    Scopes(BTreeSet<OpId>),
}

impl Holds {
    fn holds(&self, scope: &OpId) -> bool {
        match self {
            Holds::Every => true,
            Holds::Scopes(s) => s.contains(scope),
        }
    }
}

/// One kept view.
#[derive(Debug)]
struct HeldView {
    holds: Holds,
    view: MemView,
    /// Envelopes stored whose dependencies the view does not hold yet
    /// (a view takes an item only after its dependencies).
    waiting: Vec<Envelope>,
    used: u64,
}

impl HeldView {
    /// Inserts `envs` and whatever was waiting for them, dependencies
    /// first.
    fn insert(&mut self, envs: Vec<Envelope>) {
        let mut batch = std::mem::take(&mut self.waiting);
        batch.extend(envs);
        let order = dependency_order(&batch, |id| self.view.contains(id));
        let mut placed = vec![false; batch.len()];
        for &i in &order {
            placed[i] = true;
        }
        let mut slots: Vec<Option<Envelope>> = batch.into_iter().map(Some).collect();
        for i in order {
            let mut e = slots[i].take().expect("each index once");
            let doc = DocKey::new(e.header.scope.0, e.header.doc.0);
            let deps = e.header.deps.iter().map(|d| d.0).collect();
            let _ = self.view.insert_envelope(doc, deps, std::mem::take(&mut e.bytes));
        }
        self.waiting = slots
            .into_iter()
            .zip(placed)
            .filter_map(|(e, placed)| if placed { None } else { e })
            .collect();
    }
}

/// The indexes of `envs` in an order where each comes after its
/// dependencies. An envelope with a dependency that is neither in `envs`
/// (directly or further back) nor `held` is left out, as the view could
/// not take it. One depth-first pass: linear in envelopes and
/// dependencies.
pub fn dependency_order(envs: &[Envelope], held: impl Fn(&[u8; 32]) -> bool) -> Vec<usize> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mark {
        New,
        Open,
        Done,
        Dropped,
    }
    let index: HashMap<[u8; 32], usize> = envs.iter().enumerate().map(|(i, e)| (e.id.0, i)).collect();
    let mut mark = vec![Mark::New; envs.len()];
    let mut order = Vec::with_capacity(envs.len());
    // (envelope, its next dependency to look at)
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..envs.len() {
        if mark[root] != Mark::New {
            continue;
        }
        mark[root] = Mark::Open;
        stack.push((root, 0));
        while let Some(&(i, next)) = stack.last() {
            let deps = &envs[i].header.deps;
            if next == deps.len() {
                mark[i] = Mark::Done;
                order.push(i);
                stack.pop();
                continue;
            }
            // A dependency is looked at again after its own pass, to see
            // whether it was kept.
            match index.get(&deps[next].0).map(|&j| (j, mark[j])) {
                Some((_, Mark::Done)) => stack.last_mut().expect("not empty").1 += 1,
                Some((j, Mark::New)) => {
                    mark[j] = Mark::Open;
                    stack.push((j, 0));
                }
                None if held(&deps[next].0) => stack.last_mut().expect("not empty").1 += 1,
                // Missing, dropped, or a cycle (impossible between honest
                // content-addressed envelopes).
                _ => {
                    mark[i] = Mark::Dropped;
                    stack.pop();
                }
            }
        }
    }
    order
}

/// Deliveries of at least this many envelopes are verified on all cores.
pub const PARALLEL_VERIFY_MIN: usize = 1024;

/// Decodes and verifies envelopes, in order. Signatures are checked
/// together (one key decompression per author and batch, batched
/// verification where the seal crate offers it); a large delivery (a
/// catch-up, or the whole store when the replica is built) is split across
/// the cores, since the session or the first request waits for it.
pub(crate) fn decode_all(bytes: &[&[u8]]) -> Vec<Result<Envelope, outpost_identity::signed::DecodeError>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if bytes.len() < PARALLEL_VERIFY_MIN || threads < 2 {
        return Envelope::decode_batch(bytes);
    }
    std::thread::scope(|s| {
        let parts: Vec<_> = bytes
            .chunks(bytes.len().div_ceil(threads))
            .map(|part| s.spawn(move || Envelope::decode_batch(part)))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("decoding an envelope does not panic"))
            .collect()
    })
}

/// Most envelopes one delivery re-publishes by gossip (see [`ingest`]).
pub const REPUBLISH_ENVELOPES_MAX: usize = 256;

/// What [`ingest`] stored.
#[derive(Debug, Default)]
pub struct Ingested {
    /// How many ops were new.
    pub ops: usize,
    /// The envelopes new to this node, by id.
    pub envelopes: Vec<[u8; 32]>,
    /// Why each item refused was refused, as an offence of the peer that
    /// delivered it.
    pub refused: Vec<outpost_net::Offence>,
}

/// Why `env` can never be valid, if that can be told from the
/// authorisation state alone: its author's certificate and its key epoch
/// are known, and the epoch's policy does not let that certificate write (a
/// view-only member's change). Certificates and the policy of an epoch
/// never change, so such a change is refused for good: it is neither
/// stored nor passed on. The scope's policy now is not the test: a change
/// made before a reshare, by a writer it made view-only, can still be
/// valid. Anything that depends on ops not yet known is left to the
/// validity rule.
fn never_valid(state: &outpost_identity::AuthState, env: &Envelope) -> Option<String> {
    let cert = state.op(&env.header.cert)?.grant()?;
    if state.epoch(&env.header.epoch)?.scope != env.header.scope {
        return None;
    }
    let scope = state.epoch_policy(&env.header.epoch)?;
    if cert.subject != env.header.author || scope.allows_write(cert) {
        return None;
    }
    Some(format!(
        "its author {} may read but not write in scope {:?} (view-only)",
        cert.name, scope.name
    ))
}

/// Verifies and stores delivered items (ops first). Returns what was new.
/// With `republish`, envelopes new to this node are
/// queued for gossip, so that what one peer learnt by sync reaches the
/// others at once rather than at their next anti-entropy round; unless one
/// delivery brought more than [`REPUBLISH_ENVELOPES_MAX`] of them.
pub fn ingest(local: &mut Local, items: Vec<Item>, republish: bool) -> Result<Ingested> {
    use outpost_net::Offence;
    let mut refused = Vec::new();
    let mut ops = Vec::new();
    let mut delivered = Vec::new();
    let mut envs = Vec::new();
    for item in items {
        match item {
            Item::Op(op) => match SignedOp::decode(&op.bytes) {
                Ok(decoded) if op_deps(&decoded) == op.deps => ops.push(decoded),
                Ok(_) => {
                    refused.push(Offence::Unacceptable);
                    tracing::warn!("dropping an op whose declared dependencies do not match its content")
                }
                Err(e) => {
                    refused.push(Offence::Malformed);
                    tracing::warn!("dropping an invalid op from a peer: {e}")
                }
            },
            // Already stored (the same envelope by gossip and by sync, or
            // from two sessions at once): nothing to verify or write.
            Item::Envelope(env) if local.store.has_envelope(&env.id)? => {}
            Item::Envelope(env) => delivered.push(env),
        }
    }
    let bytes: Vec<&[u8]> = delivered.iter().map(|e| e.bytes.as_slice()).collect();
    for (env, decoded) in delivered.iter().zip(decode_all(&bytes)) {
        match decoded {
            Ok(decoded)
                if DocKey::new(decoded.header.scope.0, decoded.header.doc.0) == env.doc
                    && decoded.header.deps.iter().map(|d| d.0).collect::<Vec<_>>() == env.deps =>
            {
                envs.push(decoded)
            }
            Ok(_) => {
                refused.push(Offence::Unacceptable);
                local.metrics.refused(crate::metrics::Refused::Mismatch);
                tracing::warn!("dropping an envelope whose declared document or dependencies do not match")
            }
            Err(e) => {
                refused.push(match e {
                    outpost_identity::signed::DecodeError::BadSignature(_) => Offence::BadSignature,
                    _ => Offence::Malformed,
                });
                local.metrics.refused(crate::metrics::Refused::Undecodable);
                tracing::warn!("dropping an invalid envelope from a peer: {e}")
            }
        }
    }
    drop(bytes);
    drop(delivered);
    let mut new_ops = 0;
    if !ops.is_empty() && local.state().is_some() {
        match local.add_ops(ops, None) {
            Ok(n) => {
                new_ops = n;
                local
                    .metrics
                    .ops_received
                    .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => tracing::warn!("could not add ops from a peer: {e:#}"),
        }
    }
    if let Some(state) = local.state() {
        let metrics = local.metrics.clone();
        envs.retain(|e| match never_valid(state, e) {
            Some(why) => {
                refused.push(Offence::Unacceptable);
                metrics.refused(crate::metrics::Refused::NeverValid);
                tracing::warn!(
                    "refusing change {} to document {}: {why}",
                    hex::encode(e.id.0),
                    e.header.doc.to_hex()
                );
                false
            }
            None => true,
        });
    }
    let items: Vec<([u8; 48], [u8; 32], Vec<u8>)> = envs
        .iter()
        .map(|e| {
            (
                crate::docs::doc_key_bytes(&(e.header.scope, e.header.doc)),
                e.id.0,
                e.bytes.clone(),
            )
        })
        .collect();
    if items.is_empty() {
        // No write transaction (and no fsync) for nothing.
        return Ok(Ingested {
            ops: new_ops,
            envelopes: Vec::new(),
            refused,
        });
    }
    let new = local
        .store
        .put_envelopes(items.iter().map(|(d, id, b)| (d, id, b.as_slice())))?;
    local
        .metrics
        .envelopes_received
        .fetch_add(new.len() as u64, std::sync::atomic::Ordering::Relaxed);
    {
        let fresh: BTreeSet<[u8; 32]> = new.iter().copied().collect();
        local.note_stored(envs.into_iter().filter(|e| fresh.contains(&e.id.0)).collect(), false)?;
    }
    // A bulk transfer (catching up) is not re-published: one gossip message
    // per envelope would flood every peer's event loop, and peers that lack
    // that much get it from their own sync sessions.
    if republish && new.len() <= REPUBLISH_ENVELOPES_MAX {
        let new: BTreeSet<[u8; 32]> = new.iter().copied().collect();
        for (_, _, bytes) in items.iter().filter(|(_, id, _)| new.contains(id)) {
            local.push_outbox(crate::local::frame::wrap(crate::local::frame::ENVELOPE, bytes));
        }
    }
    Ok(Ingested {
        ops: new_ops,
        envelopes: new,
        refused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::{Home, Passphrase};

    /// Ops, envelopes, and each document's envelopes, as sets.
    type Contents = (BTreeSet<Id>, BTreeSet<Id>, Vec<(DocKey, BTreeSet<Id>)>);

    /// What a view holds.
    fn contents(view: &MemView) -> Contents {
        let envs = view.envelope_id_set();
        let mut docs: Vec<DocKey> = envs.iter().filter_map(|id| view.doc_of(id)).collect();
        docs.sort();
        docs.dedup();
        let per_doc = docs
            .into_iter()
            .map(|d| (d, view.doc_envelopes(&d).iter().copied().collect()))
            .collect();
        (view.op_id_set(), envs, per_doc)
    }

    #[test]
    fn a_kept_sync_view_is_what_a_fresh_one_would_be_whatever_the_arrival_order() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let pass = Passphrase::default();
        let now = crate::now();
        let home = Home::at(dir.path().join("admin"));
        home.init(&pass).expect("initialised");
        let mut local = Local::open(home).expect("opens");
        local.create_org("Acme", "Admin", &pass, now).expect("org created");
        let cert = local
            .require_org()
            .expect("an org")
            .role_of(&local.member, now)
            .expect("a role")
            .1
            .clone();
        let scope = local
            .create_scope(
                outpost_identity::scope::ScopeDef {
                    name: "Everyone".into(),
                    readers: vec![outpost_identity::scope::Principal::Everyone],
                    writers: vec![outpost_identity::scope::Principal::Everyone],
                    nonce: rand::random(),
                },
                &pass,
                now,
            )
            .expect("a scope");
        let a = local.create_doc(scope, "A", &pass, now).expect("a document");
        let first = view_for(&local, Some(&cert)).expect("a view");
        // Kept from now on: writes and a second document reach it.
        let b = local.create_doc(scope, "B", &pass, now).expect("a document");
        for i in 0..5 {
            let id = hex::encode(if i % 2 == 0 { a.1.0 } else { b.1.0 });
            local.append_each(&id, &[format!("line {i}")], &pass).expect("appended");
        }
        let kept = view_for(&local, Some(&cert)).expect("a view");
        assert!(kept.envelope_count() > first.envelope_count());
        *local.sync_views.borrow_mut() = SyncViews::default();
        let fresh = view_for(&local, Some(&cert)).expect("a view");
        assert_eq!(contents(&kept), contents(&fresh));

        // Envelopes arriving newest first wait for their dependencies.
        let stored = local.store.envelopes().expect("envelopes");
        let mut envs: Vec<Envelope> = stored
            .iter()
            .map(|b| Envelope::decode_stored(b).expect("decodes"))
            .collect();
        let order = dependency_order(&envs, |_| false);
        assert_eq!(order.len(), envs.len(), "every stored envelope has its dependencies");
        let mut sorted: Vec<Envelope> = order.iter().map(|&i| envs[i].clone()).collect();
        sorted.reverse();
        envs.clear();
        let mut held = HeldView {
            holds: Holds::Every,
            view: MemView::new(),
            waiting: Vec::new(),
            used: 0,
        };
        let mut waited = 0;
        for e in sorted {
            held.insert(vec![e]);
            waited = waited.max(held.waiting.len());
        }
        assert!(waited > 1, "newer envelopes waited for older ones");
        assert!(held.waiting.is_empty());
        assert_eq!(held.view.envelope_count(), stored.len());
        let (_, envs_fresh, docs_fresh) = contents(&fresh);
        let (_, envs_held, docs_held) = contents(&held.view);
        assert_eq!((envs_held, docs_held), (envs_fresh, docs_fresh));
    }
}
