//! The authorisation state: a pure, deterministic function of a set of ops.
//!
//! # How the state is computed
//! 1. Every op's dependencies are its `parents`, its `proof` and (for a
//!    revocation) its `target`. An op with a missing dependency, directly or
//!    through an ancestor, is **pending**: kept, and retried when more ops
//!    arrive, never dropped.
//! 2. The other ops are put in one topological order. Among ops that are
//!    ready at the same time, revocations come first, ordered by the
//!    seniority of their author (root, then admin, dept-head, member; then
//!    the shorter proof chain; then the op id), then scopes and rekeys, then
//!    certificates and wraps, each by op id. The order depends only on the
//!    set, never on arrival.
//! 3. Walking that order, each grant and device certificate is checked
//!    against the delegation rules ([`crate::rules`]) and its proof: the
//!    proof must be an accepted role certificate of the author, and the new
//!    certificate's whole validity must lie inside the proof's (so a key
//!    whose certificate expired cannot mint anything valid today). Each
//!    revocation takes effect if its author has authority over the target
//!    and the author's own chain has not been revoked earlier in the order —
//!    so of two admins revoking each other concurrently, the senior one wins.
//! 4. A certificate is live at time `t` if it was accepted, nothing in its
//!    proof chain (itself included) is revoked, and `t` is inside its own
//!    validity window. Revoking an issuer ends everything it issued.
//!
//! # Scope policies
//! A scope's readers and writers can change: every key epoch (an accepted
//! rekey or reshare) has a **policy**, fixed when the epoch is made. A
//! reshare carries its own readers and writers; a plain rekey inherits the
//! policy of the epoch current as seen from its own parents (chosen by
//! [`AuthState::preferred_epoch`] among the current ones); with no epoch
//! before it, the policy is the scope's definition. The scope's policy
//! *now* ([`AuthState::scope`]) is that of the epoch current as seen from
//! every accepted op. All of this is computed once per change of the op
//! set, in the same walk that judges the ops.

use crate::keys::{OrgId, PublicKey};
use crate::op::{Body, DeviceCert, OpId, Role, RoleCert, SignedOp};
use crate::rules::{self, DelegationError, Issuer};
use crate::scope::{Rekey, ScopeDef};
use crate::time::Timestamp;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// Why an op was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum Rejection {
    /// A delegation rule was broken.
    #[error(transparent)]
    Delegation(#[from] DelegationError),
    /// The op names no proof but is not signed by the org root.
    #[error("signed by {0:?}, which is not the org root, without a certificate as proof")]
    NoProof(PublicKey),
    /// The root signed with a proof, which it never needs.
    #[error("the org root signs without a proof certificate")]
    RootWithProof,
    /// The proof is not an accepted role certificate of the author.
    #[error("its proof {0} is not a valid role certificate of the signer")]
    BadProof(OpId),
    /// The certificate's validity (or the revocation's time) is not inside
    /// the issuer's validity window.
    #[error(
        "it is valid from {start} to {end}, not inside its issuer's certificate validity ({from} to {until}): an issuer cannot grant beyond its own validity"
    )]
    IssuerNotValid {
        /// start of the new certificate (or time of the revocation)
        start: Timestamp,
        /// end of the new certificate (or time of the revocation)
        end: Timestamp,
        /// issuer valid from
        from: Timestamp,
        /// issuer valid until
        until: Timestamp,
    },
    /// The revoker's own chain was revoked before this revocation.
    #[error("its author's certificate had already been revoked")]
    RevokerRevoked,
    /// The target of a revocation is not a certificate.
    #[error("it revokes {0}, which is not a certificate")]
    NotACertificate(OpId),
    /// A rekey names something that is not an accepted scope.
    #[error("it rekeys {0}, which is not a valid scope")]
    NotAScope(OpId),
    /// Wraps name something that is not an accepted epoch.
    #[error("it adds keys to {0}, which is not a valid key epoch")]
    NotAnEpoch(OpId),
    /// A reshare names something that is not an accepted scope.
    #[error("it changes who reads and writes {0}, which is not a valid scope")]
    NotAScopeToReshare(OpId),
    /// The author's role does not allow this op.
    #[error("{0}")]
    NotAllowed(String),
}

/// The verdict on one op.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Verdict {
    /// All its dependencies are known and it follows the rules.
    Accepted,
    /// All its dependencies are known and it breaks a rule.
    Rejected(Rejection),
    /// Some dependency is missing.
    Pending,
}

