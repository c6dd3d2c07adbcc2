//! `outpost staff import` and `outpost invite redeem`: bulk onboarding.

use crate::flags::{InviteCommand, StaffCommand};
use crate::io::{Ctx, read_input};
use crate::{Failure, PARTIAL, invalid};
use anyhow::{Context, Result, bail};
use outpost_identity::armor::{self, Label};
use outpost_identity::op::check_text;
use outpost_identity::request::{Invite, Request};
use outpost_identity::rules::{self, Issuer};
use outpost_identity::time::parse_duration;
use outpost_identity::{DeptPath, ExchangeKey, Role, RoleCert, Timestamp};
use outpost_node::{Local, now};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

pub fn run(ctx: &Ctx, cmd: StaffCommand) -> Result<()> {
    match cmd {
        StaffCommand::Import {
            csv,
            out,
            valid,
            invite_valid,
        } => import(ctx, &csv, &out, &valid, &invite_valid),
        StaffCommand::Pending { csv, clear, clear_all } => {
            crate::integrations::staff_pending(ctx, csv.as_deref(), clear, clear_all)
        }
    }
}

pub fn invite(ctx: &Ctx, cmd: InviteCommand) -> Result<()> {
    match cmd {
        InviteCommand::Redeem { file, out } => redeem(ctx, &file, out.as_deref()),
    }
}

/// One person from the staff list.
struct Row {
    name: String,
    dept: DeptPath,
    position: String,
    level: u16,
    role: Role,
    email: String,
}

const COLUMNS: [&str; 6] = ["name", "department", "position", "level", "role", "email"];

fn parse_row(record: &csv::StringRecord, columns: &HashMap<String, usize>) -> Result<Row, String> {
    let get = |col: &str| {
        columns
            .get(col)
            .and_then(|i| record.get(*i))
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let name = get("name");
    check_text("name", &name, true).map_err(|e| e.to_string())?;
    let dept = DeptPath::parse(&get("department")).map_err(|e| e.to_string())?;
    if dept.segments().is_empty() {
        return Err("department is empty: give a path such as HQ/East/Sales".into());
    }
    let position = get("position");
    check_text("position", &position, false).map_err(|e| e.to_string())?;
    let level_text = get("level");
    let level = if level_text.is_empty() {
        0
    } else {
        level_text
            .parse()
            .map_err(|_| format!("level {level_text:?} is not a whole number from 0 to 65535"))?
    };
    let role_text = get("role");
    let role = if role_text.is_empty() {
        Role::Member
    } else {
        Role::parse(&role_text)
            .ok_or_else(|| format!("role {role_text:?} is not one of admin, dept-head, member, guest, relay"))?
    };
    let email = get("email");
    check_text("email", &email, false).map_err(|e| e.to_string())?;
    if !email.is_empty() && !email.contains('@') {
        return Err(format!("email {email:?} has no '@'"));
    }
    Ok(Row {
        name,
        dept,
        position,
        level,
        role,
        email,
    })
}

/// A file name for a person: the line number, then letters and digits of the
/// email's local part or the name.
fn file_name(line: u64, row: &Row) -> String {
    let base = if row.email.is_empty() {
        row.name.as_str()
    } else {
        row.email.split('@').next().unwrap_or("")
    };
    let slug: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        format!("{line:04}.invite")
    } else {
        format!("{line:04}-{slug}.invite")
    }
}

