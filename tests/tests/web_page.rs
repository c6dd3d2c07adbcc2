//! The node's web page in a real browser: two members of HQ/East on two
//! `outpost up` processes on 127.0.0.1, each with a headless Chromium
//! logged in to their own node, driven by `tests/e2e/web.mjs`
//! (playwright-core).
//!
//! The script checks that the page and the API refuse a browser without
//! the token, that chat messages pass both ways, that both members typing
//! into one document at once end with the same text holding both
//! sentences whole, that the history lists the changes, that a card added
//! on a project's board and then dragged to another column (HTML5 drag
//! and drop) shows there on the other member's board, and that the task
//! details' column select moves a card at phone width; it takes
//! screenshots (desktop and phone width) into `target/web-screenshots/`.
//! This test then checks through the API that both nodes hold what the
//! browsers wrote.
//!
//! Needs `/usr/bin/chromium` and `tests/e2e/node_modules/playwright-core`:
//! `scripts/test` installs both. Without them this test fails.

use outpost_tests::cluster::{TIMEOUT, acme, converged, member, new_doc, wait_for_peers};
use outpost_tests::{RunningNode, wait_until};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The browser the script drives (Debian's `chromium` package).
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long the whole browser script may take.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);
/// What the document holds before the browsers type into it.
const FIRST_TEXT: &str = "Weekly notes.\n";
/// The project whose board the browsers work on.
const PROJECT: &str = "Launch";
/// Seconds in a day.
const DAY: u64 = 86_400;

/// The workspace's root directory.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// The target directory this test was built into (`CARGO_TARGET_DIR` or
/// the workspace's `target/`): this executable is in
/// `<target>/<profile>/deps/`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    exe.ancestors()
        .nth(3)
        .expect("test executables live in <target>/<profile>/deps")
        .to_path_buf()
}

/// Fails unless the browser and playwright-core are installed.
fn require_browser() {
    let playwright = workspace().join("tests/e2e/node_modules/playwright-core");
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(CHROMIUM.to_owned());
    }
    if !playwright.exists() {
        missing.push(playwright.display().to_string());
    }
    assert!(
        missing.is_empty(),
        "the browser tests need {}: run scripts/test (it installs Chromium and tests/e2e's npm packages) \
         and then this test again",
        missing.join(" and ")
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "the browser tests need Node.js (`node` on PATH): {node:?}"
    );
}

/// `url` and `login` of a running node, for the script.
fn side(node: &RunningNode) -> Value {
    let api = node.api();
    let url = format!("http://{}", api.addr);
    json!({ "url": url, "login": format!("{url}/login?token={}", api.token) })
}

/// Whether `node` lists channel `channel` (named `name`).
fn lists_channel(node: &RunningNode, channel: &str, name: &str) -> Result<(), String> {
    let list = node.try_get("/api/channels")?;
    let row = list
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["channel"] == channel))
        .ok_or_else(|| format!("{} does not list the channel: {list}", node.name()))?;
    (row["name"] == name)
        .then_some(())
        .ok_or_else(|| format!("{} lists it as {row}", node.name()))
}

/// Whether `node` shows every message of `texts` in `channel`.
fn shows_messages(node: &RunningNode, channel: &str, texts: &[&str]) -> Result<(), String> {
    let shown = node.try_get(&format!("/api/channels/{channel}/messages?peek=true"))?;
    let messages = shown["messages"]
        .as_array()
        .ok_or_else(|| format!("no messages in {shown}"))?;
    for text in texts {
        if !messages.iter().any(|m| m["text"] == *text) {
            return Err(format!("{} does not show {text:?}: {shown}", node.name()));
        }
    }
    Ok(())
}

/// `POST /api/tasks` on `node`; errors are described.
fn try_tasks(node: &RunningNode, req: &Value) -> Result<Value, String> {
    let r = node.request("POST", "/api/tasks", Some(req), true)?;
    if r.status != 200 {
        return Err(format!("{}: status {}: {}", node.name(), r.status, r.body));
    }
    r.json()
}

/// The id of the task a `task add --json` made.
fn task_id(added: &Value) -> String {
    added["task"]
        .as_str()
        .unwrap_or_else(|| panic!("task add --json printed no task id: {added}"))
        .to_owned()
}

/// Where task `task` is on `board` (a `board` answer): its column's id
/// and its place in it.
fn place_of(board: &Value, task: &str) -> Option<(String, usize)> {
    board["board"]["columns"].as_array()?.iter().find_map(|c| {
        let at = c["cards"].as_array()?.iter().position(|t| t["id"] == task)?;
        Some((c["id"].as_str()?.to_owned(), at))
    })
}

