use super::*;
use outpost_identity::PublicKey;
use outpost_identity::op::DeptPath;
use proptest::prelude::*;

const BOB: Member = [1; 32];
const CAROL: Member = [2; 32];
const DAVE: Member = [3; 32];
const ERIN: Member = [4; 32];
const HOUR: u64 = 3600;
const START: u64 = 1_000_000;

fn signer(key: Member) -> Signer {
    let dept = match key {
        BOB | CAROL => "HQ/East",
        DAVE => "HQ/West",
        _ => "HQ/North",
    };
    Signer {
        key,
        cert: [key[0] + 100; 32],
        role: Role::Member,
        dept: DeptPath::parse(dept).expect("a valid path"),
    }
}

#[derive(Default)]
struct Log {
    records: Vec<Record<Entry>>,
}

impl Log {
    fn add(&mut self, by: Member, time: u64, body: Entry) -> RecordId {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&(self.records.len() as u64 + 1).to_be_bytes());
        id[31] = 0xbb;
        let deps = self.records.iter().map(|r| r.id).collect();
        self.records.push(Record {
            id,
            signer: signer(by),
            time,
            deps,
            body,
        });
        id
    }

    fn add_alone(&mut self, by: Member, time: u64, body: Entry) -> RecordId {
        let id = self.add(by, time, body);
        self.records.last_mut().expect("just added").deps.clear();
        id
    }
}

fn details() -> Details {
    Details {
        title: "Budget review".into(),
        start: START,
        end: START + HOUR,
        place: "Room 4".into(),
        link: String::new(),
        agenda: "1. Numbers".into(),
        remind_minutes: REMIND_MINUTES_DEFAULT,
    }
}

fn create() -> Entry {
    Entry::Create {
        details: details(),
        invitees: vec![format!("member:{}", PublicKey(DAVE)), "dept:HQ/East".into()],
    }
}

#[test]
fn the_organizer_creates_updates_and_cancels_invitees_answer() {
    let mut log = Log::default();
    let made = log.add(BOB, 10, create());
    let a = log.add(CAROL, 11, Entry::Answer(Response::Accept));
    log.add(DAVE, 12, Entry::Answer(Response::Tentative));
    log.add(DAVE, 13, Entry::Answer(Response::Decline));
    let erin = log.add(ERIN, 14, Entry::Answer(Response::Accept));
    let own = log.add(BOB, 15, Entry::Answer(Response::Accept));
    let by_carol = log.add(
        CAROL,
        16,
        Entry::Update(Change {
            title: Some("Mine now".into()),
            ..Change::default()
        }),
    );
    let moved = log.add(
        BOB,
        17,
        Entry::Update(Change {
            start: Some(START + 2 * HOUR),
            end: Some(START + 3 * HOUR),
            ..Change::default()
        }),
    );
    let m = Meeting::build(&log.records);
    assert_eq!(m.created.as_ref().map(|c| c.id), Some(made));
    assert!(m.organized_by(&BOB));
    assert_eq!(m.details.title, "Budget review");
    assert_eq!((m.details.start, m.details.end), (START + 2 * HOUR, START + 3 * HOUR));
    assert_eq!(m.updates.iter().map(|u| u.id).collect::<Vec<_>>(), vec![moved]);
    assert_eq!(m.answers[&CAROL].response, Response::Accept);
    assert_eq!(m.answers[&CAROL].mark.id, a);
    assert_eq!(m.answers[&DAVE].response, Response::Decline, "the latest answer stands");
    assert_eq!(
        m.ignored,
        vec![
            (erin, Ignored::NotInvited),
            (own, Ignored::ByOrganizer),
            (by_carol, Ignored::NotOrganizer)
        ]
    );
    assert!(m.invites(&signer(CAROL)) && m.invites(&signer(DAVE)));
    assert!(!m.invites(&signer(BOB)) && m.includes(&signer(BOB)));
    assert!(!m.includes(&signer(ERIN)));

    let not_theirs = log.add(CAROL, 18, Entry::Cancel);
    let cancel = log.add(BOB, 19, Entry::Cancel);
    let late = log.add(CAROL, 20, Entry::Answer(Response::Decline));
    let m = Meeting::build(&log.records);
    assert_eq!(m.cancelled.as_ref().map(|c| c.id), Some(cancel));
    assert!(m.ignored.contains(&(not_theirs, Ignored::NotOrganizer)));
    assert!(m.ignored.contains(&(late, Ignored::Cancelled)));
    assert_eq!(m.answers[&CAROL].response, Response::Accept);
}

