//! `outpost token ...`, `outpost webhook ...` and `outpost staff pending`:
//! this node's integrations (see `outpost_node::integrations`). Through
//! the running node when one runs (which then uses the change at once),
//! else on the store.

use crate::flags::{TokenCommand, WebhookCommand};
use crate::io::Ctx;
use anyhow::{Result, bail};
use outpost_node::api_client::ApiClient;
use outpost_node::home::Passphrase;
use outpost_node::integrations::NewToken;
use outpost_node::local::Local;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

fn now() -> u64 {
    outpost_node::now().0
}

/// Runs `through` on the running node, or `alone` on the store.
fn either(
    ctx: &Ctx,
    through: impl FnOnce(&ApiClient) -> Result<Value>,
    alone: impl FnOnce(&mut Local, &Passphrase) -> Result<Value>,
) -> Result<Value> {
    match ApiClient::running(ctx.home.dir()) {
        Some(api) => through(&api),
        None => alone(&mut Local::open(ctx.home.clone())?, &ctx.pass),
    }
}

/// `outpost token ...`.
pub fn token(ctx: &Ctx, cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Create {
            name,
            scopes,
            rate,
            expires,
        } => {
            let new = NewToken {
                name,
                scopes,
                rate_per_min: rate,
                expires_days: expires,
            };
            let v = either(
                ctx,
                |api| api.post("/api/tokens", &serde_json::to_value(&new)?),
                |l, pass| {
                    let (t, text) = l.create_api_token(&new, now())?;
                    l.audit_token("token.create", &t, pass)?;
                    let mut v = t.to_json(now());
                    v["token"] = json!(text);
                    Ok(v)
                },
            )?;
            let text = format!(
                "token {} ({}) with {}; {} requests a minute\n{}\nkeep it secret: it is shown only now\n",
                v["name"].as_str().unwrap_or_default(),
                v["id"].as_str().unwrap_or_default(),
                list(&v["scopes"]),
                v["rate_per_min"],
                v["token"].as_str().unwrap_or_default()
            );
            ctx.print(text, v);
        }
        TokenCommand::List => {
            let v = either(
                ctx,
                |api| api.get("/api/tokens"),
                |l, _| Ok(json!({"tokens": l.api_tokens()?.iter().map(|t| t.to_json(now())).collect::<Vec<_>>()})),
            )?;
            let mut text = String::new();
            for t in v["tokens"].as_array().into_iter().flatten() {
                let state = if t["live"] == true {
                    "live"
                } else if t["revoked"].is_null() {
                    "expired"
                } else {
                    "revoked"
                };
                let _ = writeln!(
                    text,
                    "{}  {:<20} {:<8} {} ({}/min)",
                    t["id"].as_str().unwrap_or_default(),
                    t["name"].as_str().unwrap_or_default(),
                    state,
                    list(&t["scopes"]),
                    t["rate_per_min"]
                );
            }
            if text.is_empty() {
                text = "no tokens\n".into();
            }
            ctx.print(text, v);
        }
        TokenCommand::Revoke { token } => {
            let v = either(
                ctx,
                |api| api.post(&format!("/api/tokens/{token}/revoke"), &json!({})),
                |l, pass| {
                    let t = l.revoke_api_token(&token, now())?;
                    l.audit_token("token.revoke", &t, pass)?;
                    Ok(t.to_json(now()))
                },
            )?;
            ctx.print(format!("revoked token {}\n", v["name"].as_str().unwrap_or_default()), v);
        }
    }
    Ok(())
}

