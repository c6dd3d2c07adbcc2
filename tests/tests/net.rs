//! Nodes on a network: real `outpost up` processes on 127.0.0.1 that
//! admit each other by certificate, sync, and serve the HTTP API.
//!
//! Each test builds an org with the CLI first (a node's store is locked
//! while it runs), then starts nodes with [`Node::up`] and waits on what
//! their APIs report, with timeouts; a failed wait prints every node's log.
//! The sandboxes run on the real clock: `outpost up` checks certificates at
//! the time it runs.

use outpost_tests::cluster::{TIMEOUT, acme, append, converged, holds_for, member, new_doc};
use outpost_tests::{Rng, RunningNode, seed, wait_until, words};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long something that waits for the periodic anti-entropy may take:
/// its interval (30 s) plus margin.
const ANTI_ENTROPY_TIMEOUT: Duration = Duration::from_secs(50);

/// A row of `GET /api/peers`: peer id, name, role.
type Peer = (String, Option<String>, Option<String>);

fn peer(node: &RunningNode, name: &str, role: &str) -> Peer {
    (node.peer_id().to_owned(), Some(name.to_owned()), Some(role.to_owned()))
}

/// Peer ids in `GET /api/peers`, with their names and roles.
fn peers(node: &RunningNode) -> Result<BTreeSet<Peer>, String> {
    let list = node.try_get("/api/peers")?;
    let rows = list
        .as_array()
        .ok_or_else(|| format!("/api/peers is not an array: {list}"))?;
    Ok(rows
        .iter()
        .map(|p| {
            (
                p["peer_id"].as_str().unwrap_or_default().to_owned(),
                p["name"].as_str().map(str::to_owned),
                p["role"].as_str().map(str::to_owned),
            )
        })
        .collect())
}

/// Waits until `node` lists exactly `expected` as (peer, name, role).
fn wait_for_peers(node: &RunningNode, expected: &[(&RunningNode, &str, &str)], all: &[&RunningNode]) {
    let expected: BTreeSet<Peer> = expected.iter().map(|(n, name, role)| peer(n, name, role)).collect();
    wait_until(
        &format!("{} lists its peers {expected:?}", node.name()),
        TIMEOUT,
        all,
        || {
            let got = peers(node)?;
            if got == expected {
                Ok(())
            } else {
                Err(format!("{} lists {got:?}", node.name()))
            }
        },
    );
}

/// Waits until the hub (Alice's node) and each spoke (a member's node that
/// dialed it) have admitted each other: only then does gossip flow both
/// ways (until a side admits the other, it drops the other's gossip).
fn wait_for_star(hub: &RunningNode, spokes: &[&RunningNode], all: &[&RunningNode]) {
    let members: Vec<(&RunningNode, &str, &str)> = spokes.iter().map(|s| (*s, s.name(), "member")).collect();
    wait_for_peers(hub, &members, all);
    for spoke in spokes {
        wait_for_peers(spoke, &[(hub, "Alice", "admin")], all);
    }
}

