//! The live-editing benchmark: editors spread over real nodes type one
//! character at a time into one document over the live WebSocket
//! (`GET /api/docs/{id}/live`), as `tests/tests/docs_live.rs` does, with
//! figures.
//!
//! The org and the nodes are the network benchmark's (`common/mod.rs`):
//! [`outpost_node::daemon::run`] in this process on 127.0.0.1, each node
//! dialling every node started before it, all members of one scope. Every
//! editor types its own CJK character (U+4E00 + its index) at a random
//! place of the document as it last saw it, at a steady rate, one
//! keystroke in flight at a time, with `base` = the heads of the last
//! `doc` or `ack` it read. One watcher socket per node reads every `doc`
//! snapshot and counts each editor's characters in it.
//!
//! - **keystroke to peer**: from sending a keystroke on node i to the first
//!   snapshot on another node j holding it (the editor's character count
//!   reaching it), over every (keystroke, j ≠ i);
//! - **ack**: from sending a keystroke to its `ack` (durable and pushed);
//! - **convergence**: from the last keystroke sent until the last node's
//!   snapshot holds every acked keystroke (every node's body and heads are
//!   then checked identical; target ≤ 1 s);
//! - **raw apply**: every change of the final document applied to an empty
//!   automerge document in one call, changes/s, next to acked keystrokes/s.
//!
//! ```text
//! cargo bench -p outpost-node --bench docs             # full sizes
//! cargo bench -p outpost-node --bench docs -- --quick  # scaled down
//! ```
//!
//! Full sizes: `OUTPOST_BENCH_DOCS_EDITORS` [100], `OUTPOST_BENCH_DOCS_NODES`
//! [5], `OUTPOST_BENCH_DOCS_SECS` [30], `OUTPOST_BENCH_DOCS_RATE`
//! (keystrokes per second per editor) [3]. A quiet document runs first:
//! one editor per node, at most 10 s, the same rate (keystroke-to-peer
//! latency when the nodes are not busy). Prints a table and writes
//! `target/outpost-bench/docs.json` (`light` and `load`).

#[path = "common/mod.rs"]
mod common;

use anyhow::{Context, Result, bail};
use common::{Mode, Node, Spread, TIMEOUT, build_org, ms, pass};
use futures::{SinkExt, StreamExt};
use outpost_node::Local;
use outpost_node::library::Place;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long an editor waits for the answer to one keystroke.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// The size of a run.
#[derive(Debug, Clone)]
struct Sizes {
    editors: usize,
    nodes: usize,
    secs: f64,
    rate: f64,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(default)
}

impl Sizes {
    /// The load case.
    fn of(mode: Mode) -> Sizes {
        match mode {
            Mode::Test => Sizes {
                editors: 4,
                nodes: 2,
                secs: 2.0,
                rate: 3.0,
            },
            Mode::Quick => Sizes {
                editors: 20,
                nodes: 5,
                secs: 10.0,
                rate: 3.0,
            },
            Mode::Full => Sizes {
                editors: env_or("OUTPOST_BENCH_DOCS_EDITORS", 100),
                nodes: env_or("OUTPOST_BENCH_DOCS_NODES", 5),
                secs: env_or("OUTPOST_BENCH_DOCS_SECS", 30.0),
                rate: env_or("OUTPOST_BENCH_DOCS_RATE", 3.0),
            },
        }
    }

    /// A quiet document: one editor on each node, to show what a
    /// keystroke costs when the nodes are not busy.
    fn light(mode: Mode) -> Sizes {
        let load = Sizes::of(mode);
        Sizes {
            editors: load.nodes,
            nodes: load.nodes,
            secs: load.secs.min(10.0),
            rate: load.rate,
        }
    }
}

/// Both runs: a quiet document first, then the load.
#[derive(Debug)]
struct Runs {
    light: Report,
    load: Report,
}

impl Runs {
    fn table(&self) -> String {
        format!(
            "quiet document\n{}\nunder load\n{}",
            self.light.table(),
            self.load.table()
        )
    }

    fn json(&self, mode: &str) -> Value {
        json!({"mode": mode, "light": self.light.json(), "load": self.load.json()})
    }
}

/// What the run measured.
#[derive(Debug)]
struct Report {
    sizes: Sizes,
    sent: u64,
    acked: u64,
    unanswered: u64,
    typing_secs: f64,
    ack: Spread,
    to_peer: Spread,
    /// `None`: not within [`TIMEOUT`].
    convergence: Option<Duration>,
    changes: usize,
    raw_apply_per_sec: f64,
}

