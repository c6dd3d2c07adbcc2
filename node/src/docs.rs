//! Documents on this node: scopes and their keys, sealing changes into
//! envelopes, and rebuilding documents from the valid envelopes.
//!
//! The path of an edit: the workspace model turns it into an automerge
//! change; it is sealed into an envelope under the scope's current epoch,
//! checked against the validity rule exactly as a peer would check it, and
//! stored durably before the command reports success.

use crate::home::Passphrase;
use crate::local::Local;
use anyhow::{Context, Result, bail};
use outpost_identity::scope::{Principal, Reshare, ScopeDef};
use outpost_identity::{AuthState, Body, ExchangeKey, MemberKeys, OpId, PublicKey, Role, Timestamp};
use outpost_seal::envelope::{DocId, EnvId, Envelope, Header, Payload};
use outpost_seal::epoch::{EpochSecret, Keyring, new_epoch};
use outpost_seal::replica::DocKey;
use outpost_seal::{Replica, Verdict};
use outpost_workspace::TextDoc;

/// Stored envelopes read (and, for the replica, verified) at a time when
/// every envelope is loaded: a few MB of bytes, enough to keep the cores
/// busy.
pub(crate) const REPLICA_LOAD_CHUNK: usize = 16_384;

/// Most changes [`Local::append_each`] makes in one batch.
pub const APPENDS_MAX: usize = 1000;

/// The store key of a document: scope id ‖ doc id.
pub fn doc_key_bytes(doc: &DocKey) -> [u8; 48] {
    let mut k = [0u8; 48];
    k[..32].copy_from_slice(&doc.0.0);
    k[32..].copy_from_slice(&doc.1.0);
    k
}

/// A document as this member sees it.
#[derive(Debug)]
pub struct DocView {
    /// Scope and id.
    pub key: DocKey,
    /// The scope's name.
    pub scope_name: String,
    /// The document, if this member can read it.
    pub doc: Option<TextDoc>,
    /// Valid changes.
    pub changes: usize,
    /// The last valid change's time.
    pub updated: Timestamp,
}

impl Local {
    /// The member's epoch secrets: stored ones, plus any newly unwrapped
    /// from the authorisation state (which are then stored, encrypted).
    pub fn keyring(&self, member: &MemberKeys, pass: &Passphrase) -> Result<Keyring> {
        let storage = self.storage_key(pass)?;
        let mut ring = Keyring::new();
        for (epoch, sealed) in self.store.secrets()? {
            let secret = storage
                .open("secrets-1", &epoch, &sealed)
                .context("a stored epoch secret cannot be decrypted: the store or the storage key is damaged")?;
            let bytes: [u8; 32] = secret
                .as_slice()
                .try_into()
                .context("a stored epoch secret has the wrong length")?;
            ring.insert(OpId(epoch), EpochSecret::from_bytes(bytes));
        }
        if let Some(state) = self.state() {
            let mut fresh = ring.clone();
            for epoch in fresh.learn(state, member) {
                let secret = fresh.get(&epoch).expect("just learnt").clone();
                // Learnt from the ops again if it cannot be kept now (a
                // full disk): reading goes on with it in memory.
                if let Err(e) = self
                    .store
                    .put_secret(&epoch.0, &storage.seal("secrets-1", &epoch.0, secret.bytes()))
                {
                    tracing::warn!("epoch secret not saved, learnt again later: {e}");
                }
                ring.insert(epoch, secret);
            }
        }
        Ok(ring)
    }

