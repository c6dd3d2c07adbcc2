//! The event loop that owns the swarm, its client handle, and admission.

use crate::codec::{FrameCodec, Request as Frame};
use crate::limits::{Change, Offence, Policy, Scores, Verdict};
use crate::redial::{Backoff, Redial, relay_of};
use futures::StreamExt;
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent, behaviour::toggle::Toggle};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, dcutr, gossipsub, identify, identity, kad, mdns, noise, ping, relay, tcp,
    yamux,
};
use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How many commands may wait for the event loop.
pub const COMMAND_QUEUE_MAX: usize = 256;
/// How many events may wait for the node.
pub const EVENT_QUEUE_MAX: usize = 1024;
/// Most addresses of one peer taken from its identify message into the
/// routing table.
pub const IDENTIFY_ADDRS_MAX: usize = 16;
/// Most peers dialled from the answer of one discovery lookup.
pub const DISCOVERY_DIALS_MAX: usize = 32;
/// A dial to a configured peer (or a relay reservation) with no outcome
/// after this long counts as failed.
pub const REDIAL_TRY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a relayed connection may last before the relay server closes
/// it (the peers then reconnect).
pub const RELAY_CIRCUIT_DURATION_MAX: Duration = Duration::from_secs(60 * 60);
/// How many bytes a relayed connection may carry, both ways together,
/// before the relay server closes it.
pub const RELAY_CIRCUIT_BYTES_MAX: u64 = 1 << 30;
/// Most reservations a relay server holds at once.
pub const RELAY_RESERVATIONS_MAX: usize = 512;
/// Most relayed connections a relay server carries at once.
pub const RELAY_CIRCUITS_MAX: usize = 256;
/// Most requests of one protocol in flight on one connection (inbound and
/// outbound): the bound on what one peer's requests hold in memory, at most
/// this many frames of [`Config::frame_bytes_max`].
pub const REQUEST_STREAMS_MAX: usize = 16;
/// Most scope topics a node subscribes to by default: gossipsub's default
/// subscription filter refuses a peer subscribed to more than 100 topics,
/// and the org topic and the overflow topic count too.
pub const SCOPE_TOPICS_MAX: usize = 90;

/// A gossip topic of the org (see [`Config::topic_prefix`] for the names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `<prefix>/changes/1`: authorisation ops; every admitted peer
    /// subscribes.
    Org,
    /// `<prefix>/scope/<scope id hex>/1`: the envelopes of one scope;
    /// subscribed to by the nodes that may hold that scope.
    Scope([u8; 32]),
    /// `<prefix>/overflow/1`: every envelope again, for the nodes that hold
    /// more scopes than they have topics for ([`Config::scope_topics_max`]).
    Overflow,
}

/// Decides who may join: the node implements this over its authorisation
/// state.
pub trait Gate: Send + Sync + 'static {
    /// Our own hello: the certificate bundle proving this device.
    fn hello(&self) -> Vec<u8>;
    /// Checks a peer's hello; `Err` says why it is refused.
    fn admit(&self, peer: &PeerId, hello: &[u8]) -> Result<(), String>;
    /// Checks a gossip message from an admitted peer before it is handed
    /// to the node or forwarded to others: only what passes travels on, so
    /// an honest node never passes on a flooder's garbage (and is never
    /// blamed for it).
    fn check_gossip(&self, peer: &PeerId, topic: Topic, data: &[u8]) -> Check {
        let _ = (peer, topic, data);
        Check::Accept
    }
}

/// A gossip message's fate ([`Gate::check_gossip`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Hand it to the node and forward it.
    Accept,
    /// Neither hand it on nor blame the sender (it may be stale, not
    /// wrong).
    Ignore,
    /// Invalid: drop it and count the offence against the sender.
    Reject(Offence, String),
}

/// Network settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers to keep connected (full addresses, ideally with `/p2p/<id>`;
    /// a relayed one reads `<relay>/p2p-circuit/p2p/<id>`): dialled at
    /// start, and again with backoff ([`Config::redial`]) whenever they are
    /// not connected. They also seed the Kademlia routing table once
    /// admitted.
    pub bootstrap: Vec<Multiaddr>,
    /// Relays to listen through (`/ip4/…/tcp/…/p2p/<relay id>`): this node
    /// keeps a reservation on each, so others reach it at
    /// `<relay>/p2p-circuit/p2p/<our id>`.
    pub relays: Vec<Multiaddr>,
    /// Serve as a relay for the org's admitted peers.
    pub relay_server: bool,
    /// Discover peers on the LAN with mDNS.
    pub mdns: bool,
    /// The Kademlia protocol name, private to the org (never the public
    /// IPFS DHT's).
    pub kad_protocol: String,
    /// How often to look for more peers of the org in the routing table of
    /// the peers we know (a random walk).
    pub discovery_interval: Duration,
    /// Waits between tries to reach a configured peer or relay.
    pub redial: Backoff,
    /// Largest request/response frame or gossip message, in bytes.
    pub frame_bytes_max: usize,
    /// How long a peer has to prove itself after connecting.
    pub admission_timeout: Duration,
    /// The start of every gossip topic's name, `outpost/<org id>`: the
    /// org topic is `<prefix>/changes/1`, a scope's
    /// `<prefix>/scope/<scope id hex>/1`, the overflow topic
    /// `<prefix>/overflow/1` (see [`Topic`]).
    pub topic_prefix: String,
    /// Most scope topics this node subscribes to; the scopes beyond are
    /// followed through the overflow topic.
    pub scope_topics_max: usize,
    /// When a misbehaving peer is throttled and banned ([`crate::limits`]).
    pub limits: Policy,
}

impl Config {
    /// The name of `topic`.
    pub fn topic_name(&self, topic: Topic) -> String {
        let prefix = &self.topic_prefix;
        match topic {
            Topic::Org => format!("{prefix}/changes/1"),
            Topic::Scope(id) => {
                let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
                format!("{prefix}/scope/{hex}/1")
            }
            Topic::Overflow => format!("{prefix}/overflow/1"),
        }
    }

