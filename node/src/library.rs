//! The library: every text document and file this member can read, in
//! spaces and folders, kept live in memory as changes arrive.
//!
//! A *space* is a scope: its readers and writers are the permissions of
//! everything in it (departments have one each, made on first use;
//! projects and shared documents get their own). Changing a space's
//! permissions is a reshare: a signed authorisation op by its owner or an
//! admin that starts a new key epoch wrapped to the new readers
//! (`Local::reshare`). A *folder* is a path inside a space, kept in each
//! entry's own metadata; moving within a space is an edit, moving to a
//! space with other permissions copies the entry (its whole automerge
//! history, re-sealed by the mover) and leaves the old one trashed.
//!
//! Each document read is kept as a [`LiveDoc`]: the automerge document
//! with the envelopes applied to it, brought up to date by applying only
//! envelopes that became valid since, so an edit costs the same however
//! long the document's history.

use crate::home::Passphrase;
use crate::local::Local;
use anyhow::{Context, Result, bail};
use outpost_identity::scope::{Principal, ScopeDef};
use outpost_identity::{OpId, Role, Timestamp};
use outpost_seal::Replica;
use outpost_seal::envelope::{DocId, EnvId, Envelope, Payload};
use outpost_seal::epoch::Keyring;
use outpost_seal::replica::DocKey;
use outpost_workspace::Model;
use outpost_workspace::doc::{Edit, change_hash};
use serde_json::{Value, json};
use std::collections::HashMap;

/// This member holds no key of an entry's space.
#[derive(Debug, thiserror::Error)]
#[error(
    "this node holds the document's changes but cannot read them: it holds no key of the document's space (a relay never does; a member gets one from a reader of the space)"
)]
pub struct NoKey;

/// A document or file kept current in memory.
#[derive(Debug)]
pub struct LiveDoc {
    /// The automerge model.
    pub model: Model,
    /// The envelope heads it reflects.
    pub heads: Vec<EnvId>,
    /// Envelopes applied, with their automerge change hash.
    pub applied: HashMap<EnvId, [u8; 32]>,
    /// The last valid change's time.
    pub updated: Timestamp,
    /// Authorisation ops known when it was last brought up to date: only
    /// new ops can make an applied envelope invalid.
    pub ops: usize,
}

impl LiveDoc {
    /// The envelope holding automerge change `hash`.
    pub fn envelope_of(&self, hash: &[u8; 32]) -> Option<EnvId> {
        self.applied.iter().find(|(_, h)| *h == hash).map(|(e, _)| *e)
    }
}

/// A text document right after an edit.
#[derive(Debug, Clone)]
pub struct After {
    /// Its automerge heads.
    pub heads: Vec<[u8; 32]>,
    /// The length of its body (see `TextDoc::text_len`).
    pub text_len: usize,
}

/// Where a new document or file goes.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Place {
    /// The space: its id (or a unique prefix) or name; default: the
    /// member's department's space.
    #[serde(default)]
    pub space: Option<String>,
    /// A department path: that department's space (made on first use).
    #[serde(default)]
    pub dept: Option<String>,
    /// The folder path inside the space ("" for its top).
    #[serde(default)]
    pub folder: String,
}

/// Is `def` a space of the library (not a chat, approval request,
/// announcement, meeting or audit scope)?
fn is_space(def: &ScopeDef) -> bool {
    !def.name.starts_with("chat ") && !reserved(&def.name)
}

/// Scope names kept for the work modules' own scopes.
fn reserved(name: &str) -> bool {
    name == crate::announce::SCOPE_NAME
        || name == crate::meetings::SCOPE_NAME
        || name == crate::approvals::REQUEST_SCOPE_NAME
        || name == crate::audit::SCOPE_NAME
}

