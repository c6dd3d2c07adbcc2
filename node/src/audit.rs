//! The org's audit log on this node: the storage side of
//! [`outpost_workspace::audit`].
//!
//! The log is a record log of kind [`RecordKind::Audit`] with the fixed
//! document id [`LOG_DOC`] in a scope named [`SCOPE_NAME`] whose readers
//! and writers are `role:admin`: every admin node holds it and nobody
//! else can open it. The first admin node that records an operation
//! creates the scope; two admins may each create one while cut off from
//! each other, so reading takes the union of every such log, and writing
//! uses the one with the smallest id, which every node picks alike.
//!
//! [`Local::audit`] is called after an operation succeeded, by the
//! operation itself (certificates, library, integrations). Only admins
//! can write in the log, so what a non-admin does is not recorded: the
//! operations audited are admin operations, or operations that an admin
//! doing them is the case worth recording (a member deleting their own
//! document is not).
//!
//! [`Local::audit_verify`] reads the **raw store**: every envelope the
//! document index names for the log, decoded and checked one by one, so
//! that bytes altered on disk are reported by envelope id rather than
//! failing the whole node, and then the chains of the entries that did
//! decode ([`audit::verify`]).

use crate::home::Passphrase;
use crate::local::Local;
use crate::records::When;
use anyhow::{Context, Result, bail};
use outpost_identity::scope::{Principal, ScopeDef};
use outpost_identity::{AuthState, OpId, Role, Timestamp};
use outpost_seal::Envelope;
use outpost_seal::envelope::{DocId, Payload};
use outpost_workspace::audit::{self, ChainId, Entry, Problem, RETENTION_DAYS_MIN};
use outpost_workspace::record::{self, Record, RecordKind};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The audit scope's name (scope names are public: it says nothing more).
pub const SCOPE_NAME: &str = "outpost audit";
/// The audit log's document id in its scope.
pub const LOG_DOC: DocId = DocId(*b"outpost audit v1");
/// The node setting naming this device's chain.
const CHAIN_SETTING: &str = "audit-chain";
/// The node setting holding the retention period, in days.
pub const RETENTION_SETTING: &str = "audit-retention-days";

/// `POST /api/audit` and `outpost audit ...`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AuditRequest {
    /// The entries, oldest first.
    List {
        /// Only entries written at or after this time.
        #[serde(default)]
        since: Option<When>,
        /// Only entries of this member (a name or a key).
        #[serde(default)]
        actor: Option<String>,
    },
    /// Checks the log as stored here.
    Verify,
    /// Shows the retention period, or sets it (never below 180 days).
    Retention {
        /// The new period, in days.
        #[serde(default)]
        days: Option<u64>,
    },
}

/// Answers an audit request.
pub fn handle(local: &mut Local, pass: &Passphrase, req: AuditRequest) -> Result<Value> {
    match req {
        AuditRequest::List { since, actor } => {
            let since = since.map(|s| s.seconds()).transpose()?;
            local.audit_list(pass, since, actor.as_deref())
        }
        AuditRequest::Verify => local.audit_verify(pass),
        AuditRequest::Retention { days } => {
            if let Some(days) = days {
                local.set_audit_retention_days(days)?;
            }
            Ok(json!({"retention_days": local.audit_retention_days()?}))
        }
    }
}

/// Starts a new audit chain for this device: after a restore, the old
/// node may have written entries after the backup under the old chain.
pub fn new_chain(local: &Local) -> Result<()> {
    let id: ChainId = rand::random();
    local.store.set_settings(&[(CHAIN_SETTING, &id)])?;
    Ok(())
}

fn is_audit_scope(def: &ScopeDef) -> bool {
    let admins = [Principal::Role(Role::Admin)];
    def.name == SCOPE_NAME && def.readers == admins && def.writers == admins
}

/// Does `member` hold a live admin certificate at `now`?
fn is_admin(state: &AuthState, member: &outpost_identity::PublicKey, now: Timestamp) -> bool {
    state.role_of(member, now).is_some_and(|(_, c)| c.role == Role::Admin)
}

fn names(state: &AuthState) -> BTreeMap<[u8; 32], String> {
    state.role_certs().map(|(_, c)| (c.subject.0, c.name.clone())).collect()
}

fn name_of(names: &BTreeMap<[u8; 32], String>, key: &[u8; 32]) -> String {
    names.get(key).cloned().unwrap_or_else(|| hex::encode(&key[..8]))
}

fn short(id: &[u8; 32]) -> String {
    hex::encode(&id[..8])
}

