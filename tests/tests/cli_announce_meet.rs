//! Announcements and meetings from the command line: `outpost announce
//! ...` and `outpost meeting ...` run by the real binary on homes with no
//! node up, so the CLI answers from the store itself, at pinned times
//! (`OUTPOST_NOW`) to see pins expire and meetings become past.
//!
//! Bad inputs (a member publishing, a head addressing another department,
//! a date that does not read, an organizer answering) fail with a clear
//! message and exit code, and change nothing.

use outpost_tests::cluster::{certified, member};
use outpost_tests::{DAY, Node, Sandbox, exit, words};
use serde_json::Value;

/// Alice, admin of Acme; Hank, head of HQ/East; Bob, a member of HQ/East.
fn acme_offline() -> (Sandbox, Node, Node, Node) {
    let sb = Sandbox::new();
    let alice = sb.node("alice");
    alice.init("Alice");
    alice.ok(words("org create --name Acme"));
    let hank = certified(&sb, &alice, "Hank", "dept-head");
    let bob = member(&sb, &alice, "Bob");
    (sb, alice, hank, bob)
}

fn text_of(v: &Value) -> &str {
    v.as_str().expect("a string")
}

fn ids(v: &Value, list: &str) -> Vec<String> {
    v[list]
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| text_of(&a["id"]).to_owned())
        .collect()
}

#[test]
fn announcements_from_the_command_line() {
    let (sb, alice, hank, bob) = acme_offline();
    let now = sb.now();
    sb.write("notice.md", "# Move\n\nWe move on **1 May**.\n");
    sb.write("plan.pdf", "%PDF-1.4 plan");
    let pinned = alice.json(words(
        "announce publish --title 'New office' --body-file notice.md --pin-until 2027-02-01 --ack-required --attach plan.pdf",
    ));
    assert_eq!(pinned["audience"], serde_json::json!(["everyone"]), "{pinned}");
    assert_eq!(pinned["pinned"], true);
    let pinned = text_of(&pinned["id"]).to_owned();
    let later = alice
        .cmd(words(
            "announce publish --title 'Parking' --body 'Level -2 is closed.' --to dept:HQ/East,role:admin",
        ))
        .at(now + 60)
        .json();
    assert_eq!(
        later["audience"],
        serde_json::json!(["dept:HQ/East", "role:admin"]),
        "{later}"
    );
    let later = text_of(&later["id"]).to_owned();

    // Pinned first while pinned; then newest first.
    let list = alice.cmd(words("announce list")).at(now + 120).json();
    assert_eq!(ids(&list, "announcements"), [pinned.clone(), later.clone()]);
    let text = alice.cmd(words("announce list")).at(now + 120).run().success().stdout;
    assert!(text.contains("New office · Alice (admin) · pinned"), "{text}");
    let after = 1_801_440_000 + DAY;
    let list = alice.cmd(words("announce list")).at(after).json();
    assert_eq!(ids(&list, "announcements"), [later.clone(), pinned.clone()]);

    // The text, the file, and who read it (nobody here yet).
    let shown = alice.ok(["announce", "show", &pinned[..6]]).stdout;
    for needle in [
        "New office",
        "from Alice (admin)",
        "pinned until 2027-02-01 00:00 UTC",
        "We move on **1 May**.",
        "0. plan.pdf (13 bytes)",
    ] {
        assert!(shown.contains(needle), "{needle:?} in:\n{shown}");
    }
    let json = alice.json(["announce", "show", &pinned]);
    assert!(text_of(&json["body_html"]).contains("<strong>1 May</strong>"), "{json}");
    assert_eq!(json["marked_read"], false, "the publisher does not mark their own");
    alice.ok(["announce", "save", &pinned, "--out", "got.pdf"]);
    assert_eq!(sb.read("got.pdf"), "%PDF-1.4 plan");
    let reads = alice.json(["announce", "reads", &pinned]);
    assert_eq!(
        (reads["total"].clone(), reads["read"].clone()),
        (2.into(), 0.into()),
        "{reads}"
    );
    let text = alice.ok(["announce", "reads", &pinned]).stdout;
    assert!(
        text.contains("0 of 2 read, 0 acknowledged") && text.contains("Bob") && text.contains("not read"),
        "{text}"
    );

    // A head publishes to his department (the default), not beyond.
    let east = hank.json(words("announce publish --title 'Team lunch' --body Friday"));
    assert_eq!(east["audience"], serde_json::json!(["dept:HQ/East"]), "{east}");
    hank.fails(
        words("announce publish --title Lunch --body x --to dept:HQ/West"),
        exit::ERROR,
        "a department head may address only their own department and those below it (HQ/East); dept:HQ/West is outside it",
    );
    hank.fails(
        words("announce publish --title Lunch --body x --to everyone"),
        exit::ERROR,
        "everyone is outside it",
    );
    // A member never publishes.
    bob.fails(
        words("announce publish --title Party --body x"),
        exit::ERROR,
        "only admins and department heads may publish announcements; you are a member of HQ/East",
    );
    assert_eq!(
        ids(&bob.json(words("announce list --all")), "announcements"),
        Vec::<String>::new()
    );
    alice.fails(
        words("announce publish --title x --body x --to team:x"),
        exit::ERROR,
        "\"team:x\" is not an audience",
    );
    alice.fails(
        words("announce publish --title ' ' --body x"),
        exit::ERROR,
        "needs a title",
    );
    alice.fails(
        words("announce publish --title x --body x --pin-until soon"),
        exit::ERROR,
        "cannot read the date",
    );
    alice.fails(
        ["announce", "ack", &pinned],
        exit::ERROR,
        "you published this announcement",
    );
    alice.fails(words("announce show ffff"), exit::ERROR, "no announcement \"ffff\"");
    alice.fails(words("announce publish --title x"), exit::USAGE, "--body");
}