/// The change ids in `GET /api/docs/ID/history`, sorted.
fn history(node: &RunningNode, id: &str) -> Vec<String> {
    let rows = node.get(&format!("/api/docs/{id}/history"));
    let mut ids: Vec<String> = rows
        .as_array()
        .expect("history is an array")
        .iter()
        .map(|r| r["change"].as_str().expect("every entry has a change id").to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn edits_from_two_members_converge_on_three_nodes() {
    let (sb, admin) = acme();
    // The document's key is made before Bob and Carol are certified, so
    // they can only read it once Alice's node wraps the key to them (key
    // stewardship, when their certificates reach it).
    let id = new_doc(&admin, "Plan", &[]);
    let (b, c) = (member(&sb, &admin, "b"), member(&sb, &admin, "c"));

    let a = admin.up(&[]);
    let b = b.up(&[a.addr()]);
    let c = c.up(&[a.addr()]);
    let all = [&a, &b, &c];
    wait_for_star(&a, &[&b, &c], &all);
    wait_until("b and c can read the plan", TIMEOUT, &all, || {
        for node in [&b, &c] {
            let doc = node.try_get(&format!("/api/docs/{id}"))?;
            if doc["title"] != "Plan" {
                return Err(format!("{} shows {doc}", node.name()));
            }
        }
        Ok(())
    });

    append(&b, &id, "from-b-1\n");
    wait_until("b's edit reaches everyone", TIMEOUT, &all, || {
        converged(&all, &id, &["from-b-1"])
    });
    append(&c, &id, "from-c-1\n");
    let body = wait_until("c's edit reaches everyone", TIMEOUT, &all, || {
        converged(&all, &id, &["from-b-1", "from-c-1"])
    });
    assert_eq!(body, "from-b-1\nfrom-c-1\n");

    // Bob and Carol append at the same moment; both lines survive.
    std::thread::scope(|s| {
        s.spawn(|| append(&b, &id, "concurrent-b\n"));
        s.spawn(|| append(&c, &id, "concurrent-c\n"));
    });
    let markers = ["from-b-1", "from-c-1", "concurrent-b", "concurrent-c"];
    wait_until("the concurrent edits converge", TIMEOUT, &all, || {
        converged(&all, &id, &markers)
    });
    let changes = history(&a, &id);
    assert_eq!(
        changes.len(),
        5,
        "created, two edits, two concurrent edits: {changes:?}"
    );
    for node in [&b, &c] {
        assert_eq!(history(node, &id), changes, "{} has another history", node.name());
    }

    // A document made through the API while running reaches both members.
    let minutes = a.post("/api/docs", &json!({"title": "Minutes"}));
    let minutes = minutes["id"]
        .as_str()
        .expect("POST /api/docs returns the id")
        .to_owned();
    wait_until("c has the minutes", TIMEOUT, &all, || {
        c.try_get(&format!("/api/docs/{minutes}"))
    });
    append(&c, &minutes, "minuted-by-c\n");
    wait_until("the minutes converge", TIMEOUT, &all, || {
        converged(&all, &minutes, &["minuted-by-c"])
    });
    for node in all {
        let list = node.get("/api/docs");
        let mut titles: Vec<&str> = list
            .as_array()
            .expect("/api/docs is an array")
            .iter()
            .map(|d| d["title"].as_str().expect("every doc has a title"))
            .collect();
        titles.sort();
        assert_eq!(titles, ["Minutes", "Plan"], "{}: {list}", node.name());
    }

    // Status reports, on every node, the same per-document sync state (all
    // five changes of the plan valid, the same heads), the store's size,
    // and the sessions this node started.
    let plan_state = |node: &RunningNode| -> Result<(u64, u64, Value), String> {
        let status = node.try_get("/api/status")?;
        let doc = status["docs"]
            .as_array()
            .and_then(|docs| docs.iter().find(|d| d["id"] == id.as_str()))
            .ok_or_else(|| format!("{}: no plan in {status}", node.name()))?;
        if status["store_bytes"].as_u64().unwrap_or(0) == 0 {
            return Err(format!("{}: no store size in {status}", node.name()));
        }
        Ok((
            doc["valid"].as_u64().unwrap_or(0),
            doc["pending"].as_u64().unwrap_or(99) + doc["invalid"].as_u64().unwrap_or(99),
            doc["heads"].clone(),
        ))
    };
    let (valid, not_valid, heads) = plan_state(&a).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((valid, not_valid), (5, 0), "{heads}");
    for node in [&b, &c] {
        assert_eq!(
            plan_state(node).unwrap_or_else(|e| panic!("{e}")),
            (5, 0, heads.clone())
        );
    }
    wait_until("b reports a finished session with a", TIMEOUT, &all, || {
        let status = b.try_get("/api/status")?;
        let synced = status["syncs"].as_array().is_some_and(|s| {
            s.iter()
                .any(|x| x["peer_id"] == a.peer_id() && x["round_trips"].as_u64() > Some(0))
        });
        if synced {
            Ok(())
        } else {
            Err(format!("no session with a in {status}"))
        }
    });
}

#[test]
fn a_node_back_from_a_partition_loses_nothing() {
    let (sb, admin) = acme();
    let (b, c_home) = (member(&sb, &admin, "b"), member(&sb, &admin, "c"));
    let id = new_doc(&admin, "Log", &[]);

    let a = admin.up(&[]);
    let b = b.up(&[a.addr()]);
    let c = c_home.up(&[a.addr()]);
    wait_for_star(&a, &[&b, &c], &[&a, &b, &c]);
    append(&a, &id, "before\n");
    wait_until("everyone has the first line", TIMEOUT, &[&a, &b, &c], || {
        converged(&[&a, &b, &c], &id, &["before"])
    });

    // Carol's node crashes; Alice and Bob carry on.
    let _ = c.kill();
    wait_for_peers(&a, &[(&b, "b", "member")], &[&a, &b]);
    append(&a, &id, "a-while-c-away\n");
    append(&b, &id, "b-while-c-away\n");
    wait_until("a and b agree while c is away", TIMEOUT, &[&a, &b], || {
        converged(&[&a, &b], &id, &["before", "a-while-c-away", "b-while-c-away"])
    });

    // Carol edits offline with the CLI: her store is free while her node is down.
    c_home.ok(["doc", "edit", &id, "--append", "c-offline-1\n"]);
    c_home.ok(["doc", "edit", &id, "--append", "c-offline-2\n"]);
    // In the org-wide scope: Carol's own default, HQ/East, is not synced to
    // Alice's node, which may not hold it.
    let offline = c_home.json(["doc", "new", "--title", "Written offline", "--scope", "/"]);
    assert_eq!(offline["space_name"], "Everyone", "{offline}");
    let offline = offline["id"].as_str().expect("doc new prints the id").to_owned();
    let body = c_home.json(["doc", "show", &id])["body"].clone();
    assert_eq!(body, "before\nc-offline-1\nc-offline-2\n");

    // Back online, dialing only Alice: Alice gets Carol's lines when they
    // connect, Bob by anti-entropy with Alice (or sooner).
    let c = c_home.up(&[a.addr()]);
    let all = [&a, &b, &c];
    wait_for_star(&a, &[&b, &c], &all);
    let markers = [
        "before",
        "a-while-c-away",
        "b-while-c-away",
        "c-offline-1",
        "c-offline-2",
    ];
    let body = wait_until("everyone has every line", ANTI_ENTROPY_TIMEOUT, &all, || {
        converged(&all, &id, &markers)
    });
    assert!(
        body.find("c-offline-1") < body.find("c-offline-2"),
        "Carol's lines are out of order: {body:?}"
    );
    wait_until("everyone has the offline document", TIMEOUT, &all, || {
        for node in all {
            let doc = node.try_get(&format!("/api/docs/{offline}"))?;
            if doc["title"] != "Written offline" {
                return Err(format!("{} shows {doc}", node.name()));
            }
        }
        Ok(())
    });
    let changes = history(&a, &id);
    assert_eq!(changes.len(), 6, "{changes:?}");
    for node in [&b, &c] {
        assert_eq!(history(node, &id), changes, "{} has another history", node.name());
    }
}

#[test]
fn a_node_of_another_org_is_refused_and_gets_nothing() {
    let (sb, admin) = acme();
    let b = member(&sb, &admin, "b");
    let id = new_doc(&admin, "Secret plan", &[]);
    admin.ok(["doc", "edit", &id, "--set-text", "SECRET-MARKER\n"]);
    // Mallory's org has the same name, but its own root key.
    let mallory = sb.node("mallory");
    mallory.init("Mallory");
    mallory.ok(words("org create --name Acme"));

    let a = admin.up(&[]);
    let b = b.up(&[a.addr()]);
    let m = mallory.up(&[a.addr()]);
    let all = [&a, &b, &m];
    // Each side checks the other's hello. Whichever refuses first hangs up,
    // possibly before the other has read its hello: one refusal is certain,
    // and usually both are logged.
    wait_until(
        "a and mallory refuse each other as of another org",
        TIMEOUT,
        &all,
        || {
            if a.logged(&["refusing peer", "another org", m.peer_id()])
                || m.logged(&["refusing peer", "another org", a.peer_id()])
            {
                Ok(())
            } else {
                Err("neither a nor mallory has logged a refusal".into())
            }
        },
    );
    wait_until("b has the secret plan", TIMEOUT, &all, || {
        converged(&[&a, &b], &id, &["SECRET-MARKER"])
    });

    let b_only: BTreeSet<Peer> = [peer(&b, "b", "member")].into();
    holds_for("mallory stays out", Duration::from_secs(2), &all, || {
        let listed = peers(&a)?;
        if listed != b_only {
            return Err(format!("a lists {listed:?}"));
        }
        let listed = peers(&m)?;
        if !listed.is_empty() {
            return Err(format!("mallory lists {listed:?}"));
        }
        let docs = m.try_get("/api/docs")?;
        if docs != json!([]) {
            return Err(format!("mallory holds documents: {docs}"));
        }
        let status = m.try_get("/api/status")?;
        if status["envelopes"] != 0 || status["peers"] != 0 {
            return Err(format!("mallory's status: {status}"));
        }
        Ok(())
    });
    let response = m
        .request("GET", &format!("/api/docs/{id}"), None, true)
        .expect("mallory answers");
    assert_ne!(response.status, 200, "mallory shows the plan: {}", response.body);
    for (node, other) in [(&a, &m), (&m, &a)] {
        assert!(
            !node.logged(&["peer admitted", other.peer_id()]),
            "{} admitted {}\n{}",
            node.name(),
            other.name(),
            node.logs()
        );
    }
}

#[test]
fn api_refuses_every_route_without_the_token() {
    let (_sb, admin) = acme();
    let id = new_doc(&admin, "Plan", &[]);
    admin.ok(["doc", "edit", &id, "--set-text", "original\n"]);
    let a = admin.up(&[]);

    let api_json = a.home().join("api.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&api_json).expect("api.json exists").permissions());
    assert_eq!(mode & 0o777, 0o600, "api.json is mode {mode:o}");

    let docs_before = a.get("/api/docs");
    let doc_before = a.get(&format!("/api/docs/{id}"));
    let edit = json!({"append": "intruder\n"});
    let create = json!({"title": "Intruder"});
    let routes: [(&str, String, Option<&Value>); 7] = [
        ("GET", "/api/status".into(), None),
        ("GET", "/api/peers".into(), None),
        ("GET", "/api/docs".into(), None),
        ("GET", format!("/api/docs/{id}"), None),
        ("GET", format!("/api/docs/{id}/history"), None),
        ("POST", "/api/docs".into(), Some(&create)),
        ("POST", format!("/api/docs/{id}"), Some(&edit)),
    ];
    // Same length as the real token, one digit changed.
    let mut wrong = a.api().token.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).expect("hex");
    for (method, path, body) in &routes {
        let attempts = [
            ("no token", a.request(method, path, *body, false)),
            ("a wrong token", a.request_with(method, path, *body, &wrong)),
            ("an empty token", a.request_with(method, path, *body, "")),
            (
                "the token with a suffix",
                a.request_with(method, path, *body, &format!("{}0", a.api().token)),
            ),
        ];
        for (what, response) in attempts {
            let response = response.unwrap_or_else(|e| panic!("{e}\n{}", a.logs()));
            assert_eq!(response.status, 401, "{method} {path} with {what}: {response:?}");
            assert!(
                response
                    .content_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("application/json")),
                "{method} {path} with {what}: {response:?}"
            );
            let error = response.json().expect("the error is JSON");
            assert_eq!(
                error["error"]["code"], "unauthorized",
                "{method} {path} with {what}: {error}"
            );
            assert!(
                error["error"]["message"].as_str().is_some_and(|m| m.contains("token")),
                "{error}"
            );
        }
    }
    assert_eq!(
        a.get("/api/docs"),
        docs_before,
        "a refused request changed the documents"
    );
    assert_eq!(a.get(&format!("/api/docs/{id}")), doc_before);

    // With the token, every route answers.
    for (method, path, body) in &routes {
        let response = a.request(method, path, *body, true).expect("the node answers");
        assert_eq!(response.status, 200, "{method} {path}: {response:?}");
    }
    assert_eq!(a.get(&format!("/api/docs/{id}"))["body"], "original\nintruder\n");

    // SIGTERM stops the node cleanly and removes api.json.
    let (status, logs) = a.terminate();
    assert!(status.success(), "outpost up exited with {status}\n{logs}");
    assert!(logs.contains("node up:"), "{logs}");
    assert!(!api_json.exists(), "api.json is left behind after a clean stop\n{logs}");
}

/// Bytes no libp2p peer would send.
fn garbage(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// Waits until the node closes `stream` (EOF or reset); returns what it
/// sent. Fails after `TIMEOUT`.
fn wait_for_close(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("a read timeout can be set");
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let mut received = Vec::new();
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return received,
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "the node kept the connection with {what} open"
        );
    }
}

