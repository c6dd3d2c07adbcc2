//! Admission by certificate, on real nodes: forged, expired and revoked
//! certificates are refused (the refused peer sees no peers and gets no
//! document; the refusing node logs why), a revocation learnt later cuts
//! the revoked device off, and a view-only member's edits are refused by
//! every node.
//!
//! A node cannot run on a forged certificate (its own store refuses one),
//! so forgeries are presented by a [`RawPeer`]: a bare libp2p peer whose
//! hello is a certificate bundle tampered with here.

mod common;

use outpost_identity::armor::{self, Label};
use outpost_identity::keys::Signer25519;
use outpost_identity::request::{Bundle, Request};
use outpost_identity::{Body, MemberKeys, SignedOp};
use outpost_tests::cluster::{
    TIMEOUT, acme, append, converged, doc, holds_for, member, new_doc, peer_ids, serial_of, shut_out, wait_for_log,
    wait_for_peers,
};
use outpost_tests::raw_peer::{Protocol, RawPeer, frame};
use outpost_tests::{DAY, Node, Rng, Sandbox, seed, wait_until, words};
use std::time::Duration;

/// How long a refused peer is watched for staying out.
const STAYS_OUT: Duration = Duration::from_secs(3);

/// A member key made here (not by `outpost init`) and its certificate
/// request, written to `<name>.req`.
fn raw_keys(sb: &Sandbox, name: &str, rng: &mut Rng) -> (MemberKeys, String) {
    let mut secret = [0u8; 64];
    for chunk in secret.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let keys = MemberKeys::from_secret(&secret);
    let request = Request::sign(&keys, name, outpost_identity::Timestamp(sb.now()), None).expect("a valid name");
    let file = format!("{name}.req");
    sb.write(&file, &armor::encode(Label::Request, &request));
    (keys, file)
}

/// `issuer` certifies the request as a member of HQ/East; returns the
/// bundle's bytes.
fn issue(sb: &Sandbox, issuer: &Node, request: &str, out: &str) -> Vec<u8> {
    let cert = issuer.issue(request, words("--role member --dept HQ/East"), out);
    armor::decode(&sb.read(&cert))
        .expect("cert issue writes an armored bundle")
        .1
}

fn keypair(keys: &MemberKeys) -> libp2p::identity::Keypair {
    libp2p::identity::Keypair::ed25519_from_bytes(*keys.signing.secret()).expect("a member key is an ed25519 key")
}

/// Presents `hello` from `keys` to `node`; it must be refused with a log
/// line holding `reason`, the connection closed, nothing synced.
fn refused(node: &outpost_tests::RunningNode, keys: &MemberKeys, hello: Vec<u8>, reason: &str) {
    let peer = RawPeer::connect(keypair(keys), node.addr(), Some(hello.clone()));
    let id = peer.peer_id.to_string();
    let answer = peer.send(Protocol::Hello, frame(&hello));
    assert!(
        answer.is_err(),
        "{} answered a forged hello: {answer:?}\n{}",
        node.name(),
        node.logs()
    );
    wait_for_log(node, &["refusing peer", reason, &id], &[node]);
    peer.wait_closed();
    let listed = peer_ids(node).unwrap_or_else(|e| panic!("{e}"));
    assert!(!listed.contains(&id), "{} lists the forger: {listed:?}", node.name());
    assert_eq!(peer.sync_requests(), 0, "{} synced with the forger", node.name());
    assert!(
        !node.logged(&["peer admitted", &id]),
        "{} admitted a forgery\n{}",
        node.name(),
        node.logs()
    );
}