/// The standing of a certificate at a given time.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum CertStatus {
    /// Valid now.
    Live,
    /// This state has never seen the op.
    Unknown,
    /// Waiting for missing ops.
    Pending {
        /// ops it needs that are not here
        missing: Vec<OpId>,
    },
    /// The op is not a role or device certificate.
    NotACertificate,
    /// It, or a certificate in its chain, broke a rule.
    Invalid {
        /// the certificate that broke the rule
        at: OpId,
        /// which rule
        why: Rejection,
    },
    /// It, or a certificate in its chain, was revoked.
    Revoked {
        /// the revoked certificate (it or an ancestor)
        cert: OpId,
        /// the effective revocation
        by: OpId,
        /// the reason given
        reason: String,
    },
    /// Past its end.
    Expired {
        /// when it ended
        at: Timestamp,
    },
    /// Before its start.
    NotYetValid {
        /// when it starts
        from: Timestamp,
    },
}

impl CertStatus {
    /// True for [`CertStatus::Live`].
    pub fn is_live(&self) -> bool {
        matches!(self, CertStatus::Live)
    }
}

impl std::fmt::Display for CertStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertStatus::Live => f.write_str("valid"),
            CertStatus::Unknown => f.write_str("unknown to this node"),
            CertStatus::Pending { missing } => write!(
                f,
                "incomplete: {} certificate(s) of its chain are missing (first: {}); import the issuer's bundle",
                missing.len(),
                missing.first().map(|m| m.to_string()).unwrap_or_default()
            ),
            CertStatus::NotACertificate => f.write_str("not a certificate"),
            CertStatus::Invalid { at, why } => write!(f, "invalid: certificate {at} in its chain was refused: {why}"),
            CertStatus::Revoked { cert, by, reason } => {
                write!(f, "revoked: certificate {cert} was revoked by {by} ({reason})")
            }
            CertStatus::Expired { at } => write!(f, "expired at {at}: ask an admin to renew it"),
            CertStatus::NotYetValid { from } => write!(f, "not valid before {from}"),
        }
    }
}

/// The op was for another org.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("this belongs to org {found}, not to this node's org {expected}")]
pub struct WrongOrg {
    /// this state's org
    pub expected: OrgId,
    /// the op's org
    pub found: OrgId,
}

/// All authorisation ops of one org and what follows from them.
#[derive(Debug, Clone)]
pub struct AuthState {
    root: PublicKey,
    org: OrgId,
    ops: BTreeMap<OpId, SignedOp>,
    derived: Derived,
}

#[derive(Debug, Clone, Default)]
struct Derived {
    order: Vec<OpId>,
    verdicts: BTreeMap<OpId, Verdict>,
    revoked_by: BTreeMap<OpId, OpId>,
    missing: BTreeMap<OpId, Vec<OpId>>,
    revocation_heads: Vec<OpId>,
    by_subject: BTreeMap<PublicKey, Vec<OpId>>,
    by_device: BTreeMap<PublicKey, Vec<OpId>>,
    /// Accepted reshares as whole definitions (the scope's name and nonce,
    /// the reshare's readers and writers), by reshare id.
    reshared: BTreeMap<OpId, ScopeDef>,
    /// The reshare whose policy is in force in each epoch; absent when it
    /// is the scope's definition.
    epoch_policy: BTreeMap<OpId, OpId>,
    /// The reshare whose policy is in force in each scope now; absent when
    /// it is the scope's definition.
    scope_policy: BTreeMap<OpId, OpId>,
}

/// For the judging walk: which key epochs of reshared scopes lie in the
/// past of each op placed so far, as bit sets (one bit per epoch). Only
/// scopes that some reshare names are tracked; the others keep their
/// definition as the policy of every epoch, at no cost.
#[derive(Default)]
struct EpochPast {
    tracked: BTreeSet<OpId>,
    position: BTreeMap<OpId, usize>,
    /// Per op placed, by position: the tracked epochs in its past, itself included.
    past: Vec<Vec<u64>>,
    /// Per tracked scope, its epochs with their bits and the epochs in the
    /// past of their parents.
    epochs: BTreeMap<OpId, Vec<(OpId, usize, Vec<u64>)>>,
    bits: usize,
}

impl EpochPast {
    fn new(tracked: BTreeSet<OpId>) -> EpochPast {
        EpochPast {
            tracked,
            ..EpochPast::default()
        }
    }

    fn tracks(&self, scope: &OpId) -> bool {
        self.tracked.contains(scope)
    }