    /// `topic` as gossipsub names it on the wire: the SHA-256 of its name
    /// in base64, 44 bytes in every message and IHAVE instead of a name of
    /// up to 145 (a fifth of a chat message's envelope).
    pub fn topic(&self, topic: Topic) -> gossipsub::Sha256Topic {
        gossipsub::Sha256Topic::new(self.topic_name(topic))
    }
}

impl Config {
    /// Defaults for an org: listen on all interfaces, TCP and QUIC, any port.
    pub fn for_org(org: &str) -> Config {
        Config {
            listen: vec![
                "/ip4/0.0.0.0/tcp/0".parse().expect("a valid literal address"),
                "/ip4/0.0.0.0/udp/0/quic-v1".parse().expect("a valid literal address"),
            ],
            bootstrap: Vec::new(),
            relays: Vec::new(),
            relay_server: false,
            mdns: true,
            kad_protocol: format!("/outpost/{org}/kad/1.0.0"),
            discovery_interval: Duration::from_secs(30),
            redial: Backoff::default(),
            frame_bytes_max: 8 * 1024 * 1024,
            admission_timeout: Duration::from_secs(10),
            topic_prefix: format!("outpost/{org}"),
            scope_topics_max: SCOPE_TOPICS_MAX,
            limits: Policy::default(),
        }
    }
}

/// What the node asks of the network.
#[derive(Debug)]
pub enum Command {
    /// Dial an address.
    Dial(Multiaddr),
    /// Push bytes to the admitted peers subscribed to a topic. An envelope
    /// of a scope goes to [`Topic::Scope`], and is then also published on
    /// [`Topic::Overflow`] (which costs nothing when nobody follows it).
    Publish {
        /// where
        topic: Topic,
        /// the frame
        data: Vec<u8>,
    },
    /// Follow the topics of these scopes (and no others), most wanted
    /// first: the first [`Config::scope_topics_max`] get their own topic;
    /// if there are more, the overflow topic is followed too.
    Follow(Vec<[u8; 32]>),
    /// Send a request and wait for the response.
    Request {
        /// on which protocol
        proto: Proto,
        /// to whom
        peer: PeerId,
        /// the frame
        data: Vec<u8>,
        /// the response, or why there is none
        reply: oneshot::Sender<Result<Vec<u8>, String>>,
    },
    /// Answer a request.
    Respond {
        /// on which protocol it came
        proto: Proto,
        /// the request's channel
        channel: ResponseChannel<Vec<u8>>,
        /// the frame
        data: Vec<u8>,
    },
    /// Admitted peers and their addresses.
    Peers(oneshot::Sender<Vec<(PeerId, Vec<Multiaddr>)>>),
    /// Our listen addresses (with `/p2p/<our id>`).
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    /// Check every admitted peer again (after a revocation arrived) and
    /// disconnect those that no longer pass.
    Recheck,
    /// A peer sent something invalid (found by the node): count it
    /// against the peer ([`crate::limits`]).
    Offence {
        /// who
        peer: PeerId,
        /// what
        offence: Offence,
    },
}

/// What the network tells the node.
#[derive(Debug)]
pub enum Event {
    /// A peer proved itself: data may flow.
    Admitted(PeerId),
    /// A peer's last connection closed.
    Gone(PeerId),
    /// A peer was refused, with the reason.
    Refused(PeerId, String),
    /// Bytes pushed by an admitted peer on a topic we follow.
    Gossip {
        /// the admitted peer that passed it to us (not necessarily its
        /// author)
        peer: PeerId,
        /// the topic it came on
        topic: Topic,
        /// the frame
        data: Vec<u8>,
    },
    /// Our listen addresses changed; here is the whole new set (with
    /// `/p2p/<our id>`).
    ListenAddrs(Vec<Multiaddr>),
    /// A request from an admitted peer; answer with [`Client::respond`].
    Request {
        /// on which protocol
        proto: Proto,
        /// from whom
        peer: PeerId,
        /// the frame
        data: Vec<u8>,
        /// where the answer goes
        channel: ResponseChannel<Vec<u8>>,
    },
}

/// The request/response protocols the node answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Anti-entropy sessions, `/outpost/sync/1`.
    Sync,
    /// File chunks, `/outpost/blob/1`.
    Blob,
}

impl std::fmt::Display for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proto::Sync => "sync",
            Proto::Blob => "blob",
        })
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    gossipsub: gossipsub::Behaviour,
    hello: request_response::Behaviour<FrameCodec>,
    sync: request_response::Behaviour<FrameCodec>,
    blob: request_response::Behaviour<FrameCodec>,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    relay_client: relay::client::Behaviour,
    relay: Toggle<relay::Behaviour>,
    dcutr: dcutr::Behaviour,
}

/// `addr` ending with `/p2p/<peer>` (a relayed listen address already
/// does).
fn with_peer_id(addr: &Multiaddr, peer: PeerId) -> Multiaddr {
    match addr.iter().last() {
        Some(Protocol::P2p(p)) if p == peer => addr.clone(),
        _ => addr.clone().with(Protocol::P2p(peer)),
    }
}

/// An error and its sources, on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    text
}

/// The peers a relay server serves: those admitted, shared with the relay
/// behaviour's filters.
type Members = Arc<Mutex<HashSet<PeerId>>>;

/// A relay filter that passes admitted peers only, so that the relay serves
/// the org and nobody else.
fn members_only(members: Members) -> Box<dyn relay::RateLimiter> {
    Box::new(move |peer: PeerId, _: &Multiaddr, _: std::time::Instant| {
        members
            .lock()
            .expect("never poisoned: nothing panics holding it")
            .contains(&peer)
    })
}

fn relay_config(members: &Members) -> relay::Config {
    let per_peer = NonZeroU32::new(30).expect("30 > 0");
    relay::Config {
        // The filter comes first: a refused request must not use up the
        // peer's allowance.
        reservation_rate_limiters: vec![members_only(members.clone())],
        circuit_src_rate_limiters: vec![members_only(members.clone())],
        max_reservations: RELAY_RESERVATIONS_MAX,
        max_circuits: RELAY_CIRCUITS_MAX,
        max_circuit_duration: RELAY_CIRCUIT_DURATION_MAX,
        max_circuit_bytes: RELAY_CIRCUIT_BYTES_MAX,
        ..relay::Config::default()
    }
    .reservation_rate_per_peer(per_peer, Duration::from_secs(10))
    .circuit_src_per_peer(per_peer, Duration::from_secs(10))
}

