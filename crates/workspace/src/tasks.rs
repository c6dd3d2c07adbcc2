//! A project's kanban board: columns, tasks and where each card sits, as
//! one automerge document.
//!
//! Layout of the automerge document:
//! - `ROOT.kind`: the string `"board"`.
//! - `ROOT.name`: the project's name (a string, last writer wins).
//! - `ROOT.columns`: a map from column id to `{name: string, status:
//!   "todo" | "in_progress" | "done", order: string}`; columns are shown by
//!   `order` (an order key, see below), then id.
//! - `ROOT.tasks`: a map from task id to `{title, description, priority:
//!   strings; deadline: int (seconds since the Unix epoch) or absent;
//!   assignees, labels, links: maps whose keys are the members (64 hex
//!   digits), labels and document ids, values `true`; checklist: a list of
//!   `{id, text, done}`; comments: a list of `{author, at, text}`;
//!   created_by: string, created_at: int; place: string}`.
//!
//! Both maps are made once, when the board is created, so replicas never
//! make them concurrently. Each task map is made by the replica that
//! creates the task, under a fresh random id.
//!
//! **Where a card sits** is one string scalar, `place = "<column id>
//! <order key>"`, written whole by every move. Two people who move the same
//! card while apart write two values of the same register; automerge keeps
//! both as a conflict and shows the same winner on every replica (the
//! operation with the greater id), so the card ends in one column at one
//! position everywhere, never half of one move and half of the other.
//! Cards in a column are ordered by order key, then by task id, so two
//! cards moved concurrently to the same spot (same key) still have one
//! order everywhere. Order keys are fractional indices: strings over
//! `0-9a-z` compared as bytes, never ending in `0`, so there is always a
//! key between two others ([`key_between`]).
//!
//! Status comes from the column a card is in; *overdue* is derived when
//! viewing, from the deadline and the time given, and never stored.
//!
//! Edits are [`Edit`]s, applied in batches by [`Board::apply`]: one
//! automerge change per batch, or nothing at all if any edit of the batch
//! is refused.

use crate::am;
use crate::doc::DocError;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, Value, transaction::Transactable};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Longest project, column, task title, label or checklist item, in bytes.
pub const TITLE_BYTES_MAX: usize = 256;
/// Longest task description, in bytes.
pub const DESCRIPTION_BYTES_MAX: usize = 16 * 1024;
/// Longest comment, in bytes.
pub const COMMENT_BYTES_MAX: usize = 8 * 1024;
/// Most columns on a board.
pub const COLUMNS_MAX: usize = 32;
/// Most tasks on a board.
pub const TASKS_MAX: usize = 10_000;
/// Most assignees, labels or links of one task.
pub const TAGS_MAX: usize = 64;
/// Most checklist items of one task.
pub const CHECKLIST_MAX: usize = 256;
/// Most comments on one task.
pub const COMMENTS_MAX: usize = 4096;
/// Most edits in one batch.
pub const EDITS_MAX: usize = 256;
/// Longest order key, in bytes.
pub const ORDER_KEY_BYTES_MAX: usize = 128;
/// Longest id (task, column, checklist item, document), in bytes.
pub const ID_BYTES_MAX: usize = 64;

/// The digits of order keys, in byte order.
const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// What went wrong with an edit of a board. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoardError {
    /// The automerge document is damaged or not a board.
    #[error(transparent)]
    Doc(#[from] DocError),
    /// Not a board.
    #[error("this entry is not a project board")]
    NotBoard,
    /// No task with that id.
    #[error("no task {0:?} on this board")]
    UnknownTask(String),
    /// No column with that id or name.
    #[error("no column {0:?} on this board: see the board's columns")]
    UnknownColumn(String),
    /// Several columns answer to that name.
    #[error("{0:?} names several columns: give the column's id")]
    AmbiguousColumn(String),
    /// No checklist item with that id or number.
    #[error("task {task:?} has no checklist item {item:?}")]
    UnknownItem {
        /// The task.
        task: String,
        /// The item asked for.
        item: String,
    },
    /// A text that is empty, too long or holds control characters.
    #[error("the {what} is not valid: {why}")]
    BadText {
        /// What the text is (a title, a comment...).
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// An id that is not valid or already used.
    #[error("the {what} id {id:?} is not valid: {why}")]
    BadId {
        /// What it names.
        what: &'static str,
        /// The id.
        id: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A member key that is not 64 hex digits.
    #[error("the assignee {0:?} is not a member key (64 hex digits)")]
    BadMember(String),
    /// Too many of something.
    #[error("too many {what}: the limit is {max}")]
    TooMany {
        /// What there are too many of.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A position past the end of a column.
    #[error("position {at} is past the end of the column, which has {len} cards")]
    BadPosition {
        /// The position asked for.
        at: usize,
        /// The cards in the column.
        len: usize,
    },
    /// No room for another order key between two neighbours.
    #[error("too many cards were placed at this spot of the column: move the card to the end of the column instead")]
    Crowded,
}

/// A column's status: what being in it means for a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not started.
    Todo,
    /// Being worked on.
    InProgress,
    /// Finished.
    Done,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Todo => "todo",
            Status::InProgress => "in_progress",
            Status::Done => "done",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        match s {
            "todo" => Some(Status::Todo),
            "in_progress" => Some(Status::InProgress),
            "done" => Some(Status::Done),
            _ => None,
        }
    }
}

/// How urgent a task is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Whenever there is time.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Before the normal ones.
    High,
    /// Drop everything else.
    Urgent,
}

