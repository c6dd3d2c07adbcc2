//! Chat on this node: channels and their message logs.
//!
//! A channel is a document of a scope whose envelopes carry message-log
//! entries ([`LogOp`]) instead of automerge changes: the scope decides who
//! reads and posts (a department and its subtree, everyone, or a fixed set
//! of members for groups and direct messages), and every entry is sealed,
//! checked and synced exactly like a document change. The channel's first
//! entry names it. [`Channel::build`] turns the valid entries into what
//! people see, the same way on every node.
//!
//! Every action is one [`ChatRequest`], answered as JSON by [`handle`]: the
//! CLI calls it directly when no node runs and through `POST /api/chat`
//! when one does, and the REST routes of the API build the same requests.

use crate::docs::doc_key_bytes;
use crate::home::Passphrase;
use crate::local::Local;
use anyhow::{Context, Result, bail};
use outpost_identity::scope::{Principal, ScopeDef};
use outpost_identity::{AuthState, DeptPath, PublicKey, Role, Timestamp};
use outpost_seal::Replica;
use outpost_seal::envelope::{DocId, EnvId, Payload};
use outpost_seal::epoch::Keyring;
use outpost_seal::replica::DocKey;
use outpost_workspace::chat::{Channel, Entry, EntryId, LogOp, Mention, Message, Policy, Setting};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The name of group scopes, visible to every node of the org (relays
/// included): it never carries the channel's own name.
const GROUP_SCOPE_NAME: &str = "chat group";
/// The name of direct-message scopes: a group of two is not a direct
/// message, and `Direct` must not open it as one.
const DIRECT_SCOPE_NAME: &str = "chat direct";
/// Most messages [`ChatRequest::Read`] returns by default.
pub const READ_LIMIT_DEFAULT: usize = 200;
/// Fewest hex digits that name a message.
const MESSAGE_PREFIX_MIN: usize = 6;

/// Who may read and post in a new channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Every member of the org.
    Everyone,
    /// A department and everything below it; members follow the directory.
    Dept(String),
    /// These members (names, or keys or key prefixes) and the creator.
    Members(Vec<String>),
}

/// A file already encrypted into the home's blobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedFile {
    /// The blob id, 64 hex digits.
    pub blob: String,
    /// The file key, 64 hex digits.
    pub key: String,
}

/// One chat action.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ChatRequest {
    /// Creates a channel.
    Create {
        /// Its name.
        name: String,
        /// Who reads and posts; default: the creator's department.
        audience: Option<Audience>,
        /// A topic line.
        topic: Option<String>,
    },
    /// Opens (or creates) the direct-message channel with one member.
    Direct {
        /// The other member.
        member: String,
    },
    /// The channels this member can read.
    List,
    /// Leaves (`on` false) or rejoins a channel.
    Join {
        /// The channel.
        channel: String,
        /// Join (true) or leave.
        on: bool,
    },
    /// Archives (read-only) or unarchives a channel; channel admins only.
    Archive {
        /// The channel.
        channel: String,
        /// Archive (true) or reopen.
        on: bool,
    },
    /// Posts a message.
    Send {
        /// The channel.
        channel: String,
        /// The text; `@name`, `@Dept/Path` and `@all` mention.
        text: String,
        /// The message this one answers (a thread).
        reply: Option<String>,
    },
    /// Posts a file (encrypted, stored here, fetched by readers from any
    /// peer that has it), with an optional text.
    SendFile {
        /// The channel.
        channel: String,
        /// The file, on this machine.
        path: String,
        /// A text to go with it.
        text: Option<String>,
        /// The message this one answers (a thread).
        reply: Option<String>,
        /// The file as already encrypted into this home's blobs (the CLI
        /// does it, with a progress bar); otherwise it is encrypted here.
        #[serde(default)]
        sealed: Option<SealedFile>,
    },
    /// Decrypts a message's attached file into `out` (a running node
    /// first fetches what it lacks from its peers).
    SaveFile {
        /// The channel.
        channel: String,
        /// The message.
        message: String,
        /// Where to write the file.
        out: String,
        /// Which attachment (default the first).
        #[serde(default)]
        index: usize,
    },
    /// The org's settings.
    OrgSettings,
    /// Changes the org's settings (admins only).
    OrgSet {
        /// The largest file members may send, in bytes.
        file_bytes_max: Option<u64>,
        /// The file types members may send (extensions).
        file_types: Option<Vec<String>>,
    },
    /// The channel's messages, oldest first; marks them read.
    Read {
        /// The channel.
        channel: String,
        /// Only messages posted at or after this time (seconds).
        since: Option<u64>,
        /// Only this thread.
        thread: Option<String>,
        /// At most this many, the newest (default [`READ_LIMIT_DEFAULT`]).
        limit: Option<usize>,
        /// Leave the read position where it is.
        #[serde(default)]
        peek: bool,
    },
    /// New text for one's own message.
    Edit {
        /// The channel.
        channel: String,
        /// The message.
        message: String,
        /// The new text.
        text: String,
    },
    /// Withdraws a message for everyone.
    Recall {
        /// The channel.
        channel: String,
        /// The message.
        message: String,
    },
    /// Adds or removes one's reaction.
    React {
        /// The channel.
        channel: String,
        /// The message.
        message: String,
        /// The reaction.
        reaction: String,
        /// Remove it instead.
        #[serde(default)]
        off: bool,
    },
    /// Pins or unpins a message.
    Pin {
        /// The channel.
        channel: String,
        /// The message.
        message: String,
        /// Unpin instead.
        #[serde(default)]
        off: bool,
    },
    /// Who has read a message and who has not.
    Receipts {
        /// The channel.
        channel: String,
        /// The message.
        message: String,
    },
    /// Messages matching a query (words, or any part of CJK text).
    Search {
        /// The query.
        query: String,
        /// Only this channel.
        channel: Option<String>,
    },
}