    /// All envelopes of this node with the authorisation state, verdicts
    /// computed.
    ///
    /// Building it decodes, verifies and judges every envelope held, which
    /// takes most of a second at ten thousand; so it is built once and kept
    /// current: writers hand what they stored to [`Local::note_stored`], new
    /// ops only make the verdicts be recomputed (no signature is checked
    /// again), and only if the store holds envelopes the replica was not
    /// told about (another process wrote them) is it built again.
    pub fn replica(&self) -> Result<std::cell::Ref<'_, Replica>> {
        let state = self.require_org()?;
        let count = self.store.envelope_count()?;
        {
            let mut cache = self.replica_cache.borrow_mut();
            let current = match cache.as_mut() {
                Some(c) if c.replica.len() as u64 == count => {
                    if c.ops != state.len() {
                        c.replica.set_auth(state.clone());
                        c.ops = state.len();
                    }
                    c.replica.refresh();
                    true
                }
                _ => false,
            };
            if !current {
                let mut replica = Replica::with_state(state.clone());
                // Verified again (the store may have been altered), on
                // every core: this is most of a large node's start. A
                // chunk at a time, so the store's bytes are never all in
                // memory beside the decoded envelopes.
                self.store.envelope_chunks(REPLICA_LOAD_CHUNK, |stored| -> Result<()> {
                    let refs: Vec<&[u8]> = stored.iter().map(Vec::as_slice).collect();
                    for env in crate::sync::decode_all(&refs) {
                        let env =
                            env.with_context(|| format!("an envelope in {} is damaged", self.store.path().display()))?;
                        replica.insert_envelope(env);
                    }
                    Ok(())
                })?;
                replica.refresh();
                *cache = Some(crate::local::CachedReplica {
                    ops: state.len(),
                    replica,
                });
            }
        }
        Ok(std::cell::Ref::map(self.replica_cache.borrow(), |c| {
            &c.as_ref().expect("built just above").replica
        }))
    }

    /// Tells the replica and the kept sync views about envelopes just
    /// stored (new to the store, already verified); the replica judges
    /// them at its next use. `in_replica`: the replica holds them already.
    pub fn note_stored(&self, envs: Vec<Envelope>, in_replica: bool) -> Result<()> {
        let count = self.store.envelope_count()?;
        let ops = self.state().map_or(0, AuthState::len);
        self.sync_views.borrow_mut().add(&envs, ops, count);
        let mut cache = self.replica_cache.borrow_mut();
        if let Some(c) = cache.as_mut() {
            if !in_replica {
                for env in envs {
                    c.replica.insert_envelope(env);
                }
            }
            if c.replica.len() as u64 != count {
                // Someone else wrote too: build again at the next use.
                *cache = None;
            }
        }
        Ok(())
    }

    /// Members who may read `scope` now (under the policy in force), with
    /// their exchange keys.
    pub(crate) fn readers(&self, scope: &OpId, now: Timestamp) -> Result<Vec<(PublicKey, ExchangeKey)>> {
        let state = self.require_org()?;
        let def = state.scope(scope).context("unknown scope")?;
        Ok(readers_under(state, scope, def, now))
    }

    /// Creates a scope and its first key epoch; returns the scope id.
    pub fn create_scope(&mut self, def: ScopeDef, pass: &Passphrase, now: Timestamp) -> Result<OpId> {
        let member = self.member_keys(pass)?;
        let state = self.require_org()?;
        let scope_op = state.sign_body(&member.signing, Body::Scope(def), now)?;
        let scope = scope_op.id;
        self.add_ops(vec![scope_op], None)?;
        self.rekey(scope, &member, pass, now)?;
        Ok(scope)
    }

    /// Starts a new epoch of `scope` for its current readers, chaining every
    /// earlier secret this member holds. The epoch keeps the readers and
    /// writers in force.
    pub fn rekey(&mut self, scope: OpId, member: &MemberKeys, pass: &Passphrase, now: Timestamp) -> Result<OpId> {
        let readers = self.readers(&scope, now)?;
        let ring = self.keyring(member, pass)?;
        let previous = chained(self.require_org()?, &ring, &scope);
        let (rekey, secret) = new_epoch(scope, &readers, &previous, &mut rand::rng());
        self.post_epoch(member, Body::Rekey(rekey), secret, pass, now)
    }

    /// Changes who may read and write `scope`, from a new epoch on: its
    /// secret is wrapped to every member the new policy lets read (live
    /// certificates), and every earlier secret this member holds is chained
    /// into it, so that new readers read the history. A member the new
    /// policy no longer lets read does not get this epoch's secret or any
    /// later one, but keeps those of earlier epochs: what they could read
    /// stays readable to them, what is written from now on does not. A
    /// writer made view-only has their later changes refused everywhere
    /// once they know of the change (the validity rule). The scope's name
    /// stays.
    ///
    /// Only the scope's owner (who created it) or an admin may; the owner
    /// must stay among the writers, an admin may leave. The op goes out to
    /// peers like any other. Returns the new epoch.
    pub fn reshare(
        &mut self,
        scope: OpId,
        readers: Vec<Principal>,
        writers: Vec<Principal>,
        pass: &Passphrase,
        now: Timestamp,
    ) -> Result<OpId> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let state = self.require_org()?;
        let current = state
            .scope(&scope)
            .with_context(|| format!("no scope {scope} is known here: check the id, or sync with your peers first"))?;
        let (_, mine) = state
            .role_of(&self.member, now)
            .context("you hold no valid certificate: you cannot change who reads and writes a scope")?;
        let admin = mine.role == Role::Admin;
        if !admin && state.scope_owner(&scope) != Some(self.member) {
            bail!(
                "you ({}, {}) may not change who reads and writes scope {:?}: only its owner (who created it) or an admin may",
                mine.name,
                mine.role,
                current.name
            );
        }
        let next = ScopeDef {
            name: current.name.clone(),
            readers,
            writers,
            nonce: current.nonce,
        };
        if !admin && !next.allows_write(mine) {
            bail!(
                "these writers do not include you: as the owner of scope {:?} you would lock yourself out of it; add yourself ({}) to the writers, or ask an admin to make this change",
                current.name,
                Principal::Member(self.member)
            );
        }
        if let Some(epoch) = state.writer_epoch(&scope)
            && ring.get(&epoch).is_none()
        {
            tracing::warn!(
                "you do not hold the current key of scope {scope}: readers the change adds will not read its history until a member who holds it rekeys"
            );
        }
        let wrap_to = readers_under(state, &scope, &next, now);
        let previous = chained(state, &ring, &scope);
        let (rekey, secret) = new_epoch(scope, &wrap_to, &previous, &mut rand::rng());
        let body = Body::Reshare(Reshare {
            rekey,
            readers: next.readers,
            writers: next.writers,
        });
        self.post_epoch(&member, body, secret, pass, now)
    }

    /// Signs `body` (a rekey or a reshare whose new secret is `secret`),
    /// stores the secret and then the op, which goes to the outbox.
    fn post_epoch(
        &mut self,
        member: &MemberKeys,
        body: Body,
        secret: EpochSecret,
        pass: &Passphrase,
        now: Timestamp,
    ) -> Result<OpId> {
        let op = self.require_org()?.sign_body(&member.signing, body, now)?;
        let epoch = op.id;
        // The secret is stored before the op, so the epoch is never without it here.
        let storage = self.storage_key(pass)?;
        self.store
            .put_secret(&epoch.0, &storage.seal("secrets-1", &epoch.0, secret.bytes()))?;
        self.add_ops(vec![op], None)?;
        Ok(epoch)
    }

    /// The scope for department `dept` (readers and writers: that subtree),
    /// made if it does not exist yet.
    pub fn dept_scope(&mut self, dept: &outpost_identity::DeptPath, pass: &Passphrase, now: Timestamp) -> Result<OpId> {
        let principal = if dept.segments().is_empty() {
            Principal::Everyone
        } else {
            Principal::Dept(dept.clone())
        };
        // Refuse before anything is stored: the validity rule would refuse
        // the document's first change and leave an empty scope behind.
        let (_, mine) = self
            .require_org()?
            .role_of(&self.member, now)
            .context("you hold no valid certificate: you cannot write")?;
        let probe = ScopeDef {
            name: String::new(),
            readers: Vec::new(),
            writers: vec![principal.clone()],
            nonce: 0,
        };
        if !probe.allows_write(mine) {
            let whole = |d: &outpost_identity::DeptPath| {
                if d.segments().is_empty() {
                    "the whole org".to_owned()
                } else {
                    d.to_string()
                }
            };
            bail!(
                "you ({} in {}) may not write in {}: only its members may; create the document in your own department, or share one with them: --writers dept:{dept}",
                mine.role,
                whole(&mine.dept),
                whole(dept),
            );
        }
        let state = self.require_org()?;
        let existing = state.scopes().find(|(id, s)| {
            s.readers == [principal.clone()] && s.writers == [principal.clone()] && state.writer_epoch(id).is_some()
        });
        if let Some((id, _)) = existing {
            return Ok(id);
        }
        let name = if dept.segments().is_empty() {
            "Everyone".to_owned()
        } else {
            dept.to_string()
        };
        let def = ScopeDef {
            name,
            readers: vec![principal.clone()],
            writers: vec![principal],
            nonce: rand::random(),
        };
        self.create_scope(def, pass, now)
    }

    /// Seals `change` into `doc` as this member, checks it as any peer
    /// would, and stores it: durably, or with [`Local::defer_durability`]
    /// (the daemon) to be made durable by the caller before it is
    /// acknowledged. Fails (storing nothing) if the rule refuses it.
    pub fn write_change(&mut self, doc: DocKey, change: Vec<u8>, pass: &Passphrase, now: Timestamp) -> Result<EnvId> {
        self.write_payload(doc, Payload::Change(change), pass, now)
    }

    /// Seals `payload` (a document change or a chat entry) into `doc` as
    /// this member on top of the document's heads, checks it and stores it,
    /// as [`Local::write_change`] describes.
    pub fn write_payload(&mut self, doc: DocKey, payload: Payload, pass: &Passphrase, now: Timestamp) -> Result<EnvId> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let env = {
            let replica = self.replica()?;
            let env = Writer::new(replica.auth(), &member, &ring, doc, now)?.seal(replica.heads(&doc), payload);
            match replica.trial(&env) {
                Verdict::Valid => {}
                Verdict::Invalid(why) => bail!("refused: {why}"),
                other => bail!("this change cannot be checked yet ({other:?}); sync with your peers first"),
            }
            env
        };
        self.store.put_envelopes_with(
            [(&doc_key_bytes(&doc), &env.id.0, env.bytes.as_slice())],
            !self.defer_durability,
        )?;
        if self.defer_durability {
            self.deferred_write();
        }
        self.metrics
            .envelopes_written
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.note_stored(vec![env.clone()], false)?;
        self.push_outbox(crate::local::frame::wrap(crate::local::frame::ENVELOPE, &env.bytes));
        Ok(env.id)
    }

    /// Creates a document in `scope`.
    pub fn create_doc(&mut self, scope: OpId, title: &str, pass: &Passphrase, now: Timestamp) -> Result<DocKey> {
        outpost_identity::op::check_text("title", title, true)?;
        let doc = DocId::generate(&mut rand::rng());
        let (_, change) = TextDoc::create(&doc.0, title)?;
        let key = (scope, doc);
        self.write_change(key, change, pass, now)?;
        Ok(key)
    }

    /// Finds a document by a prefix of its id.
    pub fn find_doc(&self, replica: &Replica, prefix: &str) -> Result<DocKey> {
        let prefix = prefix.trim().to_ascii_lowercase();
        let found: Vec<DocKey> = replica
            .docs()
            .filter(|(_, d)| d.to_hex().starts_with(&prefix))
            .copied()
            .collect();
        match found.as_slice() {
            [one] if !prefix.is_empty() => Ok(*one),
            [] | [_] => bail!("no document {prefix:?} here; see `outpost doc list`"),
            many => bail!("{prefix:?} matches {} documents; give more digits", many.len()),
        }
    }

    /// The valid changes of a document, opened; `None` if this member holds
    /// no key for some of them.
    fn changes(&self, replica: &Replica, ring: &Keyring, doc: &DocKey) -> Option<Vec<(Envelope, Vec<u8>)>> {
        replica
            .valid_in_order(doc)
            .into_iter()
            .map(|env| match env.open(ring.get(&env.header.epoch)?).ok()? {
                Payload::Change(c) => Some((env.clone(), c)),
                _ => None,
            })
            .collect()
    }

    /// A document as this member sees it. The materialised document is
    /// cached, encrypted, in the snapshots table and reused while the
    /// document's heads are unchanged.
    pub fn view_doc(
        &self,
        replica: &Replica,
        ring: &Keyring,
        doc: &DocKey,
        actor: &[u8],
        pass: &Passphrase,
    ) -> Result<DocView> {
        let state = replica.auth();
        let scope_name = state.scope(&doc.0).map(|s| s.name.clone()).unwrap_or_default();
        let valid = replica.valid_in_order(doc);
        let updated = valid.iter().map(|e| e.header.time).max().unwrap_or(Timestamp(0));
        let mut heads: Vec<[u8; 32]> = replica.heads(doc).iter().map(|e| e.0).collect();
        heads.sort();
        let key = doc_key_bytes(doc);
        let storage = self.storage_key(pass)?;
        let cached = self
            .store
            .snapshot(&key)?
            .and_then(|sealed| storage.open("snapshots-1", &key, &sealed))
            .and_then(|plain| postcard::from_bytes::<(Vec<[u8; 32]>, Vec<u8>)>(&plain).ok())
            .filter(|(h, _)| *h == heads)
            // Only while this member still holds every key the document needs.
            .filter(|_| valid.iter().all(|e| ring.get(&e.header.epoch).is_some()))
            .and_then(|(_, saved)| TextDoc::load(actor, &saved).ok());
        let doc_model = match cached {
            Some(d) => Some(d),
            None => match self.changes(replica, ring, doc) {
                Some(changes) => {
                    let mut d = TextDoc::from_changes(actor, changes.into_iter().map(|(_, c)| c))?;
                    let plain = zeroize::Zeroizing::new(
                        postcard::to_stdvec(&(&heads, d.save())).expect("serialising into a Vec cannot fail"),
                    );
                    // A cache: a read must not fail because it cannot be
                    // saved (a full disk); it is rebuilt next time.
                    if let Err(e) = self
                        .store
                        .put_snapshot(&key, &storage.seal("snapshots-1", &key, &plain))
                    {
                        tracing::warn!("document snapshot not saved: {e}");
                    }
                    Some(d)
                }
                None => None,
            },
        };
        Ok(DocView {
            key: *doc,
            scope_name,
            doc: doc_model,
            changes: valid.len(),
            updated,
        })
    }
}

