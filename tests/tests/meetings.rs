//! Meetings across real nodes: `outpost up` processes on 127.0.0.1 talking
//! through `POST /api/meetings` (and `/api/docs` for the minutes).
//!
//! Bob organizes a meeting for his department and Dave of HQ/West; their
//! answers reach Bob's node; the minutes, a document of the meeting's
//! scope, are created by one invitee and edited by another; upcoming and
//! past lists split by the meeting's end; reminders come once, in the
//! window before the start, to whoever has not declined, driven in virtual
//! time through the `remind` action; adding an invitee lets them in, a
//! cancellation reaches everyone and stops reminders.

use outpost_tests::cluster::{TIMEOUT, acme, certified_in, member, wait_for_peers};
use outpost_tests::{RunningNode, wait_until};
use serde_json::{Value, json};

/// `POST /api/meetings` on `node`; errors are described.
fn try_meeting(node: &RunningNode, req: &Value) -> Result<Value, String> {
    let r = node.request("POST", "/api/meetings", Some(req), true)?;
    if r.status != 200 {
        return Err(format!("{} status {}: {}", node.name(), r.status, r.body));
    }
    r.json()
}

/// `POST /api/meetings` on `node`, which must succeed.
fn meeting(node: &RunningNode, req: Value) -> Value {
    node.post("/api/meetings", &req)
}

