//! Announcements on this node: publishing, reading, acknowledging, and
//! who has read what.
//!
//! An announcement is a record log ([`RecordKind::Announcement`]) in a
//! scope named [`SCOPE_NAME`] whose readers and writers are the audience
//! and the publisher; announcements of one publisher to the same audience
//! share that scope. Who may publish is decided by
//! [`outpost_workspace::announce::Announcement::build`] on every node from
//! the certificate each `Publish` was signed under; this node refuses
//! early, with the same rule ([`announce::may_publish`]), so that a member
//! is told at once rather than seeing their announcement rejected.
//!
//! Every action is one [`AnnounceRequest`], answered as JSON by [`handle`]:
//! the CLI calls it directly when no node runs and through
//! `POST /api/announcements` when one does.

use crate::chat::{SealedFile, names, org_admins, person};
use crate::home::Passphrase;
use crate::local::Local;
use crate::records::{When, people_now, signer_now};
use anyhow::{Context, Result, bail};
use outpost_identity::scope::{Principal, ScopeDef};
use outpost_identity::{OpId, Role, Timestamp};
use outpost_seal::envelope::DocId;
use outpost_seal::replica::DocKey;
use outpost_workspace::announce::{self, Announcement, Entry, Publish, Refusal};
use outpost_workspace::record::{RecordKind, Signer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The name of every announcement scope. Scope names are public (relays
/// see them), so an announcement's title never goes there.
pub const SCOPE_NAME: &str = "announcement";
/// Fewest hex digits that name an announcement.
const PREFIX_MIN: usize = 4;

/// A file to attach: a path on this machine, and the blob if the CLI
/// already encrypted it into this home's blobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attach {
    /// The file.
    pub path: String,
    /// The file as already encrypted (see [`SealedFile`]).
    #[serde(default)]
    pub sealed: Option<SealedFile>,
}

/// One announcement action.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AnnounceRequest {
    /// Publishes an announcement: admins to anyone, department heads to
    /// their department and those below it.
    Publish {
        /// The title.
        title: String,
        /// The text, in Markdown.
        body: String,
        /// Who it is for: `everyone`, `dept:PATH`, `role:ROLE`,
        /// `member:KEY`; default: everyone for an admin, their department
        /// for a department head.
        #[serde(default)]
        audience: Vec<String>,
        /// Listed first until then.
        #[serde(default)]
        pinned_until: Option<When>,
        /// Readers are asked to acknowledge it.
        #[serde(default)]
        ack_required: bool,
        /// Files to attach.
        #[serde(default)]
        attachments: Vec<Attach>,
    },
    /// The announcements this member can read: pinned ones first, then
    /// newest first.
    List {
        /// Also list rejected ones (published by someone who may not).
        #[serde(default)]
        all: bool,
    },
    /// One announcement; marks it read (once) if it is addressed to this
    /// member.
    Show {
        /// Its id (or a unique prefix).
        announcement: String,
        /// Do not mark it read.
        #[serde(default)]
        peek: bool,
    },
    /// Acknowledges an announcement that asks for it.
    Ack {
        /// Its id (or a unique prefix).
        announcement: String,
    },
    /// Who in the audience has read and acknowledged it, by department:
    /// for its publisher and the org's admins.
    Reads {
        /// Its id (or a unique prefix).
        announcement: String,
    },
    /// Decrypts an attached file into `out` (a running node first fetches
    /// what it lacks from its peers).
    SaveFile {
        /// Its id (or a unique prefix).
        announcement: String,
        /// Where to write the file.
        out: String,
        /// Which file, from 0.
        #[serde(default)]
        index: usize,
    },
}

impl AnnounceRequest {
    /// Does the request write (and so need a durable commit before the answer)?
    pub fn writes(&self) -> bool {
        match self {
            AnnounceRequest::Publish { .. } | AnnounceRequest::Ack { .. } => true,
            AnnounceRequest::Show { peek, .. } => !peek,
            AnnounceRequest::List { .. } | AnnounceRequest::Reads { .. } | AnnounceRequest::SaveFile { .. } => false,
        }
    }
}

/// One announcement log as this member sees it.
#[derive(Debug, Clone)]
pub struct Opened {
    /// Its scope and document.
    pub key: DocKey,
    /// What its records make.
    pub announcement: Announcement,
}

