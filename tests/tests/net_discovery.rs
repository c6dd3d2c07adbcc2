//! Finding and keeping peers: the peer file, redialling, Kademlia
//! discovery and relays, with real `outpost up` processes on 127.0.0.1.
//!
//! As in `net.rs`: each test builds its org with the CLI first, starts the
//! nodes with [`Node::up`] / [`Node::up_with`], and waits on what their APIs
//! report, with timeouts; a failed wait prints every node's log.

use outpost_tests::cluster::{TIMEOUT, acme, append, converged, member, new_doc, peer_ids};
use outpost_tests::{Node, RunningNode, UpOptions, exit, wait_until};
use std::time::Duration;

/// How long a redial may take: the waits between tries double up to 60 s,
/// and a node restarts within a few of them.
const REDIAL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a discovery by the routing table may take: it runs when a peer
/// enters the table, and again every 30 s.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(50);

/// Peer ids in `GET /api/peers`, each with its addresses.
fn peers(node: &RunningNode) -> Result<Vec<(String, Vec<String>)>, String> {
    let list = node.try_get("/api/peers")?;
    let rows = list
        .as_array()
        .ok_or_else(|| format!("/api/peers is not an array: {list}"))?;
    Ok(rows
        .iter()
        .map(|p| {
            let addrs = p["addrs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            (p["peer_id"].as_str().unwrap_or_default().to_owned(), addrs)
        })
        .collect())
}

/// Waits until `node` lists (at least) every one of `expected` as a peer.
fn wait_for_peers(node: &RunningNode, expected: &[&RunningNode], timeout: Duration, all: &[&RunningNode]) {
    let names: Vec<&str> = expected.iter().map(|n| n.name()).collect();
    wait_until(
        &format!("{} lists {names:?} among its peers", node.name()),
        timeout,
        all,
        || {
            let got = peer_ids(node)?;
            match expected.iter().find(|e| !got.contains(e.peer_id())) {
                None => Ok(()),
                Some(missing) => Err(format!("{} lists {got:?}, not {}", node.name(), missing.name())),
            }
        },
    );
}

/// Writes `<home>/network.toml` of `node`.
fn write_network_file(node: &Node, text: &str) {
    let path = node.home().join("network.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

#[test]
fn a_peer_from_the_network_file_is_connected_and_synced() {
    let (sb, admin) = acme();
    let b = member(&sb, &admin, "b");
    let id = new_doc(&admin, "Plan", &["--scope", "/"]);
    admin.ok(["doc", "edit", &id, "--set-text", "from-a\n"]);

    // A misspelt key is an error that names the file and the keys.
    write_network_file(&b, "peer = [\"/ip4/127.0.0.1/tcp/1\"]\n");
    b.fails(
        ["up", "--no-mdns", "--api", "127.0.0.1:0"],
        exit::ERROR,
        "network.toml is not valid",
    );

    let a = admin.up(&[]);
    write_network_file(&b, &format!("# Alice's node\npeers = [\"{}\"]\n", a.addr()));
    // B is given no --peer: its only peer comes from the file.
    let b = b.up(&[]);
    let all = [&a, &b];
    wait_for_peers(&a, &[&b], TIMEOUT, &all);
    wait_for_peers(&b, &[&a], TIMEOUT, &all);
    wait_until("b has the plan", TIMEOUT, &all, || converged(&all, &id, &["from-a"]));
    append(&b, &id, "from-b\n");
    wait_until("b's edit reaches a", TIMEOUT, &all, || {
        converged(&all, &id, &["from-a", "from-b"])
    });
}

#[test]
fn a_configured_peer_is_redialled_after_it_restarts() {
    let (sb, admin) = acme();
    let b = member(&sb, &admin, "b");
    let id = new_doc(&admin, "Log", &["--scope", "/"]);

    let a = admin.up(&[]);
    let port = a.p2p_port();
    let b = b.up(&[a.addr()]);
    wait_for_peers(&b, &[&a], TIMEOUT, &[&a, &b]);
    append(&a, &id, "before\n");
    wait_until("b has the first line", TIMEOUT, &[&a, &b], || {
        converged(&[&a, &b], &id, &["before"])
    });

    // Alice's node stops; Bob's notices.
    let (status, logs) = a.terminate();
    assert!(status.success(), "a exited with {status}\n{logs}");
    wait_until("b has no peer left", TIMEOUT, &[&b], || {
        let got = peer_ids(&b)?;
        if got.is_empty() {
            Ok(())
        } else {
            Err(format!("b lists {got:?}"))
        }
    });
    // Alice edits while apart (her store is free while her node is down).
    admin.ok(["doc", "edit", &id, "--append", "while-apart\n"]);

    // Back on the same port: Bob reconnects by himself.
    let a = admin.up_with(&[], &UpOptions::port(port));
    assert_eq!(a.p2p_port(), port);
    let all = [&a, &b];
    wait_for_peers(&b, &[&a], REDIAL_TIMEOUT, &all);
    wait_until("the edit made while apart reaches b", TIMEOUT, &all, || {
        converged(&all, &id, &["before", "while-apart"])
    });
}

#[test]
fn peers_that_know_only_one_node_find_each_other() {
    let (sb, admin) = acme();
    let (b, c) = (member(&sb, &admin, "b"), member(&sb, &admin, "c"));
    let id = new_doc(&admin, "Plan", &["--scope", "/"]);

    let a = admin.up(&[]);
    let b = b.up(&[a.addr()]);
    wait_for_peers(&a, &[&b], TIMEOUT, &[&a, &b]);
    let c = c.up(&[a.addr()]);
    let all = [&a, &b, &c];
    // Neither was told of the other: Alice's routing table tells them.
    wait_for_peers(&c, &[&a, &b], DISCOVERY_TIMEOUT, &all);
    wait_for_peers(&b, &[&a, &c], DISCOVERY_TIMEOUT, &all);
    let direct = peers(&c).expect("c answers");
    let (_, addrs) = direct.iter().find(|(p, _)| p == b.peer_id()).expect("c lists b");
    assert!(
        addrs
            .iter()
            .all(|a| a.starts_with("/ip4/127.0.0.1/tcp/") && !a.contains("p2p-circuit")),
        "c reaches b at {addrs:?}, not directly over TCP on 127.0.0.1"
    );

    // With Alice gone, Bob and Carol still sync directly.
    let _ = a.kill();
    append(&b, &id, "b-to-c\n");
    wait_until("b's edit reaches c without a", TIMEOUT, &[&b, &c], || {
        converged(&[&b, &c], &id, &["b-to-c"])
    });
}

#[test]
fn two_peers_meet_through_a_relay() {
    let (sb, admin) = acme();
    // The relay is a node of the org like any other.
    let (r, b) = (member(&sb, &admin, "r"), member(&sb, &admin, "b"));
    let id = new_doc(&admin, "Plan", &["--scope", "/"]);
    admin.ok(["doc", "edit", &id, "--set-text", "from-a\n"]);

    let r = r.up_with(&[], &UpOptions::args(&["--relay-server"]));
    let b = b.up_with(&[], &UpOptions::args(&["--relay", r.addr()]));
    let circuit = format!("{}/p2p-circuit/p2p/{}", r.addr(), b.peer_id());
    wait_until("b listens through the relay", TIMEOUT, &[&r, &b], || {
        let listen = b.listen_now()?;
        if listen.contains(&circuit) {
            Ok(())
        } else {
            Err(format!("b listens on {listen:?}, not on {circuit}"))
        }
    });

    // Alice knows Bob only by his address through the relay.
    let a = admin.up(&[&circuit]);
    let all = [&a, &b, &r];
    wait_for_peers(&a, &[&b, &r], TIMEOUT, &all);
    wait_for_peers(&b, &[&a, &r], TIMEOUT, &all);
    wait_until("r relays from a to b", TIMEOUT, &all, || {
        if r.logged(&["relay server: relaying", a.peer_id(), b.peer_id()]) {
            Ok(())
        } else {
            Err("r has not logged relaying a circuit from a to b".into())
        }
    });
    let (_, addrs) = peers(&a)
        .expect("a answers")
        .into_iter()
        .find(|(p, _)| p == b.peer_id())
        .expect("a lists b");
    assert!(
        addrs.iter().any(|addr| addr.contains("/p2p-circuit")),
        "a's connections to b are not through the relay: {addrs:?}\n{}",
        a.logs()
    );
    wait_until("b has the plan", TIMEOUT, &all, || {
        converged(&[&a, &b], &id, &["from-a"])
    });
    append(&b, &id, "from-b\n");
    wait_until("b's edit reaches a", TIMEOUT, &all, || {
        converged(&[&a, &b], &id, &["from-a", "from-b"])
    });
}
