//! TC-002, deadline reminders, in virtual time across two devices of the
//! same assignee: two `outpost up` processes holding Bob's member key
//! (the second made with `init --member-key`), both online.
//!
//! A task due "tomorrow at 10:00" reminds Bob today at 10:00 and tomorrow
//! at 09:00, once each: the scheduler runs on both devices at those times
//! (the `remind` task action takes the time), and exactly one reminder is
//! sent each time, whichever device sends it; running it again, a little
//! later or after both nodes restart, sends nothing more, and both devices
//! list the same two reminders. When the device that would send first is
//! off, the other sends after its stagger.
//!
//! "Today" is ten days ahead of the real clock, so the schedulers the
//! nodes run by themselves on the real clock never find these reminders
//! due.

use outpost_tests::cluster::{TIMEOUT, acme, member, wait_for_peers};
use outpost_tests::{RunningNode, wait_until};
use serde_json::{Value, json};

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;
/// The scheduler's stagger between devices (`STAGGER_SECS`).
const STAGGER: u64 = 30;

fn tasks(node: &RunningNode, req: Value) -> Value {
    node.post("/api/tasks", &req)
}

/// `POST /api/tasks` on `node`; errors are described.
fn try_tasks(node: &RunningNode, req: &Value) -> Result<Value, String> {
    let r = node.request("POST", "/api/tasks", Some(req), true)?;
    if r.status != 200 {
        return Err(format!("status {}: {}", r.status, r.body));
    }
    r.json()
}

/// Runs the scheduler of `node` at `now`; the reminders it sent.
fn remind(node: &RunningNode, now: u64) -> Vec<Value> {
    let v = tasks(node, json!({"action": "remind", "now": now.to_string()}));
    assert_eq!(v["now"], now, "{v}");
    v["sent"].as_array().cloned().unwrap_or_default()
}

/// Runs the schedulers of both devices at `now` at the same moment; what
/// each sent.
fn remind_both(x: &RunningNode, y: &RunningNode, now: u64) -> (Vec<Value>, Vec<Value>) {
    std::thread::scope(|s| {
        let one = s.spawn(|| remind(x, now));
        let two = remind(y, now);
        (one.join().expect("the scheduler call returns"), two)
    })
}

