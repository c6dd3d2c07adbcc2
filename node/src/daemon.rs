//! `outpost up`: the node in the foreground — networking, anti-entropy,
//! gossip, and the local HTTP API — until Ctrl-C or SIGTERM.
//!
//! Every change is stored durably before it is acknowledged or gossiped;
//! shutting down only stops the loops, so nothing acknowledged is lost.

use crate::committer::{Committer, CommitterThread};
use crate::gate::OrgGate;
use crate::home::{Home, Passphrase};
use crate::local::{Local, frame};
use crate::sync::{held_scopes, ingest, lacks_deps, view_for};
use anyhow::{Context, Result, bail};
use libp2p::{Multiaddr, PeerId};
use outpost_identity::request::Bundle;
use outpost_net::{Client, Config as NetConfig, Event, Network, Proto, Topic};
use outpost_sync::Time;
use outpost_sync::message::SessionId;
use outpost_sync::session::{Config as SyncConfig, Output, Session, Stats};
use outpost_sync::view::{Item, MemView};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often each admitted peer is reconciled with, besides on connect (on
/// average: each round comes up to a quarter early or late).
pub const ANTI_ENTROPY_INTERVAL: Duration = Duration::from_secs(30);
/// Largest envelope pushed by gossip, in bytes: bigger ones (a pasted
/// file, a long import) reach peers by anti-entropy, so that one large
/// change does not hold up the small ones behind it on every link.
pub const GOSSIP_ENVELOPE_BYTES_MAX: usize = 64 * 1024;
/// Least time between two sync sessions with one peer started because its
/// gossip revealed changes this node lacks.
pub const PULL_INTERVAL_MIN: Duration = Duration::from_secs(3);
/// Holding the store lock longer than this is logged (debug), with what
/// held it: everything else on the node waits meanwhile.
const SLOW_LOCK: Duration = Duration::from_millis(50);
/// Least time between two sessions with one peer that confirm the delivery
/// of local writes (see `Shared::confirm`).
pub const CONFIRM_INTERVAL_MIN: Duration = Duration::from_secs(10);
/// How soon a pull that found a session running tries again.
const PULL_RETRY: Duration = Duration::from_millis(500);
/// How long stopping waits for the API's open requests to finish.
const API_DRAIN_MAX: Duration = Duration::from_secs(2);
/// Most responder sessions kept at once.
pub const RESPONDER_SESSIONS_MAX: usize = 256;
/// Most responder sessions kept at once for one peer (each holds a copy
/// of a sync view).
pub const RESPONDER_SESSIONS_PER_PEER_MAX: usize = 8;
/// Most sync requests of one peer answered at once; more are dropped
/// unanswered (the peer's session retries or ends).
pub const SYNC_ANSWERS_PER_PEER_MAX: usize = 4;
/// Most offences one delivery counts against the peer that sent it.
const OFFENCES_PER_DELIVERY_MAX: usize = 64;
/// How long start-up waits for every listen address to be reported before
/// it writes `api.json` (later changes rewrite it).
pub const LISTEN_WAIT_MAX: Duration = Duration::from_secs(2);
/// Most [`NodeEvent`]s kept for a slow subscriber; one that falls further
/// behind loses the oldest (`broadcast::error::RecvError::Lagged`).
pub const NODE_EVENTS_MAX: usize = 1024;

/// What happened on this node, for observers in the same process (the
/// benchmarks; later the web page's live stream). Subscribe with
/// [`Shared::subscribe`]; sending never blocks the node.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NodeEvent {
    /// Envelopes received from peers (by gossip or sync) and now stored
    /// durably here, hence visible to the API: their ids, in the order of
    /// one storing transaction. Local writes are not reported.
    Stored(Arc<[[u8; 32]]>),
    /// Authorisation ops received from peers were stored: keys that open
    /// envelopes stored earlier may have come with them.
    Ops(usize),
    /// Documents changed here, by this node's writers or by envelopes from
    /// peers now stored: (scope, document) ids.
    Changed(Arc<[([u8; 32], [u8; 16])]>),
    /// Someone has a document open (see [`crate::presence`]); beats of
    /// this node's own editors are reported too.
    Presence(Arc<crate::presence::Seen>),
    /// This member was sent a reminder (see [`crate::reminders`]): the
    /// notice, as the `remind` task action answers it.
    Reminder(Arc<serde_json::Value>),
    /// A sync session this node initiated with `peer` ended, with its
    /// counters (bytes and round trips of both directions).
    Synced {
        /// The peer.
        peer: PeerId,
        /// The session's counters.
        stats: Stats,
    },
}

/// Gossiped changes waiting to be stored, at most; more are dropped (and
/// come later by sync).
pub const GOSSIP_QUEUE_MAX: usize = 16_384;
/// Gossiped changes stored in one batch (one durable commit), at most.
pub const GOSSIP_BATCH_MAX: usize = 1024;
/// Gossiped changes passed on by one peer waiting to be stored, at most:
/// one peer cannot fill the whole queue.
pub const GOSSIP_QUEUE_PER_PEER_MAX: usize = 4096;

/// Stores gossiped changes as they queue up: everything waiting at once in
/// one batch (one verification pass and one durable commit), then pulls
/// from the peers whose changes revealed others this node lacks.
async fn gossip_batches(shared: Arc<Shared>, mut rx: tokio::sync::mpsc::Receiver<(PeerId, Item)>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < GOSSIP_BATCH_MAX {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        {
            let mut queued = shared.gossip_queued.lock().expect("never poisoned");
            for (peer, _) in &batch {
                if let Some(n) = queued.get_mut(peer) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        queued.remove(peer);
                    }
                }
            }
        }
        let checks: Vec<(PeerId, bool, Vec<[u8; 32]>)> = batch
            .iter()
            .filter_map(|(peer, item)| match item {
                Item::Op(o) if !o.deps.is_empty() => Some((*peer, true, o.deps.clone())),
                Item::Envelope(e) if !e.deps.is_empty() => Some((*peer, false, e.deps.clone())),
                _ => None,
            })
            .collect();
        shared
            .deliver(batch.into_iter().map(|(_, item)| item).collect(), false)
            .await;
        if checks.is_empty() {
            continue;
        }
        let lacking = shared
            .with_local(move |l, _| {
                let mut peers: Vec<PeerId> = Vec::new();
                for (peer, op, deps) in checks {
                    if !peers.contains(&peer) && lacks_deps(l, op, &deps)? {
                        peers.push(peer);
                    }
                }
                Ok(peers)
            })
            .await;
        match lacking {
            Ok(peers) => {
                for peer in peers {
                    shared.pull(peer, "its gossip revealed changes this node lacks");
                }
            }
            Err(e) => tracing::warn!("cannot check gossiped changes' dependencies: {e:#}"),
        }
    }
}

