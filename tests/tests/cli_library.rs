//! The library through the CLI on one node: folders, renames, the trash
//! and deletion; Markdown in and out (and HTML and automerge out);
//! history, diffs, named versions and restores; files and their versions
//! under the org's size limit; errors that say what is wrong and change
//! nothing; and rich-text edits through a running node's HTTP API.

use automerge::ReadDoc;
use outpost_tests::{Node, Sandbox, exit, words};
use serde_json::{Value, json};
use std::path::Path;

/// Alice's node: she created org Acme and is its first admin.
fn alice(sb: &Sandbox) -> Node {
    let alice = sb.node("alice");
    alice.init("Alice");
    alice.ok(words("org create --name Acme"));
    alice
}

/// `doc new --title TITLE <extra>`; returns the entry's id.
fn new_doc(node: &Node, title: &str, extra: &[&str]) -> String {
    let mut args = vec!["doc", "new", "--title", title];
    args.extend_from_slice(extra);
    let created = node.json(args);
    assert_eq!(created["title"], title, "{created}");
    created["id"].as_str().expect("doc new prints the id").to_owned()
}

/// `file put PATH <extra>`; returns the entry's id.
fn put_file(node: &Node, path: &Path, extra: &[&str]) -> String {
    let mut cmd = node.cmd(["file", "put"]);
    cmd.arg(path).args(extra);
    let stored = cmd.json();
    stored["id"].as_str().expect("file put prints the id").to_owned()
}

/// The body of `doc show --json`.
fn body(node: &Node, id: &str) -> String {
    let doc = node.json(["doc", "show", id]);
    doc["body"].as_str().expect("doc show prints the body").to_owned()
}

/// The ids in `doc list --json <extra>`, in the listed order.
fn listed(node: &Node, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["doc", "list"];
    args.extend_from_slice(extra);
    let list = node.json(args);
    list.as_array()
        .unwrap_or_else(|| panic!("doc list prints an array, not {list}"))
        .iter()
        .map(|e| e["id"].as_str().expect("every entry has an id").to_owned())
        .collect()
}

/// `field` of every row of `doc history --json`, oldest first.
fn history_column(node: &Node, id: &str, field: &str) -> Vec<Value> {
    let history = node.json(["doc", "history", id]);
    history
        .as_array()
        .unwrap_or_else(|| panic!("doc history prints an array, not {history}"))
        .iter()
        .map(|r| r[field].clone())
        .collect()
}

/// Writes `bytes` to `name` in the sandbox; returns the path.
fn write_bytes(sb: &Sandbox, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = sb.path(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Bytes that are not text, different for each `salt`.
fn binary(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt) ^ (i >> 8) as u8)
        .collect()
}

