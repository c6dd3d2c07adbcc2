//! Outpost's collaboration model on automerge.
//!
//! Pure code: documents wrap an automerge document and turn user actions
//! into automerge changes (bytes); chat turns them into message-log ops
//! ([`chat::LogOp`]), one per envelope. The node seals both into envelopes.
//! Views are always rebuilt from the valid changes or entries, so who may
//! write at all is the validity rule's decision; what this crate decides
//! (who may edit or recall a chat message, for instance) it decides as a
//! pure function of the entries, the same way on every node.
#![deny(missing_docs)]

pub mod chat;
pub mod doc;
pub mod search;

pub use doc::TextDoc;
