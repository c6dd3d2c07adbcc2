//! Deadline reminders: which are due, and which were sent.
//!
//! An assignee of a task with a deadline `D` that is not done gets two
//! reminders: one day before (at `D - 24 h`) and one hour before (at
//! `D - 1 h`). A task due tomorrow at 10:00 reminds today at 10:00 and
//! tomorrow at 09:00 (TC-002).
//!
//! **Exactly once.** Sending a reminder is writing a [`Sent`] record,
//! signed by the assignee, into the project's reminder log (a record log in
//! the project's scope, so every device of the assignee, and every member
//! of the project, sees it). A reminder is due only while no record of it
//! exists, so a restarted node does not send it again. Two devices of one
//! assignee that are both online would race; they do not, because device
//! `k` of the assignee (devices sorted by key) waits `k` ×
//! [`STAGGER_SECS`] past the reminder's time before sending, and by then
//! it holds the first device's record (gossip takes milliseconds). If two
//! devices cut off from each other both send, [`SentLog::build`] still
//! keeps one reminder per key (the first in causal order), so every node
//! lists it once.
//!
//! **Late.** A node that was off at the reminder's time sends it when it
//! comes back, while the deadline has not passed; the day reminder is
//! skipped once the hour reminder is due, and nothing is sent after the
//! deadline (the task shows as overdue instead).
//!
//! Time is an input everywhere ([`due`] takes `now`), so tests run in
//! virtual time.

use crate::record::{Member, Record, RecordId, causal_order};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long device `k` of an assignee waits, times `k`, past a reminder's
/// time before sending it: time for the first device's record to arrive.
pub const STAGGER_SECS: u64 = 30;

/// Which reminder before a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lead {
    /// One day before.
    Day,
    /// One hour before.
    Hour,
}

impl Lead {
    /// Both, earliest first.
    pub const ALL: [Lead; 2] = [Lead::Day, Lead::Hour];

    /// How long before the deadline, in seconds.
    pub fn secs(self) -> u64 {
        match self {
            Lead::Day => 24 * 3600,
            Lead::Hour => 3600,
        }
    }

    /// `day` or `hour`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lead::Day => "day",
            Lead::Hour => "hour",
        }
    }
}

/// The record that a reminder was sent: the body of a
/// [`crate::record::RecordKind::Reminders`] record. The assignee is its
/// signer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Sent {
    /// The task.
    pub task: String,
    /// The deadline it was sent for (seconds since 1970): a new deadline
    /// gets new reminders.
    pub deadline: u64,
    /// Which reminder.
    pub lead: Lead,
}

/// One reminder: for whom, of what.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// The assignee.
    pub member: Member,
    /// The task.
    pub task: String,
    /// The deadline.
    pub deadline: u64,
    /// Which reminder.
    pub lead: Lead,
}

/// A reminder that was sent: when, by which record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The record that counts (the first in causal order).
    pub record: RecordId,
    /// When it was sent, by the sender's clock.
    pub time: u64,
    /// Records that sent the same reminder again (two devices apart).
    pub duplicates: Vec<RecordId>,
}

/// The reminders a project's log says were sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SentLog {
    /// Every reminder sent, once.
    pub sent: BTreeMap<Key, Delivery>,
}

impl SentLog {
    /// The log as `records` make it: one delivery per reminder, whatever
    /// the order the records came in.
    pub fn build(records: &[Record<Sent>]) -> SentLog {
        let mut log = SentLog::default();
        for r in causal_order(records) {
            let key = Key {
                member: r.signer.key,
                task: r.body.task.clone(),
                deadline: r.body.deadline,
                lead: r.body.lead,
            };
            log.sent
                .entry(key)
                .and_modify(|d| d.duplicates.push(r.id))
                .or_insert(Delivery {
                    record: r.id,
                    time: r.time,
                    duplicates: Vec::new(),
                });
        }
        log
    }

    /// Was this reminder sent?
    pub fn has(&self, key: &Key) -> bool {
        self.sent.contains_key(key)
    }
}

/// What the scheduler needs to know of a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// The task.
    pub task: String,
    /// Due, in seconds since 1970.
    pub deadline: u64,
    /// Its assignees.
    pub assignees: Vec<Member>,
    /// Finished?
    pub done: bool,
}

/// The reminders `member` should send now: for tasks assigned to them,
/// not done, whose reminder time (plus `delay`, this device's stagger) has
/// come while the deadline has not, and that no record says were sent.
/// Of a task's two reminders only the latest due is sent.
pub fn due(tasks: &[Deadline], member: &Member, now: u64, delay: u64, log: &SentLog) -> Vec<Key> {
    let mut out = Vec::new();
    for t in tasks {
        if t.done || !t.assignees.contains(member) || now >= t.deadline {
            continue;
        }
        let latest = Lead::ALL
            .into_iter()
            .rfind(|lead| t.deadline.saturating_sub(lead.secs()).saturating_add(delay) <= now);
        if let Some(lead) = latest {
            let key = Key {
                member: *member,
                task: t.task.clone(),
                deadline: t.deadline,
                lead,
            };
            if !log.has(&key) {
                out.push(key);
            }
        }
    }
    out
}