#[test]
fn forged_certificates_are_refused() {
    let mut rng = Rng::new(seed());
    let (sb, admin) = acme();
    let id = new_doc(&admin, "Secret plan", &[]);
    admin.ok(["doc", "edit", &id, "--set-text", "SECRET-MARKER\n"]);
    let (kim, kim_req) = raw_keys(&sb, "kim", &mut rng);
    let genuine = issue(&sb, &admin, &kim_req, "kim.cert");
    let (bundle, ops) = Bundle::decode(&genuine).expect("the admin's bundle is valid");
    let subject = bundle.subject.expect("a certificate bundle names its certificate");

    // 1. Kim's genuine certificate with one bit of its signature flipped.
    let mut tampered = bundle.clone();
    let at = ops
        .iter()
        .position(|o| o.id == subject)
        .expect("the bundle holds its certificate");
    let sig = tampered.ops[at]
        .last_mut()
        .expect("a signed op ends with its signature");
    *sig ^= 0x01;
    assert!(
        SignedOp::decode(&tampered.ops[at]).is_err(),
        "the flipped bit went unnoticed"
    );
    let bad_signature = tampered.encode();

    // 2. A certificate for Kit, whom Alice never certified, in Acme's name
    //    and on the strength of Alice's certificate, signed by a key that
    //    is no member of Acme.
    let (kit, kit_req) = raw_keys(&sb, "kit", &mut rng);
    let mut stranger = [0u8; 32];
    for chunk in stranger.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let stranger = Signer25519::from_secret(&stranger);
    let forge = |subject: &MemberKeys| {
        let mut op = ops[at].op.clone();
        op.author = stranger.public();
        if let Body::Grant(cert) = &mut op.body {
            cert.subject = subject.public();
            cert.exchange = subject.exchange_public();
        }
        let forged = op.sign(&stranger);
        let mut by_stranger = bundle.clone();
        by_stranger.ops[at] = forged.bytes.clone();
        by_stranger.subject = Some(forged.id);
        by_stranger.encode()
    };
    let kit_by_stranger = forge(&kit);
    // The same forgery for Kim, whose key Alice's node knows as certified:
    // what is presented is judged, not who else the key might be.
    let kim_by_stranger = forge(&kim);

    // 3. Kit's certificate from another org that calls itself Acme, passed
    //    off as Acme's: Mallory's root and admin key are no members.
    let mallory = sb.node("mallory");
    mallory.init("Mallory");
    mallory.ok(words("org create --name Acme"));
    let foreign = issue(&sb, &mallory, &kit_req, "kit-by-mallory.cert");
    let (mut posing, _) = Bundle::decode(&foreign).expect("mallory's bundle is valid for mallory's org");
    posing.root = bundle.root;
    let other_org = posing.encode();

    let a = admin.up(&[]);
    refused(&a, &kim, bad_signature, "bad signature");
    refused(&a, &kit, kit_by_stranger, "is not valid: invalid");
    refused(&a, &kim, kim_by_stranger, "is not valid: invalid");
    refused(&a, &kit, other_org, "belongs to org");

    // The same key with the genuine certificate is admitted and synced
    // with: the refusals were for the forgeries, not for the peer.
    let real = RawPeer::connect(keypair(&kim), a.addr(), Some(genuine.clone()));
    let answer = real
        .send(Protocol::Hello, frame(&genuine))
        .unwrap_or_else(|e| panic!("a refused kim's genuine certificate: {e}\n{}", a.logs()));
    assert!(!answer.is_empty(), "a answered with an empty hello");
    wait_until("a syncs with kim", TIMEOUT, &[&a], || {
        if real.sync_requests() > 0 {
            Ok(())
        } else {
            Err("no sync request yet".into())
        }
    });
}

#[test]
fn expired_and_revoked_certificates_are_refused() {
    let sb = Sandbox::real_clock();
    // The org began a month ago.
    let month_ago = sb.now() - 30 * DAY;
    let admin = sb.node("a");
    admin.at(month_ago).init("Alice");
    admin.at(month_ago).ok(words("org create --name Acme"));
    // Eve's certificate was for one day, a month ago.
    let eve = sb.node("e").at(month_ago);
    eve.init("Eve");
    let cert = admin.at(month_ago).issue(
        &eve.request(),
        words("--role member --dept HQ/East --valid 1d"),
        "e.cert",
    );
    eve.ok(["cert", "install", &cert]);
    // Rob's certificate is current, but revoked.
    let rob = member(&sb, &admin, "r");
    let serial = serial_of(&admin, "r");
    admin.ok([
        "cert",
        "revoke",
        &serial,
        "--reason",
        "left the company",
        "--out",
        "r.rev",
    ]);
    let bob = member(&sb, &admin, "b");
    let id = new_doc(&admin, "Plan", &[]);
    admin.ok(["doc", "edit", &id, "--set-text", "PLAN-MARKER\n"]);

    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    // Eve's node runs in the hour after her certificate began: to itself
    // it is valid; to Alice's node, running now, it has expired.
    let e = eve.at(month_ago + 3600).up(&[a.addr()]);
    let r = rob.up(&[a.addr()]);
    let all = [&a, &b, &e, &r];
    wait_for_log(&a, &["refusing peer", "expired", e.peer_id()], &all);
    wait_for_log(&a, &["refusing peer", "revoked", "left the company", r.peer_id()], &all);
    wait_until("b has the plan", TIMEOUT, &all, || {
        converged(&[&a, &b], &id, &["PLAN-MARKER"])
    });
    holds_for("e and r stay out", STAYS_OUT, &all, || {
        shut_out(&e, &id)?;
        shut_out(&r, &id)?;
        let listed = peer_ids(&a)?;
        if listed.len() != 1 || !listed.contains(b.peer_id()) {
            return Err(format!("a lists {listed:?}"));
        }
        Ok(())
    });
    for refused in [&e, &r] {
        assert!(
            !a.logged(&["peer admitted", refused.peer_id()]),
            "a admitted {}\n{}",
            refused.name(),
            a.logs()
        );
    }
}

