//! Signed records: the log shape shared by the work modules.
//!
//! Announcements, meetings, approval requests and task reminders are logs
//! of small signed records, like a chat channel: every user action is one
//! record sealed in an envelope of its own, whose dependencies are the
//! log's heads when it was written. The node opens the valid envelopes and
//! hands each module its [`Record`]s, each with the [`Signer`] that the
//! envelope's certificate names — the author's role and department when
//! they signed, which the validity rule has already checked against the
//! org's certificates. Each module then folds the records into a view with
//! a pure function of the set of records, never of their arrival order:
//! [`causal_order`] gives the one order every node uses, and [`Ancestry`]
//! answers "had the author seen that record when they signed this one?".
//!
//! A record's payload is [`RecordKind`] plus the module's own body, in one
//! canonical encoding ([`encode`], [`decode`]).

use outpost_identity::op::{DeptPath, Role};
use outpost_identity::scope::Principal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// A record's id: the id of the envelope that carries it.
pub type RecordId = [u8; 32];
/// A member, by signing key.
pub type Member = [u8; 32];

/// The encoding version of a record payload, its first byte.
pub const RECORD_VERSION: u8 = 1;
/// Largest record body, in bytes.
pub const BODY_BYTES_MAX: usize = 256 * 1024;

/// Which module a log belongs to. Every record of a log has the same kind.
/// New kinds are added at the end, so that the encoding of the others stays.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// Reminders sent for a project's task deadlines.
    Reminders,
    /// One announcement, its reads and acknowledgements.
    Announcement,
    /// One meeting, its answers, reminders and minutes.
    Meeting,
    /// One approval request, its decisions.
    Approval,
    /// The org's approval templates.
    Templates,
    /// The org's audit log of admin operations.
    Audit,
}

/// Who signed a record, as their role certificate said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signer {
    /// Their member key.
    pub key: Member,
    /// The id of the role certificate the envelope names.
    pub cert: [u8; 32],
    /// The certificate's role.
    pub role: Role,
    /// The certificate's department.
    pub dept: DeptPath,
}

impl Signer {
    /// Does `p` include whoever signed with this certificate? The rule of
    /// [`Principal::covers`], applied to the role, department and key the
    /// record's envelope names: what a module's fold uses to decide whether
    /// a record's author was in an audience or among the invitees.
    pub fn is_in(&self, p: &Principal) -> bool {
        match p {
            Principal::Everyone => matches!(self.role, Role::Admin | Role::DeptHead | Role::Member),
            Principal::Dept(d) => !matches!(self.role, Role::Relay | Role::Guest) && self.dept.is_within(d),
            Principal::Member(k) => k.0 == self.key && self.role != Role::Relay,
            Principal::Role(r) => self.role == *r && self.role != Role::Relay,
        }
    }
}

/// One record of a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<T> {
    /// The envelope id.
    pub id: RecordId,
    /// Who signed it.
    pub signer: Signer,
    /// When, as the signer's clock said (seconds since 1970).
    pub time: u64,
    /// The log's heads when it was written.
    pub deps: Vec<RecordId>,
    /// What it says.
    pub body: T,
}

impl<T> Record<T> {
    /// The same record with its body turned into something else.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Record<U> {
        Record {
            id: self.id,
            signer: self.signer,
            time: self.time,
            deps: self.deps,
            body: f(self.body),
        }
    }
}

/// A record payload could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// Written by a later version of Outpost.
    #[error("record version {0} is not known to this version of Outpost: upgrade it")]
    Version(u8),
    /// The bytes do not decode, or not canonically.
    #[error("the record is damaged")]
    Damaged,
    /// A record of another kind.
    #[error("a {found:?} record where a {expected:?} record was expected")]
    Kind {
        /// What the log holds.
        expected: RecordKind,
        /// What this record is.
        found: RecordKind,
    },
    /// The body is too large.
    #[error("the record is {0} bytes, more than the {max} allowed", max = BODY_BYTES_MAX)]
    TooLarge(usize),
}

