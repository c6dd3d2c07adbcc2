use super::*;
use crate::issue::IssueError;
use crate::keys::{DeviceKey, MemberKeys, OrgRoot};
use crate::op::{DeptPath, DeviceCert, Op, Revocation, Role};
use proptest::prelude::*;
use rand::{RngExt, SeedableRng, rngs::StdRng};

const DAY: u64 = 86_400;
const T0: Timestamp = Timestamp(1_800_000_000);

fn role_cert(subject: &MemberKeys, role: Role, dept: &str, start: Timestamp, days: u64) -> RoleCert {
    RoleCert {
        serial: rand::random(),
        subject: subject.public(),
        exchange: subject.exchange_public(),
        name: format!("{role} of {dept}"),
        email: String::new(),
        dept: DeptPath::parse(dept).unwrap(),
        position: String::new(),
        level: 3,
        role,
        resources: vec![],
        not_before: start,
        not_after: start.plus(days * DAY),
        invite: None,
    }
}

struct Org {
    root: OrgRoot,
    state: AuthState,
}

impl Org {
    fn new() -> Org {
        let root = OrgRoot::generate(&mut rand::rng());
        let state = AuthState::new(root.0.public());
        Org { root, state }
    }

    /// `by: None` signs with the org root.
    fn grant(&mut self, by: Option<&MemberKeys>, who: &MemberKeys, role: Role, dept: &str) -> OpId {
        let signer = by.map_or(&self.root.0, |k| &k.signing);
        let op = self
            .state
            .sign_grant(signer, role_cert(who, role, dept, T0, 365), T0)
            .unwrap();
        let id = op.id;
        self.state.insert(op).unwrap();
        id
    }

    fn device(&mut self, member: &MemberKeys, device: &DeviceKey) -> OpId {
        let cert = DeviceCert {
            serial: 9,
            device: device.0.public(),
            name: "laptop".into(),
            not_before: T0,
            not_after: T0.plus(365 * DAY),
        };
        let op = self.state.sign_device(&member.signing, cert, T0).unwrap();
        let id = op.id;
        self.state.insert(op).unwrap();
        id
    }

    fn revoke(&mut self, by: Option<&MemberKeys>, target: OpId) -> OpId {
        let signer = by.map_or(&self.root.0, |k| &k.signing);
        let op = self
            .state
            .sign_revocation(signer, target, "left the company", vec![], T0.plus(DAY))
            .unwrap();
        let id = op.id;
        self.state.insert(op).unwrap();
        id
    }
}

fn keys() -> MemberKeys {
    MemberKeys::generate(&mut rand::rng())
}

#[test]
fn full_chain_admin_head_member_device_is_live() {
    let mut org = Org::new();
    let (admin, head, member) = (keys(), keys(), keys());
    let device = DeviceKey::generate(&mut rand::rng());
    let a = org.grant(None, &admin, Role::Admin, "");
    let h = org.grant(Some(&admin), &head, Role::DeptHead, "HQ/East");
    let m = org.grant(Some(&head), &member, Role::Member, "HQ/East/Sales");
    let d = org.device(&member, &device);
    let now = T0.plus(DAY);
    for id in [a, h, m, d] {
        assert_eq!(org.state.status(&id, now), CertStatus::Live);
    }
    let (cert_id, cert) = org.state.device_principal(&device.0.public(), now).unwrap();
    assert_eq!(cert_id, m);
    assert_eq!(cert.role, Role::Member);
    assert_eq!(org.state.chain(d), vec![d, m, h, a]);
}

fn org_with_admin() -> (Org, MemberKeys, OpId) {
    let mut org = Org::new();
    let admin = keys();
    let cert = role_cert(&admin, Role::Admin, "", T0, 365);
    let op = org.state.sign_grant(&org.root.0, cert, T0).unwrap();
    let id = op.id;
    org.state.insert(op).unwrap();
    (org, admin, id)
}