/// The ids of the upcoming (or past) meetings `node` lists.
fn ids(node: &RunningNode, past: bool) -> Result<Vec<String>, String> {
    let v = try_meeting(node, &json!({"action": "list", "past": past}))?;
    Ok(v["meetings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
        .collect())
}

/// (name, answer) of every invitee in `show`.
fn answers(show: &Value) -> Vec<(String, Value)> {
    show["answers"]["people"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| (p["name"].as_str().unwrap_or_default().to_owned(), p["answer"].clone()))
        .collect()
}

/// The reminders `node` sends at `now`.
fn remind(node: &RunningNode, now: u64) -> Vec<Value> {
    meeting(node, json!({"action": "remind", "now": now}))["reminders"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn invite_answer_minutes_lists_and_reminders_across_nodes() {
    let (sb, admin) = acme();
    let bob = member(&sb, &admin, "b");
    let carol = member(&sb, &admin, "c");
    let dave = certified_in(&sb, &admin, "d", "member", "HQ/West");
    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let c = carol.up(&[a.addr(), b.addr()]);
    let d = dave.up(&[a.addr(), b.addr(), c.addr()]);
    let all = [&a, &b, &c, &d];
    wait_for_peers(&d, &[&a, &b, &c], &all);

    let now = sb.now();
    let start = (now + 3 * 3600) / 60 * 60;
    let made = meeting(
        &b,
        json!({"action": "create", "title": "Budget review", "start": start, "minutes": 45,
               "place": "Room 4", "link": "https://meet.example/budget", "agenda": "1. Numbers",
               "invitees": ["d", "dept:HQ/East"]}),
    );
    assert_eq!(made["end"], start + 45 * 60, "{made}");
    assert_eq!(made["remind_minutes"], 15, "{made}");
    let id = made["id"].as_str().expect("an id").to_owned();
    let past = meeting(
        &b,
        json!({"action": "create", "title": "Retro", "start": now - 3 * 3600, "end": now - 2 * 3600,
               "invitees": ["c"]}),
    );
    let past = past["id"].as_str().expect("an id").to_owned();

    // The invitees see it; Alice, not invited, does not.
    for node in [&c, &d] {
        wait_until(&format!("{} lists the meeting", node.name()), TIMEOUT, &all, || {
            let up = ids(node, false)?;
            (up == [id.clone()])
                .then_some(())
                .ok_or_else(|| format!("{} lists {up:?}", node.name()))
        });
    }
    assert_eq!(ids(&a, false).expect("lists"), Vec::<String>::new());
    let hidden = try_meeting(&a, &json!({"action": "show", "meeting": id})).expect_err("not invited");
    assert!(hidden.contains("404") && hidden.contains("no meeting"), "{hidden}");
    wait_until("c lists the retro as past", TIMEOUT, &all, || {
        let p = ids(&c, true)?;
        (p == [past.clone()]).then_some(()).ok_or_else(|| format!("c: {p:?}"))
    });
    assert!(!ids(&c, false).expect("lists").contains(&past));
    assert_eq!(
        ids(&d, true).expect("lists"),
        Vec::<String>::new(),
        "Dave was not at the retro"
    );

    // Carol accepts, Dave declines; Bob's node shows both answers.
    let refused = try_meeting(&b, &json!({"action": "answer", "meeting": id, "response": "accept"}))
        .expect_err("the organizer does not answer");
    assert!(refused.contains("organize"), "{refused}");
    meeting(
        &c,
        json!({"action": "answer", "meeting": "Budget review", "response": "accept"}),
    );
    meeting(
        &d,
        json!({"action": "answer", "meeting": &id[..6], "response": "tentative"}),
    );
    meeting(&d, json!({"action": "answer", "meeting": id, "response": "decline"}));
    wait_until("b sees both answers", TIMEOUT, &all, || {
        let shown = try_meeting(&b, &json!({"action": "show", "meeting": id}))?;
        let got = answers(&shown);
        let want = vec![("c".to_owned(), json!("accept")), ("d".to_owned(), json!("decline"))];
        (got == want && shown["answers"]["accepted"] == 1 && shown["answers"]["declined"] == 1)
            .then_some(())
            .ok_or_else(|| format!("b shows {shown}"))
    });

    // Carol starts the minutes; Dave, an invitee of another department,
    // edits them; Bob reads both, linked from the meeting.
    let minutes = meeting(&c, json!({"action": "minutes", "meeting": id}));
    assert_eq!(minutes["created"], true, "{minutes}");
    let doc = minutes["minutes"].as_str().expect("the document").to_owned();
    let again = meeting(&c, json!({"action": "minutes", "meeting": id}));
    assert_eq!(
        (again["minutes"].as_str(), again["created"].clone()),
        (Some(doc.as_str()), json!(false))
    );
    c.post(
        &format!("/api/docs/{doc}"),
        &json!({"append": "Decided: budget up 5%."}),
    );
    wait_until("d can edit the minutes", TIMEOUT, &all, || {
        let shown = try_meeting(&d, &json!({"action": "minutes", "meeting": id}))?;
        if shown["minutes"] != doc.as_str() {
            return Err(format!("d: {shown}"));
        }
        let body = d.try_get(&format!("/api/docs/{doc}"))?;
        body["body"]
            .as_str()
            .is_some_and(|t| t.contains("budget up 5%"))
            .then_some(())
            .ok_or_else(|| format!("d: {body}"))
    });
    d.post(&format!("/api/docs/{doc}"), &json!({"append": "Dave: West agrees."}));
    wait_until("b reads the minutes with both edits", TIMEOUT, &all, || {
        let shown = try_meeting(&b, &json!({"action": "show", "meeting": id}))?;
        if shown["minutes"] != doc.as_str() {
            return Err(format!("b: {shown}"));
        }
        let body = b.try_get(&format!("/api/docs/{doc}"))?;
        let text = body["body"].as_str().unwrap_or_default();
        (body["title"] == "Minutes: Budget review" && text.contains("budget up 5%") && text.contains("West agrees"))
            .then_some(())
            .ok_or_else(|| format!("b: {body}"))
    });
    assert!(
        a.request("GET", &format!("/api/docs/{doc}"), None, true)
            .expect("answers")
            .status
            != 200
    );

    // The CLI goes through the running node.
    let text = carol.ok(["meeting", "show", &id]).stdout;
    assert!(
        text.contains("1 accepted, 1 declined") && text.contains("minutes: document"),
        "{text}"
    );

    // Reminders in virtual time: 15 minutes before, once, not to Dave.
    assert_eq!(remind(&c, start - 16 * 60), Vec::<Value>::new(), "too early");
    let notices = remind(&c, start - 10 * 60);
    assert_eq!(notices.len(), 1, "{notices:?}");
    let n = &notices[0];
    assert_eq!(
        (
            n["kind"].clone(),
            n["meeting"].clone(),
            n["title"].clone(),
            n["start"].clone()
        ),
        (
            json!("meeting_reminder"),
            json!(id),
            json!("Budget review"),
            json!(start)
        )
    );
    assert_eq!(
        (n["place"].clone(), n["starts_in"].clone()),
        (json!("Room 4"), json!(600))
    );
    assert_eq!(remind(&c, start - 9 * 60), Vec::<Value>::new(), "reminded once");
    assert_eq!(remind(&d, start - 10 * 60), Vec::<Value>::new(), "Dave declined");
    assert_eq!(remind(&b, start - 5 * 60).len(), 1, "the organizer is reminded");
    assert_eq!(remind(&a, start - 5 * 60), Vec::<Value>::new(), "Alice is not invited");
    assert_eq!(remind(&c, start), Vec::<Value>::new(), "it has started");

    // Bob moves it an hour later and invites Alice too.
    let moved = meeting(
        &b,
        json!({"action": "update", "meeting": id, "start": start + 3600,
               "invitees": ["d", "dept:HQ/East", "Alice"]}),
    );
    assert_eq!(
        (moved["start"].clone(), moved["end"].clone()),
        (json!(start + 3600), json!(start + 3600 + 45 * 60))
    );
    wait_until("a lists the meeting once invited", TIMEOUT, &all, || {
        let up = ids(&a, false)?;
        (up == [id.clone()])
            .then_some(())
            .ok_or_else(|| format!("a lists {up:?}"))
    });
    wait_until("c sees the new start", TIMEOUT, &all, || {
        let shown = try_meeting(&c, &json!({"action": "show", "meeting": id}))?;
        (shown["start"] == start + 3600)
            .then_some(())
            .ok_or_else(|| format!("c: {shown}"))
    });
    assert_eq!(
        remind(&c, start + 3600 - 10 * 60).len(),
        1,
        "reminded again for the new start"
    );
    meeting(&a, json!({"action": "answer", "meeting": id, "response": "tentative"}));

    // Cancelled: everyone sees it, nobody is reminded or answers any more.
    let cancelled = meeting(&b, json!({"action": "cancel", "meeting": id}));
    assert_eq!(cancelled["cancelled"], true);
    for node in [&a, &c, &d] {
        wait_until(&format!("{} sees the cancellation", node.name()), TIMEOUT, &all, || {
            let shown = try_meeting(node, &json!({"action": "show", "meeting": id}))?;
            (shown["cancelled"] == true)
                .then_some(())
                .ok_or_else(|| format!("{}: {shown}", node.name()))
        });
    }
    assert_eq!(remind(&a, start + 3600 - 5 * 60), Vec::<Value>::new());
    let refused =
        try_meeting(&c, &json!({"action": "answer", "meeting": id, "response": "decline"})).expect_err("cancelled");
    assert!(refused.contains("cancelled"), "{refused}");
    let refused = try_meeting(&c, &json!({"action": "cancel", "meeting": id})).expect_err("not hers");
    assert!(
        refused.contains("organizer") || refused.contains("cancelled"),
        "{refused}"
    );
}
