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

/// What the committer tells a producer: the ids of its envelopes that were
/// new to the store, or why nothing of the batch was stored.
type Outcome = Result<Vec<[u8; 32]>, outpost_store::StoreError>;

struct Job {
    items: Vec<Item>,
    done: SyncSender<Outcome>,
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

/// A batch handed to the committer: [`Receipt::wait`] returns once it is
/// durable. Nothing of the batch may be acknowledged before that.
#[derive(Debug)]
#[must_use = "a batch is not durable until its receipt has been waited for"]
pub struct Receipt {
    wait: Receiver<Outcome>,
}

impl Receipt {
    /// Blocks until the batch is on disk; returns the ids that were new to
    /// the store (the others were already there).
    pub fn wait(self) -> Result<Vec<[u8; 32]>> {
        self.wait
            .recv()
            .context("the committer stopped before acknowledging")?
            .map_err(anyhow::Error::from)
            .context("storing envelopes failed; nothing from this batch was acknowledged")
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

    /// Hands `items` to the committer and returns at once, so that the
    /// producer can verify its next batch while this one is written; blocks
    /// only while the queue is full (backpressure).
    pub fn submit(&self, items: Vec<Item>) -> Result<Receipt> {
        let (done, wait) = sync_channel(1);
        self.queue
            .send(Job { items, done })
            .map_err(|_| anyhow!("the committer has stopped"))?;
        Ok(Receipt { wait })
    }

    /// Stores `items` durably; returns once they are on disk, with the ids
    /// that were new to the store.
    pub fn commit(&self, items: Vec<Item>) -> Result<Vec<[u8; 32]>> {
        self.submit(items)?.wait()
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
        let result = store.put_envelopes(
            jobs.iter()
                .flat_map(|j| j.items.iter())
                .map(|(d, id, b)| (d, id, b.as_slice())),
        );
        match result {
            Ok(new) => {
                // Each producer learns which of its own envelopes were new;
                // an envelope in two batches of one transaction counts once.
                let mut new: std::collections::HashSet<[u8; 32]> = new.into_iter().collect();
                for job in jobs {
                    let mine = job
                        .items
                        .iter()
                        .map(|(_, id, _)| *id)
                        .filter(|id| new.remove(id))
                        .collect();
                    let _ = job.done.send(Ok(mine));
                }
            }
            Err(e) => {
                for job in jobs {
                    let _ = job.done.send(Err(e.clone()));
                }
            }
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

    #[test]
    fn receipts_report_each_new_envelope_once_and_only_after_storing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("s.redb")).unwrap());
        let (committer, thread) = Committer::start(store.clone());
        let item = |n: u8| ([7u8; 48], [n; 32], vec![n; 20]);
        let first = committer.submit(vec![item(1), item(2)]).unwrap();
        let second = committer.submit(vec![item(2), item(3)]).unwrap();
        let mut new = first.wait().unwrap();
        new.extend(second.wait().unwrap());
        new.sort();
        assert_eq!(new, vec![[1; 32], [2; 32], [3; 32]], "envelope 2 counts once");
        assert!(
            store.has_envelope(&[3; 32]).unwrap(),
            "stored before the receipt returned"
        );
        assert_eq!(committer.commit(vec![item(1)]).unwrap(), Vec::<[u8; 32]>::new());
        drop(committer);
        drop(thread);
        assert_eq!(store.envelope_count().unwrap(), 3);
    }
}