#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    kind: RecordKind,
    #[serde(borrow)]
    body: &'a [u8],
}

/// Encodes a record of `kind` with `body`.
pub fn encode<T: Serialize>(kind: RecordKind, body: &T) -> Result<Vec<u8>, RecordError> {
    let inner = postcard::to_stdvec(body).map_err(|_| RecordError::Damaged)?;
    if inner.len() > BODY_BYTES_MAX {
        return Err(RecordError::TooLarge(inner.len()));
    }
    let mut out = vec![RECORD_VERSION];
    out.extend(postcard::to_stdvec(&Wire { kind, body: &inner }).map_err(|_| RecordError::Damaged)?);
    Ok(out)
}

/// The kind of an encoded record.
pub fn kind_of(bytes: &[u8]) -> Result<RecordKind, RecordError> {
    Ok(split(bytes)?.kind)
}

fn split(bytes: &[u8]) -> Result<Wire<'_>, RecordError> {
    match bytes.first() {
        Some(&RECORD_VERSION) => {}
        Some(&v) => return Err(RecordError::Version(v)),
        None => return Err(RecordError::Damaged),
    }
    let (wire, rest): (Wire<'_>, &[u8]) = postcard::take_from_bytes(&bytes[1..]).map_err(|_| RecordError::Damaged)?;
    if !rest.is_empty() {
        return Err(RecordError::Damaged);
    }
    Ok(wire)
}

/// Decodes a record that must be of `kind`; refuses trailing bytes and
/// non-canonical encodings, so that one record has one encoding.
pub fn decode<T: Serialize + DeserializeOwned>(kind: RecordKind, bytes: &[u8]) -> Result<T, RecordError> {
    let wire = split(bytes)?;
    if wire.kind != kind {
        return Err(RecordError::Kind {
            expected: kind,
            found: wire.kind,
        });
    }
    if wire.body.len() > BODY_BYTES_MAX {
        return Err(RecordError::TooLarge(wire.body.len()));
    }
    let body: T = postcard::from_bytes(wire.body).map_err(|_| RecordError::Damaged)?;
    if encode(kind, &body)? != bytes {
        return Err(RecordError::Damaged);
    }
    Ok(body)
}

/// Something with an id, dependencies and a time: a chat entry, a record.
pub trait Causal {
    /// Its id.
    fn id(&self) -> [u8; 32];
    /// The ids it depends on.
    fn deps(&self) -> &[[u8; 32]];
    /// Its author's clock, in any unit that orders.
    fn clock(&self) -> u64;
}

impl<T> Causal for Record<T> {
    fn id(&self) -> [u8; 32] {
        self.id
    }
    fn deps(&self) -> &[[u8; 32]] {
        &self.deps
    }
    fn clock(&self) -> u64 {
        self.time
    }
}

/// The one order every node applies a log's items in: dependencies first,
/// then by the author's clock, then by id. A pure function of the set of
/// items. Dependencies that are not among them are ignored.
pub fn causal_order<T: Causal>(items: &[T]) -> Vec<&T> {
    let by_id: HashMap<[u8; 32], &T> = items.iter().map(|e| (e.id(), e)).collect();
    let mut waiting: HashMap<[u8; 32], usize> = HashMap::new();
    let mut dependants: HashMap<[u8; 32], Vec<[u8; 32]>> = HashMap::new();
    let mut ready: BTreeSet<(u64, [u8; 32])> = BTreeSet::new();
    for e in by_id.values() {
        let known: BTreeSet<&[u8; 32]> = e.deps().iter().filter(|d| by_id.contains_key(*d)).collect();
        for d in &known {
            dependants.entry(**d).or_default().push(e.id());
        }
        if known.is_empty() {
            ready.insert((e.clock(), e.id()));
        } else {
            waiting.insert(e.id(), known.len());
        }
    }
    let mut out = Vec::with_capacity(by_id.len());
    while let Some((_, id)) = ready.pop_first() {
        let e = by_id[&id];
        out.push(e);
        for next in dependants.get(&id).into_iter().flatten() {
            let n = waiting.get_mut(next).expect("a dependant waits");
            *n -= 1;
            if *n == 0 {
                waiting.remove(next);
                ready.insert((by_id[next].clock(), *next));
            }
        }
    }
    out
}

