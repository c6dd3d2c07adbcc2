//! `outpost announce ...`: announcements.
//!
//! Each command becomes one [`AnnounceRequest`], answered by a running node
//! (`POST /api/announcements`) or, when none runs, by the store directly;
//! either way the answer is the same JSON, printed as is with `--json` or
//! as text.

use crate::flags::AnnounceCommand;
use crate::io::{Ctx, read_input};
use crate::tasks::date;
use anyhow::Result;
use outpost_node::Local;
use outpost_node::announce::{AnnounceRequest, Attach};
use outpost_node::api_client::ApiClient;
use outpost_node::records::When;
use serde_json::Value;
use std::fmt::Write;

/// Renders an answer as text.
type Render = Box<dyn FnOnce(&Value) -> String>;

/// `outpost announce ...`.
pub fn run(ctx: &Ctx, cmd: AnnounceCommand) -> Result<()> {
    let (req, render): (AnnounceRequest, Render) = match cmd {
        AnnounceCommand::Publish {
            title,
            body,
            body_file,
            to,
            pin_until,
            ack_required,
            attach,
        } => {
            let body = match (body, body_file) {
                (Some(b), _) => b,
                (None, Some(f)) => read_input(&f)?,
                (None, None) => String::new(),
            };
            let mut attachments = Vec::with_capacity(attach.len());
            for file in attach {
                // The node may run elsewhere in the file system: an absolute path.
                let path = std::path::absolute(&file)?;
                let sealed = Some(crate::chat::seal_file(ctx, &path)?);
                attachments.push(Attach {
                    path: path.to_string_lossy().into_owned(),
                    sealed,
                });
            }
            let req = AnnounceRequest::Publish {
                title,
                body,
                audience: to,
                pinned_until: pin_until.map(When::Text),
                ack_required,
                attachments,
            };
            (req, Box::new(published))
        }
        AnnounceCommand::List { all } => (AnnounceRequest::List { all }, Box::new(list)),
        AnnounceCommand::Show { id, peek } => (AnnounceRequest::Show { announcement: id, peek }, Box::new(show)),
        AnnounceCommand::Ack { id } => (AnnounceRequest::Ack { announcement: id }, Box::new(acked)),
        AnnounceCommand::Reads { id } => (AnnounceRequest::Reads { announcement: id }, Box::new(reads)),
        AnnounceCommand::Save { id, out, index } => {
            let out = std::path::absolute(&out)?.to_string_lossy().into_owned();
            let req = AnnounceRequest::SaveFile {
                announcement: id,
                out,
                index,
            };
            (req, Box::new(saved))
        }
    };
    let v = call(ctx, req)?;
    ctx.print(render(&v), v);
    Ok(())
}

