//! The event loop that owns the swarm, its client handle, and admission.

use crate::codec::FrameCodec;
use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent, behaviour::toggle::Toggle};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, gossipsub, identify, identity, mdns, noise, ping, tcp, yamux};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How many commands may wait for the event loop.
pub const COMMAND_QUEUE_MAX: usize = 256;
/// How many events may wait for the node.
pub const EVENT_QUEUE_MAX: usize = 1024;

/// Decides who may join: the node implements this over its authorisation
/// state.
pub trait Gate: Send + Sync + 'static {
    /// Our own hello: the certificate bundle proving this device.
    fn hello(&self) -> Vec<u8>;
    /// Checks a peer's hello; `Err` says why it is refused.
    fn admit(&self, peer: &PeerId, hello: &[u8]) -> Result<(), String>;
}

/// Network settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start (full addresses, ideally with `/p2p/<id>`).
    pub bootstrap: Vec<Multiaddr>,
    /// Discover peers on the LAN with mDNS.
    pub mdns: bool,
    /// Largest request/response frame or gossip message, in bytes.
    pub frame_bytes_max: usize,
    /// How long a peer has to prove itself after connecting.
    pub admission_timeout: Duration,
    /// The gossip topic (one per org).
    pub topic: String,
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
            mdns: true,
            frame_bytes_max: 8 * 1024 * 1024,
            admission_timeout: Duration::from_secs(10),
            topic: format!("outpost/{org}/changes/1"),
        }
    }
}

/// What the node asks of the network.
#[derive(Debug)]
pub enum Command {
    /// Dial an address.
    Dial(Multiaddr),
    /// Push bytes to every admitted peer on the org topic.
    Publish(Vec<u8>),
    /// Send a sync request and wait for the response.
    Request {
        /// to whom
        peer: PeerId,
        /// the frame
        data: Vec<u8>,
        /// the response, or why there is none
        reply: oneshot::Sender<Result<Vec<u8>, String>>,
    },
    /// Answer a sync request.
    Respond {
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
    /// Bytes pushed by an admitted peer.
    Gossip(PeerId, Vec<u8>),
    /// A sync request from an admitted peer; answer with [`Command::Respond`].
    SyncRequest {
        /// from whom
        peer: PeerId,
        /// the frame
        data: Vec<u8>,
        /// where the answer goes
        channel: ResponseChannel<Vec<u8>>,
    },
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    gossipsub: gossipsub::Behaviour,
    hello: request_response::Behaviour<FrameCodec>,
    sync: request_response::Behaviour<FrameCodec>,
}

/// A handle to the event loop.
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    /// This node's peer id.
    pub peer_id: PeerId,
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

    /// Pushes bytes to admitted peers.
    pub async fn publish(&self, data: Vec<u8>) -> Result<(), String> {
        self.send(Command::Publish(data)).await
    }

    /// Sends a sync request and waits for the response.
    pub async fn request(&self, peer: PeerId, data: Vec<u8>) -> Result<Vec<u8>, String> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Request { peer, data, reply }).await?;
        rx.await
            .map_err(|_| "the network stopped before answering".to_owned())?
    }

    /// Answers a sync request.
    pub async fn respond(&self, channel: ResponseChannel<Vec<u8>>, data: Vec<u8>) -> Result<(), String> {
        self.send(Command::Respond { channel, data }).await
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
}

