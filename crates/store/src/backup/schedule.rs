//! When a scheduled backup is due: a pure function of the plan, what was
//! done, and the time, so a test drives it with a virtual clock.
//!
//! Times are UTC. Every day at `daily_at` a backup is due; it is a full
//! backup when no full backup was made since the last `full_on` slot
//! (so weekly by default), an incremental otherwise. A missed slot (the
//! node was off) is caught up once, at the next check. After a failure,
//! the next attempt waits [`RETRY_SECS`].

use super::Kind;

/// Seconds in a day.
pub const DAY_SECS: u64 = 86_400;
/// How long after a failed scheduled backup the next attempt is made.
pub const RETRY_SECS: u64 = 3_600;

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weekday {
    /// Monday
    Mon = 0,
    /// Tuesday
    Tue = 1,
    /// Wednesday
    Wed = 2,
    /// Thursday
    Thu = 3,
    /// Friday
    Fri = 4,
    /// Saturday
    Sat = 5,
    /// Sunday
    Sun = 6,
}

const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "mon"),
    (Weekday::Tue, "tue"),
    (Weekday::Wed, "wed"),
    (Weekday::Thu, "thu"),
    (Weekday::Fri, "fri"),
    (Weekday::Sat, "sat"),
    (Weekday::Sun, "sun"),
];

impl Weekday {
    /// Reads `mon`…`sun` (or the full English name), any case.
    pub fn parse(text: &str) -> Option<Weekday> {
        let t = text.trim().to_ascii_lowercase();
        WEEKDAYS
            .iter()
            .find(|(_, n)| t.len() >= 3 && n.starts_with(&t[..3]) && (t.len() == 3 || t.ends_with("day")))
            .map(|(d, _)| *d)
    }

    /// `mon`…`sun`.
    pub fn name(self) -> &'static str {
        WEEKDAYS[self as usize].1
    }

    /// The weekday of a time (1970-01-01 was a Thursday).
    pub fn of(t: u64) -> Weekday {
        WEEKDAYS[((t / DAY_SECS + 3) % 7) as usize].0
    }
}

/// Reads `HH:MM` (24-hour, UTC) as minutes after midnight.
pub fn parse_time_of_day(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && text.trim().len() <= 5).then_some(h * 60 + m)
}

/// The schedule of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Minutes after midnight (UTC) of the daily backup.
    pub daily_at: u32,
    /// The day of the weekly full backup.
    pub full_on: Weekday,
}

impl Default for Plan {
    /// Daily at 02:00 UTC, a full backup on Sundays.
    fn default() -> Plan {
        Plan {
            daily_at: 120,
            full_on: Weekday::Sun,
        }
    }
}

/// What was done: times in seconds since 1970.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Done {
    /// The last successful backup of either kind.
    pub any: Option<u64>,
    /// The last successful full backup.
    pub full: Option<u64>,
    /// The last failed scheduled attempt.
    pub failed: Option<u64>,
}

/// The latest daily slot at or before `now`.
pub fn slot_before(plan: &Plan, now: u64) -> u64 {
    let at = u64::from(plan.daily_at) * 60;
    let today = now - now % DAY_SECS + at;
    if today <= now {
        today
    } else {
        today.saturating_sub(DAY_SECS)
    }
}

/// The latest slot at or before `now` that falls on the full-backup day.
pub fn full_slot_before(plan: &Plan, now: u64) -> u64 {
    let mut s = slot_before(plan, now);
    while Weekday::of(s) != plan.full_on && s >= DAY_SECS {
        s -= DAY_SECS;
    }
    s
}

/// The next daily slot after `now`.
pub fn next_slot(plan: &Plan, now: u64) -> u64 {
    slot_before(plan, now) + DAY_SECS
}

/// Which backup is due at `now`, if any.
pub fn due(plan: &Plan, done: &Done, now: u64) -> Option<Kind> {
    let slot = slot_before(plan, now);
    if done.any.is_some_and(|t| t >= slot) {
        return None;
    }
    if let Some(f) = done.failed
        && f >= slot
        && now < f + RETRY_SECS
    {
        return None;
    }
    let full_due = done.full.is_none_or(|t| t < full_slot_before(plan, now));
    Some(if full_due { Kind::Full } else { Kind::Incremental })
}
