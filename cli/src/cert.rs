//! `outpost cert ...`: request, issue, install, show, verify, list, revoke.
//!
//! The work is done by `outpost_node::certs`, on this process's own view of
//! the store, or through a running node's API (which holds the store open)
//! when one runs; either way the output and exit codes are the same.

use crate::flags::{CertCommand, IssueArgs};
use crate::identity::default_name;
use crate::io::{Ctx, read_input, write_output};
use crate::{INVALID, invalid};
use anyhow::{Context, Result, bail};
use outpost_identity::armor::{self, Label};
use outpost_identity::keys::peer_id_of;
use outpost_identity::request::{Bundle, Invite, Request};
use outpost_identity::{Body, SignedOp, Timestamp};
use outpost_node::api_client::ApiClient;
use outpost_node::certs::{self, ListFilter, Made, Report, RevokeArgs, Verified, cert_json, display_dept};
use outpost_node::{Local, now};
use serde_json::{Value, json};
use std::path::Path;

pub fn run(ctx: &Ctx, cmd: CertCommand) -> Result<()> {
    // `show` reads only the file; the others need the store, which a
    // running node holds: they go through its API then.
    let api = match cmd {
        CertCommand::Show { .. } => None,
        _ => ApiClient::running(ctx.home.dir()),
    };
    let api = api.as_ref();
    match cmd {
        CertCommand::Request { name, out } => request(ctx, api, name, out.as_deref()),
        CertCommand::Issue(args) => issue(ctx, api, &args),
        CertCommand::Install { file } => install(ctx, api, &file),
        CertCommand::Show { file } => show(ctx, &file),
        CertCommand::Verify { file, at } => verify(ctx, api, &file, at.map(Timestamp)),
        CertCommand::List {
            dept,
            role,
            level,
            all,
            devices,
        } => list(
            ctx,
            api,
            ListFilter {
                dept,
                role,
                level,
                all,
                devices,
            },
        ),
        CertCommand::Revoke {
            serial,
            reason,
            as_root,
            out,
        } => revoke(
            ctx,
            api,
            RevokeArgs {
                serial,
                reason,
                as_root,
            },
            out.as_deref(),
        ),
    }
}

/// Posts `body` to a running node and reads its answer as `T`.
fn post<T: serde::de::DeserializeOwned>(api: &ApiClient, path: &str, body: &impl serde::Serialize) -> Result<T> {
    let v = api.post(
        path,
        &serde_json::to_value(body).context("cannot encode the request to the node")?,
    )?;
    serde_json::from_value(v).with_context(|| format!("the node's answer to {path} is not what this version expects"))
}

/// Writes an armored object, or its JSON description, as asked.
fn emit(ctx: &Ctx, out: Option<&Path>, made: Made) -> Result<()> {
    for note in &made.notes {
        eprintln!("{note}");
    }
    let Made {
        armored: text,
        summary,
        json: mut js,
        ..
    } = made;
    match out {
        Some(path) => {
            write_output(Some(path), &text)?;
            js["file"] = json!(path);
            ctx.print(format!("{summary}; written to {}\n", path.display()), js);
        }
        None if ctx.json => {
            js["armored"] = json!(text);
            ctx.print("", js);
        }
        None => {
            eprintln!("{summary}");
            print!("{text}");
        }
    }
    Ok(())
}

fn request(ctx: &Ctx, api: Option<&ApiClient>, name: Option<String>, out: Option<&Path>) -> Result<()> {
    let made = match api {
        Some(api) => post(
            api,
            "/api/certs/request",
            &json!({"name": name, "default_name": default_name()}),
        )?,
        None => {
            let local = Local::open(ctx.home.clone())?;
            certs::request(&local, &ctx.pass, name, &default_name(), now())?
        }
    };
    emit(ctx, out, made)
}

