//! Usage statistics, worked out on this node from what its member may read
//! (`outpost stats`, `GET /api/stats`): daily active members, use per
//! module, file volume, task completion, over the last days.
//!
//! Only documents and logs this member holds keys for count: a node never
//! reports on what it cannot read. An *active* member on a day is the
//! author of at least one valid change or record that day; *use per
//! module* is the number of changes and records per module per day. Days
//! are UTC.

use crate::home::Passphrase;
use crate::local::Local;
use anyhow::Result;
use outpost_identity::Timestamp;
use outpost_seal::envelope::Payload;
use outpost_seal::replica::DocKey;
use outpost_workspace::Model;
use outpost_workspace::record::{self, RecordKind};
use outpost_workspace::tasks::Status;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most days a report covers.
pub const DAYS_MAX: u64 = 366;

/// The modules use is counted for.
const MODULES: [&str; 9] = [
    "chat",
    "docs",
    "files",
    "tasks",
    "approvals",
    "announcements",
    "meetings",
    "settings",
    "other",
];

/// `YYYY-MM-DD` of a day number (days since 1970).
fn day_text(day: u64) -> String {
    let (y, m, d) = outpost_identity::time::civil_from_days(day as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

impl Local {
    /// The module a readable document or log belongs to; `None` if this
    /// member cannot read it.
    fn module_of(
        &self,
        replica: &outpost_seal::Replica,
        ring: &outpost_seal::Keyring,
        key: &DocKey,
    ) -> Result<Option<&'static str>> {
        let Some(head) = replica.heads(key).into_iter().next() else {
            return Ok(None);
        };
        let Some(env) = replica.envelope(&head) else {
            return Ok(None);
        };
        let Some(secret) = ring.get(&env.header.epoch) else {
            return Ok(None);
        };
        let Ok(payload) = env.open(secret) else {
            return Ok(None);
        };
        Ok(match payload {
            Payload::Log(_) if key.1 == crate::chat::SETTINGS_DOC => Some("settings"),
            Payload::Log(_) => Some("chat"),
            Payload::Record(bytes) => match record::kind_of(&bytes) {
                Ok(RecordKind::Reminders) => Some("tasks"),
                Ok(RecordKind::Announcement) => Some("announcements"),
                Ok(RecordKind::Meeting) => Some("meetings"),
                Ok(RecordKind::Approval | RecordKind::Templates) => Some("approvals"),
                Ok(_) => Some("other"),
                Err(_) => None,
            },
            Payload::Change(_) => match self.live_doc(replica, ring, key)? {
                Some(live) => Some(match live.model {
                    Model::Text(_) => "docs",
                    Model::File(_) => "files",
                    Model::Board(_) => "tasks",
                }),
                None => None,
            },
            _ => None,
        })
    }

    /// The usage report for the `days` days up to `now`.
    pub fn usage_stats(&self, pass: &Passphrase, now: Timestamp, days: u64) -> Result<Value> {
        let days = days.clamp(1, DAYS_MAX);
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let last = now.0 / 86_400;
        let first = last + 1 - days;
        let mut modules: HashMap<DocKey, Option<&'static str>> = HashMap::new();
        let mut active: BTreeMap<u64, BTreeSet<[u8; 32]>> = BTreeMap::new();
        let mut use_: BTreeMap<u64, BTreeMap<&'static str, u64>> = BTreeMap::new();
        let mut everyone: BTreeSet<[u8; 32]> = BTreeSet::new();
        for env in replica.envelopes() {
            let day = env.header.time.0 / 86_400;
            if day < first || day > last || !matches!(replica.verdict(&env.id), Some(outpost_seal::Verdict::Valid)) {
                continue;
            }
            let key = (env.header.scope, env.header.doc);
            let module = match modules.get(&key) {
                Some(m) => *m,
                None => {
                    let m = self.module_of(&replica, &ring, &key)?;
                    modules.insert(key, m);
                    m
                }
            };
            let Some(module) = module else { continue };
            active.entry(day).or_default().insert(env.header.author.0);
            everyone.insert(env.header.author.0);
            *use_.entry(day).or_default().entry(module).or_default() += 1;
        }
        let rows: Vec<Value> = (first..=last)
            .map(|day| {
                let by: BTreeMap<&str, u64> = MODULES
                    .iter()
                    .map(|m| (*m, use_.get(&day).and_then(|u| u.get(m)).copied().unwrap_or(0)))
                    .collect();
                json!({
                    "day": day_text(day),
                    "active_members": active.get(&day).map_or(0, BTreeSet::len),
                    "use": by,
                })
            })
            .collect();
        // Files and tasks as they stand now.
        let (mut files, mut file_bytes, mut versions) = (0u64, 0u64, 0u64);
        let (mut tasks, mut done, mut overdue) = (0u64, 0u64, 0u64);
        let mut boards = 0u64;
        let keys: Vec<DocKey> = modules
            .iter()
            .filter(|(_, m)| matches!(m, Some("files" | "tasks")))
            .map(|(k, _)| *k)
            .collect();
        // Files and boards not changed in the period count too.
        let mut all: BTreeSet<DocKey> = keys.into_iter().collect();
        for key in replica.docs() {
            if modules.contains_key(key) {
                continue;
            }
            if matches!(self.module_of(&replica, &ring, key)?, Some("files" | "tasks")) {
                all.insert(*key);
            }
        }
        for key in all {
            let Some(live) = self.live_doc(&replica, &ring, &key)? else {
                continue;
            };
            match &live.model {
                Model::File(f) => {
                    files += 1;
                    let vs = f.versions();
                    versions += vs.len() as u64;
                    file_bytes += vs.iter().map(|v| v.file.bytes).sum::<u64>();
                }
                Model::Board(b) => {
                    boards += 1;
                    let view = b.view(i64::try_from(now.0).unwrap_or(i64::MAX));
                    for t in view.columns.iter().flat_map(|c| &c.cards) {
                        tasks += 1;
                        done += u64::from(t.status == Status::Done);
                        overdue += u64::from(t.overdue);
                    }
                }
                Model::Text(_) => {}
            }
        }
        let mut totals: BTreeMap<&str, u64> = MODULES.iter().map(|m| (*m, 0)).collect();
        for u in use_.values() {
            for (m, n) in u {
                *totals.entry(m).or_default() += n;
            }
        }
        Ok(json!({
            "from": day_text(first),
            "to": day_text(last),
            "days": rows,
            "active_members": everyone.len(),
            "use": totals,
            "files": {"files": files, "versions": versions, "bytes": file_bytes},
            "tasks": {
                "boards": boards, "tasks": tasks, "done": done, "overdue": overdue,
                "completion_rate": if tasks == 0 { 0.0 } else { done as f64 / tasks as f64 },
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::day_text;

    #[test]
    fn days_read_as_dates() {
        assert_eq!(day_text(0), "1970-01-01");
        assert_eq!(day_text(20_420), "2025-11-28");
        assert_eq!(day_text(11_016), "2000-02-29");
    }
}
