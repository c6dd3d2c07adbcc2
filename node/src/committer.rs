//! Grouped durable commits: the one writer of envelopes to the store.
//!
//! Many producers (the local editor, sync sessions with peers) hand
//! batches of envelopes to one committer thread through a bounded queue.
//! The thread takes everything waiting, writes it in one redb transaction
//! (one fsync), and only then acknowledges each producer. A burst of N
//! small writes therefore costs about one fsync, not N, and nothing is
//! acknowledged before it is durable.

use anyhow::{Context, Result, anyhow};
use outpost_store::Store;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// How many batches may wait for the committer before producers block.
pub const QUEUE_BATCHES_MAX: usize = 1024;
/// The committer stops gathering batches for one transaction once it holds
/// this many envelopes (a single large batch is never split).
pub const COMMIT_ENVELOPES_MAX: usize = 16_384;

/// One envelope to store: document key (scope ‖ doc), id, bytes.
pub type Item = ([u8; 48], [u8; 32], Vec<u8>);

struct Job {
    items: Vec<Item>,
    done: SyncSender<Result<(), String>>,
}

/// A handle to the committer thread. Cloning shares the thread.
#[derive(Clone, Debug)]
pub struct Committer {
    queue: SyncSender<Job>,
}

/// Owns the committer thread; dropping it (after all handles) stops it.
#[derive(Debug)]
pub struct CommitterThread {
    thread: Option<JoinHandle<()>>,
}

impl Drop for CommitterThread {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Committer {
    /// Starts the committer for `store`. The thread ends when every
    /// `Committer` handle has been dropped and the queue is drained.
    pub fn start(store: Arc<Store>) -> (Committer, CommitterThread) {
        let (queue, rx) = sync_channel(QUEUE_BATCHES_MAX);
        let thread = std::thread::Builder::new()
            .name("outpost-committer".into())
            .spawn(move || run(&store, &rx))
            .expect("spawning a thread only fails when the process is out of resources");
        (Committer { queue }, CommitterThread { thread: Some(thread) })
    }

    /// Stores `items` durably; returns once they are on disk.
    pub fn commit(&self, items: Vec<Item>) -> Result<()> {
        let (done, wait) = sync_channel(1);
        self.queue
            .send(Job { items, done })
            .map_err(|_| anyhow!("the committer has stopped"))?;
        wait.recv()
            .context("the committer stopped before acknowledging")?
            .map_err(|e| anyhow!(e))
            .context("storing envelopes failed; nothing from this batch was acknowledged")
    }
}

fn run(store: &Store, rx: &Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        let mut count = jobs[0].items.len();
        while count < COMMIT_ENVELOPES_MAX {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.items.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let result = store
            .put_envelopes(
                jobs.iter()
                    .flat_map(|j| j.items.iter())
                    .map(|(d, id, b)| (d, id, b.as_slice())),
            )
            .map(|_| ())
            .map_err(|e| e.to_string());
        for job in jobs {
            let _ = job.done.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_producers_are_all_acknowledged_and_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("s.redb")).unwrap());
        let (committer, thread) = Committer::start(store.clone());
        let producers: Vec<_> = (0..8u8)
            .map(|p| {
                let c = committer.clone();
                std::thread::spawn(move || {
                    for i in 0..50u8 {
                        let mut id = [0u8; 32];
                        (id[0], id[1]) = (p, i);
                        c.commit(vec![([p; 48], id, vec![i; 10])]).unwrap();
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        drop(committer);
        drop(thread);
        assert_eq!(store.envelope_count().unwrap(), 400);
    }
}
