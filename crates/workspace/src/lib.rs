//! Outpost's collaboration model on automerge.
//!
//! Pure code: documents and file entries wrap an automerge document and
//! turn user actions into automerge changes (bytes); chat turns them into
//! message-log ops ([`chat::LogOp`]), one per envelope. The node seals both
//! into envelopes. Views are always rebuilt from the valid changes or
//! entries, so who may write at all is the validity rule's decision; what
//! this crate decides (who may edit or recall a chat message, for
//! instance) it decides as a pure function of the entries, the same way on
//! every node.
//!
//! - [`doc`]: text documents with rich text (blocks and marks), edits as
//!   JSON-friendly ops, Markdown and HTML, history, named versions.
//! - [`file`]: file library entries, one per file, with its versions.
//! - [`meta`]: folders, trash and permanent deletion, shared by both.
//! - [`model`]: opening either kind from the same changes.
//! - [`chat`] and [`search`]: channels and full-text search.
//! - [`tasks`]: project boards: columns, tasks and where each card sits.
//! - [`approval`]: approval templates, requests and the rule that decides
//!   them from signed decisions.
//! - [`record`]: signed record logs, the shape of the work modules:
//!   [`reminders`] (deadline reminders sent exactly once), [`announce`]
//!   (announcements, read and acknowledged) and [`meeting`] (meetings,
//!   answers, reminders and minutes).
//! - [`audit`]: the org's audit log, hash-chained per writing device, and
//!   the check that names every missing, altered or reordered entry.
#![deny(missing_docs)]

mod am;
pub mod announce;
pub mod approval;
pub mod audit;
pub mod chat;
pub mod doc;
pub mod file;
pub mod meeting;
pub mod meta;
pub mod model;
pub mod record;
pub mod reminders;
pub mod search;
pub mod tasks;

pub use doc::{Block, BlockKind, DiffLine, Edit, LineChange, MarkKind, Run, TextDoc};
pub use file::{FileDoc, FileVersion};
pub use meta::NamedVersion;
pub use model::{DocKind, Model, kind_of_changes};
pub use tasks::{Board, BoardView};