#[test]
fn revoking_a_head_kills_everything_below() {
    let (mut org, admin, _) = org_with_admin();
    let (head, member) = (keys(), keys());
    let device = DeviceKey::generate(&mut rand::rng());
    let h = org.grant(Some(&admin), &head, Role::DeptHead, "HQ/East");
    let m = org.grant(Some(&head), &member, Role::Member, "HQ/East");
    let d = org.device(&member, &device);
    let r = org.revoke(Some(&admin), h);
    let now = T0.plus(2 * DAY);
    for id in [h, m, d] {
        match org.state.status(&id, now) {
            CertStatus::Revoked { cert, by, reason } => {
                assert_eq!((cert, by), (h, r));
                assert_eq!(reason, "left the company");
            }
            other => panic!("expected revoked, got {other:?}"),
        }
    }
    assert!(org.state.device_principal(&device.0.public(), now).is_none());
    assert_eq!(org.state.heads(), vec![r]);
}

#[test]
fn dept_head_cannot_issue_outside_subtree_or_above_member() {
    let (mut org, admin, _) = org_with_admin();
    let head = keys();
    org.grant(Some(&admin), &head, Role::DeptHead, "HQ/East");
    let outside = role_cert(&keys(), Role::Member, "HQ/West", T0, 30);
    let err = org.state.sign_grant(&head.signing, outside, T0).unwrap_err();
    assert!(
        matches!(
            err,
            IssueError::Rejected(Rejection::Delegation(DelegationError::OutOfScope { .. }))
        ),
        "{err}"
    );
    let admin_cert = role_cert(&keys(), Role::Admin, "HQ/East", T0, 30);
    let err = org.state.sign_grant(&head.signing, admin_cert, T0).unwrap_err();
    assert!(err.to_string().contains("cannot issue admin"), "{err}");
}

#[test]
fn member_certifies_only_own_devices_and_issues_no_roles() {
    let (mut org, admin, _) = org_with_admin();
    let member = keys();
    org.grant(Some(&admin), &member, Role::Member, "HQ");
    let err = org
        .state
        .sign_grant(&member.signing, role_cert(&keys(), Role::Member, "HQ", T0, 30), T0)
        .unwrap_err();
    assert!(err.to_string().contains("member cannot issue"), "{err}");
    let stranger = keys();
    let err = org
        .state
        .sign_device(
            &stranger.signing,
            DeviceCert {
                serial: 1,
                device: stranger.public(),
                name: String::new(),
                not_before: T0,
                not_after: T0.plus(DAY),
            },
            T0,
        )
        .unwrap_err();
    assert!(matches!(err, IssueError::NoCertificate(_)));
}

#[test]
fn issued_certificates_fit_inside_the_issuer_validity() {
    let (mut org, admin, _) = org_with_admin();
    let head = keys();
    let short = role_cert(&head, Role::DeptHead, "HQ", T0, 10);
    let op = org.state.sign_grant(&admin.signing, short, T0).unwrap();
    let h = op.id;
    org.state.insert(op).unwrap();
    // Beyond the head's own end: refused.
    let long = role_cert(&keys(), Role::Member, "HQ/A", T0, 365);
    let err = org.state.sign_grant(&head.signing, long, T0).unwrap_err();
    assert!(
        matches!(err, IssueError::Rejected(Rejection::IssuerNotValid { .. })),
        "{err}"
    );
    // Inside it: valid until its own end.
    let inside = role_cert(&keys(), Role::Member, "HQ/A", T0, 5);
    let op = org.state.sign_grant(&head.signing, inside, T0).unwrap();
    let m = op.id;
    org.state.insert(op).unwrap();
    assert_eq!(org.state.status(&m, T0.plus(3 * DAY)), CertStatus::Live);
    assert_eq!(
        org.state.status(&m, T0.plus(6 * DAY)),
        CertStatus::Expired { at: T0.plus(5 * DAY) }
    );
    let later = T0.plus(20 * DAY);
    assert_eq!(
        org.state.status(&h, later),
        CertStatus::Expired { at: T0.plus(10 * DAY) }
    );
    assert!(matches!(
        org.state.status(&h, Timestamp(0)),
        CertStatus::NotYetValid { .. }
    ));
    // After expiry, the head can no longer issue.
    let late = role_cert(&keys(), Role::Member, "HQ/A", later, 10);
    let err = org.state.sign_grant(&head.signing, late, later).unwrap_err();
    assert!(matches!(err, IssueError::NoCertificate(_)), "{err}");
}