/// How principals read in the API and the CLI.
pub fn principals_text(list: &[Principal]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// Parses `everyone`, `dept:PATH`, `role:ROLE`, `member:KEY`.
pub fn parse_principals(list: &[String]) -> Result<Vec<Principal>> {
    list.iter()
        .map(|p| {
            Principal::parse(p).with_context(|| {
                format!("cannot read {p:?}: write everyone, dept:PATH, role:ROLE or member:KEY (64 hex digits)")
            })
        })
        .collect()
}

impl Local {
    /// The document `key` as of its valid envelopes, or `None` if this
    /// member cannot read all of them. Kept in memory between calls and
    /// brought up to date with what became valid since.
    pub fn live_doc(
        &self,
        replica: &Replica,
        ring: &Keyring,
        key: &DocKey,
    ) -> Result<Option<std::cell::RefMut<'_, LiveDoc>>> {
        let heads = {
            let mut h = replica.heads(key);
            h.sort();
            h
        };
        let cache = self.doc_cache.borrow_mut();
        let current = cache.get(key).is_some_and(|l| l.heads == heads);
        if !current {
            let mut cache = cache;
            let ops = replica.auth().len();
            // With no new op, nothing applied became invalid: the new
            // envelopes are those reached from the heads before meeting
            // applied ones (each valid; anything else means a full pass).
            let mut fresh: Vec<&Envelope> = Vec::new();
            let mut full = true;
            if let Some(live) = cache.get(key).filter(|l| l.ops == ops) {
                full = false;
                let mut seen: std::collections::HashSet<EnvId> = std::collections::HashSet::new();
                let mut stack: Vec<EnvId> = heads.clone();
                while let Some(id) = stack.pop() {
                    if live.applied.contains_key(&id) || !seen.insert(id) {
                        continue;
                    }
                    match (replica.envelope(&id), replica.verdict(&id)) {
                        (Some(env), Some(outpost_seal::Verdict::Valid)) => {
                            stack.extend(env.header.deps.iter().copied());
                            fresh.push(env);
                        }
                        _ => {
                            full = true;
                            break;
                        }
                    }
                }
            }
            let mut updated = cache.get(key).map_or(Timestamp(0), |l| l.updated);
            let mut rebuild = !cache.contains_key(key);
            if full {
                // One pass over the document's valid envelopes, no
                // ordering (automerge orders a batch by its dependencies).
                let mut valid_count = 0usize;
                fresh.clear();
                updated = Timestamp(0);
                let applied = cache.get(key).map(|l| &l.applied);
                for e in replica.valid_of(key) {
                    valid_count += 1;
                    updated = updated.max(e.header.time);
                    if applied.is_none_or(|a| !a.contains_key(&e.id)) {
                        fresh.push(e);
                    }
                }
                let known = applied.map_or(0, HashMap::len);
                // An envelope applied before is no longer valid (a
                // revocation can do that): start again from the valid ones.
                rebuild |= fresh.len() + known != valid_count;
                if rebuild && known > 0 {
                    fresh = replica.valid_of(key).collect();
                }
            }
            for e in &fresh {
                updated = updated.max(e.header.time);
            }
            let mut opened = Vec::with_capacity(fresh.len());
            for env in &fresh {
                let Some(secret) = ring.get(&env.header.epoch) else {
                    return Ok(None);
                };
                match env.open(secret) {
                    Ok(Payload::Change(c)) => opened.push((env.id, env.header.time, c)),
                    // Presence beats are never stored; logs belong to
                    // channels: neither is part of a document.
                    Ok(_) => {}
                    Err(e) => bail!("change {} does not open: {e}", hex::encode(env.id.0)),
                }
            }
            if rebuild {
                cache.remove(key);
                let hashes: HashMap<EnvId, [u8; 32]> = opened
                    .iter()
                    .map(|(id, _, c)| Ok((*id, change_hash(c)?)))
                    .collect::<Result<_>>()?;
                let model = Model::from_changes(&self.device.0[..16], opened.into_iter().map(|(_, _, c)| c))?;
                cache.insert(
                    *key,
                    LiveDoc {
                        model,
                        heads,
                        applied: hashes,
                        updated,
                        ops,
                    },
                );
            } else {
                let live = cache.get_mut(key).expect("checked above");
                for (id, _, c) in &opened {
                    live.applied.insert(*id, change_hash(c)?);
                }
                let held = match &live.model {
                    Model::File(f) if !f.deleted() => f.versions().iter().map(|v| v.file.blob).collect(),
                    _ => Vec::new(),
                };
                live.model.apply_changes(opened.into_iter().map(|(_, _, c)| c))?;
                if live.model.deleted() && !held.is_empty() {
                    // Deleted by someone else: this node stops holding it.
                    let blobs = crate::blobs::Blobs::new(self.home.dir());
                    for b in held {
                        if let Err(e) = blobs.remove(&outpost_seal::blob::BlobId(b)) {
                            tracing::warn!("cannot remove the blob of a deleted file: {e:#}");
                        }
                    }
                }
                live.heads = heads;
                live.updated = updated;
                live.ops = ops;
            }
            drop(cache);
            return Ok(Some(std::cell::RefMut::map(self.doc_cache.borrow_mut(), |c| {
                c.get_mut(key).expect("inserted above")
            })));
        }
        Ok(Some(std::cell::RefMut::map(cache, |c| {
            c.get_mut(key).expect("checked above")
        })))
    }

    /// The spaces this member can read: id, name, permissions, owner.
    pub fn spaces(&self, pass: &Passphrase) -> Result<Vec<Value>> {
        let state = self.require_org()?;
        let now = crate::now();
        let mine = state.role_of(&self.member, now).map(|(_, c)| c.clone());
        let _ = pass;
        let mut out = Vec::new();
        for (id, def) in state.scopes() {
            if !is_space(def) {
                continue;
            }
            let Some(cert) = &mine else { continue };
            if !def.allows_read(&id, cert) {
                continue;
            }
            let owner = state.op(&id).map(|o| o.op.author);
            out.push(json!({
                "id": id.to_hex(),
                "name": def.name,
                "readers": principals_text(&def.readers),
                "writers": principals_text(&def.writers),
                "can_write": def.allows_write(cert),
                "can_share": owner == Some(self.member) || cert.role == Role::Admin,
            }));
        }
        Ok(out)
    }

    /// Who made space `space` and every change of who may read and write
    /// it, in the order every node applies them: the permission audit of
    /// the space. Each entry is a signed op of the authorisation state.
    pub fn space_history(&self, space: &str) -> Result<Vec<Value>> {
        let scope = self.find_space(space)?;
        let state = self.require_org()?;
        let name_of = |op: &outpost_identity::SignedOp| {
            let by = op.op.author;
            state
                .role_certs()
                .find(|(_, c)| c.subject == by)
                .map_or_else(|| by.short(), |(_, c)| c.name.clone())
        };
        let mut out = Vec::new();
        for id in state.order() {
            let Some(op) = state.op(id) else { continue };
            let (what, readers, writers) = match &op.op.body {
                outpost_identity::Body::Scope(def) if *id == scope => ("created", &def.readers, &def.writers),
                outpost_identity::Body::Reshare(r) if r.rekey.scope == scope => ("reshared", &r.readers, &r.writers),
                _ => continue,
            };
            out.push(json!({
                "op": id.to_hex(),
                "what": what,
                "by": name_of(op),
                "member": op.op.author.to_string(),
                "readers": principals_text(readers),
                "writers": principals_text(writers),
                "accepted": matches!(state.verdict(id), Some(outpost_identity::state::Verdict::Accepted)),
                "in_force": false,
            }));
        }
        // The policy in force is the last entry that states it.
        if let Some(def) = state.scope(&scope) {
            let (r, w) = (
                json!(principals_text(&def.readers)),
                json!(principals_text(&def.writers)),
            );
            if let Some(e) = out.iter_mut().rev().find(|e| e["readers"] == r && e["writers"] == w) {
                e["in_force"] = json!(true);
            }
        }
        Ok(out)
    }

    /// Finds a space by id prefix or exact name.
    pub fn find_space(&self, text: &str) -> Result<OpId> {
        let state = self.require_org()?;
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        let found: Vec<OpId> = state
            .scopes()
            .filter(|(id, def)| {
                is_space(def) && (def.name == t || (lower.len() >= 4 && id.to_hex().starts_with(&lower)))
            })
            .map(|(id, _)| id)
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => bail!("no space {t:?}: see `outpost space list`"),
            many => bail!("{t:?} names {} spaces: give its id", many.len()),
        }
    }

    /// Creates a space with these permissions (the creator always writes).
    pub fn create_space(
        &mut self,
        name: &str,
        readers: Vec<Principal>,
        mut writers: Vec<Principal>,
        pass: &Passphrase,
    ) -> Result<OpId> {
        outpost_identity::op::check_text("space name", name, true)?;
        if name.starts_with("chat ") {
            bail!("space names may not start with \"chat \" (kept for chat channels)");
        }
        if reserved(name.trim()) {
            bail!(
                "{:?} is kept for the scopes of announcements and meetings: choose another name",
                name.trim()
            );
        }
        let me = Principal::Member(self.member);
        if !writers.contains(&me) {
            writers.push(me);
        }
        let detail = format!("{} readers, {} writers", readers.len(), writers.len());
        let def = ScopeDef {
            name: name.to_owned(),
            readers,
            writers,
            nonce: rand::random(),
        };
        let now = crate::now();
        let op = self.create_scope(def, pass, now)?;
        self.audit("space.create", &format!("{name} ({})", op.to_hex()), &detail, pass, now)?;
        Ok(op)
    }

    /// The space a new entry goes to.
    fn place_scope(&mut self, place: &Place, pass: &Passphrase) -> Result<OpId> {
        match (&place.space, &place.dept) {
            (Some(s), _) => self.find_space(s),
            (None, Some(d)) => {
                let dept = outpost_identity::DeptPath::parse(d)?;
                self.dept_scope(&dept, pass, crate::now())
            }
            (None, None) => {
                let now = crate::now();
                let (_, mine) = self
                    .require_org()?
                    .role_of(&self.member, now)
                    .context("you hold no valid certificate")?;
                let dept = mine.dept.clone();
                self.dept_scope(&dept, pass, now)
            }
        }
    }

    /// Every document and file this member can read (chat channels and
    /// settings excluded), newest first; trashed ones only if `trash`.
    pub fn library(&self, pass: &Passphrase, trash: bool) -> Result<Vec<Value>> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let state = replica.auth();
        let now = crate::now();
        let mine = state.role_of(&self.member, now).map(|(_, c)| c.clone());
        let mut rows = Vec::new();
        let keys: Vec<DocKey> = replica.docs().copied().collect();
        for key in keys {
            if self.is_document(&replica, &ring, &key) != Some(true) {
                continue;
            }
            let Some(live) = self.live_doc(&replica, &ring, &key)? else {
                continue;
            };
            // Boards are listed as projects (`Local::projects`).
            if matches!(live.model, Model::Board(_)) {
                continue;
            }
            let def = state.scope(&key.0);
            let row = entry_json(&key, &live, def, mine.as_ref());
            if live.model.deleted() || live.model.trashed() != trash {
                continue;
            }
            rows.push((live.updated, row));
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.0));
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    }

    /// Opens document `id` for reading: its key and keyring.
    fn open_entry(&self, id: &str, pass: &Passphrase) -> Result<(DocKey, Keyring)> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let key = self.find_doc(&replica, id)?;
        Ok((key, ring))
    }

    /// A document or file as JSON: metadata, permissions and content
    /// (blocks and Markdown for text, versions for a file).
    pub fn entry(&self, id: &str, pass: &Passphrase) -> Result<Value> {
        self.entry_with(id, true, pass)
    }

    /// [`Local::entry`], without the Markdown unless `markdown` (live
    /// editors render the blocks; Markdown costs another pass).
    pub fn entry_with(&self, id: &str, markdown: bool, pass: &Passphrase) -> Result<Value> {
        let (key, ring) = self.open_entry(id, pass)?;
        let replica = self.replica()?;
        let state = replica.auth();
        let mine = state.role_of(&self.member, crate::now()).map(|(_, c)| c.clone());
        let mut live = self.live_doc(&replica, &ring, &key)?.ok_or(NoKey)?;
        let mut row = entry_json(&key, &live, state.scope(&key.0), mine.as_ref());
        let heads: Vec<String> = live.model.heads().iter().map(hex::encode).collect();
        row["heads"] = json!(heads);
        match &live.model {
            Model::Text(d) => {
                row["blocks"] = json!(d.blocks());
                if markdown {
                    row["markdown"] = json!(d.to_markdown());
                }
                row["body"] = json!(d.body());
                row["text_len"] = json!(d.text_len());
                row["versions"] = json!(d.versions());
            }
            Model::File(f) => {
                row["versions"] = json!(f.versions().iter().map(version_json).collect::<Vec<_>>());
            }
            Model::Board(b) => {
                row["board"] = json!(b.view(crate::now().0 as i64));
            }
        }
        Ok(row)
    }
}