#[test]
fn folders_renames_the_trash_and_deletion_keep_the_lists_right() {
    let sb = Sandbox::new();
    let alice = alice(&sb);
    let plan = new_doc(&alice, "Plan", &["--folder", "projects/2027"]);
    let budget = new_doc(&alice, "Budget", &["--folder", "projects"]);
    let loose = new_doc(&alice, "Loose notes", &[]);

    // A folder lists what is in it and below it, nothing beside it.
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    assert_eq!(
        sorted(listed(&alice, &["--folder", "projects"])),
        sorted(vec![plan.clone(), budget.clone()])
    );
    assert_eq!(listed(&alice, &["--folder", "projects/2027"]), [plan.as_str()]);
    assert_eq!(listed(&alice, &["--folder", "proj"]), Vec::<String>::new());
    assert_eq!(listed(&alice, &[]).len(), 3);

    // Moving within the space and renaming keep the id.
    alice
        .ok(["doc", "mv", &loose, "archive/2026"])
        .stdout_has(&format!("moved: {loose}"));
    alice
        .ok(["doc", "rename", &loose, "Old notes"])
        .stdout_has("renamed: change");
    let shown = alice.json(["doc", "show", &loose]);
    assert_eq!(
        (&shown["title"], &shown["folder"], &shown["kind"]),
        (&json!("Old notes"), &json!("archive/2026"), &json!("text")),
        "{shown}"
    );
    assert_eq!(listed(&alice, &["--folder", "archive"]), [loose.as_str()]);
    let text = alice.ok(["doc", "list", "--folder", "archive"]).stdout;
    assert!(
        text.lines()
            .any(|l| l.starts_with(&loose) && l.contains("Old notes") && l.contains("archive/2026")),
        "{text}"
    );

    // The trash: listed only with --trash, and back again.
    alice
        .ok(["doc", "trash", &budget])
        .stdout_has("moved to the trash: change");
    assert!(!listed(&alice, &[]).contains(&budget));
    assert_eq!(listed(&alice, &["--trash"]), [budget.as_str()]);
    assert_eq!(alice.json(["doc", "show", &budget])["trashed"], true);
    alice
        .ok(["doc", "untrash", &budget])
        .stdout_has("restored from the trash: change");
    assert!(listed(&alice, &[]).contains(&budget));
    assert_eq!(listed(&alice, &["--trash"]), Vec::<String>::new());

    // Deleted for good: in neither list, shown empty, and never edited
    // again.
    alice.ok(["doc", "edit", &plan, "--set-text", "launch in May"]);
    alice.ok(["doc", "trash", &plan]);
    alice
        .ok(["doc", "delete", &plan])
        .stdout_has("deleted for good: change");
    assert!(!listed(&alice, &[]).contains(&plan));
    assert!(!listed(&alice, &["--trash"]).contains(&plan));
    let shown = alice.json(["doc", "show", &plan]);
    assert_eq!(
        (&shown["title"], &shown["body"], &shown["markdown"]),
        (&json!(""), &json!(""), &json!("")),
        "{shown}"
    );
    for line in [
        format!("doc edit {plan} --append again"),
        format!("doc rename {plan} Again"),
        format!("doc untrash {plan}"),
    ] {
        alice.fails(words(&line), exit::ERROR, "this document was deleted permanently");
    }
    alice.fails(
        ["doc", "delete", &plan],
        exit::ERROR,
        "this document was deleted permanently",
    );
}

#[test]
fn markdown_round_trips_and_exports_as_html_and_automerge() {
    let sb = Sandbox::new();
    let alice = alice(&sb);
    // Written as the exporter writes it (italics with underscores), so the
    // round trip is exact.
    let markdown = "# Launch plan\n\n## Goals\n\nShip **version 2** with _care_ and `tests`, see [the brief](https://example.com/brief).\n\n- first bullet\n- second bullet\n\n1. one\n2. two\n\n> a quote\n";
    let source = sb.write("plan.md", markdown);
    let id = new_doc(&alice, "Plan", &["--markdown", &source.to_string_lossy()]);

    let shown = alice.json(["doc", "show", &id]);
    let kinds: Vec<&Value> = shown["blocks"]
        .as_array()
        .expect("doc show prints the blocks")
        .iter()
        .map(|b| &b["kind"])
        .collect();
    assert_eq!(
        kinds,
        [
            &json!({"type": "heading", "level": 1}),
            &json!({"type": "heading", "level": 2}),
            &json!({"type": "paragraph"}),
            &json!({"type": "bullet_item"}),
            &json!({"type": "bullet_item"}),
            &json!({"type": "numbered_item"}),
            &json!({"type": "numbered_item"}),
            &json!({"type": "quote"}),
        ],
        "{shown:#}"
    );
    let runs = &shown["blocks"][2]["runs"];
    assert_eq!(
        runs[1],
        json!({"text": "version 2", "bold": true, "italic": false, "code": false, "link": null})
    );
    assert_eq!(runs[7]["link"], "https://example.com/brief", "{runs:#}");

    alice
        .ok(["doc", "export", &id, "--format", "markdown", "--out", "plan-out.md"])
        .stdout_has("plan-out.md");
    assert_eq!(sb.read("plan-out.md"), format!("# Plan\n\n{markdown}"));

    // Importing the export into another document gives the same blocks.
    let copy = new_doc(&alice, "Plan", &[]);
    alice
        .ok(["doc", "import", &copy, "plan.md"])
        .stdout_has("imported: change");
    assert_eq!(alice.json(["doc", "show", &copy])["blocks"], shown["blocks"]);

    // HTML: text is escaped, never markup.
    let risky = sb.write("risky.md", "Click <script>alert('x')</script> & **go**\n");
    let page = new_doc(&alice, "A <b>bold</b> title", &["--markdown", &risky.to_string_lossy()]);
    alice.ok(["doc", "export", &page, "--format", "html", "--out", "page.html"]);
    let html = sb.read("page.html");
    assert!(!html.contains("<script>") && !html.contains("<b>"), "{html}");
    for needle in [
        "&lt;script&gt;",
        "&lt;/script&gt;",
        "&amp;",
        "<strong>go</strong>",
        "<title>A &lt;b&gt;bold&lt;/b&gt; title</title>",
    ] {
        assert!(html.contains(needle), "the HTML lacks {needle:?}:\n{html}");
    }

    // The automerge binary loads in automerge itself, with the title and
    // the text in it.
    alice.ok(["doc", "export", &id, "--format", "automerge", "--out", "plan.automerge"]);
    let bytes = std::fs::read(sb.path("plan.automerge")).expect("the export was written");
    let loaded = automerge::AutoCommit::load(&bytes).expect("automerge loads the export");
    let text_of = |key: &str| -> String {
        let (_, obj) = loaded
            .get(automerge::ROOT, key)
            .expect("the root map is readable")
            .unwrap_or_else(|| panic!("the automerge document has no {key:?}"));
        loaded.text(&obj).unwrap_or_else(|e| panic!("{key:?} is not text: {e}"))
    };
    assert_eq!(text_of("title"), "Plan");
    let body = text_of("body");
    for needle in ["Launch plan", "version 2", "second bullet", "a quote"] {
        assert!(body.contains(needle), "the automerge body lacks {needle:?}: {body:?}");
    }
}

