//! `outpost meeting ...`: meetings.
//!
//! Each command becomes one [`MeetingRequest`], answered by a running node
//! (`POST /api/meetings`) or, when none runs, by the store directly; either
//! way the answer is the same JSON, printed as is with `--json` or as text.

use crate::flags::MeetingCommand;
use crate::io::Ctx;
use crate::tasks::date;
use anyhow::Result;
use outpost_node::Local;
use outpost_node::api_client::ApiClient;
use outpost_node::meetings::MeetingRequest;
use outpost_node::records::When;
use outpost_workspace::meeting::Response;
use serde_json::Value;
use std::fmt::Write;

/// Renders an answer as text.
type Render = Box<dyn FnOnce(&Value) -> String>;

/// `outpost meeting ...`.
pub fn run(ctx: &Ctx, cmd: MeetingCommand) -> Result<()> {
    let (req, render): (MeetingRequest, Render) = match cmd {
        MeetingCommand::Create {
            title,
            start,
            end,
            minutes,
            place,
            link,
            agenda,
            invite,
            remind,
        } => {
            let req = MeetingRequest::Create {
                title,
                start: When::Text(start),
                end: end.map(When::Text),
                minutes,
                place: place.unwrap_or_default(),
                link: link.unwrap_or_default(),
                agenda: agenda.unwrap_or_default(),
                invitees: invite,
                remind_minutes: Some(remind),
            };
            (req, Box::new(created))
        }
        MeetingCommand::Update {
            id,
            title,
            start,
            end,
            minutes,
            place,
            link,
            agenda,
            invite,
            remind,
        } => {
            let req = MeetingRequest::Update {
                meeting: id,
                title,
                start: start.map(When::Text),
                end: end.map(When::Text),
                minutes,
                place,
                link,
                agenda,
                remind_minutes: remind,
                invitees: invite,
            };
            (req, Box::new(updated))
        }
        MeetingCommand::List { past } => (MeetingRequest::List { past }, Box::new(list)),
        MeetingCommand::Show { id } => (MeetingRequest::Show { meeting: id }, Box::new(show)),
        MeetingCommand::Accept { id } => answer(id, Response::Accept),
        MeetingCommand::Decline { id } => answer(id, Response::Decline),
        MeetingCommand::Tentative { id } => answer(id, Response::Tentative),
        MeetingCommand::Minutes { id } => (MeetingRequest::Minutes { meeting: id }, Box::new(minutes)),
        MeetingCommand::Cancel { id } => (MeetingRequest::Cancel { meeting: id }, Box::new(cancelled)),
        MeetingCommand::Remind { now } => (
            MeetingRequest::Remind {
                now: now.map(When::Text),
            },
            Box::new(reminders),
        ),
    };
    let v = call(ctx, req)?;
    ctx.print(render(&v), v);
    Ok(())
}

fn answer(id: String, response: Response) -> (MeetingRequest, Render) {
    (MeetingRequest::Answer { meeting: id, response }, Box::new(answered))
}

