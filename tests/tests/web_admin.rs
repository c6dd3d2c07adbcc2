//! The web page's directory and admin screens in a real browser: admin
//! Alice and member Bob on two `outpost up` processes on 127.0.0.1, each
//! with a headless Chromium logged in to their own node, driven by
//! `tests/e2e/admin.mjs` (playwright-core).
//!
//! A new member, Dave, makes a certificate request with the CLI; the
//! script pastes it into Alice's admin screen, issues it there and
//! downloads the certificate; this test installs that file on Dave's home
//! with `outpost cert install` and starts his node while the script waits.
//! The script then checks that Alice's directory lists Dave under his
//! department and that its filters show exactly the expected people, that
//! a member sees no issuing or revoking buttons but his own device's, and
//! revokes Carol from Alice's page. This test checks through Bob's and
//! Dave's nodes (API and CLI) that Carol's certificate is revoked, and
//! that Alice's node lists Dave's certificate and device as issued.
//! Screenshots (desktop and phone width) go to `target/web-screenshots/`.
//!
//! Needs `/usr/bin/chromium` and `tests/e2e/node_modules/playwright-core`:
//! `scripts/test` installs both. Without them this test fails.

use outpost_tests::browser::{require_browser, run_script, screenshots, side};
use outpost_tests::cluster::{TIMEOUT, acme, peer_ids, wait_for_peers};
use outpost_tests::{Node, RunningNode, Sandbox, wait_until};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// How long the whole browser script may take.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);
/// The department the browser certifies Dave in (Carol's).
const DAVE_DEPT: &str = "HQ/RnD";

/// A new home `home` for `name`, certified by `admin` with `cert issue`'s
/// `flags`.
fn certified(sb: &Sandbox, admin: &Node, home: &str, name: &str, flags: &[&str]) -> Node {
    let node = sb.node(home);
    node.init(name);
    let cert = admin.issue(&node.request(), flags, &format!("{home}.cert"));
    node.ok(["cert", "install", &cert]);
    node
}

/// The member key of the certificate named `name` that `node` lists.
fn key_of(node: &Node, name: &str) -> String {
    let rows = node.list(&[]);
    rows.iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["subject"].as_str())
        .unwrap_or_else(|| panic!("{name} is not listed in {rows:?}"))
        .to_owned()
}

/// `POST /api/certs/list` on `node` with `filter`: the rows.
fn list(node: &RunningNode, filter: &Value) -> Result<Vec<Value>, String> {
    let r = node.request("POST", "/api/certs/list", Some(filter), true)?;
    if r.status != 200 {
        return Err(format!("{}: status {}: {}", node.name(), r.status, r.body));
    }
    let report = r.json()?;
    report["json"]
        .as_array()
        .cloned()
        .ok_or_else(|| format!("{}: no rows in {report}", node.name()))
}

/// Whether `node` holds `member`'s certificate as revoked for `reason`.
fn revoked_on(node: &RunningNode, member: &str, reason: &str) -> Result<(), String> {
    let rows = list(node, &json!({"all": true}))?;
    let row = rows
        .iter()
        .find(|c| c["subject"] == member)
        .ok_or_else(|| format!("{} does not list {member}", node.name()))?;
    let status = &row["status"];
    if status["state"] == "revoked"
        && status["valid"] == false
        && status["status"].as_str().is_some_and(|s| s.contains(reason))
    {
        Ok(())
    } else {
        Err(format!("{} lists {member} as {status}", node.name()))
    }
}

/// What the script handed over: Dave's certificate, downloaded in the
/// browser, and his node once it runs.
struct Dave {
    home: Node,
    node: Option<RunningNode>,
}

impl Dave {
    /// Once the script has saved `issued.cert` in `handshake`: installs it
    /// on Dave's home, starts his node (dialing `a`), waits until `a` is
    /// connected to it and tells the script in `dave-up.json`.
    fn poll(&mut self, handshake: &Path, a: &RunningNode, b: &RunningNode) {
        let cert = handshake.join("issued.cert");
        if self.node.is_some() || !cert.exists() {
            return;
        }
        let cert = cert.to_str().expect("the sandbox path is UTF-8");
        self.home
            .ok(["cert", "install", cert])
            .stdout_has("installed member certificate for dave in HQ/RnD");
        let node = self.home.up(&[a.addr()]);
        wait_until("Alice's node is connected to Dave's", TIMEOUT, &[a, b, &node], || {
            let peers = peer_ids(a)?;
            peers
                .contains(node.peer_id())
                .then_some(())
                .ok_or_else(|| format!("Alice's node lists {peers:?}"))
        });
        let member = self.home.status()["member"]
            .as_str()
            .expect("status names the member")
            .to_owned();
        let up = json!({"member": member, "peer_id": node.peer_id()});
        let part = handshake.join("dave-up.json.part");
        std::fs::write(&part, up.to_string()).expect("the handshake file can be written");
        std::fs::rename(&part, handshake.join("dave-up.json")).expect("the handshake file can be renamed");
        self.node = Some(node);
    }
}

