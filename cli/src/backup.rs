//! `outpost backup ...`: encrypted full and incremental backups of the
//! home (see `outpost_node::backup`), their verification and restore.
//!
//! `create` and `schedule` need the store: they go through a running node
//! (`POST /api/backup`) or open the home directly. `verify`, `restore`
//! and `key` read only files.

use crate::flags::BackupCommand;
use crate::io::Ctx;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use outpost_node::Local;
use outpost_node::api_client::ApiClient;
use outpost_node::backup::{self, BackupRequest, Schedule};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A spinner on a terminal, nothing otherwise (or with --json).
fn spinner(ctx: &Ctx, what: &str) -> ProgressBar {
    let bar = if ctx.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(ProgressStyle::with_template("{spinner} {prefix}: {msg} {elapsed}").expect("the template is valid"));
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_owned());
    }
    Ok(std::env::current_dir()
        .context("cannot read the current directory")?
        .join(p))
}

fn key_for(ctx: &Ctx, key: Option<&Path>) -> Result<outpost_store::backup::BackupKey> {
    match key {
        Some(path) => backup::read_key_file(path),
        None => backup::key(&ctx.home)?.with_context(|| {
            format!(
                "{} holds no backup key: give the key exported when the backup was made with --key FILE",
                ctx.home.dir().display()
            )
        }),
    }
}

fn call(ctx: &Ctx, req: BackupRequest) -> Result<Value> {
    match ApiClient::running(ctx.home.dir()) {
        Some(api) => api.post("/api/backup", &serde_json::to_value(&req)?),
        None => {
            let mut local = Local::open(ctx.home.clone())?;
            backup::handle_offline(&mut local, &ctx.pass, req)
        }
    }
}

fn created_text(v: &Value) -> String {
    let mut t = format!(
        "{} backup {} written to {}: {} changed of {} rows and files, {} segments, {} bytes\n",
        v["kind"].as_str().unwrap_or_default(),
        v["seq"],
        v["path"].as_str().unwrap_or_default(),
        v["records"],
        v["items"],
        v["segments"],
        v["bytes"]
    );
    if let Some(note) = v["note"].as_str() {
        let _ = writeln!(t, "note: {note}");
    }
    for r in v["removed"].as_array().into_iter().flatten() {
        let _ = writeln!(t, "removed the old chain {}", r.as_str().unwrap_or_default());
    }
    t
}