#[test]
fn history_diffs_named_versions_and_restores() {
    let sb = Sandbox::new();
    let alice = alice(&sb);
    let id = new_doc(&alice, "Notes", &[]);
    alice.ok(["doc", "edit", &id, "--set-text", "alpha\nbeta\n"]);
    alice.ok(["doc", "version", &id, "v1"]).stdout_has("named: change");
    alice.ok(["doc", "edit", &id, "--set-text", "alpha\ngamma\ndelta\n"]);

    assert_eq!(
        history_column(&alice, &id, "summary"),
        ["created", "+11 chars", "+64 chars, named a version", "+8 -1 chars"]
    );
    assert_eq!(history_column(&alice, &id, "author"), vec![json!("Alice (admin)"); 4]);
    let text = alice.ok(["doc", "history", &id]).stdout;
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        text.lines()
            .all(|l| l.contains("Alice (admin)") && l.contains("2027-01-15 08:00:00")),
        "{text}"
    );

    // The diff from the named version: what went, what came.
    let diff = alice.json(["doc", "diff", &id, "v1"]);
    let changed: Vec<(&str, &str)> = diff
        .as_array()
        .expect("doc diff prints an array")
        .iter()
        .filter(|l| l["change"] != "same")
        .map(|l| (l["change"].as_str().unwrap_or("?"), l["text"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(
        changed,
        // Lines of the Markdown: paragraphs are separated by blank lines.
        [
            ("removed", "beta"),
            ("added", "gamma"),
            ("added", ""),
            ("added", "delta")
        ],
        "{diff:#}"
    );
    let text = alice.ok(["doc", "diff", &id, "v1"]).stdout;
    for line in ["- beta", "+ gamma", "+ delta", "  alpha"] {
        assert!(text.lines().any(|l| l == line), "the diff lacks {line:?}:\n{text}");
    }
    // Between two change ids from the history, too.
    let changes = history_column(&alice, &id, "change");
    let first = changes[1].as_str().expect("a change id");
    let diff = alice.json(["doc", "diff", &id, &first[..12], "v1"]);
    assert!(
        diff.as_array()
            .is_some_and(|ls| ls.iter().all(|l| l["change"] == "same")),
        "nothing changed in the body between the edit and naming it: {diff:#}"
    );

    // The old text at the name; then brought back as a new change.
    let old = alice.json(["doc", "show", &id, "--at", "v1"]);
    assert_eq!(old["markdown"], "alpha\n\nbeta\n", "{old}");
    assert_eq!(body(&alice, &id), "alpha\ngamma\ndelta\n");
    alice.ok(["doc", "restore", &id, "v1"]).stdout_has("restored: change");
    assert_eq!(body(&alice, &id), "alpha\nbeta\n");
    let after = history_column(&alice, &id, "change");
    assert_eq!(after.len(), 5, "a restore adds a change");
    assert_eq!(after[..4], changes[..], "a restore rewrites no history");
    // The text it replaced is still there to go back to.
    let newest = changes[3].as_str().expect("a change id");
    alice.ok(["doc", "restore", &id, newest]);
    assert_eq!(body(&alice, &id), "alpha\ngamma\ndelta\n");
    // Restoring what the document already reads saves nothing.
    alice
        .ok(["doc", "restore", &id, newest])
        .stdout_has("nothing to change");
    assert_eq!(history_column(&alice, &id, "change").len(), 6);
}

#[test]
fn files_keep_every_version_within_the_orgs_limit() {
    let sb = Sandbox::new();
    let alice = alice(&sb);
    let first = binary(300_000, 1);
    let second = binary(123_457, 2);
    let one = write_bytes(&sb, "drawing.bin", &first);
    let two = write_bytes(&sb, "drawing-v2.bin", &second);

    let id = put_file(&alice, &one, &["--folder", "designs"]);
    assert_eq!(listed(&alice, &["--folder", "designs"]), [id.as_str()]);
    let files = alice.json(["file", "ls"]);
    assert_eq!(files.as_array().map(Vec::len), Some(1), "{files}");
    assert_eq!(
        (&files[0]["kind"], &files[0]["title"], &files[0]["bytes"]),
        (&json!("file"), &json!("drawing.bin"), &json!(300_000)),
        "{files}"
    );

    let mut cmd = alice.cmd(["file", "put"]);
    cmd.arg(&two).args(["--to", &id[..8]]);
    let stored = cmd.json();
    assert_eq!(stored["id"], id.as_str(), "a new version keeps the entry: {stored}");

    let versions = alice.json(["file", "versions", &id]);
    let sizes: Vec<&Value> = versions
        .as_array()
        .expect("file versions prints an array")
        .iter()
        .map(|v| &v["bytes"])
        .collect();
    assert_eq!(sizes, [&json!(300_000), &json!(123_457)], "{versions:#}");
    let text = alice.ok(["file", "versions", &id]).stdout;
    assert_eq!(text.lines().count(), 2, "{text}");

    alice.ok(["file", "get", &id, "--out", "got-1.bin", "--version", "1"]);
    alice.ok(["file", "get", &id, "--out", "got-now.bin"]);
    let read = |name: &str| std::fs::read(sb.path(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
    assert!(read("got-1.bin") == first, "version 1 differs from the first upload");
    assert!(
        read("got-now.bin") == second,
        "the current version differs from the second upload"
    );
    alice.fails(
        ["file", "get", &id, "--out", "got-3.bin", "--version", "3"],
        exit::ERROR,
        "this file has versions 1 to 2, not 3",
    );
    assert!(!sb.path("got-3.bin").exists(), "a refused get writes no file");

    // Over the org's limit: refused before anything is stored.
    alice.ok(["org", "set", "--file-size-max", "200KB"]);
    alice.ok(["org", "settings"]).stdout_has("largest file: 200 KB");
    let blobs = || {
        std::fs::read_dir(alice.home().join("blobs"))
            .expect("the home has a blobs directory")
            .count()
    };
    let held = blobs();
    alice.fails(
        ["file", "put", &one.to_string_lossy()],
        exit::ERROR,
        "drawing.bin is 293.0 KB; files of at most 200 KB may be sent (the org's limit)",
    );
    alice.fails(
        ["file", "put", &one.to_string_lossy(), "--to", &id],
        exit::ERROR,
        "files of at most 200 KB may be sent",
    );
    assert_eq!(blobs(), held, "a refused file leaves no blob behind");
    assert_eq!(alice.json(["file", "versions", &id]), versions);
}

#[test]
fn library_commands_say_what_is_wrong_and_change_nothing() {
    let sb = Sandbox::new();
    let alice = alice(&sb);
    let id = new_doc(&alice, "Plan", &["--folder", "projects"]);
    alice.ok(["doc", "edit", &id, "--set-text", "first\n"]);
    let file = put_file(&alice, &sb.write("notes.txt", "some notes\n"), &[]);

    let failures: Vec<(String, i32, &[&str])> = vec![
        (
            "doc show ffffffff".into(),
            exit::ERROR,
            &["no document \"ffffffff\" here"],
        ),
        (
            "doc rename ffffffff Other".into(),
            exit::ERROR,
            &["no document \"ffffffff\" here"],
        ),
        (
            "doc trash ffffffff".into(),
            exit::ERROR,
            &["no document \"ffffffff\" here"],
        ),
        (
            "doc delete ffffffff".into(),
            exit::ERROR,
            &["no document \"ffffffff\" here"],
        ),
        (
            "doc mv ffffffff archive".into(),
            exit::ERROR,
            &["no document \"ffffffff\" here"],
        ),
        (
            "file versions ffffffff".into(),
            exit::ERROR,
            &["no document \"ffffffff\" here"],
        ),
        (
            "file get ffffffff --out x.bin".into(),
            exit::ERROR,
            &["no document \"ffffffff\" here"],
        ),
        (
            format!("doc mv {id} a//b"),
            exit::ERROR,
            &["the folder path \"a//b\" is not valid", "doubled '/'"],
        ),
        (
            "doc new --title Other --folder a//b".into(),
            exit::ERROR,
            &["the folder path \"a//b\" is not valid"],
        ),
        (
            format!("doc show {id} --at nope"),
            exit::ERROR,
            &["no version \"nope\" of this document", "a change id from its history"],
        ),
        (
            format!("doc restore {id} nope"),
            exit::ERROR,
            &["no version \"nope\" of this document"],
        ),
        (
            format!("doc diff {id} nope"),
            exit::ERROR,
            &["no version \"nope\" of this document"],
        ),
        (
            format!("doc export {id} --format pdf --out plan.pdf"),
            exit::ERROR,
            &["cannot export as \"pdf\": choose markdown, html or automerge"],
        ),
        (
            format!("doc edit {file} --append x"),
            exit::ERROR,
            &["this is a file, not a text document"],
        ),
        (
            format!("file get {id} --out plan.bin"),
            exit::ERROR,
            &["this is a text document, not a file"],
        ),
        (
            format!("file put notes.txt --to {id}"),
            exit::ERROR,
            &["this is a text document"],
        ),
        (
            "doc new --title Other --space Nowhere".into(),
            exit::ERROR,
            &["no space \"Nowhere\"", "outpost space list"],
        ),
        ("doc version".into(), exit::USAGE, &["required"]),
    ];
    for (line, code, needles) in failures {
        let run = alice.fails(words(&line), code, needles[0]);
        needles[1..].iter().fold(run, |run, needle| run.stderr_has(needle));
    }
    for name in ["plan.pdf", "x.bin", "plan.bin"] {
        assert!(!sb.path(name).exists(), "a failed command wrote {name}");
    }
    // A second version named like the first is refused too.
    alice.ok(["doc", "version", &id, "v1"]);
    alice.fails(
        ["doc", "version", &id, "v1"],
        exit::ERROR,
        "a version is already named \"v1\"",
    );
    assert_eq!(body(&alice, &id), "first\n");
}

#[test]
fn rich_text_edits_over_http_make_a_bold_run() {
    let sb = Sandbox::real_clock();
    let alice = alice(&sb);
    let id = new_doc(&alice, "Greeting", &[]);
    let node = alice.up(&[]);

    let edits = json!({"edits": [
        {"op": "insert", "at": 0, "text": "Hello world"},
        {"op": "format", "start": 0, "end": 5, "mark": "bold", "on": true},
        {"op": "set_block", "at": 0, "kind": {"type": "heading", "level": 2}},
    ]});
    let saved = node.post(&format!("/api/docs/{id}"), &edits);
    assert_eq!(saved["changed"], true, "{saved}");
    assert_eq!(saved["text_len"], 11, "{saved}");
    let shown = node.get(&format!("/api/docs/{id}"));
    assert_eq!(
        shown["blocks"][0],
        json!({"kind": {"type": "heading", "level": 2}, "runs": [
            {"text": "Hello", "bold": true, "italic": false, "code": false, "link": null},
            {"text": " world", "bold": false, "italic": false, "code": false, "link": null},
        ]}),
        "{shown:#}"
    );
    assert_eq!(shown["markdown"], "## **Hello** world\n", "{shown:#}");

    // Edits made against older heads are carried over what came since.
    let base = saved["heads"].clone();
    node.post(
        &format!("/api/docs/{id}"),
        &json!({"edits": [{"op": "insert", "at": 0, "text": "Oh! "}]}),
    );
    let late = node.post(
        &format!("/api/docs/{id}"),
        &json!({"base": base, "edits": [{"op": "insert", "at": 11, "text": "!"}]}),
    );
    assert_eq!(late["changed"], true, "{late}");
    assert_eq!(node.get(&format!("/api/docs/{id}"))["body"], "Oh! Hello world!");

    // A bad edit is refused with a reason, and changes nothing.
    let before = node.get(&format!("/api/docs/{id}"));
    let refused = node
        .request(
            "POST",
            &format!("/api/docs/{id}"),
            Some(&json!({"edits": [{"op": "format", "start": 0, "end": 2, "mark": "blink", "on": true}]})),
            true,
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", node.logs()));
    assert!(
        (400..500).contains(&refused.status) && refused.body.contains("blink"),
        "{} {}",
        refused.status,
        refused.body
    );
    assert_eq!(node.get(&format!("/api/docs/{id}")), before);

    // The CLI goes through the running node and sees the same document.
    let through_cli = alice.json(["doc", "show", &id]);
    assert_eq!(through_cli["blocks"], before["blocks"]);
}

#[test]
fn space_history_is_the_permission_audit_of_a_space() {
    let sb = Sandbox::new();
    let alice = alice(&sb);
    alice.ok(words(
        "space create Apollo --writers dept:HQ/Marketing --readers dept:HQ/RnD",
    ));
    let unchanged = alice.json(words("space history Apollo"));
    let rows = unchanged.as_array().expect("space history prints an array");
    assert_eq!(rows.len(), 1, "{unchanged}");
    assert_eq!(rows[0]["what"], "created", "{unchanged}");
    assert_eq!(rows[0]["by"], "Alice", "{unchanged}");
    assert_eq!(rows[0]["in_force"], true, "{unchanged}");

    alice.ok(words(
        "space share Apollo --writers dept:HQ/Marketing,dept:HQ/RnD --readers everyone",
    ));
    let history = alice.json(words("space history Apollo"));
    let rows = history.as_array().expect("space history prints an array");
    let column = |key: &str| -> Vec<Value> { rows.iter().map(|r| r[key].clone()).collect() };
    assert_eq!(column("what"), [json!("created"), json!("reshared")], "{history}");
    assert_eq!(column("in_force"), [json!(false), json!(true)], "{history}");
    assert_eq!(
        rows[1]["writers"],
        json!(["dept:HQ/Marketing", "dept:HQ/RnD"]),
        "{history}"
    );
    assert_eq!(rows[1]["readers"], json!(["everyone"]), "{history}");
    assert_eq!(column("accepted"), [json!(true), json!(true)], "{history}");
    // The listing shows the policy in force.
    let spaces = alice.json(words("space list"));
    let apollo = spaces
        .as_array()
        .expect("space list prints an array")
        .iter()
        .find(|s| s["name"] == "Apollo")
        .unwrap_or_else(|| panic!("Apollo is not listed: {spaces}"));
    assert_eq!(apollo["readers"], json!(["everyone"]), "{apollo}");
    alice
        .ok(words("space history Apollo"))
        .stdout_has("reshared")
        .stdout_has("(in force)");
    alice.fails(words("space history Nowhere"), exit::ERROR, "no space \"Nowhere\"");
}
