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
        *h.finalize().as_bytes()
    }

    /// An accepted scope definition.
    pub fn scope(&self, id: &OpId) -> Option<&ScopeDef> {
        self.accepted_scope(id, &self.derived)
    }

    /// Accepted scopes, in application order.
    pub fn scopes(&self) -> impl Iterator<Item = (OpId, &ScopeDef)> {
        self.derived
            .order
            .iter()
            .filter_map(|id| self.scope(id).map(|s| (*id, s)))
    }

    /// An accepted rekey (key epoch).
    pub fn epoch(&self, id: &OpId) -> Option<&Rekey> {
        match (self.ops.get(id).map(|o| &o.op.body), self.derived.verdicts.get(id)) {
            (Some(Body::Rekey(r)), Some(Verdict::Accepted)) => Some(r),
            _ => None,
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

    /// The epoch a writer uses for `scope`: of the current epochs, the one
    /// wrapped to the fewest members (ties: the lowest id), so that a
    /// concurrent rekey that removed someone wins.
    pub fn writer_epoch(&self, scope: &OpId) -> Option<OpId> {
        self.current_epochs(scope, None)
            .into_iter()
            .min_by_key(|e| (self.epoch(e).map_or(usize::MAX, |r| r.wraps.len()), *e))
    }

    fn recompute(&mut self) {
        let mut d = Derived::default();
        let order = self.linearise(&mut d);
        for id in &order {
            let verdict = Verdict::from(self.judge(*id, &d));
            if verdict == Verdict::Accepted
                && let Body::Revoke(r) = &self.ops[id].op.body
            {
                d.revoked_by.entry(r.target).or_insert(*id);
            }
            d.verdicts.insert(*id, verdict);
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

    /// Ready ops are taken smallest first: revocations (0), then scopes and
    /// rekeys (1), then certificates and wraps (2); revocations by seniority of the author's role, then
    /// shorter proof chain; then op id.
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
            Body::Scope(_) | Body::Rekey(_) => (1, 0, 0, id),
            _ => (2, 0, 0, id),
        }
    }

    /// Checks one op at its place in the order. `d` holds the verdicts and
    /// revocations of everything before it.
    fn judge(&self, id: OpId, d: &Derived) -> Result<(), Rejection> {
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
                let scope = self.accepted_scope(&r.scope, d).ok_or(Rejection::NotAScope(r.scope))?;
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
            Body::AddWraps(w) => {
                self.author_alive(op.proof, d)?;
                let scope_id = match (self.ops.get(&w.epoch).map(|o| &o.op.body), d.verdicts.get(&w.epoch)) {
                    (Some(Body::Rekey(r)), Some(Verdict::Accepted)) => r.scope,
                    _ => return Err(Rejection::NotAnEpoch(w.epoch)),
                };
                let scope = self
                    .accepted_scope(&scope_id, d)
                    .ok_or(Rejection::NotAScope(scope_id))?;
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
