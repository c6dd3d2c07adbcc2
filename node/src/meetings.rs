//! Meetings on this node: creating, inviting, answering, minutes,
//! reminders, and the lists of upcoming and past meetings.
//!
//! A meeting is a record log ([`RecordKind::Meeting`]) in a scope of its
//! own named [`SCOPE_NAME`], whose readers and writers are the organizer
//! and the invitees (people as `member:KEY`, departments as `dept:PATH`):
//! invitees answer in the log and co-edit the minutes, a text document
//! created in the same scope. Changing the invitees reshares the scope
//! (the organizer owns it), so new invitees read the meeting's history and
//! removed ones read nothing written after. What the records mean is
//! [`Meeting::build`], the same on every node.
//!
//! Reminders are not sent by a timer here: [`remind`] is called with a
//! time (by the node's scheduler, or by a test in virtual time), writes a
//! `Reminded` record for each reminder due to this member, and returns
//! the notices.
//!
//! Every action is one [`MeetingRequest`], answered as JSON by [`handle`]:
//! the CLI calls it directly when no node runs and through
//! `POST /api/meetings` when one does.

use crate::chat::{find_member, names, person};
use crate::home::Passphrase;
use crate::local::Local;
use crate::records::{When, people_now, signer_now};
use anyhow::{Context, Result, bail};
use outpost_identity::scope::{Principal, ScopeDef};
use outpost_identity::{Role, Timestamp};
use outpost_seal::envelope::DocId;
use outpost_seal::replica::DocKey;
use outpost_workspace::meeting::{self, Change, Details, Entry, Meeting, Response, due_reminder};
use outpost_workspace::record::{RecordKind, Signer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The name of every meeting scope. Scope names are public (relays see
/// them), so a meeting's title never goes there.
pub const SCOPE_NAME: &str = "meeting";
/// Fewest hex digits that name a meeting.
const PREFIX_MIN: usize = 4;
/// How long a meeting lasts when neither an end nor a length is given.
pub const MINUTES_DEFAULT: u64 = 60;

/// One meeting action.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum MeetingRequest {
    /// Creates a meeting in a scope of its own, read and written by the
    /// organizer and the invitees.
    Create {
        /// The title.
        title: String,
        /// When it starts.
        start: When,
        /// When it ends; default: `minutes` after the start.
        #[serde(default)]
        end: Option<When>,
        /// How long it lasts, if no end is given; default 60.
        #[serde(default)]
        minutes: Option<u64>,
        /// Where.
        #[serde(default)]
        place: String,
        /// The call link.
        #[serde(default)]
        link: String,
        /// The agenda (Markdown).
        #[serde(default)]
        agenda: String,
        /// Who is invited: names, keys or key prefixes, `member:KEY`,
        /// `dept:PATH`, `role:ROLE` or `everyone`.
        #[serde(default)]
        invitees: Vec<String>,
        /// Minutes before the start when participants are reminded
        /// (default 15; 0 for none).
        #[serde(default)]
        remind_minutes: Option<u32>,
    },
    /// Changes the fields given (organizer only). A new start without an
    /// end keeps the length; new invitees replace the old.
    Update {
        /// The meeting.
        meeting: String,
        /// A new title.
        #[serde(default)]
        title: Option<String>,
        /// A new start.
        #[serde(default)]
        start: Option<When>,
        /// A new end.
        #[serde(default)]
        end: Option<When>,
        /// A new length, in minutes from the start.
        #[serde(default)]
        minutes: Option<u64>,
        /// A new place.
        #[serde(default)]
        place: Option<String>,
        /// A new call link.
        #[serde(default)]
        link: Option<String>,
        /// A new agenda.
        #[serde(default)]
        agenda: Option<String>,
        /// A new reminder time.
        #[serde(default)]
        remind_minutes: Option<u32>,
        /// New invitees (replacing the old).
        #[serde(default)]
        invitees: Option<Vec<String>>,
    },
    /// Upcoming meetings (not yet ended), soonest first; or past ones,
    /// latest first.
    List {
        /// The past ones instead.
        #[serde(default)]
        past: bool,
    },
    /// One meeting with every invitee's answer.
    Show {
        /// The meeting: its id (or a unique prefix) or its exact title.
        meeting: String,
    },
    /// Accepts, declines or tentatively accepts an invitation.
    Answer {
        /// The meeting.
        meeting: String,
        /// accept, decline or tentative.
        response: Response,
    },
    /// The meeting's minutes: creates the document (organizer or
    /// invitee) the first time.
    Minutes {
        /// The meeting.
        meeting: String,
    },
    /// Calls the meeting off (organizer only).
    Cancel {
        /// The meeting.
        meeting: String,
    },
    /// Sends this member the reminders due at `now` (default: the clock).
    Remind {
        /// The time to act at, for the scheduler or a test.
        #[serde(default)]
        now: Option<When>,
    },
}

impl MeetingRequest {
    /// Does the request write (and so need a durable commit before the answer)?
    pub fn writes(&self) -> bool {
        !matches!(self, MeetingRequest::List { .. } | MeetingRequest::Show { .. })
    }
}

/// One meeting log as this member sees it.
#[derive(Debug, Clone)]
pub struct Opened {
    /// Its scope and document.
    pub key: DocKey,
    /// What its records make.
    pub meeting: Meeting,
}

impl Local {
    /// Every meeting this member can read whose `Create` counts.
    pub fn meetings(&self, pass: &Passphrase) -> Result<Vec<Opened>> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let mut out = Vec::new();
        for key in self.record_logs(&replica, &ring, RecordKind::Meeting) {
            let Some(records) = self.records::<Entry>(&replica, &ring, &key, RecordKind::Meeting) else {
                continue;
            };
            let meeting = Meeting::build(&records);
            if meeting.created.is_some() {
                out.push(Opened { key, meeting });
            }
        }
        Ok(out)
    }

    /// The meeting named by `text`: a prefix of its id, or its exact title.
    pub fn find_meeting(&self, text: &str, pass: &Passphrase) -> Result<Opened> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        let all = self.meetings(pass)?;
        let by_id: Vec<&Opened> = if lower.len() >= PREFIX_MIN {
            all.iter().filter(|o| o.key.1.to_hex().starts_with(&lower)).collect()
        } else {
            Vec::new()
        };
        let by_title: Vec<&Opened> = all.iter().filter(|o| o.meeting.details.title == t).collect();
        match (by_id.as_slice(), by_title.as_slice()) {
            ([one], _) | ([], [one]) => Ok((*one).clone()),
            ([], []) => bail!("no meeting {t:?} that you can read: see `outpost meeting list`"),
            _ => bail!("{t:?} names several meetings: give more digits of its id"),
        }
    }

    /// Writes `entry` into the meeting's log.
    fn write_meeting(&mut self, key: DocKey, entry: &Entry, pass: &Passphrase, now: Timestamp) -> Result<[u8; 32]> {
        Ok(self.write_record(key, RecordKind::Meeting, entry, pass, now)?.0)
    }

    /// Creates a meeting: its scope (the organizer and `invitees`) and its
    /// first record. Returns its log.
    pub fn create_meeting(
        &mut self,
        details: Details,
        invitees: &[String],
        pass: &Passphrase,
        now: Timestamp,
    ) -> Result<DocKey> {
        check_fields(&details)?;
        let invitees = self.invitee_principals(invitees, now)?;
        let texts: Vec<String> = invitees.iter().map(ToString::to_string).collect();
        meeting::parse_invitees(&texts)?;
        let def = ScopeDef {
            name: SCOPE_NAME.to_owned(),
            readers: scope_members(self, &invitees),
            writers: scope_members(self, &invitees),
            nonce: rand::random(),
        };
        let scope = self.create_scope(def, pass, now)?;
        let key = (scope, DocId::generate(&mut rand::rng()));
        self.write_meeting(
            key,
            &Entry::Create {
                details,
                invitees: texts,
            },
            pass,
            now,
        )?;
        Ok(key)
    }

    /// Reads invitees: `everyone`, `dept:PATH`, `role:ROLE`, `member:KEY`,
    /// or a member's name, key or key prefix.
    fn invitee_principals(&self, entries: &[String], now: Timestamp) -> Result<Vec<Principal>> {
        let state = self.require_org()?;
        let mut out = BTreeSet::new();
        for e in entries {
            let p = match Principal::parse(e) {
                Some(Principal::Role(Role::Guest | Role::Relay)) => {
                    bail!("{e:?}: guests and relays cannot be invited (they cannot answer)")
                }
                Some(p) => p,
                None => Principal::Member(find_member(state, e, now)?),
            };
            if p != Principal::Member(self.member) {
                out.insert(p);
            }
        }
        Ok(out.into_iter().collect())
    }
}