/// A handle to the event loop.
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    /// This node's peer id.
    pub peer_id: PeerId,
    /// Counters of the gossip layer, for monitoring.
    pub counters: std::sync::Arc<NetCounters>,
}

/// Counters of the network loop (monotonic since start).
#[derive(Debug, Default)]
pub struct NetCounters {
    /// Gossip messages published.
    pub gossip_published: std::sync::atomic::AtomicU64,
    /// Gossip publishes that found no subscribed peer (anti-entropy
    /// delivers instead).
    pub gossip_no_peers: std::sync::atomic::AtomicU64,
    /// Gossip publishes that failed otherwise (queue full, too large...).
    pub gossip_failed: std::sync::atomic::AtomicU64,
    /// Gossip messages received.
    pub gossip_received: std::sync::atomic::AtomicU64,
    /// Gossip messages rejected as invalid ([`Gate::check_gossip`]).
    pub gossip_rejected: std::sync::atomic::AtomicU64,
    /// Offences counted against peers ([`crate::limits`]).
    pub offences: std::sync::atomic::AtomicU64,
    /// Times a peer was throttled.
    pub peers_throttled: std::sync::atomic::AtomicU64,
    /// Times a peer was banned (and disconnected).
    pub peers_banned: std::sync::atomic::AtomicU64,
    /// Messages (gossip and requests) dropped unread from throttled peers.
    pub throttled_dropped: std::sync::atomic::AtomicU64,
    /// Connections of banned peers refused.
    pub banned_refused: std::sync::atomic::AtomicU64,
    /// Peers throttled now (set every half second).
    pub throttled_now: std::sync::atomic::AtomicU64,
    /// Peers banned now (set every half second).
    pub banned_now: std::sync::atomic::AtomicU64,
}

impl Client {
    async fn send(&self, cmd: Command) -> Result<(), String> {
        self.commands
            .send(cmd)
            .await
            .map_err(|_| "the network has stopped".to_owned())
    }

    /// Dials an address.
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), String> {
        self.send(Command::Dial(addr)).await
    }

    /// Pushes bytes to the admitted peers following `topic`.
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<(), String> {
        self.send(Command::Publish { topic, data }).await
    }

    /// Follows the topics of these scopes, most wanted first (see
    /// [`Command::Follow`]).
    pub async fn follow(&self, scopes: Vec<[u8; 32]>) -> Result<(), String> {
        self.send(Command::Follow(scopes)).await
    }

    /// Sends a request and waits for the response.
    pub async fn request(&self, proto: Proto, peer: PeerId, data: Vec<u8>) -> Result<Vec<u8>, String> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Request {
            proto,
            peer,
            data,
            reply,
        })
        .await?;
        rx.await
            .map_err(|_| "the network stopped before answering".to_owned())?
    }

    /// Answers a request.
    pub async fn respond(&self, proto: Proto, channel: ResponseChannel<Vec<u8>>, data: Vec<u8>) -> Result<(), String> {
        self.send(Command::Respond { proto, channel, data }).await
    }

    /// Admitted peers.
    pub async fn peers(&self) -> Result<Vec<(PeerId, Vec<Multiaddr>)>, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Peers(tx)).await?;
        rx.await.map_err(|_| "the network has stopped".to_owned())
    }

    /// Our listen addresses.
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::ListenAddrs(tx)).await?;
        rx.await.map_err(|_| "the network has stopped".to_owned())
    }

    /// Re-checks admitted peers.
    pub async fn recheck(&self) -> Result<(), String> {
        self.send(Command::Recheck).await
    }

    /// Counts an offence against `peer` ([`crate::limits`]). Never waits:
    /// with the command queue full, the offence is not counted (a flood
    /// that fills it is throttled by the network loop's own checks).
    pub fn offend(&self, peer: PeerId, offence: Offence) {
        let _ = self.commands.try_send(Command::Offence { peer, offence });
    }
}

/// The event loop. Create with [`Network::new`], then `tokio::spawn(net.run())`.
pub struct Network {
    counters: Arc<NetCounters>,
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    gate: Arc<dyn Gate>,
    /// Names the topics.
    topics: Config,
    /// The topics we follow, by hash.
    following: HashMap<gossipsub::TopicHash, Topic>,
    admission_timeout: Duration,
    /// Admitted peers and the hello that admitted them.
    admitted: HashMap<PeerId, Vec<u8>>,
    /// Connected, not yet admitted, since when.
    pending: HashMap<PeerId, Instant>,
    addrs: HashMap<PeerId, HashSet<Multiaddr>>,
    requests: HashMap<OutboundRequestId, oneshot::Sender<Result<Vec<u8>, String>>>,
    /// Admitted peers, as seen by the relay server's filters.
    members: Members,
    /// Listen addresses of connected peers, from identify: they enter the
    /// routing table once the peer is admitted.
    identified: HashMap<PeerId, Vec<Multiaddr>>,
    /// Configured peers to keep connected, and our dials to them.
    redial: Redial,
    dials: HashMap<ConnectionId, usize>,
    /// Relays to listen through, and our listeners on them.
    relays: Redial,
    relay_listeners: HashMap<ListenerId, usize>,
    /// A discovery lookup is wanted (the routing table grew).
    lookup_soon: bool,
    /// We relay for others.
    relay_server: bool,
    discovery_interval: Duration,
    /// The listen addresses last reported to the node.
    reported: Vec<Multiaddr>,
    /// Misbehaviour per peer: throttles and bans.
    scores: Scores<PeerId>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Network({})", self.swarm.local_peer_id())
    }
}

/// The network could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start networking: {0}")]
pub struct StartError(String);

