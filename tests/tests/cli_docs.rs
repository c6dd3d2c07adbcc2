//! Documents end to end: the real `outpost` binary creating, editing and
//! reading documents; what it leaves on disk; and how it behaves when it is
//! killed mid-write or finds its store damaged or in use.
//!
//! Failing commands go through [`Node::fails`], which also checks that the
//! node's status, certificates and document list are the same afterwards.

use outpost_identity::keyfile::{self, KeyKind};
use outpost_identity::request::Bundle;
use outpost_identity::{Body, armor};
use outpost_tests::{Node, Rng, Sandbox, exit, seed, words};
use serde_json::{Value, json};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Alice's node: she created org Acme and is its first admin.
fn alice(sb: &Sandbox) -> Node {
    let alice = sb.node("alice");
    alice.init("Alice");
    alice.ok(words("org create --name Acme"));
    alice
}

/// `doc new --title TITLE`; returns the document's id.
fn new_doc(node: &Node, title: &str) -> String {
    let created = node.json(["doc", "new", "--title", title]);
    assert_eq!(created["title"], title, "{created}");
    created["id"].as_str().expect("doc new prints the id").to_owned()
}

/// The body of `doc show --json`.
fn body(node: &Node, id: &str) -> String {
    let doc = node.json(["doc", "show", id]);
    doc["body"].as_str().expect("doc show prints the body").to_owned()
}

/// The `change` ids in `doc history --json`, oldest first.
fn change_ids(node: &Node, id: &str) -> Vec<String> {
    let history = node.json(["doc", "history", id]);
    let rows = history.as_array().expect("doc history prints an array");
    rows.iter()
        .map(|r| r["change"].as_str().expect("every change has an id").to_owned())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn edits_show_up_in_the_text_the_history_and_the_list() {
    let sb = Sandbox::new();
    let alice = alice(&sb);
    let (t0, t1, t2) = (sb.now(), sb.now() + 3_600, sb.now() + 7_200);
    let title = "季度计划 Q3 · 机密";
    let created = alice.json(["doc", "new", "--title", title]);
    assert_eq!(created["space_name"], "Everyone", "{created}");
    let id = created["id"].as_str().expect("doc new prints the id").to_owned();
    assert_eq!(id.len(), 32, "{created}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{created}");

    // Each edit reports the change it saved; history must list exactly
    // these. Reading after each edit checks that no stale text is shown.
    let mut changes = Vec::new();
    let mut edit = |target: &str, op: &str, text: &str, at: u64, then: &str| {
        let saved = alice.cmd(["doc", "edit", target, op, text]).at(at).json();
        assert_eq!(saved["id"], id.as_str(), "{saved}");
        assert_eq!(saved["changed"], true, "{saved}");
        changes.push(saved["change"].as_str().expect("a saved change has an id").to_owned());
        assert_eq!(body(&alice, &id), then);
    };
    edit(&id, "--set-text", "第一行\n", t0, "第一行\n");
    // A unique prefix of the id is enough, in either case.
    edit(&id[..6], "--append", "second line\n", t0, "第一行\nsecond line\n");
    edit(
        &id[..10].to_uppercase(),
        "--set-text",
        "第二行\nsecond line\n",
        t0,
        "第二行\nsecond line\n",
    );
    edit(&id, "--append", "三", t1, "第二行\nsecond line\n三");
    // Setting the text it already has, or appending nothing, saves nothing.
    assert_eq!(
        alice.json(["doc", "edit", &id, "--set-text", "第二行\nsecond line\n三"]),
        json!({"id": id, "changed": false})
    );
    alice
        .ok(["doc", "edit", &id, "--append", ""])
        .stdout_has("no change: the text is already that");

    let body = "第二行\nsecond line\n三";
    let shown = alice.json(["doc", "show", &id]);
    let fields = [
        "id",
        "title",
        "body",
        "changes",
        "kind",
        "folder",
        "trashed",
        "can_write",
    ];
    let picked: serde_json::Map<String, Value> = fields.iter().map(|f| (f.to_string(), shown[*f].clone())).collect();
    assert_eq!(
        Value::Object(picked),
        json!({"id": id, "title": title, "body": body, "changes": 5, "kind": "text", "folder": "", "trashed": false, "can_write": true}),
        "{shown}"
    );
    assert_eq!(shown["space"]["name"], "Everyone", "{shown}");
    // Each line of plain text is a paragraph; Markdown separates them.
    assert_eq!(
        alice.ok(["doc", "show", &id[..4]]).stdout,
        format!("# {title}\n\n第二行\n\nsecond line\n\n三\n\n")
    );

    let history = alice.json(["doc", "history", &id]);
    let rows = history.as_array().expect("doc history prints an array");
    let column = |key: &str| -> Vec<Value> { rows.iter().map(|r| r[key].clone()).collect() };
    assert_eq!(
        column("summary"),
        ["created", "+4 chars", "+12 chars", "+1 -1 chars", "+1 chars"],
        "{history:#}"
    );
    assert_eq!(column("author"), vec![json!("Alice (admin)"); 5], "{history:#}");
    assert_eq!(column("time"), [t0, t0, t0, t0, t1], "{history:#}");
    assert_eq!(column("change")[1..], changes, "{history:#}");
    let text = alice.ok(["doc", "history", &id]).stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].contains("2027-01-15 08:00:00") && lines[0].contains("Alice (admin)") && lines[0].ends_with("created"),
        "{text}"
    );
    assert!(
        lines[4].starts_with(&changes[3][..16]) && lines[4].ends_with("+1 chars"),
        "{text}"
    );

    // The list shows the most recently updated document first.
    let notes = alice.cmd(["doc", "new", "--title", "Notes"]).at(t2).json()["id"].clone();
    let listed = alice.json(["doc", "list"]);
    let rows: Vec<Value> = listed
        .as_array()
        .expect("doc list prints an array")
        .iter()
        .map(|r| json!({"id": r["id"], "title": r["title"], "space": r["space"]["name"], "changes": r["changes"], "updated": r["updated"]}))
        .collect();
    assert_eq!(
        rows,
        [
            json!({"id": notes, "title": "Notes", "space": "Everyone", "changes": 1, "updated": t2}),
            json!({"id": id, "title": title, "space": "Everyone", "changes": 5, "updated": t1}),
        ]
    );
    alice
        .ok(["doc", "list"])
        .stdout_has(&format!("{id}  text  {title}"))
        .stdout_has("2027-01-15 10:00:00");
}

