//! The scenarios of the chat benchmark (`benches/chat.rs`).
//!
//! The org, the nodes and the event collection are the network benchmark's
//! (`../common/mod.rs`): nodes are [`outpost_node::daemon::run`] in this
//! process on one tokio runtime, talking libp2p (TCP + Noise + Yamux) over
//! 127.0.0.1, each with its own redb store in a temporary directory. Arrival
//! is observed through `NodeEvent::Stored`, sent once envelopes from peers
//! are durably stored.
//!
//! - **ingest**: a corpus of chat messages (about 100 bytes each, two in
//!   five CJK, round robin over `channels` channels, each channel a chain
//!   of entries opened by its name, sealed by three authors) is put into the
//!   store of a node that is not running; it starts, and an empty node
//!   (another member) starts and dials it. The time runs from starting the
//!   empty node, through the sync sessions of the admission (verify, store
//!   durably), to the answer of one search over every channel on the empty
//!   node (`chat::handle` with `ChatRequest::Search`: decrypt every entry,
//!   build every channel's view, index every message, query). Next to it,
//!   on the same envelopes and one thread: ed25519 verify (plain,
//!   one signature at a time), and the rest of the floor
//!   (`Envelope::open`, `LogOp::decode` + `Channel::build`, `Index::put`).
//! - **send to visible**: three nodes in a triangle (each connected to the
//!   two others); node 1 creates a channel everyone reads and posts at a
//!   steady rate through the API's path (`Shared::with_local` +
//!   `chat::handle(ChatRequest::Send)` + `Shared::flush` +
//!   `Shared::confirm_delivery`, as `POST /api/chat` does). Latency is from
//!   just before the send call to `Stored` with the message's id on nodes 2
//!   and 3.
//! - **file transfer**: two nodes of an org of their own; node 1 adds a
//!   file of random bytes (`Blobs::add` into its home), node 2 fetches it
//!   with `Shared::fetch_blob` (manifest, then every chunk over
//!   `/outpost/blob/1`, checked and written synced to disk); the time runs
//!   from the call to its return. Then node 2 decrypts it
//!   (`Blobs::open_to` into `io::sink()`) and its size is checked. Next to
//!   it, in the same run: the same number of frames of the same size over
//!   a plain libp2p request-response protocol between two bare swarms with
//!   the node's TCP stack (TCP + Noise + Yamux), answered from memory — the
//!   raw transfer (libp2p 0.57 has no `stream` feature) — and
//!   `Blobs::put_chunk` of every chunk on one thread with no network.

#![allow(dead_code)]

#[path = "../common/mod.rs"]
pub mod common;

use anyhow::{Context, Result, anyhow, bail};
use common::{
    Node, Org, Spread, TIMEOUT, admission_sessions, build_org, ms, put_offline, seal_in_parallel, signatures,
    stored_span, wait_until,
};
use ed25519_dalek::Verifier;
use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{StreamProtocol, Swarm, noise, tcp, yamux};
use outpost_net::codec::{FrameCodec, Request as Frame};
use outpost_node::blobs::{BlobRequest, Blobs, FILE_BYTES_MAX_DEFAULT, FilePolicy};
use outpost_node::chat::{self, Audience, ChatRequest};
use outpost_seal::envelope::{DocId, EnvId, Envelope, Payload};
use outpost_seal::epoch::EpochSecret;
use outpost_workspace::chat::{Channel, Entry, LogOp, Policy, Setting};
use outpost_workspace::search::Index;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Every message carries the tag `t<k % TAGS>`.
const TAGS: usize = 100;
/// The tag the timed search looks for.
const QUERY_TAG: usize = 7;
/// The CJK word the second search looks for (in the Chinese messages).
const QUERY_CJK: &str = "会议室";
/// The latency target of send → visible on the other nodes, milliseconds.
const TARGET_P99_MS: f64 = 10.0;
/// A mebibyte.
const MIB: u64 = 1024 * 1024;
/// The target of the file transfer: this share of the raw stream's rate.
const TARGET_FILE_RATIO: f64 = 0.5;
/// Chunk requests the raw transfer keeps in flight: as many as
/// `Shared::fetch_blob` does.
const RAW_IN_FLIGHT: usize = 4;
/// The raw transfer's protocol name.
const RAW_PROTOCOL: &str = "/outpost-bench/raw/1";

/// How big the scenarios are.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Messages of the ingest corpus.
    pub posts: usize,
    /// Channels they are spread over.
    pub channels: usize,
    /// Members who sealed them (at most the org's three first homes).
    pub authors: usize,
    /// Messages node 1 sends per second.
    pub rate_per_s: u32,
    /// For how long.
    pub send_secs: f64,
    /// Rounds of the raw floor (the best is kept).
    pub floor_rounds: usize,
    /// Bytes of the file of the file transfer.
    pub file_bytes: u64,
}

impl Sizes {
    /// 20,000 messages over 20 channels by 3 authors; 200 messages/s for
    /// 10 s; a file of 100 MiB.
    pub fn full() -> Sizes {
        Sizes {
            posts: 20_000,
            channels: 20,
            authors: 3,
            rate_per_s: 200,
            send_secs: 10.0,
            floor_rounds: 2,
            file_bytes: 100 * MIB,
        }
    }

    /// Scaled down (a few seconds); a file of 16 MiB.
    pub fn quick() -> Sizes {
        Sizes {
            posts: 4_000,
            channels: 20,
            authors: 3,
            rate_per_s: 200,
            send_secs: 2.0,
            floor_rounds: 1,
            file_bytes: 16 * MIB,
        }
    }

