//! Chat across real nodes: `outpost up` processes on 127.0.0.1 talking
//! through their HTTP APIs.
//!
//! A department channel's members follow the directory (a member certified
//! later reads its history; a revoked one receives nothing written after
//! the revocation); threads, edits, recalls, pins and read receipts reach
//! every member, and mentions, replies and direct messages raise
//! notifications on the event stream; search finds Chinese text; and messages written offline
//! are shown as pending, survive a crash, and are delivered (and shown so)
//! when a peer appears.

use outpost_tests::cluster::{EastTrio, TIMEOUT, east_trio, holds_for, new_channel, serial_of};
use outpost_tests::{RunningNode, wait_until};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long a node is watched to show that something did not reach it.
const QUIET_PERIOD: Duration = Duration::from_secs(3);

/// `GET /api/channels/CH/messages?peek=true` (reading without marking).
fn peek(node: &RunningNode, channel: &str) -> Result<Value, String> {
    node.try_get(&format!("/api/channels/{channel}/messages?peek=true"))
}

/// The message whose text is `text`, as `node` shows channel `channel`.
fn message(node: &RunningNode, channel: &str, text: &str) -> Result<Value, String> {
    let shown = peek(node, channel)?;
    shown["messages"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["text"] == text))
        .cloned()
        .ok_or_else(|| format!("{} does not show {text:?}: {shown}", node.name()))
}

/// Waits until `check` holds for channel `channel` on `node`.
fn wait_for(
    node: &RunningNode,
    what: &str,
    all: &[&RunningNode],
    mut check: impl FnMut(&RunningNode) -> Result<(), String>,
) {
    wait_until(&format!("{}: {what}", node.name()), TIMEOUT, all, || check(node));
}

/// `GET /api/events` on `node`, left open: the event stream's lines.
fn events(node: &RunningNode) -> BufReader<TcpStream> {
    let api = node.api();
    let mut stream = TcpStream::connect(api.addr).expect("the API accepts connections");
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("a read timeout can be set");
    write!(
        stream,
        "GET /api/events?token={} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        api.token, api.addr
    )
    .expect("the request is sent");
    // The node subscribes before it answers: once the head is here, no
    // later event is missed.
    let mut events = BufReader::new(stream);
    let mut status = String::new();
    events.read_line(&mut status).expect("the event stream answers");
    assert!(status.contains(" 200 "), "GET /api/events: {status}");
    loop {
        let mut header = String::new();
        events.read_line(&mut header).expect("the head is read");
        if header.trim().is_empty() {
            return events;
        }
    }
}

/// Reads `events` until an event named `name` whose data `pick` accepts;
/// returns its data.
fn next_event(events: &mut BufReader<TcpStream>, name: &str, pick: impl Fn(&Value) -> bool) -> Value {
    let mut current = String::new();
    let mut seen = Vec::new();
    let started = std::time::Instant::now();
    loop {
        // Keep-alive comments arrive every 15 s: the read timeout alone
        // would never end the wait.
        assert!(
            started.elapsed() < TIMEOUT,
            "no {name} event in {TIMEOUT:?}; saw {seen:?}"
        );
        let mut line = String::new();
        match events.read_line(&mut line) {
            Ok(0) | Err(_) => panic!("the event stream ended before a {name} event; saw {seen:?}"),
            Ok(_) => {}
        }
        let line = line.trim_end();
        if let Some(n) = line.strip_prefix("event:") {
            current = n.trim().to_owned();
        } else if let Some(data) = line.strip_prefix("data:") {
            let data: Value = serde_json::from_str(data.trim()).expect("event data is JSON");
            if current == name && pick(&data) {
                return data;
            }
            seen.push((current.clone(), data));
        }
    }
}

/// Posts `text` to `channel` on `node`; returns the message id.
fn send(node: &RunningNode, channel: &str, text: &str, reply: Option<&str>) -> String {
    let sent = node.post(
        &format!("/api/channels/{channel}/messages"),
        &json!({"text": text, "reply": reply}),
    );
    sent["message"]
        .as_str()
        .expect("send answers the message id")
        .to_owned()
}

