//! Live co-editing across real nodes: `outpost up` processes on 127.0.0.1,
//! editors on their `GET /api/docs/{id}/live` WebSockets.
//!
//! Many editors spread over several nodes type into one document at once
//! and every acknowledged keystroke ends up exactly once on every node;
//! two editors typing at the same place keep their words whole; presence
//! beats reach the document's readers on other nodes and nobody else; and
//! the socket refuses a missing token and a view-only member's edits.
//!
//! The load case's size comes from the environment (defaults in
//! brackets): `OUTPOST_LIVE_NODES` [5], `OUTPOST_LIVE_EDITORS` [see
//! [`EDITORS_DEFAULT`]], `OUTPOST_LIVE_SECS` [see [`SECS_DEFAULT`]],
//! `OUTPOST_LIVE_RATE` (keystrokes per second per editor) [3]. The
//! issue's case is 100 editors on 5 nodes for 30 s; `cargo bench -p
//! outpost-node --bench docs` runs it on a release build with figures.
//! The defaults are the issue's case.

use futures::{SinkExt, StreamExt};
use outpost_tests::cluster::{TIMEOUT, acme, converged, member, new_doc, wait_for_peers};
use outpost_tests::{Node, Rng, RunningNode, Sandbox, seed, wait_until};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// Editors in the load case unless `OUTPOST_LIVE_EDITORS` says otherwise.
const EDITORS_DEFAULT: usize = 100;
/// Seconds of typing in the load case unless `OUTPOST_LIVE_SECS` says
/// otherwise.
const SECS_DEFAULT: u64 = 30;
/// Nodes in the load case unless `OUTPOST_LIVE_NODES` says otherwise.
const NODES_DEFAULT: usize = 5;
/// Keystrokes per second per editor unless `OUTPOST_LIVE_RATE` says
/// otherwise.
const RATE_DEFAULT: f64 = 3.0;
/// How long a node is watched to show that something did not reach it.
const QUIET_PERIOD: Duration = Duration::from_secs(3);
/// How long a presence beat may take to reach another node's editor.
const PRESENCE_TIMEOUT: Duration = Duration::from_secs(5);

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A whole number from the environment variable `name`, or `default`.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

/// A tokio runtime for the editors of one test.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

/// What the load case reads of a message from the node; the rest (the
/// body, blocks, Markdown of a `doc`) is skipped unread.
#[derive(Debug, Default, Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    changed: bool,
    #[serde(default)]
    heads: Vec<String>,
    #[serde(default)]
    text_len: Option<usize>,
    #[serde(default)]
    message: Option<String>,
}

/// `ws://…/api/docs/ID/live?token=…` on `node`.
fn live_url(node: &RunningNode, id: &str, token: Option<&str>) -> String {
    let api = node.api();
    match token {
        Some(t) => format!("ws://{}/api/docs/{id}/live?token={t}", api.addr),
        None => format!("ws://{}/api/docs/{id}/live", api.addr),
    }
}

/// One editor's socket, with the heads and length of the document as it
/// last saw it (from a `doc` or an `ack`).
struct Editor {
    ws: Socket,
    heads: Vec<String>,
    len: usize,
    /// The body of the last `doc` read, and its heads.
    body: String,
    body_heads: Vec<String>,
}