impl Local {
    /// Applies `f` to document `id`'s live model and stores the change it
    /// makes, checked as any peer would check it. On any refusal the live
    /// model is dropped (it holds the refused change) and rebuilt at the
    /// next use. Returns the new envelope, or `None` if nothing changed.
    pub fn change_entry<T>(
        &mut self,
        id: &str,
        pass: &Passphrase,
        f: impl FnOnce(&mut LiveDoc, &Self) -> Result<(Option<Vec<u8>>, T)>,
    ) -> Result<(DocKey, Option<EnvId>, T)> {
        let (key, ring) = self.open_entry(id, pass)?;
        let made = {
            let replica = self.replica()?;
            let mut live = self.live_doc(&replica, &ring, &key)?.ok_or(NoKey)?;
            if live.model.deleted() {
                bail!("this document was deleted permanently");
            }
            f(&mut live, self)
        };
        let (change, out) = match made {
            Ok(m) => m,
            Err(e) => {
                self.doc_cache.borrow_mut().remove(&key);
                return Err(e);
            }
        };
        let Some(change) = change else {
            return Ok((key, None, out));
        };
        let hash = change_hash(&change)?;
        match self.write_change(key, change, pass, crate::now()) {
            Ok(env) => {
                let replica = self.replica()?;
                let mut heads = replica.heads(&key);
                heads.sort();
                if let Some(live) = self.doc_cache.borrow_mut().get_mut(&key) {
                    live.applied.insert(env, hash);
                    live.heads = heads;
                    live.updated = live.updated.max(crate::now());
                }
                Ok((key, Some(env), out))
            }
            Err(e) => {
                self.doc_cache.borrow_mut().remove(&key);
                Err(e)
            }
        }
    }

