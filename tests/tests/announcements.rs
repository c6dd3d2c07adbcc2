//! Announcements across real nodes: `outpost up` processes on 127.0.0.1
//! talking through `POST /api/announcements`.
//!
//! Admin Alice publishes to everyone, department head Hank to his
//! department; a member's attempt is refused by her own node, and a
//! Publish forged into her store past that check (signed by her, valid
//! under the validity rule) is rejected by the fold on every node, hers
//! included. Read tracking lists exactly the members who read, by
//! department; an acknowledgement is a signed record the publisher sees.

use outpost_node::announce::SCOPE_NAME;
use outpost_node::{Home, Local, Passphrase};
use outpost_tests::cluster::{TIMEOUT, acme, certified_in, wait_for_peers};
use outpost_tests::{RunningNode, wait_until};
use outpost_workspace::announce::{Entry, Publish};
use outpost_workspace::record::RecordKind;
use serde_json::{Value, json};

/// `POST /api/announcements` on `node`; errors are described.
fn try_announce(node: &RunningNode, req: &Value) -> Result<Value, String> {
    let r = node.request("POST", "/api/announcements", Some(req), true)?;
    if r.status != 200 {
        return Err(format!("{} status {}: {}", node.name(), r.status, r.body));
    }
    r.json()
}

/// `POST /api/announcements` on `node`, which must succeed.
fn announce(node: &RunningNode, req: Value) -> Value {
    node.post("/api/announcements", &req)
}

/// The listing on `node` (`all`: rejected ones too).
fn listed(node: &RunningNode, all: bool) -> Result<Vec<Value>, String> {
    let v = try_announce(node, &json!({"action": "list", "all": all}))?;
    Ok(v["announcements"].as_array().cloned().unwrap_or_default())
}

/// The row of announcement `id` on `node`, if listed.
fn row(node: &RunningNode, id: &str, all: bool) -> Result<Value, String> {
    listed(node, all)?
        .into_iter()
        .find(|a| a["id"] == id)
        .ok_or_else(|| format!("{} does not list {id}", node.name()))
}

