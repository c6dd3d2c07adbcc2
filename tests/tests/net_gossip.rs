//! Gossip per scope, and pulls that gossip triggers: real `outpost up`
//! processes on 127.0.0.1.
//!
//! Envelopes are pushed on one gossipsub topic per scope, followed only by
//! the nodes that may hold the scope; and an envelope that arrives by
//! gossip while this node lacks some of its dependencies starts a sync
//! with the peer that passed it on, long before the periodic round (30 s).

use outpost_tests::cluster::{TIMEOUT, acme, converged, holds_for, member, new_doc, wait_for_log, wait_for_peers};
use outpost_tests::{Node, Rng, RunningNode, Sandbox, seed, wait_until};
use serde_json::json;
use std::time::{Duration, Instant};

/// How long a pull that gossip triggered may take: far less than the
/// periodic anti-entropy interval (30 s), which it must not be waiting for.
const PULL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longer than the delivery-confirming session that follows, 1.1 s later,
/// a session started in the second of a write.
const FOLLOW_UP_SESSIONS: Duration = Duration::from_millis(2500);
/// How long a node is watched to show that gossip did not bring it
/// something.
const QUIET_PERIOD: Duration = Duration::from_secs(3);

/// The envelopes `node` holds (`GET /api/status`).
fn envelopes(node: &RunningNode) -> Result<u64, String> {
    let status = node.try_get("/api/status")?;
    status["envelopes"]
        .as_u64()
        .ok_or_else(|| format!("{}: no envelope count in {status}", node.name()))
}

/// Waits until `node` holds exactly as many envelopes as `like`.
fn wait_for_same_envelopes(node: &RunningNode, like: &RunningNode, timeout: Duration, all: &[&RunningNode]) {
    let what = format!("{} holds as many envelopes as {}", node.name(), like.name());
    wait_until(&what, timeout, all, || {
        let (have, want) = (envelopes(node)?, envelopes(like)?);
        if have == want {
            Ok(())
        } else {
            Err(format!("{} holds {have}, {} {want}", node.name(), like.name()))
        }
    });
}

/// A new node `name`, certified by `admin` as a member of `dept`.
fn member_of(sb: &Sandbox, admin: &Node, name: &str, dept: &str) -> Node {
    let node = sb.node(name);
    node.init(name);
    let cert = admin.issue(
        &node.request(),
        ["--role", "member", "--dept", dept],
        &format!("{name}.cert"),
    );
    node.ok(["cert", "install", &cert]);
    node
}

/// Bob and Dan are in HQ/East, Wendy in HQ/West. Bob's document is in the
/// HQ/East scope (his department's, the default). Dan gets Bob's edits by
/// gossip within seconds; Wendy, connected to Bob just the same, receives
/// none of them: she does not follow the HQ/East topic, so not even the
/// ciphertext reaches her store.
#[test]
fn gossip_reaches_only_the_members_who_may_hold_the_scope() {
    let (sb, admin) = acme();
    let bob = member(&sb, &admin, "b");
    let dan = member(&sb, &admin, "d");
    let wendy = member_of(&sb, &admin, "w", "HQ/West");
    let made = bob.json(["doc", "new", "--title", "East plan"]);
    assert_eq!(made["space_name"], "HQ/East", "{made}");
    let id = made["id"].as_str().expect("doc new prints the id").to_owned();

    let b = bob.up(&[]);
    let d = dan.up(&[b.addr()]);
    let w = wendy.up(&[b.addr()]);
    let all = [&b, &d, &w];
    wait_for_peers(&b, &[&d, &w], &all);
    wait_for_same_envelopes(&d, &b, TIMEOUT, &all);
    let wendy_holds = envelopes(&w).expect("w reports its envelopes");

    let editing = Instant::now();
    let lines: Vec<String> = (0..5).map(|i| format!("east line {i}\n")).collect();
    for line in &lines {
        let saved = b.post(&format!("/api/docs/{id}"), &json!({ "append": line }));
        assert_eq!(saved["changed"], true, "{saved}");
    }
    let markers: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
    wait_until("d has every east line", TIMEOUT, &all, || {
        converged(&[&b, &d], &id, &markers)
    });
    println!("d had the 5 edits {:.2?} after the first", editing.elapsed());
    holds_for("w receives nothing of HQ/East", QUIET_PERIOD, &all, || {
        let held = envelopes(&w)?;
        if held != wendy_holds {
            return Err(format!("w held {wendy_holds} envelopes and now {held}"));
        }
        // Nothing of the scope even reaches it by gossip: it would be
        // dropped (and logged) on receipt, leaving the count unchanged.
        if w.logged(&["dropping an envelope of scope"]) {
            return Err("w received an envelope of a scope it does not hold".into());
        }
        Ok(())
    });
    let shown = w
        .request("GET", &format!("/api/docs/{id}"), None, true)
        .expect("w answers");
    assert_ne!(shown.status, 200, "w shows the HQ/East document: {}", shown.body);
}

