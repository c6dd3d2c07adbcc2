//! Helpers shared by the network tests: an org built with the CLI, the
//! documents and peers that running nodes report through their API, and
//! checks that must keep holding for a while.
//!
//! Sandboxes here run on the real clock (`outpost up` checks certificates
//! at the time it runs).

use crate::{Node, RunningNode, Sandbox, wait_until, words};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long anything that happens on connect or by gossip may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A sandbox on the real clock with admin Alice (`a`) of org Acme.
pub fn acme() -> (Sandbox, Node) {
    let sb = Sandbox::real_clock();
    let admin = sb.node("a");
    admin.init("Alice");
    admin.ok(words("org create --name Acme"));
    (sb, admin)
}

/// A new node `name`, certified by `admin` with `role` in HQ/East.
pub fn certified(sb: &Sandbox, admin: &Node, name: &str, role: &str) -> Node {
    certified_in(sb, admin, name, role, "HQ/East")
}

/// A new node `name`, certified by `admin` with `role` in department
/// `dept` (a path such as `HQ/RnD`).
pub fn certified_in(sb: &Sandbox, admin: &Node, name: &str, role: &str, dept: &str) -> Node {
    let node = sb.node(name);
    node.init(name);
    let cert = admin.issue(
        &node.request(),
        ["--role", role, "--dept", dept],
        &format!("{name}.cert"),
    );
    node.ok(["cert", "install", &cert]);
    node
}

/// A new node `name`, certified by `admin` as a member of HQ/East.
pub fn member(sb: &Sandbox, admin: &Node, name: &str) -> Node {
    certified(sb, admin, name, "member")
}

/// Admin Alice and members `b` and `c` of HQ/East, each running: `b` and
/// `c` dial the admin's node, and `c` dials `b` too (the admin's node may
/// not hold HQ/East's envelopes, so it cannot pass them on).
#[derive(Debug)]
pub struct EastTrio {
    /// The sandbox.
    pub sb: Sandbox,
    /// Alice's home.
    pub admin: Node,
    /// Bob's home.
    pub bob: Node,
    /// Carol's home.
    pub carol: Node,
    /// Alice's node.
    pub a: RunningNode,
    /// Bob's node.
    pub b: RunningNode,
    /// Carol's node.
    pub c: RunningNode,
}

/// Starts an [`EastTrio`] and waits until Bob's node is connected to both.
pub fn east_trio() -> EastTrio {
    let (sb, admin) = acme();
    let bob = member(&sb, &admin, "b");
    let carol = member(&sb, &admin, "c");
    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let c = carol.up(&[a.addr(), b.addr()]);
    wait_for_peers(&b, &[&a, &c], &[&a, &b, &c]);
    EastTrio {
        sb,
        admin,
        bob,
        carol,
        a,
        b,
        c,
    }
}

/// `POST /api/channels {"name": NAME}` on `node` (a channel of the
/// member's department); returns its id.
pub fn new_channel(node: &RunningNode, name: &str) -> String {
    node.post("/api/channels", &json!({ "name": name }))["channel"]
        .as_str()
        .expect("the new channel's id")
        .to_owned()
}

/// The serial of the certificate named `name`, as `cert revoke` takes it.
pub fn serial_of(node: &Node, name: &str) -> String {
    let rows = node.list(&["--all"]);
    rows.iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["serial"].as_str())
        .unwrap_or_else(|| panic!("{name} is not listed in {rows:?}"))
        .to_owned()
}

/// `doc new --title TITLE <extra>` with the CLI (node stopped); returns
/// the id.
pub fn new_doc(node: &Node, title: &str, extra: &[&str]) -> String {
    let mut args = vec!["doc", "new", "--title", title];
    args.extend_from_slice(extra);
    node.json(args)["id"]
        .as_str()
        .expect("doc new prints the id")
        .to_owned()
}

/// `POST /api/docs/ID {"append": text}`; the change must be saved.
pub fn append(node: &RunningNode, id: &str, text: &str) {
    let saved = node.post(&format!("/api/docs/{id}"), &json!({ "append": text }));
    assert_eq!(saved["changed"], true, "{saved}");
}

