//! `outpost cert ...` while the node runs: the node holds the store, so
//! the commands go through its API, with the same output and exit codes
//! as without the node, and what they change takes effect in the running
//! node at once (a revoked member's node is cut off).

use outpost_identity::armor;
use outpost_tests::cluster::{TIMEOUT, acme, member, serial_of, wait_for_log, wait_for_peers};
use outpost_tests::{Node, Run, RunningNode, Sandbox, exit, wait_until, words};
use serde_json::Value;

/// `cert list --all` as text and as JSON.
fn listing(node: &Node) -> (String, Value) {
    let text = node.ok(words("cert list --all")).stdout;
    (text, node.json(words("cert list --all")))
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("{v} is not an object"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

/// Writes `<name>.bad.req`: `name`'s request with a letter of the name
/// changed (and the armor's checksum to match), so that only the
/// signature can tell.
fn tampered_request(sb: &Sandbox, request: &str) -> String {
    let (label, mut bytes) = armor::decode(&sb.read(request)).expect("cert request writes an armored request");
    let at = bytes
        .windows(4)
        .position(|w| w == b"Dave")
        .expect("the request holds the name");
    bytes[at] = b'K';
    let file = request.replace(".req", ".bad.req");
    sb.write(&file, &armor::encode(label, &bytes));
    file
}

/// The node still answers its API and the CLI through it.
fn still_serves(node: &RunningNode, admin: &Node) {
    wait_until("the node answers after a refused command", TIMEOUT, &[node], || {
        node.try_get("/api/status").map(|_| ())
    });
    admin.ok(words("cert list"));
}

#[test]
fn cert_commands_through_the_running_node_match_the_offline_ones() {
    let (sb, admin) = acme();
    let bob = sb.node("b");
    bob.init("Bob");
    let carol = sb.node("c");
    carol.init("Carol");
    let dave = sb.node("d");
    dave.init("Dave");
    let bad = tampered_request(&sb, &dave.request());

    // Without the node: Bob's certificate, and the refusal of the tampered request.
    let offline = admin.json([
        "cert",
        "issue",
        &bob.request(),
        "--role",
        "member",
        "--dept",
        "HQ/East",
        "--out",
        "b.cert",
    ]);
    let offline_bad = admin.run(["cert", "issue", &bad, "--role", "member"]);
    assert_eq!(offline_bad.code, exit::INVALID, "{offline_bad}");
    assert!(offline_bad.stderr.contains("bad signature"), "{offline_bad}");
    let offline_request = admin.ok(words("cert request --out a1.req"));

    // With the node: Carol's certificate, the same way.
    let a = admin.up(&[]);
    let online = admin.json([
        "cert",
        "issue",
        &carol.request(),
        "--role",
        "member",
        "--dept",
        "HQ/East",
        "--out",
        "c.cert",
    ]);
    assert_eq!(
        keys(&online),
        keys(&offline),
        "issue --json differs: {online} vs {offline}"
    );
    assert_eq!(online["name"], "Carol");
    assert_eq!(online["role"], "member");
    assert_eq!(online["dept"], "HQ/East");
    assert_eq!(online["file"], "c.cert");
    let text = admin
        .ok(["cert", "issue", &dave.request(), "--role", "guest", "--out", "d.cert"])
        .stdout;
    assert!(
        text.starts_with("issued guest certificate for Dave in the whole org (serial ")
            && text.ends_with("; written to d.cert\n"),
        "{text:?}"
    );
    let online_request = admin.ok(words("cert request --out a2.req"));
    assert_eq!(
        online_request.stdout.replace("a2.req", "FILE"),
        offline_request.stdout.replace("a1.req", "FILE"),
        "cert request differs with and without the node"
    );
    assert_eq!(sb.read("a2.req").lines().next(), sb.read("a1.req").lines().next());
    // The issued certificate is one the member installs, as ever.
    let installed = carol.json(words("cert install c.cert"));
    assert_eq!(installed["status"]["valid"], true, "{installed}");

    // A tampered request: the same exit code and message, nothing changed,
    // and the node keeps serving.
    let before = listing(&admin);
    let online_bad = admin.run(["cert", "issue", &bad, "--role", "member"]);
    assert_eq!(
        (online_bad.code, &online_bad.stderr),
        (offline_bad.code, &offline_bad.stderr),
        "through the node: {online_bad}\nwithout it: {offline_bad}"
    );
    assert_eq!(listing(&admin), before, "a refused issue changed the certificates");
    still_serves(&a, &admin);
    // Other refusals keep their exit codes too.
    let unknown = admin.run(words("cert revoke 0000 --reason nothing"));
    assert_eq!(unknown.code, exit::ERROR, "{unknown}");
    assert!(unknown.stderr.contains("no certificate with serial or id"), "{unknown}");
    let verified = admin.run(words("cert verify c.cert"));
    assert_eq!(verified.code, exit::OK, "{verified}");

    // The listing and the check through the node are the offline ones.
    let through = listing(&admin);
    assert_eq!(through.1.as_array().map(Vec::len), Some(4), "{}", through.1);
    let (status, logs) = a.terminate();
    assert!(status.success(), "the node did not stop cleanly\n{logs}");
    assert_eq!(listing(&admin), through, "cert list differs with and without the node");
    let offline_verify = admin.run(words("cert verify c.cert"));
    assert_eq!(
        (offline_verify.code, &offline_verify.stdout),
        (verified.code, &verified.stdout),
        "cert verify differs with and without the node"
    );
}

/// A command's output with ids (runs of 16 or more hex digits) and the
/// output file's name taken out.
fn shape(run: &Run, file: &str) -> String {
    let text = run.stdout.replace(file, "FILE");
    let mut out = String::new();
    let mut hex = String::new();
    for ch in text.chars().chain(std::iter::once('\n')) {
        if ch.is_ascii_hexdigit() {
            hex.push(ch);
            continue;
        }
        out.push_str(if hex.len() >= 16 { "ID" } else { &hex });
        hex.clear();
        out.push(ch);
    }
    out
}

#[test]
fn a_revocation_through_the_running_node_cuts_off_the_revoked_member() {
    let (sb, admin) = acme();
    let bob = member(&sb, &admin, "b");
    let mel = member(&sb, &admin, "m");

    // Both connect to Alice's node, which so learns their device certificates.
    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let m = mel.up(&[a.addr()]);
    let all = [&a, &b, &m];
    wait_for_peers(&a, &[&b, &m], &all);
    wait_for_peers(&m, &[&a], &all);

    // Mel is revoked through the running node.
    let serial = serial_of(&admin, "m");
    let online = admin.ok(["cert", "revoke", &serial, "--reason", "lost laptop", "--out", "m.rev"]);
    // It takes effect at once: Mel's node is cut off and refused, Bob's stays.
    wait_for_log(&a, &["refusing peer", "revoked", "lost laptop", m.peer_id()], &all);
    wait_for_peers(&a, &[&b], &all);
    wait_for_peers(&m, &[], &all);
    let rows = admin.list(&["--all"]);
    let row = rows.iter().find(|c| c["name"] == "m").expect("m is listed");
    assert_eq!(row["status"]["valid"], false, "{row}");

    // Without the node, Bob's revocation reads the same, and Mel's
    // revocation file is one the CLI checks and installs.
    let _ = m.terminate();
    let _ = b.terminate();
    let _ = a.terminate();
    let offline = admin.ok([
        "cert",
        "revoke",
        &serial_of(&admin, "b"),
        "--reason",
        "left",
        "--out",
        "b.rev",
    ]);
    assert_eq!(shape(&online, "m.rev"), shape(&offline, "b.rev"), "{online}\n{offline}");
    admin.ok(words("cert verify m.rev")).stdout_has("valid revocation of");
    mel.ok(words("cert install m.rev")).stdout_has("recorded revocation");
}
