//! Anti-entropy for Outpost: two nodes find out what the other lacks and
//! send it, as a pure state machine with no I/O, clock or randomness inside.
//!
//! # The model
//! A node's knowledge is two sets of opaque, content-addressed items
//! (`id = blake3(bytes)`):
//!
//! - **authorisation ops**: `id → (deps, bytes)`, where `deps` are other
//!   op ids (parents, proof, target);
//! - **envelopes**: `id → (doc, deps, bytes)`, where `doc` is a
//!   [`DocKey`] (scope op id ‖ document id, 48 bytes) and `deps` are
//!   envelopes of the same document. A document's *heads* are its
//!   envelopes that no other envelope of it depends on; they name the
//!   whole document, since every envelope is in their causal past.
//!
//! The crate never parses, verifies or decrypts the bytes: the node does
//! that when it stores what a session [delivers](session::Output::Deliver).
//! A node exposes its store through [`View`] (the [`MemView`] in memory is
//! the reference used by tests and the simulator), including the policy
//! [`View::may_hold`] that keeps a peer from being sent documents its role
//! may not hold.
//!
//! # The protocol, in one paragraph
//! A [`Session`] runs between an initiator and a responder over
//! request/response: every request gets exactly one response. Both sides
//! reconcile, in the same messages, (1) the set of authorisation op ids
//! and (2) the set of documents keyed by a per-session tag of each
//! document with a tag of its state (`blake3(doc key ‖ sorted heads)`), by
//! range-based set reconciliation ([`range`]). (3) Each document whose
//! state differs is settled by exchanging heads: a side that knows all the
//! other's heads sends exactly the envelopes outside their causal past; if
//! both sides wrote concurrently, the document's envelope ids are
//! reconciled by ranges too. Missing items travel in dependency order, ops
//! before envelopes, in frames bounded by
//! [`Config::frame_bytes_max`](session::Config::frame_bytes_max). The
//! message flow is walked through in [`session`]; the wire format is in
//! [`message`].
//!
//! # What the caller provides
//! - time, as [`Time`] (milliseconds on any monotonic clock), with every
//!   input; timeouts are checked against it;
//! - randomness, as the 16-byte salt of [`Session::initiate`]: fingerprints
//!   are keyed by it, so nobody can craft items whose fingerprints collide
//!   across sessions;
//! - transport: it sends each [`session::Output::Send`] and feeds back what
//!   arrives.
//!
//! # Limits of the design
//! - Each side computes its tags when a session starts: one keyed hash per
//!   op and per document (and per envelope of a document both sides wrote
//!   to). That is milliseconds for thousands of documents; for millions, a
//!   store would keep a fingerprint tree under a fixed key instead, giving
//!   up the per-session salt.
//! - Documents are compared by state; only documents whose state differs
//!   cost anything. Concurrent writes on both sides of a document cost
//!   about `log₁₆(envelopes in it)` more round trips.
//! - A session keeps the ids it sent and delivered: memory grows with what
//!   it transfers, which [`Config::round_trips_max`] and
//!   [`Config::frame_bytes_max`] bound.
//! - Authorisation ops and documents are reconciled in the same messages,
//!   and ops go before envelopes in every message; but if the op sets
//!   differ more than the documents do, an envelope can arrive before an op
//!   that authorises it. The validity rule keeps it pending until then.
//! - `may_hold` should be symmetric (derived from both roles): a document
//!   one side offers and the other refuses is offered again every session.

#![deny(missing_docs)]

pub mod message;
pub mod range;
pub mod session;
pub mod view;

pub use message::{DecodeError, Message};
pub use session::{Config, Failure, Output, Role, Session, Stats};
pub use view::{Envelope, Filtered, Item, MemView, Op, View};

use serde::{Deserialize, Serialize};
use std::fmt;

/// The id of an op or envelope: blake3 of its bytes.
pub type Id = [u8; 32];

/// blake3 of `bytes`: how an item's id is derived.
pub fn id_of(bytes: &[u8]) -> Id {
    *blake3::hash(bytes).as_bytes()
}

/// A document's name: its scope (a `ScopeDef` op id, 32 bytes) followed by
/// its document id (16 bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocKey(pub [u8; 48]);

impl DocKey {
    /// The key of document `doc` in scope `scope`.
    pub fn new(scope: [u8; 32], doc: [u8; 16]) -> DocKey {
        let mut key = [0u8; 48];
        key[..32].copy_from_slice(&scope);
        key[32..].copy_from_slice(&doc);
        DocKey(key)
    }

    /// The scope part.
    pub fn scope(&self) -> [u8; 32] {
        let mut s = [0u8; 32];
        s.copy_from_slice(&self.0[..32]);
        s
    }

    /// The document id part.
    pub fn doc(&self) -> [u8; 16] {
        let mut d = [0u8; 16];
        d.copy_from_slice(&self.0[32..]);
        d
    }
}

impl fmt::Debug for DocKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocKey({}/{})", short_hex(&self.0[..4]), short_hex(&self.0[32..36]))
    }
}

/// Hex of a few bytes, for `Debug` output.
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// Serialised as the 48 raw bytes (serde has no impls for arrays over 32).
impl Serialize for DocKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.scope(), self.doc()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for DocKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (scope, doc) = <([u8; 32], [u8; 16])>::deserialize(d)?;
        Ok(DocKey::new(scope, doc))
    }
}

/// A point in time in milliseconds, on whatever monotonic clock the caller
/// uses (virtual in the simulator).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Time(pub u64);

impl Time {
    /// Milliseconds from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: Time) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// The state id of a document: `blake3(doc key ‖ heads sorted ascending)`.
/// Equal state ids mean equal envelope sets (for dependency-closed sets).
pub fn state_id(doc: &DocKey, heads: &[Id]) -> Id {
    let mut sorted = heads.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut h = blake3::Hasher::new();
    h.update(&doc.0);
    for head in &sorted {
        h.update(head);
    }
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_key_round_trips_as_48_raw_bytes() {
        let key = DocKey::new([7; 32], [9; 16]);
        let bytes = postcard::to_stdvec(&key).unwrap();
        assert_eq!(bytes.len(), 48);
        assert_eq!(bytes, key.0.to_vec());
        assert_eq!(postcard::from_bytes::<DocKey>(&bytes).unwrap(), key);
        assert_eq!(key.scope(), [7; 32]);
        assert_eq!(key.doc(), [9; 16]);
    }

    #[test]
    fn state_id_ignores_head_order() {
        let doc = DocKey::new([1; 32], [2; 16]);
        assert_eq!(state_id(&doc, &[[1; 32], [2; 32]]), state_id(&doc, &[[2; 32], [1; 32]]));
        assert_ne!(state_id(&doc, &[[1; 32]]), state_id(&doc, &[[2; 32]]));
        assert_ne!(state_id(&doc, &[]), state_id(&DocKey::new([1; 32], [3; 16]), &[]));
    }
}
