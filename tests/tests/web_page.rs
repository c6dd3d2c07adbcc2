//! The node's web page in a real browser: two members of HQ/East on two
//! `outpost up` processes on 127.0.0.1, each with a headless Chromium
//! logged in to their own node, driven by `tests/e2e/web.mjs`
//! (playwright-core).
//!
//! The script checks that the page and the API refuse a browser without
//! the token, that chat messages pass both ways, that both members typing
//! into one document at once end with the same text holding both
//! sentences whole, that the history lists the changes, and takes
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
use std::time::{Duration, Instant};

/// The browser the script drives (Debian's `chromium` package).
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long the whole browser script may take.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);
/// What the document holds before the browsers type into it.
const FIRST_TEXT: &str = "Weekly notes.\n";

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
/// document converges with both sentences whole, and the history lists
/// the changes.
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

    let screenshots = target_dir().join("web-screenshots");
    let config = json!({
        "a": side(&a),
        "b": side(&b),
        "channel": channel,
        "channel_name": channel_name,
        "doc": doc,
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
}