    /// Applies `edits` to the text document `id`. With `base` (the
    /// automerge heads the editor saw), positions are those of the document
    /// at `base` and are carried over the changes made since (see
    /// [`outpost_workspace::doc::TextDoc::rebase`]).
    pub fn edit_text(
        &mut self,
        id: &str,
        base: Option<&[[u8; 32]]>,
        edits: &[Edit],
        pass: &Passphrase,
    ) -> Result<(DocKey, Option<EnvId>, After)> {
        self.change_entry(id, pass, |live, _| {
            let Model::Text(doc) = &mut live.model else {
                bail!("this is a file, not a text document: upload a new version instead");
            };
            let edits = match base {
                Some(b) if !b.is_empty() => doc.rebase(b, edits)?,
                _ => edits.to_vec(),
            };
            let change = doc.apply_edits(&edits)?;
            let after = After {
                heads: doc.heads(),
                text_len: doc.text_len(),
            };
            Ok((change, after))
        })
    }

    /// Replaces the body's plain text (`set`, as a minimal diff) or appends
    /// to it.
    pub fn edit_plain(
        &mut self,
        id: &str,
        set: Option<&str>,
        append: Option<&str>,
        pass: &Passphrase,
    ) -> Result<Option<(DocKey, EnvId)>> {
        let (key, env, ()) = self.change_entry(id, pass, |live, _| {
            let Model::Text(doc) = &mut live.model else {
                bail!("this is a file, not a text document: upload a new version instead");
            };
            let change = match (set, append) {
                (Some(t), _) => doc.set_body(t)?,
                (None, Some(t)) => doc.append(t)?,
                (None, None) => bail!("give the new text or the text to append"),
            };
            Ok((change, ()))
        })?;
        Ok(env.map(|e| (key, e)))
    }

    /// Creates a text document titled `title` at `place`, with Markdown
    /// `markdown` as its body if given.
    pub fn new_text(
        &mut self,
        title: &str,
        place: &Place,
        markdown: Option<&str>,
        pass: &Passphrase,
    ) -> Result<DocKey> {
        outpost_identity::op::check_text("title", title, true)?;
        let scope = self.place_scope(place, pass)?;
        let doc = DocId::generate(&mut rand::rng());
        let actor = self.device.0[..16].to_vec();
        let (mut model, first) = match markdown {
            Some(md) => outpost_workspace::TextDoc::from_markdown(&actor, title, md)?,
            None => outpost_workspace::TextDoc::create(&actor, title)?,
        };
        let mut changes = vec![first];
        if let Some(c) = model.set_folder(&place.folder)? {
            changes.push(c);
        }
        let key = (scope, doc);
        for c in changes {
            self.write_change(key, c, pass, crate::now())?;
        }
        Ok(key)
    }
}

/// A change to an entry's metadata.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct MetaChange {
    /// A new title (a file's name).
    #[serde(default)]
    pub title: Option<String>,
    /// A new folder path in the same space.
    #[serde(default)]
    pub folder: Option<String>,
    /// Move to the trash (`true`) or restore from it (`false`).
    #[serde(default)]
    pub trashed: Option<bool>,
}

/// A version of a document named by an envelope id (or prefix), an
/// automerge change hash, or a version name.
fn resolve_version(live: &LiveDoc, at: &str) -> Result<Vec<[u8; 32]>> {
    if live.model.deleted() {
        bail!("this was deleted permanently: its past versions are not shown either");
    }
    let t = at.trim();
    let lower = t.to_ascii_lowercase();
    if let Model::Text(d) = &live.model
        && let Some(v) = d.versions().into_iter().find(|v| v.name == t)
    {
        return Ok(v.heads);
    }
    if lower.len() >= 6 && lower.chars().all(|c| c.is_ascii_hexdigit()) {
        let found: Vec<[u8; 32]> = live
            .applied
            .iter()
            .filter(|(env, hash)| hex::encode(env.0).starts_with(&lower) || hex::encode(hash).starts_with(&lower))
            .map(|(_, h)| *h)
            .collect();
        match found.as_slice() {
            [one] => return Ok(vec![*one]),
            [] => {}
            _ => bail!("{t:?} matches several changes: give more digits"),
        }
    }
    bail!("no version {t:?} of this document: give a change id from its history or a version's name")
}

impl Local {
    /// Renames, moves within its space, trashes or restores entry `id`.
    pub fn set_meta(&mut self, id: &str, m: &MetaChange, pass: &Passphrase) -> Result<Option<EnvId>> {
        let mut last = None;
        if let Some(t) = &m.title {
            outpost_identity::op::check_text("title", t, true)?;
            last = self
                .change_entry(id, pass, |live, _| Ok((live.model.rename(t)?, ())))?
                .1
                .or(last);
        }
        if let Some(f) = &m.folder {
            last = self
                .change_entry(id, pass, |live, _| Ok((live.model.set_folder(f)?, ())))?
                .1
                .or(last);
        }
        if let Some(t) = m.trashed {
            last = self
                .change_entry(id, pass, |live, _| Ok((live.model.set_trashed(t)?, ())))?
                .1
                .or(last);
        }
        Ok(last)
    }

    /// Deletes entry `id` for good: its content leaves every reader's
    /// current state (history stays sealed in the store, as every signed
    /// change does), its files' blobs are removed here; the change records
    /// who did it and when.
    pub fn delete_entry(&mut self, id: &str, pass: &Passphrase) -> Result<Option<EnvId>> {
        let (_, env, blobs) = self.change_entry(id, pass, |live, _| {
            let blobs: Vec<[u8; 32]> = match &live.model {
                Model::File(f) => f.versions().iter().map(|v| v.file.blob).collect(),
                Model::Text(_) | Model::Board(_) => Vec::new(),
            };
            Ok((live.model.delete_permanently()?, blobs))
        })?;
        let store = crate::blobs::Blobs::new(self.home.dir());
        for b in blobs {
            if let Err(e) = store.remove(&outpost_seal::blob::BlobId(b)) {
                tracing::warn!("cannot remove the blob of a deleted file: {e:#}");
            }
        }
        Ok(env)
    }