impl Priority {
    fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// Reads `low`, `normal`, `high` or `urgent`.
    pub fn parse(s: &str) -> Option<Priority> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Some(Priority::Low),
            "normal" => Some(Priority::Normal),
            "high" => Some(Priority::High),
            "urgent" => Some(Priority::Urgent),
            _ => None,
        }
    }
}

/// One edit of a board. Ids of new things (`id`) are chosen by the caller,
/// at random, so that replicas never pick the same one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Edit {
    /// Renames the project.
    RenameProject {
        /// The new name.
        name: String,
    },
    /// Adds a column at the end.
    AddColumn {
        /// Its id.
        id: String,
        /// Its name.
        name: String,
        /// What being in it means.
        status: Status,
    },
    /// Renames a column (by id or name).
    RenameColumn {
        /// The column.
        column: String,
        /// The new name.
        name: String,
    },
    /// Creates a task, at the end of `column` (default: the first column).
    CreateTask {
        /// Its id.
        id: String,
        /// Its title.
        title: String,
        /// Its description.
        #[serde(default)]
        description: String,
        /// Member keys, 64 hex digits each.
        #[serde(default)]
        assignees: Vec<String>,
        /// Due time, seconds since the Unix epoch.
        #[serde(default)]
        deadline: Option<i64>,
        /// Priority.
        #[serde(default)]
        priority: Priority,
        /// Labels.
        #[serde(default)]
        labels: Vec<String>,
        /// The column (id or name).
        #[serde(default)]
        column: Option<String>,
        /// Who made it (a member key).
        #[serde(default)]
        created_by: String,
        /// When, in seconds since the Unix epoch.
        #[serde(default)]
        created_at: i64,
    },
    /// Changes the fields given; the lists given replace the old ones.
    Update {
        /// The task.
        task: String,
        /// A new title.
        #[serde(default)]
        title: Option<String>,
        /// A new description.
        #[serde(default)]
        description: Option<String>,
        /// New assignees (member keys).
        #[serde(default)]
        assignees: Option<Vec<String>>,
        /// A new deadline; `null` inside `Some` is not expressible in JSON,
        /// so clearing is `clear_deadline`.
        #[serde(default)]
        deadline: Option<i64>,
        /// Removes the deadline.
        #[serde(default)]
        clear_deadline: bool,
        /// A new priority.
        #[serde(default)]
        priority: Option<Priority>,
        /// New labels.
        #[serde(default)]
        labels: Option<Vec<String>>,
        /// New document links (document ids).
        #[serde(default)]
        links: Option<Vec<String>>,
    },
    /// Moves a card to `column`, at `position` among its other cards
    /// (0 = top; default: the end).
    Move {
        /// The task.
        task: String,
        /// The column (id or name).
        column: String,
        /// Where in the column.
        #[serde(default)]
        position: Option<usize>,
    },
    /// Adds a comment.
    AddComment {
        /// The task.
        task: String,
        /// Who wrote it.
        author: String,
        /// When, in seconds since the Unix epoch.
        at: i64,
        /// What it says.
        text: String,
    },
    /// Adds a checklist item.
    AddItem {
        /// The task.
        task: String,
        /// The item's id.
        id: String,
        /// What is to be done.
        text: String,
    },
    /// Ticks a checklist item, or unticks it.
    CheckItem {
        /// The task.
        task: String,
        /// The item: its id, or its number from 1.
        item: String,
        /// Done or not.
        #[serde(default = "yes")]
        done: bool,
    },
}

fn yes() -> bool {
    true
}

impl Edit {
    /// Gives every new thing without an id one from `fresh`.
    pub fn fill_ids(&mut self, mut fresh: impl FnMut() -> String) {
        match self {
            Edit::AddColumn { id, .. } | Edit::CreateTask { id, .. } | Edit::AddItem { id, .. } if id.is_empty() => {
                *id = fresh();
            }
            _ => {}
        }
    }
}

