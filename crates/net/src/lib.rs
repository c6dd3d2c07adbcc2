//! Outpost on libp2p.
//!
//! One [`network::Network`] event loop owns the libp2p `Swarm`; the rest of
//! the node talks to it through a cloneable [`network::Client`] that sends
//! [`network::Command`]s over a bounded channel, and receives
//! [`network::Event`]s on another.
//!
//! Transports: TCP and QUIC, Noise, Yamux; identify and ping; mDNS when
//! enabled (never in tests: `OUTPOST_MDNS=off`); peers given by address.
//! Protocols of Outpost's own:
//! - `/outpost/hello/1`: admission. Right after a connection is secured,
//!   each side sends its certificate bundle; a peer whose bundle does not
//!   prove a live device of the same org (checked by the node's [`Gate`])
//!   is disconnected, and until it is admitted nothing else is exchanged
//!   with it (it is kept out of gossip and its requests are dropped).
//! - `/outpost/sync/1`: request/response frames of the anti-entropy sync,
//!   opaque here.
//! - gossipsub topic `outpost/<org id>/changes/1`: new envelopes and
//!   authorisation ops pushed to online peers.
#![deny(missing_docs)]

pub mod codec;
pub mod network;

pub use network::{Client, Command, Config, Event, Gate, Network};
