//! `outpost passphrase change` with the real binary: every key file of the
//! home is re-encrypted under the new passphrase, or none is; a wrong
//! current passphrase changes nothing; a node running on the home keeps
//! working and starts again only with the new passphrase; a passphrase
//! can be removed (with an explicit flag) and added again.

use outpost_identity::keyfile::{self, KeyKind};
use outpost_tests::{Node, Sandbox, UpOptions, exit, words};
use serde_json::json;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

const KEYS: [(&str, KeyKind); 4] = [
    ("member.key", KeyKind::Member),
    ("device.key", KeyKind::Device),
    ("storage.key", KeyKind::Storage),
    ("org-root.key", KeyKind::OrgRoot),
];

/// The bytes of every file in the home's `keys/`.
fn key_files(node: &Node) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(node.home().join("keys"))
        .expect("keys/ is readable")
        .map(|e| {
            let e = e.expect("an entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("a key file is readable"),
            )
        })
        .collect()
}

/// Checks that every key file opens with `pass` (and, for an encrypted
/// file, with nothing else), and is private.
fn assert_keys_open_with(node: &Node, pass: Option<&str>, not: &str) {
    let dir = node.home().join("keys");
    assert_eq!(
        std::fs::metadata(&dir).expect("keys/").permissions().mode() & 0o777,
        0o700
    );
    for (name, kind) in KEYS {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600,
            "{name}"
        );
        assert_eq!(
            keyfile::is_encrypted(&text).expect("a key file"),
            pass.is_some(),
            "{name}"
        );
        keyfile::open(&text, kind, pass).unwrap_or_else(|e| panic!("{name} does not open with {pass:?}: {e}"));
        if pass.is_some() {
            assert!(
                keyfile::open(&text, kind, Some(not)).is_err(),
                "{name} still opens with {not:?}"
            );
        }
    }
    assert!(
        !node.home().join("keys.new").exists(),
        "the staging directory was left behind"
    );
}

#[test]
fn changing_the_passphrase_re_encrypts_every_key_or_none_and_a_running_node_keeps_working() {
    let sb = Sandbox::real_clock();
    sb.write("old.txt", "correct horse battery staple\n");
    sb.write("new.txt", "a much longer new passphrase\n");
    sb.write("wrong.txt", "incorrect horse\n");
    let alice = sb.node("a");
    alice.ok(words("--passphrase-file old.txt init --name Alice"));
    alice.ok(words("--passphrase-file old.txt org create --name Acme"));
    alice.ok(words("--passphrase-file old.txt doc new --title Plan"));
    assert_keys_open_with(&alice, Some("correct horse battery staple"), "x");
    let before = key_files(&alice);

    // A wrong or missing current passphrase, or no new one: nothing changes.
    alice.fails(
        words("--passphrase-file wrong.txt passphrase change --new-passphrase-file new.txt"),
        exit::KEY,
        "wrong passphrase",
    );
    let r = alice.run(words("passphrase change --new-passphrase-file new.txt"));
    assert_eq!(r.code, exit::KEY, "{r}");
    assert!(r.stderr.contains("nothing was changed"), "{r}");
    alice.fails(
        words("--passphrase-file old.txt passphrase change"),
        exit::ERROR,
        "no new passphrase",
    );
    alice.fails(
        words("--passphrase-file old.txt passphrase change --new-passphrase-file new.txt --remove"),
        exit::USAGE,
        "cannot be used with",
    );
    assert_eq!(key_files(&alice), before, "a refused change altered the key files");

    // Changed while the node runs.
    let node = alice.up_with(&[], &UpOptions::args(&["--passphrase-file", "old.txt"]));
    let ch = outpost_tests::cluster::new_channel(&node, "ops");
    node.post(
        &format!("/api/channels/{ch}/messages"),
        &json!({"text": "before the change"}),
    );
    let changed = alice.json(words(
        "--passphrase-file old.txt passphrase change --new-passphrase-file new.txt",
    ));
    assert_eq!(
        changed["keys"],
        json!(["member", "device", "storage", "org-root"]),
        "{changed}"
    );
    assert_keys_open_with(
        &alice,
        Some("a much longer new passphrase"),
        "correct horse battery staple",
    );
    // The running node keeps working: it read its keys at start.
    node.post(
        &format!("/api/channels/{ch}/messages"),
        &json!({"text": "after the change"}),
    );
    let (status, _) = node.terminate();
    assert!(status.success(), "the node stopped badly: {status}");

    // Only the new passphrase starts it again; the data is all there.
    let old_up = alice
        .cmd(words(
            "--passphrase-file old.txt up --no-mdns --listen /ip4/127.0.0.1/tcp/0 --api 127.0.0.1:0",
        ))
        .run();
    assert_eq!(old_up.code, exit::KEY, "{old_up}");
    assert!(old_up.stderr.contains("wrong passphrase"), "{old_up}");
    let node = alice.up_with(&[], &UpOptions::args(&["--passphrase-file", "new.txt"]));
    let read = node.get(&format!("/api/channels/{ch}/messages"));
    let texts: Vec<&str> = read["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["before the change", "after the change"], "{read}");
    drop(node);

    // Removed only with --remove; then added again from the environment.
    alice.ok(words("--passphrase-file new.txt passphrase change --remove"));
    assert_keys_open_with(&alice, None, "");
    assert_eq!(alice.status()["name"], "Alice");
    alice
        .cmd(words("passphrase change"))
        .env("OUTPOST_NEW_PASSPHRASE", "third time lucky")
        .run()
        .success();
    assert_keys_open_with(&alice, Some("third time lucky"), "a much longer new passphrase");
    // The service-manager form: the passphrase from OUTPOST_PASSPHRASE_FILE.
    sb.write("third.txt", "third time lucky\n");
    alice
        .cmd(words("cert request"))
        .env("OUTPOST_PASSPHRASE_FILE", sb.path("third.txt"))
        .run()
        .success();
    alice
        .cmd(words("cert request"))
        .env("OUTPOST_PASSPHRASE_FILE", sb.path("new.txt"))
        .fails(&alice, exit::KEY, "wrong passphrase");
}