/// The checks of [`Details::check`], and no control characters in the
/// one-line fields (the title names the minutes document too).
fn check_fields(d: &Details) -> Result<()> {
    d.check()?;
    outpost_identity::op::check_text("title", &d.title, true)?;
    outpost_identity::op::check_text("place", &d.place, false)?;
    if d.link.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bail!("the call link must be one address without spaces");
    }
    Ok(())
}

/// Readers and writers of a meeting's scope: the organizer and the invitees.
fn scope_members(local: &Local, invitees: &[Principal]) -> Vec<Principal> {
    let mut set: BTreeSet<Principal> = invitees.iter().cloned().collect();
    set.insert(Principal::Member(local.member));
    set.into_iter().collect()
}

/// This member as the signer of their current certificate.
fn me(local: &Local, now: Timestamp) -> Result<Signer> {
    signer_now(local.require_org()?, &local.member, now).context("you hold no valid certificate")
}

fn opt_text(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { json!(s) }
}

/// The row of one meeting, as `me` sees it.
fn row(o: &Opened, me: &Signer, names: &BTreeMap<[u8; 32], String>, now: u64) -> Value {
    let m = &o.meeting;
    let d = &m.details;
    let organizer = m.organizer.as_ref().map(|s| s.key).unwrap_or_default();
    json!({
        "id": o.key.1.to_hex(),
        "title": d.title,
        "start": d.start,
        "end": d.end,
        "place": opt_text(&d.place),
        "link": opt_text(&d.link),
        "remind_minutes": d.remind_minutes,
        "organizer": person(names, &organizer),
        "organizer_me": organizer == me.key,
        "invitees": m.invitee_entries,
        "invited": m.invites(me),
        "my_answer": m.answers.get(&me.key).map(|a| a.response.name()),
        "cancelled": m.cancelled.is_some(),
        "past": m.is_past(now),
        "minutes": m.minutes.as_ref().map(|x| hex::encode(x.doc)),
    })
}

