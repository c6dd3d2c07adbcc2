//! Approval workflows across real nodes: `outpost up` processes on
//! 127.0.0.1 talking through `POST /api/approvals`.
//!
//! - A two-stage expense request whose second stage has two parallel steps
//!   (an admin, and a named finance member): the department head approves,
//!   then, with the two second-stage approvers' nodes cut off from each
//!   other, one approves and the other rejects; once they meet, every node
//!   shows the request rejected, with byte-identical status.
//! - A leave request approved through both stages on different nodes makes
//!   a task on a project board, seen on every node; a withdrawn request
//!   takes no more decisions.
//! - When the last two parallel steps are approved on nodes apart, the
//!   node of the approver the causal order puts last makes the task once
//!   the decisions meet: one task, on every node.
//! - Members who are not approvers are refused by their own node, and
//!   decisions forged past that check (written with the node library) are
//!   not counted by any node.

use outpost_node::{Home, Local, Passphrase};
use outpost_tests::cluster::{TIMEOUT, acme, certified, certified_in, member, wait_for_peers};
use outpost_tests::{RunningNode, wait_until};
use outpost_workspace::approval::Op;
use outpost_workspace::record::RecordKind;
use serde_json::{Value, json};
use std::path::Path;

/// `POST /api/approvals` on `node`, which must succeed.
fn approvals(node: &RunningNode, req: Value) -> Value {
    node.post("/api/approvals", &req)
}

/// `POST /api/approvals` on `node`; errors are described.
fn try_approvals(node: &RunningNode, req: &Value) -> Result<Value, String> {
    let r = node.request("POST", "/api/approvals", Some(req), true)?;
    if r.status != 200 {
        return Err(format!("{}: status {}: {}", node.name(), r.status, r.body));
    }
    r.json()
}

/// The status of request `id` on `node`.
fn status(node: &RunningNode, id: &str) -> Result<Value, String> {
    try_approvals(node, &json!({"action": "status", "request": id}))
}

/// Waits until every node shows request `id` in `state` at `stage`.
fn wait_for_state(nodes: &[&RunningNode], id: &str, state: &str, stage: Value) {
    wait_until(
        &format!("{} show request {id} {state} at stage {stage}", names(nodes)),
        TIMEOUT,
        nodes,
        || {
            for n in nodes {
                let s = status(n, id)?;
                if s["state"] != state || s["stage"] != stage {
                    return Err(format!("{}: {} at stage {}", n.name(), s["state"], s["stage"]));
                }
            }
            Ok(())
        },
    );
}

fn names(nodes: &[&RunningNode]) -> String {
    nodes.iter().map(|n| n.name()).collect::<Vec<_>>().join(", ")
}

/// Waits until `node` can submit `req` (it knows the certificates and
/// templates the request needs) and returns the request's id.
fn submit(node: &RunningNode, req: &Value, all: &[&RunningNode]) -> String {
    wait_until(&format!("{} can submit {req}", node.name()), TIMEOUT, all, || {
        let v = try_approvals(node, req)?;
        Ok(v["request"].as_str().expect("the request's id").to_owned())
    })
}