impl Local {
    /// Revokes `target`, recording the heads of every document held here
    /// (so changes the revoked member makes later are refused everywhere),
    /// then rekeys each scope whose current key any member whose
    /// certificate falls with it held, where this member may rekey.
    /// Returns the revocation and the new epochs.
    pub fn revoke(
        &mut self,
        signer: &outpost_identity::keys::Signer25519,
        target: OpId,
        reason: &str,
        pass: &Passphrase,
        now: Timestamp,
    ) -> Result<(OpId, Vec<OpId>)> {
        let seen: Vec<([u8; 16], Vec<[u8; 32]>)> = {
            let replica = self.replica()?;
            replica
                .docs()
                .map(|d| (d.1.0, replica.heads(d).iter().map(|e| e.0).collect::<Vec<_>>()))
                .filter(|(_, heads)| !heads.is_empty())
                .collect()
        };
        let state = self.require_org()?;
        let op = state.sign_revocation(signer, target, reason, seen, now)?;
        let id = op.id;
        self.add_ops(vec![op], None)?;
        // Everyone whose certificate falls with the target, by member key.
        let state = self.require_org()?;
        let fallen: std::collections::BTreeSet<PublicKey> = state
            .role_certs()
            .filter(|(cert, _)| state.chain(*cert).contains(&target))
            .map(|(_, c)| c.subject)
            .collect();
        let mut rekeyed = Vec::new();
        if fallen.is_empty() {
            return Ok((id, rekeyed));
        }
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let state = self.require_org()?;
        let exposed: Vec<OpId> = state
            .scopes()
            .filter_map(|(scope, _)| {
                let epoch = state.writer_epoch(&scope)?;
                let held_by_them = state.wraps_of(&epoch).iter().any(|w| fallen.contains(&w.to));
                (held_by_them && ring.get(&epoch).is_some()).then_some(scope)
            })
            .collect();
        for scope in exposed {
            match self.rekey(scope, &member, pass, now) {
                Ok(epoch) => rekeyed.push(epoch),
                Err(e) => tracing::warn!("could not rekey scope {scope} after the revocation: {e:#}"),
            }
        }
        Ok((id, rekeyed))
    }
}