#[test]
fn issuer_window_is_checked_even_for_hand_made_ops() {
    let (mut org, admin, a) = org_with_admin();
    let future = role_cert(&keys(), Role::Member, "HQ", T0.plus(400 * DAY), 10);
    let op = Op {
        org: org.state.org(),
        author: admin.public(),
        proof: Some(a),
        parents: vec![],
        body: Body::Grant(future),
    }
    .sign(&admin.signing);
    let id = op.id;
    org.state.insert(op).unwrap();
    assert!(matches!(
        org.state.status(&id, T0.plus(401 * DAY)),
        CertStatus::Invalid {
            why: Rejection::IssuerNotValid { .. },
            ..
        }
    ));
}

#[test]
fn concurrent_mutual_revocation_senior_wins_in_any_order() {
    let (mut org, a_keys, a) = org_with_admin();
    let b_keys = keys();
    let b = org.grant(Some(&a_keys), &b_keys, Role::Admin, "");
    let base = org.state.clone();
    // Both sign against the same base: neither knows the other's revocation.
    let ra = base
        .sign_revocation(&a_keys.signing, b, "a revokes b", vec![], T0)
        .unwrap();
    let rb = base
        .sign_revocation(&b_keys.signing, a, "b revokes a", vec![], T0)
        .unwrap();
    for order in [[ra.clone(), rb.clone()], [rb.clone(), ra.clone()]] {
        let mut s = base.clone();
        for op in order {
            s.insert(op).unwrap();
        }
        // a was issued by the root (shorter chain) so a's revocation wins.
        assert_eq!(s.verdict(&ra.id), Some(&Verdict::Accepted));
        assert_eq!(s.verdict(&rb.id), Some(&Verdict::Rejected(Rejection::RevokerRevoked)));
        assert!(s.status(&a, T0).is_live());
        assert!(matches!(s.status(&b, T0), CertStatus::Revoked { .. }));
        let mut heads = s.heads();
        heads.sort();
        let mut both = vec![ra.id, rb.id];
        both.sort();
        assert_eq!(heads, both);
    }
}

#[test]
fn a_revoked_admin_cannot_revoke_afterwards() {
    let (mut org, a_keys, a) = org_with_admin();
    let b_keys = keys();
    let b = org.grant(Some(&a_keys), &b_keys, Role::Admin, "");
    let before = org.state.clone();
    org.revoke(None, b);
    // b's revocation of a, signed knowing it was revoked, names that revocation as parent.
    let r = Op {
        org: org.state.org(),
        author: b_keys.public(),
        proof: Some(b),
        parents: org.state.heads(),
        body: Body::Revoke(Revocation {
            target: a,
            reason: "spite".into(),
            at: T0,
            seen: vec![],
        }),
    }
    .sign(&b_keys.signing);
    org.state.insert(r.clone()).unwrap();
    assert_eq!(
        org.state.verdict(&r.id),
        Some(&Verdict::Rejected(Rejection::RevokerRevoked))
    );
    assert!(org.state.status(&a, T0).is_live());
    assert!(before.status(&a, T0).is_live());
}