impl Editor {
    /// Opens document `id` on `node` and reads the first snapshot.
    async fn open(node: &RunningNode, id: &str) -> Editor {
        let url = live_url(node, id, Some(&node.api().token));
        let (ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .expect("the socket opens in time")
            .expect("the node accepts the socket");
        let mut editor = Editor {
            ws,
            heads: Vec::new(),
            len: 0,
            body: String::new(),
            body_heads: Vec::new(),
        };
        let first = editor.next().await;
        assert_eq!(first["type"], "doc", "the first message is the document: {first}");
        editor
    }

    /// The next text message, as JSON (heads and length noted).
    async fn next(&mut self) -> Value {
        let text = self.next_text().await;
        let v: Value = serde_json::from_str(&text).expect("the node sends JSON");
        if v["type"] == "doc" {
            self.body = v["body"].as_str().expect("a doc has a body").to_owned();
            self.body_heads = serde_json::from_value(v["heads"].clone()).expect("a doc has heads");
        }
        if matches!(v["type"].as_str(), Some("doc" | "ack")) {
            self.note(serde_json::from_value(v.clone()).expect("a doc or ack has heads and a length"));
        }
        v
    }

    /// The next text message, read only as far as [`Incoming`] goes.
    async fn next_light(&mut self) -> Incoming {
        let text = self.next_text().await;
        let m: Incoming = serde_json::from_str(&text).expect("the node sends JSON");
        if m.kind == "doc" || m.kind == "ack" {
            self.note(Incoming {
                kind: String::new(),
                heads: m.heads.clone(),
                text_len: m.text_len,
                ..Incoming::default()
            });
        }
        m
    }

    fn note(&mut self, m: Incoming) {
        if let Some(len) = m.text_len {
            self.heads = m.heads;
            self.len = len;
        }
    }

    async fn next_text(&mut self) -> String {
        loop {
            let got = tokio::time::timeout(2 * TIMEOUT, self.ws.next())
                .await
                .expect("the node sends something in time")
                .expect("the socket stays open")
                .expect("the socket reads");
            if let Message::Text(t) = got {
                return t.to_string();
            }
        }
    }

    /// Sends an `edit` of `edits` at the heads last seen.
    async fn send_edit(&mut self, seq: u64, edits: Value) {
        let msg = json!({"type": "edit", "seq": seq, "base": self.heads, "edits": edits});
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .expect("the edit is sent");
    }

    /// Sends `edits` and waits for the `ack` or `error` of it.
    async fn edit(&mut self, seq: u64, edits: Value) -> Value {
        self.send_edit(seq, edits).await;
        loop {
            let m = self.next().await;
            if matches!(m["type"].as_str(), Some("ack" | "error")) && m["seq"] == seq {
                return m;
            }
        }
    }
}

/// What one editor of the load case did.
#[derive(Debug, Default)]
struct Typed {
    /// Keystrokes sent.
    sent: u64,
    /// Keystrokes acknowledged as changes.
    acked: u64,
    /// Refusals and acks that changed nothing.
    problems: Vec<String>,
    /// When the last keystroke was sent.
    last: Option<Instant>,
    /// Milliseconds from sending each keystroke to its `ack`.
    ack_ms: Vec<f64>,
}

/// Types `ch` at random places of the document, `every` apart, until
/// `until`; one keystroke in flight at a time.
async fn type_keys(mut ed: Editor, ch: char, every: Duration, until: Instant, mut rng: Rng) -> Typed {
    let mut typed = Typed::default();
    let offset = rng.up_to(every.as_millis() as u64);
    tokio::time::sleep(Duration::from_millis(offset)).await;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            m = ed.next_light() => { drop(m); continue; }
        }
        if Instant::now() >= until {
            break;
        }
        typed.sent += 1;
        let seq = typed.sent;
        let at = rng.up_to(ed.len as u64);
        let sent = Instant::now();
        typed.last = Some(sent);
        ed.send_edit(seq, json!([{"op": "insert", "at": at, "text": ch.to_string()}]))
            .await;
        let answer = tokio::time::timeout(TIMEOUT, async {
            loop {
                let m = ed.next_light().await;
                if (m.kind == "ack" || m.kind == "error") && m.seq == Some(seq) {
                    return m;
                }
            }
        });
        let Ok(reply) = answer.await else {
            typed
                .problems
                .push(format!("keystroke {seq}: no answer in {TIMEOUT:?}"));
            break;
        };
        typed.ack_ms.push(sent.elapsed().as_secs_f64() * 1e3);
        match reply.kind.as_str() {
            "ack" if reply.changed => typed.acked += 1,
            "ack" => typed.problems.push(format!("keystroke {seq} changed nothing")),
            _ => typed
                .problems
                .push(format!("keystroke {seq} refused: {:?}", reply.message)),
        }
    }
    let _ = ed.ws.close(None).await;
    typed
}

/// Percentile `p` of sorted `xs`, nearest rank.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The editor characters: CJK ideographs from U+4E00, one per editor.
fn editor_char(i: usize) -> char {
    char::from_u32(0x4E00 + i as u32).expect("U+4E00 onwards are characters")
}

