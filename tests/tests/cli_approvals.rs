//! Approvals from the command line: `outpost approval ...` run by the real
//! binary, first on stopped homes (the CLI answers from the store itself),
//! then through running nodes (`POST /api/approvals`), where a request
//! submitted on one node is decided on two others.
//!
//! Bad inputs (an unknown template or request, a field that does not read,
//! a missing required field, a decision by the applicant, a template added
//! by a non-admin) fail with a clear message and exit code, and change
//! nothing.

use outpost_tests::cluster::{TIMEOUT, acme, certified, certified_in, member, wait_for_peers};
use outpost_tests::{Node, Sandbox, exit, wait_until, words};
use serde_json::Value;

/// Alice, admin of Acme; Bob, head of HQ/East; Carol, a member of HQ/East
/// whose store knows Bob's certificate.
fn acme_offline() -> (Sandbox, Node, Node, Node) {
    let sb = Sandbox::new();
    let alice = sb.node("alice");
    alice.init("Alice");
    alice.ok(words("org create --name Acme"));
    let bob = certified_in(&sb, &alice, "Bob", "dept-head", "HQ/East");
    let carol = member(&sb, &alice, "Carol");
    carol.ok(words("cert install Bob.cert"));
    (sb, alice, bob, carol)
}

fn text_of(v: &Value) -> &str {
    v.as_str().expect("a string")
}

