//! Chat: a channel's message log.
//!
//! A channel is a scope (a department, a project, an ad hoc group or two
//! people); who may read and post is the scope's business, checked by the
//! validity rule. Every user action — a message, an edit, a recall, a
//! reaction, a pin, a read mark, a rename — is one [`LogOp`], sealed in an
//! envelope of its own whose dependencies are the channel's heads when it
//! was written. A channel is therefore not one ever-growing document: it is
//! a set of small signed entries, and [`Channel::build`] turns the valid ones
//! into what people see.
//!
//! [`Channel::build`] is a pure function of the set of entries (not of their
//! arrival order): entries are taken in a deterministic topological order
//! (dependencies first, then by time, then by id), which is also the display
//! order of messages. Rules that need a judgement are applied there, the same
//! way on every node:
//! - only a message's author edits it; edits are kept as its history;
//! - the author recalls a message within [`Policy::recall_window_ms`] of
//!   posting it; channel admins recall any message at any time;
//! - an archived channel is read-only: posts, edits and reactions made after
//!   the archive entry (in the order above) have no effect;
//! - a member has read a message when it lies in the causal past of one of
//!   the member's read marks (what their node had when they read), so a
//!   message that arrives late from an offline node is unread until read.
//!
//! Entries with no effect are listed in [`Channel::ignored`] with the reason.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An entry's id: the id of the envelope that carries it.
pub type EntryId = [u8; 32];
/// A member, by signing key.
pub type Member = [u8; 32];

/// The encoding version of [`LogOp`], its first byte.
pub const LOG_OP_VERSION: u8 = 1;
/// Largest message text, in bytes.
pub const TEXT_BYTES_MAX: usize = 64 * 1024;
/// Largest reaction (an emoji or a short code), in bytes.
pub const REACTION_BYTES_MAX: usize = 32;
/// Largest name, topic, department path or file name, in bytes.
pub const NAME_BYTES_MAX: usize = 256;
/// Most mentions in one message.
pub const MENTIONS_MAX: usize = 256;
/// Most attachments on one message.
pub const ATTACHMENTS_MAX: usize = 32;
/// Most file types in the org's allow-list.
pub const FILE_TYPES_MAX: usize = 256;
/// The default recall window: 24 hours.
pub const RECALL_WINDOW_MS_DEFAULT: u64 = 24 * 3600 * 1000;

/// Whom a message mentions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mention {
    /// One member.
    Member(Member),
    /// Everyone in a department and below it (a path such as `HQ/East`).
    Dept(String),
    /// Everyone in the channel.
    Channel,
}

/// A file attached to a message: a content-addressed, encrypted blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The blob's id: blake3 of its manifest (see `outpost_seal::blob`).
    pub blob: [u8; 32],
    /// The file's own key; the message's encryption keeps it to the
    /// channel's readers.
    pub key: [u8; 32],
    /// The file name shown.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Media type, such as `image/png`.
    pub media_type: String,
}

/// A change to the channel's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Setting {
    /// The channel's name.
    Name(String),
    /// The channel's topic line.
    Topic(String),
    /// Archived (read-only) or not. Channel admins only.
    Archived(bool),
    /// Make a member a channel admin, or stop. Channel admins only.
    Admin(Member, bool),
    /// The author leaves the channel (false) or comes back (true): a member
    /// who left is not counted among its members, for receipts and
    /// notifications, while the scope still lets them read it.
    Joined(bool),
    /// The largest file members may send, in bytes. Admins only; used in
    /// the org's settings log.
    FileBytesMax(u64),
    /// The file types (extensions, lower case) members may send. Admins
    /// only; used in the org's settings log.
    FileTypes(Vec<String>),
}

