//! The org's audit log: admin operations as signed, hash-chained records.
//!
//! Every admin operation (a certificate issued or revoked, a space shared,
//! a document deleted, restored or exported, an API token or a webhook
//! made or removed) is one [`Entry`] in a record log of kind
//! [`RecordKind::Audit`] that only admins read and write. The envelope's
//! signature makes an entry unforgeable; on top of it each writing device
//! keeps a **chain**: its entries are numbered from 1 (`seq`) and each
//! names the hash of the one before (`prev`, [`hash`]). Admins write
//! concurrently, so there is one chain per (member, device chain id), not
//! one for the log. [`verify`] checks the chains of a set of entries and
//! names every gap, broken link, reordering and fork it finds; it is a
//! pure function of the set, so any admin node reaches the same verdict
//! from the same entries.
//!
//! What a chain cannot show: the *last* entries of a chain that vanished
//! everywhere (nothing after them names them). Entries replicate to every
//! admin node, so that takes removing them from every admin's store.

use crate::record::{self, Ancestry, Member, Record, RecordId, RecordKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The shortest retention an org may set, in days: entries younger than
/// the retention period are never dropped.
pub const RETENTION_DAYS_MIN: u64 = 180;

/// Domain separation of the chain hash.
const HASH_TAG: &[u8] = b"outpost audit entry v1";

/// A device's chain: a random id it picks once and keeps.
pub type ChainId = [u8; 8];

/// One audited operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What was done: `cert.issue`, `cert.revoke`, `space.share`,
    /// `doc.delete`, `doc.restore`, `doc.export`, `token.create`,
    /// `token.revoke`, `webhook.add`, `webhook.remove`.
    pub action: String,
    /// What it was done to (a member, a space, a document, a token).
    pub target: String,
    /// More about it, for people.
    pub detail: String,
    /// The writing device's chain.
    pub chain: ChainId,
    /// Its place in the chain, from 1.
    pub seq: u64,
    /// [`hash`] of the chain's previous entry; zeros for the first.
    pub prev: [u8; 32],
}

/// The hash the next entry of the chain names: blake3 over a tag and the
/// entry's canonical record encoding.
pub fn hash(entry: &Entry) -> [u8; 32] {
    let bytes = record::encode(RecordKind::Audit, entry).expect("an audit entry is small and encodes");
    let mut h = blake3::Hasher::new();
    h.update(HASH_TAG);
    h.update(&bytes);
    *h.finalize().as_bytes()
}

/// Where a chain stands: the `seq` and `prev` of its next entry, from the
/// entries of `author`'s chain `chain` among `entries`.
pub fn next(entries: &[Record<Entry>], author: &Member, chain: &ChainId) -> (u64, [u8; 32]) {
    entries
        .iter()
        .filter(|r| r.signer.key == *author && r.body.chain == *chain)
        .max_by_key(|r| r.body.seq)
        .map_or((1, [0; 32]), |r| (r.body.seq + 1, hash(&r.body)))
}

/// Something wrong with the log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Entry `seq` of a chain is absent, though a later one exists.
    Missing {
        /// Whose chain.
        author: Member,
        /// Which chain.
        chain: ChainId,
        /// The absent entry.
        seq: u64,
        /// The next entry present.
        next: RecordId,
    },
    /// Entry `seq` does not hash to what entry `seq + 1` names as its
    /// predecessor: one of them was altered or replaced.
    Altered {
        /// Whose chain.
        author: Member,
        /// Which chain.
        chain: ChainId,
        /// The entry whose hash does not match.
        seq: u64,
        /// Its record.
        record: RecordId,
        /// What it says it did.
        action: String,
    },
    /// Entry `seq` was written without its author having seen entry
    /// `seq - 1`, or before it by the author's clock.
    Reordered {
        /// Whose chain.
        author: Member,
        /// Which chain.
        chain: ChainId,
        /// The entry out of place.
        seq: u64,
        /// Its record.
        record: RecordId,
    },
    /// Two different entries claim the same place in a chain.
    Forked {
        /// Whose chain.
        author: Member,
        /// Which chain.
        chain: ChainId,
        /// The place.
        seq: u64,
        /// The records claiming it.
        records: Vec<RecordId>,
    },
}

