//! Helpers for end-to-end tests that run the real `outpost` binary.
//!
//! A [`Sandbox`] is a temporary directory holding the homes of several nodes
//! and the files they pass each other (requests, certificates, invites). A
//! [`Node`] runs `outpost --home <sandbox>/<name> ...` in the sandbox
//! directory, so files are named relative to it, and returns a [`Run`]:
//! exit code, stdout and stderr.
//!
//! Every command runs with `OUTPOST_MDNS=off`, with the `OUTPOST_*`
//! variables of the caller's environment removed, and with the clock pinned
//! by `OUTPOST_NOW` to the sandbox's time ([`Sandbox::now`]), so that
//! validity windows and expiry are deterministic. [`Command::at`] runs one
//! command at another time. A sandbox made by [`Sandbox::real_clock`] pins
//! nothing: its nodes can run `outpost up` ([`Node::up`], see [`running`]),
//! whose certificates must be valid at the real time.
//!
//! Randomised tests draw from an [`Rng`] seeded by [`seed`], which prints
//! the seed and takes it from `OUTPOST_TEST_SEED` when set.
//!
//! The binary is built once per test process (`cargo build -p outpost`,
//! same profile and target directory as the tests), unless `OUTPOST_BIN`
//! names one to use.

pub mod browser;
pub mod cluster;
pub mod raw_peer;
pub mod running;

pub use running::{Response, RunningNode, UpOptions, metric_sample, wait_until};

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process;
use std::sync::OnceLock;

/// The time every command sees unless told otherwise: 2027-01-15 08:00 UTC.
pub const EPOCH: u64 = 1_800_000_000;

/// Seconds in a day.
pub const DAY: u64 = 86_400;

/// Exit codes documented in `cli/src/main.rs`.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Any other error.
    pub const ERROR: i32 = 1;
    /// Bad command line.
    pub const USAGE: i32 = 2;
    /// A certificate, request, invite or bundle is invalid.
    pub const INVALID: i32 = 3;
    /// A key could not be opened (wrong or missing passphrase).
    pub const KEY: i32 = 4;
    /// Partly done (some rows of a staff list failed).
    pub const PARTIAL: i32 = 5;
}

/// Path of the `outpost` binary, built on first use.
pub fn outpost_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("OUTPOST_BIN") {
            return PathBuf::from(bin);
        }
        // This test executable lives in <target>/<profile>/deps/; the binary
        // goes to <target>/<profile>/.
        let exe = std::env::current_exe().expect("the test executable has a path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executables live in <target>/<profile>/deps")
            .to_path_buf();
        let target_dir = profile_dir.parent().expect("a profile directory has a parent");
        let profile = match profile_dir.file_name().and_then(OsStr::to_str) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let mut build = process::Command::new(cargo);
        // Cargo gives this test process the variables of the package under
        // test (CARGO_MANIFEST_DIR, CARGO_PKG_NAME, ...). Build scripts such
        // as ring's rerun when those change, so passing them on would make
        // this build and a plain `cargo build` rebuild half the tree in turn.
        for (key, _) in std::env::vars_os() {
            let Some(key) = key.to_str() else { continue };
            let per_package = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_"]
                .iter()
                .any(|p| key.starts_with(p))
                || [
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                    "OUT_DIR",
                ]
                .contains(&key);
            if per_package {
                build.env_remove(key);
            }
        }
        let out = build
            .args([
                "build",
                "--quiet",
                "-p",
                "outpost",
                "--bin",
                "outpost",
                "--profile",
                profile,
            ])
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target_dir)
            .output()
            .expect("cargo can be started");
        assert!(
            out.status.success(),
            "cargo build -p outpost failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = profile_dir.join(format!("outpost{}", std::env::consts::EXE_SUFFIX));
        assert!(
            bin.exists(),
            "cargo built outpost, but {} does not exist",
            bin.display()
        );
        bin
    })
}

/// A temporary directory for the homes and files of one test.
#[derive(Debug)]
pub struct Sandbox {
    dir: tempfile::TempDir,
    /// The pinned time; `None` for the real clock.
    now: Option<u64>,
}

impl Default for Sandbox {
    fn default() -> Sandbox {
        Sandbox::new()
    }
}

