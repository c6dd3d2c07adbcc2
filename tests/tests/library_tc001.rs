//! Acceptance case TC-001 on real nodes: a project space written by
//! Marketing, read by R&D, hidden from Finance.
//!
//! A Marketing member creates space Apollo (writers: HQ/Marketing,
//! readers: HQ/RnD) and puts a file and a document in it. R&D members, on
//! their own nodes, read both (the file's bytes fetched from the Marketing
//! node); every edit they try is refused as view-only and changes nothing
//! anywhere, and an edit forged past their own node's check is refused by
//! the others. A Finance member's node, connected to the same peers,
//! neither lists nor reads anything of the space. Then the owner reshares
//! the space: once R&D may write, an R&D edit reaches Marketing; once R&D
//! may no longer read, what is written after does not reach them.
//!
//! Nodes that cannot read a scope neither hold nor pass on its changes, so
//! every node dials the Marketing node directly.

mod common;

use outpost_tests::cluster::{TIMEOUT, acme, certified_in, converged, doc, holds_for, wait_for_log, wait_for_peers};
use outpost_tests::{Node, RunningNode, exit, wait_until};
use serde_json::{Value, json};
use std::time::Duration;

/// How long nodes are watched to show that something does not happen.
const QUIET_PERIOD: Duration = Duration::from_secs(3);

/// The document's text, written by Marketing.
const PLAN: &str = "Apollo launch plan\nMarketing owns the message.\n";

/// Bytes that are not text.
fn binary(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(97) ^ (i >> 7) as u8 ^ 0xa5)
        .collect()
}

/// `GET /api/status` → `docs[]`: the document's (valid, pending, invalid)
/// change counts, or `None` if the node holds none of its changes.
fn counts(node: &RunningNode, id: &str) -> Result<Option<(u64, u64, u64)>, String> {
    let status = node.try_get("/api/status")?;
    let rows = status["docs"]
        .as_array()
        .ok_or_else(|| format!("{}: no docs in the status: {status}", node.name()))?;
    Ok(rows.iter().find(|r| r["id"] == id).map(|r| {
        let n = |k: &str| r[k].as_u64().unwrap_or(u64::MAX);
        (n("valid"), n("pending"), n("invalid"))
    }))
}

/// Does `GET /api/docs` on `node` list entry `id`?
fn lists(node: &RunningNode, id: &str) -> Result<bool, String> {
    let list = node.try_get("/api/docs")?;
    let rows = list
        .as_array()
        .ok_or_else(|| format!("{}: /api/docs is not an array: {list}", node.name()))?;
    Ok(rows.iter().any(|r| r["id"] == id))
}

/// The node shows neither entry: not listed, `GET /api/docs/ID` refused
/// (403 or 404), and none of its changes held.
fn hidden(node: &RunningNode, ids: &[&str]) -> Result<(), String> {
    for id in ids {
        if lists(node, id)? {
            return Err(format!("{} lists {id}", node.name()));
        }
        let shown = node.request("GET", &format!("/api/docs/{id}"), None, true)?;
        if ![403, 404].contains(&shown.status) {
            return Err(format!(
                "{}: GET /api/docs/{id} answers {}: {}",
                node.name(),
                shown.status,
                shown.body
            ));
        }
    }
    Ok(())
}

/// What an entry looks like on a node, for comparing before and after.
fn state(node: &RunningNode, id: &str) -> Value {
    let shown = node.get(&format!("/api/docs/{id}"));
    json!({
        "title": shown["title"], "body": shown["body"], "heads": shown["heads"],
        "trashed": shown["trashed"], "folder": shown["folder"], "versions": shown["versions"],
        "changes": shown["changes"],
    })
}

/// Runs an edit that R&D's node must refuse as view-only.
fn refused(node: &Node, args: &[&str]) {
    let run = node.run(args).code(exit::ERROR);
    assert!(
        run.stderr.contains("view-only") || run.stderr.contains("not write"),
        "the refusal does not say the member is view-only:\n{run}"
    );
}

