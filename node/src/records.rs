//! Signed record logs on this node: the storage side of
//! [`outpost_workspace::record`].
//!
//! A log is a document whose envelopes carry [`Payload::Record`]s, all of
//! one [`RecordKind`]. Writing one is sealing it like any change (the
//! validity rule decides whether the author may write in the scope at
//! all); reading opens the valid envelopes this member holds keys for and
//! names each record's signer by the role certificate its envelope names.
//! What a record *means* — whether a member may publish an announcement or
//! decide an approval step — is the module's fold, the same on every node.

use crate::home::Passphrase;
use crate::local::Local;
use anyhow::Result;
use outpost_identity::op::Body;
use outpost_identity::{AuthState, Timestamp};
use outpost_seal::Keyring;
use outpost_seal::envelope::{EnvId, Payload};
use outpost_seal::replica::{DocKey, Replica};
use outpost_workspace::record::{self, Record, RecordKind, Signer};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A record whose body is still encoded (its kind is known).
#[derive(Clone, Debug)]
pub struct RawRecord {
    /// What kind of log it belongs to.
    pub kind: RecordKind,
    /// The record, body encoded.
    pub record: Record<Vec<u8>>,
}

/// The signer of an envelope, from the certificate it names; `None` if
/// that is not a role certificate (the validity rule refuses such
/// envelopes, so valid ones always have one).
pub(crate) fn signer(state: &AuthState, env: &outpost_seal::Envelope) -> Option<Signer> {
    match &state.op(&env.header.cert)?.op.body {
        Body::Grant(cert) => Some(Signer {
            key: env.header.author.0,
            cert: env.header.cert.0,
            role: cert.role,
            dept: cert.dept.clone(),
        }),
        _ => None,
    }
}

impl Local {
    /// Seals `body` as a record of `kind` into the log `doc` and stores it
    /// (see [`Local::write_payload`]).
    pub fn write_record<T: Serialize>(
        &mut self,
        doc: DocKey,
        kind: RecordKind,
        body: &T,
        pass: &Passphrase,
        now: Timestamp,
    ) -> Result<EnvId> {
        let bytes = record::encode(kind, body)?;
        self.write_payload(doc, Payload::Record(bytes), pass, now)
    }

    /// The record `env` carries: `None` if this member cannot open it or
    /// it is not a record, `Some(None)` if it does not decode (a later
    /// version's, or damaged inside its seal: skipped, not fatal).
    fn record_of(&self, state: &AuthState, ring: &Keyring, env: &outpost_seal::Envelope) -> Option<Option<RawRecord>> {
        if let Some(r) = self.record_cache.borrow().get(&env.id.0) {
            return Some(Some(r.clone()));
        }
        let Payload::Record(bytes) = env.open(ring.get(&env.header.epoch)?).ok()? else {
            return None;
        };
        let kind = match record::kind_of(&bytes) {
            Ok(kind) => kind,
            Err(e) => {
                tracing::debug!("skipping record {}: {e}", env.id);
                return Some(None);
            }
        };
        let raw = RawRecord {
            kind,
            record: Record {
                id: env.id.0,
                signer: signer(state, env)?,
                time: env.header.time.0,
                deps: env.header.deps.iter().map(|d| d.0).collect(),
                body: bytes,
            },
        };
        self.record_cache.borrow_mut().insert(env.id.0, raw.clone());
        Some(Some(raw))
    }

    /// The kind of log `doc` is, if it is a record log this member can
    /// read. One head is opened, whatever the log's length.
    pub fn record_kind(&self, replica: &Replica, ring: &Keyring, doc: &DocKey) -> Option<RecordKind> {
        let head = replica.heads(doc).into_iter().next()?;
        let env = replica.envelope(&head)?;
        Some(self.record_of(replica.auth(), ring, env)??.kind)
    }

    /// Every log of `kind` this member can read.
    pub fn record_logs(&self, replica: &Replica, ring: &Keyring, kind: RecordKind) -> Vec<DocKey> {
        replica
            .docs()
            .filter(|d| self.record_kind(replica, ring, d) == Some(kind))
            .copied()
            .collect()
    }

    /// The records of the log `doc` of `kind`, decoded; `None` if it is
    /// not such a log or this member cannot read it. Records that do not
    /// decode are skipped.
    pub fn records<T: Serialize + DeserializeOwned>(
        &self,
        replica: &Replica,
        ring: &Keyring,
        doc: &DocKey,
        kind: RecordKind,
    ) -> Option<Vec<Record<T>>> {
        if self.record_kind(replica, ring, doc)? != kind {
            return None;
        }
        let mut out = Vec::new();
        for env in replica.valid_in_order(doc) {
            let Some(raw) = self.record_of(replica.auth(), ring, env)? else {
                continue;
            };
            match record::decode::<T>(kind, &raw.record.body) {
                Ok(body) => out.push(raw.record.map(|_| body)),
                Err(e) => tracing::debug!("skipping record {}: {e}", env.id),
            }
        }
        Some(out)
    }
}

/// A time given to a work module: seconds since 1970, or text as
/// [`crate::tasks::parse_due`] reads it (`2026-12-01T10:00`, UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum When {
    /// Seconds since 1970.
    Seconds(u64),
    /// `2026-12-01T10:00[:00][Z]`, `2026-12-01 10:00`, `2026-12-01` (UTC),
    /// or seconds as text.
    Text(String),
}

impl When {
    /// The time in seconds since 1970.
    pub fn seconds(&self) -> Result<u64> {
        match self {
            When::Seconds(s) => Ok(*s),
            When::Text(t) => {
                let secs = crate::tasks::parse_due(t)?;
                u64::try_from(secs).map_err(|_| anyhow::anyhow!("{t:?} is before 1970"))
            }
        }
    }
}

/// The signer `member` would be now: their current role certificate
/// ([`AuthState::role_of`]).
pub fn signer_now(state: &AuthState, member: &outpost_identity::PublicKey, now: Timestamp) -> Option<Signer> {
    let (id, cert) = state.role_of(member, now)?;
    Some(Signer {
        key: member.0,
        cert: id.0,
        role: cert.role,
        dept: cert.dept.clone(),
    })
}

/// Every member with a live role certificate at `now`, relays left out,
/// as the signer of their current certificate, with their name; by key.
pub fn people_now(state: &AuthState, now: Timestamp) -> Vec<(Signer, String)> {
    let keys: std::collections::BTreeSet<outpost_identity::PublicKey> = state
        .role_certs()
        .filter(|(id, c)| c.role != outpost_identity::Role::Relay && state.status(id, now).is_live())
        .map(|(_, c)| c.subject)
        .collect();
    keys.iter()
        .filter_map(|k| {
            let (_, cert) = state.role_of(k, now)?;
            Some((signer_now(state, k, now)?, cert.name.clone()))
        })
        .filter(|(s, _)| s.role != outpost_identity::Role::Relay)
        .collect()
}
