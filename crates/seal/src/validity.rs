//! The validity rule: one pure, deterministic function that every node —
//! relays included, which see only headers — applies to every envelope.
//!
//! Given an envelope and what a node knows (the authorisation state and the
//! other envelopes of the document), the verdict is:
//!
//! 1. **Pending** if a dependency, an authorisation head, the author's
//!    certificate, the scope or the epoch is not known yet, or a dependency
//!    is itself pending. Pending envelopes are kept and judged again when
//!    more arrives; they are never silently dropped.
//! 2. **Invalid** if a dependency is invalid or belongs to another document
//!    (rule 5).
//! 3. **Invalid** unless the certificate is an accepted role certificate of
//!    the author, with nothing refused in its chain, valid at the
//!    envelope's time; the scope is accepted; the epoch is an accepted
//!    rekey or reshare of this scope; and the policy of that epoch
//!    ([`AuthState::epoch_policy`]: the readers and writers in force when
//!    the epoch was made, or the reshare's own) lets it write (rule 2;
//!    view-only readers, guests and relays never write).
//! 4. For each revocation `R` of the certificate or an ancestor (rule 3,
//!    anti-backdating): **Invalid** if `R` is in the causal past of the
//!    envelope's `auth_heads` (the author knew), or if the envelope is not
//!    in the causal past of the heads `R` recorded for this document.
//! 5. **Invalid** unless the epoch is current as seen from `auth_heads`: no
//!    later rekey or reshare of the scope in the past of `auth_heads`
//!    supersedes it (rule 4). And **invalid** if, of the epochs current
//!    there, the one in force ([`AuthState::preferred_epoch`]) is another
//!    whose policy does not let the author write: concurrent epochs may
//!    carry different policies, and an author who knew of a reshare that
//!    made them view-only cannot write under an epoch made concurrently.
//!
//! So a member a reshare made view-only (or removed) can neither write
//! under the reshare's epoch or any later one (rule 3), nor keep writing
//! under an earlier epoch once they know of the reshare (rule 5). What they
//! wrote before, or without knowing of it, stays valid, as concurrent edits
//! do.
//!
//! Everything else is **Valid**. The verdict depends only on the sets of
//! envelopes and ops, not on arrival order.

use crate::envelope::{EnvId, Header};
use outpost_identity::state::Verdict as OpVerdict;
use outpost_identity::{AuthState, Body, OpId};
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

/// Something the verdict waits for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Missing {
    /// An envelope of the document.
    Envelope(EnvId),
    /// An authorisation op.
    Op(OpId),
}

/// Why an envelope is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// A dependency is invalid.
    #[error("it builds on invalid envelope {0}")]
    DepInvalid(EnvId),
    /// A dependency belongs to another document.
    #[error("its dependency {0} belongs to another document")]
    DepOtherDoc(EnvId),
    /// The named certificate is not a role certificate of the author.
    #[error("its certificate is not the author's role certificate")]
    CertNotAuthor,
    /// The certificate or its chain was refused.
    #[error("its author's certificate is invalid: {0}")]
    CertInvalid(String),
    /// Written outside the certificate's validity window.
    #[error("it was written outside its author's certificate validity")]
    OutsideValidity,
    /// The author had seen their own revocation.
    #[error("its author wrote it after learning of revocation {0}")]
    AuthorKnewRevocation(OpId),
    /// Not covered by what the revoker had seen: written after revocation.
    #[error("it is not among the changes revocation {0} recorded; written after the revocation")]
    AfterRevocation(OpId),
    /// The scope was refused.
    #[error("its scope is not a valid scope")]
    BadScope,
    /// The author may not write under the policy of the envelope's epoch.
    #[error("its author may read but not write in this scope (view-only), or may not access it at all")]
    NotAWriter,
    /// The author knew of an epoch, concurrent with the envelope's, whose
    /// policy does not let them write.
    #[error(
        "its author knew of key epoch {0}, whose readers and writers do not let them write (view-only, or removed)"
    )]
    NoLongerAWriter(OpId),
    /// The epoch is not a rekey of this scope.
    #[error("its key epoch does not belong to its scope")]
    BadEpoch,
    /// A newer epoch was known to the author.
    #[error("it uses key epoch {0}, superseded by a rekey its author knew of")]
    StaleEpoch(OpId),
}

/// The verdict on one envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Follows every rule.
    Valid,
    /// Waits for these.
    Pending(Vec<Missing>),
    /// Breaks a rule.
    Invalid(Reason),
}

/// What the rule needs to know about the document's envelopes.
pub trait Known {
    /// The header of a known envelope.
    fn header(&self, id: &EnvId) -> Option<&Header>;
    /// The verdict already reached on a known envelope (dependencies are
    /// judged before their dependants).
    fn verdict(&self, id: &EnvId) -> Option<&Verdict>;
    /// Is `id` one of `heads` or an ancestor of one? `Err` lists missing
    /// envelopes met on the way.
    fn in_past(&self, id: &EnvId, heads: &[EnvId]) -> Result<bool, Vec<EnvId>>;
}

/// Caches derived from the authorisation state; valid while it does not
/// change.
#[derive(Debug, Default)]
pub struct Memo {
    past: HashMap<Vec<OpId>, Rc<BTreeSet<OpId>>>,
    current: HashMap<(OpId, Vec<OpId>), Rc<Current>>,
}