impl Network {
    /// Builds the swarm with `keypair` (the device key) and starts
    /// listening; [`Network::run`] then dials the bootstrap peers and
    /// relays.
    pub fn new(
        keypair: identity::Keypair,
        config: Config,
        gate: Arc<dyn Gate>,
    ) -> Result<(Network, Client, mpsc::Receiver<Event>), StartError> {
        let err = |e: &dyn std::fmt::Display| StartError(e.to_string());
        let frame = config.frame_bytes_max;
        let mdns_on = config.mdns;
        let relay_server = config.relay_server;
        let kad_protocol = StreamProtocol::try_from_owned(config.kad_protocol.clone()).map_err(|e| {
            StartError(format!(
                "the Kademlia protocol name {:?} is not valid ({e}): it must start with '/'",
                config.kad_protocol
            ))
        })?;
        let members: Members = Arc::default();
        let relay_members = members.clone();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| err(&e))?
            .with_quic()
            .with_relay_client(noise::Config::new, yamux::Config::default)
            .map_err(|e| err(&e))?
            .with_behaviour(
                |key, relay_client| -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                    let peer_id = key.public().to_peer_id();
                    // Messages are anonymous and named by their content:
                    // every frame carries an op or envelope signed by its
                    // member, checked on receipt, and the peer that passed
                    // it on is known from the connection. A second
                    // signature per message (gossipsub's own) would cost a
                    // verification per message on every node and prove
                    // nothing more.
                    let gossip_config = gossip_config(frame)?;
                    let gossipsub =
                        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gossip_config)?;
                    let mdns = if mdns_on {
                        Some(mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)?)
                    } else {
                        None
                    };
                    let rr = |name: &'static str| {
                        request_response::Behaviour::with_codec(
                            FrameCodec { frame_bytes_max: frame },
                            [(StreamProtocol::new(name), ProtocolSupport::Full)],
                            request_response::Config::default()
                                .with_request_timeout(Duration::from_secs(60))
                                .with_max_concurrent_streams(REQUEST_STREAMS_MAX),
                        )
                    };
                    let mut kad_config = kad::Config::new(kad_protocol);
                    // Only admitted peers enter the routing table (see
                    // `add_to_routing`), records from peers are never stored
                    // (Outpost keeps none in the DHT), and lookups run on our
                    // own timer.
                    kad_config
                        .set_kbucket_inserts(kad::BucketInserts::Manual)
                        .set_record_filtering(kad::StoreInserts::FilterBoth)
                        .set_periodic_bootstrap_interval(None)
                        .set_query_timeout(Duration::from_secs(30));
                    let mut kad =
                        kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config);
                    // Answer lookups whether or not we know an external address:
                    // there is no AutoNAT to confirm one.
                    kad.set_mode(Some(kad::Mode::Server));
                    let relay = relay_server.then(|| relay::Behaviour::new(peer_id, relay_config(&relay_members)));
                    Ok(Behaviour {
                        identify: identify::Behaviour::new(identify::Config::new("/outpost/1".into(), key.public())),
                        ping: ping::Behaviour::default(),
                        mdns: Toggle::from(mdns),
                        gossipsub,
                        hello: rr("/outpost/hello/1"),
                        sync: rr("/outpost/sync/1"),
                        blob: rr("/outpost/blob/1"),
                        kad,
                        relay_client,
                        relay: Toggle::from(relay),
                        dcutr: dcutr::Behaviour::new(peer_id),
                    })
                },
            )
            .map_err(|e| err(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
            .build();
        let org_topic = config.topic(Topic::Org);
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&org_topic)
            .map_err(|e| err(&e))?;
        let following = HashMap::from([(org_topic.hash(), Topic::Org)]);
        for addr in &config.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| StartError(format!("cannot listen on {addr}: {e}")))?;
        }
        let now = Instant::now();
        let counters = Arc::new(NetCounters::default());
        // The relays of relayed peer addresses, and the relays we listen
        // through, are kept connected too: a circuit is asked of a relay
        // only once it has admitted us (it serves members only).
        let relays_of_peers = config.bootstrap.iter().filter_map(relay_of).map(|(relay, _)| relay);
        let targets = config
            .bootstrap
            .iter()
            .cloned()
            .chain(relays_of_peers)
            .chain(config.relays.iter().cloned());
        let redial = Redial::new(targets, config.redial, REDIAL_TRY_TIMEOUT, now);
        let relays = Redial::new(config.relays.iter().cloned(), config.redial, REDIAL_TRY_TIMEOUT, now);
        if let Some(relay) = relays.targets().iter().find(|t| t.peer.is_none()) {
            return Err(StartError(format!(
                "the relay address {} does not end with /p2p/<relay peer id>: add the relay's peer id (shown by `outpost status` on the relay)",
                relay.addr
            )));
        }
        let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE_MAX);
        let (events, events_rx) = mpsc::channel(EVENT_QUEUE_MAX);
        let peer_id = *swarm.local_peer_id();
        let net = Network {
            swarm,
            commands,
            events,
            gate,
            topics: config.clone(),
            following,
            admission_timeout: config.admission_timeout,
            admitted: HashMap::new(),
            pending: HashMap::new(),
            addrs: HashMap::new(),
            requests: HashMap::new(),
            members,
            identified: HashMap::new(),
            redial,
            dials: HashMap::new(),
            relays,
            relay_listeners: HashMap::new(),
            lookup_soon: false,
            relay_server,
            discovery_interval: config.discovery_interval,
            reported: Vec::new(),
            counters: counters.clone(),
            scores: Scores::new(config.limits),
        };
        Ok((
            net,
            Client {
                commands: commands_tx,
                peer_id,
                counters: counters.clone(),
            },
            events_rx,
        ))
    }

    /// Runs until every [`Client`] is dropped.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut discovery = tokio::time::interval_at(
            tokio::time::Instant::now() + self.discovery_interval,
            self.discovery_interval,
        );
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm(event).await,
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => return,
                },
                _ = tick.tick() => {
                    self.expire_pending();
                    self.expire_scores();
                    self.redial_due();
                    self.relisten_due();
                    if std::mem::take(&mut self.lookup_soon) {
                        // Our own id: the peers closest to us, and on the way
                        // every peer of a small org.
                        let me = *self.swarm.local_peer_id();
                        self.swarm.behaviour_mut().kad.get_closest_peers(me);
                    }
                }
                _ = discovery.tick() => {
                    // A random walk: the peers closest to a random id.
                    self.swarm.behaviour_mut().kad.get_closest_peers(PeerId::random());
                }
            }
        }
    }

    /// Dials the configured peers that are due.
    fn redial_due(&mut self) {
        let now = Instant::now();
        let swarm = &self.swarm;
        let due = self
            .redial
            .due(now, |_, t| t.peer.is_some_and(|p| swarm.is_connected(&p)));
        for i in due {
            let target = &self.redial.targets()[i];
            let addr = target.addr.clone();
            if let Some((_, relay)) = relay_of(&addr)
                && !self.admitted.contains_key(&relay)
            {
                // The relay (a target of its own) must admit us first.
                self.redial.postpone(i, now);
                continue;
            }
            let opts = match target.peer {
                Some(peer) => DialOpts::peer_id(peer)
                    .addresses(vec![addr.clone()])
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build(),
                None => DialOpts::unknown_peer_id().address(addr.clone()).build(),
            };
            let id = opts.connection_id();
            match self.swarm.dial(opts) {
                Ok(()) => {
                    tracing::debug!("dialling configured peer {addr}");
                    self.dials.insert(id, i);
                }
                Err(e) => {
                    tracing::debug!("cannot dial configured peer {addr} now: {e}");
                    self.redial.failed(i, now);
                }
            }
        }
    }

    /// Listens again through the relays whose reservation is gone.
    fn relisten_due(&mut self) {
        let now = Instant::now();
        let open: HashSet<usize> = self.relay_listeners.values().copied().collect();
        let due = self.relays.due(now, |i, _| open.contains(&i));
        for i in due {
            let target = &self.relays.targets()[i];
            if !target.peer.is_some_and(|relay| self.admitted.contains_key(&relay)) {
                // The relay (a target of its own) must admit us first.
                self.relays.postpone(i, now);
                continue;
            }
            let circuit = target.addr.clone().with(Protocol::P2pCircuit);
            match self.swarm.listen_on(circuit.clone()) {
                Ok(id) => {
                    tracing::debug!("asking for a reservation at {circuit}");
                    self.relay_listeners.insert(id, i);
                }
                Err(e) => {
                    tracing::warn!("cannot listen through the relay {circuit}: {e}");
                    self.relays.failed(i, now);
                }
            }
        }
    }

    /// Puts an admitted peer's addresses (from identify) in the routing
    /// table, and asks for a lookup.
    fn add_to_routing(&mut self, peer: PeerId) {
        if !self.admitted.contains_key(&peer) {
            return;
        }
        let Some(addrs) = self.identified.get(&peer) else {
            return;
        };
        for addr in addrs.clone() {
            self.swarm.behaviour_mut().kad.add_address(&peer, addr);
        }
        self.lookup_soon = true;
    }

    /// Reports our listen addresses to the node if they changed.
    async fn report_listen_addrs(&mut self) {
        let me = *self.swarm.local_peer_id();
        let now: Vec<Multiaddr> = self.swarm.listeners().map(|a| with_peer_id(a, me)).collect();
        if now != self.reported {
            self.reported = now.clone();
            let _ = self.events.send(Event::ListenAddrs(now)).await;
        }
    }

    fn expire_pending(&mut self) {
        let late: Vec<PeerId> = self
            .pending
            .iter()
            .filter(|(_, since)| since.elapsed() > self.admission_timeout)
            .map(|(p, _)| *p)
            .collect();
        for peer in late {
            tracing::warn!(%peer, "refusing peer: it did not prove its certificate in time");
            self.pending.remove(&peer);
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn admit(&mut self, peer: PeerId, hello: &[u8]) -> bool {
        if self.admitted.contains_key(&peer) {
            return true;
        }
        match self.gate.admit(&peer, hello) {
            Ok(()) => {
                tracing::info!(%peer, "peer admitted");
                self.pending.remove(&peer);
                self.admitted.insert(peer, hello.to_vec());
                self.members.lock().expect("never poisoned").insert(peer);
                self.redial.succeeded(&peer);
                self.swarm.behaviour_mut().gossipsub.remove_blacklisted_peer(&peer);
                self.add_to_routing(peer);
                let _ = self.events.try_send(Event::Admitted(peer));
                true
            }
            Err(why) => {
                self.refuse(peer, why);
                false
            }
        }
    }

    /// Is `peer` throttled now? A message it sent meanwhile is dropped
    /// unread, and counted against it.
    fn throttled(&mut self, peer: PeerId) -> bool {
        match self.scores.verdict(&peer, Instant::now()) {
            Verdict::Pass => false,
            Verdict::Throttled { .. } | Verdict::Banned { .. } => {
                self.counters
                    .throttled_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.offend(peer, Offence::WhileThrottled);
                true
            }
        }
    }

    /// Counts an offence of `peer`; throttles or bans it past the
    /// thresholds ([`crate::limits`]).
    fn offend(&mut self, peer: PeerId, offence: Offence) {
        use std::sync::atomic::Ordering::Relaxed;
        self.counters.offences.fetch_add(1, Relaxed);
        let now = Instant::now();
        match self.scores.offend(peer, offence, now) {
            Change::None => {}
            Change::Throttled => {
                self.counters.peers_throttled.fetch_add(1, Relaxed);
                let policy = self.scores.policy();
                tracing::warn!(
                    %peer,
                    "throttling peer for {} s: it sent too many invalid items (last: {})",
                    policy.throttle_for.as_secs(),
                    offence.name()
                );
            }
            Change::Banned => {
                self.counters.peers_banned.fetch_add(1, Relaxed);
                let secs = self.scores.policy().ban_for.as_secs();
                self.refuse(
                    peer,
                    format!(
                        "banned for {secs} s: it went on sending invalid items while throttled (last: {})",
                        offence.name()
                    ),
                );
            }
        }
        self.publish_limits(now);
    }

    /// Forgets ended bans and leaked scores; updates the gauges.
    fn expire_scores(&mut self) {
        let now = Instant::now();
        self.scores.expire(now);
        self.publish_limits(now);
    }

    fn publish_limits(&self, now: Instant) {
        use std::sync::atomic::Ordering::Relaxed;
        self.counters
            .throttled_now
            .store(self.scores.throttled_count(now) as u64, Relaxed);
        self.counters
            .banned_now
            .store(self.scores.banned_count(now) as u64, Relaxed);
    }

    fn refuse(&mut self, peer: PeerId, why: String) {
        tracing::warn!(%peer, "refusing peer: {why}");
        self.pending.remove(&peer);
        self.admitted.remove(&peer);
        self.members.lock().expect("never poisoned").remove(&peer);
        // Nobody is sent to a refused peer by our lookups.
        self.swarm.behaviour_mut().kad.remove_peer(&peer);
        self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer);
        let _ = self.swarm.disconnect_peer_id(peer);
        let _ = self.events.try_send(Event::Refused(peer, why));
    }

    async fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                connection_id,
                ..
            } => {
                if let Some(i) = self.dials.remove(&connection_id) {
                    self.redial.connected(i, Some(peer_id));
                }
                if let Verdict::Banned { until } = self.scores.verdict(&peer_id, Instant::now()) {
                    let left = until.saturating_duration_since(Instant::now()).as_secs();
                    tracing::warn!(peer = %peer_id, "refusing a banned peer for {left} s more");
                    self.counters
                        .banned_refused
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let _ = self.swarm.close_connection(connection_id);
                    return;
                }
                self.addrs
                    .entry(peer_id)
                    .or_default()
                    .insert(endpoint.get_remote_address().clone());
                if !self.admitted.contains_key(&peer_id) && !self.pending.contains_key(&peer_id) {
                    // Nothing flows before admission, gossip included.
                    self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer_id);
                    self.pending.insert(peer_id, Instant::now());
                    let hello = self.gate.hello();
                    self.swarm
                        .behaviour_mut()
                        .hello
                        .send_request(&peer_id, Frame::Frame(hello));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.pending.remove(&peer_id);
                self.addrs.remove(&peer_id);
                self.identified.remove(&peer_id);
                self.members.lock().expect("never poisoned").remove(&peer_id);
                if self.admitted.remove(&peer_id).is_some() {
                    let _ = self.events.send(Event::Gone(peer_id)).await;
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id, error, ..
            } => {
                if let Some(i) = self.dials.remove(&connection_id) {
                    let addr = &self.redial.targets()[i].addr;
                    tracing::info!("cannot reach configured peer {addr}, will retry: {}", chain(&error));
                    self.redial.failed(i, Instant::now());
                }
            }
            SwarmEvent::NewListenAddr { address, listener_id } => {
                tracing::info!("listening on {address}");
                if self.relay_server && !address.iter().any(|p| p == Protocol::P2pCircuit) {
                    // A relay serves only once it has an external address,
                    // and gives its clients those addresses to announce.
                    // With no AutoNAT (no public service), a relay's
                    // listen addresses are taken as its external ones: give
                    // it fixed, reachable `--listen` addresses.
                    self.swarm.add_external_address(address.clone());
                }
                if let Some(&i) = self.relay_listeners.get(&listener_id) {
                    self.relays.succeeded_at(i);
                }
                self.report_listen_addrs().await;
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                tracing::info!("no longer listening on {address}");
                if self.relay_server {
                    self.swarm.remove_external_address(&address);
                }
                self.report_listen_addrs().await;
            }
            SwarmEvent::ListenerClosed {
                listener_id, reason, ..
            } => {
                if let Some(i) = self.relay_listeners.remove(&listener_id) {
                    let relay = &self.relays.targets()[i].addr;
                    match reason {
                        Ok(()) => tracing::info!("the reservation at relay {relay} ended; asking again"),
                        Err(e) => tracing::info!("no reservation at relay {relay}, will retry: {}", chain(&e)),
                    }
                    self.relays.failed(i, Instant::now());
                }
                self.report_listen_addrs().await;
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour(event).await,
            _ => {}
        }
    }

    /// The behaviour of a request/response protocol.
    fn rr(&mut self, proto: Proto) -> &mut request_response::Behaviour<FrameCodec> {
        match proto {
            Proto::Sync => &mut self.swarm.behaviour_mut().sync,
            Proto::Blob => &mut self.swarm.behaviour_mut().blob,
        }
    }

    /// Requests of admitted peers go to the node; responses to whoever
    /// waits for them.
    async fn on_request_response(&mut self, proto: Proto, event: request_response::Event<Frame, Vec<u8>>) {
        use request_response::{Event as Rr, Message};
        match event {
            Rr::Message { peer, message, .. } => match message {
                Message::Request {
                    request: Frame::Bad(why),
                    ..
                } => {
                    tracing::warn!(%peer, "dropping a bad {proto} request: {why}");
                    self.offend(peer, Offence::BadFrame);
                }
                Message::Request {
                    request: Frame::Frame(data),
                    channel,
                    ..
                } => {
                    if self.throttled(peer) {
                        // Dropping the channel closes the stream unanswered.
                        tracing::debug!(%peer, "dropping a {proto} request from a throttled peer");
                    } else if self.admitted.contains_key(&peer) {
                        let _ = self
                            .events
                            .send(Event::Request {
                                proto,
                                peer,
                                data,
                                channel,
                            })
                            .await;
                    } else {
                        tracing::warn!(%peer, "dropping a {proto} request from a peer not admitted");
                    }
                }
                Message::Response { request_id, response } => {
                    if let Some(reply) = self.requests.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            Rr::OutboundFailure {
                request_id,
                error,
                peer,
                ..
            } => {
                tracing::debug!(%peer, "{proto} request failed: {error}");
                if let Some(reply) = self.requests.remove(&request_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            Rr::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "answering a {proto} request failed: {error}");
            }
            Rr::ResponseSent { .. } => {}
        }
    }

    async fn on_behaviour(&mut self, event: BehaviourEvent) {
        use request_response::{Event as Rr, Message};
        match event {
            BehaviourEvent::Hello(Rr::Message { peer, message, .. }) => match message {
                // Dropping the channel closes the stream unanswered.
                Message::Request {
                    request: Frame::Bad(why),
                    ..
                } => tracing::warn!(%peer, "dropping a bad hello: {why}"),
                // Their hello is checked and ours sent back, but they count
                // as admitted only once they answer our own hello, which a
                // node does only if it admits us: admission is mutual, so a
                // node that refuses us never shows as our peer, even briefly.
                Message::Request {
                    request: Frame::Frame(request),
                    channel,
                    ..
                } => {
                    if self.admitted.contains_key(&peer) {
                        let hello = self.gate.hello();
                        let _ = self.swarm.behaviour_mut().hello.send_response(channel, hello);
                    } else {
                        match self.gate.admit(&peer, &request) {
                            Ok(()) => {
                                let hello = self.gate.hello();
                                let _ = self.swarm.behaviour_mut().hello.send_response(channel, hello);
                            }
                            Err(why) => self.refuse(peer, why),
                        }
                    }
                }
                Message::Response { response, .. } => {
                    self.admit(peer, &response);
                }
            },
            BehaviourEvent::Hello(Rr::OutboundFailure { peer, error, .. }) => {
                // Often the peer refusing us: its log says why.
                tracing::debug!(%peer, "our hello got no answer: {error}");
            }
            BehaviourEvent::Sync(e) => self.on_request_response(Proto::Sync, e).await,
            BehaviourEvent::Blob(e) => self.on_request_response(Proto::Blob, e).await,
            BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) => {
                // Not admitted (nothing flows before admission), or
                // throttled (dropped unread, counted in `throttled`).
                let check = if !self.admitted.contains_key(&propagation_source) || self.throttled(propagation_source) {
                    Check::Ignore
                } else {
                    match self.following.get(&message.topic) {
                        Some(&topic) => match self.gate.check_gossip(&propagation_source, topic, &message.data) {
                            Check::Accept => {
                                self.counters
                                    .gossip_received
                                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let event = Event::Gossip {
                                    peer: propagation_source,
                                    topic,
                                    data: message.data,
                                };
                                let _ = self.events.send(event).await;
                                Check::Accept
                            }
                            other => other,
                        },
                        // Left since it was sent.
                        None => {
                            tracing::debug!(peer = %propagation_source, "dropping gossip on a topic we do not follow");
                            Check::Ignore
                        }
                    }
                };
                let acceptance = match check {
                    Check::Accept => gossipsub::MessageAcceptance::Accept,
                    Check::Ignore => gossipsub::MessageAcceptance::Ignore,
                    Check::Reject(offence, why) => {
                        self.counters
                            .gossip_rejected
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::debug!(peer = %propagation_source, "rejecting a gossip message: {why}");
                        self.offend(propagation_source, offence);
                        gossipsub::MessageAcceptance::Reject
                    }
                };
                self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                    &message_id,
                    &propagation_source,
                    acceptance,
                );
            }
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                let mut addrs = info.listen_addrs;
                addrs.truncate(IDENTIFY_ADDRS_MAX);
                self.identified.insert(peer_id, addrs);
                self.add_to_routing(peer_id);
            }
            BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::GetClosestPeers(result),
                ..
            }) => {
                let peers = match result {
                    Ok(ok) => ok.peers,
                    Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers,
                };
                self.dial_discovered(peers);
            }
            BehaviourEvent::RelayClient(relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                renewal: false,
                ..
            }) => tracing::info!(relay = %relay_peer_id, "relay reservation accepted"),
            BehaviourEvent::Relay(event) => match event {
                relay::Event::ReservationReqAccepted {
                    src_peer_id,
                    renewed: false,
                } => tracing::info!(peer = %src_peer_id, "relay server: reservation accepted"),
                relay::Event::ReservationReqDenied { src_peer_id, status } => {
                    tracing::info!(peer = %src_peer_id, "relay server: reservation denied ({status:?})")
                }
                relay::Event::CircuitReqAccepted {
                    src_peer_id,
                    dst_peer_id,
                } => tracing::info!(from = %src_peer_id, to = %dst_peer_id, "relay server: relaying"),
                relay::Event::CircuitReqDenied {
                    src_peer_id,
                    dst_peer_id,
                    status,
                } => {
                    tracing::info!(from = %src_peer_id, to = %dst_peer_id, "relay server: circuit denied ({status:?})")
                }
                other => tracing::debug!("relay server: {other:?}"),
            },
            BehaviourEvent::Dcutr(dcutr::Event { remote_peer_id, result }) => match result {
                Ok(_) => tracing::info!(peer = %remote_peer_id, "direct connection made through hole punching"),
                Err(e) => tracing::debug!(peer = %remote_peer_id, "no direct connection by hole punching: {e}"),
            },
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, addr) in found {
                    if !self.swarm.is_connected(&peer) {
                        tracing::info!(%peer, "discovered on the LAN at {addr}");
                        let _ = self.swarm.dial(addr);
                    }
                }
            }
            _ => {}
        }
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) {
        let name = self.topics.topic(topic);
        use std::sync::atomic::Ordering::Relaxed;
        match self.swarm.behaviour_mut().gossipsub.publish(name, data) {
            Ok(_) => {
                self.counters.gossip_published.fetch_add(1, Relaxed);
            }
            // Nobody follows it now (often the overflow topic): the peers
            // that should have it get it by anti-entropy.
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                self.counters.gossip_no_peers.fetch_add(1, Relaxed);
            }
            Err(e) => {
                self.counters.gossip_failed.fetch_add(1, Relaxed);
                tracing::debug!("gossip publish on {topic:?} failed, anti-entropy will deliver it: {e}")
            }
        }
    }

    /// Follows the topics of `scopes` (most wanted first) and leaves the
    /// others; the scopes beyond [`Config::scope_topics_max`] are followed
    /// through the overflow topic.
    fn follow(&mut self, scopes: &[[u8; 32]]) {
        let max = self.topics.scope_topics_max;
        let mut wanted: HashMap<gossipsub::TopicHash, Topic> = scopes
            .iter()
            .take(max)
            .map(|&id| Topic::Scope(id))
            .chain((scopes.len() > max).then_some(Topic::Overflow))
            .chain([Topic::Org])
            .map(|t| (self.topics.topic(t).hash(), t))
            .collect();
        let leave: Vec<Topic> = self
            .following
            .iter()
            .filter(|(hash, _)| !wanted.contains_key(hash))
            .map(|(_, t)| *t)
            .collect();
        for topic in &leave {
            let name = self.topics.topic(*topic);
            self.swarm.behaviour_mut().gossipsub.unsubscribe(&name);
            self.following.remove(&name.hash());
        }
        wanted.retain(|hash, _| !self.following.contains_key(hash));
        let joined = wanted.len();
        for (hash, topic) in wanted {
            let name = self.topics.topic(topic);
            match self.swarm.behaviour_mut().gossipsub.subscribe(&name) {
                Ok(_) => {
                    self.following.insert(hash, topic);
                }
                Err(e) => tracing::warn!("cannot follow gossip topic {name}: {e}"),
            }
        }
        if joined > 0 || !leave.is_empty() {
            tracing::info!(
                "gossip: following {} scope topic(s){} (joined {joined}, left {})",
                scopes.len().min(max),
                if scopes.len() > max {
                    format!(" and the overflow topic for {} more scope(s)", scopes.len() - max)
                } else {
                    String::new()
                },
                leave.len()
            );
        }
    }

    /// Dials peers a lookup found (admission decides whether they stay).
    fn dial_discovered(&mut self, peers: Vec<kad::PeerInfo>) {
        let me = *self.swarm.local_peer_id();
        let new = peers
            .into_iter()
            .filter(|p| p.peer_id != me && !p.addrs.is_empty() && !self.swarm.is_connected(&p.peer_id))
            .take(DISCOVERY_DIALS_MAX)
            .collect::<Vec<_>>();
        for p in new {
            tracing::info!(peer = %p.peer_id, "discovered through the routing table");
            let opts = DialOpts::peer_id(p.peer_id)
                .addresses(p.addrs)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(peer = %p.peer_id, "cannot dial a discovered peer: {e}");
            }
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Dial(addr) => {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::warn!("cannot dial {addr}: {e}");
                }
            }
            Command::Publish { topic, data } => {
                if matches!(topic, Topic::Scope(_)) {
                    self.publish(Topic::Overflow, data.clone());
                }
                self.publish(topic, data);
            }
            Command::Follow(scopes) => self.follow(&scopes),
            Command::Request {
                proto,
                peer,
                data,
                reply,
            } => {
                if !self.admitted.contains_key(&peer) {
                    let _ = reply.send(Err(format!("peer {peer} is not admitted")));
                    return;
                }
                let id = self.rr(proto).send_request(&peer, Frame::Frame(data));
                self.requests.insert(id, reply);
            }
            Command::Respond { proto, channel, data } => {
                let _ = self.rr(proto).send_response(channel, data);
            }
            Command::Peers(reply) => {
                let peers = self
                    .admitted
                    .keys()
                    .map(|p| {
                        (
                            *p,
                            self.addrs
                                .get(p)
                                .map(|a| a.iter().cloned().collect())
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                let _ = reply.send(peers);
            }
            Command::ListenAddrs(reply) => {
                let me = *self.swarm.local_peer_id();
                let addrs = self.swarm.listeners().map(|a| with_peer_id(a, me)).collect();
                let _ = reply.send(addrs);
            }
            Command::Recheck => {
                let peers: Vec<(PeerId, Vec<u8>)> = self.admitted.iter().map(|(p, h)| (*p, h.clone())).collect();
                for (peer, hello) in peers {
                    if let Err(why) = self.gate.admit(&peer, &hello) {
                        self.refuse(peer, why);
                    }
                }
            }
            Command::Offence { peer, offence } => self.offend(peer, offence),
        }
    }
}

