use super::*;
use proptest::prelude::*;

const ALICE: Member = [1; 32];
const BOB: Member = [2; 32];
const CAROL: Member = [3; 32];
const HOUR: u64 = 3600 * 1000;

/// Builds entries with distinct ids; each depends on the given earlier entries.
#[derive(Default)]
struct Log {
    entries: Vec<Entry>,
}

impl Log {
    fn add(&mut self, author: Member, time_ms: u64, deps: &[EntryId], op: LogOp) -> EntryId {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&(self.entries.len() as u64 + 1).to_be_bytes());
        id[31] = 0xee;
        self.entries.push(Entry {
            id,
            author,
            time_ms,
            deps: deps.to_vec(),
            op,
        });
        id
    }

    /// Everything so far, as the heads a writer who saw it all would name.
    fn all(&self) -> Vec<EntryId> {
        self.entries.iter().map(|e| e.id).collect()
    }

    fn post(&mut self, author: Member, time_ms: u64, text: &str) -> EntryId {
        let deps = self.all();
        self.add(author, time_ms, &deps, post(text, None))
    }

    fn act(&mut self, author: Member, time_ms: u64, op: LogOp) -> EntryId {
        let deps = self.all();
        self.add(author, time_ms, &deps, op)
    }
}

fn post(text: &str, reply_to: Option<EntryId>) -> LogOp {
    LogOp::Post {
        text: text.into(),
        reply_to,
        mentions: Vec::new(),
        attachments: Vec::new(),
    }
}

fn admins(members: &[Member]) -> Policy {
    Policy {
        admins: members.iter().copied().collect(),
        ..Policy::default()
    }
}

#[test]
fn encoding_round_trips_and_refuses_damage() {
    let op = LogOp::Post {
        text: "会议改到三点 — meeting moved to 3pm".into(),
        reply_to: Some([9; 32]),
        mentions: vec![Mention::Member(BOB), Mention::Dept("HQ/East".into()), Mention::Channel],
        attachments: vec![Attachment {
            blob: [4; 32],
            key: [5; 32],
            name: "plan.pdf".into(),
            bytes: 1234,
            media_type: "application/pdf".into(),
        }],
    };
    let bytes = op.encode();
    assert_eq!(LogOp::decode(&bytes), Ok(op));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(LogOp::decode(&trailing), Err(LogOpError::Damaged));
    let mut future = bytes.clone();
    future[0] = 2;
    assert_eq!(LogOp::decode(&future), Err(LogOpError::Version(2)));
    for len in 0..bytes.len() {
        assert!(LogOp::decode(&bytes[..len]).is_err(), "truncated to {len}");
    }
    let huge = LogOp::Edit {
        target: [0; 32],
        text: "x".repeat(TEXT_BYTES_MAX + 1),
    };
    assert!(matches!(huge.check(), Err(LogOpError::TooLarge { .. })));
    assert!(matches!(
        LogOp::decode(&huge.encode()),
        Err(LogOpError::TooLarge { .. })
    ));
}

#[test]
fn threads_are_one_level_and_count_replies() {
    let mut log = Log::default();
    let root = log.post(ALICE, 1, "lunch?");
    let r1 = log.act(BOB, 2, post("yes", Some(root)));
    let r2 = log.act(CAROL, 3, post("me too", Some(r1)));
    let c = Channel::build(&log.entries, &Policy::default());
    assert_eq!(c.message(&root).unwrap().replies, 2);
    assert_eq!(
        c.message(&r2).unwrap().thread,
        Some(root),
        "a reply to a reply joins the thread"
    );
    let ids: Vec<EntryId> = c.thread(&root).iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![root, r1, r2]);
}

#[test]
fn only_the_author_edits_and_the_history_is_kept() {
    let mut log = Log::default();
    let m = log.post(ALICE, 1, "draft");
    let by_bob = log.act(
        BOB,
        2,
        LogOp::Edit {
            target: m,
            text: "hacked".into(),
        },
    );
    log.act(
        ALICE,
        3,
        LogOp::Edit {
            target: m,
            text: "final".into(),
        },
    );
    let c = Channel::build(&log.entries, &Policy::default());
    let msg = c.message(&m).unwrap();
    assert_eq!(msg.text, "final");
    let texts: Vec<&str> = msg.revisions.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, vec!["draft", "final"]);
    assert_eq!(c.ignored, vec![(by_bob, Ignored::NotAllowed)]);
}

