//! What the node benchmarks share (`network.rs`, `chat.rs`): an org built
//! in-process, nodes run in this process on 127.0.0.1, the events they
//! report, percentiles, and the `main` of a bench target (modes, the table,
//! the JSON in `target/outpost-bench/`).
//!
//! Included with `#[path]` by each benchmark's scenarios (and so also by the
//! network benchmark's smoke test); each uses a part.

#![allow(dead_code)]

use anyhow::{Context, Result, anyhow, bail};
use ed25519_dalek::{Signature, VerifyingKey};
use libp2p::{Multiaddr, PeerId};
use outpost_identity::request::Bundle;
use outpost_identity::signed::{self, Kind, SIG_LEN};
use outpost_identity::{DeptPath, MemberKeys, OpId, Principal, Role, RoleCert, ScopeDef, Timestamp};
use outpost_node::daemon::{self, DaemonConfig, NodeEvent, Shared};
use outpost_node::docs::doc_key_bytes;
use outpost_node::{Home, Local, Passphrase};
use outpost_seal::envelope::{DocId, EnvId, Envelope, Header, Payload};
use outpost_seal::epoch::EpochSecret;
use outpost_sync::Stats;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot};

/// How long anything that should happen in seconds may take.
pub const TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// The org

/// An org of `homes.len()` nodes: home 0 is the admin, who wrote the org
/// and holds the key of the one scope; the others are members.
pub struct Org {
    /// Where the homes are.
    pub dir: tempfile::TempDir,
    /// One per node.
    pub homes: Vec<Home>,
    /// The one scope: everyone reads and writes.
    pub scope: OpId,
    /// Its key epoch.
    pub epoch: OpId,
    /// Its key.
    pub secret: EpochSecret,
    /// Every member's keys and role certificate, in the order of `homes`
    /// (the admin first).
    pub authors: Vec<(MemberKeys, OpId)>,
    /// The authorisation heads once the scope exists.
    pub auth_heads: Vec<OpId>,
    /// When the org was built.
    pub now: Timestamp,
}

impl std::fmt::Debug for Org {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Org({})", self.dir.path().display())
    }
}

pub fn pass() -> Passphrase {
    // No passphrase: key files are read on every write, and argon2 would
    // cost tens of milliseconds each time.
    Passphrase::default()
}

/// `outpost init` ×n, `org create` on the first, a member certificate for
/// each other (`cert issue` + `cert install`), and a scope everyone reads
/// and writes, created after the grants so that its key is wrapped to all.
pub fn build_org(n: usize) -> Result<Org> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let pass = pass();
    let now = outpost_node::now();
    let homes: Vec<Home> = (0..n)
        .map(|i| Home::at(dir.path().join(format!("n{}", i + 1))))
        .collect();
    for h in &homes {
        h.init(&pass)?;
    }
    let admin = homes[0].member_keys(&pass)?;
    let mut local = Local::open(homes[0].clone())?;
    local.create_org("Bench", "Admin", &pass, now)?;
    for (i, h) in homes.iter().enumerate().skip(1) {
        let keys = h.member_keys(&pass)?;
        let rc = RoleCert {
            serial: i as u64,
            subject: keys.public(),
            exchange: keys.exchange_public(),
            name: format!("Member {}", i + 1),
            email: String::new(),
            dept: DeptPath::parse("HQ").expect("a valid path"),
            position: String::new(),
            level: 1,
            role: Role::Member,
            resources: Vec::new(),
            not_before: now,
            not_after: now.plus(7 * 86_400),
            invite: None,
        };
        let op = local.require_org()?.sign_grant(&admin.signing, rc, now)?;
        local.add_ops(vec![op], None)?;
    }
    let def = ScopeDef {
        name: "Bench".into(),
        readers: vec![Principal::Everyone],
        writers: vec![Principal::Everyone],
        nonce: 1,
    };
    let scope = local.create_scope(def, &pass, now)?;
    let bundle = local.bundle_all()?.encode();
    let state = local.require_org()?;
    let epoch = state.writer_epoch(&scope).context("the scope has an epoch")?;
    let auth_heads = state.heads();
    let secret = local
        .keyring(&admin, &pass)?
        .get(&epoch)
        .context("the admin holds the scope's key")?
        .clone();
    let authors = homes
        .iter()
        .map(|h| {
            let keys = h.member_keys(&pass)?;
            let (cert, _) = state
                .role_of(&keys.public(), now)
                .context("every member is certified")?;
            Ok((keys, cert))
        })
        .collect::<Result<Vec<_>>>()?;
    drop(local);
    for h in &homes[1..] {
        let mut l = Local::open(h.clone())?;
        let (b, ops) = Bundle::decode(&bundle).map_err(|e| anyhow!("the org bundle: {e}"))?;
        l.pin_org(b.root, &b.org_name)?;
        l.add_ops(ops, None)?;
        l.ensure_device_cert(&pass, now)?;
    }
    Ok(Org {
        dir,
        homes,
        scope,
        epoch,
        secret,
        authors,
        auth_heads,
        now,
    })
}

