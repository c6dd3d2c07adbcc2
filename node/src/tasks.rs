//! Projects and their task boards on this node.
//!
//! A project is a space of its own (a scope: its readers and writers are
//! the project's members, by default the creator's department) holding one
//! board document ([`Board`], `ROOT.kind = "board"`). Every edit of the
//! board is an automerge change sealed into an envelope and checked like
//! any library change ([`Local::change_entry`]), so who may change a
//! project is the validity rule's decision, the same on every node.
//!
//! Every action is one [`TaskRequest`], answered as JSON by [`handle`]: the
//! CLI calls it directly when no node runs and through `POST /api/tasks`
//! when one does.

use crate::home::Passphrase;
use crate::library::{NoKey, principals_text};
use crate::local::Local;
use anyhow::{Context, Result, bail};
use outpost_identity::scope::Principal;
use outpost_identity::{OpId, Timestamp};
use outpost_seal::envelope::{DocId, EnvId};
use outpost_seal::replica::DocKey;
use outpost_workspace::tasks::{Board, Edit, Priority, Status};
use outpost_workspace::{DocKind, Model};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Fewest hex digits that name a project or a task.
const PREFIX_MIN: usize = 4;

/// One action on projects and tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TaskRequest {
    /// Every project this member can read.
    ListProjects,
    /// Creates a project: a space of its own with an empty board.
    CreateProject {
        /// Its name.
        name: String,
        /// Who reads and writes it: `dept:PATH`, `member:KEY`, `role:ROLE`
        /// or `everyone`; default: the creator's department. The creator
        /// always writes.
        #[serde(default)]
        members: Vec<String>,
    },
    /// A project's board: columns with their cards.
    Board {
        /// The project: its name or id (or a unique prefix).
        project: String,
    },
    /// One task.
    Show {
        /// The task id (or a unique prefix).
        task: String,
    },
    /// Adds a task to a project.
    Add {
        /// The project.
        project: String,
        /// The title.
        title: String,
        /// The description.
        #[serde(default)]
        description: String,
        /// Assignees: names, keys or key prefixes.
        #[serde(default)]
        assignees: Vec<String>,
        /// Due: `2026-12-01T10:00` (UTC), `2026-12-01`, or seconds since
        /// the Unix epoch.
        #[serde(default)]
        due: Option<String>,
        /// Priority: low, normal, high or urgent.
        #[serde(default)]
        priority: Priority,
        /// Labels.
        #[serde(default)]
        labels: Vec<String>,
        /// The column (name or id); default: the first.
        #[serde(default)]
        column: Option<String>,
    },
    /// Changes the fields given of a task; lists replace the old ones.
    Update {
        /// The task.
        task: String,
        /// A new title.
        #[serde(default)]
        title: Option<String>,
        /// A new description.
        #[serde(default)]
        description: Option<String>,
        /// New assignees.
        #[serde(default)]
        assignees: Option<Vec<String>>,
        /// A new due time (as for `add`).
        #[serde(default)]
        due: Option<String>,
        /// Removes the due time.
        #[serde(default)]
        clear_due: bool,
        /// A new priority.
        #[serde(default)]
        priority: Option<Priority>,
        /// New labels.
        #[serde(default)]
        labels: Option<Vec<String>>,
        /// New linked documents (ids).
        #[serde(default)]
        links: Option<Vec<String>>,
    },
    /// Moves a task's card to a column.
    Move {
        /// The task.
        task: String,
        /// The column: its name or id.
        column: String,
        /// Its place in the column, 0 for the top; default: the end.
        #[serde(default)]
        position: Option<usize>,
    },
    /// Moves a task's card to the first column of status done.
    Done {
        /// The task.
        task: String,
    },
    /// Comments on a task.
    Comment {
        /// The task.
        task: String,
        /// The comment.
        text: String,
    },
    /// Adds a checklist item to a task.
    AddItem {
        /// The task.
        task: String,
        /// What is to be done.
        text: String,
    },
    /// Ticks (or unticks) a checklist item.
    Check {
        /// The task.
        task: String,
        /// The item: its number from 1, or its id.
        item: String,
        /// Done or not.
        #[serde(default = "yes")]
        done: bool,
    },
    /// Adds a column at the end of a project's board.
    AddColumn {
        /// The project.
        project: String,
        /// The column's name.
        name: String,
        /// What being in it means: todo, in_progress or done.
        status: Status,
    },
    /// Renames a column.
    RenameColumn {
        /// The project.
        project: String,
        /// The column: its name or id.
        column: String,
        /// The new name.
        name: String,
    },
    /// Runs the reminder scheduler as if the clock said `now` (default:
    /// the real time): sends every deadline reminder due for this member
    /// and answers them. The node runs it by itself every 15 s; this
    /// action is for catching up at once, and for tests in virtual time.
    Remind {
        /// The time: as for `due` in `add`.
        #[serde(default)]
        now: Option<String>,
    },
    /// The deadline reminders sent to this member, newest first.
    Reminders,
    /// Any board edits, applied as one change (ids left empty are made
    /// up; authors and times of new tasks and comments are this member
    /// and now).
    Edit {
        /// The project.
        project: String,
        /// The edits (see `outpost_workspace::tasks::Edit`).
        edits: Vec<Edit>,
    },
}

