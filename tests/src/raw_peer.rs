//! A bare libp2p peer that speaks Outpost's request-response protocols
//! byte for byte, for tests of what a node does with peers no Outpost node
//! would be: forged hellos, oversized, truncated or garbage frames.
//!
//! It connects over TCP with Noise and Yamux like a node, but runs only
//! `/outpost/hello/1`, `/outpost/sync/1` and gossipsub (to publish any
//! bytes on any topic, [`RawPeer::publish`]). What it sends as a request is
//! written to the stream exactly as given (no length prefix is added: use
//! [`frame`] for a well-formed one), then its side of the stream is closed.
//! Responses and the node's own requests are read as length-prefixed
//! frames. It answers the node's hello with the hello it was given (or,
//! given none, leaves it unanswered, so that the node neither admits nor
//! refuses it until its admission timeout), never answers sync requests,
//! and counts every request the node sends it.
//!
//! The swarm runs on its own thread with its own runtime; [`RawPeer`] is a
//! blocking handle to it. Dropping it closes the connection.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, gossipsub, identity, noise, tcp, yamux};
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The admission protocol.
pub const HELLO: &str = "/outpost/hello/1";
/// The sync protocol.
pub const SYNC: &str = "/outpost/sync/1";
/// The largest frame a node accepts (its `frame_bytes_max`), in bytes.
pub const FRAME_BYTES_MAX: usize = 8 * 1024 * 1024;
/// How long connecting or one request may take.
pub const RAW_TIMEOUT: Duration = Duration::from_secs(30);

/// `data` with its 4-byte big-endian length in front: a well-formed frame.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let len = u32::try_from(data.len()).expect("test frames are under 4 GiB");
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

/// Writes requests verbatim; reads and writes everything else as frames.
#[derive(Debug, Clone, Default)]
struct RawCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > FRAME_BYTES_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        read_frame(io).await
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        read_frame(io).await
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()> {
        io.write_all(&req).await?;
        io.close().await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()> {
        io.write_all(&frame(&res)).await?;
        io.close().await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    hello: request_response::Behaviour<RawCodec>,
    sync: request_response::Behaviour<RawCodec>,
    gossipsub: gossipsub::Behaviour,
}

/// Which protocol a request goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `/outpost/hello/1`
    Hello,
    /// `/outpost/sync/1`
    Sync,
}

enum Command {
    Send {
        protocol: Protocol,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, String>>,
    },
    Fire {
        protocol: Protocol,
        bytes: Vec<u8>,
    },
    Publish {
        topic: String,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Connected(oneshot::Sender<bool>),
}

/// What the node sent this peer unasked.
#[derive(Debug, Default)]
struct Received {
    hello_requests: AtomicUsize,
    sync_requests: AtomicUsize,
}

/// A blocking handle to a bare peer connected to one node.
#[derive(Debug)]
pub struct RawPeer {
    commands: mpsc::Sender<Command>,
    received: Arc<Received>,
    /// Why the connection closed, once it has.
    closed: Arc<Mutex<Option<String>>>,
    /// This peer's id.
    pub peer_id: PeerId,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Send { protocol, bytes, .. } => write!(f, "Send({protocol:?}, {} bytes)", bytes.len()),
            Command::Fire { protocol, bytes } => write!(f, "Fire({protocol:?}, {} bytes)", bytes.len()),
            Command::Publish { topic, data, .. } => write!(f, "Publish({topic}, {} bytes)", data.len()),
            Command::Connected(_) => f.write_str("Connected"),
        }
    }
}