impl Local {
    /// Every audit scope of the org, by id.
    fn audit_scopes(&self) -> Result<Vec<OpId>> {
        let state = self.require_org()?;
        let mut ids: Vec<OpId> = state
            .scopes()
            .filter(|(_, s)| is_audit_scope(s))
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The scope to write in: the smallest-id audit scope this member
    /// holds the key of, created if there is none.
    fn audit_scope(&mut self, pass: &Passphrase, now: Timestamp) -> Result<OpId> {
        {
            let member = self.member_keys(pass)?;
            let ring = self.keyring(&member, pass)?;
            let state = self.require_org()?;
            for id in self.audit_scopes()? {
                if state.writer_epoch(&id).is_some_and(|e| ring.get(&e).is_some()) {
                    return Ok(id);
                }
            }
        }
        let admins = vec![Principal::Role(Role::Admin)];
        let def = ScopeDef {
            name: SCOPE_NAME.to_owned(),
            readers: admins.clone(),
            writers: admins,
            nonce: rand::random(),
        };
        self.create_scope(def, pass, now)
    }

    /// This device's chain id, made once.
    fn audit_chain(&self) -> Result<ChainId> {
        if let Some(v) = self.store.setting(CHAIN_SETTING)?
            && let Ok(id) = <ChainId>::try_from(v.as_slice())
        {
            return Ok(id);
        }
        let id: ChainId = rand::random();
        self.store.set_settings(&[(CHAIN_SETTING, &id)])?;
        Ok(id)
    }

    /// Records an operation that just succeeded, if this member is an
    /// admin (only admins write in the audit log); otherwise nothing.
    pub fn audit(&mut self, action: &str, target: &str, detail: &str, pass: &Passphrase, now: Timestamp) -> Result<()> {
        let Ok(state) = self.require_org() else {
            return Ok(());
        };
        if !is_admin(state, &self.member, now) {
            return Ok(());
        }
        let scope = self.audit_scope(pass, now)?;
        let chain = self.audit_chain()?;
        let entries = self.audit_entries(pass)?;
        let (seq, prev) = audit::next(&entries, &self.member.0, &chain);
        let entry = Entry {
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
            chain,
            seq,
            prev,
        };
        self.write_record((scope, LOG_DOC), RecordKind::Audit, &entry, pass, now)
            .with_context(|| format!("{action} was done, but could not be recorded in the audit log"))?;
        Ok(())
    }

    /// Records a token made or revoked (never its secret).
    pub fn audit_token(&mut self, action: &str, t: &crate::integrations::ApiToken, pass: &Passphrase) -> Result<()> {
        let grants: Vec<String> = t.grants.iter().map(|g| g.to_string()).collect();
        let detail = format!("scopes {}; {} requests a minute", grants.join(","), t.rate_per_min);
        self.audit(action, &format!("{} ({})", t.name, t.id), &detail, pass, crate::now())
    }

    /// Records a webhook added or removed (never its secret).
    pub fn audit_hook(&mut self, action: &str, h: &crate::integrations::Webhook, pass: &Passphrase) -> Result<()> {
        let detail = format!("{} for {}", h.url, h.events.join(","));
        self.audit(action, &h.id, &detail, pass, crate::now())
    }

    /// The valid entries of every audit log this member can read.
    pub fn audit_entries(&self, pass: &Passphrase) -> Result<Vec<Record<Entry>>> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let scopes = self.audit_scopes()?;
        let replica = self.replica()?;
        let mut out = Vec::new();
        for scope in scopes {
            out.extend(
                self.records::<Entry>(&replica, &ring, &(scope, LOG_DOC), RecordKind::Audit)
                    .unwrap_or_default(),
            );
        }
        Ok(out)
    }

    /// The retention period, in days.
    pub fn audit_retention_days(&self) -> Result<u64> {
        Ok(self
            .store
            .setting(RETENTION_SETTING)?
            .and_then(|v| std::str::from_utf8(&v).ok()?.trim().parse().ok())
            .unwrap_or(RETENTION_DAYS_MIN)
            .max(RETENTION_DAYS_MIN))
    }

    /// Sets the retention period; never below [`RETENTION_DAYS_MIN`].
    pub fn set_audit_retention_days(&self, days: u64) -> Result<()> {
        if days < RETENTION_DAYS_MIN {
            bail!("the audit retention period is at least {RETENTION_DAYS_MIN} days; {days} is too short");
        }
        self.store
            .set_settings(&[(RETENTION_SETTING, days.to_string().as_bytes())])?;
        Ok(())
    }

    /// The entries, in the order every node gives them, filtered.
    pub fn audit_list(&self, pass: &Passphrase, since: Option<u64>, actor: Option<&str>) -> Result<Value> {
        let state = self.require_org()?;
        if !is_admin(state, &self.member, crate::now()) {
            bail!("only admins can read the audit log");
        }
        let names = names(state);
        let entries = self.audit_entries(pass)?;
        let actor = actor.map(|a| a.trim().to_lowercase());
        let list: Vec<Value> = record::causal_order(&entries)
            .into_iter()
            .filter(|r| since.is_none_or(|s| r.time >= s))
            .filter(|r| {
                actor.as_ref().is_none_or(|a| {
                    name_of(&names, &r.signer.key).to_lowercase() == *a
                        || hex::encode(r.signer.key).starts_with(a.as_str())
                })
            })
            .map(|r| {
                json!({
                    "record": hex::encode(r.id),
                    "time": r.time,
                    "time_text": Timestamp(r.time).to_string(),
                    "actor": {"key": hex::encode(r.signer.key), "name": name_of(&names, &r.signer.key)},
                    "action": r.body.action,
                    "target": r.body.target,
                    "detail": r.body.detail,
                    "chain": hex::encode(r.body.chain),
                    "seq": r.body.seq,
                })
            })
            .collect();
        Ok(json!({"entries": list, "retention_days": self.audit_retention_days()?}))
    }