/// The peer ids in `GET /api/peers`.
pub fn peer_ids(node: &RunningNode) -> Result<BTreeSet<String>, String> {
    let list = node.try_get("/api/peers")?;
    let rows = list
        .as_array()
        .ok_or_else(|| format!("/api/peers is not an array: {list}"))?;
    Ok(rows
        .iter()
        .map(|p| p["peer_id"].as_str().unwrap_or_default().to_owned())
        .collect())
}

/// Waits until `node` lists exactly the peers `expected`.
pub fn wait_for_peers(node: &RunningNode, expected: &[&RunningNode], all: &[&RunningNode]) {
    let expected: BTreeSet<String> = expected.iter().map(|n| n.peer_id().to_owned()).collect();
    wait_until(
        &format!("{} lists exactly the peers {expected:?}", node.name()),
        TIMEOUT,
        all,
        || {
            let got = peer_ids(node)?;
            if got == expected {
                Ok(())
            } else {
                Err(format!("{} lists {got:?}", node.name()))
            }
        },
    );
}

/// `GET /api/docs/ID` as (body, heads), if the node shows it.
pub fn doc(node: &RunningNode, id: &str) -> Result<(String, Value), String> {
    let doc = node.try_get(&format!("/api/docs/{id}"))?;
    let body = doc["body"]
        .as_str()
        .ok_or_else(|| format!("{}: no body: {doc}", node.name()))?
        .to_owned();
    Ok((body, doc["heads"].clone()))
}

/// Every node shows document `id` with the same body and heads, and the
/// body holds each of `markers` exactly once. Returns the body.
pub fn converged(nodes: &[&RunningNode], id: &str, markers: &[&str]) -> Result<String, String> {
    let mut seen = Vec::new();
    for node in nodes {
        let (body, heads) = doc(node, id)?;
        seen.push((node.name().to_owned(), body, heads));
    }
    let describe = || format!("{seen:#?}");
    let (_, body, heads) = &seen[0];
    if seen.iter().any(|(_, b, h)| b != body || h != heads) {
        return Err(format!("the nodes differ: {}", describe()));
    }
    if heads.as_array().is_none_or(Vec::is_empty) {
        return Err(format!("no heads: {}", describe()));
    }
    for marker in markers {
        let count = body.matches(marker).count();
        if count != 1 {
            return Err(format!("{marker:?} appears {count} times: {}", describe()));
        }
    }
    Ok(body.clone())
}

/// Checks `check` again and again for `period`; it must hold every time.
pub fn holds_for(what: &str, period: Duration, nodes: &[&RunningNode], mut check: impl FnMut() -> Result<(), String>) {
    let started = Instant::now();
    while started.elapsed() < period {
        if let Err(e) = check() {
            let logs: Vec<String> = nodes.iter().map(|n| n.logs()).collect();
            panic!(
                "{what} stopped holding after {:?}: {e}\n{}",
                started.elapsed(),
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A refused node's lot: no peers, no documents, no envelopes, and
/// `GET /api/docs/ID` does not show the document.
pub fn shut_out(node: &RunningNode, id: &str) -> Result<(), String> {
    let peers = peer_ids(node)?;
    if !peers.is_empty() {
        return Err(format!("{} lists peers {peers:?}", node.name()));
    }
    let docs = node.try_get("/api/docs")?;
    if docs != json!([]) {
        return Err(format!("{} holds documents: {docs}", node.name()));
    }
    let status = node.try_get("/api/status")?;
    if status["envelopes"] != 0 || status["peers"] != 0 {
        return Err(format!("{}'s status: {status}", node.name()));
    }
    let shown = node.request("GET", &format!("/api/docs/{id}"), None, true)?;
    if shown.status == 200 {
        return Err(format!("{} shows the document: {}", node.name(), shown.body));
    }
    Ok(())
}

/// Waits until `node` has logged a line holding every one of `needles`.
pub fn wait_for_log(node: &RunningNode, needles: &[&str], all: &[&RunningNode]) {
    wait_until(&format!("{} logs {needles:?}", node.name()), TIMEOUT, all, || {
        if node.logged(needles) {
            Ok(())
        } else {
            Err("not yet".into())
        }
    });
}
