//! `outpost project ...`, `outpost task ...` and `outpost board ...`:
//! projects and their task boards.
//!
//! Each command becomes one [`TaskRequest`], answered by a running node
//! (`POST /api/tasks`) or, when none runs, by the store directly; either way
//! the answer is the same JSON, printed as is with `--json` or as text.

use crate::flags::{BoardCommand, ProjectCommand, TaskCommand};
use crate::io::Ctx;
use anyhow::{Result, anyhow};
use outpost_node::Local;
use outpost_node::api_client::ApiClient;
use outpost_node::tasks::TaskRequest;
use outpost_workspace::tasks::{Priority, Status};
use serde_json::Value;
use std::fmt::Write;

/// Renders an answer as text.
type Render = Box<dyn FnOnce(&Value) -> String>;

fn priority(text: &str) -> Result<Priority> {
    Priority::parse(text).ok_or_else(|| anyhow!("no priority {text:?}: write low, normal, high or urgent"))
}

/// `outpost project ...`.
pub fn project(ctx: &Ctx, cmd: ProjectCommand) -> Result<()> {
    let (req, render): (TaskRequest, Render) = match cmd {
        ProjectCommand::Create { name, members } => (TaskRequest::CreateProject { name, members }, Box::new(created)),
        ProjectCommand::List => (TaskRequest::ListProjects, Box::new(projects)),
        ProjectCommand::Column { project, name, status } => {
            let status: Status = serde_json::from_value(Value::String(status.clone()))
                .map_err(|_| anyhow!("no status {status:?}: write todo, in_progress or done"))?;
            (TaskRequest::AddColumn { project, name, status }, Box::new(changed))
        }
    };
    answer(ctx, req, render)
}

/// `outpost task ...`.
pub fn task(ctx: &Ctx, cmd: TaskCommand) -> Result<()> {
    let (req, render): (TaskRequest, Render) = match cmd {
        TaskCommand::Add {
            project,
            title,
            description,
            assignee,
            due,
            priority: p,
            label,
            column,
        } => {
            let req = TaskRequest::Add {
                project,
                title,
                description: description.unwrap_or_default(),
                assignees: assignee,
                due,
                priority: priority(&p)?,
                labels: label,
                column,
            };
            (req, Box::new(added))
        }
        TaskCommand::Update {
            task,
            title,
            description,
            assignee,
            due,
            no_due,
            priority: p,
            label,
        } => {
            let req = TaskRequest::Update {
                task,
                title,
                description,
                assignees: assignee,
                due,
                clear_due: no_due,
                priority: p.as_deref().map(priority).transpose()?,
                labels: label,
                links: None,
            };
            (req, Box::new(changed))
        }
        TaskCommand::Move { task, column, position } => {
            (TaskRequest::Move { task, column, position }, Box::new(changed))
        }
        TaskCommand::Show { task } => (TaskRequest::Show { task }, Box::new(show)),
        TaskCommand::Comment { task, text } => (TaskRequest::Comment { task, text }, Box::new(changed)),
        TaskCommand::Item { task, text } => (TaskRequest::AddItem { task, text }, Box::new(changed)),
        TaskCommand::Check { task, item, undo } => (
            TaskRequest::Check {
                task,
                item,
                done: !undo,
            },
            Box::new(changed),
        ),
        TaskCommand::Done { task } => (TaskRequest::Done { task }, Box::new(changed)),
        TaskCommand::Reminders => (TaskRequest::Reminders, Box::new(|v| reminders_text(&v["reminders"]))),
        TaskCommand::Remind { now } => (TaskRequest::Remind { now }, Box::new(|v| reminders_text(&v["sent"]))),
    };
    answer(ctx, req, render)
}

/// `outpost board ...`.
pub fn board(ctx: &Ctx, cmd: BoardCommand) -> Result<()> {
    match cmd {
        BoardCommand::Show { project } => answer(ctx, TaskRequest::Board { project }, Box::new(board_text)),
    }
}

fn answer(ctx: &Ctx, req: TaskRequest, render: Render) -> Result<()> {
    let v = call(ctx, req)?;
    ctx.print(render(&v), v);
    Ok(())
}

