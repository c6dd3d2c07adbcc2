//! A node whose disk fills up: its home on a small tmpfs that the test
//! mounts (so the test needs root: it fails, saying so, when it cannot
//! mount), and a filler file that takes the rest of the space.
//!
//! While the disk is full, writes through the API (a chat message, a
//! document edit, a file upload) and the CLI fail with `507 disk_full` /
//! exit code 7 and a message that says what to do; reads keep working and
//! `/api/health` reports the condition. A file larger than the space left
//! fails part way with the operating system's "no space left" and leaves
//! no partial chunk behind. Everything acknowledged before survives
//! `kill -9` and a restart on the still-full disk; once the filler is
//! removed, writes succeed again with no restart.

use outpost_tests::running::Response;
use outpost_tests::{RunningNode, Sandbox, words};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The size of the tmpfs holding the node's home.
const DISK_MIB: u64 = 64;
/// The store refuses writes with fewer free bytes than this
/// (`outpost_store::WRITE_FREE_MIN_BYTES`).
const WRITE_FREE_MIN_BYTES: u64 = 4 * 1024 * 1024;

/// A tmpfs mounted for the test; unmounted when dropped, even when the
/// test fails.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, mib: u64) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("the mount point can be made");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("mount can be run");
        assert!(
            out.status.success(),
            "this test needs root (or CAP_SYS_ADMIN) to mount a {mib} MiB tmpfs at {}: mount said {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs { dir: dir.to_owned() }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a node killed a moment ago may still hold a file open.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Free bytes on the file system holding `dir`, as `df` reports them.
fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .expect("df can be run");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("df printed {:?}", String::from_utf8_lossy(&out.stdout)))
}

/// Writes `path` until the disk refuses more, then gives back `leave`
/// bytes (rounded to the page); returns the filler's path.
fn fill(path: &Path, leave: u64) -> PathBuf {
    let mut f = std::fs::File::create(path).expect("the filler can be created");
    let block = vec![0x5a_u8; 256 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("writing the filler failed: {e}"),
        }
    }
    // Small writes fill the last pages.
    while let Ok(n) = f.write(&[0x5a; 512]) {
        if n == 0 {
            break;
        }
        written += n as u64;
    }
    f.set_len(written.saturating_sub(leave))
        .expect("the filler can be shortened");
    f.sync_all().ok();
    path.to_owned()
}

fn error_of(r: &Response) -> (String, String) {
    let v = r.json().unwrap_or(Value::Null);
    (
        v["error"]["code"].as_str().unwrap_or("").to_owned(),
        v["error"]["message"].as_str().unwrap_or("").to_owned(),
    )
}

/// Asserts that `r` is the disk-full refusal.
fn assert_disk_full(what: &str, r: &Response) {
    let (code, message) = error_of(r);
    assert_eq!(r.status, 507, "{what}: expected 507, got {} {}", r.status, r.body);
    assert_eq!(code, "disk_full", "{what}: {}", r.body);
    assert!(
        message.contains("full") && message.contains("free some space"),
        "{what}: the message must name the cause and what to do: {message}"
    );
}

fn send(node: &RunningNode, ch: &str, text: &str) -> Response {
    node.request(
        "POST",
        &format!("/api/channels/{ch}/messages"),
        Some(&json!({ "text": text })),
        true,
    )
    .expect("the API answers")
}

fn append(node: &RunningNode, doc: &str, line: &str) -> Response {
    node.request(
        "POST",
        &format!("/api/docs/{doc}"),
        Some(&json!({ "append": format!("{line}\n") })),
        true,
    )
    .expect("the API answers")
}

fn upload(node: &RunningNode, path: &Path) -> Response {
    node.request("POST", "/api/files", Some(&json!({ "path": path })), true)
        .expect("the API answers")
}

fn messages(node: &RunningNode, ch: &str) -> Vec<String> {
    let v = node.get(&format!("/api/channels/{ch}/messages"));
    let rows = v["messages"].as_array().cloned().unwrap_or_default();
    rows.iter()
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .collect()
}

