//! Outpost on libp2p.
//!
//! One [`network::Network`] event loop owns the libp2p `Swarm`; the rest of
//! the node talks to it through a cloneable [`network::Client`] that sends
//! [`network::Command`]s over a bounded channel, and receives
//! [`network::Event`]s on another.
//!
//! Transports: TCP and QUIC, Noise, Yamux, and circuits through a relay;
//! identify and ping; mDNS when enabled (never in tests:
//! `OUTPOST_MDNS=off`).
//!
//! Finding and keeping peers, with no public service of any kind:
//! - peers given by address are dialled at start and again, with backoff,
//!   whenever they are not connected ([`redial`]);
//! - Kademlia on a protocol private to the org, `/outpost/<org id>/kad/1.0.0`,
//!   in server mode; only admitted peers enter the routing table (with the
//!   addresses they announce by identify), and lookups for our own id (when
//!   the table grows) and for random ids (every
//!   [`Config::discovery_interval`]) find more peers of the org, which are
//!   dialled (admission still decides);
//! - circuit relay v2: every node is a relay client and tries direct
//!   connections by hole punching (DCUtR); a node with
//!   [`Config::relay_server`] relays for admitted peers only; a node given
//!   [`Config::relays`] keeps a reservation on each and so is reachable at
//!   `<relay>/p2p-circuit/p2p/<its id>`.
//!
//! Protocols of Outpost's own:
//! - `/outpost/hello/1`: admission. Right after a connection is secured,
//!   each side sends its certificate bundle; a peer whose bundle does not
//!   prove a live device of the same org (checked by the node's [`Gate`])
//!   is disconnected, and until it is admitted nothing else is exchanged
//!   with it (it is kept out of gossip and its requests are dropped).
//! - `/outpost/sync/1`: request/response frames of the anti-entropy sync,
//!   opaque here.
//! - gossipsub topics: `outpost/<org id>/changes/1` for authorisation ops
//!   (every admitted peer), `outpost/<org id>/scope/<scope id hex>/1` for
//!   the envelopes of one scope (the peers that may hold it), and
//!   `outpost/<org id>/overflow/1` carrying every envelope again for nodes
//!   that hold more scopes than [`Config::scope_topics_max`] ([`Topic`]).
#![deny(missing_docs)]

pub mod codec;
pub mod gossip_sim;
pub mod limits;
pub mod network;
pub mod redial;

pub use limits::{Offence, Policy};
pub use network::{Check, Client, Command, Config, Event, Gate, NetCounters, Network, Proto, Topic};