fn issue(ctx: &Ctx, api: Option<&ApiClient>, args: &IssueArgs) -> Result<()> {
    let mut local = match api {
        Some(_) => None,
        None => Some(Local::open(ctx.home.clone())?),
    };
    let request = read_input(&args.request)?;
    let args_core = certs::IssueArgs {
        request,
        source: args.request.display().to_string(),
        role: args.role.clone(),
        dept: args.dept.clone(),
        position: args.position.clone(),
        level: args.level,
        email: args.email.clone(),
        name: args.name.clone(),
        resources: args.resources.clone(),
        valid: args.valid.clone(),
        as_root: args.as_root,
    };
    let made = match (api, local.as_mut()) {
        (Some(api), _) => post(api, "/api/certs/issue", &args_core)?,
        (None, Some(local)) => certs::issue(local, &ctx.pass, &args_core, now())?,
        (None, None) => unreachable!("the store is opened when no node runs"),
    };
    emit(ctx, args.out.as_deref(), made)
}

fn install(ctx: &Ctx, api: Option<&ApiClient>, file: &Path) -> Result<()> {
    let mut local = match api {
        Some(_) => None,
        None => Some(Local::open(ctx.home.clone())?),
    };
    let bundle = read_input(file)?;
    let source = file.display().to_string();
    let report: Report = match (api, local.as_mut()) {
        (Some(api), _) => post(api, "/api/certs/install", &json!({"bundle": bundle, "source": source}))?,
        (None, Some(local)) => certs::install(local, &ctx.pass, &bundle, &source, now())?,
        (None, None) => unreachable!("the store is opened when no node runs"),
    };
    ctx.print(report.text, report.json);
    Ok(())
}

fn describe_op(op: &SignedOp) -> (String, Value) {
    match &op.op.body {
        Body::Grant(c) => (
            format!(
                "role certificate {}\n  serial    {:016x}\n  name      {}\n  email     {}\n  role      {}\n  dept      {}\n  position  {}\n  level     {}\n  subject   {}\n  valid     {} to {}\n  issuer    {}{}\n",
                op.id,
                c.serial,
                c.name,
                c.email,
                c.role,
                display_dept(&c.dept),
                c.position,
                c.level,
                c.subject,
                c.not_before,
                c.not_after,
                op.op.author,
                if c.resources.is_empty() {
                    String::new()
                } else {
                    format!("\n  resources {}", c.resources.join(", "))
                }
            ),
            json!({"kind": "role-certificate", "id": op.id.to_hex(), "issuer": op.op.author.to_string(), "cert": cert_json(c)}),
        ),
        Body::Device(d) => (
            format!(
                "device certificate {}\n  serial    {:016x}\n  device    {}\n  name      {}\n  member    {}\n  valid     {} to {}\n",
                op.id,
                d.serial,
                peer_id_of(&d.device),
                d.name,
                op.op.author,
                d.not_before,
                d.not_after
            ),
            json!({"kind": "device-certificate", "id": op.id.to_hex(), "device": peer_id_of(&d.device), "member": op.op.author.to_string(), "not_after": d.not_after.0}),
        ),
        Body::Revoke(r) => (
            format!(
                "revocation {}\n  target    {}\n  reason    {}\n  at        {}\n  by        {}\n",
                op.id, r.target, r.reason, r.at, op.op.author
            ),
            json!({"kind": "revocation", "id": op.id.to_hex(), "target": r.target.to_hex(), "reason": r.reason, "by": op.op.author.to_string()}),
        ),
        _ => ("unknown op\n".into(), json!({"kind": "unknown"})),
    }
}

