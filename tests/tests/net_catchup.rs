//! Offline catch-up at scale: a node that missed 10,000 changes across 100
//! documents gets every one of them when it comes back, and then shows
//! every document exactly as the node that made them.
//!
//! The changes are made through the API in batches (`"appends"`: one call
//! per document, each text its own change), so that making them costs
//! seconds, not the catch-up's budget.

use outpost_tests::cluster::{TIMEOUT, acme, doc, member, wait_for_peers};
use outpost_tests::{RunningNode, wait_until};
use serde_json::json;
use std::time::{Duration, Instant};

const DOCS: usize = 100;
const CHANGES_PER_DOC: usize = 100;
/// How long the catch-up of every change may take.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(90);

fn envelopes(node: &RunningNode) -> Result<u64, String> {
    let status = node.try_get("/api/status")?;
    status["envelopes"]
        .as_u64()
        .ok_or_else(|| format!("no envelope count in {status}"))
}

#[test]
fn a_node_back_from_ten_thousand_changes_catches_up_on_all_of_them() {
    let started = Instant::now();
    let (sb, admin) = acme();
    let bob = member(&sb, &admin, "b");
    let a = admin.up(&[]);
    let ids: Vec<String> = (0..DOCS)
        .map(|i| {
            let made = a.post("/api/docs", &json!({ "title": format!("Doc {i}") }));
            made["id"].as_str().expect("POST /api/docs returns the id").to_owned()
        })
        .collect();
    // Bob has every document, then goes away.
    let b = bob.up(&[a.addr()]);
    wait_for_peers(&a, &[&b], &[&a, &b]);
    // The admin also holds the audit log (Bob's certificate issued), which
    // Bob, a member, cannot read: it is left out of what he must hold.
    let audited = a.post("/api/audit", &json!({"action": "list"}))["entries"]
        .as_array()
        .map_or(0, |e| e.len() as u64);
    let all_docs = envelopes(&a).expect("a reports its envelopes") - audited;
    wait_until("b has every document", TIMEOUT, &[&a, &b], || {
        let held = envelopes(&b)?;
        if held == all_docs {
            Ok(())
        } else {
            Err(format!("b holds {held} of {all_docs}"))
        }
    });
    let _ = b.kill();
    wait_for_peers(&a, &[], &[&a]);

    let making = Instant::now();
    for (d, id) in ids.iter().enumerate() {
        let texts: Vec<String> = (0..CHANGES_PER_DOC).map(|c| format!("doc {d} change {c}\n")).collect();
        let saved = a.post(&format!("/api/docs/{id}"), &json!({ "appends": texts }));
        let changes = saved["changes"].as_array().map_or(0, Vec::len);
        assert_eq!(changes, CHANGES_PER_DOC, "{saved}");
    }
    let total = envelopes(&a).expect("a reports its envelopes") - audited;
    assert_eq!(total, all_docs + (DOCS * CHANGES_PER_DOC) as u64);
    println!("made {} changes in {:.2?}", DOCS * CHANGES_PER_DOC, making.elapsed());

    let catching_up = Instant::now();
    let b = bob.up(&[a.addr()]);
    wait_until("b holds every change", CATCH_UP_TIMEOUT, &[&a, &b], || {
        let held = envelopes(&b)?;
        if held == total {
            Ok(())
        } else {
            Err(format!("b holds {held} of {total}"))
        }
    });
    println!("b caught up in {:.2?}", catching_up.elapsed());

    let comparing = Instant::now();
    for (d, id) in ids.iter().enumerate() {
        let (body_a, heads_a) = doc(&a, id).unwrap_or_else(|e| panic!("{e}\n{}", a.logs()));
        let (body_b, heads_b) = doc(&b, id).unwrap_or_else(|e| panic!("{e}\n{}", b.logs()));
        assert_eq!(body_b, body_a, "document {d} differs");
        assert_eq!(heads_b, heads_a, "document {d} has other heads");
        assert_eq!(body_a.lines().count(), CHANGES_PER_DOC, "document {d}: {body_a:?}");
        assert!(body_a.ends_with(&format!("doc {d} change {}\n", CHANGES_PER_DOC - 1)));
        assert_eq!(heads_a.as_array().map(Vec::len), Some(1), "document {d}: {heads_a}");
    }
    println!("compared {DOCS} documents in {:.2?}", comparing.elapsed());
    println!("the whole test took {:.2?}", started.elapsed());
}