impl Local {
    /// Every announcement log this member can read, folded.
    pub fn announcements(&self, pass: &Passphrase) -> Result<Vec<Opened>> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let mut out = Vec::new();
        for key in self.record_logs(&replica, &ring, RecordKind::Announcement) {
            if let Some(records) = self.records::<Entry>(&replica, &ring, &key, RecordKind::Announcement) {
                out.push(Opened {
                    key,
                    announcement: Announcement::build(&records),
                });
            }
        }
        Ok(out)
    }

    /// The announcement whose id starts with `id`.
    pub fn find_announcement(&self, id: &str, pass: &Passphrase) -> Result<Opened> {
        let p = id.trim().to_ascii_lowercase();
        if p.len() < PREFIX_MIN {
            bail!("no announcement {p:?}: give at least {PREFIX_MIN} hex digits of its id");
        }
        let mut found: Vec<Opened> = self
            .announcements(pass)?
            .into_iter()
            .filter(|o| o.key.1.to_hex().starts_with(&p))
            .collect();
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => bail!("no announcement {p:?} that you can read: see `outpost announce list`"),
            n => bail!("{p:?} names {n} announcements: give more digits of its id"),
        }
    }

    /// The scope for announcements of this member to `audience`: readers
    /// and writers the audience and this member. An existing one with
    /// exactly that policy, whose key this member holds, is reused.
    fn announcement_scope(&mut self, audience: &[Principal], pass: &Passphrase, now: Timestamp) -> Result<OpId> {
        let mut set: BTreeSet<Principal> = audience.iter().cloned().collect();
        set.insert(Principal::Member(self.member));
        let list: Vec<Principal> = set.into_iter().collect();
        {
            let member = self.member_keys(pass)?;
            let ring = self.keyring(&member, pass)?;
            let state = self.require_org()?;
            let existing = state.scopes().find(|(id, s)| {
                s.name == SCOPE_NAME
                    && s.readers == list
                    && s.writers == list
                    && state.writer_epoch(id).is_some_and(|e| ring.get(&e).is_some())
            });
            if let Some((id, _)) = existing {
                return Ok(id);
            }
        }
        let def = ScopeDef {
            name: SCOPE_NAME.to_owned(),
            readers: list.clone(),
            writers: list,
            nonce: rand::random(),
        };
        self.create_scope(def, pass, now)
    }

    /// Publishes an announcement as this member, after the check every
    /// node applies to it, with `files` attached (taken only once it
    /// passed). Returns its log.
    pub fn publish_announcement(
        &mut self,
        mut publish: Publish,
        files: Vec<Attach>,
        pass: &Passphrase,
        now: Timestamp,
    ) -> Result<DocKey> {
        let me = signer_now(self.require_org()?, &self.member, now).context("you hold no valid certificate")?;
        if publish.audience.is_empty() {
            publish.audience = vec![default_audience(&me)];
        }
        let audience = announce::parse_audience(&publish.audience)?;
        publish.audience = audience.iter().map(ToString::to_string).collect();
        publish.title = publish.title.trim().to_owned();
        publish.check()?;
        outpost_identity::op::check_text("title", &publish.title, true)?;
        if let Err(refusal) = announce::may_publish(me.role, &me.dept, &audience) {
            match refusal {
                Refusal::NotAPublisher(role) => bail!(
                    "only admins and department heads may publish announcements; you are a {role} of {}: ask one of them to publish it",
                    dept_text(&me)
                ),
                other => bail!("you may not publish this announcement: {other}"),
            }
        }
        if files.len() > announce::ATTACHMENTS_MAX {
            bail!(
                "{} files; at most {} may be attached",
                files.len(),
                announce::ATTACHMENTS_MAX
            );
        }
        if !files.is_empty() {
            let policy = self.file_policy(pass, now)?;
            for a in files {
                let path = std::path::Path::new(&a.path);
                publish
                    .attachments
                    .push(crate::blobs::take_file(self.home.dir(), path, a.sealed, &policy)?);
            }
            publish.check()?;
        }
        let scope = self.announcement_scope(&audience, pass, now)?;
        let key = (scope, DocId::generate(&mut rand::rng()));
        self.write_record(key, RecordKind::Announcement, &Entry::Publish(publish), pass, now)?;
        Ok(key)
    }
}

/// Where a new announcement goes when no audience is given.
fn default_audience(me: &Signer) -> String {
    match me.role {
        Role::DeptHead => Principal::Dept(me.dept.clone()).to_string(),
        _ => Principal::Everyone.to_string(),
    }
}

fn dept_text(s: &Signer) -> String {
    if s.dept.segments().is_empty() {
        "the whole org".to_owned()
    } else {
        s.dept.to_string()
    }
}