/// Carries out `req` through the running node, or on the store when no
/// node runs.
fn call(ctx: &Ctx, req: AnnounceRequest) -> Result<Value> {
    match ApiClient::running(ctx.home.dir()) {
        Some(api) => api.post("/api/announcements", &serde_json::to_value(&req)?),
        None => {
            let mut local = Local::open(ctx.home.clone())?;
            outpost_node::announce::handle(&mut local, &ctx.pass, req)
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

fn publisher(v: &Value) -> String {
    let name = v["publisher"]["name"]
        .as_str()
        .map_or_else(|| short(&v["publisher"]["member"]), str::to_owned);
    let dept = str_of(&v["publisher_dept"]);
    if dept.is_empty() {
        format!("{name} ({})", str_of(&v["publisher_role"]))
    } else {
        format!("{name} ({}, {dept})", str_of(&v["publisher_role"]))
    }
}

fn audience(v: &Value) -> String {
    v["audience"]
        .as_array()
        .into_iter()
        .flatten()
        .map(str_of)
        .collect::<Vec<_>>()
        .join(", ")
}

fn published(v: &Value) -> String {
    format!(
        "published announcement {} ({}) to {}\n",
        str_of(&v["title"]),
        str_of(&v["id"]),
        audience(v)
    )
}

fn list(v: &Value) -> String {
    let rows = v["announcements"].as_array().map_or(&[][..], Vec::as_slice);
    if rows.is_empty() {
        return "no announcements\n".to_owned();
    }
    let mut out = String::new();
    for a in rows {
        if a["status"] == "rejected" {
            let _ = writeln!(
                out,
                "{}  REJECTED  {} · by {} · {}",
                short(&a["id"]),
                str_of(&a["title"]),
                publisher(a),
                str_of(&a["reason"])
            );
            continue;
        }
        let mut flags = Vec::new();
        if a["pinned"] == true {
            flags.push("pinned");
        }
        if a["for_me"] == true && a["read"] != true {
            flags.push("unread");
        }
        if a["ack_required"] == true && a["for_me"] == true && a["acknowledged"] != true {
            flags.push("to acknowledge");
        }
        let _ = writeln!(
            out,
            "{}  {}  {} · {}{}",
            short(&a["id"]),
            when(&a["time"]),
            str_of(&a["title"]),
            publisher(a),
            if flags.is_empty() {
                String::new()
            } else {
                format!(" · {}", flags.join(", "))
            }
        );
    }
    out
}

fn show(v: &Value) -> String {
    if v["status"] == "rejected" {
        return format!(
            "{}  [{}]\nREJECTED: {}\npublished by {} at {}\n",
            str_of(&v["title"]),
            str_of(&v["id"]),
            str_of(&v["reason"]),
            publisher(v),
            when(&v["time"])
        );
    }
    let mut out = format!("{}  [{}]\n", str_of(&v["title"]), str_of(&v["id"]));
    let _ = writeln!(
        out,
        "from {} at {} · to {}",
        publisher(v),
        when(&v["time"]),
        audience(v)
    );
    if v["pinned"] == true {
        let _ = writeln!(out, "pinned until {}", when(&v["pinned_until"]));
    }
    if v["ack_required"] == true {
        let state = if v["acknowledged"] == true {
            "you acknowledged it"
        } else if v["for_me"] == true {
            "acknowledge it with `outpost announce ack ID`"
        } else {
            "readers are asked to acknowledge it"
        };
        let _ = writeln!(out, "acknowledgement required: {state}");
    }
    let _ = writeln!(out, "\n{}", str_of(&v["body"]).trim_end());
    let files = v["files"].as_array().map_or(&[][..], Vec::as_slice);
    if !files.is_empty() {
        out.push_str("\nfiles:\n");
        for (i, f) in files.iter().enumerate() {
            let _ = writeln!(out, "  {i}. {} ({} bytes)", str_of(&f["name"]), f["bytes"]);
        }
    }
    out
}

fn acked(v: &Value) -> String {
    if v["already"] == true {
        format!("you acknowledged {} already\n", short(&v["announcement"]))
    } else {
        format!(
            "acknowledged {} (signed record {})\n",
            short(&v["announcement"]),
            short(&v["record"])
        )
    }
}

fn reads(v: &Value) -> String {
    let mut out = format!("{}: {} of {} read", str_of(&v["title"]), v["read"], v["total"]);
    if v["ack_required"] == true {
        let _ = write!(out, ", {} acknowledged", v["acknowledged"]);
    }
    out.push('\n');
    for d in v["departments"].as_array().into_iter().flatten() {
        let dept = str_of(&d["dept"]);
        let _ = writeln!(out, "\n{}", if dept.is_empty() { "(no department)" } else { dept });
        for p in d["people"].as_array().into_iter().flatten() {
            let state = match str_of(&p["status"]) {
                "acknowledged" => format!("acknowledged {}", when(&p["ack_at"])),
                "read" => format!("read {}", when(&p["read_at"])),
                _ => "not read".to_owned(),
            };
            let _ = writeln!(out, "  {:<24} {state}", str_of(&p["name"]));
        }
    }
    out
}

fn saved(v: &Value) -> String {
    format!(
        "saved {} ({} bytes) to {}\n",
        str_of(&v["name"]),
        v["bytes"],
        str_of(&v["out"])
    )
}