#[test]
fn recall_within_the_window_or_by_an_admin() {
    let mut log = Log::default();
    let early = log.post(ALICE, 0, "oops");
    let late = log.post(ALICE, 0, "old news");
    let other = log.post(BOB, 0, "bob's");
    log.act(
        BOB,
        0,
        LogOp::React {
            target: early,
            reaction: "👍".into(),
            on: true,
        },
    );
    log.act(
        ALICE,
        1,
        LogOp::Pin {
            target: early,
            on: true,
        },
    );
    log.act(ALICE, HOUR, LogOp::Recall { target: early });
    let too_late = log.act(ALICE, 25 * HOUR, LogOp::Recall { target: late });
    let not_hers = log.act(ALICE, HOUR, LogOp::Recall { target: other });
    let edit_after = log.act(
        ALICE,
        HOUR + 1,
        LogOp::Edit {
            target: early,
            text: "again".into(),
        },
    );
    let c = Channel::build(&log.entries, &Policy::default());
    let m = c.message(&early).unwrap();
    assert_eq!(m.recalled_by, Some(ALICE));
    assert!(m.text.is_empty() && m.revisions.is_empty() && m.reactions.is_empty());
    assert!(c.pins.is_empty(), "a recalled message is unpinned");
    assert_eq!(
        c.ignored,
        vec![
            (too_late, Ignored::TooLate),
            (not_hers, Ignored::NotAllowed),
            (edit_after, Ignored::Recalled)
        ]
    );
    // An admin recalls anyone's message at any time.
    log.act(CAROL, 100 * HOUR, LogOp::Recall { target: late });
    let c = Channel::build(&log.entries, &admins(&[CAROL]));
    assert_eq!(c.message(&late).unwrap().recalled_by, Some(CAROL));
}

#[test]
fn reactions_and_pins() {
    let mut log = Log::default();
    let m = log.post(ALICE, 1, "ship it");
    let n = log.post(ALICE, 2, "second");
    log.act(
        BOB,
        3,
        LogOp::React {
            target: m,
            reaction: "🎉".into(),
            on: true,
        },
    );
    log.act(
        CAROL,
        4,
        LogOp::React {
            target: m,
            reaction: "🎉".into(),
            on: true,
        },
    );
    log.act(
        CAROL,
        5,
        LogOp::React {
            target: m,
            reaction: "🎉".into(),
            on: false,
        },
    );
    log.act(BOB, 6, LogOp::Pin { target: n, on: true });
    log.act(BOB, 7, LogOp::Pin { target: m, on: true });
    log.act(BOB, 8, LogOp::Pin { target: n, on: false });
    let c = Channel::build(&log.entries, &Policy::default());
    let who: Vec<Member> = c.message(&m).unwrap().reactions["🎉"].iter().copied().collect();
    assert_eq!(who, vec![BOB]);
    assert_eq!(c.pins, vec![m]);
}

#[test]
fn an_archived_channel_is_read_only_and_only_admins_archive() {
    let mut log = Log::default();
    let m = log.post(ALICE, 1, "last words");
    let by_bob = log.act(BOB, 2, LogOp::Set(Setting::Archived(true)));
    log.act(ALICE, 3, LogOp::Set(Setting::Archived(true)));
    let post_after = log.post(BOB, 4, "hello?");
    let react_after = log.act(
        BOB,
        5,
        LogOp::React {
            target: m,
            reaction: "👋".into(),
            on: true,
        },
    );
    let read_after = log.act(BOB, 6, LogOp::Read { up_to: m });
    let c = Channel::build(&log.entries, &admins(&[ALICE]));
    assert!(c.archived);
    assert_eq!(c.messages.len(), 1);
    assert_eq!(
        c.ignored,
        vec![
            (by_bob, Ignored::NotAllowed),
            (post_after, Ignored::Archived),
            (react_after, Ignored::Archived)
        ]
    );
    assert!(
        !c.ignored.iter().any(|(id, _)| *id == read_after),
        "reading stays possible"
    );
    assert!(c.has_read(&BOB, &m));
}