    /// Who changed entry `id`, when, and what; oldest first.
    pub fn entry_history(&self, id: &str, pass: &Passphrase) -> Result<Vec<Value>> {
        let (key, ring) = self.open_entry(id, pass)?;
        let replica = self.replica()?;
        let state = replica.auth();
        let live = self.live_doc(&replica, &ring, &key)?.ok_or(NoKey)?;
        let mut out = Vec::new();
        for env in replica.valid_in_order(&key) {
            let Some(hash) = live.applied.get(&env.id) else {
                continue;
            };
            let Ok(Payload::Change(c)) = env.open(ring.get(&env.header.epoch).context("a key is missing")?) else {
                continue;
            };
            let author = state.op(&env.header.cert).and_then(|o| o.grant()).map_or_else(
                || env.header.author.short(),
                |c| match c.role {
                    Role::Admin => format!("{} (admin)", c.name),
                    _ => c.name.clone(),
                },
            );
            out.push(json!({
                "change": hex::encode(env.id.0),
                "hash": hex::encode(hash),
                "author": author,
                "member": env.header.author.to_string(),
                "time": env.header.time.0,
                "summary": outpost_workspace::doc::describe_change(&c)?,
            }));
        }
        Ok(out)
    }

    /// Entry `id` as it was at version `at`.
    pub fn entry_at(&self, id: &str, at: &str, pass: &Passphrase) -> Result<Value> {
        let (key, ring) = self.open_entry(id, pass)?;
        let replica = self.replica()?;
        let mut live = self.live_doc(&replica, &ring, &key)?.ok_or(NoKey)?;
        let heads = resolve_version(&live, at)?;
        let Model::Text(d) = &mut live.model else {
            bail!("a file's versions are listed with its entry; download one by its number");
        };
        let mut past = d.at(&heads)?;
        Ok(json!({
            "id": key.1.to_hex(),
            "at": heads.iter().map(hex::encode).collect::<Vec<_>>(),
            "title": past.title(),
            "blocks": past.blocks(),
            "markdown": past.to_markdown(),
            "heads": past.heads().iter().map(hex::encode).collect::<Vec<_>>(),
        }))
    }

    /// What changed in text document `id` from version `from` to version
    /// `to` (default: now), line by line.
    pub fn entry_diff(&self, id: &str, from: &str, to: Option<&str>, pass: &Passphrase) -> Result<Value> {
        let (key, ring) = self.open_entry(id, pass)?;
        let replica = self.replica()?;
        let mut live = self.live_doc(&replica, &ring, &key)?.ok_or(NoKey)?;
        let a = resolve_version(&live, from)?;
        let b = to.map(|t| resolve_version(&live, t)).transpose()?;
        let Model::Text(d) = &mut live.model else {
            bail!("files have no line diff: compare their versions by downloading them");
        };
        let before = d.at(&a)?;
        let after = match b {
            Some(b) => d.at(&b)?,
            None => {
                let now = d.heads();
                d.at(&now)?
            }
        };
        Ok(json!(outpost_workspace::doc::diff(&before, &after)))
    }

    /// Makes text document `id` read as it did at version `at`, as a new
    /// change (history is never rewritten).
    pub fn restore_version(&mut self, id: &str, at: &str, pass: &Passphrase) -> Result<Option<EnvId>> {
        let (_, env, ()) = self.change_entry(id, pass, |live, _| {
            let heads = resolve_version(live, at)?;
            let Model::Text(d) = &mut live.model else {
                bail!("to bring back an old version of a file, download it and upload it again");
            };
            let past = d.at(&heads)?;
            Ok((d.restore(&past)?, ()))
        })?;
        Ok(env)
    }

    /// Names the current version of text document `id` (or version `at`).
    pub fn name_version(&mut self, id: &str, name: &str, at: Option<&str>, pass: &Passphrase) -> Result<Option<EnvId>> {
        outpost_identity::op::check_text("version name", name, true)?;
        let by = self
            .require_org()?
            .role_of(&self.member, crate::now())
            .map(|(_, c)| c.name.clone())
            .context("you hold no valid certificate")?;
        let (_, env, ()) = self.change_entry(id, pass, |live, _| {
            let heads = match at {
                Some(a) => resolve_version(live, a)?,
                None => live.model.heads(),
            };
            let Model::Text(d) = &mut live.model else {
                bail!("files are versioned by upload; name versions of text documents");
            };
            if d.versions().iter().any(|v| v.name == name) {
                bail!("a version is already named {name:?}: choose another name");
            }
            Ok((d.name_version(name, &heads, &by, crate::now().0 as i64)?, ()))
        })?;
        Ok(env)
    }

    /// Replaces the body of text document `id` with Markdown `md`.
    pub fn import_markdown(&mut self, id: &str, md: &str, pass: &Passphrase) -> Result<Option<EnvId>> {
        let (_, env, ()) = self.change_entry(id, pass, |live, _| {
            let Model::Text(d) = &mut live.model else {
                bail!("Markdown goes into text documents, not files");
            };
            Ok((d.import_markdown(md)?, ()))
        })?;
        Ok(env)
    }

    /// Entry `id` exported: `markdown`, `html` or `automerge` (the binary
    /// any automerge implementation loads). Returns the bytes, their
    /// media type and a file name.
    pub fn export_entry(&self, id: &str, format: &str, pass: &Passphrase) -> Result<(Vec<u8>, &'static str, String)> {
        let (key, ring) = self.open_entry(id, pass)?;
        let replica = self.replica()?;
        let mut live = self.live_doc(&replica, &ring, &key)?.ok_or(NoKey)?;
        let Model::Text(d) = &mut live.model else {
            bail!("a file is exported by downloading it: `outpost file get`");
        };
        let stem: String = d
            .title()
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(60)
            .collect();
        let stem = if stem.is_empty() { key.1.to_hex() } else { stem };
        Ok(match format {
            "markdown" | "md" => (
                format!("# {}\n\n{}", d.title(), d.to_markdown()).into_bytes(),
                "text/markdown; charset=utf-8",
                format!("{stem}.md"),
            ),
            "html" => {
                let title = html_escape(&d.title());
                (
                    format!(
                        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head><body>\n<h1>{title}</h1>\n{}</body></html>\n",
                        d.to_html()
                    )
                    .into_bytes(),
                    "text/html; charset=utf-8",
                    format!("{stem}.html"),
                )
            }
            "automerge" | "am" => (d.save(), "application/octet-stream", format!("{stem}.automerge")),
            other => bail!("cannot export as {other:?}: choose markdown, html or automerge"),
        })
    }
}