/// The row of one announcement in a listing, as `me` sees it at `now`.
fn row(o: &Opened, me: &Signer, names: &BTreeMap<[u8; 32], String>, now: u64) -> Value {
    let a = &o.announcement;
    match (&a.published, &a.rejected) {
        (Some(p), _) => {
            let mine = a.receipts.get(&me.key);
            json!({
                "id": o.key.1.to_hex(),
                "status": "published",
                "title": p.publish.title,
                "publisher": person(names, &p.publisher.key),
                "publisher_role": p.publisher.role.name(),
                "publisher_dept": p.publisher.dept.to_string(),
                "time": p.time,
                "audience": p.publish.audience,
                "pinned": a.pinned(now),
                "pinned_until": p.publish.pinned_until,
                "ack_required": p.publish.ack_required,
                "attachments": p.publish.attachments.len(),
                "mine": p.publisher.key == me.key,
                "for_me": a.addresses(me),
                "read": mine.is_some(),
                "acknowledged": mine.is_some_and(|r| r.ack.is_some()),
            })
        }
        (None, Some(r)) => json!({
            "id": o.key.1.to_hex(),
            "status": "rejected",
            "title": r.title,
            "publisher": person(names, &r.signer.key),
            "publisher_role": r.signer.role.name(),
            "publisher_dept": r.signer.dept.to_string(),
            "time": r.time,
            "reason": r.refusal.to_string(),
        }),
        (None, None) => json!({
            "id": o.key.1.to_hex(),
            "status": "empty",
        }),
    }
}

/// This member as the signer of their current certificate.
fn me(local: &Local, now: Timestamp) -> Result<Signer> {
    signer_now(local.require_org()?, &local.member, now).context("you hold no valid certificate")
}

/// Who in the audience has read and acknowledged `o`, by department.
fn reads(local: &Local, o: &Opened, now: Timestamp) -> Result<Value> {
    let a = &o.announcement;
    let p = a
        .published
        .as_ref()
        .context("this announcement was rejected: nobody reads it")?;
    let state = local.require_org()?;
    let admin = org_admins(state, now).contains(&local.member.0);
    if p.publisher.key != local.member.0 && !admin {
        bail!("only the announcement's publisher and the org's admins see who has read it");
    }
    let mut departments: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let (mut total, mut read, mut acked) = (0, 0, 0);
    let mut listed = BTreeSet::new();
    let receipt_json = |key: &[u8; 32]| match a.receipts.get(key) {
        None => json!({"status": "not_read"}),
        Some(r) => json!({
            "status": if r.ack.is_some() { "acknowledged" } else { "read" },
            "read_at": r.read.time,
            "read_record": hex::encode(r.read.id),
            "ack_at": r.ack.as_ref().map(|m| m.time),
            "ack_record": r.ack.as_ref().map(|m| hex::encode(m.id)),
            "ack_cert": r.ack.as_ref().map(|m| hex::encode(m.cert)),
        }),
    };
    for (who, name) in people_now(state, now) {
        if who.key == p.publisher.key || !p.audience.iter().any(|x| who.is_in(x)) {
            continue;
        }
        total += 1;
        if let Some(r) = a.receipts.get(&who.key) {
            read += 1;
            acked += usize::from(r.ack.is_some());
        }
        listed.insert(who.key);
        let mut v = receipt_json(&who.key);
        v["member"] = json!(hex::encode(who.key));
        v["name"] = json!(name);
        departments.entry(who.dept.to_string()).or_default().push(v);
    }
    let names = names(state);
    // Receipts of people who are no longer in the audience (moved, revoked).
    let others: Vec<Value> = a
        .receipts
        .keys()
        .filter(|k| !listed.contains(*k))
        .map(|k| {
            let mut v = receipt_json(k);
            v["member"] = json!(hex::encode(k));
            v["name"] = json!(names.get(k));
            v
        })
        .collect();
    Ok(json!({
        "announcement": o.key.1.to_hex(),
        "title": p.publish.title,
        "audience": p.publish.audience,
        "ack_required": p.publish.ack_required,
        "total": total,
        "read": read,
        "acknowledged": acked,
        "not_read": total - read,
        "departments": departments
            .into_iter()
            .map(|(dept, mut people)| {
                people.sort_by(|x, y| (x["name"].as_str(), x["member"].as_str()).cmp(&(y["name"].as_str(), y["member"].as_str())));
                json!({"dept": dept, "people": people})
            })
            .collect::<Vec<_>>(),
        "others": others,
    }))
}

/// Attachment `index` of announcement `id`.
pub fn attachment(
    local: &Local,
    pass: &Passphrase,
    id: &str,
    index: usize,
) -> Result<outpost_workspace::chat::Attachment> {
    let o = local.find_announcement(id, pass)?;
    let p = o
        .announcement
        .published
        .as_ref()
        .context("this announcement was rejected: its files are not shown")?;
    p.publish.attachments.get(index).cloned().with_context(|| {
        format!(
            "this announcement has {} file(s); there is no file {index}",
            p.publish.attachments.len()
        )
    })
}