#[test]
fn read_marks_cover_what_the_reader_had_and_nothing_that_came_later() {
    let mut log = Log::default();
    let m1 = log.post(ALICE, 1, "one");
    let m2 = log.post(ALICE, 2, "two");
    // Carol, offline, posted before Bob read, but Bob's node did not have it.
    let m3 = log.add(CAROL, 0, &[m1], post("from the field", None));
    log.add(BOB, 3, &[m2], LogOp::Read { up_to: m2 });
    let c = Channel::build(&log.entries, &Policy::default());
    assert!(c.has_read(&BOB, &m1) && c.has_read(&BOB, &m2));
    assert!(!c.has_read(&BOB, &m3), "it sorts before Bob's mark but he never saw it");
    assert_eq!(c.unread(&BOB), 1);
    assert_eq!(c.unread(&CAROL), 2);
    assert_eq!(c.unread(&ALICE), 1, "her own messages are read");
    let (read, unread) = c.receipt(&m2, &[BOB, CAROL]);
    assert_eq!((read, unread), (vec![BOB], vec![CAROL]));
}

#[test]
fn a_read_mark_covers_concurrent_messages_its_reader_held() {
    let mut log = Log::default();
    let m1 = log.post(ALICE, 1, "one");
    // Carol's message arrived at Bob's node alongside Alice's later one;
    // Alice's sorts last, so Bob's mark names it, but he saw both.
    let m3 = log.add(CAROL, 0, &[m1], post("from the field", None));
    let m2 = log.add(ALICE, 2, &[m1], post("two", None));
    log.add(BOB, 3, &[m2, m3], LogOp::Read { up_to: m2 });
    let c = Channel::build(&log.entries, &Policy::default());
    assert!([m1, m2, m3].iter().all(|m| c.has_read(&BOB, m)));
    assert_eq!(c.unread(&BOB), 0);
}

#[test]
fn mentions_reach_members_departments_and_the_channel() {
    let mut log = Log::default();
    let direct = log.act(
        ALICE,
        1,
        LogOp::Post {
            text: "@bob".into(),
            reply_to: None,
            mentions: vec![Mention::Member(BOB)],
            attachments: Vec::new(),
        },
    );
    let dept = log.act(
        ALICE,
        2,
        LogOp::Post {
            text: "@HQ/East".into(),
            reply_to: None,
            mentions: vec![Mention::Dept("HQ/East".into())],
            attachments: Vec::new(),
        },
    );
    log.post(ALICE, 3, "no mention");
    let c = Channel::build(&log.entries, &Policy::default());
    let depts = vec!["HQ".to_owned(), "HQ/East".to_owned()];
    let ids: Vec<EntryId> = c.mentioning(&BOB, &depts).map(|m| m.id).collect();
    assert_eq!(ids, vec![direct, dept]);
    assert_eq!(c.mentioning(&CAROL, &[]).count(), 0);
}

/// A random history: each entry depends on a random subset of earlier ones.
#[test]
fn only_admins_set_file_limits_and_the_last_word_counts() {
    let mut log = Log::default();
    log.act(ALICE, 1, LogOp::Set(Setting::FileBytesMax(5)));
    log.act(BOB, 2, LogOp::Set(Setting::FileBytesMax(1 << 40)));
    log.act(ALICE, 3, LogOp::Set(Setting::FileTypes(vec!["pdf".into()])));
    let c = Channel::build(&log.entries, &admins(&[ALICE]));
    assert_eq!(c.file_bytes_max, Some(5));
    assert_eq!(c.file_types, Some(vec!["pdf".to_owned()]));
    assert_eq!(c.ignored.len(), 1, "Bob is no admin: {:?}", c.ignored);
    let too_many = LogOp::Set(Setting::FileTypes(vec!["x".into(); FILE_TYPES_MAX + 1]));
    assert!(too_many.check().is_err());
}