/// Admin Alice issues a certificate for a pasted request in her browser,
/// Dave joins with it, Alice's directory lists and filters him, a member
/// sees no admin buttons, and Alice revokes Carol: every node learns it.
#[test]
fn an_admin_issues_and_revokes_certificates_in_the_browser() {
    require_browser();

    let (sb, admin) = acme();
    let bob = certified(
        &sb,
        &admin,
        "bob",
        "bob",
        &[
            "--role",
            "member",
            "--dept",
            "HQ/East",
            "--position",
            "Sales engineer",
            "--level",
            "3",
        ],
    );
    let carol_flags = [
        "--role",
        "member",
        "--dept",
        DAVE_DEPT,
        "--position",
        "Lab lead",
        "--level",
        "5",
    ];
    certified(&sb, &admin, "carol", "carol", &carol_flags);
    // A guest with a Chinese name, in a department two levels down.
    certified(
        &sb,
        &admin,
        "erin",
        "王芳",
        &[
            "--role",
            "guest",
            "--dept",
            "HQ/East/Sales",
            "--position",
            "实习生",
            "--level",
            "1",
        ],
    );
    let dave = sb.node("dave");
    dave.init("dave");
    let request = sb.read(&dave.request());
    let members = json!({
        "alice": key_of(&admin, "Alice"),
        "bob": key_of(&admin, "bob"),
        "carol": key_of(&admin, "carol"),
        "erin": key_of(&admin, "王芳"),
    });
    let carol_key = members["carol"].as_str().expect("a key").to_owned();

    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    wait_for_peers(&a, &[&b], &[&a, &b]);
    wait_for_peers(&b, &[&a], &[&a, &b]);
    // Bob's node knows the whole org before his browser looks.
    wait_until("Bob's node lists the org", TIMEOUT, &[&a, &b], || {
        let rows = list(&b, &json!({"all": false}))?;
        (rows.len() == 4)
            .then_some(())
            .ok_or_else(|| format!("Bob's node lists {rows:?}"))
    });

    let handshake = sb.dir().join("web-admin");
    std::fs::create_dir_all(&handshake).expect("the handshake directory can be made");
    let shots = screenshots();
    let config = json!({
        "a": side(&a),
        "b": side(&b),
        "members": members,
        "request": request,
        "dept": DAVE_DEPT,
        "handshake": handshake,
        "screenshots": shots,
    });
    let mut dave = Dave { home: dave, node: None };
    let run = run_script("tests/e2e/admin.mjs", &config, sb.dir(), SCRIPT_TIMEOUT, || {
        dave.poll(&handshake, &a, &b)
    });
    println!(
        "node tests/e2e/admin.mjs: {} in {:.1?}\n--- stdout\n{}--- stderr\n{}---",
        run.status, run.took, run.stdout, run.stderr
    );
    let logs = || {
        let mut logs = vec![a.logs(), b.logs()];
        logs.extend(dave.node.as_ref().map(RunningNode::logs));
        logs.join("\n")
    };
    assert!(
        run.success,
        "the browser script failed ({}); screenshots in {}\n--- stdout\n{}--- stderr\n{}---\n{}",
        run.status,
        shots.display(),
        run.stdout,
        run.stderr,
        logs()
    );
    let report = run.report();
    assert_eq!(report["ok"], true, "{report}");
    let d = dave.node.as_ref().expect("the script waited for Dave's node");
    let all = [&a, &b, d];

    // The certificate issued in the browser: Dave's, in his department,
    // with what the form said; his node certified its device with it.
    let dave_key = report["dave"]["member"].as_str().expect("the report names Dave");
    let rows = list(&a, &json!({"all": false, "dept": DAVE_DEPT})).unwrap_or_else(|e| panic!("{e}"));
    let row = rows
        .iter()
        .find(|c| c["subject"] == dave_key)
        .unwrap_or_else(|| panic!("Alice's node does not list Dave in {DAVE_DEPT}: {rows:?}"));
    assert_eq!(
        (&row["role"], &row["position"], &row["level"], &row["email"]),
        (
            &json!("member"),
            &json!("Researcher"),
            &json!(4),
            &json!("dave@acme.test")
        ),
        "{row}"
    );
    assert_eq!(row["serial"], report["dave"]["serial"], "{row}");
    let days = (row["not_after"].as_u64().expect("an end") - row["not_before"].as_u64().expect("a start")) / 86_400;
    assert_eq!(days, 90, "{row}");
    let devices = admin.json(["cert", "list", "--devices"]);
    let device = devices
        .as_array()
        .and_then(|ds| ds.iter().find(|x| x["member"] == dave_key))
        .unwrap_or_else(|| panic!("`cert list --devices` on Alice's node lists no device of Dave's: {devices}"));
    assert_eq!(device["device"], d.peer_id(), "{device}");
    assert_eq!(device["member_name"], "dave", "{device}");

    // Carol, revoked in Alice's browser: revoked on every node, through
    // the API and through the CLI (which goes through the running node).
    let reason = report["revoked"]["reason"]
        .as_str()
        .expect("the report names the reason");
    assert_eq!(report["revoked"]["member"], carol_key.as_str(), "{report}");
    for node in all {
        wait_until(
            &format!("{} holds Carol's certificate as revoked", node.name()),
            TIMEOUT,
            &all,
            || revoked_on(node, &carol_key, reason),
        );
    }
    let listed = bob.list(&["--all"]);
    let carol_row = listed
        .iter()
        .find(|c| c["subject"] == carol_key.as_str())
        .unwrap_or_else(|| panic!("`cert list --all` on Bob's node does not list Carol: {listed:?}"));
    assert_eq!(carol_row["status"]["valid"], false, "{carol_row}");
    assert_eq!(carol_row["status"]["state"], "revoked", "{carol_row}");
    let names = bob.names(&[]);
    assert_eq!(
        names,
        ["Alice", "bob", "dave", "王芳"],
        "Bob's node lists these valid certificates"
    );
}
