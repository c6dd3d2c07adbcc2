//! `outpost audit ...`: the org's audit log (see `outpost_node::audit`).
//!
//! Each command becomes one [`AuditRequest`], answered by a running node
//! (`POST /api/audit`) or, when none runs, by the store directly.

use crate::flags::AuditCommand;
use crate::io::Ctx;
use anyhow::Result;
use outpost_node::Local;
use outpost_node::api_client::ApiClient;
use outpost_node::audit::AuditRequest;
use outpost_node::records::When;
use serde_json::Value;
use std::fmt::Write;

fn call(ctx: &Ctx, req: AuditRequest) -> Result<Value> {
    match ApiClient::running(ctx.home.dir()) {
        Some(api) => api.post("/api/audit", &serde_json::to_value(&req)?),
        None => {
            let mut local = Local::open(ctx.home.clone())?;
            outpost_node::audit::handle(&mut local, &ctx.pass, req)
        }
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// `outpost audit ...`.
pub fn run(ctx: &Ctx, cmd: AuditCommand) -> Result<()> {
    match cmd {
        AuditCommand::List { since, actor } => {
            let v = call(
                ctx,
                AuditRequest::List {
                    since: since.map(When::Text),
                    actor,
                },
            )?;
            let mut text = String::new();
            for e in v["entries"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    text,
                    "{}  {}  {}  {}  {}",
                    s(&e["time_text"]),
                    s(&e["actor"]["name"]),
                    s(&e["action"]),
                    s(&e["target"]),
                    s(&e["detail"])
                );
            }
            if text.is_empty() {
                text = "no audit entries\n".into();
            }
            ctx.print(text, v);
            Ok(())
        }
        AuditCommand::Verify => {
            let v = call(ctx, AuditRequest::Verify)?;
            let problems: Vec<String> = v["problems"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| s(&p["message"]).to_owned())
                .collect();
            if problems.is_empty() {
                ctx.print(
                    format!(
                        "the audit log is intact: {} entries in {} envelopes\n",
                        v["entries"], v["envelopes"]
                    ),
                    v,
                );
                return Ok(());
            }
            let mut text = String::new();
            for p in &problems {
                let _ = writeln!(text, "{p}");
            }
            ctx.print(text, v);
            Err(crate::Failure {
                code: crate::TAMPERED,
                message: format!("the audit log failed verification: {} problem(s)", problems.len()),
            }
            .into())
        }
        AuditCommand::Retention { days } => {
            let v = call(ctx, AuditRequest::Retention { days })?;
            ctx.print(
                format!("audit entries are kept at least {} days\n", v["retention_days"]),
                v,
            );
            Ok(())
        }
    }
}