/// Distinctive text, ASCII and CJK, that must never reach the disk as is.
const MARKERS: [&str; 4] = ["ZEBRA-7731-MARKER", "机密预算", "QUOKKA-4410-BODY", "绝密人事档案"];

/// Every file under `dir`, at any depth.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Panics if any file under `dir` contains `needle`.
fn assert_nowhere_under(dir: &Path, needle: &[u8], what: &str) {
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{} holds {what} in plain",
            file.display()
        );
    }
}

/// Creates a node (with `global` flags on every command), an org, and a
/// document full of markers; checks it reads back. Returns the node and
/// the document's id.
fn node_with_secret_doc(sb: &Sandbox, name: &str, global: &[&str]) -> (Node, String) {
    let node = sb.node(name);
    let run = |args: &[&str]| node.cmd(global).args(args).run().success();
    run(&["init", "--name", "Pat"]);
    run(&["org", "create", "--name", "Acme"]);
    let title = format!("{} {}", MARKERS[0], MARKERS[1]);
    let id = node.cmd(global).args(["doc", "new", "--title", &title]).json()["id"]
        .as_str()
        .expect("doc new prints the id")
        .to_owned();
    run(&[
        "doc",
        "edit",
        &id,
        "--set-text",
        &format!("{}: {}\n", MARKERS[2], MARKERS[3]),
    ]);
    run(&[
        "doc",
        "edit",
        &id,
        "--append",
        &format!("{} again, {}\n", MARKERS[0], MARKERS[1]),
    ]);
    let shown = node.cmd(global).args(["doc", "show", &id]).json();
    for marker in MARKERS {
        assert!(shown.to_string().contains(marker), "{marker} was not saved: {shown}");
    }
    let files = files_under(node.home());
    for expected in ["outpost.redb", "keys/storage.key"] {
        assert!(
            files.contains(&node.home().join(expected)),
            "no {expected} in {files:?}"
        );
    }
    for marker in MARKERS {
        assert_nowhere_under(node.home(), marker.as_bytes(), marker);
    }
    (node, id)
}