#[test]
fn requests_and_templates_from_the_command_line() {
    let (sb, alice, _bob, carol) = acme_offline();

    let list = carol.ok(words("approval template list")).stdout;
    for needle in [
        "leave (built in)",
        "fields: from (date, required), to (date, required), reason (text)",
        "stage 1: head [dept-head]",
        "stage 2: hr [role:admin]",
        "seal (built in)",
        "stage 1: head [dept-head] and admin [role:admin]",
    ] {
        assert!(list.contains(needle), "{needle:?} in:\n{list}");
    }

    let made = carol.json([
        "approval",
        "submit",
        "leave",
        "--title",
        "Ski week",
        "--field",
        "from=2027-02-01",
        "--field",
        "to=2027-02-05",
        "--field",
        "reason=Family trip",
    ]);
    let id = text_of(&made["request"]).to_owned();
    assert_eq!(made["state"], "pending", "{made}");
    assert_eq!(made["waiting_for"][0]["members"][0]["name"], "Bob", "{made}");

    let status = carol.ok(["approval", "status", &id[..6]]).stdout;
    for needle in [
        &format!("Ski week  [leave · {id}]"),
        "pending at stage 1 of 2, waiting for head (Bob)",
        "applicant: Carol (member, HQ/East)",
        "  from: 2027-02-01",
        "stage 1: head [dept-head]: pending",
        "stage 2: hr [role:admin]: waiting",
        "Carol (member, HQ/East)  submitted  [record ",
    ] {
        assert!(status.contains(needle), "{needle:?} in:\n{status}");
    }
    let mine = carol.ok(words("approval list --mine")).stdout;
    assert!(
        mine.contains(&id[..8]) && mine.contains("pending    leave: Ski week  (Carol"),
        "{mine}"
    );
    carol
        .ok(words("approval list --inbox"))
        .stdout_has("no approval requests");

    // Refused, with the reason, and nothing written.
    carol.fails(
        ["approval", "approve", &id],
        exit::ERROR,
        "the applicant cannot decide their own request",
    );
    carol.fails(
        words("approval submit vacation --title X"),
        exit::ERROR,
        "no template \"vacation\": the templates are expense, leave, seal",
    );
    carol.fails(
        words("approval submit leave --title X --field from"),
        exit::ERROR,
        "cannot read the field \"from\": write NAME=VALUE",
    );
    carol.fails(
        words("approval submit leave --title X --field from=tomorrow --field to=2027-01-01"),
        exit::ERROR,
        "the field \"from\" must be a date such as 2026-12-01, not \"tomorrow\"",
    );
    carol.fails(
        words("approval submit leave --title X --field from=2027-01-01"),
        exit::ERROR,
        "the field \"to\" is required",
    );
    carol.fails(
        [
            "approval",
            "submit",
            "leave",
            "--title",
            " ",
            "--field",
            "from=2027-01-01",
            "--field",
            "to=2027-01-01",
        ],
        exit::ERROR,
        "the title is not valid",
    );
    carol.fails(
        words("approval status ffff"),
        exit::ERROR,
        "no approval request \"ffff\"",
    );
    carol.fails(words("approval approve ab"), exit::ERROR, "at least 4 hex digits");
    carol.fails(
        words("approval list --inbox --mine"),
        exit::USAGE,
        "cannot be used with",
    );
    let listed = carol.json(words("approval list"));
    assert_eq!(listed["requests"].as_array().map(Vec::len), Some(1), "{listed}");

    carol.ok(["approval", "withdraw", &id]).stdout_has("withdrew request");
    assert_eq!(carol.json(["approval", "status", &id])["state"], "withdrawn");
    carol.fails(["approval", "withdraw", &id], exit::ERROR, "it was withdrawn already");

    // Templates: admins only, from a JSON file; members by name.
    let file = sb.write(
        "travel.json",
        r#"{"name": "Travel", "fields": [{"name": "amount", "kind": "money", "required": true}],
            "stages": [[{"name": "head", "approvers": "dept-head"}],
                       [{"name": "finance", "approvers": ["Bob"]}, {"name": "hr", "approvers": "role:admin"}]],
            "creates_task": "Trips"}"#,
    );
    let file = file.to_str().expect("a UTF-8 path");
    carol.fails(
        ["approval", "template", "add", file],
        exit::ERROR,
        "only an admin may add approval templates",
    );
    let added = alice.ok(["approval", "template", "add", file]).stdout;
    assert!(
        added.contains("added template Travel") && added.contains("stage 2: finance [Bob] and hr [role:admin]"),
        "{added}"
    );
    let templates = alice.json(words("approval template list"));
    let travel = templates["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .find(|t| t["name"] == "Travel")
        .expect("listed")
        .clone();
    assert_eq!(travel["builtin"], false);
    assert_eq!(travel["creates_task"], "Trips");
    assert_eq!(
        travel["stages"][1][0]["approvers"][0].as_str().map(str::len),
        Some(64),
        "members are stored by key: {travel}"
    );
    let bad = sb.write(
        "bad.json",
        r#"{"name": "x", "stages": [[{"name": "a", "approvers": ["Nobody"]}]]}"#,
    );
    alice.fails(
        ["approval", "template", "add", bad.to_str().expect("a UTF-8 path")],
        exit::ERROR,
        "no member \"Nobody\"",
    );
    let empty = sb.write("empty.json", r#"{"name": "x", "stages": []}"#);
    alice.fails(
        ["approval", "template", "add", empty.to_str().expect("a UTF-8 path")],
        exit::ERROR,
        "every stage needs at least one step",
    );
    let junk = sb.write("junk.json", "stages: none");
    alice.fails(
        ["approval", "template", "add", junk.to_str().expect("a UTF-8 path")],
        exit::ERROR,
        "is not a template",
    );
}

#[test]
fn a_request_decided_on_two_other_nodes_from_the_command_line() {
    let (sb, admin) = acme();
    let bob = certified(&sb, &admin, "b", "dept-head");
    let carol = member(&sb, &admin, "c");
    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let c = carol.up(&[a.addr(), b.addr()]);
    let all = [&a, &b, &c];
    wait_for_peers(&b, &[&a, &c], &all);

    let submit =
        words("approval submit expense --title Taxi --field amount=42.50 --field currency=EUR --field purpose=Airport");
    let id = wait_until("c submits through its node", TIMEOUT, &all, || {
        let run = carol.cmd(submit.iter().chain(&["--json".to_owned()])).run();
        if run.code != 0 {
            return Err(run.to_string());
        }
        Ok(text_of(&run.json()["request"]).to_owned())
    });
    wait_until("b's inbox holds the request", TIMEOUT, &all, || {
        let inbox = bob.ok(words("approval list --inbox")).stdout;
        if inbox.contains(&id[..8]) && inbox.contains("you decide: head") {
            Ok(())
        } else {
            Err(inbox)
        }
    });
    bob.ok(["approval", "approve", &id, "--comment", "Fine"])
        .stdout_has("approved step head of request")
        .stdout_has("pending at stage 2 of 2, waiting for admin (Alice)");
    let done = wait_until("a approves the last step", TIMEOUT, &all, || {
        let run = admin.cmd(["approval", "approve", &id]).run();
        if run.code != 0 {
            return Err(run.to_string());
        }
        Ok(run.stdout)
    });
    assert!(
        done.contains("approved step admin of request") && done.contains("the request is approved"),
        "{done}"
    );
    wait_until("c shows the whole history", TIMEOUT, &all, || {
        let status = carol.ok(["approval", "status", &id]).stdout;
        let ok = status.starts_with("Taxi  [expense · ")
            && status.contains("\napproved\n")
            && status.contains("b (dept-head, HQ/East)  approved head: \"Fine\"")
            && status.contains("Alice (admin, the whole org)  approved admin");
        if ok { Ok(()) } else { Err(status) }
    });
}
