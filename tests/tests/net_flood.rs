//! A flood: an admitted member's peer that sends invalid items as fast as
//! it can, over gossip and over sync, is throttled and then disconnected
//! and banned, while the honest peers are served on.
//!
//! Real `outpost up` nodes A (admin) and B (member) on 127.0.0.1, and M, a
//! [`RawPeer`] with a genuine member certificate (so that A admits it)
//! which then publishes forged ops (real ops with a flipped signature
//! byte), forged envelopes (a real envelope with a flipped signature byte)
//! and garbage envelopes on the org's and the scope's gossip topics, and
//! fires garbage sync requests.

use outpost_identity::request::Bundle;
use outpost_tests::cluster::{TIMEOUT, acme, append, converged, member, new_doc, wait_for_log, wait_for_peers};
use outpost_tests::raw_peer::{Protocol, RawPeer, frame, garbage, raw_member};
use outpost_tests::{Rng, RunningNode, metric_sample, seed, wait_until};
use std::time::{Duration, Instant};

/// The gossip frame kinds (`outpost_node::local::frame`).
const OP: u8 = 1;
const ENVELOPE: u8 = 2;

/// `GET /metrics` of `node`, or why it did not answer.
fn metrics(node: &RunningNode) -> Result<String, String> {
    let r = node.request("GET", "/metrics", None, true)?;
    if r.status != 200 {
        return Err(format!("/metrics answered {}: {}", r.status, r.body));
    }
    Ok(r.body)
}

/// The value of metric `name` on `node`, 0 when absent.
fn metric(node: &RunningNode, name: &str) -> f64 {
    let text = metrics(node).unwrap_or_else(|e| panic!("{} /metrics: {e}", node.name()));
    metric_sample(&text, name).unwrap_or(0.0)
}

/// `signed` with byte `i` from the end (within its 64-byte signature)
/// changed by `delta`: still well formed, no longer genuine.
fn forge(signed: &[u8], i: usize, delta: u8) -> Vec<u8> {
    let mut out = signed.to_vec();
    let at = out.len() - 1 - i % 64;
    out[at] = out[at].wrapping_add(delta.max(1));
    out
}

/// `kind` then `bytes`: a gossip frame.
fn gossip_frame(kind: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(bytes);
    out
}