/// Carries out `req` through the running node, or on the store when no
/// node runs.
fn call(ctx: &Ctx, req: MeetingRequest) -> Result<Value> {
    match ApiClient::running(ctx.home.dir()) {
        Some(api) => api.post("/api/meetings", &serde_json::to_value(&req)?),
        None => {
            let mut local = Local::open(ctx.home.clone())?;
            outpost_node::meetings::handle(&mut local, &ctx.pass, req)
        }
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn short(v: &Value) -> String {
    str_of(v).chars().take(8).collect()
}

fn when(v: &Value) -> String {
    v.as_i64().map(date).unwrap_or_default()
}

/// `10:00-11:00` on the start's day, in UTC.
fn span(v: &Value) -> String {
    let start = when(&v["start"]);
    let end = when(&v["end"]);
    let same_day = start.get(..10) == end.get(..10);
    match (same_day, end.get(11..16)) {
        (true, Some(t)) => format!("{}-{t} UTC", start.trim_end_matches(" UTC")),
        _ => format!("{start} to {end}"),
    }
}

fn where_(v: &Value) -> String {
    let place = str_of(&v["place"]);
    let link = str_of(&v["link"]);
    match (place.is_empty(), link.is_empty()) {
        (false, false) => format!("{place} · {link}"),
        (false, true) => place.to_owned(),
        (true, false) => link.to_owned(),
        (true, true) => String::new(),
    }
}

fn line(m: &Value) -> String {
    let mut out = format!("{}  {}  {}", short(&m["id"]), span(m), str_of(&m["title"]));
    let at = where_(m);
    if !at.is_empty() {
        let _ = write!(out, " · {at}");
    }
    if m["cancelled"] == true {
        out.push_str(" · CANCELLED");
    } else if m["organizer_me"] == true {
        out.push_str(" · you organize it");
    } else if let Some(a) = m["my_answer"].as_str() {
        let _ = write!(out, " · you answered {a}");
    } else if m["invited"] == true {
        out.push_str(" · not answered");
    }
    out.push('\n');
    out
}

fn list(v: &Value) -> String {
    let rows = v["meetings"].as_array().map_or(&[][..], Vec::as_slice);
    if rows.is_empty() {
        return if v["past"] == true {
            "no past meetings\n".to_owned()
        } else {
            "no upcoming meetings\n".to_owned()
        };
    }
    rows.iter().map(line).collect()
}

fn show(v: &Value) -> String {
    let mut out = format!("{}  [{}]\n", str_of(&v["title"]), str_of(&v["id"]));
    let _ = writeln!(out, "{}", span(v));
    let at = where_(v);
    if !at.is_empty() {
        let _ = writeln!(out, "{at}");
    }
    let organizer = v["organizer"]["name"]
        .as_str()
        .map_or_else(|| short(&v["organizer"]["member"]), str::to_owned);
    let _ = writeln!(out, "organized by {organizer}");
    if v["cancelled"] == true {
        out.push_str("CANCELLED\n");
    }
    if v["remind_minutes"].as_u64().is_some_and(|m| m > 0) {
        let _ = writeln!(out, "reminder {} minutes before", v["remind_minutes"]);
    }
    if let Some(doc) = v["minutes"].as_str() {
        let _ = writeln!(out, "minutes: document {doc}");
    }
    let agenda = str_of(&v["agenda"]);
    if !agenda.is_empty() {
        let _ = writeln!(out, "\nagenda:\n{}", agenda.trim_end());
    }
    let a = &v["answers"];
    let _ = writeln!(
        out,
        "\n{} accepted, {} declined, {} tentative, {} not answered",
        a["accepted"], a["declined"], a["tentative"], a["no_answer"]
    );
    for p in a["people"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {:<24} {:<12} {}",
            str_of(&p["name"]),
            p["answer"].as_str().unwrap_or("-"),
            str_of(&p["dept"])
        );
    }
    out
}

fn created(v: &Value) -> String {
    format!(
        "created meeting {} ({}) at {}\n",
        str_of(&v["title"]),
        str_of(&v["id"]),
        span(v)
    )
}

fn updated(v: &Value) -> String {
    format!("meeting {} changed: {}\n", short(&v["id"]), span(v))
}

fn answered(v: &Value) -> String {
    format!("answered {} to {}\n", str_of(&v["answer"]), str_of(&v["title"]))
}

fn minutes(v: &Value) -> String {
    let doc = str_of(&v["minutes"]);
    if v["created"] == true {
        format!("created the minutes: document {doc}; edit it with `outpost doc edit {doc} --append TEXT`\n")
    } else {
        format!("minutes: document {doc}\n")
    }
}

fn cancelled(v: &Value) -> String {
    format!("cancelled {}\n", str_of(&v["title"]))
}

fn reminders(v: &Value) -> String {
    let list = v["reminders"].as_array().map_or(&[][..], Vec::as_slice);
    if list.is_empty() {
        return "no reminders due\n".to_owned();
    }
    let mut out = String::new();
    for r in list {
        let mut line = format!(
            "reminder: {} starts at {} (in {} minutes)",
            str_of(&r["title"]),
            when(&r["start"]),
            r["starts_in"].as_u64().unwrap_or(0).div_ceil(60)
        );
        let at = where_(r);
        if !at.is_empty() {
            let _ = write!(line, " · {at}");
        }
        let _ = writeln!(out, "{line}");
    }
    out
}