    /// The tracked epochs in the past of `ids` (placed ops).
    fn union<'a>(&self, ids: impl Iterator<Item = &'a OpId>) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        if self.tracked.is_empty() {
            return out;
        }
        for id in ids {
            let Some(set) = self.position.get(id).map(|i| &self.past[*i]) else {
                continue;
            };
            if out.len() < set.len() {
                out.resize(set.len(), 0);
            }
            for (o, s) in out.iter_mut().zip(set) {
                *o |= s;
            }
        }
        out
    }

    /// Records `id`, placed next, whose parents' past is `seen`.
    fn place(&mut self, id: OpId, op: &crate::op::Op, seen: &[u64]) {
        if self.tracked.is_empty() {
            return;
        }
        let others: Vec<OpId> = op.deps().filter(|d| *d != id).collect();
        let mut past = self.union(others.iter());
        if past.len() < seen.len() {
            past.resize(seen.len(), 0);
        }
        for (p, s) in past.iter_mut().zip(seen) {
            *p |= s;
        }
        self.position.insert(id, self.past.len());
        self.past.push(past);
    }

    /// Records that `id`, placed last, is an accepted epoch of `scope`
    /// whose parents' past is `seen`.
    fn add_epoch(&mut self, id: OpId, scope: OpId, seen: Vec<u64>) {
        let bit = self.bits;
        self.bits += 1;
        let past = self.past.last_mut().expect("the epoch was placed");
        if past.len() <= bit / 64 {
            past.resize(bit / 64 + 1, 0);
        }
        past[bit / 64] |= 1 << (bit % 64);
        self.epochs.entry(scope).or_default().push((id, bit, seen));
    }

    /// The epochs of `scope` in `within` (all if `None`) that no other of
    /// them supersedes: what [`AuthState::current_epochs`] gives.
    fn current(&self, scope: &OpId, within: Option<&[u64]>) -> Vec<OpId> {
        let has = |set: &[u64], bit: usize| set.get(bit / 64).is_some_and(|w| w & (1 << (bit % 64)) != 0);
        let Some(all) = self.epochs.get(scope) else {
            return Vec::new();
        };
        let candidates: Vec<&(OpId, usize, Vec<u64>)> = all
            .iter()
            .filter(|(_, bit, _)| within.is_none_or(|w| has(w, *bit)))
            .collect();
        candidates
            .iter()
            .filter(|(e, bit, _)| !candidates.iter().any(|(other, _, seen)| other != e && has(seen, *bit)))
            .map(|(e, _, _)| *e)
            .collect()
    }
}

impl AuthState {
    /// An empty state for the org named by `root`.
    pub fn new(root: PublicKey) -> AuthState {
        AuthState {
            root,
            org: OrgId::of_root(&root),
            ops: BTreeMap::new(),
            derived: Derived::default(),
        }
    }

    /// The org root's public key.
    pub fn root(&self) -> PublicKey {
        self.root
    }

    /// The org id.
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// Adds ops (already decoded and signature-checked). Returns how many
    /// were new. Nothing is added if any op belongs to another org.
    pub fn insert_all<I: IntoIterator<Item = SignedOp>>(&mut self, ops: I) -> Result<usize, WrongOrg> {
        let ops: Vec<SignedOp> = ops.into_iter().collect();
        if let Some(bad) = ops.iter().find(|o| o.op.org != self.org) {
            return Err(WrongOrg {
                expected: self.org,
                found: bad.op.org,
            });
        }
        let mut added = 0;
        for op in ops {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.ops.entry(op.id) {
                slot.insert(op);
                added += 1;
            }
        }
        if added > 0 {
            self.recompute();
        }
        Ok(added)
    }

    /// Adds one op. Returns true if it was new.
    pub fn insert(&mut self, op: SignedOp) -> Result<bool, WrongOrg> {
        Ok(self.insert_all([op])? == 1)
    }

    /// Every op held, by id.
    pub fn ops(&self) -> impl Iterator<Item = &SignedOp> {
        self.ops.values()
    }

    /// One op.
    pub fn op(&self, id: &OpId) -> Option<&SignedOp> {
        self.ops.get(id)
    }

    /// The number of ops held.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True if no op is held.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The verdict on an op, if known.
    pub fn verdict(&self, id: &OpId) -> Option<&Verdict> {
        self.derived.verdicts.get(id)
    }

    /// The deterministic order in which complete ops were applied.
    pub fn order(&self) -> &[OpId] {
        &self.derived.order
    }

    /// The control heads (latest decided revocations, scopes and rekeys):
    /// the parents a new op names and the `auth_heads` of an envelope.
    pub fn heads(&self) -> Vec<OpId> {
        self.derived.revocation_heads.clone()
    }

    /// The effective revocation of `id`, if any (not of its ancestors).
    pub fn revocation_of(&self, id: &OpId) -> Option<OpId> {
        self.derived.revoked_by.get(id).copied()
    }

    /// The standing of the certificate `id` at time `now`.
    pub fn status(&self, id: &OpId, now: Timestamp) -> CertStatus {
        let Some(op) = self.ops.get(id) else {
            return CertStatus::Unknown;
        };
        let (not_before, not_after) = match &op.op.body {
            Body::Grant(c) => (c.not_before, c.not_after),
            Body::Device(d) => (d.not_before, d.not_after),
            _ => return CertStatus::NotACertificate,
        };
        if let Some(missing) = self.derived.missing.get(id) {
            return CertStatus::Pending {
                missing: missing.clone(),
            };
        }
        if let Some(status) = self.chain_problem(*id) {
            return status;
        }
        if now < not_before {
            CertStatus::NotYetValid { from: not_before }
        } else if now > not_after {
            CertStatus::Expired { at: not_after }
        } else {
            CertStatus::Live
        }
    }