impl Local {
    /// Key stewardship: for every scope whose current key this member
    /// holds, wraps it to readers who should have it under the policy in
    /// force and do not (members certified after the rekey or reshare);
    /// and if someone who holds it may no longer read the scope (revoked,
    /// expired, moved to another department), starts a new epoch without
    /// them, where this member may write the scope. A reader a reshare
    /// removed never held the reshare's key, so nothing is rekeyed for
    /// them; they keep earlier epochs' secrets. Several members may do so
    /// at once: concurrent rekeys resolve the same way everywhere. Returns
    /// how many wraps and rekeys were posted.
    pub fn steward_keys(&mut self, pass: &Passphrase, now: Timestamp) -> Result<usize> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let state = self.require_org()?.clone();
        let mine = state.role_of(&self.member, now).map(|(_, c)| c.clone());
        let mut posted = 0;
        for (scope, def) in state.scopes() {
            let Some(epoch) = state.writer_epoch(&scope) else {
                continue;
            };
            let (Some(secret), Some(rekey)) = (ring.get(&epoch), state.epoch(&epoch)) else {
                continue;
            };
            let readers = self.readers(&scope, now)?;
            let have: std::collections::BTreeSet<PublicKey> = state.wraps_of(&epoch).iter().map(|w| w.to).collect();
            let stale = have.iter().any(|k| !readers.iter().any(|(r, _)| r == k));
            if stale && mine.as_ref().is_some_and(|c| def.allows_write(c)) {
                match self.rekey(scope, &member, pass, now) {
                    Ok(_) => {
                        tracing::info!("scope {scope}: a holder of its key may no longer read it; started a new epoch");
                        posted += 1;
                        continue;
                    }
                    Err(e) => tracing::warn!("could not rekey scope {scope}: {e:#}"),
                }
            }
            let missing: Vec<(PublicKey, ExchangeKey)> =
                readers.into_iter().filter(|(k, _)| !have.contains(k)).collect();
            if missing.is_empty() {
                continue;
            }
            let wraps = missing
                .iter()
                .map(|(to, x)| outpost_seal::epoch::wrap(secret, *to, x, &scope, &rekey.salt, &mut rand::rng()))
                .collect();
            let body = Body::AddWraps(outpost_identity::scope::AddWraps { epoch, wraps });
            match state.sign_body(&member.signing, body, now) {
                Ok(op) => {
                    self.add_ops(vec![op], None)?;
                    posted += missing.len();
                }
                Err(e) => tracing::debug!("not wrapping scope {scope}: {e}"),
            }
        }
        Ok(posted)
    }
}