    /// Tiny: for `cargo test --benches`, in a debug build; a file of
    /// 2 MiB.
    pub fn smoke() -> Sizes {
        Sizes {
            posts: 200,
            channels: 4,
            authors: 3,
            rate_per_s: 50,
            send_secs: 0.4,
            floor_rounds: 1,
            file_bytes: 2 * MIB,
        }
    }

    fn sends(&self) -> usize {
        (f64::from(self.rate_per_s) * self.send_secs).round() as usize
    }

    fn json(&self) -> Value {
        json!({
            "posts": self.posts,
            "channels": self.channels,
            "authors": self.authors,
            "rate_per_s": self.rate_per_s,
            "send_secs": self.send_secs,
            "floor_rounds": self.floor_rounds,
            "file_bytes": self.file_bytes,
        })
    }
}

/// Message `k`: about 100 bytes; two in five are Chinese or Japanese.
pub fn text(k: usize) -> String {
    let tag = k % TAGS;
    match k % 5 {
        0 => format!("明天上午十点在三楼会议室讨论第{k}号工单，请大家提前看一下附件里的数据。 t{tag}"),
        1 => format!("Deploy {k} finished on the staging cluster; dashboards look fine so far, watching it. t{tag}"),
        2 => format!("Could someone review change {k} before lunch? It touches the sync code, small diff. t{tag}"),
        3 => format!("会議は午後三時からです。資料{k}を事前に確認してください、よろしくお願いします。 t{tag}"),
        _ => format!("Reminder: report {k} is due on Friday, please send your numbers by Thursday noon. t{tag}"),
    }
}

/// Messages among the first `n` that a search for `tag` finds.
fn tagged(n: usize, tag: usize) -> usize {
    (0..n).filter(|k| k % TAGS == tag).count()
}

/// Messages among the first `n` that a search for [`QUERY_CJK`] finds.
fn with_cjk_query(n: usize) -> usize {
    (0..n).filter(|k| text(*k).contains(QUERY_CJK)).count()
}

// ---------------------------------------------------------------------------
// Figures

/// The raw floor of ingest, seconds for the whole corpus, one thread.
#[derive(Debug, Clone, Default)]
pub struct Floor {
    /// ed25519-dalek `verify`, one signature at a time (keys decompressed
    /// beforehand, once per author).
    pub verify_s: f64,
    /// `Envelope::open` (key derivation + XChaCha20-Poly1305).
    pub open_s: f64,
    /// `LogOp::decode` and `Channel::build`, per channel.
    pub build_s: f64,
    /// `Index::put` of every message.
    pub index_s: f64,
    /// Each round's `verify_s`.
    pub verify_rounds_s: Vec<f64>,
}

impl Floor {
    fn total_s(&self) -> f64 {
        self.verify_s + self.open_s + self.build_s + self.index_s
    }
}

/// Scenario (1).
#[derive(Debug, Clone, Default)]
pub struct Ingest {
    /// Messages.
    pub posts: usize,
    /// Envelopes (the messages and one name entry per channel).
    pub envelopes: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Mean text length of a message, bytes.
    pub text_bytes: f64,
    /// From starting the empty node to the first envelope stored.
    pub first_s: f64,
    /// From starting the empty node to every envelope stored.
    pub stored_s: f64,
    /// From starting the empty node to the search's answer.
    pub total_s: f64,
    /// The timed search, milliseconds.
    pub search_ms: f64,
    /// Its hits.
    pub hits: usize,
    /// A second search (CJK), with the replica built: milliseconds.
    pub search_again_ms: f64,
    /// Its hits.
    pub hits_again: usize,
    /// The raw floor.
    pub floor: Floor,
    /// The sessions each side initiated on admission.
    pub sessions: Vec<Value>,
}

impl Ingest {
    fn per_s(&self) -> f64 {
        self.posts as f64 / self.total_s
    }

    fn verify_per_s(&self) -> f64 {
        self.envelopes as f64 / self.floor.verify_s
    }

    /// Envelopes per second end to end over raw verify per second.
    fn ratio(&self) -> f64 {
        (self.envelopes as f64 / self.total_s) / self.verify_per_s()
    }
}

/// Scenario (2).
#[derive(Debug, Clone, Default)]
pub struct Latency {
    /// Messages sent.
    pub sends: usize,
    /// The rate achieved, messages per second.
    pub rate_achieved: f64,
    /// Mean envelope size in the channel, bytes.
    pub envelope_bytes: usize,
    /// Messages in the channel at the end (the warm-up's included).
    pub channel_messages: usize,
    /// Before the send call → stored on node 2, on node 3.
    pub per_node: Vec<Spread>,
    /// Both together.
    pub latency: Spread,
    /// The same from when each message was due (includes waiting behind
    /// earlier sends when the sender falls behind the rate).
    pub from_due: Spread,
    /// Both nodes, from when the send call returned (flush, transport,
    /// the receiver's checks and durable store).
    pub after_handle: Spread,
    /// Both nodes, the first tenth of the sends only (a short channel).
    pub first_tenth: Spread,
    /// `chat::handle(Send)` on node 1.
    pub handle: Spread,
    /// `Shared::flush` after it (durable commit + gossip publish).
    pub flush: Spread,
    /// Medians of `handle` over the first and the last tenth of the run.
    pub handle_first_tenth_p50: f64,
    /// See `handle_first_tenth_p50`.
    pub handle_last_tenth_p50: f64,
    /// Sends never seen on some node within the timeout.
    pub missing: usize,
}

