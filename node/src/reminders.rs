//! The reminder scheduler: deadline reminders for this member's tasks.
//!
//! Every project board has a reminder log beside it: a record log in the
//! project's scope whose document id is derived from the board's
//! ([`reminder_log`]), so every device of every member finds the same one.
//! [`Local::send_task_reminders`] reads the boards, asks
//! [`outpost_workspace::reminders::due`] which reminders this member
//! should send at the time it is given, and writes one
//! [`Sent`] record for each; the records are what make a reminder
//! exactly-once across this member's devices and across restarts (see the
//! rules in [`outpost_workspace::reminders`]).
//!
//! Meeting reminders ([`crate::meetings::remind`]) run in the same
//! round. The daemon runs [`tick`] every [`TICK`] with the real clock and puts
//! what it sends on the event stream (`reminder`); tests call it (through
//! the `remind` task action) with any time they like.

use crate::home::Passphrase;
use crate::local::Local;
use anyhow::Result;
use outpost_identity::Timestamp;
use outpost_seal::envelope::DocId;
use outpost_seal::replica::DocKey;
use outpost_workspace::Model;
use outpost_workspace::record::{Record, RecordKind};
use outpost_workspace::reminders::{self, Deadline, Key, Sent, SentLog};
use outpost_workspace::tasks::Status;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// How often the daemon looks for reminders to send.
pub const TICK: Duration = Duration::from_secs(15);

/// The reminder log of the board `board`: same scope, a document id
/// derived from the board's.
pub fn reminder_log(board: &DocKey) -> DocKey {
    let mut h = blake3::Hasher::new();
    h.update(b"outpost reminders v1");
    h.update(&board.1.0);
    let mut id = [0u8; 16];
    id.copy_from_slice(&h.finalize().as_bytes()[..16]);
    (board.0, DocId(id))
}

/// What one board needs for the scheduler.
struct BoardDue {
    board: DocKey,
    name: String,
    titles: BTreeMap<String, String>,
    deadlines: Vec<Deadline>,
    log: SentLog,
}

fn member_of(hex_key: &str) -> Option<[u8; 32]> {
    hex::decode(hex_key).ok()?.try_into().ok()
}

impl Local {
    /// The reminders written so far in the log of `board`.
    fn sent_log(&self, pass: &Passphrase, board: &DocKey) -> Result<SentLog> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let records: Vec<Record<Sent>> = self
            .records(&replica, &ring, &reminder_log(board), RecordKind::Reminders)
            .unwrap_or_default();
        Ok(SentLog::build(&records))
    }

    /// Every board with what the scheduler needs.
    fn boards_due(&self, pass: &Passphrase) -> Result<Vec<BoardDue>> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let mut out = Vec::new();
        for (board, name) in self.boards(pass)? {
            let view = {
                let replica = self.replica()?;
                let Some(live) = self.live_doc(&replica, &ring, &board)? else {
                    continue;
                };
                let Model::Board(b) = &live.model else { continue };
                b.view(0)
            };
            let mut titles = BTreeMap::new();
            let mut deadlines = Vec::new();
            for t in view.columns.iter().flat_map(|c| &c.cards) {
                let Some(deadline) = t.deadline.and_then(|d| u64::try_from(d).ok()) else {
                    continue;
                };
                titles.insert(t.id.clone(), t.title.clone());
                deadlines.push(Deadline {
                    task: t.id.clone(),
                    deadline,
                    assignees: t.assignees.iter().filter_map(|a| member_of(a)).collect(),
                    done: t.status == Status::Done,
                });
            }
            let log = self.sent_log(pass, &board)?;
            out.push(BoardDue {
                board,
                name,
                titles,
                deadlines,
                log,
            });
        }
        Ok(out)
    }

    /// This device's wait past a reminder's time (see
    /// [`reminders::stagger`]).
    pub(crate) fn reminder_stagger(&self, now: Timestamp) -> Result<u64> {
        let state = self.require_org()?;
        let devices: Vec<[u8; 32]> = state
            .devices_of(&self.member, now)
            .iter()
            .map(|(_, d)| d.device.0)
            .collect();
        Ok(reminders::stagger(&self.device.0, &devices))
    }

    /// Sends the deadline reminders due at `now` for this member's tasks:
    /// writes one record for each, and answers them as notices.
    pub fn send_task_reminders(&mut self, pass: &Passphrase, now: Timestamp) -> Result<Vec<Value>> {
        let delay = self.reminder_stagger(now)?;
        let me = self.member.0;
        let mut notices = Vec::new();
        for b in self.boards_due(pass)? {
            for key in reminders::due(&b.deadlines, &me, now.0, delay, &b.log) {
                let sent = Sent {
                    task: key.task.clone(),
                    deadline: key.deadline,
                    lead: key.lead,
                };
                // A view-only assignee cannot write the record: no
                // reminder then, and the others still go.
                let id = match self.write_record(reminder_log(&b.board), RecordKind::Reminders, &sent, pass, now) {
                    Ok(id) => id,
                    Err(e) => {
                        tracing::warn!(
                            "cannot send a reminder of task {} (project {}): {e:#}",
                            key.task,
                            b.board.1.to_hex()
                        );
                        continue;
                    }
                };
                tracing::info!(
                    "sent the {} reminder of task {} (project {})",
                    key.lead.as_str(),
                    key.task,
                    b.board.1.to_hex()
                );
                notices.push(notice(&b, &key, id.0, now.0));
            }
        }
        Ok(notices)
    }

    /// Every reminder sent to this member, newest first.
    pub fn my_reminders(&self, pass: &Passphrase) -> Result<Vec<Value>> {
        let me = self.member.0;
        let mut out = Vec::new();
        for b in self.boards_due(pass)? {
            for (key, d) in &b.log.sent {
                if key.member == me {
                    out.push((d.time, notice(&b, key, d.record, d.time)));
                }
            }
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.0));
        Ok(out.into_iter().map(|(_, v)| v).collect())
    }
}

/// A reminder as the API and the event stream show it.
fn notice(b: &BoardDue, key: &Key, record: [u8; 32], sent: u64) -> Value {
    json!({
        "kind": "task_reminder",
        "lead": key.lead,
        "project": b.board.1.to_hex(),
        "project_name": b.name,
        "task": key.task,
        "title": b.titles.get(&key.task),
        "deadline": key.deadline,
        "sent": sent,
        "record": hex::encode(record),
    })
}

/// One round of the scheduler at `now`: every reminder due is sent, for
/// task deadlines and for meetings; the notices are returned.
pub fn tick(local: &mut Local, pass: &Passphrase, now: Timestamp) -> Result<Vec<Value>> {
    let mut notices = local.send_task_reminders(pass, now)?;
    match crate::meetings::remind(local, pass, now) {
        Ok(more) => notices.extend(more),
        Err(e) => tracing::warn!("meeting reminders failed this round: {e:#}"),
    }
    Ok(notices)
}