/// One user action in a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogOp {
    /// A new message; its id is the entry's id.
    Post {
        /// The text (may be empty when files are attached).
        text: String,
        /// The message this one answers: a thread.
        reply_to: Option<EntryId>,
        /// Who is mentioned.
        mentions: Vec<Mention>,
        /// Attached files.
        attachments: Vec<Attachment>,
    },
    /// New text for one's own message.
    Edit {
        /// The message.
        target: EntryId,
        /// Its new text.
        text: String,
    },
    /// Withdraw a message for everyone.
    Recall {
        /// The message.
        target: EntryId,
    },
    /// Add or remove one's reaction.
    React {
        /// The message.
        target: EntryId,
        /// The reaction (an emoji).
        reaction: String,
        /// Added (true) or removed.
        on: bool,
    },
    /// Pin a message to the channel, or unpin it.
    Pin {
        /// The message.
        target: EntryId,
        /// Pinned (true) or not.
        on: bool,
    },
    /// The member has read this message and everything in its causal past.
    Read {
        /// The newest message read.
        up_to: EntryId,
    },
    /// A change to the channel's settings.
    Set(Setting),
}

/// A log op could not be decoded or is out of bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogOpError {
    /// Not a log op of a version this node knows.
    #[error("not a chat entry of a known version (first byte {0}): update Outpost")]
    Version(u8),
    /// The bytes do not decode, or not canonically.
    #[error("a chat entry is damaged")]
    Damaged,
    /// A field is too large.
    #[error("{what} is {len} long; at most {max} is allowed")]
    TooLarge {
        /// which field
        what: &'static str,
        /// its length
        len: usize,
        /// the limit
        max: usize,
    },
}

fn bounded(what: &'static str, len: usize, max: usize) -> Result<(), LogOpError> {
    if len > max {
        Err(LogOpError::TooLarge { what, len, max })
    } else {
        Ok(())
    }
}

impl LogOp {
    /// Checks every limit.
    pub fn check(&self) -> Result<(), LogOpError> {
        match self {
            LogOp::Post {
                text,
                mentions,
                attachments,
                ..
            } => {
                bounded("the message", text.len(), TEXT_BYTES_MAX)?;
                bounded("the list of mentions", mentions.len(), MENTIONS_MAX)?;
                bounded("the list of attachments", attachments.len(), ATTACHMENTS_MAX)?;
                for m in mentions {
                    if let Mention::Dept(d) = m {
                        bounded("a department path", d.len(), NAME_BYTES_MAX)?;
                    }
                }
                for a in attachments {
                    bounded("a file name", a.name.len(), NAME_BYTES_MAX)?;
                    bounded("a media type", a.media_type.len(), NAME_BYTES_MAX)?;
                }
                Ok(())
            }
            LogOp::Edit { text, .. } => bounded("the message", text.len(), TEXT_BYTES_MAX),
            LogOp::React { reaction, .. } => bounded("the reaction", reaction.len(), REACTION_BYTES_MAX),
            LogOp::Set(Setting::Name(s) | Setting::Topic(s)) => bounded("the name", s.len(), NAME_BYTES_MAX),
            LogOp::Set(Setting::FileTypes(types)) => {
                bounded("the list of file types", types.len(), FILE_TYPES_MAX)?;
                for t in types {
                    bounded("a file type", t.len(), REACTION_BYTES_MAX)?;
                }
                Ok(())
            }
            LogOp::Recall { .. } | LogOp::Pin { .. } | LogOp::Read { .. } | LogOp::Set(_) => Ok(()),
        }
    }

    /// The canonical bytes: the version, then postcard. Panics only if the
    /// op is out of bounds, which [`LogOp::check`] reports first.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![LOG_OP_VERSION];
        out.extend(postcard::to_stdvec(self).expect("a log op always serialises"));
        out
    }

    /// Decodes and checks an op; refuses trailing bytes and non-canonical
    /// encodings, so that one op has one encoding.
    pub fn decode(bytes: &[u8]) -> Result<LogOp, LogOpError> {
        match bytes.first() {
            Some(&LOG_OP_VERSION) => {}
            Some(&v) => return Err(LogOpError::Version(v)),
            None => return Err(LogOpError::Damaged),
        }
        let (op, rest): (LogOp, &[u8]) = postcard::take_from_bytes(&bytes[1..]).map_err(|_| LogOpError::Damaged)?;
        if !rest.is_empty() {
            return Err(LogOpError::Damaged);
        }
        op.check()?;
        if op.encode() != bytes {
            return Err(LogOpError::Damaged);
        }
        Ok(op)
    }
}