/// One history entry of `status` per record: (action, signer name,
/// counted, ignored code).
fn history(status: &Value) -> Vec<(String, String, bool, String)> {
    status["history"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["signer"]["name"].as_str().unwrap_or_default().to_owned(),
                e["counted"] == true,
                e["ignored"]["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn entry(action: &str, who: &str, counted: bool, code: &str) -> (String, String, bool, String) {
    (action.to_owned(), who.to_owned(), counted, code.to_owned())
}

/// Writes `op` into request `id` in the store of the stopped node `home`,
/// sealed and signed by its member as a writer of the request's space but
/// without the approval checks: what a tampered client would write.
fn forge(home: &Path, id: &str, op: &Op) {
    let pass = Passphrase::from_sources(None).expect("no passphrase in tests");
    let mut local = Local::open(Home::at(home)).expect("the store opens");
    let key = {
        let member = local.member_keys(&pass).expect("the member key opens");
        let ring = local.keyring(&member, &pass).expect("the keyring opens");
        let replica = local.replica().expect("the replica builds");
        local
            .record_logs(&replica, &ring, RecordKind::Approval)
            .into_iter()
            .find(|k| k.1.to_hex() == id)
            .expect("this member holds the request")
    };
    local
        .write_record(key, RecordKind::Approval, op, &pass, outpost_node::now())
        .expect("the validity rule lets a writer of the space write");
}

fn decide(stage: u16, step: u16) -> Op {
    Op::Decide {
        stage,
        step,
        approve: true,
        comment: "forged".into(),
    }
}

#[test]
fn a_parallel_step_rejected_apart_rejects_the_request_everywhere() {
    let (sb, admin) = acme();
    let bob = certified(&sb, &admin, "b", "dept-head");
    let carol = member(&sb, &admin, "c");
    let fay = certified_in(&sb, &admin, "f", "member", "HQ/Finance");
    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let c = carol.up(&[a.addr(), b.addr()]);
    let f = fay.up(&[a.addr(), b.addr(), c.addr()]);
    let all = [&a, &b, &c, &f];
    wait_for_peers(&b, &[&a, &c, &f], &all);

    // Alice adds the template: the head, then an admin and Fay in parallel.
    let added = approvals(
        &a,
        json!({"action": "add_template", "template": {
            "name": "travel",
            "fields": [{"name": "amount", "kind": "money", "required": true}, {"name": "purpose"}],
            "stages": [
                [{"name": "head", "approvers": "dept-head"}],
                [{"name": "admin", "approvers": "role:admin"}, {"name": "finance", "approvers": ["f"]}]
            ]
        }}),
    );
    assert_eq!(added["stages"][1][1]["approvers_text"], "f", "{added}");

    let id = submit(
        &c,
        &json!({"action": "submit", "template": "travel", "title": "Client visit",
                "fields": {"amount": "1200.50", "purpose": "Train to Lyon"}}),
        &all,
    );
    let shown = status(&c, &id).expect("the applicant sees the request");
    assert_eq!(shown["waiting_for"][0]["step"], "head", "{shown}");
    assert_eq!(shown["waiting_for"][0]["members"][0]["name"], "b", "{shown}");
    wait_for_state(&all, &id, "pending", json!(1));

    // Fay may not decide ahead of the head, nor the head's step.
    let early = try_approvals(&f, &json!({"action": "approve", "request": id, "step": "finance"}))
        .expect_err("stage 2 is not reached");
    assert!(early.contains("stage 2, which is not reached yet"), "{early}");
    let wrong =
        try_approvals(&f, &json!({"action": "approve", "request": id, "step": "head"})).expect_err("Fay is no head");
    assert!(
        wrong.contains("decided by a department head of HQ/East") && wrong.contains("you are member of HQ/Finance"),
        "{wrong}"
    );

    let approved = approvals(&b, json!({"action": "approve", "request": id, "comment": "fine"}));
    assert_eq!(
        (approved["state"].clone(), approved["stage"].clone()),
        (json!("pending"), json!(2))
    );
    wait_for_state(&all, &id, "pending", json!(2));

    // Alice's node is cut off; she approves there while Fay rejects on hers.
    let _ = a.terminate();
    let a = admin.up(&[]);
    let on_a = approvals(&a, json!({"action": "approve", "request": id, "step": "admin"}));
    assert_eq!(on_a["state"], "pending", "{on_a}");
    assert_eq!(on_a["stages"][1]["steps"][0]["state"], "approved", "{on_a}");
    let on_f = approvals(&f, json!({"action": "reject", "request": id, "comment": "over budget"}));
    assert_eq!(on_f["state"], "rejected", "{on_f}");
    assert_eq!(
        on_f["stages"][1]["steps"][0]["state"], "closed",
        "Fay decided without having seen Alice's approval: {on_f}"
    );
    wait_for_state(&[&b, &c, &f], &id, "rejected", Value::Null);
    let apart = status(&a, &id).expect("a shows the request");
    assert_eq!(apart["state"], "pending", "a has not seen the rejection: {apart}");

    // They meet: rejected everywhere, the same status byte for byte.
    let _ = a.terminate();
    let a = admin.up(&[b.addr(), c.addr(), f.addr()]);
    let all = [&a, &b, &c, &f];
    let statuses = wait_until("every node shows the same rejected request", TIMEOUT, &all, || {
        let statuses: Vec<Value> = all.iter().map(|n| status(n, &id)).collect::<Result<_, _>>()?;
        let bytes: Vec<Vec<u8>> = statuses.iter().map(|s| serde_json::to_vec(s).expect("JSON")).collect();
        if statuses[0]["state"] != "rejected" || bytes.iter().any(|b| *b != bytes[0]) {
            return Err(format!(
                "states: {:?}",
                statuses.iter().map(|s| &s["state"]).collect::<Vec<_>>()
            ));
        }
        Ok(statuses)
    });
    let s = &statuses[0];
    let mut got = history(s);
    got.sort();
    let mut want = vec![
        entry("submit", "c", true, ""),
        entry("approve", "b", true, ""),
        entry("approve", "Alice", true, ""),
        entry("reject", "f", true, ""),
    ];
    want.sort();
    assert_eq!(got, want, "{s}");
    let steps: Vec<&Value> = s["stages"][1]["steps"].as_array().expect("steps").iter().collect();
    assert_eq!(
        (&steps[0]["state"], &steps[1]["state"]),
        (&json!("approved"), &json!("rejected"))
    );
    assert!(
        s["history"]
            .as_array()
            .expect("history")
            .iter()
            .all(|e| e["counted"] == true && e["signature"].is_string())
    );
    assert_eq!(s["waiting_for"], json!([]));
    let late = try_approvals(&b, &json!({"action": "approve", "request": id})).expect_err("decided");
    assert!(late.contains("it was rejected already"), "{late}");
}

#[test]
fn a_leave_approved_on_two_nodes_makes_a_task_and_a_withdrawn_one_stops() {
    let (sb, admin) = acme();
    let bob = certified(&sb, &admin, "b", "dept-head");
    let carol = member(&sb, &admin, "c");
    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let c = carol.up(&[a.addr(), b.addr()]);
    let all = [&a, &b, &c];
    wait_for_peers(&b, &[&a, &c], &all);

    // Alice's project for HR, and the leave template replaced by hers.
    let made = a.post(
        "/api/tasks",
        &json!({"action": "create_project", "name": "Leave desk", "members": ["everyone"]}),
    );
    let project = made["project"].as_str().expect("the project").to_owned();
    approvals(
        &a,
        json!({"action": "add_template", "template": {
            "name": "leave",
            "fields": [{"name": "from", "kind": "date", "required": true},
                       {"name": "to", "kind": "date", "required": true}, {"name": "reason"}],
            "stages": [[{"name": "head", "approvers": "dept-head"}], [{"name": "hr", "approvers": "role:admin"}]],
            "creates_task": "Leave desk"
        }}),
    );
    wait_until("c has Alice's leave template", TIMEOUT, &all, || {
        let t = try_approvals(&c, &json!({"action": "templates"}))?;
        let leave = t["templates"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["name"] == "leave")
            .cloned()
            .unwrap_or_default();
        (leave["creates_task"] == "Leave desk" && leave["builtin"] == false)
            .then_some(())
            .ok_or_else(|| format!("templates: {t}"))
    });

    let id = submit(
        &c,
        &json!({"action": "submit", "template": "Leave", "title": "Ski week",
                "fields": {"From": "2027-02-01", "to": "2027-02-05", "reason": "Family"}}),
        &all,
    );
    wait_for_state(&all, &id, "pending", json!(1));
    let inbox = approvals(&b, json!({"action": "list", "inbox": true}));
    assert_eq!(inbox["requests"][0]["can_decide"], json!(["head"]), "{inbox}");
    assert_eq!(
        approvals(&a, json!({"action": "list", "inbox": true}))["requests"],
        json!([])
    );
    approvals(&b, json!({"action": "approve", "request": &id[..6]}));
    wait_for_state(&all, &id, "pending", json!(2));
    let done = approvals(&a, json!({"action": "approve", "request": id, "comment": "enjoy"}));
    assert_eq!(done["state"], "approved", "{done}");
    assert_eq!(done["task_created"], true, "{done}");
    let task = done["task"]["task"].as_str().expect("the task").to_owned();
    assert_eq!(done["task"]["project"], project);

    // The task is on the board on every node, assigned to Carol.
    let carol_key = done["applicant"]["member"].clone();
    wait_until(
        "every node shows the task and the approved request",
        TIMEOUT,
        &all,
        || {
            for n in all {
                let s = status(n, &id)?;
                if s["state"] != "approved" || s["task"]["task"] != task.as_str() {
                    return Err(format!("{}: {} task {}", n.name(), s["state"], s["task"]));
                }
                let shown = n.request(
                    "POST",
                    "/api/tasks",
                    Some(&json!({"action": "show", "task": task})),
                    true,
                )?;
                let shown = shown.json()?;
                let t = &shown["task"];
                if t["title"] != "leave: Ski week" || t["assignees"] != json!([carol_key]) {
                    return Err(format!("{}: {shown}", n.name()));
                }
                let description = t["description"].as_str().unwrap_or_default();
                if !description.contains("from: 2027-02-01") || !description.contains("reason: Family") {
                    return Err(format!("{}: description {description:?}", n.name()));
                }
            }
            Ok(())
        },
    );
    let late = try_approvals(&c, &json!({"action": "withdraw", "request": id})).expect_err("approved already");
    assert!(late.contains("it was approved already"), "{late}");

    // A second request, withdrawn before anyone decides.
    let second = submit(
        &c,
        &json!({"action": "submit", "template": "leave", "title": "Dentist",
                "fields": {"from": "2027-03-01", "to": "2027-03-01"}}),
        &all,
    );
    let withdrawn = approvals(&c, json!({"action": "withdraw", "request": second}));
    assert_eq!(withdrawn["state"], "withdrawn", "{withdrawn}");
    wait_for_state(&all, &second, "withdrawn", Value::Null);
    let refused =
        try_approvals(&b, &json!({"action": "approve", "request": second, "step": "head"})).expect_err("withdrawn");
    assert!(refused.contains("it was withdrawn already"), "{refused}");
    let mine = approvals(&c, json!({"action": "list", "mine": true}));
    let states: Vec<&Value> = mine["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| &r["state"])
        .collect();
    assert_eq!(states, [&json!("withdrawn"), &json!("approved")], "{mine}");
}

#[test]
fn non_approvers_are_refused_and_forged_decisions_do_not_count() {
    let (sb, admin) = acme();
    let bob = certified(&sb, &admin, "b", "dept-head");
    let carol = member(&sb, &admin, "c");
    let dave = certified_in(&sb, &admin, "d", "member", "HQ/West");
    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let c = carol.up(&[a.addr(), b.addr()]);
    let d = dave.up(&[a.addr(), b.addr(), c.addr()]);
    let all = [&a, &b, &c, &d];
    wait_for_peers(&b, &[&a, &c, &d], &all);

    let id = submit(
        &c,
        &json!({"action": "submit", "template": "leave", "title": "Ski week",
                "fields": {"from": "2027-02-01", "to": "2027-02-05"}}),
        &all,
    );
    wait_for_state(&[&a, &b, &c], &id, "pending", json!(1));

    // Refused locally: Dave cannot even read it; Alice is no head and
    // stage 2 is not reached; Carol cannot decide her own.
    let dave_says = try_approvals(&d, &json!({"action": "approve", "request": id})).expect_err("Dave");
    assert!(
        dave_says.contains("no approval request") && dave_says.contains("404"),
        "{dave_says}"
    );
    let alice_says =
        try_approvals(&a, &json!({"action": "approve", "request": id, "step": "head"})).expect_err("Alice");
    assert!(alice_says.contains("you are admin of the whole org"), "{alice_says}");
    let ahead = try_approvals(&a, &json!({"action": "approve", "request": id, "step": "HR"})).expect_err("Alice ahead");
    assert!(ahead.contains("not reached yet"), "{ahead}");
    let own = try_approvals(&c, &json!({"action": "approve", "request": id})).expect_err("Carol");
    assert!(own.contains("the applicant cannot decide their own request"), "{own}");

    // Forged past those checks, with the node library on stopped nodes.
    let _ = a.terminate();
    forge(admin.home(), &id, &decide(0, 0));
    forge(admin.home(), &id, &decide(1, 0));
    let _ = c.terminate();
    forge(carol.home(), &id, &decide(0, 0));
    let a = admin.up(&[b.addr(), d.addr()]);
    let c = carol.up(&[a.addr(), b.addr()]);
    let all = [&a, &b, &c, &d];
    let expected = |s: &Value| {
        let mut h = history(s);
        h.sort();
        h
    };
    let mut want = vec![
        entry("submit", "c", true, ""),
        entry("approve", "Alice", false, "not_eligible"),
        entry("approve", "Alice", false, "stage_not_active"),
        entry("approve", "c", false, "applicant"),
    ];
    want.sort();
    wait_until(
        "every reader shows the forged decisions, not counted",
        TIMEOUT,
        &all,
        || {
            for n in [&a, &b, &c] {
                let s = status(n, &id)?;
                if expected(&s) != want || s["state"] != "pending" || s["stage"] != 1 {
                    return Err(format!("{}: {:?}", n.name(), history(&s)));
                }
            }
            Ok(())
        },
    );

    // The head's approval opens stage 2; the forged one there still does
    // not count.
    approvals(&b, json!({"action": "approve", "request": id}));
    wait_for_state(&[&a, &b, &c], &id, "pending", json!(2));
    let s = status(&a, &id).expect("status");
    assert_eq!(s["stages"][1]["steps"][0]["state"], "pending", "{s}");
    assert_eq!(s["waiting_for"][0]["members"][0]["name"], "Alice", "{s}");
    assert!(status(&d, &id).is_err(), "Dave reads nothing");
}

#[test]
fn the_last_parallel_approvals_made_apart_make_one_task_once_they_meet() {
    let (sb, admin) = acme();
    let bob = certified(&sb, &admin, "b", "dept-head");
    let carol = member(&sb, &admin, "c");
    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let c = carol.up(&[a.addr(), b.addr()]);
    let all = [&a, &b, &c];
    wait_for_peers(&b, &[&a, &c], &all);
    a.post(
        "/api/tasks",
        &json!({"action": "create_project", "name": "Seal desk", "members": ["everyone"]}),
    );
    approvals(
        &a,
        json!({"action": "add_template", "template": {
            "name": "seal",
            "fields": [{"name": "document", "required": true}],
            "stages": [[{"name": "head", "approvers": "dept-head"}, {"name": "admin", "approvers": "role:admin"}]],
            "creates_task": "Seal desk"
        }}),
    );
    let req = json!({"action": "submit", "template": "seal", "title": "Lease", "fields": {"document": "Office lease"}});
    let id = wait_until("c submits with Alice's seal template", TIMEOUT, &all, || {
        let t = try_approvals(&c, &json!({"action": "templates"}))?;
        if !t["templates"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["creates_task"] == "Seal desk")
        {
            return Err(format!("templates: {t}"));
        }
        Ok(try_approvals(&c, &req)?["request"].as_str().expect("the id").to_owned())
    });
    wait_for_state(&all, &id, "pending", json!(1));

    // Alice approves cut off; Bob approves meanwhile: neither completes it.
    let _ = a.terminate();
    let a = admin.up(&[]);
    let on_a = approvals(&a, json!({"action": "approve", "request": id, "step": "admin"}));
    let on_b = approvals(&b, json!({"action": "approve", "request": id, "step": "head"}));
    for v in [&on_a, &on_b] {
        assert_eq!(v["state"], "pending", "{v}");
        assert!(v.get("task_created").is_none() && v["task"].is_null(), "{v}");
    }

    let _ = a.terminate();
    let a = admin.up(&[b.addr(), c.addr()]);
    let all = [&a, &b, &c];
    let task = wait_until(
        "every node shows the approved request and its task",
        TIMEOUT,
        &all,
        || {
            let statuses: Vec<Value> = all.iter().map(|n| status(n, &id)).collect::<Result<_, _>>()?;
            let task = statuses[0]["task"]["task"].as_str().unwrap_or_default().to_owned();
            if task.is_empty() || statuses.iter().any(|s| s["state"] != "approved" || *s != statuses[0]) {
                return Err(format!(
                    "{:?}",
                    statuses.iter().map(|s| (&s["state"], &s["task"])).collect::<Vec<_>>()
                ));
            }
            Ok(task)
        },
    );
    wait_until("every board holds exactly that one task", TIMEOUT, &all, || {
        for n in all {
            let board = n.request(
                "POST",
                "/api/tasks",
                Some(&json!({"action": "board", "project": "Seal desk"})),
                true,
            )?;
            let board = board.json()?;
            let cards: Vec<&Value> = board["board"]["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["cards"].as_array().into_iter().flatten())
                .collect();
            if cards.len() != 1 || cards[0]["id"] != task.as_str() || cards[0]["title"] != "seal: Lease" {
                return Err(format!("{}: {cards:?}", n.name()));
            }
        }
        Ok(())
    });
}