#[test]
fn a_revocation_learnt_later_cuts_off_the_revoked_device() {
    let (sb, admin) = acme();
    let hub = member(&sb, &admin, "h");
    let mel = member(&sb, &admin, "m");
    let serial = serial_of(&admin, "m");
    let id = new_doc(&admin, "Plan", &[]);

    // Mel reaches the org only through the hub.
    let a = admin.up(&[]);
    let h = hub.up(&[a.addr()]);
    let m = mel.up(&[h.addr()]);
    wait_for_peers(&h, &[&a, &m], &[&a, &h, &m]);
    wait_for_peers(&m, &[&h], &[&a, &h, &m]);
    append(&a, &id, "before-revocation\n");
    wait_until("everyone has the first line", TIMEOUT, &[&a, &h, &m], || {
        converged(&[&a, &h, &m], &id, &["before-revocation"])
    });

    // Alice revokes Mel while her node is down, then comes back to the hub.
    let _ = a.kill();
    admin.ok(["cert", "revoke", &serial, "--reason", "lost laptop", "--out", "m.rev"]);
    let a = admin.up(&[h.addr()]);
    let all = [&a, &h, &m];
    wait_for_log(&h, &["refusing peer", "revoked", "lost laptop", m.peer_id()], &all);
    wait_for_peers(&m, &[], &all);
    wait_for_peers(&h, &[&a], &all);

    append(&a, &id, "after-revocation\n");
    wait_until("the hub has the new line", TIMEOUT, &all, || {
        converged(&[&a, &h], &id, &["before-revocation", "after-revocation"])
    });
    holds_for("mel gets nothing new", STAYS_OUT, &all, || {
        if let Ok((body, _)) = doc(&m, &id)
            && body.contains("after-revocation")
        {
            return Err(format!("m shows {body:?}"));
        }
        let listed = peer_ids(&m)?;
        if !listed.is_empty() {
            return Err(format!("m lists {listed:?}"));
        }
        Ok(())
    });
}

#[test]
fn a_view_only_members_edit_is_refused_by_every_node() {
    let (sb, admin) = acme();
    let writer = member(&sb, &admin, "w");
    let viewer = member(&sb, &admin, "v");
    let writer_key = writer.status()["member"]
        .as_str()
        .expect("status names the member key")
        .to_owned();
    // HQ/East may read; only Alice and the writer may write.
    let id = new_doc(
        &admin,
        "Minutes",
        &[
            "--readers",
            "dept:HQ/East",
            "--writers",
            &format!("member:{writer_key}"),
        ],
    );
    // Through the CLI, the viewer's own node refuses the edit.
    let a = admin.up(&[]);
    let w = writer.up(&[a.addr()]);
    let v = viewer.up(&[a.addr()]);
    let all = [&a, &w, &v];
    wait_until("w and v have the minutes", TIMEOUT, &all, || converged(&all, &id, &[]));
    append(&w, &id, "by-the-writer\n");
    wait_until("everyone has the writer's line", TIMEOUT, &all, || {
        converged(&all, &id, &["by-the-writer"])
    });
    let tried = v
        .request(
            "POST",
            &format!("/api/docs/{id}"),
            Some(&serde_json::json!({"append": "VIEWER-EDIT\n"})),
            true,
        )
        .expect("v answers");
    assert_ne!(tried.status, 200, "v's node saved a view-only edit: {}", tried.body);
    assert!(tried.body.contains("view-only"), "{}", tried.body);

    // A tampered client writes the change anyway, straight into the store.
    let _ = v.kill();
    common::forge_edit(viewer.home(), &id, "VIEWER-EDIT\n");
    let v = viewer.up(&[a.addr()]);
    let all = [&a, &w, &v];
    // Alice's node is offered the change on connect and refuses it; the
    // writer never gets it from her.
    wait_for_log(&a, &["refusing change", "view-only"], &all);
    append(&w, &id, "writer-again\n");
    wait_until("everyone has the writer's second line", TIMEOUT, &all, || {
        converged(&all, &id, &["by-the-writer", "writer-again"])
    });
    holds_for("nobody shows the viewer's edit", STAYS_OUT, &all, || {
        for node in all {
            let (body, _) = doc(node, &id)?;
            if body.contains("VIEWER-EDIT") {
                return Err(format!("{} shows {body:?}", node.name()));
            }
        }
        Ok(())
    });
    // Alice, an admin, also holds the audit log (her certificates issued),
    // which the others cannot read.
    let audited = a.post("/api/audit", &serde_json::json!({"action": "list"}))["entries"]
        .as_array()
        .map_or(0, |e| e.len() as u64);
    for (node, extra) in [(&a, audited), (&w, 0)] {
        let status = node.get("/api/status");
        let held = v.get("/api/status")["envelopes"].as_u64().expect("a count");
        assert_eq!(
            status["envelopes"].as_u64().map(|n| n - extra),
            Some(held - 1),
            "{} stored the forged change (the viewer holds {held})",
            node.name()
        );
    }
}