    /// The first rejection or revocation found walking up the chain of `id`.
    fn chain_problem(&self, id: OpId) -> Option<CertStatus> {
        for link in self.chain(id) {
            if let Some(Verdict::Rejected(why)) = self.derived.verdicts.get(&link) {
                return Some(CertStatus::Invalid {
                    at: link,
                    why: why.clone(),
                });
            }
            if let Some(by) = self.derived.revoked_by.get(&link) {
                let reason = match self.ops.get(by).map(|o| &o.op.body) {
                    Some(Body::Revoke(r)) => r.reason.clone(),
                    _ => String::new(),
                };
                return Some(CertStatus::Revoked {
                    cert: link,
                    by: *by,
                    reason,
                });
            }
        }
        None
    }

    /// `id` and its proof chain up to (not including) the root.
    pub fn chain(&self, id: OpId) -> Vec<OpId> {
        let mut out = vec![id];
        let mut cur = id;
        while let Some(next) = self.ops.get(&cur).and_then(|o| o.op.proof) {
            if out.contains(&next) || !self.ops.contains_key(&next) {
                break;
            }
            out.push(next);
            cur = next;
        }
        out
    }

    /// Accepted role certificates, in application order.
    pub fn role_certs(&self) -> impl Iterator<Item = (OpId, &RoleCert)> {
        self.derived.order.iter().filter_map(|id| {
            let op = &self.ops[id];
            match (&op.op.body, self.derived.verdicts.get(id)) {
                (Body::Grant(c), Some(Verdict::Accepted)) => Some((*id, c)),
                _ => None,
            }
        })
    }

    /// The certificate a member acts under at `now`: of their live role
    /// certificates, the one that starts latest (ties: the higher id).
    pub fn role_of(&self, subject: &PublicKey, now: Timestamp) -> Option<(OpId, &RoleCert)> {
        self.derived
            .by_subject
            .get(subject)?
            .iter()
            .filter(|id| self.status(id, now).is_live())
            .filter_map(|id| self.ops[id].grant().map(|c| (*id, c)))
            .max_by_key(|(id, c)| (c.not_before, *id))
    }

    /// Who a device acts for at `now`: its live device certificate and the
    /// member's current role certificate, or — for a node certified directly
    /// by the org (a relay or office node) — the device's own role
    /// certificate.
    pub fn device_principal(&self, device: &PublicKey, now: Timestamp) -> Option<(OpId, &RoleCert)> {
        if let Some(own) = self.role_of(device, now) {
            return Some(own);
        }
        self.derived
            .by_device
            .get(device)?
            .iter()
            .filter(|id| self.status(id, now).is_live())
            .find_map(|id| self.role_of(&self.ops[id].op.author, now))
    }

    /// Live device certificates of a member.
    pub fn devices_of(&self, member: &PublicKey, now: Timestamp) -> Vec<(OpId, &DeviceCert)> {
        self.derived
            .order
            .iter()
            .filter_map(|id| match &self.ops[id].op.body {
                Body::Device(d) if self.ops[id].op.author == *member => Some((*id, d)),
                _ => None,
            })
            .filter(|(id, _)| self.status(id, now).is_live())
            .collect()
    }