impl Report {
    fn acked_per_sec(&self) -> f64 {
        self.acked as f64 / self.typing_secs
    }

    fn table(&self) -> String {
        let s = &self.sizes;
        let conv = self
            .convergence
            .map_or_else(|| format!("not within {TIMEOUT:?}"), |d| format!("{:.0} ms", ms(d)));
        format!(
            "live editing: {} editors on {} nodes, {} s at {}/s each\n\
             keystrokes sent {}, acked {} ({:.0}/s), unanswered {}\n\
             ack                 p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms\n\
             keystroke to peer   p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms  ({} samples)\n\
             convergence after the last keystroke: {conv} (target <= 1000 ms)\n\
             raw automerge apply of the {} changes: {:.0} changes/s; acked keystrokes/s are {:.5} of it\n",
            s.editors,
            s.nodes,
            s.secs,
            s.rate,
            self.sent,
            self.acked,
            self.acked_per_sec(),
            self.unanswered,
            self.ack.p50,
            self.ack.p99,
            self.ack.max,
            self.to_peer.p50,
            self.to_peer.p99,
            self.to_peer.max,
            self.to_peer.n,
            self.changes,
            self.raw_apply_per_sec,
            self.acked_per_sec() / self.raw_apply_per_sec,
        )
    }

    fn json(&self) -> Value {
        let s = &self.sizes;
        json!({
            "editors": s.editors, "nodes": s.nodes, "secs": s.secs, "rate_per_editor": s.rate,
            "keystrokes_sent": self.sent, "keystrokes_acked": self.acked,
            "keystrokes_unanswered": self.unanswered,
            "acked_per_sec": self.acked_per_sec(),
            "ack": self.ack.json(),
            "keystroke_to_peer": self.to_peer.json(),
            "convergence_ms": self.convergence.map(ms),
            "convergence_target_ms": 1000,
            "changes": self.changes,
            "raw_apply_changes_per_sec": self.raw_apply_per_sec,
            "acked_per_sec_over_raw_apply": self.acked_per_sec() / self.raw_apply_per_sec,
        })
    }
}

fn main() {
    common::main(
        "docs",
        |mode| async move {
            let light = run(Sizes::light(mode)).await?;
            let load = run(Sizes::of(mode)).await?;
            Ok(Runs { light, load })
        },
        Runs::table,
        Runs::json,
    );
}

/// The API address and token of a running node, from its `api.json`.
fn api_of(node: &Node, home: &outpost_node::Home) -> Result<(SocketAddr, String)> {
    let text = std::fs::read_to_string(home.dir().join("api.json")).context("api.json")?;
    let v: Value = serde_json::from_str(&text)?;
    let url = v["url"].as_str().context("api.json names the url")?;
    let addr = url.strip_prefix("http://").context("an http url")?.parse()?;
    Ok((addr, node.shared.token.clone()))
}

async fn connect(api: &(SocketAddr, String), id: &str) -> Result<Socket> {
    let url = format!("ws://{}/api/docs/{id}/live?token={}", api.0, api.1);
    let (ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url))
        .await
        .context("the socket did not open in time")??;
    Ok(ws)
}

/// What an editor reads of a message; the rest is skipped unread.
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
}

/// The next text message.
async fn next_text(ws: &mut Socket) -> Result<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
            Some(Ok(_)) => {}
            Some(Err(e)) => bail!("the socket failed: {e}"),
            None => bail!("the socket closed"),
        }
    }
}

/// What one editor did.
#[derive(Debug, Default)]
struct Typed {
    /// When each keystroke was sent, in order.
    sent: Vec<Instant>,
    acked: u64,
    unanswered: u64,
    ack_ms: Vec<f64>,
}