#[test]
fn missing_ancestors_make_an_op_pending_until_they_arrive() {
    let (org, admin, a) = org_with_admin();
    let member = keys();
    let m = org
        .state
        .sign_grant(&admin.signing, role_cert(&member, Role::Member, "HQ", T0, 30), T0)
        .unwrap();
    let mut fresh = AuthState::new(org.state.root());
    fresh.insert(m.clone()).unwrap();
    assert_eq!(fresh.status(&m.id, T0), CertStatus::Pending { missing: vec![a] });
    fresh.insert(org.state.op(&a).unwrap().clone()).unwrap();
    assert!(fresh.status(&m.id, T0).is_live());
}

#[test]
fn ops_of_another_org_are_refused_whole() {
    let (org, _, a) = org_with_admin();
    let other = Org::new();
    let mut s = other.state.clone();
    let err = s.insert(org.state.op(&a).unwrap().clone()).unwrap_err();
    assert_eq!(err.expected, other.state.org());
    assert!(s.is_empty());
}

#[test]
fn forged_proof_is_rejected() {
    let (mut org, admin, a) = org_with_admin();
    let mallory = keys();
    // Mallory claims the admin's certificate as her proof.
    let op = Op {
        org: org.state.org(),
        author: mallory.public(),
        proof: Some(a),
        parents: vec![],
        body: Body::Grant(role_cert(&mallory, Role::Admin, "", T0, 30)),
    }
    .sign(&mallory.signing);
    org.state.insert(op.clone()).unwrap();
    assert_eq!(
        org.state.verdict(&op.id),
        Some(&Verdict::Rejected(Rejection::BadProof(a)))
    );
    let _ = admin;
}

#[test]
fn find_by_serial_prefix() {
    let (org, _, a) = org_with_admin();
    let serial = org.state.op(&a).unwrap().grant().unwrap().serial;
    assert_eq!(org.state.find(&format!("{serial:016x}")[..6]), vec![a]);
    assert!(org.state.find("").is_empty());
}

/// A random org history: grants and revocations by random authors with
/// random (possibly stale) knowledge of earlier revocations, some of them
/// breaking the rules.
fn random_history(seed: u64) -> (PublicKey, Vec<SignedOp>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let root = OrgRoot::generate(&mut rng);
    let org = root.org();
    let people: Vec<MemberKeys> = (0..6).map(|_| MemberKeys::generate(&mut rng)).collect();
    let mut ops: Vec<SignedOp> = Vec::new();
    let mut certs: Vec<(usize, OpId)> = Vec::new(); // (holder, cert op)
    let mut revocations: Vec<OpId> = Vec::new();
    let roles = [Role::Admin, Role::DeptHead, Role::Member, Role::Guest, Role::Relay];
    let depts = ["", "HQ", "HQ/East", "HQ/West", "HQ/East/Sales"];
    for step in 0..rng.random_range(4..24) {
        let parents: Vec<OpId> = revocations.iter().copied().filter(|_| rng.random_bool(0.5)).collect();
        let subject = rng.random_range(0..people.len());
        // The author: the root (author index None) or a holder of a cert.
        let by_root = certs.is_empty() || rng.random_bool(0.2);
        let (signer, proof) = if by_root {
            (&root.0, None)
        } else {
            let (holder, cert) = certs[rng.random_range(0..certs.len())];
            (&people[holder].signing, Some(cert))
        };
        let body = if step > 2 && rng.random_bool(0.3) && !certs.is_empty() {
            let (_, target) = certs[rng.random_range(0..certs.len())];
            Body::Revoke(Revocation {
                target,
                reason: format!("r{step}"),
                at: T0,
                seen: vec![],
            })
        } else {
            let role = roles[rng.random_range(0..roles.len())];
            let dept = depts[rng.random_range(0..depts.len())];
            let mut c = role_cert(&people[subject], role, dept, T0.plus(rng.random_range(0..3) * DAY), 30);
            c.serial = step;
            Body::Grant(c)
        };
        let is_revoke = matches!(body, Body::Revoke(_));
        let op = Op {
            org,
            author: signer.public(),
            proof,
            parents,
            body,
        }
        .sign(signer);
        if is_revoke {
            revocations.push(op.id);
        } else {
            certs.push((subject, op.id));
        }
        ops.push(op);
    }
    (root.0.public(), ops)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The same ops in any arrival order, one by one or all at once, give
    /// the same state.
    #[test]
    fn state_is_a_function_of_the_op_set(seed in any::<u64>(), shuffle_seed in any::<u64>(), split in 0usize..24) {
        let (root, ops) = random_history(seed);
        let mut all_at_once = AuthState::new(root);
        all_at_once.insert_all(ops.clone()).unwrap();

        let mut shuffled = ops.clone();
        let mut rng = StdRng::seed_from_u64(shuffle_seed);
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.random_range(0..=i));
        }
        let mut one_by_one = AuthState::new(root);
        let split = split.min(shuffled.len());
        one_by_one.insert_all(shuffled[..split].to_vec()).unwrap();
        for op in &shuffled[split..] {
            one_by_one.insert(op.clone()).unwrap();
            // Re-inserting a known op changes nothing.
            prop_assert!(!one_by_one.insert(op.clone()).unwrap());
        }
        for now in [T0, T0.plus(DAY), T0.plus(40 * DAY)] {
            prop_assert_eq!(all_at_once.digest(now), one_by_one.digest(now));
        }
        prop_assert_eq!(all_at_once.order(), one_by_one.order());
        // Every op was decided: nothing is pending in a complete history.
        for op in &ops {
            prop_assert!(!matches!(all_at_once.verdict(&op.id), Some(Verdict::Pending) | None));
        }
    }

    /// Ops survive a round trip through bytes with the same id.
    #[test]
    fn ops_round_trip_through_bytes(seed in any::<u64>()) {
        let (_, ops) = random_history(seed);
        for op in ops {
            let back = SignedOp::decode(&op.bytes).unwrap();
            prop_assert_eq!(back, op);
        }
    }
}