impl Sandbox {
    /// A fresh, empty sandbox whose clock reads [`EPOCH`].
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("a temporary directory can be made"),
            now: Some(EPOCH),
        }
    }

    /// A fresh, empty sandbox whose commands see the real clock: for nodes
    /// that run `outpost up`, whose certificates must be valid now.
    pub fn real_clock() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("a temporary directory can be made"),
            now: None,
        }
    }

    /// The sandbox directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The time commands see by default (for a [`Sandbox::real_clock`]:
    /// the system clock, now).
    pub fn now(&self) -> u64 {
        self.now.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("the clock is after 1970")
                .as_secs()
        })
    }

    /// A path inside the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the sandbox and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// Reads a file in the sandbox.
    pub fn read(&self, name: &str) -> String {
        let path = self.path(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    /// The node whose home is `<sandbox>/<name>` (not yet initialised).
    pub fn node(&self, name: &str) -> Node {
        Node {
            name: name.to_owned(),
            home: self.path(name),
            cwd: self.dir.path().to_path_buf(),
            now: self.now,
        }
    }
}

/// One home directory, driven through the `outpost` binary.
#[derive(Debug, Clone)]
pub struct Node {
    name: String,
    home: PathBuf,
    cwd: PathBuf,
    /// The pinned time; `None` for the real clock.
    now: Option<u64>,
}

impl Node {
    /// The node's name in the sandbox.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The same home, with every command (`outpost up` included) run with
    /// the clock pinned at `unix_seconds`: a node that believes it is
    /// another time, e.g. one whose certificate has expired by now.
    pub fn at(&self, unix_seconds: u64) -> Node {
        Node {
            now: Some(unix_seconds),
            ..self.clone()
        }
    }

    /// `outpost --home HOME <args>`, ready to run.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = process::Command::new(outpost_bin());
        for var in [
            "OUTPOST_HOME",
            "OUTPOST_PASSPHRASE",
            "OUTPOST_PASSPHRASE_FILE",
            "OUTPOST_NEW_PASSPHRASE",
            "OUTPOST_NEW_PASSPHRASE_FILE",
            "OUTPOST_NOW",
            "OUTPOST_LOG",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("OUTPOST_MDNS", "off").current_dir(&self.cwd);
        if let Some(now) = self.now {
            cmd.env("OUTPOST_NOW", now.to_string());
        }
        cmd.arg("--home").arg(&self.home).args(args);
        Command { cmd }
    }

    /// Runs `outpost --home HOME <args>` and returns what happened.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd(args).run()
    }

    /// Runs a command that must succeed.
    pub fn ok<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run(args).success()
    }

    /// Runs a command with `--json` that must succeed, and parses its output.
    pub fn json<I, S>(&self, args: I) -> serde_json::Value
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd(args).json()
    }

    /// `outpost init --name NAME`.
    pub fn init(&self, name: &str) -> Run {
        self.ok(["init", "--name", name])
    }

    /// `outpost status --json`.
    pub fn status(&self) -> serde_json::Value {
        self.json(["status"])
    }

    /// `outpost cert list --json` plus `extra` filters: the certificates
    /// listed.
    pub fn list(&self, extra: &[&str]) -> Vec<serde_json::Value> {
        let mut args = vec!["cert", "list"];
        args.extend_from_slice(extra);
        match self.json(args) {
            serde_json::Value::Array(rows) => rows,
            other => panic!("cert list --json printed {other}, not an array"),
        }
    }

    /// Names in `cert list --json <extra>`, sorted.
    pub fn names(&self, extra: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = self
            .list(extra)
            .iter()
            .map(|c| {
                c["name"]
                    .as_str()
                    .expect("every listed certificate has a name")
                    .to_owned()
            })
            .collect();
        names.sort();
        names
    }

    /// Everything a command could have changed, as the node itself reports
    /// it: `status --json`, `cert list --all --json` and `doc list --json`
    /// (whatever they print, success or not). Compare before and after a
    /// failed command.
    pub fn snapshot(&self) -> Snapshot {
        let status = self.cmd(["status", "--json"]).run();
        let certs = self.cmd(["cert", "list", "--all", "--json"]).run();
        let docs = self.cmd(["doc", "list", "--json"]).run();
        Snapshot {
            status: (status.code, status.stdout),
            certs: (certs.code, certs.stdout),
            docs: (docs.code, docs.stdout),
        }
    }

    /// Runs a command that must fail with `code` and say `needle` on
    /// stderr, and checks that it left the node as it was.
    pub fn fails<I, S>(&self, args: I, code: i32, needle: &str) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd(args).fails(self, code, needle)
    }

    /// `outpost cert request --out <node>.req`; returns the file name.
    pub fn request(&self) -> String {
        let file = format!("{}.req", self.name);
        self.ok(["cert", "request", "--out", &file]);
        file
    }

    /// `outpost cert issue REQUEST <args> --out OUT`; returns `out`.
    pub fn issue<I, S>(&self, request: &str, args: I, out: &str) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.cmd(["cert", "issue", request]);
        cmd.args(args).args(["--out", out]);
        cmd.run().success();
        out.to_owned()
    }
}

