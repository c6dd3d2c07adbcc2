//! Chat from the command line: `outpost channel ...` and `outpost chat ...`
//! run by the real binary.
//!
//! Most of it runs with no node up, on homes that share nothing, so the CLI
//! answers from the store itself; the last test runs two nodes on
//! 127.0.0.1, so that the commands go through the node's API and messages
//! by another member arrive (unread counts, mentions, receipts).

use outpost_tests::cluster::{TIMEOUT, acme, member, wait_for_peers};
use outpost_tests::{DAY, Node, Sandbox, exit, wait_until, words};
use serde_json::{Value, json};

/// Alice, admin of Acme, and Bob, a member of HQ/East certified by her.
/// They never meet: each home holds only what it wrote.
fn acme_offline() -> (Sandbox, Node, Node) {
    let sb = Sandbox::new();
    let alice = sb.node("alice");
    alice.init("Alice");
    alice.ok(words("org create --name Acme"));
    let bob = member(&sb, &alice, "Bob");
    (sb, alice, bob)
}

fn text_of(v: &Value) -> &str {
    v.as_str().expect("a string")
}

/// `chat send CHANNEL TEXT [extra]` with `--json` at `at`; returns the
/// message id (64 hex digits).
fn send(node: &Node, channel: &str, text: &str, extra: &[&str], at: u64) -> String {
    let sent = node.cmd(["chat", "send", channel, text]).args(extra).at(at).json();
    let id = text_of(&sent["message"]).to_owned();
    assert_eq!(id.len(), 64, "{sent}");
    id
}

/// `chat read CHANNEL --peek <extra> --json`.
fn peek(node: &Node, channel: &str, extra: &[&str]) -> Value {
    node.cmd(["chat", "read", channel, "--peek"]).args(extra).json()
}

/// The messages of a `chat read --json` answer.
fn messages(read: &Value) -> &Vec<Value> {
    read["messages"].as_array().expect("chat read lists messages")
}