#[test]
fn garbage_on_the_p2p_port_does_not_stop_the_node() {
    let mut rng = Rng::new(seed());
    let (sb, admin) = acme();
    let (b, c) = (member(&sb, &admin, "b"), member(&sb, &admin, "c"));
    let id = new_doc(&admin, "Plan", &[]);
    let a = admin.up(&[]);
    let b = b.up(&[a.addr()]);
    wait_for_star(&a, &[&b], &[&a, &b]);

    let port: SocketAddr = ([127, 0, 0, 1], a.p2p_port()).into();
    let connect = || TcpStream::connect_timeout(&port, TIMEOUT).expect("a accepts connections");
    // Left open and silent for the rest of the test.
    let _idle = connect();
    // Pure noise, then hang up.
    let mut noise = connect();
    let _ = noise.write_all(&garbage(&mut rng, 64 * 1024));
    let _ = noise.shutdown(Shutdown::Write);
    wait_for_close(&mut noise, "noise");
    // A proper protocol negotiation, then a bogus Noise handshake that
    // promises more than it sends. (Held open, it would be dropped by the
    // upgrade timeout; hanging up makes the node drop it at once.)
    let mut bogus = connect();
    let _ = bogus.write_all(b"\x13/multistream/1.0.0\n\x07/noise\n");
    let mut handshake = vec![0xff, 0xff];
    handshake.extend(garbage(&mut rng, 4096));
    let _ = bogus.write_all(&handshake);
    let _ = bogus.shutdown(Shutdown::Write);
    let answer = wait_for_close(&mut bogus, "a bogus handshake");
    assert!(
        answer.windows(7).any(|w| w == b"/noise\n"),
        "the node did not negotiate Noise: {:?}",
        String::from_utf8_lossy(&answer)
    );
    // Many short connections.
    for _ in 0..50 {
        let mut s = connect();
        let len = rng.up_to(300) as usize;
        let _ = s.write_all(&garbage(&mut rng, len));
    }

    // The node still serves: its API, its peer, and a newcomer.
    assert_eq!(a.get("/api/status")["peers"], 1);
    append(&b, &id, "after-garbage-b\n");
    append(&a, &id, "after-garbage-a\n");
    let c = c.up(&[a.addr()]);
    let all = [&a, &b, &c];
    wait_until("all three converge after the garbage", TIMEOUT, &all, || {
        converged(&all, &id, &["after-garbage-b", "after-garbage-a"])
    });
    wait_for_star(&a, &[&b, &c], &all);
}
