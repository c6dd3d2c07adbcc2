//! Announcements: one notice from an admin or a department head to all
//! staff or to chosen departments or roles, with who has read and
//! acknowledged it.
//!
//! Every announcement is a record log of its own ([`RecordKind::Announcement`](crate::record::RecordKind::Announcement)
//! in [`crate::record`]) in a scope whose readers and writers are the
//! audience and the publisher: readers must be able to write, since their
//! read marks and acknowledgements are records of the log, each signed by
//! its author like any envelope. An [`Entry`] is one of:
//!
//! - [`Entry::Publish`]: the announcement itself (title, Markdown body,
//!   audience, pinned until, acknowledgement required, attached files);
//! - [`Entry::Read`]: the signer has read the announcement;
//! - [`Entry::Ack`]: the signer acknowledges it (and so has read it).
//!
//! The validity rule only checks that a record's author may write in the
//! scope, and anyone may create a scope. Who may *publish* is decided here,
//! by [`Announcement::build`], a pure function of the set of records, the
//! same on every node:
//!
//! - a `Publish` counts only if the role certificate its envelope names is
//!   an admin's (any audience), or a department head's whose every audience
//!   entry is a department within the head's own ([`may_publish`]); the
//!   first counting `Publish` in the log's causal order defines the
//!   announcement, later ones are ignored;
//! - a log with no counting `Publish` is *rejected*, with the reason of its
//!   first `Publish`: every node shows it so and lists it only on request;
//! - a `Read` or `Ack` counts only if it names the defining `Publish`, and
//!   its signer is in the audience (by the certificate they signed with)
//!   and is not the publisher; a member's first `Read` (or `Ack`) is when
//!   they read it, their first `Ack` when they acknowledged it; an `Ack`
//!   counts only when acknowledgement was required.
//!
//! Records with no effect are listed in [`Announcement::ignored`] with the
//! reason.

use crate::chat::Attachment;
use crate::record::{Member, Record, RecordId, Signer, causal_order};
use outpost_identity::op::{DeptPath, Role};
use outpost_identity::scope::Principal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest title, in bytes.
pub const TITLE_BYTES_MAX: usize = 256;
/// Largest body (Markdown), in bytes.
pub const TEXT_BYTES_MAX: usize = 128 * 1024;
/// Most audience entries.
pub const AUDIENCE_MAX: usize = 64;
/// Most attached files.
pub const ATTACHMENTS_MAX: usize = 32;
/// Largest audience entry, file name or media type, in bytes.
pub const NAME_BYTES_MAX: usize = 256;

/// The announcement itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    /// The title.
    pub title: String,
    /// The text, in Markdown.
    pub body: String,
    /// Who it is for: `everyone`, `dept:PATH`, `role:ROLE` or `member:KEY`.
    pub audience: Vec<String>,
    /// Listed first until this time (seconds since 1970).
    pub pinned_until: Option<u64>,
    /// Readers are asked to acknowledge it.
    pub ack_required: bool,
    /// Attached files.
    pub attachments: Vec<Attachment>,
}

/// One record of an announcement's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// Publishes the announcement.
    Publish(Publish),
    /// The signer has read the announcement `of` (a `Publish` record).
    Read {
        /// The `Publish` record read.
        of: RecordId,
    },
    /// The signer acknowledges the announcement `of` (a `Publish` record):
    /// the envelope's signature makes it a signed statement.
    Ack {
        /// The `Publish` record acknowledged.
        of: RecordId,
    },
}

/// Why a `Publish` does not count.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Only admins and department heads publish.
    #[error("only admins and department heads may publish announcements; the publisher signed as a {0}")]
    NotAPublisher(Role),
    /// A department head addressed something else than a department of
    /// their own subtree.
    #[error(
        "a department head may address only their own department and those below it ({own}); {entry} is outside it"
    )]
    OutsideDept {
        /// The head's department.
        own: String,
        /// The entry refused.
        entry: String,
    },
    /// An audience entry that does not read.
    #[error("{0:?} is not an audience: write everyone, dept:PATH, role:ROLE or member:KEY")]
    BadAudience(String),
    /// No audience.
    #[error("an announcement needs an audience")]
    NoAudience,
    /// No title.
    #[error("an announcement needs a title")]
    NoTitle,
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