/// The event loop. Create with [`Network::new`], then `tokio::spawn(net.run())`.
pub struct Network {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    gate: Arc<dyn Gate>,
    topic: gossipsub::IdentTopic,
    admission_timeout: Duration,
    /// Admitted peers and the hello that admitted them.
    admitted: HashMap<PeerId, Vec<u8>>,
    /// Connected, not yet admitted, since when.
    pending: HashMap<PeerId, Instant>,
    addrs: HashMap<PeerId, HashSet<Multiaddr>>,
    requests: HashMap<OutboundRequestId, oneshot::Sender<Result<Vec<u8>, String>>>,
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
    /// Builds the swarm with `keypair` (the device key), starts listening
    /// and dials the bootstrap peers.
    pub fn new(
        keypair: identity::Keypair,
        config: Config,
        gate: Arc<dyn Gate>,
    ) -> Result<(Network, Client, mpsc::Receiver<Event>), StartError> {
        let err = |e: &dyn std::fmt::Display| StartError(e.to_string());
        let frame = config.frame_bytes_max;
        let mdns_on = config.mdns;
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| err(&e))?
            .with_quic()
            .with_behaviour(|key| -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                let peer_id = key.public().to_peer_id();
                let gossip_config = gossipsub::ConfigBuilder::default()
                    .max_transmit_size(frame)
                    .heartbeat_interval(Duration::from_millis(500))
                    .validation_mode(gossipsub::ValidationMode::Strict)
                    .build()?;
                let gossipsub =
                    gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), gossip_config)?;
                let mdns = if mdns_on {
                    Some(mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)?)
                } else {
                    None
                };
                let rr = |name: &'static str| {
                    request_response::Behaviour::with_codec(
                        FrameCodec { frame_bytes_max: frame },
                        [(StreamProtocol::new(name), ProtocolSupport::Full)],
                        request_response::Config::default().with_request_timeout(Duration::from_secs(60)),
                    )
                };
                Ok(Behaviour {
                    identify: identify::Behaviour::new(identify::Config::new("/outpost/1".into(), key.public())),
                    ping: ping::Behaviour::default(),
                    mdns: Toggle::from(mdns),
                    gossipsub,
                    hello: rr("/outpost/hello/1"),
                    sync: rr("/outpost/sync/1"),
                })
            })
            .map_err(|e| err(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
            .build();
        let topic = gossipsub::IdentTopic::new(config.topic.clone());
        swarm.behaviour_mut().gossipsub.subscribe(&topic).map_err(|e| err(&e))?;
        for addr in &config.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| StartError(format!("cannot listen on {addr}: {e}")))?;
        }
        for addr in &config.bootstrap {
            if let Err(e) = swarm.dial(addr.clone()) {
                tracing::warn!("cannot dial bootstrap peer {addr}: {e}");
            }
        }
        let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE_MAX);
        let (events, events_rx) = mpsc::channel(EVENT_QUEUE_MAX);
        let peer_id = *swarm.local_peer_id();
        let net = Network {
            swarm,
            commands,
            events,
            gate,
            topic,
            admission_timeout: config.admission_timeout,
            admitted: HashMap::new(),
            pending: HashMap::new(),
            addrs: HashMap::new(),
            requests: HashMap::new(),
        };
        Ok((
            net,
            Client {
                commands: commands_tx,
                peer_id,
            },
            events_rx,
        ))
    }

    /// Runs until every [`Client`] is dropped.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm(event).await,
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => return,
                },
                _ = tick.tick() => self.expire_pending(),
            }
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
                self.swarm.behaviour_mut().gossipsub.remove_blacklisted_peer(&peer);
                let _ = self.events.try_send(Event::Admitted(peer));
                true
            }
            Err(why) => {
                self.refuse(peer, why);
                false
            }
        }
    }

    fn refuse(&mut self, peer: PeerId, why: String) {
        tracing::warn!(%peer, "refusing peer: {why}");
        self.pending.remove(&peer);
        self.admitted.remove(&peer);
        self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer);
        let _ = self.swarm.disconnect_peer_id(peer);
        let _ = self.events.try_send(Event::Refused(peer, why));
    }

    async fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                self.addrs
                    .entry(peer_id)
                    .or_default()
                    .insert(endpoint.get_remote_address().clone());
                if !self.admitted.contains_key(&peer_id) && !self.pending.contains_key(&peer_id) {
                    // Nothing flows before admission, gossip included.
                    self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer_id);
                    self.pending.insert(peer_id, Instant::now());
                    let hello = self.gate.hello();
                    self.swarm.behaviour_mut().hello.send_request(&peer_id, hello);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.pending.remove(&peer_id);
                if self.admitted.remove(&peer_id).is_some() {
                    let _ = self.events.send(Event::Gone(peer_id)).await;
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => tracing::info!("listening on {address}"),
            SwarmEvent::Behaviour(event) => self.on_behaviour(event).await,
            _ => {}
        }
    }

    async fn on_behaviour(&mut self, event: BehaviourEvent) {
        use request_response::{Event as Rr, Message};
        match event {
            BehaviourEvent::Hello(Rr::Message { peer, message, .. }) => match message {
                Message::Request { request, channel, .. } => {
                    if self.admit(peer, &request) {
                        let hello = self.gate.hello();
                        let _ = self.swarm.behaviour_mut().hello.send_response(channel, hello);
                    }
                }
                Message::Response { response, .. } => {
                    self.admit(peer, &response);
                }
            },
            BehaviourEvent::Hello(Rr::OutboundFailure { peer, error, .. }) => {
                tracing::debug!(%peer, "hello failed: {error}");
            }
            BehaviourEvent::Sync(Rr::Message { peer, message, .. }) => match message {
                Message::Request { request, channel, .. } => {
                    if self.admitted.contains_key(&peer) {
                        let _ = self
                            .events
                            .send(Event::SyncRequest {
                                peer,
                                data: request,
                                channel,
                            })
                            .await;
                    } else {
                        tracing::warn!(%peer, "dropping a sync request from a peer not admitted");
                    }
                }
                Message::Response { request_id, response } => {
                    if let Some(reply) = self.requests.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            BehaviourEvent::Sync(Rr::OutboundFailure {
                request_id,
                error,
                peer,
                ..
            }) => {
                tracing::debug!(%peer, "sync request failed: {error}");
                if let Some(reply) = self.requests.remove(&request_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            BehaviourEvent::Sync(Rr::InboundFailure { peer, error, .. }) => {
                tracing::warn!(%peer, "bad sync request dropped: {error}");
            }
            BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message,
                ..
            }) if self.admitted.contains_key(&propagation_source) => {
                let _ = self.events.send(Event::Gossip(propagation_source, message.data)).await;
            }
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

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Dial(addr) => {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::warn!("cannot dial {addr}: {e}");
                }
            }
            Command::Publish(data) => {
                let topic = self.topic.clone();
                if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(topic, data) {
                    // Anti-entropy delivers it later; count the failure.
                    tracing::debug!("gossip publish failed: {e}");
                }
            }
            Command::Request { peer, data, reply } => {
                if !self.admitted.contains_key(&peer) {
                    let _ = reply.send(Err(format!("peer {peer} is not admitted")));
                    return;
                }
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, data);
                self.requests.insert(id, reply);
            }
            Command::Respond { channel, data } => {
                let _ = self.swarm.behaviour_mut().sync.send_response(channel, data);
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
                let addrs = self
                    .swarm
                    .listeners()
                    .map(|a| a.clone().with(libp2p::multiaddr::Protocol::P2p(me)))
                    .collect();
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
        }
    }
}