// Scopes whose readers and writers change.

use crate::scope::{AddWraps, Principal, Reshare, Wrap};

/// A new epoch's body with `wraps` stand-in wraps: the authorisation state
/// never opens them, only counts them.
fn rekey_body(scope: OpId, wraps: u8) -> Rekey {
    Rekey {
        scope,
        salt: [0; 16],
        wraps: (0..wraps)
            .map(|i| Wrap {
                to: PublicKey([i; 32]),
                ephemeral: [0; 32],
                ct: vec![0; 48],
            })
            .collect(),
        prev: vec![],
    }
}

fn reshare_body(scope: OpId, wraps: u8, readers: Vec<Principal>, writers: Vec<Principal>) -> Body {
    Body::Reshare(Reshare {
        rekey: rekey_body(scope, wraps),
        readers,
        writers,
    })
}

fn dept(path: &str) -> Principal {
    Principal::Dept(DeptPath::parse(path).expect("a valid path"))
}

impl Org {
    /// Signs `body` against the current state (`by: None`: the root) and
    /// inserts it if it is accepted.
    fn sign(&mut self, by: Option<&MemberKeys>, body: Body) -> Result<OpId, IssueError> {
        let signer = by.map_or(&self.root.0, |k| &k.signing);
        let op = self.state.sign_body(signer, body, T0)?;
        let id = op.id;
        self.state.insert(op).expect("same org");
        Ok(id)
    }
}

/// An org with an admin, a scope owned by a member of HQ/Mkt (readers: all
/// of HQ; writers: HQ/Mkt) and its first epoch.
struct Shared {
    org: Org,
    admin: MemberKeys,
    owner: MemberKeys,
    /// Another member of HQ/Mkt: a writer, not the owner.
    writer: MemberKeys,
    /// A member of HQ/RnD: a view-only reader.
    reader: MemberKeys,
    scope: OpId,
    first: OpId,
}