impl Latency {
    fn met(&self) -> bool {
        self.missing == 0 && self.per_node.iter().all(|s| s.p99 <= TARGET_P99_MS)
    }
}

/// Scenario (3).
#[derive(Debug, Clone, Default)]
pub struct FileTransfer {
    /// The file's bytes (plaintext).
    pub bytes: u64,
    /// Its chunks.
    pub chunks: usize,
    /// Bytes of the chunks as stored and sent (ciphertext).
    pub sealed_bytes: u64,
    /// `Blobs::add` on node 1 (encrypt, synced write of each chunk),
    /// seconds.
    pub add_s: f64,
    /// `Shared::fetch_blob` on node 2, from the call to its return, seconds.
    pub fetch_s: f64,
    /// From the call to the first chunk stored on node 2, milliseconds.
    pub first_chunk_ms: f64,
    /// `Blobs::open_to` on node 2 into `io::sink()`, seconds.
    pub decrypt_s: f64,
    /// The bytes it wrote.
    pub decrypted: u64,
    /// Each round of the raw transfer (before the nodes start, after they
    /// stop), seconds.
    pub raw_rounds_s: Vec<f64>,
    /// `Blobs::put_chunk` of every chunk into an empty blob store, one
    /// thread, one after the other (check + synced write), seconds.
    pub put_floor_s: f64,
}

impl FileTransfer {
    fn mb_per_s(&self, secs: f64) -> f64 {
        self.bytes as f64 / 1e6 / secs
    }