/// A valid entry of the log, as the node opened it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The envelope id.
    pub id: EntryId,
    /// Who signed it.
    pub author: Member,
    /// When, as the author's clock said (milliseconds since 1970).
    pub time_ms: u64,
    /// The envelope's dependencies (the channel's heads when written).
    pub deps: Vec<EntryId>,
    /// What it does.
    pub op: LogOp,
}

/// Settings the view needs from outside the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How long after posting an author may recall a message.
    pub recall_window_ms: u64,
    /// Channel admins from the start (the channel's creator, org admins).
    pub admins: BTreeSet<Member>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            recall_window_ms: RECALL_WINDOW_MS_DEFAULT,
            admins: BTreeSet::new(),
        }
    }
}

/// An earlier text of an edited message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    /// The edit's entry (or the post's, for the first text).
    pub id: EntryId,
    /// When.
    pub time_ms: u64,
    /// The text.
    pub text: String,
}

/// A message as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its id (the post's entry).
    pub id: EntryId,
    /// Who posted it.
    pub author: Member,
    /// When it was posted.
    pub time_ms: u64,
    /// The current text; empty once recalled.
    pub text: String,
    /// Every text it had, oldest first (the last is the current one);
    /// empty once recalled.
    pub revisions: Vec<Revision>,
    /// The thread's first message, for a reply.
    pub thread: Option<EntryId>,
    /// Replies in its thread (for a thread's first message).
    pub replies: usize,
    /// Who is mentioned.
    pub mentions: Vec<Mention>,
    /// Attached files; empty once recalled.
    pub attachments: Vec<Attachment>,
    /// Who recalled it.
    pub recalled_by: Option<Member>,
    /// Reactions and who made them.
    pub reactions: BTreeMap<String, BTreeSet<Member>>,
}

/// Why an entry had no effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// It names a message this log does not hold (or that is not a message).
    UnknownTarget,
    /// Only the author may edit, and only the author (in time) or an
    /// admin may recall.
    NotAllowed,
    /// The recall window had passed.
    TooLate,
    /// The message was recalled already.
    Recalled,
    /// The channel is archived.
    Archived,
}

/// What a channel shows: its messages in display order, threads, pins,
/// reactions, read marks and settings.
#[derive(Clone, Debug, Default)]
pub struct Channel {
    /// The name, if set.
    pub name: Option<String>,
    /// The topic, if set.
    pub topic: Option<String>,
    /// Read-only.
    pub archived: bool,
    /// Channel admins.
    pub admins: BTreeSet<Member>,
    /// Messages, in display order.
    pub messages: Vec<Message>,
    /// Pinned messages, most recently pinned last.
    pub pins: Vec<EntryId>,
    /// Entries that had no effect, and why.
    pub ignored: Vec<(EntryId, Ignored)>,
    index: HashMap<EntryId, usize>,
    /// Every entry's dependencies, for causal questions.
    deps: HashMap<EntryId, Vec<EntryId>>,
    /// Position of every entry in the order they were applied.
    rank: HashMap<EntryId, usize>,
    /// Each member's read marks.
    marks: BTreeMap<Member, Vec<EntryId>>,
    /// Members who left the channel (their last word was to leave).
    pub left: BTreeSet<Member>,
    /// The largest file members may send, once an admin set it.
    pub file_bytes_max: Option<u64>,
    /// The file types members may send, once an admin set them.
    pub file_types: Option<Vec<String>>,
}

/// Entries in the deterministic order: dependencies first, then by time,
/// then by id. Dependencies outside `entries` are ignored.
pub fn order(entries: &[Entry]) -> Vec<&Entry> {
    crate::record::causal_order(entries)
}

impl crate::record::Causal for Entry {
    fn id(&self) -> [u8; 32] {
        self.id
    }
    fn deps(&self) -> &[[u8; 32]] {
        &self.deps
    }
    fn clock(&self) -> u64 {
        self.time_ms
    }
}

