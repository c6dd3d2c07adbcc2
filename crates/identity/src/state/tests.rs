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