fn yes() -> bool {
    true
}

impl TaskRequest {
    /// Does the request write (and so need a durable commit before the answer)?
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            TaskRequest::ListProjects | TaskRequest::Board { .. } | TaskRequest::Show { .. } | TaskRequest::Reminders
        )
    }
}

/// A fresh random id for a task, column or checklist item.
pub(crate) fn fresh_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// Reads a due time: `2026-12-01T10:00[:00][Z]` or `2026-12-01 10:00`
/// (UTC), `2026-12-01` (midnight UTC), or seconds since the Unix epoch.
pub fn parse_due(text: &str) -> Result<i64> {
    let t = text.trim();
    let bad = || {
        anyhow::anyhow!("cannot read the date {t:?}: write 2026-12-01T10:00 (UTC), 2026-12-01, or seconds since 1970")
    };
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().map_err(|_| bad());
    }
    let t = t.strip_suffix('Z').unwrap_or(t);
    let (date, time) = match t.split_once(['T', ' ']) {
        Some((d, tm)) => (d, Some(tm)),
        None => (t, None),
    };
    let num = |s: &str, lo: i64, hi: i64| -> Result<i64> {
        let n: i64 = s
            .parse()
            .ok()
            .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(bad)?;
        if (lo..=hi).contains(&n) { Ok(n) } else { Err(bad()) }
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else { return Err(bad()) };
    let (y, m) = (num(y, 1970, 9999)?, num(m, 1, 12)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let d = num(d, 1, month_days[(m - 1) as usize])?;
    let mut secs = outpost_identity::time::days_from_civil(y, m as u32, d as u32) * 86_400;
    if let Some(tm) = time {
        let parts: Vec<&str> = tm.split(':').collect();
        let (h, mi, s) = match parts.as_slice() {
            [h, mi] => (num(h, 0, 23)?, num(mi, 0, 59)?, 0),
            [h, mi, s] => (num(h, 0, 23)?, num(mi, 0, 59)?, num(s, 0, 59)?),
            _ => return Err(bad()),
        };
        secs += h * 3600 + mi * 60 + s;
    }
    Ok(secs)
}

/// A board found by [`Local::find_project`] or [`Local::find_task`].
#[derive(Debug, Clone, Copy)]
pub struct Found {
    /// The board document.
    pub key: DocKey,
}

impl Local {
    /// Every board this member can read: its key and name.
    pub(crate) fn boards(&self, pass: &Passphrase) -> Result<Vec<(DocKey, String)>> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let keys: Vec<DocKey> = replica.docs().copied().collect();
        let mut out = Vec::new();
        for key in keys {
            // Only boards are built: building every document a large
            // node holds took seconds, under the node's lock, at every
            // reminder round.
            if self.entry_kind(&replica, &ring, &key) != Some(DocKind::Board) {
                continue;
            }
            let Some(live) = self.live_doc(&replica, &ring, &key)? else {
                continue;
            };
            if let Model::Board(b) = &live.model {
                out.push((key, b.name()));
            }
        }
        out.sort_by(|a, b| (&a.1, a.0.1.to_hex()).cmp(&(&b.1, b.0.1.to_hex())));
        Ok(out)
    }

    /// Creates a project: a space readable and writable by `members`
    /// (default: this member's department; the creator always writes)
    /// holding a new board.
    pub fn create_project(&mut self, name: &str, members: Vec<Principal>, pass: &Passphrase) -> Result<DocKey> {
        let now = crate::now();
        let members = if members.is_empty() {
            let (_, mine) = self
                .require_org()?
                .role_of(&self.member, now)
                .context("you hold no valid certificate")?;
            vec![Principal::Dept(mine.dept.clone())]
        } else {
            members
        };
        let doc = DocId::generate(&mut rand::rng());
        // Checked before the space is made, so a bad name leaves nothing.
        let (_, change) = Board::create(&doc.0, name)?;
        let scope = self.create_space(name.trim(), members.clone(), members, pass)?;
        let key = (scope, doc);
        self.write_change(key, change, pass, now)?;
        Ok(key)
    }

    /// Finds a project by name (any case) or by a prefix of its id.
    pub fn find_project(&self, text: &str, pass: &Passphrase) -> Result<Found> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        let boards = self.boards(pass)?;
        let mut found: Vec<DocKey> = boards
            .iter()
            .filter(|(_, name)| name.eq_ignore_ascii_case(t))
            .map(|(k, _)| *k)
            .collect();
        if found.is_empty() && lower.len() >= PREFIX_MIN {
            found = boards
                .iter()
                .filter(|(k, _)| k.1.to_hex().starts_with(&lower))
                .map(|(k, _)| *k)
                .collect();
        }
        match found.as_slice() {
            [one] => Ok(Found { key: *one }),
            [] => bail!("no project {t:?} that you can read: see `outpost project list`"),
            many => bail!("{t:?} names {} projects: give the project's id", many.len()),
        }
    }

    /// Finds a task by a prefix of its id, on every board this member can
    /// read.
    pub fn find_task(&self, text: &str, pass: &Passphrase) -> Result<(Found, String)> {
        let t = text.trim().to_ascii_lowercase();
        if t.len() < PREFIX_MIN {
            bail!("no task {t:?}: give at least {PREFIX_MIN} characters of the task's id");
        }
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let mut found = Vec::new();
        for (key, _) in self.boards(pass)? {
            let replica = self.replica()?;
            let Some(live) = self.live_doc(&replica, &ring, &key)? else {
                continue;
            };
            if let Model::Board(b) = &live.model {
                for id in b.task_ids() {
                    if id.starts_with(&t) {
                        found.push((Found { key }, id));
                    }
                }
            }
        }
        if let Some(i) = found.iter().position(|(_, id)| *id == t) {
            return Ok(found.swap_remove(i));
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => bail!("no task {t:?} on the boards you can read: see `outpost board show PROJECT`"),
            n => bail!("{t:?} names {n} tasks: give more of the task's id"),
        }
    }

    /// The board of project `found` as JSON: the project, its space and
    /// permissions, the board as seen now, and the names of the members
    /// it mentions.
    pub fn project_board(&self, found: Found, pass: &Passphrase) -> Result<Value> {
        let key = found.key;
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let state = replica.auth();
        let now = crate::now();
        let mine = state.role_of(&self.member, now).map(|(_, c)| c.clone());
        let def = state.scope(&key.0);
        let live = self.live_doc(&replica, &ring, &key)?.ok_or(NoKey)?;
        let Model::Board(b) = &live.model else {
            bail!("no project {}: that entry is not a board", key.1.to_hex());
        };
        let view = b.view(i64::try_from(now.0).unwrap_or(i64::MAX));
        let names: BTreeMap<String, String> = state
            .role_certs()
            .map(|(_, c)| (c.subject.to_string(), c.name.clone()))
            .filter(|(k, _)| {
                view.columns
                    .iter()
                    .flat_map(|c| &c.cards)
                    .any(|t| t.assignees.contains(k) || t.created_by == *k || t.comments.iter().any(|c| c.author == *k))
            })
            .collect();
        Ok(json!({
            "project": key.1.to_hex(),
            "name": view.name,
            "space": {
                "id": key.0.to_hex(),
                "name": def.map(|d| d.name.clone()),
                "readers": def.map(|d| principals_text(&d.readers)),
                "writers": def.map(|d| principals_text(&d.writers)),
            },
            "can_write": matches!((def, &mine), (Some(d), Some(c)) if d.allows_write(c)),
            "now": now.0,
            "board": view,
            "names": names,
        }))
    }

    /// Every project this member can read, by name, with task counts.
    pub fn projects(&self, pass: &Passphrase) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for (key, _) in self.boards(pass)? {
            let b = self.project_board(Found { key }, pass)?;
            let cards: Vec<&Value> = b["board"]["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["cards"].as_array().into_iter().flatten())
                .collect();
            out.push(json!({
                "project": b["project"],
                "name": b["name"],
                "space": b["space"],
                "can_write": b["can_write"],
                "tasks": cards.len(),
                "open": cards.iter().filter(|c| c["status"] != "done").count(),
                "overdue": cards.iter().filter(|c| c["overdue"] == true).count(),
            }));
        }
        Ok(out)
    }

    /// Applies `edits` to project `found`'s board as one change, checked
    /// as any peer would check it. New ids are made up, and new tasks and
    /// comments are this member's, now.
    pub fn edit_board(&mut self, found: Found, mut edits: Vec<Edit>, pass: &Passphrase) -> Result<Option<EnvId>> {
        let now = crate::now();
        let me = self.member.to_string();
        let at = i64::try_from(now.0).unwrap_or(i64::MAX);
        for e in &mut edits {
            e.fill_ids(fresh_id);
            match e {
                Edit::CreateTask {
                    created_by, created_at, ..
                } => {
                    *created_by = me.clone();
                    *created_at = at;
                }
                Edit::AddComment { author, at: when, .. } => {
                    *author = me.clone();
                    *when = at;
                }
                _ => {}
            }
        }
        self.check_may_write(found, now)?;
        let (_, env, ()) = self.change_entry(&found.key.1.to_hex(), pass, |live, _| {
            let Model::Board(b) = &mut live.model else {
                bail!("this entry is not a project board");
            };
            Ok((b.apply(&edits)?, ()))
        })?;
        Ok(env)
    }

    /// Refuses early, with a clear message, a change the validity rule
    /// would refuse for lack of write permission.
    fn check_may_write(&self, found: Found, now: Timestamp) -> Result<()> {
        let state = self.require_org()?;
        let cert = state
            .role_of(&self.member, now)
            .context("you hold no valid certificate")?
            .1;
        let scope: OpId = found.key.0;
        match state.scope(&scope) {
            Some(def) if def.allows_write(cert) => Ok(()),
            _ => bail!("you may read this project but not change it: ask its owner to add you to its members"),
        }
    }
}