impl Local {
    /// Adds the file at `path` to the library at `place` (or, with `to`,
    /// as a new version of that file entry). `sealed` is the file as the
    /// CLI already encrypted it into this home's blobs.
    pub fn put_file(
        &mut self,
        path: &std::path::Path,
        sealed: Option<crate::chat::SealedFile>,
        place: &Place,
        to: Option<&str>,
        pass: &Passphrase,
    ) -> Result<(DocKey, Value)> {
        let now = crate::now();
        let policy = self.file_policy(pass, now)?;
        crate::disk::ensure_space(self.home.dir())?;
        let file = crate::blobs::take_file(self.home.dir(), path, sealed, &policy)?;
        let blob = outpost_seal::blob::BlobId(file.blob);
        let placed = self.place_file(file, place, to, pass, now);
        if placed.is_err() {
            // Nothing refers to the blob: do not leave it taking space.
            if let Err(e) = crate::blobs::Blobs::new(self.home.dir()).remove(&blob) {
                tracing::warn!("cannot remove the blob of a file that was not stored: {e:#}");
            }
        }
        placed
    }

    fn place_file(
        &mut self,
        file: outpost_workspace::chat::Attachment,
        place: &Place,
        to: Option<&str>,
        pass: &Passphrase,
        now: outpost_identity::Timestamp,
    ) -> Result<(DocKey, Value)> {
        let by = self.member.to_string();
        let version = outpost_workspace::file::FileVersion {
            file,
            at: now.0 as i64,
            by,
        };
        let shown = version_json(&version);
        match to {
            Some(id) => {
                let (key, _, ()) = self.change_entry(id, pass, |live, _| {
                    let Model::File(f) = &mut live.model else {
                        bail!("this is a text document: new versions are uploaded to file entries");
                    };
                    Ok((f.add_version(version)?, ()))
                })?;
                Ok((key, shown))
            }
            None => {
                let scope = self.place_scope(place, pass)?;
                let doc = DocId::generate(&mut rand::rng());
                let (_, first) =
                    outpost_workspace::file::FileDoc::create(&self.device.0[..16], version, &place.folder)?;
                let key = (scope, doc);
                self.write_change(key, first, pass, now)?;
                Ok((key, shown))
            }
        }
    }

    /// Version `version` (1 = the first; default the current one) of file
    /// entry `id`.
    pub fn file_version(
        &self,
        id: &str,
        version: Option<usize>,
        pass: &Passphrase,
    ) -> Result<outpost_workspace::file::FileVersion> {
        let (key, ring) = self.open_entry(id, pass)?;
        let replica = self.replica()?;
        let live = self.live_doc(&replica, &ring, &key)?.ok_or(NoKey)?;
        let Model::File(f) = &live.model else {
            bail!("this is a text document, not a file: export it instead");
        };
        let versions = f.versions();
        match version {
            None => versions
                .last()
                .cloned()
                .context("this file has no version left (it was deleted)"),
            Some(n) => versions
                .get(n.wrapping_sub(1))
                .cloned()
                .with_context(|| format!("this file has versions 1 to {}, not {n}", versions.len())),
        }
    }
}

impl Local {
    /// Moves entry `id` to `folder` of `space`. Within its own space this
    /// is one change; to another space (other permissions) the entry is
    /// copied there — its whole automerge history, re-sealed by this
    /// member under the new space's key — and the old one is trashed.
    /// Returns the entry's (possibly new) id.
    pub fn move_entry(&mut self, id: &str, space: Option<&str>, folder: &str, pass: &Passphrase) -> Result<DocKey> {
        let (key, ring) = self.open_entry(id, pass)?;
        let target = match space {
            Some(s) => self.find_space(s)?,
            None => key.0,
        };
        if target == key.0 {
            let meta = MetaChange {
                folder: Some(folder.to_owned()),
                ..MetaChange::default()
            };
            self.set_meta(id, &meta, pass)?;
            return Ok(key);
        }
        self.copy_entry(key, &ring, target, Some(folder), pass)
    }

    /// Copies entry `key` into scope `target` (see [`Local::move_entry`])
    /// and trashes the original.
    fn copy_entry(
        &mut self,
        key: DocKey,
        ring: &Keyring,
        target: OpId,
        folder: Option<&str>,
        pass: &Passphrase,
    ) -> Result<DocKey> {
        let changes: Vec<Vec<u8>> = {
            let replica = self.replica()?;
            let mut out = Vec::new();
            for env in replica.valid_in_order(&key) {
                let secret = ring
                    .get(&env.header.epoch)
                    .context("you cannot read every change of this document, so you cannot move it")?;
                if let Payload::Change(c) = env.open(secret)? {
                    out.push(c);
                }
            }
            out
        };
        let new = (target, DocId::generate(&mut rand::rng()));
        let now = crate::now();
        for c in changes {
            self.write_change(new, c, pass, now)?;
        }
        if let Some(f) = folder {
            let meta = MetaChange {
                folder: Some(f.to_owned()),
                ..MetaChange::default()
            };
            self.set_meta(&new.1.to_hex(), &meta, pass)?;
        }
        let trash = MetaChange {
            trashed: Some(true),
            ..MetaChange::default()
        };
        self.set_meta(&key.1.to_hex(), &trash, pass)?;
        Ok(new)
    }
}

/// The name of a space made for one document's own permissions.
pub const OWN_SPACE: &str = "shared document";

impl Local {
    /// Gives entry `id` its own permissions. A document already alone in
    /// a space made for it is reshared (a new key epoch for the new
    /// readers); one in a shared space (a department's, a project's) is
    /// moved to a new space of its own (see [`Local::move_entry`]).
    /// Returns the entry's (possibly new) id.
    pub fn share_entry(
        &mut self,
        id: &str,
        readers: Vec<Principal>,
        writers: Vec<Principal>,
        pass: &Passphrase,
    ) -> Result<DocKey> {
        let (key, ring) = self.open_entry(id, pass)?;
        let alone = {
            let replica = self.replica()?;
            let own = replica.auth().scope(&key.0).is_some_and(|d| d.name == OWN_SPACE);
            own && replica.docs().filter(|d| d.0 == key.0).count() == 1
        };
        let now = crate::now();
        if alone {
            self.reshare(key.0, readers, writers, pass, now)?;
            return Ok(key);
        }
        let folder = {
            let replica = self.replica()?;
            self.live_doc(&replica, &ring, &key)?.ok_or(NoKey)?.model.folder()
        };
        let space = self.create_space(OWN_SPACE, readers, writers, pass)?;
        self.copy_entry(key, &ring, space, Some(&folder), pass)
    }
}

