//! `outpost doc ...`: documents on this node.

use crate::flags::DocCommand;
use crate::io::Ctx;
use anyhow::{Context, Result, bail};
use outpost_identity::scope::{Principal, ScopeDef};
use outpost_identity::{DeptPath, RoleCert, Timestamp};
use outpost_node::{Local, now};
use serde_json::json;

pub fn run(ctx: &Ctx, cmd: DocCommand) -> Result<()> {
    if let Some(api) = outpost_node::api_client::ApiClient::running(ctx.home.dir()) {
        return through_node(ctx, &api, cmd);
    }
    let mut local = Local::open(ctx.home.clone())?;
    let now = now();
    match cmd {
        DocCommand::New {
            title,
            scope,
            readers,
            writers,
        } => new(ctx, &mut local, &title, scope, &readers, &writers, now),
        DocCommand::Edit { id, set_text, append } => edit(ctx, &mut local, &id, set_text, append, now),
        DocCommand::Show { id } => show(ctx, &local, &id),
        DocCommand::History { id } => history(ctx, &local, &id),
        DocCommand::List => list(ctx, &local),
    }
}

fn principals(list: &[String]) -> Result<Vec<Principal>> {
    list.iter()
        .map(|p| {
            Principal::parse(p).with_context(|| {
                format!("cannot read {p:?}: write everyone, dept:PATH, role:ROLE or member:KEY (64 hex digits)")
            })
        })
        .collect()
}

fn new(
    ctx: &Ctx,
    local: &mut Local,
    title: &str,
    scope: Option<String>,
    readers: &[String],
    writers: &[String],
    now: Timestamp,
) -> Result<()> {
    let (_, mine) = local
        .require_org()?
        .role_of(&local.member, now)
        .context("you hold no valid certificate")?;
    let mine = mine.clone();
    // A scope its creator may not write in is refused here, before it is
    // stored: the validity rule would refuse the document's first change
    // and leave an empty scope behind.
    let me = Principal::Member(local.member);
    if !may_write(vec![me.clone()], &mine) {
        bail!("a {} may not write documents", mine.role);
    }
    let scope_id = if readers.is_empty() && writers.is_empty() {
        let dept = match scope {
            Some(p) => DeptPath::parse(&p)?,
            None => mine.dept.clone(),
        };
        local.dept_scope(&dept, &ctx.pass, now)?
    } else {
        let mut writers = principals(writers)?;
        if !writers.contains(&me) {
            writers.push(me);
        }
        // The scope's name is visible to every node of the org (relays
        // included), so it must not carry the title.
        let def = ScopeDef {
            name: "shared document".to_owned(),
            readers: principals(readers)?,
            writers,
            nonce: rand::random(),
        };
        local.create_scope(def, &ctx.pass, now)?
    };
    let key = local.create_doc(scope_id, title, &ctx.pass, now)?;
    let scope_name = local
        .require_org()?
        .scope(&scope_id)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    ctx.print(
        format!("created document {} \"{title}\" in scope {scope_name}\n", key.1),
        json!({"id": key.1.to_hex(), "title": title, "scope": scope_id.to_hex(), "scope_name": scope_name}),
    );
    Ok(())
}

/// Would the validity rule accept changes by the holder of `cert` in a
/// scope written by `writers`?
fn may_write(writers: Vec<Principal>, cert: &RoleCert) -> bool {
    ScopeDef {
        name: String::new(),
        readers: Vec::new(),
        writers,
        nonce: 0,
    }
    .allows_write(cert)
}

fn edit(
    ctx: &Ctx,
    local: &mut Local,
    id: &str,
    set_text: Option<String>,
    append: Option<String>,
    _now: Timestamp,
) -> Result<()> {
    match local.edit_doc(id, set_text.as_deref(), append.as_deref(), &ctx.pass)? {
        Some((key, env)) => ctx.print(
            format!("saved change {env} to document {}\n", key.1),
            json!({"id": key.1.to_hex(), "changed": true, "change": hex::encode(env.0)}),
        ),
        None => ctx.print(
            "no change: the text is already that\n",
            json!({"id": id, "changed": false}),
        ),
    }
    Ok(())
}

fn show(ctx: &Ctx, local: &Local, id: &str) -> Result<()> {
    let open = local.open_doc(id, &ctx.pass)?;
    let doc = open
        .view
        .doc
        .context("you do not hold the key of this document's scope: you may not read it")?;
    ctx.print(
        format!("# {}\n\n{}\n", doc.title(), doc.body()),
        json!({"id": open.key.1.to_hex(), "title": doc.title(), "body": doc.body(), "scope": open.view.scope_name, "changes": open.view.changes}),
    );
    Ok(())
}