fn body(node: &RunningNode, doc: &str) -> String {
    node.get(&format!("/api/docs/{doc}"))["body"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// Files left half-written in the home's blob directory.
fn partial_blobs(home: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![home.join("blobs")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                if name.starts_with("incoming-") {
                    out.push(name.clone());
                }
                dirs.push(e.path());
            } else if name.ends_with(".tmp") {
                out.push(name);
            }
        }
    }
    out
}

fn random_file(path: &Path, bytes: usize) {
    let mut data = Vec::with_capacity(bytes);
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    while data.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(bytes);
    std::fs::write(path, data).expect("the test file is written");
}

#[test]
fn a_full_disk_refuses_writes_clearly_keeps_reads_and_loses_nothing() {
    let sb = Sandbox::real_clock();
    let disk = Tmpfs::mount(&sb.path("a"), DISK_MIB);
    let alice = sb.node("a");
    alice.init("Alice");
    alice.ok(words("org create --name Acme"));
    let doc = alice.json(["doc", "new", "--title", "Field log"])["id"]
        .as_str()
        .expect("doc new prints the id")
        .to_owned();
    let node = alice.up(&[]);
    let ch = outpost_tests::cluster::new_channel(&node, "ops");

    // Acknowledged before the disk fills.
    let small = sb.path("before.txt");
    std::fs::write(&small, "written before the disk filled\n").expect("written");
    for i in 0..3 {
        assert_eq!(send(&node, &ch, &format!("before {i}")).status, 200);
        assert_eq!(append(&node, &doc, &format!("line before {i}")).status, 200);
    }
    let up = upload(&node, &small);
    assert_eq!(up.status, 200, "{}", up.body);
    let file_id = up.json().expect("json")["id"].as_str().expect("the file id").to_owned();
    let health = node.get("/api/health");
    assert_eq!(health["disk_full"], false, "{health}");

    // A file larger than the space left fails part way, with the
    // operating system's "no space left", and leaves nothing behind.
    let filler = fill(&disk.dir.join("filler"), 12 * 1024 * 1024);
    assert!(free_bytes(&disk.dir) > WRITE_FREE_MIN_BYTES);
    let big = sb.path("survey.bin");
    random_file(&big, 24 * 1024 * 1024);
    let r = upload(&node, &big);
    assert_disk_full("a file larger than the free space", &r);
    assert_eq!(
        partial_blobs(alice.home()),
        Vec::<String>::new(),
        "partial chunks were left"
    );
    assert!(
        free_bytes(&disk.dir) > 8 * 1024 * 1024,
        "the space of the partial file was given back"
    );

    // Now full.
    std::fs::remove_file(&filler).expect("the filler is removed");
    let filler = fill(&disk.dir.join("filler"), 0);
    assert!(free_bytes(&disk.dir) < WRITE_FREE_MIN_BYTES);
    assert_disk_full("a chat message", &send(&node, &ch, "during"));
    assert_disk_full("a document edit", &append(&node, &doc, "line during"));
    assert_disk_full("a file upload", &upload(&node, &small));
    // The CLI through the node: exit code 7 and the same message.
    let cli = alice.run(["chat", "send", "ops", "from the CLI while full"]);
    assert_eq!(cli.code, 7, "{cli:?}");
    assert!(
        cli.stderr.contains("is full") && cli.stderr.contains("free some space"),
        "{cli:?}"
    );

    // Reads keep working; health says what is wrong.
    let texts = messages(&node, &ch);
    for i in 0..3 {
        assert!(texts.contains(&format!("before {i}")), "{texts:?}");
    }
    assert!(!texts.iter().any(|t| t == "during"), "{texts:?}");
    assert!(body(&node, &doc).contains("line before 2"));
    let r = node.request("GET", "/api/health", None, true).expect("the API answers");
    assert_eq!(r.status, 503, "{}", r.body);
    let health = r.json().expect("json");
    assert_eq!(health["disk_full"], true, "{health}");
    assert!(health["problems"].to_string().contains("disk full"), "{health}");

    // Killed while full; everything acknowledged is there after a restart
    // (with just enough room for the node to start).
    drop(node.kill());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .and_then(|f| {
            let len = f.metadata()?.len();
            f.set_len(len.saturating_sub(256 * 1024))
        })
        .expect("the filler is shortened");
    assert!(free_bytes(&disk.dir) < WRITE_FREE_MIN_BYTES);
    let node = alice.up(&[]);
    let texts = messages(&node, &ch);
    for i in 0..3 {
        assert!(texts.contains(&format!("before {i}")), "after the restart: {texts:?}");
    }
    let text = body(&node, &doc);
    for i in 0..3 {
        assert!(text.contains(&format!("line before {i}")), "after the restart: {text}");
    }
    let saved = sb.path("saved.txt");
    let r = node
        .request(
            "POST",
            &format!("/api/files/{file_id}/save"),
            Some(&json!({ "out": saved })),
            true,
        )
        .expect("the API answers");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        std::fs::read_to_string(&saved).expect("saved"),
        "written before the disk filled\n"
    );
    assert_disk_full("a chat message after the restart", &send(&node, &ch, "still full"));

    // Space comes back: writes succeed with no restart.
    std::fs::remove_file(&filler).expect("the filler is removed");
    assert_eq!(send(&node, &ch, "after").status, 200);
    assert_eq!(append(&node, &doc, "line after").status, 200);
    assert_eq!(upload(&node, &small).status, 200);
    assert!(messages(&node, &ch).contains(&"after".to_owned()));
    assert!(body(&node, &doc).contains("line after"));
    let health = node.get("/api/health");
    assert_eq!(health["ok"], true, "{health}");
    drop(node);
    drop(disk);
}