/// The secrets of `scope`'s epochs in `ring`, to chain into a new epoch.
fn chained(state: &AuthState, ring: &Keyring, scope: &OpId) -> Vec<(OpId, EpochSecret)> {
    ring.iter()
        .filter(|(e, _)| state.epoch(e).is_some_and(|r| r.scope == *scope))
        .map(|(e, s)| (*e, s.clone()))
        .collect()
}

/// Members whose live role certificate `def` lets read `scope`, with their
/// exchange keys, by key.
fn readers_under(state: &AuthState, scope: &OpId, def: &ScopeDef, now: Timestamp) -> Vec<(PublicKey, ExchangeKey)> {
    let mut out: Vec<(PublicKey, ExchangeKey)> = state
        .role_certs()
        .filter(|(id, c)| state.status(id, now).is_live() && def.allows_read(scope, c))
        .map(|(_, c)| (c.subject, c.exchange))
        .collect();
    out.sort();
    out.dedup_by_key(|(k, _)| *k);
    out
}

/// What sealing this member's changes to one document needs: the current
/// certificate, the scope's writer epoch and its secret, the control heads.
struct Writer<'a> {
    member: &'a MemberKeys,
    cert: OpId,
    doc: DocKey,
    auth_heads: Vec<OpId>,
    epoch: OpId,
    secret: &'a EpochSecret,
    now: Timestamp,
}