    /// Checks every stored envelope of the audit logs, then the chains.
    pub fn audit_verify(&self, pass: &Passphrase) -> Result<Value> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let state = self.require_org()?;
        let names = names(state);
        let mut problems: Vec<Value> = Vec::new();
        let mut damaged = |id: &[u8; 32], why: String| {
            problems.push(json!({
                "kind": "damaged",
                "envelope": hex::encode(id),
                "message": format!("envelope {} of the audit log is damaged on disk: {why}", short(id)),
            }));
        };
        let mut entries: Vec<Record<Entry>> = Vec::new();
        let mut stored = 0usize;
        for scope in self.audit_scopes()? {
            let key = (scope, LOG_DOC);
            for (id, bytes) in self.store.doc_envelope_rows(&crate::docs::doc_key_bytes(&key))? {
                stored += 1;
                let Some(bytes) = bytes else {
                    damaged(&id, "the index names it but it is not stored".into());
                    continue;
                };
                let env = match Envelope::decode(&bytes) {
                    Ok(env) => env,
                    Err(e) => {
                        damaged(&id, format!("it does not verify ({e})"));
                        continue;
                    }
                };
                if env.id.0 != id {
                    damaged(&id, format!("it holds envelope {} instead", short(&env.id.0)));
                    continue;
                }
                if env.header.scope != scope || env.header.doc != LOG_DOC {
                    damaged(&id, "it belongs to another document".into());
                    continue;
                }
                let Some(secret) = ring.get(&env.header.epoch) else {
                    damaged(&id, "this member holds no key for its epoch".into());
                    continue;
                };
                let bytes = match env.open(secret) {
                    Ok(Payload::Record(bytes)) => bytes,
                    Ok(_) => {
                        damaged(&id, "it is not a record".into());
                        continue;
                    }
                    Err(e) => {
                        damaged(&id, format!("it does not open ({e})"));
                        continue;
                    }
                };
                let body = match record::decode::<Entry>(RecordKind::Audit, &bytes) {
                    Ok(body) => body,
                    Err(e) => {
                        damaged(&id, e.to_string());
                        continue;
                    }
                };
                let Some(signer) = crate::records::signer(state, &env) else {
                    damaged(&id, "it names no role certificate".into());
                    continue;
                };
                if signer.role != Role::Admin {
                    damaged(&id, format!("it was signed by a {}, not an admin", signer.role));
                    continue;
                }
                entries.push(Record {
                    id,
                    signer,
                    time: env.header.time.0,
                    deps: env.header.deps.iter().map(|d| d.0).collect(),
                    body,
                });
            }
        }
        let by_id: BTreeMap<[u8; 32], &Record<Entry>> = entries.iter().map(|r| (r.id, r)).collect();
        let chain_text =
            |author: &[u8; 32], chain: &ChainId| format!("{} (chain {})", name_of(&names, author), hex::encode(chain));
        for p in audit::verify(&entries) {
            let (kind, message) = match &p {
                Problem::Missing {
                    author,
                    chain,
                    seq,
                    next,
                } => (
                    "missing",
                    format!(
                        "entry {seq} of {} is missing (the chain goes on at entry {}, {})",
                        chain_text(author, chain),
                        by_id.get(next).map_or(0, |r| r.body.seq),
                        by_id.get(next).map_or(String::new(), |r| r.body.action.clone()),
                    ),
                ),
                Problem::Altered {
                    author,
                    chain,
                    seq,
                    record,
                    action,
                } => (
                    "altered",
                    format!(
                        "entry {seq} of {} ({action}, record {}) was altered: its hash does not match entry {}'s prev",
                        chain_text(author, chain),
                        short(record),
                        seq + 1
                    ),
                ),
                Problem::Reordered {
                    author,
                    chain,
                    seq,
                    record,
                } => (
                    "reordered",
                    format!(
                        "entry {seq} of {} (record {}) is out of order: it was not written after entry {}",
                        chain_text(author, chain),
                        short(record),
                        seq.saturating_sub(1)
                    ),
                ),
                Problem::Forked {
                    author,
                    chain,
                    seq,
                    records,
                } => (
                    "forked",
                    format!(
                        "entry {seq} of {} exists twice: records {}",
                        chain_text(author, chain),
                        records.iter().map(short).collect::<Vec<_>>().join(", ")
                    ),
                ),
                _ => ("other", format!("{p:?}")),
            };
            problems.push(json!({"kind": kind, "message": message}));
        }
        Ok(json!({
            "ok": problems.is_empty(),
            "envelopes": stored,
            "entries": entries.len(),
            "problems": problems,
            "retention_days": self.audit_retention_days()?,
        }))
    }
}
