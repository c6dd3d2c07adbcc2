//! Peers that send what no Outpost node would, over a real libp2p
//! connection (TCP, Noise, Yamux): oversized frames, truncated frames and
//! garbage on `/outpost/hello/1` and `/outpost/sync/1`. Each is dropped
//! with a log line that names the problem, and the node goes on serving
//! its good peers.
//!
//! The bad peer is a [`RawPeer`]: a bare libp2p swarm that writes requests
//! byte for byte. For the sync protocol it first gets itself admitted with
//! a genuine certificate (its key is certified by the admin like any
//! member's), since a node reads sync requests only from admitted peers.

use outpost_tests::cluster::{TIMEOUT, acme, append, converged, member, new_doc, wait_for_log, wait_for_peers};
use outpost_tests::raw_peer::{FRAME_BYTES_MAX, Protocol, RawPeer, frame, garbage, raw_member};
use outpost_tests::{Rng, seed, wait_until};

/// A length prefix promising `len` bytes, then `sent` of them.
fn truncated(rng: &mut Rng, len: u32, sent: usize) -> Vec<u8> {
    let mut bytes = len.to_be_bytes().to_vec();
    bytes.extend(garbage(rng, sent));
    bytes
}

/// A length prefix over the limit, then a little of what it promises.
fn oversized(rng: &mut Rng) -> Vec<u8> {
    let over = u32::try_from(FRAME_BYTES_MAX + 1).expect("the limit fits a length prefix");
    truncated(rng, over, 1024)
}

#[test]
fn bad_frames_are_dropped_with_a_reason_and_the_node_serves_on() {
    let mut rng = Rng::new(seed());
    let (sb, admin) = acme();
    let (b, c) = (member(&sb, &admin, "b"), member(&sb, &admin, "c"));
    let id = new_doc(&admin, "Plan", &[]);
    let (kim_key, kim_hello) = raw_member(&sb, &admin, "kim", &mut rng);

    let a = admin.up(&[]);
    let b = b.up(&[a.addr()]);
    wait_for_peers(&a, &[&b], &[&a, &b]);
    wait_for_peers(&b, &[&a], &[&a, &b]);
    append(&a, &id, "before-bad-peers\n");
    wait_until("b has the first line", TIMEOUT, &[&a, &b], || {
        converged(&[&a, &b], &id, &["before-bad-peers"])
    });

    // On the hello protocol, from a stranger that never answers the node's
    // own hello (so it stays unadmitted, not refused, meanwhile).
    let stranger = RawPeer::connect(libp2p::identity::Keypair::generate_ed25519(), a.addr(), None);
    let who = stranger.peer_id.to_string();
    let sent = stranger.send(Protocol::Hello, oversized(&mut rng));
    assert!(sent.is_err(), "an oversized hello was answered: {sent:?}");
    wait_for_log(
        &a,
        &[
            "dropping a bad hello",
            "oversized frame",
            "8388609 bytes",
            "limit of 8388608",
            &who,
        ],
        &[&a],
    );
    let sent = stranger.send(Protocol::Hello, truncated(&mut rng, 1000, 10));
    assert!(sent.is_err(), "a truncated hello was answered: {sent:?}");
    wait_for_log(
        &a,
        &[
            "dropping a bad hello",
            "truncated frame",
            "says 1000 bytes",
            "after 10",
            &who,
        ],
        &[&a],
    );
    // Sync before admission: read, then dropped unanswered.
    let sent = stranger.send(Protocol::Sync, frame(&garbage(&mut rng, 100)));
    assert!(sent.is_err(), "a sync request before admission was answered: {sent:?}");
    wait_for_log(&a, &["dropping a sync request from a peer not admitted", &who], &[&a]);
    let sent = stranger.send(Protocol::Sync, oversized(&mut rng));
    assert!(sent.is_err(), "an oversized sync request was answered: {sent:?}");
    wait_for_log(&a, &["dropping a bad sync request", "oversized frame", &who], &[&a]);
    // A well-framed hello of garbage: not a certificate bundle.
    let sent = stranger.send(Protocol::Hello, frame(&garbage(&mut rng, 2000)));
    assert!(sent.is_err(), "a garbage hello was answered: {sent:?}");
    wait_for_log(&a, &["refusing peer", "certificate bundle is invalid", &who], &[&a]);
    stranger.wait_closed();
    assert_eq!(stranger.sync_requests(), 0, "a synced with a stranger");

    // On the sync protocol, from an admitted peer.
    let kim = RawPeer::connect(kim_key, a.addr(), Some(kim_hello.clone()));
    let kim_id = kim.peer_id.to_string();
    let answer = kim
        .send(Protocol::Hello, frame(&kim_hello))
        .unwrap_or_else(|e| panic!("a did not admit kim: {e}\n{}", a.logs()));
    assert!(!answer.is_empty(), "a answered kim's hello with nothing");
    wait_for_log(&a, &["peer admitted", &kim_id], &[&a]);
    let sent = kim.send(Protocol::Sync, oversized(&mut rng));
    assert!(sent.is_err(), "an oversized sync request was answered: {sent:?}");
    wait_for_log(
        &a,
        &[
            "dropping a bad sync request",
            "oversized frame",
            "limit of 8388608",
            &kim_id,
        ],
        &[&a],
    );
    let sent = kim.send(Protocol::Sync, truncated(&mut rng, 4000, 100));
    assert!(sent.is_err(), "a truncated sync request was answered: {sent:?}");
    wait_for_log(
        &a,
        &[
            "dropping a bad sync request",
            "truncated frame",
            "says 4000 bytes",
            "after 100",
            &kim_id,
        ],
        &[&a],
    );
    // A promise of the whole limit, a megabyte of it, then the end.
    let limit = u32::try_from(FRAME_BYTES_MAX).expect("the limit fits a length prefix");
    let sent = kim.send(Protocol::Sync, truncated(&mut rng, limit, 1 << 20));
    assert!(sent.is_err(), "a truncated sync request was answered: {sent:?}");
    wait_for_log(
        &a,
        &[
            "dropping a bad sync request",
            "truncated frame",
            "after 1048576",
            &kim_id,
        ],
        &[&a],
    );
    // Well framed, but not a sync message: answered with an empty frame.
    let junk = garbage(&mut rng, 3000);
    let answer = kim.send(Protocol::Sync, frame(&junk));
    assert_eq!(answer, Ok(Vec::new()), "a garbage sync request got an answer");
    wait_for_log(&a, &["dropping a malformed sync frame of 3000 bytes", &kim_id], &[&a]);
    // Raw garbage where a frame should start.
    let _ = kim.send(Protocol::Sync, garbage(&mut rng, 64 * 1024));

    // The node still serves its good peer both ways, and a newcomer.
    append(&b, &id, "after-bad-peers-b\n");
    append(&a, &id, "after-bad-peers-a\n");
    let c = c.up(&[a.addr()]);
    let all = [&a, &b, &c];
    wait_until("a, b and c converge after the bad peers", TIMEOUT, &all, || {
        converged(
            &all,
            &id,
            &["before-bad-peers", "after-bad-peers-b", "after-bad-peers-a"],
        )
    });
    assert!(!a.logged(&["panicked"]), "a panicked on a bad peer\n{}", a.logs());
}