/// A column as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What being in it means.
    pub status: Status,
    /// Its cards, in order.
    pub cards: Vec<TaskView>,
}

/// A checklist item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Its id.
    pub id: String,
    /// What is to be done.
    pub text: String,
    /// Done?
    pub done: bool,
}

/// A comment on a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// Who wrote it (a member key, 64 hex digits).
    pub author: String,
    /// When, in seconds since the Unix epoch.
    pub at: i64,
    /// What it says.
    pub text: String,
}

/// A task as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: String,
    /// Member keys, sorted.
    pub assignees: Vec<String>,
    /// Due time, seconds since the Unix epoch.
    pub deadline: Option<i64>,
    /// Past its deadline and not done, at the time the view was made.
    pub overdue: bool,
    /// Priority.
    pub priority: Priority,
    /// Labels, sorted.
    pub labels: Vec<String>,
    /// Linked documents, sorted.
    pub links: Vec<String>,
    /// The checklist.
    pub checklist: Vec<Item>,
    /// The comments, oldest first.
    pub comments: Vec<Comment>,
    /// The column it is in.
    pub column: String,
    /// That column's status.
    pub status: Status,
    /// Its order key in the column.
    pub order: String,
    /// Who made it.
    pub created_by: String,
    /// When, in seconds since the Unix epoch.
    pub created_at: i64,
}

/// A whole board as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardView {
    /// The project's name.
    pub name: String,
    /// The columns in order, each with its cards.
    pub columns: Vec<ColumnView>,
}

impl BoardView {
    /// The task `id`.
    pub fn task(&self, id: &str) -> Option<&TaskView> {
        self.columns.iter().flat_map(|c| &c.cards).find(|t| t.id == id)
    }
}

/// A key strictly between `a` and `b` (`""` = before everything, `None` =
/// after everything), both valid keys with `a < b`. The result never ends
/// in the lowest digit, so there is always room below it too.
pub fn key_between(a: &str, b: Option<&str>) -> String {
    let (a, b) = (a.as_bytes(), b.map(str::as_bytes));
    let digit = |c: u8| DIGITS.iter().position(|d| *d == c).unwrap_or(0);
    let mut out: Vec<u8> = Vec::new();
    let (mut a, mut b) = (a, b);
    loop {
        if let Some(bb) = b {
            // Common prefix (a's missing digits read as the lowest).
            let mut n = 0;
            while n < bb.len() && a.get(n).copied().unwrap_or(DIGITS[0]) == bb[n] {
                n += 1;
            }
            if n > 0 {
                out.extend_from_slice(&bb[..n]);
                a = a.get(n..).unwrap_or(&[]);
                b = Some(&bb[n..]);
                continue;
            }
        }
        let da = a.first().map_or(0, |c| digit(*c));
        let db = b.and_then(|b| b.first()).map_or(DIGITS.len(), |c| digit(*c));
        if db > da + 1 {
            out.push(DIGITS[(da + db).div_ceil(2)]);
            break;
        }
        match b {
            Some(bb) if bb.len() > 1 => {
                out.push(bb[0]);
                break;
            }
            _ => {
                out.push(DIGITS[da]);
                a = a.get(1..).unwrap_or(&[]);
                b = None;
            }
        }
    }
    String::from_utf8(out).expect("order keys are ASCII")
}

/// A project board.
#[derive(Debug)]
pub struct Board {
    doc: AutoCommit,
}

/// Is this automerge document a board?
pub(crate) fn is_board(doc: &AutoCommit) -> bool {
    am::get_string(doc, &ROOT, "kind").as_deref() == Some("board")
}

fn check_text(what: &'static str, text: &str, max: usize, may_be_empty: bool) -> Result<(), BoardError> {
    let bad = |why: String| Err(BoardError::BadText { what, why });
    if text.trim().is_empty() && !may_be_empty {
        return bad("it is empty".to_owned());
    }
    if text.len() > max {
        return bad(format!("it is {} bytes; the limit is {max}", text.len()));
    }
    let multiline = max > TITLE_BYTES_MAX;
    if text
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
    {
        return bad("it contains a control character".to_owned());
    }
    Ok(())
}

fn check_id(what: &'static str, id: &str) -> Result<(), BoardError> {
    let bad = |why| {
        Err(BoardError::BadId {
            what,
            id: id.to_owned(),
            why,
        })
    };
    if id.is_empty() || id.len() > ID_BYTES_MAX {
        return bad("it must be 1 to 64 characters");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return bad("it may hold only letters, digits, '-' and '_'");
    }
    Ok(())
}