/// `outpost backup ...`.
pub fn run(ctx: &Ctx, cmd: BackupCommand) -> Result<()> {
    match cmd {
        BackupCommand::Create {
            full,
            incremental,
            to,
            keep,
        } => {
            let kind = if full {
                Some("full".to_owned())
            } else if incremental {
                Some("incremental".to_owned())
            } else {
                None
            };
            let to = absolute(&to)?;
            let v = match ApiClient::running(ctx.home.dir()) {
                Some(api) => {
                    let bar = spinner(ctx, "backing up through the running node");
                    let req = BackupRequest::Create { to, kind, keep };
                    let v = api.post("/api/backup", &serde_json::to_value(&req)?);
                    bar.finish_and_clear();
                    v?
                }
                None => {
                    let mut local = Local::open(ctx.home.clone())?;
                    let want = backup::parse_kind(kind.as_deref())?;
                    let key = backup::key_or_create(&ctx.home)?;
                    let bar = spinner(ctx, "backing up");
                    let now = outpost_node::now();
                    let made = backup::create(
                        ctx.home.dir(),
                        &local.store,
                        &to,
                        &key,
                        want,
                        keep,
                        now.0,
                        &mut |items, bytes| {
                            bar.set_message(format!("{items} rows and files read, {bytes} bytes written"))
                        },
                    );
                    bar.finish_and_clear();
                    let made = made?;
                    local.audit(
                        "backup.create",
                        &made.path.display().to_string(),
                        &backup::audit_detail(&made),
                        &ctx.pass,
                        now,
                    )?;
                    serde_json::to_value(made)?
                }
            };
            ctx.print(created_text(&v), v);
            Ok(())
        }
        BackupCommand::Verify { from, key } => {
            let key = key_for(ctx, key.as_deref())?;
            let bar = spinner(ctx, "verifying");
            let got = backup::verify(&from, &key);
            bar.finish_and_clear();
            let v = got?;
            let mut text = format!(
                "the backup chain {} is intact: {} backup(s), {} rows and files\n",
                v.chain.display(),
                v.backups.len(),
                v.items
            );
            for (seq, kind, created) in &v.backups {
                let _ = writeln!(text, "  {seq:04}  {kind}  made at {created}");
            }
            for p in &v.partial {
                let _ = writeln!(text, "ignored: {} is an interrupted backup (never read)", p.display());
            }
            ctx.print(text, serde_json::to_value(&v)?);
            Ok(())
        }
        BackupCommand::Restore { from, key, upto } => {
            let key = backup::read_key_file(&key)?;
            let bar = spinner(ctx, "restoring");
            let got = backup::restore(&from, ctx.home.dir(), &key, upto);
            bar.finish_and_clear();
            let r = got?;
            let text = format!(
                "restored {} rows and files from {} (up to backup {}) into {}\nstart it with `outpost up --home {}` and connect it to a peer: it catches up with what was written after the backup\n",
                r.items,
                r.chain.display(),
                r.upto,
                ctx.home.dir().display(),
                ctx.home.dir().display()
            );
            ctx.print(text, serde_json::to_value(&r)?);
            Ok(())
        }
        BackupCommand::Key { out } => {
            if !ctx.home.is_initialised() {
                anyhow::bail!(
                    "no Outpost identity in {}: nothing to back up yet",
                    ctx.home.dir().display()
                );
            }
            let key = backup::key_or_create(&ctx.home)?;
            let text = key.to_text();
            match out {
                Some(path) => {
                    outpost_node::home::write_private(&path, text.as_bytes())?;
                    ctx.print(
                        format!(
                            "the backup key {} was written to {} (0600): keep it offline, apart from the backups\n",
                            key.id_hex(),
                            path.display()
                        ),
                        json!({"key_id": key.id_hex(), "file": path}),
                    );
                }
                None => ctx.print(text.clone(), json!({"key_id": key.id_hex(), "key": text})),
            }
            Ok(())
        }
        BackupCommand::Schedule {
            dir,
            keep,
            daily_at,
            full_on,
            off,
        } => {
            let set = match dir {
                Some(d) => Some(Schedule {
                    dir: absolute(&d)?,
                    keep: keep.unwrap_or(backup::KEEP_DEFAULT),
                    daily_at: daily_at.unwrap_or_else(|| "02:00".into()),
                    full_on: full_on.unwrap_or_else(|| "sun".into()),
                }),
                None if keep.is_some() || daily_at.is_some() || full_on.is_some() => {
                    anyhow::bail!("give the backup directory with --dir DIR to set the schedule")
                }
                None => None,
            };
            let v = call(ctx, BackupRequest::Schedule { set, off })?;
            let s = &v["schedule"];
            let mut text = if s.is_null() {
                "no scheduled backups: set a directory with `outpost backup schedule --dir DIR`\n".to_owned()
            } else {
                format!(
                    "backups into {}: daily at {} UTC, a full one on {}, keeping {} chains\n",
                    s["dir"].as_str().unwrap_or_default(),
                    s["daily_at"].as_str().unwrap_or_default(),
                    s["full_on"].as_str().unwrap_or_default(),
                    s["keep"]
                )
            };
            if let Some(last) = v["last"].as_u64() {
                let _ = writeln!(text, "last backup at {last}");
            }
            if v["failing"] == true {
                let _ = writeln!(
                    text,
                    "the last scheduled backup FAILED: {}",
                    v["error"].as_str().unwrap_or_default()
                );
            }
            ctx.print(text, v);
            Ok(())
        }
    }
}