/// Members `n1`…`nN` of HQ/East; `n1` creates document "Load" in the
/// department's space before anyone runs, so its key is wrapped to all.
/// Each node dials every node started before it. Returns the sandbox,
/// the homes, the running nodes and the document's id once every node
/// shows it.
fn department(n: usize, title: &str) -> (Sandbox, Vec<Node>, Vec<RunningNode>, String) {
    let (sb, admin) = acme();
    let homes: Vec<Node> = (1..=n).map(|i| member(&sb, &admin, &format!("n{i}"))).collect();
    let id = new_doc(&homes[0], title, &[]);
    let mut running: Vec<RunningNode> = Vec::new();
    for home in &homes {
        let peers: Vec<&str> = running.iter().map(RunningNode::addr).collect();
        running.push(home.up(&peers));
    }
    let all: Vec<&RunningNode> = running.iter().collect();
    for node in &running {
        let others: Vec<&RunningNode> = running.iter().filter(|o| o.name() != node.name()).collect();
        wait_for_peers(node, &others, &all);
    }
    wait_until("every node shows the document", TIMEOUT, &all, || {
        converged(&all, &id, &[])
    });
    (sb, homes, running, id)
}

/// The issue's load case: editors spread over nodes type one character at
/// a time at random places of one document; once they stop, every node
/// shows the same body and heads, holding exactly the acknowledged
/// keystrokes of each editor.
#[test]
fn many_editors_on_many_nodes_converge_with_every_acknowledged_keystroke() {
    let nodes_n: usize = env_or("OUTPOST_LIVE_NODES", NODES_DEFAULT);
    let editors_n: usize = env_or("OUTPOST_LIVE_EDITORS", EDITORS_DEFAULT);
    let secs: u64 = env_or("OUTPOST_LIVE_SECS", SECS_DEFAULT);
    let rate: f64 = env_or("OUTPOST_LIVE_RATE", RATE_DEFAULT);
    assert!(nodes_n >= 1 && editors_n >= 1 && rate > 0.0, "nothing to run");
    let seed = seed();
    let (_sb, _homes, running, id) = department(nodes_n, "Load");
    let all: Vec<&RunningNode> = running.iter().collect();

    let rt = runtime();
    let every = Duration::from_secs_f64(1.0 / rate);
    let (typed, started) = rt.block_on(async {
        let mut editors = Vec::with_capacity(editors_n);
        for i in 0..editors_n {
            editors.push(Editor::open(&running[i % nodes_n], &id).await);
        }
        let started = Instant::now();
        let until = started + Duration::from_secs(secs);
        let tasks: Vec<_> = editors
            .into_iter()
            .enumerate()
            .map(|(i, ed)| {
                let rng = Rng::new(seed.wrapping_add(i as u64));
                tokio::spawn(type_keys(ed, editor_char(i), every, until, rng))
            })
            .collect();
        let mut typed = Vec::with_capacity(tasks.len());
        for t in tasks {
            typed.push(t.await.expect("an editor does not panic"));
        }
        (typed, started)
    });
    drop(rt);
    let last = typed.iter().filter_map(|t| t.last).max().expect("someone typed");
    let body = wait_until("every node shows the same body and heads", TIMEOUT, &all, || {
        converged(&all, &id, &[])
    });
    let converged_after = last.elapsed();

    let sent: u64 = typed.iter().map(|t| t.sent).sum();
    let acked: u64 = typed.iter().map(|t| t.acked).sum();
    let mut ack_ms: Vec<f64> = typed.iter().flat_map(|t| t.ack_ms.iter().copied()).collect();
    ack_ms.sort_by(f64::total_cmp);
    let typing = last.duration_since(started).as_secs_f64().max(1e-3);
    println!(
        "{editors_n} editors on {nodes_n} nodes, {secs} s at {rate}/s each (seed {seed}): {sent} keystrokes sent, \
         {acked} acknowledged ({:.0}/s); ack p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         every node identical {converged_after:.2?} after the last keystroke",
        acked as f64 / typing,
        percentile(&ack_ms, 50.0),
        percentile(&ack_ms, 99.0),
        ack_ms.last().copied().unwrap_or(f64::NAN),
    );
    let problems: Vec<&String> = typed.iter().flat_map(|t| &t.problems).collect();
    assert!(problems.is_empty(), "keystrokes went wrong: {problems:?}");
    for (i, t) in typed.iter().enumerate() {
        let ch = editor_char(i);
        let present = body.chars().filter(|c| *c == ch).count() as u64;
        assert_eq!(
            present, t.acked,
            "editor {i} ({ch}) had {} keystrokes acknowledged but the body holds {present}",
            t.acked
        );
    }
    assert_eq!(body.chars().count() as u64, acked, "the body holds only the keystrokes");
}