/// What a node reports about itself; equal snapshots mean nothing changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    status: (i32, String),
    certs: (i32, String),
    docs: (i32, String),
}

/// An `outpost` command about to run.
#[derive(Debug)]
pub struct Command {
    cmd: process::Command,
}

impl Command {
    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.cmd.arg(arg);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: &str, value: impl AsRef<OsStr>) -> &mut Command {
        self.cmd.env(key, value);
        self
    }

    /// Runs at `unix_seconds` instead of the sandbox time.
    pub fn at(&mut self, unix_seconds: u64) -> &mut Command {
        self.env("OUTPOST_NOW", unix_seconds.to_string())
    }

    /// Runs with `--json`; the command must succeed. Returns its output,
    /// parsed.
    pub fn json(&mut self) -> serde_json::Value {
        self.arg("--json").run().success().json()
    }

    /// Starts the command with its output piped, for a test that kills it
    /// or waits for it itself.
    pub fn spawn(&mut self) -> process::Child {
        self.cmd
            .stdin(process::Stdio::null())
            .stdout(process::Stdio::piped())
            .stderr(process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.cmd))
    }

    /// Runs the command to completion.
    pub fn run(&mut self) -> Run {
        let line = format!("{:?}", self.cmd);
        let out = self.cmd.output().unwrap_or_else(|e| panic!("cannot run {line}: {e}"));
        let code = out
            .status
            .code()
            .unwrap_or_else(|| panic!("{line} was killed by a signal"));
        Run {
            line,
            code,
            stdout: String::from_utf8(out.stdout).expect("outpost writes UTF-8 to stdout"),
            stderr: String::from_utf8(out.stderr).expect("outpost writes UTF-8 to stderr"),
        }
    }

    /// Runs; the command must fail with `code`, say `needle` on stderr, and
    /// leave `node` as it was.
    pub fn fails(&mut self, node: &Node, code: i32, needle: &str) -> Run {
        let before = node.snapshot();
        let run = self.run().code(code).stderr_has(needle);
        let after = node.snapshot();
        assert_eq!(before, after, "the failed command changed node {}:\n{run}", node.name());
        run
    }
}

/// A finished command: its exit code and output.
#[derive(Debug)]
pub struct Run {
    /// The command line, for failure messages.
    pub line: String,
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\nexit code {}\n--- stdout\n{}--- stderr\n{}---",
            self.line, self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Asserts exit code 0.
    pub fn success(self) -> Run {
        self.code(exit::OK)
    }

    /// Asserts the exit code.
    pub fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }

    /// Asserts that stdout contains `needle`.
    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(self.stdout.contains(needle), "stdout lacks {needle:?}\n{self}");
        self
    }

    /// Asserts that stderr contains `needle`.
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}\n{self}");
        self
    }

    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

/// The environment variable that fixes the seed of randomised tests.
pub const SEED_VAR: &str = "OUTPOST_TEST_SEED";

/// The seed for a randomised test: [`SEED_VAR`] if set, else a fresh one.
/// It is printed (test output is shown when a test fails), so a failure
/// can be repeated.
pub fn seed() -> u64 {
    let seed = match std::env::var(SEED_VAR) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_VAR}={text:?} is not a whole number")),
        Err(_) => {
            let since_epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("the clock is after 1970");
            // Tests running at the same instant in one process still differ.
            let mut hasher = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(&std::thread::current().id(), &mut hasher);
            since_epoch.as_nanos() as u64 ^ std::hash::Hasher::finish(&hasher)
        }
    };
    println!("seed {seed} (repeat with {SEED_VAR}={seed})");
    seed
}

/// A small deterministic random generator (SplitMix64) for randomised
/// tests: the same seed gives the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..=max`, nearly uniform (fine for test timing).
    pub fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

/// Splits a command line into arguments at whitespace; text in single
/// quotes is one argument: `words("cert revoke 1f2e --reason 'left us'")`.
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, part) in line.split('\'').enumerate() {
        if i % 2 == 1 {
            out.push(part.to_owned());
        } else {
            out.extend(part.split_whitespace().map(str::to_owned));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn words_keeps_quoted_text_together() {
        assert_eq!(words(" cert  list --all "), ["cert", "list", "--all"]);
        assert_eq!(
            words("--reason 'left the company' --out x"),
            ["--reason", "left the company", "--out", "x"]
        );
        assert_eq!(words("--name ''"), ["--name", ""]);
    }
}