    /// The fastest raw round, seconds.
    fn raw_s(&self) -> f64 {
        self.raw_rounds_s.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn fetch_mb_s(&self) -> f64 {
        self.mb_per_s(self.fetch_s)
    }

    fn raw_mb_s(&self) -> f64 {
        self.mb_per_s(self.raw_s())
    }

    /// Fetch MB/s over raw MB/s.
    fn ratio(&self) -> f64 {
        self.fetch_mb_s() / self.raw_mb_s()
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The sizes.
    pub sizes: Value,
    /// (1)
    pub ingest: Ingest,
    /// (2)
    pub latency: Latency,
    /// (3)
    pub files: FileTransfer,
    /// `/proc/loadavg` before and after.
    pub load: (String, String),
    /// Seconds the whole run took.
    pub wall_s: f64,
}

// ---------------------------------------------------------------------------
// The run

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Runs the three scenarios.
pub async fn run(sizes: &Sizes) -> Result<Report> {
    let start = Instant::now();
    let load_before = loadavg();
    // Homes: 1 the sender, 2 and 3 receivers (1-3 also author the corpus);
    // 4 the corpus's source, 5 the empty node.
    let org = tokio::task::block_in_place(|| build_org(5))?;
    let latency = send_to_visible(&org, sizes).await?;
    let ingest = ingest(&org, sizes).await?;
    drop(org);
    let files = file_transfer(sizes).await?;
    Ok(Report {
        sizes: sizes.json(),
        ingest,
        latency,
        files,
        load: (load_before, loadavg()),
        wall_s: start.elapsed().as_secs_f64(),
    })
}

/// One chat request on `node`, as `POST /api/chat` carries it out.
async fn api(node: &Node, req: ChatRequest) -> Result<Value> {
    let writes = req.writes();
    let v = node
        .shared
        .with_local(move |l, pass| chat::handle(l, pass, req))
        .await?;
    if writes {
        node.shared.flush().await?;
        node.shared.confirm_delivery();
    }
    Ok(v)
}

/// The id of the message a `Send` answer names.
fn message_id(answer: &Value) -> Result<[u8; 32]> {
    let hex = answer["message"].as_str().context("a send names its message")?;
    hex::decode(hex)?
        .try_into()
        .map_err(|_| anyhow!("a message id is 32 bytes"))
}

/// (2) Three nodes, node 1 posts at a steady rate.
async fn send_to_visible(org: &Org, sizes: &Sizes) -> Result<Latency> {
    let n1 = Node::start(&org.homes[0], vec![]).await?;
    let n2 = Node::start(&org.homes[1], vec![n1.addr.clone()]).await?;
    let n3 = Node::start(&org.homes[2], vec![n1.addr.clone(), n2.addr.clone()]).await?;
    for n in [&n1, &n2, &n3] {
        n.wait_peers(2).await?;
    }
    let created = api(
        &n1,
        ChatRequest::Create {
            name: "bench".into(),
            audience: Some(Audience::Everyone),
            topic: None,
        },
    )
    .await?;
    let channel = created["channel"]
        .as_str()
        .context("a new channel is named")?
        .to_owned();
    let send = |k: usize| ChatRequest::Send {
        channel: channel.clone(),
        text: text(k),
        reply: None,
    };
    // Warm up until gossip reaches both readers (the mesh forms at a
    // heartbeat after the subscriptions arrive): a message every 50 ms.
    let warm_start = Instant::now();
    let mut warm = 0;
    loop {
        let id = message_id(&api(&n1, send(warm)).await?)?;
        warm += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        if n2.stored_at(&id).is_some() && n3.stored_at(&id).is_some() {
            break;
        }
        if warm_start.elapsed() > TIMEOUT {
            bail!("gossip never reached both readers");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let sends = sizes.sends();
    let period = Duration::from_secs_f64(1.0 / f64::from(sizes.rate_per_s));
    // (id, due, just before the call, the call returned)
    let mut sent: Vec<([u8; 32], Instant, Instant, Instant)> = Vec::with_capacity(sends);
    let mut handle_ms = Vec::with_capacity(sends);
    let mut flush_ms = Vec::with_capacity(sends);
    let began = tokio::time::Instant::now();
    for k in 0..sends {
        let due = began + period * k as u32;
        tokio::time::sleep_until(due).await;
        let req = send(warm + k);
        let called = Instant::now();
        let answer = n1.shared.with_local(move |l, pass| chat::handle(l, pass, req)).await?;
        let handled = Instant::now();
        n1.shared.flush().await?;
        n1.shared.confirm_delivery();
        let flushed = Instant::now();
        sent.push((message_id(&answer)?, due.into_std(), called, handled));
        handle_ms.push(ms(handled - called));
        flush_ms.push(ms(flushed - handled));
    }
    let elapsed = began.elapsed().as_secs_f64();
    let ids: Vec<[u8; 32]> = sent.iter().map(|(id, ..)| *id).collect();
    let arrived = wait_until("every message reached nodes 2 and 3", async || {
        Ok(n2.stored_of(&ids) == ids.len() && n3.stored_of(&ids) == ids.len())
    })
    .await;
    if let Err(e) = &arrived {
        eprintln!("warning: {e:#}");
    }
    let mut all = Vec::new();
    let mut from_due = Vec::new();
    let mut after_handle = Vec::new();
    let mut first_tenth = Vec::new();
    let tenth = (sends / 10).max(1);
    let mut per_node = Vec::new();
    let mut missing = 0;
    for n in [&n2, &n3] {
        let mut xs = Vec::new();
        for (k, (id, due, called, handled)) in sent.iter().enumerate() {
            match n.stored_at(id) {
                Some(at) => {
                    xs.push(ms(at.saturating_duration_since(*called)));
                    from_due.push(ms(at.saturating_duration_since(*due)));
                    after_handle.push(ms(at.saturating_duration_since(*handled)));
                    if k < tenth {
                        first_tenth.push(ms(at.saturating_duration_since(*called)));
                    }
                }
                None => missing += 1,
            }
        }
        all.extend(xs.iter().copied());
        per_node.push(Spread::of(xs));
    }
    // The channel's envelopes as node 1 stores them (its name entry and
    // the warm-up's messages included).
    let doc = DocId(
        hex::decode(&channel)?
            .try_into()
            .map_err(|_| anyhow!("a channel id is 16 bytes"))?,
    );
    let key = outpost_node::docs::doc_key_bytes(&(org.scope, doc));
    let stored = n1
        .shared
        .with_local(move |l, _| Ok(l.store.doc_envelopes(&key)?))
        .await?;
    let envelope_bytes = stored.iter().map(Vec::len).sum::<usize>() / stored.len().max(1);
    let median = |xs: &[f64]| Spread::of(xs.to_vec()).p50;
    let latency = Latency {
        sends,
        rate_achieved: sends as f64 / elapsed.max(1e-9),
        envelope_bytes,
        channel_messages: warm + sends,
        handle_first_tenth_p50: median(&handle_ms[..tenth.min(sends)]),
        handle_last_tenth_p50: median(&handle_ms[sends.saturating_sub(tenth)..]),
        per_node,
        latency: Spread::of(all),
        from_due: Spread::of(from_due),
        after_handle: Spread::of(after_handle),
        first_tenth: Spread::of(first_tenth),
        handle: Spread::of(handle_ms),
        flush: Spread::of(flush_ms),
        missing,
    };
    for n in [n3, n2, n1] {
        n.stop().await?;
    }
    Ok(latency)
}

/// The ingest corpus: per channel, its name entry then its messages (message
/// `k` goes to channel `k % channels`, sealed by author `k % authors`),
/// each entry following the previous one. Grouped by channel, in chain
/// order.
fn corpus(org: &Org, sizes: &Sizes) -> Vec<Envelope> {
    let channels: Vec<(usize, DocId)> = (0..sizes.channels)
        .map(|c| (c, DocId::generate(&mut rand::rng())))
        .collect();
    let authors = sizes.authors.clamp(1, org.authors.len());
    seal_in_parallel(&channels, |(c, doc)| {
        let name = LogOp::Set(Setting::Name(format!("bench-{c:02}")));
        let mut out = vec![org.seal_as(0, *doc, Vec::new(), &Payload::Log(name.encode()))];
        for k in (*c..sizes.posts).step_by(sizes.channels) {
            let op = LogOp::Post {
                text: text(k),
                reply_to: None,
                mentions: Vec::new(),
                attachments: Vec::new(),
            };
            let deps: Vec<EnvId> = out.last().map(|e: &Envelope| e.id).into_iter().collect();
            out.push(org.seal_as(k % authors, *doc, deps, &Payload::Log(op.encode())));
        }
        out
    })
}

/// The raw floor of ingesting `envs` (grouped by channel), on this thread.
fn floor(envs: &[Envelope], secret: &EpochSecret, rounds: usize) -> Result<Floor> {
    let signed = signatures(envs)?;
    let mut best = Floor::default();
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        for (m, s, k) in &signed {
            k.verify(m, s).map_err(|e| anyhow!("a bench signature: {e}"))?;
        }
        let verify = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut opened = Vec::with_capacity(envs.len());
        for e in envs {
            match e.open(secret)? {
                Payload::Log(bytes) => opened.push((e, bytes)),
                _ => bail!("bench envelopes carry chat entries"),
            }
        }
        let open = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut channels: Vec<Channel> = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        for (i, (e, bytes)) in opened.iter().enumerate() {
            entries.push(Entry {
                id: e.id.0,
                author: e.header.author.0,
                time_ms: e.header.time.0 * 1000,
                deps: e.header.deps.iter().map(|d| d.0).collect(),
                op: LogOp::decode(bytes)?,
            });
            let last_of_channel = opened
                .get(i + 1)
                .is_none_or(|(next, _)| next.header.doc != e.header.doc);
            if last_of_channel {
                channels.push(Channel::build(&entries, &Policy::default()));
                entries.clear();
            }
        }
        let build = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut index = Index::new();
        for (c, channel) in channels.iter().enumerate() {
            for m in &channel.messages {
                index.put((c, m.id), &m.text);
            }
        }
        std::hint::black_box(&index);
        let index_s = started.elapsed().as_secs_f64();
        best.verify_rounds_s.push(verify);
        let round = Floor {
            verify_s: verify,
            open_s: open,
            build_s: build,
            index_s,
            verify_rounds_s: Vec::new(),
        };
        if best.verify_s == 0.0 || round.total_s() < best.total_s() {
            best = Floor {
                verify_rounds_s: std::mem::take(&mut best.verify_rounds_s),
                ..round
            };
        }
    }
    Ok(best)
}

/// A search on a running node, as the API answers it: its hits and
/// milliseconds.
async fn search(node: &Node, query: &str) -> Result<(usize, f64)> {
    let started = Instant::now();
    let hits = api(
        node,
        ChatRequest::Search {
            query: query.to_owned(),
            channel: None,
        },
    )
    .await?;
    let took = ms(started.elapsed());
    Ok((hits.as_array().map_or(0, Vec::len), took))
}

/// (1) An empty node catches up on the corpus and searches it.
async fn ingest(org: &Org, sizes: &Sizes) -> Result<Ingest> {
    let (source, empty) = (&org.homes[3], &org.homes[4]);
    let corpus = tokio::task::block_in_place(|| corpus(org, sizes));
    let items: Vec<_> = corpus.iter().map(|e| org.item(e)).collect();
    tokio::task::block_in_place(|| put_offline(source, &items))?;
    drop(items);
    let bytes: u64 = corpus.iter().map(|e| e.bytes.len() as u64).sum();
    let text_bytes = (0..sizes.posts).map(|k| text(k).len()).sum::<usize>() as f64 / sizes.posts.max(1) as f64;
    let ids: Vec<[u8; 32]> = corpus.iter().map(|e| e.id.0).collect();
    let floor_before = tokio::task::block_in_place(|| floor(&corpus, &org.secret, sizes.floor_rounds))?;

    let src = Node::start(source, vec![]).await?;
    let started = Instant::now();
    let dst = Node::start(empty, vec![src.addr.clone()]).await?;
    wait_until("the empty node holds every envelope", async || {
        Ok(dst.stored_of(&ids) == ids.len())
    })
    .await?;
    let (hits, search_ms) = search(&dst, &format!("t{QUERY_TAG}")).await?;
    let visible = Instant::now();
    let (first, last) = stored_span(&dst, &ids, started);
    let expected = tagged(sizes.posts, QUERY_TAG);
    if hits != expected {
        bail!("the search found {hits} messages tagged t{QUERY_TAG}, not {expected}");
    }
    let (hits_again, search_again_ms) = search(&dst, QUERY_CJK).await?;
    let expected = with_cjk_query(sizes.posts);
    if hits_again != expected {
        bail!("the search found {hits_again} messages with {QUERY_CJK}, not {expected}");
    }
    let sessions = admission_sessions(&dst, &src).await?;
    dst.stop().await?;
    src.stop().await?;
    let floor_after = tokio::task::block_in_place(|| floor(&corpus, &org.secret, sizes.floor_rounds))?;
    let mut floor = if floor_after.total_s() < floor_before.total_s() {
        floor_after.clone()
    } else {
        floor_before.clone()
    };
    floor.verify_rounds_s = [floor_before.verify_rounds_s, floor_after.verify_rounds_s].concat();
    Ok(Ingest {
        posts: sizes.posts,
        envelopes: corpus.len(),
        bytes,
        text_bytes,
        first_s: (first - started).as_secs_f64(),
        stored_s: (last - started).as_secs_f64(),
        total_s: (visible - started).as_secs_f64(),
        search_ms,
        hits,
        search_again_ms,
        hits_again,
        floor,
        sessions,
    })
}

/// (3) Node 2 fetches a file from node 1; the same bytes over a plain
/// libp2p request-response protocol between two bare swarms.
async fn file_transfer(sizes: &Sizes) -> Result<FileTransfer> {
    // An org of its own: two members with empty stores.
    let org = tokio::task::block_in_place(|| build_org(2))?;
    let (home1, home2) = (&org.homes[0], &org.homes[1]);
    let mut data = vec![0u8; usize::try_from(sizes.file_bytes)?];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut data);
    let policy = FilePolicy {
        bytes_max: sizes.file_bytes.max(FILE_BYTES_MAX_DEFAULT),
        types: None,
    };
    let started = Instant::now();
    let (id, key, manifest) = tokio::task::block_in_place(|| Blobs::new(home1.dir()).add(&mut &data[..], &policy))?;
    let add_s = started.elapsed().as_secs_f64();
    drop(data);
    let chunks = manifest.chunks.len();
    let ours = Blobs::new(home1.dir());
    let sealed: Vec<Vec<u8>> = tokio::task::block_in_place(|| {
        (0..chunks as u32)
            .map(|i| ours.chunk(&id, i)?.context("node 1 holds every chunk"))
            .collect::<Result<_>>()
    })?;
    let sealed_bytes = sealed.iter().map(|c| c.len() as u64).sum();
    // The raw transfer answers what the blob protocol answers: `0 ‖ chunk`.
    let frame = 1 + sealed.iter().map(Vec::len).max().unwrap_or(0);

    let mut raw_rounds_s = vec![raw_transfer(chunks, frame).await?];

    let n1 = Node::start(home1, vec![]).await?;
    let n2 = Node::start(home2, vec![n1.addr.clone()]).await?;
    n1.wait_peers(1).await?;
    n2.wait_peers(1).await?;
    // The admission's sync sessions are over before the clock starts.
    admission_sessions(&n2, &n1).await?;
    let stored_at = Mutex::new(Vec::with_capacity(chunks));
    let started = Instant::now();
    let fetched = n2
        .shared
        .fetch_blob(id, |done, _| {
            if done > 0 {
                stored_at.lock().expect("never poisoned").push(Instant::now());
            }
        })
        .await?;
    let fetch_s = started.elapsed().as_secs_f64();
    if fetched.id() != id {
        bail!("node 2 fetched another file");
    }
    let first_chunk_ms = stored_at
        .lock()
        .expect("never poisoned")
        .first()
        .map_or(f64::NAN, |at| ms(*at - started));
    n2.stop().await?;
    n1.stop().await?;

    let theirs = Blobs::new(home2.dir());
    let started = Instant::now();
    let decrypted = tokio::task::block_in_place(|| theirs.open_to(&id, &key, &mut std::io::sink()))?;
    let decrypt_s = started.elapsed().as_secs_f64();
    if decrypted != sizes.file_bytes {
        bail!("node 2 decrypted {decrypted} bytes, not {}", sizes.file_bytes);
    }

    raw_rounds_s.push(raw_transfer(chunks, frame).await?);

    // What storing the chunks costs without the network: a third blob store.
    let floor_dir = tempfile::tempdir()?;
    let floor = Blobs::new(floor_dir.path());
    let put_floor_s = tokio::task::block_in_place(|| -> Result<f64> {
        floor.put_manifest(&manifest)?;
        let started = Instant::now();
        for (i, c) in sealed.iter().enumerate() {
            floor.put_chunk(&manifest, u32::try_from(i)?, c)?;
        }
        Ok(started.elapsed().as_secs_f64())
    })?;
    Ok(FileTransfer {
        bytes: sizes.file_bytes,
        chunks,
        sealed_bytes,
        add_s,
        fetch_s,
        first_chunk_ms,
        decrypt_s,
        decrypted,
        raw_rounds_s,
        put_floor_s,
    })
}

/// A bare swarm with the node's TCP stack (TCP with `nodelay`, Noise,
/// Yamux) and one request-response protocol of the node's frames.
fn raw_swarm() -> Result<Swarm<request_response::Behaviour<FrameCodec>>> {
    Ok(libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                FrameCodec {
                    frame_bytes_max: 8 * 1024 * 1024,
                },
                [(StreamProtocol::new(RAW_PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(60)),
            )
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build())
}

/// The raw transfer: one swarm answers every request with the same
/// `frame` bytes from memory; another, connected to it over 127.0.0.1,
/// asks for `chunks` of them, [`RAW_IN_FLIGHT`] at a time. Seconds from
/// the first request to the last answer.
async fn raw_transfer(chunks: usize, frame: usize) -> Result<f64> {
    let mut server = raw_swarm()?;
    server.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = server.select_next_some().await {
            break address;
        }
    };
    let server_id = *server.local_peer_id();
    let mut answer = vec![0u8; frame];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut answer[1..]);
    let serving = tokio::spawn(async move {
        loop {
            if let SwarmEvent::Behaviour(request_response::Event::Message {
                message: request_response::Message::Request { channel, .. },
                ..
            }) = server.select_next_some().await
            {
                let _ = server.behaviour_mut().send_response(channel, answer.clone());
            }
        }
    });
    let result = async {
        let mut client = raw_swarm()?;
        client.dial(addr.with(Protocol::P2p(server_id)))?;
        tokio::time::timeout(TIMEOUT, async {
            loop {
                match client.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { .. } => return Ok(()),
                    SwarmEvent::OutgoingConnectionError { error, .. } => bail!("the raw dial failed: {error}"),
                    _ => {}
                }
            }
        })
        .await
        .context("the raw dial timed out")??;
        // The same request as the blob protocol's, for a chunk.
        let request = BlobRequest::Chunk(outpost_seal::blob::BlobId([7; 32]), 0).encode();
        let started = Instant::now();
        let (mut sent, mut received, mut bytes) = (0, 0, 0);
        while sent < RAW_IN_FLIGHT.min(chunks) {
            client
                .behaviour_mut()
                .send_request(&server_id, Frame::Frame(request.clone()));
            sent += 1;
        }
        tokio::time::timeout(TIMEOUT, async {
            while received < chunks {
                match client.select_next_some().await {
                    SwarmEvent::Behaviour(request_response::Event::Message {
                        message: request_response::Message::Response { response, .. },
                        ..
                    }) => {
                        received += 1;
                        bytes += response.len();
                        if sent < chunks {
                            client
                                .behaviour_mut()
                                .send_request(&server_id, Frame::Frame(request.clone()));
                            sent += 1;
                        }
                    }
                    SwarmEvent::Behaviour(request_response::Event::OutboundFailure { error, .. }) => {
                        bail!("a raw request failed: {error}")
                    }
                    SwarmEvent::ConnectionClosed { cause, .. } => bail!("the raw connection closed: {cause:?}"),
                    _ => {}
                }
            }
            Ok(())
        })
        .await
        .context("the raw transfer timed out")??;
        let took = started.elapsed().as_secs_f64();
        if bytes != chunks * frame {
            bail!("the raw transfer moved {bytes} bytes, not {}", chunks * frame);
        }
        Ok(took)
    }
    .await;
    serving.abort();
    result
}