#[test]
fn bad_details_do_not_count() {
    let mut log = Log::default();
    let mut d = details();
    d.end = d.start;
    let bad = log.add(
        BOB,
        10,
        Entry::Create {
            details: d,
            invitees: vec![],
        },
    );
    let early = log.add(CAROL, 11, Entry::Answer(Response::Accept));
    let good = log.add(CAROL, 12, create());
    let bad_invitee = log.add(
        CAROL,
        13,
        Entry::Update(Change {
            invitees: Some(vec!["nobody".into()]),
            ..Change::default()
        }),
    );
    let too_long = log.add(
        CAROL,
        14,
        Entry::Update(Change {
            end: Some(START + DURATION_SECS_MAX + 1),
            ..Change::default()
        }),
    );
    let m = Meeting::build(&log.records);
    assert_eq!(m.created.as_ref().map(|c| c.id), Some(good));
    assert!(m.organized_by(&CAROL));
    assert_eq!(
        m.ignored,
        vec![
            (bad, Ignored::Invalid(Invalid::BadTimes)),
            (early, Ignored::NotCreated),
            (bad_invitee, Ignored::Invalid(Invalid::BadInvitee("nobody".into()))),
            (too_long, Ignored::Invalid(Invalid::BadTimes)),
        ]
    );
    let again = log.add(BOB, 15, create());
    assert!(
        Meeting::build(&log.records)
            .ignored
            .contains(&(again, Ignored::AlreadyCreated))
    );
}

#[test]
fn new_invitees_may_answer_removed_ones_may_not() {
    let mut log = Log::default();
    log.add(BOB, 10, create());
    log.add(
        BOB,
        11,
        Entry::Update(Change {
            invitees: Some(vec![format!("member:{}", PublicKey(ERIN))]),
            ..Change::default()
        }),
    );
    log.add(ERIN, 12, Entry::Answer(Response::Accept));
    let dave = log.add(DAVE, 13, Entry::Answer(Response::Accept));
    let m = Meeting::build(&log.records);
    assert_eq!(m.answers.keys().copied().collect::<Vec<_>>(), vec![ERIN]);
    assert_eq!(m.ignored, vec![(dave, Ignored::NotInvited)]);
    assert_eq!(m.invitee_entries, vec![format!("member:{}", PublicKey(ERIN))]);
}

#[test]
fn the_first_minutes_win() {
    let mut log = Log::default();
    log.add(BOB, 10, create());
    // Carol and Dave each create minutes without seeing the other's.
    let carol = log.add(CAROL, 20, Entry::Minutes { doc: [1; 16] });
    let dave = log.add_alone(DAVE, 21, Entry::Minutes { doc: [2; 16] });
    // Dave's saw nothing, not even the Create, and its clock is later:
    // Carol's goes first.
    let m = Meeting::build(&log.records);
    assert_eq!(m.minutes.as_ref().map(|x| (x.doc, x.mark.id)), Some(([1; 16], carol)));
    assert_eq!(m.ignored, vec![(dave, Ignored::MinutesLinked)]);

    let mut log = Log::default();
    let made = log.add(BOB, 10, create());
    let first = log.add(CAROL, 20, Entry::Minutes { doc: [1; 16] });
    let second = log.add(DAVE, 19, Entry::Minutes { doc: [2; 16] });
    log.records[2].deps = vec![made];
    // Concurrent: the earlier clock goes first in the causal order.
    let m = Meeting::build(&log.records);
    assert_eq!(m.minutes.as_ref().map(|x| x.doc), Some([2; 16]));
    assert!(m.ignored.contains(&(first, Ignored::MinutesLinked)));
    assert!(!m.ignored.iter().any(|(id, _)| *id == second));
    let erin = log.add(ERIN, 30, Entry::Minutes { doc: [3; 16] });
    assert!(
        Meeting::build(&log.records)
            .ignored
            .contains(&(erin, Ignored::NotInvited))
    );
}