/// The store itself, with the early refusal turned off: a commit that
/// runs out of space fails as "disk full", redb latches the error, and
/// once space is back the store reopens the file by itself — every write
/// acknowledged before is there and new writes succeed.
#[test]
fn a_commit_that_runs_out_of_space_fails_cleanly_and_the_store_reopens() {
    use outpost_store::Store;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let disk = Tmpfs::mount(&dir.path().join("d"), 8);
    let store = Store::open(&disk.dir.join("outpost.redb")).expect("the store opens");
    store.set_write_free_min(0);
    let filler = fill(&disk.dir.join("filler"), 1024 * 1024);
    let doc = [7u8; 48];
    let mut acked: Vec<[u8; 32]> = Vec::new();
    let err = loop {
        let i = acked.len() as u32;
        assert!(i < 10_000, "the disk never filled");
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&i.to_le_bytes());
        let bytes = vec![i as u8; 64 * 1024];
        match store.put_envelopes([(&doc, &id, bytes.as_slice())]) {
            Ok(_) => acked.push(id),
            Err(e) => break e,
        }
    };
    assert!(err.disk_full, "the failed commit is reported as a full disk: {err}");
    assert!(
        err.to_string().contains("free some space"),
        "the message says what to do: {err}"
    );
    assert!(!acked.is_empty(), "some writes succeeded first");

    std::fs::remove_file(&filler).expect("the filler is removed");
    // The store reopens the file at most once a second.
    let started = std::time::Instant::now();
    let count = loop {
        match store.envelope_count() {
            Ok(n) => break n,
            Err(_) if started.elapsed() < std::time::Duration::from_secs(10) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("the store did not recover once space was back: {e}"),
        }
    };
    assert_eq!(count, acked.len() as u64, "every acknowledged write is there");
    for id in &acked {
        assert!(store.has_envelope(id).expect("readable"), "lost {id:?}");
    }
    let after = [0xffu8; 32];
    store
        .put_envelopes([(&doc, &after, &b"after"[..])])
        .expect("writes succeed again");
    assert!(store.has_envelope(&after).expect("readable"));
    drop(store);
    drop(disk);
}