#[test]
fn tc001_marketing_writes_rnd_reads_finance_sees_nothing() {
    let (sb, admin) = acme();
    let mark = certified_in(&sb, &admin, "mark", "member", "HQ/Marketing");
    let rita = certified_in(&sb, &admin, "rita", "member", "HQ/RnD");
    let raj = certified_in(&sb, &admin, "raj", "member", "HQ/RnD");
    let fay = certified_in(&sb, &admin, "fay", "member", "HQ/Finance");
    let m = mark.up(&[]);
    let r = rita.up(&[m.addr()]);
    let q = raj.up(&[m.addr()]);
    let f = fay.up(&[m.addr(), r.addr()]);
    let all = [&m, &r, &q, &f];
    wait_for_peers(&m, &[&r, &q, &f], &all);
    wait_for_peers(&f, &[&m, &r], &all);
    // The space's key is wrapped to the readers Marketing's node knows.
    wait_until("mark's node knows every member", TIMEOUT, &all, || {
        let run = mark.cmd(["cert", "list", "--json"]).run();
        ["rita", "raj", "fay"]
            .iter()
            .all(|n| run.stdout.contains(&format!("\"{n}\"")))
            .then_some(())
            .ok_or_else(|| format!("{run}"))
    });

    // Marketing: the space, a file and a document in it.
    let space = mark.json([
        "space",
        "create",
        "Apollo",
        "--writers",
        "dept:HQ/Marketing",
        "--readers",
        "dept:HQ/RnD",
    ]);
    assert_eq!(space["name"], "Apollo", "{space}");
    let bytes = binary(150_000);
    let spec = sb.path("spec.bin");
    std::fs::write(&spec, &bytes).expect("the file is written");
    let mut put = mark.cmd(["file", "put"]);
    put.arg(&spec).args(["--space", "Apollo"]);
    let fid = put.json()["id"].as_str().expect("file put prints the id").to_owned();
    let created = mark.json(["doc", "new", "--title", "Apollo plan", "--space", "Apollo"]);
    assert_eq!(created["space_name"], "Apollo", "{created}");
    let id = created["id"].as_str().expect("doc new prints the id").to_owned();
    mark.ok(["doc", "edit", &id, "--set-text", PLAN]);

    // R&D reads both.
    for node in [&r, &q] {
        wait_until(
            &format!("{} reads the plan and lists the file", node.name()),
            TIMEOUT,
            &all,
            || {
                converged(&[&m, node], &id, &["Marketing owns the message."])?;
                lists(node, &fid)?
                    .then_some(())
                    .ok_or_else(|| "the file is not listed".into())
            },
        );
        let shown = node.get(&format!("/api/docs/{id}"));
        assert_eq!(
            (&shown["body"], &shown["can_write"], &shown["space"]["name"]),
            (&json!(PLAN), &json!(false), &json!("Apollo")),
            "{shown}"
        );
    }
    for (reader, node) in [(&rita, &r), (&raj, &q)] {
        // Nothing of it is held before it is asked for; then all of it.
        let held = format!("/api/files/{fid}/held");
        let before = node.get(&held);
        assert_eq!(
            (&before["bytes"], &before["held"]),
            (&json!(bytes.len()), &json!(0)),
            "{before}"
        );
        let out = format!("{}-spec.bin", reader.name());
        reader.ok(["file", "get", &fid, "--out", &out]);
        let after = node.get(&held);
        assert_eq!(after["held"], json!(bytes.len()), "{after}");
        let got = std::fs::read(sb.path(&out)).expect("file get wrote the file");
        assert!(
            got == bytes,
            "{} got {} bytes that differ from the {} put",
            reader.name(),
            got.len(),
            bytes.len()
        );
    }
    let spaces = r.get("/api/spaces");
    let apollo = spaces
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "Apollo"))
        .unwrap_or_else(|| panic!("r does not list Apollo: {spaces}"));
    assert_eq!(apollo["can_write"], false, "{apollo}");

    // Every edit R&D tries is refused, and nothing changes anywhere.
    let before: Vec<(Value, Value)> = [&m, &r, &q].iter().map(|n| (state(n, &id), state(n, &fid))).collect();
    let counts_before: Vec<_> = [&m, &r, &q]
        .iter()
        .map(|n| counts(n, &id).expect("status answers"))
        .collect();
    let other = sb.path("other.bin");
    std::fs::write(&other, binary(1_000)).expect("the file is written");
    let other = other.to_string_lossy().into_owned();
    refused(&rita, &["doc", "edit", &id, "--append", "RND-EDIT\n"]);
    refused(&rita, &["doc", "edit", &id, "--set-text", "RND-EDIT\n"]);
    refused(&raj, &["doc", "rename", &id, "Apollo by R&D"]);
    refused(&rita, &["doc", "trash", &id]);
    refused(&rita, &["doc", "trash", &fid]);
    refused(&raj, &["file", "put", &other, "--to", &fid]);
    let refused_edit = r
        .request(
            "POST",
            &format!("/api/docs/{id}"),
            Some(&json!({"append": "RND-EDIT"})),
            true,
        )
        .expect("r answers");
    assert!(
        refused_edit.status == 400 && refused_edit.body.contains("view-only"),
        "{} {}",
        refused_edit.status,
        refused_edit.body
    );
    holds_for("nothing R&D tried changed anything", QUIET_PERIOD, &all, || {
        for (node, (doc_was, file_was)) in [&m, &r, &q].iter().zip(&before) {
            let now = (state(node, &id), state(node, &fid));
            if now != (doc_was.clone(), file_was.clone()) {
                return Err(format!("{} changed: {now:?}, was {doc_was} {file_was}", node.name()));
            }
        }
        let now: Vec<_> = [&m, &r, &q].iter().map(|n| counts(n, &id)).collect::<Result<_, _>>()?;
        (now == counts_before)
            .then_some(())
            .ok_or_else(|| format!("change counts {now:?}, were {counts_before:?}"))
    });

    // Finance neither lists nor reads anything of the space.
    holds_for("f sees nothing of Apollo", QUIET_PERIOD, &all, || {
        hidden(&f, &[&id, &fid])?;
        match counts(&f, &id)? {
            None => Ok(()),
            Some(c) => Err(format!("f holds changes of the plan: {c:?}")),
        }
    });
    let spaces = f.get("/api/spaces");
    assert!(
        spaces
            .as_array()
            .is_some_and(|s| s.iter().all(|s| s["name"] != "Apollo")),
        "f lists Apollo: {spaces}"
    );
    fay.run(["file", "get", &fid, "--out", "fay-spec.bin"])
        .code(exit::ERROR)
        .stderr_has("no document");
    fay.run(["doc", "show", &id])
        .code(exit::ERROR)
        .stderr_has("no document");
    assert!(!sb.path("fay-spec.bin").exists(), "f wrote the file");

    // An edit forged past R&D's own node is refused by the others (the
    // refusals above never left R&D's nodes).
    assert!(
        !m.logged(&["refusing change"]),
        "m refused a change before any was forged\n{}",
        m.logs()
    );
    let _ = r.kill();
    common::forge_edit(rita.home(), &id, "FORGED-BY-RND\n");
    let r = rita.up(&[m.addr()]);
    let all = [&m, &r, &q, &f];
    wait_for_log(&m, &["refusing change", &id, "rita", "view-only"], &all);
    wait_until("r judges its own forged change invalid", TIMEOUT, &all, || {
        let c = counts(&r, &id)?;
        (c.is_some_and(|(_, _, invalid)| invalid == 1))
            .then_some(())
            .ok_or_else(|| format!("r counts {c:?}"))
    });
    holds_for("nobody shows or keeps the forged edit", QUIET_PERIOD, &all, || {
        for node in [&m, &r, &q] {
            let (body, _) = doc(node, &id)?;
            if body != PLAN {
                return Err(format!("{} shows {body:?}", node.name()));
            }
        }
        for (node, was) in [(&m, counts_before[0]), (&q, counts_before[2])] {
            let c = counts(node, &id)?;
            if c != was {
                return Err(format!("{} counts {c:?}, was {was:?}", node.name()));
            }
        }
        Ok(())
    });

    // The owner lets R&D write: an R&D edit is accepted and reaches
    // Marketing.
    mark.ok([
        "space",
        "share",
        "Apollo",
        "--writers",
        "dept:HQ/Marketing,dept:HQ/RnD",
        "--readers",
        "dept:HQ/RnD",
    ]);
    wait_until("r may write in Apollo", TIMEOUT, &all, || {
        let spaces = r.try_get("/api/spaces")?;
        spaces
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == "Apollo"))
            .filter(|s| s["can_write"] == true)
            .map(drop)
            .ok_or_else(|| format!("{spaces}"))
    });
    rita.ok(["doc", "edit", &id, "--append", "RND-AFTER-RESHARE\n"]);
    wait_until("everyone reading Apollo has the R&D line", TIMEOUT, &all, || {
        converged(
            &[&m, &r, &q],
            &id,
            &["RND-AFTER-RESHARE", "Marketing owns the message."],
        )
    });
    let body = doc(&m, &id).expect("m shows the plan").0;
    assert!(!body.contains("FORGED-BY-RND"), "{body:?}");

    // The owner drops R&D: what is written from then on does not reach
    // them.
    mark.ok([
        "space",
        "share",
        "Apollo",
        "--writers",
        "dept:HQ/Marketing",
        "--readers",
        "dept:HQ/Marketing",
    ]);
    for node in [&r, &q] {
        wait_until(
            &format!("{} no longer lists Apollo", node.name()),
            TIMEOUT,
            &all,
            || {
                let spaces = node.try_get("/api/spaces")?;
                spaces
                    .as_array()
                    .is_some_and(|s| s.iter().all(|s| s["name"] != "Apollo"))
                    .then_some(())
                    .ok_or_else(|| format!("{spaces}"))
            },
        );
    }
    let budget = mark.json(["doc", "new", "--title", "Apollo budget", "--space", "Apollo"])["id"]
        .as_str()
        .expect("doc new prints the id")
        .to_owned();
    mark.ok(["doc", "edit", &budget, "--set-text", "SECRET-BUDGET\n"]);
    mark.ok(["doc", "edit", &id, "--append", "AFTER-DROP\n"]);
    assert!(doc(&m, &id).expect("m shows the plan").0.contains("AFTER-DROP"));
    holds_for("R&D reads nothing written after the drop", QUIET_PERIOD, &all, || {
        for node in [&r, &q, &f] {
            hidden(node, &[&budget])?;
            if let Ok((body, _)) = doc(node, &id)
                && body.contains("AFTER-DROP")
            {
                return Err(format!("{} shows {body:?}", node.name()));
            }
        }
        Ok(())
    });
    let run = rita.run(["doc", "show", &budget]).code(exit::ERROR);
    assert!(
        run.stderr.contains("no document") || run.stderr.contains("cannot read"),
        "{run}"
    );
}