/// Escapes text for HTML.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A file version as JSON (the file key is left out: it stays inside the
/// node).
pub fn version_json(v: &outpost_workspace::file::FileVersion) -> Value {
    json!({
        "blob": hex::encode(v.file.blob), "name": v.file.name, "bytes": v.file.bytes,
        "media_type": v.file.media_type, "at": v.at, "by": v.by,
    })
}

/// The listing row of an entry.
fn entry_json(
    key: &DocKey,
    live: &LiveDoc,
    def: Option<&ScopeDef>,
    mine: Option<&outpost_identity::RoleCert>,
) -> Value {
    let can_write = match (def, mine) {
        (Some(d), Some(c)) => d.allows_write(c),
        _ => false,
    };
    let (kind, title, bytes, media_type) = match &live.model {
        Model::Text(d) => ("text", d.title(), None, None),
        Model::Board(b) => ("board", b.name(), None, None),
        Model::File(f) => {
            let cur = f.current();
            (
                "file",
                f.name(),
                cur.as_ref().map(|v| v.file.bytes),
                cur.map(|v| v.file.media_type),
            )
        }
    };
    json!({
        "id": key.1.to_hex(),
        "kind": kind,
        "title": title,
        "folder": live.model.folder(),
        "trashed": live.model.trashed(),
        "deleted": live.model.deleted(),
        "space": {
            "id": key.0.to_hex(),
            "name": def.map(|d| d.name.clone()),
            "readers": def.map(|d| principals_text(&d.readers)),
            "writers": def.map(|d| principals_text(&d.writers)),
        },
        "can_write": can_write,
        "changes": live.applied.len(),
        "updated": live.updated.0,
        "bytes": bytes,
        "media_type": media_type,
    })
}

/// One library action, for the CLI and `POST /api/library` (the REST
/// routes under `/api/docs`, `/api/spaces` and `/api/files` do the same).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LibraryRequest {
    /// Every document and file this member can read (or the trash).
    List {
        /// List the trash instead.
        #[serde(default)]
        trash: bool,
    },
    /// The spaces this member can read.
    Spaces,
    /// Creates a space.
    CreateSpace {
        /// Its name (visible to every node of the org: keep secrets out).
        name: String,
        /// Who reads (view only).
        #[serde(default)]
        readers: Vec<String>,
        /// Who edits (the creator always does).
        #[serde(default)]
        writers: Vec<String>,
    },
    /// Changes who may read and edit a space (its owner or an admin).
    ShareSpace {
        /// The space: id prefix or name.
        space: String,
        /// Who reads (view only).
        #[serde(default)]
        readers: Vec<String>,
        /// Who edits.
        #[serde(default)]
        writers: Vec<String>,
    },
    /// Who made a space and every change of its readers and writers.
    SpaceHistory {
        /// The space: id prefix or name.
        space: String,
    },
    /// Creates a text document.
    New {
        /// The title.
        title: String,
        /// Where.
        #[serde(flatten)]
        place: Place,
        /// The body, as Markdown.
        #[serde(default)]
        markdown: Option<String>,
        /// Who reads (view only): gives the document a space of its own.
        #[serde(default)]
        readers: Vec<String>,
        /// Who edits (the creator always does): gives the document a
        /// space of its own.
        #[serde(default)]
        writers: Vec<String>,
    },
    /// Changes a document's plain text.
    Edit {
        /// The document.
        id: String,
        /// Replace the body's text.
        #[serde(default)]
        set_text: Option<String>,
        /// Append to the body.
        #[serde(default)]
        append: Option<String>,
    },
    /// A document or file.
    Show {
        /// Its id or a unique prefix.
        id: String,
        /// A past version (change id, hash or version name).
        #[serde(default)]
        at: Option<String>,
    },
    /// Who changed what and when.
    History {
        /// The entry.
        id: String,
    },
    /// What changed between two versions, line by line.
    Diff {
        /// The document.
        id: String,
        /// The older version.
        from: String,
        /// The newer one; default: now.
        #[serde(default)]
        to: Option<String>,
    },
    /// Makes a document read as it did at a version, as a new change.
    Restore {
        /// The document.
        id: String,
        /// The version.
        at: String,
    },
    /// Names a version.
    NameVersion {
        /// The document.
        id: String,
        /// The name.
        name: String,
        /// The version; default: now.
        #[serde(default)]
        at: Option<String>,
    },
    /// Renames, moves in its space, trashes or restores.
    Meta {
        /// The entry.
        id: String,
        /// What changes.
        #[serde(flatten)]
        change: MetaChange,
    },
    /// Moves to a folder, in another space if given.
    Move {
        /// The entry.
        id: String,
        /// The space to move to.
        #[serde(default)]
        space: Option<String>,
        /// The folder there.
        #[serde(default)]
        folder: String,
    },
    /// Gives an entry its own permissions.
    Share {
        /// The entry.
        id: String,
        /// Who reads (view only).
        #[serde(default)]
        readers: Vec<String>,
        /// Who edits.
        #[serde(default)]
        writers: Vec<String>,
    },
    /// Deletes an entry for good.
    Delete {
        /// The entry.
        id: String,
    },
    /// Replaces a document's body with Markdown.
    Import {
        /// The document.
        id: String,
        /// The Markdown.
        markdown: String,
    },
    /// Writes a document exported to a file on this machine.
    Export {
        /// The document.
        id: String,
        /// `markdown`, `html` or `automerge`.
        format: String,
        /// Where to write it.
        out: String,
    },
    /// Adds a file (or a new version of one).
    PutFile(FileUpload),
    /// Decrypts a file version to a file on this machine (a running node
    /// first fetches what it lacks from its peers).
    SaveFile {
        /// The file entry.
        id: String,
        /// The version, 1 for the first; default: the current one.
        #[serde(default)]
        version: Option<usize>,
        /// Where to write it.
        out: String,
    },
}

impl LibraryRequest {
    /// Does this request write to the store?
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            LibraryRequest::List { .. }
                | LibraryRequest::Spaces
                | LibraryRequest::SpaceHistory { .. }
                | LibraryRequest::Show { .. }
                | LibraryRequest::History { .. }
                | LibraryRequest::Diff { .. }
                | LibraryRequest::Export { .. }
                | LibraryRequest::SaveFile { .. }
        )
    }
}