impl<'a> Writer<'a> {
    /// Fails, saying why, if this member may not write `doc` now.
    fn new(
        state: &outpost_identity::AuthState,
        member: &'a MemberKeys,
        ring: &'a Keyring,
        doc: DocKey,
        now: Timestamp,
    ) -> Result<Writer<'a>> {
        let (cert, _) = state
            .role_of(&member.public(), now)
            .context("you hold no valid certificate: you cannot write")?;
        let epoch = state.writer_epoch(&doc.0).context("this scope has no key epoch yet")?;
        let secret = ring
            .get(&epoch)
            .context("you do not hold this scope's current key: you may not read or write it")?;
        Ok(Writer {
            member,
            cert,
            doc,
            auth_heads: state.heads(),
            epoch,
            secret,
            now,
        })
    }

    /// Seals `payload` on top of `deps`.
    fn seal(&self, deps: Vec<EnvId>, payload: Payload) -> Envelope {
        let header = Header {
            doc: self.doc.1,
            scope: self.doc.0,
            author: self.member.public(),
            cert: self.cert,
            deps,
            auth_heads: self.auth_heads.clone(),
            epoch: self.epoch,
            time: self.now,
            nonce: [0; 24],
        };
        Envelope::seal(header, &payload, self.secret, &self.member.signing, &mut rand::rng())
    }
}

/// Seals `payload` for `doc` on top of `deps` as this member, under the
/// scope's current epoch, without judging or storing it.
pub(crate) fn seal_with(
    state: &outpost_identity::AuthState,
    member: &MemberKeys,
    ring: &Keyring,
    doc: DocKey,
    now: Timestamp,
    deps: Vec<EnvId>,
    payload: Payload,
) -> Result<Envelope> {
    Ok(Writer::new(state, member, ring, doc, now)?.seal(deps, payload))
}

