//! The web page's approvals, announcements and meetings screens in a real
//! browser: Hana, head of HQ/East, and Mei, a member of HQ/East, on two
//! `outpost up` processes on 127.0.0.1 (with admin Alice's node, which
//! holds the org's templates, as a third), each with a headless Chromium
//! logged in to their own node, driven by `tests/e2e/work.mjs`
//! (playwright-core).
//!
//! Alice adds a one-stage leave template (`leave-1`, decided by the
//! department head) with `outpost approval template add`. In the
//! browsers, Mei submits a leave request and Hana approves it; Hana
//! publishes an announcement to HQ/East asking for acknowledgement and Mei
//! acknowledges it; Hana creates a meeting inviting Mei, who accepts it,
//! sees its reminder (and a task's) and opens its minutes; Mei withdraws a
//! second request. This test then checks through both nodes' APIs that
//! the request is approved with Hana's signed decision in its history (the
//! same status on both) and the second one withdrawn, that Hana's read
//! tracking has Mei's acknowledgement, and that both nodes hold Mei's
//! acceptance and the minutes. Screenshots (desktop and phone width) go to
//! `target/web-screenshots/`.
//!
//! Needs `/usr/bin/chromium` and `tests/e2e/node_modules/playwright-core`:
//! `scripts/test` installs both. Without them this test fails.

use outpost_tests::browser::{require_browser, run_script, screenshots, side};
use outpost_tests::cluster::{TIMEOUT, acme, wait_for_peers};
use outpost_tests::{Node, RunningNode, Sandbox, wait_until};
use serde_json::{Value, json};
use std::time::Duration;

/// How long the whole browser script may take (it waits for a reminder,
/// which the nodes' schedulers send every 15 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);
/// The template the browser submits: one stage, the department head.
const TEMPLATE: &str = "leave-1";
/// Hana's and Mei's department.
const DEPT: &str = "HQ/East";