#[test]
fn a_flooding_peer_is_throttled_then_banned_and_the_others_are_served_on() {
    let mut rng = Rng::new(seed());
    let (sb, admin) = acme();
    let b = member(&sb, &admin, "b");
    let id = new_doc(&admin, "Plan", &[]);
    let (m_key, m_hello) = raw_member(&sb, &admin, "mallory", &mut rng);

    // A genuine envelope and genuine ops, to forge from.
    let envelope = {
        let store = outpost_store::Store::open(&admin.home().join("outpost.redb")).expect("the admin's store opens");
        let stored = store.envelopes().expect("envelopes");
        stored.into_iter().next().expect("the new document wrote an envelope")
    };
    assert!(
        outpost_seal::Envelope::decode(&envelope).is_ok(),
        "a stored envelope verifies"
    );
    assert!(
        outpost_seal::Envelope::decode(&forge(&envelope, 5, 1)).is_err(),
        "a flipped signature byte is caught"
    );
    assert!(
        outpost_seal::Envelope::decode_stored(&forge(&envelope, 5, 1)).is_ok(),
        "a forged envelope is still well formed"
    );
    let (_, ops) = Bundle::decode(&m_hello).expect("the hello is a bundle");
    let op = ops.last().expect("a bundle holds ops").bytes.clone();
    assert!(outpost_identity::SignedOp::decode(&forge(&op, 3, 1)).is_err());

    let a = admin.up(&[]);
    let b = b.up(&[a.addr()]);
    wait_for_peers(&a, &[&b], &[&a, &b]);
    wait_for_peers(&b, &[&a], &[&a, &b]);
    append(&a, &id, "before-flood\n");
    wait_until("b has the first line", TIMEOUT, &[&a, &b], || {
        converged(&[&a, &b], &id, &["before-flood"])
    });
    let status = a.get("/api/status");
    let org = status["org"]["id"].as_str().expect("status names the org").to_owned();
    let scope = status["docs"]
        .as_array()
        .and_then(|docs| docs.iter().find(|d| d["id"] == id.as_str()))
        .and_then(|d| d["scope"].as_str())
        .unwrap_or_else(|| panic!("status lists document {id}: {status}"))
        .to_owned();
    let org_topic = format!("outpost/{org}/changes/1");
    let scope_topic = format!("outpost/{org}/scope/{scope}/1");

    // M is admitted like any member.
    let m = RawPeer::connect(m_key.clone(), a.addr(), Some(m_hello.clone()));
    let m_id = m.peer_id.to_string();
    m.send(Protocol::Hello, frame(&m_hello))
        .unwrap_or_else(|e| panic!("a did not admit m: {e}\n{}", a.logs()));
    wait_for_log(&a, &["peer admitted", &m_id], &[&a]);
    // A's subscriptions reach M before it floods.
    wait_until("m can publish to a", TIMEOUT, &[&a], || {
        m.publish(&org_topic, gossip_frame(OP, &forge(&op, 0, 1)))
    });
    let rss_before = metric(&a, "process_resident_memory_bytes");

    // The flood, with B writing in the middle of it.
    append(&b, &id, "during-flood\n");
    let started = Instant::now();
    let (mut published, mut fired, mut max_queue, mut answered) = (0u64, 0u64, 0.0f64, 0u32);
    let mut n = 0usize;
    while m.is_connected() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "a kept m connected through {published} gossip messages and {fired} sync requests\n{}",
            a.logs()
        );
        for _ in 0..25 {
            n += 1;
            let delta = (1 + n / 64 % 255) as u8;
            let items = [
                (org_topic.as_str(), gossip_frame(OP, &forge(&op, n, delta))),
                (
                    scope_topic.as_str(),
                    gossip_frame(ENVELOPE, &forge(&envelope, n, delta)),
                ),
                (scope_topic.as_str(), gossip_frame(ENVELOPE, &garbage(&mut rng, 300))),
            ];
            for (topic, data) in items {
                // A full send queue refuses some: the flood goes on.
                if m.publish(topic, data).is_ok() {
                    published += 1;
                }
            }
            if m.fire(Protocol::Sync, frame(&garbage(&mut rng, 2000))).is_ok() {
                fired += 1;
            }
        }
        // A answers its API throughout, with its queue bounded.
        if let Ok(text) = metrics(&a) {
            answered += 1;
            max_queue = max_queue.max(metric_sample(&text, "outpost_gossip_queue_depth").unwrap_or(0.0));
        }
    }
    println!(
        "m was disconnected after {:.2?}: {published} gossip messages, {fired} sync requests",
        started.elapsed()
    );
    wait_for_log(&a, &["throttling peer", &m_id], &[&a]);
    wait_for_log(&a, &["refusing peer", "banned for", &m_id], &[&a]);
    let logs = a.logs();
    let throttled_at = logs.find("throttling peer").expect("logged");
    let banned_at = logs.find("banned for").expect("logged");
    assert!(throttled_at < banned_at, "m was banned before it was throttled\n{logs}");
    assert!(answered > 0, "a's /metrics never answered during the flood");
    assert!(
        max_queue <= 4096.0,
        "a's gossip queue grew to {max_queue} during the flood"
    );
    let rss_after = metric(&a, "process_resident_memory_bytes");
    assert!(
        rss_after - rss_before < 256.0 * 1024.0 * 1024.0,
        "a's memory grew from {rss_before} to {rss_after} bytes in the flood"
    );

    // The counters say so.
    assert_eq!(metric(&a, "outpost_peers_throttled_total"), 1.0, "only m was throttled");
    assert_eq!(metric(&a, "outpost_peers_banned_total"), 1.0, "only m was banned");
    assert_eq!(metric(&a, "outpost_peers_banned"), 1.0);
    assert!(metric(&a, "outpost_gossip_rejected_total") >= 1.0);
    assert!(metric(&a, "outpost_peer_offences_total") >= 1.0);
    assert!(
        !a.logged(&["throttling peer", b.peer_id()]),
        "a throttled b\n{}",
        a.logs()
    );
    // B was not blamed for anything M sent (nothing invalid travelled on).
    assert_eq!(
        metric(&b, "outpost_peer_offences_total"),
        0.0,
        "b counted offences\n{}",
        b.logs()
    );

    // A serves B on: B's line written during the flood, and a new one
    // each way.
    append(&a, &id, "after-flood-a\n");
    append(&b, &id, "after-flood-b\n");
    wait_until("a and b converge after the flood", TIMEOUT, &[&a, &b], || {
        converged(
            &[&a, &b],
            &id,
            &["before-flood", "during-flood", "after-flood-a", "after-flood-b"],
        )
    });
    wait_for_peers(&a, &[&b], &[&a, &b]);

    // M cannot come back during the ban: its connections close at once.
    drop(m);
    let again = RawPeer::connect(m_key, a.addr(), Some(m_hello.clone()));
    let why = again.wait_closed();
    println!("m's new connection closed: {why}");
    assert!(again.send(Protocol::Hello, frame(&m_hello)).is_err());
    wait_for_log(&a, &["refusing a banned peer", &m_id], &[&a]);
    assert!(metric(&a, "outpost_banned_connections_refused_total") >= 1.0);
    assert!(
        !a.logged(&["panicked"]) && !b.logged(&["panicked"]),
        "a node panicked in the flood\n{}",
        a.logs()
    );
}
