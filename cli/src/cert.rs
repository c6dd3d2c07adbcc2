//! `outpost cert ...`: request, issue, install, show, verify, list, revoke.

use crate::flags::{CertCommand, IssueArgs};
use crate::identity::member_name;
use crate::io::{Ctx, read_input, write_output};
use crate::{INVALID, invalid};
use anyhow::{Context, Result, bail};
use outpost_identity::armor::{self, Label};
use outpost_identity::keys::peer_id_of;
use outpost_identity::request::{Bundle, Invite, Request};
use outpost_identity::state::CertStatus;
use outpost_identity::time::parse_duration;
use outpost_identity::{AuthState, Body, DeptPath, OpId, Role, RoleCert, SignedOp, Timestamp};
use outpost_node::{Local, now};
use serde_json::{Value, json};
use std::path::Path;

pub fn run(ctx: &Ctx, cmd: CertCommand) -> Result<()> {
    match cmd {
        CertCommand::Request { name, out } => request(ctx, name, out.as_deref()),
        CertCommand::Issue(args) => issue(ctx, &args),
        CertCommand::Install { file } => install(ctx, &file),
        CertCommand::Show { file } => show(ctx, &file),
        CertCommand::Verify { file, at } => verify(ctx, &file, at.map(Timestamp)),
        CertCommand::List { dept, role, level, all } => list(ctx, dept.as_deref(), role.as_deref(), level, all),
        CertCommand::Revoke {
            serial,
            reason,
            as_root,
            out,
        } => revoke(ctx, &serial, &reason, as_root, out.as_deref()),
    }
}

