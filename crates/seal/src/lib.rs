//! Sealed changes: every piece of shared state travels as an [`Envelope`]
//! that any node can verify and only entitled members can read.
//!
//! - [`epoch`]: scope epoch secrets, per-document keys, wraps of a secret to
//!   each reader's X25519 key, and the chain of previous secrets.
//! - [`envelope`]: the signed header + ciphertext format, sealing and
//!   opening, batch signature verification.
//! - [`validity`]: the validity rule — one pure function from an envelope
//!   and what a node knows to `Valid`, `Pending(missing)` or
//!   `Invalid(reason)`; relays apply it to headers without any key.
//! - [`blob`]: files as encrypted, chunked, content-addressed blobs that
//!   any node can check chunk by chunk without the key.
//! - [`replica`]: an in-memory replica (envelopes + authorisation state +
//!   keys) that applies the rule to everything it holds and yields each
//!   document's valid payloads in a deterministic order. Nodes persist the
//!   same data; tests use it to check convergence.
//!
//! Nothing here does I/O or reads a clock.
#![deny(missing_docs)]

pub mod blob;
pub mod envelope;
pub mod epoch;
pub mod replica;
pub mod validity;

pub use envelope::{DocId, EnvId, Envelope, Header, Payload};
pub use epoch::{EpochSecret, Keyring};
pub use replica::Replica;
pub use validity::{Missing, Reason, Verdict};