impl Channel {
    /// The channel as the valid `entries` make it.
    pub fn build(entries: &[Entry], policy: &Policy) -> Channel {
        let mut c = Channel {
            admins: policy.admins.clone(),
            ..Channel::default()
        };
        for e in order(entries) {
            c.push(e, policy);
        }
        c
    }

    /// Applies one more entry, which must come after every entry already
    /// applied in [`order`] — true when its dependencies include all of the
    /// log's heads, as a writer's own next entry does. The result is what
    /// [`Channel::build`] gives for all the entries, without going over the
    /// earlier ones again.
    pub fn push(&mut self, e: &Entry, policy: &Policy) {
        self.rank.insert(e.id, self.rank.len());
        self.deps.insert(e.id, e.deps.clone());
        if let Err(why) = self.apply(e, policy) {
            self.ignored.push((e.id, why));
        }
    }

    fn target(&self, id: &EntryId) -> Result<usize, Ignored> {
        let &i = self.index.get(id).ok_or(Ignored::UnknownTarget)?;
        if self.messages[i].recalled_by.is_some() {
            return Err(Ignored::Recalled);
        }
        Ok(i)
    }

    fn apply(&mut self, e: &Entry, policy: &Policy) -> Result<(), Ignored> {
        let writes = matches!(
            e.op,
            LogOp::Post { .. } | LogOp::Edit { .. } | LogOp::React { .. } | LogOp::Pin { .. }
        );
        if self.archived && writes {
            return Err(Ignored::Archived);
        }
        match &e.op {
            LogOp::Post {
                text,
                reply_to,
                mentions,
                attachments,
            } => {
                // Threads are one level deep: a reply to a reply joins the
                // first message's thread.
                let thread = reply_to
                    .and_then(|r| self.index.get(&r))
                    .map(|&i| self.messages[i].thread.unwrap_or(self.messages[i].id));
                if let Some(root) = thread {
                    let i = self.index[&root];
                    self.messages[i].replies += 1;
                }
                self.index.insert(e.id, self.messages.len());
                self.messages.push(Message {
                    id: e.id,
                    author: e.author,
                    time_ms: e.time_ms,
                    text: text.clone(),
                    revisions: vec![Revision {
                        id: e.id,
                        time_ms: e.time_ms,
                        text: text.clone(),
                    }],
                    thread,
                    replies: 0,
                    mentions: mentions.clone(),
                    attachments: attachments.clone(),
                    recalled_by: None,
                    reactions: BTreeMap::new(),
                });
            }
            LogOp::Edit { target, text } => {
                let i = self.target(target)?;
                let m = &mut self.messages[i];
                if m.author != e.author {
                    return Err(Ignored::NotAllowed);
                }
                m.text = text.clone();
                m.revisions.push(Revision {
                    id: e.id,
                    time_ms: e.time_ms,
                    text: text.clone(),
                });
            }
            LogOp::Recall { target } => {
                let i = self.target(target)?;
                let admin = self.admins.contains(&e.author);
                let m = &mut self.messages[i];
                if !admin {
                    if m.author != e.author {
                        return Err(Ignored::NotAllowed);
                    }
                    if e.time_ms.saturating_sub(m.time_ms) > policy.recall_window_ms {
                        return Err(Ignored::TooLate);
                    }
                }
                m.recalled_by = Some(e.author);
                m.text.clear();
                m.revisions.clear();
                m.attachments.clear();
                m.reactions.clear();
                self.pins.retain(|p| p != target);
            }
            LogOp::React { target, reaction, on } => {
                let i = self.target(target)?;
                let who = self.messages[i].reactions.entry(reaction.clone()).or_default();
                if *on {
                    who.insert(e.author);
                } else {
                    who.remove(&e.author);
                    if who.is_empty() {
                        self.messages[i].reactions.remove(reaction);
                    }
                }
            }
            LogOp::Pin { target, on } => {
                self.target(target)?;
                self.pins.retain(|p| p != target);
                if *on {
                    self.pins.push(*target);
                }
            }
            LogOp::Read { up_to } => {
                if !self.index.contains_key(up_to) {
                    return Err(Ignored::UnknownTarget);
                }
                // The entry's own dependencies are what the reader's node
                // held: messages that arrived concurrently with `up_to`
                // count as read too.
                let marks = self.marks.entry(e.author).or_default();
                marks.push(*up_to);
                marks.push(e.id);
            }
            LogOp::Set(setting) => match setting {
                Setting::Name(n) => self.name = Some(n.clone()),
                Setting::Topic(t) => self.topic = Some(t.clone()),
                Setting::Archived(on) => {
                    if !self.admins.contains(&e.author) {
                        return Err(Ignored::NotAllowed);
                    }
                    self.archived = *on;
                }
                Setting::Admin(member, on) => {
                    if !self.admins.contains(&e.author) {
                        return Err(Ignored::NotAllowed);
                    }
                    if *on {
                        self.admins.insert(*member);
                    } else {
                        self.admins.remove(member);
                    }
                }
                Setting::FileBytesMax(n) => {
                    if !self.admins.contains(&e.author) {
                        return Err(Ignored::NotAllowed);
                    }
                    self.file_bytes_max = Some(*n);
                }
                Setting::FileTypes(types) => {
                    if !self.admins.contains(&e.author) {
                        return Err(Ignored::NotAllowed);
                    }
                    self.file_types = Some(types.clone());
                }
                Setting::Joined(on) => {
                    if *on {
                        self.left.remove(&e.author);
                    } else {
                        self.left.insert(e.author);
                    }
                }
            },
        }
        Ok(())
    }