/// Member keys of `who` (names, keys or key prefixes).
fn member_keys(local: &Local, who: &[String], now: Timestamp) -> Result<Vec<String>> {
    let state = local.require_org()?;
    who.iter()
        .map(|w| Ok(crate::chat::find_member(state, w, now)?.to_string()))
        .collect()
}

/// The JSON of one task, with its project.
fn task_json(local: &Local, found: Found, task: &str, pass: &Passphrase) -> Result<Value> {
    let board = local.project_board(found, pass)?;
    let card = board["board"]["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["cards"].as_array().into_iter().flatten())
        .find(|c| c["id"] == task)
        .cloned()
        .with_context(|| format!("no task {task:?} on this board"))?;
    let column = board["board"]["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["id"] == card["column"])
        .map(|c| c["name"].clone());
    Ok(json!({
        "project": board["project"],
        "project_name": board["name"],
        "column_name": column,
        "task": card,
        "names": board["names"],
        "can_write": board["can_write"],
        "now": board["now"],
    }))
}

fn written(found: Found, task: Option<&str>, env: Option<EnvId>) -> Value {
    let mut v = crate::library::changed(env);
    v["project"] = json!(found.key.1.to_hex());
    if let Some(t) = task {
        v["task"] = json!(t);
    }
    v
}

/// Carries out `req` as this node's member and answers in JSON.
pub fn handle(local: &mut Local, pass: &Passphrase, req: TaskRequest) -> Result<Value> {
    let now = crate::now();
    match req {
        TaskRequest::ListProjects => Ok(json!({"projects": local.projects(pass)?})),
        TaskRequest::Remind { now: at } => {
            let at = match at.as_deref() {
                Some(t) => Timestamp(u64::try_from(parse_due(t)?).context("the time is before 1970")?),
                None => now,
            };
            Ok(json!({"now": at.0, "sent": crate::reminders::tick(local, pass, at)?}))
        }
        TaskRequest::Reminders => Ok(json!({"reminders": local.my_reminders(pass)?})),
        TaskRequest::CreateProject { name, members } => {
            let members = crate::library::parse_principals(&members)?;
            let key = local.create_project(&name, members, pass)?;
            let mut v = local.project_board(Found { key }, pass)?;
            v["created"] = json!(true);
            Ok(v)
        }
        TaskRequest::Board { project } => {
            let found = local.find_project(&project, pass)?;
            local.project_board(found, pass)
        }
        TaskRequest::Show { task } => {
            let (found, id) = local.find_task(&task, pass)?;
            task_json(local, found, &id, pass)
        }
        TaskRequest::Add {
            project,
            title,
            description,
            assignees,
            due,
            priority,
            labels,
            column,
        } => {
            let found = local.find_project(&project, pass)?;
            let id = fresh_id();
            let edit = Edit::CreateTask {
                id: id.clone(),
                title,
                description,
                assignees: member_keys(local, &assignees, now)?,
                deadline: due.as_deref().map(parse_due).transpose()?,
                priority,
                labels,
                column,
                created_by: String::new(),
                created_at: 0,
            };
            let env = local.edit_board(found, vec![edit], pass)?;
            Ok(written(found, Some(&id), env))
        }
        TaskRequest::Update {
            task,
            title,
            description,
            assignees,
            due,
            clear_due,
            priority,
            labels,
            links,
        } => {
            let (found, id) = local.find_task(&task, pass)?;
            let edit = Edit::Update {
                task: id.clone(),
                title,
                description,
                assignees: assignees.map(|a| member_keys(local, &a, now)).transpose()?,
                deadline: due.as_deref().map(parse_due).transpose()?,
                clear_deadline: clear_due,
                priority,
                labels,
                links,
            };
            let env = local.edit_board(found, vec![edit], pass)?;
            Ok(written(found, Some(&id), env))
        }
        TaskRequest::Move { task, column, position } => {
            let (found, id) = local.find_task(&task, pass)?;
            let edit = Edit::Move {
                task: id.clone(),
                column,
                position,
            };
            let env = local.edit_board(found, vec![edit], pass)?;
            Ok(written(found, Some(&id), env))
        }
        TaskRequest::Done { task } => {
            let (found, id) = local.find_task(&task, pass)?;
            let board = local.project_board(found, pass)?;
            let column = board["board"]["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["status"] == "done")
                .and_then(|c| c["id"].as_str())
                .context("this board has no column of status done: add one with `outpost task column`")?
                .to_owned();
            let edit = Edit::Move {
                task: id.clone(),
                column,
                position: None,
            };
            let env = local.edit_board(found, vec![edit], pass)?;
            Ok(written(found, Some(&id), env))
        }
        TaskRequest::Comment { task, text } => {
            let (found, id) = local.find_task(&task, pass)?;
            let edit = Edit::AddComment {
                task: id.clone(),
                author: String::new(),
                at: 0,
                text,
            };
            let env = local.edit_board(found, vec![edit], pass)?;
            Ok(written(found, Some(&id), env))
        }
        TaskRequest::AddItem { task, text } => {
            let (found, id) = local.find_task(&task, pass)?;
            let edit = Edit::AddItem {
                task: id.clone(),
                id: String::new(),
                text,
            };
            let env = local.edit_board(found, vec![edit], pass)?;
            Ok(written(found, Some(&id), env))
        }
        TaskRequest::Check { task, item, done } => {
            let (found, id) = local.find_task(&task, pass)?;
            let edit = Edit::CheckItem {
                task: id.clone(),
                item,
                done,
            };
            let env = local.edit_board(found, vec![edit], pass)?;
            Ok(written(found, Some(&id), env))
        }
        TaskRequest::AddColumn { project, name, status } => {
            let found = local.find_project(&project, pass)?;
            let id = fresh_id();
            let edit = Edit::AddColumn {
                id: id.clone(),
                name,
                status,
            };
            let env = local.edit_board(found, vec![edit], pass)?;
            let mut v = written(found, None, env);
            v["column"] = json!(id);
            Ok(v)
        }
        TaskRequest::RenameColumn { project, column, name } => {
            let found = local.find_project(&project, pass)?;
            let env = local.edit_board(found, vec![Edit::RenameColumn { column, name }], pass)?;
            Ok(written(found, None, env))
        }
        TaskRequest::Edit { project, edits } => {
            let found = local.find_project(&project, pass)?;
            let env = local.edit_board(found, edits, pass)?;
            Ok(written(found, None, env))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_dates_read_as_utc_seconds() {
        assert_eq!(parse_due("1970-01-01").expect("date"), 0);
        assert_eq!(parse_due("2026-12-01T10:00").expect("date"), 1_796_119_200);
        assert_eq!(parse_due("2026-12-01 10:00:30Z").expect("date"), 1_796_119_230);
        assert_eq!(parse_due("2024-02-29").expect("leap day"), 1_709_164_800);
        assert_eq!(parse_due("1796119200").expect("seconds"), 1_796_119_200);
        for bad in [
            "",
            "tomorrow",
            "2026-13-01",
            "2025-02-29",
            "2026-12-01T25:00",
            "2026-12-1x",
            "12/01/2026",
        ] {
            let e = parse_due(bad).expect_err("refused");
            assert!(e.to_string().contains("cannot read the date"), "{e}");
        }
    }
}
