//! Every command-line flag, in one place: `outpost --help` is generated
//! from these definitions, and `docs/cli.md` follows them.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Outpost: a peer-to-peer, end-to-end encrypted collaboration node.
#[derive(Debug, Parser)]
#[command(name = "outpost", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Home directory holding keys and the store [env: OUTPOST_HOME; default: ~/.local/share/outpost]
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Read the key passphrase from the first line of FILE [else env: OUTPOST_PASSPHRASE]
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create this device's member and device keys.
    Init {
        /// Your display name [default: the login name].
        #[arg(long)]
        name: Option<String>,
        /// Make this home another device of an existing member: their
        /// keys/member.key, copied from their first device (same passphrase).
        #[arg(long, value_name = "FILE")]
        member_key: Option<std::path::PathBuf>,
    },
    /// Start the node on this home (creates an identity and a personal org on first run).
    Up(UpArgs),
    /// Show this node's identity, org and role (and network, while it runs).
    Status,
    /// List the peers a running node is connected to.
    Peers,
    /// Print (and open in a browser) the link that logs in to the running node's web page.
    Open {
        /// Only print the link.
        #[arg(long)]
        no_browser: bool,
    },
    /// Change, add or remove the passphrase that encrypts this home's key files.
    #[command(subcommand)]
    Passphrase(PassphraseCommand),
    /// Create or export the org.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Request, issue, install, check, list and revoke certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Bulk onboarding from a staff list.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Redeem an invite from an admin.
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Create, edit, read, version, move, share and export documents.
    #[command(subcommand)]
    Doc(DocCommand),
    /// List, create and share spaces (the permissions of what they hold).
    #[command(subcommand)]
    Space(SpaceCommand),
    /// Put files in the library, get them, list their versions.
    #[command(subcommand)]
    File(FileCommand),
    /// Create, list, join, leave and archive chat channels.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Send, read, edit, react to and search chat messages.
    #[command(subcommand)]
    Chat(ChatCommand),
    /// Create and list projects (each with its own members and task board).
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Add, change, move, comment on and finish tasks.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Show a project's board.
    #[command(subcommand)]
    Board(BoardCommand),
    /// Usage statistics from what you may read: active members, use per module, files, tasks.
    Stats {
        /// How many days, up to today.
        #[arg(long, default_value_t = 30)]
        days: u64,
    },
    /// Make, list and revoke scoped API tokens for other systems.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Send this node's events to other systems over HTTP, signed.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Submit, approve, reject, withdraw and follow approval requests; list and add templates.
    #[command(subcommand)]
    Approval(ApprovalCommand),
    /// Publish, read and acknowledge announcements; see who has read them.
    #[command(subcommand)]
    Announce(AnnounceCommand),
    /// Create meetings, answer invitations, take minutes, list what is coming.
    #[command(subcommand)]
    Meeting(MeetingCommand),
    /// Read and verify the org's audit log of admin operations (admins only).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Encrypted full and incremental backups: create, verify, restore, schedule.
    #[command(subcommand)]
    Backup(BackupCommand),
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up this home (store, keys as stored, files) into DIR, encrypted under keys/backup.key.
    Create {
        /// A full backup: starts a new chain.
        #[arg(long, conflicts_with = "incremental")]
        full: bool,
        /// Only what changed since the newest backup in DIR [default: incremental if DIR holds a chain, else full].
        #[arg(long)]
        incremental: bool,
        /// The backup directory.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// Keep only the newest N chains in DIR (older ones are removed) [default: all].
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
    },
    /// Check a backup chain completely: authentication, links, hashes; exit code 7 if anything is wrong.
    Verify {
        /// The backup directory (its newest chain) or one chain directory.
        from: PathBuf,
        /// The backup key file [default: this home's keys/backup.key].
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
    /// Restore a chain into a new, empty home (given with --home).
    Restore {
        /// The backup directory (its newest chain) or one chain directory.
        from: PathBuf,
        /// The backup key file (from `outpost backup key`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Restore only up to this backup of the chain (0 = the full one) [default: the newest].
        #[arg(long, value_name = "N")]
        upto: Option<u32>,
    },
    /// Print (or write) the backup key, made if needed, for safekeeping offline.
    Key {
        /// Write it to FILE (0600) instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Show, set or turn off the node's scheduled backups.
    Schedule {
        /// The backup directory (setting it turns scheduled backups on).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Chains to keep [default: 4].
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
        /// Time of the daily backup, HH:MM UTC [default: 02:00].
        #[arg(long, value_name = "HH:MM")]
        daily_at: Option<String>,
        /// Day of the weekly full backup, mon..sun [default: sun].
        #[arg(long, value_name = "DAY")]
        full_on: Option<String>,
        /// Turn scheduled backups off.
        #[arg(long, conflicts_with_all = ["dir", "keep", "daily_at", "full_on"])]
        off: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List the audit entries, oldest first.
    List {
        /// Only entries from this time on (`2026-12-01`, `2026-12-01T10:00`, UTC, or seconds).
        #[arg(long)]
        since: Option<String>,
        /// Only entries of this member (a name or a key prefix).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Check every stored entry: signatures, numbering and hash links; exit code 6 if anything is wrong.
    Verify,
    /// Show the retention period, or set it (in days; never below 180).
    Retention {
        /// The new period in days.
        days: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; it is printed once.
    Create {
        /// A name for it ("OA system").
        name: String,
        /// What it may do: AREA:read or AREA:write (status, events, docs, chat,
        /// tasks, certs, approvals, announcements, meetings, oa, hr); repeatable.
        #[arg(long = "scope", value_name = "SCOPE", required = true, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Requests a minute it may make [default: 600].
        #[arg(long, value_name = "N")]
        rate: Option<u32>,
        /// Days until it stops working [default: never].
        #[arg(long, value_name = "DAYS")]
        expires: Option<u64>,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke a token, by id or name.
    Revoke {
        /// Its id or name.
        token: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add a webhook; its signing secret is printed once.
    Add {
        /// Where to POST the events (http:// or https://).
        url: String,
        /// The events it wants: notification, reminder, changed, stored, synced, certs, or * for all; repeatable.
        #[arg(long = "event", value_name = "EVENT", required = true, value_delimiter = ',')]
        events: Vec<String>,
    },
    /// List the webhooks.
    List,
    /// Remove a webhook.
    Remove {
        /// Its id.
        id: String,
    },
    /// Send a test event (`ping`) to a webhook (the node must run).
    Test {
        /// Its id.
        id: String,
    },
    /// The delivery log: every attempt, newest last.
    Log,
}

/// Where a new document or file goes.
#[derive(Debug, Clone, Args)]
pub struct PlaceArgs {
    /// The space (id prefix or name; see `outpost space list`) [default: your department's].
    #[arg(long, value_name = "SPACE", conflicts_with = "scope")]
    pub space: Option<String>,
    /// A department: its space, made on first use.
    #[arg(long, value_name = "PATH")]
    pub scope: Option<String>,
    /// The folder inside the space, such as Campaigns/2027.
    #[arg(long, value_name = "PATH", default_value = "")]
    pub folder: String,
}

#[derive(Debug, Subcommand)]
pub enum DocCommand {
    /// Create a document.
    New {
        /// The title.
        #[arg(long)]
        title: String,
        /// Where.
        #[command(flatten)]
        place: PlaceArgs,
        /// Who may read (view only): everyone, dept:PATH, role:ROLE or member:KEY; gives the document a space of its own.
        #[arg(long = "readers", value_name = "WHO", num_args = 1.., value_delimiter = ',', conflicts_with_all = ["space", "scope"])]
        readers: Vec<String>,
        /// Who may edit (you always do); gives the document a space of its own.
        #[arg(long = "writers", value_name = "WHO", num_args = 1.., value_delimiter = ',', conflicts_with_all = ["space", "scope"])]
        writers: Vec<String>,
        /// Start from this Markdown file.
        #[arg(long, value_name = "FILE")]
        markdown: Option<std::path::PathBuf>,
    },
    /// Change a document's text.
    Edit {
        /// The document id (or a unique prefix).
        id: String,
        /// Replace the text.
        #[arg(
            long,
            value_name = "TEXT",
            conflicts_with = "append",
            required_unless_present = "append"
        )]
        set_text: Option<String>,
        /// Add to the end of the text.
        #[arg(long, value_name = "TEXT")]
        append: Option<String>,
    },
    /// Print a document (as Markdown).
    Show {
        /// The document id (or a unique prefix).
        id: String,
        /// A past version: a change id from `doc history` or a version's name.
        #[arg(long, value_name = "VERSION")]
        at: Option<String>,
    },
    /// Who changed a document, when, and what.
    History {
        /// The document id (or a unique prefix).
        id: String,
    },
    /// What changed between two versions, line by line.
    Diff {
        /// The document.
        id: String,
        /// The older version.
        from: String,
        /// The newer version [default: now].
        to: Option<String>,
    },
    /// Make a document read as it did at a version (a new change; history is kept).
    // Its argument is named `version`, as is the `--version` flag every
    // command gets: clap refuses the clash unless the flag goes.
    #[command(disable_version_flag = true)]
    Restore {
        /// The document.
        id: String,
        /// The version.
        version: String,
    },
    /// Name the current version of a document (or --at one).
    Version {
        /// The document.
        id: String,
        /// The name, such as "sent to client".
        name: String,
        /// The version to name [default: now].
        #[arg(long, value_name = "VERSION")]
        at: Option<String>,
    },
    /// List the documents and files you can read.
    List {
        /// List the trash instead.
        #[arg(long)]
        trash: bool,
        /// Only this folder (and below).
        #[arg(long, value_name = "PATH")]
        folder: Option<String>,
    },
    /// Rename a document or file.
    Rename {
        /// The entry.
        id: String,
        /// The new title or file name.
        title: String,
    },
    /// Move a document or file to a folder (of another space: it is copied there with its history).
    Mv {
        /// The entry.
        id: String,
        /// The folder.
        folder: String,
        /// Another space.
        #[arg(long, value_name = "SPACE")]
        space: Option<String>,
    },
    /// Move a document or file to the trash.
    Trash {
        /// The entry.
        id: String,
    },
    /// Bring a document or file back from the trash.
    Untrash {
        /// The entry.
        id: String,
    },
    /// Delete a document or file for good.
    Delete {
        /// The entry.
        id: String,
    },
    /// Give a document or file its own readers and writers.
    Share {
        /// The entry.
        id: String,
        /// Who may read (view only).
        #[arg(long = "readers", value_name = "WHO", num_args = 1.., value_delimiter = ',')]
        readers: Vec<String>,
        /// Who may edit.
        #[arg(long = "writers", value_name = "WHO", num_args = 1.., value_delimiter = ',')]
        writers: Vec<String>,
    },
    /// Write a document to a file: Markdown, HTML or the automerge binary.
    Export {
        /// The document.
        id: String,
        /// markdown, html or automerge.
        #[arg(long, default_value = "markdown")]
        format: String,
        /// Where.
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Replace a document's body with a Markdown file.
    Import {
        /// The document.
        id: String,
        /// The Markdown file.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum SpaceCommand {
    /// List the spaces you can read.
    List,
    /// Create a space (a project, a team): its readers and writers are the permissions of what it holds.
    Create {
        /// Its name (every node of the org sees it: keep secrets out).
        name: String,
        /// Who may read (view only).
        #[arg(long = "readers", value_name = "WHO", num_args = 1.., value_delimiter = ',')]
        readers: Vec<String>,
        /// Who may edit (you always do).
        #[arg(long = "writers", value_name = "WHO", num_args = 1.., value_delimiter = ',')]
        writers: Vec<String>,
    },
    /// Who made a space and every change of who may read and edit it.
    History {
        /// The space.
        space: String,
    },
    /// Change who may read and edit a space (its owner or an admin).
    Share {
        /// The space.
        space: String,
        /// Who may read (view only).
        #[arg(long = "readers", value_name = "WHO", num_args = 1.., value_delimiter = ',')]
        readers: Vec<String>,
        /// Who may edit.
        #[arg(long = "writers", value_name = "WHO", num_args = 1.., value_delimiter = ',')]
        writers: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// Add a file to the library (or a new version of a file).
    Put {
        /// The file.
        path: std::path::PathBuf,
        /// Where.
        #[command(flatten)]
        place: PlaceArgs,
        /// Add it as a new version of this file entry.
        #[arg(long, value_name = "ID", conflicts_with_all = ["space", "scope", "folder"])]
        to: Option<String>,
    },
    /// Save a file from the library (a running node fetches what it lacks from peers).
    // `--version` picks a file version here, not the program's.
    #[command(disable_version_flag = true)]
    Get {
        /// The file entry.
        id: String,
        /// Where to write it.
        #[arg(long, value_name = "PATH")]
        out: std::path::PathBuf,
        /// Which version, 1 for the first [default: the current one].
        #[arg(long)]
        version: Option<usize>,
    },
    /// List the files you can read.
    Ls {
        /// Only this folder (and below).
        #[arg(long, value_name = "PATH")]
        folder: Option<String>,
    },
    /// A file's versions.
    Versions {
        /// The file entry.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Create a channel.
    Create {
        /// The channel's name.
        name: String,
        /// Department whose members (and those below it) read and post [default: your department].
        #[arg(long, value_name = "PATH", conflicts_with_all = ["everyone", "members"])]
        dept: Option<String>,
        /// Every member of the org reads and posts.
        #[arg(long, conflicts_with = "members")]
        everyone: bool,
        /// Only these members read and post: names or keys, comma-separated or repeated (you are always one).
        #[arg(long, value_name = "WHO", num_args = 1.., value_delimiter = ',')]
        members: Vec<String>,
        /// A topic line.
        #[arg(long, value_name = "TEXT")]
        topic: Option<String>,
    },
    /// Open the direct-message channel with one member (made the first time).
    Dm {
        /// The other member: a name, or a key or key prefix.
        member: String,
    },
    /// List the channels you can read, most recently active first.
    List,
    /// Rejoin a channel you left.
    Join {
        /// The channel: its name, or its id (or a unique prefix).
        channel: String,
    },
    /// Leave a channel: you are no longer counted among its members.
    Leave {
        /// The channel: its name, or its id (or a unique prefix).
        channel: String,
    },
    /// Make a channel read-only (its creator and the org's admins).
    Archive {
        /// The channel: its name, or its id (or a unique prefix).
        channel: String,
        /// Reopen an archived channel instead.
        #[arg(long)]
        undo: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Post a message.
    Send {
        /// The channel: its name, or its id (or a unique prefix).
        channel: String,
        /// The text; @name, @Dept/Path and @all mention.
        #[arg(allow_hyphen_values = true, required_unless_present = "file")]
        text: Option<String>,
        /// Answer this message, in its thread (at least 6 hex digits of its id).
        #[arg(long, value_name = "MSGID")]
        reply: Option<String>,
        /// Attach this file (at most 100 MB, of an allowed type); it is encrypted and stored here, and readers fetch it from any peer that has it.
        #[arg(long, value_name = "PATH")]
        file: Option<std::path::PathBuf>,
    },
    /// Save a message's attached file (a running node fetches what it lacks from its peers; an interrupted fetch resumes).
    Save {
        /// The channel: its name, or its id (or a unique prefix).
        channel: String,
        /// The message (at least 6 hex digits of its id).
        message: String,
        /// Where to write the file.
        #[arg(long, value_name = "PATH")]
        out: std::path::PathBuf,
        /// Which of the message's files, from 0.
        #[arg(long, value_name = "N", default_value_t = 0)]
        index: usize,
    },
    /// Print a channel's messages, oldest first, and mark them read.
    Read {
        /// The channel: its name, or its id (or a unique prefix).
        channel: String,
        /// Only messages posted since TIME: seconds since 1970, or a duration ago such as 30m, 2h, 3d.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only this thread: its first message and the replies (at least 6 hex digits of its id).
        #[arg(long, value_name = "MSGID")]
        thread: Option<String>,
        /// At most N messages, the newest [default: 200].
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Do not mark the messages read.
        #[arg(long)]
        peek: bool,
    },
    /// Change the text of one of your messages (earlier texts are kept).
    Edit {
        /// The channel: its name, or its id (or a unique prefix).
        channel: String,
        /// The message (at least 6 hex digits of its id).
        message: String,
        /// The new text.
        #[arg(allow_hyphen_values = true)]
        text: String,
    },
    /// Withdraw a message for everyone (your own within 24 hours; channel admins any).
    Recall {
        /// The channel: its name, or its id (or a unique prefix).
        channel: String,
        /// The message (at least 6 hex digits of its id).
        message: String,
    },
    /// React to a message, or take your reaction back.
    React {
        /// The channel: its name, or its id (or a unique prefix).
        channel: String,
        /// The message (at least 6 hex digits of its id).
        message: String,
        /// The reaction: an emoji or a short code.
        reaction: String,
        /// Remove your reaction instead.
        #[arg(long)]
        off: bool,
    },
    /// Pin a message to the channel, or unpin it.
    Pin {
        /// The channel: its name, or its id (or a unique prefix).
        channel: String,
        /// The message (at least 6 hex digits of its id).
        message: String,
        /// Unpin instead.
        #[arg(long)]
        off: bool,
    },
    /// Who in the channel has read a message, and who has not yet.
    Receipts {
        /// The channel: its name, or its id (or a unique prefix).
        channel: String,
        /// The message (at least 6 hex digits of its id).
        message: String,
    },
    /// Find messages: every word of QUERY, or any part of Chinese, Japanese or Korean text.
    Search {
        /// What to look for.
        query: String,
        /// Only in this channel: its name, or its id (or a unique prefix).
        #[arg(long)]
        channel: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project: a space of its own with a board (To do, In progress, Done).
    Create {
        /// The project's name.
        name: String,
        /// Who reads and writes it: dept:PATH, member:KEY, role:ROLE or everyone, comma-separated or repeated [default: your department].
        #[arg(long, value_name = "WHO", num_args = 1.., value_delimiter = ',')]
        members: Vec<String>,
    },
    /// List the projects you can read, with their open and overdue tasks.
    List,
    /// Add a column at the end of a project's board.
    Column {
        /// The project: its name, or its id (or a unique prefix).
        project: String,
        /// The column's name.
        name: String,
        /// What being in it means: todo, in_progress or done.
        #[arg(long, default_value = "in_progress")]
        status: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Add a task to a project's board (in its first column, or --column).
    Add {
        /// The project: its name, or its id (or a unique prefix).
        project: String,
        /// The task's title.
        title: String,
        /// A longer description.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// Who does it: names or keys, comma-separated or repeated.
        #[arg(long, value_name = "WHO", value_delimiter = ',')]
        assignee: Vec<String>,
        /// When it is due: 2026-12-01T10:00 (UTC), 2026-12-01, or seconds since 1970.
        #[arg(long, value_name = "WHEN")]
        due: Option<String>,
        /// low, normal, high or urgent.
        #[arg(long, default_value = "normal")]
        priority: String,
        /// A label, comma-separated or repeated.
        #[arg(long, value_name = "LABEL", value_delimiter = ',')]
        label: Vec<String>,
        /// The column to start in: its name or id.
        #[arg(long)]
        column: Option<String>,
    },
    /// Change a task's title, description, assignees, due time, priority or labels.
    Update {
        /// The task: its id (or a unique prefix of at least 4 characters).
        task: String,
        /// A new title.
        #[arg(long)]
        title: Option<String>,
        /// A new description.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// New assignees (replacing the old), comma-separated or repeated.
        #[arg(long, value_name = "WHO", value_delimiter = ',')]
        assignee: Option<Vec<String>>,
        /// A new due time (as for `task add`).
        #[arg(long, value_name = "WHEN", conflicts_with = "no_due")]
        due: Option<String>,
        /// Remove the due time.
        #[arg(long)]
        no_due: bool,
        /// A new priority.
        #[arg(long)]
        priority: Option<String>,
        /// New labels (replacing the old), comma-separated or repeated.
        #[arg(long, value_name = "LABEL", value_delimiter = ',')]
        label: Option<Vec<String>>,
    },
    /// Move a task's card to another column.
    Move {
        /// The task: its id (or a unique prefix of at least 4 characters).
        task: String,
        /// The column: its name or id.
        column: String,
        /// Its place in the column, 0 for the top [default: the end].
        #[arg(long)]
        position: Option<usize>,
    },
    /// Show a task with its checklist and comments.
    Show {
        /// The task: its id (or a unique prefix of at least 4 characters).
        task: String,
    },
    /// Comment on a task.
    Comment {
        /// The task: its id (or a unique prefix of at least 4 characters).
        task: String,
        /// The comment.
        text: String,
    },
    /// Add a checklist item to a task.
    Item {
        /// The task: its id (or a unique prefix of at least 4 characters).
        task: String,
        /// What is to be done.
        text: String,
    },
    /// Tick a checklist item (or untick it with --undo).
    Check {
        /// The task: its id (or a unique prefix of at least 4 characters).
        task: String,
        /// The item's number, from 1.
        item: String,
        /// Untick it.
        #[arg(long)]
        undo: bool,
    },
    /// Mark a task done: move it to the board's first column of status done.
    Done {
        /// The task: its id (or a unique prefix of at least 4 characters).
        task: String,
    },
    /// List the deadline reminders sent to you, newest first.
    Reminders,
    /// Send the deadline reminders due now (the running node does this by itself every 15 s).
    Remind {
        /// Act as if the clock said this (2026-12-01T10:00 UTC): for trying reminders out.
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BoardCommand {
    /// Show a project's board: each column with its cards.
    Show {
        /// The project: its name, or its id (or a unique prefix).
        project: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AnnounceCommand {
    /// Publish an announcement (admins to anyone; department heads to their department and those below it).
    Publish {
        /// The title.
        #[arg(long)]
        title: String,
        /// The text, in Markdown.
        #[arg(
            long,
            value_name = "TEXT",
            allow_hyphen_values = true,
            conflicts_with = "body_file",
            required_unless_present = "body_file"
        )]
        body: Option<String>,
        /// Read the text (Markdown) from FILE ("-" for standard input).
        #[arg(long, value_name = "FILE")]
        body_file: Option<PathBuf>,
        /// Who it is for: everyone, dept:PATH, role:ROLE or member:KEY, comma-separated or repeated [default: everyone for an admin, your department for a department head].
        #[arg(long = "to", value_name = "WHO", value_delimiter = ',')]
        to: Vec<String>,
        /// Keep it at the top of the list until then: 2026-12-01T10:00 (UTC), 2026-12-01, or seconds since 1970.
        #[arg(long, value_name = "WHEN")]
        pin_until: Option<String>,
        /// Ask readers to acknowledge it (each acknowledgement is signed).
        #[arg(long)]
        ack_required: bool,
        /// Attach a file (repeatable; the org's size and type limits apply).
        #[arg(long, value_name = "FILE")]
        attach: Vec<PathBuf>,
    },
    /// List the announcements you can read: pinned ones first, then the newest.
    List {
        /// Also list rejected ones (published by someone who may not publish).
        #[arg(long)]
        all: bool,
    },
    /// Show an announcement, and mark it read.
    Show {
        /// The announcement: its id (or a unique prefix of at least 4 characters).
        id: String,
        /// Do not mark it read.
        #[arg(long)]
        peek: bool,
    },
    /// Acknowledge an announcement that asks for it (a signed record).
    Ack {
        /// The announcement: its id (or a unique prefix of at least 4 characters).
        id: String,
    },
    /// Who in the audience has read and acknowledged an announcement, by department (its publisher and admins).
    Reads {
        /// The announcement: its id (or a unique prefix of at least 4 characters).
        id: String,
    },
    /// Save a file attached to an announcement (a running node fetches what it lacks from its peers).
    Save {
        /// The announcement: its id (or a unique prefix of at least 4 characters).
        id: String,
        /// Where to write the file.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Which of its files, from 0.
        #[arg(long, value_name = "N", default_value_t = 0)]
        index: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum MeetingCommand {
    /// Create a meeting and invite people and departments.
    Create {
        /// The title.
        #[arg(long)]
        title: String,
        /// When it starts: 2026-12-01T10:00 (UTC), or seconds since 1970.
        #[arg(long, value_name = "WHEN")]
        start: String,
        /// When it ends [default: 60 minutes after the start].
        #[arg(long, value_name = "WHEN", conflicts_with = "minutes")]
        end: Option<String>,
        /// How long it lasts, in minutes.
        #[arg(long, value_name = "N")]
        minutes: Option<u64>,
        /// Where: a room, an address.
        #[arg(long)]
        place: Option<String>,
        /// The call link.
        #[arg(long, value_name = "URL")]
        link: Option<String>,
        /// The agenda.
        #[arg(long, value_name = "TEXT")]
        agenda: Option<String>,
        /// Who is invited: names, keys, member:KEY, dept:PATH, role:ROLE or everyone, comma-separated or repeated.
        #[arg(long = "invite", value_name = "WHO", value_delimiter = ',')]
        invite: Vec<String>,
        /// Remind participants this many minutes before the start (0: no reminder).
        #[arg(long, value_name = "MINUTES", default_value_t = 15)]
        remind: u32,
    },
    /// Change a meeting (its organizer): the fields given replace the old ones.
    Update {
        /// The meeting: its id (or a unique prefix of at least 4 characters) or its exact title.
        id: String,
        /// A new title.
        #[arg(long)]
        title: Option<String>,
        /// A new start (the length stays unless --end or --minutes is given).
        #[arg(long, value_name = "WHEN")]
        start: Option<String>,
        /// A new end.
        #[arg(long, value_name = "WHEN", conflicts_with = "minutes")]
        end: Option<String>,
        /// A new length, in minutes from the start.
        #[arg(long, value_name = "N")]
        minutes: Option<u64>,
        /// A new place.
        #[arg(long)]
        place: Option<String>,
        /// A new call link.
        #[arg(long, value_name = "URL")]
        link: Option<String>,
        /// A new agenda.
        #[arg(long, value_name = "TEXT")]
        agenda: Option<String>,
        /// The invitees, replacing the old ones (comma-separated or repeated).
        #[arg(long = "invite", value_name = "WHO", value_delimiter = ',')]
        invite: Option<Vec<String>>,
        /// A new reminder time, in minutes before the start.
        #[arg(long, value_name = "MINUTES")]
        remind: Option<u32>,
    },
    /// List upcoming meetings (soonest first), or past ones.
    List {
        /// Past meetings instead, latest first.
        #[arg(long)]
        past: bool,
    },
    /// Show a meeting with every invitee's answer.
    Show {
        /// The meeting: its id (or a unique prefix of at least 4 characters) or its exact title.
        id: String,
    },
    /// Accept an invitation.
    Accept {
        /// The meeting: its id (or a unique prefix of at least 4 characters) or its exact title.
        id: String,
    },
    /// Decline an invitation (no reminders then).
    Decline {
        /// The meeting: its id (or a unique prefix of at least 4 characters) or its exact title.
        id: String,
    },
    /// Tentatively accept an invitation.
    Tentative {
        /// The meeting: its id (or a unique prefix of at least 4 characters) or its exact title.
        id: String,
    },
    /// The meeting's minutes document (created the first time); edit it with `outpost doc`.
    Minutes {
        /// The meeting: its id (or a unique prefix of at least 4 characters) or its exact title.
        id: String,
    },
    /// Call a meeting off (its organizer).
    Cancel {
        /// The meeting: its id (or a unique prefix of at least 4 characters) or its exact title.
        id: String,
    },
    /// Send the meeting reminders due now (what the node's scheduler does) and print them.
    Remind {
        /// Act as if it were this time: 2026-12-01T10:00 (UTC), or seconds since 1970.
        #[arg(long, value_name = "WHEN")]
        now: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApprovalCommand {
    /// Submit a request from a template (leave, expense, seal, or one of the org's own).
    Submit {
        /// The template's name.
        template: String,
        /// What the request is about.
        #[arg(long)]
        title: String,
        /// A field's value, as NAME=VALUE (repeatable), such as --field from=2027-03-01.
        #[arg(long = "field", value_name = "NAME=VALUE")]
        field: Vec<String>,
    },
    /// Approve a step of a request.
    Approve {
        /// The request: its id (or a unique prefix of at least 4 hex digits).
        request: String,
        /// The step [default: the one step you may decide now].
        #[arg(long)]
        step: Option<String>,
        /// Why, for the history.
        #[arg(long, value_name = "TEXT")]
        comment: Option<String>,
    },
    /// Reject a step of a request (and so the request).
    Reject {
        /// The request: its id (or a unique prefix of at least 4 hex digits).
        request: String,
        /// The step [default: the one step you may decide now].
        #[arg(long)]
        step: Option<String>,
        /// Why, for the history.
        #[arg(long, value_name = "TEXT")]
        comment: Option<String>,
    },
    /// Withdraw your own request before its final decision.
    Withdraw {
        /// The request: its id (or a unique prefix of at least 4 hex digits).
        request: String,
    },
    /// Where a request is, who must act, and its signed history.
    Status {
        /// The request: its id (or a unique prefix of at least 4 hex digits).
        request: String,
    },
    /// List the requests you can read.
    List {
        /// Only those where you can decide a step now.
        #[arg(long, conflicts_with = "mine")]
        inbox: bool,
        /// Only your own.
        #[arg(long)]
        mine: bool,
    },
    /// List or add templates.
    #[command(subcommand)]
    Template(TemplateCommand),
}

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// List the templates: built in and the org's own.
    List,
    /// Add a template from a JSON file, or replace the one of its name (admins only).
    Add {
        /// The template (JSON; see docs/cli.md), or - for standard input.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Do not announce or discover peers with mDNS [env: OUTPOST_MDNS=off].
    #[arg(long)]
    pub no_mdns: bool,
    /// Name for the personal org made on first run.
    #[arg(long, default_value = "Personal")]
    pub org_name: String,
    /// libp2p address to listen on (repeatable) [default: all interfaces, TCP and QUIC, any port].
    #[arg(long, value_name = "MULTIADDR")]
    pub listen: Vec<String>,
    /// A peer to keep connected, e.g. /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW... (repeatable; redialled with backoff
    /// whenever not connected; adds to `peers` in <home>/network.toml).
    #[arg(long, value_name = "MULTIADDR")]
    pub peer: Vec<String>,
    /// A relay to listen through, e.g. /ip4/203.0.113.5/tcp/4001/p2p/12D3KooW...: others then reach this node at
    /// <relay>/p2p-circuit/p2p/<its peer id> (repeatable; adds to `relays` in <home>/network.toml).
    #[arg(long, value_name = "MULTIADDR")]
    pub relay: Vec<String>,
    /// Relay connections for other members of the org, and only for them [or `relay_server = true` in
    /// <home>/network.toml].
    #[arg(long)]
    pub relay_server: bool,
    /// Where the local HTTP API and web page listen (loopback only; port 0 picks one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7447")]
    pub api: String,
    /// Also serve the web page and API over HTTPS on this address (any interface, e.g. 0.0.0.0:7448), for
    /// browsers on other machines; needs --tls-cert and --tls-key. The token is required as on loopback.
    #[arg(long, value_name = "ADDR", requires_all = ["tls_cert", "tls_key"])]
    pub public_api: Option<String>,
    /// The certificate chain (PEM) for --public-api.
    #[arg(long, value_name = "FILE", requires = "public_api")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) for --public-api.
    #[arg(long, value_name = "FILE", requires = "public_api")]
    pub tls_key: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create a new org: makes the org root key and this member its first admin.
    Create {
        /// The org's name.
        #[arg(long)]
        name: String,
    },
    /// Write every certificate and revocation this node knows as one bundle.
    Export {
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the org's settings (what members may send).
    Settings,
    /// Change the org's settings (admins only); every node applies them once it has them.
    Set {
        /// The largest file members may send: bytes, or with KB, MB or GB (100MB by default).
        #[arg(long, value_name = "SIZE")]
        file_size_max: Option<String>,
        /// The file types members may send, as extensions: pdf,png,xlsx,...
        #[arg(long, value_name = "EXT", num_args = 1.., value_delimiter = ',')]
        file_types: Option<Vec<String>>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PassphraseCommand {
    /// Re-encrypt every key file of this home (member, device, storage, org
    /// root) under a new passphrase, all or none. The current one comes from
    /// --passphrase-file / OUTPOST_PASSPHRASE (none if the keys are not
    /// encrypted yet). A node running on this home keeps working.
    Change {
        /// Read the new passphrase from the first line of FILE [else env: OUTPOST_NEW_PASSPHRASE_FILE, OUTPOST_NEW_PASSPHRASE]
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
        /// Store the keys without a passphrase (mode 0600 only) instead.
        #[arg(long, conflicts_with = "new_passphrase_file")]
        remove: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Print this member's certificate request, to send to an admin.
    Request {
        /// Name to request under [default: the name given at init].
        #[arg(long)]
        name: Option<String>,
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Issue a certificate for a request (admins and department heads).
    Issue(IssueArgs),
    /// Install a certificate, revocation or bundle received from an admin.
    Install {
        /// The file ("-" for standard input).
        file: PathBuf,
    },
    /// Show what a request, certificate, revocation, invite or bundle says.
    Show {
        /// The file ("-" for standard input).
        file: PathBuf,
    },
    /// Check a certificate (exit 0 if valid, 3 with the reason if not).
    Verify {
        /// The file ("-" for standard input).
        file: PathBuf,
        /// Check as of this time (seconds since 1970) instead of now.
        #[arg(long, value_name = "UNIX_SECONDS")]
        at: Option<u64>,
    },
    /// List the org directory: certificates known to this node.
    List {
        /// Only this department and the ones below it.
        #[arg(long, value_name = "PATH")]
        dept: Option<String>,
        /// Only this role.
        #[arg(long)]
        role: Option<String>,
        /// Only this level.
        #[arg(long)]
        level: Option<u16>,
        /// Include revoked, expired and refused certificates.
        #[arg(long)]
        all: bool,
        /// List device certificates instead: each device and the member who certified it.
        #[arg(long)]
        devices: bool,
    },
    /// Revoke a certificate by serial (or id prefix); everything it issued falls with it.
    Revoke {
        /// The serial (16 hex digits) or a unique prefix of it or of the certificate id.
        serial: String,
        /// Why, for the audit trail.
        #[arg(long)]
        reason: String,
        /// Sign with the org root key instead of your member key.
        #[arg(long)]
        as_root: bool,
        /// Write the revocation to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The request file ("-" for standard input).
    pub request: PathBuf,
    /// admin, dept-head, member, guest or relay (taken from the invite if the request carries one).
    #[arg(long)]
    pub role: Option<String>,
    /// Department path, e.g. HQ/East/Sales.
    #[arg(long, value_name = "PATH", default_value = "")]
    pub dept: String,
    /// Position, for the directory.
    #[arg(long, default_value = "")]
    pub position: String,
    /// Level, for the directory.
    #[arg(long, default_value_t = 0)]
    pub level: u16,
    /// Email, for the directory.
    #[arg(long, default_value = "")]
    pub email: String,
    /// Name to certify [default: the name in the request].
    #[arg(long)]
    pub name: Option<String>,
    /// For guests: a resource they may read (repeatable).
    #[arg(long = "resource", value_name = "ID")]
    pub resources: Vec<String>,
    /// How long the certificate is valid: 365d, 12w, 1y...
    #[arg(long, default_value = "365d")]
    pub valid: String,
    /// Sign with the org root key (only admin certificates).
    #[arg(long)]
    pub as_root: bool,
    /// Write the certificate to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Make one one-time invite per person in a CSV staff list
    /// (columns: name, department, position, level, role, email).
    Import {
        /// The CSV file.
        csv: PathBuf,
        /// Directory to write the invites into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// How long the certificates will be valid.
        #[arg(long, default_value = "365d")]
        valid: String,
        /// How long the invites can be redeemed.
        #[arg(long, default_value = "30d")]
        invite_valid: String,
    },
    /// Staff changes an HR system pushed, waiting for an admin.
    Pending {
        /// Write the hires and transfers as a staff list for `staff import`.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Forget these changes (ids; all with --clear-all) once handled.
        #[arg(long, value_name = "ID", value_delimiter = ',')]
        clear: Vec<String>,
        /// Forget every waiting change.
        #[arg(long)]
        clear_all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Turn an invite into a request the issuing admin can sign without questions.
    Redeem {
        /// The invite file ("-" for standard input).
        file: PathBuf,
        /// Write the request to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Clap checks a command's definition only when that command is
    /// parsed: a clash in a rarely used subcommand would panic at its
    /// first use.
    #[test]
    fn every_command_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