impl Org {
    /// Seals `change` into `doc` after `deps`, as the admin.
    pub fn seal(&self, doc: DocId, deps: Vec<EnvId>, change: Vec<u8>) -> Envelope {
        self.seal_as(0, doc, deps, &Payload::Change(change))
    }

    /// Seals `payload` into `doc` after `deps`, as member `author` (an
    /// index into `homes`).
    pub fn seal_as(&self, author: usize, doc: DocId, deps: Vec<EnvId>, payload: &Payload) -> Envelope {
        let (keys, cert) = &self.authors[author];
        let header = Header {
            doc,
            scope: self.scope,
            author: keys.public(),
            cert: *cert,
            deps,
            auth_heads: self.auth_heads.clone(),
            epoch: self.epoch,
            time: self.now,
            nonce: [0; 24],
        };
        Envelope::seal(header, payload, &self.secret, &keys.signing, &mut rand::rng())
    }

    /// What a store keeps of an envelope.
    pub fn item(&self, env: &Envelope) -> ([u8; 48], [u8; 32], Vec<u8>) {
        (
            doc_key_bytes(&(self.scope, env.header.doc)),
            env.id.0,
            env.bytes.clone(),
        )
    }
}

/// Seals on two threads: `f` maps each of `parts` to its envelopes, which
/// come back in the order of `parts`.
pub fn seal_in_parallel<T: Sync>(parts: &[T], f: impl Fn(&T) -> Vec<Envelope> + Sync) -> Vec<Envelope> {
    let halves: Vec<&[T]> = parts.chunks(parts.len().div_ceil(2).max(1)).collect();
    let f = &f;
    std::thread::scope(|s| {
        let workers: Vec<_> = halves
            .iter()
            .map(|half| s.spawn(move || half.iter().flat_map(f).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("sealing does not panic"))
            .collect()
    })
}

/// Puts envelopes into the store of a node that is not running.
pub fn put_offline(home: &Home, items: &[([u8; 48], [u8; 32], Vec<u8>)]) -> Result<()> {
    let store = home.store()?;
    for chunk in items.chunks(50_000) {
        store.put_envelopes(chunk.iter().map(|(d, id, b)| (d, id, b.as_slice())))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Running nodes

/// What a node reported: when each envelope from peers was stored, and the
/// sessions it initiated.
#[derive(Debug, Default)]
pub struct Seen {
    /// When each envelope was reported stored.
    pub stored: HashMap<[u8; 32], Instant>,
    /// The sessions the node initiated, in order.
    pub synced: Vec<(PeerId, Stats)>,
    /// Events lost by a slow subscriber.
    pub lagged: u64,
}

/// A node running in this process.
pub struct Node {
    /// The node's state, as the API sees it.
    pub shared: Arc<Shared>,
    /// Its first listen address.
    pub addr: Multiaddr,
    /// What it reported.
    pub seen: Arc<Mutex<Seen>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<()>>,
    collector: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({})", self.addr)
    }
}

impl Node {
    /// Starts `outpost up` on `home`: TCP on 127.0.0.1 only, mDNS off,
    /// dialing `peers`.
    pub async fn start(home: &Home, peers: Vec<Multiaddr>) -> Result<Node> {
        let config = DaemonConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("a valid literal address")],
            peers,
            relays: Vec::new(),
            relay_server: false,
            mdns: false,
            api: "127.0.0.1:0".parse().expect("a valid literal address"),
            public_api: None,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready, is_ready) = oneshot::channel();
        let task = tokio::spawn(daemon::run(
            home.clone(),
            pass(),
            config,
            async move {
                let _ = stopped.await;
            },
            move |s: &Arc<Shared>| {
                // Subscribed before the node's loop runs: nothing is missed.
                let _ = ready.send((s.clone(), s.subscribe()));
            },
        ));
        let (shared, events) = tokio::time::timeout(TIMEOUT, is_ready)
            .await
            .context("the node did not start in time")?
            .context("the node stopped while starting")?;
        let addr = shared
            .listen_addrs()
            .into_iter()
            .next()
            .context("the node listens on 127.0.0.1")?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let collector = tokio::spawn(collect(events, seen.clone()));
        Ok(Node {
            shared,
            addr,
            seen,
            stop: Some(stop),
            task,
            collector,
        })
    }

    pub fn peer_id(&self) -> PeerId {
        self.shared.client.peer_id
    }

    /// How many of `ids` this node reported stored (below `ids.len()`: not
    /// exact).
    pub fn stored_of(&self, ids: &[[u8; 32]]) -> usize {
        let seen = self.seen.lock().expect("never poisoned");
        if seen.stored.len() < ids.len() {
            // Cheap while waiting; exact once it may be complete.
            return seen.stored.len().min(ids.len().saturating_sub(1));
        }
        ids.iter().filter(|id| seen.stored.contains_key(*id)).count()
    }

    /// When this node stored `id`.
    pub fn stored_at(&self, id: &[u8; 32]) -> Option<Instant> {
        self.seen.lock().expect("never poisoned").stored.get(id).copied()
    }

    /// Waits until `n` peers are admitted.
    pub async fn wait_peers(&self, n: usize) -> Result<()> {
        wait_until("peers admitted", async || {
            Ok(self.shared.client.peers().await.unwrap_or_default().len() >= n)
        })
        .await
    }

    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(TIMEOUT, &mut self.task)
            .await
            .context("the node did not stop in time")?
            .context("the node's task failed")?;
        self.collector.abort();
        result
    }
}