fn show(ctx: &Ctx, file: &Path) -> Result<()> {
    let text = read_input(file)?;
    let (label, bytes) = armor::decode(&text).map_err(|e| invalid(format!("{}: {e}", file.display())))?;
    let bad = |e: &dyn std::fmt::Display| invalid(format!("{}: {e}", file.display()));
    match label {
        Label::Request => {
            let r = Request::decode(&bytes).map_err(|e| bad(&e))?;
            let mut out = format!(
                "certificate request\n  name      {}\n  member    {}\n  made      {}\n",
                r.name, r.subject, r.created
            );
            if let Some(inv) = &r.invite {
                out.push_str(&format!(
                    "  redeems   invite for {} ({} in {})\n",
                    inv.name,
                    inv.role,
                    display_dept(&inv.dept)
                ));
            }
            ctx.print(out, json!({"kind": "request", "name": r.name, "member": r.subject.to_string(), "invite": r.invite.is_some()}));
        }
        Label::Invite => {
            let inv = Invite::decode(&bytes).map_err(|e| bad(&e))?;
            ctx.print(
                format!(
                    "invite\n  name      {}\n  email     {}\n  role      {}\n  dept      {}\n  position  {}\n  level     {}\n  org       {}\n  expires   {}\n",
                    inv.name, inv.email, inv.role, display_dept(&inv.dept), inv.position, inv.level, inv.org, inv.expires
                ),
                json!({"kind": "invite", "name": inv.name, "email": inv.email, "role": inv.role.name(), "dept": inv.dept.to_string(), "org": inv.org.to_string(), "expires": inv.expires.0}),
            );
        }
        Label::PrivateKey => bail!("{} is a private key file: never share it", file.display()),
        _ => {
            let (bundle, ops) = Bundle::decode(&bytes).map_err(|e| bad(&e))?;
            let subject = bundle.subject.and_then(|s| ops.iter().find(|o| o.id == s));
            let (mut out, mut js) = match subject {
                Some(op) => describe_op(op),
                None => (
                    format!("bundle of {} op(s)\n", ops.len()),
                    json!({"kind": "bundle", "ops": ops.len()}),
                ),
            };
            out.push_str(&format!("  org       {} ({})\n", bundle.org_name, bundle.org()));
            js["org"] = json!(bundle.org().to_string());
            ctx.print(out, js);
        }
    }
    Ok(())
}

fn verify(ctx: &Ctx, api: Option<&ApiClient>, file: &Path, at: Option<Timestamp>) -> Result<()> {
    let at = at.unwrap_or_else(now);
    let text = read_input(file)?;
    let (label, bytes) = armor::decode(&text).map_err(|e| invalid(format!("{}: {e}", file.display())))?;
    let bad = |e: &dyn std::fmt::Display| invalid(format!("{}: {e}", file.display()));
    match label {
        Label::Request => {
            let r = Request::decode(&bytes).map_err(|e| bad(&e))?;
            ctx.print(
                format!("valid request from {}\n", r.name),
                json!({"valid": true, "kind": "request"}),
            );
            return Ok(());
        }
        Label::Invite => {
            let inv = Invite::decode(&bytes).map_err(|e| bad(&e))?;
            if at > inv.expires {
                return Err(invalid(format!("invite for {} expired at {}", inv.name, inv.expires)));
            }
            ctx.print(
                format!("valid invite for {}\n", inv.name),
                json!({"valid": true, "kind": "invite"}),
            );
            return Ok(());
        }
        _ => {}
    }
    let source = file.display().to_string();
    let verified: Verified = match api {
        Some(api) => post(
            api,
            "/api/certs/verify",
            &json!({"bundle": text, "source": source, "at": at.0}),
        )?,
        None => {
            let local = if ctx.home.is_initialised() {
                Some(Local::open(ctx.home.clone())?)
            } else {
                None
            };
            certs::verify_bundle(local.as_ref(), &text, &source, at)?
        }
    };
    match verified.message {
        None => {
            ctx.print(verified.report.text, verified.report.json);
            Ok(())
        }
        Some(message) => {
            if ctx.json {
                ctx.print("", verified.report.json);
            }
            Err(crate::Failure { code: INVALID, message }.into())
        }
    }
}

fn list(ctx: &Ctx, api: Option<&ApiClient>, filter: ListFilter) -> Result<()> {
    let report: Report = match api {
        Some(api) => post(api, "/api/certs/list", &filter)?,
        None => certs::list(&Local::open(ctx.home.clone())?, &filter, now())?,
    };
    ctx.print(report.text, report.json);
    Ok(())
}

fn revoke(ctx: &Ctx, api: Option<&ApiClient>, args: RevokeArgs, out: Option<&Path>) -> Result<()> {
    let made = match api {
        Some(api) => post(api, "/api/certs/revoke", &args)?,
        None => certs::revoke(&mut Local::open(ctx.home.clone())?, &ctx.pass, &args, now())?,
    };
    emit(ctx, out, made)
}