fn list(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `outpost webhook ...`.
pub fn webhook(ctx: &Ctx, cmd: WebhookCommand) -> Result<()> {
    match cmd {
        WebhookCommand::Add { url, events } => {
            let v = either(
                ctx,
                |api| api.post("/api/webhooks", &json!({"url": url, "events": events})),
                |l, pass| {
                    let h = l.add_webhook(&url, &events, now())?;
                    l.audit_hook("webhook.add", &h, pass)?;
                    Ok(json!({"id": h.id, "url": h.url, "events": h.events, "created": h.created, "secret": h.secret}))
                },
            )?;
            let text = format!(
                "webhook {} → {} for {}\nsigning secret {}\n(each delivery carries X-Outpost-Signature: sha256=HMAC(secret, \"<X-Outpost-Timestamp>.<body>\"))\n",
                v["id"].as_str().unwrap_or_default(),
                v["url"].as_str().unwrap_or_default(),
                list(&v["events"]),
                v["secret"].as_str().unwrap_or_default()
            );
            ctx.print(text, v);
        }
        WebhookCommand::List => {
            let v = either(
                ctx,
                |api| api.get("/api/webhooks"),
                |l, _| {
                    Ok(
                        json!({"webhooks": l.webhooks()?.iter().map(|h| json!({"id": h.id, "url": h.url, "events": h.events, "created": h.created})).collect::<Vec<_>>()}),
                    )
                },
            )?;
            let mut text = String::new();
            for h in v["webhooks"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    text,
                    "{}  {}  ({})",
                    h["id"].as_str().unwrap_or_default(),
                    h["url"].as_str().unwrap_or_default(),
                    list(&h["events"])
                );
            }
            if text.is_empty() {
                text = "no webhooks\n".into();
            }
            ctx.print(text, v);
        }
        WebhookCommand::Remove { id } => {
            let v = either(
                ctx,
                |api| api.post(&format!("/api/webhooks/{id}/remove"), &json!({})),
                |l, pass| {
                    let h = l.remove_webhook(&id)?;
                    l.audit_hook("webhook.remove", &h, pass)?;
                    Ok(json!({"removed": {"id": h.id, "url": h.url}}))
                },
            )?;
            ctx.print(format!("removed webhook {id}\n"), v);
        }
        WebhookCommand::Test { id } => {
            let Some(api) = ApiClient::running(ctx.home.dir()) else {
                bail!("the node is not running: start it with `outpost up`, then test the webhook");
            };
            let v = api.post(&format!("/api/webhooks/{id}/test"), &json!({}))?;
            ctx.print(
                format!(
                    "sent ping as delivery {}; see `outpost webhook log`\n",
                    v["delivery"].as_str().unwrap_or_default()
                ),
                v,
            );
        }
        WebhookCommand::Log => {
            let v = either(
                ctx,
                |api| api.get("/api/webhooks/log"),
                |l, _| Ok(json!({"attempts": l.webhook_log()?})),
            )?;
            let mut text = String::new();
            for a in v["attempts"].as_array().into_iter().flatten() {
                let outcome = match (a["ok"].as_bool(), a["status"].as_u64(), a["error"].as_str()) {
                    (Some(true), Some(s), _) => format!("delivered ({s})"),
                    (_, Some(s), _) => format!("refused ({s})"),
                    (_, None, Some(e)) => format!("failed: {e}"),
                    _ => "failed".into(),
                };
                let _ = writeln!(
                    text,
                    "{}  webhook {} delivery {} {} try {}: {outcome} in {} ms",
                    a["time"],
                    a["hook"].as_str().unwrap_or_default(),
                    a["delivery"].as_str().unwrap_or_default(),
                    a["event"].as_str().unwrap_or_default(),
                    a["attempt"],
                    a["ms"]
                );
            }
            if text.is_empty() {
                text = "no deliveries yet\n".into();
            }
            ctx.print(text, v);
        }
    }
    Ok(())
}