/// Checks every chain among `entries` (a set: their order does not
/// matter). Returns the problems, by author, chain and place.
pub fn verify(entries: &[Record<Entry>]) -> Vec<Problem> {
    let ancestry = Ancestry::of(entries);
    // By (author, chain), then by place in the chain.
    type Places<'a> = BTreeMap<u64, Vec<&'a Record<Entry>>>;
    let mut chains: BTreeMap<(Member, ChainId), Places<'_>> = BTreeMap::new();
    for r in entries {
        chains
            .entry((r.signer.key, r.body.chain))
            .or_default()
            .entry(r.body.seq)
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for ((author, chain), by_seq) in chains {
        let mut expected = 1;
        let mut prev: Option<&Record<Entry>> = None;
        for (seq, mut at) in by_seq {
            at.sort_by_key(|r| r.id);
            if at.len() > 1 {
                out.push(Problem::Forked {
                    author,
                    chain,
                    seq,
                    records: at.iter().map(|r| r.id).collect(),
                });
            }
            let here = at[0];
            for missing in expected..seq {
                out.push(Problem::Missing {
                    author,
                    chain,
                    seq: missing,
                    next: here.id,
                });
            }
            if seq == 0 {
                // Not a place in any chain; only a fork or a gap can be said.
                expected = 1;
                continue;
            }
            match prev {
                Some(p) if p.body.seq + 1 == seq => {
                    if hash(&p.body) != here.body.prev {
                        out.push(Problem::Altered {
                            author,
                            chain,
                            seq: p.body.seq,
                            record: p.id,
                            action: p.body.action.clone(),
                        });
                    }
                    if !ancestry.saw(&here.id, &p.id) || here.time < p.time {
                        out.push(Problem::Reordered {
                            author,
                            chain,
                            seq,
                            record: here.id,
                        });
                    }
                }
                None if seq == 1 && here.body.prev != [0; 32] => out.push(Problem::Altered {
                    author,
                    chain,
                    seq,
                    record: here.id,
                    action: here.body.action.clone(),
                }),
                _ => {}
            }
            prev = Some(here);
            expected = seq + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Signer;
    use outpost_identity::op::{DeptPath, Role};

    const ALICE: Member = [1; 32];
    const BOB: Member = [2; 32];

    /// A chain of `n` entries by `author`, each depending on the one before.
    fn chain(author: Member, n: u64) -> Vec<Record<Entry>> {
        let mut out: Vec<Record<Entry>> = Vec::new();
        for _ in 0..n {
            let (seq, prev) = next(&out, &author, &[7; 8]);
            let body = Entry {
                action: format!("cert.issue #{seq}"),
                target: "someone".into(),
                detail: String::new(),
                chain: [7; 8],
                seq,
                prev,
            };
            let mut id = [0; 32];
            id[0] = author[0];
            id[1] = seq as u8;
            out.push(Record {
                id,
                signer: Signer {
                    key: author,
                    cert: [0; 32],
                    role: Role::Admin,
                    dept: DeptPath::root(),
                },
                time: 100 + seq,
                deps: out.last().map(|r| vec![r.id]).unwrap_or_default(),
                body,
            });
        }
        out
    }

    #[test]
    fn intact_chains_of_two_admins_pass_in_any_order() {
        let mut all = chain(ALICE, 5);
        all.extend(chain(BOB, 3));
        assert_eq!(verify(&all), vec![]);
        all.reverse();
        assert_eq!(verify(&all), vec![]);
        assert_eq!(next(&all, &ALICE, &[7; 8]).0, 6);
        assert_eq!(
            next(&all, &ALICE, &[9; 8]),
            (1, [0; 32]),
            "another device starts its own chain"
        );
    }

    #[test]
    fn a_missing_entry_is_named() {
        let mut all = chain(ALICE, 5);
        let next_id = all[3].id;
        all.remove(2);
        assert_eq!(
            verify(&all),
            vec![Problem::Missing {
                author: ALICE,
                chain: [7; 8],
                seq: 3,
                next: next_id
            }]
        );
    }

    #[test]
    fn an_altered_entry_breaks_the_next_link() {
        let mut all = chain(ALICE, 4);
        all[1].body.target = "someone else".into();
        assert_eq!(
            verify(&all),
            vec![Problem::Altered {
                author: ALICE,
                chain: [7; 8],
                seq: 2,
                record: all[1].id,
                action: "cert.issue #2".into()
            }]
        );
    }

    #[test]
    fn swapped_entries_are_reported() {
        let mut all = chain(ALICE, 3);
        // Entries 2 and 3 trade places: the numbers no longer follow the
        // links, nor the order the author wrote them in.
        let (a, b) = (all[1].body.seq, all[2].body.seq);
        all[1].body.seq = b;
        all[2].body.seq = a;
        let problems = verify(&all);
        assert!(
            problems.iter().any(|p| matches!(p, Problem::Reordered { seq: 3, .. })),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| matches!(p, Problem::Altered { .. })),
            "{problems:?}"
        );
    }

    #[test]
    fn two_entries_in_one_place_are_a_fork() {
        let mut all = chain(ALICE, 2);
        let mut twin = all[1].clone();
        twin.id[5] = 9;
        twin.body.detail = "other".into();
        all.push(twin);
        assert!(matches!(verify(&all)[..], [Problem::Forked { seq: 2, .. }]));
    }
}