/// Two editors on two nodes type a word each at the same place of one
/// sentence, a character at a time, each keeping its cursor after its own
/// last character. Both nodes end identical, holding both words whole.
#[test]
fn two_editors_typing_at_the_same_place_keep_both_words_whole() {
    let (_sb, _homes, running, id) = department(2, "Sentence");
    let all: Vec<&RunningNode> = running.iter().collect();
    let saved = running[0].post(&format!("/api/docs/{id}"), &json!({"append": "The fox."}));
    assert_eq!(saved["changed"], true, "{saved}");
    wait_until("both nodes show the sentence", TIMEOUT, &all, || {
        converged(&all, &id, &["The fox."])
    });
    // No character of one word is in the other or in the sentence, so a
    // word typed so far is found where it is.
    let words = ["quick brown ", "LAZY RED "];
    let rt = runtime();
    rt.block_on(async {
        let typists = words.iter().enumerate().map(|(i, word)| {
            let node = &running[i];
            let id = id.clone();
            async move {
                let mut ed = Editor::open(node, &id).await;
                let mut typed = String::new();
                for (k, ch) in word.chars().enumerate() {
                    // The cursor: right after this editor's own text, in
                    // the latest snapshot that holds all of it.
                    let at = loop {
                        if typed.is_empty() {
                            break "The ".len();
                        }
                        if let Some(byte) = ed.body.find(&typed) {
                            break ed.body[..byte].chars().count() + typed.chars().count();
                        }
                        ed.next().await;
                    };
                    ed.heads = ed.body_heads.clone();
                    let seq = k as u64 + 1;
                    let reply = ed
                        .edit(seq, json!([{"op": "insert", "at": at, "text": ch.to_string()}]))
                        .await;
                    assert_eq!(reply["type"], "ack", "{reply}");
                    assert_eq!(reply["changed"], true, "{reply}");
                    typed.push(ch);
                    tokio::time::sleep(Duration::from_millis(15)).await;
                }
            }
        });
        futures::future::join_all(typists).await;
    });
    let body = wait_until("both nodes show the same body and heads", TIMEOUT, &all, || {
        converged(&all, &id, &words)
    });
    assert!(body.starts_with("The ") && body.ends_with("fox."), "{body:?}");
    assert_eq!(
        body.chars().count(),
        "The fox.".chars().count() + words.iter().map(|w| w.chars().count()).sum::<usize>(),
        "{body:?}"
    );
}

/// `GET /api/events` on `node`, left open, its head read.
async fn events(node: &RunningNode) -> tokio::io::BufReader<tokio::net::TcpStream> {
    let api = node.api();
    let mut stream = tokio::net::TcpStream::connect(api.addr)
        .await
        .expect("the API accepts connections");
    let request = format!(
        "GET /api/events?token={} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        api.token, api.addr
    );
    stream.write_all(request.as_bytes()).await.expect("the request is sent");
    let mut events = tokio::io::BufReader::new(stream);
    let mut status = String::new();
    events.read_line(&mut status).await.expect("the event stream answers");
    assert!(status.contains(" 200 "), "GET /api/events: {status}");
    loop {
        let mut header = String::new();
        events.read_line(&mut header).await.expect("the head is read");
        if header.trim().is_empty() {
            return events;
        }
    }
}