#[test]
fn reminders_come_once_in_the_window_to_those_who_did_not_decline() {
    let mut log = Log::default();
    log.add(BOB, 10, create());
    log.add(DAVE, 11, Entry::Answer(Response::Decline));
    let m = Meeting::build(&log.records);
    let window = START - 15 * 60;
    let due = |m: &Meeting, who: Member, now: u64| due_reminder(m, &signer(who), now);
    assert_eq!(due(&m, CAROL, window - 1), None, "too early");
    assert_eq!(
        due(&m, CAROL, window),
        Some(Reminder {
            start: START,
            remind_minutes: 15
        })
    );
    assert!(due(&m, CAROL, START - 1).is_some());
    assert_eq!(due(&m, CAROL, START), None, "it has started");
    assert!(due(&m, BOB, window).is_some(), "the organizer is reminded too");
    assert_eq!(due(&m, DAVE, window), None, "Dave declined");
    assert_eq!(due(&m, ERIN, window), None, "Erin is not invited");

    // Two of Carol's devices remind her at once: one reminder counts.
    let one = log.add(CAROL, window, Entry::Reminded { start: START });
    let two = log.add_alone(CAROL, window, Entry::Reminded { start: START });
    let m = Meeting::build(&log.records);
    assert_eq!(m.reminded.len(), 1);
    assert!(m.reminded.values().all(|x| x.id == one || x.id == two));
    assert_eq!(m.ignored.len(), 1);
    assert_eq!(due(&m, CAROL, window + 60), None, "reminded once");
    assert!(due(&m, BOB, window + 60).is_some());

    // Moved: a reminder is due again for the new start.
    log.add(
        BOB,
        12,
        Entry::Update(Change {
            start: Some(START + HOUR),
            end: Some(START + 2 * HOUR),
            ..Change::default()
        }),
    );
    let m = Meeting::build(&log.records);
    assert!(due(&m, CAROL, START + HOUR - 60).is_some());
    // Off, then cancelled: none.
    log.add(
        BOB,
        13,
        Entry::Update(Change {
            remind_minutes: Some(0),
            ..Change::default()
        }),
    );
    assert_eq!(due(&Meeting::build(&log.records), CAROL, START + HOUR - 60), None);
    log.add(
        BOB,
        14,
        Entry::Update(Change {
            remind_minutes: Some(120),
            ..Change::default()
        }),
    );
    assert!(due(&Meeting::build(&log.records), CAROL, START - 60).is_some());
    log.add(BOB, 15, Entry::Cancel);
    assert_eq!(due(&Meeting::build(&log.records), CAROL, START - 60), None);
}

#[test]
fn past_once_it_ended() {
    let mut log = Log::default();
    log.add(BOB, 10, create());
    let m = Meeting::build(&log.records);
    assert!(!m.is_past(START));
    assert!(!m.is_past(START + HOUR - 1));
    assert!(m.is_past(START + HOUR));
}

fn random_log(seed: u64, n: usize) -> Log {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let people = [BOB, CAROL, DAVE, ERIN];
    let mut log = Log::default();
    log.add(people[(next() % 4) as usize], next() % 20, create());
    for _ in 0..n {
        let by = people[(next() % 4) as usize];
        let time = next() % 100;
        let body = match next() % 9 {
            0 => create(),
            1 => Entry::Update(Change {
                start: Some(START + next() % 4 * HOUR),
                end: Some(START + 4 * HOUR - next() % 2 * 5 * HOUR),
                invitees: (next() % 2 == 0)
                    .then(|| vec![format!("member:{}", PublicKey(people[(next() % 4) as usize]))]),
                ..Change::default()
            }),
            2 => Entry::Cancel,
            3 | 4 => Entry::Answer(match next() % 3 {
                0 => Response::Accept,
                1 => Response::Decline,
                _ => Response::Tentative,
            }),
            5 => Entry::Minutes {
                doc: [(next() % 3) as u8; 16],
            },
            _ => Entry::Reminded {
                start: START + next() % 2 * HOUR,
            },
        };
        if next() % 3 == 0 {
            log.add_alone(by, time, body);
        } else {
            log.add(by, time, body);
        }
    }
    log
}

proptest! {
    #[test]
    fn the_meeting_does_not_depend_on_arrival_order(seed in any::<u64>(), shuffle in any::<u64>(), n in 0usize..30) {
        let log = random_log(seed, n);
        let a = Meeting::build(&log.records);
        let mut shuffled = log.records.clone();
        let mut s = shuffle | 1;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let b = Meeting::build(&shuffled);
        prop_assert_eq!(&a, &b);
        for who in [BOB, CAROL, DAVE, ERIN] {
            for now in [START - 20 * 60, START - 60, START + HOUR - 60] {
                prop_assert_eq!(due_reminder(&a, &signer(who), now), due_reminder(&b, &signer(who), now));
            }
        }
    }
}
