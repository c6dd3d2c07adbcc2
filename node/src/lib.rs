//! The Outpost node as a library: the home directory (keys and store) and
//! the local view of the org that every command and the daemon share.
//!
//! The CLI (`outpost`) is a thin layer over this crate.

pub mod announce;
pub mod api;
pub mod api_client;
pub mod approvals;
pub mod at_rest;
pub mod audit;
pub mod backup;
pub mod blobs;
pub mod certs;
pub mod chat;
pub mod committer;
pub mod daemon;
pub mod disk;
pub mod docs;
pub mod gate;
pub mod home;
pub mod integrations;
pub mod library;
pub mod local;
pub mod meetings;
pub mod metrics;
pub mod network_file;
pub mod presence;
pub mod records;
pub mod reminders;
pub mod stats;
pub mod sync;
pub mod tasks;

pub use home::{Home, Passphrase};
pub use local::Local;

use outpost_identity::Timestamp;

/// The current time. `OUTPOST_NOW` (seconds since the UNIX epoch) overrides
/// the system clock, so that tests and "what if" checks of certificate
/// validity can run at a chosen time.
pub fn now() -> Timestamp {
    if let Some(t) = std::env::var("OUTPOST_NOW").ok().and_then(|v| v.trim().parse().ok()) {
        return Timestamp(t);
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Timestamp(secs)
}
