//! A full disk: how the node recognises it and reports it.
//!
//! The store refuses a write while fewer than
//! [`outpost_store::WRITE_FREE_MIN_BYTES`] are free, before redb touches
//! the file, so reads keep working; a write that runs out of space anyway
//! (a large file, another program filling the disk) fails with the
//! operating system's "no space left on device", and nothing of it is
//! kept. Either way the API answers `507 disk_full` and nothing is
//! acknowledged; once space is back, writes succeed again with no restart.

use std::path::Path;

/// True if `e` failed for want of disk space.
pub fn is_full(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<outpost_store::StoreError>()
            .is_some_and(|s| s.disk_full)
            || c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
    })
}

/// `message` about a write that failed for want of space, with what to
/// do added if it does not say already.
pub fn explain(message: String) -> String {
    if message.contains("free some space") {
        message
    } else {
        format!(
            "{message}: the disk is full: free some space on it (or give it more), then try again; nothing was stored"
        )
    }
}

/// Fails with a "storage full" I/O error (see [`is_full`]) if writes in
/// `dir` are refused for want of space.
pub fn ensure_space(dir: &Path) -> std::io::Result<()> {
    match Space::of(dir).problem() {
        Some(problem) => Err(std::io::Error::new(std::io::ErrorKind::StorageFull, problem)),
        None => Ok(()),
    }
}

/// Free space on the file system of a directory.
#[derive(Debug, Clone, Copy)]
pub struct Space {
    /// Free bytes available to the node, if the file system answered.
    pub free: Option<u64>,
}

impl Space {
    /// The free space where `dir` lives.
    pub fn of(dir: &Path) -> Space {
        Space {
            free: outpost_store::free_bytes(dir).ok(),
        }
    }

    /// True if writes are refused for want of space.
    pub fn is_full(&self) -> bool {
        self.free.is_some_and(|f| f < outpost_store::WRITE_FREE_MIN_BYTES)
    }

    /// What to tell a monitor, if anything is wrong.
    pub fn problem(&self) -> Option<String> {
        self.is_full().then(|| {
            format!(
                "disk full: {} bytes free, writes need {}: free some space on the disk holding the home directory",
                self.free.unwrap_or(0),
                outpost_store::WRITE_FREE_MIN_BYTES
            )
        })
    }
}
