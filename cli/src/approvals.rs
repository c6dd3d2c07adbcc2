//! `outpost approval ...`: approval requests and templates.
//!
//! Each command becomes one [`ApprovalRequest`], answered by a running node
//! (`POST /api/approvals`) or, when none runs, by the store directly; either
//! way the answer is the same JSON, printed as is with `--json` or as text.

use crate::flags::{ApprovalCommand, TemplateCommand};
use crate::io::{Ctx, read_input};
use crate::tasks::date;
use anyhow::{Context, Result, bail};
use outpost_node::Local;
use outpost_node::api_client::ApiClient;
use outpost_node::approvals::{ApprovalRequest, TemplateSpec};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Renders an answer as text.
type Render = Box<dyn FnOnce(&Value) -> String>;

/// `outpost approval ...`.
pub fn run(ctx: &Ctx, cmd: ApprovalCommand) -> Result<()> {
    let (req, render): (ApprovalRequest, Render) = match cmd {
        ApprovalCommand::Submit { template, title, field } => {
            let mut fields = BTreeMap::new();
            for f in field {
                let Some((k, v)) = f.split_once('=') else {
                    bail!("cannot read the field {f:?}: write NAME=VALUE, such as --field from=2027-03-01");
                };
                if fields.insert(k.trim().to_owned(), v.to_owned()).is_some() {
                    bail!("the field {:?} is given twice", k.trim());
                }
            }
            let req = ApprovalRequest::Submit {
                template,
                title,
                fields,
            };
            (req, Box::new(submitted))
        }
        ApprovalCommand::Approve { request, step, comment } => (
            ApprovalRequest::Approve {
                request,
                step,
                comment: comment.unwrap_or_default(),
            },
            Box::new(|v: &Value| decided(v, "approved")),
        ),
        ApprovalCommand::Reject { request, step, comment } => (
            ApprovalRequest::Reject {
                request,
                step,
                comment: comment.unwrap_or_default(),
            },
            Box::new(|v: &Value| decided(v, "rejected")),
        ),
        ApprovalCommand::Withdraw { request } => (ApprovalRequest::Withdraw { request }, Box::new(withdrawn)),
        ApprovalCommand::Status { request } => (ApprovalRequest::Status { request }, Box::new(status)),
        ApprovalCommand::List { inbox, mine } => (ApprovalRequest::List { inbox, mine }, Box::new(list)),
        ApprovalCommand::Template(TemplateCommand::List) => (ApprovalRequest::Templates, Box::new(templates)),
        ApprovalCommand::Template(TemplateCommand::Add { file }) => {
            let text = read_input(&file)?;
            let template: TemplateSpec = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a template: see `outpost approval template list --json` for the form",
                    file.display()
                )
            })?;
            (ApprovalRequest::AddTemplate { template }, Box::new(template_added))
        }
    };
    let v = call(ctx, req)?;
    ctx.print(render(&v), v);
    Ok(())
}