// ---------------------------------------------------------------------------
// Output

impl Report {
    /// The report as JSON (what `target/outpost-bench/chat.json` holds).
    pub fn json(&self, mode: &str) -> Value {
        let i = &self.ingest;
        let f = &i.floor;
        let l = &self.latency;
        let t = &self.files;
        json!({
            "mode": mode,
            "cores": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            "loadavg_before": self.load.0,
            "loadavg_after": self.load.1,
            "sizes": self.sizes,
            "wall_s": self.wall_s,
            "ingest": {
                "scenario": "an empty node dials a node holding the corpus; from starting the empty node, through the sync sessions of the admission (verified, stored durably), to the answer of one chat search over every channel there (every entry decrypted, every channel's view built, every message indexed)",
                "messages": i.posts,
                "envelopes": i.envelopes,
                "bytes": i.bytes,
                "text_bytes_mean": i.text_bytes,
                "first_stored_s": i.first_s,
                "all_stored_s": i.stored_s,
                "search_ms": i.search_ms,
                "search_hits": i.hits,
                "total_s": i.total_s,
                "messages_per_s": i.per_s(),
                "envelopes_per_s": i.envelopes as f64 / i.total_s,
                "raw_ed25519_verify_per_s": i.verify_per_s(),
                "raw_what": "ed25519-dalek VerifyingKey::verify of the corpus's signatures, one thread, one at a time, keys decompressed beforehand; best round",
                "ratio_to_raw_verify": i.ratio(),
                "floor": {
                    "what": "one thread, same envelopes: verify + Envelope::open + LogOp::decode and Channel::build per channel + Index::put per message",
                    "verify_s": f.verify_s,
                    "open_s": f.open_s,
                    "build_s": f.build_s,
                    "index_s": f.index_s,
                    "total_s": f.total_s(),
                    "verify_rounds_s": f.verify_rounds_s,
                },
                "ratio_to_floor": i.total_s / f.total_s(),
                "search_again": {
                    "query": QUERY_CJK,
                    "ms": i.search_again_ms,
                    "hits": i.hits_again,
                    "note": "a second search: the replica is built, but every search decrypts, builds and indexes every channel again",
                },
                "sessions": i.sessions,
            },
            "send_to_visible": {
                "scenario": "3 nodes in a triangle (127.0.0.1 TCP), one channel everyone reads; node 1 posts through the API's path (Shared::with_local + chat::handle(Send) + Shared::flush + Shared::confirm_delivery); latency from just before the send call to NodeEvent::Stored with the message's id on nodes 2 and 3",
                "sends": l.sends,
                "rate_achieved_per_s": l.rate_achieved,
                "envelope_bytes_mean": l.envelope_bytes,
                "channel_messages_at_end": l.channel_messages,
                "latency_node_2": l.per_node.first().map(Spread::json),
                "latency_node_3": l.per_node.get(1).map(Spread::json),
                "latency": l.latency.json(),
                "latency_from_due": l.from_due.json(),
                "latency_after_send_call_returned": l.after_handle.json(),
                "latency_first_tenth_of_sends": l.first_tenth.json(),
                "handle_send": l.handle.json(),
                "handle_send_p50_first_tenth_ms": l.handle_first_tenth_p50,
                "handle_send_p50_last_tenth_ms": l.handle_last_tenth_p50,
                "flush": l.flush.json(),
                "missing": l.missing,
                "target_p99_ms": TARGET_P99_MS,
                "met": l.met(),
            },
            "file_transfer": {
                "scenario": "2 nodes (127.0.0.1 TCP, an org of their own, empty stores); node 1 holds a file of random bytes (Blobs::add into its home); node 2 calls Shared::fetch_blob (manifest, then every chunk over /outpost/blob/1, each checked and written synced to disk); the time runs from the call to its return, after the admission's sync sessions ended",
                "bytes": t.bytes,
                "chunks": t.chunks,
                "sealed_bytes": t.sealed_bytes,
                "mb": "10^6 bytes of the file (plaintext); the raw transfer moves the same number of frames of the same size",
                "add_s": t.add_s,
                "add_mb_per_s": t.mb_per_s(t.add_s),
                "fetch_s": t.fetch_s,
                "fetch_mb_per_s": t.fetch_mb_s(),
                "first_chunk_stored_ms": t.first_chunk_ms,
                "decrypt": {
                    "what": "Blobs::open_to on node 2 into io::sink() (read, check and decrypt every chunk), after the nodes stopped",
                    "s": t.decrypt_s,
                    "mb_per_s": t.mb_per_s(t.decrypt_s),
                    "bytes": t.decrypted,
                    "size_ok": t.decrypted == t.bytes,
                },
                "raw_what": format!(
                    "libp2p request-response (libp2p 0.57 has no `stream` feature for libp2p-stream) between two bare swarms on 127.0.0.1, TCP (nodelay) + Noise + Yamux as the node's; the node's length-prefixed frames (outpost_net::codec::FrameCodec), a new substream per request as the node's; {RAW_IN_FLIGHT} requests of the blob protocol's size in flight, each answered from memory with a frame of a chunk's answer size; best of a round before the nodes start and one after they stop"
                ),
                "raw_rounds_s": t.raw_rounds_s,
                "raw_s": t.raw_s(),
                "raw_mb_per_s": t.raw_mb_s(),
                "ratio": t.ratio(),
                "target_ratio": TARGET_FILE_RATIO,
                "met": t.ratio() >= TARGET_FILE_RATIO,
                "put_chunk_floor": {
                    "what": "Blobs::put_chunk of every chunk into an empty blob store, one thread, one after the other (blake3 check, write, fsync, rename), no network",
                    "s": t.put_floor_s,
                    "mb_per_s": t.mb_per_s(t.put_floor_s),
                },
            },
        })
    }