    /// One message.
    pub fn message(&self, id: &EntryId) -> Option<&Message> {
        self.index.get(id).map(|&i| &self.messages[i])
    }

    /// A thread: its first message, then the replies in order.
    pub fn thread(&self, root: &EntryId) -> Vec<&Message> {
        self.messages
            .iter()
            .filter(|m| m.id == *root || m.thread == Some(*root))
            .collect()
    }

    /// Every message `member`'s read marks cover: the marks and their
    /// causal past.
    fn read_set(&self, member: &Member) -> BTreeSet<EntryId> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<EntryId> = self.marks.get(member).cloned().unwrap_or_default();
        while let Some(id) = stack.pop() {
            if seen.insert(id) {
                stack.extend(self.deps.get(&id).into_iter().flatten().copied());
            }
        }
        seen
    }

    /// Has `member` read message `id`? Authors have read their own.
    pub fn has_read(&self, member: &Member, id: &EntryId) -> bool {
        let Some(m) = self.message(id) else { return false };
        if m.author == *member {
            return true;
        }
        // Only entries applied after the message can have it in their past.
        let floor = self.rank[id];
        let mut stack: Vec<EntryId> = self.marks.get(member).cloned().unwrap_or_default();
        let mut seen = BTreeSet::new();
        while let Some(cur) = stack.pop() {
            if cur == *id {
                return true;
            }
            if self.rank.get(&cur).is_some_and(|r| *r > floor) && seen.insert(cur) {
                stack.extend(self.deps.get(&cur).into_iter().flatten().copied());
            }
        }
        false
    }

    /// How many messages (not recalled, not by `member`) `member` has not read.
    pub fn unread(&self, member: &Member) -> usize {
        let read = self.read_set(member);
        self.messages
            .iter()
            .filter(|m| m.author != *member && m.recalled_by.is_none() && !read.contains(&m.id))
            .count()
    }

    /// Of `members`, who has read message `id` and who has not (the
    /// receipt its author sees).
    pub fn receipt(&self, id: &EntryId, members: &[Member]) -> (Vec<Member>, Vec<Member>) {
        members.iter().partition(|m| self.has_read(m, id))
    }

    /// Messages that mention `member` directly, through one of `depts`
    /// (the member's department and its parents), or the whole channel.
    pub fn mentioning<'a>(&'a self, member: &'a Member, depts: &'a [String]) -> impl Iterator<Item = &'a Message> {
        self.messages.iter().filter(move |m| {
            m.recalled_by.is_none()
                && m.mentions.iter().any(|x| match x {
                    Mention::Member(k) => k == member,
                    Mention::Dept(d) => depts.contains(d),
                    Mention::Channel => true,
                })
        })
    }
}

#[cfg(test)]
mod tests;
