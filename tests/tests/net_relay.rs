//! A blind relay: a node certified with the `relay` role carries every
//! document's ciphertext between members who are never online together
//! (so never connect to each other), and can read none of it — not through
//! its API, not with the CLI, and nothing readable lies in its files.

use outpost_tests::cluster::{TIMEOUT, acme, append, certified, converged, doc, member, new_doc, wait_for_peers};
use outpost_tests::wait_until;
use std::path::Path;

/// Every file under `dir`, recursively, with its bytes.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                out.push((path, bytes));
            }
        }
    }
    out
}

#[test]
fn a_blind_relay_carries_documents_between_members_and_reads_none() {
    let (sb, admin) = acme();
    let bob = member(&sb, &admin, "b");
    let carol = member(&sb, &admin, "c");
    let relay = certified(&sb, &admin, "r", "relay");
    // Keys for HQ/East are wrapped to Bob and Carol, never to the relay.
    let id = new_doc(&admin, "RELAY-TITLE-MARKER", &[]);
    admin.ok(["doc", "edit", &id, "--set-text", "PLAINTEXT-MARKER-A\n"]);

    // Everyone is configured with the relay's address only, and Bob and
    // Carol are never up at the same time until the end: whatever one
    // gets from the other, the relay carried (peer discovery, should it
    // find them, has nobody to find).
    let r = relay.up(&[]);
    let a = admin.up(&[r.addr()]);
    wait_for_peers(&r, &[&a], &[&r, &a]);
    let b = bob.up(&[r.addr()]);
    wait_until("b reads Alice's line", TIMEOUT, &[&r, &a, &b], || {
        converged(&[&a, &b], &id, &["PLAINTEXT-MARKER-A"])
    });
    let _ = b.kill();
    let _ = a.kill();

    let c = carol.up(&[r.addr()]);
    wait_until("c reads Alice's line, from the relay alone", TIMEOUT, &[&r, &c], || {
        doc(&c, &id).and_then(|(body, _)| {
            if body == "PLAINTEXT-MARKER-A\n" {
                Ok(())
            } else {
                Err(format!("c shows {body:?}"))
            }
        })
    });
    append(&c, &id, "PLAINTEXT-MARKER-C\n");
    let (body_c, heads_c) = doc(&c, &id).unwrap_or_else(|e| panic!("{e}"));
    wait_until("the relay holds c's change", TIMEOUT, &[&r, &c], || {
        let held = r.try_get("/api/status")?["envelopes"].as_u64().unwrap_or_default();
        let want = c.try_get("/api/status")?["envelopes"].as_u64().unwrap_or_default();
        if held >= want {
            Ok(())
        } else {
            Err(format!("the relay holds {held} of {want} envelopes"))
        }
    });
    let _ = c.kill();

    let b = bob.up(&[r.addr()]);
    wait_until("b gets c's line from the relay", TIMEOUT, &[&r, &b], || {
        let (body, heads) = doc(&b, &id)?;
        if (&body, &heads) == (&body_c, &heads_c) {
            Ok(())
        } else {
            Err(format!("b shows {body:?} {heads}"))
        }
    });
    append(&b, &id, "PLAINTEXT-MARKER-B\n");
    let (body_b, heads_b) = doc(&b, &id).unwrap_or_else(|e| panic!("{e}"));
    wait_until("the relay holds b's change", TIMEOUT, &[&r, &b], || {
        let held = r.try_get("/api/status")?["envelopes"].as_u64().unwrap_or_default();
        let want = b.try_get("/api/status")?["envelopes"].as_u64().unwrap_or_default();
        if held >= want {
            Ok(())
        } else {
            Err(format!("the relay holds {held} of {want} envelopes"))
        }
    });
    let _ = b.kill();

    let c = carol.up(&[r.addr()]);
    wait_until("c gets b's line from the relay", TIMEOUT, &[&r, &c], || {
        let (body, heads) = doc(&c, &id)?;
        if (&body, &heads) == (&body_b, &heads_b) {
            Ok(())
        } else {
            Err(format!("c shows {body:?} {heads}"))
        }
    });
    assert_eq!(body_b, "PLAINTEXT-MARKER-A\nPLAINTEXT-MARKER-C\nPLAINTEXT-MARKER-B\n");

    // Both up at last, editing at once: they converge.
    let b = bob.up(&[r.addr()]);
    let all = [&r, &b, &c];
    wait_for_peers(&r, &[&b, &c], &all);
    std::thread::scope(|s| {
        s.spawn(|| append(&b, &id, "PLAINTEXT-MARKER-B2\n"));
        s.spawn(|| append(&c, &id, "PLAINTEXT-MARKER-C2\n"));
    });
    wait_until("b and c converge", TIMEOUT, &all, || {
        converged(&[&b, &c], &id, &["PLAINTEXT-MARKER-B2", "PLAINTEXT-MARKER-C2"])
    });

    // The relay holds every change, and can open none.
    let held = r.get("/api/status")["envelopes"].as_u64().expect("a count");
    let in_doc = b.get(&format!("/api/docs/{id}"))["changes"].as_u64().expect("a count");
    assert!(
        held >= in_doc,
        "the relay holds {held} envelopes, the document has {in_doc} changes"
    );
    let refused = r
        .request("GET", &format!("/api/docs/{id}"), None, true)
        .expect("the relay answers");
    assert_eq!(
        refused.status, 403,
        "the relay's API shows the document: {}",
        refused.body
    );
    assert!(refused.body.contains("cannot read"), "{}", refused.body);
    assert!(doc(&r, &id).is_err());
    let listed = r.get("/api/docs");
    assert!(
        !listed.to_string().contains("RELAY-TITLE-MARKER"),
        "the relay lists the title: {listed}"
    );

    // Stopped, with its files at rest: the CLI cannot read the document
    // either, and no byte of its home holds the text or the title.
    let relay_home = r.home().to_path_buf();
    let (status, logs) = r.terminate();
    assert!(status.success(), "the relay exited with {status}\n{logs}");
    relay
        .run(["doc", "show", &id])
        .code(outpost_tests::exit::ERROR)
        .stderr_has("cannot read them: it holds no key of the document's space");
    let files = files(&relay_home);
    assert!(
        files
            .iter()
            .any(|(p, _)| p.ends_with("store.redb") || p.extension().is_some_and(|e| e == "redb"))
    );
    for (path, bytes) in &files {
        for marker in ["PLAINTEXT-MARKER", "RELAY-TITLE-MARKER"] {
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{} holds {marker}",
                path.display()
            );
        }
    }
}
