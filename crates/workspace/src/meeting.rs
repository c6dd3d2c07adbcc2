//! Meetings: a time, a place or a call link, an agenda, invitees and their
//! answers, reminders and the minutes.
//!
//! Every meeting is a record log of its own ([`RecordKind::Meeting`](crate::record::RecordKind::Meeting) in
//! [`crate::record`]) in a scope whose readers and writers are the
//! organizer and the invitees (people, departments), so that invitees can
//! answer and co-edit the minutes. An [`Entry`] is one of:
//!
//! - [`Entry::Create`]: the meeting (its [`Details`] and invitees);
//! - [`Entry::Update`]: new details or invitees, by the organizer;
//! - [`Entry::Cancel`]: the organizer calls it off;
//! - [`Entry::Answer`]: an invitee accepts, declines or may come;
//! - [`Entry::Minutes`]: links the minutes, a text document of the
//!   meeting's scope;
//! - [`Entry::Reminded`]: the signer's node reminded them of the meeting
//!   starting at a given time.
//!
//! [`Meeting::build`] folds them, a pure function of the set of records,
//! the same on every node:
//!
//! - the first `Create` in the log's causal order whose details hold (a
//!   title, an end after the start, limits) defines the meeting and its
//!   organizer (its signer); later ones are ignored, and so is everything
//!   before it;
//! - `Update` and `Cancel` count from the organizer only; nothing but
//!   reminders and answers already given changes once it is cancelled;
//! - an `Answer` counts from an invitee (whose certificate, when they
//!   signed, is covered by the invitees at that point); each invitee's
//!   latest counting answer in the causal order stands;
//! - `Minutes` count from the organizer or an invitee; the first that
//!   counts links the document, later ones are ignored (two people who
//!   create minutes at the same moment end with the same one everywhere);
//! - a `Reminded` counts once per member and start time, whichever of a
//!   member's devices wrote it: [`due_reminder`] is then `None` for them.

use crate::record::{Member, Record, RecordId, Signer, causal_order};
use outpost_identity::op::Role;
use outpost_identity::scope::Principal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest title, place or invitee entry, in bytes.
pub const NAME_BYTES_MAX: usize = 256;
/// Largest call link, in bytes.
pub const LINK_BYTES_MAX: usize = 2048;
/// Largest agenda, in bytes.
pub const AGENDA_BYTES_MAX: usize = 64 * 1024;
/// Most invitee entries.
pub const INVITEES_MAX: usize = 256;
/// How long before the start invitees are reminded, by default.
pub const REMIND_MINUTES_DEFAULT: u32 = 15;
/// The earliest reminder: a week before.
pub const REMIND_MINUTES_MAX: u32 = 7 * 24 * 60;
/// The longest meeting: a week.
pub const DURATION_SECS_MAX: u64 = 7 * 24 * 3600;

/// An invitee's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Will come.
    Accept,
    /// Will not come (and is not reminded).
    Decline,
    /// May come.
    Tentative,
}

impl Response {
    /// The word shown.
    pub fn name(self) -> &'static str {
        match self {
            Response::Accept => "accept",
            Response::Decline => "decline",
            Response::Tentative => "tentative",
        }
    }
}

/// What a meeting is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    /// The title.
    pub title: String,
    /// When it starts (seconds since 1970).
    pub start: u64,
    /// When it ends.
    pub end: u64,
    /// Where (a room), or empty.
    pub place: String,
    /// The call link, or empty.
    pub link: String,
    /// The agenda (Markdown), or empty.
    pub agenda: String,
    /// How many minutes before the start participants are reminded; 0 for
    /// no reminder.
    pub remind_minutes: u32,
}

/// New details, by the organizer: the fields given replace the old ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// A new title.
    pub title: Option<String>,
    /// A new start.
    pub start: Option<u64>,
    /// A new end.
    pub end: Option<u64>,
    /// A new place.
    pub place: Option<String>,
    /// A new call link.
    pub link: Option<String>,
    /// A new agenda.
    pub agenda: Option<String>,
    /// A new reminder time.
    pub remind_minutes: Option<u32>,
    /// New invitees (replacing the old).
    pub invitees: Option<Vec<String>>,
}

/// One record of a meeting's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// Creates the meeting.
    Create {
        /// What it is.
        details: Details,
        /// Who is invited: `member:KEY`, `dept:PATH`, `role:ROLE` or
        /// `everyone`.
        invitees: Vec<String>,
    },
    /// Changes it (organizer only).
    Update(Change),
    /// Calls it off (organizer only).
    Cancel,
    /// An invitee's answer.
    Answer(Response),
    /// Links the minutes: a text document of the meeting's scope.
    Minutes {
        /// The document's id.
        doc: [u8; 16],
    },
    /// The signer was reminded of the meeting starting at `start`.
    Reminded {
        /// The start time the reminder was for.
        start: u64,
    },
}