fn shared() -> Shared {
    let (mut org, admin, _) = org_with_admin();
    let (owner, writer, reader) = (keys(), keys(), keys());
    org.grant(Some(&admin), &owner, Role::Member, "HQ/Mkt");
    org.grant(Some(&admin), &writer, Role::Member, "HQ/Mkt");
    org.grant(Some(&admin), &reader, Role::Member, "HQ/RnD");
    let def = ScopeDef {
        name: "Apollo".into(),
        readers: vec![dept("HQ")],
        writers: vec![dept("HQ/Mkt")],
        nonce: 7,
    };
    let scope = org
        .sign(Some(&owner), Body::Scope(def))
        .expect("a member may create a scope");
    let first = org
        .sign(Some(&owner), Body::Rekey(rekey_body(scope, 4)))
        .expect("the owner may rekey");
    Shared {
        org,
        admin,
        owner,
        writer,
        reader,
        scope,
        first,
    }
}

#[test]
fn only_the_owner_or_an_admin_may_reshare() {
    let mut s = shared();
    let guest = keys();
    let relay = keys();
    s.org.grant(Some(&s.admin), &guest, Role::Guest, "HQ");
    s.org.grant(Some(&s.admin), &relay, Role::Relay, "HQ");
    let policy = || reshare_body(s.scope, 3, vec![dept("HQ")], vec![dept("HQ")]);
    for (who, what) in [
        (&s.writer, "a writer who is not the owner"),
        (&s.reader, "a member"),
        (&guest, "a guest"),
        (&relay, "a relay"),
    ] {
        let err = s
            .org
            .sign(Some(who), policy())
            .expect_err("only the owner or an admin may reshare");
        assert!(
            matches!(&err, IssueError::Rejected(Rejection::NotAllowed(m)) if m.contains("only its owner (who created it) or an admin may")),
            "{what}: {err}"
        );
    }
    // A writer may still rotate the key: the plain rekey path is theirs.
    s.org
        .sign(Some(&s.writer), Body::Rekey(rekey_body(s.scope, 4)))
        .expect("a writer may rekey");
    let owner = s.org.sign(Some(&s.owner), policy()).expect("the owner may reshare");
    let admin = s.org.sign(Some(&s.admin), policy()).expect("an admin may reshare");
    let root = s.org.sign(None, policy()).expect("the root may reshare");
    for id in [owner, admin, root] {
        assert_eq!(s.org.state.verdict(&id), Some(&Verdict::Accepted));
        assert!(s.org.state.epoch(&id).is_some(), "a reshare is a key epoch");
    }
    assert_eq!(s.org.state.scope_owner(&s.scope), Some(s.owner.public()));

    // A hand-made reshare by someone else is refused by every node and
    // changes nothing.
    let before = s.org.state.scope(&s.scope).cloned();
    let (proof, _) = s
        .org
        .state
        .role_of(&s.writer.public(), T0)
        .expect("the writer is certified");
    let forged = Op {
        org: s.org.state.org(),
        author: s.writer.public(),
        proof: Some(proof),
        parents: s.org.state.heads(),
        body: reshare_body(s.scope, 1, vec![], vec![Principal::Member(s.writer.public())]),
    }
    .sign(&s.writer.signing);
    s.org.state.insert(forged.clone()).expect("same org");
    assert!(matches!(
        s.org.state.verdict(&forged.id),
        Some(Verdict::Rejected(Rejection::NotAllowed(_)))
    ));
    assert_eq!(s.org.state.scope(&s.scope).cloned(), before);
    assert_ne!(s.org.state.writer_epoch(&s.scope), Some(forged.id));
}