async fn type_keys(mut ws: Socket, ch: char, every: Duration, until: Instant, seed: u64) -> Result<Typed> {
    let mut rng = seed;
    let mut random = move |n: usize| -> usize {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % (n as u64 + 1)) as usize
    };
    let (mut heads, mut len) = (Vec::new(), 0usize);
    let note = |m: &Incoming, heads: &mut Vec<String>, len: &mut usize| {
        if let Some(l) = m.text_len {
            heads.clone_from(&m.heads);
            *len = l;
        }
    };
    let mut typed = Typed::default();
    tokio::time::sleep(Duration::from_millis(random(every.as_millis() as usize) as u64)).await;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            t = next_text(&mut ws) => {
                let m: Incoming = serde_json::from_str(&t?)?;
                note(&m, &mut heads, &mut len);
                continue;
            }
        }
        if Instant::now() >= until {
            break;
        }
        let seq = typed.sent.len() as u64 + 1;
        let at = random(len);
        let msg = json!({"type": "edit", "seq": seq, "base": heads,
                         "edits": [{"op": "insert", "at": at, "text": ch.to_string()}]});
        let sent = Instant::now();
        ws.send(Message::Text(msg.to_string().into())).await?;
        typed.sent.push(sent);
        let answer = tokio::time::timeout(ACK_TIMEOUT, async {
            loop {
                let m: Incoming = serde_json::from_str(&next_text(&mut ws).await?)?;
                note(&m, &mut heads, &mut len);
                if (m.kind == "ack" || m.kind == "error") && m.seq == Some(seq) {
                    return anyhow::Ok(m);
                }
            }
        })
        .await;
        let Ok(reply) = answer else {
            typed.unanswered += 1;
            break;
        };
        let reply = reply?;
        if reply.kind != "ack" || !reply.changed {
            bail!("keystroke {seq} of {ch} was not stored: {reply:?}");
        }
        typed.acked += 1;
        typed.ack_ms.push(ms(sent.elapsed()));
    }
    let _ = ws.close(None).await;
    Ok(typed)
}

/// When a watcher first saw each editor's k-th character: `seen[e][k-1]`.
type SeenAt = Arc<Mutex<Vec<Vec<Instant>>>>;

/// Reads every snapshot on one node and notes when each editor's
/// character count grew.
async fn watch(mut ws: Socket, editors: usize, seen: SeenAt) -> Result<()> {
    let mut counts = vec![0usize; editors];
    loop {
        let Ok(t) = next_text(&mut ws).await else {
            return Ok(());
        };
        let v: Value = serde_json::from_str(&t)?;
        if v["type"] != "doc" {
            continue;
        }
        let at = Instant::now();
        counts.iter_mut().for_each(|c| *c = 0);
        for c in v["body"].as_str().unwrap_or_default().chars() {
            let i = (c as u32).wrapping_sub(0x4E00) as usize;
            if i < editors {
                counts[i] += 1;
            }
        }
        let mut seen = seen.lock().expect("never poisoned");
        for (e, n) in counts.iter().enumerate() {
            while seen[e].len() < *n {
                seen[e].push(at);
            }
        }
    }
}

/// Every node's (body, heads) of document `id`.
async fn shown(nodes: &[Node], id: &str) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for n in nodes {
        let id = id.to_owned();
        let v = n.shared.with_local(move |l, pass| l.entry(&id, pass)).await?;
        out.push((v["body"].as_str().unwrap_or_default().to_owned(), v["heads"].clone()));
    }
    Ok(out)
}