#[test]
fn no_title_or_text_is_stored_in_plain() {
    let sb = Sandbox::new();
    node_with_secret_doc(&sb, "plain", &[]);

    // With a passphrase, the storage key itself is encrypted under it.
    let pass = "correct horse battery staple";
    sb.write("pass.txt", &format!("{pass}\n"));
    let (node, id) = node_with_secret_doc(&sb, "locked", &["--passphrase-file", "pass.txt"]);
    for key in ["storage", "member", "device", "org-root"] {
        let text = sb.read(&format!("locked/keys/{key}.key"));
        assert!(
            matches!(keyfile::is_encrypted(&text), Ok(true)),
            "{key}.key is not encrypted"
        );
    }
    let text = sb.read("locked/keys/storage.key");
    assert!(keyfile::open(&text, KeyKind::Storage, None).is_err());
    assert!(keyfile::open(&text, KeyKind::Storage, Some("incorrect horse")).is_err());
    let (_, storage_key) =
        keyfile::open(&text, KeyKind::Storage, Some(pass)).expect("the passphrase opens the storage key");
    assert_eq!(storage_key.len(), 32);
    assert_nowhere_under(node.home(), &storage_key, "the storage key");

    node.cmd(["doc", "show", &id])
        .env("OUTPOST_PASSPHRASE", "incorrect horse")
        .fails(&node, exit::KEY, "wrong passphrase");
    node.fails(["doc", "show", &id], exit::KEY, "encrypted with a passphrase");
    node.cmd(["doc", "edit", &id, "--append", "x"])
        .env("OUTPOST_PASSPHRASE", "incorrect horse")
        .fails(&node, exit::KEY, "wrong passphrase");
    let body = node.cmd(["--passphrase-file", "pass.txt", "doc", "show", &id]).json()["body"].clone();
    assert_eq!(
        body,
        format!("{}: {}\n{} again, {}\n", MARKERS[2], MARKERS[3], MARKERS[0], MARKERS[1])
    );
}

/// Edits run unkilled first, to learn how long an edit takes here.
const CALIBRATION_EDITS: usize = 3;
/// Edits killed at a random moment.
const KILLED_EDITS: usize = 40;
/// The longest wait before a kill.
const KILL_DELAY_MAX: Duration = Duration::from_millis(40);

fn log_line(i: usize) -> String {
    format!("line {i:03}\n")
}

/// Checks the crash log: `doc show` works, the body is log lines in the
/// order they were appended, every acknowledged one among them, and each is
/// one stored change. Returns the lines present.
fn check_log(node: &Node, id: &str, acknowledged: &[usize], round: usize, seed: u64) -> Vec<usize> {
    let doc = node.json(["doc", "show", id]);
    let body = doc["body"].as_str().expect("doc show prints the body");
    let context = format!("after round {round} (seed {seed}), the document reads\n{doc:#}");
    assert!(body.is_empty() || body.ends_with('\n'), "{context}");
    let lines: Vec<usize> = body
        .lines()
        .map(|l| {
            l.strip_prefix("line ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a damaged line {l:?} {context}"))
        })
        .collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "lines out of order {context}");
    assert!(
        lines.last().is_none_or(|&l| l <= round),
        "a line from the future {context}"
    );
    for a in acknowledged {
        assert!(
            lines.binary_search(a).is_ok(),
            "acknowledged line {a} is lost {context}"
        );
    }
    assert_eq!(doc["changes"], 1 + lines.len(), "{context}");
    lines
}

