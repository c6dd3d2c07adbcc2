//! Outpost's collaboration model on automerge.
//!
//! Pure code: each type wraps an automerge document and turns user actions
//! into automerge changes (bytes), which the node seals into envelopes. The
//! document is always rebuilt from the valid changes, so this crate never
//! decides who may do what — the validity rule does.
#![deny(missing_docs)]

pub mod doc;

pub use doc::TextDoc;
