//! Projects and tasks from the command line: `outpost project ...`,
//! `outpost task ...` and `outpost board show` run by the real binary on a
//! home with no node up, so the CLI answers from the store itself.
//!
//! Bad inputs (an unknown project, task or column, a date or priority that
//! does not read, an empty title) fail with a clear message and exit code,
//! and change nothing.

use outpost_tests::cluster::member;
use outpost_tests::{DAY, Node, Sandbox, exit, words};
use serde_json::Value;

/// Alice, admin of Acme, and Bob, a member of HQ/East certified by her.
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

#[test]
fn a_board_from_the_command_line() {
    let (sb, _alice, bob) = acme_offline();
    let made = bob.json(words("project create Launch"));
    assert_eq!(made["space"]["writers"][0], "dept:HQ/East", "{made}");
    let project = text_of(&made["project"]).to_owned();

    let due = sb.now() + DAY;
    let added = bob.json([
        "task",
        "add",
        "Launch",
        "Print flyers",
        "--assignee",
        "Bob",
        "--due",
        &due.to_string(),
        "--priority",
        "high",
        "--label",
        "print,urgent",
    ]);
    let task = text_of(&added["task"]).to_owned();
    bob.json([
        "task",
        "add",
        &project[..8],
        "Book the hall",
        "--due",
        "2027-12-01T10:00",
    ]);

    // The board, as text: every column, each card with who and when.
    let shown = bob.ok(words("board show Launch")).stdout;
    for needle in [
        "Launch",
        "To do (2)",
        "In progress (0)",
        "Done (0)",
        "Print flyers · Bob · due ",
        "#print",
    ] {
        assert!(shown.contains(needle), "{needle:?} in:\n{shown}");
    }
    assert!(!shown.contains("OVERDUE"), "{shown}");
    // Two days later the first task is overdue: derived, not stored.
    let later = bob.cmd(words("board show Launch")).at(due + DAY).run().success().stdout;
    assert!(
        later.contains("Print flyers · Bob · due ") && later.contains("OVERDUE"),
        "{later}"
    );

    bob.ok(["task", "move", &task[..6], "In progress"]);
    bob.ok(["task", "comment", &task, "Proofs ordered"]);
    bob.ok(["task", "item", &task, "Check the colours"]);
    bob.ok(["task", "check", &task, "1"]);
    let show = bob.json(["task", "show", &task]);
    assert_eq!(show["task"]["status"], "in_progress", "{show}");
    assert_eq!(show["task"]["comments"][0]["text"], "Proofs ordered");
    assert_eq!(show["task"]["checklist"][0]["done"], true);
    let text = bob.ok(["task", "show", &task]).stdout;
    assert!(
        text.contains("Bob (") && text.contains("Proofs ordered") && text.contains("1. [x] Check the colours"),
        "{text}"
    );

    bob.ok([
        "task",
        "update",
        &task,
        "--title",
        "Print the flyers",
        "--no-due",
        "--label",
        "print",
    ]);
    let show = bob.cmd(["task", "show", &task]).at(due + DAY).json();
    assert_eq!(show["task"]["title"], "Print the flyers");
    assert_eq!(show["task"]["deadline"], Value::Null);
    assert_eq!(show["task"]["labels"], serde_json::json!(["print"]));
    bob.ok(words("project column Launch Review --status in_progress"));
    bob.ok(["task", "move", &task, "review"]);
    assert_eq!(bob.json(["task", "show", &task])["column_name"], "Review");
    bob.ok(["task", "done", &task]);
    let show = bob.cmd(["task", "show", &task]).at(due + DAY).json();
    assert_eq!(show["task"]["status"], "done");
    assert_eq!(show["task"]["overdue"], false, "a finished task is never overdue");

    let list = bob.json(words("project list"));
    assert_eq!(list["projects"][0]["name"], "Launch");
    assert_eq!(list["projects"][0]["tasks"], 2);
    assert_eq!(list["projects"][0]["open"], 1);
    // Boards are projects, not library documents.
    let docs = bob.list(&[]);
    assert!(docs.iter().all(|d| d["kind"] != "board"), "{docs:?}");
}

#[test]
fn bad_inputs_fail_clearly_and_change_nothing() {
    let (_sb, _alice, bob) = acme_offline();
    bob.json(words("project create Launch"));
    let task = text_of(&bob.json(words("task add Launch Flyers"))["task"]).to_owned();

    bob.fails(words("task add Nope Flyers"), exit::ERROR, "no project \"Nope\"");
    bob.fails(["task", "move", &task, "Later"], exit::ERROR, "no column \"Later\"");
    bob.fails(words("task move ffffffff Done"), exit::ERROR, "no task \"ffffffff\"");
    bob.fails(
        words("task add Launch Flyers --due tomorrow"),
        exit::ERROR,
        "cannot read the date \"tomorrow\"",
    );
    bob.fails(
        words("task add Launch Flyers --due 2026-02-30"),
        exit::ERROR,
        "cannot read the date",
    );
    bob.fails(
        words("task add Launch Flyers --priority huge"),
        exit::ERROR,
        "no priority \"huge\"",
    );
    bob.fails(
        ["task", "add", "Launch", " "],
        exit::ERROR,
        "the title is not valid: it is empty",
    );
    bob.fails(
        ["task", "comment", &task, &"x".repeat(9000)],
        exit::ERROR,
        "the limit is 8192",
    );
    bob.fails(
        words("project create Launch2 --members team:x"),
        exit::ERROR,
        "cannot read",
    );
    bob.fails(words("board show"), exit::USAGE, "PROJECT");
    let board = bob.json(words("board show Launch"));
    let cards: usize = board["board"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["cards"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(cards, 1, "{board}");
}