/// The causal past of every item of a log: what its author had seen.
#[derive(Debug, Default)]
pub struct Ancestry {
    past: HashMap<[u8; 32], BTreeSet<[u8; 32]>>,
}

impl Ancestry {
    /// The ancestry of `items`.
    pub fn of<T: Causal>(items: &[T]) -> Ancestry {
        let mut a = Ancestry::default();
        for e in causal_order(items) {
            let mut past = BTreeSet::new();
            for d in e.deps() {
                if let Some(p) = a.past.get(d) {
                    past.insert(*d);
                    past.extend(p.iter().copied());
                }
            }
            a.past.insert(e.id(), past);
        }
        a
    }

    /// Had the author of `later` seen `earlier` when writing it?
    pub fn saw(&self, later: &[u8; 32], earlier: &[u8; 32]) -> bool {
        self.past.get(later).is_some_and(|p| p.contains(earlier))
    }

    /// Neither saw the other.
    pub fn concurrent(&self, a: &[u8; 32], b: &[u8; 32]) -> bool {
        a != b && !self.saw(a, b) && !self.saw(b, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u8, deps: &[u8], time: u64) -> Record<()> {
        Record {
            id: [id; 32],
            signer: Signer {
                key: [0; 32],
                cert: [0; 32],
                role: Role::Member,
                dept: DeptPath::root(),
            },
            time,
            deps: deps.iter().map(|d| [*d; 32]).collect(),
            body: (),
        }
    }

    #[test]
    fn order_puts_dependencies_first_then_time_then_id() {
        // 3 depends on 1; 2 is concurrent with both and has the earliest clock.
        let items = vec![rec(3, &[1], 1), rec(1, &[], 5), rec(2, &[], 3), rec(4, &[], 3)];
        let ids: Vec<u8> = causal_order(&items).iter().map(|r| r.id[0]).collect();
        assert_eq!(ids, vec![2, 4, 1, 3]);
        let mut reversed = items.clone();
        reversed.reverse();
        let again: Vec<u8> = causal_order(&reversed).iter().map(|r| r.id[0]).collect();
        assert_eq!(again, ids, "the order does not depend on arrival");
    }

    #[test]
    fn ancestry_knows_who_saw_what() {
        let items = vec![rec(1, &[], 1), rec(2, &[1], 2), rec(3, &[2], 3), rec(4, &[1], 3)];
        let a = Ancestry::of(&items);
        assert!(a.saw(&[3; 32], &[1; 32]), "transitively");
        assert!(!a.saw(&[1; 32], &[3; 32]));
        assert!(a.concurrent(&[3; 32], &[4; 32]));
        assert!(!a.concurrent(&[2; 32], &[3; 32]));
    }

    #[test]
    fn encoding_is_canonical_and_checks_the_kind() {
        let bytes = encode(RecordKind::Meeting, &("agenda".to_owned(), 7u32)).unwrap();
        assert_eq!(kind_of(&bytes), Ok(RecordKind::Meeting));
        let back: (String, u32) = decode(RecordKind::Meeting, &bytes).unwrap();
        assert_eq!(back, ("agenda".to_owned(), 7));
        assert_eq!(
            decode::<(String, u32)>(RecordKind::Approval, &bytes),
            Err(RecordError::Kind {
                expected: RecordKind::Approval,
                found: RecordKind::Meeting
            })
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            decode::<(String, u32)>(RecordKind::Meeting, &trailing),
            Err(RecordError::Damaged)
        );
        let mut newer = bytes;
        newer[0] = 9;
        assert_eq!(
            decode::<(String, u32)>(RecordKind::Meeting, &newer),
            Err(RecordError::Version(9))
        );
    }
}