/// A sync document key as (scope, document) ids.
fn doc_ref(key: &outpost_sync::DocKey) -> ([u8; 32], [u8; 16]) {
    let mut scope = [0u8; 32];
    let mut doc = [0u8; 16];
    scope.copy_from_slice(&key.0[..32]);
    doc.copy_from_slice(&key.0[32..]);
    (scope, doc)
}

/// What `outpost up` was asked to do.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// libp2p listen addresses.
    pub listen: Vec<Multiaddr>,
    /// Peers to keep connected: dialled at start and redialled with
    /// backoff whenever they are not connected.
    pub peers: Vec<Multiaddr>,
    /// Relays to listen through (each `…/p2p/<relay id>`), so that others
    /// reach this node at `<relay>/p2p-circuit/p2p/<our id>`.
    pub relays: Vec<Multiaddr>,
    /// Relay connections between other admitted peers of the org.
    pub relay_server: bool,
    /// LAN discovery.
    pub mdns: bool,
    /// Where the HTTP API listens (loopback only).
    pub api: SocketAddr,
    /// The API over HTTPS on another address, if asked for.
    pub public_api: Option<PublicApi>,
}

/// The API over HTTPS on a public address (see [`crate::api::tls`]).
#[derive(Debug, Clone)]
pub struct PublicApi {
    /// Where it listens (any interface).
    pub addr: SocketAddr,
    /// The certificate chain, PEM.
    pub cert: std::path::PathBuf,
    /// The private key, PEM.
    pub key: std::path::PathBuf,
}

/// State shared by the loops and the API.
pub struct Shared {
    /// Gossiped changes on their way to [`gossip_batches`].
    gossip_in: tokio::sync::mpsc::Sender<(PeerId, Item)>,
    /// How many of them each peer passed on (at most
    /// [`GOSSIP_QUEUE_PER_PEER_MAX`]).
    gossip_queued: Mutex<HashMap<PeerId, usize>>,
    /// Sync requests being answered, per peer (at most
    /// [`SYNC_ANSWERS_PER_PEER_MAX`]).
    answering: Mutex<HashMap<PeerId, usize>>,
    /// Documents open in live editors, each with its latest snapshot.
    pub live: crate::api::live::Hub,
    /// The member's view of the org; one writer at a time.
    pub local: Mutex<Local>,
    /// The node's counters (the same as the `Local`'s).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Scoped tokens, rate limits and the webhook client.
    pub integrations: crate::api::integrations::Integrations,
    /// The key passphrase.
    pub pass: Passphrase,
    /// Admission.
    pub gate: Arc<OrgGate>,
    /// The network.
    pub client: Client,
    /// The API token.
    pub token: String,
    /// Encrypted files.
    pub blobs: crate::blobs::Blobs,
    /// The home directory.
    home_dir: std::path::PathBuf,
    /// The store, for reads that need no lock on [`Shared::local`] (the
    /// health check answers while a long request holds it).
    store: Arc<outpost_store::Store>,
    /// Sessions this node answers: the peer, the session, its view, when
    /// it was last used.
    responders: Mutex<HashMap<SessionId, Responder>>,
    events: tokio::sync::broadcast::Sender<NodeEvent>,
    started: Instant,
    /// [`Shared::started_at`].
    started_at: u64,
    listen: Mutex<Vec<Multiaddr>>,
    /// The scopes this node may hold now (`sync::held_scopes`): the
    /// gossip topics it follows, and the envelopes it keeps from gossip.
    held: Mutex<HashSet<[u8; 32]>>,
    /// Sync sessions this node initiated, per peer.
    pulls: Mutex<HashMap<PeerId, Pulls>>,
    /// Deferred writes made and made durable (shared with the `Local`).
    writes: Arc<crate::local::Writes>,
    /// The last anti-entropy session this node started with each peer:
    /// when it ended (ms since 1970) and its counters.
    pub last_syncs: Mutex<HashMap<PeerId, (u64, Stats)>>,
    /// When (seconds) this node last wrote through the API; at start, the
    /// start time (writes made just before by the CLI count too).
    last_write: std::sync::atomic::AtomicU64,
    /// Makes local writes durable, many at once (declared before its
    /// thread, so that the thread can end when both are dropped).
    committer: Committer,
    _committer_thread: CommitterThread,
}

/// A sync session this node answers: whose, the session, its view, and
/// when it was last used.
type Responder = (PeerId, Session, MemView, Instant);

/// Sync sessions this node initiated with one peer.
#[derive(Debug, Default)]
struct Pulls {
    /// How many are running.
    running: usize,
    /// When the last one started because gossip revealed unknown changes.
    last_revealed: Option<Instant>,
    /// A pull waits for [`PULL_INTERVAL_MIN`] to pass or the running
    /// session to end.
    deferred: bool,
    /// When the last session confirming local writes started.
    last_confirm: Option<Instant>,
    /// A session confirming local writes waits for its turn.
    confirm_waiting: bool,
}

/// Counts a running session in [`Shared::pulls`] until dropped.
struct Running {
    shared: Arc<Shared>,
    peer: PeerId,
}

impl Running {
    fn start(shared: &Arc<Shared>, peer: PeerId) -> Running {
        shared
            .pulls
            .lock()
            .expect("never poisoned")
            .entry(peer)
            .or_default()
            .running += 1;
        Running {
            shared: shared.clone(),
            peer,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut pulls = self.shared.pulls.lock().expect("never poisoned");
        if let Some(p) = pulls.get_mut(&self.peer) {
            p.running = p.running.saturating_sub(1);
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shared({})", self.client.peer_id)
    }
}

impl Shared {
    fn now(&self) -> Time {
        Time(self.started.elapsed().as_millis() as u64)
    }

    /// When this node started (seconds since 1970, on the node's clock).
    /// Gossip messages waiting to be ingested.
    pub fn gossip_queue_depth(&self) -> u64 {
        (self.gossip_in.max_capacity() - self.gossip_in.capacity()) as u64
    }

    /// The home directory the node runs on.
    pub fn home_dir(&self) -> &std::path::Path {
        &self.home_dir
    }

    /// Reads the store without waiting for [`Shared::local`] (on a
    /// blocking thread): for answers that must come even while the node's
    /// lock is held, such as the health check during a large node's start.
    pub async fn read_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&outpost_store::Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .context("the store read was cancelled")?
    }

    /// When the node started, in seconds since 1970.
    pub fn started_at(&self) -> u64 {
        self.started_at
    }

    /// Runs `f` on the local view in a blocking thread.
    pub async fn with_local<T: Send + 'static, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        F: FnOnce(&mut Local, &Passphrase) -> Result<T> + Send + 'static,
    {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || {
            let asked = Instant::now();
            let mut local = shared
                .local
                .lock()
                .expect("the local lock is never poisoned: nothing panics holding it");
            let got = Instant::now();
            let out = f(&mut local, &shared.pass);
            drop(local);
            let held = got.elapsed();
            if held > SLOW_LOCK {
                tracing::debug!(
                    "held the store lock {} ms (waited {} ms): {}",
                    held.as_millis(),
                    got.duration_since(asked).as_millis(),
                    std::any::type_name::<F>()
                );
            }
            out
        })
        .await
        .context("a storage task failed")?
    }