/// This device's stagger: its rank among the assignee's devices (sorted
/// by key; a device not among them goes last) times [`STAGGER_SECS`].
pub fn stagger(device: &[u8; 32], devices: &[[u8; 32]]) -> u64 {
    let mut sorted = devices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let rank = sorted.iter().position(|d| d == device).unwrap_or(sorted.len());
    rank as u64 * STAGGER_SECS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Signer;
    use outpost_identity::op::{DeptPath, Role};

    const BOB: Member = [2; 32];
    const HOUR: u64 = 3600;
    /// 2026-11-29 10:00 UTC.
    const TOMORROW_10: u64 = 1_795_946_400;

    fn task(deadline: u64) -> Deadline {
        Deadline {
            task: "t1".into(),
            deadline,
            assignees: vec![BOB],
            done: false,
        }
    }

    fn sent(id: u8, key: &Key, time: u64) -> Record<Sent> {
        Record {
            id: [id; 32],
            signer: Signer {
                key: key.member,
                cert: [0; 32],
                role: Role::Member,
                dept: DeptPath::root(),
            },
            time,
            deps: Vec::new(),
            body: Sent {
                task: key.task.clone(),
                deadline: key.deadline,
                lead: key.lead,
            },
        }
    }

    #[test]
    fn a_task_due_tomorrow_at_ten_reminds_today_at_ten_and_tomorrow_at_nine() {
        let tasks = [task(TOMORROW_10)];
        let empty = SentLog::default();
        let today_10 = TOMORROW_10 - 24 * HOUR;
        assert!(due(&tasks, &BOB, today_10 - 1, 0, &empty).is_empty(), "not before");
        let first = due(&tasks, &BOB, today_10, 0, &empty);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].lead, Lead::Day);

        let log = SentLog::build(&[sent(1, &first[0], today_10)]);
        assert!(due(&tasks, &BOB, today_10 + 60, 0, &log).is_empty(), "once");
        assert!(due(&tasks, &BOB, TOMORROW_10 - HOUR - 1, 0, &log).is_empty());
        let second = due(&tasks, &BOB, TOMORROW_10 - HOUR, 0, &log);
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].lead, Lead::Hour);

        let log = SentLog::build(&[sent(1, &first[0], today_10), sent(2, &second[0], TOMORROW_10 - HOUR)]);
        assert!(due(&tasks, &BOB, TOMORROW_10 - 60, 0, &log).is_empty());
    }

    #[test]
    fn nothing_after_the_deadline_for_done_tasks_or_for_others() {
        let empty = SentLog::default();
        assert!(due(&[task(TOMORROW_10)], &BOB, TOMORROW_10, 0, &empty).is_empty());
        let mut done = task(TOMORROW_10);
        done.done = true;
        assert!(due(&[done], &BOB, TOMORROW_10 - HOUR, 0, &empty).is_empty());
        assert!(due(&[task(TOMORROW_10)], &[3; 32], TOMORROW_10 - HOUR, 0, &empty).is_empty());
    }

    #[test]
    fn a_late_node_sends_only_the_latest_reminder() {
        let late = due(
            &[task(TOMORROW_10)],
            &BOB,
            TOMORROW_10 - 30 * 60,
            0,
            &SentLog::default(),
        );
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].lead, Lead::Hour, "the day reminder is stale by now");
    }

    #[test]
    fn a_second_device_waits_its_stagger() {
        let devices = [[9; 32], [4; 32]];
        assert_eq!(stagger(&[4; 32], &devices), 0);
        assert_eq!(stagger(&[9; 32], &devices), STAGGER_SECS);
        assert_eq!(stagger(&[7; 32], &devices), 2 * STAGGER_SECS, "unknown devices go last");
        let at = TOMORROW_10 - 24 * HOUR;
        let empty = SentLog::default();
        assert!(due(&[task(TOMORROW_10)], &BOB, at, STAGGER_SECS, &empty).is_empty());
        assert_eq!(
            due(&[task(TOMORROW_10)], &BOB, at + STAGGER_SECS, STAGGER_SECS, &empty).len(),
            1
        );
    }

    #[test]
    fn two_devices_sending_apart_count_once_whatever_the_order() {
        let key = Key {
            member: BOB,
            task: "t1".into(),
            deadline: TOMORROW_10,
            lead: Lead::Day,
        };
        let a = sent(7, &key, 100);
        let b = sent(3, &key, 100);
        let one = SentLog::build(&[a.clone(), b.clone()]);
        let other = SentLog::build(&[b, a]);
        assert_eq!(one, other);
        assert_eq!(one.sent.len(), 1);
        let d = &one.sent[&key];
        assert_eq!((d.record, d.duplicates.clone()), ([3; 32], vec![[7; 32]]));
    }

    #[test]
    fn a_new_deadline_gets_new_reminders() {
        let old = Key {
            member: BOB,
            task: "t1".into(),
            deadline: TOMORROW_10,
            lead: Lead::Day,
        };
        let log = SentLog::build(&[sent(1, &old, 0)]);
        let moved = TOMORROW_10 + 24 * HOUR;
        let again = due(&[task(moved)], &BOB, moved - 24 * HOUR, 0, &log);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].deadline, moved);
    }
}