fn check_members(list: &[String]) -> Result<(), BoardError> {
    if list.len() > TAGS_MAX {
        return Err(BoardError::TooMany {
            what: "assignees",
            max: TAGS_MAX,
        });
    }
    for m in list {
        if m.len() != 64 || !m.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return Err(BoardError::BadMember(m.clone()));
        }
    }
    Ok(())
}

fn check_tags(what: &'static str, list: &[String]) -> Result<(), BoardError> {
    if list.len() > TAGS_MAX {
        return Err(BoardError::TooMany { what, max: TAGS_MAX });
    }
    list.iter()
        .try_for_each(|l| check_text(what, l, TITLE_BYTES_MAX, false))
}

fn internal(e: impl std::fmt::Display) -> BoardError {
    BoardError::Doc(am::internal(e))
}

fn map_at(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(obj, key).ok()?? {
        (Value::Object(ObjType::Map), id) => Some(id),
        _ => None,
    }
}

fn list_at(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(obj, key).ok()?? {
        (Value::Object(ObjType::List), id) => Some(id),
        _ => None,
    }
}

/// The keys of a set stored as a map of `true`s, sorted.
fn set_keys(doc: &AutoCommit, obj: &ObjId, key: &str) -> Vec<String> {
    map_at(doc, obj, key).map_or_else(Vec::new, |m| doc.keys(&m).collect())
}

/// Makes the set under `obj.key` hold exactly `items`.
fn put_set(doc: &mut AutoCommit, obj: &ObjId, key: &str, items: &[String]) -> Result<(), BoardError> {
    let set = match map_at(doc, obj, key) {
        Some(m) => m,
        None => doc.put_object(obj, key, ObjType::Map).map_err(internal)?,
    };
    let want: BTreeSet<&str> = items.iter().map(String::as_str).collect();
    let have: Vec<String> = doc.keys(&set).collect();
    for k in &have {
        if !want.contains(k.as_str()) {
            doc.delete(&set, k.as_str()).map_err(internal)?;
        }
    }
    for k in want {
        if !have.iter().any(|h| h == k) {
            doc.put(&set, k, true).map_err(internal)?;
        }
    }
    Ok(())
}

/// A card's place, `"<column> <order key>"`.
fn split_place(place: &str) -> Option<(&str, &str)> {
    place.split_once(' ')
}

/// The default columns of a new board: id, name, status.
const DEFAULT_COLUMNS: [(&str, &str, Status); 3] = [
    ("todo", "To do", Status::Todo),
    ("in_progress", "In progress", Status::InProgress),
    ("done", "Done", Status::Done),
];

/// A column as stored.
struct Col {
    id: String,
    name: String,
    status: Status,
}

impl Board {
    /// A new board for project `name`, with the columns "To do", "In
    /// progress" and "Done", written by `actor`. Returns the board and its
    /// first change.
    pub fn create(actor: &[u8], name: &str) -> Result<(Board, Vec<u8>), BoardError> {
        check_text("project name", name, TITLE_BYTES_MAX, false)?;
        let mut doc = am::new_doc(actor);
        doc.put(ROOT, "kind", "board").map_err(internal)?;
        doc.put(ROOT, "name", name.trim()).map_err(internal)?;
        let cols = doc.put_object(ROOT, "columns", ObjType::Map).map_err(internal)?;
        let mut order = String::new();
        for (id, name, status) in DEFAULT_COLUMNS {
            order = key_between(&order, None);
            let c = doc.put_object(&cols, id, ObjType::Map).map_err(internal)?;
            doc.put(&c, "name", name).map_err(internal)?;
            doc.put(&c, "status", status.as_str()).map_err(internal)?;
            doc.put(&c, "order", order.as_str()).map_err(internal)?;
        }
        doc.put_object(ROOT, "tasks", ObjType::Map).map_err(internal)?;
        let change = am::commit(&mut doc).expect("a new board has operations");
        Ok((Board { doc }, change))
    }

    /// Wraps an automerge document, if it is a board.
    pub(crate) fn from_automerge(doc: AutoCommit) -> Result<Board, BoardError> {
        if is_board(&doc) {
            Ok(Board { doc })
        } else {
            Err(BoardError::NotBoard)
        }
    }

    /// Rebuilds a board from its changes, as `actor` for later edits.
    pub fn from_changes(actor: &[u8], changes: impl IntoIterator<Item = Vec<u8>>) -> Result<Board, BoardError> {
        Board::from_automerge(am::from_changes(actor, changes)?)
    }