    /// Pushes what the last local changes produced to peers, and refreshes
    /// admission if the authorisation state changed.
    ///
    /// First it makes every local write so far durable: the API's writes
    /// are committed without waiting for the disk (under the local lock),
    /// and the writers then share one durable commit here, outside the
    /// lock, before anything is acknowledged.
    pub async fn flush(self: &Arc<Self>) -> Result<()> {
        // Every write made so far, the caller's included, is covered by the
        // commit below.
        let made = self.writes.made.load(std::sync::atomic::Ordering::SeqCst);
        let committer = self.committer.clone();
        tokio::task::spawn_blocking(move || committer.commit(Vec::new()))
            .await
            .context("a storage task failed")?
            .context("could not make the last changes durable; they are not saved")?;
        self.writes.durable_up_to(made);
        self.last_write
            .fetch_max(crate::now().0, std::sync::atomic::Ordering::SeqCst);
        self.publish().await
    }

    /// Pushes what the outbox holds to peers (without making anything
    /// durable first: see [`Shared::flush`]), and refreshes admission if
    /// the authorisation state changed.
    async fn publish(self: &Arc<Self>) -> Result<()> {
        // Writes made since the last shared commit (by handlers still on
        // their way to it) are made durable before their frames leave.
        let (frames, state) = self
            .with_local(|l, _| {
                l.ensure_durable()?;
                Ok((l.take_outbox(), l.state().cloned()))
            })
            .await?;
        let ops_changed = frames.iter().any(|f| f.first() == Some(&frame::OP));
        let mut changed = Vec::new();
        for f in frames {
            let topic = match f.split_first() {
                Some((&frame::OP, _)) => Topic::Org,
                Some((&frame::ENVELOPE, bytes)) => {
                    if f.len() > GOSSIP_ENVELOPE_BYTES_MAX {
                        tracing::info!(
                            "not gossiping a change of {} bytes (over {GOSSIP_ENVELOPE_BYTES_MAX}): anti-entropy carries it",
                            f.len()
                        );
                        continue;
                    }
                    // Our own store's bytes, verified when stored.
                    match outpost_seal::Envelope::decode_stored(bytes) {
                        Ok(e) => {
                            changed.push((e.header.scope.0, e.header.doc.0));
                            Topic::Scope(e.header.scope.0)
                        }
                        Err(e) => {
                            tracing::warn!("not gossiping an envelope that does not decode: {e}");
                            continue;
                        }
                    }
                }
                _ => {
                    tracing::warn!("not gossiping a frame of unknown kind");
                    continue;
                }
            };
            let _ = self.client.publish(topic, f).await;
        }
        if !changed.is_empty() {
            changed.sort();
            changed.dedup();
            let _ = self.events.send(NodeEvent::Changed(changed.into()));
        }
        if ops_changed && let Some(state) = state {
            self.gate.update(state);
            let _ = self.client.recheck().await;
            self.follow_held_scopes().await;
        }
        Ok(())
    }

    /// Follows the gossip topics of the scopes this node may hold now (its
    /// own certificate against the authorisation state, the rule of
    /// `view_for`); when that adds scopes, syncs with every peer, since
    /// their changes may have been pushed before we followed them.
    async fn follow_held_scopes(self: &Arc<Self>) {
        let scopes = self
            .with_local(|l, _| {
                let Some(state) = l.state() else { return Ok(Vec::new()) };
                Ok(match state.role_of(&l.member, crate::now()) {
                    Some((_, cert)) => held_scopes(state, cert).into_iter().map(|s| s.0).collect(),
                    None => Vec::new(),
                })
            })
            .await;
        let scopes: Vec<[u8; 32]> = match scopes {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot tell which scopes this node holds: {e:#}");
                return;
            }
        };
        let now: HashSet<[u8; 32]> = scopes.iter().copied().collect();
        let added = {
            let mut held = self.held.lock().expect("never poisoned");
            let added = now.difference(&held).count();
            *held = now;
            added
        };
        let _ = self.client.follow(scopes).await;
        if added > 0 {
            for (peer, _) in self.client.peers().await.unwrap_or_default() {
                self.pull(peer, "this node may now hold more scopes");
            }
        }
    }

    /// Syncs soon with every admitted peer, so that local writes are
    /// confirmed as delivered ([`Local::note_delivered`]) without waiting
    /// for the round; see [`Shared::confirm`].
    pub fn confirm_delivery(self: &Arc<Self>) {
        let s = self.clone();
        tokio::spawn(async move {
            for (peer, _) in s.client.peers().await.unwrap_or_default() {
                if s.gate.admitted(&peer).is_some() {
                    s.confirm(peer);
                }
            }
        });
    }