/// Details or invitees that do not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// No title.
    #[error("a meeting needs a title")]
    NoTitle,
    /// The end is not after the start, or too far after it.
    #[error("a meeting must end after it starts, and last at most a week")]
    BadTimes,
    /// Reminder too early.
    #[error("a reminder may come at most {REMIND_MINUTES_MAX} minutes (a week) before the start")]
    RemindTooEarly,
    /// An invitee entry that does not read.
    #[error("{0:?} is not an invitee: write a name, member:KEY, dept:PATH, role:ROLE or everyone")]
    BadInvitee(String),
    /// A field over its limit.
    #[error("{what} is {len} long; at most {max} is allowed")]
    TooLarge {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

fn bounded(what: &'static str, len: usize, max: usize) -> Result<(), Invalid> {
    if len > max {
        Err(Invalid::TooLarge { what, len, max })
    } else {
        Ok(())
    }
}

impl Details {
    /// Checks the title, the times and every limit.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.title.trim().is_empty() {
            return Err(Invalid::NoTitle);
        }
        bounded("the title", self.title.len(), NAME_BYTES_MAX)?;
        bounded("the place", self.place.len(), NAME_BYTES_MAX)?;
        bounded("the link", self.link.len(), LINK_BYTES_MAX)?;
        bounded("the agenda", self.agenda.len(), AGENDA_BYTES_MAX)?;
        if self.end <= self.start || self.end - self.start > DURATION_SECS_MAX {
            return Err(Invalid::BadTimes);
        }
        if self.remind_minutes > REMIND_MINUTES_MAX {
            return Err(Invalid::RemindTooEarly);
        }
        Ok(())
    }

    /// These details with `change` applied (invitees aside).
    pub fn changed(&self, change: &Change) -> Details {
        Details {
            title: change.title.clone().unwrap_or_else(|| self.title.clone()),
            start: change.start.unwrap_or(self.start),
            end: change.end.unwrap_or(self.end),
            place: change.place.clone().unwrap_or_else(|| self.place.clone()),
            link: change.link.clone().unwrap_or_else(|| self.link.clone()),
            agenda: change.agenda.clone().unwrap_or_else(|| self.agenda.clone()),
            remind_minutes: change.remind_minutes.unwrap_or(self.remind_minutes),
        }
    }
}

/// Reads invitee entries (guests and relays cannot be invited: they write
/// nothing, so they could not answer).
pub fn parse_invitees(entries: &[String]) -> Result<Vec<Principal>, Invalid> {
    bounded("the list of invitees", entries.len(), INVITEES_MAX)?;
    entries
        .iter()
        .map(|e| {
            bounded("an invitee", e.len(), NAME_BYTES_MAX)?;
            match Principal::parse(e) {
                Some(Principal::Role(Role::Guest | Role::Relay)) | None => Err(Invalid::BadInvitee(e.clone())),
                Some(p) => Ok(p),
            }
        })
        .collect()
}

/// Why a record had no effect.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ignored {
    /// It comes before any counting `Create`.
    NotCreated,
    /// A `Create` after the one that defines the meeting.
    AlreadyCreated,
    /// Details or invitees that do not hold.
    Invalid(Invalid),
    /// An update or cancellation by someone else than the organizer.
    NotOrganizer,
    /// An answer, minutes or reminder by someone not invited.
    NotInvited,
    /// The organizer's own answer (the organizer takes part).
    ByOrganizer,
    /// The meeting was cancelled.
    Cancelled,
    /// Minutes were linked already.
    MinutesLinked,
    /// A second reminder of the same member for the same start.
    Repeated,
}

/// A record that counted: which, by whom, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The record.
    pub id: RecordId,
    /// Its signer.
    pub by: Member,
    /// When, as the signer's clock said (seconds since 1970).
    pub time: u64,
}

fn mark(r: &Record<Entry>) -> Mark {
    Mark {
        id: r.id,
        by: r.signer.key,
        time: r.time,
    }
}

/// An invitee's answer as it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// What they answered.
    pub response: Response,
    /// The record.
    pub mark: Mark,
}

/// The linked minutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minutes {
    /// The document's id (in the meeting's scope).
    pub doc: [u8; 16],
    /// Who linked it, when.
    pub mark: Mark,
}

/// A reminder due now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reminder {
    /// The start it is for.
    pub start: u64,
    /// How many minutes before the start reminders come.
    pub remind_minutes: u32,
}

/// One meeting as its records make it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meeting {
    /// The `Create` that defines it.
    pub created: Option<Mark>,
    /// Who organizes it, with the certificate they created it under.
    pub organizer: Option<Signer>,
    /// What it is, now.
    pub details: Details,
    /// Who is invited, now, as written.
    pub invitee_entries: Vec<String>,
    /// Who is invited, now.
    pub invitees: Vec<Principal>,
    /// The organizer's counting updates, in order.
    pub updates: Vec<Mark>,
    /// The cancellation.
    pub cancelled: Option<Mark>,
    /// Each invitee's answer as it stands.
    pub answers: BTreeMap<Member, Answer>,
    /// The minutes, once linked.
    pub minutes: Option<Minutes>,
    /// Reminders sent, by member and start time.
    pub reminded: BTreeMap<(Member, u64), Mark>,
    /// Records with no effect, and why.
    pub ignored: Vec<(RecordId, Ignored)>,
}