/// The invitees as people, resolved from the org's certificates now, with
/// their answers.
fn answers(local: &Local, o: &Opened, now: Timestamp) -> Result<Value> {
    let m = &o.meeting;
    let state = local.require_org()?;
    let mut people = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut listed = BTreeSet::new();
    let answer_json = |key: &[u8; 32]| match m.answers.get(key) {
        Some(a) => json!({"answer": a.response.name(), "time": a.mark.time, "record": hex::encode(a.mark.id)}),
        None => json!({"answer": null}),
    };
    for (who, name) in people_now(state, now) {
        if !m.invites(&who) {
            continue;
        }
        listed.insert(who.key);
        let mut v = answer_json(&who.key);
        *counts
            .entry(m.answers.get(&who.key).map_or("no_answer", |a| a.response.name()))
            .or_default() += 1;
        v["member"] = json!(hex::encode(who.key));
        v["name"] = json!(name);
        v["dept"] = json!(who.dept.to_string());
        people.push(v);
    }
    people.sort_by(|x, y| (x["name"].as_str(), x["member"].as_str()).cmp(&(y["name"].as_str(), y["member"].as_str())));
    let names = names(state);
    // Answers of people no longer invited (moved, revoked, removed).
    let others: Vec<Value> = m
        .answers
        .keys()
        .filter(|k| !listed.contains(*k))
        .map(|k| {
            let mut v = answer_json(k);
            v["member"] = json!(hex::encode(k));
            v["name"] = json!(names.get(k));
            v
        })
        .collect();
    Ok(json!({
        "people": people,
        "others": others,
        "accepted": counts.get("accept").copied().unwrap_or(0),
        "declined": counts.get("decline").copied().unwrap_or(0),
        "tentative": counts.get("tentative").copied().unwrap_or(0),
        "no_answer": counts.get("no_answer").copied().unwrap_or(0),
    }))
}