async fn collect(mut events: broadcast::Receiver<NodeEvent>, seen: Arc<Mutex<Seen>>) {
    loop {
        match events.recv().await {
            Ok(NodeEvent::Stored(ids)) => {
                let at = Instant::now();
                let mut seen = seen.lock().expect("never poisoned");
                for id in ids.iter() {
                    seen.stored.entry(*id).or_insert(at);
                }
            }
            Ok(NodeEvent::Synced { peer, stats }) => {
                seen.lock().expect("never poisoned").synced.push((peer, stats));
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => seen.lock().expect("never poisoned").lagged += n,
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// When `node` stored the first and the last of `ids` (`or` for none).
pub fn stored_span(node: &Node, ids: &[[u8; 32]], or: Instant) -> (Instant, Instant) {
    let seen = node.seen.lock().expect("never poisoned");
    let times: Vec<Instant> = ids.iter().filter_map(|id| seen.stored.get(id).copied()).collect();
    (
        times.iter().min().copied().unwrap_or(or),
        times.iter().max().copied().unwrap_or(or),
    )
}

/// Stats of a session as JSON.
pub fn stats_json(who: &str, s: &Stats) -> Value {
    json!({
        "initiator": who,
        "bytes": s.bytes_sent + s.bytes_received,
        "round_trips": s.round_trips,
        "envelopes_sent": s.envelopes_sent,
        "envelopes_delivered": s.envelopes_delivered,
        "items_redundant": s.items_redundant,
    })
}

/// Both sides start a session on admission: waits until both ended, and
/// returns every session the two initiated, as JSON.
pub async fn admission_sessions(joined: &Node, source: &Node) -> Result<Vec<Value>> {
    wait_until("both sessions of the admission ended", async || {
        Ok(!joined.seen.lock().expect("never poisoned").synced.is_empty()
            && !source.seen.lock().expect("never poisoned").synced.is_empty())
    })
    .await?;
    Ok([("empty node", joined), ("source", source)]
        .iter()
        .flat_map(|(who, n)| {
            let seen = n.seen.lock().expect("never poisoned");
            seen.synced.iter().map(|(_, s)| stats_json(who, s)).collect::<Vec<_>>()
        })
        .collect())
}

/// Polls `done` every 2 ms until it holds; fails after [`TIMEOUT`].
pub async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> Result<bool>) -> Result<()> {
    let start = Instant::now();
    while !done().await? {
        if start.elapsed() > TIMEOUT {
            bail!("timed out after {TIMEOUT:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Stores envelopes on a running node (one durable transaction), as
/// `Local::write_change` does after sealing; with `gossip`, queues them for
/// peers as it does too (the caller then flushes).
pub async fn put_running(shared: &Arc<Shared>, items: Vec<([u8; 48], [u8; 32], Vec<u8>)>, gossip: bool) -> Result<()> {
    shared
        .with_local(move |l, _| {
            l.store
                .put_envelopes(items.iter().map(|(d, id, b)| (d, id, b.as_slice())))?;
            if gossip {
                for (_, _, bytes) in &items {
                    l.push_outbox(outpost_node::local::frame::wrap(
                        outpost_node::local::frame::ENVELOPE,
                        bytes,
                    ));
                }
            }
            Ok(())
        })
        .await
}

// ---------------------------------------------------------------------------
// Figures

/// Percentile `p` (0..=100) of sorted `xs`, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Latency figures, milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Spread {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Worst.
    pub max: f64,
}

impl Spread {
    pub fn of(mut xs: Vec<f64>) -> Spread {
        xs.sort_by(f64::total_cmp);
        Spread {
            n: xs.len(),
            p50: percentile(&xs, 50.0),
            p99: percentile(&xs, 99.0),
            max: xs.last().copied().unwrap_or(f64::NAN),
        }
    }

    pub fn json(&self) -> Value {
        json!({"samples": self.n, "p50_ms": self.p50, "p99_ms": self.p99, "max_ms": self.max})
    }
}

/// What ed25519 checks of each envelope: the signed message, the signature
/// and the author's key (decompressed once per author, as
/// `Envelope::decode_batch` does).
pub fn signatures(envs: &[Envelope]) -> Result<Vec<(Vec<u8>, Signature, VerifyingKey)>> {
    let mut keys = HashMap::new();
    envs.iter()
        .map(|e| {
            let (unsigned, sig) = e.bytes.split_at(e.bytes.len() - SIG_LEN);
            let key = match keys.get(&e.header.author.0) {
                Some(k) => *k,
                None => *keys
                    .entry(e.header.author.0)
                    .or_insert(e.header.author.verifying_key()?),
            };
            Ok((
                signed::signing_message(Kind::Envelope, unsigned),
                Signature::from_slice(sig)?,
                key,
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The bench target

/// How a bench target was asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `cargo test --benches`, or `-- --test`: smoke sizes, nothing written.
    Test,
    /// `-- --quick`, or `OUTPOST_BENCH_QUICK=1`: scaled down.
    Quick,
    /// `cargo bench`: the sizes of the targets.
    Full,
}

impl Mode {
    /// What the JSON says of the run.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Test => "test (smoke sizes; not figures to quote)",
            Mode::Quick => "quick (scaled down; not figures to quote)",
            Mode::Full => "bench",
        }
    }
}

fn has_arg(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Where benchmarks write: `$CARGO_TARGET_DIR/outpost-bench`, else the
/// workspace's `target/outpost-bench`.
pub fn bench_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("outpost-bench")
}

/// The `main` of a bench target: picks the mode from the arguments (and
/// does nothing for `--list`), runs `scenarios` on a multi-thread tokio
/// runtime, prints `table` of what they report and, except in test mode,
/// writes `json` of it to `target/outpost-bench/<name>.json`
/// (`<name>.quick.json` for a quick run). Exits with status 1 if the
/// scenarios fail.
pub fn main<R, F: Future<Output = Result<R>>>(
    name: &str,
    scenarios: impl FnOnce(Mode) -> F,
    table: impl Fn(&R) -> String,
    json: impl Fn(&R, &str) -> Value,
) {
    if has_arg("--list") {
        return;
    }
    let mode = if has_arg("--test") || !has_arg("--bench") {
        Mode::Test
    } else if has_arg("--quick") || std::env::var("OUTPOST_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0") {
        Mode::Quick
    } else {
        Mode::Full
    };
    // `RUST_LOG=outpost_node=debug` shows what the nodes log meanwhile
    // (e.g. which task held the store lock long).
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let report = match runtime.block_on(scenarios(mode)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name} benchmark failed: {e:#}");
            std::process::exit(1);
        }
    };
    print!("{}", table(&report));
    if mode == Mode::Test {
        return;
    }
    let dir = bench_dir();
    let file = if mode == Mode::Quick {
        format!("{name}.quick.json")
    } else {
        format!("{name}.json")
    };
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(&file), format!("{:#}\n", json(&report, mode.label()))));
    match written {
        Ok(()) => println!("written to {}", dir.join(&file).display()),
        Err(e) => eprintln!("cannot write {}: {e}", dir.join(&file).display()),
    }
}