/// Every person in a `reads` answer: (department, name, status).
fn tracked(reads: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for d in reads["departments"].as_array().into_iter().flatten() {
        for p in d["people"].as_array().into_iter().flatten() {
            out.push((
                d["dept"].as_str().unwrap_or_default().to_owned(),
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["status"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    out
}

fn triple(dept: &str, name: &str, status: &str) -> (String, String, String) {
    (dept.to_owned(), name.to_owned(), status.to_owned())
}

#[test]
fn only_admins_and_heads_publish_and_read_tracking_lists_exactly_the_readers() {
    let (sb, admin) = acme();
    let hank = certified_in(&sb, &admin, "h", "dept-head", "HQ/East");
    let bob = certified_in(&sb, &admin, "b", "member", "HQ/East");
    let dave = certified_in(&sb, &admin, "d", "member", "HQ/West");
    let a = admin.up(&[]);
    let h = hank.up(&[a.addr()]);
    let b = bob.up(&[a.addr(), h.addr()]);
    let d = dave.up(&[a.addr(), h.addr(), b.addr()]);
    let all = [&a, &h, &b, &d];
    wait_for_peers(&d, &[&a, &h, &b], &all);

    // Hank addresses his department; not another one.
    let east = announce(
        &h,
        json!({"action": "publish", "title": "East all-hands", "body": "Friday at **10**.",
               "audience": ["dept:HQ/East"], "ack_required": true}),
    );
    assert_eq!(east["status"], "published", "{east}");
    let east = east["id"].as_str().expect("an id").to_owned();
    let refused = try_announce(
        &h,
        &json!({"action": "publish", "title": "West", "body": "x", "audience": ["dept:HQ/West"]}),
    )
    .expect_err("outside his department");
    assert!(
        refused.contains("HQ/West") && refused.contains("status 400"),
        "{refused}"
    );

    // Alice addresses everyone, pinned, with a file.
    let file = sb.write("plan.pdf", "%PDF-1.4 the floor plan");
    let everyone = announce(
        &a,
        json!({"action": "publish", "title": "New office", "body": "We move in **May**.",
               "pinned_until": 4_000_000_000u64, "attachments": [{"path": file}]}),
    );
    assert_eq!(everyone["audience"], json!(["everyone"]), "{everyone}");
    let everyone = everyone["id"].as_str().expect("an id").to_owned();

    // Bob, a member, is refused by his own node, which stores nothing.
    let refused = try_announce(
        &b,
        &json!({"action": "publish", "title": "Party", "body": "Mine", "audience": ["everyone"]}),
    )
    .expect_err("members do not publish");
    assert!(
        refused.contains("only admins and department heads may publish announcements"),
        "{refused}"
    );
    let party = listed(&b, true).expect("lists");
    assert!(
        !party.iter().any(|a| a["title"] == "Party"),
        "nothing stored: {party:?}"
    );

    // Each sees what is addressed to them; Dave not Hank's.
    wait_until("b lists both announcements, pinned first", TIMEOUT, &all, || {
        let ids: Vec<Value> = listed(&b, false)?.iter().map(|a| a["id"].clone()).collect();
        (ids == [json!(everyone), json!(east)])
            .then_some(())
            .ok_or_else(|| format!("b lists {ids:?}"))
    });
    wait_until("d lists Alice's announcement", TIMEOUT, &all, || {
        row(&d, &everyone, false).map(|_| ())
    });
    assert!(row(&d, &east, true).is_err(), "Dave is not in Hank's audience");

    // Bob reads and acknowledges Hank's; reading twice writes one mark.
    let shown = announce(&b, json!({"action": "show", "announcement": &east[..8]}));
    assert_eq!(shown["marked_read"], true, "{shown}");
    assert!(
        shown["body_html"]
            .as_str()
            .is_some_and(|h| h.contains("<strong>10</strong>")),
        "{shown}"
    );
    let again = announce(&b, json!({"action": "show", "announcement": east}));
    assert_eq!(again["marked_read"], false, "{again}");
    let ack = announce(&b, json!({"action": "ack", "announcement": east}));
    assert_eq!(
        (ack["acknowledged"].clone(), ack["already"].clone()),
        (json!(true), json!(false))
    );
    let ack_record = ack["record"].as_str().expect("the signed record").to_owned();
    // Dave reads Alice's and saves its file, fetched from a peer.
    let shown = announce(&d, json!({"action": "show", "announcement": everyone}));
    assert_eq!(shown["files"][0]["name"], "plan.pdf", "{shown}");
    let out = sb.path("saved.pdf");
    announce(
        &d,
        json!({"action": "save_file", "announcement": everyone, "out": out.to_string_lossy()}),
    );
    assert_eq!(sb.read("saved.pdf"), "%PDF-1.4 the floor plan");

    // Hank's tracking: Bob read and acknowledged, with the signed record.
    wait_until("h sees Bob's acknowledgement", TIMEOUT, &all, || {
        let reads = try_announce(&h, &json!({"action": "reads", "announcement": east}))?;
        let people = tracked(&reads);
        if people != [triple("HQ/East", "b", "acknowledged")] || reads["read"] != 1 || reads["acknowledged"] != 1 {
            return Err(format!("reads: {reads}"));
        }
        let bob = &reads["departments"][0]["people"][0];
        (bob["ack_record"] == ack_record.as_str() && bob["ack_cert"].is_string())
            .then_some(())
            .ok_or_else(|| format!("reads: {reads}"))
    });
    // Alice's tracking: exactly Dave has read, by department.
    wait_until("a sees exactly Dave's read", TIMEOUT, &all, || {
        let reads = try_announce(&a, &json!({"action": "reads", "announcement": everyone}))?;
        let people = tracked(&reads);
        let want = [
            triple("HQ/East", "b", "not_read"),
            triple("HQ/East", "h", "not_read"),
            triple("HQ/West", "d", "read"),
        ];
        (people == want && reads["total"] == 3 && reads["read"] == 1 && reads["not_read"] == 2)
            .then_some(())
            .ok_or_else(|| format!("reads: {reads}"))
    });
    // The CLI goes through the running node, with the same answer.
    let through = hank.json(["announce", "reads", &east]);
    assert_eq!(tracked(&through), [triple("HQ/East", "b", "acknowledged")], "{through}");
    let text = hank.ok(["announce", "reads", &east]).stdout;
    assert!(text.contains("1 of 1 read, 1 acknowledged"), "{text}");
    // Only the publisher and admins see who read.
    let refused = try_announce(&b, &json!({"action": "reads", "announcement": everyone})).expect_err("not his");
    assert!(refused.contains("only the announcement's publisher"), "{refused}");
    assert!(try_announce(&h, &json!({"action": "reads", "announcement": everyone})).is_err());
    // Alice, an admin outside Hank's audience, holds no key of it at all.
    let hidden = try_announce(&a, &json!({"action": "reads", "announcement": east})).expect_err("not hers");
    assert!(hidden.contains("404"), "{hidden}");

    // Bob forges a Publish past his node's check: stop his node, write it
    // into his store with the library, start it again.
    let _ = b.terminate();
    let forged = {
        let pass = Passphrase::from_sources(None).expect("no passphrase in tests");
        let mut local = Local::open(Home::at(bob.home())).expect("Bob's store opens");
        let me = local.member;
        let everyone_and_me = vec![
            outpost_identity::Principal::Everyone,
            outpost_identity::Principal::Member(me),
        ];
        let now = outpost_node::now();
        let scope = local
            .create_scope(
                outpost_identity::ScopeDef {
                    name: SCOPE_NAME.into(),
                    readers: everyone_and_me.clone(),
                    writers: everyone_and_me,
                    nonce: 7,
                },
                &pass,
                now,
            )
            .expect("anyone may make a scope");
        let key = (scope, outpost_seal::envelope::DocId::generate(&mut rand::rng()));
        let publish = Entry::Publish(Publish {
            title: "Free pizza".into(),
            body: "From Bob".into(),
            audience: vec!["everyone".into()],
            pinned_until: Some(4_000_000_000),
            ack_required: true,
            attachments: Vec::new(),
        });
        local
            .write_record(key, RecordKind::Announcement, &publish, &pass, now)
            .expect("the validity rule lets Bob write in his own scope");
        key.1.to_hex()
    };
    let b = bob.up(&[a.addr(), h.addr(), d.addr()]);
    let all = [&a, &h, &b, &d];
    for node in all {
        wait_until(
            &format!("{} holds the forged announcement, rejected", node.name()),
            TIMEOUT,
            &all,
            || {
                let r = row(node, &forged, true)?;
                let reason = r["reason"].as_str().unwrap_or_default();
                (r["status"] == "rejected"
                    && r["title"] == "Free pizza"
                    && reason.contains("only admins and department heads may publish announcements"))
                .then_some(())
                .ok_or_else(|| format!("{}: {r}", node.name()))
            },
        );
        let ids: Vec<Value> = listed(node, false)
            .expect("lists")
            .iter()
            .map(|a| a["id"].clone())
            .collect();
        assert!(
            !ids.contains(&json!(forged)),
            "{} lists the forged one: {ids:?}",
            node.name()
        );
        let shown = try_announce(node, &json!({"action": "show", "announcement": forged})).expect("shown");
        assert_eq!(shown["status"], "rejected", "{shown}");
        assert!(
            shown.get("body").is_none(),
            "a rejected announcement's text is not shown: {shown}"
        );
    }
    // Nobody can acknowledge it; reading it writes nothing.
    let refused = try_announce(&d, &json!({"action": "ack", "announcement": forged})).expect_err("rejected");
    assert!(refused.contains("rejected"), "{refused}");
    assert_eq!(
        announce(&d, json!({"action": "show", "announcement": forged})).get("marked_read"),
        None
    );
}