impl Meeting {
    /// The meeting the `records` of one log make: a pure function of the
    /// set of records.
    pub fn build(records: &[Record<Entry>]) -> Meeting {
        let mut m = Meeting::default();
        for r in causal_order(records) {
            if let Err(why) = m.apply(r) {
                m.ignored.push((r.id, why));
            }
        }
        m
    }

    /// Is whoever holds `who`'s certificate invited (and not the
    /// organizer)?
    pub fn invites(&self, who: &Signer) -> bool {
        self.organizer.as_ref().is_some_and(|o| o.key != who.key) && self.invitees.iter().any(|p| who.is_in(p))
    }

    /// Is `who` the organizer?
    pub fn organized_by(&self, who: &Member) -> bool {
        self.organizer.as_ref().is_some_and(|o| o.key == *who)
    }

    /// Does `who` take part: the organizer or an invitee?
    pub fn includes(&self, who: &Signer) -> bool {
        self.organized_by(&who.key) || self.invites(who)
    }

    /// Has it ended at `now`?
    pub fn is_past(&self, now: u64) -> bool {
        self.details.end <= now
    }

    fn apply(&mut self, r: &Record<Entry>) -> Result<(), Ignored> {
        if let Entry::Create { details, invitees } = &r.body {
            if self.created.is_some() {
                return Err(Ignored::AlreadyCreated);
            }
            details.check().map_err(Ignored::Invalid)?;
            let parsed = parse_invitees(invitees).map_err(Ignored::Invalid)?;
            self.created = Some(mark(r));
            self.organizer = Some(r.signer.clone());
            self.details = details.clone();
            self.invitee_entries = invitees.clone();
            self.invitees = parsed;
            return Ok(());
        }
        if self.created.is_none() {
            return Err(Ignored::NotCreated);
        }
        match &r.body {
            Entry::Create { .. } => unreachable!("handled above"),
            Entry::Update(change) => {
                if !self.organized_by(&r.signer.key) {
                    return Err(Ignored::NotOrganizer);
                }
                if self.cancelled.is_some() {
                    return Err(Ignored::Cancelled);
                }
                let details = self.details.changed(change);
                details.check().map_err(Ignored::Invalid)?;
                if let Some(entries) = &change.invitees {
                    self.invitees = parse_invitees(entries).map_err(Ignored::Invalid)?;
                    self.invitee_entries = entries.clone();
                }
                self.details = details;
                self.updates.push(mark(r));
            }
            Entry::Cancel => {
                if !self.organized_by(&r.signer.key) {
                    return Err(Ignored::NotOrganizer);
                }
                if self.cancelled.is_some() {
                    return Err(Ignored::Cancelled);
                }
                self.cancelled = Some(mark(r));
            }
            Entry::Answer(response) => {
                if self.organized_by(&r.signer.key) {
                    return Err(Ignored::ByOrganizer);
                }
                if !self.invites(&r.signer) {
                    return Err(Ignored::NotInvited);
                }
                if self.cancelled.is_some() {
                    return Err(Ignored::Cancelled);
                }
                self.answers.insert(
                    r.signer.key,
                    Answer {
                        response: *response,
                        mark: mark(r),
                    },
                );
            }
            Entry::Minutes { doc } => {
                if !self.includes(&r.signer) {
                    return Err(Ignored::NotInvited);
                }
                if self.cancelled.is_some() {
                    return Err(Ignored::Cancelled);
                }
                if self.minutes.is_some() {
                    return Err(Ignored::MinutesLinked);
                }
                self.minutes = Some(Minutes {
                    doc: *doc,
                    mark: mark(r),
                });
            }
            Entry::Reminded { start } => {
                if !self.includes(&r.signer) {
                    return Err(Ignored::NotInvited);
                }
                let key = (r.signer.key, *start);
                if self.reminded.contains_key(&key) {
                    return Err(Ignored::Repeated);
                }
                self.reminded.insert(key, mark(r));
            }
        }
        Ok(())
    }
}

/// The reminder due at `now` for whoever holds `who`'s certificate, if
/// any: the meeting is not cancelled, they take part (organizer or
/// invitee) and have not declined, reminders are on, `start -
/// remind_minutes <= now < start`, and no `Reminded` of theirs for this
/// start counts yet.
pub fn due_reminder(meeting: &Meeting, who: &Signer, now: u64) -> Option<Reminder> {
    let d = &meeting.details;
    if meeting.created.is_none() || meeting.cancelled.is_some() || d.remind_minutes == 0 {
        return None;
    }
    if !meeting.includes(who) {
        return None;
    }
    if meeting
        .answers
        .get(&who.key)
        .is_some_and(|a| a.response == Response::Decline)
    {
        return None;
    }
    let from = d.start.saturating_sub(u64::from(d.remind_minutes) * 60);
    if now < from || now >= d.start || meeting.reminded.contains_key(&(who.key, d.start)) {
        return None;
    }
    Some(Reminder {
        start: d.start,
        remind_minutes: d.remind_minutes,
    })
}

#[cfg(test)]
mod tests;
