//! The node's side of anti-entropy: building the sync core's view from the
//! store, and verifying and storing what sessions deliver.

use crate::local::Local;
use anyhow::Result;
use outpost_identity::{Role, RoleCert, SignedOp};
use outpost_seal::envelope::Envelope;
use outpost_sync::view::{Item, MemView};
use outpost_sync::{DocKey, Id};
use std::collections::BTreeSet;

/// The dependencies of an op as the sync core sees them: sorted, unique.
pub fn op_deps(op: &SignedOp) -> Vec<Id> {
    let deps: BTreeSet<Id> = op.op.deps().map(|d| d.0).collect();
    deps.into_iter().collect()
}

/// Everything this node holds, as the sync core's view; only documents
/// `peer` may hold are included (relays hold all ciphertext; a peer with
/// no known certificate gets only the authorisation ops).
pub fn view_for(local: &Local, peer: Option<&RoleCert>) -> Result<MemView> {
    let mut view = MemView::new();
    let Some(state) = local.state() else { return Ok(view) };
    for id in state.order() {
        let op = state.op(id).expect("ordered ops are held");
        let _ = view.insert_op(op_deps(op), op.bytes.clone());
    }
    let stored = local.store.envelopes()?;
    let mut envs: Vec<Envelope> = stored.iter().filter_map(|b| Envelope::decode_stored(b).ok()).collect();
    // Dependencies first: the view refuses an item whose dependencies it lacks.
    let mut inserted = BTreeSet::new();
    loop {
        let before = inserted.len();
        envs.retain(|e| {
            let doc = DocKey::new(e.header.scope.0, e.header.doc.0);
            // Fail closed: a peer with no known certificate gets no envelopes.
            let allowed = peer.is_some_and(|cert| {
                cert.role == Role::Relay
                    || state
                        .scope(&e.header.scope)
                        .is_some_and(|s| s.allows_read(&e.header.scope, cert))
            });
            if !allowed {
                return false;
            }
            if e.header.deps.iter().all(|d| inserted.contains(&d.0)) {
                let deps = e.header.deps.iter().map(|d| d.0).collect();
                if view.insert_envelope(doc, deps, e.bytes.clone()).is_ok() {
                    inserted.insert(e.id.0);
                }
                return false;
            }
            true
        });
        if inserted.len() == before {
            break;
        }
    }
    Ok(view)
}

/// Verifies and stores delivered items (ops first). Returns how many ops
/// and envelopes were new. With `republish`, envelopes new to this node are
/// queued for gossip, so that what one peer learnt by sync reaches the
/// others at once rather than at their next anti-entropy round.
pub fn ingest(local: &mut Local, items: Vec<Item>, republish: bool) -> Result<(usize, usize)> {
    let mut ops = Vec::new();
    let mut envs = Vec::new();
    for item in items {
        match item {
            Item::Op(op) => match SignedOp::decode(&op.bytes) {
                Ok(decoded) if op_deps(&decoded) == op.deps => ops.push(decoded),
                Ok(_) => tracing::warn!("dropping an op whose declared dependencies do not match its content"),
                Err(e) => tracing::warn!("dropping an invalid op from a peer: {e}"),
            },
            Item::Envelope(env) => match Envelope::decode(&env.bytes) {
                Ok(decoded)
                    if DocKey::new(decoded.header.scope.0, decoded.header.doc.0) == env.doc
                        && decoded.header.deps.iter().map(|d| d.0).collect::<Vec<_>>() == env.deps =>
                {
                    envs.push(decoded)
                }
                Ok(_) => tracing::warn!("dropping an envelope whose declared document or dependencies do not match"),
                Err(e) => tracing::warn!("dropping an invalid envelope from a peer: {e}"),
            },
        }
    }
    let mut new_ops = 0;
    if !ops.is_empty() && local.state().is_some() {
        match local.add_ops(ops, None) {
            Ok(n) => new_ops = n,
            Err(e) => tracing::warn!("could not add ops from a peer: {e:#}"),
        }
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
    let new = local
        .store
        .put_envelopes(items.iter().map(|(d, id, b)| (d, id, b.as_slice())))?;
    if republish {
        let new: BTreeSet<[u8; 32]> = new.iter().copied().collect();
        for (_, _, bytes) in items.iter().filter(|(_, id, _)| new.contains(id)) {
            local.push_outbox(crate::local::frame::wrap(crate::local::frame::ENVELOPE, bytes));
        }
    }
    let new_envs = new.len();
    Ok((new_ops, new_envs))
}