/// Carries out `req` as this node's member and answers in JSON.
pub fn handle(local: &mut Local, pass: &Passphrase, req: AnnounceRequest) -> Result<Value> {
    let now = crate::now();
    match req {
        AnnounceRequest::Publish {
            title,
            body,
            audience,
            pinned_until,
            ack_required,
            attachments,
        } => {
            let pinned_until = pinned_until.as_ref().map(When::seconds).transpose()?;
            let publish = Publish {
                title,
                body,
                audience,
                pinned_until,
                ack_required,
                attachments: Vec::new(),
            };
            let key = local.publish_announcement(publish, attachments, pass, now)?;
            let o = local.find_announcement(&key.1.to_hex(), pass)?;
            let names = names(local.require_org()?);
            let mut v = row(&o, &me(local, now)?, &names, now.0);
            v["published"] = json!(true);
            Ok(v)
        }
        AnnounceRequest::List { all } => {
            let me = me(local, now)?;
            let names = names(local.require_org()?);
            let mut listed: Vec<(bool, u64, Value)> = local
                .announcements(pass)?
                .iter()
                .filter(|o| all || o.announcement.published.is_some())
                .map(|o| {
                    let v = row(o, &me, &names, now.0);
                    (o.announcement.pinned(now.0), v["time"].as_u64().unwrap_or(0), v)
                })
                .collect();
            // Pinned first, then newest first; ties by id.
            listed.sort_by(|a, b| {
                (b.0, b.1)
                    .cmp(&(a.0, a.1))
                    .then_with(|| a.2["id"].as_str().cmp(&b.2["id"].as_str()))
            });
            Ok(json!({"now": now.0, "announcements": listed.into_iter().map(|(_, _, v)| v).collect::<Vec<_>>()}))
        }
        AnnounceRequest::Show { announcement, peek } => {
            let o = local.find_announcement(&announcement, pass)?;
            let me = me(local, now)?;
            let names = names(local.require_org()?);
            let mut v = row(&o, &me, &names, now.0);
            let Some(p) = &o.announcement.published else {
                return Ok(v);
            };
            v["body"] = json!(p.publish.body);
            v["body_html"] = json!(outpost_workspace::doc::markdown_to_html(&p.publish.body).ok());
            v["files"] = json!(
                p.publish
                    .attachments
                    .iter()
                    .map(|a| json!({"name": a.name, "bytes": a.bytes, "media_type": a.media_type, "blob": hex::encode(a.blob)}))
                    .collect::<Vec<_>>()
            );
            let mut marked = false;
            if !peek && o.announcement.addresses(&me) && !o.announcement.receipts.contains_key(&me.key) {
                local.write_record(o.key, RecordKind::Announcement, &Entry::Read { of: p.id }, pass, now)?;
                marked = true;
                v["read"] = json!(true);
            }
            v["marked_read"] = json!(marked);
            Ok(v)
        }
        AnnounceRequest::Ack { announcement } => {
            let o = local.find_announcement(&announcement, pass)?;
            let me = me(local, now)?;
            let p = o
                .announcement
                .published
                .as_ref()
                .context("this announcement was rejected: there is nothing to acknowledge")?;
            if p.publisher.key == me.key {
                bail!("you published this announcement: only its readers acknowledge it");
            }
            if !o.announcement.addresses(&me) {
                bail!("this announcement is not addressed to you");
            }
            if !p.publish.ack_required {
                bail!("this announcement does not ask for acknowledgement");
            }
            let id = o.key.1.to_hex();
            if let Some(ack) = o.announcement.receipts.get(&me.key).and_then(|r| r.ack.as_ref()) {
                return Ok(json!({
                    "announcement": id, "acknowledged": true, "already": true,
                    "record": hex::encode(ack.id), "time": ack.time,
                }));
            }
            let record = local.write_record(o.key, RecordKind::Announcement, &Entry::Ack { of: p.id }, pass, now)?;
            Ok(json!({
                "announcement": id, "acknowledged": true, "already": false,
                "record": hex::encode(record.0), "time": now.0,
            }))
        }
        AnnounceRequest::Reads { announcement } => {
            let o = local.find_announcement(&announcement, pass)?;
            reads(local, &o, now)
        }
        AnnounceRequest::SaveFile {
            announcement,
            out,
            index,
        } => {
            let a = attachment(local, pass, &announcement, index)?;
            let out = std::path::PathBuf::from(out);
            let written = crate::blobs::save_attachment(&crate::blobs::Blobs::new(local.home.dir()), &a, &out)?;
            Ok(json!({"name": a.name, "bytes": written, "out": out, "media_type": a.media_type}))
        }
    }
}