fn history(ctx: &Ctx, local: &Local, id: &str) -> Result<()> {
    let open = local.open_doc(id, &ctx.pass)?;
    let entries = local.history(&*local.replica()?, &open.ring, &open.key)?;
    let mut text = String::new();
    for e in &entries {
        text.push_str(&format!(
            "{}  {}  {:<20}  {}\n",
            e.id,
            e.time.to_utc_string(),
            e.author,
            e.summary
        ));
    }
    let js: Vec<_> = entries
        .iter()
        .map(|e| json!({"change": hex::encode(e.id.0), "author": e.author, "time": e.time.0, "summary": e.summary}))
        .collect();
    ctx.print(text, json!(js));
    Ok(())
}

fn list(ctx: &Ctx, local: &Local) -> Result<()> {
    let member = ctx.home.member_keys(&ctx.pass)?;
    let ring = local.keyring(&member, &ctx.pass)?;
    let replica = local.replica()?;
    let mut rows = Vec::new();
    for key in replica.docs().copied().collect::<Vec<_>>() {
        if local.is_channel(&replica, &ring, &key) == Some(true) {
            continue;
        }
        let view = local.view_doc(&replica, &ring, &key, &local.device.0[..16], &ctx.pass)?;
        if view.changes == 0 {
            continue;
        }
        let title = view
            .doc
            .as_ref()
            .map_or_else(|| "(no access)".to_owned(), |d| d.title());
        rows.push((key, title, view.scope_name, view.changes, view.updated));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.4));
    let mut text = format!(
        "{:<32}  {:<30}  {:<20}  {:>7}  {}\n",
        "ID", "TITLE", "SCOPE", "CHANGES", "UPDATED"
    );
    for (key, title, scope, changes, updated) in &rows {
        text.push_str(&format!(
            "{}  {title:<30}  {scope:<20}  {changes:>7}  {}\n",
            key.1,
            updated.to_utc_string()
        ));
    }
    let js: Vec<_> = rows
        .iter()
        .map(|(k, t, s, c, u)| json!({"id": k.1.to_hex(), "title": t, "scope": s, "changes": c, "updated": u.0}))
        .collect();
    ctx.print(text, json!(js));
    Ok(())
}

/// The same commands through a running node's API.
fn through_node(ctx: &Ctx, api: &outpost_node::api_client::ApiClient, cmd: DocCommand) -> Result<()> {
    match cmd {
        DocCommand::New {
            title,
            scope,
            readers,
            writers,
        } => {
            if !readers.is_empty() || !writers.is_empty() {
                bail!(
                    "--readers/--writers are not available while the node runs yet: stop it (Ctrl-C) and run the command again"
                );
            }
            let v = api.post("/api/docs", &json!({"title": title, "scope": scope}))?;
            ctx.print(
                format!(
                    "created document {} \"{title}\"\n",
                    v["id"].as_str().unwrap_or_default()
                ),
                v,
            );
        }
        DocCommand::Edit { id, set_text, append } => {
            let v = api.post(
                &format!("/api/docs/{id}"),
                &json!({"set_text": set_text, "append": append}),
            )?;
            let text = if v["changed"] == json!(true) {
                format!(
                    "saved change {} to document {id}\n",
                    &v["change"].as_str().unwrap_or_default()[..16.min(v["change"].as_str().unwrap_or_default().len())]
                )
            } else {
                "no change: the text is already that\n".to_owned()
            };
            ctx.print(text, v);
        }
        DocCommand::Show { id } => {
            let v = api.get(&format!("/api/docs/{id}"))?;
            ctx.print(
                format!(
                    "# {}\n\n{}\n",
                    v["title"].as_str().unwrap_or_default(),
                    v["body"].as_str().unwrap_or_default()
                ),
                v,
            );
        }
        DocCommand::History { id } => {
            let v = api.get(&format!("/api/docs/{id}/history"))?;
            let mut text = String::new();
            for e in v.as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "{}  {}  {:<20}  {}\n",
                    e["change"].as_str().unwrap_or_default().get(..16).unwrap_or_default(),
                    Timestamp(e["time"].as_u64().unwrap_or_default()).to_utc_string(),
                    e["author"].as_str().unwrap_or_default(),
                    e["summary"].as_str().unwrap_or_default()
                ));
            }
            ctx.print(text, v);
        }
        DocCommand::List => {
            let v = api.get("/api/docs")?;
            let mut text = format!("{:<32}  {:<30}  {:<20}  {:>7}\n", "ID", "TITLE", "SCOPE", "CHANGES");
            for d in v.as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "{}  {:<30}  {:<20}  {:>7}\n",
                    d["id"].as_str().unwrap_or_default(),
                    d["title"].as_str().unwrap_or("(no access)"),
                    d["scope"].as_str().unwrap_or_default(),
                    d["changes"]
                ));
            }
            ctx.print(text, v);
        }
    }
    Ok(())
}