#[test]
fn killed_edits_lose_no_acknowledged_change_and_leave_the_store_readable() {
    let seed = seed();
    let mut rng = Rng::new(seed);
    let sb = Sandbox::new();
    let alice = alice(&sb);
    let id = new_doc(&alice, "Crash log");

    let mut acknowledged = Vec::new();
    let mut took = Vec::new();
    for i in 0..CALIBRATION_EDITS {
        let start = Instant::now();
        alice.ok(["doc", "edit", &id, "--append", &log_line(i)]);
        took.push(start.elapsed());
        acknowledged.push(i);
    }
    took.sort();
    // Kills spread from before the process starts to after it would have
    // finished, so some land mid-write.
    let delay_max = (took[took.len() / 2] * 2).clamp(Duration::from_millis(2), KILL_DELAY_MAX);
    println!("an edit takes {took:?}; killing after 0..{delay_max:?}");

    let mut killed = 0;
    for i in CALIBRATION_EDITS..CALIBRATION_EDITS + KILLED_EDITS {
        let delay = Duration::from_micros(rng.up_to(delay_max.as_micros() as u64));
        let mut child = alice.cmd(["doc", "edit", &id, "--append", &log_line(i)]).spawn();
        std::thread::sleep(delay);
        child.kill().expect("a child we have not waited for can be killed");
        let out = child.wait_with_output().expect("the killed edit can be waited for");
        match (out.status.code(), out.status.signal()) {
            (Some(0), _) => {
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(stdout.starts_with("saved change"), "edit {i} said {stdout:?}");
                acknowledged.push(i);
            }
            (None, Some(9)) => killed += 1,
            _ => panic!(
                "edit {i} (seed {seed}) ended with {}:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        }
        check_log(&alice, &id, &acknowledged, i, seed);
    }
    let lines = check_log(&alice, &id, &acknowledged, usize::MAX, seed);
    println!(
        "{killed} edits killed ({} after their change was stored), {} acknowledged",
        lines.len() - acknowledged.len(),
        acknowledged.len() - CALIBRATION_EDITS
    );
    assert!(
        killed > 0 && acknowledged.len() > CALIBRATION_EDITS,
        "every edit was {} (seed {seed}): the kill delays need tuning",
        if killed == 0 { "acknowledged" } else { "killed" }
    );

    // The store is sound afterwards: the history opens every change and
    // edits go on.
    assert_eq!(change_ids(&alice, &id).len(), 1 + lines.len());
    alice.ok(["doc", "edit", &id, "--append", "after the crashes\n"]);
    assert!(body(&alice, &id).ends_with("after the crashes\n"));
    assert_eq!(alice.status()["org"]["name"], "Acme");
}

/// Asserts that `run` failed cleanly, naming `store` as damaged.
fn assert_names_damaged_store(run: &outpost_tests::Run, store: &Path) {
    assert_eq!(run.code, exit::ERROR, "{run}");
    let path = store.display().to_string();
    assert!(run.stderr.contains(&path), "the error does not name {path}\n{run}");
    assert!(run.stderr.contains("is damaged"), "{run}");
    for panic_text in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!run.stderr.contains(panic_text), "{run}");
    }
}

#[test]
fn a_damaged_store_is_named_and_left_as_it_was() {
    let sb = Sandbox::new();
    let alice = alice(&sb);
    let id = new_doc(&alice, "Survivor");
    alice.ok(["doc", "edit", &id, "--set-text", "still here"]);
    let store = alice.home().join("outpost.redb");
    let good = std::fs::read(&store).expect("the store exists");

    let mut rng = Rng::new(0x5eed);
    let random: Vec<u8> = (0..good.len()).map(|_| rng.next_u64() as u8).collect();
    let damaged: [(&str, Vec<u8>); 3] = [
        ("random bytes", random),
        ("a text file", b"this is not a database\n".repeat(200)),
        ("a truncated store", good[..4096].to_vec()),
    ];
    let commands = [
        "status",
        "cert list",
        "org export",
        "doc list",
        &format!("doc show {id}"),
        &format!("doc history {id}"),
        &format!("doc edit {id} --append more"),
        "doc new --title Another",
    ];
    for (what, bytes) in &damaged {
        std::fs::write(&store, bytes).expect("the store can be overwritten");
        for line in commands {
            let run = alice.run(words(line));
            println!("{what}: {line}");
            assert_names_damaged_store(&run, &store);
        }
        let after = std::fs::read(&store).expect("the store still exists");
        assert!(after == *bytes, "the commands changed the damaged store ({what})");
    }

    // Restored from the backup, it reads as before.
    std::fs::write(&store, &good).expect("the store can be restored");
    assert_eq!(body(&alice, &id), "still here");
}