/// Bob creates the HQ/East channel; Carol (HQ/East) takes part in it; Dan,
/// certified while everything runs, reads its history; Carol, revoked,
/// receives nothing written after the revocation while Dan does.
#[test]
fn a_department_channel_follows_the_directory_and_carries_every_action() {
    let EastTrio { sb, admin, a, b, c, .. } = east_trio();
    let all = [&a, &b, &c];

    let made = b.post("/api/channels", &json!({"name": "east", "topic": "HQ/East day to day"}));
    let ch = made["channel"].as_str().expect("the new channel's id").to_owned();
    wait_for(&c, "lists the channel", &all, |n| {
        let list = n.try_get("/api/channels")?;
        let row = list
            .as_array()
            .and_then(|l| l.iter().find(|r| r["channel"] == ch.as_str()))
            .ok_or_else(|| format!("not listed: {list}"))?;
        (row["name"] == "east" && row["kind"] == "dept:HQ/East")
            .then_some(())
            .ok_or_else(|| format!("listed as {row}"))
    });

    // A message, a reply in its thread, an edit and a reaction; Carol's
    // node notifies her of the mention, Bob's of the reply.
    let mut c_events = events(&c);
    let mut b_events = events(&b);
    let hello = send(&b, &ch, "hello team, @c please check the stock", None);
    let note = next_event(&mut c_events, "notification", |n| n["kind"] == "mention");
    assert_eq!(
        (&note["text"], &note["channel"], &note["author"]["name"]),
        (&json!("hello team, @c please check the stock"), &json!(ch), &json!("b")),
        "{note}"
    );
    wait_for(&c, "shows the message", &all, |n| {
        message(n, &ch, "hello team, @c please check the stock").map(drop)
    });
    let shown = message(&c, &ch, "hello team, @c please check the stock").expect("shown just above");
    assert_eq!(shown["mentions_me"], true, "{shown}");
    assert_eq!(shown["read"], false, "{shown}");
    let reply = send(&c, &ch, "on it", Some(&hello));
    let note = next_event(&mut b_events, "notification", |n| n["kind"] == "reply");
    assert_eq!(
        (&note["text"], &note["thread"]),
        (&json!("on it"), &json!(hello)),
        "{note}"
    );

    // A direct message from Bob to Carol notifies her.
    let dm = b.post("/api/channels/direct", &json!({"member": "c"}))["channel"]
        .as_str()
        .expect("the direct channel's id")
        .to_owned();
    send(&b, &dm, "just between us: the numbers look good", None);
    let note = next_event(&mut c_events, "notification", |n| n["kind"] == "direct");
    assert_eq!(
        (&note["text"], &note["channel"]),
        (&json!("just between us: the numbers look good"), &json!(dm)),
        "{note}"
    );
    b.post(
        &format!("/api/channels/{ch}/messages/{hello}/edit"),
        &json!({"text": "hello team, @c please check the stock today"}),
    );
    c.post(
        &format!("/api/channels/{ch}/messages/{hello}/react"),
        &json!({"reaction": "👍"}),
    );
    wait_for(&b, "shows the reply in the thread", &all, |n| {
        let thread = n.try_get(&format!("/api/channels/{ch}/messages?peek=true&thread={hello}"))?;
        let texts: Vec<&str> = thread["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["text"].as_str())
            .collect();
        (texts == ["hello team, @c please check the stock today", "on it"])
            .then_some(())
            .ok_or_else(|| format!("thread {texts:?}"))
    });
    wait_for(&c, "shows the edit with its history and the reaction", &all, |n| {
        let m = message(n, &ch, "hello team, @c please check the stock today")?;
        let ok = m["edited"] == true
            && m["revisions"].as_array().map(Vec::len) == Some(2)
            && m["replies"] == 1
            && m["reactions"]["👍"].as_array().map(Vec::len) == Some(1);
        ok.then_some(()).ok_or_else(|| format!("{m}"))
    });
    let top = peek(&b, &ch).expect("b reads the channel");
    assert!(
        top["messages"]
            .as_array()
            .is_some_and(|ms| ms.iter().all(|m| m["text"] != "on it")),
        "replies stay in their thread: {top}"
    );

    // Read receipts: Carol has not read the edited message until she opens
    // the channel; then Bob's receipt lists her.
    let receipts = |n: &RunningNode| n.try_get(&format!("/api/channels/{ch}/messages/{hello}/receipts"));
    let before = receipts(&b).expect("b's receipts");
    assert!(
        before["unread"]
            .as_array()
            .is_some_and(|u| u.iter().any(|p| p["name"] == "c")),
        "{before}"
    );
    let opened = c.get(&format!("/api/channels/{ch}/messages"));
    assert_eq!(opened["marked_read"], true, "{opened}");
    wait_for(&b, "sees that c read the message", &all, |n| {
        let r = receipts(n)?;
        let read: Vec<&str> = r["read"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        (read == ["c"]).then_some(()).ok_or_else(|| format!("{r}"))
    });

    // A pin by Carol, a recall by Bob.
    c.post(&format!("/api/channels/{ch}/messages/{reply}/pin"), &json!({}));
    let recalled = send(&b, &ch, "wrong channel, sorry", None);
    wait_for(&c, "shows the message to be recalled", &all, |n| {
        message(n, &ch, "wrong channel, sorry").map(drop)
    });
    b.post(&format!("/api/channels/{ch}/messages/{recalled}/recall"), &json!({}));
    for n in [&b, &c] {
        wait_for(n, "shows the pin and the recall", &all, |n| {
            let shown = peek(n, &ch)?;
            let pinned = shown["pins"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p == reply.as_str()));
            let gone = shown["messages"]
                .as_array()
                .and_then(|ms| ms.iter().find(|m| m["id"] == recalled.as_str()))
                .is_some_and(|m| m["recalled"] == true && m["text"] == "");
            (pinned && gone).then_some(()).ok_or_else(|| format!("{shown}"))
        });
    }

    // Dan joins the department while everything runs: a member holding the
    // channel's key wraps it to him, and he reads the history.
    let dan = sb.node("d");
    dan.init("d");
    let cert = admin.issue(&dan.request(), ["--role", "member", "--dept", "HQ/East"], "d.cert");
    dan.ok(["cert", "install", &cert]);
    let d = dan.up(&[a.addr(), b.addr()]);
    let all = [&a, &b, &c, &d];
    wait_for(&d, "reads the channel's history", &all, |n| {
        message(n, &ch, "hello team, @c please check the stock today").map(drop)
    });

    // Carol is revoked: what Bob writes afterwards reaches Dan, never her.
    admin.ok(["cert", "revoke", &serial_of(&admin, "c"), "--reason", "moved on"]);
    wait_for(&b, "no longer counts c as a member", &all, |n| {
        let list = n.try_get("/api/channels")?;
        let members = list
            .as_array()
            .and_then(|l| l.iter().find(|r| r["channel"] == ch.as_str()))
            .map(|r| r["members"].clone());
        (members == Some(json!(2)))
            .then_some(())
            .ok_or_else(|| format!("{list}"))
    });
    // A member holding the channel's key starts a new epoch without her.
    wait_until("b or d rekeys HQ/East", TIMEOUT, &all, || {
        let needle = ["a holder of its key may no longer read it"];
        (b.logged(&needle) || d.logged(&needle))
            .then_some(())
            .ok_or_else(|| "not yet".to_owned())
    });
    send(&b, &ch, "after the revocation: new supplier prices", None);
    wait_for(&d, "shows the message written after the revocation", &all, |n| {
        message(n, &ch, "after the revocation: new supplier prices").map(drop)
    });
    holds_for("c never shows the later message", QUIET_PERIOD, &all, || match message(
        &c,
        &ch,
        "after the revocation: new supplier prices",
    ) {
        Ok(m) => Err(format!("c shows {m}")),
        Err(_) => Ok(()),
    });
}

/// Bob writes while offline (Chinese text included), his node is killed,
/// comes back with Carol as a peer, and delivers; Carol's search finds the
/// Chinese message by any two characters of it.
#[test]
fn messages_written_offline_survive_a_crash_and_are_found_by_cjk_search() {
    // The sandbox holds the homes: it must live as long as the test.
    let EastTrio {
        sb: _sb,
        bob,
        carol,
        a,
        b,
        c,
        ..
    } = east_trio();
    let all = [&a, &b, &c];
    let ch = new_channel(&b, "field");
    wait_for(&c, "lists the channel", &all, |n| peek(n, &ch).map(drop));
    drop(a);
    drop(c);

    // Bob alone: no peer at all.
    let b = {
        drop(b);
        bob.up(&[])
    };
    let chinese = "明天下午三点开会讨论预算";
    let sent = [
        send(&b, &ch, chinese, None),
        send(&b, &ch, "budget review moved to Friday", None),
    ];
    for text in [chinese, "budget review moved to Friday"] {
        let m = message(&b, &ch, text).expect("b shows what it wrote");
        assert_eq!(m["pending"], true, "no peer holds it yet: {m}");
    }
    b.kill();

    let c = carol.up(&[]);
    let b = bob.up(&[c.addr()]);
    let all = [&b, &c];
    wait_for(&c, "shows both offline messages", &all, |n| {
        message(n, &ch, chinese)?;
        message(n, &ch, "budget review moved to Friday").map(drop)
    });
    wait_for(&b, "shows both messages as delivered", &all, |n| {
        for text in [chinese, "budget review moved to Friday"] {
            let m = message(n, &ch, text)?;
            if m["pending"] != false {
                return Err(format!("still pending: {m}"));
            }
        }
        Ok(())
    });
    for (query, want) in [("预算", &sent[0]), ("三点开会", &sent[0]), ("review", &sent[1])] {
        let hits = c.get(&format!("/api/search?q={}", urlencode(query)));
        let ids: Vec<&str> = hits
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h["id"].as_str())
            .collect();
        assert_eq!(ids, [want.as_str()], "search {query:?}: {hits}");
    }
    let none = c.get(&format!("/api/search?q={}", urlencode("会计")));
    assert_eq!(none, json!([]), "no message holds 会计");
}

/// Percent-encodes a query parameter.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A browser's event stream stays open for ever; stopping the node must
/// not wait for it.
#[test]
fn a_node_stops_promptly_with_an_event_stream_open() {
    let (_sb, admin) = outpost_tests::cluster::acme();
    let a = admin.up(&[]);
    let _stream = events(&a);
    let started = std::time::Instant::now();
    let (status, logs) = a.terminate();
    assert!(status.success(), "{status}\n{logs}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopping took {:?}\n{logs}",
        started.elapsed()
    );
    assert!(logs.contains("closing the API's open connections"), "{logs}");
}