#[test]
fn a_plain_rekey_inherits_the_policy_of_the_reshare_before_it() {
    let mut s = shared();
    let definition = s.org.state.scope(&s.scope).expect("accepted").clone();
    assert_eq!(s.org.state.epoch_policy(&s.first), Some(&definition));

    // The owner makes the other writer view-only.
    let writers = vec![Principal::Member(s.owner.public())];
    let reshare = s
        .org
        .sign(
            Some(&s.owner),
            reshare_body(s.scope, 3, vec![dept("HQ")], writers.clone()),
        )
        .expect("the owner may reshare");
    let policy = s.org.state.epoch_policy(&reshare).expect("an epoch").clone();
    assert_eq!(
        policy,
        ScopeDef {
            name: definition.name.clone(),
            readers: vec![dept("HQ")],
            writers: writers.clone(),
            nonce: definition.nonce,
        }
    );
    assert_eq!(s.org.state.scope(&s.scope), Some(&policy));
    assert_eq!(s.org.state.scope_definition(&s.scope), Some(&definition));
    assert_eq!(
        s.org.state.scopes().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
        vec![policy.clone()]
    );
    // The earlier epoch keeps its own policy.
    assert_eq!(s.org.state.epoch_policy(&s.first), Some(&definition));

    // The downgraded writer may no longer rekey; the owner may, and the new
    // epoch keeps the reshare's policy.
    let err = s
        .org
        .sign(Some(&s.writer), Body::Rekey(rekey_body(s.scope, 2)))
        .expect_err("a view-only member may not rekey");
    assert!(err.to_string().contains("may not rekey scope \"Apollo\""), "{err}");
    let next = s
        .org
        .sign(Some(&s.owner), Body::Rekey(rekey_body(s.scope, 2)))
        .expect("the owner may rekey");
    assert_eq!(s.org.state.epoch_policy(&next), Some(&policy));
    assert_eq!(s.org.state.writer_epoch(&s.scope), Some(next));
    assert_eq!(s.org.state.scope(&s.scope), Some(&policy));

    // Handing out a key follows the policy too: a reader removed by a
    // reshare may no longer add wraps.
    let wraps = |epoch| {
        Body::AddWraps(AddWraps {
            epoch,
            wraps: rekey_body(s.scope, 1).wraps,
        })
    };
    s.org
        .sign(Some(&s.reader), wraps(next))
        .expect("a reader may hand out the key");
    let private = s
        .org
        .sign(
            Some(&s.owner),
            reshare_body(s.scope, 1, vec![], vec![Principal::Member(s.owner.public())]),
        )
        .expect("the owner may reshare");
    let err = s
        .org
        .sign(Some(&s.reader), wraps(private))
        .expect_err("a removed reader may not hand out the key");
    assert!(err.to_string().contains("does not read scope"), "{err}");
}

/// Policies the concurrent reshares below pick from.
fn policies(owner: &MemberKeys, writer: &MemberKeys) -> Vec<(Vec<Principal>, Vec<Principal>)> {
    vec![
        (vec![Principal::Everyone], vec![dept("HQ/Mkt")]),
        (vec![dept("HQ/Mkt")], vec![Principal::Member(owner.public())]),
        (vec![Principal::Everyone], vec![Principal::Everyone]),
        (
            vec![],
            vec![Principal::Member(owner.public()), Principal::Member(writer.public())],
        ),
    ]
}

/// A scope, its first epoch, then epochs made concurrently: reshares by
/// the owner, an admin or the root and plain rekeys by a writer, each
/// signed knowing the base and a random few of the others. Returns the
/// base ops and the concurrent ones.
fn concurrent_epochs(seed: u64) -> (PublicKey, OpId, Vec<SignedOp>, Vec<SignedOp>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let s = shared();
    let base: Vec<SignedOp> = s.org.state.ops().cloned().collect();
    let choices = policies(&s.owner, &s.writer);
    let mut made: Vec<SignedOp> = Vec::new();
    for _ in 0..rng.random_range(2..6) {
        let mut knows = s.org.state.clone();
        knows
            .insert_all(made.iter().filter(|_| rng.random_bool(0.3)).cloned())
            .expect("same org");
        let wraps = rng.random_range(0..4);
        let (signer, body) = match rng.random_range(0..4) {
            0 => (&s.writer.signing, Body::Rekey(rekey_body(s.scope, wraps))),
            who => {
                let (readers, writers) = choices[rng.random_range(0..choices.len())].clone();
                let signer = [&s.owner.signing, &s.admin.signing, &s.org.root.0][who - 1];
                (signer, reshare_body(s.scope, wraps, readers, writers))
            }
        };
        // A writer made view-only by a reshare it knows cannot rekey: skip.
        if let Ok(op) = knows.sign_body(signer, body, T0) {
            made.push(op);
        }
    }
    (s.org.state.root(), s.scope, base, made)
}