/// Whether `node`'s board of `project` shows `task` at `at` of column
/// `column`.
fn shows_card_at(node: &RunningNode, project: &str, task: &str, column: &str, at: usize) -> Result<Value, String> {
    let board = try_tasks(node, &json!({"action": "board", "project": project}))?;
    match place_of(&board, task) {
        Some((c, i)) if c == column && i == at => Ok(board),
        other => Err(format!("{} shows task {task} at {other:?}: {board}", node.name())),
    }
}

/// What `node tests/e2e/web.mjs` did.
struct ScriptRun {
    success: bool,
    status: String,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs the browser script with `config` in `OUTPOST_E2E`; kills it after
/// [`SCRIPT_TIMEOUT`]. Its output goes to files in `dir`.
fn run_script(config: &Value, dir: &Path) -> ScriptRun {
    let out_path = dir.join("web-e2e.stdout");
    let err_path = dir.join("web-e2e.stderr");
    let out = std::fs::File::create(&out_path).expect("the script's stdout file can be made");
    let err = std::fs::File::create(&err_path).expect("the script's stderr file can be made");
    let started = Instant::now();
    let mut child = Command::new("node")
        .arg("tests/e2e/web.mjs")
        .current_dir(workspace())
        .env("OUTPOST_E2E", config.to_string())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node tests/e2e/web.mjs: {e}"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("the script can be waited for") {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| format!("(cannot read {}: {e})", p.display()));
    ScriptRun {
        success: status.is_some_and(|s| s.success()),
        status: status.map_or_else(|| format!("killed after {SCRIPT_TIMEOUT:?}"), |s| s.to_string()),
        stdout: read(&out_path),
        stderr: read(&err_path),
        took: started.elapsed(),
    }
}

/// Two members of HQ/East, each in a browser on their own node: the
/// page refuses strangers, chat passes both ways, typing at once into one
/// document converges with both sentences whole, the history lists the
/// changes, and cards added, dragged and moved on a project's board show
/// on the other's board and end in the same column on both nodes.
#[test]
fn two_members_chat_and_edit_one_document_in_their_browsers() {
    require_browser();

    let (sb, admin) = acme();
    let anna = member(&sb, &admin, "anna");
    let ben = member(&sb, &admin, "ben");
    // Made before anyone runs, in HQ/East (Anna's department), so that
    // both can read and write them.
    let channel_name = "east-web";
    let made = anna.json(["channel", "create", channel_name, "--topic", "Browser test"]);
    let channel = made["channel"]
        .as_str()
        .unwrap_or_else(|| panic!("channel create --json printed no id: {made}"))
        .to_owned();
    let doc = new_doc(&anna, "Web notes", &[]);
    anna.ok(["doc", "edit", &doc, "--set-text", FIRST_TEXT]);
    // A project of HQ/East (by default, Anna's department), with cards
    // that carry what a card can show: one past its due day.
    let made = anna.json(["project", "create", PROJECT]);
    let project = made["project"]
        .as_str()
        .unwrap_or_else(|| panic!("project create --json printed no id: {made}"))
        .to_owned();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs();
    let hall = task_id(&anna.json([
        "task",
        "add",
        PROJECT,
        "Book the hall",
        "--assignee",
        "anna",
        "--due",
        &(now - 2 * DAY).to_string(),
        "--priority",
        "urgent",
        "--label",
        "venue",
    ]));
    anna.ok(["task", "item", &hall, "Ask for quotes"]);
    anna.ok(["task", "item", &hall, "Sign the contract"]);
    anna.ok(["task", "check", &hall, "1"]);
    let release = task_id(&anna.json([
        "task",
        "add",
        PROJECT,
        "Write the press release",
        "--assignee",
        "anna",
        "--due",
        &(now + 7 * DAY).to_string(),
        "--priority",
        "high",
        "--label",
        "press",
        "--column",
        "In progress",
    ]));
    anna.ok(["task", "comment", &release, "First draft is in the shared folder"]);
    anna.json([
        "task",
        "add",
        PROJECT,
        "Order the banners",
        "--label",
        "print",
        "--column",
        "Done",
    ]);

    let a = anna.up(&[]);
    let b = ben.up(&[a.addr()]);
    let all = [&a, &b];
    wait_for_peers(&a, &[&b], &all);
    wait_for_peers(&b, &[&a], &all);
    wait_until("both nodes show the document", TIMEOUT, &all, || {
        converged(&all, &doc, &[FIRST_TEXT])
    });
    wait_until("ben's node lists the channel", TIMEOUT, &all, || {
        lists_channel(&b, &channel, channel_name)
    });
    wait_until("ben's node shows the board", TIMEOUT, &all, || {
        shows_card_at(&b, &project, &release, "in_progress", 0).map(drop)
    });

    let screenshots = target_dir().join("web-screenshots");
    let config = json!({
        "a": side(&a),
        "b": side(&b),
        "channel": channel,
        "channel_name": channel_name,
        "doc": doc,
        "project": project,
        "project_name": PROJECT,
        "tasks": { "hall": hall, "release": release },
        "screenshots": screenshots,
    });
    let run = run_script(&config, sb.dir());
    println!(
        "node tests/e2e/web.mjs: {} in {:.1?}\n--- stdout\n{}--- stderr\n{}---",
        run.status, run.took, run.stdout, run.stderr
    );
    assert!(
        run.success,
        "the browser script failed ({}); screenshots in {}\n--- stdout\n{}--- stderr\n{}---\n{}\n{}",
        run.status,
        screenshots.display(),
        run.stdout,
        run.stderr,
        a.logs(),
        b.logs()
    );
    let report: Value = run
        .stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("the script printed no JSON report: {}", run.stdout));
    assert_eq!(report["ok"], true, "{report}");