#[test]
fn members_leave_and_come_back_by_their_last_word() {
    let mut log = Log::default();
    log.act(BOB, 1, LogOp::Set(Setting::Joined(false)));
    log.act(CAROL, 2, LogOp::Set(Setting::Joined(false)));
    log.act(CAROL, 3, LogOp::Set(Setting::Joined(true)));
    let c = Channel::build(&log.entries, &Policy::default());
    assert_eq!(c.left, BTreeSet::from([BOB]));
    let encoded = LogOp::Set(Setting::Joined(false)).encode();
    assert_eq!(LogOp::decode(&encoded), Ok(LogOp::Set(Setting::Joined(false))));
}

fn random_log(seed: u64, n: usize) -> Log {
    let mut x = seed | 1;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let members = [ALICE, BOB, CAROL];
    let mut log = Log::default();
    let mut posts: Vec<EntryId> = Vec::new();
    for _ in 0..n {
        let ids = log.all();
        let deps: Vec<EntryId> = ids.iter().filter(|_| next(3) == 0).copied().collect();
        let author = members[next(3) as usize];
        let time = next(100);
        let target = if posts.is_empty() {
            [0xaa; 32]
        } else {
            posts[next(posts.len() as u64) as usize]
        };
        let op = match next(9) {
            0..=2 => post("m", (next(3) == 0).then_some(target)),
            3 => LogOp::Edit {
                target,
                text: format!("e{}", next(5)),
            },
            4 => LogOp::Recall { target },
            5 => LogOp::React {
                target,
                reaction: ["👍", "🎉"][next(2) as usize].into(),
                on: next(2) == 0,
            },
            6 => LogOp::Pin {
                target,
                on: next(2) == 0,
            },
            7 => LogOp::Read { up_to: target },
            _ => LogOp::Set(match next(3) {
                0 => Setting::Archived(next(2) == 0),
                1 => Setting::Joined(next(2) == 0),
                _ => Setting::Name("n".into()),
            }),
        };
        let id = log.add(author, time, &deps, op.clone());
        if matches!(op, LogOp::Post { .. }) {
            posts.push(id);
        }
    }
    log
}

proptest! {
    #[test]
    fn the_view_does_not_depend_on_arrival_order(seed in any::<u64>(), shuffle in any::<u64>(), n in 1usize..40) {
        let log = random_log(seed, n);
        let policy = admins(&[ALICE]);
        let a = Channel::build(&log.entries, &policy);
        let mut shuffled = log.entries.clone();
        let mut s = shuffle | 1;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let b = Channel::build(&shuffled, &policy);
        prop_assert_eq!(&a.messages, &b.messages);
        prop_assert_eq!(&a.pins, &b.pins);
        prop_assert_eq!(&a.ignored, &b.ignored);
        prop_assert_eq!((a.archived, &a.name), (b.archived, &b.name));
        prop_assert_eq!(&a.left, &b.left);
        for m in [ALICE, BOB, CAROL] {
            prop_assert_eq!(a.unread(&m), b.unread(&m));
            for msg in &a.messages {
                prop_assert_eq!(a.has_read(&m, &msg.id), b.has_read(&m, &msg.id));
            }
        }
    }

    #[test]
    fn pushing_an_entry_that_follows_everything_equals_building_again(seed in any::<u64>(), n in 1usize..30) {
        let mut log = random_log(seed, n);
        let policy = admins(&[ALICE]);
        let mut pushed = Channel::build(&log.entries, &policy);
        // Each next entry depends on everything, like a writer's own.
        let target = pushed.messages.first().map_or([0xaa; 32], |m| m.id);
        for (i, op) in [post("next", Some(target)), LogOp::Read { up_to: target }, LogOp::Recall { target }].into_iter().enumerate() {
            let deps = log.all();
            let id = log.add(BOB, 50 + i as u64, &deps, op);
            let e = log.entries.iter().find(|e| e.id == id).expect("just added").clone();
            pushed.push(&e, &policy);
        }
        let built = Channel::build(&log.entries, &policy);
        prop_assert_eq!(&pushed.messages, &built.messages);
        prop_assert_eq!(&pushed.ignored, &built.ignored);
        prop_assert_eq!(pushed.unread(&BOB), built.unread(&BOB));
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = LogOp::decode(&data);
    }
}