/// Writes an armored object, or its JSON description, as asked.
fn emit(ctx: &Ctx, out: Option<&Path>, label: Label, bytes: &[u8], summary: &str, mut js: Value) -> Result<()> {
    let text = armor::encode(label, bytes);
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

fn request(ctx: &Ctx, name: Option<String>, out: Option<&Path>) -> Result<()> {
    let local = Local::open(ctx.home.clone())?;
    let name = match name {
        Some(n) => n,
        None => member_name(&local)?,
    };
    let keys = ctx.home.member_keys(&ctx.pass)?;
    let bytes = Request::sign(&keys, &name, now(), None)?;
    emit(
        ctx,
        out,
        Label::Request,
        &bytes,
        &format!("certificate request for {name} (member key {})", keys.public().short()),
        json!({"name": name, "member": keys.public().to_string()}),
    )
}

fn read_armored(path: &Path, labels: &[Label]) -> Result<(Label, Vec<u8>)> {
    let text = read_input(path)?;
    armor::decode_as(&text, labels).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

fn issue(ctx: &Ctx, args: &IssueArgs) -> Result<()> {
    let mut local = Local::open(ctx.home.clone())?;
    let state = local.require_org()?.clone();
    let (_, bytes) = read_armored(&args.request, &[Label::Request])?;
    let req = Request::decode(&bytes).map_err(|e| invalid(format!("{}: {e}", args.request.display())))?;
    let now = now();
    let root_key;
    let member_keys;
    let signer = if args.as_root {
        root_key = ctx.home.org_root(&ctx.pass)?;
        &root_key.0
    } else {
        member_keys = ctx.home.member_keys(&ctx.pass)?;
        &member_keys.signing
    };
    let (cert, redeem) = match &req.invite {
        Some(inv) => {
            if args.role.is_some() {
                bail!("this request redeems an invite, which already sets role and department: drop --role");
            }
            if inv.org != state.org() {
                return Err(invalid(format!(
                    "the invite in this request is for org {}, not for {}",
                    inv.org,
                    state.org()
                )));
            }
            if inv.issuer != signer.public() {
                return Err(invalid(format!(
                    "the invite in this request was made by {}, not by you: send the request to them",
                    inv.issuer.short()
                )));
            }
            if now > inv.expires {
                return Err(invalid(format!(
                    "the invite expired at {}: make a new one",
                    inv.expires
                )));
            }
            if let Some(prev) = local.store.invite_redeemed_by(&inv.id)? {
                return Err(invalid(format!(
                    "this invite was already redeemed by certificate {prev}; each invite can be used once"
                )));
            }
            (cert_from_invite(&req, inv, now), Some(inv.id))
        }
        None => {
            let role_text = args
                .role
                .as_deref()
                .context("--role is required: admin, dept-head, member, guest or relay")?;
            let role = Role::parse(role_text)
                .with_context(|| format!("unknown role {role_text:?}: use admin, dept-head, member, guest or relay"))?;
            let valid = parse_duration(&args.valid)?;
            let cert = RoleCert {
                serial: rand::random(),
                subject: req.subject,
                exchange: req.exchange,
                name: args.name.clone().unwrap_or_else(|| req.name.clone()),
                email: args.email.clone(),
                dept: DeptPath::parse(&args.dept)?,
                position: args.position.clone(),
                level: args.level,
                role,
                resources: args.resources.clone(),
                not_before: now,
                not_after: now.plus(valid),
                invite: None,
            };
            (cert, None)
        }
    };
    let mut cert = cert;
    if let Some((_, mine)) = state.role_of(&signer.public(), now) {
        // Nothing can outlive its issuer's certificate.
        if cert.not_after > mine.not_after {
            eprintln!(
                "note: validity shortened to {}, the end of your own certificate",
                mine.not_after
            );
            cert.not_after = mine.not_after;
        }
    }
    let summary = format!(
        "issued {} certificate for {} in {} (serial {:016x}, valid until {})",
        cert.role,
        cert.name,
        display_dept(&cert.dept),
        cert.serial,
        cert.not_after
    );
    let js = cert_json(&cert);
    let op = state.sign_grant(signer, cert, now).map_err(invalid)?;
    let id = op.id;
    local.add_ops(vec![op], redeem.map(|inv| (inv, id)))?;
    let bundle = local.bundle_of(id)?;
    emit(
        ctx,
        args.out.as_deref(),
        Label::Certificate,
        &bundle.encode(),
        &summary,
        js,
    )
}

fn cert_from_invite(req: &Request, inv: &Invite, now: Timestamp) -> RoleCert {
    RoleCert {
        serial: rand::random(),
        subject: req.subject,
        exchange: req.exchange,
        name: inv.name.clone(),
        email: inv.email.clone(),
        dept: inv.dept.clone(),
        position: inv.position.clone(),
        level: inv.level,
        role: inv.role,
        resources: Vec::new(),
        not_before: now,
        not_after: now.plus(inv.valid_secs),
        invite: Some(inv.id),
    }
}

fn display_dept(dept: &DeptPath) -> String {
    if dept.segments().is_empty() {
        "the whole org".into()
    } else {
        dept.to_string()
    }
}

fn cert_json(c: &RoleCert) -> Value {
    json!({
        "serial": format!("{:016x}", c.serial),
        "name": c.name, "email": c.email, "dept": c.dept.to_string(), "position": c.position,
        "level": c.level, "role": c.role.name(), "resources": c.resources,
        "subject": c.subject.to_string(),
        "not_before": c.not_before.0, "not_after": c.not_after.0,
    })
}

fn status_json(s: &CertStatus) -> Value {
    json!({"valid": s.is_live(), "status": s.to_string()})
}

/// Decodes an armored bundle file (certificate, revocation or export).
fn read_bundle(path: &Path) -> Result<(Bundle, Vec<SignedOp>)> {
    let (_, bytes) = read_armored(path, &[Label::Certificate, Label::Revocation, Label::Bundle])?;
    Bundle::decode(&bytes).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// The state this node knows plus the bundle's ops, checking the org.
fn state_with(local: Option<&Local>, bundle: &Bundle, ops: &[SignedOp]) -> Result<AuthState> {
    let mut state = match local.and_then(|l| l.state()) {
        Some(s) if s.root() != bundle.root => {
            return Err(invalid(format!(
                "this belongs to org {} ({}), not to this node's org {}",
                bundle.org(),
                bundle.org_name,
                s.org()
            )));
        }
        Some(s) => s.clone(),
        None => AuthState::new(bundle.root),
    };
    state.insert_all(ops.iter().cloned()).map_err(invalid)?;
    Ok(state)
}

fn install(ctx: &Ctx, file: &Path) -> Result<()> {
    let mut local = Local::open(ctx.home.clone())?;
    let (bundle, ops) = read_bundle(file)?;
    let now = now();
    let trial = state_with(Some(&local), &bundle, &ops)?;
    let subject = bundle
        .subject
        .and_then(|id| trial.op(&id).map(|op| (id, op.op.body.clone())));
    // A certificate that is not valid is refused before anything is stored.
    if let Some((id, Body::Grant(_))) = &subject {
        let status = trial.status(id, now);
        if !status.is_live() {
            return Err(invalid(format!("certificate {id} is {status}")));
        }
    }
    // Certifying this device below needs the member key: open it before
    // anything is stored, so that a wrong or missing passphrase changes nothing.
    if trial.role_of(&local.member, now).is_some() && trial.device_principal(&local.device, now).is_none() {
        ctx.home.member_keys(&ctx.pass)?;
    }
    if local.state().is_none() {
        // Joining an org: only on the strength of a valid certificate for this member.
        match &subject {
            Some((_, Body::Grant(c))) if c.subject == local.member => {}
            Some((_, Body::Grant(c))) => {
                return Err(invalid(format!(
                    "this certificate is for {} (key {}), not for this member ({}): install your own certificate first",
                    c.name,
                    c.subject.short(),
                    local.member.short()
                )));
            }
            _ => {
                return Err(invalid(
                    "this node belongs to no org yet: install your own certificate first",
                ));
            }
        }
        local.pin_org(bundle.root, &bundle.org_name)?;
    }
    let added = local.add_ops(ops, None)?;
    let device = local.ensure_device_cert(&ctx.pass, now)?;
    let state = local.require_org()?;
    let mut js = json!({"org": state.org().to_string(), "added": added, "device_cert": device.map(|d| d.to_hex())});
    let mut text = String::new();
    match &subject {
        Some((id, Body::Grant(c))) => {
            let status = state.status(id, now);
            text = format!(
                "installed {} certificate for {} in {} ({}); {added} new op(s)\n",
                c.role,
                c.name,
                display_dept(&c.dept),
                status
            );
            js["cert"] = cert_json(c);
            js["status"] = status_json(&status);
        }
        Some((id, Body::Revoke(r))) => {
            let status = state.status(&r.target, now);
            text = format!(
                "recorded revocation {id} of certificate {}: it is now {status}\n",
                r.target
            );
            js["revoked"] = json!(r.target.to_hex());
        }
        _ => text.push_str(&format!("imported {added} new op(s) into org {}\n", state.org())),
    }
    if device.is_some() {
        text.push_str(&format!("certified this device ({})\n", peer_id_of(&local.device)));
    }
    ctx.print(text, js);
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

fn verify(ctx: &Ctx, file: &Path, at: Option<Timestamp>) -> Result<()> {
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
    let (bundle, ops) = Bundle::decode(&bytes).map_err(|e| bad(&e))?;
    let local = if ctx.home.is_initialised() {
        Some(Local::open(ctx.home.clone())?)
    } else {
        None
    };
    let state = state_with(local.as_ref(), &bundle, &ops)?;
    let subject = bundle
        .subject
        .context("this bundle names no certificate to verify; use `outpost cert show`")?;
    let status = state.status(&subject, at);
    let name = match state.op(&subject).map(|o| &o.op.body) {
        Some(Body::Grant(c)) => format!("{} ({} of {})", c.name, c.role, display_dept(&c.dept)),
        Some(Body::Device(d)) => format!("device {}", peer_id_of(&d.device)),
        Some(Body::Revoke(r)) => {
            let verdict = state.verdict(&subject);
            if verdict == Some(&outpost_identity::state::Verdict::Accepted) {
                ctx.print(
                    format!("valid revocation of {}\n", r.target),
                    json!({"valid": true, "kind": "revocation"}),
                );
                return Ok(());
            }
            return Err(invalid(format!("revocation {subject} is not valid: {verdict:?}")));
        }
        _ => String::new(),
    };
    if status.is_live() {
        ctx.print(
            format!("valid: {name}, certificate {subject}\n"),
            json!({"valid": true, "id": subject.to_hex()}),
        );
        Ok(())
    } else {
        if ctx.json {
            ctx.print(
                "",
                json!({"valid": false, "id": subject.to_hex(), "status": status.to_string()}),
            );
        }
        Err(crate::Failure {
            code: INVALID,
            message: format!("{name}: certificate {subject} is {status}"),
        }
        .into())
    }
}

fn list(ctx: &Ctx, dept: Option<&str>, role: Option<&str>, level: Option<u16>, all: bool) -> Result<()> {
    let local = Local::open(ctx.home.clone())?;
    let state = local.require_org()?;
    let now = now();
    let dept = dept.map(DeptPath::parse).transpose()?;
    let role = match role {
        Some(r) => Some(
            Role::parse(r)
                .with_context(|| format!("unknown role {r:?}: use admin, dept-head, member, guest or relay"))?,
        ),
        None => None,
    };
    let mut rows = Vec::new();
    for op in state.ops() {
        let Body::Grant(c) = &op.op.body else {
            continue;
        };
        let status = state.status(&op.id, now);
        let keep = (all || status.is_live())
            && dept.as_ref().is_none_or(|d| c.dept.is_within(d))
            && role.is_none_or(|r| r == c.role)
            && level.is_none_or(|l| l == c.level);
        if keep {
            rows.push((op.id, c, status));
        }
    }
    rows.sort_by(|a, b| (a.1.dept.to_string(), &a.1.name).cmp(&(b.1.dept.to_string(), &b.1.name)));
    let mut text = format!(
        "{:<16}  {:<20}  {:<9}  {:<24}  {:<16}  {:>5}  {}\n",
        "SERIAL", "NAME", "ROLE", "DEPT", "POSITION", "LEVEL", "STATUS"
    );
    for (_, c, status) in &rows {
        let status = match status {
            CertStatus::Live => format!("valid until {}", c.not_after.to_utc_string()),
            CertStatus::Revoked { .. } => "revoked".into(),
            CertStatus::Expired { .. } => "expired".into(),
            other => other.to_string(),
        };
        text.push_str(&format!(
            "{:016x}  {:<20}  {:<9}  {:<24}  {:<16}  {:>5}  {}\n",
            c.serial,
            c.name,
            c.role.name(),
            display_dept(&c.dept),
            c.position,
            c.level,
            status
        ));
    }
    text.push_str(&format!("{} certificate(s)\n", rows.len()));
    let js: Vec<Value> = rows
        .iter()
        .map(|(id, c, s)| {
            let mut v = cert_json(c);
            v["id"] = json!(id.to_hex());
            v["status"] = status_json(s);
            v
        })
        .collect();
    ctx.print(text, Value::Array(js));
    Ok(())
}

fn revoke(ctx: &Ctx, serial: &str, reason: &str, as_root: bool, out: Option<&Path>) -> Result<()> {
    let mut local = Local::open(ctx.home.clone())?;
    let state = local.require_org()?.clone();
    let matches: Vec<OpId> = state.find(serial);
    let target = match matches.as_slice() {
        [one] => *one,
        [] => bail!("no certificate with serial or id {serial:?} is known here; see `outpost cert list --all`"),
        many => bail!(
            "{serial:?} matches {} certificates ({}); give more digits",
            many.len(),
            many.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ")
        ),
    };
    let now = now();
    let root_key;
    let member_keys;
    let signer = if as_root {
        root_key = ctx.home.org_root(&ctx.pass)?;
        &root_key.0
    } else {
        member_keys = ctx.home.member_keys(&ctx.pass)?;
        &member_keys.signing
    };
    let (id, rekeyed) = local.revoke(signer, target, reason, &ctx.pass, now).map_err(|e| {
        if e.downcast_ref::<outpost_identity::issue::IssueError>().is_some() {
            invalid(format!("{e:#}"))
        } else {
            e
        }
    })?;
    let state = local.require_org()?;
    let fallen: Vec<String> = state
        .ops()
        .filter(|o| matches!(o.op.body, Body::Grant(_) | Body::Device(_)))
        .filter(|o| state.chain(o.id).contains(&target) && o.id != target)
        .map(|o| o.id.to_hex())
        .collect();
    let rekeyed_note = if rekeyed.is_empty() {
        String::new()
    } else {
        format!("; new keys for {} scope(s) they could read", rekeyed.len())
    };
    let summary = format!(
        "revoked certificate {target}{}{rekeyed_note}",
        if fallen.is_empty() {
            String::new()
        } else {
            format!(" and {} certificate(s) issued under it", fallen.len())
        }
    );
    // The new keys travel with the revocation, so other writers move to them.
    let bundle = {
        let state = local.require_org()?;
        let mut ops: Vec<&outpost_identity::SignedOp> = state.closure(id);
        for epoch in &rekeyed {
            for op in state.closure(*epoch) {
                if !ops.iter().any(|o| o.id == op.id) {
                    ops.push(op);
                }
            }
        }
        Bundle::new(state.root(), local.org_name(), Some(id), ops)
    };
    emit(
        ctx,
        out,
        Label::Revocation,
        &bundle.encode(),
        &summary,
        json!({"revocation": id.to_hex(), "target": target.to_hex(), "cascade": fallen}),
    )
}
