//! Files in chat between real nodes: a 100 MB file sent by one member and
//! fetched by another, whose node is killed mid-transfer and resumes with
//! only the chunks it lacked; files over the limit or of a refused type are
//! refused before anything is stored, and a limit the org's admin changes
//! reaches the other nodes.

use outpost_tests::cluster::{EastTrio, TIMEOUT, east_trio, new_channel, wait_for_peers};
use outpost_tests::running::http;
use outpost_tests::{Rng, RunningNode, seed, wait_until};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// 100 MiB: the default limit, exactly.
const FILE_BYTES: usize = 100 * 1024 * 1024;

/// Writes `bytes` pseudo-random bytes to `path`.
fn random_file(path: &Path, bytes: usize, rng: &mut Rng) {
    let mut data = Vec::with_capacity(bytes);
    while data.len() < bytes {
        data.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    data.truncate(bytes);
    std::fs::write(path, &data).expect("the test file is written");
}

/// `POST /api/chat` with `body`: the status and the answer.
fn chat(node: &RunningNode, body: &Value) -> (u16, Value) {
    let r = node
        .request("POST", "/api/chat", Some(body), true)
        .expect("the API answers");
    (r.status, r.json().unwrap_or(Value::Null))
}

/// How many chunks of blob `blob` `home` holds.
fn chunks_held(home: &Path, blob: &str) -> usize {
    std::fs::read_dir(home.join("blobs").join(blob))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".chunk"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_100_mb_file_resumes_after_the_receiver_is_killed_and_limits_refuse_early() {
    let EastTrio { sb, carol, a, b, c, .. } = east_trio();
    let all = [&a, &b, &c];
    let ch = new_channel(&b, "files");

    let mut rng = Rng::new(seed());
    let original = sb.path("site-survey.bin");
    random_file(&original, FILE_BYTES, &mut rng);
    let (status, sent) = chat(
        &b,
        &json!({"action": "send_file", "channel": ch, "path": original, "text": "survey data"}),
    );
    assert_eq!(status, 200, "{sent}");
    let message = sent["message"].as_str().expect("the message id").to_owned();
    let blob = sent["blob"].as_str().expect("the blob id").to_owned();
    assert_eq!(sent["bytes"], FILE_BYTES, "{sent}");

    wait_until("c shows the file", TIMEOUT, &all, || {
        let shown = c.try_get(&format!("/api/channels/{ch}/messages?peek=true"))?;
        let files = shown["messages"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["id"] == message.as_str()))
            .map(|m| m["attachments"].clone());
        (files.as_ref().and_then(|f| f[0]["name"].as_str()) == Some("site-survey.bin"))
            .then_some(())
            .ok_or_else(|| format!("{files:?}"))
    });

    // Carol saves it; her node is killed as soon as the first chunk lands.
    let out = sb.path("c-copy.bin");
    let save = json!({"action": "save_file", "channel": ch, "message": message, "out": out});
    let (addr, token) = (c.api().addr, c.api().token.clone());
    let body = save.clone();
    let saving = std::thread::spawn(move || http(addr, "POST", "/api/chat", Some(&token), Some(&body)));
    let started = Instant::now();
    while chunks_held(c.home(), &blob) == 0 {
        assert!(started.elapsed() < TIMEOUT, "no chunk reached c in {TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
    let home = c.home().to_owned();
    c.kill();
    let _ = saving.join();
    let held = chunks_held(&home, &blob);
    assert!(
        held < 100,
        "the transfer was interrupted, not finished: {held} chunks held"
    );

    // Restarted, it asks only for what it lacks, and the copy is exact.
    let c = carol.up(&[b.addr()]);
    let all = [&a, &b, &c];
    wait_for_peers(&c, &[&b], &all);
    let (status, saved) = chat(&c, &save);
    assert_eq!(status, 200, "{saved}\n{}", c.logs());
    assert_eq!(saved["bytes"], FILE_BYTES, "{saved}");
    let missing = 100 - held;
    assert!(
        c.logged(&[&format!("fetching {missing} of 100 chunks")]),
        "c resumed with the {missing} chunks it lacked:\n{}",
        c.logs()
    );
    let copy = std::fs::read(&out).expect("the copy is written");
    let sent_bytes = std::fs::read(&original).expect("the original is readable");
    assert!(copy == sent_bytes, "the copy differs from the original");

    // Over the limit by one byte, or of a refused type: refused at once,
    // naming the limit, and nothing is stored.
    let blobs_before = std::fs::read_dir(b.home().join("blobs")).expect("b's blobs").count();
    let big = sb.path("too-big.bin");
    random_file(&big, FILE_BYTES + 1, &mut rng);
    let (status, refused) = chat(&b, &json!({"action": "send_file", "channel": ch, "path": big}));
    assert_eq!(status, 400, "{refused}");
    let why = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(why.contains("at most 100 MB"), "{refused}");
    let exe = sb.path("setup.exe");
    std::fs::write(&exe, b"MZ").expect("written");
    let (status, refused) = chat(&b, &json!({"action": "send_file", "channel": ch, "path": exe}));
    assert_eq!(status, 400, "{refused}");
    let why = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(why.contains(".exe") && why.contains("pdf"), "{refused}");
    let blobs_after = std::fs::read_dir(b.home().join("blobs")).expect("b's blobs").count();
    assert_eq!(blobs_before, blobs_after, "nothing was stored for refused files");

    // The admin lowers the limit; Bob's node applies it once it has it.
    let (status, set) = chat(&a, &json!({"action": "org_set", "file_bytes_max": 1 << 20}));
    assert_eq!(status, 200, "{set}");
    wait_until("b applies the org's new limit", TIMEOUT, &all, || {
        let (_, v) = chat(&b, &json!({"action": "org_settings"}));
        (v["file_bytes_max"] == 1 << 20)
            .then_some(())
            .ok_or_else(|| format!("{v}"))
    });
    let two_mb = sb.path("two-mb.bin");
    random_file(&two_mb, 2 << 20, &mut rng);
    let (status, refused) = chat(&b, &json!({"action": "send_file", "channel": ch, "path": two_mb}));
    assert_eq!(status, 400, "{refused}");
    let why = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(why.contains("at most 1 MB"), "{refused}");
}