/// Everything a node derives about one scope's policies.
#[derive(Clone, Debug, PartialEq)]
struct PolicyView {
    /// The policy in force now.
    now: Option<ScopeDef>,
    writer_epoch: Option<OpId>,
    /// Each epoch with its policy, in application order.
    epochs: Vec<(OpId, Option<ScopeDef>)>,
}

fn policy_view(state: &AuthState, scope: &OpId) -> PolicyView {
    let epochs = state
        .order()
        .iter()
        .filter(|id| state.epoch(id).is_some_and(|r| r.scope == *scope))
        .map(|id| (*id, state.epoch_policy(id).cloned()))
        .collect();
    PolicyView {
        now: state.scope(scope).cloned(),
        writer_epoch: state.writer_epoch(scope),
        epochs,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Concurrent reshares and rekeys give the same policies on every node,
    /// whatever order their ops arrive in; and the policy computed in the
    /// judging walk is the one the slower definition gives.
    #[test]
    fn concurrent_reshares_resolve_the_same_way_in_any_order(seed in any::<u64>(), shuffles in any::<[u64; 3]>()) {
        let (root, scope, base, made) = concurrent_epochs(seed);
        let mut all = AuthState::new(root);
        all.insert_all(base.iter().chain(&made).cloned()).expect("same org");
        let expected = policy_view(&all, &scope);
        for shuffle in shuffles {
            let mut ops: Vec<SignedOp> = base.iter().chain(&made).cloned().collect();
            let mut rng = StdRng::seed_from_u64(shuffle);
            for i in (1..ops.len()).rev() {
                ops.swap(i, rng.random_range(0..=i));
            }
            let mut one_by_one = AuthState::new(root);
            for op in ops {
                one_by_one.insert(op).expect("same org");
            }
            prop_assert_eq!(policy_view(&one_by_one, &scope), expected.clone());
            prop_assert_eq!(one_by_one.digest(T0), all.digest(T0));
        }
        for op in &made {
            prop_assert_eq!(all.verdict(&op.id), Some(&Verdict::Accepted));
        }
        // The walk agrees with the definition: a reshare's policy is its
        // own, a rekey's that of the epoch in force as seen from its parents.
        for (epoch, policy) in &expected.epochs {
            let op = &all.op(epoch).expect("held").op;
            let want = match &op.body {
                Body::Reshare(r) => Some((r.readers.clone(), r.writers.clone())),
                _ => {
                    let seen = all.past(&op.parents);
                    let in_force = all.current_epoch(&scope, Some(&seen));
                    in_force
                        .and_then(|e| all.epoch_policy(&e))
                        .or(all.scope_definition(&scope))
                        .map(|d| (d.readers.clone(), d.writers.clone()))
                }
            };
            prop_assert_eq!(policy.as_ref().map(|d| (d.readers.clone(), d.writers.clone())), want);
        }
        // The scope's policy now is that of the epoch writers use; a reshare,
        // if any is current, is in force over a concurrent plain rekey.
        let in_force = expected.writer_epoch.expect("the scope has epochs");
        prop_assert_eq!(all.epoch_policy(&in_force).cloned(), expected.now.clone());
        let current = all.current_epochs(&scope, None);
        if current.iter().any(|e| matches!(all.op(e).map(|o| &o.op.body), Some(Body::Reshare(_)))) {
            prop_assert!(matches!(all.op(&in_force).map(|o| &o.op.body), Some(Body::Reshare(_))));
        }
    }
}