fn bounded(what: &'static str, len: usize, max: usize) -> Result<(), Refusal> {
    if len > max {
        Err(Refusal::TooLarge { what, len, max })
    } else {
        Ok(())
    }
}

impl Publish {
    /// Checks every limit, and that there is a title and an audience.
    pub fn check(&self) -> Result<(), Refusal> {
        if self.title.trim().is_empty() {
            return Err(Refusal::NoTitle);
        }
        bounded("the title", self.title.len(), TITLE_BYTES_MAX)?;
        bounded("the text", self.body.len(), TEXT_BYTES_MAX)?;
        bounded("the audience", self.audience.len(), AUDIENCE_MAX)?;
        bounded("the list of files", self.attachments.len(), ATTACHMENTS_MAX)?;
        for a in &self.audience {
            bounded("an audience entry", a.len(), NAME_BYTES_MAX)?;
        }
        for a in &self.attachments {
            bounded("a file name", a.name.len(), NAME_BYTES_MAX)?;
            bounded("a media type", a.media_type.len(), NAME_BYTES_MAX)?;
        }
        if self.audience.is_empty() {
            return Err(Refusal::NoAudience);
        }
        Ok(())
    }
}

/// Reads audience entries. Guests and relays cannot be addressed: they
/// write nothing, so they could not mark an announcement read.
pub fn parse_audience(entries: &[String]) -> Result<Vec<Principal>, Refusal> {
    entries
        .iter()
        .map(|e| match Principal::parse(e) {
            Some(Principal::Role(Role::Guest | Role::Relay)) | None => Err(Refusal::BadAudience(e.clone())),
            Some(p) => Ok(p),
        })
        .collect()
}

/// May the holder of a certificate with `role` in `dept` publish to
/// `audience`? Admins may address anyone; department heads only
/// departments within their own; nobody else may publish.
pub fn may_publish(role: Role, dept: &DeptPath, audience: &[Principal]) -> Result<(), Refusal> {
    if audience.is_empty() {
        return Err(Refusal::NoAudience);
    }
    match role {
        Role::Admin => Ok(()),
        Role::DeptHead => {
            for p in audience {
                match p {
                    Principal::Dept(d) if d.is_within(dept) => {}
                    other => {
                        return Err(Refusal::OutsideDept {
                            own: if dept.segments().is_empty() {
                                "the whole org".to_owned()
                            } else {
                                dept.to_string()
                            },
                            entry: other.to_string(),
                        });
                    }
                }
            }
            Ok(())
        }
        other => Err(Refusal::NotAPublisher(other)),
    }
}

/// Does `p` count when `signer` signed it? Returns the audience.
pub fn judge(signer: &Signer, p: &Publish) -> Result<Vec<Principal>, Refusal> {
    p.check()?;
    let audience = parse_audience(&p.audience)?;
    may_publish(signer.role, &signer.dept, &audience)?;
    Ok(audience)
}

/// Why a record had no effect.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ignored {
    /// A `Publish` that does not count.
    Refused(Refusal),
    /// A `Publish` after the one that defines the announcement.
    AlreadyPublished,
    /// A read or acknowledgement of no counting `Publish` of this log.
    NotPublished,
    /// Its signer is not in the audience.
    NotInAudience,
    /// The publisher's own read or acknowledgement.
    ByPublisher,
    /// The member had read (or acknowledged) it already.
    Repeated,
    /// An acknowledgement of an announcement that asks for none.
    NotRequired,
}

/// A record that counted: which, when (the signer's clock), and the
/// certificate it was signed under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The record's id (its envelope's).
    pub id: RecordId,
    /// When, in seconds since 1970, as the signer's clock said.
    pub time: u64,
    /// The role certificate the envelope names.
    pub cert: [u8; 32],
}

/// What one member did with the announcement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Their first read (or acknowledgement, which implies it).
    pub read: Mark,
    /// Their first acknowledgement.
    pub ack: Option<Mark>,
}