/// Carries out `req` through the running node, or on the store when no
/// node runs.
fn call(ctx: &Ctx, req: ApprovalRequest) -> Result<Value> {
    match ApiClient::running(ctx.home.dir()) {
        Some(api) => api.post("/api/approvals", &serde_json::to_value(&req)?),
        None => {
            let mut local = Local::open(ctx.home.clone())?;
            outpost_node::approvals::handle(&mut local, &ctx.pass, req)
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

/// A person: their name, else a short key.
fn who(p: &Value) -> String {
    p["name"].as_str().map_or_else(|| short(&p["member"]), str::to_owned)
}

/// A department path, or "the whole org" for the root.
fn dept(v: &Value) -> &str {
    match str_of(v) {
        "" => "the whole org",
        d => d,
    }
}

fn when(v: &Value) -> String {
    v.as_i64().map(date).unwrap_or_default()
}

/// Where a request stands, in one line.
fn standing(v: &Value) -> String {
    match str_of(&v["state"]) {
        "pending" => {
            let waiting: Vec<String> = v["waiting_for"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|w| {
                    let people: Vec<String> = w["members"].as_array().into_iter().flatten().map(who).collect();
                    format!(
                        "{} ({})",
                        str_of(&w["step"]),
                        if people.is_empty() {
                            "nobody can".to_owned()
                        } else {
                            people.join(", ")
                        }
                    )
                })
                .collect();
            format!(
                "pending at stage {} of {}, waiting for {}",
                v["stage"],
                v["stages"].as_array().map_or(0, Vec::len),
                waiting.join("; ")
            )
        }
        other => other.to_owned(),
    }
}

fn submitted(v: &Value) -> String {
    format!(
        "submitted request {} ({}: {}); {}\n",
        str_of(&v["request"]),
        str_of(&v["template"]["name"]),
        str_of(&v["title"]),
        standing(v)
    )
}

fn task_line(v: &Value) -> String {
    let mut out = String::new();
    if v["task_created"] == true {
        let _ = writeln!(
            out,
            "added task {} to project {}",
            str_of(&v["task"]["task"]),
            short(&v["task"]["project"])
        );
    }
    if let Some(why) = v["task_error"].as_str() {
        let _ = writeln!(out, "the request is approved, but {why}");
    }
    out
}

fn decided(v: &Value, verb: &str) -> String {
    let step = v["history"]
        .as_array()
        .and_then(|h| h.iter().find(|e| e["record"] == v["record"]))
        .map(|e| str_of(&e["step"]).to_owned())
        .unwrap_or_default();
    format!(
        "{verb} step {step} of request {}; the request is {}\n{}",
        short(&v["request"]),
        standing(v),
        task_line(v)
    )
}

fn withdrawn(v: &Value) -> String {
    format!(
        "withdrew request {}; it is {}\n",
        short(&v["request"]),
        str_of(&v["state"])
    )
}

fn status(v: &Value) -> String {
    let mut out = format!(
        "{}  [{} · {}]\n{}\n",
        str_of(&v["title"]),
        str_of(&v["template"]["name"]),
        str_of(&v["request"]),
        standing(v)
    );
    let a = &v["applicant"];
    let _ = writeln!(
        out,
        "applicant: {} ({}, {}), submitted {}",
        who(a),
        str_of(&a["role"]),
        dept(&a["dept"]),
        when(&v["submitted"])
    );
    // In the template's order.
    let given: Vec<(&str, &str)> = v["template"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let name = str_of(&f["name"]);
            v["fields"][name].as_str().map(|val| (name, val))
        })
        .collect();
    if !given.is_empty() {
        out.push_str("\nfields:\n");
        for (k, val) in given {
            let _ = writeln!(out, "  {k}: {val}");
        }
    }
    out.push_str("\nsteps:\n");
    for stage in v["stages"].as_array().into_iter().flatten() {
        let steps: Vec<String> = stage["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                format!(
                    "{} [{}]: {}",
                    str_of(&s["name"]),
                    str_of(&s["approvers_text"]),
                    str_of(&s["state"])
                )
            })
            .collect();
        let _ = writeln!(out, "  stage {}: {}", stage["stage"], steps.join(" · "));
    }
    out.push_str("\nhistory:\n");
    for e in v["history"].as_array().into_iter().flatten() {
        let s = &e["signer"];
        let what = match str_of(&e["action"]) {
            "submit" => "submitted".to_owned(),
            "approve" | "reject" => {
                let mut w = format!(
                    "{} {}",
                    if e["action"] == "approve" {
                        "approved"
                    } else {
                        "rejected"
                    },
                    str_of(&e["step"])
                );
                if !str_of(&e["comment"]).is_empty() {
                    let _ = write!(w, ": {:?}", str_of(&e["comment"]));
                }
                w
            }
            "withdraw" => "withdrew the request".to_owned(),
            "task_created" => format!("recorded task {}", str_of(&e["task"])),
            other => other.to_owned(),
        };
        let _ = writeln!(
            out,
            "  {}  {} ({}, {})  {what}  [record {}, cert {}]",
            when(&e["time"]),
            who(s),
            str_of(&s["role"]),
            dept(&s["dept"]),
            short(&e["record"]),
            short(&s["cert"])
        );
        if let Some(why) = e["ignored"]["reason"].as_str() {
            let _ = writeln!(out, "      not counted: {why}");
        }
    }
    if v["task"].is_object() {
        let _ = writeln!(
            out,
            "\ntask {} on project {}",
            str_of(&v["task"]["task"]),
            short(&v["task"]["project"])
        );
    }
    out
}

fn list(v: &Value) -> String {
    let rows = v["requests"].as_array().map_or(&[][..], Vec::as_slice);
    if rows.is_empty() {
        return "no approval requests\n".to_owned();
    }
    let mut out = String::new();
    for r in rows {
        let mut line = format!(
            "{}  {:<9}  {}: {}  ({}, {})",
            short(&r["request"]),
            str_of(&r["state"]),
            str_of(&r["template"]),
            str_of(&r["title"]),
            who(&r["applicant"]),
            when(&r["submitted"])
        );
        let waiting: Vec<&str> = r["waiting"].as_array().into_iter().flatten().map(str_of).collect();
        if r["state"] == "pending" && !waiting.is_empty() {
            let _ = write!(
                line,
                " · stage {} of {}: {}",
                r["stage"],
                r["stages"],
                waiting.join(", ")
            );
        }
        let mine: Vec<&str> = r["can_decide"].as_array().into_iter().flatten().map(str_of).collect();
        if !mine.is_empty() {
            let _ = write!(line, " · you decide: {}", mine.join(", "));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn template_text(t: &Value) -> String {
    let mut out = str_of(&t["name"]).to_owned();
    if t["builtin"] == true {
        out.push_str(" (built in)");
    } else if let Some(by) = t["added_by"].as_object() {
        let _ = write!(out, " (added by {})", who(&Value::Object(by.clone())));
    }
    out.push('\n');
    let fields: Vec<String> = t["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} ({}{})",
                str_of(&f["name"]),
                str_of(&f["kind"]),
                if f["required"] == true { ", required" } else { "" }
            )
        })
        .collect();
    if !fields.is_empty() {
        let _ = writeln!(out, "  fields: {}", fields.join(", "));
    }
    for (i, stage) in t["stages"].as_array().into_iter().flatten().enumerate() {
        let steps: Vec<String> = stage
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| format!("{} [{}]", str_of(&s["name"]), str_of(&s["approvers_text"])))
            .collect();
        let _ = writeln!(out, "  stage {}: {}", i + 1, steps.join(" and "));
    }
    if let Some(p) = t["creates_task"].as_str() {
        let _ = writeln!(out, "  once approved: a task in project {p}");
    }
    out
}

fn templates(v: &Value) -> String {
    v["templates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(template_text)
        .collect()
}

fn template_added(v: &Value) -> String {
    format!("added template {}\n{}", str_of(&v["name"]), template_text(v))
}