/// Editor A on node 1 sends a beat with a cursor; editor B on node 2, a
/// reader of the same department, is told within seconds, with A's name
/// and cursor. Wendy of HQ/West, connected to both nodes, hears nothing.
#[test]
fn presence_reaches_the_documents_readers_and_nobody_else() {
    let (sb, admin) = acme();
    let anna = member(&sb, &admin, "anna");
    let ben = member(&sb, &admin, "ben");
    let wendy = sb.node("wendy");
    wendy.init("wendy");
    let cert = admin.issue(
        &wendy.request(),
        ["--role", "member", "--dept", "HQ/West"],
        "wendy.cert",
    );
    wendy.ok(["cert", "install", &cert]);
    let id = new_doc(&anna, "Plans", &[]);
    let a = anna.up(&[]);
    let b = ben.up(&[a.addr()]);
    let w = wendy.up(&[a.addr(), b.addr()]);
    let all = [&a, &b, &w];
    wait_for_peers(&a, &[&b, &w], &all);
    wait_for_peers(&w, &[&a, &b], &all);
    wait_until("b shows the document", TIMEOUT, &all, || converged(&[&a, &b], &id, &[]));

    let rt = runtime();
    rt.block_on(async {
        let mut wendy_events = events(&w).await;
        let mut ea = Editor::open(&a, &id).await;
        let mut eb = Editor::open(&b, &id).await;
        let cursor = json!({"anchor": 1, "head": 1});
        let beat = json!({"type": "presence", "cursor": cursor}).to_string();
        ea.ws
            .send(Message::Text(beat.clone().into()))
            .await
            .expect("the beat is sent");
        let sent = Instant::now();
        let seen = tokio::time::timeout(PRESENCE_TIMEOUT, async {
            loop {
                let m = eb.next().await;
                if m["type"] == "presence" {
                    return m;
                }
            }
        })
        .await
        .expect("b's editor hears of a's within seconds");
        println!("b's editor heard of a's beat {:.2?} after it was sent", sent.elapsed());
        assert_eq!(seen["name"], "anna", "{seen}");
        assert_eq!(seen["cursor"], cursor, "{seen}");
        assert_eq!(seen["doc"], id.as_str(), "{seen}");
        assert_eq!(seen["leaving"], false, "{seen}");

        // More beats while Wendy listens; none may reach her.
        let quiet = Instant::now() + QUIET_PERIOD;
        let mut line = String::new();
        while Instant::now() < quiet {
            ea.ws
                .send(Message::Text(beat.clone().into()))
                .await
                .expect("the beat is sent");
            let until = tokio::time::Instant::now() + Duration::from_millis(500);
            while let Ok(read) = tokio::time::timeout_at(until, wendy_events.read_line(&mut line)).await {
                let n = read.expect("wendy's event stream reads");
                assert!(n > 0, "wendy's event stream ended");
                assert!(!line.contains("presence"), "wendy heard a beat: {line}");
                line.clear();
            }
        }
    });
}

/// A socket without the token is refused with 401; a view-only member's
/// edit over the socket is answered with an `error` and changes nothing.
#[test]
fn the_socket_needs_the_token_and_refuses_a_viewers_edit() {
    let (sb, admin) = acme();
    let viewer = member(&sb, &admin, "v");
    let admin_key = admin.status()["member"]
        .as_str()
        .expect("status names the member key")
        .to_owned();
    // HQ/East may read; only Alice may write.
    let id = new_doc(
        &admin,
        "Minutes",
        &["--readers", "dept:HQ/East", "--writers", &format!("member:{admin_key}")],
    );
    let a = admin.up(&[]);
    let v = viewer.up(&[a.addr()]);
    let all = [&a, &v];
    wait_until("v has the minutes", TIMEOUT, &all, || converged(&all, &id, &[]));
    let before = v.get(&format!("/api/docs/{id}"));

    let rt = runtime();
    rt.block_on(async {
        match tokio_tungstenite::connect_async(live_url(&v, &id, None)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{response:?}");
            }
            Err(e) => panic!("the socket without a token failed otherwise: {e}"),
            Ok(_) => panic!("the socket without a token was accepted"),
        }
        let mut ed = Editor::open(&v, &id).await;
        let reply = ed.edit(7, json!([{"op": "insert", "at": 0, "text": "forged "}])).await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["seq"], 7, "{reply}");
    });
    let after = v.get(&format!("/api/docs/{id}"));
    assert_eq!(after["body"], before["body"], "{after}");
    assert_eq!(after["heads"], before["heads"], "{after}");
    holds_for_nothing_reaches(&a, &v, &id, &before);
}

/// Alice's node does not show the refused edit either.
fn holds_for_nothing_reaches(a: &RunningNode, v: &RunningNode, id: &str, before: &Value) {
    outpost_tests::cluster::holds_for("the viewer's edit reaches no node", QUIET_PERIOD, &[a, v], || {
        let shown = a.try_get(&format!("/api/docs/{id}"))?;
        if shown["heads"] != before["heads"] {
            return Err(format!("a shows {shown}"));
        }
        Ok(())
    });
}