/// The message with id `id` in `chat read --json` of `channel`.
fn message(node: &Node, channel: &str, id: &str) -> Value {
    let read = peek(node, channel, &[]);
    messages(&read)
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not shown: {read:#}"))
}

/// The ids of the hits of `chat search <args> --json`.
fn search(node: &Node, args: &[&str]) -> Vec<String> {
    let hits = node.cmd(["chat", "search"]).args(args).json();
    hits.as_array()
        .expect("chat search lists hits")
        .iter()
        .map(|h| text_of(&h["id"]).to_owned())
        .collect()
}

/// The row of `channel list --json` for channel `id`.
fn listed(node: &Node, id: &str) -> Value {
    let list = node.json(["channel", "list"]);
    list.as_array()
        .and_then(|rows| rows.iter().find(|r| r["channel"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not listed: {list:#}"))
}

#[test]
fn a_channel_carries_messages_threads_edits_reactions_pins_and_recalls() {
    let (sb, alice, _bob) = acme_offline();
    let t0 = sb.now();
    let created = alice.json(["channel", "create", "general", "--everyone", "--topic", "全员通知"]);
    let ch = text_of(&created["channel"]).to_owned();
    assert_eq!(ch.len(), 32, "{created}");
    assert_eq!(created["name"], "general", "{created}");

    let budget_zh = "明天下午三点开会讨论预算";
    let budget = send(&alice, "general", budget_zh, &[], t0);
    let room = send(&alice, &ch[..8], "预定会议室，算了吧", &[], t0 + 60);
    let q3 = send(&alice, "#general", "Q3 budget review on Friday", &[], t0 + 120);
    let tips = send(&alice, "general", "budgeting tips", &[], t0 + 3_600);
    // Text output names the message by its first 16 hex digits.
    let sent = alice
        .cmd(["chat", "send", "general", "-1 for Friday"])
        .at(t0 + 7_200)
        .run()
        .success();
    let minus_one = sent
        .stdout
        .strip_prefix("sent ")
        .expect("chat send says sent")
        .trim_end()
        .to_owned();
    assert_eq!(minus_one.len(), 16, "{sent}");

    // A reply goes into the thread, and a reply to the reply too.
    let reply = send(&alice, "general", "我同意", &["--reply", &budget[..16]], t0 + 7_300);
    let reply2 = send(&alice, "general", "me too", &["--reply", &reply[..10]], t0 + 7_400);
    let thread = peek(&alice, "general", &["--thread", &budget[..12]]);
    let ids: Vec<&str> = messages(&thread).iter().map(|m| text_of(&m["id"])).collect();
    assert_eq!(ids, [budget.as_str(), reply.as_str(), reply2.as_str()], "{thread:#}");
    assert_eq!(messages(&thread)[1]["thread"], budget.as_str(), "{thread:#}");
    let top = peek(&alice, "general", &[]);
    assert_eq!(top["topic"], "全员通知", "{top:#}");
    let texts: Vec<&str> = messages(&top).iter().map(|m| text_of(&m["text"])).collect();
    assert_eq!(
        texts,
        [
            budget_zh,
            "预定会议室，算了吧",
            "Q3 budget review on Friday",
            "budgeting tips",
            "-1 for Friday"
        ],
        "replies stay in their thread: {top:#}"
    );
    assert_eq!(message(&alice, "general", &budget)["replies"], 2);

    // --since: seconds since 1970, or a duration before now; --limit keeps
    // the newest.
    let since = |args: &[&str]| -> Vec<String> {
        let read = alice
            .cmd(["chat", "read", "general", "--peek"])
            .args(args)
            .at(t0 + 7_200)
            .json();
        messages(&read).iter().map(|m| text_of(&m["text"]).to_owned()).collect()
    };
    assert_eq!(since(&["--since", "90m"]), ["budgeting tips", "-1 for Friday"]);
    assert_eq!(since(&["--since", &(t0 + 120).to_string()]).len(), 3);
    assert_eq!(since(&["--since", "3d"]).len(), 5);
    assert_eq!(since(&["--limit", "2"]), ["budgeting tips", "-1 for Friday"]);
    alice.fails(
        ["chat", "read", "general", "--since", "yesterday"],
        exit::ERROR,
        "--since",
    );

    // An edit keeps the earlier text.
    alice
        .cmd(["chat", "edit", "general", &q3[..16], "Q3 budget review moved to Monday"])
        .at(t0 + 7_500)
        .run()
        .success()
        .stdout_has(&format!("edited {}", &q3[..16]));
    let edited = message(&alice, "general", &q3);
    assert_eq!(edited["text"], "Q3 budget review moved to Monday", "{edited:#}");
    assert_eq!(edited["edited"], true, "{edited:#}");
    assert_eq!(
        edited["revisions"],
        json!([
            {"time": t0 + 120, "text": "Q3 budget review on Friday"},
            {"time": t0 + 7_500, "text": "Q3 budget review moved to Monday"},
        ]),
        "{edited:#}"
    );

    // Reactions: added, counted per reaction, taken back.
    alice.ok(["chat", "react", "general", &budget[..8], "👍"]);
    alice.ok(["chat", "react", "general", &budget[..8], "🎉"]);
    alice.ok(["chat", "react", "general", &budget[..8], "🎉", "--off"]);
    let reacted = message(&alice, "general", &budget);
    assert_eq!(
        reacted["reactions"],
        json!({"👍": [{"member": reacted["author"]["member"], "name": "Alice"}]}),
        "{reacted:#}"
    );

    // Pins.
    alice.ok(["chat", "pin", "general", &budget[..8]]);
    alice.ok(["chat", "pin", "general", &tips[..8]]);
    alice
        .ok(["chat", "pin", "general", &tips[..8], "--off"])
        .stdout_has(&format!("unpinned {}", &tips[..16]));
    let read = peek(&alice, "general", &[]);
    assert_eq!(read["pins"], json!([budget]), "{read:#}");
    assert_eq!(message(&alice, "general", &budget)["pinned"], true);

    // The text form shows all of it on one line per message; no peer has
    // seen Alice's messages, so they are pending.
    let text = alice.ok(["chat", "read", "general", "--peek"]).stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(
        lines[0],
        format!(
            "{}  2027-01-15 08:00:00  Alice: {budget_zh} (pending) 📌 [👍 1] (2 replies)",
            &budget[..16]
        )
    );
    assert_eq!(
        lines[2],
        format!(
            "{}  2027-01-15 08:02:00  Alice: Q3 budget review moved to Monday (edited) (pending)",
            &q3[..16]
        )
    );

    // Search: any part of CJK text, or words (not word prefixes).
    assert_eq!(search(&alice, &["预算"]), [budget.as_str()]);
    assert_eq!(search(&alice, &["会议"]), [room.as_str()]);
    assert_eq!(search(&alice, &["BUDGET"]), [q3.as_str()]);
    assert_eq!(search(&alice, &["budget", "--channel", "general"]), [q3.as_str()]);
    let friday = search(&alice, &["friday"]);
    assert!(
        friday.len() == 1 && friday[0].starts_with(&minus_one),
        "the edit replaced the word in Q3's message: {friday:?}"
    );
    alice
        .ok(["chat", "search", "预算"])
        .stdout_has(&format!("#general  {}", &budget[..16]));
    alice
        .ok(["chat", "search", "不存在的词"])
        .stdout_has("no message matches");

    // A recall empties the message for everyone and removes it from search.
    alice
        .ok(["chat", "recall", "general", &room[..8]])
        .stdout_has(&format!("recalled {}", &room[..16]));
    let gone = message(&alice, "general", &room);
    assert_eq!(gone["recalled"], true, "{gone:#}");
    assert_eq!(gone["text"], "", "{gone:#}");
    assert_eq!(gone["revisions"], json!([]), "{gone:#}");
    assert_eq!(gone["recalled_by"]["name"], "Alice", "{gone:#}");
    assert!(search(&alice, &["会议"]).is_empty());
    alice
        .ok(["chat", "read", "general", "--peek"])
        .stdout_has(&format!("{}  2027-01-15 08:01:00  Alice: (recalled)\n", &room[..16]));
    alice.fails(
        ["chat", "recall", "general", &room[..8]],
        exit::ERROR,
        "recalled already",
    );
    alice.fails(["chat", "react", "general", &room[..8], "👍"], exit::ERROR, "recalled");
    alice.fails(["chat", "edit", "general", &room[..8], "back"], exit::ERROR, "recalled");

    // Message ids must be long enough and name one message.
    alice.fails(["chat", "pin", "general", "abc"], exit::ERROR, "at least 6 hex digits");
    alice.fails(["chat", "pin", "general", "000000"], exit::ERROR, "no message 000000");
    alice.fails(["chat", "send", "general", "   "], exit::ERROR, "empty");

    // `channel list` and the JSON of every command, printed as is.
    let row = listed(&alice, &ch);
    assert_eq!(row["name"], "general", "{row:#}");
    assert_eq!(row["kind"], "everyone", "{row:#}");
    assert_eq!(row["messages"], 7, "{row:#}");
    assert_eq!(row["unread"], 0, "her own messages are read: {row:#}");
    assert_eq!(row["mentions"], 0, "{row:#}");
    assert_eq!(row["last"], t0 + 7_400, "{row:#}");
    assert_eq!(row["archived"], false, "{row:#}");
    assert_eq!(row["joined"], true, "{row:#}");
    let table = alice.ok(["channel", "list"]).stdout;
    assert!(
        table.starts_with("ID") && table.contains("UNREAD") && table.contains("MENTIONS"),
        "{table}"
    );
    assert!(
        table.contains(&format!("{ch}  general")) && table.contains("2027-01-15 10:03:20"),
        "{table}"
    );
}

#[test]
fn archived_channels_refuse_writes_and_unknown_names_are_named() {
    let (sb, alice, bob) = acme_offline();
    let t0 = sb.now();
    alice.json(["channel", "create", "announcements"]);
    let kept = send(&alice, "announcements", "office closed on Monday", &[], t0);

    alice
        .ok(["channel", "archive", "announcements"])
        .stdout_has("archived channel");
    for args in [
        vec!["chat", "send", "announcements", "one more thing"],
        vec!["chat", "edit", "announcements", &kept[..8], "office open on Monday"],
        vec!["chat", "react", "announcements", &kept[..8], "👍"],
        vec!["chat", "pin", "announcements", &kept[..8]],
    ] {
        let run = alice.fails(&args, exit::ERROR, "archived");
        assert!(run.stdout.is_empty(), "{run}");
    }
    // Nothing of the refused commands was stored.
    let read = peek(&alice, "announcements", &[]);
    assert_eq!(read["archived"], true, "{read:#}");
    assert_eq!(
        messages(&read).iter().map(|m| &m["text"]).collect::<Vec<_>>(),
        ["office closed on Monday"]
    );
    let m = &messages(&read)[0];
    assert!(
        m["edited"] == false && m["pinned"] == false && m["reactions"] == json!({}),
        "{read:#}"
    );
    let row = listed(&alice, text_of(&read["channel"]));
    assert_eq!(row["archived"], true, "{row:#}");
    assert!(
        alice.ok(["channel", "list"]).stdout.contains("  archived\n"),
        "the table flags it"
    );

    // Reopened, it takes messages again.
    alice
        .ok(["channel", "archive", "announcements", "--undo"])
        .stdout_has("reopened channel");
    send(&alice, "announcements", "one more thing", &[], t0 + 60);

    // Unknown channels are named in the error, with where to look.
    alice.fails(
        ["chat", "send", "no-such-channel", "hello"],
        exit::ERROR,
        "no channel \"no-such-channel\"",
    );
    alice.fails(
        ["chat", "read", "no-such-channel"],
        exit::ERROR,
        "`outpost channel list`",
    );
    alice.fails(
        ["channel", "archive", "no-such-channel"],
        exit::ERROR,
        "no-such-channel",
    );
    alice.fails(["chat", "search", "x", "--channel", "nowhere"], exit::ERROR, "nowhere");
    // Bob's home holds none of Alice's channels: it shares nothing with hers.
    bob.fails(
        ["chat", "read", "announcements"],
        exit::ERROR,
        "no channel \"announcements\"",
    );
    assert_eq!(bob.json(["channel", "list"]), json!([]));
    // Conflicting audiences are a usage error.
    alice
        .run(["channel", "create", "x", "--everyone", "--dept", "HQ"])
        .code(exit::USAGE);
}

#[test]
fn audiences_direct_messages_leaving_and_receipts() {
    let (sb, alice, bob) = acme_offline();
    let t0 = sb.now();

    // Bob's channel is his department's by default.
    let east = bob.json(["channel", "create", "east"]);
    let east = text_of(&east["channel"]).to_owned();
    assert_eq!(listed(&bob, &east)["kind"], "dept:HQ/East");
    let sales = bob.json(["channel", "create", "sales", "--dept", "HQ/East"]);
    assert_eq!(listed(&bob, text_of(&sales["channel"]))["kind"], "dept:HQ/East");
    // Only a department's members write in its scope, admins included.
    alice.fails(
        ["channel", "create", "sales", "--dept", "HQ/East"],
        exit::ERROR,
        "may not post in a channel of HQ/East",
    );
    assert_eq!(alice.json(["channel", "list"]), json!([]));

    // Alice's channels: a group and a direct message.
    let group = alice.json(["channel", "create", "预算小组", "--members", "Bob"]);
    let group = text_of(&group["channel"]).to_owned();
    let row = listed(&alice, &group);
    assert_eq!(
        (row["kind"].clone(), row["members"].clone()),
        (json!("group"), json!(2)),
        "{row:#}"
    );
    let dm = alice.json(["channel", "dm", "Bob"]);
    let dm = text_of(&dm["channel"]).to_owned();
    assert_eq!(
        alice.json(["channel", "dm", "bob"])["channel"],
        dm.as_str(),
        "one DM per pair"
    );
    assert_ne!(dm, group, "a group of two is not their direct channel");
    let row = listed(&alice, &dm);
    assert_eq!(
        (row["kind"].clone(), row["name"].clone()),
        (json!("direct"), json!("Alice · Bob")),
        "{row:#}"
    );
    alice.fails(["channel", "dm", "Zed"], exit::ERROR, "no member \"Zed\"");
    alice.fails(
        ["channel", "create", "x", "--members", "Zed"],
        exit::ERROR,
        "no member \"Zed\"",
    );

    // Receipts: Bob has not read Alice's message (his node never saw it).
    let hi = send(&alice, "预算小组", "@Bob 预算表发你了", &[], t0);
    let receipts = alice.json(["chat", "receipts", "预算小组", &hi[..8]]);
    assert_eq!(receipts["read"], json!([]), "{receipts:#}");
    assert_eq!(receipts["unread"][0]["name"], "Bob", "{receipts:#}");
    assert_eq!(
        alice.ok(["chat", "receipts", "预算小组", &hi[..8]]).stdout,
        "read by: -\nnot yet: Bob\n"
    );

    // Leaving: still readable, no longer counted; joining again.
    alice.ok(["channel", "leave", &group[..6]]).stdout_has("left channel");
    assert_eq!(listed(&alice, &group)["joined"], false);
    assert_eq!(listed(&alice, &group)["members"], 1);
    assert!(alice.ok(["channel", "list"]).stdout.contains("  left\n"));
    assert_eq!(messages(&peek(&alice, &group, &[])).len(), 1);
    alice.ok(["channel", "join", &group[..6]]).stdout_has("joined channel");
    assert_eq!(listed(&alice, &group)["joined"], true);

    // The list is most recently active first.
    send(&alice, &dm, "new price list", &[], t0 + DAY);
    let order: Vec<Value> = alice
        .json(["channel", "list"])
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(order, [json!("Alice · Bob"), json!("预算小组")]);
}

/// With both nodes up the commands go through their APIs, and Bob's
/// messages reach Alice: unread and mentioned until she reads them.
#[test]
fn through_running_nodes_messages_from_others_are_unread_until_read() {
    let (sb, alice) = acme();
    let bob = member(&sb, &alice, "Bob");
    let ch = alice.json(["channel", "create", "town-square", "--everyone"]);
    let ch = text_of(&ch["channel"]).to_owned();
    let a = alice.up(&[]);
    let b = bob.up(&[a.addr()]);
    let all = [&a, &b];
    wait_for_peers(&a, &[&b], &all);
    wait_until("Bob's node holds the channel", TIMEOUT, &all, || {
        let run = bob.cmd(["channel", "list", "--json"]).run();
        (run.code == exit::OK && run.stdout.contains(&ch))
            .then_some(())
            .ok_or(run.to_string())
    });

    let zh = send(&bob, "town-square", "@Alice 明天下午三点开会讨论预算", &[], sb.now());
    send(&bob, "town-square", "see you there", &[], sb.now());
    let row = wait_until("Alice has Bob's two messages", TIMEOUT, &all, || {
        let row = listed(&alice, &ch);
        (row["unread"] == 2).then_some(row.clone()).ok_or(row.to_string())
    });
    assert_eq!(row["mentions"], 1, "{row:#}");
    assert_eq!(message(&alice, "town-square", &zh)["mentions_me"], true);
    assert_eq!(search(&alice, &["预算"]), [zh.as_str()]);

    // Reading marks them read (a peek does not).
    assert_eq!(listed(&alice, &ch)["unread"], 2, "peeking marks nothing read");
    let read = alice.json(["chat", "read", "town-square"]);
    assert_eq!(
        (read["unread"].clone(), read["marked_read"].clone()),
        (json!(2), json!(true)),
        "{read:#}"
    );
    let row = listed(&alice, &ch);
    assert_eq!(
        (row["unread"].clone(), row["mentions"].clone()),
        (json!(0), json!(0)),
        "{row:#}"
    );
    wait_until("Bob sees that Alice read his message", TIMEOUT, &all, || {
        let run = bob.run(["chat", "receipts", "town-square", &zh[..16]]);
        (run.stdout == "read by: Alice\nnot yet: -\n")
            .then_some(())
            .ok_or(run.to_string())
    });
    alice.fails(["chat", "send", "nowhere", "hi"], exit::ERROR, "no channel \"nowhere\"");

    // A file through the running nodes: Bob's CLI encrypts it into his home,
    // his node posts it; Alice's node fetches it from his when she saves it.
    let minutes: Vec<u8> = (0..2_500_000u32).map(|i| (i % 241) as u8).collect();
    let path = sb.path("minutes.pdf");
    std::fs::write(&path, &minutes).expect("the file is written");
    let file = bob.json([
        "chat",
        "send",
        "town-square",
        "minutes attached",
        "--file",
        &path.to_string_lossy(),
    ]);
    let id = text_of(&file["message"]).to_owned();
    wait_until("Alice's node shows the file", TIMEOUT, &all, || {
        let read = peek(&alice, "town-square", &[]);
        messages(&read)
            .iter()
            .any(|m| m["id"] == id.as_str() && m["attachments"][0]["name"] == "minutes.pdf")
            .then_some(())
            .ok_or_else(|| read.to_string())
    });
    let out = sb.path("alice-minutes.pdf");
    alice
        .ok(["chat", "save", "town-square", &id[..8], "--out", &out.to_string_lossy()])
        .stdout_has("saved minutes.pdf (2500000 bytes)");
    assert!(std::fs::read(&out).expect("saved") == minutes, "Alice's copy differs");
}

#[test]
fn files_are_attached_saved_and_refused_by_the_org_s_type_and_size_limits() {
    let (sb, alice, bob) = acme_offline();
    alice.json(["channel", "create", "general", "--everyone"]);
    let report: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let path = sb.path("report.pdf");
    std::fs::write(&path, &report).expect("the file is written");
    let path = path.to_string_lossy().into_owned();

    let sent = alice.json(["chat", "send", "general", "--file", &path]);
    let id = text_of(&sent["message"]).to_owned();
    assert_eq!(sent["bytes"], 3_000_000, "{sent}");
    let m = message(&alice, "general", &id);
    assert_eq!(
        (&m["attachments"][0]["name"], &m["attachments"][0]["media_type"]),
        (&json!("report.pdf"), &json!("application/pdf")),
        "{m}"
    );
    alice
        .ok(["chat", "read", "general", "--peek"])
        .stdout_has("📎 report.pdf (2930 KB)");

    let out = sb.path("copy.pdf");
    let out_arg = out.to_string_lossy().into_owned();
    alice
        .ok(["chat", "save", "general", &id[..8], "--out", &out_arg])
        .stdout_has("saved report.pdf (3000000 bytes)");
    assert!(std::fs::read(&out).expect("saved") == report, "the saved copy differs");

    let exe = sb.path("setup.exe");
    std::fs::write(&exe, b"MZ").expect("written");
    alice.fails(
        ["chat", "send", "general", "--file", &exe.to_string_lossy()],
        exit::ERROR,
        "files of type \".exe\" may not be sent",
    );
    let missing = sb.path("nowhere.pdf");
    alice.fails(
        ["chat", "send", "general", "--file", &missing.to_string_lossy()],
        exit::ERROR,
        "nowhere.pdf",
    );
    assert_eq!(
        messages(&peek(&alice, "general", &[])).len(),
        1,
        "refused files post nothing"
    );

    // The org's admins set the limits; members are refused the change.
    alice.ok(["org", "settings"]).stdout_has("largest file: 100 MB");
    bob.fails(
        ["org", "set", "--file-size-max", "1MB"],
        exit::ERROR,
        "only the org's admins may change its settings",
    );
    let set = alice.json(["org", "set", "--file-size-max", "2MB", "--file-types", "PDF,.txt"]);
    assert_eq!(set, json!({"file_bytes_max": 2 << 20, "file_types": ["pdf", "txt"]}));
    alice.fails(
        ["chat", "send", "general", "--file", &path],
        exit::ERROR,
        "files of at most 2 MB may be sent",
    );
    let png = sb.path("photo.png");
    std::fs::write(&png, b"png").expect("written");
    alice.fails(
        ["chat", "send", "general", "--file", &png.to_string_lossy()],
        exit::ERROR,
        "allowed: pdf, txt",
    );
    assert_eq!(messages(&peek(&alice, "general", &[])).len(), 1);
}