#[test]
fn meetings_from_the_command_line() {
    let (sb, alice, _hank, bob) = acme_offline();
    let now = sb.now(); // 2027-01-15 08:00 UTC
    let made = bob.json(words(
        "meeting create --title 'Budget review' --start 2027-01-16T10:00 --minutes 45 --place 'Room 4' --agenda '1. Numbers' --invite Alice,dept:HQ/East",
    ));
    assert_eq!(
        (made["start"].clone(), made["end"].clone()),
        (1_800_093_600u64.into(), 1_800_096_300u64.into())
    );
    let id = text_of(&made["id"]).to_owned();
    assert_eq!(
        made["invitees"],
        serde_json::json!([
            "dept:HQ/East",
            format!("member:{}", alice.status()["member"].as_str().expect("a key"))
        ]),
        "{made}"
    );
    bob.json(words(
        "meeting create --title Retro --start 2027-01-14T10:00 --end 2027-01-14T11:00",
    ));

    let text = bob.ok(words("meeting list")).stdout;
    assert!(
        text.contains("2027-01-16 10:00-10:45 UTC  Budget review · Room 4 · you organize it"),
        "{text}"
    );
    assert!(!text.contains("Retro"), "{text}");
    let past = bob.ok(words("meeting list --past")).stdout;
    assert!(past.contains("Retro") && !past.contains("Budget"), "{past}");
    // A day and a half later the review is past too, latest first.
    let later = bob.cmd(words("meeting list --past")).at(now + 2 * DAY).json();
    let titles: Vec<&str> = later["meetings"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| text_of(&m["title"]))
        .collect();
    assert_eq!(titles, ["Budget review", "Retro"]);

    let shown = bob.ok(["meeting", "show", &id[..6]]).stdout;
    for needle in [
        "Budget review",
        "2027-01-16 10:00-10:45 UTC",
        "organized by Bob",
        "reminder 15 minutes before",
        "1. Numbers",
        // Bob's store knows only his own and Alice's certificates.
        "0 accepted, 0 declined, 0 tentative, 1 not answered",
        "Alice",
    ] {
        assert!(shown.contains(needle), "{needle:?} in:\n{shown}");
    }

    let minutes = bob.json(["meeting", "minutes", "Budget review"]);
    assert_eq!(minutes["created"], true);
    let doc = text_of(&minutes["minutes"]).to_owned();
    bob.ok(["doc", "edit", &doc, "--append", "Decided: more coffee."]);
    assert!(bob.ok(["doc", "show", &doc]).stdout.contains("more coffee"));
    assert_eq!(bob.json(["meeting", "show", &id])["minutes"], doc.as_str());

    let at = |t: &str| bob.cmd(["meeting", "remind", "--now", t]).json()["reminders"].clone();
    assert_eq!(at("2027-01-16T09:44"), serde_json::json!([]));
    let due = at("2027-01-16T09:45");
    assert_eq!(due[0]["title"], "Budget review", "{due}");
    assert_eq!(due[0]["starts_in"], 900);
    assert_eq!(at("2027-01-16T09:50"), serde_json::json!([]), "once");
    let text = bob.ok(words("meeting remind --now 2027-01-16T09:50")).stdout;
    assert_eq!(text, "no reminders due\n");

    bob.ok([
        "meeting",
        "update",
        &id,
        "--start",
        "2027-01-16T14:00",
        "--link",
        "https://meet.example/b",
    ]);
    let shown = bob.json(["meeting", "show", &id]);
    assert_eq!(
        (shown["start"].clone(), shown["end"].clone()),
        (1_800_108_000u64.into(), 1_800_110_700u64.into())
    );
    let text = bob.ok(words("meeting remind --now 2027-01-16T13:50")).stdout;
    assert!(
        text.contains(
            "reminder: Budget review starts at 2027-01-16 14:00 UTC (in 10 minutes) · Room 4 · https://meet.example/b"
        ),
        "{text}"
    );

    bob.fails(["meeting", "accept", &id], exit::ERROR, "you organize this meeting");
    bob.fails(
        words("meeting create --title x --start tomorrow"),
        exit::ERROR,
        "cannot read the date \"tomorrow\"",
    );
    bob.fails(
        words("meeting create --title x --start 2027-01-16T10:00 --end 2027-01-16T09:00"),
        exit::ERROR,
        "must end after it starts",
    );
    bob.fails(
        words("meeting create --title x --start 2027-01-16T10:00 --invite Nobody"),
        exit::ERROR,
        "no member \"Nobody\"",
    );
    bob.fails(words("meeting show ffff"), exit::ERROR, "no meeting \"ffff\"");
    bob.ok(["meeting", "cancel", &id]);
    assert!(bob.ok(words("meeting list")).stdout.contains("CANCELLED"));
    bob.fails(["meeting", "cancel", &id], exit::ERROR, "cancelled already");
    assert_eq!(
        bob.cmd(words("meeting remind --now 2027-01-16T13:55")).json()["reminders"],
        serde_json::json!([])
    );
    // Meeting scopes are not library spaces; the minutes are a document.
    assert!(!bob.ok(words("space list")).stdout.contains("meeting"));
    let docs = bob.json(words("doc list"));
    assert!(
        docs.as_array().expect("a list").iter().any(|d| d["id"] == doc.as_str()),
        "{docs}"
    );
}