/// A document opened for reading or editing: everything needed to view it
/// and to write the next change.
#[derive(Debug)]
pub struct OpenDoc {
    /// The document's heads when opened.
    pub heads: Vec<EnvId>,
    /// This member's keys.
    pub ring: Keyring,
    /// Which document.
    pub key: DocKey,
    /// How it looks to this member.
    pub view: DocView,
}

impl Local {
    /// Opens the document whose id starts with `id`.
    pub fn open_doc(&self, id: &str, pass: &Passphrase) -> Result<OpenDoc> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let key = self.find_doc(&replica, id)?;
        let view = self.view_doc(&replica, &ring, &key, &self.device.0[..16], pass)?;
        Ok(OpenDoc {
            heads: replica.heads(&key),
            ring,
            key,
            view,
        })
    }

    /// Appends each of `texts` to the document `id` as its own change, in
    /// order, and stores them all in one transaction. The document, the
    /// keys and the verdicts are computed once for the whole batch (not once
    /// per change, as [`Local::edit_doc`] would), so a batch of
    /// [`APPENDS_MAX`] costs about as much as one edit. Nothing is stored if
    /// any change is refused. Returns the new changes.
    pub fn append_each(&mut self, id: &str, texts: &[String], pass: &Passphrase) -> Result<(DocKey, Vec<EnvId>)> {
        if texts.len() > APPENDS_MAX {
            bail!(
                "{} appends in one batch; at most {APPENDS_MAX}: split them",
                texts.len()
            );
        }
        let open = self.open_doc(id, pass)?;
        let mut doc = open
            .view
            .doc
            .context("you may not read this document, so you cannot edit it")?;
        let member = self.member_keys(pass)?;
        let replica = self.replica()?;
        let key = open.key;
        let now = crate::now();
        let writer = Writer::new(replica.auth(), &member, &open.ring, key, now)?;
        let mut deps = replica.heads(&key);
        let mut envs = Vec::with_capacity(texts.len());
        for text in texts {
            let Some(change) = doc.append(text)? else { continue };
            let env = writer.seal(std::mem::take(&mut deps), Payload::Change(change));
            deps = vec![env.id];
            envs.push(env);
        }
        drop(replica);
        // Each change depends on the one before: judge them inside the
        // replica, and forget it if one is refused (nothing was stored).
        {
            let mut cache = self.replica_cache.borrow_mut();
            let c = cache.as_mut().expect("built by Local::replica above");
            for env in &envs {
                c.replica.insert_envelope(env.clone());
            }
            c.replica.refresh();
            let refused = envs.iter().find_map(|e| match c.replica.verdict(&e.id) {
                Some(Verdict::Valid) => None,
                other => Some(other.cloned()),
            });
            if let Some(verdict) = refused {
                *cache = None;
                match verdict {
                    Some(Verdict::Invalid(why)) => bail!("refused: {why}"),
                    other => bail!("this change cannot be checked yet ({other:?}); sync with your peers first"),
                }
            }
        }
        let doc_key = doc_key_bytes(&key);
        let stored = self.store.put_envelopes_with(
            envs.iter().map(|e| (&doc_key, &e.id.0, e.bytes.as_slice())),
            !self.defer_durability,
        );
        if let Err(e) = stored {
            // The replica holds them already: forget it.
            *self.replica_cache.borrow_mut() = None;
            return Err(e.into());
        } else {
            self.metrics
                .envelopes_written
                .fetch_add(envs.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        if self.defer_durability {
            self.deferred_write();
        }
        self.note_stored(envs.clone(), true)?;
        for env in &envs {
            self.push_outbox(crate::local::frame::wrap(crate::local::frame::ENVELOPE, &env.bytes));
        }
        Ok((key, envs.iter().map(|e| e.id).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::Home;
    use outpost_identity::request::Bundle;
    use outpost_identity::{DeptPath, RoleCert};

    fn member_cert(keys: &MemberKeys, name: &str, now: Timestamp) -> RoleCert {
        RoleCert {
            serial: rand::random(),
            subject: keys.public(),
            exchange: keys.exchange_public(),
            name: name.to_owned(),
            email: String::new(),
            dept: DeptPath::parse("HQ/Mkt").expect("a valid path"),
            position: String::new(),
            level: 1,
            role: Role::Member,
            resources: Vec::new(),
            not_before: now,
            not_after: now.plus(30 * 86_400),
            invite: None,
        }
    }

    /// Gives `to` every op `from` holds, as a bundle would.
    fn carry(from: &Local, to: &mut Local) {
        let bundle = from.bundle_all().expect("a bundle of the org");
        let (b, ops) = Bundle::decode(&bundle.encode()).expect("decodes");
        if to.state().is_none() {
            to.pin_org(b.root, &b.org_name).expect("pinned");
        }
        to.add_ops(ops, None).expect("ops added");
    }

    #[test]
    fn a_reshare_makes_a_writer_view_only_and_only_the_owner_or_an_admin_may() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let pass = Passphrase::default();
        let now = crate::now();
        let homes: Vec<Home> = ["admin", "owner", "writer"]
            .iter()
            .map(|n| Home::at(dir.path().join(n)))
            .collect();
        for h in &homes {
            h.init(&pass).expect("initialised");
        }
        let mut admin = Local::open(homes[0].clone()).expect("opens");
        admin.create_org("Acme", "Admin", &pass, now).expect("org created");
        let admin_keys = homes[0].member_keys(&pass).expect("keys");
        for (h, name) in homes[1..].iter().zip(["Owner", "Writer"]) {
            let keys = h.member_keys(&pass).expect("keys");
            let op = admin
                .require_org()
                .expect("an org")
                .sign_grant(&admin_keys.signing, member_cert(&keys, name, now), now)
                .expect("granted");
            admin.add_ops(vec![op], None).expect("stored");
        }
        let mut owner = Local::open(homes[1].clone()).expect("opens");
        let mut writer = Local::open(homes[2].clone()).expect("opens");
        carry(&admin, &mut owner);
        carry(&admin, &mut writer);

        let mkt = Principal::Dept(DeptPath::parse("HQ/Mkt").expect("a valid path"));
        let def = ScopeDef {
            name: "shared document".into(),
            readers: vec![mkt.clone()],
            writers: vec![mkt.clone()],
            nonce: 1,
        };
        let scope = owner.create_scope(def, &pass, now).expect("scope created");
        let doc = owner.create_doc(scope, "Plan", &pass, now).expect("doc created");
        carry(&owner, &mut writer);
        let change = |text: &str| TextDoc::create(&doc.1.0, text).expect("a change").1;
        writer
            .write_change(doc, change("mine"), &pass, now)
            .expect("a writer writes");

        // The writer may not change who reads and writes.
        let err = writer
            .reshare(scope, vec![mkt.clone()], vec![mkt.clone()], &pass, now)
            .expect_err("only the owner or an admin");
        assert!(format!("{err:#}").contains("only its owner"), "{err:#}");
        // The owner may not lock themselves out; an admin may leave.
        let err = owner
            .reshare(scope, vec![mkt.clone()], vec![], &pass, now)
            .expect_err("the owner stays a writer");
        assert!(format!("{err:#}").contains("lock yourself out"), "{err:#}");

        owner.take_outbox();
        let me = Principal::Member(homes[1].member_public().expect("a key"));
        let epoch = owner
            .reshare(scope, vec![mkt.clone()], vec![me.clone()], &pass, now)
            .expect("the owner reshares");
        assert_eq!(owner.take_outbox().len(), 1, "the reshare goes out to peers");
        let state = owner.require_org().expect("an org");
        assert_eq!(state.writer_epoch(&scope), Some(epoch));
        assert_eq!(state.scope(&scope).map(|s| s.writers.clone()), Some(vec![me]));

        // The writer, now view-only, still reads the new epoch but may not write.
        carry(&owner, &mut writer);
        let keys = homes[2].member_keys(&pass).expect("keys");
        let ring = writer.keyring(&keys, &pass).expect("a keyring");
        assert!(ring.get(&epoch).is_some(), "a view-only reader holds the key");
        let err = writer
            .write_change(doc, change("still mine?"), &pass, now)
            .expect_err("view-only");
        assert!(format!("{err:#}").contains("view-only"), "{err:#}");
        // The owner still writes.
        owner
            .write_change(doc, change("the owner's"), &pass, now)
            .expect("the owner writes");

        // An admin may make the change, and may leave the writers.
        carry(&owner, &mut admin);
        admin
            .reshare(scope, vec![mkt.clone()], vec![mkt], &pass, now)
            .expect("an admin reshares");
    }
}
