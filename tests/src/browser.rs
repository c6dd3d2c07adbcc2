//! Helpers for the browser tests: a script under `tests/e2e/` run with
//! Node.js and playwright-core against Debian's Chromium, given its
//! configuration as JSON in `OUTPOST_E2E`.
//!
//! The script's output goes to files (never a pipe the test would have to
//! drain), and the test can act while it runs: [`run_script`] calls back
//! every [`POLL_INTERVAL`], so a script can hand the test a file and wait
//! for the test's answer in another.

use crate::RunningNode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The browser the scripts drive (Debian's `chromium` package).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How often [`run_script`] checks the script and calls back.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// The target directory the running test was built into
/// (`CARGO_TARGET_DIR` or the workspace's `target/`): test executables
/// are in `<target>/<profile>/deps/`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    exe.ancestors()
        .nth(3)
        .expect("test executables live in <target>/<profile>/deps")
        .to_path_buf()
}

/// Where the browser tests write their screenshots.
pub fn screenshots() -> PathBuf {
    target_dir().join("web-screenshots")
}

/// Fails unless the browser, playwright-core and Node.js are installed.
pub fn require_browser() {
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

/// `url` and `login` (the link `outpost open` prints) of a running node,
/// for a script.
pub fn side(node: &RunningNode) -> Value {
    let api = node.api();
    let url = format!("http://{}", api.addr);
    json!({ "url": url, "login": format!("{url}/login?token={}", api.token) })
}

/// What a script run did.
#[derive(Debug)]
pub struct ScriptRun {
    /// Whether it exited with status 0.
    pub success: bool,
    /// How it ended.
    pub status: String,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// How long it ran.
    pub took: Duration,
}

impl ScriptRun {
    /// The last line of its standard output that is JSON: the script's
    /// report.
    pub fn report(&self) -> Value {
        self.stdout
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line).ok())
            .unwrap_or_else(|| panic!("the script printed no JSON report: {}", self.stdout))
    }
}

/// A child process killed when dropped, so that a test failing while a
/// script runs leaves no browser behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `node <script>` (a path in the workspace) with `config` in
/// `OUTPOST_E2E`, its output in files in `dir`; calls `poll` every
/// [`POLL_INTERVAL`] while it runs, and kills it after `timeout`.
pub fn run_script(script: &str, config: &Value, dir: &Path, timeout: Duration, mut poll: impl FnMut()) -> ScriptRun {
    let stem = Path::new(script)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("script");
    let out_path = dir.join(format!("{stem}.stdout"));
    let err_path = dir.join(format!("{stem}.stderr"));
    let out = std::fs::File::create(&out_path).expect("the script's stdout file can be made");
    let err = std::fs::File::create(&err_path).expect("the script's stderr file can be made");
    let started = Instant::now();
    let child = Command::new("node")
        .arg(script)
        .current_dir(workspace())
        .env("OUTPOST_E2E", config.to_string())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node {script}: {e}"));
    let mut child = Killed(child);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("the script can be waited for") {
            break Some(status);
        }
        if started.elapsed() > timeout {
            break None;
        }
        poll();
        std::thread::sleep(POLL_INTERVAL);
    };
    drop(child);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| format!("(cannot read {}: {e})", p.display()));
    ScriptRun {
        success: status.is_some_and(|s| s.success()),
        status: status.map_or_else(|| format!("killed after {timeout:?}"), |s| s.to_string()),
        stdout: read(&out_path),
        stderr: read(&err_path),
        took: started.elapsed(),
    }
}