/// The node's gossipsub configuration: libp2p's defaults (mesh degree 6,
/// between 5 and 8 rather than 12, gossip to at least 6 peers out of the
/// mesh) with a heartbeat of 500 ms, anonymous messages named by a hash of
/// their content, and messages up to `frame` bytes. The gossip simulator
/// ([`crate::gossip_sim`]) models the mesh from this configuration.
pub fn gossip_config(frame: usize) -> Result<gossipsub::Config, gossipsub::ConfigBuilderError> {
    gossipsub::ConfigBuilder::default()
        .max_transmit_size(frame)
        .heartbeat_interval(Duration::from_millis(500))
        // Prune a mesh above 8 peers (gossipsub's default is 12): a GRAFT
        // adds a link at both ends, so meshes settled near 7.4 peers with
        // 12 and every message went that many times; 6.3 with 8 (the
        // gossip simulation, docs/performance.md).
        .mesh_n_high(8)
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        // Forwarded only once checked (`Gate::check_gossip`).
        .validate_messages()
        .message_id_fn(|m: &gossipsub::Message| gossipsub::MessageId::new(&blake3::hash(&m.data).as_bytes()[..20]))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_versioned_and_per_scope() {
        let config = Config::for_org("f343389f2ec3bb497a312f9472d0176c");
        assert_eq!(
            config.topic_name(Topic::Org),
            "outpost/f343389f2ec3bb497a312f9472d0176c/changes/1"
        );
        assert_eq!(
            config.topic_name(Topic::Scope([0xab; 32])),
            format!("outpost/f343389f2ec3bb497a312f9472d0176c/scope/{}/1", "ab".repeat(32))
        );
        assert_eq!(
            config.topic_name(Topic::Overflow),
            "outpost/f343389f2ec3bb497a312f9472d0176c/overflow/1"
        );
        // On the wire a topic is named by its hash, whatever its name's length.
        for topic in [Topic::Org, Topic::Scope([0xab; 32]), Topic::Overflow] {
            assert_eq!(
                config.topic(topic).hash().as_str().len(),
                crate::gossip_sim::TOPIC_BYTES
            );
        }
        assert_ne!(config.topic(Topic::Org).hash(), config.topic(Topic::Overflow).hash());
        // The org and overflow topics fit beside the scope topics under
        // gossipsub's default limit of 100 per peer.
        const { assert!(SCOPE_TOPICS_MAX + 2 <= 100) };
    }
}