async fn run(sizes: Sizes) -> Result<Report> {
    let org = build_org(sizes.nodes)?;
    let id = {
        let mut local = Local::open(org.homes[0].clone())?;
        let place = Place {
            space: Some("Bench".into()),
            ..Place::default()
        };
        local.new_text("Load", &place, None, &pass())?.1.to_hex()
    };
    let mut nodes: Vec<Node> = Vec::new();
    for home in &org.homes {
        let peers = nodes.iter().map(|n| n.addr.clone()).collect();
        nodes.push(Node::start(home, peers).await?);
    }
    for n in &nodes {
        n.wait_peers(sizes.nodes - 1).await?;
    }
    common::wait_until("every node shows the document", async || {
        Ok(shown(&nodes, &id)
            .await
            .is_ok_and(|s| s.windows(2).all(|w| w[0] == w[1])))
    })
    .await?;
    let apis: Vec<(SocketAddr, String)> = nodes
        .iter()
        .zip(&org.homes)
        .map(|(n, h)| api_of(n, h))
        .collect::<Result<_>>()?;

    // One watcher per node, then the editors.
    let seen: Vec<SeenAt> = (0..sizes.nodes)
        .map(|_| Arc::new(Mutex::new(vec![Vec::new(); sizes.editors])))
        .collect();
    let mut watchers = Vec::new();
    for (api, seen) in apis.iter().zip(&seen) {
        let ws = connect(api, &id).await?;
        watchers.push(tokio::spawn(watch(ws, sizes.editors, seen.clone())));
    }
    let mut sockets = Vec::new();
    for e in 0..sizes.editors {
        sockets.push(connect(&apis[e % sizes.nodes], &id).await?);
    }
    let every = Duration::from_secs_f64(1.0 / sizes.rate);
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(sizes.secs);
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(e, ws)| {
            let ch = char::from_u32(0x4E00 + e as u32).expect("a CJK ideograph");
            tokio::spawn(type_keys(
                ws,
                ch,
                every,
                until,
                0x9e37_79b9 ^ ((e as u64 + 1) * 0x1000_0001),
            ))
        })
        .collect();
    let mut typed = Vec::new();
    for t in tasks {
        typed.push(t.await??);
    }
    let last = typed
        .iter()
        .filter_map(|t| t.sent.last().copied())
        .max()
        .context("nobody typed")?;
    let acked: u64 = typed.iter().map(|t| t.acked).sum();
    let converge_start = Instant::now();
    let mut convergence = None;
    while converge_start.elapsed() < TIMEOUT {
        let s = shown(&nodes, &id).await?;
        let same = s.windows(2).all(|w| w[0] == w[1]);
        if same && s[0].0.chars().count() as u64 >= acked {
            // When the last node's snapshot first held every acked
            // keystroke (the editors stop a tick after their last one, so
            // this loop may start later than that).
            tokio::time::sleep(Duration::from_millis(100)).await;
            let complete = seen
                .iter()
                .flat_map(|s| {
                    let s = s.lock().expect("never poisoned");
                    typed
                        .iter()
                        .enumerate()
                        .filter(|(_, t)| t.acked > 0)
                        .map(|(e, t)| s[e].get(t.acked as usize - 1).copied())
                        .collect::<Vec<_>>()
                })
                .collect::<Option<Vec<Instant>>>()
                .and_then(|v| v.into_iter().max())
                .unwrap_or_else(Instant::now);
            convergence = Some(complete.saturating_duration_since(last));
            let body = &s[0].0;
            for (e, t) in typed.iter().enumerate() {
                let ch = char::from_u32(0x4E00 + e as u32).expect("a CJK ideograph");
                let n = body.chars().filter(|c| *c == ch).count() as u64;
                if n < t.acked {
                    bail!("editor {e}: {} keystrokes acked, {n} in the document", t.acked);
                }
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Snapshots settle, then the watchers stop with the nodes.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut to_peer = Vec::new();
    for (j, seen) in seen.iter().enumerate() {
        let seen = seen.lock().expect("never poisoned");
        for (e, t) in typed.iter().enumerate() {
            if e % sizes.nodes == j {
                continue;
            }
            for (k, sent) in t.sent.iter().enumerate().take(t.acked as usize) {
                if let Some(at) = seen[e].get(k) {
                    to_peer.push(ms(at.saturating_duration_since(*sent)));
                }
            }
        }
    }

    // Raw apply: the final document's changes into an empty document.
    let (saved, _, _) = {
        let id = id.clone();
        nodes[0]
            .shared
            .with_local(move |l, pass| l.export_entry(&id, "automerge", pass))
            .await?
    };
    let mut full = automerge::AutoCommit::load(&saved)?;
    let changes: Vec<Vec<u8>> = full.get_changes(&[]).iter().map(|c| c.raw_bytes().to_vec()).collect();
    let decoded: Vec<automerge::Change> = changes
        .iter()
        .map(|c| automerge::Change::from_bytes(c.clone()))
        .collect::<Result<_, _>>()?;
    let n_changes = decoded.len();
    let t0 = Instant::now();
    let mut empty = automerge::AutoCommit::new();
    empty.apply_changes(decoded)?;
    let apply = t0.elapsed();
    if empty.get_heads().len() != full.get_heads().len() {
        bail!("the raw apply did not reach the same heads");
    }

    for w in watchers {
        w.abort();
    }
    for n in nodes {
        // A node still working through its peers' gossip may not stop in
        // time; the figures are taken already.
        if let Err(e) = n.stop().await {
            eprintln!("a node did not stop cleanly: {e:#}");
        }
    }
    Ok(Report {
        typing_secs: last.duration_since(started).as_secs_f64().max(1e-3),
        sent: typed.iter().map(|t| t.sent.len() as u64).sum(),
        acked,
        unanswered: typed.iter().map(|t| t.unanswered).sum(),
        ack: Spread::of(typed.iter().flat_map(|t| t.ack_ms.iter().copied()).collect()),
        to_peer: Spread::of(to_peer),
        convergence,
        changes: n_changes,
        raw_apply_per_sec: n_changes as f64 / apply.as_secs_f64(),
        sizes,
    })
}