fn show(local: &Local, o: &Opened, now: Timestamp) -> Result<Value> {
    let names = names(local.require_org()?);
    let me = me(local, now)?;
    let mut v = row(o, &me, &names, now.0);
    v["agenda"] = json!(o.meeting.details.agenda);
    v["answers"] = answers(local, o, now)?;
    v["now"] = json!(now.0);
    Ok(v)
}

/// The end of a meeting from an explicit end or a length.
fn end_of(start: u64, end: Option<&When>, minutes: Option<u64>) -> Result<Option<u64>> {
    match (end, minutes) {
        (Some(_), Some(_)) => bail!("give an end or a length, not both"),
        (Some(e), None) => Ok(Some(e.seconds()?)),
        (None, Some(m)) => Ok(Some(start.saturating_add(m.saturating_mul(60)))),
        (None, None) => Ok(None),
    }
}

/// Sends this member the reminders due at `now`: for every meeting they
/// take part in (organizer or invitee, not declined, not cancelled) that
/// starts within its reminder time, and of which no reminder of theirs
/// for this start counts yet, writes a `Reminded` record (time `now`) and
/// returns a notice `{"kind": "meeting_reminder", meeting, title, start,
/// end, place, link, remind_minutes, starts_in}`.
///
/// Called by the node's scheduler with its clock; nothing here reads the
/// clock. The member's devices take turns as for deadline reminders
/// (`reminders::stagger`): the second waits 30 s past the reminder's time
/// and by then holds the first one's record, so one device notifies. Two
/// devices apart may both notify; every node still counts one reminder.
pub fn remind(local: &mut Local, pass: &Passphrase, now: Timestamp) -> Result<Vec<Value>> {
    let me = me(local, now)?;
    let delay = local.reminder_stagger(now)?;
    let mut out = Vec::new();
    for o in local.meetings(pass)? {
        let Some(due) = due_reminder(&o.meeting, &me, now.0) else {
            continue;
        };
        let at = due
            .start
            .saturating_sub(u64::from(due.remind_minutes).saturating_mul(60));
        if now.0 < at.saturating_add(delay) {
            continue;
        }
        local.write_meeting(o.key, &Entry::Reminded { start: due.start }, pass, now)?;
        let d = &o.meeting.details;
        out.push(json!({
            "kind": "meeting_reminder",
            "meeting": o.key.1.to_hex(),
            "title": d.title,
            "start": d.start,
            "end": d.end,
            "place": opt_text(&d.place),
            "link": opt_text(&d.link),
            "remind_minutes": due.remind_minutes,
            "starts_in": d.start.saturating_sub(now.0),
        }));
    }
    Ok(out)
}