/// The reminders `node` lists for its member.
fn reminders(node: &RunningNode) -> Vec<Value> {
    tasks(node, json!({"action": "reminders"}))["reminders"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// (lead, task, deadline, record) of each reminder listed, in order.
fn summary(list: &[Value]) -> Vec<(String, String, u64, String)> {
    list.iter()
        .map(|r| {
            (
                r["lead"].as_str().unwrap_or_default().to_owned(),
                r["task"].as_str().unwrap_or_default().to_owned(),
                r["deadline"].as_u64().unwrap_or_default(),
                r["record"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Waits until both devices list exactly `count` reminders, the same ones.
fn both_list(x: &RunningNode, y: &RunningNode, count: usize) -> Vec<(String, String, u64, String)> {
    wait_until(
        &format!("both devices list {count} reminders"),
        TIMEOUT,
        &[x, y],
        || {
            let (one, two) = (summary(&reminders(x)), summary(&reminders(y)));
            if one.len() == count && one == two {
                Ok(one)
            } else {
                Err(format!("{one:?} vs {two:?}"))
            }
        },
    )
}

/// Midnight UTC of the day ten days from now.
fn virtual_today() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    (now / DAY + 10) * DAY
}

#[test]
fn tc002_one_reminder_a_day_and_an_hour_before_across_two_devices() {
    let (sb, admin) = acme();
    let bob = member(&sb, &admin, "b");
    // Bob's second device: his member key and certificate, its own device key.
    let phone = sb.node("b2");
    let key = bob.home().join("keys/member.key");
    phone.ok([
        "init".as_ref(),
        "--name".as_ref(),
        "b".as_ref(),
        "--member-key".as_ref(),
        key.as_os_str(),
    ]);
    phone.ok(["cert", "install", "b.cert"]);
    assert_eq!(
        phone.status()["member"],
        bob.status()["member"],
        "one member, two devices"
    );

    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let p = phone.up(&[a.addr(), b.addr()]);
    wait_for_peers(&b, &[&a, &p], &[&a, &b, &p]);

    let today = virtual_today();
    let due = today + DAY + 10 * HOUR; // tomorrow 10:00
    let made = tasks(&b, json!({"action": "create_project", "name": "Field"}));
    let project = made["project"].as_str().expect("a project id").to_owned();
    let added = tasks(
        &b,
        json!({"action": "add", "project": project, "title": "File the survey", "assignees": ["b"], "due": due.to_string()}),
    );
    let task = added["task"].as_str().expect("a task id").to_owned();
    wait_until("the phone has the task", TIMEOUT, &[&b, &p], || {
        let board = try_tasks(&p, &json!({"action": "show", "task": task}))?;
        if board["task"]["deadline"] == due {
            Ok(())
        } else {
            Err(board.to_string())
        }
    });

    // Today 09:59: nothing yet.
    let (x, y) = remind_both(&b, &p, today + 10 * HOUR - 60);
    assert!(x.is_empty() && y.is_empty(), "nothing before 10:00: {x:?} {y:?}");

    // Today 10:00: one reminder, a day ahead, from one device only.
    let (x, y) = remind_both(&b, &p, today + 10 * HOUR);
    assert_eq!(x.len() + y.len(), 1, "one device sends, the other waits: {x:?} {y:?}");
    let bob_first = x.len() == 1;
    let sent = x.iter().chain(&y).next().expect("one reminder");
    assert_eq!(
        (sent["lead"].as_str(), sent["task"].as_str()),
        (Some("day"), Some(task.as_str()))
    );
    assert_eq!(sent["title"], "File the survey");
    let listed = both_list(&b, &p, 1);
    // Past the second device's stagger it holds the first one's record.
    let (x, y) = remind_both(&b, &p, today + 10 * HOUR + STAGGER + 10);
    assert!(x.is_empty() && y.is_empty(), "sent once: {x:?} {y:?}");

    // Both restart: the reminder is not sent again.
    let (_, a_logs) = a.terminate();
    let (_, b_logs) = b.terminate();
    let (_, p_logs) = p.terminate();
    drop((a_logs, b_logs, p_logs));
    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let p = phone.up(&[a.addr(), b.addr()]);
    wait_for_peers(&b, &[&a, &p], &[&a, &b, &p]);
    assert_eq!(both_list(&b, &p, 1), listed, "kept across restarts");
    let (x, y) = remind_both(&b, &p, today + 12 * HOUR);
    assert!(x.is_empty() && y.is_empty(), "not again after a restart: {x:?} {y:?}");

    // Tomorrow 08:59, then 09:00: the hour reminder, once.
    let (x, y) = remind_both(&b, &p, due - HOUR - 60);
    assert!(x.is_empty() && y.is_empty(), "nothing before 09:00: {x:?} {y:?}");
    let (x, y) = remind_both(&b, &p, due - HOUR);
    assert_eq!(x.len() + y.len(), 1, "{x:?} {y:?}");
    let sent = x.iter().chain(&y).next().expect("one reminder");
    assert_eq!(sent["lead"], "hour");
    let both = both_list(&b, &p, 2);
    assert_eq!(
        both.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["hour", "day"],
        "newest first"
    );
    let (x, y) = remind_both(&b, &p, due - HOUR + STAGGER + 10);
    assert!(x.is_empty() && y.is_empty(), "{x:?} {y:?}");
    // After the deadline nothing is sent; the task shows overdue instead.
    let (x, y) = remind_both(&b, &p, due + 60);
    assert!(x.is_empty() && y.is_empty(), "{x:?} {y:?}");

    // The device that sends first is switched off: the other sends once
    // its stagger has passed.
    let (first, second) = if bob_first { (b, p) } else { (p, b) };
    let due2 = due + 5 * DAY;
    let added = tasks(
        &second,
        json!({"action": "add", "project": project, "title": "Second visit", "assignees": ["b"], "due": due2.to_string()}),
    );
    let task2 = added["task"].as_str().expect("a task id").to_owned();
    let _ = first.kill();
    assert!(remind(&second, due2 - DAY).is_empty(), "the second device waits");
    let sent = remind(&second, due2 - DAY + STAGGER);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0]["lead"].as_str(), sent[0]["task"].as_str()),
        (Some("day"), Some(task2.as_str()))
    );
}
