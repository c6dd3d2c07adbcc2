//! Backups inside a running node: asked for through the API, or due by
//! the schedule ([`outpost_store::backup::schedule`]).
//!
//! The store is read from one redb read transaction while the node goes
//! on writing; the node's lock is held only to pick up the store handle
//! and, afterwards, to write the audit entry.

use super::{Made, Schedule, Status, create, key_or_create, note_made, schedule_of, set_status, status_of};
use crate::daemon::Shared;
use anyhow::{Context, Result};
use outpost_store::backup::Kind;
use outpost_store::backup::schedule;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// Makes a backup of the running node into `to` and records it in the
/// audit log.
pub async fn backup_now(shared: &Arc<Shared>, to: PathBuf, want: Option<Kind>, keep: Option<usize>) -> Result<Made> {
    let now = crate::now().0;
    let (store, home) = shared
        .with_local(|l, _| {
            // Writes acknowledged so far are on disk before they are copied.
            l.ensure_durable()?;
            Ok((l.store.clone(), l.home.clone()))
        })
        .await?;
    let made = tokio::task::spawn_blocking(move || -> Result<Made> {
        let key = key_or_create(&home)?;
        create(home.dir(), &store, &to, &key, want, keep, now, &mut |_, _| {})
    })
    .await
    .context("the backup task failed")?;
    match &made {
        Ok(m) => {
            shared.metrics.backups_made.fetch_add(1, Relaxed);
            let (target, detail) = (m.path.display().to_string(), super::audit_detail(m));
            if let Err(e) = shared
                .with_local(move |l, pass| {
                    l.audit(
                        "backup.create",
                        &target,
                        &detail,
                        pass,
                        outpost_identity::Timestamp(now),
                    )
                })
                .await
            {
                tracing::warn!("the backup was made but not recorded in the audit log: {e:#}");
            }
        }
        Err(_) => {
            shared.metrics.backups_failed.fetch_add(1, Relaxed);
        }
    }
    made
}

/// Runs scheduled backups: checks every [`super::TICK`] whether one is
/// due, makes it, and reports a failure (warn log, the
/// `outpost_backups_total{outcome="failed"}` counter, `/api/health`, an
/// audit entry).
pub async fn scheduled(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(super::TICK);
    let mut said_off = false;
    loop {
        every.tick().await;
        let got = shared
            .with_local(|l, _| Ok((schedule_of(&l.store)?, status_of(&l.store)?)))
            .await;
        let (plan_of, status): (Option<Schedule>, Status) = match got {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("cannot read the backup schedule: {e:#}");
                continue;
            }
        };
        let Some(sched) = plan_of else {
            if !said_off {
                tracing::warn!("no backups are made: no backup directory is set (outpost backup schedule --dir DIR)");
                said_off = true;
            }
            continue;
        };
        said_off = false;
        let plan = match sched.plan() {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("the backup schedule is not valid, no backups are made: {e:#}");
                continue;
            }
        };
        let now = crate::now().0;
        let Some(kind) = schedule::due(&plan, &status.done(), now) else {
            continue;
        };
        // An incremental falls back to a full backup if the chain is gone
        // or damaged; a weekly full is always full.
        let want = (kind == Kind::Full).then_some(Kind::Full);
        match backup_now(&shared, sched.dir.clone(), want, Some(sched.keep)).await {
            Ok(made) => {
                tracing::info!("scheduled {} backup made in {}", made.kind, made.path.display());
                if let Some(note) = &made.note {
                    tracing::warn!("{note}");
                }
                if let Err(e) = shared.with_local(move |l, _| note_made(&l.store, &made, now)).await {
                    tracing::warn!("the backup was made but its time was not saved: {e:#}");
                }
            }
            Err(e) => {
                let why = format!("{e:#}");
                tracing::warn!(
                    "the scheduled {} backup into {} failed: {why}",
                    kind.name(),
                    sched.dir.display()
                );
                let target = sched.dir.display().to_string();
                let recorded = shared
                    .with_local(move |l, pass| {
                        let mut s = status_of(&l.store)?;
                        s.failed = Some(now);
                        s.error = Some(why.clone());
                        set_status(&l.store, &s)?;
                        l.audit("backup.fail", &target, &why, pass, outpost_identity::Timestamp(now))
                    })
                    .await;
                if let Err(e) = recorded {
                    tracing::warn!("the backup failure was not recorded: {e:#}");
                }
            }
        }
    }
}