/// `outpost staff pending`.
pub fn staff_pending(ctx: &Ctx, csv: Option<&Path>, clear: Vec<String>, clear_all: bool) -> Result<()> {
    let v = either(
        ctx,
        |api| api.get("/api/hr/pending"),
        |l, _| Ok(json!({"pending": l.hr_pending()?})),
    )?;
    let pending = v["pending"].as_array().cloned().unwrap_or_default();
    let mut text = String::new();
    for c in &pending {
        let _ = writeln!(
            text,
            "{}  {:<8} {} {} {}",
            c["id"].as_str().unwrap_or_default(),
            c["action"].as_str().unwrap_or_default(),
            c["name"].as_str().unwrap_or_default(),
            c["department"].as_str().unwrap_or_default(),
            c["employee_id"]
                .as_str()
                .map(|e| format!("(HR id {e})"))
                .unwrap_or_default()
        );
    }
    if text.is_empty() {
        text = "no staff changes waiting\n".into();
    }
    if let Some(path) = csv {
        let mut w = csv::Writer::from_path(path)?;
        w.write_record(["name", "department", "position", "level", "role", "email"])?;
        let mut rows = 0;
        for c in pending.iter().filter(|c| c["action"] != "leave") {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            let role = if s("role").is_empty() {
                "member".to_owned()
            } else {
                s("role")
            };
            w.write_record([s("name"), s("department"), s("position"), s("level"), role, s("email")])?;
            rows += 1;
        }
        w.flush()?;
        let _ = writeln!(
            text,
            "wrote {rows} hires and transfers to {}: run `outpost staff import {} --out DIR` to make their invites; revoke leavers with `outpost cert revoke`",
            path.display(),
            path.display()
        );
    }
    if clear_all || !clear.is_empty() {
        let done = either(
            ctx,
            |api| api.post("/api/hr/pending/clear", &json!({"ids": clear, "all": clear_all})),
            |l, _| Ok(json!({"removed": l.clear_staff_changes(&clear, clear_all)?})),
        )?;
        let _ = writeln!(text, "forgot {} handled changes", done["removed"]);
    }
    ctx.print(text, v);
    Ok(())
}

/// `outpost stats`.
pub fn stats(ctx: &Ctx, days: u64) -> Result<()> {
    let v = match ApiClient::running(ctx.home.dir()) {
        Some(api) => api.get(&format!("/api/stats?days={days}"))?,
        None => Local::open(ctx.home.clone())?.usage_stats(&ctx.pass, outpost_node::now(), days)?,
    };
    let mut text = format!(
        "{} to {}: {} active members\n\n",
        v["from"].as_str().unwrap_or_default(),
        v["to"].as_str().unwrap_or_default(),
        v["active_members"]
    );
    let rows = v["days"].as_array().cloned().unwrap_or_default();
    let most = rows
        .iter()
        .filter_map(|r| r["active_members"].as_u64())
        .max()
        .unwrap_or(0)
        .max(1);
    let _ = writeln!(
        text,
        "{:<10}  {:>6}  {:>6}  {:>6}  {:>6}  {:>6}  active",
        "day", "chat", "docs", "files", "tasks", "other"
    );
    for r in &rows {
        let u = &r["use"];
        let n = |k: &str| u[k].as_u64().unwrap_or(0);
        let other = n("approvals") + n("announcements") + n("meetings") + n("settings") + n("other");
        let active = r["active_members"].as_u64().unwrap_or(0);
        let bar = "#".repeat(((active * 20).div_ceil(most)) as usize);
        let _ = writeln!(
            text,
            "{:<10}  {:>6}  {:>6}  {:>6}  {:>6}  {:>6}  {active:>3} {bar}",
            r["day"].as_str().unwrap_or_default(),
            n("chat"),
            n("docs"),
            n("files"),
            n("tasks"),
            other
        );
    }
    let t = &v["tasks"];
    let f = &v["files"];
    let _ = writeln!(
        text,
        "\ntasks: {} on {} boards, {} done ({:.0}%), {} overdue\nfiles: {} with {} versions, {} bytes",
        t["tasks"],
        t["boards"],
        t["done"],
        t["completion_rate"].as_f64().unwrap_or(0.0) * 100.0,
        t["overdue"],
        f["files"],
        f["versions"],
        f["bytes"]
    );
    ctx.print(text, v);
    Ok(())
}