    // What the browsers wrote is on both nodes.
    let texts: Vec<&str> = report["chat"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(texts.len(), 2, "the report names the two chat messages: {report}");
    for node in all {
        wait_until(
            &format!("{} holds both chat messages", node.name()),
            TIMEOUT,
            &all,
            || shows_messages(node, &channel, &texts),
        );
    }
    let body = wait_until("both nodes hold the typed document", TIMEOUT, &all, || {
        converged(&all, &doc, &["Hello from A. ", "B was here. ", FIRST_TEXT.trim_end()])
    });
    assert_eq!(
        Some(body.as_str()),
        report["doc_text"].as_str(),
        "the nodes hold another text than the editors showed"
    );

    // The file uploaded in A's page, byte for byte from both nodes (b
    // fetches it from a).
    let file = report["upload"]["id"].as_str().expect("the report names the upload");
    let text = report["upload"]["text"].as_str().expect("and its text");
    for node in all {
        let got = node
            .request("GET", &format!("/api/files/{file}/content"), None, true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((got.status, got.body.as_str()), (200, text), "{}", node.name());
    }

    // The card A dragged is at the top of In progress on both nodes, with
    // what A gave it and B's comment; the card B moved with the select is
    // at the end of Done; the project A made is listed on both.
    let dragged = report["board"]["dragged"]
        .as_str()
        .expect("the report names the dragged card");
    let title = report["board"]["title"].as_str().expect("and its title");
    let comment = report["board"]["comment"].as_str().expect("and B's comment");
    let created = report["board"]["created"].as_str().expect("and the project A made");
    for node in all {
        let board = wait_until(
            &format!("{} shows the dragged card first in In progress", node.name()),
            TIMEOUT,
            &all,
            || shows_card_at(node, &project, dragged, "in_progress", 0),
        );
        let card = board["board"]["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["cards"].as_array().into_iter().flatten())
            .find(|t| t["id"] == dragged)
            .expect("the board shows the card");
        assert_eq!(card["title"], title, "{}: {card}", node.name());
        assert!(card["deadline"].as_i64().is_some(), "{}: {card}", node.name());
        let assignees = card["assignees"].as_array().expect("a list of assignees");
        assert_eq!(assignees.len(), 1, "{}: {card}", node.name());
        assert_eq!(board["names"][assignees[0].as_str().expect("a key")], "ben", "{board}");
        wait_until(&format!("{} holds B's comment", node.name()), TIMEOUT, &all, || {
            let shown = try_tasks(node, &json!({"action": "show", "task": dragged}))?;
            (shown["task"]["comments"][0]["text"] == comment)
                .then_some(())
                .ok_or_else(|| format!("{}: {shown}", node.name()))
        });
        wait_until(
            &format!("{} shows the card moved with the select in Done", node.name()),
            TIMEOUT,
            &all,
            || shows_card_at(node, &project, &hall, "done", 1).map(drop),
        );
        let listed = try_tasks(node, &json!({"action": "list_projects"})).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            listed["projects"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["project"] == created)),
            "{} does not list the project made in the page: {listed}",
            node.name()
        );
    }
}