    /// Loads a board saved with [`Board::save`], as `actor`.
    pub fn load(actor: &[u8], bytes: &[u8]) -> Result<Board, BoardError> {
        Board::from_automerge(am::load_doc(actor, bytes)?)
    }

    /// Applies changes as they arrive; all of them or none.
    pub fn apply_changes(&mut self, changes: impl IntoIterator<Item = Vec<u8>>) -> Result<(), DocError> {
        am::apply_changes(&mut self.doc, changes)
    }

    /// The automerge binary of the whole board, the same bytes on every
    /// replica holding the same changes.
    pub fn save(&mut self) -> Vec<u8> {
        am::save(&mut self.doc)
    }

    /// The board's current heads, sorted.
    pub fn heads(&mut self) -> Vec<[u8; 32]> {
        am::heads(&mut self.doc)
    }

    /// The project's name.
    pub fn name(&self) -> String {
        am::get_string(&self.doc, &ROOT, "name").unwrap_or_default()
    }

    fn columns_map(&self) -> Result<ObjId, BoardError> {
        map_at(&self.doc, &ROOT, "columns").ok_or(BoardError::NotBoard)
    }

    fn tasks_map(&self) -> Result<ObjId, BoardError> {
        map_at(&self.doc, &ROOT, "tasks").ok_or(BoardError::NotBoard)
    }