#[test]
fn a_store_held_by_another_process_is_reported_in_use() {
    let sb = Sandbox::new();
    let alice = alice(&sb);
    let id = new_doc(&alice, "Busy");
    let path = alice.home().join("outpost.redb");
    let held = outpost_store::Store::open(&path).expect("the test can open the store");
    for line in ["doc list", &format!("doc edit {id} --append x"), "status"] {
        alice
            .run(words(line))
            .code(exit::ERROR)
            .stderr_has(&path.display().to_string())
            .stderr_has("in use by another Outpost process");
    }
    drop(held);
    alice.ok(["doc", "edit", &id, "--append", "x"]);
    assert_eq!(body(&alice, &id), "x");
}

#[test]
fn doc_commands_say_what_is_wrong_and_change_nothing() {
    let sb = Sandbox::new();
    let pat = sb.node("pat");
    pat.init("Pat");
    for line in ["doc new --title x", "doc list", "doc show 00"] {
        pat.fails(words(line), exit::ERROR, "this node belongs to no org yet");
    }

    let alice = alice(&sb);
    let id = new_doc(&alice, "Plan");
    let failures: [(&str, i32, &[&str]); 15] = [
        (
            "doc new --title x --writers nonsense",
            exit::ERROR,
            &[
                "cannot read \"nonsense\"",
                "everyone, dept:PATH, role:ROLE or member:KEY",
            ],
        ),
        (
            "doc new --title x --readers role:boss",
            exit::ERROR,
            &["cannot read \"role:boss\""],
        ),
        (
            "doc new --title x --writers member:abcd",
            exit::ERROR,
            &["64 hex digits"],
        ),
        (
            "doc new --title x --readers dept:HQ//East",
            exit::ERROR,
            &["cannot read \"dept:HQ//East\""],
        ),
        (
            "doc new --title x --scope HQ//East",
            exit::ERROR,
            &["department path \"HQ//East\""],
        ),
        // Alice belongs to the whole org, not to HQ/Sales: a department's
        // documents are written by its members.
        (
            "doc new --title x --scope HQ/Sales",
            exit::ERROR,
            &["may not write in HQ/Sales", "--writers dept:HQ/Sales"],
        ),
        (
            "doc new --title x --scope HQ --readers everyone",
            exit::USAGE,
            &["cannot be used with"],
        ),
        ("doc new", exit::USAGE, &["--title"]),
        (
            "doc edit ffff --append x",
            exit::ERROR,
            &["no document \"ffff\" here", "outpost doc list"],
        ),
        ("doc show ffff", exit::ERROR, &["no document \"ffff\" here"]),
        ("doc history ffff", exit::ERROR, &["no document \"ffff\" here"]),
        ("doc show ''", exit::ERROR, &["no document \"\" here"]),
        (&format!("doc edit {id}"), exit::USAGE, &["--set-text"]),
        (
            &format!("doc edit {id} --set-text a --append b"),
            exit::USAGE,
            &["cannot be used with"],
        ),
        (
            &format!("doc edit {id} --sett-text a"),
            exit::USAGE,
            &["unexpected argument"],
        ),
    ];
    for (line, code, needles) in failures {
        let run = alice.fails(words(line), code, needles[0]);
        needles[1..].iter().fold(run, |run, needle| run.stderr_has(needle));
    }

    // Ids are random; after at most 17 documents two share a first digit.
    let mut firsts = vec![id[..1].to_owned()];
    let shared = loop {
        let next = new_doc(&alice, "Another");
        if firsts.contains(&next[..1].to_owned()) {
            break next[..1].to_owned();
        }
        firsts.push(next[..1].to_owned());
    };
    alice.fails(
        ["doc", "show", &shared],
        exit::ERROR,
        &format!("\"{shared}\" matches 2 documents; give more digits"),
    );

    // Explicit readers and writers make a scope of their own, whose name
    // (seen by every node of the org) does not carry the title; the
    // creator is always a writer.
    let member = alice.status()["member"]
        .as_str()
        .expect("status prints the member key")
        .to_owned();
    for extra in [
        "--readers role:member".to_owned(),
        format!("--readers role:member --writers member:{member}"),
        "--writers dept:HQ/Sales,role:dept-head".to_owned(),
    ] {
        let created = alice.json(words(&format!("doc new --title 'Board pay' {extra}")));
        assert_eq!(created["space_name"], "shared document", "{created}");
        let id = created["id"].as_str().expect("doc new prints the id");
        alice.ok(["doc", "edit", id, "--set-text", "draft"]);
        assert_eq!(body(&alice, id), "draft");
    }
}