/// A new home `home` for `name`, certified by `admin` as `role` of [`DEPT`].
fn certified(sb: &Sandbox, admin: &Node, home: &str, name: &str, role: &str) -> Node {
    let node = sb.node(home);
    node.init(name);
    let cert = admin.issue(
        &node.request(),
        ["--role", role, "--dept", DEPT],
        &format!("{home}.cert"),
    );
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

/// `POST route` on `node` with `body`; errors are described.
fn call(node: &RunningNode, route: &str, body: &Value) -> Result<Value, String> {
    let r = node.request("POST", route, Some(body), true)?;
    if r.status != 200 {
        return Err(format!(
            "{}: {route} {body}: status {}: {}",
            node.name(),
            r.status,
            r.body
        ));
    }
    r.json()
}

/// The status of approval request `id` on `node`, once it is in `state`.
fn status_in(node: &RunningNode, id: &str, state: &str) -> Result<Value, String> {
    let s = call(node, "/api/approvals", &json!({"action": "status", "request": id}))?;
    if s["state"] == state {
        Ok(s)
    } else {
        Err(format!("{}: request {id} is {}", node.name(), s["state"]))
    }
}

/// Mei submits a leave request in her browser and Hana approves it in
/// hers; Hana's announcement is acknowledged and her meeting accepted in
/// Mei's; both nodes agree on all of it.
#[test]
fn a_request_is_approved_an_announcement_acknowledged_and_a_meeting_accepted_in_the_browsers() {
    require_browser();

    let (sb, admin) = acme();
    let hana = certified(&sb, &admin, "h", "Hana", "dept-head");
    let mei = certified(&sb, &admin, "m", "Mei", "member");
    let template = sb.write(
        "leave-1.json",
        &json!({
            "name": TEMPLATE,
            "fields": [
                {"name": "from", "kind": "date", "required": true},
                {"name": "to", "kind": "date", "required": true},
                {"name": "reason"}
            ],
            "stages": [[{"name": "head", "approvers": "dept-head"}]]
        })
        .to_string(),
    );
    admin
        .ok([
            "approval",
            "template",
            "add",
            template.to_str().expect("the sandbox path is UTF-8"),
        ])
        .stdout_has("added template leave-1");
    let members = json!({"hana": key_of(&admin, "Hana"), "mei": key_of(&admin, "Mei")});
    let hana_key = members["hana"].as_str().expect("a key").to_owned();
    let mei_key = members["mei"].as_str().expect("a key").to_owned();

    let a = admin.up(&[]);
    let h = hana.up(&[a.addr()]);
    let m = mei.up(&[a.addr(), h.addr()]);
    let all = [&a, &h, &m];
    wait_for_peers(&h, &[&a, &m], &all);
    wait_for_peers(&m, &[&a, &h], &all);
    // Mei's node knows the template and who decides it before her browser
    // looks; Hana's knows Mei.
    wait_until("Mei's node knows the template and Hana", TIMEOUT, &all, || {
        let t = call(&m, "/api/approvals", &json!({"action": "templates"}))?;
        let has = t["templates"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|x| x["name"] == TEMPLATE));
        let names = call(&m, "/api/certs/list", &json!({"all": false}))?;
        let knows = names["json"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["subject"] == hana_key.as_str()));
        (has && knows)
            .then_some(())
            .ok_or_else(|| format!("templates {t}; certificates {names}"))
    });
    wait_until("Hana's node knows Mei", TIMEOUT, &all, || {
        let names = call(&h, "/api/certs/list", &json!({"all": false}))?;
        names["json"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["subject"] == mei_key.as_str()))
            .then_some(())
            .ok_or_else(|| format!("certificates {names}"))
    });

    let shots = screenshots();
    let config = json!({
        "h": side(&h),
        "m": side(&m),
        "members": members,
        "template": TEMPLATE,
        "screenshots": shots,
    });
    let run = run_script("tests/e2e/work.mjs", &config, sb.dir(), SCRIPT_TIMEOUT, || {});
    println!(
        "node tests/e2e/work.mjs: {} in {:.1?}\n--- stdout\n{}--- stderr\n{}---",
        run.status, run.took, run.stdout, run.stderr
    );
    assert!(
        run.success,
        "the browser script failed ({}); screenshots in {}\n--- stdout\n{}--- stderr\n{}---\n{}\n{}\n{}",
        run.status,
        shots.display(),
        run.stdout,
        run.stderr,
        a.logs(),
        h.logs(),
        m.logs()
    );
    let report = run.report();
    assert_eq!(report["ok"], true, "{report}");
    let text = |k: &str| {
        report[k]
            .as_str()
            .unwrap_or_else(|| panic!("the report names no {k}: {report}"))
            .to_owned()
    };

    // The request: approved on both nodes, the same status on both, with
    // Hana's decision signed under her department head certificate.
    let request = text("request");
    let on_h = wait_until("Hana's node shows the request approved", TIMEOUT, &all, || {
        status_in(&h, &request, "approved")
    });
    let on_m = wait_until("Mei's node shows the request approved", TIMEOUT, &all, || {
        status_in(&m, &request, "approved")
    });
    assert_eq!(on_h, on_m, "the two nodes show the request differently");
    assert_eq!(on_m["template"]["name"], TEMPLATE, "{on_m}");
    assert_eq!(on_m["applicant"]["member"], mei_key.as_str(), "{on_m}");
    assert_eq!(
        (&on_m["fields"]["from"], &on_m["fields"]["to"]),
        (&json!("2031-02-03"), &json!("2031-02-07")),
        "{on_m}"
    );
    let history = on_m["history"].as_array().expect("a history");
    let actions: Vec<(&str, &str, bool)> = history
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default(),
                e["signer"]["name"].as_str().unwrap_or_default(),
                e["counted"] == true,
            )
        })
        .collect();
    assert_eq!(actions, [("submit", "Mei", true), ("approve", "Hana", true)], "{on_m}");
    let decision = &history[1];
    assert_eq!(decision["signer"]["member"], hana_key.as_str(), "{decision}");
    assert_eq!(decision["signer"]["role"], "dept-head", "{decision}");
    assert_eq!(decision["signer"]["dept"], DEPT, "{decision}");
    assert_eq!(decision["step"], "head", "{decision}");
    assert_eq!(decision["comment"], report["comment"], "{decision}");
    assert_eq!(decision["record"], report["decision"]["record"], "{decision}");
    assert_eq!(decision["signer"]["cert"], report["decision"]["cert"], "{decision}");
    assert!(
        decision["signature"].as_str().is_some_and(|s| s.len() == 128),
        "the decision carries no signature: {decision}"
    );

    // The request Mei withdrew in her browser: withdrawn on both nodes.
    let withdrawn = text("withdrawn");
    for node in [&h, &m] {
        let s = wait_until(
            &format!("{} shows the second request withdrawn", node.name()),
            TIMEOUT,
            &all,
            || status_in(node, &withdrawn, "withdrawn"),
        );
        assert_eq!(s["template"]["name"], "leave", "{s}");
    }

    // The announcement: Hana's read tracking has Mei's acknowledgement.
    let announcement = text("announcement");
    let reads = wait_until("Hana's node has Mei's acknowledgement", TIMEOUT, &all, || {
        let r = call(
            &h,
            "/api/announcements",
            &json!({"action": "reads", "announcement": announcement}),
        )?;
        let mei_row = r["departments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["dept"] == DEPT)
            .flat_map(|d| d["people"].as_array().cloned().unwrap_or_default())
            .find(|p| p["member"] == mei_key.as_str());
        match mei_row {
            Some(p) if p["status"] == "acknowledged" => Ok(r),
            other => Err(format!("Mei's row is {other:?} in {r}")),
        }
    });
    assert_eq!(reads["ack_required"], true, "{reads}");
    assert_eq!(reads["audience"], json!([format!("dept:{DEPT}")]), "{reads}");
    assert_eq!(
        (&reads["total"], &reads["acknowledged"]),
        (&json!(1), &json!(1)),
        "{reads}"
    );
    let shown = call(
        &m,
        "/api/announcements",
        &json!({"action": "show", "announcement": announcement, "peek": true}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (&shown["read"], &shown["acknowledged"]),
        (&json!(true), &json!(true)),
        "{shown}"
    );

    // The meeting: both nodes hold Mei's acceptance and the minutes.
    let meeting = text("meeting");
    let minutes = text("minutes");
    for node in [&h, &m] {
        let shown = wait_until(
            &format!("{} holds Mei's acceptance and the minutes", node.name()),
            TIMEOUT,
            &all,
            || {
                let s = call(node, "/api/meetings", &json!({"action": "show", "meeting": meeting}))?;
                let mei_answer = s["answers"]["people"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["member"] == mei_key.as_str())
                    .map(|p| p["answer"].clone());
                (mei_answer == Some(json!("accept")) && s["minutes"] == minutes.as_str())
                    .then_some(s.clone())
                    .ok_or_else(|| format!("{}: {s}", node.name()))
            },
        );
        assert_eq!(shown["organizer"]["member"], hana_key.as_str(), "{shown}");
        let doc = wait_until(
            &format!("{} holds the minutes document", node.name()),
            TIMEOUT,
            &all,
            || node.try_get(&format!("/api/docs/{minutes}")),
        );
        assert_eq!(
            doc["title"],
            format!("Minutes: {}", shown["title"].as_str().unwrap_or_default()),
            "{doc}"
        );
    }
    let mine =
        call(&m, "/api/meetings", &json!({"action": "show", "meeting": meeting})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mine["my_answer"], "accept", "{mine}");
}