    /// The columns in order, with their order keys.
    fn columns(&self) -> Vec<(String, Col)> {
        let Ok(cols) = self.columns_map() else {
            return Vec::new();
        };
        let mut out: Vec<(String, Col)> = self
            .doc
            .keys(&cols)
            .filter_map(|id| {
                let c = map_at(&self.doc, &cols, &id)?;
                let status = am::get_string(&self.doc, &c, "status").and_then(|s| Status::parse(&s))?;
                let order = am::get_string(&self.doc, &c, "order").unwrap_or_default();
                let name = am::get_string(&self.doc, &c, "name").unwrap_or_default();
                Some((order, Col { id, name, status }))
            })
            .collect();
        out.sort_by(|a, b| (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id)));
        out
    }

    /// The column named by `text`: its id, or its name (any case).
    fn find_column(&self, text: &str) -> Result<Col, BoardError> {
        let t = text.trim();
        let mut cols = self.columns();
        if let Some(i) = cols.iter().position(|(_, c)| c.id == t) {
            return Ok(cols.swap_remove(i).1);
        }
        let mut named: Vec<Col> = cols
            .into_iter()
            .map(|(_, c)| c)
            .filter(|c| c.name.eq_ignore_ascii_case(t))
            .collect();
        match named.len() {
            1 => Ok(named.remove(0)),
            0 => Err(BoardError::UnknownColumn(t.to_owned())),
            _ => Err(BoardError::AmbiguousColumn(t.to_owned())),
        }
    }

    /// The first column of `status`.
    pub fn first_column_of(&self, status: Status) -> Option<String> {
        self.columns()
            .into_iter()
            .find(|(_, c)| c.status == status)
            .map(|(_, c)| c.id)
    }

    fn task_obj(&self, id: &str) -> Result<ObjId, BoardError> {
        map_at(&self.doc, &self.tasks_map()?, id).ok_or_else(|| BoardError::UnknownTask(id.to_owned()))
    }

    /// Every task id on the board, sorted.
    pub fn task_ids(&self) -> Vec<String> {
        self.tasks_map()
            .map(|t| self.doc.keys(&t).collect())
            .unwrap_or_default()
    }

    /// The place of every card, by column: (order key, task id), sorted.
    fn places(&self) -> Vec<(String, String, String)> {
        let Ok(tasks) = self.tasks_map() else {
            return Vec::new();
        };
        let first = self.columns().into_iter().next().map(|(_, c)| c.id).unwrap_or_default();
        let known: BTreeSet<String> = self.columns().into_iter().map(|(_, c)| c.id).collect();
        let mut out: Vec<(String, String, String)> = self
            .doc
            .keys(&tasks)
            .filter_map(|id| {
                let t = map_at(&self.doc, &tasks, &id)?;
                let place = am::get_string(&self.doc, &t, "place").unwrap_or_default();
                let (col, order) = split_place(&place).unwrap_or(("", ""));
                // A card in a column this replica does not know (damaged or
                // foreign data) shows in the first column.
                let col = if known.contains(col) {
                    col.to_owned()
                } else {
                    first.clone()
                };
                Some((col, order.to_owned(), id))
            })
            .collect();
        out.sort();
        out
    }

    /// The order keys of the cards of `column` other than `task`, in order.
    fn column_keys(&self, column: &str, task: &str) -> Vec<String> {
        self.places()
            .into_iter()
            .filter(|(c, _, t)| c == column && t != task)
            .map(|(_, o, _)| o)
            .collect()
    }

    /// An order key at `position` of `column` (default: the end), for
    /// `task`.
    fn key_at(&self, column: &str, task: &str, position: Option<usize>) -> Result<String, BoardError> {
        let keys = self.column_keys(column, task);
        let at = position.unwrap_or(keys.len());
        if at > keys.len() {
            return Err(BoardError::BadPosition { at, len: keys.len() });
        }
        let before = if at == 0 { "" } else { keys[at - 1].as_str() };
        let mut after = keys.get(at).map(String::as_str);
        // Equal keys (concurrent moves to one spot): skip to the next
        // greater one, the tie between equal keys being the task id.
        let mut i = at;
        while after.is_some_and(|k| k <= before) {
            i += 1;
            after = keys.get(i).map(String::as_str);
        }
        let key = key_between(before, after);
        if key.len() > ORDER_KEY_BYTES_MAX {
            return Err(BoardError::Crowded);
        }
        Ok(key)
    }

    /// Applies `edits` as one change, written by this replica's actor.
    /// Returns the change, or `None` if nothing changed; on any refusal
    /// nothing is changed.
    pub fn apply(&mut self, edits: &[Edit]) -> Result<Option<Vec<u8>>, BoardError> {
        if edits.len() > EDITS_MAX {
            return Err(BoardError::TooMany {
                what: "edits in one batch",
                max: EDITS_MAX,
            });
        }
        let result = edits.iter().try_for_each(|e| self.apply_one(e));
        match result {
            Ok(()) => Ok(am::commit(&mut self.doc)),
            Err(e) => {
                self.doc.rollback();
                Err(e)
            }
        }
    }

    fn apply_one(&mut self, edit: &Edit) -> Result<(), BoardError> {
        match edit {
            Edit::RenameProject { name } => {
                check_text("project name", name, TITLE_BYTES_MAX, false)?;
                self.doc.put(ROOT, "name", name.trim()).map_err(internal)
            }
            Edit::AddColumn { id, name, status } => {
                check_id("column", id)?;
                check_text("column name", name, TITLE_BYTES_MAX, false)?;
                let cols = self.columns();
                if cols.len() >= COLUMNS_MAX {
                    return Err(BoardError::TooMany {
                        what: "columns",
                        max: COLUMNS_MAX,
                    });
                }
                if cols.iter().any(|(_, c)| c.id == *id) {
                    return Err(BoardError::BadId {
                        what: "column",
                        id: id.clone(),
                        why: "it is taken",
                    });
                }
                let order = key_between(cols.last().map_or("", |(o, _)| o.as_str()), None);
                let map = self.columns_map()?;
                let c = self.doc.put_object(&map, id.as_str(), ObjType::Map).map_err(internal)?;
                self.doc.put(&c, "name", name.trim()).map_err(internal)?;
                self.doc.put(&c, "status", status.as_str()).map_err(internal)?;
                self.doc.put(&c, "order", order).map_err(internal)
            }
            Edit::RenameColumn { column, name } => {
                check_text("column name", name, TITLE_BYTES_MAX, false)?;
                let col = self.find_column(column)?;
                let map = self.columns_map()?;
                let c = map_at(&self.doc, &map, &col.id).ok_or(BoardError::UnknownColumn(col.id))?;
                self.doc.put(&c, "name", name.trim()).map_err(internal)
            }
            Edit::CreateTask {
                id,
                title,
                description,
                assignees,
                deadline,
                priority,
                labels,
                column,
                created_by,
                created_at,
            } => {
                check_id("task", id)?;
                check_text("task author", created_by, TITLE_BYTES_MAX, true)?;
                check_text("title", title, TITLE_BYTES_MAX, false)?;
                check_text("description", description, DESCRIPTION_BYTES_MAX, true)?;
                check_members(assignees)?;
                check_tags("labels", labels)?;
                let tasks = self.tasks_map()?;
                if self.doc.length(&tasks) >= TASKS_MAX {
                    return Err(BoardError::TooMany {
                        what: "tasks",
                        max: TASKS_MAX,
                    });
                }
                if map_at(&self.doc, &tasks, id).is_some() {
                    return Err(BoardError::BadId {
                        what: "task",
                        id: id.clone(),
                        why: "it is taken",
                    });
                }
                let col = match column {
                    Some(c) => self.find_column(c)?.id,
                    None => self
                        .columns()
                        .into_iter()
                        .next()
                        .map(|(_, c)| c.id)
                        .ok_or(BoardError::UnknownColumn(String::new()))?,
                };
                let order = self.key_at(&col, id, None)?;
                let t = self
                    .doc
                    .put_object(&tasks, id.as_str(), ObjType::Map)
                    .map_err(internal)?;
                self.doc.put(&t, "title", title.trim()).map_err(internal)?;
                self.doc
                    .put(&t, "description", description.as_str())
                    .map_err(internal)?;
                self.doc.put(&t, "priority", priority.as_str()).map_err(internal)?;
                self.doc.put(&t, "created_by", created_by.as_str()).map_err(internal)?;
                self.doc.put(&t, "created_at", *created_at).map_err(internal)?;
                if let Some(d) = deadline {
                    self.doc.put(&t, "deadline", *d).map_err(internal)?;
                }
                put_set(&mut self.doc, &t, "assignees", assignees)?;
                put_set(&mut self.doc, &t, "labels", labels)?;
                put_set(&mut self.doc, &t, "links", &[])?;
                self.doc.put_object(&t, "checklist", ObjType::List).map_err(internal)?;
                self.doc.put_object(&t, "comments", ObjType::List).map_err(internal)?;
                self.doc.put(&t, "place", format!("{col} {order}")).map_err(internal)
            }
            Edit::Update {
                task,
                title,
                description,
                assignees,
                deadline,
                clear_deadline,
                priority,
                labels,
                links,
            } => {
                let t = self.task_obj(task)?;
                if let Some(title) = title {
                    check_text("title", title, TITLE_BYTES_MAX, false)?;
                }
                if let Some(d) = description {
                    check_text("description", d, DESCRIPTION_BYTES_MAX, true)?;
                }
                if let Some(a) = assignees {
                    check_members(a)?;
                }
                if let Some(l) = labels {
                    check_tags("labels", l)?;
                }
                if let Some(l) = links {
                    if l.len() > TAGS_MAX {
                        return Err(BoardError::TooMany {
                            what: "links",
                            max: TAGS_MAX,
                        });
                    }
                    l.iter().try_for_each(|d| check_id("document", d))?;
                }
                if let Some(title) = title {
                    self.doc.put(&t, "title", title.trim()).map_err(internal)?;
                }
                if let Some(d) = description {
                    self.doc.put(&t, "description", d.as_str()).map_err(internal)?;
                }
                if let Some(a) = assignees {
                    put_set(&mut self.doc, &t, "assignees", a)?;
                }
                if *clear_deadline {
                    if am::get_i64(&self.doc, &t, "deadline").is_some() {
                        self.doc.delete(&t, "deadline").map_err(internal)?;
                    }
                } else if let Some(d) = deadline {
                    self.doc.put(&t, "deadline", *d).map_err(internal)?;
                }
                if let Some(p) = priority {
                    self.doc.put(&t, "priority", p.as_str()).map_err(internal)?;
                }
                if let Some(l) = labels {
                    put_set(&mut self.doc, &t, "labels", l)?;
                }
                if let Some(l) = links {
                    put_set(&mut self.doc, &t, "links", l)?;
                }
                Ok(())
            }
            Edit::Move { task, column, position } => {
                let t = self.task_obj(task)?;
                let col = self.find_column(column)?;
                let order = self.key_at(&col.id, task, *position)?;
                // One value for column and position together: concurrent
                // moves conflict as a whole (see the module documentation).
                self.doc
                    .put(&t, "place", format!("{} {order}", col.id))
                    .map_err(internal)
            }
            Edit::AddComment { task, author, at, text } => {
                let t = self.task_obj(task)?;
                check_text("comment", text, COMMENT_BYTES_MAX, false)?;
                check_text("comment author", author, TITLE_BYTES_MAX, false)?;
                let list = match list_at(&self.doc, &t, "comments") {
                    Some(l) => l,
                    None => self.doc.put_object(&t, "comments", ObjType::List).map_err(internal)?,
                };
                let n = self.doc.length(&list);
                if n >= COMMENTS_MAX {
                    return Err(BoardError::TooMany {
                        what: "comments",
                        max: COMMENTS_MAX,
                    });
                }
                let c = self.doc.insert_object(&list, n, ObjType::Map).map_err(internal)?;
                self.doc.put(&c, "author", author.as_str()).map_err(internal)?;
                self.doc.put(&c, "at", *at).map_err(internal)?;
                self.doc.put(&c, "text", text.as_str()).map_err(internal)
            }
            Edit::AddItem { task, id, text } => {
                let t = self.task_obj(task)?;
                check_id("checklist item", id)?;
                check_text("checklist item", text, TITLE_BYTES_MAX, false)?;
                let list = match list_at(&self.doc, &t, "checklist") {
                    Some(l) => l,
                    None => self.doc.put_object(&t, "checklist", ObjType::List).map_err(internal)?,
                };
                let n = self.doc.length(&list);
                if n >= CHECKLIST_MAX {
                    return Err(BoardError::TooMany {
                        what: "checklist items",
                        max: CHECKLIST_MAX,
                    });
                }
                if self.checklist(&t).iter().any(|i| i.id == *id) {
                    return Err(BoardError::BadId {
                        what: "checklist item",
                        id: id.clone(),
                        why: "it is taken",
                    });
                }
                let c = self.doc.insert_object(&list, n, ObjType::Map).map_err(internal)?;
                self.doc.put(&c, "id", id.as_str()).map_err(internal)?;
                self.doc.put(&c, "text", text.trim()).map_err(internal)?;
                self.doc.put(&c, "done", false).map_err(internal)
            }
            Edit::CheckItem { task, item, done } => {
                let t = self.task_obj(task)?;
                let unknown = || BoardError::UnknownItem {
                    task: task.clone(),
                    item: item.clone(),
                };
                let list = list_at(&self.doc, &t, "checklist").ok_or_else(unknown)?;
                let objs: Vec<ObjId> = self
                    .doc
                    .list_range(&list, ..)
                    .filter(|i| matches!(i.value, automerge::ValueRef::Object(ObjType::Map)))
                    .map(|i| i.id())
                    .collect();
                let by_id = objs
                    .iter()
                    .find(|o| am::get_string(&self.doc, o, "id").as_deref() == Some(item.as_str()));
                let by_number = item
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|n| objs.get(n));
                let obj = by_id.or(by_number).ok_or_else(unknown)?.clone();
                self.doc.put(&obj, "done", *done).map_err(internal)
            }
        }
    }

    fn checklist(&self, t: &ObjId) -> Vec<Item> {
        let Some(list) = list_at(&self.doc, t, "checklist") else {
            return Vec::new();
        };
        self.doc
            .list_range(&list, ..)
            .filter_map(|i| {
                let o = i.id();
                Some(Item {
                    id: am::get_string(&self.doc, &o, "id")?,
                    text: am::get_string(&self.doc, &o, "text").unwrap_or_default(),
                    done: am::get_bool(&self.doc, &o, "done").unwrap_or(false),
                })
            })
            .collect()
    }

    fn comments(&self, t: &ObjId) -> Vec<Comment> {
        let Some(list) = list_at(&self.doc, t, "comments") else {
            return Vec::new();
        };
        self.doc
            .list_range(&list, ..)
            .filter_map(|i| {
                let o = i.id();
                Some(Comment {
                    author: am::get_string(&self.doc, &o, "author")?,
                    at: am::get_i64(&self.doc, &o, "at").unwrap_or(0),
                    text: am::get_string(&self.doc, &o, "text").unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The board as seen at `now` (seconds since the Unix epoch), which
    /// decides which tasks are overdue.
    pub fn view(&self, now: i64) -> BoardView {
        let mut columns: Vec<ColumnView> = self
            .columns()
            .into_iter()
            .map(|(_, c)| ColumnView {
                id: c.id,
                name: c.name,
                status: c.status,
                cards: Vec::new(),
            })
            .collect();
        if let Ok(tasks) = self.tasks_map() {
            for (col, order, id) in self.places() {
                let Some(t) = map_at(&self.doc, &tasks, &id) else {
                    continue;
                };
                let Some(column) = columns.iter_mut().find(|c| c.id == col) else {
                    continue;
                };
                let deadline = am::get_i64(&self.doc, &t, "deadline");
                let d = &self.doc;
                column.cards.push(TaskView {
                    title: am::get_string(d, &t, "title").unwrap_or_default(),
                    description: am::get_string(d, &t, "description").unwrap_or_default(),
                    assignees: set_keys(d, &t, "assignees"),
                    deadline,
                    overdue: column.status != Status::Done && deadline.is_some_and(|dl| dl < now),
                    priority: am::get_string(d, &t, "priority")
                        .and_then(|p| Priority::parse(&p))
                        .unwrap_or_default(),
                    labels: set_keys(d, &t, "labels"),
                    links: set_keys(d, &t, "links"),
                    checklist: self.checklist(&t),
                    comments: self.comments(&t),
                    column: column.id.clone(),
                    status: column.status,
                    order,
                    created_by: am::get_string(d, &t, "created_by").unwrap_or_default(),
                    created_at: am::get_i64(d, &t, "created_at").unwrap_or(0),
                    id,
                });
            }
        }
        BoardView {
            name: self.name(),
            columns,
        }
    }
}

#[cfg(test)]
mod tests;