/// The announcement as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The `Publish` record.
    pub id: RecordId,
    /// Who published it, with the certificate they signed under.
    pub publisher: Signer,
    /// When.
    pub time: u64,
    /// What it says.
    pub publish: Publish,
    /// Who it is for.
    pub audience: Vec<Principal>,
}

/// A log whose `Publish` does not count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The first `Publish` record.
    pub id: RecordId,
    /// Who signed it.
    pub signer: Signer,
    /// When.
    pub time: u64,
    /// Its title.
    pub title: String,
    /// Why it does not count.
    pub refusal: Refusal,
}

/// One announcement: what was published (or why nothing was), and who has
/// read and acknowledged it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Announcement {
    /// The announcement, if a `Publish` counted.
    pub published: Option<Published>,
    /// Why not, if none did.
    pub rejected: Option<Rejected>,
    /// Reads and acknowledgements, by member.
    pub receipts: BTreeMap<Member, Receipt>,
    /// Records with no effect, and why.
    pub ignored: Vec<(RecordId, Ignored)>,
}

fn mark(r: &Record<Entry>) -> Mark {
    Mark {
        id: r.id,
        time: r.time,
        cert: r.signer.cert,
    }
}

impl Announcement {
    /// The announcement the `records` of one log make: a pure function of
    /// the set of records.
    pub fn build(records: &[Record<Entry>]) -> Announcement {
        let mut a = Announcement::default();
        for r in causal_order(records) {
            if let Err(why) = a.apply(r) {
                a.ignored.push((r.id, why));
            }
        }
        if a.published.is_some() {
            a.rejected = None;
        }
        a
    }

    fn apply(&mut self, r: &Record<Entry>) -> Result<(), Ignored> {
        let of = match &r.body {
            Entry::Publish(p) => {
                if self.published.is_some() {
                    return Err(Ignored::AlreadyPublished);
                }
                return match judge(&r.signer, p) {
                    Ok(audience) => {
                        self.published = Some(Published {
                            id: r.id,
                            publisher: r.signer.clone(),
                            time: r.time,
                            publish: p.clone(),
                            audience,
                        });
                        Ok(())
                    }
                    Err(refusal) => {
                        if self.rejected.is_none() {
                            self.rejected = Some(Rejected {
                                id: r.id,
                                signer: r.signer.clone(),
                                time: r.time,
                                title: p.title.clone(),
                                refusal: refusal.clone(),
                            });
                        }
                        Err(Ignored::Refused(refusal))
                    }
                };
            }
            Entry::Read { of } | Entry::Ack { of } => *of,
        };
        let published = self.published.as_ref().ok_or(Ignored::NotPublished)?;
        if published.id != of {
            return Err(Ignored::NotPublished);
        }
        if r.signer.key == published.publisher.key {
            return Err(Ignored::ByPublisher);
        }
        if !published.audience.iter().any(|p| r.signer.is_in(p)) {
            return Err(Ignored::NotInAudience);
        }
        let ack = matches!(r.body, Entry::Ack { .. });
        if ack && !published.publish.ack_required {
            return Err(Ignored::NotRequired);
        }
        match self.receipts.get_mut(&r.signer.key) {
            None => {
                self.receipts.insert(
                    r.signer.key,
                    Receipt {
                        read: mark(r),
                        ack: ack.then(|| mark(r)),
                    },
                );
                Ok(())
            }
            Some(receipt) if ack && receipt.ack.is_none() => {
                receipt.ack = Some(mark(r));
                Ok(())
            }
            Some(_) => Err(Ignored::Repeated),
        }
    }

    /// Is it listed first at `now`?
    pub fn pinned(&self, now: u64) -> bool {
        self.published
            .as_ref()
            .and_then(|p| p.publish.pinned_until)
            .is_some_and(|until| now < until)
    }

    /// Is whoever holds `who`'s certificate among its readers (in the
    /// audience, not the publisher)?
    pub fn addresses(&self, who: &Signer) -> bool {
        self.published
            .as_ref()
            .is_some_and(|p| who.key != p.publisher.key && p.audience.iter().any(|a| who.is_in(a)))
    }
}

#[cfg(test)]
mod tests;