    /// Certificates (role or device) whose serial in hex, or whose id in
    /// hex, starts with `prefix`.
    pub fn find(&self, prefix: &str) -> Vec<OpId> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if prefix.is_empty() {
            return Vec::new();
        }
        self.ops
            .values()
            .filter(|o| {
                let serial = match &o.op.body {
                    Body::Grant(c) => c.serial,
                    Body::Device(d) => d.serial,
                    _ => return false,
                };
                format!("{serial:016x}").starts_with(&prefix) || o.id.to_hex().starts_with(&prefix)
            })
            .map(|o| o.id)
            .collect()
    }

    /// `id` and every op it depends on, dependencies first: what another
    /// node needs to check `id`.
    pub fn closure(&self, id: OpId) -> Vec<&SignedOp> {
        let seen = self.past(&[id]);
        let position: BTreeMap<OpId, usize> = self.derived.order.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut out: Vec<&SignedOp> = seen.iter().map(|id| &self.ops[id]).collect();
        out.sort_by_key(|o| (position.get(&o.id).copied().unwrap_or(usize::MAX), o.id));
        out
    }

    /// A digest of everything derived: equal digests mean equal states.
    pub fn digest(&self, now: Timestamp) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        for id in self.ops.keys() {
            h.update(&id.0);
            h.update(format!("{:?}|{:?}", self.derived.verdicts.get(id), self.status(id, now)).as_bytes());
        }
        for id in &self.derived.order {
            h.update(&id.0);
        }
        for (id, def) in self.scopes() {
            h.update(&id.0);
            h.update(format!("{def:?}").as_bytes());
        }
        for id in self.derived.order.iter().filter(|id| self.epoch(id).is_some()) {
            h.update(format!("{id:?}:{:?}", self.epoch_policy(id)).as_bytes());
        }
        *h.finalize().as_bytes()
    }

    /// An accepted scope with the policy in force now: the readers and
    /// writers of its current epoch as seen from every accepted op (the
    /// definition's until a reshare changes them). Name and nonce are the
    /// definition's.
    pub fn scope(&self, id: &OpId) -> Option<&ScopeDef> {
        let def = self.accepted_scope(id, &self.derived)?;
        match self.derived.scope_policy.get(id) {
            Some(reshare) => self.derived.reshared.get(reshare),
            None => Some(def),
        }
    }

    /// Accepted scopes with their policies now (see [`AuthState::scope`]),
    /// in application order.
    pub fn scopes(&self) -> impl Iterator<Item = (OpId, &ScopeDef)> {
        self.derived
            .order
            .iter()
            .filter_map(|id| self.scope(id).map(|s| (*id, s)))
    }

    /// An accepted scope as its definition made it, whatever reshares
    /// changed since.
    pub fn scope_definition(&self, id: &OpId) -> Option<&ScopeDef> {
        self.accepted_scope(id, &self.derived)
    }

    /// The owner of an accepted scope: the author of its definition, who
    /// may change its readers and writers (as may an admin).
    pub fn scope_owner(&self, id: &OpId) -> Option<PublicKey> {
        self.accepted_scope(id, &self.derived)?;
        Some(self.ops[id].op.author)
    }

    /// An accepted key epoch: a rekey, or the rekey inside a reshare.
    pub fn epoch(&self, id: &OpId) -> Option<&Rekey> {
        match self.derived.verdicts.get(id) {
            Some(Verdict::Accepted) => self.ops.get(id)?.op.body.epoch(),
            _ => None,
        }
    }

    /// The policy (readers and writers, with the scope's name and nonce)
    /// in force in an accepted key epoch. A reshare's is its own; a plain
    /// rekey's is that of the epoch current as seen from the rekey's
    /// parents (see [`AuthState::preferred_epoch`]), or the scope's
    /// definition if there is none. Fixed once the epoch is accepted.
    pub fn epoch_policy(&self, epoch: &OpId) -> Option<&ScopeDef> {
        let rekey = self.epoch(epoch)?;
        match self.derived.epoch_policy.get(epoch) {
            Some(reshare) => self.derived.reshared.get(reshare),
            None => self.accepted_scope(&rekey.scope, &self.derived),
        }
    }

    /// Accepted wraps of an epoch's secret, from its rekey and later
    /// [`crate::scope::AddWraps`] ops.
    pub fn wraps_of(&self, epoch: &OpId) -> Vec<&crate::scope::Wrap> {
        let mut out: Vec<&crate::scope::Wrap> = self.epoch(epoch).map(|r| r.wraps.iter().collect()).unwrap_or_default();
        for id in &self.derived.order {
            if let (Body::AddWraps(w), Some(Verdict::Accepted)) = (&self.ops[id].op.body, self.derived.verdicts.get(id))
                && w.epoch == *epoch
            {
                out.extend(w.wraps.iter());
            }
        }
        out
    }

    /// `heads` and every op they depend on, transitively.
    pub fn past(&self, heads: &[OpId]) -> BTreeSet<OpId> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<OpId> = heads.to_vec();
        while let Some(cur) = stack.pop() {
            if let Some(op) = self.ops.get(&cur)
                && seen.insert(cur)
            {
                stack.extend(op.op.deps());
            }
        }
        seen
    }

    /// The epochs of `scope` not superseded by a later rekey of the same
    /// scope, considering only the ops in `within` (all ops if `None`).
    /// Concurrent rekeys are all current; readers accept every one.
    pub fn current_epochs(&self, scope: &OpId, within: Option<&BTreeSet<OpId>>) -> Vec<OpId> {
        let epochs: Vec<OpId> = self
            .derived
            .order
            .iter()
            .filter(|id| within.is_none_or(|w| w.contains(id)))
            .filter(|id| self.epoch(id).is_some_and(|r| r.scope == *scope))
            .copied()
            .collect();
        let mut superseded = BTreeSet::new();
        for e in &epochs {
            let past = self.past(&self.ops[e].op.parents);
            superseded.extend(
                epochs
                    .iter()
                    .filter(|other| *other != e && past.contains(other))
                    .copied(),
            );
        }
        epochs.into_iter().filter(|e| !superseded.contains(e)).collect()
    }

    /// Of several current epochs of one scope, the one in force: the one
    /// writers use and whose policy is the scope's. A reshare comes before a
    /// plain rekey (a concurrent rekey keeps the policy its author knew, and
    /// must not undo a change of readers or writers); then the one wrapped
    /// to the fewest members, so that a concurrent rekey that removed
    /// someone wins; then the lowest id.
    pub fn preferred_epoch(&self, current: &[OpId]) -> Option<OpId> {
        current.iter().copied().min_by_key(|e| {
            let body = self.ops.get(e).map(|o| &o.op.body);
            let plain = !matches!(body, Some(Body::Reshare(_)));
            let wraps = body.and_then(Body::epoch).map_or(usize::MAX, |r| r.wraps.len());
            (plain, wraps, *e)
        })
    }

    /// The epoch in force in `scope` considering only the ops in `within`
    /// (all ops if `None`): [`AuthState::preferred_epoch`] of
    /// [`AuthState::current_epochs`].
    pub fn current_epoch(&self, scope: &OpId, within: Option<&BTreeSet<OpId>>) -> Option<OpId> {
        self.preferred_epoch(&self.current_epochs(scope, within))
    }

    /// The epoch a writer uses for `scope`: the one in force considering
    /// every accepted op ([`AuthState::current_epoch`]).
    pub fn writer_epoch(&self, scope: &OpId) -> Option<OpId> {
        self.current_epoch(scope, None)
    }

    fn recompute(&mut self) {
        let mut d = Derived::default();
        let order = self.linearise(&mut d);
        let reshared = self
            .ops
            .values()
            .filter_map(|o| match &o.op.body {
                Body::Reshare(r) => Some(r.rekey.scope),
                _ => None,
            })
            .collect();
        let mut walk = EpochPast::new(reshared);
        for id in &order {
            let op = &self.ops[id].op;
            let seen = walk.union(op.parents.iter());
            // The policy in force as seen from the op's parents, for the
            // bodies whose rule or policy depends on it: `None` is the
            // scope's definition, `Some` a reshare.
            let scope = match &op.body {
                Body::AddWraps(w) => match d.verdicts.get(&w.epoch) {
                    Some(Verdict::Accepted) => self.ops[&w.epoch].op.body.epoch().map(|r| r.scope),
                    _ => None,
                },
                body => body.epoch().map(|r| r.scope),
            };
            let seen_policy = scope
                .filter(|s| walk.tracks(s))
                .and_then(|s| self.preferred_epoch(&walk.current(&s, Some(&seen))))
                .and_then(|e| d.epoch_policy.get(&e).copied());
            let verdict = Verdict::from(self.judge(*id, &d, seen_policy));
            walk.place(*id, op, &seen);
            if verdict == Verdict::Accepted {
                match &op.body {
                    Body::Revoke(r) => {
                        d.revoked_by.entry(r.target).or_insert(*id);
                    }
                    Body::Rekey(r) if walk.tracks(&r.scope) => {
                        if let Some(reshare) = seen_policy {
                            d.epoch_policy.insert(*id, reshare);
                        }
                        walk.add_epoch(*id, r.scope, seen);
                    }
                    Body::Reshare(r) => {
                        let def = self
                            .accepted_scope(&r.rekey.scope, &d)
                            .expect("an accepted reshare names an accepted scope");
                        let policy = ScopeDef {
                            name: def.name.clone(),
                            readers: r.readers.clone(),
                            writers: r.writers.clone(),
                            nonce: def.nonce,
                        };
                        d.reshared.insert(*id, policy);
                        d.epoch_policy.insert(*id, *id);
                        walk.add_epoch(*id, r.rekey.scope, seen);
                    }
                    _ => {}
                }
            }
            d.verdicts.insert(*id, verdict);
        }
        for scope in &walk.tracked {
            if let Some(reshare) = self
                .preferred_epoch(&walk.current(scope, None))
                .and_then(|e| d.epoch_policy.get(&e).copied())
            {
                d.scope_policy.insert(*scope, reshare);
            }
        }
        for id in d.missing.keys() {
            d.verdicts.insert(*id, Verdict::Pending);
        }
        for id in &order {
            match &self.ops[id].op.body {
                Body::Grant(c) => d.by_subject.entry(c.subject).or_default().push(*id),
                Body::Device(dc) => d.by_device.entry(dc.device).or_default().push(*id),
                _ => {}
            }
        }
        // Heads are taken among decided ops only, so that nothing new is
        // made to wait on an op this node could not place yet.
        let control: BTreeSet<OpId> = order
            .iter()
            .filter(|id| self.ops[*id].op.body.is_control())
            .copied()
            .collect();
        let superseded: BTreeSet<OpId> = control.iter().flat_map(|id| self.ops[id].op.deps()).collect();
        d.revocation_heads = control.difference(&superseded).copied().collect();
        d.order = order;
        self.derived = d;
    }

    /// Kahn's algorithm with a seniority priority; fills `d.missing` with
    /// the ops that cannot be ordered yet.
    fn linearise(&self, d: &mut Derived) -> Vec<OpId> {
        let mut indegree: BTreeMap<OpId, usize> = BTreeMap::new();
        let mut dependants: BTreeMap<OpId, Vec<OpId>> = BTreeMap::new();
        let mut blocked: BTreeMap<OpId, Vec<OpId>> = BTreeMap::new();
        for (id, op) in &self.ops {
            let deps: BTreeSet<OpId> = op.op.deps().filter(|dep| dep != id).collect();
            let missing: Vec<OpId> = deps.iter().filter(|dep| !self.ops.contains_key(dep)).copied().collect();
            if !missing.is_empty() {
                blocked.insert(*id, missing);
            }
            indegree.insert(*id, deps.len());
            for dep in deps {
                dependants.entry(dep).or_default().push(*id);
            }
        }
        let mut ready: BinaryHeap<Reverse<(u8, u8, usize, OpId)>> = BinaryHeap::new();
        let mut depth: BTreeMap<OpId, usize> = BTreeMap::new();
        let mut order = Vec::with_capacity(self.ops.len());
        for (id, n) in &indegree {
            if *n == 0 {
                ready.push(Reverse(self.priority(*id, &depth)));
            }
        }
        while let Some(Reverse((_, _, _, id))) = ready.pop() {
            let proof_depth = self.ops[&id]
                .op
                .proof
                .map_or(0, |p| depth.get(&p).copied().unwrap_or(0) + 1);
            depth.insert(id, proof_depth);
            order.push(id);
            for next in dependants.get(&id).into_iter().flatten() {
                let n = indegree.get_mut(next).expect("every op has an indegree");
                *n -= 1;
                if *n == 0 {
                    ready.push(Reverse(self.priority(*next, &depth)));
                }
            }
        }
        // Whatever was not ordered waits on a missing op, itself or upstream.
        let ordered: BTreeSet<OpId> = order.iter().copied().collect();
        for id in self.ops.keys().filter(|id| !ordered.contains(id)) {
            let mut missing = BTreeSet::new();
            let mut stack = vec![*id];
            let mut seen = BTreeSet::new();
            while let Some(cur) = stack.pop() {
                if !seen.insert(cur) {
                    continue;
                }
                if let Some(m) = blocked.get(&cur) {
                    missing.extend(m.iter().copied());
                }
                if let Some(op) = self.ops.get(&cur) {
                    stack.extend(op.op.deps().filter(|dep| !ordered.contains(dep)));
                }
            }
            d.missing.insert(*id, missing.into_iter().collect());
        }
        order
    }

    /// Ready ops are taken smallest first: revocations (0), then scopes,
    /// rekeys and reshares (1), then certificates and wraps (2); revocations
    /// by seniority of the author's role, then shorter proof chain; then op
    /// id.
    fn priority(&self, id: OpId, depth: &BTreeMap<OpId, usize>) -> (u8, u8, usize, OpId) {
        let op = &self.ops[&id].op;
        match &op.body {
            Body::Revoke(_) => {
                let (rank, chain) = match op.proof {
                    None => (0, 0),
                    Some(p) => {
                        let rank = self
                            .ops
                            .get(&p)
                            .and_then(|o| o.grant())
                            .map_or(u8::MAX, |c| c.role.rank());
                        (rank, depth.get(&p).copied().unwrap_or(usize::MAX - 1) + 1)
                    }
                };
                (0, rank, chain, id)
            }
            Body::Scope(_) | Body::Rekey(_) | Body::Reshare(_) => (1, 0, 0, id),
            _ => (2, 0, 0, id),
        }
    }

    /// Checks one op at its place in the order. `d` holds the verdicts and
    /// revocations of everything before it; `seen_policy` is, for a rekey or
    /// wraps, the reshare whose policy is in force as seen from the op's
    /// parents (`None`: the scope's definition).
    fn judge(&self, id: OpId, d: &Derived, seen_policy: Option<OpId>) -> Result<(), Rejection> {
        let op = &self.ops[&id].op;
        let issuer = self.issuer(op.author, op.proof, d)?;
        let window = |start: Timestamp, end: Timestamp| match issuer {
            Issuer::Holder(c) if start < c.not_before || end > c.not_after => Err(Rejection::IssuerNotValid {
                start,
                end,
                from: c.not_before,
                until: c.not_after,
            }),
            _ => Ok(()),
        };
        match &op.body {
            Body::Grant(cert) => {
                rules::may_grant(issuer, cert)?;
                window(cert.not_before, cert.not_after)
            }
            Body::Device(dev) => {
                match issuer {
                    Issuer::Root => return Err(Rejection::NoProof(op.author)),
                    Issuer::Holder(c) => rules::may_certify_device(c)?,
                }
                window(dev.not_before, dev.not_after)
            }
            Body::Revoke(rev) => {
                let target = &self.ops[&rev.target];
                if !matches!(target.op.body, Body::Grant(_) | Body::Device(_)) {
                    return Err(Rejection::NotACertificate(rev.target));
                }
                self.author_alive(op.proof, d)?;
                let in_chain = self
                    .chain(rev.target)
                    .iter()
                    .any(|link| self.ops[link].op.author == op.author);
                rules::may_revoke(issuer, in_chain)?;
                window(rev.at, rev.at)
            }
            Body::Scope(_) => {
                self.author_alive(op.proof, d)?;
                match issuer {
                    Issuer::Holder(c) if matches!(c.role, Role::Guest | Role::Relay) => {
                        Err(Rejection::NotAllowed(format!("a {} cannot create scopes", c.role)))
                    }
                    _ => Ok(()),
                }
            }
            Body::Rekey(r) => {
                self.author_alive(op.proof, d)?;
                self.accepted_scope(&r.scope, d).ok_or(Rejection::NotAScope(r.scope))?;
                let scope = self.policy_in(&r.scope, seen_policy, d);
                let owner = self.ops[&r.scope].op.author == op.author;
                match issuer {
                    Issuer::Holder(c) if !(owner || c.role == Role::Admin || scope.allows_write(c)) => {
                        Err(Rejection::NotAllowed(format!(
                            "{} may not rekey scope {:?}: only its writers, owner or an admin may",
                            c.name, scope.name
                        )))
                    }
                    _ => Ok(()),
                }
            }
            Body::Reshare(r) => {
                self.author_alive(op.proof, d)?;
                let scope_id = r.rekey.scope;
                let scope = self
                    .accepted_scope(&scope_id, d)
                    .ok_or(Rejection::NotAScopeToReshare(scope_id))?;
                let owner = self.ops[&scope_id].op.author == op.author;
                match issuer {
                    Issuer::Holder(c)
                        if !(c.role == Role::Admin || (owner && !matches!(c.role, Role::Guest | Role::Relay))) =>
                    {
                        Err(Rejection::NotAllowed(format!(
                            "{} ({}) may not change who reads and writes scope {:?}: only its owner (who created it) or an admin may",
                            c.name, c.role, scope.name
                        )))
                    }
                    _ => Ok(()),
                }
            }
            Body::AddWraps(w) => {
                self.author_alive(op.proof, d)?;
                let scope_id = match (
                    self.ops.get(&w.epoch).and_then(|o| o.op.body.epoch()),
                    d.verdicts.get(&w.epoch),
                ) {
                    (Some(r), Some(Verdict::Accepted)) => r.scope,
                    _ => return Err(Rejection::NotAnEpoch(w.epoch)),
                };
                self.accepted_scope(&scope_id, d)
                    .ok_or(Rejection::NotAScope(scope_id))?;
                let scope = self.policy_in(&scope_id, seen_policy, d);
                match issuer {
                    Issuer::Holder(c) if !(c.role == Role::Admin || scope.allows_read(&scope_id, c)) => {
                        Err(Rejection::NotAllowed(format!(
                            "{} does not read scope {:?}, so cannot hand out its key",
                            c.name, scope.name
                        )))
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// Fails if the author's proof chain was revoked earlier in the order.
    fn author_alive(&self, proof: Option<OpId>, d: &Derived) -> Result<(), Rejection> {
        match proof {
            Some(p) if self.chain(p).iter().any(|link| d.revoked_by.contains_key(link)) => {
                Err(Rejection::RevokerRevoked)
            }
            _ => Ok(()),
        }
    }

    fn accepted_scope(&self, id: &OpId, d: &Derived) -> Option<&ScopeDef> {
        match (self.ops.get(id).map(|o| &o.op.body), d.verdicts.get(id)) {
            (Some(Body::Scope(s)), Some(Verdict::Accepted)) => Some(s),
            _ => None,
        }
    }

    /// The policy of the accepted scope `id` that `reshare` set (`None`:
    /// its definition).
    fn policy_in<'a>(&'a self, id: &OpId, reshare: Option<OpId>, d: &'a Derived) -> &'a ScopeDef {
        reshare
            .and_then(|r| d.reshared.get(&r))
            .or_else(|| self.accepted_scope(id, d))
            .expect("the scope was checked to be accepted")
    }

    /// Resolves the author's authority: the root, or their accepted proof.
    fn issuer<'a>(&'a self, author: PublicKey, proof: Option<OpId>, d: &Derived) -> Result<Issuer<'a>, Rejection> {
        match proof {
            None if author == self.root => Ok(Issuer::Root),
            None => Err(Rejection::NoProof(author)),
            Some(_) if author == self.root => Err(Rejection::RootWithProof),
            Some(p) => {
                let accepted = d.verdicts.get(&p) == Some(&Verdict::Accepted);
                match self.ops.get(&p).and_then(|o| o.grant()) {
                    Some(c) if accepted && c.subject == author => Ok(Issuer::Holder(c)),
                    _ => Err(Rejection::BadProof(p)),
                }
            }
        }
    }
}

impl From<Result<(), Rejection>> for Verdict {
    fn from(r: Result<(), Rejection>) -> Self {
        match r {
            Ok(()) => Verdict::Accepted,
            Err(why) => Verdict::Rejected(why),
        }
    }
}

#[cfg(test)]
mod tests;