#[test]
fn a_revocation_records_the_heads_of_every_document() {
    let sb = Sandbox::new();
    let alice = alice(&sb);
    let bob = sb.node("bob");
    bob.init("Bob");
    alice.issue(&bob.request(), words("--role member --dept HQ"), "bob.cert");
    bob.ok(words("cert install bob.cert"));

    // Both documents are in the org-wide scope, whose key Bob holds.
    let plan = new_doc(&alice, "Plan");
    alice.ok(["doc", "edit", &plan, "--append", "one"]);
    alice.ok(["doc", "edit", &plan, "--append", " two"]);
    let notes = new_doc(&alice, "Notes");
    let mut expected = vec![
        (
            plan.clone(),
            vec![change_ids(&alice, &plan).pop().expect("plan has changes")],
        ),
        (
            notes.clone(),
            vec![change_ids(&alice, &notes).pop().expect("notes has a change")],
        ),
    ];
    // Alice is an admin: the audit log (Bob's certificate issued) is one of
    // the documents her node holds, its head her last entry.
    let audit = alice.json(["audit", "list"]);
    let last = audit["entries"]
        .as_array()
        .and_then(|e| e.last())
        .expect("an audit entry");
    expected.push((
        hex(b"outpost audit v1"),
        vec![last["record"].as_str().expect("a record id").to_owned()],
    ));
    expected.sort();

    let serial = alice
        .list(&[])
        .iter()
        .find(|c| c["name"] == "Bob")
        .and_then(|c| c["serial"].as_str().map(str::to_owned))
        .expect("Bob's certificate is listed");
    alice
        .ok(words(&format!("cert revoke {serial} --reason 'left us' --out bob.rev")))
        .stdout_has("new keys for 1 scope(s) they could read");

    let (_, bytes) = armor::decode(&sb.read("bob.rev")).expect("the revocation is armored");
    let (bundle, ops) = Bundle::decode(&bytes).expect("the revocation decodes");
    let revocation = ops
        .iter()
        .find(|o| Some(o.id) == bundle.subject)
        .expect("the bundle holds its subject");
    let Body::Revoke(revoke) = &revocation.op.body else {
        panic!("the subject of bob.rev is not a revocation: {:?}", revocation.op.body);
    };
    let mut seen: Vec<(String, Vec<String>)> = revoke
        .seen
        .iter()
        .map(|(doc, heads)| (hex(doc), heads.iter().map(|h| hex(h)).collect()))
        .collect();
    seen.sort();
    assert_eq!(seen, expected);

    // The scope has a new key; Alice reads and writes on.
    alice.ok(["doc", "edit", &plan, "--append", " three"]);
    assert_eq!(body(&alice, &plan), "one two three");
    assert_eq!(change_ids(&alice, &plan).len(), 4);
}