/// The current epochs of a scope as seen from some `auth_heads`, and the
/// one of them in force.
#[derive(Debug)]
struct Current {
    epochs: Vec<OpId>,
    in_force: Option<OpId>,
}

impl Memo {
    fn past(&mut self, auth: &AuthState, heads: &[OpId]) -> Rc<BTreeSet<OpId>> {
        self.past
            .entry(heads.to_vec())
            .or_insert_with(|| Rc::new(auth.past(heads)))
            .clone()
    }

    fn current(&mut self, auth: &AuthState, scope: OpId, heads: &[OpId]) -> Rc<Current> {
        if let Some(c) = self.current.get(&(scope, heads.to_vec())) {
            return c.clone();
        }
        let past = self.past(auth, heads);
        let epochs = auth.current_epochs(&scope, Some(&past));
        let in_force = auth.preferred_epoch(&epochs);
        let c = Rc::new(Current { epochs, in_force });
        self.current.insert((scope, heads.to_vec()), c.clone());
        c
    }
}

fn op_missing(auth: &AuthState, id: &OpId, out: &mut Vec<Missing>) {
    match auth.verdict(id) {
        None => out.push(Missing::Op(*id)),
        Some(OpVerdict::Pending) => out.push(Missing::Op(*id)),
        _ => {}
    }
}

/// Applies the rule to the envelope `id` with header `h`.
pub fn judge(id: &EnvId, h: &Header, auth: &AuthState, known: &impl Known, memo: &mut Memo) -> Verdict {
    // 1. Everything referenced must be known and decided.
    let mut missing = Vec::new();
    for dep in &h.deps {
        match (known.header(dep), known.verdict(dep)) {
            (None, _) | (_, None) => missing.push(Missing::Envelope(*dep)),
            (Some(_), Some(Verdict::Pending(_))) => missing.push(Missing::Envelope(*dep)),
            _ => {}
        }
    }
    for op in h.auth_heads.iter().chain([&h.cert, &h.scope, &h.epoch]) {
        op_missing(auth, op, &mut missing);
    }
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        return Verdict::Pending(missing);
    }
    // 2. Dependencies: same document, all valid.
    for dep in &h.deps {
        let dh = known.header(dep).expect("checked above");
        if dh.doc != h.doc || dh.scope != h.scope {
            return Verdict::Invalid(Reason::DepOtherDoc(*dep));
        }
        if let Some(Verdict::Invalid(_)) = known.verdict(dep) {
            return Verdict::Invalid(Reason::DepInvalid(*dep));
        }
    }
    // 3. The author's certificate, and the policy of the envelope's epoch.
    let cert = match auth.op(&h.cert).map(|o| &o.op.body) {
        Some(Body::Grant(c)) if c.subject == h.author => c,
        _ => return Verdict::Invalid(Reason::CertNotAuthor),
    };
    let chain = auth.chain(h.cert);
    for link in &chain {
        if let Some(OpVerdict::Rejected(why)) = auth.verdict(link) {
            return Verdict::Invalid(Reason::CertInvalid(why.to_string()));
        }
    }
    if h.time < cert.not_before || h.time > cert.not_after {
        return Verdict::Invalid(Reason::OutsideValidity);
    }
    if auth.scope(&h.scope).is_none() {
        return Verdict::Invalid(Reason::BadScope);
    }
    let policy = match auth.epoch(&h.epoch) {
        Some(r) if r.scope == h.scope => auth.epoch_policy(&h.epoch).expect("an accepted epoch has a policy"),
        _ => return Verdict::Invalid(Reason::BadEpoch),
    };
    if !policy.allows_write(cert) {
        return Verdict::Invalid(Reason::NotAWriter);
    }
    // 4. Revocations in the chain: anti-backdating.
    let known_to_author = memo.past(auth, &h.auth_heads);
    for link in &chain {
        let Some(rev_id) = auth.revocation_of(link) else {
            continue;
        };
        if known_to_author.contains(&rev_id) {
            return Verdict::Invalid(Reason::AuthorKnewRevocation(rev_id));
        }
        let seen: &[[u8; 32]] = match auth.op(&rev_id).map(|o| &o.op.body) {
            Some(Body::Revoke(r)) => r
                .seen
                .iter()
                .find(|(doc, _)| *doc == h.doc.0)
                .map_or(&[], |(_, heads)| heads),
            _ => &[],
        };
        let heads: Vec<EnvId> = seen.iter().map(|b| EnvId(*b)).collect();
        match known.in_past(id, &heads) {
            Ok(true) => {}
            Ok(false) => return Verdict::Invalid(Reason::AfterRevocation(rev_id)),
            Err(missing) => return Verdict::Pending(missing.into_iter().map(Missing::Envelope).collect()),
        }
    }
    // 5. The key epoch is current where the author stood, and so is their
    // right to write.
    let current = memo.current(auth, h.scope, &h.auth_heads);
    if !current.epochs.contains(&h.epoch) {
        return Verdict::Invalid(Reason::StaleEpoch(h.epoch));
    }
    if let Some(in_force) = current.in_force
        && in_force != h.epoch
        && !auth.epoch_policy(&in_force).is_some_and(|p| p.allows_write(cert))
    {
        return Verdict::Invalid(Reason::NoLongerAWriter(in_force));
    }
    Verdict::Valid
}