    /// Starts a session with `peer` that confirms local writes: just after
    /// the current second ends (delivery is recorded to the second before a
    /// session starts, so this one covers writes made until now), and at
    /// most once per [`CONFIRM_INTERVAL_MIN`]: a session builds its view
    /// under the node's lock, and one per write would hold up everything
    /// else while messages flow. One asked for meanwhile waits its turn.
    fn confirm(self: &Arc<Self>, peer: PeerId) {
        let wait = {
            let mut pulls = self.pulls.lock().expect("never poisoned");
            let p = pulls.entry(peer).or_default();
            if p.confirm_waiting {
                return;
            }
            p.confirm_waiting = true;
            let turn = p
                .last_confirm
                .map_or(Duration::ZERO, |at| CONFIRM_INTERVAL_MIN.saturating_sub(at.elapsed()));
            let into_second = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_millis());
            turn.max(Duration::from_millis(u64::from(1050 - into_second)))
        };
        let s = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(p) = s.pulls.lock().expect("never poisoned").get_mut(&peer) {
                p.confirm_waiting = false;
                p.last_confirm = Some(Instant::now());
            }
            if let Err(e) = s.session(peer, false).await {
                tracing::debug!("{e:#}")
            }
        });
    }

    /// Fetches the blob `id` from admitted peers: its manifest, then each
    /// chunk this node lacks, checked and stored as it arrives (so an
    /// interrupted fetch resumes where it stopped), several at once, from
    /// the next peer when one fails. `progress` hears (chunks held, total).
    pub async fn fetch_blob(
        self: &Arc<Self>,
        id: outpost_seal::blob::BlobId,
        progress: impl Fn(usize, usize),
    ) -> Result<outpost_seal::blob::Manifest> {
        use crate::blobs::{BlobRequest, answered};
        use futures::StreamExt;
        /// Chunks in flight at once (asked for, or being checked and stored).
        const IN_FLIGHT: usize = 4;
        /// Rounds over the peers: a request can fail on a busy or flaky link
        /// (a timeout, a connection closing), so what is still missing is
        /// asked for again, after a short pause, before giving up.
        const PASSES: u64 = 3;
        let blobs = self.blobs.clone();
        let peers: Vec<PeerId> = self
            .client
            .peers()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| self.gate.admitted(p).is_some())
            .collect();
        let held = {
            let b = blobs.clone();
            tokio::task::spawn_blocking(move || b.manifest(&id)).await??
        };
        let mut manifest = held;
        for peer in &peers {
            if manifest.is_some() {
                break;
            }
            let Ok(answer) = self
                .client
                .request(Proto::Blob, *peer, BlobRequest::Manifest(id).encode())
                .await
            else {
                continue;
            };
            if let Some(m) = answered(&answer).and_then(|b| outpost_seal::blob::Manifest::decode(b).ok())
                && m.id() == id
            {
                let b = blobs.clone();
                let stored = m.clone();
                tokio::task::spawn_blocking(move || b.put_manifest(&stored)).await??;
                manifest = Some(m);
            }
        }
        let manifest =
            manifest.context("no connected peer has this file; it is fetched once one that has it connects")?;
        let total = manifest.chunks.len();
        let mut missing = {
            let (b, m) = (blobs.clone(), manifest.clone());
            tokio::task::spawn_blocking(move || b.missing(&m)).await?
        };
        if !missing.is_empty() {
            tracing::info!(
                "fetching {} of {total} chunks of file {}",
                missing.len(),
                hex::encode(&id.0[..8])
            );
        }
        progress(total - missing.len(), total);
        for pass in 0..PASSES {
            if missing.is_empty() {
                break;
            }
            if pass > 0 {
                tokio::time::sleep(Duration::from_millis(250 * pass)).await;
            }
            for peer in &peers {
                if missing.is_empty() {
                    break;
                }
                // Each chunk is stored inside its own future, so that the other
                // requests in flight go on while one is checked and synced.
                let fetched = futures::stream::iter(missing.clone())
                    .map(|i| {
                        let client = self.client.clone();
                        let (b, m) = (blobs.clone(), manifest.clone());
                        async move {
                            let answer = client
                                .request(Proto::Blob, *peer, BlobRequest::Chunk(id, i).encode())
                                .await
                                .inspect_err(|e| tracing::debug!(%peer, chunk = i, "a chunk request failed: {e}"));
                            let Some(bytes) = answer.ok().as_deref().and_then(answered).map(<[u8]>::to_vec) else {
                                return (i, None);
                            };
                            (
                                i,
                                Some(tokio::task::spawn_blocking(move || b.put_chunk(&m, i, &bytes)).await),
                            )
                        }
                    })
                    .buffer_unordered(IN_FLIGHT);
                futures::pin_mut!(fetched);
                while let Some((i, stored)) = fetched.next().await {
                    let Some(stored) = stored else {
                        continue;
                    };
                    match stored? {
                        Ok(()) => {
                            missing.retain(|x| *x != i);
                            progress(total - missing.len(), total);
                        }
                        Err(e) => tracing::warn!(%peer, "refusing a chunk: {e:#}"),
                    }
                }
            }
        }
        if !missing.is_empty() {
            bail!(
                "{} of {total} chunks of this file could not be had from any connected peer ({PASSES} tries each); fetching again resumes with them",
                missing.len()
            );
        }
        Ok(manifest)
    }

    /// Starts a sync session with `peer` after `delay`.
    fn sync_later(self: &Arc<Self>, peer: PeerId, delay: Duration) {
        let s = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(e) = s.session(peer, false).await {
                tracing::debug!("{e:#}")
            }
        });
    }

    /// Starts a sync session with `peer` unless one is running or one was
    /// started for this reason less than [`PULL_INTERVAL_MIN`] ago; then it
    /// waits for its turn (once per peer) instead.
    fn pull(self: &Arc<Self>, peer: PeerId, why: &str) -> bool {
        {
            let mut pulls = self.pulls.lock().expect("never poisoned");
            let p = pulls.entry(peer).or_default();
            let wait = match p.last_revealed {
                Some(at) if at.elapsed() < PULL_INTERVAL_MIN => Some(PULL_INTERVAL_MIN - at.elapsed()),
                _ if p.running > 0 => Some(PULL_RETRY),
                _ => None,
            };
            if let Some(wait) = wait {
                // One pull waits for its turn: what revealed it may have
                // come after the running session took its view.
                if !p.deferred {
                    p.deferred = true;
                    let s = self.clone();
                    let why = why.to_owned();
                    tokio::spawn(async move {
                        tokio::time::sleep(wait).await;
                        if let Some(p) = s.pulls.lock().expect("never poisoned").get_mut(&peer) {
                            p.deferred = false;
                        }
                        s.pull(peer, &why);
                    });
                }
                return false;
            }
            p.last_revealed = Some(Instant::now());
        }
        tracing::info!(%peer, "syncing with peer: {why}");
        let s = self.clone();
        tokio::spawn(async move {
            if let Err(e) = s.sync_with(peer).await {
                tracing::debug!("{e:#}")
            }
        });
        true
    }

    /// Checks and stores one gossip frame; if it depends on changes this
    /// node lacks, pulls them from the peer that passed it on.
    async fn on_gossip(self: &Arc<Self>, peer: PeerId, topic: Topic, data: Vec<u8>) {
        if self.gate.admitted(&peer).is_none() {
            tracing::warn!(%peer, "dropping gossip from a peer that is not admitted");
            return;
        }
        let item = match (data.split_first(), topic) {
            (Some((&frame::OP, bytes)), Topic::Org) => match outpost_identity::SignedOp::decode(bytes) {
                Ok(op) => Item::Op(outpost_sync::view::Op {
                    id: op.id.0,
                    deps: crate::sync::op_deps(&op),
                    bytes: op.bytes,
                }),
                Err(e) => return tracing::warn!(%peer, "dropping an invalid op from gossip: {e}"),
            },
            (Some((&frame::ENVELOPE, bytes)), Topic::Scope(_) | Topic::Overflow) => {
                // Parsed only, to route it: `ingest` verifies the
                // signature with the rest of its batch.
                let e = match outpost_seal::Envelope::decode_stored(bytes) {
                    Ok(e) => e,
                    Err(e) => return tracing::warn!(%peer, "dropping an invalid envelope from gossip: {e}"),
                };
                let scope = e.header.scope.0;
                if topic != Topic::Overflow && topic != Topic::Scope(scope) {
                    return tracing::warn!(
                        %peer,
                        "dropping an envelope of scope {} that came on the topic of another ({topic:?})",
                        hex::encode(scope)
                    );
                }
                if !self.held.lock().expect("never poisoned").contains(&scope) {
                    // The overflow topic carries every scope (so this is
                    // routine there); a scope topic just left may still
                    // deliver a message.
                    if topic == Topic::Overflow {
                        return tracing::debug!(%peer, "dropping an envelope of scope {} this node does not hold", hex::encode(scope));
                    }
                    return tracing::info!(%peer, "dropping an envelope of scope {} this node does not hold", hex::encode(scope));
                }
                Item::Envelope(outpost_sync::view::Envelope {
                    id: e.id.0,
                    doc: outpost_sync::DocKey::new(scope, e.header.doc.0),
                    deps: e.header.deps.iter().map(|d| d.0).collect(),
                    bytes: e.bytes,
                })
            }
            (Some((&frame::PRESENCE, bytes)), Topic::Scope(scope)) => {
                let bytes = bytes.to_vec();
                let seen = self
                    .with_local(move |l, pass| l.open_presence(scope, &bytes, pass))
                    .await;
                return match seen {
                    Ok(Some(seen)) => {
                        let _ = self.events.send(NodeEvent::Presence(Arc::new(seen)));
                    }
                    Ok(None) => {}
                    Err(e) => tracing::debug!(%peer, "dropping a presence beat: {e:#}"),
                };
            }
            (Some((&kind, _)), _) => {
                return tracing::warn!(%peer, "dropping a gossip frame of kind {kind} on {topic:?}, where it does not belong");
            }
            (None, _) => return tracing::warn!(%peer, "dropping an empty gossip frame"),
        };
        // Stored in batches by `gossip_batches`: one durable commit for
        // whatever arrived meanwhile, not one per message.
        {
            let mut queued = self.gossip_queued.lock().expect("never poisoned");
            let n = queued.entry(peer).or_default();
            if *n >= GOSSIP_QUEUE_PER_PEER_MAX {
                self.metrics
                    .gossip_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return tracing::warn!(%peer, "dropping a gossiped change: {GOSSIP_QUEUE_PER_PEER_MAX} from this peer wait to be stored (sync brings it later)");
            }
            *n += 1;
        }
        match self.gossip_in.try_send((peer, item)) {
            Ok(()) => {}
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                self.unqueue(peer);
                self.metrics
                    .gossip_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(%peer, "dropping a gossiped change: {GOSSIP_QUEUE_MAX} wait to be stored (sync brings it later)");
            }
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => self.unqueue(peer),
        }
    }

    /// Takes back one change counted in [`Shared::gossip_queued`] that did
    /// not enter the queue.
    fn unqueue(&self, peer: PeerId) {
        let mut queued = self.gossip_queued.lock().expect("never poisoned");
        if let Some(n) = queued.get_mut(&peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                queued.remove(&peer);
            }
        }
    }

    /// Counts against `peer` the items of one delivery it sent that were
    /// refused ([`outpost_net::limits`]).
    fn offend_for(&self, peer: PeerId, refused: &[outpost_net::Offence]) {
        for offence in refused.iter().take(OFFENCES_PER_DELIVERY_MAX) {
            self.client.offend(peer, *offence);
        }
    }

    /// Sends this member's presence in document `doc` to the document's
    /// other readers, and to this node's own event stream.
    pub async fn send_presence(
        self: &Arc<Self>,
        doc: outpost_seal::replica::DocKey,
        beat: crate::presence::Beat,
    ) -> Result<()> {
        let (frame, seen) = self
            .with_local(move |l, pass| l.presence_frame(doc, &beat, pass))
            .await?;
        let _ = self.events.send(NodeEvent::Presence(Arc::new(seen)));
        // No peer in the mesh yet is not an error: nobody else is there.
        let _ = self.client.publish(Topic::Scope(doc.0.0), frame).await;
        Ok(())
    }

    /// Events from now on (see [`NodeEvent`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    /// Our listen addresses, with our peer id: the live set, updated as
    /// listeners (a relay reservation, QUIC) come and go.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.listen.lock().expect("never poisoned").clone()
    }

    /// Stores delivered items and refreshes what depends on them;
    /// `learnt_by_sync` items new to this node are passed on by gossip.
    async fn deliver(self: &Arc<Self>, items: Vec<Item>, learnt_by_sync: bool) -> Vec<outpost_net::Offence> {
        if items.is_empty() {
            return Vec::new();
        }
        let docs: HashMap<[u8; 32], ([u8; 32], [u8; 16])> = items
            .iter()
            .filter_map(|i| match i {
                Item::Envelope(e) => Some((e.id, doc_ref(&e.doc))),
                Item::Op(_) => None,
            })
            .collect();
        let mut arrived: Vec<outpost_seal::replica::DocKey> = docs
            .values()
            .map(|(scope, doc)| (outpost_identity::OpId(*scope), outpost_seal::envelope::DocId(*doc)))
            .collect();
        arrived.sort();
        arrived.dedup();
        let result = self
            .with_local(move |l, pass| {
                let counts = ingest(l, items, learnt_by_sync)?;
                if counts.ops > 0 {
                    // New members may need keys this node holds.
                    if let Err(e) = l.steward_keys(pass, crate::now()) {
                        tracing::debug!("key stewardship skipped: {e:#}");
                    }
                }
                if !counts.envelopes.is_empty() {
                    // Decisions from peers may complete a request whose
                    // task falls to this member to create.
                    if let Err(e) = crate::approvals::follow_up(l, pass, &arrived, crate::now()) {
                        tracing::warn!("following up approval requests failed: {e:#}");
                    }
                }
                Ok(counts)
            })
            .await;
        let mut refused = Vec::new();
        match result {
            Ok(mut counts) => {
                refused = std::mem::take(&mut counts.refused);
                tracing::debug!(
                    "stored {} op(s) and {} envelope(s) from peers",
                    counts.ops,
                    counts.envelopes.len()
                );
                if counts.ops > 0 {
                    let _ = self.events.send(NodeEvent::Ops(counts.ops));
                }
                if !counts.envelopes.is_empty() {
                    let mut changed: Vec<_> = counts.envelopes.iter().filter_map(|id| docs.get(id).copied()).collect();
                    changed.sort();
                    changed.dedup();
                    // No subscriber is not an error.
                    let _ = self.events.send(NodeEvent::Stored(counts.envelopes.into()));
                    let _ = self.events.send(NodeEvent::Changed(changed.into()));
                }
            }
            Err(e) => tracing::warn!("storing items from a peer failed: {e:#}"),
        }
        // Envelopes that came by gossip are not gossiped again (the mesh
        // carries them); envelopes learnt by sync and ops new to this node
        // (from peers or our own key stewardship) are. What came from peers
        // is durable already: nothing to sync.
        let _ = self.publish().await;
        refused
    }

    /// One anti-entropy session with `peer`, as initiator; returns its
    /// counters once it ended (also sent as [`NodeEvent::Synced`]).
    pub async fn sync_with(self: &Arc<Self>, peer: PeerId) -> Result<Stats> {
        self.session(peer, true).await
    }

    /// [`Shared::sync_with`]; with `follow_up`, a session that started in
    /// the second of a local write is followed by one more (writes of that
    /// second are confirmed only by a session started after it).
    async fn session(self: &Arc<Self>, peer: PeerId, follow_up: bool) -> Result<Stats> {
        let _running = Running::start(self, peer);
        let principal = self.gate.admitted(&peer);
        let offered = principal.clone();
        let started = crate::now();
        let mut complete = true;
        let mut view = self.with_local(move |l, _| view_for(l, principal.as_ref())).await?;
        let mut salt = [0u8; 16];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut salt);
        let (mut session, mut outputs) = Session::initiate(&view, SyncConfig::default(), salt, self.now());
        loop {
            let mut next = None;
            let mut items = Vec::new();
            for out in outputs {
                match out {
                    Output::Send(msg) => next = Some(msg),
                    Output::Deliver(item) => items.push(item),
                    Output::Done(stats) => tracing::debug!(%peer, "sync done: {stats:?}"),
                    Output::Failed(why) => {
                        complete = false;
                        tracing::info!(%peer, "sync ended early: {why:?}")
                    }
                }
            }
            for item in &items {
                let _ = view.insert(item.clone());
            }
            let refused = self.deliver(items, true).await;
            self.offend_for(peer, &refused);
            let Some(msg) = next else {
                let stats = session.stats().clone();
                let ended = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                {
                    use std::sync::atomic::Ordering::Relaxed;
                    self.metrics.sync_sessions.fetch_add(1, Relaxed);
                    self.metrics
                        .sync_envelopes_sent
                        .fetch_add(stats.envelopes_sent, Relaxed);
                    self.metrics.sync_bytes_sent.fetch_add(stats.bytes_sent, Relaxed);
                    self.metrics
                        .sync_bytes_received
                        .fetch_add(stats.bytes_received, Relaxed);
                }
                self.last_syncs
                    .lock()
                    .expect("never poisoned")
                    .insert(peer, (ended, stats.clone()));
                if complete && let Some(cert) = offered {
                    // The peer now holds everything of its scopes that this
                    // node held when the session started.
                    let noted = self
                        .with_local(move |l, _| {
                            l.note_delivered(&cert, outpost_identity::Timestamp(started.0.saturating_sub(1)))
                        })
                        .await;
                    if let Err(e) = noted {
                        tracing::warn!("could not record what {peer} holds: {e:#}");
                    }
                    // Delivery is recorded to the second before the session
                    // started (envelope times are in seconds): writes of that
                    // second are confirmed by one more session after it.
                    if follow_up && self.last_write.load(std::sync::atomic::Ordering::SeqCst) >= started.0 {
                        self.sync_later(peer, Duration::from_millis(1100));
                    }
                }
                let _ = self.events.send(NodeEvent::Synced {
                    peer,
                    stats: stats.clone(),
                });
                return Ok(stats);
            };
            match self.client.request(Proto::Sync, peer, msg.encode()).await {
                Ok(resp) => outputs = session.handle_bytes(&view, &resp, self.now()),
                Err(e) => {
                    outputs = session.tick(&view, self.now());
                    if outputs.is_empty() {
                        anyhow::bail!("sync request to {peer} failed: {e}");
                    }
                }
            }
        }
    }

    /// Answers one sync request as responder.
    async fn answer(self: &Arc<Self>, peer: PeerId, data: Vec<u8>) -> Vec<u8> {
        let msg = match outpost_sync::message::Message::decode(&data) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::warn!(%peer, "dropping a malformed sync frame of {} bytes: {e}", data.len());
                self.client.offend(peer, outpost_net::Offence::Malformed);
                return Vec::new();
            }
        };
        let id = msg.session();
        let existing = {
            let mut responders = self.responders.lock().expect("never poisoned");
            // Only the peer that started a session continues it.
            match responders.get(&id) {
                Some((owner, ..)) if *owner == peer => responders.remove(&id),
                _ => None,
            }
        };
        let (mut session, mut view) = match existing {
            Some((_, s, v, _)) => (s, v),
            None => {
                let principal = self.gate.admitted(&peer);
                match self.with_local(move |l, _| view_for(l, principal.as_ref())).await {
                    Ok(v) => (Session::accept(SyncConfig::default(), self.now()), v),
                    Err(e) => {
                        tracing::warn!("cannot answer a sync request: {e:#}");
                        return Vec::new();
                    }
                }
            }
        };
        let outputs = session.handle_message(&view, msg, self.now());
        let mut reply = Vec::new();
        let mut items = Vec::new();
        for out in outputs {
            match out {
                Output::Send(m) => reply = m.encode(),
                Output::Deliver(item) => items.push(item),
                _ => {}
            }
        }
        for item in &items {
            let _ = view.insert(item.clone());
        }
        let refused = self.deliver(items, true).await;
        self.offend_for(peer, &refused);
        if !session.is_finished() {
            let mut responders = self.responders.lock().expect("never poisoned");
            responders.retain(|_, (.., at)| at.elapsed() < Duration::from_secs(300));
            let of_peer = responders.values().filter(|(owner, ..)| *owner == peer).count();
            if responders.len() < RESPONDER_SESSIONS_MAX && of_peer < RESPONDER_SESSIONS_PER_PEER_MAX {
                responders.insert(id, (peer, session, view, Instant::now()));
            } else {
                tracing::debug!(%peer, "not keeping a sync session: {of_peer} of this peer's are kept");
            }
        }
        reply
    }
}