/// Bob and Dan are connected and synced. Bob then makes a change too large
/// for gossip (over 64 KiB: it is left to anti-entropy), so Dan misses it:
/// the sessions on admission are over, the periodic round is 30 s away,
/// and no other node could pass it on. Bob's next, small change arrives
/// by gossip, and depends on the large one, which Dan lacks: that starts a
/// sync with Bob, and Dan holds both within seconds. The log line proves
/// which trigger fetched it.
#[test]
fn gossip_revealing_unknown_changes_starts_a_sync_with_the_sender() {
    let (sb, admin) = acme();
    let bob = member(&sb, &admin, "b");
    let dan = member(&sb, &admin, "d");
    let id = new_doc(&bob, "Notes", &[]);

    let b = bob.up(&[]);
    let d = dan.up(&[b.addr()]);
    let dan_started = Instant::now();
    let all = [&b, &d];
    wait_for_peers(&b, &[&d], &all);
    wait_for_same_envelopes(&d, &b, TIMEOUT, &all);
    let before = envelopes(&b).expect("b reports its envelopes");
    // A session that started in the same second as a write (a node's start
    // counts as one) is followed by another a second later, to confirm
    // delivery; let those pass, so that only gossip can reveal what follows.
    std::thread::sleep(FOLLOW_UP_SESSIONS);

    // Letters and digits at random: automerge compresses a change, and
    // this text stays well over the gossip limit once compressed.
    let mut rng = Rng::new(seed());
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let large: String = (0..200_000)
        .map(|_| ALPHABET[rng.up_to(ALPHABET.len() as u64 - 1) as usize] as char)
        .chain(['\n'])
        .collect();
    let saved = b.post(&format!("/api/docs/{id}"), &json!({ "append": large }));
    assert_eq!(saved["changed"], true, "{saved}");
    assert_eq!(envelopes(&b), Ok(before + 1));
    wait_for_log(&b, &["not gossiping a change of"], &all);
    holds_for("d does not get the large change", QUIET_PERIOD, &all, || {
        let held = envelopes(&d)?;
        if held == before {
            Ok(())
        } else {
            Err(format!("d holds {held} envelopes, had {before}"))
        }
    });

    let pulling = Instant::now();
    let saved = b.post(&format!("/api/docs/{id}"), &json!({ "append": "small line\n" }));
    assert_eq!(saved["changed"], true, "{saved}");
    wait_until("d holds both changes", PULL_TIMEOUT, &all, || {
        let held = envelopes(&d)?;
        if held == before + 2 {
            Ok(())
        } else {
            Err(format!("d holds {held} envelopes, wants {}", before + 2))
        }
    });
    let took = pulling.elapsed();
    println!("d caught up {took:.2?} after the small change was made");
    assert!(
        d.logged(&["its gossip revealed changes this node lacks"]),
        "d caught up, but not through a pull that gossip triggered\n{}",
        d.logs()
    );
    assert!(
        dan_started.elapsed() < Duration::from_secs(30),
        "the test ran into d's periodic round ({:.2?}): it cannot tell which sync fetched the change",
        dan_started.elapsed()
    );
    wait_until("b and d show the same document", TIMEOUT, &all, || {
        converged(&[&b, &d], &id, &["small line"])
    });
}