impl ChatRequest {
    /// Does the request write (and so need a durable commit before the answer)?
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            ChatRequest::List
                | ChatRequest::Receipts { .. }
                | ChatRequest::Search { .. }
                | ChatRequest::SaveFile { .. }
                | ChatRequest::OrgSettings
        ) && !matches!(self, ChatRequest::Read { peek: true, .. })
    }
}

/// Carries out `req` as this node's member and answers in JSON.
pub fn handle(local: &mut Local, pass: &Passphrase, req: ChatRequest) -> Result<Value> {
    let now = crate::now();
    match req {
        ChatRequest::Create { name, audience, topic } => {
            let audience = match audience {
                Some(a) => a,
                None => Audience::Dept(my_cert(local, now)?.dept.to_string()),
            };
            let key = local.create_channel(&name, &audience, topic.as_deref(), pass, now)?;
            Ok(json!({"channel": key.1.to_hex(), "name": name}))
        }
        ChatRequest::Direct { member } => {
            let other = find_member(local.require_org()?, &member, now)?;
            let key = local.direct_channel(other, pass, now)?;
            Ok(json!({"channel": key.1.to_hex()}))
        }
        ChatRequest::List => local.list_channels(pass, now),
        ChatRequest::Join { channel, on } => {
            let key = local.channel_key(&channel, pass)?;
            let id = local.write_log(key, LogOp::Set(Setting::Joined(on)), pass, now)?;
            Ok(json!({"channel": key.1.to_hex(), "entry": hex::encode(id.0), "joined": on}))
        }
        ChatRequest::Archive { channel, on } => {
            let open = local.open_channel(&channel, pass, now)?;
            if !open.channel.admins.contains(&local.member.0) {
                bail!("only the channel's admins may archive it (its creator and the org's admins)");
            }
            let id = local.write_log(open.key, LogOp::Set(Setting::Archived(on)), pass, now)?;
            Ok(json!({"channel": open.key.1.to_hex(), "entry": hex::encode(id.0), "archived": on}))
        }
        ChatRequest::Send { channel, text, reply } => {
            let open = local.open_channel(&channel, pass, now)?;
            open.writable()?;
            if text.trim().is_empty() {
                bail!("the message is empty: write some text");
            }
            let reply_to = reply.map(|r| open.message_id(&r)).transpose()?;
            let mentions = mentions_in(&text, local.require_org()?, now);
            let op = LogOp::Post {
                text,
                reply_to,
                mentions,
                attachments: Vec::new(),
            };
            let id = local.write_log(open.key, op, pass, now)?;
            Ok(json!({"channel": open.key.1.to_hex(), "message": hex::encode(id.0)}))
        }
        ChatRequest::SendFile {
            channel,
            path,
            text,
            reply,
            sealed,
        } => {
            let open = local.open_channel(&channel, pass, now)?;
            open.writable()?;
            let reply_to = reply.map(|r| open.message_id(&r)).transpose()?;
            let policy = local.file_policy(pass, now)?;
            let file = crate::blobs::take_file(local.home.dir(), std::path::Path::new(&path), sealed, &policy)?;
            let (blob, bytes) = (file.blob, file.bytes);
            let text = text.unwrap_or_default();
            let mentions = mentions_in(&text, local.require_org()?, now);
            let op = LogOp::Post {
                text,
                reply_to,
                mentions,
                attachments: vec![file],
            };
            let id = local.write_log(open.key, op, pass, now)?;
            Ok(
                json!({"channel": open.key.1.to_hex(), "message": hex::encode(id.0), "blob": hex::encode(blob), "bytes": bytes}),
            )
        }
        ChatRequest::SaveFile {
            channel,
            message,
            out,
            index,
        } => {
            let a = attachment(local, pass, &channel, &message, index, now)?;
            let out = std::path::PathBuf::from(out);
            let written = crate::blobs::save_attachment(&crate::blobs::Blobs::new(local.home.dir()), &a, &out)?;
            Ok(json!({"name": a.name, "bytes": written, "out": out, "media_type": a.media_type}))
        }
        ChatRequest::OrgSettings => settings_json(&local.file_policy(pass, now)?),
        ChatRequest::OrgSet {
            file_bytes_max,
            file_types,
        } => {
            if !org_admins(local.require_org()?, now).contains(&local.member.0) {
                bail!("only the org's admins may change its settings");
            }
            let mut ops = Vec::new();
            if let Some(n) = file_bytes_max {
                if n == 0 {
                    bail!("the largest file must be at least one byte");
                }
                ops.push(Setting::FileBytesMax(n));
            }
            if let Some(types) = file_types {
                let types: Vec<String> = types
                    .iter()
                    .map(|t| t.trim().trim_start_matches('.').to_ascii_lowercase())
                    .filter(|t| !t.is_empty())
                    .collect();
                if types.is_empty() {
                    bail!("give at least one file type (an extension such as pdf)");
                }
                ops.push(Setting::FileTypes(types));
            }
            if ops.is_empty() {
                bail!("give a setting to change");
            }
            let scope = local.dept_scope(&DeptPath::root(), pass, now)?;
            for op in ops {
                local.write_log((scope, SETTINGS_DOC), LogOp::Set(op), pass, now)?;
            }
            settings_json(&local.file_policy(pass, now)?)
        }
        ChatRequest::Read {
            channel,
            since,
            thread,
            limit,
            peek,
        } => {
            let open = local.open_channel(&channel, pass, now)?;
            let thread = thread.map(|t| open.message_id(&t)).transpose()?;
            let viewer = Viewer::of(local, local.require_org()?, now);
            let me = viewer.me;
            let unread = open.channel.unread(&me);
            let delivered = local.delivered_until(&open.key.0)?;
            let mut shown: Vec<&Message> = match &thread {
                Some(root) => open.channel.thread(root),
                None => open.channel.messages.iter().filter(|m| m.thread.is_none()).collect(),
            };
            if let Some(s) = since {
                shown.retain(|m| m.time_ms >= s.saturating_mul(1000));
            }
            let limit = limit.unwrap_or(READ_LIMIT_DEFAULT);
            let skip = shown.len().saturating_sub(limit);
            let messages: Vec<Value> = shown[skip..]
                .iter()
                .map(|m| {
                    let mut v = viewer.message(m, &open.channel);
                    // Written here and not yet known to be held by a peer.
                    v["pending"] = json!(m.author == me && m.time_ms / 1000 > delivered.0);
                    v
                })
                .collect();
            let mut marked = false;
            if !peek && unread > 0 {
                // The read mark names the newest message; its entry depends
                // on every entry this node holds (the channel's heads), and
                // the member has read everything in that causal past.
                if let Some(last) = open.channel.messages.last() {
                    match local.write_log(open.key, LogOp::Read { up_to: last.id }, pass, now) {
                        Ok(_) => marked = true,
                        // A full disk must not stop reading: the mark is
                        // made at a later read.
                        Err(e) if crate::disk::is_full(&e) => {
                            tracing::warn!("messages read but not marked read: {e:#}");
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(json!({
                "channel": open.key.1.to_hex(),
                "name": open.channel.name,
                "topic": open.channel.topic,
                "archived": open.channel.archived,
                "unread": unread,
                "marked_read": marked,
                "pins": open.channel.pins.iter().map(hex::encode).collect::<Vec<_>>(),
                "messages": messages,
            }))
        }
        ChatRequest::Edit { channel, message, text } => {
            let open = local.open_channel(&channel, pass, now)?;
            open.writable()?;
            let target = open.message_id(&message)?;
            let m = open.channel.message(&target).context("no such message")?;
            if m.author != local.member.0 {
                bail!("only its author may edit a message");
            }
            if m.recalled_by.is_some() {
                bail!("this message was recalled: it cannot be edited");
            }
            if text.trim().is_empty() {
                bail!("the new text is empty: to withdraw the message, recall it");
            }
            let id = local.write_log(open.key, LogOp::Edit { target, text }, pass, now)?;
            Ok(json!({"message": hex::encode(target), "entry": hex::encode(id.0)}))
        }
        ChatRequest::Recall { channel, message } => {
            let open = local.open_channel(&channel, pass, now)?;
            let target = open.message_id(&message)?;
            let m = open.channel.message(&target).context("no such message")?;
            let admin = open.channel.admins.contains(&local.member.0);
            if m.recalled_by.is_some() {
                bail!("this message was recalled already");
            }
            if !admin {
                if m.author != local.member.0 {
                    bail!("only its author or a channel admin may recall a message");
                }
                let window = Policy::default().recall_window_ms;
                if (now.0 * 1000).saturating_sub(m.time_ms) > window {
                    bail!(
                        "the recall window ({} hours) has passed: ask a channel admin",
                        window / 3_600_000
                    );
                }
            }
            let id = local.write_log(open.key, LogOp::Recall { target }, pass, now)?;
            Ok(json!({"message": hex::encode(target), "entry": hex::encode(id.0), "recalled": true}))
        }
        ChatRequest::React {
            channel,
            message,
            reaction,
            off,
        } => {
            let open = local.open_channel(&channel, pass, now)?;
            open.writable()?;
            let target = open.live_message_id(&message)?;
            let op = LogOp::React {
                target,
                reaction,
                on: !off,
            };
            let id = local.write_log(open.key, op, pass, now)?;
            Ok(json!({"message": hex::encode(target), "entry": hex::encode(id.0)}))
        }
        ChatRequest::Pin { channel, message, off } => {
            let open = local.open_channel(&channel, pass, now)?;
            open.writable()?;
            let target = open.live_message_id(&message)?;
            let id = local.write_log(open.key, LogOp::Pin { target, on: !off }, pass, now)?;
            Ok(json!({"message": hex::encode(target), "entry": hex::encode(id.0), "pinned": !off}))
        }
        ChatRequest::Receipts { channel, message } => {
            let open = local.open_channel(&channel, pass, now)?;
            let target = open.message_id(&message)?;
            let m = open.channel.message(&target).context("no such message")?;
            let others: Vec<[u8; 32]> = open.members.iter().map(|k| k.0).filter(|k| *k != m.author).collect();
            let (read, unread) = open.channel.receipt(&target, &others);
            let names = names(local.require_org()?);
            let people = |list: &[[u8; 32]]| -> Vec<Value> { list.iter().map(|k| person(&names, k)).collect() };
            Ok(json!({"message": hex::encode(target), "read": people(&read), "unread": people(&unread)}))
        }
        ChatRequest::Search { query, channel } => local.search_chat(&query, channel.as_deref(), pass, now),
    }
}

/// Attachment `index` of message `message` in `channel`.
pub fn attachment(
    local: &Local,
    pass: &Passphrase,
    channel: &str,
    message: &str,
    index: usize,
    now: Timestamp,
) -> Result<outpost_workspace::chat::Attachment> {
    let open = local.open_channel(channel, pass, now)?;
    let id = open.message_id(message)?;
    let m = open.channel.message(&id).context("no such message")?;
    if m.recalled_by.is_some() {
        bail!("this message was recalled: its files are withdrawn");
    }
    m.attachments.get(index).cloned().with_context(|| {
        format!(
            "this message has {} file(s); there is no file {index}",
            m.attachments.len()
        )
    })
}

fn settings_json(policy: &crate::blobs::FilePolicy) -> Result<Value> {
    Ok(json!({"file_bytes_max": policy.bytes_max, "file_types": policy.allowed()}))
}

/// The org's admins with a live certificate.
pub(crate) fn org_admins(state: &AuthState, now: Timestamp) -> BTreeSet<[u8; 32]> {
    state
        .role_certs()
        .filter(|(id, c)| c.role == Role::Admin && state.status(id, now).is_live())
        .map(|(_, c)| c.subject.0)
        .collect()
}

/// This member's certificate.
fn my_cert(local: &Local, now: Timestamp) -> Result<outpost_identity::RoleCert> {
    Ok(local
        .require_org()?
        .role_of(&local.member, now)
        .context("you hold no valid certificate")?
        .1
        .clone())
}

/// Display names of every certified member, by key.
pub(crate) fn names(state: &AuthState) -> BTreeMap<[u8; 32], String> {
    state.role_certs().map(|(_, c)| (c.subject.0, c.name.clone())).collect()
}

pub(crate) fn person(names: &BTreeMap<[u8; 32], String>, key: &[u8; 32]) -> Value {
    json!({"member": hex::encode(key), "name": names.get(key)})
}

/// The live member named `who`: a key, a key prefix, or a display name.
pub(crate) fn find_member(state: &AuthState, who: &str, now: Timestamp) -> Result<PublicKey> {
    let who = who.trim();
    let live: Vec<&outpost_identity::RoleCert> = state
        .role_certs()
        .filter(|(id, c)| state.status(id, now).is_live() && c.role != Role::Relay)
        .map(|(_, c)| c)
        .collect();
    let mut found: BTreeSet<PublicKey> = live
        .iter()
        .filter(|c| c.name.eq_ignore_ascii_case(who))
        .map(|c| c.subject)
        .collect();
    let hexed = who.strip_prefix("member:").unwrap_or(who).to_ascii_lowercase();
    if found.is_empty() && hexed.len() >= 8 && hexed.chars().all(|c| c.is_ascii_hexdigit()) {
        found = live
            .iter()
            .filter(|c| c.subject.to_string().starts_with(&hexed))
            .map(|c| c.subject)
            .collect();
    }
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (Some(k), None) => Ok(k),
        (None, _) => bail!("no member {who:?} with a valid certificate: give a name or a key from `outpost cert list`"),
        (Some(_), Some(_)) => bail!("{who:?} names several members: give their key instead"),
    }
}

/// The mentions in `text`: `@all`/`@channel`/`@here`, `@Dept/Path` of an
/// existing department, and `@Name` of a certified member (longest name
/// first, so `@Li Wei` wins over `@Li`).
pub fn mentions_in(text: &str, state: &AuthState, now: Timestamp) -> Vec<Mention> {
    let mut people: Vec<(String, PublicKey)> = state
        .role_certs()
        .filter(|(id, c)| state.status(id, now).is_live() && c.role != Role::Relay)
        .map(|(_, c)| (c.name.to_lowercase(), c.subject))
        .collect();
    people.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
    let depts: BTreeSet<String> = state
        .role_certs()
        .flat_map(|(_, c)| {
            let segs = c.dept.segments();
            (1..=segs.len()).map(move |i| segs[..i].join("/"))
        })
        .collect();
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices('@') {
        let rest = &text[at + 1..];
        let word: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
        let word = word.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '/');
        if ["all", "channel", "here"].contains(&word.to_ascii_lowercase().as_str()) {
            out.insert(Mention::Channel);
        } else if depts.contains(word) {
            out.insert(Mention::Dept(word.to_owned()));
        } else {
            let lower = rest.to_lowercase();
            if let Some((_, k)) = people.iter().find(|(n, _)| {
                !n.is_empty()
                    && lower.starts_with(n.as_str())
                    && lower[n.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric())
            }) {
                out.insert(Mention::Member(k.0));
            }
        }
    }
    out.into_iter().collect()
}

/// Who is looking: this member, their department and its parents (for
/// `@Dept` mentions), and everyone's display names.
struct Viewer {
    me: [u8; 32],
    depts: Vec<String>,
    names: BTreeMap<[u8; 32], String>,
}

impl Viewer {
    fn of(local: &Local, state: &AuthState, now: Timestamp) -> Viewer {
        let depts = state
            .role_of(&local.member, now)
            .map(|(_, c)| {
                let segs = c.dept.segments();
                (1..=segs.len()).map(|i| segs[..i].join("/")).collect()
            })
            .unwrap_or_default();
        Viewer {
            me: local.member.0,
            depts,
            names: names(state),
        }
    }

    /// Does `m` mention this member (by name, department or `@all`)?
    fn mentioned(&self, m: &Message) -> bool {
        m.recalled_by.is_none()
            && m.mentions.iter().any(|x| match x {
                Mention::Member(k) => *k == self.me,
                Mention::Dept(d) => self.depts.contains(d),
                Mention::Channel => true,
            })
    }

    fn message(&self, m: &Message, channel: &Channel) -> Value {
        let names = &self.names;
        json!({
            "id": hex::encode(m.id),
            "author": person(names, &m.author),
            "time": m.time_ms / 1000,
            "text": m.text,
            "edited": m.revisions.len() > 1,
            "revisions": m.revisions.iter().map(|r| json!({"time": r.time_ms / 1000, "text": r.text})).collect::<Vec<_>>(),
            "thread": m.thread.map(hex::encode),
            "replies": m.replies,
            "recalled": m.recalled_by.is_some(),
            "recalled_by": m.recalled_by.map(|k| person(names, &k)),
            "reactions": m.reactions.iter().map(|(r, who)| (r.clone(), json!(who.iter().map(|k| person(names, k)).collect::<Vec<_>>()))).collect::<serde_json::Map<_, _>>(),
            "pinned": channel.pins.contains(&m.id),
            "attachments": m.attachments.iter().map(|a| json!({"name": a.name, "bytes": a.bytes, "media_type": a.media_type, "blob": hex::encode(a.blob)})).collect::<Vec<_>>(),
            "mentions_me": self.mentioned(m),
            "read": channel.has_read(&self.me, &m.id),
        })
    }
}

/// The org's settings log: a message log of this id in a scope every member
/// reads, whose settings count only when a live admin wrote them.
pub const SETTINGS_DOC: DocId = DocId(*b"outpost settings");

/// A channel view kept between requests: valid while the channel's heads
/// and the org's admins are unchanged; a single new entry that follows
/// every head (a member's next message) is pushed onto it.
#[derive(Debug)]
pub(crate) struct CachedChannel {
    heads: Vec<EnvId>,
    org_admins: BTreeSet<[u8; 32]>,
    creator: [u8; 32],
    channel: std::sync::Arc<Channel>,
}

/// A channel opened for reading or acting in it.
#[derive(Debug)]
pub struct OpenChannel {
    /// Scope and document.
    pub key: DocKey,
    /// What it shows.
    pub channel: std::sync::Arc<Channel>,
    /// Members who may read it now and have not left, sorted.
    pub members: Vec<PublicKey>,
}

impl OpenChannel {
    /// Refuses to write posts, edits, reactions and pins to an archived
    /// channel: [`Channel::build`] would ignore them.
    fn writable(&self) -> Result<()> {
        if self.channel.archived {
            bail!("this channel is archived: it is read-only until an admin reopens it");
        }
        Ok(())
    }

    /// [`OpenChannel::message_id`] of a message that was not recalled
    /// (reactions and pins on a recalled one would be ignored).
    fn live_message_id(&self, prefix: &str) -> Result<EntryId> {
        let id = self.message_id(prefix)?;
        if self.channel.message(&id).is_some_and(|m| m.recalled_by.is_some()) {
            bail!("this message was recalled");
        }
        Ok(id)
    }

    /// The message whose id starts with `prefix`.
    pub fn message_id(&self, prefix: &str) -> Result<EntryId> {
        let p = prefix.trim().to_ascii_lowercase();
        if p.len() < MESSAGE_PREFIX_MIN {
            bail!("give at least {MESSAGE_PREFIX_MIN} hex digits of the message id");
        }
        let found: Vec<EntryId> = self
            .channel
            .messages
            .iter()
            .map(|m| m.id)
            .filter(|id| hex::encode(id).starts_with(&p))
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => bail!("no message {p} in this channel; see `outpost chat read`"),
            _ => bail!("{p} names several messages: give more digits"),
        }
    }
}

/// The settings key under which [`Local::note_delivered`] keeps, per scope,
/// the time up to which a peer holds everything this node wrote.
fn delivered_key(scope: &outpost_identity::OpId) -> String {
    format!("delivered/{}", scope.to_hex())
}

impl Local {
    /// Records that a peer holding `cert` received, in a complete sync
    /// session, everything of the scopes it may hold that this node wrote
    /// up to `until`.
    pub fn note_delivered(&self, cert: &outpost_identity::RoleCert, until: Timestamp) -> Result<()> {
        let state = self.require_org()?;
        let mut pairs = Vec::new();
        for (scope, _) in state.scopes() {
            if crate::sync::may_hold(state, &scope, cert) && self.delivered_until(&scope)? < until {
                pairs.push((delivered_key(&scope), until.0.to_be_bytes()));
            }
        }
        let refs: Vec<(&str, &[u8])> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        if !refs.is_empty() {
            self.store.set_settings(&refs)?;
        }
        Ok(())
    }

    /// Up to when a peer is known to hold what this node wrote in `scope`.
    pub fn delivered_until(&self, scope: &outpost_identity::OpId) -> Result<Timestamp> {
        let stored = self.store.setting(&delivered_key(scope))?;
        Ok(Timestamp(
            stored
                .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                .map_or(0, u64::from_be_bytes),
        ))
    }

    /// The entries of `doc` if it is a channel this member can read: every
    /// valid envelope opened and decoded. `None` if it is a document, or if
    /// some entry cannot be opened with the keys held.
    pub fn channel_entries(&self, replica: &Replica, ring: &Keyring, doc: &DocKey) -> Option<Vec<Entry>> {
        if doc.1 == SETTINGS_DOC {
            return None;
        }
        self.log_entries(replica, ring, doc)
    }

    /// Is `doc` a chat channel this member can read (not the org's
    /// settings log)?
    fn is_chat(&self, replica: &Replica, ring: &Keyring, doc: &DocKey) -> bool {
        doc.1 != SETTINGS_DOC && self.is_channel(replica, ring, doc) == Some(true)
    }

    /// The entries of any message log (a channel, the org's settings) this
    /// member can read; see [`Local::channel_entries`].
    fn log_entries(&self, replica: &Replica, ring: &Keyring, doc: &DocKey) -> Option<Vec<Entry>> {
        let valid = replica.valid_in_order(doc);
        if valid.is_empty() {
            return None;
        }
        let mut entries = Vec::with_capacity(valid.len());
        for env in valid {
            if let Some(e) = self.entry_of(ring, env)? {
                entries.push(e);
            }
        }
        Some(entries)
    }

    /// The chat entry `env` carries: `None` if this member cannot open it
    /// or it is not a chat entry, `Some(None)` if it does not decode (a
    /// later version's, or damaged inside its seal: skipped, not fatal).
    fn entry_of(&self, ring: &Keyring, env: &outpost_seal::Envelope) -> Option<Option<Entry>> {
        let mut cache = self.entry_cache.borrow_mut();
        if let Some(e) = cache.get(&env.id.0) {
            return Some(Some(e.clone()));
        }
        match env.open(ring.get(&env.header.epoch)?).ok()? {
            Payload::Log(bytes) => match LogOp::decode(&bytes) {
                Ok(op) => {
                    let entry = Entry {
                        id: env.id.0,
                        author: env.header.author.0,
                        time_ms: env.header.time.0.saturating_mul(1000),
                        deps: env.header.deps.iter().map(|d| d.0).collect(),
                        op,
                    };
                    cache.insert(entry.id, entry.clone());
                    Some(Some(entry))
                }
                Err(e) => {
                    tracing::debug!("skipping chat entry {}: {e}", env.id);
                    Some(None)
                }
            },
            _ => None,
        }
    }

    /// Is `doc` a channel (its valid envelopes carry chat entries, not
    /// document changes)? `None` if this member cannot tell (no key). One
    /// head is opened (the replica keeps them), whatever the channel's
    /// length.
    pub fn is_channel(&self, replica: &Replica, ring: &Keyring, doc: &DocKey) -> Option<bool> {
        let head = replica.heads(doc).into_iter().next()?;
        let first = replica.envelope(&head)?;
        match first.open(ring.get(&first.header.epoch)?).ok()? {
            Payload::Log(_) => Some(true),
            _ => Some(false),
        }
    }

    /// What the entry `doc` is (document, file or board), from its first
    /// change: `ROOT.kind` is written when an entry is made and never
    /// changed. `None` if it is no entry (a message log), or this member
    /// cannot read its first change yet. Kept once known.
    pub fn entry_kind(&self, replica: &Replica, ring: &Keyring, doc: &DocKey) -> Option<outpost_workspace::DocKind> {
        if let Some(kind) = self.kind_cache.borrow().get(doc) {
            return *kind;
        }
        // The first change: the valid envelope that follows none (ties,
        // impossible for an entry made once, by id).
        let first = replica
            .valid_of(doc)
            .filter(|e| e.header.deps.is_empty())
            .min_by_key(|e| e.id)?;
        let kind = match first.open(ring.get(&first.header.epoch)?).ok()? {
            Payload::Change(change) => Some(outpost_workspace::model::kind_of_changes(&[change]).ok()?),
            _ => None,
        };
        self.kind_cache.borrow_mut().insert(*doc, kind);
        kind
    }

    /// Is `doc` a document, file entry or board (its envelopes carry
    /// automerge changes, not chat entries or records)? `None` if this
    /// member cannot tell (no key).
    pub fn is_document(&self, replica: &Replica, ring: &Keyring, doc: &DocKey) -> Option<bool> {
        let head = replica.heads(doc).into_iter().next()?;
        let first = replica.envelope(&head)?;
        Some(matches!(
            first.open(ring.get(&first.header.epoch)?).ok()?,
            Payload::Change(_)
        ))
    }

    /// Seals `op` into the channel `doc` and stores it (see
    /// [`Local::write_payload`]).
    pub fn write_log(&mut self, doc: DocKey, op: LogOp, pass: &Passphrase, now: Timestamp) -> Result<EnvId> {
        op.check()?;
        self.write_payload(doc, Payload::Log(op.encode()), pass, now)
    }

    /// Creates a channel named `name` for `audience`; returns it.
    pub fn create_channel(
        &mut self,
        name: &str,
        audience: &Audience,
        topic: Option<&str>,
        pass: &Passphrase,
        now: Timestamp,
    ) -> Result<DocKey> {
        outpost_identity::op::check_text("channel name", name, true)?;
        let scope = match audience {
            Audience::Everyone => self.dept_scope(&DeptPath::root(), pass, now)?,
            Audience::Dept(d) => {
                let dept = DeptPath::parse(d)?;
                let mine = my_cert(self, now)?;
                if !mine.dept.is_within(&dept) {
                    bail!(
                        "you ({} in {}) may not post in a channel of {dept}: only its members may; create it in your own department, or name its members with --members",
                        mine.role,
                        if mine.dept.segments().is_empty() {
                            "the whole org".to_owned()
                        } else {
                            mine.dept.to_string()
                        }
                    );
                }
                self.dept_scope(&dept, pass, now)?
            }
            Audience::Members(list) => {
                let state = self.require_org()?;
                let mut keys: BTreeSet<PublicKey> =
                    list.iter().map(|w| find_member(state, w, now)).collect::<Result<_>>()?;
                keys.insert(self.member);
                self.group_scope(GROUP_SCOPE_NAME, &keys, pass, now)?
            }
        };
        let key = (scope, DocId::generate(&mut rand::rng()));
        self.write_log(key, LogOp::Set(Setting::Name(name.to_owned())), pass, now)?;
        if let Some(t) = topic.filter(|t| !t.is_empty()) {
            self.write_log(key, LogOp::Set(Setting::Topic(t.to_owned())), pass, now)?;
        }
        Ok(key)
    }

    /// A new scope read and written by exactly `members`.
    fn group_scope(
        &mut self,
        name: &str,
        members: &BTreeSet<PublicKey>,
        pass: &Passphrase,
        now: Timestamp,
    ) -> Result<outpost_identity::OpId> {
        let principals: Vec<Principal> = members.iter().map(|k| Principal::Member(*k)).collect();
        let def = ScopeDef {
            name: name.to_owned(),
            readers: principals.clone(),
            writers: principals,
            nonce: rand::random(),
        };
        self.create_scope(def, pass, now)
    }

    /// The direct-message channel of this member and `other`, created the
    /// first time.
    pub fn direct_channel(&mut self, other: PublicKey, pass: &Passphrase, now: Timestamp) -> Result<DocKey> {
        if other == self.member {
            bail!("a direct message needs another member");
        }
        let pair: BTreeSet<PublicKey> = [self.member, other].into();
        let want: Vec<Principal> = pair.iter().map(|k| Principal::Member(*k)).collect();
        {
            let member = self.member_keys(pass)?;
            let ring = self.keyring(&member, pass)?;
            let replica = self.replica()?;
            let state = replica.auth();
            for doc in replica.docs() {
                let direct = state
                    .scope(&doc.0)
                    .is_some_and(|s| s.name == DIRECT_SCOPE_NAME && s.readers == want);
                if direct && self.is_chat(&replica, &ring, doc) {
                    return Ok(*doc);
                }
            }
        }
        let name = {
            let names = names(self.require_org()?);
            format!(
                "{} · {}",
                names.get(&self.member.0).cloned().unwrap_or_default(),
                names.get(&other.0).cloned().unwrap_or_default()
            )
        };
        let scope = self.group_scope(DIRECT_SCOPE_NAME, &pair, pass, now)?;
        let key = (scope, DocId::generate(&mut rand::rng()));
        self.write_log(key, LogOp::Set(Setting::Name(name)), pass, now)?;
        Ok(key)
    }

    /// The channel named by `id`: a prefix of its id, or its exact name.
    pub fn channel_key(&self, id: &str, pass: &Passphrase) -> Result<DocKey> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let wanted = id.trim();
        let prefix = wanted.to_ascii_lowercase();
        // By id first: that opens one envelope per channel, not all of them.
        if !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_hexdigit()) {
            let by_id: Vec<DocKey> = replica
                .docs()
                .filter(|d| d.1.to_hex().starts_with(&prefix) && self.is_chat(&replica, &ring, d))
                .copied()
                .collect();
            if let [one] = by_id.as_slice() {
                return Ok(*one);
            }
        }
        let mut by_id = Vec::new();
        let mut by_name = Vec::new();
        for doc in replica.docs() {
            let Some(entries) = self.channel_entries(&replica, &ring, doc) else {
                continue;
            };
            if !prefix.is_empty() && doc.1.to_hex().starts_with(&prefix) {
                by_id.push(*doc);
            }
            let named = entries
                .iter()
                .rev()
                .find_map(|e| match &e.op {
                    LogOp::Set(Setting::Name(n)) => Some(n),
                    _ => None,
                })
                .is_some_and(|n| n == wanted || n.trim_start_matches('#') == wanted.trim_start_matches('#'));
            if named {
                by_name.push(*doc);
            }
        }
        match (by_id.as_slice(), by_name.as_slice()) {
            ([one], _) | ([], [one]) => Ok(*one),
            ([], []) => bail!("no channel {wanted:?} you can read; see `outpost channel list`"),
            _ => bail!("{wanted:?} names several channels: give more digits of its id"),
        }
    }

    /// Opens the channel named by `id` as this member sees it.
    pub fn open_channel(&self, id: &str, pass: &Passphrase, now: Timestamp) -> Result<OpenChannel> {
        let key = self.channel_key(id, pass)?;
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        self.open_key(&replica, &ring, key, now)
    }

    fn open_key(&self, replica: &Replica, ring: &Keyring, key: DocKey, now: Timestamp) -> Result<OpenChannel> {
        let channel = self.channel_view(replica, ring, key, now)?;
        let members: Vec<PublicKey> = self
            .readers_of(&key.0, now)?
            .into_iter()
            .filter(|k| !channel.left.contains(&k.0))
            .collect();
        Ok(OpenChannel { key, channel, members })
    }

    /// The view of channel `key`: the cached one if nothing changed, the
    /// cached one with one more entry if only that came, else built anew.
    fn channel_view(
        &self,
        replica: &Replica,
        ring: &Keyring,
        key: DocKey,
        now: Timestamp,
    ) -> Result<std::sync::Arc<Channel>> {
        let heads = replica.heads(&key);
        let org = org_admins(replica.auth(), now);
        let cached = self.channel_cache.borrow_mut().remove(&key);
        if let Some(mut c) = cached.filter(|c| c.org_admins == org) {
            let policy = |creator: [u8; 32]| {
                let mut admins = org.clone();
                admins.insert(creator);
                Policy {
                    admins,
                    ..Policy::default()
                }
            };
            let next = match heads.as_slice() {
                [one] if c.heads != heads => replica
                    .envelope(one)
                    .filter(|e| {
                        let mut deps = e.header.deps.clone();
                        deps.sort();
                        deps == c.heads
                    })
                    .and_then(|e| self.entry_of(ring, e)),
                _ => None,
            };
            let reuse = match next {
                Some(Some(entry)) => {
                    std::sync::Arc::make_mut(&mut c.channel).push(&entry, &policy(c.creator));
                    true
                }
                Some(None) => true,
                None => c.heads == heads,
            };
            if reuse {
                c.heads = heads;
                let channel = c.channel.clone();
                self.channel_cache.borrow_mut().insert(key, c);
                return Ok(channel);
            }
        }
        let entries = self
            .channel_entries(replica, ring, &key)
            .context("you cannot read this channel")?;
        // The creator: the author of the first entry in the channel's order.
        let creator = outpost_workspace::chat::order(&entries)
            .first()
            .map_or([0; 32], |e| e.author);
        let mut admins = org.clone();
        admins.insert(creator);
        let policy = Policy {
            admins,
            ..Policy::default()
        };
        let channel = std::sync::Arc::new(Channel::build(&entries, &policy));
        self.channel_cache.borrow_mut().insert(
            key,
            CachedChannel {
                heads,
                org_admins: org,
                creator,
                channel: channel.clone(),
            },
        );
        Ok(channel)
    }

    /// Every channel this member can read, with unread counts, newest first.
    fn list_channels(&self, pass: &Passphrase, now: Timestamp) -> Result<Value> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let me = self.member.0;
        let state = replica.auth();
        let viewer = Viewer::of(self, state, now);
        let mut rows = Vec::new();
        for doc in replica.docs().copied().collect::<Vec<_>>() {
            if !self.is_chat(&replica, &ring, &doc) {
                continue;
            }
            let open = self.open_key(&replica, &ring, doc, now)?;
            let def = state.scope(&doc.0);
            let kind = match def.map(|d| d.readers.as_slice()) {
                Some([Principal::Everyone]) => "everyone".to_owned(),
                Some([Principal::Dept(d)]) => format!("dept:{d}"),
                Some(_) if def.is_some_and(|d| d.name == DIRECT_SCOPE_NAME) => "direct".to_owned(),
                _ => "group".to_owned(),
            };
            let last = open.channel.messages.last().map_or(0, |m| m.time_ms / 1000);
            rows.push((
                last,
                json!({
                    "channel": doc.1.to_hex(),
                    "name": open.channel.name,
                    "topic": open.channel.topic,
                    "kind": kind,
                    "archived": open.channel.archived,
                    "joined": !open.channel.left.contains(&me),
                    "members": open.members.len(),
                    "messages": open.channel.messages.len(),
                    "unread": open.channel.unread(&me),
                    "mentions": open.channel.messages.iter().filter(|m| viewer.mentioned(m) && !open.channel.has_read(&me, &m.id)).count(),
                    "last": last,
                }),
            ));
        }
        rows.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
        Ok(json!(rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>()))
    }

    /// Searches the messages of every channel this member can read (or of
    /// one). The index is built in memory from the store, which keeps only
    /// ciphertext: nothing of it is written to disk in the clear.
    fn search_chat(&self, query: &str, only: Option<&str>, pass: &Passphrase, now: Timestamp) -> Result<Value> {
        if outpost_workspace::search::query_terms(query).is_empty() {
            bail!("the query has no words to look for");
        }
        let only = only.map(|c| self.channel_key(c, pass)).transpose()?;
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let viewer = Viewer::of(self, replica.auth(), now);
        let mut index = outpost_workspace::search::Index::new();
        let mut opened = BTreeMap::new();
        for doc in replica.docs().copied().collect::<Vec<_>>() {
            if only.is_some_and(|o| o != doc) || !self.is_chat(&replica, &ring, &doc) {
                continue;
            }
            let open = self.open_key(&replica, &ring, doc, now)?;
            for m in &open.channel.messages {
                if m.recalled_by.is_none() {
                    index.put((doc_key_bytes(&doc), m.id), &m.text);
                }
            }
            opened.insert(doc_key_bytes(&doc), open);
        }
        let hits: Vec<Value> = index
            .search(query)
            .into_iter()
            .filter_map(|(doc, id)| {
                let open = &opened[&doc];
                let m = open.channel.message(&id)?;
                let mut v = viewer.message(m, &open.channel);
                v["channel"] = json!(open.key.1.to_hex());
                v["channel_name"] = json!(open.channel.name);
                Some(((m.time_ms, m.id), v))
            })
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect();
        Ok(json!(hits))
    }

    /// Notifications for envelopes just stored from peers: chat messages
    /// that mention this member (by name, department or `@all`), arrive in a
    /// direct-message channel, or reply in a thread this member started.
    /// Messages of channels the member left raise none but direct ones.
    ///
    /// Also returns the envelopes that cannot be judged yet: pending ones,
    /// and those of channels this member holds no key for yet (the key may
    /// come a moment later than the message): ask again after new ops.
    pub fn chat_notifications(
        &self,
        ids: &[[u8; 32]],
        pass: &Passphrase,
        now: Timestamp,
    ) -> Result<(Vec<Value>, Vec<[u8; 32]>)> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let state = replica.auth();
        let viewer = Viewer::of(self, state, now);
        let mut by_doc: BTreeMap<DocKey, Vec<EntryId>> = BTreeMap::new();
        let mut undecided = Vec::new();
        for id in ids {
            let Some(env) = replica.envelope(&EnvId(*id)) else {
                continue;
            };
            if env.header.author == self.member {
                continue;
            }
            match replica.verdict(&env.id) {
                Some(outpost_seal::Verdict::Valid) => {
                    by_doc.entry((env.header.scope, env.header.doc)).or_default().push(*id);
                }
                Some(outpost_seal::Verdict::Invalid(_)) => {}
                _ => undecided.push(*id),
            }
        }
        let mut out = Vec::new();
        for (doc, ids) in by_doc {
            if doc.1 == SETTINGS_DOC {
                continue;
            }
            match self.is_channel(&replica, &ring, &doc) {
                Some(true) => {}
                Some(false) => continue,
                None => {
                    undecided.extend(ids);
                    continue;
                }
            }
            let open = self.open_key(&replica, &ring, doc, now)?;
            let direct = state.scope(&doc.0).is_some_and(|s| s.name == DIRECT_SCOPE_NAME);
            let left = open.channel.left.contains(&viewer.me);
            for id in ids {
                let Some(m) = open.channel.message(&id) else { continue };
                let mine = |root: &EntryId| open.channel.message(root).is_some_and(|r| r.author == viewer.me);
                let kind = if direct {
                    "direct"
                } else if left {
                    continue;
                } else if viewer.mentioned(m) {
                    "mention"
                } else if m.thread.as_ref().is_some_and(mine) {
                    "reply"
                } else {
                    continue;
                };
                let mut v = viewer.message(m, &open.channel);
                v["kind"] = json!(kind);
                v["channel"] = json!(doc.1.to_hex());
                v["channel_name"] = json!(open.channel.name);
                out.push(v);
            }
        }
        Ok((out, undecided))
    }

    /// The org's settings as its admins set them (every settings log of a
    /// scope read by everyone counts: two admins may each have made one).
    pub fn org_settings(&self, pass: &Passphrase, now: Timestamp) -> Result<Channel> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let state = replica.auth();
        let mut entries = Vec::new();
        for doc in replica.docs() {
            let everyone = state.scope(&doc.0).is_some_and(|s| s.readers == [Principal::Everyone]);
            if doc.1 == SETTINGS_DOC && everyone {
                entries.extend(self.log_entries(&replica, &ring, doc).unwrap_or_default());
            }
        }
        Ok(Channel::build(
            &entries,
            &Policy {
                admins: org_admins(state, now),
                ..Policy::default()
            },
        ))
    }

    /// What members may send, by the org's settings.
    pub fn file_policy(&self, pass: &Passphrase, now: Timestamp) -> Result<crate::blobs::FilePolicy> {
        let settings = self.org_settings(pass, now)?;
        let default = crate::blobs::FilePolicy::default();
        Ok(crate::blobs::FilePolicy {
            bytes_max: settings.file_bytes_max.unwrap_or(default.bytes_max),
            types: settings.file_types.or(default.types),
        })
    }

    /// Members who may read `scope` now, sorted.
    fn readers_of(&self, scope: &outpost_identity::OpId, now: Timestamp) -> Result<Vec<PublicKey>> {
        Ok(self.readers(scope, now)?.into_iter().map(|(k, _)| k).collect())
    }
}