    /// A readable table.
    pub fn table(&self) -> String {
        let i = &self.ingest;
        let f = &i.floor;
        let l = &self.latency;
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!(
            "chat benchmark ({} cores, 127.0.0.1, {:.0} s wall, load {} → {})",
            std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            self.wall_s,
            self.load.0,
            self.load.1
        ));
        line(format!(
            "(1) ingest: {} messages ({:.0} B text, {} envelopes, {:.1} MB) over {} channels to an empty node",
            i.posts,
            i.text_bytes,
            i.envelopes,
            i.bytes as f64 / 1e6,
            self.sizes["channels"]
        ));
        line(format!(
            "    {:.2} s = stored {:.2} s (first after {:.2} s) + search {:.0} ms → {:.0} messages/s",
            i.total_s,
            i.stored_s,
            i.first_s,
            i.search_ms,
            i.per_s()
        ));
        line(format!(
            "    raw ed25519 verify, 1 thread: {:.0}/s → ratio {:.2}",
            i.verify_per_s(),
            i.ratio()
        ));
        line(format!(
            "    floor, 1 thread: {:.2} s = verify {:.2} + open {:.2} + decode/build {:.2} + index {:.2} → ratio {:.2}x",
            f.total_s(),
            f.verify_s,
            f.open_s,
            f.build_s,
            f.index_s,
            i.total_s / f.total_s()
        ));
        line(format!(
            "    another search ({QUERY_CJK}, {} hits): {:.0} ms",
            i.hits_again, i.search_again_ms
        ));
        line(format!(
            "(2) send → visible, 3 nodes (triangle): {} messages at {:.0}/s (asked {}/s), envelope {} B, channel of {} at the end",
            l.sends, l.rate_achieved, self.sizes["rate_per_s"], l.envelope_bytes, l.channel_messages
        ));
        let mut rows: Vec<(String, &Spread)> = l
            .per_node
            .iter()
            .enumerate()
            .map(|(n, s)| (format!("call → stored on node {}", n + 2), s))
            .collect();
        rows.push(("the same, first tenth only".into(), &l.first_tenth));
        rows.push(("from the call's return".into(), &l.after_handle));
        rows.push(("from when due".into(), &l.from_due));
        rows.push(("chat::handle(Send), node 1".into(), &l.handle));
        rows.push(("Shared::flush, node 1".into(), &l.flush));
        for (what, s) in rows {
            line(format!(
                "    {what:<28} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
                s.p50, s.p99, s.max
            ));
        }
        line(format!(
            "    chat::handle(Send) p50 over the first tenth of sends {:.2} ms, over the last tenth {:.2} ms",
            l.handle_first_tenth_p50, l.handle_last_tenth_p50
        ));
        line(format!(
            "    target p99 ≤ {TARGET_P99_MS} ms on both nodes → {} ({} missing)",
            if l.met() { "MET" } else { "NOT MET" },
            l.missing
        ));
        let t = &self.files;
        line(format!(
            "(3) file transfer, 2 nodes: {:.0} MiB ({} chunks) fetched by node 2 from node 1",
            t.bytes as f64 / MIB as f64,
            t.chunks
        ));
        line(format!(
            "    Shared::fetch_blob {:.2} s → {:.0} MB/s (first chunk stored after {:.1} ms)",
            t.fetch_s,
            t.fetch_mb_s(),
            t.first_chunk_ms
        ));
        line(format!(
            "    raw libp2p request-response, {RAW_IN_FLIGHT} in flight: {:.2} s → {:.0} MB/s (rounds {}) → ratio {:.2}, target ≥ {TARGET_FILE_RATIO} → {}",
            t.raw_s(),
            t.raw_mb_s(),
            t.raw_rounds_s
                .iter()
                .map(|s| format!("{s:.2} s"))
                .collect::<Vec<_>>()
                .join(", "),
            t.ratio(),
            if t.ratio() >= TARGET_FILE_RATIO {
                "MET"
            } else {
                "NOT MET"
            }
        ));
        line(format!(
            "    decrypt on node 2 (Blobs::open_to → sink): {:.2} s → {:.0} MB/s, {} bytes ({})",
            t.decrypt_s,
            t.mb_per_s(t.decrypt_s),
            t.decrypted,
            if t.decrypted == t.bytes {
                "size ok"
            } else {
                "WRONG SIZE"
            }
        ));
        line(format!(
            "    add on node 1 (Blobs::add) {:.2} s → {:.0} MB/s; put_chunk of every chunk, 1 thread, no network: {:.2} s → {:.0} MB/s",
            t.add_s,
            t.mb_per_s(t.add_s),
            t.put_floor_s,
            t.mb_per_s(t.put_floor_s)
        ));
        out
    }
}