fn import(ctx: &Ctx, csv_path: &Path, out: &Path, valid: &str, invite_valid: &str) -> Result<()> {
    let local = Local::open(ctx.home.clone())?;
    let state = local.require_org()?;
    let now = now();
    let valid_secs = parse_duration(valid)?;
    let invite_secs = parse_duration(invite_valid)?;
    let keys = ctx.home.member_keys(&ctx.pass)?;
    let (_, my_cert) = state
        .role_of(&keys.public(), now)
        .context("you hold no valid certificate in this org, so you cannot invite anyone")?;
    let my_cert = my_cert.clone();

    let text = read_input(csv_path)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .with_context(|| format!("cannot read the header line of {}", csv_path.display()))?;
    let columns: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_ascii_lowercase(), i))
        .collect();
    let missing: Vec<&str> = ["name", "department"]
        .into_iter()
        .filter(|c| !columns.contains_key(*c))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{}: the header line lacks column(s) {}; expected columns: {}",
            csv_path.display(),
            missing.join(", "),
            COLUMNS.join(", ")
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;

    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for result in reader.records() {
        let (line, row) = match result {
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                failed.push((line, String::new(), format!("unreadable CSV: {e}")));
                continue;
            }
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                match parse_row(&record, &columns) {
                    Ok(row) => (line, row),
                    Err(why) => {
                        failed.push((line, record.get(columns["name"]).unwrap_or("").to_owned(), why));
                        continue;
                    }
                }
            }
        };
        // Check the delegation rules now, so nobody gets an invite that
        // cannot be honoured.
        let probe = RoleCert {
            serial: 0,
            subject: keys.public(),
            exchange: ExchangeKey([0; 32]),
            name: row.name.clone(),
            email: row.email.clone(),
            dept: row.dept.clone(),
            position: row.position.clone(),
            level: row.level,
            role: row.role,
            resources: Vec::new(),
            not_before: now,
            not_after: now.plus(valid_secs),
            invite: None,
        };
        if let Err(e) = rules::may_grant(Issuer::Holder(&my_cert), &probe) {
            failed.push((line, row.name.clone(), e.to_string()));
            continue;
        }
        let mut id = [0u8; 16];
        rand::fill(&mut id);
        let inv = Invite {
            id,
            org: state.org(),
            root: state.root(),
            issuer: keys.public(),
            name: row.name.clone(),
            email: row.email.clone(),
            dept: row.dept.clone(),
            position: row.position.clone(),
            level: row.level,
            role: row.role,
            valid_secs,
            expires: now.plus(invite_secs),
            sig: Vec::new(),
        }
        .sign(&keys.signing);
        let path = out.join(file_name(line, &row));
        outpost_node::home::write_private(&path, armor::encode(Label::Invite, &inv.encode()).as_bytes())?;
        ok.push((line, row, path));
    }

    let mut text = format!(
        "{:>5}  {:<20}  {:<24}  {:<9}  {}\n",
        "LINE", "NAME", "DEPT", "ROLE", "INVITE / PROBLEM"
    );
    for (line, row, path) in &ok {
        text.push_str(&format!(
            "{line:>5}  {:<20}  {:<24}  {:<9}  {}\n",
            row.name,
            row.dept.to_string(),
            row.role.name(),
            path.display()
        ));
    }
    for (line, name, why) in &failed {
        text.push_str(&format!("{line:>5}  {name:<20}  {:<24}  {:<9}  ERROR: {why}\n", "", ""));
    }
    text.push_str(&format!(
        "{} invite(s) written to {}, {} row(s) failed\n",
        ok.len(),
        out.display(),
        failed.len()
    ));
    let js = json!({
        "invites": ok.iter().map(|(l, r, p)| json!({"line": l, "name": r.name, "dept": r.dept.to_string(), "role": r.role.name(), "email": r.email, "file": p})).collect::<Vec<_>>(),
        "errors": failed.iter().map(|(l, n, w)| json!({"line": l, "name": n, "error": w})).collect::<Vec<_>>(),
    });
    ctx.print(text, js);
    if failed.is_empty() {
        Ok(())
    } else {
        let lines: Vec<String> = failed.iter().map(|(l, _, w)| format!("line {l}: {w}")).collect();
        Err(Failure {
            code: PARTIAL,
            message: format!("{} row(s) failed: {}", failed.len(), lines.join("; ")),
        }
        .into())
    }
}

fn redeem(ctx: &Ctx, file: &Path, out: Option<&Path>) -> Result<()> {
    let text = read_input(file)?;
    let (_, bytes) =
        armor::decode_as(&text, &[Label::Invite]).map_err(|e| invalid(format!("{}: {e}", file.display())))?;
    let inv = Invite::decode(&bytes).map_err(|e| invalid(format!("{}: {e}", file.display())))?;
    let now: Timestamp = now();
    if now > inv.expires {
        return Err(invalid(format!(
            "this invite expired at {}: ask your admin for a new one",
            inv.expires
        )));
    }
    let local = Local::open(ctx.home.clone())?;
    if let Some(state) = local.state()
        && state.org() != inv.org
    {
        return Err(invalid(format!(
            "this invite is for org {}, but this node belongs to org {}; use another --home",
            inv.org,
            state.org()
        )));
    }
    let keys = ctx.home.member_keys(&ctx.pass)?;
    let name = inv.name.clone();
    let role = inv.role;
    let dept = inv.dept.to_string();
    let bytes = Request::sign(&keys, &name, now, Some(inv))?;
    let armored = armor::encode(Label::Request, &bytes);
    let summary = format!("request for {name} ({role} of {dept}); send it back to the admin who invited you");
    match out {
        Some(path) => {
            std::fs::write(path, &armored).with_context(|| format!("cannot write {}", path.display()))?;
            ctx.print(
                format!("{summary}; written to {}\n", path.display()),
                json!({"name": name, "file": path}),
            );
        }
        None if ctx.json => ctx.print("", json!({"name": name, "armored": armored})),
        None => {
            eprintln!("{summary}");
            print!("{armored}");
        }
    }
    Ok(())
}