fn ip_is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Runs the node until `shutdown` resolves.
pub async fn run(
    home: Home,
    pass: Passphrase,
    config: DaemonConfig,
    shutdown: impl std::future::Future<Output = ()>,
    ready: impl FnOnce(&Arc<Shared>),
) -> Result<()> {
    if !ip_is_loopback(&config.api) {
        anyhow::bail!(
            "refusing to serve the API on {} without TLS: --api takes a loopback address (127.0.0.1 or ::1); for other machines add --public-api ADDR with --tls-cert and --tls-key",
            config.api
        );
    }
    // Checked before anything starts, so a bad certificate stops nothing.
    let public_tls = match &config.public_api {
        Some(p) => Some((p.addr, crate::api::tls::acceptor(&p.cert, &p.key)?)),
        None => None,
    };
    let mut local = Local::open(home.clone())?;
    let now = crate::now();
    local.ensure_device_cert(&pass, now)?;
    // Read the keys the node uses once, now: a passphrase changed while
    // the node runs (`outpost passphrase change`) then leaves it working.
    local.member_keys(&pass)?;
    local.storage_key(&pass)?;
    if let Err(e) = crate::backup::after_restore(&mut local, &pass) {
        tracing::warn!("this home was restored from a backup, but the restore was not recorded: {e:#}");
    }
    let state = local.require_org()?.clone();
    // A relay has no person behind it and may certify no device: it acts
    // under its own role certificate, with that certificate's key (the
    // home's member key) as its network identity. Every other node acts
    // through its device key and device certificate.
    let relay = state
        .role_of(&local.member, now)
        .is_some_and(|(_, c)| c.role == outpost_identity::Role::Relay);
    let (identity, secret) = if relay {
        (local.member, home.member_keys(&pass)?.signing.secret())
    } else {
        (local.device, home.device_key(&pass)?.0.secret())
    };
    // A live certificate of this node: its device certificate, or its own
    // role certificate for a node certified directly by the org.
    let device_cert = state
        .ops()
        .filter(|o| match &o.op.body {
            outpost_identity::Body::Device(d) => d.device == identity,
            outpost_identity::Body::Grant(c) => c.subject == identity,
            _ => false,
        })
        .map(|o| o.id)
        .find(|id| state.status(id, now).is_live() && state.device_principal(&identity, now).is_some())
        .context("this device has no valid certificate: install your certificate first (outpost cert install)")?;
    let hello = local.bundle_of(device_cert)?.encode();
    let _: Bundle = Bundle::decode(&hello)
        .map(|(b, _)| b)
        .context("our own bundle must decode")?;
    let keypair =
        libp2p::identity::Keypair::ed25519_from_bytes(*secret).context("the node's key is not a valid ed25519 key")?;
    let gate = Arc::new(OrgGate::new(state.clone(), hello));
    let mut net_config = NetConfig::for_org(&state.org().to_string());
    if !config.listen.is_empty() {
        net_config.listen = config.listen.clone();
    }
    net_config.bootstrap = config.peers.clone();
    net_config.relays = config.relays.clone();
    net_config.relay_server = config.relay_server;
    net_config.mdns = config.mdns;
    let listeners = net_config.listen.len();
    let (network, client, mut events) = Network::new(keypair, net_config, gate.clone())?;
    let net_task = tokio::spawn(network.run());

    let token = {
        let mut t = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut t);
        hex::encode(t)
    };
    local.defer_durability = true;
    let (committer, committer_thread) = Committer::start(local.store.clone());
    let writes = local.writes.clone();
    let (gossip_in, gossip_out) = tokio::sync::mpsc::channel(GOSSIP_QUEUE_MAX);
    let metrics = local.metrics.clone();
    let shared = Arc::new(Shared {
        committer,
        _committer_thread: committer_thread,
        last_syncs: Mutex::new(HashMap::new()),
        last_write: std::sync::atomic::AtomicU64::new(crate::now().0),
        writes,
        blobs: crate::blobs::Blobs::new(local.home.dir()),
        home_dir: local.home.dir().to_owned(),
        store: local.store.clone(),
        local: Mutex::new(local),
        pass,
        gate,
        client: client.clone(),
        token: token.clone(),
        responders: Mutex::new(HashMap::new()),
        events: tokio::sync::broadcast::channel(NODE_EVENTS_MAX).0,
        started: Instant::now(),
        started_at: crate::now().0,
        listen: Mutex::new(Vec::new()),
        held: Mutex::new(HashSet::new()),
        pulls: Mutex::new(HashMap::new()),
        live: crate::api::live::Hub::default(),
        integrations: crate::api::integrations::Integrations::default(),
        metrics,
        gossip_in,
        gossip_queued: Mutex::new(HashMap::new()),
        answering: Mutex::new(HashMap::new()),
    });
    match shared.with_local(|l, _| Ok((l.api_tokens()?, l.webhooks()?))).await {
        Ok((tokens, hooks)) => {
            shared.integrations.set_tokens(tokens);
            shared.integrations.set_hooks(hooks);
        }
        Err(e) => tracing::warn!("scoped API tokens and webhooks are not in use: {e:#}"),
    }
    tokio::spawn(crate::api::integrations::dispatch(shared.clone()));
    tokio::spawn(gossip_batches(shared.clone(), gossip_out));
    tokio::spawn(send_reminders(shared.clone()));
    tokio::spawn(crate::backup::daemon::scheduled(shared.clone()));
    shared.follow_held_scopes().await;
    let listener = tokio::net::TcpListener::bind(config.api)
        .await
        .with_context(|| format!("cannot listen for the API on {}", config.api))?;
    let api_addr = listener.local_addr()?;
    // Wait (briefly) for every transport to report an address; later
    // changes arrive as events and rewrite api.json.
    let started = Instant::now();
    loop {
        let addrs = client.listen_addrs().await.unwrap_or_default();
        let enough = addrs.len() >= listeners;
        *shared.listen.lock().expect("never poisoned") = addrs;
        if enough || started.elapsed() > LISTEN_WAIT_MAX {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let public = match public_tls {
        Some((addr, acceptor)) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for the HTTPS API on {addr}"))?;
            let bound = listener.local_addr()?;
            tracing::info!("serving the API over HTTPS on {bound}");
            Some((listener, acceptor, bound))
        }
        None => None,
    };
    let public_url = public.as_ref().map(|(_, _, bound)| format!("https://{bound}"));
    let api_file = home.dir().join("api.json");
    let api_url = format!("http://{api_addr}");
    let write_api_file = |listen: &[Multiaddr]| {
        let info = serde_json::json!({
            "url": api_url,
            "token": token,
            "peer_id": client.peer_id.to_string(),
            "listen": listen.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "pid": std::process::id(),
            "public_url": public_url,
        });
        crate::home::write_private(&api_file, format!("{info:#}\n").as_bytes())
    };
    write_api_file(&shared.listen_addrs())?;
    let router = crate::api::router(shared.clone());
    let (stop_public, public_stopped) = tokio::sync::watch::channel(false);
    if let Some((listener, acceptor, _)) = public {
        tokio::spawn(crate::api::tls::serve(
            listener,
            acceptor,
            router.clone(),
            public_stopped,
        ));
    }
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let api_task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = api_stopped.await;
            })
            .await;
    });
    ready(&shared);
    tracing::info!("node up: API on http://{api_addr}, peer id {}", client.peer_id);

    // The first round is one interval away: peers admitted while the node
    // was starting are synced with on admission already, and an immediate
    // round would start a second full session with each of them.
    // Each round comes a random quarter early or late, so that nodes
    // started together do not all build their sync views at one moment.
    let round = || ANTI_ENTROPY_INTERVAL.mul_f64(rand::random_range(0.75..1.25));
    let anti_entropy = tokio::time::sleep(round());
    tokio::pin!(anti_entropy);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = &mut anti_entropy => {
                anti_entropy.as_mut().reset(tokio::time::Instant::now() + round());
                // Certificates also end by expiry, with no op to announce it.
                let _ = client.recheck().await;
                shared.follow_held_scopes().await;
                for (peer, _) in client.peers().await.unwrap_or_default() {
                    let s = shared.clone();
                    tokio::spawn(async move { if let Err(e) = s.sync_with(peer).await { tracing::debug!("{e:#}") } });
                }
            }
            event = events.recv() => match event {
                None => break,
                Some(Event::Admitted(peer)) => {
                    let s = shared.clone();
                    tokio::spawn(async move { if let Err(e) = s.sync_with(peer).await { tracing::info!("{e:#}") } });
                }
                Some(Event::Gossip { peer, topic, data }) => shared.on_gossip(peer, topic, data).await,
                Some(Event::Request { proto: Proto::Blob, peer, data, channel }) => {
                    let s = shared.clone();
                    tokio::spawn(async move {
                        let blobs = s.blobs.clone();
                        let reply = tokio::task::spawn_blocking(move || blobs.answer(&data)).await.unwrap_or_else(|_| vec![1]);
                        tracing::trace!(%peer, "answered a blob request with {} bytes", reply.len());
                        let _ = s.client.respond(Proto::Blob, channel, reply).await;
                    });
                }
                Some(Event::Request { proto: Proto::Sync, peer, data, channel }) => {
                    let busy = {
                        let mut answering = shared.answering.lock().expect("never poisoned");
                        let n = answering.entry(peer).or_default();
                        let busy = *n >= SYNC_ANSWERS_PER_PEER_MAX;
                        if !busy {
                            *n += 1;
                        }
                        busy
                    };
                    if busy {
                        // Dropping the channel closes the stream unanswered.
                        tracing::warn!(%peer, "dropping a sync request: {SYNC_ANSWERS_PER_PEER_MAX} of this peer's are being answered");
                        continue;
                    }
                    let s = shared.clone();
                    tokio::spawn(async move {
                        let reply = s.answer(peer, data).await;
                        {
                            let mut answering = s.answering.lock().expect("never poisoned");
                            if let Some(n) = answering.get_mut(&peer) {
                                *n = n.saturating_sub(1);
                                if *n == 0 {
                                    answering.remove(&peer);
                                }
                            }
                        }
                        let _ = s.client.respond(Proto::Sync, channel, reply).await;
                    });
                }
                Some(Event::Refused(peer, why)) => tracing::warn!(%peer, "peer refused: {why}"),
                Some(Event::ListenAddrs(addrs)) => {
                    let changed = {
                        let mut listen = shared.listen.lock().expect("never poisoned");
                        let changed = *listen != addrs;
                        *listen = addrs.clone();
                        changed
                    };
                    if changed && let Err(e) = write_api_file(&addrs) {
                        tracing::warn!("cannot update api.json with the new listen addresses: {e:#}");
                    }
                }
                Some(Event::Gone(peer)) => {
                    tracing::info!(%peer, "peer gone");
                    let mut pulls = shared.pulls.lock().expect("never poisoned");
                    if pulls.get(&peer).is_some_and(|p| p.running == 0) {
                        pulls.remove(&peer);
                    }
                }
            }
        }
    }
    let _ = stop_api.send(());
    let _ = stop_public.send(true);
    // Requests in progress finish; open event streams never end by
    // themselves, so after a moment the API stops anyway.
    let mut api_task = api_task;
    if tokio::time::timeout(API_DRAIN_MAX, &mut api_task).await.is_err() {
        tracing::info!("closing the API's open connections (event streams) to stop");
        api_task.abort();
    }
    let _ = std::fs::remove_file(&api_file);
    drop(client);
    // Whatever was written and not yet acknowledged reaches the disk too.
    let synced = match shared.local.lock() {
        Ok(l) => l.store.sync(),
        Err(_) => Ok(()),
    };
    if let Err(e) = synced {
        tracing::warn!("could not make the last writes durable at shutdown: {e}");
    }
    drop(shared);
    net_task.abort();
    Ok(())
}

/// Sends deadline reminders as they fall due, every
/// [`crate::reminders::TICK`], and reports each on the event stream.
async fn send_reminders(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(crate::reminders::TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let sent = shared
            .with_local(|l, pass| crate::reminders::tick(l, pass, crate::now()))
            .await;
        match sent {
            Ok(sent) if sent.is_empty() => {}
            Ok(sent) => {
                if let Err(e) = shared.flush().await {
                    tracing::warn!("reminders were sent but not saved yet: {e:#}");
                }
                for n in sent {
                    let _ = shared.events.send(NodeEvent::Reminder(Arc::new(n)));
                }
            }
            Err(e) => tracing::debug!("no reminders this round: {e:#}"),
        }
    }
}