impl RawPeer {
    /// Connects with `keypair` to the node at `addr` (with `/p2p/<id>`),
    /// presenting `hello` (a certificate bundle, valid or not) when the
    /// node asks for one. Panics if the connection cannot be made.
    pub fn connect(keypair: identity::Keypair, addr: &str, hello: Option<Vec<u8>>) -> RawPeer {
        let addr: Multiaddr = addr
            .parse()
            .unwrap_or_else(|e| panic!("{addr} is not a multiaddr: {e}"));
        let peer_id = keypair.public().to_peer_id();
        let (commands, rx) = mpsc::channel(16);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let received = Arc::new(Received::default());
        let closed = Arc::new(Mutex::new(None));
        let (r, c) = (received.clone(), closed.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a test runtime can be built");
            runtime.block_on(run(keypair, addr, hello, rx, ready_tx, r, c));
        });
        match ready_rx.recv_timeout(RAW_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the raw peer could not connect: {e}"),
            Err(e) => panic!("the raw peer did not connect within {RAW_TIMEOUT:?}: {e}"),
        }
        RawPeer {
            commands,
            received,
            closed,
            peer_id,
        }
    }

    /// Sends `bytes`, verbatim, as a request on `protocol` and waits for
    /// the response frame; `Err` says why none came.
    pub fn send(&self, protocol: Protocol, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .blocking_send(Command::Send { protocol, bytes, reply })
            .map_err(|_| "the raw peer has stopped".to_owned())?;
        rx.blocking_recv()
            .map_err(|_| "the raw peer stopped before an answer".to_owned())?
    }

    /// Sends `bytes`, verbatim, as a request on `protocol` without waiting
    /// for an answer (a flood); `Err` if the peer has stopped.
    pub fn fire(&self, protocol: Protocol, bytes: Vec<u8>) -> Result<(), String> {
        self.commands
            .blocking_send(Command::Fire { protocol, bytes })
            .map_err(|_| "the raw peer has stopped".to_owned())
    }

    /// Publishes `data` on the gossipsub topic named `topic` (to the node,
    /// if it follows the topic), hashed as the node hashes topic names;
    /// `Err` says why it could not be sent.
    pub fn publish(&self, topic: &str, data: Vec<u8>) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .blocking_send(Command::Publish {
                topic: topic.to_owned(),
                data,
                reply,
            })
            .map_err(|_| "the raw peer has stopped".to_owned())?;
        rx.blocking_recv()
            .map_err(|_| "the raw peer stopped before publishing".to_owned())?
    }

    /// Whether the connection to the node is still open.
    pub fn is_connected(&self) -> bool {
        let (reply, rx) = oneshot::channel();
        if self.commands.blocking_send(Command::Connected(reply)).is_err() {
            return false;
        }
        rx.blocking_recv().unwrap_or(false)
    }

    /// Waits until the node has closed the connection; panics after
    /// [`RAW_TIMEOUT`]. Returns why it closed.
    pub fn wait_closed(&self) -> String {
        let started = Instant::now();
        loop {
            if let Some(why) = self.closed.lock().expect("never poisoned").clone() {
                return why;
            }
            assert!(
                started.elapsed() < RAW_TIMEOUT,
                "the node kept the connection of {} open for {RAW_TIMEOUT:?}",
                self.peer_id
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many hello requests the node sent this peer.
    pub fn hello_requests(&self) -> usize {
        self.received.hello_requests.load(Ordering::SeqCst)
    }

    /// How many sync requests the node sent this peer: a node syncs only
    /// with peers it admitted.
    pub fn sync_requests(&self) -> usize {
        self.received.sync_requests.load(Ordering::SeqCst)
    }
}

async fn run(
    keypair: identity::Keypair,
    addr: Multiaddr,
    hello: Option<Vec<u8>>,
    mut commands: mpsc::Receiver<Command>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
    received: Arc<Received>,
    closed: Arc<Mutex<Option<String>>>,
) {
    let rr = |name: &'static str| {
        request_response::Behaviour::with_codec(
            RawCodec,
            [(StreamProtocol::new(name), ProtocolSupport::Full)],
            request_response::Config::default().with_request_timeout(RAW_TIMEOUT),
        )
    };
    // Like a node's: anonymous messages named by their content.
    let gossip_config = gossipsub::ConfigBuilder::default()
        .max_transmit_size(FRAME_BYTES_MAX)
        .heartbeat_interval(Duration::from_millis(500))
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .message_id_fn(|m: &gossipsub::Message| gossipsub::MessageId::new(&blake3::hash(&m.data).as_bytes()[..20]))
        .build()
        .expect("a valid gossipsub configuration");
    let built = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| e.to_string())
        .and_then(|b| {
            b.with_behaviour(|_| -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Behaviour {
                    hello: rr(HELLO),
                    sync: rr(SYNC),
                    gossipsub: gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gossip_config)?,
                })
            })
            .map_err(|e| e.to_string())
        });
    let mut swarm = match built {
        Ok(b) => b
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
            .build(),
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if let Err(e) = swarm.dial(addr.clone()) {
        let _ = ready.send(Err(format!("cannot dial {addr}: {e}")));
        return;
    }
    let mut ready = Some(ready);
    let mut pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Vec<u8>, String>>> = HashMap::new();
    let mut node: Option<PeerId> = None;
    // Kept so that the node's requests stay unanswered, not refused.
    let mut unanswered: Vec<ResponseChannel<Vec<u8>>> = Vec::new();
    loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None => return,
                Some(Command::Connected(reply)) => {
                    let _ = reply.send(node.is_some_and(|p| swarm.is_connected(&p)));
                }
                Some(Command::Send { protocol, bytes, reply }) => {
                    let Some(peer) = node.filter(|p| swarm.is_connected(p)) else {
                        let _ = reply.send(Err("not connected".into()));
                        continue;
                    };
                    let behaviour = swarm.behaviour_mut();
                    let id = match protocol {
                        Protocol::Hello => behaviour.hello.send_request(&peer, bytes),
                        Protocol::Sync => behaviour.sync.send_request(&peer, bytes),
                    };
                    pending.insert(id, reply);
                }
                Some(Command::Fire { protocol, bytes }) => {
                    if let Some(peer) = node.filter(|p| swarm.is_connected(p)) {
                        let behaviour = swarm.behaviour_mut();
                        match protocol {
                            Protocol::Hello => behaviour.hello.send_request(&peer, bytes),
                            Protocol::Sync => behaviour.sync.send_request(&peer, bytes),
                        };
                    }
                }
                Some(Command::Publish { topic, data, reply }) => {
                    // Named on the wire by its hash, as the node names it.
                    let topic = gossipsub::Sha256Topic::new(topic);
                    let sent = swarm.behaviour_mut().gossipsub.publish(topic, data);
                    let _ = reply.send(sent.map(|_| ()).map_err(|e| e.to_string()));
                }
            },
            event = swarm.select_next_some() => {
                use request_response::{Event as Rr, Message};
                match event {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                        node = Some(peer_id);
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(Ok(()));
                        }
                    }
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(Err(error.to_string()));
                        }
                    }
                    SwarmEvent::ConnectionClosed { num_established: 0, cause, .. } => {
                        let why = cause.map_or_else(|| "closed".to_owned(), |c| c.to_string());
                        *closed.lock().expect("never poisoned") = Some(why);
                    }
                    SwarmEvent::Behaviour(BehaviourEvent::Hello(Rr::Message { message, .. })) => match message {
                        Message::Request { channel, .. } => {
                            received.hello_requests.fetch_add(1, Ordering::SeqCst);
                            match &hello {
                                Some(h) => {
                                    let _ = swarm.behaviour_mut().hello.send_response(channel, h.clone());
                                }
                                None => unanswered.push(channel),
                            }
                        }
                        Message::Response { request_id, response } => {
                            if let Some(reply) = pending.remove(&request_id) {
                                let _ = reply.send(Ok(response));
                            }
                        }
                    },
                    SwarmEvent::Behaviour(BehaviourEvent::Sync(Rr::Message { message, .. })) => match message {
                        Message::Request { channel, .. } => {
                            received.sync_requests.fetch_add(1, Ordering::SeqCst);
                            unanswered.push(channel);
                        }
                        Message::Response { request_id, response } => {
                            if let Some(reply) = pending.remove(&request_id) {
                                let _ = reply.send(Ok(response));
                            }
                        }
                    },
                    SwarmEvent::Behaviour(
                        BehaviourEvent::Hello(Rr::OutboundFailure { request_id, error, .. })
                        | BehaviourEvent::Sync(Rr::OutboundFailure { request_id, error, .. }),
                    ) => {
                        if let Some(reply) = pending.remove(&request_id) {
                            let _ = reply.send(Err(error.to_string()));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Bytes no Outpost node would send.
pub fn garbage(rng: &mut crate::Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// A member key made here (not by `outpost init`), certified by `admin`
/// as a member of HQ/East: the libp2p keypair to connect with, and the
/// certificate bundle to present as hello.
pub fn raw_member(
    sb: &crate::Sandbox,
    admin: &crate::Node,
    name: &str,
    rng: &mut crate::Rng,
) -> (identity::Keypair, Vec<u8>) {
    let mut secret = [0u8; 64];
    for chunk in secret.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let keys = outpost_identity::MemberKeys::from_secret(&secret);
    let now = outpost_identity::Timestamp(sb.now());
    let request = outpost_identity::request::Request::sign(&keys, name, now, None).expect("a valid name");
    let request_file = format!("{name}.req");
    sb.write(
        &request_file,
        &outpost_identity::armor::encode(outpost_identity::armor::Label::Request, &request),
    );
    let cert = admin.issue(
        &request_file,
        ["--role", "member", "--dept", "HQ/East"],
        &format!("{name}.cert"),
    );
    let (_, bundle) = outpost_identity::armor::decode(&sb.read(&cert)).expect("cert issue writes an armored bundle");
    let keypair =
        identity::Keypair::ed25519_from_bytes(*keys.signing.secret()).expect("a member key is an ed25519 key");
    (keypair, bundle)
}