/// Carries out `req` as this node's member and answers in JSON.
pub fn handle(local: &mut Local, pass: &Passphrase, req: MeetingRequest) -> Result<Value> {
    let now = crate::now();
    match req {
        MeetingRequest::Create {
            title,
            start,
            end,
            minutes,
            place,
            link,
            agenda,
            invitees,
            remind_minutes,
        } => {
            let start = start.seconds()?;
            let end =
                end_of(start, end.as_ref(), minutes)?.unwrap_or_else(|| start.saturating_add(MINUTES_DEFAULT * 60));
            let details = Details {
                title: title.trim().to_owned(),
                start,
                end,
                place: place.trim().to_owned(),
                link: link.trim().to_owned(),
                agenda,
                remind_minutes: remind_minutes.unwrap_or(meeting::REMIND_MINUTES_DEFAULT),
            };
            let key = local.create_meeting(details, &invitees, pass, now)?;
            let o = local.find_meeting(&key.1.to_hex(), pass)?;
            let mut v = show(local, &o, now)?;
            v["created"] = json!(true);
            Ok(v)
        }
        MeetingRequest::Update {
            meeting,
            title,
            start,
            end,
            minutes,
            place,
            link,
            agenda,
            remind_minutes,
            invitees,
        } => {
            let o = local.find_meeting(&meeting, pass)?;
            if !o.meeting.organized_by(&local.member.0) {
                bail!("only the meeting's organizer may change it");
            }
            if o.meeting.cancelled.is_some() {
                bail!("this meeting was cancelled");
            }
            let old = &o.meeting.details;
            let start = start.as_ref().map(When::seconds).transpose()?;
            let from = start.unwrap_or(old.start);
            let end = match end_of(from, end.as_ref(), minutes)? {
                Some(e) => Some(e),
                // Moved: keep the length.
                None => start.map(|s| s.saturating_add(old.end.saturating_sub(old.start))),
            };
            let mut change = Change {
                title: title.map(|t| t.trim().to_owned()),
                start,
                end,
                place: place.map(|p| p.trim().to_owned()),
                link: link.map(|l| l.trim().to_owned()),
                agenda,
                remind_minutes,
                invitees: None,
            };
            check_fields(&old.changed(&change))?;
            if let Some(list) = invitees {
                let principals = local.invitee_principals(&list, now)?;
                let texts: Vec<String> = principals.iter().map(ToString::to_string).collect();
                meeting::parse_invitees(&texts)?;
                if principals != o.meeting.invitees {
                    let members = scope_members(local, &principals);
                    local.reshare(o.key.0, members.clone(), members, pass, now)?;
                }
                change.invitees = Some(texts);
            }
            if change == Change::default() {
                bail!("give something to change");
            }
            let record = local.write_meeting(o.key, &Entry::Update(change), pass, now)?;
            let o = local.find_meeting(&o.key.1.to_hex(), pass)?;
            let mut v = show(local, &o, now)?;
            v["record"] = json!(hex::encode(record));
            Ok(v)
        }
        MeetingRequest::List { past } => {
            let me = me(local, now)?;
            let names = names(local.require_org()?);
            let mut rows: Vec<(u64, Value)> = local
                .meetings(pass)?
                .iter()
                .filter(|o| o.meeting.is_past(now.0) == past)
                .map(|o| (o.meeting.details.start, row(o, &me, &names, now.0)))
                .collect();
            rows.sort_by(|a, b| {
                let by_start = if past { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) };
                by_start.then_with(|| a.1["id"].as_str().cmp(&b.1["id"].as_str()))
            });
            Ok(json!({
                "now": now.0,
                "past": past,
                "meetings": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            }))
        }
        MeetingRequest::Show { meeting } => {
            let o = local.find_meeting(&meeting, pass)?;
            show(local, &o, now)
        }
        MeetingRequest::Answer { meeting, response } => {
            let o = local.find_meeting(&meeting, pass)?;
            let me = me(local, now)?;
            if o.meeting.organized_by(&me.key) {
                bail!("you organize this meeting: only invitees answer");
            }
            if !o.meeting.invites(&me) {
                bail!("you are not invited to this meeting");
            }
            if o.meeting.cancelled.is_some() {
                bail!("this meeting was cancelled");
            }
            let record = local.write_meeting(o.key, &Entry::Answer(response), pass, now)?;
            Ok(json!({
                "meeting": o.key.1.to_hex(),
                "title": o.meeting.details.title,
                "answer": response.name(),
                "record": hex::encode(record),
            }))
        }
        MeetingRequest::Minutes { meeting } => {
            let o = local.find_meeting(&meeting, pass)?;
            if let Some(m) = &o.meeting.minutes {
                return Ok(json!({
                    "meeting": o.key.1.to_hex(),
                    "minutes": hex::encode(m.doc),
                    "created": false,
                }));
            }
            let me = me(local, now)?;
            if !o.meeting.includes(&me) {
                bail!("only the organizer and the invitees write the minutes");
            }
            if o.meeting.cancelled.is_some() {
                bail!("this meeting was cancelled: it has no minutes");
            }
            let mut title = format!("Minutes: {}", o.meeting.details.title);
            // A document title is at most 256 bytes: cut at a character.
            while title.len() > 256 {
                title.pop();
            }
            let doc = local.create_doc(o.key.0, &title, pass, now)?;
            local.write_meeting(o.key, &Entry::Minutes { doc: doc.1.0 }, pass, now)?;
            // Someone else's may have counted first (concurrent creation).
            let o = local.find_meeting(&o.key.1.to_hex(), pass)?;
            let linked = o.meeting.minutes.as_ref().map(|m| hex::encode(m.doc));
            Ok(json!({
                "meeting": o.key.1.to_hex(),
                "minutes": linked,
                "created": linked.as_deref() == Some(doc.1.to_hex().as_str()),
            }))
        }
        MeetingRequest::Cancel { meeting } => {
            let o = local.find_meeting(&meeting, pass)?;
            if !o.meeting.organized_by(&local.member.0) {
                bail!("only the meeting's organizer may cancel it");
            }
            if o.meeting.cancelled.is_some() {
                bail!("this meeting was cancelled already");
            }
            let record = local.write_meeting(o.key, &Entry::Cancel, pass, now)?;
            Ok(json!({
                "meeting": o.key.1.to_hex(),
                "title": o.meeting.details.title,
                "cancelled": true,
                "record": hex::encode(record),
            }))
        }
        MeetingRequest::Remind { now: at } => {
            let at = match at {
                Some(w) => Timestamp(w.seconds()?),
                None => now,
            };
            Ok(json!({"now": at.0, "reminders": remind(local, pass, at)?}))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::doc_key_bytes;
    use crate::home::Home;
    use outpost_identity::keyfile::KeyKind;
    use outpost_identity::request::Bundle;
    use outpost_identity::{DeptPath, MemberKeys, RoleCert};
    use outpost_seal::Envelope;

    fn member_cert(keys: &MemberKeys, name: &str, now: Timestamp) -> RoleCert {
        RoleCert {
            serial: rand::random(),
            subject: keys.public(),
            exchange: keys.exchange_public(),
            name: name.to_owned(),
            email: String::new(),
            dept: DeptPath::parse("HQ/East").expect("a valid path"),
            position: String::new(),
            level: 1,
            role: Role::Member,
            resources: Vec::new(),
            not_before: now,
            not_after: now.plus(30 * 86_400),
            invite: None,
        }
    }

    /// Gives `to` every op and envelope `from` holds, as a sync would.
    fn carry(from: &Local, to: &mut Local) {
        let bundle = from.bundle_all().expect("a bundle of the org");
        let (b, ops) = Bundle::decode(&bundle.encode()).expect("decodes");
        if to.state().is_none() {
            to.pin_org(b.root, &b.org_name).expect("pinned");
        }
        to.add_ops(ops, None).expect("ops added");
        for bytes in from.store.envelopes().expect("envelopes") {
            let env = Envelope::decode(&bytes).expect("a stored envelope decodes");
            let doc = doc_key_bytes(&(env.header.scope, env.header.doc));
            to.store
                .put_envelopes_with([(&doc, &env.id.0, bytes.as_slice())], true)
                .expect("stored");
        }
    }

    /// Alice organizes; Bob, invited, has two devices that each run the
    /// reminders at the same moment without having met: each notifies
    /// once, and once they have met neither does again, and every node
    /// counts one reminder.
    #[test]
    fn two_devices_of_one_member_count_one_reminder() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let pass = Passphrase::default();
        let now = crate::now();
        let homes: Vec<Home> = ["alice", "bob", "bob2"]
            .iter()
            .map(|n| Home::at(dir.path().join(n)))
            .collect();
        for h in &homes {
            h.init(&pass).expect("initialised");
        }
        let bob_keys = homes[1].member_keys(&pass).expect("keys");
        homes[2]
            .write_key(KeyKind::Member, bob_keys.public(), &*bob_keys.secret(), &pass)
            .expect("Bob's key on his second device");
        let mut alice = Local::open(homes[0].clone()).expect("opens");
        alice.create_org("Acme", "Alice", &pass, now).expect("org created");
        let alice_keys = homes[0].member_keys(&pass).expect("keys");
        let grant = alice
            .require_org()
            .expect("an org")
            .sign_grant(&alice_keys.signing, member_cert(&bob_keys, "Bob", now), now)
            .expect("granted");
        alice.add_ops(vec![grant], None).expect("stored");

        let start = now.0 + 3600;
        let details = Details {
            title: "Budget".into(),
            start,
            end: start + 1800,
            place: "Room 4".into(),
            link: String::new(),
            agenda: String::new(),
            remind_minutes: 15,
        };
        let key = alice
            .create_meeting(details, &["Bob".to_owned()], &pass, now)
            .expect("created");
        let mut bob = Local::open(homes[1].clone()).expect("opens");
        let mut bob2 = Local::open(homes[2].clone()).expect("opens");
        carry(&alice, &mut bob);
        carry(&alice, &mut bob2);
        assert_eq!(bob.member, bob2.member);

        let at = Timestamp(start - 10 * 60);
        let early = Timestamp(start - 16 * 60);
        assert!(remind(&mut bob, &pass, early).expect("runs").is_empty(), "too early");
        let one = remind(&mut bob, &pass, at).expect("runs");
        let two = remind(&mut bob2, &pass, at).expect("runs");
        assert_eq!((one.len(), two.len()), (1, 1), "each device notifies once");
        assert_eq!(one[0]["kind"], "meeting_reminder");
        assert_eq!(one[0]["meeting"], key.1.to_hex());
        assert_eq!(one[0]["starts_in"], 600);
        assert!(remind(&mut bob, &pass, at).expect("runs").is_empty());

        // They meet (and Alice hears from both): one reminder counts.
        carry(&bob, &mut bob2);
        carry(&bob2, &mut bob);
        carry(&bob, &mut alice);
        for local in [&mut bob, &mut bob2] {
            assert!(remind(local, &pass, Timestamp(start - 60)).expect("runs").is_empty());
        }
        let o = alice.find_meeting(&key.1.to_hex(), &pass).expect("found");
        assert_eq!(o.meeting.reminded.len(), 1, "{:?}", o.meeting.reminded);
        assert!(o.meeting.reminded.contains_key(&(bob.member.0, start)));
        assert_eq!(o.meeting.ignored.len(), 1, "the other device's is a repeat");
        // The organizer is reminded too, once.
        assert_eq!(remind(&mut alice, &pass, at).expect("runs").len(), 1);
        assert!(remind(&mut alice, &pass, at).expect("runs").is_empty());
    }
}