/// Carries out `req` through the running node, or on the store when no
/// node runs.
fn call(ctx: &Ctx, req: TaskRequest) -> Result<Value> {
    match ApiClient::running(ctx.home.dir()) {
        Some(api) => api.post("/api/tasks", &serde_json::to_value(&req)?),
        None => {
            let mut local = Local::open(ctx.home.clone())?;
            outpost_node::tasks::handle(&mut local, &ctx.pass, req)
        }
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The first 8 characters of an id, as shown.
fn short(v: &Value) -> String {
    str_of(v).chars().take(8).collect()
}

/// Seconds since 1970 as `2026-12-01 10:00 UTC`.
pub(crate) fn date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (y, m, d) = outpost_identity::time::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// Who an assignee is: their name, else a short key.
fn who(names: &Value, key: &Value) -> String {
    names[str_of(key)].as_str().map_or_else(|| short(key), str::to_owned)
}

/// A task's assignees by name (key prefix when the name is unknown).
fn assignees(task: &Value, names: &Value) -> Vec<String> {
    task["assignees"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| who(names, a))
        .collect()
}

/// One card on one line.
fn card_line(card: &Value, names: &Value) -> String {
    let mut line = format!("  [{}] {}", short(&card["id"]), str_of(&card["title"]));
    let people = assignees(card, names);
    if !people.is_empty() {
        let _ = write!(line, " · {}", people.join(", "));
    }
    if let Some(d) = card["deadline"].as_i64() {
        let _ = write!(line, " · due {}", date(d));
    }
    if card["overdue"] == true {
        line.push_str(" · OVERDUE");
    }
    if card["priority"] != "normal" {
        let _ = write!(line, " · {}", str_of(&card["priority"]));
    }
    let labels: Vec<&str> = card["labels"].as_array().into_iter().flatten().map(str_of).collect();
    if !labels.is_empty() {
        let _ = write!(line, " · #{}", labels.join(" #"));
    }
    line.push('\n');
    line
}

fn board_text(v: &Value) -> String {
    let mut out = format!("{}  (project {})\n", str_of(&v["name"]), short(&v["project"]));
    let names = &v["names"];
    for col in v["board"]["columns"].as_array().into_iter().flatten() {
        let cards = col["cards"].as_array().map_or(&[][..], Vec::as_slice);
        let _ = writeln!(out, "\n{} ({})", str_of(&col["name"]), cards.len());
        if cards.is_empty() {
            out.push_str("  (empty)\n");
        }
        for card in cards {
            out.push_str(&card_line(card, names));
        }
    }
    out
}

fn created(v: &Value) -> String {
    format!(
        "created project {} ({}); readers and writers: {}\n",
        str_of(&v["name"]),
        str_of(&v["project"]),
        v["space"]["writers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(str_of)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn projects(v: &Value) -> String {
    let list = v["projects"].as_array().map_or(&[][..], Vec::as_slice);
    if list.is_empty() {
        return "no projects yet: create one with `outpost project create NAME`\n".to_owned();
    }
    let mut out = String::new();
    for p in list {
        let _ = writeln!(
            out,
            "{}  {}  {} tasks, {} open, {} overdue{}",
            short(&p["project"]),
            str_of(&p["name"]),
            p["tasks"],
            p["open"],
            p["overdue"],
            if p["can_write"] == true { "" } else { "  (read only)" }
        );
    }
    out
}

fn added(v: &Value) -> String {
    format!(
        "added task {} to project {}\n",
        str_of(&v["task"]),
        short(&v["project"])
    )
}

/// Reminders, one a line: when sent, which, the task and its deadline.
fn reminders_text(list: &Value) -> String {
    let rows = list.as_array().map(Vec::as_slice).unwrap_or_default();
    if rows.is_empty() {
        return "no reminders\n".to_owned();
    }
    let mut out = String::new();
    for r in rows {
        let lead = if r["lead"] == "day" { "in a day" } else { "in an hour" };
        let _ = writeln!(
            out,
            "{}  due {lead}: {} [{}] in {} — due {}",
            date(r["sent"].as_i64().unwrap_or_default()),
            str_of(&r["title"]),
            short(&r["task"]),
            str_of(&r["project_name"]),
            date(r["deadline"].as_i64().unwrap_or_default())
        );
    }
    out
}

fn changed(v: &Value) -> String {
    match (v["changed"] == true, v["task"].as_str()) {
        (true, Some(t)) => format!("task {t} changed\n"),
        (true, None) => "board changed\n".to_owned(),
        (false, _) => "nothing to change\n".to_owned(),
    }
}

fn show(v: &Value) -> String {
    let t = &v["task"];
    let names = &v["names"];
    let mut out = format!("{}  [{}]\n", str_of(&t["title"]), str_of(&t["id"]));
    let _ = writeln!(
        out,
        "project {} · column {} ({}) · priority {}",
        str_of(&v["project_name"]),
        str_of(&v["column_name"]),
        str_of(&t["status"]),
        str_of(&t["priority"])
    );
    let people = assignees(t, names);
    if !people.is_empty() {
        let _ = writeln!(out, "assigned to {}", people.join(", "));
    }
    if let Some(d) = t["deadline"].as_i64() {
        let _ = writeln!(
            out,
            "due {}{}",
            date(d),
            if t["overdue"] == true { " · OVERDUE" } else { "" }
        );
    }
    let labels: Vec<&str> = t["labels"].as_array().into_iter().flatten().map(str_of).collect();
    if !labels.is_empty() {
        let _ = writeln!(out, "labels: {}", labels.join(", "));
    }
    if !str_of(&t["description"]).is_empty() {
        let _ = writeln!(out, "\n{}", str_of(&t["description"]));
    }
    let items = t["checklist"].as_array().map_or(&[][..], Vec::as_slice);
    if !items.is_empty() {
        out.push_str("\nchecklist:\n");
        for (i, item) in items.iter().enumerate() {
            let mark = if item["done"] == true { "x" } else { " " };
            let _ = writeln!(out, "  {}. [{mark}] {}", i + 1, str_of(&item["text"]));
        }
    }
    let comments = t["comments"].as_array().map_or(&[][..], Vec::as_slice);
    if !comments.is_empty() {
        out.push_str("\ncomments:\n");
        for c in comments {
            let at = c["at"].as_i64().map(date).unwrap_or_default();
            let _ = writeln!(out, "  {} ({at}): {}", who(names, &c["author"]), str_of(&c["text"]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_back() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_796_119_200), "2026-12-01 10:00 UTC");
        assert_eq!(date(1_709_164_800), "2024-02-29 00:00 UTC");
    }
}