/// The answer to a change: whether one was made, and its id.
pub(crate) fn changed(env: Option<EnvId>) -> Value {
    match env {
        Some(e) => json!({"changed": true, "change": hex::encode(e.0)}),
        None => json!({"changed": false}),
    }
}

fn placed(key: DocKey) -> Value {
    json!({"id": key.1.to_hex(), "space": key.0.to_hex()})
}

/// A file to add to the library (`put_file`, `POST /api/files`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FileUpload {
    /// The file on this machine.
    pub path: String,
    /// The file as the CLI already encrypted it into this home's blobs.
    #[serde(default)]
    pub sealed: Option<crate::chat::SealedFile>,
    /// Where.
    #[serde(flatten)]
    pub place: Place,
    /// The file entry this is a new version of.
    #[serde(default)]
    pub to: Option<String>,
}

/// Carries out `req` on this node's store.
pub fn handle(local: &mut Local, pass: &Passphrase, req: LibraryRequest) -> Result<Value> {
    Ok(match req {
        LibraryRequest::List { trash } => json!(local.library(pass, trash)?),
        LibraryRequest::Spaces => json!(local.spaces(pass)?),
        LibraryRequest::SpaceHistory { space } => json!(local.space_history(&space)?),
        LibraryRequest::CreateSpace { name, readers, writers } => {
            let id = local.create_space(&name, parse_principals(&readers)?, parse_principals(&writers)?, pass)?;
            json!({"id": id.to_hex(), "name": name})
        }
        LibraryRequest::ShareSpace {
            space,
            readers,
            writers,
        } => {
            let scope = local.find_space(&space)?;
            let epoch = local.reshare(
                scope,
                parse_principals(&readers)?,
                parse_principals(&writers)?,
                pass,
                crate::now(),
            )?;
            let name = local
                .require_org()?
                .scope(&scope)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            local.audit(
                "space.share",
                &format!("{name} ({})", scope.to_hex()),
                &format!("readers {}; writers {}", readers.join(", "), writers.join(", ")),
                pass,
                crate::now(),
            )?;
            json!({"space": scope.to_hex(), "epoch": epoch.to_hex()})
        }
        LibraryRequest::New {
            title,
            mut place,
            markdown,
            readers,
            writers,
        } => {
            if !readers.is_empty() || !writers.is_empty() {
                // The space's name is seen by every node of the org
                // (relays included), so it does not carry the title.
                let space = local.create_space(
                    OWN_SPACE,
                    parse_principals(&readers)?,
                    parse_principals(&writers)?,
                    pass,
                )?;
                place.space = Some(space.to_hex());
            }
            let key = local.new_text(&title, &place, markdown.as_deref(), pass)?;
            let mut v = placed(key);
            v["title"] = json!(title);
            v["space_name"] = json!(local.require_org()?.scope(&key.0).map(|s| s.name.clone()));
            v
        }
        LibraryRequest::Edit { id, set_text, append } => {
            match local.edit_plain(&id, set_text.as_deref(), append.as_deref(), pass)? {
                Some((key, env)) => json!({"id": key.1.to_hex(), "changed": true, "change": hex::encode(env.0)}),
                None => json!({"id": id, "changed": false}),
            }
        }
        LibraryRequest::Show { id, at: None } => local.entry(&id, pass)?,
        LibraryRequest::Show { id, at: Some(at) } => local.entry_at(&id, &at, pass)?,
        LibraryRequest::History { id } => json!(local.entry_history(&id, pass)?),
        LibraryRequest::Diff { id, from, to } => local.entry_diff(&id, &from, to.as_deref(), pass)?,
        LibraryRequest::Restore { id, at } => {
            let env = local.restore_version(&id, &at, pass)?;
            local.audit(
                "doc.restore",
                &id,
                &format!("restored to version {at}"),
                pass,
                crate::now(),
            )?;
            changed(env)
        }
        LibraryRequest::NameVersion { id, name, at } => changed(local.name_version(&id, &name, at.as_deref(), pass)?),
        LibraryRequest::Meta { id, change } => {
            let env = local.set_meta(&id, &change, pass)?;
            match change.trashed {
                Some(true) => local.audit("doc.trash", &id, "moved to the trash", pass, crate::now())?,
                Some(false) => local.audit("doc.restore", &id, "restored from the trash", pass, crate::now())?,
                None => {}
            }
            changed(env)
        }
        LibraryRequest::Move { id, space, folder } => placed(local.move_entry(&id, space.as_deref(), &folder, pass)?),
        LibraryRequest::Share { id, readers, writers } => {
            let key = local.share_entry(&id, parse_principals(&readers)?, parse_principals(&writers)?, pass)?;
            local.audit(
                "doc.share",
                &id,
                &format!("readers {}; writers {}", readers.join(", "), writers.join(", ")),
                pass,
                crate::now(),
            )?;
            placed(key)
        }
        LibraryRequest::Delete { id } => {
            let env = local.delete_entry(&id, pass)?;
            local.audit("doc.delete", &id, "deleted for good", pass, crate::now())?;
            changed(env)
        }
        LibraryRequest::Import { id, markdown } => changed(local.import_markdown(&id, &markdown, pass)?),
        LibraryRequest::Export { id, format, out } => {
            let (bytes, media_type, name) = local.export_entry(&id, &format, pass)?;
            crate::blobs::write_synced(std::path::Path::new(&out), &bytes)?;
            local.audit(
                "doc.export",
                &id,
                &format!("{name} as {format} ({} bytes)", bytes.len()),
                pass,
                crate::now(),
            )?;
            json!({"out": out, "bytes": bytes.len(), "media_type": media_type, "name": name})
        }
        LibraryRequest::PutFile(FileUpload {
            path,
            sealed,
            place,
            to,
        }) => {
            let (key, version) = local.put_file(std::path::Path::new(&path), sealed, &place, to.as_deref(), pass)?;
            let mut v = placed(key);
            v["version"] = version;
            v
        }
        LibraryRequest::SaveFile { id, version, out } => {
            let v = local.file_version(&id, version, pass)?;
            let blobs = crate::blobs::Blobs::new(local.home.dir());
            let written = crate::blobs::save_attachment(&blobs, &v.file, std::path::Path::new(&out))?;
            json!({"name": v.file.name, "bytes": written, "out": out, "media_type": v.file.media_type})
        }
    })
}
