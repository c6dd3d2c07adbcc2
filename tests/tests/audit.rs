//! The audit log on real nodes: admin Alice issues and revokes
//! certificates and makes an API token; `audit list` shows each with its
//! actor, in order, on her node and on admin Bob's (replicated), and a
//! webhook added through her running node reaches Bob's list. Then, the
//! nodes stopped, an audit envelope is altered, or removed, in the redb
//! store on disk, and `audit verify` names the entry and exits with 6.

use outpost_store::tables::{DOC_ENVELOPES, ENVELOPES};
use outpost_tests::Node;
use outpost_tests::cluster::{TIMEOUT, acme, certified, member, serial_of, wait_for_peers};
use outpost_tests::wait_until;
use redb::{ReadableDatabase, ReadableMultimapTable, ReadableTable};
use serde_json::{Value, json};

/// The exit code of a failed verification.
const TAMPERED: i32 = 6;

/// `(action, target, actor name)` of each listed entry.
fn listed(v: &Value) -> Vec<(String, String, String)> {
    v["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["target"].as_str().unwrap_or_default().to_owned(),
                e["actor"]["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Alice's org with admin Bob and member Carol; Carol's certificate
/// revoked and a token made, all by Alice with her node stopped.
fn audited() -> (outpost_tests::Sandbox, Node, Node) {
    let (sb, alice) = acme();
    let bob = certified(&sb, &alice, "Bob", "admin");
    let _carol = member(&sb, &alice, "Carol");
    let serial = serial_of(&alice, "Carol");
    alice.ok(["cert", "revoke", &serial, "--reason", "left the company"]);
    alice.json(["token", "create", "dashboard", "--scope", "tasks:read"]);
    (sb, alice, bob)
}

/// The record id of the entry with `action` and a target starting with
/// `target`, as `audit list` shows it.
fn record_of(v: &Value, action: &str, target: &str) -> [u8; 32] {
    let e = v["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["action"] == action && e["target"].as_str().is_some_and(|t| t.starts_with(target)))
        .unwrap_or_else(|| panic!("no {action} {target} in {v}"));
    hex::decode(e["record"].as_str().expect("a record id"))
        .expect("hex")
        .try_into()
        .expect("32 bytes")
}

fn store_path(node: &Node) -> std::path::PathBuf {
    node.home().join("outpost.redb")
}

#[test]
fn operations_are_listed_in_order_replicated_and_an_altered_envelope_is_named() {
    let (_sb, alice, bob) = audited();
    let v = alice.json(["audit", "list"]);
    let want = vec![
        ("cert.issue".to_owned(), "Bob".to_owned(), "Alice".to_owned()),
        ("cert.issue".to_owned(), "Carol".to_owned(), "Alice".to_owned()),
        ("cert.revoke".to_owned(), "Carol".to_owned(), "Alice".to_owned()),
        ("token.create".to_owned(), "dashboard".to_owned(), "Alice".to_owned()),
    ];
    let got: Vec<(String, String, String)> = listed(&v)
        .into_iter()
        .map(|(a, t, who)| (a, t.split(' ').next().unwrap_or_default().to_owned(), who))
        .collect();
    assert_eq!(got, want, "{v}");
    assert_eq!(v["retention_days"], 180);
    let seqs: Vec<u64> = v["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert_eq!(
        listed(&alice.json(["audit", "list", "--actor", "bob"])).len(),
        0,
        "Bob did nothing"
    );
    assert_eq!(alice.json(["audit", "verify"])["ok"], true);
    // Making a space is recorded too, after the entries above.
    alice.ok(["space", "create", "Finance"]);
    let v = alice.json(["audit", "list"]);
    let last = listed(&v).pop().expect("entries");
    assert_eq!((last.0.as_str(), last.2.as_str()), ("space.create", "Alice"), "{v}");
    assert!(last.1.starts_with("Finance ("), "{v}");
    assert_eq!(alice.json(["audit", "verify"])["ok"], true);
    // The log's scope is not a library space.
    let spaces = alice.json(["space", "list"]);
    assert!(!spaces.to_string().contains("outpost audit"), "{spaces}");

    // The retention period only goes up.
    alice.fails(["audit", "retention", "30"], 1, "at least 180 days");
    assert_eq!(alice.json(["audit", "retention", "365"])["retention_days"], 365);

    // Bob's node receives the same entries.
    let a = alice.up(&[]);
    let b = bob.up(&[a.addr()]);
    wait_for_peers(&b, &[&a], &[&a, &b]);
    wait_until("Bob's node lists Alice's five entries", TIMEOUT, &[&a, &b], || {
        let v = b.post("/api/audit", &json!({"action": "list"}));
        let n = v["entries"].as_array().map_or(0, Vec::len);
        if n == 5 {
            Ok(v)
        } else {
            Err(format!("{n} entries: {v}"))
        }
    });
    assert_eq!(b.post("/api/audit", &json!({"action": "verify"}))["ok"], true);
    // Through the running node too: the entry reaches Bob at once.
    alice.json(["webhook", "add", "http://127.0.0.1:9/hook", "--event", "certs"]);
    wait_until("Bob's node lists the webhook", TIMEOUT, &[&a, &b], || {
        let v = b.post("/api/audit", &json!({"action": "list", "actor": "Alice"}));
        let last = listed(&v).pop().unwrap_or_default();
        if last.0 == "webhook.add" && last.2 == "Alice" {
            Ok(())
        } else {
            Err(v.to_string())
        }
    });
    drop(b);
    drop(a);

    // One byte of the second entry's envelope altered on disk.
    let victim = record_of(&v, "cert.issue", "Carol");
    {
        let db = redb::Database::open(store_path(&alice)).expect("the store opens");
        let tx = db.begin_write().expect("a write transaction");
        {
            let mut table = tx.open_table(ENVELOPES).expect("the envelopes table");
            let mut bytes = table
                .get(&victim)
                .expect("read")
                .expect("the envelope is stored")
                .value()
                .to_vec();
            let at = bytes.len() - 100;
            bytes[at] ^= 0x40;
            table.insert(&victim, bytes.as_slice()).expect("write");
        }
        tx.commit().expect("commit");
    }
    let run = alice.run(["audit", "verify"]).code(TAMPERED);
    let out = &run.stdout;
    let short = hex::encode(&victim[..8]);
    assert!(
        out.contains(&format!("envelope {short} of the audit log is damaged on disk")),
        "{out}"
    );
    assert!(out.contains("entry 2 of Alice"), "{out}");
    assert!(out.contains("is missing"), "{out}");
    let v = alice.run(["audit", "verify", "--json"]).code(TAMPERED).json();
    assert_eq!(v["ok"], false);
}

#[test]
fn an_entry_removed_from_the_store_is_reported_missing() {
    let (_sb, alice, _bob) = audited();
    let v = alice.json(["audit", "list"]);
    let victim = record_of(&v, "cert.revoke", "Carol");
    {
        let db = redb::Database::open(store_path(&alice)).expect("the store opens");
        let doc = {
            let tx = db.begin_read().expect("a read transaction");
            let index = tx.open_multimap_table(DOC_ENVELOPES).expect("the index");
            let mut found = None;
            for row in index.iter().expect("iterate") {
                let (doc, ids) = row.expect("a row");
                for id in ids {
                    if *id.expect("an id").value() == victim {
                        found = Some(*doc.value());
                    }
                }
            }
            found.expect("the index names the envelope")
        };
        let tx = db.begin_write().expect("a write transaction");
        {
            tx.open_table(ENVELOPES)
                .expect("table")
                .remove(&victim)
                .expect("remove");
            tx.open_multimap_table(DOC_ENVELOPES)
                .expect("index")
                .remove(&doc, &victim)
                .expect("remove");
        }
        tx.commit().expect("commit");
    }
    let run = alice.run(["audit", "verify"]).code(TAMPERED);
    assert!(
        run.stdout.contains("entry 3 of Alice")
            && run
                .stdout
                .contains("is missing (the chain goes on at entry 4, token.create)"),
        "{}",
        run.stdout
    );
}
